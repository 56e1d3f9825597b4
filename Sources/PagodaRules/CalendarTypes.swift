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
