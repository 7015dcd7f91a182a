internal import CLMDB
import Glibc

/// An error from LMDB, with its return code and LMDB's own text (never data).
public struct LMDBError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: Int32
    public let operation: String

    init(_ code: Int32, _ operation: String) {
        self.code = code
        self.operation = operation
    }

    /// The map is full; the store grows it and tries again.
    public var isMapFull: Bool { code == MDB_MAP_FULL }
    /// The disk or quota is full.
    public var isNoSpace: Bool { code == ENOSPC || code == EDQUOT }

    public var description: String {
        "\(operation): \(String(cString: mdb_strerror(code)))"
    }

    static func check(_ code: Int32, _ operation: String) throws(LMDBError) {
        if code != 0 { throw LMDBError(code, operation) }
    }
}
