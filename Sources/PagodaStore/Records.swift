import Foundation
import GRDB

// One record type per table. Column names are snake_case via explicit
// CodingKeys; each record exposes its columns in a nested `Columns` enum.
// Timestamps are Int64 epoch milliseconds (`EpochMillis`).

/// A row of `tickets`.
struct TicketRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "tickets"
    var id: String
    var receivedAt: Int64
    var body: Data
    var state: String
    var unitID: String?
    var createdAt: Int64

    enum CodingKeys: String, CodingKey {
        case id, body, state
        case receivedAt = "received_at", unitID = "unit_id", createdAt = "created_at"
    }

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let state = Column(CodingKeys.state)
    }
}

/// A row of `inbox`: proof a ticket id was processed, with its sequence.
struct InboxRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "inbox"
    var ticketID: String
    var amqpMessageID: String?
    var dispatchSeq: Int64
    var receivedAt: Int64

    enum CodingKeys: String, CodingKey {
        case ticketID = "ticket_id", amqpMessageID = "amqp_message_id"
        case dispatchSeq = "dispatch_seq", receivedAt = "received_at"
    }

    enum Columns {
        static let ticketID = Column(CodingKeys.ticketID)
        static let dispatchSeq = Column(CodingKeys.dispatchSeq)
    }
}

/// A row of `decisions`: a routing decision with rule provenance.
struct DecisionRecord: Codable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "decisions"
    var id: Int64?
    var ticketID: String
    var dispatchSeq: Int64
    var destinationType: String
    var unitID: String?
    var level: String?
    var queue: String
    var ruleID: String
    var ruleFile: String
    var ruleLine: Int
    var rulesHash: String
    var slaProfile: String?
    var category: String?
    var urgency: String
    var decisionJSON: Data
    var createdAt: Int64

    enum CodingKeys: String, CodingKey {
        case id, level, queue, category, urgency
        case ticketID = "ticket_id", dispatchSeq = "dispatch_seq", destinationType = "destination_type"
        case unitID = "unit_id", ruleID = "rule_id", ruleFile = "rule_file", ruleLine = "rule_line"
        case rulesHash = "rules_hash", slaProfile = "sla_profile", decisionJSON = "decision_json"
        case createdAt = "created_at"
    }

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let ticketID = Column(CodingKeys.ticketID)
    }

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A row of `deadlines`: one SLA clock of a ticket.
struct DeadlineRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "deadlines"
    var ticketID: String
    var clock: String
    var dueAt: Int64

    enum CodingKeys: String, CodingKey {
        case clock
        case ticketID = "ticket_id", dueAt = "due_at"
    }

    enum Columns {
        static let ticketID = Column(CodingKeys.ticketID)
        static let clock = Column(CodingKeys.clock)
        static let dueAt = Column(CodingKeys.dueAt)
    }
}

/// A row of `rejections`: an invalid intake message.
struct RejectionRecord: Codable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "rejections"
    var id: Int64?
    var amqpMessageID: String?
    var code: String
    var reason: String
    var body: Data
    var createdAt: Int64

    enum CodingKeys: String, CodingKey {
        case id, code, reason, body
        case amqpMessageID = "amqp_message_id", createdAt = "created_at"
    }

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let amqpMessageID = Column(CodingKeys.amqpMessageID)
    }

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A row of `outbox`: a message to publish, unsent while `sentAt` is nil.
struct OutboxRecord: Codable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "outbox"
    var id: Int64?
    var messageID: String
    var ticketID: String?
    var rejectionID: Int64?
    var exchange: String
    var routingKey: String
    var contentType: String
    var headersJSON: String
    var body: Data
    var mandatory: Bool
    var createdAt: Int64
    var sentAt: Int64?
    var attempts: Int

    enum CodingKeys: String, CodingKey {
        case id, exchange, body, mandatory, attempts
        case messageID = "message_id", ticketID = "ticket_id", rejectionID = "rejection_id"
        case routingKey = "routing_key", contentType = "content_type", headersJSON = "headers_json"
        case createdAt = "created_at", sentAt = "sent_at"
    }

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let ticketID = Column(CodingKeys.ticketID)
        static let sentAt = Column(CodingKeys.sentAt)
        static let attempts = Column(CodingKeys.attempts)
    }

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    init(_ message: OutgoingMessage, ticketID: String?, rejectionID: Int64?, createdAt: Int64) throws {
        self.id = nil
        self.messageID = message.messageID
        self.ticketID = ticketID
        self.rejectionID = rejectionID
        self.exchange = message.exchange
        self.routingKey = message.routingKey
        self.contentType = message.contentType
        self.headersJSON = try JSONText.encode(message.headers)
        self.body = Data(message.body)
        self.mandatory = message.mandatory
        self.createdAt = createdAt
        self.sentAt = nil
        self.attempts = 0
    }

    func outboxMessage() throws -> OutboxMessage {
        guard let id else { throw StoreError(.internal, "outbox row without id") }
        let headers = try JSONText.decode([String: String].self, headersJSON)
        return OutboxMessage(
            id: id,
            message: OutgoingMessage(
                exchange: exchange, routingKey: routingKey, messageID: messageID,
                contentType: contentType, headers: headers, body: [UInt8](body), mandatory: mandatory),
            createdAt: EpochMillis.date(createdAt),
            attempts: attempts)
    }
}

/// A row of `events`: the ticket's audit trail.
struct EventRecord: Codable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "events"
    var id: Int64?
    var ticketID: String
    var type: String
    var at: Int64
    var payloadJSON: String

    enum CodingKeys: String, CodingKey {
        case id, type, at
        case ticketID = "ticket_id", payloadJSON = "payload_json"
    }

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let ticketID = Column(CodingKeys.ticketID)
    }

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// Deterministic JSON text (sorted keys) for small JSON columns.
enum JSONText {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }
}

/// Payload of a `ticket.dispatched` event.
struct DispatchedEventPayload: Codable {
    var dispatchSeq: Int64
    var destinationType: String
    var unitID: String?
    var queue: String
    var ruleID: String
    var rulesHash: String
    var messageIDs: [String]

    enum CodingKeys: String, CodingKey {
        case queue
        case dispatchSeq = "dispatch_seq", destinationType = "destination_type", unitID = "unit_id"
        case ruleID = "rule_id", rulesHash = "rules_hash", messageIDs = "message_ids"
    }
}
