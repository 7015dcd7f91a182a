public import CredsProtocol

/// A stored execution grant; the store keeps only the SHA-256 of the bearer token.
public struct GrantRecord: Sendable, Codable {
    public let workspaceId: Identifier
    /// Providers the grant is limited to; nil for every provider.
    public let providers: [Identifier]?
    public let createdAt: Timestamp
    public let expiresAt: Timestamp

    /// Whether the grant covers `provider` in `workspaceId`.
    public func covers(workspaceId: Identifier, provider: Identifier) -> Bool {
        self.workspaceId == workspaceId && (providers?.contains(provider) ?? true)
    }
}
