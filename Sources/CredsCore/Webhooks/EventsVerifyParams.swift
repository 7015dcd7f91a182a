import CredsProtocol

/// `events.verify {workspaceId, provider, grant?, connectionId?, headers, body}`.
struct EventsVerifyParams: MethodParams {
    let workspaceId: Identifier
    let provider: Identifier
    let grant: String?
    let connectionId: Identifier?
    /// The webhook's headers, names lower-cased.
    let headers: [String: String]
    let body: String

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>?) throws(RPCError) {
        var workspaceId: Identifier?
        var provider: Identifier?
        var grant: String?
        var connectionId: Identifier?
        var headers: [String: JSONValue]?
        var body: String?
        try ParamsReader.read(bytes, range: range) { reader, name throws(RPCError) in
            switch name {
            case "workspaceId": workspaceId = try reader.identifier(name)
            case "provider": provider = try reader.identifier(name)
            case "grant": grant = try reader.string(name)
            case "connectionId": connectionId = try reader.identifier(name)
            case "headers": headers = try reader.object(name)
            case "body": body = try reader.string(name)
            default: return false
            }
            return true
        }
        self.workspaceId = try ParamsReader.required(workspaceId, "workspaceId")
        self.provider = try ParamsReader.required(provider, "provider")
        self.grant = grant
        self.connectionId = connectionId
        self.body = try ParamsReader.required(body, "body")
        var lowered: [String: String] = [:]
        for (name, value) in try ParamsReader.required(headers, "headers") {
            guard let text = value.stringValue else { throw RPCError.invalidParams("header values must be strings") }
            // `svix-id` and `SVIX-ID` are one header: given both, which one counts would be a guess.
            guard lowered.updateValue(text, forKey: name.lowercased()) == nil else {
                throw RPCError.invalidParams("a header is given twice (header names ignore case)")
            }
        }
        self.headers = lowered
    }

    var facts: CallFacts { CallFacts(workspaceId: workspaceId, provider: provider, connectionId: connectionId) }
}
