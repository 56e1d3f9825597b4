#!/usr/bin/env bash
# Browser tests of the web console: a real headless Chromium (Debian's chromium and chromium-driver,
# driven by Selenium from PyPI; nothing downloaded at run time) against `pagoda serve` on a private
# RabbitMQ and a fresh SQLite file, or with `--postgres` a fresh database on the PostgreSQL server that
# PAGODA_TEST_POSTGRES_URL names (ops/test.sh starts one). Installs what it needs, builds if asked
# (ops/test.sh has built already), runs ops/console_test.py, and saves a screenshot of each page under
# .build/console-screenshots[-postgres] (look at them after a failure).
#
#   ops/console-test.sh [--build] [--postgres]
#
# Ports (loopback): the broker on PAGODA_CONSOLE_BROKER_PORT (default 5935; it also takes +10 and
# +20000), the console on PAGODA_CONSOLE_TEST_HTTP_PORT (default 8355).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=ops/lib.sh
source ops/lib.sh
PAGODA_APT_PACKAGES+=(chromium chromium-driver fonts-wqy-microhei python3-pip)
ensure_packages
if ! python3 -c 'import selenium' 2>/dev/null; then
  echo "== installing selenium (PyPI)"
  python3 -m pip install -q selenium 2>/dev/null || python3 -m pip install -q --break-system-packages selenium
fi

store=sqlite
for arg in "$@"; do
  case "$arg" in
    --build) swift build --product pagoda ;;
    --postgres) store=postgres ;;
    *) echo "usage: $0 [--build] [--postgres]" >&2; exit 2 ;;
  esac
done
bin=$(swift build --show-bin-path)/pagoda
[ -x "$bin" ] || { echo "no $bin: build first (swift build)" >&2; exit 1; }

port=${PAGODA_CONSOLE_BROKER_PORT:-5935}
http=${PAGODA_CONSOLE_TEST_HTTP_PORT:-8355}
dir=$PWD/.build/console-test
rm -rf "$dir" && mkdir -p "$dir"
export PAGODA_AMQP_URL="amqp://guest:guest@127.0.0.1:$port/"
export PAGODA_PREFIX="consoletest"
db=$dir/pagoda.sqlite
shots=$PWD/.build/console-screenshots
if [ "$store" = postgres ]; then
  [ -n "${PAGODA_TEST_POSTGRES_URL:-}" ] || { echo "--postgres needs PAGODA_TEST_POSTGRES_URL (ops/postgres.sh url DIR)" >&2; exit 2; }
  name="consoletest_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  psql -q -X -v ON_ERROR_STOP=1 "$PAGODA_TEST_POSTGRES_URL" -c "CREATE DATABASE $name" >/dev/null
  db="${PAGODA_TEST_POSTGRES_URL%/*}/$name"
  shots=$PWD/.build/console-screenshots-postgres
fi

serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null || true
  ops/broker.sh stop "$dir/broker" >/dev/null 2>&1 || true
  if [ "$store" = postgres ]; then
    psql -q -X "$PAGODA_TEST_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

echo "== console test: private RabbitMQ on 127.0.0.1:$port"
ops/broker.sh start "$dir/broker" "$port"

# The worker's unit is where the test's ticket routes (南海区狮山镇, living environment).
worker_unit=$(printf '%s\n' '{"id":"PROBE-1","received_at":"2026-03-02T09:53:00+08:00","channel":"hotline","kind":"complaint","region":{"district":"南海区","town":"狮山镇"},"text":"河涌受到污染","category":"living_environment"}' |
  "$bin" route --rules rules --json - | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["destination"]["unit"])')
password="console-test-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
for user in "lin.worker --role worker --unit $worker_unit" "zhou.centre --role centre" "wu.admin --role admin"; do
  # shellcheck disable=SC2086
  printf '%s\n' "$password" | "$bin" user add $user --password-stdin --rules rules --db "$db" >/dev/null
done

echo "== console test: pagoda serve on $store, console on 127.0.0.1:$http"
"$bin" serve --rules rules --db "$db" --console-address "127.0.0.1:$http" --log-level warning >"$dir/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 240); do
  curl -fsS -o /dev/null "http://127.0.0.1:$http/login" 2>/dev/null && break
  kill -0 "$serve_pid" 2>/dev/null || { echo "pagoda serve exited:"; tail -30 "$dir/serve.log"; exit 1; }
  sleep 0.5
done

CONSOLE_URL="http://127.0.0.1:$http" PAGODA_BIN="$bin" CONSOLE_PASSWORD="$password" CONSOLE_WORKER=lin.worker \
  CONSOLE_WORKER_UNIT="$worker_unit" CONSOLE_CENTRE=zhou.centre CONSOLE_ADMIN=wu.admin \
  SCREENSHOTS="$shots" python3 ops/console_test.py || {
  echo "== console test failed; the service's log:"; tail -40 "$dir/serve.log"; exit 1; }
