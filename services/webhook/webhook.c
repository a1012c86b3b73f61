/*
 * webhook.c - opc-webhook: inbound GitHub and Plane webhooks onto the bus.
 *
 * The service descriptor, its configuration and the loop-thread half of
 * every request: count the verdict, drop a redelivered X-*-Delivery id
 * (the delivery table, written in the same transaction as the journaled
 * event, so an event is journaled at most once per delivery id), emit
 * ci.check_run / ci.pr_event / board.webhook and answer.  Logs carry the
 * event type, delivery id and size, never signatures, secrets or bodies.
 *
 * Config (instances.<name>): listen (http://127.0.0.1:8765; port 0 picks a
 * free one, shown as status.listen_url), github_secret_env,
 * plane_secret_env, insecure (accept unsigned deliveries when no secret is
 * set), max_body (bytes), metrics_interval, delivery_retention,
 * header_timeout (10s: request line and headers), body_timeout (30s),
 * idle_timeout (60s: keep-alive), max_connections (64), ingest_secret_env,
 * ingest_max_body (64 KiB) and ingest_dedup_window (1h): POST /ingest,
 * error reports (ingest.c).
 */
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/loop.h"
#include "opc/store.h"
#include "opc/svc.h"
#include "opc/topo.h"
#include "webhook.h"

struct webhook {
	struct svc     *svc;
	struct httpd   *httpd;
	struct metrics *metrics;
	const char     *listen;
	const char     *github_secret;
	const char     *plane_secret;
	const char     *ingest_secret;
	int             insecure;
	int64_t         ingest_max_body;
	int64_t         ingest_window_ms;
	int64_t         max_body;
	int64_t         metrics_ms;
	int64_t         retention_ms;
	int64_t         header_ms;
	int64_t         body_ms;
	int64_t         idle_ms;
	int64_t         max_conns;
	bool            warned_insecure;
};

const char *const webhook_counters[] = { "accepted", "rejected_signature",
	"oversized", "malformed", "duplicates", "ignored_events",
	"unsupported_media", "refused_no_secret", "pings", "timeouts",
	"length_required", "connections_refused", "ingest_accepted",
	"ingest_duplicates", "ingest_invalid" };
const size_t      webhook_ncounters  = nitems(webhook_counters);

static void
warn_insecure(struct webhook *w, const char *src)
{
	if (w->warned_insecure)
		return;
	w->warned_insecure = true;
	log_warn("webhook.insecure",
	    "no %s secret configured and insecure: true: accepting "
	    "unsigned deliveries",
	    src);
}

/* journal records the delivery id and emits the event in one
 * transaction.  Returns 0, ERR_EXISTS (a redelivery) or another error. */
static int
journal(struct webhook *w, const struct hook_verdict *v)
{
	struct store *st = svc_store(w->svc);
	int           rv;

	if ((rv = svc_begin(w->svc)) != 0)
		return (rv);
	if (v->delivery != NULL &&
	    (rv = store_run(st,
	         "INSERT INTO delivery(id, source, event, ts) "
	         "VALUES (?, ?, ?, ?)",
	         "ttti", v->delivery,
	         v->topic == MSG_BOARD_WEBHOOK ? "plane" : "github",
	         v->event ? v->event : "", now_ms())) != 0)
		goto fail;
	if ((rv = svc_emit(w->svc, v->topic, NULL, &v->body)) != 0)
		goto fail;
	return (svc_commit(w->svc));

fail:
	(void) svc_rollback(w->svc);
	return (rv);
}

/* ingest answers an error report: "ok" when it asks for a task,
 * "duplicate" when its fingerprint asked within the window. */
static void
ingest(struct webhook *w, struct hreq *hr, struct hook_verdict *v)
{
	const char *key = v->body.ingest.dedup_key;
	int         rv  = ingest_journal(w->svc, v, w->ingest_window_ms);

	if (rv == ERR_EXISTS) {
		svc_count(w->svc, "ingest_duplicates", 1);
		log_info("webhook.ingest_duplicate", "key=%s size=%zu", key,
		    v->size);
		httpd_reply(hr, 200, "duplicate");
		return;
	}
	if (rv != 0) {
		log_error(
		    "webhook.journal", "ingest key=%s: %s", key, err_str(rv));
		httpd_reply(hr, 500, "Internal error");
		return;
	}
	svc_count(w->svc, "ingest_accepted", 1);
	log_info("webhook.ingest", "key=%s service=%s size=%zu: ingest.error",
	    key, v->body.ingest.service, v->size);
	httpd_reply(hr, 200, "ok");
}

static void
decide(struct hreq *hr, struct hook_verdict *v, void *arg)
{
	struct webhook *w  = arg;
	const char     *ev = v->event ? v->event : "-";
	const char     *id = v->delivery ? v->delivery : "-";
	int             rv;

	if (v->status == 200 && v->topic != MSG_NONE &&
	    ((v->topic == MSG_BOARD_WEBHOOK && w->plane_secret == NULL) ||
	        (v->topic == MSG_INGEST_ERROR && w->ingest_secret == NULL) ||
	        (v->topic != MSG_BOARD_WEBHOOK &&
	            v->topic != MSG_INGEST_ERROR && w->github_secret == NULL)))
		warn_insecure(w,
		    v->topic == MSG_BOARD_WEBHOOK      ? "plane"
		        : v->topic == MSG_INGEST_ERROR ? "ingest"
		                                       : "github");
	if (v->topic == MSG_NONE) {
		if (v->counter != NULL)
			svc_count(w->svc, v->counter, 1);
		log_info("webhook.answer",
		    "event=%s delivery=%s size=%zu status=%d (%s)", ev, id,
		    v->size, v->status, v->text);
		httpd_reply(hr, v->status, v->text);
		return;
	}
	if (v->topic == MSG_INGEST_ERROR) {
		ingest(w, hr, v);
		return;
	}
	rv = journal(w, v);
	if (rv == ERR_EXISTS) {
		svc_count(w->svc, "duplicates", 1);
		log_info("webhook.duplicate", "event=%s delivery=%s size=%zu",
		    ev, id, v->size);
		httpd_reply(hr, 200, "duplicate");
		return;
	}
	if (rv != 0) {
		log_error("webhook.journal", "event=%s delivery=%s: %s", ev,
		    id, err_str(rv));
		httpd_reply(hr, 500, "Internal error");
		return;
	}
	svc_count(w->svc, "accepted", 1);
	log_info("webhook.accepted", "event=%s delivery=%s size=%zu topic=%s",
	    ev, id, v->size, msg_topic_name(v->topic));
	httpd_reply(hr, 200, "OK");
}

static void
count(const char *counter, int n, void *arg)
{
	struct webhook *w = arg;

	svc_count(w->svc, counter, n);
}

static void
tick(struct loop *loop, void *arg)
{
	struct webhook *w = arg;

	if (w->httpd != NULL)
		httpd_tick(w->httpd);
	(void) loop_timer(loop, 1000, tick, w);
}

static void
prune(struct loop *loop, void *arg)
{
	struct webhook *w = arg;

	if (store_run(svc_store(w->svc), "DELETE FROM delivery WHERE ts < ?",
	        "i", now_ms() - w->retention_ms) != 0)
		log_warn("webhook.prune", "cannot prune delivery ids");
	ingest_prune(w->svc, w->ingest_window_ms);
	(void) loop_timer(loop, 3600 * 1000, prune, w);
}

/* start opens the HTTP server once the loop runs (the bus sockets are
 * bound by then), so no event is accepted before it can be published. */
static void
start(struct loop *loop, void *arg)
{
	struct webhook  *w = arg;
	struct httpd_cfg hc;

	memset(&hc, 0, sizeof(hc));
	hc.listen            = w->listen;
	hc.github_secret     = w->github_secret;
	hc.plane_secret      = w->plane_secret;
	hc.ingest_secret     = w->ingest_secret;
	hc.ingest_max_body   = (size_t) w->ingest_max_body;
	hc.insecure          = w->insecure != 0;
	hc.max_body          = (size_t) w->max_body;
	hc.metrics           = w->metrics;
	hc.header_timeout_ms = w->header_ms;
	hc.body_timeout_ms   = w->body_ms;
	hc.idle_timeout_ms   = w->idle_ms;
	hc.max_connections   = (int) w->max_conns;
	hc.decide            = decide;
	hc.count             = count;
	hc.arg               = w;
	if (httpd_open(&w->httpd, loop, &hc) != 0) {
		log_error("webhook.start", "cannot serve %s", w->listen);
		svc_stop(w->svc);
		return;
	}
	log_info("webhook.start", "listening on %s (max_body %lld)",
	    httpd_url(w->httpd), (long long) w->max_body);
	tick(loop, w);
}

static int
webhook_init(struct svc *svc, void *state)
{
	struct webhook        *w = state;
	const struct cfg_node *c = svc_cfg(svc);
	char                   err[512];
	size_t                 i;

	w->svc = svc;
	/* defaults and bounds: webhook_keys (config.c) */
	if (cfg_tab_str(webhook_keys, c, "listen", &w->listen, err,
	        sizeof(err)) != 0 ||
	    cfg_tab_bool(webhook_keys, c, "insecure", &w->insecure, err,
	        sizeof(err)) != 0 ||
	    cfg_tab_int(webhook_keys, c, "max_body", &w->max_body, err,
	        sizeof(err)) != 0 ||
	    cfg_tab_ms(webhook_keys, c, "metrics_interval", &w->metrics_ms,
	        err, sizeof(err)) != 0 ||
	    cfg_tab_ms(webhook_keys, c, "delivery_retention", &w->retention_ms,
	        err, sizeof(err)) != 0 ||
	    cfg_tab_ms(webhook_keys, c, "header_timeout", &w->header_ms, err,
	        sizeof(err)) != 0 ||
	    cfg_tab_ms(webhook_keys, c, "body_timeout", &w->body_ms, err,
	        sizeof(err)) != 0 ||
	    cfg_tab_ms(webhook_keys, c, "idle_timeout", &w->idle_ms, err,
	        sizeof(err)) != 0 ||
	    cfg_tab_int(webhook_keys, c, "max_connections", &w->max_conns, err,
	        sizeof(err)) != 0 ||
	    cfg_tab_int(webhook_keys, c, "ingest_max_body",
	        &w->ingest_max_body, err, sizeof(err)) != 0 ||
	    cfg_tab_ms(webhook_keys, c, "ingest_dedup_window",
	        &w->ingest_window_ms, err, sizeof(err)) != 0) {
		log_error("webhook.config", "%s", err);
		return (ERR_CONFIG);
	}
	w->github_secret = cfg_secret(c, "github_secret_env");
	w->plane_secret  = cfg_secret(c, "plane_secret_env");
	w->ingest_secret = cfg_secret(c, "ingest_secret_env");
	if (w->ingest_secret != NULL && *w->ingest_secret == '\0')
		w->ingest_secret = NULL;
	if (w->ingest_secret != NULL)
		log_redact(w->ingest_secret);
	if (w->github_secret != NULL && *w->github_secret == '\0')
		w->github_secret = NULL;
	if (w->plane_secret != NULL && *w->plane_secret == '\0')
		w->plane_secret = NULL;
	if (w->github_secret != NULL)
		log_redact(w->github_secret);
	if (w->plane_secret != NULL)
		log_redact(w->plane_secret);
	if (w->github_secret == NULL || w->plane_secret == NULL)
		log_warn("webhook.config", "%s%s secret not set: %s",
		    w->github_secret ? "" : "github ",
		    w->plane_secret ? "" : "plane",
		    w->insecure ? "unsigned deliveries accepted (insecure)"
		                : "those deliveries are refused (503)");
	if (store_exec(svc_store(svc),
	        "CREATE TABLE IF NOT EXISTS delivery("
	        "id TEXT PRIMARY KEY, source TEXT, event TEXT, ts INTEGER)") !=
	        0 ||
	    ingest_init(svc) != 0)
		return (ERR_IO);
	for (i = 0; i < webhook_ncounters; i++)
		svc_count(svc, webhook_counters[i], 0);
	if (metrics_open(&w->metrics, svc_topo(svc), svc_name(svc),
	        w->metrics_ms, 500) != 0)
		return (ERR_IO);
	(void) loop_timer(svc_loop(svc), 0, start, w);
	(void) loop_timer(svc_loop(svc), 60 * 1000, prune, w);
	return (0);
}

static void
webhook_fini(struct svc *svc, void *state)
{
	struct webhook *w = state;

	httpd_close(&w->httpd, svc_loop(svc));
	metrics_close(&w->metrics);
}

static void
webhook_status(struct svc *svc, void *state, json_t *obj)
{
	struct webhook *w = state;

	UNUSED(svc);
	json_object_set_new(obj, "listen_url",
	    w->httpd ? json_string(httpd_url(w->httpd)) : json_null());
	json_object_set_new(
	    obj, "github_secret", json_boolean(w->github_secret != NULL));
	json_object_set_new(
	    obj, "plane_secret", json_boolean(w->plane_secret != NULL));
	json_object_set_new(
	    obj, "ingest_secret", json_boolean(w->ingest_secret != NULL));
	json_object_set_new(obj, "ingest_fingerprints",
	    store_counts(svc_store(svc),
	        "SELECT repo, count(*) FROM ingest_seen GROUP BY repo"));
	json_object_set_new(obj, "insecure", json_boolean(w->insecure));
	json_object_set_new(obj, "max_body", json_integer(w->max_body));
}

static const struct svc_handler handlers[] = {
	{ MSG_NONE, NULL },
};

static const struct svc_ctl ctls[] = {
	{ MSG_NONE, NULL },
};

const struct svc_def webhook_def = {
	.name       = "webhook",
	.state_size = sizeof(struct webhook),
	.init       = webhook_init,
	.fini       = webhook_fini,
	.handlers   = handlers,
	.ctls       = ctls,
	.status     = webhook_status,
	.config     = webhook_keys,
};
