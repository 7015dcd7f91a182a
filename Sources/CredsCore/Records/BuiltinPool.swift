public import CredsCrypto

/// A provider's platform keys (SPEC 12): taken in turn, each named by a stable, non-secret id.
public struct BuiltinPool: Sendable {
    /// One key and its id: `bk_` and 16 hex digits of a BLAKE2b digest of the key, keyed with the active master key
    /// (so holding the key does not tell its id, and the id does not tell the key). Without a master key the digest
    /// is unkeyed. The id changes when the active master key does; cooldowns follow it, budgets do not depend on it.
    public struct Key: Sendable {
        public let id: String
        public let secret: SecretBytes
    }

    public let keys: [Key]

    public init(_ secrets: [SecretBytes], keyRing: KeyRing) {
        keys = secrets.map { secret in
            let digest =
                keyRing.active?.name(of: secret, context: Self.idContext)
                ?? MasterKey.unkeyedName(of: secret, context: Self.idContext)
            return Key(id: "bk_" + Hex.encode(digest), secret: secret)
        }
    }

    static let idContext = "credsd builtin key id v1"

    public var ids: [String] { keys.map(\.id) }
}
