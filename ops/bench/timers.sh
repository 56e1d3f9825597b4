#!/usr/bin/env bash
# Timer benchmark (issue 4): 1,000,000 open tickets with running clocks in the database; restart to
# serving, timer lateness while 75,000 timers fall due over 90 s plus a burst of 20,000 at one second,
# peak resident memory of `pagoda serve`. Private broker on port 5677, files under $TIMERS_DIR.
#   ops/bench/timers.sh [--count N] [--window-count N] [--window-seconds S] [--burst N] [--overdue N] [--lead S]
# The ~905,000 tickets with far timers (received during their fill, first timer 24+ minutes after receipt)
# go into base.sqlite, which REUSE_BASE=1 reuses for a run within 15 minutes of its fill; each run copies
# it and adds the measured tickets (whose timers fall due during the run) to the copy. The events are
# watched on the service's events queue; WATCH=own binds a queue of the benchmark's instead (a third copy
# of each event for the broker, as in the figures before 2026-11-24).
set -euo pipefail
cd "$(dirname "$0")/../.."
source ops/lib.sh
ensure_packages
command -v sqlite3 >/dev/null || { apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null; }
dir=${TIMERS_DIR:-/tmp/pagoda-timers}
port=5677
swift build -c release --product pagoda >/dev/null
swift build -c release --product pagoda-bench >/dev/null
bin=$(swift build -c release --show-bin-path)
ops/broker.sh stop "$dir/broker" >/dev/null 2>&1 || true
rm -rf "$dir/broker" "$dir"/run.sqlite*
mkdir -p "$dir"
ops/broker.sh start "$dir/broker" $port >/dev/null
trap 'ops/broker.sh stop "$dir/broker" >/dev/null 2>&1 || true' EXIT

if [ "${REUSE_BASE:-0}" = 1 ] && [ -n "$(find "$dir/base.sqlite" -mmin -15 2>/dev/null)" ]; then
  echo "== reusing $dir/base.sqlite"
else
  rm -f "$dir"/base.sqlite*
  echo "== fill: tickets with far timers"
  "$bin/pagoda-bench" timers-fill --db "$dir/base.sqlite" --rules rules --phase background "$@"
fi
cp "$dir/base.sqlite" "$dir/run.sqlite"
[ ! -s "$dir/base.sqlite-wal" ] || cp "$dir/base.sqlite-wal" "$dir/run.sqlite-wal"
echo "== fill: measured tickets"
"$bin/pagoda-bench" timers-fill --db "$dir/run.sqlite" --rules rules --phase measured "$@" | tee "$dir/fill.log"
plan=$(grep '^plan ' "$dir/fill.log")
window_end=$(sed -n 's/.*window_end_ms=\([0-9]*\).*/\1/p' <<<"$plan")
expected=$(sed -n 's/.*expected=\([0-9]*\).*/\1/p' <<<"$plan")
echo "database: $(ls -l "$dir"/run.sqlite* | awk '{printf "%s %.0f MiB  ", $9, $5/1048576}')"
echo "tickets: $(sqlite3 "$dir/run.sqlite" 'SELECT COUNT(*) FROM lifecycle'), pending timers: $(sqlite3 "$dir/run.sqlite" 'SELECT COUNT(*) FROM timers')"

echo "== serve"
"$bin/pagoda-bench" timers-run --pagoda "$bin/pagoda" --db "$dir/run.sqlite" --rules rules \
  --amqp-url amqp://guest:guest@127.0.0.1:$port/ --window-end-ms "$window_end" --expected "$expected" --log "$dir/serve.log" \
  --watch "${WATCH:-events}" 2>/dev/null
echo "the service's own figures at shutdown (fire time minus due time, every firing including the overdue ones):"
grep -E 'timer lateness|\] stopped' "$dir/serve.log" | sed 's/^/  /'
