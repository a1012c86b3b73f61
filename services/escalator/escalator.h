/*
 * escalator.h - the escalator daemon (private to services/escalator).
 *
 * The escalator turns conditions a human must look at (circuit open, a
 * credential refused or about to expire, a task blocked again and again, a
 * run awaiting input, quota exhausted, a spend cap holding tasks back, a
 * service that failed or went stale, lost bus data, a disk that was full)
 * into operator webhook POSTs.
 *
 * Handlers (escalator.c) only record "escalation wanted" rows in the esc
 * table, one per source event (its envelope id is UNIQUE, so a replayed or
 * re-injected event adds nothing).  The effect loop (send.c) runs only
 * when caught up and walks each row through this state machine:
 *
 *   from      event                                  to
 *   pending   same (kind,key) sent within cooldown   suppressed (+event)
 *   pending   otherwise: attempt recorded, POST      sending
 *   sending   every URL answered 2xx                 sent (+event)
 *   sending   a failure, attempts <= retry_max       sending (backoff)
 *   sending   a failure, retries exhausted           failed (logged)
 *
 * Delivery is at-least-once with a stable idempotency key.  Before the
 * first POST the row moves to "sending" and gets its key
 * "<kind>:<key>:<window start ms>" in the same commit; every attempt,
 * including one after a crash or restart, sends that same key (header
 * Idempotency-Key and body field idempotency_key).  A crash after the
 * receiver got the POST but before "sent" was committed therefore leads to
 * one more POST with the same key, which the receiver deduplicates; what
 * can never happen is a second escalation with a new key inside the
 * cooldown: the cooldown is computed from sent_ms in the db, a pending row
 * waits while another row of its (kind,key) is "sending", and a row is
 * resent after a restart only while no success is recorded for it.  The
 * per-URL successes are recorded too (done_mask), so a retry goes only to
 * the URLs that have not accepted it yet.
 */
#ifndef OPC_ESCALATOR_H
#define OPC_ESCALATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "opc/svc.h"

struct http;

#define ESC_MAX_URLS 32
#define ESC_BACKOFF_CAP_MS (5 * 60 * 1000)

extern const struct svc_def escalator_def;

/* The escalator's state (svc_def.state_size). */
struct escalator {
	struct svc  *svc;
	struct http *http;
	char        *urls[ESC_MAX_URLS];  /* owned; may embed secrets */
	char        *shown[ESC_MAX_URLS]; /* scheme://host/path, for logs */
	size_t       nurls;
	bool         slack; /* format: slack */
	int64_t      cooldown_ms;
	int64_t      retry_max;        /* retries after the first attempt */
	int64_t      retry_backoff_ms; /* first delay; doubles, capped */
	int64_t      blocked_threshold;
	int64_t      timeout_ms;
	/* The one attempt in flight (one row at a time keeps ordering and
	 * the cooldown simple; escalations are rare). */
	int64_t  cur_id;   /* esc row id, 0 when idle */
	char    *cur_kind; /* owned copies of the row */
	char    *cur_key;
	char    *cur_msg;
	int64_t  cur_attempts; /* including this one */
	size_t   cur_pending;  /* requests still due */
	uint64_t cur_mask;     /* URLs that answered 2xx */
	char     cur_err[256]; /* first failure of this attempt */
	bool     closing;      /* fini: ignore ERR_CLOSED */
	char     last_error[256];
	char     ev_key[320]; /* source event of the handler */
	int64_t  last_prune_ms;
};

/*
 * send.c
 */

/* esc_url_shown returns a new string with url reduced to scheme://host/...
 * (no userinfo, port kept, no path, query or fragment: a webhook URL's
 * path is often its secret), for logs and status. */
char *esc_url_shown(const char *url);

/* esc_redact_url registers the secret parts of url (the whole URL, its
 * userinfo, its path and its query string) with log_redact. */
void esc_redact_url(const char *url);

/* esc_backoff_ms returns the delay before retry n (1-based): base doubled
 * n - 1 times, capped at ESC_BACKOFF_CAP_MS. */
int64_t esc_backoff_ms(int64_t base, int64_t n);

/* esc_body returns the POST body (new string) for one escalation. */
char *esc_body(bool slack, const char *kind, const char *key,
    const char *message, const char *at, const char *source_event,
    const char *idem);

/* esc_idle is the effect loop (svc_def.idle). */
void esc_idle(struct svc *, void *state);

#endif
