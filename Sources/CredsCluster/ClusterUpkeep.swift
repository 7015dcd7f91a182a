public import CredsCore
public import CredsProtocol
public import Logging
public import PostgresNIO

/// The database's upkeep (SPEC 10), done by one host at a time (a transaction-scoped advisory lock; the others
/// skip it): every host offers every 10 minutes, and `credsd cluster upkeep` runs it once.
///
/// 1. Under the lock, in one transaction: changes older than 7 days (`ChangeFeed.prune`), webhook ids older than
///    10 minutes, leases expired over an hour ago, and tombstones no change names any more (older than the feed
///    keeps). A replica whose cursor is before such a tombstone's change finds a hole and resyncs, so none can miss
///    the delete. A record created again later starts above any version it had (`ClusterWriter`).
/// 2. Then (after the lock is released; two hosts may overlap here, which version checks make harmless) grants and
///    OAuth states that expired by the database's clock (not a host's: hosts' clocks differ) are
///    deleted as any write deletes them: version-checked, with their change records and a wake-up, so every
///    replica drops them. A single host sweeps them from LMDB as it issues new ones; cluster hosts do not.
public struct ClusterUpkeep: Sendable {
    /// What one run did.
    public struct Report: Sendable, Equatable, CustomStringConvertible {
        public var changesPruned = 0
        public var webhookIdsPruned = 0
        public var leasesPruned = 0
        public var tombstonesPurged = 0
        public var expiredDeleted = 0
        public var usageRowsPruned = 0

        public var description: String {
            "changes pruned \(changesPruned), webhook ids pruned \(webhookIdsPruned), leases pruned "
                + "\(leasesPruned), tombstones purged \(tombstonesPurged), expired grants and OAuth states deleted "
                + "\(expiredDeleted), usage rows pruned \(usageRowsPruned)"
        }
    }

    let feed: ChangeFeed
    let hostId: String
    let logger: Logger

    /// Rows of expiring records read per page.
    static let page = 1_000
    /// At most deleted per transaction (the feed's head stays locked until it commits: every writer waits).
    static let batch = 100
    /// The key of the upkeep lock (ASCII "credsdmt").
    static let lockKey: Int64 = 0x6372_6564_7364_6D74

    public init(hostId: String, logger: Logger) {
        self.hostId = hostId
        self.logger = logger
        feed = ChangeFeed(hostId: hostId, logger: logger)
    }

    /// Runs the upkeep on `connection`; nil when another host is running it.
    public func run(on connection: PostgresConnection) async throws -> Report? {
        guard var report = try await prune(on: connection) else { return nil }
        report.expiredDeleted = try await deleteExpired(on: connection)
        return report
    }

    private func prune(on connection: PostgresConnection) async throws -> Report? {
        try await connection.query("BEGIN", logger: logger)
        do {
            var locked = false
            for try await got in try await connection.query(
                "SELECT pg_try_advisory_xact_lock(\(Self.lockKey))", logger: logger
            ).decode(Bool.self) {
                locked = got
            }
            guard locked else {
                try await connection.query("COMMIT", logger: logger)
                return nil
            }
            // Longer than a write's limits (these deletes can be large), still bounded: the server ends them.
            try await TransactionLimits(lock: .seconds(4), statement: .seconds(50), idle: .seconds(10))
                .apply(on: connection, logger: logger)
            var report = Report()
            report.changesPruned = try await feed.prune(on: connection)
            report.webhookIdsPruned = try await count(
                "DELETE FROM credsd_webhook_ids WHERE seen_at < clock_timestamp() - interval '10 minutes' RETURNING 1",
                on: connection)
            report.leasesPruned = try await count(
                "DELETE FROM credsd_refresh_leases WHERE lease_until < clock_timestamp() - interval '1 hour' RETURNING 1",
                on: connection)
            report.usageRowsPruned = try await count(
                "DELETE FROM credsd_usage WHERE day < (clock_timestamp() AT TIME ZONE 'UTC')::date - 399 RETURNING 1",
                on: connection)
            let retention = Double(ChangeFeed.retention.components.seconds)
            report.tombstonesPurged = try await count(
                """
                DELETE FROM credsd_records r
                WHERE r.deleted AND r.updated_at < clock_timestamp() - make_interval(secs => \(retention))
                  AND NOT EXISTS (SELECT 1 FROM credsd_changes c WHERE c.entity = r.entity AND c.entity_key = r.key)
                RETURNING 1
                """, on: connection)
            try await connection.query("COMMIT", logger: logger)
            return report
        } catch {
            await connection.rollBackQuietly(logger: logger)
            throw error
        }
    }

    /// Deletes expiring records whose expiry is past by the database's clock; how many.
    private func deleteExpired(on connection: PostgresConnection) async throws -> Int {
        var now: Int64 = .min
        for try await micros in try await connection.query(
            "SELECT \(unescaped: ChangeFeed.micros("clock_timestamp()"))", logger: logger
        ).decode(Int64.self) {
            now = micros
        }
        var deleted = 0
        for entity in ReplicatedEntity.expiring {
            var after: [UInt8] = []
            while true {
                var expired: [(key: [UInt8], version: Int64)] = []
                var read = 0
                for try await (key, version, value) in try await connection.query(
                    """
                    SELECT key, version, value FROM credsd_records
                    WHERE entity = \(entity.rawValue) AND key > \(ByteBuffer(bytes: after)) AND NOT deleted
                    ORDER BY key LIMIT \(Int64(Self.page))
                    """, logger: logger
                ).decode((ByteBuffer, Int64, ByteBuffer?).self) {
                    read += 1
                    after = Array(buffer: key)
                    // A version at the end of the range (written by hand) cannot take one more: left alone.
                    guard let value, version < Int64.max, let expiry = entity.expiry(of: Array(buffer: value)),
                        expiry.microseconds <= now
                    else { continue }
                    expired.append((after, version))
                }
                for start in stride(from: 0, to: expired.count, by: Self.batch) {
                    let slice = Array(expired[start..<min(expired.count, start + Self.batch)])
                    deleted += try await delete(slice, of: entity, on: connection)
                }
                if read < Self.page { break }
            }
        }
        return deleted
    }

    /// Tombstones `records` if each still has the version read (a host may have revoked or used it meanwhile),
    /// with their change records and a wake-up, in one transaction; how many.
    private func delete(
        _ records: [(key: [UInt8], version: Int64)],
        of entity: ReplicatedEntity,
        on connection: PostgresConnection
    ) async throws -> Int {
        try await connection.query("BEGIN", logger: logger)
        do {
            try await TransactionLimits(all: .seconds(4)).apply(on: connection, logger: logger)
            var changes: [FeedChange] = []
            for record in records {
                for try await (version, workspace) in try await connection.query(
                    """
                    UPDATE credsd_records SET version = version + 1, deleted = true, value = NULL,
                        host_id = \(hostId), updated_at = now()
                    WHERE entity = \(entity.rawValue) AND key = \(ByteBuffer(bytes: record.key))
                      AND version = \(record.version) AND NOT deleted
                    RETURNING version, workspace_id
                    """, logger: logger
                ).decode((Int64, String).self) {
                    changes.append(
                        FeedChange(
                            entity: FeedChange.Entity(rawValue: entity.rawValue) ?? .grant, workspaceId: workspace,
                            key: record.key, version: version, operation: .delete))
                }
            }
            if !changes.isEmpty {
                let numbers = try await feed.record(changes, on: connection)
                try await connection.query(
                    "SELECT pg_notify(\(ClusterWriter.channel), \(String(numbers.upperBound)))", logger: logger)
            }
            try await connection.query("COMMIT", logger: logger)
            return changes.count
        } catch {
            await connection.rollBackQuietly(logger: logger)
            throw error
        }
    }

    private func count(_ query: PostgresQuery, on connection: PostgresConnection) async throws -> Int {
        var total = 0
        for try await _ in try await connection.query(query, logger: logger) { total += 1 }
        return total
    }
}
