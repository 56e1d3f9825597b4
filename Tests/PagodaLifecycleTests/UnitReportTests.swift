import Foundation
import PagodaJSON
import PagodaRules
import Testing

@testable import PagodaLifecycle

/// `UnitReport`: the five rates per unit, counted per assignment, from event messages.
@Suite struct UnitReportTests {
    /// Times on 2026-03-02 (a Monday), China Standard Time.
    static func t(_ hhmm: String, day: Int = 2) -> String { "2026-03-\(String(format: "%02d", day))T\(hhmm):00+08:00" }
    static func date(_ s: String) -> Date { RFC3339.parse(s)!.date }

    static func event(
        _ type: String, _ ticket: String, _ at: String, unit: String?, level: String? = "village",
        _ fields: [(String, JSONValue)] = []
    ) -> JSONObject {
        JSONObject(
            [
                ("event", .string(type)), ("event_id", .string("\(ticket)#\(UUID().uuidString)")), ("at", .string(at)),
                ("ticket_id", .string(ticket)),
                ("unit", unit.map { .string($0) } ?? .null), ("level", level.map { .string($0) } ?? .null),
            ] + fields)
    }

    static func deadlines(sign: String, resolve: String) -> (String, JSONValue) {
        ("deadlines", .object(["sign_by": .string(sign), "resolve_by": .string(resolve)]))
    }

    static func dispatched(
        _ ticket: String, _ at: String, unit: String, level: String = "village", sign: String, resolve: String,
        reason: String? = nil
    ) -> JSONObject {
        var f: [(String, JSONValue)] = [("destination", "unit"), deadlines(sign: sign, resolve: resolve)]
        if let reason { f.append(("reason", .string(reason))) }
        return event("ticket.dispatched", ticket, at, unit: unit, level: level, f)
    }

    static func closed(
        _ ticket: String, _ at: String, unit: String, satisfaction: String = "satisfied", resolved: Bool = true
    ) -> JSONObject {
        event(
            "ticket.closed", ticket, at, unit: unit,
            [
                ("reason", "callback"), ("reached", true), ("resolved", .bool(resolved)),
                ("satisfaction", .string(satisfaction)),
            ])
    }

    static func report(_ events: [JSONObject], from: String? = nil, to: String? = nil, asOf: String) throws -> [String:
        UnitReport.Row]
    {
        var r = UnitReport(period: .init(from: from.map(date), to: to.map(date)))
        for e in events { try r.add(e) }
        return Dictionary(uniqueKeysWithValues: r.units(asOf: date(asOf)).map { ($0.unit, $0) })
    }

    @Test func anArchiveOfTheEventsQueueCountsEachMessageOnce() throws {
        // As `pagoda.events` carries them: the intake's dispatch message (no `event`; the decision says
        // where it went), then the lifecycle's events, some delivered twice.
        let message = JSONObject([
            ("type", "ticket.dispatched"), ("version", 1), ("dispatch_seq", 17), ("at", .string(Self.t("09:00"))),
            ("ticket", .object(["id": "A"])),
            (
                "decision",
                .object([
                    "ticket_id": "A", "destination": .object(["type": "unit", "unit": "v1", "level": "village"]),
                    "sla": .object([
                        "deadlines": .object([
                            "sign_by": .string(Self.t("11:00")), "resolve_by": .string(Self.t("23:59", day: 4)),
                        ])
                    ]),
                ])
            ),
        ])
        let signed = Self.event("ticket.signed", "A", Self.t("12:00"), unit: "v1")
        let replied = Self.event(
            "ticket.replied", "A", Self.t("15:00", day: 3), unit: "v1", [("outcome", "resolved"), ("text", "done")])
        var report = UnitReport(period: .init())
        for e in [message, message, signed, replied, signed, replied, message] { try report.add(e) }
        #expect(report.eventsRead == 3 && report.eventsPassedOver == 4)
        let v1 = try #require(report.units(asOf: Self.date(Self.t("12:00", day: 9))).first { $0.unit == "v1" })
        // Signed after the sign-in deadline the decision gave: late, once.
        #expect((v1.level, v1.received, v1.respondedOnTime, v1.responseDue) == (.village, 1, 0, 1))
        #expect((v1.replied, v1.replies, v1.repliesOnTime) == (1, 1, 1))
    }

    @Test func aTicketHandledWellCountsFullMarks() throws {
        let rows = try Self.report(
            [
                Self.dispatched(
                    "A", Self.t("09:00"), unit: "v1", sign: Self.t("11:00"), resolve: Self.t("23:59", day: 4)),
                Self.event("ticket.signed", "A", Self.t("09:30"), unit: "v1"),
                Self.event(
                    "ticket.replied", "A", Self.t("15:00", day: 3), unit: "v1",
                    [("outcome", "resolved"), ("text", "done")]),
                Self.event("ticket.callback_requested", "A", Self.t("15:00", day: 3), unit: "v1"),
                Self.closed("A", Self.t("10:00", day: 4), unit: "v1"),
            ], asOf: Self.t("12:00", day: 9))
        let v1 = try #require(rows["v1"])
        #expect(v1.level == .village)
        #expect((v1.received, v1.respondedOnTime, v1.responseDue, v1.replied, v1.completionDue) == (1, 1, 1, 1, 1))
        #expect(
            (v1.replies, v1.repliesOnTime, v1.callbacksReached, v1.satisfied, v1.resolved, v1.resolvedAnswered) == (
                1, 1, 1, 1, 1, 1
            ))
        #expect((v1.overdue, v1.escalatedAway, v1.returned, v1.held) == (0, 0, 0, 0))
        for metric in UnitReport.Metric.allCases { #expect(v1.rate(metric) == 1) }
    }

    @Test func nobodyActingCountsAgainstTheUnitThatLostTheTicket() throws {
        let rows = try Self.report(
            [
                Self.dispatched(
                    "B", Self.t("09:00"), unit: "v1", sign: Self.t("11:00"), resolve: Self.t("23:59", day: 4)),
                Self.event(
                    "ticket.reminder", "B", Self.t("10:30"), unit: "v1", [("light", "yellow"), ("clock", "sign")]),
                Self.event("ticket.overdue", "B", Self.t("11:00"), unit: "v1", [("light", "red"), ("clock", "sign")]),
                Self.event(
                    "ticket.escalated", "B", Self.t("11:00"), unit: "t1", level: "town",
                    [("from_unit", "v1"), Self.deadlines(sign: Self.t("13:00"), resolve: Self.t("23:59", day: 5))]),
            ], asOf: Self.t("12:00"))
        let v1 = try #require(rows["v1"])
        let t1 = try #require(rows["t1"])
        // The village: due to respond and to complete (it lost the ticket), did neither, one red light.
        #expect((v1.received, v1.respondedOnTime, v1.responseDue, v1.replied, v1.completionDue) == (1, 0, 1, 0, 1))
        #expect((v1.overdue, v1.escalatedAway, v1.held) == (1, 1, 0))
        #expect(v1.responseRate == 0 && v1.completionRate == 0 && v1.onTimeRate == nil)
        // The town: holds it, nothing due yet at 12:00.
        #expect((t1.received, t1.responseDue, t1.completionDue, t1.held) == (1, 0, 0, 1))
        #expect(t1.level == .town && t1.responseRate == nil)
        // Judged after the town's sign-in deadline, the town is due to respond too.
        let later = try Self.report(
            [
                Self.dispatched(
                    "B", Self.t("09:00"), unit: "v1", sign: Self.t("11:00"), resolve: Self.t("23:59", day: 4)),
                Self.event(
                    "ticket.escalated", "B", Self.t("11:00"), unit: "t1", level: "town",
                    [("from_unit", "v1"), Self.deadlines(sign: Self.t("13:00"), resolve: Self.t("23:59", day: 5))]),
            ], asOf: Self.t("13:00", day: 6))
        let t1Later = try #require(later["t1"])
        #expect((t1Later.responseDue, t1Later.respondedOnTime, t1Later.completionDue) == (1, 0, 1))
    }

    @Test func lateRepliesReworksAndExtensionsMoveTheOnTimeRate() throws {
        let rows = try Self.report(
            [
                Self.dispatched(
                    "C", Self.t("09:00"), unit: "v1", sign: Self.t("11:00"), resolve: Self.t("23:59", day: 3)),
                // acting after the sign-in deadline: late
                Self.event("ticket.contacted", "C", Self.t("12:00"), unit: "v1"),
                Self.event(
                    "ticket.overdue", "C", Self.t("23:59", day: 3), unit: "v1",
                    [("light", "red"), ("clock", "resolve")]),
                Self.event("ticket.replied", "C", Self.t("09:00", day: 4), unit: "v1"),  // late
                Self.closed("C", Self.t("10:00", day: 4), unit: "v1", satisfaction: "unsatisfied", resolved: false)
                    .replacing("event", with: "ticket.reopened").adding(
                        Self.deadlines(sign: Self.t("11:00"), resolve: Self.t("23:59", day: 6))),
                Self.event(
                    "ticket.extension_approved", "C", Self.t("11:00", day: 5), unit: "v1",
                    [("resolve_by", .string(Self.t("23:59", day: 9)))]),
                Self.event("ticket.replied", "C", Self.t("09:00", day: 8), unit: "v1"),  // within the extension
                Self.event("ticket.callback_recorded", "C", Self.t("10:00", day: 8), unit: "v1", [("reached", false)]),
                Self.closed("C", Self.t("11:00", day: 8), unit: "v1", satisfaction: "basically_satisfied"),
            ], asOf: Self.t("12:00", day: 9))
        let v1 = try #require(rows["v1"])
        #expect((v1.respondedOnTime, v1.responseDue) == (0, 1))
        #expect((v1.replies, v1.repliesOnTime, v1.replied, v1.completionDue) == (2, 1, 1, 1))
        #expect(
            (v1.callbacksReached, v1.callbacksNotReached, v1.satisfied, v1.resolvedAnswered, v1.resolved) == (
                2, 1, 1, 2, 1
            ))
        #expect(v1.onTimeRate == 0.5 && v1.satisfactionRate == 0.5 && v1.resolutionRate == 0.5 && v1.overdue == 1)
    }

    @Test func aReturnedTicketIsNotDueFromTheUnitThatReturnedIt() throws {
        let rows = try Self.report(
            [
                Self.dispatched(
                    "D", Self.t("09:00"), unit: "v1", sign: Self.t("11:00"), resolve: Self.t("23:59", day: 4)),
                Self.event("ticket.return_requested", "D", Self.t("09:20"), unit: "v1", [("reason", "wrong_area")]),
                Self.event("ticket.return_approved", "D", Self.t("10:00"), unit: "v1", [("to_unit", "v2")]),
                Self.dispatched(
                    "D", Self.t("10:00"), unit: "v2", sign: Self.t("12:00"), resolve: Self.t("23:59", day: 4),
                    reason: "return"),
                Self.event("ticket.signed", "D", Self.t("10:10"), unit: "v2"),
                Self.event("ticket.redispatched", "D", Self.t("10:30"), unit: "v2", [("to_unit", "v3")]),
                Self.dispatched(
                    "D", Self.t("10:30"), unit: "v3", sign: Self.t("12:30"), resolve: Self.t("23:59", day: 4),
                    reason: "redispatch"),
            ], asOf: Self.t("12:00", day: 9))
        let v1 = try #require(rows["v1"])
        let v2 = try #require(rows["v2"])
        let v3 = try #require(rows["v3"])
        #expect((v1.returned, v1.respondedOnTime, v1.responseDue, v1.completionDue, v1.held) == (1, 1, 1, 0, 0))
        #expect(v1.completionRate == nil)
        #expect((v2.respondedOnTime, v2.responseDue, v2.completionDue) == (1, 1, 0))
        // v3 held it past both deadlines without a word.
        #expect((v3.received, v3.respondedOnTime, v3.responseDue, v3.completionDue, v3.held) == (1, 0, 1, 1, 1))
    }

    @Test func onlyAssignmentsBegunInThePeriodCount() throws {
        let events = [
            Self.dispatched(
                "E", Self.t("23:00", day: 1), unit: "v1", sign: Self.t("09:00"), resolve: Self.t("23:59", day: 4)),
            Self.event("ticket.signed", "E", Self.t("08:00"), unit: "v1"),
            Self.dispatched("F", Self.t("09:00"), unit: "v1", sign: Self.t("11:00"), resolve: Self.t("23:59", day: 4)),
            Self.dispatched(
                "G", Self.t("00:00", day: 3), unit: "v1", sign: Self.t("02:00", day: 3),
                resolve: Self.t("23:59", day: 5)),
        ]
        let rows = try Self.report(
            events, from: Self.t("00:00"), to: Self.t("00:00", day: 3), asOf: Self.t("12:00", day: 9))
        let v1 = try #require(rows["v1"])
        #expect((v1.received, v1.responseDue, v1.respondedOnTime) == (1, 1, 0))
        #expect(try Self.report(events, asOf: Self.t("12:00", day: 9))["v1"]?.received == 3)
    }

    @Test func eventsOfUnknownTicketsRefusalsAndRowsWithoutAnEventArePassedOver() throws {
        var r = UnitReport(period: .init())
        try r.add(Self.event("ticket.signed", "X", Self.t("09:00"), unit: "v1"))
        try r.add(["destination_type": "unit", "unit_id": "v1"])  // the intake's own dispatch row in the store
        try r.add(
            Self.event("ticket.dispatched", "H", Self.t("09:00"), unit: nil, level: nil, [("destination", "handoff")]))
        try r.add(Self.event("ticket.signed", "H", Self.t("09:10"), unit: "v1"))
        // Refusals, even without a ticket id or a time, and reminders.
        try r.add(["event": "command.rejected", "code": "enum", "reason": "type: 'teleport' is not a command"])
        try r.add(["event": "ticket.rejected", "ticket_id": .null])
        try r.add(
            Self.event("ticket.reminder", "H", Self.t("09:20"), unit: "v1", [("light", "yellow"), ("clock", "sign")]))
        #expect(r.units(asOf: Self.date(Self.t("12:00"))).isEmpty)
        #expect((r.eventsRead, r.eventsPassedOver) == (3, 6))
    }

    @Test(arguments: [
        (
            UnitReportTests.event("ticket.signed", "A", "yesterday", unit: "v1"),
            "at: 'yesterday' is not an RFC 3339 time with an offset"
        ),
        (
            JSONObject([("event", "ticket.signed"), ("at", .string(UnitReportTests.t("09:00")))]),
            "ticket_id: is missing"
        ),
        (JSONObject([("event", .number("1"))]), "event: is a number, not a string"),
        (
            UnitReportTests.event(
                "ticket.dispatched", "A", UnitReportTests.t("09:00"), unit: "v1",
                [("deadlines", .object(["sign_by": "soon"]))]),
            "deadlines.sign_by: 'soon' is not an RFC 3339 time with an offset"
        ),
        (
            UnitReportTests.event(
                "ticket.dispatched", "A", UnitReportTests.t("09:00"), unit: "v1", [("deadlines", "none")]),
            "deadlines: is a string, not an object"
        ),
    ])
    func badEventsNameTheField(event: JSONObject, message: String) {
        var r = UnitReport(period: .init())
        do {
            try r.add(event)
            Issue.record("no error")
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func aCallbackWithAnUnknownSatisfactionIsAnError() throws {
        var r = UnitReport(period: .init())
        try r.add(
            Self.dispatched("A", Self.t("09:00"), unit: "v1", sign: Self.t("11:00"), resolve: Self.t("23:59", day: 4)))
        do {
            try r.add(Self.closed("A", Self.t("10:00"), unit: "v1", satisfaction: "delighted"))
            Issue.record("no error")
        } catch {
            #expect(
                error.description
                    == "satisfaction: 'delighted' is not one of satisfied, basically_satisfied, unsatisfied")
        }
    }

    @Test func rankingPutsUnitsWithoutTheRateLastAndBreaksTiesByVolume() {
        func row(_ unit: String, received: Int, satisfied: Int, reached: Int) -> UnitReport.Row {
            var r = UnitReport.Row(unit: unit, level: .town)
            r.received = received
            r.satisfied = satisfied
            r.callbacksReached = reached
            return r
        }
        let rows = [
            row("a", received: 5, satisfied: 0, reached: 0), row("b", received: 3, satisfied: 9, reached: 10),
            row("c", received: 8, satisfied: 9, reached: 10), row("d", received: 2, satisfied: 10, reached: 10),
            row("e", received: 9, satisfied: 0, reached: 0),
        ]
        #expect(UnitReport.ranked(rows, by: .satisfaction).map(\.unit) == ["d", "c", "b", "e", "a"])
        let total = UnitReport.total(rows)
        #expect((total.received, total.satisfied, total.callbacksReached) == (27, 28, 30))
    }
}

extension JSONObject {
    fileprivate func replacing(_ key: String, with value: JSONValue) -> JSONObject {
        var o = self
        o.set(key, value)
        return o
    }

    fileprivate func adding(_ member: (String, JSONValue)) -> JSONObject { replacing(member.0, with: member.1) }
}
