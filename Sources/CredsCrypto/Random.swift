internal import CSodium

/// Cryptographically secure random values from libsodium.
public enum Random {
    /// `count` random bytes.
    public static func bytes(_ count: Int) -> [UInt8] {
        Sodium.ensureInitialized()
        var bytes = [UInt8](repeating: 0, count: count)
        randombytes_buf(&bytes, count)
        return bytes
    }

    /// A random token: `prefix` and base64url (no padding) of `byteCount` random bytes.
    public static func token(prefix: String, byteCount: Int) -> String {
        prefix + Base64.encodeURLSafe(bytes(byteCount))
    }
}
