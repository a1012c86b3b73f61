/*
 * spend.c - the router's spend caps: what a run costs, what the last 24 h
 * have cost, and whether one more run fits under the caps.
 *
 * The router keeps a ledger of its runs (router.c: rrun): each open run
 * holds a reservation (the most it may cost: the backend's max_budget_usd
 * on any executor, else budget.reserve_usd), each finished run a booked
 * cost (the agent's cost_usd when the CLI reported or computed one, else
 * the configured cost_per_execution_usd).  A dispatch is allowed when
 *
 *     spent (booked in the last 24 h) + reserved (open runs) + estimate
 *         <= cap
 *
 * for the global cap and for the repo's, so that neither concurrent runs
 * nor a cost reported late can carry the day past a cap.  Everything here
 * is a pure function of its arguments.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "opc/err.h"
#include "opc/util.h"
#include "route.h"
#include "route_priv.h"

#define DAY_MS (24 * 3600 * (int64_t) 1000)
#define EPSILON_USD 1e-9 /* sums of binary fractions: 0.1 + 0.2 > 0.3 */
#define MAX_USD 1e9      /* keeps cents within int64 */

#define ERRF(...)                                           \
	do {                                                \
		if (errlen > 0)                             \
			snprintf(err, errlen, __VA_ARGS__); \
	} while (0)

/* child returns the value of key in map (keys may contain dots, which
 * cfg_get would take for a path), or NULL. */
static const struct cfg_node *
child(const struct cfg_node *map, const char *key)
{
	size_t i;

	for (i = 0; i < cfg_len(map); i++)
		if (cfg_key_at(map, i) != NULL &&
		    strcmp(cfg_key_at(map, i), key) == 0)
			return (cfg_at(map, i));
	return (NULL);
}

/* usd_at reads an optional non-negative amount at path under n: *out is
 * left alone when the key is absent (or YAML null). */
static int
usd_at(const struct cfg_node *n, const char *path, const char *what,
    double *out, char *err, size_t errlen)
{
	const struct cfg_node *v = cfg_get(n, path);
	char                   where[256];
	double                 d;

	if (v == NULL || (cfg_type(v) == CFG_SCALAR && *cfg_str(v) == '\0'))
		return (0);
	if (cfg_get_double(n, path, 0.0, &d, err, errlen) != 0)
		return (ERR_CONFIG);
	if (!(d >= 0 && d <= MAX_USD)) {
		cfg_where(v, where, sizeof(where));
		ERRF("%s: %s: expected an amount in USD between 0 and %.0f, "
		     "got "
		     "%g",
		    where, what, MAX_USD, d);
		return (ERR_CONFIG);
	}
	*out = d;
	return (0);
}

int
spend_repo_cap(const struct cfg_node *root, const char *repo_key, double *cap,
    char *err, size_t errlen)
{
	char what[160];

	*cap = -1;
	snprintf(what, sizeof(what), "repos.%s.max_usd_per_day",
	    repo_key ? repo_key : "?");
	return (usd_at(route_repo(root, repo_key), "max_usd_per_day", what,
	    cap, err, errlen));
}

int
spend_fallback_usd(const struct cfg_node *root,
    const struct cfg_node *router_cfg, double *out, char *err, size_t errlen)
{
	*out = 0;
	if (cfg_get(router_cfg, "cost_per_execution_usd") != NULL)
		return (usd_at(router_cfg, "cost_per_execution_usd",
		    "cost_per_execution_usd", out, err, errlen));
	if (cfg_get(root, "cost_per_execution_usd") != NULL)
		return (usd_at(root, "cost_per_execution_usd",
		    "cost_per_execution_usd", out, err, errlen));
	return (usd_at(root, "opcenter.cost_per_execution_usd",
	    "opcenter.cost_per_execution_usd", out, err, errlen));
}

int
spend_estimate(const struct cfg_node *const *executors, size_t n,
    const char *backend, double reserve_usd, double *out, char *err,
    size_t errlen)
{
	const struct cfg_node *b;
	double                 best = -1, d;
	char                   what[160];
	size_t                 i;

	*out = reserve_usd;
	if (backend == NULL)
		return (0);
	for (i = 0; i < n; i++) {
		b = child(cfg_get(executors[i], "backends"), backend);
		d = -1;
		snprintf(
		    what, sizeof(what), "backends.%s.max_budget_usd", backend);
		if (usd_at(b, "max_budget_usd", what, &d, err, errlen) != 0)
			return (ERR_CONFIG);
		if (d > best)
			best = d;
	}
	if (best >= 0)
		*out = best;
	return (0);
}

void
spend_sum(const struct spend_entry *e, size_t n, const char *repo_key,
    int64_t now_ms, struct spend_totals *global, struct spend_totals *repo)
{
	size_t i;

	memset(global, 0, sizeof(*global));
	memset(repo, 0, sizeof(*repo));
	for (i = 0; i < n; i++) {
		bool mine = repo_key != NULL && e[i].repo_key != NULL &&
		    strcmp(repo_key, e[i].repo_key) == 0;
		double spent = 0, held = 0;

		if (e[i].open)
			held = e[i].reserved_usd;
		if (e[i].cost_usd >= 0 && e[i].at_ms > now_ms - DAY_MS)
			spent = e[i].cost_usd;
		global->spent_usd += spent;
		global->reserved_usd += held;
		if (mine) {
			repo->spent_usd += spent;
			repo->reserved_usd += held;
		}
	}
}

static int64_t
cents(double usd)
{
	if (!(usd > 0))
		return (0);
	if (usd > MAX_USD)
		usd = MAX_USD;
	return ((int64_t) (usd * 100 + 0.5)); /* usd > 0: rounds */
}

/* over: one more run of estimate does not fit under cap (< 0: none). */
static bool
over(const struct spend_totals *t, double estimate, double cap)
{
	return (cap >= 0 &&
	    t->spent_usd + t->reserved_usd + estimate > cap + EPSILON_USD);
}

static struct spend_gate
refused(const char *scope, const struct spend_totals *t, double estimate,
    double cap)
{
	struct spend_gate s;

	memset(&s, 0, sizeof(s));
	s.g.allowed    = false;
	s.g.reason     = "spend_cap";
	s.g.window     = "day";
	s.g.current    = cents(t->spent_usd + t->reserved_usd);
	s.g.limit      = cents(cap);
	s.scope        = scope;
	s.current_usd  = t->spent_usd + t->reserved_usd;
	s.limit_usd    = cap;
	s.estimate_usd = estimate;
	return (s);
}

struct spend_gate
spend_check(const struct budget_cfg *c, double repo_cap,
    const struct spend_totals *global, const struct spend_totals *repo,
    double estimate_usd)
{
	struct spend_gate s;

	if (over(global, estimate_usd, c->max_usd_per_day))
		return (refused(
		    "global", global, estimate_usd, c->max_usd_per_day));
	if (over(repo, estimate_usd, repo_cap))
		return (refused("repo", repo, estimate_usd, repo_cap));
	memset(&s, 0, sizeof(s));
	s.g.allowed = true;
	s.g.current = cents(global->spent_usd + global->reserved_usd);
	s.g.limit   = c->max_usd_per_day >= 0 ? cents(c->max_usd_per_day) : -1;
	s.current_usd  = global->spent_usd + global->reserved_usd;
	s.limit_usd    = c->max_usd_per_day;
	s.estimate_usd = estimate_usd;
	return (s);
}

double
spend_run_cost(const struct msg_exec_agent *agent, const char *status,
    double fallback_usd, const char **source)
{
	const char *src = agent != NULL ? agent->cost_source : NULL;
	double      d;

	if (agent != NULL && agent->has_cost_usd &&
	    isfinite(d = agent->cost_usd) && d >= 0) {
		*source = src != NULL && strcmp(src, "computed") == 0
		    ? "computed"
		    : "reported";
		return (d);
	}
	/* An interrupted run is requeued: its reservation is released, and
	 * only a cost it did report is kept. */
	if (status != NULL && strcmp(status, "interrupted") == 0) {
		*source = "released";
		return (0);
	}
	*source = "estimated";
	return (fallback_usd);
}
