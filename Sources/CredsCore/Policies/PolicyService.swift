import CredsCatalog
import CredsProtocol
import CredsStore

/// How each workspace routes API-key providers: `policy.set`, `policy.get`.
struct PolicyService: Sendable {
    let core: EngineCore

    /// `policy.set`: the routing mode of an API-key provider in a workspace.
    func set(_ params: PolicySetParams, context: CallContext) -> MethodReply {
        let provider: Provider
        do {
            provider = try core.catalog.apiKeyProvider(params.provider)
        } catch {
            return .now(.failure(error))
        }
        let core = self.core
        let facts = context.facts
        return core.write(context: context) { txn in
            try core.authorize(txn, actor: params.actor, workspaceId: params.workspaceId, write: true)
            try core.database.putPolicy(
                txn, key: StoreKeys.policy(params.workspaceId, provider.identifier),
                value: RoutingPolicy(mode: params.mode, fallbackOn: params.fallbackOn).stored)
            let result: JSONValue = [
                "workspaceId": params.workspaceId.json, "provider": .string(provider.id),
                "mode": .string(params.mode.rawValue), "fallbackOn": .array(params.fallbackOn.map { .string($0) }),
            ]
            return MethodAnswer(result, facts: facts)
        }
    }

    /// `policy.get`: one provider's mode, or every API-key provider's.
    func get(_ params: WorkspaceReadParams, context: CallContext) -> MethodReply {
        .now { () throws(RPCError) in
            let providers =
                try params.provider.map { id throws(RPCError) in [try core.catalog.apiKeyProvider(id)] }
                ?? core.catalog.providers.filter { $0.mode == .service }
            let modes = try core.read { txn in
                try core.authorize(txn, actor: params.actor, workspaceId: params.workspaceId, write: false)
                return try providers.map {
                    try core.database.routingPolicy(txn, workspaceId: params.workspaceId, provider: $0.identifier)
                }
            }
            let result: JSONValue
            if let provider = providers.first, params.provider != nil {
                result = [
                    "workspaceId": params.workspaceId.json, "provider": .string(provider.id),
                    "mode": .string(modes[0].mode.rawValue),
                    "fallbackOn": .array(modes[0].fallbackOn.map { .string($0) }),
                ]
            } else {
                var policies: [String: JSONValue] = [:]
                var fallbacks: [String: JSONValue] = [:]
                for (provider, policy) in zip(providers, modes) {
                    policies[provider.id] = .string(policy.mode.rawValue)
                    fallbacks[provider.id] = .array(policy.fallbackOn.map { .string($0) })
                }
                result = [
                    "workspaceId": params.workspaceId.json, "policies": .object(policies),
                    "fallbackOn": .object(fallbacks),
                ]
            }
            return MethodAnswer(result, facts: context.facts)
        }
    }
}
