import Foundation
import PagodaJSON

/// A daily span of working time, in minutes since local midnight (`start < end <= 1440`).
///
/// Intervals are half-open: `[startMinute, endMinute)`. "24:00" is allowed as an end
/// to mean midnight at the end of the day.
public struct WorkingInterval: Hashable, Sendable, CustomStringConvertible {
    /// Start of the interval, minutes since local midnight (0...1439).
    public let startMinute: Int
    /// End of the interval (exclusive), minutes since local midnight (1...1440).
    public let endMinute: Int

    /// Creates an interval from minute offsets; nil unless `0 <= start < end <= 1440`.
    ///
    /// Empty or reversed intervals are rejected rather than normalised.
    public init?(startMinute: Int, endMinute: Int) {
        guard startMinute >= 0, startMinute < endMinute, endMinute <= 1440 else { return nil }
        self.startMinute = startMinute
        self.endMinute = endMinute
    }

    /// Parses exactly "HH:MM-HH:MM", e.g. "08:30-12:00".
    ///
    /// Hours and minutes must be two ASCII digits each; hours 00...24, minutes 00...59,
    /// "24:00" is the only valid 24-hour value. Returns nil for any other shape
    /// (spaces, "8:30-12:00", "12:00-08:30", "09:00-09:00").
    public init?(parsing text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 11, bytes[2] == UInt8(ascii: ":"), bytes[5] == UInt8(ascii: "-"),
            bytes[8] == UInt8(ascii: ":")
        else { return nil }
        func twoDigits(_ at: Int) -> Int? {
            let zero = UInt8(ascii: "0")
            let nine = UInt8(ascii: "9")
            guard bytes[at] >= zero, bytes[at] <= nine, bytes[at + 1] >= zero, bytes[at + 1] <= nine else { return nil }
            return Int(bytes[at] - zero) * 10 + Int(bytes[at + 1] - zero)
        }
        func minuteOfDay(_ at: Int) -> Int? {
            guard let hours = twoDigits(at), let minutes = twoDigits(at + 3), minutes < 60,
                hours < 24 || (hours == 24 && minutes == 0)
            else { return nil }
            return hours * 60 + minutes
        }
        guard let start = minuteOfDay(0), let end = minuteOfDay(6) else { return nil }
        self.init(startMinute: start, endMinute: end)
    }

    /// The interval as "HH:MM-HH:MM".
    ///
    /// Round-trips through `init?(parsing:)`.
    public var description: String {
        func clock(_ minute: Int) -> String {
            let h = minute / 60
            let m = minute % 60
            return (h < 10 ? "0" : "") + String(h) + ":" + (m < 10 ? "0" : "") + String(m)
        }
        return clock(startMinute) + "-" + clock(endMinute)
    }

    /// Length of the interval in minutes (always positive).
    public var minutes: Int { endMinute - startMinute }
}

/// A named public holiday covering the inclusive date range `from...to`.
///
/// A range may span weekends; a range with `from > to` covers no day at all.
public struct Holiday: Hashable, Sendable {
    /// First holiday date (inclusive).
    public let from: CivilDate
    /// Last holiday date (inclusive).
    public let to: CivilDate
    /// Display name, e.g. "春节".
    public let name: String

    /// Creates a holiday range; performs no validation.
    ///
    /// The rule loader is expected to reject `from > to`; if such a value reaches the
    /// calendar it is ignored (it covers no day).
    public init(from: CivilDate, to: CivilDate, name: String) {
        self.from = from
        self.to = to
        self.name = name
    }

    /// Whether `date` lies within `from...to` (false when `from > to`).
    public func contains(_ date: CivilDate) -> Bool {
        from <= date && date <= to
    }
}

/// A month and day that recur every year ("05-01"), the bounds of a yearly season of working hours.
///
/// Any day of a leap year is allowed, so "02-29" is valid; in other years it does not occur.
public struct MonthDay: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The month, 1...12.
    public let month: Int
    /// The day of the month, 1...31 (1...29 in February).
    public let day: Int

    /// Days of a leap year before each month.
    static let leapMonthStart = [0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335]

    /// Creates a month-day; nil unless the day exists in a leap year.
    public init?(month: Int, day: Int) {
        guard (1...12).contains(month), day >= 1, day <= CivilDate.daysInMonth(year: 2000, month: month) else {
            return nil
        }
        self.month = month
        self.day = day
    }

    /// Parses exactly "MM-DD" (two ASCII digits each); nil for any other shape or a day that never exists.
    public init?(parsing text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 5, bytes[2] == UInt8(ascii: "-") else { return nil }
        let digits = [bytes[0], bytes[1], bytes[3], bytes[4]]
        guard digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        let value = digits.map { Int($0 - UInt8(ascii: "0")) }
        self.init(month: value[0] * 10 + value[1], day: value[2] * 10 + value[3])
    }

    /// The month-day of `date`.
    public init(_ date: CivilDate) {
        month = date.month
        day = date.day
    }

    /// Position in a leap year: 01-01 is 0, 02-29 is 59, 12-31 is 365.
    public var ordinal: Int { MonthDay.leapMonthStart[month - 1] + day - 1 }

    /// The month-day at a leap-year `ordinal` (0...365).
    init(ordinal: Int) {
        let month = MonthDay.leapMonthStart.lastIndex { $0 <= ordinal }! + 1
        self.month = month
        self.day = ordinal - MonthDay.leapMonthStart[month - 1] + 1
    }

    public static func < (a: MonthDay, b: MonthDay) -> Bool { a.ordinal < b.ordinal }

    /// "MM-DD"; round-trips through `init?(parsing:)`.
    public var description: String {
        (month < 10 ? "0" : "") + String(month) + "-" + (day < 10 ? "0" : "") + String(day)
    }
}

/// Working hours that hold on some dates instead of the calendar's default `working_hours`: a season.
///
/// A yearly season repeats every year from one month-day to another (`10-01` to `04-30` wraps the year
/// end); a dated season holds once, between two dates. Where a dated season and a yearly one both hold,
/// the dated one wins.
public struct WorkingSeason: Hashable, Sendable {
    /// When the season holds.
    public enum Span: Hashable, Sendable {
        /// Every year from `from` through `to`, both inclusive; `to < from` wraps the year end.
        case yearly(from: MonthDay, to: MonthDay)
        /// Once, from `from` through `to`, both inclusive (`from <= to`).
        case dated(from: CivilDate, to: CivilDate)
    }

    /// The season's name as written ("summer", "夏令时"), for messages; may be empty.
    public let name: String
    /// When it holds.
    public let span: Span
    /// Its daily working intervals (sorted and merged by the calendar).
    public let workingHours: [WorkingInterval]

    /// Creates a season; performs no validation (the rule loader and `check` do).
    public init(name: String, span: Span, workingHours: [WorkingInterval]) {
        self.name = name
        self.span = span
        self.workingHours = workingHours
    }

    /// The leap-year ordinals (0...365) a yearly season covers, in order; empty for a dated season.
    public var ordinals: [Int] {
        guard case .yearly(let from, let to) = span else { return [] }
        if from <= to { return Array(from.ordinal...to.ordinal) }
        return Array(from.ordinal...365) + Array(0...to.ordinal)
    }
}
