import Foundation
import PagodaJSON
import PagodaSynthetic
import Testing

@testable import PagodaRules

@Suite struct EngineTests {
    let rules: RuleSet

    init() throws { rules = try Fixtures.baseRuleSet }

    func route(
        _ fields: [String: JSONValue], explainMisses: Bool = false,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws -> Decision {
        rules.route(try Fixtures.ticket(fields, sourceLocation: sourceLocation), explainMisses: explainMisses)
    }

    @Test(arguments: [
        ("仓库起火了", "119"),
        ("楼道着火，浓烟", "119"),
    ])
    func emergenciesAreHandedOff(text: String, line: String) throws {
        let d = try route(["text": .string(text), "region": Fixtures.region("东区", "东一镇")])
        #expect(d.type == .emergency)
        #expect(d.emergencyLine == line)
        #expect(d.unit == nil && d.queue == "emergency")
        #expect(d.escalationChain.isEmpty)
    }

    @Test func aTrimmedDecisionKeepsWhatDispatchingReads() throws {
        let d = try route(["text": .string("河涌有污水"), "region": Fixtures.region("东区", "东一镇", "东一村")])
        #expect(!d.explanation.isEmpty && !d.coHandlers.isEmpty && !d.escalationChain.isEmpty)
        let t = d.trimmed()
        #expect(t.explanation.isEmpty && t.warnings.isEmpty && t.coHandlers.isEmpty && t.escalationChain.isEmpty)
        #expect(t.ticketID == d.ticketID && t.type == d.type && t.unit?.id == d.unit?.id && t.queue == d.queue)
        #expect(
            t.category == d.category && t.urgency == d.urgency && t.enterprise == d.enterprise && t.rule.id == d.rule.id
        )
        #expect(t.slaProfile == d.slaProfile && t.deadlines == d.deadlines && t.escalationPolicy == d.escalationPolicy)
        #expect(
            t.emergencyLine == d.emergencyLine && t.region == d.region && t.rulesHash == d.rulesHash
                && t.priority == d.priority)
    }

    @Test func exclusionsKeepNonEmergenciesInDispatch() throws {
        let d = try route(["text": .string("小区存在火灾隐患，楼道起火风险高"), "category": .string("city")])
        #expect(d.type != .emergency, "火灾隐患 excludes the fire rule even though 起火 occurs")
        #expect(d.rule.id == "city")
    }

    @Test func classificationFillsMissingCategoryOnly() throws {
        let filled = try route(["text": .string("河涌有污水"), "region": Fixtures.region("东区", "东一镇", "东一村")])
        #expect(filled.category == "environment.water")
        #expect(filled.rule.id == "water-town")
        #expect(filled.unit?.id == "east.e1")
        #expect(filled.coHandlers.map(\.id) == ["east.env"])
        let kept = try route([
            "text": .string("河涌有污水"), "category": .string("city"), "region": Fixtures.region("东区", "东一镇"),
        ])
        #expect(kept.category == "city", "intake's category stands without override")
        #expect(kept.rule.id == "city")
    }

    @Test(
        arguments: [
            // (district, town, village, code) -> expected unit for a town-level general destination
            (Optional("东区"), Optional("东一镇"), Optional("东一村"), Optional<String>.none, "east.e1"),
            ("东区", "东二街道", nil, nil, "east.e2"),
            ("东区", nil, nil, nil, "east"),  // stops at the district: the deepest level it names
            (nil, "西一镇", nil, nil, "west.w1"),  // a town without its district, unique in the city
            (nil, nil, nil, "990102", "west"),  // a code
            ("样例市东区", "东一镇", nil, nil, "east.e1"),  // the city's name in front of the district
            ("样例市", nil, nil, "990101", "east"),  // the names all found, the code below them
        ] as [(String?, String?, String?, String?, String)])
    func regionsResolveToTheDeepestNamedLevel(
        district: String?, town: String?, village: String?, code: String?, unit: String
    ) throws {
        var region: [(String, JSONValue)] = []
        if let district { region.append(("district", .string(district))) }
        if let town { region.append(("town", .string(town))) }
        if let village { region.append(("village", .string(village))) }
        if let code { region.append(("code", .string(code))) }
        let d = try route(["category": .string("city"), "region": .object(JSONObject(region))])
        #expect(d.rule.id == "city")
        #expect(d.unit?.id == unit)
    }

    @Test func noRegionResolvesRelativeDestinationsAtTheCity() throws {
        let d = try route(["category": .string("environment")])
        #expect(d.rule.id == "env")
        #expect(d.unit?.id == "city.env")
        #expect(d.region == nil)
    }

    @Test(arguments: [
        Fixtures.region("北区"),
        Fixtures.region("北区", "西一镇"),
        .object(JSONObject([("code", .string("123456"))])),
        .object(JSONObject([("district", .string("西区")), ("code", .string("990101"))])),
    ])
    func unresolvedRegionsGoToTriage(region: JSONValue) throws {
        let d = try route(["category": .string("environment"), "region": region])
        #expect(d.type == .triage)
        #expect(d.rule.id == "fallback")
        #expect(d.unit?.id == "triage")
        #expect(d.explanation.contains { if case .regionUnresolved = $0 { true } else { false } })
    }

    @Test func unmatchedTicketsGoToTriageWithNearMisses() throws {
        let d = try route(
            ["kind": .string("complaint"), "text": .string("其他问题"), "region": Fixtures.region("西区")],
            explainMisses: true)
        #expect(d.type == .triage)
        #expect(d.rule.id == "fallback")
        #expect(d.rule.file == "routes.yaml")
        let misses = d.explanation.compactMap {
            if case .nearMiss(let route, let failed) = $0 { (route, failed) } else { nil }
        }
        #expect(!misses.isEmpty)
        #expect(misses.allSatisfy { !$0.1.isEmpty })
    }

    /// An approved return that names no unit goes to the unit the rules give without the returning one;
    /// anywhere else (here the platform) means the centre's triage decides.
    @Test func aReturnIsReroutedToAUnitOrToTheCentre() throws {
        let water = try Fixtures.ticket(["text": .string("河涌有污水"), "region": Fixtures.region("东区", "东一镇")])
        let first = try #require(rules.route(water).unit?.id)
        let next = rules.rerouteUnit(water, excluding: [first])
        #expect(next != nil && next != first)
        let consultation = try Fixtures.ticket(["kind": .string("consultation"), "category": .string("environment")])
        #expect(rules.route(consultation).type == .platform)
        #expect(rules.rerouteUnit(consultation, excluding: ["east.e1"]) == nil)
    }

    @Test func consultationsAreAnsweredAtThePlatform() throws {
        let d = try route(["kind": .string("consultation"), "category": .string("environment")])
        #expect(d.type == .platform)
        #expect(d.unit?.id == "platform")
        #expect(d.queue == "platform")
        #expect(d.rule.id == "consult", "the first matching route wins over the later category route")
    }

    @Test func springFestivalDeadlines() throws {
        // Friday before the 2026 Spring Festival: 02-14 (Sat) is a make-up day, 02-15..02-23 holidays.
        let d = try route([
            "category": .string("city"), "region": Fixtures.region("东区", "东一镇"),
            "received_at": .string("2026-02-13T15:00:00+08:00"),
        ])
        #expect(d.slaProfile == "appeal")
        #expect(d.deadline(.sign).map { RFC3339.format($0, offsetSeconds: 28_800) } == "2026-02-13T17:00:00+08:00")
        #expect(d.deadline(.resolve).map { RFC3339.format($0, offsetSeconds: 28_800) } == "2026-02-25T23:59:59+08:00")
        let warn = try #require(d.deadlines.first { $0.clock == .resolve }?.warnAt)
        #expect(warn < d.deadline(.resolve)! && warn > d.deadline(.sign)!)
    }

    @Test func urgentTicketsTakeTheUrgentProfile() throws {
        let d = try route([
            "category": .string("city"), "urgency": .string("urgent"), "region": Fixtures.region("东区", "东一镇"),
        ])
        #expect(d.slaProfile == "urgent")
        #expect(d.deadline(.contact) != nil)
        #expect(d.deadline(.sign) == nil)
    }

    @Test func escalationChainClimbsThePagoda() throws {
        let village = try #require(rules.unit(id: "east.e1.v1"))
        #expect(
            rules.escalationChain(from: village.index).map(\.id) == ["east.e1.v1", "east.e1", "east", "city.general"])
        let bureau = try #require(rules.unit(id: "east.env"))
        #expect(rules.escalationChain(from: bureau.index).map(\.id) == ["east.env", "city.env"])
    }

    @Test func decisionsCarryProvenance() throws {
        let d = try route(["category": .string("city"), "region": Fixtures.region("东区", "东一镇")])
        #expect(d.rule.file == "routes.yaml")
        #expect(d.rule.line > 1)
        #expect(d.rulesHash == rules.hash)
        #expect(d.rulesHash.count == 64)
        guard case .object(let json) = d.json(offsetSeconds: 28_800) else {
            Issue.record("not an object")
            return
        }
        for key in [
            "ticket_id", "destination", "emergency", "enterprise", "category", "urgency", "rule", "sla",
            "escalation_chain", "rules_hash",
        ] {
            #expect(json[key] != nil, "missing \(key)")
        }
    }

    @Test func ordinalsFollowDeclarationOrder() {
        for (i, k) in TicketKind.allCases.enumerated() { #expect(RuleSet.ordinal(k) == i) }
        for (i, u) in Urgency.allCases.enumerated() { #expect(RuleSet.ordinal(u) == i) }
        for (i, c) in Channel.allCases.enumerated() { #expect(RuleSet.ordinal(c) == i) }
    }

    @Test func ruleSetHashChangesWithAnyEdit() throws {
        var files = try Fixtures.goldenFiles(case: nil)
        let before = try Fixtures.compile(files).hash
        files[0] = RuleFile(path: files[0].path, text: files[0].text + "\n# a comment\n")
        #expect(try Fixtures.compile(files).hash != before)
    }
}

/// The bitset index must choose exactly the route a first-match linear scan chooses.
@Suite struct RouteIndexTests {
    func naiveFirstMatch(_ rules: RuleSet, _ t: Ticket, category: Int?, region: Int?, urgency: Urgency, found: [Int32])
        -> Int?
    {
        for r in rules.routes {
            if !r.categories.isEmpty {
                guard let c = category, r.categories.contains(where: { rules.category(c, isWithin: $0) }) else {
                    continue
                }
            }
            if !r.regions.isEmpty {
                guard let g = region, r.regions.contains(where: { rules.region(g, isWithin: $0) }) else { continue }
            }
            if !r.kinds.isEmpty && !r.kinds.contains(t.kind) { continue }
            if !r.urgencies.isEmpty && !r.urgencies.contains(urgency) { continue }
            if !r.channels.isEmpty && !r.channels.contains(t.channel) { continue }
            if let e = r.enterprise, e != (t.enterprise != nil) { continue }
            if let text = r.text, !text.holds(found) { continue }
            return r.index
        }
        return nil
    }

    @Test(arguments: [100, 1_000, 10_000])
    func indexAgreesWithLinearScan(routes: Int) throws {
        let rules = try Fixtures.compile(SyntheticRules.files(routes: routes))
        var tickets = try SyntheticRules.tickets(count: 1_500, routes: routes)
        // Also tickets that match nothing: an unknown category path or another channel.
        tickets += try SyntheticRules.tickets(count: 200, routes: routes * 2, seed: 7)
        for t in tickets {
            let d = rules.route(t)
            guard case .resolved(let region) = rules.resolveRegion(t.region) else {
                Issue.record("unresolved \(t.id)")
                continue
            }
            let expected = naiveFirstMatch(
                rules, t, category: t.category.flatMap { rules.categoryByCode[$0] }, region: region,
                urgency: t.urgency ?? .normal, found: rules.matchedPhrases(t))
            #expect(d.rule.id == (expected.map { rules.routes[$0].reference.id } ?? "fallback"), "ticket \(t.id)")
        }
    }

    @Test func syntheticSetsCompileWithoutErrors() throws {
        let result = RuleSetCompiler.compile(SyntheticRules.files(routes: 10_000))
        #expect(result.ruleSet?.routes.count == 10_000)
        #expect(!result.diagnostics.contains { $0.severity == .error })
    }
}

/// The example rule set shipped in rules/ passes its own test cases and exercises every rule.
@Suite struct ExampleRuleSetTests {
    /// `route(_:trimmed: true)` is `route(_:).trimmed()`: on every test ticket of the Foshan rules (emergencies,
    /// triage, unresolved regions, every route), with and without units excluded.
    @Test func aTrimmedRouteIsTheTrimmedDecision() throws {
        let dir = Fixtures.repositoryRoot.appendingPathComponent("rules")
        let ruleSet = try #require(RuleSetCompiler.compile(try RuleSetCompiler.readFiles(in: dir.path)).ruleSet)
        let tickets = RuleTestRunner(ruleSet: ruleSet).tickets(
            try RuleSetCompiler.readFiles(in: dir.appendingPathComponent("tests").path))
        #expect(tickets.count >= 40)
        var kinds: Set<Decision.DestinationType> = []
        for ticket in tickets {
            let full = ruleSet.route(ticket)
            kinds.insert(full.type)
            for excluding in [[], Set(full.unit.map { [$0.id] } ?? [])] {
                let expected = ruleSet.route(ticket, excluding: excluding).trimmed().json(offsetSeconds: 28_800)
                let trimmed = ruleSet.route(ticket, excluding: excluding, trimmed: true)
                #expect(trimmed.json(offsetSeconds: 28_800) == expected, "\(ticket.id) excluding \(excluding)")
                #expect(
                    trimmed.explanation.isEmpty && trimmed.warnings.isEmpty && trimmed.coHandlers.isEmpty
                        && trimmed.escalationChain.isEmpty)
            }
        }
        #expect(kinds.isSuperset(of: [.unit, .emergency, .triage]), "\(kinds)")
    }

    @Test func foshanRulesPassTheirTests() throws {
        let dir = Fixtures.repositoryRoot.appendingPathComponent("rules")
        let result = RuleSetCompiler.compile(try RuleSetCompiler.readFiles(in: dir.path))
        let errors = result.diagnostics.filter { $0.severity == .error }
        #expect(errors.isEmpty, "\(errors)")
        let ruleSet = try #require(result.ruleSet)
        let report = RuleTestRunner(ruleSet: ruleSet).run(
            try RuleSetCompiler.readFiles(in: dir.appendingPathComponent("tests").path))
        #expect(report.cases.count >= 40)
        for c in report.cases where !c.passed {
            Issue.record(
                "\(c.location): \(c.note): \(c.failures.map { "\($0.field): expected \($0.expected), got \($0.actual)" }) \(c.invalidTicket)"
            )
        }
        #expect(report.diagnostics.isEmpty, "\(report.diagnostics)")
        #expect(report.unexercised.isEmpty, "unexercised: \(report.unexercised.map(\.id))")
    }

    @Test func testCaseTicketsServeAsBenchmarkTraffic() throws {
        let dir = Fixtures.repositoryRoot.appendingPathComponent("rules")
        let rules = try #require(RuleSetCompiler.compile(try RuleSetCompiler.readFiles(in: dir.path)).ruleSet)
        let files = try RuleSetCompiler.readFiles(in: dir.appendingPathComponent("tests").path)
        let runner = RuleTestRunner(ruleSet: rules)
        let tickets = runner.tickets(files)
        #expect(tickets.count == runner.run(files).cases.count, "every case's ticket is valid and taken")
        #expect(Set(tickets.map(\.id)).count == tickets.count)
    }

    @Test func aFailingCaseIsReportedWithExpectedAndActual() throws {
        let rules = try Fixtures.baseRuleSet
        let file = RuleFile(
            path: "tests/t.yaml",
            text: """
                defaults:
                  ticket: {channel: hotline, kind: complaint, received_at: "2026-03-02T09:00:00+08:00"}
                cases:
                  - note: wrong on purpose
                    ticket: {category: city, region: {district: 东区, town: 东一镇}, text: 路灯坏了}
                    want: {rule: env, unit: east.e1, deadlines: {resolve_by: "2026-03-05T23:59:59+08:00"}}
                  - note: an invalid ticket
                    ticket: {channel: fax, text: x}
                    want: {rule: env}
                  - ticket: {text: x}
                    want: {rule: consult, colour: red}
                """)
        let report = RuleTestRunner(ruleSet: rules).run([file])
        #expect(report.cases.count == 3, "a case with an unknown 'want' key still runs; the key is reported")
        #expect(report.cases[0].failures == [.init(field: "rule", expected: "env", actual: "city")])
        #expect(!report.cases[1].invalidTicket.isEmpty)
        #expect(report.diagnostics.map(\.code) == [.unknownKey])
        #expect(report.cases[2].failures.map(\.field) == ["rule"])
        #expect(report.failed == 4)
    }
}

extension EngineTests {
    // MARK: Degraded tickets

    /// The ticket as intake reads it: validated with the rule set's categories.
    func degraded(_ fields: [(String, JSONValue)]) throws -> Ticket {
        var object = JSONObject([
            ("id", .string("T-D")), ("received_at", .string("2026-03-02T09:00:00+08:00")),
            ("channel", .string("hotline")), ("kind", .string("complaint")), ("text", .string("有问题需要处理")),
        ])
        for (k, v) in fields { object.set(k, v) }
        return try TicketContract.validate(.object(object), isKnownCategory: rules.isKnownCategory).get()
    }

    func leftOut(_ d: Decision) -> [String] {
        d.explanation.compactMap { if case .fieldLeftOut(let w) = $0 { w.path } else { nil } }
    }

    @Test func anUnknownCategoryIsClassifiedFromTheText() throws {
        let village = Fixtures.region("东区", "东一镇", "东一村")
        let t = try degraded([("text", "河涌有污水"), ("category", "no_such.category"), ("region", village)])
        #expect(t.category == nil)
        let d = rules.route(t)
        #expect(d.category == "environment.water" && d.rule.id == "water-town" && d.unit?.id == "east.e1")
        #expect(d.ticketWarnings.map(\.code) == [.unknownCategory] && leftOut(d) == ["category"])
        // A malformed one too.
        let f = rules.route(try degraded([("text", "河涌有污水"), ("category", "Water!"), ("region", village)]))
        #expect(f.category == "environment.water" && f.unit?.id == "east.e1")
        #expect(f.ticketWarnings.map(\.code) == [.format])
    }

    @Test(arguments: [
        JSONValue.object(JSONObject([("code", .string("99010"))])),  // a region code of the wrong length
        .object(JSONObject([("code", .string("9901020000001"))])),
        .object(JSONObject([("code", .string("99O102"))])),
        .object(JSONObject([("district", .string(""))])),
        .object(JSONObject([("town", .number("5"))])),
        .string("东区东一镇"),  // not an object
        .object(JSONObject()),
    ])
    func anUnreadableRegionRoutesAsIfAbsent(region: JSONValue) throws {
        for category in ["environment", "city"] {
            let absent = rules.route(try degraded([("category", .string(category))]))
            let d = rules.route(try degraded([("category", .string(category)), ("region", region)]))
            #expect(d.region == nil && d.type == absent.type)
            #expect(d.unit?.id == absent.unit?.id && d.rule.id == absent.rule.id)
            #expect(d.explanation.contains { if case .regionAbsent = $0 { true } else { false } })
            #expect(d.ticketWarnings.count == 1 && d.ticketWarnings[0].path.hasPrefix("region"))
        }
    }

    @Test func aRegionKeepsItsReadableMembers() throws {
        let region = JSONObject([("district", "东区"), ("town", "东一镇"), ("code", "4406")])
        let t = try degraded([("category", "city"), ("region", .object(region))])
        #expect(t.region == RegionRef(district: "东区", town: "东一镇"))
        let d = rules.route(t)
        #expect(d.unit?.id == "east.e1" && d.ticketWarnings.map(\.path) == ["region.code"])
    }

    @Test func warningsTravelWithEveryKindOfDecision() throws {
        let bad: (String, JSONValue) = ("caller", .object(JSONObject([("phone", "138-1234-567x")])))
        let emergency = rules.route(try degraded([("text", "仓库起火了"), bad]))
        let triage = rules.route(try degraded([("text", "其他问题"), ("region", Fixtures.region("北区")), bad]))
        let unit = rules.route(try degraded([("category", "city"), ("region", Fixtures.region("东区", "东一镇")), bad]))
        #expect(emergency.type == .emergency && triage.type == .triage && unit.type == .unit)
        for d in [emergency, triage, unit] {
            #expect(d.ticketWarnings.map(\.path) == ["caller.phone"])
            // Trimming keeps them: the simulator's ticket.dispatched event carries them.
            #expect(d.trimmed().ticketWarnings == d.ticketWarnings)
            // The decision's JSON carries them as objects, beside the (string) warnings.
            let json = d.json(offsetSeconds: 28_800, explain: false)
            let w = try #require(json.objectValue?["ticket_warnings"])
            #expect(
                JSON.serializeToString(w)
                    == #"[{"path":"caller.phone","code":"format","message":"caller.phone: expected digits "#
                    + #"with an optional leading '+', spaces and hyphens, got \"********67\" (masked)"}]"#)
        }
        let trimmed = rules.route(try degraded([("text", "仓库起火了"), bad]), trimmed: true)
        #expect(trimmed.ticketWarnings.map(\.path) == ["caller.phone"])
    }
}
