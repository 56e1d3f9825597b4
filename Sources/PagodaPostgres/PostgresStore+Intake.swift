import Foundation
import Logging
import PagodaStore
import PostgresNIO

// Intake and the outbox on PostgreSQL: what `DispatchStore`'s methods of the same names do on SQLite, row
// for row and byte for byte.

extension PostgresStore {
    /// Records a batch of processed intake deliveries in ONE transaction (see `IntakeStore`).
    ///
    /// A dispatch whose ticket id is in the inbox (from an earlier batch or earlier in this one) writes
    /// nothing: `.duplicate` with the first dispatch's sequence. Otherwise the next dispatch sequence, and the
    /// ticket, inbox, decision, deadlines, outbox, `ticket.dispatched` event rows and the first lifecycle
    /// state with its timer: `.recorded`. A rejection whose AMQP message id brought a dispatched ticket is
    /// `.duplicate` with that dispatch's sequence; one whose key is recorded is skipped
    /// (`.duplicateRejection`); otherwise its row and an outbox row referring to its body: `.rejected`. On
    /// any error nothing is written (`.constraint` for a repeated outbox message id, storage failures).
    public func recordDispatches(_ items: [IntakeRecord]) async throws(StoreError) -> [IntakeOutcome] {
        if items.isEmpty { return [] }
        return try await write { conn, logger in try await Self.insert(items, conn, logger) }
    }

    private static func insert(_ items: [IntakeRecord], _ conn: PostgresConnection, _ logger: Logger) async throws
        -> [IntakeOutcome]
    {
        var first: Int64?
        for try await v in try await conn.query(
            "SELECT last_value FROM sequences WHERE name = 'dispatch'", logger: logger
        ).decode(Int64.self) {
            first = v
        }
        guard let first else { throw StoreError(.corrupt, "dispatch sequence row is missing") }
        // The batch's tickets already in the inbox, in one read; a ticket twice in the batch is a duplicate
        // of its first dispatch here.
        var seen: [String: Int64] = [:]
        let ids = items.compactMap { item -> String? in
            if case .dispatch(let d) = item { return d.ticketID }
            return nil
        }
        if !ids.isEmpty {
            for try await (id, seq) in try await conn.query(
                "SELECT ticket_id, dispatch_seq FROM inbox WHERE ticket_id = ANY(\(ids)::text[])", logger: logger
            ).decode((String, Int64).self) {
                seen[id] = seq
            }
        }
        var sequence = first
        var outcomes: [IntakeOutcome] = []
        outcomes.reserveCapacity(items.count)
        var dispatches: [(TicketDispatch, Int64)] = []
        for item in items {
            switch item {
            case .dispatch(let dispatch):
                if let earlier = seen[dispatch.ticketID] {
                    outcomes.append(.duplicate(dispatchSequence: earlier))
                    continue
                }
                sequence += 1
                seen[dispatch.ticketID] = sequence
                dispatches.append((dispatch, sequence))
                outcomes.append(.recorded(dispatchSequence: sequence))
            case .rejection(var rejection):
                // The dispatches before it first: the outbox keeps the batch's order.
                try await insert(dispatches, conn, logger)
                dispatches.removeAll()
                // A message already dispatched came back (as poison, or its body reads otherwise now): the
                // same message id with the same bytes.
                if let messageID = rejection.amqpMessageID,
                    let earlier = try await one(
                        """
                        SELECT i.dispatch_seq FROM inbox i JOIN tickets t ON t.id = i.ticket_id
                        WHERE i.amqp_message_id = \(messageID) AND t.body = \(Data(rejection.body)) LIMIT 1
                        """, Int64.self, conn, logger)
                {
                    outcomes.append(.duplicate(dispatchSequence: earlier))
                    continue
                }
                // The same message again is a duplicate; another body under its id is a rejection of its own.
                func storedBody(_ key: String) async throws -> Data? {
                    try await one("SELECT body FROM rejections WHERE amqp_message_id = \(key)", Data.self, conn, logger)
                }
                if let messageID = rejection.amqpMessageID, let body = try await storedBody(messageID) {
                    rejection = rejection.keyedByBody
                    var seen = body == Data(rejection.body)
                    if !seen { seen = try await storedBody(rejection.amqpMessageID!) != nil }
                    if seen {
                        outcomes.append(.duplicateRejection)
                        continue
                    }
                }
                let at = EpochMillis.from(rejection.at)
                let query: PostgresQuery = try """
                INSERT INTO rejections (amqp_message_id, code, reason, body, created_at, issues_json)
                VALUES (\(rejection.amqpMessageID), \(rejection.code), \(rejection.reason), \(Data(rejection.body)),
                        \(at), \(rejection.issuesJSON))
                RETURNING id
                """
                guard let id = try await one(query, Int64.self, conn, logger) else {
                    throw StoreError(.internal, "rejection insert returned no id")
                }
                // The body is kept once, in the rejection: the outbox row refers to it.
                var message = rejection.message
                message.body = []
                try await insertOutbox(
                    message, OutboxFields(message), ticketID: nil, rejectionID: id, createdAt: at, conn, logger)
                outcomes.append(.rejected(id: id))
            }
        }
        try await insert(dispatches, conn, logger)
        if sequence != first {
            try await conn.perform(
                "UPDATE sequences SET last_value = \(sequence) WHERE name = 'dispatch'", logger: logger)
        }
        return outcomes
    }

    /// Writes new dispatches with one statement per table (the tickets first: the other rows refer to
    /// them), and one round trip per ticket for its repeat keys (a repeat within the batch is found).
    private static func insert(
        _ dispatches: [(TicketDispatch, Int64)], _ conn: PostgresConnection, _ logger: Logger
    ) async throws {
        if dispatches.isEmpty { return }
        var tickets = PostgresRows("INSERT INTO tickets (id, received_at, body, state, unit_id, created_at)")
        var inbox = PostgresRows("INSERT INTO inbox (ticket_id, amqp_message_id, dispatch_seq, received_at)")
        var decisions = PostgresRows(
            """
            INSERT INTO decisions (ticket_id, dispatch_seq, destination_type, unit_id, level, queue, rule_id, rule_file,
              rule_line, rules_hash, sla_profile, category, urgency, decision_json, created_at)
            """)
        var deadlines = PostgresRows("INSERT INTO deadlines (ticket_id, clock, due_at)")
        var outbox = OutboxRows()
        var events = EventRows()
        var states = StateRows()
        for (dispatch, _) in dispatches {
            try tickets.row {
                try $0.add(dispatch.ticketID)
                try $0.add(EpochMillis.from(dispatch.receivedAt))
                try $0.add(Data(dispatch.ticketJSON))
                $0.literal("'dispatched'")
                try $0.add(dispatch.decision.unitID)
                try $0.add(EpochMillis.from(dispatch.at))
            }
        }
        try await tickets.perform(conn, logger)
        // The other rows in the order the tickets came, each ticket's lifecycle after its dispatch.
        for (dispatch, sequence) in dispatches {
            let at = EpochMillis.from(dispatch.at)
            let received = EpochMillis.from(dispatch.receivedAt)
            let decision = dispatch.decision
            let id = dispatch.ticketID
            try inbox.row {
                try $0.add(id)
                try $0.add(dispatch.amqpMessageID)
                try $0.add(sequence)
                try $0.add(received)
            }
            try decisions.row {
                try $0.add(id)
                try $0.add(sequence)
                try $0.add(decision.destinationType.rawValue)
                try $0.add(decision.unitID)
                try $0.add(decision.level)
                try $0.add(decision.queue)
                try $0.add(decision.ruleID)
                try $0.add(decision.ruleFile)
                try $0.add(decision.ruleLine)
                try $0.add(decision.rulesHash)
                try $0.add(decision.slaProfile)
                try $0.add(decision.category)
                try $0.add(decision.urgency)
                try $0.add(Data(decision.decisionJSON))
                try $0.add(at)
            }
            for (clock, due) in decision.deadlines.sorted(by: { $0.key < $1.key }) {
                try deadlines.row {
                    try $0.add(id)
                    try $0.add(clock)
                    try $0.add(EpochMillis.from(due))
                }
            }
            let messages = dispatch.messages(sequence)
            for message in messages { try outbox.add(message, ticketID: id, createdAt: at) }
            try events.add(
                id,
                EventWrite(
                    type: "ticket.dispatched", at: dispatch.at,
                    payloadJSON: DispatchedEventPayload.json(
                        sequence: sequence, decision: decision, messageIDs: messages.map(\.messageID))))
            guard let start = dispatch.lifecycle else { continue }
            let match = try await matchRepeat(
                ticketID: id, keys: dispatch.repeatKeys, receivedAt: dispatch.receivedAt,
                window: dispatch.repeatWindow, conn, logger)
            let life = start(match)
            try states.add(id, life.state, at: at)
            for e in life.events { try events.add(id, e) }
            for m in life.messages { try outbox.add(m, ticketID: id, createdAt: at) }
        }
        for rows in [inbox, decisions, deadlines, outbox.rows, events.rows] { try await rows.perform(conn, logger) }
        try await states.perform(conn, logger)
    }

    /// Within a dispatch transaction: the most recent earlier ticket sharing one of `keys` received in
    /// `window` before `receivedAt` (`RepeatMatch.latest`); then records the new
    /// ticket's keys. One round trip: the statement's insert is not visible to its own read, which skips the
    /// ticket anyway.
    static func matchRepeat(
        ticketID: String, keys: [String], receivedAt: Date, window: TimeInterval, _ conn: PostgresConnection,
        _ logger: Logger
    ) async throws -> RepeatMatch? {
        guard !keys.isEmpty else { return nil }
        let at = EpochMillis.from(receivedAt)
        let from = EpochMillis.from(receivedAt.addingTimeInterval(-window))
        var found: [(ticketID: String, at: Int64, key: String)] = []
        for try await (other, t, key) in try await conn.query(
            """
            WITH recorded AS (
              INSERT INTO repeat_keys (key, received_at, ticket_id)
              SELECT DISTINCT k, \(at)::bigint, \(ticketID) FROM unnest(\(keys)::text[]) AS x(k)
              ON CONFLICT DO NOTHING)
            SELECT r.ticket_id, r.received_at, x.k
            FROM unnest(\(keys)::text[]) WITH ORDINALITY AS x(k, n)
            CROSS JOIN LATERAL (
              SELECT ticket_id, received_at FROM repeat_keys
              WHERE key = x.k AND received_at BETWEEN \(from) AND \(at) AND ticket_id <> \(ticketID)
              ORDER BY received_at DESC LIMIT 1) r
            ORDER BY x.n
            """, logger: logger
        ).decode((String, Int64, String).self) {
            found.append((other, t, key))
        }
        return RepeatMatch.latest(of: found)
    }

    static func insertOutbox(
        _ message: OutboxMessage, _ fields: OutboxFields, ticketID: String?, rejectionID: Int64?, createdAt: Int64,
        _ conn: PostgresConnection, _ logger: Logger
    ) async throws {
        var rows = OutboxRows()
        try rows.add(message, fields, ticketID: ticketID, rejectionID: rejectionID, createdAt: createdAt)
        try await rows.rows.perform(conn, logger)
    }

    /// A timeline row of the ticket.
    static func insertEvent(_ ticketID: String, _ e: EventWrite, _ conn: PostgresConnection, _ logger: Logger)
        async throws
    {
        var rows = EventRows()
        try rows.add(ticketID, e)
        try await rows.rows.perform(conn, logger)
    }

    /// The first value of the first row, or nil when there is none.
    static func one<T: PostgresDecodable & Sendable>(
        _ query: PostgresQuery, _ type: T.Type, _ conn: PostgresConnection, _ logger: Logger
    ) async throws -> T? {
        var value: T?
        for try await v in try await conn.query(query, logger: logger).decode(T.self) where value == nil {
            value = v
        }
        return value
    }

    // MARK: - Outbox

    /// Unsent outbox entries with an id above `cursor`, oldest first, at most `limit` (see `OutboxStore`); a
    /// rejection's row carries its rejection's body. Throws `.invalidArgument` for a negative limit.
    public func pendingOutbox(after cursor: Int64, limit: Int) async throws(StoreError) -> [OutboxEntry] {
        guard limit >= 0 else { throw StoreError(.invalidArgument, "limit must be >= 0, got \(limit)") }
        if limit == 0 { return [] }
        return try await read { [logger] conn in
            try await Self.outboxEntries(
                """
                SELECT o.id, o.message_id, o.exchange, o.routing_key, o.content_type, o.headers_json,
                  coalesce(r.body, o.body), o.mandatory, o.created_at, o.attempts, o.extra_routing_keys,
                  o.rejection_id, r.id
                FROM outbox o LEFT JOIN rejections r ON r.id = o.rejection_id
                WHERE o.sent_at IS NULL AND o.id > \(cursor) ORDER BY o.id LIMIT \(limit)
                """, conn, logger
            ).map(\.entry)
        }
    }

    /// Reads outbox rows (the columns `pendingOutbox` selects, then `sent_at` when asked) as entries.
    static func outboxEntries(
        _ query: PostgresQuery, withSentAt: Bool = false, _ conn: PostgresConnection, _ logger: Logger
    ) async throws -> [(entry: OutboxEntry, sentAt: Date?)] {
        var out: [(OutboxEntry, Date?)] = []
        for try await row in try await conn.query(query, logger: logger) {
            let r = row.makeRandomAccess()
            let (id, messageID, exchange, routingKey) = try (
                r.at(0, Int64.self), r.at(1, String.self), r.at(2, String.self), r.at(3, String.self)
            )
            let (contentType, headersJSON, body, mandatory) = try (
                r.at(4, String.self), r.at(5, String.self), r.at(6, Data.self), r.at(7, Bool.self)
            )
            let (createdAt, attempts, keys) = try (r.at(8, Int64.self), r.at(9, Int64.self), r.at(10, String?.self))
            if let rejectionID = try r.at(11, Int64?.self), try r.at(12, Int64?.self) == nil {
                throw StoreError(.corrupt, "outbox row \(id) refers to rejection \(rejectionID), which is missing")
            }
            let sentAt: Date? = withSentAt ? try r.at(13, Int64?.self).map(EpochMillis.date) : nil
            let entry = OutboxEntry(
                id: id,
                message: OutboxMessage(
                    exchange: exchange, routingKey: routingKey, messageID: messageID, contentType: contentType,
                    headers: try JSONText.decodeStrings(headersJSON), body: [UInt8](body), mandatory: mandatory,
                    extraRoutingKeys: try keys.map { s throws(StoreError) in try JSONText.decodeStringArray(s) } ?? []),
                createdAt: EpochMillis.date(createdAt), attempts: Int(attempts))
            out.append((entry, sentAt))
        }
        return out
    }

    /// Marks entries confirmed by the broker, in one transaction; rows already sent keep their first
    /// `sent_at`, unknown ids are ignored. Returns how many changed from unsent to sent. Committed without
    /// waiting for the WAL flush (`synchronous_commit = off`): the next intake commit's flush covers it.
    @discardableResult
    public func markSent(_ ids: [Int64], at: Date) async throws(StoreError) -> Int {
        if ids.isEmpty { return 0 }
        let sentAt = EpochMillis.from(at)
        return try await write(synchronousCommit: false) { conn, logger in
            var changed = 0
            for try await _ in try await conn.query(
                "UPDATE outbox SET sent_at = \(sentAt) WHERE id = ANY(\(ids)::bigint[]) AND sent_at IS NULL RETURNING id",
                logger: logger)
            {
                changed += 1
            }
            return changed
        }
    }

    /// How many outbox entries are not yet marked sent.
    public func outboxBacklog() async throws(StoreError) -> Int {
        try await read { [logger] conn in
            Int(try await Self.one("SELECT count(*) FROM outbox WHERE sent_at IS NULL", Int64.self, conn, logger) ?? 0)
        }
    }

    /// Deletes up to `limit` outbox rows the broker confirmed before `sentBefore`, oldest first, in one short
    /// transaction; returns how many (fewer than `limit`: none of that age is left). Unsent rows are never
    /// deleted; what a row held stays in its own tables. Throws `.invalidArgument` for a limit below 1.
    @discardableResult
    public func pruneSentOutbox(sentBefore: Date, limit: Int = 500) async throws(StoreError) -> Int {
        guard limit >= 1 else { throw StoreError(.invalidArgument, "limit must be >= 1, got \(limit)") }
        let cutoff = EpochMillis.from(sentBefore)
        return try await write(synchronousCommit: false) { conn, logger in
            var deleted = 0
            for try await _ in try await conn.query(
                """
                DELETE FROM outbox WHERE id IN (
                  SELECT id FROM outbox
                  WHERE id < coalesce((SELECT id FROM outbox WHERE created_at >= \(cutoff) ORDER BY id LIMIT 1),
                                      9223372036854775807)
                    AND sent_at IS NOT NULL AND sent_at < \(cutoff)
                  ORDER BY id LIMIT \(limit))
                RETURNING id
                """, logger: logger)
            {
                deleted += 1
            }
            return deleted
        }
    }
}

extension PostgresRandomAccessRow {
    /// The value of column `index`, decoded as `T`.
    func at<T: PostgresDecodable>(_ index: Int, _ type: T.Type = T.self) throws -> T {
        try self[index].decode(T.self)
    }
}

/// Outbox rows written in one statement.
struct OutboxRows {
    var rows = PostgresRows(
        """
        INSERT INTO outbox (message_id, ticket_id, rejection_id, exchange, routing_key, content_type, headers_json,
          body, mandatory, created_at, sent_at, attempts, extra_routing_keys)
        """)

    mutating func add(
        _ message: OutboxMessage, _ fields: OutboxFields? = nil, ticketID: String?, rejectionID: Int64? = nil,
        createdAt: Int64
    ) throws {
        let fields = fields ?? OutboxFields(message)
        try rows.row {
            try $0.add(message.messageID)
            try $0.add(ticketID)
            try $0.add(rejectionID)
            try $0.add(message.exchange)
            try $0.add(message.routingKey)
            try $0.add(message.contentType)
            try $0.add(fields.headersJSON)
            try $0.add(fields.body)
            try $0.add(message.mandatory)
            try $0.add(createdAt)
            $0.literal("NULL")
            $0.literal("0")
            try $0.add(fields.extraRoutingKeys)
        }
    }
}

/// Timeline rows written in one statement.
struct EventRows {
    var rows = PostgresRows("INSERT INTO events (ticket_id, type, at, payload_json)")

    mutating func add(_ ticketID: String, _ e: EventWrite) throws {
        try rows.row {
            try $0.add(ticketID)
            try $0.add(e.type)
            try $0.add(EpochMillis.from(e.at))
            try $0.add(e.payloadJSON)
        }
    }
}
