import Foundation

/// A level of the four-level pagoda, from the top.
public enum Level: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
    case city = 0, district, town, village

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
    var aliases: [String]
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
    var none: [Located<String>] = []
    var location: RulePosition
}

struct EmergencySpec: Sendable {
    var id: Located<String>
    var line: String
    var text: TextSpec
    var location: RulePosition
}

struct ClassifySpec: Sendable {
    var id: Located<String>
    var text: TextSpec
    var kinds: [TicketKind]
    var channels: [Channel]
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
    var location: RulePosition?
}

/// Everything read from a rule directory, before cross-references are checked.
struct RuleSetSource: Sendable {
    var regions: RegionSpec?
    var units: [UnitSpec] = []
    var calendar: CalendarSpec?
    var profiles: [ProfileSpec] = []
    var categories: [CategorySpec] = []
    var emergency: [EmergencySpec] = []
    var classify: [ClassifySpec] = []
    var routes: [RouteSpec] = []
    var routesLocation: RulePosition?
    var escalation: [EscalationSpec] = []
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
