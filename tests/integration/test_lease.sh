#!/bin/sh
# test_lease.sh BIN_DIR: an executor that goes silent mid-run (SIGSTOP)
# loses its lease: its worker fences itself (stops the backend at half the
# lease), the router takes the run back after the full lease (the board
# says so once) and re-dispatches it to the other executor, the task
# completes there, and when the frozen executor comes back its stale run
# is ignored and recorded superseded.  The backend never runs twice at
# once.
set -u
BIN=$1
OPC="$BIN/opc"
. "$(dirname "$0")/lib.sh"
CFG=$T/opcenter.yaml
trap 'kill -CONT $frozen 2>/dev/null; cleanup "$CFG"' EXIT
frozen=0

mkrepo slow
cat >"$T/slow.sh" <<'SH'
#!/bin/sh
# a second copy while the first one lives would be a double run
if [ -f "$LOCK" ] && kill -0 "$(cat "$LOCK")" 2>/dev/null; then
	echo "OVERLAP $$" >>"$MARKERS"
fi
echo $$ >"$LOCK"
echo "start $$" >>"$MARKERS"
sleep 6
echo "done" >src/slow.txt
echo "end $$" >>"$MARKERS"
SH
chmod +x "$T/slow.sh"
# slow.sh's lock holds a pid that the other runs check: unconfined, as a
# sandboxed run has a pid namespace of its own (test_sandbox.sh)
cat >"$CFG" <<YAML
opcenter: { state_dir: st, heartbeat_ms: 250 }
supervisor: { stale_restart: false }
repos:
  slow: { clone_url: $T/slow, default_branch: main }
instances:
  board-sync: { upstreams: [router, executor@a, executor@b] }
  router:
    upstreams: [board-sync, executor@a, executor@b]
    default: { lane: aider_local, backend: slow }
    lease: 4s
    timeout_seconds: 60
    budget: { max_concurrent: 1 }
  executor@a:
    upstreams: [router]
    backends: { slow: { kind: command, argv: [$T/slow.sh], env: { MARKERS: $T/markers, LOCK: $T/lock }, sandbox: "off" } }
  executor@b:
    upstreams: [router]
    backends: { slow: { kind: command, argv: [$T/slow.sh], env: { MARKERS: $T/markers, LOCK: $T/lock }, sandbox: "off" } }
  recorder: { upstreams: [router, executor@a, executor@b, board-sync] }
YAML
"$OPC" -c "$CFG" up --wait 20 >/dev/null 2>&1
check "constellation up" wait_for 10 "$OPC" -c "$CFG" heartbeat-check --max-age 5
# both executors heard by the router before the task goes in
check "router hears both executors" wait_for 10 sh -c "'$OPC' -c '$CFG' status --json | jq -e '[.router.status.executors[].heartbeat_age_ms | select(. >= 0)] | length == 2'"
id=$(add --repo slow --goal "A slow change that outlives its executor")
check "backend started" wait_for 30 sh -c "[ -s '$T/markers' ]"
first=$(sqlite3 "$T/st/router.db" "select executor from rrun where task_id='$id'")
other=executor@b; [ "$first" = executor@b ] && other=executor@a
frozen=$(jq -r ".processes[] | select(.role==\"$first\") | .pid" "$T/st/supervisor.status.json")
kill -STOP "$frozen"
check "re-dispatched to $other after the lease" wait_for 30 sh -c "sqlite3 '$T/st/router.db' \"select executor from rrun where task_id='$id' and state <> 'superseded'\" | grep -q '$other'"
check "first run superseded" sh -c "sqlite3 '$T/st/router.db' \"select state from rrun where task_id='$id' and executor='$first'\" | grep -q superseded"
check "task Done on $other" wait_for 60 state_is "$id" Done
taken_back() { [ "$("$OPC" -c "$CFG" task show "$id" --json | jq '[.comments[].body | select(startswith("Run taken back"))] | length')" = 1 ]; }
check "the task says once that its first run was taken back" taken_back
kill -CONT "$frozen"; frozen=0
check "the thawed executor reports its stale run" wait_for 30 sh -c "sqlite3 '$T/st/router.db' \"select topic from journal\" >/dev/null; '$OPC' -c '$CFG' status --json | jq -e '.router.status.counters.stale_finished >= 1'"
check "task still Done" state_is "$id" Done
check "the recorder has the first run superseded" wait_for 30 sh -c "'$OPC' -c '$CFG' runs list --task $id --json | jq -e '[.runs[] | select(.status == \"superseded\")] | length == 1'"
check "... and one success for the task" sh -c "'$OPC' -c '$CFG' runs list --task $id --json | jq -e '[.runs[] | select(.success == true)] | length == 1' >/dev/null"
check "the frozen worker says it lost its lease" sh -c "grep -q 'lease lost' '$T'/st/workspaces/*.worker.log"
check "never two backends at once" sh -c "! grep -q OVERLAP '$T/markers'"
check "two starts, one end" sh -c "[ \$(grep -c '^start' '$T/markers') = 2 ] && [ \$(grep -c '^end' '$T/markers') = 1 ]"
finish
