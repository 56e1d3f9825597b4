#!/usr/bin/env python3
"""The console benchmark's client (ops/bench/console.sh): logged in as a centre user, it measures
(1) the latency of the board, an inbox and ticket pages, one request at a time on a kept-alive
connection, and (2) the board's live update: while `pagoda-bench console-intake` publishes tickets at a
fixed rate, it reads /board/events and, for each ticket, the time from its publication (in its id) to
the first `update` whose timeline row id covers the ticket's first row, plus the /board/live fetch that
follows (what the page does). Prints p50/p99/max. It measures the API's board, inbox and ticket too."""
import http.client
import json
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time

HOST, PORT = os.environ["CONSOLE_HOST"], int(os.environ["CONSOLE_PORT"])
NAME, PASSWORD = os.environ["CONSOLE_USER"], os.environ["CONSOLE_PASSWORD"]
DB = os.environ["PAGODA_DB"]
POSTGRES = DB.startswith(("postgres://", "postgresql://"))


def query(sql):
    """Rows of a read-only query on the service's database: the SQLite file, or PostgreSQL through psql."""
    if POSTGRES:
        out = subprocess.run(["psql", "-X", "-A", "-t", "-F", "\t", DB, "-c", sql], check=True, capture_output=True, text=True)
        return [tuple(line.split("\t")) for line in out.stdout.splitlines() if line]
    db = sqlite3.connect(f"file:{DB}?mode=ro", uri=True)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()
REQUESTS = int(os.environ.get("REQUESTS", "500"))


def login():
    c = http.client.HTTPConnection(HOST, PORT, timeout=60)
    c.request("POST", "/api/v1/session", json.dumps({"name": NAME, "password": PASSWORD}), {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status
    return r.getheader("Set-Cookie").split(";")[0]


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))] if s else float("nan")


def measure(cookie, label, paths):
    c = http.client.HTTPConnection(HOST, PORT, timeout=60)
    times, size = [], 0
    for i, path in enumerate(paths):
        t = time.perf_counter()
        c.request("GET", path, headers={"Cookie": cookie})
        r = c.getresponse()
        body = r.read()
        dt = (time.perf_counter() - t) * 1000
        assert r.status == 200, f"{path}: {r.status} {body[:200]!r}"
        if i >= 3:  # the first requests warm the caches
            times.append(dt)
        size = len(body)
    print(f"{label:<34} p50 {pct(times, .5):7.1f} ms  p99 {pct(times, .99):7.1f} ms  max {max(times):7.1f} ms"
          f"  ({len(times)} requests, {size // 1024} KiB)")
    return times


def main():
    cookie = login()
    open_total = query("SELECT sum(n) FROM console_open_counts")[0][0]
    unit, held = query("SELECT unit_id, sum(n) FROM console_open_counts GROUP BY unit_id ORDER BY 2 DESC LIMIT 1")[0]
    # The unit nearest 10,000 open tickets (else the largest).
    near = query("SELECT unit_id, sum(n) s FROM console_open_counts GROUP BY unit_id ORDER BY abs(sum(n) - 10000) LIMIT 1")[0]
    if POSTGRES:
        ids = [r[0] for r in query("SELECT ticket_id FROM lifecycle TABLESAMPLE SYSTEM (1) LIMIT 400")]
    else:
        ids = [r[0] for r in query("SELECT ticket_id FROM lifecycle WHERE rowid IN (SELECT abs(random()) % (SELECT max(rowid) FROM lifecycle) + 1 FROM lifecycle LIMIT 400)")]
    print(f"open tickets: {open_total}; largest inbox {unit} ({held}); inbox measured {near[0]} ({near[1]})")
    # The month's rates are read once at start, on a thread of their own: wait until the whole month was
    # read (the API's rates.ready), so that the figures below are of a service at rest.
    t = time.time()
    c = http.client.HTTPConnection(HOST, PORT, timeout=60)
    while True:
        c.request("GET", "/api/v1/board", headers={"Cookie": cookie})
        r = c.getresponse()
        if json.loads(r.read())["rates"]["ready"]:
            break
        time.sleep(1)
    print(f"the month's rates were ready {time.time() - t:.0f} s after the first request")
    measure(cookie, "board (/board)", ["/board"] * REQUESTS)
    measure(cookie, "board live part (/board/live)", ["/board/live"] * REQUESTS)
    measure(cookie, f"inbox of {near[1]} (/units/..)", [f"/units/{near[0]}"] * REQUESTS)
    measure(cookie, f"inbox of {held}, page 100", [f"/units/{unit}?page=100"] * (REQUESTS // 3))
    measure(cookie, "ticket page (/tickets/..)", [f"/tickets/{random.choice(ids)}" for _ in range(REQUESTS)])
    measure(cookie, "API board (/api/v1/board)", ["/api/v1/board"] * REQUESTS)
    measure(cookie, f"API inbox of {near[1]}", [f"/api/v1/tickets?unit={near[0]}"] * REQUESTS)
    measure(cookie, "API ticket (/api/v1/tickets/..)", [f"/api/v1/tickets/{random.choice(ids)}" for _ in range(REQUESTS)])

    if os.environ.get("INTAKE_CMD"):
        live(cookie)


def live(cookie):
    updates = []  # (arrival ms, last event id)
    fetches = []
    stop = threading.Event()

    def reader():
        c = http.client.HTTPConnection(HOST, PORT, timeout=600)
        c.request("GET", "/board/events", headers={"Cookie": cookie, "Accept": "text/event-stream"})
        r = c.getresponse()
        assert r.status == 200, r.status
        fetch = http.client.HTTPConnection(HOST, PORT, timeout=60)
        event = None
        while not stop.is_set():
            line = r.fp.readline()
            if not line:
                break
            line = line.decode().rstrip("\n")
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "update":
                updates.append((time.time() * 1000, int(line[5:].strip())))
                t = time.perf_counter()
                fetch.request("GET", "/board/live", headers={"Cookie": cookie})
                fr = fetch.getresponse()
                fr.read()
                fetches.append((time.perf_counter() - t) * 1000)

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    time.sleep(1.5)
    # Only this run's tickets: a reused database holds the earlier runs' too.
    started_ms = int(time.time() * 1000)
    out = subprocess.run(os.environ["INTAKE_CMD"], shell=True, capture_output=True, text=True)
    print(out.stdout.strip())
    time.sleep(4)
    stop.set()
    first = [(t, int(i)) for t, i in query("SELECT ticket_id, min(id) FROM events WHERE ticket_id LIKE 'CB-%' GROUP BY ticket_id")
             if int(t.rsplit("-", 1)[1]) >= started_ms]
    delays, shown, missing = [], [], 0
    import bisect
    ids = [u[1] for u in updates]
    for ticket_id, row in first:
        sent = int(ticket_id.rsplit("-", 1)[1])
        i = bisect.bisect_left(ids, row)
        if i == len(ids):
            missing += 1
            continue
        delays.append(updates[i][0] - sent)
        if i < len(fetches):
            shown.append(updates[i][0] - sent + fetches[i])
    print(f"live update at the intake rate: {len(first)} tickets dispatched, {len(updates)} updates; publish -> update "
          f"p50 {pct(delays, .5):.0f} ms, p99 {pct(delays, .99):.0f} ms, max {max(delays) if delays else float('nan'):.0f} ms; "
          f"+ /board/live fetch p50 {pct(fetches, .5):.0f} ms, p99 {pct(fetches, .99):.0f} ms; publish -> board redrawn "
          f"p50 {pct(shown, .5):.0f} ms, p99 {pct(shown, .99):.0f} ms, max {max(shown) if shown else float('nan'):.0f} ms; "
          f"tickets without an update: {missing}")


if __name__ == "__main__":
    main()
