#!/bin/sh
# test_config.sh BIN_DIR: a config file is checked before anything starts
# (the services' config tables): opc config check's exit codes and lines
# (file:line:col, the nearest known key, types, bounds, extensions), opc
# up refusing and starting nothing, opc-supervisor refusing on its own, a
# daemon refusing its own section at start (and opc up saying which),
# config_drift_detected logged at start, opc config explain.
set -u
BIN=$1
OPC="$BIN/opc"
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
trap 'cleanup "$T/daemon.yaml"; cleanup "$T/good.yaml"' EXIT

# The shipped examples pass (the multihost's TLS files are a host's:
# warned about, not a problem of the file).
check "the example passes" \
    "$OPC" config check -c "$SRC/config/opcenter.example.yaml"
check "the multihost example passes" \
    "$OPC" config check -c "$SRC/config/opcenter.multihost.yaml"

cat >"$T/bad.yaml" <<YAML
opcenter:
  state_dir: st-bad
  heartbeat_mss: 1000
instances:
  executor:
    max_paralell: 3
    x-owner: ops
    backends: { stub: { kind: stub } }
  router:
    upstreams: [executor]
    budget: { max_per_hour: lots }
  executor@b:
    max_parallel: 99999999999999999999999
YAML
"$OPC" config check -c "$T/bad.yaml" >"$T/check.out" 2>&1
check "check of a bad file exits 1" [ $? -eq 1 ]
has() { grep -qF "$1" "$T/check.out"; }
check "an unknown key of opcenter, with the nearest known one" \
    has "bad.yaml:3:3: unknown key 'heartbeat_mss' in opcenter (did you mean 'heartbeat_ms'?)"
check "an unknown key of an instance, with the nearest known one" \
    has "bad.yaml:6:5: unknown key 'max_paralell' in executor (did you mean 'max_parallel'?)"
check "a wrong type, with the key and its range" \
    has "bad.yaml:11:29: router.budget.max_per_hour: expected an integer of at least 0, got 'lots'"
check "a number past 64 bits, with the key and its range" \
    has "bad.yaml:13:19: executor@b.max_parallel: expected an integer from 1 to 256, got '99999999999999999999999' (out of range)"
check "an extension is not reported" sh -c "! grep -q x-owner '$T/check.out'"
check "and how many" has "4 problems"
"$OPC" config check -c "$T/nope.yaml" >/dev/null 2>&1
check "check of a missing file exits 1" [ $? -eq 1 ]
"$OPC" config frobnicate >/dev/null 2>&1
check "an unknown subcommand exits 2" [ $? -eq 2 ]

# opc up checks every section first: nothing starts.
"$OPC" -c "$T/bad.yaml" up --wait 20 >"$T/up.out" 2>&1
check "up refuses the file" [ $? -eq 1 ]
check "naming file:line:col, the instance and the nearest key" grep -qF \
    "bad.yaml:6:5: unknown key 'max_paralell' in executor (did you mean 'max_parallel'?)" \
    "$T/up.out"
check "saying nothing started" grep -q "4 config problems in .*: nothing started" "$T/up.out"
check "and nothing did" [ ! -e "$T/st-bad/run/supervisor.pid" ]
# opc-supervisor started without opc up (systemd) refuses it too
"$BIN/opc-supervisor" -c "$T/bad.yaml" >"$T/sup.out" 2>&1
check "opc-supervisor refuses the file" [ $? -eq 1 ]
check "naming the problem" grep -qF \
    "unknown key 'max_paralell' in executor (did you mean 'max_parallel'?)" \
    "$T/sup.out"
# a daemon started on its own refuses its section
"$BIN/opc-executor" -c "$T/bad.yaml" -n executor >"$T/ex.out" 2>&1
check "opc-executor refuses its section at start" [ $? -eq 1 ]
check "naming file:line:col" grep -qF \
    "bad.yaml:6:5: unknown key 'max_paralell' in executor" "$T/ex.out"

# A service opcenter has no table for (a test service here) is checked by
# the daemon itself: opc up reports that it did not start, and why.
cat >"$T/daemon.yaml" <<YAML
opcenter: { state_dir: st-daemon, heartbeat_ms: 250 }
supervisor: { restart_backoff_min: 100ms, crash_loop_restarts: 1 }
instances:
  prod:
    service: testprod
    produce: lots
YAML
"$OPC" -c "$T/daemon.yaml" up --wait 20 >"$T/dup.out" 2>&1
check "up fails when a daemon refuses its section" [ $? -eq 1 ]
check "naming the instance" grep -q "instance prod did not start: exit 1" "$T/dup.out"
check "and the problem, from its output" grep -qF \
    "daemon.yaml:6:14: prod.produce: expected an integer of at least 0, got 'lots'" \
    "$T/dup.out"
"$OPC" -c "$T/daemon.yaml" down --wait 20 >/dev/null 2>&1

# A valid file: up, and each daemon logs its settings that differ from
# the defaults at start (config_drift_detected), the supervisor the top
# level's.
cat >"$T/good.yaml" <<YAML
opcenter: { state_dir: st-good, heartbeat_ms: 250 }
supervisor: { stop_grace: 3s }
instances:
  prod:
    service: testprod
    produce: 5
    x-note: ours
  cons:
    service: testcons
    upstreams: [prod]
YAML
"$OPC" -c "$T/good.yaml" up --wait 30 >"$T/gup.out" 2>&1
check "up with a valid file" grep -q "opcenter is up" "$T/gup.out"
drift() { grep "config_drift_detected" "$T/st-good/log/$1.log" | grep -qF "$2"; }
check "prod logs its drift" drift prod "prod.produce: 5 (default 0)"
check "the supervisor its own" drift supervisor "supervisor.stop_grace: 3s (default 10s)"
check "and the top level's" drift supervisor "opcenter.heartbeat_ms: 250 (default 1000)"
check "cons, at its defaults, logs none" sh -c \
    "! grep -q config_drift_detected '$T/st-good/log/cons.log'"
"$OPC" -c "$T/good.yaml" doctor >"$T/doctor.out" 2>&1
check "doctor notes the drift" grep -qF \
    "config drift: opcenter.heartbeat_ms: 250 (default 1000)" "$T/doctor.out"
check "doctor finds the config valid" grep -q "ok    config: every setting known and valid" "$T/doctor.out"
"$OPC" -c "$T/good.yaml" down --wait 20 >/dev/null 2>&1

# explain: every setting with its default, type, bounds and help
"$OPC" config explain executor >"$T/explain.out" 2>&1
check "explain executor" grep -q "^    max_parallel: 1 *# integer from 1 to 256: runs at once" "$T/explain.out"
check "explain names every instance's keys" grep -q "^    idle_ms: 1000" "$T/explain.out"
"$OPC" config explain >"$T/all.out" 2>&1
check "explain lists the top level" grep -q "^  heartbeat_ms: 1000 " "$T/all.out"
"$OPC" config explain nope >/dev/null 2>&1
check "explain of an unknown service exits 2" [ $? -eq 2 ]

finish
