import CredsProtocol
import Synchronization

/// Google tokens a cluster host refreshed while the database was away, written back once it returns (SPEC 10).
/// One task per connection looks every second whether writes may go to the database again, then runs the
/// connection's latest write-back; it stops when that is done (stored, or dropped because the connection changed
/// meanwhile), or when the token has expired (nothing worth storing then). A restart forgets them: the token was
/// only ever held in memory.
final class OutageWriteBacks: Sendable {
    /// One write-back: it answers whether it is done (false: the database is still away, try again).
    typealias Attempt = @Sendable () async -> Bool

    private struct Pending {
        var attempt: Attempt
        var expiresAt: Timestamp?
        var generation: UInt64
    }

    private let pending = Mutex<[Identifier: Pending]>([:])
    private let generations = Atomic<UInt64>(0)

    /// Writes back `connectionId`'s token with `attempt` once the cluster takes writes; replaces a write-back of the
    /// connection that is still waiting (the newer token is the one to store).
    func schedule(
        _ connectionId: Identifier,
        expiresAt: Timestamp?,
        cluster: any ClusterLink,
        attempt: @escaping Attempt
    ) {
        let generation = generations.wrappingAdd(1, ordering: .relaxed).newValue
        let started = pending.withLock { pending in
            let waiting = pending[connectionId] != nil
            pending[connectionId] = Pending(attempt: attempt, expiresAt: expiresAt, generation: generation)
            return waiting
        }
        guard !started else { return }
        Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                guard let current = pending.withLock({ $0[connectionId] }) else { return }
                if let expiresAt = current.expiresAt, expiresAt <= Timestamp.now() {
                    if finish(connectionId, generation: current.generation) { return }
                    continue
                }
                // Connected and following the feed (not resyncing): the write is computed from a current replica.
                guard cluster.status.state == .connected else { continue }
                if await current.attempt(), finish(connectionId, generation: current.generation) { return }
            }
        }
    }

    /// How many connections wait for a write-back.
    var count: Int { pending.withLock { $0.count } }

    /// Removes the connection's write-back if it is still `generation`; false when a newer one replaced it.
    private func finish(_ connectionId: Identifier, generation: UInt64) -> Bool {
        pending.withLock { pending in
            guard pending[connectionId]?.generation == generation else { return false }
            pending.removeValue(forKey: connectionId)
            return true
        }
    }
}
