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
    /// order. Throws `ClusterConflict` when a record's version is not the one expected, `LeaseLost` when `lease`
    /// is no longer held (and releases it when it is), else `store_unavailable`.
    func commit(_ changes: [ReplicatedChange], lease: LeaseHold?) async throws -> [UInt64]

    /// Takes the refresh lease of `connectionId` (stored under `key`) if it is free or expired and the connection
    /// in PostgreSQL still has `seenVersion`; throws `store_unavailable` when the database cannot be asked.
    func takeRefreshLease(connectionId: Identifier, key: [UInt8], seenVersion: UInt64) async throws -> RefreshLease

    /// Gives a refresh lease back after a refresh that stored nothing (the provider failed or refused), so the
    /// next host does not wait for it to expire; best effort.
    func releaseRefreshLease(_ hold: LeaseHold) async

    /// Every host's shipped audit entries, host by host, oldest first, each passed to `visit` (streamed, not held),
    /// and then every host's head; `store_unavailable` when the database cannot be read.
    func shippedAudit(_ visit: @escaping @Sendable (ShippedAuditRow) throws -> Void) async throws
        -> [String: ShippedAuditHead]

    /// A page of shipped audit entries for `audit.list`, oldest first by (seq, hostId); `store_unavailable` when
    /// the database cannot be read.
    func shippedAuditEntries(_ query: ShippedAuditQuery) async throws -> [ShippedAuditRow]

    /// Records a verified webhook's id (the SHA-256 of its connection and `svix-id`) cluster-wide: false when any
    /// host recorded it within the replay window; `store_unavailable` when the database cannot say.
    func firstSighting(_ digest: [UInt8]) async throws -> Bool

    /// When the other hosts' usage was last read into the budgets' counters (SPEC 12); nil before the first time.
    var usageSyncedAt: Timestamp? { get }

    /// The other hosts' usage rows of a workspace from `from` to `to`, optionally of one provider (`usage.get`);
    /// `store_unavailable` when the database cannot be read.
    func otherHostsUsage(workspaceId: String, provider: String?, from: UTCDay, to: UTCDay) async throws
        -> [HostUsage]

    /// Returns once the replica has caught up with the feed as it is now, or the attempt failed.
    func catchUp() async

    /// `health`'s `cluster` object.
    var status: ClusterStatus { get }

    /// This host's id in the cluster (`[cluster] hostId`).
    var hostId: String { get }
}

/// A record's version in PostgreSQL is not the one the write was computed from: another host wrote it first.
public struct ClusterConflict: Error, Sendable {
    public init() {}
}
