internal import CSodium

/// SHA-256, used to store bearer tokens only as digests.
public enum Digest {
    /// SHA-256 of `bytes`.
    public static func sha256<Bytes: Collection>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        Sodium.ensureInitialized()
        let input = Array(bytes)
        var out = [UInt8](repeating: 0, count: Int(crypto_hash_sha256_BYTES))
        crypto_hash_sha256(&out, input, UInt64(input.count))
        return out
    }
}
