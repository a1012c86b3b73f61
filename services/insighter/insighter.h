/*
 * insighter.h - the insighter daemon (private to services/insighter).
 *
 * It keeps each repo's snapshot history (observe.snapshot) in its db and,
 * for every new snapshot, runs the derivers (derive.c) over the newest
 * ones, emitting one insight.derived per insight and then an insight.run
 * that closes the analysis, all in the handler's transaction.  It follows
 * proposals (proposal.created) and their tasks (task.created/updated) to
 * find no-op loops, and warns once (insight.warning stale_snapshot) when
 * a repo's latest snapshot grows older than the staleness limit.
 */
#ifndef OPC_INSIGHTER_H
#define OPC_INSIGHTER_H

#include <stdint.h>

#include "derive.h"
#include "opc/svc.h"

extern const struct svc_def insighter_def;

struct insighter {
	struct derive_limits lim;
	int64_t              history;     /* snapshots kept per repo */
	int64_t              noop_window; /* ms of proposals counted */
	int64_t              stale_every; /* ms between staleness checks */
	int64_t              stale_next;  /* mono ms of the next check */
};

#endif
