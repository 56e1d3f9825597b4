import Foundation
import PagodaJSON
import Testing

@testable import PagodaRules

// MARK: - Fixtures

/// Shared fixtures for the calendar tests (namespaced to avoid clashes with other test files).
enum CalendarFixtures {
    static func date(_ iso: String) -> CivilDate {
        guard let date = CivilDate(iso: iso) else { fatalError("bad fixture date \(iso)") }
        return date
    }

    /// "2026-02-13 15:00" or "2026-02-13 15:00:30" read as Asia/Shanghai (+08:00) wall time.
    static func shanghai(_ text: String, fraction: Double = 0) -> Date {
        let parts = text.split(separator: " ")
        let day = date(String(parts[0]))
        let clock = parts[1].split(separator: ":").map { Int($0)! }
        let seconds = day.dayNumber * 86_400 + clock[0] * 3_600 + clock[1] * 60 + (clock.count > 2 ? clock[2] : 0)
        return Date(timeIntervalSince1970: Double(seconds - 8 * 3_600) + fraction)
    }

    static let holidays2025: [(String, String, String)] = [
        ("2025-01-01", "2025-01-01", "元旦"), ("2025-01-28", "2025-02-04", "春节"),
        ("2025-04-04", "2025-04-06", "清明节"), ("2025-05-01", "2025-05-05", "劳动节"),
        ("2025-05-31", "2025-06-02", "端午节"), ("2025-10-01", "2025-10-08", "国庆节、中秋节"),
    ]
    static let holidays2026: [(String, String, String)] = [
        ("2026-01-01", "2026-01-03", "元旦"), ("2026-02-15", "2026-02-23", "春节"),
        ("2026-04-04", "2026-04-06", "清明节"), ("2026-05-01", "2026-05-05", "劳动节"),
        ("2026-06-19", "2026-06-21", "端午节"), ("2026-09-25", "2026-09-27", "中秋节"),
        ("2026-10-01", "2026-10-07", "国庆节"),
    ]
    static let makeUps: [String] = [
        "2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11",
        "2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10",
    ]
    static let weekdays: Set<Weekday> = [.monday, .tuesday, .wednesday, .thursday, .friday]
    static let officeHours = [WorkingInterval(parsing: "08:30-12:00")!, WorkingInterval(parsing: "14:00-18:00")!]

    static let china = BusinessCalendar(
        timeZone: TimeZone(identifier: "Asia/Shanghai")!,
        workingWeekdays: weekdays,
        workingHours: officeHours,
        holidays: (holidays2025 + holidays2026).map { Holiday(from: date($0.0), to: date($0.1), name: $0.2) },
        makeUpWorkdays: makeUps.map(date),
        coveredYears: 2025...2026)

    /// Every individual holiday date of 2025 and 2026 with its holiday name.
    static let allHolidayDates: [(String, String)] = (holidays2025 + holidays2026).flatMap { range in
        (date(range.0).dayNumber...date(range.1).dayNumber).map { (CivilDate(dayNumber: $0).description, range.2) }
    }
}

/// Deterministic RNG for the cross-check tests.
struct CalendarTestRNG: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Naive day-by-day reference implementation of the calendar semantics.
struct NaiveCalendarReference {
    let weekdays: Set<Weekday>
    let holidayDays: Set<Int>
    let makeUps: Set<Int>
    let intervals: [WorkingInterval]  // assumed sorted and disjoint
    let offsetSeconds: Int  // fixed offset only
    static let searchLimit = 20_000  // days; beyond this "no working day" (distantFuture)

    init(
        weekdays: Set<Weekday>, holidays: [Holiday], makeUps: Set<Int>, intervals: [WorkingInterval], offsetSeconds: Int
    ) {
        self.weekdays = weekdays
        var days = Set<Int>()
        for holiday in holidays where holiday.from <= holiday.to {
            for day in holiday.from.dayNumber...holiday.to.dayNumber { days.insert(day) }
        }
        self.holidayDays = days
        self.makeUps = makeUps
        self.intervals = intervals
        self.offsetSeconds = offsetSeconds
    }

    func isWorking(_ day: Int) -> Bool {
        if makeUps.contains(day) { return true }
        return weekdays.contains(CivilDate(dayNumber: day).weekday) && !holidayDays.contains(day)
    }

    /// True once no working day can follow `day` (empty template, past the last make-up day).
    func exhausted(after day: Int) -> Bool {
        weekdays.isEmpty && day >= (makeUps.max() ?? Int.min)
    }

    func count(_ from: Int, _ through: Int) -> Int {
        guard from <= through else { return 0 }
        return (from...through).filter(isWorking).count
    }

    func nth(_ n: Int, after day: Int) -> Int? {
        var remaining = n
        var current = day
        for _ in 0..<NaiveCalendarReference.searchLimit {
            if exhausted(after: current) { return nil }
            current += 1
            if isWorking(current) {
                remaining -= 1
                if remaining == 0 { return current }
            }
        }
        return nil
    }

    func addingWorkingDays(_ n: Int, to instant: Date) -> Date {
        let local = Int(instant.timeIntervalSince1970.rounded(.down)) + offsetSeconds
        let today = Int((Double(local) / 86_400).rounded(.down))
        let target = n <= 0 ? (isWorking(today) ? today : nth(1, after: today)) : nth(n, after: today)
        guard let target else { return .distantFuture }
        return Date(timeIntervalSince1970: Double(target * 86_400 + 86_399 - offsetSeconds))
    }

    /// Walks working intervals one by one (whole-second instants only).
    func addingWorkingMinutes(_ minutes: Int, to instant: Date) -> Date {
        guard minutes > 0 else { return instant }
        var need = minutes * 60
        let local = Int(instant.timeIntervalSince1970.rounded(.down)) + offsetSeconds
        var day = Int((Double(local) / 86_400).rounded(.down))
        var secondOfDay = local - day * 86_400
        for _ in 0..<NaiveCalendarReference.searchLimit {
            if exhausted(after: day - 1) { return .distantFuture }
            if isWorking(day) {
                for interval in intervals where interval.endMinute * 60 > secondOfDay {
                    let begin = max(interval.startMinute * 60, secondOfDay)
                    let available = interval.endMinute * 60 - begin
                    if need <= available {
                        return Date(timeIntervalSince1970: Double(day * 86_400 + begin + need - offsetSeconds))
                    }
                    need -= available
                }
            }
            day += 1
            secondOfDay = 0
        }
        return .distantFuture
    }
}

// MARK: - CivilDate & Weekday

@Suite struct CalendarCivilDateTests {
    @Test(arguments: [
        ("1970-01-01", 0, Weekday.thursday), ("1969-12-31", -1, .wednesday),
        ("2000-01-01", 10_957, .saturday), ("2000-02-29", 11_016, .tuesday),
        ("2024-02-29", 19_782, .thursday), ("2025-12-31", 20_453, .wednesday),
        ("2026-01-01", 20_454, .thursday), ("2026-02-14", 20_498, .saturday),
        ("1900-01-01", -25_567, .monday), ("1900-03-01", -25_508, .thursday),
        ("1600-01-01", -135_140, .saturday), ("0001-01-01", -719_162, .monday),
        ("9999-12-31", 2_932_896, .friday),
    ])
    func knownDates(iso: String, dayNumber: Int, weekday: Weekday) throws {
        let date = try #require(CivilDate(iso: iso))
        #expect(date.dayNumber == dayNumber)
        #expect(date.weekday == weekday)
        #expect(date.description == iso)
        #expect(CivilDate(dayNumber: dayNumber) == date)
    }

    @Test(arguments: [
        "2026-02-30", "2026-02-29", "1900-02-29", "2100-02-29", "2026-13-01", "2026-00-10",
        "2026-04-31", "2026-01-00", "2026-01-32", "2026-2-14", " 2026-02-14", "2026-02-14 ",
        "2026/02/14", "", "20260214", "+026-02-14", "2026-02-1x", "２０２６-02-14", "2026-02-14T00:00",
    ])
    func invalidISORejected(text: String) {
        #expect(CivilDate(iso: text) == nil)
    }

    @Test(arguments: [
        (2026, 2, 30), (2025, 2, 29), (1900, 2, 29), (2026, 4, 31), (2026, 0, 1), (2026, 13, 1),
        (2026, 1, 0), (2026, 1, -1), (2_000_000_000, 1, 1),
    ])
    func invalidComponentsRejected(year: Int, month: Int, day: Int) {
        #expect(CivilDate(year: year, month: month, day: day) == nil)
    }

    @Test(arguments: [
        (2000, true), (2024, true), (1900, false), (2100, false), (2026, false), (1600, true), (0, true), (-4, true),
    ])
    func leapYears(year: Int, leap: Bool) {
        #expect(CivilDate.isLeapYear(year) == leap)
        #expect((CivilDate(year: year, month: 2, day: 29) != nil) == leap)
    }

    @Test func dayNumberRoundTripsAcrossCenturies() {
        // Every day from 1599-12-01 to 2401-01-31, checking successor logic and round trips.
        var previous = CivilDate(year: 1599, month: 12, day: 1)!
        for dayNumber in (previous.dayNumber + 1)...CivilDate(year: 2401, month: 1, day: 31)!.dayNumber {
            let date = CivilDate(dayNumber: dayNumber)
            let rebuilt = CivilDate(year: date.year, month: date.month, day: date.day)
            if rebuilt?.dayNumber != dayNumber {
                Issue.record("round trip failed for \(dayNumber)")
                return
            }
            let expected: (Int, Int, Int)
            if previous.day < CivilDate.daysInMonth(year: previous.year, month: previous.month) {
                expected = (previous.year, previous.month, previous.day + 1)
            } else if previous.month < 12 {
                expected = (previous.year, previous.month + 1, 1)
            } else {
                expected = (previous.year + 1, 1, 1)
            }
            if (date.year, date.month, date.day) != expected {
                Issue.record("bad successor of \(previous)")
                return
            }
            if date.weekday.rawValue != previous.weekday.rawValue % 7 + 1 {
                Issue.record("bad weekday at \(date)")
                return
            }
            previous = date
        }
    }

    @Test(arguments: [-1_000_000_000_000, -719_163, -1, 0, 1, 2_932_897, 1_000_000_000])
    func extremeDayNumbersDoNotCrash(dayNumber: Int) {
        let date = CivilDate(dayNumber: dayNumber)
        #expect(abs(date.dayNumber) <= CivilDate.maxDayNumber)
        #expect(CivilDate(year: date.year, month: date.month, day: date.day)?.dayNumber == date.dayNumber)
    }

    @Test func orderingAndAdding() {
        let a = CalendarFixtures.date("2025-12-31")
        let b = CalendarFixtures.date("2026-01-01")
        #expect(a < b)
        #expect(a.adding(days: 1) == b)
        #expect(b.adding(days: -366) == CalendarFixtures.date("2024-12-31"))
        #expect(CivilDate(dayNumber: Int.max).dayNumber == CivilDate.maxDayNumber)
        #expect(a.adding(days: Int.max).dayNumber == CivilDate.maxDayNumber)
    }

    @Test(arguments: [
        ("mon", Weekday.monday), ("tue", .tuesday), ("wed", .wednesday), ("thu", .thursday),
        ("fri", .friday), ("sat", .saturday), ("sun", .sunday), ("monday", .monday),
        ("tuesday", .tuesday), ("wednesday", .wednesday), ("thursday", .thursday),
        ("friday", .friday), ("saturday", .saturday), ("sunday", .sunday),
    ])
    func weekdayAbbreviations(text: String, weekday: Weekday) {
        #expect(Weekday(abbreviation: text) == weekday)
        #expect(Weekday(abbreviation: weekday.abbreviation) == weekday)
    }

    @Test(arguments: ["Mon", "MON", "mo", "", " mon", "tues", "thur", "lundi", "7"])
    func weekdayRejects(text: String) {
        #expect(Weekday(abbreviation: text) == nil)
    }
}

// MARK: - WorkingInterval

@Suite struct CalendarWorkingIntervalTests {
    @Test(arguments: [
        ("08:30-12:00", 510, 720), ("14:00-18:00", 840, 1_080), ("00:00-24:00", 0, 1_440),
        ("23:59-24:00", 1_439, 1_440), ("00:00-00:01", 0, 1),
    ])
    func parses(text: String, start: Int, end: Int) throws {
        let interval = try #require(WorkingInterval(parsing: text))
        #expect(interval.startMinute == start)
        #expect(interval.endMinute == end)
        #expect(interval.description == text)
    }

    @Test(arguments: [
        "12:00-08:30", "09:00-09:00", "8:30-12:00", "08:30 - 12:00", "08:30-24:01", "24:00-24:00",
        "25:00-26:00", "08:60-09:00", "08:30–12:00", "", "08:30", "08:30-12:00 ", "ab:cd-ef:gh",
    ])
    func rejects(text: String) {
        #expect(WorkingInterval(parsing: text) == nil)
    }
}

// MARK: - 2025 / 2026 Chinese calendar

@Suite struct CalendarChinaTests {
    let china = CalendarFixtures.china

    @Test(arguments: CalendarFixtures.allHolidayDates)
    func everyHolidayIsOff(iso: String, name: String) throws {
        let date = CalendarFixtures.date(iso)
        #expect(!china.isWorkingDay(date))
        let holiday = try #require(china.holiday(on: date))
        #expect(holiday.name == name)
    }

    @Test(arguments: CalendarFixtures.makeUps)
    func everyMakeUpDayIsWorking(iso: String) {
        let date = CalendarFixtures.date(iso)
        #expect(date.weekday == .saturday || date.weekday == .sunday)
        #expect(china.isWorkingDay(date))
        #expect(china.holiday(on: date) == nil)
    }

    @Test(arguments: [
        ("2026-02-13", true), ("2026-02-24", true), ("2026-03-02", true), ("2025-12-31", true),
        ("2026-09-30", true), ("2026-10-08", true), ("2025-10-09", true), ("2026-07-01", true),
        ("2026-02-07", false), ("2026-02-08", false), ("2026-03-01", false), ("2026-10-11", false),
        ("2025-12-27", false), ("2025-12-28", false), ("2026-09-19", false), ("2026-12-26", false),
    ])
    func ordinaryDays(iso: String, working: Bool) {
        #expect(china.isWorkingDay(CalendarFixtures.date(iso)) == working)
        #expect(china.holiday(on: CalendarFixtures.date(iso)) == nil)
    }

    @Test(arguments: [
        ("2025-01-01", "2025-12-31", 248), ("2026-01-01", "2026-12-31", 248),
        ("2025-01-01", "2026-12-31", 496), ("2026-02-01", "2026-02-28", 16),
        ("2026-02-14", "2026-02-24", 2), ("2026-02-15", "2026-02-23", 0),
        ("2025-12-29", "2026-01-04", 4), ("2026-10-01", "2026-10-31", 18),
        ("2026-02-14", "2026-02-14", 1), ("2026-02-24", "2026-02-14", 0),
    ])
    func workingDayCounts(from: String, through: String, expected: Int) {
        #expect(
            china.workingDays(from: CalendarFixtures.date(from), through: CalendarFixtures.date(through)) == expected)
    }

    @Test(arguments: [
        // Spring Festival 2026: received Friday 02-13 15:00.
        ("2026-02-13 15:00", "1wd", "2026-02-14 23:59:59"),
        ("2026-02-13 15:00", "2wd", "2026-02-24 23:59:59"),
        ("2026-02-13 15:00", "3wd", "2026-02-25 23:59:59"),
        ("2026-02-13 15:00", "5wd", "2026-02-27 23:59:59"),
        ("2026-02-13 15:00", "6wd", "2026-02-28 23:59:59"),
        ("2026-02-13 15:00", "7wd", "2026-03-02 23:59:59"),
        ("2026-02-13 15:00", "10wd", "2026-03-05 23:59:59"),
        // Received on the make-up Saturday.
        ("2026-02-14 10:00", "1wd", "2026-02-24 23:59:59"),
        ("2026-02-14 10:00", "3wd", "2026-02-26 23:59:59"),
        // Received during the holiday.
        ("2026-02-18 10:00", "1wd", "2026-02-24 23:59:59"),
        ("2026-02-23 23:59:59", "1wd", "2026-02-24 23:59:59"),
        ("2026-02-18 10:00", "3wd", "2026-02-26 23:59:59"),
        // Late at night.
        ("2026-02-13 23:30", "1wd", "2026-02-14 23:59:59"),
        ("2026-02-12 23:30", "3wd", "2026-02-24 23:59:59"),
        ("2026-02-13 00:30", "1wd", "2026-02-14 23:59:59"),
        // National Day / Mid-Autumn 2026.
        ("2026-09-24 09:00", "1wd", "2026-09-28 23:59:59"),
        ("2026-09-19 09:00", "1wd", "2026-09-20 23:59:59"),
        ("2026-09-29 09:00", "1wd", "2026-09-30 23:59:59"),
        ("2026-09-30 09:00", "1wd", "2026-10-08 23:59:59"),
        ("2026-09-30 09:00", "2wd", "2026-10-09 23:59:59"),
        ("2026-09-30 09:00", "3wd", "2026-10-10 23:59:59"),
        ("2026-09-30 09:00", "4wd", "2026-10-12 23:59:59"),
        ("2026-10-03 12:00", "1wd", "2026-10-08 23:59:59"),
        ("2026-10-10 16:00", "1wd", "2026-10-12 23:59:59"),
        // New Year 2026, across the 2025 -> 2026 boundary.
        ("2025-12-31 10:00", "1wd", "2026-01-04 23:59:59"),
        ("2025-12-31 10:00", "2wd", "2026-01-05 23:59:59"),
        ("2025-12-30 10:00", "3wd", "2026-01-05 23:59:59"),
        ("2025-12-31 23:30", "1wd", "2026-01-04 23:59:59"),
        ("2026-01-01 08:00", "1wd", "2026-01-04 23:59:59"),
        ("2025-12-26 17:00", "4wd", "2026-01-04 23:59:59"),
        ("2025-12-26 17:00", "5wd", "2026-01-05 23:59:59"),
        // 2025 Spring Festival and National Day.
        ("2025-01-24 15:00", "1wd", "2025-01-26 23:59:59"),
        ("2025-01-24 15:00", "2wd", "2025-01-27 23:59:59"),
        ("2025-01-24 15:00", "3wd", "2025-02-05 23:59:59"),
        ("2025-01-24 15:00", "6wd", "2025-02-08 23:59:59"),
        ("2025-09-26 15:00", "1wd", "2025-09-28 23:59:59"),
        ("2025-09-26 15:00", "4wd", "2025-10-09 23:59:59"),
        ("2025-09-26 15:00", "6wd", "2025-10-11 23:59:59"),
        // Natural durations ignore the calendar.
        ("2026-02-13 15:00", "3d", "2026-02-16 15:00"),
        ("2026-02-13 15:00", "2h", "2026-02-13 17:00"),
        ("2026-02-13 23:30", "45m", "2026-02-14 00:15"),
        ("2026-02-13 15:00", "30s", "2026-02-13 15:00:30"),
    ])
    func deadlines(received: String, duration: String, due: String) throws {
        let sla = try SLADuration.parse(duration).get()
        #expect(china.deadline(after: sla, from: CalendarFixtures.shanghai(received)) == CalendarFixtures.shanghai(due))
    }

    @Test(arguments: [
        ("2026-02-13 15:00", "2026-02-13 23:59:59"),  // working day: end of today
        ("2026-02-14 10:00", "2026-02-14 23:59:59"),  // make-up Saturday counts as today
        ("2026-02-18 10:00", "2026-02-24 23:59:59"),  // holiday: end of next working day
        ("2026-02-07 10:00", "2026-02-09 23:59:59"),  // ordinary Saturday
    ])
    func zeroWorkingDays(received: String, due: String) {
        let instant = CalendarFixtures.shanghai(received)
        #expect(china.addingWorkingDays(0, to: instant) == CalendarFixtures.shanghai(due))
        #expect(china.addingWorkingDays(-5, to: instant) == CalendarFixtures.shanghai(due))
    }

    @Test(arguments: [
        // The worked example: 1h on Friday, then the make-up Saturday.
        ("2026-02-13 17:00", "2wh", "2026-02-14 09:30"),
        // Crossing lunch.
        ("2026-03-02 11:00", "2wh", "2026-03-02 15:00"),
        ("2026-03-02 11:00", "90wm", "2026-03-02 14:30"),
        ("2026-03-02 11:00", "1wh", "2026-03-02 12:00"),  // ends exactly at the lunch break
        ("2026-03-02 12:30", "1wh", "2026-03-02 15:00"),  // starts during lunch
        ("2026-03-02 07:00", "1wh", "2026-03-02 09:30"),  // before opening
        ("2026-03-02 19:00", "1wh", "2026-03-03 09:30"),  // after closing
        ("2026-03-02 08:30", "450wm", "2026-03-02 18:00"),  // exactly one working day
        // Crossing the Spring Festival holiday.
        ("2026-02-14 17:00", "2wh", "2026-02-24 09:30"),
        ("2026-02-18 10:00", "1wh", "2026-02-24 09:30"),
        ("2026-02-13 08:30", "8wh", "2026-02-14 09:00"),
        ("2026-02-13 08:30", "15wh", "2026-02-14 18:00"),
        ("2026-02-13 08:30", "16wh", "2026-02-24 09:30"),
        ("2026-02-13 23:30", "1wh", "2026-02-14 09:30"),
        // National Day 2026 and New Year 2026.
        ("2026-09-30 17:30", "1wh", "2026-10-08 09:00"),
        ("2026-10-09 17:00", "8wh", "2026-10-10 17:30"),
        ("2025-12-31 17:00", "2wh", "2026-01-04 09:30"),
        // Friday afternoon to Monday across an ordinary weekend.
        ("2026-03-06 16:00", "4wh", "2026-03-09 10:30"),
    ])
    func workingHours(received: String, duration: String, due: String) throws {
        let sla = try SLADuration.parse(duration).get()
        #expect(china.deadline(after: sla, from: CalendarFixtures.shanghai(received)) == CalendarFixtures.shanghai(due))
    }

    @Test(arguments: [
        // (start, fraction, minutes, due, due fraction)
        ("2026-03-02 11:59:59", 0.5, 1, "2026-03-02 14:00:59", 0.5),
        ("2026-03-02 11:59:00", 0.5, 1, "2026-03-02 14:00:00", 0.5),
        ("2026-03-02 11:58:59", 0.5, 1, "2026-03-02 11:59:59", 0.5),
        ("2026-03-02 12:30:00", 0.5, 1, "2026-03-02 14:01:00", 0.0),  // outside working time: clock starts at 14:00
        ("2026-02-13 17:59:00", 0.25, 1, "2026-02-14 08:30:00", 0.25),
    ])
    func subSecondStartsAreCarried(start: String, fraction: Double, minutes: Int, due: String, dueFraction: Double) {
        let result = china.addingWorkingMinutes(minutes, to: CalendarFixtures.shanghai(start, fraction: fraction))
        #expect(result == CalendarFixtures.shanghai(due, fraction: dueFraction))
    }

    @Test func zeroMinutesReturnsInstant() {
        let instant = CalendarFixtures.shanghai("2026-02-15 03:00")
        #expect(china.addingWorkingMinutes(0, to: instant) == instant)
        #expect(china.addingWorkingMinutes(-10, to: instant) == instant)
    }

    @Test(arguments: [("2024-12-31", false), ("2025-01-01", true), ("2026-12-31", true), ("2027-01-01", false)])
    func coverage(iso: String, covered: Bool) {
        #expect(china.covers(CalendarFixtures.date(iso)) == covered)
    }

    @Test func templateOnlyOutsideCoveredYears() {
        // 2027 has no data: plain Monday-Friday.
        #expect(china.isWorkingDay(CalendarFixtures.date("2027-02-10")))
        #expect(
            china.addingWorkingDays(1, to: CalendarFixtures.shanghai("2027-01-01 10:00"))
                == CalendarFixtures.shanghai("2027-01-04 23:59:59"))
        let calendar = BusinessCalendar(
            timeZone: TimeZone(identifier: "Asia/Shanghai")!,
            workingWeekdays: CalendarFixtures.weekdays, workingHours: [],
            holidays: [], makeUpWorkdays: [], coveredYears: nil)
        #expect(!calendar.covers(CalendarFixtures.date("2026-01-01")))
    }

    @Test(arguments: [
        ("2026-02-13", 1, "2026-02-14"), ("2026-02-13", 2, "2026-02-24"), ("2026-02-14", 1, "2026-02-24"),
        ("2025-12-31", 1, "2026-01-04"), ("2026-02-13", 0, "2026-02-14"),
    ])
    func workingDayAfter(from: String, n: Int, expected: String) {
        #expect(china.workingDay(n, after: CalendarFixtures.date(from)) == CalendarFixtures.date(expected))
    }
}

// MARK: - Time zones

@Suite struct CalendarTimeZoneTests {
    let china = CalendarFixtures.china

    @Test(arguments: [
        ("2026-02-12T16:30:00Z", "2026-02-13", 28_800),  // 00:30 local next day
        ("2026-02-13T15:59:59Z", "2026-02-13", 28_800),
        ("2026-02-13T16:00:00Z", "2026-02-14", 28_800),
        ("1988-07-01T12:00:00Z", "1988-07-01", 32_400),  // China DST era (slow path)
        ("1988-07-01T14:30:00Z", "1988-07-01", 32_400),
        ("1988-07-01T15:00:00Z", "1988-07-02", 32_400),
        ("2150-06-01T00:00:00Z", "2150-06-01", 28_800),  // beyond the fast window
    ])
    func localDatesAndOffsets(utc: String, local: String, offset: Int) throws {
        let formatter = ISO8601DateFormatter()
        let instant = try #require(formatter.date(from: utc))
        #expect(china.civilDate(of: instant) == CalendarFixtures.date(local))
        #expect(china.utcOffsetSeconds(at: instant) == offset)
    }

    @Test func newYorkAcrossDaylightSaving() throws {
        let newYork = TimeZone(identifier: "America/New_York")!
        let calendar = BusinessCalendar(
            timeZone: newYork, workingWeekdays: CalendarFixtures.weekdays,
            workingHours: [WorkingInterval(parsing: "09:00-17:00")!],
            holidays: [], makeUpWorkdays: [], coveredYears: nil)
        let formatter = ISO8601DateFormatter()
        // Friday 2026-03-06 10:00 EST; DST starts Sunday 03-08; due Monday 03-09 23:59:59 EDT.
        let received = try #require(formatter.date(from: "2026-03-06T15:00:00Z"))
        #expect(calendar.addingWorkingDays(1, to: received) == formatter.date(from: "2026-03-10T03:59:59Z"))
        // 16:00 EST Friday + 2 working hours -> Monday 10:00 EDT.
        let late = try #require(formatter.date(from: "2026-03-06T21:00:00Z"))
        #expect(calendar.addingWorkingMinutes(120, to: late) == formatter.date(from: "2026-03-09T14:00:00Z"))
        #expect(calendar.utcOffsetSeconds(at: late) == -18_000)
    }

    @Test(arguments: [
        "America/New_York", "Europe/London", "Asia/Shanghai", "Australia/Lord_Howe", "UTC", "Asia/Kolkata",
    ])
    func endOfDayMatchesFoundation(zoneName: String) throws {
        let zone = try #require(TimeZone(identifier: zoneName))
        let calendar = BusinessCalendar(
            timeZone: zone, workingWeekdays: Set(Weekday.allCases), workingHours: [],
            holidays: [], makeUpWorkdays: [], coveredYears: nil)
        var gregorian = Calendar(identifier: .gregorian)
        gregorian.timeZone = zone
        var rng = CalendarTestRNG(state: 7)
        for _ in 0..<300 {
            let instant = Date(timeIntervalSince1970: Double(Int.random(in: 0..<4_200_000_000, using: &rng)))
            let due = calendar.addingWorkingDays(1, to: instant)
            // Expected: local midnight at the start of the day after tomorrow, minus one second.
            let today = gregorian.startOfDay(for: instant)
            let dayAfterTomorrow = gregorian.date(byAdding: .day, value: 2, to: today)!
            #expect(due == dayAfterTomorrow.addingTimeInterval(-1), "instant \(instant)")
            let components = gregorian.dateComponents([.year, .month, .day], from: instant)
            #expect(
                calendar.civilDate(of: instant)
                    == CivilDate(year: components.year!, month: components.month!, day: components.day!))
            #expect(calendar.utcOffsetSeconds(at: instant) == zone.secondsFromGMT(for: instant))
        }
    }
}

// MARK: - Degenerate input

@Suite struct CalendarEdgeCaseTests {
    static let shanghai = TimeZone(identifier: "Asia/Shanghai")!

    @Test func noWorkingDaysAtAll() {
        let calendar = BusinessCalendar(
            timeZone: Self.shanghai, workingWeekdays: [], workingHours: CalendarFixtures.officeHours,
            holidays: [], makeUpWorkdays: [], coveredYears: nil)
        let instant = CalendarFixtures.shanghai("2026-02-13 15:00")
        #expect(calendar.addingWorkingDays(3, to: instant) == .distantFuture)
        #expect(calendar.addingWorkingDays(0, to: instant) == .distantFuture)
        #expect(calendar.addingWorkingMinutes(60, to: instant) == .distantFuture)
        #expect(
            calendar.workingDays(
                from: CalendarFixtures.date("2000-01-01"), through: CalendarFixtures.date("2100-01-01")) == 0)
    }

    @Test func onlyMakeUpDays() {
        let calendar = BusinessCalendar(
            timeZone: Self.shanghai, workingWeekdays: [], workingHours: CalendarFixtures.officeHours,
            holidays: [], makeUpWorkdays: [CalendarFixtures.date("2026-02-14"), CalendarFixtures.date("2026-02-28")],
            coveredYears: nil)
        let instant = CalendarFixtures.shanghai("2026-02-13 15:00")
        #expect(calendar.addingWorkingDays(2, to: instant) == CalendarFixtures.shanghai("2026-02-28 23:59:59"))
        #expect(calendar.addingWorkingDays(3, to: instant) == .distantFuture)
        #expect(calendar.addingWorkingMinutes(450 + 60, to: instant) == CalendarFixtures.shanghai("2026-02-28 09:30"))
        #expect(calendar.addingWorkingMinutes(900 + 1, to: instant) == .distantFuture)
    }

    @Test func noWorkingHours() {
        let calendar = BusinessCalendar(
            timeZone: Self.shanghai, workingWeekdays: CalendarFixtures.weekdays, workingHours: [],
            holidays: [], makeUpWorkdays: [], coveredYears: nil)
        #expect(calendar.addingWorkingMinutes(1, to: CalendarFixtures.shanghai("2026-02-13 15:00")) == .distantFuture)
    }

    @Test func oddInputDoesNotCrash() {
        // Reversed holiday (ignored), overlapping holidays, duplicate make-up days, a make-up
        // day inside a holiday, overlapping working intervals, and a 2000-year holiday.
        let d = CalendarFixtures.date
        let calendar = BusinessCalendar(
            timeZone: Self.shanghai, workingWeekdays: CalendarFixtures.weekdays,
            workingHours: [
                WorkingInterval(parsing: "09:00-12:00")!, WorkingInterval(parsing: "11:00-13:00")!,
                WorkingInterval(parsing: "13:00-14:00")!,
            ],
            holidays: [
                Holiday(from: d("2026-03-10"), to: d("2026-03-01"), name: "reversed"),
                Holiday(from: d("2026-05-01"), to: d("2026-05-10"), name: "a"),
                Holiday(from: d("2026-05-05"), to: d("2026-05-20"), name: "b"),
                Holiday(from: d("3000-01-01"), to: d("4999-12-31"), name: "forever"),
            ],
            makeUpWorkdays: [d("2026-05-12"), d("2026-05-12"), d("2026-05-16")], coveredYears: nil)
        #expect(calendar.workingHours.map(\.description) == ["09:00-14:00"])
        #expect(calendar.isWorkingDay(d("2026-03-05")))
        #expect(!calendar.isWorkingDay(d("2026-05-11")))
        #expect(calendar.isWorkingDay(d("2026-05-12")))
        #expect(calendar.holiday(on: d("2026-05-12"))?.name == "b")
        #expect(calendar.holiday(on: d("2026-05-03"))?.name == "a")
        #expect(calendar.holiday(on: d("2026-03-05")) == nil)
        #expect(
            calendar.addingWorkingDays(1, to: CalendarFixtures.shanghai("2026-04-30 10:00"))
                == CalendarFixtures.shanghai("2026-05-12 23:59:59"))
        #expect(
            calendar.addingWorkingDays(2, to: CalendarFixtures.shanghai("2026-04-30 10:00"))
                == CalendarFixtures.shanghai("2026-05-16 23:59:59"))
        #expect(
            calendar.addingWorkingDays(3, to: CalendarFixtures.shanghai("2026-04-30 10:00"))
                == CalendarFixtures.shanghai("2026-05-21 23:59:59"))
        #expect(calendar.workingDays(from: d("3000-01-01"), through: d("4999-12-31")) == 0)
        // Day 1 after the last day before the long holiday is after it.
        #expect(calendar.workingDay(1, after: d("2999-12-31")) == d("5000-01-01"))
    }

    // Passed as Double: Foundation's Date.description traps on NaN/infinite dates.
    @Test(arguments: [
        Date.distantPast.timeIntervalSince1970, Date.distantFuture.timeIntervalSince1970,
        .nan, .infinity, -.infinity, 1e300, -1e300,
    ])
    func extremeInstantsDoNotCrash(seconds: Double) {
        let instant = Date(timeIntervalSince1970: seconds)
        let china = CalendarFixtures.china
        _ = china.addingWorkingDays(3, to: instant)
        _ = china.addingWorkingMinutes(240, to: instant)
        _ = china.civilDate(of: instant)
        _ = china.utcOffsetSeconds(at: instant)
        _ = china.deadline(after: .natural(seconds: 60), from: instant)
    }

    @Test(arguments: [Int.max, BusinessCalendar.maxWorkingDays + 1])
    func hugeCountsAreDistantFuture(n: Int) {
        let instant = CalendarFixtures.shanghai("2026-02-13 15:00")
        #expect(CalendarFixtures.china.addingWorkingDays(n, to: instant) == .distantFuture)
        #expect(
            CalendarFixtures.china.addingWorkingMinutes(
                n == Int.max ? n : BusinessCalendar.maxWorkingMinutes + 1, to: instant) == .distantFuture)
    }

    @Test func largeButValidCountsAreComputed() {
        // 1,000,000 working days on a plain Mon-Fri template after the data ends.
        let calendar = BusinessCalendar(
            timeZone: Self.shanghai, workingWeekdays: CalendarFixtures.weekdays, workingHours: [],
            holidays: [], makeUpWorkdays: [], coveredYears: nil)
        // Friday 2027-01-01 + 5 working days = Friday 2027-01-08; +1,000,000 = +200,000 weeks.
        let due = calendar.workingDay(1_000_000, after: CalendarFixtures.date("2027-01-01"))
        #expect(due == CalendarFixtures.date("2027-01-01").adding(days: 1_400_000))
        #expect(due?.weekday == .friday)
        // The largest accepted requests complete (far in the future) without trapping.
        let instant = CalendarFixtures.shanghai("2026-02-13 15:00")
        #expect(CalendarFixtures.china.addingWorkingDays(BusinessCalendar.maxWorkingDays, to: instant) > instant)
        #expect(CalendarFixtures.china.addingWorkingMinutes(BusinessCalendar.maxWorkingMinutes, to: instant) > instant)
    }
}

// MARK: - Cross-check against the naive reference

@Suite struct CalendarCrossCheckTests {
    @Test func chinaMatchesNaiveReference() {
        let reference = NaiveCalendarReference(
            weekdays: CalendarFixtures.weekdays,
            holidays: CalendarFixtures.china.holidays,
            makeUps: Set(CalendarFixtures.makeUps.map { CalendarFixtures.date($0).dayNumber }),
            intervals: CalendarFixtures.officeHours, offsetSeconds: 8 * 3_600)
        Self.compare(
            CalendarFixtures.china, reference, seed: 1, pairs: 4_000,
            dayRange: CalendarFixtures.date("2024-11-01").dayNumber...CalendarFixtures.date("2027-02-01").dayNumber)
    }

    @Test(arguments: 0..<12)
    func randomCalendarsMatchNaiveReference(seed: Int) {
        var rng = CalendarTestRNG(state: UInt64(seed) &* 7_919 &+ 11)
        let base = CalendarFixtures.date("2025-01-01").dayNumber
        // Random template: sometimes empty or a single day.
        var weekdays = Set<Weekday>()
        let density = [0, 1, 3, 5, 7][seed % 5]
        while weekdays.count < density { weekdays.insert(Weekday.allCases.randomElement(using: &rng)!) }
        var holidays: [Holiday] = []
        for index in 0..<Int.random(in: 0...40, using: &rng) {
            let start = base + Int.random(in: -30...700, using: &rng)
            holidays.append(
                Holiday(
                    from: CivilDate(dayNumber: start),
                    to: CivilDate(dayNumber: start + Int.random(in: -1...12, using: &rng)), name: "h\(index)"))
        }
        let makeUps = (0..<Int.random(in: 0...30, using: &rng)).map { _ in base + Int.random(in: -30...700, using: &rng)
        }
        var intervals: [WorkingInterval] = []
        var minute = Int.random(in: 0...600, using: &rng)
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            let length = Int.random(in: 30...240, using: &rng)
            guard minute + length <= 1_440,
                let interval = WorkingInterval(startMinute: minute, endMinute: minute + length)
            else { break }
            intervals.append(interval)
            minute += length + Int.random(in: 1...120, using: &rng)
        }
        let offset = [8 * 3_600, 0, -5 * 3_600 - 1_800][seed % 3]
        let calendar = BusinessCalendar(
            timeZone: TimeZone(secondsFromGMT: offset)!, workingWeekdays: weekdays,
            workingHours: intervals, holidays: holidays,
            makeUpWorkdays: makeUps.map { CivilDate(dayNumber: $0) }, coveredYears: nil)
        let reference = NaiveCalendarReference(
            weekdays: weekdays, holidays: holidays, makeUps: Set(makeUps),
            intervals: intervals, offsetSeconds: offset)
        Self.compare(calendar, reference, seed: UInt64(seed) + 100, pairs: 800, dayRange: (base - 60)...(base + 760))
    }

    static func compare(
        _ calendar: BusinessCalendar, _ reference: NaiveCalendarReference, seed: UInt64, pairs: Int,
        dayRange: ClosedRange<Int>
    ) {
        var rng = CalendarTestRNG(state: seed)
        var failures = 0
        for _ in 0..<pairs where failures < 5 {
            let day = Int.random(in: dayRange, using: &rng)
            let instant = Date(
                timeIntervalSince1970: Double(day * 86_400 + Int.random(in: -43_200..<129_600, using: &rng)))
            let n = Int.random(in: 0...40, using: &rng)
            let fast = calendar.addingWorkingDays(n, to: instant)
            let slow = reference.addingWorkingDays(n, to: instant)
            if fast != slow {
                failures += 1
                Issue.record("addingWorkingDays(\(n), \(instant)): \(fast) != \(slow)")
            }

            let minutes = Int.random(in: 0...3_000, using: &rng)
            let fastMinutes = calendar.addingWorkingMinutes(minutes, to: instant)
            let slowMinutes = reference.addingWorkingMinutes(minutes, to: instant)
            if fastMinutes != slowMinutes {
                failures += 1
                Issue.record("addingWorkingMinutes(\(minutes), \(instant)): \(fastMinutes) != \(slowMinutes)")
            }

            let other = Int.random(in: dayRange, using: &rng)
            let (from, through) = (min(day, other), max(day, other))
            let count = calendar.workingDays(from: CivilDate(dayNumber: from), through: CivilDate(dayNumber: through))
            if count != reference.count(from, through) {
                failures += 1
                Issue.record("workingDays(\(from)...\(through))")
            }

            if calendar.isWorkingDay(CivilDate(dayNumber: day)) != reference.isWorking(day) {
                failures += 1
                Issue.record("isWorkingDay(\(CivilDate(dayNumber: day)))")
            }
        }
    }
}
