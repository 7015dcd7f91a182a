/// Which shipped audit entries `audit.list` asks the cluster's PostgreSQL for (SPEC 10): one host's, or every
/// host's but this one's (its own come from LMDB, shipped or not), after a sequence number, oldest first by
/// (seq, hostId).
public struct ShippedAuditQuery: Sendable, Equatable {
    public enum Hosts: Sendable, Equatable {
        /// One host's chain.
        case only(String)
        /// Every host's chain except this one.
        case allBut(String)
    }

    public let hosts: Hosts
    /// Entries with a number above this one.
    public let after: UInt64
    /// Entries with a number at most this one (nil: no bound).
    public let through: UInt64?
    public let workspaceId: String?
    public let limit: Int

    public init(hosts: Hosts, after: UInt64, through: UInt64? = nil, workspaceId: String?, limit: Int) {
        self.hosts = hosts
        self.after = after
        self.through = through
        self.workspaceId = workspaceId
        self.limit = limit
    }
}
