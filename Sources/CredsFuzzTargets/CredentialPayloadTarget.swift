import CredsCatalog
import CredsProtocol

/// Input: one byte choosing the provider, then the JSON of a `credentialPayload`.
///
/// Every outcome must be an accepted payload holding only the provider's fields, or an `invalid_credential`
/// refusal whose text quotes none of the submitted values.
enum CredentialPayloadTarget {
    static let providers = ProviderCatalog.bundled.providers

    /// Values at least this long are checked for in refusals; shorter ones collide with ordinary words.
    static let quotedValueBytes = 8

    static func run(_ input: [UInt8]) -> FuzzFinding? {
        guard let selector = input.first,
            case .object(let payload)? = try? JSONValue.parse(input.dropFirst())
        else { return nil }
        let provider = providers[Int(selector) % providers.count]
        let validator = CredentialValidator()
        do {
            let outcome = try validator.validate(payload, for: provider)
            let names = Set(provider.fields.map(\.name))
            let accepted = Set(outcome.fields.keys).union(outcome.lists.keys).union(outcome.times.keys)
            guard accepted.isSubset(of: names) else { return FuzzFinding("a field the provider lacks was accepted") }
            return nil
        } catch {
            guard error.reason == .invalidCredential else {
                return FuzzFinding("a payload was refused with reason \(error.reason.rawValue)")
            }
            return quotedValue(payload: payload, provider: provider)
        }
    }

    /// A submitted value the refusal quotes. A value found in the text is replaced by another of the same
    /// length and the payload validated again: if the text still holds it, it came from the catalog or a
    /// message, not from the payload.
    static func quotedValue(payload: [String: JSONValue], provider: Provider) -> FuzzFinding? {
        let text = refusalText(payload, provider)
        for (name, value) in payload {
            for string in value.strings where string.utf8.count >= quotedValueBytes && text.contains(string) {
                var altered = payload
                altered[name] = value.replacing(string, with: String(repeating: "\u{1}", count: string.utf8.count))
                if !refusalText(altered, provider).contains(string) {
                    return FuzzFinding("the refusal quotes the value of \(name)")
                }
            }
        }
        return nil
    }

    /// The error object a refusal of the payload sends, as text; empty when the payload is accepted.
    static func refusalText(_ payload: [String: JSONValue], _ provider: Provider) -> String {
        do {
            _ = try CredentialValidator().validate(payload, for: provider)
            return ""
        } catch {
            return String(decoding: error.json.serialized(), as: UTF8.self)
        }
    }
}

extension JSONValue {
    /// Every string inside the value.
    fileprivate var strings: [String] {
        switch self {
        case .string(let string): [string]
        case .array(let elements): elements.flatMap(\.strings)
        case .object(let members): members.values.flatMap(\.strings)
        default: []
        }
    }

    /// The value with every string equal to `old` replaced by `new`.
    fileprivate func replacing(_ old: String, with new: String) -> JSONValue {
        switch self {
        case .string(let string): string == old ? .string(new) : self
        case .array(let elements): .array(elements.map { $0.replacing(old, with: new) })
        case .object(let members): .object(members.mapValues { $0.replacing(old, with: new) })
        default: self
        }
    }
}
