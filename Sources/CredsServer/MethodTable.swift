import CredsCore
import CredsProtocol
import NIOCore

/// The methods each socket answers. A method not in a socket's table is `method_not_found` there.
struct MethodTable: Sendable {
    typealias Handler = @Sendable (_ params: [String: JSONValue], _ context: CallContext) -> EventLoopFuture<JSONValue>

    let methods: [String: Handler]

    func handler(for method: String) -> Handler? {
        methods[method]
    }

    /// Wraps a synchronous method as a handler.
    private static func sync(
        _ body: @escaping @Sendable ([String: JSONValue]) throws(RPCError) -> JSONValue
    ) -> Handler {
        { params, context in
            do {
                return context.eventLoop.makeSucceededFuture(try body(params))
            } catch {
                return context.eventLoop.makeFailedFuture(error)
            }
        }
    }

    /// Methods shared by both sockets.
    private static func common(_ engine: CredsEngine) -> [String: Handler] {
        [
            "health": sync(engine.health),
            "providers.list": sync(engine.providersList),
        ]
    }

    /// The resolve socket: `resolve`, `health`, `providers.list` (and `events.verify` with the security work).
    static func resolveSocket(_ engine: CredsEngine) -> MethodTable {
        var methods = common(engine)
        methods["resolve"] = sync(engine.resolve)
        return MethodTable(methods: methods)
    }

    /// The admin socket: every method except `resolve` and `events.verify`.
    static func adminSocket(_ engine: CredsEngine) -> MethodTable {
        var methods = common(engine)
        methods["connections.upsert"] = engine.connectionsUpsert
        methods["connections.get"] = sync(engine.connectionsGet)
        methods["connections.list"] = sync(engine.connectionsList)
        methods["connections.revoke"] = engine.connectionsRevoke
        methods["connections.delete"] = engine.connectionsDelete
        methods["policy.set"] = engine.policySet
        methods["policy.get"] = sync(engine.policyGet)
        methods["members.set"] = engine.membersSet
        methods["members.list"] = sync(engine.membersList)
        methods["grants.issue"] = engine.grantsIssue
        methods["grants.revoke"] = engine.grantsRevoke
        methods["explain"] = sync(engine.explain)
        methods["keys.status"] = sync(engine.keysStatus)
        return MethodTable(methods: methods)
    }
}
