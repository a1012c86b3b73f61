#!/bin/sh
# test_webhook.sh BIN_DIR: the real opc-webhook under `opc up` on a free
# loopback port: signed GitHub check_run -> ci.check_run journaled; bad or
# missing signature 401; 2 MiB 413 (with its reason phrase); malformed JSON
# 400; wrong type 415; a redelivery journals nothing more; unknown event
# 202; /healthz; /metrics; Plane -> board.webhook; a chunked body 411
# unread; and deliveries as GitHub makes them (opc-fixture-github's
# webhooks): a hook created with GitHub's defaults posts
# application/x-www-form-urlencoded (payload=<json>), its ping first, and
# is never redelivered; a storm of signed error reports (/ingest) of 3
# fingerprints makes 3 improve tasks, and after a SIGKILL of the webhook
# the same fingerprints are still duplicates.  Needs curl, openssl, sqlite3, jq.
set -u
BIN=$1
OPC="$BIN/opc"
. "$(dirname "$0")/../../../tests/integration/lib.sh"
CFG=$T/opcenter.yaml
fxpid=""
trap 'cleanup "$CFG"; [ -z "$fxpid" ] || kill $fxpid 2>/dev/null' EXIT

export GITHUB_WEBHOOK_SECRET="gh-test-secret-$$"
export PLANE_WEBHOOK_SECRET="plane-test-secret-$$"
export OPC_INGEST_SECRET="ingest-test-secret-$$"
cat >"$CFG" <<YAML
opcenter: { state_dir: st, heartbeat_ms: 250 }
instances:
  board-sync: { upstreams: [webhook] }
  webhook:
    listen: http://127.0.0.1:0
    github_secret_env: GITHUB_WEBHOOK_SECRET
    plane_secret_env: PLANE_WEBHOOK_SECRET
    ingest_secret_env: OPC_INGEST_SECRET
    insecure: false
    max_body: 1048576
    metrics_interval: 500ms
    header_timeout: 1s
YAML
"$OPC" -c "$CFG" up --wait 20 >"$T/up.out" 2>&1
check "constellation up" "$OPC" -c "$CFG" heartbeat-check --max-age 5
url() { "$OPC" -c "$CFG" status --json | jq -er '.webhook.status.listen_url | select(. != null)'; }
check "listen_url in status" wait_for 10 url
U=$(url)
case "$U" in http://127.0.0.1:0|"") bad "bound port reported ($U)" ;; esac

sig() { openssl dgst -sha256 -hmac "$1" <"$2" | sed 's/^.*= //'; }
# post PATH FILE [curl args...]: prints "STATUS BODY"
post() {
	p=$1 f=$2; shift 2
	curl -s -o "$T/resp" -w '%{http_code}' -X POST \
	    --data-binary "@$f" "$@" "$U$p"
	printf ' %s' "$(cat "$T/resp")"
}
gh() { # gh FILE EVENT DELIVERY [SIG]
	s=${4:-sha256=$(sig "$GITHUB_WEBHOOK_SECRET" "$1")}
	post /github "$1" -H "Content-Type: application/json" \
	    -H "X-GitHub-Event: $2" -H "X-GitHub-Delivery: $3" \
	    -H "X-Hub-Signature-256: $s"
}
is() { # is EXPECTED ACTUAL
	[ "$1" = "$2" ] || { echo "  expected '$1', got '$2'" >&2; return 1; }
}
topics() { sqlite3 "$T/st/webhook.db" "select topic from journal" | grep -c "^$1\$"; }

cat >"$T/cr.json" <<'JSON'
{"action":"completed","repository":{"full_name":"octo/demo"},
 "check_run":{"name":"build","status":"completed","conclusion":"failure",
 "head_sha":"0123456789abcdef","pull_requests":[{"number":42}]}}
JSON
check "signed check_run -> 200" is "200 OK" "$(gh "$T/cr.json" check_run d-1)"
check "ci.check_run journaled" is 1 "$(topics ci.check_run)"
check "payload fields" sh -c "sqlite3 '$T/st/webhook.db' \"select count(*) from journal where topic='ci.check_run'\" | grep -q 1"
check "redelivery -> 200 duplicate" is "200 duplicate" "$(gh "$T/cr.json" check_run d-1)"
check "redelivery journals nothing" is 1 "$(topics ci.check_run)"
check "bad signature -> 401" is "401 Invalid signature" \
    "$(gh "$T/cr.json" check_run d-2 "sha256=$(sig wrong "$T/cr.json")")"
check "no signature -> 401" is "401 Invalid signature" \
    "$(post /github "$T/cr.json" -H "Content-Type: application/json" \
        -H "X-GitHub-Event: check_run" -H "X-GitHub-Delivery: d-3")"
check "unsigned not journaled" is 1 "$(topics ci.check_run)"
head -c 2097152 /dev/zero | tr '\0' 'a' >"$T/big.json"
check "2 MiB -> 413" is "413 Payload too large" \
    "$(gh "$T/big.json" check_run d-4 -H 'Expect:')"
check "2 MiB with Expect: 100-continue -> 413" is "413 Payload too large" \
    "$(gh "$T/big.json" check_run d-4)"
printf '{"action": "completed", ' >"$T/bad.json"
check "malformed JSON -> 400" is "400 Malformed JSON" \
    "$(gh "$T/bad.json" check_run d-5)"
check "text/plain -> 415" is "415" "$(post /github "$T/cr.json" \
    -H "Content-Type: text/plain" -H "X-GitHub-Event: check_run" \
    -H "X-Hub-Signature-256: sha256=$(sig "$GITHUB_WEBHOOK_SECRET" "$T/cr.json")" | cut -d' ' -f1)"
check "unknown event -> 202" is "202 Ignored" "$(gh "$T/cr.json" issues d-6)"
echo '{"zen":"hi"}' >"$T/ping.json"
check "ping -> 200" is "200 pong" "$(gh "$T/ping.json" ping d-7)"
cat >"$T/pr.json" <<'JSON'
{"action":"closed","number":42,"repository":{"full_name":"octo/demo"},
 "pull_request":{"merged":true,"head":{"ref":"goal/fix"}}}
JSON
check "pull_request -> 200" is "200 OK" "$(gh "$T/pr.json" pull_request d-8)"
check "ci.pr_event journaled" is 1 "$(topics ci.pr_event)"

echo '{"event":"issue","action":"updated","data":{"id":"x"}}' >"$T/plane.json"
pl() { # pl FILE DELIVERY [SIG]
	s=${3:-$(sig "$PLANE_WEBHOOK_SECRET" "$1")}
	post /plane "$1" -H "Content-Type: application/json" \
	    -H "X-Plane-Delivery: $2" -H "X-Plane-Signature: $s"
}
check "plane signed -> 200" is "200 OK" "$(pl "$T/plane.json" p-1)"
check "board.webhook journaled" is 1 "$(topics board.webhook)"
check "plane bad signature -> 401" is "401 Invalid signature" \
    "$(pl "$T/plane.json" p-2 "$(sig nope "$T/plane.json")")"
check "plane redelivery -> duplicate" is "200 duplicate" "$(pl "$T/plane.json" p-1)"
check "one board.webhook" is 1 "$(topics board.webhook)"

check "healthz -> 200 ok" is "200 ok" \
    "$(curl -s -w '%{http_code} ' "$U/healthz" -o "$T/h" && cat "$T/h")"
check "GET /github -> 405" is 405 "$(curl -s -o /dev/null -w '%{http_code}' "$U/github")"
metrics_ok() {
	curl -sf "$U/metrics" >"$T/metrics" &&
	    grep -q '^# TYPE opc_up gauge' "$T/metrics" &&
	    grep -q '^opc_up{instance="webhook"} 1' "$T/metrics" &&
	    grep -q '^opc_up{instance="board-sync"} 1' "$T/metrics" &&
	    grep -q '^opc_webhook_duplicates_total{instance="webhook"} 2' "$T/metrics"
}
check "metrics: opc_up and own counters" wait_for 15 metrics_ok
check "metrics: restarts from supervisor" grep -q '^opc_restarts_total{instance="webhook"} 0' "$T/metrics"
st() { "$OPC" -c "$CFG" status --json | jq -r ".webhook.status.counters.$1"; }
check "status counters" sh -c "[ $(st accepted) = 3 ] && [ $(st rejected_signature) = 3 ] && [ $(st oversized) = 2 ] && [ $(st malformed) = 1 ] && [ $(st duplicates) = 2 ] && [ $(st ignored_events) = 1 ]"
# the HTTP edge: a chunked body has no length: 411 before it is read or
# checked (it was "401 Invalid signature"); 413 says what it is
check "chunked -> 411" is "411 Content-Length required" \
    "$(post /github "$T/cr.json" -H "Content-Type: application/json" \
        -H "X-GitHub-Event: check_run" -H "X-GitHub-Delivery: d-9" \
        -H "X-Hub-Signature-256: sha256=$(sig "$GITHUB_WEBHOOK_SECRET" "$T/cr.json")" \
        -H "Transfer-Encoding: chunked")"
curl -s -o /dev/null -D "$T/h413" -X POST --data-binary "@$T/big.json" \
    -H 'Expect:' -H "Content-Type: application/json" "$U/github"
check "413 status line has its reason" grep -q '^HTTP/1.1 413 Content Too Large' "$T/h413"
check "length_required counted" sh -c "[ $(st length_required) = 1 ]"

# a head that trickles in, a byte every 200 ms, is cut off with 408 once
# header_timeout (1 s) from its first byte has passed (it was never cut
# off: nng's server has no deadline for it); bash for /dev/tcp
trickle() {
	bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 2
	printf "POST /github HTTP/1.1\r\nHost: x\r\nX-Slow: " >&3
	i=0
	while [ $i -lt 50 ]; do
		if IFS= read -r -t 0.2 -u 3 line; then echo "$line"; exit 0; fi
		printf a >&3 2>/dev/null || exit 3
		i=$((i + 1))
	done
	exit 1' trickle "${U##*:}"
}
t0=$(date +%s)
out=$(trickle | tr -d '\r')
t1=$(date +%s)
check "trickled head cut off with 408" is "HTTP/1.1 408 Request Timeout" "$out"
check "within seconds, not never" [ $((t1 - t0)) -lt 10 ]
check "timeouts counted" sh -c "[ $(st timeouts) -ge 1 ]"

# GitHub as the sender: a hook created with the defaults (content type
# form) gets its ping at once, then events; a refused delivery is not
# sent again
"$BIN/opc-fixture-github" --port-file "$T/gh.port" --token ghtok 2>"$T/gh.err" &
fxpid=$!
check "github fixture up" wait_for 10 test -s "$T/gh.port"
GH=http://127.0.0.1:$(cat "$T/gh.port")
api() { curl -s -H "Authorization: Bearer ghtok" "$@"; }
api -X POST "$GH/repos/octo/app/hooks" -d "{\"config\": {\"url\": \"$U/github\", \"secret\": \"$GITHUB_WEBHOOK_SECRET\"}, \"events\": [\"check_run\", \"pull_request\"]}" >"$T/hook.json"
hid=$(jq -r .id "$T/hook.json")
deliveries() { api "$GH/repos/octo/app/hooks/$hid/deliveries"; }
check "hook made with GitHub's default content type" is form "$(jq -r .config.content_type "$T/hook.json")"
check "its ping was accepted (form-encoded)" is "200 ping" "$(deliveries | jq -r '.[0] | "\(.status_code) \(.event)"')"
check "pings counted" sh -c "[ $(st pings) = 2 ]"
api -X POST "$GH/_fixture/deliver" -d '{"repo": "octo/app", "event": "check_run", "payload": {"action": "completed", "check_run": {"name": "lint", "status": "completed", "conclusion": "failure", "head_sha": "feedface", "pull_requests": []}}}' >"$T/del.json"
check "form check_run -> 200" is 200 "$(jq -r '.deliveries[0].status_code' "$T/del.json")"
check "form check_run journaled with its fields" sh -c "sqlite3 '$T/st/webhook.db' 'select count(*) from journal where topic = \"ci.check_run\"' | grep -qx 2"
check "form signature is over the raw body" sh -c "[ $(st rejected_signature) = 3 ]"
# a delivery refused (no secret on this hook: 401) is not retried
api -X POST "$GH/repos/octo/nosig/hooks" -d "{\"config\": {\"url\": \"$U/github\"}, \"events\": [\"*\"]}" >"$T/hook2.json"
hid2=$(jq -r .id "$T/hook2.json")
sleep 1
check "unsigned ping refused 401, sent once" is "401 1" \
    "$(api "$GH/repos/octo/nosig/hooks/$hid2/deliveries" | jq -r '"\(.[0].status_code) \(length)"')"

# error reports: a storm of 12 of 3 fingerprints -> 3 improve tasks
ing() { # ing FILE [SIG]
	s=${2:-sha256=$(sig "$OPC_INGEST_SECRET" "$1")}
	post /ingest "$1" -H "Content-Type: application/json" \
	    -H "X-Hub-Signature-256: $s"
}
: >"$T/ing.out"
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
	printf '{"service":"api","message":"boom %s","stack":"at x","fingerprint":"fp-%s","repo":"demo"}' \
	    "$i" $((i % 3)) >"$T/ing.json"
	ing "$T/ing.json" >>"$T/ing.out"; echo >>"$T/ing.out"
done
check "ingest storm: 3 ok" is 3 "$(grep -c '^200 ok$' "$T/ing.out")"
check "ingest storm: 9 duplicates" is 9 "$(grep -c '^200 duplicate$' "$T/ing.out")"
check "ingest bad signature -> 401" is "401 Invalid signature" \
    "$(ing "$T/ing.json" sha256=00)"
itasks3() {
	[ "$("$OPC" -c "$CFG" task list --json | jq '[.tasks[] | select(.kind == "improve")] | length')" = 3 ]
}
check "3 improve tasks on the board" wait_for 10 itasks3
check "error_ingest.task_created x3" is 3 \
    "$(sqlite3 "$T/st/board-sync.db" "select count(*) from journal where topic = 'error_ingest.task_created'")"
# SIGKILL of the webhook: the same fingerprints are still duplicates
kill -9 "$("$OPC" -c "$CFG" status --json | jq -r .webhook.pid)"
relisten() {
	"$OPC" -c "$CFG" status --json | jq -e '.webhook.alive and .webhook.restart_count >= 1 and .webhook.status.listen_url != null' >/dev/null
}
check "webhook restarted after SIGKILL" wait_for 30 relisten
U=$(url)
: >"$T/ing2.out"
for i in 1 2 3; do
	printf '{"service":"api","message":"boom again","fingerprint":"fp-%s","repo":"demo"}' $((i % 3)) >"$T/ing.json"
	ing "$T/ing.json" >>"$T/ing2.out"; echo >>"$T/ing2.out"
done
check "after SIGKILL: the same fingerprints are duplicates" is 3 "$(grep -c '^200 duplicate$' "$T/ing2.out")"
check "still 3 improve tasks" itasks3

check "no secret or body in logs" sh -c "! grep -rq -e '$GITHUB_WEBHOOK_SECRET' -e '$PLANE_WEBHOOK_SECRET' -e '$OPC_INGEST_SECRET' -e octo/demo -e 0123456789abcdef '$T/st/log' '$T'/*.out"
finish
