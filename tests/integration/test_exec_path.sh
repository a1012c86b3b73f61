#!/bin/sh
# test_exec_path.sh BIN_DIR: the execution path through the real daemons
# (supervisor, board-sync, router, executor + opc-exec-run, recorder) on
# ipc:// in a temp dir, with real git repos:
#   opc demo on a fresh config with nothing up (it starts the
#   constellation; --backend, --workspace-path) -> evidence; blocked by
#   policy; failing validation; a question answered by move --comment and
#   by opc task comment; the emergency stop (opc pause survives a router
#   restart, a repo's pause holds that repo, opc resume runs it); backend
#   timeout; scope violation; SIGKILL of the executor mid-run -> the
#   restarted executor adopts the running worker; SIGKILL of the executor
#   and its worker -> interrupted -> retried once, never twice; a campaign
#   (a "Refactor ..." task): its run asks the stub backend for a plan, and
#   the three steps run as tasks of their own, one run each, across a
#   SIGKILL of board-sync.
#   (The breaker: test_breaker.sh.)
set -u
BIN=$1
OPC="$BIN/opc"
. "$(dirname "$0")/lib.sh"
CFG=$T/opcenter.yaml
trap 'cleanup "$CFG"' EXIT

# --- repos and fake backends ------------------------------------------------
for r in demo failing slow scope; do mkrepo $r; done
cat >"$T/slow.sh" <<'SH'
#!/bin/sh
# writes start/end markers outside the workspace; slow enough to be killed
# (section 7 kills it after a few opc, sqlite3 and jq calls, which take a
# second or more on a loaded CI box)
echo "start $$ $(date +%s.%N)" >>"$MARKERS"
sleep 4
echo "hello" >src/slow.txt
echo "end $$ $(date +%s.%N)" >>"$MARKERS"
SH
cat >"$T/slower.sh" <<'SH'
#!/bin/sh
# like slow.sh, but slow enough for its worker to be killed under it
echo "start $$" >>"$MARKERS"
sleep 30
echo "hello" >src/slower.txt
echo "end $$" >>"$MARKERS"
SH
cat >"$T/scope.sh" <<'SH'
#!/bin/sh
mkdir -p docs && echo "out of scope" >docs/outside.md
echo "in scope" >src/inside.txt
SH
cat >"$T/sleepy.sh" <<'SH'
#!/bin/sh
# records itself and a background child: both must die with the timeout
echo $$ >>"$PIDS"
sleep 61 &
echo $! >>"$PIDS"
sleep 61
SH
cat >"$T/asker.sh" <<'SH'
#!/bin/sh
# keeps each prompt it is given; asks a question until the prompt
# carries an answer
n=$(ls "$PROMPTS" | wc -l)
cp "$1" "$PROMPTS/prompt.$n"
if grep -q '^Answer: ' "$1"; then
	echo "answered" >src/answered.txt
else
	echo '<!-- cp:question: Which port? -->'
fi
SH
chmod +x "$T"/*.sh
mkdir -p "$T/prompts"
: >"$T/markers"	# the sandbox binds what exists (sandbox_rw_paths)

cat >"$CFG" <<YAML
opcenter: { state_dir: st, heartbeat_ms: 250 }
supervisor: { restart_backoff_min: 100ms, stop_grace: 5s }
repos:
  demo:    { clone_url: $T/links/demo, default_branch: main }
  failing: { clone_url: $T/failing, default_branch: main,
             validation_commands: [[sh, -c, "echo boom; exit 1"]] }
  slow:    { clone_url: $T/slow, default_branch: main }
  scope:   { clone_url: $T/scope, default_branch: main }
instances:
  board-sync: { upstreams: [router, executor] }
  router:
    upstreams: [board-sync, executor]
    timeout_seconds: 8         # slow.sh sleeps 4 s; sleepy.sh never ends
    lease: 60s
    rules:
      - { name: r.remote, when: { labels_any: ["lane: claude_cli"] }, lane: claude_cli, backend: stub }
      - { name: r.slow,   when: { repo: slow },  lane: aider_local, backend: slow }
      - { name: r.scope,  when: { repo: scope }, lane: aider_local, backend: scope }
      - { name: r.sleepy, when: { labels_any: [sleepy] }, lane: aider_local, backend: sleepy }
      - { name: r.slower, when: { labels_any: [slower] }, lane: aider_local, backend: slower }
      - { name: r.asker,  when: { labels_any: [asker] }, lane: aider_local, backend: asker }
    default: { lane: aider_local, backend: stub }
    budget: { max_per_hour: 100, max_per_day: 100, max_retries: 3, max_concurrent: 1 }
    breaker: { threshold: 0.9, window: 5, min_samples: 5 }   # see test_breaker.sh
  executor:
    upstreams: [router]
    backends:
      stub:   { kind: stub }
      # slow and slower write their pids, which are checked from here:
      # unconfined (a sandboxed run has a pid namespace of its own;
      # test_sandbox.sh kills a sandboxed run's worker)
      slow:   { kind: command, argv: [$T/slow.sh], env: { MARKERS: $T/markers }, sandbox: "off" }
      slower: { kind: command, argv: [$T/slower.sh], env: { MARKERS: $T/markers }, sandbox: "off" }
      scope:  { kind: command, argv: [$T/scope.sh] }
      asker:  { kind: command, argv: [$T/asker.sh, "{prompt_file}"], env: { PROMPTS: $T/prompts }, sandbox_rw_paths: [$T/prompts] }
      # its pids are checked from here: unconfined (a sandboxed run has a
      # pid namespace of its own; test_sandbox.sh checks that one)
      sleepy: { kind: command, argv: [$T/sleepy.sh], env: { PIDS: $T/sleepy.pids }, sandbox: "off" }
  recorder: { upstreams: [router, executor, board-sync] }
YAML

# --- 1. opc demo with nothing up: it starts the constellation; a goal task
# becomes a commit and evidence ------------------------------------------------
"$OPC" -c "$CFG" demo --backend nope >"$T/nope.out" 2>&1
check "demo: an unknown backend is named with the known ones" sh -c \
    "[ $? -eq 1 ] && grep -q \"unknown backend 'nope'\" '$T/nope.out' &&
    grep -q 'know: stub, slow' '$T/nope.out'"
check "demo: nothing started for it" [ ! -S "$T/st/run/supervisor.ctl" ]
"$OPC" -c "$CFG" demo --goal "Write a tiny hello-world execution artifact" \
    --repo-key demo --backend stub --workspace-path "$T/demo" --timeout 60 \
    >"$T/demo.out" 2>&1
check "demo exits 0" [ $? -eq 0 ]
check "demo started the constellation, saying so" sh -c \
    "grep -q 'constellation not running: starting it (opc up)' '$T/demo.out' &&
    grep -q 'opcenter is up' '$T/demo.out'"
check "demo: the repo's path names the workspace path" \
    [ "$(readlink "$T/links/demo")" = "$(realpath "$T/demo")" ]
check "demo: --backend chose the backend" sh -c \
    "grep -q '  backend     : stub' '$T/demo.out' &&
    grep -q '  rule        : label.backend' '$T/demo.out'"
check "demo prints every section" sh -c "grep -q PLANNING '$T/demo.out' &&
    grep -q 'ROUTING' '$T/demo.out' && grep -q 'POLICY' '$T/demo.out' &&
    grep -q 'EXECUTION' '$T/demo.out' && grep -q 'OBSERVABILITY' '$T/demo.out' &&
    grep -q 'Demo completed successfully' '$T/demo.out'"
run=$(sed -n 's/^  run_id      : //p' "$T/demo.out" | head -1)
ev="$T/st/runs/$run"
for f in proposal.json decision.json execution_request.json result.json \
    execution_record.json execution_trace.json run_metadata.json \
    result_summary.md; do
	check "evidence $f" [ -s "$ev/$f" ]
done
check "result summary in board words" sh -c "grep -qx -- '- worker_role: goal' '$ev/result_summary.md' &&
    grep -qx -- '- final_status: succeeded' '$ev/result_summary.md' &&
    grep -qx -- '- run_id: $run' '$ev/result_summary.md'"
check "headline says SUCCEEDED" grep -q '"headline": "SUCCEEDED' "$ev/execution_trace.json"
check "trace warns validation skipped" grep -q "validation was skipped for this run" "$ev/execution_trace.json"
branch=$(jq -r .branch_name "$ev/result.json")
check "branch pushed to the repo" git -C "$T/demo" rev-parse --verify -q "refs/heads/$branch"
check "artifact committed" sh -c "git -C '$T/demo' show '$branch:artifacts/demo_result.txt' | grep -q 'goal'"
check "task Done" state_is T-1 Done
check "result comment on the task" has_comment "T-1" 'success: true'

# --- 2. blocked by policy: no artifact, evidence still written ---------------
"$OPC" -c "$CFG" demo --goal "Write a tiny hello-world execution artifact" \
    --repo-key demo --blocked-policy --timeout 60 >"$T/blocked.out" 2>&1
check "blocked demo exits 1" [ $? -eq 1 ]
check "blocked demo says so" grep -q "Demo run blocked by policy" "$T/blocked.out"
check "blocked rule named" grep -q "routing.local_only_violated" "$T/blocked.out"
brun=$(sed -n 's/^  run_id      : //p' "$T/blocked.out" | head -1)
check "blocked evidence: policy.json" [ -s "$T/st/runs/$brun/policy.json" ]
check "blocked result skipped" sh -c "jq -e '.status == \"skipped\" and .failure_category == \"policy_blocked\"' '$T/st/runs/$brun/result.json'"
check "blocked run_metadata executed false" sh -c "jq -e '.executed == false' '$T/st/runs/$brun/run_metadata.json'"
check "blocked summary needs a human" sh -c "grep -qx -- '- blocked_classification: policy_blocked' '$T/st/runs/$brun/result_summary.md' &&
    grep -qx -- '- human_attention_required: true' '$T/st/runs/$brun/result_summary.md'"
check "blocked task Blocked" state_is T-2 Blocked
check "no run dispatched for the blocked task" sh -c "! sqlite3 '$T/st/executor.db' \"select 1 from erun where task_id='T-2'\" | grep -q 1"

# --- 3. failing validation ----------------------------------------------------
id=$(add --repo failing --goal "Change something that fails validation")
check "failing validation -> Blocked" wait_for 60 state_is "$id" Blocked
check "classified validation_failure" has_comment "$id" 'category: validation_failure'
"$OPC" -c "$CFG" task show "$id" >"$T/show.out" 2>&1
check "task show: the latest run's classification" \
    grep -qx '  classification: validation_failure' "$T/show.out"
check "task show: the reason in words" grep -q '^  reason: validation failed' "$T/show.out"

# --- 3b. a question (awaiting_input) answered on the local board: the answer
# reaches the next run's prompt --------------------------------------------
id=$(add --repo demo --goal "Serve the app" --label asker)
check "a question -> Blocked" wait_for 60 state_is "$id" Blocked
check "classified awaiting_input" has_comment "$id" 'category: awaiting_input'
check "the question on the task" has_comment "$id" 'question: Which port?'
"$OPC" -c "$CFG" task move "$id" "Ready for AI" --comment "Use 8080" >/dev/null
check "answered -> Done" wait_for 60 state_is "$id" Done
check "two runs, two prompts" [ "$(ls "$T/prompts" | wc -l)" -eq 2 ]
check "the first prompt has no answer" sh -c "! grep -q 'Answer:' '$T/prompts/prompt.0'"
check "the second prompt carries the question and the answer" sh -c \
    "grep -q 'Question asked: Which port?' '$T/prompts/prompt.1' && grep -qx 'Answer: Use 8080' '$T/prompts/prompt.1'"

# the same with a plain comment (opc task comment, board.task_comment)
id=$(add --repo demo --goal "Serve the other app" --label asker)
check "a question -> Blocked (comment path)" wait_for 60 state_is "$id" Blocked
"$OPC" -c "$CFG" task comment "$id" "Use 9090" >"$T/comment.out" 2>&1
check "the comment is taken as the answer" grep -q "the answer to its question" "$T/comment.out"
check "answered by comment -> Done" wait_for 60 state_is "$id" Done
check "the next prompt carries the comment's answer" sh -c \
    "grep -q 'Question asked: Which port?' '$T/prompts/prompt.3' && grep -qx 'Answer: Use 9090' '$T/prompts/prompt.3'"

# --- 3c. emergency stop: a paused task waits (one comment), the pause
# survives the router's restart, resume runs it; a repo's pause holds only
# that repo ----------------------------------------------------------------------
"$OPC" -c "$CFG" pause >"$T/pause0.out" 2>&1
check "pause without a reason is refused" sh -c "[ $? -eq 2 ] && grep -q 'reason TEXT is required' '$T/pause0.out'"
"$OPC" -c "$CFG" pause --reason "incident 7" >/dev/null
id=$(add --repo demo --goal "Wait for the pause")
paused_log() { grep -q "\"msg\":\"$id: dispatch skipped: paused (all repos: incident 7)\"" "$T/st/log/router.log"; }
check "paused: the router skips the dispatch, saying why" wait_for 20 paused_log
check "paused: the task's comment says it waits" has_comment "$id" 'Waiting: dispatch is paused'
check "opc status shows the pause" sh -c "'$OPC' -c '$CFG' status | grep -q 'dispatch PAUSED (all repos).*incident 7'"
rpid=$("$OPC" -c "$CFG" status --json | jq -r .router.pid)
kill -KILL "$rpid"
router_back() { p=$("$OPC" -c "$CFG" status --json | jq -r '.router.pid');
    [ "$p" != "$rpid" ] && "$OPC" -c "$CFG" status --json | jq -e '.router.status.pause.all.reason == "incident 7"' >/dev/null; }
check "a restarted router is still paused" wait_for 30 router_back
sleep 1
check "still waiting after the restart" state_is "$id" "Ready for AI"
check "one comment per task, not per cycle" [ "$("$OPC" -c "$CFG" task show "$id" --json |
    jq '[.comments[].body | select(test("Waiting: dispatch is paused"))] | length')" = 1 ]
"$OPC" -c "$CFG" pause --repo failing --reason "failing is frozen" >/dev/null
"$OPC" -c "$CFG" resume >"$T/resume.out"
check "resume says how many waited" grep -q "1 task(s) waited" "$T/resume.out"
check "resumed: the task runs to Done" wait_for 60 state_is "$id" Done
fid=$(add --repo failing --goal "Held by the repo's pause")
check "a repo's pause holds that repo" wait_for 20 has_comment "$fid" 'scope: failing'
"$OPC" -c "$CFG" resume --repo failing >/dev/null

# --- 4. backend timeout kills the whole process group ---------------------------
id=$(add --repo demo --goal "Sleep forever please" --label sleepy)
check "timeout -> Blocked" wait_for 60 state_is "$id" Blocked
check "classified timeout" has_comment "$id" 'category: timeout'
none_alive() { for p in $(cat "$T/sleepy.pids"); do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
check "backend and its child recorded" [ "$(wc -l <"$T/sleepy.pids")" -ge 2 ]
check "no sleepy backend left (whole process group killed)" wait_for 5 none_alive

# --- 5. a backend editing outside allowed_paths --------------------------------
id=$("$OPC" -c "$CFG" task add --repo scope --goal "Edit only src" \
    --description "$(printf '## Execution\nallowed_paths:\n  - src/\n\nEdit only src.\n')" | cut -d' ' -f1)
check "scope violation -> Blocked" wait_for 60 state_is "$id" Blocked
check "classified scope_policy" has_comment "$id" 'category: scope_policy'
check "nothing pushed for the scope violation" sh -c "[ \$(git -C '$T/scope' branch | wc -l) -eq 1 ]"

# --- 6. SIGKILL of the executor mid-run: its worker is adopted, the run ---
# finishes once, nothing is retried
id=$(add --repo slow --goal "A slow change")
check "slow run started" wait_for 30 sh -c "[ -s '$T/markers' ]"
expid=$(jq -r '.processes[] | select(.role=="executor") | .pid' "$T/st/supervisor.status.json")
kill -9 "$expid"
wait_for 60 state_is "$id" Done || show_task "$id"
check "slow task Done after the executor's restart" state_is "$id" Done
check "the restarted executor adopted the running worker" \
    grep -q "adopting its running worker" "$T/st/log/executor.log"
check "one start, one end (the run went on)" \
    sh -c "[ \$(grep -c '^start' '$T/markers') = 1 ] && [ \$(grep -c '^end' '$T/markers') = 1 ]"
check "one run for the slow task, succeeded" \
    [ "$(sqlite3 "$T/st/router.db" "select group_concat(status) from rrun where task_id='$id'")" = succeeded ]

# --- 7. SIGKILL of the executor and of its worker mid-run: interrupted, ----
# retried once, never twice
: >"$T/markers"
id=$(add --repo slow --goal "Another slow change")
check "second slow run started" wait_for 30 sh -c "[ -s '$T/markers' ]"
# (sqlite3 waits out the executor's write lock; an empty pid would make
# kill give up on every argument)
wpid=$(sqlite3 -cmd ".timeout 5000" "$T/st/executor.db" "select pid from erun where task_id = '$id' and state = 'running'")
first=$(sed -n '1s/start \([0-9]*\).*/\1/p' "$T/markers")
expid=$(jq -r '.processes[] | select(.role=="executor") | .pid' "$T/st/supervisor.status.json")
kill -9 "$expid"
for g in $wpid $first; do kill -s KILL -- "-$g"; done
echo "killed $(date +%s.%N)" >>"$T/markers"
check "the worker's pid ($wpid) and the backend's ($first) were known" \
    sh -c "[ -n '$wpid' ] && [ -n '$first' ]"
check "slow task Done after recovery" wait_for 60 state_is "$id" Done
check "interrupted then retried" has_comment "$id" 'status: interrupted'
starts=$(grep -c '^start' "$T/markers"); ends=$(grep -c '^end' "$T/markers")
[ "$starts" = 2 ] && [ "$ends" = 1 ] ||
    { sed 's|^|# markers: |' "$T/markers"; show_task "$id"; }
check "two starts, one end (first killed, never both): $starts, $ends" \
    sh -c "[ '$starts' = 2 ] && [ '$ends' = 1 ]"
check "first backend process is gone" sh -c "! kill -0 $first 2>/dev/null"
check "one success for the slow task" [ "$(sqlite3 "$T/st/router.db" "select count(*) from rrun where task_id='$id' and status='succeeded'")" = 1 ]

# --- 8. SIGKILL of the worker alone (the OOM killer's choice): the backend
# it left dies too, the run is interrupted and retried, not blamed --------
: >"$T/markers"
id=$(add --repo slow --goal "A much slower change" --label slower)
check "slower run started" wait_for 30 sh -c "[ -s '$T/markers' ]"
wpid=$(sqlite3 "$T/st/executor.db" "select pid from erun where task_id = '$id' and state = 'running'")
first=$(sed -n '1s/start //p' "$T/markers")
kill -KILL "$wpid"
check "the killed worker's backend is killed too" wait_for 10 sh -c "! kill -0 $first 2>/dev/null"
check "the retry started" wait_for 30 sh -c "[ \$(grep -c '^start' '$T/markers') = 2 ]"
check "the first run is interrupted, not blamed on the task" \
    has_comment "$id" 'status: interrupted'
check "no infra_tooling for a killed worker" sh -c \
    "! '$OPC' -c '$CFG' task show $id --json | jq -r '.comments[].body' | grep -q infra_tooling"

# --- 9. bad task text is refused, not stored --------------------------------
n0=$("$OPC" -c "$CFG" task list --json | jq '.tasks | length')
"$OPC" -c "$CFG" task add --repo demo --goal "$(printf 'bad \377 bytes')" >"$T/bad.out" 2>&1
check "a goal that is not UTF-8 is refused" sh -c "[ $? -eq 2 ] && grep -q 'must be UTF-8' '$T/bad.out'"
"$OPC" -c "$CFG" task add --repo demo --goal "$(head -c 70000 /dev/zero | tr '\0' x)" >"$T/big.out" 2>&1
check "a 70 KB goal is refused with its size" grep -q "the goal is 70000 bytes; at most 65536" "$T/big.out"
check "neither was stored" [ "$("$OPC" -c "$CFG" task list --json | jq '.tasks | length')" = "$n0" ]
"$OPC" -c "$CFG" task move "$id" "Finished" >"$T/state.out" 2>&1
check "an unknown state is refused, naming the states" sh -c "[ $? -eq 2 ] && grep -q \"unknown state 'Finished' (Backlog, Ready for AI, Running, In Review, Review, Blocked, Done, Cancelled)\" '$T/state.out'"

# --- 10. a dispatch whose run id would name a path outside the workspaces --
"$OPC" -c "$CFG" pub executor exec.dispatch '{"run_id": "../../escape", "task_id": "T-x", "executor": "executor", "request": {"run_id": "../../escape", "task_id": "T-x", "goal_text": "x"}}' >/dev/null 2>&1
bad_dispatch() { "$OPC" -c "$CFG" status --json | jq -e '.executor.status.counters.bad_dispatch >= 1' >/dev/null; }
check "a run id like ../../escape is refused and counted" wait_for 10 bad_dispatch
check "nothing was written outside the workspaces" sh -c "! ls '$T/st/../escape'* >/dev/null 2>&1 && ! ls '$T/escape'* >/dev/null 2>&1"

# --- recorder: runs list and spend report -------------------------------------
check "runs list shows runs" sh -c "'$OPC' -c '$CFG' runs list | grep -q succeeded"
short=$("$OPC" -c "$CFG" runs list | awk -v r="$run" 'substr(r, 1, 8) == $1 { print $1; exit }')
check "runs list prints the demo run's short id" [ "$short" = "$(echo "$run" | cut -c1-8)" ]
check "runs show takes the short id" sh -c "'$OPC' -c '$CFG' runs show '$short' --json | jq -e '.run_id == \"$run\"' >/dev/null"
check "runs show: an unknown id says no run" sh -c "'$OPC' -c '$CFG' runs show zzzz 2>&1 | grep -q \"no run 'zzzz'\""
# an ambiguous prefix (two runs sharing a first character: likely among a
# dozen runs, not certain) names its candidates
pair=$("$OPC" -c "$CFG" runs list --json | jq -r '.runs[].run_id[0:1]' | sort | uniq -d | head -1)
if [ -n "$pair" ]; then
	"$OPC" -c "$CFG" runs show "$pair" >"$T/amb.out" 2>&1
	check "runs show: an ambiguous prefix is an error naming the runs" \
	    sh -c "[ $? -ne 0 ] && grep -q \"run id '$pair' is ambiguous\" '$T/amb.out'"
fi
check "spend-report is JSON" sh -c "'$OPC' -c '$CFG' spend-report --json | jq -e '.total_executions >= 1' >/dev/null"

# --- 11. a campaign: a multi-step change run step by step, each its own
# run, across a SIGKILL of board-sync between two steps ----------------------
pid=$(add --repo demo --title "Refactor the greeting" --goal "Split the greeting into its own module")
camp() { "$OPC" -c "$CFG" campaigns --json; }
planned() { [ "$(camp | jq -r --arg p "$pid" '.[] | select(.parent_task_id == $p) | .step_ids | length')" = 3 ]; }
check "campaign: the parent's run asks the stub backend for a plan: 3 steps" wait_for 60 planned
check "campaign: the parent waits Running" state_is "$pid" Running
step1=$(camp | jq -r --arg p "$pid" '.[] | select(.parent_task_id == $p) | .step_ids[0]')
check "campaign: the backend's plan, its steps named by it" sh -c "'$OPC' -c '$CFG' task show $step1 --json |
    jq -e '.task.title == \"Analyze: Refactor the greeting\"' >/dev/null"
check "campaign: planner backend" sh -c "'$OPC' -c '$CFG' campaigns --json | jq -e '.[] | select(.parent_task_id == \"$pid\") | .planner == \"backend\"' >/dev/null"
check "campaign: step 1 runs to Done" wait_for 60 state_is "$step1" Done
kill -9 "$("$OPC" -c "$CFG" status --json | jq -r '."board-sync".pid')"
check "campaign: the parent ends Done after its 3 steps" wait_for 120 state_is "$pid" Done
"$OPC" -c "$CFG" campaigns --status complete >"$T/camp.out"
check "opc campaigns: complete, 3/3 steps" grep -q "^C-$pid .*3/3 steps (100.0%)  complete" "$T/camp.out"
check "opc campaigns --json: the original's fields" sh -c "'$OPC' -c '$CFG' campaigns --json |
    jq -e --arg p '$pid' '.[] | select(.parent_task_id == \$p) | .total_steps == 3 and .completed_steps == 3 and (.done_step_ids | length) == 3 and .progress_pct == 100 and .status == \"complete\"' >/dev/null"
onerun() { # every step ran once
	for s in $(camp | jq -r --arg p "$pid" '.[] | select(.parent_task_id == $p) | .step_ids[]'); do
		[ "$("$OPC" -c "$CFG" runs list --task "$s" --json | jq '.runs | length')" = 1 ] || return 1
	done
}
check "campaign: each step had exactly one run" wait_for 30 onerun
check "campaign: one (planning) run for the parent" [ "$("$OPC" -c "$CFG" runs list --task "$pid" --json | jq '.runs | length')" = 1 ]
check "campaign: progress posted on the parent" has_comment "$pid" '3/3 steps done (100.0%), 0 cancelled - complete'

finish
