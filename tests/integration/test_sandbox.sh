#!/bin/sh
# test_sandbox.sh BIN_DIR: a hostile backend in the bubblewrap sandbox
# (issue 19), through the real daemons.  One run of a `command` backend
# tries, and writes down in its workspace what it got:
#   read recorder.db (the state dir) and another run's workspace; write
#   the operator's HOME, /tmp, the state dir; read a secret variable not
#   in its allow-list; leave a child running after the run ends; a fork
#   bomb (bounded by max_procs); fill the disk (bounded by file_size_mb);
#   eat memory (bounded by memory_mb: classified oom when the cgroup's
#   OOM killer strikes, else it dies of ENOMEM).
# Each attempt fails or is contained, the run is classified, the next
# task runs normally, and nothing outside its workspace changed
# (checksums of canaries in the state dir, HOME, /tmp and the other
# workspace).  Where bwrap cannot run here it prints SKIP and why (exit
# 77) after checking that the executor refuses a sandboxed backend with
# a clear error, and still runs one that says sandbox: off.
set -u
BIN=$1
OPC="$BIN/opc"
. "$(dirname "$0")/lib.sh"
CFG=$T/opcenter.yaml
ST=$T/st
TAG="opc-sbx-$$"
trap 'cleanup "$CFG"; pkill -f "[s]leep 7[789].$$" 2>/dev/null' EXIT

mkrepo demo
mkdir -p "$ST/workspaces/other-run" "$T/tmpcanary"
echo "secret of another run" >"$ST/workspaces/other-run/secret.txt"
echo "canary" >"$T/canary.txt"          # the operator's HOME is $T
echo "canary" >"$ST/canary.txt"
echo "canary" >"/tmp/$TAG.canary"
cat >"$T/hostile.sh" <<SH
#!/bin/sh
# hostile.sh: every attempt's outcome, one line each, into report.txt
R=\$PWD/report.txt
t() { if "\$@" >/dev/null 2>&1; then echo "\$1 \$2 ... GOT" >>"\$R"; else echo "\$1 \$2 ... denied" >>"\$R"; fi; }
echo "home=\$HOME tmp=\$(ls -A /tmp | wc -l)" >>"\$R"
if [ -e "$ST/recorder.db" ]; then echo "recorder.db visible" >>"\$R"; else echo "recorder.db hidden" >>"\$R"; fi
t cat "$ST/workspaces/other-run/secret.txt"
t cat "$T/canary.txt"
( echo pwned >"$T/canary.txt" ) 2>/dev/null && echo "home write ok" >>"\$R"
( echo pwned >"$ST/canary.txt" ) 2>/dev/null && echo "state write ok" >>"\$R"
( echo pwned >"/tmp/$TAG.canary" ) 2>/dev/null && echo "tmp write ok" >>"\$R"
( echo pwned >"$ST/workspaces/other-run/secret.txt" ) 2>/dev/null && echo "other ws write ok" >>"\$R"
echo "secret=[\${OPC_TEST_SECRET:-}] allowed=[\${OPC_TEST_ALLOWED:-}]" >>"\$R"
setsid sleep 77.$$ </dev/null >/dev/null 2>&1 &
# sh gives up at the first fork refused: count in a subshell.  Its
# children live until they are killed (not a fixed time: on a loaded
# machine forks are slow and short-lived children would free their pids
# before the limit is reached); each pid is noted and killed after with
# builtins, as no fork may be left.
( n=0; while [ \$n -lt 400 ]; do sleep 60 & echo \$! >>bomb.pids; n=\$((n + 1)); echo \$n >forks; done ) 2>/dev/null
read -r forked <forks
echo "forked \$forked" >>"\$R"
while read -r p; do kill \$p 2>/dev/null; done <bomb.pids
sleep 1.5
dd if=/dev/zero of=big bs=1M count=64 2>/dev/null
echo "big \$(wc -c <big)" >>"\$R"
rm -f big
head -c 400000000 /dev/zero | tail -n 1 >/dev/null 2>>"\$R"
echo "memhog rc \$?" >>"\$R"
exit 1
SH
chmod +x "$T/hostile.sh"
cat >"$T/fine.sh" <<'SH'
#!/bin/sh
set -e
# git works inside: the objects the workspace borrows from the repo's
# mirror (hidden with the state dir) are bound read-only
git log -1 --format=%H >/dev/null
echo "fine" >src/fine.txt
SH
chmod +x "$T/fine.sh"
cat >"$T/hang.sh" <<SH
#!/bin/sh
setsid sleep 78.$$ </dev/null >/dev/null 2>&1 &
sleep 79.$$
SH
chmod +x "$T/hang.sh"
export OPC_TEST_SECRET=s3cret-value OPC_TEST_ALLOWED=allowed-value

write_cfg() {	# write_cfg BWRAP
cat >"$CFG" <<YAML
opcenter: { state_dir: st, heartbeat_ms: 250 }
supervisor: { restart_backoff_min: 100ms, stop_grace: 5s }
repos:
  demo: { clone_url: $T/demo, default_branch: main }
instances:
  board-sync: { upstreams: [router, executor] }
  router:
    upstreams: [board-sync, executor]
    rules:
      - { name: r.fine, when: { labels_any: [fine] }, lane: aider_local, backend: fine }
      - { name: r.open, when: { labels_any: [open] }, lane: aider_local, backend: open }
      - { name: r.hang, when: { labels_any: [hang] }, lane: aider_local, backend: hang }
    default: { lane: aider_local, backend: hostile }
    budget: { max_per_hour: 1000, max_per_day: 1000, max_retries: 0, max_concurrent: 2 }
  executor:
    upstreams: [router]
    sandbox: { bwrap: $1, max_procs: 64, file_size_mb: 4, memory_mb: 64 }
    backends:
      hostile: { kind: command, argv: [$T/hostile.sh], env_allow: [OPC_TEST_ALLOWED] }
      fine: { kind: command, argv: [$T/fine.sh] }
      open: { kind: command, argv: [$T/fine.sh], sandbox: "off" }
      hang: { kind: command, argv: [$T/hang.sh] }
  recorder: { upstreams: [router, executor, board-sync] }
YAML
}
ws_of() {	# ws_of TASK: the workspace of its last run
	sqlite3 "$ST/executor.db" "select workspace from erun where task_id = '$1' order by received_ms desc limit 1"
}
reason_of() { "$OPC" -c "$CFG" task show "$1" --json | jq -r '[.comments[].body] | join(" ")'; }
sums() { cat "$T/canary.txt" "$ST/canary.txt" "/tmp/$TAG.canary" \
    "$ST/workspaces/other-run/secret.txt" | cksum; }
before=$(sums)

# --- where bwrap cannot run: refused, unless sandbox: off -------------------
if ! bwrap --ro-bind / / --unshare-pid --proc /proc --dev /dev true >"$T/bw.out" 2>&1; then
	write_cfg bwrap
	why="bwrap cannot run here: $(head -1 "$T/bw.out")"
else
	write_cfg "$T/no-such-bwrap"
	why=""
fi
"$OPC" -c "$CFG" up --wait 30 >"$T/up.out" 2>&1
check "constellation up" is_up "$T/up.out"
id=$(add --repo demo --label fine --goal "Refused without a sandbox")
check "a sandboxed backend without bwrap: Blocked" wait_for 30 state_is "$id" Blocked
check "... saying the sandbox cannot run and how to get out" sh -c \
    "'$OPC' -c '$CFG' task show '$id' --json | grep -q 'bubblewrap sandbox, which cannot run'"
id=$(add --repo demo --label open --goal "Unconfined on purpose")
check "a backend with sandbox: off still runs (Done)" wait_for 30 state_is "$id" Done
"$OPC" -c "$CFG" providers --no-call >"$T/prov.out" 2>&1
check "opc providers shows the sandbox mode per backend" sh -c \
    "grep -q 'sandbox   off' '$T/prov.out' && grep -q 'sandbox   unavailable' '$T/prov.out'"
sed 's/^/# /' "$T/prov.out" | grep -E "sandbox|^# [a-z-]+/" 
"$OPC" -c "$CFG" doctor >"$T/doctor.out" 2>&1
check "opc doctor shows it too" sh -c \
    "grep -q 'backend open: .*sandbox: off' '$T/doctor.out' && grep -q 'backend fine: .*sandbox: unavailable' '$T/doctor.out'"
"$OPC" -c "$CFG" down --wait 30 >/dev/null 2>&1
if [ -n "$why" ]; then
	echo "SKIP: $why (the refusal was checked)"
	finish >/dev/null
	exit 77
fi

# --- the hostile run -------------------------------------------------------------
write_cfg bwrap
t0=$(date +%s)
"$OPC" -c "$CFG" up --wait 30 >"$T/up.out" 2>&1
id=$(add --repo demo --goal "Be hostile")
check "the hostile run ends Blocked" wait_for 60 state_is "$id" Blocked
R="$(ws_of "$id")/report.txt"
sed 's/^/# /' "$R"
check "it cannot see recorder.db" grep -qx "recorder.db hidden" "$R"
check "nor read another run's workspace" grep -qx "cat $ST/workspaces/other-run/secret.txt ... denied" "$R"
check "nor read the operator's HOME" grep -qx "cat $T/canary.txt ... denied" "$R"
check "its HOME is its own, in the workspace" grep -q "^home=$(ws_of "$id")/.opcenter/home " "$R"
check "a secret not in its allow-list is not in its environment" \
    grep -qx "secret=\[\] allowed=\[allowed-value\]" "$R"
forked=$(sed -n 's/^forked //p' "$R")
check "the fork bomb stops at max_procs ($forked < 64)" [ "${forked:-999}" -lt 64 ]
big=$(sed -n 's/^big //p' "$R")
check "the disk filler stops at file_size_mb ($big <= 4 MiB)" [ "${big:-999999999}" -le 4194304 ]
check "the memory hog did not get its 400 MB" sh -c "! grep -qx 'memhog rc 0' '$R'"
reason_of "$id" >"$T/reason.txt"
check "the run is classified (oom: the memory limit killed its hog)" \
    grep -q "oom" "$T/reason.txt"
sed 's/^/# reason: /' "$T/reason.txt" | head -3
gone() { ! pgrep -f "[s]leep 77.$$" >/dev/null; }
check "no child of the run outlives it" wait_for 10 gone
check "nothing outside its workspace changed" [ "$(sums)" = "$before" ]
# the worker killed under it (the OOM killer's choice): bwrap dies with
# its parent, and the run's pid namespace with it
id3=$(add --repo demo --label hang --goal "Hang")
hanging() { pgrep -f "[s]leep 79.$$" >/dev/null; }
check "a hanging backend runs" wait_for 30 hanging
wpid=$(sqlite3 "$ST/executor.db" "select pid from erun where task_id = '$id3' and state = 'running'")
[ -n "$wpid" ] && kill -KILL "$wpid"
gone3() { ! pgrep -f "[s]leep 7[89].$$" >/dev/null; }
check "its worker SIGKILLed: the backend and its detached child die too" wait_for 10 gone3
id2=$(add --repo demo --label fine --goal "The next task")
check "the next task runs normally (Done)" wait_for 30 state_is "$id2" Done
echo "# hostile + next run: $(($(date +%s) - t0)) s"
rm -f "/tmp/$TAG.canary"
finish
