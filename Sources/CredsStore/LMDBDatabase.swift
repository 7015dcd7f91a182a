internal import CLMDB

/// A named database inside the environment, opened once at start.
public struct LMDBDatabase: Sendable, Hashable {
    let handle: MDB_dbi
    public let name: String
    /// Whether writes to it are journaled in transactions that keep a `WriteJournal` (cluster mode: these are the
    /// records PostgreSQL holds).
    public let replicated: Bool
}
