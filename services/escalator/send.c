/*
 * send.c - the escalator's effect loop: cooldown, webhook POSTs, retries.
 *
 * Runs only when caught up, one escalation at a time (a row is "current"
 * while its requests are due), never blocking: every POST goes through the
 * async client on the service loop and its outcome is recorded from the
 * done callback.  Every transition is one transaction with the event it
 * emits.  URLs may carry secrets: they are registered with log_redact and
 * only ever logged as scheme://host/path.  See escalator.h for the state
 * machine and the delivery guarantee.
 */
#include <stdio.h>
#include <string.h>

#include "escalator.h"
#include "opc/err.h"
#include "opc/http.h"
#include "opc/log.h"
#include "opc/store.h"

#define BATCH 16 /* rows looked at per idle */
#define PRUNE_EVERY_MS (3600 * 1000)
#define KEEP_MS ((int64_t) 30 * 86400 * 1000) /* dedup/history horizon */

/* One request in flight: which URL of the current row. */
struct sendreq {
	struct escalator *e;
	size_t            idx;
};

/* One row as read from the db (owned strings). */
struct row {
	int64_t  id;
	char    *kind, *key, *message, *source_event, *state, *idem;
	int64_t  at_ms, attempts;
	uint64_t done_mask;
};

char *
esc_url_shown(const char *url)
{
	const char *p = strstr(url, "://"), *auth, *end, *at, *path;
	struct buf  b;

	if (p == NULL)
		return (xstrdup("(invalid url)"));
	auth = p + 3;
	end  = auth + strcspn(auth, "/?#");
	/* userinfo ends at the last '@' of the authority */
	for (at = end; at > auth && at[-1] != '@'; at--)
		;
	if (at == auth)
		at = auth;
	path = end;
	buf_init(&b);
	buf_append(&b, url, (size_t) (auth - url));
	buf_append(&b, at, (size_t) (end - at));
	/* Slack-style hooks carry their secret in the path
	 * (.../services/T0/B0/SECRET): it is never shown */
	if (*path == '/' && strcspn(path + 1, "?#") > 0)
		buf_puts(&b, "/...");
	return (buf_cstr(&b));
}

void
esc_redact_url(const char *url)
{
	const char *p = strstr(url, "://"), *auth, *end, *at, *q;
	char       *part, *shown = esc_url_shown(url);

	/* The whole URL only when it holds more than what logs may show
	 * (else every mention of its host would be redacted). */
	if (strcmp(shown, url) != 0)
		log_redact(url);
	free(shown);
	if (p == NULL)
		return;
	auth = p + 3;
	end  = auth + strcspn(auth, "/?#");
	/* the path: alone it may be the secret */
	if (*end == '/' && strcspn(end + 1, "?#") > 0) {
		part = xstrndup(end, strcspn(end, "?#"));
		log_redact(part);
		free(part);
	}
	for (at = end; at > auth && at[-1] != '@'; at--)
		;
	if (at > auth + 1) {
		part = xstrndup(auth, (size_t) (at - 1 - auth));
		log_redact(part);
		free(part);
	}
	if ((q = strchr(end, '?')) != NULL && q[1] != '\0' && q[1] != '#') {
		part = xstrndup(q + 1, strcspn(q + 1, "#"));
		log_redact(part);
		free(part);
	}
}

int64_t
esc_backoff_ms(int64_t base, int64_t n)
{
	int64_t d = base;

	while (--n > 0 && d < ESC_BACKOFF_CAP_MS)
		d *= 2;
	return (d < ESC_BACKOFF_CAP_MS ? d : ESC_BACKOFF_CAP_MS);
}

char *
esc_body(bool slack, const char *kind, const char *key, const char *message,
    const char *at, const char *source_event, const char *idem)
{
	json_t *j;
	char   *text, *out;

	if (slack) {
		text = xasprintf("[opcenter] %s (%s): %s", kind, key, message);
		j    = json_pack("{s:s}", "text", text);
		free(text);
	} else
		j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kind", kind,
		    "key", key, "message", message, "at", at, "source_event",
		    source_event, "idempotency_key", idem);
	if (j == NULL) /* invalid UTF-8 in an event: keep a body anyway */
		j = json_pack("{s:s, s:s}", "kind", kind, "message",
		    "(unprintable escalation)");
	out = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return (out);
}

static char *
col_dup(struct store_stmt *s, int i)
{
	const char *t = store_col_text(s, i);

	return (xstrdup(t != NULL ? t : ""));
}

static void
row_fini(struct row *r)
{
	free(r->kind);
	free(r->key);
	free(r->message);
	free(r->source_event);
	free(r->state);
	free(r->idem);
	memset(r, 0, sizeof(*r));
}

/* next_row loads the first due row.  A pending row waits while another
 * row of its (kind, key) is being sent: its fate (suppressed or sent)
 * depends on that one's outcome.  Returns 1 (row), 0 (none) or an error. */
static int
next_row(struct store *st, struct row *r)
{
	struct store_stmt *s;
	int                rv;

	memset(r, 0, sizeof(*r));
	if ((rv = store_prep(st, &s,
	         "SELECT id, kind, key, message, source_event, state,"
	         " idem_key, at_ms, attempts, done_mask FROM esc e"
	         " WHERE state IN ('pending', 'sending') AND next_ms <= ?1"
	         " AND (state = 'sending' OR NOT EXISTS (SELECT 1 FROM esc o"
	         "  WHERE o.kind = e.kind AND o.key = e.key"
	         "  AND o.state = 'sending' AND o.id <> e.id))"
	         " ORDER BY id LIMIT 1")) != 0)
		return (rv);
	if ((rv = store_bind_int(s, 1, now_ms())) != 0)
		return (rv);
	if ((rv = store_step(s)) == 1) {
		r->id           = store_col_int(s, 0);
		r->kind         = col_dup(s, 1);
		r->key          = col_dup(s, 2);
		r->message      = col_dup(s, 3);
		r->source_event = col_dup(s, 4);
		r->state        = col_dup(s, 5);
		r->idem      = store_col_is_null(s, 6) ? NULL : col_dup(s, 6);
		r->at_ms     = store_col_int(s, 7);
		r->attempts  = store_col_int(s, 8);
		r->done_mask = (uint64_t) store_col_int(s, 9);
	}
	store_done(s);
	return (rv);
}

/* set_error records "<url shown>: why" as the last error and, when it is
 * the first of this attempt, as the attempt's error. */
static void
set_error(struct escalator *e, const char *shown, const char *why)
{
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "%s: %s", shown, why);
	snprintf(e->last_error, sizeof(e->last_error), "%.*s",
	    (int) (sizeof(e->last_error) - 1), buf_cstr(&b));
	buf_fini(&b);
	if (e->cur_err[0] == '\0')
		memcpy(e->cur_err, e->last_error, sizeof(e->cur_err));
}

/* suppress: a (kind, key) already sent within the cooldown. */
static int
suppress(struct svc *svc, const struct row *r)
{
	struct msg_escalation_suppressed ev;
	int                              rv;

	memset(&ev, 0, sizeof(ev));
	ev.kind   = r->kind;
	ev.key    = r->key;
	ev.reason = "cooldown_active";
	if ((rv = svc_begin(svc)) != 0)
		return (rv);
	if ((rv = store_run(svc_store(svc),
	         "UPDATE esc SET state = 'suppressed' WHERE id = ?", "i",
	         r->id)) != 0 ||
	    (rv = svc_emit(svc, MSG_ESCALATION_SUPPRESSED, NULL, &ev)) != 0 ||
	    (rv = svc_commit(svc)) != 0) {
		(void) svc_rollback(svc);
		return (rv);
	}
	svc_count(svc, "suppressed", 1);
	log_info(
	    "escalator.suppressed", "%s %s: cooldown active", r->kind, r->key);
	return (0);
}

static uint64_t
all_mask(size_t n)
{
	return (n >= 64 ? UINT64_MAX : ((uint64_t) 1 << n) - 1);
}

static void
cur_clear(struct escalator *e)
{
	free(e->cur_kind);
	free(e->cur_key);
	free(e->cur_msg);
	e->cur_kind = e->cur_key = e->cur_msg = NULL;
	e->cur_id                             = 0;
	e->cur_pending                        = 0;
	e->cur_mask                           = 0;
	e->cur_err[0]                         = '\0';
}

/* finish records the outcome of the current attempt. */
static void
finish(struct escalator *e)
{
	struct svc                *svc = e->svc;
	struct store              *st  = svc_store(svc);
	struct msg_escalation_sent ev;
	int64_t                    now = now_ms(), delay;
	int                        rv;

	if (svc_begin(svc) != 0)
		goto out; /* row stays "sending": retried with its key */
	if ((e->cur_mask & all_mask(e->nurls)) == all_mask(e->nurls) &&
	    e->nurls > 0) {
		memset(&ev, 0, sizeof(ev));
		ev.kind     = e->cur_kind;
		ev.key      = e->cur_key;
		ev.message  = e->cur_msg;
		ev.attempts = e->cur_attempts;
		if ((rv = store_run(st,
		         "UPDATE esc SET state = 'sent', sent_ms = ?,"
		         " done_mask = ? WHERE id = ?",
		         "iii", now, (int64_t) e->cur_mask, e->cur_id)) != 0 ||
		    (rv = svc_emit(svc, MSG_ESCALATION_SENT, NULL, &ev)) !=
		        0 ||
		    (rv = svc_commit(svc)) != 0) {
			(void) svc_rollback(svc);
			goto out;
		}
		svc_count(svc, "sent", 1);
		log_info("escalator.sent", "%s %s sent after %lld attempt(s)",
		    e->cur_kind, e->cur_key, (long long) e->cur_attempts);
		goto out;
	}
	if (e->cur_attempts > e->retry_max || e->nurls == 0) {
		rv = store_run(st,
		    "UPDATE esc SET state = 'failed', done_mask = ?,"
		    " last_error = ? WHERE id = ?",
		    "iti", (int64_t) e->cur_mask, e->cur_err, e->cur_id);
		if (rv == 0)
			rv = svc_commit(svc);
		if (rv != 0) {
			(void) svc_rollback(svc);
			goto out;
		}
		svc_count(svc, "failed", 1);
		log_error("escalator.failed",
		    "%s %s: giving up after %lld "
		    "attempt(s): %s",
		    e->cur_kind, e->cur_key, (long long) e->cur_attempts,
		    e->cur_err);
		goto out;
	}
	delay = esc_backoff_ms(e->retry_backoff_ms, e->cur_attempts);
	rv    = store_run(st,
	       "UPDATE esc SET next_ms = ?, done_mask = ?, last_error = ?"
	          " WHERE id = ?",
	       "iiti", now + delay, (int64_t) e->cur_mask, e->cur_err, e->cur_id);
	if (rv == 0)
		rv = svc_commit(svc);
	if (rv != 0)
		(void) svc_rollback(svc);
	svc_count(svc, "retries", 1);
	log_warn("escalator.retry",
	    "%s %s: attempt %lld failed (%s), retry "
	    "in %lld ms",
	    e->cur_kind, e->cur_key, (long long) e->cur_attempts, e->cur_err,
	    (long long) delay);
out:
	cur_clear(e);
}

static void
on_done(struct http *h, const struct http_resp *resp, void *arg)
{
	struct sendreq   *sr  = arg;
	struct escalator *e   = sr->e;
	size_t            idx = sr->idx;

	UNUSED(h);
	free(sr);
	if (e->closing)
		return;
	if (resp->err == 0 && resp->status >= 200 && resp->status < 300)
		e->cur_mask |= (uint64_t) 1 << idx;
	else {
		if (resp->err != 0)
			set_error(e, e->shown[idx], resp->errmsg);
		else {
			char st[32];

			snprintf(st, sizeof(st), "HTTP %d", resp->status);
			set_error(e, e->shown[idx], st);
		}
		svc_count(e->svc, "post_errors", 1);
	}
	if (--e->cur_pending == 0)
		finish(e);
}

/* start begins an attempt for r: recorded as "sending" with its
 * idempotency key first, then POSTed to every URL still due. */
static int
start(struct escalator *e, struct row *r)
{
	struct svc     *svc = e->svc;
	struct http_req req;
	struct sendreq *sr;
	const char     *hdrs[3];
	char           *idem, *body, *hidem, at[40];
	size_t          i;
	int             rv;

	idem = r->idem != NULL
	    ? xstrdup(r->idem)
	    : xasprintf("%s:%s:%lld", r->kind, r->key, (long long) now_ms());
	/* Header values must not carry CR/LF or other controls. */
	for (i = 0; idem[i] != '\0'; i++)
		if ((unsigned char) idem[i] < 0x20 || idem[i] == 0x7f)
			idem[i] = '_';
	if ((rv = svc_begin(svc)) != 0)
		goto out;
	if ((rv = store_run(svc_store(svc),
	         "UPDATE esc SET state = 'sending', idem_key = ?,"
	         " attempts = attempts + 1 WHERE id = ?",
	         "ti", idem, r->id)) != 0 ||
	    (rv = svc_commit(svc)) != 0) {
		(void) svc_rollback(svc);
		goto out;
	}
	e->cur_id       = r->id;
	e->cur_kind     = xstrdup(r->kind);
	e->cur_key      = xstrdup(r->key);
	e->cur_msg      = xstrdup(r->message);
	e->cur_attempts = r->attempts + 1;
	e->cur_mask     = r->done_mask;
	e->cur_err[0]   = '\0';
	if (e->nurls == 0)
		snprintf(e->cur_err, sizeof(e->cur_err),
		    "no webhook URL configured");
	body    = esc_body(e->slack, r->kind, r->key, r->message,
	       iso8601(r->at_ms, at, sizeof(at)), r->source_event, idem);
	hidem   = xasprintf("Idempotency-Key: %s", idem);
	hdrs[0] = "Content-Type: application/json";
	hdrs[1] = hidem;
	hdrs[2] = NULL;
	/* Count first: a callback never runs inside http_send. */
	for (i = 0; i < e->nurls; i++)
		if ((e->cur_mask & ((uint64_t) 1 << i)) == 0)
			e->cur_pending++;
	for (i = 0; i < e->nurls; i++) {
		if ((e->cur_mask & ((uint64_t) 1 << i)) != 0)
			continue;
		memset(&req, 0, sizeof(req));
		req.method       = "POST";
		req.url          = e->urls[i];
		req.headers      = hdrs;
		req.body         = body;
		req.body_len     = strlen(body);
		req.timeout_ms   = e->timeout_ms;
		req.max_response = 64 * 1024;
		sr               = xcalloc(1, sizeof(*sr));
		sr->e            = e;
		sr->idx          = i;
		if (http_send(e->http, &req, on_done, sr) == 0) {
			free(sr);
			set_error(e, e->shown[i], "request refused");
			e->cur_pending--;
		}
	}
	log_info("escalator.send", "%s %s: attempt %lld to %zu URL(s)",
	    r->kind, r->key, (long long) e->cur_attempts, e->cur_pending);
	free(body);
	free(hidem);
	if (e->cur_pending == 0)
		finish(e); /* nothing went out (no URL, refused): record */
out:
	free(idem);
	return (rv);
}

static void
prune(struct escalator *e)
{
	struct store *st  = svc_store(e->svc);
	int64_t       now = now_ms();
	int64_t keep = e->cooldown_ms > KEEP_MS ? e->cooldown_ms : KEEP_MS;

	if (now - e->last_prune_ms < PRUNE_EVERY_MS)
		return;
	e->last_prune_ms = now;
	if (svc_begin(e->svc) != 0)
		return;
	if (store_run(st, "DELETE FROM events WHERE seen_ms < ?", "i",
	        now - keep) != 0 ||
	    store_run(st,
	        "DELETE FROM esc WHERE state IN ('sent',"
	        " 'suppressed', 'failed') AND created_ms < ?"
	        " AND coalesce(sent_ms, 0) < ?",
	        "ii", now - keep, now - keep) != 0 ||
	    svc_commit(e->svc) != 0)
		(void) svc_rollback(e->svc);
}

void
esc_idle(struct svc *svc, void *state)
{
	struct escalator *e = state;
	struct row        r;
	int64_t           last = 0;
	int               i;

	if (!svc_caught_up(svc) || e->cur_id != 0 ||
	    (e->nurls > 0 && e->http == NULL))
		return;
	prune(e);
	for (i = 0; i < BATCH && e->cur_id == 0; i++) {
		if (next_row(svc_store(svc), &r) != 1)
			break;
		if (strcmp(r.state, "pending") == 0 &&
		    store_int(svc_store(svc), &last, 0,
		        "SELECT coalesce(max(sent_ms), 0) FROM esc WHERE"
		        " kind = ? AND key = ? AND state = 'sent'",
		        "tt", r.kind, r.key) == 0 &&
		    last > 0 && now_ms() - last < e->cooldown_ms) {
			if (suppress(svc, &r) != 0) {
				row_fini(&r);
				break;
			}
		} else if (start(e, &r) != 0) {
			row_fini(&r);
			break;
		}
		row_fini(&r);
	}
}
