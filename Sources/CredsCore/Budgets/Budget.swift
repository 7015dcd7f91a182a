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

    /// A stored budget; nil for bytes that do not read as one. Read byte by byte, without a string: it runs on
    /// every built-in resolve of a workspace with a budget.
    init?(stored bytes: [UInt8]) {
        var fields: [Int64?] = []
        fields.reserveCapacity(3)
        var period: BudgetPeriod?
        var start = 0
        for index in 0...bytes.count where index == bytes.count || bytes[index] == UInt8(ascii: ",") {
            let part = bytes[start..<index]
            start = index + 1
            guard period != nil else {
                period = part.elementsEqual("day".utf8) ? .day : part.elementsEqual("month".utf8) ? .month : nil
                guard period != nil else { return nil }
                continue
            }
            guard part.count <= 19 else { return nil }
            var value: Int64?
            for byte in part {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                let (times, overflow) = (value ?? 0).multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
                guard !overflow, !overflow2 else { return nil }
                value = sum
            }
            fields.append(value)
        }
        guard let period, fields.count == 3 else { return nil }
        self.init(period: period, maxResolves: fields[0], maxUnits: fields[1], perMinute: fields[2])
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
