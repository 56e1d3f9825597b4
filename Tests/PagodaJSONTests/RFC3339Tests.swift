import Foundation
import Testing

@testable import PagodaJSON

@Suite("RFC 3339")
struct RFC3339Tests {
    @Test(arguments: [
        // (input, unix seconds, offset seconds)
        ("2026-03-02T09:53:00+08:00", 1_772_416_380.0, 28_800),
        ("2026-03-02T01:53:00Z", 1_772_416_380.0, 0),
        ("2026-03-02t01:53:00z", 1_772_416_380.0, 0),
        ("2026-03-01T20:23:00-05:30", 1_772_416_380.0, -19_800),
        ("2026-03-02T01:53:00-00:00", 1_772_416_380.0, 0),
        ("2026-03-02T01:53:00+00:00", 1_772_416_380.0, 0),
        ("2026-03-02T09:53:00.5+08:00", 1_772_416_380.5, 28_800),
        ("2026-03-02T09:53:00.250+08:00", 1_772_416_380.25, 28_800),
        ("2026-03-02T09:53:00.000000001+08:00", 1_772_416_380.000000001, 28_800),
        ("2026-03-02T09:53:00.1234567891234+08:00", 1_772_416_380.123456789, 28_800),
        ("2024-02-29T12:00:00Z", 1_709_208_000.0, 0),
        ("2000-02-29T00:00:00Z", 951_782_400.0, 0),
        ("1970-01-01T00:00:00Z", 0.0, 0),
        ("1969-12-31T23:59:59Z", -1.0, 0),
        ("0001-01-01T00:00:00Z", -62_135_596_800.0, 0),
        ("2026-12-31T23:59:59+23:59", 1_798_675_259.0, 86_340),
    ])
    func parsesValidTimestamps(input: String, unix: Double, offset: Int) throws {
        let r = try #require(RFC3339.parse(input))
        #expect(abs(r.date.timeIntervalSince1970 - unix) < 1e-6)
        #expect(r.offsetSeconds == offset)
    }

    @Test(arguments: [
        "",
        "2026-03-02",
        "2026-03-02T09:53:00",  // no offset
        "2026-03-02T09:53+08:00",  // no seconds
        "2026-03-02 09:53:00+08:00",  // space separator
        "2026-03-02T09:53:00+0800",
        "2026-03-02T09:53:00+08",
        "2026-03-02T09:53:00 +08:00",
        " 2026-03-02T09:53:00+08:00",
        "2026-03-02T09:53:00+08:00 ",
        "2026-03-02T09:53:00+08:00\n",
        "2026-02-30T00:00:00Z",  // no Feb 30
        "2026-02-29T00:00:00Z",  // 2026 is not a leap year
        "1900-02-29T00:00:00Z",  // century rule
        "2026-04-31T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-10T00:00:00Z",
        "2026-01-00T00:00:00Z",
        "2026-03-02T24:00:00Z",  // hour 24
        "2026-03-02T23:60:00Z",
        "2026-03-02T23:59:60Z",  // leap seconds rejected
        "2026-03-02T09:53:00+24:00",
        "2026-03-02T09:53:00+08:60",
        "2026-03-02T09:53:00.+08:00",
        "2026-03-02T09:53:00,5+08:00",
        "2026-03-02T09:53:00Z+08:00",
        "26-03-02T09:53:00+08:00",
        "+2026-03-02T09:53:00+08:00",
        "2026/03/02T09:53:00+08:00",
        "２０２６-03-02T09:53:00+08:00",
        "2026-03-02T09:53:00.5",
        "0000-01-01T00:00:00Z",  // year 0 rejected
        "0000-02-29T00:00:00Z",
    ])
    func rejectsInvalidTimestamps(input: String) {
        #expect(RFC3339.parse(input) == nil)
    }

    @Test(arguments: [
        // (unix seconds, offset, expected)
        (1_772_416_380.0, 28_800, "2026-03-02T09:53:00+08:00"),
        (1_772_416_380.0, 0, "2026-03-02T01:53:00+00:00"),
        (1_772_416_380.0, -19_800, "2026-03-01T20:23:00-05:30"),
        (1_772_416_380.999, 28_800, "2026-03-02T09:53:00+08:00"),  // whole seconds, truncated
        (0.0, 0, "1970-01-01T00:00:00+00:00"),
        (-0.5, 0, "1969-12-31T23:59:59+00:00"),  // rounded toward the past
        (1_709_208_000.0, 0, "2024-02-29T12:00:00+00:00"),
        (1_772_416_380.0, 28_830, "2026-03-02T09:53:00+08:00"),  // offset truncated to minutes
        (1_772_416_380.0, 200_000, "2026-03-03T01:52:00+23:59"),  // offset clamped
        (1e15, 0, "9999-12-31T23:59:59+00:00"),  // clamped to year 9999
        (-1e15, 0, "0001-01-01T00:00:00+00:00"),
    ])
    func formats(unix: Double, offset: Int, expected: String) {
        #expect(RFC3339.format(Date(timeIntervalSince1970: unix), offsetSeconds: offset) == expected)
    }

    @Test(arguments: [
        "2026-03-02T09:53:00+08:00", "2026-03-01T20:23:00-05:30", "2024-02-29T23:59:59+00:00",
        "1999-12-31T23:59:59-12:00", "2100-03-01T00:00:00+14:00", "0001-01-01T00:00:00+00:00",
    ])
    func roundTrips(input: String) throws {
        let r = try #require(RFC3339.parse(input))
        #expect(RFC3339.format(r.date, offsetSeconds: r.offsetSeconds) == input)
    }

    @Test func everyDayOf400YearsRoundTrips() throws {
        // Civil-date arithmetic agrees with itself over a full Gregorian cycle.
        var days = RFC3339.daysFromCivil(2000, 1, 1)
        for y in 2000..<2400 {
            for m in 1...12 {
                for d in 1...RFC3339.daysInMonth(y, m) {
                    #expect(RFC3339.daysFromCivil(y, m, d) == days)
                    let c = RFC3339.civilFromDays(days)
                    if c != (y, m, d) { Issue.record("civilFromDays(\(days)) = \(c), want \(y)-\(m)-\(d)") }
                    days += 1
                }
            }
        }
    }

    @Test func agreesWithFoundationFormatter() throws {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        for s in ["2026-03-02T09:53:00+08:00", "2024-02-29T12:00:00Z", "1999-12-31T23:59:59-05:00"] {
            let mine = try #require(RFC3339.parse(s))
            let theirs = try #require(f.date(from: s))
            #expect(mine.date == theirs)
        }
    }
}
