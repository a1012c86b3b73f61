/*
 * webhook.h - private interfaces of opc-webhook.
 *
 * Threads: nng's HTTP server runs handlers on nng threads.  They only do
 * pure work (read the body, check size, type and signature, parse JSON:
 * hook.c) and queue a verdict; the service loop thread takes the queue
 * (eventfd), counts, deduplicates against sqlite, journals with
 * svc_emit and answers.  The metrics thread (metrics.c) gathers ctl.status
 * of every instance with blocking ctl_call and caches the text that GET
 * /metrics serves.  No service state is touched off the loop thread.
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

/* --- hook.c: pure request classification ------------------------------ */

enum hook_src { HOOK_GITHUB, HOOK_PLANE };

/* A received POST, all borrowed. */
struct hook_req {
	enum hook_src src;
	const char   *content_type;
	const char   *signature; /* X-Hub-Signature-256 / X-Plane-Signature */
	const char   *event;     /* X-GitHub-Event / X-Plane-Event */
	const char   *delivery;  /* X-GitHub-Delivery / X-Plane-Delivery */
	const void   *body;
	size_t        len;
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
	size_t         size;     /* body bytes (announced, for 413) */
	json_t        *doc;      /* the parsed body; fields below borrow it */
	union {
		struct msg_ci_check_run  check_run;
		struct msg_ci_pr_event   pr_event;
		struct msg_board_webhook board;
	} body;
};

/* hook_oversized fills v with the 413 answer for a body of size bytes
 * (event and delivery, copied, may be NULL; they are only logged). */
void hook_oversized(struct hook_verdict *v, const char *event,
                    const char *delivery, size_t size);

/* hook_length parses a Content-Length value: decimal digits between
 * optional spaces or tabs (no sign, no suffix), at most UINT64_MAX.  Returns 0
 * with *len set, or ERR_PROTO (the request gets 400). */
int hook_length(const char *value, uint64_t *len);

/* hook_classify decides on r: size (max_body), Content-Type, signature
 * under secret (NULL/empty: 503 unless insecure), JSON, event type. */
void hook_classify(struct hook_verdict *v, const struct hook_req *r,
                   const char *secret, bool insecure, size_t max_body);
void hook_verdict_fini(struct hook_verdict *v);

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
int metrics_open(struct metrics **mp, const struct topo *topo, const char *self,
                 int64_t interval_ms, int timeout_ms);
void metrics_close(struct metrics **mp);
/* metrics_text returns a copy of the last gathered text (NULL if none
 * yet); the caller frees it.  Any thread. */
char *metrics_text(struct metrics *);

/* --- httpd.c: the nng HTTP server and the hand-over queue ------------- */

struct httpd;
struct hreq;
struct loop;

struct httpd_cfg {
	const char     *listen;        /* http://host:port */
	const char     *github_secret; /* may be NULL */
	const char     *plane_secret;  /* may be NULL */
	bool            insecure;
	size_t          max_body;
	struct metrics *metrics; /* borrowed */
	/* decide runs on the loop thread for every queued request; it
	 * must end with httpd_reply(). */
	void (*decide)(struct hreq *, struct hook_verdict *, void *arg);
	void *arg;
};

/* httpd_open binds and starts the server and registers its queue fd with
 * loop.  cfg's strings are borrowed (must outlive it).  Returns 0,
 * ERR_CONFIG (bad url) or ERR_IO. */
int httpd_open(struct httpd **hp, struct loop *loop,
               const struct httpd_cfg *cfg);
/* httpd_close answers queued requests 503, stops the server. */
void httpd_close(struct httpd **hp, struct loop *loop);
/* httpd_url returns the bound url (actual port), e.g.
 * "http://127.0.0.1:40123". */
const char *httpd_url(const struct httpd *);
/* httpd_tick marks the loop thread alive (for /healthz). */
void httpd_tick(struct httpd *);
/* httpd_reply answers hr (status, text/plain text) and frees it.  Loop
 * thread only. */
void httpd_reply(struct hreq *hr, int status, const char *text);

#endif
