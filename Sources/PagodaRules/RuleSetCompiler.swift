import Foundation
import PagodaJSON

/// Checks a rule set across its files and compiles it.
///
/// Validation happens in layers, as in Alertmanager but with positions everywhere: strict decoding
/// (``RuleLoader``), then per-node checks, then cross-references over the whole set, then analyses
/// (shadowed routes, coverage, calendar coverage). Compilation runs only when no error was found, so it
/// cannot fail.
public enum RuleSetCompiler {
    /// The outcome of checking a rule set: its diagnostics, and the compiled set if there were no errors.
    public struct Result: Sendable {
        public let ruleSet: RuleSet?
        public let diagnostics: [Diagnostic]
        /// The work was given up because `shouldStop` said so: no rule set, and the diagnostics are partial.
        public let stopped: Bool

        init(ruleSet: RuleSet?, diagnostics: [Diagnostic], stopped: Bool = false) {
            self.ruleSet = ruleSet
            self.diagnostics = diagnostics
            self.stopped = stopped
        }
    }

    /// Loads, checks and compiles rule files.
    ///
    /// - Parameters:
    ///   - today: the date used for the calendar-coverage warning; nil skips that check.
    ///   - limits: what one file may hold (`R080`-`R082`).
    ///   - shouldStop: asked between files, every few thousand YAML events while a file's aliases are
    ///     counted, and between the compiler's phases; when it returns true the work stops and the result
    ///     is `stopped`, without a rule set.
    public static func compile(
        _ files: [RuleFile], today: Date? = nil, limits: RuleLimits = .standard,
        shouldStop: StopCheck? = nil
    ) -> Result {
        var loader = RuleLoader(limits: limits, shouldStop: shouldStop)
        let source = loader.load(files)
        if loader.stopped || shouldStop?() == true {
            return Result(ruleSet: nil, diagnostics: loader.diagnostics.sorted(), stopped: true)
        }
        // A file that does not parse (or is refused for its size or aliases) defined nothing, so every check
        // across files would repeat that one mistake ("unknown SLA profile" wherever a profile of the broken
        // file is named): stop at reading.
        let unread: Set<DiagnosticCode> = [.yamlSyntax, .fileTooLarge, .tooManyAliases, .aliasExpansion]
        if loader.diagnostics.items.contains(where: { unread.contains($0.code) && $0.severity == .error }) {
            return Result(ruleSet: nil, diagnostics: loader.diagnostics.sorted())
        }
        var c = Checker(source: source, files: files, today: today, shouldStop: shouldStop)
        c.diagnostics.append(contentsOf: loader.diagnostics)
        let ruleSet = c.run()
        if c.stopped { return Result(ruleSet: nil, diagnostics: c.diagnostics.sorted(), stopped: true) }
        return Result(ruleSet: c.diagnostics.hasErrors ? nil : ruleSet, diagnostics: c.diagnostics.sorted())
    }

    /// Reads every `*.yaml`/`*.yml` file directly inside `directory`, in name order.
    ///
    /// A file larger than `limits.maxFileBytes` is not read: it is returned with its size
    /// (``RuleFile/unreadSize``) and compiling reports `R080` for it; a file that is not UTF-8, `R001` at its
    /// first byte that is not. Throws when the directory or a file cannot be read.
    public static func readFiles(in directory: String, limits: RuleLimits = .standard) throws -> [RuleFile] {
        let fm = FileManager.default
        let names = try fm.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
            .sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        return try names.map { name in
            let path = base + "/" + name
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw CocoaError(.fileReadUnknown, userInfo: [NSFilePathErrorKey: path])
            }
            defer { try? handle.close() }
            // The size first, so a huge file costs nothing; then at most one byte more than the limit, in
            // case the file grows while it is read.
            var info = stat()
            if fstat(handle.fileDescriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG,
                Int(info.st_size) > limits.maxFileBytes
            {
                return RuleFile(path: path, unreadSize: Int(info.st_size))
            }
            let data = try handle.read(upToCount: limits.maxFileBytes + 1) ?? Data()
            if data.count > limits.maxFileBytes { return RuleFile(path: path, unreadSize: data.count) }
            return RuleFile(path: path, data: data)
        }
    }
}

/// A region and a unit function: the key of the unit that serves it.
private struct RegionFunction: Hashable {
    let region: Int
    let function: String
    init(_ region: Int, _ function: String) {
        self.region = region
        self.function = function
    }
}

private struct Checker {
    let source: RuleSetSource
    let files: [RuleFile]
    let today: Date?
    var diagnostics = DiagnosticBag()

    var regions: [Region] = []
    var units: [Unit] = []
    var categories: [Category] = []
    var regionByPath: [String: Int] = [:]
    /// Each region's children by name and alias: the first child, in order, to have it as either.
    var childByName: [[String: Int]] = []
    var regionByCode: [String: Int] = [:]
    var unitByID: [String: Int] = [:]
    var categoryByCode: [String: Int] = [:]
    var profiles: [String: SLAProfile] = [:]
    var policies: [String: EscalationPolicy] = [:]
    var phrases: [String] = []
    var phraseIDs: [String: Int32] = [:]
    var virtualPhrases: [VirtualPhrase] = []
    var virtualTexts: [String] = []
    var virtualIDs: [VirtualPhrase: Int32] = [:]
    var relativeKeys: [String: Int] = [:]
    var relativeSpecs: [(level: Level, function: String, location: RulePosition)] = []

    let shouldStop: StopCheck?
    /// Set when `run` gave up because `shouldStop` said so.
    var stopped = false

    init(source: RuleSetSource, files: [RuleFile], today: Date?, shouldStop: StopCheck?) {
        self.source = source
        self.files = files
        self.today = today
        self.shouldStop = shouldStop
    }

    /// Whether to give up now (see `shouldStop`); remembers a yes.
    mutating func giveUp() -> Bool {
        if !stopped, shouldStop?() == true { stopped = true }
        return stopped
    }

    var firstLocation: RulePosition { RulePosition(file: files.first?.path ?? ".", line: 1, column: 1) }

    mutating func run() -> RuleSet? {
        buildRegions()
        if giveUp() { return nil }
        buildCategories()
        let calendar = buildCalendar()
        buildProfiles()
        buildUnits()
        if giveUp() { return nil }
        buildPolicies()
        let emergency = source.emergency.map { e in
            EmergencyRule(
                reference: ref(e.id), line: e.line, text: compileText(e.text), kinds: Set(e.kinds),
                channels: Set(e.channels))
        }
        var classify: [ClassifyRule] = []
        for spec in source.classify { if let rule = compileClassify(spec) { classify.append(rule) } }
        checkRuleIDs()
        let defaults = checkDefaults()
        var routes: [Route] = []
        for spec in source.routes {
            if let route = compileRoute(spec, index: routes.count) { routes.append(route) }
        }
        let policyRules = source.policies.compactMap { compilePolicy($0) }
        checkSLAShorthands()
        if giveUp() { return nil }
        let tables = buildRelativeTables()
        guard !diagnostics.hasErrors, let calendar, let defaults, !giveUp() else { return nil }
        let index = RouteIndex(routes: routes, categories: categories, regions: regions)
        checkShadowing(routes, index)
        if giveUp() { return nil }
        checkCoverage(routes, index)
        if giveUp() { return nil }
        var hasher = SHA256()
        for f in files.sorted(by: { $0.path < $1.path }) {
            hasher.update(Array((f.path as NSString).lastPathComponent.utf8) + [0])
            hasher.update(Array(f.text.utf8) + [0])
        }
        let hash = hasher.finalize().map { String($0, radix: 16).leftPadded(to: 2) }.joined()
        return RuleSet(
            regions: regions, units: units, categories: categories, profiles: profiles, policies: policies,
            emergencyRules: emergency, classifyRules: classify, routes: routes, calendar: calendar,
            platformUnit: defaults.platform, triageUnit: defaults.triage, supervisionUnit: defaults.supervision,
            defaultSLA: defaults.sla, triageSLA: defaults.triageSLA, defaultPriority: source.defaults.priority,
            hash: hash,
            fallbackRule: RuleReference(
                id: "fallback", file: (source.routesLocation ?? firstLocation).file,
                line: (source.routesLocation ?? firstLocation).line), phrases: phrases, relativeTables: tables,
            province: source.province?.value, virtualPhrases: virtualPhrases, virtualTexts: virtualTexts,
            classifyChoice: source.defaults.classifyChoice, policyRules: policyRules)
    }

    func ref(_ id: Located<String>) -> RuleReference {
        RuleReference(id: id.value, file: id.location.file, line: id.location.line)
    }

    // MARK: Regions

    mutating func buildRegions() {
        guard let root = source.regions else {
            diagnostics.error(.missingKey, "the rule set has no 'regions' section", at: firstLocation)
            return
        }
        // Names are looked up before aliases, so a sibling's name always wins over an alias.
        var childNames: [[String: Int]] = []
        var aliasSpecs: [[Located<String>]] = []
        func add(_ spec: RegionSpec, parent: Int?, parentPath: String?) {
            let path = parentPath.map { $0.isEmpty ? spec.name : "\($0)/\(spec.name)" } ?? spec.name
            let index = regions.count
            if let p = parent, let dup = childNames[p][spec.name] {
                let message =
                    "region '\(spec.name)' is already defined under '\(regions[p].name)' "
                    + "at \(regions[dup].location)"
                diagnostics.error(.duplicateId, message, at: spec.location)
                return
            }
            regions.append(
                Region(
                    index: index, name: spec.name, code: spec.code, aliases: spec.aliases.map(\.value),
                    level: spec.level, parent: parent, children: [], path: path, location: spec.location))
            childByName.append([:])
            childNames.append([:])
            aliasSpecs.append(spec.aliases)
            if let p = parent {
                regions[p].children.append(index)
                childNames[p][spec.name] = index
                childByName[p][spec.name] = index
            }
            regionByPath[path] = index
            if let code = spec.code {
                if let other = regionByCode[code] {
                    diagnostics.error(
                        .duplicateId, "region code \(code) is already used by '\(regions[other].path)'",
                        at: spec.location)
                } else {
                    regionByCode[code] = index
                }
            }
            // Below the city, paths start at the district.
            let childPrefix = spec.level == .city ? "" : path
            for child in spec.children { add(child, parent: index, parentPath: childPrefix) }
        }
        add(root, parent: nil, parentPath: nil)
        // Aliases, once every name is known: each is checked once, at the alias, so a clash never also
        // drops the region that has the name (and with it every reference to its subtree).
        var aliasAt: [[String: RulePosition]] = Array(repeating: [:], count: regions.count)
        for region in regions {
            for alias in aliasSpecs[region.index] {
                let a = alias.value
                let cleaned = RuleSet.cleanRegionName(a)
                if a == region.name {
                    diagnostics.warning(
                        .deadAlias, "alias '\(a)' is the region's own name, so it is never used as an alias; remove it",
                        at: alias.location)
                    continue
                }
                if cleaned != a {
                    let fix = cleaned.isEmpty ? "remove it" : "write '\(cleaned)'"
                    diagnostics.warning(
                        .deadAlias,
                        "alias '\(a)' can never match: callers' region names are compared without spaces "
                            + "and trailing punctuation; \(fix)", at: alias.location)
                    continue
                }
                guard let p = region.parent else { continue }
                if let named = childNames[p][a] {
                    diagnostics.error(
                        .duplicateId,
                        "alias '\(a)' of '\(region.path)' is the name of '\(regions[named].path)' "
                            + "(\(regions[named].location)), which a caller's '\(a)' means; remove the alias",
                        at: alias.location)
                    continue
                }
                if let earlier = aliasAt[p][a], let other = childByName[p][a] {
                    diagnostics.error(
                        .duplicateId,
                        "alias '\(a)' is given to both '\(regions[other].path)' at \(earlier) and "
                            + "'\(region.path)' at \(alias.location); keep it on one", at: alias.location)
                    continue
                }
                aliasAt[p][a] = alias.location
                childByName[p][a] = region.index
            }
        }
    }

    /// Resolves a region reference: a name path from the district (names or aliases), the city's name,
    /// or a code.
    func resolveRegion(_ text: String) -> Int? {
        if let i = regionByCode[text] { return i }
        guard !regions.isEmpty else { return nil }
        if text == regions[0].name || regions[0].aliases.contains(text) { return 0 }
        var node = 0
        for part in text.split(separator: "/", omittingEmptySubsequences: false) {
            let name = String(part)
            guard let next = childByName[node][name] else { return nil }
            node = next
        }
        return node
    }

    mutating func region(_ ref: Located<String>) -> Int? {
        if let i = resolveRegion(ref.value) { return i }
        let candidates = regions.map(\.path)
        let hint = YAMLReader.suggestion(for: ref.value, among: candidates).map { " (did you mean '\($0)'?)" } ?? ""
        diagnostics.error(
            .unknownRegion,
            "unknown region '\(ref.value)'\(hint); write a path from the district such as '\(regions.count > 1 ? regions[regions[0].children.first ?? 0].path : "区")/镇', or a code",
            at: ref.location)
        return nil
    }

    // MARK: Categories

    mutating func buildCategories() {
        func add(_ spec: CategorySpec, parent: Int?) {
            let index = categories.count
            categories.append(
                Category(index: index, code: spec.code, name: spec.name, parent: parent, location: spec.location))
            categoryByCode[spec.code] = index
            for child in spec.children { add(child, parent: index) }
        }
        for spec in source.categories { add(spec, parent: nil) }
        if source.sectionLocations["categories"] == nil {
            diagnostics.error(.missingKey, "the rule set has no 'categories' section", at: firstLocation)
        }
    }

    mutating func category(_ ref: Located<String>) -> Int? {
        if let i = categoryByCode[ref.value] { return i }
        let hint =
            YAMLReader.suggestion(for: ref.value, among: categories.map(\.code)).map { " (did you mean '\($0)'?)" }
            ?? ""
        diagnostics.error(.unknownCategory, "unknown category '\(ref.value)'\(hint)", at: ref.location)
        return nil
    }

    // MARK: Calendar

    mutating func buildCalendar() -> BusinessCalendar? {
        guard let spec = source.calendar else {
            diagnostics.error(.missingKey, "the rule set has no 'calendar' section", at: firstLocation)
            return nil
        }
        // Overlaps and contradictions.
        let holidays = spec.holidays.sorted { $0.holiday.from < $1.holiday.from }
        for (a, b) in zip(holidays, holidays.dropFirst()) where b.holiday.from <= a.holiday.to {
            diagnostics.error(
                .calendarOverlap,
                "holiday '\(b.holiday.name)' (\(b.holiday.from) to \(b.holiday.to)) overlaps '\(a.holiday.name)' at \(a.location)",
                at: b.location)
        }
        var seenWorkdays: [CivilDate: RulePosition] = [:]
        let weekdays = Set(spec.workingDays.compactMap { d in RuleLoader.weekdayNames.first { $0.0 == d.value }?.1 })
        for w in spec.workdays {
            if let earlier = seenWorkdays[w.date] {
                diagnostics.error(
                    .duplicateId, "make-up workday \(w.date) is already listed at \(earlier)", at: w.location)
            }
            seenWorkdays[w.date] = w.location
            if let h = holidays.first(where: { $0.holiday.from <= w.date && w.date <= $0.holiday.to }) {
                diagnostics.error(
                    .calendarOverlap, "\(w.date) is both a make-up workday and part of holiday '\(h.holiday.name)'",
                    at: w.location)
            } else if weekdays.contains(w.date.weekday) {
                diagnostics.warning(
                    .calendarOverlap, "make-up workday \(w.date) is a \(w.date.weekday) and already a working day",
                    at: w.location)
            }
        }
        checkSeasons(spec)
        let years = spec.years.map(\.value)
        let covered: ClosedRange<Int>? = years.isEmpty ? nil : years.min()!...years.max()!
        if let covered {
            let missing = Set(covered).subtracting(years).sorted()
            if !missing.isEmpty {
                diagnostics.error(
                    .calendarCoverage,
                    "calendar years must be contiguous: no data for \(missing.map(String.init).joined(separator: ", "))",
                    at: spec.location)
            }
        }
        guard let tz = TimeZone(identifier: spec.timeZone.value) else {
            diagnostics.error(
                .unknownTimeZone, "unknown time zone '\(spec.timeZone.value)' (use an IANA name such as Asia/Shanghai)",
                at: spec.timeZone.location)
            return nil
        }
        let calendar = BusinessCalendar(
            timeZone: tz, workingWeekdays: weekdays, workingHours: spec.workingHours,
            holidays: holidays.map(\.holiday), makeUpWorkdays: spec.workdays.map(\.date), coveredYears: covered,
            seasons: spec.seasons.map(\.season))
        if let today {
            let now = calendar.civilDate(of: today)
            let soon = calendar.civilDate(of: today.addingTimeInterval(60 * 86_400))
            if covered == nil {
                diagnostics.warning(
                    .calendarCoverage,
                    "the calendar lists no years: holidays and make-up workdays are unknown, deadlines count weekdays only",
                    at: spec.location)
            } else if !calendar.covers(now) {
                diagnostics.warning(
                    .calendarCoverage,
                    "the calendar has no holiday data for today (\(now)); add the year \(now.year) from the State Council's notice",
                    at: spec.location)
            } else if !calendar.covers(soon) {
                diagnostics.warning(
                    .calendarCoverage,
                    "the calendar's holiday data ends \(covered!.upperBound)-12-31, within 60 days; add \(soon.year) from the State Council's notice",
                    at: spec.location)
            }
        }
        return calendar
    }

    /// Seasons of working hours: yearly seasons must not overlap each other, nor dated ones each other (a
    /// dated season may lie over a yearly one: it wins there); without a default `working_hours` the
    /// yearly seasons must cover every day of the year.
    mutating func checkSeasons(_ spec: CalendarSpec) {
        func named(_ s: WorkingSeason) -> String { s.name.isEmpty ? "a season" : "season '\(s.name)'" }
        var owner = [Int](repeating: -1, count: 366)
        for (index, item) in spec.seasons.enumerated() {
            var clash: Int?
            var first: Int?
            for ordinal in item.season.ordinals {
                if owner[ordinal] >= 0 {
                    if clash == nil {
                        clash = owner[ordinal]
                        first = ordinal
                    }
                } else {
                    owner[ordinal] = index
                }
            }
            if let clash, let first {
                let other = spec.seasons[clash]
                diagnostics.error(
                    .calendarOverlap,
                    "\(named(item.season)) overlaps \(named(other.season)) at \(other.location) from "
                        + "\(MonthDay(ordinal: first)); a day has one set of working hours", at: item.location)
            }
        }
        let dated = spec.seasons.compactMap { item -> (from: CivilDate, to: CivilDate, item: SeasonSpec)? in
            guard case .dated(let from, let to) = item.season.span else { return nil }
            return (from, to, item)
        }.sorted { $0.from < $1.from }
        var latest: (to: CivilDate, item: SeasonSpec)?
        for d in dated {
            if let l = latest, d.from <= l.to {
                diagnostics.error(
                    .calendarOverlap,
                    "\(named(d.item.season)) (\(d.from) to \(d.to)) overlaps \(named(l.item.season)) at "
                        + "\(l.item.location); a day has one set of working hours", at: d.item.location)
            }
            if latest == nil || d.to > latest!.to { latest = (d.to, d.item) }
        }
        guard !spec.workingHoursGiven, !spec.seasons.isEmpty, !spec.seasonsBroken else { return }
        // Uncovered runs of month-days, e.g. 02-29 or 05-01 to 05-31.
        var gaps: [String] = []
        var ordinal = 0
        while ordinal < 366 {
            guard owner[ordinal] < 0 else {
                ordinal += 1
                continue
            }
            var end = ordinal
            while end + 1 < 366, owner[end + 1] < 0 { end += 1 }
            let a = MonthDay(ordinal: ordinal)
            gaps.append(end == ordinal ? "\(a)" : "\(a) to \(MonthDay(ordinal: end))")
            ordinal = end + 1
        }
        if !gaps.isEmpty {
            diagnostics.error(
                .seasonGap,
                "no yearly season holds on \(gaps.joined(separator: ", ")) and the calendar has no default "
                    + "'working_hours': add them to a season, or give 'working_hours' for the days no season holds on",
                at: spec.seasonsLocation ?? spec.location)
        }
    }

    // MARK: Profiles, units, policies

    mutating func buildProfiles() {
        for spec in source.profiles {
            var warning = SLAProfile.Warning.percent(75)
            switch spec.warn {
            case .percent(let p): warning = .percent(p)
            case .before(let d):
                if case .natural(let seconds) = d {
                    warning = .before(seconds: seconds)
                } else {
                    diagnostics.error(
                        .warnThreshold, "warn_at as a duration must be natural time (s, m, h, d), got '\(d)'",
                        at: spec.name.location)
                }
            }
            profiles[spec.name.value] = SLAProfile(
                name: spec.name.value, description: spec.description,
                clocks: spec.clocks.map { .init(clock: $0.clock, duration: $0.duration) },
                warning: warning, location: spec.name.location)
        }
    }

    mutating func profile(_ ref: Located<String>) -> String? {
        if profiles[ref.value] != nil { return ref.value }
        let hint =
            YAMLReader.suggestion(for: ref.value, among: Array(profiles.keys)).map { " (did you mean '\($0)'?)" } ?? ""
        diagnostics.error(.unknownProfile, "unknown SLA profile '\(ref.value)'\(hint)", at: ref.location)
        return nil
    }

    mutating func buildUnits() {
        for spec in source.units {
            if let other = unitByID[spec.id.value] {
                diagnostics.error(
                    .duplicateId, "unit id '\(spec.id.value)' is already defined at \(units[other].location)",
                    at: spec.id.location)
                continue
            }
            var regionIndex = 0
            if let r = spec.region {
                guard let i = region(r) else { continue }
                regionIndex = i
                if regions[i].level != spec.level {
                    diagnostics.error(
                        .levelMismatch,
                        "unit '\(spec.id.value)' is at \(spec.level) level but region '\(r.value)' is a \(regions[i].level)",
                        at: r.location)
                }
            } else if spec.level != .city {
                diagnostics.error(
                    .missingKey, "unit '\(spec.id.value)' at \(spec.level) level needs a 'region'", at: spec.location)
                continue
            }
            let index = units.count
            units.append(
                Unit(
                    index: index, id: spec.id.value, name: spec.name, level: spec.level, region: regionIndex,
                    function: spec.function.value, queue: spec.queue ?? "unit.\(spec.id.value)", parent: nil,
                    location: spec.id.location))
            unitByID[spec.id.value] = index
        }
        let explicitCount = units.count
        expandTemplates()
        // Queue names must be distinct, or two units would share one queue; only a template's units may share
        // one (its queue pattern takes the parent's code), and the dispatch message names the unit.
        var queues: [String: Int] = [:]
        for u in units {
            if let other = queues[u.queue],
                !(u.fromTemplate && units[other].fromTemplate && u.location == units[other].location)
            {
                diagnostics.error(
                    .duplicateId, "queue '\(u.queue)' of unit '\(u.id)' is already the queue of '\(units[other].id)'",
                    at: u.location)
            }
            queues[u.queue] = u.index
        }
        warnAboutTheQueueCount(queues.count)
        // Parents: explicit, else derived from the region tree.
        var byRegionFunction: [RegionFunction: Int] = [:]
        for u in units {
            let key = RegionFunction(u.region, u.function)
            if byRegionFunction[key] == nil { byRegionFunction[key] = u.index }
        }
        // The unit of `function` serving `region`, else its general office.
        func unitServing(_ region: Int, _ function: String) -> Int? {
            byRegionFunction[RegionFunction(region, function)] ?? byRegionFunction[RegionFunction(region, "general")]
        }
        for spec in source.units {
            guard let i = unitByID[spec.id.value], units[i].location == spec.id.location else { continue }
            let u = units[i]
            if let p = spec.parent {
                guard let parent = unitByID[p.value] else {
                    diagnostics.error(
                        .unknownUnit, "unknown parent unit '\(p.value)'\(hint(unit: p.value))", at: p.location)
                    continue
                }
                if units[parent].level >= u.level {
                    diagnostics.error(
                        .parentNotAbove,
                        "parent '\(p.value)' (\(units[parent].level)) must be at a higher level than '\(u.id)' (\(u.level))",
                        at: p.location)
                }
                units[i].parent = parent
                continue
            }
            guard u.level != .city, let parentRegion = regions[u.region].parent else { continue }
            if let parent = unitServing(parentRegion, u.function) {
                units[i].parent = parent
            } else {
                diagnostics.error(
                    .noParent,
                    "unit '\(u.id)' has no parent: no \(Self.functions(u.function)) unit serves '\(regions[parentRegion].path)'; add one or give 'parent'",
                    at: u.location)
            }
        }
        for i in explicitCount..<units.count {
            let u = units[i]
            guard let parentRegion = regions[u.region].parent else { continue }
            if let parent = unitServing(parentRegion, u.function) {
                units[i].parent = parent
            } else {
                diagnostics.error(
                    .noParent,
                    "the \(u.level) template's unit '\(u.id)' of '\(regions[u.region].path)' has no parent: no "
                        + "\(Self.functions(u.function)) unit serves '\(regions[parentRegion].path)'; add one, or a "
                        + "\(regions[parentRegion].level) template", at: u.location)
            }
        }
        // Cycles (only explicit parents can make one).
        // Report each loop once, at the member that comes first in the files.
        for u in units {
            var chain: [Int] = [u.index]
            var cur = u.parent
            while let c = cur, !chain.contains(c) {
                chain.append(c)
                cur = units[c].parent
            }
            if cur == u.index, chain.min() == u.index {
                let names = (chain + [u.index]).map { "'\(units[$0].id)'" }.joined(separator: " -> ")
                diagnostics.error(.parentCycle, "parent chain loops: \(names)", at: u.location)
            }
        }
    }

    /// One unit per region of each template's level, after the explicit units: a region that has an
    /// explicit unit of the template's function, or an explicit unit with the id the template would give
    /// it, keeps that one. An explicit unit with a template's id for another region is an error (R014), as
    /// are two templates of one level and function. Linear in the regions.
    mutating func expandTemplates() {
        guard !source.unitTemplates.isEmpty else { return }
        var explicitByRegionFunction = Set<RegionFunction>()
        for u in units { explicitByRegionFunction.insert(RegionFunction(u.region, u.function)) }
        var seen: [String: RulePosition] = [:]
        var byLevel: [Level: [Int]] = [:]
        for r in regions { byLevel[r.level, default: []].append(r.index) }
        for t in source.unitTemplates {
            let key = "\(t.level)|\(t.function.value)"
            if let earlier = seen[key] {
                diagnostics.error(
                    .duplicateId,
                    "a \(t.level) template of function '\(t.function.value)' is already given at \(earlier)",
                    at: t.location)
                continue
            }
            seen[key] = t.location
            var noCode: [String] = []
            // Parents without the code a `{parent_code}` queue takes, each once, in order.
            var noParentCode: [String] = []
            var parentsWithoutCode: Set<Int> = []
            var reported = false
            let tree = regions
            for r in byLevel[t.level] ?? [] {
                let region = tree[r]
                let value = { (p: UnitPattern.Placeholder) -> String? in
                    func ancestor(_ level: Level) -> String? {
                        var node: Int? = r
                        while let n = node, tree[n].level > level { node = tree[n].parent }
                        return node.flatMap { tree[$0].level == level ? tree[$0].name : nil }
                    }
                    switch p {
                    case .code: return region.code
                    case .name: return region.name
                    case .parent: return region.parent.map { tree[$0].name }
                    case .district: return ancestor(.district)
                    case .town: return ancestor(.town)
                    case .parentCode: return region.parent.flatMap { tree[$0].code }
                    }
                }
                if explicitByRegionFunction.contains(RegionFunction(r, t.function.value)) { continue }
                guard let id = t.idPattern.render(value) else {
                    noCode.append(region.path)
                    continue
                }
                if let other = unitByID[id] {
                    if units[other].region == r, !units[other].fromTemplate { continue }
                    if !units[other].fromTemplate {
                        diagnostics.error(
                            .duplicateId,
                            "unit id '\(id)' is the id the \(t.level) template at \(t.id.location) gives "
                                + "'\(region.path)'; a unit with a template's id must serve that region (it then "
                                + "replaces the template's unit there), or take another id", at: units[other].location)
                    } else if !reported {
                        reported = true
                        diagnostics.error(
                            .duplicateId,
                            "the \(t.level) template gives '\(region.path)' the id '\(id)', which a template gives "
                                + "'\(regions[units[other].region].path)' at \(units[other].location)",
                            at: t.id.location)
                    }
                    continue
                }
                if id.count > 64 {
                    if !reported {
                        reported = true
                        diagnostics.error(
                            .invalidId,
                            "the \(t.level) template gives '\(region.path)' the id '\(id)', over 64 characters",
                            at: t.id.location)
                    }
                    continue
                }
                guard let name = t.namePattern.render(value) else {
                    noCode.append(region.path)
                    continue
                }
                guard let queue = t.queuePattern.map({ $0.render(value) }) ?? "unit.\(id)" else {
                    if let p = region.parent, tree[p].code == nil,
                        t.queuePattern?.placeholders.contains(.parentCode) == true
                    {
                        if parentsWithoutCode.insert(p).inserted { noParentCode.append(tree[p].path) }
                    } else {
                        noCode.append(region.path)
                    }
                    continue
                }
                let index = units.count
                units.append(
                    Unit(
                        index: index, id: id, name: name, level: t.level, region: r, function: t.function.value,
                        queue: queue, parent: nil, location: t.id.location, fromTemplate: true))
                unitByID[id] = index
            }
            if !noCode.isEmpty {
                diagnostics.error(
                    .missingKey,
                    "the \(t.level) template needs the region's code, which \(noCode.count) region(s) lack: "
                        + noCode.prefix(5).joined(separator: ", ") + (noCode.count > 5 ? ", ..." : "")
                        + "; give them a code, or declare their units", at: t.id.location)
            }
            if !noParentCode.isEmpty {
                diagnostics.error(
                    .missingKey,
                    "the \(t.level) template's queue takes {parent_code}, the code of the region above, which "
                        + "\(noParentCode.count) region(s) lack: " + noParentCode.prefix(5).joined(separator: ", ")
                        + (noParentCode.count > 5 ? ", ..." : "") + "; give them a code, or take {code} instead",
                    at: t.queue?.location ?? t.id.location)
            }
        }
    }

    /// Beyond this many queues `pagoda check` warns (`R083`): each destination queue is a quorum queue, a
    /// replicated log with processes on every node of the cluster, and a broker carries a few thousand.
    static let queueWarningThreshold = 5_000

    /// Warns, at the template that gives the most units their own queue, when the units' queues number more
    /// than `queueWarningThreshold`.
    mutating func warnAboutTheQueueCount(_ count: Int) {
        guard count > Self.queueWarningThreshold else { return }
        var own: [RulePosition: Set<String>] = [:]
        for u in units where u.fromTemplate { own[u.location, default: []].insert(u.queue) }
        let worst = own.max { $0.value.count < $1.value.count }
        let at = worst?.key ?? units.first?.location ?? RulePosition(file: "units.yaml", line: 1, column: 1)
        diagnostics.warning(
            .tooManyQueues,
            "the units have \(count) queues, more than \(Self.queueWarningThreshold): each is a quorum queue, "
                + "replicated on every broker node, and a cluster carries a few thousand"
                + (worst.map { " (this template gives \($0.value.count))" } ?? "")
                + "; let a template's units share their parent's queue (queue: \"unit.t{parent_code}.villages\"), or "
                + "keep templates to the regions whose units take tickets themselves", at: at)
    }

    static func functions(_ f: String) -> String { f == "general" ? "'general'" : "'\(f)' or 'general'" }

    func hint(unit: String) -> String {
        YAMLReader.suggestion(for: unit, among: units.map(\.id)).map { " (did you mean '\($0)'?)" } ?? ""
    }

    mutating func unit(_ ref: Located<String>) -> Int? {
        if let i = unitByID[ref.value] { return i }
        diagnostics.error(.unknownUnit, "unknown unit '\(ref.value)'\(hint(unit: ref.value))", at: ref.location)
        return nil
    }

    mutating func buildPolicies() {
        for spec in source.escalation {
            var after: String?
            if let a = spec.afterEscalationProfile { after = profile(a) }
            policies[spec.name.value] = EscalationPolicy(
                name: spec.name.value, clocks: spec.clocks, toParent: spec.toParent,
                topAction: spec.topAction, remindEvery: spec.remindEvery,
                maxReturns: spec.maxReturns, afterEscalationProfile: after,
                returnReview: spec.returnReview,
                extensionReview: spec.extensionReview,
                requestPauses: spec.requestPauses,
                remindAnyTime: spec.remindAnyTime)
        }
        if policies["default"] == nil {
            policies["default"] = EscalationPolicy(
                name: "default", clocks: [.sign, .resolve], toParent: true, topAction: "supervise",
                remindEvery: .natural(seconds: 4 * 3600), maxReturns: 2, afterEscalationProfile: nil)
        }
    }

    // MARK: Rules

    mutating func realPhrase(_ text: String) -> Int32 {
        if let id = phraseIDs[text] { return id }
        let id = Int32(phrases.count)
        phrases.append(text)
        phraseIDs[text] = id
        return id
    }

    mutating func virtualPhrase(_ v: VirtualPhrase, text: String) -> Int32 {
        if let id = virtualIDs[v] { return id }
        let id = VirtualPhrase.base + Int32(virtualPhrases.count)
        virtualPhrases.append(v)
        virtualTexts.append(text)
        virtualIDs[v] = id
        return id
    }

    /// A phrase as written: a plain phrase, or a gap phrase `A…B` / `A…N…B` (also with `...`): B begins
    /// at most N characters (default 10) after A ends.
    mutating func phrase(_ p: Located<String>) -> Int32? {
        let text = p.value.replacingOccurrences(of: "...", with: "…")
        guard text.contains("…") else { return realPhrase(p.value) }
        let parts = text.split(separator: "…", omittingEmptySubsequences: false).map {
            String($0).trimmingCharacters(in: .whitespaces)
        }
        var within = TextSpec.defaultGap
        var words = parts
        if parts.count == 3, let n = Int(parts[1]), parts[1].allSatisfy(\.isASCIIDigit) {
            guard (0...200).contains(n) else {
                diagnostics.error(.invalidPattern, "the gap of '\(p.value)' must be 0-200 characters", at: p.location)
                return nil
            }
            within = n
            words = [parts[0], parts[2]]
        }
        guard words.count == 2, !words[0].isEmpty, !words[1].isEmpty else {
            diagnostics.error(
                .invalidPattern,
                "gap phrase '\(p.value)' must be two phrases with '…' between them ('拖欠…工程款'), "
                    + "optionally with the largest gap in characters between two '…' ('拖欠…20…工程款')", at: p.location)
            return nil
        }
        let v = VirtualPhrase.gap(first: realPhrase(words[0]), second: realPhrase(words[1]), within: within)
        return virtualPhrase(v, text: "\(words[0])…\(within)…\(words[1])")
    }

    mutating func compileText(_ spec: TextSpec) -> TextCondition {
        let exclusions = spec.noneNear.compactMap { phrase($0) }.sorted()
        let exclusionText = spec.noneNear.map(\.value).joined(separator: "/")
        func ids(_ list: [Located<String>], required: Bool) -> [Int32] {
            var out: [Int32] = []
            for p in list {
                guard var id = phrase(p) else { continue }
                if required && !exclusions.isEmpty {
                    let written =
                        id >= VirtualPhrase.base ? virtualTexts[Int(id - VirtualPhrase.base)] : phrases[Int(id)]
                    id = virtualPhrase(
                        .guarded(base: id, exclusions: exclusions, within: spec.near),
                        text: "\(written) (not within \(spec.near) of \(exclusionText))")
                }
                out.append(id)
            }
            return Array(Set(out)).sorted()
        }
        let cond = TextCondition(
            any: ids(spec.any, required: true), all: ids(spec.all, required: true),
            none: ids(spec.none, required: false),
            groups: spec.allOf.map { ids($0, required: true) })
        let required = spec.any + spec.all + spec.allOf.flatMap { $0 }
        for p in spec.none where required.contains(where: { $0.value == p.value }) {
            diagnostics.error(
                .invalidPattern, "phrase '\(p.value)' is both required and excluded, so the condition can never hold",
                at: p.location)
        }
        for p in spec.noneNear where required.contains(where: { $0.value == p.value }) {
            diagnostics.error(
                .invalidPattern,
                "phrase '\(p.value)' is both required and excluded near itself, so the condition can never hold",
                at: p.location)
        }
        return cond
    }

    mutating func compileClassify(_ spec: ClassifySpec) -> ClassifyRule? {
        let text = spec.text.map { compileText($0) } ?? TextCondition(any: [], all: [], none: [])
        var category: Int?
        if let c = spec.setCategory {
            guard let i = self.category(c) else { return nil }
            category = i
        }
        var rule = ClassifyRule(
            reference: ref(spec.id), text: text, kinds: Set(spec.kinds), channels: Set(spec.channels),
            setCategory: category, setUrgency: spec.setUrgency, override: spec.override)
        rule.fields = FieldConditions(sourceLines: Set(spec.sourceLines), fields: spec.fields)
        return rule
    }

    mutating func checkRuleIDs() {
        var seen: [String: RulePosition] = [:]
        let ids = source.emergency.map(\.id) + source.classify.map(\.id) + source.routes.map(\.id)
        for id in ids {
            if id.value == "fallback" {
                diagnostics.error(
                    .invalidId, "rule id 'fallback' is reserved for tickets no route matches", at: id.location)
            }
            if let earlier = seen[id.value] {
                diagnostics.error(.duplicateId, "rule id '\(id.value)' is already used at \(earlier)", at: id.location)
            } else {
                seen[id.value] = id.location
            }
        }
    }

    struct Defaults {
        var platform: Int?
        var triage: Int
        var supervision: Int?
        var sla: [SLACase: String]
        var triageSLA: String
    }

    mutating func checkDefaults() -> Defaults? {
        let d = source.defaults
        let at = d.location ?? firstLocation
        func byFunction(_ f: String) -> Int? { units.first { $0.level == .city && $0.function == f }?.index }
        let platform = d.platform.flatMap { unit($0) } ?? byFunction("platform")
        var triage = d.triage.flatMap { unit($0) }
        if d.triage == nil { triage = byFunction("triage") }
        if triage == nil && d.triage == nil {
            diagnostics.error(
                .missingKey, "no triage unit: set defaults.triage, or define a city-level unit with function 'triage'",
                at: at)
        }
        let supervision = d.supervision.flatMap { unit($0) }
        var sla: [SLACase: String] = [:]
        for (c, name) in d.sla.byCase { if let p = profile(name) { sla[c] = p } }
        if d.sla.byCase[.default] == nil {
            diagnostics.error(.missingKey, "defaults.sla needs a 'default' profile for routes that name none", at: at)
        }
        let triageSLA = d.triageSLA.flatMap { profile($0) } ?? sla[.default]
        guard let triage, let triageSLA else { return nil }
        return Defaults(platform: platform, triage: triage, supervision: supervision, sla: sla, triageSLA: triageSLA)
    }

    mutating func target(_ spec: DestinationSpec, routeID: String) -> Target? {
        switch spec {
        case .unit(let id): return unit(id).map { .unit($0) }
        case .platform(let loc):
            if units.allSatisfy({ !($0.level == .city && $0.function == "platform") })
                && source.defaults.platform == nil
            {
                diagnostics.error(
                    .unknownUnit,
                    "route '\(routeID)' answers at the platform but no platform unit is defined (defaults.platform, or a city unit with function 'platform')",
                    at: loc)
            }
            return .platform
        case .triage: return .triage
        case .relative(let level, let function, let loc):
            if !units.contains(where: { $0.function == function.value }) {
                let hint =
                    YAMLReader.suggestion(for: function.value, among: Array(Set(units.map(\.function)))).map {
                        " (did you mean '\($0)'?)"
                    } ?? ""
                diagnostics.error(
                    .noRelativeUnit, "no unit has function '\(function.value)'\(hint)", at: function.location)
                return nil
            }
            let key = "\(level.rawValue)|\(function.value)"
            let table: Int
            if let t = relativeKeys[key] {
                table = t
            } else {
                table = relativeSpecs.count
                relativeKeys[key] = table
                relativeSpecs.append((level, function.value, loc))
            }
            return .relative(level: level, function: function.value, table: table)
        }
    }

    mutating func compileRoute(_ spec: RouteSpec, index: Int) -> Route? {
        var ok = true
        let cats = spec.when.categories.compactMap { c -> Int? in
            let i = category(c)
            if i == nil { ok = false }
            return i
        }
        let regs = spec.when.regions.compactMap { r -> Int? in
            let i = region(r)
            if i == nil { ok = false }
            return i
        }
        let text = spec.when.text.map { compileText($0) }
        guard let to = target(spec.to, routeID: spec.id.value) else { return nil }
        let co = spec.coHandlers.compactMap { target($0, routeID: spec.id.value) }
        var sla: [SLACase: String] = [:]
        for (c, name) in spec.sla.byCase {
            if let p = profile(name) { sla[c] = p } else { ok = false }
        }
        let policy = spec.escalation?.value ?? "default"
        if let e = spec.escalation, policies[e.value] == nil {
            let hint =
                YAMLReader.suggestion(for: e.value, among: Array(policies.keys)).map { " (did you mean '\($0)'?)" }
                ?? ""
            diagnostics.error(.unknownPolicy, "unknown escalation policy '\(e.value)'\(hint)", at: e.location)
            ok = false
        }
        guard ok else { return nil }
        var route = Route(
            index: index, reference: ref(spec.id), description: spec.description, categories: cats,
            kinds: Set(spec.when.kinds), regions: regs, enterprise: spec.when.enterprise,
            urgencies: Set(spec.when.urgencies), channels: Set(spec.when.channels), text: text, target: to,
            coHandlers: co, sla: sla, priority: spec.priority, escalation: policy)
        route.fields = FieldConditions(sourceLines: Set(spec.when.sourceLines), fields: spec.when.fields)
        route.escalationGiven = spec.escalation != nil
        route.superviseAt = spec.superviseAt
        return route
    }

    mutating func policyName(_ e: Located<String>) -> String? {
        if policies[e.value] != nil { return e.value }
        let hint =
            YAMLReader.suggestion(for: e.value, among: Array(policies.keys)).map { " (did you mean '\($0)'?)" } ?? ""
        diagnostics.error(.unknownPolicy, "unknown escalation policy '\(e.value)'\(hint)", at: e.location)
        return nil
    }

    mutating func compilePolicy(_ spec: PolicySpec) -> PolicyRule? {
        var ok = true
        let cats = spec.categories.compactMap { c -> Int? in
            let i = category(c)
            if i == nil { ok = false }
            return i
        }
        var escalation: String?
        if let e = spec.escalation {
            escalation = policyName(e)
            if escalation == nil { ok = false }
        }
        let co = spec.coHandlers.compactMap { target($0, routeID: spec.id.value) }
        if co.count != spec.coHandlers.count { ok = false }
        guard ok else { return nil }
        return PolicyRule(
            reference: ref(spec.id), categories: cats, kinds: Set(spec.kinds), urgencies: Set(spec.urgencies),
            enterprise: spec.enterprise, escalation: escalation, coHandlers: co, superviseAt: spec.superviseAt)
    }

    /// `sla: NAME` on a route is `{default: NAME}`: its other entries still come from `defaults.sla`. Warns
    /// where such an entry gives a ticket a longer resolve time than NAME itself, which the author of a
    /// short profile for this route most likely did not mean (an enterprise's green channel slower than
    /// everyone else's, an urgent matter slower than a normal one).
    mutating func checkSLAShorthands() {
        func seconds(_ profile: String) -> Int? {
            guard let d = profiles[profile]?.clocks.first(where: { $0.clock == .resolve })?.duration else { return nil }
            return d.nominalSeconds
        }
        for route in source.routes {
            guard route.sla.shorthand, let name = route.sla.byCase[.default], let own = seconds(name.value) else {
                continue
            }
            var slower: [(SLACase, String)] = []
            for c in [SLACase.enterprise, .urgent, .emergency] {
                guard let inherited = source.defaults.sla.byCase[c], inherited.value != name.value,
                    let theirs = seconds(inherited.value), theirs > own
                else { continue }
                slower.append((c, inherited.value))
            }
            guard !slower.isEmpty else { continue }
            let who = slower.map { "\($0.0.rawValue) tickets take defaults.sla.\($0.0.rawValue) '\($0.1)'" }.joined(
                separator: ", ")
            let fix = ([("default", name.value)] + slower.map { ($0.0.rawValue, name.value) }).map { "\($0): \($1)" }
                .joined(separator: ", ")
            diagnostics.warning(
                .slaShorthand,
                "'sla: \(name.value)' sets only the default profile of route '\(route.id.value)': "
                    + "\(who), with a longer resolve clock than '\(name.value)''s; write 'sla: {\(fix)}' if they "
                    + "should not wait longer", at: name.location)
        }
    }

    /// For every relative destination and every region node, the unit it resolves to.
    mutating func buildRelativeTables() -> [[Int32]] {
        var byRegionFunction: [RegionFunction: Int] = [:]
        for u in units {
            let key = RegionFunction(u.region, u.function)
            if byRegionFunction[key] == nil { byRegionFunction[key] = u.index }
        }
        var tables: [[Int32]] = []
        for spec in relativeSpecs {
            var table = [Int32](repeating: -1, count: regions.count)
            var failures: [String] = []
            for r in regions {
                // Start at the ticket's region, or its ancestor at the requested level.
                var node = r.index
                while regions[node].level > spec.level, let p = regions[node].parent { node = p }
                var found: Int?
                var cur: Int? = node
                while let c = cur, found == nil {
                    found = byRegionFunction[RegionFunction(c, spec.function)]
                    cur = regions[c].parent
                }
                if found == nil { found = byRegionFunction[RegionFunction(node, "general")] }
                if let found { table[r.index] = Int32(found) } else { failures.append(regions[node].path) }
            }
            if !failures.isEmpty {
                let uniq = Array(Set(failures)).sorted()
                diagnostics.error(
                    .noRelativeUnit,
                    "{level: \(spec.level), function: \(spec.function)} finds no unit for \(uniq.prefix(5).joined(separator: ", "))\(uniq.count > 5 ? " and \(uniq.count - 5) more" : ""): add a \(Self.functions(spec.function)) unit there",
                    at: spec.location)
            }
            tables.append(table)
        }
        return tables
    }

    // MARK: Analyses

    mutating func checkShadowing(_ routes: [Route], _ index: RouteIndex) {
        for route in routes where route.index > 0 {
            let cover = index.covering(route)
            let limit = route.index
            var hit: Int?
            for w in 0..<index.words where w << 6 < limit {
                var bits = cover[w]
                let remaining = limit - (w << 6)
                if remaining < 64 { bits &= (1 << UInt64(remaining)) - 1 }
                if bits != 0 {
                    hit = w << 6 | bits.trailingZeroBitCount
                    break
                }
            }
            if let hit {
                let a = routes[hit].reference
                diagnostics.error(
                    .shadowedRoute,
                    "route '\(route.reference.id)' can never match: route '\(a.id)' at \(a.file):\(a.line) comes first and matches every ticket it would; move it above or narrow '\(a.id)'",
                    at: RulePosition(file: route.reference.file, line: route.reference.line, column: 1))
            }
        }
    }

    mutating func checkCoverage(_ routes: [Route], _ index: RouteIndex) {
        guard let at = source.routesLocation, !regions.isEmpty else { return }
        let topCategories = categories.filter { $0.parent == nil }
        let normal = Urgency.allCases.firstIndex(of: .normal)!
        // Routes that send somewhere other than triage and need no text or channel to match.
        var structural = [UInt64](repeating: 0, count: index.words)
        for r in routes where r.text == nil && r.channels.isEmpty && r.fields.isEmpty && r.target != .triage {
            structural[r.index >> 6] |= 1 << UInt64(r.index & 63)
        }
        for district in regions[0].children {
            var uncovered: [String: [String]] = [:]
            let towns = regions[district].children
            for town in towns {
                for cat in topCategories {
                    var missingKinds: [String] = []
                    for (k, kind) in TicketKind.allCases.enumerated() {
                        var any = false
                        for w in 0..<index.words {
                            let bits =
                                structural[w] & index.byRegion[town * index.words + w]
                                & index.byCategory[cat.index * index.words + w]
                                & index.byKind[k * index.words + w] & index.byUrgency[normal * index.words + w]
                                & index.byEnterprise[w]
                            if bits != 0 {
                                any = true
                                break
                            }
                        }
                        if !any { missingKinds.append(kind.rawValue) }
                    }
                    if !missingKinds.isEmpty { uncovered[cat.code, default: []].append(regions[town].name) }
                }
            }
            for cat in topCategories {
                guard let missing = uncovered[cat.code] else { continue }
                let whereText =
                    missing.count == towns.count
                    ? "anywhere in \(regions[district].name)"
                    : "in \(regions[district].name) \(missing.joined(separator: "、"))"
                diagnostics.warning(
                    .uncoveredCombination,
                    "only the fallback routes some '\(cat.code)' tickets \(whereText) (no route without text or channel conditions covers every kind there)",
                    at: at)
            }
        }
    }
}

extension SLADuration {
    /// A rough length in natural seconds, to compare profiles in warnings only: a working day counts as a
    /// day, a working hour as three hours (eight working hours make a day).
    var nominalSeconds: Int {
        switch self {
        case .natural(let s): s
        case .workingDays(let n): n * 86_400
        case .workingHours(let m): m * 60 * 3
        }
    }
}
