/*
 * test_executor.c - the executor through its real descriptor in-process.
 *
 * The refusals are fed with ctl inject while its router upstream never
 * runs.  The run that succeeds goes the whole way in-process: the real
 * router (on task.ready) dispatches to the real executor over the bus,
 * which forks the real opc-exec-run with the stub backend against a local
 * git repository; the router hears exec.finished and finishes the task.
 * Running the router too keeps the test true to how a run is granted and
 * leased, whatever the two agree on.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "executor.h"
#include "opc/log.h"
#include "router.h"
#include "testbed.h"

#define WAIT TB_WAIT_MS

struct fx {
	char          *dir;
	struct topo   *topo;
	struct tb_svc *ex, *router;
};

/* fx_start writes the topology (with_router: the router runs too and the
 * demo repo exists) and starts the executor (max_parallel 2); extra is
 * more of the executor's settings (indented 4), before runs setup (a
 * shell command, cwd the test dir) before it starts. */
static void
fx_start_with(struct fx *f, const char *tag, bool with_router,
    const char *worker, const char *extra, const char *before)
{
	char *yaml;

	memset(f, 0, sizeof(*f));
	f->dir = tb_dir();
	/* git as the worker runs it: no user or system config of this box */
	setenv("HOME", f->dir, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	if (with_router)
		tb_sh(
		    "set -e; cd %s; git init -q -b main src; cd src;"
		    " echo hello > README.md; git add -A;"
		    " git -c user.name=t -c user.email=t@example.com commit -q"
		    " -m init; cd ..; git clone -q --bare src origin.git",
		    f->dir);
	yaml    = xasprintf("opcenter:\n"
	                       "  state_dir: %s/state\n"
	                       "  heartbeat_ms: 50\n"
	                       "  stale_after_ms: 10000\n"
	                       "repos:\n"
	                       "  demo:\n"
	                       "    clone_url: %s/origin.git\n"
	                       "    default_branch: main\n"
	                       "    validation_commands: []\n"
	                       "instances:\n"
	                       "  router:\n"
	                       "    upstreams: [executor]\n"
	                       "    pub: inproc://%s-router.pub\n"
	                       "    ctl: inproc://%s-router.ctl\n"
	                       "    idle_ms: 20\n"
	                       "    catchup_grace_ms: 100\n"
	                       "    default: { lane: aider_local, backend: stub }\n"
	                       "  executor:\n"
	                       "    upstreams: [router]\n"
	                       "    pub: inproc://%s-ex.pub\n"
	                       "    ctl: inproc://%s-ex.ctl\n"
	                       "    idle_ms: 20\n"
	                       "    catchup_grace_ms: 100\n"
	                       "    max_parallel: 2\n"
	                       "    worker: %s\n"
	                       "    workspace_root: ws\n"
	                       "    family_tools:\n"
	                       "      lint_fix: [sh, no-such-tool-xyz, "
	                       "nor-this-one]\n"
	                       "      type_fix: [sh]\n"
	                       "%s"
	                       "    backends:\n"
	                       "      stub: { kind: stub }\n",
	       f->dir, f->dir, tag, tag, tag, tag,
            worker != NULL ? worker : EXEC_RUN_BIN,
            extra != NULL ? extra : "");
	f->topo = tb_topo(f->dir, yaml);
	free(yaml);
	if (before != NULL)
		tb_sh("cd %s && %s", f->dir, before);
	if (with_router)
		f->router = tb_start(&router_def, f->topo, "router");
	f->ex = tb_start_caught_up(&executor_def, f->topo, "executor");
}

static void
fx_start_worker(
    struct fx *f, const char *tag, bool with_router, const char *worker)
{
	fx_start_with(f, tag, with_router, worker, NULL, NULL);
}

static void
fx_start(struct fx *f, const char *tag, bool with_router)
{
	fx_start_worker(f, tag, with_router, NULL);
}

static void
fx_stop(struct fx *f)
{
	tb_shutdown(&f->ex);
	tb_stop(&f->router);
	topo_close(&f->topo);
	tb_rmrf(f->dir);
	free(f->dir);
}

static json_t *
dispatch(const char *run, const char *task, const char *executor, bool request)
{
	json_t *d =
	    json_pack("{s:s, s:s, s:s, s:i, s:i}", "run_id", run, "task_id",
	        task, "executor", executor, "attempt", 1, "lease_ms", 30000);

	if (request)
		json_object_set_new(d, "request",
		    json_pack("{s:s, s:s, s:s, s:s, s:s}", "run_id", run,
		        "task_id", task, "repo_key", "demo", "backend",
		        "no-such-backend", "goal_text", "Write a note"));
	return (d);
}

static int64_t
runs(struct fx *f)
{
	json_t *s = tb_status(f->topo, "executor");
	int64_t n = (int64_t) json_object_size(tb_get(s, "runs"));

	json_decref(s);
	return (n);
}

/* ------------------------------------------------------------------ cases */

/* A dispatch for another executor is not ours; an unsafe run or task id
 * (it names files) and a dispatch without a request are refused and
 * counted.  Nothing is recorded, nothing runs, nothing is journaled. */
static void
test_refused(void **state)
{
	struct fx f;

	UNUSED(state);
	fx_start(&f, "refuse", false);
	tb_inject(f.topo, "executor", "exec.dispatch", "T-1",
	    dispatch("r-other", "T-1", "executor@b", true));
	assert_int_equal(runs(&f), 0);
	tb_inject(f.topo, "executor", "exec.dispatch", "T-1",
	    dispatch("../x", "T-1", "executor", true));
	assert_int_equal(
	    tb_status_int(f.topo, "executor", "counters.bad_dispatch"), 1);
	tb_inject(f.topo, "executor", "exec.dispatch", "a/b",
	    dispatch("r-2", "a/b", "executor", true));
	tb_inject(f.topo, "executor", "exec.dispatch", "T-3",
	    dispatch("r-3", "T-3", "executor", false));
	assert_int_equal(
	    tb_status_int(f.topo, "executor", "counters.bad_dispatch"), 3);
	assert_int_equal(runs(&f), 0);
	assert_int_equal(tb_status_int(f.topo, "executor", "journal_seq"), 0);
	fx_stop(&f);
}

/* Its heartbeat tells the router what it can take. */
static void
test_heartbeat(void **state)
{
	struct fx f;
	json_t   *hb;

	UNUSED(state);
	fx_start(&f, "hb", false);
	hb = tb_heartbeat(f.topo, "executor", WAIT);
	assert_non_null(hb);
	assert_string_equal(tb_str(hb, "service"), "executor");
	assert_int_equal(tb_int(hb, "info.free_slots"), 2);
	assert_int_equal(tb_int(hb, "info.max_parallel"), 2);
	assert_int_equal(tb_int(hb, "info.running"), 0);
	assert_string_equal(tb_str(hb, "info.backends.0"), "stub");
	assert_true(json_is_integer(tb_get(hb, "info.mem_free_mb")));
	json_decref(hb);
	fx_stop(&f);
}

/* router -> exec.dispatch -> opc-exec-run (stub) -> exec.finished, and
 * the router marks the task done. */
static void
test_stub_run(void **state)
{
	struct fx   f;
	json_t     *dis, *st, *fin;
	const char *run;

	UNUSED(state);
	fx_start(&f, "stub", true);
	assert_int_equal(tb_wait_int(f.topo, "router",
	                     "executors.executor.free_slots", 2, WAIT),
	    2);
	tb_inject(f.topo, "router", "task.ready", "T-1",
	    json_pack("{s:s, s:s, s:s, s:s, s:[], s:i}", "task_id", "T-1",
	        "goal", "Write the demo artifact", "repo_key", "demo", "kind",
	        "goal", "labels", "attempt", 1));
	dis = tb_wait_events(f.topo, "router", "exec.dispatch", 1, WAIT);
	assert_int_equal(json_array_size(dis), 1);
	run = tb_str(dis, "0.body.run_id");
	fin = tb_wait_events(f.topo, "executor", "exec.finished", 1, WAIT);
	assert_int_equal(json_array_size(fin), 1);
	st = tb_events(f.topo, "executor", "exec.started");
	assert_int_equal(json_array_size(st), 1);
	assert_string_equal(tb_str(st, "0.body.run_id"), run);
	assert_true(tb_int(st, "0.seq") < tb_int(fin, "0.seq"));
	assert_string_equal(tb_str(fin, "0.body.run_id"), run);
	assert_string_equal(tb_str(fin, "0.body.task_id"), "T-1");
	assert_string_equal(tb_str(fin, "0.body.executor"), "executor");
	if (!json_is_true(tb_get(fin, "0.body.success")))
		fail_msg("run failed: %s: %s",
		    tb_str(fin, "0.body.failure_category"),
		    tb_str(fin, "0.body.failure_reason"));
	assert_string_equal(tb_str(fin, "0.body.status"), "succeeded");
	assert_string_equal(tb_str(fin, "0.body.result.changed_files.0.path"),
	    "artifacts/demo_result.txt");
	assert_non_null(tb_str(fin, "0.body.result.commit_sha"));
	/* the router's <kind>/<task>-<run>, under git.branch_prefix */
	assert_true(strncmp(tb_str(fin, "0.body.branch_name"),
	                "opcenter/goal/T-1-", 18) == 0);
	assert_int_equal(
	    tb_wait_int(f.topo, "router", "tasks.done", 1, WAIT), 1);
	assert_int_equal(
	    tb_status_int(f.topo, "executor", "runs.finished"), 1);
	json_decref(dis);
	json_decref(st);
	json_decref(fin);
	fx_stop(&f);
}

/* A run of a family whose tools the PATH lacks (family_tools): an
 * exec.env_warning naming them, and the run goes on and succeeds; a
 * family with its tools at hand, or a task of no family, says nothing. */
static void
test_env_warning(void **state)
{
	static const char *const labels[] = { "source-family: lint_fix",
		"source-family: type_fix", "team: a" };
	struct fx                f;
	json_t                  *fin, *w;
	char                     task[8];
	size_t                   i;

	UNUSED(state);
	fx_start(&f, "envw", true);
	assert_int_equal(tb_wait_int(f.topo, "router",
	                     "executors.executor.free_slots", 2, WAIT),
	    2);
	for (i = 0; i < nitems(labels); i++) {
		snprintf(task, sizeof(task), "T-%zu", i + 1);
		tb_inject(f.topo, "router", "task.ready", task,
		    json_pack("{s:s, s:s, s:s, s:s, s:[s], s:i}", "task_id",
		        task, "goal", "Write the demo artifact", "repo_key",
		        "demo", "kind", "goal", "labels", labels[i], "attempt",
		        1));
		fin = tb_wait_events(
		    f.topo, "executor", "exec.finished", i + 1, WAIT);
		assert_int_equal(json_array_size(fin), i + 1);
		assert_true(json_is_true(
		    tb_get(json_array_get(fin, i), "body.success")));
		json_decref(fin);
	}
	w = tb_events(f.topo, "executor", "exec.env_warning");
	assert_int_equal(json_array_size(w), 1);
	assert_string_equal(tb_str(w, "0.body.task_id"), "T-1");
	assert_string_equal(tb_str(w, "0.body.family"), "lint_fix");
	assert_int_equal(json_array_size(tb_get(w, "0.body.missing")), 2);
	assert_string_equal(tb_str(w, "0.body.missing.0"), "no-such-tool-xyz");
	assert_string_equal(tb_str(w, "0.body.missing.1"), "nor-this-one");
	assert_non_null(strstr(tb_str(w, "0.body.warning"),
	    "family lint_fix needs no-such-tool-xyz, nor-this-one"));
	json_decref(w);
	assert_int_equal(
	    tb_status_int(f.topo, "executor", "counters.env_warning"), 1);
	fx_stop(&f);
}

/* A worker whose result file is not a run result (cut short, another
 * run's, a field of the wrong type) fails its run as infra_tooling with
 * the decoder's words, counted; nothing else is believed of it.  The
 * runs come from the router (an executor starts only what its router
 * granted). */
static void
test_bad_result(void **state)
{
	static const char *const want[] = { "not a run result",
		"it is run r-other's", "field 'success' has the wrong type" };
	struct fx                f;
	json_t                  *fin, *d;
	char                    *dir = tb_dir(), *worker, task[8];
	size_t                   i;
	const char              *why;

	UNUSED(state);
	worker = xasprintf("%s/bad-worker", dir);
	tb_sh("cat > %s <<'EOF'\n#!/bin/sh\n"
	      "n=$(cat %s/count 2>/dev/null || echo 0); n=$((n + 1));"
	      " echo $n > %s/count\n"
	      "run=$(basename \"$6\" .result.json)\n"
	      "case $n in\n"
	      "1) printf '{\"run_id\": \"%%s\", \"sta' \"$run\" > \"$6\" ;;\n"
	      "2) printf '{\"run_id\": \"r-other\", \"status\":"
	      " \"succeeded\", \"success\": true}' > \"$6\" ;;\n"
	      "*) printf '{\"run_id\": \"%%s\", \"status\": \"succeeded\","
	      " \"success\": \"yes\"}' \"$run\" > \"$6\" ;;\n"
	      "esac\nEOF\nchmod +x %s",
	    worker, dir, dir, worker);
	fx_start_worker(&f, "badres", true, worker);
	assert_int_equal(tb_wait_int(f.topo, "router",
	                     "executors.executor.free_slots", 2, WAIT),
	    2);
	for (i = 0; i < nitems(want); i++) {
		snprintf(task, sizeof(task), "T-%zu", i + 1);
		tb_inject(f.topo, "router", "task.ready", task,
		    json_pack("{s:s, s:s, s:s, s:s, s:[], s:i}", "task_id",
		        task, "goal", "Write a note", "repo_key", "demo",
		        "kind", "goal", "labels", "attempt", 1));
		fin = tb_wait_events(
		    f.topo, "executor", "exec.finished", i + 1, WAIT);
		assert_int_equal(json_array_size(fin), i + 1);
		d = json_array_get(fin, i);
		assert_string_equal(tb_str(d, "body.task_id"), task);
		assert_string_equal(tb_str(d, "body.status"), "failed");
		assert_false(json_is_true(tb_get(d, "body.success")));
		assert_string_equal(
		    tb_str(d, "body.failure_category"), "infra_tooling");
		why = tb_str(d, "body.failure_reason");
		if (why == NULL || strstr(why, want[i]) == NULL)
			fail_msg("%s: reason '%s', want '%s'", task,
			    why ? why : "(none)", want[i]);
		json_decref(fin);
	}
	assert_int_equal(
	    tb_status_int(f.topo, "executor", "counters.result_invalid"), 3);
	fx_stop(&f);
	tb_rmrf(dir);
	free(dir);
	free(worker);
}

/* Branch safety: the worker's request names the task branch under
 * git.branch_prefix with the prefix itself, and a run whose push the
 * worker refused (BRANCH_GUARD_CATEGORY, "branch safety: ...") is
 * counted as push_refused. */
static void
test_push_refused(void **state)
{
	struct fx f;
	json_t   *fin, *req;
	char     *dir = tb_dir(), *worker, *path;

	UNUSED(state);
	worker = xasprintf("%s/refusing-worker", dir);
	tb_sh("cat > %s <<'EOF'\n#!/bin/sh\n"
	      "cp \"$2\" %s/request.json\n"
	      "run=$(basename \"$6\" .result.json)\n"
	      "printf '{\"run_id\": \"%%s\", \"status\": \"failed\","
	      " \"success\": false, \"failure_category\": \"scope_policy\","
	      " \"failure_reason\": \"branch safety: branch '\\''main'\\'' is"
	      " protected (protected_branches)\"}' \"$run\" > \"$6\"\n"
	      "EOF\nchmod +x %s",
	    worker, dir, worker);
	fx_start_worker(&f, "refused", true, worker);
	assert_int_equal(tb_wait_int(f.topo, "router",
	                     "executors.executor.free_slots", 2, WAIT),
	    2);
	tb_inject(f.topo, "router", "task.ready", "T-1",
	    json_pack("{s:s, s:s, s:s, s:s, s:[], s:i}", "task_id", "T-1",
	        "goal", "Write a note", "repo_key", "demo", "kind", "goal",
	        "labels", "attempt", 1));
	fin = tb_wait_events(f.topo, "executor", "exec.finished", 1, WAIT);
	assert_int_equal(json_array_size(fin), 1);
	assert_string_equal(
	    tb_str(fin, "0.body.failure_category"), "scope_policy");
	assert_int_equal(
	    tb_status_int(f.topo, "executor", "counters.push_refused"), 1);
	path = xasprintf("%s/request.json", dir);
	req  = json_load_file(path, 0, NULL);
	assert_non_null(req);
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(req, "git"), "branch_prefix")),
	    "opcenter/");
	assert_true(
	    strncmp(json_string_value(json_object_get(req, "task_branch")),
	        "opcenter/goal/T-1-", 18) == 0);
	json_decref(req);
	json_decref(fin);
	fx_stop(&f);
	tb_rmrf(dir);
	free(path);
	free(dir);
	free(worker);
}

#define U1 "11111111-1111-4111-8111-111111111111"
#define U2 "22222222-2222-4222-8222-222222222222"
#define U3 "33333333-3333-4333-8333-333333333333"
#define U4 "44444444-4444-4444-8444-444444444444"
#define U5 "55555555-5555-4555-8555-555555555555"
#define U6 "66666666-6666-4666-8666-666666666666"

/* exists: path (under the test dir) is there (a symbolic link too). */
static bool
exists(const struct fx *f, const char *path)
{
	char *p  = xasprintf("%s/%s", f->dir, path);
	bool  ok = access(p, F_OK) == 0 ||
	    faccessat(AT_FDCWD, p, F_OK, AT_SYMLINK_NOFOLLOW) == 0;

	free(p);
	return (ok);
}

/* Workspaces no run owns are removed at start and every
 * orphan_sweep_every ticks, whatever the retention (keep here): a run id
 * without a request file, one whose request names this executor but that
 * its db does not know.  Kept: another executor's (its request names
 * it), a name that is no run id, a file, a symbolic link (and what it
 * points to), the workspace of a running run, a finished run's (kept by
 * workspace_retention: keep). */
static void
test_orphans(void **state)
{
	struct fx   f;
	json_t     *ev;
	char       *dir = tb_dir(), *worker, *ws, *flag;
	const char *run;
	int         i;

	UNUSED(state);
	worker = xasprintf("%s/slow-worker", dir);
	/* makes its workspace, then waits for go (at most 60 s) */
	tb_sh("cat > %s <<'EOF'\n#!/bin/sh\n"
	      "mkdir -p \"$4\" && echo x > \"$4/file\" && touch %s/started\n"
	      "i=0; while [ ! -e %s/go ] && [ $i -lt 1200 ]; do"
	      " sleep 0.05; i=$((i + 1)); done\n"
	      "printf '{\"run_id\": \"%%s\", \"sta' "
	      "\"$(basename \"$6\" .result.json)\" > \"$6\"\n"
	      "EOF\nchmod +x %s",
	    worker, dir, dir, worker);
	fx_start_with(&f, "orphans", true, worker,
	    "    orphan_sweep_every: 1\n",
	    "set -e; r=state/ws; mkdir -p $r/" U1 " $r/" U2 " $r/" U3
	    " $r/notarun outside;"
	    " echo '{\"executor\": \"executor@other\"}' >$r/" U2
	    ".request.json;"
	    " echo '{\"executor\": \"executor\"}' >$r/" U3 ".request.json;"
	    " echo x >$r/stray; echo x >outside/keep;"
	    " ln -s ../../outside $r/" U4);
	assert_int_equal(tb_wait_int(f.topo, "executor",
	                     "counters.orphaned_workspaces_removed", 2, WAIT),
	    2);
	assert_false(exists(&f, "state/ws/" U1));
	assert_false(exists(&f, "state/ws/" U3));
	assert_true(exists(&f, "state/ws/" U2));
	assert_true(exists(&f, "state/ws/notarun"));
	assert_true(exists(&f, "state/ws/stray"));
	assert_true(exists(&f, "state/ws/" U4));
	assert_true(exists(&f, "outside/keep"));

	/* a running run's workspace survives the sweeps */
	assert_int_equal(tb_wait_int(f.topo, "router",
	                     "executors.executor.free_slots", 2, WAIT),
	    2);
	tb_inject(f.topo, "router", "task.ready", "T-1",
	    json_pack("{s:s, s:s, s:s, s:s, s:[], s:i}", "task_id", "T-1",
	        "goal", "Write a note", "repo_key", "demo", "kind", "goal",
	        "labels", "attempt", 1));
	ev = tb_wait_events(f.topo, "executor", "exec.started", 1, WAIT);
	assert_int_equal(json_array_size(ev), 1);
	run  = tb_str(ev, "0.body.run_id");
	ws   = xasprintf("state/ws/%s/file", run);
	flag = xasprintf("%s/started", dir);
	for (i = 0; i < WAIT / 50 && access(flag, F_OK) != 0; i++)
		sleep_ms(50);
	assert_true(exists(&f, ws));
	tb_sh("mkdir %s/state/ws/" U5, f.dir);
	assert_int_equal(tb_wait_int(f.topo, "executor",
	                     "counters.orphaned_workspaces_removed", 3, WAIT),
	    3);
	assert_true(exists(&f, ws));
	assert_int_equal(tb_status_int(f.topo, "executor", "runs.running"), 1);

	/* finished, kept by workspace_retention: keep */
	tb_sh("touch %s/go", dir);
	json_decref(
	    tb_wait_events(f.topo, "executor", "exec.finished", 1, WAIT));
	tb_sh("mkdir %s/state/ws/" U6, f.dir);
	assert_int_equal(tb_wait_int(f.topo, "executor",
	                     "counters.orphaned_workspaces_removed", 4, WAIT),
	    4);
	assert_true(exists(&f, ws));
	json_decref(ev);
	fx_stop(&f);
	tb_rmrf(dir);
	free(dir);
	free(worker);
	free(ws);
	free(flag);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_heartbeat),
		cmocka_unit_test(test_stub_run),
		cmocka_unit_test(test_bad_result),
		cmocka_unit_test(test_push_refused),
		cmocka_unit_test(test_env_warning),
		cmocka_unit_test(test_orphans),
	};

	log_init("test_executor", NULL, LOG_WARN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
