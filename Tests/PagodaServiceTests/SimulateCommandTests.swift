import Foundation
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaSimulation
import PagodaTesting
import Testing

/// `pagoda simulate` as a user runs it: the command's streaming passes (a reader thread preparing lines in
/// batches, the events written as bytes) must print exactly what the engine's `Simulation.run` gives for
/// the same lines, in time order or not, and refuse a scenario with an invalid line before printing anything.
@Suite struct SimulateCommandTests {
    static let rules: RuleSet = {
        let files = try! RuleSetCompiler.readFiles(in: repositoryRoot.appendingPathComponent("rules").path)
        return RuleSetCompiler.compile(files).ruleSet!
    }()

    /// 1,300 tickets from the samples (more than one of the reader's batches) with distinct ids, one a
    /// minute, each signed by whoever holds it an hour later (most are refused: the scenario does not know
    /// the units, so it names the first sample's), plus an invalid ticket and an unknown command.
    static func scenario(tickets: Int = 1_300) throws -> [String] {
        let text = try String(
            contentsOf: repositoryRoot.appendingPathComponent("examples/sample-tickets.jsonl"), encoding: .utf8)
        let samples = text.split(separator: "\n").map { try! JSON.parse(Array($0.utf8)).objectValue! }
        let start = RFC3339.parse("2026-03-02T08:00:00+08:00")!.date
        func time(_ minutes: Int) -> String {
            RFC3339.format(start.addingTimeInterval(Double(minutes) * 60), offsetSeconds: 8 * 3600)
        }
        var lines: [String] = []
        for i in 0..<tickets {
            var t = samples[i % samples.count]
            t.set("id", .string("SIM-\(i)"))
            t.set("received_at", .string(time(i)))
            lines.append(
                JSON.serializeToString(.object(JSONObject([("at", .string(time(i))), ("ticket", .object(t))]))))
            if i % 3 == 0 {
                let c = JSONObject([
                    ("command_id", .string("c-\(i)")), ("ticket_id", .string("SIM-\(i)")), ("unit", "nanhai.shishan"),
                    ("type", "sign"), ("at", .string(time(i + 60))),
                ])
                lines.append(
                    JSON.serializeToString(
                        .object(JSONObject([("at", .string(time(i + 60))), ("command", .object(c))]))))
            }
        }
        lines.append(#"{"at": "\#(time(tickets + 700))", "ticket": {"id": "BAD-1", "category": 7}}"#)
        lines.append(#"{"at": "\#(time(tickets + 701))", "command": {"type": "teleport"}}"#)
        return lines
    }

    /// What the engine gives for `lines`, one compact JSON object per line.
    static func expected(_ lines: [String]) throws -> [String] {
        let parsed = try lines.map { try ScenarioLine.parse(Array($0.utf8)).get() }
        var simulation = Simulation(rules: rules)
        var out: [String] = []
        simulation.run(parsed) { out.append(JSON.serializeToString(.object($0))) }
        return out
    }

    static func simulate(_ lines: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pagoda-simulate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let scenario = dir.appendingPathComponent("scenario.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: scenario, atomically: true, encoding: .utf8)
        return try await runProcess(
            [
                ServeProcess.binary, "simulate", "--rules", repositoryRoot.appendingPathComponent("rules").path,
                "--scenario", scenario.path,
            ], separateStderr: true)
    }

    @Test func printsWhatTheEngineGives() async throws {
        let lines = try Self.scenario()
        let result = try await Self.simulate(lines)
        #expect(result.status == 0, "\(result.stderr)")
        let printed = result.stdout.split(separator: "\n").map(String.init)
        let expected = try Self.expected(lines)
        #expect(printed.count == expected.count)
        #expect(printed == expected)
        #expect(printed.contains { $0.contains(#""event":"ticket.rejected""#) && $0.contains("BAD-1") })
        #expect(printed.contains { $0.contains(#""event":"ticket.signed""#) })
        #expect(result.stderr.contains("simulated 1300 tickets (+1 rejected)"), "\(result.stderr)")
    }

    /// Out of time order, the command sorts the lines stably by `at` as `Simulation.run` does.
    @Test func sortsAScenarioOutOfOrder() async throws {
        var lines = try Self.scenario()
        lines.swapAt(10, 1_200)
        lines.swapAt(20, 1_700)
        let result = try await Self.simulate(lines)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.split(separator: "\n").map(String.init) == (try Self.expected(lines)))
    }

    /// The command keeps an open ticket as where it lies in the file and reads it again to re-route a
    /// return approved without a unit; that must give what the engine gives with the ticket in memory,
    /// in time order or not, for tickets read plainly and for tickets the plain reader leaves to the
    /// JSON tree (an escaped character).
    @Test func reroutesReturnedTicketsAsTheEngineDoes() async throws {
        let start = RFC3339.parse("2026-03-02T08:00:00+08:00")!.date
        func time(_ minutes: Int) -> String {
            RFC3339.format(start.addingTimeInterval(Double(minutes) * 60), offsetSeconds: 8 * 3600)
        }
        let triage = Self.rules.units[Self.rules.triageUnit].id
        var lines: [String] = []
        for (i, line) in try Self.scenario(tickets: 200).enumerated() {
            guard case .ticket(let value)? = try? ScenarioLine.parse(Array(line.utf8)).get().payload,
                var object = value.objectValue, let ticket = try? TicketContract.validate(value).get()
            else {
                lines.append(line)
                continue
            }
            if i % 4 == 0 {
                // Escaped: the plain reader gives up on this ticket.
                object.set("text", .string(ticket.text + "\u{22}"))
                lines.append(
                    JSON.serializeToString(
                        .object(JSONObject([("at", .string(time(i))), ("ticket", .object(object))]))))
            } else {
                lines.append(line)
            }
            guard let unit = Self.rules.route(ticket).unit?.id, unit != triage else { continue }
            func command(_ minutes: Int, _ id: String, _ unit: String, _ type: String, _ extra: [(String, JSONValue)])
                -> String
            {
                let c = JSONObject(
                    [
                        ("command_id", .string(id)), ("ticket_id", .string(ticket.id)), ("unit", .string(unit)),
                        ("type", .string(type)), ("at", .string(time(minutes))),
                    ] + extra)
                return JSON.serializeToString(
                    .object(JSONObject([("at", .string(time(minutes))), ("command", .object(c))])))
            }
            let received = Int(ticket.receivedAt.timeIntervalSince(start) / 60)
            lines.append(command(received + 2, "r-\(i)", unit, "request_return", [("reason", "not_our_duty")]))
            lines.append(command(received + 3, "a-\(i)", triage, "approve_return", []))
        }
        for shuffled in [false, true] {
            var scenario = lines
            if shuffled { scenario.swapAt(15, scenario.count - 40) }
            let result = try await Self.simulate(scenario)
            #expect(result.status == 0, "\(result.stderr)")
            let printed = result.stdout.split(separator: "\n").map(String.init)
            #expect(printed == (try Self.expected(scenario)))
            // Re-routed to units other than triage: the ticket was read again, the returning unit passed over.
            let rerouted = printed.filter {
                $0.contains(#""event":"ticket.return_approved""#) && !$0.contains(#""to_unit":"\#(triage)""#)
            }
            #expect(rerouted.count > 20, "\(rerouted.count)")
        }
    }

    @Test func refusesAnInvalidLineBeforeSimulating() async throws {
        var lines = try Self.scenario()
        lines.insert("{oops", at: 1_400)
        lines.insert(#"{"at": "2026-03-02T09:00:00+08:00", "ticket": {}, "command": {}}"#, at: 5)
        let result = try await Self.simulate(lines)
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("scenario.jsonl:6: has both \"ticket\" and \"command\""), "\(result.stderr)")
        #expect(result.stderr.contains("scenario.jsonl:1402: not valid JSON"), "\(result.stderr)")
        #expect(result.stderr.contains("2 invalid lines"), "\(result.stderr)")
    }

    /// A scenario of 1 MiB or more is checked in two parts on two threads: the line numbers of the second
    /// part go on from the first (blank lines count), and lines out of order across the split are sorted.
    @Test func checksALargeScenarioInTwoParts() async throws {
        var lines = try Self.scenario(tickets: 2_800)
        #expect(lines.reduce(0) { $0 + $1.utf8.count + 1 } > 1 << 20)
        lines.insert("", at: 3)
        lines.insert("  ", at: 1_000)
        var broken = lines
        broken.insert(#"{"at": "2026-03-02T09:00:00+08:00"}"#, at: 7)
        broken.insert("{oops", at: broken.count - 20)
        let refused = try await Self.simulate(broken)
        #expect(refused.status == 1)
        #expect(refused.stdout.isEmpty)
        #expect(
            refused.stderr.contains("scenario.jsonl:8: needs one of \"ticket\" or \"command\""), "\(refused.stderr)")
        #expect(refused.stderr.contains("scenario.jsonl:\(broken.count - 20): not valid JSON"), "\(refused.stderr)")
        #expect(refused.stderr.contains("2 invalid lines"), "\(refused.stderr)")

        lines.swapAt(10, lines.count - 30)
        let result = try await Self.simulate(lines)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stdout.split(separator: "\n").map(String.init)
                == (try Self.expected(lines.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty })))
    }
}
