import Foundation
import PagodaJSON
import Testing

@testable import PagodaRules

/// Working hours by season: summer and winter office hours by month-day, dated seasons over them, and
/// working-time arithmetic that takes each date's hours, also across a season's boundary.
@Suite struct CalendarSeasonTests {
    static let shanghai = TimeZone(identifier: "Asia/Shanghai")!
    static let weekdays: Set<Weekday> = [.monday, .tuesday, .wednesday, .thursday, .friday]
    static func hours(_ list: String...) -> [WorkingInterval] { list.map { WorkingInterval(parsing: $0)! } }
    static func md(_ s: String) -> MonthDay { MonthDay(parsing: s)! }
    static func at(_ s: String) -> Date { RFC3339.parse(s)!.date }
    static func local(_ d: Date) -> String { RFC3339.format(d, offsetSeconds: 28_800) }

    static let summer = WorkingSeason(
        name: "summer", span: .yearly(from: md("05-01"), to: md("09-30")),
        workingHours: hours("08:30-12:00", "14:30-18:00"))
    static let winter = WorkingSeason(
        name: "winter", span: .yearly(from: md("10-01"), to: md("04-30")),
        workingHours: hours("08:30-12:00", "14:00-17:30"))

    /// Summer and winter hours, no default hours, the Spring Festival and its make-up days.
    static let seasonal = BusinessCalendar(
        timeZone: shanghai, workingWeekdays: weekdays, workingHours: [],
        holidays: [Holiday(from: CivilDate(iso: "2026-02-15")!, to: CivilDate(iso: "2026-02-23")!, name: "春节")],
        makeUpWorkdays: [CivilDate(iso: "2026-02-14")!, CivilDate(iso: "2026-02-28")!], coveredYears: 2026...2026,
        seasons: [summer, winter])

    @Test func eachDateHasTheHoursOfItsSeason() {
        let calendar = Self.seasonal
        #expect(calendar.workingHours(on: CivilDate(iso: "2026-09-30")!) == Self.summer.workingHours)
        #expect(calendar.workingHours(on: CivilDate(iso: "2026-10-01")!) == Self.winter.workingHours)
        #expect(calendar.workingHours(on: CivilDate(iso: "2026-12-31")!) == Self.winter.workingHours)
        #expect(calendar.workingHours(on: CivilDate(iso: "2027-01-01")!) == Self.winter.workingHours)
        #expect(calendar.workingHours(on: CivilDate(iso: "2028-02-29")!) == Self.winter.workingHours)
        #expect(calendar.workingHours(on: CivilDate(iso: "2031-05-01")!) == Self.summer.workingHours)
    }

    @Test(arguments: [
        // 4wh from Wednesday afternoon, the last summer day: 3h until 18:00, 1h on the first winter morning.
        ("2026-09-30T15:00:00+08:00", "4wh", "2026-10-01T09:30:00+08:00"),
        // 6wh from 16:00: 2h of summer, the winter morning's 3.5h, 0.5h of the winter afternoon from 14:00.
        ("2026-09-30T16:00:00+08:00", "6wh", "2026-10-01T14:30:00+08:00"),
        // Into summer: winter's afternoon ends at 17:30, summer's starts at 14:30.
        ("2026-04-30T17:00:00+08:00", "4wh", "2026-05-01T12:00:00+08:00"),
        ("2026-04-30T17:00:00+08:00", "5wh", "2026-05-01T15:30:00+08:00"),
        // Started at night and over a weekend inside one season.
        ("2026-10-09T20:00:00+08:00", "30wm", "2026-10-12T09:00:00+08:00"),
        // 200 working days of 7h (3.5h + 3.5h either season) across a whole summer, into the next year: the
        // 200th ends with a winter afternoon.
        ("2026-04-01T08:30:00+08:00", "1400wh", "2027-01-05T17:30:00+08:00"),
    ])
    func workingHoursAcrossTheSwitch(start: String, duration: String, due: String) throws {
        let d = try SLADuration.parse(duration).get()
        #expect(Self.local(Self.seasonal.deadline(after: d, from: Self.at(start))) == due)
    }

    @Test(arguments: [
        // Winter: the afternoon starts at 14:00 and ends at 17:30, so a reminder at 17:45 waits until Monday.
        ("2026-11-02T14:10:00+08:00", "2026-11-02T14:10:00+08:00"),
        ("2026-10-09T17:45:00+08:00", "2026-10-12T08:30:00+08:00"),
        ("2026-12-31T18:00:00+08:00", "2027-01-01T08:30:00+08:00"),
        // Summer: 14:10 is still the lunch break, 17:45 is working time.
        ("2026-06-01T14:10:00+08:00", "2026-06-01T14:30:00+08:00"),
        ("2026-06-01T17:45:00+08:00", "2026-06-01T17:45:00+08:00"),
        // The last summer evening waits for the first winter morning.
        ("2026-09-30T18:30:00+08:00", "2026-10-01T08:30:00+08:00"),
    ])
    func remindersWaitForTheNextWorkingMomentOfTheSeason(instant: String, next: String) {
        #expect(Self.local(Self.seasonal.nextWorkingMoment(atOrAfter: Self.at(instant))) == next)
    }

    /// Working time as a reference counts it: minute by minute, each date with its own hours.
    static func minuteByMinute(_ calendar: BusinessCalendar, from start: Date, minutes: Int) -> Date {
        var t = Int(start.timeIntervalSince1970)
        var left = minutes
        while true {
            let date = calendar.civilDate(of: Date(timeIntervalSince1970: Double(t)))
            let minuteOfDay = ((t + 28_800) % 86_400) / 60
            let working =
                calendar.isWorkingDay(date)
                && calendar.workingHours(on: date).contains {
                    $0.startMinute <= minuteOfDay && minuteOfDay < $0.endMinute
                }
            if working {
                left -= 1
                if left == 0 { return Date(timeIntervalSince1970: Double(t + 60)) }
            }
            t += 60
        }
    }

    @Test func agreesWithAMinuteByMinuteCountAndItsInverse() {
        // A dated season lies over winter: shorter afternoons for two weeks of December.
        let dated = WorkingSeason(
            name: "year-end", span: .dated(from: CivilDate(iso: "2026-12-14")!, to: CivilDate(iso: "2026-12-25")!),
            workingHours: Self.hours("09:00-12:00", "13:00-16:00"))
        let calendar = BusinessCalendar(
            timeZone: Self.shanghai, workingWeekdays: Self.weekdays, workingHours: [],
            holidays: [
                Holiday(from: CivilDate(iso: "2026-10-01")!, to: CivilDate(iso: "2026-10-07")!, name: "国庆节")
            ], makeUpWorkdays: [CivilDate(iso: "2026-09-27")!], coveredYears: 2026...2026,
            seasons: [dated, Self.summer, Self.winter])
        #expect(calendar.workingHours(on: CivilDate(iso: "2026-12-14")!) == dated.workingHours)
        #expect(calendar.workingHours(on: CivilDate(iso: "2026-12-26")!) == Self.winter.workingHours)
        var rng = SystemRandomNumberGenerator()
        let base = Self.at("2026-09-01T00:00:00+08:00").timeIntervalSince1970
        for _ in 0..<300 {
            let start = Date(timeIntervalSince1970: base + Double(60 * Int.random(in: 0..<(150 * 1440), using: &rng)))
            let minutes = Int.random(in: 1...3_000, using: &rng)
            let due = calendar.addingWorkingMinutes(minutes, to: start)
            #expect(
                due == Self.minuteByMinute(calendar, from: start, minutes: minutes),
                "start \(Self.local(start)), \(minutes) min")
            #expect(calendar.workingSeconds(from: start, to: due) == minutes * 60)
        }
    }

    @Test func aSeasonHoldingAllYearGivesTheResultsOfThePlainList() {
        let office = Self.hours("08:30-12:00", "14:00-18:00")
        let plain = CalendarWorkingSecondsTests.calendar
        let allYear = BusinessCalendar(
            timeZone: Self.shanghai, workingWeekdays: Self.weekdays, workingHours: [],
            holidays: plain.holidays, makeUpWorkdays: plain.makeUpWorkdays, coveredYears: 2026...2026,
            seasons: [
                WorkingSeason(
                    name: "", span: .yearly(from: Self.md("01-01"), to: Self.md("12-31")), workingHours: office)
            ])
        var rng = SystemRandomNumberGenerator()
        let base = Self.at("2025-11-01T00:00:00+08:00").timeIntervalSince1970
        for _ in 0..<1000 {
            let start = Date(timeIntervalSince1970: base + Double(Int.random(in: 0..<(500 * 86_400), using: &rng)))
            let minutes = Int.random(in: 1...200_000, using: &rng)
            let due = plain.addingWorkingMinutes(minutes, to: start)
            #expect(allYear.addingWorkingMinutes(minutes, to: start) == due)
            #expect(allYear.workingSeconds(from: start, to: due) == plain.workingSeconds(from: start, to: due))
            #expect(allYear.nextWorkingMoment(atOrAfter: start) == plain.nextWorkingMoment(atOrAfter: start))
        }
        // Spans of centuries: whole 400-year cycles are counted at once, with the same result.
        let start = Self.at("2026-03-02T09:00:00+08:00")
        for minutes in [50_000_000, 400_000_000, 2_000_000_000] {
            let due = plain.addingWorkingMinutes(minutes, to: start)
            #expect(allYear.addingWorkingMinutes(minutes, to: start) == due)
            #expect(plain.workingSeconds(from: start, to: due) == minutes * 60)
            #expect(allYear.workingSeconds(from: start, to: due) == minutes * 60)
        }
    }

    @Test func onlyADatedSeasonWithoutDefaultHoursEndsWorkingTime() {
        let calendar = BusinessCalendar(
            timeZone: Self.shanghai, workingWeekdays: Self.weekdays, workingHours: [], holidays: [],
            makeUpWorkdays: [], coveredYears: nil,
            seasons: [
                WorkingSeason(
                    name: "", span: .dated(from: CivilDate(iso: "2026-03-02")!, to: CivilDate(iso: "2026-03-03")!),
                    workingHours: Self.hours("09:00-10:00"))
            ])
        let start = Self.at("2026-03-01T12:00:00+08:00")
        #expect(Self.local(calendar.addingWorkingMinutes(90, to: start)) == "2026-03-03T09:30:00+08:00")
        #expect(calendar.addingWorkingMinutes(121, to: start) == .distantFuture)
        #expect(calendar.nextWorkingMoment(atOrAfter: Self.at("2026-03-03T10:00:00+08:00")) == .distantFuture)
        #expect(calendar.workingSeconds(from: start, to: Self.at("2030-01-01T00:00:00+08:00")) == 7_200)
    }

    /// The rule language end to end: `calendar.seasons` read, checked and used for a decision's deadlines.
    @Test func aRuleSetWithSeasonsDatesItsClocksWithTheHoursOfEachDate() throws {
        var files = try Fixtures.goldenFiles(case: nil)
        let c = files.firstIndex { $0.path == "calendar.yaml" }!
        files[c] = RuleFile(
            path: "calendar.yaml",
            text: """
                calendar:
                  time_zone: Asia/Shanghai
                  working_days: [mon, tue, wed, thu, fri]
                  seasons:
                    - {name: summer, from: 05-01, to: 09-30, working_hours: ["08:30-12:00", "14:30-18:00"]}
                    - {name: winter, from: 10-01, to: 04-30, working_hours: ["08:30-12:00", "14:00-17:30"]}
                  years:
                    2026:
                      holidays:
                        - {from: 2026-02-15, to: 2026-02-23, name: 春节}
                      workdays: [2026-02-14, 2026-02-28]

                """)
        let s = files.firstIndex { $0.path == "sla.yaml" }!
        files[s] = RuleFile(
            path: "sla.yaml",
            text: files[s].text.replacingOccurrences(of: "{sign: 2h, resolve: 3wd}", with: "{sign: 4wh, resolve: 3wd}"))
        let rules = try Fixtures.compile(files)
        #expect(rules.calendar.seasons.map(\.name) == ["summer", "winter"])
        let ticket = try Fixtures.ticket([
            "received_at": .string("2026-09-30T15:00:00+08:00"), "category": .string("environment.water"),
            "region": Fixtures.region("东区", "东一镇"),
        ])
        let d = rules.route(ticket)
        let sign = try #require(d.deadlines.first { $0.clock == .sign })
        // 3h of the summer afternoon, 1h of the first winter morning; the yellow light at 75% of 4h.
        #expect(Self.local(sign.due) == "2026-10-01T09:30:00+08:00")
        #expect(Self.local(sign.warnAt) == "2026-09-30T18:00:00+08:00")
        #expect(Self.local(try #require(d.deadline(.resolve))) == "2026-10-05T23:59:59+08:00")
    }
}
