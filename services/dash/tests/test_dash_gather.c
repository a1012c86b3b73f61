/*
 * test_dash_gather.c - the dashboard's state document (gather.c) against
 * a real proposer in-process (testbed): an insighter's analysis makes a
 * cycle that proposes one task and suppresses two, and the document shows
 * that last cycle with its suppression reasons (read back from the
 * proposer's journal over ctl.replay), the proposer as an instance that
 * answered, and the instances that do not run as such.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dash.h"
#include "proposer.h"
#include "testbed.h"

static void
insight(
    struct topo *t, const char *kind, const char *subject, json_t *evidence)
{
	char *dk = xasprintf("%s|%s", kind, subject);
	char *id = xasprintf("%s:%s", kind, subject);

	tb_inject(t, "proposer", "insight.derived", "demo",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s}", "insight_id", id,
	        "repo", "demo", "kind", kind, "dedup_key", dk, "subject",
	        subject, "evidence", evidence, "run_id", "ins_1"));
	free(dk);
	free(id);
}

/* doc waits for a document whose autonomy has a cycle (or TB_WAIT_MS). */
static json_t *
doc(struct dash_gather *g)
{
	int64_t end = mono_ms() + TB_WAIT_MS;
	json_t *d   = NULL;
	char   *s;

	while (mono_ms() < end) {
		json_decref(d);
		s = dash_gather_text(g);
		d = s ? json_loads(s, 0, NULL) : NULL;
		free(s);
		if (json_is_object(tb_get(d, "autonomy.cycle")))
			return (d);
		sleep_ms(20);
	}
	return (d);
}

static void
test_autonomy_cycle(void **state)
{
	char               *dir = tb_dir(), *yaml;
	struct topo        *t;
	struct tb_svc      *p;
	struct dash_gather *g;
	json_t             *d, *e, *sup;
	size_t              i;
	bool                lint = false, cov = false, prop = false;

	UNUSED(state);
	yaml = xasprintf("opcenter:\n"
	                 "  state_dir: %s/state\n"
	                 "  heartbeat_ms: 50\n"
	                 "instances:\n"
	                 "  insighter:\n"
	                 "    pub: inproc://dg-ins.pub\n"
	                 "    ctl: inproc://dg-ins.ctl\n"
	                 "  board-sync:\n"
	                 "    pub: inproc://dg-bs.pub\n"
	                 "    ctl: inproc://dg-bs.ctl\n"
	                 "  router:\n"
	                 "    pub: inproc://dg-router.pub\n"
	                 "    ctl: inproc://dg-router.ctl\n"
	                 "  proposer:\n"
	                 "    upstreams: [insighter, board-sync, router]\n"
	                 "    pub: inproc://dg-prop.pub\n"
	                 "    ctl: inproc://dg-prop.ctl\n"
	                 "    idle_ms: 20\n"
	                 "    catchup_grace_ms: 50\n"
	                 "    auto: true\n",
	    dir);
	t    = tb_topo(dir, yaml);
	free(yaml);
	p = tb_start_caught_up(&proposer_def, t, "proposer");
	insight(t, "lint_drift", "lint",
	    json_pack("{s:i, s:i, s:i, s:[{s:s, s:i}]}", "count", 25,
	        "distinct_file_count", 3, "delta", 0, "top_files", "path",
	        "src/a.py", "count", 20));
	insight(t, "type_health", "type",
	    json_pack("{s:i, s:i}", "count", 5, "distinct_file_count", 2));
	insight(t, "coverage_gap", "low_overall",
	    json_pack("{s:f}", "total_pct", 41.0));
	tb_inject(t, "proposer", "insight.run", "demo",
	    json_pack("{s:s, s:s, s:i}", "run_id", "ins_1", "repo", "demo",
	        "count", 3));
	json_decref(
	    tb_wait_events(t, "proposer", "proposer.cycle", 1, TB_WAIT_MS));
	assert_int_equal(dash_gather_open(&g, t, "dash", NULL, 50, 300, 5), 0);
	d = doc(g);
	assert_non_null(d);
	assert_string_equal(tb_str(d, "autonomy.cycle.insight_run"), "ins_1");
	assert_int_equal(tb_int(d, "autonomy.cycle.candidates"), 3);
	assert_int_equal(tb_int(d, "autonomy.cycle.suppressed"), 2);
	sup = tb_get(d, "autonomy.suppressed");
	assert_int_equal(json_array_size(sup), 2);
	json_array_foreach (sup, i, e) {
		const char *r = tb_str(e, "reason");

		lint |= strcmp(r, "upstream_family_in_cycle") == 0;
		cov |= strcmp(r, "family_deferred_initial_gating") == 0;
	}
	assert_true(lint && cov);
	/* the instances: the proposer answered, the others do not run */
	json_array_foreach (tb_get(d, "instances"), i, e) {
		if (strcmp(tb_str(e, "name"), "proposer") == 0) {
			prop = true;
			assert_true(json_is_true(tb_get(e, "answered")));
			/* 3 proposal events and the cycle */
			assert_true(tb_int(e, "status.journal_seq") >= 4);
		} else
			assert_true(json_is_false(tb_get(e, "answered")));
	}
	assert_true(prop);
	assert_true(json_is_array(tb_get(d, "runs")));
	json_decref(d);
	dash_gather_close(&g);
	assert_null(g);
	tb_stop(&p);
	topo_close(&t);
	tb_rmrf(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_autonomy_cycle),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
