#!/usr/bin/env bash
# Benchmark of `pagoda simulate`: N tickets of virtual traffic (default 200,000) through the Foshan rules.
#
#   ops/bench/simulate.sh [N]
#
# Builds the release binary (swift build -c release --product pagoda), generates a scenario from the
# sample tickets (ops/bench/make_scenario.py: distinct ids, spread over DAYS virtual days, a share HANDLED
# signed, replied and called back, the rest left to climb the pagoda), runs the simulation with the output
# to OUT and prints tickets/s, events/s and peak RSS. The goal is >= 100,000 tickets/s.
#
# Environment: PAGODA (a binary to use instead of building), RULES (default rules), TEMPLATES (default
# examples/sample-tickets.jsonl), DAYS (3), HANDLED (0.98), OUT (/dev/null; a file to keep the
# events), WORK (a directory for the scenario; default a temporary one), JOBS (build jobs, 2).
#
# HANDLED is the share of unit tickets that the unit signs and answers. A city hotline's units sign for
# nearly every ticket (sign-for and on-time rates are assessed and published, typically 97-99%+), so 2%
# left entirely unattended is already pessimistic. Each unattended ticket climbs to the top and is then
# reminded every 1-4 hours for as long as the simulation runs, so with 0.85 the reminders of 15% ignored
# tickets were three quarters of all events and measured reminder traffic more than ticket throughput.
set -euo pipefail

N=${1:-200000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RULES=${RULES:-$ROOT/rules}
TEMPLATES=${TEMPLATES:-$ROOT/examples/sample-tickets.jsonl}
DAYS=${DAYS:-3}
HANDLED=${HANDLED:-0.98}
OUT=${OUT:-/dev/null}
GEN="$ROOT/ops/bench/make_scenario.py"

if [[ -z "${PAGODA:-}" ]]; then
    (cd "$ROOT" && swift build -c release --product pagoda -j "${JOBS:-2}" >&2)
    PAGODA="$ROOT/.build/release/pagoda"
fi
if [[ -z "${WORK:-}" ]]; then
    WORK=$(mktemp -d)
    trap 'rm -rf "$WORK"' EXIT
fi

# Where each template goes, and its deadlines: one pass of the templates through the simulator.
python3 "$GEN" templates "$TEMPLATES" > "$WORK/templates.jsonl"
last=$(python3 -c 'import json,sys; print(max(json.loads(l)["at"] for l in open(sys.argv[1]) if l.strip()))' "$WORK/templates.jsonl")
"$PAGODA" simulate --rules "$RULES" --scenario "$WORK/templates.jsonl" --until "$last" > "$WORK/dispatched.jsonl" 2>/dev/null

echo "generating $N tickets over $DAYS days ($HANDLED handled)..." >&2
python3 "$GEN" generate "$TEMPLATES" "$WORK/dispatched.jsonl" "$N" --days "$DAYS" --handled "$HANDLED" > "$WORK/scenario.jsonl"
echo "scenario: $(wc -l < "$WORK/scenario.jsonl") lines, $(du -h "$WORK/scenario.jsonl" | cut -f1)" >&2

/usr/bin/time -v "$PAGODA" simulate --rules "$RULES" --scenario "$WORK/scenario.jsonl" > "$OUT" 2> "$WORK/stderr.txt" || {
    cat "$WORK/stderr.txt" >&2
    exit 1
}
grep -E '^simulated ' "$WORK/stderr.txt"
summary=$(grep -E '^simulated ' "$WORK/stderr.txt")
rss=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$WORK/stderr.txt")
tps=$(sed -n 's/.* \([0-9]*\) tickets\/s.*/\1/p' <<< "$summary")
eps=$(sed -n 's/.* \([0-9]*\) events\/s.*/\1/p' <<< "$summary")
echo "tickets/s: $tps  events/s: $eps  peak RSS: $((rss / 1024)) MiB"
