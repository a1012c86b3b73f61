#!/bin/sh
# test_autonomy.sh BIN_DIR: the autonomy loop through the real daemons
# (observer + opc-observe-run, insighter, proposer, board-sync, router,
# executor, recorder) on a real git repo whose lint count rises over
# three observations: an insight, then a proposal, then a board task,
# then a recorded run (stub backend); the same insight again inside the
# cooldown is suppressed, not duplicated, also across a SIGKILL of the
# proposer and the insighter.  Then the rejection store, calibration and
# the quiet diagnosis.
set -u
BIN=$1
OPC="$BIN/opc"
. "$(dirname "$0")/lib.sh"
CFG=$T/opcenter.yaml
trap 'cleanup "$CFG"' EXIT

mkrepo lint
R=$T/lint
# lint N: src/m.py holds N print( calls (the "violations"), committed
lint() {
	: >"$R/src/m.py"
	i=0
	while [ "$i" -lt "$1" ]; do echo "print($i)" >>"$R/src/m.py"; i=$((i + 1)); done
	git -C "$R" add -A && git -C "$R" -c user.name=t -c user.email=t@t \
	    commit -qm "lint $1"
}

cat >"$CFG" <<YAML
opcenter: { state_dir: st, heartbeat_ms: 250 }
supervisor: { restart_backoff_min: 100ms, stop_grace: 5s }
repos:
  lint:
    clone_url: $R
    local_path: $R
    default_branch: main
    observe:
      lint_command: [grep, -rnH, --include=*.py, "print(", "."]
instances:
  board-sync: { upstreams: [router, executor, proposer] }
  router:
    upstreams: [board-sync, executor]
    default: { lane: aider_local, backend: stub }
    budget: { max_per_hour: 100, max_per_day: 100, max_retries: 3, max_concurrent: 1 }
  executor:
    upstreams: [router]
    backends: { stub: { kind: stub } }
  recorder: { upstreams: [router, executor, board-sync] }
  observer: { upstreams: [], interval: 1h }
  insighter: { upstreams: [observer, proposer, board-sync], stale_after: 4s, stale_check: 500ms }
  proposer:
    upstreams: [insighter, board-sync, router]
    budget: { max_per_hour: 100, max_per_day: 100 }
  escalator: { upstreams: [proposer], urls: [] }
YAML

lint 1
"$OPC" -c "$CFG" up --wait 20 >"$T/up.out" 2>&1
check "constellation up" grep -q "opcenter is up" "$T/up.out"

# the observation the observer makes when it starts: stored before cycle
# 1 asks for its own (else cycle 1 is handed that one, and cycle 2 sees
# two snapshots, not three)
started_obs() { "$OPC" -c "$CFG" status --json | jq -e '.observer.status.repos.lint |
    .last_run_id != null and .queued == null and .in_flight == false' >/dev/null; }
check "the observer's own first observation is stored" wait_for 30 started_obs
cyc=0
# cycle [ARGS]: one opc autonomy-cycle; output in $T/cycle.N
cycle() {
	cyc=$((cyc + 1))
	"$OPC" -c "$CFG" autonomy-cycle --wait 60 "$@" >"$T/cycle.$cyc" 2>&1
}
title="Fix lint violations in lint"
tasks_titled() {
	"$OPC" -c "$CFG" task list --json |
	    jq --arg t "$title" '[.tasks[] | select(.title == $t)] | length'
}
one_task() { [ "$(tasks_titled)" = 1 ]; }

# --- 1, 2: one and three violations: insights, no candidate ------------------
# (the observer also observes once when it starts: that is the repo at
# one violation too, so cycle 2 sees 1, 1, 3: the trend shows up before
# any candidate does)
cycle --execute
check "cycle 1 runs" [ $? -eq 0 ]
check "cycle 1 observed the repo" grep -q "observe → lint: obs_" "$T/cycle.1"
check "cycle 1 derived lint_drift" grep -q "lint_drift:lint" "$T/cycle.1"
check "cycle 1 has no candidate" grep -q "decide → 0 candidate" "$T/cycle.1"
lint 3
cycle --execute
check "cycle 2 creates nothing" grep -q "created=0" "$T/cycle.2"
check "cycle 2 has no lint_fix yet (3 < 5)" sh -c "! grep -q lint_fix '$T/cycle.2'"
check "cycle 2 sees the lint rising" grep -q "quality_trend:lint_degrading" "$T/cycle.2"

# --- 3: six violations: a trend, a proposal, a task, a run ----------------------
lint 6
cycle --execute
check "cycle 3 derived lint_degrading" grep -q "quality_trend:lint_degrading" "$T/cycle.3"
check "cycle 3 created lint_fix (high, Ready)" grep -q \
    "created .*lint_fix .*high .*tier 2 -> Ready for AI" "$T/cycle.3"
check "one board task for the proposal" wait_for 30 one_task
tid=$("$OPC" -c "$CFG" task list --json |
    jq -r --arg t "$title" '.tasks[] | select(.title == $t) | .task_id')
check "the task carries the autonomy labels" sh -c "'$OPC' -c '$CFG' task show $tid --json |
    jq -e '.task.labels | index(\"source: autonomy\") and index(\"source-family: lint_fix\")' >/dev/null"
check "the task ran to Done" wait_for 90 state_is "$tid" Done
check "one run recorded for it" wait_for 30 sh -c "[ \$('$OPC' -c '$CFG' runs list --task $tid --json | jq '.runs | length') = 1 ]"

# --- 4: the same insight inside the cooldown, after SIGKILLs -------------------------
for s in proposer insighter; do
	pid=$("$OPC" -c "$CFG" status --json | jq -r --arg s "$s" '.[$s].pid')
	kill -9 "$pid"
done
check "proposer and insighter restarted" wait_for 30 sh -c "'$OPC' -c '$CFG' status --json |
    jq -e '[.proposer, .insighter] | all(.alive and .restart_count >= 1 and .status.caught_up)' >/dev/null"
lint 7
cycle --execute
check "cycle 4 suppresses lint_fix: cooldown_active" grep -q \
    "suppressed .*lint_fix .*cooldown_active" "$T/cycle.4"
check "cycle 4 created nothing" grep -q "created=0" "$T/cycle.4"
cycle
check "a dry run creates nothing" grep -q "dry run, nothing created" "$T/cycle.5"
check "still one task" [ "$(tasks_titled)" = 1 ]

# --- rejection store, calibration ------------------------------------------------------
key="candidate|lint_fix|lint|lint_violations"
"$OPC" -c "$CFG" proposals reject "$key" --reason "not wanted" >"$T/reject.out" 2>&1
check "reject records the key" grep -q "rejected for good" "$T/reject.out"
"$OPC" -c "$CFG" proposals rejections >"$T/rej.out" 2>&1
check "rejections list it" grep -q "lint_fix|lint|lint_violations .*not wanted" "$T/rej.out"
cycle --execute
check "a rejected key is suppressed first" grep -q \
    "suppressed .*lint_fix .*permanently_rejected_by_human" "$T/cycle.6"
"$OPC" -c "$CFG" proposals calibration --json >"$T/cal.json" 2>&1
check "calibration counts the merged lint_fix" jq -e '.rows[] |
    select(.family == "lint_fix" and .confidence == "high" and .total == 1 and .merged == 1)' "$T/cal.json" >/dev/null
"$OPC" -c "$CFG" proposals calibration >"$T/cal.out" 2>&1
check "calibration table printed" grep -q "lint_fix .*high .*1 .*1 .*insufficient sample" "$T/cal.out"

# --- quiet diagnosis: five cycles in a row without a proposal -----------------------------
Q=$T/st/proposer/quiet_diagnosis.json
check "not quiet yet" [ ! -e "$Q" ]
cycle --execute
cycle --execute
cycle --execute
check "quiet diagnosis after five empty cycles" wait_for 10 test -e "$Q"
check "it aggregates the suppression reasons" jq -e \
    '.quiet_window_cycles == 5 and .aggregated_suppression_reasons.permanently_rejected_by_human >= 1' "$Q" >/dev/null
check "the escalator took the quiet proposer" wait_for 10 grep -q \
    '"escalator.wanted".*proposer_quiet proposer: proposer proposed nothing in 5 cycles' "$T/st/log/escalator.log"
# no URL configured: recorded and marked failed (no HTTP client opened)
esc_failed() { "$OPC" -c "$CFG" status --json | jq -e '.escalator.status.failed >= 1' >/dev/null; }
check "with no URL the escalation is marked failed" wait_for 10 esc_failed

# --- bad input: a malformed snapshot is counted, not fatal -------------------------------------
"$OPC" -c "$CFG" pub insighter observe.snapshot '{"run_id": "obs_bad", "repo": "lint", "snapshot": 42}' >/dev/null 2>&1
check "insighter counts a bad snapshot" wait_for 10 sh -c "'$OPC' -c '$CFG' status --json |
    jq -e '.insighter.status.counters.bad_snapshots == 1' >/dev/null"

# --- staleness: no snapshot for longer than stale_after: one warning ----------------------------
stale() { "$OPC" -c "$CFG" status --json | jq -e '.insighter.status.stale_repos == 1' >/dev/null; }
check "insighter warns of a stale snapshot" wait_for 30 stale
check "the warning names the repo" grep -q '"insighter.stale".*latest snapshot of lint is' "$T/st/log/insighter.log"
nstale=$(grep -c '"insighter.stale"' "$T/st/log/insighter.log")
sleep 3 # six more checks of an already stale repo
check "once per stale spell, not at every check" \
    [ "$(grep -c '"insighter.stale"' "$T/st/log/insighter.log")" = "$nstale" ]
finish
