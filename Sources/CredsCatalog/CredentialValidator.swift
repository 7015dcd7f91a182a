public import CredsProtocol

/// Checks a `credentialPayload` against its provider's fields (SPEC section 5).
///
/// Structural problems refuse the payload with `invalid_credential` and a list of `fields`;
/// a well-formed value of unknown shape is accepted with a warning. Messages never quote a value.
public struct CredentialValidator: Sendable {
    /// Largest value accepted, in UTF-8 bytes.
    public static let maxValueBytes = 4096

    public init() {}

    /// The accepted fields and the warnings to report.
    public struct Outcome: Sendable {
        /// String fields, to be sealed.
        public let fields: [String: String]
        /// `strings` fields (scopes).
        public let lists: [String: [String]]
        /// `time` fields.
        public let times: [String: Timestamp]
        public let warnings: [JSONValue]
    }

    public func validate(_ payload: [String: JSONValue], for provider: Provider) throws(RPCError) -> Outcome {
        var problems: [JSONValue] = []
        var warnings: [JSONValue] = []
        var accepted: [String: String] = [:]
        var lists: [String: [String]] = [:]
        var times: [String: Timestamp] = [:]
        let known = Set(provider.fields.map(\.name))

        for name in payload.keys.sorted() where !known.contains(name) {
            problems.append(Self.problem(name, "unknown_field", "\(provider.displayName) has no such field"))
        }
        for field in provider.fields {
            guard let value = payload[field.name], !value.isNull || field.required else { continue }
            if field.kind == "strings" {
                guard let elements = value.arrayValue,
                    elements.allSatisfy({ $0.stringValue.map { Self.structuralProblem($0) == nil } ?? false })
                else {
                    problems.append(
                        Self.problem(
                            field.name, "wrong_type", "must be an array of non-empty strings without white space"))
                    continue
                }
                lists[field.name] = elements.compactMap(\.stringValue)
                continue
            }
            if field.kind == "time" {
                guard let text = value.stringValue, let time = Timestamp.parse(text) else {
                    problems.append(
                        Self.problem(field.name, "wrong_type", "must be an RFC 3339 time such as 2026-01-01T00:00:00Z"))
                    continue
                }
                times[field.name] = time
                continue
            }
            guard case .string(let text) = value else {
                if value.isNull {
                    problems.append(Self.problem(field.name, "missing", "is required"))
                } else {
                    problems.append(Self.problem(field.name, "wrong_type", "must be a string, not \(value.typeName)"))
                }
                continue
            }
            if let problem = Self.structuralProblem(text) {
                problems.append(Self.problem(field.name, problem.code, problem.message))
                continue
            }
            accepted[field.name] = text
            if let shape = field.knownShape, !Self.matches(text, shape) {
                warnings.append(
                    Self.problem(
                        field.name, "unknown_shape",
                        "does not match the known \(provider.displayName) format (\(field.knownShapeText ?? shape)); stored anyway"
                    )
                )
            }
        }
        for field in provider.fields where field.required && payload[field.name] == nil {
            problems.append(Self.problem(field.name, "missing", "is required"))
        }
        guard problems.isEmpty else {
            throw RPCError(
                .invalidCredential,
                "the credential payload for \(provider.displayName) is not acceptable; nothing was stored",
                data: ["fields": .array(problems)]
            )
        }
        return Outcome(fields: accepted, lists: lists, times: times, warnings: warnings)
    }

    private static func structuralProblem(_ text: String) -> (code: String, message: String)? {
        if text.isEmpty { return ("empty", "must not be empty") }
        if text.utf8.count > maxValueBytes { return ("too_long", "must be at most \(maxValueBytes) bytes") }
        for scalar in text.unicodeScalars {
            if scalar.properties.isWhitespace { return ("whitespace", "must not contain white space") }
            if scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format {
                return ("control_character", "must not contain control characters")
            }
        }
        return nil
    }

    private static func matches(_ text: String, _ pattern: String) -> Bool {
        guard let regex = try? Regex(pattern) else { return true }
        return (try? regex.wholeMatch(in: text)) != nil
    }

    private static func problem(_ field: String, _ code: String, _ message: String) -> JSONValue {
        ["field": .string(field), "problem": .string(code), "message": .string(message)]
    }
}
