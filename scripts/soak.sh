#!/usr/bin/env bash
# The soak test of docs/operations.md ("Soak"): builds the release binary and runs `consentinel bench soak` with it.
#   scripts/soak.sh [--hours H] [--rate R] [--output FILE.csv] [other bench soak options…]
# Run it under nohup for long soaks: nohup scripts/soak.sh --hours 1 > /tmp/soak.out 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."

hours=1
rate=500
output="/tmp/consentinel-soak-$(date -u +%Y%m%dT%H%M%SZ).csv"
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --hours) hours="$2"; shift 2 ;;
        --rate) rate="$2"; shift 2 ;;
        --output) output="$2"; shift 2 ;;
        -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
        *) extra+=("$1"); shift ;;
    esac
done
seconds=$(awk -v h="$hours" 'BEGIN { printf "%d", h * 3600 }')

swift build -c release --product consentinel
echo "soak: ${hours} h at ${rate} msg/s, CSV in ${output}"
exec .build/release/consentinel bench soak --duration "$seconds" --rate "$rate" --output "$output" "${extra[@]+"${extra[@]}"}"
