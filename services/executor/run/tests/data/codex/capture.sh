#!/bin/bash
# capture.sh - run the real Codex CLI against opc-fixture-openai, once per
# case, and save its stdout, stderr, exit code, config and the fixture's
# request log here (see README.md).  Loopback only; a dummy API key.
#
#   capture.sh FIXTURE_BIN [CASE...]      (no CASE: all of them)
#
# env: CODEX (default: the opcenter agents cache), CAPTURE_TMP (parent of
# the per-case scratch dirs; not /tmp, where Codex refuses its helper
# binaries; default /var/tmp).
set -u
fixture=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
codex=${CODEX:-/root/.cache/opcenter/agents/node_modules/.bin/codex}
scratch=$(mktemp -d "${CAPTURE_TMP:-/var/tmp}/codex-capture.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
prompt="Create the file the user asked for, then reply briefly."

# config SANDBOX RETRIES STREAM_RETRIES IDLE_MS: config.toml on stdout
# (SANDBOX "-" leaves sandbox_mode out: Codex's default).
config() {
	echo 'model = "gpt-5.5"'
	echo 'model_provider = "fixture"'
	echo 'approval_policy = "never"'
	[ "$1" != - ] && echo "sandbox_mode = \"$1\""
	cat <<TOML
check_for_update_on_startup = false
web_search = "disabled"

[model_providers.fixture]
name = "opcenter fixture"
base_url = "http://127.0.0.1:PORT/v1"
env_key = "OPENAI_API_KEY"
wire_api = "responses"
request_max_retries = $2
stream_max_retries = $3
stream_idle_timeout_ms = $4
supports_websockets = false

[analytics]
enabled = false

[feedback]
enabled = false

[otel]
exporter = "none"
metrics_exporter = "none"
trace_exporter = "none"

[features]
plugins = false
remote_plugin = false
apps = false
TOML
}

# run NAME SCENARIO SANDBOX RETRIES STREAM_RETRIES IDLE_MS TIMEOUT_S
#     [codex exec args...]
run() {
	local name=$1 scen=$2 sandbox=$3 rr=$4 sr=$5 idle=$6 tmo=$7
	shift 7
	local d=$scratch/$name port fxpid rc t0 t1 keyenv=OPENAI_API_KEY=sk-test-dummy
	[ -n "${NOKEY:-}" ] && keyenv= # OPENAI_API_KEY not set at all
	mkdir -p "$d/home" "$d/codexhome" "$d/ws"
	"$fixture" --port-file "$d/port" --api-key sk-test-dummy \
	    >"$d/fixture.log" 2>&1 &
	fxpid=$!
	for _ in $(seq 100); do [ -s "$d/port" ] && break; sleep 0.05; done
	port=$(cat "$d/port")
	git -C "$d/ws" init -q
	git -C "$d/ws" -c user.name=t -c user.email=t@example.invalid \
	    commit -q --allow-empty -m init
	config "$sandbox" "$rr" "$sr" "$idle" >"$here/$name.config.toml"
	sed "s/PORT/$port/" "$here/$name.config.toml" \
	    >"$d/codexhome/config.toml"
	curl -sf -o /dev/null "http://127.0.0.1:$port/_fixture/scenario" \
	    -d "$scen" || echo "$name: scenario refused" >&2
	t0=$(date +%s%N)
	(cd "$d/ws" && env -i PATH=/usr/local/bin:/usr/bin:/bin \
	    HOME="$d/home" CODEX_HOME="$d/codexhome" $keyenv \
	    timeout "$tmo" "$codex" exec --json --strict-config "$@" \
	    "$prompt" </dev/null >"$here/$name.stdout.jsonl" \
	    2>"$here/$name.stderr.txt")
	rc=$?
	t1=$(date +%s%N)
	echo "$rc" >"$here/$name.exit"
	[ -s "$here/$name.stderr.txt" ] || rm -f "$here/$name.stderr.txt"
	curl -s "http://127.0.0.1:$port/_fixture/requests" |
	    python3 -m json.tool >"$here/$name.requests.json"
	# What the turn left in the workspace: path, then its content as JSON.
	(cd "$d/ws" && find . -path ./.git -prune -o -type f -print | sort |
	    python3 -c 'import json, sys
for p in sys.stdin.read().split():
    print(p[2:], json.dumps(open(p).read()))') >"$here/$name.files.txt"
	[ -s "$here/$name.files.txt" ] || rm -f "$here/$name.files.txt"
	[ -f "$d/last-message.txt" ] &&
	    cp "$d/last-message.txt" "$here/$name.last-message.txt"
	kill "$fxpid"
	wait "$fxpid" 2>/dev/null
	echo "$name: exit $rc in $(((t1 - t0) / 1000000)) ms" >&2
}

edit='{"mode":"edit","path":"src/hello.txt","content":"hello\n","message":"Created src/hello.txt","usage":{"input_tokens":1000,"input_tokens_details":{"cached_tokens":200},"output_tokens":50,"output_tokens_details":{"reasoning_tokens":10}}}'
text='{"mode":"text","message":"Hello from the fixture.","usage":{"input_tokens":1500,"input_tokens_details":{"cached_tokens":300},"output_tokens":40,"output_tokens_details":{"reasoning_tokens":8}}}'

case_() {
	case $1 in
	01-edit) run 01-edit "$edit" workspace-write 2 1 5000 120 ;;
	01b-edit-exec-command) run 01b-edit-exec-command "${edit%\}},\"tool\":\"exec_command\"}" workspace-write 2 1 5000 120 ;;
	02-edit-default-sandbox) run 02-edit-default-sandbox "$edit" - 2 1 5000 120 ;;
	03-text) run 03-text "$text" workspace-write 2 1 5000 120 ;;
	04-overloaded-503) run 04-overloaded-503 '{"mode":"overloaded"}' workspace-write 3 1 5000 120 ;;
	04b-server-error-500) run 04b-server-error-500 '{"mode":"overloaded","status":500}' workspace-write 3 1 5000 120 ;;
	04c-response-failed) run 04c-response-failed '{"mode":"overloaded","status":500,"in_stream":true}' workspace-write 3 2 5000 120 ;;
	04d-overloaded-then-ok) run 04d-overloaded-then-ok '{"mode":"overloaded","error_count":2,"message":"Recovered."}' workspace-write 3 1 5000 120 ;;
	05-rate-limit) run 05-rate-limit '{"mode":"rate_limit","retry_after":1}' workspace-write 3 1 5000 120 ;;
	06-quota) run 06-quota '{"mode":"quota"}' workspace-write 3 1 5000 120 ;;
	07-context-too-long) run 07-context-too-long '{"mode":"context_too_long"}' workspace-write 3 1 5000 120 ;;
	08-unauthorized) run 08-unauthorized '{"mode":"unauthorized"}' workspace-write 3 1 5000 120 ;;
	08b-missing-key) NOKEY=1 run 08b-missing-key '{"mode":"text"}' workspace-write 3 1 5000 120 ;;
	09-hang) run 09-hang '{"mode":"hang"}' workspace-write 1 1 3000 60 ;;
	09b-stall-after-created) run 09b-stall-after-created '{"mode":"hang","in_stream":true}' workspace-write 1 1 3000 60 ;;
	10-output-last-message)
		run 10-output-last-message "$text" workspace-write 2 1 5000 120 \
		    -o "$scratch/10-output-last-message/last-message.txt" ;;
	*) echo "unknown case $1" >&2; return 1 ;;
	esac
}

all="01-edit 01b-edit-exec-command 02-edit-default-sandbox 03-text 04-overloaded-503
04b-server-error-500 04c-response-failed 04d-overloaded-then-ok 05-rate-limit
06-quota 07-context-too-long 08-unauthorized 08b-missing-key 09-hang 09b-stall-after-created
10-output-last-message"
for c in ${@:-$all}; do
	case_ "$c"
done
