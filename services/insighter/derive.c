/*
 * derive.c - the derivers (see derive.h).
 *
 * Each deriver reads the snapshot history of one repo (newest first) and
 * appends zero or more insights.  A signal whose status is "unavailable"
 * is not a measurement: trends and themes skip such snapshots rather than
 * reading them as zero.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "derive.h"
#include "opc/util.h"

void
derive_limits_default(struct derive_limits *l)
{
	l->trend_pct           = 10.0;
	l->trend_min_snapshots = 3;
	l->trend_window        = 5;
	l->coverage_min_pct    = 60.0;
	l->uncovered_min_files = 3;
	l->theme_min_runs      = 3;
	l->noop_min_proposals  = 3;
	l->stale_ms            = 2 * 3600 * 1000;
}

json_t *
insight_new(
    const char *kind, const char *subject, const char *key, json_t *evidence)
{
	json_t *o;
	char   *dk, *id, *p;

	dk = key != NULL ? xasprintf("%s|%s|%s", kind, subject, key)
	                 : xasprintf("%s|%s", kind, subject);
	id = xstrdup(dk);
	for (p = id; *p != '\0'; p++)
		if (*p == '|')
			*p = ':';
	o = json_object();
	json_object_set_new(o, "insight_id", json_string(id));
	json_object_set_new(o, "dedup_key", json_string(dk));
	json_object_set_new(o, "kind", json_string(kind));
	json_object_set_new(o, "subject", json_string(subject));
	json_object_set_new(o, "status", json_string("present"));
	json_object_set_new(
	    o, "evidence", evidence != NULL ? evidence : json_object());
	free(dk);
	free(id);
	return (o);
}

/* measured: a section's status says it measured something. */
static bool
measured(const char *status)
{
	return (status != NULL && strcmp(status, "unavailable") != 0);
}

/* tool returns snapshot s's lint or type section when it is a
 * measurement, else NULL. */
static const struct msg_obs_tool *
tool(const struct msg_obs_snapshot *s, const char *name)
{
	const struct msg_obs_tool *g =
	    strcmp(name, "lint") == 0 ? s->lint : s->type;

	return (g != NULL && measured(g->status) ? g : NULL);
}

/* list_json returns n records of def at v as a new JSON array. */
static json_t *
list_json(const struct msg_rec_def *def, const void *v, size_t n)
{
	json_t *a = json_array();
	size_t  i;

	for (i = 0; i < n; i++)
		json_array_append_new(
		    a, msg_rec_to_json(def, (const char *) v + i * def->size));
	return (a);
}

/* str_json returns s as JSON, null when NULL. */
static json_t *
str_json(const char *s)
{
	return (s != NULL ? json_string(s) : json_null());
}

/* ---- lint_drift / type_health: the latest count, and its direction --- */

static void
drift(const struct derive_in *in, json_t *out, const char *name,
    const char *kind, const char *bad_status)
{
	const struct msg_obs_tool *g = NULL, *prev = NULL;
	const char                *trend = "present";
	int64_t                    n, delta = 0;
	json_t                    *ev;
	size_t                     i;

	if (in->nsnaps == 0 || (g = tool(in->snaps[0], name)) == NULL ||
	    strcmp(g->status, bad_status) != 0)
		return;
	for (i = 1; i < in->nsnaps && prev == NULL; i++)
		prev = tool(in->snaps[i], name);
	n = g->count;
	if (prev != NULL) {
		delta = n - prev->count;
		trend = delta > 0 ? "worsening"
		    : delta < 0   ? "improving"
		                  : "present";
	}
	ev = json_pack("{s:I, s:I, s:I, s:s, s:o, s:o}", "count",
	    (json_int_t) n, "distinct_file_count",
	    (json_int_t) g->distinct_files, "delta", (json_int_t) delta,
	    "trend", trend, "top_files",
	    list_json(&msg_rec_obs_count, g->top_files.v, g->top_files.n),
	    "source", str_json(g->source));
	json_array_append_new(out, insight_new(kind, name, NULL, ev));
}

/* ---- quality_trend: first versus last of the measured window --------- */

static void
trend(const struct derive_in *in, json_t *out, const char *name)
{
	const struct msg_obs_tool *g;
	json_t                    *series = json_array();
	int64_t                    first = 0, last = 0;
	double                     pct;
	size_t                     i, n = 0;
	char                       subj[32];

	for (i = 0; i < in->nsnaps && n < (size_t) in->lim.trend_window; i++) {
		if ((g = tool(in->snaps[i], name)) == NULL)
			continue;
		if (n == 0)
			last = g->count;
		first = g->count;
		json_array_insert_new(series, 0, json_integer(first));
		n++;
	}
	if (n < (size_t) in->lim.trend_min_snapshots ||
	    (first == 0 && last == 0)) {
		json_decref(series);
		return;
	}
	pct = first == 0 ? 100.0
	                 : 100.0 * (double) (last - first) / (double) first;
	if (pct > in->lim.trend_pct)
		snprintf(subj, sizeof(subj), "%s_degrading", name);
	else if (pct < -in->lim.trend_pct)
		snprintf(subj, sizeof(subj), "%s_improving", name);
	else
		snprintf(subj, sizeof(subj), "stagnant");
	json_array_append_new(out,
	    insight_new("quality_trend", subj,
	        strcmp(subj, "stagnant") == 0 ? name : NULL,
	        json_pack("{s:s, s:o, s:I, s:I, s:f, s:i}", "metric", name,
	            "series", series, "first", (json_int_t) first, "last",
	            (json_int_t) last, "change_pct", pct, "snapshots",
	            (int) n)));
}

/* ---- coverage_gap --------------------------------------------------------
 */

static void
coverage(const struct derive_in *in, json_t *out)
{
	const struct msg_obs_coverage *g;

	if (in->nsnaps == 0 || (g = in->snaps[0]->coverage) == NULL ||
	    !measured(g->status))
		return;
	if (g->has_total_pct && g->total_pct < in->lim.coverage_min_pct)
		json_array_append_new(out,
		    insight_new("coverage_gap", "low_overall", NULL,
		        json_pack("{s:f, s:f}", "total_pct", g->total_pct,
		            "threshold_pct", in->lim.coverage_min_pct)));
	if (g->uncovered_count >= in->lim.uncovered_min_files)
		json_array_append_new(out,
		    insight_new("coverage_gap", "uncovered_files", NULL,
		        json_pack("{s:I, s:o}", "uncovered_count",
		            (json_int_t) g->uncovered_count, "top_uncovered",
		            list_json(&msg_rec_obs_cov_file,
		                g->top_uncovered.v, g->top_uncovered.n))));
}

/* ---- theme: one file in the top violations of N consecutive runs ------ */

static bool
in_top(const struct msg_obs_tool *g, const char *path)
{
	size_t i;

	for (i = 0; i < g->top_files.n; i++)
		if (g->top_files.v[i].path != NULL &&
		    strcmp(g->top_files.v[i].path, path) == 0)
			return (true);
	return (false);
}

static void
theme(const struct derive_in *in, json_t *out, const char *name,
    const char *subject)
{
	const struct msg_obs_tool *g, *h;
	const char                *p;
	size_t                     i, j, runs;

	if ((size_t) in->lim.theme_min_runs > in->nsnaps ||
	    (g = tool(in->snaps[0], name)) == NULL)
		return;
	for (i = 0; i < g->top_files.n; i++) {
		if ((p = g->top_files.v[i].path) == NULL)
			continue;
		/* consecutive: an unmeasured snapshot breaks the run */
		for (runs = 1, j = 1; j < in->nsnaps; j++) {
			h = tool(in->snaps[j], name);
			if (h == NULL || !in_top(h, p))
				break;
			runs++;
		}
		if (runs >= (size_t) in->lim.theme_min_runs)
			json_array_append_new(out,
			    insight_new("theme", subject, p,
			        json_pack("{s:s, s:I, s:I}", "path", p,
			            "consecutive_runs", (json_int_t) runs,
			            "count",
			            (json_int_t) g->top_files.v[i].count)));
	}
}

/* ---- noop_loop: a family proposed again and again, never accepted ----- */

static void
noop(const struct derive_in *in, json_t *out)
{
	json_t *e;
	size_t  i;

	json_array_foreach (in->families, i, e) {
		const char *f =
		    json_string_value(json_object_get(e, "family"));
		int64_t p = json_integer_value(json_object_get(e, "proposed")),
		        a = json_integer_value(json_object_get(e, "accepted"));

		if (f != NULL && a == 0 && p >= in->lim.noop_min_proposals)
			json_array_append_new(out,
			    insight_new("noop_loop", "family_cycling", f,
			        json_pack("{s:s, s:I, s:I}", "family", f,
			            "proposed", (json_int_t) p, "accepted",
			            (json_int_t) a)));
	}
}

/* ---- dependency_drift: each package the latest snapshot found
 * unhealthy (missing, drift, outdated), its status as the evidence ---- */

static void
dependencies(const struct derive_in *in, json_t *out)
{
	const struct msg_obs_deps   *g;
	const struct msg_dep_status *st;
	char                         subj[320];
	size_t                       i;

	if (in->nsnaps == 0 || (g = in->snaps[0]->dependencies) == NULL ||
	    !measured(g->status))
		return;
	for (i = 0; i < g->unhealthy.n; i++) {
		st = &g->unhealthy.v[i];
		if (st->name == NULL || *st->name == '\0' ||
		    st->kind == NULL || *st->kind == '\0' ||
		    st->status == NULL || *st->status == '\0')
			continue;
		snprintf(subj, sizeof(subj), "%s:%s", st->kind, st->name);
		json_array_append_new(out,
		    insight_new("dependency_drift", subj, st->status,
		        msg_dep_status_to_json(st)));
	}
}

json_t *
derive_repo(const struct derive_in *in)
{
	json_t *out = json_array();

	drift(in, out, "lint", "lint_drift", "violations");
	drift(in, out, "type", "type_health", "errors");
	trend(in, out, "lint");
	trend(in, out, "type");
	coverage(in, out);
	theme(in, out, "lint", "lint_cluster");
	theme(in, out, "type", "type_cluster");
	noop(in, out);
	dependencies(in, out);
	return (out);
}

/* sval returns o[k] as a string, "" when absent or not a string. */
static const char *
sval(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return (v != NULL ? v : "");
}

/* pattern writes "kind/subject" of an insight into buf. */
static const char *
pattern(const json_t *ins, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", sval(ins, "kind"), sval(ins, "subject"));
	return (buf);
}

json_t *
derive_cross_repo(const json_t *latest)
{
	json_t *seen = json_object(), *out = json_array(), *list, *ins, *repos;
	const char *repo, *pat;
	char        buf[256];
	size_t      i;

	json_object_foreach ((json_t *) latest, repo, list) {
		json_array_foreach (list, i, ins) {
			/* theme and cross_repo are too specific to compare */
			if (strcmp(sval(ins, "kind"), "cross_repo") == 0)
				continue;
			pattern(ins, buf, sizeof(buf));
			if ((repos = json_object_get(seen, buf)) == NULL) {
				repos = json_array();
				json_object_set_new(seen, buf, repos);
			}
			if (json_array_size(repos) == 0 ||
			    strcmp(json_string_value(json_array_get(
			               repos, json_array_size(repos) - 1)),
			        repo) != 0)
				json_array_append_new(
				    repos, json_string(repo));
		}
	}
	json_object_foreach (seen, pat, repos)
		if (json_array_size(repos) >= 2)
			json_array_append_new(out,
			    insight_new("cross_repo", "pattern_detected", pat,
			        json_pack("{s:s, s:O}", "pattern", pat,
			            "repos", repos)));
	json_decref(seen);
	return (out);
}

int64_t
derive_stale(
    int64_t observed_ms, int64_t now_ms, const struct derive_limits *lim)
{
	int64_t age = now_ms - observed_ms;

	return (age > lim->stale_ms ? age : 0);
}
