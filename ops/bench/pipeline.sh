#!/usr/bin/env bash
# Pipeline benchmark on a private broker (port 5676, or PAGODA_BENCH_PORT): (a) a bare transport pipe,
# (b) `pagoda serve` and (c) a matched pipe doing serve's broker work (intake queue as serve's, each message
# to a unit queue and to pagoda.events, confirms, ack), (b) and (c) paired in alternating rounds with serve's
# share of (c); then latency at 500 tickets/s, and with --soak-seconds 600 a memory soak. Prints figures.
#   ops/bench/pipeline.sh [--count N] [--rounds N] [--rate R] [--latency-seconds S] [--soak-seconds S]
#                         [--synchronous full|normal] [--watch events|own]
# (b) watches the service's events queue, or with --watch own a queue of its own (a third copy of each message).
# BIN=DIR runs the pagoda and pagoda-bench binaries in DIR instead of building them.
set -euo pipefail
cd "$(dirname "$0")/../.."
source ops/lib.sh
ensure_packages
dir=$PWD/.build/bench-broker
# A clean broker every run: queues left by earlier runs (a soak leaves hundreds of thousands of
# messages) would slow it down and skew the figures.
ops/broker.sh stop "$dir" >/dev/null 2>&1 || true
rm -rf "$dir"
port=${PAGODA_BENCH_PORT:-5676}
ops/broker.sh start "$dir" "$port" >/dev/null
trap 'ops/broker.sh stop "$dir" >/dev/null 2>&1 || true' EXIT
if [ -n "${BIN:-}" ]; then
  bin=$BIN  # a directory with pagoda and pagoda-bench built elsewhere (paired runs of two versions)
else
  swift build -c release --product pagoda >/dev/null
  swift build -c release --product pagoda-bench >/dev/null
  bin=$(swift build -c release --show-bin-path)
fi
PAGODA_BENCH_BROKER_PID_FILE="$dir/rabbitmq.pid" "$bin/pagoda-bench" --amqp-url "amqp://guest:guest@127.0.0.1:$port/" --pagoda "$bin/pagoda" --rules rules "$@"
