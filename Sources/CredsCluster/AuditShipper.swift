import CredsCore
import Logging
import NIOCore
import PostgresNIO

/// Ships this host's audit chain to PostgreSQL (SPEC 10), a batch at a time, each in one transaction checked
/// against the host's central head: a batch continues the head (its first entry links to the head's hash), or
/// repeats shipped entries byte for byte (a retry after a lost answer: idempotent); anything else is a fork or a
/// rewrite of what was shipped, and is refused without writing.
struct AuditShipper: Sendable {
    let hostId: String
    let logger: Logger

    /// Entries per batch.
    static let batch = 500

    enum Outcome: Equatable {
        /// Shipped through this sequence number.
        case shipped(UInt64)
        /// The chain does not continue what this host id shipped before.
        case refused(String)
        /// The database holds this host's chain only through this number, behind what the host shipped (a restore,
        /// or entries removed there): the host ships again from there.
        case behind(UInt64)
    }

    /// Ships `entries`, the ones after `shipped` (the host's shipped cursor).
    func ship(_ entries: [AuditShipment.Entry], shipped: UInt64, on connection: PostgresConnection) async throws
        -> Outcome
    {
        guard let last = entries.last else { return .shipped(0) }
        try await connection.query("BEGIN", logger: logger)
        do {
            // As a write does: the server gives up before the shipper's deadline (a head locked by a stalled host
            // with the same id), and ends the transaction if this host stalls in it.
            try await TransactionLimits(all: .seconds(4)).apply(on: connection, logger: logger)
            var head: (seq: Int64, hash: [UInt8])?
            for try await (seq, hash) in try await connection.query(
                "SELECT seq, hash FROM credsd_audit_heads WHERE host_id = \(hostId) FOR UPDATE", logger: logger
            ).decode((Int64, ByteBuffer).self) {
                head = (seq, Array(buffer: hash))
            }
            let headSeq = UInt64(max(0, head?.seq ?? 0))
            guard headSeq >= shipped else {
                try await connection.query("ROLLBACK", logger: logger)
                return .behind(headSeq)
            }
            // Entries at or below the head must be the ones shipped, byte for byte.
            let repeated = entries.filter { $0.seq <= headSeq }
            if let first = repeated.first {
                var stored: [Int64: [UInt8]] = [:]
                for try await (seq, hash) in try await connection.query(
                    """
                    SELECT seq, hash FROM credsd_audit WHERE host_id = \(hostId)
                      AND seq BETWEEN \(Int64(clamping: first.seq)) AND \(Int64(clamping: headSeq))
                    """, logger: logger
                ).decode((Int64, ByteBuffer).self) {
                    stored[seq] = Array(buffer: hash)
                }
                // A repeat must find its row: every entry at or below the head was stored by the batch that moved
                // the head there (a missing one was removed, or the head was moved without them).
                for entry in repeated where stored[Int64(clamping: entry.seq)].map({ $0 != entry.hash }) ?? true {
                    try await connection.query("ROLLBACK", logger: logger)
                    return .refused("entry \(entry.seq) is not the one this host id shipped, or is missing")
                }
            }
            let fresh = entries.filter { $0.seq > headSeq }
            var gaps: Int64 = 0
            if let first = fresh.first, head == nil, first.seq > 1 {
                // The host's first shipment does not start its chain (entries trimmed before it ever shipped): a
                // gap too, so that verify can tell it from entries removed from the start in the database.
                gaps = 1
            } else if let first = fresh.first, let head {
                if first.seq == headSeq + 1 {
                    guard first.prevHash == head.hash else {
                        try await connection.query("ROLLBACK", logger: logger)
                        return .refused("entry \(first.seq) does not link to entry \(headSeq) as shipped (a fork)")
                    }
                } else {
                    gaps = 1
                }
            }
            // Within the batch, each entry links to the one before.
            for (earlier, later) in zip(fresh, fresh.dropFirst()) where later.seq == earlier.seq &+ 1 {
                guard later.prevHash == earlier.hash else {
                    try await connection.query("ROLLBACK", logger: logger)
                    return .refused("entry \(later.seq) does not link to entry \(earlier.seq)")
                }
            }
            if let newest = fresh.last {
                var inserted = 0
                for try await _ in try await connection.query(
                    """
                    INSERT INTO credsd_audit (host_id, seq, entry, prev_hash, hash)
                    SELECT \(hostId), s, e, p, h
                    FROM unnest(\(fresh.map { Int64(clamping: $0.seq) })::int8[], \(fresh.map { ByteBuffer(bytes: $0.bytes) })::bytea[],
                                \(fresh.map { ByteBuffer(bytes: $0.prevHash) })::bytea[],
                                \(fresh.map { ByteBuffer(bytes: $0.hash) })::bytea[]) AS u(s, e, p, h)
                    ON CONFLICT (host_id, seq) DO NOTHING
                    RETURNING 1
                    """, logger: logger)
                {
                    inserted += 1
                }
                // Rows above the head are not this host's to overwrite (the head was moved back over them, or
                // deleted with them left in place).
                guard inserted == fresh.count else {
                    try await connection.query("ROLLBACK", logger: logger)
                    return .refused("entries of this host id are in the database beyond its head")
                }
                try await connection.query(
                    """
                    INSERT INTO credsd_audit_heads (host_id, seq, hash, gaps)
                    VALUES (\(hostId), \(Int64(clamping: newest.seq)), \(ByteBuffer(bytes: newest.hash)), \(gaps))
                    ON CONFLICT (host_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash,
                        gaps = credsd_audit_heads.gaps + EXCLUDED.gaps, updated_at = clock_timestamp()
                    """, logger: logger)
            }
            try await connection.query("COMMIT", logger: logger)
            return .shipped(last.seq)
        } catch {
            await connection.rollBackQuietly(logger: logger)
            throw error
        }
    }
}
