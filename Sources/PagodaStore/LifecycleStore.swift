import Foundation
import GRDB

/// A ticket's stored lifecycle state, with the ticket as received (for messages that carry it).
public struct LifecycleRecord: Sendable, Hashable {
    public var ticketID: String
    public var version: Int
    public var phase: String
    public var unitID: String?
    /// The lifecycle engine's encoding of its state; opaque to the store.
    public var state: [UInt8]
    public var ticketBody: [UInt8]

    public init(ticketID: String, version: Int, phase: String, unitID: String?, state: [UInt8], ticketBody: [UInt8]) {
        self.ticketID = ticketID
        self.version = version
        self.phase = phase
        self.unitID = unitID
        self.state = state
        self.ticketBody = ticketBody
    }
}

/// Counts for a live overview (`DispatchStore.lifecycleOverview`).
public struct LifecycleOverview: Sendable {
    public var timers: Int
    /// Timers due by the time asked for: work the lifecycle loop has not done yet.
    public var timersDue: Int
    /// (holding unit, phase, tickets); the unit is nil for tickets handed off.
    public var tickets: [(unit: String?, phase: String, count: Int)]

    package init(timers: Int, timersDue: Int, tickets: [(unit: String?, phase: String, count: Int)]) {
        self.timers = timers
        self.timersDue = timersDue
        self.tickets = tickets
    }
}

/// A new or changed lifecycle state and the ticket's next timer.
public struct StateWrite: Sendable, Hashable {
    public var version: Int
    public var phase: String
    public var unitID: String?
    public var state: [UInt8]
    /// When the ticket next needs attention, or nil for no timer; the timer's token is `version`.
    public var timer: Date?
    /// What the console's read model keeps of the state (light, nearest deadline, desk...).
    public var console: ConsoleColumns

    public init(
        version: Int, phase: String, unitID: String?, state: [UInt8], timer: Date?,
        console: ConsoleColumns = ConsoleColumns()
    ) {
        self.version = version
        self.phase = phase
        self.unitID = unitID
        self.state = state
        self.timer = timer
        self.console = console
    }
}

/// One row of a ticket's timeline.
public struct EventWrite: Sendable, Hashable {
    public var type: String
    public var at: Date
    public var payloadJSON: String

    public init(type: String, at: Date, payloadJSON: String) {
        self.type = type
        self.at = at
        self.payloadJSON = payloadJSON
    }
}

/// What one command or timer did to one ticket, written in one transaction with others.
public struct LifecycleChange: Sendable {
    public var ticketID: String
    /// The state version the change was computed from; the change is refused as a conflict when the
    /// stored version differs. Nil for a ticket without a state row (a command about an unknown ticket).
    public var expectedVersion: Int?
    /// The new state; nil leaves it as it is.
    public var state: StateWrite?
    /// Timeline rows (only for tickets the store knows).
    public var events: [EventWrite]
    public var messages: [OutboxMessage] { didSet { outboxFields = messages.map(OutboxFields.init) } }
    /// The messages' stored forms, made with the change (on the thread that computes it) rather than in
    /// the commit, which is the timer loop's narrower stage.
    package private(set) var outboxFields: [OutboxFields]
    /// The command's idempotency key: a key already recorded makes the whole change a no-op.
    public var command: (id: String, type: String, outcome: String)?
    public var at: Date
    /// The new phase or holder differs from the stored one: write them to the state row and to the
    /// ticket's row. False only when neither changed since the version the change was computed from.
    public var updatesTicket: Bool

    public init(
        ticketID: String, expectedVersion: Int?, state: StateWrite?, events: [EventWrite], messages: [OutboxMessage],
        command: (id: String, type: String, outcome: String)?, at: Date, updatesTicket: Bool = true
    ) {
        self.updatesTicket = updatesTicket
        self.ticketID = ticketID
        self.expectedVersion = expectedVersion
        self.state = state
        self.events = events
        self.messages = messages
        self.outboxFields = messages.map(OutboxFields.init)
        self.command = command
        self.at = at
    }
}

/// How `applyLifecycle` treated one change.
public enum LifecycleOutcome: Sendable, Hashable {
    case applied
    /// The command id was recorded before, for this ticket and this type of command: nothing written.
    case duplicateCommand
    /// The command id was recorded before for another ticket or another type of command: not the same
    /// command, so not a duplicate; nothing written (the caller refuses it).
    case reusedCommandID
    /// The stored state moved on since it was read: nothing written; read again and recompute.
    case conflict
}

/// A timer that fell due.
public struct DueTimer: Sendable, Hashable {
    public var ticketID: String
    public var dueAt: Date
    public var token: Int

    public init(ticketID: String, dueAt: Date, token: Int) {
        self.ticketID = ticketID
        self.dueAt = dueAt
        self.token = token
    }
}

/// The first lifecycle state of a newly dispatched ticket, written with its dispatch.
public struct LifecycleStart: Sendable {
    public var state: StateWrite
    public var events: [EventWrite]
    public var messages: [OutboxMessage]

    public init(state: StateWrite, events: [EventWrite], messages: [OutboxMessage]) {
        self.state = state
        self.events = events
        self.messages = messages
    }
}

/// The latest earlier ticket sharing a repeat key with a new one.
public struct RepeatMatch: Sendable, Hashable {
    public var ticketID: String
    public var key: String
    /// Whether some earlier ticket in the window shares the enterprise's credit key: the enterprise raises
    /// the same matter again, even when the latest earlier ticket was found by the caller's phone.
    public var enterpriseRepeat: Bool

    public static let creditPrefix = "credit:"

    public init(ticketID: String, key: String, enterpriseRepeat: Bool? = nil) {
        self.ticketID = ticketID
        self.key = key
        self.enterpriseRepeat = enterpriseRepeat ?? key.hasPrefix(Self.creditPrefix)
    }

    /// The latest of the earlier tickets found under the new ticket's keys (on equal receipt times, the one
    /// found by the credit key); nil when none was found.
    package static func latest(of found: [(ticketID: String, at: Int64, key: String)]) -> RepeatMatch? {
        func rank(_ f: (ticketID: String, at: Int64, key: String)) -> (Int64, Int) {
            (f.at, f.key.hasPrefix(creditPrefix) ? 1 : 0)
        }
        guard let best = found.max(by: { rank($0) < rank($1) }) else { return nil }
        return RepeatMatch(
            ticketID: best.ticketID, key: best.key,
            enterpriseRepeat: found.contains { $0.key.hasPrefix(creditPrefix) })
    }
}

extension DispatchStore {
    /// The tickets as received, by id (missing ids are absent).
    public func ticketBodies(_ ticketIDs: [String]) throws(StoreError) -> [String: [UInt8]] {
        try storeOperation { try pool.read(Self.bodies(ticketIDs)) }
    }

    /// `ticketBodies` on a reader connection's queue, awaited without blocking a thread.
    public func ticketBodies(_ ticketIDs: [String]) async throws(StoreError) -> [String: [UInt8]] {
        try await storeOperation { try await pool.read(Self.bodies(ticketIDs)) }
    }

    private static func bodies(_ ticketIDs: [String]) -> @Sendable (Database) throws -> [String: [UInt8]] {
        { db in
            var out: [String: [UInt8]] = [:]
            for id in ticketIDs {
                if let body = try Data.fetchOne(
                    db.cachedStatement(sql: "SELECT body FROM tickets WHERE id = ?"), arguments: [id])
                {
                    out[id] = [UInt8](body)
                }
            }
            return out
        }
    }

    /// The lifecycle states of the given tickets (missing ids are absent from the result); with
    /// `withTicket: false` the records' `ticketBody` is empty.
    public func lifecycle(_ ticketIDs: [String], withTicket: Bool = true) throws(StoreError) -> [String:
        LifecycleRecord]
    {
        if ticketIDs.isEmpty { return [:] }
        return try storeOperation { try pool.read(Self.states(ticketIDs, withTicket: withTicket)) }
    }

    /// `lifecycle(_:withTicket:)` on a reader connection's queue, awaited without blocking a thread.
    public func lifecycle(_ ticketIDs: [String], withTicket: Bool = true) async throws(StoreError)
        -> [String: LifecycleRecord]
    {
        if ticketIDs.isEmpty { return [:] }
        return try await storeOperation { try await pool.read(Self.states(ticketIDs, withTicket: withTicket)) }
    }

    private static func states(_ ticketIDs: [String], withTicket: Bool)
        -> @Sendable (Database) throws -> [String: LifecycleRecord]
    {
        { db in
            var out: [String: LifecycleRecord] = [:]
            for chunk in stride(from: 0, to: ticketIDs.count, by: 500).map({
                Array(ticketIDs[$0..<min($0 + 500, ticketIDs.count)])
            }) {
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                let sql =
                    withTicket
                    ? "SELECT l.ticket_id, l.version, l.phase, l.unit_id, l.state, t.body FROM lifecycle l JOIN tickets t ON t.id = l.ticket_id WHERE l.ticket_id IN (\(marks))"
                    : "SELECT ticket_id, version, phase, unit_id, state FROM lifecycle WHERE ticket_id IN (\(marks))"
                // Bound and read through SQLite's C API (`queryRaw`): the timer loop reads 500 states a batch,
                // whose statement is kept; other lengths are prepared each time.
                try db.queryRaw(
                    sql, cached: chunk.count == 500, { b in for id in chunk { b.bind(id) } },
                    row: { r in
                        let id = r.text(0) ?? ""
                        out[id] = LifecycleRecord(
                            ticketID: id, version: Int(r.int(1)), phase: r.text(2) ?? "", unitID: r.text(3),
                            state: r.bytes(4), ticketBody: withTicket ? r.bytes(5) : [])
                    })
            }
            return out
        }
    }

    /// Timers due at or before `until`, earliest first (by due time, then ticket id), at most `limit`;
    /// with `after`, only those that come after that timer in this order (the next page of a burst).
    public func dueTimers(until: Date, after: DueTimer? = nil, limit: Int) throws(StoreError) -> [DueTimer] {
        try storeOperation { try pool.read(Self.due(until: until, after: after, limit: limit)) }
    }

    /// `dueTimers` on a reader connection's queue, awaited without blocking a thread.
    public func dueTimers(until: Date, after: DueTimer? = nil, limit: Int) async throws(StoreError) -> [DueTimer] {
        try await storeOperation { try await pool.read(Self.due(until: until, after: after, limit: limit)) }
    }

    private static func due(until: Date, after: DueTimer?, limit: Int) -> @Sendable (Database) throws -> [DueTimer] {
        { db in
            // In (due_at, ticket_id) order through that index; without `after`, from before the first
            // (ticket ids are never empty).
            let from = after.map { (EpochMillis.from($0.dueAt), $0.ticketID) } ?? (Int64.min, "")
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT ticket_id, due_at, token FROM timers WHERE due_at <= ? AND (due_at, ticket_id) > (?, ?)
                    ORDER BY due_at, ticket_id LIMIT ?
                    """, arguments: [EpochMillis.from(until), from.0, from.1, limit])
            return rows.map { DueTimer(ticketID: $0[0], dueAt: EpochMillis.date($0[1]), token: $0[2]) }
        }
    }

    /// When the earliest timer falls due, or nil when none is pending.
    public func nextTimerDue() throws(StoreError) -> Date? {
        try storeOperation { try pool.read(Self.earliestDue) }
    }

    /// `nextTimerDue` on a reader connection's queue, awaited without blocking a thread.
    public func nextTimerDue() async throws(StoreError) -> Date? {
        try await storeOperation { try await pool.read(Self.earliestDue) }
    }

    @Sendable private static func earliestDue(_ db: Database) throws -> Date? {
        try Int64.fetchOne(db, sql: "SELECT MIN(due_at) FROM timers").map(EpochMillis.date)
    }

    /// Number of pending timers and of tickets by lifecycle phase.
    public func lifecycleCounts() throws(StoreError) -> (timers: Int, phases: [String: Int]) {
        try storeOperation {
            try pool.read { db in
                let timers = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM timers") ?? 0
                var phases: [String: Int] = [:]
                for r in try Row.fetchAll(db, sql: "SELECT phase, COUNT(*) FROM lifecycle GROUP BY phase") {
                    phases[r[0]] = r[1]
                }
                return (timers, phases)
            }
        }
    }

    /// Tickets by holding unit and lifecycle phase (from the `lifecycle_unit` index), pending timers and
    /// those due by `now`, from one consistent snapshot: the live overview of `pagoda serve`'s metrics.
    public func lifecycleOverview(now: Date) throws(StoreError) -> LifecycleOverview {
        try storeOperation { try pool.read(Self.overview(now: now)) }
    }

    /// `lifecycleOverview` on a reader connection's queue, awaited without blocking a thread.
    public func lifecycleOverview(now: Date) async throws(StoreError) -> LifecycleOverview {
        try await storeOperation { try await pool.read(Self.overview(now: now)) }
    }

    private static func overview(now: Date) -> @Sendable (Database) throws -> LifecycleOverview {
        { db in
            let timers = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM timers") ?? 0
            let due =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM timers WHERE due_at <= ?", arguments: [EpochMillis.from(now)]) ?? 0
            let rows = try Row.fetchAll(
                db, sql: "SELECT unit_id, phase, COUNT(*) FROM lifecycle GROUP BY unit_id, phase")
            return LifecycleOverview(timers: timers, timersDue: due, tickets: rows.map { ($0[0], $0[1], $0[2]) })
        }
    }

    /// One timeline row, as `forEachEvent` reads it.
    public struct TimelineRow: Sendable {
        public var ticketID: String
        public var rowID: Int64
        public var at: Date
        /// The event as JSON: the event message for lifecycle rows; for the intake's dispatch row, the
        /// store's own summary (no `event` member), which `intakeDispatch` stands in for.
        public var json: [UInt8]
        /// For the intake's dispatch row: the unit, level and deadlines of the decision it recorded.
        public var intakeDispatch: IntakeDispatch?

        package init(ticketID: String, rowID: Int64, at: Date, json: [UInt8], intakeDispatch: IntakeDispatch? = nil) {
            self.ticketID = ticketID
            self.rowID = rowID
            self.at = at
            self.json = json
            self.intakeDispatch = intakeDispatch
        }
    }

    public struct IntakeDispatch: Sendable, Hashable {
        public var unitID: String?
        public var level: String?
        public var signBy: Date?
        public var resolveBy: Date?

        package init(unitID: String?, level: String?, signBy: Date?, resolveBy: Date?) {
            self.unitID = unitID
            self.level = level
            self.signBy = signBy
            self.resolveBy = resolveBy
        }
    }

    /// Every timeline row, in one snapshot and without holding them all, in the order written (so each
    /// ticket's rows in time order; the table is read front to back). `body` returns false to stop.
    /// What `pagoda report` reads.
    public func forEachEvent(_ body: (TimelineRow) -> Bool) throws(StoreError) {
        try storeOperation {
            struct Stop: Error {}
            try pool.read { db in
                do {
                    // The intake's dispatch row is the only one without `event`; its decision and deadlines
                    // are looked up for it alone.
                    try db.queryRaw(
                        """
                        SELECT e.ticket_id, e.id, e.at, e.payload_json, d.unit_id, d.level, d.id,
                          CASE WHEN d.id IS NOT NULL THEN (SELECT due_at FROM deadlines WHERE ticket_id = e.ticket_id AND clock = 'sign_by') END,
                          CASE WHEN d.id IS NOT NULL THEN (SELECT due_at FROM deadlines WHERE ticket_id = e.ticket_id AND clock = 'resolve_by') END
                        FROM events e
                        LEFT JOIN decisions d ON e.type = 'ticket.dispatched' AND json_extract(e.payload_json, '$.event') IS NULL
                          AND d.ticket_id = e.ticket_id AND d.dispatch_seq = json_extract(e.payload_json, '$.dispatch_seq')
                        ORDER BY e.id
                        """, cached: false, { _ in }
                    ) { row in
                        var r = TimelineRow(
                            ticketID: row.text(0) ?? "", rowID: row.int(1), at: EpochMillis.date(row.int(2)),
                            json: row.bytes(3))
                        if row.optionalInt(6) != nil {
                            r.intakeDispatch = IntakeDispatch(
                                unitID: row.text(4), level: row.text(5),
                                signBy: row.optionalInt(7).map(EpochMillis.date),
                                resolveBy: row.optionalInt(8).map(EpochMillis.date))
                        }
                        if !body(r) { throw Stop() }
                    }
                } catch is Stop {}
            }
        }
    }

    /// Writes the changes of a batch of commands and timers in ONE transaction.
    ///
    /// Per change: a command id recorded before gives `.duplicateCommand`; a stored state whose version
    /// is not `expectedVersion` gives `.conflict`, and so does every later change of that ticket in the
    /// batch (each was computed on top of the one before); both write nothing. Otherwise the command id,
    /// the new state and its timer (replacing the previous one, removed when nil), the timeline rows and
    /// the outgoing messages are written: `.applied`. On error nothing is written.
    public func applyLifecycle(_ changes: [LifecycleChange]) throws(StoreError) -> [LifecycleOutcome] {
        if changes.isEmpty { return [] }
        return try storeOperation { try pool.writeWithoutTransaction(Self.applying(changes)) }
    }

    /// `applyLifecycle` on GRDB's writer queue: the caller awaits without blocking a thread.
    public func applyLifecycle(_ changes: [LifecycleChange]) async throws(StoreError) -> [LifecycleOutcome] {
        if changes.isEmpty { return [] }
        let pool = self.pool
        return try await storeOperation {
            try await Self.uncancelled { try await pool.writeWithoutTransaction(Self.applying(changes)) }
        }
    }

    private static func applying(_ changes: [LifecycleChange]) -> @Sendable (Database) throws -> [LifecycleOutcome] {
        { db in
            var outcomes: [LifecycleOutcome] = []
            try db.inTransaction(.immediate) {
                var conflicted: Set<String> = []
                outcomes = try changes.map { change in
                    // A later change of a ticket whose change conflicted was computed on top of that one:
                    // it conflicts too, or it would write the first one's effects without its rows.
                    if conflicted.contains(change.ticketID) { return .conflict }
                    let outcome = try Self.apply(change, db)
                    if case .conflict = outcome { conflicted.insert(change.ticketID) }
                    return outcome
                }
                return .commit
            }
            return outcomes
        }
    }

    static func apply(_ change: LifecycleChange, _ db: Database) throws -> LifecycleOutcome {
        let at = EpochMillis.from(change.at)
        if let c = change.command {
            try db.cachedStatement(
                sql: "INSERT OR IGNORE INTO commands (command_id, ticket_id, type, outcome, at) VALUES (?, ?, ?, ?, ?)"
            )
            .execute(arguments: [c.id, change.ticketID, c.type, c.outcome, at])
            if db.changesCount == 0 {
                let same = try Bool.fetchOne(
                    db.cachedStatement(sql: "SELECT ticket_id = ? AND type = ? FROM commands WHERE command_id = ?"),
                    arguments: [change.ticketID, c.type, c.id])
                return same == false ? .reusedCommandID : .duplicateCommand
            }
        }
        if let expected = change.expectedVersion {
            // The version check and the update are one statement: it changes the row only if the
            // version is still the one the change was computed from.
            let unchanged: Bool
            if let s = change.state, change.updatesTicket {
                try db.executeRaw(
                    """
                    UPDATE lifecycle SET version = ?, phase = ?, unit_id = ?, state = ?, updated_at = ?,
                      light = ?, due_at = ?, supervised = ?, desk = ?, category = ?, enterprise = ? WHERE ticket_id = ? AND version = ?
                    """
                ) { b in
                    b.bind(s.version)
                    b.bind(s.phase)
                    b.bind(s.unitID)
                    b.bind(blob: s.state)
                    b.bind(at)
                    s.console.bind(&b)
                    b.bind(change.ticketID)
                    b.bind(expected)
                }
                unchanged = db.changesCount == 1
            } else if let s = change.state {
                // Phase and holder as stored (the version check makes sure of it): leaving them out of the
                // statement leaves the index on them alone, where naming them rewrites its entry, one page
                // per ticket in a batch of timers (ops/bench/timer-commit.sql).
                try db.executeRaw(
                    """
                    UPDATE lifecycle SET version = ?, state = ?, updated_at = ?,
                      light = ?, due_at = ?, supervised = ?, desk = ?, category = ?, enterprise = ? WHERE ticket_id = ? AND version = ?
                    """
                ) { b in
                    b.bind(s.version)
                    b.bind(blob: s.state)
                    b.bind(at)
                    s.console.bind(&b)
                    b.bind(change.ticketID)
                    b.bind(expected)
                }
                unchanged = db.changesCount == 1
            } else {
                unchanged =
                    try Int.fetchOne(
                        db.cachedStatement(sql: "SELECT version FROM lifecycle WHERE ticket_id = ?"),
                        arguments: [change.ticketID]) == expected
            }
            guard unchanged else {
                if let c = change.command {
                    try db.cachedStatement(sql: "DELETE FROM commands WHERE command_id = ?").execute(arguments: [c.id])
                }
                return .conflict
            }
            if let s = change.state { try writeTimer(change.ticketID, s, db) }
        } else if let s = change.state {
            try writeState(change.ticketID, s, at: at, db)
        }
        if let s = change.state {
            if change.updatesTicket {
                try db.cachedStatement(sql: "UPDATE tickets SET state = ?, unit_id = ? WHERE id = ?").execute(
                    arguments: [s.phase, s.unitID, change.ticketID])
            }
        }
        if change.expectedVersion != nil {
            for e in change.events { try writeEvent(change.ticketID, e, db) }
        }
        for (m, fields) in zip(change.messages, change.outboxFields) {
            try OutboxRecord(
                m, fields, ticketID: change.expectedVersion != nil ? change.ticketID : nil, rejectionID: nil,
                createdAt: at
            )
            .insertRow(db)
        }
        return .applied
    }

    static func writeState(_ ticketID: String, _ s: StateWrite, at: Int64, _ db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO lifecycle (ticket_id, version, phase, unit_id, state, updated_at,
                  light, due_at, supervised, desk, category, enterprise) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(ticket_id) DO UPDATE SET version = excluded.version, phase = excluded.phase, unit_id = excluded.unit_id,
                  state = excluded.state, updated_at = excluded.updated_at, light = excluded.light, due_at = excluded.due_at,
                  supervised = excluded.supervised, desk = excluded.desk, category = excluded.category, enterprise = excluded.enterprise
                """
        ).execute(arguments: [
            ticketID, s.version, s.phase, s.unitID, Data(s.state), at, s.console.light,
            s.console.dueAt.map(EpochMillis.from) ?? ConsoleColumns.noDeadline, s.console.supervised,
            s.console.desk, s.console.category, s.console.enterprise,
        ])
        try writeTimer(ticketID, s, db)
    }

    /// A timeline row of the ticket.
    static func writeEvent(_ ticketID: String, _ e: EventWrite, _ db: Database) throws {
        try db.executeRaw("INSERT INTO events (ticket_id, type, at, payload_json) VALUES (?, ?, ?, ?)") { b in
            b.bind(ticketID)
            b.bind(e.type)
            b.bind(EpochMillis.from(e.at))
            b.bind(e.payloadJSON)
        }
    }

    /// Replaces the ticket's timer row (removes it when the state has no timer).
    static func writeTimer(_ ticketID: String, _ s: StateWrite, _ db: Database) throws {
        if let due = s.timer {
            try db.executeRaw(
                "INSERT INTO timers (ticket_id, due_at, token) VALUES (?, ?, ?) ON CONFLICT(ticket_id) DO UPDATE SET due_at = excluded.due_at, token = excluded.token"
            ) { b in
                b.bind(ticketID)
                b.bind(EpochMillis.from(due))
                b.bind(s.version)
            }
        } else {
            try db.cachedStatement(sql: "DELETE FROM timers WHERE ticket_id = ?").execute(arguments: [ticketID])
        }
    }

    /// Within a dispatch transaction: the most recent earlier ticket sharing one of `keys` received in
    /// `window` before `receivedAt` (`RepeatMatch.latest`); then records the new ticket's keys.
    static func matchRepeat(ticketID: String, keys: [String], receivedAt: Date, window: TimeInterval, _ db: Database)
        throws -> RepeatMatch?
    {
        guard !keys.isEmpty else { return nil }
        let at = EpochMillis.from(receivedAt)
        let from = EpochMillis.from(receivedAt.addingTimeInterval(-window))
        var found: [(ticketID: String, at: Int64, key: String)] = []
        for key in keys {
            if let r = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT ticket_id, received_at FROM repeat_keys WHERE key = ? AND received_at BETWEEN ? AND ? AND ticket_id <> ?
                        ORDER BY received_at DESC LIMIT 1
                        """), arguments: [key, from, at, ticketID])
            {
                found.append((r[0], r[1], key))
            }
        }
        for key in keys {
            try db.cachedStatement(
                sql: "INSERT OR IGNORE INTO repeat_keys (key, received_at, ticket_id) VALUES (?, ?, ?)"
            ).execute(arguments: [key, at, ticketID])
        }
        return RepeatMatch.latest(of: found)
    }
}
