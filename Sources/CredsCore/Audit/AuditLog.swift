import CredsCrypto
import CredsProtocol
import CredsStore

/// The hash-chained audit trail in its own LMDB database, keyed by big-endian sequence number.
struct AuditLog: Sendable {
    /// The `prevHash` of the first entry.
    static let genesis = [UInt8](repeating: 0, count: AuditRecord.hashBytes)

    let entries: LMDBDatabase
    let meta: LMDBDatabase
    /// Entries kept; older ones are trimmed, and the oldest kept anchors verification.
    let maxEntries: UInt64

    static func key(_ seq: UInt64) -> [UInt8] {
        (0..<8).reversed().map { UInt8(truncatingIfNeeded: seq >> ($0 * 8)) }
    }

    static let headKey = Array("audit.head".utf8)

    /// Appends the drafts, in order, as the next links of the chain inside the caller's write transaction.
    ///
    /// The head is read and written once per call; each entry is one binary record hashed once (`AuditRecord`).
    func append(_ txn: borrowing Transaction, _ drafts: [AuditDraft]) throws {
        guard !drafts.isEmpty else { return }
        var seq: UInt64 = 0
        var prevHash = Self.genesis
        if let bytes = try txn.get(meta, Self.headKey), let head = AuditHead(stored: bytes) {
            seq = head.seq
            prevHash = head.hash
        }
        let time = Timestamp.now()
        for draft in drafts {
            seq += 1
            let record = AuditRecord.encode(draft, seq: seq, time: time, prevHash: prevHash)
            try txn.put(entries, Self.key(seq), record.bytes)
            if seq > maxEntries {
                try txn.delete(entries, Self.key(seq - maxEntries))
            }
            prevHash = record.hash
        }
        try txn.put(meta, Self.headKey, AuditHead(seq: seq, hash: prevHash).stored)
    }

    /// A stored entry of either format, and whether its hash covers it; nil when it is unreadable.
    static func decode(_ bytes: [UInt8]) -> (entry: AuditEntry, intact: Bool)? {
        if bytes.first == UInt8(ascii: "{") {
            guard let entry = try? RecordCoding.decode(AuditEntry.self, from: bytes) else { return nil }
            return (entry, Hex.encode(Digest.sha256(entry.legacyHashedBytes)) == entry.hash)
        }
        return AuditRecord.decode(bytes)
    }

    /// Entries after `since`, oldest first, at most `limit`, optionally of one workspace.
    func list(_ txn: borrowing Transaction, since: UInt64, limit: Int, workspaceId: Identifier?) throws -> [AuditEntry]
    {
        var found: [AuditEntry] = []
        try txn.scan(entries, from: Self.key(since &+ 1)) { key, value in
            guard let entry = Self.decode(value)?.entry else {
                // Not skipped: a list that quietly leaves an entry out would hide what was done to it.
                throw RPCError(
                    .integrityError,
                    "audit entry \(Self.seq(key)) is unreadable; audit.verify names the first broken one",
                    data: ["seq": .int(Int64(clamping: Self.seq(key)))])
            }
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
            guard let (entry, intact) = Self.decode(value) else {
                broken = Self.seq(key)
                return false
            }
            checked += 1
            let linked = previous.map { entry.prevHash == $0.hash && entry.seq == $0.seq &+ 1 } ?? true
            guard linked, intact, Self.seq(key) == entry.seq else {
                broken = entry.seq
                return false
            }
            previous = entry
            return true
        }
        if broken == nil, let previous, let bytes = try txn.get(meta, Self.headKey),
            let head = AuditHead(stored: bytes), head.seq != previous.seq || Hex.encode(head.hash) != previous.hash
        {
            broken = previous.seq
        }
        return (checked, broken)
    }

    private static func seq(_ key: [UInt8]) -> UInt64 {
        key.reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
    }
}

/// The newest entry's number and hash, kept beside the chain: 8 bytes of seq (big-endian) and the 32-byte hash.
/// Heads written before the binary records were JSON `{"seq":…,"hash":"<hex>"}`, still read.
struct AuditHead {
    let seq: UInt64
    let hash: [UInt8]

    init(seq: UInt64, hash: [UInt8]) {
        self.seq = seq
        self.hash = hash
    }

    init?(stored bytes: [UInt8]) {
        if bytes.first == UInt8(ascii: "{") {
            guard let legacy = try? RecordCoding.decode(LegacyAuditHead.self, from: bytes),
                let hash = Hex.decode(legacy.hash), hash.count == AuditRecord.hashBytes
            else { return nil }
            self.init(seq: legacy.seq, hash: hash)
            return
        }
        guard bytes.count == 8 + AuditRecord.hashBytes else { return nil }
        self.init(seq: bytes.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }, hash: Array(bytes.dropFirst(8)))
    }

    var stored: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + hash.count)
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: seq >> shift)) }
        bytes.append(contentsOf: hash)
        return bytes
    }
}

/// The JSON head of stores written before the binary audit records.
struct LegacyAuditHead: Codable {
    let seq: UInt64
    let hash: String
}
