/*
 * config.c - the proposer's settings (the original's guardrails).
 */
#include "conf.h"

static const struct cfg_key budget_keys[] = {
	CFG_INT("max_per_hour", "10", "0", NULL,
	    "executions an hour, as the router's budget"),
	CFG_INT("max_per_day", "50", "0", NULL, "executions a day"),
	CFG_INT("min_remaining", "3", "0", NULL,
	    "no proposal with fewer executions left"),
	CFG_END,
};

static const struct cfg_key tier_item[] = {
	CFG_INT("*", NULL, "0", "2",
	    "a family's tier: 0 Backlog, 1 Ready if style, 2 Ready "
	    "(default 1)"),
	CFG_END,
};

const struct cfg_key proposer_keys[] = {
	CFG_BOOL("auto", "false", "a cycle after every observation"),
	CFG_STRS("families",
	    "families that may propose (default: the original's allowed set)"),
	CFG_BOOL("all_families", "false",
	    "the gated families too (coverage_gap, lint_cluster, ...)"),
	CFG_INT("max_candidates", "3", "1", NULL, "proposals a cycle"),
	CFG_MS("cooldown", "120m", "0", NULL,
	    "a dedup key is not proposed again within"),
	CFG_INT("velocity_cap", "10", "1", NULL, "proposals per 24 h"),
	CFG_INT("ready_saturation", "8", "1", NULL,
	    "no proposal while this many tasks are Ready"),
	CFG_INT("lint_min_violations", "5", "0", NULL,
	    "violations a lint_fix needs"),
	CFG_INT("type_min_errors", "3", "0", NULL, "errors a type_fix needs"),
	CFG_MS("ci_debounce", "300s", "0", NULL,
	    "a repo's CI triggers within this run one cycle"),
	CFG_INT("rescore_every", "45", "1", NULL,
	    "cycles between priority rescores of open tasks"),
	CFG_SECTION("budget", budget_keys, "executions left for proposals"),
	CFG_MAP("tiers", tier_item, "family -> tier"),
	CFG_END,
};
