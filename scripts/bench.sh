#!/usr/bin/env bash
# scripts/bench.sh - benchmarks (not tests): raw nng pub/sub on ipc versus
# opcenter's durable hop (journal + cursor, producer and consumer
# processes, group commit), 256-byte messages.  Release build in
# build/bench.  Usage: scripts/bench.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
N=${1:-200000}
B=${BUILD_DIR:-build/bench}
cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DOPC_TESTS=ON >/dev/null
cmake --build "$B" -j"$(nproc)" --target bench_raw bench_hop opc-testprod opc-testcons >/dev/null
d=$(mktemp -d /tmp/opcb.XXXXXX)
trap 'rm -rf "$d"' EXIT
raw=$("$B"/bench/bench_raw -n "$N" -s 256 -d "$d")
echo "$raw"
hop=$("$B"/bench/bench_hop "$PWD/$B/bin" -n "$N" -s 256 -d "$d")
echo "$hop"
r=$(sed -n 's/.*msgs_per_s=\([0-9]*\).*/\1/p' <<<"$raw")
h=$(sed -n 's/^durable_hop_live.*events_per_s=\([0-9]*\).*/\1/p' <<<"$hop")
if [ -n "$r" ] && [ -n "$h" ] && [ "$r" -gt 0 ]; then
	awk -v r="$r" -v h="$h" 'BEGIN { printf "durable/raw ratio=%.2f (target >= 0.50)\n", h / r }'
fi
