#!/usr/bin/env bash
# bench/bench_idle.sh BIN_DIR WORK_DIR: every daemon of a constellation
# (supervisor, board-sync, router, executor, recorder, escalator, webhook,
# observer, insighter, proposer, dash; Release binaries) started with
# nothing to do: the local board, the stub backend, no escalation URL,
# no checkout to observe.  Called by scripts/bench.sh; prints key=value
# lines, per daemon, 3 s after every heartbeat is fresh:
#   idle_rss_<daemon>_kib      VmRSS (and idle_rss_<daemon>_anon_kib,
#                              RssAnon: without the shared library pages)
#   idle_http_<daemon>         1 when libcurl is mapped in the process
#                              (it links the HTTP client: its RSS target
#                              is 16 MiB, not 8)
# bench_e2e.sh measures the first five the same way after its load.
set -euo pipefail
BIN=$1 W=$2
OPC="$BIN/opc"
mkdir -p "$W/demo/src"
git -C "$W/demo" init -q -b main
echo x >"$W/demo/src/a.txt"
git -C "$W/demo" add -A
git -C "$W/demo" -c user.name=b -c user.email=b@b commit -qm init
CFG=$W/opcenter.yaml
cat >"$CFG" <<YAML
opcenter: { state_dir: $W/st, heartbeat_ms: 250 }
repos:
  demo: { clone_url: $W/demo, default_branch: main }
instances:
  board-sync: { upstreams: [router, executor, webhook, proposer] }
  router:
    upstreams: [board-sync, executor]
    default: { lane: aider_local, backend: stub }
  executor:
    upstreams: [router]
    backends: { stub: { kind: stub, workspace: scratch } }
  recorder: { upstreams: [router, executor, board-sync] }
  webhook: { listen: "http://127.0.0.1:0", insecure: true }
  escalator:
    upstreams: [supervisor, router, executor, board-sync, recorder, proposer]
    urls: []
  observer: { upstreams: [webhook], interval: 1h }
  insighter: { upstreams: [observer, proposer, board-sync] }
  proposer: { upstreams: [insighter, board-sync, router] }
  dash: { listen: "http://127.0.0.1:0" }
YAML
export GIT_CONFIG_NOSYSTEM=1 HOME=$W
trap '"$OPC" -c "$CFG" down --wait 30 >/dev/null 2>&1 || true' EXIT
"$OPC" -c "$CFG" up --wait 20 >/dev/null
for _ in $(seq 50); do
	"$OPC" -c "$CFG" heartbeat-check --max-age 2 >/dev/null 2>&1 && break
	sleep 0.2
done
sleep 3
st=$W/st/supervisor.status.json
rss() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
http() { grep -q '/libcurl[-.a-z0-9]*\.so' "/proc/$1/maps" 2>/dev/null && echo 1 || echo 0; }
for r in supervisor board-sync router executor recorder escalator webhook \
    observer insighter proposer dash; do
	if [ $r = supervisor ]; then pid=$(jq -r .pid "$st")
	else pid=$(jq -r ".processes[] | select(.role == \"$r\") | .pid" "$st"); fi
	echo "idle_rss_${r}_kib=$(rss "$pid" VmRSS)" \
	    "idle_rss_${r}_anon_kib=$(rss "$pid" RssAnon)" \
	    "idle_http_${r}=$(http "$pid")"
done
