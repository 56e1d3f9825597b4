import Foundation
import PagodaJSON
import PagodaRules

/// How each unit handled the tickets it was given over a period: the five rates 12345 hotlines rank their
/// units on, read from the tickets' events (the service's timeline rows, the `pagoda.events` stream, or
/// the output of `pagoda simulate`).
///
/// The report counts **assignments**: each time a unit is given a ticket (`ticket.dispatched` at intake,
/// after an approved return or a redispatch, or `ticket.escalated` to it), whose start falls in the period.
/// What happens to the ticket while that unit holds it is the unit's; deadlines of tickets still held
/// are judged at the moment the report describes (`asOf`):
///
/// - response rate (响应率): assignments the unit acted on (signed, contacted, reported progress, replied,
///   asked to return or to extend) before the sign-in deadline and before a red light on that clock, of
///   those whose response is due: acted on, red on sign-in, escalated away, or still held past the sign-in
///   deadline at `asOf`. A ticket taken away by the centre (return, redispatch, merge) before the deadline
///   is not due.
///   A return or extension request answers the sign-in clock: the centre's time to decide it is not the
///   unit's, and a rejection gives the unit the deadlines it had left (`deadlines` of the rejection).
/// - completion rate (办结率): assignments the unit replied to, of those due: replied, red on resolution,
///   escalated away, or still held past the resolution deadline.
/// - on-time completion rate (按时办结率): replies given before the resolution deadline in force (after
///   approved extensions, reworks, and a resolution clock a request paused) and before a red light on it,
///   of all replies.
/// - satisfaction rate (满意率): callbacks that reached the citizen and found them satisfied or basically
///   satisfied, of callbacks that reached the citizen.
/// - resolution rate (解决率): callbacks that reached the citizen and found the matter resolved, of those
///   that reached the citizen and recorded whether it was.
///
/// Supervisions (督办) count against the unit holding the ticket, except a request the centre left
/// undecided past its review time (`ticket.supervised` naming a `request`): that one is the centre's.
///
/// Events must come in time order for each ticket (tickets may interleave). Events of a ticket whose
/// assignment began before the events do (a file cut mid-stream) are passed over. A message read again
/// (`pagoda.events` delivers at least once) is counted once when it comes within `recentLimit` messages of
/// the first copy: events by their `event_id`, dispatch messages by ticket and `dispatch_seq`. No I/O, no
/// clock.
public struct UnitReport: Sendable {
    /// Which assignments count.
    public struct Period: Sendable, Hashable {
        /// Assignments that began at or after `from` (nil: from the first).
        public var from: Date?
        /// Assignments that began before `to` (nil: up to the last).
        public var to: Date?

        public init(from: Date? = nil, to: Date? = nil) {
            self.from = from
            self.to = to
        }

        func contains(_ d: Date) -> Bool { (from.map { d >= $0 } ?? true) && (to.map { d < $0 } ?? true) }
    }

    /// One unit's counts; the rates are made from them.
    public struct Row: Sendable, Hashable {
        public var unit: String
        public var level: Level?
        /// Assignments begun in the period.
        public var received = 0
        public var respondedOnTime = 0
        public var responseDue = 0
        public var replied = 0
        public var completionDue = 0
        public var replies = 0
        public var repliesOnTime = 0
        public var callbacksReached = 0
        public var callbacksNotReached = 0
        public var satisfied = 0
        public var resolvedAnswered = 0
        public var resolved = 0
        /// Red lights (`ticket.overdue`) while the unit held the ticket.
        public var overdue = 0
        /// Tickets taken up the pagoda from this unit (`ticket.escalated` away from it).
        public var escalatedAway = 0
        /// Approved returns (退单) of this unit.
        public var returned = 0
        /// Tickets put under supervision (督办) while this unit held them.
        public var supervised = 0
        /// Assignments the unit still holds at `asOf`.
        public var held = 0

        public init(unit: String, level: Level?) {
            self.unit = unit
            self.level = level
        }

        public var responseRate: Double? { Self.rate(respondedOnTime, responseDue) }
        public var completionRate: Double? { Self.rate(replied, completionDue) }
        public var onTimeRate: Double? { Self.rate(repliesOnTime, replies) }
        public var satisfactionRate: Double? { Self.rate(satisfied, callbacksReached) }
        public var resolutionRate: Double? { Self.rate(resolved, resolvedAnswered) }

        public func rate(_ metric: Metric) -> Double? {
            switch metric {
            case .response: responseRate
            case .completion: completionRate
            case .onTime: onTimeRate
            case .satisfaction: satisfactionRate
            case .resolution: resolutionRate
            }
        }

        static func rate(_ n: Int, _ d: Int) -> Double? { d == 0 ? nil : Double(n) / Double(d) }

        mutating func add(_ o: Row) {
            received += o.received
            respondedOnTime += o.respondedOnTime
            responseDue += o.responseDue
            replied += o.replied
            completionDue += o.completionDue
            replies += o.replies
            repliesOnTime += o.repliesOnTime
            callbacksReached += o.callbacksReached
            callbacksNotReached += o.callbacksNotReached
            satisfied += o.satisfied
            resolvedAnswered += o.resolvedAnswered
            resolved += o.resolved
            overdue += o.overdue
            escalatedAway += o.escalatedAway
            returned += o.returned
            supervised += o.supervised
            held += o.held
        }
    }

    /// The rates a ranking can be ordered by.
    public enum Metric: String, Sendable, CaseIterable {
        case response, completion
        case onTime = "on_time"
        case satisfaction, resolution
    }

    /// A line that is not an event the report can read: where (the caller's place) and why.
    public struct InputError: Error, Sendable, Hashable, CustomStringConvertible {
        /// The field path in the event (`at`, `deadlines.sign_by`).
        public var field: String
        public var message: String
        public var description: String { "\(field): \(message)" }

        public init(field: String, message: String) {
            self.field = field
            self.message = message
        }
    }

    /// The event types the report reads.
    static let counted: Set<EventType> = [
        .dispatched, .escalated, .signed, .contacted, .progress, .returnRequested, .extensionRequested, .replied,
        .overdue,
        .extensionApproved, .reopened, .callbackRecorded, .closed, .returnApproved, .supervised, .returnRejected,
        .extensionRejected,
    ]

    private enum Ending { case held, escalated, transferred }

    private struct Assignment {
        var unit: String
        var level: Level?
        var counted: Bool
        var signBy: Date?
        var resolveBy: Date?
        var responded = false
        var signRed = false
        var resolveRed = false
        var replied = false
    }

    private let period: Period
    /// Each ticket's current assignment, as a slot in `slots`. An assignment that ends is added into
    /// `rows` at once and its slot reused, so the report holds only the tickets still held, however long
    /// the period (an array of slots and a map to their numbers take less room than a map to the values).
    private var current: [String: Int] = [:]
    private var slots: [Assignment] = []
    private var freeSlots: [Int] = []
    /// The counts so far, by unit.
    private var rows: [String: Row] = [:]
    /// Events read, and those passed over (no assignment known for their ticket, or not about one, or read
    /// before).
    public private(set) var eventsRead = 0
    public private(set) var eventsPassedOver = 0
    /// The latest messages counted, by the hash of their ids, oldest first from `recentStart`, to count a
    /// repeat once. (Two ids of one run sharing a 64-bit hash is a chance of about one in 10^9 over 100,000.)
    private var recentIDs: Set<Int> = []
    private var recentOrder: [Int] = []
    private var recentStart = 0
    /// How many of the latest messages are remembered to find repeats.
    public static let recentLimit = 100_000

    public init(period: Period) {
        self.period = period
    }

    /// Takes one event message (`{"event": ..., "ticket_id": ..., "at": ..., "unit": ..., ...}`), or a dispatch
    /// message as `pagoda.events` carries it (`{"type": "ticket.dispatched", "at", "dispatch_seq",
    /// "decision"}`), read as the `ticket.dispatched` event of its decision. Any other object without `event`
    /// is passed over.
    public mutating func add(_ event: JSONObject) throws(InputError) {
        guard let typeValue = event["event"] else {
            if let dispatch = Self.dispatchMessageEvent(event) {
                try add(dispatch)
            } else {
                eventsPassedOver += 1
            }
            return
        }
        guard let name = typeValue.stringValue else {
            throw InputError(field: "event", message: "is \(typeValue.typeDescription), not a string")
        }
        // Refusals (of a ticket at intake, of a command) and reminders are not about what a unit did, and
        // a refusal may have no ticket id at all.
        guard let type = EventType(rawValue: name), Self.counted.contains(type) else {
            eventsPassedOver += 1
            return
        }
        if let id = event["event_id"]?.stringValue, !remember(id) {
            eventsPassedOver += 1
            return
        }
        eventsRead += 1
        let ticket = try Self.string(event, "ticket_id")
        let at = try Self.time(event, "at")
        switch type {
        case .dispatched, .escalated:
            guard let unit = try Self.optionalString(event, "unit") else {
                end(ticket, .transferred)  // handed to an emergency line: nobody holds it
                return
            }
            let deadlines = try Self.optionalObject(event, "deadlines")
            let level = try Self.optionalString(event, "level").flatMap(Level.init(name:))
            let a = Assignment(
                unit: unit, level: level, counted: period.contains(at),
                signBy: try deadlines.flatMap { d throws(InputError) in
                    try Self.optionalTime(d, "sign_by", in: "deadlines")
                },
                resolveBy: try deadlines.flatMap { d throws(InputError) in
                    try Self.optionalTime(d, "resolve_by", in: "deadlines")
                })
            end(ticket, type == .escalated ? .escalated : .transferred)
            if let free = freeSlots.popLast() {
                slots[free] = a
                current[ticket] = free
            } else {
                current[ticket] = slots.count
                slots.append(a)
            }
            bump(a) { $0.received += 1 }
        default:
            guard let i = current[ticket] else {
                eventsPassedOver += 1
                return
            }
            var a = slots[i]
            let closed = try apply(type, event, at: at, to: &a)
            slots[i] = a
            if closed { end(ticket, .transferred) }
        }
    }

    /// Records a message id among the latest; false when it is there already.
    private mutating func remember(_ id: String) -> Bool {
        let key = id.hashValue
        guard recentIDs.insert(key).inserted else { return false }
        recentOrder.append(key)
        if recentOrder.count - recentStart > Self.recentLimit {
            recentIDs.remove(recentOrder[recentStart])
            recentStart += 1
            if recentStart * 2 > recentOrder.count {
                recentOrder.removeFirst(recentStart)
                recentStart = 0
            }
        }
        return true
    }

    /// The dispatch message of `pagoda.events` as the `ticket.dispatched` event the report reads: the unit,
    /// level and deadlines of its decision, its `event_id` the message's id (`<ticket>/dispatch/<seq>`).
    /// Nil for anything else.
    static func dispatchMessageEvent(_ m: JSONObject) -> JSONObject? {
        guard m["type"]?.stringValue == "ticket.dispatched", let decision = m["decision"]?.objectValue,
            let ticket = decision["ticket_id"]?.stringValue, let at = m["at"]
        else { return nil }
        let destination = decision["destination"]?.objectValue
        var event = JSONObject([
            ("event", "ticket.dispatched"), ("ticket_id", .string(ticket)), ("at", at),
            ("unit", destination?["unit"] ?? .null), ("level", destination?["level"] ?? .null),
            ("deadlines", decision["sla"]?.objectValue?["deadlines"] ?? .object(JSONObject())),
        ])
        if let seq = m["dispatch_seq"]?.numberLexeme { event.set("event_id", .string("\(ticket)/dispatch/\(seq)")) }
        return event
    }

    /// Applies one event to the ticket's current assignment; true when the ticket closed with it.
    private mutating func apply(_ type: EventType, _ event: JSONObject, at: Date, to a: inout Assignment)
        throws(InputError) -> Bool
    {
        switch type {
        case .signed, .contacted, .progress, .returnRequested, .extensionRequested:
            respond(&a, at: at)
        case .replied:
            respond(&a, at: at)
            a.replied = true
            let onTime = !a.resolveRed && (a.resolveBy.map { at <= $0 } ?? true)
            bump(a) {
                $0.replies += 1
                if onTime { $0.repliesOnTime += 1 }
            }
        case .overdue:
            switch try Self.optionalString(event, "clock") {
            case Clock.sign.rawValue?: a.signRed = true
            case Clock.resolve.rawValue?: a.resolveRed = true
            default: break
            }
            bump(a) { $0.overdue += 1 }
        case .extensionApproved:
            try resumed(event, &a)
            if let due = try Self.optionalTime(event, "resolve_by") {
                a.resolveBy = due
                a.resolveRed = false
            }
        case .returnRejected, .extensionRejected:
            try resumed(event, &a)
        case .reopened:
            try callback(event, a)
            if let d = try Self.optionalObject(event, "deadlines"),
                let due = try Self.optionalTime(d, "resolve_by", in: "deadlines")
            {
                a.resolveBy = due
                a.resolveRed = false
            }
        case .callbackRecorded:
            try callback(event, a)
        case .closed:
            if try Self.optionalString(event, "reason") == "callback" { try callback(event, a) }
            return true
        case .returnApproved:
            bump(a) { $0.returned += 1 }
        case .supervised:
            // A request the centre left undecided is the centre's supervision, not the holder's.
            if event["request"] == nil { bump(a) { $0.supervised += 1 } }
        default:
            break
        }
        return false
    }

    /// The centre decided a request: the clocks it paused run again, with the deadlines the event gives.
    private func resumed(_ event: JSONObject, _ a: inout Assignment) throws(InputError) {
        guard let d = try Self.optionalObject(event, "deadlines") else { return }
        if let due = try Self.optionalTime(d, "sign_by", in: "deadlines") { a.signBy = due }
        if let due = try Self.optionalTime(d, "resolve_by", in: "deadlines") { a.resolveBy = due }
    }

    private mutating func respond(_ a: inout Assignment, at: Date) {
        guard !a.responded else { return }
        a.responded = true
        let onTime = !a.signRed && (a.signBy.map { at <= $0 } ?? true)
        if onTime { bump(a) { $0.respondedOnTime += 1 } }
    }

    private mutating func callback(_ event: JSONObject, _ a: Assignment) throws(InputError) {
        let reached = try Self.optionalBool(event, "reached") ?? false
        let resolved = try Self.optionalBool(event, "resolved")
        let satisfaction = try Self.optionalString(event, "satisfaction")
        if let s = satisfaction, Satisfaction(rawValue: s) == nil {
            throw InputError(
                field: "satisfaction",
                message: "'\(s)' is not one of \(Satisfaction.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        bump(a) { row in
            guard reached else {
                row.callbacksNotReached += 1
                return
            }
            row.callbacksReached += 1
            if satisfaction == Satisfaction.satisfied.rawValue
                || satisfaction == Satisfaction.basicallySatisfied.rawValue
            {
                row.satisfied += 1
            }
            if let resolved {
                row.resolvedAnswered += 1
                if resolved { row.resolved += 1 }
            }
        }
    }

    /// The ticket's current assignment ends.
    private mutating func end(_ ticket: String, _ ending: Ending) {
        guard let i = current.removeValue(forKey: ticket) else { return }
        fold(slots[i], ending, asOf: .distantPast)
        freeSlots.append(i)
    }

    /// Adds an assignment's dues into its unit's row; for one still held, its deadlines are judged at `asOf`.
    private static func fold(_ a: Assignment, _ ending: Ending, asOf: Date, into rows: inout [String: Row]) {
        guard a.counted else { return }
        var row = rows[a.unit, default: Row(unit: a.unit, level: a.level)]
        let held = ending == .held
        let escalated = ending == .escalated
        if held { row.held += 1 }
        if escalated { row.escalatedAway += 1 }
        if a.responded || a.signRed || escalated || (held && a.signBy.map { $0 <= asOf } == true) {
            row.responseDue += 1
        }
        if a.replied { row.replied += 1 }
        if a.replied || a.resolveRed || escalated || (held && a.resolveBy.map { $0 <= asOf } == true) {
            row.completionDue += 1
        }
        rows[a.unit] = row
    }

    private mutating func fold(_ a: Assignment, _ ending: Ending, asOf: Date) {
        Self.fold(a, ending, asOf: asOf, into: &rows)
    }

    private mutating func bump(_ a: Assignment, _ change: (inout Row) -> Void) {
        guard a.counted else { return }
        change(&rows[a.unit, default: Row(unit: a.unit, level: a.level)])
    }

    /// Each unit's row, in unit order, with the deadlines of tickets still held judged at `asOf`.
    public func units(asOf: Date) -> [Row] {
        var result = rows
        for i in current.values { Self.fold(slots[i], .held, asOf: asOf, into: &result) }
        return result.values.sorted { $0.unit < $1.unit }
    }

    /// The units ranked by `metric`, best first: units without that rate (nothing due) last; ties by
    /// more assignments, then by unit id.
    public static func ranked(_ rows: [Row], by metric: Metric) -> [Row] {
        rows.sorted { a, b in
            switch (a.rate(metric), b.rate(metric)) {
            case (let x?, let y?) where x != y: return x > y
            case (.some, nil): return true
            case (nil, .some): return false
            default: return a.received != b.received ? a.received > b.received : a.unit < b.unit
            }
        }
    }

    /// All units' counts together.
    public static func total(_ rows: [Row]) -> Row {
        rows.reduce(into: Row(unit: "all", level: nil)) { $0.add($1) }
    }

    // MARK: - Reading fields

    private static func string(_ o: JSONObject, _ key: String) throws(InputError) -> String {
        guard let v = try optionalString(o, key) else { throw InputError(field: key, message: "is missing") }
        return v
    }

    private static func optionalString(_ o: JSONObject, _ key: String, in parent: String? = nil) throws(InputError)
        -> String?
    {
        guard let v = o[key], !v.isNull else { return nil }
        guard let s = v.stringValue else {
            throw InputError(field: path(parent, key), message: "is \(v.typeDescription), not a string")
        }
        return s
    }

    private static func optionalBool(_ o: JSONObject, _ key: String) throws(InputError) -> Bool? {
        guard let v = o[key], !v.isNull else { return nil }
        guard let b = v.boolValue else {
            throw InputError(field: key, message: "is \(v.typeDescription), not a boolean")
        }
        return b
    }

    private static func optionalObject(_ o: JSONObject, _ key: String) throws(InputError) -> JSONObject? {
        guard let v = o[key], !v.isNull else { return nil }
        guard let object = v.objectValue else {
            throw InputError(field: key, message: "is \(v.typeDescription), not an object")
        }
        return object
    }

    private static func time(_ o: JSONObject, _ key: String) throws(InputError) -> Date {
        guard let d = try optionalTime(o, key) else { throw InputError(field: key, message: "is missing") }
        return d
    }

    private static func optionalTime(_ o: JSONObject, _ key: String, in parent: String? = nil) throws(InputError)
        -> Date?
    {
        guard let s = try optionalString(o, key, in: parent) else { return nil }
        guard let d = RFC3339.parse(s)?.date else {
            throw InputError(field: path(parent, key), message: "'\(s)' is not an RFC 3339 time with an offset")
        }
        return d
    }

    private static func path(_ parent: String?, _ key: String) -> String { parent.map { "\($0).\(key)" } ?? key }
}

extension UnitReport {
    /// The intake's own dispatch row of the service's store (a summary, not an event message) as the
    /// `ticket.dispatched` event the report reads, from the unit, level and deadlines of the decision it
    /// recorded; times written at `offsetSeconds`. `pagoda report` and the console feed it to `add`.
    public static func intakeDispatchEvent(
        ticketID: String, at: Date, unit: String?, level: String?, signBy: Date?, resolveBy: Date?,
        offsetSeconds: Int
    ) -> JSONObject {
        func t(_ date: Date) -> JSONValue { .string(RFC3339.format(date, offsetSeconds: offsetSeconds)) }
        var deadlines = JSONObject()
        if let s = signBy { deadlines.set("sign_by", t(s)) }
        if let r = resolveBy { deadlines.set("resolve_by", t(r)) }
        return JSONObject([
            ("event", "ticket.dispatched"), ("ticket_id", .string(ticketID)), ("at", t(at)),
            ("unit", unit.map { .string($0) } ?? .null), ("level", level.map { .string($0) } ?? .null),
            ("deadlines", .object(deadlines)),
        ])
    }
}

extension UnitReport {
    /// A row's counts and rates as named fields, in the order of `pagoda report --format json` and of the
    /// CSV columns; a rate with nothing due is null.
    public static func fields(_ r: Row) -> [(String, JSONValue)] {
        func n(_ v: Int) -> JSONValue { .number(String(v)) }
        func rate(_ v: Double?) -> JSONValue { v.map { .number(String(format: "%.4f", $0)) } ?? .null }
        return [
            ("unit", .string(r.unit)), ("level", r.level.map { .string($0.name) } ?? .null),
            ("assigned", n(r.received)),
            ("response_rate", rate(r.responseRate)), ("responded_on_time", n(r.respondedOnTime)),
            ("response_due", n(r.responseDue)),
            ("completion_rate", rate(r.completionRate)), ("replied", n(r.replied)),
            ("completion_due", n(r.completionDue)),
            ("on_time_rate", rate(r.onTimeRate)), ("replies_on_time", n(r.repliesOnTime)), ("replies", n(r.replies)),
            ("satisfaction_rate", rate(r.satisfactionRate)), ("satisfied", n(r.satisfied)),
            ("callbacks_reached", n(r.callbacksReached)),
            ("callbacks_not_reached", n(r.callbacksNotReached)),
            ("resolution_rate", rate(r.resolutionRate)), ("resolved", n(r.resolved)),
            ("resolution_answered", n(r.resolvedAnswered)),
            ("red_lights", n(r.overdue)), ("escalated_away", n(r.escalatedAway)), ("returned", n(r.returned)),
            ("supervised", n(r.supervised)), ("held", n(r.held)),
        ]
    }

    /// The rows and the total as CSV: a header of the field names, one line per row, the total last.
    public static func csv(_ rows: [Row], total: Row) -> String {
        let names = fields(total).map(\.0)
        var out = names.joined(separator: ",") + "\n"
        for r in rows + [total] {
            out +=
                fields(r).map { _, v in
                    switch v {
                    case .string(let s): s
                    case .number(let n): n
                    default: ""
                    }
                }.joined(separator: ",") + "\n"
        }
        return out
    }
}
