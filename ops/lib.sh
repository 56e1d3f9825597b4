# Shared helpers for the ops scripts.

# Packages the build and the test suite need from Debian.
PAGODA_APT_PACKAGES=(pkg-config librabbitmq-dev rabbitmq-server)

# Installs the missing packages (runs apt-get update once, only when something is missing).
ensure_packages() {
  local missing=()
  for p in "${PAGODA_APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}
