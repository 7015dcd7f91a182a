/// A calendar day in UTC, as days since 1970-01-01: the unit usage is counted in and budgets' windows are made of
/// (SPEC 12). Written as `2026-12-02`.
public struct UTCDay: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Days since 1970-01-01 (negative before).
    public let number: Int

    public init(number: Int) {
        self.number = number
    }

    /// The UTC day `time` falls in.
    public init(_ time: Timestamp) {
        let (quotient, remainder) = time.microseconds.quotientAndRemainder(dividingBy: Self.microsPerDay)
        number = Int(remainder < 0 ? quotient - 1 : quotient)
    }

    /// A day written `YYYY-MM-DD`; nil for anything else (or a date that does not exist).
    public init?(_ text: String) {
        var reader = DigitReader(Array(text.utf8))
        guard let year = reader.number(4), reader.skip("-"), let month = reader.number(2), reader.skip("-"),
            let day = reader.number(2), reader.atEnd, (1...12).contains(month),
            (1...Timestamp.daysIn(month: month, year: year)).contains(day)
        else { return nil }
        number = Timestamp.daysSinceEpoch(year: year, month: month, day: day)
    }

    static let microsPerDay: Int64 = 86_400_000_000

    /// Year, month (1-12) and day of the month (Howard Hinnant's `civil_from_days`).
    public var civil: (year: Int, month: Int, day: Int) {
        let z = number + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// The first day of this day's month.
    public var monthStart: UTCDay {
        let (year, month, _) = civil
        return UTCDay(number: Timestamp.daysSinceEpoch(year: year, month: month, day: 1))
    }

    /// The first day of the next month.
    public var nextMonthStart: UTCDay {
        let (year, month, _) = civil
        return UTCDay(
            number: Timestamp.daysSinceEpoch(year: month == 12 ? year + 1 : year, month: month % 12 + 1, day: 1))
    }

    /// A month's number (year × 12 + month − 1), to tell whether two days share a month.
    public var monthNumber: Int {
        let (year, month, _) = civil
        return year * 12 + month - 1
    }

    /// Midnight UTC at the start of this day.
    public var start: Timestamp { Timestamp(microseconds: Int64(number) &* Self.microsPerDay) }

    public func adding(days: Int) -> UTCDay { UTCDay(number: number &+ days) }

    /// `2026-12-02`.
    public var description: String {
        let (year, month, day) = civil
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    public static func < (lhs: UTCDay, rhs: UTCDay) -> Bool { lhs.number < rhs.number }
}
