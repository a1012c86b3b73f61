#!/bin/sh
# test_supervisor.sh BIN_DIR: opc up/status/sub/pub/heartbeat-check/down and
# the supervisor's restart, crash-loop, stale and --only behaviour, with the
# real binaries on ipc:// under a temp dir.
set -u
BIN=$1
OPC="$BIN/opc"
. "$(dirname "$0")/lib.sh"
CFG=$T/opcenter.yaml
trap 'cleanup "$CFG"' EXIT

field() { # field INSTANCE KEY: a value from the supervisor status file
	jq -r ".processes[] | select(.role == \"$1\") | .$2" \
	    "$T/st/supervisor.status.json" 2>/dev/null
}
# is FIELD-ARGS VALUE: for wait_for
is() { [ "$(field "$1" "$2")" = "$3" ]; }

cat >"$CFG" <<YAML
opcenter:
  state_dir: st
  heartbeat_ms: 200
  stale_after_ms: 3000
supervisor:
  restart_backoff_min: 100ms
  restart_backoff_max: 400ms
  crash_loop_restarts: 3
  crash_loop_window: 30s
  stop_grace: 3s
instances:
  prod:
    service: testprod
    produce: 50
    interval_ms: 20
  cons:
    service: testcons
    upstreams: [prod]
  flaky:
    bin: /bin/false
YAML

# Not up yet: clear errors, non-zero exits.
"$OPC" -c "$CFG" status >"$T/out" 2>&1
check "status before up exits 1" [ $? -eq 1 ]
check "status before up says so" grep -q "not up" "$T/out"
check "help works" "$OPC" --help
check "sub --help works" "$OPC" sub --help

# A state dir an installer made 0755: what opcenter creates in it is
# still private (the dbs, WALs and logs hold task text).
mkdir -m 755 "$T/st"

# up: flaky never stays up, so up reports failure (naming it, at once,
# not after --wait) but the rest runs.
"$OPC" -c "$CFG" up --wait 30 >"$T/up.out" 2>&1
check "up exits 1 when an instance does not start" [ $? -eq 1 ]
check "up names the instance and how it ended" \
    grep -q "instance flaky did not start: exit 1" "$T/up.out"
check "up does not say it is up" sh -c "! grep -q 'opcenter is up' '$T/up.out'"
# (heartbeat-check itself may say STALE: flaky is down most of the time)
sup_answers() { "$OPC" -c "$CFG" heartbeat-check --max-age 100 2>&1 |
    grep -q -e "^OK:" -e "^STALE watchers"; }
check "supervisor answers after up" wait_for 10 sup_answers
check "every file and dir under the 0755 state dir is private" \
    sh -c "[ -z \"\$(find '$T/st' -mindepth 1 -perm /077)\" ]"
"$OPC" -c "$CFG" doctor >"$T/doctor.out" 2>&1
check "doctor warns about the readable state dir" \
    grep -q "other users may read task goals" "$T/doctor.out"
check "prod and cons running" wait_for 10 sh -c "[ \"\$('$OPC' -c '$CFG' status 2>/dev/null | grep -c running)\" -eq 2 ]"

# Crash loop: flaky exits at once; after 3 restarts in the window: failed.
check "flaky marked failed" wait_for 15 sh -c "grep -q '\"failed\"' '$T/st/supervisor.status.json'"
check "flaky restart_count 3" [ "$(field flaky restart_count)" = 3 ]
check "flaky not alive" [ "$(field flaky alive)" = false ]

# The consumer got all 50 events exactly once (its own ctl status).
cons_cursor() {
	[ "$("$OPC" -c "$CFG" status --json 2>/dev/null |
	    jq '.cons.status.upstreams.prod.cursor')" = 50 ]
}
check "cons applied 50" wait_for 15 cons_cursor

# kill -9 of cons: restarted with a new pid, restart_count 1, and a
# durable supervisor.service_restarted event in the supervisor's journal.
"$OPC" -c "$CFG" sub supervisor.service --count 2 --json --timeout 20 >"$T/events" &
subpid=$!
sleep 0.5
old=$(field cons pid)
rc=$(field cons restart_count)
kill -9 "$old"
check "cons restarted" wait_for 10 is cons restart_count $((rc + 1))
new=$(field cons pid)
check "cons has a new pid ($old -> $new)" sh -c "[ '$new' != '$old' ] && [ '$new' != 0 ]"
# SIGSTOP prod: its heartbeats stop; the supervisor reports it stale and
# kills it for a restart.
rc=$(field prod restart_count)
kill -STOP "$(field prod pid)"
check "prod reported stale and restarted" wait_for 15 is prod restart_count $((rc + 1))
wait $subpid
check "sub saw service_restarted" grep -q '"topic":"supervisor.service_restarted".*"instance":"cons"\|"instance":"cons".*supervisor.service_restarted' "$T/events"
check "journal has failed+restarted+stale" sh -c "sqlite3 '$T/st/supervisor.db' 'select topic from journal' | sort -u | tr '\n' ' ' | grep -q 'supervisor.service_failed supervisor.service_restarted supervisor.stale'"

# pub: inject into cons; bad JSON and unknown topics are clear errors.
check "pub ok" "$OPC" -c "$CFG" pub cons test.event '{"n": 1000}'
"$OPC" -c "$CFG" pub cons no.such.topic '{}' >"$T/out" 2>&1
check "pub unknown topic fails" grep -q "unknown topic" "$T/out"
"$OPC" -c "$CFG" pub cons test.event '{"n": ' >"$T/out" 2>&1
check "pub bad json fails" grep -q "JSON body" "$T/out"

# heartbeat-check: flaky is failed, so it is reported stale.
"$OPC" -c "$CFG" heartbeat-check >"$T/out" 2>&1
check "heartbeat-check exit 1 with a failed service" [ $? -eq 1 ]
check "heartbeat-check names flaky" grep -q "STALE watchers: flaky" "$T/out"

# down: everything stops, idempotently.
pids="$(field prod pid) $(field cons pid)"
check "down" "$OPC" -c "$CFG" down --wait 20
alive=0
for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
check "no child left" [ "$alive" -eq 0 ]
check "second down is fine" "$OPC" -c "$CFG" down
check "status file says stopped" grep -q '"stopped"' "$T/st/supervisor.status.json"

# The supervisor killed -9: its daemons stop with it (never left without
# a parent that manages them); opc up starts every one again; a daemon
# that outlived an earlier supervisor anyway (its pid in the old status
# file, its argv this config and instance) is stopped by the new one.
CFG2=$T/two.yaml
sed -e '/^  flaky:/,$d' "$CFG" >"$CFG2"
"$OPC" -c "$CFG2" up --wait 20 >"$T/up2.out" 2>&1
check "up (prod, cons)" grep -q "opcenter is up" "$T/up2.out"
spid=$(cat "$T/st/run/supervisor.pid")
prod1=$(field prod pid); cons1=$(field cons pid)
kill -9 "$spid"
gone() { ! kill -0 "$1" 2>/dev/null; }
check "prod stops when its supervisor is killed -9" wait_for 10 gone "$prod1"
check "cons stops when its supervisor is killed -9" wait_for 10 gone "$cons1"
"$BIN/opc-testprod" -c "$CFG2" -n prod >"$T/orphan.out" 2>&1 &
orphan=$!
wait_for 10 test -S "$T/st/run/prod.ctl"
jq --argjson p "$orphan" '(.processes[] | select(.role == "prod") | .pid) = $p' \
    "$T/st/supervisor.status.json" >"$T/st.json" && mv "$T/st.json" "$T/st/supervisor.status.json"
"$OPC" -c "$CFG2" up --wait 30 >"$T/up3.out" 2>&1
check "opc up after the kill: every instance running and answering" \
    grep -q "opcenter is up" "$T/up3.out"
check "the daemon that outlived its supervisor was stopped" gone "$orphan"
"$OPC" -c "$CFG2" down --wait 20 >/dev/null 2>&1
# (the pattern's parentheses keep pgrep from matching this shell's own
# command line, which holds the pattern)
check "after down, no opc process of this config" sh -c "! $(command -v pgrep) -f 'opc-(supervisor|testprod|testcons) -c $CFG2' >/dev/null"

# A backend kind nobody knows is refused before anything starts, by
# file:line:col, naming the instance (opc up checks every section first).
cat >"$T/badkind.yaml" <<YAML
opcenter: { state_dir: st-badkind }
supervisor: { restart_backoff_min: 100ms }
repos: { demo: { clone_url: $T, default_branch: main } }
instances:
  executor:
    backends:
      claude: { kind: claude }
YAML
"$OPC" -c "$T/badkind.yaml" up --wait 20 >"$T/badkind.out" 2>&1
check "up refuses an unknown backend kind" [ $? -eq 1 ]
check "naming the instance, the place and the kinds" sh -c \
    "grep -q 'badkind.yaml:7:[0-9]*: executor.backends.claude.kind: expected one of stub, command, claude_cli, codex_cli, aider, kodo, got .claude.' '$T/badkind.out' &&
     grep -q 'nothing started' '$T/badkind.out'"
check "and nothing started" test ! -e "$T/st-badkind/run/supervisor.pid"
"$OPC" -c "$T/badkind.yaml" down --wait 20 >/dev/null 2>&1

# A daemon slow to its first heartbeat (its init, on a loaded host) is
# given start_timeout, not stale_after: mute never heartbeats; with
# stale_after 1s it would be killed at once, but not before 6s.
cat >"$T/mute.sh" <<'SH'
#!/bin/sh
exec sleep 600
SH
chmod +x "$T/mute.sh"
cat >"$T/mute.yaml" <<YAML
opcenter: { state_dir: st-mute, heartbeat_ms: 100, stale_after_ms: 1000 }
supervisor: { restart_backoff_min: 100ms, start_timeout: 6s, stop_grace: 1s }
instances:
  mute: { bin: $T/mute.sh }
YAML
mfield() { jq -r ".processes[] | select(.role == \"mute\") | .$1" \
    "$T/st-mute/supervisor.status.json" 2>/dev/null; }
"$BIN/opc-supervisor" -c "$T/mute.yaml" >"$T/mute.out" 2>&1 &
msup=$!
check "mute is started" wait_for 10 sh -c "[ \"\$(jq -r '.processes[0].state' '$T/st-mute/supervisor.status.json')\" = running ]"
sleep 3
check "3 s without a first heartbeat: not yet stale" [ "$(mfield restart_count)" = 0 ]
check "after start_timeout: stale, killed and restarted" \
    wait_for 20 sh -c "[ \"\$(jq -r '.processes[0].restart_count' '$T/st-mute/supervisor.status.json')\" -ge 1 ]"
check "the log says since its start" grep -rq "mute: no heartbeat for [0-9]* ms since its start" "$T/mute.out" "$T/st-mute/log"
kill "$msup"; wait "$msup"

# --only: one host's share.
"$OPC" -c "$CFG" up --only prod --wait 10 >"$T/up.out" 2>&1
check "up exits 0 when every instance runs and answers" [ $? -eq 0 ]
check "up says so" grep -q "opcenter is up" "$T/up.out"
check "--only runs prod only" [ "$(jq '.processes | length' "$T/st/supervisor.status.json")" = 1 ]
"$OPC" -c "$CFG" down --wait 20 >/dev/null
"$BIN/opc-supervisor" -c "$CFG" --only nope >"$T/out" 2>&1
check "--only with an unknown instance fails" grep -q "no instance 'nope'" "$T/out"

finish
