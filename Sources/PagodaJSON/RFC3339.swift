import Foundation

/// RFC 3339 timestamps with an explicit UTC offset, e.g. "2026-03-02T09:53:00+08:00".
///
/// Parsing accepts exactly `YYYY-MM-DD[Tt]HH:MM:SS[.fraction]([Zz]|[+-]HH:MM)`: four-digit year
/// 0001-9999 (0000 is rejected, as by most RFC 3339 libraries), real calendar dates (Gregorian, leap years honoured, so 2026-02-30 fails), hour 00-23
/// (24 fails), minute 00-59, second 00-59 (leap second 60 is rejected), any number (>= 1) of
/// fraction digits (nanosecond precision kept, further digits truncated), offset hours 00-23 and
/// minutes 00-59. "-00:00" is accepted as offset 0. A space instead of "T", a missing offset, or any
/// surrounding whitespace is rejected.
/// Formatting always emits whole seconds and a numeric offset: "+00:00", never "Z".
public enum RFC3339 {
    /// Parses an RFC 3339 timestamp with explicit offset; returns the instant and the offset in seconds east of UTC, or nil when invalid.
    ///
    /// See the type documentation for the accepted form. Never throws; any deviation returns nil.
    public static func parse(_ s: String) -> (date: Date, offsetSeconds: Int)? {
        var s = s
        return s.withUTF8 { parse(bytes: $0) }
    }

    /// Parses from UTF-8 bytes; same rules as `parse(_:)`.
    public static func parse(bytes b: UnsafeBufferPointer<UInt8>) -> (date: Date, offsetSeconds: Int)? {
        let n = b.count
        guard n >= 20 else { return nil }
        @inline(__always) func digit(_ i: Int) -> Int? {
            let c = b[i]
            return c >= 0x30 && c <= 0x39 ? Int(c - 0x30) : nil
        }
        @inline(__always) func two(_ i: Int) -> Int? {
            guard let a = digit(i), let c = digit(i + 1) else { return nil }
            return a * 10 + c
        }
        guard let y1 = two(0), let y2 = two(2), b[4] == 0x2D,
            let month = two(5), b[7] == 0x2D,
            let day = two(8), b[10] == 0x54 || b[10] == 0x74,
            let hour = two(11), b[13] == 0x3A,
            let minute = two(14), b[16] == 0x3A,
            let second = two(17)
        else { return nil }
        let year = y1 * 100 + y2
        guard year >= 1, (1...12).contains(month), day >= 1, day <= daysInMonth(year, month),
            hour <= 23, minute <= 59, second <= 59
        else { return nil }

        var i = 19
        var nanos = 0
        if b[i] == 0x2E {
            i += 1
            var digits = 0
            while i < n, let d = digit(i) {
                if digits < 9 { nanos = nanos * 10 + d }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            if digits < 9 { for _ in digits..<9 { nanos *= 10 } }
        }
        guard i < n else { return nil }
        let offset: Int
        switch b[i] {
        case 0x5A, 0x7A:  // Z z
            guard i + 1 == n else { return nil }
            offset = 0
        case 0x2B, 0x2D:  // + -
            guard i + 6 == n, let oh = two(i + 1), b[i + 3] == 0x3A, let om = two(i + 4), oh <= 23, om <= 59 else {
                return nil
            }
            offset = (b[i] == 0x2D ? -1 : 1) * (oh * 3600 + om * 60)
        default:
            return nil
        }
        let days = daysFromCivil(year, month, day)
        let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset
        let date = Date(timeIntervalSince1970: Double(secs) + Double(nanos) / 1_000_000_000)
        return (date, offset)
    }

    /// Formats `date` as "YYYY-MM-DDTHH:MM:SS±hh:mm" in the local time of `offsetSeconds` east of UTC.
    ///
    /// Fractional seconds are dropped (rounded toward the past). The offset is truncated toward zero to
    /// whole minutes and clamped to ±23:59; zero is written "+00:00" (never "Z"). Instants outside
    /// 0001-01-01...9999-12-31 local time are clamped to those bounds so the output is always valid RFC 3339.
    public static func format(_ date: Date, offsetSeconds: Int) -> String {
        String(unsafeUninitializedCapacity: formattedLength) { write(date, offsetSeconds: offsetSeconds, to: $0) }
    }

    /// Appends `format(date, offsetSeconds:)`'s UTF-8 bytes to `out`, without making a string.
    public static func format(_ date: Date, offsetSeconds: Int, into out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: formattedLength))
        out.withUnsafeMutableBufferPointer { b in
            _ = write(date, offsetSeconds: offsetSeconds, to: UnsafeMutableBufferPointer(rebasing: b[start...]))
        }
    }

    /// The length of every formatted time: "YYYY-MM-DDTHH:MM:SS+hh:mm".
    public static let formattedLength = 25

    /// Writes the formatted time into the first `formattedLength` bytes of `out`; returns that length.
    private static func write(_ date: Date, offsetSeconds: Int, to out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        let maxOffset = 23 * 3600 + 59 * 60
        let offset = min(max(offsetSeconds / 60 * 60, -maxOffset), maxOffset)
        let minLocal = -62_135_596_800  // 0001-01-01T00:00:00
        let maxLocal = 253_402_300_799  // 9999-12-31T23:59:59
        let t = date.timeIntervalSince1970
        var local: Int
        if !t.isFinite || t.isNaN {
            local = 0
        } else {
            let f = t.rounded(.down) + Double(offset)
            local = f <= Double(minLocal) ? minLocal : (f >= Double(maxLocal) ? maxLocal : Int(f))
        }
        local = min(max(local, minLocal), maxLocal)
        let days = floorDiv(local, 86_400)
        let sod = local - days * 86_400
        let (y, m, d) = civilFromDays(days)
        func put(_ v: Int, _ at: Int, _ width: Int) {
            var v = v
            var k = at + width - 1
            while k >= at {
                out[k] = UInt8(0x30 + v % 10)
                v /= 10
                k -= 1
            }
        }
        put(y, 0, 4)
        out[4] = 0x2D
        put(m, 5, 2)
        out[7] = 0x2D
        put(d, 8, 2)
        out[10] = 0x54
        put(sod / 3600, 11, 2)
        out[13] = 0x3A
        put(sod / 60 % 60, 14, 2)
        out[16] = 0x3A
        put(sod % 60, 17, 2)
        out[19] = offset < 0 ? 0x2D : 0x2B
        let ao = abs(offset)
        put(ao / 3600, 20, 2)
        out[22] = 0x3A
        put(ao / 60 % 60, 23, 2)
        return formattedLength
    }

    /// Number of days in `month` (1-12) of proleptic Gregorian `year`.
    static func daysInMonth(_ year: Int, _ month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    static func floorDiv(_ a: Int, _ b: Int) -> Int {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Proleptic Gregorian (year, month, day) for days since 1970-01-01.
    static func civilFromDays(_ days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
