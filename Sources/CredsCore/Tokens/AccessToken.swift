import CredsCrypto
import CredsProtocol

/// An access token ready to answer, with what `resolve` reports beside it.
struct AccessToken: Sendable {
    let token: SecretBytes
    let tokenType: String
    let expiresAt: Timestamp?
    let scopes: [String]

    var tokenText: String { token.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }
}
