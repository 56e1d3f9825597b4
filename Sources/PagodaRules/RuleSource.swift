import Foundation
import PagodaJSON

/// A level of the four-level pagoda, from the top.
public enum Level: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
    case city = 0
    case district, town, village

    public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    public var name: String { ["city", "district", "town", "village"][rawValue] }
    public var description: String { name }
    public init?(name: String) {
        guard let l = Level.allCases.first(where: { $0.name == name }) else { return nil }
        self = l
    }
    /// The level above, or nil at the city.
    public var up: Level? { Level(rawValue: rawValue - 1) }
}

/// The clocks an SLA profile can run, in the order they are shown.
public enum Clock: String, Sendable, Hashable, CaseIterable, Comparable {
    case sign, contact, onsite, answer, resolve

    public static func < (a: Clock, b: Clock) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
    /// The key of this clock's deadline in decisions: `resolve_by`.
    public var deadlineKey: String { rawValue + "_by" }
}

// MARK: - The rule set as written

/// A value with the place it was written.
public struct Located<Value: Sendable & Hashable>: Sendable, Hashable {
    public let value: Value
    public let location: RulePosition
    public init(_ value: Value, _ location: RulePosition) {
        self.value = value
        self.location = location
    }
}

struct RegionSpec: Sendable {
    var name: String
    var code: String?
    var aliases: [Located<String>]
    var level: Level
    var location: RulePosition
    var children: [RegionSpec]
}

struct UnitSpec: Sendable {
    var id: Located<String>
    var name: String
    var level: Level
    var region: Located<String>?
    var function: Located<String>
    var queue: String?
    var parent: Located<String>?
    var location: RulePosition
}

struct CalendarSpec: Sendable {
    var timeZone: Located<String>
    var workingDays: [Located<String>]
    var workingHours: [WorkingInterval]
    var holidays: [(holiday: Holiday, location: RulePosition)]
    var workdays: [(date: CivilDate, location: RulePosition)]
    var years: [Located<Int>]
    var location: RulePosition
    /// Whether `working_hours` was written (else the default hours apply, or the seasons must cover every day).
    var workingHoursGiven = true
    var seasons: [SeasonSpec] = []
    /// Where `seasons` is written.
    var seasonsLocation: RulePosition?
    /// Whether a season had an error already (so the days it meant to cover are not reported again).
    var seasonsBroken = false
}

struct SeasonSpec: Sendable {
    var season: WorkingSeason
    var location: RulePosition
}

enum WarnSpec: Sendable, Hashable {
    case percent(Int)
    case before(SLADuration)
}

struct ProfileSpec: Sendable {
    var name: Located<String>
    var description: String?
    var clocks: [(clock: Clock, duration: SLADuration, location: RulePosition)]
    var warn: WarnSpec
}

struct CategorySpec: Sendable {
    var code: String
    var name: String?
    var location: RulePosition
    var children: [CategorySpec]
}

struct TextSpec: Sendable {
    var any: [Located<String>] = []
    var all: [Located<String>] = []
    /// Any-of groups that must all match (`all_of: [[燃气管, 天然气管], [挖断, 挖破]]`).
    var allOf: [[Located<String>]] = []
    var none: [Located<String>] = []
    /// Exclusions that hold only within `near` characters of a required phrase's occurrence.
    var noneNear: [Located<String>] = []
    var near: Int = TextSpec.defaultNear
    var location: RulePosition
    var isEmpty: Bool { any.isEmpty && all.isEmpty && allOf.isEmpty }

    /// `near` when a condition does not say, in characters.
    static let defaultNear = 10
    /// The largest gap a gap phrase (`拖欠…工程款`) may leave when it does not say.
    static let defaultGap = 10
}

/// A condition on a top-level field of the ticket outside the contract (`extra`), by exact value.
public struct FieldCondition: Sendable, Hashable {
    public let field: String
    /// The values any one of which the field's value (a string, or a number's or boolean's JSON text) must be.
    public let values: [String]
}

struct EmergencySpec: Sendable {
    var id: Located<String>
    var line: String
    var kinds: [TicketKind] = []
    var channels: [Channel] = []
    var text: TextSpec
    var location: RulePosition
}

struct ClassifySpec: Sendable {
    var id: Located<String>
    var text: TextSpec?
    var kinds: [TicketKind]
    var channels: [Channel]
    var sourceLines: [String] = []
    var fields: [FieldCondition] = []
    var setCategory: Located<String>?
    var setUrgency: Urgency?
    var override: Bool
    var location: RulePosition
}

enum DestinationSpec: Sendable {
    case unit(Located<String>)
    case relative(level: Level, function: Located<String>, location: RulePosition)
    case platform(RulePosition)
    case triage(RulePosition)
}

struct SLASelectionSpec: Sendable {
    var byCase: [SLACase: Located<String>] = [:]
    /// Written as `sla: NAME`, short for `{default: NAME}`.
    var shorthand = false
}

/// Which entry of an SLA selection applies to a ticket.
public enum SLACase: String, Sendable, Hashable, CaseIterable {
    case `default`, enterprise, urgent, emergency
}

struct WhenSpec: Sendable {
    var categories: [Located<String>] = []
    var kinds: [TicketKind] = []
    var regions: [Located<String>] = []
    var enterprise: Bool?
    var urgencies: [Urgency] = []
    var channels: [Channel] = []
    var sourceLines: [String] = []
    var fields: [FieldCondition] = []
    var text: TextSpec?
}

struct RouteSpec: Sendable {
    var id: Located<String>
    var description: String?
    var when: WhenSpec
    var to: DestinationSpec
    var coHandlers: [DestinationSpec]
    var sla: SLASelectionSpec
    var priority: Int?
    var escalation: Located<String>?
    var superviseAt: EarlySupervision?
    var location: RulePosition
}

/// When to supervise a ticket early (督办): at a share of one of its clocks (`supervise_at: 50%` is of
/// `resolve`).
public struct EarlySupervision: Sendable, Hashable {
    public let clock: Clock
    public let percent: Int
}

/// A rule of the `policies` section: for the tickets it matches, the escalation policy, extra co-handlers
/// and early supervision, chosen in one place as the SLA profile is in `defaults.sla`.
struct PolicySpec: Sendable {
    var id: Located<String>
    var categories: [Located<String>] = []
    var kinds: [TicketKind] = []
    var urgencies: [Urgency] = []
    var enterprise: Bool?
    var escalation: Located<String>?
    var coHandlers: [DestinationSpec] = []
    var superviseAt: EarlySupervision?
    var location: RulePosition
}

struct EscalationSpec: Sendable {
    var name: Located<String>
    var clocks: [Clock]
    var toParent: Bool
    var topAction: String
    var remindEvery: SLADuration?
    var maxReturns: Int
    var afterEscalationProfile: Located<String>?
    var returnReview: SLADuration?
    var extensionReview: SLADuration?
    var requestPauses: [Clock] = EscalationPolicy.defaultRequestPauses
    var remindAnyTime: [Urgency] = EscalationPolicy.defaultRemindAnyTime
}

struct DefaultsSpec: Sendable {
    var platform: Located<String>?
    var triage: Located<String>?
    var supervision: Located<String>?
    var sla = SLASelectionSpec()
    var triageSLA: Located<String>?
    var priority: Int = 5
    /// How one category is chosen among several matching classify rules.
    var classifyChoice: ClassifyChoice = .first
    var location: RulePosition?
}

/// How the category is chosen when several classify rules that set one match (`defaults.classify_choice`).
public enum ClassifyChoice: String, Sendable, Hashable {
    /// The first matching rule in file order (the rule set's order).
    case first
    /// The most specific matching rule (the most conditions); file order among equally specific rules.
    case mostSpecific = "most_specific"
}

/// Everything read from a rule directory, before cross-references are checked.
struct RuleSetSource: Sendable {
    var regions: RegionSpec?
    /// The province the city lies in (`regions.province`), stripped from callers' region names.
    var province: Located<String>?
    var units: [UnitSpec] = []
    /// Unit templates (`each: LEVEL` entries of `units`), in order.
    var unitTemplates: [UnitTemplateSpec] = []
    var calendar: CalendarSpec?
    var profiles: [ProfileSpec] = []
    var categories: [CategorySpec] = []
    var emergency: [EmergencySpec] = []
    var classify: [ClassifySpec] = []
    var routes: [RouteSpec] = []
    var routesLocation: RulePosition?
    var escalation: [EscalationSpec] = []
    var policies: [PolicySpec] = []
    var defaults = DefaultsSpec()
    var sectionLocations: [String: RulePosition] = [:]
}

extension Clock: Codable {}

extension Urgency: Codable {}

extension Level: Codable {
    /// Encoded by name (`"town"`), as it is written in rule files and messages.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let name = try c.decode(String.self)
        guard let level = Level(name: name) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "unknown level \(name)")
        }
        self = level
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(name)
    }
}
