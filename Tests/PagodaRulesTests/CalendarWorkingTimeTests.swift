import Foundation
import PagodaJSON
import Testing

@testable import PagodaRules

@Suite struct CalendarWorkingSecondsTests {
    static let calendar = BusinessCalendar(
        timeZone: TimeZone(identifier: "Asia/Shanghai")!,
        workingWeekdays: [.monday, .tuesday, .wednesday, .thursday, .friday],
        workingHours: [WorkingInterval(parsing: "08:30-12:00")!, WorkingInterval(parsing: "14:00-18:00")!],
        holidays: [Holiday(from: CivilDate(iso: "2026-02-15")!, to: CivilDate(iso: "2026-02-23")!, name: "春节")],
        makeUpWorkdays: [CivilDate(iso: "2026-02-14")!, CivilDate(iso: "2026-02-28")!], coveredYears: 2026...2026)

    static func at(_ s: String) -> Date { RFC3339.parse(s)!.date }

    @Test(arguments: [
        ("2026-03-02T09:00:00+08:00", "2026-03-02T10:00:00+08:00", 3600),
        ("2026-03-02T11:00:00+08:00", "2026-03-02T15:00:00+08:00", 7200),  // across lunch
        ("2026-03-06T17:00:00+08:00", "2026-03-09T09:30:00+08:00", 7200),  // across a weekend
        // make-up Saturday, then the festival
        ("2026-02-13T17:00:00+08:00", "2026-02-24T09:00:00+08:00", 3600 + 27_000 + 1800),
        ("2026-03-02T20:00:00+08:00", "2026-03-02T22:00:00+08:00", 0),
        ("2026-03-02T10:00:00+08:00", "2026-03-02T09:00:00+08:00", 0),
    ])
    func table(from: String, to: String, seconds: Int) {
        #expect(Self.calendar.workingSeconds(from: Self.at(from), to: Self.at(to)) == seconds)
    }

    @Test func inverseOfAddingWorkingMinutes() {
        var rng = SystemRandomNumberGenerator()
        let base = Self.at("2026-01-01T00:00:00+08:00").timeIntervalSince1970
        for _ in 0..<3000 {
            let start = Date(
                timeIntervalSince1970: (base + Double(Int.random(in: 0..<(330 * 86_400), using: &rng))).rounded(.down))
            let minutes = Int.random(in: 1...20_000, using: &rng)
            let end = Self.calendar.addingWorkingMinutes(minutes, to: start)
            #expect(
                Self.calendar.workingSeconds(from: start, to: end) == minutes * 60, "start \(start), \(minutes) min")
        }
    }
}

/// The next moment somebody is at work (reminders wait for it), and working time added to the second.
@Suite struct CalendarNextWorkingMomentTests {
    static var calendar: BusinessCalendar { CalendarWorkingSecondsTests.calendar }
    static func at(_ s: String) -> Date { RFC3339.parse(s)!.date }

    @Test(arguments: [
        ("2026-03-02T09:00:00+08:00", "2026-03-02T09:00:00+08:00"),  // in working time: itself
        ("2026-03-02T08:29:59+08:00", "2026-03-02T08:30:00+08:00"),
        ("2026-03-02T12:00:00+08:00", "2026-03-02T14:00:00+08:00"),  // the lunch break starts at 12:00
        ("2026-03-02T17:59:59+08:00", "2026-03-02T17:59:59+08:00"),
        ("2026-03-02T18:00:00+08:00", "2026-03-03T08:30:00+08:00"),
        ("2026-03-08T03:00:00+08:00", "2026-03-09T08:30:00+08:00"),  // 03:00 on a Sunday
        ("2026-02-14T07:00:00+08:00", "2026-02-14T08:30:00+08:00"),  // a make-up Saturday
        ("2026-02-15T10:00:00+08:00", "2026-02-24T08:30:00+08:00"),  // the Spring Festival
    ])
    func table(instant: String, next: String) {
        let moment = Self.calendar.nextWorkingMoment(atOrAfter: Self.at(instant))
        #expect(RFC3339.format(moment, offsetSeconds: 28_800) == next)
    }

    @Test func withoutWorkingHoursThereIsNone() {
        let none = BusinessCalendar(
            timeZone: TimeZone(identifier: "Asia/Shanghai")!, workingWeekdays: [],
            workingHours: [], holidays: [], makeUpWorkdays: [], coveredYears: nil)
        #expect(none.nextWorkingMoment(atOrAfter: Self.at("2026-03-02T09:00:00+08:00")) == .distantFuture)
    }

    @Test func addingWorkingSecondsAgreesWithMinutesAndCountsSeconds() {
        let start = Self.at("2026-03-02T11:59:00+08:00")
        let minutes = Self.calendar.addingWorkingMinutes(90, to: start)
        #expect(Self.calendar.addingWorkingSeconds(90 * 60, to: start) == minutes)
        #expect(Self.calendar.addingWorkingSeconds(61, to: start) == Self.at("2026-03-02T14:00:01+08:00"))
        #expect(Self.calendar.addingWorkingSeconds(0, to: start) == start)
        for seconds in [1, 59, 3_601, 27_000, 100_001] {
            let end = Self.calendar.addingWorkingSeconds(seconds, to: start)
            #expect(Self.calendar.workingSeconds(from: start, to: end) == seconds)
        }
    }
}
