import CredsCrypto
import CredsStore

/// The local side of audit shipping (SPEC 10): which entries have reached PostgreSQL, kept in LMDB, so entries
/// stay on disk until they are shipped whatever happens to the database or the process.
extension CredsDatabase {
    private static let shippedKey = Array("audit.shipped".utf8)

    /// Up to `limit` entries after the shipped cursor, from one read transaction. An entry that cannot be read
    /// stops the shipment before it (audit.verify names it); entries trimmed before they were shipped are skipped
    /// (the first entry then does not follow the shipped one: the central head records the gap).
    public func auditShipment(limit: Int) throws -> AuditShipment {
        try environment.read { txn in
            let shipped = try txn.get(meta, Self.shippedKey).map(StoreKeys.uint64) ?? 0
            let head = try txn.get(meta, AuditLog.headKey).flatMap(AuditHead.init(stored:))?.seq ?? 0
            var entries: [AuditShipment.Entry] = []
            try txn.scan(auditLog.entries, from: AuditLog.key(shipped &+ 1)) { _, value in
                guard let (entry, intact) = AuditLog.decode(value), intact,
                    let prevHash = Hex.decode(entry.prevHash), let hash = Hex.decode(entry.hash)
                else { return false }
                entries.append(
                    AuditShipment.Entry(
                        seq: entry.seq, bytes: value, prevHash: prevHash, hash: hash, workspaceId: entry.workspaceId))
                return entries.count < limit
            }
            return AuditShipment(entries: entries, shipped: shipped, head: head)
        }
    }

    /// Moves the shipped cursor to `seq` once PostgreSQL took the entries up to it (never back).
    public func markAuditShipped(through seq: UInt64) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            writer.submit({ txn in
                let shipped = try txn.get(self.meta, Self.shippedKey).map(StoreKeys.uint64) ?? 0
                if seq > shipped { try txn.put(self.meta, Self.shippedKey, StoreKeys.bigEndian(seq)) }
            }) { continuation.resume(with: $0) }
        }
    }
}
