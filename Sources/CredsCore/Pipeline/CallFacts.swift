public import CredsProtocol

/// What a call was about, for its audit entry and the daemon's figures: typed values the method established,
/// never read back from its answer's JSON.
public struct CallFacts: Sendable, Equatable {
    public var workspaceId: Identifier?
    public var provider: Identifier?
    public var connectionId: Identifier?
    public var actor: Identifier?
    /// Which credential served a resolve.
    public var source: CredentialSource?

    public init(
        workspaceId: Identifier? = nil,
        provider: Identifier? = nil,
        connectionId: Identifier? = nil,
        actor: Identifier? = nil,
        source: CredentialSource? = nil
    ) {
        self.workspaceId = workspaceId
        self.provider = provider
        self.connectionId = connectionId
        self.actor = actor
        self.source = source
    }

    /// The facts of an untyped call: every param that is a valid identifier under its usual name.
    init(params: [String: JSONValue]) {
        func identifier(_ name: String) -> Identifier? {
            params[name]?.stringValue.flatMap(Identifier.init(validating:))
        }
        self.init(
            workspaceId: identifier("workspaceId"), provider: identifier("provider"),
            connectionId: identifier("connectionId"), actor: identifier("actor"))
    }

    /// These facts completed from an untyped answer (the connection a write touched, say). Typed methods return
    /// their facts instead.
    func completed(with result: JSONValue) -> CallFacts {
        var facts = self
        let connection = result["connection"]
        func identifier(_ value: JSONValue?) -> Identifier? { value?.stringValue.map(Identifier.init(stored:)) }
        facts.workspaceId =
            facts.workspaceId ?? identifier(connection?["workspaceId"]) ?? identifier(result["workspaceId"])
        facts.provider = facts.provider ?? identifier(connection?["provider"]) ?? identifier(result["provider"])
        facts.connectionId =
            identifier(connection?["id"]) ?? identifier(result["connectionId"]) ?? facts.connectionId
        facts.source = result["source"]?.stringValue.flatMap(CredentialSource.init(rawValue:))
        return facts
    }
}
