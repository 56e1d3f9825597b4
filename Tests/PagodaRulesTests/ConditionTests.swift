import Foundation
import PagodaJSON
import Testing

@testable import PagodaRules

/// Conditions a dispatcher uses (issue 22, part 4): `source_line` and extra fields, `all_of` groups, gap
/// phrases, exclusions near the match, emergency rules by kind, the choice among classify rules, and the
/// warning for phrases that look like regular expressions.
@Suite struct ConditionTests {
    static let routes = """
        emergency:
          - {id: em-fire, line: "119", kind: [help, report, complaint], text: {any: [着火], none_near: [消防检查, 演练], near: 6}}
        classify:
          - {id: cls-water, text: {any: [河涌, 污水]}, set: {category: environment.water}}
          - {id: cls-labour-line, source_line: ["12333"], set: {category: city}}
          - {id: cls-env-specific, kind: [report], text: {all: [污水], all_of: [[偷排, 直排]]}, set: {category: environment}}
        routes:
          - id: gas-dig
            when: {text: {all_of: [[燃气管, 天然气管], [挖断, 挖破]]}}
            to: {unit: city.env}
          - id: arrears
            when: {text: {any: ["拖欠…工程款", "欠…5…货款"]}}
            to: {unit: east}
          - id: by-line
            when: {source_line: ["12319"], extra: {project: [P-7, P-8]}}
            to: {unit: west}
          - id: water-town
            when: {category: environment.water}
            to: {level: town, function: general}
          - id: env
            when: {category: environment}
            to: {level: district, function: environment}
          - id: city
            when: {category: city}
            to: {level: town, function: general}

        """

    static func files(routes: String = routes, defaults: String? = nil) throws -> [RuleFile] {
        var files = try Fixtures.goldenFiles(case: nil)
        let r = files.firstIndex { $0.path == "routes.yaml" }!
        files[r] = RuleFile(path: "routes.yaml", text: routes)
        if let defaults {
            let d = files.firstIndex { $0.path == "defaults.yaml" }!
            files[d] = RuleFile(path: "defaults.yaml", text: defaults)
        }
        return files
    }

    let rules: RuleSet
    init() throws { rules = try Fixtures.compile(Self.files()) }

    func route(_ text: String, _ fields: [String: JSONValue] = [:], explain: Bool = false) throws -> Decision {
        var all = fields
        all["text"] = .string(text)
        if all["region"] == nil { all["region"] = Fixtures.region("东区", "东一镇") }
        return rules.route(try Fixtures.ticket(all), explainMisses: explain)
    }

    @Test func allOfGroupsNeedOnePhraseOfEachGroup() throws {
        #expect(try route("施工把天然气管挖破了").rule.id == "gas-dig")
        #expect(try route("燃气管被挖断").rule.id == "gas-dig")
        #expect(try route("燃气管老化漏气").rule.id == "fallback")
        #expect(try route("路面被挖破").rule.id == "fallback")
    }

    @Test func gapPhrasesMatchInOrderWithinTheGap() throws {
        #expect(try route("公司拖欠我们工程款三个月").rule.id == "arrears")  // gap of 2
        #expect(try route("拖欠了去年全部的工程款").rule.id == "arrears")  // gap of 6
        #expect(try route("拖欠农民工工资，另外还有一笔工程款").rule.id == "fallback")  // gap of 12
        #expect(try route("工程款被拖欠").rule.id == "fallback")  // out of order
        #expect(try route("欠我们货款").rule.id == "arrears")  // 欠…5…货款
        #expect(try route("欠了我们公司的货款").rule.id == "fallback")  // gap of 6 > 5
        let d = try route("公司拖欠我们工程款")
        #expect(
            d.explanation.contains(.matched(route: "arrears", conditions: [.text(phrases: ["拖欠…10…工程款"])])),
            "\(d.explanation)")
    }

    @Test func aGapPhraseDoesNotJoinTheTitleToTheText() throws {
        let d = try route("工程款", ["title": .string("拖欠")])
        #expect(d.rule.id == "fallback")
    }

    @Test func exclusionsNearTheMatchSilenceOnlyThatOccurrence() throws {
        #expect(try route("楼下着火了").type == .emergency)
        #expect(try route("小区在搞消防演练，假装着火").type != .emergency)
        // The exclusion is far from the alarm word: a real fire told after an old inspection.
        #expect(try route("上个月刚做过消防检查，结果今天楼下仓库里着火了").type == .emergency)
        // One occurrence near an exclusion, another one free of it.
        #expect(try route("消防检查说着火风险高，现在真的着火了").type == .emergency)
    }

    @Test func emergencyRulesCanBeFilteredByKind() throws {
        #expect(try route("家里着火了", ["kind": .string("help")]).type == .emergency)
        #expect(try route("着火了怎么申请补偿", ["kind": .string("consultation")]).type != .emergency)
    }

    @Test func sourceLineAndExtraFieldsMatchByExactValue() throws {
        let fields: [String: JSONValue] = ["source_line": .string("12319"), "project": .string("P-7")]
        #expect(try route("有问题", fields).rule.id == "by-line")
        #expect(try route("有问题", ["source_line": .string("12319"), "project": .string("P-9")]).rule.id == "fallback")
        #expect(try route("有问题", ["source_line": .string("12345"), "project": .string("P-7")]).rule.id == "fallback")
        #expect(try route("有问题", ["project": .string("P-7")]).rule.id == "fallback")
        let miss = try route("有问题", ["source_line": .string("12319"), "project": .number("7")], explain: true)
        #expect(
            miss.explanation.contains(.nearMiss(route: "by-line", failed: ["extra project is 7, not P-7, P-8"])),
            "\(miss.explanation)")
        // A classify rule on the line alone: tickets through 12333 are for the city route.
        #expect(try route("有问题", ["source_line": .string("12333")]).rule.id == "city")
    }

    @Test func aMalformedSourceLineIsLeftOutWithAWarning() throws {
        let t = try Fixtures.ticket(["source_line": .string("12 333")])
        #expect(t.sourceLine == nil)
        #expect(t.warnings.map(\.path) == ["source_line"])
        #expect(try Fixtures.ticket(["source_line": .string("12333")]).sourceLine == "12333")
    }

    @Test func firstMatchingClassifyRuleDecidesByDefaultAndExplainListsCompetitors() throws {
        let d = try route("有人偷排污水", ["kind": .string("report")], explain: true)
        #expect(d.category == "environment.water")
        let competition = d.explanation.compactMap { e -> (String, [String], String)? in
            if case .classifyCompetitors(let w, let o, let why) = e { (w, o, why) } else { nil }
        }
        #expect(competition.count == 1)
        #expect(competition.first?.0 == "cls-water")
        #expect(
            competition.first?.1.first?.hasPrefix("cls-env-specific (environment, 3 condition(s), routes.yaml:")
                == true,
            "\(competition)")
    }

    @Test func mostSpecificChoosesTheRuleWithMoreConditions() throws {
        let defaults = "defaults:\n  sla: {default: appeal, urgent: urgent}\n  classify_choice: most_specific\n"
        let rules = try Fixtures.compile(Self.files(defaults: defaults))
        let t = try Fixtures.ticket([
            "text": .string("有人偷排污水"), "kind": .string("report"), "region": Fixtures.region("东区"),
        ])
        let d = rules.route(t, explainMisses: true)
        #expect(d.category == "environment")
        #expect(
            d.explanation.contains {
                if case .classifyCompetitors(let w, _, let why) = $0 {
                    w == "cls-env-specific" && why.contains("most_specific")
                } else {
                    false
                }
            })
        // Only one rule matches: it decides under either choice.
        let single = rules.route(try Fixtures.ticket(["text": .string("河涌发臭"), "region": Fixtures.region("东区")]))
        #expect(single.category == "environment.water")
    }

    @Test func phrasesThatLookLikeRegularExpressionsAreWarned() throws {
        let text = Self.routes.replacingOccurrences(of: "any: [河涌, 污水]", with: "any: [河涌, \"污.*水\", \"(a+)+\", 污水]")
        let diagnostics = RuleSetCompiler.compile(try Self.files(routes: text)).diagnostics.filter {
            $0.code == .regexLikePhrase
        }
        #expect(diagnostics.count == 2, "\(diagnostics)")
        #expect(diagnostics.allSatisfy { $0.severity == .warning && $0.message.contains("matched literally") })
        #expect(RuleLoader.looksLikeRegularExpression("拖欠…工程款") == nil)
        #expect(RuleLoader.looksLikeRegularExpression("燃气泄漏") == nil)
        #expect(RuleLoader.looksLikeRegularExpression("\\d+元") != nil)
    }

    @Test func malformedConditionsAreErrors() throws {
        let bad = Self.routes
            .replacingOccurrences(of: "\"欠…5…货款\"", with: "\"欠…货…款\"")
            .replacingOccurrences(of: "source_line: [\"12319\"]", with: "source_line: [\"12 319\"]")
            .replacingOccurrences(of: "extra: {project: [P-7, P-8]}", with: "extra: {channel: web}")
        let errors = RuleSetCompiler.compile(try Self.files(routes: bad)).diagnostics.filter { $0.severity == .error }
        #expect(errors.map(\.code) == [.invalidPattern, .invalidValue, .invalidValue], "\(errors)")
    }

    /// Gap phrases, exclusions near the match and gap phrases inside both agree with a reference that
    /// tries every pair of occurrences, on random texts over a few characters (so that phrases occur often,
    /// overlap and repeat).
    @Test func gapsAndNearExclusionsAgreeWithEveryPairOfOccurrences() throws {
        let conditions: [(id: String, yaml: String, holds: ([Unicode.Scalar]) -> Bool)] = [
            (
                "guarded-gap", #"{any: ["甲乙…2…丙"], none_near: [丁], near: 1}"#,
                { t in Self.spans(gap: ("甲乙", "丙", 2), t).contains { o in !Self.near(Self.spans("丁", t), o, 1) } }
            ),
            ("gap", #"{any: ["乙…3…甲"]}"#, { t in !Self.spans(gap: ("乙", "甲", 3), t).isEmpty }),
            (
                "gap-exclusion", #"{any: [丙丙], none_near: ["甲…1…丁"], near: 2}"#,
                { t in Self.spans("丙丙", t).contains { o in !Self.near(Self.spans(gap: ("甲", "丁", 1), t), o, 2) } }
            ),
            (
                "gap-in-group", #"{all_of: [[甲丁], ["丙…0…乙"]]}"#,
                { t in !Self.spans("甲丁", t).isEmpty && !Self.spans(gap: ("丙", "乙", 0), t).isEmpty }
            ),
        ]
        let routes =
            "routes:\n"
            + conditions.map { "  - {id: \($0.id), when: {text: \($0.yaml)}, to: {unit: east}}\n" }.joined()
        let rules = try Fixtures.compile(Self.files(routes: routes))
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("甲乙丙丁戊".unicodeScalars)
        for _ in 0..<2_000 {
            var scalars = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 1...30, using: &rng) { scalars.append(alphabet.randomElement(using: &rng)!) }
            let text = String(scalars)
            let expected = conditions.first { $0.holds(Array(text.unicodeScalars)) }?.id ?? "fallback"
            let ticket = try Fixtures.ticket(["text": .string(text), "region": Fixtures.region("东区", "东一镇")])
            #expect(rules.route(ticket).rule.id == expected, "text \(text)")
        }
    }

    /// Every occurrence of `phrase` in `text`: the positions of its first and last characters.
    static func spans(_ phrase: String, _ text: [Unicode.Scalar]) -> [(start: Int, end: Int)] {
        let p = Array(phrase.unicodeScalars)
        guard text.count >= p.count else { return [] }
        return (0...(text.count - p.count)).filter { Array(text[$0..<$0 + p.count]) == p }.map {
            ($0, $0 + p.count - 1)
        }
    }

    /// Every pair of an occurrence of `first` and one of `second` that begins after it, at most `within`
    /// characters later.
    static func spans(gap: (first: String, second: String, within: Int), _ text: [Unicode.Scalar]) -> [(
        start: Int, end: Int
    )] {
        spans(gap.first, text).flatMap { a in
            spans(gap.second, text).filter { b in b.start > a.end && b.start - a.end - 1 <= gap.within }
                .map { b in (a.start, b.end) }
        }
    }

    static func near(_ exclusions: [(start: Int, end: Int)], _ o: (start: Int, end: Int), _ n: Int) -> Bool {
        exclusions.contains { e in e.start <= o.end + n && e.end >= o.start - n }
    }

    /// A gap phrase is worked out in time linear in its occurrences: a text made of thousands of both
    /// halves (millions of pairs) routes, and the nearness of a guarded phrase is still judged right.
    @Test func aTextFullOfGapHalvesRoutes() throws {
        let text = String(repeating: "拖欠工程款", count: 1_900)
        #expect(try route(text).rule.id == "arrears")
        #expect(try route(String(repeating: "工程款", count: 3_000) + "拖欠").rule.id == "fallback")
        let fire = String(repeating: "消防检查着火", count: 1_000)
        #expect(try route(fire).type != .emergency)
        #expect(try route(fire + String(repeating: "。", count: 7) + "着火").type == .emergency)
    }
}
