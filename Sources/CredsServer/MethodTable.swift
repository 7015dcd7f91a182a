public import CredsCore
public import CredsProtocol
public import NIOCore

/// The methods each socket answers. A method not in a socket's table is `method_not_found` there.
public struct MethodTable: Sendable {
    public typealias Handler =
        @Sendable (_ params: [String: JSONValue], _ context: CallContext) -> EventLoopFuture<JSONValue>

    /// How a method is audited.
    public enum Kind: Sendable {
        /// Not audited (reads of the admin socket, health, the catalog).
        case read
        /// An admin write: audited in its own commit when it succeeds, afterwards when it fails.
        case write
        /// A use of a credential: audited afterwards, success or failure, without delaying the answer.
        case use
    }

    public struct Entry: Sendable {
        public let kind: Kind
        public let handler: Handler
    }

    public let engine: CredsEngine
    public let methods: [String: Entry]

    public func entry(for method: String) -> Entry? {
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
    private static func common(_ engine: CredsEngine) -> [String: Entry] {
        [
            "health": Entry(kind: .read, handler: sync(engine.health)),
            "providers.list": Entry(kind: .read, handler: sync(engine.providersList)),
        ]
    }

    /// The resolve socket: `resolve`, `events.verify`, `health`, `providers.list`.
    public static func resolveSocket(_ engine: CredsEngine) -> MethodTable {
        var methods = common(engine)
        methods["resolve"] = Entry(kind: .use, handler: engine.resolve)
        methods["events.verify"] = Entry(kind: .use, handler: sync(engine.eventsVerify))
        return MethodTable(engine: engine, methods: methods)
    }

    /// The admin socket: every method except `resolve` and `events.verify`.
    public static func adminSocket(_ engine: CredsEngine) -> MethodTable {
        var methods = common(engine)
        let writes: [String: Handler] = [
            "connections.upsert": engine.connectionsUpsert,
            "connections.revoke": engine.connectionsRevoke,
            "connections.delete": engine.connectionsDelete,
            "policy.set": engine.policySet,
            "members.set": engine.membersSet,
            "grants.issue": engine.grantsIssue,
            "grants.revoke": engine.grantsRevoke,
            "keys.rotate": engine.keysRotate,
            "oauth.begin": engine.oauthBegin,
            "oauth.complete": engine.oauthComplete,
        ]
        for (name, handler) in writes { methods[name] = Entry(kind: .write, handler: handler) }
        let reads: [String: @Sendable ([String: JSONValue]) throws(RPCError) -> JSONValue] = [
            "connections.get": engine.connectionsGet,
            "connections.list": engine.connectionsList,
            "policy.get": engine.policyGet,
            "members.list": engine.membersList,
            "explain": engine.explain,
            "keys.status": engine.keysStatus,
            "audit.list": engine.auditList,
            "audit.verify": engine.auditVerify,
            "stats": engine.stats,
        ]
        for (name, body) in reads { methods[name] = Entry(kind: .read, handler: sync(body)) }
        return MethodTable(engine: engine, methods: methods)
    }
}
