/// The PostgreSQL store's schema, as named, append-only migrations recorded in `schema_migrations`.
///
/// Rules as for SQLite's (`Schema` in PagodaStore): never edit or reorder a registered migration, only
/// append; raw SQL, no application types. The names are SQLite's, so a migration added to both stores
/// later carries one name.
///
/// Types are chosen so that what is stored reads back byte for byte as SQLite's: timestamps are BIGINT
/// milliseconds since the epoch (`EpochMillis`), bodies and encoded states BYTEA, JSON columns TEXT (not
/// jsonb, which would reorder members and drop white space), flags BOOLEAN. Ticket ids and other keys that
/// are compared or ordered are `COLLATE "C"`: byte order, as SQLite's BINARY collation, whatever the
/// database's locale, so due timers page in the same order on both.
enum PostgresSchema {
    struct Migration: Sendable {
        let name: String
        /// One statement each (the extended query protocol takes one at a time).
        let statements: [String]
    }

    /// Every migration, in order. Append only.
    static let migrations: [Migration] = [
        Migration(name: "v1-intake", statements: v1Intake),
        Migration(name: "v2-lifecycle", statements: v2Lifecycle),
        Migration(name: "v3-outbox-routing-keys", statements: v3OutboxRoutingKeys),
        Migration(name: "v4-intake-rejection-actions", statements: v4IntakeRejectionActions),
        Migration(name: "v5-console-pages-read-model", statements: v5ConsolePagesReadModel),
        Migration(name: "v7-lease-row", statements: v7LeaseRow),
        Migration(name: "v5-console-accounts", statements: v5ConsoleAccounts),
        Migration(name: "v6-console-api-read-model", statements: v6ConsoleAPIReadModel),
        Migration(
            name: "v8-inbox-message-ids",
            statements: [
                "CREATE INDEX inbox_amqp_message_id ON inbox (amqp_message_id) WHERE amqp_message_id IS NOT NULL"
            ]),
        // API tokens expire; those made before have 90 days from the migration.
        Migration(
            name: "v9-console-token-expiry",
            statements: [
                "ALTER TABLE console_tokens ADD COLUMN expires_at BIGINT",
                "UPDATE console_tokens SET expires_at = (extract(epoch FROM now()) * 1000)::bigint + 90 * 86400000::bigint",
            ]),
    ]

    /// The table of applied migrations, made before the first one runs.
    static let migrationsTable = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            name       TEXT   PRIMARY KEY,
            applied_at BIGINT NOT NULL
        )
        """

    static let v1Intake = [
        // The global dispatch sequence lives here (not as MAX(inbox.dispatch_seq)), so pruning the inbox can
        // never reuse a number.
        """
        CREATE TABLE sequences (
            name       TEXT   PRIMARY KEY,
            last_value BIGINT NOT NULL CHECK (last_value >= 0)
        )
        """,
        "INSERT INTO sequences (name, last_value) VALUES ('dispatch', 0)",
        """
        CREATE TABLE tickets (
            id          TEXT COLLATE "C" PRIMARY KEY CHECK (length(id) > 0),
            received_at BIGINT NOT NULL,
            body        BYTEA  NOT NULL,
            state       TEXT   NOT NULL DEFAULT 'dispatched',
            unit_id     TEXT,
            created_at  BIGINT NOT NULL
        )
        """,
        // Deduplication of intake deliveries, keyed by ticket id.
        """
        CREATE TABLE inbox (
            ticket_id       TEXT COLLATE "C" PRIMARY KEY REFERENCES tickets(id),
            amqp_message_id TEXT,
            dispatch_seq    BIGINT NOT NULL UNIQUE CHECK (dispatch_seq > 0),
            received_at     BIGINT NOT NULL
        )
        """,
        """
        CREATE TABLE decisions (
            id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            ticket_id        TEXT COLLATE "C" NOT NULL REFERENCES tickets(id),
            dispatch_seq     BIGINT NOT NULL CHECK (dispatch_seq > 0),
            destination_type TEXT   NOT NULL
                CHECK (destination_type IN ('unit', 'platform', 'triage', 'emergency')),
            unit_id          TEXT,
            level            TEXT,
            queue            TEXT   NOT NULL,
            rule_id          TEXT   NOT NULL,
            rule_file        TEXT   NOT NULL,
            rule_line        BIGINT NOT NULL,
            rules_hash       TEXT   NOT NULL,
            sla_profile      TEXT,
            category         TEXT,
            urgency          TEXT   NOT NULL,
            decision_json    BYTEA  NOT NULL,
            created_at       BIGINT NOT NULL
        )
        """,
        "CREATE INDEX decisions_ticket_id ON decisions(ticket_id)",
        """
        CREATE TABLE deadlines (
            ticket_id TEXT COLLATE "C" NOT NULL REFERENCES tickets(id),
            clock     TEXT COLLATE "C" NOT NULL,
            due_at    BIGINT NOT NULL,
            PRIMARY KEY (ticket_id, clock)
        )
        """,
        "CREATE INDEX deadlines_due_at ON deadlines(due_at)",
        """
        CREATE TABLE rejections (
            id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            amqp_message_id TEXT   UNIQUE,
            code            TEXT   NOT NULL,
            reason          TEXT   NOT NULL,
            body            BYTEA  NOT NULL,
            created_at      BIGINT NOT NULL
        )
        """,
        // Messages to publish; sent_at is NULL until the broker confirmed the publish. Ids are taken under
        // the store's writer lock, so they grow in commit order (the relay reads after a cursor).
        """
        CREATE TABLE outbox (
            id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            message_id   TEXT    NOT NULL UNIQUE CHECK (length(message_id) > 0),
            ticket_id    TEXT COLLATE "C" REFERENCES tickets(id),
            rejection_id BIGINT  REFERENCES rejections(id),
            exchange     TEXT    NOT NULL,
            routing_key  TEXT    NOT NULL,
            content_type TEXT    NOT NULL,
            headers_json TEXT    NOT NULL,
            body         BYTEA   NOT NULL,
            mandatory    BOOLEAN NOT NULL,
            created_at   BIGINT  NOT NULL,
            sent_at      BIGINT,
            attempts     BIGINT  NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            CHECK (ticket_id IS NULL OR rejection_id IS NULL)
        )
        """,
        "CREATE INDEX outbox_unsent ON outbox(id) WHERE sent_at IS NULL",
        "CREATE INDEX outbox_ticket_id ON outbox(ticket_id) WHERE ticket_id IS NOT NULL",
        """
        CREATE TABLE events (
            id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            ticket_id    TEXT COLLATE "C" NOT NULL REFERENCES tickets(id),
            type         TEXT   NOT NULL,
            at           BIGINT NOT NULL,
            payload_json TEXT   NOT NULL
        )
        """,
        "CREATE INDEX events_ticket_id ON events(ticket_id)",
    ]

    static let v2Lifecycle = [
        // Each dispatched ticket's lifecycle state (opaque, versioned bytes), with phase and holder copied out.
        """
        CREATE TABLE lifecycle (
            ticket_id  TEXT COLLATE "C" PRIMARY KEY REFERENCES tickets(id),
            version    BIGINT NOT NULL CHECK (version >= 0),
            phase      TEXT   NOT NULL,
            unit_id    TEXT,
            state      BYTEA  NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX lifecycle_unit ON lifecycle(unit_id, phase)",
        // At most one pending timer per ticket, with the state version it was set for.
        """
        CREATE TABLE timers (
            ticket_id TEXT COLLATE "C" PRIMARY KEY REFERENCES tickets(id),
            due_at    BIGINT NOT NULL,
            token     BIGINT NOT NULL
        )
        """,
        "CREATE INDEX timers_due_at ON timers(due_at, ticket_id)",
        // Worker commands already handled, by idempotency key.
        """
        CREATE TABLE commands (
            command_id TEXT COLLATE "C" PRIMARY KEY CHECK (length(command_id) > 0),
            ticket_id  TEXT   NOT NULL,
            type       TEXT   NOT NULL,
            outcome    TEXT   NOT NULL,
            at         BIGINT NOT NULL
        )
        """,
        // Repeat-complaint keys of recent tickets.
        """
        CREATE TABLE repeat_keys (
            key         TEXT COLLATE "C" NOT NULL,
            received_at BIGINT NOT NULL,
            ticket_id   TEXT COLLATE "C" NOT NULL REFERENCES tickets(id),
            PRIMARY KEY (key, received_at, ticket_id)
        )
        """,
    ]

    static let v3OutboxRoutingKeys = [
        // More routing keys for one message (a JSON array of strings, NULL for none).
        "ALTER TABLE outbox ADD COLUMN extra_routing_keys TEXT"
    ]

    static let v4IntakeRejectionActions = [
        // Every issue of a rejection (a JSON array of {path, code, message}).
        "ALTER TABLE rejections ADD COLUMN issues_json TEXT",
        // What an operator did with a rejection: at most one action each.
        """
        CREATE TABLE rejection_actions (
            rejection_id BIGINT PRIMARY KEY REFERENCES rejections(id) ON DELETE CASCADE,
            action       TEXT   NOT NULL CHECK (action IN ('resubmitted', 'dropped')),
            actor        TEXT   NOT NULL CHECK (length(actor) > 0),
            at           BIGINT NOT NULL,
            reason       TEXT,
            message_id   TEXT   UNIQUE,
            body         BYTEA,
            CHECK (action <> 'dropped'
                   OR (coalesce(length(reason), 0) > 0 AND message_id IS NULL AND body IS NULL)),
            CHECK (action <> 'resubmitted' OR (coalesce(length(message_id), 0) > 0 AND body IS NOT NULL))
        )
        """,
    ]

    /// The console's read model, kept in the transactions that change the states (as SQLite's triggers do).
    static let v5ConsolePagesReadModel = [
        "ALTER TABLE lifecycle ADD COLUMN light TEXT CHECK (light IN ('green', 'yellow', 'red'))",
        "ALTER TABLE lifecycle ADD COLUMN due_at BIGINT",
        "ALTER TABLE lifecycle ADD COLUMN supervised BOOLEAN NOT NULL DEFAULT false",
        "ALTER TABLE lifecycle ADD COLUMN desk TEXT CHECK (desk IN ('triage', 'return', 'extension', 'callback'))",
        "ALTER TABLE lifecycle ADD COLUMN category TEXT",
        "ALTER TABLE lifecycle ADD COLUMN enterprise BOOLEAN NOT NULL DEFAULT false",
        "CREATE INDEX lifecycle_console_inbox ON lifecycle(unit_id, due_at) WHERE light IS NOT NULL",
        "CREATE INDEX lifecycle_console_red ON lifecycle(due_at) WHERE light = 'red'",
        "CREATE INDEX lifecycle_console_supervised ON lifecycle(due_at) WHERE supervised AND light IS NOT NULL",
        "CREATE INDEX lifecycle_console_desk ON lifecycle(desk, due_at) WHERE desk IS NOT NULL",
        """
        CREATE TABLE console_open_counts (
            unit_id    TEXT    NOT NULL,
            light      TEXT    NOT NULL,
            supervised BOOLEAN NOT NULL,
            n          BIGINT  NOT NULL,
            PRIMARY KEY (unit_id, light, supervised)
        )
        """,
        """
        CREATE FUNCTION console_open_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.light IS NOT NULL THEN
                UPDATE console_open_counts SET n = n - 1
                  WHERE unit_id = coalesce(OLD.unit_id, '') AND light = OLD.light AND supervised = OLD.supervised;
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.light IS NOT NULL THEN
                INSERT INTO console_open_counts (unit_id, light, supervised, n)
                  VALUES (coalesce(NEW.unit_id, ''), NEW.light, NEW.supervised, 1)
                  ON CONFLICT (unit_id, light, supervised) DO UPDATE SET n = console_open_counts.n + 1;
            END IF;
            RETURN NULL;
        END
        $$
        """,
        """
        CREATE TRIGGER console_open_insert AFTER INSERT ON lifecycle FOR EACH ROW
          WHEN (NEW.light IS NOT NULL) EXECUTE FUNCTION console_open_change()
        """,
        """
        CREATE TRIGGER console_open_update AFTER UPDATE OF unit_id, light, supervised ON lifecycle FOR EACH ROW
          WHEN (OLD.unit_id IS DISTINCT FROM NEW.unit_id OR OLD.light IS DISTINCT FROM NEW.light
                OR OLD.supervised IS DISTINCT FROM NEW.supervised)
          EXECUTE FUNCTION console_open_change()
        """,
        """
        CREATE TRIGGER console_open_delete AFTER DELETE ON lifecycle FOR EACH ROW
          WHEN (OLD.light IS NOT NULL) EXECUTE FUNCTION console_open_change()
        """,
        // Counts by day (China Standard Time, days since the epoch) and kind, and each day's first timeline row.
        """
        CREATE TABLE console_day_counts (
            day  BIGINT NOT NULL,
            kind TEXT   NOT NULL,
            n    BIGINT NOT NULL,
            PRIMARY KEY (day, kind)
        )
        """,
        """
        CREATE TABLE console_days (
            day            BIGINT PRIMARY KEY,
            first_event_id BIGINT NOT NULL
        )
        """,
        """
        CREATE FUNCTION console_event_day() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO console_days (day, first_event_id) VALUES ((NEW.at + 28800000) / 86400000, NEW.id)
              ON CONFLICT DO NOTHING;
            IF NEW.type IN ('ticket.dispatched', 'ticket.escalated', 'ticket.closed', 'ticket.supervised',
                            'ticket.overdue', 'ticket.replied', 'ticket.callback_recorded') THEN
                INSERT INTO console_day_counts (day, kind, n)
                  VALUES ((NEW.at + 28800000) / 86400000,
                          CASE WHEN NEW.type = 'ticket.dispatched' AND substr(NEW.payload_json, 1, 9) <> '{"event":'
                               THEN 'intake' ELSE NEW.type END, 1)
                  ON CONFLICT (day, kind) DO UPDATE SET n = console_day_counts.n + 1;
            END IF;
            RETURN NULL;
        END
        $$
        """,
        "CREATE TRIGGER console_event_day AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION console_event_day()",
        """
        CREATE FUNCTION console_rejection_day() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO console_day_counts (day, kind, n) VALUES ((NEW.created_at + 28800000) / 86400000, 'rejected', 1)
              ON CONFLICT (day, kind) DO UPDATE SET n = console_day_counts.n + 1;
            RETURN NULL;
        END
        $$
        """,
        """
        CREATE TRIGGER console_rejection_day AFTER INSERT ON rejections FOR EACH ROW
          EXECUTE FUNCTION console_rejection_day()
        """,
    ]

    /// The lease of the active node (several `pagoda serve` on one database, `PostgresStore+Lease`): one
    /// row, free at first (no holder, epoch 0, expired). `epoch` is the fencing token, bumped by every
    /// acquisition; `expires_at` is in the database's clock (milliseconds since the epoch).
    static let v7LeaseRow = [
        """
        CREATE TABLE lease (
            id         INTEGER PRIMARY KEY CHECK (id = 1),
            holder     TEXT,
            epoch      BIGINT  NOT NULL CHECK (epoch >= 0),
            expires_at BIGINT  NOT NULL
        )
        """,
        "INSERT INTO lease (id, holder, epoch, expires_at) VALUES (1, NULL, 0, 0)",
    ]

    /// The web console's people, sessions, bearer tokens and audit log, as SQLite's `v5-console-accounts`
    /// (the comments there say what each column holds). Tokens are kept as their SHA-256 only.
    static let v5ConsoleAccounts = [
        """
        CREATE TABLE console_users (
            name          TEXT COLLATE "C" PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
            role          TEXT    NOT NULL CHECK (role IN ('worker', 'centre', 'supervisor', 'admin')),
            unit_id       TEXT,
            password_hash TEXT    NOT NULL,
            disabled      BOOLEAN NOT NULL DEFAULT false,
            failed_logins BIGINT  NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
            locked_until  BIGINT,
            created_at    BIGINT  NOT NULL,
            updated_at    BIGINT  NOT NULL,
            CHECK (role <> 'worker' OR unit_id IS NOT NULL)
        )
        """,
        """
        CREATE TABLE console_sessions (
            token_hash TEXT   PRIMARY KEY,
            user_name  TEXT   COLLATE "C" NOT NULL REFERENCES console_users(name) ON DELETE CASCADE,
            csrf_token TEXT   NOT NULL,
            created_at BIGINT NOT NULL,
            last_seen  BIGINT NOT NULL
        )
        """,
        "CREATE INDEX console_sessions_user ON console_sessions(user_name)",
        """
        CREATE TABLE console_tokens (
            token_hash TEXT   PRIMARY KEY,
            user_name  TEXT   COLLATE "C" NOT NULL REFERENCES console_users(name) ON DELETE CASCADE,
            created_at BIGINT NOT NULL,
            last_used  BIGINT
        )
        """,
        "CREATE INDEX console_tokens_user ON console_tokens(user_name)",
        """
        CREATE TABLE console_audit (
            id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at         BIGINT NOT NULL,
            user_name  TEXT   NOT NULL,
            action     TEXT   NOT NULL,
            ticket_id  TEXT,
            outcome    TEXT   NOT NULL,
            detail     TEXT,
            remote     TEXT
        )
        """,
        "CREATE INDEX console_audit_user ON console_audit(user_name, at)",
    ]

    /// Every open ticket by its nearest deadline whatever its unit, and the tickets waiting at each centre
    /// desk, kept by a trigger like the open-ticket counters (SQLite's `v6-console-api-read-model`).
    static let v6ConsoleAPIReadModel = [
        "CREATE INDEX lifecycle_console_open ON lifecycle(due_at) WHERE light IS NOT NULL",
        """
        CREATE TABLE console_desk_counts (
            desk TEXT   PRIMARY KEY,
            n    BIGINT NOT NULL
        )
        """,
        """
        INSERT INTO console_desk_counts (desk, n)
          SELECT desk, count(*) FROM lifecycle WHERE desk IS NOT NULL GROUP BY desk
        """,
        """
        CREATE FUNCTION console_desk_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.desk IS NOT NULL THEN
                UPDATE console_desk_counts SET n = n - 1 WHERE desk = OLD.desk;
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.desk IS NOT NULL THEN
                INSERT INTO console_desk_counts (desk, n) VALUES (NEW.desk, 1)
                  ON CONFLICT (desk) DO UPDATE SET n = console_desk_counts.n + 1;
            END IF;
            RETURN NULL;
        END
        $$
        """,
        """
        CREATE TRIGGER console_desk_insert AFTER INSERT ON lifecycle FOR EACH ROW
          WHEN (NEW.desk IS NOT NULL) EXECUTE FUNCTION console_desk_change()
        """,
        """
        CREATE TRIGGER console_desk_update AFTER UPDATE OF desk ON lifecycle FOR EACH ROW
          WHEN (OLD.desk IS DISTINCT FROM NEW.desk) EXECUTE FUNCTION console_desk_change()
        """,
        """
        CREATE TRIGGER console_desk_delete AFTER DELETE ON lifecycle FOR EACH ROW
          WHEN (OLD.desk IS NOT NULL) EXECUTE FUNCTION console_desk_change()
        """,
    ]
}
