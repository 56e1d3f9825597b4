import Foundation
import PagodaJSON

/// Fast UTC <-> local-seconds conversion for one `TimeZone` (internal to the calendar).
///
/// At init the zone's offset transitions from 1900 up to 2100 are probed once with
/// `nextDaylightSavingTimeTransition(after:)` (which on Linux also reports standard-offset
/// changes). If the offset is constant from the last transition up to 2100 that window is
/// served with integer arithmetic; everything outside it (e.g. Asia/Shanghai before its
/// 1991 DST change, or any instant after 2100) falls back to `TimeZone.secondsFromGMT(for:)`.
/// A zone with no transitions at all (UTC, fixed-offset zones) is fast for every instant.
struct CalendarZone: Sendable {
    /// The Foundation zone used for the slow path.
    let timeZone: TimeZone
    /// Offset in the fixed window, if the zone has one.
    let fixedOffset: Int?
    /// First UTC second (inclusive) of the fixed-offset window.
    let fixedFrom: Int
    /// UTC second (exclusive) ending the fixed-offset window.
    let fixedUntil: Int

    /// Instants are clamped to ±`maxSeconds` (about ±3 million years) so arithmetic never overflows.
    static let maxSeconds = 100_000_000_000_000

    /// 1900-01-01T00:00:00Z and 2100-01-01T00:00:00Z as Unix seconds.
    static let probeStart = -2_208_988_800
    static let probeEnd = 4_102_444_800

    /// Probes the zone's transitions once; costs at most a few hundred Foundation calls.
    init(_ timeZone: TimeZone) {
        self.timeZone = timeZone
        var cursor = Date(timeIntervalSince1970: Double(CalendarZone.probeStart))
        var last: Int?
        var reachedEnd = false
        var iterations = 0
        while iterations < 2_000 {
            iterations += 1
            guard let next = timeZone.nextDaylightSavingTimeTransition(after: cursor) else { break }
            let seconds = next.timeIntervalSince1970
            guard seconds.isFinite, seconds > cursor.timeIntervalSince1970 else { break }
            if seconds >= Double(CalendarZone.probeEnd) {
                reachedEnd = true
                break
            }
            last = Int(seconds.rounded(.up))
            cursor = next
        }
        if iterations >= 2_000 { reachedEnd = true }  // pathological zone: always use the slow path
        if reachedEnd {
            fixedOffset = nil
            fixedFrom = 0
            fixedUntil = 0
        } else if let last {
            fixedFrom = last
            fixedUntil = CalendarZone.probeEnd
            fixedOffset = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(last)))
        } else {
            // No transition at all since 1900: treat the current offset as valid everywhere.
            fixedFrom = Int.min
            fixedUntil = Int.max
            fixedOffset = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: 0))
        }
    }

    /// Splits an instant into whole UTC seconds (floor, clamped) and the sub-second remainder.
    ///
    /// NaN maps to 0; infinities and values beyond ±`maxSeconds` are clamped.
    @inline(__always)
    static func split(_ instant: Date) -> (seconds: Int, fraction: Double) {
        let t = instant.timeIntervalSince1970
        guard t.isFinite else { return (t.isNaN ? 0 : (t > 0 ? maxSeconds : -maxSeconds), 0) }
        if t >= Double(maxSeconds) { return (maxSeconds, 0) }
        if t <= -Double(maxSeconds) { return (-maxSeconds, 0) }
        let whole = t.rounded(.down)
        return (Int(whole), t - whole)
    }

    /// UTC offset in seconds at a UTC second.
    @inline(__always)
    func offset(atUTC seconds: Int) -> Int {
        if let fixedOffset, seconds >= fixedFrom, seconds < fixedUntil { return fixedOffset }
        return timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(seconds)))
    }

    /// Local wall-clock seconds (since local 1970-01-01 00:00) for a UTC second.
    @inline(__always)
    func local(fromUTC seconds: Int) -> Int {
        seconds + offset(atUTC: seconds)
    }

    /// The UTC second at which the local wall clock reads `local`.
    ///
    /// Non-existent local times (inside a spring-forward gap) resolve to the later
    /// candidate, i.e. the wall clock is read as if the gap had not yet been applied
    /// (02:30 in a 02:00->03:00 gap becomes 03:30). Ambiguous times (fall-back overlap)
    /// resolve to one of the two valid instants.
    @inline(__always)
    func utc(fromLocal local: Int) -> Int {
        if let fixedOffset {
            let candidate = local - fixedOffset
            if candidate >= fixedFrom, candidate < fixedUntil { return candidate }
        }
        let first = local - offset(atUTC: local)
        let firstOffset = offset(atUTC: first)
        let second = local - firstOffset
        let secondOffset = offset(atUTC: second)
        if secondOffset == firstOffset { return second }
        let third = local - secondOffset
        if offset(atUTC: third) == secondOffset { return third }
        return max(second, third)
    }
}
