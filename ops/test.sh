#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine: installs what the build needs, starts a private
# RabbitMQ on loopback (port 5673, state under .build/test-broker), builds, checks and tests the example
# rule set, runs every Swift test (the service suite starts a second private broker on port 5674, the
# queue-fault suite a third on 5905), and stops the brokers. A private PostgreSQL (port 5433, data under
# .build/test-postgres, PAGODA_TEST_POSTGRES_PORT) serves the store conformance suite unless
# PAGODA_TEST_POSTGRES_URL names one already. Safe to run again. Run it as root: the
# disk-full test mounts a 3 MB tmpfs under .build (and fails, saying so, when it cannot);
# PAGODA_DISK_FULL_TICKETS and PAGODA_DISK_FULL_RATE set its load.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=ops/lib.sh
source ops/lib.sh
ensure_packages

port=${PAGODA_TEST_PORT:-5673}
export PAGODA_TEST_BROKER_DIR=${PAGODA_TEST_BROKER_DIR:-$PWD/.build/test-broker}
# The ports of the brokers this script and the suites start, AMQP and Erlang distribution (AMQP + 20000).
brokers=("${PAGODA_SERVICE_TEST_PORT:-5674}" "${PAGODA_QUEUE_TEST_PORT:-5905}")
if [ -z "${PAGODA_TEST_AMQP_URL:-}" ]; then brokers+=("$port"); fi
for p in "${brokers[@]}"; do exit_if_ports_taken "$p" "$((p + 20000))"; done
if [ -z "${PAGODA_TEST_AMQP_URL:-}" ]; then
  export PAGODA_TEST_AMQP_URL="amqp://guest:guest@127.0.0.1:$port/"
  echo "== starting a private RabbitMQ on 127.0.0.1:$port"
  ops/broker.sh start "$PAGODA_TEST_BROKER_DIR" "$port"
  broker_started=1
  trap 'ops/broker.sh stop "$PAGODA_TEST_BROKER_DIR" >/dev/null 2>&1 || true; stop_service_broker' EXIT
  # Every listener of the node is on loopback, the Erlang distribution port included (the service suite
  # checks its own broker the same way, from /proc).
  if command -v ss >/dev/null 2>&1; then
    open=$(ss -Hltnp | grep "pid=$(cat "$PAGODA_TEST_BROKER_DIR/rabbitmq.pid")," | awk '{print $4}' |
      grep -v -E '^(127\.|\[::1\]|\[::ffff:127\.)' || true)
    if [ -n "$open" ]; then echo "the test broker listens beyond loopback: $open" >&2; exit 1; fi
  fi
fi
# The service suite starts its own broker (port ${PAGODA_SERVICE_TEST_PORT:-5674}, state under .build) because
# some of its tests restart it; stop it when the run ends.
# The queue-fault suite (QueueFaultTests) starts one more (port ${PAGODA_QUEUE_TEST_PORT:-5905}) because it deletes
# queues and runs several serve processes on one prefix.
export PAGODA_QUEUE_TEST_PORT=${PAGODA_QUEUE_TEST_PORT:-5905}
stop_service_broker() {
  local port
  for port in "${PAGODA_SERVICE_TEST_PORT:-5674}" "$PAGODA_QUEUE_TEST_PORT"; do
    [ -d ".build/test-broker-$port" ] && ops/broker.sh stop ".build/test-broker-$port" >/dev/null 2>&1 || true
  done
}

# The store conformance suite runs its tests against SQLite and a private PostgreSQL on loopback (trust
# auth for 127.0.0.1 only, data under .build, 0700, owned by the postgres user).
pg_dir=$PWD/.build/test-postgres
stop_postgres() { if [ -n "${pg_started:-}" ]; then ops/postgres.sh stop "$pg_dir" >/dev/null 2>&1 || true; fi; }
if [ -z "${PAGODA_TEST_POSTGRES_URL:-}" ]; then
  pg_port=${PAGODA_TEST_POSTGRES_PORT:-5433}
  echo "== starting a private PostgreSQL on 127.0.0.1:$pg_port"
  ops/postgres.sh start "$pg_dir" "$pg_port"
  pg_started=1
  export PAGODA_TEST_POSTGRES_URL
  PAGODA_TEST_POSTGRES_URL=$(ops/postgres.sh url "$pg_dir")
fi
cleanup() {
  if [ -n "${broker_started:-}" ]; then
    ops/broker.sh stop "$PAGODA_TEST_BROKER_DIR" >/dev/null 2>&1 || true
    stop_service_broker
  fi
  stop_postgres
}
trap cleanup EXIT

echo "== format: swift format lint (.swift-format)"
swift format lint --strict --recursive --parallel Sources Tests Package.swift

echo "== build"
swift build --build-tests

bin=$(swift build --show-bin-path)
echo "== rule set: check and test cases"
"$bin/pagoda" check rules
"$bin/pagoda" test rules

echo "== swift test"
# The service suite's logs are long: when a test fails, its issues are repeated at the end, where a CI
# log's tail shows them.
log=.build/swift-test.log
# The service layer's unit suites (fakes, no broker) run first, on their own: in the full run the live
# suites' child processes and brokers keep the test process's two cooperative threads busy long enough to
# overrun these suites' deadlines, which would then measure the load instead of the logic.
unit='IntakeUnitTests|OutboxRelayUnitTests|LifecycleUnitTests'
# The pure targets run on their own too: a few of their tests are long and CPU-bound (a 110,000-village town,
# the route index against a linear scan at 10,000 routes), and a synchronous test holds a cooperative thread
# until it ends. Two of them at once on a loaded 2-core machine stalled every other test for minutes, long
# enough to overrun the live suites' deadlines (the PostgreSQL suites' first connection among them).
pure='PagodaRulesTests\.|PagodaLifecycleTests\.|PagodaJSONTests\.'
set +e
{
  swift test --skip-build --filter "$unit" &&
    swift test --skip-build --filter "$pure" &&
    swift test --skip-build --skip "$unit|$pure"
} 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
exit_if_tests_failed "swift test" "$status" "$log"

# The service suites' brokers are done with: stop them before the console's own starts.
stop_service_broker
echo "== console: browser tests (headless Chromium)"
# Its own private broker on PAGODA_CONSOLE_BROKER_PORT (default 5935) and the console on
# PAGODA_CONSOLE_TEST_HTTP_PORT (default 8355); screenshots of every page under .build/console-screenshots.
ops/console-test.sh
# The same console on the PostgreSQL store (a fresh database on the test server).
ops/console-test.sh --postgres
