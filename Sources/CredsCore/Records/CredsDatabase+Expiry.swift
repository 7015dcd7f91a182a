import CredsProtocol
import CredsStore

/// Expired grants and OAuth states are deleted a few at a time by the writes that add new ones, so neither
/// table grows with everything ever issued, and no timer is needed: each table is swept from where the last
/// sweep stopped, wrapping around, `sweepBudget` rows per write.
extension CredsDatabase {
    static let sweepBudget = 64

    /// Deletes expired grants among the next rows; how many were deleted.
    @discardableResult
    func sweepExpiredGrants(_ txn: borrowing Transaction, now: Timestamp) throws -> Int {
        try sweep(txn, grants) { bytes in
            (try? RecordCoding.decode(GrantRecord.self, from: bytes)).map { $0.expiresAt <= now } ?? false
        }
    }

    /// Deletes expired OAuth states among the next rows; how many were deleted.
    @discardableResult
    func sweepExpiredOAuthStates(_ txn: borrowing Transaction, now: Timestamp) throws -> Int {
        try sweep(txn, oauthStates) { bytes in
            (try? RecordCoding.decode(OAuthStateRecord.self, from: bytes)).map { $0.expiresAt <= now } ?? false
        }
    }

    /// Deletes every pending OAuth state `matching` selects (a revoked connection's, a removed actor's), so that
    /// completing one of them later cannot bring the connection back.
    @discardableResult
    func removeOAuthStates(_ txn: borrowing Transaction, matching: (OAuthStateRecord) -> Bool) throws -> Int {
        var doomed: [[UInt8]] = []
        try txn.scan(oauthStates, from: []) { key, value in
            if let state = try? RecordCoding.decode(OAuthStateRecord.self, from: value), matching(state) {
                doomed.append(key)
            }
            return true
        }
        for key in doomed { _ = try txn.delete(oauthStates, key) }
        return doomed.count
    }

    private func sweep(
        _ txn: borrowing Transaction,
        _ table: LMDBDatabase,
        isExpired: ([UInt8]) -> Bool
    ) throws -> Int {
        let start = sweepCursors.withLock { $0[table.name] } ?? []
        var doomed: [[UInt8]] = []
        var looked = 0
        var last: [UInt8]?
        try txn.scan(table, from: start) { key, value in
            looked += 1
            last = key
            if isExpired(value) { doomed.append(key) }
            return looked < Self.sweepBudget
        }
        for key in doomed { _ = try txn.delete(table, key) }
        // The next sweep starts just after the last row looked at (the key with a 0 byte appended is the
        // smallest greater one), or from the beginning when this one reached the end.
        // Kept in memory, not in the store: a cluster replica's rehearsal is rolled back, and a cursor kept in
        // its transaction would never move (a restart starts from the beginning, which only costs a few looks).
        let next = looked < Self.sweepBudget ? [] : (last ?? []) + [0]
        sweepCursors.withLock { $0[table.name] = next }
        return doomed.count
    }
}
