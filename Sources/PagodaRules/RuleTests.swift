import Foundation
import PagodaJSON
import Yams

/// Runs the test cases written as data beside a rule set (`tests/*.yaml`).
///
/// A case is an intake ticket (merged over the file's `defaults.ticket`) and the parts of the decision it
/// must produce. Malformed test files are reported as diagnostics with positions, like rule files.
public struct RuleTestRunner {
    public struct Failure: Sendable, Hashable {
        public let field: String
        public let expected: String
        public let actual: String
    }

    public struct CaseResult: Sendable {
        public let location: RulePosition
        public let note: String
        public let ticketID: String
        public let failures: [Failure]
        /// Set when the case's ticket is not a valid intake ticket.
        public let invalidTicket: [String]
        public var passed: Bool { failures.isEmpty && invalidTicket.isEmpty }
    }

    public struct Report: Sendable {
        public let cases: [CaseResult]
        public let diagnostics: [Diagnostic]
        /// Route, classify and emergency rule ids no case exercised, in rule-set order.
        public let unexercised: [RuleReference]
        public var passed: Int { cases.count { $0.passed } }
        public var failed: Int { cases.count { !$0.passed } + diagnostics.count { $0.severity == .error } }
    }

    public let ruleSet: RuleSet

    public init(ruleSet: RuleSet) { self.ruleSet = ruleSet }

    static let wantKeys = [
        "rule", "type", "unit", "level", "emergency", "category", "urgency", "enterprise", "sla",
        "co_handlers", "escalation_chain", "deadlines", "queue", "priority", "escalation_policy",
        "warnings",
    ]

    /// The valid tickets of the test cases in `files` (with each file's defaults applied), e.g. as a
    /// benchmark's sample of realistic traffic. Malformed files and invalid tickets are skipped.
    public func tickets(_ files: [RuleFile]) -> [Ticket] {
        var out: [Ticket] = []
        for file in files {
            var r = YAMLReader(file: file.path)
            guard let root = r.compose(file), case .mapping(let top) = root else { continue }
            var defaults = JSONObject([])
            var cases: [Node] = []
            for (k, v) in top {
                if k.scalar?.string == "defaults", case .mapping(let d) = v {
                    for (dk, dv) in d where dk.scalar?.string == "ticket" {
                        if case .object(let o)? = Self.json(dv, &r) { defaults = o }
                    }
                }
                if k.scalar?.string == "cases", case .sequence(let seq) = v { cases = Array(seq) }
            }
            for (n, node) in cases.enumerated() {
                guard case .mapping(let c) = node else { continue }
                var object = defaults
                for (k, v) in c where k.scalar?.string == "ticket" {
                    if case .object(let o)? = Self.json(v, &r) { for key in o.keys { object.set(key, o[key]!) } }
                }
                if object["id"] == nil { object.set("id", .string("\(Self.stem(file))-\(n + 1)")) }
                if case .success(let t) = TicketContract.validate(
                    .object(object), isKnownCategory: ruleSet.isKnownCategory)
                {
                    out.append(t)
                }
            }
        }
        return out
    }

    /// A test file's name without directory or extension: the prefix of its cases' default ticket ids.
    static func stem(_ file: RuleFile) -> String {
        ((file.path as NSString).lastPathComponent as NSString).deletingPathExtension
    }

    public func run(_ files: [RuleFile]) -> Report {
        var results: [CaseResult] = []
        var diagnostics = DiagnosticBag()
        var exercised: Set<String> = []
        for file in files {
            var r = YAMLReader(file: file.path)
            defer { diagnostics.append(contentsOf: r.diagnostics) }
            guard let root = r.compose(file),
                let top = r.mapping(root, what: "a test file", allowed: ["defaults", "cases"], required: ["cases"])
            else { continue }
            var defaults = JSONObject([])
            if let d = top["defaults"], let de = r.mapping(d, what: "defaults", allowed: ["ticket"]),
                let t = de["ticket"]
            {
                if case .object(let o)? = Self.json(t, &r) { defaults = o }
            }
            guard let cases = top["cases"].flatMap({ r.sequence($0, what: "cases") }) else { continue }
            let stem = Self.stem(file)
            for (n, node) in cases.enumerated() {
                guard
                    let c = r.mapping(
                        node, what: "a test case", allowed: ["note", "ticket", "want"], required: ["ticket", "want"])
                else { continue }
                let note = c["note"].flatMap { r.string($0, what: "note") } ?? "case \(n + 1)"
                var ticketObject = defaults
                if let t = c["ticket"], case .object(let o)? = Self.json(t, &r) {
                    for key in o.keys { ticketObject.set(key, o[key]!) }
                }
                if ticketObject["id"] == nil { ticketObject.set("id", .string("\(stem)-\(n + 1)")) }
                let ticketID = ticketObject["id"].flatMap { if case .string(let s) = $0 { s } else { nil } } ?? "?"
                guard let wantNode = c["want"], let want = r.mapping(wantNode, what: "want", allowed: Self.wantKeys)
                else { continue }
                let location = r.location(node)
                switch TicketContract.validate(.object(ticketObject), isKnownCategory: ruleSet.isKnownCategory) {
                case .failure(let error):
                    results.append(
                        CaseResult(
                            location: location, note: note, ticketID: ticketID, failures: [],
                            invalidTicket: error.issues.map(\.description)))
                case .success(let ticket):
                    let decision = ruleSet.route(ticket)
                    exercised.insert(decision.rule.id)
                    for e in decision.explanation {
                        switch e {
                        case .categorySet(let rule, _, _, _), .urgencyRaised(let rule, _, _),
                            .emergency(let rule, _, _):
                            exercised.insert(rule)
                        default: break
                        }
                    }
                    let failures = compare(want, decision, &r)
                    results.append(
                        CaseResult(
                            location: location, note: note, ticketID: ticketID, failures: failures, invalidTicket: []))
                }
            }
        }
        let all =
            ruleSet.emergencyRules.map(\.reference) + ruleSet.classifyRules.map(\.reference)
            + ruleSet.routes.map(\.reference)
        return Report(
            cases: results, diagnostics: diagnostics.sorted(), unexercised: all.filter { !exercised.contains($0.id) })
    }

    private func compare(_ want: Entries, _ d: Decision, _ r: inout YAMLReader) -> [Failure] {
        var failures: [Failure] = []
        let offset = ruleSet.calendar.utcOffsetSeconds(at: d.deadlines.first?.due ?? Date(timeIntervalSince1970: 0))
        func check(_ key: String, _ actual: String?) {
            guard let node = want[key], let expected = r.string(node, what: key) else { return }
            let a = actual ?? "null"
            if expected != a { failures.append(Failure(field: key, expected: expected, actual: a)) }
        }
        func checkList(_ key: String, _ actual: [String]) {
            guard let node = want[key], let items = r.stringList(node, what: key) else { return }
            let expected = items.map(\.value)
            if expected != actual {
                failures.append(
                    Failure(
                        field: key, expected: "[\(expected.joined(separator: ", "))]",
                        actual: "[\(actual.joined(separator: ", "))]"))
            }
        }
        check("rule", d.rule.id)
        check("type", d.type.rawValue)
        check("unit", d.unit?.id)
        check("level", d.unit?.level.name)
        check("emergency", d.emergencyLine)
        check("category", d.category)
        check("urgency", d.urgency.rawValue)
        check("enterprise", d.enterprise ? "true" : "false")
        check("sla", d.slaProfile)
        check("queue", d.queue)
        checkList("co_handlers", d.coHandlers.map(\.id))
        checkList("escalation_chain", d.escalationChain.map(\.id))
        check("priority", String(d.priority))
        check("escalation_policy", d.escalationPolicy)
        checkList("warnings", d.warnings)
        if let node = want["deadlines"],
            let entries = r.mapping(node, what: "deadlines", allowed: Clock.allCases.map(\.deadlineKey))
        {
            for clock in Clock.allCases {
                guard let n = entries[clock.deadlineKey], let text = r.string(n, what: clock.deadlineKey) else {
                    continue
                }
                guard let expected = RFC3339.parse(text) else {
                    r.diagnostics.error(
                        .testCase, "\(clock.deadlineKey) must be an RFC 3339 time with an offset, got '\(text)'",
                        at: r.location(n))
                    continue
                }
                let actual = d.deadline(clock)
                if actual != expected.date {
                    failures.append(
                        Failure(
                            field: "deadlines.\(clock.deadlineKey)", expected: text,
                            actual: actual.map { RFC3339.format($0, offsetSeconds: offset) } ?? "none"))
                }
            }
        }
        return failures
    }

    /// A YAML node as JSON: mappings to objects, lists to arrays, scalars to strings (`null`/`~` to null).
    static func json(_ node: Node, _ r: inout YAMLReader) -> JSONValue? {
        switch node {
        case .scalar(let s):
            if s.style == .plain && (s.string == "null" || s.string == "~") { return .null }
            return .string(s.string)
        case .sequence(let seq): return .array(seq.compactMap { json($0, &r) })
        case .mapping(let m):
            var pairs: [(String, JSONValue)] = []
            for (k, v) in r.pairs(m) {
                guard let key = k.scalar?.string, let value = json(v, &r) else { continue }
                pairs.append((key, value))
            }
            return .object(JSONObject(pairs))
        case .alias:
            r.diagnostics.error(.wrongType, "aliases are not supported in test cases", at: r.location(node))
            return nil
        }
    }
}
