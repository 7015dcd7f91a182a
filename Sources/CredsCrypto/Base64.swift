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

    /// Decodes standard base64 (padding optional) into guarded memory; nil when it is not base64.
    public static func decodeSecret<Bytes: Collection>(_ text: Bytes) -> SecretBytes? where Bytes.Element == UInt8 {
        Sodium.ensureInitialized()
        let input = Array(text)
        guard !input.isEmpty else { return nil }
        var length = 0
        var status: Int32 = -1
        let decoded = input.withUnsafeBytes { raw in
            SecretBytes(count: input.count, storage: .transient) { out in
                status = sodium_base642bin(
                    out.baseAddress!.assumingMemoryBound(to: UInt8.self), out.count,
                    raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count, nil, &length, nil,
                    sodium_base64_VARIANT_ORIGINAL
                )
                if status != 0 {
                    status = sodium_base642bin(
                        out.baseAddress!.assumingMemoryBound(to: UInt8.self), out.count,
                        raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count, nil, &length, nil,
                        sodium_base64_VARIANT_ORIGINAL_NO_PADDING
                    )
                }
            }
        }
        guard status == 0, length > 0 else { return nil }
        return decoded.withUnsafeBytes { SecretBytes(copying: $0.prefix(length), storage: .transient) }
    }

    /// Decodes URL-safe base64 without padding (RFC 4648 section 5, as JWTs use it); nil when it is not that.
    public static func decodeURLSafe(_ text: String) -> [UInt8]? {
        Sodium.ensureInitialized()
        let input = Array(text.utf8)
        var out = [UInt8](repeating: 0, count: input.count)
        var length = 0
        let status = input.withUnsafeBytes { raw in
            sodium_base642bin(
                &out, out.count, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count, nil, &length, nil,
                sodium_base64_VARIANT_URLSAFE_NO_PADDING
            )
        }
        guard status == 0 else { return nil }
        return Array(out.prefix(length))
    }

    /// Decodes standard base64 (padding optional) of public data; nil when it is not base64.
    public static func decode(_ text: String) -> [UInt8]? {
        decodeSecret(text.utf8).map { secret in secret.withUnsafeBytes { Array($0) } }
    }

    private static func encode(_ bytes: UnsafeRawBufferPointer, variant: Int32) -> String {
        Sodium.ensureInitialized()
        let length = sodium_base64_encoded_len(bytes.count, variant)
        var out = [CChar](repeating: 0, count: length)
        _ = sodium_bin2base64(
            &out, length, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, variant)
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
