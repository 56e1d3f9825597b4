import Foundation
import PagodaJSON
import PagodaRules
import PagodaTesting
import Testing

/// `pagoda report` as a supervisor runs it on a file of events: the output of `pagoda simulate` over the
/// Foshan rules.
@Suite struct ReportCommandTests {
    static func time(_ s: String) -> JSONValue { .string("2026-03-02T\(s):00+08:00") }

    /// Two complaints about illegal building in 祖庙街道 (the 禅城区 town office handles them): the first
    /// signed, answered and called back satisfied, the second left alone until it climbs to the district;
    /// and a command without a ticket id.
    static func scenario() throws -> [String] {
        let text = try String(
            contentsOf: repositoryRoot.appendingPathComponent("examples/sample-tickets.jsonl"), encoding: .utf8)
        var ticket = try #require(
            text.split(separator: "\n").map { try JSON.parse(Array($0.utf8)).objectValue! }
                .first { $0["id"] == "FS-20260302-0002" })
        var lines: [String] = []
        for (id, at) in [("R-1", "10:46"), ("R-2", "10:50")] {
            ticket.set("id", .string(id))
            ticket.set("received_at", time(at))
            lines.append(JSON.serializeToString(.object(JSONObject([("at", time(at)), ("ticket", .object(ticket))]))))
        }
        func command(_ id: String, _ at: String, _ unit: String, _ type: String, _ more: [(String, JSONValue)] = [])
            -> String
        {
            let c = JSONObject(
                [
                    ("command_id", .string(id)), ("ticket_id", "R-1"), ("unit", .string(unit)), ("type", .string(type)),
                    ("at", time(at)),
                ] + more)
            return JSON.serializeToString(.object(JSONObject([("at", time(at)), ("command", .object(c))])))
        }
        lines.append(command("c1", "11:00", "chancheng.zumiao", "sign"))
        lines.append(command("c2", "15:00", "chancheng.zumiao", "reply", [("outcome", "resolved"), ("text", "已拆除")]))
        lines.append(
            command(
                "c3", "17:00", "triage", "callback_result",
                [("reached", true), ("resolved", true), ("satisfaction", "satisfied")]))
        // Refused without a ticket id: the report passes the refusal over.
        lines.append(#"{"at": "2026-03-02T18:00:00+08:00", "command": {"type": "teleport"}}"#)
        return lines
    }

    static func run(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await runProcess([ServeProcess.binary] + arguments, separateStderr: true)
    }

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "pagoda-report-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func ranksTheUnitsOfASimulatedDay() async throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let scenario = dir.appendingPathComponent("scenario.jsonl")
        let events = dir.appendingPathComponent("events.jsonl")
        try (Self.scenario().joined(separator: "\n") + "\n").write(to: scenario, atomically: true, encoding: .utf8)
        let sim = try await Self.run([
            "simulate", "--rules", repositoryRoot.appendingPathComponent("rules").path, "--scenario", scenario.path,
            "--until", "2026-03-09T00:00:00+08:00",
        ])
        #expect(sim.status == 0, "\(sim.stderr)")
        try sim.stdout.write(to: events, atomically: true, encoding: .utf8)
        #expect(sim.stdout.contains(#""event":"command.rejected""#))

        let report = try await Self.run([
            "report", "--events", events.path, "--from", "2026-03-02", "--to", "2026-03-02", "--format", "json",
        ])
        #expect(report.status == 0, "\(report.stderr)")
        let o = try #require(try JSON.parse(Array(report.stdout.utf8)).objectValue)
        #expect(
            o["from"] == "2026-03-02T00:00:00+08:00" && o["to"] == "2026-03-03T00:00:00+08:00"
                && o["ranked_by"] == "satisfaction")
        let units = (o["units"]?.arrayValue ?? []).compactMap { $0.objectValue }
        let town = try #require(units.first { $0["unit"] == "chancheng.zumiao" }, "\(report.stdout)")
        // Two tickets given; one answered in time to a satisfied citizen, the other lost up the pagoda.
        #expect(town["assigned"] == .number("2") && town["escalated_away"] == .number("1"), "\(town)")
        #expect(town["responded_on_time"] == .number("1") && town["response_due"] == .number("2"), "\(town)")
        #expect(town["completion_rate"] == .number("0.5000") && town["on_time_rate"] == .number("1.0000"), "\(town)")
        #expect(town["satisfaction_rate"] == .number("1.0000") && town["rank"] == .number("1"), "\(town)")
        // The district office took the second ticket the same day.
        let escalatedTo = sim.stdout.split(separator: "\n").compactMap { try? JSON.parse(Array($0.utf8)).objectValue }
            .filter { $0["event"] == "ticket.escalated" && $0["from_unit"] == "chancheng.zumiao" }.compactMap {
                $0["unit"]?.stringValue
            }
        #expect(escalatedTo.count == 1)
        #expect(units.contains { $0["unit"] == .string(escalatedTo.first ?? "?") && $0["assigned"] == .number("1") })

        // The same as a table, and only the town level.
        let text = try await Self.run(["report", "--events", events.path, "--level", "town", "--rank-by", "on_time"])
        #expect(text.status == 0, "\(text.stderr)")
        let lines = text.stdout.split(separator: "\n").map(String.init)
        #expect(
            lines.first?.hasPrefix("units ranked by on_time; all assignments; judged at 2026-03-0") == true,
            "\(text.stdout)")
        #expect(
            lines.contains {
                $0.hasPrefix("   1  chancheng.zumiao  town") && $0.contains("100.0%") && $0.contains("50.0%")
            }, "\(text.stdout)")
        #expect(!lines.contains { $0.contains("  \(escalatedTo.first ?? "?")  ") }, "\(text.stdout)")
        #expect(lines.last?.split(separator: " ").prefix(4) == ["all", "-", "2", "50.0%"], "\(text.stdout)")
    }

    @Test func aBrokenEventNamesItsLineAndField() async throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let events = dir.appendingPathComponent("events.jsonl")
        try """
        {"event":"ticket.dispatched","ticket_id":"A","at":"2026-03-02T09:00:00+08:00","unit":"v1","level":"village"}

        {"event":"ticket.signed","ticket_id":"A","at":"2026-03-02 09:10","unit":"v1"}

        """.write(to: events, atomically: true, encoding: .utf8)
        let r = try await Self.run(["report", "--events", events.path])
        #expect(r.status == 1)
        #expect(
            r.stderr == "pagoda: \(events.path):3: at: '2026-03-02 09:10' is not an RFC 3339 time with an offset\n",
            "\(r.stderr)")
        #expect(r.stdout.isEmpty)

        let period = try await Self.run([
            "report", "--events", events.path, "--from", "2026-03-05", "--to", "2026-03-04",
        ])
        #expect(period.status != 0 && period.stderr.contains("--to is not after --from"), "\(period.stderr)")
        let day = try await Self.run(["report", "--events", events.path, "--from", "March 5"])
        #expect(
            day.status != 0
                && day.stderr.contains("--from 'March 5' is neither a day (YYYY-MM-DD) nor an RFC 3339 time"),
            "\(day.stderr)")
        let noDB = try await Self.run(["report", "--db", dir.appendingPathComponent("none.sqlite").path])
        #expect(noDB.status == 1 && noDB.stderr.contains("no database at"), "\(noDB.stderr)")
    }
}
