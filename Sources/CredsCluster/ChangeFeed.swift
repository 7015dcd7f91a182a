import Foundation
public import Logging
public import PostgresNIO

/// The cluster's change feed (SPEC section 10; design/cluster.md §3): every writing transaction numbers its
/// changes from the single head row, bumped as its last statement. The head's row lock is held until commit, so
/// numbers follow commit order and have no hole (a rollback undoes its bump): a reader that has seen N has seen
/// everything before N. A plain sequence does not give that: values are taken before commit and commits land out
/// of order (measured: readers by cursor missed 22-23 of 4,000 changes).
public struct ChangeFeed: Sendable {
    public let hostId: String
    public let logger: Logger

    public init(hostId: String, logger: Logger) {
        self.hostId = hostId
        self.logger = logger
    }

    /// Numbers `changes` and records them, inside the caller's open transaction on `connection`: call it after
    /// the transaction's other writes and right before COMMIT (the head stays locked until then). Returns the
    /// numbers given.
    public func record(_ changes: [FeedChange], on connection: PostgresConnection) async throws -> ClosedRange<Int64> {
        precondition(!changes.isEmpty, "a transaction records at least one change")
        let count = Int64(changes.count)
        let bump: PostgresQuery = "UPDATE credsd_feed_head SET seq = seq + \(count) WHERE id = 1 RETURNING seq"
        var last: Int64 = 0
        for try await seq in try await connection.query(bump, logger: logger).decode(Int64.self) { last = seq }
        let first = last - count + 1
        // One statement, however many changes: the head's row lock is held until COMMIT, and every writer of every
        // host waits behind it.
        let insert: PostgresQuery = """
            INSERT INTO credsd_changes (seq, entity, workspace_id, entity_key, version, op, host_id)
            SELECT s, e, w, k, v, o, \(hostId)
            FROM unnest(\(changes.indices.map { first + Int64($0) })::int8[], \(changes.map(\.entity.rawValue))::text[],
                        \(changes.map(\.workspaceId))::text[], \(changes.map { ByteBuffer(bytes: $0.key) })::bytea[],
                        \(changes.map(\.version))::int8[], \(changes.map(\.operation.rawValue))::text[])
                AS u(s, e, w, k, v, o)
            """
        try await connection.query(insert, logger: logger)
        return first...last
    }

    /// How long changes are kept (SPEC 10's feed; issue 13: 7 days). A replica whose cursor is older than what
    /// is kept finds a hole where the pruned changes were, and resyncs.
    public static let retention: Duration = .seconds(7 * 86_400)

    /// Deletes changes committed more than `retention` ago, except the newest (the head's own change stays, so a
    /// replica can always tell a pruned feed from an empty one). Returns how many were deleted.
    @discardableResult
    public func prune(olderThan retention: Duration = ChangeFeed.retention, on connection: PostgresConnection)
        async throws -> Int
    {
        let seconds = retention.components.seconds
        let rows = try await connection.query(
            """
            WITH gone AS (
                DELETE FROM credsd_changes
                WHERE committed_at < clock_timestamp() - make_interval(secs => \(Double(seconds)))
                  AND seq < (SELECT seq FROM credsd_feed_head WHERE id = 1)
                RETURNING 1)
            SELECT count(*)::int8 FROM gone
            """, logger: logger)
        var deleted: Int64 = 0
        for try await count in rows.decode(Int64.self) { deleted = count }
        return Int(deleted)
    }

    /// At most `limit` changes after `cursor`, oldest first, each with its record as it is now (LEFT JOIN: the
    /// version may be past the change's), with the head, epoch and the commit time of the change at `cursor`, all
    /// from one repeatable-read snapshot; a number missing after the cursor is a `FeedHole` (never skipped).
    public func read(after cursor: Int64, limit: Int, on connection: PostgresConnection) async throws -> FeedPage {
        // A cursor at the end of the range (a tampered head adopted by a resync) has no next number to ask for.
        guard cursor >= 0, cursor < Int64.max - Int64(limit) else { throw FeedOutOfRange(cursor: cursor) }
        try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
        do {
            var headRow: (seq: Int64, epoch: UUID)?
            let headRows = try await connection.query(
                "SELECT seq, epoch FROM credsd_feed_head WHERE id = 1", logger: logger)
            for try await (seq, value) in headRows.decode((Int64, UUID).self) { headRow = (seq, value) }
            // No head row (a database credsd did not initialize, or one tampered with): nothing can be trusted
            // after the cursor, which a replica treats like any hole.
            guard let (head, epoch) = headRow else { throw FeedHole(expected: cursor + 1, found: 0) }
            var markAtCursor: Int64?
            if cursor > 0 {
                let marks = try await connection.query(
                    "SELECT \(unescaped: Self.micros("committed_at")) FROM credsd_changes WHERE seq = \(cursor)",
                    logger: logger)
                for try await mark in marks.decode(Int64.self) { markAtCursor = mark }
            }
            let rows = try await connection.query(
                """
                SELECT c.seq, c.entity, c.workspace_id, c.entity_key, c.version, c.op, c.host_id,
                       \(unescaped: Self.micros("c.committed_at")), r.version, r.value, r.host_id
                FROM credsd_changes c
                LEFT JOIN credsd_records r ON r.entity = c.entity AND r.key = c.entity_key
                WHERE c.seq > \(cursor) ORDER BY c.seq LIMIT \(Int64(limit))
                """, logger: logger)
            var entries: [FeedEntry] = []
            var expected = cursor + 1
            for try await (seq, entity, workspace, key, version, op, host, committedAt, recordVersion, value, writer)
                in rows.decode(
                    (Int64, String, String, ByteBuffer, Int64, String, String, Int64, Int64?, ByteBuffer?, String?).self
                )
            {
                guard seq == expected else { throw FeedHole(expected: expected, found: seq) }
                guard let entity = FeedChange.Entity(rawValue: entity),
                    let operation = FeedChange.Operation(rawValue: op)
                else { throw FeedHole(expected: expected, found: seq) }
                let change = FeedChange(
                    entity: entity, workspaceId: workspace, key: Array(buffer: key), version: version,
                    operation: operation)
                let record = recordVersion.map {
                    FeedRecord(version: $0, value: value.map { Array(buffer: $0) }, hostId: writer)
                }
                entries.append(
                    FeedEntry(seq: seq, change: change, hostId: host, committedAt: committedAt, record: record))
                expected += 1
            }
            // Fewer rows than the head promises (and than the limit allows) is a hole at the end.
            if entries.count < limit, expected <= head { throw FeedHole(expected: expected, found: head) }
            try await connection.query("COMMIT", logger: logger)
            return FeedPage(entries: entries, head: head, epoch: epoch, markAtCursor: markAtCursor)
        } catch {
            await connection.rollBackQuietly(logger: logger)
            throw error
        }
    }

    /// SQL for a timestamptz column as microseconds since 1970 (exact, unlike a `Date`).
    /// A time that is not finite (`infinity`, written by hand) reads as 0 rather than failing the page.
    static func micros(_ column: String) -> String {
        "(CASE WHEN isfinite(\(column)) THEN (extract(epoch FROM \(column)) * 1000000)::int8 ELSE 0 END)"
    }
}
