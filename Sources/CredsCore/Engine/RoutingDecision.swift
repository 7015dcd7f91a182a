import CredsCatalog
import CredsProtocol

/// What resolution decided: which credential source serves the call, and why.
struct RoutingDecision: Sendable {
    enum Source: String, Sendable {
        case byo
        case builtIn = "built_in"
    }

    let provider: Provider
    let workspaceId: Identifier
    /// The workspace's policy; nil for OAuth providers, which have none.
    let policy: RoutingMode?
    let source: Source
    /// The connection serving the call; nil for `built_in`.
    let connection: ConnectionRecord?
    /// Why `auto` fell back to the platform key.
    let fallbackReason: String?

    /// Fields `resolve` and `explain` share.
    var summary: [String: JSONValue] {
        var object: [String: JSONValue] = [
            "source": .string(source.rawValue),
            "policy": policy.map { .string($0.rawValue) } ?? .null,
            "mode": .string(provider.mode.rawValue),
            "connectionId": connection?.id.json ?? .null,
        ]
        if let fallbackReason { object["fallbackReason"] = .string(fallbackReason) }
        return object
    }
}
