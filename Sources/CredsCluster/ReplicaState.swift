import CredsCore
import CredsProtocol

/// What `ClusterReplica` knows of its standing, behind its lock.
struct ReplicaState {
    /// The feed position applied (nil: never synced).
    var cursor: ReplicaCursor?
    private var phase: ClusterStatus.State = .connecting
    private let startedAt = ContinuousClock.now
    private var lastContact: ContinuousClock.Instant?
    private var lastContactAt: Timestamp?
    /// When the replica last knew itself caught up with the head.
    private var caughtUpAt: ContinuousClock.Instant?
    private var behind = true
    /// Sessions failed in a row (for the reconnect backoff).
    private var failures = 0
    /// Catch-up passes started and completed (a conflicting write waits for one that started after it asked).
    private(set) var passesStarted = 0
    private(set) var passesCompleted = 0
    /// Rows applied closed since the last resync.
    private var refusedRows = 0
    /// Audit entries written here and not yet shipped.
    var auditBacklog: Int64 = 0
    /// What stops this host's audit shipping (the database refuses its chain, an entry here cannot be read), if anything.
    var auditProblem: String?

    init(cursor: ReplicaCursor?) {
        self.cursor = cursor
    }

    /// Whether writes may go to the database: a session is up (following or resyncing).
    var inContact: Bool { phase == .connected || phase == .resyncing }

    var status: ClusterStatus {
        let now = ContinuousClock.now
        let lag = phase == .connected && !behind ? Duration.zero : now - (caughtUpAt ?? startedAt)
        return ClusterStatus(
            state: phase, seq: cursor?.seq ?? 0, lagSeconds: lag.components.seconds, lastContactAt: lastContactAt,
            unreadableRecords: refusedRows, auditBacklog: auditBacklog, auditProblem: auditProblem)
    }

    /// How long since the database last answered (since start when it never has).
    func silence() -> Duration {
        ContinuousClock.now - (lastContact ?? startedAt)
    }

    /// The database answered.
    mutating func contact() {
        lastContact = ContinuousClock.now
        lastContactAt = Timestamp.now()
    }

    /// A session caught up for the first time: writes may go.
    mutating func connected() {
        contact()
        phase = .connected
        failures = 0
    }

    /// A session failed; returns how many in a row.
    mutating func lostContact() -> Int {
        phase = .disconnected
        behind = true
        failures += 1
        return failures
    }

    mutating func passStarted() {
        passesStarted += 1
    }

    /// A pass reached the database and applied what it read: contact, and writes may go.
    mutating func passCompleted() {
        passesCompleted = passesStarted
        connected()
    }

    mutating func refused(_ count: Int) {
        refusedRows += count
    }

    mutating func resynced() {
        refusedRows = 0
    }

    /// A write found the database silent: writes are refused until the next pass reaches it.
    mutating func suspect() {
        if phase == .connected { phase = .disconnected }
    }

    mutating func resyncing() {
        phase = .resyncing
        behind = true
    }

    /// A pass found nothing after the cursor.
    mutating func caughtUp(head: Int64) {
        if (cursor?.seq ?? 0) >= head {
            caughtUpAt = ContinuousClock.now
            behind = false
        }
    }

    /// A page or a snapshot was applied up to `next`.
    mutating func applied(_ next: ReplicaCursor, head: Int64) {
        cursor = next
        if phase == .resyncing { phase = .connected }
        behind = next.seq < head
        if !behind { caughtUpAt = ContinuousClock.now }
    }
}
