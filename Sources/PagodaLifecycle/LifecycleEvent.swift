import Foundation
import PagodaJSON
import PagodaRules

/// The kinds of event the dispatcher emits (the `event` field of every event message).
public enum EventType: String, Sendable, Hashable, CaseIterable, Codable {
    case dispatched = "ticket.dispatched"
    case signed = "ticket.signed"
    case contacted = "ticket.contacted"
    case progress = "ticket.progress"
    /// Yellow light before a deadline, or a supervision reminder at the top of the pagoda.
    case reminder = "ticket.reminder"
    /// Red light: a deadline passed.
    case overdue = "ticket.overdue"
    case escalated = "ticket.escalated"
    case returnRequested = "ticket.return_requested"
    case returnApproved = "ticket.return_approved"
    case returnRejected = "ticket.return_rejected"
    case extensionRequested = "ticket.extension_requested"
    case extensionApproved = "ticket.extension_approved"
    case extensionRejected = "ticket.extension_rejected"
    case replied = "ticket.replied"
    case callbackRequested = "ticket.callback_requested"
    case callbackRecorded = "ticket.callback_recorded"
    case reopened = "ticket.reopened"
    case supervised = "ticket.supervised"
    case redispatched = "ticket.redispatched"
    case closed = "ticket.closed"
    case commandRejected = "command.rejected"
}

/// One event: what happened to a ticket, and which queues hear of it besides `pagoda.events`.
public struct LifecycleEvent: Sendable, Hashable {
    public var type: EventType
    public var ticketID: String
    public var at: Date
    /// The unit the event concerns (the holder, or the sender of a refused command).
    public var unit: String?
    public var level: Level?
    /// Queues below the service's prefix that receive the event (`unit.nanhai`, `triage`, `callback`);
    /// every event also goes to `pagoda.events`.
    public var queues: [String]
    /// A queue named by the command's `reply_to` (refusals only).
    public var replyTo: String?
    /// The unit newly holding the ticket needs the ticket itself: the message carries it as `ticket`.
    public var carriesTicket: Bool
    /// The ticket's version after the change, with `sequence` making the event id unique and stable.
    public var version: Int
    public var sequence: Int
    /// A refusal with no ticket state to give it a version (an unknown ticket, a command that cannot be read):
    /// what makes its id unique instead, the command id or `sha256:<digest of the body>`.
    public var refused: String?
    /// Fields particular to the type, in order (spelled out from `payload` when read).
    public var fields: JSONObject {
        get { payload.json }
        set { payload = .fields(newValue) }
    }
    /// What the fields are made from: the frequent events keep their values as they are, and are written
    /// as JSON only when the event is (`EventEncoder.write`), without a JSON object in between.
    var payload: EventPayload

    public init(
        type: EventType, ticketID: String, at: Date, unit: String?, level: Level?, queues: [String], replyTo: String?,
        carriesTicket: Bool, version: Int, sequence: Int, fields: JSONObject
    ) {
        self.init(
            type: type, ticketID: ticketID, at: at, unit: unit, level: level, queues: queues, replyTo: replyTo,
            carriesTicket: carriesTicket, version: version, sequence: sequence, payload: .fields(fields))
    }

    init(
        type: EventType, ticketID: String, at: Date, unit: String?, level: Level?, queues: [String], replyTo: String?,
        carriesTicket: Bool, version: Int, sequence: Int, payload: EventPayload
    ) {
        self.type = type
        self.ticketID = ticketID
        self.at = at
        self.unit = unit
        self.level = level
        self.queues = queues
        self.replyTo = replyTo
        self.carriesTicket = carriesTicket
        self.version = version
        self.sequence = sequence
        self.payload = payload
    }

    // Equal events have equal fields, however they are kept.
    public static func == (a: LifecycleEvent, b: LifecycleEvent) -> Bool {
        a.type == b.type && a.ticketID == b.ticketID && a.at == b.at && a.unit == b.unit && a.level == b.level
            && a.queues == b.queues && a.replyTo == b.replyTo && a.carriesTicket == b.carriesTicket
            && a.version == b.version
            && a.sequence == b.sequence && a.refused == b.refused && a.fields == b.fields
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(type)
        hasher.combine(ticketID)
        hasher.combine(at)
        hasher.combine(version)
        hasher.combine(sequence)
        hasher.combine(fields)
    }

    /// Stable id for consumers that deduplicate: `<ticket>#<version>.<n>`, or `<ticket>#refused/<command>` for
    /// a refusal without a ticket state (`refused`).
    public var id: String { refused.map { "\(ticketID)#refused/\($0)" } ?? "\(ticketID)#\(version).\(sequence)" }

    /// The event message as JSON (without the ticket, which the service splices in when `carriesTicket`).
    public func json(offsetSeconds: Int) -> JSONObject {
        var o = JSONObject([
            ("event", .string(type.rawValue)),
            ("event_id", .string(id)),
            ("at", .string(RFC3339.format(at, offsetSeconds: offsetSeconds))),
            ("ticket_id", .string(ticketID)),
            ("unit", unit.map { .string($0) } ?? .null),
            ("level", level.map { .string($0.name) } ?? .null),
        ])
        for (k, v) in fields { o.set(k, v) }
        return o
    }
}

/// The fields of an event, as made by the lifecycle. `json` spells them as the event's JSON members;
/// `EventEncoder.write` writes the same bytes straight from the values.
enum EventPayload: Sendable {
    /// Fields given as JSON (rare events, and events made outside the lifecycle).
    case fields(JSONObject)
    /// A dispatch to a unit: `destination`, `rule`, `deadlines` (of the running `clocks`, times at
    /// `offset`), `repeat_of` when the ticket repeats an earlier one, and `ticket_warnings` (the optional
    /// fields intake left out, as `{"path", "code", "message"}`) when there are any.
    case dispatched(
        destination: String, rule: String, clocks: [ClockState], offset: Int, repeatOf: String?,
        ticketWarnings: [ValidationIssue])
    /// A yellow or red light: `light`, `clock`, `due`.
    case light(red: Bool, clock: Clock, due: Date, offset: Int)
    /// `outcome` and `text` of a reply (`ticket.replied`, `ticket.callback_requested`).
    case reply(outcome: ReplyOutcome, text: String)
    /// A callback recorded, or closing the ticket (`reason: callback` first): `reached`, `resolved`,
    /// `satisfaction`, `note`, each when given.
    case callback(closed: Bool, reached: Bool, resolved: Bool?, satisfaction: Satisfaction?, note: String?)
    /// A supervision reminder at the top of the pagoda: `light` red, `supervision` true, and the overdue
    /// `clocks`.
    case supervisionReminder(clocks: ClockList)

    var json: JSONObject {
        switch self {
        case .fields(let o):
            return o
        case .dispatched(let destination, let rule, let clocks, let offset, let repeatOf, let ticketWarnings):
            var members: [(String, JSONValue)] = [
                ("destination", .string(destination)), ("rule", .string(rule)),
                ("deadlines", EventPayload.deadlines(clocks, offset: offset)),
            ]
            if let r = repeatOf { members.append(("repeat_of", .string(r))) }
            if !ticketWarnings.isEmpty { members.append(("ticket_warnings", .array(ticketWarnings.map(\.json)))) }
            return JSONObject(members)
        case .light(let red, let clock, let due, let offset):
            return JSONObject([
                ("light", .string(red ? "red" : "yellow")), ("clock", .string(clock.rawValue)),
                ("due", .string(RFC3339.format(due, offsetSeconds: offset))),
            ])
        case .reply(let outcome, let text):
            return JSONObject([("outcome", .string(outcome.rawValue)), ("text", .string(text))])
        case .callback(let closed, let reached, let resolved, let satisfaction, let note):
            var members: [(String, JSONValue)] = []
            if closed { members.append(("reason", "callback")) }
            members.append(("reached", .bool(reached)))
            if let r = resolved { members.append(("resolved", .bool(r))) }
            if let s = satisfaction { members.append(("satisfaction", .string(s.rawValue))) }
            if let n = note { members.append(("note", .string(n))) }
            return JSONObject(members)
        case .supervisionReminder(let clocks):
            return JSONObject([
                ("light", "red"), ("supervision", true), ("clocks", .array(clocks.map { .string($0.rawValue) })),
            ])
        }
    }

    /// The fields were given as JSON (only those can have the name of a member of the event envelope).
    var isJSON: Bool {
        if case .fields = self { return true }
        return false
    }

    /// The deadlines of the running clocks: `{"sign_by": TIME, ...}`.
    static func deadlines(_ clocks: [ClockState], offset: Int) -> JSONValue {
        var members: [(String, JSONValue)] = []
        members.reserveCapacity(clocks.count)
        for c in clocks where c.isRunning {
            members.append((c.clock.deadlineKey, .string(RFC3339.format(c.due, offsetSeconds: offset))))
        }
        return .object(JSONObject(members))
    }

    /// Appends the members (each preceded by a comma) as compact JSON, the same bytes as serializing
    /// `json`'s members; false (nothing written) for `.fields`, which the caller serializes.
    func write(into out: inout [UInt8]) -> Bool {
        switch self {
        case .fields:
            return false
        case .dispatched(let destination, let rule, let clocks, let offset, let repeatOf, let ticketWarnings):
            out.append(literal: Keys.destination)
            JSON.serializeString(destination, into: &out)
            out.append(literal: Keys.rule)
            JSON.serializeString(rule, into: &out)
            out.append(literal: Keys.deadlines)
            var first = true
            for c in clocks where c.isRunning {
                out.append(literal: Keys.deadline(c.clock, first: first))
                first = false
                RFC3339.format(c.due, offsetSeconds: offset, into: &out)
                out.append(0x22)
            }
            out.append(0x7D)
            if let r = repeatOf {
                out.append(literal: Keys.repeatOf)
                JSON.serializeString(r, into: &out)
            }
            if !ticketWarnings.isEmpty {
                // Rare (a degraded ticket): written through JSON values.
                out.append(literal: Keys.ticketWarnings)
                JSON.serialize(.array(ticketWarnings.map(\.json)), into: &out)
            }
        case .light(let red, let clock, let due, let offset):
            out.append(literal: red ? Keys.red : Keys.yellow)
            out.append(utf8: clock.rawValue)  // ASCII names: nothing to escape
            out.append(literal: Keys.due)
            RFC3339.format(due, offsetSeconds: offset, into: &out)
            out.append(0x22)
        case .reply(let outcome, let text):
            out.append(literal: Keys.outcome)
            out.append(utf8: outcome.rawValue)
            out.append(literal: Keys.text)
            JSON.serializeString(text, into: &out)
        case .callback(let closed, let reached, let resolved, let satisfaction, let note):
            if closed { out.append(literal: Keys.reasonCallback) }
            out.append(literal: reached ? Keys.reachedTrue : Keys.reachedFalse)
            if let r = resolved { out.append(literal: r ? Keys.resolvedTrue : Keys.resolvedFalse) }
            if let s = satisfaction {
                out.append(literal: Keys.satisfaction)
                out.append(utf8: s.rawValue)
                out.append(0x22)
            }
            if let n = note {
                out.append(literal: Keys.note)
                JSON.serializeString(n, into: &out)
            }
        case .supervisionReminder(let clocks):
            out.append(literal: Keys.supervisionClocks)
            var first = true
            for c in clocks {
                if !first { out.append(0x2C) }
                first = false
                out.append(0x22)
                out.append(utf8: c.rawValue)  // ASCII names: nothing to escape
                out.append(0x22)
            }
            out.append(0x5D)
        }
        return true
    }

    /// The members' keys, with the punctuation around them. Literals (`StaticString`), not arrays: a static
    /// array is a lazy global, reached through a once-check and retained at every use.
    enum Keys {
        static let destination: StaticString = #","destination":"#
        static let rule: StaticString = #","rule":"#
        static let deadlines: StaticString = #","deadlines":{"#
        /// `"sign_by":"` (the first deadline) or `,"sign_by":"` (a later one).
        static func deadline(_ c: Clock, first: Bool) -> StaticString {
            switch (c, first) {
            case (.sign, true): #""sign_by":""#
            case (.sign, false): #","sign_by":""#
            case (.contact, true): #""contact_by":""#
            case (.contact, false): #","contact_by":""#
            case (.onsite, true): #""onsite_by":""#
            case (.onsite, false): #","onsite_by":""#
            case (.answer, true): #""answer_by":""#
            case (.answer, false): #","answer_by":""#
            case (.resolve, true): #""resolve_by":""#
            case (.resolve, false): #","resolve_by":""#
            }
        }
        static let repeatOf: StaticString = #","repeat_of":"#
        static let ticketWarnings: StaticString = #","ticket_warnings":"#
        static let red: StaticString = #","light":"red","clock":""#
        static let yellow: StaticString = #","light":"yellow","clock":""#
        static let due: StaticString = #"","due":""#
        static let outcome: StaticString = #","outcome":""#
        static let text: StaticString = #"","text":"#
        static let reasonCallback: StaticString = #","reason":"callback""#
        static let reachedTrue: StaticString = #","reached":true"#
        static let reachedFalse: StaticString = #","reached":false"#
        static let resolvedTrue: StaticString = #","resolved":true"#
        static let resolvedFalse: StaticString = #","resolved":false"#
        static let satisfaction: StaticString = #","satisfaction":""#
        static let note: StaticString = #","note":"#
        static let supervisionClocks: StaticString = #","light":"red","supervision":true,"clocks":["#
    }
}

/// Clocks in a given order, each at most once, kept in one word instead of an array: the overdue clocks
/// of a supervision reminder, which is made many times over while a ticket waits at the top.
public struct ClockList: Sendable, Hashable, Sequence {
    /// Three bits per clock (its place in `Clock.allCases` plus one), the first clock in the lowest bits.
    private var bits: UInt32 = 0

    public init() {}

    public init(_ clocks: some Sequence<Clock>) {
        for c in clocks { append(c) }
    }

    public var isEmpty: Bool { bits == 0 }

    /// Adds `clock` at the end; a clock already in the list is not added again.
    public mutating func append(_ clock: Clock) {
        let code = UInt32(Self.code(clock))
        var shift: UInt32 = 0
        while (bits >> shift) & 7 != 0 {
            if (bits >> shift) & 7 == code { return }
            shift += 3
        }
        bits |= code << shift
    }

    static func code(_ clock: Clock) -> Int {
        switch clock {
        case .sign: 1
        case .contact: 2
        case .onsite: 3
        case .answer: 4
        case .resolve: 5
        }
    }

    public struct Iterator: IteratorProtocol {
        var bits: UInt32
        public mutating func next() -> Clock? {
            guard bits & 7 != 0 else { return nil }
            defer { bits >>= 3 }
            return Clock.allCases[Int(bits & 7) - 1]
        }
    }

    public func makeIterator() -> Iterator { Iterator(bits: bits) }
}

extension Array where Element == UInt8 {
    /// Appends the UTF-8 bytes of a literal.
    @inline(__always) mutating func append(literal s: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Appends the UTF-8 bytes of `s` as they are (names known to need no escaping), copied as one block
    /// (appending `s.utf8` as a sequence goes byte by byte).
    @inline(__always) mutating func append(utf8 s: String) {
        if s.utf8.withContiguousStorageIfAvailable({ append(contentsOf: $0) }) == nil { append(contentsOf: s.utf8) }
    }

    /// Appends `n` in decimal, without making a string of it.
    mutating func append(decimal n: Int) {
        guard n >= 0 else { return append(contentsOf: String(n).utf8) }
        var value = UInt64(n)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { d in  // the 20 digits of Int.max
            var start = 20
            repeat {
                start -= 1
                d[start] = UInt8(truncatingIfNeeded: 0x30 + value % 10)
                value /= 10
            } while value > 0
            append(contentsOf: UnsafeBufferPointer(rebasing: d[start...]))
        }
    }
}
