// The routing benchmark (`pagoda-bench rules`): throughput and p50/p99 latency of `RuleSet.route` on a
// rule directory and on generated rule sets (`SyntheticRules`, which only benchmarks and tests use).
import ArgumentParser
import Foundation
import PagodaJSON
import PagodaRules
import PagodaSynthetic

struct BenchRules: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pagoda-bench rules",
        abstract: "Routing throughput and p50/p99 latency (decision record on) on a rule set and on generated sets.")

    @Option(help: "A rule directory to measure with its own test tickets and the sample tickets.")
    var rules: String?

    @Option(
        help: "A JSONL file of tickets to route against --rules (default: the tickets of the rule set's test cases).")
    var tickets: String?

    @Option(parsing: .upToNextOption, help: "Sizes of generated rule sets to measure (e.g. 100 1000 10000).")
    var synthetic: [Int] = []

    @Flag(
        help: """
            Every generated text condition a plain phrase, as the generated sets were before gap phrases and \
            all_of groups (to pair a run with an older build on the same rule set and tickets).
            """)
    var plainPhrases = false

    @Option(help: "Tickets routed per measurement.")
    var iterations: Int = 200_000

    @Option(help: "Write the generated rule set of this size to --write-dir and exit (to time 'pagoda check').")
    var writeSize: Int?

    @Option(help: "Where --write-size writes.")
    var writeDir: String = ".build/synthetic-rules"

    func run() throws {
        if let n = writeSize {
            try FileManager.default.createDirectory(atPath: writeDir, withIntermediateDirectories: true)
            for f in SyntheticRules.files(routes: n, plainPhrases: plainPhrases) {
                let name = (f.path as NSString).lastPathComponent
                try f.text.write(toFile: writeDir + "/" + name, atomically: true, encoding: .utf8)
            }
            print("wrote a \(n)-route rule set to \(writeDir)")
            return
        }
        print(
            "rule set                     routes   tickets   ns/ticket(mean)   p50 ns   p99 ns   p99.9 ns   tickets/s   compile ms"
        )
        if let dir = rules {
            let ruleSet = try loadRuleSet(dir)
            var sample: [Ticket] = []
            if let path = tickets, let data = FileManager.default.contents(atPath: path) {
                for line in data.split(separator: UInt8(ascii: "\n")) {
                    if case .success(let t) = TicketContract.decode(
                        Array(line), isKnownCategory: ruleSet.isKnownCategory)
                    {
                        sample.append(t)
                    }
                }
            }
            if tickets == nil {
                // Without a ticket file, the rule set's own test cases are the traffic.
                let testDir = (dir.hasSuffix("/") ? String(dir.dropLast()) : dir) + "/tests"
                sample = RuleTestRunner(ruleSet: ruleSet).tickets((try? RuleSetCompiler.readFiles(in: testDir)) ?? [])
            }
            if sample.isEmpty {
                printError(
                    "pagoda-bench: no valid tickets to route: pass --tickets FILE.jsonl, or add test cases to \(dir)/tests\n"
                )
                throw ExitCode.failure
            }
            measure(name: dir, ruleSet: ruleSet, tickets: sample, compileMilliseconds: nil)
        }
        for n in synthetic {
            let compileStart = ContinuousClock.now
            let result = RuleSetCompiler.compile(SyntheticRules.files(routes: n, plainPhrases: plainPhrases))
            let compileTime = ContinuousClock.now - compileStart
            guard let ruleSet = result.ruleSet else {
                printError(DiagnosticRenderer.text(result.diagnostics.filter { $0.severity == .error }, limit: 20))
                throw ExitCode.failure
            }
            let sample = try SyntheticRules.tickets(count: 4096, routes: n, plainPhrases: plainPhrases)
            let ms = Double(compileTime.components.seconds) * 1000 + Double(compileTime.components.attoseconds) / 1e15
            measure(name: "synthetic-\(n)", ruleSet: ruleSet, tickets: sample, compileMilliseconds: ms)
        }
    }

    func measure(name: String, ruleSet: RuleSet, tickets: [Ticket], compileMilliseconds: Double?) {
        // Warm up, then time each routing call.
        var sink = 0
        for t in tickets.prefix(2000) { sink &+= ruleSet.route(t).priority }
        var samples = [Int](repeating: 0, count: iterations)
        let clock = ContinuousClock()
        let start = clock.now
        for i in 0..<iterations {
            let t0 = clock.now
            let d = ruleSet.route(tickets[i % tickets.count])
            let t1 = clock.now
            sink &+= d.priority
            let c = (t1 - t0).components
            samples[i] = Int(c.seconds) * 1_000_000_000 + Int(c.attoseconds / 1_000_000_000)
        }
        let total = clock.now - start
        samples.sort()
        let totalNs = Double(total.components.seconds) * 1e9 + Double(total.components.attoseconds) / 1e9
        func pct(_ p: Double) -> Int { samples[min(samples.count - 1, Int(Double(samples.count) * p))] }
        let line = [
            name.padding(toLength: 28, withPad: " ", startingAt: 0), String(ruleSet.routes.count).leftPad(7),
            String(iterations).leftPad(9),
            String(format: "%.0f", totalNs / Double(iterations)).leftPad(17), String(pct(0.5)).leftPad(8),
            String(pct(0.99)).leftPad(8),
            String(pct(0.999)).leftPad(10), String(format: "%.0f", Double(iterations) / (totalNs / 1e9)).leftPad(11),
            compileMilliseconds.map { String(format: "%.0f", $0).leftPad(12) } ?? "           -",
        ].joined(separator: " ")
        print(line)
        if sink == 42 { print("") }
    }
}

extension String {
    func leftPad(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}

/// Writes to standard error.
private func printError(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
}

/// Loads and compiles a rule directory, printing its errors; throws ExitCode(1) on errors.
private func loadRuleSet(_ directory: String) throws -> RuleSet {
    let files: [RuleFile]
    do {
        files = try RuleSetCompiler.readFiles(in: directory)
    } catch {
        printError("pagoda-bench: cannot read rule directory '\(directory)': \(error.localizedDescription)\n")
        throw ExitCode(2)
    }
    let result = RuleSetCompiler.compile(files)
    guard let ruleSet = result.ruleSet else {
        printError(DiagnosticRenderer.text(result.diagnostics.filter { $0.severity == .error }))
        throw ExitCode.failure
    }
    return ruleSet
}
