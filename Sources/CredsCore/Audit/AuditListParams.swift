import CredsProtocol

/// `audit.list {since?, limit?, workspaceId?, hostId?}` (`hostId`: cluster mode, SPEC 10).
struct AuditListParams: MethodParams {
    let since: UInt64
    let limit: Int
    let workspaceId: Identifier?
    let hostId: Identifier?

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>?) throws(RPCError) {
        var since: Int64?
        var limit: Int64?
        var workspaceId: Identifier?
        var hostId: Identifier?
        try ParamsReader.read(bytes, range: range) { reader, name throws(RPCError) in
            switch name {
            case "since": since = try reader.int(name)
            case "limit": limit = try reader.int(name)
            case "workspaceId": workspaceId = try reader.identifier(name)
            case "hostId": hostId = try reader.identifier(name)
            default: return false
            }
            return true
        }
        (self.since, self.limit) = try ListWindow.checked(since: since, limit: limit, numbers: "a sequence number")
        self.workspaceId = workspaceId
        self.hostId = hostId
    }

    var facts: CallFacts { CallFacts(workspaceId: workspaceId) }
}
