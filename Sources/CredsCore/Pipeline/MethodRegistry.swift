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
            .typed("health", .read, engine.info.health),
            .typed("providers.list", .read, engine.info.providersList),
        ]
    }

    /// The resolve socket: `resolve`, `resolve.report`, `events.verify`, `health`, `providers.list`.
    public static func resolveSocket(_ engine: CredsEngine) -> MethodRegistry {
        MethodRegistry(
            engine: engine, socket: .resolve,
            entries: common(engine) + [
                .typed("resolve", .use, engine.resolution.resolve),
                .typed("events.verify", .use, engine.webhooks.verify),
                .typed("resolve.report", .use, engine.reports.report),
                .typed("watch", .use, engine.events.resolveWatch),
            ]
        )
    }

    /// The admin socket: every method except `resolve` and `events.verify`.
    public static func adminSocket(_ engine: CredsEngine) -> MethodRegistry {
        MethodRegistry(
            engine: engine, socket: .admin,
            entries: common(engine) + [
                .typed("connections.upsert", .write, engine.connections.upsert),
                .typed("connections.revoke", .write, engine.connections.revoke),
                .typed("connections.delete", .write, engine.connections.delete),
                .typed("connections.get", .read, engine.connections.get),
                .typed("connections.list", .read, engine.connections.list),
                .typed("connections.test", .write, engine.probes.test),
                .typed("policy.set", .write, engine.policies.set),
                .typed("policy.get", .read, engine.policies.get),
                .typed("budgets.set", .write, engine.budgets.set),
                .typed("budgets.get", .read, engine.budgets.get),
                .typed("usage.get", .read, engine.usageReports.get),
                .typed("members.set", .write, engine.members.set),
                .typed("members.list", .read, engine.members.list),
                .typed("grants.issue", .write, engine.grants.issue),
                .typed("grants.revoke", .write, engine.grants.revoke),
                .typed("keys.rotate", .write, engine.keys.rotate),
                .typed("keys.status", .read, engine.keys.status),
                .typed("oauth.begin", .write, engine.oauthFlow.begin),
                .typed("oauth.complete", .write, engine.oauthFlow.complete),
                .typed("explain", .read, engine.resolution.explain),
                .typed("audit.list", .read, engine.audit.list),
                .typed("audit.verify", .read, engine.audit.verify),
                .typed("events.list", .read, engine.events.list),
                .typed("watch", .read, engine.events.adminWatch),
                .typed("stats", .read, engine.info.stats),
            ]
        )
    }
}
