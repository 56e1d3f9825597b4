import Foundation

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
    public let location: RulePosition
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
public struct TextCondition: Sendable, Hashable {
    public let any: [Int32]
    public let all: [Int32]
    public let none: [Int32]

    /// Whether the condition holds for a ticket whose matched phrase ids are `found` (sorted, distinct).
    @inline(__always) public func holds(_ found: [Int32]) -> Bool {
        if !any.isEmpty && !any.contains(where: { Self.contains(found, $0) }) { return false }
        for p in all where !Self.contains(found, p) { return false }
        for p in none where Self.contains(found, p) { return false }
        return true
    }

    @inline(__always) static func contains(_ sorted: [Int32], _ value: Int32) -> Bool {
        var lo = 0, hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid] < value { lo = mid + 1 } else { hi = mid }
        }
        return lo < sorted.count && sorted[lo] == value
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
}

public struct ClassifyRule: Sendable, Hashable {
    public let reference: RuleReference
    public let text: TextCondition
    public let kinds: Set<TicketKind>
    public let channels: Set<Channel>
    public let setCategory: Int?
    public let setUrgency: Urgency?
    public let override: Bool
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

    let phrases: [String]
    let matcher: PhraseMatcher
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

    init(regions: [Region], units: [Unit], categories: [Category], profiles: [String: SLAProfile],
         policies: [String: EscalationPolicy], emergencyRules: [EmergencyRule], classifyRules: [ClassifyRule],
         routes: [Route], calendar: BusinessCalendar, platformUnit: Int?, triageUnit: Int, supervisionUnit: Int?,
         defaultSLA: [SLACase: String], triageSLA: String, defaultPriority: Int, hash: String, fallbackRule: RuleReference,
         phrases: [String], relativeTables: [[Int32]]) {
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
        self.matcher = PhraseMatcher(phrases: phrases)
        self.unitByID = Dictionary(units.map { ($0.id, $0.index) }, uniquingKeysWith: { a, _ in a })
        self.categoryByCode = Dictionary(categories.map { ($0.code, $0.index) }, uniquingKeysWith: { a, _ in a })
        self.regionByPath = Dictionary(regions.map { ($0.path, $0.index) }, uniquingKeysWith: { a, _ in a })
        self.regionByCode = Dictionary(regions.compactMap { r in r.code.map { ($0, r.index) } }, uniquingKeysWith: { a, _ in a })
        self.relativeTables = relativeTables
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
