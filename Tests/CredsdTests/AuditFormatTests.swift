@testable import CredsCore
import CredsCrypto
import CredsProtocol
import CredsStore
import Dispatch
import NIOCore
import NIOPosix
import Testing

/// The stored form of the audit trail: binary records hashed once, after entries of the earlier JSON format.
@Suite("audit record format")
struct AuditFormatTests {
    let eventLoop = MultiThreadedEventLoopGroup.singleton.next()

    func draft(_ index: Int, source: CredentialSource? = .byo) -> AuditDraft {
        var draft = AuditDraft(
            CallContext(socket: .resolve, eventLoop: eventLoop, method: "resolve", peerUid: 1000, peerPid: 42),
            facts: CallFacts(
                workspaceId: Identifier(stored: "ws\(index)"), provider: Identifier(stored: "fal"),
                connectionId: Identifier(stored: "conn_\(index)"), source: source))
        if index % 3 == 0 { draft.outcome = "no_credential" }
        return draft
    }

    /// Runs `body` in one write transaction and waits for the commit.
    func write(_ database: CredsDatabase, _ body: @escaping @Sendable (borrowing Transaction) throws -> Void) throws {
        let done = DispatchSemaphore(value: 0)
        let failure = ErrorBox()
        database.writer.submit(body) { result in
            if case .failure(let error) = result { failure.error = error }
            done.signal()
        }
        done.wait()
        if let error = failure.error { throw error }
    }

    @Test("a record holds every field and its hash covers every byte: any changed byte is caught")
    func roundTrip() throws {
        var original = draft(4)
        original.suppressed = 7
        let record = AuditRecord.encode(
            original, seq: 9, time: Timestamp(microseconds: 1_764_000_000_123_456), prevHash: AuditLog.genesis)
        let decoded = try #require(AuditRecord.decode(record.bytes))
        #expect(decoded.intact)
        let entry = decoded.entry
        #expect(entry.seq == 9 && entry.time.microseconds == 1_764_000_000_123_456 && entry.socket == .resolve)
        #expect(entry.peerUid == 1000 && entry.peerPid == 42 && entry.suppressed == 7)
        #expect(entry.method == "resolve" && entry.workspaceId == "ws4" && entry.provider == "fal")
        #expect(entry.connectionId == "conn_4" && entry.actor == nil && entry.outcome == "ok" && entry.source == "byo")
        #expect(entry.hash == Hex.encode(record.hash) && entry.prevHash == String(repeating: "0", count: 64))
        for index in record.bytes.indices {
            var changed = record.bytes
            changed[index] ^= 0x01
            // A change either makes the record unreadable or leaves it readable with a hash that does not match.
            #expect(AuditRecord.decode(changed)?.intact != true, "byte \(index) changed unnoticed")
        }
        for length in 0..<record.bytes.count {
            #expect(AuditRecord.decode(Array(record.bytes.prefix(length))) == nil)
        }
        #expect(AuditRecord.decode(record.bytes + [0]) == nil)
    }

    @Test("a chain that starts in the JSON format and goes on in the binary one verifies; a change in either is named")
    func mixedChain() throws {
        let directory = TemporaryDirectory()
        let database = try CredsDatabase(directory: directory.path)
        defer { database.close() }
        let log = database.auditLog
        // Two entries as credsd wrote them before the binary format: JSON, hashed over their sorted JSON.
        var prevHash = String(repeating: "0", count: 64)
        var legacy: [[UInt8]] = []
        for seq in 1...2 {
            var entry = AuditEntry(
                seq: UInt64(seq), time: Timestamp(microseconds: 1_700_000_000_000_000 + Int64(seq)), socket: .admin,
                peerUid: 0, peerPid: 1,
                method: "members.set", workspaceId: "ws1", provider: nil, connectionId: nil, actor: "alice",
                outcome: "ok", source: nil, suppressed: nil, prevHash: prevHash, hash: "")
            entry.hash = Hex.encode(Digest.sha256(entry.legacyHashedBytes))
            prevHash = entry.hash
            legacy.append(RecordCoding.encode(entry))
        }
        let head = RecordCoding.encode(LegacyAuditHead(seq: 2, hash: prevHash))
        try write(database) { [legacy] txn in
            for (index, bytes) in legacy.enumerated() {
                try txn.put(log.entries, AuditLog.key(UInt64(index + 1)), bytes)
            }
            try txn.put(log.meta, Array("audit.head".utf8), head)
        }
        let drafts = (3...6).map { draft($0) }
        try write(database) { txn in try log.append(txn, drafts) }

        let verdict = try database.environment.read { txn in try log.verify(txn) }
        #expect(verdict.checked == 6 && verdict.firstBroken == nil)
        let listed = try database.environment.read { txn in
            try log.list(txn, since: 0, limit: 10, workspaceId: nil)
        }
        #expect(listed.map(\.seq) == [1, 2, 3, 4, 5, 6])
        #expect(listed[2].prevHash == listed[1].hash)
        #expect(listed.map(\.method) == ["members.set", "members.set", "resolve", "resolve", "resolve", "resolve"])

        // A changed legacy entry, then a changed binary one, are each named.
        let first = legacy[1]
        var changedLegacy = first
        changedLegacy[changedLegacy.firstIndex(of: UInt8(ascii: "a"))!] = UInt8(ascii: "b")
        try write(database) { [changedLegacy] txn in try txn.put(log.entries, AuditLog.key(2), changedLegacy) }
        #expect(try database.environment.read { txn in try log.verify(txn) }.firstBroken == 2)
        try write(database) { txn in try txn.put(log.entries, AuditLog.key(2), first) }
        let binary = try #require(try database.environment.read { txn in try txn.get(log.entries, AuditLog.key(5)) })
        var changedBinary = binary
        changedBinary[20] ^= 0xFF
        try write(database) { [changedBinary] txn in try txn.put(log.entries, AuditLog.key(5), changedBinary) }
        #expect(try database.environment.read { txn in try log.verify(txn) }.firstBroken == 5)
    }

    @Test("records changed to extreme numbers (seq 2^64-1, time -2^63) are named by verify and list, never a crash")
    func extremeRecords() throws {
        let directory = TemporaryDirectory()
        let database = try CredsDatabase(directory: directory.path)
        defer { database.close() }
        let log = database.auditLog
        try write(database) { txn in try log.append(txn, (1...3).map { draft($0) }) }
        let forged = [
            AuditRecord.encode(draft(2), seq: UInt64.max, time: Timestamp(microseconds: 0), prevHash: AuditLog.genesis),
            AuditRecord.encode(draft(2), seq: 2, time: Timestamp(microseconds: Int64.min), prevHash: AuditLog.genesis),
        ]
        for record in forged {
            try write(database) { txn in try txn.put(log.entries, AuditLog.key(2), record.bytes) }
            #expect(try database.environment.read { txn in try log.verify(txn) }.firstBroken == 2)
            do {
                let listed = try database.environment.read { txn in
                    try log.list(txn, since: 0, limit: 10, workspaceId: nil)
                }
                // Readable (the time one): listed with its time shown, whatever it is.
                #expect(listed.count == 3)
                _ = listed.map(\.json)
            } catch let error as RPCError {
                #expect(error.reason == .integrityError)
                #expect(error.data["seq"] == 2)
            }
        }
    }
}

private final class ErrorBox: @unchecked Sendable {
    var error: (any Error)?
}
