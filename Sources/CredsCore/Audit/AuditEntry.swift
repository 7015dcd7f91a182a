public import CredsProtocol

/// One audit record. It names who did what to which connection and how it ended; never a secret.
public struct AuditEntry: Sendable, Codable, Equatable {
    public var seq: UInt64
    public var time: Timestamp
    public var socket: SocketKind
    public var peerUid: UInt32?
    public var peerPid: Int32?
    public var method: String
    public var workspaceId: String?
    public var provider: String?
    public var connectionId: String?
    public var actor: String?
    /// `ok` or the error reason.
    public var outcome: String
    /// `byo` or `built_in`, for resolves.
    public var source: String?
    /// How many refused requests of this peer uid were left out in one second (a summary entry only).
    public var suppressed: Int64?
    /// Hex SHA-256 of the previous entry (64 zeros for the first).
    public var prevHash: String
    /// Hex SHA-256 over `prevHash` and this entry's other fields.
    public var hash: String

    /// The entry as `audit.list` shows it.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "seq": .int(Int64(clamping: seq)), "time": .string(time.rfc3339), "socket": .string(socket.rawValue),
            "method": .string(method), "outcome": .string(outcome), "prevHash": .string(prevHash),
            "hash": .string(hash),
        ]
        object["peerUid"] = peerUid.map { .int(Int64($0)) } ?? .null
        object["peerPid"] = peerPid.map { .int(Int64($0)) } ?? .null
        object["workspaceId"] = workspaceId.map { .string($0) } ?? .null
        object["provider"] = provider.map { .string($0) } ?? .null
        object["connectionId"] = connectionId.map { .string($0) } ?? .null
        object["actor"] = actor.map { .string($0) } ?? .null
        object["source"] = source.map { .string($0) } ?? .null
        // Only in summary entries, so the hashes of every other entry are what they always were.
        if let suppressed { object["suppressed"] = .int(suppressed) }
        return .object(object)
    }

    /// What the hash of an entry written before the binary format covers: `prevHash`, a newline, and the
    /// entry's JSON without `hash` (members sorted, `time` in microseconds).
    var legacyHashedBytes: [UInt8] {
        var object = json.objectValue ?? [:]
        object.removeValue(forKey: "hash")
        object["time"] = .int(time.microseconds)
        return Array((prevHash + "\n").utf8) + JSONValue.object(object).serialized()
    }
}
