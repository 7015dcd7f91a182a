import CredsProtocol

/// `resolve.report {workspaceId, provider, grant?, connectionId?, source, builtinKeyId?, outcome, httpStatus?,
/// retryAfterSeconds?, units?}`.
struct ResolveReportParams: MethodParams {
    let workspaceId: Identifier
    let provider: Identifier
    /// The execution grant; checked as `resolve` checks it, before anything else is used.
    let grant: String?
    let connectionId: Identifier?
    let source: CredentialSource
    let builtinKeyId: String?
    let outcome: ReportOutcome
    let httpStatus: Int?
    let retryAfterSeconds: Int64?
    let units: Int64?

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>?) throws(RPCError) {
        var workspaceId: Identifier?
        var provider: Identifier?
        var grant: String?
        var connectionId: Identifier?
        var source: String?
        var builtinKeyId: String?
        var outcome: String?
        var httpStatus: Int64?
        var retryAfterSeconds: Int64?
        var units: Int64?
        try ParamsReader.read(bytes, range: range) { reader, name throws(RPCError) in
            switch name {
            case "workspaceId": workspaceId = try reader.identifier(name)
            case "provider": provider = try reader.identifier(name)
            case "grant": grant = try reader.string(name)
            case "connectionId": connectionId = try reader.identifier(name)
            case "source": source = try reader.string(name)
            case "builtinKeyId": builtinKeyId = try reader.string(name)
            case "outcome": outcome = try reader.string(name)
            case "httpStatus": httpStatus = try reader.int(name)
            case "retryAfterSeconds": retryAfterSeconds = try reader.int(name)
            case "units": units = try reader.int(name)
            default: return false
            }
            return true
        }
        self.workspaceId = try ParamsReader.required(workspaceId, "workspaceId")
        self.provider = try ParamsReader.required(provider, "provider")
        guard let source = CredentialSource(rawValue: try ParamsReader.required(source, "source")) else {
            throw RPCError.invalidParams("source must be byo or built_in")
        }
        guard let outcome = ReportOutcome(rawValue: try ParamsReader.required(outcome, "outcome")) else {
            throw RPCError.invalidParams(
                "outcome must be ok, unauthorized, rate_limited, quota_exceeded or upstream_error")
        }
        if let httpStatus, !(100...599).contains(httpStatus) {
            throw RPCError.invalidParams("httpStatus must be from 100 to 599")
        }
        if let retryAfterSeconds, retryAfterSeconds < 0 {
            throw RPCError.invalidParams("retryAfterSeconds must be 0 or more")
        }
        if let units, units < 0 { throw RPCError.invalidParams("units must be 0 or more") }
        if let builtinKeyId, builtinKeyId.isEmpty || builtinKeyId.utf8.count > 128 {
            throw RPCError.invalidParams("builtinKeyId must be 1 to 128 characters")
        }
        if source == .byo, builtinKeyId != nil {
            throw RPCError.invalidParams("builtinKeyId applies to source built_in only")
        }
        if source == .builtIn, connectionId != nil {
            throw RPCError.invalidParams("connectionId applies to source byo only")
        }
        self.grant = grant
        self.connectionId = connectionId
        self.source = source
        self.builtinKeyId = builtinKeyId
        self.outcome = outcome
        self.httpStatus = httpStatus.map(Int.init)
        self.retryAfterSeconds = retryAfterSeconds
        self.units = units
    }

    var facts: CallFacts {
        CallFacts(workspaceId: workspaceId, provider: provider, connectionId: connectionId, source: source)
    }
}
