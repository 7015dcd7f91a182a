import CredsProtocol

/// What a workspace did with one provider on one UTC day (SPEC 12's `usage.get`): resolutions by source,
/// fallbacks to the platform key by reason, executors' reports by outcome, reported units by source, and
/// resolves refused by a budget, by reason. Every sum saturates: nothing a caller reports can make it trap.
///
/// Stored in LMDB as the JSON `usage.get` answers for the day (without the day and provider).
struct UsageCounts: Sendable, Equatable {
    var byoResolves: Int64 = 0
    var builtInResolves: Int64 = 0
    var byoUnits: Int64 = 0
    var builtInUnits: Int64 = 0
    /// By `fallbackReason`.
    var fallbacks: [String: Int64] = [:]
    /// By report `outcome`.
    var reports: [String: Int64] = [:]
    /// By refusal reason (`budget_exhausted`, `rate_limited`).
    var refused: [String: Int64] = [:]

    var isEmpty: Bool { self == UsageCounts() }

    /// The sum of every count (saturating): a host's figures for a day only grow, so a row shipped with less is an
    /// older one.
    var weight: Int64 {
        let parts =
            [byoResolves, builtInResolves, byoUnits, builtInUnits]
            + Array(fallbacks.values) + Array(reports.values) + Array(refused.values)
        return parts.reduce(0, Self.sum)
    }

    /// `self` with `other` added.
    mutating func add(_ other: UsageCounts) {
        byoResolves = Self.sum(byoResolves, other.byoResolves)
        builtInResolves = Self.sum(builtInResolves, other.builtInResolves)
        byoUnits = Self.sum(byoUnits, other.byoUnits)
        builtInUnits = Self.sum(builtInUnits, other.builtInUnits)
        fallbacks.merge(other.fallbacks, uniquingKeysWith: Self.sum)
        reports.merge(other.reports, uniquingKeysWith: Self.sum)
        refused.merge(other.refused, uniquingKeysWith: Self.sum)
    }

    /// `a + b`, held at `Int64.max`.
    static func sum(_ a: Int64, _ b: Int64) -> Int64 {
        let (total, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : total
    }

    /// The counts as `usage.get` answers them for one day.
    var json: [String: JSONValue] {
        [
            "resolves": ["byo": .int(byoResolves), "built_in": .int(builtInResolves)],
            "fallbacks": .object(fallbacks.mapValues { .int($0) }),
            "reports": .object(reports.mapValues { .int($0) }),
            "units": .int(Self.sum(byoUnits, builtInUnits)),
            "unitsBySource": ["byo": .int(byoUnits), "built_in": .int(builtInUnits)],
            "refused": .object(refused.mapValues { .int($0) }),
        ]
    }

    var stored: [UInt8] { JSONValue.object(json).serialized() }

    /// Counts stored by `stored`; what does not read as counts reads as none (a damaged row loses its day's
    /// figures, never the flush that adds to it).
    init(stored bytes: [UInt8]) {
        guard let object = (try? JSONValue.parse(bytes))?.objectValue else { return }
        func count(_ value: JSONValue?) -> Int64 { max(0, value?.intValue ?? 0) }
        func counts(_ value: JSONValue?) -> [String: Int64] {
            (value?.objectValue ?? [:]).compactMapValues { $0.intValue.map { max(0, $0) } }
        }
        let resolves = object["resolves"]?.objectValue
        let units = object["unitsBySource"]?.objectValue
        byoResolves = count(resolves?["byo"])
        builtInResolves = count(resolves?["built_in"])
        byoUnits = count(units?["byo"])
        builtInUnits = count(units?["built_in"])
        fallbacks = counts(object["fallbacks"])
        reports = counts(object["reports"])
        refused = counts(object["refused"])
    }

    init() {}
}
