public import CredsProtocol

/// One event of the outbox (SPEC 11): what happened to which connection or policy, never a secret. `reason` is a
/// stable word for programs; `detail` a sentence for people.
public struct EventRecord: Sendable, Codable, Equatable {
    public var seq: UInt64
    public var time: Timestamp
    public var type: EventType
    public var workspaceId: String
    public var provider: String?
    public var connectionId: String?
    public var from: String?
    public var to: String?
    public var reason: String
    public var detail: String?
    /// False for an event of a change another cluster host made (that host delivers it by webhook); nil (this
    /// host's) otherwise. Not shown.
    public var local: Bool?

    /// Whether this host made the change (and delivers the event by webhook).
    public var isLocal: Bool { local ?? true }

    /// The event as `events.list` and `watch` show it.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "seq": .int(Int64(clamping: seq)), "time": .string(time.rfc3339), "type": .string(type.rawValue),
            "workspaceId": .string(workspaceId), "reason": .string(reason),
        ]
        object["provider"] = provider.map { .string($0) } ?? .null
        object["connectionId"] = connectionId.map { .string($0) } ?? .null
        if let from { object["from"] = .string(from) }
        if let to { object["to"] = .string(to) }
        object["detail"] = detail.map { .string($0) } ?? .null
        return .object(object)
    }
}
