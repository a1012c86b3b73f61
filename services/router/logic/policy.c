/*
 * policy.c - the mandatory policy gate (PolicyDecision).
 *
 * The defaults are the original's policy/defaults.py (inventory s.6):
 * sensitive path patterns, destructive labels, validation by risk, review
 * for high risk and feature/refactor work unless a trusted source label is
 * present, the review_required label, and local_only/no_remote pinning the
 * lane to aider_local.  router.policy may replace any of the lists.
 *
 * Status: any blocking violation -> block; any other violation ->
 * require_review; warnings only -> allow_with_warnings; else allow.
 * Goal tasks map to simple_edit (route.c), so a plain manual goal task is
 * allowed (the original sent them to Blocked, inventory s.9).
 */
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "opc/util.h"
#include "route.h"
#include "route_priv.h"

static const char *const def_block_paths[] = {"**/.ssh/**", "**/.gnupg/**",
                                              NULL};
static const char *const def_review_paths[] = {"*.env",
                                               ".env*",
                                               "config/secrets*",
                                               "**/secrets/**",
                                               "docker-compose.yml",
                                               "docker-compose*.yml",
                                               ".github/workflows/**",
                                               "Dockerfile*",
                                               "**/migrations/**",
                                               NULL};
static const char *const def_destructive[] = {
    "drop_table", "rm_rf", "force_push", "destructive", NULL};
static const char *const def_trusted[] = {
    "source: autonomy", "source: spec-campaign", "source: board_worker", NULL};
static const char *const def_review_types[] = {"feature", "refactor", NULL};
static const char *const def_local_labels[] = {"local_only", "no_remote", NULL};

struct plist {
	const char *const *v;
	const char       **own; /* from cfg_get_strs, freed in fini */
};

struct policy {
	struct plist block_paths, review_paths, destructive, trusted,
	    review_types;
	const char *local_lane;
	json_t     *violations, *warnings;
};

/* plist_load: router.policy.<key> replaces the defaults when present. */
static void
plist_load(struct plist *l, const struct cfg_node *pol, const char *key,
           const char *const *def)
{
	size_t n;
	char   err[8];

	l->v = def;
	l->own = NULL;
	if (cfg_get_strs(pol, key, &l->own, &n, err, sizeof(err)) == 0 &&
	    l->own != NULL)
		l->v = l->own;
}

static bool
plist_has(const struct plist *l, const char *s, bool label)
{
	size_t i;

	for (i = 0; l->v[i] != NULL; i++)
		if (label ? route_label_eq(l->v[i], s)
		          : strcmp(l->v[i], s) == 0)
			return (true);
	return (false);
}

static void violation(struct policy *p, const char *rule, const char *cat,
                      bool blocking, const char *path, const char *repo,
                      const char *fmt, ...) PRINTFLIKE(7, 8);

static void
violation(struct policy *p, const char *rule, const char *cat, bool blocking,
          const char *path, const char *repo, const char *fmt, ...)
{
	va_list ap;
	char    msg[512];
	json_t *v;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v = json_pack("{s:s, s:s, s:s, s:b}", "rule_id", rule, "category", cat,
	              "message", msg, "blocking", blocking);
	if (path != NULL)
		json_object_set_new(v, "related_path", json_string(path));
	if (repo != NULL)
		json_object_set_new(v, "related_repo", json_string(repo));
	json_array_append_new(p->violations, v);
}

static void
warning(struct policy *p, const char *rule, const char *cat, const char *msg)
{
	json_array_append_new(p->warnings,
	                      json_pack("{s:s, s:s, s:s}", "rule_id", rule,
	                                "category", cat, "message", msg));
}

/* path_matches: fnmatch without FNM_PATHNAME, so '*' crosses '/', as in
 * Python's fnmatch.  A leading "**" + "/" also matches at the top level,
 * and a directory entry ("x/.ssh/") is tested as a path inside it so
 * "**" + "/.ssh/" + "**" catches it. */
static bool
path_matches(const char *pat, const char *path)
{
	char   buf[1024];
	size_t n;

	while (strncmp(path, "./", 2) == 0)
		path += 2;
	n = strlen(path);
	if (n > 0 && n + 2 < sizeof(buf) && path[n - 1] == '/') {
		snprintf(buf, sizeof(buf), "%sx", path);
		if (path_matches(pat, buf))
			return (true);
	}
	if (fnmatch(pat, path, 0) == 0)
		return (true);
	return (strncmp(pat, "**/", 3) == 0 && fnmatch(pat + 3, path, 0) == 0);
}

static const char *
match_any(const struct plist *l, const char *path)
{
	size_t i;

	for (i = 0; l->v[i] != NULL; i++)
		if (path_matches(l->v[i], path))
			return (l->v[i]);
	return (NULL);
}

static void
check_paths(struct policy *p, const json_t *proposal, const char *repo)
{
	const json_t *paths, *v;
	const char   *path, *pat;
	size_t        i;

	paths = json_object_get(json_object_get(proposal, "target"),
	                        "allowed_paths");
	json_array_foreach(paths, i, v)
	{
		if ((path = json_string_value(v)) == NULL)
			continue;
		if ((pat = match_any(&p->block_paths, path)) != NULL)
			violation(
			    p, "path.sensitive_blocked", "path", true, path,
			    repo,
			    "allowed path '%s' matches protected pattern '%s'",
			    path, pat);
		else if ((pat = match_any(&p->review_paths, path)) != NULL)
			violation(
			    p, "path.sensitive_review", "path", false, path,
			    repo,
			    "allowed path '%s' matches sensitive pattern '%s'",
			    path, pat);
	}
}

static void
check_labels(struct policy *p, const json_t *labels, const char *lane)
{
	const json_t *v;
	const char   *l;
	size_t        i, j;

	json_array_foreach(labels, i, v)
	{
		if ((l = json_string_value(v)) == NULL)
			continue;
		if (plist_has(&p->destructive, l, true))
			violation(p, "tool.destructive_label", "tool", true,
			          NULL, NULL, "destructive label '%s'", l);
		for (j = 0; def_local_labels[j] != NULL; j++) {
			if (route_label_eq(l, def_local_labels[j]) &&
			    strcmp(lane, p->local_lane) != 0) {
				violation(
				    p, "routing.local_only_violated", "routing",
				    true, NULL, NULL,
				    "label '%s' requires lane %s, routed to "
				    "'%s'",
				    l, p->local_lane, lane);
				break;
			}
		}
	}
}

static bool
base_allowed(const json_t *allowed, const char *base)
{
	const json_t *v;
	size_t        i;

	if (json_array_size(allowed) == 0)
		return (true);
	json_array_foreach(allowed, i, v)
	{
		if (json_is_string(v) &&
		    fnmatch(json_string_value(v), base, 0) == 0)
			return (true);
	}
	return (false);
}

static bool
trusted(const struct policy *p, const json_t *labels)
{
	size_t i;

	for (i = 0; p->trusted.v[i] != NULL; i++)
		if (route_has_label(labels, p->trusted.v[i]))
			return (true);
	return (false);
}

static void
ids(struct buf *b, const json_t *list)
{
	const json_t *v;
	size_t        i;

	if (json_array_size(list) == 0)
		buf_puts(b, "none");
	json_array_foreach(list, i, v)
	{
		if (i > 0)
			buf_puts(b, ", ");
		buf_puts(b, route_jstr(v, "rule_id"));
	}
}

json_t *
route_policy(const json_t *proposal, const json_t *decision,
             const struct cfg_node *router_cfg, int64_t now_ms)
{
	const struct cfg_node *pol = cfg_get(router_cfg, "policy");
	const json_t          *labels = json_object_get(proposal, "labels");
	const json_t          *target = json_object_get(proposal, "target");
	const json_t          *v;
	const char            *lane, *risk, *type, *repo, *base, *status;
	const char            *profile = "standard";
	struct policy          p;
	struct buf             notes;
	json_t                *d, *scope;
	size_t                 i, ncmds;
	bool                   blocking = false, review = false;
	char                   id[37], ts[32];

	memset(&p, 0, sizeof(p));
	plist_load(&p.block_paths, pol, "sensitive_block", def_block_paths);
	plist_load(&p.review_paths, pol, "sensitive_review", def_review_paths);
	plist_load(&p.destructive, pol, "destructive_labels", def_destructive);
	plist_load(&p.trusted, pol, "trusted_labels", def_trusted);
	plist_load(&p.review_types, pol, "review_task_types", def_review_types);
	p.local_lane = route_cfg_str(router_cfg, "policy.local_lane");
	p.violations = json_array();
	p.warnings = json_array();

	lane = route_jstr(decision, "selected_lane");
	risk = route_jstr(proposal, "risk_level");
	type = route_jstr(proposal, "task_type");
	repo = route_jstr(target, "repo_key");
	base = route_jstr(target, "base_branch");
	lane = lane != NULL ? lane : "";
	risk = risk != NULL ? risk : "low";
	type = type != NULL ? type : "unknown";

	check_labels(&p, labels, lane);
	check_paths(&p, proposal, repo);
	if (base != NULL &&
	    !base_allowed(
	        json_object_get(json_object_get(proposal, "branch_policy"),
	                        "allowed_base_branches"),
	        base))
		violation(
		    &p, "branch.base_not_allowed", "branch", true, NULL, repo,
		    "base branch '%s' is not in allowed_base_branches", base);

	ncmds = json_array_size(json_object_get(
	    json_object_get(proposal, "validation_profile"), "commands"));
	if (strcmp(risk, "high") == 0) {
		/* strict / must_pass / block_if_unavailable */
		profile = "strict";
		if (ncmds == 0)
			violation(
			    &p, "validation.unavailable", "validation", true,
			    NULL, repo,
			    "high-risk task but the repo has no validation "
			    "commands");
	} else if (strcmp(risk, "medium") == 0 && ncmds == 0)
		warning(
		    &p, "validation.no_commands", "validation",
		    "medium-risk task and the repo has no validation commands");

	if ((strcmp(risk, "high") == 0 ||
	     plist_has(&p.review_types, type, false)) &&
	    !trusted(&p, labels))
		violation(&p, "review.required", "review", false, NULL, repo,
		          "%s requires human review (no trusted source label)",
		          strcmp(risk, "high") == 0 ? "high-risk task" : type);
	if (route_has_label(labels, "review_required"))
		violation(&p, "review.label_required", "review", false, NULL,
		          repo, "label 'review_required' forces review");

	json_array_foreach(p.violations, i, v)
	{
		if (json_is_true(json_object_get(v, "blocking")))
			blocking = true;
		else
			review = true;
		if (strcmp(route_jstr(v, "category"), "review") == 0)
			review = true;
	}
	if (blocking)
		status = "block";
	else if (json_array_size(p.violations) > 0)
		status = "require_review";
	else if (json_array_size(p.warnings) > 0)
		status = "allow_with_warnings";
	else
		status = "allow";

	v = json_object_get(target, "allowed_paths");
	scope = json_is_array(v) ? json_deep_copy(v) : json_array();
	buf_init(&notes);
	buf_puts(&notes, "violations: ");
	ids(&notes, p.violations);
	buf_puts(&notes, "; warnings: ");
	ids(&notes, p.warnings);

	d = json_pack(
	    "{s:s, s:s, s:o, s:o, s:s, s:s, s:o, s:s, s:s}", "decision_id",
	    uuid4(id), "status", status, "violations", p.violations, "warnings",
	    p.warnings, "effective_validation_profile", profile,
	    "effective_review_requirement", review ? "required" : "autonomous",
	    "effective_scope", scope, "notes", buf_cstr(&notes), "evaluated_at",
	    iso8601(now_ms, ts, sizeof(ts)));
	buf_fini(&notes);
	free(p.block_paths.own);
	free(p.review_paths.own);
	free(p.destructive.own);
	free(p.trusted.own);
	free(p.review_types.own);
	return (d);
}
