/*
 * test_proposer.c - the proposer through its real descriptor in-process
 * (auto: a cycle per insight.run).
 *
 * Its upstreams (insighter, board-sync, router) exist in the topology but
 * never run: insights and board events are fed with ctl inject; cycles,
 * rejections and queries go over its ctl; what it decides is read back
 * from its journal over ctl.replay.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "opc/err.h"
#include "opc/log.h"
#include "proposer.h"
#include "testbed.h"

#define WAIT TB_WAIT_MS
#define LINT_KEY "candidate|lint_fix|demo|lint_violations"
#define TYPE_KEY "candidate|type_fix|demo|type_errors"
#define COV_KEY "candidate|coverage_gap|demo|coverage"

struct fx {
	char          *dir;
	struct topo   *topo;
	struct tb_svc *p;
};

static void
fx_start(struct fx *f, const char *tag)
{
	char *yaml;

	f->dir  = tb_dir();
	yaml    = xasprintf("opcenter:\n"
	                       "  state_dir: %s/state\n"
	                       "  heartbeat_ms: 50\n"
	                       "instances:\n"
	                       "  insighter:\n"
	                       "    pub: inproc://%s-ins.pub\n"
	                       "    ctl: inproc://%s-ins.ctl\n"
	                       "  board-sync:\n"
	                       "    pub: inproc://%s-bs.pub\n"
	                       "    ctl: inproc://%s-bs.ctl\n"
	                       "  router:\n"
	                       "    pub: inproc://%s-router.pub\n"
	                       "    ctl: inproc://%s-router.ctl\n"
	                       "  proposer:\n"
	                       "    upstreams: [insighter, board-sync, router]\n"
	                       "    pub: inproc://%s-prop.pub\n"
	                       "    ctl: inproc://%s-prop.ctl\n"
	                       "    idle_ms: 20\n"
	                       "    catchup_grace_ms: 50\n"
	                       "    auto: true\n",
	       f->dir, tag, tag, tag, tag, tag, tag, tag, tag);
	f->topo = tb_topo(f->dir, yaml);
	free(yaml);
	f->p = tb_start_caught_up(&proposer_def, f->topo, "proposer");
}

static void
fx_stop(struct fx *f)
{
	tb_stop(&f->p);
	topo_close(&f->topo);
	tb_rmrf(f->dir);
	free(f->dir);
}

static void
insight(struct fx *f, const char *run, const char *kind, const char *subject,
    json_t *evidence)
{
	char *dk = xasprintf("%s|%s", kind, subject);
	char *id = xasprintf("%s:%s", kind, subject);

	tb_inject(f->topo, "proposer", "insight.derived", "demo",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s}", "insight_id", id,
	        "repo", "demo", "kind", kind, "dedup_key", dk, "subject",
	        subject, "evidence", evidence, "run_id", run));
	free(dk);
	free(id);
}

/* analysis injects the insighter's analysis run: 25 lint violations, 5
 * type errors, low coverage, then the insight.run that closes it. */
static void
analysis(struct fx *f, const char *run)
{
	insight(f, run, "lint_drift", "lint",
	    json_pack("{s:i, s:i, s:i, s:[{s:s, s:i}]}", "count", 25,
	        "distinct_file_count", 3, "delta", 0, "top_files", "path",
	        "src/a.py", "count", 20));
	insight(f, run, "type_health", "type",
	    json_pack("{s:i, s:i}", "count", 5, "distinct_file_count", 2));
	insight(f, run, "coverage_gap", "low_overall",
	    json_pack("{s:f}", "total_pct", 41.0));
	tb_inject(f->topo, "proposer", "insight.run", "demo",
	    json_pack(
	        "{s:s, s:s, s:i}", "run_id", run, "repo", "demo", "count", 3));
}

/* of returns the body of the event of topic whose dedup_key is dk
 * (borrowed from ev), or NULL. */
static json_t *
of(const json_t *ev, const char *topic, const char *dk)
{
	json_t *e;
	size_t  i;

	json_array_foreach (ev, i, e)
		if (strcmp(tb_str(e, "topic"), topic) == 0 &&
		    strcmp(tb_str(e, "body.dedup_key"), dk) == 0)
			return (tb_get(e, "body"));
	return (NULL);
}

static json_t *
cycle_now(struct fx *f, bool execute)
{
	json_t *rq = json_pack("{s:b}", "execute", execute), *d = NULL;
	char    err[256];

	if (tb_call_json(f->topo, "proposer", MSG_PROPOSER_CYCLE_NOW, rq, &d,
	        err, sizeof(err)) != 0)
		fail_msg("cycle_now: %s", err);
	json_decref(rq);
	return (d);
}

/* ------------------------------------------------------------------ cases */

/* An analysis makes a cycle: lint_fix proposed (Ready for AI, tier 2),
 * type_fix held while lint_fix goes, coverage_gap gated, one
 * proposer.cycle; the next analysis is held by the cooldown. */
static void
test_cycle(void **state)
{
	struct fx f;
	json_t   *ev, *p, *c;

	UNUSED(state);
	fx_start(&f, "cycle");
	analysis(&f, "ins_1");
	ev = tb_events(f.topo, "proposer", NULL);
	assert_int_equal(json_array_size(ev), 4);
	p = of(ev, "proposal.created", LINT_KEY);
	assert_non_null(p);
	assert_string_equal(tb_str(p, "candidate_id"),
	    "candidate:lint_fix:demo:lint_violations@dec_1");
	assert_string_equal(tb_str(p, "family"), "lint_fix");
	assert_string_equal(tb_str(p, "repo"), "demo");
	assert_string_equal(tb_str(p, "confidence"), "high");
	assert_string_equal(tb_str(p, "state"), "Ready for AI");
	assert_int_equal(tb_int(p, "tier"), 2);
	assert_string_equal(tb_str(p, "cycle_id"), "dec_1");
	assert_non_null(strstr(tb_str(p, "goal"), "25 lint violations"));
	assert_string_equal(tb_str(p, "labels.0"), "source: autonomy");
	assert_string_equal(
	    tb_str(of(ev, "proposal.suppressed", TYPE_KEY), "reason"),
	    "upstream_family_in_cycle");
	assert_string_equal(
	    tb_str(of(ev, "proposal.suppressed", COV_KEY), "reason"),
	    "family_deferred_initial_gating");
	c = json_array_get(ev, 3);
	assert_string_equal(tb_str(c, "topic"), "proposer.cycle");
	assert_string_equal(tb_str(c, "body.cycle_id"), "dec_1");
	assert_string_equal(tb_str(c, "body.insight_run"), "ins_1");
	assert_int_equal(tb_int(c, "body.candidates"), 3);
	assert_int_equal(tb_int(c, "body.created"), 1);
	assert_int_equal(tb_int(c, "body.suppressed"), 2);
	assert_int_equal(
	    tb_int(c, "body.reasons.upstream_family_in_cycle"), 1);
	json_decref(ev);
	assert_int_equal(tb_status_int(f.topo, "proposer", "proposals"), 1);

	/* the same insights again, within the cooldown: nothing new */
	analysis(&f, "ins_2");
	ev = tb_events(f.topo, "proposer", NULL);
	assert_int_equal(json_array_size(ev), 8);
	assert_string_equal(
	    tb_str(of(ev, "proposal.suppressed", LINT_KEY), "reason"),
	    "cooldown_active");
	assert_string_equal(tb_str(json_array_get(ev, 6), "body.reason"),
	    "upstream_family_recently_emitted");
	assert_int_equal(tb_int(json_array_get(ev, 7), "body.created"), 0);
	json_decref(ev);
	assert_int_equal(tb_status_int(f.topo, "proposer", "proposals"), 1);
	fx_stop(&f);
}

/* A rejection (ctl, or a proposed task cancelled on the board) holds its
 * key for good; a bad key is refused. */
static void
test_reject(void **state)
{
	struct fx f;
	json_t   *rq, *d = NULL, *r;
	char      err[256], *key;

	UNUSED(state);
	fx_start(&f, "reject");
	rq = json_pack(
	    "{s:s, s:s}", "dedup_key", LINT_KEY, "reason", "we lint by hand");
	assert_int_equal(tb_call_json(f.topo, "proposer", MSG_PROPOSER_REJECT,
	                     rq, &d, err, sizeof(err)),
	    0);
	assert_true(json_is_true(tb_get(d, "recorded")));
	json_decref(d);
	assert_int_equal(tb_call_json(f.topo, "proposer", MSG_PROPOSER_REJECT,
	                     rq, &d, err, sizeof(err)),
	    0);
	assert_false(json_is_true(tb_get(d, "recorded")));
	json_decref(d);
	json_decref(rq);

	rq = json_pack("{s:s}", "dedup_key", "lint_fix");
	assert_int_equal(tb_call_json(f.topo, "proposer", MSG_PROPOSER_REJECT,
	                     rq, NULL, err, sizeof(err)),
	    ERR_INVAL);
	assert_non_null(strstr(err, "candidate|<family>|<repo>|<pattern>"));
	json_decref(rq);
	key = xmalloc(2000);
	memset(key, 'k', 1999);
	key[1999] = '\0';
	memcpy(key, "candidate|", 10);
	rq = json_pack("{s:s}", "dedup_key", key);
	assert_int_equal(tb_call_json(f.topo, "proposer", MSG_PROPOSER_REJECT,
	                     rq, NULL, err, sizeof(err)),
	    ERR_INVAL);
	assert_non_null(strstr(err, "at most 1024 bytes"));
	json_decref(rq);
	free(key);

	/* the cycle of an analysis: the rejected key is suppressed */
	analysis(&f, "ins_1");
	r = tb_events(f.topo, "proposer", "proposal.suppressed");
	assert_string_equal(
	    tb_str(of(r, "proposal.suppressed", LINT_KEY), "reason"),
	    "permanently_rejected_by_human");
	json_decref(r);

	/* a proposed task cancelled on the board rejects its key too */
	analysis(&f, "ins_2"); /* type_fix goes now that lint_fix cannot */
	r = tb_events(f.topo, "proposer", "proposal.created");
	assert_int_equal(json_array_size(r), 1);
	assert_string_equal(tb_str(r, "0.body.dedup_key"), TYPE_KEY);
	tb_inject(f.topo, "proposer", "task.created", "T-9",
	    json_pack("{s:s, s:s, s:s}", "task_id", "T-9", "title",
	        tb_str(r, "0.body.title"), "candidate_id",
	        tb_str(r, "0.body.candidate_id")));
	json_decref(r);
	tb_inject(f.topo, "proposer", "task.updated", "T-9",
	    json_pack("{s:s, s:s}", "task_id", "T-9", "state", "Cancelled"));
	assert_int_equal(tb_call(f.topo, "proposer", MSG_PROPOSER_REJECTIONS,
	                     NULL, &d, err, sizeof(err)),
	    0);
	assert_int_equal(json_array_size(tb_get(d, "rejections")), 2);
	assert_string_equal(tb_str(d, "rejections.1.dedup_key"), TYPE_KEY);
	assert_string_equal(tb_str(d, "rejections.1.task_id"), "T-9");
	json_decref(d);
	fx_stop(&f);
}

/* dep_status is one package's status as dep_report_json makes it. */
static json_t *
dep_status(const char *eco, const char *name, const char *status)
{
	return (json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "kind", eco,
	    "name", name, "status", status, "pinned_version", "1.0",
	    "installed_version", "0.9", "file", "requirements.txt", "healthy",
	    0));
}

static int
dep_tasks(struct fx *f, json_t *statuses, json_t **d, char *err, size_t n)
{
	json_t *rq =
	    json_pack("{s:s, s:o}", "repo", "demo", "statuses", statuses);
	int rv;

	rv = tb_call_json(
	    f->topo, "proposer", MSG_PROPOSER_DEPENDENCY_TASKS, rq, d, err, n);
	json_decref(rq);
	return (rv);
}

/* opc dependency-check --create-tasks: one improve proposal per unhealthy
 * package (kind, source, dependency_update_task_created), none again
 * while it is open, one more once it is Done; healthy or malformed
 * statuses make none; a dependency_drift insight makes the same key in
 * a cycle, which the open task suppresses. */
static void
test_dependency(void **state)
{
	struct fx f;
	json_t   *d = NULL, *ev, *e;
	char      err[256];
	size_t    i, n = 0;

	UNUSED(state);
	fx_start(&f, "dep");
	/* a list entry that is not a package status cannot make a
	 * request: the record refuses it, naming it (as opc says) */
	{
		union msg_body b;
		json_t *rq = json_pack("{s:s, s:[o, s]}", "repo", "demo",
		    "statuses", dep_status("python", "requests", "drift"),
		    "not an object");

		assert_int_not_equal(
		    msg_body_from_json(MSG_PROPOSER_DEPENDENCY_TASKS, &b, rq,
		        err, sizeof(err)),
		    0);
		assert_non_null(strstr(err, "'statuses'[1] is not an object"));
		json_decref(rq);
	}
	assert_int_equal(
	    dep_tasks(&f,
	        json_pack("[o, o, o, {s:s}]",
	            dep_status("python", "requests", "drift"),
	            dep_status("node", "gone", "missing"),
	            dep_status("go", "ok.example/m", "ok"), "name", "no-kind"),
	        &d, err, sizeof(err)),
	    0);
	assert_int_equal(json_array_size(tb_get(d, "created")), 2);
	assert_int_equal(json_array_size(tb_get(d, "skipped")), 0);
	json_decref(d);
	ev = tb_events(f.topo, "proposer", "proposal.created");
	assert_int_equal(json_array_size(ev), 2);
	json_array_foreach (ev, i, e) {
		assert_string_equal(tb_str(e, "body.kind"), "improve");
		assert_string_equal(
		    tb_str(e, "body.source"), "dependency-check");
		assert_string_equal(
		    tb_str(e, "body.family"), "dependency_update");
		assert_string_equal(tb_str(e, "body.state"), "Backlog");
	}
	assert_non_null(of(ev, "proposal.created",
	    "candidate|dependency_update|demo|python:requests:drift"));
	assert_string_equal(
	    tb_str(of(ev, "proposal.created",
	               "candidate|dependency_update|demo|node:gone:breakage"),
	        "title"),
	    "Dependency maintenance: gone breakage (node, demo)");
	json_decref(ev);
	ev = tb_events(f.topo, "proposer", "dependency_update.task_created");
	assert_int_equal(json_array_size(ev), 2);
	json_array_foreach (ev, i, e)
		n += strcmp(tb_str(e, "body.package"), "gone") == 0 &&
		    strcmp(tb_str(e, "body.kind"), "breakage") == 0;
	assert_int_equal(n, 1);
	json_decref(ev);

	/* again: the tasks are pending, then open on the board */
	assert_int_equal(
	    dep_tasks(&f,
	        json_pack("[o]", dep_status("python", "requests", "drift")),
	        &d, err, sizeof(err)),
	    0);
	assert_int_equal(json_array_size(tb_get(d, "created")), 0);
	assert_string_equal(tb_str(d, "skipped.0.reason"), "open_task_exists");
	json_decref(d);
	ev = tb_events(f.topo, "proposer", "proposal.created");
	e  = of(ev, "proposal.created",
	     "candidate|dependency_update|demo|python:requests:drift");
	tb_inject(f.topo, "proposer", "task.created", "T-5",
	    json_pack("{s:s, s:s, s:s}", "task_id", "T-5", "title",
	        tb_str(e, "title"), "candidate_id",
	        tb_str(e, "candidate_id")));
	json_decref(ev);
	tb_inject(f.topo, "proposer", "task.updated", "T-5",
	    json_pack("{s:s, s:s}", "task_id", "T-5", "state", "Backlog"));
	/* the autonomy cycle's insight for the same package: suppressed */
	insight(&f, "ins_d", "dependency_drift", "python:requests|drift",
	    dep_status("python", "requests", "drift"));
	tb_inject(f.topo, "proposer", "insight.run", "demo",
	    json_pack("{s:s, s:s, s:i}", "run_id", "ins_d", "repo", "demo",
	        "count", 1));
	ev = tb_events(f.topo, "proposer", "proposal.suppressed");
	assert_non_null(of(ev, "proposal.suppressed",
	    "candidate|dependency_update|demo|python:requests:drift"));
	json_decref(ev);
	/* Done: the drift is back, a new task may come */
	tb_inject(f.topo, "proposer", "task.updated", "T-5",
	    json_pack("{s:s, s:s}", "task_id", "T-5", "state", "Done"));
	assert_int_equal(
	    dep_tasks(&f,
	        json_pack("[o]", dep_status("python", "requests", "drift")),
	        &d, err, sizeof(err)),
	    0);
	assert_int_equal(json_array_size(tb_get(d, "created")), 1);
	json_decref(d);

	/* bad input: the proposer's answer to a repo that is not a key
	 * (statuses that are not a list are refused as the entry above) */
	d = json_pack("{s:s, s:[]}", "repo", "../x", "statuses");
	assert_int_equal(
	    tb_call_json(f.topo, "proposer", MSG_PROPOSER_DEPENDENCY_TASKS, d,
	        NULL, err, sizeof(err)),
	    ERR_INVAL);
	json_decref(d);
	assert_non_null(strstr(err, "not a repo key"));
	fx_stop(&f);
}

/* feedback records an outcome by hand (opc proposals feedback record);
 * family and confidence given: 0, else the ctl's error code. */
static int
feedback(struct fx *f, const char *task, const char *outcome,
    const char *family, const char *conf, char *err, size_t errlen)
{
	json_t *rq = json_pack(
	           "{s:s, s:s}", "task_id", task, "outcome", outcome),
	       *d = NULL;
	int rv;

	if (family != NULL)
		json_object_set_new(rq, "family", json_string(family));
	if (conf != NULL)
		json_object_set_new(rq, "confidence", json_string(conf));
	rv = tb_call_json(f->topo, "proposer", MSG_PROPOSER_FEEDBACK_RECORD,
	    rq, &d, err, errlen);
	json_decref(rq);
	json_decref(d);
	return (rv);
}

/* row returns the calibration row of family (borrowed from d), or NULL. */
static json_t *
calib_row(const json_t *d, const char *family)
{
	json_t *r;
	size_t  i;

	json_array_foreach (json_object_get(d, "rows"), i, r)
		if (strcmp(tb_str(r, "family"), family) == 0)
			return (r);
	return (NULL);
}

/* Outcomes recorded by hand grade families with the original's cut-offs
 * (>= 0.9 well calibrated, 0.6-0.9 mildly over-confident, < 0.6
 * over-confident, fewer than 5: insufficient sample); a record of a
 * proposed task takes its family and confidence and replaces the board's
 * outcome; a second record replaces the first; bad input is refused. */
static void
test_feedback(void **state)
{
	struct msg_proposer_calibration cq = { 0 };
	struct fx                       f;
	json_t                         *d = NULL, *r, *ev;
	char                            err[256], task[16];
	int                             i;

	UNUSED(state);
	fx_start(&f, "feedback");
	/* a proposed task (lint_fix, high) the board says is Done */
	analysis(&f, "ins_1");
	ev = tb_events(f.topo, "proposer", "proposal.created");
	tb_inject(f.topo, "proposer", "task.created", "T-9",
	    json_pack("{s:s, s:s, s:s}", "task_id", "T-9", "title",
	        tb_str(ev, "0.body.title"), "candidate_id",
	        tb_str(ev, "0.body.candidate_id")));
	json_decref(ev);
	tb_inject(f.topo, "proposer", "task.updated", "T-9",
	    json_pack("{s:s, s:s}", "task_id", "T-9", "state", "Done"));
	/* ... abandoned after all, by hand: family and confidence its own */
	assert_int_equal(
	    feedback(&f, "T-9", "abandoned", NULL, NULL, err, sizeof(err)), 0);
	for (i = 0; i < 4; i++) { /* 4 more lint_fix/high, all merged */
		snprintf(task, sizeof(task), "L-%d", i);
		assert_int_equal(feedback(&f, task, "merged", "lint_fix",
		                     "high", err, sizeof(err)),
		    0);
	}
	for (i = 0; i < 5; i++) { /* type_fix/high: 2 of 5 merged */
		snprintf(task, sizeof(task), "T-%d", i);
		assert_int_equal(
		    feedback(&f, task, i < 2 ? "merged" : "rejected",
		        "type_fix", "high", err, sizeof(err)),
		    0);
	}
	for (i = 0; i < 5; i++) { /* coverage_gap/medium: 2 of 5 merged */
		snprintf(task, sizeof(task), "C-%d", i);
		assert_int_equal(
		    feedback(&f, task, i < 2 ? "merged" : "abandoned",
		        "coverage_gap", "medium", err, sizeof(err)),
		    0);
	}
	for (i = 0; i < 4; i++) { /* docs/low: too few */
		snprintf(task, sizeof(task), "D-%d", i);
		assert_int_equal(feedback(&f, task, "rejected", "docs", "low",
		                     err, sizeof(err)),
		    0);
	}
	assert_int_equal(tb_call(f.topo, "proposer", MSG_PROPOSER_CALIBRATION,
	                     &cq, &d, err, sizeof(err)),
	    0);
	r = calib_row(d, "lint_fix"); /* 4 of 5: 0.8 / 0.8 */
	assert_non_null(r);
	assert_int_equal(tb_int(r, "total"), 5);
	assert_int_equal(tb_int(r, "merged"), 4);
	assert_int_equal(tb_int(r, "abandoned"), 1);
	assert_string_equal(tb_str(r, "note"), "well calibrated");
	assert_string_equal(tb_str(r, "mark"), "\xe2\x9c\x93");
	r = calib_row(d, "type_fix"); /* 0.4 / 0.8 */
	assert_string_equal(tb_str(r, "note"), "over-confident");
	assert_string_equal(tb_str(r, "mark"), "\xe2\x9a\xa0");
	r = calib_row(d, "coverage_gap"); /* 0.4 / 0.5 */
	assert_string_equal(tb_str(r, "note"), "mildly over-confident");
	assert_string_equal(tb_str(r, "mark"), "");
	r = calib_row(d, "docs");
	assert_int_equal(tb_int(r, "total"), 4);
	assert_string_equal(tb_str(r, "note"), "insufficient sample");
	json_decref(d);

	/* a second record of a task replaces the first: 3 of 5 */
	assert_int_equal(feedback(&f, "L-0", "rejected", "lint_fix", "high",
	                     err, sizeof(err)),
	    0);
	assert_int_equal(tb_call(f.topo, "proposer", MSG_PROPOSER_CALIBRATION,
	                     &cq, &d, err, sizeof(err)),
	    0);
	r = calib_row(d, "lint_fix");
	assert_int_equal(tb_int(r, "total"), 5);
	assert_int_equal(tb_int(r, "merged"), 3);
	assert_string_equal(tb_str(r, "note"), "mildly over-confident");
	json_decref(d);

	/* bad input: a clear error, nothing recorded */
	assert_int_equal(
	    feedback(&f, "X-1", "merged", NULL, NULL, err, sizeof(err)),
	    ERR_INVAL);
	assert_non_null(strstr(err, "give its family and confidence"));
	assert_int_equal(feedback(&f, "X-1", "escalated", "lint_fix", "high",
	                     err, sizeof(err)),
	    ERR_INVAL);
	assert_non_null(strstr(err, "merged, rejected or abandoned"));
	assert_int_equal(feedback(&f, "X-1", "merged", "lint_fix", "sure", err,
	                     sizeof(err)),
	    ERR_INVAL);
	assert_non_null(strstr(err, "high, medium or low"));
	assert_int_equal(
	    feedback(&f, "", "merged", "lint_fix", "high", err, sizeof(err)),
	    ERR_INVAL);
	fx_stop(&f);
}

/* A dry cycle reports and journals nothing; five executing cycles that
 * propose nothing make the proposer quiet (proposer.quiet). */
static void
test_dry_and_quiet(void **state)
{
	struct fx f;
	json_t   *d, *ev;
	int       i;

	UNUSED(state);
	fx_start(&f, "quiet");
	d = cycle_now(&f, false);
	assert_true(json_is_true(tb_get(d, "dry_run")));
	assert_int_equal(tb_int(d, "candidates"), 0);
	json_decref(d);
	assert_int_equal(tb_status_int(f.topo, "proposer", "journal_seq"), 0);
	for (i = 0; i < 5; i++)
		json_decref(cycle_now(&f, true));
	ev = tb_events(f.topo, "proposer", "proposer.cycle");
	assert_int_equal(json_array_size(ev), 5);
	json_decref(ev);
	ev = tb_events(f.topo, "proposer", "proposer.quiet");
	assert_int_equal(json_array_size(ev), 1);
	assert_true(json_is_true(tb_get(ev, "0.body.quiet")));
	assert_int_equal(tb_int(ev, "0.body.cycles"), 5);
	json_decref(ev);
	assert_int_equal(tb_wait_int(f.topo, "proposer", "quiet", 1, WAIT), 1);
	fx_stop(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cycle),
		cmocka_unit_test(test_reject),
		cmocka_unit_test(test_feedback),
		cmocka_unit_test(test_dry_and_quiet),
		cmocka_unit_test(test_dependency),
	};

	log_init("test_proposer", NULL, LOG_WARN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
