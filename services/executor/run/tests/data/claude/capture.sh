#!/bin/sh
# capture.sh - re-record the Claude Code captures in this directory: runs
# the real CLI (headless, -p) against opc-fixture-anthropic, one case per
# file, for --output-format json and stream-json.  See README.md.
#
#   capture.sh FIXTURE_BIN [CLAUDE_BIN] [CASE...]
#
# Needs no network: the CLI talks only to the fixture on 127.0.0.1.  The
# work tree is /tmp/opc-claude-capture/repo and the fixture listens on
# port 47123 so that the paths and port the CLI prints are the same in
# every recording.
set -eu

FX=${1:?usage: capture.sh FIXTURE_BIN [CLAUDE_BIN] [CASE...]}
shift
CLAUDE=${1:-$HOME/.cache/opcenter/agents/node_modules/.bin/claude}
[ $# -gt 0 ] && shift
OUT=$(cd "$(dirname "$0")" && pwd)
W=/tmp/opc-claude-capture
PORT=47123
KEY=sk-ant-test-dummy
MODEL=claude-sonnet-4-5
USAGE='{"input_tokens": 1000, "output_tokens": 100, "cache_creation_input_tokens": 2000, "cache_read_input_tokens": 10000}'

rm -rf "$W"
mkdir -p "$W"
"$FX" --port-file "$W/port" --port $PORT --api-key $KEY >"$W/fixture.log" 2>&1 &
FXPID=$!
trap 'kill $FXPID 2>/dev/null; wait $FXPID 2>/dev/null; rm -rf "$W"' EXIT
i=0
while [ ! -s "$W/port" ]; do
	i=$((i + 1))
	[ $i -gt 50 ] && { echo "fixture did not start" >&2; exit 1; }
	sleep 0.1
done
BASE=http://127.0.0.1:$PORT

scenario() {
	curl -sf -X POST "$BASE/_fixture/reset" >/dev/null
	curl -sf -X POST -H 'Content-Type: application/json' -d "$1" \
	    "$BASE/_fixture/scenario" >/dev/null
}

# run NAME FORMAT KEY ENV... -- CLAUDE-ARGS...: one recording.
run() {
	name=$1 fmt=$2 key=$3
	shift 3
	envs=""
	while [ "$1" != "--" ]; do
		envs="$envs $1"
		shift
	done
	shift
	rm -rf "$W/repo" "$W/home"
	mkdir -p "$W/home" "$W/repo"
	git -C "$W/repo" init -q
	git -C "$W/repo" -c user.email=t@example.com -c user.name=t \
	    commit -q --allow-empty -m init
	if [ "$fmt" = json ]; then
		set -- "$@" --output-format json
		ext=json
	else
		set -- "$@" --output-format stream-json --verbose
		ext=jsonl
	fi
	start=$(date +%s%N)
	rc=0
	(cd "$W/repo" && env -i PATH=/usr/bin:/bin HOME="$W/home" \
	    ANTHROPIC_BASE_URL=$BASE ANTHROPIC_API_KEY=$key \
	    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 $envs \
	    timeout 600 "$CLAUDE" "$@" </dev/null \
	    >"$OUT/$name.$ext" 2>"$W/stderr") || rc=$?
	end=$(date +%s%N)
	echo $rc >"$OUT/$name.$ext.exit"
	rm -f "$OUT/$name.$ext.stderr.txt"
	[ -s "$W/stderr" ] && cp "$W/stderr" "$OUT/$name.$ext.stderr.txt"
	n=$(curl -sf "$BASE/_fixture/requests" | python3 -c \
	    'import json,sys; print(sum(1 for r in json.load(sys.stdin)["requests"] if r["path"].startswith("/v1/messages")))')
	files=$(cd "$W/repo" && git status --porcelain -uall | tr '\n' ' ')
	hello=none
	[ -f "$W/repo/src/hello.txt" ] && hello=$(python3 -c \
	    'import sys; print(repr(open(sys.argv[1]).read()))' \
	    "$W/repo/src/hello.txt")
	printf '%s.%s exit=%s api_requests=%s seconds=%s changes=[%s] %s\n' \
	    "$name" "$ext" $rc "$n" $(((end - start) / 1000000000)) \
	    "$files" "src/hello.txt=$hello" | tee -a "$W/summary"
}

# case NAME SCENARIO KEY ENV... -- ARGS...: both formats.
case_() {
	name=$1 sc=$2
	shift 2
	for fmt in json stream; do
		scenario "$sc"
		run "$name" $fmt "$@"
	done
}

want() {
	[ -z "$CASES" ] && return 0
	for c in $CASES; do [ "$c" = "$1" ] && return 0; done
	return 1
}
CASES="$*"
EDIT='"mode": "edit", "path": "src/hello.txt", "content": "hello\n"'
P_EDIT="Create src/hello.txt containing hello."
P_TEXT="Say hello."

want 01 && case_ 01-edit-accept-edits \
    "{$EDIT, \"message\": \"Wrote src/hello.txt.\", \"usage\": $USAGE}" \
    $KEY -- -p "$P_EDIT" --model $MODEL --permission-mode acceptEdits
want 02 && case_ 02-edit-default-permissions \
    "{$EDIT, \"message\": \"I could not write src/hello.txt: permission was denied.\", \"usage\": $USAGE}" \
    $KEY -- -p "$P_EDIT" --model $MODEL
want 03 && case_ 03-text-only \
    "{\"mode\": \"text\", \"message\": \"Hello! Nothing to change.\", \"usage\": $USAGE}" \
    $KEY -- -p "$P_TEXT" --model $MODEL --permission-mode acceptEdits
want 04 && case_ 04-overloaded-529 \
    "{\"error\": \"overloaded\", \"usage\": $USAGE}" \
    $KEY CLAUDE_CODE_MAX_RETRIES=2 -- -p "$P_TEXT" --model $MODEL
want 05 && case_ 05-rate-limit-429 \
    "{\"error\": \"rate_limit\", \"retry_after\": 1, \"usage\": $USAGE}" \
    $KEY CLAUDE_CODE_MAX_RETRIES=2 -- -p "$P_TEXT" --model $MODEL
want 06 && case_ 06-quota-credit-balance \
    "{\"error\": \"quota\", \"usage\": $USAGE}" \
    $KEY -- -p "$P_TEXT" --model $MODEL
want 07 && case_ 07-prompt-too-long \
    "{\"error\": \"prompt_too_long\", \"usage\": $USAGE}" \
    $KEY -- -p "$P_TEXT" --model $MODEL
want 08 && case_ 08-unauthorized-401 \
    "{\"mode\": \"text\", \"usage\": $USAGE}" \
    sk-ant-test-wrong CLAUDE_CODE_MAX_RETRIES=2 -- -p "$P_TEXT" --model $MODEL
want 09 && case_ 09-max-budget-usd \
    "{$EDIT, \"message\": \"Wrote src/hello.txt.\", \"usage\": $USAGE}" \
    $KEY -- -p "$P_EDIT" --model $MODEL --permission-mode acceptEdits \
    --max-budget-usd 0.001
want 10 && case_ 10-max-turns-1 \
    "{$EDIT, \"message\": \"Wrote src/hello.txt.\", \"usage\": $USAGE}" \
    $KEY -- -p "$P_EDIT" --model $MODEL --permission-mode acceptEdits \
    --max-turns 1
want 11 && case_ 11-hang-api-timeout \
    "{\"error\": \"hang\", \"usage\": $USAGE}" \
    $KEY API_TIMEOUT_MS=3000 CLAUDE_CODE_MAX_RETRIES=1 -- -p "$P_TEXT" \
    --model $MODEL
want 12 && case_ 12-bypass-permissions-as-root \
    "{$EDIT, \"usage\": $USAGE}" \
    $KEY -- -p "$P_EDIT" --model $MODEL --permission-mode bypassPermissions
want 13 && case_ 13-dangerously-skip-permissions-as-root \
    "{$EDIT, \"usage\": $USAGE}" \
    $KEY -- -p "$P_EDIT" --model $MODEL --dangerously-skip-permissions
want 14 && scenario "{\"error\": \"overloaded\", \"usage\": $USAGE}" && \
    run 14-overloaded-529-default-retries json $KEY -- -p "$P_TEXT" \
    --model $MODEL
echo "--- summary"
cat "$W/summary"
