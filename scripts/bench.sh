#!/usr/bin/env bash
# scripts/bench.sh - benchmarks (not tests), from one run on this machine,
# Release build in build/bench:
#   raw nng pub/sub and req/rep on ipc (bench_raw)
#   the durable hop: journal + cursor, producer and consumer processes,
#     group commit (bench_hop); a consumer killed with -9 catching up
#     100,000 events journaled while it was down
#   end to end through the real daemons (bench/bench_e2e.sh): tasks/s
#     from task.ready to record.written with the stub backend in a scratch
#     workspace (no git) and in git workspaces; task.ready -> exec.dispatch
#     latency; idle RSS of each daemon; restart of a killed daemon
#   workspaces on a large generated repository (bench/bench_workspace.sh:
#     50,000 commits, 220 MiB of pack, built once and cached under
#     BENCH_CACHE): preparation time and disk per workspace with the repo
#     mirror and with a full clone, beside a plain checkout of the tree
#   idle RSS of the other daemons (bench/bench_idle.sh: a constellation
#     of all ten with nothing to do); the target is 8 MiB for a daemon
#     without the HTTP client, 16 MiB for one that links it (libcurl
#     mapped: board-sync, executor, escalator)
#   what board-sync costs on Plane (bench/bench_plane.sh, against
#     opc-fixture-plane at Plane's default 60 requests a minute): requests
#     per idle hour (polling, and once webhooks come), a backlog of
#     PLANE_ITEMS (default 150) drained: items a minute, requests per
#     item, 429s (about 20 minutes; PLANE_ITEMS=0 skips it)
# and one table at the end, each figure beside its target.
# Usage: scripts/bench.sh [N] (N: messages of the hop, default 200000)
#   BENCH_ONLY=workspace: only the workspace bench (and its rows)
#   E2E_TASKS (default 300), E2E_GIT_TASKS (default 100),
#   E2E_PARALLEL (executor slots, default 8), E2E_PACED (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
N=${1:-200000}
B=${BUILD_DIR:-build/bench}
cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DOPC_TESTS=ON >/dev/null
cmake --build "$B" -j2 --target bench_raw bench_hop bench_load opc-testprod \
    opc-testcons opc opc-supervisor opc-board-sync opc-router opc-executor \
    opc-exec-run opc-recorder opc-escalator opc-webhook opc-observer \
    opc-observe-run opc-insighter opc-proposer opc-fixture-plane >/dev/null
d=$(mktemp -d /tmp/opcb.XXXXXX)
trap 'rm -rf "$d"' EXIT
out=$d/out
mkdir -p "$d/hop"
if [ "${BENCH_ONLY:-}" = workspace ]; then
	bench/bench_workspace.sh "$PWD/$B/bin" "$d/ws" | tee "$out"
else {
	"$B"/bench/bench_raw -n "$N" -s 256 -d "$d"
	"$B"/bench/bench_hop "$PWD/$B/bin" -n "$N" -s 256 -r 100000 \
	    -d "$d/hop" 2>"$d/hop.err"
	bench/bench_e2e.sh "$PWD/$B/bin" "$d/e2e-scratch" scratch \
	    "${E2E_TASKS:-300}"
	bench/bench_e2e.sh "$PWD/$B/bin" "$d/e2e-git" git \
	    "${E2E_GIT_TASKS:-100}"
	bench/bench_workspace.sh "$PWD/$B/bin" "$d/ws"
	bench/bench_idle.sh "$PWD/$B/bin" "$d/idle"
	if [ "${PLANE_ITEMS:-150}" -gt 0 ]; then
		bench/bench_plane.sh "$PWD/$B/bin" "$d/plane" \
		    "${PLANE_ITEMS:-150}"
	fi
} | tee "$out"
fi

# one table: figure, target, verdict
v() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" "$out" | head -1; }
row() { # row NAME VALUE UNIT TARGET_TEXT VERDICT
	printf '%-44s %14s %-8s %-18s %s\n' "$1" "$2" "$3" "$4" "$5"
}
cmp() { # cmp VALUE OP LIMIT -> PASS|MISS
	awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN {
	    ok = (op == ">=" ? a >= b : a < b); print (a == "" ? "-" : ok ? "PASS" : "MISS") }'
}
raw=$(sed -n 's/^raw_pubsub.*msgs_per_s=\([0-9]*\).*/\1/p' "$out")
hop=$(sed -n 's/^durable_hop_live.*events_per_s=\([0-9]*\).*/\1/p' "$out")
ratio=$(awk -v r="$raw" -v h="$hop" 'BEGIN { printf "%.2f", (r > 0 ? h / r : 0) }')
rs=$(sed -n 's/^durable_restart_catchup.*seconds=\([0-9.]*\).*/\1/p' "$out")
echo
echo "== opcenter bench ($(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
row "figure" "value" "unit" "target" "verdict"
row "raw nng pub/sub ipc (256 B)" "$raw" "msg/s" "" ""
row "raw nng req/rep ipc, one at a time" "$(sed -n 's/^raw_reqrep_ipc .*round_trips_per_s=\([0-9]*\).*/\1/p' "$out")" "rt/s" "" ""
row "raw nng req/rep ipc, 64 per request" "$(sed -n 's/^raw_reqrep_ipc_batched.*msgs_per_s=\([0-9]*\).*/\1/p' "$out")" "msg/s" "" ""
row "durable hop (journal+cursor), live" "$hop" "ev/s" "" ""
row "durable hop / raw pub/sub" "$ratio" "" ">= 0.50" "$(cmp "$ratio" ">=" 0.5)"
row "e2e tasks/s, stub, no git (scratch)" "$(v e2e_scratch_tasks_per_s)" "tasks/s" "" ""
row "e2e tasks/s, stub, git workspaces" "$(v e2e_git_tasks_per_s)" "tasks/s" "" ""
row "task.ready -> exec.dispatch p50 (1 ms res.)" "$(v dispatch_scratch_p50_ms)" "ms" "" ""
row "task.ready -> exec.dispatch p99 (1 ms res.)" "$(v dispatch_scratch_p99_ms)" "ms" "< 10" "$(cmp "$(v dispatch_scratch_p99_ms)" "<" 10)"
rss_row() { # rss_row NAME KIB ANON_KIB HTTP: 16 MiB with libcurl, else 8
	if [ "$4" = 1 ]; then set -- "$1" "$2" "$3" 16 "< 16 (HTTP client)"
	else set -- "$1" "$2" "$3" 8 "< 8"; fi
	row "$1" "$(awk -v k="$2" -v a="$3" 'BEGIN { printf "%.1f (%.1f)", k / 1024, a / 1024 }')" "MiB" "$5" "$(cmp "$2" "<" $(($4 * 1024)))"
}
for r in supervisor board-sync router executor recorder; do
	rss_row "idle RSS opc-$r (anon)" "$(v "rss_${r}_kib")" \
	    "$(v "rss_${r}_anon_kib")" "$(v "rss_${r}_http")"
done
for r in escalator webhook observer insighter proposer dash; do
	rss_row "idle RSS opc-$r, fresh (anon)" "$(v "idle_rss_${r}_kib")" \
	    "$(v "idle_rss_${r}_anon_kib")" "$(v "idle_http_${r}")"
done
row "kill -9 router -> new one answers" "$(v restart_router_ms)" "ms" "" ""
row "kill -9 recorder -> new one answers" "$(v restart_recorder_ms)" "ms" "" ""
row "restart + catch up 100,000 events" "$rs" "s" "< 2" "$(cmp "$rs" "<" 2)"
row "workspace: plain checkout of the tree" "$(v ws_plain_checkout_ms)" "ms" "" ""
row "workspace: prep, mirror (fresh)" "$(v ws_mirror_prep_ms)" "ms" "" ""
row "workspace: prep, mirror first run (fetch)" "$(v ws_mirror_first_ms)" "ms" "" ""
row "workspace: prep, full clone" "$(v ws_full_prep_ms)" "ms" "" ""
row "workspace: mirror prep / plain checkout" "$(v ws_mirror_prep_x_checkout)" "x" "< 2" "$(cmp "$(v ws_mirror_prep_x_checkout)" "<" 2)"
# disk per workspace: the target (2% of a full clone) is for the whole
# workspace, and is judged on it; the checked-out tree alone is the
# floor any approach pays, and .git is what the mirror adds above it
row "workspace: disk, mirror / full clone" "$(v ws_mirror_disk_kib) / $(v ws_full_disk_kib)" "KiB" "" ""
row "workspace: disk, mirror, % of a full clone" "$(v ws_mirror_disk_pct_full)" "%" "< 2" "$(cmp "$(v ws_mirror_disk_pct_full)" "<" 2)"
row "workspace: disk, the checked-out tree alone" "$(v ws_tree_kib)" "KiB" "" ""
row "workspace: the tree alone (floor), % of full" "$(v ws_tree_pct_full)" "%" "" ""
row "workspace: .git, mirror / full clone" "$(v ws_mirror_git_kib) / $(v ws_full_git_kib)" "KiB" "" ""
row "workspace: mirror .git (above floor), % full" "$(v ws_mirror_git_pct_full)" "%" "" ""
row "workspace: the mirror, once per repo and host" "$(v ws_mirror_kib_total)" "KiB" "" ""
row "plane: requests per idle hour (30 s poll)" "$(v plane_idle_per_hour)" "req/h" "" ""
row "plane: requests per idle hour (webhooks)" "$(v plane_idle_webhooks_per_hour)" "req/h" "" ""
row "plane: requests per item, backlog drain" "$(v plane_drain_requests_per_item)" "req" "< 7" "$(cmp "$(v plane_drain_requests_per_item)" "<" 7)"
row "plane: backlog drain at 60 req/min" "$(v plane_drain_items_per_min)" "items/min" ">= 8" "$(cmp "$(v plane_drain_items_per_min)" ">=" 8)"
row "plane: backlog items done" "$(v plane_drain_items)" "items" "${PLANE_ITEMS:-150} in $(v plane_drain_seconds) s" ""
row "plane: 429s during the drain" "$(v plane_drain_429)" "" "0" "$(awk -v a="$(v plane_drain_429)" 'BEGIN { print (a == "" ? "-" : a == 0 ? "PASS" : "MISS") }')"
