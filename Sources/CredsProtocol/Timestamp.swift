import Glibc

/// A point in time: microseconds since the Unix epoch, shown as RFC 3339 UTC. Stored (and encoded) as that
/// one integer, so records written before this type read the same.
///
/// Arithmetic takes a `Duration`. `+` is for amounts credsd chose or already bounded (a grant's checked ttl, a
/// state's lifetime); anything a caller or a provider sent goes through `adding(_:)`, which answers nil instead of
/// trapping (SPEC section 7).
public struct Timestamp: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let microseconds: Int64

    public init(microseconds: Int64) {
        self.microseconds = microseconds
    }

    /// The start of second `seconds` since the epoch; nil when that is not representable.
    public init?(seconds: Int64) {
        let (micros, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
        guard !overflow else { return nil }
        self.microseconds = micros
    }

    /// Now.
    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(microseconds: Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1_000)
    }

    /// Whole seconds since the epoch (rounded down).
    public var seconds: Int64 {
        let (quotient, remainder) = microseconds.quotientAndRemainder(dividingBy: 1_000_000)
        return remainder < 0 ? quotient - 1 : quotient
    }

    /// `2026-11-27T22:54:44Z`.
    public var rfc3339: String {
        var seconds = time_t(self.seconds)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))Z"
    }

    public var description: String { rfc3339 }

    /// Whole seconds from `earlier` to this time (rounded toward zero).
    public func seconds(since earlier: Timestamp) -> Int64 {
        (microseconds &- earlier.microseconds) / 1_000_000
    }

    /// This time moved by `duration`; nil when the result is not representable.
    public func adding(_ duration: Duration) -> Timestamp? {
        guard let micros = Self.microseconds(of: duration) else { return nil }
        let (sum, overflow) = microseconds.addingReportingOverflow(micros)
        return overflow ? nil : Timestamp(microseconds: sum)
    }

    /// A duration in whole microseconds; nil when it does not fit.
    static func microseconds(of duration: Duration) -> Int64? {
        let (seconds, attoseconds) = duration.components
        let (micros, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
        guard !overflow else { return nil }
        let (sum, carry) = micros.addingReportingOverflow(attoseconds / 1_000_000_000_000)
        return carry ? nil : sum
    }

    public static func + (time: Timestamp, duration: Duration) -> Timestamp {
        Timestamp(microseconds: time.microseconds + microseconds(of: duration)!)
    }

    public static func - (time: Timestamp, duration: Duration) -> Timestamp {
        Timestamp(microseconds: time.microseconds - microseconds(of: duration)!)
    }

    /// How long from `earlier` to `later`.
    public static func - (later: Timestamp, earlier: Timestamp) -> Duration {
        .microseconds(later.microseconds &- earlier.microseconds)
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.microseconds < rhs.microseconds
    }

    public init(from decoder: any Decoder) throws {
        microseconds = try decoder.singleValueContainer().decode(Int64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(microseconds)
    }

    /// Reads an RFC 3339 time: `2026-11-27T22:54:44Z`, with optional fraction (`.5`, up to microseconds
    /// kept) and a `Z` or `±hh:mm` offset. Anything else, or a field out of range, is nil.
    ///
    /// Written out rather than left to `ISO8601DateFormatter`, which took `2e26-01-01T00:00:00Z` for a year far
    /// enough away that converting it to microseconds trapped (found by `make fuzz`).
    public static func parse(_ text: String) -> Timestamp? {
        var reader = DigitReader(Array(text.utf8))
        guard let year = reader.number(4), reader.skip("-"), let month = reader.number(2), reader.skip("-"),
            let day = reader.number(2), reader.skip("T") || reader.skip("t"),
            let hour = reader.number(2), reader.skip(":"), let minute = reader.number(2), reader.skip(":"),
            let second = reader.number(2)
        else { return nil }
        var micros: Int64 = 0
        if reader.skip(".") {
            var digits = 0
            while let digit = reader.number(1) {
                if digits < 6 { micros = micros * 10 + Int64(digit) }
                digits += 1
            }
            guard digits > 0 else { return nil }
            for _ in min(digits, 6)..<6 { micros *= 10 }
        }
        var offsetMinutes = 0
        if !(reader.skip("Z") || reader.skip("z")) {
            guard let sign = reader.sign(), let offsetHours = reader.number(2), reader.skip(":"),
                let offsetMinutesPart = reader.number(2), offsetHours < 24, offsetMinutesPart < 60
            else { return nil }
            offsetMinutes = sign * (offsetHours * 60 + offsetMinutesPart)
        }
        guard reader.atEnd, (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
            hour < 24, minute < 60, second <= 60
        else { return nil }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3_600 + minute * 60 + second) - Int64(offsetMinutes * 60)
        return Timestamp(microseconds: seconds * 1_000_000 + micros)
    }

    /// Days from 1970-01-01 to the given proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
