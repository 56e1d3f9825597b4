import ArgumentParser
import Foundation
import PagodaLifecycle
import PagodaRules
import PagodaService
import PagodaStore

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks that print figures.", subcommands: [BenchRules.self, BenchLifecycle.self])
}

struct BenchRules: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Routing throughput and p50/p99 latency (decision record on) on a rule set and on generated sets.")

    @Option(help: "A rule directory to measure with its own test tickets and the sample tickets.")
    var rules: String?

    @Option(help: "A JSONL file of tickets to route against --rules (default: the tickets of the rule set's test cases).")
    var tickets: String?

    @Option(parsing: .upToNextOption, help: "Sizes of generated rule sets to measure (e.g. 100 1000 10000).")
    var synthetic: [Int] = []

    @Option(help: "Tickets routed per measurement.")
    var iterations: Int = 200_000

    @Option(help: "Write the generated rule set of this size to --write-dir and exit (to time 'pagoda check').")
    var writeSize: Int?

    @Option(help: "Where --write-size writes.")
    var writeDir: String = ".build/synthetic-rules"

    func run() throws {
        if let n = writeSize {
            try FileManager.default.createDirectory(atPath: writeDir, withIntermediateDirectories: true)
            for f in SyntheticRules.files(routes: n) {
                let name = (f.path as NSString).lastPathComponent
                try f.text.write(toFile: writeDir + "/" + name, atomically: true, encoding: .utf8)
            }
            print("wrote a \(n)-route rule set to \(writeDir)")
            return
        }
        print("rule set                     routes   tickets   ns/ticket(mean)   p50 ns   p99 ns   p99.9 ns   tickets/s   compile ms")
        if let dir = rules {
            let ruleSet = try loadRuleSet(dir)
            var sample: [Ticket] = []
            if let path = tickets, let data = FileManager.default.contents(atPath: path) {
                for line in data.split(separator: UInt8(ascii: "\n")) {
                    if case .success(let t) = TicketContract.decode(Array(line), isKnownCategory: ruleSet.isKnownCategory) { sample.append(t) }
                }
            }
            if tickets == nil {
                // Without a ticket file, the rule set's own test cases are the traffic.
                let testDir = (dir.hasSuffix("/") ? String(dir.dropLast()) : dir) + "/tests"
                sample = RuleTestRunner(ruleSet: ruleSet).tickets((try? RuleSetCompiler.readFiles(in: testDir)) ?? [])
            }
            if sample.isEmpty {
                printError("pagoda: no valid tickets to route: pass --tickets FILE.jsonl, or add test cases to \(dir)/tests\n")
                throw ExitCode.failure
            }
            measure(name: dir, ruleSet: ruleSet, tickets: sample, compileMilliseconds: nil)
        }
        for n in synthetic {
            let compileStart = ContinuousClock.now
            let result = RuleSetCompiler.compile(SyntheticRules.files(routes: n))
            let compileTime = ContinuousClock.now - compileStart
            guard let ruleSet = result.ruleSet else {
                printError(DiagnosticRenderer.text(result.diagnostics.filter { $0.severity == .error }, limit: 20))
                throw ExitCode.failure
            }
            let sample = try SyntheticRules.tickets(count: 4096, routes: n)
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
            name.padding(toLength: 28, withPad: " ", startingAt: 0), String(ruleSet.routes.count).leftPad(7), String(iterations).leftPad(9),
            String(format: "%.0f", totalNs / Double(iterations)).leftPad(17), String(pct(0.5)).leftPad(8), String(pct(0.99)).leftPad(8),
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

struct BenchLifecycle: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lifecycle",
        abstract: "CPU per ticket of the lifecycle steps the service runs: start (dispatch), state encoding and decoding, timer firing.")

    @OptionGroup var rules: RulesOption

    @Option(help: "Tickets per measurement.")
    var iterations: Int = 100_000

    func run() throws {
        let ruleSet = try loadRuleSet(rules.rules)
        let testDir = (rules.rules.hasSuffix("/") ? String(rules.rules.dropLast()) : rules.rules) + "/tests"
        let tickets = RuleTestRunner(ruleSet: ruleSet).tickets((try? RuleSetCompiler.readFiles(in: testDir)) ?? [])
        guard !tickets.isEmpty else { throw ValidationError("no test tickets under \(testDir)") }
        let lifecycle = Lifecycle(rules: ruleSet)
        let codec = LifecycleCodec(names: Names(), offsetSeconds: 8 * 3600)
        let decisions = tickets.map { ruleSet.route($0) }
        let now = Date(timeIntervalSince1970: 1_772_413_200)  // 2026-03-02T09:00:00+08:00
        func time(_ name: String, _ body: (Int) throws -> Int) rethrows {
            var sink = 0
            for i in 0..<min(2000, iterations) { sink &+= try body(i) }
            let start = ContinuousClock.now
            for i in 0..<iterations { sink &+= try body(i) }
            let d = ContinuousClock.now - start
            let ns = (Double(d.components.seconds) * 1e9 + Double(d.components.attoseconds) / 1e9) / Double(iterations)
            print(name.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: "%10.2f µs/ticket %12.0f /s", ns / 1000, 1e9 / ns) + (sink == 42 ? " " : ""))
        }
        let starts = decisions.map { lifecycle.dispatch(DispatchInput(decision: $0, receivedAt: now), now: now).state! }
        let encoded = starts.map { codec.encode($0) }
        print("lifecycle steps on \(rules.rules) (\(tickets.count) test tickets, \(iterations) iterations each)")
        time("route") { ruleSet.route(tickets[$0 % tickets.count]).priority }
        time("dispatch (start clocks)") { lifecycle.dispatch(DispatchInput(decision: decisions[$0 % decisions.count], receivedAt: now), now: now).events.count }
        time("encode state") { codec.encode(starts[$0 % starts.count]).state.count }
        try time("decode state") { try codec.decode(encoded[$0 % encoded.count].state).version }
        time("fire (all due)") { i in
            let s = starts[i % starts.count]
            return lifecycle.fire(s, token: s.version, now: now.addingTimeInterval(30 * 86_400)).events.count
        }
        // A scenario's reader thread: a line's ticket or command object (as `pagoda simulate` finds it in
        // the line) made ready for the simulation: parsed, checked against the contract, a ticket routed.
        let ticketLines = tickets.map { JSON.serialize(.object($0.json)) }
        let commandLines = tickets.flatMap { t -> [[UInt8]] in
            let common = #""ticket_id":"\#(t.id)","unit":"shunde.beijiao.bijiang","at":"2026-03-02T09:30:00+08:00""#
            return [
                #"{"command_id":"\#(t.id)-c1",\#(common),"type":"sign"}"#,
                #"{"command_id":"\#(t.id)-c2",\#(common),"type":"reply","outcome":"resolved","text":"已处理并答复市民。"}"#,
                #"{"command_id":"\#(t.id)-c3",\#(common),"type":"callback_result","reached":true,"resolved":true,"satisfaction":"satisfied"}"#,
            ].map { Array($0.utf8) }
        }
        func prepare(_ lines: [[UInt8]], _ i: Int, isTicket: Bool) -> Int {
            lines[i % lines.count].withUnsafeBytes { PreparedLine(payload: $0, at: now, isTicket: isTicket, rules: ruleSet) != nil ? 1 : 0 }
        }
        time("prepare a ticket line") { prepare(ticketLines, $0, isTicket: true) }
        time("prepare a command line") { prepare(commandLines, $0, isTicket: false) }
        time("event to messages") { i in
            let t = lifecycle.dispatch(DispatchInput(decision: decisions[i % decisions.count], receivedAt: now), now: now)
            return t.events.reduce(0) { $0 + codec.messages($1, ticket: nil).count }
        }
    }
}
