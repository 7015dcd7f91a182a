import CredsCrypto

/// Proof Key for Code Exchange (RFC 7636), S256 only.
public enum PKCE {
    /// The S256 challenge of a verifier: base64url of its SHA-256, no padding.
    public static func challenge(for verifier: String) -> String {
        Base64.encodeURLSafe(Digest.sha256(verifier.utf8))
    }
}
