/*
 * test_router.c - the router through its real descriptor in-process.
 *
 * Its executor upstream is a stand-in service (fake_executor_def, below)
 * that only publishes heartbeats announcing max_parallel free slots, so
 * the router sees a live executor without a worker ever running.  Tasks
 * and outcomes are fed with ctl inject; what the router decides is read
 * back from its journal over ctl.replay, as any consumer would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/log.h"
#include "router.h"
#include "testbed.h"

#define WAIT TB_WAIT_MS

/* ------------------------------------------------------ the fake executor */

struct fake_ex {
	int64_t slots;
};

static int
fake_init(struct svc *svc, void *state)
{
	struct fake_ex *f = state;
	char            err[256];

	return (cfg_get_int(
	    svc_cfg(svc), "max_parallel", 1, &f->slots, err, sizeof(err)));
}

static void
fake_heartbeat(struct svc *svc, void *state, struct msg_heartbeat_info *info)
{
	struct fake_ex *f = state;

	UNUSED(svc);
	info->free_slots     = f->slots;
	info->has_free_slots = true;
}

static const struct svc_handler fake_handlers[] = { { MSG_NONE, NULL } };

static const struct svc_def fake_executor_def = {
	.name       = "executor",
	.state_size = sizeof(struct fake_ex),
	.init       = fake_init,
	.handlers   = fake_handlers,
	.heartbeat  = fake_heartbeat,
};

/* ---------------------------------------------------------------- fixture */

struct fx {
	char          *dir;
	struct topo   *topo;
	struct tb_svc *router, *ex;
};

/* fx_start_with runs the router and an executor announcing slots free
 * slots (none at all: -1); budget and breaker are the router's sections
 * (breaker NULL: none); ctl_port > 0 puts the router's ctl on plain tcp
 * at that port. */
static void
fx_start_with(struct fx *f, const char *tag, int slots, const char *budget,
    const char *breaker, int ctl_port)
{
	char *ctl = ctl_port > 0 ? xasprintf("tcp://127.0.0.1:%d", ctl_port)
	                         : xasprintf("inproc://%s-router.ctl", tag);
	char *yaml;

	memset(f, 0, sizeof(*f));
	f->dir = tb_dir();
	yaml   = xasprintf("opcenter:\n"
	                     "  state_dir: %s/state\n"
	                     "  heartbeat_ms: 50\n"
	                     "  stale_after_ms: 10000\n"
	                     "repos:\n"
	                     "  demo:\n"
	                     "    clone_url: %s/demo.git\n"
	                     "    default_branch: main\n"
	                     "  other:\n"
	                     "    clone_url: %s/other.git\n"
	                     "instances:\n"
	                     "  board-sync:\n"
	                     "    pub: inproc://%s-board.pub\n"
	                     "    ctl: inproc://%s-board.ctl\n"
	                     "  executor:\n"
	                     "    pub: inproc://%s-ex.pub\n"
	                     "    ctl: inproc://%s-ex.ctl\n"
	                     "    max_parallel: %d\n"
	                     "  router:\n"
	                     "    upstreams: [board-sync, executor]\n"
	                     "    pub: inproc://%s-router.pub\n"
	                     "    ctl: %s\n"
	                     "    idle_ms: 20\n"
	                     "    catchup_grace_ms: 100\n"
	                     "    lease: 1h\n"
	                     "    default: { lane: aider_local, backend: stub }\n"
	                     "    budget: { %s }\n"
	                     "    breaker: { %s }\n",
	      f->dir, f->dir, f->dir, tag, tag, tag, tag, slots < 0 ? 0 : slots,
	      tag, ctl, budget, breaker != NULL ? breaker : "");
	free(ctl);
	f->topo = tb_topo(f->dir, yaml);
	free(yaml);
	if (slots >= 0) {
		f->ex     = tb_start(&fake_executor_def, f->topo, "executor");
		f->router = tb_start(&router_def, f->topo, "router");
		/* the executor's heartbeat has been heard */
		assert_int_equal(
		    tb_wait_int(f->topo, "router",
		        "executors.executor.free_slots", slots, WAIT),
		    slots);
	} else
		f->router = tb_start(&router_def, f->topo, "router");
	assert_int_equal(
	    tb_wait_int(f->topo, "router", "caught_up", 1, WAIT), 1);
}

static void
fx_start(struct fx *f, const char *tag, int slots, const char *budget)
{
	fx_start_with(f, tag, slots, budget, NULL, 0);
}

static void
fx_stop(struct fx *f)
{
	tb_stop(&f->router);
	tb_stop(&f->ex);
	topo_close(&f->topo);
	tb_rmrf(f->dir);
	free(f->dir);
}

static json_t *
ready_body(const char *task, const char *repo, int attempt, const char *label)
{
	json_t *b = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[], s:i}",
	    "task_id", task, "title", "Write a note", "goal",
	    "Write a note into NOTES.md", "repo_key", repo, "kind", "goal",
	    "labels", "attempt", attempt);

	if (label != NULL)
		json_array_append_new(
		    json_object_get(b, "labels"), json_string(label));
	return (b);
}

static void
ready(struct fx *f, const char *task, const char *label)
{
	tb_inject(f->topo, "router", "task.ready", task,
	    ready_body(task, "demo", 1, label));
}

static void
finished(struct fx *f, const char *run, const char *task, const char *status)
{
	tb_inject(f->topo, "router", "exec.started", task,
	    json_pack("{s:s, s:s, s:s, s:i}", "run_id", run, "task_id", task,
	        "executor", "executor", "attempt", 1));
	tb_inject(f->topo, "router", "exec.finished", task,
	    json_pack("{s:s, s:s, s:s, s:b, s:s}", "run_id", run, "task_id",
	        task, "status", status, "success",
	        strcmp(status, "succeeded") == 0, "executor", "executor"));
}

/* quota_out finishes run as quota exhaustion (a typed result). */
static void
quota_out(struct fx *f, const char *run, const char *task)
{
	tb_inject(f->topo, "router", "exec.started", task,
	    json_pack("{s:s, s:s, s:s, s:i}", "run_id", run, "task_id", task,
	        "executor", "executor", "attempt", 1));
	tb_inject(f->topo, "router", "exec.finished", task,
	    json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:{s:s}}", "run_id",
	        run, "task_id", task, "status", "failed", "success", 0,
	        "executor", "executor", "failure_category", "quota_exhausted",
	        "failure_reason", "credit balance is too low", "result",
	        "status", "failed"));
}

/* events waits for n events of topic in the router's journal. */
static json_t *
events(struct fx *f, const char *topic, size_t n)
{
	json_t *ev = tb_wait_events(f->topo, "router", topic, n, WAIT);

	if (json_array_size(ev) < n)
		fail_msg("%zu %s, wanted %zu", json_array_size(ev), topic, n);
	return (ev);
}

static int64_t
st(struct fx *f, const char *path)
{
	return (tb_status_int(f->topo, "router", path));
}

/* ------------------------------------------------------------------ cases */

/* task.ready -> route.decided -> exec.dispatch to the executor that has a
 * slot; a success finishes the task, which is never dispatched again. */
static void
test_dispatch(void **state)
{
	struct fx f;
	json_t   *dec, *dis, *s;
	char     *run;

	UNUSED(state);
	fx_start(&f, "disp", 1, "max_per_hour: 10, max_concurrent: 5");
	ready(&f, "T-1", NULL);
	dec = events(&f, "route.decided", 1);
	assert_string_equal(tb_str(dec, "0.corr"), "T-1");
	assert_string_equal(tb_str(dec, "0.body.task_id"), "T-1");
	assert_string_equal(tb_str(dec, "0.body.lane"), "aider_local");
	assert_string_equal(tb_str(dec, "0.body.backend"), "stub");
	assert_string_equal(tb_str(dec, "0.body.rule"), "default");
	assert_true(
	    strncmp(tb_str(dec, "0.body.policy_status"), "allow", 5) == 0);
	assert_string_equal(tb_str(dec, "0.body.policy.status"),
	    tb_str(dec, "0.body.policy_status"));
	assert_string_equal(
	    tb_str(dec, "0.body.proposal.target.repo_key"), "demo");

	dis = events(&f, "exec.dispatch", 1);
	run = xstrdup(tb_str(dis, "0.body.run_id"));
	assert_string_equal(tb_str(dis, "0.body.executor"), "executor");
	assert_string_equal(tb_str(dis, "0.body.task_id"), "T-1");
	assert_int_equal(tb_int(dis, "0.body.attempt"), 1);
	assert_int_equal(tb_int(dis, "0.body.lease_ms"), 3600000);
	/* the run the decision named, and the request to run */
	assert_string_equal(run, tb_str(dec, "0.body.decision.run_id"));
	assert_string_equal(tb_str(dis, "0.body.request.run_id"), run);
	assert_string_equal(tb_str(dis, "0.body.request.repo_key"), "demo");
	assert_string_equal(tb_str(dis, "0.body.request.backend"), "stub");
	assert_string_equal(tb_str(dis, "0.body.request.lane"), "aider_local");
	assert_string_equal(tb_str(dis, "0.body.request.goal_text"),
	    "Write a note into NOTES.md");
	assert_non_null(
	    strstr(tb_str(dis, "0.body.request.clone_url"), "/demo.git"));
	assert_int_equal(st(&f, "tasks.dispatched"), 1);

	s = tb_status(f.topo, "router");
	assert_string_equal(tb_str(s, "breaker"), "closed");
	assert_int_equal(tb_int(s, "executors.executor.free_slots"), 1);
	assert_true(tb_int(s, "executors.executor.heartbeat_age_ms") >= 0);
	json_decref(s);

	finished(&f, run, "T-1", "succeeded");
	assert_int_equal(st(&f, "tasks.done"), 1);
	assert_int_equal(st(&f, "tasks.dispatched"), -1);
	/* a second task is dispatched: the loop ran past the first, which
	 * was not sent again */
	ready(&f, "T-2", NULL);
	json_decref(dis);
	dis = events(&f, "exec.dispatch", 2);
	assert_int_equal(json_array_size(dis), 2);
	assert_string_equal(tb_str(dis, "1.body.task_id"), "T-2");
	assert_string_not_equal(tb_str(dis, "1.body.run_id"), run);
	free(run);
	/* the result of a run that is not open decides nothing */
	tb_inject(f.topo, "router", "exec.finished", "T-1",
	    json_pack("{s:s, s:s, s:s, s:b}", "run_id", "r-unknown", "task_id",
	        "T-1", "status", "failed", "success", 0));
	assert_int_equal(st(&f, "counters.stale_finished"), 1);
	assert_int_equal(st(&f, "tasks.done"), 1);
	json_decref(dec);
	json_decref(dis);
	fx_stop(&f);
}

/* A blocking label or an unknown repo: route.decided says block and the
 * task is never dispatched, though an executor is free. */
static void
test_blocked(void **state)
{
	struct fx f;
	json_t   *dec, *dis, *v;
	size_t    i;

	UNUSED(state);
	fx_start(&f, "block", 1, "max_per_hour: 10");
	ready(&f, "T-1", "destructive");
	tb_inject(f.topo, "router", "task.ready", "T-2",
	    ready_body("T-2", "no-such-repo", 1, NULL));
	dec = events(&f, "route.decided", 2);
	assert_string_equal(tb_str(dec, "0.body.policy_status"), "block");
	assert_string_equal(tb_str(dec, "0.body.policy.status"), "block");
	v = tb_get(dec, "0.body.policy.violations");
	assert_true(json_array_size(v) >= 1);
	assert_string_equal(tb_str(v, "0.rule_id"), "tool.destructive_label");
	assert_true(json_is_true(tb_get(v, "0.blocking")));
	assert_string_equal(tb_str(dec, "1.body.task_id"), "T-2");
	assert_string_equal(tb_str(dec, "1.body.policy_status"), "block");
	assert_string_equal(
	    tb_str(dec, "1.body.rule"), "routing.invalid_task");
	assert_non_null(
	    strstr(tb_str(dec, "1.body.rationale"), "no-such-repo"));
	assert_int_equal(st(&f, "tasks.blocked"), 2);
	/* the next task goes: the blocked ones were passed over */
	ready(&f, "T-3", NULL);
	dis = events(&f, "exec.dispatch", 1);
	json_array_foreach (dis, i, v)
		assert_string_equal(tb_str(v, "body.task_id"), "T-3");
	assert_int_equal(st(&f, "tasks.blocked"), 2);
	json_decref(dec);
	json_decref(dis);
	fx_stop(&f);
}

/* max_per_hour 1: the second task is held with budget.decision. */
static void
test_budget(void **state)
{
	struct fx f;
	json_t   *b, *dis;

	UNUSED(state);
	fx_start(&f, "budget", 2, "max_per_hour: 1, max_concurrent: 5");
	ready(&f, "T-1", NULL);
	dis = events(&f, "exec.dispatch", 1);
	ready(&f, "T-2", NULL);
	b = events(&f, "budget.decision", 1);
	assert_string_equal(tb_str(b, "0.body.reason"), "budget_exceeded");
	assert_string_equal(tb_str(b, "0.body.task_id"), "T-2");
	assert_string_equal(tb_str(b, "0.body.window"), "hourly");
	assert_false(json_is_true(tb_get(b, "0.body.allowed")));
	assert_int_equal(tb_int(b, "0.body.current"), 1);
	assert_int_equal(tb_int(b, "0.body.limit"), 1);
	assert_int_equal(st(&f, "tasks.queued"), 1);
	json_decref(dis);
	dis = tb_events(f.topo, "router", "exec.dispatch");
	assert_int_equal(json_array_size(dis), 1);
	assert_string_equal(tb_str(dis, "0.body.task_id"), "T-1");
	json_decref(dis);
	json_decref(b);
	fx_stop(&f);
}

/* An interrupted run is dispatched again as a new run; past max_retries
 * the task gives up (budget.decision retry_cap_exceeded). */
static void
test_interrupted(void **state)
{
	struct fx f;
	json_t   *dis, *b;
	char     *run1;

	UNUSED(state);
	fx_start(&f, "intr", 1, "max_per_hour: 10, max_retries: 2");
	ready(&f, "T-1", NULL);
	dis  = events(&f, "exec.dispatch", 1);
	run1 = xstrdup(tb_str(dis, "0.body.run_id"));
	json_decref(dis);
	finished(&f, run1, "T-1", "interrupted");
	dis = events(&f, "exec.dispatch", 2);
	assert_string_equal(tb_str(dis, "1.body.task_id"), "T-1");
	assert_int_equal(tb_int(dis, "1.body.attempt"), 2);
	assert_string_not_equal(tb_str(dis, "1.body.run_id"), run1);
	assert_string_equal(tb_str(dis, "1.body.request.run_id"),
	    tb_str(dis, "1.body.run_id"));
	finished(&f, tb_str(dis, "1.body.run_id"), "T-1", "interrupted");
	b = events(&f, "budget.decision", 1);
	assert_string_equal(tb_str(b, "0.body.reason"), "retry_cap_exceeded");
	assert_string_equal(tb_str(b, "0.body.task_id"), "T-1");
	assert_int_equal(
	    tb_wait_int(f.topo, "router", "tasks.gave_up", 1, WAIT), 1);
	json_decref(b);
	json_decref(dis);
	free(run1);
	fx_stop(&f);
}

/* A copy of a task.ready for the same board attempt is dropped; the next
 * attempt is decided anew.  With no executor, the queued task is held
 * once as no_executor_available. */
static void
test_duplicate_ready(void **state)
{
	struct fx f;
	json_t   *dec, *b;

	UNUSED(state);
	fx_start(&f, "dup", -1, "max_per_hour: 10");
	ready(&f, "T-1", NULL);
	ready(&f, "T-1", NULL);
	assert_int_equal(st(&f, "counters.duplicate_ready"), 1);
	dec = tb_events(f.topo, "router", "route.decided");
	assert_int_equal(json_array_size(dec), 1);
	json_decref(dec);
	tb_inject(f.topo, "router", "task.ready", "T-1",
	    ready_body("T-1", "demo", 2, NULL));
	assert_int_equal(st(&f, "counters.duplicate_ready"), 1);
	dec = tb_events(f.topo, "router", "route.decided");
	assert_int_equal(json_array_size(dec), 2);
	assert_string_not_equal(tb_str(dec, "0.body.decision_id"),
	    tb_str(dec, "1.body.decision_id"));
	b = events(&f, "budget.decision", 1);
	assert_string_equal(
	    tb_str(b, "0.body.reason"), "no_executor_available");
	assert_int_equal(st(&f, "tasks.queued"), 1);
	json_decref(dec);
	json_decref(b);
	fx_stop(&f);
}

/* run_of returns the run id of task's dispatch among the dispatches
 * (a new string; fails when there is none). */
static char *
run_of(struct fx *f, const char *task, size_t n)
{
	json_t *dis = events(f, "exec.dispatch", n), *v;
	char   *run = NULL;
	size_t  i;

	json_array_foreach (dis, i, v)
		if (strcmp(tb_str(v, "body.task_id"), task) == 0)
			run = xstrdup(tb_str(v, "body.run_id"));
	json_decref(dis);
	if (run == NULL)
		fail_msg("no dispatch of %s", task);
	return (run);
}

/* fail_three_from dispatches T-1..T-3 and fails them, the first being
 * the first-th dispatch: the breaker opens (min_samples 3, threshold
 * 0.8). */
static void
fail_three_from(struct fx *f, int first)
{
	char   *run, task[8];
	json_t *c;
	int     i;

	for (i = 1; i <= 3; i++) {
		snprintf(task, sizeof(task), "T-%d", i);
		ready(f, task, NULL);
		run = run_of(f, task, (size_t) (first + i - 1));
		finished(f, run, task, "failed");
		free(run);
	}
	c = events(f, "circuit.changed", 1);
	assert_string_equal(tb_str(c, "0.body.state"), "open");
	assert_string_equal(tb_str(c, "0.body.reason"), "threshold");
	assert_int_equal(tb_int(c, "0.body.failures"), 3);
	json_decref(c);
}

static void
fail_three(struct fx *f)
{
	fail_three_from(f, 1);
}

/* An open breaker goes half_open after its cool-off and lets exactly one
 * run through: while that probe is out the next task is held; its
 * failure opens the breaker again, the next probe's success closes it,
 * and the failures before no longer count (one more failure does not
 * open it again). */
static void
test_breaker_probe(void **state)
{
	struct fx f;
	json_t   *c, *b, *v;
	char     *probe;
	size_t    i;
	int       held = 0;

	UNUSED(state);
	fx_start_with(&f, "probe", 5, "max_per_hour: 100, max_concurrent: 5",
	    "min_samples: 3, cooloff: 1ms", 0);
	fail_three(&f);
	c = events(&f, "circuit.changed", 2);
	assert_string_equal(tb_str(c, "1.body.state"), "half_open");
	assert_string_equal(tb_str(c, "1.body.reason"), "cooloff");
	json_decref(c);
	/* the probe */
	ready(&f, "T-4", NULL);
	probe = run_of(&f, "T-4", 4);
	/* no second run while it is out */
	ready(&f, "T-5", NULL);
	b = events(&f, "budget.decision", 1);
	json_array_foreach (b, i, v)
		if (strcmp(tb_str(v, "body.task_id"), "T-5") == 0 &&
		    strcmp(tb_str(v, "body.reason"), "circuit_breaker_open") ==
		        0)
			held++;
	assert_int_equal(held, 1);
	json_decref(b);
	assert_int_equal(st(&f, "tasks.queued"), 1);
	c = tb_status(f.topo, "router");
	assert_string_equal(tb_str(c, "breaker"), "half_open");
	json_decref(c);
	/* it fails: open again, then half_open, then T-5 is the probe */
	finished(&f, probe, "T-4", "failed");
	c = events(&f, "circuit.changed", 4);
	assert_string_equal(tb_str(c, "2.body.state"), "open");
	assert_string_equal(tb_str(c, "2.body.reason"), "probe_failed");
	assert_string_equal(tb_str(c, "2.body.run_id"), probe);
	assert_int_equal(tb_int(c, "2.body.cooloff_ms"), 1);
	assert_string_equal(tb_str(c, "3.body.state"), "half_open");
	json_decref(c);
	free(probe);
	probe = run_of(&f, "T-5", 5);
	finished(&f, probe, "T-5", "succeeded");
	c = events(&f, "circuit.changed", 5);
	assert_string_equal(tb_str(c, "4.body.state"), "closed");
	assert_string_equal(tb_str(c, "4.body.reason"), "probe_succeeded");
	assert_string_equal(tb_str(c, "4.body.run_id"), probe);
	json_decref(c);
	free(probe);
	/* closed for good: one more failure is 1 of 1, not 5 of 6 */
	ready(&f, "T-6", NULL);
	probe = run_of(&f, "T-6", 6);
	finished(&f, probe, "T-6", "failed");
	free(probe);
	c = tb_status(f.topo, "router");
	assert_string_equal(tb_str(c, "breaker"), "closed");
	json_decref(c);
	c = tb_events(f.topo, "router", "circuit.changed");
	assert_int_equal(json_array_size(c), 5);
	json_decref(c);
	fx_stop(&f);
}

/* router.breaker_status tells the state; router.breaker_reset closes an
 * open breaker at once (circuit.changed reason reset), the held task
 * goes, and the failures before the reset no longer count. */
static void
test_breaker_reset(void **state)
{
	struct fx                       f;
	struct msg_router_breaker_reset rq;
	json_t                         *d, *c;
	char                            err[256], *run;

	UNUSED(state);
	fx_start_with(&f, "reset", 5, "max_per_hour: 100, max_concurrent: 5",
	    "min_samples: 3, cooloff: 1h", 0);
	assert_int_equal(tb_call(f.topo, "router", MSG_ROUTER_BREAKER_STATUS,
	                     NULL, &d, err, sizeof(err)),
	    0);
	assert_string_equal(tb_str(d, "state"), "closed");
	assert_int_equal(tb_int(d, "cooloff_ms"), 3600000);
	json_decref(d);
	fail_three(&f);
	ready(&f, "T-4", NULL);
	c = events(&f, "budget.decision", 1);
	assert_string_equal(tb_str(c, "0.body.task_id"), "T-4");
	assert_string_equal(
	    tb_str(c, "0.body.reason"), "circuit_breaker_open");
	json_decref(c);
	assert_int_equal(tb_call(f.topo, "router", MSG_ROUTER_BREAKER_STATUS,
	                     NULL, &d, err, sizeof(err)),
	    0);
	assert_string_equal(tb_str(d, "state"), "open");
	assert_int_equal(tb_int(d, "failures"), 3);
	assert_int_equal(tb_int(d, "samples"), 3);
	assert_true(
	    tb_int(d, "probe_at_ms") == tb_int(d, "since_ms") + 3600000);
	json_decref(d);

	memset(&rq, 0, sizeof(rq));
	rq.reason = "fixed the executor";
	assert_int_equal(tb_call(f.topo, "router", MSG_ROUTER_BREAKER_RESET,
	                     &rq, &d, err, sizeof(err)),
	    0);
	assert_string_equal(tb_str(d, "was"), "open");
	assert_string_equal(tb_str(d, "state"), "closed");
	json_decref(d);
	c = events(&f, "circuit.changed", 2);
	assert_string_equal(tb_str(c, "1.body.state"), "closed");
	assert_string_equal(tb_str(c, "1.body.reason"), "reset");
	json_decref(c);
	/* sent twice (req0 resends): nothing more happens */
	assert_int_equal(tb_call(f.topo, "router", MSG_ROUTER_BREAKER_RESET,
	                     &rq, &d, err, sizeof(err)),
	    0);
	assert_false(json_is_true(tb_get(d, "changed")));
	json_decref(d);
	/* the held task goes; its failure alone does not open it */
	run = run_of(&f, "T-4", 4);
	finished(&f, run, "T-4", "failed");
	free(run);
	assert_int_equal(tb_call(f.topo, "router", MSG_ROUTER_BREAKER_STATUS,
	                     NULL, &d, err, sizeof(err)),
	    0);
	assert_string_equal(tb_str(d, "state"), "closed");
	assert_int_equal(tb_int(d, "samples"), 1);
	json_decref(d);
	c = tb_events(f.topo, "router", "circuit.changed");
	assert_int_equal(json_array_size(c), 2);
	json_decref(c);
	fx_stop(&f);
}

/* Quota exhaustion never feeds the breaker: three runs out of quota
 * leave it closed (no sample counted); a half-open probe that runs out
 * of quota says nothing either, and the next task is the probe. */
static void
test_breaker_quota(void **state)
{
	struct fx f;
	json_t   *c, *d;
	char     *run, task[8], err[256];
	int       i;

	UNUSED(state);
	fx_start_with(&f, "bquota", 5, "max_per_hour: 100, max_concurrent: 5",
	    "min_samples: 3, cooloff: 1ms", 0);
	for (i = 1; i <= 3; i++) {
		snprintf(task, sizeof(task), "Q-%d", i);
		ready(&f, task, NULL);
		run = run_of(&f, task, (size_t) i);
		quota_out(&f, run, task);
		free(run);
	}
	assert_int_equal(tb_call(f.topo, "router", MSG_ROUTER_BREAKER_STATUS,
	                     NULL, &d, err, sizeof(err)),
	    0);
	assert_string_equal(tb_str(d, "state"), "closed");
	assert_int_equal(tb_int(d, "samples"), 0);
	json_decref(d);
	c = tb_events(f.topo, "router", "circuit.changed");
	assert_int_equal(json_array_size(c), 0);
	json_decref(c);
	/* T-1..T-3 fail: open, then half_open */
	fail_three_from(&f, 4);
	c = events(&f, "circuit.changed", 2);
	assert_string_equal(tb_str(c, "1.body.state"), "half_open");
	json_decref(c);
	ready(&f, "P-1", NULL);
	run = run_of(&f, "P-1", 7);
	quota_out(&f, run, "P-1");
	free(run);
	/* still half_open, and the next task is the probe */
	ready(&f, "P-2", NULL);
	run = run_of(&f, "P-2", 8);
	c   = tb_status(f.topo, "router");
	assert_string_equal(tb_str(c, "breaker"), "half_open");
	json_decref(c);
	assert_int_equal(tb_call(f.topo, "router", MSG_ROUTER_BREAKER_STATUS,
	                     NULL, &d, err, sizeof(err)),
	    0);
	assert_string_equal(tb_str(d, "probe_run_id"), run);
	json_decref(d);
	free(run);
	c = tb_events(f.topo, "router", "circuit.changed");
	assert_int_equal(json_array_size(c), 2);
	json_decref(c);
	fx_stop(&f);
}

/* Over a plain tcp ctl listener the router answers breaker_status but
 * refuses breaker_reset (it changes state). */
static void
test_breaker_tcp(void **state)
{
	struct fx f;
	json_t   *d = NULL;
	char      err[256];
	int       port = 20000 + (int) (getpid() % 20000) + 7;

	UNUSED(state);
	fx_start_with(&f, "brtcp", 1, "max_per_hour: 10", NULL, port);
	assert_int_equal(tb_call(f.topo, "router", MSG_ROUTER_BREAKER_STATUS,
	                     NULL, &d, err, sizeof(err)),
	    0);
	assert_string_equal(tb_str(d, "state"), "closed");
	json_decref(d);
	assert_int_equal(tb_call(f.topo, "router", MSG_ROUTER_BREAKER_RESET,
	                     NULL, NULL, err, sizeof(err)),
	    ERR_REFUSED);
	assert_non_null(strstr(err, "plain tcp"));
	fx_stop(&f);
}

/* pause_call sends router.pause (reason NULL: none) and returns the ctl
 * result; *d gets the answer (may be NULL). */
static int
pause_call(
    struct fx *f, const char *repo, const char *reason, bool stop, json_t **d)
{
	struct msg_router_pause rq = { (char *) reason, (char *) repo, stop };
	char                    err[256];
	json_t                 *tmp = NULL;
	int                     rv;

	rv = tb_call(f->topo, "router", MSG_ROUTER_PAUSE, &rq, d ? d : &tmp,
	    err, sizeof(err));
	json_decref(tmp);
	return (rv);
}

static int
resume_call(struct fx *f, const char *repo, json_t **d)
{
	struct msg_router_resume rq = { (char *) repo };
	char                     err[256];
	json_t                  *tmp = NULL;
	int                      rv;

	rv = tb_call(f->topo, "router", MSG_ROUTER_RESUME, &rq, d ? d : &tmp,
	    err, sizeof(err));
	json_decref(tmp);
	return (rv);
}

/* count_for: how many of the router's events of topic concern task. */
static size_t
count_for(struct fx *f, const char *topic, const char *task)
{
	json_t *ev = tb_events(f->topo, "router", topic), *e;
	size_t  i, n = 0;

	json_array_foreach (ev, i, e)
		if (strcmp(tb_str(e, "body.task_id"), task) == 0)
			n++;
	json_decref(ev);
	return (n);
}

/* The emergency stop (opc pause): a reason is required and the repo must
 * be known; under a pause of every repo a ready task is not dispatched
 * and says so once (budget.decision paused, with the pause's reason),
 * however many passes; the pause survives a restart of the router;
 * resume dispatches what waited.  A repo's pause holds only that repo;
 * stop_running takes back the runs in flight (exec.superseded paused)
 * without spending their attempt. */
static void
test_pause(void **state)
{
	struct fx f;
	json_t   *d = NULL, *ev;
	char     *run;

	UNUSED(state);
	fx_start(&f, "pause", 2, "max_per_hour: 50, max_concurrent: 5");
	assert_true(pause_call(&f, NULL, NULL, false, NULL) != 0);
	assert_int_equal(pause_call(&f, NULL, "", false, NULL), ERR_INVAL);
	assert_int_equal(
	    pause_call(&f, "nope", "typo", false, NULL), ERR_INVAL);
	assert_int_equal(pause_call(&f, NULL, "incident 42", false, &d), 0);
	assert_true(json_is_true(tb_get(d, "changed")));
	json_decref(d);
	/* again: changes nothing (req0 may resend) */
	assert_int_equal(pause_call(&f, NULL, "again", false, &d), 0);
	assert_false(json_is_true(tb_get(d, "changed")));
	assert_string_equal(tb_str(d, "reason"), "incident 42");
	json_decref(d);
	ev = events(&f, "ops.paused", 1);
	assert_string_equal(tb_str(ev, "0.body.reason"), "incident 42");
	assert_null(tb_get(ev, "0.body.repo_key"));
	json_decref(ev);

	ready(&f, "T-1", NULL);
	ready(&f, "T-2", NULL);
	ev = events(&f, "budget.decision", 2);
	assert_string_equal(tb_str(ev, "0.body.reason"), "paused");
	assert_string_equal(tb_str(ev, "0.body.task_id"), "T-1");
	assert_string_equal(tb_str(ev, "0.body.scope"), "global");
	assert_string_equal(tb_str(ev, "0.body.note"), "incident 42");
	assert_string_equal(tb_str(ev, "1.body.task_id"), "T-2");
	json_decref(ev);
	usleep(300 * 1000); /* many passes: still one word per task */
	assert_int_equal(count_for(&f, "budget.decision", "T-1"), 1);
	assert_int_equal(count_for(&f, "budget.decision", "T-2"), 1);
	assert_int_equal(count_for(&f, "exec.dispatch", "T-1"), 0);
	assert_int_equal(st(&f, "tasks.queued"), 2);
	d = tb_status(f.topo, "router");
	assert_string_equal(tb_str(d, "pause.all.reason"), "incident 42");
	json_decref(d);

	/* a restarted router is still paused, and says nothing again */
	tb_stop(&f.router);
	f.router = tb_start(&router_def, f.topo, "router");
	assert_int_equal(
	    tb_wait_int(f.topo, "router", "caught_up", 1, WAIT), 1);
	assert_int_equal(tb_wait_int(f.topo, "router",
	                     "executors.executor.free_slots", 2, WAIT),
	    2);
	usleep(300 * 1000);
	assert_int_equal(count_for(&f, "exec.dispatch", "T-1"), 0);
	assert_int_equal(count_for(&f, "budget.decision", "T-1"), 1);
	d = tb_status(f.topo, "router");
	assert_string_equal(tb_str(d, "pause.all.reason"), "incident 42");
	json_decref(d);

	/* resume: what waited is dispatched */
	assert_int_equal(resume_call(&f, "demo", &d), 0);
	assert_false(json_is_true(tb_get(d, "changed"))); /* not that one */
	assert_non_null(tb_get(d, "pause.all"));
	json_decref(d);
	assert_int_equal(resume_call(&f, NULL, &d), 0);
	assert_true(json_is_true(tb_get(d, "changed")));
	assert_int_equal(tb_int(d, "waiting"), 2);
	json_decref(d);
	ev = events(&f, "ops.resumed", 1);
	assert_int_equal(tb_int(ev, "0.body.waiting"), 2);
	json_decref(ev);
	d   = events(&f, "exec.dispatch", 2);
	run = xstrdup(tb_str(d, "0.body.run_id"));
	finished(&f, run, tb_str(d, "0.body.task_id"), "succeeded");
	free(run);
	run = xstrdup(tb_str(d, "1.body.run_id"));
	finished(&f, run, tb_str(d, "1.body.task_id"), "succeeded");
	free(run);
	json_decref(d);
	assert_int_equal(st(&f, "tasks.done"), 2);

	/* a repo's pause holds that repo only */
	assert_int_equal(
	    pause_call(&f, "other", "other is down", false, NULL), 0);
	tb_inject(f.topo, "router", "task.ready", "T-3",
	    ready_body("T-3", "other", 1, NULL));
	ready(&f, "T-4", NULL);
	ev = events(&f, "exec.dispatch", 3);
	assert_string_equal(tb_str(ev, "2.body.task_id"), "T-4");
	run = xstrdup(tb_str(ev, "2.body.run_id"));
	json_decref(ev);
	assert_int_equal(count_for(&f, "budget.decision", "T-3"), 1);
	ev = events(&f, "budget.decision", 3);
	assert_string_equal(tb_str(ev, "2.body.scope"), "repo");
	assert_string_equal(tb_str(ev, "2.body.repo_key"), "other");
	json_decref(ev);
	assert_int_equal(count_for(&f, "exec.dispatch", "T-3"), 0);

	/* stop_running: T-4's run is taken back, T-4 waits; its attempt
	 * is given back */
	tb_inject(f.topo, "router", "exec.started", "T-4",
	    json_pack("{s:s, s:s, s:s, s:i}", "run_id", run, "task_id", "T-4",
	        "executor", "executor", "attempt", 1));
	assert_int_equal(pause_call(&f, NULL, "stop all", true, &d), 0);
	assert_int_equal(tb_int(d, "stopped"), 1);
	json_decref(d);
	ev = events(&f, "exec.superseded", 1);
	assert_string_equal(tb_str(ev, "0.body.run_id"), run);
	assert_string_equal(tb_str(ev, "0.body.reason"), "paused");
	json_decref(ev);
	free(run);
	assert_int_equal(st(&f, "tasks.queued"), 2);
	assert_int_equal(resume_call(&f, NULL, NULL), 0);
	usleep(200 * 1000);
	/* the pause of "other" still holds T-3 */
	assert_int_equal(count_for(&f, "exec.dispatch", "T-3"), 0);
	ev = events(&f, "exec.dispatch", 4);
	assert_string_equal(tb_str(ev, "3.body.task_id"), "T-4");
	assert_int_equal(tb_int(ev, "3.body.attempt"), 1);
	json_decref(ev);
	assert_int_equal(resume_call(&f, "other", NULL), 0);
	ev = events(&f, "exec.dispatch", 5);
	assert_string_equal(tb_str(ev, "4.body.task_id"), "T-3");
	json_decref(ev);
	fx_stop(&f);
}

/* last_note_for: the note of the last of the router's events of topic
 * concerning task (caller frees; NULL: none). */
static char *
last_note_for(struct fx *f, const char *topic, const char *task)
{
	json_t *ev   = tb_events(f->topo, "router", topic), *e;
	char   *note = NULL;
	size_t  i;

	json_array_foreach (ev, i, e)
		if (strcmp(tb_str(e, "body.task_id"), task) == 0) {
			free(note);
			note = tb_get(e, "body.note") != NULL
			    ? xstrdup(tb_str(e, "body.note"))
			    : NULL;
		}
	json_decref(ev);
	return (note);
}

/* A repo's pause holding more tasks than a dispatch pass looks at keeps
 * no other repo waiting: each held task is told once, the other repo's
 * task is dispatched, and on resume the held tasks run in their order. */
static void
test_pause_many(void **state)
{
	struct fx f;
	json_t   *ev;
	char      task[16], *run;
	int       i;

	UNUSED(state);
	fx_start(&f, "pmany", 2, "max_per_hour: 200, max_concurrent: 1");
	assert_int_equal(
	    pause_call(&f, "other", "other is frozen", false, NULL), 0);
	for (i = 1; i <= 70; i++) {
		snprintf(task, sizeof(task), "O-%02d", i);
		tb_inject(f.topo, "router", "task.ready", task,
		    ready_body(task, "other", 1, NULL));
	}
	ev = events(&f, "budget.decision", 70);
	json_decref(ev);
	ready(&f, "T-1", NULL);
	ev = events(&f, "exec.dispatch", 1);
	assert_string_equal(tb_str(ev, "0.body.task_id"), "T-1");
	run = xstrdup(tb_str(ev, "0.body.run_id"));
	json_decref(ev);
	assert_int_equal(count_for(&f, "budget.decision", "O-01"), 1);
	assert_int_equal(count_for(&f, "budget.decision", "O-70"), 1);
	assert_int_equal(count_for(&f, "budget.decision", "T-1"), 0);
	ev = tb_status(f.topo, "router");
	assert_int_equal(tb_int(ev, "pause.repos.other.waiting"), 70);
	assert_true(json_is_null(tb_get(ev, "pause.all")));
	json_decref(ev);
	/* stop_running of the repo's pause leaves demo's run alone */
	assert_int_equal(pause_call(&f, "other", "again", true, &ev), 0);
	assert_int_equal(tb_int(ev, "stopped"), 0);
	json_decref(ev);
	finished(&f, run, "T-1", "succeeded");
	free(run);
	/* resume: the held tasks dispatch in their order */
	assert_int_equal(resume_call(&f, "other", &ev), 0);
	assert_int_equal(tb_int(ev, "waiting"), 70);
	json_decref(ev);
	ev = events(&f, "exec.dispatch", 2);
	assert_string_equal(tb_str(ev, "1.body.task_id"), "O-01");
	json_decref(ev);
	fx_stop(&f);
}

/* A task told of one pause and still queued after its resume (tasks
 * ahead of it wait for a slot) is told again of the next pause, with
 * that pause's reason; resume counts the tasks its own pause held. */
static void
test_pause_again(void **state)
{
	struct fx f;
	json_t   *ev;
	char     *note;

	UNUSED(state);
	fx_start(&f, "pagain", 2, "max_per_hour: 50, max_concurrent: 1");
	assert_int_equal(pause_call(&f, NULL, "first", false, NULL), 0);
	ready(&f, "A", NULL);
	ready(&f, "B", NULL);
	ready(&f, "C", NULL);
	ev = events(&f, "budget.decision", 3);
	json_decref(ev);
	assert_int_equal(resume_call(&f, NULL, &ev), 0);
	assert_int_equal(tb_int(ev, "waiting"), 3);
	json_decref(ev);
	/* A runs; B hears max_concurrent; C, behind it, hears nothing */
	ev = events(&f, "exec.dispatch", 1);
	assert_string_equal(tb_str(ev, "0.body.task_id"), "A");
	json_decref(ev);
	ev = events(&f, "budget.decision", 4);
	assert_string_equal(tb_str(ev, "3.body.task_id"), "B");
	json_decref(ev);
	assert_int_equal(pause_call(&f, NULL, "second", false, NULL), 0);
	ev = events(&f, "budget.decision", 6);
	json_decref(ev);
	assert_int_equal(count_for(&f, "budget.decision", "C"), 2);
	note = last_note_for(&f, "budget.decision", "C");
	assert_non_null(note);
	assert_string_equal(note, "second");
	free(note);
	assert_int_equal(resume_call(&f, NULL, &ev), 0);
	assert_int_equal(tb_int(ev, "waiting"), 2);
	json_decref(ev);
	fx_stop(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_blocked),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_interrupted),
		cmocka_unit_test(test_duplicate_ready),
		cmocka_unit_test(test_breaker_probe),
		cmocka_unit_test(test_breaker_reset),
		cmocka_unit_test(test_breaker_quota),
		cmocka_unit_test(test_breaker_tcp),
		cmocka_unit_test(test_pause),
		cmocka_unit_test(test_pause_many),
		cmocka_unit_test(test_pause_again),
	};

	log_init("test_router", NULL, LOG_WARN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
