#!/bin/sh
# test_github_path.sh BIN_DIR: GitHub the way users meet it, through the real
# daemons (supervisor, board-sync, router, executor + opc-exec-run,
# recorder, escalator) and opc-fixture-github: private repositories served
# over git's smart HTTP that ask for credentials (401, Basic, the token as
# password), the pulls API with its rate limits, and a token dated in
# Tokyo time that expires in two days.
#   - the token check meets a primary rate limit: not credential.invalid,
#     checked again when the limit lifts, then credential.expiring with
#     the zone read right; `opc doctor` says "rate limit", then warns of
#     the expiry within github.warn_days;
#   - a task is cloned, pushed and gets its pull request with the token,
#     which reaches no argv, URL, log, workspace git config or evidence;
#   - a token that may not push: the run fails with git's words on the
#     board;
#   - a secondary rate limit on the pull request is waited out; a primary
#     one that lifts in an hour leaves the task Blocked with the reason and
#     escalates; a 401 on it raises credential.invalid.
set -u
BIN=$1
OPC="$BIN/opc"
. "$(dirname "$0")/lib.sh"
CFG=$T/opcenter.yaml
fxpid=""
trap 'cleanup "$CFG"; [ -z "$fxpid" ] || kill $fxpid 2>/dev/null' EXIT

TOKEN=ghp_integrationToken0123456789
RO=ghp_readOnlyToken0123456789
mkrepo src
mkdir -p "$T/gh/acme"
for r in demo ro; do
	git init -q --bare -b main "$T/gh/acme/$r.git"
	git -C "$T/src" push -q "$T/gh/acme/$r.git" main
done
# two days and a bit, in +0900: read as UTC it would be 9 hours later
"$BIN/opc-fixture-github" --port-file "$T/gh.port" --token "$TOKEN" \
    --read-token "$RO" --git-root "$T/gh" --expires-in 190000 \
    --expires-zone +0900 2>"$T/gh.err" &
fxpid=$!
check "github fixture up" wait_for 10 test -s "$T/gh.port"
GP=$(cat "$T/gh.port")
GH=http://127.0.0.1:$GP
fx() { curl -s -X POST "$GH/_fixture/$1" -d "$2" >/dev/null; }
# every git command the daemons run goes through this, which records its
# argv and whether the token was in its environment
mkdir -p "$T/bin"
cat >"$T/bin/git" <<SH
#!/bin/sh
printf '%s|' "\${OPC_GIT_TOKEN:+TOKEN_IN_ENV}" "\$@" >>"$T/git.argv"
echo >>"$T/git.argv"
exec /usr/bin/git "\$@"
SH
chmod +x "$T/bin/git"

cat >"$CFG" <<YAML
opcenter: { state_dir: st, heartbeat_ms: 250 }
git: { token_env: GH_TOKEN }
github: { api_url: "$GH", warn_days: 7 }
repos:
  demo: { clone_url: "$GH/acme/demo.git", default_branch: main,
          github_repo: acme/demo, open_pr: true, await_review: true }
  ro:   { clone_url: "$GH/acme/ro.git", default_branch: main,
          github_repo: acme/ro, open_pr: true, token_env: RO_TOKEN }
instances:
  board-sync: { upstreams: [router, executor] }
  router:
    upstreams: [board-sync, executor]
    default: { lane: aider_local, backend: stub }
    budget: { max_per_hour: 100, max_per_day: 100, max_retries: 0, max_concurrent: 1 }
  executor:
    upstreams: [router]
    backends: { stub: { kind: stub } }
  recorder: { upstreams: [router, executor, board-sync] }
  escalator: { upstreams: [executor], urls: [] }
YAML
export GH_TOKEN=$TOKEN RO_TOKEN=$RO PATH="$T/bin:$PATH"

# --- the token check under a primary rate limit ---------------------------
fx rate_limit '{"kind": "primary", "reset_in": 6}'
"$OPC" -c "$CFG" doctor >"$T/doctor1.out" 2>&1
check "doctor: a rate limit, not a bad token" grep -q "^warn  github: primary rate limit (HTTP 403) until .*the token was not refused" "$T/doctor1.out"
check "doctor: not 'HTTP 403'" sh -c "! grep -q 'FAIL  github' '$T/doctor1.out'"
"$OPC" -c "$CFG" up --wait 20 >"$T/up.out" 2>&1
check "constellation up" is_up "$T/up.out"
gh_state() { "$OPC" -c "$CFG" status --json | jq -r '.executor.status.github.token_check'; }
topics() { sqlite3 "$T/st/executor.db" "select topic from journal" | grep -c "^$1\$"; }
# journal_has TOPIC TEXT: an executor event of TOPIC whose frame has TEXT
journal_has() { [ "$(sqlite3 "$T/st/executor.db" "select count(*) from journal where topic = '$1' and instr(frame, cast('$2' as blob)) > 0")" -ge 1 ]; }
check "token check: rate limited" wait_for 10 sh -c "[ \"\$(\"$OPC\" -c '$CFG' status --json | jq -r .executor.status.github.token_check)\" = rate_limited ]"
check "no credential.invalid for a rate limit" [ "$(topics credential.invalid)" = 0 ]
# checked again once the limit lifts (not in 24 h): the token expires in
# two days (2.2, in Tokyo time), which is within warn_days
check "checked again when the limit lifts" wait_for 15 sh -c "[ \"\$(\"$OPC\" -c '$CFG' status --json | jq -r .executor.status.github.token_check)\" = expiring ]"
check "credential.expiring journaled" [ "$(topics credential.expiring)" = 1 ]
exp_utc=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $TOKEN" "$GH/user" | tr -d '\r' | sed -n 's/^github-authentication-token-expiration: //p')
check "fixture dates the token in +0900" sh -c "echo '$exp_utc' | grep -q '+0900\$'"
want_at=$(date -u -d "$exp_utc" +%Y-%m-%dT%H:%M)
check "expires_at read with its zone ($want_at)" journal_has credential.expiring "$want_at"
"$OPC" -c "$CFG" doctor >"$T/doctor2.out" 2>&1
check "doctor warns within warn_days" grep -q "^warn  github: token expires in 2 day(s)" "$T/doctor2.out"

# --- a task pushed and its pull request opened, with the token -------------
id=$(add --repo demo --goal "Write a tiny hello-world execution artifact")
check "pushed with the token -> In Review" wait_for 60 state_is "$id" "In Review"
check "result comment names the pull request" has_comment "$id" "pull_request: $GH/acme/demo/pull/1"
branch=$(curl -s "$GH/_fixture/state" | jq -r '.pulls[0].head.ref')
check "one pull request, for the task's branch" sh -c "curl -s '$GH/_fixture/state' | jq -e '.pulls | length == 1' >/dev/null && echo '$branch' | grep -q '^opcenter/goal/$id-'"
check "the branch is on GitHub" sh -c "git --git-dir='$T/gh/acme/demo.git' rev-parse -q --verify 'refs/heads/$branch' >/dev/null"
check "git asked, and the helper answered as x-access-token" sh -c "curl -s '$GH/_fixture/state' | jq -e '[.git[] | select(.status == 401)] | length >= 2' >/dev/null && curl -s '$GH/_fixture/state' | jq -e '[.git[] | select(.status == 200) | .user] | unique == [\"x-access-token\"]' >/dev/null"
# the workspace is a clone of the repo's mirror (executor.mirror): the
# token goes to the mirror's fetch, to the ls-remote of branch safety (the
# remote's default branch) and to the push, nowhere else
check "token in the environment of the mirror's fetch, ls-remote and the push only" sh -c "[ \$(grep -c '^TOKEN_IN_ENV|' '$T/git.argv') = 3 ] && grep '^TOKEN_IN_ENV|' '$T/git.argv' | grep -q '|fetch|' && grep '^TOKEN_IN_ENV|' '$T/git.argv' | grep -q '|ls-remote|' && grep '^TOKEN_IN_ENV|' '$T/git.argv' | grep -q '|push|'"
check "token in no argv" sh -c "! grep -q '$TOKEN' '$T/git.argv'"
check "token in no log, evidence, workspace or git config" sh -c "! grep -rqa '$TOKEN' '$T/st'"
check "token in no URL GitHub saw" sh -c "! curl -s '$GH/_fixture/state' | grep -q '$TOKEN'"

# --- a token that may not push: the run fails, git's words on the board ----
id=$(add --repo ro --goal "Write a tiny hello-world execution artifact")
check "push refused -> Blocked" wait_for 60 state_is "$id" Blocked
check "classified infra_tooling" has_comment "$id" "category: infra_tooling"
check "git's message on the board" has_comment "$id" "Permission to acme/ro.git denied"

# --- pull requests and rate limits -------------------------------------------
fx rate_limit '{"kind": "secondary", "count": 1, "retry_after": 1}'
id=$(add --repo demo --goal "Write a second artifact")
check "secondary limit waited out -> In Review" wait_for 60 state_is "$id" "In Review"
check "with its pull request" has_comment "$id" "pull_request: $GH/acme/demo/pull/"
fx fail '{"status": 401, "count": 1}'
id=$(add --repo demo --goal "Write a third artifact")
check "401 on the pull request -> Blocked" wait_for 60 state_is "$id" Blocked
check "credential.invalid raised" wait_for 10 journal_has credential.invalid "opening a pull request"
fx rate_limit '{"kind": "primary", "reset_in": 3600}'
id4=$(add --repo demo --goal "Write a fourth artifact")
check "primary limit for an hour -> Blocked" wait_for 60 state_is "$id4" Blocked
check "the reason is on the board" has_comment "$id4" "pull request not opened: GitHub primary rate limit (HTTP 403) until"
check "and the branch it left" has_comment "$id4" "is pushed"
check "escalated: pull_request_failed" wait_for 10 sh -c "sqlite3 '$T/st/escalator.db' \"select kind || ' ' || key from esc\" | grep -qx 'pull_request_failed $id4'"
check "escalated: credential_invalid" sh -c "sqlite3 '$T/st/escalator.db' 'select kind from esc' | grep -qx credential_invalid"
check "no quota escalation for a pull request" sh -c "! sqlite3 '$T/st/escalator.db' 'select kind from esc' | grep -q quota_exhausted"
finish
