/// One record an admin write changes, as sent to the cluster's PostgreSQL: the new value (nil: deleted) and the
/// version this host's replica has (0: none), which PostgreSQL must still have for the write to commit.
public struct ReplicatedChange: Sendable, Equatable {
    public let entity: ReplicatedEntity
    /// The record's key in LMDB (ids joined by NUL, or a token digest).
    public let key: [UInt8]
    public let workspaceId: String
    /// The record as stored in LMDB (a connection's sealed payload inside, as sealed); nil for a delete.
    public let value: [UInt8]?
    public let expectedVersion: UInt64
    /// Whether the write replaces a record the replica holds (an update), rather than creating one: an update
    /// commits only onto that record's row, never onto an absent one (purged while this replica was away).
    public let replacesExisting: Bool

    public init(
        entity: ReplicatedEntity,
        key: [UInt8],
        workspaceId: String,
        value: [UInt8]?,
        expectedVersion: UInt64,
        replacesExisting: Bool = false
    ) {
        self.entity = entity
        self.key = key
        self.workspaceId = workspaceId
        self.value = value
        self.expectedVersion = expectedVersion
        self.replacesExisting = replacesExisting
    }
}
