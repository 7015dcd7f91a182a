import CredsCrypto
import CredsProtocol
import CredsStore

/// The hash-chained audit trail in its own LMDB database, keyed by big-endian sequence number.
struct AuditLog: Sendable {
    static let genesisHash = String(repeating: "0", count: 64)

    let entries: LMDBDatabase
    let meta: LMDBDatabase
    /// Entries kept; older ones are trimmed, and the oldest kept anchors verification.
    let maxEntries: UInt64

    static func key(_ seq: UInt64) -> [UInt8] {
        (0..<8).reversed().map { UInt8(truncatingIfNeeded: seq >> ($0 * 8)) }
    }

    private static let headKey = Array("audit.head".utf8)

    /// Appends the drafts, in order, as the next links of the chain inside the caller's write transaction.
    ///
    /// The head is read and written once per call, and each entry is stored as the same JSON its hash covers
    /// plus `hash` (what `JSONDecoder` reads back as an `AuditEntry`): `JSONEncoder` and `JSONDecoder` had been
    /// half of the writer's time under resolve load.
    func append(_ txn: borrowing Transaction, _ drafts: [AuditDraft]) throws {
        guard !drafts.isEmpty else { return }
        var seq: UInt64 = 0
        var prevHash = Self.genesisHash
        if let bytes = try txn.get(meta, Self.headKey),
            let head = try? RecordCoding.decode(AuditHead.self, from: bytes)
        {
            seq = head.seq
            prevHash = head.hash
        }
        for draft in drafts {
            seq += 1
            let entry = AuditEntry(
                seq: seq, time: Timestamp.now(), socket: draft.socket, peerUid: draft.peerUid, peerPid: draft.peerPid,
                method: draft.method, workspaceId: draft.workspaceId, provider: draft.provider,
                connectionId: draft.connectionId, actor: draft.actor, outcome: draft.outcome, source: draft.source,
                suppressed: draft.suppressed, prevHash: prevHash, hash: ""
            )
            var object = entry.hashedObject
            let hash = Hex.encode(Digest.sha256(AuditEntry.hashedBytes(prevHash: prevHash, object)))
            object["hash"] = .string(hash)
            try txn.put(entries, Self.key(seq), JSONValue.object(object).serialized())
            if seq > maxEntries {
                try txn.delete(entries, Self.key(seq - maxEntries))
            }
            prevHash = hash
        }
        try txn.put(meta, Self.headKey, RecordCoding.encode(AuditHead(seq: seq, hash: prevHash)))
    }

    /// Entries after `since`, oldest first, at most `limit`, optionally of one workspace.
    func list(_ txn: borrowing Transaction, since: UInt64, limit: Int, workspaceId: Identifier?) throws -> [AuditEntry]
    {
        var found: [AuditEntry] = []
        try txn.scan(entries, from: Self.key(since &+ 1)) { _, value in
            let entry = try RecordCoding.decode(AuditEntry.self, from: value)
            if workspaceId == nil || entry.workspaceId.map(Identifier.init(stored:)) == workspaceId {
                found.append(entry)
            }
            return found.count < limit
        }
        return found
    }

    /// Walks the kept chain from its oldest entry; the first entry whose hash, link or number is wrong.
    func verify(_ txn: borrowing Transaction) throws -> (checked: Int, firstBroken: UInt64?) {
        var checked = 0
        var previous: AuditEntry?
        var broken: UInt64?
        try txn.scan(entries, from: []) { key, value in
            guard let entry = try? RecordCoding.decode(AuditEntry.self, from: value) else {
                broken = Self.seq(key)
                return false
            }
            checked += 1
            let linked = previous.map { entry.prevHash == $0.hash && entry.seq == $0.seq + 1 } ?? true
            let intact = Hex.encode(Digest.sha256(entry.hashedBytes)) == entry.hash && Self.seq(key) == entry.seq
            guard linked, intact else {
                broken = entry.seq
                return false
            }
            previous = entry
            return true
        }
        if broken == nil, let previous, let bytes = try txn.get(meta, Self.headKey),
            let head = try? RecordCoding.decode(AuditHead.self, from: bytes),
            head.seq != previous.seq || head.hash != previous.hash
        {
            broken = previous.seq
        }
        return (checked, broken)
    }

    private static func seq(_ key: [UInt8]) -> UInt64 {
        key.reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
    }
}

/// The newest entry's number and hash, kept beside the chain.
struct AuditHead: Codable {
    let seq: UInt64
    let hash: String
}
