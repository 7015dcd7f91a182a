import CredsCore
import CredsProtocol
import Logging
import NIOCore
import PostgresNIO

/// Usage across hosts (SPEC 12): each host writes its own figures per workspace, provider and day (whole, over its
/// previous row), and reads the other hosts' rows changed since its last read. Budgets then count this host's use
/// as it happens and the others' as of the last exchange: a budget can be overshot by what the other hosts served
/// since (at most about 2 s: their exchange every second, then this host's).
struct UsageExchange: Sendable {
    let hostId: String
    let logger: Logger

    /// How far back each read looks again past the newest change it saw: a row stamped before that change but
    /// committed after it is still read.
    static let overlap: Int64 = 5_000_000

    /// Rows per statement of a shipment (a host that starts ships every row of the month).
    static let shipSlice = 1_000

    /// Writes this host's rows, a slice per statement; a row goes over the stored one only with more counts in
    /// it (a retry that commits after a newer shipment changes nothing).
    func ship(_ rows: ArraySlice<UsageShipment.Row>, on connection: PostgresConnection) async throws {
        let rows = Array(rows)
        try await connection.query(
            """
            INSERT INTO credsd_usage AS u
                (workspace_id, provider, day, host_id, counts, builtin_resolves, builtin_units, weight)
            SELECT w, p, d, \(hostId), c, r, n, g
            FROM unnest(\(rows.map(\.workspaceId))::text[], \(rows.map(\.provider))::text[],
                        \(rows.map(\.day.description))::date[], \(rows.map { ByteBuffer(bytes: $0.counts) })::bytea[],
                        \(rows.map(\.builtInResolves))::int8[], \(rows.map(\.builtInUnits))::int8[],
                        \(rows.map(\.weight))::int8[])
                 AS t(w, p, d, c, r, n, g)
            ON CONFLICT (workspace_id, provider, day, host_id) DO UPDATE
            SET counts = excluded.counts, builtin_resolves = excluded.builtin_resolves,
                builtin_units = excluded.builtin_units, weight = excluded.weight, updated_at = clock_timestamp()
            WHERE excluded.weight >= u.weight
            """, logger: logger)
    }

    /// Reads the other hosts' rows of the month of `today` with built-in use, changed after `since` (microseconds
    /// since the epoch, by the database's clock; nil: all of them). Returns them, and the newest change time.
    func others(since: Int64?, today: UTCDay, on connection: PostgresConnection) async throws
        -> (rows: [HostUsage], newest: Int64?)
    {
        let from = max(0, since.map { $0 &- Self.overlap } ?? 0)
        var found: [HostUsage] = []
        var newest: Int64?
        for try await (workspace, provider, day, host, resolves, units, updated) in try await connection.query(
            """
            SELECT workspace_id, provider, to_char(day, 'YYYY-MM-DD'), host_id, builtin_resolves, builtin_units,
                   \(unescaped: ChangeFeed.micros("updated_at"))
            FROM credsd_usage
            WHERE host_id <> \(hostId) AND day >= \(today.monthStart.description)::date
              AND updated_at > to_timestamp(\(Double(from) / 1_000_000))
              AND (builtin_resolves > 0 OR builtin_units > 0)
            """, logger: logger
        ).decode((String, String, String, String, Int64, Int64, Int64).self) {
            newest = max(newest ?? updated, updated)
            guard let day = UTCDay(day) else { continue }
            found.append(
                HostUsage(
                    workspaceId: workspace, provider: provider, day: day, hostId: host, counts: [],
                    builtInResolves: max(0, resolves), builtInUnits: max(0, units)))
        }
        return (found, newest)
    }

    /// The other hosts' rows of a workspace from `from` to `to`, optionally of one provider (`usage.get`).
    func otherHosts(
        workspaceId: String, provider: String?, from: UTCDay, to: UTCDay, on connection: PostgresConnection
    ) async throws -> [HostUsage] {
        var found: [HostUsage] = []
        for try await (provider, day, host, counts) in try await connection.query(
            """
            SELECT provider, to_char(day, 'YYYY-MM-DD'), host_id, counts FROM credsd_usage
            WHERE workspace_id = \(workspaceId) AND host_id <> \(hostId)
              AND day BETWEEN \(from.description)::date AND \(to.description)::date
              AND (\(provider)::text IS NULL OR provider = \(provider))
            """, logger: logger
        ).decode((String, String, String, ByteBuffer).self) {
            guard let day = UTCDay(day) else { continue }
            found.append(
                HostUsage(
                    workspaceId: workspaceId, provider: provider, day: day, hostId: host, counts: Array(buffer: counts),
                    builtInResolves: 0, builtInUnits: 0))
        }
        return found
    }
}
