import Foundation
import Logging
import PagodaStore
import PostgresNIO

/// What `importSQLite` copied and what its check found.
public struct SQLiteImport: Sendable {
    /// Each copied table with its rows in SQLite and, after the copy, in PostgreSQL.
    public var tables: [(name: String, sqlite: Int, postgres: Int)]
    /// The dispatch sequence's last value in both.
    public var lastDispatchSequence: (sqlite: Int64, postgres: Int64)
    /// The tickets compared field by field (history, lifecycle state).
    public var sampled: [String]
    /// The sampled tickets whose copy differs, and why.
    public var mismatches: [String]

    /// Every count equal and every sampled ticket the same.
    public var matches: Bool {
        mismatches.isEmpty && tables.allSatisfy { $0.sqlite == $0.postgres }
            && lastDispatchSequence.sqlite == lastDispatchSequence.postgres
    }
}

extension PostgresStore {
    /// A table copied by `importSQLite`: its columns, its primary key (among the columns; the rows are read
    /// in its order), the columns that are BOOLEAN here (0 or 1 in SQLite), and whether `id` is an identity
    /// column here.
    struct CopiedTable: Sendable {
        let name: String
        let columns: [String]
        let key: [String]
        var booleans: Set<String> = []
        var identity = false
    }

    /// In an order that satisfies the foreign keys. The console's read model is copied too, with its
    /// triggers off meanwhile (`readModelTriggerTables`), and so are its accounts, API tokens and audit log;
    /// its sessions are not (people log in again on the new store).
    /// The tables whose triggers keep the console's read model.
    static let readModelTriggerTables = ["lifecycle", "events", "rejections"]

    static let copiedTables: [CopiedTable] = [
        CopiedTable(
            name: "tickets", columns: ["id", "received_at", "body", "state", "unit_id", "created_at"], key: ["id"]),
        CopiedTable(
            name: "inbox", columns: ["ticket_id", "amqp_message_id", "dispatch_seq", "received_at"],
            key: ["ticket_id"]),
        CopiedTable(
            name: "decisions",
            columns: [
                "id", "ticket_id", "dispatch_seq", "destination_type", "unit_id", "level", "queue", "rule_id",
                "rule_file", "rule_line", "rules_hash", "sla_profile", "category", "urgency", "decision_json",
                "created_at",
            ], key: ["id"], identity: true),
        CopiedTable(name: "deadlines", columns: ["ticket_id", "clock", "due_at"], key: ["ticket_id", "clock"]),
        CopiedTable(
            name: "rejections",
            columns: ["id", "amqp_message_id", "code", "reason", "body", "created_at", "issues_json"], key: ["id"],
            identity: true),
        CopiedTable(
            name: "rejection_actions",
            columns: ["rejection_id", "action", "actor", "at", "reason", "message_id", "body"], key: ["rejection_id"]),
        CopiedTable(
            name: "outbox",
            columns: [
                "id", "message_id", "ticket_id", "rejection_id", "exchange", "routing_key", "content_type",
                "headers_json", "body", "mandatory", "created_at", "sent_at", "attempts", "extra_routing_keys",
            ], key: ["id"], booleans: ["mandatory"], identity: true),
        CopiedTable(
            name: "events", columns: ["id", "ticket_id", "type", "at", "payload_json"], key: ["id"], identity: true),
        CopiedTable(
            name: "lifecycle",
            columns: [
                "ticket_id", "version", "phase", "unit_id", "state", "updated_at", "light", "due_at", "supervised",
                "desk", "category", "enterprise",
            ], key: ["ticket_id"], booleans: ["supervised", "enterprise"]),
        CopiedTable(name: "timers", columns: ["ticket_id", "due_at", "token"], key: ["ticket_id"]),
        CopiedTable(
            name: "commands", columns: ["command_id", "ticket_id", "type", "outcome", "at"], key: ["command_id"]),
        CopiedTable(
            name: "repeat_keys", columns: ["key", "received_at", "ticket_id"], key: ["key", "received_at", "ticket_id"]),
        CopiedTable(
            name: "console_users",
            columns: [
                "name", "role", "unit_id", "password_hash", "disabled", "failed_logins", "locked_until", "created_at",
                "updated_at",
            ], key: ["name"], booleans: ["disabled"]),
        CopiedTable(
            name: "console_tokens", columns: ["token_hash", "user_name", "created_at", "last_used", "expires_at"],
            key: ["token_hash"]),
        CopiedTable(
            name: "console_audit",
            columns: ["id", "at", "user_name", "action", "ticket_id", "outcome", "detail", "remote"], key: ["id"],
            identity: true),
        CopiedTable(
            name: "console_open_counts", columns: ["unit_id", "light", "supervised", "n"],
            key: ["unit_id", "light", "supervised"], booleans: ["supervised"]),
        CopiedTable(name: "console_desk_counts", columns: ["desk", "n"], key: ["desk"]),
        CopiedTable(name: "console_day_counts", columns: ["day", "kind", "n"], key: ["day", "kind"]),
        CopiedTable(name: "console_days", columns: ["day", "first_event_id"], key: ["day"]),
    ]

    /// Copies a SQLite store's state (tickets, inbox, decisions, deadlines, rejections and their actions, the
    /// outbox, the timeline, lifecycle states, timers, the command ledger, repeat keys, the dispatch sequence)
    /// into this store, which must be empty, in ONE transaction; then checks the copy: row counts of every
    /// table, the dispatch sequence, and `sample` tickets spread over the id range compared field by field
    /// (`ticket(id:)` and the lifecycle state on both sides).
    ///
    /// Nothing may write the SQLite file meanwhile (the caller holds its instance lock). Throws
    /// `.invalidArgument` when this database already holds tickets, rejections, outbox rows, commands or the
    /// console's users, tokens or audit rows, which the copy brings (and copies nothing); any store error
    /// rolls the whole copy back.
    public func importSQLite(_ source: DispatchStore, sample: Int = 100, batch: Int = 500) async throws(StoreError)
        -> SQLiteImport
    {
        try await write { conn, logger in
            for table in [
                "tickets", "rejections", "outbox", "commands", "console_users", "console_tokens", "console_audit",
            ] {
                if let n = try await Self.one(
                    PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)"), Int64.self, conn, logger), n > 0
                {
                    throw StoreError(
                        .invalidArgument, "the PostgreSQL database is not empty (\(n) rows in \(table)); nothing copied"
                    )
                }
            }
            // The read model's triggers are off for the copy and its tables are copied instead: in one
            // transaction, each trigger's update of a counter row leaves a row version the next update must
            // step over (they are pruned only after the commit), so a million tickets on a few hundred
            // counter rows took quadratic time. SQLite's triggers kept the same counters.
            for table in Self.readModelTriggerTables {
                try await conn.perform(
                    PostgresQuery(unsafeSQL: "ALTER TABLE \(table) DISABLE TRIGGER USER"), logger: logger)
            }
            for table in Self.copiedTables {
                // Pages by key, each seeking to where the last one ended (not by offset, which would read
                // every row before it again and make a large table's copy quadratic).
                let keyIndexes = table.key.map { table.columns.firstIndex(of: $0)! }
                var after: [StoredValue] = []
                while true {
                    let rows = try source.rows(
                        table.name, columns: table.columns, key: table.key, after: after, limit: batch)
                    guard let last = rows.last else { break }
                    try await conn.perform(try Self.insert(rows, into: table), logger: logger)
                    after = keyIndexes.map { last[$0] }
                }
                if table.identity {
                    try await conn.perform(
                        PostgresQuery(
                            unsafeSQL: """
                                SELECT setval(pg_get_serial_sequence('\(table.name)', 'id'), coalesce(max(id), 0) + 1, false)
                                FROM \(table.name)
                                """), logger: logger)
                }
            }
            for table in Self.readModelTriggerTables {
                try await conn.perform(
                    PostgresQuery(unsafeSQL: "ALTER TABLE \(table) ENABLE TRIGGER USER"), logger: logger)
            }
            for row in try source.rows(
                "sequences", columns: ["name", "last_value"], orderBy: "name", offset: 0, limit: 100)
            {
                guard case .text(let name) = row[0], case .integer(let value) = row[1] else {
                    throw StoreError(.corrupt, "a row of sequences is not (name, value)")
                }
                try await conn.perform(
                    """
                    INSERT INTO sequences (name, last_value) VALUES (\(name), \(value))
                    ON CONFLICT (name) DO UPDATE SET last_value = excluded.last_value
                    """, logger: logger)
            }
        }
        return try await check(source, sample: sample)
    }

    /// A multi-row INSERT of `rows` (SQLite's values, booleans made BOOLEAN) into `table`.
    static func insert(_ rows: [[StoredValue]], into table: CopiedTable) throws -> PostgresQuery {
        var bindings = PostgresBindings(capacity: rows.count * table.columns.count)
        var tuples: [String] = []
        tuples.reserveCapacity(rows.count)
        var n = 0
        for row in rows {
            var marks: [String] = []
            for (column, value) in zip(table.columns, row) {
                n += 1
                marks.append("$\(n)")
                switch value {
                case .null: bindings.appendNull()
                case .integer(let i) where table.booleans.contains(column): bindings.append(i != 0)
                case .integer(let i): bindings.append(i)
                case .real(let d): bindings.append(d)
                case .text(let s): bindings.append(s)
                case .blob(let b): try bindings.append(Data(b))
                }
            }
            tuples.append("(\(marks.joined(separator: ", ")))")
        }
        let overriding = table.identity ? " OVERRIDING SYSTEM VALUE" : ""
        return PostgresQuery(
            unsafeSQL: "INSERT INTO \(table.name) (\(table.columns.joined(separator: ", ")))\(overriding) VALUES "
                + tuples.joined(separator: ", "), binds: bindings)
    }

    /// Counts every copied table on both sides and compares `sample` tickets field by field.
    private func check(_ source: DispatchStore, sample: Int) async throws(StoreError) -> SQLiteImport {
        var tables: [(String, Int, Int)] = []
        for table in Self.copiedTables {
            let here = try await read { [logger] conn in
                Int(
                    try await Self.one(
                        PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table.name)"), Int64.self, conn, logger) ?? 0)
            }
            tables.append((table.name, try source.rowCount(table.name), here))
        }
        let counts = try await counts()
        let sourceCounts = try source.counts()
        let total = tables.first?.1 ?? 0
        let step = max(1, total / max(1, sample))
        var sampled: [String] = []
        var offset = 0
        while offset < total && sampled.count < sample {
            if case .text(let id) = try source.rows("tickets", columns: ["id"], orderBy: "id", offset: offset, limit: 1)
                .first?.first
            {
                sampled.append(id)
            }
            offset += step
        }
        var mismatches: [String] = []
        for id in sampled {
            let (a, b) = (try await source.ticket(id: id), try await ticket(id: id))
            if a != b { mismatches.append("\(id): the ticket's history differs") }
        }
        let (a, b) = (
            try await source.lifecycle(sampled, withTicket: true), try await lifecycle(sampled, withTicket: true)
        )
        for id in sampled where a[id] != b[id] { mismatches.append("\(id): the lifecycle state differs") }
        return SQLiteImport(
            tables: tables.map { (name: $0.0, sqlite: $0.1, postgres: $0.2) },
            lastDispatchSequence: (sourceCounts.lastDispatchSequence, counts.lastDispatchSequence), sampled: sampled,
            mismatches: mismatches)
    }
}
