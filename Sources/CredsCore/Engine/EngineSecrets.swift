import CredsCrypto

/// What the engine decrypts with: the sealer over the key ring, and the platform's built-in keys; with the
/// warnings about the files they came from (`health.problems`), so the three change together.
struct EngineSecrets: Sendable {
    let sealer: Sealer
    /// The platform's keys by provider (SPEC 12 pools).
    let builtinKeys: [String: BuiltinPool]
    /// Secret files their group may read (SPEC 7), as `health` lists them.
    let fileWarnings: [String]
}
