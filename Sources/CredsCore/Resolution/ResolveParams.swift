import CredsProtocol

/// `resolve {workspaceId, provider, grant?, connectionId?, requiredScopes?}`.
struct ResolveParams: MethodParams {
    let workspaceId: Identifier
    let provider: Identifier
    /// The execution grant; checked before anything else the caller sent is used.
    let grant: String?
    let connectionId: Identifier?
    let requiredScopes: [String]

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>?) throws(RPCError) {
        var workspaceId: Identifier?
        var provider: Identifier?
        var grant: String?
        var connectionId: Identifier?
        var requiredScopes: [String]?
        try ParamsReader.read(bytes, range: range) { reader, name throws(RPCError) in
            switch name {
            case "workspaceId": workspaceId = try reader.identifier(name)
            case "provider": provider = try reader.identifier(name)
            case "grant": grant = try reader.string(name)
            case "connectionId": connectionId = try reader.identifier(name)
            case "requiredScopes": requiredScopes = try reader.strings(name)
            default: return false
            }
            return true
        }
        self.workspaceId = try ParamsReader.required(workspaceId, "workspaceId")
        self.provider = try ParamsReader.required(provider, "provider")
        self.grant = grant
        self.connectionId = connectionId
        self.requiredScopes = requiredScopes ?? []
    }

    var facts: CallFacts {
        CallFacts(workspaceId: workspaceId, provider: provider, connectionId: connectionId)
    }
}
