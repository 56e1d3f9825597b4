import GRDB

/// The store's schema, as named, append-only migrations.
///
/// Rules: never edit or reorder a registered migration, only append new ones;
/// migrations use raw SQL and no application types, so they keep meaning the
/// same thing as the code evolves. `eraseDatabaseOnSchemaChange` is never set.
///
/// Timestamps are INTEGER milliseconds since the Unix epoch (see `EpochMillis`).
enum Schema {
    /// Names of all migrations, in order. Append only.
    static let migrationNames = [
        "v1-intake", "v2-lifecycle", "v3-outbox-routing-keys", "v4-intake-rejection-actions",
        "v5-console-accounts", "v5-console-pages-read-model", "v6-console-api-read-model", "v8-inbox-message-ids",
        "v9-console-token-expiry",
    ]

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-intake") { db in
            try db.execute(sql: v1Intake)
        }
        migrator.registerMigration("v2-lifecycle") { db in
            try db.execute(sql: v2Lifecycle)
        }
        migrator.registerMigration("v3-outbox-routing-keys") { db in
            try db.execute(sql: v3OutboxRoutingKeys)
        }
        migrator.registerMigration("v4-intake-rejection-actions") { db in
            try db.execute(sql: v4IntakeRejectionActions)
        }
        migrator.registerMigration("v5-console-accounts") { db in
            try db.execute(sql: v5ConsoleAccounts)
        }
        migrator.registerMigration("v5-console-pages-read-model") { db in
            try db.execute(sql: v5ConsolePagesReadModel)
        }
        migrator.registerMigration("v6-console-api-read-model") { db in
            try db.execute(sql: v6ConsoleAPIReadModel)
        }
        migrator.registerMigration("v8-inbox-message-ids") { db in
            try db.execute(sql: v8InboxMessageIDs)
        }
        migrator.registerMigration("v9-console-token-expiry") { db in
            try db.execute(sql: v9ConsoleTokenExpiry)
        }
        return migrator
    }

    /// The messages tickets came in, looked up when a message is rejected: a message that was dispatched
    /// (its delivery come back unacknowledged) is a duplicate, whatever its body gives now.
    static let v8InboxMessageIDs = """
        CREATE INDEX inbox_amqp_message_id ON inbox (amqp_message_id) WHERE amqp_message_id IS NOT NULL;
        """

    /// API tokens expire. Those made before have 90 days from the migration.
    static let v9ConsoleTokenExpiry = """
        ALTER TABLE console_tokens ADD COLUMN expires_at INTEGER;
        UPDATE console_tokens SET expires_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000 + 90 * 86400000;
        """

    static let v1Intake = """
        -- Named counters. 'dispatch' is the global dispatch sequence; it lives
        -- here (not as MAX(inbox.dispatch_seq)) so pruning the inbox can never
        -- reuse a sequence number.
        CREATE TABLE sequences (
            name       TEXT    PRIMARY KEY NOT NULL,
            last_value INTEGER NOT NULL CHECK (last_value >= 0)
        ) STRICT;
        INSERT INTO sequences (name, last_value) VALUES ('dispatch', 0);

        CREATE TABLE tickets (
            id          TEXT    PRIMARY KEY NOT NULL CHECK (length(id) > 0),
            received_at INTEGER NOT NULL,
            body        BLOB    NOT NULL,
            state       TEXT    NOT NULL DEFAULT 'dispatched',
            unit_id     TEXT,
            created_at  INTEGER NOT NULL
        ) STRICT;

        -- Deduplication of intake deliveries, keyed by ticket id.
        CREATE TABLE inbox (
            ticket_id       TEXT    PRIMARY KEY NOT NULL REFERENCES tickets(id),
            amqp_message_id TEXT,
            dispatch_seq    INTEGER NOT NULL UNIQUE CHECK (dispatch_seq > 0),
            received_at     INTEGER NOT NULL
        ) STRICT;

        CREATE TABLE decisions (
            id               INTEGER PRIMARY KEY,
            ticket_id        TEXT    NOT NULL REFERENCES tickets(id),
            dispatch_seq     INTEGER NOT NULL CHECK (dispatch_seq > 0),
            destination_type TEXT    NOT NULL
                CHECK (destination_type IN ('unit', 'platform', 'triage', 'emergency')),
            unit_id          TEXT,
            level            TEXT,
            queue            TEXT    NOT NULL,
            rule_id          TEXT    NOT NULL,
            rule_file        TEXT    NOT NULL,
            rule_line        INTEGER NOT NULL,
            rules_hash       TEXT    NOT NULL,
            sla_profile      TEXT,
            category         TEXT,
            urgency          TEXT    NOT NULL,
            decision_json    BLOB    NOT NULL,
            created_at       INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX decisions_ticket_id ON decisions(ticket_id);

        CREATE TABLE deadlines (
            ticket_id TEXT    NOT NULL REFERENCES tickets(id),
            clock     TEXT    NOT NULL,
            due_at    INTEGER NOT NULL,
            PRIMARY KEY (ticket_id, clock)
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX deadlines_due_at ON deadlines(due_at);

        CREATE TABLE rejections (
            id              INTEGER PRIMARY KEY,
            amqp_message_id TEXT    UNIQUE,
            code            TEXT    NOT NULL,
            reason          TEXT    NOT NULL,
            body            BLOB    NOT NULL,
            created_at      INTEGER NOT NULL
        ) STRICT;

        -- Messages to publish. A row belongs to a ticket or a rejection (or,
        -- for future producers, to neither). sent_at is NULL until the broker
        -- confirmed the publish.
        CREATE TABLE outbox (
            id           INTEGER PRIMARY KEY AUTOINCREMENT,
            message_id   TEXT    NOT NULL UNIQUE CHECK (length(message_id) > 0),
            ticket_id    TEXT    REFERENCES tickets(id),
            rejection_id INTEGER REFERENCES rejections(id),
            exchange     TEXT    NOT NULL,
            routing_key  TEXT    NOT NULL,
            content_type TEXT    NOT NULL,
            headers_json TEXT    NOT NULL,
            body         BLOB    NOT NULL,
            mandatory    INTEGER NOT NULL CHECK (mandatory IN (0, 1)),
            created_at   INTEGER NOT NULL,
            sent_at      INTEGER,
            attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            CHECK (ticket_id IS NULL OR rejection_id IS NULL)
        ) STRICT;
        CREATE INDEX outbox_unsent ON outbox(id) WHERE sent_at IS NULL;
        CREATE INDEX outbox_ticket_id ON outbox(ticket_id) WHERE ticket_id IS NOT NULL;

        CREATE TABLE events (
            id           INTEGER PRIMARY KEY,
            ticket_id    TEXT    NOT NULL REFERENCES tickets(id),
            type         TEXT    NOT NULL,
            at           INTEGER NOT NULL,
            payload_json TEXT    NOT NULL
        ) STRICT;
        CREATE INDEX events_ticket_id ON events(ticket_id);
        """

    static let v2Lifecycle = """
        -- Each dispatched ticket's lifecycle state (an opaque, versioned blob the
        -- lifecycle engine reads and writes), with the phase and holder copied
        -- out for queries.
        CREATE TABLE lifecycle (
            ticket_id  TEXT    PRIMARY KEY NOT NULL REFERENCES tickets(id),
            version    INTEGER NOT NULL CHECK (version >= 0),
            phase      TEXT    NOT NULL,
            unit_id    TEXT,
            state      BLOB    NOT NULL,
            updated_at INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX lifecycle_unit ON lifecycle(unit_id, phase);

        -- At most one pending timer per ticket: when it next needs attention,
        -- and the state version it was set for (a timer whose token no longer
        -- matches does nothing).
        CREATE TABLE timers (
            ticket_id TEXT    PRIMARY KEY NOT NULL REFERENCES tickets(id),
            due_at    INTEGER NOT NULL,
            token     INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX timers_due_at ON timers(due_at, ticket_id);

        -- Worker commands already handled, by idempotency key.
        CREATE TABLE commands (
            command_id TEXT    PRIMARY KEY NOT NULL CHECK (length(command_id) > 0),
            ticket_id  TEXT    NOT NULL,
            type       TEXT    NOT NULL,
            outcome    TEXT    NOT NULL,
            at         INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;

        -- Repeat-complaint keys (caller phone or enterprise credit code, with
        -- the category) of recent tickets.
        CREATE TABLE repeat_keys (
            key         TEXT    NOT NULL,
            received_at INTEGER NOT NULL,
            ticket_id   TEXT    NOT NULL REFERENCES tickets(id),
            PRIMARY KEY (key, received_at, ticket_id)
        ) STRICT, WITHOUT ROWID;
        """

    static let v3OutboxRoutingKeys = """
        -- More routing keys for one message (a JSON array of strings, NULL for
        -- none), published in AMQP's BCC header: one lifecycle event reaches the
        -- events exchange and every queue it concerns as ONE publish.
        ALTER TABLE outbox ADD COLUMN extra_routing_keys TEXT;
        """

    static let v4IntakeRejectionActions = """
        -- Every issue of a rejection (a JSON array of {path, code, message});
        -- NULL for rejections recorded before this migration.
        ALTER TABLE rejections ADD COLUMN issues_json TEXT;

        -- What an operator did with a rejection: at most one action each, so a
        -- rejection without a row is open. 'resubmitted' published a body
        -- (the stored one or a fixed one, kept here) to intake with the
        -- message id given; 'dropped' gave it up, for the reason given.
        CREATE TABLE rejection_actions (
            rejection_id INTEGER PRIMARY KEY NOT NULL REFERENCES rejections(id) ON DELETE CASCADE,
            action       TEXT    NOT NULL CHECK (action IN ('resubmitted', 'dropped')),
            actor        TEXT    NOT NULL CHECK (length(actor) > 0),
            at           INTEGER NOT NULL,
            reason       TEXT,
            message_id   TEXT    UNIQUE,
            body         BLOB,
            CHECK (action <> 'dropped' OR (coalesce(length(reason), 0) > 0 AND message_id IS NULL AND body IS NULL)),
            CHECK (action <> 'resubmitted' OR (coalesce(length(message_id), 0) > 0 AND body IS NOT NULL))
        ) STRICT;
        """
}
