public import Foundation

/// One change in the cluster's feed: which record changed (entity and its LMDB key), to which version, how.
/// It carries no content: a replica reads the record's row for that.
public struct FeedChange: Sendable, Equatable {
    public enum Entity: String, Sendable {
        case connection, policy, member, grant, budget
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

/// A change as the feed numbered it, with its record as read with it.
public struct FeedEntry: Sendable, Equatable {
    public let seq: Int64
    public let change: FeedChange
    /// The host that took the write.
    public let hostId: String
    /// When the change committed (microseconds since 1970, the database's clock).
    public let committedAt: Int64
    /// The record's row in the same snapshot; nil when there is none (a feed written without records).
    public let record: FeedRecord?
}

/// A record's row as a feed page read it: its version now and its bytes (nil: deleted).
public struct FeedRecord: Sendable, Equatable {
    public let version: Int64
    public let value: [UInt8]?
    /// The host that wrote this version.
    public let hostId: String?
}

/// A page of the feed: what came after a cursor, with the head and epoch seen in the same snapshot.
public struct FeedPage: Sendable {
    public let entries: [FeedEntry]
    /// The feed's last number when the page was read.
    public let head: Int64
    /// Changes when the database is restored: a replica that sees a new epoch resyncs.
    public let epoch: UUID
    /// When the change at the cursor committed; nil when the cursor is 0 or that change is gone (pruned).
    public let markAtCursor: Int64?
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

/// The feed's numbers are beyond what a replica can follow (a head near the end of bigint, set by hand).
public struct FeedOutOfRange: Error, Sendable, CustomStringConvertible {
    public let cursor: Int64

    public var description: String { "the change feed's numbers are out of range (cursor \(cursor))" }
}
