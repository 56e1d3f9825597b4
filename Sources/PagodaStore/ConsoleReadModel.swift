import Foundation
import GRDB

/// What the console's read model keeps of a lifecycle state, written with it (`StateWrite.console`).
///
/// The service fills it from the state (`LifecycleCodec`); the store copies it into the `lifecycle` row,
/// where triggers keep the open-ticket counters (`console_open_counts`) in the same transaction.
public struct ConsoleColumns: Sendable, Hashable {
    /// `green`, `yellow` or `red`; nil for a final ticket (closed, merged, handed off).
    public var light: String?
    /// The nearest deadline the ticket waits for; nil for none.
    public var dueAt: Date?
    /// Under supervision (督办).
    public var supervised: Bool
    /// The centre desk it waits at: `triage`, `return`, `extension`, `callback`; nil for none.
    public var desk: String?
    public var category: String?
    public var enterprise: Bool

    /// The stored `due_at` of a ticket without a deadline: it sorts after every real one.
    package static let noDeadline = Int64.max

    public init(
        light: String? = nil, dueAt: Date? = nil, supervised: Bool = false, desk: String? = nil,
        category: String? = nil, enterprise: Bool = false
    ) {
        self.light = light
        self.dueAt = dueAt
        self.supervised = supervised
        self.desk = desk
        self.category = category
        self.enterprise = enterprise
    }

    /// Binds light, due_at, supervised, desk, category, enterprise in that order.
    func bind(_ b: inout RawBinder) {
        b.bind(light)
        b.bind(dueAt.map(EpochMillis.from) ?? Self.noDeadline)
        b.bind(supervised)
        b.bind(desk)
        b.bind(category)
        b.bind(enterprise)
    }
}

/// Open tickets of one unit with one light (and supervision), from the counters.
public struct ConsoleOpenCount: Sendable, Hashable {
    /// The holding unit's id; empty for tickets nobody holds.
    public var unitID: String
    public var light: String
    public var supervised: Bool
    public var count: Int

    package init(unitID: String, light: String, supervised: Bool, count: Int) {
        self.unitID = unitID
        self.light = light
        self.supervised = supervised
        self.count = count
    }
}

/// An open ticket as a list of the console shows it.
public struct ConsoleListRow: Sendable, Hashable {
    public var ticketID: String
    public var unitID: String?
    public var phase: String
    public var light: String?
    public var dueAt: Date?
    public var supervised: Bool
    public var desk: String?
    public var category: String?
    public var enterprise: Bool
    public var receivedAt: Date
    /// The ticket's title, else the start of its text (at most 80 characters).
    public var summary: String

    package init(
        ticketID: String, unitID: String?, phase: String, light: String?, dueAt: Date?, supervised: Bool,
        desk: String?, category: String?, enterprise: Bool, receivedAt: Date, summary: String
    ) {
        self.ticketID = ticketID
        self.unitID = unitID
        self.phase = phase
        self.light = light
        self.dueAt = dueAt
        self.supervised = supervised
        self.desk = desk
        self.category = category
        self.enterprise = enterprise
        self.receivedAt = receivedAt
        self.summary = summary
    }
}

/// Which of the console's lists to read (`ConsoleStore.consoleList`).
public enum ConsoleList: Sendable, Hashable {
    /// Open tickets with a red light, nearest (most overdue) deadline first.
    case red
    /// Open tickets under supervision (督办).
    case supervised
    /// Tickets waiting at a centre desk (`triage`, `return`, `extension`, `callback`).
    case desk(String)
}

/// Where an inbox search looks besides the ticket id.
public enum ConsoleSearchScope: Sendable, Hashable {
    /// The ticket as received, the caller's details included (for the centre, which reads them).
    case wholeTicket
    /// The ticket as received without its `caller` member.
    case withoutCaller
    /// The ticket id alone.
    case idOnly
}

/// A unit inbox's filters (`ConsoleStore.consoleInbox`); nil fields do not filter.
public struct ConsoleInboxQuery: Sendable, Hashable {
    /// The holding unit; nil for every unit (the centre's search).
    public var unitID: String?
    public var phase: String?
    public var light: String?
    /// A category code; its subcategories (`code.`...) match too.
    public var category: String?
    public var enterprise: Bool?
    /// A ticket id (exact), or text found in the ticket as received where `searchScope` says.
    public var search: String?
    public var searchScope: ConsoleSearchScope
    public var limit: Int
    public var offset: Int

    public init(
        unitID: String?, phase: String? = nil, light: String? = nil, category: String? = nil, enterprise: Bool? = nil,
        search: String? = nil, searchScope: ConsoleSearchScope = .withoutCaller, limit: Int = 50, offset: Int = 0
    ) {
        self.unitID = unitID
        self.phase = phase
        self.light = light
        self.category = category
        self.enterprise = enterprise
        self.search = search
        self.searchScope = searchScope
        self.limit = limit
        self.offset = offset
    }
}

extension DispatchStore {
    /// The open-ticket counters (`console_open_counts`, rows with tickets only): one row per unit, light
    /// and supervision. Reads a table of a few rows per unit; never the tickets.
    /// With `unit`, that unit's rows only.
    public func consoleOpenCounts(unit: String? = nil) async throws(StoreError) -> [ConsoleOpenCount] {
        try await storeOperation {
            try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: "SELECT unit_id, light, supervised, n FROM console_open_counts WHERE n > 0"
                        + (unit == nil ? "" : " AND unit_id = ?"),
                    arguments: StatementArguments(unit.map { [$0] } ?? [])
                ).map {
                    ConsoleOpenCount(unitID: $0[0], light: $0[1], supervised: ($0[2] as Int) != 0, count: $0[3])
                }
            }
        }
    }

    /// Counts by kind for each day of `days` (days since the epoch in China Standard Time, `ConsoleDay`):
    /// `intake`, `rejected`, and lifecycle event types (`ticket.dispatched`, `ticket.escalated`,
    /// `ticket.closed`, `ticket.supervised`, `ticket.overdue`, `ticket.replied`, `ticket.callback_recorded`).
    public func consoleDayCounts(_ days: ClosedRange<Int>) async throws(StoreError) -> [Int: [String: Int]] {
        try await storeOperation {
            try await pool.read { db in
                var out: [Int: [String: Int]] = [:]
                for r in try Row.fetchAll(
                    db, sql: "SELECT day, kind, n FROM console_day_counts WHERE day BETWEEN ? AND ?",
                    arguments: [days.lowerBound, days.upperBound])
                {
                    out[r[0], default: [:]][r[1]] = r[2]
                }
                return out
            }
        }
    }

    /// The first timeline row written on or after `day` (China Standard Time), or nil when none was.
    public func consoleFirstEventID(onOrAfter day: Int) async throws(StoreError) -> Int64? {
        try await storeOperation {
            try await pool.read { db in
                try Int64.fetchOne(
                    db, sql: "SELECT first_event_id FROM console_days WHERE day >= ? ORDER BY day LIMIT 1",
                    arguments: [day])
            }
        }
    }

    /// The highest timeline row id (0 when none): what changed since a reader last looked.
    public func consoleLastEventID() async throws(StoreError) -> Int64 {
        try await storeOperation {
            try await pool.read { db in try Int64.fetchOne(db, sql: "SELECT max(id) FROM events") ?? 0 }
        }
    }

    /// Up to `limit` timeline rows after row `id`, in the order written, as `forEachEvent` reads them: the
    /// console feeds them to its running reports.
    public func consoleEvents(after id: Int64, limit: Int) async throws(StoreError) -> [TimelineRow] {
        try await storeOperation {
            try await pool.read { db in
                var out: [TimelineRow] = []
                try db.queryRaw(
                    """
                    SELECT e.ticket_id, e.id, e.at, e.payload_json, d.unit_id, d.level, d.id,
                      CASE WHEN d.id IS NOT NULL THEN (SELECT due_at FROM deadlines WHERE ticket_id = e.ticket_id AND clock = 'sign_by') END,
                      CASE WHEN d.id IS NOT NULL THEN (SELECT due_at FROM deadlines WHERE ticket_id = e.ticket_id AND clock = 'resolve_by') END
                    FROM events e
                    LEFT JOIN decisions d ON e.type = 'ticket.dispatched' AND substr(e.payload_json, 1, 9) <> '{"event":'
                      AND d.ticket_id = e.ticket_id AND d.dispatch_seq = json_extract(e.payload_json, '$.dispatch_seq')
                    WHERE e.id > ? ORDER BY e.id LIMIT ?
                    """,
                    { b in
                        b.bind(id)
                        b.bind(limit)
                    }
                ) { row in
                    var r = TimelineRow(
                        ticketID: row.text(0) ?? "", rowID: row.int(1), at: EpochMillis.date(row.int(2)),
                        json: row.bytes(3))
                    if row.optionalInt(6) != nil {
                        r.intakeDispatch = IntakeDispatch(
                            unitID: row.text(4), level: row.text(5), signBy: row.optionalInt(7).map(EpochMillis.date),
                            resolveBy: row.optionalInt(8).map(EpochMillis.date))
                    }
                    out.append(r)
                }
                return out
            }
        }
    }

    static let consoleRowColumns = """
        l.ticket_id, l.unit_id, l.phase, l.light, l.due_at, l.supervised, l.desk, l.category, l.enterprise, t.received_at,
        substr(coalesce(json_extract(CAST(t.body AS TEXT), '$.title'), json_extract(CAST(t.body AS TEXT), '$.text'), ''), 1, 80)
        """

    static func consoleRow(_ r: Row) -> ConsoleListRow {
        let due: Int64? = r[4]
        return ConsoleListRow(
            ticketID: r[0], unitID: r[1], phase: r[2], light: r[3],
            dueAt: due.flatMap { $0 == ConsoleColumns.noDeadline ? nil : EpochMillis.date($0) },
            supervised: (r[5] as Int? ?? 0) != 0, desk: r[6], category: r[7], enterprise: (r[8] as Int? ?? 0) != 0,
            receivedAt: EpochMillis.date(r[9]), summary: (r[10] as String?) ?? "")
    }

    /// One of the console's lists, nearest deadline first (ties in the order written), at most `limit`:
    /// through its partial index on `lifecycle` (named, so that the planner cannot prefer the index of
    /// every open ticket, which also yields deadline order), so it reads `limit` rows whatever the number
    /// of tickets.
    public func consoleList(_ list: ConsoleList, limit: Int) async throws(StoreError) -> [ConsoleListRow] {
        let (index, condition, arguments): (String, String, StatementArguments) =
            switch list {
            case .red: ("lifecycle_console_red", "l.light = 'red'", [])
            case .supervised: ("lifecycle_console_supervised", "l.supervised = 1 AND l.light IS NOT NULL", [])
            case .desk(let desk): ("lifecycle_console_desk", "l.desk = ? AND l.desk IS NOT NULL", [desk])
            }
        return try await storeOperation {
            try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT \(Self.consoleRowColumns) FROM lifecycle l INDEXED BY \(index)
                        JOIN tickets t ON t.id = l.ticket_id
                        WHERE \(condition) ORDER BY l.due_at, l.rowid LIMIT ?
                        """, arguments: arguments + [limit]
                ).map(Self.consoleRow)
            }
        }
    }

    /// How many tickets wait at each centre desk, from the desk counters (`console_desk_counts`).
    public func consoleDeskCounts() async throws(StoreError) -> [String: Int] {
        try await storeOperation {
            try await pool.read { db in
                var out: [String: Int] = ["triage": 0, "return": 0, "extension": 0, "callback": 0]
                for r in try Row.fetchAll(db, sql: "SELECT desk, n FROM console_desk_counts") { out[r[0]] = r[1] }
                return out
            }
        }
    }

    /// A unit's open tickets (or every unit's, for the centre), nearest deadline first (ties in the order
    /// written), filtered, and how
    /// many match in all. Walks the `lifecycle_console_inbox` index in deadline order (without a unit,
    /// `lifecycle_console_open`); filters and the text search look at that unit's open tickets only. The
    /// total of a query filtered by unit and light alone comes from the open-ticket counters; other
    /// filters count the matching rows of the unit's inbox (all open tickets without a unit).
    public func consoleInbox(_ q: ConsoleInboxQuery) async throws(StoreError) -> (rows: [ConsoleListRow], total: Int) {
        var conditions = ["l.light IS NOT NULL"]
        var arguments: StatementArguments = []
        if let unit = q.unitID {
            conditions.append("l.unit_id = ?")
            arguments += [unit]
        }
        if let p = q.phase {
            conditions.append("l.phase = ?")
            arguments += [p]
        }
        if let light = q.light {
            conditions.append("l.light = ?")
            arguments += [light]
        }
        if let c = q.category {
            conditions.append("(l.category = ? OR l.category LIKE ? ESCAPE '\\')")
            arguments += [c, Self.likePrefix(c) + ".%"]
        }
        if let e = q.enterprise {
            conditions.append("l.enterprise = ?")
            arguments += [e ? 1 : 0]
        }
        var join = ""
        if let s = q.search, !s.isEmpty {
            switch q.searchScope {
            case .wholeTicket:
                join = "JOIN tickets t2 ON t2.id = l.ticket_id"
                conditions.append("(l.ticket_id = ? OR instr(CAST(t2.body AS TEXT), ?) > 0)")
                arguments += [s, s]
            case .withoutCaller:
                join = "JOIN tickets t2 ON t2.id = l.ticket_id"
                conditions.append("(l.ticket_id = ? OR instr(json_remove(CAST(t2.body AS TEXT), '$.caller'), ?) > 0)")
                arguments += [s, s]
            case .idOnly:
                conditions.append("l.ticket_id = ?")
                arguments += [s]
            }
        }
        let whereClause = conditions.joined(separator: " AND ")
        return try await storeOperation {
            try await pool.read { [join, arguments] db in
                let total: Int
                if q.phase == nil, q.category == nil, q.enterprise == nil, q.search?.isEmpty ?? true {
                    var counted = "SELECT coalesce(sum(n), 0) FROM console_open_counts WHERE n > 0"
                    var countArguments: StatementArguments = []
                    if let unit = q.unitID {
                        counted += " AND unit_id = ?"
                        countArguments += [unit]
                    }
                    if let light = q.light {
                        counted += " AND light = ?"
                        countArguments += [light]
                    }
                    total = try Int.fetchOne(db, sql: counted, arguments: countArguments) ?? 0
                } else {
                    total =
                        try Int.fetchOne(
                            db, sql: "SELECT count(*) FROM lifecycle l \(join) WHERE \(whereClause)",
                            arguments: arguments) ?? 0
                }
                // The page's rows are chosen on the index alone (deadline, then the order written), and
                // only they are read and summarised: a deep page skips index entries, not tickets.
                let index = q.unitID == nil ? "lifecycle_console_open" : "lifecycle_console_inbox"
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT \(Self.consoleRowColumns) FROM (
                          SELECT l.rowid AS rid, l.due_at AS due FROM lifecycle l INDEXED BY \(index) \(join)
                          WHERE \(whereClause) ORDER BY l.due_at, l.rowid LIMIT ? OFFSET ?
                        ) p JOIN lifecycle l ON l.rowid = p.rid JOIN tickets t ON t.id = l.ticket_id
                        ORDER BY p.due, p.rid
                        """, arguments: arguments + [max(0, q.limit), max(0, q.offset)]
                ).map(Self.consoleRow)
                return (rows, total)
            }
        }
    }

    private static func likePrefix(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(
            of: "_", with: "\\_")
    }
}
