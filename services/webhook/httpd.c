/*
 * httpd.c - the webhook's routes on the common HTTP server (httpsrv.c).
 *
 * POSTs to /github, /plane and /ingest (error reports, ingest_max_body)
 * have their bodies read (httpsrv enforces Content-Length and the size),
 * are classified (hook.c) and handed to cfg.decide synchronously, which
 * answers through httpd_reply(), as is every request the server cut off
 * for its framing (408, 411, 413, 400, 431).  GET /healthz and /metrics
 * are answered here; anything else is 405 or 404.  Nothing is logged from
 * a request but what decide logs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opc/httpsrv.h"
#include "opc/util.h"
#include "webhook.h"

struct httpd {
	struct httpd_cfg cfg;
	struct httpsrv  *srv;
	int64_t          last_tick; /* mono ms of the loop's last tick */
};

struct hreq {
	struct httpsrv_conn *c;
	struct hook_verdict  v;
};

/* route returns the hook source of a POST path, or -1. */
static int
route(const char *path)
{
	if (strcmp(path, "/github") == 0)
		return (HOOK_GITHUB);
	if (strcmp(path, "/plane") == 0)
		return (HOOK_PLANE);
	if (strcmp(path, "/ingest") == 0)
		return (HOOK_INGEST);
	return (-1);
}

static const char *
event_hdr(enum hook_src src)
{
	return (src == HOOK_GITHUB  ? "X-GitHub-Event"
	        : src == HOOK_PLANE ? "X-Plane-Event"
	                            : "X-Opc-Event");
}

static const char *
delivery_hdr(enum hook_src src)
{
	return (src == HOOK_GITHUB  ? "X-GitHub-Delivery"
	        : src == HOOK_PLANE ? "X-Plane-Delivery"
	                            : "X-Request-Id");
}

static size_t
max_body(const struct httpd *hd, enum hook_src src)
{
	return (
	    src == HOOK_INGEST ? hd->cfg.ingest_max_body : hd->cfg.max_body);
}

static size_t
body_max(const struct httpsrv_req *r, void *arg)
{
	int src = route(r->path);

	if (src < 0 || strcmp(r->method, "POST") != 0)
		return (0);
	/* at least 1: 0 would answer without reading (a max_body of 0
	 * still refuses any body as 413) */
	return (max_body(arg, (enum hook_src) src) > 0
	        ? max_body(arg, (enum hook_src) src)
	        : 1);
}

void
httpd_reply(struct hreq *hr, int status, const char *text)
{
	struct httpsrv_conn *c = hr->c;

	hook_verdict_fini(&hr->v);
	free(hr);
	httpsrv_reply(c, status, text);
}

/* hand gives a verdict to decide, which answers through httpd_reply. */
static void
hand(struct httpd *hd, struct httpsrv_conn *c, struct hreq *hr)
{
	hr->c = c;
	hd->cfg.decide(hr, &hr->v, hd->cfg.arg);
}

static void
refused(struct httpsrv_conn *c, int status, const char *text,
    const struct httpsrv_req *r, size_t size, void *arg)
{
	struct httpd *hd  = arg;
	struct hreq  *hr  = xcalloc(1, sizeof(*hr));
	int           src = r != NULL ? route(r->path) : -1;
	const char   *ev = NULL, *id = NULL;

	if (src >= 0) {
		ev = httpsrv_hdr(r, event_hdr((enum hook_src) src));
		id = httpsrv_hdr(r, delivery_hdr((enum hook_src) src));
	}
	hook_reject(&hr->v, status, text,
	    status == 408       ? "timeouts"
	        : status == 411 ? "length_required"
	        : status == 413 ? "oversized"
	                        : "malformed",
	    ev, id, size);
	hand(hd, c, hr);
}

static void
get(struct httpd *hd, struct httpsrv_conn *c, const char *path)
{
	char *text;

	if (strcmp(path, "/healthz") == 0) {
		if (mono_ms() - hd->last_tick < 5000)
			httpsrv_reply(c, 200, "ok");
		else
			httpsrv_reply(c, 503, "service loop not running");
		return;
	}
	if ((text = metrics_text(hd->cfg.metrics)) == NULL) {
		httpsrv_reply(c, 503, "metrics not gathered yet");
		return;
	}
	httpsrv_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8",
	    text, strlen(text), NULL, false);
	free(text);
}

static void
handle(struct httpsrv_conn *c, const struct httpsrv_req *r, void *arg)
{
	struct httpd   *hd = arg;
	struct hreq    *hr;
	struct hook_req q;
	int             src = route(r->path);

	if (src >= 0 && r->body != NULL) {
		memset(&q, 0, sizeof(q));
		q.src          = (enum hook_src) src;
		q.content_type = httpsrv_hdr(r, "Content-Type");
		q.signature    = httpsrv_hdr(r,
                    src == HOOK_PLANE ? "X-Plane-Signature"
		                         : "X-Hub-Signature-256");
		q.event        = httpsrv_hdr(r, event_hdr(q.src));
		q.delivery     = httpsrv_hdr(r, delivery_hdr(q.src));
		q.body         = r->body;
		q.len          = r->len;
		hr             = xcalloc(1, sizeof(*hr));
		hook_classify(&hr->v, &q,
		    src == HOOK_GITHUB      ? hd->cfg.github_secret
		        : src == HOOK_PLANE ? hd->cfg.plane_secret
		                            : hd->cfg.ingest_secret,
		    hd->cfg.insecure, max_body(hd, q.src));
		hand(hd, c, hr);
	} else if (src >= 0)
		httpsrv_respond(c, 405, "text/plain; charset=utf-8",
		    "Method not allowed\n", 19, "Allow: POST\r\n", false);
	else if (strcmp(r->path, "/healthz") == 0 ||
	    strcmp(r->path, "/metrics") == 0) {
		if (strcmp(r->method, "GET") == 0)
			get(hd, c, r->path);
		else
			httpsrv_respond(c, 405, "text/plain; charset=utf-8",
			    "Method not allowed\n", 19, "Allow: GET\r\n",
			    false);
	} else
		httpsrv_reply(c, 404, "Not found");
}

static void
count(const char *counter, int n, void *arg)
{
	struct httpd *hd = arg;

	hd->cfg.count(counter, n, hd->cfg.arg);
}

int
httpd_open(struct httpd **hp, struct loop *loop, const struct httpd_cfg *cfg)
{
	struct httpd      *hd = xcalloc(1, sizeof(*hd));
	struct httpsrv_cfg sc;
	int                rv;

	*hp           = NULL;
	hd->cfg       = *cfg;
	hd->last_tick = mono_ms();
	memset(&sc, 0, sizeof(sc));
	sc.listen            = cfg->listen;
	sc.tag               = "webhook";
	sc.header_timeout_ms = cfg->header_timeout_ms;
	sc.body_timeout_ms   = cfg->body_timeout_ms;
	sc.idle_timeout_ms   = cfg->idle_timeout_ms;
	sc.max_connections   = cfg->max_connections;
	sc.body_max          = body_max;
	sc.handle            = handle;
	sc.refused           = refused;
	sc.count             = cfg->count != NULL ? count : NULL;
	sc.arg               = hd;
	if ((rv = httpsrv_open(&hd->srv, loop, &sc)) != 0) {
		free(hd);
		return (rv);
	}
	*hp = hd;
	return (0);
}

void
httpd_close(struct httpd **hp, struct loop *loop)
{
	struct httpd *hd = *hp;

	if (hd == NULL)
		return;
	httpsrv_close(&hd->srv, loop);
	free(hd);
	*hp = NULL;
}

const char *
httpd_url(const struct httpd *hd)
{
	return (httpsrv_url(hd->srv));
}

void
httpd_tick(struct httpd *hd)
{
	hd->last_tick = mono_ms();
}
