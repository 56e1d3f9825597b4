#!/usr/bin/env bash
# A private PostgreSQL 15 on loopback, for the store's tests and for trying `pagoda serve --db postgres://...`.
#
#   ops/postgres.sh start DIR PORT   initdb into DIR/data (once) and start it on 127.0.0.1:PORT (idempotent)
#   ops/postgres.sh stop DIR         stop it (fast shutdown; the data stays)
#   ops/postgres.sh url DIR          the URL of its `pagoda` database
#
# DIR (e.g. .build/test-postgres) is owned by the `postgres` user with mode 0700, as initdb wants; the
# server runs as that user (when called as root), listens on 127.0.0.1 only (its Unix socket in DIR, not
# /var/run), and trusts connections from 127.0.0.1 only: every other host and every other way in is
# refused. A role `pagoda` with a database `pagoda` it owns is made on the first start. For tests and
# demos only: trust means no password; production uses its own server (docs/operations.md).
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[[ -n "$cmd" && -n "$dir" ]] || { echo "usage: $0 start DIR PORT | stop DIR | url DIR" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

pg_bin() {
    local b
    b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [[ -n "$b" ]] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
    echo "$b"
}

as_postgres() {
    if [[ "$(id -un)" == postgres ]]; then "$@"; else runuser -u postgres -- "$@"; fi
}

case "$cmd" in
start)
    port=${3:-}
    [[ -n "$port" ]] || { echo "usage: $0 start DIR PORT" >&2; exit 2; }
    bin=$(pg_bin)
    if [[ "$(id -u)" -eq 0 ]]; then chown postgres "$dir"; fi
    chmod 700 "$dir"
    if [[ ! -s "$dir/data/PG_VERSION" ]]; then
        as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=reject --encoding=UTF8 --locale=C.UTF-8 \
            >"$dir/initdb.log"
        # Loopback over TCP only, trusted; nothing else (the socket in DIR included) gets in.
        {
            echo "# ops/postgres.sh: tests and demos only"
            echo "host all all 127.0.0.1/32 trust"
        } >"$dir/data/pg_hba.conf"
        chmod 600 "$dir/data/pg_hba.conf"
        if [[ "$(id -u)" -eq 0 ]]; then chown postgres "$dir/data/pg_hba.conf"; fi
    fi
    echo "$port" >"$dir/port"
    if as_postgres "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        echo "postgres already running on 127.0.0.1:$port"
        exit 0
    fi
    # The server outlives this script: it must not keep the caller's descriptors (a test runner waits for
    # the end of its output pipes and sockets), so everything above stderr is closed for it.
    if ! (
        for fd in /proc/self/fd/*; do
            n=${fd##*/}
            if [[ $n -gt 2 ]]; then eval "exec $n>&-" 2>/dev/null || true; fi
        done
        as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c unix_socket_permissions=0700" start </dev/null >/dev/null
    ); then
        echo "postgres did not start on 127.0.0.1:$port; its log:" >&2
        tail -20 "$dir/server.log" >&2 || true
        exit 1
    fi
    psql=("$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qtA -v ON_ERROR_STOP=1)
    "${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname = 'pagoda'" | grep -q 1 ||
        "${psql[@]}" -c "CREATE ROLE pagoda LOGIN CREATEDB"
    "${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'pagoda'" | grep -q 1 ||
        "${psql[@]}" -c "CREATE DATABASE pagoda OWNER pagoda"
    echo "postgres started on 127.0.0.1:$port"
    ;;
stop)
    [[ -d "$dir/data" ]] || exit 0
    as_postgres "$(pg_bin)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    echo "postgres stopped"
    ;;
url)
    echo "postgres://pagoda@127.0.0.1:$(cat "$dir/port")/pagoda"
    ;;
*)
    echo "usage: $0 start DIR PORT | stop DIR | url DIR" >&2
    exit 2
    ;;
esac
