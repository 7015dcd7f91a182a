import CredsCatalog
public import CredsProtocol
import CredsCrypto
import CredsStore
public import NIOCore

/// Resolution: which credential serves a call under the workspace's routing policy (`resolve`, and `explain`
/// for people asking why).
struct ResolutionService: Sendable {
    let core: EngineCore
    let grants: GrantService
    let tokens: TokenService

    /// `resolve`: the credential and headers for a provider in a workspace, under its routing policy.
    /// API keys are answered at once, on the event loop; OAuth tokens may need a refresh first.
    func resolve(_ params: ResolveParams, context: CallContext) -> MethodReply {
        // One look at the reloadable secrets per request: a SIGHUP meanwhile cannot contradict the decision.
        let secrets = core.secrets
        let decision: RoutingDecision
        do throws(RPCError) {
            decision = try core.read { txn in
                // The grant first: nothing a caller without one sends (a provider id, say) reaches an audit entry.
                try grants.check(txn, grant: params.grant, workspaceId: params.workspaceId, provider: params.provider)
                if let refusal = core.cluster?.readRefusal() { throw refusal }
                let provider = try core.catalog.connectableProvider(params.provider)
                return try decide(
                    txn, provider: provider, workspaceId: params.workspaceId, connectionId: params.connectionId,
                    secrets: secrets, consume: true)
            }
        } catch {
            return .now(.failure(error))
        }
        guard decision.provider.mode == .oauthUser, let connection = decision.connection else {
            return .now { () throws(RPCError) in
                let fields = try credentialFields(decision, secrets: secrets)
                let receipt = ResolveReceipt(decision: decision, fields: fields, token: nil)
                countByo(decision)
                return MethodAnswer(receipt, facts: facts(decision, params))
            }
        }
        let requiredScopes = params.requiredScopes
        return .later(
            tokens.accessToken(connection, context: context).flatMapThrowing { token in
                let missing = requiredScopes.filter { !Self.grants(token.scopes, $0) }
                guard missing.isEmpty else {
                    throw RPCError(
                        .insufficientScope, "the connection was not granted every required scope",
                        data: ["missing": .array(missing.map { .string($0) }), "connectionId": connection.id.json]
                    )
                }
                let receipt = ResolveReceipt(decision: decision, fields: ["accessToken": token.tokenText], token: token)
                countByo(decision)
                return MethodAnswer(receipt, facts: facts(decision, params))
            })
    }

    /// Counts a resolve the workspace's own credential served (built-in ones are counted as their budget admits
    /// them).
    private func countByo(_ decision: RoutingDecision) {
        guard decision.source == .byo else { return }
        core.usage.countByoResolve(
            UsageLedger.Key(workspaceId: decision.workspaceId, provider: decision.provider.identifier), now: .now())
    }

    /// The decision's facts; a connection the caller named stays in them when the platform's key served.
    private func facts(_ decision: RoutingDecision, _ params: ResolveParams) -> CallFacts {
        var facts = decision.facts
        if facts.connectionId == nil { facts.connectionId = params.connectionId }
        return facts
    }

    /// Whether `granted` covers `required`; a GitHub `name:write` permission also covers `name:read`.
    static func grants(_ granted: [String], _ required: String) -> Bool {
        granted.contains(required)
            || (required.hasSuffix(":read") && granted.contains(String(required.dropLast(5)) + ":write"))
    }

    /// `explain`: what `resolve` would decide, without the credential or a grant.
    func explain(_ params: ExplainParams, context: CallContext) -> MethodReply {
        .now { () throws(RPCError) in
            MethodAnswer(try explanation(params), facts: context.facts)
        }
    }

    private func explanation(_ params: ExplainParams) throws(RPCError) -> JSONValue {
        let workspaceId = params.workspaceId
        let connectionId = params.connectionId
        let provider = try core.catalog.connectableProvider(params.provider)
        let secrets = core.secrets
        return try core.read { txn in
            try core.authorize(txn, actor: params.actor, workspaceId: workspaceId, write: false)
            var result: [String: JSONValue] = ["workspaceId": workspaceId.json, "provider": .string(provider.id)]
            do {
                let decision = try decide(
                    txn, provider: provider, workspaceId: workspaceId, connectionId: connectionId, secrets: secrets,
                    consume: false)
                result.merge(decision.summary) { _, new in new }
                result["ok"] = true
            } catch let error as RPCError {
                result["ok"] = false
                result["reason"] = .string(error.reason.rawValue)
                result["message"] = .string(error.message)
                result["source"] = .null
                result["mode"] = .string(provider.mode.rawValue)
                result["policy"] =
                    provider.mode == .service
                    ? .string(
                        try core.database.routingMode(txn, workspaceId: workspaceId, provider: provider.identifier)
                            .rawValue)
                    : .null
                result["connectionId"] = error.data["connectionId"] ?? connectionId?.json ?? .null
            }
            return .object(result)
        }
    }

    /// The decrypted credential fields for a decision. The strings live only for the answer being built.
    private func credentialFields(_ decision: RoutingDecision, secrets: EngineSecrets) throws(RPCError)
        -> [String: String]
    {
        guard let connection = decision.connection else {
            guard let key = decision.builtinKey else {
                throw RPCError(.builtinUnavailable, "the platform has no built-in key for this provider")
            }
            let apiKey = key.secret.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
            return ["apiKey": apiKey]
        }
        return try core.openPayload(connection, sealer: secrets.sealer)
    }
}
