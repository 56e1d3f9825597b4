import Foundation
import PagodaJSON
import Testing

@testable import PagodaRules

/// Unit templates (`each: LEVEL` in `units`): one unit per region of a level, first-class everywhere a
/// unit declared on its own is.
@Suite struct UnitTemplateTests {
    static let regions = """
        regions:
          name: 样例市
          code: "990100"
          districts:
            - name: 东区
              code: "990101"
              towns:
                - name: 东一镇
                  code: "990101001"
                  villages: [{name: 东一村, code: "990101001001"}, {name: 东二村, code: "990101001002"}]
                - name: 东二街道
                  code: "990101002"
                  villages: [{name: 东三村, code: "990101002001"}]
                - name: 东三镇
                  code: "990101003"
                  villages: [{name: 东四村, code: "990101003001"}]
            - name: 西区
              code: "990102"
              towns:
                - name: 西一镇
                  code: "990102001"
                  villages: [{name: 西一村, code: "990102001001"}]

        """
    static let templates = [
        "{each: village, id: \"v{code}\", name: \"{town}{name}村民委员会\", function: general}",
        "{each: town, id: \"t{code}\", name: \"{district}{name}人民政府\", function: general}",
    ]
    static let routes = """
        routes:
          - id: lamp-fixed
            when: {text: {any: [东二村路灯]}}
            to: {unit: v990101001002}
          - id: lamp
            when: {text: {any: [路灯]}}
            to: {level: village, function: general}

        """

    /// The golden base with the regions above, `units` appended to its units and `routes` before its own.
    static func files(units: [String] = templates, routes: String = routes) throws -> [RuleFile] {
        var files = try Fixtures.goldenFiles(case: nil)
        let r = files.firstIndex { $0.path == "regions.yaml" }!
        files[r] = RuleFile(path: "regions.yaml", text: regions)
        let u = files.firstIndex { $0.path == "units.yaml" }!
        files[u] = RuleFile(path: "units.yaml", text: files[u].text + units.map { "  - \($0)\n" }.joined())
        let ro = files.firstIndex { $0.path == "routes.yaml" }!
        files[ro] = RuleFile(
            path: "routes.yaml",
            text: files[ro].text.replacingOccurrences(of: "routes:\n", with: routes))
        return files
    }

    static func ticket(_ text: String, _ district: String, _ town: String, _ village: String?) throws -> Ticket {
        try Fixtures.ticket(["text": .string(text), "region": Fixtures.region(district, town, village)])
    }

    @Test func aTemplateGivesAUnitToEveryRegionOfItsLevelWithoutOne() throws {
        let rules = try Fixtures.compile(Self.files())
        let templated = rules.units.filter(\.fromTemplate)
        // 东一村 has its committee east.e1.v1 in the base; every town but 东三镇 has its office.
        #expect(
            templated.map(\.id).sorted() == [
                "t990101003", "v990101001002", "v990101002001", "v990101003001", "v990102001001",
            ])
        let v = try #require(templated.first { $0.id == "v990101001002" })
        #expect(v.name == "东一镇东二村村民委员会")
        #expect(v.level == .village && v.function == "general" && v.queue == "unit.v990101001002")
        #expect(rules.regions[v.region].path == "东区/东一镇/东二村")
        #expect(try #require(templated.first { $0.id == "t990101003" }).name == "东区东三镇人民政府")
        #expect(!rules.units.contains { $0.id.hasPrefix("v990101001001") }, "东一村 keeps its own unit")
        // Where it is defined: the template's id pattern in units.yaml.
        #expect(v.location.file == "units.yaml")
    }

    /// A template may take another's keys through a YAML merge key, `each` included.
    @Test func aTemplateMayMergeAnother() throws {
        let units = [
            "&villages " + Self.templates[0], Self.templates[1],
            "{<<: *villages, id: \"w{code}\", name: \"{name}水务站\", function: water}",
        ]
        let rules = try Fixtures.compile(Self.files(units: units))
        let water = try #require(rules.units.first { $0.id == "w990101001002" })
        #expect(water.fromTemplate && water.level == .village && water.function == "water" && water.name == "东二村水务站")
    }

    @Test func routesReachTemplatedUnitsByIdAndByLevel() throws {
        let rules = try Fixtures.compile(Self.files())
        let fixed = rules.route(try Self.ticket("东二村路灯不亮", "东区", "东二街道", "东三村"))
        #expect(fixed.rule.id == "lamp-fixed" && fixed.unit?.id == "v990101001002")
        let relative = rules.route(try Self.ticket("路灯不亮", "西区", "西一镇", "西一村"))
        #expect(relative.rule.id == "lamp" && relative.unit?.id == "v990102001001")
        // A ticket that stops at the town resolves there: 东三镇's office comes from the town template.
        let town = rules.route(try Self.ticket("路灯不亮", "东区", "东三镇", nil))
        #expect(town.unit?.id == "t990101003")
    }

    @Test func aTemplatedVillageUnitEscalatesToItsTownsUnit() throws {
        let rules = try Fixtures.compile(Self.files())
        let d = rules.route(try Self.ticket("路灯不亮", "东区", "东三镇", "东四村"))
        #expect(d.unit?.id == "v990101003001")
        // Up the pagoda: the town's templated office, the district government, the city.
        #expect(d.escalationChain.map(\.id) == ["v990101003001", "t990101003", "east", "city.general"])
        let e = rules.route(try Self.ticket("路灯不亮", "东区", "东一镇", "东二村"))
        #expect(e.escalationChain.map(\.id) == ["v990101001002", "east.e1", "east", "city.general"])
    }

    @Test func pagodaTestSeesTemplatedUnits() throws {
        let rules = try Fixtures.compile(Self.files())
        let file = RuleFile(
            path: "tests/t.yaml",
            text: """
                defaults:
                  ticket: {channel: hotline, kind: complaint, received_at: "2026-03-02T09:00:00+08:00"}
                cases:
                  - ticket: {region: {district: 东区, town: 东三镇, village: 东四村}, text: 路灯坏了}
                    want: {rule: lamp, unit: v990101003001, level: village,
                           escalation_chain: [v990101003001, t990101003, east, city.general]}
                """)
        let report = RuleTestRunner(ruleSet: rules).run([file])
        #expect(report.diagnostics.isEmpty, "\(report.diagnostics)")
        #expect(report.passed == 1, "\(report.cases.map(\.failures))")
    }

    @Test func anExplicitUnitWithTheTemplatesIdForItsRegionReplacesIt() throws {
        let own = "{id: v990102001001, name: 西一村委会, level: village, region: 西区/西一镇/西一村, function: general}"
        let rules = try Fixtures.compile(Self.files(units: [own] + Self.templates))
        let units = rules.units.filter { $0.id == "v990102001001" }
        #expect(units.count == 1)
        #expect(units.first?.name == "西一村委会" && units.first?.fromTemplate == false)
        // Another id for the same region and function also stands in for the template's unit there.
        let other = "{id: west.w1.v1, name: 西一村委会, level: village, region: 西区/西一镇/西一村, function: general}"
        let rules2 = try Fixtures.compile(Self.files(units: [other] + Self.templates))
        #expect(!rules2.units.contains { $0.id == "v990102001001" })
        #expect(rules2.route(try Self.ticket("路灯不亮", "西区", "西一镇", "西一村")).unit?.id == "west.w1.v1")
    }

    @Test func anExplicitParentMayNameATemplatedUnit() throws {
        let own =
            "{id: east.e3.water, name: 东三镇水务所, level: village, region: 东区/东三镇/东四村, function: water, "
            + "parent: t990101003}"
        let rules = try Fixtures.compile(Self.files(units: Self.templates + [own]))
        let unit = try #require(rules.units.first { $0.id == "east.e3.water" })
        #expect(unit.parent.map { rules.units[$0].id } == "t990101003")
    }

    static func errors(_ files: [RuleFile]) -> [Diagnostic] {
        RuleSetCompiler.compile(files).diagnostics.filter { $0.severity == .error }
    }

    @Test func anExplicitUnitWithATemplatesIdForAnotherRegionIsAnErrorAtIt() throws {
        let wrong = "{id: v990102001001, name: 错村委会, level: village, region: 东区/东一镇/东二村, function: general}"
        let errors = Self.errors(try Self.files(units: [wrong] + Self.templates, routes: "routes:\n"))
        #expect(errors.count == 1, "\(errors)")
        let e = try #require(errors.first)
        #expect(e.code == .duplicateId)
        #expect(e.message.hasPrefix("unit id 'v990102001001' is the id the village template at units.yaml:14:"))
        #expect(e.message.contains("gives '西区/西一镇/西一村'"))
        #expect(e.location.file == "units.yaml" && e.location.line == 13, "at the explicit unit: \(e)")
    }

    @Test func twoTemplatesOfOneLevelAndFunctionAreAnError() throws {
        let again = "{each: village, id: \"vc{code}\", name: \"{name}村委会\", function: general}"
        let errors = Self.errors(try Self.files(units: Self.templates + [again]))
        #expect(errors.map(\.code) == [.duplicateId], "\(errors)")
        #expect(errors.first?.location.line == 15)
        #expect(
            errors.first?.message.contains("a village template of function 'general' is already given at units.yaml:13")
                == true)
    }

    @Test func aPatternNamingAnUnknownPlaceholderIsAnErrorAtThePattern() throws {
        let typo = "{each: village, id: \"v{code}\", name: \"{nmae}村民委员会\", function: general}"
        let errors = Self.errors(try Self.files(units: [typo], routes: "routes:\n"))
        #expect(errors.count == 1, "\(errors)")
        let e = try #require(errors.first)
        #expect(e.code == .invalidValue)
        #expect(
            e.message
                == "the template's name pattern '{nmae}村民委员会': unknown placeholder '{nmae}' (did you mean '{name}'?); "
                + "use {code}, {name}, {parent}, {district}, {town}, {parent_code}")
        #expect(e.location.line == 13 && e.location.column == 42, "\(e)")
    }

    @Test func anIdPatternMustTakeTheCodeAndARegionWithoutOneIsNamed() throws {
        let noCode = "{each: village, id: \"vc-{name}\", name: \"{name}村委会\", function: general}"
        let errors = Self.errors(try Self.files(units: [noCode], routes: "routes:\n"))
        #expect(errors.map(\.code) == [.invalidId], "\(errors)")
        let regions = Self.regions.replacingOccurrences(of: ", code: \"990101002001\"", with: "")
        var files = try Self.files()
        files[files.firstIndex { $0.path == "regions.yaml" }!] = RuleFile(path: "regions.yaml", text: regions)
        let missing = Self.errors(files)
        #expect(missing.map(\.code) == [.missingKey], "\(missing)")
        #expect(missing.first?.message.contains("东区/东二街道/东三村") == true)
    }

    /// A queue pattern with the parent's code gives the template's units of one town one queue; the units
    /// stay apart (ids, routes), and no other placeholder is taken there.
    @Test func aQueueWithTheParentsCodeIsSharedByTheTownsVillages() throws {
        let shared = [
            "{each: village, id: \"v{code}\", name: \"{name}村委会\", function: general, queue: \"unit.t{parent_code}.villages\"}",
            Self.templates[1],
        ]
        let rules = try Fixtures.compile(Self.files(units: shared))
        let queues = Dictionary(uniqueKeysWithValues: rules.units.filter(\.fromTemplate).map { ($0.id, $0.queue) })
        #expect(queues["v990101001002"] == "unit.t990101001.villages")
        #expect(queues["v990101002001"] == "unit.t990101002.villages")
        #expect(queues["v990102001001"] == "unit.t990102001.villages")
        let d = rules.route(try Self.ticket("路灯不亮", "西区", "西一镇", "西一村"))
        #expect(d.unit?.id == "v990102001001" && d.queue == "unit.t990102001.villages")
        // A town without a code: the error names the town, not its villages that have theirs.
        var noTownCode = try Self.files(units: shared, routes: "routes:\n")
        let i = noTownCode.firstIndex { $0.path == "regions.yaml" }!
        noTownCode[i] = RuleFile(
            path: "regions.yaml",
            text: Self.regions.replacingOccurrences(of: "          code: \"990101001\"\n", with: ""))
        let parentless = Self.errors(noTownCode)
        #expect(parentless.map(\.code) == [.missingKey], "\(parentless)")
        #expect(parentless.first?.message.contains("which 1 region(s) lack: 东区/东一镇;") == true, "\(parentless)")
        #expect(parentless.first?.location.column == 81, "at the queue: \(parentless)")

        let named = "{each: village, id: \"v{code}\", name: \"{name}\", function: general, queue: \"q.{name}\"}"
        let errors = Self.errors(try Self.files(units: [named], routes: "routes:\n"))
        #expect(errors.map(\.code) == [.invalidId], "\(errors)")
        #expect(errors.first?.message.contains("{parent_code}") == true)
        // Two units of their own still may not share a queue.
        let twice = [
            "{id: a.one, name: 甲, level: district, region: 东区, function: water, queue: unit.shared}",
            "{id: a.two, name: 乙, level: district, region: 西区, function: water, queue: unit.shared}",
        ]
        #expect(Self.errors(try Self.files(units: twice, routes: "routes:\n")).map(\.code) == [.duplicateId])
    }

    /// More than 5,000 queues is a warning at the template that makes most of them, naming the shared queue.
    @Test func moreThanFiveThousandQueuesIsAWarningAtTheTemplate() throws {
        let villages = (1...5_100).map { #"{name: 村\#($0), code: "99010100\#(String(format: "%04d", $0))"}"# }
        let regions = Self.regions.replacingOccurrences(
            of: #"villages: [{name: 东一村, code: "990101001001"}, {name: 东二村, code: "990101001002"}]"#,
            with: "villages: [{name: 东一村, code: \"990101001001\"}, " + villages.joined(separator: ", ") + "]")
        var files = try Self.files(routes: "routes:\n")
        files[files.firstIndex { $0.path == "regions.yaml" }!] = RuleFile(path: "regions.yaml", text: regions)
        let compiled = RuleSetCompiler.compile(files)
        let warning = try #require(
            compiled.diagnostics.first { $0.code == .tooManyQueues }, "\(compiled.diagnostics.prefix(5))")
        #expect(warning.severity == .warning && warning.location.file == "units.yaml")
        #expect(warning.message.contains("this template gives 5101"), "\(warning.message)")
        #expect(warning.message.contains("{parent_code}"))
        #expect(!compiled.diagnostics.contains { $0.severity == .error && $0.code == .tooManyQueues })

        let shared = Self.templates[0].replacingOccurrences(
            of: "function: general}", with: "function: general, queue: \"unit.t{parent_code}.villages\"}")
        files[files.firstIndex { $0.path == "units.yaml" }!] = try Self.files(
            units: [shared, Self.templates[1]], routes: "routes:\n"
        )
        .first { $0.path == "units.yaml" }!
        #expect(!RuleSetCompiler.compile(files).diagnostics.contains { $0.code == .tooManyQueues })
    }

    @Test func anUnknownUnitNearATemplatedOneIsSuggested() throws {
        let typo = "routes:\n  - {id: lamp, when: {text: {any: [路灯]}}, to: {unit: v990101001003}}\n"
        let errors = Self.errors(try Self.files(routes: typo))
        let e = try #require(errors.first { $0.code == .unknownUnit }, "\(errors)")
        #expect(e.message == "unknown unit 'v990101001003' (did you mean 'v990101001002'?)")
    }
}
