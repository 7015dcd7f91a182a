public import CredsProtocol

/// Where a cluster replica stands, for `health` (SPEC 10: `cluster: {state, seq, lagSeconds, lastContactAt}`).
public struct ClusterStatus: Sendable, Equatable {
    public enum State: String, Sendable {
        /// Listening and caught up (or catching up) with the feed.
        case connected
        /// Not yet in contact since start, or reconnecting after a failure.
        case connecting
        /// Out of contact: serving from the replica, refusing writes.
        case disconnected
        /// Replacing the replica with a snapshot of the database.
        case resyncing
    }

    public var state: State
    /// The last feed number applied.
    public var seq: Int64
    /// Seconds since the replica last knew itself caught up with the feed (0 when it is).
    public var lagSeconds: Int64
    /// When the database last answered.
    public var lastContactAt: Timestamp?
    /// Records from the database this replica could not read (not served; `health` says so).
    public var unreadableRecords: Int
    /// Audit entries written here and not yet shipped.
    public var auditBacklog: Int64
    /// What stops this host's audit shipping, as `health` says it (a refusal, an unreadable entry); nil if nothing.
    public var auditProblem: String?

    public init(
        state: State,
        seq: Int64,
        lagSeconds: Int64,
        lastContactAt: Timestamp?,
        unreadableRecords: Int = 0,
        auditBacklog: Int64 = 0,
        auditProblem: String? = nil
    ) {
        self.state = state
        self.seq = seq
        self.lagSeconds = lagSeconds
        self.lastContactAt = lastContactAt
        self.unreadableRecords = unreadableRecords
        self.auditBacklog = auditBacklog
        self.auditProblem = auditProblem
    }

    public var json: JSONValue {
        [
            "state": .string(state.rawValue),
            "seq": .int(seq),
            "lagSeconds": .int(lagSeconds),
            "lastContactAt": lastContactAt.map { .string($0.rfc3339) } ?? .null,
        ]
    }
}
