import Foundation
import PagodaJSON
import Testing

@testable import PagodaRules

/// Broken rule sets beside the exact text `pagoda check` prints for them.
///
/// Each case under Golden/cases/NAME lays its files over Golden/base; NAME/expected.txt holds the output.
/// Run with UPDATE_GOLDEN=1 to rewrite the expected files, then review the diff.
@Suite struct GoldenDiagnosticsTests {
    static let cases: [String] = {
        let dir = Fixtures.goldenDirectory.appendingPathComponent("cases").path
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
    }()

    @Test func baseRuleSetIsClean() throws {
        let result = RuleSetCompiler.compile(try Fixtures.goldenFiles(case: nil))
        #expect(result.ruleSet != nil)
        #expect(result.diagnostics.filter { $0.code != .uncoveredCombination }.isEmpty, "\(result.diagnostics)")
    }

    @Test(arguments: cases)
    func diagnosticsMatchGolden(_ name: String) throws {
        let result = RuleSetCompiler.compile(try Fixtures.goldenFiles(case: name))
        let actual = DiagnosticRenderer.text(result.diagnostics)
        let expectedURL = Fixtures.goldenDirectory.appendingPathComponent("cases/\(name)/expected.txt")
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
            try actual.write(to: expectedURL, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: expectedURL, encoding: .utf8)
        #expect(actual == expected, "case \(name): expected\n\(expected)\ngot\n\(actual)")
        #expect(
            result.diagnostics.contains { $0.severity == .error || $0.code == .uncoveredCombination },
            "a golden case must show a problem")
    }

    @Test func diagnosticsAreSortedByPosition() throws {
        let result = RuleSetCompiler.compile(try Fixtures.goldenFiles(case: "references"))
        let locations = result.diagnostics.map(\.location)
        #expect(locations == locations.sorted())
    }
}

@Suite struct DocumentationTests {
    @Test func everyDiagnosticCodeIsDocumented() throws {
        let doc = try String(
            contentsOf: Fixtures.repositoryRoot.appendingPathComponent("docs/rules.md"), encoding: .utf8)
        for code in DiagnosticCode.allCases {
            #expect(doc.contains("| \(code.rawValue) |"), "docs/rules.md has no row for \(code.rawValue)")
        }
    }
}
