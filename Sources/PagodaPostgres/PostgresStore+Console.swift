import Foundation
import Logging
import PagodaJSON
import PagodaStore
import PostgresNIO

// The web console's accounts, sessions, tokens and audit log, and the reads of its pages, as
// `DispatchStore` gives them on SQLite (`ConsoleStore`). The tables are SQLite's, migration for migration.

extension PostgresStore: ConsoleStore {
    // MARK: Accounts

    public func addConsoleAccount(_ a: ConsoleAccount, audit: ConsoleAuditEntry? = nil) async throws(StoreError) {
        let at = EpochMillis.from(a.createdAt)
        try await write { conn, logger in
            try await conn.perform(
                """
                INSERT INTO console_users (name, role, unit_id, password_hash, disabled, failed_logins, locked_until,
                  created_at, updated_at)
                VALUES (\(a.name), \(a.role), \(a.unitID), \(a.passwordHash), \(a.disabled), 0, NULL, \(at), \(at))
                """, logger: logger)
            if let audit { try await Self.insertAudit(audit, conn, logger) }
        }
    }

    public func consoleAccount(_ name: String) async throws(StoreError) -> ConsoleAccount? {
        // No account's name holds U+0000, which PostgreSQL refuses in text.
        if name.contains("\u{0}") { return nil }
        return try await read { [logger] conn in
            try await Self.accounts(
                "\(unescaped: Self.accountColumns) FROM console_users WHERE name = \(name)", conn, logger
            )
            .first
        }
    }

    public func consoleAccounts() async throws(StoreError) -> [ConsoleAccount] {
        try await read { [logger] conn in
            try await Self.accounts("\(unescaped: Self.accountColumns) FROM console_users ORDER BY name", conn, logger)
        }
    }

    @discardableResult
    public func setConsoleAccountDisabled(_ name: String, _ disabled: Bool, at: Date, audit: ConsoleAuditEntry? = nil)
        async throws(StoreError) -> Bool
    {
        try await write { conn, logger in
            let changed = try await Self.changes(
                """
                UPDATE console_users SET disabled = \(disabled), updated_at = \(EpochMillis.from(at))
                WHERE name = \(name) RETURNING 1
                """, conn, logger)
            guard changed == 1 else { return false }
            if disabled {
                try await conn.perform("DELETE FROM console_sessions WHERE user_name = \(name)", logger: logger)
                try await conn.perform("DELETE FROM console_tokens WHERE user_name = \(name)", logger: logger)
            }
            if let audit { try await Self.insertAudit(audit, conn, logger) }
            return true
        }
    }

    @discardableResult
    public func setConsolePassword(_ name: String, hash: String, at: Date, audit: ConsoleAuditEntry? = nil)
        async throws(StoreError) -> Bool
    {
        try await write { conn, logger in
            let changed = try await Self.changes(
                """
                UPDATE console_users SET password_hash = \(hash), failed_logins = 0, locked_until = NULL,
                  updated_at = \(EpochMillis.from(at)) WHERE name = \(name) RETURNING 1
                """, conn, logger)
            guard changed == 1 else { return false }
            try await conn.perform("DELETE FROM console_sessions WHERE user_name = \(name)", logger: logger)
            try await conn.perform("DELETE FROM console_tokens WHERE user_name = \(name)", logger: logger)
            if let audit { try await Self.insertAudit(audit, conn, logger) }
            return true
        }
    }

    public func countLoginAttempt(_ name: String, at: Date, limit: Int, lockFor: TimeInterval)
        async throws(StoreError) -> LoginAttempt?
    {
        try await write { conn, logger in
            var found: (attempts: Int, lockedUntil: Int64?)?
            for try await (n, until) in try await conn.query(
                "SELECT failed_logins, locked_until FROM console_users WHERE name = \(name) FOR UPDATE", logger: logger
            ).decode((Int64, Int64?).self) {
                found = (Int(n), until)
            }
            guard let found else { return nil }
            if let until = found.lockedUntil.map(EpochMillis.date), until > at { return .locked(until: until) }
            let attempts = found.attempts + 1
            let until = attempts >= limit ? at.addingTimeInterval(lockFor) : nil
            try await conn.perform(
                """
                UPDATE console_users SET failed_logins = \(Int64(until == nil ? attempts : 0)),
                  locked_until = \(until.map(EpochMillis.from)) WHERE name = \(name)
                """, logger: logger)
            return .counted(attempts: attempts, locksUntil: until)
        }
    }

    /// A `"caller": {...}` member as text (PostgreSQL's regular expressions): its strings may hold any
    /// character, escaped quotes included, and its members objects of one level.
    static let callerObject =
        #""caller"\s*:\s*\{(?:[^{}"]|"(?:[^"\\]|\\.)*"|\{(?:[^{}"]|"(?:[^"\\]|\\.)*")*\})*\}"#

    // MARK: Sessions and tokens

    public func startConsoleSession(
        tokenHash: String, userName: String, csrfToken: String, at: Date, audit: ConsoleAuditEntry
    ) async throws(StoreError) {
        let ms = EpochMillis.from(at)
        try await write { conn, logger in
            try await conn.perform(
                "UPDATE console_users SET failed_logins = 0, locked_until = NULL WHERE name = \(userName)",
                logger: logger)
            try await conn.perform(
                """
                INSERT INTO console_sessions (token_hash, user_name, csrf_token, created_at, last_seen)
                VALUES (\(tokenHash), \(userName), \(csrfToken), \(ms), \(ms))
                """, logger: logger)
            try await Self.insertAudit(audit, conn, logger)
        }
    }

    public func consoleSession(tokenHash: String) async throws(StoreError) -> (ConsoleSessionRecord, ConsoleAccount)? {
        try await read { [logger] conn in
            var session: ConsoleSessionRecord?
            for try await (hash, user, csrf, created, seen) in try await conn.query(
                """
                SELECT token_hash, user_name, csrf_token, created_at, last_seen FROM console_sessions
                WHERE token_hash = \(tokenHash)
                """, logger: logger
            ).decode((String, String, String, Int64, Int64).self) {
                session = ConsoleSessionRecord(
                    tokenHash: hash, userName: user, csrfToken: csrf, createdAt: EpochMillis.date(created),
                    lastSeen: EpochMillis.date(seen))
            }
            guard let session,
                let account = try await Self.accounts(
                    "\(unescaped: Self.accountColumns) FROM console_users WHERE name = \(session.userName)", conn,
                    logger
                ).first
            else { return nil }
            return (session, account)
        }
    }

    public func touchConsoleSession(tokenHash: String, at: Date) async throws(StoreError) {
        try await write { conn, logger in
            try await conn.perform(
                "UPDATE console_sessions SET last_seen = \(EpochMillis.from(at)) WHERE token_hash = \(tokenHash)",
                logger: logger)
        }
    }

    public func endConsoleSession(tokenHash: String, audit: ConsoleAuditEntry? = nil) async throws(StoreError) {
        try await write { conn, logger in
            try await conn.perform("DELETE FROM console_sessions WHERE token_hash = \(tokenHash)", logger: logger)
            if let audit { try await Self.insertAudit(audit, conn, logger) }
        }
    }

    @discardableResult
    public func deleteIdleConsoleSessions(before: Date) async throws(StoreError) -> Int {
        try await write { conn, logger in
            try await Self.changes(
                "DELETE FROM console_sessions WHERE last_seen < \(EpochMillis.from(before)) RETURNING 1", conn, logger)
        }
    }

    @discardableResult
    public func addConsoleToken(
        tokenHash: String, userName: String, at: Date, expiresAt: Date, audit: ConsoleAuditEntry? = nil
    ) async throws(StoreError) -> Bool {
        try await write { conn, logger in
            let added = try await Self.changes(
                """
                INSERT INTO console_tokens (token_hash, user_name, created_at, expires_at)
                SELECT \(tokenHash), name, \(EpochMillis.from(at)), \(EpochMillis.from(expiresAt))
                FROM console_users WHERE name = \(userName)
                RETURNING 1
                """, conn, logger)
            guard added == 1 else { return false }
            if let audit { try await Self.insertAudit(audit, conn, logger) }
            return true
        }
    }

    public func consoleTokenAccount(tokenHash: String, at: Date) async throws(StoreError) -> ConsoleAccount? {
        let now = EpochMillis.from(at)
        let found = try await read { [logger] conn -> (ConsoleAccount, Int64?)? in
            var lastUsed: Int64?? = nil
            for try await used in try await conn.query(
                """
                SELECT last_used FROM console_tokens
                WHERE token_hash = \(tokenHash) AND (expires_at IS NULL OR expires_at > \(now))
                """, logger: logger
            ).decode(Int64?.self) {
                lastUsed = .some(used)
            }
            guard let lastUsed else { return nil }
            let account = try await Self.accounts(
                """
                \(unescaped: Self.accountColumns) FROM console_users
                WHERE name = (SELECT user_name FROM console_tokens WHERE token_hash = \(tokenHash))
                """, conn, logger
            ).first
            return account.map { ($0, lastUsed) }
        }
        guard let (account, lastUsed) = found else { return nil }
        if lastUsed.map({ now - $0 > 3_600_000 }) ?? true {
            try await write { conn, logger in
                try await conn.perform(
                    "UPDATE console_tokens SET last_used = \(now) WHERE token_hash = \(tokenHash)", logger: logger)
            }
        }
        return account
    }

    public func consoleTokens(userName: String) async throws(StoreError) -> [ConsoleTokenRecord] {
        try await read { [logger] conn in
            var tokens: [ConsoleTokenRecord] = []
            for try await (hash, created, expires, used) in try await conn.query(
                """
                SELECT token_hash, created_at, expires_at, last_used FROM console_tokens
                WHERE user_name = \(userName) ORDER BY created_at, token_hash
                """, logger: logger
            ).decode((String, Int64, Int64?, Int64?).self) {
                tokens.append(
                    ConsoleTokenRecord(
                        tokenHash: hash, createdAt: EpochMillis.date(created), expiresAt: expires.map(EpochMillis.date),
                        lastUsed: used.map(EpochMillis.date)))
            }
            return tokens
        }
    }

    @discardableResult
    public func revokeConsoleToken(userName: String, id: String, audit: ConsoleAuditEntry? = nil)
        async throws(StoreError) -> Bool
    {
        guard id.count == ConsoleTokenRecord.idLength else { return false }
        return try await write { conn, logger in
            let revoked = try await Self.changes(
                """
                DELETE FROM console_tokens
                WHERE user_name = \(userName) AND left(token_hash, \(unescaped: String(ConsoleTokenRecord.idLength))) = \(id)
                RETURNING 1
                """, conn, logger)
            guard revoked > 0 else { return false }
            if let audit { try await Self.insertAudit(audit, conn, logger) }
            return true
        }
    }

    // MARK: Audit

    public func appendConsoleAudit(_ entry: ConsoleAuditEntry) async throws(StoreError) {
        try await write { conn, logger in try await Self.insertAudit(entry, conn, logger) }
    }

    public func consoleAudit(userName: String? = nil, limit: Int = 100) async throws(StoreError)
        -> [ConsoleAuditEntry]
    {
        try await read { [logger] conn in
            var out: [ConsoleAuditEntry] = []
            for try await (at, user, action, ticket, outcome, detail, remote) in try await conn.query(
                """
                SELECT at, user_name, action, ticket_id, outcome, detail, remote FROM console_audit
                WHERE \(userName)::text IS NULL OR user_name = \(userName) ORDER BY id DESC LIMIT \(Int64(limit))
                """, logger: logger
            ).decode((Int64, String, String, String?, String, String?, String?).self) {
                out.append(
                    ConsoleAuditEntry(
                        at: EpochMillis.date(at), userName: user, action: action, ticketID: ticket, outcome: outcome,
                        detail: detail, remote: remote))
            }
            return out
        }
    }

    // MARK: The pages' read model

    public func ticketConcernsUnit(_ ticketID: String, unit: String) async throws(StoreError) -> Bool {
        try await read { [logger] conn in
            // PostgreSQL's JSON functions refuse an escaped NUL anywhere in the text (a payload may quote a
            // sender's key holding one); it is read as U+FFFD, which no unit id holds.
            let rows = try await conn.query(
                """
                SELECT EXISTS (SELECT 1 FROM lifecycle WHERE ticket_id = \(ticketID) AND unit_id = \(unit))
                  OR EXISTS (SELECT 1 FROM decisions WHERE ticket_id = \(ticketID) AND unit_id = \(unit))
                  OR EXISTS (
                    SELECT 1 FROM (
                      SELECT replace(payload_json, '\\u0000', '\\ufffd')::json AS p FROM events
                      WHERE ticket_id = \(ticketID) AND type <> 'command.rejected') e
                    WHERE p ->> 'unit' = \(unit) OR p ->> 'from_unit' = \(unit)
                      OR (json_typeof(p -> 'co_handlers') = 'array' AND EXISTS (
                        SELECT 1 FROM json_array_elements(p -> 'co_handlers') c
                        WHERE json_typeof(c) = 'string' AND c #>> '{}' = \(unit))))
                """, logger: logger)
            for try await concerns in rows.decode(Bool.self) { return concerns }
            return false
        }
    }

    public func consoleOpenCounts(unit: String? = nil) async throws(StoreError) -> [ConsoleOpenCount] {
        try await read { [logger] conn in
            var out: [ConsoleOpenCount] = []
            for try await (unitID, light, supervised, n) in try await conn.query(
                """
                SELECT unit_id, light, supervised, n FROM console_open_counts
                WHERE n > 0 AND (\(unit)::text IS NULL OR unit_id = \(unit))
                """, logger: logger
            ).decode((String, String, Bool, Int64).self) {
                out.append(ConsoleOpenCount(unitID: unitID, light: light, supervised: supervised, count: Int(n)))
            }
            return out
        }
    }

    public func consoleDayCounts(_ days: ClosedRange<Int>) async throws(StoreError) -> [Int: [String: Int]] {
        try await read { [logger] conn in
            var out: [Int: [String: Int]] = [:]
            for try await (day, kind, n) in try await conn.query(
                """
                SELECT day, kind, n FROM console_day_counts
                WHERE day BETWEEN \(Int64(days.lowerBound)) AND \(Int64(days.upperBound))
                """, logger: logger
            ).decode((Int64, String, Int64).self) {
                out[Int(day), default: [:]][kind] = Int(n)
            }
            return out
        }
    }

    public func consoleFirstEventID(onOrAfter day: Int) async throws(StoreError) -> Int64? {
        try await read { [logger] conn in
            for try await id in try await conn.query(
                "SELECT first_event_id FROM console_days WHERE day >= \(Int64(day)) ORDER BY day LIMIT 1",
                logger: logger
            ).decode(Int64.self) {
                return id
            }
            return nil
        }
    }

    public func consoleLastEventID() async throws(StoreError) -> Int64 {
        try await read { [logger] conn in
            for try await id in try await conn.query("SELECT max(id) FROM events", logger: logger).decode(
                Int64?.self)
            {
                return id ?? 0
            }
            return 0
        }
    }

    public func consoleList(_ list: ConsoleList, limit: Int) async throws(StoreError) -> [ConsoleListRow] {
        var q = Statement()
        let condition =
            switch list {
            case .red: "l.light = 'red'"
            case .supervised: "l.supervised AND l.light IS NOT NULL"
            case .desk(let desk): "l.desk = \(q.bind(desk))"
            }
        let sql = "WHERE \(condition) ORDER BY l.due_at, l.ticket_id LIMIT \(q.bind(Int64(limit)))"
        let query = q.query(sql)
        return try await read { [logger] conn in try await Self.listRows(query, conn, logger) }
    }

    public func consoleDeskCounts() async throws(StoreError) -> [String: Int] {
        try await read { [logger] conn in
            var out: [String: Int] = ["triage": 0, "return": 0, "extension": 0, "callback": 0]
            for try await (desk, n) in try await conn.query("SELECT desk, n FROM console_desk_counts", logger: logger)
                .decode((String, Int64).self)
            {
                out[desk] = Int(n)
            }
            return out
        }
    }

    public func consoleInbox(_ q: ConsoleInboxQuery) async throws(StoreError) -> (
        rows: [ConsoleListRow], total: Int
    ) {
        // PostgreSQL refuses U+0000 in text; no id, phase, light or category holds one: such a filter
        // matches nothing, as on SQLite.
        let filters = [q.unitID, q.phase, q.light, q.category]
        if filters.contains(where: { $0?.contains("\u{0}") == true }) { return ([], 0) }
        var st = Statement()
        var conditions = ["l.light IS NOT NULL"]
        if let unit = q.unitID { conditions.append("l.unit_id = \(st.bind(unit))") }
        if let p = q.phase { conditions.append("l.phase = \(st.bind(p))") }
        if let light = q.light { conditions.append("l.light = \(st.bind(light))") }
        if let c = q.category {
            conditions.append(
                "(l.category = \(st.bind(c)) OR l.category LIKE \(st.bind(Self.likePrefix(c) + ".%")) ESCAPE '\\')")
        }
        if let e = q.enterprise { conditions.append("l.enterprise = \(st.bind(e))") }
        // PostgreSQL refuses U+0000 in text: a search term keeps what is around it (no ticket holds one).
        let search = q.search.map { $0.replacingOccurrences(of: "\u{0}", with: "") }.flatMap { $0.isEmpty ? nil : $0 }
        if let s = search {
            switch q.searchScope {
            case .wholeTicket:
                // Bytes within bytes: the ticket as received is not decoded to look in it.
                conditions.append(
                    "(l.ticket_id = \(st.bind(s)) OR position(\(st.bind(ByteBuffer(string: s))) in"
                        + " (SELECT t2.body FROM tickets t2 WHERE t2.id = l.ticket_id)) > 0)")
            case .withoutCaller:
                // The body with every `caller` object taken out as text: a JSON cast would refuse some
                // bodies the contract accepts (`\u0000` in a string), and one refusal fails the whole list.
                conditions.append(
                    "(l.ticket_id = \(st.bind(s)) OR position(\(st.bind(s)) in"
                        + " (SELECT regexp_replace(convert_from(t2.body, 'UTF8'), \(st.bind(Self.callerObject)), '', 'g')"
                        + " FROM tickets t2 WHERE t2.id = l.ticket_id)) > 0)")
            case .idOnly:
                conditions.append("l.ticket_id = \(st.bind(s))")
            }
        }
        let filter = "WHERE " + conditions.joined(separator: " AND ")
        // The total of a query filtered by unit and light alone comes from the open-ticket counters.
        let counted: PostgresQuery
        if q.phase == nil, q.category == nil, q.enterprise == nil, search == nil {
            counted = """
                SELECT coalesce(sum(n), 0)::bigint FROM console_open_counts
                WHERE n > 0 AND (\(q.unitID)::text IS NULL OR unit_id = \(q.unitID))
                  AND (\(q.light)::text IS NULL OR light = \(q.light))
                """
        } else {
            counted = st.query("SELECT count(*) FROM lifecycle l " + filter)
        }
        let pageSQL =
            "\(filter) ORDER BY l.due_at, l.ticket_id LIMIT \(st.bind(Int64(max(0, q.limit))))"
            + " OFFSET \(st.bind(Int64(max(0, q.offset))))"
        let page = st.query(pageSQL)
        return try await read(snapshot: true) { [logger] conn in
            var total = 0
            for try await n in try await conn.query(counted, logger: logger).decode(Int64.self) { total = Int(n) }
            return (try await Self.listRows(page, conn, logger), total)
        }
    }

    // MARK: Rows

    private static let accountColumns = """
        SELECT name, role, unit_id, password_hash, disabled, failed_logins, locked_until, created_at
        """

    private static func accounts(_ query: PostgresQuery, _ conn: PostgresConnection, _ logger: Logger) async throws
        -> [ConsoleAccount]
    {
        var out: [ConsoleAccount] = []
        for try await (name, role, unit, hash, disabled, failures, locked, created) in try await conn.query(
            query, logger: logger
        ).decode((String, String, String?, String, Bool, Int64, Int64?, Int64).self) {
            out.append(
                ConsoleAccount(
                    name: name, role: role, unitID: unit, passwordHash: hash, disabled: disabled,
                    failedLogins: Int(failures), lockedUntil: locked.map(EpochMillis.date),
                    createdAt: EpochMillis.date(created)))
        }
        return out
    }

    /// The rows of a list: `filter` is the WHERE, ORDER BY and LIMIT over `lifecycle l` that choose them.
    /// Each row's summary is taken from the ticket as received (as SQLite's `consoleRowColumns`: the title,
    /// else the text, at most 80 characters).
    private static func listRows(_ filter: PostgresQuery, _ conn: PostgresConnection, _ logger: Logger) async throws
        -> [ConsoleListRow]
    {
        // The page's rows are chosen on the lifecycle's index alone (`filter` orders and limits them), and
        // only they are joined with their tickets: a deep page skips index entries, not tickets.
        let query = PostgresQuery(
            unsafeSQL: """
                SELECT l.ticket_id, l.unit_id, l.phase, l.light, l.due_at, l.supervised, l.desk, l.category,
                  l.enterprise, t.received_at, t.body
                FROM (SELECT l.ticket_id FROM lifecycle l \(filter.sql)) p
                JOIN lifecycle l ON l.ticket_id = p.ticket_id JOIN tickets t ON t.id = l.ticket_id
                ORDER BY l.due_at, l.ticket_id
                """, binds: filter.binds)
        var out: [ConsoleListRow] = []
        for try await row in try await conn.query(query, logger: logger) {
            let r = row.makeRandomAccess()
            let due = try r.at(4, Int64?.self)
            out.append(
                ConsoleListRow(
                    ticketID: try r.at(0), unitID: try r.at(1), phase: try r.at(2), light: try r.at(3),
                    dueAt: due.flatMap { $0 == ConsoleColumns.noDeadline ? nil : EpochMillis.date($0) },
                    supervised: try r.at(5), desk: try r.at(6), category: try r.at(7), enterprise: try r.at(8),
                    receivedAt: EpochMillis.date(try r.at(9)), summary: summary(try r.at(10, Data.self))))
        }
        return out
    }

    static func summary(_ body: Data) -> String {
        guard case .object(let o)? = try? JSON.parse([UInt8](body)) else { return "" }
        let text = o["title"]?.stringValue ?? o["text"]?.stringValue ?? ""
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: text.unicodeScalars.prefix(80))
        return String(scalars)
    }

    /// How many rows a statement ending in `RETURNING 1` changed.
    private static func changes(_ query: PostgresQuery, _ conn: PostgresConnection, _ logger: Logger) async throws
        -> Int
    {
        var rows = 0
        for try await _ in try await conn.query(query, logger: logger) { rows += 1 }
        return rows
    }

    static func insertAudit(_ e: ConsoleAuditEntry, _ conn: PostgresConnection, _ logger: Logger) async throws {
        try await conn.perform(
            """
            INSERT INTO console_audit (at, user_name, action, ticket_id, outcome, detail, remote)
            VALUES (\(EpochMillis.from(e.at)), \(e.userName), \(e.action), \(e.ticketID), \(e.outcome), \(e.detail),
                    \(e.remote))
            """, logger: logger)
    }

    private static func likePrefix(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
    }
}

/// A statement built in pieces: each value bound as the next parameter (`$1`, `$2`...).
private struct Statement {
    var binds = PostgresBindings()

    /// Binds a value; returns its placeholder.
    mutating func bind<V: PostgresNonThrowingEncodable>(_ value: V) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }

    /// The statement with the values bound so far (bind every value before: the SQL is not read until then).
    func query(_ sql: String) -> PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: binds) }
}
