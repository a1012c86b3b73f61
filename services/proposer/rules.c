/*
 * rules.c - insights to candidates (see proposer.h).
 *
 * One rule per family.  A rule reads the repo's current insights and
 * makes at most one candidate per pattern; whether a candidate becomes a
 * task is the guardrails' business, not the rules'.
 */
#include <stdio.h>
#include <string.h>

#include "opc/dep.h"
#include "opc/log.h"
#include "opc/util.h"
#include "proposer.h"

void
rule_limits_default(struct rule_limits *l)
{
	l->lint_min_violations = 5;
	l->type_min_errors     = 3;
}

void
cand_fini(struct cand *c)
{
	free(c->dedup_key);
	free(c->candidate_id);
	free(c->family);
	free(c->repo);
	free(c->pattern);
	free(c->title);
	free(c->goal);
	json_decref(c->evidence);
	json_decref(c->insight_ids);
	memset(c, 0, sizeof(*c));
}

void
cands_free(struct cand *cv, size_t n)
{
	while (n > 0)
		cand_fini(&cv[--n]);
	free(cv);
}

json_t *
cand_json(const struct cand *c)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
	                      " s:s, s:O}",
	    "candidate_id", c->candidate_id, "dedup_key", c->dedup_key,
	    "family", c->family, "repo", c->repo, "pattern", c->pattern,
	    "confidence", c->confidence, "risk_class", c->risk_class,
	    "validation_profile", c->validation_profile, "title", c->title,
	    "goal", c->goal, "evidence", c->evidence);

	json_object_set(o, "insight_ids", c->insight_ids);
	json_object_set_new(o, "signal", json_integer(c->signal));

	if (c->state != NULL) {
		json_object_set_new(o, "tier", json_integer(c->tier));
		json_object_set_new(o, "state", json_string(c->state));
	}
	if (c->reason != NULL)
		json_object_set_new(o, "reason", json_string(c->reason));
	return (o);
}

static json_t *
find(const json_t *insights, const char *dk)
{
	json_t *i;
	size_t  k;

	json_array_foreach (insights, k, i) {
		const char *d =
		    json_string_value(json_object_get(i, "dedup_key"));

		if (d != NULL && strcmp(d, dk) == 0)
			return (i);
	}
	return (NULL);
}

static int64_t
ev_int(const json_t *ins, const char *k)
{
	return (json_integer_value(
	    json_object_get(json_object_get(ins, "evidence"), k)));
}

/* add appends a candidate; title and goal are taken (owned). */
static struct cand *
add(struct cand **cv, size_t *n, const char *family, const char *repo,
    const char *pattern, char *title, char *goal, json_t *evidence)
{
	struct cand *c;
	char        *p;

	*cv = xrealloc(*cv, (*n + 1) * sizeof(**cv));
	c   = &(*cv)[(*n)++];
	memset(c, 0, sizeof(*c));
	c->family    = xstrdup(family);
	c->repo      = xstrdup(repo);
	c->pattern   = xstrdup(pattern);
	c->dedup_key = xasprintf("candidate|%s|%s|%s", family, repo, pattern);
	c->candidate_id = xstrdup(c->dedup_key);
	for (p = c->candidate_id; *p != '\0'; p++)
		if (*p == '|')
			*p = ':';
	c->title              = title;
	c->goal               = goal;
	c->evidence           = evidence != NULL ? evidence : json_object();
	c->confidence         = "medium";
	c->risk_class         = "logic";
	c->validation_profile = "tests_pass";
	c->insight_ids        = json_array();
	c->signal             = 1;
	return (c);
}

/* from records that insight ins (may be NULL) is one c came from. */
static void
from(struct cand *c, const json_t *ins)
{
	json_t *id = json_object_get(ins, "insight_id");

	if (json_is_string(id))
		json_array_append(c->insight_ids, id);
}

/* top_files writes "a (3), b (2)" of an insight's top files into buf. */
static const char *
top_files(const json_t *ins, char *buf, size_t len)
{
	json_t *e;
	size_t  i, o = 0;

	buf[0] = '\0';
	json_array_foreach (
	    json_object_get(json_object_get(ins, "evidence"), "top_files"), i,
	    e) {
		if (i == 3 || o >= len)
			break;
		o += (size_t) snprintf(buf + o, len - o, "%s%s (%lld)",
		    i > 0 ? ", " : "",
		    json_string_value(json_object_get(e, "path"))
		        ? json_string_value(json_object_get(e, "path"))
		        : "?",
		    (long long) json_integer_value(
		        json_object_get(e, "count")));
	}
	return (buf[0] != '\0' ? buf : "none listed");
}

/* counts is the lint_fix / type_fix rule: a count over its threshold. */
static void
counts(const char *repo, const json_t *ins, struct cand **cv, size_t *n,
    const char *what, int64_t min)
{
	const char  *m    = strcmp(what, "lint") == 0 ? "lint" : "type";
	const char  *fam  = m[0] == 'l' ? "lint_fix" : "type_fix";
	const char  *noun = m[0] == 'l' ? "lint violations" : "type errors";
	json_t      *i, *ev;
	struct cand *c;
	char         dk[64], tf[512];
	int64_t      count;
	bool         worse;

	snprintf(dk, sizeof(dk), "%s|%s",
	    m[0] == 'l' ? "lint_drift" : "type_health", m);
	if ((i = find(ins, dk)) == NULL || (count = ev_int(i, "count")) < min)
		return;
	snprintf(dk, sizeof(dk), "quality_trend|%s_degrading", m);
	worse = find(ins, dk) != NULL;
	ev = json_pack("{s:i, s:s, s:I, s:I, s:I, s:s, s:O}", "schema_version",
	    1, "kind", m[0] == 'l' ? "lint_count" : "type_count", "count",
	    (json_int_t) count, "distinct_file_count",
	    (json_int_t) ev_int(i, "distinct_file_count"), "delta",
	    (json_int_t) ev_int(i, "delta"), "trend",
	    worse ? "worsening" : "present", "source",
	    json_object_get(json_object_get(i, "evidence"), "source")
	        ? json_object_get(json_object_get(i, "evidence"), "source")
	        : json_null());
	c  = add(cv, n, fam, repo,
            m[0] == 'l' ? "lint_violations" : "type_errors",
	     xasprintf("Fix %s in %s", noun, repo),
	     xasprintf(
	         "Reduce the %lld %s reported in %s%s. Start with the"
	          " files that have the most: %s. Change only what the checker"
	          " reports; keep behaviour and tests unchanged.",
	         (long long) count, noun, repo,
                worse ? ", which have been rising" : "",
	         top_files(i, tf, sizeof(tf))),
	     ev);
	from(c, i);
	snprintf(dk, sizeof(dk), "quality_trend|%s_degrading", m);
	from(c, find(ins, dk));
	c->signal             = count;
	c->confidence         = worse || count >= 4 * min ? "high" : "medium";
	c->risk_class         = m[0] == 'l' ? "style" : "logic";
	c->validation_profile = m[0] == 'l' ? "lint_clean" : "type_clean";
}

static void
coverage(const char *repo, const json_t *ins, struct cand **cv, size_t *n)
{
	json_t *low = find(ins, "coverage_gap|low_overall"),
	       *unc = find(ins, "coverage_gap|uncovered_files");
	struct cand *c;

	if (low == NULL && unc == NULL)
		return;
	c = add(cv, n, "coverage_gap", repo, "coverage",
	    xasprintf("Raise test coverage in %s", repo),
	    xasprintf("Add tests for the least covered files of %s%s. Test"
	              " behaviour through public interfaces; do not change "
	              "production"
	              " code except to fix a bug a new test finds.",
	        repo, low != NULL ? " (overall coverage is below 60%)" : ""),
	    json_pack("{s:O, s:O}", "low_overall",
	        low ? json_object_get(low, "evidence") : json_null(),
	        "uncovered_files",
	        unc ? json_object_get(unc, "evidence") : json_null()));
	from(c, low);
	from(c, unc);
}

static void
clusters(const char *repo, const json_t *ins, struct cand **cv, size_t *n)
{
	json_t      *i;
	struct cand *c;
	size_t       k;

	json_array_foreach (ins, k, i) {
		const char *dk = json_string_value(
		               json_object_get(i, "dedup_key")),
		           *path;

		if (dk == NULL || strncmp(dk, "theme|lint_cluster|", 19) != 0)
			continue;
		path                  = dk + 19;
		c                     = add(cv, n, "lint_cluster", repo, path,
		                        xasprintf("Clean up lint in %s (%s)", path, repo),
		                        xasprintf("The file %s of %s has been among the files with"
		                                                      " the most lint violations for %lld "
		                                                      "observations in a row."
		                                                      " Fix its violations; change nothing else.",
		                            path, repo, (long long) ev_int(i, "consecutive_runs")),
		                        json_incref(json_object_get(i, "evidence")));
		c->risk_class         = "style";
		c->validation_profile = "lint_clean";
		from(c, i);
		c->signal = ev_int(i, "consecutive_runs");
	}
}

/* dep_str returns s when non-empty, else def. */
static const char *
dep_str(const char *s, const char *def)
{
	return (s != NULL && *s != '\0' ? s : def);
}

struct cand *
rules_dependency(const char *repo, const struct msg_dep_status *st,
    struct cand **cv, size_t *n)
{
	const char *eco    = dep_str(st->kind, NULL),
	           *name   = dep_str(st->name, NULL),
	           *status = dep_str(st->status, NULL), *kind, *what;
	const char *pin    = dep_str(st->pinned_version, NULL),
	           *inst   = dep_str(st->installed_version, NULL),
	           *latest = dep_str(st->upstream_latest, NULL),
	           *file   = dep_str(st->file, "its manifest");
	struct cand *c;
	char        *pattern;

	if (eco == NULL || name == NULL ||
	    (kind = dep_task_kind(status)) == NULL ||
	    strchr(name, '\n') != NULL || strlen(name) > 200)
		return (NULL);
	what    = strcmp(kind, "breakage") == 0 ? "is pinned but not installed"
	       : strcmp(kind, "drift") == 0 ? "is installed at a version its pin "
	                                      "does not allow"
	                                    : "has a newer release upstream";
	pattern = xasprintf("%s:%s:%s", eco, name, kind);
	c       = add(cv, n, "dependency_update", repo, pattern,
	          xasprintf("Dependency maintenance: %s %s (%s, %s)", name, kind,
	              eco, repo),
	          xasprintf("The %s package %s of %s %s (pinned %s in %s, installed "
	                          "%s%s%s). Bring the pin and the environment back in "
	                          "line: update the pin or the installed version (and the "
	                          "lock file), then run the tests. Change nothing else.",
	              eco, name, repo, what, pin ? pin : "without a version", file,
                inst ? inst : "nothing", latest ? ", newest " : "",
                latest ? latest : ""),
	          json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s?}", "kind",
	              "dependency_drift", "ecosystem", eco, "package", name,
	              "status", status, "task_kind", kind, "pinned_version", pin,
	              "installed_version", inst, "upstream_latest", latest));
	free(pattern);
	c->confidence         = strcmp(kind, "update") == 0 ? "low" : "medium";
	c->risk_class         = "logic";
	c->validation_profile = "tests_pass";
	return (c);
}

/* dependencies: one candidate per dependency_drift insight (its
 * evidence is the package's status in the observer's snapshot, the
 * JSON form of its dep_status record). */
static void
dependencies(const char *repo, const json_t *ins, struct cand **cv, size_t *n)
{
	struct msg_dep_status st;
	json_t               *i;
	size_t                k;
	char                  err[128];

	json_array_foreach (ins, k, i) {
		const char *kind =
		    json_string_value(json_object_get(i, "kind"));

		if (kind == NULL || strcmp(kind, "dependency_drift") != 0)
			continue;
		memset(&st, 0, sizeof(st));
		if (msg_dep_status_from_json(&st,
		        json_object_get(i, "evidence"), err, sizeof(err)) == 0)
			(void) rules_dependency(repo, &st, cv, n);
		else
			log_warn("proposer.rules",
			    "%s: a dependency_drift insight's evidence is not"
			    " a package status: %s",
			    repo, err);
		msg_dep_status_fini(&st);
	}
}

void
rules_apply(const char *repo, const json_t *insights,
    const struct rule_limits *l, struct cand **cv, size_t *n)
{
	counts(repo, insights, cv, n, "lint", l->lint_min_violations);
	counts(repo, insights, cv, n, "type", l->type_min_errors);
	coverage(repo, insights, cv, n);
	clusters(repo, insights, cv, n);
	dependencies(repo, insights, cv, n);
}
