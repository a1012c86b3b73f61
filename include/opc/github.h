/*
 * github.h - reading GitHub's REST answers: token expiry and rate limits.
 *
 * Pure functions shared by the executor daemon (its token check), the
 * executor worker (pull requests) and `opc doctor`, so that the three
 * agree on what an answer means.  Sources, docs.github.com: "Rate limits
 * for the REST API" and "Troubleshooting the REST API" (a primary limit is
 * 403 or 429 with x-ratelimit-remaining: 0, retry after x-ratelimit-reset,
 * in UTC epoch seconds; a secondary limit is 403 or 429, retry after
 * retry-after seconds when present, else after at least a minute);
 * "Authenticating to the REST API" for GitHub-Authentication-Token-
 * Expiration, which real tokens send as "2026-12-01 00:00:00 UTC" or with
 * a numeric offset, "2026-12-31 09:00:00 +0900" (both seen in the wild:
 * google/go-github #2649 and #2650).
 */
#ifndef OPC_GITHUB_H
#define OPC_GITHUB_H

#include <stdint.h>

#include "opc/http.h"

/* How long to wait before retrying a secondary limit that names no time
 * (docs: "wait for at least one minute"). */
#define GITHUB_SECONDARY_WAIT_MS 60000

enum github_limit {
	GITHUB_LIMIT_NONE = 0,  /* not a rate limit */
	GITHUB_LIMIT_PRIMARY,   /* x-ratelimit-remaining: 0 */
	GITHUB_LIMIT_SECONDARY, /* retry-after, or 429, or the message says so
	                         */
};

/* github_expiry parses a token expiration header value: "YYYY-MM-DD
 * HH:MM:SS" (or with a "T") followed by a zone: "UTC", "GMT", "Z", or a
 * numeric offset "+HHMM", "-HHMM", "+HH:MM", "+HH".  No zone is UTC.
 * Returns unix ms, or -1 when v is NULL or not such a date (an unknown
 * zone name, a field out of range, trailing text). */
int64_t github_expiry(const char *v);

/* github_days_left returns whole days from now_ms until exp_ms (rounded
 * down; negative once expired), as the daemon and doctor report them. */
int64_t github_days_left(int64_t exp_ms, int64_t now_ms);

/*
 * github_limit_of classifies an answer from its status and headers (each
 * NULL when absent) and the JSON "message" of its body (may be NULL).
 * Returns GITHUB_LIMIT_NONE for anything but a 403 or 429 that is a rate
 * limit; else sets *retry_at_ms (unix ms) to when a retry is allowed:
 * retry-after seconds when given, else x-ratelimit-reset for a primary
 * limit, else now_ms + GITHUB_SECONDARY_WAIT_MS.
 */
enum github_limit github_limit_of(int status, const char *remaining,
    const char *reset, const char *retry_after, const char *message,
    int64_t now_ms, int64_t *retry_at_ms);

/* github_limit is github_limit_of on a response. */
enum github_limit github_limit(
    const struct http_resp *resp, int64_t now_ms, int64_t *retry_at_ms);

/* github_limit_name returns "primary", "secondary" or "none". */
const char *github_limit_name(enum github_limit l);

/* github_message returns a new copy of the "message" of a JSON error
 * body, cut to 200 bytes, or NULL. */
char *github_message(const struct http_resp *resp);

/* github_link_next returns a new copy of the rel="next" URL of a Link
 * header ("Using pagination in the REST API"), or NULL when there is no
 * next page (link NULL or without that relation). */
char *github_link_next(const char *link);

#endif
