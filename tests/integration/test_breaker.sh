#!/bin/sh
# test_breaker.sh BIN_DIR: the router's circuit breaker through the real
# daemons: 5 failing runs open it (threshold 0.8 over the last 5, at least
# 5 samples: not before the 5th), circuit.changed is journaled, and the
# next task is held with budget.decision circuit_breaker_open, not run;
# opc breaker status shows it, opc breaker reset closes it.
set -u
BIN=$1
OPC="$BIN/opc"
. "$(dirname "$0")/lib.sh"
CFG=$T/opcenter.yaml
trap 'cleanup "$CFG"' EXIT

mkrepo flaky
cat >"$T/fail.sh" <<'SH'
#!/bin/sh
echo "internal server error from the model" >&2
exit 3
SH
chmod +x "$T/fail.sh"
cat >"$CFG" <<YAML
opcenter: { state_dir: st, heartbeat_ms: 250 }
repos:
  flaky: { clone_url: $T/flaky, default_branch: main }
instances:
  board-sync: { upstreams: [router, executor] }
  router:
    upstreams: [board-sync, executor]
    default: { lane: aider_local, backend: fail }
    budget: { max_per_hour: 100, max_per_day: 100, max_concurrent: 1 }
    breaker: { threshold: 0.8, window: 5, min_samples: 5 }
  executor:
    upstreams: [router]
    backends: { fail: { kind: command, argv: [$T/fail.sh] } }
    workspace_retention: remove
    workspace_remove_after: 1s
  recorder: { upstreams: [router, executor, board-sync] }
YAML
"$OPC" -c "$CFG" up --wait 20 >/dev/null 2>&1
check "constellation up" "$OPC" -c "$CFG" heartbeat-check --max-age 5

journal_has() { sqlite3 "$T/st/router.db" "select topic from journal" | grep -q "$1"; }
for i in 1 2 3 4; do
	id=$(add --repo flaky --goal "Failing change number $i")
	check "run $i fails -> Blocked (model_error)" wait_for 60 state_is "$id" Blocked
done
check "classified model_error" has_comment "$id" 'category: model_error'
check "4 failures: breaker still closed" sh -c "! sqlite3 '$T/st/router.db' 'select topic from journal' | grep -q circuit.changed"
id=$(add --repo flaky --goal "Failing change number 5")
check "run 5 fails" wait_for 60 state_is "$id" Blocked
check "5 failures: circuit.changed journaled" wait_for 10 journal_has circuit.changed
check "router status says open" sh -c "'$OPC' -c '$CFG' status --json | jq -e '.router.status.breaker == \"open\"'"
id=$(add --repo flaky --goal "Held back by the open breaker")
check "next task refused: circuit_breaker_open" wait_for 30 sh -c "sqlite3 '$T/st/router.db' \"select last_reason from rtask where task_id='$id'\" | grep -q circuit_breaker_open"
check "budget.decision journaled" journal_has budget.decision
sleep 1
check "held task not run" state_is "$id" "Ready for AI"
# workspace_retention: remove: finished workspaces go, evidence stays
ws_left() { [ "$(find "$T/st/workspaces" -mindepth 1 -maxdepth 1 -type d | wc -l)" = 0 ]; }
check "finished workspaces removed" wait_for 30 ws_left
check "evidence kept" [ "$(find "$T/st/runs" -name result.json | wc -l)" = 5 ]
# opc breaker: its state and when it probes (the cool-off, 10 min);
# a reset closes it, the held task runs, and one more failure does not
# open it again (the failures before the reset no longer count)
"$OPC" -c "$CFG" breaker status >"$T/breaker.out" 2>&1
check "opc breaker status: open" grep -q '^breaker: open' "$T/breaker.out"
check "... 5/5 failed" grep -q '^window: 5/5 failed' "$T/breaker.out"
check "... and when the probe goes" grep -q '^probe: one run goes through in' "$T/breaker.out"
check "opc breaker reset: closed" sh -c "'$OPC' -c '$CFG' breaker reset --reason 'fixed fail.sh' | grep -qx 'breaker: closed (was open)'"
check "the held task runs (and fails)" wait_for 60 state_is "$id" Blocked
check "one failure after the reset: still closed" sh -c "'$OPC' -c '$CFG' breaker status --json | jq -e '.state == \"closed\" and .samples == 1' >/dev/null"
finish
