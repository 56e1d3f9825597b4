import Foundation
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import Testing

/// Each command's own handling: the state it changes, the fields of its events, and the exact sentence
/// of each refusal (`command.rejected`'s `reason` is part of the wire output).
@Suite struct CommandHandlingTests {
    static let nine05 = LC.at("2026-03-02T09:05:00+08:00")
    static let nine10 = LC.at("2026-03-02T09:10:00+08:00")
    static let ten = LC.at("2026-03-02T10:00:00+08:00")

    /// The refusal of a refused transition as `code: reason`.
    static func refusal(_ t: Transition, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> String {
        let e = try #require(t.events.first, sourceLocation: sourceLocation)
        #expect(e.type == .commandRejected && t.events.count == 1, sourceLocation: sourceLocation)
        return "\(e.string("code") ?? "-"): \(e.string("reason") ?? "-")"
    }

    // MARK: Codes

    @Test func theRefusalCodesAreTheContractsClosedSet() throws {
        #expect(
            Refusal.Code.allCases.map(\.rawValue) == [
                "unknown_ticket", "ticket_closed", "handed_off", "not_holder", "not_authorized", "stale", "future",
                "invalid_state", "already_signed", "already_pending", "invalid_extension", "unknown_unit", "same_unit",
                "invalid_merge",
            ])
        let url = LC.repositoryRoot.appendingPathComponent("docs/contract.md")
        let contract = try String(contentsOf: url, encoding: .utf8)
        let start = try #require(contract.range(of: "Refusal codes of `command.rejected`"))
        let paragraph = String(contract[start.lowerBound...].prefix(900))
        for code in Refusal.Code.allCases {
            #expect(paragraph.contains("`\(code.rawValue)`"), "docs/contract.md lists \(code.rawValue)")
        }
    }

    // MARK: Checks every command passes

    @Test func theCommonChecksSayWhatIsWrong() throws {
        var r = try LC.run(LC.Sample.complaint)
        r.now = Self.ten
        let future = try Self.refusal(r.send(.sign, at: Self.ten.addingTimeInterval(301), expect: .refused))
        #expect(
            future == "future: at 2026-03-02T10:05:01+08:00 is ahead of the dispatcher's clock"
                + " (2026-03-02T10:00:00+08:00)")
        let notHolder = try Self.refusal(r.send(.sign, from: "chancheng.urban", expect: .refused))
        #expect(notHolder == "not_holder: unit chancheng.urban does not hold ticket T-1 (held by chancheng.market)")
        let stale = try Self.refusal(r.send(.sign, at: LC.monday.addingTimeInterval(-60), expect: .refused))
        #expect(
            stale == "stale: issued at 2026-03-02T08:59:00+08:00, before the ticket came to chancheng.market"
                + " at 2026-03-02T09:00:00+08:00")
        let centre = try Self.refusal(
            r.send(
                .merge(into: "T-0", note: nil), from: "chancheng.market",
                expect: .refused))
        #expect(
            centre == "not_authorized: merge is for the hotline centre (city.supervision, triage),"
                + " not unit chancheng.market")
        #expect(r.state.phase == .assigned)

        r.send(.merge(into: "T-0", note: nil), from: "triage")
        let closed = try Self.refusal(r.send(.sign, expect: .refused))
        #expect(closed == "ticket_closed: ticket T-1 is closed (merged into T-0)")

        var fire = try LC.run(LC.Sample.fire)
        let handedOff = try Self.refusal(fire.send(.sign, from: "triage", expect: .refused))
        #expect(handedOff == "handed_off: ticket T-1 was handed to an emergency line")

        let command = Command(id: "c", ticketID: "T-9", unit: "triage", at: LC.monday, action: .sign)
        let unknown = try LC.lifecycle().handle(command, state: nil, now: LC.monday)
        #expect(try Self.refusal(unknown) == "unknown_ticket: no ticket T-9 was dispatched")
    }

    @Test func aCommandNotPossibleInThePhaseNamesTheCommandAndThePhase() throws {
        var r = try LC.run(LC.Sample.complaint)
        let t = r.send(.rejectReturn(note: nil), from: "triage", expect: .refused)
        #expect(try Self.refusal(t) == "invalid_state: reject_return is not possible while the ticket is assigned")
    }

    // MARK: The holder's commands

    @Test func signStopsTheSignClockOnlyAndSaysWhenSignedBefore() throws {
        var r = try LC.run(LC.Sample.complaint)
        let t = r.send(.sign, time: Self.nine05)
        #expect(t.types == [.signed] && t.events[0].queues.isEmpty && t.events[0].fields.isEmpty)
        #expect(r.state.phase == .signed)
        #expect(r.state.clocks.map { $0.isRunning } == r.state.clocks.map { $0.clock != .sign })
        #expect(r.state.clock(.sign)?.stoppedAt == Self.nine05)
        let again = r.send(.sign, expect: .refused)
        #expect(try Self.refusal(again) == "already_signed: chancheng.market already signed for ticket T-1")
    }

    @Test(arguments: ["已电话联系市民", nil] as [String?])
    func contactSignsAndStopsTheContactClock(_ note: String?) throws {
        var r = try LC.run(LC.Sample.complaint)
        let t = r.send(.contact(note: note), time: Self.nine10)
        #expect(t.types == [.contacted])
        #expect(t.events[0].string("note") == note && t.events[0].fields.count == (note == nil ? 0 : 1))
        #expect(r.state.phase == .signed)
        #expect(r.state.clock(.sign)?.stoppedAt == Self.nine10 && r.state.clock(.contact)?.stoppedAt == Self.nine10)
        #expect(r.state.clock(.resolve)?.isRunning == true)
    }

    @Test func progressWithAMilestoneStopsThatClock() throws {
        var r = try LC.run(LC.Sample.villageUrgent)
        let onsite = try #require(r.state.clock(.onsite))
        #expect(onsite.isRunning)
        let t = r.send(.progress(note: "已到现场", milestone: .onsite), time: Self.nine10)
        #expect(t.types == [.progress])
        #expect(t.events[0].string("note") == "已到现场" && t.events[0].string("milestone") == "onsite")
        #expect(r.state.phase == .signed, "progress signs implicitly")
        #expect(r.state.clock(.onsite)?.stoppedAt == Self.nine10)
        #expect(r.state.clock(.resolve)?.isRunning == true)
        // Without a milestone no clock stops; a note is possible while a return is pending.
        let running = r.state.clocks.filter(\.isRunning).count
        r.send(.requestReturn(reason: .wrongArea, suggestedUnit: nil, text: nil))
        let note = r.send(.progress(note: "仍在跟进", milestone: nil))
        #expect(note.events[0].fields["milestone"] == nil)
        #expect(r.state.phase == .returnRequested && r.state.clocks.filter(\.isRunning).count == running)
    }

    @Test func requestReturnPausesTheClocksAndRefusesASecond() throws {
        var r = try LC.run(LC.Sample.complaint)
        r.send(.sign, time: Self.nine05)
        let t = r.send(
            .requestReturn(reason: .wrongArea, suggestedUnit: "nanhai.market", text: "不在本区"),
            time: Self.nine10)
        #expect(t.types == [.returnRequested] && t.events[0].queues == ["triage"])
        #expect(t.events[0].string("reason") == "wrong_area" && t.events[0].string("text") == "不在本区")
        let pending = try #require(r.state.pendingReturn)
        #expect(pending.previous == .signed && pending.at == Self.nine10 && pending.suggestedUnit == "nanhai.market")
        #expect(r.state.phase == .returnRequested)
        #expect(r.state.clock(.contact)?.pausedAt == Self.nine10, "the request answers the contact clock")
        let again = r.send(.requestReturn(reason: .wrongArea, suggestedUnit: nil, text: nil), expect: .refused)
        #expect(try Self.refusal(again) == "already_pending: a return of ticket T-1 is already waiting for the centre")
    }

    @Test func requestExtensionRefusalsNameTheDeadline() throws {
        var r = try LC.run(LC.Sample.complaint)
        let due = try #require(r.state.clock(.resolve)?.due)
        let early = r.send(.requestExtension(until: due, reason: "x"), time: Self.nine10, expect: .refused)
        let notAfter =
            "invalid_extension: until \(LC.format(due)!) is not after the resolution deadline"
            + " \(LC.format(due)!)"
        #expect(try Self.refusal(early) == notAfter)
        #expect(r.state.pendingExtension == nil)
        r.send(.requestExtension(until: due.addingTimeInterval(86_400), reason: "需检测"))
        #expect(r.state.pendingExtension?.at == Self.nine10 && r.state.clock(.resolve)?.due == due)
        let second = r.send(.requestExtension(until: due.addingTimeInterval(86_400), reason: "x"), expect: .refused)
        #expect(
            try Self.refusal(second)
                == "already_pending: an extension of ticket T-1 is already waiting for the centre")

        var without = try LC.run(LC.Sample.complaint)
        without.state.clocks.removeAll { $0.clock == .resolve }
        let none = without.send(.requestExtension(until: due.addingTimeInterval(86_400), reason: "x"), expect: .refused)
        #expect(try Self.refusal(none) == "invalid_extension: ticket T-1 has no running resolution clock")
    }

    @Test func replyStopsEveryClockAndDropsAPendingExtension() throws {
        var r = try LC.run(LC.Sample.complaint)
        let due = try #require(r.state.clock(.resolve)?.due)
        r.send(.requestExtension(until: due.addingTimeInterval(86_400), reason: "x"), time: Self.nine05)
        let t = r.send(.reply(outcome: .partiallyResolved, text: "已部分解决"), time: Self.nine10)
        #expect(t.types == [.replied, .callbackRequested])
        #expect(t.events[0].queues.isEmpty && t.events[1].queues == ["callback"])
        #expect(t.events.allSatisfy { $0.string("outcome") == "partially_resolved" })
        #expect(t.events.allSatisfy { $0.string("text") == "已部分解决" })
        #expect(r.state.phase == .replied && r.state.pendingExtension == nil && r.state.remindAt == nil)
        #expect(r.state.clocks.allSatisfy { !$0.isRunning })
        #expect(r.state.clocks.filter { $0.stoppedAt == Self.nine10 }.map(\.clock).contains(.resolve))
    }

    // MARK: The centre's commands

    @Test func approveAndRejectReturnRefuseADecisionOlderThanTheRequest() throws {
        var r = try LC.run(LC.Sample.complaint)
        r.send(.requestReturn(reason: .notOurDuty, suggestedUnit: nil, text: nil), time: Self.nine10)
        for action in [Command.Action.approveReturn(unit: nil, note: nil), .rejectReturn(note: nil)] {
            let t = r.send(action, from: "triage", at: Self.nine05, expect: .refused)
            #expect(try Self.refusal(t) == "stale: issued before the return was requested at 2026-03-02T09:10:00+08:00")
        }
        let same = r.send(.approveReturn(unit: "chancheng.market", note: nil), from: "triage", expect: .refused)
        #expect(try Self.refusal(same) == "same_unit: ticket T-1 is already held by chancheng.market")
        let unknown = r.send(.approveReturn(unit: "no.such.unit", note: nil), from: "triage", expect: .refused)
        #expect(try Self.refusal(unknown) == "unknown_unit: no unit no.such.unit in the rule set")
        #expect(r.state.phase == .returnRequested && r.state.returns == 0)
        let t = r.send(.rejectReturn(note: "属本单位职责"), from: "triage", time: Self.ten)
        #expect(t.types == [.returnRejected] && t.events[0].string("note") == "属本单位职责")
        #expect(t.events[0].fields["deadlines"] != nil)
        #expect(r.state.phase == .assigned && r.state.pendingReturn == nil)
        #expect(r.state.clocks.allSatisfy { $0.pausedAt == nil })
    }

    @Test func approveAndRejectExtensionRefusals() throws {
        var r = try LC.run(LC.Sample.complaint)
        for action in [Command.Action.approveExtension(until: nil, note: nil), .rejectExtension(note: nil)] {
            let t = r.send(action, from: "triage", expect: .refused)
            #expect(try Self.refusal(t) == "invalid_state: no extension of ticket T-1 is waiting")
        }
        let due = try #require(r.state.clock(.resolve)?.due)
        r.send(.requestExtension(until: due.addingTimeInterval(86_400), reason: "x"), time: Self.nine10)
        let stale = r.send(.approveExtension(until: nil, note: nil), from: "triage", at: Self.nine05, expect: .refused)
        #expect(
            try Self.refusal(stale)
                == "stale: issued before the extension was requested at 2026-03-02T09:10:00+08:00")
        let short = r.send(.approveExtension(until: due, note: nil), from: "triage", expect: .refused)
        let notAfter =
            "invalid_extension: until \(LC.format(due)!) is not after the resolution deadline"
            + " \(LC.format(due)!)"
        #expect(try Self.refusal(short) == notAfter)
        #expect(r.state.pendingExtension != nil)
        let t = r.send(.approveExtension(until: nil, note: "同意"), from: "triage", time: Self.ten)
        #expect(t.types == [.extensionApproved] && t.events[0].string("note") == "同意")
        #expect(r.state.clock(.resolve)?.due == due.addingTimeInterval(86_400) && r.state.pendingExtension == nil)
    }

    @Test func mergeStopsEverythingPending() throws {
        var r = try LC.run(LC.Sample.complaint)
        let due = try #require(r.state.clock(.resolve)?.due)
        r.send(.requestExtension(until: due.addingTimeInterval(86_400), reason: "x"), time: Self.nine05)
        r.send(.requestReturn(reason: .notOurDuty, suggestedUnit: nil, text: nil), time: Self.nine10)
        let t = r.send(.merge(into: "T-0", note: "重复件"), from: "triage", time: Self.ten)
        #expect(t.types == [.closed] && t.events[0].queues == ["unit.chancheng.market"])
        #expect(t.events[0].string("note") == "重复件")
        #expect(r.state.pendingReturn == nil && r.state.pendingExtension == nil && r.state.remindAt == nil)
        #expect(r.state.clocks.allSatisfy { !$0.isRunning } && r.state.nextTimer == nil)
        var other = try LC.run(LC.Sample.complaint)
        let refused = other.send(.merge(into: "T-1", note: nil), from: "triage", expect: .refused)
        #expect(try Self.refusal(refused) == "invalid_merge: a ticket cannot be merged into itself")
    }

    @Test func redispatchRefusalsNameTheUnit() throws {
        var r = try LC.run(LC.Sample.complaint)
        let unknown = r.send(.redispatch(unit: "no.such.unit", note: nil), from: "triage", expect: .refused)
        #expect(try Self.refusal(unknown) == "unknown_unit: no unit no.such.unit in the rule set")
        let same = r.send(.redispatch(unit: "chancheng.market", note: nil), from: "triage", expect: .refused)
        #expect(try Self.refusal(same) == "same_unit: ticket T-1 is already held by chancheng.market")
        let t = r.send(.redispatch(unit: "chancheng.urban", note: "属城管"), from: "triage", time: Self.ten)
        #expect(t.events[0].string("note") == "属城管" && t.events[1].string("from_unit") == "chancheng.market")
        #expect(r.holder == "chancheng.urban")
    }

    @Test func aCallbackOfATicketNotRepliedIsRefused() throws {
        var r = try LC.run(LC.Sample.complaint)
        let t = r.send(
            .callbackResult(reached: true, resolved: true, satisfaction: .satisfied, note: nil),
            from: "triage", expect: .refused)
        #expect(try Self.refusal(t) == "invalid_state: callback_result is not possible while the ticket is assigned")
    }

    @Test func anUnsatisfiedCallbackCarriesItsFieldsInOrder() throws {
        var r = try LC.run(LC.Sample.complaint)
        r.send(.reply(outcome: .resolved, text: "已处理"), time: Self.nine10)
        let t = r.send(
            .callbackResult(reached: true, resolved: false, satisfaction: .unsatisfied, note: "未解决"),
            from: "triage", time: Self.ten)
        #expect(t.types == [.reopened])
        #expect(t.events[0].fields.keys == ["reached", "resolved", "satisfaction", "note", "reworks", "deadlines"])
    }
}
