#!/usr/bin/env bash
# Benchmark of loading a large region tree: the Foshan rules with N villages (default 110,000) under one
# new town of 南海区, each with a 12-digit code, checked with `pagoda check`. The rules' unit templates
# (units.yaml, `each:`) give the town its office and every village its committee: N + 1 units expanded
# and escalated. Prints the regions file's size, the wall time and the peak RSS. The goal is under 5 s
# for 110,000 villages.
#
#   ops/bench/regions.sh [N]
#
# Environment: PAGODA (a binary to use instead of building the release one), RULES (default rules), WORK
# (a directory for the generated rules; default a temporary one), JOBS (build jobs, 2).
set -euo pipefail

N=${1:-110000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RULES=${RULES:-$ROOT/rules}

if [[ -z "${PAGODA:-}" ]]; then
    (cd "$ROOT" && swift build -c release --product pagoda -j "${JOBS:-2}" >&2)
    PAGODA="$ROOT/.build/release/pagoda"
fi
if [[ -z "${WORK:-}" ]]; then
    WORK=$(mktemp -d)
    trap 'rm -rf "$WORK"' EXIT
fi

cp "$RULES"/*.yaml "$WORK/"
# A town appended to 南海区's towns: the line after which it goes is that district's "towns:".
python3 - "$WORK/regions.yaml" "$N" <<'EOF'
import sys
path, n = sys.argv[1], int(sys.argv[2])
lines = open(path, encoding="utf-8").read().split("\n")
district = next(i for i, l in enumerate(lines) if l.strip() == "- name: 南海区")
towns = next(i for i in range(district, len(lines)) if lines[i].strip() == "towns:")
town = ["        - name: 基准镇", "          code: \"440605999\"", "          villages:"]
for v in range(n):
    town.append(f"            - name: 基准村{v:06d}")
    town.append(f"              code: \"440605{v:06d}\"")
lines[towns + 1:towns + 1] = town
open(path, "w", encoding="utf-8").write("\n".join(lines))
EOF
echo "regions.yaml: $N villages, $(du -h "$WORK/regions.yaml" | cut -f1)" >&2

status=0
/usr/bin/time -v "$PAGODA" check "$WORK" > "$WORK/stdout.txt" 2> "$WORK/stderr.txt" || status=$?
if [[ $status -ne 0 ]]; then
    grep -E 'error\[' "$WORK/stderr.txt" | head -20 >&2
    echo "pagoda check exited $status" >&2
    exit 1
fi
cat "$WORK/stdout.txt"
wall=$(sed -n 's/^[[:space:]]*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$WORK/stderr.txt")
rss=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$WORK/stderr.txt")
echo "villages: $N  wall: $wall  peak RSS: $((rss / 1024)) MiB"
