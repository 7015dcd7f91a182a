import CredsProtocol

/// Input: a frame payload, as the server hands it to the request parser.
///
/// A parsed value must serialize to text that parses back to the same value and serializes to the same bytes;
/// `RPCRequest.parse` must either read a request or name an error with a reason the contract lists.
enum RPCRequestTarget {
    static func run(_ input: [UInt8]) -> FuzzFinding? {
        if let value = try? JSONValue.parse(input) {
            let text = value.serialized()
            guard let again = try? JSONValue.parse(text) else {
                return FuzzFinding("the serialization of a parsed value does not parse")
            }
            guard again == value else { return FuzzFinding("a value changed across serialize and parse") }
            guard again.serialized() == text else { return FuzzFinding("serialization is not stable") }
        }
        do {
            let request = try RPCRequest.parse(input)
            switch request.id {
            case .null, .string, .int, .double: break
            default: return FuzzFinding("a request was read with an id of another type")
            }
        } catch {
            let reasons: Set<ErrorReason> = [.parseError, .invalidRequest, .invalidParams]
            guard reasons.contains(error.error.reason) else {
                return FuzzFinding("a request was refused with reason \(error.error.reason.rawValue)")
            }
        }
        return nil
    }
}
