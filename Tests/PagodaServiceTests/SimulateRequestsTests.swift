import Foundation
import PagodaJSON
import PagodaRules
import PagodaTesting
import Testing

/// `pagoda simulate` and `pagoda report` on return requests the centre decides late or never, and on
/// supervision reminders over a weekend (the Foshan rules of `rules/`).
@Suite struct SimulateRequestsTests {
    static func time(_ text: String) -> String { "2026-03-\(text):00+08:00" }

    static func ticket(_ id: String, at: String, _ fields: [(String, JSONValue)]) -> String {
        let t = JSONObject([("id", .string(id)), ("received_at", .string(at)), ("channel", "hotline")] + fields)
        return JSON.serializeToString(.object(JSONObject([("at", .string(at)), ("ticket", .object(t))])))
    }

    static func command(
        _ id: String, ticket: String, unit: String, _ type: String, at: String,
        _ extra: [(String, JSONValue)] = []
    ) -> String {
        let c = JSONObject(
            [
                ("command_id", .string(id)), ("ticket_id", .string(ticket)), ("unit", .string(unit)),
                ("type", .string(type)), ("at", .string(at)),
            ] + extra)
        return JSON.serializeToString(.object(JSONObject([("at", .string(at)), ("command", .object(c))])))
    }

    /// An illegal rooftop shed in 祖庙街道 (a sample): chancheng.zumiao, sign-in within 2 hours,
    /// `return_review: 2wh`; the rules route it to chancheng.urban when the town office returns it.
    static let complaint: [(String, JSONValue)] = [
        ("kind", "complaint"), ("category", "city_management"), ("region", ["district": "禅城区", "town": "祖庙街道"]),
        ("text", "小区有住户在楼顶违规加建铁皮房，存在安全隐患。"),
    ]
    /// A livelihood matter of 祖庙街道: chancheng.zumiao (town), policy `default`, reminded every 4 hours.
    static let town: [(String, JSONValue)] = [
        ("kind", "complaint"), ("category", "social_livelihood"), ("region", ["district": "禅城区", "town": "祖庙街道"]),
        ("text", "小区长者饭堂长期关闭。"),
    ]
    /// Urgent help in a village: policy `urgent`, reminded every hour at any hour.
    static let urgent: [(String, JSONValue)] = [
        ("kind", "help"), ("category", "social_livelihood"), ("urgency", "urgent"),
        ("region", ["district": "南海区", "town": "狮山镇", "village": "务庄社区"]), ("text", "独居老人家里水管爆裂，屋内水浸。"),
    ]

    static func run(_ argv: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await runProcess([ServeProcess.binary] + argv, separateStderr: true)
    }

    /// Simulates `lines` up to `until`; the events as JSON objects, and the file they were written to.
    static func simulate(_ lines: [String], until: String, in dir: URL) async throws -> ([JSONObject], URL) {
        let scenario = dir.appendingPathComponent("scenario.jsonl")
        let events = dir.appendingPathComponent("events.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: scenario, atomically: true, encoding: .utf8)
        let rules = repositoryRoot.appendingPathComponent("rules").path
        let sim = try await run(["simulate", "--rules", rules, "--scenario", scenario.path, "--until", until])
        #expect(sim.status == 0, "\(sim.stderr)")
        try sim.stdout.write(to: events, atomically: true, encoding: .utf8)
        return (sim.stdout.split(separator: "\n").compactMap { try? JSON.parse(Array($0.utf8)).objectValue }, events)
    }

    static func temporaryDirectory() throws -> URL {
        let name = "pagoda-requests-\(UUID().uuidString.prefix(8))"
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// R-LATE asks to return 30 minutes after dispatch, unsigned; the centre approves at 11:15, after the
    /// 11:00 sign-in deadline. R-NEVER asks the same and nobody decides.
    @Test func aLateDecisionRedispatchesAndAnUndecidedOneIsSupervised() async throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let lines = [
            Self.ticket("R-LATE", at: Self.time("02T09:00"), Self.complaint),
            Self.ticket("R-NEVER", at: Self.time("02T09:00"), Self.complaint),
            Self.command(
                "c1", ticket: "R-LATE", unit: "chancheng.zumiao", "request_return", at: Self.time("02T09:30"),
                [("reason", "not_our_duty")]),
            Self.command(
                "c2", ticket: "R-NEVER", unit: "chancheng.zumiao", "request_return", at: Self.time("02T09:30"),
                [("reason", "not_our_duty")]),
            Self.command("c3", ticket: "R-LATE", unit: "triage", "approve_return", at: Self.time("02T11:15")),
        ]
        let (events, file) = try await Self.simulate(lines, until: Self.time("02T18:00"), in: dir)
        let late = events.filter { $0["ticket_id"] == "R-LATE" }
        let never = events.filter { $0["ticket_id"] == "R-NEVER" }

        // Nothing happens to the paused sign-in clock at 10:30 (yellow) or 11:00 (red) before the approval at
        // 11:15 (times of one offset compare as text); the new unit's clocks run from then.
        let untilApproval = late.filter { ($0["at"]?.stringValue ?? "") <= Self.time("02T11:15") }
        let types = untilApproval.map { $0["event"]?.stringValue ?? "?" }
        #expect(
            types == [
                "ticket.dispatched", "ticket.return_requested", "ticket.return_approved",
                "ticket.dispatched",
            ], "\(late)")
        // Later, chancheng.urban does not sign either: its own sign-in deadline escalates the ticket from it.
        #expect(late.first { $0["event"] == "ticket.escalated" }?["from_unit"] == "chancheng.urban")
        #expect(late.first?["deadlines"]?.objectValue?["sign_by"] == .string(Self.time("02T11:00")))
        #expect(late[1]["review_due"] == .string(Self.time("02T11:30")))
        let redispatch = try #require(untilApproval.last)
        #expect(redispatch["reason"] == "return" && redispatch["from_unit"] == "chancheng.zumiao", "\(redispatch)")
        #expect(redispatch["at"] == .string(Self.time("02T11:15")), "\(redispatch)")
        #expect(redispatch["unit"] == "chancheng.urban", "\(redispatch)")

        #expect(!never.contains { $0["event"] == "ticket.escalated" || $0["event"] == "ticket.overdue" }, "\(never)")
        let supervised = try #require(never.first { $0["event"] == "ticket.supervised" }, "\(never)")
        #expect(supervised["at"] == .string(Self.time("02T11:30")) && supervised["reason"] == "return_review_overdue")
        #expect(supervised["request"] == "return" && supervised["unit"] == "chancheng.zumiao")

        // The report: both requests were the unit's response, on time; the supervision is the centre's.
        let report = try await Self.run(["report", "--events", file.path, "--format", "json"])
        #expect(report.status == 0, "\(report.stderr)")
        let parsed = try JSON.parse(Array(report.stdout.utf8)).objectValue
        let units = (parsed?["units"]?.arrayValue ?? []).compactMap { $0.objectValue }
        let market = try #require(units.first { $0["unit"] == "chancheng.zumiao" }, "\(report.stdout)")
        #expect(market["assigned"] == .number("2") && market["responded_on_time"] == .number("2"), "\(market)")
        #expect(market["response_rate"] == .number("1.0000") && market["escalated_away"] == .number("0"), "\(market)")
        #expect(market["supervised"] == .number("0"), "\(market)")
    }

    /// Over a weekend: the ordinary matter's reminder that would fall on Sunday 03:00 goes out on Monday at
    /// 08:30; the urgent one's goes out on Sunday at 03:00. Both first red lights go out when they happen.
    @Test func remindersOfOrdinaryTicketsWaitForWorkingTime() async throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let lines = [
            Self.ticket("W-TOWN", at: Self.time("07T17:00"), Self.town),
            Self.ticket("W-URGENT", at: Self.time("07T23:00"), Self.urgent),
        ]
        let (events, _) = try await Self.simulate(lines, until: Self.time("09T09:00"), in: dir)
        func reminders(_ id: String) -> [String] {
            events.filter { $0["ticket_id"] == .string(id) && $0["event"] == "ticket.reminder" }
                .filter { $0["supervision"] == .bool(true) }.compactMap { $0["at"]?.stringValue }
        }
        func firstSupervision(_ id: String) -> String? {
            events.first { $0["ticket_id"] == .string(id) && $0["event"] == "ticket.supervised" }?["at"]?.stringValue
        }
        #expect(firstSupervision("W-TOWN") == Self.time("07T23:00"))
        let townRed = events.filter { $0["ticket_id"] == "W-TOWN" && $0["event"] == "ticket.overdue" }
        #expect(townRed.contains { $0["at"] == .string(Self.time("07T23:00")) }, "the red light at the top when due")
        #expect(reminders("W-TOWN") == [Self.time("09T08:30")])
        #expect(firstSupervision("W-URGENT") == Self.time("08T01:00"))
        #expect(reminders("W-URGENT").contains(Self.time("08T03:00")))
        #expect(reminders("W-URGENT").count == 32, "every hour from 02:00 on Sunday to 09:00 on Monday")
    }
}
