import Foundation
import PagodaJSON
import PagodaRules
import Testing

@testable import PagodaLifecycle

/// A return (退单) or extension (延期) request is the holder's response: while the centre decides, the
/// clocks of `request_pauses` stop, the centre's decision runs on its own clock (`return_review`,
/// `extension_review`), and a request nobody decides goes to supervision of the centre.
@Suite struct LifecycleRequestTests {
    /// Monday 2026-03-02, 09:30: half an hour after the complaint came to chancheng.market (sign-in by 11:00).
    static let nine30 = LC.at("2026-03-02T09:30:00+08:00")

    /// The complaint, not signed, asked to be returned at 09:30.
    static func returnedUnsigned(sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> Run {
        var r = try LC.run(LC.Sample.complaint, sourceLocation: sourceLocation)
        #expect(
            r.holder == "chancheng.market" && r.due(.sign) == "2026-03-02T11:00:00+08:00",
            sourceLocation: sourceLocation)
        #expect(r.state.policy.returnReview == "2wh", sourceLocation: sourceLocation)
        r.send(
            .requestReturn(reason: .notOurDuty, suggestedUnit: nil, text: "属城管职责"), time: nine30,
            sourceLocation: sourceLocation)
        return r
    }

    /// Fires every timer due up to `time` (inclusive) and moves the clock there.
    static func advance(_ r: inout Run, to time: Date) {
        while let next = r.state.nextTimer, next <= time { r.fireNext() }
        r.now = time
    }

    @Test func aReturnRequestStopsTheSignAndContactClocksAndStartsTheCentresReview() throws {
        let r = try Self.returnedUnsigned()
        let requested = try #require(r.log.last)
        #expect(requested.type == .returnRequested)
        // The centre's decision is due 2 working hours later (11:30), said in the request's event.
        #expect(requested.string("review_due") == "2026-03-02T11:30:00+08:00")
        #expect(LC.format(r.state.pendingReturn?.reviewDue) == "2026-03-02T11:30:00+08:00")
        #expect(r.state.clock(.sign)?.pausedAt == Self.nine30 && r.state.clock(.contact)?.pausedAt == Self.nine30)
        #expect(r.state.clock(.resolve)?.pausedAt == nil, "the resolution clock keeps running")
        // The next thing due is the review, not the sign-in light (10:30) or deadline (11:00).
        #expect(LC.format(r.state.nextTimer) == "2026-03-02T11:30:00+08:00")
    }

    /// The issue's scenario: asked to return 30 minutes after dispatch, unsigned; the centre approves after
    /// the sign-in deadline. The ticket did not climb meanwhile, and goes to another unit.
    @Test func aReturnDecidedAfterTheSignDeadlineIsRedispatchedToAnotherUnit() throws {
        var r = try Self.returnedUnsigned()
        Self.advance(&r, to: LC.at("2026-03-02T11:15:00+08:00"))
        #expect(
            !r.log.contains { $0.type == .overdue || $0.type == .escalated || $0.type == .reminder },
            "no light and no escalation for the paused sign-in clock: \(r.log.map(\.type.rawValue))")
        #expect(r.holder == "chancheng.market" && r.state.phase == .returnRequested)
        var excluded: Set<String> = []
        let t = r.send(
            .approveReturn(unit: nil, note: "改派"), from: "triage",
            reroute: {
                excluded = $0
                return "chancheng.urban"
            })
        #expect(t.types == [.returnApproved, .dispatched])
        #expect(excluded == ["chancheng.market"])
        #expect(r.holder == "chancheng.urban" && r.state.phase == .assigned && r.state.escalations == 0)
        #expect(t.events[1].unit == "chancheng.urban" && t.events[1].string("from_unit") == "chancheng.market")
        #expect(r.state.clocks.allSatisfy { $0.started == r.now && $0.pausedAt == nil }, "fresh clocks")
        #expect(r.due(.sign) == "2026-03-02T13:15:00+08:00")
    }

    /// A request the centre leaves undecided goes to supervision of the centre when its review time runs
    /// out; the holder keeps the ticket and nothing climbs.
    @Test func aReturnNobodyDecidesEndsInSupervisionOfTheCentreNotAnEscalation() throws {
        var r = try Self.returnedUnsigned()
        let rules = try LC.rules()
        Self.advance(&r, to: LC.at("2026-03-02T18:00:00+08:00"))
        let supervised = r.log.filter { $0.type == .supervised }
        #expect(supervised.count == 1)
        let s = try #require(supervised.first)
        #expect(LC.format(s.at) == "2026-03-02T11:30:00+08:00")
        #expect(s.string("reason") == "return_review_overdue")
        #expect(s.string("request") == "return")
        #expect(s.string("requested_at") == "2026-03-02T09:30:00+08:00")
        #expect(s.string("review_due") == "2026-03-02T11:30:00+08:00")
        let supervision = rules.queueName(of: try #require(rules.unit(id: "city.supervision")))
        #expect(s.queues == ["triage", supervision], "the centre hears of it, not the holder")
        #expect(!r.log.contains { $0.type == .escalated || $0.type == .overdue })
        #expect(r.holder == "chancheng.market" && r.state.phase == .returnRequested && r.state.supervised)
        #expect(r.state.pendingReturn?.reviewOverdue == true)
        // Supervised once: the next timer is the resolution clock's yellow light, which keeps running.
        let resolve = try #require(r.state.clock(.resolve))
        #expect(r.state.nextTimer == resolve.warnAt)
        // The centre can still decide.
        r.send(.approveReturn(unit: nil, note: nil), from: "triage", reroute: { _ in "chancheng.urban" })
        #expect(r.holder == "chancheng.urban")
    }

    /// After a rejection the paused clocks resume with the time they had left: the 2-hour sign-in clock
    /// (90 minutes left at 09:30) by the time the request waited; the 1-working-day contact clock with the
    /// working days it had left after the request's day (one: due at the end of the next working day).
    @Test(arguments: [
        ("2026-03-02T12:00:00+08:00", "2026-03-02T13:30:00+08:00", "2026-03-03T23:59:59+08:00"),
        ("2026-03-04T10:00:00+08:00", "2026-03-04T11:30:00+08:00", "2026-03-05T23:59:59+08:00"),
    ])
    func aRejectedReturnResumesTheClocksWithTheTimeTheyHadLeft(rejected: String, sign: String, contact: String) throws {
        var r = try Self.returnedUnsigned()
        #expect(r.due(.contact) == "2026-03-03T23:59:59+08:00")
        let resolve = try #require(r.state.clock(.resolve))
        Self.advance(&r, to: LC.at(rejected))
        let t = r.send(.rejectReturn(note: "属本单位职责"), from: "triage")
        #expect(t.types == [.returnRejected])
        #expect(r.state.phase == .assigned && r.state.pendingReturn == nil)
        #expect(r.due(.sign) == sign && r.due(.contact) == contact)
        #expect(r.state.clocks.allSatisfy { $0.pausedAt == nil && $0.isRunning })
        #expect(r.state.clock(.resolve)?.due == resolve.due, "the resolution clock never stopped")
        // The yellow light keeps its lead (30 minutes on the 2-hour clock at 75%).
        let signClock = try #require(r.state.clock(.sign))
        #expect(signClock.due.timeIntervalSince(signClock.warnAt) == 1_800)
        // The rejection tells the unit its deadlines.
        let deadlines = try #require(t.events.first?.fields["deadlines"]?.objectValue)
        #expect(deadlines["sign_by"]?.stringValue == sign && deadlines["contact_by"]?.stringValue == contact)
        // Unsigned still: the sign-in deadline now runs out at its new time and the ticket climbs.
        while r.state.escalations == 0 { try r.fireDue() }
        #expect(LC.format(r.now) == sign)
        #expect(r.holder == "city.market")
    }

    @Test func aWorkingHourClockResumesWithTheWorkingTimeItHadLeft() throws {
        var r = try LC.run(LC.Sample.complaint)
        // A profile whose contact clock counts working hours: 3 working hours from 09:00 is 12:00.
        r.state.profile?.limits = [
            .init(clock: .sign, duration: "2h"), .init(clock: .contact, duration: "3wh"),
            .init(clock: .resolve, duration: "3wd"),
        ]
        let calendar = try LC.rules().calendar
        r.state.clocks[1] = ClockState(
            clock: .contact, started: LC.monday, due: LC.at("2026-03-02T12:00:00+08:00"),
            warnAt: LC.at("2026-03-02T11:15:00+08:00"))
        r.send(
            .requestReturn(reason: .wrongArea, suggestedUnit: nil, text: nil),
            time: LC.at("2026-03-02T10:00:00+08:00"))
        // Two working hours left; rejected at 17:30: half an hour today, one and a half from 08:30 tomorrow.
        r.send(.rejectReturn(note: nil), from: "triage", time: LC.at("2026-03-02T17:30:00+08:00"))
        #expect(r.due(.contact) == "2026-03-03T10:00:00+08:00")
        let contact = try #require(r.state.clock(.contact))
        #expect(calendar.workingSeconds(from: LC.at("2026-03-02T17:30:00+08:00"), to: contact.due) == 7_200)
    }

    @Test func theRulesCanStopTheResolutionClockToo() throws {
        var r = try LC.run(LC.Sample.complaint)
        r.state.policy.requestPauses = [.sign, .contact, .resolve]
        r.send(.sign, time: LC.at("2026-03-02T09:05:00+08:00"))
        let resolve = try #require(r.state.clock(.resolve))
        r.send(.requestReturn(reason: .wrongArea, suggestedUnit: nil, text: nil), time: Self.nine30)
        #expect(r.state.clock(.resolve)?.pausedAt == Self.nine30)
        #expect(r.state.clock(.sign)?.pausedAt == nil, "a stopped clock stays stopped")
        r.send(.rejectReturn(note: nil), from: "triage", time: LC.at("2026-03-04T09:30:00+08:00"))
        // Paused on Monday with 3 working days after it left: due on the third working day after Wednesday.
        #expect(r.due(.resolve) == "2026-03-09T23:59:59+08:00")
        #expect(try #require(r.state.clock(.resolve)).due > resolve.due)
    }

    /// The report read from these events: the request was the unit's response, on time; the supervision
    /// of an undecided request is the centre's, not the unit's.
    @Test func theReportCountsTheRequestAsAResponseAndNotTheCentresSupervision() throws {
        var r = try Self.returnedUnsigned()
        Self.advance(&r, to: LC.at("2026-03-02T14:00:00+08:00"))
        r.send(.approveReturn(unit: nil, note: nil), from: "triage", reroute: { _ in "chancheng.urban" })
        var report = UnitReport(period: .init())
        for e in r.log { try report.add(e.json(offsetSeconds: LC.offset)) }
        let units = report.units(asOf: LC.at("2026-03-02T15:00:00+08:00"))
        let rows = Dictionary(uniqueKeysWithValues: units.map { ($0.unit, $0) })
        let market = try #require(rows["chancheng.market"])
        #expect((market.received, market.respondedOnTime, market.responseDue) == (1, 1, 1))
        #expect((market.supervised, market.returned, market.overdue, market.escalatedAway) == (0, 1, 0, 0))
        #expect(market.responseRate == 1)
        #expect(rows["chancheng.urban"]?.received == 1)
    }

    /// A resolution clock the rules stop while a request waits moves its deadline on rejection; a reply
    /// after the first deadline but before the resumed one is on time, in the report too.
    @Test func aReplyBeforeTheResumedResolutionDeadlineIsOnTimeInTheReport() throws {
        var r = try LC.run(LC.Sample.complaint)
        r.state.policy.requestPauses = [.sign, .contact, .resolve]
        r.send(.sign, time: LC.at("2026-03-02T09:05:00+08:00"))
        r.send(.requestReturn(reason: .wrongArea, suggestedUnit: nil, text: nil), time: Self.nine30)
        Self.advance(&r, to: LC.at("2026-03-04T09:30:00+08:00"))
        r.send(.rejectReturn(note: nil), from: "triage")
        Self.advance(&r, to: LC.at("2026-03-06T10:00:00+08:00"))
        #expect(!r.log.contains { $0.type == .overdue && $0.string("clock") == "resolve" })
        r.send(.reply(outcome: .resolved, text: "已处理"))
        var report = UnitReport(period: .init())
        for e in r.log { try report.add(e.json(offsetSeconds: LC.offset)) }
        let market = try #require(report.units(asOf: r.now).first { $0.unit == "chancheng.market" })
        #expect((market.replies, market.repliesOnTime) == (1, 1))
        #expect(market.onTimeRate == 1)
    }

    @Test func anExtensionRequestStopsTheContactClockAndItsReviewRunsOut() throws {
        var r = try LC.run(LC.Sample.complaint)
        #expect(r.state.policy.extensionReview == "1wd")
        r.send(.sign, time: LC.at("2026-03-02T09:05:00+08:00"))
        let resolve = try #require(r.state.clock(.resolve))
        let until = resolve.due.addingTimeInterval(2 * 86_400)
        let q = r.send(.requestExtension(until: until, reason: "需第三方检测"), time: Self.nine30)
        #expect(q.events.first?.string("review_due") == "2026-03-03T23:59:59+08:00")
        #expect(r.state.clock(.contact)?.pausedAt == Self.nine30)
        Self.advance(&r, to: LC.at("2026-03-04T09:00:00+08:00"))
        #expect(!r.log.contains { $0.type == .overdue && $0.string("clock") == "contact" }, "paused: no light")
        let s = try #require(r.log.first { $0.type == .supervised })
        #expect(LC.format(s.at) == "2026-03-03T23:59:59+08:00")
        #expect(s.string("reason") == "extension_review_overdue" && s.string("request") == "extension")
        #expect(r.holder == "chancheng.market" && r.state.escalations == 0)
        // Approved late: the contact clock resumes, the resolution deadline moves to the one granted.
        let t = r.send(.approveExtension(until: nil, note: nil), from: "triage")
        #expect(t.events.first?.fields["deadlines"]?.objectValue?["contact_by"]?.stringValue == r.due(.contact))
        #expect(r.state.clock(.contact)?.pausedAt == nil)
        #expect(r.due(.contact) == "2026-03-05T23:59:59+08:00")
    }

    @Test func anUndecidedRequestOfASupervisedTicketIsARedReminder() throws {
        // An enterprise's repeat complaint is supervised at dispatch.
        var r = try LC.run(LC.Sample.enterprise, repeatOf: "T-0", enterpriseRepeat: true)
        #expect(r.state.supervised)
        r.send(
            .requestReturn(reason: .notOurDuty, suggestedUnit: nil, text: nil),
            time: LC.at("2026-03-02T09:10:00+08:00"))
        Self.advance(&r, to: LC.at("2026-03-02T12:00:00+08:00"))
        #expect(r.log.filter { $0.type == .supervised }.count == 1)
        let reminder = try #require(r.log.first { $0.type == .reminder && $0.string("request") == "return" })
        #expect(LC.format(reminder.at) == "2026-03-02T11:10:00+08:00")
        #expect(reminder.string("light") == "red" && reminder.fields["supervision"]?.boolValue == true)
        #expect(reminder.string("review_due") == "2026-03-02T11:10:00+08:00")
    }

    @Test func aStateWithPausedClocksAndAPendingReviewIsStoredAndReadBack() throws {
        var r = try Self.returnedUnsigned()
        Self.advance(&r, to: LC.at("2026-03-02T12:00:00+08:00"))
        r.state.policy.requestPauses = [.sign]
        r.state.policy.remindAnyTime = []
        let bytes = r.state.encoded()
        let text = String(decoding: bytes, as: UTF8.self)
        for key in [
            #""paused":"#, #""review_due":"#, #""review_overdue":true"#, #""return_review":"2wh""#,
            #""request_pauses":["sign"]"#, #""remind_any_time":[]"#,
        ] {
            #expect(text.contains(key), "\(key) in \(text)")
        }
        #expect(try TicketState(encoded: bytes) == r.state)
        #expect(try TicketState(encoded: bytes, cache: StateDecodingCache()) == r.state)
    }

    @Test func aStateStoredBeforeRequestsHadReviewsReadsWithTheDefaults() throws {
        // Stored by an earlier version: no review, no pause, no urgency (reminded at any hour, as before), a
        // policy without the new keys.
        let old =
            #"{"v":3,"id":"T-1","received":794106000.0,"enterprise":false,"phase":"return_requested","#
            + #""assigned":794106000.0,"policy":{"name":"default","clocks":["sign","resolve"],"to_parent":true,"#
            + #""max_returns":2,"remind_every":"4h"},"clocks":[{"clock":"sign","started":794106000.0,"#
            + #""due":794113200.0,"warn":794111400.0}],"return":{"reason":"wrong_area","at":794107800.0,"#
            + #""previous":"assigned"}}"#
        let bytes = Array(old.utf8)
        for state in [try TicketState(encoded: bytes), try TicketState(encoded: bytes, cache: StateDecodingCache())] {
            #expect(state.urgency == nil)
            #expect(state.policy.returnReview == nil && state.policy.requestPauses == [.sign, .contact])
            #expect(state.policy.remindAnyTime == [.urgent, .emergency])
            #expect(state.pendingReturn?.reviewDue == nil && state.pendingReturn?.reviewOverdue == false)
            #expect(state.clocks.first?.pausedAt == nil)
        }
    }
}

/// Repeating supervision reminders go out in the units' working time, unless the ticket's urgency is one
/// the policy reminds at any hour; the first red light and supervision go out when they happen.
@Suite struct LifecycleReminderTests {
    @Test func aReminderFallingAt3OnSundayWaitsForMondayMorning() throws {
        // A town's ordinary matter received Saturday 17:00: nobody signs, it climbs every 2 hours and is
        // overdue at the top at 23:00. `default` reminds every 4 hours: the first would fall on Sunday 03:00.
        var r = try LC.run(LC.Sample.town, receivedAt: LC.at("2026-03-07T17:00:00+08:00"))
        #expect(r.holder == "chancheng.zumiao" && r.state.urgency == .normal)
        while !r.state.supervised { try r.fireDue() }
        #expect(LC.format(r.now) == "2026-03-07T23:00:00+08:00")
        let red = try #require(r.log.last { $0.type == .overdue })
        #expect(LC.format(red.at) == "2026-03-07T23:00:00+08:00", "the first red light goes out at its moment")
        #expect(LC.format(r.log.last { $0.type == .supervised }?.at) == "2026-03-07T23:00:00+08:00")
        // Sunday 03:00 is no working time: the reminder waits for Monday 08:30.
        #expect(LC.format(r.state.remindAt) == "2026-03-09T08:30:00+08:00")
        let reminders = { r.log.filter { $0.type == .reminder && $0.fields["supervision"]?.boolValue == true } }
        while reminders().isEmpty { try r.fireDue() }
        #expect(reminders().map { LC.format($0.at) ?? "" } == ["2026-03-09T08:30:00+08:00"])
        // 4 hours later is 12:30, the lunch break: the next one goes out at 14:00.
        #expect(LC.format(r.state.remindAt) == "2026-03-09T14:00:00+08:00")
    }

    @Test func anUrgentTicketsReminderGoesOutAt3OnSunday() throws {
        // Urgent help in a village received Saturday 23:00 climbs every 30 minutes and is overdue at the top
        // at 01:00; `urgent` reminds every hour, at any hour.
        var r = try LC.run(LC.Sample.villageUrgent, receivedAt: LC.at("2026-03-07T23:00:00+08:00"))
        #expect(r.state.urgency == .urgent && r.state.policy.remindAnyTime.contains(.urgent))
        while let next = r.state.nextTimer, next <= LC.at("2026-03-08T03:30:00+08:00") { r.fireNext() }
        #expect(LC.format(r.log.first { $0.type == .supervised }?.at) == "2026-03-08T01:00:00+08:00")
        let reminders = r.log.filter { $0.type == .reminder && $0.fields["supervision"]?.boolValue == true }
        #expect(reminders.map { LC.format($0.at) ?? "" } == ["2026-03-08T02:00:00+08:00", "2026-03-08T03:00:00+08:00"])
    }

    @Test func aTicketStoredWithoutItsUrgencyIsRemindedAtAnyHourAsBefore() throws {
        var r = try LC.run(LC.Sample.town, receivedAt: LC.at("2026-03-07T17:00:00+08:00"))
        r.state.urgency = nil
        r.state = try TicketState(encoded: r.state.encoded())
        #expect(r.state.urgency == nil)
        while !r.state.supervised { try r.fireDue() }
        #expect(LC.format(r.state.remindAt) == "2026-03-08T03:00:00+08:00")
    }

    @Test func theRulesSayWhichUrgenciesAreRemindedAtAnyHour() throws {
        var r = try LC.run(LC.Sample.town, receivedAt: LC.at("2026-03-07T17:00:00+08:00"))
        r.state.policy.remindAnyTime = [.normal, .urgent, .emergency]
        while !r.state.supervised { try r.fireDue() }
        #expect(LC.format(r.state.remindAt) == "2026-03-08T03:00:00+08:00")
    }
}
