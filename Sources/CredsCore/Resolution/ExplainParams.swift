import CredsProtocol

/// `explain {workspaceId, provider, connectionId?, actor}`.
struct ExplainParams: MethodParams {
    let workspaceId: Identifier
    let provider: Identifier
    let connectionId: Identifier?
    let actor: Identifier

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>?) throws(RPCError) {
        var workspaceId: Identifier?
        var provider: Identifier?
        var connectionId: Identifier?
        var actor: Identifier?
        try ParamsReader.read(bytes, range: range) { reader, name throws(RPCError) in
            switch name {
            case "workspaceId": workspaceId = try reader.identifier(name)
            case "provider": provider = try reader.identifier(name)
            case "connectionId": connectionId = try reader.identifier(name)
            case "actor": actor = try reader.identifier(name)
            default: return false
            }
            return true
        }
        self.workspaceId = try ParamsReader.required(workspaceId, "workspaceId")
        self.provider = try ParamsReader.required(provider, "provider")
        self.connectionId = connectionId
        self.actor = try ParamsReader.required(actor, "actor")
    }

    var facts: CallFacts {
        CallFacts(workspaceId: workspaceId, provider: provider, connectionId: connectionId, actor: actor)
    }
}
