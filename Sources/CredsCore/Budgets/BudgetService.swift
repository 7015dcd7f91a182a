import CredsCatalog
import CredsProtocol
import CredsStore

/// Budgets of built-in use per workspace and provider (SPEC 12): `budgets.set`, `budgets.get`. The resolves they
/// limit are admitted by `UsageLedger`.
struct BudgetService: Sendable {
    let core: EngineCore

    /// `budgets.set`: a workspace's limits for a provider's platform keys; no limit at all removes the budget.
    /// Counts are kept apart from budgets: setting one again starts nothing over.
    func set(_ params: BudgetsSetParams, context: CallContext) -> MethodReply {
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
            try core.database.putBudget(
                txn, workspaceId: params.workspaceId, provider: provider.identifier, params.budget)
            let result: JSONValue = [
                "workspaceId": params.workspaceId.json, "provider": .string(provider.id),
                "budget": params.budget.map { .object($0.limits) } ?? .null,
            ]
            return MethodAnswer(result, facts: facts)
        }
    }

    /// `budgets.get`: one provider's budget and use so far, or every budget of the workspace.
    func get(_ params: WorkspaceReadParams, context: CallContext) -> MethodReply {
        .now { () throws(RPCError) in
            let providers =
                try params.provider.map { id throws(RPCError) in [try core.catalog.apiKeyProvider(id)] }
                ?? core.catalog.providers.filter { $0.mode == .service && $0.isConnectable }
            let now = Timestamp.now()
            let answers = try core.read { txn in
                try core.authorize(txn, actor: params.actor, workspaceId: params.workspaceId, write: false)
                return try providers.compactMap { provider -> [String: JSONValue]? in
                    let budget = try core.database.budget(
                        txn, workspaceId: params.workspaceId, provider: provider.identifier)
                    guard budget != nil || params.provider != nil else { return nil }
                    return try describe(txn, params.workspaceId, provider, budget, now: now)
                }
            }
            let result: JSONValue
            if params.provider != nil, var answer = answers.first {
                answer["workspaceId"] = params.workspaceId.json
                result = .object(answer)
            } else {
                result = ["workspaceId": params.workspaceId.json, "budgets": .array(answers.map { .object($0) })]
            }
            return MethodAnswer(result, facts: context.facts)
        }
    }

    /// A provider's budget (or null), its use in the budget's window (the UTC day without one), and when that
    /// window starts again.
    private func describe(
        _ txn: borrowing Transaction, _ workspaceId: Identifier, _ provider: Provider, _ budget: Budget?,
        now: Timestamp
    ) throws -> [String: JSONValue] {
        let key = UsageLedger.Key(workspaceId: workspaceId, provider: provider.identifier)
        let use = try core.usage.use(key, now: now) { today in try core.database.storedUse(txn, key, today: today) }
        let period = budget?.period ?? .day
        let today = UTCDay(now)
        let resolves = UsageCounts.sum(use.local.resolves(period), use.others?.resolves(period) ?? 0)
        let units = UsageCounts.sum(use.local.units(period), use.others?.units(period) ?? 0)
        var answer: [String: JSONValue] = [
            "provider": .string(provider.id),
            "budget": budget.map { .object($0.limits) } ?? .null,
            "used": ["resolves": .int(resolves), "units": .int(units), "thisMinute": .int(use.minuteResolves)],
            "resetsAt": .string(period.end(of: today).start.rfc3339),
        ]
        if let budget {
            var remaining: [String: JSONValue] = [:]
            if let max = budget.maxResolves { remaining["resolves"] = .int(Swift.max(0, max &- resolves)) }
            if let max = budget.maxUnits { remaining["units"] = .int(Swift.max(0, max &- units)) }
            answer["remaining"] = .object(remaining)
        }
        if let cluster = core.cluster {
            // Other hosts' use as of the last exchange: what they served since may overshoot the budget (SPEC 12).
            answer["othersAsOf"] = cluster.usageSyncedAt.map { .string($0.rfc3339) } ?? .null
        }
        return answer
    }
}
