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
}
