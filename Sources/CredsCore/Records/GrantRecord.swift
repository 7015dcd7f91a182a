public import CredsProtocol

/// A stored execution grant; the store keeps only the SHA-256 of the bearer token.
public struct GrantRecord: Sendable, Codable {
    public let workspaceId: Identifier
    /// Providers the grant is limited to; nil for every provider.
    public let providers: [Identifier]?
    /// Microseconds since the epoch.
    public let createdAt: Int64
    public let expiresAt: Int64

    /// Whether the grant covers `provider` in `workspaceId`.
    public func covers(workspaceId: Identifier, provider: Identifier) -> Bool {
        self.workspaceId == workspaceId && (providers?.contains(provider) ?? true)
    }
}
