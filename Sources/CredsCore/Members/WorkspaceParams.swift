import CredsProtocol

/// Params naming a workspace only: `members.list {workspaceId}`.
struct WorkspaceParams: MethodParams {
    let workspaceId: Identifier

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>?) throws(RPCError) {
        var workspaceId: Identifier?
        try ParamsReader.read(bytes, range: range) { reader, name throws(RPCError) in
            guard name == "workspaceId" else { return false }
            workspaceId = try reader.identifier(name)
            return true
        }
        self.workspaceId = try ParamsReader.required(workspaceId, "workspaceId")
    }

    var facts: CallFacts { CallFacts(workspaceId: workspaceId) }
}
