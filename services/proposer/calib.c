/*
 * calib.c - the calibration table and the quiet diagnosis (see
 * proposer.h).  Both are pure functions of rows the daemon reads.
 */
#include <string.h>

#include "opc/util.h"
#include "proposer.h"

#define CALIB_MIN_SAMPLE 5

double
calib_expected(const char *confidence)
{
	if (strcmp(confidence, "high") == 0)
		return (0.8);
	if (strcmp(confidence, "medium") == 0)
		return (0.5);
	return (0.3);
}

/* row returns the row of family/confidence in rows, adding it. */
static json_t *
row(json_t *rows, const char *family, const char *conf)
{
	json_t *r;
	size_t  i;

	json_array_foreach (rows, i, r)
		if (strcmp(json_string_value(json_object_get(r, "family")),
		        family) == 0 &&
		    strcmp(json_string_value(json_object_get(r, "confidence")),
		        conf) == 0)
			return (r);
	r = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i}", "family", family,
	    "confidence", conf, "total", 0, "merged", 0, "rejected", 0,
	    "abandoned", 0);
	json_array_append_new(rows, r);
	return (r);
}

static void
bump(json_t *r, const char *k)
{
	json_object_set_new(
	    r, k, json_integer(json_integer_value(json_object_get(r, k)) + 1));
}

json_t *
calib_table(const json_t *events, int64_t since)
{
	json_t *rows = json_array(), *e, *r;
	size_t  i;

	json_array_foreach (events, i, e) {
		const char *f =
		               json_string_value(json_object_get(e, "family")),
		           *c = json_string_value(
		               json_object_get(e, "confidence")),
		           *o = json_string_value(
		               json_object_get(e, "outcome"));

		if (f == NULL || c == NULL || o == NULL ||
		    json_integer_value(json_object_get(e, "at")) < since ||
		    (strcmp(o, "merged") && strcmp(o, "rejected") &&
		        strcmp(o, "abandoned")))
			continue;
		r = row(rows, f, c);
		bump(r, "total");
		bump(r, o);
	}
	json_array_foreach (rows, i, r) {
		int64_t t  = json_integer_value(json_object_get(r, "total")),
		        m  = json_integer_value(json_object_get(r, "merged"));
		double acc = (double) m / (double) t,
		       exp = calib_expected(json_string_value(
		           json_object_get(r, "confidence")));

		json_object_set_new(r, "acceptance_rate", json_real(acc));
		json_object_set_new(r, "expected_rate", json_real(exp));
		json_object_set_new(
		    r, "calibration_ratio", json_real(acc / exp));
		json_object_set_new(r, "note",
		    json_string(t < CALIB_MIN_SAMPLE ? "insufficient sample"
		            : acc / exp < 0.75       ? "overconfident"
		            : acc / exp > 1.25       ? "underconfident"
		                                     : "calibrated"));
	}
	return (rows);
}

/* advice for the reason that suppressed the most. */
static const char *
advice(const char *reason)
{
	static const char *const a[][2] = {
		{ "cooldown_active",
		    "proposals are waiting out their cooldown;"
		    " nothing to do unless the cooldown is too long" },
		{ "existing_open_equivalent_task",
		    "equivalent tasks are still"
		    " open on the board: work them or cancel them" },
		{ "ready_queue_saturated",
		    "the Ready queue is full: executions"
		    " are the bottleneck, not proposals" },
		{ "proposal_budget_too_low",
		    "the execution budget is nearly"
		    " used up: raise max_per_hour/max_per_day or wait" },
		{ "family_deferred_initial_gating",
		    "candidates are in gated"
		    " families: allow them (families, all_families) if "
		    "wanted" },
		{ "permanently_rejected_by_human",
		    "humans rejected these"
		    " candidates: review the rejection store" },
	};
	size_t i;

	for (i = 0; reason != NULL && i < nitems(a); i++)
		if (strcmp(a[i][0], reason) == 0)
			return (a[i][1]);
	return (reason == NULL
	        ? "no candidates at all: the repos look healthy,"
	          " or the observer has no lint/type/coverage signals "
	          "configured"
	        : "see the suppression reasons");
}

json_t *
calib_quiet_diagnosis(const json_t *cycles, int64_t now_ms)
{
	json_t     *agg = json_object(), *fams = json_array(), *c, *v, *f;
	const char *k, *top                    = NULL;
	int64_t     best = 0;
	char        at[40];
	size_t      i, j;

	if (json_array_size(cycles) < QUIET_CYCLES)
		goto no;
	for (i = 0; i < QUIET_CYCLES; i++) {
		c = json_array_get(cycles, i);
		if (json_integer_value(json_object_get(c, "created")) != 0)
			goto no;
		json_object_foreach (json_object_get(c, "reasons"), k, v)
			json_object_set_new(agg, k,
			    json_integer(
			        json_integer_value(json_object_get(agg, k)) +
			        json_integer_value(v)));
		json_array_foreach (json_object_get(c, "families"), j, f) {
			size_t  m, dup = 0;
			json_t *g;

			json_array_foreach (fams, m, g)
				if (json_equal(g, f))
					dup = 1;
			if (!dup)
				json_array_append(fams, f);
		}
	}
	json_object_foreach (agg, k, v)
		if (json_integer_value(v) > best) {
			best = json_integer_value(v);
			top  = k;
		}
	return (json_pack("{s:s, s:i, s:b, s:o, s:o, s:s}", "generated_at",
	    iso8601(now_ms, at, sizeof(at)), "quiet_window_cycles",
	    QUIET_CYCLES, "all_cycles_had_zero_candidates", 1,
	    "aggregated_suppression_reasons", agg, "families_active_in_window",
	    fams, "advice", advice(top)));
no:
	json_decref(agg);
	json_decref(fams);
	return (NULL);
}
