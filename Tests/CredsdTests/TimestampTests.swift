import CredsProtocol
import Testing

@Suite("RFC 3339 times")
struct TimestampTests {
    @Test("known times, fractions and offsets")
    func knownTimes() {
        #expect(Timestamp.parse("1970-01-01T00:00:00Z")?.microseconds == 0)
        #expect(Timestamp.parse("2026-01-01T00:00:00Z")?.microseconds == 1_767_225_600_000_000)
        #expect(Timestamp.parse("2024-02-29T12:00:00.5Z")?.microseconds == 1_709_208_000_500_000)
        #expect(Timestamp.parse("2026-01-01T02:00:00+02:00")?.microseconds == 1_767_225_600_000_000)
        #expect(Timestamp.parse("2025-12-31T23:30:00-00:30")?.microseconds == 1_767_225_600_000_000)
        #expect(Timestamp.parse("2026-01-01t00:00:00.1234567z")?.microseconds == 1_767_225_600_123_456)
        #expect(Timestamp.parse("1969-12-31T23:59:59Z")?.microseconds == -1_000_000)
    }

    @Test(
        "anything else is refused, never trapped on",
        arguments: [
            "2e26-01-01T00:00:00Z", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
            "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z", "2026-01-01T00:00:00", "2026-01-01T00:00:00Zjunk",
            "2026-01-01 00:00:00Z", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00+2:00", "+2026-01-01T00:00:00Z",
            "", "9999-99-99T99:99:99Z", "2026-01-01T00:00:00+24:00",
        ])
    func refused(_ text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    @Test("arithmetic: whole seconds round down, checked adding refuses what does not fit, Duration both ways")
    func arithmetic() {
        #expect(Timestamp(microseconds: -1).seconds == -1)
        #expect(Timestamp(microseconds: 1_999_999).seconds == 1)
        #expect(Timestamp(seconds: Int64.max) == nil)
        #expect(Timestamp(seconds: 5)?.microseconds == 5_000_000)
        let start = Timestamp(microseconds: 1_767_225_600_000_000)
        #expect(start.adding(.seconds(3_600)) == start + .seconds(3_600))
        #expect(start.adding(.seconds(Int64.max)) == nil)
        #expect(Timestamp(microseconds: Int64.max - 1).adding(.microseconds(2)) == nil)
        #expect((start + .seconds(90)) - start == .seconds(90))
        #expect((start + .milliseconds(1_500)).seconds(since: start) == 1)
        #expect(start.rfc3339 == "2026-01-01T00:00:00Z")
    }

    @Test("what rfc3339 writes (through gmtime) reads back to the same second")
    func roundTrip() {
        var random = SplitMix64(seed: 7)
        for _ in 0..<2_000 {
            let seconds = Int64.random(in: -2_000_000_000...250_000_000_000, using: &random)
            #expect(
                Timestamp.parse(Timestamp(microseconds: seconds * 1_000_000).rfc3339)?.microseconds == seconds
                    * 1_000_000)
        }
    }
}

/// `UTCDay`: the days usage is counted in and budgets' windows are made of (SPEC 12).
@Suite("UTC days")
struct UTCDayTests {
    @Test("days round-trip through their text, months start and end where the calendar says")
    func calendar() {
        for number in stride(from: -800_000, through: 2_900_000, by: 997) {
            let day = UTCDay(number: number)
            guard day.number >= -719_162 else { continue }  // years before 0001 have no 4-digit text
            #expect(UTCDay(day.description) == day, "\(number)")
        }
        #expect(UTCDay("2026-12-02")?.description == "2026-12-02")
        #expect(UTCDay("2026-12-02")?.monthStart.description == "2026-12-01")
        #expect(UTCDay("2026-12-02")?.nextMonthStart.description == "2027-01-01")
        #expect(UTCDay("2024-02-29")?.adding(days: 1).description == "2024-03-01")
        #expect(UTCDay("2023-02-29") == nil)
        #expect(UTCDay("2026-13-01") == nil)
        #expect(UTCDay("2026-1-01") == nil)
        #expect(UTCDay("2026-12-02T00:00:00Z") == nil)
        #expect(UTCDay(Timestamp.parse("2026-12-02T23:59:59Z")!).description == "2026-12-02")
        #expect(UTCDay(Timestamp.parse("1969-12-31T23:59:59Z")!).description == "1969-12-31")
        #expect(UTCDay("2026-12-02")!.start.rfc3339 == "2026-12-02T00:00:00Z")
        #expect(UTCDay("2026-12-31")!.monthNumber + 1 == UTCDay("2027-01-01")!.monthNumber)
    }
}
