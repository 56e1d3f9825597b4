import Foundation
import Logging
import PagodaStore
import PostgresNIO

// The lifecycle on PostgreSQL: states, timers, the command ledger and the timeline, as `DispatchStore` keeps
// them on SQLite.

extension PostgresStore {
    /// The tickets as received, by id (missing ids absent).
    public func ticketBodies(_ ticketIDs: [String]) async throws(StoreError) -> [String: [UInt8]] {
        if ticketIDs.isEmpty { return [:] }
        return try await read { [logger] conn in
            var out: [String: [UInt8]] = [:]
            for try await (id, body) in try await conn.query(
                "SELECT id, body FROM tickets WHERE id = ANY(\(ticketIDs)::text[])", logger: logger
            ).decode((String, Data).self) {
                out[id] = [UInt8](body)
            }
            return out
        }
    }

    /// The lifecycle states of the given tickets (missing ids absent); without `withTicket` the records'
    /// `ticketBody` is empty.
    public func lifecycle(_ ticketIDs: [String], withTicket: Bool = true) async throws(StoreError)
        -> [String: LifecycleRecord]
    {
        if ticketIDs.isEmpty { return [:] }
        return try await read { [logger] conn in
            var out: [String: LifecycleRecord] = [:]
            let query: PostgresQuery =
                withTicket
                ? """
                SELECT l.ticket_id, l.version, l.phase, l.unit_id, l.state, t.body
                FROM lifecycle l JOIN tickets t ON t.id = l.ticket_id WHERE l.ticket_id = ANY(\(ticketIDs)::text[])
                """
                : """
                SELECT ticket_id, version, phase, unit_id, state, NULL::bytea
                FROM lifecycle WHERE ticket_id = ANY(\(ticketIDs)::text[])
                """
            for try await (id, version, phase, unit, state, body) in try await conn.query(query, logger: logger)
                .decode((String, Int64, String, String?, Data, Data?).self)
            {
                out[id] = LifecycleRecord(
                    ticketID: id, version: Int(version), phase: phase, unitID: unit, state: [UInt8](state),
                    ticketBody: body.map { [UInt8]($0) } ?? [])
            }
            return out
        }
    }

    /// Timers due at or before `until`, by due time then ticket id (byte order), after `after`, at most `limit`.
    public func dueTimers(until: Date, after: DueTimer? = nil, limit: Int) async throws(StoreError) -> [DueTimer] {
        let from = after.map { (EpochMillis.from($0.dueAt), $0.ticketID) } ?? (Int64.min, "")
        let until = EpochMillis.from(until)
        return try await read { [logger] conn in
            var out: [DueTimer] = []
            for try await (id, due, token) in try await conn.query(
                """
                SELECT ticket_id, due_at, token FROM timers
                WHERE due_at <= \(until) AND (due_at, ticket_id) > (\(from.0), \(from.1)::text COLLATE "C")
                ORDER BY due_at, ticket_id LIMIT \(limit)
                """, logger: logger
            ).decode((String, Int64, Int64).self) {
                out.append(DueTimer(ticketID: id, dueAt: EpochMillis.date(due), token: Int(token)))
            }
            return out
        }
    }

    /// When the earliest timer falls due; nil when none is pending.
    public func nextTimerDue() async throws(StoreError) -> Date? {
        try await read { [logger] conn in
            let due = try await Self.one("SELECT min(due_at) FROM timers", Int64?.self, conn, logger)
            return due.flatMap { $0 }.map(EpochMillis.date)
        }
    }

    /// Tickets by holding unit and lifecycle phase, pending timers and those due by `now`, from one snapshot
    /// (one statement): the live overview of `pagoda serve`'s metrics.
    public func lifecycleOverview(now: Date) async throws(StoreError) -> LifecycleOverview {
        let now = EpochMillis.from(now)
        return try await read { [logger] conn in
            var overview = LifecycleOverview(timers: 0, timersDue: 0, tickets: [])
            for try await (unit, phase, count, timers, due) in try await conn.query(
                """
                WITH t AS (SELECT count(*) AS n, count(*) FILTER (WHERE due_at <= \(now)) AS due FROM timers)
                SELECT l.unit_id, l.phase, l.n, t.n, t.due
                FROM t LEFT JOIN (SELECT unit_id, phase, count(*) AS n FROM lifecycle GROUP BY unit_id, phase) l ON true
                """, logger: logger
            ).decode((String?, String?, Int64?, Int64, Int64).self) {
                overview.timers = Int(timers)
                overview.timersDue = Int(due)
                if let phase, let count { overview.tickets.append((unit, phase, Int(count))) }
            }
            return overview
        }
    }

    /// Writes a batch of lifecycle changes in ONE transaction (see `LifecycleStore`): a command id recorded
    /// before gives `.duplicateCommand`, a stored version other than the expected one `.conflict`, as does
    /// every later change of that ticket in the batch (both write nothing); otherwise the command id, the
    /// state and its timer (removed when nil), the ticket's phase and holder, the timeline rows and the
    /// outbox rows: `.applied`. On error nothing is written.
    public func applyLifecycle(_ changes: [LifecycleChange]) async throws(StoreError) -> [LifecycleOutcome] {
        if changes.isEmpty { return [] }
        return try await write { conn, logger in
            var outcomes: [LifecycleOutcome] = []
            outcomes.reserveCapacity(changes.count)
            var conflicted: Set<String> = []
            for change in changes {
                // A later change of a ticket whose change conflicted was computed on top of that one: it
                // conflicts too, or it would write the first one's effects without its rows.
                if conflicted.contains(change.ticketID) {
                    outcomes.append(.conflict)
                    continue
                }
                let outcome = try await Self.apply(change, conn, logger)
                if case .conflict = outcome { conflicted.insert(change.ticketID) }
                outcomes.append(outcome)
            }
            return outcomes
        }
    }

    private static func apply(_ change: LifecycleChange, _ conn: PostgresConnection, _ logger: Logger) async throws
        -> LifecycleOutcome
    {
        let at = EpochMillis.from(change.at)
        let id = change.ticketID
        if let c = change.command {
            let inserted = try await one(
                """
                INSERT INTO commands (command_id, ticket_id, type, outcome, at)
                VALUES (\(c.id), \(id), \(c.type), \(c.outcome), \(at)) ON CONFLICT DO NOTHING RETURNING 1
                """, Int32.self, conn, logger)
            if inserted == nil {
                let same = try await one(
                    "SELECT ticket_id = \(id) AND type = \(c.type) FROM commands WHERE command_id = \(c.id)", Bool.self,
                    conn, logger)
                return same == false ? .reusedCommandID : .duplicateCommand
            }
        }
        if let expected = change.expectedVersion {
            // The version check and the update are one statement: it changes the row only if the version is
            // still the one the change was computed from.
            let unchanged: Bool
            if let s = change.state {
                let k = s.console
                let due = k.dueAt.map(EpochMillis.from) ?? ConsoleColumns.noDeadline
                let query: PostgresQuery =
                    change.updatesTicket
                    ? try """
                    UPDATE lifecycle SET version = \(s.version), phase = \(s.phase), unit_id = \(s.unitID),
                      state = \(Data(s.state)), updated_at = \(at), light = \(k.light), due_at = \(due),
                      supervised = \(k.supervised), desk = \(k.desk), category = \(k.category), enterprise = \(k.enterprise)
                    WHERE ticket_id = \(id) AND version = \(expected) RETURNING 1
                    """
                    : try """
                    UPDATE lifecycle SET version = \(s.version), state = \(Data(s.state)), updated_at = \(at),
                      light = \(k.light), due_at = \(due), supervised = \(k.supervised), desk = \(k.desk),
                      category = \(k.category), enterprise = \(k.enterprise)
                    WHERE ticket_id = \(id) AND version = \(expected) RETURNING 1
                    """
                unchanged = try await one(query, Int32.self, conn, logger) != nil
            } else {
                unchanged =
                    try await one("SELECT version FROM lifecycle WHERE ticket_id = \(id)", Int64.self, conn, logger)
                    == Int64(expected)
            }
            guard unchanged else {
                if let c = change.command {
                    try await conn.perform("DELETE FROM commands WHERE command_id = \(c.id)", logger: logger)
                }
                return .conflict
            }
            if let s = change.state { try await writeTimer(id, s, conn, logger) }
        } else if let s = change.state {
            try await writeState(id, s, at: at, conn, logger)
        }
        if let s = change.state, change.updatesTicket {
            try await conn.perform(
                "UPDATE tickets SET state = \(s.phase), unit_id = \(s.unitID) WHERE id = \(id)", logger: logger)
        }
        if change.expectedVersion != nil {
            for e in change.events { try await insertEvent(id, e, conn, logger) }
        }
        for (m, fields) in zip(change.messages, change.outboxFields) {
            try await insertOutbox(
                m, fields, ticketID: change.expectedVersion != nil ? id : nil, rejectionID: nil, createdAt: at, conn,
                logger)
        }
        return .applied
    }

    /// Inserts or replaces the ticket's state, then its timer.
    static func writeState(_ ticketID: String, _ s: StateWrite, at: Int64, _ conn: PostgresConnection, _ logger: Logger)
        async throws
    {
        var rows = StateRows()
        try rows.add(ticketID, s, at: at)
        try await rows.perform(conn, logger)
    }

    /// Replaces the ticket's timer row (removes it when the state has no timer); its token is the version.
    static func writeTimer(_ ticketID: String, _ s: StateWrite, _ conn: PostgresConnection, _ logger: Logger)
        async throws
    {
        var rows = StateRows()
        try rows.addTimer(ticketID, s)
        try await rows.perform(conn, logger)
    }
}

/// Lifecycle states and their timers, written in three statements at most: the states, the timers of
/// those that have one (their token is the version), and the removal of the others' timers.
struct StateRows {
    private var states = PostgresRows(
        """
        INSERT INTO lifecycle (ticket_id, version, phase, unit_id, state, updated_at,
          light, due_at, supervised, desk, category, enterprise)
        """,
        """
        ON CONFLICT (ticket_id) DO UPDATE SET version = excluded.version, phase = excluded.phase,
          unit_id = excluded.unit_id, state = excluded.state, updated_at = excluded.updated_at,
          light = excluded.light, due_at = excluded.due_at, supervised = excluded.supervised, desk = excluded.desk,
          category = excluded.category, enterprise = excluded.enterprise
        """)
    private var timers = PostgresRows(
        "INSERT INTO timers (ticket_id, due_at, token)",
        "ON CONFLICT (ticket_id) DO UPDATE SET due_at = excluded.due_at, token = excluded.token")
    private var untimed: [String] = []

    mutating func add(_ ticketID: String, _ s: StateWrite, at: Int64) throws {
        let k = s.console
        try states.row {
            try $0.add(ticketID)
            try $0.add(s.version)
            try $0.add(s.phase)
            try $0.add(s.unitID)
            try $0.add(Data(s.state))
            try $0.add(at)
            try $0.add(k.light)
            try $0.add(k.dueAt.map(EpochMillis.from) ?? ConsoleColumns.noDeadline)
            try $0.add(k.supervised)
            try $0.add(k.desk)
            try $0.add(k.category)
            try $0.add(k.enterprise)
        }
        try addTimer(ticketID, s)
    }

    /// The timer alone (the state is written elsewhere).
    mutating func addTimer(_ ticketID: String, _ s: StateWrite) throws {
        if let due = s.timer {
            try timers.row {
                try $0.add(ticketID)
                try $0.add(EpochMillis.from(due))
                try $0.add(s.version)
            }
        } else {
            untimed.append(ticketID)
        }
    }

    func perform(_ conn: PostgresConnection, _ logger: Logger) async throws {
        try await states.perform(conn, logger)
        try await timers.perform(conn, logger)
        if !untimed.isEmpty {
            try await conn.perform("DELETE FROM timers WHERE ticket_id = ANY(\(untimed)::text[])", logger: logger)
        }
    }
}
