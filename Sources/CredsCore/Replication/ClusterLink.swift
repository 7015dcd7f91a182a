public import CredsProtocol

/// What the engine needs of cluster mode (SPEC 10); `CredsCluster.ClusterReplica` provides it. Without a link the
/// daemon is a single host and writes commit to LMDB alone.
public protocol ClusterLink: Sendable {
    /// Nil while admin writes may go to PostgreSQL; else the `store_unavailable` to answer at once (nothing is
    /// queued locally).
    func writeRefusal() -> RPCError?

    /// Nil while the replica may serve resolves; else `store_unavailable` (out of contact for longer than
    /// `maxStalenessSeconds`).
    func readRefusal() -> RPCError?

    /// Commits `changes` in one PostgreSQL transaction with their change records; returns their new versions, in
    /// order. Throws `ClusterConflict` when a record's version is not the one expected, else `store_unavailable`.
    func commit(_ changes: [ReplicatedChange]) async throws -> [UInt64]

    /// Returns once the replica has caught up with the feed as it is now, or the attempt failed.
    func catchUp() async

    /// `health`'s `cluster` object.
    var status: ClusterStatus { get }
}

/// A record's version in PostgreSQL is not the one the write was computed from: another host wrote it first.
public struct ClusterConflict: Error, Sendable {
    public init() {}
}
