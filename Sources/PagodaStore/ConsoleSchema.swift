extension Schema {
    /// The console's read model (issue 21): what the board, the unit inboxes and the centre desk read,
    /// kept current in the transactions that change the tickets, so that no page scans the tickets.
    static let v5ConsolePagesReadModel = """
        -- Copied out of each lifecycle state when it is written (`StateWrite.console`): the light (NULL
        -- once the ticket is final, which is how the read model tells open tickets), the nearest deadline
        -- (9223372036854775807 for none, so that it sorts last), supervision (督办), the centre desk the
        -- ticket waits at, its category and whether it concerns an enterprise. States written before this
        -- migration have NULL lights until their next change.
        ALTER TABLE lifecycle ADD COLUMN light TEXT CHECK (light IN ('green', 'yellow', 'red'));
        ALTER TABLE lifecycle ADD COLUMN due_at INTEGER;
        ALTER TABLE lifecycle ADD COLUMN supervised INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE lifecycle ADD COLUMN desk TEXT CHECK (desk IN ('triage', 'return', 'extension', 'callback'));
        ALTER TABLE lifecycle ADD COLUMN category TEXT;
        ALTER TABLE lifecycle ADD COLUMN enterprise INTEGER NOT NULL DEFAULT 0;

        -- A unit's inbox, nearest deadline first; the red and supervised lists of the board; the desk.
        CREATE INDEX lifecycle_console_inbox ON lifecycle(unit_id, due_at) WHERE light IS NOT NULL;
        CREATE INDEX lifecycle_console_red ON lifecycle(due_at) WHERE light = 'red';
        CREATE INDEX lifecycle_console_supervised ON lifecycle(due_at) WHERE supervised = 1 AND light IS NOT NULL;
        CREATE INDEX lifecycle_console_desk ON lifecycle(desk, due_at) WHERE desk IS NOT NULL;

        -- Open tickets by holding unit ('' for none), light and supervision, kept by the triggers below
        -- in the transaction that changes a state.
        CREATE TABLE console_open_counts (
            unit_id    TEXT    NOT NULL,
            light      TEXT    NOT NULL,
            supervised INTEGER NOT NULL,
            n          INTEGER NOT NULL,
            PRIMARY KEY (unit_id, light, supervised)
        ) STRICT, WITHOUT ROWID;

        CREATE TRIGGER console_open_insert AFTER INSERT ON lifecycle WHEN NEW.light IS NOT NULL BEGIN
            INSERT INTO console_open_counts (unit_id, light, supervised, n)
              VALUES (coalesce(NEW.unit_id, ''), NEW.light, NEW.supervised, 1)
              ON CONFLICT DO UPDATE SET n = n + 1;
        END;
        CREATE TRIGGER console_open_update AFTER UPDATE OF unit_id, light, supervised ON lifecycle
          WHEN OLD.unit_id IS NOT NEW.unit_id OR OLD.light IS NOT NEW.light OR OLD.supervised IS NOT NEW.supervised BEGIN
            UPDATE console_open_counts SET n = n - 1
              WHERE unit_id = coalesce(OLD.unit_id, '') AND light = OLD.light AND supervised = OLD.supervised;
            INSERT INTO console_open_counts (unit_id, light, supervised, n)
              SELECT coalesce(NEW.unit_id, ''), NEW.light, NEW.supervised, 1 WHERE NEW.light IS NOT NULL
              ON CONFLICT DO UPDATE SET n = n + 1;
        END;
        CREATE TRIGGER console_open_delete AFTER DELETE ON lifecycle WHEN OLD.light IS NOT NULL BEGIN
            UPDATE console_open_counts SET n = n - 1
              WHERE unit_id = coalesce(OLD.unit_id, '') AND light = OLD.light AND supervised = OLD.supervised;
        END;

        -- Counts by day (China Standard Time, days since the epoch) and kind: 'intake' (the intake's own
        -- dispatch row), the lifecycle's event types, 'rejected' (intake rejections); and each day's first
        -- timeline row, where the console's rates of a day or a month start reading.
        CREATE TABLE console_day_counts (
            day  INTEGER NOT NULL,
            kind TEXT    NOT NULL,
            n    INTEGER NOT NULL,
            PRIMARY KEY (day, kind)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE console_days (
            day            INTEGER PRIMARY KEY NOT NULL,
            first_event_id INTEGER NOT NULL
        ) STRICT;

        CREATE TRIGGER console_event_day AFTER INSERT ON events BEGIN
            INSERT OR IGNORE INTO console_days (day, first_event_id) VALUES ((NEW.at + 28800000) / 86400000, NEW.id);
            INSERT INTO console_day_counts (day, kind, n)
              SELECT (NEW.at + 28800000) / 86400000,
                     CASE WHEN NEW.type = 'ticket.dispatched' AND substr(NEW.payload_json, 1, 9) <> '{"event":'
                          THEN 'intake' ELSE NEW.type END, 1
              WHERE NEW.type IN ('ticket.dispatched', 'ticket.escalated', 'ticket.closed', 'ticket.supervised',
                                 'ticket.overdue', 'ticket.replied', 'ticket.callback_recorded')
              ON CONFLICT DO UPDATE SET n = n + 1;
        END;
        CREATE TRIGGER console_rejection_day AFTER INSERT ON rejections BEGIN
            INSERT INTO console_day_counts (day, kind, n) VALUES ((NEW.created_at + 28800000) / 86400000, 'rejected', 1)
              ON CONFLICT DO UPDATE SET n = n + 1;
        END;
        """

    /// The console API's additions to the read model: every open ticket by its nearest deadline whatever
    /// its unit (the API's ticket list without a unit reads a page of it instead of sorting every open
    /// ticket), and the number of tickets waiting at each centre desk, kept by triggers like the open-ticket
    /// counters (the board and the centre desk read four rows instead of counting the desk index).
    static let v6ConsoleAPIReadModel = """
        CREATE INDEX lifecycle_console_open ON lifecycle(due_at) WHERE light IS NOT NULL;

        CREATE TABLE console_desk_counts (
            desk TEXT    PRIMARY KEY NOT NULL,
            n    INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;
        INSERT INTO console_desk_counts (desk, n)
          SELECT desk, count(*) FROM lifecycle WHERE desk IS NOT NULL GROUP BY desk;

        CREATE TRIGGER console_desk_insert AFTER INSERT ON lifecycle WHEN NEW.desk IS NOT NULL BEGIN
            INSERT INTO console_desk_counts (desk, n) VALUES (NEW.desk, 1) ON CONFLICT DO UPDATE SET n = n + 1;
        END;
        CREATE TRIGGER console_desk_update AFTER UPDATE OF desk ON lifecycle
          WHEN OLD.desk IS NOT NEW.desk BEGIN
            UPDATE console_desk_counts SET n = n - 1 WHERE desk = OLD.desk;
            INSERT INTO console_desk_counts (desk, n) SELECT NEW.desk, 1 WHERE NEW.desk IS NOT NULL
              ON CONFLICT DO UPDATE SET n = n + 1;
        END;
        CREATE TRIGGER console_desk_delete AFTER DELETE ON lifecycle WHEN OLD.desk IS NOT NULL BEGIN
            UPDATE console_desk_counts SET n = n - 1 WHERE desk = OLD.desk;
        END;
        """
}
