/*
 * guard.c - the proposer's guardrails (see proposer.h).
 *
 * Order, as the original's: the permanent rejection store first, then
 * family gating and no-op loops, the proposal budget and velocity cap,
 * the per-family quota, the per-cycle maximum, the cooldown per dedup
 * key, equivalent board tasks, board saturation, the autonomy tier (which
 * picks the state the task is created in) and last the upstream-family
 * ordering (type_fix waits for lint_fix).  A candidate stops at the first
 * guard that suppresses it; quotas count only candidates that got that
 * far.
 */
#include <stdlib.h>
#include <string.h>

#include "proposer.h"

/* The original's default-allowed families; the others are gated. */
static const char *const default_families[] = {
	"observation_coverage",
	"test_visibility",
	"dependency_drift",
	"dependency_update", /* issue 18: opcenter's name for the family */
	"execution_health_followup",
	"lint_fix",
	"type_fix",
	"validation_pattern_followup",
	NULL,
};

/* family -> the family that must not be in the same cycle (or emitted
 * within the cooldown) */
static const char *const chain[][2] = {
	{ "type_fix", "lint_fix" },
	{ "execution_health_followup", "test_visibility" },
};

static const struct {
	const char *family;
	int         tier;
} default_tiers[] = {
	{ "lint_fix", 2 },
	{ "observation_coverage", 2 },
	{ "test_visibility", 2 },
	{ "dependency_drift_followup", 2 },
	{ "arch_promotion", 0 },
};

void
guard_limits_default(struct guard_limits *l)
{
	memset(l, 0, sizeof(*l));
	l->max_exec_hour      = 10;
	l->max_exec_day       = 50;
	l->min_remaining_exec = 3;
	l->velocity_cap_24h   = 10;
	l->max_candidates     = 3;
	l->per_family         = 1;
	l->cooldown_ms        = 120 * 60 * 1000;
	l->ready_saturation   = 8;
}

int
guard_tier(const struct guard_limits *l, const char *family)
{
	json_t *t = json_object_get(l->tiers, family);
	size_t  i;

	if (json_is_integer(t))
		return ((int) json_integer_value(t));
	for (i = 0; i < sizeof(default_tiers) / sizeof(default_tiers[0]); i++)
		if (strcmp(default_tiers[i].family, family) == 0)
			return (default_tiers[i].tier);
	return (1);
}

const char *
guard_upstream(const char *family)
{
	size_t i;

	for (i = 0; i < sizeof(chain) / sizeof(chain[0]); i++)
		if (strcmp(chain[i][0], family) == 0)
			return (chain[i][1]);
	return (NULL);
}

static int
allowed(const struct guard_limits *l, const char *family)
{
	const char *const *f = l->families ? l->families : default_families;

	if (l->all_families)
		return (1);
	for (; *f != NULL; f++)
		if (strcmp(*f, family) == 0)
			return (1);
	return (0);
}

static int
conf_rank(const char *c)
{
	return (strcmp(c, "high") == 0 ? 0 : strcmp(c, "medium") == 0 ? 1 : 2);
}

static int
cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	int                r;

	if ((r = conf_rank(x->confidence) - conf_rank(y->confidence)) != 0)
		return (r);
	if ((r = strcmp(x->family, y->family)) != 0)
		return (r);
	return (strcmp(x->dedup_key, y->dedup_key));
}

/* early is the part of the chain before the quotas. */
static const char *
early(const struct cand *c, const struct guard_limits *l,
    const struct guard_ctx *x)
{
	int64_t left_h = l->max_exec_hour - x->exec_hour,
	        left_d = l->max_exec_day - x->exec_day;

	if (x->rejected != NULL && x->rejected(x->arg, c->dedup_key))
		return ("permanently_rejected_by_human");
	if (!allowed(l, c->family))
		return ("family_deferred_initial_gating");
	if (x->cycling != NULL && x->cycling(x->arg, c->repo, c->family))
		return ("family_cycling");
	if ((left_h < left_d ? left_h : left_d) < l->min_remaining_exec)
		return ("proposal_budget_too_low");
	if (x->created_24h >= l->velocity_cap_24h)
		return ("velocity_cap_reached");
	return (NULL);
}

/* late is the part after the quotas; it also sets tier and state. */
static const char *
late(struct cand *c, const struct guard_limits *l, const struct guard_ctx *x)
{
	int64_t last;
	int     eq;

	if (x->last_emitted != NULL &&
	    (last = x->last_emitted(x->arg, c->dedup_key)) > 0 &&
	    x->now_ms - last < l->cooldown_ms)
		return ("cooldown_active");
	if (x->equivalent != NULL && (eq = x->equivalent(x->arg, c)) != 0)
		return (eq == 1 ? "existing_open_equivalent_task"
		                : "recently_completed_equivalent_task");
	if (x->ready_count >= l->ready_saturation)
		return ("ready_queue_saturated");
	c->tier  = guard_tier(l, c->family);
	c->state = c->tier >= 2 ||
	        (c->tier == 1 && strcmp(c->risk_class, "style") == 0)
	    ? "Ready for AI"
	    : "Backlog";
	return (NULL);
}

/* upstream suppresses c when its upstream family passed in this cycle
 * or was emitted within the cooldown. */
static const char *
upstream(const struct cand *c, const struct cand *cv, size_t n,
    const struct guard_limits *l, const struct guard_ctx *x)
{
	const char *up = guard_upstream(c->family);
	int64_t     last;
	size_t      i;

	if (up == NULL)
		return (NULL);
	for (i = 0; i < n; i++)
		if (&cv[i] != c && cv[i].reason == NULL &&
		    cv[i].state != NULL && strcmp(cv[i].family, up) == 0 &&
		    strcmp(cv[i].repo, c->repo) == 0)
			return ("upstream_family_in_cycle");
	if (x->family_emitted != NULL &&
	    (last = x->family_emitted(x->arg, c->repo, up)) > 0 &&
	    x->now_ms - last < l->cooldown_ms)
		return ("upstream_family_recently_emitted");
	return (NULL);
}

size_t
guard_run(struct cand *cv, size_t n, const struct guard_limits *l,
    const struct guard_ctx *x)
{
	struct cand *c;
	size_t       i, j, fam, passed = 0, total = 0;

	if (n == 0)
		return (0);
	qsort(cv, n, sizeof(*cv), cmp);
	for (i = 0; i < n; i++) {
		c        = &cv[i];
		c->state = NULL;
		if ((c->reason = early(c, l, x)) != NULL)
			continue;
		for (fam = 0, j = 0; j < i; j++)
			if (cv[j].counted &&
			    strcmp(cv[j].family, c->family) == 0)
				fam++;
		c->counted = true;
		if ((int64_t) fam >= l->per_family) {
			c->reason = "family_quota_exceeded";
			continue;
		}
		if ((int64_t) total++ >= l->max_candidates) {
			c->reason = "quota_exceeded";
			continue;
		}
		c->reason = late(c, l, x);
	}
	/* upstream ordering needs the whole cycle's outcome */
	for (i = 0; i < n; i++)
		if (cv[i].reason == NULL &&
		    (cv[i].reason = upstream(&cv[i], cv, n, l, x)) != NULL)
			cv[i].state = NULL;
	for (i = 0; i < n; i++)
		if (cv[i].reason == NULL)
			passed++;
	return (passed);
}
