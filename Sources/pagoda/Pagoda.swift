import ArgumentParser
import Foundation
import PagodaJSON
import PagodaRules

@main
struct Pagoda: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pagoda",
        abstract: "Dispatch for 12345 government-service hotlines: classify, route and time-limit tickets.",
        subcommands: [
            Check.self, Route.self, Test.self, Serve.self, Publish.self, Show.self, Rejected.self,
            Simulate.self, Report.self, TopologyCommand.self, MigrateQueues.self, Migrate.self, Regions.self,
            Bench.self,
            User.self,
        ])
}

/// Options shared by the commands that read a rule set.
struct RulesOption: ParsableArguments {
    @Option(name: .long, help: "The rule directory.")
    var rules: String = "rules"
}

/// Writes to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
}

/// Loads and compiles a rule directory, printing its errors (and warnings unless `quietWarnings`; `today`
/// adds the calendar-coverage warning); throws ExitCode(1) on errors.
func loadRuleSet(_ directory: String, quietWarnings: Bool = true, today: Date? = nil) throws -> RuleSet {
    let files: [RuleFile]
    do {
        files = try RuleSetCompiler.readFiles(in: directory)
    } catch {
        printError("pagoda: cannot read rule directory '\(directory)': \(error.localizedDescription)\n")
        throw ExitCode(2)
    }
    let result = RuleSetCompiler.compile(files, today: today)
    guard let ruleSet = result.ruleSet else {
        printError(DiagnosticRenderer.text(result.diagnostics.filter { $0.severity == .error }))
        throw ExitCode.failure
    }
    if !quietWarnings, !result.diagnostics.isEmpty { printError(DiagnosticRenderer.text(result.diagnostics)) }
    return ruleSet
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a rule directory; diagnostics go to stderr (or JSON to stdout). Exit 1 on any error.")

    @Argument(help: "The rule directory.")
    var directory: String = "rules"

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    @Option(help: "Print at most this many diagnostics (text format).")
    var maxDiagnostics: Int = 200

    enum OutputFormat: String, ExpressibleByArgument { case text, json }

    func run() throws {
        let files: [RuleFile]
        do {
            files = try RuleSetCompiler.readFiles(in: directory)
        } catch {
            printError("pagoda: cannot read rule directory '\(directory)': \(error.localizedDescription)\n")
            throw ExitCode(2)
        }
        let result = RuleSetCompiler.compile(files, today: Date())
        switch format {
        case .text:
            printError(DiagnosticRenderer.text(result.diagnostics, limit: maxDiagnostics))
            if let rs = result.ruleSet {
                print(
                    "\(directory): \(rs.routes.count) routes, \(rs.units.count) units, \(rs.regions.count) regions, rules \(rs.hash.prefix(12))"
                )
            }
        case .json:
            print(DiagnosticRenderer.json(result.diagnostics), terminator: "")
        }
        if result.ruleSet == nil { throw ExitCode.failure }
    }
}
