import Foundation
import PagodaJSON
import PagodaRules

/// What a dispatch, command or timer did to a ticket: the new state and the events to emit.
public struct Transition: Sendable {
    /// The ticket's state after the input; nil for a command about a ticket the dispatcher does not know.
    public var state: TicketState?
    /// The events, in order; empty from the calls with `appendingTo:`, which append them to the caller's array.
    public var events: [LifecycleEvent]
    /// Whether `state` differs from the state given (store it, with its timer, when it does).
    public var changed: Bool
    /// The input was refused (`command.rejected`) or ignored (a repeated command id, a stale timer).
    public var outcome: Outcome

    public enum Outcome: String, Sendable, Hashable {
        case applied, refused, duplicate
        case staleTimer = "stale_timer"
    }
}

/// A ticket entering the lifecycle: the engine's decision plus what the repeat check found.
public struct DispatchInput: Sendable {
    public var decision: Decision
    public var receivedAt: Date
    /// An earlier ticket of the same caller phone or enterprise with the same category within 7 days.
    public var repeatOf: String?
    /// The repeat is an enterprise's second complaint on the same matter: supervised at once.
    public var enterpriseRepeat: Bool

    public init(decision: Decision, receivedAt: Date, repeatOf: String? = nil, enterpriseRepeat: Bool = false) {
        self.decision = decision
        self.receivedAt = receivedAt
        self.repeatOf = repeatOf
        self.enterpriseRepeat = enterpriseRepeat
    }
}

/// Why a command was refused: a stable code and a sentence (`command.rejected`'s `code` and `reason`).
public struct Refusal: Error, Sendable, Hashable {
    public let code: Code
    public let reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    /// The refusal codes of the lifecycle; the raw value is the wire spelling (docs/contract.md).
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// No ticket of that id was dispatched.
        case unknownTicket = "unknown_ticket"
        /// The ticket is closed (after a satisfied callback, or merged into another).
        case ticketClosed = "ticket_closed"
        /// The ticket went to an emergency line: the dispatcher keeps no clocks for it.
        case handedOff = "handed_off"
        /// A worker command from a unit that does not hold the ticket.
        case notHolder = "not_holder"
        /// A centre command from a unit outside the hotline centre (triage and supervision).
        case notAuthorized = "not_authorized"
        /// Issued before the ticket came to the sender, or before the request it decides.
        case stale
        /// Dated further ahead of the dispatcher's clock than `Lifecycle.allowedSkew`.
        case future
        /// Not possible in the ticket's phase (or without the request it decides).
        case invalidState = "invalid_state"
        /// A `sign` of a ticket the unit signed for already.
        case alreadySigned = "already_signed"
        /// A return or extension request while one of the kind is waiting for the centre.
        case alreadyPending = "already_pending"
        /// An extension without a running resolution clock, or not later than its deadline.
        case invalidExtension = "invalid_extension"
        /// A unit that is not in the rule set.
        case unknownUnit = "unknown_unit"
        /// A redispatch or return to the unit holding the ticket.
        case sameUnit = "same_unit"
        /// A ticket merged into itself.
        case invalidMerge = "invalid_merge"
    }
}

/// The ticket lifecycle as a pure state machine: `(state, input, now) -> (state, events)`.
///
/// No I/O and no clock of its own: the service applies a transition's events and state in one SQLite
/// transaction, the simulator keeps them in memory. Timers are data: `TicketState.nextTimer` says when
/// the ticket next needs `fire`, and `TicketState.version` is the token that makes a timer set before a
/// later change do nothing.
public struct Lifecycle: Sendable {
    /// What the lifecycle works out from its rule set once (holders, snapshots, intervals).
    let tables: LifecycleTables
    public var rules: RuleSet { tables.rules }
    /// An enterprise ticket still open this long after receipt goes to supervision (domain: 7 days).
    public var enterpriseWatch: TimeInterval = 7 * 86_400
    /// A command dated further ahead of the dispatcher's clock than this is refused.
    public var allowedSkew: TimeInterval = 300
    /// Reopened this many times (重办), a ticket goes to supervision; an enterprise ticket at the first.
    public var reworksBeforeSupervision = 2
    /// Command ids remembered per ticket for idempotency (the store also keeps a global ledger).
    public var rememberedCommands = 256

    var offset: Int { tables.offset }

    public init(rules: RuleSet) {
        tables = LifecycleTables(rules: rules)
    }

    /// The units that may decide returns and extensions, record callbacks, redispatch and merge.
    public var centre: Set<String> { tables.centreUnits }

    /// The holder for a unit of the current rule set, with its escalation chain.
    public func holder(unit id: String) -> Holder? { tables.holder(unit: id) }

    // MARK: Dispatch

    /// Starts a ticket's life from its routing decision; the clocks run from `received_at`. The
    /// `ticket.dispatched` event carries the decision's `ticketWarnings` as `ticket_warnings` when there are any.
    public func dispatch(_ input: consuming DispatchInput, now: Date) -> Transition {
        var events: [LifecycleEvent] = []
        var t = dispatch(consume input, now: now, appendingTo: &events)
        t.events = events
        return t
    }

    /// `dispatch(_:now:)` with the events appended to `events` instead of returned (the transition's
    /// `events` is empty): a caller collecting many transitions' events keeps them in one array, without
    /// an array per transition or a copy of each event.
    public func dispatch(_ input: consuming DispatchInput, now: Date, appendingTo events: inout [LifecycleEvent])
        -> Transition
    {
        dispatch(
            input.decision, receivedAt: input.receivedAt, repeatOf: input.repeatOf,
            enterpriseRepeat: input.enterpriseRepeat,
            now: now, appendingTo: &events)
    }

    /// `dispatch(_:now:appendingTo:)` with the input's parts (the simulator's: no `DispatchInput` to copy).
    func dispatch(
        _ decision: borrowing Decision, receivedAt: Date, repeatOf: String?, enterpriseRepeat: Bool, now: Date,
        appendingTo events: inout [LifecycleEvent]
    ) -> Transition {
        // The decision is read in place (`decision.x`): a local copy of it, or of its unit, would be a
        // reference count for each of their fields.
        let policy =
            tables.policySnapshots[decision.escalationPolicy]
            ?? PolicySnapshot(
                name: decision.escalationPolicy, clocks: [], toParent: false, remindEvery: nil, maxReturns: 0)
        let unit = decision.unit?.index
        var s = TicketState(
            ticketID: decision.ticketID, receivedAt: receivedAt, enterprise: decision.enterprise,
            category: decision.category, phase: unit == nil ? .handedOff : .assigned,
            holder: unit.map { tables.holders[$0] },
            assignedAt: receivedAt, profile: decision.slaProfile.flatMap { tables.profileSnapshots[$0] }, policy: policy
        )
        s.repeatOf = repeatOf
        s.urgency = decision.urgency
        var out = Emitter(lifecycle: self, state: s, now: now, change: .compare(s), events: &events)
        if unit != nil {
            out.state.clocks = decision.deadlines.map {
                ClockState(clock: $0.clock, started: receivedAt, due: $0.due, warnAt: $0.warnAt)
            }
            if decision.enterprise { out.state.enterpriseWatchAt = receivedAt.addingTimeInterval(enterpriseWatch) }
            // Early supervision (the rules' supervise_at) shares the watch's timer: the earlier one fires.
            if let early = decision.superviseAt {
                out.state.enterpriseWatchAt = min(out.state.enterpriseWatchAt ?? early, early)
            }
            out.emit(
                .dispatched, to: out.holderQueues, carriesTicket: true,
                .dispatched(
                    destination: decision.type.rawValue, rule: decision.rule.id, clocks: out.state.clocks,
                    offset: offset,
                    repeatOf: repeatOf, ticketWarnings: decision.ticketWarnings))
            if enterpriseRepeat { out.supervise(reason: "enterprise_repeat") }
        } else {
            var fields: [(String, JSONValue)] = [
                ("destination", .string("emergency")),
                ("emergency", decision.emergencyLine.map { .string($0) } ?? .null),
                ("rule", .string(decision.rule.id)),
            ]
            if !decision.ticketWarnings.isEmpty {
                fields.append(("ticket_warnings", .array(decision.ticketWarnings.map(\.json))))
            }
            out.emit(.dispatched, to: [], fields)
        }
        return out.finish(outcome: .applied, into: &events)
    }

    // MARK: Timers

    /// Runs everything due at `now` for the ticket: yellow lights, red lights, escalation one level at a
    /// time, supervision reminders, the enterprise 7-day watch. A `token` other than the state's version
    /// belongs to a timer made stale by a later change: nothing happens.
    public func fire(_ state: consuming TicketState, token: Int, now: Date) -> Transition {
        var events: [LifecycleEvent] = []
        var t = fire(consume state, token: token, now: now, appendingTo: &events)
        t.events = events
        return t
    }

    /// `fire(_:token:now:)` with the events appended to `events` (see `dispatch(_:now:appendingTo:)`).
    public func fire(_ state: consuming TicketState, token: Int, now: Date, appendingTo events: inout [LifecycleEvent])
        -> Transition
    {
        guard token == state.version, !state.phase.isFinal else {
            return Transition(state: state, events: [], changed: false, outcome: .staleTimer)
        }
        let nextTimer = state.nextTimer
        var out = Emitter(
            lifecycle: self, state: consume state, now: now, change: .timer(nextTimer: nextTimer), events: &events)
        // Each step handles the earliest due item; escalation restarts the clocks after `now`, so this ends.
        for _ in 0..<64 {
            guard let item = out.state.earliestDue(), item.at <= now else { break }
            out.handle(item)
        }
        return out.finish(outcome: .applied, into: &events)
    }

    // MARK: Commands

    /// Applies a worker or centre command. `reroute` finds a unit for an approved return that names
    /// none, passing over the given units (nil: triage takes it).
    public func handle(
        _ command: Command, state: consuming TicketState?, now: Date,
        reroute: (Set<String>) -> String? = { _ in nil }
    ) -> Transition {
        var events: [LifecycleEvent] = []
        var t = handle(command, state: consume state, now: now, appendingTo: &events, reroute: reroute)
        t.events = events
        return t
    }

    /// `handle(_:state:now:reroute:)` with the events appended to `events` (see
    /// `dispatch(_:now:appendingTo:)`).
    public func handle(
        _ command: Command, state: consuming TicketState?, now: Date, appendingTo events: inout [LifecycleEvent],
        reroute: (Set<String>) -> String? = { _ in nil }
    ) -> Transition {
        guard let s = consume state else {
            let refusal = Refusal(.unknownTicket, "no ticket \(command.ticketID) was dispatched")
            var event = rejection(command, refusal, version: 0, now: now)
            event.refused = command.id
            events.append(event)
            return Transition(state: nil, events: [], changed: false, outcome: .refused)
        }
        if s.handledCommands.contains(command.id) {
            return Transition(state: s, events: [], changed: false, outcome: .duplicate)
        }
        // Remembering the id is a change too (even of a refused or no-op command): the state must be stored.
        var out = Emitter(lifecycle: self, state: consume s, now: now, change: .always, events: &events)
        // Room for a usual life's commands (sign, reply, callback, ...) at once, not one growth each.
        if out.state.handledCommands.isEmpty { out.state.handledCommands.reserveCapacity(4) }
        out.state.handledCommands.append(command.id)
        if out.state.handledCommands.count > rememberedCommands {
            out.state.handledCommands.removeFirst(out.state.handledCommands.count - rememberedCommands)
        }
        do {
            try out.apply(command, reroute: reroute)
        } catch {
            out.events.removeSubrange(out.base...)
            out.events.append(rejection(command, error, version: out.state.version + 1, now: now))
            return out.finish(outcome: .refused, into: &events)
        }
        return out.finish(outcome: .applied, into: &events)
    }

    func rejection(_ c: Command, _ r: Refusal, version: Int, now: Date) -> LifecycleEvent {
        LifecycleEvent(
            type: .commandRejected, ticketID: c.ticketID, at: now, unit: c.unit, level: rules.unit(id: c.unit)?.level,
            queues: [], replyTo: c.replyTo, carriesTicket: false, version: version, sequence: 0,
            fields: JSONObject([
                ("command_id", .string(c.id)), ("command_type", .string(c.action.type.rawValue)),
                ("code", .string(r.code.rawValue)), ("reason", .string(r.reason)),
            ]))
    }
}

/// What a lifecycle works out from its rule set once, as every dispatch would otherwise: each unit's
/// holder (by unit index), each SLA profile's and escalation policy's snapshot (by name), the reminder
/// intervals. One reference: a transition's `Emitter` holds it with one reference count, not one per table.
final class LifecycleTables: Sendable {
    let rules: RuleSet
    let offset: Int
    let centreUnits: Set<String>
    let holders: [Holder]
    let profileSnapshots: [String: ProfileSnapshot]
    let policySnapshots: [String: PolicySnapshot]
    /// The rule set's reminder intervals and review times by their text (a policy snapshot keeps
    /// `remind_every`, `return_review` and `extension_review` as text).
    let remindIntervals: [String: SLADuration]
    /// The hotline centre's queues: triage's and the supervision unit's (a request the centre left
    /// undecided goes there).
    let centreQueues: [String]

    init(rules: RuleSet) {
        self.rules = rules
        self.offset = rules.calendar.utcOffsetSeconds(at: Date(timeIntervalSince1970: 1_767_225_600))
        var centre: Set<String> = [rules.units[rules.triageUnit].id]
        if let s = rules.supervisionUnit { centre.insert(rules.units[s].id) }
        self.centreUnits = centre
        let holders = rules.units.map { u in
            Holder(
                unit: u.id, level: u.level, queue: rules.queueName(of: u),
                parents: rules.escalationChain(from: u.index).dropFirst().map {
                    Holder.Link(unit: $0.id, level: $0.level, queue: rules.queueName(of: $0))
                })
        }
        self.holders = holders
        let supervision = rules.supervisionUnit.map { holders[$0] }
        self.supervisionHolder = supervision
        var lists: [String: [String]] = [:]
        for h in holders { lists[h.queue] = Self.withSupervision(h.queues, supervision) }
        self.supervisionQueueLists = lists
        self.profileSnapshots = rules.profiles.mapValues(ProfileSnapshot.init)
        self.policySnapshots = rules.policies.mapValues { PolicySnapshot($0, profiles: rules.profiles) }
        var intervals: [String: SLADuration] = [:]
        for p in rules.policies.values {
            for d in [p.remindEvery, p.returnReview, p.extensionReview] { if let d { intervals[d.description] = d } }
        }
        self.remindIntervals = intervals
        self.centreQueues = Self.withSupervision([holders[rules.triageUnit].queue], supervision)
    }

    /// The holder for a unit of the rule set, with its escalation chain.
    func holder(unit id: String) -> Holder? {
        guard let u = rules.unit(id: id) else { return nil }
        return holders[u.index]
    }

    // `holders` is in the order of `rules.units`, so a unit's position is its index.
    var triageHolder: Holder { holders[rules.triageUnit] }
    let supervisionHolder: Holder?
    /// Each holder's queue list with the supervision unit's queue added (a supervision reminder's
    /// queues; made once, not per reminder), by the holder's queue.
    let supervisionQueueLists: [String: [String]]

    /// `holder`'s queues and the supervision unit's queue (once, when they are the same).
    func supervisionQueues(holder: Holder?) -> [String] {
        guard let holder else { return supervisionHolder?.queues ?? [] }
        return supervisionQueueLists[holder.queue] ?? Self.withSupervision(holder.queues, supervisionHolder)
    }

    private static func withSupervision(_ queues: [String], _ supervision: Holder?) -> [String] {
        guard let s = supervision, !queues.contains(s.queue) else { return queues }
        return queues + [s.queue]
    }

    func deadlines(_ clocks: [ClockState]) -> JSONValue { EventPayload.deadlines(clocks, offset: offset) }

    func format(_ d: Date) -> String { RFC3339.format(d, offsetSeconds: offset) }

    func next(after instant: Date, every: String?) -> Date? {
        guard let every, let d = remindIntervals[every] ?? (try? SLADuration.parse(every).get()) else { return nil }
        let at = rules.calendar.deadline(after: d, from: instant)
        return at > instant ? at : nil
    }
}

// MARK: - Due items

/// Something a ticket's timer fires for.
enum DueItem {
    case warn(Int)
    case overdue(Int)
    case remind, enterpriseWatch
    /// The centre's decision on a pending return or extension request is due.
    case returnReview, extensionReview

    var order: Int {
        switch self {
        case .warn: 0
        case .overdue: 1
        case .remind: 2
        case .enterpriseWatch: 3
        case .returnReview: 4
        case .extensionReview: 5
        }
    }
}

extension TicketState {
    /// The earliest thing the ticket waits for, with its time.
    func earliestDue() -> (at: Date, item: DueItem)? {
        guard !phase.isFinal else { return nil }
        var best: (at: Date, item: DueItem)?
        func consider(_ at: Date, _ item: DueItem) {
            if let b = best, b.at < at || (b.at == at && b.item.order <= item.order) { return }
            best = (at, item)
        }
        for (i, c) in clocks.enumerated() where c.isTicking {
            if !c.warned && c.warnAt < c.due { consider(c.warnAt, .warn(i)) }
            if !c.overdue { consider(c.due, .overdue(i)) }
        }
        if let r = remindAt { consider(r, .remind) }
        if let w = enterpriseWatchAt, !supervised { consider(w, .enterpriseWatch) }
        if let p = pendingReturn, let d = p.reviewDue, !p.reviewOverdue { consider(d, .returnReview) }
        if let p = pendingExtension, let d = p.reviewDue, !p.reviewOverdue { consider(d, .extensionReview) }
        return best
    }

    mutating func refreshTimer() { nextTimer = earliestDue()?.at }
}

// MARK: - Applying one input

/// Accumulates one transition: the state being changed and the events it emits.
struct Emitter {
    /// The lifecycle's tables (one reference for all of them).
    let tables: LifecycleTables
    let allowedSkew: TimeInterval
    let reworksBeforeSupervision: Int
    /// The enterprise watch (`Lifecycle.enterpriseWatch`), to tell its timer from early supervision's.
    let enterpriseWatch: TimeInterval
    var state: TicketState
    /// How `finish` tells whether the state changed.
    let change: Change
    let now: Date
    /// Events of earlier transitions (before `base`), then this one's.
    var events: [LifecycleEvent]
    let base: Int
    /// Due items handled (`handle(_:)`), for a timer's `Change`.
    var handledItems = 0

    /// What an input can have changed. Keeping a copy of the state to compare with at the end would also
    /// make the first change of a state copy it whole; only a dispatch, whose state is new, does.
    enum Change {
        /// A new state: compared with the one it started as.
        case compare(TicketState)
        /// A command that is not a repeat: it always changes the state (its id is remembered).
        case always
        /// A timer: it changes the state exactly when it handles a due item (each sets a light, or clears
        /// or moves a time), or when the state's next timer was out of date (`nextTimer` before).
        case timer(nextTimer: Date?)
    }

    /// Takes over `events` (left empty until `finish(outcome:into:)` hands them back with this
    /// transition's appended), so appending does not copy the caller's array.
    init(
        lifecycle: borrowing Lifecycle, state: consuming TicketState, now: Date, change: Change,
        events: inout [LifecycleEvent]
    ) {
        self.tables = lifecycle.tables
        allowedSkew = lifecycle.allowedSkew
        reworksBeforeSupervision = lifecycle.reworksBeforeSupervision
        enterpriseWatch = lifecycle.enterpriseWatch
        self.state = state
        self.change = change
        self.now = now
        self.events = []
        swap(&self.events, &events)
        base = self.events.count
        // A reply, an escalation: one allocation for the usual one or two events.
        if self.events.capacity == 0 { self.events.reserveCapacity(2) }
    }

    mutating func emit(
        _ type: EventType, to queues: [String], carriesTicket: Bool = false, _ fields: [(String, JSONValue)] = []
    ) {
        emit(type, to: queues, carriesTicket: carriesTicket, .fields(JSONObject(fields)))
    }

    mutating func emit(_ type: EventType, to queues: [String], carriesTicket: Bool = false, _ payload: EventPayload) {
        events.append(
            LifecycleEvent(
                type: type, ticketID: state.ticketID, at: now, unit: state.holder?.unit, level: state.holder?.level,
                queues: queues, replyTo: nil, carriesTicket: carriesTicket, version: 0, sequence: events.count - base,
                payload: payload))
    }

    /// The transition, its events (after those of earlier transitions) handed back in `into`.
    mutating func finish(outcome: Transition.Outcome, into: inout [LifecycleEvent]) -> Transition {
        state.refreshTimer()
        let changed =
            switch change {
            case .compare(let original): state.differs(from: original)
            case .always: true
            case .timer(let nextTimer): handledItems > 0 || state.nextTimer != nextTimer
            }
        // Nothing else changes the version, so it is still the one the input started from.
        if changed { state.version += 1 }
        for i in base..<events.count {
            events[i].version = state.version
            events[i].sequence = i - base
        }
        swap(&events, &into)
        return Transition(state: state, events: [], changed: changed, outcome: outcome)
    }

    var holderQueues: [String] { state.holder?.queues ?? [] }
    /// The holder's queue and the supervision unit's.
    var supervisionQueues: [String] { tables.supervisionQueues(holder: state.holder) }
    static let callbackQueues = ["callback"]

    // MARK: Timers

    mutating func handle(_ due: (at: Date, item: DueItem)) {
        handledItems += 1
        switch due.item {
        case .warn(let i):
            state.clocks[i].warned = true
            let c = state.clocks[i]
            emit(.reminder, to: holderQueues, .light(red: false, clock: c.clock, due: c.due, offset: tables.offset))
        case .overdue(let i):
            state.clocks[i].overdue = true
            state.clocks[i].warned = true
            let c = state.clocks[i]
            emit(.overdue, to: holderQueues, .light(red: true, clock: c.clock, due: c.due, offset: tables.offset))
            guard state.policy.toParent, state.policy.clocks.contains(c.clock), let h = state.holder else { return }
            if let parent = h.parent {
                escalate(
                    to: parent, reason: [("clock", .string(c.clock.rawValue)), ("due", .string(tables.format(c.due)))])
            } else {
                // Already supervised for another reason (an enterprise repeat, reworks): still reminded at the top.
                supervise(reason: "overdue_at_top")
                if state.remindAt == nil { state.remindAt = nextReminder() }
            }
        case .remind:
            var overdue = ClockList()
            for c in state.clocks where c.isRunning && c.overdue && state.policy.clocks.contains(c.clock) {
                overdue.append(c.clock)
            }
            guard !overdue.isEmpty else {
                state.remindAt = nil
                return
            }
            emit(.reminder, to: supervisionQueues, .supervisionReminder(clocks: overdue))
            state.remindAt = nextReminder()
        case .enterpriseWatch:
            let sevenDays =
                state.enterprise
                && state.enterpriseWatchAt == state.receivedAt.addingTimeInterval(enterpriseWatch)
            state.enterpriseWatchAt = nil
            supervise(reason: sevenDays ? "enterprise_open_7_days" : "supervise_at")
        case .returnReview:
            guard let p = state.pendingReturn, let due = p.reviewDue else { return }
            state.pendingReturn?.reviewOverdue = true
            superviseRequest("return", requestedAt: p.at, due: due)
        case .extensionReview:
            guard let p = state.pendingExtension, let due = p.reviewDue else { return }
            state.pendingExtension?.reviewOverdue = true
            superviseRequest("extension", requestedAt: p.at, due: due)
        }
    }

    /// When the next repeating supervision reminder goes out: `remind_every` after now, moved to the
    /// calendar's next working time unless the ticket's urgency is one the policy reminds at any hour
    /// (`at_top.remind_any_time`) or not known (a state stored before it was kept). Nil when the policy
    /// reminds once.
    func nextReminder() -> Date? {
        guard let at = tables.next(after: now, every: state.policy.remindEvery) else { return nil }
        guard let urgency = state.urgency, !state.policy.remindAnyTime.contains(urgency) else { return at }
        return tables.rules.calendar.nextWorkingMoment(atOrAfter: at)
    }

    /// The centre left a return or extension request undecided past its review time: the request goes
    /// to supervision (督办 of the centre), not the holder up the pagoda. `ticket.supervised` names the
    /// request; a ticket already supervised gets a red `ticket.reminder` naming it instead.
    mutating func superviseRequest(_ kind: String, requestedAt: Date, due: Date) {
        let request: [(String, JSONValue)] = [
            ("request", .string(kind)), ("requested_at", .string(tables.format(requestedAt))),
            ("review_due", .string(tables.format(due))),
        ]
        if state.supervised {
            emit(.reminder, to: tables.centreQueues, [("light", "red"), ("supervision", true)] + request)
        } else {
            state.supervised = true
            emit(.supervised, to: tables.centreQueues, [("reason", .string("\(kind)_review_overdue"))] + request)
        }
    }

    /// The centre's review deadline for a request filed now, after `duration` (policy text); nil: none.
    func reviewDue(_ duration: String?) -> Date? { tables.next(after: now, every: duration) }

    /// A return or extension request answers the holder's clocks named by `request_pauses`: they stop
    /// (paused, not stopped for good) until the centre decides. A clock already red is left as it is.
    mutating func pauseClocksForRequest() {
        for i in state.clocks.indices
        where state.clocks[i].isTicking && !state.clocks[i].overdue
            && state.policy.requestPauses.contains(state.clocks[i].clock)
        {
            state.clocks[i].pausedAt = now
        }
    }

    /// Once no request is pending any more, the paused clocks run again with the time they had left when
    /// the request was filed, counted as the clock counts: a natural-time clock (`2h`) by the time the
    /// request was pending; a working-hour clock (`4wh`) with the working time it had left from then; a
    /// working-day clock (`1wd`) with the working days it had left after the request's day, due at the end
    /// of the last of them counted from now (the end of today, or of the next working day, when none was
    /// left). A deadline never moves earlier; the yellow light keeps its lead before the deadline.
    mutating func resumeClocks() {
        guard state.pendingReturn == nil, state.pendingExtension == nil else { return }
        let calendar = tables.rules.calendar
        for i in state.clocks.indices {
            guard let paused = state.clocks[i].pausedAt else { continue }
            var c = state.clocks[i]
            c.pausedAt = nil
            defer { state.clocks[i] = c }
            guard c.isRunning else { continue }
            let limit = state.profile?.limits.first { $0.clock == c.clock }
            let duration = limit.flatMap { try? SLADuration.parse($0.duration).get() } ?? .natural(seconds: 0)
            var due: Date
            switch duration {
            case .natural:
                due = c.due.addingTimeInterval(max(0, now.timeIntervalSince(paused)))
            case .workingHours:
                due = calendar.addingWorkingSeconds(calendar.workingSeconds(from: paused, to: c.due), to: now)
            case .workingDays:
                let from = calendar.civilDate(of: paused)
                let through = calendar.civilDate(of: c.due)
                let left = calendar.workingDays(from: from, through: through) - (calendar.isWorkingDay(from) ? 1 : 0)
                due = calendar.addingWorkingDays(max(0, left), to: now)
            }
            due = max(due, c.due)
            let lead = c.due.timeIntervalSince(c.warnAt)
            c.due = due
            c.warnAt = max(now, due.addingTimeInterval(-lead))
        }
    }

    /// Re-queues the ticket to `parent` with that level's clocks; the unit that lost it stays a co-handler.
    mutating func escalate(to parent: Holder, reason: [(String, JSONValue)]) {
        guard let old = state.holder else { return }
        if !state.coHandlers.contains(old.unit) { state.coHandlers.append(old.unit) }
        if let after = state.policy.afterEscalation { state.profile = after }
        assign(parent)
        state.escalations += 1
        emit(
            .escalated, to: [parent.queue, old.queue], carriesTicket: true,
            [
                ("from_unit", .string(old.unit)), ("from_level", .string(old.level.name)),
                ("reason", .object(JSONObject(reason))), ("deadlines", tables.deadlines(state.clocks)),
                ("co_handlers", .array(state.coHandlers.map { .string($0) })),
            ])
    }

    /// Gives the ticket to `holder` with fresh clocks from now.
    mutating func assign(_ holder: Holder) {
        state.holder = holder
        state.assignedAt = now
        state.phase = .assigned
        state.pendingReturn = nil
        state.pendingExtension = nil
        state.remindAt = nil
        state.clocks = state.profile?.clocks(from: now, calendar: tables.rules.calendar) ?? []
    }

    /// Puts the ticket under supervision (督办): the supervision office hears of it. A ticket supervised already
    /// stays so, and the office hears of the new reason as a red `ticket.reminder` naming it (an enterprise
    /// dissatisfied after its repeat complaint was supervised is still the office's to call back), except
    /// for a clock overdue at the top, which the top's reminders repeat anyway.
    mutating func supervise(reason: String) {
        guard !state.supervised else {
            guard reason != "overdue_at_top" else { return }
            emit(
                .reminder, to: supervisionQueues,
                [("light", "red"), ("supervision", true), ("reason", .string(reason))])
            return
        }
        state.supervised = true
        emit(.supervised, to: supervisionQueues, [("reason", .string(reason))])
    }

    mutating func stop(_ clock: Clock) {
        if let i = state.clocks.firstIndex(where: { $0.clock == clock && $0.isRunning }) {
            state.clocks[i].stoppedAt = now
        }
    }
}
