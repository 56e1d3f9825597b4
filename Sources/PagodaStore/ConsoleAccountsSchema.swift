extension Schema {
    /// The web console's accounts, sessions, API tokens and audit log (migration `v5-console-accounts`).
    static let v5ConsoleAccounts = """
        -- The web console's people. A worker belongs to one unit of the rule
        -- files; the others may name one (the unit their centre commands are
        -- sent as). failed_logins counts failures since the last success;
        -- locked_until (ms) is set when it reaches the limit.
        CREATE TABLE console_users (
            name          TEXT    PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
            role          TEXT    NOT NULL CHECK (role IN ('worker', 'centre', 'supervisor', 'admin')),
            unit_id       TEXT,
            password_hash TEXT    NOT NULL,
            disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
            failed_logins INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
            locked_until  INTEGER,
            created_at    INTEGER NOT NULL,
            updated_at    INTEGER NOT NULL,
            CHECK (role <> 'worker' OR unit_id IS NOT NULL)
        ) STRICT;

        -- Logged-in sessions, by the SHA-256 of the cookie's token (the token
        -- itself is never stored), with the session's CSRF token.
        CREATE TABLE console_sessions (
            token_hash TEXT    PRIMARY KEY NOT NULL,
            user_name  TEXT    NOT NULL REFERENCES console_users(name) ON DELETE CASCADE,
            csrf_token TEXT    NOT NULL,
            created_at INTEGER NOT NULL,
            last_seen  INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX console_sessions_user ON console_sessions(user_name);

        -- Bearer tokens of machine clients, by SHA-256.
        CREATE TABLE console_tokens (
            token_hash TEXT    PRIMARY KEY NOT NULL,
            user_name  TEXT    NOT NULL REFERENCES console_users(name) ON DELETE CASCADE,
            created_at INTEGER NOT NULL,
            last_used  INTEGER
        ) STRICT;
        CREATE INDEX console_tokens_user ON console_tokens(user_name);

        -- Who did what: logins, failed logins, logouts, every command and
        -- account change. user_name is the name given (also for unknown names).
        CREATE TABLE console_audit (
            id         INTEGER PRIMARY KEY,
            at         INTEGER NOT NULL,
            user_name  TEXT    NOT NULL,
            action     TEXT    NOT NULL,
            ticket_id  TEXT,
            outcome    TEXT    NOT NULL,
            detail     TEXT,
            remote     TEXT
        ) STRICT;
        CREATE INDEX console_audit_user ON console_audit(user_name, at);
        """
}
