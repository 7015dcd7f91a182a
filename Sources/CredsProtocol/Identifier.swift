/// A workspace, principal, connection, provider or host id: 1–128 bytes of ASCII letters, digits and
/// `. _ : @ + -` (SPEC section 4).
///
/// Ids are checked once, where a request's params are read, and travel as this type from there on. Two ids are
/// equal when their bytes are: Swift's `String ==` uses canonical equivalence (KELVIN SIGN U+212A equals `K`),
/// while LMDB keys are bytes, and that mismatch let a grant for a look-alike workspace read another tenant's
/// credential.
public struct Identifier: Sendable, Hashable, Comparable, CustomStringConvertible {
    public static let maxBytes = 128

    /// The id's text; ASCII when it came through `init?(validating:)`.
    public let text: String

    /// Accepts `text` only if it is 1–128 bytes of the SPEC's ASCII set.
    public init?(validating text: String) {
        let bytes = text.utf8
        guard (1...Self.maxBytes).contains(bytes.count), bytes.allSatisfy(Self.isAllowed) else { return nil }
        self.text = text
    }

    /// An id read back from credsd's own store or built by credsd itself; not checked again. Records written
    /// before ids were restricted may hold other bytes: they still compare byte for byte.
    public init(stored text: String) {
        self.text = text
    }

    public var description: String { text }

    /// The id as a JSON string.
    public var json: JSONValue { .string(text) }

    /// The id's bytes, for store keys and comparisons.
    public var bytes: String.UTF8View { text.utf8 }

    public static func == (lhs: Identifier, rhs: Identifier) -> Bool {
        lhs.text.utf8.elementsEqual(rhs.text.utf8)
    }

    public static func < (lhs: Identifier, rhs: Identifier) -> Bool {
        lhs.text.utf8.lexicographicallyPrecedes(rhs.text.utf8)
    }

    /// Byte-equal ids are equal `String`s, so the string's hash agrees with `==`.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(text)
    }

    /// Whether `byte` may appear in an id.
    @inline(__always)
    static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "+"),
            UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}

extension Identifier: Codable {
    public init(from decoder: any Decoder) throws {
        self.init(stored: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}
