/// Reads a method's named params straight from the request's bytes into typed values, refusing unknown names
/// and wrong types with `invalid_params` (the value is never echoed: messages name the param only).
///
/// A method's params type reads them so:
///
///     var workspaceId: Identifier?
///     try ParamsReader.read(request) { reader, name throws(RPCError) in
///         switch name {
///         case "workspaceId": workspaceId = try reader.identifier(name)
///         default: return false
///         }
///         return true
///     }
///     self.workspaceId = try ParamsReader.required(workspaceId, "workspaceId")
public struct ParamsReader {
    private var reader: JSONReader

    private init(_ reader: JSONReader) {
        self.reader = reader
    }

    /// Reads every member of the params object in `bytes[range]` (an empty object when `range` is nil): `body`
    /// reads the value of each name it knows and returns true, or returns false for a name it does not know.
    /// Unknown names are refused together, after the rest was read; a name given twice is refused.
    public static func read(
        _ bytes: UnsafeRawBufferPointer,
        range: Range<Int>?,
        _ body: (inout ParamsReader, String) throws(RPCError) -> Bool
    ) throws(RPCError) {
        guard let range else { return }
        var object = JSONReader(UnsafeRawBufferPointer(rebasing: bytes[range]))
        var unknown: [String] = []
        // Names a method knows are few (at most its param count), so this list stays short whatever is sent.
        var known: [String] = []
        known.reserveCapacity(8)
        try object.readObject { reader, name throws(RPCError) in
            var params = ParamsReader(reader)
            if try body(&params, name) {
                // A name given twice is refused rather than read as its last value: whatever checked the request
                // on its way here may have read the first.
                guard !known.contains(name) else {
                    throw RPCError(.invalidParams, "a param is given twice", data: ["param": .string(name)])
                }
                known.append(name)
            } else {
                unknown.append(name)
                do { try params.reader.skipValue() } catch { throw .unreadable }
                // Enough to say what is wrong; no reason to read thousands of names first.
                guard unknown.count < Self.maxUnknownNamed else { throw Self.unknownParams(unknown) }
            }
            reader = params.reader
        }
        guard unknown.isEmpty else { throw Self.unknownParams(unknown) }
    }

    /// Unknown names named in one refusal; reading stops at this many.
    public static let maxUnknownNamed = 32

    /// The refusal naming unknown params (each cut to 64 characters: a name is the caller's text).
    private static func unknownParams(_ names: [String]) -> RPCError {
        let unknown = names.map { String($0.prefix(64)) }.sorted()
        return RPCError(
            .invalidParams, "unknown param(s): \(unknown.joined(separator: ", "))",
            data: ["unknown": .array(unknown.map { .string($0) })]
        )
    }

    /// `value`, or `invalid_params` naming the missing param.
    public static func required<Value>(_ value: Value?, _ name: String) throws(RPCError) -> Value {
        guard let value else { throw RPCError.missingParam(name) }
        return value
    }

    /// An identifier (SPEC section 4), checked here before any lookup, audit or log line uses it; null is nil.
    public mutating func identifier(_ name: String) throws(RPCError) -> Identifier? {
        guard let text = try string(name) else { return nil }
        guard let identifier = Identifier(validating: text) else { throw RPCError.notIdentifier(name) }
        return identifier
    }

    /// A string; null is nil.
    public mutating func string(_ name: String) throws(RPCError) -> String? {
        do {
            if try reader.readNull() { return nil }
            if let text = try reader.readString() { return text }
        } catch {
            throw .unreadable
        }
        throw try wrongType(name, "a string")
    }

    /// An integer (a number without a fraction); null is nil.
    public mutating func int(_ name: String) throws(RPCError) -> Int64? {
        let value = try self.value()
        switch value {
        case .null: return nil
        default:
            guard let number = value.intValue else { throw RPCError.wrongType(name, "an integer", value.typeName) }
            return number
        }
    }

    /// An array of strings; null is nil.
    public mutating func strings(_ name: String) throws(RPCError) -> [String]? {
        do {
            if try reader.readNull() { return nil }
            guard try reader.peek() == .array else { throw try wrongType(name, "an array of strings") }
        } catch let error as RPCError {
            throw error
        } catch {
            throw .unreadable
        }
        var strings: [String] = []
        try reader.readArray { reader throws(RPCError) in
            let text: String?
            do { text = try reader.readString() } catch { throw .unreadable }
            guard let text else {
                let kind = try? reader.peek()
                throw RPCError.wrongType(name, "an array of strings", kind.map(Self.typeName) ?? "value")
            }
            strings.append(text)
        }
        return strings
    }

    /// An array of identifiers; null is nil.
    public mutating func identifiers(_ name: String) throws(RPCError) -> [Identifier]? {
        guard let texts = try strings(name) else { return nil }
        var identifiers: [Identifier] = []
        identifiers.reserveCapacity(texts.count)
        for text in texts {
            guard let identifier = Identifier(validating: text) else { throw RPCError.notIdentifier(name) }
            identifiers.append(identifier)
        }
        return identifiers
    }

    /// An object, whole; null is nil.
    public mutating func object(_ name: String) throws(RPCError) -> [String: JSONValue]? {
        let value = try self.value()
        switch value {
        case .null: return nil
        case .object(let members): return members
        default: throw RPCError.wrongType(name, "an object", value.typeName)
        }
    }

    /// The value, whole, whatever it is.
    public mutating func value() throws(RPCError) -> JSONValue {
        do { return try reader.readValue() } catch { throw .unreadable }
    }

    private mutating func wrongType(_ name: String, _ expected: String) throws(RPCError) -> RPCError {
        let kind: JSONReader.Kind
        do { kind = try reader.peek() } catch { throw .unreadable }
        return RPCError.wrongType(name, expected, Self.typeName(kind))
    }

    private static func typeName(_ kind: JSONReader.Kind) -> String {
        switch kind {
        case .object: "object"
        case .array: "array"
        case .string: "string"
        case .bool: "boolean"
        case .null: "null"
        case .number: "number"
        }
    }
}

extension RPCError {
    /// `invalid_params`: a required param is missing (or null).
    public static func missingParam(_ name: String) -> RPCError {
        RPCError(.invalidParams, "\(name) is required", data: ["param": .string(name)])
    }

    /// `invalid_params`: an id param is not an identifier. Names the param, never the value: a refused id is
    /// not echoed anywhere.
    public static func notIdentifier(_ name: String) -> RPCError {
        RPCError(
            .invalidParams, "\(name) must be 1 to 128 bytes of ASCII letters, digits and . _ : @ + -",
            data: ["param": .string(name)]
        )
    }

    /// `invalid_params`: a param of the wrong JSON type.
    public static func wrongType(_ name: String, _ expected: String, _ found: String) -> RPCError {
        RPCError(.invalidParams, "\(name) must be \(expected), not \(found)", data: ["param": .string(name)])
    }
}
