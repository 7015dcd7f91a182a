import CredsCrypto
import CredsProtocol

/// The stored form of an audit entry: a compact binary record, hashed once as it is written.
///
/// Layout (integers big-endian; documented in `proto/methods.md` for verifiers outside credsd):
///
///     version   UInt8 = 1
///     seq       UInt64
///     time      Int64, microseconds since the epoch
///     socket    UInt8: 0 resolve, 1 admin
///     present   UInt8: bit 0 peerUid, bit 1 peerPid, bit 2 suppressed
///     peerUid   UInt32 (if present)     peerPid  Int32 (if present)     suppressed  Int64 (if present)
///     7 texts   method, workspaceId, provider, connectionId, actor, outcome, source:
///               each a UInt32 byte count (0xFFFFFFFF: absent) and its UTF-8 bytes
///     prevHash  32 bytes
///     hash      32 bytes: SHA-256 of every byte before it
///
/// Entries written before this format are JSON objects (they start with `{`) and keep their JSON hash.
enum AuditRecord {
    static let version: UInt8 = 1
    static let hashBytes = 32
    private static let absent = UInt32.max

    /// The record of `draft` as entry `seq` after `prevHash`: its bytes (hash included) and its hash.
    static func encode(
        _ draft: AuditDraft,
        seq: UInt64,
        time: Timestamp,
        prevHash: [UInt8]
    ) -> (bytes: [UInt8], hash: [UInt8]) {
        var out: [UInt8] = []
        out.reserveCapacity(160)
        out.append(version)
        append(seq, to: &out)
        append(UInt64(bitPattern: time.microseconds), to: &out)
        out.append(draft.socket == .resolve ? 0 : 1)
        var present: UInt8 = 0
        if draft.peerUid != nil { present |= 1 }
        if draft.peerPid != nil { present |= 2 }
        if draft.suppressed != nil { present |= 4 }
        out.append(present)
        if let peerUid = draft.peerUid { append(peerUid, to: &out) }
        if let peerPid = draft.peerPid { append(UInt32(bitPattern: peerPid), to: &out) }
        if let suppressed = draft.suppressed { append(UInt64(bitPattern: suppressed), to: &out) }
        let facts = draft.facts
        append(draft.method, to: &out)
        append(facts.workspaceId?.text, to: &out)
        append(facts.provider?.text, to: &out)
        append(facts.connectionId?.text, to: &out)
        append(facts.actor?.text, to: &out)
        append(draft.outcome, to: &out)
        append(facts.source?.rawValue, to: &out)
        out.append(contentsOf: prevHash)
        let hash = Digest.sha256(out)
        out.append(contentsOf: hash)
        return (out, hash)
    }

    /// Reads a stored record. Nil when it is not a well-formed record of this format (a changed one, say);
    /// `intact` says whether its hash covers its bytes.
    static func decode(_ bytes: [UInt8]) -> (entry: AuditEntry, intact: Bool)? {
        var reader = Reader(bytes: bytes)
        guard reader.byte() == version, let seq = reader.uint64(), seq <= UInt64(Int64.max), let time = reader.uint64(),
            let socketByte = reader.byte(), socketByte <= 1, let present = reader.byte(), present < 8
        else { return nil }
        var peerUid: UInt32?
        var peerPid: Int32?
        var suppressed: Int64?
        if present & 1 != 0 {
            guard let value = reader.uint32() else { return nil }
            peerUid = value
        }
        if present & 2 != 0 {
            guard let value = reader.uint32() else { return nil }
            peerPid = Int32(bitPattern: value)
        }
        if present & 4 != 0 {
            guard let value = reader.uint64() else { return nil }
            suppressed = Int64(bitPattern: value)
        }
        var texts: [String?] = []
        for _ in 0..<7 {
            guard let text = reader.text() else { return nil }
            texts.append(text)
        }
        guard let method = texts[0], let outcome = texts[5], let prevHash = reader.bytes(hashBytes),
            let hash = reader.bytes(hashBytes), reader.atEnd
        else { return nil }
        let entry = AuditEntry(
            seq: seq, time: Timestamp(microseconds: Int64(bitPattern: time)),
            socket: socketByte == 0 ? .resolve : .admin, peerUid: peerUid,
            peerPid: peerPid, method: method, workspaceId: texts[1], provider: texts[2], connectionId: texts[3],
            actor: texts[4], outcome: outcome, source: texts[6], suppressed: suppressed,
            prevHash: Hex.encode(prevHash), hash: Hex.encode(hash)
        )
        let intact = Digest.sha256(bytes[..<(bytes.count - hashBytes)]) == hash
        return (entry, intact)
    }

    private static func append(_ value: UInt64, to out: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: value >> shift)) }
    }

    private static func append(_ value: UInt32, to out: inout [UInt8]) {
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: value >> shift)) }
    }

    private static func append(_ text: String?, to out: inout [UInt8]) {
        guard let text else {
            append(absent, to: &out)
            return
        }
        let utf8 = text.utf8
        append(UInt32(truncatingIfNeeded: min(utf8.count, Int(absent - 1))), to: &out)
        out.append(contentsOf: utf8.prefix(Int(absent - 1)))
    }

    /// Bounds-checked reads over a stored record (which may have been changed by anyone with the files).
    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        var atEnd: Bool { index == bytes.count }

        mutating func byte() -> UInt8? {
            guard index < bytes.count else { return nil }
            defer { index += 1 }
            return bytes[index]
        }

        mutating func bytes(_ count: Int) -> [UInt8]? {
            guard count <= bytes.count - index else { return nil }
            defer { index += count }
            return Array(bytes[index..<(index + count)])
        }

        mutating func uint64() -> UInt64? {
            guard let raw = bytes(8) else { return nil }
            return raw.reduce(0) { $0 << 8 | UInt64($1) }
        }

        mutating func uint32() -> UInt32? {
            guard let raw = bytes(4) else { return nil }
            return raw.reduce(0) { $0 << 8 | UInt32($1) }
        }

        /// A text field: `.some(nil)` when the field is absent, nil when the record is malformed.
        mutating func text() -> String?? {
            guard let count = uint32() else { return nil }
            if count == AuditRecord.absent { return .some(nil) }
            guard let raw = bytes(Int(count)), let text = String(validating: raw, as: UTF8.self) else { return nil }
            return .some(text)
        }
    }
}
