/*
 * test_guard.c - the proposer's rules, guardrails and calibration, with
 * the original's cases (inventory section 8, item 8: cooldown_active,
 * family_quota_exceeded, quota_exceeded, upstream_family_in_cycle).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proposer.h"

#define MIN_MS (60 * 1000LL)

/* A fake world: each callback reads these. */
static struct {
	const char *rejected; /* dedup key rejected */
	const char *emitted;  /* dedup key emitted at emitted_at */
	int64_t     emitted_at;
	const char *fam_emitted; /* family emitted at emitted_at */
	const char *open_key;    /* dedup key of an open task */
	const char *cycling;     /* family in a no-op loop */
} W;

static int
f_rejected(void *a, const char *dk)
{
	(void) a;
	return (W.rejected != NULL && strcmp(W.rejected, dk) == 0);
}

static int
f_cycling(void *a, const char *repo, const char *fam)
{
	(void) a;
	(void) repo;
	return (W.cycling != NULL && strcmp(W.cycling, fam) == 0);
}

static int64_t
f_last(void *a, const char *dk)
{
	(void) a;
	return (W.emitted != NULL && strcmp(W.emitted, dk) == 0 ? W.emitted_at
	                                                        : 0);
}

static int64_t
f_fam(void *a, const char *repo, const char *fam)
{
	(void) a;
	(void) repo;
	return (W.fam_emitted != NULL && strcmp(W.fam_emitted, fam) == 0
	        ? W.emitted_at
	        : 0);
}

static int
f_equiv(void *a, const struct cand *c)
{
	(void) a;
	return (W.open_key != NULL && strcmp(W.open_key, c->dedup_key) == 0);
}

static void
ctx(struct guard_ctx *x)
{
	memset(x, 0, sizeof(*x));
	x->now_ms         = 1000 * MIN_MS;
	x->rejected       = f_rejected;
	x->cycling        = f_cycling;
	x->last_emitted   = f_last;
	x->family_emitted = f_fam;
	x->equivalent     = f_equiv;
}

static int
setup(void **st)
{
	(void) st;
	memset(&W, 0, sizeof(W));
	return (0);
}

/* insights of a repo with lint and type counts (and a lint theme). */
static json_t *
insights(int lint, int type, int degrading, const char *theme)
{
	json_t *a = json_array();
	char    dk[128];

	if (lint > 0)
		json_array_append_new(a,
		    json_pack("{s:s, s:s, s:s, s:{s:i,"
		              " s:i, s:[{s:s, s:i}]}}",
		        "dedup_key", "lint_drift|lint", "kind", "lint_drift",
		        "subject", "lint", "evidence", "count", lint,
		        "distinct_file_count", 2, "top_files", "path",
		        "src/a.py", "count", lint));
	if (type > 0)
		json_array_append_new(a,
		    json_pack("{s:s, s:s, s:s, s:{s:i}}", "dedup_key",
		        "type_health|type", "kind", "type_health", "subject",
		        "type", "evidence", "count", type));
	if (degrading)
		json_array_append_new(a,
		    json_pack("{s:s, s:s, s:s}", "dedup_key",
		        "quality_trend|lint_degrading", "kind",
		        "quality_trend", "subject", "lint_degrading"));
	if (theme != NULL) {
		snprintf(dk, sizeof(dk), "theme|lint_cluster|%s", theme);
		json_array_append_new(a,
		    json_pack("{s:s, s:s, s:s, s:{s:i}}", "dedup_key", dk,
		        "kind", "theme", "subject", "lint_cluster", "evidence",
		        "consecutive_runs", 3));
	}
	return (a);
}

/* extend appends b's items to a and releases b. */
static void
extend(json_t *a, json_t *b)
{
	json_array_extend(a, b);
	json_decref(b);
}

static struct cand *
by_family(struct cand *cv, size_t n, const char *fam)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(cv[i].family, fam) == 0)
			return (&cv[i]);
	return (NULL);
}

static void
test_rules(void **st)
{
	struct rule_limits rl;
	struct cand       *cv  = NULL, *c;
	size_t             n   = 0;
	json_t            *ins = insights(4, 2, 0, NULL);

	(void) st;
	rule_limits_default(&rl);
	rules_apply("r", ins, &rl, &cv, &n);
	assert_int_equal(n, 0); /* 4 < 5 violations, 2 < 3 errors */
	json_decref(ins);
	ins = insights(5, 3, 1, NULL);
	rules_apply("r", ins, &rl, &cv, &n);
	assert_int_equal(n, 2);
	assert_non_null(c = by_family(cv, n, "lint_fix"));
	assert_string_equal(
	    c->dedup_key, "candidate|lint_fix|r|lint_violations");
	assert_string_equal(
	    c->candidate_id, "candidate:lint_fix:r:lint_violations");
	assert_string_equal(c->confidence, "high"); /* degrading */
	assert_string_equal(c->risk_class, "style");
	assert_non_null(strstr(c->goal, "src/a.py (5)"));
	assert_non_null(c = by_family(cv, n, "type_fix"));
	assert_string_equal(c->confidence, "medium");
	cands_free(cv, n);
	json_decref(ins);
}

/* run makes the candidates of ins and runs the guards. */
static size_t
run(json_t *ins, struct guard_limits *gl, struct guard_ctx *x,
    struct cand **cv, size_t *n)
{
	struct rule_limits rl;

	rule_limits_default(&rl);
	*cv = NULL;
	*n  = 0;
	rules_apply("r", ins, &rl, cv, n);
	json_decref(ins);
	return (guard_run(*cv, *n, gl, x));
}

static void
test_upstream_family_in_cycle(void **st)
{
	struct guard_limits gl;
	struct guard_ctx    x;
	struct cand        *cv;
	size_t              n;

	(void) st;
	guard_limits_default(&gl);
	ctx(&x);
	assert_int_equal(run(insights(9, 9, 0, NULL), &gl, &x, &cv, &n), 1);
	assert_null(by_family(cv, n, "lint_fix")->reason);
	assert_string_equal(
	    by_family(cv, n, "lint_fix")->state, "Ready for AI"); /* tier 2 */
	assert_string_equal(
	    by_family(cv, n, "type_fix")->reason, "upstream_family_in_cycle");
	cands_free(cv, n);
	/* lint_fix in its cooldown: type_fix waits for it all the same */
	W.emitted     = "candidate|lint_fix|r|lint_violations";
	W.fam_emitted = "lint_fix";
	W.emitted_at  = x.now_ms - 10 * MIN_MS;
	assert_int_equal(run(insights(9, 9, 0, NULL), &gl, &x, &cv, &n), 0);
	assert_string_equal(by_family(cv, n, "type_fix")->reason,
	    "upstream_family_recently_emitted");
	cands_free(cv, n);
}

static void
test_cooldown_active(void **st)
{
	struct guard_limits gl;
	struct guard_ctx    x;
	struct cand        *cv;
	size_t              n;

	(void) st;
	guard_limits_default(&gl);
	ctx(&x);
	W.emitted    = "candidate|lint_fix|r|lint_violations";
	W.emitted_at = x.now_ms - 119 * MIN_MS;
	assert_int_equal(run(insights(9, 0, 0, NULL), &gl, &x, &cv, &n), 0);
	assert_string_equal(cv[0].reason, "cooldown_active");
	cands_free(cv, n);
	W.emitted_at = x.now_ms - 121 * MIN_MS; /* cooldown over */
	assert_int_equal(run(insights(9, 0, 0, NULL), &gl, &x, &cv, &n), 1);
	cands_free(cv, n);
}

static void
test_family_and_cycle_quota(void **st)
{
	struct guard_limits gl;
	struct guard_ctx    x;
	struct cand        *cv = NULL;
	struct rule_limits  rl;
	size_t              n = 0, i, fq = 0, q = 0, ok = 0;
	json_t             *ins;

	(void) st;
	guard_limits_default(&gl);
	gl.all_families = true;
	ctx(&x);
	rule_limits_default(&rl);
	/* five lint_cluster themes in one repo plus lint_fix: one per
	 * family (family_quota_exceeded), then three per cycle at most */
	ins = insights(9, 0, 0, "a.py");
	extend(ins, insights(0, 0, 0, "b.py"));
	rules_apply("r", ins, &rl, &cv, &n);
	json_decref(ins);
	ins = insights(9, 0, 0, "c.py");
	rules_apply("s", ins, &rl, &cv, &n);
	json_decref(ins);
	ins = insights(9, 0, 0, "d.py");
	rules_apply("t", ins, &rl, &cv, &n);
	json_decref(ins);
	assert_int_equal(n, 7);
	(void) guard_run(cv, n, &gl, &x);
	for (i = 0; i < n; i++) {
		if (cv[i].reason == NULL)
			ok++;
		else if (strcmp(cv[i].reason, "family_quota_exceeded") == 0)
			fq++;
		else if (strcmp(cv[i].reason, "quota_exceeded") == 0)
			q++;
	}
	/* lint_fix x3 (r, s, t) and lint_cluster x4: one of each family
	 * passes the family quota; both fit in max_candidates 3 */
	assert_int_equal(ok, 2);
	assert_int_equal(fq, 5);
	assert_int_equal(q, 0);
	cands_free(cv, n);
	/* a per-family quota of 3 lets max_candidates bite */
	gl.per_family = 3;
	cv            = NULL;
	n             = 0;
	ins           = insights(9, 0, 0, "a.py");
	extend(ins, insights(0, 0, 0, "b.py"));
	extend(ins, insights(0, 0, 0, "c.py"));
	rules_apply("r", ins, &rl, &cv, &n);
	json_decref(ins);
	assert_int_equal(guard_run(cv, n, &gl, &x), 3);
	assert_string_equal(cv[3].reason, "quota_exceeded");
	cands_free(cv, n);
}

static void
test_order_and_gates(void **st)
{
	struct guard_limits gl;
	struct guard_ctx    x;
	struct cand        *cv;
	size_t              n;

	(void) st;
	guard_limits_default(&gl);
	ctx(&x);
	/* the rejection store is checked first: before the cooldown */
	W.rejected   = "candidate|lint_fix|r|lint_violations";
	W.emitted    = W.rejected;
	W.emitted_at = x.now_ms - MIN_MS;
	run(insights(9, 0, 0, NULL), &gl, &x, &cv, &n);
	assert_string_equal(cv[0].reason, "permanently_rejected_by_human");
	cands_free(cv, n);
	memset(&W, 0, sizeof(W));
	/* gated family */
	run(insights(0, 0, 0, "a.py"), &gl, &x, &cv, &n);
	assert_string_equal(cv[0].reason, "family_deferred_initial_gating");
	cands_free(cv, n);
	/* budget: 8 of 10 executions used in the hour leaves 2 < 3 */
	x.exec_hour = 8;
	run(insights(9, 0, 0, NULL), &gl, &x, &cv, &n);
	assert_string_equal(cv[0].reason, "proposal_budget_too_low");
	cands_free(cv, n);
	x.exec_hour   = 0;
	x.created_24h = 10;
	run(insights(9, 0, 0, NULL), &gl, &x, &cv, &n);
	assert_string_equal(cv[0].reason, "velocity_cap_reached");
	cands_free(cv, n);
	x.created_24h = 0;
	W.open_key    = "candidate|lint_fix|r|lint_violations";
	run(insights(9, 0, 0, NULL), &gl, &x, &cv, &n);
	assert_string_equal(cv[0].reason, "existing_open_equivalent_task");
	cands_free(cv, n);
	W.open_key    = NULL;
	x.ready_count = 8;
	run(insights(9, 0, 0, NULL), &gl, &x, &cv, &n);
	assert_string_equal(cv[0].reason, "ready_queue_saturated");
	cands_free(cv, n);
	x.ready_count = 0;
	W.cycling     = "lint_fix";
	run(insights(9, 0, 0, NULL), &gl, &x, &cv, &n);
	assert_string_equal(cv[0].reason, "family_cycling");
	cands_free(cv, n);
}

static void
test_tiers(void **st)
{
	struct guard_limits gl;
	struct guard_ctx    x;
	struct cand        *cv;
	size_t              n;
	json_t             *t = json_pack("{s:i}", "lint_fix", 0);

	(void) st;
	guard_limits_default(&gl);
	ctx(&x);
	assert_int_equal(guard_tier(&gl, "lint_fix"), 2);
	assert_int_equal(guard_tier(&gl, "arch_promotion"), 0);
	assert_int_equal(guard_tier(&gl, "whatever"), 1);
	/* type_fix: tier 1, risk logic -> Backlog */
	run(insights(0, 9, 0, NULL), &gl, &x, &cv, &n);
	assert_null(cv[0].reason);
	assert_string_equal(cv[0].state, "Backlog");
	cands_free(cv, n);
	gl.tiers = t;
	run(insights(9, 0, 0, NULL), &gl, &x, &cv, &n);
	assert_string_equal(cv[0].state, "Backlog");
	cands_free(cv, n);
	json_decref(t);
}

static void
test_calibration(void **st)
{
	json_t *ev = json_array(), *rows, *r;
	int     i;

	(void) st;
	for (i = 0; i < 5; i++)
		json_array_append_new(ev,
		    json_pack("{s:s, s:s, s:s, s:i}", "family", "lint_fix",
		        "confidence", "high", "outcome",
		        i < 2       ? "merged"
		            : i < 4 ? "rejected"
		                    : "abandoned",
		        "at", 100 + i));
	json_array_append_new(ev,
	    json_pack("{s:s, s:s, s:s, s:i}", "family", "type_fix",
	        "confidence", "medium", "outcome", "merged", "at", 1));
	rows = calib_table(ev, 50); /* the type_fix event is too old */
	assert_int_equal(json_array_size(rows), 1);
	r = json_array_get(rows, 0);
	assert_int_equal(json_integer_value(json_object_get(r, "total")), 5);
	assert_int_equal(
	    json_integer_value(json_object_get(r, "rejected")), 2);
	assert_true(
	    json_real_value(json_object_get(r, "acceptance_rate")) == 0.4);
	assert_true(json_real_value(json_object_get(r, "calibration_ratio")) ==
	    0.4 / 0.8);
	assert_string_equal(
	    json_string_value(json_object_get(r, "note")), "overconfident");
	json_decref(rows);
	json_decref(ev);
}

static void
test_quiet(void **st)
{
	json_t *cy = json_array(), *d;
	int     i;

	(void) st;
	for (i = 0; i < 5; i++)
		json_array_append_new(cy,
		    json_pack("{s:i, s:{s:i}, s:[s]}", "created", 0, "reasons",
		        "cooldown_active", 1 + i, "families", "lint_fix"));
	assert_non_null(d = calib_quiet_diagnosis(cy, 0));
	assert_int_equal(
	    json_integer_value(json_object_get(
	        json_object_get(d, "aggregated_suppression_reasons"),
	        "cooldown_active")),
	    15);
	assert_int_equal(
	    json_array_size(json_object_get(d, "families_active_in_window")),
	    1);
	assert_non_null(strstr(
	    json_string_value(json_object_get(d, "advice")), "cooldown"));
	json_decref(d);
	/* one cycle in five created something: not quiet */
	json_object_set_new(json_array_get(cy, 2), "created", json_integer(1));
	assert_null(calib_quiet_diagnosis(cy, 0));
	/* four cycles are not enough to call it quiet */
	json_array_remove(cy, 2);
	assert_null(calib_quiet_diagnosis(cy, 0));
	json_decref(cy);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_rules, setup),
		cmocka_unit_test_setup(test_upstream_family_in_cycle, setup),
		cmocka_unit_test_setup(test_cooldown_active, setup),
		cmocka_unit_test_setup(test_family_and_cycle_quota, setup),
		cmocka_unit_test_setup(test_order_and_gates, setup),
		cmocka_unit_test_setup(test_tiers, setup),
		cmocka_unit_test(test_calibration),
		cmocka_unit_test(test_quiet),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
