import CredsCore
import CredsProtocol
import Logging
import NIOCore
import PostgresNIO

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

    func commit(_ changes: [ReplicatedChange]) async throws -> [UInt64] {
        let stage = CommitStage()
        do {
            return try await withDeadline(timeout, "cluster write") { [self] in
                try await client.withConnection { connection in
                    try await run(changes, on: connection, stage: stage)
                }
            }
        } catch let conflict as ClusterConflict {
            throw conflict
        } catch {
            logger.warning(
                "cluster write failed", metadata: ["cluster.error": "\(ClusterError(error, url: url))"])
            if stage.committing {
                throw RPCError(
                    .storeUnavailable,
                    "the cluster database stopped answering while committing; the write may still appear",
                    data: ["outcome": "unknown"])
            }
            throw RPCError(.storeUnavailable, "the cluster database is unreachable; nothing was changed")
        }
    }

    private func run(_ changes: [ReplicatedChange], on connection: PostgresConnection, stage: CommitStage)
        async throws -> [UInt64]
    {
        try await connection.query("BEGIN", logger: logger)
        do {
            var versions: [UInt64] = []
            var feedChanges: [FeedChange] = []
            for change in changes {
                let value = change.value.map { ByteBuffer(bytes: $0) }
                let expected = Int64(clamping: change.expectedVersion)
                let rows = try await connection.query(
                    """
                    INSERT INTO credsd_records AS r (entity, key, workspace_id, version, deleted, value, host_id)
                    VALUES (\(change.entity.rawValue), \(ByteBuffer(bytes: change.key)), \(change.workspaceId), 1,
                            \(value == nil), \(value), \(hostId))
                    ON CONFLICT (entity, key) DO UPDATE
                        SET version = r.version + 1, deleted = EXCLUDED.deleted, value = EXCLUDED.value,
                            workspace_id = EXCLUDED.workspace_id, host_id = EXCLUDED.host_id, updated_at = now()
                        WHERE r.version = \(expected) OR (\(expected) = 0 AND r.deleted)
                    RETURNING version
                    """, logger: logger)
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
            let numbers = try await feed.record(feedChanges, on: connection)
            try await connection.query(
                "SELECT pg_notify(\(Self.channel), \(String(numbers.upperBound)))", logger: logger)
            stage.committing = true
            try await connection.query("COMMIT", logger: logger)
            return versions
        } catch {
            if !stage.committing { _ = try? await connection.query("ROLLBACK", logger: logger) }
            throw error
        }
    }
}

/// Whether a write got as far as sending COMMIT (then a failure leaves its outcome unknown).
private final class CommitStage: @unchecked Sendable {
    // @unchecked Sendable: written by the one task running the write, read after it ended.
    var committing = false
}
