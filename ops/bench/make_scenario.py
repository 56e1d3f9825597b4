#!/usr/bin/env python3
"""Scenario generator for `pagoda simulate` (ops/bench/simulate.sh).

    make_scenario.py templates TEMPLATES.jsonl > templates-scenario.jsonl
        One scenario line per template ticket, at its own received_at: run it through `pagoda simulate`
        to learn where each template is dispatched and its deadlines.

    make_scenario.py generate TEMPLATES.jsonl DISPATCHED.jsonl N [--days D] [--handled F] [--seed S]
        N tickets copied from the templates with distinct ids ("SIM-0000001"), spread uniformly over D
        virtual days from 2026-03-02T00:00:00+08:00, callers drawn from a pool of phones (so repeat
        complaints occur). A share F of the tickets that go to a unit are handled: the holding unit signs
        (at 30% of its sign limit) and replies (at 40% of its earliest other limit), and the hotline centre
        records a satisfied callback 1-6 hours later. The others are left alone and climb the pagoda.
        Lines are written in time order.
"""
import json
import random
import sys
from datetime import datetime, timedelta, timezone

CST = timezone(timedelta(hours=8))
START = datetime(2026, 3, 2, 0, 0, 0, tzinfo=CST)


def parse_time(s):
    return datetime.fromisoformat(s)


def fmt(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S+08:00")


def load_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def templates(path):
    for t in load_jsonl(path):
        sys.stdout.write(json.dumps({"at": t["received_at"], "ticket": t}, ensure_ascii=False) + "\n")


def template_plans(tickets, dispatched_path):
    """For each template: its unit and the sign / reply delays (seconds after receipt), or None."""
    first = {}
    for e in load_jsonl(dispatched_path):
        if e.get("event") == "ticket.dispatched" and e["ticket_id"] not in first:
            first[e["ticket_id"]] = e
    plans = []
    for t in tickets:
        e = first.get(t["id"])
        if not e or not e.get("unit") or not e.get("deadlines"):
            plans.append(None)  # handed off to an emergency line: nothing to do
            continue
        received = parse_time(t["received_at"])
        limits = {k: (parse_time(v) - received).total_seconds() for k, v in e["deadlines"].items()}
        sign = limits.get("sign_by", 3600) * 0.3
        others = [v for k, v in limits.items() if k != "sign_by"] or [sign * 3]
        reply = max(sign + 60, min(others) * 0.4)
        plans.append((e["unit"], sign, reply))
    return plans


def generate(templates_path, dispatched_path, n, days=3.0, handled=0.98, seed=12345):
    rnd = random.Random(seed)
    tickets = load_jsonl(templates_path)
    plans = template_plans(tickets, dispatched_path)
    span = days * 86400
    phones = max(1000, n // 4)
    lines = []  # (seconds since START, sequence, json text)
    seq = 0
    for i in range(n):
        k = i % len(tickets)
        t = dict(tickets[k])
        tid = "SIM-%07d" % (i + 1)
        at = START + timedelta(seconds=int(rnd.random() * span))
        t["id"] = tid
        t["received_at"] = fmt(at)
        t["caller"] = {"phone": "138%08d" % rnd.randrange(phones)}
        base = (at - START).total_seconds()
        lines.append((base, seq, json.dumps({"at": fmt(at), "ticket": t}, ensure_ascii=False)))
        seq += 1
        plan = plans[k]
        if plan is None or rnd.random() >= handled:
            continue
        unit, sign, reply = plan
        callback = reply + rnd.uniform(3600, 6 * 3600)
        for j, (delay, who, typ, extra) in enumerate([
            (sign, unit, "sign", {}),
            (reply, unit, "reply", {"outcome": "resolved", "text": "已处理并答复市民。"}),
            (callback, "triage", "callback_result", {"reached": True, "resolved": True, "satisfaction": "satisfied"}),
        ]):
            when = at + timedelta(seconds=int(delay))
            c = {"command_id": "%s-c%d" % (tid, j + 1), "ticket_id": tid, "unit": who, "type": typ, "at": fmt(when)}
            c.update(extra)
            lines.append((base + int(delay), seq, json.dumps({"at": fmt(when), "command": c}, ensure_ascii=False)))
            seq += 1
    lines.sort()
    out = sys.stdout
    for _, _, text in lines:
        out.write(text)
        out.write("\n")


def main(argv):
    if len(argv) >= 2 and argv[1] == "templates":
        templates(argv[2])
        return 0
    if len(argv) >= 5 and argv[1] == "generate":
        opts = {"--days": 3.0, "--handled": 0.98, "--seed": 12345}
        rest = argv[5:]
        while rest:
            key, value = rest[0], rest[1]
            if key not in opts:
                raise SystemExit("unknown option " + key)
            opts[key] = type(opts[key])(value)
            rest = rest[2:]
        generate(argv[2], argv[3], int(argv[4]), opts["--days"], opts["--handled"], opts["--seed"])
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
