import CredsCrypto
import _CryptoExtras

/// A GitHub App's private key, and the RS256 JWTs it signs to ask for installation tokens.
public struct GitHubAppKey: Sendable {
    private let key: _RSA.Signing.PrivateKey

    /// Reads a PEM key (PKCS#1 or PKCS#8, 2048 bits or more).
    public init(pem: String) throws {
        key = try _RSA.Signing.PrivateKey(pemRepresentation: pem)
    }

    /// A JWT for the GitHub API: `iat` 60 s in the past, `exp` 9 minutes ahead, `iss` the app id.
    public func jwt(appId: String, now: Int64) throws -> String {
        let header = Base64.encodeURLSafe(Array(#"{"alg":"RS256","typ":"JWT"}"#.utf8))
        let issuer = Int64(appId).map { String($0) } ?? "\"\(appId)\""
        let claims = "{\"iat\":\(now - 60),\"exp\":\(now + 540),\"iss\":\(issuer)}"
        let signingInput = header + "." + Base64.encodeURLSafe(Array(claims.utf8))
        // RS256: swift-crypto hashes the input with SHA-256 itself.
        let signature = try key.signature(for: Array(signingInput.utf8), padding: .insecurePKCS1v1_5)
        return signingInput + "." + Base64.encodeURLSafe(Array(signature.rawRepresentation))
    }
}
