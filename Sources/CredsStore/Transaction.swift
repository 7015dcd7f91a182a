internal import CLMDB

/// An open LMDB transaction. It lives on one thread and is never kept across an `await`.
public struct Transaction: ~Copyable {
    let txn: OpaquePointer
    /// Where writes to replicated databases are noted, in a rehearsal; nil otherwise.
    let journal: WriteJournal?

    init(txn: OpaquePointer, journal: WriteJournal? = nil) {
        self.txn = txn
        self.journal = journal
    }

    /// The value stored under `key`, copied out of the map.
    public func get(_ database: LMDBDatabase, _ key: [UInt8]) throws(LMDBError) -> [UInt8]? {
        try lookup(database, key).map { Array($0) }
    }

    /// Calls `body` with the value stored under `key`, in place in the map (valid only during the call and only
    /// while this transaction is open); nil when there is none. Saves the copy `get` makes.
    public func withValue<Result>(
        _ database: LMDBDatabase,
        _ key: [UInt8],
        _ body: (UnsafeRawBufferPointer) throws -> Result
    ) throws -> Result? {
        guard let stored = try lookup(database, key) else { return nil }
        return try body(stored)
    }

    /// The value under `key`, in place in the map.
    private func lookup(_ database: LMDBDatabase, _ key: [UInt8]) throws(LMDBError) -> UnsafeRawBufferPointer? {
        var keyValue = MDB_val()
        var data = MDB_val()
        let code = key.withUnsafeBytes { keyBytes in
            keyValue.mv_size = keyBytes.count
            keyValue.mv_data = UnsafeMutableRawPointer(mutating: keyBytes.baseAddress)
            return mdb_get(txn, database.handle, &keyValue, &data)
        }
        if code == MDB_NOTFOUND { return nil }
        try LMDBError.check(code, "get")
        return UnsafeRawBufferPointer(start: data.mv_data, count: data.mv_size)
    }

    /// Stores `value` under `key`, replacing any value there.
    public func put(_ database: LMDBDatabase, _ key: [UInt8], _ value: [UInt8]) throws(LMDBError) {
        // A journaled put notes whether it replaces a record (an update) or creates one.
        let existed = database.replicated && journal != nil ? try get(database, key) != nil : false
        var keyValue = MDB_val()
        var data = MDB_val()
        let code = key.withUnsafeBytes { keyBytes in
            value.withUnsafeBytes { valueBytes in
                keyValue.mv_size = keyBytes.count
                keyValue.mv_data = UnsafeMutableRawPointer(mutating: keyBytes.baseAddress)
                data.mv_size = valueBytes.count
                data.mv_data = UnsafeMutableRawPointer(
                    mutating: valueBytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1))
                return mdb_put(txn, database.handle, &keyValue, &data, 0)
            }
        }
        try LMDBError.check(code, "put")
        if database.replicated, let journal {
            journal.note(database, key, value: value, previous: nil, existed: existed)
        }
    }

    /// Removes `key`; returns whether it was there.
    @discardableResult
    public func delete(_ database: LMDBDatabase, _ key: [UInt8]) throws(LMDBError) -> Bool {
        // A journaled delete keeps what it removed (whose workspace it was).
        let previous = database.replicated && journal != nil ? try get(database, key) : nil
        var keyValue = MDB_val()
        let code = key.withUnsafeBytes { keyBytes in
            keyValue.mv_size = keyBytes.count
            keyValue.mv_data = UnsafeMutableRawPointer(mutating: keyBytes.baseAddress)
            return mdb_del(txn, database.handle, &keyValue, nil)
        }
        // Journaled even when the key is absent here: on a stale replica "already gone" may be wrong, and the
        // source of truth decides (by version) whether the delete stands.
        if let journal, database.replicated {
            journal.note(database, key, value: nil, previous: previous, existed: previous != nil)
        }
        if code == MDB_NOTFOUND { return false }
        try LMDBError.check(code, "delete")
        return true
    }

    /// Removes every entry of `database` (a replica's full resync).
    public func clear(_ database: LMDBDatabase) throws(LMDBError) {
        try LMDBError.check(mdb_drop(txn, database.handle, 0), "drop")
    }

    /// Visits, in key order, every entry from the first key at or after `start`, until `body` returns false.
    public func scan(
        _ database: LMDBDatabase,
        from start: [UInt8],
        _ body: (_ key: [UInt8], _ value: [UInt8]) throws -> Bool
    ) throws {
        try walk(database, start: start, prefix: [], body)
    }

    /// Visits, in key order, every entry whose key starts with `prefix`, until `body` returns false.
    public func scan(
        _ database: LMDBDatabase,
        prefix: [UInt8],
        _ body: (_ key: [UInt8], _ value: [UInt8]) throws -> Bool
    ) throws {
        try walk(database, start: prefix, prefix: prefix, body)
    }

    private func walk(
        _ database: LMDBDatabase,
        start: [UInt8],
        prefix: [UInt8],
        _ body: (_ key: [UInt8], _ value: [UInt8]) throws -> Bool
    ) throws {
        var cursor: OpaquePointer?
        try LMDBError.check(mdb_cursor_open(txn, database.handle, &cursor), "cursor_open")
        defer { mdb_cursor_close(cursor) }
        var keyValue = MDB_val()
        var data = MDB_val()
        var code = start.withUnsafeBytes { startBytes in
            keyValue.mv_size = startBytes.count
            keyValue.mv_data = UnsafeMutableRawPointer(mutating: startBytes.baseAddress)
            return mdb_cursor_get(cursor, &keyValue, &data, start.isEmpty ? MDB_FIRST : MDB_SET_RANGE)
        }
        while code == 0 {
            let key = Array(UnsafeRawBufferPointer(start: keyValue.mv_data, count: keyValue.mv_size))
            guard key.starts(with: prefix) else { return }
            let value = Array(UnsafeRawBufferPointer(start: data.mv_data, count: data.mv_size))
            guard try body(key, value) else { return }
            code = mdb_cursor_get(cursor, &keyValue, &data, MDB_NEXT)
        }
        if code != MDB_NOTFOUND { try LMDBError.check(code, "cursor_get") }
    }
}
