import CredsCatalog
import CredsProtocol
import CredsStore

extension ResolutionService {
    /// Applies the resolution rules of SPEC section 6 to the stored state, without decrypting anything.
    func decide(
        _ txn: borrowing Transaction,
        provider: Provider,
        workspaceId: Identifier,
        connectionId: Identifier?,
        secrets: EngineSecrets,
        consume: Bool
    ) throws -> RoutingDecision {
        let named = try connectionId.map { id in
            try core.ownedConnection(txn, id: id, workspaceId: workspaceId, provider: provider.identifier)
        }
        if let named, named.status != .active {
            throw RPCError(
                .connectionUnavailable,
                "the connection is \(named.status.rawValue)",
                data: ["connectionId": named.id.json, "status": .string(named.status.rawValue)]
            )
        }
        let routing: RoutingPolicy? =
            provider.mode == .service
            ? try core.database.routingPolicy(txn, workspaceId: workspaceId, provider: provider.identifier) : nil
        let policy = routing?.mode
        let pool = secrets.builtinKeys[provider.id]
        if policy == .builtIn {
            guard let pool else {
                throw RPCError(
                    .builtinUnavailable, "the platform has no built-in \(provider.displayName) key",
                    data: ["provider": .string(provider.id)]
                )
            }
            let key = try nextKey(pool, provider: provider, workspaceId: workspaceId)
            if let refusal = try budgetRefusal(
                txn, provider: provider, workspaceId: workspaceId, fallbackReason: nil, consume: consume)
            {
                throw refused(refusal, provider: provider, workspaceId: workspaceId, consume: consume)
            }
            return RoutingDecision(
                provider: provider, workspaceId: workspaceId, policy: policy, source: .builtIn, connection: nil,
                fallbackReason: nil, builtinKey: key)
        }
        let all =
            named == nil
            ? try core.database.connections(txn, workspaceId: workspaceId, provider: provider.identifier) : []
        if let connection = named ?? Self.newestActive(all) {
            let cooling = core.health.coolingDown(.connection(connection.id), version: connection.authorizationVersion)
            // `auto` with `fallbackOn` naming why the key cools down: the platform's key meanwhile (SPEC 12), unless
            // the caller named the connection, or every platform key is cooling too (then the connection serves).
            // A spent budget leaves the call to the connection too (SPEC 12: the workspace's active key serves).
            if let cooling, named == nil, policy == .auto, let pool,
                routing?.fallbackOn.contains(cooling.reason) == true,
                let key = try? nextKey(pool, provider: provider, workspaceId: workspaceId),
                try budgetRefusal(
                    txn, provider: provider, workspaceId: workspaceId, fallbackReason: Self.coolingFallback,
                    consume: consume) == nil
            {
                return RoutingDecision(
                    provider: provider, workspaceId: workspaceId, policy: policy, source: .builtIn, connection: nil,
                    fallbackReason: Self.coolingFallback, coolingDownUntil: cooling.until, builtinKey: key)
            }
            if cooling == nil, consume, core.health.fallbackEnded(connection.id) {
                core.usage.record([EventDraft.fallbackEnded(connection, reason: "cooldown_ended")])
            }
            return RoutingDecision(
                provider: provider, workspaceId: workspaceId, policy: policy, source: .byo, connection: connection,
                fallbackReason: nil, coolingDownUntil: cooling?.until)
        }
        let newest = Self.newest(all)
        if policy == .auto, let pool {
            let key = try nextKey(pool, provider: provider, workspaceId: workspaceId)
            let reason = Self.fallbackReason(newest)
            if let refusal = try budgetRefusal(
                txn, provider: provider, workspaceId: workspaceId, fallbackReason: reason, consume: consume)
            {
                throw refused(refusal, provider: provider, workspaceId: workspaceId, consume: consume)
            }
            return RoutingDecision(
                provider: provider, workspaceId: workspaceId, policy: policy, source: .builtIn, connection: nil,
                fallbackReason: reason, builtinKey: key)
        }
        if provider.mode == .oauthUser, let newest, newest.status == .error {
            throw RPCError(
                .reauthRequired, "the connection needs to be authorized again",
                data: ["connectionId": newest.id.json]
            )
        }
        throw RPCError(
            .noCredential,
            "workspace has no usable \(provider.displayName) credential",
            data: ["provider": .string(provider.id), "policy": policy.map { .string($0.rawValue) } ?? .null]
        )
    }

    /// The pool's next key in turn that is not cooling down for this workspace; when every one is, `rate_limited`
    /// with the seconds until the first is free again (SPEC 12).
    private func nextKey(_ pool: BuiltinPool, provider: Provider, workspaceId: Identifier) throws(RPCError)
        -> BuiltinPool.Key
    {
        let count = pool.keys.count
        let start = core.nextBuiltinTurn() % count
        var soonest: Timestamp?
        for offset in 0..<count {
            let key = pool.keys[(start + offset) % count]
            guard let until = core.health.coolingDown(.builtinKey(workspace: workspaceId, keyId: key.id))?.until else {
                return key
            }
            soonest = min(soonest ?? until, until)
        }
        let wait = (soonest?.microseconds ?? 0) &- Timestamp.now().microseconds
        throw RPCError(
            .rateLimited, "every platform \(provider.displayName) key is cooling down after reported failures",
            data: [
                "provider": .string(provider.id),
                "retryAfterSeconds": .int(max(1, (wait + 999_999) / 1_000_000)),
            ])
    }

    static let coolingFallback = "connection_cooling_down"

    /// The workspace's budget on a built-in resolve (SPEC 12): nil when it admits it (counted, when `consume`:
    /// `explain` only asks), else the refusal (`budget_exhausted`, `rate_limited`).
    private func budgetRefusal(
        _ txn: borrowing Transaction,
        provider: Provider,
        workspaceId: Identifier,
        fallbackReason: String?,
        consume: Bool
    ) throws -> RPCError? {
        let budget = try core.database.budget(txn, workspaceId: workspaceId, provider: provider.identifier)
        let key = UsageLedger.Key(workspaceId: workspaceId, provider: provider.identifier)
        return try core.usage.admitBuiltIn(
            key, budget: budget, fallbackReason: fallbackReason, now: .now(), consume: consume
        ) { today in
            try core.database.storedUse(txn, key, today: today)
        }
    }

    /// A budget's refusal as the answer: counted in usage (when `consume`), with the provider named.
    private func refused(_ refusal: RPCError, provider: Provider, workspaceId: Identifier, consume: Bool) -> RPCError {
        if consume {
            core.usage.countRefusal(
                UsageLedger.Key(workspaceId: workspaceId, provider: provider.identifier), reason: refusal.reason,
                now: .now())
        }
        var data = refusal.data
        data["provider"] = .string(provider.id)
        return RPCError(refusal.reason, refusal.message, data: data)
    }

    /// The newest active record, in one pass (no filtered copy: this runs on every resolve).
    private static func newestActive(_ records: [ConnectionRecord]) -> ConnectionRecord? {
        var newest: ConnectionRecord?
        for record in records where record.status == .active {
            if newest.map({ record.isNewer(than: $0) }) ?? true { newest = record }
        }
        return newest
    }

    private static func newest(_ records: [ConnectionRecord]) -> ConnectionRecord? {
        records.max { !$0.isNewer(than: $1) }
    }

    private static func fallbackReason(_ newest: ConnectionRecord?) -> String {
        switch newest?.status {
        case .revoked: return "connection_revoked"
        case .error: return "connection_error"
        default: return "no_connection"
        }
    }
}
