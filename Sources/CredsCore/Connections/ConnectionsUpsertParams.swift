import CredsProtocol

/// `connections.upsert {workspaceId, provider, displayName, credentialPayload, connectionId?, actor}`.
struct ConnectionsUpsertParams: MethodParams {
    let workspaceId: Identifier
    let provider: Identifier
    let displayName: String
    /// The credential's fields, checked against the catalog by the service.
    let credentialPayload: [String: JSONValue]
    let connectionId: Identifier?
    let actor: Identifier

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>?) throws(RPCError) {
        var workspaceId: Identifier?
        var provider: Identifier?
        var displayName: String?
        var credentialPayload: [String: JSONValue]?
        var connectionId: Identifier?
        var actor: Identifier?
        try ParamsReader.read(bytes, range: range) { reader, name throws(RPCError) in
            switch name {
            case "workspaceId": workspaceId = try reader.identifier(name)
            case "provider": provider = try reader.identifier(name)
            case "displayName": displayName = try reader.string(name)
            case "credentialPayload": credentialPayload = try reader.object(name)
            case "connectionId": connectionId = try reader.identifier(name)
            case "actor": actor = try reader.identifier(name)
            default: return false
            }
            return true
        }
        self.workspaceId = try ParamsReader.required(workspaceId, "workspaceId")
        self.provider = try ParamsReader.required(provider, "provider")
        self.displayName = try ParamsReader.required(displayName, "displayName")
        self.credentialPayload = try ParamsReader.required(credentialPayload, "credentialPayload")
        self.connectionId = connectionId
        self.actor = try ParamsReader.required(actor, "actor")
        try DisplayName.check(self.displayName)
    }

    var facts: CallFacts {
        CallFacts(workspaceId: workspaceId, provider: provider, connectionId: connectionId, actor: actor)
    }
}
