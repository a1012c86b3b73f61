#!/bin/sh
# test_ops.sh BIN_DIR: the operator's diagnostics of issue 17, on the
# local board and on Plane (opc-fixture-plane):
#   heartbeat-check is fresh within the original's 5 minutes by default
#   (--max-age still overrides; a bad one is refused);
#   doctor prints Plane's base URL, workspace and project, the API user
#   (users/me) and each endpoint, and with --task-id checks that work
#   item (an unknown one fails with 404); on the local board, that task;
#   outcomes recorded by hand (opc proposals feedback record) are graded
#   with the original's calibration cut-offs; opc smoke fetches a work
#   item and comments on it, running nothing, its evidence retained.
set -u
BIN=$1
OPC="$BIN/opc"
. "$(dirname "$0")/lib.sh"
CFG=$T/opcenter.yaml
fxpid=""
trap 'cleanup "$CFG"; [ -n "$fxpid" ] && kill $fxpid 2>/dev/null' EXIT

PROJ=11111111-1111-1111-1111-111111111111
# the project has the states board-sync moves items to
echo '{"states": [{"name": "Backlog", "group": "backlog", "default": true},
 {"name": "Todo", "group": "unstarted"}, {"name": "Ready for AI", "group": "unstarted"},
 {"name": "Running", "group": "started"}, {"name": "In Review", "group": "started"},
 {"name": "Blocked", "group": "started"}, {"name": "Done", "group": "completed"},
 {"name": "Cancelled", "group": "cancelled"}]}' >"$T/seed.json"
"$BIN/opc-fixture-plane" --port-file "$T/plane.port" --api-key planekey \
    --workspace ws --project $PROJ --seed "$T/seed.json" 2>"$T/plane.err" &
fxpid=$!
check "plane fixture listening" wait_for 10 test -s "$T/plane.port"
PLANE="http://127.0.0.1:$(cat "$T/plane.port")"
wid=$(curl -s -X POST "$PLANE/_fixture/workitem" \
    -d '{"name": "Smoke me", "state": "Todo", "labels": ["repo: demo"]}' |
    jq -r .id)
export PLANE_TOKEN=planekey

# --- Plane: opc doctor (no constellation needed: it asks Plane) --------
cat >"$T/plane.yaml" <<YAML
opcenter: { state_dir: pst }
plane: { base_url: $PLANE, api_token_env: PLANE_TOKEN, workspace_slug: ws,
         project_id: $PROJ }
repos: { demo: { clone_url: $T/demo, default_branch: main } }
instances:
  board-sync: { board: plane }
YAML
"$OPC" -c "$T/plane.yaml" doctor --task-id "$wid" >"$T/pd.out" 2>&1
check "plane doctor --task-id: exit 0" [ $? -eq 0 ]
check "plane doctor: base URL, workspace, project" grep -qF \
    "ok    plane: base URL $PLANE, workspace ws, project $PROJ" "$T/pd.out"
check "plane doctor: users/me answers" grep -qF \
    "ok    plane identity: HTTP 200 (GET /api/v1/users/me/)" "$T/pd.out"
check "plane doctor: the API user's name and email" grep -qF \
    "ok    plane API user: opcenter-bot <bot@opcenter.test>" "$T/pd.out"
check "plane doctor: project endpoint" grep -qF \
    "ok    plane project: HTTP 200 (GET /api/v1/workspaces/ws/projects/$PROJ/)" "$T/pd.out"
check "plane doctor: work-item endpoint" grep -q \
    "^ok    plane work items: HTTP 200 (GET .*/work-items/?per_page=1)" "$T/pd.out"
check "plane doctor: the task's work item" grep -qF \
    "ok    plane work item $wid: \"Smoke me\" in Todo" "$T/pd.out"
check "plane doctor: the task's comments" grep -q \
    "^ok    plane work item comments: HTTP 200" "$T/pd.out"
"$OPC" -c "$T/plane.yaml" doctor --task-id 22222222-2222-2222-2222-222222222222 >"$T/pd2.out" 2>&1
check "plane doctor: an unknown work item fails" [ $? -eq 1 ]
check "... with Plane's 404" grep -q \
    "^FAIL  plane work item: HTTP 404 (not found) (GET .*/work-items/22222222-2222-2222-2222-222222222222/" "$T/pd2.out"
PLANE_TOKEN=wrong "$OPC" -c "$T/plane.yaml" doctor >"$T/pd3.out" 2>&1
check "plane doctor: a refused key says so" grep -q \
    "^FAIL  plane identity: HTTP 403 (API key refused)" "$T/pd3.out"
check "doctor --task-id without an id is a usage error" sh -c \
    "! '$OPC' -c '$T/plane.yaml' doctor --task-id 2>/dev/null"

# --- Plane: opc smoke (fetch and comment, nothing run) -----------------
jqe() { jq -e "$@" >/dev/null; }
comments_of() { curl -s "$PLANE/_fixture/state" | jq --arg id "$1" \
    '[.work_items[] | select(.id == $id) | .comments[]] | length'; }
state_of() { curl -s "$PLANE/_fixture/state" | jq -r --arg id "$1" \
    '.work_items[] | select(.id == $id) | .state'; }
"$OPC" -c "$T/plane.yaml" smoke --task-id "$wid" --comment-only >"$T/ps.out" 2>"$T/ps.err"
check "plane smoke --comment-only: exit 0" [ $? -eq 0 ]
check "... one comment posted" [ "$(comments_of "$wid")" = 1 ]
check "... saying nothing was run" sh -c "curl -s '$PLANE/_fixture/state' | jq -r '.work_items[].comments[].comment_html' | grep -q 'nothing was run'"
check "... the item stays in Todo" [ "$(state_of "$wid")" = Todo ]
check "... prints run_id, task_id, parsed_task, artifacts" jqe --arg id "$wid" \
    '.task_id == $id and (.run_id | length) == 36 and .parsed_task.title == "Smoke me" and .parsed_task.repo_key == "demo" and (.artifacts | length) == 3' "$T/ps.out"
sdir=$(ls -d "$T"/pst/reports/smoke/*_"$wid"_* 2>/dev/null | head -1)
check "... retained in reports/smoke/<ts>_<task>_<run>/" sh -c "[ -s '$sdir/request_context.json' ] && [ -s '$sdir/plane_work_item.json' ] && [ -s '$sdir/smoke_result.json' ]"
check "... the work item as Plane gave it" jqe '.name == "Smoke me" and .state.name == "Todo"' "$sdir/plane_work_item.json"
"$OPC" -c "$T/plane.yaml" smoke --task-id "$wid" --comment-text "hello from smoke" >/dev/null 2>&1
check "plane smoke (runnable item): exit 0, a second comment" [ "$(comments_of "$wid")" = 2 ]
check "... with the text given" sh -c "curl -s '$PLANE/_fixture/state' | jq -r '.work_items[].comments[].comment_html' | grep -q 'hello from smoke'"
nid=$(curl -s -X POST "$PLANE/_fixture/workitem" \
    -d '{"name": "No repo", "state": "Todo", "labels": ["team: x"]}' | jq -r .id)
"$OPC" -c "$T/plane.yaml" smoke --task-id "$nid" >/dev/null 2>&1
check "plane smoke: an item opcenter could not run fails" [ $? -eq 1 ]
check "... before commenting" [ "$(comments_of "$nid")" = 0 ]
check "... failure.json names the stage" sh -c "jq -e '.stage == \"parse\" and .error == \"no repo: label\"' '$T'/pst/reports/smoke/*_${nid}_*/failure.json >/dev/null"
"$OPC" -c "$T/plane.yaml" smoke --task-id "$nid" --comment-only >/dev/null 2>&1
check "... --comment-only comments all the same" [ "$(comments_of "$nid")" = 1 ]
"$OPC" -c "$T/plane.yaml" smoke --task-id 22222222-2222-2222-2222-222222222222 >"$T/ps2.out" 2>&1
check "plane smoke: an unknown item fails at fetch (404)" grep -q "fetch: GET work item: HTTP 404" "$T/ps2.out"
check "smoke refuses an id that is no task id" sh -c "! '$OPC' -c '$T/plane.yaml' smoke --task-id ../x 2>/dev/null"

# --- local board: heartbeat-check and doctor --task-id -----------------
mkrepo demo
cat >"$CFG" <<YAML
opcenter: { state_dir: st, heartbeat_ms: 250 }
repos: { demo: { clone_url: $T/demo, default_branch: main } }
instances:
  board-sync: { upstreams: [] }
  proposer: { upstreams: [board-sync] }
YAML
"$OPC" -c "$CFG" up --wait 20 >/dev/null 2>&1
check "constellation up" wait_for 10 "$OPC" -c "$CFG" heartbeat-check --max-age 5
# stale_after_ms is 2.5 s here; the check's default is the original's 300
"$OPC" -c "$CFG" heartbeat-check >"$T/hb.out" 2>&1
check "heartbeat-check: fresh by default" [ $? -eq 0 ]
check "heartbeat-check: the default max age is 5 minutes" grep -q \
    "max age 300.0s" "$T/hb.out"
"$OPC" -c "$CFG" heartbeat-check --max-age 7 >"$T/hb2.out" 2>&1
check "heartbeat-check: --max-age overrides" grep -q "max age 7.0s" "$T/hb2.out"
"$OPC" -c "$CFG" heartbeat-check --max-age soon >"$T/hb3.out" 2>&1
check "heartbeat-check: a bad --max-age is refused" [ $? -eq 2 ]
check "... saying why" grep -q "wants seconds > 0, not 'soon'" "$T/hb3.out"

tid=$(add --repo demo --goal "Check me" --title "Check me" --state Backlog)
"$OPC" -c "$CFG" doctor --task-id "$tid" >"$T/ld.out" 2>&1
check "local doctor: the task" grep -qF \
    "ok    board task $tid: \"Check me\" in Backlog" "$T/ld.out"
"$OPC" -c "$CFG" doctor --task-id T-nope >"$T/ld2.out" 2>&1
check "local doctor: an unknown task fails" [ $? -eq 1 ]
check "... naming it" grep -q "^FAIL  board task T-nope: " "$T/ld2.out"

# --- local board: opc smoke -------------------------------------------
"$OPC" -c "$CFG" smoke --task-id "$tid" --comment-only >"$T/ls.out" 2>&1
check "local smoke: exit 0" [ $? -eq 0 ]
check "... a comment by smoke on the task" sh -c "'$OPC' -c '$CFG' task show '$tid' --json | jq -e '[.comments[] | select(.author == \"smoke\" and (.body | contains(\"nothing was run\")))] | length == 1' >/dev/null"
check "... the task stays in Backlog" state_is "$tid" Backlog
check "... board_task.json retained" sh -c "jq -e '.task.title == \"Check me\"' '$T'/st/reports/smoke/*_${tid}_*/board_task.json >/dev/null"
"$OPC" -c "$CFG" smoke --task-id "$tid" >/dev/null 2>&1
check "local smoke (runnable task): exit 0" [ $? -eq 0 ]
"$OPC" -c "$CFG" smoke --task-id T-nope >"$T/ls2.out" 2>&1
check "local smoke: an unknown task fails at fetch" grep -q "fetch: no task 'T-nope'" "$T/ls2.out"

# --- calibration: outcomes recorded by hand, graded ----------------------
for i in 1 2 3 4 5; do
	o=merged; [ $i -eq 5 ] && o=rejected
	"$OPC" -c "$CFG" proposals feedback record --task-id "L-$i" \
	    --outcome $o --family lint_fix --confidence high >"$T/fb.out" 2>&1
done
check "feedback record: recorded" grep -q "^L-5: rejected recorded (lint_fix, high)" "$T/fb.out"
for i in 1 2 3 4 5; do
	"$OPC" -c "$CFG" proposals feedback record --task-id "T-$i" \
	    --outcome abandoned --family type_fix --confidence medium >/dev/null 2>&1
done
"$OPC" -c "$CFG" proposals calibration >"$T/cal.out" 2>&1
check "calibration: 4 of 5 high is well calibrated, marked" grep -q \
    "^lint_fix .*high .*5 .*4 .*1.00✓  well calibrated" "$T/cal.out"
check "calibration: 0 of 5 medium is over-confident, marked" grep -q \
    "^type_fix .*medium .*0.00⚠  over-confident" "$T/cal.out"
"$OPC" -c "$CFG" proposals feedback record --task-id X --outcome escalated \
    --family lint_fix --confidence high >"$T/fb2.out" 2>&1
check "feedback record: a bad outcome is refused" [ $? -eq 1 ]
check "... saying which there are" grep -q "merged, rejected or abandoned" "$T/fb2.out"

finish
