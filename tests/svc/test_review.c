/*
 * test_review.c - review feedback end to end in-process: the proposer
 * proposes, board-sync makes the task, a run's pull request (opened on a
 * real opc-fixture-github) gets human reviews and comments, board-sync
 * fetches them over GitHub's REST API (paginated) when ci.pr_review
 * arrives and journals review.feedback; the proposer keeps the patterns
 * per repo:family (proposer.patterns), a human's close without merge
 * rejects the task's dedup key, and the next proposal of a family with
 * patterns carries them in its goal.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "opc/http.h"
#include "opc/log.h"
#include "proposer.h"
#include "tb_http.h"
#include "testbed.h"

#define WAIT TB_WAIT_MS
#define TOKEN "ghp_review_test_token"
#define LINT_KEY "candidate|lint_fix|demo|lint_violations"

extern const struct svc_def board_def;

struct fx {
	char          *dir;
	struct topo   *topo;
	struct tb_svc *bs, *p;
	pid_t          gh;
	int            port;
};

static void
gh_start(struct fx *f)
{
	char        bin[512], portfile[512], log[512];
	const char *argv[] = { bin, "--port-file", portfile, "--token", TOKEN,
		NULL };

	snprintf(bin, sizeof(bin), "%s/opc-fixture-github", OPC_BIN_DIR);
	snprintf(portfile, sizeof(portfile), "%s/gh.port", f->dir);
	snprintf(log, sizeof(log), "%s/gh.log", f->dir);
	f->gh = tb_fixture((char *const *) argv, log, portfile, &f->port);
}

/* gh_call sends method path body to the fixture; returns the JSON
 * answer (new; NULL when none) and asserts the status. */
static json_t *
gh_call(
    struct fx *f, const char *method, const char *path, json_t *body, int want)
{
	static const char *const hdrs[] = { "Authorization: Bearer " TOKEN,
		NULL };

	return (tb_http(f->port, method, path, hdrs, body, want));
}

static void
feedback(struct fx *f, int pr, const char *kind, const char *user,
    const char *type, const char *body, const char *state)
{
	json_decref(gh_call(f, "POST", "/_fixture/pull_feedback",
	    json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s*}", "repo",
	        "acme/demo", "number", pr, "kind", kind, "user", user,
	        "user_type", type, "body", body, "state", state),
	    201));
}

static void
fx_start(struct fx *f)
{
	char *yaml;

	memset(f, 0, sizeof(*f));
	f->dir = tb_dir();
	gh_start(f);
	setenv("TEST_REVIEW_TOKEN", TOKEN, 1);
	yaml    = xasprintf("opcenter:\n"
	                       "  state_dir: %s/state\n"
	                       "  heartbeat_ms: 50\n"
	                       "git:\n"
	                       "  token_env: TEST_REVIEW_TOKEN\n"
	                       "github:\n"
	                       "  api_url: http://127.0.0.1:%d\n"
	                       "repos:\n"
	                       "  demo:\n"
	                       "    clone_url: %s/demo.git\n"
	                       "    github_repo: acme/demo\n"
	                       "instances:\n"
	                       "  board-sync:\n"
	                       "    upstreams: [proposer]\n"
	                       "    pub: inproc://rv-bs.pub\n"
	                       "    ctl: inproc://rv-bs.ctl\n"
	                       "    board: local\n"
	                       "    idle_ms: 20\n"
	                       "    catchup_grace_ms: 50\n"
	                       "    review_fetch_delay: 50ms\n"
	                       "  proposer:\n"
	                       "    upstreams: [board-sync]\n"
	                       "    pub: inproc://rv-prop.pub\n"
	                       "    ctl: inproc://rv-prop.ctl\n"
	                       "    idle_ms: 20\n"
	                       "    catchup_grace_ms: 50\n"
	                       "    cooldown: 1ms\n",
	       f->dir, f->port, f->dir);
	f->topo = tb_topo(f->dir, yaml);
	free(yaml);
	f->p  = tb_start(&proposer_def, f->topo, "proposer");
	f->bs = tb_start(&board_def, f->topo, "board-sync");
}

static void
fx_stop(struct fx *f)
{
	tb_stop(&f->bs);
	tb_stop(&f->p);
	topo_close(&f->topo);
	tb_fixture_stop(&f->gh);
	tb_rmrf(f->dir);
	free(f->dir);
}

static void
insight(struct fx *f, const char *kind, const char *subject, json_t *ev)
{
	char *dk = xasprintf("%s|%s", kind, subject);
	char *id = xasprintf("%s:%s", kind, subject);

	tb_inject(f->topo, "proposer", "insight.derived", "demo",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s}", "insight_id", id,
	        "repo", "demo", "kind", kind, "dedup_key", dk, "subject",
	        subject, "evidence", ev, "run_id", "ins_1"));
	free(dk);
	free(id);
}

static json_t *
ctl(struct fx *f, enum msg_topic t, json_t *rq)
{
	json_t *d = NULL;
	char    err[256];

	if (tb_call_json(f->topo, "proposer", t, rq, &d, err, sizeof(err)) !=
	    0)
		fail_msg("proposer ctl: %s", err);
	json_decref(rq);
	return (d);
}

/* caught_up waits until the proposer has applied every event board-sync
 * journaled. */
static void
caught_up(struct fx *f)
{
	int64_t seq = tb_status_int(f->topo, "board-sync", "journal_seq");

	assert_int_equal(tb_wait_int(f->topo, "proposer",
	                     "upstreams.board-sync.cursor", seq, WAIT),
	    seq);
}

static void
test_review_feedback(void **state)
{
	struct fx   f;
	json_t     *pr, *ev, *d, *prop;
	const char *url, *goal;
	int         n, i;
	int64_t     t0 = mono_ms();

	UNUSED(state);
	fx_start(&f);
	/* a lint_fix proposal becomes task T-1 */
	insight(&f, "lint_drift", "lint",
	    json_pack("{s:i, s:i, s:i, s:[{s:s, s:i}]}", "count", 25,
	        "distinct_file_count", 3, "delta", 0, "top_files", "path",
	        "src/a.py", "count", 20));
	tb_inject(f.topo, "proposer", "insight.run", "demo",
	    json_pack("{s:s, s:s, s:i}", "run_id", "ins_1", "repo", "demo",
	        "count", 1));
	json_decref(
	    ctl(&f, MSG_PROPOSER_CYCLE_NOW, json_pack("{s:b}", "execute", 1)));
	ev = tb_wait_events(f.topo, "board-sync", "task.created", 1, WAIT);
	assert_string_equal(tb_str(ev, "0.body.task_id"), "T-1");
	json_decref(ev);
	caught_up(&f);

	/* its run opened a pull request on GitHub */
	pr  = gh_call(&f, "POST", "/repos/acme/demo/pulls",
	     json_pack("{s:s, s:s, s:s}", "title", "Fix lint", "head",
	         "goal/T-1-lint", "base", "main"),
	     201);
	n   = (int) json_integer_value(json_object_get(pr, "number"));
	url = json_string_value(json_object_get(pr, "html_url"));
	tb_inject(f.topo, "board-sync", "exec.finished", "T-1",
	    json_pack("{s:s, s:s, s:s, s:b, s:s, s:s}", "run_id", "run-1",
	        "task_id", "T-1", "status", "succeeded", "success", 1,
	        "branch_name", "goal/T-1-lint", "pull_request_url", url));
	json_decref(pr);

	/* humans review it; a bot, the PR's author (opcenter-bot) and an
	 * approval count for nothing */
	feedback(&f, n, "review", "alice", "User",
	    "Please add tests for this change.", "CHANGES_REQUESTED");
	feedback(&f, n, "review", "bob", "User", "LGTM", "APPROVED");
	feedback(&f, n, "review_comment", "alice", "User",
	    "nit: naming is inconsistent here", NULL);
	feedback(&f, n, "issue_comment", "ci-helper[bot]", "Bot",
	    "Tests are failing", NULL);
	feedback(&f, n, "issue_comment", "opcenter-bot", "User",
	    "Added the tests, this is not too large.", NULL);
	for (i = 0; i < 101; i++) /* two pages of 100 */
		feedback(&f, n, "issue_comment", "carol", "User",
		    "This is too large, please split it.", NULL);
	tb_inject(f.topo, "board-sync", "ci.pr_review", NULL,
	    json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s}", "repo",
	        "acme/demo", "pr_number", n, "kind", "review", "action",
	        "submitted", "state", "changes_requested", "sender", "alice",
	        "sender_type", "User"));
	ev = tb_wait_events(f.topo, "board-sync", "review.feedback", 1, WAIT);
	assert_int_equal(json_array_size(ev), 1);
	assert_string_equal(tb_str(ev, "0.body.task_id"), "T-1");
	assert_string_equal(tb_str(ev, "0.body.family"), "lint_fix");
	assert_string_equal(tb_str(ev, "0.body.repo_key"), "demo");
	assert_int_equal(tb_int(ev, "0.body.comments"), 103);
	assert_int_equal(tb_int(ev, "0.body.patterns.scope_too_large"), 101);
	assert_int_equal(tb_int(ev, "0.body.patterns.missing_tests"), 1);
	assert_int_equal(tb_int(ev, "0.body.patterns.style"), 1);
	assert_int_equal(tb_int(ev, "0.body.patterns.changes_requested"), 1);
	assert_null(tb_get(ev, "0.body.fetch_error"));
	json_decref(ev);
	caught_up(&f);
	d = ctl(&f, MSG_PROPOSER_PATTERNS, json_object());
	assert_int_equal(
	    tb_int(d, "patterns.demo:lint_fix.patterns.scope_too_large"), 101);
	assert_int_equal(
	    tb_int(d, "patterns.demo:lint_fix.patterns.missing_tests"), 1);
	assert_non_null(
	    tb_str(d, "patterns.demo:lint_fix.last_seen.missing_tests"));
	json_decref(d);

	/* the same review again: nothing new to count, nothing journaled */
	tb_inject(f.topo, "board-sync", "ci.pr_review", NULL,
	    json_pack("{s:s, s:i, s:s, s:s, s:s}", "repo", "acme/demo",
	        "pr_number", n, "kind", "review_comment", "sender", "alice",
	        "sender_type", "User"));
	assert_int_equal(
	    tb_wait_int(f.topo, "board-sync", "review_fetches", 0, WAIT), 0);

	/* alice closes it unmerged: the key is rejected for good */
	json_decref(gh_call(&f, "PATCH", "/repos/acme/demo/pulls/1",
	    json_pack("{s:s}", "state", "closed"), 200));
	tb_inject(f.topo, "board-sync", "ci.pr_event", NULL,
	    json_pack("{s:s, s:s, s:i, s:b, s:s, s:s, s:s}", "repo",
	        "acme/demo", "action", "closed", "pr_number", n, "merged", 0,
	        "head_ref", "goal/T-1-lint", "sender", "alice", "sender_type",
	        "User"));
	ev = tb_wait_events(f.topo, "board-sync", "review.feedback", 2, WAIT);
	assert_int_equal(json_array_size(ev), 2);
	assert_true(json_is_true(tb_get(ev, "1.body.closed_unmerged")));
	assert_string_equal(tb_str(ev, "1.body.closed_by"), "alice");
	assert_int_equal(tb_int(ev, "1.body.comments"), 0);
	json_decref(ev);
	caught_up(&f);
	d = ctl(&f, MSG_PROPOSER_REJECTIONS, json_object());
	assert_string_equal(tb_str(d, "rejections.0.dedup_key"), LINT_KEY);
	assert_string_equal(tb_str(d, "rejections.0.task_id"), "T-1");
	assert_non_null(strstr(tb_str(d, "rejections.0.reason"),
	    "closed without merge by alice"));
	json_decref(d);
	d = ctl(&f, MSG_PROPOSER_PATTERNS,
	    json_pack("{s:s, s:s}", "repo", "demo", "family", "lint_fix"));
	assert_int_equal(
	    tb_int(d, "patterns.demo:lint_fix.patterns.closed_unmerged"), 1);
	json_decref(d);

	/* a type_fix task's reviews said "tests": the next type_fix
	 * proposal says so in its goal (lint_fix stays rejected) */
	tb_inject(f.topo, "proposer", "review.feedback", "T-9",
	    json_pack("{s:s, s:s, s:s, s:{s:i}}", "task_id", "T-9", "repo_key",
	        "demo", "family", "type_fix", "patterns", "missing_tests", 2));
	insight(&f, "type_health", "type",
	    json_pack("{s:i, s:i}", "count", 5, "distinct_file_count", 2));
	d = ctl(&f, MSG_PROPOSER_CYCLE_NOW,
	    json_pack("{s:b, s:s}", "execute", 1, "repo", "demo"));
	json_decref(d);
	ev   = tb_events(f.topo, "proposer", "proposal.created");
	prop = json_array_get(ev, json_array_size(ev) - 1);
	assert_string_equal(tb_str(prop, "body.family"), "type_fix");
	goal = tb_str(prop, "body.goal");
	assert_non_null(strstr(goal,
	    "## Reviewer feedback on earlier type_fix proposals in demo"));
	assert_non_null(strstr(goal, "- missing_tests (2, last "));
	assert_null(strstr(goal, "scope_too_large"));
	json_decref(ev);
	d = ctl(&f, MSG_PROPOSER_REJECTIONS, json_object());
	assert_int_equal(json_array_size(json_object_get(d, "rejections")), 1);
	json_decref(d);
	print_message(
	    "review feedback: %lld ms\n", (long long) (mono_ms() - t0));
	fx_stop(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_review_feedback),
	};

	log_init("test_review", NULL, LOG_WARN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
