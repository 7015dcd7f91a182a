internal import CSodium

/// A 32-byte master key held in guarded, read-only memory, and the public id derived from it.
public struct MasterKey: Sendable, CustomStringConvertible {
    /// Length of a master key in bytes.
    public static let byteCount = Int(crypto_aead_xchacha20poly1305_ietf_KEYBYTES)

    /// Stable, non-secret id: `k_` and 16 hex digits of a keyed BLAKE2b digest of the key.
    public let id: String
    let material: SecretBytes

    /// Reads a key from its textual form: base64 of exactly 32 bytes (white space already trimmed).
    public init(base64Text text: SecretBytes) throws(KeyFileError) {
        Sodium.ensureInitialized()
        var decodedLength = 0
        var status: Int32 = -1
        let decoded = text.withUnsafeBytes { input in
            SecretBytes(count: Self.byteCount + 1) { buffer in
                status = sodium_base642bin(
                    buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), buffer.count,
                    input.baseAddress?.assumingMemoryBound(to: CChar.self), input.count, nil, &decodedLength, nil,
                    sodium_base64_VARIANT_ORIGINAL
                )
            }
        }
        guard status == 0 else { throw .notBase64 }
        guard decodedLength == Self.byteCount else { throw .wrongLength(decodedLength) }
        let exact = decoded.withUnsafeBytes { SecretBytes(copying: $0.prefix(Self.byteCount)) }
        self.init(material: exact)
    }

    /// Wraps key material already in guarded memory.
    public init(material: SecretBytes) {
        precondition(material.count == Self.byteCount, "a master key is 32 bytes")
        self.material = material
        self.id = Self.deriveId(material)
    }

    /// A fresh random key.
    public static func generate() -> MasterKey {
        Sodium.ensureInitialized()
        let material = SecretBytes(count: byteCount) { buffer in
            crypto_aead_xchacha20poly1305_ietf_keygen(buffer.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return MasterKey(material: material)
    }

    /// The key's textual form (base64 of 32 bytes), for `credsd keygen` only.
    public func base64Text() -> String {
        material.withUnsafeBytes { Base64.encode($0) }
    }

    public var description: String { "MasterKey(\(id))" }

    /// 8 bytes of BLAKE2b over `context` and `secret`, keyed with this key: a stable, non-secret name for a secret
    /// that nobody holding only that secret can compute (a platform key's `builtinKeyId`).
    public func name(of secret: SecretBytes, context: String) -> [UInt8] {
        Self.digest(of: secret, context: context, key: material)
    }

    /// The same without a master key (nobody can name a secret then but credsd cannot hide it either).
    public static func unkeyedName(of secret: SecretBytes, context: String) -> [UInt8] {
        digest(of: secret, context: context, key: nil)
    }

    private static func digest(of secret: SecretBytes, context: String, key: SecretBytes?) -> [UInt8] {
        Sodium.ensureInitialized()
        var digest = [UInt8](repeating: 0, count: 8)
        let prefix = Array(context.utf8) + [0]
        // The context and the secret, in guarded memory like the secret.
        let message = secret.withUnsafeBytes { bytes in
            SecretBytes(count: prefix.count + bytes.count) { buffer in
                buffer.copyBytes(from: prefix)
                UnsafeMutableRawBufferPointer(rebasing: buffer[prefix.count...]).copyMemory(from: bytes)
            }
        }
        message.withUnsafeBytes { message in
            let input = message.baseAddress!.assumingMemoryBound(to: UInt8.self)
            if let key {
                key.withUnsafeBytes { key in
                    _ = crypto_generichash(
                        &digest, digest.count, input, UInt64(message.count),
                        key.baseAddress!.assumingMemoryBound(to: UInt8.self), key.count)
                }
            } else {
                _ = crypto_generichash(&digest, digest.count, input, UInt64(message.count), nil, 0)
            }
        }
        return digest
    }

    private static func deriveId(_ material: SecretBytes) -> String {
        let context = Array("credsd master key id v1".utf8)
        var digest = [UInt8](repeating: 0, count: 8)
        material.withUnsafeBytes { key in
            _ = crypto_generichash(
                &digest, digest.count, context, UInt64(context.count),
                key.baseAddress!.assumingMemoryBound(to: UInt8.self), key.count
            )
        }
        return "k_" + Hex.encode(digest)
    }
}

/// Why a key file could not be read as a master key.
public enum KeyFileError: Error, Sendable, Equatable, CustomStringConvertible {
    case notBase64
    case wrongLength(Int)

    public var description: String {
        switch self {
        case .notBase64: return "the key file is not base64"
        case .wrongLength(let length): return "the key file decodes to \(length) bytes, not 32"
        }
    }
}
