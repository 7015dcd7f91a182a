/// Every method credsd answers, by socket: the one list the daemon's `MethodRegistry` binds (a test checks they
/// agree, and that `proto/schema/methods.json` agrees with both) and `credsctl` routes by.
public enum MethodCatalog {
    /// Methods of both sockets.
    public static let common = ["health", "providers.list", "watch"]

    /// Methods of the resolve socket only.
    public static let resolveOnly = ["resolve", "resolve.report", "events.verify"]

    /// Methods of the admin socket only.
    public static let adminOnly = [
        "connections.upsert", "connections.revoke", "connections.delete", "connections.get", "connections.list",
        "connections.test",
        "policy.set", "policy.get", "budgets.set", "budgets.get", "usage.get", "members.set", "members.list",
        "grants.issue", "grants.revoke", "keys.rotate",
        "keys.status", "oauth.begin", "oauth.complete", "explain", "audit.list", "audit.verify", "events.list", "stats",
    ]

    /// Whether `method` is answered on the resolve socket only.
    public static func isResolveOnly(_ method: String) -> Bool {
        resolveOnly.contains(method)
    }
}
