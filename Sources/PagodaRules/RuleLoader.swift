import Foundation
import PagodaJSON
import Yams

/// One rule file's name (as it should appear in diagnostics) and text.
public struct RuleFile: Sendable, Hashable {
    public let path: String
    public let text: String
    /// The size in bytes of a file that was not read because it is larger than
    /// ``RuleLimits/maxFileBytes`` (`text` is then empty); nil when the file was read.
    public let unreadSize: Int?
    /// Where a file that is not UTF-8 has its first byte that is not (`text` is then empty).
    public let invalidByte: InvalidByte?

    /// The first byte of a file that is not UTF-8: its line and column (counted in characters, as libyaml
    /// counts them) and its value.
    public struct InvalidByte: Sendable, Hashable {
        public var line: Int
        public var column: Int
        public var byte: UInt8
    }

    public init(path: String, text: String) {
        self.path = path
        self.text = text
        unreadSize = nil
        invalidByte = nil
    }

    /// A file left unread: loading it reports `R080`.
    public init(path: String, unreadSize: Int) {
        self.path = path
        text = ""
        self.unreadSize = unreadSize
        invalidByte = nil
    }

    /// The file's bytes: its text, or when they are not UTF-8 a file whose loading reports `R001` at the first
    /// byte that is not.
    public init(path: String, data: Data) {
        self.path = path
        unreadSize = nil
        if let text = String(data: data, encoding: .utf8) {
            self.text = text
            invalidByte = nil
            return
        }
        text = ""
        var decoder = UTF8()
        var iterator = data.makeIterator()
        var (line, column, offset) = (1, 1, 0)
        while case .scalarValue(let s) = decoder.decode(&iterator) {
            offset += UTF8.width(s)
            if s == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        let byte = offset < data.count ? data[data.startIndex + offset] : 0
        invalidByte = InvalidByte(line: line, column: column, byte: byte)
    }
}

/// Decodes rule files into the rule set as written, collecting every shape problem.
///
/// The decoder is strict: unknown keys, wrong types and malformed values are errors with positions;
/// it never stops at the first problem. Cross-references are checked later by ``RuleSetCompiler``.
struct RuleLoader {
    static let sections = [
        "regions", "units", "calendar", "sla_profiles", "categories", "classify", "emergency", "routes",
        "escalation", "defaults", "policies",
    ]

    var diagnostics = DiagnosticBag()
    var source = RuleSetSource()
    /// Set when `shouldStop` said so: the source is incomplete and must not be compiled.
    private(set) var stopped = false
    private var r = YAMLReader(file: "")
    let limits: RuleLimits
    let shouldStop: StopCheck?

    init(limits: RuleLimits = .standard, shouldStop: StopCheck? = nil) {
        self.limits = limits
        self.shouldStop = shouldStop
    }

    mutating func load(_ files: [RuleFile]) -> RuleSetSource {
        if files.isEmpty {
            diagnostics.error(
                .emptyRuleSet, "no rule files (*.yaml) found", at: RulePosition(file: ".", line: 1, column: 1))
        }
        for file in files {
            if shouldStop?() == true {
                stopped = true
                break
            }
            r = YAMLReader(file: file.path, limits: limits, shouldStop: shouldStop)
            defer { diagnostics.append(contentsOf: r.diagnostics) }
            guard let root = r.compose(file) else {
                if r.stopped { stopped = true }
                if stopped { break } else { continue }
            }
            if case .scalar(let s) = root, s.string.isEmpty { continue }
            guard let entries = r.mapping(root, what: "a rule file", allowed: Self.sections) else { continue }
            for (name, value) in entries.values.sorted(by: { r.location($0.value) < r.location($1.value) }) {
                let keyLoc = r.location(entries.keys[name]!)
                if let earlier = source.sectionLocations[name] {
                    r.diagnostics.error(
                        .duplicateSection, "section '\(name)' is already defined at \(earlier)", at: keyLoc)
                    continue
                }
                source.sectionLocations[name] = keyLoc
                decodeSection(name, value, keyLoc)
            }
        }
        return source
    }

    private mutating func decodeSection(_ name: String, _ node: Node, _ keyLoc: RulePosition) {
        switch name {
        case "regions": source.regions = decodeRegion(node, level: .city)
        case "units": source.units = list(node, what: "units") { $0.decodeUnit($1) }
        case "calendar": source.calendar = decodeCalendar(node)
        case "sla_profiles": source.profiles = named(node, what: "sla_profiles") { $0.decodeProfile($1, $2) }
        case "categories": source.categories = decodeCategories(node, prefix: nil)
        case "classify": source.classify = list(node, what: "classify") { $0.decodeClassify($1) }
        case "emergency": source.emergency = list(node, what: "emergency") { $0.decodeEmergency($1) }
        case "routes":
            source.routesLocation = keyLoc
            source.routes = list(node, what: "routes") { $0.decodeRoute($1) }
        case "escalation": source.escalation = named(node, what: "escalation") { $0.decodeEscalation($1, $2) }
        case "defaults": decodeDefaults(node)
        case "policies": source.policies = list(node, what: "policies") { $0.decodePolicy($1) }
        default: break
        }
    }

    private mutating func list<T>(_ node: Node, what: String, _ decode: (inout Self, Node) -> T?) -> [T] {
        guard let items = r.sequence(node, what: what) else { return [] }
        return items.compactMap { decode(&self, $0) }
    }

    private mutating func named<T>(_ node: Node, what: String, _ decode: (inout Self, Located<String>, Node) -> T?)
        -> [T]
    {
        guard let pairs = r.namedMapping(node, what: what) else { return [] }
        return pairs.compactMap { decode(&self, Located($0.key, r.location($0.keyNode)), $0.value) }
    }

    // MARK: Regions

    private mutating func decodeRegion(_ node: Node, level: Level) -> RegionSpec? {
        let childKey: String? = [Level.city: "districts", .district: "towns", .town: "villages"][level]
        // A plain name is shorthand for {name: NAME}.
        if case .scalar(let scalar) = node, !scalar.string.isEmpty, level != .city {
            return RegionSpec(
                name: scalar.string, code: nil, aliases: [], level: level, location: r.location(node), children: [])
        }
        var allowed = ["name", "code", "aliases"]
        if let childKey { allowed.append(childKey) }
        if level == .city { allowed.append("province") }
        guard let e = r.mapping(node, what: "a \(level) region", allowed: allowed, required: ["name"]) else {
            return nil
        }
        guard let name = e["name"].flatMap({ r.nonEmptyString($0, what: "a region name") }) else { return nil }
        if name.contains("/") {
            r.diagnostics.error(.invalidValue, "region name '\(name)' must not contain '/'", at: r.location(e["name"]!))
        }
        var code: String?
        if let c = e["code"], let s = r.string(c, what: "a region code") {
            if s.isEmpty || s.count > 12 || !s.allSatisfy(\.isASCIIDigit) {
                r.diagnostics.error(.invalidValue, "region code must be 1-12 digits, got '\(s)'", at: r.location(c))
            } else {
                code = s
            }
        }
        let aliases =
            e["aliases"].flatMap { r.stringList($0, what: "aliases") }?.map { Located($0.value, r.location($0.node)) }
            ?? []
        if level == .city, let p = e["province"], let s = r.nonEmptyString(p, what: "a province name") {
            source.province = Located(s, r.location(p))
        }
        var children: [RegionSpec] = []
        if let childKey, let c = e[childKey], let next = Level(rawValue: level.rawValue + 1) {
            children = list(c, what: childKey) { $0.decodeRegion($1, level: next) }
        }
        return RegionSpec(
            name: name, code: code, aliases: aliases, level: level, location: r.location(node), children: children)
    }

    // MARK: Units

    static let idCharacters = Set("abcdefghijklmnopqrstuvwxyz0123456789._-")

    private mutating func id(_ node: Node, what: String) -> Located<String>? {
        guard let s = r.string(node, what: what) else { return nil }
        if s.isEmpty || s.count > 64 || !s.allSatisfy({ Self.idCharacters.contains($0) }) {
            r.diagnostics.error(
                .invalidId, "\(what) '\(s)' must be 1-64 characters of lowercase letters, digits, '.', '_' and '-'",
                at: r.location(node))
            return nil
        }
        return Located(s, r.location(node))
    }

    private mutating func decodeUnit(_ node: Node) -> UnitSpec? {
        if case .mapping(let m) = node, r.pairs(m, report: false).contains(where: { $0.0.scalar?.string == "each" }) {
            if let t = decodeUnitTemplate(node) { source.unitTemplates.append(t) }
            return nil
        }
        guard
            let e = r.mapping(
                node, what: "a unit", allowed: ["id", "name", "level", "region", "function", "queue", "parent"],
                required: ["id", "name", "level", "function"])
        else { return nil }
        let unitID = e["id"].flatMap { id($0, what: "unit id") }
        let name = e["name"].flatMap { r.nonEmptyString($0, what: "a unit name") }
        let level = e["level"].flatMap { r.oneOf($0, what: "level", Level.allCases.map { ($0.name, $0) }) }
        let function = e["function"].flatMap { id($0, what: "function") }
        let region = e["region"].flatMap { n in r.nonEmptyString(n, what: "region").map { Located($0, r.location(n)) } }
        var queue: String?
        if let q = e["queue"], let s = r.string(q, what: "queue") {
            if s.isEmpty || s.utf8.count > 200 || s.contains(where: { $0.isWhitespace }) {
                r.diagnostics.error(
                    .invalidValue, "queue must be 1-200 bytes without spaces, got '\(s)'", at: r.location(q))
            } else {
                queue = s
            }
        }
        let parent = e["parent"].flatMap { id($0, what: "parent unit id") }
        guard let unitID, let name, let level, let function else { return nil }
        return UnitSpec(
            id: unitID, name: name, level: level, region: region, function: function, queue: queue,
            parent: parent, location: r.location(node))
    }

    /// A unit template (`each: village`): an id, name and optional queue pattern filled in from each
    /// region of the level.
    private mutating func decodeUnitTemplate(_ node: Node) -> UnitTemplateSpec? {
        guard
            let e = r.mapping(
                node, what: "a unit template", allowed: ["each", "id", "name", "function", "queue"],
                required: ["each", "id", "name", "function"])
        else { return nil }
        let levels = [Level.district, .town, .village].map { ($0.name, $0) }
        let level = e["each"].flatMap { r.oneOf($0, what: "each", levels) }
        func pattern(_ key: String, what: String) -> (Located<String>, UnitPattern)? {
            guard let n = e[key], let text = r.nonEmptyString(n, what: what) else { return nil }
            switch UnitPattern.parse(text) {
            case .failure(let error):
                r.diagnostics.error(.invalidValue, "\(what) '\(text)': \(error.message)", at: r.location(n))
                return nil
            case .success(let p): return (Located(text, r.location(n)), p)
            }
        }
        let id = pattern("id", what: "the template's id pattern")
        let name = pattern("name", what: "the template's name pattern")
        let queue = e["queue"] == nil ? nil : pattern("queue", what: "the template's queue pattern")
        let function = e["function"].flatMap { self.id($0, what: "function") }
        // Ids and queues are ASCII: they may only take the region's code, and must, or all would be one. A
        // queue may take the parent's code instead: the units of one town (or district) then share a queue.
        for (p, what) in [(id, "id"), (queue, "queue")] {
            guard let (text, parsed) = p else { continue }
            if what == "id", parsed.placeholders != [.code] {
                r.diagnostics.error(
                    .invalidId,
                    "the template's id pattern '\(text.value)' must hold '{code}' once and no other placeholder, "
                        + "so each region's unit gets its own id of id characters", at: text.location)
                return nil
            }
            if what == "queue", parsed.placeholders != [.code], parsed.placeholders != [.parentCode] {
                r.diagnostics.error(
                    .invalidId,
                    "the template's queue pattern '\(text.value)' must hold '{code}' (a queue per unit) or "
                        + "'{parent_code}' (a queue the units of one parent share) once and no other placeholder",
                    at: text.location)
                return nil
            }
            let literal = parsed.literalText
            if what == "id", !literal.allSatisfy({ Self.idCharacters.contains($0) }) {
                r.diagnostics.error(
                    .invalidId,
                    "the template's id pattern '\(text.value)' may hold only lowercase letters, digits, '.', '_' "
                        + "and '-' besides '{code}'", at: text.location)
                return nil
            }
            if what == "queue", literal.contains(where: { $0.isWhitespace }) {
                r.diagnostics.error(
                    .invalidValue, "the template's queue pattern '\(text.value)' must not hold spaces",
                    at: text.location)
                return nil
            }
        }
        guard let level, let id, let name, let function else { return nil }
        if e["queue"] != nil, queue == nil { return nil }
        if name.1.placeholders.contains(.parentCode) {
            r.diagnostics.error(
                .invalidValue,
                "the template's name pattern '\(name.0.value)' names '{parent_code}', which only a queue pattern takes",
                at: name.0.location)
            return nil
        }
        if level == .district, name.1.placeholders.contains(.town) {
            r.diagnostics.error(
                .invalidValue, "the template's name pattern '\(name.0.value)' names '{town}', which a district lacks",
                at: name.0.location)
            return nil
        }
        return UnitTemplateSpec(
            level: level, id: id.0, idPattern: id.1, name: name.0, namePattern: name.1, function: function,
            queue: queue?.0, queuePattern: queue?.1, location: r.location(node))
    }

    // MARK: Calendar

    static let weekdayNames: [(String, Weekday)] = [
        ("mon", .monday), ("tue", .tuesday), ("wed", .wednesday), ("thu", .thursday), ("fri", .friday),
        ("sat", .saturday), ("sun", .sunday),
    ]

    private mutating func date(_ node: Node, what: String) -> CivilDate? {
        guard let s = r.string(node, what: what) else { return nil }
        guard let d = CivilDate(iso: s) else {
            r.diagnostics.error(.invalidDate, "\(what) must be a date YYYY-MM-DD, got '\(s)'", at: r.location(node))
            return nil
        }
        return d
    }

    /// A list of working intervals ("08:30-12:00"), in order and without overlaps; nil when it is no list.
    private mutating func workingHours(_ node: Node, what: String) -> [WorkingInterval]? {
        guard let items = r.stringList(node, what: what) else { return nil }
        var hours: [WorkingInterval] = []
        for item in items {
            if let w = WorkingInterval(parsing: item.value) {
                if let last = hours.last, last.endMinute > w.startMinute {
                    r.diagnostics.error(
                        .invalidValue, "working hours must be in order and must not overlap: '\(item.value)'",
                        at: r.location(item.node))
                }
                hours.append(w)
            } else {
                r.diagnostics.error(
                    .invalidValue, "working hours must look like '08:30-12:00', got '\(item.value)'",
                    at: r.location(item.node))
            }
        }
        return hours
    }

    /// One season of working hours: `from` and `to` both month-days (`05-01`, every year) or both dates
    /// (`2026-07-01`, once), and its own `working_hours`.
    private mutating func season(_ node: Node) -> SeasonSpec? {
        guard
            let e = r.mapping(
                node, what: "a season", allowed: ["name", "from", "to", "working_hours"],
                required: ["from", "to", "working_hours"])
        else { return nil }
        let name = e["name"].flatMap { r.nonEmptyString($0, what: "a season's name") } ?? ""
        let what = name.isEmpty ? "season" : "season '\(name)'"
        enum Bound {
            case monthDay(MonthDay)
            case date(CivilDate)
        }
        func bound(_ key: String) -> Bound? {
            guard let n = e[key], let s = r.string(n, what: key) else { return nil }
            if let md = MonthDay(parsing: s) { return .monthDay(md) }
            if let d = CivilDate(iso: s) { return .date(d) }
            r.diagnostics.error(
                .invalidDate,
                "\(what): '\(key)' must be a month-day MM-DD that recurs every year (05-01) or a date YYYY-MM-DD; "
                    + "got '\(s)'", at: r.location(n))
            return nil
        }
        let from = bound("from")
        let to = bound("to")
        var hours: [WorkingInterval]?
        if let n = e["working_hours"] {
            let before = r.diagnostics.items.count
            hours = workingHours(n, what: "working_hours of the \(what)")
            if r.diagnostics.items.count > before {
                hours = nil  // a malformed interval, reported at it
            } else if hours?.isEmpty == true {
                r.diagnostics.error(
                    .emptyCondition, "\(what) has no working hours; list them, or leave its dates to the default",
                    at: r.location(n))
                hours = nil
            }
        }
        guard let from, let to, let hours else { return nil }
        let span: WorkingSeason.Span
        switch (from, to) {
        case (.monthDay(let a), .monthDay(let b)): span = .yearly(from: a, to: b)
        case (.date(let a), .date(let b)):
            guard a <= b else {
                r.diagnostics.error(.invalidDate, "\(what) ends (\(b)) before it starts (\(a))", at: r.location(node))
                return nil
            }
            span = .dated(from: a, to: b)
        default:
            r.diagnostics.error(
                .invalidDate,
                "\(what): 'from' and 'to' must both be month-days (MM-DD, every year) or both dates (YYYY-MM-DD)",
                at: r.location(node))
            return nil
        }
        return SeasonSpec(
            season: WorkingSeason(name: name, span: span, workingHours: hours), location: r.location(node))
    }

    private mutating func decodeCalendar(_ node: Node) -> CalendarSpec? {
        guard
            let e = r.mapping(
                node, what: "calendar", allowed: ["time_zone", "working_days", "working_hours", "seasons", "years"])
        else { return nil }
        var tz = Located("Asia/Shanghai", r.location(node))
        if let n = e["time_zone"], let s = r.string(n, what: "time_zone") { tz = Located(s, r.location(n)) }
        var days: [Located<String>] = []
        // No working time at all: every working-time deadline would fall in no year.
        refuseEmptyLists(
            e, ["working_days", "working_hours"], because: "leaves no working time; remove the key for the default")
        if let n = e["working_days"], let items = r.stringList(n, what: "working_days") {
            for item in items {
                if r.oneOf(item.node, what: "a working day", Self.weekdayNames) != nil {
                    days.append(Located(item.value, r.location(item.node)))
                }
            }
        } else {
            days = ["mon", "tue", "wed", "thu", "fri"].map { Located($0, r.location(node)) }
        }
        var hours: [WorkingInterval] = []
        if let n = e["working_hours"] {
            hours = workingHours(n, what: "working_hours") ?? []
        } else {
            hours = [WorkingInterval(parsing: "09:00-12:00"), WorkingInterval(parsing: "14:00-18:00")].compactMap { $0 }
        }
        var spec = CalendarSpec(
            timeZone: tz, workingDays: days, workingHours: hours, holidays: [], workdays: [], years: [],
            location: r.location(node))
        spec.workingHoursGiven = e["working_hours"] != nil
        if let n = e["seasons"], let items = r.sequence(n, what: "seasons") {
            spec.seasons = items.compactMap { season($0) }
            spec.seasonsLocation = r.location(n)
            spec.seasonsBroken = spec.seasons.count < items.count
        }
        if let n = e["years"], let years = r.namedMapping(n, what: "years") {
            for (key, keyNode, value) in years {
                guard let year = Int(key), (1970...2200).contains(year) else {
                    r.diagnostics.error(
                        .invalidValue, "a year must be a number like 2026, got '\(key)'", at: r.location(keyNode))
                    continue
                }
                spec.years.append(Located(year, r.location(keyNode)))
                guard let y = r.mapping(value, what: "year \(year)", allowed: ["holidays", "workdays"]) else {
                    continue
                }
                if let h = y["holidays"], let items = r.sequence(h, what: "holidays") {
                    for item in items {
                        guard
                            let he = r.mapping(
                                item, what: "a holiday", allowed: ["from", "to", "name"],
                                required: ["from", "to", "name"]),
                            let from = he["from"].flatMap({ date($0, what: "from") }),
                            let to = he["to"].flatMap({ date($0, what: "to") }),
                            let name = he["name"].flatMap({ r.nonEmptyString($0, what: "holiday name") })
                        else { continue }
                        if to < from {
                            r.diagnostics.error(
                                .invalidDate, "holiday '\(name)' ends (\(to)) before it starts (\(from))",
                                at: r.location(item))
                            continue
                        }
                        if from.year != year || to.year != year {
                            r.diagnostics.warning(
                                .invalidDate, "holiday '\(name)' (\(from) to \(to)) is listed under year \(year)",
                                at: r.location(item))
                        }
                        spec.holidays.append((Holiday(from: from, to: to, name: name), r.location(item)))
                    }
                }
                if let w = y["workdays"], let items = r.stringList(w, what: "workdays") {
                    for item in items {
                        guard let d = date(item.node, what: "a make-up workday") else { continue }
                        if d.year != year {
                            r.diagnostics.warning(
                                .invalidDate, "make-up workday \(d) is listed under year \(year)",
                                at: r.location(item.node))
                        }
                        spec.workdays.append((d, r.location(item.node)))
                    }
                }
            }
        }
        return spec
    }

    // MARK: SLA profiles

    mutating func duration(_ node: Node, what: String) -> SLADuration? {
        guard let s = r.string(node, what: what) else { return nil }
        switch SLADuration.parse(s) {
        case .success(let d): return d
        case .failure(let error):
            r.diagnostics.error(.invalidDuration, "\(what): \(error.message)", at: r.location(node))
            return nil
        }
    }

    private mutating func decodeProfile(_ name: Located<String>, _ node: Node) -> ProfileSpec? {
        guard
            let e = r.mapping(
                node, what: "SLA profile '\(name.value)'", allowed: ["description", "clocks", "warn_at"],
                required: ["clocks"])
        else { return nil }
        var spec = ProfileSpec(
            name: name, description: e["description"].flatMap { r.string($0, what: "description") }, clocks: [],
            warn: .percent(75))
        if let c = e["clocks"], let clocks = r.mapping(c, what: "clocks", allowed: Clock.allCases.map(\.rawValue)) {
            for clock in Clock.allCases {
                if let n = clocks[clock.rawValue], let d = duration(n, what: "clock '\(clock.rawValue)'") {
                    spec.clocks.append((clock, d, r.location(n)))
                }
            }
            if clocks["resolve"] == nil {
                r.diagnostics.error(
                    .missingResolveClock, "SLA profile '\(name.value)' must have a 'resolve' clock", at: r.location(c))
            }
        }
        if let w = e["warn_at"], let s = r.string(w, what: "warn_at") {
            if s.hasSuffix("%"), let p = Int(s.dropLast()) {
                if (1...99).contains(p) {
                    spec.warn = .percent(p)
                } else {
                    r.diagnostics.error(
                        .warnThreshold, "warn_at must be between 1% and 99%, got '\(s)'", at: r.location(w))
                }
            } else if let d = duration(w, what: "warn_at") {
                spec.warn = .before(d)
            }
        }
        return spec
    }

    // MARK: Categories

    private mutating func decodeCategories(_ node: Node, prefix: String?) -> [CategorySpec] {
        guard let pairs = r.namedMapping(node, what: prefix.map { "children of '\($0)'" } ?? "categories") else {
            return []
        }
        var out: [CategorySpec] = []
        for (key, keyNode, value) in pairs {
            let valid = !key.isEmpty && key.allSatisfy { ("a"..."z").contains($0) || $0.isASCIIDigit || $0 == "_" }
            if !valid {
                r.diagnostics.error(
                    .invalidId, "category code '\(key)' must be lowercase letters, digits and '_'",
                    at: r.location(keyNode))
                continue
            }
            let code = prefix.map { "\($0).\(key)" } ?? key
            var spec = CategorySpec(code: code, name: nil, location: r.location(keyNode), children: [])
            if case .scalar(let s) = value, s.string.isEmpty {
                out.append(spec)
                continue
            }
            if let e = r.mapping(value, what: "category '\(code)'", allowed: ["name", "children"]) {
                spec.name = e["name"].flatMap { r.string($0, what: "name") }
                if let c = e["children"] { spec.children = decodeCategories(c, prefix: code) }
            }
            out.append(spec)
        }
        return out
    }

    // MARK: Text conditions and classification

    private mutating func decodeText(_ node: Node) -> TextSpec? {
        guard
            let e = r.mapping(
                node, what: "a text condition", allowed: ["any", "all", "all_of", "none", "none_near", "near"])
        else { return nil }
        var spec = TextSpec(location: r.location(node))
        func phrases(_ list: Node, what: String, _ reader: inout YAMLReader) -> [Located<String>] {
            guard let items = reader.stringList(list, what: what) else { return [] }
            var out: [Located<String>] = []
            for item in items {
                let normalized = PhraseMatcher.normalize(item.value)
                if normalized.isEmpty {
                    reader.diagnostics.error(
                        .invalidPattern, "an empty phrase matches every text", at: reader.location(item.node))
                } else if normalized.unicodeScalars.count > 200 {
                    reader.diagnostics.error(
                        .invalidPattern, "a phrase may be at most 200 characters", at: reader.location(item.node))
                } else {
                    if let why = Self.looksLikeRegularExpression(normalized) {
                        reader.diagnostics.warning(
                            .regexLikePhrase,
                            "phrase '\(normalized)' looks like a regular expression (\(why)), "
                                + "but phrases are matched literally: it matches only a text that contains "
                                + "exactly these characters; write the words themselves, several in 'any', "
                                + "or a gap phrase 'A…B'", at: reader.location(item.node))
                    }
                    out.append(Located(normalized, reader.location(item.node)))
                }
            }
            return out
        }
        if let n = e["any"] { spec.any = phrases(n, what: "any", &r) }
        if let n = e["all"] { spec.all = phrases(n, what: "all", &r) }
        if let n = e["none"] { spec.none = phrases(n, what: "none", &r) }
        if let n = e["none_near"] { spec.noneNear = phrases(n, what: "none_near", &r) }
        if let n = e["near"], let v = r.int(n, what: "near", range: 0...200) { spec.near = v }
        if let n = e["all_of"], let groups = r.sequence(n, what: "all_of") {
            for g in groups {
                let group = phrases(g, what: "a group of all_of", &r)
                if case .sequence(let seq) = g, seq.isEmpty {
                    r.diagnostics.error(.emptyCondition, "an empty group of all_of can never match", at: r.location(g))
                } else if !group.isEmpty {
                    spec.allOf.append(group)
                }
            }
        }
        if e["near"] != nil && spec.noneNear.isEmpty {
            r.diagnostics.error(
                .emptyCondition, "'near' without 'none_near' has nothing to apply to", at: r.location(e["near"]!))
        }
        if spec.isEmpty {
            r.diagnostics.error(
                .emptyCondition,
                "a text condition needs 'any', 'all' or 'all_of' phrases ('none' alone would match almost every ticket)",
                at: spec.location)
            return nil
        }
        return spec
    }

    /// Why a phrase looks like a regular expression, or nil: `.*`, `.+`, `\d`, `(a+)+`, `[abc]`, `a|b`,
    /// `^a`, `a$`, `a{2}`. Chinese callers' text almost never holds these characters.
    static func looksLikeRegularExpression(_ phrase: String) -> String? {
        let scalars = Array(phrase.unicodeScalars)
        for (i, c) in scalars.enumerated() {
            let next = i + 1 < scalars.count ? scalars[i + 1] : nil
            switch c {
            case "." where next == "*" || next == "+" || next == "?": return "'.\(next!)'"
            case "\\": return "a backslash"
            case ")" where next == "+" || next == "*" || next == "?": return "a repeated group"
            case "|": return "'|'"
            case "[" where phrase.contains("]"): return "a character class"
            case "{" where next.map { ("0"..."9").contains($0) } ?? false && phrase.contains("}"):
                return "a repetition count"
            case "*" where i > 0 && scalars[i - 1] != ".": return "'*'"
            case "+" where i > 0 && scalars[i - 1] != ".": return "'+'"
            default: continue
            }
        }
        if phrase.hasPrefix("^") { return "a leading '^'" }
        if phrase.hasSuffix("$") { return "a trailing '$'" }
        return nil
    }

    /// `source_line` values: 1-32 characters of `A-Z a-z 0-9 . _ : -`, as the intake contract takes them.
    private mutating func sourceLines(_ node: Node?) -> [String] {
        guard let node, let items = r.stringList(node, what: "source_line") else { return [] }
        var out: [String] = []
        for item in items {
            let ok =
                (1...32).contains(item.value.utf8.count)
                && item.value.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".:_-".contains($0)) }
            if ok {
                out.append(item.value)
            } else {
                r.diagnostics.error(
                    .invalidValue,
                    "source_line '\(item.value)' can never match: a ticket's source_line is 1-32 "
                        + "characters of A-Z a-z 0-9 . _ : -", at: r.location(item.node))
            }
        }
        return out
    }

    /// `extra: {FIELD: VALUE or [VALUES]}`: top-level ticket fields outside the contract, by exact value.
    private mutating func fieldConditions(_ node: Node?) -> [FieldCondition] {
        guard let node, let pairs = r.namedMapping(node, what: "extra") else { return [] }
        var out: [FieldCondition] = []
        for (key, keyNode, value) in pairs {
            if TicketContract.fields.contains(key) {
                r.diagnostics.error(
                    .invalidValue,
                    "'\(key)' is a contract field, not an extra one; use its own condition "
                        + "(\(key == "source_line" ? "source_line" : "category, kind, channel, urgency, enterprise, region, text"))",
                    at: r.location(keyNode))
                continue
            }
            guard let values = r.stringList(value, what: "extra '\(key)'") else { continue }
            if values.isEmpty {
                r.diagnostics.error(
                    .emptyCondition, "an empty list for extra '\(key)' matches nothing", at: r.location(value))
                continue
            }
            out.append(FieldCondition(field: key, values: values.map(\.value)))
        }
        return out
    }

    private mutating func decodeEmergency(_ node: Node) -> EmergencySpec? {
        guard
            let e = r.mapping(
                node, what: "an emergency rule", allowed: ["id", "line", "text", "description", "kind", "channel"],
                required: ["id", "line", "text"])
        else { return nil }
        let ruleID = e["id"].flatMap { id($0, what: "rule id") }
        let line = e["line"].flatMap {
            r.oneOf($0, what: "line", [("110", "110"), ("119", "119"), ("120", "120"), ("122", "122")])
        }
        let text = e["text"].flatMap { decodeText($0) }
        refuseEmptyLists(e, ["kind", "channel"])
        guard let ruleID, let line, let text else { return nil }
        return EmergencySpec(
            id: ruleID, line: line, kinds: enumList(e["kind"], what: "kind", Self.kinds),
            channels: enumList(e["channel"], what: "channel", Self.channels), text: text, location: r.location(node))
    }

    /// An empty list under one of `keys` would match no ticket, where leaving the key out matches every one:
    /// an error at the list (`R043`).
    private mutating func refuseEmptyLists(
        _ e: Entries, _ keys: [String], because why: String = "matches nothing; remove the key to match everything"
    ) {
        for key in keys {
            if let n = e[key], case .sequence(let seq) = n, seq.isEmpty {
                r.diagnostics.error(.emptyCondition, "an empty '\(key)' list \(why)", at: r.location(n))
            }
        }
    }

    static let kinds = TicketKind.allCases.map { ($0.rawValue, $0) }
    static let channels = Channel.allCases.map { ($0.rawValue, $0) }
    static let urgencies = Urgency.allCases.map { ($0.rawValue, $0) }

    private mutating func enumList<T>(_ node: Node?, what: String, _ values: [(String, T)]) -> [T] {
        guard let node, let items = r.stringList(node, what: what) else { return [] }
        return items.compactMap { r.oneOf($0.node, what: what, values) }
    }

    private mutating func decodeClassify(_ node: Node) -> ClassifySpec? {
        guard
            let e = r.mapping(
                node, what: "a classify rule",
                allowed: ["id", "description", "text", "kind", "channel", "source_line", "extra", "set", "override"],
                required: ["id", "set"])
        else { return nil }
        let ruleID = e["id"].flatMap { id($0, what: "rule id") }
        let text = e["text"].flatMap { decodeText($0) }
        var category: Located<String>?
        var urgency: Urgency?
        if let s = e["set"], let set = r.mapping(s, what: "set", allowed: ["category", "urgency"]) {
            if let c = set["category"], let v = r.string(c, what: "category") { category = Located(v, r.location(c)) }
            if let u = set["urgency"] { urgency = r.oneOf(u, what: "urgency", Self.urgencies) }
            if set["category"] == nil && set["urgency"] == nil {
                r.diagnostics.error(.emptyCondition, "'set' must name a category or an urgency", at: r.location(s))
            }
        }
        let override = e["override"].flatMap { r.bool($0, what: "override") } ?? false
        let lines = sourceLines(e["source_line"])
        let fields = fieldConditions(e["extra"])
        refuseEmptyLists(e, ["kind", "channel", "source_line"])
        // Without text a rule needs another condition: a rule that holds for every ticket is a mistake.
        if e["text"] == nil && e["source_line"] == nil && e["extra"] == nil {
            r.diagnostics.error(
                .missingKey, "a classify rule needs 'text', or a 'source_line' or 'extra' condition",
                at: r.location(node))
            return nil
        }
        guard let ruleID, e["text"] == nil || text != nil else { return nil }
        return ClassifySpec(
            id: ruleID, text: text, kinds: enumList(e["kind"], what: "kind", Self.kinds),
            channels: enumList(e["channel"], what: "channel", Self.channels), sourceLines: lines, fields: fields,
            setCategory: category, setUrgency: urgency, override: override, location: r.location(node))
    }

    // MARK: Routes

    private mutating func decodeDestination(_ node: Node, what: String) -> DestinationSpec? {
        if case .scalar(let s) = node {
            switch s.string {
            case "platform": return .platform(r.location(node))
            case "triage": return .triage(r.location(node))
            default:
                r.diagnostics.error(
                    .invalidValue,
                    "\(what) must be 'platform', 'triage', {unit: ID} or {level: L, function: F}; got '\(s.string)'",
                    at: r.location(node))
                return nil
            }
        }
        guard let e = r.mapping(node, what: what, allowed: ["unit", "level", "function"]) else { return nil }
        if let u = e["unit"] {
            if e["level"] != nil || e["function"] != nil {
                r.diagnostics.error(
                    .conflictingDestination, "\(what) names a unit and a relative destination; give one",
                    at: r.location(node))
            }
            return id(u, what: "unit id").map { .unit($0) }
        }
        guard let l = e["level"], let f = e["function"] else {
            r.diagnostics.error(
                .missingKey, "\(what) needs 'unit', or both 'level' and 'function'", at: r.location(node))
            return nil
        }
        guard let level = r.oneOf(l, what: "level", Level.allCases.map { ($0.name, $0) }),
            let function = id(f, what: "function")
        else { return nil }
        return .relative(level: level, function: function, location: r.location(node))
    }

    private mutating func decodeSLASelection(_ node: Node) -> SLASelectionSpec {
        var spec = SLASelectionSpec()
        if case .scalar(let s) = node {
            spec.byCase[.default] = Located(s.string, r.location(node))
            spec.shorthand = true
            return spec
        }
        guard let e = r.mapping(node, what: "sla", allowed: SLACase.allCases.map(\.rawValue)) else { return spec }
        for c in SLACase.allCases {
            if let n = e[c.rawValue], let s = r.string(n, what: "sla \(c.rawValue)") {
                spec.byCase[c] = Located(s, r.location(n))
            }
        }
        return spec
    }

    private mutating func decodeRoute(_ node: Node) -> RouteSpec? {
        guard
            let e = r.mapping(
                node, what: "a route",
                allowed: [
                    "id", "description", "when", "to", "co_handlers", "sla", "priority", "escalation",
                    "supervise_at",
                ],
                required: ["id", "to"])
        else { return nil }
        let ruleID = e["id"].flatMap { id($0, what: "route id") }
        var when = WhenSpec()
        if let w = e["when"],
            let we = r.mapping(
                w, what: "when",
                allowed: [
                    "category", "kind", "region", "enterprise", "urgency", "channel", "source_line", "extra", "text",
                ])
        {
            if let c = we["category"], let items = r.stringList(c, what: "category") {
                when.categories = items.map { Located($0.value, r.location($0.node)) }
            }
            if let c = we["region"], let items = r.stringList(c, what: "region") {
                when.regions = items.map { Located($0.value, r.location($0.node)) }
            }
            when.kinds = enumList(we["kind"], what: "kind", Self.kinds)
            when.channels = enumList(we["channel"], what: "channel", Self.channels)
            when.urgencies = enumList(we["urgency"], what: "urgency", Self.urgencies)
            when.enterprise = we["enterprise"].flatMap { r.bool($0, what: "enterprise") }
            when.text = we["text"].flatMap { decodeText($0) }
            when.sourceLines = sourceLines(we["source_line"])
            when.fields = fieldConditions(we["extra"])
            refuseEmptyLists(we, ["category", "kind", "region", "urgency", "channel", "source_line"])
        }
        let to = e["to"].flatMap { decodeDestination($0, what: "to") }
        var co: [DestinationSpec] = []
        if let c = e["co_handlers"], let items = r.sequence(c, what: "co_handlers") {
            for item in items {
                if case .scalar = item {
                    if let unitID = id(item, what: "co-handler unit id") { co.append(.unit(unitID)) }
                } else if let d = decodeDestination(item, what: "a co-handler") {
                    co.append(d)
                }
            }
        }
        let sla = e["sla"].map { decodeSLASelection($0) } ?? SLASelectionSpec()
        let priority = e["priority"].flatMap { r.int($0, what: "priority", range: 1...9) }
        let escalation = e["escalation"].flatMap { n in
            r.string(n, what: "escalation").map { Located($0, r.location(n)) }
        }
        let supervise = e["supervise_at"].flatMap { decodeSuperviseAt($0) }
        guard let ruleID, let to else { return nil }
        return RouteSpec(
            id: ruleID, description: e["description"].flatMap { r.string($0, what: "description") }, when: when, to: to,
            coHandlers: co, sla: sla, priority: priority, escalation: escalation, superviseAt: supervise,
            location: r.location(node))
    }

    private mutating func decodeCoHandlers(_ c: Node) -> [DestinationSpec] {
        guard let items = r.sequence(c, what: "co_handlers") else { return [] }
        var co: [DestinationSpec] = []
        for item in items {
            if case .scalar = item {
                if let unitID = id(item, what: "co-handler unit id") { co.append(.unit(unitID)) }
            } else if let d = decodeDestination(item, what: "a co-handler") {
                co.append(d)
            }
        }
        return co
    }

    /// `supervise_at: 50%` (of the resolve clock) or `{clock: answer, at: 50%}`.
    private mutating func decodeSuperviseAt(_ node: Node) -> EarlySupervision? {
        var clock = Clock.resolve
        var atNode = node
        if case .mapping = node {
            guard let e = r.mapping(node, what: "supervise_at", allowed: ["clock", "at"], required: ["at"]) else {
                return nil
            }
            if let c = e["clock"], let v = r.oneOf(c, what: "clock", Clock.allCases.map { ($0.rawValue, $0) }) {
                clock = v
            }
            atNode = e["at"]!
        }
        guard let s = r.string(atNode, what: "supervise_at") else { return nil }
        guard s.hasSuffix("%"), let p = Int(s.dropLast()), (1...99).contains(p) else {
            r.diagnostics.error(
                .warnThreshold, "supervise_at must be a percentage of the clock between 1% and 99%, got '\(s)'",
                at: r.location(atNode))
            return nil
        }
        return EarlySupervision(clock: clock, percent: p)
    }

    private mutating func decodePolicy(_ node: Node) -> PolicySpec? {
        guard
            let e = r.mapping(
                node, what: "a policy rule",
                allowed: ["id", "description", "when", "escalation", "co_handlers", "supervise_at"],
                required: ["id"])
        else { return nil }
        guard let ruleID = e["id"].flatMap({ id($0, what: "policy rule id") }) else { return nil }
        var spec = PolicySpec(id: ruleID, location: r.location(node))
        if let w = e["when"],
            let we = r.mapping(w, what: "when", allowed: ["category", "kind", "urgency", "enterprise"])
        {
            if let c = we["category"], let items = r.stringList(c, what: "category") {
                spec.categories = items.map { Located($0.value, r.location($0.node)) }
            }
            spec.kinds = enumList(we["kind"], what: "kind", Self.kinds)
            spec.urgencies = enumList(we["urgency"], what: "urgency", Self.urgencies)
            spec.enterprise = we["enterprise"].flatMap { r.bool($0, what: "enterprise") }
            refuseEmptyLists(we, ["category", "kind", "urgency"])
        }
        spec.escalation = e["escalation"].flatMap { n in
            r.string(n, what: "escalation").map { Located($0, r.location(n)) }
        }
        if let c = e["co_handlers"] { spec.coHandlers = decodeCoHandlers(c) }
        spec.superviseAt = e["supervise_at"].flatMap { decodeSuperviseAt($0) }
        if e["escalation"] == nil && e["co_handlers"] == nil && e["supervise_at"] == nil {
            r.diagnostics.error(
                .emptyCondition,
                "policy rule '\(ruleID.value)' sets nothing: give 'escalation', 'co_handlers' "
                    + "or 'supervise_at'", at: r.location(node))
        }
        return spec
    }

    // MARK: Escalation and defaults

    private mutating func decodeEscalation(_ name: Located<String>, _ node: Node) -> EscalationSpec? {
        guard
            let e = r.mapping(
                node, what: "escalation policy '\(name.value)'",
                allowed: [
                    "clocks", "to_parent", "at_top", "max_returns", "after_escalation_sla",
                    "return_review", "extension_review", "request_pauses", "description",
                ])
        else { return nil }
        var spec = EscalationSpec(
            name: name, clocks: [.resolve], toParent: true, topAction: "supervise", remindEvery: nil, maxReturns: 2,
            afterEscalationProfile: nil)
        if let c = e["clocks"] { spec.clocks = enumList(c, what: "clocks", Clock.allCases.map { ($0.rawValue, $0) }) }
        if let t = e["to_parent"], let b = r.bool(t, what: "to_parent") { spec.toParent = b }
        if let m = e["max_returns"], let v = r.int(m, what: "max_returns", range: 0...20) { spec.maxReturns = v }
        if let a = e["after_escalation_sla"], let s = r.string(a, what: "after_escalation_sla") {
            spec.afterEscalationProfile = Located(s, r.location(a))
        }
        if let n = e["return_review"] { spec.returnReview = duration(n, what: "return_review") }
        if let n = e["extension_review"] { spec.extensionReview = duration(n, what: "extension_review") }
        if let n = e["request_pauses"] {
            spec.requestPauses = enumList(n, what: "request_pauses", Clock.allCases.map { ($0.rawValue, $0) })
        }
        let topKeys = ["action", "remind_every", "remind_any_time"]
        if let t = e["at_top"], let te = r.mapping(t, what: "at_top", allowed: topKeys) {
            if let a = te["action"], let v = r.oneOf(a, what: "action", [("supervise", "supervise")]) {
                spec.topAction = v
            }
            if let re = te["remind_every"] { spec.remindEvery = duration(re, what: "remind_every") }
            if let n = te["remind_any_time"] {
                spec.remindAnyTime = enumList(n, what: "remind_any_time", Self.urgencies)
            }
        }
        return spec
    }

    private mutating func decodeDefaults(_ node: Node) {
        guard
            let e = r.mapping(
                node, what: "defaults",
                allowed: [
                    "platform", "triage", "supervision", "sla", "triage_sla", "priority",
                    "classify_choice",
                ])
        else { return }
        var d = DefaultsSpec()
        d.location = r.location(node)
        d.platform = e["platform"].flatMap { id($0, what: "platform unit id") }
        d.triage = e["triage"].flatMap { id($0, what: "triage unit id") }
        d.supervision = e["supervision"].flatMap { id($0, what: "supervision unit id") }
        if let s = e["sla"] { d.sla = decodeSLASelection(s) }
        d.triageSLA = e["triage_sla"].flatMap { n in r.string(n, what: "triage_sla").map { Located($0, r.location(n)) }
        }
        if let p = e["priority"], let v = r.int(p, what: "priority", range: 1...9) { d.priority = v }
        if let c = e["classify_choice"],
            let v = r.oneOf(
                c, what: "classify_choice", [("first", ClassifyChoice.first), ("most_specific", .mostSpecific)])
        {
            d.classifyChoice = v
        }
        source.defaults = d
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
