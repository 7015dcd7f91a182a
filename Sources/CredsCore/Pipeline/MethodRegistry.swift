public import CredsProtocol

/// The methods each socket answers, bound to the engine. A method not in a socket's registry is
/// `method_not_found` there.
public struct MethodRegistry: Sendable {
    public let engine: CredsEngine
    public let socket: SocketKind
    private let methods: [String: MethodEntry]

    private init(engine: CredsEngine, socket: SocketKind, entries: [MethodEntry]) {
        self.engine = engine
        self.socket = socket
        self.methods = Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0) })
    }

    public func entry(for method: String) -> MethodEntry? {
        methods[method]
    }

    /// The names this socket answers, sorted.
    public var names: [String] { methods.keys.sorted() }

    /// Methods shared by both sockets.
    private static func common(_ engine: CredsEngine) -> [MethodEntry] {
        [
            .untyped("health", .read, sync: engine.health),
            .untyped("providers.list", .read, sync: engine.providersList),
        ]
    }

    /// The resolve socket: `resolve`, `events.verify`, `health`, `providers.list`.
    public static func resolveSocket(_ engine: CredsEngine) -> MethodRegistry {
        MethodRegistry(
            engine: engine, socket: .resolve,
            entries: common(engine) + [
                .typed("resolve", .use, engine.resolve),
                .untyped("events.verify", .use, sync: engine.eventsVerify),
            ]
        )
    }

    /// The admin socket: every method except `resolve` and `events.verify`.
    public static func adminSocket(_ engine: CredsEngine) -> MethodRegistry {
        MethodRegistry(
            engine: engine, socket: .admin,
            entries: common(engine) + [
                .untyped("connections.upsert", .write, engine.connectionsUpsert),
                .untyped("connections.revoke", .write, engine.connectionsRevoke),
                .untyped("connections.delete", .write, engine.connectionsDelete),
                .untyped("policy.set", .write, engine.policySet),
                .untyped("members.set", .write, engine.membersSet),
                .untyped("grants.issue", .write, engine.grantsIssue),
                .untyped("grants.revoke", .write, engine.grantsRevoke),
                .untyped("keys.rotate", .write, engine.keysRotate),
                .untyped("oauth.begin", .write, engine.oauthBegin),
                .untyped("oauth.complete", .write, engine.oauthComplete),
                .untyped("connections.get", .read, sync: engine.connectionsGet),
                .untyped("connections.list", .read, sync: engine.connectionsList),
                .untyped("policy.get", .read, sync: engine.policyGet),
                .untyped("members.list", .read, sync: engine.membersList),
                .untyped("explain", .read, sync: engine.explain),
                .untyped("keys.status", .read, sync: engine.keysStatus),
                .untyped("audit.list", .read, sync: engine.auditList),
                .untyped("audit.verify", .read, sync: engine.auditVerify),
                .untyped("stats", .read, sync: engine.stats),
            ]
        )
    }
}
