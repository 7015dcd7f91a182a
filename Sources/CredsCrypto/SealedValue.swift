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

    private enum CodingKeys: String, CodingKey {
        case keyId, box
    }

    /// The box is stored as base64 text (a third of the size of a JSON array of numbers); an array is still read.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        keyId = try container.decode(String.self, forKey: .keyId)
        if let text = try? container.decode(String.self, forKey: .box) {
            guard let bytes = Base64.decode(text) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .box, in: container, debugDescription: "box is not base64")
            }
            box = bytes
        } else {
            box = try container.decode([UInt8].self, forKey: .box)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(keyId, forKey: .keyId)
        try container.encode(box.withUnsafeBytes { Base64.encode($0) }, forKey: .box)
    }
}
