import Foundation
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import Testing

/// Commands: every type in every phase, who may send what, when, and how often.
@Suite struct LifecycleCommandTests {
    // MARK: Phase x command

    /// One cell of the phase x command table: refused with `code`, or applied with the resulting phase and
    /// the event types emitted.
    struct Cell: Sendable, CustomTestStringConvertible {
        let phase: Phase
        let command: CommandType
        let code: String?
        let after: Phase
        let events: [EventType]

        static func applied(_ phase: Phase, _ command: CommandType, _ after: Phase, _ events: [EventType]) -> Cell {
            Cell(phase: phase, command: command, code: nil, after: after, events: events)
        }
        static func refused(_ phase: Phase, _ command: CommandType, _ code: String) -> Cell {
            Cell(phase: phase, command: command, code: code, after: phase, events: [.commandRejected])
        }
        var testDescription: String { "\(phase.rawValue) + \(command.rawValue) -> \(code ?? after.rawValue)" }
    }

    static let table: [Cell] =
        [
            // assigned (待签收)
            .applied(.assigned, .sign, .signed, [.signed]),
            .applied(.assigned, .contact, .signed, [.contacted]),
            .applied(.assigned, .progress, .signed, [.progress]),
            .applied(.assigned, .requestReturn, .returnRequested, [.returnRequested]),
            .applied(.assigned, .requestExtension, .assigned, [.extensionRequested]),
            .applied(.assigned, .reply, .replied, [.replied, .callbackRequested]),
            .refused(.assigned, .approveReturn, "invalid_state"),
            .refused(.assigned, .rejectReturn, "invalid_state"),
            .refused(.assigned, .approveExtension, "invalid_state"),
            .refused(.assigned, .rejectExtension, "invalid_state"),
            .refused(.assigned, .callbackResult, "invalid_state"),
            .applied(.assigned, .redispatch, .assigned, [.redispatched, .dispatched]),
            .applied(.assigned, .merge, .closed, [.closed]),
            // signed (办理中)
            .refused(.signed, .sign, "already_signed"),
            .applied(.signed, .contact, .signed, [.contacted]),
            .applied(.signed, .progress, .signed, [.progress]),
            .applied(.signed, .requestReturn, .returnRequested, [.returnRequested]),
            .applied(.signed, .requestExtension, .signed, [.extensionRequested]),
            .applied(.signed, .reply, .replied, [.replied, .callbackRequested]),
            .refused(.signed, .approveReturn, "invalid_state"),
            .refused(.signed, .rejectReturn, "invalid_state"),
            .refused(.signed, .approveExtension, "invalid_state"),
            .refused(.signed, .rejectExtension, "invalid_state"),
            .refused(.signed, .callbackResult, "invalid_state"),
            .applied(.signed, .redispatch, .assigned, [.redispatched, .dispatched]),
            .applied(.signed, .merge, .closed, [.closed]),
            // return_requested (退单审核), requested after signing
            .refused(.returnRequested, .sign, "already_signed"),
            .refused(.returnRequested, .contact, "invalid_state"),
            .applied(.returnRequested, .progress, .returnRequested, [.progress]),
            .refused(.returnRequested, .requestReturn, "already_pending"),
            .refused(.returnRequested, .requestExtension, "invalid_state"),
            .refused(.returnRequested, .reply, "invalid_state"),
            .applied(.returnRequested, .approveReturn, .assigned, [.returnApproved, .dispatched]),
            .applied(.returnRequested, .rejectReturn, .signed, [.returnRejected]),
            .refused(.returnRequested, .approveExtension, "invalid_state"),
            .refused(.returnRequested, .rejectExtension, "invalid_state"),
            .refused(.returnRequested, .callbackResult, "invalid_state"),
            .applied(.returnRequested, .redispatch, .assigned, [.redispatched, .dispatched]),
            .applied(.returnRequested, .merge, .closed, [.closed]),
            // replied (待回访)
            .refused(.replied, .sign, "already_signed"),
            .refused(.replied, .contact, "invalid_state"),
            .refused(.replied, .progress, "invalid_state"),
            .refused(.replied, .requestReturn, "invalid_state"),
            .refused(.replied, .requestExtension, "invalid_state"),
            .refused(.replied, .reply, "invalid_state"),
            .refused(.replied, .approveReturn, "invalid_state"),
            .refused(.replied, .rejectReturn, "invalid_state"),
            .refused(.replied, .approveExtension, "invalid_state"),
            .refused(.replied, .rejectExtension, "invalid_state"),
            .applied(.replied, .callbackResult, .closed, [.closed]),
            .applied(.replied, .redispatch, .assigned, [.redispatched, .dispatched]),
            .applied(.replied, .merge, .closed, [.closed]),
        ]
        // closed and handed_off refuse everything.
        + CommandType.allCases.map { .refused(.closed, $0, "ticket_closed") }
        + CommandType.allCases.map { .refused(.handedOff, $0, "handed_off") }

    @Test func theTableCoversEveryPhaseAndCommandOnce() {
        let cells = Set(Self.table.map { "\($0.phase.rawValue)/\($0.command.rawValue)" })
        #expect(cells.count == Self.table.count)
        #expect(cells.count == Phase.allCases.count * CommandType.allCases.count)
    }

    /// A complaint at chancheng.market brought into `phase` on Monday morning; the clock then reads 10:00.
    static func run(in phase: Phase, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> Run {
        var r = try LC.run(phase == .handedOff ? LC.Sample.fire : LC.Sample.complaint, sourceLocation: sourceLocation)
        let minutes = { (m: Double) in LC.monday.addingTimeInterval(m * 60) }
        switch phase {
        case .assigned, .handedOff: break
        case .signed:
            r.send(.sign, time: minutes(5), sourceLocation: sourceLocation)
        case .returnRequested:
            r.send(.sign, time: minutes(5), sourceLocation: sourceLocation)
            r.send(
                .requestReturn(reason: .notOurDuty, suggestedUnit: nil, text: nil), time: minutes(10),
                sourceLocation: sourceLocation)
        case .replied, .closed:
            r.send(.sign, time: minutes(5), sourceLocation: sourceLocation)
            r.send(.reply(outcome: .resolved, text: "已处理"), time: minutes(10), sourceLocation: sourceLocation)
            if phase == .closed {
                r.send(
                    .callbackResult(reached: true, resolved: true, satisfaction: .satisfied, note: nil), from: "triage",
                    time: minutes(20), sourceLocation: sourceLocation)
            }
        }
        #expect(r.state.phase == phase, sourceLocation: sourceLocation)
        r.now = minutes(60)
        return r
    }

    /// A valid example of each command type for the complaint.
    static func example(_ type: CommandType, _ state: TicketState) -> Command.Action {
        switch type {
        case .sign: .sign
        case .contact: .contact(note: "已电话联系市民")
        case .progress: .progress(note: "已安排人员核查", milestone: nil)
        case .requestReturn: .requestReturn(reason: .notOurDuty, suggestedUnit: "chancheng.urban", text: "非本单位职责")
        case .requestExtension:
            .requestExtension(
                until: (state.clock(.resolve)?.due ?? LC.monday).addingTimeInterval(2 * 86_400), reason: "需第三方检测")
        case .reply: .reply(outcome: .resolved, text: "已协调商家退货")
        case .approveReturn: .approveReturn(unit: nil, note: nil)
        case .rejectReturn: .rejectReturn(note: "属本单位职责")
        case .approveExtension: .approveExtension(until: nil, note: nil)
        case .rejectExtension: .rejectExtension(note: nil)
        case .callbackResult: .callbackResult(reached: true, resolved: true, satisfaction: .satisfied, note: nil)
        case .redispatch: .redispatch(unit: "chancheng.urban", note: nil)
        case .merge: .merge(into: "T-0", note: "重复件")
        }
    }

    /// The unit that would legitimately send a command of `type`: the holder for worker commands, triage else.
    static func sender(_ type: CommandType, _ state: TicketState) -> String {
        type.isWorkerCommand ? (state.holder?.unit ?? "chancheng.market") : "triage"
    }

    @Test(arguments: table)
    func everyCommandInEveryPhase(_ cell: Cell) throws {
        var r = try Self.run(in: cell.phase)
        let before = r.state
        let c = r.command(
            Self.example(cell.command, before), from: Self.sender(cell.command, before), replyTo: "reply.desk")
        let t = r.apply(c, expect: cell.code == nil ? .applied : .refused)
        #expect(t.types == cell.events)
        #expect(r.state.phase == cell.after)
        #expect(t.changed, "the command id is remembered even when refused")
        #expect(r.state.version == before.version + 1)
        #expect(r.state.handledCommands.last == c.id)
        #expect(t.events.allSatisfy { $0.version == r.state.version && $0.ticketID == "T-1" && $0.at == r.now })
        #expect(t.events.map(\.sequence) == Array(t.events.indices))
        if let code = cell.code {
            #expect(t.refusalCode == code)
            let e = try #require(t.events.first)
            #expect(e.unit == c.unit && e.replyTo == "reply.desk")
            #expect(e.string("command_id") == c.id && e.string("command_type") == cell.command.rawValue)
            // Nothing but the remembered id (and so the version and the timer) changed.
            var same = r.state
            same.handledCommands = before.handledCommands
            same.version = before.version
            same.nextTimer = before.nextTimer
            #expect(same == before)
        } else {
            #expect(t.events.allSatisfy { $0.replyTo == nil })
        }
    }

    // MARK: Who may send what

    @Test(arguments: CommandType.allCases.filter(\.isWorkerCommand))
    func workerCommandsFromAnotherUnitAreNotTheHolders(_ type: CommandType) throws {
        var r = try Self.run(in: .signed)
        let t = r.send(Self.example(type, r.state), from: "chancheng.urban", expect: .refused)
        #expect(t.refusalCode == "not_holder")
        #expect(t.events.first?.unit == "chancheng.urban")
        #expect(t.events.first?.level == .district)
    }

    @Test(
        arguments: CommandType.allCases.filter { !$0.isWorkerCommand },
        ["chancheng.market", "chancheng.urban", "platform"])
    func centreCommandsFromAnOrdinaryUnitAreNotAuthorized(_ type: CommandType, unit: String) throws {
        var r = try Self.run(in: .returnRequested)
        let t = r.send(Self.example(type, r.state), from: unit, expect: .refused)
        #expect(t.refusalCode == "not_authorized")
        #expect(r.state.phase == .returnRequested)
    }

    @Test func theCentreIsTriageAndSupervision() throws {
        let lifecycle = try LC.lifecycle()
        #expect(lifecycle.centre == ["triage", "city.supervision"])
        var r = try Self.run(in: .returnRequested)
        r.send(.rejectReturn(note: nil), from: "city.supervision")
        #expect(r.state.phase == .signed)
    }

    @Test func aCommandIssuedBeforeTheTicketCameToTheUnitIsStale() throws {
        var r = try Self.run(in: .signed)
        let redispatchedAt = LC.at("2026-03-02T10:00:00+08:00")
        r.send(.redispatch(unit: "chancheng.urban", note: nil), from: "triage", time: redispatchedAt)
        #expect(r.state.assignedAt == redispatchedAt)
        let t = r.send(.sign, from: "chancheng.urban", at: redispatchedAt.addingTimeInterval(-1), expect: .refused)
        #expect(t.refusalCode == "stale")
        // The unit that lost it is no longer the holder, whatever the date.
        #expect(
            r.send(.progress(note: "x", milestone: nil), from: "chancheng.market", expect: .refused).refusalCode
                == "not_holder")
        r.send(.sign, from: "chancheng.urban", at: redispatchedAt)
        #expect(r.state.phase == .signed)
    }

    @Test func aWorkerCommandDatedBeforeReceiptIsStale() throws {
        var r = try LC.run(LC.Sample.complaint)
        let t = r.send(.sign, at: LC.monday.addingTimeInterval(-60), expect: .refused)
        #expect(t.refusalCode == "stale")
        #expect(r.state.phase == .assigned)
    }

    @Test(arguments: [(299.0, true), (300, true), (301, false), (3_600, false)])
    func aCommandFromTheFutureIsRefusedBeyondTheAllowedSkew(ahead: Double, accepted: Bool) throws {
        var r = try LC.run(LC.Sample.complaint)
        r.now = LC.monday.addingTimeInterval(600)
        #expect(r.lifecycle.allowedSkew == 300)
        let t = r.send(.sign, at: r.now.addingTimeInterval(ahead), expect: accepted ? .applied : .refused)
        #expect(t.refusalCode == (accepted ? nil : "future"))
        #expect(r.state.phase == (accepted ? .signed : .assigned))
    }

    @Test func aFutureCommandIsRefusedEvenForAClosedTicket() throws {
        var r = try Self.run(in: .closed)
        let t = r.send(.sign, at: r.now.addingTimeInterval(3_600), expect: .refused)
        #expect(t.refusalCode == "future", "the date check comes first")
    }

    @Test func aCommandForAnUnknownTicketIsRefused() throws {
        let lifecycle = try LC.lifecycle()
        let c = Command(
            id: "c-1", ticketID: "T-404", unit: "chancheng.market", at: LC.monday, action: .sign, replyTo: "reply.q")
        let t = lifecycle.handle(c, state: nil, now: LC.monday)
        #expect(t.outcome == .refused)
        #expect(t.state == nil)
        #expect(!t.changed)
        #expect(t.types == [.commandRejected])
        #expect(t.refusalCode == "unknown_ticket")
        #expect(t.events.first?.ticketID == "T-404" && t.events.first?.replyTo == "reply.q")
        // No version to tell refusals apart: the command id does, so a consumer deduplicating on the id
        // drops none of them.
        var other = c
        other.id = "c-2"
        let second = lifecycle.handle(other, state: nil, now: LC.monday)
        #expect(t.events.first?.id == "T-404#refused/c-1" && second.events.first?.id == "T-404#refused/c-2")
        var encoder = EventEncoder(offsetSeconds: 8 * 3600, verbose: false)
        var bytes: [UInt8] = []
        encoder.write(t.events[0], into: &bytes)
        let written = try JSON.parse(bytes)
        #expect(written.objectValue?["event_id"] == "T-404#refused/c-1")
    }

    // MARK: Idempotency

    @Test(arguments: [CommandType.sign, .reply, .approveReturn])
    func aRepeatedCommandIDHasNoSecondEffect(_ type: CommandType) throws {
        var r = try Self.run(in: .signed)
        let c = r.command(Self.example(type, r.state), from: Self.sender(type, r.state))
        let first = r.apply(c, expect: type == .reply ? .applied : .refused)
        #expect(!first.events.isEmpty)
        let stored = r.state
        r.now = r.now.addingTimeInterval(60)
        let again = r.apply(c, expect: .duplicate)
        #expect(again.events.isEmpty)
        #expect(!again.changed)
        #expect(again.state == stored)
        #expect(r.state == stored)
    }

    @Test func onlyTheMostRecentCommandIDsAreRemembered() throws {
        var r = try LC.run(LC.Sample.complaint, configure: { $0.rememberedCommands = 3 })
        let ids = (1...4).map { "p-\($0)" }
        for id in ids { r.send(.progress(note: id, milestone: nil), id: id) }
        #expect(r.state.handledCommands == Array(ids.suffix(3)))
        r.send(.progress(note: "again", milestone: nil), id: "p-4", expect: .duplicate)
        r.send(.progress(note: "again", milestone: nil), id: "p-1", expect: .applied)
    }

    // MARK: Out of order

    @Test(arguments: [CommandType.contact, .progress, .reply])
    func aWorkerCommandBeforeSignSignsImplicitlyAndTheLateSignIsRefused(_ type: CommandType) throws {
        var r = try LC.run(LC.Sample.complaint)
        let signAt = LC.at("2026-03-02T09:05:00+08:00")
        let late = r.command(.sign, at: signAt)
        r.now = LC.at("2026-03-02T09:10:00+08:00")
        let t = r.send(Self.example(type, r.state), at: r.now)
        #expect(!t.types.contains(.signed), "an implicit sign emits no ticket.signed")
        #expect(r.state.phase == (type == .reply ? .replied : .signed))
        #expect(r.state.clock(.sign)?.stoppedAt == r.now)
        let refused = r.apply(late, expect: .refused)
        #expect(refused.refusalCode == "already_signed")
        #expect(r.state.clock(.sign)?.stoppedAt == r.now)
    }

    @Test func aReturnRequestedBeforeSigningDoesNotSign() throws {
        var r = try LC.run(LC.Sample.complaint)
        r.send(
            .requestReturn(reason: .wrongArea, suggestedUnit: nil, text: nil), time: LC.at("2026-03-02T09:10:00+08:00"))
        #expect(r.state.clock(.sign)?.isRunning == true)
        #expect(r.send(.sign, expect: .refused).refusalCode == "invalid_state")
        r.send(.rejectReturn(note: nil), from: "triage")
        #expect(r.state.phase == .assigned)
        r.send(.sign)
        #expect(r.state.phase == .signed)
    }

    @Test func aRefusalCarriesTheReasonAndTheSendersLevel() throws {
        var r = try Self.run(in: .signed)
        let t = r.send(.approveReturn(unit: nil, note: nil), from: "nanhai.shishan.wuzhuang", expect: .refused)
        let e = try #require(t.events.first)
        #expect(e.level == .village)
        #expect(e.queues.isEmpty)
        #expect(e.string("reason")?.contains("triage") == true)
        let json = e.json(offsetSeconds: LC.offset)
        #expect(json["event"]?.stringValue == "command.rejected")
        #expect(json["code"]?.stringValue == "not_authorized")
        #expect(json["event_id"]?.stringValue == "T-1#\(r.state.version).0")
    }
}
