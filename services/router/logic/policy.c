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

static const char *const def_block_paths[]  = { "**/.ssh/**", "**/.gnupg/**",
	 NULL };
static const char *const def_review_paths[] = { "*.env", ".env*",
	"config/secrets*", "**/secrets/**", "docker-compose.yml",
	"docker-compose*.yml", ".github/workflows/**", "Dockerfile*",
	"**/migrations/**", NULL };
static const char *const def_destructive[]  = { "drop_table", "rm_rf",
	 "force_push", "destructive", NULL };
static const char *const def_trusted[]      = { "source: autonomy",
	     "source: spec-campaign", "source: board_worker", NULL };
static const char *const def_review_types[] = { "feature", "refactor", NULL };
static const char *const def_local_labels[] = { "local_only", "no_remote",
	NULL };

struct plist {
	const char *const *v;
	const char       **own; /* from cfg_get_strs, freed in fini */
};

struct route_policy_cfg {
	struct plist block_paths, review_paths, destructive, trusted,
	    review_types;
	const char *local_lane;
};

/* one evaluation: the lists, and the answer being built */
struct policy {
	const struct route_policy_cfg *c;
	struct msg_policy             *out;
};

/* plist_load: router.policy.<key> replaces the defaults when present. */
static void
plist_load(struct plist *l, const struct cfg_node *pol, const char *key,
    const char *const *def)
{
	size_t n;
	char   err[8];

	l->v   = def;
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
    bool blocking, const char *path, const char *repo, const char *fmt, ...)
    PRINTFLIKE(7, 8);

/* finding appends a zeroed finding to list and returns it. */
static struct msg_policy_finding *
finding(struct msg_policy_finding_list *l, const char *rule, const char *cat,
    const char *msg)
{
	struct msg_policy_finding *f = msg_policy_finding_push(l);

	f->rule_id  = xstrdup(rule);
	f->category = xstrdup(cat);
	f->message  = xstrdup(msg);
	return (f);
}

static void
violation(struct policy *p, const char *rule, const char *cat, bool blocking,
    const char *path, const char *repo, const char *fmt, ...)
{
	struct msg_policy_finding *f;
	va_list                    ap;
	char                       msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	f               = finding(&p->out->violations, rule, cat, msg);
	f->blocking     = blocking;
	f->related_path = path != NULL ? xstrdup(path) : NULL;
	f->related_repo = repo != NULL ? xstrdup(repo) : NULL;
}

static void
warning(struct policy *p, const char *rule, const char *cat, const char *msg)
{
	(void) finding(&p->out->warnings, rule, cat, msg);
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
check_paths(struct policy *p, const struct msg_strs *paths, const char *repo)
{
	const char *path, *pat;
	size_t      i;

	for (i = 0; i < paths->n; i++) {
		path = paths->v[i];
		if ((pat = match_any(&p->c->block_paths, path)) != NULL)
			violation(p, "path.sensitive_blocked", "path", true,
			    path, repo,
			    "allowed path '%s' matches protected pattern '%s'",
			    path, pat);
		else if ((pat = match_any(&p->c->review_paths, path)) != NULL)
			violation(p, "path.sensitive_review", "path", false,
			    path, repo,
			    "allowed path '%s' matches sensitive pattern '%s'",
			    path, pat);
	}
}

static void
check_labels(struct policy *p, const struct msg_strs *labels, const char *lane)
{
	const char *l;
	size_t      i, j;

	for (i = 0; i < labels->n; i++) {
		l = labels->v[i];
		if (plist_has(&p->c->destructive, l, true))
			violation(p, "tool.destructive_label", "tool", true,
			    NULL, NULL, "destructive label '%s'", l);
		for (j = 0; def_local_labels[j] != NULL; j++) {
			if (route_label_eq(l, def_local_labels[j]) &&
			    strcmp(lane, p->c->local_lane) != 0) {
				violation(p, "routing.local_only_violated",
				    "routing", true, NULL, NULL,
				    "label '%s' requires lane %s, routed to "
				    "'%s'",
				    l, p->c->local_lane, lane);
				break;
			}
		}
	}
}

static bool
base_allowed(const struct msg_strs *allowed, const char *base)
{
	size_t i;

	if (allowed->n == 0)
		return (true);
	for (i = 0; i < allowed->n; i++)
		if (fnmatch(allowed->v[i], base, 0) == 0)
			return (true);
	return (false);
}

static bool
trusted(const struct policy *p, const struct msg_strs *labels)
{
	size_t i;

	for (i = 0; p->c->trusted.v[i] != NULL; i++)
		if (route_has_label(labels, p->c->trusted.v[i]))
			return (true);
	return (false);
}

static void
ids(struct buf *b, const struct msg_policy_finding_list *list)
{
	size_t i;

	if (list->n == 0)
		buf_puts(b, "none");
	for (i = 0; i < list->n; i++) {
		if (i > 0)
			buf_puts(b, ", ");
		buf_puts(b, list->v[i].rule_id);
	}
}

struct msg_policy *
route_policy(const struct msg_proposal *proposal,
    const struct msg_decision *decision, const struct route_policy_cfg *cfg,
    int64_t now_ms)
{
	const struct msg_strs            *labels = &proposal->labels;
	const struct msg_proposal_target *target = proposal->target;
	static const struct msg_strs      none;
	const char                       *lane, *type, *repo, *base;
	const char                       *profile = "standard";
	enum msg_risk_level               risk    = proposal->risk_level;
	struct policy                     p;
	struct msg_policy                *d;
	struct buf                        notes;
	size_t                            i, ncmds;
	bool                              blocking = false, review = false;
	char                              id[37], ts[32];

	memset(&p, 0, sizeof(p));
	p.c   = cfg;
	p.out = d = msg_policy_new();

	lane = decision != NULL ? decision->selected_lane : NULL;
	type = proposal->task_type;
	repo = target->repo_key;
	base = target->base_branch;
	lane = lane != NULL ? lane : "";
	if (risk == MSG_RISK_LEVEL__UNSET)
		risk = MSG_RISK_LEVEL_LOW;
	type = type != NULL ? type : "unknown";

	check_labels(&p, labels, lane);
	check_paths(&p, &target->allowed_paths, repo);
	if (base != NULL &&
	    !base_allowed(proposal->branch_policy != NULL
	            ? &proposal->branch_policy->allowed_base_branches
	            : &none,
	        base))
		violation(&p, "branch.base_not_allowed", "branch", true, NULL,
		    repo, "base branch '%s' is not in allowed_base_branches",
		    base);

	ncmds = proposal->validation_profile != NULL
	    ? json_array_size(proposal->validation_profile->commands)
	    : 0;
	if (risk == MSG_RISK_LEVEL_HIGH) {
		/* strict / must_pass / block_if_unavailable */
		profile = "strict";
		if (ncmds == 0)
			violation(&p, "validation.unavailable", "validation",
			    true, NULL, repo,
			    "high-risk task but the repo has no validation "
			    "commands");
	} else if (risk == MSG_RISK_LEVEL_MEDIUM && ncmds == 0)
		warning(&p, "validation.no_commands", "validation",
		    "medium-risk task and the repo has no validation "
		    "commands");

	if ((risk == MSG_RISK_LEVEL_HIGH ||
	        plist_has(&p.c->review_types, type, false)) &&
	    !trusted(&p, labels))
		violation(&p, "review.required", "review", false, NULL, repo,
		    "%s requires human review (no trusted source label)",
		    risk == MSG_RISK_LEVEL_HIGH ? "high-risk task" : type);
	if (route_has_label(labels, "review_required"))
		violation(&p, "review.label_required", "review", false, NULL,
		    repo, "label 'review_required' forces review");

	for (i = 0; i < d->violations.n; i++) {
		if (d->violations.v[i].blocking)
			blocking = true;
		else
			review = true;
		if (strcmp(d->violations.v[i].category, "review") == 0)
			review = true;
	}
	if (blocking)
		d->status = MSG_POLICY_STATUS_BLOCK;
	else if (d->violations.n > 0)
		d->status = MSG_POLICY_STATUS_REQUIRE_REVIEW;
	else if (d->warnings.n > 0)
		d->status = MSG_POLICY_STATUS_ALLOW_WITH_WARNINGS;
	else
		d->status = MSG_POLICY_STATUS_ALLOW;

	for (i = 0; i < target->allowed_paths.n; i++)
		msg_strs_add(&d->effective_scope, target->allowed_paths.v[i]);
	buf_init(&notes);
	buf_puts(&notes, "violations: ");
	ids(&notes, &d->violations);
	buf_puts(&notes, "; warnings: ");
	ids(&notes, &d->warnings);
	d->decision_id                  = xstrdup(uuid4(id));
	d->effective_validation_profile = xstrdup(profile);
	d->effective_review_requirement =
	    xstrdup(review ? "required" : "autonomous");
	d->notes        = xstrdup(buf_cstr(&notes));
	d->evaluated_at = xstrdup(iso8601(now_ms, ts, sizeof(ts)));
	buf_fini(&notes);
	return (d);
}

struct route_policy_cfg *
route_policy_load(const struct cfg_node *router_cfg)
{
	const struct cfg_node   *pol = cfg_get(router_cfg, "policy");
	struct route_policy_cfg *c   = xcalloc(1, sizeof(*c));

	plist_load(&c->block_paths, pol, "sensitive_block", def_block_paths);
	plist_load(
	    &c->review_paths, pol, "sensitive_review", def_review_paths);
	plist_load(
	    &c->destructive, pol, "destructive_labels", def_destructive);
	plist_load(&c->trusted, pol, "trusted_labels", def_trusted);
	plist_load(
	    &c->review_types, pol, "review_task_types", def_review_types);
	c->local_lane = route_cfg_str(router_cfg, "policy.local_lane");
	return (c);
}

void
route_policy_free(struct route_policy_cfg *c)
{
	if (c == NULL)
		return;
	free(c->block_paths.own);
	free(c->review_paths.own);
	free(c->destructive.own);
	free(c->trusted.own);
	free(c->review_types.own);
	free(c);
}
