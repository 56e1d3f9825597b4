import Foundation
import PagodaJSON

/// A day of the ISO week, Monday = 1 through Sunday = 7.
///
/// Raw values follow ISO 8601 numbering. Use `init?(abbreviation:)` to parse the
/// spellings used in rule files.
public enum Weekday: Int, Sendable, CaseIterable, Hashable {
    case monday = 1
    case tuesday, wednesday, thursday, friday, saturday, sunday

    /// Parses a lowercase weekday name: "mon"…"sun" or the full name "monday"…"sunday".
    ///
    /// Matching is exact and case-sensitive (rule files use lowercase); any other
    /// spelling, including surrounding whitespace or "Mon", returns nil.
    public init?(abbreviation: String) {
        switch abbreviation {
        case "mon", "monday": self = .monday
        case "tue", "tuesday": self = .tuesday
        case "wed", "wednesday": self = .wednesday
        case "thu", "thursday": self = .thursday
        case "fri", "friday": self = .friday
        case "sat", "saturday": self = .saturday
        case "sun", "sunday": self = .sunday
        default: return nil
        }
    }

    /// The three-letter lowercase abbreviation ("mon"…"sun").
    ///
    /// Always round-trips through `init?(abbreviation:)`.
    public var abbreviation: String {
        switch self {
        case .monday: return "mon"
        case .tuesday: return "tue"
        case .wednesday: return "wed"
        case .thursday: return "thu"
        case .friday: return "fri"
        case .saturday: return "sat"
        case .sunday: return "sun"
        }
    }

    /// The weekday of a day number (days since 1970-01-01, a Thursday).
    ///
    /// Works for any Int, including negative day numbers.
    static func of(dayNumber: Int) -> Weekday {
        // 1970-01-01 is a Thursday (ISO 4); index 0 = Monday.
        let index = CalendarMath.floorMod(CalendarMath.floorMod(dayNumber, 7) + 3, 7)
        return Weekday(rawValue: index + 1)!
    }
}

/// A calendar date without time or zone, in the proleptic Gregorian calendar.
///
/// Ordering is chronological. Years are limited to ±`CivilDate.maxYear` so day-number
/// arithmetic can never overflow; constructing a date outside that range fails
/// (`init?`) or is clamped (`init(dayNumber:)`).
public struct CivilDate: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The (proleptic Gregorian) year; may be zero or negative (astronomical numbering).
    public let year: Int
    /// The month, 1...12.
    public let month: Int
    /// The day of the month, 1...31.
    public let day: Int
    /// Days since 1970-01-01 (negative before it).
    public let dayNumber: Int

    /// Largest absolute year accepted by `init?(year:month:day:)`.
    public static let maxYear = 1_000_000_000
    /// Largest absolute day number accepted by `init(dayNumber:)`; larger values are clamped.
    public static let maxDayNumber = 365_242_500_000

    /// Creates a date from its components; nil if the date does not exist.
    ///
    /// Fails for month outside 1...12, day outside the month's length (Feb 30,
    /// Feb 29 in a non-leap year, Apr 31) or |year| > `maxYear`.
    public init?(year: Int, month: Int, day: Int) {
        guard abs(year) <= CivilDate.maxYear, (1...12).contains(month),
            day >= 1, day <= CivilDate.daysInMonth(year: year, month: month)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
        self.dayNumber = CivilDate.daysFromCivil(year: year, month: month, day: day)
    }

    /// Parses exactly "YYYY-MM-DD" (four-digit year, two-digit month and day, ASCII digits).
    ///
    /// Returns nil for any other shape ("2026-2-14", " 2026-02-14", "2026/02/14",
    /// signs, extra characters) and for dates that do not exist ("2026-02-30").
    public init?(iso: String) {
        let bytes = Array(iso.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let byte = bytes[index]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10) else { return nil }
        self.init(year: year, month: month, day: day)
    }

    /// Creates the date `dayNumber` days after 1970-01-01 (negative = before).
    ///
    /// Never fails: values beyond ±`maxDayNumber` are clamped to that bound.
    public init(dayNumber: Int) {
        let clamped = min(max(dayNumber, -CivilDate.maxDayNumber), CivilDate.maxDayNumber)
        // Howard Hinnant's civil_from_days.
        let z = clamped + 719_468
        let era = CalendarMath.floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        self.year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        self.month = month
        self.day = day
        self.dayNumber = clamped
    }

    /// The ISO weekday of this date.
    ///
    /// Computed arithmetically; never fails.
    public var weekday: Weekday { Weekday.of(dayNumber: dayNumber) }

    /// The date as "YYYY-MM-DD".
    ///
    /// Years outside 0...9999 are printed with as many digits as needed and a leading
    /// "-" when negative, so they do not round-trip through `init?(iso:)`.
    public var description: String {
        let yearText: String
        if year >= 0 {
            let digits = String(year)
            yearText = String(repeating: "0", count: max(0, 4 - digits.count)) + digits
        } else {
            yearText = "-" + String(-year)
        }
        return yearText + "-" + (month < 10 ? "0" : "") + String(month) + "-" + (day < 10 ? "0" : "") + String(day)
    }

    /// The date `days` days later (earlier when negative).
    ///
    /// Clamped like `init(dayNumber:)`.
    public func adding(days: Int) -> CivilDate {
        CivilDate(dayNumber: CalendarMath.saturatingAdd(dayNumber, days))
    }

    /// Chronological order.
    public static func < (lhs: CivilDate, rhs: CivilDate) -> Bool { lhs.dayNumber < rhs.dayNumber }

    /// Whether `year` is a Gregorian leap year (divisible by 4, except centuries not divisible by 400).
    public static func isLeapYear(_ year: Int) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    /// Number of days in `month` of `year`; 0 for a month outside 1...12.
    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 1, 3, 5, 7, 8, 10, 12: return 31
        case 4, 6, 9, 11: return 30
        case 2: return isLeapYear(year) ? 29 : 28
        default: return 0
        }
    }

    /// Howard Hinnant's days_from_civil (valid for any validated date).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = CalendarMath.floorDiv(y, 400)
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

/// Integer helpers shared by the calendar files (namespaced to avoid module-level collisions).
enum CalendarMath {
    /// Floor division (rounds toward negative infinity); `b` must be positive.
    @inline(__always)
    static func floorDiv(_ a: Int, _ b: Int) -> Int {
        let q = a / b
        return (a % b != 0 && a < 0) ? q - 1 : q
    }

    /// Non-negative remainder of floor division; `b` must be positive.
    @inline(__always)
    static func floorMod(_ a: Int, _ b: Int) -> Int {
        let r = a % b
        return r < 0 ? r + b : r
    }

    /// `a + b`, saturating at Int.min / Int.max instead of trapping.
    @inline(__always)
    static func saturatingAdd(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? Int.max : Int.min) : sum
    }
}
