import Foundation
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import Testing

/// Clocks and timers: what stops them, the yellow and red lights, stale tokens, the working calendar.
@Suite struct LifecycleClockTests {
    @Test func dispatchStartsTheDecisionsClocksFromReceipt() throws {
        let r = try LC.run(LC.Sample.complaint)
        let d = try LC.decision(LC.Sample.complaint)
        #expect(r.holder == "chancheng.market")
        #expect(r.state.holder?.parents.map(\.unit) == ["city.market"])
        #expect(r.state.phase == .assigned)
        #expect(r.state.profile?.name == "appeal" && r.state.policy.name == "default")
        #expect(r.state.clocks.map(\.clock) == d.deadlines.map(\.clock))
        #expect(r.state.clocks.map(\.due) == d.deadlines.map(\.due))
        #expect(r.state.clocks.map(\.warnAt) == d.deadlines.map(\.warnAt))
        #expect(r.state.clocks.allSatisfy { $0.started == LC.monday && $0.isRunning })
        #expect(r.state.nextTimer == r.state.clock(.sign)?.warnAt)
        #expect(r.dispatch.types == [.dispatched])
        let e = try #require(r.dispatch.events.first)
        #expect(e.queues == ["unit.chancheng.market"] && e.carriesTicket)
        #expect(e.fields["deadlines"]?.objectValue?["resolve_by"]?.stringValue == "2026-03-05T23:59:59+08:00")
        #expect(e.string("rule") == "consumer-rights")
    }

    @Test func signStopsOnlyTheSignClock() throws {
        var r = try LC.run(LC.Sample.complaint)
        let t = r.send(.sign, time: LC.at("2026-03-02T09:20:00+08:00"))
        #expect(t.types == [.signed])
        #expect(r.state.clock(.sign)?.stoppedAt == r.now)
        #expect(r.state.clocks.filter(\.isRunning).map(\.clock) == [.contact, .resolve])
        #expect(r.state.nextTimer == r.state.clock(.contact)?.warnAt, "the sign clock no longer sets the timer")
    }

    @Test func contactStopsTheContactClock() throws {
        var r = try LC.run(LC.Sample.complaint)
        r.send(.sign, time: LC.at("2026-03-02T09:20:00+08:00"))
        r.send(.contact(note: "已联系"), time: LC.at("2026-03-02T09:40:00+08:00"))
        #expect(r.state.clock(.contact)?.stoppedAt == r.now)
        #expect(r.state.clocks.filter(\.isRunning).map(\.clock) == [.resolve])
        #expect(r.state.nextTimer == r.state.clock(.resolve)?.warnAt)
    }

    @Test func replyStopsEveryClockAndAsksForACallback() throws {
        var r = try LC.run(LC.Sample.villageUrgent)
        let t = r.send(.reply(outcome: .resolved, text: "已维修水管"), time: LC.at("2026-03-02T09:15:00+08:00"))
        #expect(t.types == [.replied, .callbackRequested])
        #expect(t.events[1].queues == ["callback"])
        #expect(t.events[1].string("outcome") == "resolved")
        #expect(r.state.clocks.count == 5)
        #expect(r.state.clocks.allSatisfy { $0.stoppedAt == r.now })
        #expect(r.state.nextTimer == nil)
    }

    @Test(arguments: [Clock.onsite, .answer])
    func aProgressMilestoneStopsItsClock(_ milestone: Clock) throws {
        var r = try LC.run(LC.Sample.villageUrgent)
        r.send(.sign, time: LC.at("2026-03-02T09:05:00+08:00"))
        let t = r.send(.progress(note: "工作人员已到场", milestone: milestone), time: LC.at("2026-03-02T09:40:00+08:00"))
        #expect(t.types == [.progress])
        #expect(t.events.first?.string("milestone") == milestone.rawValue)
        #expect(r.state.clock(milestone)?.stoppedAt == r.now)
        #expect(
            Set(r.state.clocks.filter(\.isRunning).map(\.clock))
                == Set<Clock>([.contact, .onsite, .answer, .resolve]).subtracting([milestone]))
    }

    @Test func progressWithoutAMilestoneStopsNothing() throws {
        var r = try LC.run(LC.Sample.villageUrgent)
        r.send(.sign, time: LC.at("2026-03-02T09:05:00+08:00"))
        let running = r.state.clocks.filter(\.isRunning).map(\.clock)
        r.send(.progress(note: "正在处理", milestone: nil))
        #expect(r.state.clocks.filter(\.isRunning).map(\.clock) == running)
    }

    /// (sample, profile, sign clock length, warn percent)
    static let lights: [(String, String, Double, Double)] = [
        ("complaint", "appeal", 7_200, 75),  // no warn_at: the rule language's default 75%
        ("enterprise", "enterprise", 3_600, 60),  // warn_at: 60%
        ("villageUrgent", "urgent-1213", 1_800, 80),
    ]

    static func sample(_ name: String) -> [String: JSONValue] {
        switch name {
        case "enterprise": LC.Sample.enterprise
        case "villageUrgent": LC.Sample.villageUrgent
        default: LC.Sample.complaint
        }
    }

    @Test(arguments: lights)
    func yellowAtTheProfilesThresholdRedAtTheDeadline(sample: String, profile: String, length: Double, percent: Double)
        throws
    {
        var r = try LC.run(Self.sample(sample))
        #expect(r.state.profile?.name == profile)
        let sign = try #require(r.state.clock(.sign))
        #expect(sign.warnAt == LC.monday.addingTimeInterval(length * percent / 100))
        #expect(sign.due == LC.monday.addingTimeInterval(length))
        #expect(r.state.nextTimer == sign.warnAt)

        // Just before the threshold nothing happens.
        let early = r.fire(at: sign.warnAt.addingTimeInterval(-1))
        #expect(early.events.isEmpty && !early.changed)

        let yellow = try r.fireDue()
        #expect(yellow.types == [.reminder])
        let y = try #require(yellow.events.first)
        #expect(y.string("light") == "yellow" && y.string("clock") == "sign")
        #expect(y.string("due") == LC.format(sign.due))
        #expect(y.queues == [r.state.holder?.queue].compactMap { $0 })
        #expect(r.state.clock(.sign)?.warned == true && r.state.clock(.sign)?.overdue == false)
        #expect(r.state.nextTimer == sign.due)

        let red = try r.fireDue()
        #expect(red.types.first == .overdue)
        #expect(red.events.first?.string("light") == "red")
        #expect(red.events.first?.string("clock") == "sign")
        #expect(
            red.events.first?.unit == "chancheng.market" || red.events.first?.unit == "chancheng.enterprise"
                || red.events.first?.unit == "nanhai.shishan.wuzhuang", "the red light goes to the unit that missed it")
    }

    @Test func aClockOutsideThePolicysClocksOnlyTurnsRed() throws {
        // `default` escalates on sign and resolve; the contact clock only shows its lights.
        var r = try LC.run(LC.Sample.complaint)
        r.send(.sign, time: LC.at("2026-03-02T09:05:00+08:00"))
        let contact = try #require(r.state.clock(.contact))
        #expect(try r.fireDue().types == [.reminder])
        #expect(r.now == contact.warnAt)
        let red = try r.fireDue()
        #expect(r.now == contact.due)
        #expect(red.types == [.overdue])
        #expect(red.events.first?.string("clock") == "contact")
        #expect(r.holder == "chancheng.market")
        #expect(r.state.escalations == 0 && !r.state.supervised)
        #expect(r.state.clock(.contact)?.overdue == true && r.state.clock(.contact)?.isRunning == true)
        #expect(r.state.nextTimer == r.state.clock(.resolve)?.warnAt)
    }

    @Test func aLateFireCatchesUpInTimeOrder() throws {
        // The dispatcher was down from 09:00 to 10:45: the sign clock's yellow and red light come in order, then
        // the escalation restarts the clocks at 10:45, so the contact clock of the old holder never shows.
        var r = try LC.run(LC.Sample.villageUrgent)
        let t = r.fire(at: LC.at("2026-03-02T10:45:00+08:00"))
        #expect(t.types == [.reminder, .overdue, .escalated])
        #expect(r.holder == "nanhai.shishan")
        #expect(r.state.clocks.allSatisfy { $0.started == r.now })
    }

    @Test func aStaleTokenDoesNothing() throws {
        var r = try LC.run(LC.Sample.complaint)
        let token = r.state.version
        r.send(.sign, time: LC.at("2026-03-02T09:05:00+08:00"))
        #expect(r.state.version == token + 1)
        let late = LC.at("2026-03-09T09:00:00+08:00")
        let t = r.lifecycle.fire(r.state, token: token, now: late)
        #expect(t.outcome == .staleTimer)
        #expect(t.events.isEmpty && !t.changed)
        #expect(t.state == r.state)
        // The current token works.
        #expect(!r.lifecycle.fire(r.state, token: r.state.version, now: late).events.isEmpty)
    }

    @Test(arguments: [Phase.closed, .handedOff])
    func aFinishedTicketHasNoTimer(_ phase: Phase) throws {
        let r = try LifecycleCommandTests.run(in: phase)
        #expect(r.state.nextTimer == nil)
        let t = r.lifecycle.fire(r.state, token: r.state.version, now: LC.at("2026-04-01T09:00:00+08:00"))
        #expect(t.outcome == .staleTimer && t.events.isEmpty)
    }

    @Test func aTimerFiredBeforeAnythingIsDueChangesNothing() throws {
        var r = try LC.run(LC.Sample.complaint)
        let before = r.state
        let t = r.fire(at: LC.monday.addingTimeInterval(60))
        #expect(t.events.isEmpty && !t.changed)
        #expect(r.state == before)
    }

    // MARK: The working calendar (Spring Festival 2026: 02-15..02-23 off, Sat 02-14 and Sat 02-28 worked)

    static let friday = LC.at("2026-02-13T15:00:00+08:00")

    @Test func theFridayBeforeSpringFestivalGetsWorkingDayDeadlinesAfterTheHoliday() throws {
        let r = try LC.run(LC.Sample.town, receivedAt: Self.friday)
        #expect(r.holder == "chancheng.zumiao")
        #expect(r.due(.sign) == "2026-02-13T17:00:00+08:00", "natural hours")
        #expect(r.due(.contact) == "2026-02-14T23:59:59+08:00", "1wd: the make-up Saturday")
        #expect(r.due(.resolve) == "2026-02-25T23:59:59+08:00", "3wd: 02-14, 02-24, 02-25")
        let resolve = try #require(r.state.clock(.resolve))
        let rules = try LC.rules()
        #expect(
            rules.calendar.isWorkingDay(rules.calendar.civilDate(of: resolve.warnAt)),
            "the yellow light comes on a working day")
    }

    @Test func clocksRestartedByEscalationDuringTheHolidayLandAfterIt() throws {
        var r = try LC.run(LC.Sample.town, receivedAt: Self.friday)
        // Nobody signed; the timer service catches up on the first holiday Monday.
        let t = r.fire(at: LC.at("2026-02-16T10:00:00+08:00"))
        #expect(t.types == [.reminder, .overdue, .escalated])
        #expect(r.holder == "chancheng")
        #expect(r.due(.sign) == "2026-02-16T12:00:00+08:00")
        #expect(r.due(.contact) == "2026-02-24T23:59:59+08:00", "1wd from a holiday is the first day back")
        #expect(r.due(.resolve) == "2026-02-26T23:59:59+08:00")
        // And once more, to the city, at the new sign deadline (still the holiday).
        while r.holder == "chancheng", r.fireNext() != nil {}
        #expect(r.holder == "city.supervision")
        #expect(LC.format(r.now) == "2026-02-16T12:00:00+08:00")
        #expect(r.due(.contact) == "2026-02-24T23:59:59+08:00")
        #expect(r.due(.resolve) == "2026-02-26T23:59:59+08:00")
        let escalated = try #require(r.log.last { $0.type == .escalated })
        #expect(escalated.fields["deadlines"]?.objectValue?["resolve_by"]?.stringValue == "2026-02-26T23:59:59+08:00")
    }

    @Test func aReworkOrderedDuringTheHolidayIsDueAfterIt() throws {
        var r = try LC.run(LC.Sample.town, receivedAt: Self.friday)
        r.send(.sign, time: LC.at("2026-02-13T15:30:00+08:00"))
        r.send(.reply(outcome: .resolved, text: "已处理"), time: LC.at("2026-02-13T16:30:00+08:00"))
        r.send(
            .callbackResult(reached: true, resolved: false, satisfaction: .unsatisfied, note: nil), from: "triage",
            time: LC.at("2026-02-15T10:00:00+08:00"))
        #expect(r.state.phase == .signed)
        #expect(r.due(.resolve) == "2026-02-26T23:59:59+08:00")
    }

    @Test func anExtensionDuringTheHolidayKeepsTheRequestedTime() throws {
        var r = try LC.run(LC.Sample.town, receivedAt: Self.friday)
        r.send(.sign, time: LC.at("2026-02-13T15:30:00+08:00"))
        r.send(.requestExtension(until: LC.at("2026-02-27T23:59:59+08:00"), reason: "节后才能现场核查"))
        r.send(.approveExtension(until: nil, note: nil), from: "triage", time: LC.at("2026-02-17T10:00:00+08:00"))
        #expect(r.due(.resolve) == "2026-02-27T23:59:59+08:00")
    }
}

/// Escalation up the pagoda when nobody acts, and supervision at the top.
@Suite struct LifecycleEscalationTests {
    @Test func aVillageTicketNobodyTouchesClimbsToTheCityOneLevelAtATime() throws {
        var r = try LC.run(LC.Sample.villageUrgent)
        let rules = try LC.rules()
        #expect(r.holder == "nanhai.shishan.wuzhuang")
        #expect(r.state.holder?.level == .village)
        #expect(r.state.holder?.parents.map(\.unit) == ["nanhai.shishan", "nanhai", "city.supervision"])
        #expect(r.state.policy.name == "urgent" && r.state.policy.remindEvery == "1h")

        let end = LC.at("2026-03-02T16:30:00+08:00")
        var fires = 0
        while let next = r.state.nextTimer, next <= end {
            let holderBefore = try #require(r.state.holder)
            let t = try r.fireDue()
            fires += 1
            #expect(r.state.holder != nil, "never without a holder")
            let escalations = t.events.filter { $0.type == .escalated }
            #expect(escalations.count <= 1, "one level per timer")
            if let e = escalations.first {
                let h = try #require(r.state.holder)
                #expect(h.unit == holderBefore.parents.first?.unit)
                #expect(e.unit == h.unit && e.level == h.level)
                #expect(
                    e.queues == [h.queue, holderBefore.queue], "the new holder and the unit that lost it hear of it")
                #expect(e.carriesTicket)
                #expect(e.string("from_unit") == holderBefore.unit && e.string("from_level") == holderBefore.level.name)
                #expect(e.fields["reason"]?.objectValue?["clock"]?.stringValue == "sign")
                #expect(r.state.coHandlers.last == holderBefore.unit)
                #expect(e.fields["co_handlers"]?.arrayValue?.compactMap(\.stringValue) == r.state.coHandlers)
                #expect(r.state.phase == .assigned && r.state.assignedAt == r.now)
                #expect(r.state.clocks.allSatisfy { $0.started == r.now && $0.isRunning && !$0.warned })
            }
        }
        #expect(fires > 10)

        let escalated = r.log.filter { $0.type == .escalated }
        #expect(escalated.map { $0.unit ?? "" } == ["nanhai.shishan", "nanhai", "city.supervision"])
        #expect(escalated.map { $0.level } == [.town, .district, .city])
        #expect(
            escalated.map { LC.format($0.at) ?? "" } == [
                "2026-03-02T09:30:00+08:00", "2026-03-02T10:00:00+08:00", "2026-03-02T10:30:00+08:00",
            ])
        #expect(r.state.coHandlers == ["nanhai.shishan.wuzhuang", "nanhai.shishan", "nanhai"])
        #expect(r.state.escalations == 3)
        #expect(r.holder == "city.supervision")

        // The sign clock at the top runs out at 11:00: supervision, then a reminder every hour (policy `urgent`).
        let supervised = r.log.filter { $0.type == .supervised }
        #expect(supervised.count == 1)
        #expect(LC.format(supervised.first?.at) == "2026-03-02T11:00:00+08:00")
        #expect(supervised.first?.string("reason") == "overdue_at_top")
        #expect(supervised.first?.queues == [rules.queueName(of: try #require(rules.unit(id: "city.supervision")))])
        #expect(r.state.supervised)
        let reminders = r.log.filter { $0.type == .reminder && $0.fields["supervision"]?.boolValue == true }
        #expect(
            reminders.map { LC.format($0.at) ?? "" }
                == ["12:00", "13:00", "14:00", "15:00", "16:00"].map { "2026-03-02T\($0):00+08:00" })
        #expect(reminders.allSatisfy { $0.string("light") == "red" })
        #expect(reminders.last?.fields["clocks"]?.arrayValue?.compactMap(\.stringValue) == ["sign", "contact"])
        #expect(LC.format(r.state.remindAt) == "2026-03-02T17:00:00+08:00")
        // The onsite clock is not in the policy: red, but no reminder lists it.
        #expect(r.log.contains { $0.type == .overdue && $0.string("clock") == "onsite" })
    }

    @Test func signingStopsTheEscalation() throws {
        // `default` escalates on sign and resolve: once signed the ticket stays until the resolve deadline.
        var r = try LC.run(LC.Sample.town)
        r.send(.sign, time: LC.at("2026-03-02T09:10:00+08:00"))
        let resolve = try #require(r.state.clock(.resolve))
        while let next = r.state.nextTimer, next < resolve.due { r.fireNext() }
        #expect(r.holder == "chancheng.zumiao")
        #expect(!r.log.contains { $0.type == .escalated })
        #expect(r.log.filter { $0.type == .overdue }.compactMap { $0.string("clock") } == ["contact"])
        // The resolve deadline passes: now it climbs.
        let t = try r.fireDue()
        #expect(t.types == [.overdue, .escalated])
        #expect(r.holder == "chancheng")
        #expect(r.state.phase == .assigned, "the new holder must sign again")
    }

    @Test func signingAtTheTownStopsTheClimbThere() throws {
        var r = try LC.run(LC.Sample.villageUrgent)
        while r.holder == "nanhai.shishan.wuzhuang" { try r.fireDue() }
        #expect(r.holder == "nanhai.shishan")
        r.send(.sign, time: r.now.addingTimeInterval(60))
        r.send(.contact(note: nil), time: r.now.addingTimeInterval(60))
        while let next = r.state.nextTimer, next < LC.at("2026-03-03T09:00:00+08:00") { r.fireNext() }
        #expect(r.holder == "nanhai.shishan")
        #expect(r.state.escalations == 1)
    }

    @Test func aTicketSupervisedBeforeItReachesTheTopIsStillRemindedThere() throws {
        // An enterprise's repeat complaint is supervised at dispatch; the district centre then does nothing.
        var r = try LC.run(LC.Sample.enterprise, repeatOf: "T-0", enterpriseRepeat: true)
        #expect(r.state.supervised)
        #expect(r.state.policy.name == "enterprise" && r.state.policy.remindEvery == "2h")
        let end = LC.at("2026-03-02T16:00:00+08:00")
        while let next = r.state.nextTimer, next <= end { r.fireNext() }
        #expect(r.holder == "city.enterprise")
        #expect(r.log.filter { $0.type == .supervised }.count == 1)
        let reminders = r.log.filter { $0.type == .reminder && $0.fields["supervision"]?.boolValue == true }
        // Every 2 hours from 11:00, in working time: 13:00 falls in the lunch break, so 14:00, then 16:00.
        #expect(reminders.map { LC.format($0.at) ?? "" } == ["2026-03-02T14:00:00+08:00", "2026-03-02T16:00:00+08:00"])
        #expect(reminders.first?.queues == ["unit.city.enterprise", "unit.city.supervision"])
    }

    @Test func theTopRemindsOnlyWhileAPolicyClockIsOverdue() throws {
        var r = try LC.run(LC.Sample.villageUrgent)
        while !r.state.supervised { try r.fireDue() }
        // The city signs and contacts after supervision: the next reminder finds nothing overdue and stops.
        r.send(.sign, time: r.now.addingTimeInterval(60))
        r.send(.contact(note: nil), time: r.now.addingTimeInterval(60))
        let remindAt = try #require(r.state.remindAt)
        r.fire(at: remindAt)
        #expect(r.state.remindAt == nil)
        #expect(!r.log.contains { $0.type == .reminder && $0.fields["supervision"]?.boolValue == true })
    }
}
