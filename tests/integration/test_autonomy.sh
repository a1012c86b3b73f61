#!/bin/sh
# test_autonomy.sh BIN_DIR: the autonomy loop through the real daemons
# (observer + opc-observe-run, insighter, proposer, board-sync, router,
# executor, recorder) on a real git repo whose lint count rises over
# three observations: an insight, then a proposal, then a board task,
# then a recorded run (stub backend); the same insight again inside the
# cooldown is suppressed, not duplicated, also across a SIGKILL of the
# proposer and the insighter.  Then the rejection store, calibration and
# the quiet diagnosis; the per-stage commands and their retained reports,
# the proposal provenance, live tiers and tuning, a CI check_suite that
# runs a cycle (through the real webhook), and the priority rescore.
set -u
BIN=$1
OPC="$BIN/opc"
. "$(dirname "$0")/lib.sh"
CFG=$T/opcenter.yaml
trap 'cleanup "$CFG"' EXIT

mkrepo lint
mkrepo lint2
R=$T/lint
PORT=$((20000 + $$ % 20000))
export AUTONOMY_GH_SECRET=autonomy-test-secret
# lint N: src/m.py holds N print( calls (the "violations"), committed
lint() {
	: >"$R/src/m.py"
	i=0
	while [ "$i" -lt "$1" ]; do echo "print($i)" >>"$R/src/m.py"; i=$((i + 1)); done
	git -C "$R" add -A && git -C "$R" -c user.name=t -c user.email=t@t \
	    commit -qm "lint $1"
}

cat >"$CFG" <<YAML
opcenter: { state_dir: st, heartbeat_ms: 250, reports_keep: 3 }
supervisor: { restart_backoff_min: 100ms, stop_grace: 5s }
repos:
  lint:
    clone_url: $R
    local_path: $R
    default_branch: main
    github_repo: Codertocat/Hello-World
    observe:
      lint_command: [grep, -rnH, --include=*.py, "print(", "."]
  lint2:
    clone_url: $T/lint2
    local_path: $T/lint2
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
  observer: { upstreams: [webhook], interval: 1h }
  insighter: { upstreams: [observer, proposer, board-sync], stale_after: 4s, stale_check: 500ms }
  proposer:
    upstreams: [insighter, board-sync, router, webhook]
    budget: { max_per_hour: 100, max_per_day: 100 }
    ci_debounce: 60s
    rescore_every: 2
  webhook:
    listen: http://127.0.0.1:$PORT
    github_secret_env: AUTONOMY_GH_SECRET
  escalator: { upstreams: [proposer], urls: [] }
YAML

# lintn REPO N: REPO's src/m.py holds N print( calls, committed
lintn() {
	: >"$T/$1/src/m.py"
	i=0
	while [ "$i" -lt "$2" ]; do echo "print($i)" >>"$T/$1/src/m.py"; i=$((i + 1)); done
	git -C "$T/$1" add -A && git -C "$T/$1" -c user.name=t -c user.email=t@t \
	    commit -qm "lint $2"
}
lint 1
"$OPC" -c "$CFG" up --wait 20 >"$T/up.out" 2>&1
check "constellation up" is_up "$T/up.out"

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
check "cycle 1 prints the cycle report" grep -q "^Cycle report → $T/st/reports/cycle/" "$T/cycle.1"
crep=$(sed -n 's/^Cycle report → //p' "$T/cycle.1")
check "the cycle report names each stage's artifact, all on disk" sh -c "jq -r '.artifacts |
    [.observe.lint, .insights.lint, .decide, .propose] | .[]' '$crep' | while read -r f; do test -s \"\$f\" || exit 1; done"
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
    jq -e '.task.labels | index(\"source: autonomy\") and index(\"source-family: lint_fix\") and index(\"confidence: high\")' >/dev/null"
"$OPC" -c "$CFG" task show "$tid" --json | jq -r .task.description >"$T/desc"
check "its description carries the provenance" grep -q "^## Proposal Provenance" "$T/desc"
check "provenance: family, dedup key, confidence" sh -c "grep -q '^- source_family: lint_fix' '$T/desc' &&
    grep -q '^- dedup_key: candidate|lint_fix|lint|lint_violations' '$T/desc' && grep -q '^- confidence: high' '$T/desc'"
check "provenance: insight ids, cycle id, evidence" sh -c "grep -q '^- insight_ids: lint_drift:lint, quality_trend:lint_degrading' '$T/desc' &&
    grep -q '^- cycle_id: dec_' '$T/desc' && grep -q '^- evidence: {.*\"count\":6' '$T/desc'"
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

# --- bad input: a snapshot that is no obs_snapshot record is refused naming the field;
# one without a repo is counted, not fatal ----------------------------------------------------
bad_out=$("$OPC" -c "$CFG" pub insighter observe.snapshot '{"run_id": "obs_bad", "repo": "lint", "snapshot": 42}' 2>&1) &&
    bad_rc=0 || bad_rc=$?
check "a snapshot that is no record is refused, naming the field" sh -c \
    '[ "$1" -ne 0 ] && printf "%s" "$2" | grep -q "snapshot"' _ "$bad_rc" "$bad_out"
"$OPC" -c "$CFG" pub insighter observe.snapshot '{"run_id": "obs_bad", "repo": "", "snapshot": {"run_id": "obs_bad"}}' >/dev/null 2>&1
check "insighter counts a bad snapshot" wait_for 10 sh -c "'$OPC' -c '$CFG' status --json |
    jq -e '.insighter.status.counters.bad_snapshots == 1' >/dev/null"

# --- staleness: no snapshot for longer than stale_after: one warning ----------------------------
stale() { "$OPC" -c "$CFG" status --json | jq -e '.insighter.status.stale_repos >= 1' >/dev/null; }
check "insighter warns of a stale snapshot" wait_for 30 stale
check "the warning names the repo" grep -q '"insighter.stale".*latest snapshot of lint is' "$T/st/log/insighter.log"
nstale=$(grep -c '"insighter.stale"' "$T/st/log/insighter.log")
sleep 3 # six more checks of an already stale repo
check "once per stale spell, not at every check" \
    [ "$(grep -c '"insighter.stale"' "$T/st/log/insighter.log")" = "$nstale" ]
# --- per-stage commands and their retained reports ---------------------------------------
"$OPC" -c "$CFG" observe --repo lint >"$T/observe.out" 2>&1
check "opc observe prints the stage and its report" grep -q \
    "^\[observe\] lint: obs_.* → $T/st/reports/observe/.*Z\.json$" "$T/observe.out"
orun=$(sed -n 's/^\[observe\] lint: \(obs_[^ ]*\) .*/\1/p' "$T/observe.out")
orep=$(sed -n 's/.* → //p' "$T/observe.out")
check "the observe report is that snapshot" sh -c "jq -e --arg r '$orun' \
    '.run_id == \$r and .repo.name == \"lint\"' '$orep' >/dev/null"
check "retention keeps reports_keep (3) of a stage" [ "$(ls "$T/st/reports/observe" | wc -l)" -eq 3 ]
ins_fresh() { "$OPC" -c "$CFG" insights --repo lint --json |
    jq -e --arg r "$orun" '.lint.snapshot_run == $r and .lint.report != null' >/dev/null; }
check "the insighter derived and reported it" wait_for 30 ins_fresh
"$OPC" -c "$CFG" insights --repo lint >"$T/insights.out" 2>&1
check "opc insights prints each insight and its report" sh -c "grep -q '^\[insights\] lint: .* from $orun → $T/st/reports/insights/' '$T/insights.out' &&
    grep -q 'lint_drift:lint .*lint_drift/lint' '$T/insights.out'"
D=$T/st/reports/insights
# the guide's own command: the latest insights file, its quality_trend/ kinds
check "the latest insights file answers the guide's grep" sh -c \
    "cat '$D'/\$(ls -t '$D' | head -1) | grep -q '\"quality_trend/'"
"$OPC" -c "$CFG" decide --repo lint >"$T/decide.out" 2>&1
check "opc decide prints the decision and its report" grep -q \
    "^\[decide\] [0-9]* candidate(s) (cycle dec_.*) → $T/st/reports/decide/" "$T/decide.out"
drep=$(sed -n 's/^\[decide\].* → //p' "$T/decide.out")
check "the decide report holds candidates and suppressed" sh -c "jq -e \
    '(.candidates | type) == \"array\" and (.suppressed | type) == \"array\"' '$drep' >/dev/null"
"$OPC" -c "$CFG" propose --dry-run --repo lint >"$T/propose.out" 2>&1
check "opc propose --dry-run creates nothing, reports" grep -q \
    "^\[propose\] dry run, nothing created (created=0, skipped=[0-9]*, failed=0) → $T/st/reports/propose/" "$T/propose.out"
prep=$(sed -n 's/^\[propose\].* → //p' "$T/propose.out")
check "the propose report is a dry run" sh -c "jq -e \
    '.dry_run == true and (.run_id | startswith(\"prop_\"))' '$prep' >/dev/null"

# --- tuning: the calibration table, suggestions, apply, revert ----------------------------
for i in 1 2 3 4 5; do
	"$OPC" -c "$CFG" proposals feedback record --task-id "X-$i" --outcome rejected \
	    --family type_fix --confidence high >/dev/null 2>&1
done
"$OPC" -c "$CFG" autonomy tune >"$T/tune.out" 2>&1
check "tune prints the calibration table with its mark" grep -q \
    "type_fix .*high .*5 .*0.0% .*80.0% .*0.00⚠" "$T/tune.out"
check "tune suggests demoting type_fix and raising its threshold" sh -c \
    "grep -q 'type_fix .*tier .*type_fix .*1 -> 0' '$T/tune.out' &&
     grep -q 'type_fix .*threshold .*type_min_errors .*3 -> 5' '$T/tune.out'"
"$OPC" -c "$CFG" autonomy tune --apply >"$T/apply.out" 2>&1
check "tune --apply records tune_1 and says how to undo" grep -q \
    "applied as tune_1 (undo: opc autonomy tune --revert tune_1)" "$T/apply.out"
"$OPC" -c "$CFG" autonomy tiers list >"$T/tiers.out" 2>&1
check "the tier changed live, in the history" sh -c "grep -q '^type_fix  *0  live' '$T/tiers.out' &&
    grep -q 'type_fix .*1 -> 0  tune tune_1' '$T/tiers.out'"
"$OPC" -c "$CFG" autonomy tune --revert tune_1 >"$T/revert.out" 2>&1
check "tune --revert puts it back" sh -c "grep -q 'tune_1 reverted' '$T/revert.out' &&
    '$OPC' -c '$CFG' autonomy tiers list --json | jq -e '.tiers.type_fix.tier == 1' >/dev/null"

# --- tiers: live and durable; the new tier decides the state -------------------------------
"$OPC" -c "$CFG" autonomy tiers set --family lint_fix --tier 0 --note "hold lint" >"$T/set.out" 2>&1
check "tiers set answers live" grep -q "lint_fix: tier 0 (live" "$T/set.out"
"$OPC" -c "$CFG" autonomy tiers set --family "Bad Family" --tier 9 >"$T/badtier.out" 2>&1
rc=$?
check "a bad family or tier is refused, saying why" sh -c "[ $rc -ne 0 ] && grep -q 'a tier 0, 1 or 2' '$T/badtier.out'"
"$OPC" -c "$CFG" autonomy tune --revert tune_99 >"$T/badrev.out" 2>&1
check "reverting an unknown tuning is refused" grep -q "no tuning tune_99" "$T/badrev.out"
pid=$("$OPC" -c "$CFG" status --json | jq -r .proposer.pid)
kill -9 "$pid"
check "proposer restarted" wait_for 30 sh -c "'$OPC' -c '$CFG' status --json |
    jq -e '.proposer.alive and .proposer.pid != $pid and .proposer.status.caught_up' >/dev/null"
check "the tier survived the SIGKILL" sh -c "'$OPC' -c '$CFG' autonomy tiers list --json |
    jq -e '.tiers.lint_fix.tier == 0 and .tiers.lint_fix.source == \"live\"' >/dev/null"
lintn lint2 20
cycle --execute --repo lint2
check "lint2's lint_fix goes to Backlog at tier 0" grep -q \
    "created .*lint_fix .*high .*tier 0 -> Backlog .*Fix lint violations in lint2" "$T/cycle.$cyc"
title="Fix lint violations in lint2"
check "its task is on the board" wait_for 30 one_task
t2=$("$OPC" -c "$CFG" task list --json | jq -r --arg t "$title" '.tasks[] | select(.title == $t) | .task_id')
check "in Backlog, priority high" sh -c "'$OPC' -c '$CFG' task show $t2 --json |
    jq -e '.task.state == \"Backlog\" and .task.priority == \"high\"' >/dev/null"

# --- priority rescore (rescore_every: 2 cycles) -------------------------------------------
lintn lint2 40
cycle --execute --repo lint2
cycle --execute --repo lint2
prio_is() { [ "$("$OPC" -c "$CFG" task show "$t2" --json | jq -r .task.priority)" = "$1" ]; }
check "a grown signal promotes the task (high -> urgent)" wait_for 10 prio_is urgent
check "priority_rescore_promoted is logged" grep -q \
    '"priority_rescore_promoted".*lint2.*high -> urgent, signal 20 -> 40 (signal_grew)' "$T/st/log/proposer.log"
lintn lint2 0
cycle --execute --repo lint2
cycle --execute --repo lint2
check "a gone signal demotes it (urgent -> high)" wait_for 10 prio_is high
check "priority_rescore_demoted is logged" grep -q \
    '"priority_rescore_demoted".*urgent -> high, signal 40 -> 0 (signal_gone)' "$T/st/log/proposer.log"

# --- CI: a completed check_suite (octokit/webhooks' payload) runs a cycle ------------------
# check_suite_completed.json: octokit/webhooks payload-examples/api.github.com/
# check_suite/completed.payload.json (commit 2bd8c0e7), urls trimmed
F=$(dirname "$0")/check_suite_completed.json
post() {
	sig=$(openssl dgst -sha256 -hmac "$AUTONOMY_GH_SECRET" <"$F" | sed 's/.*= //')
	curl -s -o /dev/null -w '%{http_code}' -X POST -H "Content-Type: application/json" \
	    -H "X-GitHub-Event: check_suite" -H "X-GitHub-Delivery: $1" \
	    -H "X-Hub-Signature-256: sha256=$sig" --data-binary @"$F" "http://127.0.0.1:$PORT/github"
}
code=$(post d-ci-1)
check "the webhook takes the signed check_suite (got $code)" [ "$code" = 200 ]
ran() { "$OPC" -c "$CFG" autonomy triggers --json | jq -e '.triggers[] | select(.repo == "lint" and
    .event == "check_suite" and .conclusion == "success" and .status == "ran" and
    (.cycle_id | startswith("dec_")))' >/dev/null; }
check "it triggered observe -> derive -> propose for lint (auto off)" wait_for 60 ran
check "the proposer logged the triggered cycle" grep -q '"proposer.triggered_cycle".*lint: cycle dec_' \
    "$T/st/log/proposer.log"
code=$(post d-ci-2)
debounced() { "$OPC" -c "$CFG" autonomy triggers --json |
    jq -e '[.triggers[] | select(.status == "debounced")] | length == 1' >/dev/null; }
check "a second one within ci_debounce is debounced" wait_for 10 debounced
"$OPC" -c "$CFG" autonomy triggers >"$T/triggers.out" 2>&1
check "opc autonomy triggers lists them" sh -c "grep -q 'lint .*check_suite .*suite:octocoders-linter .*success .*ran .*dec_' '$T/triggers.out' &&
    grep -q 'debounced' '$T/triggers.out'"
treport() { grep -l '"trigger_id": "ci_ec26c3e57ca3_success' "$T"/st/reports/propose/*.json >/dev/null 2>&1; }
check "the triggered cycle left its propose report" wait_for 10 treport
finish
