import CredsProtocol

/// `oauth.complete {state, code?, installationId?, error?}`: what the provider's redirect carried.
struct OAuthCompleteParams: MethodParams {
    let state: String
    /// The authorization code; an empty one counts as none.
    let code: String?
    /// GitHub's installation id, a positive number or a string of digits (SPEC section 6).
    let installationId: Int64?
    /// The provider's `error` (the user said no, say).
    let error: String?

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>?) throws(RPCError) {
        var state: String?
        var code: String?
        var installation: JSONValue?
        var error: String?
        try ParamsReader.read(bytes, range: range) { reader, name throws(RPCError) in
            switch name {
            case "state": state = try reader.string(name)
            case "code": code = try reader.string(name)
            case "installationId": installation = try reader.value()
            case "error": error = try reader.string(name)
            default: return false
            }
            return true
        }
        self.state = try ParamsReader.required(state, "state")
        self.code = code.flatMap { $0.isEmpty ? nil : $0 }
        self.error = error
        switch installation {
        case nil, .null: installationId = nil
        case .some(let value):
            guard let number = value.intValue ?? value.stringValue.flatMap({ Int64($0) }), number > 0 else {
                throw RPCError.invalidParams("installationId must be a positive number or a string of digits")
            }
            installationId = number
        }
    }

    var facts: CallFacts { CallFacts() }
}
