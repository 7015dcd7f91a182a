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
            var unreadable: UInt64?
            try txn.scan(auditLog.entries, from: AuditLog.key(shipped &+ 1)) { key, value in
                guard let (entry, intact) = AuditLog.decode(value), intact,
                    let prevHash = Hex.decode(entry.prevHash), let hash = Hex.decode(entry.hash)
                else {
                    unreadable = StoreKeys.uint64(key)
                    return false
                }
                entries.append(AuditShipment.Entry(seq: entry.seq, bytes: value, prevHash: prevHash, hash: hash))
                return entries.count < limit
            }
            return AuditShipment(entries: entries, shipped: shipped, head: head, unreadable: unreadable)
        }
    }

    /// This host's shipped entries it still holds: from its oldest kept entry through the shipped cursor (nil when
    /// none), for `audit.verify` to find each of them in the database.
    public func auditShippedKept() throws -> ClosedRange<UInt64>? {
        try environment.read { txn in
            let shipped = try txn.get(meta, Self.shippedKey).map(StoreKeys.uint64) ?? 0
            var oldest: UInt64?
            try txn.scan(auditLog.entries, from: []) { key, _ in
                oldest = StoreKeys.uint64(key)
                return false
            }
            guard let oldest, oldest <= shipped else { return nil }
            return oldest...shipped
        }
    }

    /// Moves the shipped cursor back to `seq`, where the database's head for this host is (it holds less than was
    /// shipped: a restore, or entries removed there); the entries after it still held here ship again.
    public func rewindAuditShipped(to seq: UInt64) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            writer.submit({ txn in
                let shipped = try txn.get(self.meta, Self.shippedKey).map(StoreKeys.uint64) ?? 0
                if seq < shipped { try txn.put(self.meta, Self.shippedKey, StoreKeys.bigEndian(seq)) }
            }) { continuation.resume(with: $0) }
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
