import Foundation
import Logging
import PagodaStore
import PostgresNIO

// What `pagoda show` and `pagoda report` read, as `DispatchStore.ticket(id:)`, `counts()` and
// `forEachEvent` give it on SQLite.

extension PostgresStore {
    /// The ticket with its decisions, deadlines, outbox messages and events, or nil if no such ticket was
    /// recorded; read from one snapshot. Throws `.corrupt` for stored values it cannot read.
    public func ticket(id: String) async throws(StoreError) -> TicketHistory? {
        try await read(snapshot: true) { [logger] conn in
            var ticket: (received: Int64, body: Data, state: String, unit: String?, created: Int64)?
            for try await row in try await conn.query(
                "SELECT received_at, body, state, unit_id, created_at FROM tickets WHERE id = \(id)", logger: logger
            ).decode((Int64, Data, String, String?, Int64).self) {
                ticket = row
            }
            guard let ticket else { return nil }
            var inbox: (seq: Int64, messageID: String?)?
            for try await row in try await conn.query(
                "SELECT dispatch_seq, amqp_message_id FROM inbox WHERE ticket_id = \(id)", logger: logger
            ).decode((Int64, String?).self) {
                inbox = row
            }
            var deadlines: [TicketHistory.Deadline] = []
            for try await (clock, due) in try await conn.query(
                "SELECT clock, due_at FROM deadlines WHERE ticket_id = \(id) ORDER BY due_at, clock", logger: logger
            ).decode((String, Int64).self) {
                deadlines.append(TicketHistory.Deadline(clock: clock, dueAt: EpochMillis.date(due)))
            }
            let deadlineMap = Dictionary(deadlines.map { ($0.clock, $0.dueAt) }, uniquingKeysWith: { a, _ in a })
            var decisions: [TicketHistory.Decision] = []
            for try await row in try await conn.query(
                """
                SELECT id, dispatch_seq, destination_type, unit_id, level, queue, rule_id, rule_file, rule_line,
                  rules_hash, sla_profile, category, urgency, decision_json, created_at
                FROM decisions WHERE ticket_id = \(id) ORDER BY id
                """, logger: logger)
            {
                let r = row.makeRandomAccess()
                let typeName = try r.at(2, String.self)
                guard let type = DecisionRow.DestinationType(rawValue: typeName) else {
                    throw StoreError(.corrupt, "unknown destination type \(typeName)")
                }
                decisions.append(
                    TicketHistory.Decision(
                        id: try r.at(0), dispatchSequence: try r.at(1),
                        createdAt: EpochMillis.date(try r.at(14)),
                        row: DecisionRow(
                            destinationType: type, unitID: try r.at(3), level: try r.at(4), queue: try r.at(5),
                            ruleID: try r.at(6), ruleFile: try r.at(7), ruleLine: Int(try r.at(8, Int64.self)),
                            rulesHash: try r.at(9), slaProfile: try r.at(10), category: try r.at(11),
                            urgency: try r.at(12), decisionJSON: [UInt8](try r.at(13, Data.self)),
                            deadlines: deadlineMap)))
            }
            let messages = try await Self.outboxEntries(
                """
                SELECT o.id, o.message_id, o.exchange, o.routing_key, o.content_type, o.headers_json, o.body,
                  o.mandatory, o.created_at, o.attempts, o.extra_routing_keys, NULL::bigint, NULL::bigint, o.sent_at
                FROM outbox o WHERE o.ticket_id = \(id) ORDER BY o.id
                """, withSentAt: true, conn, logger
            ).map { TicketHistory.Message(outbox: $0.entry, sentAt: $0.sentAt) }
            var events: [TicketHistory.Event] = []
            for try await (eventID, type, at, payload) in try await conn.query(
                "SELECT id, type, at, payload_json FROM events WHERE ticket_id = \(id) ORDER BY id", logger: logger
            ).decode((Int64, String, Int64, String).self) {
                events.append(
                    TicketHistory.Event(
                        id: eventID, type: type, at: EpochMillis.date(at), payloadJSON: Array(payload.utf8)))
            }
            return TicketHistory(
                ticket: TicketHistory.Ticket(
                    id: id, receivedAt: EpochMillis.date(ticket.received), body: [UInt8](ticket.body),
                    state: ticket.state, unitID: ticket.unit, createdAt: EpochMillis.date(ticket.created),
                    dispatchSequence: inbox?.seq ?? decisions.first?.dispatchSequence ?? 0,
                    amqpMessageID: inbox?.messageID),
                decisions: decisions, deadlines: deadlines, messages: messages, events: events)
        }
    }

    /// Row counts of every table, from one snapshot (one statement).
    public func counts() async throws(StoreError) -> StoreCounts {
        try await read { [logger] conn in
            var counts = StoreCounts()
            for try await row in try await conn.query(
                """
                SELECT
                  (SELECT count(*) FROM inbox), (SELECT count(*) FROM tickets), (SELECT count(*) FROM decisions),
                  (SELECT count(*) FROM deadlines), (SELECT count(*) FROM events), (SELECT count(*) FROM rejections),
                  (SELECT count(*) FROM outbox WHERE sent_at IS NULL), (SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL),
                  (SELECT last_value FROM sequences WHERE name = 'dispatch')
                """, logger: logger)
            {
                let r = row.makeRandomAccess()
                let n = try (0..<8).map { Int(try r.at($0, Int64.self)) }
                counts = StoreCounts(
                    inbox: n[0], tickets: n[1], decisions: n[2], deadlines: n[3], events: n[4], rejections: n[5],
                    outboxPending: n[6], outboxSent: n[7], lastDispatchSequence: try r.at(8, Int64.self))
            }
            return counts
        }
    }

    /// Every timeline row, in the order written, streamed from one statement (one snapshot) without holding
    /// them all; `body` returns false to stop. What `pagoda report` reads, as `DispatchStore.forEachEvent`
    /// gives it: the intake's own dispatch row (no `event` member) comes with its decision's unit, level and
    /// sign and resolve deadlines.
    public func forEachEvent(_ body: (DispatchStore.TimelineRow) -> Bool) async throws(StoreError) {
        try await read { [logger] conn in
            for try await row in try await conn.query(
                PostgresQuery(unsafeSQL: Self.timelineSelect + " ORDER BY e.id"), logger: logger)
            {
                if !body(try Self.timelineRow(row)) { break }
            }
        }
    }

    /// Up to `limit` timeline rows after row `id`, in the order written, as `forEachEvent` reads them: the
    /// console feeds them to its running reports.
    public func consoleEvents(after id: Int64, limit: Int) async throws(StoreError) -> [DispatchStore.TimelineRow] {
        try await read { [logger] conn in
            var bindings = PostgresBindings()
            bindings.append(id)
            bindings.append(Int64(limit))
            var out: [DispatchStore.TimelineRow] = []
            for try await row in try await conn.query(
                PostgresQuery(
                    unsafeSQL: Self.timelineSelect + " WHERE e.id > $1 ORDER BY e.id LIMIT $2", binds: bindings),
                logger: logger)
            {
                out.append(try Self.timelineRow(row))
            }
            return out
        }
    }

    /// The timeline's rows with, for the intake's own dispatch row (not starting `{"event":`, naming its
    /// sequence), its decision's unit, level and deadlines. Only those rows, which the store writes itself,
    /// are read as JSON: a lifecycle payload may quote a sender's key holding `\u0000`, which PostgreSQL's
    /// JSON functions refuse.
    private static let timelineSelect = """
        SELECT e.ticket_id, e.id, e.at, e.payload_json, d.unit_id, d.level, d.id,
          CASE WHEN d.id IS NOT NULL THEN
            (SELECT due_at FROM deadlines WHERE ticket_id = e.ticket_id AND clock = 'sign_by') END,
          CASE WHEN d.id IS NOT NULL THEN
            (SELECT due_at FROM deadlines WHERE ticket_id = e.ticket_id AND clock = 'resolve_by') END
        FROM events e
        LEFT JOIN decisions d ON d.ticket_id = e.ticket_id AND e.type = 'ticket.dispatched'
          AND left(e.payload_json, 9) <> '{"event":'
          AND (CASE WHEN e.type = 'ticket.dispatched' AND left(e.payload_json, 9) <> '{"event":'
                 THEN e.payload_json::json END) ->> 'dispatch_seq' = d.dispatch_seq::text
        """

    private static func timelineRow(_ row: PostgresRow) throws -> DispatchStore.TimelineRow {
        let r = row.makeRandomAccess()
        var t = DispatchStore.TimelineRow(
            ticketID: try r.at(0), rowID: try r.at(1), at: EpochMillis.date(try r.at(2)),
            json: Array(try r.at(3, String.self).utf8))
        if try r.at(6, Int64?.self) != nil {
            t.intakeDispatch = DispatchStore.IntakeDispatch(
                unitID: try r.at(4), level: try r.at(5),
                signBy: try r.at(7, Int64?.self).map(EpochMillis.date),
                resolveBy: try r.at(8, Int64?.self).map(EpochMillis.date))
        }
        return t
    }
}
