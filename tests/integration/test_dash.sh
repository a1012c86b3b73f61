#!/bin/sh
# test_dash.sh BIN_DIR: the dashboard (issue 20.5, 20.6) of a running
# constellation in a real browser.  A small constellation (local board,
# stub backend) with two opc-dash instances, one asking a token, runs one
# task.  Over HTTP (curl): the state has the instances and the run, the
# run's evidence is served, bad requests get 4xx (unknown paths, methods,
# path traversal plain and %2e%2e, a symlink out of the evidence root, an
# oversized head, a missing or wrong token) and leak nothing.  In headless
# Chromium (driven over the DevTools pipe by dash-cdp): the rendered DOM
# shows the instances, the run with its evidence links, the spend, and a
# bus event (task.created of a task added once the page listens) arriving
# live over server-sent events; the page fits a phone-width screen.  The
# screenshots are kept in BIN_DIR/../artifacts (dashboard.png,
# dashboard-phone.png).  SKIP (77) when Chromium is missing and cannot be
# installed (apt-get, as root) or does not start.
set -u
BIN=$1
OPC="$BIN/opc"
CDP="$BIN/../services/dash/tests/dash-cdp"
ART="$BIN/../artifacts"
. "$(dirname "$0")/lib.sh"
CFG=$T/opcenter.yaml
trap 'cleanup "$CFG"' EXIT
skip() { echo "SKIP: $*"; exit 77; }

# --- the browser: Debian's chromium (scripts/deps.sh lists it) -------------
chrome() { command -v chromium || command -v chromium-browser; }
if ! chrome >/dev/null && [ "$(id -u)" -eq 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends chromium >"$T/apt.out" 2>&1 ||
	    { apt-get update -q >/dev/null 2>&1 &&
	        DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	        --no-install-recommends chromium >"$T/apt.out" 2>&1; }
fi
CHROME=$(chrome) || skip "chromium is not installed and could not be"
[ -x "$CDP" ] || skip "no $CDP (build the tests)"

mkrepo demo
export OPC_TEST_DASH_TOKEN=dash-token-7c1e40
cat >"$CFG" <<YAML
opcenter: { state_dir: st, heartbeat_ms: 250 }
repos:
  demo: { clone_url: $T/demo, default_branch: main, max_usd_per_day: 5 }
instances:
  board-sync: { upstreams: [router, executor] }
  router:
    upstreams: [board-sync, executor]
    default: { lane: aider_local, backend: stub }
    budget: { max_per_hour: 100, max_per_day: 100, max_concurrent: 1,
              max_usd_per_day: 10 }
  executor:
    upstreams: [router]
    backends: { stub: { kind: stub } }
  recorder: { upstreams: [router, executor, board-sync] }
  escalator: { upstreams: [router, executor] }
  dash: { listen: "http://127.0.0.1:0", refresh: 300ms }
  dash@tok:
    service: dash
    listen: "http://127.0.0.1:0"
    token_env: OPC_TEST_DASH_TOKEN
YAML
"$OPC" -c "$CFG" up --wait 20 >/dev/null 2>&1
check "constellation up" "$OPC" -c "$CFG" heartbeat-check --max-age 5
url_of() { "$OPC" -c "$CFG" status --json | jq -r ".[\"$1\"].status.listen_url // empty"; }
has_url() { [ -n "$(url_of "$1")" ]; }
check "dash listens" wait_for 10 has_url dash
check "dash@tok listens" wait_for 10 has_url dash@tok
U=$(url_of dash)
UT=$(url_of dash@tok)
check "dash serves on its own loopback address" sh -c "echo '$U' | grep -q '^http://127.0.0.1:[0-9]*$'"

ID=$(add --repo demo --goal "Change for the dashboard test" --title "Dashboard test change")
check "the task ran" wait_for 60 sh -c "'$OPC' -c '$CFG' task show '$ID' --json | jq -e '.task.state == \"Done\" or .task.state == \"In Review\"' >/dev/null"
RUN=$("$OPC" -c "$CFG" runs list --json | jq -r '.runs[0].run_id // empty')
written() { "$OPC" -c "$CFG" runs show "$RUN" --json | jq -e '.written == true' >/dev/null; }
check "its evidence is written" wait_for 30 written
in_state() { curl -sf "$U/api/state" | jq -e --arg r "$RUN" \
    '[.runs[] | select(.run_id == $r and (.files | length) > 0)] | length == 1' >/dev/null; }
check "/api/state has the run with its files" wait_for 20 in_state

# --- HTTP: answers, refusals, nothing leaks ---------------------------------
code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }
check "GET / 200" [ "$(code "$U/")" = 200 ]
check "... with a CSP default-src 'self'" sh -c "curl -sI '$U/' | grep -qi \"^content-security-policy: default-src 'self'\""
check "/api/state lists the instances" sh -c "curl -sf '$U/api/state' | jq -e '[.instances[].name] | index(\"router\") and index(\"recorder\") and index(\"executor\")' >/dev/null"
check "evidence file 200, text/plain, nosniff" sh -c "
	[ \"\$(curl -s -o '$T/ev' -w '%{http_code} %{content_type}' '$U/evidence/$RUN/result.json')\" = '200 text/plain; charset=utf-8' ] &&
	jq -e .status '$T/ev' >/dev/null &&
	curl -sI '$U/evidence/$RUN/result.json' | grep -qi '^x-content-type-options: nosniff'"
echo "secret-outside-root" >"$T/st/outside.txt"
ln -s "$T/st/outside.txt" "$T/st/runs/$RUN/escape.txt"
for p in /nope /api /api/state/x "/evidence/$RUN/../../outside.txt" \
    "/evidence/%2e%2e/outside.txt" "/evidence/$RUN/%2e%2e/%2e%2e/outside.txt" \
    "/evidence/$RUN/..%2f..%2foutside.txt" "/evidence/$RUN/escape.txt" \
    "/evidence/$RUN" "/evidence/$RUN/nope.json"; do
	c=$(code --path-as-is "$U$p")
	check "GET $p: 4xx ($c), nothing leaks" sh -c "
		case '$c' in 4??) ;; *) exit 1 ;; esac &&
		! grep -q secret-outside-root '$T/body'"
done
check "POST /api/state 405" [ "$(code -X POST -d x "$U/api/state")" = 405 ]
head=$(head -c 20000 /dev/zero | tr '\0' a)
check "oversized head 431" [ "$(code -H "X-Big: $head" "$U/")" = 431 ]
check "token: none 401" [ "$(code "$UT/api/state")" = 401 ]
check "token: wrong 401" [ "$(code -H 'Authorization: Bearer nope' "$UT/api/state")" = 401 ]
check "token: wrong evidence 401" [ "$(code -H 'Authorization: Bearer nope' "$UT/evidence/$RUN/result.json")" = 401 ]
check "token: right 200" [ "$(code -H "Authorization: Bearer $OPC_TEST_DASH_TOKEN" "$UT/api/state")" = 200 ]
check "the token is never logged" sh -c "! grep -rq '$OPC_TEST_DASH_TOKEN' '$T/st/log' '$T/st/run' 2>/dev/null"

# an escalation to show: a repo's pause and resume are escalated (no
# webhook URL here: recorded, marked failed)
"$OPC" -c "$CFG" pause --repo demo --reason "escalation probe" >/dev/null 2>&1
"$OPC" -c "$CFG" resume --repo demo >/dev/null 2>&1
recent() { curl -sf "$U/api/state" | jq -e '[.escalations.recent[].kind] | index("paused") and index("resumed")' >/dev/null; }
check "/api/state lists the recent escalations" wait_for 20 recent

# --- the browser ------------------------------------------------------------
mkdir -p "$ART"
# ready: the state rendered (the run) and the event stream open; then a
# task added makes task.created, which must reach the page live
READY="document.querySelector('#runs tr[data-run=\"$RUN\"]') !== null &&
    document.getElementById('pill-live').textContent === 'bus: live'"
UNTIL="Array.from(document.querySelectorAll('#tail li')).some(
    (l) => l.dataset.topic === 'task.created' &&
    l.textContent.includes('Live probe of the dashboard'))"
"$CDP" --chrome "$CHROME" --url "$U/" --ready "$READY" --until "$UNTIL" \
    --dom "$T/dom.html" --png "$ART/dashboard.png" \
    --phone "$ART/dashboard-phone.png" --timeout 60 -- \
    "$OPC" -c "$CFG" task add --repo demo --goal "A live probe" \
    --title "Live probe of the dashboard" --state Backlog \
    >"$T/cdp.out" 2>&1
rc=$?
[ "$rc" = 77 ] && skip "chromium did not start: $(tail -3 "$T/cdp.out" | tr '\n' ' ')"
check "chromium rendered the page and saw the live event" \
    sh -c "! grep -v 'phone:' '$T/cdp.out' | grep -q dash-cdp"
check "usable at phone width (nothing wider than 390 px)" \
    sh -c "! grep -q 'phone: overflow' '$T/cdp.out'"
check "dash-cdp exit 0 (rc $rc)" [ "$rc" = 0 ]
dom() { grep -q "$1" "$T/dom.html"; }
check "DOM: the instances" sh -c "grep -q 'data-name=\"router\"' '$T/dom.html' && grep -q 'data-name=\"recorder\"' '$T/dom.html'"
check "DOM: the run" dom "data-run=\"$RUN\""
check "DOM: its evidence links" dom "href=\"/evidence/$RUN/result.json\""
check "DOM: the spend against the caps" sh -c "grep -q 'of \\\$10.0000 a day' '$T/dom.html' && grep -q 'this week' '$T/dom.html'"
check "DOM: the breaker" dom 'breaker: closed'
check "DOM: the live bus event" dom 'data-topic="task.created"'
check "DOM: the recent escalations" dom 'data-kind="resumed"'
png() { head -c 8 "$1" | od -An -c | grep -q 'P   N   G'; }
pngs() { png "$ART/dashboard.png" && png "$ART/dashboard-phone.png"; }
check "screenshots kept (PNG)" pngs
cp "$T/dom.html" "$ART/dashboard.html" 2>/dev/null
# the emergency stop shows in the state (the page renders its reason)
"$OPC" -c "$CFG" pause --reason "dashboard pause check" >/dev/null 2>&1
paused() { curl -sf "$U/api/state" | jq -e \
    '.pause.router.all.reason == "dashboard pause check"' >/dev/null; }
check "opc pause shows in /api/state" wait_for 10 paused
"$OPC" -c "$CFG" resume >/dev/null 2>&1
resumed() { curl -sf "$U/api/state" | jq -e '.pause == {} or (.pause.router.all == null)' >/dev/null; }
check "opc resume clears it" wait_for 10 resumed
finish
