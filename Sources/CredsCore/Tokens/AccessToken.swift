import CredsCrypto

/// An access token ready to answer, with what `resolve` reports beside it.
struct AccessToken: Sendable {
    let token: SecretBytes
    let tokenType: String
    /// Microseconds since the epoch.
    let expiresAt: Int64?
    let scopes: [String]

    var tokenText: String { token.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }
}
