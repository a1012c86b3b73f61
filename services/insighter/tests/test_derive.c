/*
 * test_derive.c - the insighter's derivers on hand-made snapshot
 * histories, with the original's thresholds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "derive.h"

/* rec turns a hand-made snapshot (consumed; run_id added) into the
 * record the insighter reads, asserting that it is one. */
static struct msg_obs_snapshot *
rec(json_t *j)
{
	struct msg_obs_snapshot *r = msg_obs_snapshot_new();
	char                     err[256];

	if (json_object_get(j, "run_id") == NULL)
		json_object_set_new(j, "run_id", json_string("obs_t"));
	if (msg_obs_snapshot_from_json(r, j, err, sizeof(err)) != 0)
		fail_msg("not a snapshot record: %s", err);
	json_decref(j);
	return (r);
}

/* snap builds a snapshot with lint and type counts (-1: unavailable)
 * and a top file for each. */
static struct msg_obs_snapshot *
snap(int lint, int type, const char *top)
{
	return (rec(json_pack("{s:{s:s, s:i, s:i, s:[{s:s, s:i}]},"
	                      " s:{s:s, s:i, s:i, s:[{s:s, s:i}]}}",
	    "lint", "status",
	    lint < 0        ? "unavailable"
	        : lint == 0 ? "clean"
	                    : "violations",
	    "count", lint < 0 ? 0 : lint, "distinct_files", 1, "top_files",
	    "path", top, "count", lint, "type", "status",
	    type < 0        ? "unavailable"
	        : type == 0 ? "clean"
	                    : "errors",
	    "count", type < 0 ? 0 : type, "distinct_files", 1, "top_files",
	    "path", top, "count", type)));
}

/* run derives over counts given oldest first; returns the insights. */
static json_t *
run(const int *lint, const int *type, size_t n, const char **tops)
{
	struct derive_in         in;
	struct msg_obs_snapshot *s[16];
	json_t                  *out;
	size_t                   i;

	memset(&in, 0, sizeof(in));
	for (i = 0; i < n; i++) /* newest first */
		s[i] = snap(lint[n - 1 - i], type[n - 1 - i],
		    tops != NULL ? tops[n - 1 - i] : "src/a.py");
	in.repo   = "r";
	in.snaps  = (const struct msg_obs_snapshot *const *) s;
	in.nsnaps = n;
	derive_limits_default(&in.lim);
	out = derive_repo(&in);
	for (i = 0; i < n; i++)
		msg_obs_snapshot_free(s[i]);
	return (out);
}

/* find returns the insight with dedup_key dk, or NULL. */
static json_t *
find(const json_t *a, const char *dk)
{
	json_t *i;
	size_t  k;

	json_array_foreach (a, k, i)
		if (strcmp(json_string_value(json_object_get(i, "dedup_key")),
		        dk) == 0)
			return (i);
	return (NULL);
}

static void
test_lint_degrading(void **st)
{
	int     lint[] = { 5, 8, 12 }, type[] = { -1, -1, -1 };
	json_t *a = run(lint, type, 3, NULL), *i;

	(void) st;
	assert_non_null(i = find(a, "quality_trend|lint_degrading"));
	assert_string_equal(
	    json_string_value(json_object_get(i, "insight_id")),
	    "quality_trend:lint_degrading");
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(i, "evidence"), "last")),
	    12);
	assert_non_null(i = find(a, "lint_drift|lint"));
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(i, "evidence"), "trend")),
	    "worsening");
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(i, "evidence"), "delta")),
	    4);
	assert_null(find(a, "type_health|type")); /* unavailable */
	json_decref(a);
}

static void
test_trend_needs_three(void **st)
{
	int     lint[] = { 5, 12 }, type[] = { 3, 9 };
	json_t *a = run(lint, type, 2, NULL);

	(void) st;
	assert_null(find(a, "quality_trend|lint_degrading"));
	assert_null(find(a, "quality_trend|type_degrading"));
	assert_non_null(find(a, "lint_drift|lint")); /* still a count */
	json_decref(a);
}

static void
test_unavailable_is_not_zero(void **st)
{
	/* 10, -, 10, 10: three measured snapshots, no change: stagnant;
	 * reading "unavailable" as 0 would call it a trend */
	int     lint[] = { 10, -1, 10, 10 }, type[] = { 0, 0, 0, 0 };
	json_t *a = run(lint, type, 4, NULL);

	(void) st;
	assert_non_null(find(a, "quality_trend|stagnant|lint"));
	assert_null(find(a, "quality_trend|lint_degrading"));
	assert_null(find(a, "quality_trend|lint_improving"));
	/* type stays at 0: neither a trend nor stagnant */
	assert_null(find(a, "quality_trend|stagnant|type"));
	json_decref(a);
}

static void
test_improving_and_threshold(void **st)
{
	/* -10% exactly is not "more than 10%": stagnant; -11% improving */
	int     lint[] = { 100, 95, 90 }, type[] = { 100, 95, 89 };
	json_t *a = run(lint, type, 3, NULL);

	(void) st;
	assert_non_null(find(a, "quality_trend|stagnant|lint"));
	assert_non_null(find(a, "quality_trend|type_improving"));
	json_decref(a);
}

static void
test_trend_window(void **st)
{
	/* only the last five measured snapshots count: 1 is outside */
	int lint[] = { 1, 50, 50, 50, 50, 52 }, type[] = { 0, 0, 0, 0, 0, 0 };
	json_t *a = run(lint, type, 6, NULL);

	(void) st;
	assert_non_null(find(a, "quality_trend|stagnant|lint"));
	json_decref(a);
}

static void
test_theme(void **st)
{
	int         lint[] = { 3, 3, 3, 3 }, type[] = { -1, -1, -1, -1 };
	const char *tops[] = { "src/b.py", "src/a.py", "src/a.py",
		"src/a.py" };
	const char *two[] = { "src/b.py", "src/b.py", "src/a.py", "src/a.py" };
	json_t     *a     = run(lint, type, 4, tops), *i;

	(void) st;
	assert_non_null(i = find(a, "theme|lint_cluster|src/a.py"));
	assert_int_equal(
	    json_integer_value(json_object_get(
	        json_object_get(i, "evidence"), "consecutive_runs")),
	    3);
	json_decref(a);
	a = run(lint, type, 4, two); /* only two in a row */
	assert_null(find(a, "theme|lint_cluster|src/a.py"));
	json_decref(a);
}

static void
test_coverage_gap(void **st)
{
	struct derive_in         in;
	struct msg_obs_snapshot *s;
	json_t                  *a;

	(void) st;
	memset(&in, 0, sizeof(in));
	derive_limits_default(&in.lim);
	in.repo   = "r";
	in.nsnaps = 1;
	in.snaps  = (const struct msg_obs_snapshot *const *) &s;
	s         = rec(json_pack("{s:{s:s, s:f, s:i}}", "coverage", "status",
	            "measured", "total_pct", 59.5, "uncovered_count", 3));
	a         = derive_repo(&in);
	assert_non_null(find(a, "coverage_gap|low_overall"));
	assert_non_null(find(a, "coverage_gap|uncovered_files"));
	json_decref(a);
	msg_obs_snapshot_free(s);
	s = rec(json_pack("{s:{s:s, s:f, s:i}}", "coverage", "status",
	    "measured", "total_pct", 60.0, "uncovered_count", 2));
	a = derive_repo(&in);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	msg_obs_snapshot_free(s);
	s = rec(json_pack("{s:{s:s, s:n, s:i}}", "coverage", "status",
	    "unavailable", "total_pct", "uncovered_count", 9));
	a = derive_repo(&in);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	msg_obs_snapshot_free(s);
}

static void
test_noop_loop(void **st)
{
	struct derive_in in;
	json_t          *a;

	(void) st;
	memset(&in, 0, sizeof(in));
	derive_limits_default(&in.lim);
	in.repo     = "r";
	in.families = json_pack("[{s:s, s:i, s:i}, {s:s, s:i, s:i},"
	                        " {s:s, s:i, s:i}]",
	    "family", "lint_fix", "proposed", 3, "accepted", 0, "family",
	    "type_fix", "proposed", 5, "accepted", 1, "family", "coverage_gap",
	    "proposed", 2, "accepted", 0);
	a           = derive_repo(&in);
	assert_int_equal(json_array_size(a), 1);
	assert_non_null(find(a, "noop_loop|family_cycling|lint_fix"));
	json_decref(a);
	json_decref((json_t *) in.families);
}

static void
test_cross_repo(void **st)
{
	json_t *l, *a, *i;

	(void) st;
	l = json_pack("{s:[{s:s, s:s}], s:[{s:s, s:s}, {s:s, s:s}],"
	              " s:[{s:s, s:s}]}",
	    "a", "kind", "quality_trend", "subject", "lint_degrading", "b",
	    "kind", "quality_trend", "subject", "lint_degrading", "kind",
	    "coverage_gap", "subject", "low_overall", "c", "kind",
	    "coverage_gap", "subject", "uncovered_files");
	a = derive_cross_repo(l);
	assert_int_equal(json_array_size(a), 1);
	i = json_array_get(a, 0);
	assert_string_equal(json_string_value(json_object_get(i, "dedup_key")),
	    "cross_repo|pattern_detected|quality_trend/lint_degrading");
	assert_int_equal(json_array_size(json_object_get(
	                     json_object_get(i, "evidence"), "repos")),
	    2);
	json_decref(a);
	json_decref(l);
}

static void
test_stale(void **st)
{
	struct derive_limits l;
	int64_t              h = 3600 * 1000;

	(void) st;
	derive_limits_default(&l);
	assert_int_equal(derive_stale(0, 2 * h, &l), 0);
	assert_int_equal(derive_stale(0, 2 * h + 1, &l), 2 * h + 1);
	assert_int_equal(derive_stale(10 * h, 11 * h, &l), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lint_degrading),
		cmocka_unit_test(test_trend_needs_three),
		cmocka_unit_test(test_unavailable_is_not_zero),
		cmocka_unit_test(test_improving_and_threshold),
		cmocka_unit_test(test_trend_window),
		cmocka_unit_test(test_theme),
		cmocka_unit_test(test_coverage_gap),
		cmocka_unit_test(test_noop_loop),
		cmocka_unit_test(test_cross_repo),
		cmocka_unit_test(test_stale),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
