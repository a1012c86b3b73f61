#!/bin/sh
# test_spend.sh BIN_DIR: real costs and spend caps through the real daemons
# (issue 13).  A repo capped at 1.00 USD a day, runs reserving 0.40 (the
# backend's max_budget_usd): two runs in flight hold 0.80, so a third is
# held (budget.decision spend_cap, seen by `opc sub`, `opc status` and the
# escalator) and dispatched once a run reports its real cost (0.05); after
# another reports 0.90 the next task stays queued.  The backend is a
# claude_cli profile whose program is a stand-in printing what Claude Code
# prints in stream-json (the captures in services/executor/run/tests/
# data/claude/) once the test releases it, with the cost the test chose:
# the worker reads it, the executor forwards it, the router books it; the
# run that reports none books cost_per_execution_usd.
# `opc spend-report`, `opc runs show` and the evidence show the real
# dollars.  An older router db is migrated at start, its rows kept.
set -u
BIN=$1
OPC="$BIN/opc"
. "$(dirname "$0")/lib.sh"
CFG=$T/opcenter.yaml
trap 'kill "${SUB:-}" 2>/dev/null; cleanup "$CFG"' EXIT

mkrepo paid
mkdir -p "$T/go"
cat >"$T/claude" <<'SH'
#!/bin/sh
# a stand-in Claude Code: holds the run until the test releases it (or 2
# min), then prints Claude's stream-json with the cost in $GO/<task>.cost
# (none: a result without total_cost_usd)
cat >/dev/null
t=$OPC_TASK_ID
i=0
while [ ! -e "$GO/$t.go" ] && [ ! -e "$GO/all" ] && [ "$i" -lt 600 ]; do
	sleep 0.2; i=$((i + 1))
done
echo "change $t" >"src/$t.txt" # a run that changes nothing is no_op
echo "{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"sess-$t\",\"model\":\"claude-sonnet-4\"}"
cost=""
[ -s "$GO/$t.cost" ] && cost="\"total_cost_usd\":$(cat "$GO/$t.cost"),"
echo "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":3,\"result\":\"Made the change in src/a.txt\",\"session_id\":\"sess-$t\",$cost\"usage\":{\"input_tokens\":$(cat "$GO/$t.in" 2>/dev/null || echo 0),\"output_tokens\":200,\"cache_read_input_tokens\":3000,\"cache_creation_input_tokens\":50},\"permission_denials\":[{\"tool_name\":\"Bash\"}]}"
SH
chmod +x "$T/claude"
export OPC_TEST_CLAUDE_KEY=sk-ant-test-spend
cat >"$CFG" <<YAML
opcenter: { state_dir: st, heartbeat_ms: 250 }
cost_per_execution_usd: 0.1
repos:
  paid: { clone_url: $T/paid, default_branch: main, max_usd_per_day: 1.0 }
instances:
  board-sync: { upstreams: [router, executor] }
  router:
    upstreams: [board-sync, executor]
    lease: 60s
    default: { lane: claude_cli, backend: wait }
    budget: { max_per_hour: 100, max_per_day: 100, max_concurrent: 4,
              reserve_usd: 5 }
  executor:
    upstreams: [router]
    max_parallel: 4
    backends:
      wait: { kind: claude_cli, bin: $T/claude, env: { GO: $T/go }, sandbox_ro_paths: [$T/go],
              api_key_env: OPC_TEST_CLAUDE_KEY, max_budget_usd: 0.4 }
  recorder: { upstreams: [router, executor, board-sync] }
  escalator: { upstreams: [router, executor] }
YAML

# the router db of the previous release: rrun and rtask without the
# ledger's columns, one finished run
mkdir -p "$T/st"
sqlite3 "$T/st/router.db" "
CREATE TABLE rtask(task_id TEXT PRIMARY KEY, ready TEXT NOT NULL,
 state TEXT NOT NULL, board_attempt INTEGER NOT NULL DEFAULT 0,
 attempts INTEGER NOT NULL DEFAULT 0,
 last_attempt_ms INTEGER NOT NULL DEFAULT 0, proposal TEXT, decision TEXT,
 policy TEXT, last_reason TEXT, queued_ms INTEGER NOT NULL);
CREATE TABLE rrun(run_id TEXT PRIMARY KEY, task_id TEXT NOT NULL,
 executor TEXT NOT NULL, attempt INTEGER NOT NULL, state TEXT NOT NULL,
 dispatched_ms INTEGER NOT NULL, started_ms INTEGER,
 lease_ms INTEGER NOT NULL, finished_ms INTEGER, status TEXT);
INSERT INTO rtask(task_id, ready, state, queued_ms)
 VALUES ('T-old', '{}', 'done', 1000);
INSERT INTO rrun VALUES ('old-run', 'T-old', 'executor', 1, 'finished',
 1000, 1000, 30000, 2000, 'succeeded');"

"$OPC" -c "$CFG" up --wait 20 >/dev/null 2>&1
check "constellation up" "$OPC" -c "$CFG" heartbeat-check --max-age 5
rdb() { sqlite3 "$T/st/router.db" "$1"; }
check "router db migrated, old rows kept" sh -c "
	[ \"\$(sqlite3 '$T/st/router.db' \"select count(*) from rrun where run_id = 'old-run'\")\" = 1 ] &&
	[ \"\$(sqlite3 '$T/st/router.db' \"select count(*) from rtask where task_id = 'T-old'\")\" = 1 ] &&
	[ \"\$(sqlite3 '$T/st/router.db' \"select count(*) from pragma_table_info('rrun') where name in ('repo_key', 'reserved_usd', 'cost_usd', 'cost_source')\")\" = 4 ] &&
	[ \"\$(sqlite3 '$T/st/router.db' \"select count(*) from pragma_table_info('rtask') where name = 'hold'\")\" = 1 ]"

# every budget.decision from now on, as an operator would watch them
# (heartbeats too: one from the router shows the subscriber is connected)
"$OPC" -c "$CFG" sub budget.decision heartbeat --json --timeout 120 \
    >"$T/sub.out" 2>&1 &
SUB=$!
sub_ready() { grep '"topic":"heartbeat"' "$T/sub.out" | grep -q '"src":"router"'; }
check "opc sub connected" wait_for 10 sub_ready

run_of() { rdb "select run_id from rrun where task_id = '$1'"; }
started() { [ "$(rdb "select state from rrun where task_id = '$1'")" = started ]; }
held() { [ "$(rdb "select last_reason from rtask where task_id = '$1'")" = spend_cap ]; }
A=$(add --repo paid --goal "Paid change A")
check "A dispatched and started (reserves 0.40)" wait_for 30 started "$A"
B=$(add --repo paid --goal "Paid change B")
check "B dispatched and started (0.80 reserved)" wait_for 30 started "$B"
check "reservations are the backend's max_budget_usd" \
    [ "$(rdb "select sum(reserved_usd) from rrun where state = 'started'")" = 0.8 ]
C=$(add --repo paid --goal "Paid change C")
check "C held: 0.80 + 0.40 > 1.00 (spend_cap)" wait_for 30 held "$C"
check "C not dispatched" [ -z "$(run_of "$C")" ]
check "budget.decision spend_cap journaled" sh -c \
    "sqlite3 '$T/st/router.db' 'select topic from journal' | grep -q budget.decision"
check "opc sub shows budget.decision spend_cap (repo paid, 80/100 cents)" \
    wait_for 10 sh -c "grep '\"topic\":\"budget.decision\"' '$T/sub.out' |
        jq -e 'select(.body.reason == \"spend_cap\" and
        .body.scope == \"repo\" and .body.repo_key == \"paid\" and
        .body.current == 80 and .body.limit == 100 and
        .body.window == \"day\")' >/dev/null"
check "opc status: spend cap reached" sh -c \
    "'$OPC' -c '$CFG' status | grep -A3 'router spend' | grep 'paid' | grep -q 'spend cap reached'"
check "opc status --json: 0.80 reserved of the 1.00 cap" sh -c \
    "'$OPC' -c '$CFG' status --json | jq -e '.router.status.spend.repos.paid |
        .held and .reserved_usd == 0.8 and .cap_usd == 1'"
esc_has() { sqlite3 "$T/st/escalator.db" "select kind || ' ' || key from esc" | grep -q "spend_cap paid"; }
check "escalator: spend_cap paid" wait_for 10 esc_has

# release a run: the stand-in CLI reports COST (and TOKENS_IN) and ends
report_cost() { # TASK COST TOKENS_IN
	echo "$2" >"$T/go/$1.cost" && echo "$3" >"$T/go/$1.in" &&
	    touch "$T/go/$1.go"
}
RA=$(run_of "$A")
RB=$(run_of "$B")
booked() { [ -n "$(rdb "select cost_usd from rrun where run_id = '$1'")" ]; }
check "A reports 0.05 USD" report_cost "$A" 0.05 1000
check "A's cost booked from its CLI's report" wait_for 60 booked "$RA"
dispatched() { [ -n "$(run_of "$1")" ]; }
check "C dispatched: 0.05 + 0.40 + 0.40 <= 1.00" wait_for 30 dispatched "$C"
check "B reports 0.90 USD" report_cost "$B" 0.9 2000
check "B's cost booked" wait_for 60 booked "$RB"
D=$(add --repo paid --goal "Paid change D")
check "D held: 0.95 spent + 0.40 reserved + 0.40 > 1.00" wait_for 30 held "$D"

touch "$T/go/$C.go"
RC=$(run_of "$C")
check "C finished without a cost: cost_per_execution_usd booked" wait_for 60 booked "$RC"
check "C booked 0.1 (estimated)" [ "$(rdb "select cost_usd || ' ' || cost_source from rrun where run_id = '$RC'")" = "0.1 estimated" ]
check "A booked once, as reported" \
    [ "$(rdb "select cost_usd || ' ' || cost_source from rrun where run_id = '$RA'")" = "0.05 reported" ]
sleep 1
check "D still held, still on the board" state_is "$D" "Ready for AI"
check "D not dispatched" [ -z "$(run_of "$D")" ]
check "opc status --json: 1.05 spent today" sh -c \
    "'$OPC' -c '$CFG' status --json | jq -e '.router.status.spend.repos.paid |
        (.spent_usd * 100 | round) == 105 and .reserved_usd == 0 and .held'"

spend() { "$OPC" -c "$CFG" spend-report --json; }
recorded() { spend | jq -e '.total_estimated_usd == 1.05' >/dev/null; }
check "recorder has every cost" wait_for 30 recorded
check "spend-report: real costs, the estimate only for C" sh -c "
    '$OPC' -c '$CFG' spend-report --json | jq -e '
        .window_days == 1 and .total_executions == 3 and
        .total_estimated_usd == 1.05 and .total_reported_usd == 0.95 and
        .estimated_only_executions == 1 and
        .total_input_tokens == 3000 and .total_output_tokens == 600 and
        .per_repo.paid.executions == 3 and
        .per_repo.paid.estimated_usd == 1.05 and
        .per_repo.paid.reported_usd == 0.95' >/dev/null"
check "spend-report for people shows dollars" sh -c \
    "'$OPC' -c '$CFG' spend-report | grep -q '\\\$1.0500 for 3 execution(s); \\\$0.9500 reported'"
shown() { "$OPC" -c "$CFG" runs show "$RA" >"$T/show.out" 2>&1 &&
    grep -q "claude_cli, session sess-$A" "$T/show.out" &&
    grep -q 'cost: *\$0.0500 (reported)' "$T/show.out" &&
    grep -q 'tokens: *1000 in, 200 out' "$T/show.out" &&
    grep -q 'denials: *Bash' "$T/show.out" &&
    grep -q 'message: *Made the change' "$T/show.out"; }
check "opc runs show: the agent block" wait_for 30 shown
check "opc runs show: C's cost is an estimate" sh -c \
    "'$OPC' -c '$CFG' runs show '$RC' | grep -q 'cost: *\\\$0.1000 (estimate'"
check "execution_record.json carries the agent block" sh -c \
    "jq -e '.agent.cost_usd == 0.05 and .agent.session_id == \"sess-$A\"' '$T/st/runs/$RA/execution_record.json' >/dev/null"
finish
