public import CredsProtocol

/// Built-in use in a budget's windows: the UTC day `day` and the month it falls in. Counted by this host, or
/// (in cluster mode) summed over the other hosts (`OtherHostsUse` makes those sums). Sums saturate.
public struct WindowUse: Sendable, Equatable {
    public var day: UTCDay
    public var dayResolves: Int64 = 0
    public var dayUnits: Int64 = 0
    public var monthResolves: Int64 = 0
    public var monthUnits: Int64 = 0

    public init(day: UTCDay) {
        self.day = day
    }

    /// Moves the windows to `today`: a new day starts the day's counts again, a new month the month's too. An
    /// earlier day (a clock stepped back, a time read before a lock taken after midnight) changes nothing.
    mutating func roll(to today: UTCDay) {
        guard today > day else { return }
        if today.monthNumber != day.monthNumber {
            monthResolves = 0
            monthUnits = 0
        }
        dayResolves = 0
        dayUnits = 0
        day = today
    }

    func resolves(_ period: BudgetPeriod) -> Int64 { period == .day ? dayResolves : monthResolves }
    func units(_ period: BudgetPeriod) -> Int64 { period == .day ? dayUnits : monthUnits }

    /// Use of an earlier day of the month: counts in the month only.
    public mutating func addToMonth(resolves: Int64, units: Int64) {
        monthResolves = UsageCounts.sum(monthResolves, resolves)
        monthUnits = UsageCounts.sum(monthUnits, units)
    }

    /// Use of the day `day`: counts in the day and the month.
    public mutating func add(resolves: Int64, units: Int64) {
        dayResolves = UsageCounts.sum(dayResolves, resolves)
        dayUnits = UsageCounts.sum(dayUnits, units)
        addToMonth(resolves: resolves, units: units)
    }
}
