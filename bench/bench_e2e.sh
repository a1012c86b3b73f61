#!/usr/bin/env bash
# bench/bench_e2e.sh BIN_DIR WORK_DIR MODE TASKS: one constellation
# (supervisor, board-sync, router, executor, recorder; Release binaries)
# on the local board with the built-in stub backend, the executor's
# workspace MODE = scratch (no git: an empty directory, nothing cloned,
# committed or pushed) or git (a clone per run, commit, push to a local
# bare-able repo).  Called by scripts/bench.sh; prints key=value lines:
#   e2e_<mode>_tasks_per_s     TASKS added at once (bench_load, one
#                              process), from the first task.ready
#                              (board-sync journal) to the last
#                              record.written (recorder journal)
#   dispatch_<mode>_p50_ms/p99 (scratch mode) paced tasks (20/s, below
#                              capacity): per
#                              task, exec.dispatch ts (router journal)
#                              minus task.ready ts (board-sync journal);
#                              journal timestamps are in ms, so the
#                              figures have 1 ms resolution
#   rss_<daemon>_kib           VmRSS of each daemon once idle (and its
#                              RssAnon: private memory, without the
#                              shared library pages VmRSS counts)
#   rss_<daemon>_http          1 when libcurl is mapped in it (it links
#                              the HTTP client: its target is 16 MiB,
#                              not 8)
#   restart_<daemon>_ms        kill -9 -> the supervisor's new process
#                              answers status (scratch mode only)
set -euo pipefail
BIN=$1 W=$2 MODE=$3 N=$4
PAR=${E2E_PARALLEL:-8}
PACED=${E2E_PACED:-200}
[ "$MODE" = scratch ] || PACED=0 # git runs are slower than 20/s: paced tasks would queue
OPC="$BIN/opc"
mkdir -p "$W/demo/src"
git -C "$W/demo" init -q -b main
echo x >"$W/demo/src/a.txt"
git -C "$W/demo" add -A
git -C "$W/demo" -c user.name=b -c user.email=b@b commit -qm init
git -C "$W/demo" config receive.denyCurrentBranch refuse
CFG=$W/opcenter.yaml
cat >"$CFG" <<YAML
opcenter: { state_dir: $W/st, heartbeat_ms: 250 }
supervisor: { restart_backoff_min: 50ms }
repos:
  demo: { clone_url: $W/demo, default_branch: main }
instances:
  board-sync: { upstreams: [router, executor] }
  router:
    upstreams: [board-sync, executor]
    budget: { max_per_hour: 1000000, max_per_day: 1000000, max_concurrent: $PAR }
    default: { lane: aider_local, backend: fast }
  executor:
    upstreams: [router]
    max_parallel: $PAR
    backends: { fast: { kind: stub, workspace: $MODE } }
  recorder: { upstreams: [router, executor, board-sync] }
YAML
export GIT_CONFIG_NOSYSTEM=1 HOME=$W
trap '"$OPC" -c "$CFG" down --wait 30 >/dev/null 2>&1 || true' EXIT
"$OPC" -c "$CFG" up --wait 20 >/dev/null
for _ in $(seq 50); do
	"$OPC" -c "$CFG" heartbeat-check --max-age 2 >/dev/null 2>&1 && break
	sleep 0.2
done
sleep 1 # the router has heard the executor's capacity
db() { sqlite3 "$W/st/$1.db" "$2"; }
written() { db recorder "select count(*) from journal where topic = 'record.written'"; }
wait_written() { # wait_written COUNT
	for _ in $(seq 3000); do
		[ "$(written)" -ge "$1" ] && return 0
		sleep 0.1
	done
	echo "bench_e2e: only $(written) of $1 records written" >&2
	return 1
}

# --- throughput: N tasks at once -----------------------------------------
"$BIN/bench_load" -c "$CFG" -n "$N" -p burst -q
wait_written "$N"
db recorder "attach '$W/st/board-sync.db' as b;
    select printf('e2e_%s_tasks=%d e2e_%s_seconds=%.3f e2e_%s_tasks_per_s=%.1f',
        '$MODE', $N, '$MODE', (w.t - r.t) / 1000.0, '$MODE',
        $N * 1000.0 / (w.t - r.t))
    from (select min(ts) t from b.journal where topic = 'task.ready') r,
         (select max(ts) t from journal where topic = 'record.written') w;"
okruns=$(db router "select count(*) from rrun where status = 'succeeded'")
echo "e2e_${MODE}_succeeded=$okruns"

# --- dispatch latency: paced tasks ---------------------------------------
if [ "$PACED" -gt 0 ]; then
	"$BIN/bench_load" -c "$CFG" -n "$PACED" -p paced -m 50 -q
	wait_written $((N + PACED))
	db router "attach '$W/st/board-sync.db' as b;
	    create temp table lat as
	      select d.ts - r.ts ms from
	        (select corr, min(ts) ts from b.journal where topic = 'task.ready'
	         group by corr) r
	        join (select corr, min(ts) ts from journal
	              where topic = 'exec.dispatch' group by corr) d using (corr)
	        join b.task t on t.task_id = r.corr
	      where t.request_id like 'paced-%';
	    select printf('dispatch_%s_n=%d', '$MODE', count(*)) from lat;
	    select printf('dispatch_%s_p50_ms=%d', '$MODE', ms) from lat
	      order by ms limit 1 offset (select count(*) / 2 from lat);
	    select printf('dispatch_%s_p99_ms=%d', '$MODE', ms) from lat
	      order by ms limit 1 offset (select (count(*) * 99) / 100 from lat);
	    select printf('dispatch_%s_max_ms=%d', '$MODE', max(ms)) from lat;"
fi
[ "$MODE" = scratch ] || exit 0

# --- idle RSS --------------------------------------------------------------
sleep 3
st=$W/st/supervisor.status.json
rss() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
http() { grep -q '/libcurl[-.a-z0-9]*\.so' "/proc/$1/maps" 2>/dev/null && echo 1 || echo 0; }
for r in supervisor board-sync router executor recorder; do
	if [ $r = supervisor ]; then pid=$(jq -r .pid "$st")
	else pid=$(jq -r ".processes[] | select(.role == \"$r\") | .pid" "$st"); fi
	echo "rss_${r}_kib=$(rss "$pid" VmRSS) rss_${r}_anon_kib=$(rss "$pid" RssAnon)" \
	    "rss_${r}_http=$(http "$pid")"
done

# --- restart of a killed daemon ----------------------------------------------
for r in router recorder; do
	old=$(jq -r ".processes[] | select(.role == \"$r\") | .pid" "$st")
	t0=$(date +%s%N)
	kill -9 "$old"
	for _ in $(seq 2000); do
		pid=$("$OPC" -c "$CFG" status --json 2>/dev/null |
		    jq -r ".\"$r\".status.pid // empty" 2>/dev/null || true)
		[ -n "$pid" ] && [ "$pid" != "$old" ] && break
		sleep 0.005
	done
	echo "restart_${r}_ms=$((($(date +%s%N) - t0) / 1000000))"
done
