/*
 * test_board_sync.c - board-sync on its local board, through its real
 * descriptor in-process.
 *
 * Tasks are added and read over its ctl (board.task_*), as `opc task`
 * does; the router's and the executor's events are fed with ctl inject
 * (those upstreams exist in the topology but never run).  What it emits
 * is read back from its journal over ctl.replay.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "board.h"
#include "opc/err.h"
#include "opc/log.h"
#include "testbed.h"

#define WAIT TB_WAIT_MS

struct fx {
	char          *dir;
	struct topo   *topo;
	struct tb_svc *bs;
};

static void
fx_start(struct fx *f, const char *tag)
{
	char *yaml;

	f->dir  = tb_dir();
	yaml    = xasprintf("opcenter:\n"
	                       "  state_dir: %s/state\n"
	                       "  heartbeat_ms: 50\n"
	                       "repos:\n"
	                       "  demo:\n"
	                       "    clone_url: %s/demo.git\n"
	                       "  rev:\n"
	                       "    clone_url: %s/rev.git\n"
	                       "    await_review: true\n"
	                       "    impact_report_paths: [src/api/, "
	                       "\"docs/*.md\", lib]\n"
	                       "instances:\n"
	                       "  router:\n"
	                       "    pub: inproc://%s-router.pub\n"
	                       "    ctl: inproc://%s-router.ctl\n"
	                       "  executor:\n"
	                       "    pub: inproc://%s-ex.pub\n"
	                       "    ctl: inproc://%s-ex.ctl\n"
	                       "  board-sync:\n"
	                       "    upstreams: [router, executor]\n"
	                       "    pub: inproc://%s-bs.pub\n"
	                       "    ctl: inproc://%s-bs.ctl\n"
	                       "    board: local\n"
	                       "    idle_ms: 20\n"
	                       "    catchup_grace_ms: 50\n",
	       f->dir, f->dir, f->dir, tag, tag, tag, tag, tag, tag);
	f->topo = tb_topo(f->dir, yaml);
	free(yaml);
	f->bs = tb_start_caught_up(&board_def, f->topo, "board-sync");
}

static void
fx_stop(struct fx *f)
{
	tb_stop(&f->bs);
	topo_close(&f->topo);
	tb_rmrf(f->dir);
	free(f->dir);
}

/* add_req asks for a task (rq consumed) and returns the answer (new). */
static json_t *
add_req(struct fx *f, json_t *rq)
{
	json_t *d = NULL;
	char    err[256];

	if (tb_call_json(f->topo, "board-sync", MSG_BOARD_TASK_ADD, rq, &d,
	        err, sizeof(err)) != 0)
		fail_msg("task_add: %s", err);
	json_decref(rq);
	return (d);
}

/* add adds a task of repo and returns its id (static buffer). */
static const char *
add(struct fx *f, const char *repo, const char *goal)
{
	static char id[32];
	json_t     *d = add_req(f,
	        json_pack("{s:s, s:s, s:[s]}", "repo_key", repo, "goal", goal,
	            "labels", "team: a"));

	assert_string_equal(tb_str(d, "state"), BOARD_READY);
	snprintf(id, sizeof(id), "%s", tb_str(d, "task_id"));
	json_decref(d);
	return (id);
}

static const char *
state_of(struct fx *f, const char *task)
{
	static char s[32];
	json_t     *d = tb_task_show(f->topo, task);

	snprintf(s, sizeof(s), "%s", tb_str(d, "task.state"));
	json_decref(d);
	return (s);
}

/* last_comment returns the newest comment on task (static buffer). */
static const char *
last_comment(struct fx *f, const char *task)
{
	static char c[2048];
	json_t *d = tb_task_show(f->topo, task), *cs = tb_get(d, "comments");

	assert_true(json_array_size(cs) > 0);
	snprintf(c, sizeof(c), "%s",
	    tb_str(json_array_get(cs, json_array_size(cs) - 1), "body"));
	json_decref(d);
	return (c);
}

static json_t *
events(struct fx *f, const char *topic)
{
	return (tb_events(f->topo, "board-sync", topic));
}

static void
inject(struct fx *f, const char *topic, json_t *body)
{
	tb_inject(f->topo, "board-sync", topic, NULL, body);
}

static json_t *
decided(const char *task, const char *status)
{
	return (json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:[{s:s, s:s, "
	                  "s:b}]}}",
	    "task_id", task, "decision_id", "dec-1", "lane", "claude_cli",
	    "rule", "r-remote", "policy_status", status, "policy", "status",
	    status, "violations", "rule_id", "tool.destructive_label",
	    "message", "destructive label 'rm_rf'", "blocking", 1));
}

static void
started(struct fx *f, const char *task, const char *run)
{
	inject(f, "exec.started",
	    json_pack("{s:s, s:s, s:s, s:i}", "run_id", run, "task_id", task,
	        "executor", "executor", "attempt", 1));
}

static void
finished(struct fx *f, const char *task, const char *run, bool ok,
    const char *category)
{
	inject(f, "exec.finished",
	    json_pack("{s:s, s:s, s:s, s:b, s:s, s:s?, s:s, s:{s:s}}",
	        "run_id", run, "task_id", task, "status",
	        ok ? "succeeded" : "failed", "success", ok, "executor",
	        "executor", "failure_category", category, "branch_name",
	        "goal/x", "result", "commit_sha", "abc123"));
}

/* ------------------------------------------------------------------ cases */

/* task_add: task.created, then Ready for AI and task.ready; a retried
 * request (same request_id) answers with the same task; a description
 * that does not parse blocks the task with the parser's words. */
static void
test_add(void **state)
{
	struct fx f;
	json_t   *ev, *d;

	UNUSED(state);
	fx_start(&f, "add");
	assert_string_equal(add(&f, "demo", "Add a greeting"), "T-1");
	ev = events(&f, NULL);
	assert_int_equal(json_array_size(ev), 3);
	assert_string_equal(tb_str(ev, "0.topic"), "task.created");
	assert_string_equal(tb_str(ev, "0.body.task_id"), "T-1");
	assert_string_equal(tb_str(ev, "0.body.source"), "operator");
	assert_string_equal(tb_str(ev, "1.topic"), "task.updated");
	assert_string_equal(tb_str(ev, "1.body.prev_state"), "Backlog");
	assert_string_equal(tb_str(ev, "1.body.state"), BOARD_READY);
	assert_string_equal(tb_str(ev, "2.topic"), "task.ready");
	assert_string_equal(tb_str(ev, "2.corr"), "T-1");
	assert_string_equal(tb_str(ev, "2.body.goal"), "Add a greeting");
	assert_string_equal(tb_str(ev, "2.body.repo_key"), "demo");
	assert_string_equal(tb_str(ev, "2.body.kind"), "goal");
	assert_string_equal(tb_str(ev, "2.body.labels.0"), "team: a");
	assert_int_equal(tb_int(ev, "2.body.attempt"), 1);
	json_decref(ev);

	d = add_req(&f,
	    json_pack("{s:s, s:s, s:s}", "repo_key", "demo", "goal", "Once",
	        "request_id", "req-1"));
	assert_string_equal(tb_str(d, "task_id"), "T-2");
	json_decref(d);
	d = add_req(&f,
	    json_pack("{s:s, s:s, s:s}", "repo_key", "demo", "goal", "Twice?",
	        "request_id", "req-1"));
	assert_string_equal(tb_str(d, "task_id"), "T-2");
	assert_true(json_is_true(tb_get(d, "existing")));
	json_decref(d);
	ev = events(&f, "task.created");
	assert_int_equal(json_array_size(ev), 2);
	json_decref(ev);
	assert_int_equal(
	    tb_status_int(f.topo, "board-sync", "tasks.Ready for AI"), 2);

	/* a description whose Execution block names an unknown mode */
	d = add_req(&f,
	    json_pack("{s:s, s:s, s:s}", "repo_key", "demo", "goal", "",
	        "description", "## Execution\nmode: dance\n\nDo it."));
	assert_string_equal(tb_str(d, "state"), "Blocked");
	assert_non_null(strstr(last_comment(&f, tb_str(d, "task_id")),
	    "Unsupported execution mode"));
	json_decref(d);
	ev = events(&f, "task.ready");
	assert_int_equal(json_array_size(ev), 2);
	json_decref(ev);
	fx_stop(&f);
}

/* route.decided with policy block: Blocked with the policy's comment;
 * allow changes nothing. */
static void
test_policy_block(void **state)
{
	struct fx   f;
	const char *c;
	json_t     *ev;
	char        t1[32], t2[32];

	UNUSED(state);
	fx_start(&f, "pol");
	snprintf(t1, sizeof(t1), "%s", add(&f, "demo", "Remove the cache"));
	snprintf(t2, sizeof(t2), "%s", add(&f, "demo", "Rename a file"));
	inject(&f, "route.decided", decided(t1, "block"));
	inject(&f, "route.decided", decided(t2, "allow"));
	assert_string_equal(state_of(&f, t1), "Blocked");
	assert_string_equal(state_of(&f, t2), BOARD_READY);
	c = last_comment(&f, t1);
	assert_non_null(strstr(c, "Policy: block"));
	assert_non_null(strstr(c, "tool.destructive_label"));
	assert_non_null(strstr(c, "claude_cli"));
	ev = events(&f, "task.updated");
	assert_int_equal(json_array_size(ev), 3);
	assert_string_equal(tb_str(ev, "2.body.task_id"), t1);
	assert_string_equal(tb_str(ev, "2.body.state"), "Blocked");
	assert_string_equal(tb_str(ev, "2.body.reason"), "policy_blocked");
	json_decref(ev);
	/* task show: the latest outcome's classification and reason */
	ev = tb_task_show(f.topo, t1);
	assert_string_equal(
	    tb_str(ev, "task.last_run.classification"), "policy_blocked");
	assert_string_equal(
	    tb_str(ev, "task.last_run.reason"), "destructive label 'rm_rf'");
	assert_string_equal(tb_str(ev, "task.last_run.status"), "skipped");
	json_decref(ev);
	ev = tb_task_show(f.topo, t2);
	assert_null(tb_get(ev, "task.last_run"));
	json_decref(ev);
	fx_stop(&f);
}

/* exec.started -> Running; exec.finished -> Done, In Review (await_review)
 * or Blocked with the category, each with a result comment; a late result
 * of an older run decides nothing. */
static void
test_run_outcomes(void **state)
{
	struct fx   f;
	const char *c;
	char        t[4][32];
	json_t     *ev;

	UNUSED(state);
	fx_start(&f, "run");
	snprintf(t[0], sizeof(t[0]), "%s", add(&f, "demo", "Succeed"));
	snprintf(
	    t[1], sizeof(t[1]), "%s", add(&f, "rev", "Succeed, reviewed"));
	snprintf(t[2], sizeof(t[2]), "%s", add(&f, "demo", "Fail"));
	snprintf(t[3], sizeof(t[3]), "%s", add(&f, "demo", "Run twice"));
	started(&f, t[0], "r-0");
	assert_string_equal(state_of(&f, t[0]), "Running");
	finished(&f, t[0], "r-0", true, NULL);
	assert_string_equal(state_of(&f, t[0]), "Done");
	c = last_comment(&f, t[0]);
	assert_non_null(strstr(c, "Result\n- success: true\n- run_id: r-0"));
	assert_non_null(strstr(c, "- commit: abc123"));
	assert_non_null(strstr(c, "- branch: goal/x"));

	started(&f, t[1], "r-1");
	finished(&f, t[1], "r-1", true, NULL);
	assert_string_equal(state_of(&f, t[1]), "In Review");

	started(&f, t[2], "r-2");
	inject(&f, "exec.finished",
	    json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s}", "run_id", "r-2",
	        "task_id", t[2], "status", "failed", "success", 0, "executor",
	        "executor", "failure_category", "validation_failed",
	        "failure_reason", "validation failed: `make test` exited 2"));
	assert_string_equal(state_of(&f, t[2]), "Blocked");
	ev = tb_task_show(f.topo, t[2]);
	assert_string_equal(tb_str(ev, "task.last_run.run_id"), "r-2");
	assert_string_equal(tb_str(ev, "task.last_run.status"), "failed");
	assert_string_equal(
	    tb_str(ev, "task.last_run.classification"), "validation_failed");
	assert_string_equal(tb_str(ev, "task.last_run.reason"),
	    "validation failed: `make test` exited 2");
	json_decref(ev);
	assert_non_null(
	    strstr(last_comment(&f, t[2]), "- category: validation_failed"));
	assert_non_null(strstr(last_comment(&f, t[2]),
	    "- blocked_classification: validation_failed"));
	assert_null(strstr(last_comment(&f, t[0]), "blocked_classification"));
	ev = events(&f, "task.updated");
	assert_string_equal(
	    tb_str(json_array_get(ev, json_array_size(ev) - 1), "body.reason"),
	    "validation_failed");
	json_decref(ev);

	started(&f, t[3], "r-3a");
	started(&f, t[3], "r-3b");
	finished(&f, t[3], "r-3a", true, NULL);
	assert_string_equal(state_of(&f, t[3]), "Running");
	finished(&f, t[3], "r-3b", false, "backend_error");
	assert_string_equal(state_of(&f, t[3]), "Blocked");
	/* Done is final: a result arriving after it changes nothing */
	finished(&f, t[0], "r-0", false, "backend_error");
	assert_string_equal(state_of(&f, t[0]), "Done");
	fx_stop(&f);
}

/* Quota exhaustion is its own class on the board: Blocked with
 * blocked_classification quota_exhausted (the task.updated reason too),
 * whether the result says so by its category or, for a result older
 * than the agent contract, by its words; a rate limit under the agent
 * contract is not quota. */
static void
test_quota_exhausted(void **state)
{
	struct fx   f;
	char        t[3][32];
	json_t     *ev;
	const char *c;

	UNUSED(state);
	fx_start(&f, "quota");
	snprintf(t[0], sizeof(t[0]), "%s", add(&f, "demo", "Out of credits"));
	snprintf(t[1], sizeof(t[1]), "%s", add(&f, "demo", "Old result"));
	snprintf(t[2], sizeof(t[2]), "%s", add(&f, "demo", "Rate limited"));
	started(&f, t[0], "r-q0");
	finished(&f, t[0], "r-q0", false, "quota_exhausted");
	assert_string_equal(state_of(&f, t[0]), "Blocked");
	c = last_comment(&f, t[0]);
	assert_non_null(
	    strstr(c, "- blocked_classification: quota_exhausted"));
	ev = events(&f, "task.updated");
	assert_string_equal(
	    tb_str(json_array_get(ev, json_array_size(ev) - 1), "body.reason"),
	    "quota_exhausted");
	json_decref(ev);
	/* no result record: the reason's words decide */
	started(&f, t[1], "r-q1");
	inject(&f, "exec.finished",
	    json_pack("{s:s, s:s, s:s, s:b, s:s, s:s}", "run_id", "r-q1",
	        "task_id", t[1], "status", "failed", "success", 0,
	        "failure_category", "backend_error", "failure_reason",
	        "Quota exceeded for this month"));
	assert_string_equal(state_of(&f, t[1]), "Blocked");
	c = last_comment(&f, t[1]);
	assert_non_null(strstr(c, "- category: backend_error"));
	assert_non_null(
	    strstr(c, "- blocked_classification: quota_exhausted"));
	/* a typed result: its category alone */
	started(&f, t[2], "r-q2");
	inject(&f, "exec.finished",
	    json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:{s:s}}", "run_id",
	        "r-q2", "task_id", t[2], "status", "failed", "success", 0,
	        "failure_category", "model_error", "failure_reason",
	        "rate limit, retry later", "result", "commit_sha", "abc"));
	c = last_comment(&f, t[2]);
	assert_non_null(strstr(c, "- blocked_classification: model_error"));
	fx_stop(&f);
}

/* The executor's [quality] note reaches the board comment; a result
 * without one adds nothing. */
static void
test_quality_note(void **state)
{
	static const char note[] =
	    "[quality] This run added 3 quality suppressions: {\"noqa\": 1, "
	    "\"type_ignore\": 1, \"pass\": 1}. Review before merging.";
	struct fx f;
	char      t[32];

	UNUSED(state);
	fx_start(&f, "qnote");
	snprintf(t, sizeof(t), "%s", add(&f, "demo", "Erode quality"));
	started(&f, t, "r-n");
	inject(&f, "exec.finished",
	    json_pack("{s:s, s:s, s:s, s:b, s:s, s:{s:s, s:s, s:{s:i}}}",
	        "run_id", "r-n", "task_id", t, "status", "succeeded",
	        "success", 1, "executor", "executor", "result", "commit_sha",
	        "abc", "quality_note", note, "quality_warnings",
	        "#\\s*noqa\\b", 1));
	assert_string_equal(state_of(&f, t), "Done");
	assert_non_null(strstr(last_comment(&f, t), note));
	assert_non_null(strstr(last_comment(&f, t), "- commit: abc\n"));
	fx_stop(&f);
}

/* A run whose changes touch another repo's impact_report_paths: the
 * original's warning lines on task.impact and its advisory comment on
 * the task, which goes on as it would.  Its own repo's paths, a failed
 * run and paths that only share a prefix say nothing. */
static void
test_impact(void **state)
{
	struct fx   f;
	const char *c;
	char        t[3][32];
	json_t     *ev;

	UNUSED(state);
	fx_start(&f, "impact");
	snprintf(t[0], sizeof(t[0]), "%s", add(&f, "demo", "Touch shared"));
	snprintf(t[1], sizeof(t[1]), "%s", add(&f, "rev", "Touch own"));
	snprintf(t[2], sizeof(t[2]), "%s", add(&f, "demo", "Fail shared"));
	started(&f, t[0], "r-0");
	inject(&f, "exec.finished",
	    json_pack("{s:s, s:s, s:s, s:b, s:{s:[{s:s}, {s:s}, "
	              "{s:s}, {s:s}, "
	              "{s:s}]}}",
	        "run_id", "r-0", "task_id", t[0], "status", "succeeded",
	        "success", 1, "result", "changed_files", "path",
	        "src/api/client.py", "path", "src/apiary.c", "path",
	        "docs/x.md", "path", "lib/a.c", "path", "library/b.c"));
	assert_string_equal(state_of(&f, t[0]), "Done");
	ev = events(&f, "task.impact");
	assert_int_equal(json_array_size(ev), 1);
	assert_string_equal(tb_str(ev, "0.body.task_id"), t[0]);
	assert_string_equal(tb_str(ev, "0.body.run_id"), "r-0");
	assert_int_equal(tb_int(ev, "0.body.count"), 3);
	assert_string_equal(tb_str(ev, "0.body.warnings.0"),
	    "repo=rev shared_path=src/api/ "
	    "changed_file=src/api/client.py");
	assert_string_equal(tb_str(ev, "0.body.warnings.1"),
	    "repo=rev shared_path=docs/*.md changed_file=docs/x.md");
	assert_string_equal(tb_str(ev, "0.body.warnings.2"),
	    "repo=rev shared_path=lib changed_file=lib/a.c");
	json_decref(ev);
	c = last_comment(&f, t[0]);
	assert_ptr_equal(strstr(c,
	                     "[Goal] Cross-repo impact detected. This is "
	                     "advisory"),
	    c);
	assert_non_null(strstr(c,
	    "- repo=rev shared_path=src/api/ "
	    "changed_file=src/api/client.py\n"));

	started(&f, t[1], "r-1");
	inject(&f, "exec.finished",
	    json_pack("{s:s, s:s, s:s, s:b, s:{s:[{s:s}]}}", "run_id", "r-1",
	        "task_id", t[1], "status", "succeeded", "success", 1, "result",
	        "changed_files", "path", "src/api/own.py"));
	started(&f, t[2], "r-2");
	inject(&f, "exec.finished",
	    json_pack("{s:s, s:s, s:s, s:b, s:s, s:{s:[{s:s}]}}", "run_id",
	        "r-2", "task_id", t[2], "status", "failed", "success", 0,
	        "failure_category", "validation_failed", "result",
	        "changed_files", "path", "src/api/client.py"));
	assert_string_equal(state_of(&f, t[2]), "Blocked");
	ev = events(&f, "task.impact");
	assert_int_equal(json_array_size(ev), 1);
	json_decref(ev);
	assert_int_equal(
	    tb_status_int(f.topo, "board-sync", "counters.cross_repo_impact"),
	    1);
	fx_stop(&f);
}

/* asked: the run of task asks a question (awaiting_input). */
static void
asked(struct fx *f, const char *task, const char *run, const char *q)
{
	started(f, task, run);
	inject(f, "exec.finished",
	    json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:{s:s}}", "run_id",
	        run, "task_id", task, "status", "failed", "success", 0,
	        "executor", "executor", "failure_category", "awaiting_input",
	        "failure_reason", "backend asked a question", "result",
	        "question", q));
	assert_string_equal(state_of(f, task), "Blocked");
}

/* last_ready returns the goal of the newest task.ready (static buffer). */
static const char *
last_ready(struct fx *f, const char *task)
{
	static char g[2048];
	json_t     *ev = events(f, "task.ready"), *e;

	e = json_array_get(ev, json_array_size(ev) - 1);
	assert_non_null(e);
	assert_string_equal(tb_str(e, "body.task_id"), task);
	snprintf(g, sizeof(g), "%s", tb_str(e, "body.goal"));
	json_decref(ev);
	return (g);
}

static void
move_to(struct fx *f, const char *task, enum msg_task_state st,
    const char *comment)
{
	struct msg_board_task_move mv = { (char *) task, st,
		(char *) comment };
	json_t                    *d  = NULL;
	char                       err[256];

	if (tb_call(f->topo, "board-sync", MSG_BOARD_TASK_MOVE, &mv, &d, err,
	        sizeof(err)) != 0)
		fail_msg("task_move %s: %s", task, err);
	json_decref(d);
}

/* comment_on adds a comment with board.task_comment (opc task comment)
 * and returns whether board-sync took it as the answer. */
static bool
comment_on(struct fx *f, const char *task, const char *body)
{
	struct msg_board_task_comment c = { (char *) task, (char *) body,
		NULL };
	json_t                       *d = NULL;
	char                          err[256];
	bool                          yes;

	if (tb_call(f->topo, "board-sync", MSG_BOARD_TASK_COMMENT, &c, &d, err,
	        sizeof(err)) != 0)
		fail_msg("task_comment %s: %s", task, err);
	yes = json_is_true(tb_get(d, "answer"));
	json_decref(d);
	return (yes);
}

/* awaiting_input on the local board: the comment of `opc task move ID
 * "Ready for AI" --comment TEXT` is the answer, and the goal of the next
 * run carries the question and the answer; a reply that leaves the task
 * Blocked re-queues it; a move without a question changes no goal. */
static void
test_answer(void **state)
{
	struct fx   f;
	const char *g;
	char        t[3][32];

	UNUSED(state);
	fx_start(&f, "answer");
	snprintf(t[0], sizeof(t[0]), "%s", add(&f, "demo", "Serve it"));
	snprintf(t[1], sizeof(t[1]), "%s", add(&f, "demo", "Log it"));
	snprintf(t[2], sizeof(t[2]), "%s", add(&f, "demo", "Plain"));

	asked(&f, t[0], "r-a1", "Which port?");
	assert_non_null(
	    strstr(last_comment(&f, t[0]), "- question: Which port?"));
	move_to(&f, t[0], MSG_TASK_STATE_READY_FOR_AI, "Use 8080");
	assert_string_equal(state_of(&f, t[0]), BOARD_READY);
	g = last_ready(&f, t[0]);
	assert_non_null(strstr(g, "Serve it"));
	assert_non_null(strstr(g, "Question asked: Which port?"));
	assert_non_null(strstr(g, "Answer: Use 8080"));

	/* asked again: the new answer replaces the old */
	asked(&f, t[0], "r-a2", "Which host?");
	move_to(&f, t[0], MSG_TASK_STATE_READY_FOR_AI, "localhost");
	g = last_ready(&f, t[0]);
	assert_non_null(strstr(g, "Question asked: Which host?"));
	assert_non_null(strstr(g, "Answer: localhost"));

	/* a reply only (the task left Blocked): re-queued with the answer */
	asked(&f, t[1], "r-b1", "Which file?");
	move_to(&f, t[1], MSG_TASK_STATE_BLOCKED, "app.log");
	assert_string_equal(state_of(&f, t[1]), BOARD_READY);
	assert_non_null(strstr(last_comment(&f, t[1]), "Answer received"));
	assert_non_null(strstr(last_ready(&f, t[1]), "Answer: app.log"));

	/* a comment alone (board.task_comment) answers too: re-queued */
	asked(&f, t[1], "r-b2", "Which level?");
	assert_true(comment_on(&f, t[1], "debug"));
	assert_string_equal(state_of(&f, t[1]), BOARD_READY);
	assert_non_null(strstr(last_comment(&f, t[1]), "Answer received"));
	g = last_ready(&f, t[1]);
	assert_non_null(strstr(g, "Question asked: Which level?"));
	assert_non_null(strstr(g, "Answer: debug"));
	/* answered already: a second comment is only a comment */
	assert_false(comment_on(&f, t[1], "thanks"));
	assert_string_equal(state_of(&f, t[1]), BOARD_READY);

	/* no question asked: a comment is only a comment */
	started(&f, t[2], "r-c1");
	finished(&f, t[2], "r-c1", false, "validation_failed");
	assert_false(comment_on(&f, t[2], "looking into it"));
	assert_string_equal(state_of(&f, t[2]), "Blocked");
	move_to(&f, t[2], MSG_TASK_STATE_READY_FOR_AI, "try again");
	assert_string_equal(last_ready(&f, t[2]), "Plain");
	fx_stop(&f);
}

/* blocked_run: one run of task that ends Blocked under category. */
static void
blocked_run(
    struct fx *f, const char *task, const char *run, const char *category)
{
	started(f, task, run);
	finished(f, task, run, false, category);
	assert_string_equal(state_of(f, task), "Blocked");
}

/* self-healing: 3 Blocked runs in a row pause the task (the original's
 * comment, self_healing.repeated_block); a paused task is not re-queued,
 * by the operator (refused, naming `opc task resume`) or by an answer
 * (held Blocked); board.task_resume lifts the pause; a success resets the
 * count. */
static void
test_self_heal(void **state)
{
	struct fx                    f;
	struct msg_board_task_move   mv;
	struct msg_board_task_resume rs;
	json_t                      *d = NULL, *ev;
	char                         t[3][32], err[256];

	UNUSED(state);
	fx_start(&f, "heal");
	snprintf(t[0], sizeof(t[0]), "%s", add(&f, "demo", "Keeps failing"));
	snprintf(t[1], sizeof(t[1]), "%s", add(&f, "rev", "Fails, succeeds"));
	snprintf(t[2], sizeof(t[2]), "%s", add(&f, "demo", "Keeps asking"));

	blocked_run(&f, t[0], "r-h1", "validation_failure");
	move_to(&f, t[0], MSG_TASK_STATE_READY_FOR_AI, NULL);
	blocked_run(&f, t[0], "r-h2", "validation_failure");
	move_to(&f, t[0], MSG_TASK_STATE_READY_FOR_AI, NULL);
	d = tb_task_show(f.topo, t[0]);
	assert_int_equal(tb_int(d, "task.self_healing.consecutive_blocks"), 2);
	assert_false(json_is_true(tb_get(d, "task.self_healing.paused")));
	json_decref(d);
	ev = events(&f, "self_healing.repeated_block");
	assert_int_equal(json_array_size(ev), 0);
	json_decref(ev);

	blocked_run(&f, t[0], "r-h3", "timeout");
	assert_non_null(strstr(last_comment(&f, t[0]),
	    "[Improve] Repeated-block self-healing "
	    "triggered\n- consecutive_blocks: 3\n- "
	    "classification: timeout"));
	ev = events(&f, "self_healing.repeated_block");
	assert_int_equal(json_array_size(ev), 1);
	assert_string_equal(
	    tb_str(json_array_get(ev, 0), "body.task_id"), t[0]);
	assert_int_equal(
	    tb_int(json_array_get(ev, 0), "body.consecutive_blocks"), 3);
	assert_string_equal(
	    tb_str(json_array_get(ev, 0), "body.classification"), "timeout");
	json_decref(ev);
	d = tb_task_show(f.topo, t[0]);
	assert_true(json_is_true(tb_get(d, "task.self_healing.paused")));
	json_decref(d);
	/* opc status reads the tasks paused now from board-sync's status */
	d = tb_status(f.topo, "board-sync");
	assert_int_equal(json_array_size(tb_get(d, "self_heal_paused")), 1);
	assert_string_equal(json_string_value(json_array_get(
	                        tb_get(d, "self_heal_paused"), 0)),
	    t[0]);
	json_decref(d);

	/* the operator's move is refused until resumed */
	mv = (struct msg_board_task_move) { t[0], MSG_TASK_STATE_READY_FOR_AI,
		NULL };
	assert_int_equal(tb_call(f.topo, "board-sync", MSG_BOARD_TASK_MOVE,
	                     &mv, &d, err, sizeof(err)),
	    ERR_REFUSED);
	assert_non_null(strstr(err, "opc task resume"));
	assert_string_equal(state_of(&f, t[0]), "Blocked");
	rs = (struct msg_board_task_resume) { t[0] };
	d  = NULL;
	if (tb_call(f.topo, "board-sync", MSG_BOARD_TASK_RESUME, &rs, &d, err,
	        sizeof(err)) != 0)
		fail_msg("task_resume: %s", err);
	assert_true(json_is_true(tb_get(d, "was_paused")));
	json_decref(d);
	assert_non_null(strstr(last_comment(&f, t[0]), "pause lifted"));
	d = tb_status(f.topo, "board-sync");
	assert_int_equal(json_array_size(tb_get(d, "self_heal_paused")), 0);
	json_decref(d);
	move_to(&f, t[0], MSG_TASK_STATE_READY_FOR_AI, NULL);
	assert_string_equal(state_of(&f, t[0]), BOARD_READY);
	assert_string_equal(last_ready(&f, t[0]), "Keeps failing");

	/* a success in between resets the count */
	blocked_run(&f, t[1], "r-s1", "validation_failure");
	move_to(&f, t[1], MSG_TASK_STATE_READY_FOR_AI, NULL);
	blocked_run(&f, t[1], "r-s2", "validation_failure");
	move_to(&f, t[1], MSG_TASK_STATE_READY_FOR_AI, NULL);
	started(&f, t[1], "r-s3");
	finished(&f, t[1], "r-s3", true, NULL);
	assert_string_equal(state_of(&f, t[1]), "In Review");
	d = tb_task_show(f.topo, t[1]);
	assert_null(tb_get(d, "task.self_healing"));
	json_decref(d);
	move_to(&f, t[1], MSG_TASK_STATE_READY_FOR_AI, NULL);
	blocked_run(&f, t[1], "r-s4", "validation_failure");
	d = tb_task_show(f.topo, t[1]);
	assert_int_equal(tb_int(d, "task.self_healing.consecutive_blocks"), 1);
	json_decref(d);

	/* paused after three questions: the answer does not re-queue it */
	asked(&f, t[2], "r-q1", "A?");
	move_to(&f, t[2], MSG_TASK_STATE_READY_FOR_AI, "a");
	asked(&f, t[2], "r-q2", "B?");
	move_to(&f, t[2], MSG_TASK_STATE_READY_FOR_AI, "b");
	asked(&f, t[2], "r-q3", "C?");
	move_to(&f, t[2], MSG_TASK_STATE_BLOCKED, "c");
	assert_string_equal(state_of(&f, t[2]), "Blocked");
	assert_non_null(
	    strstr(last_comment(&f, t[2]), "Blocked: self_healing_paused"));
	fx_stop(&f);
}

/* proposal.created becomes a task in the state the proposer chose. */
static void
test_proposal(void **state)
{
	struct fx f;
	json_t   *ev, *l;
	size_t    i, n = 0;

	UNUSED(state);
	fx_start(&f, "prop");
	inject(&f, "proposal.created",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:[s]}", "candidate_id",
	        "candidate:lint_fix:demo:x@dec_1", "repo", "demo", "title",
	        "Fix lint in demo", "goal", "Fix the lint", "state",
	        BOARD_READY, "labels", "confidence: high"));
	ev = events(&f, "task.created");
	assert_int_equal(json_array_size(ev), 1);
	assert_string_equal(tb_str(ev, "0.body.source"), "proposer");
	assert_string_equal(tb_str(ev, "0.body.candidate_id"),
	    "candidate:lint_fix:demo:x@dec_1");
	json_decref(ev);
	ev = events(&f, "task.ready");
	assert_int_equal(json_array_size(ev), 1);
	assert_string_equal(tb_str(ev, "0.body.title"), "Fix lint in demo");
	json_array_foreach (tb_get(ev, "0.body.labels"), i, l)
		n += strcmp(json_string_value(l), "source: proposer") == 0 ||
		    strcmp(json_string_value(l), "repo: demo") == 0 ||
		    strcmp(json_string_value(l), "confidence: high") == 0;
	assert_int_equal(n, 3);
	json_decref(ev);
	fx_stop(&f);
}

/* refused asks for task a and asserts the answer is ERR_INVAL saying
 * why. */
static void
refused(struct fx *f, const struct msg_board_task_add *a, const char *why)
{
	char err[256];

	assert_int_equal(tb_call(f->topo, "board-sync", MSG_BOARD_TASK_ADD, a,
	                     NULL, err, sizeof(err)),
	    ERR_INVAL);
	if (strstr(err, why) == NULL)
		fail_msg("'%s' does not say '%s'", err, why);
}

/* Bad input is refused with a clear error and counted; nothing is
 * created and nothing journaled. */
static void
test_bad_input(void **state)
{
	struct fx                 f;
	struct msg_board_task_add a;
	union msg_body            mv;
	json_t                   *ev;
	char                      err[256], *big;

	UNUSED(state);
	fx_start(&f, "bad");
	big = xmalloc(70 * 1024 + 1);
	memset(big, 'x', 70 * 1024);
	big[70 * 1024] = '\0';
	memset(&a, 0, sizeof(a));
	a.repo_key = "demo";
	a.goal     = big;
	refused(&f, &a, "the goal is 71680 bytes; at most 65536");
	free(big);
	/* our own packer mends invalid UTF-8 (U+FFFD): a raw client's
	 * bytes */
	a.goal = "cafe au lait %%";
	assert_int_equal(tb_call_raw(f.topo, "board-sync", MSG_BOARD_TASK_ADD,
	                     &a, err, sizeof(err)),
	    ERR_PROTO);
	assert_non_null(strstr(err, "'goal' is not valid UTF-8"));
	assert_int_equal(
	    tb_status_int(f.topo, "board-sync", "counters.decode_errors"), 1);
	a.goal = "fine";
	a.kind = "dance";
	refused(&f, &a, "unknown task kind 'dance'");
	a.kind = NULL;
	a.goal = "";
	refused(&f, &a, "a goal (or a description with one) are required");
	assert_int_equal(
	    tb_status_int(f.topo, "board-sync", "counters.ctl_errors"), 4);
	assert_int_equal(
	    tb_status_int(f.topo, "board-sync", "journal_seq"), 0);

	/* a move whose comment is not UTF-8 (the state is read as the
	 * bus reads it, so the test holds whatever C type the field
	 * has) */
	(void) add(&f, "demo", "Real");
	ev = json_pack("{s:s, s:s, s:s}", "task_id", "T-1", "state", "Done",
	    "comment", "bad %% bytes");
	assert_int_equal(
	    msg_body_from_json(MSG_BOARD_TASK_MOVE, &mv, ev, err, sizeof(err)),
	    0);
	json_decref(ev);
	assert_int_equal(tb_call_raw(f.topo, "board-sync", MSG_BOARD_TASK_MOVE,
	                     &mv, err, sizeof(err)),
	    ERR_PROTO);
	msg_body_fini(MSG_BOARD_TASK_MOVE, &mv);
	assert_non_null(strstr(err, "'comment' is not valid UTF-8"));
	assert_string_equal(state_of(&f, "T-1"), BOARD_READY);
	ev = events(&f, NULL);
	assert_int_equal(json_array_size(ev), 3); /* created, updated, ready */
	json_decref(ev);
	fx_stop(&f);
}

/* campaigns returns board.campaigns (status may be NULL) (new). */
static json_t *
campaigns(struct fx *f, const char *status)
{
	struct msg_board_campaigns q = { (char *) status };
	json_t                    *d = NULL;
	char                       err[256];

	if (tb_call(f->topo, "board-sync", MSG_BOARD_CAMPAIGNS, &q, &d, err,
	        sizeof(err)) != 0)
		fail_msg("campaigns: %s", err);
	return (d);
}

/* ready_ids: the task ids of every task.ready journaled, comma-joined. */
static const char *
ready_ids(struct fx *f)
{
	static char b[512];
	json_t     *ev = events(f, "task.ready"), *e;
	size_t      i, n = 0;

	b[0] = '\0';
	json_array_foreach (ev, i, e)
		n += (size_t) snprintf(b + n, sizeof(b) - n, "%s%s",
		    n ? "," : "", tb_str(e, "body.task_id"));
	json_decref(ev);
	return (b);
}

/* A goal task titled "Refactor ..." becomes campaign C-T-1: its run asks
 * the backend for a plan (cp:plan markers in the goal), and the three
 * steps it proposes become tasks run one after another (T-2, T-3, T-4),
 * each with its own task.ready and run; the parent is Running and gets
 * the progress as comments; a cancelled step counts, and the campaign
 * ends partially_cancelled (parent Blocked).  A "plan: multi-step" task
 * whose backend proposes nothing gets the stub plan (Analyze, Implement,
 * Verify); all Done, it is complete (parent Done).  A plain task is no
 * campaign. */
static void
test_campaign(void **state)
{
	struct fx                  f;
	struct msg_board_task_move mv = { 0 };
	json_t                    *d, *ev;
	char                       err[256];

	UNUSED(state);
	fx_start(&f, "camp");
	d = add_req(&f,
	    json_pack("{s:s, s:s, s:s}", "repo_key", "demo", "title",
	        "Refactor the config loader", "goal",
	        "Split the config loader into a parser and a validator."));
	assert_string_equal(tb_str(d, "task_id"), "T-1");
	assert_string_equal(tb_str(d, "state"), "Ready for AI");
	json_decref(d);
	/* its run is a planning run: the backend is asked for the steps */
	assert_string_equal(ready_ids(&f), "T-1");
	ev = events(&f, "task.ready");
	assert_non_null(strstr(tb_str(ev, "0.body.goal"), "<!-- cp:plan:"));
	assert_non_null(
	    strstr(tb_str(ev, "0.body.goal"), "Split the config loader"));
	json_decref(ev);
	d = campaigns(&f, "pending");
	assert_string_equal(tb_str(d, "campaigns.0.campaign_id"), "C-T-1");
	assert_int_equal(tb_int(d, "campaigns.0.total_steps"), 0);
	json_decref(d);
	started(&f, "T-1", "run-p");
	inject(&f, "exec.finished",
	    json_pack("{s:s, s:s, s:s, s:b, s:s, s:{s:[s, s, s]}}", "run_id",
	        "run-p", "task_id", "T-1", "status", "succeeded", "success", 1,
	        "executor", "executor", "result", "plan",
	        "Analyze: find every caller of the loader",
	        "Implement: split it in two", "Verify: run the config tests"));
	assert_string_equal(state_of(&f, "T-1"), "Running");
	/* the parent waits: its first step runs */
	assert_string_equal(ready_ids(&f), "T-1,T-2");
	assert_string_equal(state_of(&f, "T-3"), "Backlog");
	d = tb_task_show(f.topo, "T-2");
	assert_string_equal(
	    tb_str(d, "task.title"), "Analyze: Refactor the config loader");
	assert_non_null(strstr(tb_str(d, "task.goal"), "Step 1 of 3"));
	assert_non_null(
	    strstr(tb_str(d, "task.goal"), "find every caller of the loader"));
	assert_non_null(
	    strstr(tb_str(d, "task.goal"), "Split the config loader"));
	json_decref(d);
	ev = events(&f, "campaign.created");
	assert_int_equal(json_array_size(ev), 1);
	assert_string_equal(tb_str(ev, "0.body.campaign_id"), "C-T-1");
	assert_string_equal(tb_str(ev, "0.body.step_ids.2"), "T-4");
	assert_string_equal(tb_str(ev, "0.body.planner"), "backend");
	json_decref(ev);
	d = campaigns(&f, NULL);
	assert_string_equal(tb_str(d, "campaigns.0.status"), "pending");
	assert_string_equal(tb_str(d, "campaigns.0.planner"), "backend");
	assert_int_equal(tb_int(d, "campaigns.0.total_steps"), 3);
	json_decref(d);

	/* step 1 runs and succeeds: step 2 is next */
	started(&f, "T-2", "run-a");
	finished(&f, "T-2", "run-a", true, NULL);
	assert_string_equal(state_of(&f, "T-2"), "Done");
	assert_string_equal(ready_ids(&f), "T-1,T-2,T-3");
	assert_non_null(strstr(last_comment(&f, "T-1"),
	    "1/3 steps done (33.3%), 0 cancelled - in_progress"));
	d = campaigns(&f, "in_progress");
	assert_string_equal(tb_str(d, "campaigns.0.done_step_ids.0"), "T-2");
	assert_true(
	    json_real_value(tb_get(d, "campaigns.0.progress_pct")) > 33.2);
	json_decref(d);

	/* a human cancels step 2: step 3 runs, then the campaign ends
	 * partially cancelled */
	mv.task_id = "T-3";
	mv.state   = MSG_TASK_STATE_CANCELLED;
	assert_int_equal(tb_call(f.topo, "board-sync", MSG_BOARD_TASK_MOVE,
	                     &mv, NULL, err, sizeof(err)),
	    0);
	assert_string_equal(ready_ids(&f), "T-1,T-2,T-3,T-4");
	started(&f, "T-4", "run-b");
	finished(&f, "T-4", "run-b", true, NULL);
	assert_string_equal(state_of(&f, "T-1"), "Blocked");
	assert_non_null(strstr(last_comment(&f, "T-1"),
	    "2/3 steps done (66.7%), 1 cancelled - partially_cancelled"));
	d = campaigns(&f, "partially_cancelled");
	assert_int_equal(json_array_size(json_object_get(d, "campaigns")), 1);
	assert_string_equal(
	    tb_str(d, "campaigns.0.cancelled_step_ids.0"), "T-3");
	json_decref(d);
	/* the original's campaign_store names: done + cancelled > 0 and
	 * not all of either is "partial" */
	d = campaigns(&f, "partial");
	assert_int_equal(json_array_size(json_object_get(d, "campaigns")), 1);
	assert_string_equal(
	    tb_str(d, "campaigns.0.original_status"), "partial");
	json_decref(d);

	/* plan: multi-step, every step Done: complete, the parent Done */
	d = add_req(&f,
	    json_pack("{s:s, s:s, s:s, s:[s]}", "repo_key", "demo", "title",
	        "Tidy the logging", "goal", "Make the log lines uniform.",
	        "labels", "plan: multi-step"));
	assert_string_equal(tb_str(d, "task_id"), "T-5");
	json_decref(d);
	/* its backend proposes no plan: the stub plan */
	started(&f, "T-5", "run-q");
	finished(&f, "T-5", "run-q", true, NULL);
	assert_string_equal(state_of(&f, "T-6"), "Ready for AI");
	d = tb_task_show(f.topo, "T-6");
	assert_string_equal(
	    tb_str(d, "task.title"), "Analyze: Tidy the logging");
	json_decref(d);
	started(&f, "T-6", "run-c");
	finished(&f, "T-6", "run-c", true, NULL);
	started(&f, "T-7", "run-d");
	finished(&f, "T-7", "run-d", true, NULL);
	started(&f, "T-8", "run-e");
	finished(&f, "T-8", "run-e", true, NULL);
	assert_string_equal(state_of(&f, "T-5"), "Done");
	assert_non_null(strstr(last_comment(&f, "T-5"),
	    "3/3 steps done (100.0%), 0 cancelled - complete"));
	d = campaigns(&f, "complete");
	assert_int_equal(json_array_size(json_object_get(d, "campaigns")), 1);
	assert_string_equal(tb_str(d, "campaigns.0.campaign_id"), "C-T-5");
	json_decref(d);
	d = campaigns(&f, "completed"); /* the original's name */
	assert_int_equal(json_array_size(json_object_get(d, "campaigns")), 1);
	assert_string_equal(tb_str(d, "campaigns.0.campaign_id"), "C-T-5");
	assert_string_equal(
	    tb_str(d, "campaigns.0.original_status"), "completed");
	json_decref(d);
	ev = events(&f, "campaign.progress");
	assert_string_equal(tb_str(ev, "0.body.status"), "pending");
	assert_string_equal(
	    tb_str(json_array_get(ev, json_array_size(ev) - 1), "body.status"),
	    "complete");
	json_decref(ev);

	/* a plain task is no campaign; a bad status is refused */
	assert_string_equal(add(&f, "demo", "fix the typo in README"), "T-9");
	d = campaigns(&f, NULL);
	assert_int_equal(json_array_size(json_object_get(d, "campaigns")), 2);
	json_decref(d);

	/* every step Cancelled: cancelled (the original's rule), the parent
	 * Blocked for a human */
	d = add_req(&f,
	    json_pack("{s:s, s:s, s:s, s:[s]}", "repo_key", "demo", "title",
	        "Tidy the metrics", "goal", "Make the metric names uniform.",
	        "labels", "plan: multi-step"));
	assert_string_equal(tb_str(d, "task_id"), "T-10");
	json_decref(d);
	started(&f, "T-10", "run-r");
	finished(&f, "T-10", "run-r", true, NULL);
	{
		static char *const st[] = { "T-11", "T-12", "T-13" };

		for (size_t k = 0; k < 3; k++) {
			mv.task_id = st[k];
			mv.state   = MSG_TASK_STATE_CANCELLED;
			assert_int_equal(
			    tb_call(f.topo, "board-sync", MSG_BOARD_TASK_MOVE,
			        &mv, NULL, err, sizeof(err)),
			    0);
		}
	}
	assert_string_equal(state_of(&f, "T-10"), "Blocked");
	assert_non_null(strstr(last_comment(&f, "T-10"),
	    "0/3 steps done (0.0%), 3 cancelled - cancelled"));
	d = campaigns(&f, "cancelled");
	assert_int_equal(json_array_size(json_object_get(d, "campaigns")), 1);
	assert_string_equal(tb_str(d, "campaigns.0.campaign_id"), "C-T-10");
	assert_string_equal(
	    tb_str(d, "campaigns.0.original_status"), "cancelled");
	json_decref(d);
	{
		struct msg_board_campaigns q = { "nope" };

		assert_int_equal(
		    tb_call(f.topo, "board-sync", MSG_BOARD_CAMPAIGNS, &q,
		        NULL, err, sizeof(err)),
		    ERR_INVAL);
	}
	fx_stop(&f);
}

/* paused: budget.decision reason paused (the router holds the task for
 * an operator's pause) is one comment with the pause's scope and reason;
 * a task whose run the pause stopped (exec.superseded paused) goes back
 * from Running to Ready for AI, and a late start of that run changes
 * nothing; the next run's start moves it to Running again. */
static void
test_paused(void **state)
{
	struct fx   f;
	char        t1[32], t2[32];
	const char *c;
	json_t     *ev;

	UNUSED(state);
	fx_start(&f, "paused");
	snprintf(t1, sizeof(t1), "%s", add(&f, "demo", "Wait"));
	snprintf(t2, sizeof(t2), "%s", add(&f, "demo", "Stopped"));
	inject(&f, "budget.decision",
	    json_pack("{s:s, s:s, s:b, s:s, s:s, s:s}", "reason", "paused",
	        "task_id", t1, "allowed", 0, "window", "pause", "scope",
	        "global", "note", "incident 9"));
	assert_string_equal(state_of(&f, t1), BOARD_READY);
	c = last_comment(&f, t1);
	assert_non_null(strstr(c, "Waiting: dispatch is paused"));
	assert_non_null(strstr(c, "scope: all repos"));
	assert_non_null(strstr(c, "reason: incident 9"));

	started(&f, t2, "r-p1");
	assert_string_equal(state_of(&f, t2), "Running");
	inject(&f, "exec.superseded",
	    json_pack("{s:s, s:s, s:s, s:s, s:s}", "run_id", "r-p1", "task_id",
	        t2, "executor", "executor", "by_run_id", "r-p2", "reason",
	        "paused"));
	inject(&f, "budget.decision",
	    json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:s}", "reason",
	        "paused", "task_id", t2, "allowed", 0, "window", "pause",
	        "scope", "repo", "repo_key", "demo", "note", "demo frozen"));
	assert_string_equal(state_of(&f, t2), BOARD_READY);
	c = last_comment(&f, t2);
	assert_non_null(strstr(c, "scope: demo"));
	assert_non_null(strstr(c, "opc resume --repo demo"));
	ev = events(&f, "task.ready");
	assert_int_equal(json_array_size(ev), 2); /* no new task.ready */
	json_decref(ev);
	started(&f, t2, "r-p1"); /* late: taken back */
	assert_string_equal(state_of(&f, t2), BOARD_READY);
	started(&f, t2, "r-p2");
	assert_string_equal(state_of(&f, t2), "Running");
	fx_stop(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_policy_block),
		cmocka_unit_test(test_run_outcomes),
		cmocka_unit_test(test_answer),
		cmocka_unit_test(test_self_heal),
		cmocka_unit_test(test_paused),
		cmocka_unit_test(test_quota_exhausted),
		cmocka_unit_test(test_quality_note),

		cmocka_unit_test(test_impact),
		cmocka_unit_test(test_proposal),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_campaign),
	};

	log_init("test_board_sync", NULL, LOG_WARN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
