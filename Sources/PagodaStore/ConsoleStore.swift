import Foundation
import GRDB

/// A console account as stored (`console_users`).
public struct ConsoleAccount: Sendable, Hashable {
    public var name: String
    /// `worker`, `centre`, `supervisor` or `admin` (the table's CHECK holds it to these).
    public var role: String
    public var unitID: String?
    /// bcrypt hash (`$2b$...`); never shown.
    public var passwordHash: String
    public var disabled: Bool
    /// Failed logins since the last successful one.
    public var failedLogins: Int
    /// Until when logins are refused after too many failures.
    public var lockedUntil: Date?
    public var createdAt: Date

    public init(
        name: String, role: String, unitID: String?, passwordHash: String, disabled: Bool = false,
        failedLogins: Int = 0,
        lockedUntil: Date? = nil, createdAt: Date
    ) {
        self.name = name
        self.role = role
        self.unitID = unitID
        self.passwordHash = passwordHash
        self.disabled = disabled
        self.failedLogins = failedLogins
        self.lockedUntil = lockedUntil
        self.createdAt = createdAt
    }
}

/// A console session as stored: whose it is, its CSRF token and when it was last used.
public struct ConsoleSessionRecord: Sendable, Hashable {
    public var tokenHash: String
    public var userName: String
    public var csrfToken: String
    public var createdAt: Date
    public var lastSeen: Date

    package init(tokenHash: String, userName: String, csrfToken: String, createdAt: Date, lastSeen: Date) {
        self.tokenHash = tokenHash
        self.userName = userName
        self.csrfToken = csrfToken
        self.createdAt = createdAt
        self.lastSeen = lastSeen
    }
}

/// An API token as `pagoda user tokens` lists it: never the token, only the first 12 hex digits of its
/// digest, which name it for `pagoda user revoke-token`.
public struct ConsoleTokenRecord: Sendable, Hashable {
    public var id: String
    public var createdAt: Date
    public var expiresAt: Date?
    public var lastUsed: Date?

    /// How many hex digits of a token's digest name it.
    public static let idLength = 12

    /// The id of the token with this digest.
    public static func id(ofTokenHash hash: String) -> String { String(hash.prefix(idLength)) }

    package init(tokenHash: String, createdAt: Date, expiresAt: Date?, lastUsed: Date?) {
        self.id = Self.id(ofTokenHash: tokenHash)
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsed = lastUsed
    }
}

/// One line of the console's audit log.
public struct ConsoleAuditEntry: Sendable, Hashable {
    public var at: Date
    public var userName: String
    /// `login`, `login_failed`, `logout`, `command`, `user_add`, ...
    public var action: String
    public var ticketID: String?
    /// `ok`, or why not (`bad_password`, `locked`, a refusal code...).
    public var outcome: String
    public var detail: String?
    public var remote: String?

    public init(
        at: Date, userName: String, action: String, ticketID: String? = nil, outcome: String, detail: String? = nil,
        remote: String? = nil
    ) {
        self.at = at
        self.userName = userName
        self.action = action
        self.ticketID = ticketID
        self.outcome = outcome
        self.detail = detail
        self.remote = remote
    }
}

/// What counting a login attempt did, before its password is checked.
public enum LoginAttempt: Sendable, Hashable {
    /// The account is locked until then: the password is not checked.
    case locked(until: Date)
    /// Counted as the `attempts`-th in a row without a success. `locksUntil` is set when this attempt
    /// reached the limit: the account stays locked until then unless this password is right (a login
    /// clears the counter and the lock).
    case counted(attempts: Int, locksUntil: Date?)
}

extension DispatchStore {
    // MARK: Accounts

    /// Adds an account. Throws `.constraint` when the name is taken (or the row breaks the table's checks).
    public func addConsoleAccount(_ a: ConsoleAccount, audit: ConsoleAuditEntry? = nil) async throws(StoreError) {
        try await storeOperation {
            try await pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO console_users (name, role, unit_id, password_hash, disabled, failed_logins, locked_until, created_at, updated_at)
                        VALUES (?, ?, ?, ?, ?, 0, NULL, ?, ?)
                        """,
                    arguments: [
                        a.name, a.role, a.unitID, a.passwordHash, a.disabled ? 1 : 0,
                        EpochMillis.from(a.createdAt), EpochMillis.from(a.createdAt),
                    ])
                if let audit { try Self.insertAudit(audit, db) }
            }
        }
    }

    /// The account named, or nil.
    public func consoleAccount(_ name: String) async throws(StoreError) -> ConsoleAccount? {
        try await storeOperation {
            try await pool.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM console_users WHERE name = ?", arguments: [name]).map(
                    Self.account)
            }
        }
    }

    /// Every account, by name.
    public func consoleAccounts() async throws(StoreError) -> [ConsoleAccount] {
        try await storeOperation {
            try await pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM console_users ORDER BY name").map(Self.account)
            }
        }
    }

    static func account(_ r: Row) -> ConsoleAccount {
        ConsoleAccount(
            name: r["name"], role: r["role"], unitID: r["unit_id"], passwordHash: r["password_hash"],
            disabled: (r["disabled"] as Int) != 0, failedLogins: r["failed_logins"],
            lockedUntil: (r["locked_until"] as Int64?).map(EpochMillis.date),
            createdAt: EpochMillis.date(r["created_at"]))
    }

    /// Disables (or enables) an account; disabling also ends its sessions and revokes its API tokens.
    /// Returns false when there is no such account.
    @discardableResult
    public func setConsoleAccountDisabled(_ name: String, _ disabled: Bool, at: Date, audit: ConsoleAuditEntry? = nil)
        async throws(StoreError) -> Bool
    {
        try await storeOperation {
            try await pool.write { db in
                try db.execute(
                    sql: "UPDATE console_users SET disabled = ?, updated_at = ? WHERE name = ?",
                    arguments: [disabled ? 1 : 0, EpochMillis.from(at), name])
                guard db.changesCount == 1 else { return false }
                if disabled {
                    try db.execute(sql: "DELETE FROM console_sessions WHERE user_name = ?", arguments: [name])
                    try db.execute(sql: "DELETE FROM console_tokens WHERE user_name = ?", arguments: [name])
                }
                if let audit { try Self.insertAudit(audit, db) }
                return true
            }
        }
    }

    /// Sets a new password hash, clears the failure counter and the lock, ends the account's sessions and
    /// revokes its API tokens. Returns false when there is no such account.
    @discardableResult
    public func setConsolePassword(_ name: String, hash: String, at: Date, audit: ConsoleAuditEntry? = nil)
        async throws(StoreError) -> Bool
    {
        try await storeOperation {
            try await pool.write { db in
                try db.execute(
                    sql: """
                        UPDATE console_users SET password_hash = ?, failed_logins = 0, locked_until = NULL, updated_at = ? WHERE name = ?
                        """, arguments: [hash, EpochMillis.from(at), name])
                guard db.changesCount == 1 else { return false }
                try db.execute(sql: "DELETE FROM console_sessions WHERE user_name = ?", arguments: [name])
                try db.execute(sql: "DELETE FROM console_tokens WHERE user_name = ?", arguments: [name])
                if let audit { try Self.insertAudit(audit, db) }
                return true
            }
        }
    }

    public func countLoginAttempt(_ name: String, at: Date, limit: Int, lockFor: TimeInterval)
        async throws(StoreError) -> LoginAttempt?
    {
        try await storeOperation {
            try await pool.write { db in
                guard
                    let row = try Row.fetchOne(
                        db, sql: "SELECT failed_logins, locked_until FROM console_users WHERE name = ?",
                        arguments: [name])
                else { return nil }
                if let until = (row["locked_until"] as Int64?).map(EpochMillis.date), until > at {
                    return .locked(until: until)
                }
                let attempts = (row["failed_logins"] as Int) + 1
                let until = attempts >= limit ? at.addingTimeInterval(lockFor) : nil
                try db.execute(
                    sql: "UPDATE console_users SET failed_logins = ?, locked_until = ? WHERE name = ?",
                    arguments: [until == nil ? attempts : 0, until.map(EpochMillis.from), name])
                return .counted(attempts: attempts, locksUntil: until)
            }
        }
    }

    // MARK: Sessions

    /// Starts a session after a successful login: clears the failure counter, stores the session, audits.
    public func startConsoleSession(
        tokenHash: String, userName: String, csrfToken: String, at: Date,
        audit: ConsoleAuditEntry
    ) async throws(StoreError) {
        try await storeOperation {
            try await pool.write { db in
                let ms = EpochMillis.from(at)
                try db.execute(
                    sql: "UPDATE console_users SET failed_logins = 0, locked_until = NULL WHERE name = ?",
                    arguments: [userName])
                try db.execute(
                    sql: """
                        INSERT INTO console_sessions (token_hash, user_name, csrf_token, created_at, last_seen) VALUES (?, ?, ?, ?, ?)
                        """, arguments: [tokenHash, userName, csrfToken, ms, ms])
                try Self.insertAudit(audit, db)
            }
        }
    }

    /// The session with this token digest, with its account; nil when there is none.
    public func consoleSession(tokenHash: String) async throws(StoreError) -> (ConsoleSessionRecord, ConsoleAccount)? {
        try await storeOperation {
            try await pool.read { db in
                guard
                    let s = try Row.fetchOne(
                        db, sql: "SELECT * FROM console_sessions WHERE token_hash = ?", arguments: [tokenHash]),
                    let u = try Row.fetchOne(
                        db, sql: "SELECT * FROM console_users WHERE name = ?", arguments: [s["user_name"] as String])
                else { return nil }
                return (
                    ConsoleSessionRecord(
                        tokenHash: s["token_hash"], userName: s["user_name"], csrfToken: s["csrf_token"],
                        createdAt: EpochMillis.date(s["created_at"]), lastSeen: EpochMillis.date(s["last_seen"])),
                    Self.account(u)
                )
            }
        }
    }

    /// Marks a session used now (its idle time starts again).
    public func touchConsoleSession(tokenHash: String, at: Date) async throws(StoreError) {
        try await storeOperation {
            try await pool.write { db in
                try db.execute(
                    sql: "UPDATE console_sessions SET last_seen = ? WHERE token_hash = ?",
                    arguments: [EpochMillis.from(at), tokenHash])
            }
        }
    }

    /// Ends a session (logout, or found idle too long), auditing when given a line.
    public func endConsoleSession(tokenHash: String, audit: ConsoleAuditEntry? = nil) async throws(StoreError) {
        try await storeOperation {
            try await pool.write { db in
                try db.execute(sql: "DELETE FROM console_sessions WHERE token_hash = ?", arguments: [tokenHash])
                if let audit { try Self.insertAudit(audit, db) }
            }
        }
    }

    /// Deletes sessions idle since before `before`; returns how many.
    @discardableResult
    public func deleteIdleConsoleSessions(before: Date) async throws(StoreError) -> Int {
        try await storeOperation {
            try await pool.write { db in
                try db.execute(
                    sql: "DELETE FROM console_sessions WHERE last_seen < ?", arguments: [EpochMillis.from(before)])
                return db.changesCount
            }
        }
    }

    // MARK: API tokens

    /// Stores a bearer token's digest for an account. Returns false when there is no such account.
    @discardableResult
    public func addConsoleToken(
        tokenHash: String, userName: String, at: Date, expiresAt: Date, audit: ConsoleAuditEntry? = nil
    ) async throws(StoreError) -> Bool {
        try await storeOperation {
            try await pool.write { db in
                guard
                    try Int.fetchOne(db, sql: "SELECT 1 FROM console_users WHERE name = ?", arguments: [userName])
                        != nil
                else { return false }
                try db.execute(
                    sql: """
                        INSERT INTO console_tokens (token_hash, user_name, created_at, expires_at) VALUES (?, ?, ?, ?)
                        """,
                    arguments: [tokenHash, userName, EpochMillis.from(at), EpochMillis.from(expiresAt)])
                if let audit { try Self.insertAudit(audit, db) }
                return true
            }
        }
    }

    public func consoleTokenAccount(tokenHash: String, at: Date) async throws(StoreError) -> ConsoleAccount? {
        let now = EpochMillis.from(at)
        let found = try await storeOperation {
            try await pool.read { db -> (ConsoleAccount, Int64?)? in
                guard
                    let r = try Row.fetchOne(
                        db,
                        sql: """
                            SELECT u.*, t.last_used AS token_last_used FROM console_tokens t
                            JOIN console_users u ON u.name = t.user_name
                            WHERE t.token_hash = ? AND (t.expires_at IS NULL OR t.expires_at > ?)
                            """, arguments: [tokenHash, now])
                else { return nil }
                return (Self.account(r), r["token_last_used"])
            }
        }
        guard let (account, lastUsed) = found else { return nil }
        if lastUsed.map({ now - $0 > 3_600_000 }) ?? true {
            try await storeOperation {
                try await pool.write { db in
                    try db.execute(
                        sql: "UPDATE console_tokens SET last_used = ? WHERE token_hash = ?",
                        arguments: [now, tokenHash])
                }
            }
        }
        return account
    }

    public func consoleTokens(userName: String) async throws(StoreError) -> [ConsoleTokenRecord] {
        try await storeOperation {
            try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT token_hash, created_at, expires_at, last_used FROM console_tokens
                        WHERE user_name = ? ORDER BY created_at, token_hash
                        """, arguments: [userName]
                ).map { r in
                    ConsoleTokenRecord(
                        tokenHash: r["token_hash"], createdAt: EpochMillis.date(r["created_at"]),
                        expiresAt: (r["expires_at"] as Int64?).map(EpochMillis.date),
                        lastUsed: (r["last_used"] as Int64?).map(EpochMillis.date))
                }
            }
        }
    }

    @discardableResult
    public func revokeConsoleToken(userName: String, id: String, audit: ConsoleAuditEntry? = nil)
        async throws(StoreError) -> Bool
    {
        guard id.count == ConsoleTokenRecord.idLength else { return false }
        return try await storeOperation {
            try await pool.write { db in
                try db.execute(
                    sql: "DELETE FROM console_tokens WHERE user_name = ? AND substr(token_hash, 1, ?) = ?",
                    arguments: [userName, ConsoleTokenRecord.idLength, id])
                guard db.changesCount > 0 else { return false }
                if let audit { try Self.insertAudit(audit, db) }
                return true
            }
        }
    }

    // MARK: Audit

    /// Appends one audit line.
    public func appendConsoleAudit(_ entry: ConsoleAuditEntry) async throws(StoreError) {
        try await storeOperation { try await pool.write { db in try Self.insertAudit(entry, db) } }
    }

    /// The latest audit lines, newest first; only `userName`'s when given.
    public func consoleAudit(userName: String? = nil, limit: Int = 100) async throws(StoreError) -> [ConsoleAuditEntry]
    {
        try await storeOperation {
            try await pool.read { db in
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT * FROM console_audit WHERE (? IS NULL OR user_name = ?) ORDER BY id DESC LIMIT ?
                        """, arguments: [userName, userName, limit])
                return rows.map {
                    ConsoleAuditEntry(
                        at: EpochMillis.date($0["at"]), userName: $0["user_name"], action: $0["action"],
                        ticketID: $0["ticket_id"],
                        outcome: $0["outcome"], detail: $0["detail"], remote: $0["remote"])
                }
            }
        }
    }

    static func insertAudit(_ e: ConsoleAuditEntry, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO console_audit (at, user_name, action, ticket_id, outcome, detail, remote) VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [EpochMillis.from(e.at), e.userName, e.action, e.ticketID, e.outcome, e.detail, e.remote])
    }
}

extension DispatchStore {
    /// Whether a ticket is or was a unit's: the unit holds it, was given it by a decision, or is named by
    /// one of its timeline events as holder (`unit`), as the unit it came from (`from_unit`) or as a
    /// co-handler. A command the dispatcher refused names its sender, not a holder, and does not count.
    public func ticketConcernsUnit(_ ticketID: String, unit: String) async throws(StoreError) -> Bool {
        try await storeOperation {
            try await pool.read { db in
                if try Int.fetchOne(
                    db, sql: "SELECT 1 FROM lifecycle WHERE ticket_id = ? AND unit_id = ?", arguments: [ticketID, unit])
                    != nil
                {
                    return true
                }
                if try Int.fetchOne(
                    db, sql: "SELECT 1 FROM decisions WHERE ticket_id = ? AND unit_id = ?", arguments: [ticketID, unit])
                    != nil
                {
                    return true
                }
                return try Int.fetchOne(
                    db,
                    sql: """
                        SELECT 1 FROM events WHERE ticket_id = ? AND type <> 'command.rejected' AND (
                          json_extract(payload_json, '$.unit') = ? OR json_extract(payload_json, '$.from_unit') = ?
                          OR EXISTS (SELECT 1 FROM json_each(payload_json, '$.co_handlers') WHERE value = ?))
                        LIMIT 1
                        """, arguments: [ticketID, unit, unit, unit]) != nil
            }
        }
    }
}
