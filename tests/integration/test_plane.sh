#!/bin/sh
# test_plane.sh BIN_DIR: board-sync in Plane mode and pull requests on
# GitHub, through the real daemons against the loopback fixtures
# opc-fixture-plane and opc-fixture-github (which behave like Plane's
# and GitHub's code: rate limits, paging, zones, default states):
#   a Ready-for-AI work item labelled repo: demo, task-kind: goal (on the
#   last of 3 pages) is claimed (Running), executed, and ends In Review
#   with a result comment and a pull request; the token's near expiry is
#   reported; Plane failing for a while costs retries, not transitions;
#   a refused API key leaves board-sync running, degraded.  And (issue
#   14): a backlog drains under the key's rate limit with no 429 and
#   Retry-After is kept; a task costs few requests and an idle board
#   none; a claim whose PATCH fails (500, 429, a restart) is finished by
#   its owner with one claim comment, a lost or orphaned claim leaves
#   none behind; a project without a needed state gets no claim, says so
#   (status, doctor, one escalation) and recovers when the state is made;
#   items of a repo not configured here are left alone, an unknown
#   task-kind is refused; a listing that shifts while paged claims
#   nothing twice; two instances with keys in different zones agree.
set -u
BIN=$1
OPC="$BIN/opc"
. "$(dirname "$0")/lib.sh"
CFG=$T/opcenter.yaml
fxpids=""
trap 'for c in bad two hook miss; do "$OPC" -c "$T/$c.yaml" down >/dev/null 2>&1; done; cleanup "$CFG"; for p in $fxpids; do kill $p 2>/dev/null; done' EXIT

PROJ=11111111-1111-1111-1111-111111111111
# opcenter's states next to Plane's defaults (a new Plane project has
# only Backlog, Todo, In Progress, Done and Cancelled)
STATES='[{"name": "Backlog", "group": "backlog", "default": true},
 {"name": "Todo", "group": "unstarted"}, {"name": "Ready for AI", "group": "unstarted"},
 {"name": "Running", "group": "started"}, {"name": "In Progress", "group": "started"},
 {"name": "In Review", "group": "started"}, {"name": "Blocked", "group": "started"},
 {"name": "Done", "group": "completed"}, {"name": "Cancelled", "group": "cancelled"}]'
# 250 items of someone else's and two of ours, newest first: "Edge" is
# the last of the first page (100), "Write a tiny..." on page 3
item() { # item NAME: a Ready-for-AI goal of repo demo
	printf '{"name": "%s", "state": "Ready for AI", "labels": ["repo: demo", "task-kind: goal"], "description_html": "<p>%s</p>"}' "$1" "$1"
}
{
	printf '{"states": %s, "work_items": [' "$STATES"
	item "Write a tiny hello-world execution artifact"
	i=1
	while [ $i -le 250 ]; do
		[ $i -eq 152 ] && printf ', ' && item "Edge of the first page"
		printf ', {"name": "other %d", "state": "Backlog", "labels": ["team: x"]}' $i
		i=$((i + 1))
	done
	printf ']}\n'
} >"$T/seed.json"
# Plane's throttle at 10 requests a second (its default is 60 a minute:
# the same sliding window, faster), two keys: UTC and Asia/Kolkata
"$BIN/opc-fixture-plane" --port-file "$T/plane.port" --api-key planekey \
    --api-key planekey2 --timezone Asia/Kolkata --workspace ws \
    --project $PROJ --seed "$T/seed.json" --rate-limit 10/second \
    2>"$T/plane.err" &
fxpids="$fxpids $!"
expires=$(date -u -d "+5 days" "+%Y-%m-%d %H:%M:%S UTC")
"$BIN/opc-fixture-github" --port-file "$T/gh.port" --token ghtoken \
    --expires "$expires" 2>"$T/gh.err" &
fxpids="$fxpids $!"
check "fixtures listening" wait_for 10 sh -c "[ -s '$T/plane.port' ] && [ -s '$T/gh.port' ]"
PP=$(cat "$T/plane.port"); GP=$(cat "$T/gh.port")
PLANE="http://127.0.0.1:$PP"
fx() { curl -s -X POST "$PLANE/_fixture/$1" -d "$2" >/dev/null; }
plane_state() { curl -s "$PLANE/_fixture/state"; }
counter() { plane_state | jq -r ".$1"; }
# is_in NAME STATE: the work item called NAME is in STATE (in Plane)
is_in() { [ "$(plane_state | jq -r --arg n "$1" '.work_items[] | select(.name == $n) | .state')" = "$2" ]; }
# comments NAME [MARK]: how many comments NAME has (containing MARK)
comments() { plane_state | jq --arg n "$1" --arg m "${2:-}" '[.work_items[] | select(.name == $n) | .comments[] | select(.comment_html | contains($m))] | length'; }
# has_comments NAME MARK N: NAME has N comments containing MARK
has_comments() { [ "$(comments "$1" "$2")" = "$3" ]; }
item_id() { plane_state | jq -r --arg n "$1" '.work_items[] | select(.name == $n) | .id'; }
# readies DB NAME: task.ready journaled for NAME's item in board-sync db DB
readies() { sqlite3 "$1" "select count(*) from journal where topic = 'task.ready' and corr = '$(item_id "$2")'"; }

# before the first listing: an item is made just after its first page is
# answered, so page 2 repeats the first page's last item ("Edge")
fx after_page '{"page": 0, "workitem": {"name": "Shifter", "state": "Backlog", "labels": ["team: x"]}}'

mkrepo demo
cat >"$T/asker.sh" <<'SH'
#!/bin/sh
# asks which file to change, unless the prompt carries the answer
if grep -q "Answer:" "$1"; then
	echo "changed" >src/notes.txt
else
	echo "<!-- cp:question: Which file should change? -->"
fi
SH
chmod +x "$T/asker.sh"
# out of credits (quota_exhausted); a change with three suppressions
cat >"$T/broke.sh" <<'SH'
#!/bin/sh
echo "Your credit balance is too low to access the API" >&2
exit 1
SH
cat >"$T/erode.sh" <<'SH'
#!/bin/sh
printf 'import os  # noqa\ndef f():\n    pass\nx = g()  # type: ignore\n' >src/mod.py
SH
chmod +x "$T/broke.sh" "$T/erode.sh"
cat >"$CFG" <<YAML
opcenter: { state_dir: st, heartbeat_ms: 250 }
plane:
  base_url: $PLANE
  api_token_env: PLANE_TOKEN
  workspace_slug: ws
  project_id: $PROJ
  per_page: 100
  rate_limit: 10/second
git: { token_env: GH_TOKEN }
github: { api_url: "http://127.0.0.1:$GP", warn_days: 7 }
repos:
  # this test opens more pull requests than the caps' defaults let
  # through (10 open, 2 an hour); the caps are test_executor_prq's
  demo: { clone_url: $T/demo, default_branch: main, await_review: true,
          open_pr: true, github_repo: acme/demo, max_open_prs: 0,
          max_prs_per_hour: 0 }
instances:
  board-sync: { board: plane, poll_interval: 500ms, upstreams: [router, executor] }
  router:
    upstreams: [board-sync, executor]
    budget: { max_per_hour: 100, max_per_day: 100, max_concurrent: 2 }
    rules: [{ name: asks, when: { labels_any: [asks, late] }, lane: aider_local, backend: asker },
            { name: broke, when: { labels_any: [broke] }, lane: aider_local, backend: broke },
            { name: erode, when: { labels_any: [erode] }, lane: aider_local, backend: erode },
            { name: fails, when: { labels_any: [fails] }, lane: aider_local, backend: fails }]
  executor:
    upstreams: [router]
    max_parallel: 2
    backends:
      stub: { kind: stub }
      asker: { kind: command, argv: [$T/asker.sh, "{prompt_file}"] }
      broke: { kind: command, argv: [$T/broke.sh] }
      erode: { kind: command, argv: [$T/erode.sh] }
      fails: { kind: command, argv: [sh, -c, "echo broken >&2; exit 3"] }
  recorder: { upstreams: [router, executor, board-sync] }
YAML
export PLANE_TOKEN=planekey PLANE_TOKEN_B=planekey2 GH_TOKEN=ghtoken
"$OPC" -c "$CFG" up --wait 20 >/dev/null 2>&1
check "constellation up" wait_for 10 "$OPC" -c "$CFG" heartbeat-check --max-age 5

check "claimed from page 3 and finished In Review" wait_for 60 is_in "Write a tiny hello-world execution artifact" "In Review"
tiny="Write a tiny hello-world execution artifact"
check "claim comment posted" [ "$(comments "$tiny" opcenter:claim)" = 1 ]
# the state's PATCH and the result comment are two requests: wait for both
check "result comment with success" wait_for 10 has_comments "$tiny" "success: true" 1
check "result comment names the pull request" has_comments "$tiny" "pull_request:" 1
check "a pull request in GitHub for the task branch" sh -c "curl -s 'http://127.0.0.1:$GP/_fixture/state' | jq -e '[.pulls[]? // .pull_requests[]? | select(.head.ref | startswith(\"opcenter/goal/\"))] | length >= 1'"
check "PR URL in the evidence" wait_for 20 sh -c "cat '$T'/st/runs/*/result.json | jq -r .pull_request_url | grep -q '^http://127.0.0.1:$GP/acme/demo/pull/'"
check "credential.expiring for the GitHub token" wait_for 10 sh -c "sqlite3 '$T/st/executor.db' 'select topic from journal' | grep -q credential.expiring"
check "status: plane ok" sh -c "'$OPC' -c '$CFG' status --json | jq -e '.\"board-sync\".status.plane.state == \"ok\"' >/dev/null"
# a work item made while the first listing was paged repeated "Edge" on
# page 2: it is claimed once (one claim comment, one run)
check "an item a shifting listing repeats ends In Review" wait_for 60 is_in "Edge of the first page" "In Review"
check "... claimed once: one claim comment ($(comments "Edge of the first page" opcenter:claim))" [ "$(comments "Edge of the first page" opcenter:claim)" = 1 ]
check "... one task.ready" [ "$(readies "$T/st/board-sync.db" "Edge of the first page")" = 1 ]

# opc doctor sees Plane and GitHub
"$OPC" -c "$CFG" doctor >"$T/doctor.out" 2>&1
check "doctor exits 0" [ $? -eq 0 ]
check "doctor: plane identity" grep -q "ok    plane identity: HTTP 200" "$T/doctor.out"
check "doctor: plane states" grep -q "ok    plane states" "$T/doctor.out"
check "doctor: github identity" grep -q "github: identity opcenter-bot" "$T/doctor.out"

# awaiting_input: the backend asks a question; a human answers in Plane;
# the task runs again with the answer in its goal
fx workitem '{"name": "Ask me", "state": "Ready for AI", "labels": ["repo: demo", "task-kind: goal", "asks"], "description_html": "<p>Change something, ask first</p>"}'
check "question asked -> Blocked" wait_for 60 is_in "Ask me" "Blocked"
askid=$(item_id "Ask me")
check "the question is in a Plane comment" [ "$(comments "Ask me" "question: Which file")" = 1 ]
curl -s -X POST -H "X-API-Key: planekey2" -H "Content-Type: application/json" \
    "$PLANE/api/v1/workspaces/ws/projects/$PROJ/work-items/$askid/comments/" \
    -d '{"comment_html": "<p>Use notes.txt</p>"}' >/dev/null
# Plane's issue_comment webhook says so (without it, the answer is read
# at the next plane.answer_poll)
"$OPC" -c "$CFG" pub board-sync board.webhook '{"event": "issue_comment", "delivery_id": "d-answer"}' >/dev/null
check "answered -> runs again -> In Review" wait_for 60 is_in "Ask me" "In Review"
check "the answer reached the backend" sh -c "grep -l 'Use notes.txt' '$T'/st/workspaces/*/.opcenter/prompt.md >/dev/null"

# A human adds an item with a label made after board-sync read the
# labels: it waits for the labels to be read again (at once), then runs
# with that label, which routes it to the asking backend (without it,
# the stub would run it)
fx workitem '{"name": "Late label", "state": "Ready for AI", "labels": ["repo: demo", "task-kind: goal", "late"], "description_html": "<p>Change something, ask first</p>"}'
check "an item with a label newer than the labels list waits for it" \
    wait_for 30 sh -c "grep '\"event\":\"plane.label\"' '$T/st/log/board-sync.log' | grep -q '$(item_id "Late label")'"
check "then runs with that label (its lane asks -> Blocked)" wait_for 60 is_in "Late label" "Blocked"

# Quota exhaustion is its own class: Blocked with blocked_classification
# quota_exhausted, a quota_event in the usage store (opc usage), and the
# breaker does not count it.  Three suppressions: the [quality] note on
# the pull request and the Plane comment, an executor_quality_warning
fx workitem '{"name": "Out of quota", "state": "Ready for AI", "labels": ["repo: demo", "task-kind: goal", "broke"], "description_html": "<p>Change something without credits</p>"}'
fx workitem '{"name": "Erode quality", "state": "Ready for AI", "labels": ["repo: demo", "task-kind: goal", "erode"], "description_html": "<p>Change something, suppress warnings</p>"}'
check "out of credits -> Blocked" wait_for 60 is_in "Out of quota" "Blocked"
check "... the comment says blocked_classification: quota_exhausted" wait_for 20 has_comments "Out of quota" "blocked_classification: quota_exhausted" 1
check "... opc usage lists a quota_event" wait_for 10 sh -c "'$OPC' -c '$CFG' usage --kind quota_event | grep -q '^[-0-9T:]* *quota_event .*quota_exhausted'"
check "... not counted by the breaker" sh -c "'$OPC' -c '$CFG' breaker status --json | jq -e '.state == \"closed\"' >/dev/null"
check "suppressions -> In Review" wait_for 60 is_in "Erode quality" "In Review"
check "... the [quality] note on the Plane comment" wait_for 20 has_comments "Erode quality" "[quality] This run added 3 quality suppressions" 1
check "... and on the pull request" sh -c "curl -s 'http://127.0.0.1:$GP/_fixture/state' | jq -e '[.pulls[] | select((.body // \"\") | contains(\"[quality] This run added 3 quality suppressions\"))] | length == 1' >/dev/null"
check "... opc usage lists the executor_quality_warning" wait_for 10 sh -c "'$OPC' -c '$CFG' usage --kind executor_quality_warning --json | jq -e '.events[0].suppression_counts == {\"noqa\": 1, \"type_ignore\": 1, \"pass\": 1}' >/dev/null"
check "opc usage --since in the future: no events" sh -c "'$OPC' -c '$CFG' usage --since 2099-01-01 | grep -qx 'no events'"
check "opc usage refuses an unknown kind" sh -c "'$OPC' -c '$CFG' usage --kind nope 2>&1 | grep -q 'unknown kind'"

# Only this deployment's repos: an item of a repo it does not configure
# is left alone (another deployment may share the project); a task-kind
# nobody runs is refused with a comment, never run as a goal
fx workitem '{"name": "Other repo", "state": "Ready for AI", "labels": ["repo: other", "task-kind: goal"], "description_html": "<p>Not ours</p>"}'
fx workitem '{"name": "Bogus kind", "state": "Ready for AI", "labels": ["repo: demo", "task-kind: bogus"], "description_html": "<p>Do a bogus thing</p>"}'
check "an unknown task-kind is Blocked" wait_for 30 is_in "Bogus kind" "Blocked"
check "... with a comment saying why" wait_for 10 has_comments "Bogus kind" unknown_task_kind 1
check "... and never run (no task.ready)" [ "$(readies "$T/st/board-sync.db" "Bogus kind")" = 0 ]

# A claim that fails half-way is finished by its owner: a 500, then a
# 429 on the claim's PATCH (after its comment), then a restart between
# the comment and the PATCH; each item runs once with one claim comment
fx fail_next '{"method": "PATCH", "status": 500, "count": 1}'
fx workitem "$(item "Strand 500")"
check "a 500 on the claim's PATCH: the claim is finished" wait_for 60 is_in "Strand 500" "In Review"
check "... one claim comment ($(comments "Strand 500" opcenter:claim))" [ "$(comments "Strand 500" opcenter:claim)" = 1 ]
check "... one task.ready" [ "$(readies "$T/st/board-sync.db" "Strand 500")" = 1 ]
fx fail_next '{"method": "PATCH", "status": 429, "count": 2, "retry_after": 1}'
fx workitem "$(item "Strand 429")"
check "429s on the claim's PATCH: sent again after Retry-After" wait_for 60 is_in "Strand 429" "In Review"
check "... one claim comment ($(comments "Strand 429" opcenter:claim))" [ "$(comments "Strand 429" opcenter:claim)" = 1 ]
fx fail_next '{"method": "PATCH", "status": 503, "count": 100000}'
fx workitem "$(item "Restarted")"
check "a claim comment is posted, its PATCH fails" wait_for 30 has_comments Restarted opcenter:claim 1
kill -9 "$(jq -r '.processes[] | select(.role=="board-sync") | .pid' "$T/st/supervisor.status.json")"
fx fail_next '{"method": "PATCH", "status": 503, "count": 0}'
check "board-sync restarted between comment and PATCH: it finishes the claim" wait_for 60 is_in "Restarted" "In Review"
check "... one claim comment ($(comments Restarted opcenter:claim))" [ "$(comments Restarted opcenter:claim)" = 1 ]
check "... one task.ready" [ "$(readies "$T/st/board-sync.db" Restarted)" = 1 ]
check "no claim left pending" [ "$(sqlite3 "$T/st/board-sync.db" 'select count(*) from plane_claim')" = 0 ]

# A proposal becomes one work item, even when the create's answer is lost
# and board-sync is killed before it records the item: the retry meets
# 409 (external_id taken) and records the existing item.
fx lose '{"count": 1}'
"$OPC" -c "$CFG" pub board-sync proposal.created '{"candidate_id": "cand-1", "repo": "demo", "title": "Proposed: tidy the README", "goal": "Tidy the README of the demo repository", "priority": "medium", "provenance": "## Proposal Provenance\n- source: autonomy\n- dedup_key: candidate|lint_fix|demo|lint_violations\n- cycle_id: dec_1"}' >/dev/null
proposed() { [ "$(plane_state | jq '[.work_items[] | select(.name == "Proposed: tidy the README")] | length')" -ge 1 ]; }
check "proposal created in Plane" wait_for 30 proposed
kill -9 "$(jq -r '.processes[] | select(.role=="board-sync") | .pid' "$T/st/supervisor.status.json")"
recorded() { [ -n "$(sqlite3 "$T/st/board-sync.db" "select work_item from proposal where candidate_id='cand-1'")" ]; }
check "recorded after the restart" wait_for 40 recorded
check "exactly one work item for the proposal" sh -c "[ \"\$(curl -s '$PLANE/_fixture/state' | jq '[.work_items[] | select(.name == \"Proposed: tidy the README\")] | length')\" = 1 ]"
check "it carries the external id and labels" sh -c "curl -s '$PLANE/_fixture/state' | jq -e '.work_items[] | select(.name == \"Proposed: tidy the README\") | select(.external_id == \"cand-1\")' >/dev/null"
check "task.created journaled" sh -c "sqlite3 '$T/st/board-sync.db' 'select topic from journal' | grep -q task.created"
# opc dependency-check's (and the executor's repair) proposals carry the
# task's kind and source: labels of the work item
"$OPC" -c "$CFG" pub board-sync proposal.created '{"candidate_id": "candidate:dependency_update:demo:node:gone:breakage@depcheck_1", "repo": "demo", "title": "Dependency maintenance: gone breakage (node, demo)", "goal": "Install gone", "kind": "improve", "source": "dependency-check", "state": "Backlog"}' >/dev/null
dep_labels() { plane_state | jq -e '[.work_items[] | select(.name == "Dependency maintenance: gone breakage (node, demo)")] | length == 1 and (.[0].labels | index("task-kind: improve") and index("source: dependency-check"))' >/dev/null; }
check "a dependency proposal: one work item, task-kind: improve, source: dependency-check" wait_for 30 dep_labels
pitem() { plane_state | jq -r '.work_items[] | select(.name == "Proposed: tidy the README") | .'"$1"; }
check "the work item has the proposal's priority" [ "$(pitem priority)" = medium ]
check "its description carries the provenance" sh -c "curl -s '$PLANE/_fixture/state' | jq -r '.work_items[] |
    select(.name == \"Proposed: tidy the README\") | .description_html' | grep -q 'Proposal Provenance'"
# the proposer's rescore: board-sync PATCHes the priority onto the item
wid=$(pitem id)
"$OPC" -c "$CFG" pub board-sync priority_rescore.promoted "{\"task_id\": \"$wid\", \"priority\": \"urgent\", \"prev_priority\": \"medium\", \"reason\": \"signal_grew\"}" >/dev/null
check "a rescore PATCHes the work item's priority" wait_for 20 sh -c "[ \"\$(curl -s '$PLANE/_fixture/state' |
    jq -r '.work_items[] | select(.id == \"$wid\") | .priority')\" = urgent ]"

# Plane answers 503 for a while: transitions wait in the outbox, none lost
fx workitem "$(item "Second change")"
check "second claimed" wait_for 30 is_in "Second change" "Running"
fx fail '{"status": 503, "count": 3}'
check "second ends In Review despite the failures" wait_for 60 is_in "Second change" "In Review"
check "backoff was logged" grep -q plane.backoff "$T/st/log/board-sync.log"
check "errors reset after recovery" wait_for 20 sh -c "'$OPC' -c '$CFG' status --json | jq -e '.\"board-sync\".status.plane.consecutive_errors == 0' >/dev/null"

# A backlog drains under the key's rate limit (10 a second here) without
# a single 429, results first; one 429 is waited out as Retry-After says
throttled0=$(counter throttled); early0=$(counter early_retries)
n=1
while [ $n -le 12 ]; do
	fx workitem "$(item "Backlog $n")"
	n=$((n + 1))
done
fx fail_next '{"method": "GET", "status": 429, "count": 1, "retry_after": 2}'
drained() { [ "$(plane_state | jq '[.work_items[] | select(.name | startswith("Backlog ")) | select(.state == "In Review")] | length')" = 12 ]; }
check "a backlog of 12 drains under the rate limit" wait_for 120 drained
check "... without a 429 from the throttle ($(($(counter throttled) - throttled0)))" [ "$(counter throttled)" = "$throttled0" ]
check "... and nothing sent before a Retry-After passed" [ "$(counter early_retries)" = "$early0" ]
check "... board-sync saw the 429 it was given" sh -c "'$OPC' -c '$CFG' status --json | jq -e '.\"board-sync\".status.plane.throttled >= 1' >/dev/null"
# by now the item of the other repo has been listed many times
check "the other repo's item is left alone: no comment" [ "$(comments "Other repo")" = 0 ]
check "... still Ready for AI" is_in "Other repo" "Ready for AI"

# Self-healing: a work item Blocked by 3 runs in a row is paused; a human
# moving it back to Ready for AI in Plane gets it Blocked again with a
# comment, no run, until `opc task resume` (last: its failures may open
# the breaker, 4 of the last 5 runs)
API="$PLANE/api/v1/workspaces/ws/projects/$PROJ"
ready_state=$(curl -s -H "X-API-Key: planekey2" "$API/states/" | jq -r '.results[] | select(.name == "Ready for AI") | .id')
nready() { [ "$(readies "$T/st/board-sync.db" "$1")" = "$2" ]; }
to_ready() { # a human moves NAME to Ready for AI
	curl -s -X PATCH -H "X-API-Key: planekey2" -H "Content-Type: application/json" \
	    "$API/work-items/$(item_id "$1")/" -d "{\"state\": \"$ready_state\"}" >/dev/null
}
fx workitem '{"name": "Keeps failing", "state": "Ready for AI", "labels": ["repo: demo", "task-kind: goal", "fails"], "description_html": "<p>Change something, fail</p>"}'
check "self-healing: first run Blocked" wait_for 60 is_in "Keeps failing" "Blocked"
to_ready "Keeps failing"
check "... a second run" wait_for 60 nready "Keeps failing" 2
check "... Blocked again" wait_for 60 is_in "Keeps failing" "Blocked"
check "... 2 result comments" wait_for 30 has_comments "Keeps failing" "success: false" 2
to_ready "Keeps failing"
check "... the third run Blocked: the original's comment" \
    wait_for 60 has_comments "Keeps failing" "[Improve] Repeated-block self-healing triggered" 1
check "... and its event" sh -c "sqlite3 '$T/st/board-sync.db' 'select topic from journal' | grep -q self_healing.repeated_block"
check "... and its log line" grep -q '"event":"self_healing_repeated_block"' "$T/st/log/board-sync.log"
check "... Blocked" wait_for 30 is_in "Keeps failing" "Blocked"
to_ready "Keeps failing"
check "paused: a move to Ready for AI is put back to Blocked, saying why" \
    wait_for 60 has_comments "Keeps failing" "self_healing_paused" 1
check "... Blocked" wait_for 30 is_in "Keeps failing" "Blocked"
check "... and not run (3 task.ready)" [ "$(readies "$T/st/board-sync.db" "Keeps failing")" = 3 ]
"$OPC" -c "$CFG" task show "$(item_id "Keeps failing")" >"$T/heal.out" 2>&1
check "task show on Plane: classification, reason, pause" sh -c \
    "grep -q '^  classification: ' '$T/heal.out' && grep -q '^  reason: ' '$T/heal.out' && grep -q 'PAUSED' '$T/heal.out'"
"$OPC" -c "$CFG" task resume "$(item_id "Keeps failing")" >"$T/resume.out" 2>&1
check "opc task resume lifts the pause" grep -q "resumed" "$T/resume.out"
to_ready "Keeps failing"
check "... the next move runs it again (4 task.ready)" \
    wait_for 60 nready "Keeps failing" 4

"$OPC" -c "$CFG" down >/dev/null 2>&1

# two board-sync instances on one Plane project, their keys in different
# zones (UTC, Asia/Kolkata): each item is claimed once (the earliest
# claim comment wins, compared as instants), the loser's comment goes
fx workitem "$(item Race)"
sed -e "s|state_dir: st|state_dir: st3|" \
    -e "s|  board-sync: { board: plane|  board-sync@a: { board: plane|" "$CFG" >"$T/two.yaml"
cat >>"$T/two.yaml" <<YAML
  board-sync@b: { board: plane, poll_interval: 500ms, upstreams: [router, executor],
                  plane: { api_token_env: PLANE_TOKEN_B } }
YAML
sed -i -e "s|upstreams: \[board-sync, executor\]|upstreams: [board-sync@a, board-sync@b, executor]|" \
    -e "s|upstreams: \[router, executor, board-sync\]|upstreams: [router, executor, board-sync@a, board-sync@b]|" "$T/two.yaml"
"$OPC" -c "$T/two.yaml" up --wait 20 >/dev/null 2>&1
check "raced item ends In Review" wait_for 60 is_in Race "In Review"
readies=0
for b in a b; do
	n=$(readies "$T/st3/board-sync@$b.db" Race)
	readies=$((readies + n))
done
check "task.ready journaled once across both instances ($readies)" [ "$readies" = 1 ]
check "one run in that constellation" [ "$(sqlite3 "$T/st3/executor.db" "select count(*) from erun")" = 1 ]
check "exactly one instance claimed it" sh -c "[ \"\$(cat '$T'/st3/log/board-sync@*.log | grep -c '\"event\":\"plane.claim\"')\" = 1 ]"
check "one claim comment is left on it ($(comments Race opcenter:claim))" wait_for 10 has_comments Race opcenter:claim 1
"$OPC" -c "$T/two.yaml" down >/dev/null 2>&1

# a forwarded webhook (board.webhook) refreshes at once, whatever the
# poll interval; a task then costs 6 requests (1 listing, 3 claim, 2
# result) and an idle board none; per_page above Plane's 1000 is clamped
sed -e "s|state_dir: st|state_dir: st4|" -e "s|poll_interval: 500ms|poll_interval: 1h|" \
    -e "s|per_page: 100|per_page: 5000\n  claim_ttl: 3s|" "$CFG" >"$T/hook.yaml"
"$OPC" -c "$T/hook.yaml" up --wait 20 >/dev/null 2>&1
first_cycle() { "$OPC" -c "$T/hook.yaml" status --json | jq -e '."board-sync".status.plane.cycles >= 1'; }
check "first poll done" wait_for 20 first_cycle
check "per_page 5000 is clamped to Plane's 1000" grep -q 'plane.per_page 5000' "$T/st4/log/board-sync.log"
fx workitem "$(item Hooked)"
idle0=$(counter api_requests)
sleep 2
check "no poll before the webhook" is_in Hooked "Ready for AI"
check "... an idle board costs no request ($(($(counter api_requests) - idle0)))" [ "$(counter api_requests)" = "$idle0" ]
"$OPC" -c "$T/hook.yaml" pub board-sync board.webhook '{"event": "issue", "delivery_id": "d-1"}' >/dev/null
check "the webhook makes it claimed and run" wait_for 30 is_in Hooked "In Review"
cost=$(($(counter api_requests) - idle0))
check "... in 6 requests ($cost)" [ "$cost" -le 6 ]
# an orphan: another instance's claim comment that was never finished
# outranks every later claim only for claim_ttl (3 s here); each claim
# that loses to it deletes its comment
fx workitem "{\"name\": \"Orphaned\", \"state\": \"Ready for AI\", \"labels\": [\"repo: demo\", \"task-kind: goal\"], \"description_html\": \"<p>Orphaned</p>\", \"comments\": [\"<p>Claimed by opcenter (board-sync@gone)</p><!-- opcenter:claim:board-sync@gone:n-1 -->\"]}"
"$OPC" -c "$T/hook.yaml" pub board-sync board.webhook '{"event": "issue", "delivery_id": "d-2"}' >/dev/null
check "an orphaned claim is superseded after claim_ttl" wait_for 40 is_in Orphaned "In Review"
check "... one claim comment of ours left ($(comments Orphaned opcenter:claim:board-sync:))" [ "$(comments Orphaned opcenter:claim:board-sync:)" = 1 ]
check "... the orphan is not deleted by another instance" [ "$(comments Orphaned board-sync@gone)" = 1 ]
"$OPC" -c "$T/hook.yaml" down >/dev/null 2>&1

# A project without a state board-sync moves items to (Plane's defaults,
# plus Ready for AI and In Review; plane.states maps Running to Plane's
# "In Progress"; no Blocked): nothing is claimed, no state name is sent,
# status and doctor say so, one board.misconfigured is escalated (not
# again after a restart); once a human makes the state, it runs
PROJ2=22222222-2222-2222-2222-222222222222
cat >"$T/seed2.json" <<JSON
{"states": [{"name": "Backlog", "group": "backlog", "default": true},
 {"name": "Todo", "group": "unstarted"}, {"name": "Ready for AI", "group": "unstarted"},
 {"name": "In Progress", "group": "started"}, {"name": "In Review", "group": "started"},
 {"name": "Done", "group": "completed"}, {"name": "Cancelled", "group": "cancelled"}],
 "work_items": [$(item "Needs Blocked")]}
JSON
"$BIN/opc-fixture-plane" --port-file "$T/plane2.port" --api-key planekey \
    --workspace ws --project $PROJ2 --seed "$T/seed2.json" --rate-limit 10/second \
    2>"$T/plane2.err" &
fxpids="$fxpids $!"
check "second fixture listening" wait_for 10 sh -c "[ -s '$T/plane2.port' ]"
PLANE2="http://127.0.0.1:$(cat "$T/plane2.port")"
sed -e "s|state_dir: st|state_dir: st5|" -e "s|$PLANE|$PLANE2|" -e "s|$PROJ|$PROJ2|" \
    -e "s|  rate_limit: 10/second|  rate_limit: 10/second\n  states: { running: In Progress }|" "$CFG" >"$T/miss.yaml"
cat >>"$T/miss.yaml" <<YAML
  escalator: { upstreams: [board-sync] }
YAML
"$OPC" -c "$T/miss.yaml" up --wait 20 >/dev/null 2>&1
misconfigured() { "$OPC" -c "$T/miss.yaml" status --json | jq -e '."board-sync".status.plane | .state == "misconfigured" and .missing_states == ["Blocked"]'; }
check "a missing state: status misconfigured, naming it" wait_for 20 misconfigured
sleep 2
n2() { curl -s "$PLANE2/_fixture/state" | jq --arg n "$1" '[.work_items[] | select(.name == $n) | .comments[]] | length'; }
check "... nothing claimed: no comment" [ "$(n2 "Needs Blocked")" = 0 ]
check "... opc status says why" sh -c "'$OPC' -c '$T/miss.yaml' status | grep 'board-sync' | grep -q 'plane misconfigured: the project lacks state(s) \[\"Blocked\"\]'"
"$OPC" -c "$T/miss.yaml" doctor >"$T/doctor2.out" 2>&1
check "... opc doctor fails" [ $? -eq 1 ]
check "... naming the state" grep -q 'FAIL  plane states: the project lacks "Blocked"' "$T/doctor2.out"
kill -9 "$(jq -r '.processes[] | select(.role=="board-sync") | .pid' "$T/st5/supervisor.status.json")"
sleep 1
check "... still misconfigured after a restart" wait_for 20 misconfigured
check "... one board.misconfigured journaled" [ "$(sqlite3 "$T/st5/board-sync.db" "select count(*) from journal where topic = 'board.misconfigured'")" = 1 ]
check "... one escalation" wait_for 10 sh -c "[ \"\$(sqlite3 '$T/st5/escalator.db' \"select count(*) from esc where kind = 'board_misconfigured'\")\" = 1 ]"
curl -s -X POST -H "X-API-Key: planekey" -H "Content-Type: application/json" \
    "$PLANE2/api/v1/workspaces/ws/projects/$PROJ2/states/" \
    -d '{"name": "Blocked", "color": "#EF4444", "group": "started"}' >/dev/null
"$OPC" -c "$T/miss.yaml" pub board-sync board.webhook '{"event": "issue", "delivery_id": "d-3"}' >/dev/null
st2() { [ "$(curl -s "$PLANE2/_fixture/state" | jq -r --arg n "$1" '.work_items[] | select(.name == $n) | .state')" = "$2" ]; }
check "the state made: the item runs (through In Progress)" wait_for 60 st2 "Needs Blocked" "In Review"
check "... status ok again" sh -c "'$OPC' -c '$T/miss.yaml' status --json | jq -e '.\"board-sync\".status.plane.state == \"ok\"' >/dev/null"
check "... no PATCH was ever refused" sh -c "! grep -q 'HTTP 400' '$T/st5/log/board-sync.log'"
"$OPC" -c "$T/miss.yaml" down >/dev/null 2>&1

# a refused key: degraded and reported, not a crash loop
sed -e 's/PLANE_TOKEN/BAD_TOKEN/' -e "s|state_dir: st|state_dir: st2|" "$CFG" >"$T/bad.yaml"
BAD_TOKEN=wrong "$OPC" -c "$T/bad.yaml" up --wait 20 >/dev/null 2>&1
check "credential.invalid journaled" wait_for 20 sh -c "sqlite3 '$T/st2/board-sync.db' 'select topic from journal' | grep -q credential.invalid"
check "status says degraded" sh -c "'$OPC' -c '$T/bad.yaml' status --json | jq -e '.\"board-sync\".status.plane.state == \"degraded\"' >/dev/null"
sleep 2
check "no crash loop" sh -c "'$OPC' -c '$T/bad.yaml' status --json | jq -e '.\"board-sync\".restart_count == 0' >/dev/null"
"$OPC" -c "$T/bad.yaml" down >/dev/null 2>&1
finish
