import Foundation
import PagodaJSON

/// An SLA time allowance: natural (wall-clock) time, working days, or working time.
///
/// Text form is a positive whole number followed by exactly one lowercase unit, no spaces:
/// "30s", "15m", "2h", "3d" (natural), "3wd" (working days), "4wh" / "90wm" (working
/// hours / minutes). Apply it with `BusinessCalendar.deadline(after:from:)`.
public enum SLADuration: Hashable, Sendable, CustomStringConvertible {
    /// Plain elapsed time in seconds ("30s", "15m", "2h", "3d" = 259200 s).
    case natural(seconds: Int)
    /// Working days; due at the end of the Nth working day after receipt ("3wd").
    case workingDays(Int)
    /// Working time in minutes ("4wh" = 240, "90wm" = 90).
    case workingHours(minutes: Int)

    /// Largest amount accepted by `parse` (before unit conversion).
    public static let maxAmount = 1_000_000

    /// The units accepted by `parse`, as listed in error messages.
    static let unitList = "s, m, h, d, wd, wh or wm"

    /// Parses the text form, e.g. "3wd"; failure carries a message naming the offending text.
    ///
    /// Rules: ASCII digits only (no sign, no decimals, no spaces; leading zeros are
    /// tolerated), amount 1...`maxAmount`, then exactly one of the units s, m, h, d, wd,
    /// wh, wm (lowercase). Error messages, with `X` the input:
    /// - "invalid duration 'X': expected a number followed by s, m, h, d, wd, wh or wm"
    ///   (empty, no leading digit, or whitespace anywhere)
    /// - "invalid duration 'X': the amount must be a whole number" ("1.5h")
    /// - "invalid duration 'X': missing unit, expected s, m, h, d, wd, wh or wm" ("3")
    /// - "invalid duration 'X': unknown unit 'U', expected s, m, h, d, wd, wh or wm" ("3y", "3D")
    /// - "invalid duration 'X': the amount must be at least 1" ("0d")
    /// - "invalid duration 'X': the amount must be at most 1000000" ("1000001d")
    public static func parse(_ text: String) -> Result<SLADuration, SLADurationError> {
        func failure(_ reason: String) -> Result<SLADuration, SLADurationError> {
            .failure(SLADurationError(message: "invalid duration '\(text)': \(reason)"))
        }
        var general: String { "expected a number followed by \(unitList)" }
        let bytes = Array(text.utf8)
        let isDigit = { (byte: UInt8) in byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        guard let firstByte = bytes.first, isDigit(firstByte),
            !text.unicodeScalars.contains(where: { $0.properties.isWhitespace })
        else {
            return failure(general)
        }
        var index = 0
        var amount = 0
        var tooLarge = false
        while index < bytes.count, isDigit(bytes[index]) {
            if !tooLarge {
                amount = amount * 10 + Int(bytes[index] - UInt8(ascii: "0"))
                if amount > maxAmount { tooLarge = true }
            }
            index += 1
        }
        let unitBytes = bytes[index...]
        if let next = unitBytes.first, next == UInt8(ascii: "."), unitBytes.count > 1, isDigit(unitBytes[index + 1]) {
            return failure("the amount must be a whole number")
        }
        let unit = String(decoding: unitBytes, as: UTF8.self)
        let make: (Int) -> SLADuration
        switch unit {
        case "": return failure("missing unit, expected \(unitList)")
        case "s": make = { .natural(seconds: $0) }
        case "m": make = { .natural(seconds: $0 * 60) }
        case "h": make = { .natural(seconds: $0 * 3_600) }
        case "d": make = { .natural(seconds: $0 * 86_400) }
        case "wd": make = { .workingDays($0) }
        case "wh": make = { .workingHours(minutes: $0 * 60) }
        case "wm": make = { .workingHours(minutes: $0) }
        default: return failure("unknown unit '\(unit)', expected \(unitList)")
        }
        if tooLarge { return failure("the amount must be at most \(maxAmount)") }
        if amount == 0 { return failure("the amount must be at least 1") }
        return .success(make(amount))
    }

    /// Canonical text form using the coarsest exact unit, e.g. "2h", "3wd", "90wm".
    ///
    /// Every value produced by `parse` round-trips: `parse(d.description) == .success(d)`
    /// (the text may differ from the original, e.g. "120m" describes as "2h").
    /// Hand-built values with zero, negative or huge amounts print but do not parse back.
    public var description: String {
        switch self {
        case .natural(let seconds):
            if seconds != 0, seconds % 86_400 == 0 { return "\(seconds / 86_400)d" }
            if seconds != 0, seconds % 3_600 == 0 { return "\(seconds / 3_600)h" }
            if seconds != 0, seconds % 60 == 0 { return "\(seconds / 60)m" }
            return "\(seconds)s"
        case .workingDays(let days):
            return "\(days)wd"
        case .workingHours(let minutes):
            if minutes != 0, minutes % 60 == 0 { return "\(minutes / 60)wh" }
            return "\(minutes)wm"
        }
    }
}

/// Why an SLA duration text was rejected; `message` is user-facing and quotes the input.
///
/// See `SLADuration.parse(_:)` for the exact messages.
public struct SLADurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Human-readable explanation, e.g. "invalid duration 'x3d': expected a number followed by s, m, h, d, wd, wh or wm".
    public let message: String

    /// Wraps a message; performs no validation.
    public init(message: String) {
        self.message = message
    }

    /// The message itself.
    public var description: String { message }
}
