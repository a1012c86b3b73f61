#!/bin/sh
# test_agents.sh BIN_DIR: the real coding-agent CLIs through the real
# daemons.  Claude Code (npm @anthropic-ai/claude-code) and Codex (npm
# @openai/codex) are installed into a cache directory kept between runs
# and driven by opc-executor exactly as a deployment drives them, against
# local stand-ins of the Anthropic Messages API (tests/fixtures/
# anthropic.c) and the OpenAI Responses API (tests/fixtures/openai.c):
#   a real edit -> diff, commit, push, Done, cost in the usage store;
#   no permission to edit -> Blocked tool_failure naming the tool;
#   nothing changed -> Blocked no_op;
#   529 / 429 -> model_error (retried), recovering when the API does;
#   credits gone -> quota_exhausted + escalation; prompt too long ->
#   context_limit; bad key -> infra_tooling + credential.invalid;
#   a hung API -> timeout; a repo's spend cap, fed by the CLI's reported
#   cost, holds the next dispatch; opc providers probes both CLIs.
# Without npm or the registry it prints SKIP and why, and exits 77.
set -u
BIN=$1
OPC="$BIN/opc"
CACHE=${OPC_AGENTS_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/opcenter/agents}
CLAUDE_VERSION=${CLAUDE_CODE_VERSION:-2.1.197}
CODEX_VERSION=${CODEX_VERSION:-0.171.0}
. "$(dirname "$0")/lib.sh"
CFG=$T/opcenter.yaml

skip() { echo "SKIP: $*"; rm -rf "$T"; exit 77; }

# --- the real CLIs, installed once into the cache ---------------------------
installed() { # PKG VERSION BIN: the cached CLI answers with that version
	[ -x "$CACHE/node_modules/.bin/$3" ] &&
	    "$CACHE/node_modules/.bin/$3" --version 2>/dev/null | grep -q "$2"
}
if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends nodejs npm >"$T/apt.out" 2>&1 ||
	    { apt-get update -q >/dev/null 2>&1 &&
	        DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	        --no-install-recommends nodejs npm >"$T/apt.out" 2>&1; }
fi
command -v npm >/dev/null 2>&1 || skip "npm is not installed and could not be"
mkdir -p "$CACHE" || skip "cannot make $CACHE"
if ! installed @anthropic-ai/claude-code "$CLAUDE_VERSION" claude ||
    ! installed @openai/codex "$CODEX_VERSION" codex; then
	# HOME is the test's; npm's own cache stays with it
	timeout 600 npm install --no-audit --no-fund --prefix "$CACHE" \
	    "@anthropic-ai/claude-code@$CLAUDE_VERSION" \
	    "@openai/codex@$CODEX_VERSION" >"$T/npm.out" 2>&1 ||
	    skip "npm install failed: $(tail -3 "$T/npm.out" | tr '\n' ' ')"
fi
installed @anthropic-ai/claude-code "$CLAUDE_VERSION" claude ||
    skip "claude $CLAUDE_VERSION does not run from $CACHE"
installed @openai/codex "$CODEX_VERSION" codex ||
    skip "codex $CODEX_VERSION does not run from $CACHE"
CLAUDE=$CACHE/node_modules/.bin/claude
CODEX=$CACHE/node_modules/.bin/codex
ok "claude $CLAUDE_VERSION and codex $CODEX_VERSION from $CACHE"

# --- the API stand-ins ----------------------------------------------------------
"$BIN/opc-fixture-anthropic" --port-file "$T/ant.port" \
    --api-key sk-ant-test-dummy >"$T/ant.out" 2>&1 &
ANT_PID=$!
"$BIN/opc-fixture-openai" --port-file "$T/oai.port" \
    --api-key sk-test-dummy >"$T/oai.out" 2>&1 &
OAI_PID=$!
trap 'kill $ANT_PID $OAI_PID 2>/dev/null; cleanup "$CFG"' EXIT
wait_for 10 test -s "$T/ant.port" && wait_for 10 test -s "$T/oai.port" ||
    { bad "fixtures did not start"; finish; exit 1; }
AP=$(cat "$T/ant.port"); OP=$(cat "$T/oai.port")
ant() { curl -sf -X POST "http://127.0.0.1:$AP/_fixture/scenario" -d "$1" >/dev/null; }
oai() { curl -sf -X POST "http://127.0.0.1:$OP/_fixture/scenario" -d "$1" >/dev/null; }
ant_requests() { curl -sf "http://127.0.0.1:$AP/_fixture/requests" |
    jq '[.requests[] | select(.path | startswith("/v1/messages"))] | length'; }
# usage the Anthropic stand-in reports per turn: claude-sonnet-4-5 at
# $3/$15 per 1M in/out, $3.75 cache write, $0.30 cache read = $0.015
USAGE='"usage": {"input_tokens": 1000, "output_tokens": 100,
    "cache_creation_input_tokens": 2000, "cache_read_input_tokens": 10000}'

# --- the constellation ------------------------------------------------------------
git init -q --bare "$T/origin.git"
mkrepo seed && git -C "$T/seed" push -q "$T/origin.git" main
export ANTHROPIC_API_KEY=sk-ant-test-dummy OPENAI_API_KEY=sk-test-dummy
cat >"$CFG" <<YAML
opcenter: { state_dir: st, heartbeat_ms: 250 }
supervisor: { restart_backoff_min: 100ms, stop_grace: 5s }
repos:
  demo: { clone_url: $T/origin.git, default_branch: main }
  capped: { clone_url: $T/origin.git, default_branch: main, max_usd_per_day: 0.06 }
instances:
  board-sync: { upstreams: [router, executor] }
  router:
    upstreams: [board-sync, executor]
    timeout_seconds: 120       # a CLI starts slowly on a loaded 2-core box
    lease: 60s
    rules:
      - { name: r.claude, when: { labels_any: [claude] }, lane: claude_cli, backend: claude }
      - { name: r.noperm, when: { labels_any: [noperm] }, lane: claude_cli, backend: claude_default }
      - { name: r.codex, when: { labels_any: [codex] }, lane: codex_cli, backend: codex }
      - { name: r.capped, when: { repo: capped }, lane: claude_cli, backend: claude_capped }
      - { name: r.hang, when: { labels_any: [hang] }, lane: claude_cli, backend: claude_hang }
    default: { lane: aider_local, backend: stub }
    budget: { max_per_hour: 100, max_per_day: 100, max_retries: 3, max_concurrent: 1 }
    breaker: { threshold: 1.0, window: 50, min_samples: 50 }
  executor:
    upstreams: [router]
    backends:
      claude:
        kind: claude_cli
        bin: $CLAUDE
        sandbox_ro_paths: [$CACHE]
        base_url: http://127.0.0.1:$AP
        model: claude-sonnet-4-5
        max_turns: 5
        max_retries: 1
        transient_retries: 1
        retry_backoff_seconds: 1
      claude_capped:              # at most \$0.05 a run: what the router reserves
        kind: claude_cli
        bin: $CLAUDE
        sandbox_ro_paths: [$CACHE]
        base_url: http://127.0.0.1:$AP
        model: claude-sonnet-4-5
        max_budget_usd: 0.05
      claude_hang:                # the API timeout a deployment sets
        kind: claude_cli
        bin: $CLAUDE
        sandbox_ro_paths: [$CACHE]
        base_url: http://127.0.0.1:$AP
        model: claude-sonnet-4-5
        max_retries: 0
        transient_retries: 0
        env: { API_TIMEOUT_MS: "4000" }
      claude_default:
        kind: claude_cli
        bin: $CLAUDE
        sandbox_ro_paths: [$CACHE]
        base_url: http://127.0.0.1:$AP
        model: claude-sonnet-4-5
        permission_mode: default
      codex:
        kind: codex_cli
        bin: $CODEX
        sandbox_ro_paths: [$CACHE]
        base_url: http://127.0.0.1:$OP/v1
        model: gpt-5.5
        max_retries: 1
        transient_retries: 0
        prices: { input_per_mtok: 1.25, output_per_mtok: 10.0, cached_input_per_mtok: 0.125 }
  recorder: { upstreams: [router, executor, board-sync] }
  escalator: { upstreams: [router, executor, board-sync, recorder], urls: [] }
YAML

# (under ASan on a 2-core CI machine, beside test_chaos, the start has
# taken over 30 s once; the checks below say whether it came up)
"$OPC" -c "$CFG" up --wait 90 >"$T/up.out" 2>&1
check "constellation up" is_up "$T/up.out"

# run LABEL GOAL: add a task and wait until it leaves the queue; prints
# its id
run() {
	id=$(add --repo demo --goal "$2" --label "$1")
	wait_for 240 sh -c "s=\$('$OPC' -c '$CFG' task show $id --json | jq -r .task.state); [ \"\$s\" = Done ] || [ \"\$s\" = Blocked ]"
	echo "$id"
}
result_of() { # TASK: the result.json of its last run (the recorder may lag)
	wait_for 10 sh -c "test -s \"\$('$OPC' -c '$CFG' runs list --task $1 --json | jq -r '.runs[0].path')/result.json\""
	cat "$("$OPC" -c "$CFG" runs list --task "$1" --json | jq -r '.runs[0].path')/result.json"
}
# jtrue FILTER: stdin is JSON and FILTER holds (jq -e alone passes on
# empty input)
jtrue() { in=$(cat); [ -n "$in" ] && printf '%s' "$in" | jq -e "$1" >/dev/null; }
category_is() { [ "$(result_of "$1" | jq -r .failure_category)" = "$2" ]; }

# --- 1. Claude Code edits: diff, commit, push, Done, real cost -------------------
ant "{\"mode\": \"edit\", \"path\": \"src/hello.txt\", \"content\": \"hello\\n\",
    \"message\": \"Wrote src/hello.txt.\", $USAGE}"
id=$(run claude "Create src/hello.txt saying hello")
check "claude edit: Done" state_is "$id" Done
res=$(result_of "$id")
br=$(echo "$res" | jq -r .branch_name)
check "claude edit: the file is committed and pushed" sh -c \
    "git --git-dir='$T/origin.git' show '$br:src/hello.txt' | grep -qx hello"
agent_ok() { echo "$res" | jtrue '.agent.cli == "claude_cli" and .agent.turns == 2
    and .agent.cost_source == "reported" and .agent.cost_usd > 0.0299
    and .agent.cost_usd < 0.0301 and (.agent.session_id | length) > 0'; }
check "claude edit: result.agent from the CLI" agent_ok
check "claude edit: the comment names the agent and its cost" has_comment "$id" 'agent: claude_cli, 2 turn(s), \$0.0300 (reported)'
check "claude edit: no key in the evidence" sh -c "! grep -rq sk-ant-test-dummy '$T/st/runs'"

# --- 2. no permission to edit: refused, nothing changed -> tool_failure ---------
id=$(run noperm "Create src/hello2.txt")
check "no permission: Blocked" state_is "$id" Blocked
check "no permission: tool_failure naming Write" sh -c \
    "'$OPC' -c '$CFG' task show $id --json | jq -r '.comments[].body' | grep -q 'refused 1 tool call (Write)'"

# --- 3. a run that changes nothing is not a success -------------------------------
ant "{\"mode\": \"text\", \"message\": \"Nothing to change.\", $USAGE}"
id=$(run claude "Look around")
check "text only: Blocked" state_is "$id" Blocked
check "text only: no_op" category_is "$id" no_op
check "text only: the CLI's words on the board" has_comment "$id" 'Nothing to change'

# --- 4. overloaded: retried by the CLI and by the run, then model_error -----------
ant '{"mode": "edit", "error": "overloaded"}'
n0=$(ant_requests)
id=$(run claude "Create src/o.txt")
check "529: Blocked model_error" category_is "$id" model_error
check "529: two runs of the CLI, two requests each" [ "$(($(ant_requests) - n0))" -eq 4 ]
attempts_ok() { result_of "$1" | jtrue '.agent.attempts == 2 and .agent.api_status == 529'; }
check "529: the run says so" attempts_ok "$id"
# ... and a 529 that passes: the run's second attempt succeeds
ant "{\"mode\": \"edit\", \"path\": \"src/later.txt\", \"content\": \"later\\n\",
    \"error\": \"overloaded\", \"error_count\": 2, $USAGE}"
id=$(run claude "Create src/later.txt")
check "529 then OK: Done on the retry" state_is "$id" Done

# --- 5. rate limited: model_error (transient) --------------------------------------
ant '{"mode": "edit", "error": "rate_limit", "retry_after": 1}'
id=$(run claude "Create src/r.txt")
check "429: model_error" category_is "$id" model_error
delay_ok() { result_of "$1" | jtrue '.agent.retry_after_ms >= 1000'; }
check "429: the server's delay was read" delay_ok "$id"

# --- 6. credits gone: quota_exhausted, escalated ------------------------------------
ant '{"mode": "edit", "error": "quota"}'
id=$(run claude "Create src/q.txt")
check "quota: quota_exhausted" category_is "$id" quota_exhausted
check "quota: the CLI's message on the board" has_comment "$id" 'Credit balance is too low'
check "quota: escalated" wait_for 10 grep -q '"escalator.wanted".*quota_exhausted' "$T/st/log/escalator.log"

# --- 7. prompt too long: context_limit -----------------------------------------------
ant '{"mode": "edit", "error": "prompt_too_long"}'
id=$(run claude "Create src/p.txt")
check "prompt too long: context_limit" category_is "$id" context_limit

# --- 8. a bad key: infra_tooling and credential.invalid ------------------------------
ant '{"mode": "edit", "error": "unauthorized"}'
id=$(run claude "Create src/k.txt")
check "401: infra_tooling" category_is "$id" infra_tooling
check "401: credential.invalid for anthropic" wait_for 10 grep -q \
    '"escalator.wanted".*credential.*anthropic' "$T/st/log/escalator.log"

# --- 9. a hung API: the CLI's API timeout ends it (the executor's own
# timeout kills a hung backend too: test_exec_path) ------------------------
ant '{"mode": "edit", "error": "hang"}'
id=$(run hang "Create src/h.txt")
check "hang: timeout" category_is "$id" timeout
check "hang: the CLI's words on the board" has_comment "$id" 'Request timed out'

# --- 10. Codex edits in our bubblewrap sandbox (its own cannot nest in it:
# danger-full-access inside ours), cost from its tokens ---------------
oai '{"mode": "edit", "path": "src/codex.txt", "content": "from codex\n",
    "message": "Created src/codex.txt",
    "usage": {"input_tokens": 2000, "input_tokens_details": {"cached_tokens": 400},
              "output_tokens": 100}}'
id=$(run codex "Create src/codex.txt")
check "codex edit: Done" state_is "$id" Done
res=$(result_of "$id")
br=$(echo "$res" | jq -r .branch_name)
check "codex edit: committed and pushed" sh -c \
    "git --git-dir='$T/origin.git' show '$br:src/codex.txt' | grep -qx 'from codex'"
# an edit is two requests in one turn: Codex sums their usage; cost
# (4000-800) x 1.25 + 800 x 0.125 + 200 x 10 per 1M = $0.0061
codex_ok() { echo "$res" | jtrue '.agent.cli == "codex_cli"
    and .agent.cost_source == "computed" and .agent.cost_usd > 0
    and .agent.input_tokens == 4000 and .agent.cache_read_tokens == 800
    and .agent.output_tokens == 200
    and (.agent.cost_usd * 1e6 | round) == 6100'; }
check "codex edit: cost computed from its tokens" codex_ok

# --- 11. Codex out of quota ---------------------------------------------------------------
oai '{"mode": "edit", "error": "quota"}'
id=$(run codex "Create src/cq.txt")
check "codex quota: quota_exhausted" category_is "$id" quota_exhausted

# --- 12. spend reaches the usage store ------------------------------------------------------
# the Claude runs reported $0.03 (edit), $0.015 (no change), $0.03
# (529 then OK) ...; with cost_per_execution_usd 0 only real cost counts
spend_ok() { "$OPC" -c "$CFG" spend-report --json | jtrue '.total_reported_usd > 0.07'; }
check "spend-report counts the real cost" spend_ok

# --- 13. a spend cap fed by what the CLI reported ------------------------------------
# repo capped: \$0.06 a day; a run reserves \$0.05 and reports \$0.03
ant "{\"mode\": \"edit\", \"path\": \"src/paid.txt\", \"content\": \"paid\\n\",
    \"message\": \"Wrote src/paid.txt.\", $USAGE}"
id=$("$OPC" -c "$CFG" task add --repo capped --goal "Create src/paid.txt" | cut -d' ' -f1)
check "capped: the first run fits the cap and is Done" wait_for 90 state_is "$id" Done
id2=$("$OPC" -c "$CFG" task add --repo capped --goal "Create src/more.txt" | cut -d' ' -f1)
held() { [ "$(sqlite3 "$T/st/router.db" "select last_reason from rtask where task_id = '$1'")" = spend_cap ]; }
check "capped: \$0.03 spent + \$0.05 reserved > \$0.06: the next is held" wait_for 30 held "$id2"
check "capped: not dispatched, still Ready" state_is "$id2" "Ready for AI"
check "capped: opc status says so" sh -c "'$OPC' -c '$CFG' status | grep -q 'spend cap reached'"
check "capped: escalated" wait_for 10 grep -q '"escalator.wanted".*spend_cap' "$T/st/log/escalator.log"

# --- 14. opc providers: both CLIs ready headless ----------------------------------------------
ant '{"mode": "text", "message": "OK"}'
oai '{"mode": "text", "message": "OK"}'
"$OPC" -c "$CFG" providers --json >"$T/providers.json" 2>"$T/providers.err"
claude_ready() { jtrue '[.[] | select(.backend == "claude")][0] | .ready == "yes"
    and .key_present == true and .version != null' <"$T/providers.json"; }
codex_ready() { jtrue '[.[] | select(.backend == "codex")][0] | .ready == "yes"
    and .mode == "danger-full-access"
    and .sandbox == "bwrap, network host"' <"$T/providers.json"; }
noperm_shown() { jtrue '[.[] | select(.backend == "claude_default")][0] | .mode == "default"' <"$T/providers.json"; }
check "providers: claude ready" claude_ready
check "providers: codex ready" codex_ready
check "providers: the permission mode in effect" noperm_shown
check "providers: no key value printed" sh -c "! grep -q sk-ant-test-dummy '$T/providers.json'"

finish
