/// `[resolve]`: whether resolves need a grant, and how early OAuth tokens are refreshed.
public struct ResolveConfig: Sendable, Equatable {
    public var requireGrant = true
    public var refreshWindowSeconds = 300

    public init() {}
}
