import Foundation
public import CredsProtocol

/// The providers credsd knows, read from the data file shipped in the package.
public struct ProviderCatalog: Sendable {
    public let providers: [Provider]
    private let byId: [String: Provider]

    public init(providers: [Provider]) {
        self.providers = providers
        self.byId = Dictionary(providers.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The catalog in `Sources/CredsCatalog/providers.json`.
    public static let bundled: ProviderCatalog = {
        struct File: Decodable { let providers: [Provider] }
        guard let url = Bundle.module.url(forResource: "providers", withExtension: "json"),
            let data = try? Data(contentsOf: url),
            let file = try? JSONDecoder().decode(File.self, from: data)
        else {
            fatalError("the provider catalog providers.json is missing or malformed")
        }
        return ProviderCatalog(providers: file.providers)
    }()

    /// The provider with this id, if any.
    public func provider(_ id: String) -> Provider? {
        byId[id]
    }

    /// The provider with this id, if any. A checked id is ASCII, so the dictionary's String equality is byte equality.
    public func provider(_ id: Identifier) -> Provider? {
        byId[id.text]
    }

    /// `connectableProvider` for a checked id.
    public func connectableProvider(_ id: Identifier) throws(RPCError) -> Provider {
        try connectableProvider(id.text)
    }

    /// The provider, refused with `unknown_provider` or `provider_not_connectable` as the contract says.
    public func connectableProvider(_ id: String) throws(RPCError) -> Provider {
        guard let provider = byId[id] else {
            throw RPCError(.unknownProvider, "unknown provider", data: ["provider": .string(id)])
        }
        guard provider.isConnectable else {
            throw RPCError(
                .providerNotConnectable,
                "\(provider.displayName) cannot be connected through credsd",
                data: ["provider": .string(id)]
            )
        }
        return provider
    }
}
