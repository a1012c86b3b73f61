/*
 * test_plane_campaign.c - campaigns in Plane mode (issue 18 item 5),
 * in-process: board-sync against a real opc-fixture-plane, the router's
 * and the executor's events fed with ctl inject.
 *   - a Ready goal item titled "Refactor ..." is claimed and its run is a
 *     planning run (cp:plan in task.ready's goal);
 *   - its plan of three steps becomes three work items, children of the
 *     goal (parent), external ids campaign:<C>:<k>, made once: the answer
 *     to the first create is lost (the fixture stores the item and drops
 *     the answer: Plane's 409 with the id answers the retry) and
 *     board-sync restarts while they are made;
 *   - the steps run one after another (each claimed, its own task.ready):
 *     step 1 by a run, step 2 ended by a human in Plane (seen from its
 *     item's state), step 3 by a run; the goal gets progress comments
 *     and ends Done, the campaign complete;
 *   - a "plan: multi-step" goal whose backend proposes nothing gets the
 *     stub plan; a human cancels each step in Plane: the campaign ends
 *     cancelled (3 cancelled counted), the goal Blocked;
 *   - only alice may trigger runs (plane.authorized_members): the steps,
 *     made and moved to Ready by opcenter's own key, run as her goal's;
 *   - a human's moves in Plane are journaled (task.updated reason plane);
 *     a running step whose item is deleted is cancelled at the next
 *     whole listing (reason plane_vanished) and the campaign goes on.
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
#include "tb_http.h"
#include "testbed.h"

#define WAIT TB_WAIT_MS
#define KEY "plane-campaign-test-key"
#define PROJ "11111111-1111-1111-1111-111111111111"
#define ALICE "aaaaaaaa-0000-0000-0000-000000000001"
#define GOAL "Refactor the config loader"

extern const struct svc_def board_def;

struct fx {
	char          *dir;
	struct topo   *topo;
	struct tb_svc *bs;
	pid_t          pl;
	int            port;
};

/* call: a request to the Plane fixture (with the API key) */
static json_t *
call(struct fx *f, const char *method, const char *path, json_t *body)
{
	static const char *const hdrs[] = { "X-API-Key: " KEY, NULL };

	return (tb_http(f->port, method, path, hdrs, body, 0));
}

static void
fx_start(struct fx *f)
{
	char        bin[512], portfile[512], log[512], seed[512], *yaml;
	const char *argv[] = { bin, "--port-file", portfile, "--api-key", KEY,
		"--workspace", "ws", "--project", PROJ, "--seed", seed,
		"--rate-limit", "100/second", NULL };
	json_t     *s;

	memset(f, 0, sizeof(*f));
	f->dir = tb_dir();
	snprintf(bin, sizeof(bin), "%s/opc-fixture-plane", OPC_BIN_DIR);
	snprintf(portfile, sizeof(portfile), "%s/plane.port", f->dir);
	snprintf(log, sizeof(log), "%s/plane.log", f->dir);
	snprintf(seed, sizeof(seed), "%s/seed.json", f->dir);
	s = json_pack("{s:[{s:s,s:s,s:b}, {s:s,s:s}, {s:s,s:s}, {s:s,s:s},"
	              " {s:s,s:s}, {s:s,s:s}], s:[{s:s,s:s,s:i}],"
	              " s:[{s:s, s:s, s:[s, s], s:s, s:s}]}",
	    "states", "name", "Backlog", "group", "backlog", "default", 1,
	    "name", "Ready for AI", "group", "unstarted", "name", "Running",
	    "group", "started", "name", "Blocked", "group", "started", "name",
	    "Done", "group", "completed", "name", "Cancelled", "group",
	    "cancelled", "members", "id", ALICE, "email", "alice@example.test",
	    "role", 20, "work_items", "name", GOAL, "state", "Ready for AI",
	    "labels", "repo: demo", "task-kind: goal", "description_html",
	    "<p>Split the config loader into a parser and a validator.</p>",
	    "created_by", ALICE);
	assert_int_equal(json_dump_file(s, seed, 0), 0);
	json_decref(s);
	f->pl = tb_fixture((char *const *) argv, log, portfile, &f->port);
	setenv("TEST_CAMP_PLANE_KEY", KEY, 1);
	yaml    = xasprintf("opcenter:\n"
	                       "  state_dir: %s/state\n"
	                       "  heartbeat_ms: 50\n"
	                       "plane:\n"
	                       "  base_url: http://127.0.0.1:%d\n"
	                       "  api_token_env: TEST_CAMP_PLANE_KEY\n"
	                       "  workspace_slug: ws\n"
	                       "  project_id: " PROJ "\n"
	                       "  rate_limit: 100/second\n"
	                       "  authorized_members: [alice@example.test]\n"
	                       "  full_sync: 300ms\n"
	                       "repos:\n"
	                       "  demo:\n"
	                       "    clone_url: %s/demo.git\n"
	                       "instances:\n"
	                       "  router:\n"
	                       "    pub: inproc://pc-router.pub\n"
	                       "    ctl: inproc://pc-router.ctl\n"
	                       "  executor:\n"
	                       "    pub: inproc://pc-ex.pub\n"
	                       "    ctl: inproc://pc-ex.ctl\n"
	                       "  board-sync:\n"
	                       "    upstreams: [router, executor]\n"
	                       "    pub: inproc://pc-bs.pub\n"
	                       "    ctl: inproc://pc-bs.ctl\n"
	                       "    board: plane\n"
	                       "    poll_interval: 100ms\n"
	                       "    idle_ms: 20\n"
	                       "    catchup_grace_ms: 50\n",
	       f->dir, f->port, f->dir);
	f->topo = tb_topo(f->dir, yaml);
	free(yaml);
	f->bs = tb_start(&board_def, f->topo, "board-sync");
}

static void
fx_stop(struct fx *f)
{
	tb_stop(&f->bs);
	topo_close(&f->topo);
	tb_fixture_stop(&f->pl);
	tb_rmrf(f->dir);
	free(f->dir);
}

/* item: the work item called name (new reference), or NULL. */
static json_t *
item(struct fx *f, const char *name)
{
	return (tb_plane_item(f->port, name));
}

/* children: the work items whose parent is id (new array). */
static json_t *
children(struct fx *f, const char *id)
{
	json_t *s   = call(f, "GET", "/_fixture/state", NULL), *it;
	json_t *out = json_array();
	size_t  i;

	json_array_foreach (json_object_get(s, "work_items"), i, it) {
		const char *p =
		    json_string_value(json_object_get(it, "parent"));

		if (p != NULL && strcmp(p, id) == 0)
			json_array_append(out, it);
	}
	json_decref(s);
	return (out);
}

static bool
state_is(struct fx *f, const char *name, const char *state)
{
	json_t *it = item(f, name);
	bool    ok = it != NULL &&
	    strcmp(json_string_value(json_object_get(it, "state")), state) ==
	        0;

	json_decref(it);
	return (ok);
}

static bool
wait_state(struct fx *f, const char *name, const char *state)
{
	int64_t deadline = mono_ms() + WAIT;

	while (mono_ms() < deadline) {
		if (state_is(f, name, state))
			return (true);
		sleep_ms(50);
	}
	return (false);
}

/* comments_with: how many of name's comments contain text. */
static int
comments_with(struct fx *f, const char *name, const char *text)
{
	json_t *it = item(f, name), *c;
	size_t  i;
	int     n = 0;

	json_array_foreach (json_object_get(it, "comments"), i, c)
		n += strstr(
		         json_string_value(json_object_get(c, "comment_html")),
		         text) != NULL;
	json_decref(it);
	return (n);
}

static bool
wait_comment(struct fx *f, const char *name, const char *text)
{
	int64_t deadline = mono_ms() + WAIT;

	while (mono_ms() < deadline) {
		if (comments_with(f, name, text) > 0)
			return (true);
		sleep_ms(50);
	}
	return (false);
}

static void
inject(struct fx *f, const char *topic, json_t *body)
{
	tb_inject(f->topo, "board-sync", topic, NULL, body);
}

/* run: step id ran (a run started, finished with success). */
static void
run(struct fx *f, const char *id, const char *run_id)
{
	inject(f, "exec.started",
	    json_pack("{s:s, s:s, s:s, s:i}", "run_id", run_id, "task_id", id,
	        "executor", "executor", "attempt", 1));
	inject(f, "exec.finished",
	    json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:{s:s}}", "run_id",
	        run_id, "task_id", id, "status", "succeeded", "success", 1,
	        "executor", "executor", "branch_name", "goal/x", "result",
	        "commit_sha", "abc123"));
}

/* ready_for: the task.ready events of task id. */
static size_t
ready_for(struct fx *f, const char *id)
{
	json_t *ev = tb_events(f->topo, "board-sync", "task.ready"), *e;
	size_t  i, n = 0;

	json_array_foreach (ev, i, e)
		n += strcmp(tb_str(e, "body.task_id"), id) == 0;
	json_decref(ev);
	return (n);
}

static bool
wait_ready(struct fx *f, const char *id)
{
	int64_t deadline = mono_ms() + WAIT;

	while (mono_ms() < deadline) {
		if (ready_for(f, id) > 0)
			return (true);
		sleep_ms(50);
	}
	return (false);
}

/* moves counts board-sync's task.updated to state with reason ("plane":
 * a human's move seen in Plane; "plane_vanished": an item gone from it). */
static size_t
moves(struct fx *f, const char *reason, const char *state)
{
	json_t *ev = tb_events(f->topo, "board-sync", "task.updated"), *v;
	size_t  i, n = 0;

	json_array_foreach (ev, i, v)
		n += tb_str(v, "body.reason") != NULL &&
		    strcmp(tb_str(v, "body.reason"), reason) == 0 &&
		    strcmp(tb_str(v, "body.state"), state) == 0;
	json_decref(ev);
	return (n);
}

/* multi_step makes a Ready "plan: multi-step" goal item of alice's
 * called name, waits for its claim and its planning run's task.ready,
 * and finishes that run as run_id (the backend proposes no plan: the
 * stub one); gid gets the item's id. */
static void
multi_step(struct fx *f, const char *name, const char *desc,
    const char *run_id, char gid[64])
{
	json_t *g;

	json_decref(call(f, "POST", "/_fixture/workitem",
	    json_pack("{s:s, s:s, s:[s, s, s], s:s, s:s}", "name", name,
	        "state", "Ready for AI", "labels", "repo: demo",
	        "task-kind: goal", "plan: multi-step", "description_html",
	        desc, "created_by", ALICE)));
	assert_true(wait_state(f, name, "Running"));
	g = item(f, name);
	snprintf(gid, 64, "%s", tb_str(g, "id"));
	json_decref(g);
	assert_true(wait_ready(f, gid));
	run(f, gid, run_id);
}

static void
test_plane_campaign(void **state)
{
	static const char *steps[]   = { "Analyze: " GOAL, "Implement: " GOAL,
		  "Verify: " GOAL };
	struct msg_board_campaigns q = { NULL };
	struct fx                  f;
	json_t                    *g, *ev, *ch, *d, *it;
	char                       gid[64], sid[3][64], cid[80], eid[96];
	char                       path[256];
	char                       err[256];
	int64_t                    deadline, t0 = mono_ms();
	size_t                     i, k;

	(void) state;
	fx_start(&f);
	/* the goal is claimed; its run asks the backend for the plan */
	assert_true(wait_state(&f, GOAL, "Running"));
	g = item(&f, GOAL);
	snprintf(gid, sizeof(gid), "%s", tb_str(g, "id"));
	json_decref(g);
	snprintf(cid, sizeof(cid), "C-%s", gid);
	assert_true(wait_ready(&f, gid));
	ev = tb_events(f.topo, "board-sync", "task.ready");
	assert_non_null(strstr(tb_str(ev, "0.body.goal"), "<!-- cp:plan:"));
	json_decref(ev);
	assert_true(wait_comment(&f, GOAL, "asks the backend for its plan"));

	/* the plan: three steps; Plane stores the first item made but its
	 * answer is lost */
	json_decref(call(
	    &f, "POST", "/_fixture/lose", json_pack("{s:i}", "count", 1)));
	inject(&f, "exec.started",
	    json_pack("{s:s, s:s, s:s, s:i}", "run_id", "run-p", "task_id",
	        gid, "executor", "executor", "attempt", 1));
	inject(&f, "exec.finished",
	    json_pack("{s:s, s:s, s:s, s:b, s:s, s:{s:[s, s, s]}}", "run_id",
	        "run-p", "task_id", gid, "status", "succeeded", "success", 1,
	        "executor", "executor", "result", "plan",
	        "Analyze: find every caller of the loader",
	        "Implement: split it in two", "Verify: run the config tests"));
	/* board-sync restarts while the items are made */
	deadline = mono_ms() + WAIT;
	do {
		ch = children(&f, gid);
		k  = json_array_size(ch);
		json_decref(ch);
		if (k == 0)
			sleep_ms(10);
	} while (k == 0 && mono_ms() < deadline);
	assert_true(k > 0);
	tb_stop(&f.bs);
	f.bs = tb_start(&board_def, f.topo, "board-sync");

	/* the first step runs once all three are made */
	assert_true(wait_state(&f, steps[0], "Running"));
	ch = children(&f, gid);
	assert_int_equal(json_array_size(ch), 3);
	for (k = 0; k < 3; k++) {
		it = NULL;
		json_array_foreach (ch, i, g)
			if (strcmp(tb_str(g, "name"), steps[k]) == 0)
				it = g;
		assert_non_null(it);
		snprintf(sid[k], sizeof(sid[k]), "%s", tb_str(it, "id"));
		snprintf(eid, sizeof(eid), "campaign:%s:%zu", cid, k + 1);
		assert_string_equal(tb_str(it, "external_id"), eid);
		assert_string_equal(tb_str(it, "external_source"), "opcenter");
		assert_non_null(
		    strstr(tb_str(it, "description_html"), "Step "));
	}
	json_decref(ch);
	assert_true(state_is(&f, steps[1], "Backlog"));
	assert_true(state_is(&f, steps[2], "Backlog"));
	assert_true(wait_ready(&f, sid[0]));
	ev = tb_events(f.topo, "board-sync", "campaign.created");
	assert_int_equal(json_array_size(ev), 1);
	assert_string_equal(tb_str(ev, "0.body.campaign_id"), cid);
	assert_string_equal(tb_str(ev, "0.body.step_ids.0"), sid[0]);
	assert_string_equal(tb_str(ev, "0.body.step_ids.2"), sid[2]);
	json_decref(ev);
	assert_true(wait_comment(&f, GOAL, "work items are made"));

	/* step 1 runs and succeeds: progress on the goal, step 2 next */
	run(&f, sid[0], "run-a");
	assert_true(wait_state(&f, steps[0], "Done"));
	assert_true(wait_comment(&f, GOAL, "1/3 steps done (33.3%)"));
	assert_true(wait_state(&f, steps[1], "Running"));
	assert_true(wait_ready(&f, sid[1]));

	/* a human ends step 2 in Plane: seen from its item's state */
	json_decref(call(&f, "POST", "/_fixture/move",
	    json_pack("{s:s, s:s, s:s}", "item", steps[1], "state", "Done",
	        "actor", ALICE)));
	assert_true(wait_comment(&f, GOAL, "2/3 steps done (66.7%)"));
	assert_true(wait_state(&f, steps[2], "Running"));
	assert_true(wait_ready(&f, sid[2]));

	/* step 3 succeeds: the campaign is complete, the goal Done */
	run(&f, sid[2], "run-c");
	assert_true(wait_state(&f, GOAL, "Done"));
	assert_true(wait_comment(
	    &f, GOAL, "3/3 steps done (100.0%), 0 cancelled - complete"));
	assert_int_equal(tb_call(f.topo, "board-sync", MSG_BOARD_CAMPAIGNS, &q,
	                     &d, err, sizeof(err)),
	    0);
	assert_int_equal(json_array_size(tb_get(d, "campaigns")), 1);
	assert_string_equal(tb_str(d, "campaigns.0.campaign_id"), cid);
	assert_string_equal(tb_str(d, "campaigns.0.parent_task_id"), gid);
	assert_string_equal(tb_str(d, "campaigns.0.status"), "complete");
	assert_int_equal(tb_int(d, "campaigns.0.total_steps"), 3);
	assert_int_equal(tb_int(d, "campaigns.0.completed_steps"), 3);
	for (k = 0; k < 3; k++)
		assert_string_equal(json_string_value(json_array_get(
		                        tb_get(d, "campaigns.0.step_ids"), k)),
		    sid[k]);
	json_decref(d);
	/* each step ran once, each item was made once */
	for (k = 0; k < 3; k++)
		assert_int_equal(ready_for(&f, sid[k]), 1);
	assert_int_equal(ready_for(&f, gid), 1);
	ch = children(&f, gid);
	assert_int_equal(json_array_size(ch), 3);
	json_decref(ch);
	ev = tb_events(f.topo, "board-sync", "campaign.created");
	assert_int_equal(json_array_size(ev), 1);
	json_decref(ev);
	ev = tb_events(f.topo, "board-sync", "campaign.progress");
	assert_string_equal(
	    tb_str(json_array_get(ev, json_array_size(ev) - 1), "body.status"),
	    "complete");
	json_decref(ev);

	/* "plan: multi-step", the backend proposes nothing: the stub plan;
	 * a human cancels every step in Plane: counted, the campaign
	 * cancelled and the goal Blocked for a human */
	multi_step(&f, "Tidy the logging",
	    "<p>Make the log lines uniform.</p>", "run-q", gid);
	for (k = 0; k < 3; k++) {
		static const char *const stub[] = {
			"Analyze: Tidy the logging",
			"Implement: Tidy the logging",
			"Verify: Tidy the logging"
		};

		assert_true(wait_state(&f, stub[k], "Running"));
		json_decref(call(&f, "POST", "/_fixture/move",
		    json_pack("{s:s, s:s, s:s}", "item", stub[k], "state",
		        "Cancelled", "actor", ALICE)));
	}
	assert_true(wait_state(&f, "Tidy the logging", "Blocked"));
	assert_true(wait_comment(&f, "Tidy the logging",
	    "0/3 steps done (0.0%), 3 cancelled - cancelled"));
	q.status = "cancelled";
	assert_int_equal(tb_call(f.topo, "board-sync", MSG_BOARD_CAMPAIGNS, &q,
	                     &d, err, sizeof(err)),
	    0);
	assert_int_equal(json_array_size(tb_get(d, "campaigns")), 1);
	assert_string_equal(tb_str(d, "campaigns.0.planner"), "stub");
	assert_int_equal(
	    json_array_size(tb_get(d, "campaigns.0.cancelled_step_ids")), 3);
	json_decref(d);
	ch = children(&f, gid);
	assert_int_equal(json_array_size(ch), 3);
	json_decref(ch);
	/* a human's moves in Plane are journaled as ours are (the router
	 * ends a cancelled task's work, the proposer counts rejections) */
	assert_int_equal(moves(&f, "plane", "Done"), 1);
	assert_int_equal(moves(&f, "plane", "Cancelled"), 3);

	/* a running step's item deleted in Plane: the next whole listing
	 * misses it, so it is cancelled here and the campaign goes on */
	multi_step(&f, "Trim the config", "<p>Drop the unused keys.</p>",
	    "run-r", gid);
	assert_true(wait_state(&f, "Analyze: Trim the config", "Running"));
	g = item(&f, "Analyze: Trim the config");
	snprintf(path, sizeof(path),
	    "/api/v1/workspaces/ws/projects/" PROJ "/work-items/%s/",
	    tb_str(g, "id"));
	json_decref(g);
	json_decref(call(&f, "DELETE", path, NULL));
	assert_true(wait_state(&f, "Implement: Trim the config", "Running"));
	assert_true(wait_comment(&f, "Trim the config", "1 cancelled"));
	assert_int_equal(moves(&f, "plane", "Cancelled"), 3);
	assert_int_equal(moves(&f, "plane_vanished", "Cancelled"), 1);
	print_message("campaigns (Plane): 2 campaigns, 6 steps in %lld ms\n",
	    (long long) (mono_ms() - t0));
	fx_stop(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plane_campaign),
	};

	log_init("test_plane_campaign", NULL, LOG_WARN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
