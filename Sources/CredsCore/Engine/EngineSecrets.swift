import CredsCrypto

/// What the engine decrypts with: the sealer over the key ring, and the platform's built-in keys.
struct EngineSecrets: Sendable {
    let sealer: Sealer
    let builtinKeys: [String: SecretBytes]
}
