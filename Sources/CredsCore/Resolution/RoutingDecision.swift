import CredsCatalog
import CredsProtocol

/// What resolution decided: which credential source serves the call, and why.
///
/// A class: it travels from the decision through the answer to the audit facts, and copying a catalog entry and
/// a connection record at each step showed up as reference counting in the resolve profile.
final class RoutingDecision: Sendable {
    let provider: Provider
    let workspaceId: Identifier
    /// The workspace's policy; nil for OAuth providers, which have none.
    let policy: RoutingMode?
    let source: CredentialSource
    /// The connection serving the call; nil for `built_in`.
    let connection: ConnectionRecord?
    /// Why `auto` fell back to the platform key.
    let fallbackReason: String?
    /// Until when the credential serving the call cools down after an executor's report (`resolve.report`).
    let coolingDownUntil: Timestamp?
    /// The platform key serving the call, from the provider's pool; nil for `byo`.
    let builtinKey: BuiltinPool.Key?

    init(
        provider: Provider,
        workspaceId: Identifier,
        policy: RoutingMode?,
        source: CredentialSource,
        connection: ConnectionRecord?,
        fallbackReason: String?,
        coolingDownUntil: Timestamp? = nil,
        builtinKey: BuiltinPool.Key? = nil
    ) {
        self.provider = provider
        self.workspaceId = workspaceId
        self.policy = policy
        self.source = source
        self.connection = connection
        self.fallbackReason = fallbackReason
        self.coolingDownUntil = coolingDownUntil
        self.builtinKey = builtinKey
    }

    /// Fields `resolve` and `explain` share, as a JSON object (`explain` merges them into its answer).
    var summary: [String: JSONValue] {
        var writer = JSONWriter(capacity: 160)
        writer.objectStart()
        writeSummary(to: &writer)
        writer.objectEnd()
        return (try? JSONValue.parse(writer.bytes))?.objectValue ?? [:]
    }

    /// The fields `resolve` and `explain` share, written as members of the object being written.
    func writeSummary(to writer: inout JSONWriter) {
        writer.key("source")
        writer.string(source.rawValue)
        writer.key("policy")
        writer.string(policy?.rawValue)
        writer.key("mode")
        writer.string(provider.mode.rawValue)
        writer.key("connectionId")
        writer.string(connection?.id.text)
        if let builtinKey {
            writer.key("builtinKeyId")
            writer.string(builtinKey.id)
        }
        if let fallbackReason {
            writer.key("fallbackReason")
            writer.string(fallbackReason)
        }
        if let coolingDownUntil {
            writer.key("coolingDownUntil")
            writer.string(coolingDownUntil.rfc3339)
        }
    }

    /// What the audit entry and the figures take from the decision.
    var facts: CallFacts {
        CallFacts(
            workspaceId: workspaceId, provider: provider.identifier, connectionId: connection?.id, source: source)
    }
}
