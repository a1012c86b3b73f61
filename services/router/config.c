/*
 * config.c - the router's settings.  route_cfg_check (logic/check.c)
 * checks what a table cannot: a rule's lane, a repo's proposal built
 * through the real code path.
 */
#include "conf.h"

#define MAX_USD "1000000000" /* logic/spend.c's MAX_USD */

static const struct cfg_key default_keys[] = {
	CFG_STR("lane", "aider_local", "the lane when no rule matches"),
	CFG_STR("backend", "stub", "the backend when no rule matches"),
	CFG_END,
};

const struct cfg_key router_when_keys[] = {
	CFG_ANY("kind", "the task's kind (a string or a list: any of them)"),
	CFG_ANY("task_type", "the task type (a string or a list)"),
	CFG_ANY("labels_any", "a label of the task (a string or a list)"),
	CFG_ANY("labels_all", "every label (a string or a list)"),
	CFG_ANY("repo", "the repo key (a string or a list)"),
	CFG_ANY("risk", "the risk level (a string or a list)"),
	CFG_END,
};

static const struct cfg_key rule_keys[] = {
	CFG_STR("name", "unnamed", "the rule's name in decisions"),
	CFG_SECTION("when", router_when_keys,
	    "every condition must hold (none: always)"),
	CFG_STR("lane", NULL, "the lane it selects (required)"),
	CFG_STR("backend", NULL, "the backend (default: default.backend)"),
	CFG_END,
};

static const struct cfg_key rule_item[] = {
	CFG_SECTION("*", rule_keys, "a rule"),
	CFG_END,
};

static const struct cfg_key budget_keys[] = {
	CFG_INT("max_per_hour", "10", "0", NULL,
	    "executions an hour (env OPERATIONS_CENTER_MAX_EXEC_PER_HOUR)"),
	CFG_INT("max_per_day", "50", "0", NULL,
	    "executions a day (env OPERATIONS_CENTER_MAX_EXEC_PER_DAY)"),
	CFG_INT("max_retries", "3", "0", NULL,
	    "retries of a task (env OPERATIONS_CENTER_MAX_RETRIES_PER_TASK)"),
	CFG_MS("retry_reset", "1h", "0", NULL,
	    "a task's retries count again after this long"),
	CFG_INT("max_concurrent", "1", "0", NULL, "runs in flight"),
	CFG_INT("min_memory_mb", "0", "0", NULL,
	    "an executor with less free memory gets no run"),
	CFG_NUM("reserve_usd", "1.0", "0", MAX_USD,
	    "held per run in flight when its backend has no max_budget_usd "
	    "(env OPERATIONS_CENTER_SPEND_RESERVE_USD)"),
	CFG_NUM("max_usd_per_day", NULL, "0", MAX_USD,
	    "spend cap of all repos over the last 24 h (default: none; env "
	    "OPERATIONS_CENTER_MAX_USD_PER_DAY)"),
	CFG_END,
};

static const struct cfg_key breaker_keys[] = {
	CFG_NUM("threshold", "0.8", "0", "1",
	    "the failure rate that opens the breaker (above 0)"),
	CFG_INT("window", "5", "0", NULL, "the runs it looks at"),
	CFG_INT("min_samples", "3", "1", NULL, "runs needed before it opens"),
	CFG_MS("staleness", "4h", "0", NULL, "older runs do not count"),
	CFG_MS("cooloff", "10m", "1ms", NULL,
	    "open this long, it lets one run through as a probe (half_open)"),
	CFG_END,
};

static const struct cfg_key policy_keys[] = {
	CFG_STRS("trusted_labels",
	    "labels of trusted sources (default: source: autonomy, "
	    "source: spec-campaign, source: board_worker)"),
	CFG_STRS("destructive_labels",
	    "labels that block a run (default: drop_table, rm_rf, "
	    "force_push, destructive)"),
	CFG_STRS("sensitive_block",
	    "paths a run may not touch (default: **/.ssh/**, ...)"),
	CFG_STRS("sensitive_review",
	    "paths that need a review (default: *.env, .env*, ...)"),
	CFG_STRS("review_task_types",
	    "task types that need a review (default: feature, refactor)"),
	CFG_STR("local_lane", "aider_local",
	    "the lane of local_only and no_remote tasks"),
	CFG_END,
};

static const struct cfg_key kind_item[] = {
	CFG_STR("*", NULL, "the task type of a board kind"),
	CFG_END,
};

const struct cfg_key router_keys[] = {
	CFG_MS("lease", "30s", "1ms", NULL,
	    "a dispatch's lease: unrenewed this long, it is dispatched again"),
	CFG_INT("timeout_seconds", "300", "1", NULL,
	    "the backend's time limit (its attempts in a run together, "
	    "from its start)"),
	CFG_SECTION("default", default_keys, "the route when no rule matches"),
	CFG_LIST("rules", rule_item, "routing rules, the first match wins"),
	CFG_SECTION("budget", budget_keys, "execution and spend limits"),
	CFG_SECTION("breaker", breaker_keys, "the circuit breaker"),
	CFG_SECTION("policy", policy_keys, "what a run may touch"),
	CFG_MAP("kind_map", kind_item,
	    "board kind -> task type (lint_fix, bug_fix, simple_edit, "
	    "test_write, documentation, refactor, feature, dependency_update, "
	    "unknown)"),
	CFG_NUM("cost_per_execution_usd", NULL, "0", MAX_USD,
	    "over the top-level key, for this router's spend"),
	CFG_END,
};
