/// A record as PostgreSQL holds it, to apply to a replica: applied only when `version` is above the replica's.
public struct ReplicatedRow: Sendable, Equatable {
    public let entity: ReplicatedEntity
    public let key: [UInt8]
    public let version: UInt64
    /// The stored bytes; nil: deleted (a tombstone).
    public let value: [UInt8]?

    public init(entity: ReplicatedEntity, key: [UInt8], version: UInt64, value: [UInt8]?) {
        self.entity = entity
        self.key = key
        self.version = version
        self.value = value
    }
}
