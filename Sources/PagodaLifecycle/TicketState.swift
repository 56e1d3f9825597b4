import Foundation
import PagodaJSON
import PagodaRules

/// Where a ticket stands in its life after dispatch.
public enum Phase: String, Sendable, Hashable, Codable, CaseIterable {
    /// Dispatched to a unit, not signed for yet (待签收).
    case assigned
    /// Signed for; the unit is handling it (办理中).
    case signed
    /// The unit asked to return it; the centre decides (退单审核).
    case returnRequested = "return_requested"
    /// The unit replied; waiting for the centre's callback (待回访).
    case replied
    /// Closed after a satisfied callback, or merged into another ticket.
    case closed
    /// Handed to an emergency line (110/119/120/122); the dispatcher runs no clocks for it.
    case handedOff = "handed_off"

    /// Whether the ticket is finished (no commands change it any more).
    public var isFinal: Bool { self == .closed || self == .handedOff }
}

/// A unit as the ticket's clocks see it: id, level, queue and the units above it at dispatch time.
public struct Holder: Sendable, Hashable, Codable {
    public var unit: String
    public var level: Level
    /// Queue name below the service's prefix (`unit.nanhai.shishan.cm`, `triage`, `platform`).
    public var queue: String { didSet { queues = [queue] } }
    /// `[queue]`, made once: the queues of an event for the holder (no array per event).
    public private(set) var queues: [String]
    /// The units the ticket climbs to when nobody acts, nearest first; empty at the city level.
    public var parents: [Link]

    public struct Link: Sendable, Hashable, Codable {
        public var unit: String
        public var level: Level
        public var queue: String
        public init(unit: String, level: Level, queue: String) {
            self.unit = unit
            self.level = level
            self.queue = queue
        }
    }

    public init(unit: String, level: Level, queue: String, parents: [Link]) {
        self.unit = unit
        self.level = level
        self.queue = queue
        self.queues = [queue]
        self.parents = parents
    }

    // Coded without `queues`, which is made from `queue`.
    private enum CodingKeys: String, CodingKey { case unit, level, queue, parents }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            unit: try c.decode(String.self, forKey: .unit), level: try c.decode(Level.self, forKey: .level),
            queue: try c.decode(String.self, forKey: .queue), parents: try c.decode([Link].self, forKey: .parents))
    }

    /// The holder one level up, or nil at the top.
    public var parent: Holder? {
        guard let p = parents.first else { return nil }
        return Holder(unit: p.unit, level: p.level, queue: p.queue, parents: Array(parents.dropFirst()))
    }
}

/// The time-limit profile in force when the ticket was dispatched; later rule reloads do not change it.
public struct ProfileSnapshot: Sendable, Hashable, Codable {
    public var name: String
    public var limits: [Limit]
    /// The yellow light at this percentage of each clock, or `warnBeforeSeconds` before each deadline.
    public var warnPercent: Int?
    public var warnBeforeSeconds: Int?

    public struct Limit: Sendable, Hashable, Codable {
        public var clock: Clock
        /// The duration as written (`3wd`, `30m`).
        public var duration: String
    }

    public init(_ profile: SLAProfile) {
        name = profile.name
        limits = profile.clocks.map { Limit(clock: $0.clock, duration: $0.duration.description) }
        switch profile.warning {
        case .percent(let p): warnPercent = p
        case .before(let s): warnBeforeSeconds = s
        }
    }

    var warning: SLAProfile.Warning {
        if let s = warnBeforeSeconds { return .before(seconds: s) }
        return .percent(warnPercent ?? 80)
    }

    /// The clocks of this profile started at `start` on `calendar`.
    func clocks(from start: Date, calendar: BusinessCalendar, only: Set<Clock>? = nil) -> [ClockState] {
        limits.compactMap { limit in
            if let only, !only.contains(limit.clock) { return nil }
            guard case .success(let duration) = SLADuration.parse(limit.duration) else { return nil }
            let d = calendar.clockDeadline(duration, warning: warning, from: start)
            return ClockState(clock: limit.clock, started: start, due: d.due, warnAt: d.warnAt)
        }
    }
}

/// The escalation policy in force when the ticket was dispatched.
public struct PolicySnapshot: Sendable, Hashable, Codable {
    public var name: String
    /// Clocks whose expiry re-queues the ticket to the parent unit.
    public var clocks: [Clock]
    public var toParent: Bool
    /// How often a supervised ticket at the top is reminded (`4h`); nil: once.
    public var remindEvery: String?
    /// Approved returns (退单) before the ticket goes to supervision.
    public var maxReturns: Int
    /// The profile whose clocks run after an escalation (`after_escalation_sla`); nil keeps the ticket's.
    public var afterEscalation: ProfileSnapshot?
    /// How long the centre has to decide a return request (`return_review`, `2wh`); nil: no deadline.
    public var returnReview: String?
    /// How long the centre has to decide an extension request (`extension_review`); nil: no deadline.
    public var extensionReview: String?
    /// The holder's clocks a pending return or extension request stops (`request_pauses`).
    public var requestPauses: [Clock] = EscalationPolicy.defaultRequestPauses
    /// Urgencies whose repeating reminders go out at any hour (`at_top.remind_any_time`); the others wait
    /// for the next working time.
    public var remindAnyTime: [Urgency] = EscalationPolicy.defaultRemindAnyTime

    public init(_ policy: EscalationPolicy, profiles: [String: SLAProfile]) {
        name = policy.name
        clocks = policy.clocks
        toParent = policy.toParent
        remindEvery = policy.remindEvery?.description
        maxReturns = policy.maxReturns
        afterEscalation = policy.afterEscalationProfile.flatMap { profiles[$0] }.map(ProfileSnapshot.init)
        returnReview = policy.returnReview?.description
        extensionReview = policy.extensionReview?.description
        requestPauses = policy.requestPauses
        remindAnyTime = policy.remindAnyTime
    }

    public init(name: String, clocks: [Clock], toParent: Bool, remindEvery: String?, maxReturns: Int) {
        self.name = name
        self.clocks = clocks
        self.toParent = toParent
        self.remindEvery = remindEvery
        self.maxReturns = maxReturns
    }
}

/// One running (or stopped) clock of the holding unit.
public struct ClockState: Sendable, Hashable, Codable {
    public var clock: Clock
    public var started: Date
    public var due: Date
    public var warnAt: Date
    public var stoppedAt: Date?
    /// The yellow light was shown.
    public var warned = false
    /// The red light was shown.
    public var overdue = false
    /// Stopped by a pending return or extension request at this time, to resume with the time it had
    /// left when the centre decides (`Emitter.resumeClocks`); a paused clock fires nothing.
    public var pausedAt: Date?

    /// Not stopped for good (a paused clock is running: it resumes).
    public var isRunning: Bool { stoppedAt == nil }
    /// Running and not paused: its lights and deadline are pending.
    public var isTicking: Bool { stoppedAt == nil && pausedAt == nil }
}

/// A pending request of the holding unit, waiting for the centre.
public struct PendingReturn: Sendable, Hashable, Codable {
    public var reason: ReturnReason
    public var suggestedUnit: String?
    public var at: Date
    /// The phase to go back to when the return is rejected.
    public var previous: Phase
    /// When the centre's decision is due (`return_review`); nil: no deadline.
    public var reviewDue: Date? = nil
    /// The decision's deadline passed: the request went to supervision.
    public var reviewOverdue = false
}

public struct PendingExtension: Sendable, Hashable, Codable {
    public var until: Date
    public var reason: String
    public var at: Date
    /// When the centre's decision is due (`extension_review`); nil: no deadline.
    public var reviewDue: Date? = nil
    /// The decision's deadline passed: the request went to supervision.
    public var reviewOverdue = false
}

/// Everything the dispatcher remembers about an open ticket between inputs.
///
/// A value: the service stores it (one row per ticket) and the simulator keeps it in memory. Its fields
/// live behind one reference, copied only when a shared state is changed (copy on write), so passing a
/// state into a transition and back costs one reference count instead of one per field.
public struct TicketState: Sendable, Hashable, Codable {
    /// The stored fields, with the state's value semantics (derived equality, hashing and coding).
    struct Fields: Sendable, Hashable, Codable {
        var ticketID: String
        var receivedAt: Date
        var enterprise: Bool
        var category: String?
        var urgency: Urgency?
        var phase: Phase
        var holder: Holder?
        var assignedAt: Date
        var coHandlers: [String] = []
        var profile: ProfileSnapshot?
        var policy: PolicySnapshot
        var clocks: [ClockState] = []
        var supervised: Bool = false
        var remindAt: Date?
        var enterpriseWatchAt: Date?
        var returns: Int = 0
        var returnedBy: [String] = []
        var reworks: Int = 0
        var escalations: Int = 0
        var pendingReturn: PendingReturn?
        var pendingExtension: PendingExtension?
        var repeatOf: String?
        var mergedInto: String?
        var handledCommands: [String] = []
        var version: Int = 0
        var nextTimer: Date?
    }

    /// Changed only while uniquely referenced (see `fields`), so states may cross threads: a box two
    /// states share is only read, and changing one first gives it a box of its own.
    final class Box: @unchecked Sendable {
        var fields: Fields
        init(_ fields: Fields) { self.fields = fields }
    }

    private var box: Box

    // Fields with references are read in place (`_read`): `state.holder?.unit` copies the unit's id, not
    // the whole holder (a reference count for each of its fields).

    /// The fields for changing: a shared box is copied first.
    private var fields: Fields {
        get { box.fields }
        _modify {
            if !isKnownUniquelyReferenced(&box) { box = Box(box.fields) }
            yield &box.fields
        }
    }

    public var ticketID: String {
        _read { yield box.fields.ticketID }
        _modify { yield &fields.ticketID }
    }
    public var receivedAt: Date {
        get { box.fields.receivedAt }
        _modify { yield &fields.receivedAt }
    }
    public var enterprise: Bool {
        get { box.fields.enterprise }
        _modify { yield &fields.enterprise }
    }
    public var category: String? {
        _read { yield box.fields.category }
        _modify { yield &fields.category }
    }
    /// The urgency of the dispatch decision; it decides whether repeating reminders wait for working time
    /// (`PolicySnapshot.remindAnyTime`). Nil in a state stored before it was kept: such a ticket is
    /// reminded at any hour, as it was when it was dispatched.
    public var urgency: Urgency? {
        get { box.fields.urgency }
        _modify { yield &fields.urgency }
    }
    public var phase: Phase {
        get { box.fields.phase }
        _modify { yield &fields.phase }
    }
    /// The unit holding the ticket; nil once handed off to an emergency line.
    public var holder: Holder? {
        _read { yield box.fields.holder }
        _modify { yield &fields.holder }
    }
    /// When the current holder got the ticket; a worker command issued before that is stale.
    public var assignedAt: Date {
        get { box.fields.assignedAt }
        _modify { yield &fields.assignedAt }
    }
    /// Units that held the ticket and lost it by escalation; they stay recorded (协办).
    public var coHandlers: [String] {
        _read { yield box.fields.coHandlers }
        _modify { yield &fields.coHandlers }
    }
    public var profile: ProfileSnapshot? {
        _read { yield box.fields.profile }
        _modify { yield &fields.profile }
    }
    public var policy: PolicySnapshot {
        _read { yield box.fields.policy }
        _modify { yield &fields.policy }
    }
    public var clocks: [ClockState] {
        _read { yield box.fields.clocks }
        _modify { yield &fields.clocks }
    }
    public var supervised: Bool {
        get { box.fields.supervised }
        _modify { yield &fields.supervised }
    }
    /// The next supervision reminder at the top of the pagoda.
    public var remindAt: Date? {
        get { box.fields.remindAt }
        _modify { yield &fields.remindAt }
    }
    /// An enterprise ticket still open at this time is put under supervision (7 days after receipt).
    public var enterpriseWatchAt: Date? {
        get { box.fields.enterpriseWatchAt }
        _modify { yield &fields.enterpriseWatchAt }
    }
    public var returns: Int {
        get { box.fields.returns }
        _modify { yield &fields.returns }
    }
    /// Units that returned the ticket (not chosen again by re-routing).
    public var returnedBy: [String] {
        _read { yield box.fields.returnedBy }
        _modify { yield &fields.returnedBy }
    }
    /// Times the ticket was reopened after an unsatisfied callback (重办).
    public var reworks: Int {
        get { box.fields.reworks }
        _modify { yield &fields.reworks }
    }
    public var escalations: Int {
        get { box.fields.escalations }
        _modify { yield &fields.escalations }
    }
    public var pendingReturn: PendingReturn? {
        _read { yield box.fields.pendingReturn }
        _modify { yield &fields.pendingReturn }
    }
    public var pendingExtension: PendingExtension? {
        _read { yield box.fields.pendingExtension }
        _modify { yield &fields.pendingExtension }
    }
    /// The earlier ticket this one repeats (重复件).
    public var repeatOf: String? {
        _read { yield box.fields.repeatOf }
        _modify { yield &fields.repeatOf }
    }
    public var mergedInto: String? {
        _read { yield box.fields.mergedInto }
        _modify { yield &fields.mergedInto }
    }
    /// Command ids already handled (accepted or refused), most recent last.
    public var handledCommands: [String] {
        _read { yield box.fields.handledCommands }
        _modify { yield &fields.handledCommands }
    }
    /// Bumped by every change; a timer carries the version it was set for (its token).
    public var version: Int {
        get { box.fields.version }
        _modify { yield &fields.version }
    }
    /// When the ticket's next timer falls due; nil when nothing is pending.
    public var nextTimer: Date? {
        get { box.fields.nextTimer }
        _modify { yield &fields.nextTimer }
    }

    public init(
        ticketID: String, receivedAt: Date, enterprise: Bool, category: String?, phase: Phase, holder: Holder?,
        assignedAt: Date, profile: ProfileSnapshot?, policy: PolicySnapshot
    ) {
        box = Box(
            Fields(
                ticketID: ticketID, receivedAt: receivedAt, enterprise: enterprise, category: category, phase: phase,
                holder: holder, assignedAt: assignedAt, profile: profile, policy: policy))
    }

    public static func == (a: TicketState, b: TicketState) -> Bool { a.box === b.box || a.box.fields == b.box.fields }

    /// `self != other`, looking first at the fields a transition usually changes (phase, timer, clocks,
    /// lights): a new ticket's dispatch compares its state with the one it started as.
    func differs(from other: TicketState) -> Bool {
        if box === other.box { return false }
        let a = box
        let b = other.box
        if a.fields.phase != b.fields.phase || a.fields.nextTimer != b.fields.nextTimer
            || a.fields.supervised != b.fields.supervised
            || a.fields.enterpriseWatchAt != b.fields.enterpriseWatchAt
            || a.fields.clocks.count != b.fields.clocks.count
        {
            return true
        }
        return a.fields != b.fields
    }

    public func hash(into hasher: inout Hasher) { box.fields.hash(into: &hasher) }
    public init(from decoder: any Decoder) throws { box = Box(try Fields(from: decoder)) }
    public func encode(to encoder: any Encoder) throws { try box.fields.encode(to: encoder) }

    /// The clock of the given kind, if the profile runs it.
    public func clock(_ c: Clock) -> ClockState? { box.fields.clocks.first { $0.clock == c } }
}
