/// A stored execution grant; the store keeps only the SHA-256 of the bearer token.
public struct GrantRecord: Sendable, Codable {
    public let workspaceId: String
    /// Providers the grant is limited to; nil for every provider.
    public let providers: [String]?
    /// Microseconds since the epoch.
    public let createdAt: Int64
    public let expiresAt: Int64

    /// Whether the grant covers `provider` in `workspaceId`.
    public func covers(workspaceId: String, provider: String) -> Bool {
        self.workspaceId == workspaceId && (providers?.contains(provider) ?? true)
    }
}
