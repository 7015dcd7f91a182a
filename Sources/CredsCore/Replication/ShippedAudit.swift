/// One entry of a host's audit chain as shipped to the cluster's PostgreSQL.
public struct ShippedAuditRow: Sendable {
    public let hostId: String
    public let seq: UInt64
    public let bytes: [UInt8]
    public let prevHash: [UInt8]
    public let hash: [UInt8]
    /// The workspace PostgreSQL read from the entry's bytes (schema version 5), for `audit.list`'s filter; checked
    /// against the bytes as credsd reads them.
    public let workspaceId: String?

    public init(hostId: String, seq: UInt64, bytes: [UInt8], prevHash: [UInt8], hash: [UInt8], workspaceId: String?) {
        self.hostId = hostId
        self.seq = seq
        self.bytes = bytes
        self.prevHash = prevHash
        self.hash = hash
        self.workspaceId = workspaceId
    }
}

/// A host's central audit head: the last entry shipped, and how many batches began after a gap (entries trimmed
/// on the host before they were shipped).
public struct ShippedAuditHead: Sendable {
    public let seq: UInt64
    public let hash: [UInt8]
    public let gaps: Int64

    public init(seq: UInt64, hash: [UInt8], gaps: Int64) {
        self.seq = seq
        self.hash = hash
        self.gaps = gaps
    }
}
