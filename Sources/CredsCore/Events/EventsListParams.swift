import CredsProtocol

/// `events.list {since?, limit?, workspaceId?}`.
struct EventsListParams: MethodParams {
    let since: UInt64
    let limit: Int
    let workspaceId: Identifier?

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>?) throws(RPCError) {
        var since: Int64?
        var limit: Int64?
        var workspaceId: Identifier?
        try ParamsReader.read(bytes, range: range) { reader, name throws(RPCError) in
            switch name {
            case "since": since = try reader.int(name)
            case "limit": limit = try reader.int(name)
            case "workspaceId": workspaceId = try reader.identifier(name)
            default: return false
            }
            return true
        }
        guard (since ?? 0) >= 0 else { throw RPCError.invalidParams("since must be an event number, 0 or more") }
        guard (1...1000).contains(limit ?? 100) else { throw RPCError.invalidParams("limit must be from 1 to 1000") }
        self.since = UInt64(since ?? 0)
        self.limit = Int(limit ?? 100)
        self.workspaceId = workspaceId
    }

    var facts: CallFacts { CallFacts(workspaceId: workspaceId) }
}
