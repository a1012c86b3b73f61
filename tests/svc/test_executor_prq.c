/*
 * test_executor_prq.c - pull request caps per repo (issue 20, item 1):
 * the real router dispatches to the real executor in-process, which runs
 * the real opc-exec-run (stub backend) against opc-fixture-github (git
 * over HTTP with the token, the pulls API), and board-sync follows.
 *
 * max_open_prs 1: the first run opens its pull request; the next two
 * succeed with their branches pushed and wait (exec.pr.waiting with the
 * reason, the queue in the executor's status, board-sync's comment and
 * In Review).  Closing the first opens the second's (exec.pr.opened, in
 * order; the third still waits, the cap being full again).  The executor
 * is then stopped without its shutdown hook while the third's pull
 * request is created on GitHub, as if an earlier life had created it and
 * died before deleting its row: the next life opens no second one.
 *
 * test_cancel: a task cancelled while its pull request waits has it
 * dropped (never opened when the cap frees), and a task a pause holds in
 * the router, cancelled, is never dispatched.
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

#include <cmocka.h>

#include "board.h"
#include "executor.h"
#include "opc/http.h"
#include "recorder.h"
#include "router.h"
#include "tb_http.h"
#include "testbed.h"

#define WAIT (3 * TB_WAIT_MS)
#define TOKEN "ghp_prqTestToken0123456789"

struct fx {
	char          *dir;
	struct topo   *topo;
	struct tb_svc *ex, *router, *bs, *rec;
	pid_t          gh;
	int            port;
};

/* gh sends method path body (NULL: none) to the fixture with the token;
 * the JSON answer (new), asserting the status. */
static json_t *
gh(struct fx *f, const char *method, const char *path, const char *body,
    int want)
{
	static const char *const hdrs[] = { "Authorization: Bearer " TOKEN,
		NULL };

	return (tb_http(f->port, method, path, hdrs,
	    body != NULL ? json_loads(body, 0, NULL) : NULL, want));
}

/* pulls_of: the fixture's pull requests of head ref; *posts the creates
 * asked for so far. */
static size_t
pulls_of(struct fx *f, const char *ref, size_t *posts)
{
	json_t *st = gh(f, "GET", "/_fixture/state", NULL, 200), *v;
	size_t  i, n = 0;

	json_array_foreach (json_object_get(st, "pulls"), i, v)
		n += strcmp(tb_str(v, "head.ref"), ref) == 0;
	*posts = 0;
	json_array_foreach (json_object_get(st, "requests"), i, v)
		*posts += strncmp(json_string_value(v),
		              "POST /repos/acme/demo/pulls", 27) == 0;
	json_decref(st);
	return (n);
}

static void
fx_start(struct fx *f)
{
	char        bin[512], portfile[512], log[512], root[512];
	const char *argv[] = { bin, "--port-file", portfile, "--token", TOKEN,
		"--git-root", root, NULL };
	char       *yaml;

	memset(f, 0, sizeof(*f));
	f->dir = tb_dir();
	setenv("HOME", f->dir, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("TEST_PRQ_TOKEN", TOKEN, 1);
	tb_sh(
	    "set -e; cd %s; mkdir -p gh/acme; git init -q --bare -b main "
	    "gh/acme/demo.git; git init -q -b main src; cd src; echo hello > "
	    "README.md; git add -A; git -c user.name=t -c "
	    "user.email=t@example.com commit -q -m init; git push -q "
	    "../gh/acme/demo.git main",
	    f->dir);
	snprintf(bin, sizeof(bin), "%s/opc-fixture-github", OPC_BIN_DIR);
	snprintf(portfile, sizeof(portfile), "%s/gh.port", f->dir);
	snprintf(log, sizeof(log), "%s/gh.log", f->dir);
	snprintf(root, sizeof(root), "%s/gh", f->dir);
	f->gh   = tb_fixture((char *const *) argv, log, portfile, &f->port);
	yaml    = xasprintf("opcenter:\n"
	                       "  state_dir: %s/state\n"
	                       "  heartbeat_ms: 50\n"
	                       "  stale_after_ms: 10000\n"
	                       "git:\n"
	                       "  token_env: TEST_PRQ_TOKEN\n"
	                       "github:\n"
	                       "  api_url: http://127.0.0.1:%d\n"
	                       "repos:\n"
	                       "  demo:\n"
	                       "    clone_url: http://127.0.0.1:%d/acme/demo.git\n"
	                       "    github_repo: acme/demo\n"
	                       "    default_branch: main\n"
	                       "    validation_commands: []\n"
	                       "    open_pr: true\n"
	                       "    max_open_prs: 1\n"
	                       "    max_prs_per_hour: 0\n"
	                       "instances:\n"
	                       "  router:\n"
	                       "    upstreams: [executor, board-sync]\n"
	                       "    pub: inproc://prq-router.pub\n"
	                       "    ctl: inproc://prq-router.ctl\n"
	                       "    idle_ms: 20\n"
	                       "    catchup_grace_ms: 100\n"
	                       "    default: { lane: aider_local, backend: stub }\n"
	                       "    rules: [{ name: slow, when: { labels_any: "
	                       "[slow] }, lane: aider_local, backend: slow }]\n"
	                       "  executor:\n"
	                       "    upstreams: [router]\n"
	                       "    pub: inproc://prq-ex.pub\n"
	                       "    ctl: inproc://prq-ex.ctl\n"
	                       "    idle_ms: 20\n"
	                       "    catchup_grace_ms: 100\n"
	                       "    max_parallel: 1\n"
	                       "    worker: %s\n"
	                       "    workspace_root: ws\n"
	                       "    pr_cap_cache_seconds: 0\n"
	                       "    backends:\n"
	                       "      stub: { kind: stub }\n"
	                       "      slow: { kind: command, argv: [sleep, "
	                       "\"600\"], sandbox: off }\n"
	                       "  board-sync:\n"
	                       "    upstreams: [router, executor]\n"
	                       "    pub: inproc://prq-bs.pub\n"
	                       "    ctl: inproc://prq-bs.ctl\n"
	                       "    board: local\n"
	                       "    idle_ms: 20\n"
	                       "    catchup_grace_ms: 100\n"
	                       "  recorder:\n"
	                       "    upstreams: [router, executor]\n"
	                       "    pub: inproc://prq-rec.pub\n"
	                       "    ctl: inproc://prq-rec.ctl\n"
	                       "    idle_ms: 20\n"
	                       "    catchup_grace_ms: 100\n",
	       f->dir, f->port, f->port, EXEC_RUN_BIN);
	f->topo = tb_topo(f->dir, yaml);
	free(yaml);
	f->router = tb_start(&router_def, f->topo, "router");
	f->bs     = tb_start(&board_def, f->topo, "board-sync");
	f->rec    = tb_start(&recorder_def, f->topo, "recorder");
	f->ex     = tb_start_caught_up(&executor_def, f->topo, "executor");
}

static void
fx_stop(struct fx *f)
{
	tb_shutdown(&f->ex);
	tb_stop(&f->rec);
	tb_stop(&f->bs);
	tb_stop(&f->router);
	topo_close(&f->topo);
	tb_fixture_stop(&f->gh);
	tb_rmrf(f->dir);
	free(f->dir);
}

/* add asks board-sync for a task of demo (Ready: the router dispatches
 * it) and returns its id (new). */
static char *
add(struct fx *f)
{
	json_t *d  = NULL;
	json_t *rq = json_pack("{s:s, s:s}", "repo_key", "demo", "goal",
	    "Write the demo artifact");
	char   *id, err[256];

	if (tb_call_json(f->topo, "board-sync", MSG_BOARD_TASK_ADD, rq, &d,
	        err, sizeof(err)) != 0)
		fail_msg("task_add: %s", err);
	json_decref(rq);
	id = xstrdup(tb_str(d, "task_id"));
	json_decref(d);
	return (id);
}

/* comment_has: a board comment of task contains text. */
static bool
comment_has(struct fx *f, const char *task, const char *text)
{
	json_t *d = tb_task_show(f->topo, task), *v;
	size_t  i;
	bool    found = false;

	json_array_foreach (tb_get(d, "comments"), i, v)
		if (tb_str(v, "body") != NULL &&
		    strstr(tb_str(v, "body"), text) != NULL)
			found = true;
	json_decref(d);
	return (found);
}

/* state_is: task's board state (polled until it is want, bounded). */
static bool
state_is(struct fx *f, const char *task, const char *want)
{
	json_t *d;
	bool    ok = false;
	int     i;

	for (i = 0; i < 200 && !ok; i++) {
		d  = tb_task_show(f->topo, task);
		ok = tb_str(d, "task.state") != NULL &&
		    strcmp(tb_str(d, "task.state"), want) == 0;
		json_decref(d);
		if (!ok)
			sleep_ms(50);
	}
	return (ok);
}

/* recorded: the result.json of run's evidence folder once the recorder
 * wrote it with pr_state want (polled, bounded); NULL when it never
 * does.  New. */
static json_t *
recorded(struct fx *f, const char *run, const char *want)
{
	struct msg_recorder_run_show rq = { (char *) run };
	json_t                      *d, *res;
	char                         err[256], *p;
	int                          i;

	for (i = 0; i < 200; i++) {
		d   = NULL;
		res = NULL;
		if (tb_call(f->topo, "recorder", MSG_RECORDER_RUN_SHOW, &rq,
		        &d, err, sizeof(err)) == 0 &&
		    json_is_true(tb_get(d, "written")) &&
		    tb_str(d, "path") != NULL) {
			p   = xasprintf("%s/result.json", tb_str(d, "path"));
			res = json_load_file(p, 0, NULL);
			free(p);
		}
		json_decref(d);
		if (tb_str(res, "pr_state") != NULL &&
		    strcmp(tb_str(res, "pr_state"), want) == 0)
			return (res);
		json_decref(res);
		sleep_ms(50);
	}
	return (NULL);
}

static void
test_caps_queue(void **state)
{
	struct fx   f;
	json_t     *fin, *wait, *open, *st;
	const char *b2, *b3, *r2, *r3;
	char       *url3, path[128], body[256], *t1, *t2, *t3;
	size_t      posts, posts2;
	int64_t     n3;

	UNUSED(state);
	fx_start(&f);
	assert_int_equal(tb_wait_int(f.topo, "router",
	                     "executors.executor.free_slots", 1, WAIT),
	    1);
	/* the first opens its pull request (#1) */
	t1  = add(&f);
	fin = tb_wait_events(f.topo, "executor", "exec.finished", 1, WAIT);
	if (!json_is_true(tb_get(fin, "0.body.success")))
		fail_msg("run failed: %s: %s",
		    tb_str(fin, "0.body.failure_category"),
		    tb_str(fin, "0.body.failure_reason"));
	assert_string_equal(tb_str(fin, "0.body.result.pr_state"), "opened");
	assert_non_null(strstr(
	    tb_str(fin, "0.body.pull_request_url"), "/acme/demo/pull/1"));
	json_decref(fin);

	/* the next two succeed, pushed, and wait in order */
	t2  = add(&f);
	fin = tb_wait_events(f.topo, "executor", "exec.finished", 2, WAIT);
	assert_int_equal(json_array_size(fin), 2);
	json_decref(fin);
	t3  = add(&f);
	fin = tb_wait_events(f.topo, "executor", "exec.finished", 3, WAIT);
	assert_int_equal(json_array_size(fin), 3);
	assert_true(json_is_true(tb_get(fin, "1.body.success")));
	assert_true(json_is_true(tb_get(fin, "2.body.success")));
	assert_true(json_is_true(tb_get(fin, "2.body.result.branch_pushed")));
	assert_string_equal(tb_str(fin, "1.body.result.pr_state"), "waiting");
	assert_string_equal(tb_str(fin, "2.body.result.pr_state"), "waiting");
	assert_null(tb_str(fin, "2.body.pull_request_url"));
	json_decref(fin);
	wait = tb_wait_events(f.topo, "executor", "exec.pr.waiting", 2, WAIT);
	assert_int_equal(json_array_size(wait), 2);
	assert_string_equal(tb_str(wait, "0.body.task_id"), t2);
	assert_string_equal(tb_str(wait, "1.body.task_id"), t3);
	assert_int_equal(tb_int(wait, "0.body.position"), 1);
	assert_int_equal(tb_int(wait, "1.body.position"), 2);
	assert_non_null(strstr(tb_str(wait, "0.body.reason"),
	    "max_open_prs: 1 of opcenter's pull requests (opcenter/*) are "
	    "open, "
	    "the cap is 1"));
	assert_string_equal(tb_str(wait, "1.body.reason"),
	    "1 earlier pull request of this repository waits before it");
	r2 = tb_str(wait, "0.body.run_id");
	r3 = tb_str(wait, "1.body.run_id");
	b2 = tb_str(wait, "0.body.branch_name");
	b3 = tb_str(wait, "1.body.branch_name");
	assert_non_null(b2);
	assert_non_null(b3);
	assert_int_equal(pulls_of(&f, b2, &posts), 0);
	assert_int_equal(pulls_of(&f, b3, &posts), 0);
	/* visible: the executor's status, the board */
	st = tb_status(f.topo, "executor");
	assert_int_equal(json_array_size(tb_get(st, "pr_queue.demo")), 2);
	assert_string_equal(tb_str(st, "pr_queue.demo.0.task_id"), t2);
	assert_string_equal(tb_str(st, "pr_queue.demo.1.task_id"), t3);
	json_decref(st);
	assert_int_equal(
	    tb_wait_int(f.topo, "board-sync", "counters.pr_waiting", 2, WAIT),
	    2);
	assert_true(comment_has(&f, t2, "Pull request waiting"));
	assert_true(comment_has(&f, t3, "earlier pull request"));
	assert_true(comment_has(&f, t2, "- pull_request: waiting (max_open"));
	/* done, but not Done without its pull request */
	assert_true(state_is(&f, t1, "Done"));
	assert_true(state_is(&f, t2, "In Review"));
	assert_true(state_is(&f, t3, "In Review"));

	/* a human closes #1: T-2's opens, T-3's still waits (full again) */
	json_decref(gh(&f, "PATCH", "/repos/acme/demo/pulls/1",
	    "{\"state\":\"closed\"}", 200));
	open = tb_wait_events(f.topo, "executor", "exec.pr.opened", 1, WAIT);
	assert_int_equal(json_array_size(open), 1);
	assert_string_equal(tb_str(open, "0.body.run_id"), r2);
	assert_non_null(strstr(
	    tb_str(open, "0.body.pull_request_url"), "/acme/demo/pull/2"));
	json_decref(open);
	assert_int_equal(pulls_of(&f, b2, &posts), 1);
	assert_int_equal(tb_wait_int(f.topo, "executor",
	                     "counters.pr_opened_from_queue", 1, WAIT),
	    1);
	st = tb_status(f.topo, "executor");
	assert_int_equal(json_array_size(tb_get(st, "pr_queue.demo")), 1);
	assert_string_equal(tb_str(st, "pr_queue.demo.0.run_id"), r3);
	json_decref(st);
	assert_true(state_is(&f, t2, "Done"));
	assert_true(comment_has(&f, t2, "Pull request opened"));
	/* the evidence says so too: the recorder wrote the folder again */
	st = recorded(&f, r2, "opened");
	assert_non_null(st);
	assert_non_null(
	    strstr(tb_str(st, "pull_request_url"), "/acme/demo/pull/2"));
	json_decref(st);
	assert_true(state_is(&f, t3, "In Review"));

	/* the executor dies; GitHub got T-3's pull request from it (its
	 * row not deleted): the next life finds it, opens none */
	tb_stop(&f.ex);
	snprintf(body, sizeof(body),
	    "{\"title\":\"t\",\"head\":\"%s\",\"base\":\"main\"}", b3);
	st = gh(&f, "POST", "/repos/acme/demo/pulls", body, 201);
	n3 = tb_int(st, "number");
	json_decref(st);
	assert_int_equal(pulls_of(&f, b3, &posts), 1);
	f.ex = tb_start_caught_up(&executor_def, f.topo, "executor");
	open = tb_wait_events(f.topo, "executor", "exec.pr.opened", 2, WAIT);
	assert_int_equal(json_array_size(open), 2);
	assert_string_equal(tb_str(open, "1.body.run_id"), r3);
	snprintf(path, sizeof(path), "/acme/demo/pull/%lld", (long long) n3);
	url3 = xstrdup(tb_str(open, "1.body.pull_request_url"));
	assert_non_null(strstr(url3, path));
	json_decref(open);
	assert_int_equal(pulls_of(&f, b3, &posts2), 1);
	assert_int_equal(posts2, posts);
	st = tb_status(f.topo, "executor");
	assert_int_equal(json_object_size(tb_get(st, "pr_queue")), 0);
	json_decref(st);
	assert_true(state_is(&f, t3, "Done"));
	free(url3);
	free(t1);
	free(t2);
	free(t3);
	json_decref(wait);
	fx_stop(&f);
}

/* held: the router said it holds task (budget.decision, paused),
 * polled (bounded). */
static bool
held(struct fx *f, const char *task)
{
	json_t *ev, *v;
	size_t  i;
	int     n;
	bool    yes = false;

	for (n = 0; n < 200 && !yes; n++) {
		ev = tb_events(f->topo, "router", "budget.decision");
		json_array_foreach (ev, i, v)
			yes = yes ||
			    (tb_str(v, "body.task_id") != NULL &&
			        strcmp(tb_str(v, "body.task_id"), task) == 0 &&
			        tb_str(v, "body.reason") != NULL &&
			        strcmp(tb_str(v, "body.reason"), "paused") ==
			            0);
		json_decref(ev);
		if (!yes)
			sleep_ms(50);
	}
	return (yes);
}

/* move puts task in state on the board, as `opc task move` does. */
static void
move(struct fx *f, const char *task, enum msg_task_state to)
{
	struct msg_board_task_move rq = { .task_id = (char *) task,
		.state                             = to };
	char                       err[256];

	if (tb_call(f->topo, "board-sync", MSG_BOARD_TASK_MOVE, &rq, NULL, err,
	        sizeof(err)) != 0)
		fail_msg("task_move %s: %s", task, err);
}

/* A task cancelled on the board costs nothing more: its queued pull
 * request is dropped (never opened, even when the cap frees a place),
 * and a task the router still holds is never dispatched. */
static void
test_cancel(void **state)
{
	struct fx   f;
	json_t     *fin, *ev, *st, *d = NULL;
	const char *b2, *r2;
	char       *t1, *t2, *t3, err[256];
	size_t      posts, posts2;

	UNUSED(state);
	fx_start(&f);
	assert_int_equal(tb_wait_int(f.topo, "router",
	                     "executors.executor.free_slots", 1, WAIT),
	    1);
	t1  = add(&f);
	fin = tb_wait_events(f.topo, "executor", "exec.finished", 1, WAIT);
	assert_string_equal(tb_str(fin, "0.body.result.pr_state"), "opened");
	json_decref(fin);
	t2 = add(&f);
	ev = tb_wait_events(f.topo, "executor", "exec.pr.waiting", 1, WAIT);
	assert_int_equal(json_array_size(ev), 1);
	r2 = tb_str(ev, "0.body.run_id");
	b2 = tb_str(ev, "0.body.branch_name");
	assert_true(state_is(&f, t2, "In Review"));

	/* cancelled while its pull request waits: dropped, said once */
	move(&f, t2, MSG_TASK_STATE_CANCELLED);
	fin = tb_wait_events(f.topo, "executor", "exec.pr.dropped", 1, WAIT);
	assert_int_equal(json_array_size(fin), 1);
	assert_string_equal(tb_str(fin, "0.body.run_id"), r2);
	assert_string_equal(tb_str(fin, "0.body.task_id"), t2);
	assert_string_equal(tb_str(fin, "0.body.branch_name"), b2);
	assert_string_equal(
	    tb_str(fin, "0.body.reason"), "cancelled on the board");
	json_decref(fin);
	fin = tb_events(f.topo, "router", "exec.cancel");
	assert_int_equal(json_array_size(fin), 1);
	json_decref(fin);
	st = tb_status(f.topo, "executor");
	assert_int_equal(json_object_size(tb_get(st, "pr_queue")), 0);
	json_decref(st);
	assert_int_equal(
	    tb_wait_int(f.topo, "board-sync", "counters.pr_dropped", 1, WAIT),
	    1);
	assert_true(comment_has(&f, t2, "Pull request dropped"));
	assert_true(state_is(&f, t2, "Cancelled"));
	st = recorded(&f, r2, "dropped");
	assert_non_null(st);
	assert_string_equal(
	    tb_str(st, "pr_drop_reason"), "cancelled on the board");
	assert_null(tb_str(st, "pull_request_url"));
	json_decref(st);

	/* the cap frees its place: nothing is opened for the dropped one */
	(void) pulls_of(&f, b2, &posts);
	json_decref(gh(&f, "PATCH", "/repos/acme/demo/pulls/1",
	    "{\"state\":\"closed\"}", 200));
	sleep_ms(500); /* several ticks with pr_cap_cache_seconds 0 */
	assert_int_equal(pulls_of(&f, b2, &posts2), 0);
	assert_int_equal(posts2, posts);
	fin = tb_events(f.topo, "executor", "exec.pr.opened");
	assert_int_equal(json_array_size(fin), 0);
	json_decref(fin);

	/* held by a pause, then cancelled: never dispatched after resume */
	{
		struct msg_router_pause  p = { .reason = "test" };
		struct msg_router_resume r = { 0 };

		if (tb_call(f.topo, "router", MSG_ROUTER_PAUSE, &p, NULL, err,
		        sizeof(err)) != 0)
			fail_msg("pause: %s", err);
		t3 = add(&f);
		assert_true(held(&f, t3));
		move(&f, t3, MSG_TASK_STATE_CANCELLED);
		assert_int_equal(tb_wait_int(f.topo, "router",
		                     "counters.cancelled", 2, WAIT),
		    2);
		if (tb_call(f.topo, "router", MSG_ROUTER_RESUME, &r, &d, err,
		        sizeof(err)) != 0)
			fail_msg("resume: %s", err);
		json_decref(d);
	}
	sleep_ms(500); /* dispatch passes after the resume */
	fin = tb_events(f.topo, "router", "exec.dispatch");
	assert_int_equal(json_array_size(fin), 2); /* T-1's and T-2's */
	json_decref(fin);
	assert_true(state_is(&f, t3, "Cancelled"));
	free(t1);
	free(t2);
	free(t3);
	json_decref(ev);
	fx_stop(&f);
}

/* A task cancelled while its run is in flight: the router takes the run
 * back (exec.superseded reason cancelled, no next run), the executor
 * stops its worker at once (the run would sleep 600 s), nothing is
 * dispatched again and the board keeps the human's Cancelled. */
static void
test_cancel_running(void **state)
{
	struct fx f;
	json_t   *rq, *d = NULL, *ev;
	char      err[256], *t, *run;

	UNUSED(state);
	fx_start(&f);
	assert_int_equal(tb_wait_int(f.topo, "router",
	                     "executors.executor.free_slots", 1, WAIT),
	    1);
	rq = json_pack("{s:s, s:s, s:[s]}", "repo_key", "demo", "goal",
	    "Take your time", "labels", "slow");
	if (tb_call_json(f.topo, "board-sync", MSG_BOARD_TASK_ADD, rq, &d, err,
	        sizeof(err)) != 0)
		fail_msg("task_add: %s", err);
	json_decref(rq);
	t = xstrdup(tb_str(d, "task_id"));
	json_decref(d);
	ev  = tb_wait_events(f.topo, "executor", "exec.started", 1, WAIT);
	run = xstrdup(tb_str(ev, "0.body.run_id"));
	json_decref(ev);
	assert_true(state_is(&f, t, "Running"));

	move(&f, t, MSG_TASK_STATE_CANCELLED);
	ev = tb_wait_events(f.topo, "router", "exec.superseded", 1, WAIT);
	assert_int_equal(json_array_size(ev), 1);
	assert_string_equal(tb_str(ev, "0.body.run_id"), run);
	assert_string_equal(tb_str(ev, "0.body.reason"), "cancelled");
	assert_null(tb_str(ev, "0.body.by_run_id"));
	json_decref(ev);
	/* the worker stops (its sleep of 600 s would outlast WAIT) */
	ev = tb_wait_events(f.topo, "executor", "exec.finished", 1, WAIT);
	assert_int_equal(json_array_size(ev), 1);
	assert_string_equal(tb_str(ev, "0.body.run_id"), run);
	assert_false(json_is_true(tb_get(ev, "0.body.success")));
	json_decref(ev);
	sleep_ms(300); /* dispatch passes after it */
	ev = tb_events(f.topo, "router", "exec.dispatch");
	assert_int_equal(json_array_size(ev), 1);
	json_decref(ev);
	assert_true(state_is(&f, t, "Cancelled"));
	assert_true(comment_has(&f, t, "reason: cancelled"));
	free(run);
	free(t);
	fx_stop(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caps_queue),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_cancel_running),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
