import CredsProtocol
import Synchronization

/// Webhook message ids seen recently, so that a replay within the tolerance window is refused.
/// Kept in memory: a restart forgets them (the timestamp tolerance still bounds replays to 5 minutes).
final class ReplayCache: Sendable {
    private let seen = Mutex<[String: Timestamp]>([:])
    /// How long an id is remembered.
    let retention: Duration

    init(retention: Duration) {
        self.retention = retention
    }

    /// Records `id`; false when it was already seen within the retention.
    func firstSighting(_ id: String, now: Timestamp) -> Bool {
        seen.withLock { seen in
            if let expiry = seen[id], expiry > now { return false }
            if seen.count > 10_000 { seen = seen.filter { $0.value > now } }
            seen[id] = now + retention
            return true
        }
    }
}
