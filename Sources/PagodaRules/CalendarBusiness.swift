import Foundation
import PagodaJSON

/// A working-day calendar (weekly template + holidays + 调休 make-up workdays) used for SLA deadlines.
///
/// A day is a working day if (its weekday is in `workingWeekdays` AND it is in no holiday
/// range) OR it is a make-up workday. Working time is the part of a working day inside the
/// working hours of that date, in local time of `timeZone`: those of the season that holds on
/// it (`seasons`: a dated season before a yearly one), else the default `workingHours`.
///
/// All arithmetic is O(log n) in the number of holidays and make-up days and independent
/// of the span covered: the template is counted in closed form per week, and the
/// exceptions (holiday ranges, make-up days) are stored as sorted blocks with prefix sums.
/// With seasons, working time is summed season by season (a constant number of stretches a
/// year, each counted in closed form), and whole 400-year Gregorian cycles outside the
/// holiday data and dated seasons, where the calendar repeats, are counted in one step.
/// Initialisation is O(n log n) plus a one-off time-zone probe (see `CalendarZone`).
///
/// Conventions shared by all operations:
/// - Instants are taken to whole seconds (floor); a sub-second part is kept only where the
///   result is "instant + elapsed working time" (see `addingWorkingMinutes`).
/// - When no qualifying working day/time exists (empty template and no make-up day left,
///   no working hours) or a request exceeds `maxWorkingDays` / `maxWorkingMinutes`,
///   the result is `Date.distantFuture`. Nothing loops or traps.
public struct BusinessCalendar: Sendable {
    /// Requests for more working days than this return `Date.distantFuture`.
    public static let maxWorkingDays = 100_000_000
    /// Requests for more working minutes than this return `Date.distantFuture`.
    public static let maxWorkingMinutes = 1_000_000_000_000

    /// Weekdays that are working days unless a holiday covers them.
    public let workingWeekdays: Set<Weekday>
    /// Default daily working intervals, sorted and merged (overlapping/touching inputs are joined): the
    /// hours of every date no season holds on.
    public let workingHours: [WorkingInterval]
    /// Seasons of working hours as given (yearly and dated); see `workingHours(on:)`.
    public let seasons: [WorkingSeason]
    /// Holidays as given, sorted by start date (ranges with `from > to` are dropped).
    public let holidays: [Holiday]
    /// Make-up workdays, sorted and de-duplicated.
    public let makeUpWorkdays: [CivilDate]
    /// Years whose holiday data was published; nil if none.
    public let coveredYears: ClosedRange<Int>?

    private let zone: CalendarZone

    // Weekly template: index 0 = Monday.
    private let templateBits: UInt8
    /// partial[r] = number of working template weekdays among indices 0..<r (r in 0...7).
    private let partial: [Int]
    /// Sorted indices of working template weekdays.
    private let workingIndices: [Int]
    /// Working template days per week.
    private let perWeek: Int

    /// Day numbers of "extra" working days: make-up days that are not already template
    /// working days outside holidays (i.e. on a non-template weekday or inside a holiday).
    private let extraDays: [Int]
    /// Exception blocks: merged holiday ranges plus isolated extra days, sorted, disjoint.
    private let blockStart: [Int]
    private let blockEnd: [Int]
    /// blockPrefix[k] = sum over blocks 0..<k of (working days in block - template days in block).
    private let blockPrefix: [Int]
    /// For `holiday(on:)`: holidays sorted by start, and the index of the holiday with the
    /// latest end among holidays[0...i].
    private let latestEndIndex: [Int]

    /// The sets of daily working hours: index 0 the default, index i + 1 that of `seasons[i]`.
    private let hourSets: [HourSet]
    /// Whether any season is given (without one, every date has the default hours).
    private let hasSeasons: Bool
    /// For each leap-year ordinal (0...365) the hour set of the yearly season holding on it (0: default).
    private let yearlySet: [Int]
    /// For each leap-year ordinal the last ordinal of its run of the same hour set, within the year.
    private let yearlyRunEnd: [Int]
    /// Dated seasons as disjoint day ranges sorted by start, with their hour sets.
    private let datedStart: [Int]
    private let datedEnd: [Int]
    private let datedSet: [Int]
    /// First and last day of the irregular stretch (holiday blocks, make-up days, dated seasons): before
    /// and after it the calendar repeats every `cycleDays`. `Int.max` / `Int.min` when there is none.
    private let irregularFirst: Int
    private let irregularLast: Int
    /// Working seconds in `cycleDays` days outside the irregular stretch (the same for any such window).
    private var cycleSeconds = 0

    /// Days in a 400-year Gregorian cycle (a whole number of weeks): weekdays and month-days repeat.
    static let cycleDays = 146_097

    /// One set of daily working hours.
    struct HourSet: Sendable {
        let intervals: [WorkingInterval]
        /// Interval bounds in seconds since local midnight.
        let start: [Int]
        let end: [Int]
        /// Working seconds of a working day with these hours.
        let seconds: Int

        init(_ intervals: [WorkingInterval]) {
            var merged: [WorkingInterval] = []
            for interval in intervals.sorted(by: { ($0.startMinute, $0.endMinute) < ($1.startMinute, $1.endMinute) }) {
                if let last = merged.last, interval.startMinute <= last.endMinute {
                    if interval.endMinute > last.endMinute {
                        merged[merged.count - 1] = WorkingInterval(
                            startMinute: last.startMinute, endMinute: interval.endMinute)!
                    }
                } else {
                    merged.append(interval)
                }
            }
            self.intervals = merged
            start = merged.map { $0.startMinute * 60 }
            end = merged.map { $0.endMinute * 60 }
            seconds = merged.reduce(0) { $0 + $1.minutes * 60 }
        }

        /// Working seconds of such a day within `[from, to)` (seconds since local midnight).
        func within(_ from: Int, _ to: Int) -> Int {
            var total = 0
            for i in start.indices {
                let lo = max(start[i], from)
                let hi = min(end[i], to)
                if hi > lo { total += hi - lo }
            }
            return total
        }
    }

    /// Builds a calendar; never fails.
    ///
    /// Odd input is tolerated: duplicate make-up days are merged, holidays with
    /// `from > to` are ignored, overlapping holidays and overlapping working intervals are
    /// merged. An empty template with no make-up days yields a calendar without any working
    /// day (deadlines become `Date.distantFuture`).
    ///
    /// `seasons` give other working hours on some dates. Where seasons overlap, the first given wins
    /// (a dated season always before a yearly one); `pagoda check` refuses such overlaps. Dated seasons
    /// with `from > to` are ignored.
    public init(
        timeZone: TimeZone, workingWeekdays: Set<Weekday>, workingHours: [WorkingInterval],
        holidays: [Holiday], makeUpWorkdays: [CivilDate], coveredYears: ClosedRange<Int>?,
        seasons: [WorkingSeason] = []
    ) {
        self.zone = CalendarZone(timeZone)
        self.workingWeekdays = workingWeekdays
        self.coveredYears = coveredYears

        // Template.
        var bits: UInt8 = 0
        for weekday in workingWeekdays { bits |= 1 << UInt8(weekday.rawValue - 1) }
        templateBits = bits
        var partial = [0]
        var indices: [Int] = []
        for index in 0..<7 {
            if bits & (1 << UInt8(index)) != 0 { indices.append(index) }
            partial.append(indices.count)
        }
        self.partial = partial
        self.workingIndices = indices
        self.perWeek = indices.count

        // Working hours: the default and one set per season.
        let sets = [HourSet(workingHours)] + seasons.map { HourSet($0.workingHours) }
        hourSets = sets
        self.workingHours = sets[0].intervals
        self.seasons = seasons
        hasSeasons = !seasons.isEmpty
        var yearly = [Int](repeating: 0, count: 366)
        var dated: [(start: Int, end: Int, set: Int)] = []
        for (index, season) in seasons.enumerated() {
            switch season.span {
            case .yearly:
                for ordinal in season.ordinals where yearly[ordinal] == 0 { yearly[ordinal] = index + 1 }
            case .dated(let from, let to):
                if from <= to { dated.append((from.dayNumber, to.dayNumber, index + 1)) }
            }
        }
        var runEnd = [Int](repeating: 365, count: 366)
        for ordinal in stride(from: 364, through: 0, by: -1) {
            runEnd[ordinal] = yearly[ordinal] == yearly[ordinal + 1] ? runEnd[ordinal + 1] : ordinal
        }
        yearlySet = yearly
        yearlyRunEnd = runEnd
        var disjoint: [(start: Int, end: Int, set: Int)] = []
        for range in dated.sorted(by: { ($0.start, $0.set) < ($1.start, $1.set) }) {
            if let last = disjoint.last, range.start <= last.end {
                if range.end > last.end { disjoint.append((last.end + 1, range.end, range.set)) }
            } else {
                disjoint.append(range)
            }
        }
        datedStart = disjoint.map(\.start)
        datedEnd = disjoint.map(\.end)
        datedSet = disjoint.map(\.set)

        // Holidays: valid ranges sorted by start; prefix "latest end" for lookups.
        let sortedHolidays = holidays.filter { $0.from <= $0.to }
            .sorted { ($0.from, $0.to, $0.name) < ($1.from, $1.to, $1.name) }
        self.holidays = sortedHolidays
        var latest: [Int] = []
        latest.reserveCapacity(sortedHolidays.count)
        for (index, holiday) in sortedHolidays.enumerated() {
            if let previous = latest.last, sortedHolidays[previous].to >= holiday.to {
                latest.append(previous)
            } else {
                latest.append(index)
            }
        }
        latestEndIndex = latest

        // Merged holiday ranges (as day numbers).
        var ranges: [(start: Int, end: Int)] = []
        for holiday in sortedHolidays {
            let start = holiday.from.dayNumber
            let end = holiday.to.dayNumber
            if let last = ranges.last, start <= last.end + 1 {
                if end > last.end { ranges[ranges.count - 1].end = end }
            } else {
                ranges.append((start, end))
            }
        }

        // Make-up days.
        let makeUps = Array(Set(makeUpWorkdays.map(\.dayNumber))).sorted()
        self.makeUpWorkdays = makeUps.map { CivilDate(dayNumber: $0) }
        func inRanges(_ day: Int) -> Bool {
            var lo = 0
            var hi = ranges.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if ranges[mid].end < day { lo = mid + 1 } else { hi = mid }
            }
            return lo < ranges.count && ranges[lo].start <= day
        }
        let templateOf = { (day: Int) -> Bool in
            bits & (1 << UInt8(CalendarMath.floorMod(CalendarMath.floorMod(day, 7) + 3, 7))) != 0
        }
        let extras = makeUps.filter { inRanges($0) || !templateOf($0) }
        extraDays = extras

        // Blocks: holiday ranges plus extra days lying outside every range.
        var blocks = ranges
        for day in extras where !inRanges(day) { blocks.append((day, day)) }
        blocks.sort { $0.start < $1.start }
        blockStart = blocks.map(\.start)
        blockEnd = blocks.map(\.end)
        var prefix = [0]
        prefix.reserveCapacity(blocks.count + 1)
        for block in blocks {
            let working = BusinessCalendar.countSorted(extras, from: block.start, through: block.end)
            let template = BusinessCalendar.templateCount(
                partial: partial, perWeek: indices.count,
                from: block.start, through: block.end)
            prefix.append(prefix[prefix.count - 1] + working - template)
        }
        blockPrefix = prefix

        let firsts = [blocks.first?.start, disjoint.first?.start].compactMap { $0 }
        let lasts = [blocks.map(\.end).max(), disjoint.last?.end].compactMap { $0 }
        irregularFirst = firsts.min() ?? Int.max
        irregularLast = lasts.max() ?? Int.min
        // One cycle after the irregular stretch, stretch by stretch of equal hours.
        let cycleStart = irregularLast == Int.min ? 0 : irregularLast + 1
        var day = cycleStart
        var total = 0
        while day < cycleStart + Self.cycleDays {
            let (set, end) = segment(at: day)
            let through = min(end, cycleStart + Self.cycleDays - 1)
            total += count(from: day, through: through) * sets[set].seconds
            day = through + 1
        }
        cycleSeconds = total
    }

    /// The working hours of `date`: those of the dated season holding on it, else of the yearly season,
    /// else the default `workingHours` (sorted and merged). Whether the date is a working day at all is
    /// `isWorkingDay(_:)`.
    public func workingHours(on date: CivilDate) -> [WorkingInterval] {
        hourSets[segment(at: date.dayNumber).set].intervals
    }

    /// The zone in which dates and working hours are interpreted.
    public var timeZone: TimeZone { zone.timeZone }

    /// The local calendar date of `instant` in the calendar's zone.
    ///
    /// Instants beyond about ±3 million years are clamped; NaN is treated as 1970-01-01T00:00Z.
    public func civilDate(of instant: Date) -> CivilDate {
        let local = zone.local(fromUTC: CalendarZone.split(instant).seconds)
        return CivilDate(dayNumber: CalendarMath.floorDiv(local, 86_400))
    }

    /// The zone's UTC offset in seconds at `instant` (e.g. 28800 for Asia/Shanghai today).
    ///
    /// Fast (integer) inside the zone's fixed-offset window, Foundation lookup otherwise.
    public func utcOffsetSeconds(at instant: Date) -> Int {
        zone.offset(atUTC: CalendarZone.split(instant).seconds)
    }

    /// Whether `date` is a working day: template weekday and not a holiday, or a make-up workday.
    ///
    /// A make-up workday wins even if it also lies inside a holiday range.
    public func isWorkingDay(_ date: CivilDate) -> Bool {
        isWorking(day: date.dayNumber)
    }

    /// The holiday covering `date`, or nil.
    ///
    /// With overlapping holidays, returns the one (among those starting on or before
    /// `date`) that ends last. Note a date can be both a holiday and a make-up workday.
    public func holiday(on date: CivilDate) -> Holiday? {
        var lo = 0
        var hi = holidays.count
        while lo < hi {  // first holiday starting after date
            let mid = (lo + hi) / 2
            if holidays[mid].from <= date { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0 else { return nil }
        let candidate = holidays[latestEndIndex[lo - 1]]
        return candidate.to >= date ? candidate : nil
    }

    /// Whether holiday data is published for the year of `date` (`coveredYears` contains it).
    ///
    /// Returns false for every date when `coveredYears` is nil: outside covered years only
    /// the weekly template applies, and callers should flag such deadlines.
    public func covers(_ date: CivilDate) -> Bool {
        coveredYears?.contains(date.year) ?? false
    }

    /// N working days counted from the NEXT working day after the local date of `instant`; due at the end of the Nth (23:59:59 local).
    ///
    /// Day 1 is the first working day strictly after the local date of `instant`, even if
    /// that date is itself a working day (a ticket received on a make-up Saturday starts
    /// counting on the following working day). `n == 0` (and negative `n`, treated as 0)
    /// means the end of the current local day if it is a working day, else the end of the
    /// next working day. Returns `Date.distantFuture` if fewer than `n` working days remain
    /// (e.g. empty template) or `n > maxWorkingDays`.
    public func addingWorkingDays(_ n: Int, to instant: Date) -> Date {
        guard n <= BusinessCalendar.maxWorkingDays else { return .distantFuture }
        let today = CalendarMath.floorDiv(zone.local(fromUTC: CalendarZone.split(instant).seconds), 86_400)
        let target: Int?
        if n <= 0 {
            target = isWorking(day: today) ? today : nthWorkingDay(1, after: today)
        } else {
            target = nthWorkingDay(n, after: today)
        }
        guard let target else { return .distantFuture }
        return Date(timeIntervalSince1970: Double(zone.utc(fromLocal: target * 86_400 + 86_399)))
    }

    /// Consume `minutes` of working time (working day AND inside workingHours) starting at `instant`.
    ///
    /// If `instant` is outside working time the clock starts at the next working interval;
    /// when the budget runs out exactly at the end of an interval, that end is the
    /// deadline (e.g. 12:00, not 14:00). A sub-second part of `instant` is carried
    /// through when `instant` is inside working time. `minutes <= 0` returns `instant`
    /// unchanged. Returns `Date.distantFuture` if there are no working hours, no further
    /// working day, or `minutes > maxWorkingMinutes`.
    public func addingWorkingMinutes(_ minutes: Int, to instant: Date) -> Date {
        guard minutes > 0 else { return instant }
        guard minutes <= BusinessCalendar.maxWorkingMinutes else { return .distantFuture }
        return addingWorkingSeconds(minutes * 60, to: instant)
    }

    /// `addingWorkingMinutes` to the second: consume `seconds` of working time starting at `instant`.
    ///
    /// The same rules: outside working time the count starts at the next working interval, an exact
    /// finish at an interval's end is that end, `seconds <= 0` returns `instant` unchanged, and
    /// `Date.distantFuture` when no working time is left or `seconds` passes `maxWorkingMinutes` minutes.
    public func addingWorkingSeconds(_ seconds: Int, to instant: Date) -> Date {
        guard seconds > 0 else { return instant }
        guard seconds <= BusinessCalendar.maxWorkingMinutes * 60 else { return .distantFuture }
        let (utcSeconds, fraction) = CalendarZone.split(instant)
        let local = zone.local(fromUTC: utcSeconds)
        let day = CalendarMath.floorDiv(local, 86_400)
        let secondOfDay = local - day * 86_400
        var need = seconds
        var startsInside = false
        var resultLocal: Int?

        if isWorking(day: day) {
            let hours = hourSets[segment(at: day).set]
            var remaining = 0
            for index in hours.start.indices where hours.end[index] > secondOfDay {
                if hours.start[index] <= secondOfDay { startsInside = true }
                remaining += hours.end[index] - max(hours.start[index], secondOfDay)
            }
            if need <= remaining {
                resultLocal = day * 86_400 + consume(need, from: secondOfDay, hours)
            } else {
                need -= remaining
            }
        }
        if resultLocal == nil {
            guard let (target, leftover, set) = dayConsuming(need, from: day + 1) else { return .distantFuture }
            resultLocal = target * 86_400 + consume(leftover, from: 0, hourSets[set])
        }
        guard var result = resultLocal else { return .distantFuture }
        if startsInside, fraction > 0 {
            // The clock really started `fraction` after the whole second: spend it too.
            guard let next = nextWorkingLocalSecond(atOrAfter: result) else { return .distantFuture }
            result = next
            return Date(timeIntervalSince1970: Double(zone.utc(fromLocal: result)) + fraction)
        }
        return Date(timeIntervalSince1970: Double(zone.utc(fromLocal: result)))
    }

    /// The deadline for an SLA `duration` starting at `instant`.
    ///
    /// `.natural` adds plain seconds (so "3d" is exactly 72 hours regardless of holidays or
    /// DST); `.workingDays` uses `addingWorkingDays`; `.workingHours` uses `addingWorkingMinutes`.
    public func deadline(after duration: SLADuration, from instant: Date) -> Date {
        switch duration {
        case .natural(let seconds): return instant.addingTimeInterval(Double(seconds))
        case .workingDays(let days): return addingWorkingDays(days, to: instant)
        case .workingHours(let minutes): return addingWorkingMinutes(minutes, to: instant)
        }
    }

    /// Number of working days in `from...through`, both inclusive.
    ///
    /// Returns 0 when `from > through`. O(log n); independent of the span length.
    public func workingDays(from: CivilDate, through: CivilDate) -> Int {
        count(from: from.dayNumber, through: through.dayNumber)
    }

    /// The `n`th working day strictly after `date` (n >= 1), or nil if none exists.
    ///
    /// `n <= 0` is treated as 1; nil also when `n > maxWorkingDays`.
    public func workingDay(_ n: Int, after date: CivilDate) -> CivilDate? {
        guard n <= BusinessCalendar.maxWorkingDays else { return nil }
        return nthWorkingDay(max(1, n), after: date.dayNumber).map { CivilDate(dayNumber: $0) }
    }

    // MARK: - Internals

    /// Whether the weekly template marks `day` as working.
    @inline(__always)
    private func isTemplate(day: Int) -> Bool {
        templateBits & (1 << UInt8(CalendarMath.floorMod(CalendarMath.floorMod(day, 7) + 3, 7))) != 0
    }

    /// Index of the last block starting on or before `day`, or -1.
    @inline(__always)
    private func lastBlock(startingOnOrBefore day: Int) -> Int {
        BusinessCalendar.upperBound(blockStart, day) - 1
    }

    private func isWorking(day: Int) -> Bool {
        let block = lastBlock(startingOnOrBefore: day)
        if block >= 0, blockEnd[block] >= day {
            let index = BusinessCalendar.lowerBound(extraDays, day)
            return index < extraDays.count && extraDays[index] == day
        }
        return isTemplate(day: day)
    }

    /// Template working days in [from, through] (0 if empty), closed form.
    @inline(__always)
    private func templateCount(from: Int, through: Int) -> Int {
        BusinessCalendar.templateCount(partial: partial, perWeek: perWeek, from: from, through: through)
    }

    /// Template days counted in [1969-12-29 (a Monday), x) — extended to negative values.
    @inline(__always)
    private static func templateCumulative(partial: [Int], perWeek: Int, _ x: Int) -> Int {
        let shifted = x + 3
        return CalendarMath.floorDiv(shifted, 7) * perWeek + partial[CalendarMath.floorMod(shifted, 7)]
    }

    @inline(__always)
    private static func templateCount(partial: [Int], perWeek: Int, from: Int, through: Int) -> Int {
        guard from <= through else { return 0 }
        return templateCumulative(partial: partial, perWeek: perWeek, through + 1)
            - templateCumulative(partial: partial, perWeek: perWeek, from)
    }

    /// The smallest day d > `after` with templateCount(after+1, d) == t (t >= 1, perWeek > 0).
    @inline(__always)
    private func templateNth(_ t: Int, after: Int) -> Int {
        let target = BusinessCalendar.templateCumulative(partial: partial, perWeek: perWeek, after + 1) + t
        let q = CalendarMath.floorDiv(target - 1, perWeek)
        let j = target - 1 - q * perWeek
        return 7 * q + workingIndices[j] - 3
    }

    /// Working days in [from, through] via template count plus block corrections.
    private func count(from: Int, through: Int) -> Int {
        guard from <= through else { return 0 }
        var total = templateCount(from: from, through: through)
        guard !blockStart.isEmpty else { return total }
        // Blocks intersecting [from, through]: first with end >= from ... last with start <= through.
        let first = BusinessCalendar.lowerBound(blockEnd, from)
        let last = BusinessCalendar.upperBound(blockStart, through) - 1
        guard first <= last else { return total }
        total += blockPrefix[last + 1] - blockPrefix[first]
        total += clippedAdjustment(block: first, from: from, through: through)
        if last != first { total += clippedAdjustment(block: last, from: from, through: through) }
        return total
    }

    /// Correction turning a block's full-range contribution into its [from, through]-clipped one.
    @inline(__always)
    private func clippedAdjustment(block: Int, from: Int, through: Int) -> Int {
        let lo = blockStart[block]
        let hi = blockEnd[block]
        if lo >= from && hi <= through { return 0 }
        let clipLo = max(lo, from)
        let clipHi = min(hi, through)
        return BusinessCalendar.countSorted(extraDays, from: clipLo, through: clipHi)
            - templateCount(from: clipLo, through: clipHi)
            - (blockPrefix[block + 1] - blockPrefix[block])
    }

    /// The `n`th working day strictly after day `after` (n >= 1), or nil if none exists.
    private func nthWorkingDay(_ n: Int, after: Int) -> Int? {
        var n = n
        var start = after
        let current = lastBlock(startingOnOrBefore: start)
        if current >= 0, blockEnd[current] > start {
            // Inside a block: the only working days left in it are extra days.
            let lo = BusinessCalendar.upperBound(extraDays, start)
            let hi = BusinessCalendar.upperBound(extraDays, blockEnd[current])
            if hi - lo >= n { return extraDays[lo + n - 1] }
            n -= hi - lo
            start = blockEnd[current]
        }
        let firstBlock = current + 1
        let blockCount = blockStart.count
        let base = blockPrefix[firstBlock]
        // First block k with working(start+1 ... blockEnd[k]) >= n.
        var lo = firstBlock
        var hi = blockCount
        while lo < hi {
            let mid = (lo + hi) / 2
            let through = templateCount(from: start + 1, through: blockEnd[mid]) + blockPrefix[mid + 1] - base
            if through >= n { hi = mid } else { lo = mid + 1 }
        }
        if lo == blockCount {
            guard perWeek > 0 else { return nil }
            return templateNth(n - (blockPrefix[blockCount] - base), after: start)
        }
        let before = templateCount(from: start + 1, through: blockStart[lo] - 1) + blockPrefix[lo] - base
        if before >= n {
            return templateNth(n - (blockPrefix[lo] - base), after: start)
        }
        return extraDays[BusinessCalendar.lowerBound(extraDays, blockStart[lo]) + (n - before) - 1]
    }

    /// Local second-of-day reached after spending `amount` (> 0, <= what is left) working
    /// seconds from `secondOfDay` on a day with `hours`; an exact finish at an interval end returns that end.
    private func consume(_ amount: Int, from secondOfDay: Int, _ hours: HourSet) -> Int {
        var left = amount
        for index in hours.start.indices where hours.end[index] > secondOfDay {
            let begin = max(hours.start[index], secondOfDay)
            let available = hours.end[index] - begin
            if left <= available { return begin + left }
            left -= available
        }
        return hours.end.last ?? 0  // unreachable when callers respect the budget
    }

    /// `local` itself if it is inside working time, else the start of the next working interval.
    fileprivate func nextWorkingLocalSecond(atOrAfter local: Int) -> Int? {
        let day = CalendarMath.floorDiv(local, 86_400)
        let secondOfDay = local - day * 86_400
        if isWorking(day: day) {
            let hours = hourSets[segment(at: day).set]
            for index in hours.start.indices where hours.end[index] > secondOfDay {
                return day * 86_400 + max(hours.start[index], secondOfDay)
            }
        }
        guard let (next, _, set) = dayConsuming(1, from: day + 1), let first = hourSets[set].start.first else {
            return nil
        }
        return next * 86_400 + first
    }

    // MARK: - Seasons

    /// The hour set of `day` and the last day through which it stays the same.
    ///
    /// Without seasons one stretch reaches past every representable date. O(log n) in the dated seasons.
    private func segment(at day: Int) -> (set: Int, end: Int) {
        guard hasSeasons else { return (0, 2 * CivilDate.maxDayNumber) }
        let k = BusinessCalendar.upperBound(datedStart, day) - 1
        if k >= 0, datedEnd[k] >= day { return (datedSet[k], datedEnd[k]) }
        let nextDated = k + 1 < datedStart.count ? datedStart[k + 1] - 1 : Int.max
        let date = CivilDate(dayNumber: day)
        let ordinal = MonthDay(date).ordinal
        let runEnd = yearlyRunEnd[ordinal]
        // Day of the year of a leap-year ordinal: one less after 02-29 in other years (02-29 itself then
        // ends a run that began on or before 02-28, so 02-28 it is).
        let leap = CivilDate.isLeapYear(date.year)
        func dayOfYear(_ o: Int) -> Int { leap || o < 59 ? o : o - 1 }
        let end = day + dayOfYear(runEnd) - dayOfYear(ordinal)
        return (yearlySet[ordinal], min(end, nextDated))
    }

    /// The working day on which `need` (> 0) working seconds, counted from the start of day `first`, run
    /// out; the seconds still to spend on it (1 ... its working seconds), and its hour set. Nil when no
    /// working time is left.
    ///
    /// Walks stretches of equal hours (a few a year), counting each in closed form; whole cycles outside
    /// the irregular stretch are skipped in one step, so the walk covers at most about one cycle.
    private func dayConsuming(_ need: Int, from first: Int) -> (day: Int, leftover: Int, set: Int)? {
        var need = need
        var day = first
        while day <= 2 * CivilDate.maxDayNumber {
            if day > irregularLast || day < irregularFirst {
                if cycleSeconds == 0 {
                    // Nothing works outside the irregular stretch: jump to it, or there is no more.
                    guard day < irregularFirst, irregularFirst != Int.max else { return nil }
                    day = irregularFirst
                    continue
                }
                if need > cycleSeconds {
                    var cycles = (need - 1) / cycleSeconds
                    if day < irregularFirst, irregularFirst != Int.max {
                        cycles = min(cycles, (irregularFirst - day) / Self.cycleDays)
                    }
                    need -= cycles * cycleSeconds
                    day += cycles * Self.cycleDays
                }
            }
            let (set, end) = segment(at: day)
            let perDay = hourSets[set].seconds
            if perDay > 0 {
                let days = count(from: day, through: end)
                let needed = (need - 1) / perDay + 1
                if days >= needed, let target = nthWorkingDay(needed, after: day - 1) {
                    return (target, need - (needed - 1) * perDay, set)
                }
                need -= days * perDay
            }
            day = end + 1
        }
        return nil
    }

    /// Working seconds of the whole days `from...through` (0 when `from > through`).
    private func workingSecondsOfDays(from: Int, through: Int) -> Int {
        var total = 0
        var day = from
        while day <= through {
            if through - day + 1 >= Self.cycleDays, day > irregularLast || day < irregularFirst {
                var cycles = (through - day + 1) / Self.cycleDays
                if day < irregularFirst, irregularFirst != Int.max {
                    cycles = min(cycles, (irregularFirst - day) / Self.cycleDays)
                }
                if cycles > 0 {
                    total += cycles * cycleSeconds
                    day += cycles * Self.cycleDays
                    continue
                }
            }
            let (set, end) = segment(at: day)
            let last = min(end, through)
            if hourSets[set].seconds > 0 { total += count(from: day, through: last) * hourSets[set].seconds }
            day = last + 1
        }
        return total
    }

    // MARK: - Sorted-array helpers

    /// First index whose element is >= value.
    @inline(__always)
    static func lowerBound(_ array: [Int], _ value: Int) -> Int {
        var lo = 0
        var hi = array.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if array[mid] < value { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// First index whose element is > value.
    @inline(__always)
    static func upperBound(_ array: [Int], _ value: Int) -> Int {
        var lo = 0
        var hi = array.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if array[mid] <= value { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Number of elements of a sorted array within [from, through].
    @inline(__always)
    static func countSorted(_ array: [Int], from: Int, through: Int) -> Int {
        guard from <= through else { return 0 }
        return upperBound(array, through) - lowerBound(array, from)
    }
}

extension BusinessCalendar {
    /// `instant` itself when it falls in working time, else the start of the next working interval (the
    /// next moment somebody at a unit is at work to read a message).
    ///
    /// Whole seconds, like the other operations; a sub-second part is kept only when `instant` is already
    /// inside working time. `Date.distantFuture` when no working time follows (no working hours, no
    /// working day left).
    public func nextWorkingMoment(atOrAfter instant: Date) -> Date {
        let (utcSeconds, _) = CalendarZone.split(instant)
        let local = zone.local(fromUTC: utcSeconds)
        guard let next = nextWorkingLocalSecond(atOrAfter: local) else { return .distantFuture }
        if next == local { return instant }
        return Date(timeIntervalSince1970: Double(zone.utc(fromLocal: next)))
    }

    /// Working time, in whole seconds, between two instants (0 when `end <= start`).
    ///
    /// Counts only time inside each date's working hours on working days. O(log n) like the other
    /// operations: the whole working days in between are counted in closed form, season by season.
    public func workingSeconds(from start: Date, to end: Date) -> Int {
        guard end > start else { return 0 }
        let a = zone.local(fromUTC: CalendarZone.split(start).0)
        let b = zone.local(fromUTC: CalendarZone.split(end).0)
        let dayA = CalendarMath.floorDiv(a, 86_400)
        let dayB = CalendarMath.floorDiv(b, 86_400)
        let secA = a - dayA * 86_400
        let secB = b - dayB * 86_400
        func within(_ day: Int, _ from: Int, _ to: Int) -> Int {
            isWorking(day: day) ? hourSets[segment(at: day).set].within(from, to) : 0
        }
        if dayA == dayB { return within(dayA, secA, secB) }
        return within(dayA, secA, 86_400) + workingSecondsOfDays(from: dayA + 1, through: dayB - 1)
            + within(dayB, 0, secB)
    }
}
