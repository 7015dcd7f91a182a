internal import CSodium

/// Base64 through libsodium, so that key material never passes through a Swift `String` on the way in.
public enum Base64 {
    /// Standard base64 with padding.
    public static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        encode(bytes, variant: sodium_base64_VARIANT_ORIGINAL)
    }

    /// URL-safe base64 without padding.
    public static func encodeURLSafe(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { encode($0, variant: sodium_base64_VARIANT_URLSAFE_NO_PADDING) }
    }

    private static func encode(_ bytes: UnsafeRawBufferPointer, variant: Int32) -> String {
        Sodium.ensureInitialized()
        let length = sodium_base64_encoded_len(bytes.count, variant)
        var out = [CChar](repeating: 0, count: length)
        _ = sodium_bin2base64(&out, length, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, variant)
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
