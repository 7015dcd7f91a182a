internal import CSodium

/// Seals and opens payloads with XChaCha20-Poly1305 (IETF), binding each to associated data.
public struct Sealer: Sendable {
    public let keyRing: KeyRing

    public init(keyRing: KeyRing) {
        Sodium.ensureInitialized()
        self.keyRing = keyRing
    }

    /// Seals `plaintext` under the active key; nil when no key is configured.
    public func seal(_ plaintext: SecretBytes, associatedData: [UInt8]) -> SealedValue? {
        guard let key = keyRing.active else { return nil }
        let nonceCount = Int(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
        let tagCount = Int(crypto_aead_xchacha20poly1305_ietf_ABYTES)
        var box = [UInt8](repeating: 0, count: nonceCount + plaintext.count + tagCount)
        box.withUnsafeMutableBytes { out in
            let nonce = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
            randombytes_buf(nonce, nonceCount)
            var written: UInt64 = 0
            plaintext.withUnsafeBytes { message in
                key.material.withUnsafeBytes { keyBytes in
                    _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
                        nonce + nonceCount, &written,
                        message.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(message.count),
                        associatedData, UInt64(associatedData.count),
                        nil, nonce, keyBytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
                    )
                }
            }
        }
        return SealedValue(keyId: key.id, box: box)
    }

    /// Opens a sealed value; fails when its key is not configured or the bytes or associated data do not match.
    public func open(_ sealed: SealedValue, associatedData: [UInt8]) throws(SealError) -> SecretBytes {
        guard let key = keyRing.key(id: sealed.keyId) else { throw .keyNotConfigured(sealed.keyId) }
        let nonceCount = Int(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
        let tagCount = Int(crypto_aead_xchacha20poly1305_ietf_ABYTES)
        guard sealed.box.count >= nonceCount + tagCount else { throw .authenticationFailed }
        let plainCount = sealed.box.count - nonceCount - tagCount
        var status: Int32 = -1
        let plaintext = sealed.box.withUnsafeBytes { input in
            SecretBytes(count: plainCount, storage: .transient) { out in
                let nonce = input.baseAddress!.assumingMemoryBound(to: UInt8.self)
                var written: UInt64 = 0
                status = key.material.withUnsafeBytes { keyBytes in
                    crypto_aead_xchacha20poly1305_ietf_decrypt(
                        out.baseAddress?.assumingMemoryBound(to: UInt8.self), &written, nil,
                        nonce + nonceCount, UInt64(input.count - nonceCount),
                        associatedData, UInt64(associatedData.count),
                        nonce, keyBytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
                    )
                }
            }
        }
        guard status == 0 else { throw .authenticationFailed }
        return plaintext
    }
}

/// Why a sealed value could not be opened.
public enum SealError: Error, Sendable, Equatable {
    /// The sealing key is not among the configured keys.
    case keyNotConfigured(String)
    /// The bytes were altered or belong to another record.
    case authenticationFailed
}
