#!/usr/bin/env bash
# Console benchmark (issue 21, §6): COUNT (default 1,000,000) open tickets in the database, written
# through the real intake path (`pagoda-bench console-seed`: IntakeProcessor, LifecycleCodec,
# DispatchStore.recordDispatches, so the console's counters and indexes are kept as in service), one
# town unit holding exactly INBOX (default 10,000) of them; then `pagoda serve` with the console, and a
# client logged in as the centre measures the board, the inbox of INBOX tickets (and a deep page of it),
# ticket pages and the same data through the API, one request at a time; then the board's live update
# (Server-Sent Events, then the /board/live fetch the page makes) while tickets arrive at RATE (default
# 500) a second for SECONDS_ (default 20) through the broker. Release build; private broker on port
# BENCH_PORT (default 5679; it also uses +10 and +20000), console on 127.0.0.1:BENCH_HTTP_PORT (default
# 8356); files under $CONSOLE_DIR. PAGODA_BIN=DIR uses the binaries in DIR instead of building.
# STORE=postgres copies the seeded file into a private PostgreSQL (`pagoda migrate`; ops/postgres.sh, port
# BENCH_PG_PORT, default 5434, data under $CONSOLE_DIR/postgres) and serves the console from there.
#   COUNT=1000000 ops/bench/console.sh
#   REUSE_BASE=1 ops/bench/console.sh        # the same database (within about 20 minutes of its seeding)
#   STORE=postgres REUSE_BASE=1 ops/bench/console.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
source ops/lib.sh
ensure_packages
dir=${CONSOLE_DIR:-/tmp/pagoda-console-bench}
port=${BENCH_PORT:-5679}
http=${BENCH_HTTP_PORT:-8356}
count=${COUNT:-1000000}
if [ -n "${PAGODA_BIN:-}" ]; then
  bin=$PAGODA_BIN
else
  swift build -c release --product pagoda >/dev/null
  swift build -c release --product pagoda-bench >/dev/null
  bin=$(swift build -c release --show-bin-path)
fi
mkdir -p "$dir"
ops/broker.sh stop "$dir/broker" >/dev/null 2>&1 || true
rm -rf "$dir/broker"
ops/broker.sh start "$dir/broker" "$port" >/dev/null
serve_pid=""
store=${STORE:-sqlite}
trap '[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null; ops/broker.sh stop "$dir/broker" >/dev/null 2>&1 || true
  [ "$store" = postgres ] && ops/postgres.sh stop "$dir/postgres" >/dev/null 2>&1 || true' EXIT

if [ "${REUSE_BASE:-0}" = 1 ] && [ -s "$dir/console.sqlite" ]; then
  echo "== reusing $dir/console.sqlite"
else
  rm -f "$dir"/console.sqlite*
  echo "== seed: $count open tickets through the intake path"
  /usr/bin/time -f "seed: %e s, %M KiB peak" "$bin/pagoda-bench" console-seed --db "$dir/console.sqlite" --rules rules \
    --tickets "$count" --inbox "${INBOX:-10000}" | tail -3
fi
echo "database: $(du -m "$dir/console.sqlite" | cut -f1) MiB"
db=$dir/console.sqlite
if [ "$store" = postgres ]; then
  ops/postgres.sh start "$dir/postgres" "${BENCH_PG_PORT:-5434}" >/dev/null
  base=$(ops/postgres.sh url "$dir/postgres")
  psql -q -X -v ON_ERROR_STOP=1 "$base" -c "DROP DATABASE IF EXISTS console_bench WITH (FORCE)" -c "CREATE DATABASE console_bench"
  db="${base%/*}/console_bench"
  echo "== copy into PostgreSQL ($db)"
  /usr/bin/time -f "migrate: %e s" "$bin/pagoda" migrate --from "$dir/console.sqlite" --to "$db" | tail -2
  psql -q -X "$db" -c "SET client_min_messages = error" -c "VACUUM ANALYZE"
fi
password="bench-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\n' "$password" | "$bin/pagoda" user add bench.centre --role centre --password-stdin --rules rules --db "$db" \
  >/dev/null 2>&1 || printf '%s\n' "$password" | "$bin/pagoda" user passwd bench.centre --password-stdin --db "$db" >/dev/null

echo "== serve on $store (load average $(cut -d' ' -f1-3 /proc/loadavg))"
"$bin/pagoda" serve --rules rules --db "$db" --amqp-url "amqp://guest:guest@127.0.0.1:$port/" \
  --console-address "127.0.0.1:$http" --log-level warning >"$dir/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 600); do
  curl -fsS -o /dev/null "http://127.0.0.1:$http/login" 2>/dev/null && break
  kill -0 "$serve_pid" 2>/dev/null || { tail -20 "$dir/serve.log"; exit 1; }
  sleep 0.5
done

CONSOLE_HOST=127.0.0.1 CONSOLE_PORT=$http CONSOLE_USER=bench.centre CONSOLE_PASSWORD=$password PAGODA_DB="$db" \
  INTAKE_CMD="$bin/pagoda-bench console-intake --amqp-url amqp://guest:guest@127.0.0.1:$port/ --rate ${RATE:-500} --seconds ${SECONDS_:-20}" \
  python3 ops/bench/console_measure.py
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "serve peak resident memory: $(grep VmHWM /proc/$serve_pid/status | awk '{printf "%.0f MiB", $2/1024}')"
