#!/usr/bin/env bash
# The cluster suite, after ops/test.sh (CI runs both): starts a three-node RabbitMQ cluster and its
# PostgreSQL with ops/cluster.sh (nodes on PAGODA_CLUSTER_PORT, default 6400, and the two ports above it,
# PostgreSQL on PORT+3, state under .build/cluster-PORT), runs ClusterLiveTests (5,000 tickets,
# PAGODA_CLUSTER_TICKETS, while the node serve uses is stopped) and stops the cluster. Builds first
# (nothing to do when ops/test.sh has just built). Run it as root, like ops/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=ops/lib.sh
source ops/lib.sh
ensure_packages

export PAGODA_CLUSTER_PORT=${PAGODA_CLUSTER_PORT:-6400}
export PAGODA_CLUSTER_DIR=${PAGODA_CLUSTER_DIR:-$PWD/.build/cluster-$PAGODA_CLUSTER_PORT}
echo "== starting a three-node RabbitMQ cluster on 127.0.0.1:$PAGODA_CLUSTER_PORT-$((PAGODA_CLUSTER_PORT + 2))"
# A fresh cluster every run: a node whose peers' state was left by an interrupted run waits minutes for them.
ops/cluster.sh stop "$PAGODA_CLUSTER_DIR" >/dev/null 2>&1 || true
rm -rf "$PAGODA_CLUSTER_DIR"
trap 'ops/cluster.sh stop "$PAGODA_CLUSTER_DIR" >/dev/null 2>&1 || true' EXIT
ops/cluster.sh start "$PAGODA_CLUSTER_DIR" "$PAGODA_CLUSTER_PORT"
export PAGODA_TEST_POSTGRES_URL
PAGODA_TEST_POSTGRES_URL=$(ops/cluster.sh urls "$PAGODA_CLUSTER_DIR" | grep '^postgres:')

echo "== build"
swift build --build-tests

echo "== swift test: ClusterLiveTests"
log=.build/swift-test-cluster.log
set +e
swift test --skip-build --filter ClusterLiveTests 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
exit_if_tests_failed "the cluster suite" "$status" "$log"
