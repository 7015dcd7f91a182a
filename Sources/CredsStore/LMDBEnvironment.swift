internal import CLMDB
import Glibc

/// The LMDB environment in the data directory: opened with `MDB_NOTLS`, files mode 0600.
///
/// Reads run on the caller's thread in short read-only transactions; every write goes through
/// the single `StoreWriter` thread.
public final class LMDBEnvironment: @unchecked Sendable {
    // @unchecked Sendable: LMDB environments are thread-safe; map resizing is guarded by `mapLock`.
    let env: OpaquePointer
    let mapLock = MapLock()
    private(set) var mapSize: Int

    /// Opens (creating if needed) the environment in `directory`.
    public init(directory: String, initialMapSize: Int = 64 << 20, maxDatabases: Int = 16) throws(LMDBError) {
        var env: OpaquePointer?
        try LMDBError.check(mdb_env_create(&env), "env_create")
        guard let env else { throw LMDBError(ENOMEM, "env_create") }
        do {
            try LMDBError.check(mdb_env_set_maxdbs(env, MDB_dbi(maxDatabases)), "env_set_maxdbs")
            try LMDBError.check(mdb_env_set_mapsize(env, initialMapSize), "env_set_mapsize")
            try LMDBError.check(mdb_env_open(env, directory, UInt32(MDB_NOTLS), 0o600), "env_open")
        } catch {
            mdb_env_close(env)
            throw error
        }
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        self.env = env
        self.mapSize = info.me_mapsize
        var dead: Int32 = 0
        mdb_reader_check(env, &dead)
    }

    deinit {
        mdb_env_close(env)
    }

    /// Opens or creates a named database; `replicated` ones are journaled by rehearsals (`StoreWriter`).
    public func openDatabase(_ name: String, replicated: Bool = false) throws -> LMDBDatabase {
        try mapLock.withShared {
            var txn: OpaquePointer?
            try LMDBError.check(mdb_txn_begin(env, nil, 0, &txn), "txn_begin")
            var dbi: MDB_dbi = 0
            let code = mdb_dbi_open(txn, name, UInt32(MDB_CREATE), &dbi)
            guard code == 0 else {
                mdb_txn_abort(txn)
                throw LMDBError(code, "dbi_open")
            }
            try LMDBError.check(mdb_txn_commit(txn), "txn_commit")
            return LMDBDatabase(handle: dbi, name: name, replicated: replicated)
        }
    }

    /// Runs `body` in a read-only transaction on this thread.
    public func read<Result>(_ body: (borrowing Transaction) throws -> Result) throws -> Result {
        try mapLock.withShared {
            var txn: OpaquePointer?
            try LMDBError.check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "txn_begin")
            defer { mdb_txn_abort(txn) }
            return try body(Transaction(txn: txn!))
        }
    }

    /// Doubles the map; called by the writer when a transaction hit `MDB_MAP_FULL`.
    func growMap() throws {
        try mapLock.withExclusive {
            let newSize = mapSize * 2
            try LMDBError.check(mdb_env_set_mapsize(env, newSize), "env_set_mapsize")
            mapSize = newSize
        }
    }

    /// Writes a consistent, compacted copy of the environment into `directory` (empty or new), from one read
    /// transaction, while writers go on. The copy is a `data.mdb` that opens as a store of its own.
    public func copy(to directory: String) throws {
        try LMDBError.check(mdb_env_copy2(env, directory, UInt32(MDB_CP_COMPACT)), "env_copy")
    }

    /// Bytes of the map in use: pages up to the last one written.
    public var usedBytes: Int {
        var info = MDB_envinfo()
        var stat = MDB_stat()
        mdb_env_info(env, &info)
        mdb_env_stat(env, &stat)
        return (info.me_last_pgno + 1) * Int(stat.ms_psize)
    }

    /// Bytes of the map currently reserved.
    public var currentMapSize: Int { mapLock.withShared { mapSize } }
}
