import ArgumentParser
import Foundation
import PagodaJSON
import PagodaRules

struct Test: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the rule set's test cases (DIR/tests/*.yaml); exit 1 on any failure, or when there is none.")

    @Argument(help: "The rule directory.")
    var directory: String = "rules"

    func run() throws {
        let ruleSet = try loadRuleSet(directory)
        let testDir = (directory.hasSuffix("/") ? String(directory.dropLast()) : directory) + "/tests"
        var files: [RuleFile] = []
        if FileManager.default.fileExists(atPath: testDir) {
            do {
                files = try RuleSetCompiler.readFiles(in: testDir)
            } catch {
                printError("pagoda: cannot read test directory '\(testDir)': \(error.localizedDescription)\n")
                throw ExitCode(2)
            }
        }
        if files.isEmpty {
            printError("pagoda: no test files in \(testDir)\n")
        }
        let report = RuleTestRunner(ruleSet: ruleSet).run(files)
        for d in report.diagnostics { print(d) }
        for c in report.cases where !c.passed {
            print("\(c.location): FAIL \(c.ticketID): \(c.note)")
            for issue in c.invalidTicket { print("    invalid ticket: \(issue)") }
            for f in c.failures { print("    \(f.field): expected \(f.expected), got \(f.actual)") }
        }
        if !report.unexercised.isEmpty {
            print("rules no test case exercises (\(report.unexercised.count)):")
            for r in report.unexercised { print("    \(r.id) (\(r.file):\(r.line))") }
        }
        print("\(report.passed) passed, \(report.failed) failed")
        // A gate (`pagoda check && pagoda test`) must not pass on a rule set nothing tested.
        if report.failed > 0 || report.passed == 0 { throw ExitCode.failure }
    }
}
