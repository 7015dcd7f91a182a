public import CredsProtocol

/// One provider of the catalog (`providers.json`).
public struct Provider: Sendable, Codable, Hashable {
    /// How a provider's connections hold their credential.
    public enum Mode: String, Sendable, Codable {
        /// An API key the workspace pastes in.
        case service
        /// Tokens from an OAuth flow.
        case oauthUser = "oauth-user"
        /// Listed for completeness, but nothing can be connected.
        case none
    }

    /// A field of the credential payload.
    public struct Field: Sendable, Codable, Hashable {
        public let name: String
        public let required: Bool
        /// Whether `resolve` returns it in `credential` (a webhook secret is used inside credsd only).
        public let exposed: Bool
        /// Regular expression of the provider's known key format; a mismatch is a warning, not an error.
        public let knownShape: String?
        /// The known format in words, for the warning.
        public let knownShapeText: String?
        /// `string` (the default), `strings` (an array of strings) or `time` (RFC 3339).
        public let type: String?

        /// The value's kind, `string` when the catalog says nothing.
        public var kind: String { type ?? "string" }
    }

    /// A header `resolve` returns; `{field}` in the template is replaced by that credential field.
    public struct Header: Sendable, Codable, Hashable {
        public let name: String
        public let template: String
    }

    public let id: String
    public let displayName: String
    public let mode: Mode
    /// Whether the platform may hold a built-in key for it.
    public let builtIn: Bool
    public let fields: [Field]
    public let headers: [Header]
    /// Whether `connections.upsert` may import tokens obtained elsewhere (OAuth providers).
    public let importable: Bool?
    /// How `connections.test` checks a key with the provider; nil when it cannot.
    public let probe: Probe?

    /// Whether connections, policies and resolves are possible at all.
    public var isConnectable: Bool { mode != .none }
}

extension Provider {
    /// The provider's id as an identifier (catalog ids are ASCII).
    public var identifier: Identifier { Identifier(stored: id) }
}
