public import CredsProtocol

/// Reads a method's named params, refusing unknown names and wrong types with `invalid_params`.
public struct Params: Sendable {
    private let values: [String: JSONValue]

    /// Wraps `values`; any name outside `allowed` is refused.
    public init(_ values: [String: JSONValue], allowed: Set<String>) throws(RPCError) {
        let unknown = values.keys.filter { !allowed.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw RPCError(
                .invalidParams,
                "unknown param(s): \(unknown.joined(separator: ", "))",
                data: ["unknown": .array(unknown.map { .string($0) })]
            )
        }
        self.values = values
    }

    /// A required identifier (SPEC section 4): checked here, before any lookup, audit or log line uses it.
    public func identifier(_ name: String) throws(RPCError) -> Identifier {
        guard let value = try optionalIdentifier(name) else { throw Self.missing(name) }
        return value
    }

    /// An optional identifier; null counts as absent.
    public func optionalIdentifier(_ name: String) throws(RPCError) -> Identifier? {
        guard let text = try optionalString(name) else { return nil }
        guard let identifier = Identifier(validating: text) else { throw Self.notIdentifier(name) }
        return identifier
    }

    /// An optional array of identifiers; null counts as absent.
    public func optionalIdentifierArray(_ name: String) throws(RPCError) -> [Identifier]? {
        guard let texts = try optionalStringArray(name) else { return nil }
        var identifiers: [Identifier] = []
        identifiers.reserveCapacity(texts.count)
        for text in texts {
            guard let identifier = Identifier(validating: text) else { throw Self.notIdentifier(name) }
            identifiers.append(identifier)
        }
        return identifiers
    }

    /// A required string.
    public func string(_ name: String) throws(RPCError) -> String {
        guard let value = try optionalString(name) else { throw Self.missing(name) }
        return value
    }

    /// An optional string; null counts as absent.
    public func optionalString(_ name: String) throws(RPCError) -> String? {
        switch values[name] {
        case nil, .null: return nil
        case .string(let text): return text
        case .some(let other): throw Self.wrongType(name, "a string", other)
        }
    }

    /// An optional integer; null counts as absent.
    public func optionalInt(_ name: String) throws(RPCError) -> Int64? {
        switch values[name] {
        case nil, .null: return nil
        case .some(let value):
            guard let number = value.intValue else { throw Self.wrongType(name, "an integer", value) }
            return number
        }
    }

    /// An optional array of strings; null counts as absent.
    public func optionalStringArray(_ name: String) throws(RPCError) -> [String]? {
        switch values[name] {
        case nil, .null: return nil
        case .array(let elements):
            var strings: [String] = []
            for element in elements {
                guard case .string(let text) = element else {
                    throw Self.wrongType(name, "an array of strings", element)
                }
                strings.append(text)
            }
            return strings
        case .some(let other): throw Self.wrongType(name, "an array of strings", other)
        }
    }

    /// A required object.
    public func object(_ name: String) throws(RPCError) -> [String: JSONValue] {
        switch values[name] {
        case nil, .null: throw Self.missing(name)
        case .object(let members): return members
        case .some(let other): throw Self.wrongType(name, "an object", other)
        }
    }

    private static func missing(_ name: String) -> RPCError {
        RPCError(.invalidParams, "\(name) is required", data: ["param": .string(name)])
    }

    /// The message names the param, never the value: a refused id is not echoed anywhere.
    private static func notIdentifier(_ name: String) -> RPCError {
        RPCError(
            .invalidParams, "\(name) must be 1 to 128 bytes of ASCII letters, digits and . _ : @ + -",
            data: ["param": .string(name)]
        )
    }

    private static func wrongType(_ name: String, _ expected: String, _ value: JSONValue) -> RPCError {
        RPCError(.invalidParams, "\(name) must be \(expected), not \(value.typeName)", data: ["param": .string(name)])
    }
}
