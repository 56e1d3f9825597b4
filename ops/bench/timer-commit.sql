-- What one timer batch's commit costs SQLite on a large database, without the service: the rows a batch
-- of 500 firings writes (each ticket's lifecycle row and timer row updated, one event row and one outbox
-- row inserted), for 500 tickets picked at random among those with timers in the last three days of due
-- times. Run it on a copy of a benchmark database (it changes the rows), e.g. after ops/bench/timers.sh:
--
--   sqlite3 /tmp/pagoda-timers/run.sqlite < ops/bench/timer-commit.sql
--   strace -f -c sqlite3 /tmp/pagoda-timers/run.sqlite < ops/bench/timer-commit.sql   # the system calls
--
-- It prints the time of each statement and of the commit, then the checkpoint's frame counts (the
-- pages the commit wrote to the WAL).
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
PRAGMA cache_size=-65536;
PRAGMA wal_checkpoint(PASSIVE);
CREATE TEMP TABLE pick AS SELECT ticket_id FROM timers WHERE due_at > (SELECT max(due_at) - 86400000*3 FROM timers) ORDER BY random() LIMIT 500;
.timer on
BEGIN IMMEDIATE;
-- A firing that keeps the phase and holder (a light, a reminder) does not name them: naming them, even
-- unchanged, rewrites the lifecycle_unit index entry (add "phase = phase, unit_id = unit_id," to see it).
UPDATE lifecycle SET version = version + 1, state = state, updated_at = updated_at + 1 WHERE ticket_id IN (SELECT ticket_id FROM pick);
UPDATE timers SET due_at = due_at + 3600000, token = token + 1 WHERE ticket_id IN (SELECT ticket_id FROM pick);
INSERT INTO events (ticket_id, type, at, payload_json) SELECT ticket_id, 'ticket.reminder', 1, '{"light":"yellow","clock":"sign","due":"2026-11-24T23:59:59+08:00"}' FROM pick;
INSERT INTO outbox (message_id, ticket_id, exchange, routing_key, content_type, headers_json, body, mandatory, created_at) SELECT 'm-' || ticket_id || '-' || abs(random()), ticket_id, 'pagoda.dispatch', 'x', 'application/json', '{}', randomblob(900), 1, 1 FROM pick;
COMMIT;
.timer off
PRAGMA wal_checkpoint(PASSIVE);
