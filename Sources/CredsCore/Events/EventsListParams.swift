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
        (self.since, self.limit) = try ListWindow.checked(since: since, limit: limit, numbers: "an event number")
        self.workspaceId = workspaceId
    }

    var facts: CallFacts { CallFacts(workspaceId: workspaceId) }
}
