/// Writes compact JSON into a byte array: a typed answer goes from its fields to the outbound bytes without a
/// `JSONValue` tree in between. Members are written in the order the caller writes them.
public struct JSONWriter {
    public private(set) var bytes: [UInt8]
    /// Whether the next value or member follows another in the same object or array.
    private var needsComma = false

    public init(capacity: Int = 512) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func objectStart() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    public mutating func objectEnd() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func arrayStart() {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    public mutating func arrayEnd() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// A member name (escaped as needed); the member's value is written next.
    public mutating func key(_ name: String) {
        string(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func string(_ text: String) {
        separate()
        var text = text
        text.withUTF8 { utf8 in Self.writeEscaped(utf8, to: &bytes) }
    }

    /// A string written in pieces: `stringStart`, then `stringPiece` as often as needed, then `stringEnd`.
    public mutating func stringStart() {
        separate()
        bytes.append(UInt8(ascii: "\""))
    }

    /// Part of the string being written, escaped as needed.
    public mutating func stringPiece(_ text: Substring) {
        var text = text
        text.withUTF8 { utf8 in Self.writeEscapedContent(utf8, to: &bytes) }
    }

    public mutating func stringEnd() {
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func int(_ number: Int64) {
        separate()
        bytes.append(contentsOf: String(number).utf8)
    }

    public mutating func bool(_ flag: Bool) {
        separate()
        bytes.append(contentsOf: (flag ? "true" : "false").utf8)
    }

    public mutating func null() {
        separate()
        bytes.append(contentsOf: "null".utf8)
    }

    /// A string, or null.
    public mutating func string(_ text: String?) {
        if let text { string(text) } else { null() }
    }

    /// A whole JSON value (members sorted by name, as `JSONValue.serialized` does).
    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let flag): bool(flag)
        case .int(let number): int(number)
        case .double(let number):
            separate()
            bytes.append(contentsOf: (number.isFinite ? number.description : "null").utf8)
        case .string(let text): string(text)
        case .array(let elements):
            arrayStart()
            for element in elements { self.value(element) }
            arrayEnd()
        case .object(let members):
            objectStart()
            for name in members.keys.sorted() {
                key(name)
                self.value(members[name]!)
            }
            objectEnd()
        }
    }

    /// A comma before a value or member that follows another; every value then counts as written.
    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
    }

    /// `"text"` with `"`, `\` and control characters escaped; runs without any are copied in one go.
    static func writeEscaped(_ utf8: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        writeEscapedContent(utf8, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// The text of a string, escaped, without the quotes.
    static func writeEscapedContent(_ utf8: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8]) {
        var runStart = 0
        for (offset, byte) in utf8.enumerated() where byte < 0x20 || byte == 0x22 || byte == 0x5C {
            if offset > runStart { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<offset])) }
            runStart = offset + 1
            switch byte {
            case 0x22: bytes.append(contentsOf: [0x5C, 0x22])
            case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            default:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [
                    0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)],
                ])
            }
        }
        if utf8.count > runStart { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...])) }
    }
}

/// A value that writes itself as JSON: a method's typed result.
public protocol JSONWritable: Sendable {
    func write(to writer: inout JSONWriter)
}

extension JSONValue: JSONWritable {
    public func write(to writer: inout JSONWriter) {
        writer.value(self)
    }
}
