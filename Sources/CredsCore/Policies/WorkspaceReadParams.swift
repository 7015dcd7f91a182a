import CredsProtocol

/// A read of a workspace's records by an actor, optionally of one provider: `policy.get`, `connections.list`.
struct WorkspaceReadParams: MethodParams {
    let workspaceId: Identifier
    let provider: Identifier?
    let actor: Identifier

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>?) throws(RPCError) {
        var workspaceId: Identifier?
        var provider: Identifier?
        var actor: Identifier?
        try ParamsReader.read(bytes, range: range) { reader, name throws(RPCError) in
            switch name {
            case "workspaceId": workspaceId = try reader.identifier(name)
            case "provider": provider = try reader.identifier(name)
            case "actor": actor = try reader.identifier(name)
            default: return false
            }
            return true
        }
        self.workspaceId = try ParamsReader.required(workspaceId, "workspaceId")
        self.provider = provider
        self.actor = try ParamsReader.required(actor, "actor")
    }

    var facts: CallFacts { CallFacts(workspaceId: workspaceId, provider: provider, actor: actor) }
}
