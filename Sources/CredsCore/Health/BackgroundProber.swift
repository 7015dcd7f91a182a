import CredsProtocol
import NIOCore

/// `[health] probeEverySeconds` (SPEC 11): re-tests `active` API-key connections in the background, so a key
/// revoked at the provider is found before a workflow fails on it. Each round takes the connections in a random
/// order and spreads their probes over the interval, with jitter, at most one a second and at most 1,000 a round
/// (probes can cost money). A rejection puts the key in `error` as `connections.test` does; anything that proves
/// nothing changes nothing.
///
/// Per host: in cluster mode set it on one host (or a few), not on every one.
public final class BackgroundProber: Sendable {
    static let maxPerRound = 1_000
    static let minSpacing: Duration = .seconds(1)

    private let core: EngineCore
    private let probes: ProbeService
    private let every: Duration
    private let eventLoop: any EventLoop

    init(core: EngineCore, probes: ProbeService, every: Duration, eventLoop: any EventLoop) {
        self.core = core
        self.probes = probes
        self.every = every
        self.eventLoop = eventLoop
    }

    /// Re-tests until the task is cancelled.
    public func run() async {
        while !Task.isCancelled {
            let ids = candidates().shuffled()
            guard !ids.isEmpty else {
                try? await Task.sleep(for: every)
                continue
            }
            let spacing = max(Self.minSpacing, every / ids.count)
            for id in ids {
                guard !Task.isCancelled else { return }
                try? await probes.retest(id, on: eventLoop).get()
                try? await Task.sleep(for: spacing * Double.random(in: 0.5...1.5))
            }
        }
    }

    /// The active connections of providers with a probe, at most `maxPerRound`.
    private func candidates() -> [Identifier] {
        let catalog = core.catalog
        let found = try? core.read { txn -> [Identifier] in
            var ids: [Identifier] = []
            try txn.scan(core.database.connections, from: []) { _, value in
                if let record = try? RecordCoding.decode(ConnectionRecord.self, from: value), record.status == .active,
                    catalog.provider(record.provider.text)?.probe != nil
                {
                    ids.append(record.id)
                }
                return ids.count < Self.maxPerRound
            }
            return ids
        }
        return found ?? []
    }
}
