/// A record as PostgreSQL holds it, to apply to a replica: applied only when `version` is above the replica's.
public struct ReplicatedRow: Sendable, Equatable {
    public let entity: ReplicatedEntity
    public let key: [UInt8]
    public let version: UInt64
    /// The stored bytes; nil: deleted (a tombstone).
    public let value: [UInt8]?
    /// Whether this host wrote this version (the feed can bring a host's own write before the host applies it):
    /// its events are then this host's to deliver.
    public let fromThisHost: Bool

    public init(entity: ReplicatedEntity, key: [UInt8], version: UInt64, value: [UInt8]?, fromThisHost: Bool = false) {
        self.entity = entity
        self.key = key
        self.version = version
        self.value = value
        self.fromThisHost = fromThisHost
    }
}
