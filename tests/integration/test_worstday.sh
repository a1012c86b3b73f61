#!/bin/sh
# test_worstday.sh BIN_DIR: the operator's worst day, on the real daemons
# (ipc://, and one ctl socket on plain tcp on loopback):
#   1. a state dir made 0755 by an installer: every file 0600, every dir
#      0700, and opc doctor warns;
#   2. a plain tcp ctl socket answers status but refuses inject (a
#      dispatch that would run its own validation commands);
#   3. a 10 MiB goal sent to board-sync is refused with its size, and the
#      constellation goes on;
#   4. an event too big for any frame, left in board-sync's journal by an
#      older version: consumers skip it with bus.data_loss (reason
#      undeliverable), it is escalated, later tasks flow;
#   5. under load, a worker killed -9 (its backend dies with it, the run
#      is retried) and then the supervisor killed -9: opc up brings every
#      instance back running, every task ends Done with one success, and
#      opc down leaves no process of this state dir;
#   6. the escalation webhook's secret (in its URL path) is nowhere: not
#      in a log, a status, an evidence file.
# (The disk-full day: test_diskfull.sh.  A partition longer than the
# lease: test_multihost.sh.)
set -u
BIN=$1
OPC="$BIN/opc"
. "$(dirname "$0")/lib.sh"
CFG=$T/opcenter.yaml
trap 'cleanup "$CFG"' EXIT

SECRET=T0PS3CRET-worstday-$$
export ESC_URL="http://127.0.0.1:9/hooks/$SECRET?token=$SECRET"
PORT=$((20000 + $$ % 20000))
mkrepo demo
cat >"$T/work.sh" <<'SH'
#!/bin/sh
# a backend that works for a while and changes one file of its own
echo "start $$" >>"$MARKERS"
sleep "${WORK_SECONDS:-1}"
echo "run $$" >"src/w-$$.txt"
echo "end $$" >>"$MARKERS"
SH
chmod +x "$T/work.sh"
: >"$T/markers"

cat >"$CFG" <<YAML
opcenter: { state_dir: st, heartbeat_ms: 250, insecure_ctl: false }
supervisor: { restart_backoff_min: 100ms, stop_grace: 5s }
repos:
  demo: { clone_url: $T/demo, default_branch: main }
instances:
  board-sync: { upstreams: [router, executor] }
  router:
    upstreams: [board-sync, executor]
    timeout_seconds: 60
    lease: 60s
    rules:
      - { name: r.long, when: { labels_any: [long] }, lane: aider_local, backend: long }
    default: { lane: aider_local, backend: work }
    budget: { max_per_hour: 1000, max_per_day: 1000, max_retries: 3, max_concurrent: 3 }
  executor:
    upstreams: [router]
    ctl: tcp://127.0.0.1:$PORT
    max_parallel: 3
    backends:
      work: { kind: command, argv: [$T/work.sh], env: { MARKERS: $T/markers }, sandbox_rw_paths: [$T/markers] }
      long: { kind: command, argv: [$T/work.sh], env: { MARKERS: $T/markers, WORK_SECONDS: "30" }, sandbox_rw_paths: [$T/markers] }
  recorder: { upstreams: [router, executor, board-sync] }
  escalator: { upstreams: [router, executor, board-sync, recorder], url_env: ESC_URL }
YAML

# --- 1. a state dir an installer made 0755 ----------------------------------
mkdir -m 0755 "$T/st"
"$OPC" -c "$CFG" up --wait 30 >"$T/up.out" 2>&1
check "constellation up" is_up "$T/up.out"
id=$(add --repo demo --goal "First change")
check "a first task is Done" wait_for 30 state_is "$id" Done
# (a workspace's clone of a local repo hard-links the source's objects,
# which keep the source's mode: those are not files opcenter made)
check "every file opcenter made under the state dir is 0600" \
    sh -c "[ -z \"\$(find '$T/st' -type f -links 1 -perm /077 -print -quit)\" ]"
check "every dir under the state dir but the top is 0700" \
    sh -c "[ -z \"\$(find '$T/st' -mindepth 1 -type d -perm /077 -print -quit)\" ]"
"$OPC" -c "$CFG" doctor >"$T/doctor.out" 2>&1
check "doctor warns that the state dir is readable by others" \
    grep -q "is mode 0755: other users may read" "$T/doctor.out"

# --- 2. plain tcp ctl: read-only -------------------------------------------
check "status answers over the tcp ctl" sh -c \
    "'$OPC' -c '$CFG' status --json | jq -e '.executor.status.pid > 0'"
"$OPC" -c "$CFG" pub executor exec.dispatch "{\"run_id\": \"R-evil\", \"task_id\": \"T-evil\", \"executor\": \"executor\", \"request\": {\"goal_text\": \"x\", \"validation_commands\": [[\"sh\", \"-c\", \"touch $T/pwned\"]]}}" >"$T/inject.out" 2>&1
check "inject over plain tcp is refused" [ $? -ne 0 ]
check "... saying why" grep -q "refuses ctl.inject over plain tcp" "$T/inject.out"
check "... and counted" sh -c \
    "'$OPC' -c '$CFG' status --json | jq -e '.executor.status.counters.ctl_refused >= 1'"
check "... and nothing ran" sh -c "sleep 1; [ ! -e '$T/pwned' ]"

# --- 3. a 10 MiB goal ---------------------------------------------------------
head -c 10485760 /dev/zero | tr '\0' g >"$T/big.goal"
"$OPC" -c "$CFG" task add --repo demo --goal-file "$T/big.goal" >"$T/big.out" 2>&1
check "a 10 MiB goal is refused" [ $? -ne 0 ]
check "... with its size and the limit" \
    grep -q "the goal is 10485760 bytes; at most 65536" "$T/big.out"
check "task list still answers" "$OPC" -c "$CFG" task list
"$OPC" -c "$CFG" task move T-1 Done --comment "$(head -c 70000 /dev/zero | tr '\0' c)" >"$T/bigc.out" 2>&1
check "a 70 KB comment on a move is refused with its size" \
    grep -q "the comment is 70000 bytes; at most 65536" "$T/bigc.out"
id=$(add --repo demo --goal "After the big goal")
check "the next task is Done" wait_for 30 state_is "$id" Done

# --- 4. an undeliverable event in board-sync's journal -------------------------
"$OPC" -c "$CFG" down --wait 30 >/dev/null 2>&1
big=$((17 * 1024 * 1024))
sqlite3 "$T/st/board-sync.db" "INSERT INTO journal(seq, topic, ts, corr, frame)
    SELECT max(seq) + 1, 'task.updated', 0, NULL, zeroblob($big) FROM journal" ||
    bad "cannot plant the big event"
poison=$(sqlite3 "$T/st/board-sync.db" "SELECT max(seq) FROM journal")
# (a bound, not a goal: under ASan beside test_chaos the replays of the
# 17 MiB frame have taken over 30 s)
"$OPC" -c "$CFG" up --wait 90 >"$T/up2.out" 2>&1
check "up again with the big event journaled" grep -q "opcenter is up" "$T/up2.out"
id=$(add --repo demo --goal "After the undeliverable event")
check "a task added after it is Done" wait_for 40 state_is "$id" Done
check "the router recorded the loss (bus.data_loss, undeliverable)" \
    grep -q "upstream board-sync: event $poison is larger than a frame" "$T/st/log/router.log"
check "board-sync said what it skipped" \
    grep -q "seq $poison is $big bytes" "$T/st/log/board-sync.log"
check "the loss was escalated" wait_for 10 grep -q \
    '"escalator.wanted".*data_loss.*undeliverable\|"escalator.wanted".*data_loss.*larger than a frame' \
    "$T/st/log/escalator.log"
check "heartbeats are fresh" "$OPC" -c "$CFG" heartbeat-check

# --- 5. a worker, then the supervisor, killed -9 under load ----------------------
: >"$T/markers"
ids=""
for i in 1 2 3 4 5 6; do ids="$ids $(add --repo demo --goal "Load change $i")"; done
lid=$(add --repo demo --goal "A long change" --label long)
ids="$ids $lid"
long_running() {
	sqlite3 "$T/st/executor.db" \
	    "select pid from erun where task_id = '$lid' and state = 'running'" | grep -q .
}
check "the long run started" wait_for 30 long_running
wpid=$(sqlite3 "$T/st/executor.db" "select pid from erun where task_id = '$lid' and state = 'running'")
wait_for 10 sh -c "grep -q '^start' '$T/markers'"
kids=$(cat "$T/st/"*/*.children "$T/st/"*.children 2>/dev/null | tr '\n' ' ')
kill -KILL "$wpid"
gone() { ! kill -0 "$1" 2>/dev/null; }
all_gone() { for p in "$@"; do gone "$p" || return 1; done; }
if [ -n "$kids" ]; then
	check "the killed worker's backend died with it" wait_for 10 all_gone $kids
fi
sleep 1
spid=$(cat "$T/st/run/supervisor.pid")
kill -9 "$spid"
check "the supervisor's daemons stop with it" wait_for 15 sh -c \
    "! pgrep -f 'opc-(board-sync|router|executor|recorder|escalator) .*$CFG' >/dev/null"
"$OPC" -c "$CFG" up --wait 30 >"$T/up3.out" 2>&1
check "opc up after the kill exits 0" [ $? -eq 0 ]
check "... and every instance is running" sh -c \
    "jq -e '[.processes[] | .state] | all(. == \"running\")' '$T/st/supervisor.status.json'"
for id in $ids; do
	check "$id Done" wait_for 90 state_is "$id" Done
	check "$id has exactly one success" [ "$(sqlite3 "$T/st/router.db" \
	    "select count(*) from rrun where task_id='$id' and status='succeeded'")" = 1 ]
done
check "the long run was interrupted, not blamed on the task" \
    has_comment "$lid" 'status: interrupted'

# --- 6. the webhook's secret is nowhere -------------------------------------
"$OPC" -c "$CFG" status --json >"$T/status.json" 2>&1
check "the secret is in no file of the state dir" sh -c \
    "! grep -rl '$SECRET' '$T/st' >/dev/null 2>&1"
check "nor in opc status" sh -c "! grep -q '$SECRET' '$T/status.json'"
check "the escalator shows the URL's host only" grep -q "127.0.0.1" "$T/status.json"

"$OPC" -c "$CFG" down --wait 30 >"$T/down.out" 2>&1
check "opc down exits 0" [ $? -eq 0 ]
none_left() { ! pgrep -af "opc-[a-z-]+ .*($CFG|$T/st)" >"$T/left"; }
check "after down, no process of this state dir" none_left
sed 's/^/# left: /' "$T/left"
finish
