import CredsProtocol

/// A workspace's budget for one provider's platform keys (SPEC 12): limits on what `built_in` resolutions may
/// use in each `period`, and per minute. An absent limit does not apply.
///
/// Stored as `period,maxResolves,maxUnits,perMinute` with empty fields for absent limits: read on every built-in
/// resolve of a workspace, where a JSON decoder would cost more than the rest of the decision.
struct Budget: Sendable, Equatable {
    var period: BudgetPeriod
    var maxResolves: Int64?
    var maxUnits: Int64?
    var perMinute: Int64?

    init(period: BudgetPeriod, maxResolves: Int64?, maxUnits: Int64?, perMinute: Int64?) {
        self.period = period
        self.maxResolves = maxResolves
        self.maxUnits = maxUnits
        self.perMinute = perMinute
    }

    /// A stored budget; nil for bytes that do not read as one.
    init?(stored bytes: [UInt8]) {
        let parts = bytes.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
        guard parts.count == 4, let period = BudgetPeriod(rawValue: String(decoding: parts[0], as: UTF8.self))
        else { return nil }
        func limit(_ part: ArraySlice<UInt8>) -> Int64?? {
            guard !part.isEmpty else { return .some(nil) }
            guard let value = Int64(String(decoding: part, as: UTF8.self)), value >= 0 else { return nil }
            return .some(value)
        }
        guard let maxResolves = limit(parts[1]), let maxUnits = limit(parts[2]), let perMinute = limit(parts[3])
        else { return nil }
        self.init(period: period, maxResolves: maxResolves, maxUnits: maxUnits, perMinute: perMinute)
    }

    var stored: [UInt8] {
        let fields = [maxResolves, maxUnits, perMinute].map { $0.map(String.init) ?? "" }
        return Array(([period.rawValue] + fields).joined(separator: ",").utf8)
    }

    /// The limits as `budgets.get` answers them (absent ones as null).
    var limits: [String: JSONValue] {
        [
            "period": .string(period.rawValue),
            "maxResolves": maxResolves.map { .int($0) } ?? .null,
            "maxUnits": maxUnits.map { .int($0) } ?? .null,
            "perMinute": perMinute.map { .int($0) } ?? .null,
        ]
    }
}
