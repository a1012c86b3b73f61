/*
 * test_plane_authz.c - only authorized triggers (issue 20) in-process:
 * board-sync in Plane mode against a real opc-fixture-plane with members
 * (roles, emails) and activity history (paged: one activity a page).
 * plane.authorized_members lists alice by email, authorized_roles admin:
 *   - an item alice created runs (claimed: Running, task.ready);
 *   - an item bob (a guest) created and alice moved to Ready runs;
 *   - an item carol (an admin) created runs (role);
 *   - an item only bob touched gets one comment, stays Ready, journals
 *     board.trigger_refused, and still has one comment after a restart;
 *   - the project members list answers 429 twice first: retried, nothing
 *     refused on its account;
 *   - carol's membership deleted: her next item is refused.
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
#define KEY "plane-authz-test-key"
#define PROJ "11111111-1111-1111-1111-111111111111"
#define ALICE "aaaaaaaa-0000-0000-0000-000000000001"
#define BOB "bbbbbbbb-0000-0000-0000-000000000002"
#define CAROL "cccccccc-0000-0000-0000-000000000003"

extern const struct svc_def board_def;

struct fx {
	char          *dir;
	struct topo   *topo;
	struct tb_svc *bs;
	pid_t          pl;
	int            port;
};

/* call: a request to the Plane fixture */
static json_t *
call(struct fx *f, const char *method, const char *path, json_t *body)
{
	return (tb_http(f->port, method, path, NULL, body, 0));
}

static json_t *
item(const char *name, const char *state, const char *by)
{
	return (json_pack("{s:s, s:s, s:[s, s], s:s, s:s}", "name", name,
	    "state", state, "labels", "repo: demo", "task-kind: goal",
	    "description_html", "<p>do it</p>", "created_by", by));
}

static void
plane_start(struct fx *f)
{
	char        bin[512], portfile[512], log[512], seed[512];
	const char *argv[] = { bin, "--port-file", portfile, "--api-key", KEY,
		"--workspace", "ws", "--project", PROJ, "--seed", seed,
		"--rate-limit", "50/second", NULL };
	json_t     *s;

	snprintf(bin, sizeof(bin), "%s/opc-fixture-plane", OPC_BIN_DIR);
	snprintf(portfile, sizeof(portfile), "%s/plane.port", f->dir);
	snprintf(log, sizeof(log), "%s/plane.log", f->dir);
	snprintf(seed, sizeof(seed), "%s/seed.json", f->dir);
	s = json_pack("{s:[{s:s,s:s,s:b}, {s:s,s:s}, {s:s,s:s}, {s:s,s:s},"
	              " {s:s,s:s}, {s:s,s:s}],"
	              " s:[{s:s,s:s,s:i}, {s:s,s:s,s:i}, {s:s,s:s,s:i}],"
	              " s:[o, o, o, o]}",
	    "states", "name", "Backlog", "group", "backlog", "default", 1,
	    "name", "Ready for AI", "group", "unstarted", "name", "Running",
	    "group", "started", "name", "Blocked", "group", "started", "name",
	    "Done", "group", "completed", "name", "Cancelled", "group",
	    "cancelled", "members", "id", ALICE, "email", "Alice@Example.test",
	    "role", 5, "id", BOB, "email", "bob@example.test", "role", 5, "id",
	    CAROL, "email", "carol@example.test", "role", 20, "work_items",
	    item("by alice", "Ready for AI", ALICE),
	    item("moved by alice", "Backlog", BOB),
	    item("only bob", "Ready for AI", BOB),
	    item("by carol", "Ready for AI", CAROL));
	assert_int_equal(json_dump_file(s, seed, 0), 0);
	json_decref(s);
	f->pl = tb_fixture((char *const *) argv, log, portfile, &f->port);
}

static void
bs_start(struct fx *f)
{
	f->bs = tb_start(&board_def, f->topo, "board-sync");
}

static void
fx_start(struct fx *f)
{
	char *yaml;

	memset(f, 0, sizeof(*f));
	f->dir = tb_dir();
	plane_start(f);
	setenv("TEST_AUTHZ_PLANE_KEY", KEY, 1);
	yaml    = xasprintf("opcenter:\n"
	                       "  state_dir: %s/state\n"
	                       "  heartbeat_ms: 50\n"
	                       "plane:\n"
	                       "  base_url: http://127.0.0.1:%d\n"
	                       "  api_token_env: TEST_AUTHZ_PLANE_KEY\n"
	                       "  workspace_slug: ws\n"
	                       "  project_id: " PROJ "\n"
	                       "  rate_limit: 50/second\n"
	                       "  per_page: 1\n"
	                       "  max_claims: 4\n"
	                       "  authorized_members: [alice@example.test]\n"
	                       "  authorized_roles: [admin]\n"
	                       "repos:\n"
	                       "  demo:\n"
	                       "    clone_url: %s/demo.git\n"
	                       "instances:\n"
	                       "  board-sync:\n"
	                       "    pub: inproc://az-bs.pub\n"
	                       "    ctl: inproc://az-bs.ctl\n"
	                       "    board: plane\n"
	                       "    poll_interval: 100ms\n"
	                       "    idle_ms: 20\n"
	                       "    catchup_grace_ms: 50\n",
	       f->dir, f->port, f->dir);
	f->topo = tb_topo(f->dir, yaml);
	free(yaml);
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

/* the work item called name in the fixture's state (new reference) */
static json_t *
find(struct fx *f, const char *name)
{
	json_t *out = tb_plane_item(f->port, name);

	assert_non_null(out);
	return (out);
}

static int
refusals(struct fx *f, const char *name)
{
	json_t *it = find(f, name), *c;
	size_t  i;
	int     n = 0;

	json_array_foreach (json_object_get(it, "comments"), i, c)
		if (strstr(
		        json_string_value(json_object_get(c, "comment_html")),
		        "will not run") != NULL)
			n++;
	json_decref(it);
	return (n);
}

static bool
state_is(struct fx *f, const char *name, const char *state)
{
	json_t *it = find(f, name);
	bool    ok = strcmp(json_string_value(json_object_get(it, "state")),
	                 state) == 0;

	json_decref(it);
	return (ok);
}

static bool
wait_for(struct fx *f, const char *name, const char *state)
{
	int64_t deadline = mono_ms() + WAIT;

	while (mono_ms() < deadline) {
		if (state_is(f, name, state))
			return (true);
		sleep_ms(50);
	}
	return (false);
}

static void
test_authorized_triggers(void **arg)
{
	struct fx f;
	json_t   *ev, *fs;
	int64_t   deadline;

	(void) arg;
	fx_start(&f);
	/* bob's item is made Ready by alice; the members list is
	 * throttled twice before it answers */
	json_decref(call(&f, "POST", "/_fixture/move",
	    json_pack("{s:s, s:s, s:s}", "item", "moved by alice", "state",
	        "Ready for AI", "actor", ALICE)));
	json_decref(call(&f, "POST", "/_fixture/fail_next",
	    json_pack("{s:s, s:i, s:i, s:i, s:s}", "method", "GET", "status",
	        429, "count", 2, "retry_after", 1, "path", "/members/")));
	bs_start(&f);
	assert_true(wait_for(&f, "by alice", "Running"));
	assert_true(wait_for(&f, "moved by alice", "Running"));
	assert_true(wait_for(&f, "by carol", "Running"));
	/* the throttled reads were retried: none is left, none refused */
	fs = call(&f, "GET", "/_fixture/state", NULL);
	json_decref(fs);
	assert_int_equal(refusals(&f, "by alice"), 0);
	assert_int_equal(refusals(&f, "moved by alice"), 0);
	assert_int_equal(refusals(&f, "by carol"), 0);
	/* only bob: one comment, not run, an event */
	ev = tb_wait_events(
	    f.topo, "board-sync", "board.trigger_refused", 1, WAIT);
	assert_int_equal(json_array_size(ev), 1);
	assert_string_equal(
	    tb_str(json_array_get(ev, 0), "body.created_by"), BOB);
	json_decref(ev);
	deadline = mono_ms() + WAIT;
	while (refusals(&f, "only bob") < 1 && mono_ms() < deadline)
		sleep_ms(50);
	assert_int_equal(refusals(&f, "only bob"), 1);
	assert_true(state_is(&f, "only bob", "Ready for AI"));
	assert_true(tb_status_int(f.topo, "board-sync",
	                "counters.plane_trigger_refused") == 1);
	/* a restart decides again, and says nothing new; carol's row is
	 * gone from the project (soft-deleted: no longer listed), so her
	 * new item is refused: a role counts only for a member */
	tb_stop(&f.bs);
	json_decref(call(&f, "POST", "/_fixture/member",
	    json_pack("{s:s}", "delete", CAROL)));
	json_decref(call(&f, "POST", "/_fixture/workitem",
	    item("carol again", "Ready for AI", CAROL)));
	bs_start(&f);
	assert_int_equal(tb_wait_int(f.topo, "board-sync",
	                     "plane.authorization.refused", 2, WAIT),
	    2);
	sleep_ms(300); /* a few more polls */
	assert_int_equal(refusals(&f, "only bob"), 1);
	assert_true(state_is(&f, "only bob", "Ready for AI"));
	deadline = mono_ms() + WAIT;
	while (refusals(&f, "carol again") < 1 && mono_ms() < deadline)
		sleep_ms(50);
	assert_int_equal(refusals(&f, "carol again"), 1);
	assert_true(state_is(&f, "carol again", "Ready for AI"));
	assert_true(state_is(&f, "by carol", "Running"));
	ev = tb_events(f.topo, "board-sync", "board.trigger_refused");
	assert_int_equal(json_array_size(ev), 2);
	json_decref(ev);
	fx_stop(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_authorized_triggers),
	};

	log_init("test_plane_authz", NULL, LOG_WARN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
