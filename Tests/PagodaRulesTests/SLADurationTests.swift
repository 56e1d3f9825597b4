import Foundation
import PagodaJSON
import Testing

@testable import PagodaRules

@Suite struct SLADurationTests {
    @Test(arguments: [
        ("30s", SLADuration.natural(seconds: 30), "30s"),
        ("15m", .natural(seconds: 900), "15m"),
        ("2h", .natural(seconds: 7_200), "2h"),
        ("3d", .natural(seconds: 259_200), "3d"),
        ("90s", .natural(seconds: 90), "90s"),
        ("120m", .natural(seconds: 7_200), "2h"),
        ("48h", .natural(seconds: 172_800), "2d"),
        ("3wd", .workingDays(3), "3wd"),
        ("1wd", .workingDays(1), "1wd"),
        ("4wh", .workingHours(minutes: 240), "4wh"),
        ("90wm", .workingHours(minutes: 90), "90wm"),
        ("120wm", .workingHours(minutes: 120), "2wh"),
        ("007d", .natural(seconds: 604_800), "7d"),
        ("1000000d", .natural(seconds: 86_400_000_000), "1000000d"),
        ("1000000wd", .workingDays(1_000_000), "1000000wd"),
    ])
    func parsesValid(text: String, expected: SLADuration, description: String) throws {
        let parsed = try SLADuration.parse(text).get()
        #expect(parsed == expected)
        #expect(parsed.description == description)
        #expect(try SLADuration.parse(parsed.description).get() == parsed)
    }

    @Test(arguments: [
        ("x3d", "invalid duration 'x3d': expected a number followed by s, m, h, d, wd, wh or wm"),
        ("", "invalid duration '': expected a number followed by s, m, h, d, wd, wh or wm"),
        ("d", "invalid duration 'd': expected a number followed by s, m, h, d, wd, wh or wm"),
        ("-3d", "invalid duration '-3d': expected a number followed by s, m, h, d, wd, wh or wm"),
        ("+3d", "invalid duration '+3d': expected a number followed by s, m, h, d, wd, wh or wm"),
        ("3 d", "invalid duration '3 d': expected a number followed by s, m, h, d, wd, wh or wm"),
        (" 3d", "invalid duration ' 3d': expected a number followed by s, m, h, d, wd, wh or wm"),
        ("3d ", "invalid duration '3d ': expected a number followed by s, m, h, d, wd, wh or wm"),
        ("1.5h", "invalid duration '1.5h': the amount must be a whole number"),
        ("3", "invalid duration '3': missing unit, expected s, m, h, d, wd, wh or wm"),
        ("3D", "invalid duration '3D': unknown unit 'D', expected s, m, h, d, wd, wh or wm"),
        ("3y", "invalid duration '3y': unknown unit 'y', expected s, m, h, d, wd, wh or wm"),
        ("3wdx", "invalid duration '3wdx': unknown unit 'wdx', expected s, m, h, d, wd, wh or wm"),
        ("3dd", "invalid duration '3dd': unknown unit 'dd', expected s, m, h, d, wd, wh or wm"),
        ("3d3", "invalid duration '3d3': unknown unit 'd3', expected s, m, h, d, wd, wh or wm"),
        ("３d", "invalid duration '３d': expected a number followed by s, m, h, d, wd, wh or wm"),
        ("0d", "invalid duration '0d': the amount must be at least 1"),
        ("0wd", "invalid duration '0wd': the amount must be at least 1"),
        ("1000001d", "invalid duration '1000001d': the amount must be at most 1000000"),
        (
            "99999999999999999999999wh",
            "invalid duration '99999999999999999999999wh': the amount must be at most 1000000"
        ),
    ])
    func rejectsInvalid(text: String, message: String) {
        #expect(SLADuration.parse(text) == .failure(SLADurationError(message: message)))
    }

    @Test(arguments: [
        (SLADuration.natural(seconds: 0), "0s"), (.natural(seconds: 61), "61s"), (.workingDays(0), "0wd"),
        (.workingHours(minutes: 0), "0wm"), (.natural(seconds: -3_600), "-1h"),
    ])
    func describesHandBuiltValues(value: SLADuration, description: String) {
        #expect(value.description == description)
    }
}
