#!/bin/sh
# test_plane.sh BIN_DIR: board-sync in Plane mode and pull requests on
# GitHub, through the real daemons against the loopback fixtures
# opc-fixture-plane and opc-fixture-github:
#   a Ready-for-AI work item labelled repo: demo, task-kind: goal (on the
#   last of 3 pages) is claimed (Running), executed, and ends In Review
#   with a result comment and a pull request; the token's near expiry is
#   reported; Plane failing for a while costs retries, not transitions;
#   a refused API key leaves board-sync running, degraded.
set -u
BIN=$1
OPC="$BIN/opc"
. "$(dirname "$0")/lib.sh"
CFG=$T/opcenter.yaml
fxpids=""
trap 'for c in bad two hook; do "$OPC" -c "$T/$c.yaml" down >/dev/null 2>&1; done; cleanup "$CFG"; for p in $fxpids; do kill $p 2>/dev/null; done' EXIT

PROJ=11111111-1111-1111-1111-111111111111
# 250 items of someone else's, then ours: newest first puts ours on page 3
# opcenter's states next to Plane's defaults (a new Plane project has
# only Backlog, Todo, In Progress, Done and Cancelled)
STATES='[{"name": "Backlog", "group": "backlog", "default": true},
 {"name": "Todo", "group": "unstarted"}, {"name": "Ready for AI", "group": "unstarted"},
 {"name": "Running", "group": "started"}, {"name": "In Progress", "group": "started"},
 {"name": "In Review", "group": "started"}, {"name": "Blocked", "group": "started"},
 {"name": "Done", "group": "completed"}, {"name": "Cancelled", "group": "cancelled"}]'
{
	printf '{"states": %s, "work_items": [' "$STATES"
	printf '{"name": "Write a tiny hello-world execution artifact", "state": "Ready for AI",'
	printf ' "labels": ["repo: demo", "task-kind: goal"],'
	printf ' "description_html": "<p>Write a tiny hello-world execution artifact</p>"}'
	i=1
	while [ $i -le 250 ]; do
		printf ', {"name": "other %d", "state": "Backlog", "labels": ["team: x"]}' $i
		i=$((i + 1))
	done
	printf ']}\n'
} >"$T/seed.json"
"$BIN/opc-fixture-plane" --port-file "$T/plane.port" --api-key planekey \
    --workspace ws --project $PROJ --seed "$T/seed.json" \
    --rate-limit 100000/minute 2>"$T/plane.err" &
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
cat >"$CFG" <<YAML
opcenter: { state_dir: st, heartbeat_ms: 250 }
plane:
  base_url: $PLANE
  api_token_env: PLANE_TOKEN
  workspace_slug: ws
  project_id: $PROJ
  per_page: 100
git: { token_env: GH_TOKEN }
github: { api_url: "http://127.0.0.1:$GP", warn_days: 7 }
repos:
  demo: { clone_url: $T/demo, default_branch: main, await_review: true,
          open_pr: true, github_repo: acme/demo }
instances:
  board-sync: { board: plane, poll_interval: 500ms, upstreams: [router, executor] }
  router:
    upstreams: [board-sync, executor]
    rules: [{ name: asks, when: { labels_any: [asks, late] }, lane: aider_local, backend: asker }]
  executor:
    upstreams: [router]
    backends:
      stub: { kind: stub }
      asker: { kind: command, argv: [$T/asker.sh, "{prompt_file}"] }
  recorder: { upstreams: [router, executor, board-sync] }
YAML
export PLANE_TOKEN=planekey GH_TOKEN=ghtoken
"$OPC" -c "$CFG" up --wait 20 >/dev/null 2>&1
check "constellation up" wait_for 10 "$OPC" -c "$CFG" heartbeat-check --max-age 5

ours() { plane_state | jq -r '.work_items[] | select(.name | startswith("Write a tiny")) | .'"$1"; }
item_in() { [ "$(plane_state | jq -r '.work_items[] | select(.name | startswith("Write a tiny")) | .state_name // .state')" = "$1" ]; }
check "claimed from page 3 and finished In Review" wait_for 60 item_in "In Review"
comments=$(plane_state | jq -r '[.work_items[] | select(.name | startswith("Write a tiny")) | .comments[]? | .comment_html] | join("\n")')
check "claim comment posted" sh -c "echo '$comments' | grep -q 'opcenter:claim'"
check "result comment with success" sh -c "echo '$comments' | grep -q 'success: true'"
check "result comment names the pull request" sh -c "echo '$comments' | grep -q 'pull_request:'"
check "a pull request in GitHub for the task branch" sh -c "curl -s 'http://127.0.0.1:$GP/_fixture/state' | jq -e '[.pulls[]? // .pull_requests[]? | select(.head.ref | startswith(\"goal/\"))] | length == 1'"
check "PR URL in the evidence" wait_for 20 sh -c "cat '$T'/st/runs/*/result.json | jq -r .pull_request_url | grep -q '^http://127.0.0.1:$GP/acme/demo/pull/'"
check "credential.expiring for the GitHub token" wait_for 10 sh -c "sqlite3 '$T/st/executor.db' 'select topic from journal' | grep -q credential.expiring"
check "status: plane ok" sh -c "'$OPC' -c '$CFG' status --json | jq -e '.\"board-sync\".status.plane.state == \"ok\"'"

# opc doctor sees Plane and GitHub
"$OPC" -c "$CFG" doctor >"$T/doctor.out" 2>&1
check "doctor exits 0" [ $? -eq 0 ]
check "doctor: plane identity" grep -q "ok    plane identity: HTTP 200" "$T/doctor.out"
check "doctor: github identity" grep -q "github: identity opcenter-bot" "$T/doctor.out"

# awaiting_input: the backend asks a question; a human answers in Plane;
# the task runs again with the answer in its goal
fx workitem '{"name": "Ask me", "state": "Ready for AI", "labels": ["repo: demo", "task-kind: goal", "asks"], "description_html": "<p>Change something, ask first</p>"}'
ask_in() { [ "$(plane_state | jq -r '.work_items[] | select(.name == "Ask me") | .state_name // .state')" = "$1" ]; }
check "question asked -> Blocked" wait_for 60 ask_in "Blocked"
askid=$(plane_state | jq -r '.work_items[] | select(.name == "Ask me") | .id')
check "the question is in a Plane comment" sh -c "curl -s '$PLANE/_fixture/state' | jq -r '.work_items[] | select(.name == \"Ask me\") | .comments[].comment_html' | grep -q 'question: Which file'"
curl -s -X POST -H "X-API-Key: planekey" -H "Content-Type: application/json" \
    "$PLANE/api/v1/workspaces/ws/projects/$PROJ/work-items/$askid/comments/" \
    -d '{"comment_html": "<p>Use notes.txt</p>"}' >/dev/null
# Plane's issue_comment webhook says so (without it, the answer is read
# at the next plane.answer_poll)
"$OPC" -c "$CFG" pub board-sync board.webhook '{"event": "issue_comment", "delivery_id": "d-answer"}' >/dev/null
check "answered -> runs again -> In Review" wait_for 60 ask_in "In Review"
check "the answer reached the backend" sh -c "grep -l 'Use notes.txt' '$T'/st/workspaces/*/.opcenter/prompt.md >/dev/null"

# A human adds an item with a label made after board-sync read the
# labels: it waits for the labels to be read again (at once), then runs
# with that label, which routes it to the asking backend (without it,
# the stub would run it)
fx workitem '{"name": "Late label", "state": "Ready for AI", "labels": ["repo: demo", "task-kind: goal", "late"], "description_html": "<p>Change something, ask first</p>"}'
late_in() { [ "$(plane_state | jq -r '.work_items[] | select(.name == "Late label") | .state_name // .state')" = "$1" ]; }
check "an item with a label newer than the labels list waits for it" \
    wait_for 30 grep -q '"event":"plane.label"' "$T/st/log/board-sync.log"
check "then runs with that label (its lane asks -> Blocked)" wait_for 60 late_in "Blocked"

# A proposal becomes one work item, even when the create's answer is lost
# and board-sync is killed before it records the item: the retry meets
# 409 (external_id taken) and records the existing item.
fx lose '{"count": 1}'
"$OPC" -c "$CFG" pub board-sync proposal.created '{"candidate_id": "cand-1", "repo": "demo", "title": "Proposed: tidy the README", "goal": "Tidy the README of the demo repository"}' >/dev/null
proposed() { [ "$(plane_state | jq '[.work_items[] | select(.name == "Proposed: tidy the README")] | length')" -ge 1 ]; }
check "proposal created in Plane" wait_for 30 proposed
kill -9 "$(jq -r '.processes[] | select(.role=="board-sync") | .pid' "$T/st/supervisor.status.json")"
recorded() { [ -n "$(sqlite3 "$T/st/board-sync.db" "select work_item from proposal where candidate_id='cand-1'")" ]; }
check "recorded after the restart" wait_for 40 recorded
check "exactly one work item for the proposal" sh -c "[ \"\$(curl -s '$PLANE/_fixture/state' | jq '[.work_items[] | select(.name == \"Proposed: tidy the README\")] | length')\" = 1 ]"
check "it carries the external id and labels" sh -c "curl -s '$PLANE/_fixture/state' | jq -e '.work_items[] | select(.name == \"Proposed: tidy the README\") | select(.external_id == \"cand-1\")' >/dev/null"
check "task.created journaled" sh -c "sqlite3 '$T/st/board-sync.db' 'select topic from journal' | grep -q task.created"

# Plane answers 503 for a while: transitions wait in the outbox, none lost
fx workitem '{"name": "Second change", "state": "Ready for AI", "labels": ["repo: demo", "task-kind: goal"], "description_html": "<p>Write a second artifact please</p>"}'
second_in() { [ "$(plane_state | jq -r '.work_items[] | select(.name == "Second change") | .state_name // .state')" = "$1" ]; }
check "second claimed" wait_for 30 second_in "Running"
fx fail '{"status": 503, "count": 3}'
check "second ends In Review despite the failures" wait_for 60 second_in "In Review" ||
    plane_state | jq -c '.work_items[] | select(.name == "Second change") | {state_name, state}' 
check "backoff was logged" grep -q plane.backoff "$T/st/log/board-sync.log"
check "errors reset after recovery" wait_for 20 sh -c "'$OPC' -c '$CFG' status --json | jq -e '.\"board-sync\".status.plane.consecutive_errors == 0'"
"$OPC" -c "$CFG" down >/dev/null 2>&1

# two board-sync instances on one Plane project: each item is claimed
# once (the earliest claim comment wins), so it runs once
fx workitem '{"name": "Race", "state": "Ready for AI", "labels": ["repo: demo", "task-kind: goal"], "description_html": "<p>Write a raced artifact</p>"}'
sed -e "s|state_dir: st|state_dir: st3|" \
    -e "s|  board-sync: { board: plane|  board-sync@a: { board: plane|" "$CFG" >"$T/two.yaml"
cat >>"$T/two.yaml" <<YAML
  board-sync@b: { board: plane, poll_interval: 500ms, upstreams: [router, executor] }
YAML
sed -i -e "s|upstreams: \[board-sync, executor\]|upstreams: [board-sync@a, board-sync@b, executor]|" \
    -e "s|upstreams: \[router, executor, board-sync\]|upstreams: [router, executor, board-sync@a, board-sync@b]|" "$T/two.yaml"
"$OPC" -c "$T/two.yaml" up --wait 20 >/dev/null 2>&1
race_in() { [ "$(plane_state | jq -r '.work_items[] | select(.name == "Race") | .state_name // .state')" = "$1" ]; }
check "raced item ends In Review" wait_for 60 race_in "In Review"
readies=0
for b in a b; do
	n=$(sqlite3 "$T/st3/board-sync@$b.db" "select count(*) from journal where topic = 'task.ready'")
	readies=$((readies + n))
done
check "task.ready journaled once across both instances ($readies)" [ "$readies" = 1 ]
check "one run in that constellation" [ "$(sqlite3 "$T/st3/executor.db" "select count(*) from erun")" = 1 ]
check "exactly one instance claimed it" sh -c "[ \"\$(cat '$T'/st3/log/board-sync@*.log | grep -c '\"event\":\"plane.claim\"')\" = 1 ]"
"$OPC" -c "$T/two.yaml" down >/dev/null 2>&1

# a forwarded webhook (board.webhook) refreshes at once, whatever the
# poll interval
sed -e "s|state_dir: st|state_dir: st4|" -e "s|poll_interval: 500ms|poll_interval: 1h|" "$CFG" >"$T/hook.yaml"
"$OPC" -c "$T/hook.yaml" up --wait 20 >/dev/null 2>&1
first_cycle() { "$OPC" -c "$T/hook.yaml" status --json | jq -e '."board-sync".status.plane.cycles >= 1'; }
check "first poll done" wait_for 20 first_cycle
fx workitem '{"name": "Hooked", "state": "Ready for AI", "labels": ["repo: demo", "task-kind: goal"], "description_html": "<p>Write a hooked artifact</p>"}'
hook_in() { [ "$(plane_state | jq -r '.work_items[] | select(.name == "Hooked") | .state_name // .state')" = "$1" ]; }
sleep 2
check "no poll before the webhook" hook_in "Ready for AI"
"$OPC" -c "$T/hook.yaml" pub board-sync board.webhook '{"event": "issue", "delivery_id": "d-1"}' >/dev/null
check "the webhook makes it claimed and run" wait_for 30 hook_in "In Review"
"$OPC" -c "$T/hook.yaml" down >/dev/null 2>&1

# a refused key: degraded and reported, not a crash loop
sed -e 's/PLANE_TOKEN/BAD_TOKEN/' -e "s|state_dir: st|state_dir: st2|" "$CFG" >"$T/bad.yaml"
BAD_TOKEN=wrong "$OPC" -c "$T/bad.yaml" up --wait 20 >/dev/null 2>&1
check "credential.invalid journaled" wait_for 20 sh -c "sqlite3 '$T/st2/board-sync.db' 'select topic from journal' | grep -q credential.invalid"
check "status says degraded" sh -c "'$OPC' -c '$T/bad.yaml' status --json | jq -e '.\"board-sync\".status.plane.state == \"degraded\"'"
sleep 2
check "no crash loop" sh -c "'$OPC' -c '$T/bad.yaml' status --json | jq -e '.\"board-sync\".restart_count == 0'"
"$OPC" -c "$T/bad.yaml" down >/dev/null 2>&1
finish
