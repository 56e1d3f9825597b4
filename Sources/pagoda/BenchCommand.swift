import ArgumentParser
import Foundation
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaService
import PagodaSimulation
import PagodaStore

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks that print figures (the routing benchmark is `pagoda-bench rules`).",
        subcommands: [BenchLifecycle.self])
}

struct BenchLifecycle: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lifecycle",
        abstract:
            "CPU per ticket of the lifecycle steps the service runs: start (dispatch), state encoding and decoding, timer firing."
    )

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
            print(
                name.padding(toLength: 28, withPad: " ", startingAt: 0)
                    + String(format: "%10.2f µs/ticket %12.0f /s", ns / 1000, 1e9 / ns) + (sink == 42 ? " " : ""))
        }
        let starts = decisions.map { lifecycle.dispatch(DispatchInput(decision: $0, receivedAt: now), now: now).state! }
        let encoded = starts.map { codec.encode($0) }
        print("lifecycle steps on \(rules.rules) (\(tickets.count) test tickets, \(iterations) iterations each)")
        time("route") { ruleSet.route(tickets[$0 % tickets.count]).priority }
        time("dispatch (start clocks)") {
            lifecycle.dispatch(DispatchInput(decision: decisions[$0 % decisions.count], receivedAt: now), now: now)
                .events.count
        }
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
            lines[i % lines.count].withUnsafeBytes {
                PreparedLine(payload: $0, at: now, isTicket: isTicket, rules: ruleSet) != nil ? 1 : 0
            }
        }
        time("prepare a ticket line") { prepare(ticketLines, $0, isTicket: true) }
        time("prepare a command line") { prepare(commandLines, $0, isTicket: false) }
        time("event to messages") { i in
            let t = lifecycle.dispatch(
                DispatchInput(decision: decisions[i % decisions.count], receivedAt: now), now: now)
            return t.events.reduce(0) { $0 + codec.messages($1, ticket: nil).count }
        }
    }
}
