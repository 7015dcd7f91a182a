public import CredsCore
public import Logging
import NIOCore
public import PostgresNIO

/// `credsd cluster import`: a single-host store's records into an empty cluster, in one transaction, each at
/// version 1 with its change record, the feed's head locked from the start and bumped last (SPEC 10's rule).
public struct ClusterImporter: Sendable {
    public let hostId: String
    public let logger: Logger
    /// Rows per statement.
    static let batch = 1_000

    public init(hostId: String, logger: Logger) {
        self.hostId = hostId
        self.logger = logger
    }

    /// Imports `records`; returns the feed's head after it. Refuses a cluster that holds records (`ImportRefused`).
    public func importRecords(_ records: [ReplicatedChange], on connection: PostgresConnection) async throws -> Int64 {
        try await connection.query("BEGIN", logger: logger)
        do {
            var base: Int64 = 0
            for try await seq in try await connection.query(
                "SELECT seq FROM credsd_feed_head WHERE id = 1 FOR UPDATE", logger: logger
            ).decode(Int64.self) {
                base = seq
            }
            var existing: Int64 = 0
            for try await count in try await connection.query(
                "SELECT count(*)::int8 FROM credsd_records", logger: logger
            ).decode(Int64.self) {
                existing = count
            }
            guard existing == 0 else { throw ImportRefused(records: existing) }
            var offset = 0
            while offset < records.count {
                let slice = records[offset..<min(records.count, offset + Self.batch)]
                let entities = slice.map(\.entity.rawValue)
                let keys = slice.map { ByteBuffer(bytes: $0.key) }
                let workspaces = slice.map(\.workspaceId)
                let values = slice.map { ByteBuffer(bytes: $0.value ?? []) }
                try await connection.query(
                    """
                    INSERT INTO credsd_records (entity, key, workspace_id, version, deleted, value, host_id)
                    SELECT e, k, w, 1, false, v, \(hostId)
                    FROM unnest(\(entities)::text[], \(keys)::bytea[], \(workspaces)::text[], \(values)::bytea[])
                        AS u(e, k, w, v)
                    """, logger: logger)
                try await connection.query(
                    """
                    INSERT INTO credsd_changes (seq, entity, workspace_id, entity_key, version, op, host_id)
                    SELECT \(base + Int64(offset)) + n, e, w, k, 1, 'put', \(hostId)
                    FROM unnest(\(entities)::text[], \(keys)::bytea[], \(workspaces)::text[])
                        WITH ORDINALITY AS u(e, k, w, n)
                    """, logger: logger)
                offset += slice.count
            }
            let head = base + Int64(records.count)
            try await connection.query("UPDATE credsd_feed_head SET seq = \(head) WHERE id = 1", logger: logger)
            try await connection.query(
                "SELECT pg_notify(\(ClusterWriter.channel), \(String(head)))", logger: logger)
            try await connection.query("COMMIT", logger: logger)
            return head
        } catch {
            await connection.rollBackQuietly(logger: logger)
            throw error
        }
    }
}

/// `cluster import` goes into an empty cluster only.
public struct ImportRefused: Error, CustomStringConvertible, Sendable {
    public let records: Int64

    public var description: String {
        "the cluster already holds \(records) record(s): import copies a single-host store into an empty cluster only"
    }
}
