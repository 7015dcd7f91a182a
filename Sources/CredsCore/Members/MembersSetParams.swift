import CredsProtocol

/// `members.set {workspaceId, principal, role}`.
struct MembersSetParams: MethodParams {
    let workspaceId: Identifier
    let principal: Identifier
    let role: MemberRole

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>?) throws(RPCError) {
        var workspaceId: Identifier?
        var principal: Identifier?
        var role: String?
        try ParamsReader.read(bytes, range: range) { reader, name throws(RPCError) in
            switch name {
            case "workspaceId": workspaceId = try reader.identifier(name)
            case "principal": principal = try reader.identifier(name)
            case "role": role = try reader.string(name)
            default: return false
            }
            return true
        }
        self.workspaceId = try ParamsReader.required(workspaceId, "workspaceId")
        self.principal = try ParamsReader.required(principal, "principal")
        guard let parsed = MemberRole(rawValue: try ParamsReader.required(role, "role")) else {
            throw RPCError.invalidParams("role must be read, write or none")
        }
        self.role = parsed
    }

    var facts: CallFacts { CallFacts(workspaceId: workspaceId) }
}
