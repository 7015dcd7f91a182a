import CredsProtocol

/// `watch {since?, workspaceId?}` (admin socket).
struct AdminWatchParams: MethodParams {
    let since: UInt64?
    let workspaceId: Identifier?

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>?) throws(RPCError) {
        var since: Int64?
        var workspaceId: Identifier?
        var grant: String?
        try ParamsReader.read(bytes, range: range) { reader, name throws(RPCError) in
            switch name {
            case "since": since = try reader.int(name)
            case "workspaceId": workspaceId = try reader.identifier(name)
            case "grant": grant = try reader.string(name)
            default: return false
            }
            return true
        }
        guard (since ?? 0) >= 0 else { throw RPCError.invalidParams("since must be an event number, 0 or more") }
        guard grant == nil else {
            throw RPCError.invalidParams(
                "grant scopes a watch on the resolve socket; the admin socket takes workspaceId")
        }
        self.since = since.map(UInt64.init)
        self.workspaceId = workspaceId
    }

    var facts: CallFacts { CallFacts(workspaceId: workspaceId) }
}

/// `watch {grant?, since?, workspaceId?}` (resolve socket; `workspaceId`, if given, must be the grant's).
struct ResolveWatchParams: MethodParams {
    let grant: String?
    let since: UInt64?
    let workspaceId: Identifier?

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>?) throws(RPCError) {
        var grant: String?
        var since: Int64?
        var workspaceId: Identifier?
        try ParamsReader.read(bytes, range: range) { reader, name throws(RPCError) in
            switch name {
            case "grant": grant = try reader.string(name)
            case "since": since = try reader.int(name)
            case "workspaceId": workspaceId = try reader.identifier(name)
            default: return false
            }
            return true
        }
        guard (since ?? 0) >= 0 else { throw RPCError.invalidParams("since must be an event number, 0 or more") }
        self.grant = grant
        self.since = since.map(UInt64.init)
        self.workspaceId = workspaceId
    }

    var facts: CallFacts { CallFacts() }
}
