#!/usr/bin/env bash
# Sets up a fresh Debian machine as far as needed, starts a private RabbitMQ on loopback, builds Pagoda
# and runs `pagoda serve` on the Foshan rules with a local SQLite file. Ctrl-C stops the service
# gracefully; the broker keeps running (stop it with: ops/broker.sh stop .build/broker).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=ops/lib.sh
source ops/lib.sh
ensure_packages

port=${PAGODA_PORT:-5672}
broker_dir=${PAGODA_BROKER_DIR:-$PWD/.build/broker}
# Debian's rabbitmq-server package starts the system's own broker on 5672 and 25672 when it is installed:
# say so rather than fail in the middle of the broker's boot.
if ! (exit_if_ports_taken "$port" "$((port + 20000))"); then
  echo "stop the system's broker (systemctl disable --now rabbitmq-server) or choose other ports: PAGODA_PORT=5682 $0" >&2
  exit 1
fi
echo "== starting a private RabbitMQ on 127.0.0.1:$port (state in $broker_dir)"
ops/broker.sh start "$broker_dir" "$port"

echo "== building (release)"
swift build -c release --product pagoda
bin=$(swift build -c release --show-bin-path)/pagoda

export PAGODA_AMQP_URL=${PAGODA_AMQP_URL:-amqp://guest:guest@127.0.0.1:$port/}
db=${PAGODA_DB:-$PWD/pagoda.sqlite}
export PAGODA_STATUS_ADDRESS=${PAGODA_STATUS_ADDRESS:-127.0.0.1:9345}
export PAGODA_CONSOLE_ADDRESS=${PAGODA_CONSOLE_ADDRESS:-127.0.0.1:8345}

# The first admin of the web console: made once, with a random password printed once (only its bcrypt
# hash is kept). Later runs leave the users as they are (`pagoda user list --db $db`).
admin_note="users:             $bin user list --db $db   (add, disable, passwd, token: docs/operations.md)"
users=$("$bin" user list --db "$db")
if ! grep -q '^admin ' <<<"$users"; then
  admin_password=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
  printf '%s\n' "$admin_password" | "$bin" user add admin --role admin --password-stdin --db "$db" --rules rules >/dev/null
  admin_note="first admin:       admin / $admin_password   (printed this once; change it with \`$bin user passwd admin --password-stdin --db $db\`)"
fi
cat <<INFO

Pagoda is starting.
  in another shell:  export PAGODA_AMQP_URL=$PAGODA_AMQP_URL   (the commands below read it)
  publish tickets:   $bin publish examples/sample-tickets.jsonl
                     (or any AMQP client: exchange pagoda.intake, or queue pagoda.intake; contract in docs/contract.md)
  watch the queues:  ops/broker.sh ctl $broker_dir list_queues name messages
                     pagoda.unit.<unit-id>, pagoda.triage, pagoda.emergency, pagoda.platform,
                     pagoda.callback, pagoda.rejected, pagoda.events
  worker commands:   $bin publish --commands FILE.jsonl   (sign, contact, reply, callback_result...;
                     exchange pagoda.commands; contract in docs/contract.md)
  look up a ticket:  $bin show FS-20260302-0001 --db $db   (decision, clocks, timeline)
  note:              the sample tickets were received on 2026-03-02; their clocks ran out long ago, so
                     they climb the pagoda at once (use \`pagoda simulate\` to replay old traffic)
  rank the units:    $bin report --db $db   (response, completion, on-time, satisfaction, resolution rates)
  web console:       http://$PAGODA_CONSOLE_ADDRESS/   (login, board, inbox, centre desk; API under /api/v1: docs/api.md)
  $admin_note
  metrics, health:   curl http://$PAGODA_STATUS_ADDRESS/metrics   (also /health, /ready; docs/operations.md)
  change the rules:  edit rules/, run \`$bin check rules\`, then kill -HUP $$ (the service reloads them)
  database:          $db
INFO
if [ -s "$broker_dir/tls/client.pem" ]; then
  t=$broker_dir/tls
  cat <<INFO
  over TLS:          the broker also listens on 127.0.0.1:$((port + 10)) (mutual TLS, certificates for "localhost"):
                     PAGODA_AMQP_URL='amqps://guest:guest@localhost:$((port + 10))/?cacertfile=$t/ca.pem&certfile=$t/client.pem&keyfile=$t/client.key'
INFO
fi
echo
exec "$bin" serve --rules rules --db "$db"
