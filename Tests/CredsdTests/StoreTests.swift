import CredsCrypto
import CredsStore
import Foundation
import Testing

@Suite("LMDB store and sealing")
struct StoreTests {
    private func write<Value: Sendable>(
        _ writer: StoreWriter,
        _ body: @escaping (borrowing Transaction) throws -> Value
    ) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            writer.submit(body) { continuation.resume(with: $0) }
        }
    }

    @Test("a full map grows instead of failing, and every write is there after reopening")
    func mapGrows() async throws {
        let directory = TemporaryDirectory()
        let initial = 256 * 1024
        do {
            let environment = try LMDBEnvironment(directory: directory.path, initialMapSize: initial)
            let database = try environment.openDatabase("items")
            let writer = StoreWriter(environment: environment)
            for batch in 0..<40 {
                try await write(writer) { txn in
                    for item in 0..<100 {
                        try txn.put(
                            database, Array("k\(batch)-\(item)".utf8), [UInt8](repeating: UInt8(item), count: 400))
                    }
                }
            }
            #expect(environment.currentMapSize > initial)
            writer.stop()
        }
        let reopened = try LMDBEnvironment(directory: directory.path, initialMapSize: initial)
        let database = try reopened.openDatabase("items")
        let count = try reopened.read { txn in
            var count = 0
            try txn.scan(database, prefix: Array("k".utf8)) { _, value in
                count += value.count == 400 ? 1 : 0
                return true
            }
            return count
        }
        #expect(count == 4000)
    }

    @Test("a failing write in a group commit leaves the others committed")
    func failureIsolation() async throws {
        struct Refused: Error {}
        let directory = TemporaryDirectory()
        let environment = try LMDBEnvironment(directory: directory.path)
        let database = try environment.openDatabase("items")
        let writer = StoreWriter(environment: environment)
        defer { writer.stop() }
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<20 {
                group.addTask {
                    do {
                        try await self.write(writer) { txn in
                            try txn.put(database, Array("k\(index)".utf8), [1])
                            if index % 2 == 1 { throw Refused() }
                        }
                        return true
                    } catch is Refused {
                        return false
                    }
                }
            }
            var committed = 0
            for try await ok in group where ok { committed += 1 }
            #expect(committed == 10)
        }
        let present = try environment.read { txn in
            try (0..<20).filter { try txn.get(database, Array("k\($0)".utf8)) != nil }
        }
        #expect(present == Array(stride(from: 0, to: 20, by: 2)))
    }

    @Test("a sealed payload opens only with its own associated data and an unaltered box")
    func sealing() throws {
        let key = MasterKey.generate()
        let sealer = Sealer(keyRing: KeyRing(keys: [key]))
        let plaintext = SecretBytes(copying: Array("{\"apiKey\":\"k\"}".utf8))
        let associatedData = Array("conn_1\u{0}ws1\u{0}fal".utf8)
        let sealed = try #require(sealer.seal(plaintext, associatedData: associatedData))
        #expect(sealed.keyId == key.id)
        let opened = try sealer.open(sealed, associatedData: associatedData)
        #expect(opened.constantTimeEquals(plaintext))
        #expect(throws: SealError.authenticationFailed) {
            try sealer.open(sealed, associatedData: Array("conn_2\u{0}ws1\u{0}fal".utf8))
        }
        var altered = sealed.box
        altered[altered.count / 2] ^= 1
        #expect(throws: SealError.authenticationFailed) {
            try sealer.open(SealedValue(keyId: sealed.keyId, box: altered), associatedData: associatedData)
        }
        let otherRing = Sealer(keyRing: KeyRing(keys: [MasterKey.generate()]))
        #expect(throws: SealError.keyNotConfigured(key.id)) {
            try otherRing.open(sealed, associatedData: associatedData)
        }
        #expect(!"\(plaintext)".contains("apiKey"))
        #expect("\(key)" == "MasterKey(\(key.id))")
    }
}
