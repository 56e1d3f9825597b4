# Shared helpers for the ops scripts.

# Packages the build and the test suite need from Debian: rabbitmq-c headers (the AMQP transport),
# pkg-config (to find them), a RabbitMQ broker (started privately on loopback for tests and demos),
# openssl (the private broker's TLS listener gets certificates made on the spot), and PostgreSQL (the
# second store backend; ops/postgres.sh starts a private server on loopback for the store's tests).
PAGODA_APT_PACKAGES=(pkg-config librabbitmq-dev rabbitmq-server openssl postgresql)

# Installs the missing packages. Waits for the dpkg lock when another apt run holds it, and retries a
# failed download a few times.
ensure_packages() {
  local missing=()
  for p in "${PAGODA_APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "== installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  for attempt in 1 2 3 4 5; do
    if $sudo apt-get -o DPkg::Lock::Timeout=120 update -qq &&
       DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${missing[@]}" >/dev/null; then
      return 0
    fi
    echo "apt-get failed (attempt $attempt), retrying in 10 s" >&2
    sleep 10
  done
  return 1
}

# Ends the script when a `swift test` run failed (STATUS not 0): first repeats the issues it recorded in
# LOG, where a CI log's tail shows them (the suites' logs are long). NAME says which run it was.
exit_if_tests_failed() {
  local name=$1 status=$2 log=$3
  [ "$status" -eq 0 ] && return 0
  echo "== $name failed (exit $status); the issues it recorded:"
  grep -E -A12 '(✘|recorded an issue|Fatal error|Test .* failed)' "$log" | grep -v -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' | tail -150
  exit "$status"
}

# Ends the script when another program listens on one of PORTS: a broker that a hand-run test left behind in
# another checkout, say. Without this, every test that needs the port fails minutes later, less clearly.
# A listener whose RabbitMQ state is under this checkout is this suite's own, reused as before.
exit_if_ports_taken() {
  local port pid state
  for port in "$@"; do
    pid=$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)
    [ -z "$pid" ] && continue
    state=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sed -n 's/^RABBITMQ_MNESIA_BASE=//p' || true)
    case "$state" in "$PWD"/*) continue ;; esac
    echo "port $port is taken by pid $pid ($(tr '\0' ' ' <"/proc/$pid/comm" 2>/dev/null || echo unknown))" >&2
    if [ -n "$state" ]; then echo "it is a RabbitMQ node of another checkout: ops/broker.sh stop ${state%/mnesia}" >&2; fi
    exit 1
  done
}
