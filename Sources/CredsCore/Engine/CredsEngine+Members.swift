public import CredsProtocol
import CredsStore
public import NIOCore

extension CredsEngine {
    /// `members.set`: a principal's role in a workspace; `none` removes it.
    public func membersSet(_ raw: [String: JSONValue], context: CallContext) -> EventLoopFuture<JSONValue> {
        let workspaceId: Identifier
        let principal: Identifier
        let role: MemberRole
        do {
            let params = try Params(raw, allowed: ["workspaceId", "principal", "role"])
            workspaceId = try params.identifier("workspaceId")
            principal = try params.identifier("principal")
            guard let parsed = MemberRole(rawValue: try params.string("role")) else {
                throw RPCError.invalidParams("role must be read, write or none")
            }
            role = parsed
        } catch {
            return context.eventLoop.makeFailedFuture(error)
        }
        let database = self.database
        return write(context: context) { txn in
            let key = StoreKeys.member(workspaceId, principal)
            if role == .none {
                try txn.delete(database.members, key)
            } else {
                try txn.put(database.members, key, Array(role.rawValue.utf8))
            }
            if !role.canWrite {
                // Authorizations this principal began in the workspace end with their right to write there.
                try database.removeOAuthStates(txn) { $0.workspaceId == workspaceId && $0.actor == principal }
            }
            return ["workspaceId": workspaceId.json, "principal": principal.json, "role": .string(role.rawValue)]
        }
    }

    /// `members.list`.
    public func membersList(_ raw: [String: JSONValue]) throws(RPCError) -> JSONValue {
        let params = try Params(raw, allowed: ["workspaceId"])
        let workspaceId = try params.identifier("workspaceId")
        let members = try read { txn in
            var members: [JSONValue] = []
            try txn.scan(database.members, prefix: StoreKeys.workspacePrefix(workspaceId)) { key, value in
                members.append([
                    "principal": StoreKeys.lastPart(key).json, "role": .string(String(decoding: value, as: UTF8.self)),
                ])
                return true
            }
            return members
        }
        return ["workspaceId": workspaceId.json, "members": .array(members)]
    }
}
