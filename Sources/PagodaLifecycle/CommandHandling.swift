import Foundation
import PagodaJSON
import PagodaRules

// One method per command: each checks what its command needs, then changes the state and emits its
// events. A refusal is thrown before anything changes; `Lifecycle.handle` then drops whatever was emitted
// and answers with `command.rejected`.
extension Emitter {
    /// Applies `c` to the state, or throws why it is refused (the state is then left as it was, apart from
    /// remembering the command id). `reroute` finds a unit for an approved return that names none.
    mutating func apply(_ c: Command, reroute: (Set<String>) -> String?) throws(Refusal) {
        let holder = try admit(c)
        switch c.action {
        case .sign: try sign(holder: holder)
        case .contact(let note): try contact(note: note)
        case .progress(let note, let milestone): try progress(note: note, milestone: milestone)
        case .requestReturn(let reason, let suggested, let text):
            try requestReturn(reason: reason, suggestedUnit: suggested, text: text, at: c.at)
        case .requestExtension(let until, let reason): try requestExtension(until: until, reason: reason, at: c.at)
        case .reply(let outcome, let text): try reply(outcome: outcome, text: text)
        case .approveReturn(let unit, let note):
            try approveReturn(to: unit, note: note, from: holder, at: c.at, reroute: reroute)
        case .rejectReturn(let note): try rejectReturn(note: note, at: c.at)
        case .approveExtension(let until, let note): try approveExtension(until: until, note: note, at: c.at)
        case .rejectExtension(let note): try rejectExtension(note: note)
        case .callbackResult(let reached, let resolved, let satisfaction, let note):
            try recordCallback(reached: reached, resolved: resolved, satisfaction: satisfaction, note: note)
        case .redispatch(let unit, let note): try redispatch(to: unit, note: note, from: holder)
        case .merge(let into, let note): try merge(into: into, note: note)
        }
    }

    /// The checks every command passes first, in this order: not dated more than `allowedSkew` ahead of
    /// the clock (`future`); an open ticket (`ticket_closed`, `handed_off`) with a holder; a worker
    /// command from the holder (`not_holder`) issued after the ticket came to it (`stale`), any other from
    /// the hotline centre (`not_authorized`). Returns the holder.
    func admit(_ c: Command) throws(Refusal) -> Holder {
        if c.at > now.addingTimeInterval(allowedSkew) {
            let clock = tables.format(now)
            throw Refusal(.future, "at \(tables.format(c.at)) is ahead of the dispatcher's clock (\(clock))")
        }
        switch state.phase {
        case .closed:
            let merged = state.mergedInto.map { " (merged into \($0))" } ?? ""
            throw Refusal(.ticketClosed, "ticket \(state.ticketID) is closed" + merged)
        case .handedOff: throw Refusal(.handedOff, "ticket \(state.ticketID) was handed to an emergency line")
        default: break
        }
        guard let holder = state.holder else {
            throw Refusal(.invalidState, "ticket \(state.ticketID) has no holding unit")
        }
        let type = c.action.type
        if type.isWorkerCommand {
            guard c.unit == holder.unit else {
                let held = "(held by \(holder.unit))"
                throw Refusal(.notHolder, "unit \(c.unit) does not hold ticket \(state.ticketID) \(held)")
            }
            guard c.at >= state.assignedAt else {
                let came = "came to \(holder.unit) at \(tables.format(state.assignedAt))"
                throw Refusal(.stale, "issued at \(tables.format(c.at)), before the ticket \(came)")
            }
        } else if !tables.centreUnits.contains(c.unit) {
            let centre = tables.centreUnits.sorted().joined(separator: ", ")
            throw Refusal(.notAuthorized, "\(type.rawValue) is for the hotline centre (\(centre)), not unit \(c.unit)")
        }
        return holder
    }

    /// The refusal of a command the ticket's phase does not allow (`invalid_state`).
    func notPossible(_ type: CommandType) -> Refusal {
        Refusal(.invalidState, "\(type.rawValue) is not possible while the ticket is \(state.phase.rawValue)")
    }

    /// The holder is working on the ticket: assigned or signed for, no return pending, not replied.
    var isWorking: Bool { state.phase == .assigned || state.phase == .signed }

    /// A stale refusal of a decision issued before the request it decides was filed at `requestedAt`.
    func staleDecision(_ request: String, requestedAt: Date) -> Refusal {
        Refusal(.stale, "issued before the \(request) was requested at \(tables.format(requestedAt))")
    }

    /// An `invalid_extension` refusal: `until` is not after the resolution deadline `due`.
    func notAfterDeadline(_ until: Date, _ due: Date) -> Refusal {
        let (asked, deadline) = (tables.format(until), tables.format(due))
        return Refusal(.invalidExtension, "until \(asked) is not after the resolution deadline \(deadline)")
    }

    /// An `unknown_unit` refusal: `unit` is not in the rule set.
    func unknownUnit(_ unit: String) -> Refusal { Refusal(.unknownUnit, "no unit \(unit) in the rule set") }

    /// A `same_unit` refusal: `unit` holds the ticket already.
    func sameUnit(_ unit: String) -> Refusal {
        Refusal(.sameUnit, "ticket \(state.ticketID) is already held by \(unit)")
    }

    // MARK: The holder's commands

    /// `sign` (签收): the holder takes an assigned ticket and its sign clock stops (`ticket.signed`).
    /// Refused with `already_signed` when it signed before (perhaps implicitly, by a contact or reply that
    /// overtook this sign), `invalid_state` in any other phase.
    mutating func sign(holder: Holder) throws(Refusal) {
        guard state.phase == .assigned else {
            let signed = state.phase == .signed || state.phase == .replied || state.pendingReturn?.previous == .signed
            guard signed else { throw notPossible(.sign) }
            throw Refusal(.alreadySigned, "\(holder.unit) already signed for ticket \(state.ticketID)")
        }
        signImplicitly()
        emit(.signed, to: [])
    }

    /// `contact`: the holder reached the citizen; signs implicitly and stops the contact clock
    /// (`ticket.contacted`). Refused (`invalid_state`) unless the holder is working on the ticket.
    mutating func contact(note: String?) throws(Refusal) {
        guard isWorking else { throw notPossible(.contact) }
        signImplicitly()
        stop(.contact)
        emit(.contacted, to: [], note.map { [("note", .string($0))] } ?? [])
    }

    /// `progress`: a note of the holder, also while a return is pending; signs an assigned ticket
    /// implicitly, and a `milestone` stops that clock (`ticket.progress`). Refused (`invalid_state`) once
    /// replied.
    mutating func progress(note: String, milestone: Clock?) throws(Refusal) {
        guard isWorking || state.phase == .returnRequested else { throw notPossible(.progress) }
        if state.phase == .assigned { signImplicitly() }
        var f: [(String, JSONValue)] = [("note", .string(note))]
        if let milestone {
            stop(milestone)
            f.append(("milestone", .string(milestone.rawValue)))
        }
        emit(.progress, to: [], f)
    }

    /// `request_return` (退单): the holder asks the centre to take the ticket back. The phase becomes
    /// `return_requested`, the clocks of `request_pauses` pause, and triage hears of it
    /// (`ticket.return_requested`, with the review deadline of `return_review`). Refused with
    /// `already_pending` while a return waits, `invalid_state` unless the holder is working on the ticket.
    mutating func requestReturn(reason: ReturnReason, suggestedUnit: String?, text: String?, at: Date) throws(Refusal) {
        guard isWorking else {
            guard state.phase == .returnRequested else { throw notPossible(.requestReturn) }
            throw Refusal(.alreadyPending, "a return of ticket \(state.ticketID) is already waiting for the centre")
        }
        let review = reviewDue(state.policy.returnReview)
        state.pendingReturn = PendingReturn(
            reason: reason, suggestedUnit: suggestedUnit, at: at, previous: state.phase,
            reviewDue: review)
        state.phase = .returnRequested
        pauseClocksForRequest()
        var f: [(String, JSONValue)] = [("reason", .string(reason.rawValue))]
        if let suggestedUnit { f.append(("suggested_unit", .string(suggestedUnit))) }
        if let text { f.append(("text", .string(text))) }
        if let review { f.append(("review_due", .string(tables.format(review)))) }
        emit(.returnRequested, to: [tables.triageHolder.queue], f)
    }

    /// `request_extension` (延期): the holder asks for a later resolution deadline. The clocks of
    /// `request_pauses` pause and triage hears of it (`ticket.extension_requested`, with the review deadline
    /// of `extension_review`). Refused with `invalid_state` unless the holder is working on the ticket,
    /// `already_pending` while an extension waits, `invalid_extension` without a running resolution clock
    /// or for a time not after its deadline.
    mutating func requestExtension(until: Date, reason: String, at: Date) throws(Refusal) {
        guard isWorking else { throw notPossible(.requestExtension) }
        guard state.pendingExtension == nil else {
            throw Refusal(.alreadyPending, "an extension of ticket \(state.ticketID) is already waiting for the centre")
        }
        guard let resolve = state.clock(.resolve), resolve.isRunning else {
            throw Refusal(.invalidExtension, "ticket \(state.ticketID) has no running resolution clock")
        }
        guard until > resolve.due else {
            throw notAfterDeadline(until, resolve.due)
        }
        // An extension is asked before the deadline: one granted after its red light would count the late
        // reply as on time.
        guard !resolve.overdue, at <= resolve.due else {
            throw Refusal(
                .invalidExtension,
                "the resolution deadline \(tables.format(resolve.due)) has passed: an extension is asked before it")
        }
        let review = reviewDue(state.policy.extensionReview)
        state.pendingExtension = PendingExtension(until: until, reason: reason, at: at, reviewDue: review)
        pauseClocksForRequest()
        var f: [(String, JSONValue)] = [("until", .string(tables.format(until))), ("reason", .string(reason))]
        if let review { f.append(("review_due", .string(tables.format(review)))) }
        emit(.extensionRequested, to: [tables.triageHolder.queue], f)
    }

    /// `reply` (办结反馈): the holder reports the matter handled; signs implicitly, stops every clock, drops
    /// a pending extension and reminders; the phase becomes `replied` (`ticket.replied`) and the callback
    /// desk is asked to call the citizen (`ticket.callback_requested`). Refused (`invalid_state`) unless
    /// the holder is working on the ticket.
    mutating func reply(outcome: ReplyOutcome, text: String) throws(Refusal) {
        guard isWorking else { throw notPossible(.reply) }
        signImplicitly()
        for i in state.clocks.indices where state.clocks[i].isRunning { state.clocks[i].stoppedAt = now }
        state.phase = .replied
        state.pendingExtension = nil
        state.remindAt = nil
        emit(.replied, to: [], .reply(outcome: outcome, text: text))
        emit(.callbackRequested, to: Self.callbackQueues, .reply(outcome: outcome, text: text))
    }

    // MARK: The centre's commands

    /// `approve_return`: the pending return is granted and the ticket goes to the named unit, else to the
    /// unit `reroute` finds passing over those that returned it, else to triage (`ticket.return_approved`
    /// to the returning unit, `ticket.dispatched` to the new one, with fresh clocks). A return beyond the
    /// policy's `max_returns` goes to the supervision unit (or triage) under supervision, whatever was
    /// named. Refused with `invalid_state` without a pending return, `stale` when issued before it,
    /// `unknown_unit` or `same_unit` for a named unit not in the rules or the holder itself.
    mutating func approveReturn(
        to named: String?, note: String?, from holder: Holder, at: Date,
        reroute: (Set<String>) -> String?
    ) throws(Refusal) {
        guard state.phase == .returnRequested, let pending = state.pendingReturn else {
            throw notPossible(.approveReturn)
        }
        guard at >= pending.at else { throw staleDecision("return", requestedAt: pending.at) }
        let tooMany = state.returns + 1 > state.policy.maxReturns
        var destination: Holder
        if let named {
            guard let h = tables.holder(unit: named) else { throw unknownUnit(named) }
            guard named != holder.unit else { throw sameUnit(named) }
            destination = h
        } else if tooMany {
            destination = tables.triageHolder
        } else {
            let excluded = Set(state.returnedBy + [holder.unit])
            destination = reroute(excluded).flatMap { tables.holder(unit: $0) } ?? tables.triageHolder
        }
        // Returned too often: the supervision office takes it, whatever the approval named.
        if tooMany, let s = tables.supervisionHolder { destination = s }
        state.returns += 1
        if !state.returnedBy.contains(holder.unit) { state.returnedBy.append(holder.unit) }
        var f: [(String, JSONValue)] = [("to_unit", .string(destination.unit)), ("returns", .integer(state.returns))]
        if let note { f.append(("note", .string(note))) }
        emit(.returnApproved, to: [holder.queue], f)
        move(to: destination, from: holder, reason: "return")
        if tooMany { supervise(reason: "returned_\(state.returns)_times") }
    }

    /// `reject_return`: the holder keeps the ticket in the phase it had before the request, and the paused
    /// clocks resume (`ticket.return_rejected` with the deadlines). Refused with `invalid_state` without a
    /// pending return, `stale` when issued before it.
    mutating func rejectReturn(note: String?, at: Date) throws(Refusal) {
        guard state.phase == .returnRequested, let pending = state.pendingReturn else {
            throw notPossible(.rejectReturn)
        }
        guard at >= pending.at else { throw staleDecision("return", requestedAt: pending.at) }
        state.phase = pending.previous
        state.pendingReturn = nil
        resumeClocks()
        var f: [(String, JSONValue)] = note.map { [("note", .string($0))] } ?? []
        f.append(("deadlines", tables.deadlines(state.clocks)))
        emit(.returnRejected, to: holderQueues, f)
    }

    /// `approve_extension`: the resolution clock runs to `until`, else to the requested time, its yellow
    /// light keeping its lead; the paused clocks resume (`ticket.extension_approved`). Refused with
    /// `invalid_state` without a pending extension or a running resolution clock, `stale` when issued
    /// before the request, `invalid_extension` for a time not after the current deadline.
    mutating func approveExtension(until: Date?, note: String?, at: Date) throws(Refusal) {
        guard let pending = state.pendingExtension else {
            throw Refusal(.invalidState, "no extension of ticket \(state.ticketID) is waiting")
        }
        guard at >= pending.at else { throw staleDecision("extension", requestedAt: pending.at) }
        let newDue = until ?? pending.until
        guard let i = state.clocks.firstIndex(where: { $0.clock == .resolve && $0.isRunning }) else {
            throw notPossible(.approveExtension)
        }
        guard newDue > state.clocks[i].due else {
            throw notAfterDeadline(newDue, state.clocks[i].due)
        }
        let lead = state.clocks[i].due.timeIntervalSince(state.clocks[i].warnAt)
        state.clocks[i].due = newDue
        state.clocks[i].warnAt = max(now, newDue.addingTimeInterval(-lead))
        state.clocks[i].warned = state.clocks[i].warnAt <= now
        state.clocks[i].overdue = false
        // The new deadline is the centre's: a resolution clock the request paused runs to it as it is.
        state.clocks[i].pausedAt = nil
        state.pendingExtension = nil
        resumeClocks()
        var f: [(String, JSONValue)] = [("resolve_by", .string(tables.format(newDue)))]
        if let note { f.append(("note", .string(note))) }
        f.append(("deadlines", tables.deadlines(state.clocks)))
        emit(.extensionApproved, to: holderQueues, f)
    }

    /// `reject_extension`: the deadline stays and the paused clocks resume (`ticket.extension_rejected`).
    /// Refused (`invalid_state`) without a pending extension.
    mutating func rejectExtension(note: String?) throws(Refusal) {
        guard state.pendingExtension != nil else {
            throw Refusal(.invalidState, "no extension of ticket \(state.ticketID) is waiting")
        }
        state.pendingExtension = nil
        resumeClocks()
        var f: [(String, JSONValue)] = note.map { [("note", .string($0))] } ?? []
        f.append(("deadlines", tables.deadlines(state.clocks)))
        emit(.extensionRejected, to: holderQueues, f)
    }

    /// `callback_result` (回访) of a replied ticket: a citizen not reached, or no satisfaction given, is
    /// only recorded (`ticket.callback_recorded`); unsatisfied reopens the ticket (`reopen`); satisfied or
    /// basically satisfied closes it (`ticket.closed`). Refused (`invalid_state`) unless replied.
    mutating func recordCallback(
        reached: Bool, resolved: Bool?, satisfaction: Satisfaction?,
        note: String?
    ) throws(Refusal) {
        guard state.phase == .replied else { throw notPossible(.callbackResult) }
        guard reached, let satisfaction else {
            let payload = EventPayload.callback(
                closed: false, reached: reached, resolved: resolved,
                satisfaction: satisfaction, note: note)
            emit(.callbackRecorded, to: [], payload)
            return
        }
        if satisfaction == .unsatisfied {
            reopen(resolved: resolved, note: note)
        } else {
            state.phase = .closed
            state.enterpriseWatchAt = nil
            let payload = EventPayload.callback(
                closed: true, reached: reached, resolved: resolved,
                satisfaction: satisfaction, note: note)
            emit(.closed, to: holderQueues, payload)
        }
    }

    /// The citizen reached is unsatisfied (重办): the holder works on the ticket again (signed) with a fresh
    /// resolution clock from now (`ticket.reopened`); an enterprise's ticket, or one reopened
    /// `reworksBeforeSupervision` times, goes under supervision.
    mutating func reopen(resolved: Bool?, note: String?) {
        state.reworks += 1
        state.phase = .signed
        state.assignedAt = now
        state.clocks.removeAll { $0.clock == .resolve }
        state.clocks += state.profile?.clocks(from: now, calendar: tables.rules.calendar, only: [.resolve]) ?? []
        var f: [(String, JSONValue)] = [("reached", .bool(true))]
        if let resolved { f.append(("resolved", .bool(resolved))) }
        f.append(("satisfaction", .string(Satisfaction.unsatisfied.rawValue)))
        if let note { f.append(("note", .string(note))) }
        f.append(("reworks", .integer(state.reworks)))
        f.append(("deadlines", tables.deadlines(state.clocks)))
        emit(.reopened, to: holderQueues, f)
        if state.enterprise || state.reworks >= reworksBeforeSupervision {
            supervise(reason: state.enterprise ? "enterprise_unsatisfied" : "unsatisfied_\(state.reworks)_times")
        }
    }

    /// `redispatch`: the centre moves the ticket to another unit with fresh clocks (`ticket.redispatched`
    /// to the unit that loses it, `ticket.dispatched` to the new one). Refused with `unknown_unit` for a
    /// unit not in the rules, `same_unit` for the holder itself.
    mutating func redispatch(to unit: String, note: String?, from holder: Holder) throws(Refusal) {
        guard let target = tables.holder(unit: unit) else { throw unknownUnit(unit) }
        guard unit != holder.unit else { throw sameUnit(unit) }
        var f: [(String, JSONValue)] = [("to_unit", .string(unit))]
        if let note { f.append(("note", .string(note))) }
        emit(.redispatched, to: [holder.queue], f)
        move(to: target, from: holder, reason: "redispatch")
    }

    /// `merge`: the ticket is closed as a duplicate of `into`; every clock stops and pending requests and
    /// reminders go (`ticket.closed` with `merged_into`). Refused (`invalid_merge`) into itself.
    mutating func merge(into: String, note: String?) throws(Refusal) {
        guard into != state.ticketID else { throw Refusal(.invalidMerge, "a ticket cannot be merged into itself") }
        for i in state.clocks.indices where state.clocks[i].isRunning { state.clocks[i].stoppedAt = now }
        state.phase = .closed
        state.mergedInto = into
        state.pendingReturn = nil
        state.pendingExtension = nil
        state.remindAt = nil
        var f: [(String, JSONValue)] = [("reason", "merged"), ("merged_into", .string(into))]
        if let note { f.append(("note", .string(note))) }
        emit(.closed, to: holderQueues, f)
    }

    /// Gives the ticket to `destination` with fresh clocks and tells it (`ticket.dispatched`, carrying the
    /// ticket, with `reason` `return` or `redispatch` and the unit it came from).
    mutating func move(to destination: Holder, from holder: Holder, reason: String) {
        assign(destination)
        emit(
            .dispatched, to: [destination.queue], carriesTicket: true,
            [
                ("destination", "unit"), ("reason", .string(reason)), ("from_unit", .string(holder.unit)),
                ("deadlines", tables.deadlines(state.clocks)),
            ])
    }

    /// A unit that contacts, reports progress or replies has taken the ticket even if its `sign` is late.
    mutating func signImplicitly() {
        guard state.phase == .assigned else { return }
        state.phase = .signed
        stop(.sign)
    }
}
