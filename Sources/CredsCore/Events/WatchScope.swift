public import CredsProtocol

/// Which events a `watch` sees (SPEC 11): on the admin socket every event, or one workspace's; on the resolve
/// socket those of the grant's workspace and providers, for as long as the grant is valid.
public struct WatchScope: Sendable {
    public let workspaceId: Identifier?
    /// The providers the grant covers; nil for every provider.
    public let providers: [Identifier]?
    /// A resolve-socket watch: the SHA-256 of its grant, checked again as events are delivered.
    public let grantDigest: [UInt8]?

    public init(workspaceId: Identifier?, providers: [Identifier]? = nil, grantDigest: [UInt8]? = nil) {
        self.workspaceId = workspaceId
        self.providers = providers
        self.grantDigest = grantDigest
    }

    func admits(_ event: EventRecord) -> Bool {
        if let workspaceId, event.workspaceId != workspaceId.text { return false }
        if let providers {
            // An event about no provider in particular is not about one the grant covers.
            guard let provider = event.provider, providers.contains(where: { $0.text == provider }) else {
                return false
            }
        }
        return true
    }
}

/// A `watch` call's answer asks the connection to stream events after `since` (nil: from now on) in `scope`.
public struct WatchSubscription: Sendable {
    public let scope: WatchScope
    public let since: UInt64?
}
