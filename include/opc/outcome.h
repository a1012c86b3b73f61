/*
 * outcome.h - what a finished run's outcome means, the same for every
 * service that reads exec.finished (router, recorder, escalator).
 */
#ifndef OPC_OUTCOME_H
#define OPC_OUTCOME_H

#include <stdbool.h>

#include <jansson.h>

/* outcome_quota: the run spent its quota or credits.  A result of the
 * agent contract (it has an "agent" key, even null) says so by its
 * failure category, "quota_exhausted", alone: a rate-limited run
 * (model_error with agent.retry_after_ms) is not a quota event, whatever
 * its text.  An older result, by the words of its category or reason
 * ("quota", "rate limit", "hit your limit", ...), case-insensitively. */
bool outcome_quota(const char *category, const char *reason,
    const json_t *result);

#endif
