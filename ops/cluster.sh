#!/usr/bin/env bash
# A three-node RabbitMQ cluster and a private PostgreSQL on loopback, for tests and for trying Pagoda's
# several-node layout on one machine (docs/operations.md gives the production layout).
#
#   ops/cluster.sh start [DIR] [PORT]   start (idempotent): RabbitMQ nodes on 127.0.0.1:PORT, PORT+1 and
#                                       PORT+2 joined as one cluster, PostgreSQL 15 on 127.0.0.1:PORT+3
#   ops/cluster.sh stop [DIR]           stop PostgreSQL and the three nodes
#   ops/cluster.sh status [DIR]         the cluster's members and PostgreSQL's readiness
#   ops/cluster.sh urls [DIR]           the AMQP URLs (one per line) and the PostgreSQL URL
#
# DIR defaults to .build/cluster and PORT to 5780. Each node lives under DIR/node-N through ops/broker.sh
# (Erlang distribution on its PORT+20000, all on loopback); the nodes share one Erlang cookie, made here.
# PostgreSQL is ops/postgres.sh's under DIR/pg: owned by the `postgres` user, mode 0700, listening on
# 127.0.0.1 only, with a database `pagoda` owned by a role `pagoda` that logs in with trust on loopback
# (tests only).
set -euo pipefail
cd "$(dirname "$0")/.."

cmd=${1:-}
dir=${2:-.build/cluster}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
base_port() { if [[ -f "$dir/port" ]]; then cat "$dir/port"; else echo "${1:-5780}"; fi; }

pg_bin() {
    local b
    b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [[ -n "$b" ]] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
    echo "$b"
}

as_postgres() {
    if [[ "$(id -un)" == postgres ]]; then "$@"; else runuser -u postgres -- "$@"; fi
}

# PostgreSQL through ops/postgres.sh (one copy of the start logic): data under DIR/pg, owned by postgres.
start_postgres() { ops/postgres.sh start "$dir/pg" "$1"; }
stop_postgres() { ops/postgres.sh stop "$dir/pg"; }

case "$cmd" in
start)
    port=${3:-$(base_port 5780)}
    echo "$port" >"$dir/port"
    # One cookie for all three nodes, so that they can talk to each other.
    if [[ ! -s "$dir/cookie" ]]; then
        head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr 'a-f' 'A-F' >"$dir/cookie"
        chmod 400 "$dir/cookie"
    fi
    for n in 1 2 3; do
        node="$dir/node-$n"
        mkdir -p "$node"
        if [[ ! -s "$node/.erlang.cookie" ]]; then install -m 400 "$dir/cookie" "$node/.erlang.cookie"; fi
        ops/broker.sh start "$node" $((port + n - 1))
    done
    # Nodes 2 and 3 join node 1 unless they already belong to its cluster.
    first="pagoda-${port}@localhost"
    for n in 2 3; do
        if ! ops/broker.sh ctl "$dir/node-$n" cluster_status 2>/dev/null | grep -q "$first"; then
            ops/broker.sh ctl "$dir/node-$n" stop_app >/dev/null
            ops/broker.sh ctl "$dir/node-$n" join_cluster "$first" >/dev/null
            ops/broker.sh ctl "$dir/node-$n" start_app >/dev/null
        fi
    done
    ops/broker.sh ctl "$dir/node-1" await_online_nodes 3 >/dev/null
    echo "cluster of 3 nodes on 127.0.0.1:$port-$((port + 2))"
    start_postgres $((port + 3))
    ;;
stop)
    stop_postgres
    for n in 3 2 1; do
        [[ -d "$dir/node-$n" ]] && ops/broker.sh stop "$dir/node-$n" || true
    done
    ;;
status)
    port=$(base_port)
    # The running nodes from the JSON status, without a JSON tool (nothing beyond the packages of ops/lib.sh).
    nodes=$(ops/broker.sh ctl "$dir/node-1" cluster_status --formatter json |
        grep -o '"running_nodes":\[[^]]*\]' | sed 's/^"running_nodes":\[//; s/\]$//; s/"//g; s/,/ /g')
    [[ -n "$nodes" ]] || { echo "no running nodes" >&2; exit 1; }
    echo "running nodes: $nodes"
    as_postgres "$(pg_bin)/pg_isready" -h 127.0.0.1 -p $((port + 3))
    ;;
urls)
    port=$(base_port)
    for n in 0 1 2; do echo "amqp://guest:guest@127.0.0.1:$((port + n))/"; done
    echo "postgres://pagoda@127.0.0.1:$((port + 3))/pagoda"
    ;;
*)
    echo "usage: $0 start|stop|status|urls [DIR] [PORT]" >&2
    exit 2
    ;;
esac
