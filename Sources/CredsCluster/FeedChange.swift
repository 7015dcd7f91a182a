public import Foundation

/// One change in the cluster's feed: which record changed (entity and its LMDB key), to which version, how.
/// It carries no content: a replica reads the record's row for that.
public struct FeedChange: Sendable, Equatable {
    public enum Entity: String, Sendable {
        case connection, policy, member, grant
        case oauthState = "oauth_state"
    }

    public enum Operation: String, Sendable {
        case put, delete
    }

    public let entity: Entity
    public let workspaceId: String
    /// The record's key in LMDB (ids joined by NUL, or a token digest).
    public let key: [UInt8]
    public let version: Int64
    public let operation: Operation

    public init(entity: Entity, workspaceId: String, key: [UInt8], version: Int64, operation: Operation) {
        self.entity = entity
        self.workspaceId = workspaceId
        self.key = key
        self.version = version
        self.operation = operation
    }
}

/// A change as the feed numbered it.
public struct FeedEntry: Sendable, Equatable {
    public let seq: Int64
    public let change: FeedChange
    /// The host that took the write.
    public let hostId: String
}

/// A page of the feed: what came after a cursor, with the head and epoch seen in the same snapshot.
public struct FeedPage: Sendable {
    public let entries: [FeedEntry]
    /// The feed's last number when the page was read.
    public let head: Int64
    /// Changes when the database is restored: a replica that sees a new epoch resyncs.
    public let epoch: UUID
}

/// The feed skipped numbers after the cursor: the replica must not apply past it (it resyncs instead).
public struct FeedHole: Error, Sendable, Equatable {
    public let expected: Int64
    public let found: Int64

    public init(expected: Int64, found: Int64) {
        self.expected = expected
        self.found = found
    }
}
