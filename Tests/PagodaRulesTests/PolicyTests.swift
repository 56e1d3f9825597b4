import Foundation
import PagodaJSON
import Testing

@testable import PagodaRules

/// Policies chosen like SLA (issue 22, part 3): the `policies` section, `supervise_at`, and the warning
/// for an `sla: NAME` shorthand that leaves an entry to a slower default.
@Suite struct PolicyTests {
    static let escalation = """
        escalation:
          default: {clocks: [resolve]}
          fast: {clocks: [sign, resolve]}
          green: {clocks: [resolve], max_returns: 1}

        """
    static let policies = """
        policies:
          - id: pol-urgent
            when: {urgency: [urgent, emergency]}
            escalation: fast
          - id: pol-enterprise
            when: {enterprise: true}
            escalation: green
            supervise_at: 50%
            co_handlers: [{level: district, function: environment}]
          - id: pol-water
            when: {category: [environment.water]}
            co_handlers: [{unit: city.env}, {level: district, function: environment}]

        """

    static func files(policies: String = policies, routes extra: String = "") throws -> [RuleFile] {
        var files = try Fixtures.goldenFiles(case: nil)
        files.append(RuleFile(path: "escalation.yaml", text: escalation))
        files.append(RuleFile(path: "policies.yaml", text: policies))
        if !extra.isEmpty {
            let r = files.firstIndex { $0.path == "routes.yaml" }!
            files[r] = RuleFile(path: "routes.yaml", text: files[r].text + extra)
        }
        return files.sorted { $0.path < $1.path }
    }

    func route(_ rules: RuleSet, _ fields: [String: JSONValue]) throws -> Decision {
        var all = fields
        if all["region"] == nil { all["region"] = Fixtures.region("东区", "东一镇") }
        return rules.route(try Fixtures.ticket(all))
    }

    static let enterprise: JSONValue = .object(JSONObject([("name", .string("样例市某某有限公司"))]))

    @Test func theFirstMatchingPolicyChoosesTheEscalationPolicy() throws {
        let rules = try Fixtures.compile(Self.files())
        #expect(try route(rules, ["category": .string("city")]).escalationPolicy == "default")
        #expect(
            try route(rules, ["category": .string("city"), "urgency": .string("urgent")]).escalationPolicy == "fast")
        #expect(
            try route(rules, ["category": .string("city"), "enterprise": Self.enterprise]).escalationPolicy == "green")
        // Urgent and an enterprise's: the first rule that names a policy decides.
        let both = try route(
            rules, ["category": .string("city"), "urgency": .string("urgent"), "enterprise": Self.enterprise])
        #expect(both.escalationPolicy == "fast")
        #expect(both.explanation.contains(.policyApplied(rule: "pol-urgent", what: ["escalation fast"])))
    }

    @Test func aRoutesOwnEscalationWins() throws {
        let extra = "  - {id: own, when: {kind: suggestion}, to: {unit: east}, escalation: default}\n"
        let rules = try Fixtures.compile(Self.files(routes: extra))
        let d = try route(rules, ["kind": .string("suggestion"), "urgency": .string("urgent")])
        #expect(d.rule.id == "own")
        #expect(d.escalationPolicy == "default")
    }

    @Test func everyMatchingPolicyAddsCoHandlersOnce() throws {
        let rules = try Fixtures.compile(Self.files())
        // water-town: to the town office, the route's co-handler east.env; pol-water adds city.env (and
        // east.env again, kept once); an enterprise's also pol-enterprise's east.env.
        let d = try route(rules, ["text": .string("河涌有污水"), "enterprise": Self.enterprise])
        #expect(d.rule.id == "water-town")
        #expect(d.coHandlers.map(\.id) == ["east.env", "city.env"])
        let plain = try route(rules, ["category": .string("city")])
        #expect(plain.coHandlers.isEmpty)
    }

    @Test func superviseAtIsThePointOfTheClock() throws {
        let rules = try Fixtures.compile(Self.files())
        // appeal: resolve 3wd. Received Monday 2026-03-02 09:00; due end of Thursday 03-05 (23:59:59).
        let d = try route(rules, ["category": .string("city"), "enterprise": Self.enterprise])
        let resolve = try #require(d.deadline(.resolve))
        let at = try #require(d.superviseAt)
        let received = try Fixtures.ticket([:]).receivedAt
        let expected = rules.calendar.clockDeadline(.workingDays(3), warning: .percent(50), from: received).warnAt
        #expect(at == expected)
        #expect(at > received && at < resolve)
        #expect(try route(rules, ["category": .string("city")]).superviseAt == nil)
        let json = d.json(offsetSeconds: 28_800)
        #expect(json.objectValue?["supervise_at"] != nil)
    }

    @Test func aRoutesSuperviseAtMeasuresTheNamedClock() throws {
        let extra = "  - {id: sup, when: {kind: suggestion}, to: {unit: east}, supervise_at: {clock: sign, at: 50%}}\n"
        let rules = try Fixtures.compile(Self.files(routes: extra))
        let d = try route(rules, ["kind": .string("suggestion")])
        #expect(d.rule.id == "sup")
        // appeal's sign clock is 2h of natural time: supervised an hour after receipt.
        #expect(d.superviseAt == (try Fixtures.ticket([:]).receivedAt).addingTimeInterval(3600))
        // A profile without the clock: no early supervision, and a warning says so.
        let urgent = try route(rules, ["kind": .string("suggestion"), "urgency": .string("urgent")])
        #expect(urgent.superviseAt == nil)
        #expect(urgent.warnings == ["supervise_at: profile urgent has no sign clock; no early supervision"])
    }

    @Test func policyMistakesAreReported() throws {
        let bad = """
            policies:
              - {id: pol-none, when: {enterprise: true}}
              - {id: pol-unknown, escalation: quick}
              - {id: pol-pct, supervise_at: 150%}

            """
        let errors = RuleSetCompiler.compile(try Self.files(policies: bad)).diagnostics.filter { $0.severity == .error }
        #expect(errors.map(\.code) == [.emptyCondition, .unknownPolicy, .warnThreshold], "\(errors)")
    }

    @Test func aShortSLAThatLeavesASlowerDefaultIsWarned() throws {
        var files = try Self.files(
            routes: "  - {id: quick, when: {kind: suggestion}, to: {unit: east}, sla: fast}\n"
                + "  - {id: long, when: {kind: help}, to: {unit: east}, sla: {default: fast, urgent: fast}}\n")
        let s = files.firstIndex { $0.path == "sla.yaml" }!
        files[s] = RuleFile(path: "sla.yaml", text: files[s].text + "  fast: {clocks: {resolve: 4h}}\n")
        let warnings = RuleSetCompiler.compile(files).diagnostics.filter { $0.code == .slaShorthand }
        #expect(warnings.count == 1, "\(warnings)")
        #expect(
            warnings.first?.message.contains("of route 'quick': urgent tickets take defaults.sla.urgent 'urgent'")
                == true,
            "\(warnings)")
        #expect(warnings.first?.message.contains("write 'sla: {default: fast, urgent: fast}'") == true)
        #expect(warnings.first?.severity == .warning)
    }
}
