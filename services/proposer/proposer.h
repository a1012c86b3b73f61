/*
 * proposer.h - the proposer (private to services/proposer).
 *
 * rules.c turns a repo's current insights into candidates; guard.c runs
 * the guardrails over a cycle's candidates, in the original's order;
 * calib.c builds the calibration table and the quiet diagnosis.  Those
 * three are pure: whatever they need from the world (rejections, past
 * emissions, the board) comes through struct guard_ctx's callbacks.
 * proposer.c is the daemon: it keeps the current insights, the board's
 * tasks, emissions, rejections and outcomes in its db, and runs a cycle
 * on each insight.run (when auto) or on request (opc autonomy-cycle).
 */
#ifndef OPC_PROPOSER_H
#define OPC_PROPOSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "opc/svc.h"

extern const struct svc_def proposer_def;

/* ---- rules.c ------------------------------------------------------------ */

struct rule_limits {
	int64_t lint_min_violations; /* 5 */
	int64_t type_min_errors;     /* 3 */
};

void rule_limits_default(struct rule_limits *);

/* A candidate.  Strings are owned. */
struct cand {
	char       *dedup_key;    /* candidate|<family>|<repo>|<pattern> */
	char       *candidate_id; /* dedup_key with ':' */
	char       *family, *repo, *pattern;
	const char *confidence; /* "high" | "medium" | "low" (static) */
	const char *risk_class; /* "style" | "logic" (static) */
	const char *validation_profile;
	char       *title, *goal;
	json_t     *evidence;    /* own reference */
	json_t     *insight_ids; /* the insights it came from (own ref) */
	int64_t     signal;      /* its size: a count, else 1 (rescore) */
	/* set by guard_run */
	const char *reason;  /* NULL: passes; else the suppression reason */
	bool        counted; /* reached the quotas */
	int         tier;
	const char *state; /* "Ready for AI" or "Backlog" */
};

/* rules_apply appends the candidates for repo's insights (an array of
 * insight objects) to *cv (*n of them, realloc'd). */
void rules_apply(const char *repo, const json_t *insights,
    const struct rule_limits *, struct cand **cv, size_t *n);
/* rules_dependency appends the dependency_update candidate of one
 * package's status (an entry of dep_report_json's statuses) when it
 * calls for a task (dep_task_kind); returns it, or NULL.  The dedup key
 * is candidate|dependency_update|<repo>|<eco>:<name>:<kind>, the same
 * for the observer's insights and opc dependency-check. */
struct cand *rules_dependency(const char *repo,
    const struct msg_dep_status *status, struct cand **cv, size_t *n);
void         cand_fini(struct cand *);
void         cands_free(struct cand *cv, size_t n);
/* cand_json returns the candidate as a new JSON object. */
json_t *cand_json(const struct cand *);

/* ---- guard.c ------------------------------------------------------------ */

struct guard_limits {
	int64_t            max_exec_hour, max_exec_day; /* 10, 50 */
	int64_t            min_remaining_exec;          /* 3 */
	int64_t            velocity_cap_24h; /* 10 proposals a day */
	int64_t            max_candidates;   /* 3 per cycle */
	int64_t            per_family;       /* 1 per family per cycle */
	int64_t            cooldown_ms;      /* 120 min per dedup key */
	int64_t            ready_saturation; /* 8 Ready tasks */
	bool               all_families;     /* gated families allowed */
	const char *const *families;         /* allowed (NULL: defaults) */
	const json_t      *tiers;            /* {family: tier} overrides */
};

void guard_limits_default(struct guard_limits *);

/* What a cycle knows of the world; the callbacks get arg. */
struct guard_ctx {
	int64_t now_ms;
	int64_t exec_hour, exec_day; /* executions dispatched in the windows */
	int64_t created_24h;         /* proposals created in the last 24 h */
	int64_t ready_count;         /* tasks in Ready for AI */
	void   *arg;
	/* 1 when a human rejected dedup_key for good */
	int (*rejected)(void *arg, const char *dedup_key);
	/* 1 when family is in a no-op loop in repo */
	int (*cycling)(void *arg, const char *repo, const char *family);
	/* ms of the last emission of dedup_key, 0 if never */
	int64_t (*last_emitted)(void *arg, const char *dedup_key);
	/* ms of the last emission of family in repo, 0 if never */
	int64_t (*family_emitted)(
	    void *arg, const char *repo, const char *family);
	/* 1: an open equivalent task; 2: one completed recently; 0: none */
	int (*equivalent)(void *arg, const struct cand *);
};

/* guard_run sorts the candidates (confidence, family, key) and sets each
 * one's reason (NULL when it passes), tier and state.  Returns the
 * number that pass. */
size_t guard_run(struct cand *cv, size_t n, const struct guard_limits *,
    const struct guard_ctx *);
/* guard_tier returns the autonomy tier of family. */
int guard_tier(const struct guard_limits *, const char *family);
/* guard_upstream returns the family that must go before family, or NULL. */
const char *guard_upstream(const char *family);

/* ---- calib.c ------------------------------------------------------------ */

/* calib_table builds the calibration rows from outcome events
 * [{family, confidence, outcome: merged|rejected|abandoned, at}], counting
 * those at or after since: [{family, confidence, total, merged, rejected,
 * abandoned, acceptance_rate, expected_rate, calibration_ratio, note,
 * mark}] (calib_grade). */
json_t *calib_table(const json_t *events, int64_t since);
/* calib_grade grades a family/confidence row as the original does: note
 * is "insufficient sample" (fewer than 5 outcomes), "well calibrated"
 * (ratio >= 0.9), "mildly over-confident" (0.6 <= ratio < 0.9) or
 * "over-confident" (< 0.6); mark is the original's check mark, its
 * warning sign, or "" (static strings). */
void calib_grade(
    int64_t total, double ratio, const char **note, const char **mark);
/* calib_expected returns the expected acceptance rate of a confidence. */
double calib_expected(const char *confidence);

#define QUIET_CYCLES 5

/* calib_quiet_diagnosis returns the diagnosis object when the newest
 * QUIET_CYCLES cycles (newest first: {cycle_id, created, candidates,
 * reasons{}, families[]}) all created nothing, else NULL. */
json_t *calib_quiet_diagnosis(const json_t *cycles, int64_t now_ms);

/* ---- patterns.c: rejection patterns from review feedback ---------------- */

/* proposer_patterns_init creates the review_pattern table. */
int proposer_patterns_init(struct svc *);
/* proposer_on_review handles review.feedback: pattern counts per
 * repo:family, and a human's close without merge rejects the task's key. */
int proposer_on_review(struct svc *, const struct msg *m, void *state);
/* proposer_patterns_note returns the goal's section on the most frequent
 * patterns of repo:family (caller frees), or NULL when there are none. */
char *proposer_patterns_note(
    struct svc *, const char *repo, const char *family);
/* proposer_ctl_patterns answers proposer.patterns: {patterns: {"repo:
 * family": {repo, family, patterns {name: count}, last_seen {name:
 * time}}}}. */
int proposer_ctl_patterns(struct svc *, const struct msg *req, json_t **data,
    char *err, size_t errlen, void *state);

/* ---- proposer.c ------------------------------------------------------------
 */

struct proposer {
	struct rule_limits  rl;     /* rl_cfg with the live overrides */
	struct rule_limits  rl_cfg; /* the config's */
	struct guard_limits gl;
	const char        **families;  /* from the config (array only freed) */
	json_t             *tiers;     /* tiers_cfg with the live overrides */
	json_t             *tiers_cfg; /* the config's */
	bool                auto_cycle; /* a cycle per insight.run */
	bool                quiet_dirty;
	char               *quiet_path;
	int64_t             ci_debounce_ms; /* CI triggers of a repo */
	int64_t             rescore_every;  /* cycles between rescores */
};

/* proposer_outcomes returns the outcome events the calibration counts
 * [{family, confidence, outcome, at}] (new reference). */
json_t *proposer_outcomes(struct svc *);

/* ---- live.c ------------------------------------------------------------- */

/* live_load creates live.c's tables and rebuilds p->tiers and p->rl:
 * the config's with the db's overrides on top.  Returns 0 or ERR_*. */
int live_load(struct svc *, struct proposer *p);
/* the ctl operations proposer.tiers, proposer.tune, proposer.triggers */
int live_ctl_tiers(struct svc *, const struct msg *req, json_t **data,
    char *err, size_t errlen, void *state);
int live_ctl_tune(struct svc *, const struct msg *req, json_t **data,
    char *err, size_t errlen, void *state);
int live_ctl_triggers(struct svc *, const struct msg *req, json_t **data,
    char *err, size_t errlen, void *state);
/* live_on_check_run records a CI trigger (autonomy.triggered) for a
 * completed check of a configured repo, debounced per repo. */
int live_on_check_run(struct svc *, const struct msg *m, void *state);
/* live_trigger_take returns the id of repo's oldest queued trigger (the
 * caller frees it), or NULL; live_trigger_ran marks the repo's queued
 * triggers as answered by cycle_id. */
char *live_trigger_take(struct svc *, const char *repo);
int   live_trigger_ran(struct svc *, const char *repo, const char *cycle_id);

#endif
