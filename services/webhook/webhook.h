/*
 * webhook.h - private interfaces of opc-webhook.
 *
 * Threads: the HTTP server (common httpsrv.c, routed by httpd.c) runs on
 * the service loop: it reads requests with deadlines, classifies them (pure:
 * size, type, signature, JSON: hook.c) and hands each verdict to the
 * loop-thread half in webhook.c, which counts, deduplicates against sqlite,
 * journals with svc_emit and answers.  The metrics thread (metrics.c) gathers
 * ctl.status of every instance with blocking ctl_call and caches the text that
 * GET /metrics serves.  No service state is touched off the loop thread.
 */
#ifndef WEBHOOK_H
#define WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "opc/msg.h"
#include "opc/svc.h"
#include "opc/util.h"

extern const struct svc_def webhook_def;

/* The webhook's own counters (status.counters, opc_webhook_*_total). */
extern const char *const webhook_counters[];
extern const size_t      webhook_ncounters;

/* --- hook.c: pure request classification ------------------------------ */

enum hook_src { HOOK_GITHUB, HOOK_PLANE, HOOK_INGEST };

/* A received POST, all borrowed. */
struct hook_req {
	enum hook_src src;
	const char   *content_type;
	const char   *signature; /* X-Hub-Signature-256 (GitHub, ingest) or
	                            X-Plane-Signature */
	const char *event;       /* X-GitHub-Event / X-Plane-Event */
	const char *delivery;    /* X-GitHub-Delivery / X-Plane-Delivery */
	const void *body;
	size_t      len;
};

/* The verdict on a request.  topic != MSG_NONE: an event to journal
 * (after the delivery-id check); otherwise status/text is the answer.
 * counter names the status counter to bump (may be NULL).  Owns its
 * strings and doc; release with hook_verdict_fini(). */
struct hook_verdict {
	int            status;
	const char    *text;    /* static */
	const char    *counter; /* static */
	enum msg_topic topic;
	char          *event;    /* event type, for logs */
	char          *delivery; /* NULL when not given */
	char          *name; /* a check suite's name, an ingest dedup key */
	size_t         size; /* body bytes (announced, for 413) */
	json_t        *doc;  /* the parsed body; fields below borrow it */
	union {
		struct msg_ci_check_run  check_run;
		struct msg_ci_pr_event   pr_event;
		struct msg_ci_pr_review  pr_review;
		struct msg_board_webhook board;
		struct msg_ingest_error  ingest;
	} body;
};

/* hook_reject fills v with an answer that journals nothing: status, text
 * and counter (static strings; counter may be NULL), for a request of
 * size bytes (event and delivery, copied, may be NULL; they are only
 * logged). */
void hook_reject(struct hook_verdict *v, int status, const char *text,
    const char *counter, const char *event, const char *delivery, size_t size);
/* hook_oversized is hook_reject with the 413 answer. */
void hook_oversized(struct hook_verdict *v, const char *event,
    const char *delivery, size_t size);

/* hook_form_payload appends the decoded value of the form field
 * "payload" of an application/x-www-form-urlencoded body to out ('+' is
 * a space, %XX a byte).  Returns 0, ERR_NOTFOUND (no such field) or
 * ERR_PROTO (a bad escape, the field twice or without '='). */
int hook_form_payload(struct buf *out, const char *body, size_t len);

/* hook_classify decides on r: size (max_body), Content-Type, signature
 * under secret (NULL/empty: 503 unless insecure), JSON, event type. */
void hook_classify(struct hook_verdict *v, const struct hook_req *r,
    const char *secret, bool insecure, size_t max_body);
void hook_verdict_fini(struct hook_verdict *v);

/* --- ingest.c: error reports (POST /ingest) ------------------------- */

/* ingest_parse validates the report in v->doc (hook_classify calls it
 * once the signature and JSON are checked): topic MSG_INGEST_ERROR with
 * the body borrowing the doc, or a 400 answer (counter ingest_invalid). */
void ingest_parse(struct hook_verdict *v);
/* ingest_init creates the fingerprint table.  Returns 0 or ERR_IO. */
int ingest_init(struct svc *svc);
/* ingest_journal deduplicates v's report by its dedup key within
 * window_ms and, for a new one, journals ingest.error with its row in
 * one transaction.  Returns 0, ERR_EXISTS (a duplicate: counted in the
 * row, nothing journaled) or another error (rolled back). */
int ingest_journal(struct svc *svc, struct hook_verdict *v, int64_t window_ms);
/* ingest_prune forgets keys not reported for a day past the window. */
void ingest_prune(struct svc *svc, int64_t window_ms);

/* --- metrics.c: Prometheus text from every instance's ctl.status ------ */

struct topo;
struct metrics;

/* metrics_render appends the exposition text for sup (the supervisor's
 * status, may be NULL) and st (object instance -> status or null for an
 * instance that did not answer), in the order of names (n entries).
 * self names the webhook instance whose own counters are added. */
void metrics_render(struct buf *out, const json_t *sup, const json_t *st,
    const char *const *names, size_t n, const char *self);

/* metrics_open starts the gathering thread (every interval_ms, each ctl
 * call bounded by timeout_ms).  topo is borrowed and must outlive it. */
int  metrics_open(struct metrics **mp, const struct topo *topo,
     const char *self, int64_t interval_ms, int timeout_ms);
void metrics_close(struct metrics **mp);
/* metrics_text returns a copy of the last gathered text (NULL if none
 * yet); the caller frees it.  Any thread. */
char *metrics_text(struct metrics *);

/* --- httpd.c: the webhook routes on the common HTTP server ------------ */

struct httpd;
struct hreq;
struct loop;

struct httpd_cfg {
	const char     *listen;        /* http://host:port */
	const char     *github_secret; /* may be NULL */
	const char     *plane_secret;  /* may be NULL */
	const char     *ingest_secret; /* may be NULL */
	bool            insecure;
	size_t          max_body;
	size_t          ingest_max_body;   /* POST /ingest */
	int64_t         header_timeout_ms; /* request line and headers */
	int64_t         body_timeout_ms;   /* the body, once the head is in */
	int64_t         idle_timeout_ms;   /* keep-alive between requests */
	int             max_connections;
	struct metrics *metrics; /* borrowed */
	/* decide runs on the loop thread for every POST to /github,
	 * /plane or /ingest, and for every request cut off for its framing
	 * (408, 411, 400, 431: topic MSG_NONE); it must call httpd_reply()
	 * before it returns. */
	void (*decide)(struct hreq *, struct hook_verdict *, void *arg);
	/* count adds n to a counter of webhook_counters (loop thread) */
	void (*count)(const char *counter, int n, void *arg);
	void *arg;
};

/* httpd_open binds and starts the server on loop.  cfg's strings are
 * borrowed (must outlive it).  Returns 0, ERR_CONFIG (bad url) or
 * ERR_IO. */
int httpd_open(
    struct httpd **hp, struct loop *loop, const struct httpd_cfg *cfg);
/* httpd_close closes every connection and the listener. */
void httpd_close(struct httpd **hp, struct loop *loop);
/* httpd_url returns the bound url (actual port), e.g.
 * "http://127.0.0.1:40123". */
const char *httpd_url(const struct httpd *);
/* httpd_tick marks the loop thread alive (for /healthz). */
void httpd_tick(struct httpd *);
/* httpd_reply answers hr (status, text/plain text) and frees it. */
void httpd_reply(struct hreq *hr, int status, const char *text);

#endif
