/// One entry of a host's audit chain as shipped to the cluster's PostgreSQL.
public struct ShippedAuditRow: Sendable {
    public let hostId: String
    public let seq: UInt64
    public let bytes: [UInt8]
    public let prevHash: [UInt8]
    public let hash: [UInt8]

    public init(hostId: String, seq: UInt64, bytes: [UInt8], prevHash: [UInt8], hash: [UInt8]) {
        self.hostId = hostId
        self.seq = seq
        self.bytes = bytes
        self.prevHash = prevHash
        self.hash = hash
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
