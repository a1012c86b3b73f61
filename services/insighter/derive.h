/*
 * derive.h - the insighter's derivers: pure functions from a repo's
 * snapshot history (observe.snapshot bodies, newest first) to insights.
 *
 * An insight is a JSON object {insight_id, dedup_key, kind, subject,
 * status, evidence}; dedup_key is "<kind>|<key parts>" and insight_id the
 * same with '|' turned into ':' (the original's convention).  Nothing here
 * does I/O or reads the clock: time comes in derive_in.now_ms.
 *
 * Thresholds are the original's (inventory section 6) unless configured.
 */
#ifndef OPC_DERIVE_H
#define OPC_DERIVE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "opc/msg.h"

struct derive_limits {
	double  trend_pct;           /* 10: change that counts as a trend */
	int     trend_min_snapshots; /* 3 */
	int     trend_window;        /* 5: snapshots compared */
	double  coverage_min_pct;    /* 60: below is a low_overall gap */
	int     uncovered_min_files; /* 3 */
	int     theme_min_runs;      /* 3 consecutive snapshots */
	int     noop_min_proposals;  /* 3 proposals without acceptance */
	int64_t stale_ms;            /* 2 h */
};

void derive_limits_default(struct derive_limits *);

struct derive_in {
	const char                           *repo;
	const struct msg_obs_snapshot *const *snaps; /* newest first */
	size_t                                nsnaps;
	/* per family of this repo: [{family, proposed, accepted}] over the
	 * proposal window, or NULL */
	const json_t        *families;
	struct derive_limits lim;
};

/* derive_repo returns a new array of the insights of one repo. */
json_t *derive_repo(const struct derive_in *);

/* derive_cross_repo returns a new array of cross_repo insights: every
 * insight kind/subject ("quality_trend/lint_degrading") present in the
 * latest run of two or more repos.  latest is {repo: [insight, ...]}. */
json_t *derive_cross_repo(const json_t *latest);

/* derive_stale returns the age in ms when the latest snapshot (observed
 * at observed_ms) is older than lim->stale_ms at now_ms, else 0. */
int64_t derive_stale(
    int64_t observed_ms, int64_t now_ms, const struct derive_limits *lim);

/* insight_new returns {insight_id, dedup_key, kind, subject, status:
 * "present", evidence} (evidence reference stolen) with dedup_key
 * "<kind>|<subject>|<key>" (key may be NULL). */
json_t *insight_new(
    const char *kind, const char *subject, const char *key, json_t *evidence);

#endif
