import CredsCatalog
public import CredsProtocol
import CredsStore
public import NIOCore

extension CredsEngine {
    /// `policy.set`: the routing mode of an API-key provider in a workspace.
    public func policySet(_ raw: [String: JSONValue], context: CallContext) -> EventLoopFuture<JSONValue> {
        let workspaceId: Identifier
        let provider: Provider
        let mode: RoutingMode
        let actor: Identifier
        do {
            let params = try Params(raw, allowed: ["workspaceId", "provider", "mode", "actor"])
            workspaceId = try params.identifier("workspaceId")
            provider = try policyProvider(try params.identifier("provider"))
            let modeText = try params.string("mode")
            guard let parsed = RoutingMode(rawValue: modeText) else {
                throw RPCError.invalidParams("mode must be auto, built_in or byo")
            }
            mode = parsed
            actor = try params.identifier("actor")
        } catch {
            return context.eventLoop.makeFailedFuture(error)
        }
        let database = self.database
        return write(context: context) { txn in
            try self.authorize(txn, actor: actor, workspaceId: workspaceId, write: true)
            try txn.put(
                database.policies, StoreKeys.policy(workspaceId, provider.identifier), Array(mode.rawValue.utf8))
            return ["workspaceId": workspaceId.json, "provider": .string(provider.id), "mode": .string(mode.rawValue)]
        }
    }

    /// `policy.get`: one provider's mode, or every API-key provider's.
    public func policyGet(_ raw: [String: JSONValue]) throws(RPCError) -> JSONValue {
        let params = try Params(raw, allowed: ["workspaceId", "provider", "actor"])
        let workspaceId = try params.identifier("workspaceId")
        let providerId = try params.optionalIdentifier("provider")
        let actor = try params.identifier("actor")
        let providers =
            try providerId.map { id throws(RPCError) in [try policyProvider(id)] }
            ?? catalog.providers.filter { $0.mode == .service }
        let modes = try read { txn in
            try authorize(txn, actor: actor, workspaceId: workspaceId, write: false)
            return try providers.map {
                try database.routingMode(txn, workspaceId: workspaceId, provider: $0.identifier)
            }
        }
        if let provider = providers.first, providerId != nil {
            return [
                "workspaceId": workspaceId.json, "provider": .string(provider.id), "mode": .string(modes[0].rawValue),
            ]
        }
        var policies: [String: JSONValue] = [:]
        for (provider, mode) in zip(providers, modes) { policies[provider.id] = .string(mode.rawValue) }
        return ["workspaceId": workspaceId.json, "policies": .object(policies)]
    }

    /// A provider that has a routing policy: connectable and API-key.
    private func policyProvider(_ id: Identifier) throws(RPCError) -> Provider {
        let provider = try catalog.connectableProvider(id)
        guard provider.mode == .service else {
            throw RPCError(
                .invalidParams,
                "\(provider.displayName) is an OAuth provider and has no routing policy",
                data: ["provider": id.json]
            )
        }
        return provider
    }
}
