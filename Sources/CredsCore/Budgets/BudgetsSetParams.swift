import CredsProtocol

/// `budgets.set {workspaceId, provider, period, maxResolves?, maxUnits?, perMinute?, actor}`. Limits are whole
/// numbers from 0 (0 refuses every built-in resolve); none at all removes the budget.
struct BudgetsSetParams: MethodParams {
    let workspaceId: Identifier
    let provider: Identifier
    /// nil when no limit is given: the budget is removed.
    let budget: Budget?
    let actor: Identifier

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>?) throws(RPCError) {
        var workspaceId: Identifier?
        var provider: Identifier?
        var period: String?
        var maxResolves: Int64?
        var maxUnits: Int64?
        var perMinute: Int64?
        var actor: Identifier?
        try ParamsReader.read(bytes, range: range) { reader, name throws(RPCError) in
            switch name {
            case "workspaceId": workspaceId = try reader.identifier(name)
            case "provider": provider = try reader.identifier(name)
            case "period": period = try reader.string(name)
            case "maxResolves": maxResolves = try reader.int(name)
            case "maxUnits": maxUnits = try reader.int(name)
            case "perMinute": perMinute = try reader.int(name)
            case "actor": actor = try reader.identifier(name)
            default: return false
            }
            return true
        }
        self.workspaceId = try ParamsReader.required(workspaceId, "workspaceId")
        self.provider = try ParamsReader.required(provider, "provider")
        guard let parsed = BudgetPeriod(rawValue: try ParamsReader.required(period, "period")) else {
            throw RPCError.invalidParams("period must be day or month")
        }
        for (name, value) in [("maxResolves", maxResolves), ("maxUnits", maxUnits), ("perMinute", perMinute)] {
            if let value, value < 0 { throw RPCError.invalidParams("\(name) must be 0 or more") }
        }
        self.budget =
            maxResolves == nil && maxUnits == nil && perMinute == nil
            ? nil
            : Budget(period: parsed, maxResolves: maxResolves, maxUnits: maxUnits, perMinute: perMinute)
        self.actor = try ParamsReader.required(actor, "actor")
    }

    var facts: CallFacts { CallFacts(workspaceId: workspaceId, provider: provider, actor: actor) }
}
