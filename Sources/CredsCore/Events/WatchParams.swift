import CredsProtocol

/// `watch {since?, workspaceId?, grant?}`: `grant` on the resolve socket only (it scopes the watch there; the
/// admin socket refuses it), `workspaceId` on both (on the resolve socket it must be the grant's).
struct WatchParams: MethodParams {
    let since: UInt64?
    let workspaceId: Identifier?
    let grant: String?

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
        self.since = since.map(UInt64.init)
        self.workspaceId = workspaceId
        self.grant = grant
    }

    var facts: CallFacts { CallFacts(workspaceId: workspaceId) }
}
