/// A payload sealed with XChaCha20-Poly1305: the id of the sealing key, then nonce and ciphertext with tag.
public struct SealedValue: Sendable, Hashable, Codable {
    /// Id of the master key that sealed this value.
    public let keyId: String
    /// 24-byte nonce followed by the ciphertext and its 16-byte tag.
    public let box: [UInt8]

    public init(keyId: String, box: [UInt8]) {
        self.keyId = keyId
        self.box = box
    }
}
