import CredsCrypto
import CredsProtocol

/// A pending authorization, stored under the SHA-256 of its `state` until `oauth.complete` uses it once.
struct OAuthStateRecord: Sendable, Codable {
    let workspaceId: Identifier
    let provider: Identifier
    let connectionId: Identifier
    /// Who began the flow: removing them from the workspace cancels it. Nil in states stored before 0.x.
    let actor: Identifier?
    let redirectUri: String
    let scopes: [String]
    let expiresAt: Timestamp
    /// The PKCE verifier, sealed under the master key (Google only).
    let sealedVerifier: SealedValue?
    /// The connection's `authorizationVersion` when the flow began: a completion finds it unchanged or is refused
    /// (a revoke or re-authorization meanwhile, on any cluster host, wins). Nil in states stored before it was kept.
    var connectionVersion: UInt64?

    static func verifierAssociatedData(stateDigest: [UInt8]) -> [UInt8] {
        Array("credsd.oauth-state.v1\u{0}".utf8) + stateDigest
    }
}
