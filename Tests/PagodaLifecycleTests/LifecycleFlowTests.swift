import Foundation
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import Testing

/// Returns, extensions, callbacks, redispatch, merge, the enterprise rules, emergencies, storage.
@Suite struct LifecycleFlowTests {
    static let nine10 = LC.at("2026-03-02T09:10:00+08:00")
    static let nine20 = LC.at("2026-03-02T09:20:00+08:00")
    static let ten = LC.at("2026-03-02T10:00:00+08:00")

    /// The complaint signed at 09:05 and returned (退单) at 09:10.
    static func returned(
        _ fields: [String: JSONValue] = LC.Sample.complaint, sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws -> Run {
        var r = try LC.run(fields, sourceLocation: sourceLocation)
        r.send(.sign, time: LC.at("2026-03-02T09:05:00+08:00"), sourceLocation: sourceLocation)
        let t = r.send(
            .requestReturn(reason: .notOurDuty, suggestedUnit: "chancheng.urban", text: "属城管职责"), time: nine10,
            sourceLocation: sourceLocation)
        #expect(t.events.first?.queues == ["triage"], sourceLocation: sourceLocation)
        #expect(t.events.first?.string("suggested_unit") == "chancheng.urban", sourceLocation: sourceLocation)
        return r
    }

    // MARK: Returns (退单)

    @Test func approvingAReturnToANamedUnitMovesTheTicketWithFreshClocks() throws {
        var r = try Self.returned()
        var asked = false
        let t = r.send(
            .approveReturn(unit: "chancheng.urban", note: "改派城管"), from: "triage", time: Self.ten,
            reroute: { _ in
                asked = true
                return "chancheng.housing"
            })
        #expect(!asked, "a named unit needs no re-routing")
        #expect(t.types == [.returnApproved, .dispatched])
        #expect(t.events[0].unit == "chancheng.market" && t.events[0].queues == ["unit.chancheng.market"])
        #expect(t.events[0].string("to_unit") == "chancheng.urban")
        #expect(
            t.events[1].unit == "chancheng.urban" && t.events[1].queues == ["unit.chancheng.urban"]
                && t.events[1].carriesTicket)
        #expect(t.events[1].string("reason") == "return" && t.events[1].string("from_unit") == "chancheng.market")
        #expect(r.holder == "chancheng.urban" && r.state.phase == .assigned)
        #expect(r.state.assignedAt == Self.ten)
        #expect(r.state.clocks.allSatisfy { $0.started == Self.ten && $0.isRunning })
        #expect(r.state.returns == 1 && r.state.returnedBy == ["chancheng.market"])
        #expect(r.state.pendingReturn == nil)
        #expect(r.state.coHandlers.isEmpty, "a unit that returned the ticket is not made a co-handler")
    }

    @Test func approvingAReturnWithoutAUnitUsesTheRerouteResultAndExcludesTheReturningUnit() throws {
        var r = try Self.returned()
        var excluded: [Set<String>] = []
        r.send(
            .approveReturn(unit: nil, note: nil), from: "triage", time: Self.ten,
            reroute: {
                excluded.append($0)
                return "chancheng.urban"
            })
        #expect(excluded == [["chancheng.market"]])
        #expect(r.holder == "chancheng.urban")
        // The second unit returns it too: both are passed over now.
        r.send(
            .requestReturn(reason: .wrongArea, suggestedUnit: nil, text: nil), time: LC.at("2026-03-02T10:10:00+08:00"))
        r.send(
            .approveReturn(unit: nil, note: nil), from: "triage", time: LC.at("2026-03-02T10:20:00+08:00"),
            reroute: {
                excluded.append($0)
                return "chancheng.housing"
            })
        #expect(excluded.last == ["chancheng.market", "chancheng.urban"])
        #expect(r.holder == "chancheng.housing")
        #expect(r.state.returns == 2 && !r.state.supervised)
    }

    @Test(arguments: [nil, "no.such.unit"] as [String?])
    func aReturnTheRulesCannotPlaceGoesToTriage(_ rerouted: String?) throws {
        var r = try Self.returned()
        let t = r.send(.approveReturn(unit: nil, note: nil), from: "triage", time: Self.ten, reroute: { _ in rerouted })
        #expect(r.holder == "triage")
        #expect(t.events[1].queues == ["triage"])
    }

    @Test(arguments: [("no.such.unit", "unknown_unit"), ("chancheng.market", "same_unit")])
    func approvingAReturnToABadUnitIsRefused(unit: String, code: String) throws {
        var r = try Self.returned()
        let t = r.send(.approveReturn(unit: unit, note: nil), from: "triage", time: Self.ten, expect: .refused)
        #expect(t.refusalCode == code)
        #expect(r.state.phase == .returnRequested && r.state.returns == 0)
    }

    @Test func aDecisionDatedBeforeTheRequestIsStale() throws {
        var r = try Self.returned()
        let t = r.send(
            .rejectReturn(note: nil), from: "triage", at: LC.at("2026-03-02T09:09:00+08:00"), expect: .refused)
        #expect(t.refusalCode == "stale")
        let u = r.send(
            .approveReturn(unit: nil, note: nil), from: "triage", at: LC.at("2026-03-02T09:09:00+08:00"),
            expect: .refused)
        #expect(u.refusalCode == "stale")
    }

    @Test(arguments: [Phase.assigned, .signed])
    func rejectingAReturnGoesBackToThePreviousPhase(_ previous: Phase) throws {
        var r = try LC.run(LC.Sample.complaint)
        if previous == .signed { r.send(.sign, time: LC.at("2026-03-02T09:05:00+08:00")) }
        let clocks = r.state.clocks
        r.send(.requestReturn(reason: .unclearOwnership, suggestedUnit: nil, text: nil), time: Self.nine10)
        #expect(r.state.pendingReturn?.previous == previous)
        let t = r.send(.rejectReturn(note: "请继续办理"), from: "triage", time: Self.ten)
        #expect(t.types == [.returnRejected])
        #expect(t.events.first?.queues == ["unit.chancheng.market"] && t.events.first?.string("note") == "请继续办理")
        #expect(r.state.phase == previous)
        #expect(r.state.pendingReturn == nil && r.state.returns == 0)
        // The resolution clock ran on; the contact clock (1 working day) kept its day; an unsigned sign-in
        // clock was stopped for the 50 minutes the request waited (LifecycleRequestTests has the rule).
        #expect(r.state.clock(.resolve) == clocks.first { $0.clock == .resolve })
        #expect(r.state.clock(.contact)?.due == clocks.first { $0.clock == .contact }?.due)
        let sign = try #require(clocks.first { $0.clock == .sign })
        #expect(r.state.clock(.sign)?.due == (previous == .signed ? sign.due : sign.due.addingTimeInterval(50 * 60)))
        #expect(r.state.clocks.allSatisfy { $0.pausedAt == nil })
        #expect(r.holder == "chancheng.market")
    }

    @Test(arguments: [(LC.Sample.complaint, 2, "city.supervision"), (LC.Sample.enterprise, 1, "city.supervision")])
    func exceedingMaxReturnsPutsTheTicketUnderSupervision(
        fields: [String: JSONValue], maxReturns: Int, supervision: String
    ) throws {
        var r = try LC.run(fields)
        #expect(r.state.policy.maxReturns == maxReturns)
        let units = ["chancheng.urban", "chancheng.housing", "chancheng.health"]
        var time = LC.monday
        for round in 0...maxReturns {
            time.addTimeInterval(600)
            r.send(.requestReturn(reason: .notOurDuty, suggestedUnit: nil, text: nil), time: time)
            time.addTimeInterval(600)
            let t = r.send(
                .approveReturn(unit: nil, note: nil), from: "triage", time: time, reroute: { _ in units[round] })
            if round < maxReturns {
                #expect(t.types == [.returnApproved, .dispatched])
                #expect(r.holder == units[round] && !r.state.supervised)
            } else {
                #expect(t.types == [.returnApproved, .dispatched, .supervised])
                #expect(r.holder == supervision)
                #expect(t.events[2].string("reason") == "returned_\(maxReturns + 1)_times")
                #expect(t.events[2].queues == ["unit.city.supervision"])
            }
        }
        #expect(r.state.supervised && r.state.returns == maxReturns + 1)
    }

    @Test func aNamedUnitIsOverriddenBySupervisionOnceReturnsRunOut() throws {
        var r = try LC.run(LC.Sample.enterprise)  // max_returns 1
        r.send(.requestReturn(reason: .notOurDuty, suggestedUnit: nil, text: nil), time: Self.nine10)
        r.send(.approveReturn(unit: "chancheng.hrss", note: nil), from: "triage", time: Self.nine20)
        #expect(r.holder == "chancheng.hrss" && !r.state.supervised)
        r.send(.requestReturn(reason: .notOurDuty, suggestedUnit: nil, text: nil), time: Self.ten)
        r.send(.approveReturn(unit: "chancheng.market", note: nil), from: "triage", time: Self.ten)
        #expect(r.holder == "city.supervision" && r.state.supervised)
    }

    @Test func aReturnStillWaitingWhenTheResolveClockRunsOutIsDroppedByTheEscalation() throws {
        // The resolution clock keeps running while a return waits (`request_pauses` names sign and
        // contact): left undecided until its deadline, the ticket climbs and the request is dropped.
        var r = try LC.run(LC.Sample.complaint)
        r.send(.requestReturn(reason: .wrongArea, suggestedUnit: nil, text: nil), time: Self.nine10)
        while r.state.escalations == 0 { try r.fireDue() }
        #expect(LC.format(r.now) == "2026-03-05T23:59:59+08:00")
        #expect(
            r.log.contains { $0.type == .supervised && $0.string("request") == "return" }, "supervised at the review")
        #expect(r.holder == "city.market" && r.state.phase == .assigned && r.state.pendingReturn == nil)
        #expect(r.state.clocks.allSatisfy { $0.pausedAt == nil })
        let t = r.send(.approveReturn(unit: nil, note: nil), from: "triage", expect: .refused)
        #expect(t.refusalCode == "invalid_state")
    }

    @Test func aTicketReturnedToTriageKeepsItsOwnProfile() throws {
        // Design as it stands: triage gets the ticket's clocks (appeal), not defaults.triage_sla.
        var r = try Self.returned()
        r.send(.approveReturn(unit: nil, note: nil), from: "triage", time: Self.ten)
        #expect(r.holder == "triage" && r.state.holder?.parents.isEmpty == true)
        #expect(r.state.profile?.name == "appeal")
        #expect(r.state.clocks.map(\.clock) == [.sign, .contact, .resolve])
    }

    // MARK: Extensions (延期)

    @Test(arguments: [nil, 86_400.0] as [Double?])
    func approvingAnExtensionMovesTheResolveDeadline(_ laterByCentre: Double?) throws {
        var r = try LC.run(LC.Sample.complaint)
        r.send(.sign, time: LC.at("2026-03-02T09:05:00+08:00"))
        let resolve = try #require(r.state.clock(.resolve))
        let requested = resolve.due.addingTimeInterval(2 * 86_400)
        let others = r.state.clocks.filter { $0.clock != .resolve }
        let q = r.send(.requestExtension(until: requested, reason: "需第三方检测"), time: Self.nine10)
        #expect(q.events.first?.queues == ["triage"])
        #expect(r.state.pendingExtension?.until == requested)
        #expect(r.state.clock(.resolve)?.due == resolve.due, "nothing moves until the centre approves")
        #expect(r.state.clock(.contact)?.pausedAt == Self.nine10, "the request answers the contact clock")
        let granted = laterByCentre.map { requested.addingTimeInterval($0) }
        let t = r.send(.approveExtension(until: granted, note: nil), from: "triage", time: Self.ten)
        let newDue = granted ?? requested
        #expect(t.types == [.extensionApproved])
        #expect(t.events.first?.string("resolve_by") == LC.format(newDue))
        let after = try #require(r.state.clock(.resolve))
        #expect(after.due == newDue)
        #expect(
            after.due.timeIntervalSince(after.warnAt) == resolve.due.timeIntervalSince(resolve.warnAt),
            "the yellow light keeps its lead")
        #expect(!after.warned && !after.overdue)
        #expect(r.state.pendingExtension == nil)
        // The contact clock resumes with the working day it had left: the same deadline.
        #expect(r.state.clocks.filter { $0.clock != .resolve } == others, "only the resolve clock moves")
    }

    @Test func rejectingAnExtensionKeepsTheDeadline() throws {
        var r = try LC.run(LC.Sample.complaint)
        let due = try #require(r.state.clock(.resolve)?.due)
        r.send(.requestExtension(until: due.addingTimeInterval(86_400), reason: "x"), time: Self.nine10)
        let t = r.send(.rejectExtension(note: "请按期办结"), from: "triage", time: Self.ten)
        #expect(t.types == [.extensionRejected])
        #expect(r.state.clock(.resolve)?.due == due)
        #expect(r.state.pendingExtension == nil)
        // A second request is possible after the answer, but not while one is pending.
        r.send(.requestExtension(until: due.addingTimeInterval(86_400), reason: "再次申请"))
        let again = r.send(.requestExtension(until: due.addingTimeInterval(2 * 86_400), reason: "x"), expect: .refused)
        #expect(again.refusalCode == "already_pending")
    }

    @Test(arguments: [0.0, -3_600])
    func anExtensionNotAfterTheDeadlineIsRefused(_ delta: Double) throws {
        var r = try LC.run(LC.Sample.complaint)
        let due = try #require(r.state.clock(.resolve)?.due)
        let t = r.send(
            .requestExtension(until: due.addingTimeInterval(delta), reason: "x"), time: Self.nine10, expect: .refused)
        #expect(t.refusalCode == "invalid_extension")
        #expect(r.state.pendingExtension == nil)
        // The centre cannot grant less than the deadline either.
        r.send(.requestExtension(until: due.addingTimeInterval(86_400), reason: "x"))
        let u = r.send(
            .approveExtension(until: due.addingTimeInterval(delta), note: nil), from: "triage", expect: .refused)
        #expect(u.refusalCode == "invalid_extension")
        #expect(r.state.pendingExtension != nil && r.state.clock(.resolve)?.due == due)
    }

    /// An extension is asked before the deadline: after it, or once its red light is on, it is refused, so
    /// that a late reply cannot be counted on time.
    @Test func anExtensionAskedAfterTheDeadlineIsRefused() throws {
        var r = try LC.run(LC.Sample.complaint)
        let due = try #require(r.state.clock(.resolve)?.due)
        let late = r.send(
            .requestExtension(until: due.addingTimeInterval(86_400), reason: "x"), time: due.addingTimeInterval(60),
            expect: .refused)
        #expect(late.refusalCode == "invalid_extension" && r.state.pendingExtension == nil)
        #expect(late.events.first?.string("reason")?.contains("has passed") == true)
        var red = try LC.run(LC.Sample.complaint)
        let i = try #require(red.state.clocks.firstIndex { $0.clock == .resolve })
        red.state.clocks[i].overdue = true
        let t = red.send(
            .requestExtension(until: due.addingTimeInterval(86_400), reason: "x"), time: Self.nine10, expect: .refused)
        #expect(t.refusalCode == "invalid_extension")
    }

    @Test func anExtensionWithoutARunningResolveClockIsRefused() throws {
        // No Foshan profile lacks a resolve clock; a state stored under another rule set may.
        var r = try LC.run(LC.Sample.complaint)
        r.state.clocks.removeAll { $0.clock == .resolve }
        let t = r.send(
            .requestExtension(until: LC.at("2026-04-01T00:00:00+08:00"), reason: "x"), time: Self.nine10,
            expect: .refused)
        #expect(t.refusalCode == "invalid_extension")
    }

    // MARK: Callback (回访)

    static func replied(
        _ fields: [String: JSONValue] = LC.Sample.complaint, sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws -> Run {
        var r = try LC.run(fields, sourceLocation: sourceLocation)
        r.send(.sign, time: LC.at("2026-03-02T09:05:00+08:00"), sourceLocation: sourceLocation)
        r.send(.reply(outcome: .resolved, text: "已处理"), time: nine10, sourceLocation: sourceLocation)
        return r
    }

    @Test(arguments: [Satisfaction.satisfied, .basicallySatisfied])
    func aSatisfiedCallbackCloses(_ satisfaction: Satisfaction) throws {
        var r = try Self.replied(LC.Sample.enterprise)
        let t = r.send(
            .callbackResult(reached: true, resolved: true, satisfaction: satisfaction, note: "满意"), from: "triage",
            time: Self.ten)
        #expect(t.types == [.closed])
        #expect(
            t.events.first?.string("reason") == "callback"
                && t.events.first?.string("satisfaction") == satisfaction.rawValue)
        #expect(r.state.phase == .closed)
        #expect(r.state.nextTimer == nil && r.state.enterpriseWatchAt == nil)
    }

    @Test func anUnsatisfiedCallbackReopensToTheSameUnitThenSupervisesAfterTwoReworks() throws {
        var r = try Self.replied()
        let t = r.send(
            .callbackResult(reached: true, resolved: false, satisfaction: .unsatisfied, note: "未解决"), from: "triage",
            time: Self.ten)
        #expect(t.types == [.reopened])
        #expect(t.events.first?.queues == ["unit.chancheng.market"])
        #expect(t.events.first?.fields["reworks"] == .integer(1))
        #expect(r.holder == "chancheng.market" && r.state.phase == .signed)
        #expect(r.state.reworks == 1 && !r.state.supervised)
        #expect(r.state.assignedAt == Self.ten)
        let resolve = try #require(r.state.clock(.resolve))
        #expect(resolve.started == Self.ten && resolve.isRunning)
        #expect(r.due(.resolve) == "2026-03-05T23:59:59+08:00")
        #expect(r.state.clocks.filter(\.isRunning).map(\.clock) == [.resolve], "only the resolve clock runs again")
        #expect(
            t.events.first?.fields["deadlines"]?.objectValue?["resolve_by"]?.stringValue == "2026-03-05T23:59:59+08:00")

        r.send(.reply(outcome: .resolved, text: "已再次处理"), time: LC.at("2026-03-03T10:00:00+08:00"))
        let second = r.send(
            .callbackResult(reached: true, resolved: false, satisfaction: .unsatisfied, note: nil), from: "triage",
            time: LC.at("2026-03-03T15:00:00+08:00"))
        #expect(second.types == [.reopened, .supervised])
        #expect(second.events[1].string("reason") == "unsatisfied_2_times")
        #expect(second.events[1].queues == ["unit.chancheng.market", "unit.city.supervision"])
        #expect(r.state.reworks == 2 && r.state.supervised)
        #expect(r.due(.resolve) == "2026-03-06T23:59:59+08:00")
    }

    @Test func anUnsatisfiedEnterpriseIsSupervisedAtOnce() throws {
        var r = try Self.replied(LC.Sample.enterprise)
        let t = r.send(
            .callbackResult(reached: true, resolved: false, satisfaction: .unsatisfied, note: nil), from: "triage",
            time: Self.ten)
        #expect(t.types == [.reopened, .supervised])
        #expect(t.events[1].string("reason") == "enterprise_unsatisfied")
        #expect(r.state.reworks == 1 && r.state.supervised)
    }

    @Test(arguments: [(false, Satisfaction?.some(.satisfied)), (false, nil), (true, nil)])
    func aCallbackThatReachesNobodyOrGetsNoAnswerKeepsItReplied(reached: Bool, satisfaction: Satisfaction?) throws {
        var r = try Self.replied()
        let t = r.send(
            .callbackResult(reached: reached, resolved: nil, satisfaction: satisfaction, note: "无人接听"), from: "triage",
            time: Self.ten)
        #expect(t.types == [.callbackRecorded])
        #expect(t.events.first?.fields["reached"] == .bool(reached))
        #expect(r.state.phase == .replied && r.state.reworks == 0)
        // The centre calls again later.
        r.send(.callbackResult(reached: true, resolved: true, satisfaction: .satisfied, note: nil), from: "triage")
        #expect(r.state.phase == .closed)
    }

    // MARK: Redispatch, merge

    @Test func redispatchMovesTheTicketWithFreshClocks() throws {
        var r = try LC.run(LC.Sample.complaint)
        r.send(.sign, time: LC.at("2026-03-02T09:05:00+08:00"))
        r.send(.requestExtension(until: LC.at("2026-03-20T00:00:00+08:00"), reason: "x"))
        let t = r.send(.redispatch(unit: "nanhai.market", note: "属南海区"), from: "triage", time: Self.ten)
        #expect(t.types == [.redispatched, .dispatched])
        #expect(t.events[0].queues == ["unit.chancheng.market"] && t.events[0].string("to_unit") == "nanhai.market")
        #expect(
            t.events[1].queues == ["unit.nanhai.market"] && t.events[1].carriesTicket
                && t.events[1].string("reason") == "redispatch")
        #expect(r.holder == "nanhai.market" && r.state.holder?.parents.map(\.unit) == ["city.market"])
        #expect(r.state.phase == .assigned && r.state.assignedAt == Self.ten)
        #expect(r.state.clocks.allSatisfy { $0.started == Self.ten && $0.isRunning })
        #expect(r.state.pendingExtension == nil)
        #expect(r.state.returns == 0 && r.state.returnedBy.isEmpty && r.state.coHandlers.isEmpty)
    }

    @Test(arguments: [("no.such.unit", "unknown_unit"), ("chancheng.market", "same_unit")])
    func redispatchToABadUnitIsRefused(unit: String, code: String) throws {
        var r = try LC.run(LC.Sample.complaint)
        #expect(r.send(.redispatch(unit: unit, note: nil), from: "triage", expect: .refused).refusalCode == code)
    }

    @Test func mergeClosesTheTicket() throws {
        var r = try LC.run(LC.Sample.complaint)
        r.send(.sign, time: LC.at("2026-03-02T09:05:00+08:00"))
        let t = r.send(.merge(into: "T-0", note: "重复件"), from: "triage", time: Self.ten)
        #expect(t.types == [.closed])
        #expect(t.events.first?.string("reason") == "merged" && t.events.first?.string("merged_into") == "T-0")
        #expect(r.state.phase == .closed && r.state.mergedInto == "T-0")
        #expect(r.state.clocks.allSatisfy { !$0.isRunning })
        #expect(r.state.nextTimer == nil)
        let after = r.send(.progress(note: "x", milestone: nil), expect: .refused)
        #expect(after.refusalCode == "ticket_closed")
        #expect(after.events.first?.string("reason")?.contains("merged into T-0") == true)
    }

    @Test func aTicketCannotBeMergedIntoItself() throws {
        var r = try LC.run(LC.Sample.complaint)
        #expect(r.send(.merge(into: "T-1", note: nil), from: "triage", expect: .refused).refusalCode == "invalid_merge")
    }

    // MARK: Enterprise, emergency

    @Test func anEnterpriseTicketOpenSevenDaysIsSupervised() throws {
        var r = try LC.run(LC.Sample.enterprise)
        #expect(r.state.enterprise)
        let watch = LC.monday.addingTimeInterval(7 * 86_400)
        #expect(r.state.enterpriseWatchAt == watch)
        // The unit acts in time and gets its deadline moved past the seventh day, so nothing escalates.
        r.send(.sign, time: LC.at("2026-03-02T09:10:00+08:00"))
        r.send(.contact(note: nil), time: LC.at("2026-03-02T09:30:00+08:00"))
        r.send(.requestExtension(until: LC.at("2026-03-13T23:59:59+08:00"), reason: "需协调供电局"))
        r.send(.approveExtension(until: nil, note: nil), from: "triage", time: Self.ten)
        while !r.state.supervised, r.fireNext() != nil {}
        #expect(r.now == watch)
        let e = try #require(r.log.last)
        #expect(e.type == .supervised && e.string("reason") == "enterprise_open_7_days")
        #expect(e.queues == ["unit.chancheng.enterprise", "unit.city.supervision"])
        #expect(r.state.enterpriseWatchAt == nil)
        #expect(r.holder == "chancheng.enterprise" && r.state.escalations == 0)
    }

    @Test func aRepliedEnterpriseTicketWaitingForItsCallbackStillCountsAsOpen() throws {
        var r = try Self.replied(LC.Sample.enterprise)
        #expect(r.state.nextTimer == LC.monday.addingTimeInterval(7 * 86_400))
        r.fireNext()
        #expect(r.state.supervised && r.state.phase == .replied)
    }

    @Test func anOrdinaryTicketHasNoSevenDayWatch() throws {
        let r = try LC.run(LC.Sample.complaint)
        #expect(r.state.enterpriseWatchAt == nil)
    }

    @Test func anEnterpriseRepeatIsSupervisedAtDispatch() throws {
        let r = try LC.run(LC.Sample.enterprise, repeatOf: "T-0", enterpriseRepeat: true)
        #expect(r.dispatch.types == [.dispatched, .supervised])
        #expect(r.dispatch.events[0].string("repeat_of") == "T-0")
        #expect(r.dispatch.events[1].string("reason") == "enterprise_repeat")
        #expect(r.state.supervised && r.state.repeatOf == "T-0")
        // A plain repeat is only noted.
        let plain = try LC.run(LC.Sample.complaint, repeatOf: "T-0")
        #expect(plain.dispatch.types == [.dispatched] && !plain.state.supervised && plain.state.repeatOf == "T-0")
    }

    /// Supervised at dispatch for its repeat, the enterprise is then dissatisfied: the ticket stays supervised
    /// once, and the supervision office hears of the dissatisfaction (the one-to-one callback) as a red
    /// reminder naming it.
    @Test func anEnterpriseDissatisfiedAfterItsRepeatWasSupervisedReachesTheOffice() throws {
        var r = try LC.run(LC.Sample.enterprise, repeatOf: "T-0", enterpriseRepeat: true)
        r.send(.reply(outcome: .resolved, text: "已处理"), time: Self.nine10)
        let t = r.send(
            .callbackResult(reached: true, resolved: false, satisfaction: .unsatisfied, note: nil), from: "triage",
            time: Self.ten)
        #expect(t.types.contains(.reopened) && !t.types.contains(.supervised))
        let reminder = try #require(t.events.first { $0.type == .reminder })
        #expect(reminder.string("reason") == "enterprise_unsatisfied" && reminder.string("light") == "red")
        #expect(reminder.fields["supervision"]?.boolValue == true)
        #expect(reminder.queues.contains("unit.city.supervision"), "\(reminder.queues)")
        #expect(r.log.filter { $0.type == .supervised }.count == 1 && r.state.supervised)
    }

    @Test func anEmergencyIsHandedOffWithoutATimer() throws {
        let r = try LC.run(LC.Sample.fire)
        #expect(r.state.phase == .handedOff)
        #expect(r.state.holder == nil)
        #expect(r.state.clocks.isEmpty && r.state.nextTimer == nil)
        #expect(r.dispatch.types == [.dispatched])
        let e = try #require(r.dispatch.events.first)
        #expect(e.string("destination") == "emergency" && e.string("emergency") == "119")
        #expect(e.unit == nil && e.queues.isEmpty && !e.carriesTicket)
    }

    // MARK: Event ids

    @Test func everyEventIDIsUniqueOverATicketsLife() throws {
        var r = try LC.run(LC.Sample.villageUrgent)
        try r.fireDue()
        try r.fireDue()  // escalated to the town
        r.send(.progress(note: "已派人", milestone: nil), time: r.now.addingTimeInterval(60))  // signs implicitly
        let noOp = r.send(.progress(note: "仍在处理", milestone: nil))
        #expect(noOp.changed, "a progress note changes nothing but the remembered ids, which must be stored")
        r.send(.sign, expect: .refused)
        r.send(.requestExtension(until: LC.at("2026-03-20T00:00:00+08:00"), reason: "x"))
        r.send(.rejectExtension(note: nil), from: "triage")
        r.send(.reply(outcome: .resolved, text: "已处理"))
        r.send(.callbackResult(reached: false, resolved: nil, satisfaction: nil, note: nil), from: "triage")
        r.send(.callbackResult(reached: true, resolved: false, satisfaction: .unsatisfied, note: nil), from: "triage")
        r.send(.reply(outcome: .resolved, text: "已再次处理"), time: r.now.addingTimeInterval(3_600))
        r.send(.callbackResult(reached: true, resolved: true, satisfaction: .satisfied, note: nil), from: "triage")
        #expect(r.state.phase == .closed)
        #expect(r.log.count > 15)
        #expect(Set(r.log.map(\.id)).count == r.log.count, "\(r.log.map(\.id))")
        #expect(zip(r.log, r.log.dropFirst()).allSatisfy { $0.version <= $1.version })
    }

    // MARK: Storage

    /// States the service stores, from every corner of the machine.
    static let stored: [String] = [
        "dispatched", "escalated-supervised", "return-pending", "extension-pending", "reopened", "merged",
        "handed-off", "before-warning", "review-overdue",
    ]

    static func state(_ name: String) throws -> TicketState {
        switch name {
        case "escalated-supervised":
            var r = try LC.run(LC.Sample.villageUrgent)
            while r.state.remindAt == nil || !r.state.supervised { try r.fireDue() }
            return r.state
        case "return-pending": return try returned().state
        case "extension-pending":
            var r = try LC.run(LC.Sample.enterprise, repeatOf: "T-0", enterpriseRepeat: true)
            r.send(.requestExtension(until: LC.at("2026-03-13T23:59:59+08:00"), reason: "x"), time: nine10)
            return r.state
        case "reopened":
            var r = try replied()
            r.send(
                .callbackResult(reached: true, resolved: false, satisfaction: .unsatisfied, note: nil), from: "triage",
                time: ten)
            return r.state
        case "merged":
            var r = try LC.run(LC.Sample.complaint)
            r.send(.merge(into: "T-0", note: nil), from: "triage", time: ten)
            return r.state
        case "handed-off": return try LC.run(LC.Sample.fire).state
        case "review-overdue":
            // Paused clocks, a return whose review ran out, a policy with every request key not at its default.
            var r = try returned()
            r.state.policy.requestPauses = [.contact, .resolve]
            r.state.policy.remindAnyTime = []
            while !r.state.supervised { try r.fireDue() }
            return r.state
        case "before-warning":
            // Sub-second times (a command at 09:00:00.123) must survive too.
            var r = try LC.run(LC.Sample.complaint)
            r.send(.sign, time: LC.monday.addingTimeInterval(0.123))
            return r.state
        default: return try LC.run(LC.Sample.complaint).state
        }
    }

    @Test(arguments: stored)
    func ticketStateSurvivesTheStoredEncoding(_ name: String) throws {
        let state = try Self.state(name)
        let decoded = try TicketState(encoded: state.encoded())
        #expect(decoded == state)
        #expect(decoded.encoded() == state.encoded())
        // The bytes are what serializing their parsed JSON gives: compact, members in order.
        #expect(JSON.serialize(try JSON.parse(state.encoded())) == state.encoded())
        // Reading through a cache gives the same state, the first time and when the snapshots come from it.
        let cache = StateDecodingCache()
        #expect(try TicketState(encoded: state.encoded(), cache: cache) == state)
        #expect(try TicketState(encoded: state.encoded(), cache: cache) == state)
        #expect(
            cache.counts.policies == 1 && cache.counts.holders == (state.holder == nil ? 0 : 1)
                && cache.counts.profiles == (state.profile == nil ? 0 : 1))
        let lifecycle = try LC.lifecycle()
        let later = LC.at("2026-03-20T09:00:00+08:00")
        let a = lifecycle.fire(state, token: state.version, now: later)
        let b = lifecycle.fire(decoded, token: decoded.version, now: later)
        #expect(a.state == b.state && a.events == b.events)
    }

    @Test func aDamagedStoredStateNamesTheField() throws {
        let state = try Self.state("escalated-supervised")
        let text = String(decoding: state.encoded(), as: UTF8.self).replacingOccurrences(
            of: #""level":"[a-z]+""#, with: #""level":"hamlet""#, options: .regularExpression)
        #expect(throws: StateDecodingError.self) { try TicketState(encoded: Array(text.utf8)) }
        do {
            _ = try TicketState(encoded: Array(text.utf8))
        } catch let e as StateDecodingError {
            #expect(e.reason == "unknown level hamlet" && e.field.hasSuffix("level"), "\(e)")
        }
        // Through the cache: the same error, every time (a snapshot that fails to read is not kept).
        let cache = StateDecodingCache()
        for _ in 0..<2 {
            do {
                _ = try TicketState(encoded: Array(text.utf8), cache: cache)
                Issue.record("a damaged state was read")
            } catch let e as StateDecodingError {
                #expect(e.reason == "unknown level hamlet" && e.field == "holder.level", "\(e)")
            }
        }
        #expect(cache.counts.holders == 0)
    }

    @Test func theDecodingCacheReadsNullSnapshotsAsAbsentAndStaysBounded() throws {
        let state = try Self.state("default")
        // A null holder or profile reads as none, a null policy as missing, as without the cache.
        var o = try #require(try JSON.parse(state.encoded()).objectValue)
        #expect(o["profile"] != nil)
        o.set("profile", .null)
        let text = JSON.serializeToString(.object(o))
        let plain = try TicketState(encoded: Array(text.utf8))
        let cache = StateDecodingCache(capacity: 2)
        #expect(plain.profile == nil)
        #expect(try TicketState(encoded: Array(text.utf8), cache: cache) == plain)
        o.set("policy", .null)
        let noPolicy = JSON.serializeToString(.object(o))
        for decode in [
            { try TicketState(encoded: Array(noPolicy.utf8)) },
            { try TicketState(encoded: Array(noPolicy.utf8), cache: cache) },
        ] {
            do {
                _ = try decode()
                Issue.record("a state without a policy was read")
            } catch let e as StateDecodingError {
                #expect(e.field == "policy" && e.reason == "missing", "\(e)")
            }
        }
        // Past its capacity the cache starts over instead of growing.
        for name in Self.stored {
            _ = try TicketState(encoded: Self.state(name).encoded(), cache: cache)
            #expect(cache.counts.holders <= 2 && cache.counts.profiles <= 2 && cache.counts.policies <= 2)
        }
    }

    @Test(arguments: stored)
    func ticketStateSurvivesAJSONRoundTrip(_ name: String) throws {
        let state = try Self.state(name)
        let data = try JSONEncoder().encode(state)
        let decoded = try JSONDecoder().decode(TicketState.self, from: data)
        #expect(decoded == state)
        #expect(decoded.nextTimer == state.nextTimer && decoded.version == state.version)
        // And the decoded state behaves the same.
        let lifecycle = try LC.lifecycle()
        let later = LC.at("2026-03-20T09:00:00+08:00")
        let a = lifecycle.fire(state, token: state.version, now: later)
        let b = lifecycle.fire(decoded, token: decoded.version, now: later)
        #expect(a.state == b.state && a.events == b.events)
    }
}
