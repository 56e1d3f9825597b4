#!/usr/bin/env bash
# The failover suite (several nodes, one active): a three-node RabbitMQ cluster and its PostgreSQL on
# loopback (ops/cluster.sh, nodes on PAGODA_FAILOVER_PORT, default 5960, to +2, TLS on +10, Erlang
# distribution on +20000, PostgreSQL on +3, state under PAGODA_FAILOVER_CLUSTER, default
# .build/failover-cluster), and FailoverLiveTests: two `pagoda serve` on one database while the active one is
# killed (SIGKILL), frozen for 60 s (SIGSTOP) or PostgreSQL restarts. .ci/run calls it after ops/test.sh;
# it takes about 6 minutes on a loaded 2-core machine. PAGODA_FAILOVER_TICKETS sets the load (5000).
# Stops the cluster when it is done, unless it was running already.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=ops/lib.sh
source ops/lib.sh
ensure_packages

port=${PAGODA_FAILOVER_PORT:-5960}
export PAGODA_FAILOVER_CLUSTER=${PAGODA_FAILOVER_CLUSTER:-$PWD/.build/failover-cluster}
if ! ops/cluster.sh status "$PAGODA_FAILOVER_CLUSTER" >/dev/null 2>&1; then
  echo "== starting a three-node RabbitMQ cluster on 127.0.0.1:$port-$((port + 2)), PostgreSQL on $((port + 3))"
  rm -rf "$PAGODA_FAILOVER_CLUSTER"  # a fresh cluster: state left by an interrupted run stalls a node's start
  ops/cluster.sh start "$PAGODA_FAILOVER_CLUSTER" "$port"
  trap 'ops/cluster.sh stop "$PAGODA_FAILOVER_CLUSTER" >/dev/null 2>&1 || true' EXIT
fi
# The suite's databases are made on the cluster's PostgreSQL (TestPostgres reads this variable).
PAGODA_TEST_POSTGRES_URL=$(ops/cluster.sh urls "$PAGODA_FAILOVER_CLUSTER" | grep '^postgres://')
export PAGODA_TEST_POSTGRES_URL

echo "== build"
swift build --build-tests

echo "== failover suite"
log=.build/swift-test-failover.log
set +e
swift test --skip-build --filter FailoverLiveTests 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
exit_if_tests_failed "the failover suite" "$status" "$log"
