internal import CLMDB

/// A named database inside the environment, opened once at start.
public struct LMDBDatabase: Sendable, Hashable {
    let handle: MDB_dbi
    public let name: String
}
