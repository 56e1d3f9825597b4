import Foundation
import PagodaJSON
import PagodaRules

/// One processed intake delivery, as handed to `DispatchStore.recordDispatches`.
public enum IntakeRecord: Sendable {
    /// A valid ticket that the rules engine routed.
    case dispatch(TicketDispatch)
    /// A message that failed validation; it goes to the rejected queue.
    case rejection(Rejection)
}

/// A routed ticket: the ticket, the decision and what to publish.
///
/// The dispatch sequence number is assigned inside `recordDispatches`, so the
/// outgoing messages are built by `messages`, a closure the store calls with
/// that number inside the write transaction (see `messages`).
public struct TicketDispatch: Sendable {
    /// The ticket's id; the inbox deduplicates on it.
    public var ticketID: String
    /// When the ticket was received (the delivery's timestamp).
    public var receivedAt: Date
    /// The validated ticket JSON, exactly as received.
    public var ticketJSON: [UInt8]
    /// The routing decision, with rule provenance and SLA deadlines.
    public var decision: DecisionRow
    /// Builds the messages to publish once the dispatch sequence is known.
    ///
    /// Called at most once per dispatch, only when the ticket is new, inside
    /// the write transaction while the database write lock is held: it must be
    /// pure, fast and must not touch the store. Every returned `messageID`
    /// must be unique across the whole outbox (derive it from the ticket id or
    /// the sequence); a repeated id fails the whole batch with `.constraint`.
    public var messages: @Sendable (_ dispatchSequence: Int64) -> [OutboxMessage]
    /// The AMQP message id of the delivery, if the publisher set one.
    public var amqpMessageID: String?
    /// Processing time (the caller's `now`); stamps rows and the event.
    public var at: Date
    /// Repeat-complaint keys of the ticket (caller phone or credit code with category).
    public var repeatKeys: [String] = []
    /// How far back a repeat is looked for.
    public var repeatWindow: TimeInterval = 7 * 86_400
    /// The ticket's optional fields that were malformed and routed without (for the caller's metrics;
    /// the store keeps them in the decision's JSON).
    public var warnings: [ValidationIssue] = []
    /// Builds the ticket's first lifecycle state once the repeat check ran, inside the transaction
    /// (same rules as `messages`); nil: the ticket gets no lifecycle row.
    public var lifecycle: (@Sendable (_ repeatOf: RepeatMatch?) -> LifecycleStart)?

    public init(
        ticketID: String,
        receivedAt: Date,
        ticketJSON: [UInt8],
        decision: DecisionRow,
        amqpMessageID: String? = nil,
        at: Date,
        messages: @escaping @Sendable (_ dispatchSequence: Int64) -> [OutboxMessage]
    ) {
        self.ticketID = ticketID
        self.receivedAt = receivedAt
        self.ticketJSON = ticketJSON
        self.decision = decision
        self.amqpMessageID = amqpMessageID
        self.at = at
        self.messages = messages
    }
}

/// A routing decision as produced by the rules engine.
public struct DecisionRow: Sendable, Hashable {
    /// The closed set of destination kinds (enforced by a CHECK constraint).
    public enum DestinationType: String, Sendable, Hashable, CaseIterable {
        case unit, platform, triage, emergency
    }

    public var destinationType: DestinationType
    public var unitID: String?
    public var level: String?
    /// The AMQP queue the dispatch goes to.
    public var queue: String
    /// Rule provenance: which rule matched, where it is defined, and the
    /// hash of the rule set that was loaded.
    public var ruleID: String
    public var ruleFile: String
    public var ruleLine: Int
    public var rulesHash: String
    public var slaProfile: String?
    public var category: String?
    public var urgency: String
    /// The full decision as JSON, for audit.
    public var decisionJSON: [UInt8]
    /// SLA clocks: clock key (e.g. "resolve_by") to due time.
    public var deadlines: [String: Date]

    public init(
        destinationType: DestinationType,
        unitID: String? = nil,
        level: String? = nil,
        queue: String,
        ruleID: String,
        ruleFile: String,
        ruleLine: Int,
        rulesHash: String,
        slaProfile: String? = nil,
        category: String? = nil,
        urgency: String,
        decisionJSON: [UInt8],
        deadlines: [String: Date] = [:]
    ) {
        self.destinationType = destinationType
        self.unitID = unitID
        self.level = level
        self.queue = queue
        self.ruleID = ruleID
        self.ruleFile = ruleFile
        self.ruleLine = ruleLine
        self.rulesHash = rulesHash
        self.slaProfile = slaProfile
        self.category = category
        self.urgency = urgency
        self.decisionJSON = decisionJSON
        self.deadlines = deadlines
    }
}

/// A message to publish through the outbox.
public struct OutboxMessage: Sendable, Hashable {
    public var exchange: String
    public var routingKey: String
    /// Unique across the outbox (UNIQUE index); the relay publishes it as the
    /// AMQP message id so consumers can deduplicate re-sends.
    public var messageID: String
    public var contentType: String
    public var headers: [String: String]
    public var body: [UInt8]
    /// Publish with the AMQP `mandatory` flag (unroutable messages come back).
    public var mandatory: Bool
    /// More routing keys on the same exchange, one per destination queue: the relay publishes the message
    /// once per key (in the `CC` header, so that a missing queue returns it) and once to the events
    /// exchange with every key in `BCC` (see `PublishPlan` in PagodaService).
    public var extraRoutingKeys: [String]

    public init(
        exchange: String,
        routingKey: String,
        messageID: String,
        contentType: String = "application/json",
        headers: [String: String] = [:],
        body: [UInt8],
        mandatory: Bool = true,
        extraRoutingKeys: [String] = []
    ) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.messageID = messageID
        self.contentType = contentType
        self.headers = headers
        self.body = body
        self.mandatory = mandatory
        self.extraRoutingKeys = extraRoutingKeys
    }
}

/// An invalid intake message, recorded for audit and forwarded to the
/// rejected queue.
public struct Rejection: Sendable, Hashable {
    /// Deduplication key: a rejection whose key was already recorded with
    /// the same body is skipped (with another body, it is recorded under
    /// `keyedByBody`). Intake gives the AMQP message id, or for a message
    /// without one `sha256:` and its body's digest; without a key,
    /// rejections are never deduplicated.
    public var amqpMessageID: String?
    /// The raw delivery body.
    public var body: [UInt8]
    /// Machine-readable validation code.
    public var code: String
    /// Human-readable reason.
    public var reason: String
    public var at: Date
    /// What to publish to the rejected queue.
    public var message: OutboxMessage
    /// Every issue found, as a JSON array of `{path, code, message}`; nil when only `reason` is known.
    public var issuesJSON: String?

    public init(
        amqpMessageID: String?, body: [UInt8], code: String, reason: String, at: Date, message: OutboxMessage,
        issuesJSON: String? = nil
    ) {
        self.amqpMessageID = amqpMessageID
        self.body = body
        self.code = code
        self.reason = reason
        self.at = at
        self.message = message
        self.issuesJSON = issuesJSON
    }
}

extension Rejection {
    /// This rejection keyed by its body too (`<key>#sha256:<digest of the body>`), for when its key brought
    /// another body before: a sender sent a changed message again under the same message id. It is then a
    /// rejection of its own, and its redelivery finds this key.
    package var keyedByBody: Rejection {
        var r = self
        let key = "\(amqpMessageID ?? "")#sha256:\(Digest.sha256Hex(body))"
        r.amqpMessageID = key
        r.message.messageID = "rejected/\(key)"
        return r
    }
}

/// What `recordDispatches` did with one `IntakeRecord` (same order as input).
public enum IntakeOutcome: Sendable, Hashable {
    /// New ticket, recorded with this freshly assigned sequence.
    case recorded(dispatchSequence: Int64)
    /// Ticket id already in the inbox; nothing written. Carries the sequence
    /// of the first dispatch of that ticket.
    case duplicate(dispatchSequence: Int64)
    /// Rejection recorded; `id` is its `rejections` row id.
    case rejected(id: Int64)
    /// Rejection whose AMQP message id was already recorded; nothing written.
    case duplicateRejection
}

/// An outbox row waiting for (or past) publication.
public struct OutboxEntry: Sendable, Hashable {
    /// Outbox row id, strictly increasing in insertion order.
    public var id: Int64
    public var message: OutboxMessage
    public var createdAt: Date
    /// How many times `claimOutbox` handed this row to a relay.
    public var attempts: Int

    public init(id: Int64, message: OutboxMessage, createdAt: Date, attempts: Int) {
        self.id = id
        self.message = message
        self.createdAt = createdAt
        self.attempts = attempts
    }
}

/// Row counts, for metrics and tests.
public struct StoreCounts: Sendable, Hashable {
    public var inbox: Int
    public var tickets: Int
    public var decisions: Int
    public var deadlines: Int
    public var events: Int
    public var rejections: Int
    public var outboxPending: Int
    public var outboxSent: Int
    /// The last dispatch sequence assigned (0 before the first dispatch).
    public var lastDispatchSequence: Int64

    public init(
        inbox: Int = 0, tickets: Int = 0, decisions: Int = 0, deadlines: Int = 0, events: Int = 0,
        rejections: Int = 0, outboxPending: Int = 0, outboxSent: Int = 0, lastDispatchSequence: Int64 = 0
    ) {
        self.inbox = inbox
        self.tickets = tickets
        self.decisions = decisions
        self.deadlines = deadlines
        self.events = events
        self.rejections = rejections
        self.outboxPending = outboxPending
        self.outboxSent = outboxSent
        self.lastDispatchSequence = lastDispatchSequence
    }
}

/// Everything the store knows about one ticket, for `pagoda show`.
public struct TicketHistory: Sendable, Hashable {
    public struct Ticket: Sendable, Hashable {
        public var id: String
        public var receivedAt: Date
        public var body: [UInt8]
        public var state: String
        public var unitID: String?
        public var createdAt: Date
        /// Sequence of the first dispatch (from the inbox).
        public var dispatchSequence: Int64
        public var amqpMessageID: String?

        package init(
            id: String, receivedAt: Date, body: [UInt8], state: String, unitID: String?, createdAt: Date,
            dispatchSequence: Int64, amqpMessageID: String?
        ) {
            self.id = id
            self.receivedAt = receivedAt
            self.body = body
            self.state = state
            self.unitID = unitID
            self.createdAt = createdAt
            self.dispatchSequence = dispatchSequence
            self.amqpMessageID = amqpMessageID
        }
    }

    public struct Decision: Sendable, Hashable {
        public var id: Int64
        public var dispatchSequence: Int64
        public var createdAt: Date
        /// The decision as recorded (its `deadlines` are the ticket's deadlines).
        public var row: DecisionRow

        package init(id: Int64, dispatchSequence: Int64, createdAt: Date, row: DecisionRow) {
            self.id = id
            self.dispatchSequence = dispatchSequence
            self.createdAt = createdAt
            self.row = row
        }
    }

    public struct Deadline: Sendable, Hashable {
        public var clock: String
        public var dueAt: Date

        package init(clock: String, dueAt: Date) {
            self.clock = clock
            self.dueAt = dueAt
        }
    }

    public struct Message: Sendable, Hashable {
        public var outbox: OutboxEntry
        /// When the broker confirmed it; nil while pending.
        public var sentAt: Date?

        package init(outbox: OutboxEntry, sentAt: Date?) {
            self.outbox = outbox
            self.sentAt = sentAt
        }
    }

    public struct Event: Sendable, Hashable {
        public var id: Int64
        public var type: String
        public var at: Date
        public var payloadJSON: [UInt8]

        package init(id: Int64, type: String, at: Date, payloadJSON: [UInt8]) {
            self.id = id
            self.type = type
            self.at = at
            self.payloadJSON = payloadJSON
        }
    }

    public var ticket: Ticket
    /// Oldest first.
    public var decisions: [Decision]
    /// Earliest due first.
    public var deadlines: [Deadline]
    /// Outbox order.
    public var messages: [Message]
    /// Oldest first.
    public var events: [Event]

    package init(ticket: Ticket, decisions: [Decision], deadlines: [Deadline], messages: [Message], events: [Event]) {
        self.ticket = ticket
        self.decisions = decisions
        self.deadlines = deadlines
        self.messages = messages
        self.events = events
    }
}

/// Connection settings read back from SQLite, to verify configuration.
public struct StorePragmas: Sendable, Hashable {
    /// `PRAGMA journal_mode` ("wal").
    public var journalMode: String
    /// `PRAGMA synchronous` on the writer connection (2 = FULL, 1 = NORMAL).
    public var synchronous: Int
    /// `PRAGMA foreign_keys` (true = enforced).
    public var foreignKeys: Bool
    /// `PRAGMA busy_timeout` in milliseconds.
    public var busyTimeoutMilliseconds: Int
}
