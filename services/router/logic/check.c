/*
 * check.c - route_cfg_check: validate the router's config once at startup,
 * so that the pure decision functions (which cannot fail) never meet a
 * malformed rule at dispatch time, nor a spend cap that is not an amount.
 * Errors name file:line:col.
 */
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "opc/err.h"
#include "opc/util.h"
#include "route.h"

#define ERRF(...)                                           \
	do {                                                \
		if (errlen > 0)                             \
			snprintf(err, errlen, __VA_ARGS__); \
	} while (0)

static const char *const policy_lists[] = { "trusted_labels",
	"destructive_labels", "sensitive_block", "sensitive_review",
	"review_task_types" };

static int
bad(const struct cfg_node *n, const char *what, char *err, size_t errlen)
{
	char where[256];

	cfg_where(n, where, sizeof(where));
	ERRF("%s: %s", where, what);
	return (ERR_CONFIG);
}

static bool
is_str_or_strs(const struct cfg_node *n)
{
	size_t i;

	if (cfg_type(n) == CFG_SCALAR)
		return (true);
	if (cfg_type(n) != CFG_SEQ)
		return (false);
	for (i = 0; i < cfg_len(n); i++)
		if (cfg_type(cfg_at(n, i)) != CFG_SCALAR)
			return (false);
	return (true);
}

static int
check_rule(const struct cfg_node *r, char *err, size_t errlen)
{
	const struct cfg_node *when = cfg_get(r, "when");
	const char            *lane = cfg_str(cfg_get(r, "lane"));
	size_t                 i;

	if (cfg_type(r) != CFG_MAP)
		return (bad(
		    r, "router.rules: each rule must be a map", err, errlen));
	if (lane == NULL || *lane == '\0')
		return (
		    bad(r, "router.rules: rule without a lane", err, errlen));
	if (when == NULL ||
	    (cfg_type(when) == CFG_SCALAR && *cfg_str(when) == '\0'))
		return (0);
	if (cfg_type(when) != CFG_MAP)
		return (bad(
		    when, "router.rules: when must be a map", err, errlen));
	for (i = 0; i < cfg_len(when); i++) {
		if (cfg_tab_find(router_when_keys, cfg_key_at(when, i)) ==
		    NULL)
			return (bad(cfg_at(when, i),
			    "router.rules: unknown condition (kind, task_type,"
			    " labels_any, labels_all, repo, risk)",
			    err, errlen));
		if (!is_str_or_strs(cfg_at(when, i)))
			return (bad(cfg_at(when, i),
			    "router.rules: expected a string or a list of "
			    "strings",
			    err, errlen));
	}
	return (0);
}

int
route_cfg_check(const struct cfg_node *root, char *err, size_t errlen)
{
	const struct cfg_node   *router = route_section(root);
	const struct cfg_node   *rules  = cfg_get(router, "rules");
	const struct cfg_node   *repos  = cfg_get(root, "repos");
	const char             **v;
	static const char *const kinds[] = { "goal", "test", "improve" };
	struct budget_cfg        b;
	struct route_repo        rc;
	const char              *tt;
	double                   usd;
	size_t                   i, n;
	int                      rv;

	if (rules != NULL && cfg_type(rules) != CFG_SEQ &&
	    !(cfg_type(rules) == CFG_SCALAR && *cfg_str(rules) == '\0'))
		return (
		    bad(rules, "router.rules: expected a list", err, errlen));
	for (i = 0; i < cfg_len(rules); i++)
		if ((rv = check_rule(cfg_at(rules, i), err, errlen)) != 0)
			return (rv);
	for (i = 0; i < nitems(policy_lists); i++) {
		if (cfg_get_strs(cfg_get(router, "policy"), policy_lists[i],
		        &v, &n, err, errlen) != 0)
			return (ERR_CONFIG);
		free(v);
	}
	if ((rv = budget_cfg_load(&b, router, err, errlen)) != 0 ||
	    (rv = spend_fallback_usd(root, router, &usd, err, errlen)) != 0)
		return (rv);
	/* router.kind_map, and each repo as the plan reads it (the same
	 * loader the plan uses) */
	for (i = 0; i < nitems(kinds); i++)
		if (route_task_type(kinds[i], root, &tt, err, errlen) != 0)
			return (ERR_CONFIG);
	for (i = 0; i < cfg_len(repos); i++) {
		if (route_repo_load(
		        root, cfg_key_at(repos, i), &rc, err, errlen) != 0)
			return (ERR_CONFIG);
		route_repo_fini(&rc);
		if ((rv = spend_repo_cap(
		         root, cfg_key_at(repos, i), &usd, err, errlen)) != 0)
			return (rv);
	}
	return (0);
}
