import Foundation
import PagodaJSON
import PagodaLifecycle
import PagodaRules

/// One line of a simulation scenario: a ticket arriving or a command sent, at a virtual time.
///
/// Wire form (one JSON object per line): `{"at": TIME, "ticket": {...ticket contract v1...}}` or
/// `{"at": TIME, "command": {...command contract v1...}}`, TIME in RFC 3339 with an offset.
public struct ScenarioLine: Sendable {
    public enum Payload: Sendable {
        /// The ticket as written; validated against the contract when applied.
        case ticket(JSONValue)
        /// The command object as written; validated against the contract when applied.
        case command(JSONObject)
    }

    public var at: Date
    public var payload: Payload

    public init(at: Date, payload: Payload) {
        self.at = at
        self.payload = payload
    }

    /// Parse limits for one scenario line: 1 MiB, a ticket's depth plus the wrapper.
    public static let limits = JSONLimits(maxBytes: 1 << 20, maxDepth: 40)

    /// Parses one line. Fails (with a sentence for `FILE:LINE: reason`) when the line is not JSON, not an
    /// object, lacks a valid `at`, or does not have exactly one of `ticket` and `command` (an object).
    /// The ticket or command itself is not validated here: an invalid one becomes a rejection event when
    /// the simulation applies it.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Result<ScenarioLine, ScenarioLineError> {
        let value: JSONValue
        do {
            value = try JSON.parse(bytes, limits: limits)
        } catch {
            return .failure(ScenarioLineError("not valid JSON: \(error.message)"))
        }
        return parse(value)
    }

    /// The time of a line, with the same verdict as `parse` but without building the ticket or command:
    /// a scan that checks the JSON and finds the members decides the common case, and `parse` gives the
    /// verdict and its sentence for anything else. A scenario's first pass checks every line with it.
    public static func check(_ bytes: UnsafeRawBufferPointer) -> Result<Date, ScenarioLineError> {
        var scanner = JSONObjectScanner()
        return check(bytes, scanner: &scanner).map(\.at)
    }

    /// What checking a valid line tells: its time and, when the scan decided, where its ticket or
    /// command object lies in the line (`parse(payload:at:isTicket:)` then reads only that object).
    public struct Checked: Sendable, Hashable {
        public var at: Date
        /// The bytes of the `ticket` or `command` object; nil when `parse` decided the line.
        public var payload: Range<Int>?
        /// The payload is the `ticket` (false for a `command`, and when there is no payload).
        public var isTicket: Bool
    }

    /// `check(_:)` with the scan's buffers kept in `scanner` from one line to the next, and where the
    /// line's ticket or command lies.
    public static func check(_ bytes: UnsafeRawBufferPointer, scanner: inout JSONObjectScanner) -> Result<
        Checked, ScenarioLineError
    > {
        if scanner.scan(bytes, limits: limits), scanner.members.count == 2 {
            var at: Date?
            var payload: Range<Int>?
            var isTicket = false
            for m in scanner.members {
                let key = UnsafeRawBufferPointer(rebasing: bytes[m.key])
                if key.elementsEqual("at".utf8) {
                    // A string without escapes: the bytes between the quotes are its text.
                    let v = m.value
                    guard v.count >= 2, bytes[v.lowerBound] == 0x22,
                        !bytes[v.lowerBound + 1..<v.upperBound - 1].contains(0x5C)
                    else { break }
                    let text = UnsafeRawBufferPointer(rebasing: bytes[v.lowerBound + 1..<v.upperBound - 1])
                    at = RFC3339.parse(bytes: text.assumingMemoryBound(to: UInt8.self))?.date
                } else if key.elementsEqual("ticket".utf8) || key.elementsEqual("command".utf8) {
                    guard bytes[m.value.lowerBound] == 0x7B else { break }
                    payload = m.value
                    isTicket = key.elementsEqual("ticket".utf8)
                }
            }
            if let at, let payload { return .success(Checked(at: at, payload: payload, isTicket: isTicket)) }
        }
        return parse(bytes).map { Checked(at: $0.at, payload: nil, isTicket: false) }
    }

    /// The line a successful `check` described, from the bytes of its ticket or command object alone
    /// (`Checked.payload` of the line): the same as `parse` of the whole line, without reading its time
    /// again. Nil when the bytes are not the object `check` found there.
    public static func parse(payload bytes: UnsafeRawBufferPointer, at: Date, isTicket: Bool) -> ScenarioLine? {
        guard let value = try? JSON.parse(bytes, limits: limits), case .object(let object) = value else { return nil }
        return ScenarioLine(at: at, payload: isTicket ? .ticket(value) : .command(object))
    }

    /// Parses one line from bytes; see `parse(_: UnsafeRawBufferPointer)`.
    public static func parse(_ bytes: [UInt8]) -> Result<ScenarioLine, ScenarioLineError> {
        bytes.withUnsafeBytes { parse($0) }
    }

    /// Checks an already parsed line; see `parse(_: UnsafeRawBufferPointer)`.
    public static func parse(_ value: JSONValue) -> Result<ScenarioLine, ScenarioLineError> {
        guard case .object(let o) = value else {
            return .failure(ScenarioLineError("expected a JSON object, got \(value.typeDescription)"))
        }
        guard let atValue = o["at"] else { return .failure(ScenarioLineError("missing \"at\"")) }
        guard case .string(let atText) = atValue, let at = RFC3339.parse(atText)?.date else {
            return .failure(
                ScenarioLineError(
                    "\"at\" must be an RFC 3339 time with an offset, got \(JSON.serializeToString(atValue))"))
        }
        let ticket = o["ticket"]
        let command = o["command"]
        for (key, _) in o where key != "at" && key != "ticket" && key != "command" {
            return .failure(
                ScenarioLineError("unknown key \"\(key)\" (a line has \"at\" and one of \"ticket\", \"command\")"))
        }
        switch (ticket, command) {
        case (nil, nil): return .failure(ScenarioLineError("needs one of \"ticket\" or \"command\""))
        case (.some, .some): return .failure(ScenarioLineError("has both \"ticket\" and \"command\"; one per line"))
        case (.some(let t), nil):
            guard case .object = t else {
                return .failure(ScenarioLineError("\"ticket\" must be an object, got \(t.typeDescription)"))
            }
            return .success(ScenarioLine(at: at, payload: .ticket(t)))
        case (nil, .some(let c)):
            guard case .object(let co) = c else {
                return .failure(ScenarioLineError("\"command\" must be an object, got \(c.typeDescription)"))
            }
            return .success(ScenarioLine(at: at, payload: .command(co)))
        }
    }
}

/// Why a scenario line cannot be read.
public struct ScenarioLineError: Error, Hashable, Sendable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// A scenario line made ready for `Simulation.apply`: its ticket validated against the contract and
/// routed, or its command validated. Preparing reads only the rule set, so lines can be prepared on one
/// thread while a simulation applies earlier ones on another; applying a prepared line gives exactly what
/// applying the line itself gives.
public struct PreparedLine: Sendable {
    public var at: Date
    var input: Input

    enum Input: Sendable {
        /// The ticket's id and receipt, where to find the ticket again for re-routing, its decision, and its
        /// keys in the repeat index (`RepeatKeys`). A line is moved, never copied (`Simulation.apply`
        /// consumes it), and so are these values into the simulation; the decision is read in place there.
        /// (In a box, they would be one more allocation, and copying them out a reference count per field.)
        case ticket(id: String, receivedAt: Date, TicketSource, Decision, repeatKeys: [String])
        case invalidTicket(id: String?, issues: [ValidationIssue])
        case command(Command)
        case invalidCommand(CommandValidationError, JSONObject)
    }

    /// A routed ticket's input; the ticket itself is kept only when it cannot be read again from `location`.
    static func routed(_ ticket: Ticket, _ decision: Decision, location: Int?, length: Int) -> Input {
        let keys = RepeatKeys.keys(for: ticket, category: decision.category)
        let source: TicketSource = location.map { .located(offset: $0, length: length) } ?? .kept(KeptTicket(ticket))
        return .ticket(id: ticket.id, receivedAt: ticket.receivedAt, source, decision, repeatKeys: keys)
    }

    /// Where a simulation finds an open ticket again, to re-route it when the centre approves its return
    /// without naming a unit (rare): the ticket itself, or the bytes of its object in the scenario, which
    /// `Simulation.Options.readTicket` reads again. Keeping only where the ticket lies spares the
    /// simulation a copy of every open ticket, and frees each ticket on the thread that read it.
    public enum TicketSource: Sendable {
        case kept(KeptTicket)
        case located(offset: Int, length: Int)
    }

    /// A ticket kept whole (lines prepared from parsed values, which have no place in a file).
    public final class KeptTicket: Sendable {
        public let ticket: Ticket
        init(_ ticket: Ticket) { self.ticket = ticket }
    }

    /// The ticket in the bytes of a scenario line's `ticket` object, read as preparing the line reads
    /// it (nil when the bytes hold no valid ticket): for `Simulation.Options.readTicket`.
    public static func ticket(payload bytes: UnsafeRawBufferPointer, rules: RuleSet) -> Ticket? {
        guard let line = ScenarioLine.parse(payload: bytes, at: Date(timeIntervalSince1970: 0), isTicket: true),
            case .ticket(let value) = line.payload
        else { return nil }
        return try? TicketContract.validate(value, isKnownCategory: rules.isKnownCategory).get()
    }

    /// The line a successful `ScenarioLine.check` described, from the bytes of its ticket or command
    /// object alone (`ScenarioLine.Checked.payload`): the same as `init(_:rules:)` on the parsed line.
    /// Nil when the bytes are not the object the check found there. A valid command is read by
    /// `CommandContract.decode` straight from its bytes; a ticket, and an invalid command (whose rejection
    /// names fields of its object), go through the JSON tree. `location`, where the bytes lie in the
    /// scenario file, is kept instead of the ticket (see `TicketSource`).
    public init?(payload bytes: UnsafeRawBufferPointer, at: Date, isTicket: Bool, rules: RuleSet, location: Int? = nil)
    {
        if !isTicket, case .success(let command) = CommandContract.decode(bytes, limits: CommandContract.limits) {
            self.at = at
            input = .command(command)
            return
        }
        guard let line = ScenarioLine.parse(payload: bytes, at: at, isTicket: isTicket) else { return nil }
        self = PreparedLine(line, rules: rules, location: location, length: bytes.count)
    }

    /// Validates (and for a ticket, routes) `line` with `rules`, the simulation's rule set.
    public init(_ line: ScenarioLine, rules: RuleSet) {
        self.init(line, rules: rules, location: nil, length: 0)
    }

    /// `init(_:rules:)`, keeping where a ticket lies (`location`, `length`) instead of the ticket when known.
    init(_ line: ScenarioLine, rules: RuleSet, location: Int?, length: Int) {
        at = line.at
        // A scenario line may be larger and deeper than what `serve` parses: what it would reject is rejected.
        let (value, limits): (JSONValue, JSONLimits) =
            switch line.payload {
            case .ticket(let v): (v, JSONLimits())
            case .command(let o): (.object(o), CommandContract.limits)
            }
        if let issue = Self.limitIssue(value, bytes: length > 0 ? length : nil, limits: limits) {
            switch line.payload {
            case .ticket(let value): input = .invalidTicket(id: value.objectValue?["id"]?.stringValue, issues: [issue])
            case .command(let object):
                let error = CommandValidationError(
                    issues: [issue], commandID: object["command_id"]?.stringValue,
                    ticketID: object["ticket_id"]?.stringValue)
                input = .invalidCommand(error, object)
            }
            return
        }
        switch line.payload {
        case .ticket(let value):
            switch TicketContract.validate(value, isKnownCategory: rules.isKnownCategory) {
            case .failure(let error):
                input = .invalidTicket(id: value.objectValue?["id"]?.stringValue, issues: error.issues)
            case .success(var ticket):
                // What dispatching reads; the rest of the decision is freed here, on the thread that made it.
                let decision = rules.route(ticket, trimmed: true)
                // Keep what re-routing needs, not the ticket's JSON.
                ticket.json = JSONObject()
                ticket.extra = JSONObject()
                input = Self.routed(ticket, decision, location: location, length: length)
            }
        case .command(let object):
            switch CommandContract.validate(object, replyTo: nil) {
            case .failure(let error): input = .invalidCommand(error, object)
            case .success(let command): input = .command(command)
            }
        }
    }
}

extension PreparedLine {
    /// The issue `serve` reports for a ticket or command past its parse limits (`bytes` when known), as
    /// one issue at the root; nil within them.
    static func limitIssue(_ value: JSONValue, bytes: Int?, limits: JSONLimits) -> ValidationIssue? {
        if let bytes, bytes > limits.maxBytes {
            return ValidationIssue(
                path: "", code: .tooLarge, message: "(root): \(bytes) bytes, over the limit of \(limits.maxBytes)")
        }
        func depth(_ v: JSONValue) -> Int {
            switch v {
            case .object(let o): 1 + o.values.reduce(0) { max($0, depth($1)) }
            case .array(let a): 1 + a.reduce(0) { max($0, depth($1)) }
            default: 0
            }
        }
        guard depth(value) > limits.maxDepth else { return nil }
        return ValidationIssue(
            path: "", code: .tooDeep, message: "(root): nested deeper than \(limits.maxDepth) arrays and objects")
    }
}

/// One output record of a simulation: a lifecycle event, or the rejection of an invalid input line.
public enum SimulationRecord: Sendable {
    case event(LifecycleEvent)
    /// `ticket.rejected` (a ticket failing the contract or already dispatched) or `command.rejected`
    /// (a command failing the contract), as a JSON object.
    case rejected(JSONObject)

    /// The virtual time of the record.
    public var at: Date {
        switch self {
        case .event(let e): e.at
        case .rejected(let o): o["at"].flatMap { $0.stringValue }.flatMap { RFC3339.parse($0)?.date } ?? .distantPast
        }
    }
}

/// The records of a simulation in order: lifecycle events as the lifecycle appended them (kept as values,
/// not copied one by one into records), and the rejections of invalid input lines as JSON, each placed
/// before the event that followed it.
public struct SimulationOutput: Sendable {
    public internal(set) var events: [LifecycleEvent] = []
    public private(set) var rejections: [Rejection] = []

    /// A rejection (`SimulationRecord.rejected`) and the number of events before it.
    public struct Rejection: Sendable {
        public var position: Int
        public var json: JSONObject
    }

    public init() {}

    public var count: Int { events.count + rejections.count }

    /// Frees the records; with `keepingCapacity`, the arrays are filled again without growing.
    public mutating func removeAll(keepingCapacity: Bool) {
        events.removeAll(keepingCapacity: keepingCapacity)
        rejections.removeAll(keepingCapacity: keepingCapacity)
    }

    /// Each record in order (a copy of each: for tests and the closure-based `Simulation` calls).
    public func forEach(_ body: (SimulationRecord) -> Void) {
        var r = 0
        for (i, e) in events.enumerated() {
            while r < rejections.count, rejections[r].position == i {
                body(.rejected(rejections[r].json))
                r += 1
            }
            body(.event(e))
        }
        for rejection in rejections[r...] { body(.rejected(rejection.json)) }
    }

    mutating func reject(_ json: JSONObject) { rejections.append(Rejection(position: events.count, json: json)) }
}

/// Where a simulation puts its records: an output handed on (`handOff`) whenever it holds `batchSize`
/// records, between two transitions, and what remains at the end.
public struct SimulationSink {
    public var output = SimulationOutput()
    public let batchSize: Int
    let handOff: (inout SimulationOutput) -> Void

    /// `handOff` takes the full output and leaves an empty one (or one to fill again) in its place.
    public init(batchSize: Int, handOff: @escaping (inout SimulationOutput) -> Void) {
        self.batchSize = batchSize
        self.handOff = handOff
    }

    /// A sink that keeps everything (`output` holds every record at the end).
    public init() { self.init(batchSize: .max) { _ in } }

    mutating func handOffIfFull() {
        if output.count >= batchSize { handOff(&output) }
    }
}

/// The ticket lifecycle on a virtual clock: replays a scenario of tickets and commands through the same
/// rules, repeat check and state machine as the service, firing every timer at its due time.
///
/// Lines are applied in `at` order; lines with equal times keep their input order (`run` sorts stably, so
/// a scenario need not be sorted). Before a line at time T, every timer due at or before T fires, in due
/// order (ties in the order the tickets were dispatched). A timer whose due time is already past when it is set (a ticket dispatched
/// late, `received_at` before its line's `at`) fires at the current virtual time, so the output is always
/// in time order. A ticket's events come from `Lifecycle`; an invalid ticket gives a `ticket.rejected`
/// record with the contract issues, an invalid command a `command.rejected` record with the code of the
/// first issue; neither stops the run.
///
/// After the last line, timers keep firing up to `Options.until` (inclusive; lines dated after it are
/// not applied) or, without `until`, until no ticket waits for anything but supervision reminders: a
/// ticket supervised at the top of the pagoda is reminded at its policy interval for ever, so those
/// reminders alone do not keep the simulation going (give `until` to run them up to a time).
///
/// Memory: one state per open ticket (closed and handed-off tickets are dropped, only their ids are kept
/// to refuse later commands with `ticket_closed` / `handed_off`), one heap entry per pending timer, and
/// the repeat index for the last 7 days. Records are handed to the caller after each line (the calls with
/// `records:`) or a batch at a time (`SimulationSink`).
public struct Simulation {
    public struct Options: Sendable {
        /// The end of virtual time; nil: run until only supervision reminders remain.
        public var until: Date?
        /// Add each event's `queues` to its JSON.
        public var verbose: Bool
        /// How far back repeat complaints are looked for.
        public var repeatWindow: TimeInterval
        /// Reads a ticket again from where it lies in the scenario (`PreparedLine.TicketSource.located`:
        /// offset and length of its bytes), to re-route it; nil when it cannot. A ticket that cannot be read
        /// again goes to triage when its return is approved without a unit.
        public var readTicket: (@Sendable (_ offset: Int, _ length: Int) -> Ticket?)?

        public init(
            until: Date? = nil, verbose: Bool = false, repeatWindow: TimeInterval = 7 * 86_400,
            readTicket: (@Sendable (_ offset: Int, _ length: Int) -> Ticket?)? = nil
        ) {
            self.until = until
            self.verbose = verbose
            self.repeatWindow = repeatWindow
            self.readTicket = readTicket
        }
    }

    /// Counts of what the run did.
    public struct Summary: Sendable, Hashable {
        public var tickets = 0
        public var rejectedTickets = 0
        public var commands = 0
        /// Commands refused by the contract or by the lifecycle (`command.rejected`).
        public var rejectedCommands = 0
        /// Records emitted (events and rejections).
        public var events = 0
        public var timersFired = 0
        /// Lines dated after `until`, not applied.
        public var skippedLines = 0
        /// The first and last virtual instants the run reached.
        public var firstAt: Date?
        public var lastAt: Date?
        /// Tickets open at the end; of them, tickets left with only supervision reminders pending.
        public var openTickets = 0
        public var remindingTickets = 0
        /// Ids of closed and handed-off tickets remembered to refuse later commands.
        public var finalTickets = 0

        /// The virtual time covered, in seconds.
        public var span: TimeInterval {
            guard let a = firstAt, let b = lastAt else { return 0 }
            return b.timeIntervalSince(a)
        }
    }

    public let lifecycle: Lifecycle
    public var options: Options
    public private(set) var summary = Summary()
    /// The UTC offset events are written with (the rules calendar's).
    public var offsetSeconds: Int { lifecycle.offsetSeconds }

    struct Final {
        var phase: Phase
        var mergedInto: String?
    }

    // Open tickets live in slots (reused once a ticket is final): its state, where to find its ticket again
    // (for re-routing), whether it waits for more than reminders, and a serial that tells a reused slot apart.
    // `ticketIndex` holds every ticket dispatched: an open ticket's slot (>= 0), or -1 - its place in
    // `finals` once final (one dictionary: a ticket closing is one update, a new id one look-up).
    private var ticketIndex: [String: Int] = [:]
    private var states: [TicketState?] = []
    private var tickets: [PreparedLine.TicketSource?] = []
    private var isActive: [Bool] = []
    private var serials: [Int] = []
    private var freeSlots: [Int] = []
    private var nextSerial = 0
    private var finals: [Final] = []
    private var heap = TimerHeap()
    private var repeats: RepeatIndex
    /// Open tickets waiting for something other than supervision reminders.
    private var active = 0
    /// The current virtual time (never goes back).
    private var clock = -Double.infinity
    private var finished = false

    public init(rules: RuleSet, options: Options = Options()) {
        self.lifecycle = Lifecycle(rules: rules)
        self.options = options
        self.repeats = RepeatIndex(window: options.repeatWindow)
    }

    public init(lifecycle: Lifecycle, options: Options = Options()) {
        self.lifecycle = lifecycle
        self.options = options
        self.repeats = RepeatIndex(window: options.repeatWindow)
    }

    /// Makes room for `tickets` tickets in the index of dispatched tickets, the record of final ones and
    /// the repeat index (a caller's phone each; at most 2^20 of them, since old keys leave that index),
    /// which otherwise grow (and are copied) step by step.
    public mutating func reserveCapacity(tickets: Int) {
        ticketIndex.reserveCapacity(tickets)
        finals.reserveCapacity(tickets)
        repeats.reserveCapacity(min(tickets, 1 << 20))
    }

    // MARK: Running

    /// Sorts `lines` stably by `at`, applies them, then finishes; returns the summary.
    @discardableResult
    public mutating func run(_ lines: [ScenarioLine], records: (SimulationRecord) -> Void) -> Summary {
        for line in Self.sorted(lines) { apply(line, records: records) }
        return finish(records: records)
    }

    /// `run` handing each record to `emit` as JSON (`LifecycleEvent.json`, plus `queues` when verbose).
    @discardableResult
    public mutating func run(_ lines: [ScenarioLine], emit: (JSONObject) -> Void) -> Summary {
        let encoder = SimulationEncoder(offsetSeconds: offsetSeconds, verbose: options.verbose)
        return run(lines) { emit(encoder.json($0)) }
    }

    /// `lines` in `at` order, equal times in input order.
    public static func sorted(_ lines: [ScenarioLine]) -> [ScenarioLine] {
        var sorted = true
        for i in lines.indices.dropFirst() where lines[i].at < lines[i - 1].at {
            sorted = false
            break
        }
        if sorted { return lines }
        return lines.enumerated().sorted { a, b in
            a.element.at != b.element.at ? a.element.at < b.element.at : a.offset < b.offset
        }.map(\.element)
    }

    /// Applies one line, first firing every timer due at or before its time. A line dated before the
    /// current virtual time (the caller did not sort) is applied at the current time; one dated after
    /// `until` is skipped.
    public mutating func apply(_ line: ScenarioLine, records: (SimulationRecord) -> Void) {
        apply(PreparedLine(line, rules: lifecycle.rules), records: records)
    }

    /// `apply(_:into:)` handing each record to `records`.
    public mutating func apply(_ line: consuming PreparedLine, records: (SimulationRecord) -> Void) {
        var sink = SimulationSink()
        apply(line, into: &sink)
        sink.output.forEach(records)
    }

    /// Applies a line prepared ahead (`PreparedLine.init(_:rules:)`, with this simulation's rule set);
    /// the same as applying the line itself.
    public mutating func apply(_ line: consuming PreparedLine, into sink: inout SimulationSink) {
        precondition(!finished, "apply after finish")
        let t = line.at.timeIntervalSince1970
        if let until = options.until, line.at > until {
            summary.skippedLines += 1
            return
        }
        fireDue(through: t, into: &sink)
        advance(to: t)
        let now = Date(timeIntervalSince1970: clock)
        switch (consume line).input {
        case .ticket(let id, let receivedAt, let source, let decision, let repeatKeys):
            applyTicket(
                id: id, receivedAt: receivedAt, source, decision, repeatKeys: repeatKeys, now: now, into: &sink.output)
        case .invalidTicket(let id, let issues):
            summary.rejectedTickets += 1
            reject(ticketRejection(id: id, issues: issues, now: now), into: &sink.output)
        case .command(let command): applyCommand(command, now: now, into: &sink.output)
        case .invalidCommand(let error, let object):
            summary.commands += 1
            summary.rejectedCommands += 1
            reject(commandRejection(error, object: object, now: now), into: &sink.output)
        }
        sink.handOffIfFull()
    }

    /// Fires the remaining timers (to `until`, or until only supervision reminders are left) and returns
    /// the summary; with `until` the virtual clock ends there. Nothing can be applied afterwards.
    @discardableResult
    public mutating func finish(records: (SimulationRecord) -> Void) -> Summary {
        var sink = SimulationSink()
        let summary = finish(into: &sink)
        sink.output.forEach(records)
        return summary
    }

    /// `finish(records:)` putting the records into `sink` (what it did not hand off stays in its output).
    @discardableResult
    public mutating func finish(into sink: inout SimulationSink) -> Summary {
        if !finished {
            finished = true
            if let until = options.until {
                fireDue(through: until.timeIntervalSince1970, into: &sink)
                advance(to: until.timeIntervalSince1970)
            } else {
                while active > 0, let top = heap.pop() {
                    fire(top, into: &sink.output)
                    sink.handOffIfFull()
                }
            }
        }
        summary.openTickets = ticketIndex.count - finals.count
        summary.remindingTickets = 0
        for (slot, s) in states.enumerated() where s?.nextTimer != nil && !isActive[slot] {
            summary.remindingTickets += 1
        }
        summary.finalTickets = finals.count
        return summary
    }

    // MARK: Timers

    private mutating func advance(to t: Double) {
        if t > clock { clock = t }
        if summary.firstAt == nil { summary.firstAt = Date(timeIntervalSince1970: clock) }
        summary.lastAt = Date(timeIntervalSince1970: clock)
    }

    private mutating func fireDue(through t: Double, into sink: inout SimulationSink) {
        while let top = heap.peek, top.due <= t {
            heap.removeTop()
            fire(top, into: &sink.output)
            sink.handOffIfFull()
        }
    }

    private mutating func fire(_ timer: TimerHeap.Item, into output: inout SimulationOutput) {
        let slot = timer.slot
        guard serials[slot] == timer.serial, states[slot]?.version == timer.token, let state = states[slot].take()
        else { return }  // stale
        advance(to: timer.due)
        summary.timersFired += 1
        let before = output.events.count
        let t = lifecycle.fire(
            consume state, token: timer.token, now: Date(timeIntervalSince1970: clock), appendingTo: &output.events)
        summary.events += output.events.count - before
        store(t, slot: slot)
    }

    // MARK: Inputs

    private mutating func applyTicket(
        id: String, receivedAt: Date, _ source: consuming PreparedLine.TicketSource,
        _ decision: consuming Decision, repeatKeys: [String], now: Date, into output: inout SimulationOutput
    ) {
        if ticketIndex[id] != nil {
            summary.rejectedTickets += 1
            let issue = ValidationIssue(
                path: "id", code: .duplicate, message: "id: ticket \(id) was already dispatched")
            reject(ticketRejection(id: id, issues: [issue], now: now), into: &output)
            return
        }
        summary.tickets += 1
        let found = repeats.check(keys: repeatKeys, receivedAt: receivedAt, ticketID: id)
        let before = output.events.count
        let transition = lifecycle.dispatch(
            routed: decision, receivedAt: receivedAt, repeatOf: found.repeatOf,
            enterpriseRepeat: found.enterpriseRepeat, now: now, appendingTo: &output.events)
        summary.events += output.events.count - before
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            tickets[slot] = consume source
        } else {
            slot = states.count
            states.append(nil)
            tickets.append(consume source)
            isActive.append(false)
            serials.append(0)
        }
        nextSerial += 1
        serials[slot] = nextSerial
        ticketIndex[id] = slot
        store(transition, slot: slot, isNew: true)
    }

    private mutating func applyCommand(_ command: Command, now: Date, into output: inout SimulationOutput) {
        summary.commands += 1
        let before = output.events.count
        defer { summary.events += output.events.count - before }
        let id = command.ticketID
        let entry = ticketIndex[id]
        guard let slot = entry, slot >= 0, let state = states[slot].take() else {
            // Unknown, or final and dropped: a stand-in in its final phase gets the lifecycle's refusal.
            let stub = entry.flatMap { $0 < 0 ? finals[-1 - $0] : nil }.map { f -> TicketState in
                var s = TicketState(
                    ticketID: id, receivedAt: now, enterprise: false, category: nil, phase: f.phase, holder: nil,
                    assignedAt: now, profile: nil,
                    policy: PolicySnapshot(name: "", clocks: [], toParent: false, remindEvery: nil, maxReturns: 0))
                s.mergedInto = f.mergedInto
                return s
            }
            let first = output.events.count
            let t = lifecycle.handle(command, state: stub, now: now, appendingTo: &output.events)
            // A stand-in has no version of its own: the command id makes the refusal's id unique.
            for i in first..<output.events.count { output.events[i].refused = command.id }
            if t.outcome == .refused { summary.rejectedCommands += 1 }
            return
        }
        let t: Transition
        do {
            // The ticket is needed only by an approved return that names no unit: read (again) then.
            let rules = lifecycle.rules
            let source = tickets[slot]
            let readTicket = options.readTicket
            t = lifecycle.handle(command, state: consume state, now: now, appendingTo: &output.events) { excluded in
                let ticket: Ticket? =
                    switch source {
                    case .kept(let kept)?: kept.ticket
                    // The same ticket, unless the file changed under the run.
                    case .located(let offset, let length)?:
                        readTicket?(offset, length).flatMap { $0.id == id ? $0 : nil }
                    case nil: nil
                    }
                return ticket.flatMap { rules.rerouteUnit($0, excluding: excluded) }
            }
        }
        if t.outcome == .refused { summary.rejectedCommands += 1 }
        store(t, slot: slot)
    }

    /// Keeps a transition's state (its events are in the output already): frees a final ticket's slot,
    /// schedules the next timer.
    private mutating func store(_ t: Transition, slot: Int, isNew: Bool = false) {
        guard let s = t.state else { return }
        let wasActive = isActive[slot]
        if s.phase.isFinal {
            if wasActive { active -= 1 }
            ticketIndex[s.ticketID] = -1 - finals.count
            finals.append(Final(phase: s.phase, mergedInto: s.mergedInto))
            states[slot] = nil
            tickets[slot] = nil
            isActive[slot] = false
            serials[slot] = 0
            freeSlots.append(slot)
            return
        }
        let nowActive = s.nextTimer != nil && !s.onlyRemindersPending
        if nowActive != wasActive { active += nowActive ? 1 : -1 }
        isActive[slot] = nowActive
        states[slot] = s
        if t.changed || isNew, let next = s.nextTimer {
            heap.push(
                .init(due: max(next.timeIntervalSince1970, clock), serial: serials[slot], token: s.version, slot: slot))
        }
    }

    private mutating func reject(_ json: JSONObject, into output: inout SimulationOutput) {
        summary.events += 1
        output.reject(json)
    }

    // MARK: Rejections

    private func ticketRejection(id: String?, issues: [ValidationIssue], now: Date) -> JSONObject {
        JSONObject([
            ("event", "ticket.rejected"),
            ("at", .string(RFC3339.format(now, offsetSeconds: offsetSeconds))),
            ("ticket_id", id.map { .string($0) } ?? .null),
            ("issues", .array(issues.map(\.json))),
        ])
    }

    private func commandRejection(_ error: CommandValidationError, object: JSONObject, now: Date) -> JSONObject {
        let unit = object["unit"]?.stringValue
        let first = error.issues.first
        return JSONObject([
            ("event", "command.rejected"),
            ("at", .string(RFC3339.format(now, offsetSeconds: offsetSeconds))),
            ("ticket_id", error.ticketID.map { .string($0) } ?? .null),
            ("unit", unit.map { .string($0) } ?? .null),
            ("level", unit.flatMap { lifecycle.rules.unit(id: $0)?.level.name }.map { .string($0) } ?? .null),
            ("command_id", error.commandID.map { .string($0) } ?? .null),
            ("command_type", object["type"]?.stringValue.map { .string($0) } ?? .null),
            ("code", .string(first?.code.rawValue ?? "invalid")),
            ("reason", .string(first?.message ?? "invalid command")),
            ("issues", .array(error.issues.map(\.json))),
        ])
    }
}

extension TicketState {
    /// Open, and waiting for nothing but supervision reminders: every ticking clock has shown its red
    /// light (a paused one waits for the centre, not a timer), no enterprise watch is pending, and no
    /// review of a request is still due.
    var onlyRemindersPending: Bool {
        guard !phase.isFinal, remindAt != nil else { return false }
        if enterpriseWatchAt != nil && !supervised { return false }
        if let p = pendingReturn, p.reviewDue != nil, !p.reviewOverdue { return false }
        if let p = pendingExtension, p.reviewDue != nil, !p.reviewOverdue { return false }
        for c in clocks where c.isTicking && (!c.overdue || (!c.warned && c.warnAt < c.due)) { return false }
        return true
    }
}

// MARK: - Output

/// Turns simulation records into JSON: objects for tests, bytes appended to a reused buffer for output.
/// Events are written by the lifecycle's `EventEncoder`, rejections serialized as they are.
public struct SimulationEncoder: Sendable {
    private var events: EventEncoder
    public var offsetSeconds: Int { events.offsetSeconds }
    public var verbose: Bool { events.verbose }

    public init(offsetSeconds: Int, verbose: Bool) {
        events = EventEncoder(offsetSeconds: offsetSeconds, verbose: verbose)
    }

    /// The record as a JSON object: `EventEncoder.json` for an event, the rejection as it is.
    public func json(_ record: SimulationRecord) -> JSONObject {
        switch record {
        case .event(let e): events.json(e)
        case .rejected(let o): o
        }
    }

    /// Appends the record's compact JSON and a newline to `out`: the same bytes as serializing `json`.
    public mutating func write(_ record: borrowing SimulationRecord, into out: inout [UInt8]) {
        switch record {
        case .event(var e): events.write(inPlace: &e, into: &out)
        case .rejected(let o): JSON.serialize(.object(o), into: &out)
        }
        out.append(0x0A)
    }

    /// Appends every record of `output`, in order, as by `write(_:into:)`. The events are read in place
    /// (reading one out of the array would copy it: a reference count for each of its fields).
    public mutating func write(_ output: inout SimulationOutput, into out: inout [UInt8]) {
        let rejections = output.rejections
        var r = 0
        output.events.withUnsafeMutableBufferPointer { events in
            for i in events.indices {
                while r < rejections.count, rejections[r].position == i {
                    write(.rejected(rejections[r].json), into: &out)
                    r += 1
                }
                self.events.write(inPlace: &events[i], into: &out)
                out.append(0x0A)
            }
        }
        for rejection in rejections[r...] { write(.rejected(rejection.json), into: &out) }
    }
}

// MARK: - Timer heap

/// A binary min-heap of (due, ticket, token): the simulation's pending timers. Tickets are named by their
/// dispatch serial, so equal due times fire in dispatch order; a plain value, no reference counting.
struct TimerHeap {
    /// A timer of the ticket with dispatch serial `serial` (in `slot`), set at its state version `token`.
    struct Item {
        var due: Double
        var serial: Int
        var token: Int
        var slot: Int

        @inline(__always) static func < (a: Item, b: Item) -> Bool {
            if a.due != b.due { return a.due < b.due }
            if a.serial != b.serial { return a.serial < b.serial }
            return a.token < b.token
        }
    }

    private(set) var items: [Item] = []

    var count: Int { items.count }
    var peek: Item? { items.first }

    mutating func push(_ item: Item) {
        items.append(item)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard items[i] < items[p] else { break }
            items.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> Item? {
        guard let top = items.first else { return nil }
        removeTop()
        return top
    }

    mutating func removeTop() {
        let last = items.removeLast()
        guard !items.isEmpty else { return }
        items[0] = last
        var i = 0
        let n = items.count
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var m = i
            if l < n, items[l] < items[m] { m = l }
            if r < n, items[r] < items[m] { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
    }
}
