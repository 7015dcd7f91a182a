import CoreMetrics
public import CredsCrypto
public import CredsOAuth
public import CredsProtocol
import CredsStore
import Foundation
public import Logging
import Synchronization

/// Delivers the outbox's events to `[webhooks] url` (SPEC 11): each event POSTed as its JSON, signed as Standard
/// Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`),
/// in order per workspace, at least once.
///
/// The outbox is the queue: what was delivered is kept in LMDB after each delivery (a floor below which everything
/// was delivered, and each workspace's last delivered event above it), so a restart goes on where it stopped and
/// re-sends at most the event whose answer was lost. A failed delivery (no answer, a timeout, anything but 2xx) is retried with
/// exponential backoff and jitter (1 s doubling, at most 10 min between tries) for 24 hours, then dropped with an
/// error log line; meanwhile that workspace's later events wait and other workspaces' go on. In cluster mode a
/// host delivers the events of its own changes only.
public final class WebhookDeliverer: Sendable {
    /// What `stats` shows.
    public struct Status: Sendable {
        public var delivered: Int64 = 0
        public var failedAttempts: Int64 = 0
        public var dropped: Int64 = 0
        /// Events after the floor not yet delivered (including other hosts' in cluster mode, which are skipped).
        public var backlog: Int64 = 0
        /// Workspaces whose next event waits for a retry.
        public var retrying: Int = 0
        /// The last failure, as HTTP status or `timeout`/`unreachable`: never a body or a secret.
        public var lastError: String?
        public var lastDeliveredAt: Timestamp?

        public var json: JSONValue {
            var object: [String: JSONValue] = [
                "delivered": .int(delivered), "failedAttempts": .int(failedAttempts), "dropped": .int(dropped),
                "backlog": .int(backlog), "retrying": .int(Int64(retrying)),
            ]
            object["lastError"] = lastError.map { .string($0) } ?? .null
            object["lastDeliveredAt"] = lastDeliveredAt.map { .string($0.rfc3339) } ?? .null
            return .object(object)
        }
    }

    /// The durable part: stored as JSON under `webhooks.delivered` in the meta table.
    struct Progress: Codable, Equatable {
        var floor: UInt64 = 0
        var workspaces: [String: UInt64] = [:]
    }

    /// A workspace whose next event failed: when to try again, and since when it fails.
    private struct Retry {
        var at: ContinuousClock.Instant
        var since: ContinuousClock.Instant
        var attempts: Int
    }

    static let progressKey = Array("webhooks.delivered".utf8)
    static let originKey = Array("events.origin".utf8)
    static let giveUpAfter: Duration = .seconds(24 * 3_600)
    static let maxBackoff: Duration = .seconds(600)
    static let idlePoll: Duration = .milliseconds(200)
    static let page = 500
    /// Events looked at past a held floor in one pass (other workspaces' events behind a waiting one).
    static let lookahead = 20_000

    private let database: CredsDatabase
    private let url: String
    private let secret: SecretBytes
    private let client: TokenEndpointClient
    private let logger: Logger
    private let status = Mutex(Status())
    private let delivered = Counter(label: "credsd_webhook_deliveries_total", dimensions: [("outcome", "ok")])
    private let failed = Counter(label: "credsd_webhook_deliveries_total", dimensions: [("outcome", "failed")])
    private let droppedCounter = Counter(label: "credsd_webhook_deliveries_total", dimensions: [("outcome", "dropped")])
    private let backlogGauge = Gauge(label: "credsd_webhook_backlog")

    public init(
        database: CredsDatabase,
        url: String,
        secret: SecretBytes,
        client: TokenEndpointClient = TokenEndpointClient(),
        logger: Logger
    ) {
        self.database = database
        self.url = url
        self.secret = secret
        self.client = client
        self.logger = logger
    }

    public var current: Status { status.withLock { $0 } }

    /// Delivers until the task is cancelled.
    public func run() async {
        var retries: [String: Retry] = [:]
        let origin: String
        do {
            origin = try await outboxOrigin()
        } catch {
            logger.error("webhooks: the outbox cannot be read; nothing is delivered", metadata: ["error": "\(error)"])
            return
        }
        while !Task.isCancelled {
            let progressed: Bool
            do {
                progressed = try await pass(origin: origin, retries: &retries)
            } catch {
                // The store refused (a full disk): wait before trying again, not a page of re-sends a second.
                logger.error("webhooks: a delivery pass failed", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(5))
                progressed = false
            }
            if !progressed {
                let now = ContinuousClock.now
                let nextRetry = retries.values.map(\.at).min().map { max(.zero, $0 - now) } ?? Self.idlePoll
                try? await Task.sleep(for: min(Self.idlePoll, nextRetry))
            }
        }
    }

    /// One pass over the events after the floor; whether anything was delivered or dropped.
    private func pass(origin: String, retries: inout [String: Retry]) async throws -> Bool {
        var progress = try readProgress()
        let head = try database.environment.read { txn in try database.events.head(txn) }
        let backlog = Int64(clamping: head &- min(head, progress.floor))
        status.withLock { $0.backlog = backlog }
        backlogGauge.record(backlog)
        var progressed = false
        var waiting: Set<String> = []
        var floorHeld = false
        var floor = progress.floor
        var after = progress.floor
        var looked = 0
        // Page after page while the floor is held by a workspace that waits: the others go on, up to a lookahead.
        while looked < Self.lookahead, !Task.isCancelled {
            let events = try database.environment.read { txn in
                try database.events.list(txn, since: after, limit: Self.page, workspaceId: nil).events
            }
            for event in events {
                guard !Task.isCancelled else { break }
                let workspace = event.workspaceId
                // Another cluster host's change is that host's to deliver: settled here, progress untouched.
                let done = !event.isLocal || event.seq <= (progress.workspaces[workspace] ?? progress.floor)
                if !done && !waiting.contains(workspace) {
                    if let retry = retries[workspace], retry.at > ContinuousClock.now {
                        waiting.insert(workspace)
                    } else {
                        var settledAt: UInt64?
                        switch await deliver(event, origin: origin) {
                        case .delivered:
                            retries[workspace] = nil
                            settledAt = event.seq
                        case .failed(let problem):
                            settledAt = giveUpOrWait(workspace, event: event, problem: problem, retries: &retries)
                            if settledAt == nil { waiting.insert(workspace) }
                        }
                        if let settledAt {
                            // Kept at once: a crash re-sends at most the event in flight.
                            progress.workspaces[workspace] = settledAt
                            try await writeProgress(progress)
                            progressed = true
                        }
                    }
                }
                let settled = !event.isLocal || event.seq <= (progress.workspaces[workspace] ?? progress.floor)
                if settled && !floorHeld { floor = event.seq } else { floorHeld = true }
                after = event.seq
            }
            looked += events.count
            guard events.count == Self.page, floorHeld else { break }
        }
        if floor != progress.floor {
            progress.floor = floor
            progress.workspaces = progress.workspaces.filter { $0.value > floor }
            try await writeProgress(progress)
        }
        status.withLock { $0.retrying = retries.count }
        return progressed || (looked >= Self.page && !floorHeld)
    }

    private enum Delivery {
        case delivered
        case failed(String)
    }

    /// POSTs one event, signed.
    private func deliver(_ event: EventRecord, origin: String) async -> Delivery {
        let body = event.json.serialized()
        let id = "evt_\(origin)_\(event.seq)"
        let timestamp = String(Timestamp.now().microseconds / 1_000_000)
        let signature = HMAC.sha256(key: secret, message: Array("\(id).\(timestamp).".utf8) + body)
        let headers = [
            ("Content-Type", "application/json"), ("webhook-id", id), ("webhook-timestamp", timestamp),
            ("webhook-signature", "v1," + signature.withUnsafeBytes { Base64.encode($0) }),
        ]
        let eventLoop = client.httpClient.eventLoopGroup.next()
        do {
            let reply = try await client.post(url, body: body, headers: headers, on: eventLoop).get()
            guard reply.isSuccess else {
                failed.increment()
                status.withLock {
                    $0.failedAttempts += 1
                    $0.lastError = "HTTP \(reply.status)"
                }
                return .failed("HTTP \(reply.status)")
            }
            delivered.increment()
            status.withLock {
                $0.delivered += 1
                $0.lastDeliveredAt = Timestamp.now()
            }
            return .delivered
        } catch {
            let problem = (error as? TokenEndpointError)?.kind == .timeout ? "timeout" : "unreachable"
            failed.increment()
            status.withLock {
                $0.failedAttempts += 1
                $0.lastError = problem
            }
            return .failed(problem)
        }
    }

    /// After a failure: the next try's time, or (past 24 hours of failing) the event's number to count as done.
    private func giveUpOrWait(
        _ workspace: String,
        event: EventRecord,
        problem: String,
        retries: inout [String: Retry]
    ) -> UInt64? {
        let now = ContinuousClock.now
        var retry = retries[workspace] ?? Retry(at: now, since: now, attempts: 0)
        if now - retry.since >= Self.giveUpAfter {
            retries[workspace] = nil
            droppedCounter.increment()
            status.withLock { $0.dropped += 1 }
            logger.error(
                "webhooks: an event was not delivered for 24 hours and is dropped",
                metadata: [
                    "event.seq": "\(event.seq)", "event.type": "\(event.type.rawValue)", "problem": "\(problem)",
                ])
            return event.seq
        }
        retry.attempts += 1
        let doubled = Duration.seconds(1) * (1 << min(retry.attempts - 1, 20))
        let backoff = min(doubled, Self.maxBackoff)
        // 50-100 % of the backoff, so receivers coming back are not hit by every host at once.
        retry.at = now + backoff * Double.random(in: 0.5...1.0)
        retries[workspace] = retry
        logger.warning(
            "webhooks: delivery failed; trying again later",
            metadata: ["event.seq": "\(event.seq)", "problem": "\(problem)", "attempt": "\(retry.attempts)"])
        return nil
    }

    private func readProgress() throws -> Progress {
        try database.environment.read { txn in
            guard let bytes = try txn.get(database.meta, Self.progressKey) else { return Progress() }
            return (try? JSONDecoder().decode(Progress.self, from: Data(bytes))) ?? Progress()
        }
    }

    private func writeProgress(_ progress: Progress) async throws {
        let bytes = Array(try JSONEncoder().encode(progress))
        let meta = database.meta
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            database.writer.submit({ txn in try txn.put(meta, Self.progressKey, bytes) }) {
                continuation.resume(with: $0)
            }
        }
    }

    /// A random name for this outbox, made once: webhook ids stay unique if a data directory is replaced.
    private func outboxOrigin() async throws -> String {
        let meta = database.meta
        return try await withCheckedThrowingContinuation { continuation in
            database.writer.submit({ txn -> String in
                if let stored = try txn.get(meta, Self.originKey) { return String(decoding: stored, as: UTF8.self) }
                let origin = Hex.encode(Random.bytes(8))
                try txn.put(meta, Self.originKey, Array(origin.utf8))
                return origin
            }) { continuation.resume(with: $0) }
        }
    }
}
