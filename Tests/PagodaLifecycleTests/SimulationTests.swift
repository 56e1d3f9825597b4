import Foundation
import PagodaJSON
import PagodaRules
import Testing

@testable import PagodaLifecycle
@testable import PagodaSimulation

// MARK: - Helpers

/// The repository root, found from this file (symlinks resolved, so a scratch package linking it works).
private let repoRoot = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The Foshan rules of the repository, compiled once.
private let foshan: RuleSet = {
    let files = try! RuleSetCompiler.readFiles(in: repoRoot.appendingPathComponent("rules").path)
    let result = RuleSetCompiler.compile(files)
    guard let rs = result.ruleSet else { fatalError("rules/ does not compile: \(result.diagnostics)") }
    return rs
}()

private func date(_ s: String) -> Date { RFC3339.parse(s)!.date }

/// A ticket line at `at` (the ticket's own `received_at` defaults to `at`).
private func ticketLine(_ at: String, _ ticket: JSONObject) -> ScenarioLine {
    var t = ticket
    if t["received_at"] == nil { t["received_at"] = .string(at) }
    return ScenarioLine(at: date(at), payload: .ticket(.object(t)))
}

private func commandLine(
    _ at: String, id: String, ticket: String, unit: String, _ type: String,
    _ fields: [(String, JSONValue)] = []
) -> ScenarioLine {
    let o = JSONObject(
        [
            ("command_id", .string(id)), ("ticket_id", .string(ticket)), ("unit", .string(unit)),
            ("type", .string(type)), ("at", .string(at)),
        ] + fields)
    return ScenarioLine(at: date(at), payload: .command(o))
}

/// The urgent-help ticket of the samples: the village committee of 碧江社区 (北滘镇, 顺德区) is nearest.
private func villageTicket(id: String = "SIM-VILLAGE-1") -> JSONObject {
    [
        "id": .string(id), "channel": "app", "kind": "help",
        "region": ["district": "顺德区", "town": "北滘镇", "village": "碧江社区"],
        "text": "独居老人家里水管爆裂，联系不上物业，希望社区帮忙。", "category": "social_livelihood", "urgency": "urgent",
    ]
}

/// The river-pollution sample: goes to the 狮山镇 office.
private func riverTicket(id: String, phone: String? = nil) -> JSONObject {
    var t: JSONObject = [
        "id": .string(id), "channel": "wechat", "kind": "complaint",
        "region": ["district": "南海区", "town": "狮山镇", "village": "务庄社区"],
        "text": "务庄步林家村牌坊位置的河涌受到污染，希望有关部门前往核查。", "category": "living_environment",
    ]
    if let phone { t["caller"] = ["phone": .string(phone)] }
    return t
}

private func enterpriseTicket(id: String) -> JSONObject {
    [
        "id": .string(id), "channel": "app", "kind": "complaint", "region": ["district": "南海区", "town": "里水镇"],
        "text": "企业环评审批材料已齐全，窗口一直不受理，影响项目开工。", "category": "enterprise_services",
        "enterprise": ["name": "佛山市南海区里水精工机械有限公司", "credit_code": "91440605MA4X00A12B"],
    ]
}

/// Runs a scenario and returns the output records as JSON objects, with the summary.
private func simulate(_ lines: [ScenarioLine], until: String? = nil, verbose: Bool = false) -> (
    [JSONObject], Simulation.Summary
) {
    var sim = Simulation(rules: foshan, options: .init(until: until.map(date), verbose: verbose))
    var out: [JSONObject] = []
    let summary = sim.run(lines) { out.append($0) }
    return (out, summary)
}

extension JSONObject {
    fileprivate var event: String { self["event"]?.stringValue ?? "" }
    fileprivate var ticket: String? { self["ticket_id"]?.stringValue }
    fileprivate var unit: String? { self["unit"]?.stringValue }
    fileprivate var level: String? { self["level"]?.stringValue }
    fileprivate var at: Date { date(self["at"]!.stringValue!) }
    fileprivate func string(_ key: String) -> String? { self[key]?.stringValue }
}

private func isTimeOrdered(_ records: [JSONObject]) -> Bool {
    zip(records, records.dropFirst()).allSatisfy { $0.at <= $1.at }
}

/// The sixteen sample tickets of examples/sample-tickets.jsonl (Foshan, 2 March 2026).
private let sampleTickets = #"""
    {"id": "FS-20260302-0001", "received_at": "2026-03-02T09:53:00+08:00", "channel": "wechat", "kind": "complaint", "region": {"district": "南海区", "town": "狮山镇", "village": "务庄社区"}, "text": "务庄步林家村牌坊位置的河涌受到污染，希望有关部门前往核查。", "category": "living_environment"}
    {"id": "FS-20260302-0002", "received_at": "2026-03-02T10:46:00+08:00", "channel": "web", "kind": "complaint", "region": {"district": "禅城区", "town": "祖庙街道"}, "text": "小区有住户在楼顶违规加建铁皮房，存在安全隐患。", "category": "city_management"}
    {"id": "FS-20260302-0003", "received_at": "2026-03-02T11:39:00+08:00", "channel": "app", "kind": "help", "region": {"district": "三水区", "town": "乐平镇", "village": "官地村"}, "text": "村口燃气工程施工导致道路封闭近两个月，影响出行。", "category": "city_management"}
    {"id": "FS-20260302-0004", "received_at": "2026-03-02T12:32:00+08:00", "channel": "hotline", "kind": "help", "region": {"district": "高明区", "town": "荷城街道"}, "text": "无法在5月10日前取得居住证，影响孩子积分入学报名，希望协调。", "category": "social_livelihood", "urgency": "urgent"}
    {"id": "FS-20260302-0005", "received_at": "2026-03-02T13:25:00+08:00", "channel": "hotline", "kind": "consultation", "region": {"district": "高明区", "town": "荷城街道"}, "text": "公司将在荷城街道开展工程，想了解工人工资支付保证金减免缴存政策。", "category": "enterprise_services", "enterprise": {"name": "中交第四航务工程局有限公司", "credit_code": "91440101190474411W"}}
    {"id": "FS-20260302-0006", "received_at": "2026-03-02T14:18:00+08:00", "channel": "hotline", "kind": "consultation", "region": {"district": "南海区"}, "text": "粤康码显示异常，请问怎么处理？", "category": "social_livelihood"}
    {"id": "FS-20260302-0007", "received_at": "2026-03-02T15:11:00+08:00", "channel": "wechat", "kind": "consultation", "region": {"district": "南海区", "town": "大沥镇", "village": "黄岐社区"}, "text": "请问黄岐到广州的公交线路什么时候恢复运营？", "category": "city_management"}
    {"id": "FS-20260302-0008", "received_at": "2026-03-02T16:04:00+08:00", "channel": "hotline", "kind": "complaint", "region": {"district": "顺德区", "town": "大良街道"}, "text": "网购的空调安装后不制冷，商家一直推脱不上门维修。", "category": "consumer_rights"}
    {"id": "FS-20260302-0009", "received_at": "2026-03-02T16:57:00+08:00", "channel": "web", "kind": "report", "region": {"district": "顺德区", "town": "容桂街道"}, "text": "菜市场有摊贩使用不合格的电子秤缺斤短两。", "category": "consumer_rights"}
    {"id": "FS-20260302-0010", "received_at": "2026-03-02T17:50:00+08:00", "channel": "hotline", "kind": "suggestion", "region": {"district": "禅城区", "town": "张槎街道"}, "text": "建议在地铁站出口增设共享单车停放点。", "category": "city_management"}
    {"id": "FS-20260302-0011", "received_at": "2026-03-02T18:43:00+08:00", "channel": "hotline", "kind": "complaint", "region": {"district": "三水区", "town": "西南街道", "village": "河口社区"}, "text": "夜市大排档油烟直排，楼上住户无法开窗。", "category": "living_environment"}
    {"id": "FS-20260302-0012", "received_at": "2026-03-02T19:36:00+08:00", "channel": "app", "kind": "help", "region": {"district": "顺德区", "town": "北滘镇", "village": "碧江社区"}, "text": "独居老人家里水管爆裂，联系不上物业，希望社区帮忙。", "category": "social_livelihood", "urgency": "urgent"}
    {"id": "FS-20260302-0013", "received_at": "2026-03-02T20:29:00+08:00", "channel": "app", "kind": "complaint", "region": {"district": "南海区", "town": "里水镇"}, "text": "企业环评审批材料已齐全，窗口一直不受理，影响项目开工。", "category": "enterprise_services", "enterprise": {"name": "佛山市南海区里水精工机械有限公司", "credit_code": "91440605MA4X00A12B"}}
    {"id": "FS-20260302-0014", "received_at": "2026-03-02T21:22:00+08:00", "channel": "hotline", "kind": "help", "region": {"district": "禅城区", "town": "南庄镇", "village": "紫南村"}, "text": "厂房配电房冒烟起火，工人正在撤离，请立即派消防车！", "urgency": "emergency"}
    {"id": "FS-20260302-0015", "received_at": "2026-03-02T22:15:00+08:00", "channel": "web", "kind": "help", "region": {"district": "南海区", "town": "桂城街道"}, "text": "桂澜路上有人晕倒在地不省人事，需要急救。"}
    {"id": "FS-20260302-0016", "received_at": "2026-03-02T23:08:00+08:00", "channel": "hotline", "kind": "complaint", "region": {"district": "广州市越秀区"}, "text": "小区门口井盖缺失。", "category": "city_management"}
    """#

// MARK: - Escalation up the pagoda

@Test func villageTicketClimbsThePagodaAndIsSupervised() throws {
    let (out, summary) = simulate([ticketLine("2026-03-02T19:36:00+08:00", villageTicket())])
    #expect(summary.tickets == 1)
    let moves = out.filter { ["ticket.dispatched", "ticket.escalated", "ticket.supervised"].contains($0.event) }
    #expect(
        moves.map(\.event) == [
            "ticket.dispatched", "ticket.escalated", "ticket.escalated", "ticket.escalated", "ticket.supervised",
        ])
    #expect(
        moves.map(\.unit) == [
            "shunde.beijiao.bijiang", "shunde.beijiao", "shunde", "city.supervision", "city.supervision",
        ])
    #expect(moves.map(\.level) == ["village", "town", "district", "city", "city"])
    #expect(
        moves.dropFirst().prefix(3).map { $0.string("from_unit") } == [
            "shunde.beijiao.bijiang", "shunde.beijiao", "shunde",
        ])
    #expect(moves.last?.string("reason") == "overdue_at_top")
    // Each escalation follows the red light of the sign clock (30 minutes for "1-2-1-3").
    let escalations = out.indices.filter { out[$0].event == "ticket.escalated" }
    for i in escalations {
        #expect(out[i - 1].event == "ticket.overdue")
        #expect(out[i - 1].string("clock") == "sign")
        #expect(out[i - 1].at == out[i].at)
    }
    #expect(moves.map(\.at) == ["19:36", "20:06", "20:36", "21:06", "21:36"].map { date("2026-03-02T\($0):00+08:00") })
    // Without --until the run ends when only supervision reminders are left.
    #expect(summary.openTickets == 1)
    #expect(summary.remindingTickets == 1)
    #expect(out.last?.event == "ticket.reminder" || out.last?.event == "ticket.overdue")
    #expect(isTimeOrdered(out))
}

// MARK: - Commands

@Test func signReplyAndSatisfiedCallbackCloseTheTicket() throws {
    let id = "SIM-RIVER-1"
    let lines = [
        ticketLine("2026-03-02T09:53:00+08:00", riverTicket(id: id)),
        commandLine("2026-03-02T10:10:00+08:00", id: "c1", ticket: id, unit: "nanhai.shishan", "sign"),
        commandLine(
            "2026-03-03T15:00:00+08:00", id: "c2", ticket: id, unit: "nanhai.shishan", "reply",
            [("outcome", "resolved"), ("text", "已清理河涌并约谈洗车场。")]),
        commandLine(
            "2026-03-04T10:00:00+08:00", id: "c3", ticket: id, unit: "triage", "callback_result",
            [("reached", true), ("resolved", true), ("satisfaction", "satisfied")]),
        // After closing: refused, but the ticket's state was dropped.
        commandLine(
            "2026-03-04T11:00:00+08:00", id: "c4", ticket: id, unit: "nanhai.shishan", "progress", [("note", "补充")]),
    ]
    let (out, summary) = simulate(lines)
    let types = out.map(\.event).filter { $0 != "ticket.reminder" }
    #expect(
        types == [
            "ticket.dispatched", "ticket.signed", "ticket.replied", "ticket.callback_requested", "ticket.closed",
            "command.rejected",
        ])
    #expect(out.first { $0.event == "ticket.closed" }?.string("reason") == "callback")
    let rejected = try #require(out.last)
    #expect(rejected.string("code") == "ticket_closed")
    #expect(rejected.string("command_id") == "c4")
    #expect(summary.openTickets == 0)
    #expect(summary.finalTickets == 1)
    #expect(summary.commands == 4)
    #expect(summary.rejectedCommands == 1)
    #expect(!out.contains { $0.event == "ticket.escalated" })
    #expect(isTimeOrdered(out))
}

@Test func invalidLinesBecomeRejectionsAndTheRunGoesOn() throws {
    var bad = riverTicket(id: "SIM-BAD-1")
    bad["channel"] = "pigeon"
    let lines = [
        ticketLine("2026-03-02T09:00:00+08:00", bad),
        commandLine("2026-03-02T09:05:00+08:00", id: "c1", ticket: "SIM-NONE", unit: "nanhai.shishan", "reply"),
        commandLine("2026-03-02T09:06:00+08:00", id: "c2", ticket: "SIM-NONE", unit: "nanhai.shishan", "sign"),
        ticketLine("2026-03-02T09:10:00+08:00", riverTicket(id: "SIM-OK-1")),
        ticketLine("2026-03-02T09:11:00+08:00", riverTicket(id: "SIM-OK-1")),
    ]
    let (out, summary) = simulate(lines, until: "2026-03-02T09:30:00+08:00")
    #expect(out[0].event == "ticket.rejected")
    #expect(out[0].ticket == "SIM-BAD-1")
    #expect(out[0]["issues"]?.arrayValue?.first?.objectValue?["path"] == "channel")
    #expect(out[1].event == "command.rejected")
    #expect(out[1].string("code") == "required")  // reply without outcome and text
    #expect(out[2].event == "command.rejected")
    #expect(out[2].string("code") == "unknown_ticket")
    #expect(out[2].string("event_id") == "SIM-NONE#refused/c2")
    #expect(out[3].event == "ticket.dispatched")
    #expect(out[4].event == "ticket.rejected")
    #expect(out[4]["issues"]?.arrayValue?.first?.objectValue?["code"] == "duplicate")
    #expect(summary.tickets == 1)
    #expect(summary.rejectedTickets == 2)
    #expect(summary.rejectedCommands == 2)
}

// MARK: - Repeat complaints

@Test func samePhoneAndCategoryWithinSevenDaysIsARepeat() throws {
    let lines = [
        ticketLine("2026-03-02T09:00:00+08:00", riverTicket(id: "R-1", phone: "+86 138-0013-8000")),
        ticketLine("2026-03-04T09:00:00+08:00", riverTicket(id: "R-2", phone: "13800138000")),
        // 8 days after R-2 (and 10 after R-1): not a repeat any more.
        ticketLine("2026-03-12T09:00:00+08:00", riverTicket(id: "R-3", phone: "13800138000")),
        // Another phone: not a repeat.
        ticketLine("2026-03-12T10:00:00+08:00", riverTicket(id: "R-4", phone: "13900139000")),
    ]
    let (out, _) = simulate(lines, until: "2026-03-12T10:00:00+08:00")
    let dispatched = Dictionary(
        uniqueKeysWithValues: out.filter { $0.event == "ticket.dispatched" && $0.string("reason") == nil }
            .map { ($0.ticket!, $0) })
    #expect(dispatched["R-1"]?.string("repeat_of") == nil)
    #expect(dispatched["R-2"]?.string("repeat_of") == "R-1")
    #expect(dispatched["R-3"]?.string("repeat_of") == nil)
    #expect(dispatched["R-4"]?.string("repeat_of") == nil)
    // An ordinary repeat is not supervised for being a repeat.
    #expect(!out.contains { $0.event == "ticket.supervised" && $0.string("reason") == "enterprise_repeat" })
}

@Test func enterpriseSecondComplaintIsSupervisedAtOnce() throws {
    let lines = [
        ticketLine("2026-03-02T20:29:00+08:00", enterpriseTicket(id: "E-1")),
        ticketLine("2026-03-05T10:00:00+08:00", enterpriseTicket(id: "E-2")),
    ]
    let (out, _) = simulate(lines, until: "2026-03-05T10:00:00+08:00")
    let e2 = out.filter { $0.ticket == "E-2" }
    #expect(e2.map(\.event) == ["ticket.dispatched", "ticket.supervised"])
    #expect(e2.first?.string("repeat_of") == "E-1")
    #expect(e2.last?.string("reason") == "enterprise_repeat")
    #expect(e2.first?.at == e2.last?.at)
}

@Test func repeatKeys() {
    let ticket = Ticket(
        id: "K-1", receivedAt: Date(), receivedAtOffsetSeconds: 28_800, channel: .hotline, kind: .complaint,
        text: "x", enterprise: Enterprise(creditCode: "91440605MA4X00A12B"),
        caller: Caller(phone: "+86 138-0013-8000"))
    #expect(
        RepeatKeys.keys(for: ticket, category: "consumer_rights")
            == ["phone:13800138000|consumer_rights", "credit:91440605MA4X00A12B|consumer_rights"])
    #expect(RepeatKeys.keys(for: ticket, category: nil).isEmpty)
    let noPhone = Ticket(
        id: "K-2", receivedAt: Date(), receivedAtOffsetSeconds: 0, channel: .web, kind: .help, text: "x",
        caller: Caller(phone: "--"))
    #expect(RepeatKeys.keys(for: noPhone, category: "a").isEmpty)
}

@Test func anEnterprisesRepeatIsFoundWhicheverKeyFindsTheLatestTicket() {
    var index = RepeatIndex(window: 7 * 86_400)
    let start = date("2026-03-02T00:00:00+08:00")
    func ticket(_ id: String, credit: String?) -> Ticket {
        Ticket(
            id: id, receivedAt: start, receivedAtOffsetSeconds: 0, channel: .hotline, kind: .complaint, text: "x",
            enterprise: credit.map { Enterprise(name: "E", creditCode: $0) }, caller: Caller(phone: "13800138000"))
    }
    func check(_ t: Ticket, day: Double) -> (repeatOf: String?, enterpriseRepeat: Bool) {
        index.check(ticket: t, category: "c", receivedAt: start.addingTimeInterval(day * 86_400), ticketID: t.id)
    }
    #expect(check(ticket("A", credit: "X"), day: 0) == (nil, false))
    // The same phone and enterprise: found by both keys at once.
    #expect(check(ticket("B", credit: "X"), day: 1) == ("A", true))
    // The caller's phone alone, then the enterprise again: the latest ticket came by the phone, and the
    // enterprise still raises the matter again.
    #expect(check(ticket("C", credit: nil), day: 2) == ("B", false))
    #expect(check(ticket("D", credit: "X"), day: 3) == ("C", true))
}

@Test func repeatIndexStaysBounded() {
    var index = RepeatIndex(window: 3600)
    let start = date("2026-03-02T00:00:00+08:00")
    for i in 0..<50_000 {
        let t = Ticket(
            id: "B-\(i)", receivedAt: start, receivedAtOffsetSeconds: 0, channel: .hotline, kind: .complaint, text: "x",
            caller: Caller(phone: String(13_800_000_000 + i % 1000)))
        let r = index.check(
            ticket: t, category: "c", receivedAt: start.addingTimeInterval(Double(i) * 10), ticketID: t.id)
        // Each phone comes back every 1000 tickets = 10,000 s, beyond the one-hour window.
        #expect(r.repeatOf == nil)
    }
    // One hour of tickets, 10 s apart: about 360 keys remain.
    #expect(index.count <= 400)
}

// MARK: - Ordering and the end of the run

@Test func outOfOrderLinesAreSortedStably() throws {
    let id = "SIM-RIVER-2"
    let ordered = [
        ticketLine("2026-03-02T09:53:00+08:00", riverTicket(id: id)),
        commandLine("2026-03-02T10:10:00+08:00", id: "c1", ticket: id, unit: "nanhai.shishan", "sign"),
        // Same time: the contact must be applied after the progress note, as written.
        commandLine(
            "2026-03-02T11:00:00+08:00", id: "c2", ticket: id, unit: "nanhai.shishan", "progress", [("note", "first")]),
        commandLine(
            "2026-03-02T11:00:00+08:00", id: "c3", ticket: id, unit: "nanhai.shishan", "contact", [("note", "second")]),
    ]
    let shuffled = [ordered[2], ordered[3], ordered[1], ordered[0]]
    let (a, _) = simulate(ordered, until: "2026-03-02T12:00:00+08:00")
    let (b, _) = simulate(shuffled, until: "2026-03-02T12:00:00+08:00")
    #expect(a == b)
    #expect(a.map(\.event) == ["ticket.dispatched", "ticket.signed", "ticket.progress", "ticket.contacted"])
}

@Test func untilCutsTheReminders() throws {
    let line = ticketLine("2026-03-02T19:36:00+08:00", villageTicket())
    let (free, freeSummary) = simulate([line])
    let (long, _) = simulate([line], until: "2026-03-20T00:00:00+08:00")
    let (short, shortSummary) = simulate([line], until: "2026-03-02T22:00:00+08:00")
    let reminders = { (o: [JSONObject]) in
        o.filter { $0.event == "ticket.reminder" && $0["supervision"] == .bool(true) }.count
    }
    #expect(reminders(long) > reminders(free))
    #expect(long.last!.at <= date("2026-03-20T00:00:00+08:00"))
    #expect(long.last!.at > date("2026-03-19T18:00:00+08:00"))  // reminded every hour up to the end
    #expect(short.last!.at <= date("2026-03-02T22:00:00+08:00"))
    #expect(short.contains { $0.event == "ticket.supervised" })
    #expect(shortSummary.lastAt == date("2026-03-02T22:00:00+08:00"))
    #expect(freeSummary.remindingTickets == 1)
    // A line after --until is not applied.
    let (_, skipped) = simulate(
        [line, ticketLine("2026-03-03T09:00:00+08:00", riverTicket(id: "LATE"))], until: "2026-03-02T22:00:00+08:00")
    #expect(skipped.skippedLines == 1)
    #expect(skipped.tickets == 1)
}

@Test func outputIsTimeOrderedOverTheSamples() throws {
    var lines: [ScenarioLine] = []
    for raw in sampleTickets.split(separator: "\n") where !raw.isEmpty {
        let v = try JSON.parse(Array(raw.utf8))
        let at = try #require(v.objectValue?["received_at"]?.stringValue)
        lines.append(ScenarioLine(at: date(at), payload: .ticket(v)))
    }
    // Some workers act late, after their tickets climbed: refused as not the holder.
    lines.append(
        commandLine(
            "2026-03-02T16:00:00+08:00", id: "late-1", ticket: "FS-20260302-0001", unit: "nanhai.shishan", "sign"))
    lines.append(
        commandLine("2026-03-02T13:00:00+08:00", id: "w-2", ticket: "FS-20260302-0002", unit: "chancheng", "sign"))
    let (out, summary) = simulate(lines, verbose: true)
    #expect(summary.tickets == lines.count - 2)
    #expect(isTimeOrdered(out))
    #expect(out.allSatisfy { $0.event == "command.rejected" || $0["queues"]?.arrayValue != nil })
    #expect(
        out.contains {
            $0.event == "command.rejected" && $0.ticket == "FS-20260302-0001" && $0.string("code") == "not_holder"
        })
    #expect(out.contains { $0.event == "ticket.signed" && $0.ticket == "FS-20260302-0002" })
    // Emergencies are handed off and forgotten; the run ends.
    #expect(summary.finalTickets >= 1)
    #expect(summary.events == out.count)
}

@Test func scenarioLineErrors() {
    func reason(_ s: String) -> String? {
        if case .failure(let e) = ScenarioLine.parse(Array(s.utf8)) { return e.reason }
        return nil
    }
    #expect(reason(#"{"at": "2026-03-02T09:00:00+08:00", "ticket": {}}"#) == nil)
    #expect(reason(#"{"at": "2026-03-02T09:00:00+08:00", "command": {}}"#) == nil)
    #expect(reason("{oops")?.hasPrefix("not valid JSON") == true)
    #expect(reason("[1]")?.hasPrefix("expected a JSON object") == true)
    #expect(reason(#"{"ticket": {}}"#) == "missing \"at\"")
    #expect(reason(#"{"at": "yesterday", "ticket": {}}"#)?.hasPrefix("\"at\" must be an RFC 3339 time") == true)
    #expect(reason(#"{"at": "2026-03-02T09:00:00+08:00"}"#) == "needs one of \"ticket\" or \"command\"")
    #expect(reason(#"{"at": "2026-03-02T09:00:00+08:00", "ticket": {}, "command": {}}"#)?.hasPrefix("has both") == true)
    #expect(
        reason(#"{"at": "2026-03-02T09:00:00+08:00", "ticket": 3}"#)?.hasPrefix("\"ticket\" must be an object") == true)
}

/// The first pass's check gives the same verdict, time and sentence as parsing the line.
@Test func scenarioLineCheckAgreesWithParse() throws {
    let lines = [
        #"{"at": "2026-03-02T09:00:00+08:00", "ticket": {"id": "A", "text": "中文 \"引号\""}}"#,
        #"{"command": {"type": "sign"}, "at": "2026-03-02T09:00:00.250+08:00"}"#,
        #"{"at": "2026-03-02T09:00:00Z", "ticket": {}}"#,
        #"{"at": "2026-03-02T09:00:00+08:00", "ticket": {}, "command": {}}"#,
        #"{"at": "2026-03-02T09:00:00+08:00", "ticket": 3}"#,
        #"{"at": "2026-03-02T09:00:00+08:00", "ticket": []}"#,
        #"{"at": "2026-03-02T09:00:00+08:00", "tiket": {}}"#,
        #"{"at": "2026-03-02T09:00:00+08:00", "at": "2026-03-02T09:00:00+08:00"}"#,
        #"{"at": "2026-03-02 09:00", "ticket": {}}"#,
        #"{"at": "2026-03-02T09:00:00\u002B08:00", "ticket": {}}"#,
        #"{"at": 1, "ticket": {}}"#,
        #"{"ticket": {}}"#,
        #"{"at": "2026-03-02T09:00:00+08:00"}"#,
        #"{"at": "2026-03-02T09:00:00+08:00", "ticket": {"a": 1, "a": 2}}"#,
        #"{"at": "2026-03-02T09:00:00+08:00", "ticket": {"a": [1,]}}"#,
        "{oops", "[1]", #""x""#,
    ]
    var scanner = JSONObjectScanner()
    for line in lines {
        let bytes = Array(line.utf8)
        let checked = bytes.withUnsafeBytes { ScenarioLine.check($0, scanner: &scanner) }
        switch (checked, ScenarioLine.parse(bytes)) {
        case (.success(let a), .success(let b)):
            #expect(a.at == b.at, "\(line)")
            // Where the check found the ticket or command, that object alone reads as the whole line does.
            guard let payload = a.payload else { continue }
            let alone = bytes.withUnsafeBytes {
                ScenarioLine.parse(
                    payload: UnsafeRawBufferPointer(rebasing: $0[payload]), at: a.at, isTicket: a.isTicket)
            }
            switch (alone?.payload, b.payload) {
            case (.ticket(let x)?, .ticket(let y)): #expect(x == y, "\(line)")
            case (.command(let x)?, .command(let y)): #expect(x == y, "\(line)")
            default: Issue.record("the payload alone reads differently: \(line)")
            }
        case (.failure(let a), .failure(let b)): #expect(a == b, "\(line)")
        default: Issue.record("check and parse disagree on \(line)")
        }
    }
    // The scan decides the usual lines itself, and says where their object lies.
    let usual = Array(#"{"at": "2026-03-02T09:00:00+08:00", "command": {"type": "sign"}}"#.utf8)
    let checked = usual.withUnsafeBytes { ScenarioLine.check($0, scanner: &scanner) }
    #expect(try checked.get().payload.map { String(decoding: usual[$0], as: UTF8.self) } == #"{"type": "sign"}"#)
    #expect(try checked.get().isTicket == false)
}

@Test func timerHeapOrdersByDueThenDispatch() {
    var heap = TimerHeap()
    for (due, serial) in [(5.0, 2), (1.0, 9), (5.0, 1), (3.0, 4), (1.0, 8)] {
        heap.push(.init(due: due, serial: serial, token: 1, slot: 0))
    }
    var order: [Int] = []
    while let top = heap.pop() { order.append(top.serial) }
    #expect(order == [8, 9, 4, 1, 2])
}

@Test func encoderBytesMatchTheJSON() throws {
    var lines: [ScenarioLine] = []
    for raw in sampleTickets.split(separator: "\n") where !raw.isEmpty {
        let v = try JSON.parse(Array(raw.utf8))
        lines.append(ScenarioLine(at: date(v.objectValue!["received_at"]!.stringValue!), payload: .ticket(v)))
    }
    lines.append(commandLine("2026-03-02T23:30:00+08:00", id: "x", ticket: "FS-20260302-0001", unit: "nanhai", "bogus"))
    for verbose in [false, true] {
        var sim = Simulation(rules: foshan, options: .init(until: date("2026-03-04T00:00:00+08:00"), verbose: verbose))
        var encoder = SimulationEncoder(offsetSeconds: sim.offsetSeconds, verbose: verbose)
        var fast: [UInt8] = []
        var slow: [UInt8] = []
        sim.run(lines) { (r: SimulationRecord) in
            encoder.write(r, into: &fast)
            JSON.serialize(.object(encoder.json(r)), into: &slow)
            slow.append(0x0A)
        }
        #expect(fast.count > 10_000)
        #expect(fast == slow)
    }
}

@Test func differsAgreesWithInequality() throws {
    // The stored states of every corner of the machine, against each other, and each against copies with
    // one field changed: the cheap fields `differs` looks at first, and fields only the full comparison sees.
    let states = try LifecycleFlowTests.stored.map(LifecycleFlowTests.state)
    for a in states {
        for b in states { #expect(a.differs(from: b) == (a != b)) }
        var same = a
        same.returns += 0  // a copy of the fields in a box of its own, equal to the original
        #expect(!same.differs(from: a))
        var changed: [TicketState] = []
        var c = a
        c.version += 1
        changed.append(c)
        c = a
        c.coHandlers.append("nanhai")
        changed.append(c)
        c = a
        c.phase = a.phase == .closed ? .signed : .closed
        changed.append(c)
        c = a
        c.nextTimer = (a.nextTimer ?? LC.monday).addingTimeInterval(1)
        changed.append(c)
        c = a
        c.clocks.append(ClockState(clock: .resolve, started: LC.monday, due: LC.monday, warnAt: LC.monday))
        changed.append(c)
        c = a
        c.handledCommands.append("c-1")
        changed.append(c)
        for (i, c) in changed.enumerated() {
            #expect(c.differs(from: a), "change \(i)")
            #expect(a.differs(from: c), "change \(i)")
        }
    }
}

/// The repeat index's look-up as it was written first (three look-ups per key), kept as the reference.
private struct ReferenceRepeatIndex {
    let window: TimeInterval
    var latest: [String: (at: TimeInterval, id: String)] = [:]
    var order: [(key: String, at: TimeInterval)] = []
    var head = 0
    var horizon = -Double.infinity

    mutating func check(keys: [String], at t: TimeInterval, id: String) -> (String?, Bool) {
        guard !keys.isEmpty else { return (nil, false) }
        var best: (at: TimeInterval, id: String)?
        var viaCredit = false
        for key in keys {
            if let seen = latest[key] {
                if seen.id != id, seen.at <= t, t - seen.at <= window {
                    let credit = key.hasPrefix("credit:")
                    viaCredit = viaCredit || credit
                    if best == nil || best!.at < seen.at || (best!.at == seen.at && credit) {
                        best = seen
                    }
                }
                if seen.at > t { continue }
            }
            latest[key] = (t, id)
            order.append((key, t))
        }
        if t > horizon { horizon = t }
        while head < order.count, order[head].at < horizon - window {
            let (key, at) = order[head]
            if let seen = latest[key], seen.at == at { latest[key] = nil }
            head += 1
        }
        return (best?.id, viaCredit)
    }
}

@Test func repeatIndexMatchesItsReference() {
    // Random tickets over a few phones and credit codes, times mostly rising with some out of order and
    // some equal, ids sometimes repeated; the index must answer as the reference does at every step.
    var rng = SystemRandomNumberGenerator()
    for round in 0..<20 {
        var index = RepeatIndex(window: 600)
        var reference = ReferenceRepeatIndex(window: 600)
        var t = 0.0
        var repeats = 0
        for i in 0..<2_000 {
            t += Double(Int.random(in: -30...40, using: &rng))
            var keys: [String] = []
            if Int.random(in: 0..<10, using: &rng) > 0 { keys.append("phone:\(Int.random(in: 0..<40, using: &rng))|c") }
            if Int.random(in: 0..<3, using: &rng) == 0 {
                keys.append("credit:\(Int.random(in: 0..<10, using: &rng))|c")
            }
            let id = "T-\(Int.random(in: 0..<10, using: &rng) == 0 ? i / 2 : i)"
            let got = index.check(keys: keys, receivedAt: Date(timeIntervalSince1970: t), ticketID: id)
            let want = reference.check(keys: keys, at: t, id: id)
            #expect(got.repeatOf == want.0 && got.enterpriseRepeat == want.1, "round \(round), ticket \(i)")
            if got.repeatOf != want.0 || got.enterpriseRepeat != want.1 { return }
            if got.repeatOf != nil { repeats += 1 }
        }
        #expect(repeats > 100)
        #expect(index.count == reference.latest.count)
    }
}
