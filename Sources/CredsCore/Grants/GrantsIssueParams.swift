import CredsProtocol

/// `grants.issue {workspaceId, providers?, ttlSeconds?}`.
struct GrantsIssueParams: MethodParams {
    let workspaceId: Identifier
    let providers: [Identifier]?
    let ttlSeconds: Int64

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>?) throws(RPCError) {
        var workspaceId: Identifier?
        var providers: [Identifier]?
        var ttlSeconds: Int64?
        try ParamsReader.read(bytes, range: range) { reader, name throws(RPCError) in
            switch name {
            case "workspaceId": workspaceId = try reader.identifier(name)
            case "providers": providers = try reader.identifiers(name)
            case "ttlSeconds": ttlSeconds = try reader.int(name)
            default: return false
            }
            return true
        }
        self.workspaceId = try ParamsReader.required(workspaceId, "workspaceId")
        self.providers = providers
        self.ttlSeconds = ttlSeconds ?? GrantService.defaultTTL
        guard (1...GrantService.maxTTL).contains(self.ttlSeconds) else {
            throw RPCError.invalidParams("ttlSeconds must be from 1 to \(GrantService.maxTTL)")
        }
    }

    var facts: CallFacts { CallFacts(workspaceId: workspaceId) }
}
