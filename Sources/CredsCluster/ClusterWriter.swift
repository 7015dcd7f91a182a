import CredsCore
import CredsProtocol
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// Commits a host's admin writes to the cluster's PostgreSQL (SPEC 10): each record only if it still has the
/// version the write was computed from, then the change records numbered by the feed, then a wake-up for the other
/// hosts, all in one transaction.
struct ClusterWriter: Sendable {
    let client: PostgresClient
    let feed: ChangeFeed
    let hostId: String
    let url: PostgresURL
    let logger: Logger
    /// How long a write may wait for the database before it is answered `store_unavailable`.
    let timeout: Duration

    /// The channel of the wake-up `NOTIFY`; its payload is the last change's number, never a record.
    static let channel = "credsd_changes"

    func commit(_ changes: [ReplicatedChange], lease: LeaseHold? = nil) async throws -> [UInt64] {
        let stage = CommitStage()
        do {
            return try await withDeadline(timeout, "cluster write") { [self] in
                try await client.withConnection { connection in
                    stage.leased(connection)
                    return try await run(changes, lease: lease, on: connection, stage: stage)
                }
            }
        } catch let conflict as ClusterConflict {
            throw conflict
        } catch let lost as LeaseLost {
            throw lost
        } catch {
            // The database ends the transaction when its connection closes, unless COMMIT got there first: close it
            // before deciding what to answer.
            let committing = await stage.abandon()
            logger.warning("cluster write failed", metadata: ["cluster.error": "\(ClusterError(error, url: url))"])
            if committing {
                throw RPCError(
                    .storeUnavailable,
                    "the cluster database stopped answering while committing; the write may still appear",
                    data: ["outcome": "unknown"])
            }
            throw RPCError(.storeUnavailable, "the cluster database is unreachable; nothing was changed")
        }
    }

    private func run(
        _ changes: [ReplicatedChange],
        lease: LeaseHold?,
        on connection: PostgresConnection,
        stage: CommitStage
    ) async throws -> [UInt64] {
        try await connection.query("BEGIN", logger: logger)
        do {
            // The server gives up before this host does (a lock held by a stalled host, a slow disk), and ends the
            // transaction itself if this host stalls in it.
            try await TransactionLimits.write(within: timeout).apply(on: connection, logger: logger)
            var versions: [UInt64] = []
            var feedChanges: [FeedChange] = []
            // A new row starts above the feed's head, so above any version a tombstone the upkeep purged had (a
            // version never exceeds the number of its record's last change): replicas that kept that version apply it.
            for change in changes {
                let value = change.value.map { ByteBuffer(bytes: $0) }
                let expected = Int64(clamping: change.expectedVersion)
                let rows: PostgresRowSequence
                if change.replacesExisting, value != nil {
                    // An update: onto the row this replica saw, live, and nothing else. A row that is gone (its
                    // tombstone purged while this replica was away) must not be created again from a stale copy.
                    rows = try await connection.query(
                        """
                        UPDATE credsd_records SET version = version + 1, deleted = false, value = \(value),
                            workspace_id = \(change.workspaceId), host_id = \(hostId), updated_at = now()
                        WHERE entity = \(change.entity.rawValue) AND key = \(ByteBuffer(bytes: change.key))
                          AND version = \(expected) AND NOT deleted
                        RETURNING version
                        """, logger: logger)
                } else {
                    rows = try await connection.query(
                        """
                        INSERT INTO credsd_records AS r (entity, key, workspace_id, version, deleted, value, host_id)
                        VALUES (\(change.entity.rawValue), \(ByteBuffer(bytes: change.key)), \(change.workspaceId),
                                (SELECT seq + 1 FROM credsd_feed_head WHERE id = 1), \(value == nil), \(value), \(hostId))
                        ON CONFLICT (entity, key) DO UPDATE
                            SET version = r.version + 1, deleted = EXCLUDED.deleted, value = EXCLUDED.value,
                                workspace_id = EXCLUDED.workspace_id, host_id = EXCLUDED.host_id, updated_at = now()
                            WHERE r.version = \(expected) OR (\(expected) = 0 AND r.deleted)
                        RETURNING version
                        """, logger: logger)
                }
                var version: Int64?
                for try await returned in rows.decode(Int64.self) { version = returned }
                // No row: the record moved past the version this host computed the write from.
                guard let version, version > 0 else { throw ClusterConflict() }
                versions.append(UInt64(version))
                feedChanges.append(
                    FeedChange(
                        entity: FeedChange.Entity(rawValue: change.entity.rawValue) ?? .connection,
                        workspaceId: change.workspaceId, key: change.key, version: version,
                        operation: change.value == nil ? .delete : .put))
            }
            if let lease {
                // A refresh's write-back: only while this host still holds the lease it refreshed under (a host
                // that waited past it lost it to another, whose token wins); the lease is given back with it.
                // Checked after the record's row is locked: record, then lease, the order a take locks them in.
                var held = false
                for try await _ in try await connection.query(
                    """
                    UPDATE credsd_refresh_leases SET lease_until = clock_timestamp(), holder = NULL
                    WHERE connection_id = \(lease.connectionId.text) AND holder = \(hostId)
                      AND fencing = \(lease.fencing)
                    RETURNING fencing
                    """, logger: logger
                ).decode(Int64.self) {
                    held = true
                }
                guard held else { throw LeaseLost() }
            }
            let numbers = try await feed.record(feedChanges, on: connection)
            try await connection.query(
                "SELECT pg_notify(\(Self.channel), \(String(numbers.upperBound)))", logger: logger)
            guard stage.startCommit() else { throw CancellationError() }
            try await connection.query("COMMIT", logger: logger)
            return versions
        } catch {
            if !stage.committing { await connection.rollBackQuietly(logger: logger) }
            throw error
        }
    }
}

/// Takes refresh leases (SPEC 10): with the database's clock, only when free or expired and only when the
/// connection still has the version the host saw, the fencing number +1 on every take.
extension ClusterWriter {
    /// How long a lease holds: the token endpoint's own timeout and the write-back fit in it.
    static let leaseSeconds = 30.0

    /// The version subquery locks the record's row (`FOR SHARE`): a take that waited on a write-back of the
    /// record reads the version it wrote, not the one before, and finds itself outdated. A lease that ends further
    /// ahead than a lease can (set by hand, or under a clock jumped ahead) counts as expired.
    func takeRefreshLease(connectionId: Identifier, key: [UInt8], seenVersion: UInt64) async throws -> RefreshLease {
        do {
            return try await withDeadline(timeout, "cluster refresh lease") { [self] in
                try await client.withConnection { connection in
                    try await take(
                        connectionId, key: ByteBuffer(bytes: key), seen: Int64(clamping: seenVersion), on: connection)
                }
            }
        } catch {
            logger.warning(
                "cluster refresh lease not taken", metadata: ["cluster.error": "\(ClusterError(error, url: url))"])
            throw RPCError(.storeUnavailable, "the cluster database is unreachable")
        }
    }

    /// Frees the lease if this host still holds it under `hold`; errors are only logged (it expires anyway).
    func releaseRefreshLease(_ hold: LeaseHold) async {
        do {
            try await withDeadline(timeout, "cluster lease release") { [self] in
                try await client.withConnection { connection in
                    try await connection.query(
                        """
                        UPDATE credsd_refresh_leases SET holder = NULL, lease_until = clock_timestamp()
                        WHERE connection_id = \(hold.connectionId.text) AND holder = \(hostId)
                          AND fencing = \(hold.fencing)
                        """, logger: logger)
                }
            }
        } catch {
            logger.debug(
                "cluster refresh lease not released", metadata: ["cluster.error": "\(ClusterError(error, url: url))"])
        }
    }

    private func take(_ id: Identifier, key: ByteBuffer, seen: Int64, on connection: PostgresConnection)
        async throws -> RefreshLease
    {
        for try await fencing in try await connection.query(
            """
            INSERT INTO credsd_refresh_leases AS l (connection_id, holder, lease_until, fencing, seen_version)
            SELECT \(id.text), \(hostId), clock_timestamp() + make_interval(secs => \(Self.leaseSeconds)), 1, \(seen)
            WHERE (SELECT version FROM credsd_records WHERE entity = 'connection' AND key = \(key) FOR SHARE) = \(seen)
            ON CONFLICT (connection_id) DO UPDATE
                SET holder = EXCLUDED.holder, lease_until = EXCLUDED.lease_until, fencing = l.fencing + 1,
                    seen_version = EXCLUDED.seen_version
                WHERE l.lease_until <= clock_timestamp()
                   OR l.lease_until > clock_timestamp() + make_interval(secs => \(Self.leaseSeconds))
                   OR l.holder IS NULL
            RETURNING fencing
            """, logger: logger
        ).decode(Int64.self) {
            return .won(LeaseHold(connectionId: id, fencing: fencing))
        }
        // Not taken: either the connection moved on, or another host holds the lease.
        for try await (version, remaining) in try await connection.query(
            """
            SELECT (SELECT version FROM credsd_records WHERE entity = 'connection' AND key = \(key)),
                   (SELECT extract(epoch FROM lease_until - clock_timestamp())::float8
                    FROM credsd_refresh_leases WHERE connection_id = \(id.text))
            """, logger: logger
        ).decode((Int64?, Double?).self) {
            if version != seen { return .outdated }
            return .heldElsewhere(.milliseconds(Int64(max(0, min(Self.leaseSeconds, remaining ?? 0)) * 1000)))
        }
        return .outdated
    }
}

/// `events.verify` across hosts.
extension ClusterWriter {
    /// Records a webhook id; false when it was there already (within its 10 minutes).
    func firstSighting(_ digest: [UInt8]) async throws -> Bool {
        do {
            return try await withDeadline(timeout, "cluster webhook id") { [self] in
                try await client.withConnection { connection in
                    var inserted = false
                    for try await _ in try await connection.query(
                        """
                        INSERT INTO credsd_webhook_ids AS w (digest) VALUES (\(ByteBuffer(bytes: digest)))
                        ON CONFLICT (digest) DO UPDATE SET seen_at = clock_timestamp()
                            WHERE w.seen_at < clock_timestamp() - interval '10 minutes'
                        RETURNING 1
                        """, logger: logger
                    ).decode(Int.self) {
                        inserted = true
                    }
                    return inserted
                }
            }
        } catch {
            logger.warning(
                "cluster webhook id not recorded", metadata: ["cluster.error": "\(ClusterError(error, url: url))"])
            throw RPCError(.storeUnavailable, "the cluster database is unreachable")
        }
    }
}

/// How far a write got: its connection, and whether COMMIT was sent (then a failure leaves the outcome unknown).
/// The write's task and the caller whose deadline passed race on it, under one lock.
private final class CommitStage: Sendable {
    private struct State {
        var connection: PostgresConnection?
        var committing = false
        var abandoned = false
    }

    private let state = Mutex(State())

    func leased(_ connection: PostgresConnection) {
        state.withLock { $0.connection = connection }
    }

    var committing: Bool { state.withLock { $0.committing } }

    /// Marks COMMIT as sent; false when the caller has already given up (then it must not be sent).
    func startCommit() -> Bool {
        state.withLock { state in
            guard !state.abandoned else { return false }
            state.committing = true
            return true
        }
    }

    /// The caller gives up: no COMMIT is sent after this, the connection is closed; returns whether COMMIT was
    /// already sent.
    func abandon() async -> Bool {
        let (connection, committing) = state.withLock { state in
            state.abandoned = true
            return (state.connection, state.committing)
        }
        if !committing, let connection {
            // Closing sends nothing the server must answer, but a frozen server is not waited on either way.
            _ = try? await withDeadline(.seconds(1), "cluster close") { try await connection.close() }
        }
        return committing
    }
}
