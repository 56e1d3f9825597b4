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
