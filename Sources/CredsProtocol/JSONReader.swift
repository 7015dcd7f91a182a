/// A strict JSON (RFC 8259) reader over UTF-8 bytes: no Foundation on the request path.
///
/// Reads a whole document into a `JSONValue` (`JSONValue.parse`), or pulls it apart piece by piece, so a
/// method's params go from the frame's bytes straight into a typed struct (`ParamsReader`). Either way it
/// rejects invalid UTF-8, control characters in strings, lone surrogates, trailing data, and nesting deeper
/// than `maxDepth` (so no input can exhaust the stack).
///
/// The reader borrows the bytes: use it only while they are alive (inside `withUnsafeReadableBytes`).
public struct JSONReader {
    static let maxDepth = 256

    private let bytes: UnsafeRawBufferPointer
    /// Offset of the next byte to read.
    public private(set) var index: Int

    public init(_ bytes: UnsafeRawBufferPointer, from index: Int = 0) {
        self.bytes = bytes
        self.index = index
    }

    static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> JSONValue {
        var reader = JSONReader(bytes)
        reader.skipWhitespace()
        let value = try reader.value(depth: 0)
        try reader.finish()
        return value
    }

    /// Checks that nothing but whitespace follows.
    public mutating func finish() throws(JSONParseError) {
        skipWhitespace()
        guard index == bytes.count else { throw failure() }
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
    }

    private func failure() -> JSONParseError { JSONParseError(offset: index) }

    // MARK: Pulling a document apart

    /// What the next value is, without reading it.
    public enum Kind: Sendable {
        case object, array, string, bool, null, number
    }

    /// The kind of the next value (after whitespace).
    public mutating func peek() throws(JSONParseError) -> Kind {
        skipWhitespace()
        switch current {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        case .some: return .number
        case nil: throw failure()
        }
    }

    /// Reads an object member by member: `body` gets each name and must read (or skip) its value. A syntax
    /// error becomes `parse_error`; what `body` throws passes through.
    public mutating func readObject(_ body: (inout JSONReader, String) throws(RPCError) -> Void) throws(RPCError) {
        try expect(UInt8(ascii: "{"))
        if try closes(UInt8(ascii: "}")) { return }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw .unreadable }
            let key: String
            do { key = try string() } catch { throw .unreadable }
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            try body(&self, key)
            if try closesAfterElement(UInt8(ascii: "}")) { return }
        }
    }

    /// Reads an array element by element: `body` must read (or skip) each. A syntax error becomes `parse_error`;
    /// what `body` throws passes through.
    public mutating func readArray(_ body: (inout JSONReader) throws(RPCError) -> Void) throws(RPCError) {
        try expect(UInt8(ascii: "["))
        if try closes(UInt8(ascii: "]")) { return }
        while true {
            skipWhitespace()
            try body(&self)
            if try closesAfterElement(UInt8(ascii: "]")) { return }
        }
    }

    private mutating func expect(_ byte: UInt8) throws(RPCError) {
        skipWhitespace()
        guard current == byte else { throw .unreadable }
        index += 1
    }

    /// Reads `close` if it comes next (an empty object or array).
    private mutating func closes(_ close: UInt8) throws(RPCError) -> Bool {
        skipWhitespace()
        guard current == close else { return false }
        index += 1
        return true
    }

    /// After an element: a comma (more follow) or `close` (the end).
    private mutating func closesAfterElement(_ close: UInt8) throws(RPCError) -> Bool {
        skipWhitespace()
        switch current {
        case UInt8(ascii: ","):
            index += 1
            return false
        case close:
            index += 1
            return true
        default: throw .unreadable
        }
    }

    /// The next value, whole.
    public mutating func readValue() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        return try value(depth: 1)
    }

    /// The next string; nil (and nothing read) if the next value is not a string.
    public mutating func readString() throws(JSONParseError) -> String? {
        skipWhitespace()
        guard current == UInt8(ascii: "\"") else { return nil }
        return try string()
    }

    /// Reads `null` if it comes next: whether it did.
    public mutating func readNull() throws(JSONParseError) -> Bool {
        skipWhitespace()
        guard current == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    /// Skips the next value, checking it as strictly as reading it would; returns the byte range it covered.
    @discardableResult
    public mutating func skipValue() throws(JSONParseError) -> Range<Int> {
        skipWhitespace()
        let start = index
        try skip(depth: 1)
        return start..<index
    }

    private mutating func skip(depth: Int) throws(JSONParseError) {
        guard depth < Self.maxDepth, let byte = current else { throw failure() }
        switch byte {
        case UInt8(ascii: "{"):
            index += 1
            skipWhitespace()
            if current == UInt8(ascii: "}") {
                index += 1
                return
            }
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: "\"") else { throw failure() }
                try skipString()
                skipWhitespace()
                guard current == UInt8(ascii: ":") else { throw failure() }
                index += 1
                skipWhitespace()
                try skip(depth: depth + 1)
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"):
                    index += 1
                    return
                default: throw failure()
                }
            }
        case UInt8(ascii: "["):
            index += 1
            skipWhitespace()
            if current == UInt8(ascii: "]") {
                index += 1
                return
            }
            while true {
                skipWhitespace()
                try skip(depth: depth + 1)
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"):
                    index += 1
                    return
                default: throw failure()
                }
            }
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: _ = try number()
        }
    }

    /// Skips a string: plain ASCII without escapes is checked in place; anything else is read in full (so the
    /// same rules apply), which allocates only for such strings.
    private mutating func skipString() throws(JSONParseError) {
        var probe = index + 1
        while probe < bytes.count {
            let byte = bytes[probe]
            if byte == UInt8(ascii: "\"") {
                index = probe + 1
                return
            }
            guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\\") else { break }
            probe += 1
        }
        _ = try string()
    }

    // MARK: Whole values

    private mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth < Self.maxDepth, let byte = current else { throw failure() }
        switch byte {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        default: return try number()
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw failure() }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { throw failure() }
        index += count
    }

    private mutating func object(depth: Int) throws(JSONParseError) -> JSONValue {
        index += 1
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw failure() }
            let key = try string()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw failure() }
            // A name given twice (or two names Swift's String takes as one, like `K` and KELVIN SIGN) is refused
            // rather than read as its last value, which another parser in front of credsd might not do.
            guard members[key] == nil else { throw failure() }
            index += 1
            skipWhitespace()
            members[key] = try value(depth: depth + 1)
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                return .object(members)
            default: throw failure()
            }
        }
    }

    private mutating func array(depth: Int) throws(JSONParseError) -> JSONValue {
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try value(depth: depth + 1))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"):
                index += 1
                return .array(elements)
            default: throw failure()
            }
        }
    }

    private mutating func string() throws(JSONParseError) -> String {
        index += 1
        let start = index
        // Fast path: ASCII without escapes becomes a String without a validation pass or a copy to an array.
        var ascii = true
        while let byte = current, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
            guard byte >= 0x20 else { throw failure() }
            if byte >= 0x80 { ascii = false }
            index += 1
        }
        guard let stop = current else { throw failure() }
        if stop == UInt8(ascii: "\""), ascii {
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            index += 1
            return text
        }
        var out = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
        if stop == UInt8(ascii: "\\") {
            while true {
                guard let byte = current else { throw failure() }
                if byte == UInt8(ascii: "\"") { break }
                guard byte >= 0x20 else { throw failure() }
                if byte != UInt8(ascii: "\\") {
                    out.append(byte)
                    index += 1
                    continue
                }
                index += 1
                guard let escaped = current else { throw failure() }
                index += 1
                switch escaped {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard current == UInt8(ascii: "\\"), index + 1 < bytes.count,
                            bytes[index + 1] == UInt8(ascii: "u")
                        else { throw failure() }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw failure() }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(scalar) {
                        throw failure()
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw failure() }
                    out.append(contentsOf: Array(String(Character(unicode)).utf8))
                default: throw failure()
                }
            }
        }
        index += 1
        guard let text = String(validating: out, as: UTF8.self) else { throw JSONParseError(offset: start) }
        return text
    }

    private mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw failure() }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw failure()
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    private mutating func number() throws(JSONParseError) -> JSONValue {
        let start = index
        var isInteger = true
        if current == UInt8(ascii: "-") { index += 1 }
        guard let first = current, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else { throw failure() }
        if first == UInt8(ascii: "0") {
            index += 1
        } else {
            while let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { index += 1 }
        }
        if current == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { throw failure() }
            while let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { index += 1 }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { throw failure() }
            while let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { index += 1 }
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        if isInteger, let integer = Int64(text) { return .int(integer) }
        guard let double = Double(text), double.isFinite else { throw JSONParseError(offset: start) }
        return .double(double)
    }
}

/// Where a JSON text stopped being valid.
public struct JSONParseError: Error, Sendable {
    public let offset: Int
}

extension RPCError {
    /// The answer to a frame that is not valid UTF-8 JSON.
    public static var unreadable: RPCError { RPCError(.parseError, "the frame is not valid UTF-8 JSON") }
}
