import Foundation
import PagodaJSON

/// What Pagoda decided for one ticket, with its provenance.
///
/// Every decision names the rule that made it (id, file, line), the rule-set hash, and a structured
/// explanation of what matched, so a supervisor can always answer "why did this ticket go there?".
public struct Decision: Sendable {
    public enum DestinationType: String, Sendable, Hashable {
        case unit, platform, triage, emergency
    }

    public let ticketID: String
    public let type: DestinationType
    /// The handling unit; nil for an emergency hand-off.
    public let unit: Unit?
    /// Queue name below the service's prefix: `unit.<id>`, `platform`, `triage` or `emergency`.
    public let queue: String
    /// The emergency line the ticket is handed to ("110", "119", "120", "122"), or nil.
    public let emergencyLine: String?
    public let enterprise: Bool
    public let category: String?
    public let urgency: Urgency
    public let rule: RuleReference
    public let slaProfile: String?
    public let deadlines: [Deadline]
    public let coHandlers: [Unit]
    /// The units the ticket would climb to when nobody acts, the holding unit first.
    public let escalationChain: [Unit]
    public let escalationPolicy: String
    public let priority: Int
    public let rulesHash: String
    /// The ticket's region as resolved (its path), or nil when it named none or could not be resolved.
    public let region: String?
    public let explanation: [Explanation]
    /// Warnings about the decision itself (`calendar_gap: ...`).
    public let warnings: [String]
    /// The ticket's optional fields that were malformed and routed without (`Ticket.warnings`).
    public let ticketWarnings: [ValidationIssue]
    /// When the ticket goes to supervision (督办) early if still open (`supervise_at`), or nil.
    public var superviseAt: Date? = nil

    /// One clock's deadline and its yellow-light time.
    public struct Deadline: Sendable, Hashable {
        public let clock: Clock
        public let due: Date
        public let warnAt: Date
    }

    /// The deadline of one clock, if the profile runs it.
    public func deadline(_ clock: Clock) -> Date? { deadlines.first { $0.clock == clock }?.due }

    /// The decision without what only a reader of it needs: its explanation, decision warnings, co-handlers and
    /// escalation chain. Starting a ticket's lifecycle needs none of them; a simulation, which routes on
    /// one thread and dispatches on another, passes this on so that the rest is freed where it was made.
    /// The ticket's warnings stay: the `ticket.dispatched` event carries them (`ticket_warnings`).
    public func trimmed() -> Decision {
        var d = Decision(
            ticketID: ticketID, type: type, unit: unit, queue: queue, emergencyLine: emergencyLine,
            enterprise: enterprise,
            category: category, urgency: urgency, rule: rule, slaProfile: slaProfile, deadlines: deadlines,
            coHandlers: [],
            escalationChain: [], escalationPolicy: escalationPolicy, priority: priority, rulesHash: rulesHash,
            region: region,
            explanation: [], warnings: [], ticketWarnings: ticketWarnings)
        d.superviseAt = superviseAt
        return d
    }
}

/// One step of a decision's explanation; rendered to text only when shown.
public enum Explanation: Sendable, Hashable, CustomStringConvertible {
    case emergency(rule: String, line: String, phrases: [String])
    case intakeEmergencyWithoutRule
    case categoryFromIntake(String)
    case categorySet(rule: String, category: String, phrases: [String], overriding: String?)
    case urgencyRaised(rule: String, to: Urgency, phrases: [String])
    /// Several classify rules could set the category: the one that did, the others, and why.
    case classifyCompetitors(winner: String, others: [String], why: String)
    case regionResolved(String)
    case regionUnresolved(String)
    /// Resolved at a region above what the ticket named (the path), because a part below was not found.
    case regionPartial(String, String)
    case regionAbsent
    case fieldLeftOut(ValidationIssue)
    case matched(route: String, conditions: [MatchedCondition])
    case relative(level: Level, function: String, resolved: String)
    case noRouteMatched
    case slaChosen(profile: String, because: String)
    /// A rule of the policies section chose what it names (escalation, co-handlers, early supervision).
    case policyApplied(rule: String, what: [String])
    case nearMiss(route: String, failed: [String])

    public var description: String {
        switch self {
        case .emergency(let rule, let line, let phrases):
            "emergency rule \(rule) matched \(phrases.joined(separator: ", ")): handed off to \(line)"
        case .intakeEmergencyWithoutRule:
            "intake marked the ticket an emergency but no emergency rule matched: routed with urgency emergency"
        case .categoryFromIntake(let c): "category \(c) as given by intake"
        case .categorySet(let rule, let category, let phrases, let overriding):
            "category \(category) set by \(rule) (matched \(phrases.joined(separator: ", ")))"
                + (overriding.map { ", replacing intake's \($0)" } ?? "")
        case .urgencyRaised(let rule, let to, let phrases):
            "urgency raised to \(to.rawValue) by \(rule) (matched \(phrases.joined(separator: ", ")))"
        case .classifyCompetitors(let winner, let others, let why):
            "category rules that also matched: \(others.joined(separator: ", ")); \(winner) won (\(why))"
        case .regionResolved(let path): "region \(path)"
        case .regionUnresolved(let why): "region not resolved: \(why)"
        case .regionPartial(let path, let why): "region \(path), the deepest level known: \(why)"
        case .regionAbsent: "the ticket names no region"
        case .fieldLeftOut(let issue): "\(issue.message) [\(issue.code.rawValue)]: routed without \(issue.path)"
        case .matched(let route, let conditions):
            "route \(route) matched"
                + (conditions.isEmpty
                    ? " (no conditions)" : ": " + conditions.map(\.description).joined(separator: "; "))
        case .relative(let level, let function, let resolved):
            "the \(function) unit at \(level) level of the ticket's region is \(resolved)"
        case .noRouteMatched: "no route matched: manual triage at the hotline centre"
        case .slaChosen(let profile, let because): "time limits: profile \(profile) (\(because))"
        case .policyApplied(let rule, let what): "policy \(rule): \(what.joined(separator: ", "))"
        case .nearMiss(let route, let failed): "route \(route) did not match: \(failed.joined(separator: "; "))"
        }
    }
}

/// One condition of a matched route, holding the rule set's own strings so that recording it allocates
/// nothing; it is rendered to text only when shown.
public enum MatchedCondition: Sendable, Hashable, CustomStringConvertible {
    case category(ticket: String, condition: String)
    case region(ticket: String, condition: String)
    case kind(String)
    case urgency(String)
    case channel(String)
    case enterprise(Bool)
    case text(phrases: [String])
    case sourceLine(String)
    case extra(field: String, value: String)

    public var description: String {
        switch self {
        case .category(let ticket, let condition): "category \(ticket) in \(condition)"
        case .region(let ticket, let condition): "region \(ticket) in \(condition)"
        case .kind(let k): "kind \(k)"
        case .urgency(let u): "urgency \(u)"
        case .channel(let c): "channel \(c)"
        case .enterprise(let e): e ? "enterprise ticket" : "not an enterprise ticket"
        case .text(let phrases): "text matched \(phrases.joined(separator: ", "))"
        case .sourceLine(let line): "source_line \(line)"
        case .extra(let field, let value): "extra \(field) \(value)"
        }
    }
}
