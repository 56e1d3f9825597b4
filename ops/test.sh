#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine: installs what the build needs, builds, runs the
# Swift tests and the example rule set's own test cases. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=ops/lib.sh
source ops/lib.sh
ensure_packages

echo "== build"
swift build --build-tests

echo "== rule set: check and test cases"
"$(swift build --show-bin-path)/pagoda" check rules
"$(swift build --show-bin-path)/pagoda" test rules

echo "== swift test"
swift test --skip-build
