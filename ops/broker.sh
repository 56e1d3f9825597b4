#!/usr/bin/env bash
# Private RabbitMQ node for Pagoda's transport tests.
#
#   ops/broker.sh start DIR PORT   start (idempotent) and wait for boot; AMQP on 127.0.0.1:PORT, and
#                                  AMQP over TLS on 127.0.0.1:PORT+10 when openssl is installed
#                                  (certificates under DIR/tls, see make_certificates)
#   ops/broker.sh stop DIR         stop the node and wait for it to exit
#   ops/broker.sh ctl DIR ARGS...  run rabbitmqctl against the node
#
# Every listener of the node is on 127.0.0.1: AMQP, AMQP over TLS, Erlang distribution (PORT+20000) and
# epmd when this script starts it.
#
# Everything (mnesia, logs, config, the Erlang cookie) lives under DIR; HOME is
# pointed at DIR so rabbitmq-server and rabbitmqctl share the cookie even when
# run as root with a clean environment (CI).
set -euo pipefail

export PATH="/usr/lib/rabbitmq/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
RMQ_BIN=/usr/lib/rabbitmq/bin

usage() {
    echo "usage: $0 start DIR PORT | stop DIR | ctl DIR ARGS..." >&2
    exit 2
}

[[ $# -ge 2 ]] || usage
cmd=$1
dir=$2
shift 2
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

setup_env() {
    local port=$1
    export HOME="$dir"
    export RABBITMQ_NODENAME="pagoda-${port}@localhost"
    export RABBITMQ_NODE_PORT="$port"
    export RABBITMQ_DIST_PORT=$((port + 20000))
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_MNESIA_BASE="$dir/mnesia"
    export RABBITMQ_LOG_BASE="$dir/log"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
    export RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
    export RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config"
    export RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
    export RABBITMQ_PID_FILE="$dir/rabbitmq.pid"
    export ERL_EPMD_ADDRESS=127.0.0.1
    # Erlang distribution (the node's PORT+20000, and the short-lived node each rabbitmqctl call starts)
    # listens on loopback only; by default it takes every interface. Anyone reaching it with the cookie
    # controls the node.
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

node_port() {
    if [[ -f "$dir/port" ]]; then cat "$dir/port"; else echo "no port recorded in $dir (not started?)" >&2; exit 1; fi
}

ctl() {
    "$RMQ_BIN/rabbitmqctl" -n "$RABBITMQ_NODENAME" "$@"
}

# Certificates for the TLS listener, made once per DIR (valid 10 years), under DIR/tls:
#   ca.pem                    the CA that signed the others
#   server.pem, server.key    the broker's, for DNS name "localhost" only (no IP address), so a client
#                             connecting to 127.0.0.1 with hostname verification must fail
#   client.pem, client.key    a client certificate (CN pagoda-test-client) for mutual TLS
#   other-ca.pem              an unrelated CA, which must not verify the broker
make_certificates() {
    local t="$dir/tls"
    [[ -s "$t/client.pem" ]] && return 0
    mkdir -p "$t"
    (
        cd "$t"
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Pagoda test CA" \
            -keyout ca.key -out ca.pem 2>/dev/null
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Unrelated CA" \
            -keyout other-ca.key -out other-ca.pem 2>/dev/null
        printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
        openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
            -extfile server.ext -out server.pem 2>/dev/null
        printf 'extendedKeyUsage=clientAuth\n' >client.ext
        openssl req -newkey rsa:2048 -nodes -subj "/CN=pagoda-test-client" -keyout client.key -out client.csr 2>/dev/null
        openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
            -extfile client.ext -out client.pem 2>/dev/null
        chmod 644 ./*.pem ./*.key
    )
}

node_running() {
    ctl status >/dev/null 2>&1
}

server_pid() {
    [[ -f "$dir/server.pid" ]] && cat "$dir/server.pid" || true
}

case "$cmd" in
start)
    [[ $# -ge 1 ]] || usage
    port=$1
    echo "$port" >"$dir/port"
    setup_env "$port"
    mkdir -p "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
    if [[ ! -s "$dir/.erlang.cookie" ]]; then
        head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr 'a-f' 'A-F' >"$dir/.erlang.cookie"
    fi
    chmod 400 "$dir/.erlang.cookie"
    : >"$RABBITMQ_ENABLED_PLUGINS_FILE"
    : >"$RABBITMQ_CONF_ENV_FILE"
    echo "[]." >"$RABBITMQ_ADVANCED_CONFIG_FILE"
    cat >"$RABBITMQ_CONFIG_FILE" <<EOF
listeners.tcp.default = 127.0.0.1:${port}
loopback_users.guest = true
disk_free_limit.absolute = 50MB
vm_memory_high_watermark.relative = 0.4
log.console = false
log.file.level = info
EOF
    if command -v openssl >/dev/null 2>&1; then
        make_certificates
        cat >>"$RABBITMQ_CONFIG_FILE" <<EOF
listeners.ssl.default = 127.0.0.1:$((port + 10))
ssl_options.cacertfile = $dir/tls/ca.pem
ssl_options.certfile = $dir/tls/server.pem
ssl_options.keyfile = $dir/tls/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = true
ssl_options.versions.1 = tlsv1.3
ssl_options.versions.2 = tlsv1.2
EOF
    fi
    if node_running; then
        echo "broker already running: $RABBITMQ_NODENAME on 127.0.0.1:$port"
        exit 0
    fi
    # Close every inherited descriptor above stderr before detaching: a caller that detects our
    # exit through an inherited pipe/socket (e.g. Foundation's Process) would otherwise wait for
    # the broker to exit too.
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            if [[ $fd -gt 2 ]]; then eval "exec $fd>&-" 2>/dev/null || true; fi
        done
        exec setsid "$RMQ_BIN/rabbitmq-server" >"$dir/server.out" 2>&1 </dev/null
    ) &
    echo $! >"$dir/server.pid"
    for _ in $(seq 1 120); do
        if ctl await_startup --timeout 5 >/dev/null 2>&1; then
            echo "broker started: $RABBITMQ_NODENAME on 127.0.0.1:$port"
            exit 0
        fi
        pid=$(server_pid)
        if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
            echo "rabbitmq-server exited during boot; see $dir/server.out and $dir/log" >&2
            tail -n 30 "$dir/server.out" >&2 || true
            exit 1
        fi
        sleep 0.5
    done
    echo "timed out waiting for broker boot" >&2
    exit 1
    ;;
stop)
    port=$(node_port)
    setup_env "$port"
    if node_running; then
        ctl stop >/dev/null 2>&1 || true
    fi
    pid=$(server_pid)
    if [[ -n "$pid" ]]; then
        for _ in $(seq 1 120); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "broker did not stop in time; killing process group $pid" >&2
            kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        fi
        rm -f "$dir/server.pid"
    fi
    echo "broker stopped: $RABBITMQ_NODENAME"
    ;;
ctl)
    port=$(node_port)
    setup_env "$port"
    ctl "$@"
    ;;
*)
    usage
    ;;
esac
