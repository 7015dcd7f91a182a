import CredsCore
import Logging
import NIOCore
import PostgresNIO

/// Reads pages of the shipped audit chains for `audit.list` (SPEC 10), using the indexes of schema version 5:
/// `(host_id, seq)` for one host, `(seq, host_id)` for every host, `(workspace_id, seq, host_id)` with a workspace.
struct ShippedAuditReader: Sendable {
    let logger: Logger

    func page(_ query: ShippedAuditQuery, on connection: PostgresConnection) async throws -> [ShippedAuditRow] {
        let after = Int64(clamping: query.after)
        let through = Int64(clamping: query.through ?? UInt64(Int64.max))
        let limit = Int64(max(0, query.limit))
        let rows: PostgresRowSequence
        switch query.hosts {
        case .only(let host):
            rows = try await connection.query(
                """
                SELECT host_id, seq, entry, prev_hash, hash, workspace_id FROM credsd_audit
                WHERE host_id = \(host) AND seq > \(after) AND seq <= \(through)
                  AND (\(query.workspaceId)::text IS NULL OR workspace_id = \(query.workspaceId))
                ORDER BY seq LIMIT \(limit)
                """, logger: logger)
        case .allBut(let host):
            rows = try await connection.query(
                """
                SELECT host_id, seq, entry, prev_hash, hash, workspace_id FROM credsd_audit
                WHERE host_id <> \(host) AND seq > \(after) AND seq <= \(through)
                  AND (\(query.workspaceId)::text IS NULL OR workspace_id = \(query.workspaceId))
                ORDER BY seq, host_id LIMIT \(limit)
                """, logger: logger)
        }
        var page: [ShippedAuditRow] = []
        for try await (host, seq, entry, prevHash, hash, workspace) in rows.decode(
            (String, Int64, ByteBuffer, ByteBuffer, ByteBuffer, String?).self)
        {
            page.append(
                ShippedAuditRow(
                    hostId: host, seq: UInt64(max(0, seq)), bytes: Array(buffer: entry),
                    prevHash: Array(buffer: prevHash), hash: Array(buffer: hash), workspaceId: workspace))
        }
        return page
    }
}
