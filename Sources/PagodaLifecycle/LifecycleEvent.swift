import Foundation
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
    /// Fields particular to the type, in order.
    public var fields: JSONObject

    public init(type: EventType, ticketID: String, at: Date, unit: String?, level: Level?, queues: [String], replyTo: String?,
                carriesTicket: Bool, version: Int, sequence: Int, fields: JSONObject) {
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
        self.fields = fields
    }

    /// Stable id for consumers that deduplicate (`<ticket>#<version>.<n>`).
    public var id: String { "\(ticketID)#\(version).\(sequence)" }

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
