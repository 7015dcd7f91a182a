/// Entries of this host's audit chain not yet shipped to the cluster's PostgreSQL (SPEC 10), as stored: the record's
/// bytes, and the link and hash that chain it.
public struct AuditShipment: Sendable {
    public struct Entry: Sendable, Equatable {
        public let seq: UInt64
        /// The stored record (the bytes its hash covers, and the hash).
        public let bytes: [UInt8]
        public let prevHash: [UInt8]
        public let hash: [UInt8]
    }

    /// Entries after the shipped cursor, oldest first.
    public let entries: [Entry]
    /// The last entry shipped (0: none yet).
    public let shipped: UInt64
    /// The chain's head: how far this host has written.
    public let head: UInt64
    /// The number of an entry after the shipped ones that cannot be read (changed on disk): shipping stops before
    /// it, and `health` names it.
    public let unreadable: UInt64?
}
