import CredsProtocol

/// The window a budget counts in (SPEC 12): a UTC day or a UTC month.
enum BudgetPeriod: String, Sendable, CaseIterable {
    case day, month

    /// The first day of the window `day` falls in.
    func start(of day: UTCDay) -> UTCDay {
        self == .day ? day : day.monthStart
    }

    /// The first day after that window: when its counts start again.
    func end(of day: UTCDay) -> UTCDay {
        self == .day ? day.adding(days: 1) : day.nextMonthStart
    }
}
