import CredsProtocol
import CredsStore
import Foundation

/// Edits a stopped daemon's LMDB store directly, as an attacker with the data directory could.
struct StoreSurgery {
    let environment: LMDBEnvironment
    let writer: StoreWriter

    init(dataDir: String) throws {
        environment = try LMDBEnvironment(directory: dataDir)
        writer = StoreWriter(environment: environment)
    }

    func close() { writer.stop() }

    func get(_ database: String, _ key: [UInt8]) throws -> [UInt8]? {
        let db = try environment.openDatabase(database)
        return try environment.read { txn in try txn.get(db, key) }
    }

    func put(_ database: String, _ key: [UInt8], _ value: [UInt8]) throws {
        let db = try environment.openDatabase(database)
        try commit { txn in try txn.put(db, key, value) }
    }

    /// Puts every pair in one transaction.
    func put(_ database: String, _ pairs: [(key: [UInt8], value: [UInt8])]) throws {
        let db = try environment.openDatabase(database)
        try commit { txn in
            for pair in pairs { try txn.put(db, pair.key, pair.value) }
        }
    }

    func delete(_ database: String, _ key: [UInt8]) throws {
        let db = try environment.openDatabase(database)
        try commit { txn in _ = try txn.delete(db, key) }
    }

    func json(_ database: String, _ key: [UInt8]) throws -> [String: JSONValue] {
        try JSONValue.parse(try get(database, key)!).objectValue!
    }

    func putJSON(_ database: String, _ key: [UInt8], _ value: [String: JSONValue]) throws {
        try put(database, key, JSONValue.object(value).serialized())
    }

    private func commit(_ body: @escaping (borrowing Transaction) throws -> Void) throws {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<Void, any Error> = .success(())
        writer.submit(body) { result in
            outcome = result
            done.signal()
        }
        done.wait()
        try outcome.get()
    }

    /// Holds LMDB's write lock (exclusive across processes) until `release()`: a daemon on the same store can
    /// read and answer, but commits nothing meanwhile.
    func holdWriteLock() -> WriteLockHold {
        let hold = WriteLockHold()
        writer.submit({ _ in
            hold.taken.signal()
            hold.released.wait()
        }) { _ in }
        hold.taken.wait()
        return hold
    }

    /// How many entries a named database holds.
    func count(_ database: String) throws -> Int {
        let handle = try environment.openDatabase(database)
        return try environment.read { txn in
            var count = 0
            try txn.scan(handle, from: []) { _, _ in
                count += 1
                return true
            }
            return count
        }
    }

    /// The audit database key of a sequence number.
    static func auditKey(_ seq: UInt64) -> [UInt8] {
        (0..<8).reversed().map { UInt8(truncatingIfNeeded: seq >> ($0 * 8)) }
    }
}

/// LMDB's write lock taken by a test, until released.
final class WriteLockHold: Sendable {
    fileprivate let taken = DispatchSemaphore(value: 0)
    fileprivate let released = DispatchSemaphore(value: 0)

    func release() { released.signal() }
}
