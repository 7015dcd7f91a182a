import CredsProtocol

/// `oauth.begin {workspaceId, provider, displayName, redirectUri, scopes?, connectionId?, actor}`.
struct OAuthBeginParams: MethodParams {
    let workspaceId: Identifier
    let provider: Identifier
    let displayName: String
    let redirectUri: String
    let scopes: [String]?
    /// A connection to authorize again; nil makes a new one.
    let connectionId: Identifier?
    let actor: Identifier

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>?) throws(RPCError) {
        var workspaceId: Identifier?
        var provider: Identifier?
        var displayName: String?
        var redirectUri: String?
        var scopes: [String]?
        var connectionId: Identifier?
        var actor: Identifier?
        try ParamsReader.read(bytes, range: range) { reader, name throws(RPCError) in
            switch name {
            case "workspaceId": workspaceId = try reader.identifier(name)
            case "provider": provider = try reader.identifier(name)
            case "displayName": displayName = try reader.string(name)
            case "redirectUri": redirectUri = try reader.string(name)
            case "scopes": scopes = try reader.strings(name)
            case "connectionId": connectionId = try reader.identifier(name)
            case "actor": actor = try reader.identifier(name)
            default: return false
            }
            return true
        }
        self.workspaceId = try ParamsReader.required(workspaceId, "workspaceId")
        self.provider = try ParamsReader.required(provider, "provider")
        self.displayName = try ParamsReader.required(displayName, "displayName")
        self.redirectUri = try ParamsReader.required(redirectUri, "redirectUri")
        self.scopes = scopes
        self.connectionId = connectionId
        self.actor = try ParamsReader.required(actor, "actor")
        try DisplayName.check(self.displayName)
        guard self.redirectUri.hasPrefix("https://") || self.redirectUri.hasPrefix("http://") else {
            throw RPCError.invalidParams("redirectUri must be an http or https URL")
        }
    }

    var facts: CallFacts {
        CallFacts(workspaceId: workspaceId, provider: provider, connectionId: connectionId, actor: actor)
    }
}
