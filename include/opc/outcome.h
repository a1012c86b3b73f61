/*
 * outcome.h - what a finished run's outcome means, the same for every
 * service that reads exec.finished (router, recorder, escalator,
 * board-sync).
 */
#ifndef OPC_OUTCOME_H
#define OPC_OUTCOME_H

#include <stdbool.h>

#include <jansson.h>

/* outcome_quota: the run spent its quota or credits.  A result of the
 * agent contract (contract true: a typed exec_result, or a stored one
 * with an "agent" key, even null) says so by its failure category,
 * "quota_exhausted", alone: a rate-limited run (model_error with
 * agent.retry_after_ms) is not a quota event, whatever its text.  An
 * older result, or none, by the words of its category or reason
 * ("quota", "rate limit", "hit your limit", ...), case-insensitively. */
bool outcome_quota(const char *category, const char *reason, bool contract);

/* outcome_supersede turns result (an object, changed in place) into the
 * record of a run the router took back (its lease expired) and gave to
 * another run, by_run_id (may be NULL): status "superseded", success
 * false, failure_category "superseded" and a failure_reason saying so;
 * superseded_by names by_run_id, and what the run itself reported is
 * kept in superseded_status and superseded_success.  A superseded run is
 * never a success, whatever it did.  Applying it again changes nothing. */
void outcome_supersede(json_t *result, const char *by_run_id);

#endif
