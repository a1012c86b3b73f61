/*
 * test_insighter.c - the insighter through its real descriptor in-process.
 *
 * Its upstreams (observer, proposer, board-sync) exist in the topology
 * but never run: snapshots and proposals are fed with ctl inject, and
 * what it derives is read back from its journal over ctl.replay and from
 * its insighter.insights query.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "insighter.h"
#include "opc/log.h"
#include "testbed.h"

#define WAIT TB_WAIT_MS
#define MIN_MS (60 * 1000LL)

struct fx {
	char          *dir;
	struct topo   *topo;
	struct tb_svc *ins;
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
	                       "  observer:\n"
	                       "    pub: inproc://%s-obs.pub\n"
	                       "    ctl: inproc://%s-obs.ctl\n"
	                       "  proposer:\n"
	                       "    pub: inproc://%s-prop.pub\n"
	                       "    ctl: inproc://%s-prop.ctl\n"
	                       "  board-sync:\n"
	                       "    pub: inproc://%s-bs.pub\n"
	                       "    ctl: inproc://%s-bs.ctl\n"
	                       "  insighter:\n"
	                       "    upstreams: [observer, proposer, board-sync]\n"
	                       "    pub: inproc://%s-ins.pub\n"
	                       "    ctl: inproc://%s-ins.ctl\n"
	                       "    idle_ms: 20\n"
	                       "    catchup_grace_ms: 50\n"
	                       "    stale_after: 1h\n"
	                       "    stale_check: 20ms\n",
	       f->dir, tag, tag, tag, tag, tag, tag, tag, tag);
	f->topo = tb_topo(f->dir, yaml);
	free(yaml);
	f->ins = tb_start_caught_up(&insighter_def, f->topo, "insighter");
}

static void
fx_stop(struct fx *f)
{
	tb_stop(&f->ins);
	topo_close(&f->topo);
	tb_rmrf(f->dir);
	free(f->dir);
}

/* snapshot injects run's snapshot of repo with lint violations (and a
 * type checker that found nothing) observed at ms. */
static void
snapshot(struct fx *f, const char *repo, const char *run, int lint, int64_t at)
{
	tb_inject(f->topo, "insighter", "observe.snapshot", run,
	    json_pack("{s:s, s:s, s:I, s:{s:s, s:{s:s, s:i, s:i, s:[{s:s, "
	              "s:i}]}, s:{s:s, s:i}}}",
	        "run_id", run, "repo", repo, "observed_at", (json_int_t) at,
	        "snapshot", "run_id", run, "lint", "status", "violations",
	        "count", lint, "distinct_files", 2, "top_files", "path",
	        "src/a.py", "count", lint, "type", "status", "clean", "count",
	        0));
}

/* find returns the body of the event whose dedup_key is dk (borrowed from
 * events), or NULL. */
static json_t *
find(const json_t *events, const char *dk)
{
	json_t *e;
	size_t  i;

	json_array_foreach (events, i, e) {
		const char *k = tb_str(e, "body.dedup_key");

		if (k != NULL && strcmp(k, dk) == 0)
			return (tb_get(e, "body"));
	}
	return (NULL);
}

/* ------------------------------------------------------------------ cases */

/* A snapshot: every insight.derived of the analysis, then the insight.run
 * that closes it; the same snapshot again changes nothing. */
static void
test_snapshot(void **state)
{
	struct fx f;
	json_t   *ev, *d, *last, *q, *rq;
	char      err[256];
	size_t    i;
	int64_t   now = now_ms();

	UNUSED(state);
	fx_start(&f, "snap");
	snapshot(&f, "demo", "obs_1", 12, now - 2 * MIN_MS);
	ev = tb_events(f.topo, "insighter", NULL);
	assert_true(json_array_size(ev) >= 2);
	last = json_array_get(ev, json_array_size(ev) - 1);
	assert_string_equal(tb_str(last, "topic"), "insight.run");
	assert_string_equal(tb_str(last, "body.run_id"), "ins_1");
	assert_string_equal(tb_str(last, "body.repo"), "demo");
	assert_string_equal(tb_str(last, "body.snapshot_run"), "obs_1");
	assert_int_equal(
	    tb_int(last, "body.count"), (int64_t) json_array_size(ev) - 1);
	for (i = 0; i + 1 < json_array_size(ev); i++) {
		d = json_array_get(ev, i);
		assert_string_equal(tb_str(d, "topic"), "insight.derived");
		assert_string_equal(tb_str(d, "body.run_id"), "ins_1");
		assert_string_equal(tb_str(d, "body.repo"), "demo");
	}
	d = find(ev, "lint_drift|lint");
	assert_non_null(d);
	assert_string_equal(tb_str(d, "insight_id"), "lint_drift:lint");
	assert_string_equal(tb_str(d, "snapshot_run"), "obs_1");
	assert_int_equal(tb_int(d, "evidence.count"), 12);
	assert_string_equal(tb_str(d, "evidence.trend"), "present");
	assert_null(find(ev, "type_health|type")); /* the checker was clean */
	json_decref(ev);

	snapshot(&f, "demo", "obs_1", 12, now - 2 * MIN_MS);
	assert_int_equal(tb_status_int(f.topo, "insighter", "snapshots"), 1);
	ev = tb_events(f.topo, "insighter", "insight.run");
	assert_int_equal(json_array_size(ev), 1);
	json_decref(ev);

	/* the query answers the current insights per repo */
	rq = json_pack("{s:s}", "repo", "demo");
	assert_int_equal(tb_call_json(f.topo, "insighter",
	                     MSG_INSIGHTER_INSIGHTS, rq, &q, err, sizeof(err)),
	    0);
	assert_string_equal(tb_str(q, "repos.demo.run_id"), "ins_1");
	assert_true(json_array_size(tb_get(q, "repos.demo.insights")) >= 1);
	json_decref(q);
	json_decref(rq);
	fx_stop(&f);
}

/* Rising counts over three snapshots: lint_drift worsening and
 * quality_trend lint_degrading; first_seen_at stays the first. */
static void
test_trend(void **state)
{
	struct fx f;
	json_t   *ev, *run, *d;
	int64_t   now = now_ms();

	UNUSED(state);
	fx_start(&f, "trend");
	snapshot(&f, "demo", "obs_1", 5, now - 30 * MIN_MS);
	snapshot(&f, "demo", "obs_2", 8, now - 20 * MIN_MS);
	snapshot(&f, "demo", "obs_3", 12, now - 10 * MIN_MS);
	run = tb_events(f.topo, "insighter", "insight.run");
	assert_int_equal(json_array_size(run), 3);
	assert_string_equal(tb_str(run, "2.body.run_id"), "ins_3");
	ev = tb_events(f.topo, "insighter", "insight.derived");
	/* only the last analysis: from the seq of the second insight.run */
	while (json_array_size(ev) > 0 &&
	    tb_int(ev, "0.seq") < tb_int(run, "1.seq"))
		json_array_remove(ev, 0);
	d = find(ev, "quality_trend|lint_degrading");
	assert_non_null(d);
	assert_int_equal(tb_int(d, "evidence.first"), 5);
	assert_int_equal(tb_int(d, "evidence.last"), 12);
	d = find(ev, "lint_drift|lint");
	assert_non_null(d);
	assert_string_equal(tb_str(d, "evidence.trend"), "worsening");
	assert_int_equal(tb_int(d, "evidence.delta"), 4);
	assert_int_equal(tb_int(d, "first_seen_at"), now - 30 * MIN_MS);
	assert_int_equal(tb_int(d, "last_seen_at"), now - 10 * MIN_MS);
	/* src/a.py led the lint three snapshots in a row */
	assert_non_null(find(ev, "theme|lint_cluster|src/a.py"));
	assert_int_equal(tb_status_int(f.topo, "insighter", "snapshots"), 3);
	json_decref(ev);
	json_decref(run);
	fx_stop(&f);
}

/* Proposals of one family never accepted: a noop_loop insight. */
static void
test_noop_loop(void **state)
{
	struct fx f;
	json_t   *ev;
	char      id[64];
	int       i;

	UNUSED(state);
	fx_start(&f, "noop");
	for (i = 0; i < 3; i++) {
		snprintf(
		    id, sizeof(id), "candidate:lint_fix:demo:x@dec_%d", i);
		tb_inject(f.topo, "insighter", "proposal.created", id,
		    json_pack("{s:s, s:s, s:s}", "candidate_id", id, "repo",
		        "demo", "family", "lint_fix"));
	}
	snapshot(&f, "demo", "obs_1", 3, now_ms());
	ev = tb_events(f.topo, "insighter", "insight.derived");
	assert_non_null(find(ev, "noop_loop|family_cycling|lint_fix"));
	assert_int_equal(tb_int(find(ev, "noop_loop|family_cycling|lint_fix"),
	                     "evidence.proposed"),
	    3);
	json_decref(ev);
	fx_stop(&f);
}

/* A snapshot that is no object or names no repo is counted and ignored;
 * a repo whose latest snapshot is older than stale_after is warned about
 * once. */
static void
test_bad_and_stale(void **state)
{
	struct msg_ctl_inject in;
	struct fx             f;
	json_t               *ev;
	char                  err[512];

	UNUSED(state);
	fx_start(&f, "stale");
	/* a snapshot that is no obs_snapshot record is refused by the
	 * decoder, naming the field (nothing reaches the handler) */
	memset(&in, 0, sizeof(in));
	in.topic = "observe.snapshot";
	in.body  = json_pack("{s:s, s:s, s:{s:s, s:s}}", "run_id", "obs_x",
	     "repo", "demo", "snapshot", "run_id", "obs_x", "lint", "many");
	assert_int_not_equal(tb_call(f.topo, "insighter", MSG_CTL_INJECT, &in,
	                         NULL, err, sizeof(err)),
	    0);
	assert_non_null(strstr(err, "'lint'"));
	json_decref(in.body);
	in.body = json_pack("{s:s, s:s, s:s}", "run_id", "obs_x", "repo",
	    "demo", "snapshot", "not an object");
	assert_int_not_equal(tb_call(f.topo, "insighter", MSG_CTL_INJECT, &in,
	                         NULL, err, sizeof(err)),
	    0);
	assert_non_null(strstr(err, "'snapshot'"));
	json_decref(in.body);
	tb_inject(f.topo, "insighter", "observe.snapshot", NULL,
	    json_pack("{s:s, s:s, s:{s:s}}", "run_id", "obs_y", "repo", "",
	        "snapshot", "run_id", "obs_y"));
	assert_int_equal(
	    tb_status_int(f.topo, "insighter", "counters.bad_snapshots"), 1);
	assert_int_equal(tb_status_int(f.topo, "insighter", "journal_seq"), 0);

	snapshot(&f, "old", "obs_1", 0, now_ms() - 3 * 60 * MIN_MS);
	ev = tb_wait_events(f.topo, "insighter", "insight.warning", 1, WAIT);
	assert_int_equal(json_array_size(ev), 1);
	assert_string_equal(tb_str(ev, "0.body.kind"), "stale_snapshot");
	assert_string_equal(tb_str(ev, "0.body.repo"), "old");
	assert_non_null(
	    strstr(tb_str(ev, "0.body.message"), "limit 60.0 min"));
	json_decref(ev);
	assert_int_equal(
	    tb_wait_int(f.topo, "insighter", "stale_repos", 1, WAIT), 1);
	/* a fresh snapshot re-arms it; nothing more is said meanwhile */
	ev = tb_events(f.topo, "insighter", "insight.warning");
	assert_int_equal(json_array_size(ev), 1);
	json_decref(ev);
	snapshot(&f, "old", "obs_2", 0, now_ms());
	assert_int_equal(tb_status_int(f.topo, "insighter", "stale_repos"), 0);
	fx_stop(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_trend),
		cmocka_unit_test(test_noop_loop),
		cmocka_unit_test(test_bad_and_stale),
	};

	log_init("test_insighter", NULL, LOG_WARN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
