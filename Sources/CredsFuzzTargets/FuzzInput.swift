/// A fuzz input read as a stream of choices: each read takes bytes from the front, and an exhausted input
/// answers zeros, so every input (the empty one too) decodes to something and a mutation changes one choice.
struct FuzzInput {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    var isExhausted: Bool { offset >= bytes.count }

    /// The next byte, 0 past the end.
    mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// A number from 0 to `count - 1`.
    mutating func choose(_ count: Int) -> Int {
        count <= 256 ? Int(byte()) % count : Int(UInt16(byte()) << 8 | UInt16(byte())) % count
    }

    /// One element of `options`.
    mutating func pick<Element>(_ options: [Element]) -> Element {
        options[choose(options.count)]
    }

    /// Eight bytes as a signed integer, big-endian: any Int64, the extremes included.
    mutating func int64() -> Int64 {
        (0..<8).reduce(Int64(0)) { value, _ in value << 8 | Int64(byte()) }
    }

    /// A length byte, then that many bytes decoded as UTF-8 (invalid sequences become U+FFFD).
    mutating func text(maxBytes: Int = 255) -> String {
        let count = min(Int(byte()), maxBytes, bytes.count - min(offset, bytes.count))
        defer { offset += count }
        return String(decoding: bytes[offset..<offset + count], as: UTF8.self)
    }
}
