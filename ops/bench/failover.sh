#!/usr/bin/env bash
# Failover benchmark (several nodes, one active): a three-node RabbitMQ cluster and its PostgreSQL
# (ops/cluster.sh on PAGODA_BENCH_FAILOVER_PORT, default 5990, to +3, state under .build/bench-failover; or the
# running cluster in PAGODA_FAILOVER_CLUSTER, left running), two `pagoda serve` (a release build, or the binary
# in PAGODA_BIN) on one database with tickets flowing at about 100 a second, and the active node killed with
# SIGKILL N times (default 10), restarted each time as the standby. Each failover is timed from the kill to
# the first dispatch the new active made (the first message with a dispatch sequence above the database's
# last one once the killed node had exited). Prints each time, the median and the maximum (goal: at most
# 10 s). Most of it is the lease's time to live (5 s) and the standby's next attempt (500 ms).
#   ops/bench/failover.sh [KILLS]
set -euo pipefail
cd "$(dirname "$0")/../.."
source ops/lib.sh
ensure_packages
kills=${1:-10}
if [ -z "${PAGODA_FAILOVER_CLUSTER:-}" ]; then
  export PAGODA_FAILOVER_CLUSTER=$PWD/.build/bench-failover
  ops/cluster.sh stop "$PAGODA_FAILOVER_CLUSTER" >/dev/null 2>&1 || true
  rm -rf "$PAGODA_FAILOVER_CLUSTER"
  ops/cluster.sh start "$PAGODA_FAILOVER_CLUSTER" "${PAGODA_BENCH_FAILOVER_PORT:-5990}" >/dev/null
  trap 'ops/cluster.sh stop "$PAGODA_FAILOVER_CLUSTER" >/dev/null 2>&1 || true' EXIT
fi
if [ -z "${PAGODA_BIN:-}" ]; then
  swift build -c release --product pagoda >/dev/null
  PAGODA_BIN=$(swift build -c release --show-bin-path)/pagoda
fi
export PAGODA_BIN PAGODA_FAILOVER_BENCH=$kills
swift build --build-tests >/dev/null
PAGODA_TEST_POSTGRES_URL=$(ops/cluster.sh urls "$PAGODA_FAILOVER_CLUSTER" | grep '^postgres://')
export PAGODA_TEST_POSTGRES_URL
swift test --skip-build --filter 'FailoverBenchmark' 2>&1 | grep -E '^failover|^  node|✘|recorded an issue|Test run'
