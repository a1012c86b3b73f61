#!/bin/sh
# test_maint.sh BIN_DIR: the maintenance paths of issues 17 and 18.
# opc dependency-check on real checkouts (a venv's dist-info, node_modules,
# go.sum): its table, JSON, retained report (report_keep), a bad manifest
# (an error, exit 1, the rest still reported) and registry lookups from a
# loopback fixture.  Then the daemons: the executor's workspace health
# (a repo whose check and repair fail gets one "[Workspace] Repair
# environment" task, not two, also across a SIGKILL; one whose repair
# works gets none; a spell ends when a check passes), the proposer's
# dependency_update family from an autonomy cycle, and
# dependency-check --create-tasks (improve tasks, deduplicated on re-run).
set -u
BIN=$1
OPC="$BIN/opc"
. "$(dirname "$0")/lib.sh"
CFG=$T/opcenter.yaml
trap 'cleanup "$CFG"; [ -n "${HTTPD:-}" ] && kill "$HTTPD" 2>/dev/null' EXIT

jqe() { jq -e "$@" >/dev/null; }
commit() { git -C "$1" add -A && git -C "$1" -c user.name=t -c user.email=t@t commit -qm "$2"; }

# --- the repos ---------------------------------------------------------------
mkrepo dep
D=$T/dep
printf 'requests==2.31.0\nflask>=2.0\n' >"$D/requirements.txt"
mkdir -p "$D/.venv/lib/python3.11/site-packages/requests-2.30.0.dist-info" \
    "$D/.venv/lib/python3.11/site-packages/Flask-3.0.0.dist-info" \
    "$D/node_modules/left-pad"
echo '{"dependencies": {"left-pad": "1.3.0", "gone": "^1.0.0"}}' >"$D/package.json"
echo '{"version": "1.3.0"}' >"$D/node_modules/left-pad/package.json"
printf 'module x\n\nrequire (\n\ta.example/m v1.2.0\n\tb.example/n v0.1.0 // indirect\n)\n' >"$D/go.mod"
printf 'a.example/m v1.2.0 h1:x=\na.example/m v1.2.0/go.mod h1:y=\n' >"$D/go.sum"
printf '.venv/\nnode_modules/\n' >"$D/.gitignore"
commit "$D" deps
mkrepo bad
echo '{"dependencies": {"x": ' >"$T/bad/package.json"
printf 'ok==1.0\nthis is not a requirement!\n' >"$T/bad/requirements.txt"
# ws1: check fails, repair fails; ws2: check fails, repair fixes it
for r in ws1 ws2; do
	mkrepo $r
	echo 'exit 1' >"$T/$r/repair.sh"
done
echo 'touch healthy.flag' >"$T/ws2/repair.sh"

cat >"$CFG" <<YAML
opcenter: { state_dir: st, heartbeat_ms: 250 }
supervisor: { restart_backoff_min: 100ms, stop_grace: 5s }
dependency_check: { report_keep: 2, pip_list: false }
repos:
  dep: { clone_url: $D, local_path: $D }
  bad: { local_path: $T/bad }
  remote: { clone_url: "https://example.invalid/x.git" }
  ws1:
    local_path: $T/ws1
    health_command: [test, -f, healthy.flag]
    repair_command: [sh, repair.sh]
    health_timeout: 5s
  ws2:
    local_path: $T/ws2
    health_command: [test, -f, healthy.flag]
    repair_command: [sh, repair.sh]
instances:
  board-sync: { upstreams: [executor, proposer] }
  executor: { upstreams: [], workspace_health_every: 5 }
  observer: { upstreams: [], interval: 1h, repos: [dep] }
  insighter: { upstreams: [observer, proposer, board-sync] }
  proposer: { upstreams: [insighter, board-sync] }
YAML

# --- dependency-check, no daemon needed -------------------------------------
"$OPC" -c "$CFG" dependency-check --repo dep >"$T/dc.1" 2>&1
check "dependency-check exits 0 on a readable repo" [ $? -eq 0 ]
check "table: requests drifted (2.30.0 installed, 2.31.0 pinned)" \
    grep -Eq "python +requests +2\.31\.0 +2\.30\.0 .*drift" "$T/dc.1"
check "table: flask ok (3.0.0 >= 2.0)" grep -Eq "python +flask +2\.0 +3\.0\.0 .* ok" "$T/dc.1"
check "table: left-pad ok, gone missing (node_modules)" sh -c \
    "grep -Eq 'node +left-pad .* ok' '$T/dc.1' && grep -Eq 'node +gone .* missing' '$T/dc.1'"
check "table: the go module is in go.sum" grep -Eq "go +a.example/m +v1.2.0 +v1.2.0 .* ok" "$T/dc.1"
"$OPC" -c "$CFG" dependency-check --json >"$T/dc.json" 2>"$T/dc.err"
check "a bad manifest: exit 1" [ $? -eq 1 ]
check "the report names the bad file and line" jqe \
    '[.repos[] | select(.repo == "bad") | .errors[]] |
     (map(select(startswith("package.json"))) | length == 1) and
     (map(select(startswith("requirements.txt:2: "))) | length == 1)' "$T/dc.json"
check "the bad repo's readable pin is still there" jqe \
    '[.statuses[] | select(.key == "bad:python:ok")] | length == 1' "$T/dc.json"
check "a remote-only repo is skipped with a note" jqe \
    '.repos[] | select(.repo == "remote") | .notes[0] | test("no local checkout")' "$T/dc.json"
check "statuses in the original's shape" jqe \
    '.statuses[] | select(.key == "dep:python:requests") |
     .kind == "python" and .pinned_version == "2.31.0" and
     .installed_version == "2.30.0" and .healthy == false and .status == "drift"' "$T/dc.json"
"$OPC" -c "$CFG" dependency-check --repo dep --json >/dev/null 2>&1
sleep 1
"$OPC" -c "$CFG" dependency-check --repo dep --json >"$T/dc.last" 2>&1
n=$(ls "$T/st/reports/dependency" | wc -l)
check "retention: report_keep 2 of 4 reports ($n)" [ "$n" -eq 2 ]
check "the newest report is kept" test -f "$(jq -r '.artifacts[0]' "$T/dc.last")"

# registry lookups from a loopback fixture (python3's http.server)
if command -v python3 >/dev/null 2>&1; then
	mkdir -p "$T/reg/left-pad" "$T/reg/pypi/requests" "$T/reg/a.example/m/@latest"
	echo '{"version": "1.4.0"}' >"$T/reg/left-pad/latest"
	echo '{"info": {"version": "2.32.3"}}' >"$T/reg/pypi/requests/json"
	rmdir "$T/reg/a.example/m/@latest"
	echo '{"Version": "v1.2.0"}' >"$T/reg/a.example/m/@latest"
	port=$((20000 + $$ % 20000))
	(cd "$T/reg" && exec python3 -m http.server "$port" --bind 127.0.0.1) \
	    >"$T/httpd.log" 2>&1 &
	HTTPD=$!
	wait_for 10 python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/left-pad/latest')"
	sed "s|dependency_check: .*|dependency_check: { report_keep: 2, pip_list: false, registry_lookup: true, npm_registry: \"http://127.0.0.1:$port\", pypi_url: \"http://127.0.0.1:$port\", go_proxy: \"http://127.0.0.1:$port\", timeout: 2s }|" \
	    "$CFG" >"$T/reg.yaml"
	"$OPC" -c "$T/reg.yaml" dependency-check --repo dep --json >"$T/dc.reg" 2>&1
	check "registry: left-pad 1.4.0 upstream -> outdated" jqe \
	    '.statuses[] | select(.key == "dep:node:left-pad") |
	     .upstream_latest == "1.4.0" and .status == "outdated"' "$T/dc.reg"
	check "registry: PyPI's newest read, drift still drift" jqe \
	    '.statuses[] | select(.key == "dep:python:requests") |
	     .upstream_latest == "2.32.3" and .status == "drift"' "$T/dc.reg"
	check "registry: the Go proxy's latest equals the pin: ok" jqe \
	    '.statuses[] | select(.key == "dep:go:a.example/m") |
	     .upstream_latest == "v1.2.0" and .status == "ok"' "$T/dc.reg"
	check "registry: a package it lacks has a note, no crash" jqe \
	    '[.repos[].notes[] | select(test("gone: no newest"))] | length == 1' "$T/dc.reg"
	kill "$HTTPD" 2>/dev/null
	HTTPD=
else
	echo "SKIP - registry lookups: no python3 for the loopback fixture"
fi

# --- the daemons ---------------------------------------------------------------
"$OPC" -c "$CFG" up --wait 20 >"$T/up.out" 2>&1
check "constellation up" is_up "$T/up.out"
LOG=$T/st/log

# workspace health: ws1 fails its check and its repair
repair_tasks() {
	"$OPC" -c "$CFG" task list --json |
	    jq --arg t "[Workspace] Repair environment for $1" \
	    '[.tasks[] | select(.title == $t)] | length'
}
ev_count() { grep -c "\"event\":\"$1\".*repo=$2" "$LOG/executor.log"; }
check "ws1: workspace_health_unhealthy logged" wait_for 20 sh -c \
    "grep -q '\"event\":\"workspace_health_unhealthy\".*repo=ws1' '$LOG/executor.log'"
check "ws1: workspace_health_repair_failed logged" wait_for 20 sh -c \
    "grep -q '\"event\":\"workspace_health_repair_failed\".*repo=ws1' '$LOG/executor.log'"
one_ws1() { [ "$(repair_tasks ws1)" = 1 ]; }
check "ws1: one repair task on the board" wait_for 20 one_ws1
"$OPC" -c "$CFG" sub workspace_health.repair_failed --json --count 1 \
    --timeout 10 >"$T/sub.ws" 2>&1
check "opc sub shows workspace_health.repair_failed with the task" \
    grep -q 'workspace-health:ws1:1' "$T/sub.ws"
tid=$("$OPC" -c "$CFG" task list --json |
    jq -r '.tasks[] | select(.title == "[Workspace] Repair environment for ws1") | .task_id')
check "the repair task's labels" sh -c "'$OPC' -c '$CFG' task show $tid --json |
    jq -e '.task.labels | index(\"source: workspace-health\") and index(\"repo: ws1\")' >/dev/null"
# more cycles fail: still one task
n0=$(ev_count workspace_health_repair_failed ws1)
more_cycles() { [ "$(ev_count workspace_health_repair_failed ws1)" -ge $((n0 + 2)) ]; }
check "ws1: two more failing cycles" wait_for 20 more_cycles
check "ws1: still one repair task after them" one_ws1
# ws2's repair works: no task
check "ws2: workspace_health_repaired logged" wait_for 20 sh -c \
    "grep -q '\"event\":\"workspace_health_repaired\".*repo=ws2' '$LOG/executor.log'"
check "ws2: no repair task" [ "$(repair_tasks ws2)" = 0 ]
# a SIGKILLed executor remembers the open spell
pid=$("$OPC" -c "$CFG" status --json | jq -r '.executor.pid')
kill -9 "$pid"
check "executor restarted" wait_for 30 sh -c "'$OPC' -c '$CFG' status --json |
    jq -e '.executor.alive and .executor.restart_count >= 1' >/dev/null"
n0=$(ev_count workspace_health_repair_failed ws1)
check "ws1: failing again after the restart" wait_for 20 more_cycles
check "ws1: still one repair task after the restart" one_ws1
# the spell ends when a check passes; the next failure is a new task
touch "$T/ws1/healthy.flag"
check "ws1: healthy again" wait_for 20 sh -c \
    "grep -q '\"event\":\"workspace_health_ok\".*repo=ws1' '$LOG/executor.log'"
rm "$T/ws1/healthy.flag"
two_ws1() { [ "$(repair_tasks ws1)" = 2 ]; }
check "ws1: a new spell, a second task" wait_for 20 two_ws1

# dependency_update from the autonomy cycle (observer -> insighter -> proposer)
dep_tasks() {
	"$OPC" -c "$CFG" task list --json |
	    jq '[.tasks[] | select(.title | startswith("Dependency maintenance:"))] | length'
}
"$OPC" -c "$CFG" autonomy-cycle --execute --repo dep --wait 60 >"$T/cycle.1" 2>&1
check "the cycle derived dependency_drift insights" grep -q "dependency_drift" "$T/cycle.1"
check "the cycle created one dependency_update (one per family a cycle)" \
    grep -Eq "created .*dependency_update" "$T/cycle.1"
one_dep() { [ "$(dep_tasks)" = 1 ]; }
check "one dependency task on the board" wait_for 20 one_dep
t1=$("$OPC" -c "$CFG" task list --json |
    jq -r '.tasks[] | select(.title | startswith("Dependency maintenance:")) | .task_id')
check "it is an improve task from autonomy" sh -c "'$OPC' -c '$CFG' task show $t1 --json |
    jq -e '.task.kind == \"improve\" and (.task.labels | index(\"task-kind: improve\") and
        index(\"source: autonomy\") and index(\"source-family: dependency_update\"))' >/dev/null"
check "dependency_update_task_created in the proposer's log" \
    grep -q '"event":"dependency_update_task_created"' "$LOG/proposer.log"

# --create-tasks: the other unhealthy packages, each once
"$OPC" -c "$CFG" dependency-check --repo dep --create-tasks --json >"$T/ct.1" 2>&1
check "create-tasks: exit 0" [ $? -eq 0 ]
unhealthy=$(jq '[.statuses[] | select(.healthy == false)] | length' "$T/ct.1")
check "create-tasks: proposed all but the cycle's ($unhealthy unhealthy)" jqe \
    --argjson u "$unhealthy" '(.created_task_ids | length) == $u - 1 and
     (.skipped_tasks | length) == 1 and .skipped_tasks[0].reason == "open_task_exists"' "$T/ct.1"
all_dep() { [ "$(dep_tasks)" = "$unhealthy" ]; }
check "one board task per unhealthy package ($unhealthy)" wait_for 20 all_dep
cli_sources() {
	for t in $("$OPC" -c "$CFG" task list --json |
	    jq -r '.tasks[] | select(.title | startswith("Dependency maintenance:")) | .task_id'); do
		"$OPC" -c "$CFG" task show "$t" --json | jq -r \
		    'select(.task.kind == "improve") | .task.labels[] | select(startswith("source: ") and . != "source: proposer")'
	done | sort | uniq -c | tr -s ' ' | tr '\n' ';'
}
src=$(cli_sources)
check "sources: 1 autonomy, the rest dependency-check ($src)" \
    [ "$src" = " 1 source: autonomy; $((unhealthy - 1)) source: dependency-check;" ]
sleep 1
"$OPC" -c "$CFG" dependency-check --repo dep --create-tasks --json >"$T/ct.2" 2>&1
check "create-tasks again: nothing new, all skipped" jqe --argjson u "$unhealthy" \
    '(.created_task_ids | length) == 0 and (.skipped_tasks | length) == $u' "$T/ct.2"
sleep 1
check "still one task per package" all_dep

finish
