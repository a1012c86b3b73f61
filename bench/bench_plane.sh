#!/usr/bin/env bash
# bench/bench_plane.sh BIN_DIR WORK_DIR [ITEMS]: what board-sync costs on
# Plane, against opc-fixture-plane at Plane's default API-key limit (60
# requests a minute, the same sliding window as Plane's throttle) in a
# project of 250 other work items: one constellation (supervisor,
# board-sync in Plane mode with its defaults, router, executor with the
# stub backend in scratch workspaces, recorder).  The fixture counts
# every API request (requests, 429s, requests sent before a Retry-After
# passed), so the figures are what Plane would see.  Called by
# scripts/bench.sh; prints key=value lines:
#   plane_idle_per_hour          requests an idle board makes, polling
#                                every poll_interval (30 s), over
#                                PLANE_IDLE_S (default 120 s), per hour
#   plane_idle_webhooks_per_hour the same once Plane's work-item webhooks
#                                come (the listing slows to safety_poll),
#                                over PLANE_HOOK_IDLE_S (default 330 s)
#   plane_drain_items ...        ITEMS (default 150) Ready-for-AI items
#                                made at once: items done, seconds from
#                                their making to the last one Done (at
#                                most PLANE_DRAIN_MAX_S, default 1500),
#                                items per minute, requests per item
#                                (every request of the drain, listings
#                                included, over the items done), 429s
#                                and early retries
# An older board-sync (without plane.* keys) runs the same way, for the
# before/after figures.
set -euo pipefail
BIN=$1 W=$2 N=${3:-150}
IDLE_S=${PLANE_IDLE_S:-120}
HOOK_IDLE_S=${PLANE_HOOK_IDLE_S:-330} # one safety_poll (5 min) in it
MAX_S=${PLANE_DRAIN_MAX_S:-1500}
OPC="$BIN/opc"
PROJ=33333333-3333-3333-3333-333333333333
mkdir -p "$W/demo/src"
git -C "$W/demo" init -q -b main
echo x >"$W/demo/src/a.txt"
git -C "$W/demo" add -A
git -C "$W/demo" -c user.name=b -c user.email=b@b commit -qm init
{
	printf '{"states": [{"name": "Backlog", "group": "backlog", "default": true},'
	printf ' {"name": "Todo", "group": "unstarted"}, {"name": "Ready for AI", "group": "unstarted"},'
	printf ' {"name": "Running", "group": "started"}, {"name": "In Progress", "group": "started"},'
	printf ' {"name": "In Review", "group": "started"}, {"name": "Blocked", "group": "started"},'
	printf ' {"name": "Done", "group": "completed"}, {"name": "Cancelled", "group": "cancelled"}],'
	printf ' "work_items": ['
	for i in $(seq 250); do
		[ "$i" -gt 1 ] && printf ', '
		printf '{"name": "other %d", "state": "Backlog", "labels": ["team: x"]}' "$i"
	done
	printf ']}\n'
} >"$W/seed.json"
"$BIN/opc-fixture-plane" --port-file "$W/plane.port" --api-key benchkey \
    --workspace ws --project $PROJ --seed "$W/seed.json" 2>"$W/plane.err" &
fx=$!
CFG=$W/opcenter.yaml
trap '"$OPC" -c "$CFG" down --wait 30 >/dev/null 2>&1 || true; kill $fx 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$W/plane.port" ] && break; sleep 0.1; done
PLANE="http://127.0.0.1:$(cat "$W/plane.port")"
cat >"$CFG" <<YAML
opcenter: { state_dir: $W/st, heartbeat_ms: 250 }
plane:
  base_url: $PLANE
  api_token_env: BENCH_PLANE_TOKEN
  workspace_slug: ws
  project_id: $PROJ
repos:
  demo: { clone_url: $W/demo, default_branch: main }
instances:
  board-sync: { board: plane, upstreams: [router, executor] }
  router:
    upstreams: [board-sync, executor]
    budget: { max_per_hour: 1000000, max_per_day: 1000000, max_concurrent: 4 }
    default: { lane: aider_local, backend: fast }
  executor:
    upstreams: [router]
    max_parallel: 4
    backends: { fast: { kind: stub, workspace: scratch } }
  recorder: { upstreams: [router, executor, board-sync] }
YAML
export GIT_CONFIG_NOSYSTEM=1 HOME=$W BENCH_PLANE_TOKEN=benchkey
st() { curl -s "$PLANE/_fixture/state"; }
requests() { st | jq .api_requests; }
"$OPC" -c "$CFG" up --wait 20 >/dev/null
# idle: after the start (credentials, states, labels, a full listing,
# and the first poll after it, which reads the newest items again)
sleep 40
r0=$(requests)
sleep "$IDLE_S"
r1=$(requests)
echo "plane_idle_requests=$((r1 - r0)) plane_idle_seconds=$IDLE_S plane_idle_per_hour=$(((r1 - r0) * 3600 / IDLE_S))"
"$OPC" -c "$CFG" pub board-sync board.webhook '{"event": "issue", "delivery_id": "bench-1"}' >/dev/null
sleep 5
r0=$(requests)
sleep "$HOOK_IDLE_S"
r1=$(requests)
echo "plane_idle_webhooks_requests=$((r1 - r0)) plane_idle_webhooks_seconds=$HOOK_IDLE_S plane_idle_webhooks_per_hour=$(((r1 - r0) * 3600 / HOOK_IDLE_S))"
# the backlog, on a fresh start without webhooks: found by polling
"$OPC" -c "$CFG" down --wait 30 >/dev/null
rm -rf "$W/st"
"$OPC" -c "$CFG" up --wait 20 >/dev/null
sleep 10
s0=$(st)
r0=$(echo "$s0" | jq .api_requests)
t0=$(echo "$s0" | jq .throttled)
e0=$(echo "$s0" | jq .early_retries)
start=$(date +%s.%N)
for i in $(seq "$N"); do
	curl -s -X POST "$PLANE/_fixture/workitem" -d "{\"name\": \"bench $i\", \"state\": \"Ready for AI\", \"labels\": [\"repo: demo\", \"task-kind: goal\"], \"description_html\": \"<p>Bench task $i</p>\"}" >/dev/null
done
done_n() { st | jq '[.work_items[] | select(.name | startswith("bench ")) | select(.state == "Done")] | length'; }
d=0
while :; do
	d=$(done_n)
	now=$(date +%s.%N)
	[ "$d" -ge "$N" ] && break
	awk -v a="$now" -v b="$start" -v m="$MAX_S" 'BEGIN { exit !(a - b > m) }' && break
	sleep 5
done
s1=$(st)
awk -v n="$d" -v s="$start" -v e="$now" -v r0="$r0" -v r1="$(echo "$s1" | jq .api_requests)" \
    -v t="$(($(echo "$s1" | jq .throttled) - t0))" -v er="$(($(echo "$s1" | jq .early_retries) - e0))" 'BEGIN {
	sec = e - s; printf "plane_drain_items=%d plane_drain_seconds=%.0f plane_drain_items_per_min=%.1f plane_drain_requests_per_item=%.2f plane_drain_429=%d plane_drain_early=%d\n",
	    n, sec, n * 60 / sec, (n > 0 ? (r1 - r0) / n : 0), t, er }'
