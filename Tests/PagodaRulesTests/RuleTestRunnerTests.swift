import Foundation
import PagodaJSON
import Testing

@testable import PagodaRules

/// `pagoda test`'s runner: the decision fields a case may check, and test files that do not parse.
@Suite struct RuleTestRunnerTests {
    static let header = """
        defaults:
          ticket: {channel: hotline, kind: complaint, received_at: "2030-03-04T09:00:00+08:00"}
        cases:

        """

    /// A case's ticket may take another's fields through a YAML merge key.
    @Test func aTicketMayMergeAnother() throws {
        let rules = try Fixtures.baseRuleSet
        let file = RuleFile(
            path: "tests/t.yaml",
            text: Self.header + """
                  - ticket: &water {category: environment.water, region: {district: 东区, town: 东一镇}, text: 河涌发臭}
                    want: {unit: east.e1}
                  - ticket: {<<: *water, region: {district: 西区, town: 西一镇}}
                    want: {unit: west.w1}
                """)
        let report = RuleTestRunner(ruleSet: rules).run([file])
        #expect(report.diagnostics.isEmpty, "\(report.diagnostics)")
        #expect(report.cases.count == 2 && report.failed == 0, "\(report.cases.map(\.failures))")
    }

    @Test func wantChecksPriorityEscalationPolicyCoHandlersAndWarnings() throws {
        let rules = try Fixtures.baseRuleSet
        let ticket = try Fixtures.ticket([
            "received_at": .string("2030-03-04T09:00:00+08:00"), "category": .string("environment.water"),
            "text": .string("河涌发臭"),
            "region": .object(JSONObject([("district", .string("东区")), ("town", .string("东一镇"))])),
        ])
        let d = rules.route(ticket)
        #expect(!d.warnings.isEmpty, "2030 has no holiday data in the base calendar")
        #expect(!d.coHandlers.isEmpty)
        func quoted(_ items: [String]) -> String { "[" + items.map { "\"\($0)\"" }.joined(separator: ", ") + "]" }
        let ticketYAML = "{category: environment.water, region: {district: 东区, town: 东一镇}, text: 河涌发臭}"
        let right =
            "{priority: \"\(d.priority)\", escalation_policy: \(d.escalationPolicy), "
            + "co_handlers: \(quoted(d.coHandlers.map(\.id))), warnings: \(quoted(d.warnings))}"
        let file = RuleFile(
            path: "tests/t.yaml",
            text: Self.header + """
                  - note: all four right
                    ticket: \(ticketYAML)
                    want: \(right)
                  - note: all four wrong
                    ticket: \(ticketYAML)
                    want: {priority: "99", escalation_policy: nope, co_handlers: [], warnings: []}
                """)
        let report = RuleTestRunner(ruleSet: rules).run([file])
        #expect(report.diagnostics.isEmpty, "\(report.diagnostics)")
        #expect(report.cases.count == 2)
        #expect(report.cases[0].passed, "\(report.cases[0].failures)")
        let failures = report.cases[1].failures
        #expect(failures.map(\.field) == ["co_handlers", "priority", "escalation_policy", "warnings"])
        #expect(failures.first { $0.field == "priority" }?.actual == String(d.priority))
        #expect(failures.first { $0.field == "escalation_policy" }?.actual == d.escalationPolicy)
        #expect(report.failed == 1)
    }

    @Test func aTestFileThatDoesNotParseFailsTheRunWithItsPosition() throws {
        let rules = try Fixtures.baseRuleSet
        let good = RuleFile(
            path: "tests/a.yaml",
            text: Self.header + """
                  - ticket: {kind: consultation, text: 请问}
                    want: {rule: consult}
                """)
        let broken = RuleFile(
            path: "tests/b.yaml",
            text: Self.header + """
                  - ticket: {kind: consultation, text: 请问
                    want: {rule: consult}
                """)
        let report = RuleTestRunner(ruleSet: rules).run([good, broken])
        #expect(report.passed == 1)
        #expect(report.failed == 1, "the file that does not parse counts as a failure")
        let d = try #require(report.diagnostics.first)
        #expect(d.code == .yamlSyntax && d.severity == .error)
        #expect(d.location.file == "tests/b.yaml" && d.location.line == 5, "\(d)")
    }

    @Test func aTabInTheIndentationIsNamedWithTheFix() throws {
        let rules = try Fixtures.baseRuleSet
        let text = Self.header + "  - ticket: {text: x}\n\t  want: {rule: consult}\n"
        let file = RuleFile(path: "tests/t.yaml", text: text)
        let report = RuleTestRunner(ruleSet: rules).run([file])
        #expect(report.failed == 1)
        let d = try #require(report.diagnostics.first)
        #expect(d.code == .yamlSyntax)
        #expect(d.message.contains("a tab in the indentation"), "\(d)")
        #expect(d.message.contains("replace the tab with spaces"), "\(d)")
        #expect(d.location.line == 5 && d.location.column == 1, "\(d)")
    }

    @Test func indentationTabIsFoundOnTheReportedLineOrTheOneAbove() {
        let text = "a:\n  b: 1\n \tc: 2\nd: 3\n"
        #expect(YAMLReader.indentationTab(in: text, near: 3).map { [$0.line, $0.column] } == [3, 2])
        #expect(YAMLReader.indentationTab(in: text, near: 4).map { [$0.line, $0.column] } == [3, 2])
        #expect(YAMLReader.indentationTab(in: text, near: 2) == nil)
        #expect(YAMLReader.indentationTab(in: "a: \"x\ty\"\n", near: 1) == nil, "a tab in a value is not indentation")
    }
}
