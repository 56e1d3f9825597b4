import Foundation
import GRDB
import PagodaJSON
import PagodaRules

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
        case receivedAt = "received_at"
        case unitID = "unit_id"
        case createdAt = "created_at"
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
        case ticketID = "ticket_id"
        case amqpMessageID = "amqp_message_id"
        case dispatchSeq = "dispatch_seq"
        case receivedAt = "received_at"
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
        case ticketID = "ticket_id"
        case dispatchSeq = "dispatch_seq"
        case destinationType = "destination_type"
        case unitID = "unit_id"
        case ruleID = "rule_id"
        case ruleFile = "rule_file"
        case ruleLine = "rule_line"
        case rulesHash = "rules_hash"
        case slaProfile = "sla_profile"
        case decisionJSON = "decision_json"
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
        case ticketID = "ticket_id"
        case dueAt = "due_at"
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
    var issuesJSON: String?

    enum CodingKeys: String, CodingKey {
        case id, code, reason, body
        case amqpMessageID = "amqp_message_id"
        case createdAt = "created_at"
        case issuesJSON = "issues_json"
    }

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let amqpMessageID = Column(CodingKeys.amqpMessageID)
    }

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// The stored forms of a message's headers, body and extra routing keys, made where the message is made
/// (`LifecycleChange` makes them when it is created), so a commit only binds them.
package struct OutboxFields: Sendable {
    package let headersJSON: String
    package let body: Data
    package let extraRoutingKeys: String?

    package init(_ message: OutboxMessage) {
        headersJSON = JSONText.encode(message.headers)
        body = Data(message.body)
        extraRoutingKeys = message.extraRoutingKeys.isEmpty ? nil : JSONText.encodeStrings(message.extraRoutingKeys)
    }
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
    /// A JSON array of routing keys, or nil for none.
    var extraRoutingKeys: String?

    enum CodingKeys: String, CodingKey {
        case id, exchange, body, mandatory, attempts
        case messageID = "message_id"
        case ticketID = "ticket_id"
        case rejectionID = "rejection_id"
        case routingKey = "routing_key"
        case contentType = "content_type"
        case headersJSON = "headers_json"
        case createdAt = "created_at"
        case sentAt = "sent_at"
        case extraRoutingKeys = "extra_routing_keys"
    }

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let ticketID = Column(CodingKeys.ticketID)
        static let sentAt = Column(CodingKeys.sentAt)
        static let attempts = Column(CodingKeys.attempts)
    }

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    init(_ message: OutboxMessage, ticketID: String?, rejectionID: Int64?, createdAt: Int64) throws {
        self.init(message, OutboxFields(message), ticketID: ticketID, rejectionID: rejectionID, createdAt: createdAt)
    }

    /// The row of `message`, with its stored forms made beforehand (`OutboxFields`).
    init(_ message: OutboxMessage, _ fields: OutboxFields, ticketID: String?, rejectionID: Int64?, createdAt: Int64) {
        self.id = nil
        self.messageID = message.messageID
        self.ticketID = ticketID
        self.rejectionID = rejectionID
        self.exchange = message.exchange
        self.routingKey = message.routingKey
        self.contentType = message.contentType
        self.headersJSON = fields.headersJSON
        self.body = fields.body
        self.mandatory = message.mandatory
        self.createdAt = createdAt
        self.sentAt = nil
        self.attempts = 0
        self.extraRoutingKeys = fields.extraRoutingKeys
    }

    func outboxEntry() throws -> OutboxEntry {
        guard let id else { throw StoreError(.internal, "outbox row without id") }
        let headers = try JSONText.decodeStrings(headersJSON)
        let keys = try extraRoutingKeys.map { try JSONText.decodeStringArray($0) } ?? []
        return OutboxEntry(
            id: id,
            message: OutboxMessage(
                exchange: exchange, routingKey: routingKey, messageID: messageID,
                contentType: contentType, headers: headers, body: [UInt8](body), mandatory: mandatory,
                extraRoutingKeys: keys),
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
        case ticketID = "ticket_id"
        case payloadJSON = "payload_json"
    }

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let ticketID = Column(CodingKeys.ticketID)
    }

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// Small JSON columns (`headers_json`, `extra_routing_keys`, `payload_json`), written and read with the
/// project's JSON serializer and parser (PagodaJSON), like every other JSON of the service. Output is
/// compact; the members of a `[String: String]` are written with their keys sorted (deterministic).
package enum JSONText {
    /// A JSON object of string values with sorted keys.
    package static func encode(_ object: [String: String]) -> String {
        if object.isEmpty { return "{}" }
        return JSON.serializeToString(
            .object(JSONObject(object.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
    }

    /// A JSON array of strings.
    package static func encodeStrings(_ strings: [String]) -> String {
        JSON.serializeToString(.array(strings.map { .string($0) }))
    }

    /// A JSON object whose members are written in the given (already sorted) order.
    package static func encodeObject(_ members: [(String, JSONValue)]) -> String {
        JSON.serializeToString(.object(JSONObject(members)))
    }

    /// A JSON object of string values, as `encode` writes them (`headers_json`). Anything else (other
    /// value types, repeated keys, malformed text) is a `corrupt` store error naming the column.
    package static func decodeStrings(_ text: String, column: String = "headers_json") throws(StoreError) -> [String:
        String]
    {
        guard case .object(let o) = try parse(text, column) else {
            throw StoreError(.corrupt, "\(column): expected an object")
        }
        var strings: [String: String] = [:]
        strings.reserveCapacity(o.count)
        for (key, value) in o {
            guard let s = value.stringValue else { throw StoreError(.corrupt, "\(column): \(key): expected a string") }
            strings[key] = s
        }
        return strings
    }

    /// A JSON array of strings, as `encodeStrings` writes it (`extra_routing_keys`); anything else is a
    /// `corrupt` store error naming the column.
    package static func decodeStringArray(_ text: String, column: String = "extra_routing_keys") throws(StoreError)
        -> [String]
    {
        guard case .array(let a) = try parse(text, column) else {
            throw StoreError(.corrupt, "\(column): expected an array")
        }
        return try a.map { v throws(StoreError) in
            guard let s = v.stringValue else { throw StoreError(.corrupt, "\(column): expected strings") }
            return s
        }
    }

    private static func parse(_ text: String, _ column: String) throws(StoreError) -> JSONValue {
        do {
            return try JSON.parse(text.utf8)
        } catch {
            throw StoreError(.corrupt, "\(column): \(error.message)")
        }
    }
}

/// Payload of a `ticket.dispatched` event, as JSON text.
package enum DispatchedEventPayload {
    package static func json(sequence: Int64, decision: DecisionRow, messageIDs: [String]) -> String {
        JSONText.encodeObject([
            ("destination_type", .string(decision.destinationType.rawValue)),
            ("dispatch_seq", .number(String(sequence))),
            ("message_ids", .array(messageIDs.map { .string($0) })),
            ("queue", .string(decision.queue)),
            ("rule_id", .string(decision.ruleID)),
            ("rules_hash", .string(decision.rulesHash)),
            ("unit_id", decision.unitID.map { .string($0) } ?? .null),
        ])
    }
}

// MARK: - Hot-path inserts
//
// `recordDispatches` inserts ~8 rows per ticket. GRDB's Codable persistence
// re-encodes the record and regenerates its SQL on every insert, which cost
// more than SQLite itself (profiled). These inserts use one cached prepared
// statement per table; the column list is built from the same CodingKeys the
// records decode with, so the column names are still defined in one place.

private func insertSQL<Key: CodingKey>(_ table: String, _ columns: [Key]) -> String {
    let names = columns.map(\.stringValue)
    return
        "INSERT INTO \(table) (\(names.joined(separator: ", "))) VALUES (\(names.map { _ in "?" }.joined(separator: ", ")))"
}

extension TicketRecord {
    private static let insertSQL = PagodaStore.insertSQL(
        databaseTableName, [CodingKeys.id, .receivedAt, .body, .state, .unitID, .createdAt])

    /// Inserts the row with a cached statement.
    func insertRow(_ db: Database) throws {
        try db.cachedStatement(sql: Self.insertSQL)
            .execute(arguments: [id, receivedAt, body, state, unitID, createdAt])
    }
}

extension InboxRecord {
    private static let insertSQL = PagodaStore.insertSQL(
        databaseTableName, [CodingKeys.ticketID, .amqpMessageID, .dispatchSeq, .receivedAt])
    private static let sequenceSQL =
        "SELECT \(CodingKeys.dispatchSeq.stringValue) FROM \(databaseTableName) WHERE \(CodingKeys.ticketID.stringValue) = ?"

    /// Inserts the row with a cached statement.
    func insertRow(_ db: Database) throws {
        try db.cachedStatement(sql: Self.insertSQL)
            .execute(arguments: [ticketID, amqpMessageID, dispatchSeq, receivedAt])
    }

    /// The dispatch sequence of the ticket that came in the message `amqpMessageID` with these bytes, if any
    /// (through the partial index of `v8-inbox-message-ids`).
    static func dispatchSequence(amqpMessageID: String, body: [UInt8], _ db: Database) throws -> Int64? {
        try Int64.fetchOne(
            db.cachedStatement(
                sql: """
                    SELECT i.dispatch_seq FROM inbox i JOIN tickets t ON t.id = i.ticket_id
                    WHERE i.amqp_message_id = ? AND t.body = ? LIMIT 1
                    """),
            arguments: [amqpMessageID, Data(body)])
    }

    /// The dispatch sequence recorded for `ticketID`, if any.
    static func dispatchSequence(ticketID: String, _ db: Database) throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: sequenceSQL), arguments: [ticketID])
    }
}

extension DecisionRecord {
    private static let insertSQL = PagodaStore.insertSQL(
        databaseTableName,
        [
            CodingKeys.ticketID, .dispatchSeq, .destinationType, .unitID, .level, .queue, .ruleID, .ruleFile,
            .ruleLine, .rulesHash, .slaProfile, .category, .urgency, .decisionJSON, .createdAt,
        ])

    /// Inserts the row with a cached statement and sets `id`.
    mutating func insertRow(_ db: Database) throws {
        try db.cachedStatement(sql: Self.insertSQL).execute(arguments: [
            ticketID, dispatchSeq, destinationType, unitID, level, queue, ruleID, ruleFile,
            ruleLine, rulesHash, slaProfile, category, urgency, decisionJSON, createdAt,
        ])
        id = db.lastInsertedRowID
    }
}

extension DeadlineRecord {
    private static let insertSQL = PagodaStore.insertSQL(databaseTableName, [CodingKeys.ticketID, .clock, .dueAt])

    /// Inserts the row with a cached statement.
    func insertRow(_ db: Database) throws {
        try db.cachedStatement(sql: Self.insertSQL).execute(arguments: [ticketID, clock, dueAt])
    }
}

extension RejectionRecord {
    private static let insertSQL = PagodaStore.insertSQL(
        databaseTableName, [CodingKeys.amqpMessageID, .code, .reason, .body, .createdAt, .issuesJSON])
    private static let bodySQL =
        "SELECT body FROM \(databaseTableName) WHERE \(CodingKeys.amqpMessageID.stringValue) = ?"

    /// Inserts the row with a cached statement and sets `id`.
    mutating func insertRow(_ db: Database) throws {
        try db.cachedStatement(sql: Self.insertSQL)
            .execute(arguments: [amqpMessageID, code, reason, body, createdAt, issuesJSON])
        id = db.lastInsertedRowID
    }

    /// The body of the rejection recorded with this AMQP message id, or nil when there is none.
    static func body(amqpMessageID: String, _ db: Database) throws -> Data? {
        try Data.fetchOne(db.cachedStatement(sql: bodySQL), arguments: [amqpMessageID])
    }
}

extension OutboxRecord {
    private static let insertSQL = PagodaStore.insertSQL(
        databaseTableName,
        [
            CodingKeys.messageID, .ticketID, .rejectionID, .exchange, .routingKey, .contentType, .headersJSON,
            .body, .mandatory, .createdAt, .sentAt, .attempts, .extraRoutingKeys,
        ])

    /// Inserts the row with a cached statement, its arguments bound through SQLite's C API
    /// (`Database.executeRaw`: a timer batch inserts hundreds). `id` stays unset; nothing reads it.
    func insertRow(_ db: Database) throws {
        try db.executeRaw(Self.insertSQL) { b in
            b.bind(messageID)
            b.bind(ticketID)
            b.bind(rejectionID)
            b.bind(exchange)
            b.bind(routingKey)
            b.bind(contentType)
            b.bind(headersJSON)
            b.bind(blob: body)
            b.bind(mandatory)
            b.bind(createdAt)
            b.bind(sentAt)
            b.bind(attempts)
            b.bind(extraRoutingKeys)
        }
    }
}

extension EventRecord {
    private static let insertSQL = PagodaStore.insertSQL(
        databaseTableName, [CodingKeys.ticketID, .type, .at, .payloadJSON])

    /// Inserts the row with a cached statement and sets `id`.
    mutating func insertRow(_ db: Database) throws {
        try db.cachedStatement(sql: Self.insertSQL).execute(arguments: [ticketID, type, at, payloadJSON])
        id = db.lastInsertedRowID
    }
}
