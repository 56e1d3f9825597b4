#!/usr/bin/env bash
# Throughput and latency of `pagoda serve` on PostgreSQL (synchronous_commit on, PostgreSQL's default)
# with a three-node RabbitMQ cluster, on this machine (issue 23's goals: at least 1,000 tickets/s, and
# p99 publish -> unit queue at most 100 ms at 200 tickets/s). Starts the cluster and its PostgreSQL with
# ops/cluster.sh (nodes on PAGODA_BENCH_CLUSTER_PORT, default 5790, and the two ports above it,
# PostgreSQL on PORT+3, state under .build/bench-cluster-PORT), runs pagoda-bench --serve-only with every
# node's URL and a new database per round, and stops the cluster.
#   ops/bench/cluster.sh [--count N] [--rounds N] [--rate R] [--latency-seconds S]
# BIN=DIR runs the pagoda and pagoda-bench binaries in DIR instead of building them (release).
set -euo pipefail
cd "$(dirname "$0")/../.."
source ops/lib.sh
ensure_packages
port=${PAGODA_BENCH_CLUSTER_PORT:-5790}
dir=$PWD/.build/bench-cluster-$port
# A fresh cluster every run: queues left by earlier runs would slow it down and skew the figures.
ops/cluster.sh stop "$dir" >/dev/null 2>&1 || true
rm -rf "$dir"
trap 'ops/cluster.sh stop "$dir" >/dev/null 2>&1 || true' EXIT
ops/cluster.sh start "$dir" "$port" >/dev/null
if [ -n "${BIN:-}" ]; then
  bin=$BIN
else
  swift build -c release --product pagoda >/dev/null
  swift build -c release --product pagoda-bench >/dev/null
  bin=$(swift build -c release --show-bin-path)
fi
mapfile -t urls < <(ops/cluster.sh urls "$dir")
amqp=()
for u in "${urls[@]}"; do [[ $u == amqp://* ]] && amqp+=(--amqp-url "$u"); done
pg=$(printf '%s\n' "${urls[@]}" | grep '^postgres://')
echo "synchronous_commit: $(psql "$pg" -At -c 'SHOW synchronous_commit')"
"$bin/pagoda-bench" "${amqp[@]}" --postgres "$pg" --pagoda "$bin/pagoda" --rules rules --serve-only \
  --rounds 1 --rate 200 "$@"
