import CredsCatalog
import CredsProtocol

extension ProviderCatalog {
    /// A provider with a routing policy, platform keys and budgets: connectable, and API-key (`policy.*`,
    /// `budgets.*`).
    func apiKeyProvider(_ id: Identifier) throws(RPCError) -> Provider {
        let provider = try connectableProvider(id)
        guard provider.mode == .service else {
            throw RPCError(
                .invalidParams,
                "\(provider.displayName) is an OAuth provider: it has no routing policy, platform keys or budget",
                data: ["provider": id.json]
            )
        }
        return provider
    }
}
