import Foundation
import PagodaJSON

/// A node of the region tree.
public struct Region: Sendable, Hashable {
    public let index: Int
    public let name: String
    public let code: String?
    public let aliases: [String]
    public let level: Level
    public let parent: Int?
    public internal(set) var children: [Int]
    /// Name path from the district down (`南海区/狮山镇`); the city's name for the root.
    public let path: String
    public let location: RulePosition
}

/// A handling unit.
public struct Unit: Sendable, Hashable {
    public let index: Int
    public let id: String
    public let name: String
    public let level: Level
    public let region: Int
    public let function: String
    /// Queue name below the service's prefix (`unit.<id>` unless the rule file says otherwise).
    public let queue: String
    /// The unit it escalates to; nil at the city level.
    public internal(set) var parent: Int?
    /// Where it is defined: its entry in `units`, or the id pattern of the template it comes from.
    public let location: RulePosition
    /// Whether a unit template (`each: LEVEL`) gave it, rather than an entry of its own.
    public var fromTemplate = false
}

/// A category of the category tree; codes are dot paths.
public struct Category: Sendable, Hashable {
    public let index: Int
    public let code: String
    public let name: String?
    public let parent: Int?
    public let location: RulePosition
}

/// A named time-limit profile.
public struct SLAProfile: Sendable, Hashable {
    public enum Warning: Sendable, Hashable {
        /// The yellow light at this percentage of each clock's span.
        case percent(Int)
        /// The yellow light this many seconds before each deadline.
        case before(seconds: Int)
    }
    public let name: String
    public let description: String?
    public let clocks: [ClockLimit]
    public let warning: Warning
    public let location: RulePosition

    public struct ClockLimit: Sendable, Hashable {
        public let clock: Clock
        public let duration: SLADuration
    }
}

/// What happens when a ticket's clocks run out.
public struct EscalationPolicy: Sendable, Hashable {
    public let name: String
    /// Clocks whose expiry re-queues the ticket to the parent unit.
    public let clocks: [Clock]
    public let toParent: Bool
    /// At the city level: `supervise` (督办).
    public let topAction: String
    public let remindEvery: SLADuration?
    /// Returns (退单) allowed before the ticket goes to supervision.
    public let maxReturns: Int
    /// The profile the clocks restart with after an escalation; nil keeps the ticket's profile.
    public let afterEscalationProfile: String?
    /// How long the centre has to decide a return (退单) request; past it the request goes to
    /// supervision (督办 of the centre). Nil: no deadline.
    public var returnReview: SLADuration? = nil
    /// How long the centre has to decide an extension (延期) request; nil: no deadline.
    public var extensionReview: SLADuration? = nil
    /// The holder's clocks a pending return or extension request stops until the centre decides (the
    /// request answers them); a rejection resumes them with the time they had left.
    public var requestPauses: [Clock] = EscalationPolicy.defaultRequestPauses
    /// The urgencies whose repeating supervision reminders go out at any hour; the others wait for the
    /// calendar's next working time.
    public var remindAnyTime: [Urgency] = EscalationPolicy.defaultRemindAnyTime

    /// `request_pauses` when a policy does not say: the sign-in and contact clocks.
    public static let defaultRequestPauses: [Clock] = [.sign, .contact]
    /// `at_top.remind_any_time` when a policy does not say: urgent matters and emergencies.
    public static let defaultRemindAnyTime: [Urgency] = [.urgent, .emergency]
}

/// A compiled text condition over phrase ids of the rule set's automaton.
///
/// Ids at or above ``VirtualPhrase/base`` are virtual phrases (gap phrases, and phrases guarded by
/// exclusions near them), worked out from the occurrences of real ones after the scan; a ticket's `found`
/// holds them like any other id, so a condition is checked the same way whatever its phrases are.
public struct TextCondition: Sendable, Hashable {
    public let any: [Int32]
    public let all: [Int32]
    public let none: [Int32]
    /// Any-of groups that must all match (`all_of`).
    public let groups: [[Int32]]

    public init(any: [Int32], all: [Int32], none: [Int32], groups: [[Int32]] = []) {
        self.any = any
        self.all = all
        self.none = none
        self.groups = groups
    }

    /// Whether the condition holds for a ticket whose matched phrase ids are `found` (sorted, distinct).
    @inline(__always) public func holds(_ found: [Int32]) -> Bool {
        if !any.isEmpty && !any.contains(where: { Self.contains(found, $0) }) { return false }
        for p in all where !Self.contains(found, p) { return false }
        for g in groups where !g.contains(where: { Self.contains(found, $0) }) { return false }
        for p in none where Self.contains(found, p) { return false }
        return true
    }

    /// The phrases one of which must occur for the condition to hold: the first required list.
    var triggers: [Int32] { !any.isEmpty ? any : !all.isEmpty ? all : groups.first ?? [] }

    /// How many things the condition requires: one for `any`, one per `all` phrase and per `all_of` group.
    var requirements: Int { (any.isEmpty ? 0 : 1) + all.count + groups.count }

    @inline(__always) static func contains(_ sorted: [Int32], _ value: Int32) -> Bool {
        var lo = 0
        var hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid] < value { lo = mid + 1 } else { hi = mid }
        }
        return lo < sorted.count && sorted[lo] == value
    }
}

/// A phrase worked out from the occurrences of others: `拖欠…工程款` (a gap phrase), or a required phrase
/// guarded by exclusions near it (`none_near`).
public enum VirtualPhrase: Sendable, Hashable {
    /// `first`, then `second` starting at most `within` characters after `first` ends.
    case gap(first: Int32, second: Int32, within: Int)
    /// An occurrence of `base` with no occurrence of any of `exclusions` within `within` characters of it.
    case guarded(base: Int32, exclusions: [Int32], within: Int)

    /// The first virtual phrase id: real phrase ids are below it.
    public static let base: Int32 = 1 << 24
}

/// A condition on where a ticket came from beyond the indexed dimensions: its `source_line` and extra
/// top-level fields, each by exact value.
public struct FieldConditions: Sendable, Hashable {
    public let sourceLines: Set<String>
    public let fields: [FieldCondition]
    public var isEmpty: Bool { sourceLines.isEmpty && fields.isEmpty }
    var count: Int { (sourceLines.isEmpty ? 0 : 1) + fields.count }

    /// Whether `ticket` meets every condition.
    public func hold(for ticket: Ticket) -> Bool {
        if !sourceLines.isEmpty { guard let line = ticket.sourceLine, sourceLines.contains(line) else { return false } }
        for f in fields {
            guard let value = ticket.extra[f.field].flatMap(Self.text), f.values.contains(value) else { return false }
        }
        return true
    }

    /// A string's value, or a number's or boolean's JSON text; nil for null, arrays and objects.
    static func text(_ value: JSONValue) -> String? {
        switch value {
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return n
        default: return nil
        }
    }
}

/// Where a rule was written.
public struct RuleReference: Sendable, Hashable {
    public let id: String
    public let file: String
    public let line: Int

}

public struct EmergencyRule: Sendable, Hashable {
    public let reference: RuleReference
    public let line: String
    public let text: TextCondition
    /// The kinds of ticket the rule applies to; empty: every kind.
    public var kinds: Set<TicketKind> = []
    /// The channels the rule applies to; empty: every channel.
    public var channels: Set<Channel> = []
}

public struct ClassifyRule: Sendable, Hashable {
    public let reference: RuleReference
    public let text: TextCondition
    public let kinds: Set<TicketKind>
    public let channels: Set<Channel>
    public let setCategory: Int?
    public let setUrgency: Urgency?
    public let override: Bool
    public var fields = FieldConditions(sourceLines: [], fields: [])

    /// How specific the rule is, for `classify_choice: most_specific`: one per kind, channel, source_line
    /// and extra condition, plus the text condition's requirements.
    public var specificity: Int {
        (kinds.isEmpty ? 0 : 1) + (channels.isEmpty ? 0 : 1) + fields.count + text.requirements
    }
}

/// A destination as a route names it.
public enum Target: Sendable, Hashable {
    case unit(Int)
    /// Relative to the ticket's region; the index into the rule set's relative-resolution table.
    case relative(level: Level, function: String, table: Int)
    case platform
    case triage
}

/// A compiled route.
public struct Route: Sendable, Hashable {
    public let index: Int
    public let reference: RuleReference
    public let description: String?
    public let categories: [Int]
    public let kinds: Set<TicketKind>
    public let regions: [Int]
    public let enterprise: Bool?
    public let urgencies: Set<Urgency>
    public let channels: Set<Channel>
    public let text: TextCondition?
    public let target: Target
    public let coHandlers: [Target]
    public let sla: [SLACase: String]
    public let priority: Int?
    public let escalation: String
    /// `source_line` and `extra` conditions, checked after the indexed ones.
    public var fields = FieldConditions(sourceLines: [], fields: [])
    /// Whether the route names its escalation policy (else the `policies` section may choose it).
    public var escalationGiven = false
    /// Early supervision the route asks for (else the `policies` section may ask for it).
    public var superviseAt: EarlySupervision?
}

/// A compiled rule of the `policies` section.
public struct PolicyRule: Sendable, Hashable {
    public let reference: RuleReference
    public let categories: [Int]
    public let kinds: Set<TicketKind>
    public let urgencies: Set<Urgency>
    public let enterprise: Bool?
    public let escalation: String?
    public let coHandlers: [Target]
    public let superviseAt: EarlySupervision?
}

/// A validated, compiled rule set: immutable, shareable across threads, and fast to evaluate.
///
/// Built only by ``RuleSetCompiler``, which checks everything first, so evaluation cannot fail.
public final class RuleSet: Sendable {
    public let regions: [Region]
    public let units: [Unit]
    public let categories: [Category]
    public let profiles: [String: SLAProfile]
    public let policies: [String: EscalationPolicy]
    public let emergencyRules: [EmergencyRule]
    public let classifyRules: [ClassifyRule]
    public let routes: [Route]
    public let calendar: BusinessCalendar
    public let platformUnit: Int?
    public let triageUnit: Int
    public let supervisionUnit: Int?
    public let defaultSLA: [SLACase: String]
    public let triageSLA: String
    public let defaultPriority: Int
    /// SHA-256 of the rule files (names and contents), in hex.
    public let hash: String
    /// The provenance of fallback (triage) decisions: the `routes` section.
    public let fallbackRule: RuleReference
    /// The province the city lies in (`regions.province`), if the rule set names it.
    public let province: String?
    /// What a caller may write in front of a district's name: the province's and the city's names,
    /// aliases and short forms (`山东省`, `山东`, `枣庄市`, `枣庄`), longest first.
    let rootPrefixes: [String]

    let phrases: [String]
    let matcher: PhraseMatcher
    /// Gap phrases and guarded phrases, by id minus ``VirtualPhrase/base``, with how each is written.
    let virtualPhrases: [VirtualPhrase]
    let virtualTexts: [String]
    /// For each real phrase, the virtual phrases that can occur only if it does (a gap phrase's first
    /// half; a guarded phrase's base, or its base's first half), in id order.
    let virtualsByRoot: [[Int32]]
    /// How the category is chosen among several matching classify rules.
    public let classifyChoice: ClassifyChoice
    /// Whether some route has a `source_line` or `extra` condition (checked after the index).
    let routesHaveFields: Bool
    /// The `policies` section, in order.
    public let policyRules: [PolicyRule]
    let unitByID: [String: Int]
    let categoryByCode: [String: Int]
    let regionByPath: [String: Int]
    let regionByCode: [String: Int]
    /// For each relative destination spec, the unit for each region node.
    let relativeTables: [[Int32]]
    let index: RouteIndex
    /// Each region's children by name and alias.
    let childByName: [[String: Int]]
    /// Each unit's escalation chain, computed once.
    let chains: [[Unit]]

    init(
        regions: [Region], units: [Unit], categories: [Category], profiles: [String: SLAProfile],
        policies: [String: EscalationPolicy], emergencyRules: [EmergencyRule], classifyRules: [ClassifyRule],
        routes: [Route], calendar: BusinessCalendar, platformUnit: Int?, triageUnit: Int, supervisionUnit: Int?,
        defaultSLA: [SLACase: String], triageSLA: String, defaultPriority: Int, hash: String,
        fallbackRule: RuleReference,
        phrases: [String], relativeTables: [[Int32]], province: String? = nil,
        virtualPhrases: [VirtualPhrase] = [], virtualTexts: [String] = [], classifyChoice: ClassifyChoice = .first,
        policyRules: [PolicyRule] = []
    ) {
        self.policyRules = policyRules
        self.province = province
        self.virtualPhrases = virtualPhrases
        self.virtualTexts = virtualTexts
        // Each virtual phrase's root, and the real phrases whose positions the scan must report.
        var roots: [Int32] = []
        var byRoot = [[Int32]](repeating: [], count: phrases.count)
        var located: Set<Int32> = []
        for (k, v) in virtualPhrases.enumerated() {
            let root: Int32
            switch v {
            case .gap(let first, let second, _):
                root = first
                located.formUnion([first, second])
            case .guarded(let base, let exclusions, _):
                root = base >= VirtualPhrase.base ? roots[Int(base - VirtualPhrase.base)] : base
                located.formUnion(([base] + exclusions).filter { $0 < VirtualPhrase.base })
            }
            roots.append(root)
            byRoot[Int(root)].append(VirtualPhrase.base + Int32(k))
        }
        self.virtualsByRoot = byRoot
        self.classifyChoice = classifyChoice
        self.routesHaveFields = routes.contains { !$0.fields.isEmpty }
        self.regions = regions
        self.units = units
        self.categories = categories
        self.profiles = profiles
        self.policies = policies
        self.emergencyRules = emergencyRules
        self.classifyRules = classifyRules
        self.routes = routes
        self.calendar = calendar
        self.platformUnit = platformUnit
        self.triageUnit = triageUnit
        self.supervisionUnit = supervisionUnit
        self.defaultSLA = defaultSLA
        self.triageSLA = triageSLA
        self.defaultPriority = defaultPriority
        self.hash = hash
        self.fallbackRule = fallbackRule
        self.phrases = phrases
        self.matcher = PhraseMatcher(phrases: phrases, located: located)
        self.unitByID = Dictionary(units.map { ($0.id, $0.index) }, uniquingKeysWith: { a, _ in a })
        self.categoryByCode = Dictionary(categories.map { ($0.code, $0.index) }, uniquingKeysWith: { a, _ in a })
        self.regionByPath = Dictionary(regions.map { ($0.path, $0.index) }, uniquingKeysWith: { a, _ in a })
        self.regionByCode = Dictionary(
            regions.compactMap { r in r.code.map { ($0, r.index) } }, uniquingKeysWith: { a, _ in a })
        self.relativeTables = relativeTables
        var prefixes: [String] = []
        if let province { prefixes += Self.spellings(name: province, aliases: []) }
        if let root = regions.first { prefixes += Self.spellings(name: root.name, aliases: root.aliases) }
        self.rootPrefixes = Array(Set(prefixes)).sorted { ($0.count, $0) > ($1.count, $1) }
        self.index = RouteIndex(routes: routes, categories: categories, regions: regions)
        self.childByName = regions.map { r in
            var names: [String: Int] = [:]
            for c in r.children {
                for alias in regions[c].aliases where names[alias] == nil { names[alias] = c }
                names[regions[c].name] = c
            }
            return names
        }
        self.chains = units.map { u in
            var chain: [Unit] = [u]
            var seen: Set<Int> = [u.index]
            while let p = chain[chain.count - 1].parent, seen.insert(p).inserted { chain.append(units[p]) }
            return chain
        }
    }

    public func unit(id: String) -> Unit? { unitByID[id].map { units[$0] } }
    public func category(code: String) -> Category? { categoryByCode[code].map { categories[$0] } }
    public func isKnownCategory(_ code: String) -> Bool { categoryByCode[code] != nil }

    /// The units a ticket held by `unit` would climb to, the unit itself first, ending at the city level.
    public func escalationChain(from unit: Int) -> [Unit] { chains[unit] }

    /// Whether `ancestor` is `node` or one of its ancestors in the region tree.
    @inline(__always) func region(_ node: Int, isWithin ancestor: Int) -> Bool {
        var n: Int? = node
        while let cur = n {
            if cur == ancestor { return true }
            n = regions[cur].parent
        }
        return false
    }

    /// Whether category `node` lies in the subtree of `ancestor`.
    @inline(__always) func category(_ node: Int, isWithin ancestor: Int) -> Bool {
        var n: Int? = node
        while let cur = n {
            if cur == ancestor { return true }
            n = categories[cur].parent
        }
        return false
    }
}
