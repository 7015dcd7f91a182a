import CredsProtocol
import CredsStore

/// Who may do what in a workspace: `members.set`, `members.list`.
struct MemberService: Sendable {
    let core: EngineCore

    /// `members.set`: a principal's role in a workspace; `none` removes it.
    func set(_ params: MembersSetParams, context: CallContext) -> MethodReply {
        let database = core.database
        let facts = context.facts
        return core.write(context: context) { txn in
            let key = StoreKeys.member(params.workspaceId, params.principal)
            if params.role == .none {
                try txn.delete(database.members, key)
            } else {
                try txn.put(database.members, key, Array(params.role.rawValue.utf8))
            }
            if !params.role.canWrite {
                // Authorizations this principal began in the workspace end with their right to write there.
                try database.removeOAuthStates(txn) {
                    $0.workspaceId == params.workspaceId && $0.actor == params.principal
                }
            }
            let result: JSONValue = [
                "workspaceId": params.workspaceId.json, "principal": params.principal.json,
                "role": .string(params.role.rawValue),
            ]
            return MethodAnswer(result, facts: facts)
        }
    }

    /// `members.list`.
    func list(_ params: WorkspaceParams, context: CallContext) -> MethodReply {
        .now { () throws(RPCError) in
            let members = try core.read { txn in
                var members: [JSONValue] = []
                try txn.scan(core.database.members, prefix: StoreKeys.workspacePrefix(params.workspaceId)) {
                    key, value in
                    members.append([
                        "principal": StoreKeys.lastPart(key).json,
                        "role": .string(String(decoding: value, as: UTF8.self)),
                    ])
                    return true
                }
                return members
            }
            let result: JSONValue = ["workspaceId": params.workspaceId.json, "members": .array(members)]
            return MethodAnswer(result, facts: context.facts)
        }
    }
}
