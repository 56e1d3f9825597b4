import Foundation

/// Timestamps are stored as INTEGER milliseconds since the Unix epoch (UTC).
///
/// Integers sort and compare exactly in SQL (the `deadlines.due_at` index is
/// range-scanned by escalation timers), are timezone-free, and are half the
/// size of ISO text. Sub-millisecond precision is dropped (rounded to the
/// nearest millisecond), so a `Date` read back equals the input only to 1 ms.
package enum EpochMillis {
    package static func from(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    package static func date(_ millis: Int64) -> Date {
        Date(timeIntervalSince1970: Double(millis) / 1000)
    }
}
