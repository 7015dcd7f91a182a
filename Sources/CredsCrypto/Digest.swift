internal import CSodium

/// SHA-256, used to store bearer tokens only as digests.
public enum Digest {
    /// SHA-256 of `bytes` (read in place when they are contiguous, as arrays and native strings' UTF-8 are).
    public static func sha256<Bytes: Collection>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        if let digest = bytes.withContiguousStorageIfAvailable({ sha256(UnsafeRawBufferPointer($0)) }) {
            return digest
        }
        return Array(bytes).withUnsafeBytes { sha256($0) }
    }

    /// SHA-256 of the bytes in `buffer`.
    public static func sha256(_ buffer: UnsafeRawBufferPointer) -> [UInt8] {
        Sodium.ensureInitialized()
        return [UInt8](unsafeUninitializedCapacity: Int(crypto_hash_sha256_BYTES)) { out, count in
            crypto_hash_sha256(
                out.baseAddress!, buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(buffer.count))
            count = Int(crypto_hash_sha256_BYTES)
        }
    }
}
