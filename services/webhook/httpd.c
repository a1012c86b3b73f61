/*
 * httpd.c - the inbound HTTP side: nng's HTTP server and the hand-over of
 * requests to the service loop.
 *
 * This is the one file of the webhook that includes nng (its HTTP server
 * is not part of bus.c's messaging API).  Handlers run on nng threads and
 * touch only this module's queue (under mu), immutable configuration and
 * atomics.  POST bodies are read here, not by nng's collector, so that an
 * oversized delivery gets 413 before a byte of it is read (nng answers 400
 * past its limit).  Each POST ends in the queue with its verdict; the loop
 * thread drains the queue on an eventfd and answers with httpd_reply().
 * GET /healthz and /metrics are answered on the nng thread.
 *
 * Request life: handler -> [read body: rdaio] -> classify -> queue ->
 * loop decide -> httpd_reply (finishes nng's handler aio, frees).  While
 * closing, new and queued requests are answered 503 at once, so that no
 * handler aio is pending when the server is released.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "opc/err.h"
#include "opc/log.h"
#include "opc/loop.h"
#include "webhook.h"

struct hreq {
	struct hreq        *next;
	struct httpd       *hd;
	nng_aio            *haio; /* nng's handler aio: answer through it */
	nng_aio            *rdaio;
	nng_http_req       *req;
	enum hook_src       src;
	char               *body;
	size_t              len;
	bool                close; /* body left unread: close after reply */
	struct hook_verdict v;
};

struct httpd {
	struct httpd_cfg cfg;
	nng_http_server *srv;
	pthread_mutex_t  mu;
	struct hreq     *head, *tail; /* under mu */
	bool             closing;     /* under mu */
	int              efd;
	_Atomic int64_t  last_tick; /* mono ms of the loop's last tick */
	char             url[128];
};

static void
hreq_free(struct hreq *hr)
{
	if (hr->rdaio != NULL)
		nng_aio_free(hr->rdaio);
	hook_verdict_fini(&hr->v);
	free(hr->body);
	free(hr);
}

/* respond finishes a handler aio with a text/plain answer. */
static void
respond(nng_aio *aio, int status, const char *ctype, const char *text,
        size_t len, bool close)
{
	nng_http_res *res;

	if (nng_http_res_alloc(&res) != 0) {
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	(void) nng_http_res_set_status(res, (uint16_t) status);
	(void) nng_http_res_set_header(res, "Content-Type", ctype);
	if (close)
		(void) nng_http_res_set_header(res, "Connection", "close");
	if (nng_http_res_copy_data(res, text, len) != 0) {
		nng_http_res_free(res);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

static void
respond_text(nng_aio *aio, int status, const char *text, bool close)
{
	char line[256];
	int  n = snprintf(line, sizeof(line), "%s\n", text);

	respond(aio, status, "text/plain; charset=utf-8", line,
	        n > 0 && (size_t) n < sizeof(line) ? (size_t) n : 0, close);
}

void
httpd_reply(struct hreq *hr, int status, const char *text)
{
	respond_text(hr->haio, status, text, hr->close);
	hr->haio = NULL;
	hreq_free(hr);
}

/* enqueue hands hr to the loop thread (or answers 503 when closing). */
static void
enqueue(struct hreq *hr)
{
	struct httpd *hd = hr->hd;
	uint64_t      one = 1;
	bool          closing;

	pthread_mutex_lock(&hd->mu);
	if (!(closing = hd->closing)) {
		if (hd->tail != NULL)
			hd->tail->next = hr;
		else
			hd->head = hr;
		hd->tail = hr;
	}
	pthread_mutex_unlock(&hd->mu);
	if (closing) {
		respond_text(hr->haio, 503, "Shutting down", true);
		hr->haio = NULL;
		hreq_free(hr);
		return;
	}
	if (write(hd->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_error("webhook.queue", "eventfd write: %s",
		          strerror(errno));
}

static void
classify(struct hreq *hr)
{
	struct httpd   *hd = hr->hd;
	struct hook_req r;
	bool            gh = hr->src == HOOK_GITHUB;

	memset(&r, 0, sizeof(r));
	r.src = hr->src;
	r.content_type = nng_http_req_get_header(hr->req, "Content-Type");
	r.signature = nng_http_req_get_header(
	    hr->req, gh ? "X-Hub-Signature-256" : "X-Plane-Signature");
	r.event = nng_http_req_get_header(hr->req, gh ? "X-GitHub-Event"
	                                              : "X-Plane-Event");
	r.delivery = nng_http_req_get_header(hr->req, gh ? "X-GitHub-Delivery"
	                                                 : "X-Plane-Delivery");
	r.body = hr->body != NULL ? hr->body : "";
	r.len = hr->len;
	hook_classify(&hr->v, &r,
	              gh ? hd->cfg.github_secret : hd->cfg.plane_secret,
	              hd->cfg.insecure, hd->cfg.max_body);
	enqueue(hr);
}

static void
body_read(void *arg)
{
	struct hreq *hr = arg;

	if (nng_aio_result(hr->rdaio) != 0) {
		/* The client went away mid-body: drop the connection. */
		nng_aio_finish(hr->haio, NNG_ECLOSED);
		hr->haio = NULL;
		/* Our own callback: rdaio must be reaped, not freed. */
		nng_aio_reap(hr->rdaio);
		hr->rdaio = NULL;
		hreq_free(hr);
		return;
	}
	classify(hr);
}

static void
on_post(nng_aio *aio, enum hook_src src)
{
	nng_http_req     *req = nng_aio_get_input(aio, 0);
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	nng_http_conn    *conn = nng_aio_get_input(aio, 2);
	struct httpd     *hd = nng_http_handler_get_data(h);
	struct hreq      *hr;
	const char       *cl;
	uint64_t          len = 0;
	nng_iov           iov;

	hr = xcalloc(1, sizeof(*hr));
	hr->hd = hd;
	hr->haio = aio;
	hr->req = req;
	hr->src = src;
	if ((cl = nng_http_req_get_header(req, "Content-Length")) != NULL &&
	    hook_length(cl, &len) != 0) {
		hr->close = true;
		httpd_reply(hr, 400, "Bad Content-Length");
		return;
	}
	if (len > hd->cfg.max_body) {
		hr->close = true; /* the body stays unread */
		hook_oversized(
		    &hr->v,
		    nng_http_req_get_header(req, src == HOOK_GITHUB
		                                     ? "X-GitHub-Event"
		                                     : "X-Plane-Event"),
		    nng_http_req_get_header(req, src == HOOK_GITHUB
		                                     ? "X-GitHub-Delivery"
		                                     : "X-Plane-Delivery"),
		    (size_t) (len > SIZE_MAX ? SIZE_MAX : len));
		enqueue(hr);
		return;
	}
	if (len == 0) {
		classify(hr);
		return;
	}
	hr->len = (size_t) len;
	hr->body = xmalloc(hr->len + 1);
	hr->body[hr->len] = '\0';
	if (nng_aio_alloc(&hr->rdaio, body_read, hr) != 0) {
		hr->close = true;
		httpd_reply(hr, 500, "Out of memory");
		return;
	}
	iov.iov_buf = hr->body;
	iov.iov_len = hr->len;
	(void) nng_aio_set_iov(hr->rdaio, 1, &iov);
	nng_aio_set_timeout(hr->rdaio, 30000);
	nng_http_conn_read_all(conn, hr->rdaio);
}

static void
on_github(nng_aio *aio)
{
	on_post(aio, HOOK_GITHUB);
}

static void
on_plane(nng_aio *aio)
{
	on_post(aio, HOOK_PLANE);
}

static void
on_healthz(nng_aio *aio)
{
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	struct httpd     *hd = nng_http_handler_get_data(h);
	int64_t           age = mono_ms() - atomic_load(&hd->last_tick);

	if (age < 5000)
		respond_text(aio, 200, "ok", false);
	else
		respond_text(aio, 503, "service loop not running", false);
}

static void
on_metrics(nng_aio *aio)
{
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	struct httpd     *hd = nng_http_handler_get_data(h);
	char             *text = metrics_text(hd->cfg.metrics);

	if (text == NULL) {
		respond_text(aio, 503, "metrics not gathered yet", false);
		return;
	}
	respond(aio, 200, "text/plain; version=0.0.4; charset=utf-8", text,
	        strlen(text), false);
	free(text);
}

/* on_queue runs on the loop thread: decide every queued request. */
static void
on_queue(struct loop *loop, int fd, short revents, void *arg)
{
	struct httpd *hd = arg;
	struct hreq  *hr, *next;
	uint64_t      n;

	UNUSED(loop);
	UNUSED(revents);
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_error("webhook.queue", "eventfd read: %s", strerror(errno));
	pthread_mutex_lock(&hd->mu);
	hr = hd->head;
	hd->head = hd->tail = NULL;
	pthread_mutex_unlock(&hd->mu);
	for (; hr != NULL; hr = next) {
		next = hr->next;
		hd->cfg.decide(hr, &hr->v, hd->cfg.arg);
	}
}

static int
add(struct httpd *hd, const char *path, const char *method,
    void (*cb)(nng_aio *))
{
	nng_http_handler *h;
	int               rv;

	if ((rv = nng_http_handler_alloc(&h, path, cb)) != 0)
		goto fail;
	if ((rv = nng_http_handler_set_method(h, method)) != 0 ||
	    (rv = nng_http_handler_collect_body(h, false, 0)) != 0 ||
	    (rv = nng_http_handler_set_data(h, hd, NULL)) != 0 ||
	    (rv = nng_http_server_add_handler(hd->srv, h)) != 0) {
		nng_http_handler_free(h);
		goto fail;
	}
	return (0);
fail:
	log_error("webhook.http", "handler %s %s: %s", method, path,
	          nng_strerror(rv));
	return (ERR_IO);
}

/* port_of converts a port in network byte order. */
static unsigned
port_of(uint16_t p)
{
	const unsigned char *b = (const unsigned char *) &p;

	return ((unsigned) b[0] << 8 | b[1]);
}

static void
bound_url(struct httpd *hd, const nng_url *u)
{
	nng_sockaddr sa;
	char         host[64];
	unsigned     port = 0;

	snprintf(host, sizeof(host), "%s", u->u_hostname);
	if (nng_http_server_get_addr(hd->srv, &sa) == 0) {
		if (sa.s_family == NNG_AF_INET) {
			const unsigned char *a =
			    (const unsigned char *) &sa.s_in.sa_addr;

			snprintf(host, sizeof(host), "%u.%u.%u.%u", a[0], a[1],
			         a[2], a[3]);
			port = port_of(sa.s_in.sa_port);
		} else if (sa.s_family == NNG_AF_INET6)
			port = port_of(sa.s_in6.sa_port);
	}
	if (port == 0)
		port = (unsigned) strtoul(u->u_port, NULL, 10);
	snprintf(hd->url, sizeof(hd->url), "%s://%s:%u", u->u_scheme, host,
	         port);
}

int
httpd_open(struct httpd **hp, struct loop *loop, const struct httpd_cfg *cfg)
{
	struct httpd *hd;
	nng_url      *u = NULL;
	int           rv;

	*hp = NULL;
	hd = xcalloc(1, sizeof(*hd));
	hd->cfg = *cfg;
	hd->efd = -1;
	pthread_mutex_init(&hd->mu, NULL);
	atomic_store(&hd->last_tick, mono_ms());
	if ((rv = nng_url_parse(&u, cfg->listen)) != 0 ||
	    strcmp(u->u_scheme, "http") != 0) {
		log_error("webhook.config", "listen: bad url %s: %s",
		          cfg->listen, rv ? nng_strerror(rv) : "want http://");
		rv = ERR_CONFIG;
		goto fail;
	}
	if ((hd->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		log_error("webhook.queue", "eventfd: %s", strerror(errno));
		rv = ERR_IO;
		goto fail;
	}
	if ((rv = nng_http_server_hold(&hd->srv, u)) != 0) {
		log_error("webhook.http", "%s: %s", cfg->listen,
		          nng_strerror(rv));
		rv = ERR_IO;
		goto fail;
	}
	if ((rv = add(hd, "/github", "POST", on_github)) != 0 ||
	    (rv = add(hd, "/plane", "POST", on_plane)) != 0 ||
	    (rv = add(hd, "/healthz", "GET", on_healthz)) != 0 ||
	    (rv = add(hd, "/metrics", "GET", on_metrics)) != 0)
		goto fail;
	if ((rv = loop_add_fd(loop, hd->efd, POLLIN, on_queue, hd)) != 0)
		goto fail;
	if ((rv = nng_http_server_start(hd->srv)) != 0) {
		log_error("webhook.http", "listen %s: %s", cfg->listen,
		          nng_strerror(rv));
		rv = ERR_IO;
		goto fail;
	}
	bound_url(hd, u);
	nng_url_free(u);
	*hp = hd;
	return (0);

fail:
	nng_url_free(u);
	httpd_close(&hd, loop);
	return (rv);
}

void
httpd_close(struct httpd **hp, struct loop *loop)
{
	struct httpd *hd = *hp;
	struct hreq  *hr, *next;

	if (hd == NULL)
		return;
	pthread_mutex_lock(&hd->mu);
	hd->closing = true;
	hr = hd->head;
	hd->head = hd->tail = NULL;
	pthread_mutex_unlock(&hd->mu);
	for (; hr != NULL; hr = next) {
		next = hr->next;
		hr->close = true;
		httpd_reply(hr, 503, "Shutting down");
	}
	if (hd->srv != NULL) {
		nng_http_server_stop(hd->srv);
		nng_http_server_release(hd->srv);
	}
	if (hd->efd >= 0) {
		if (loop != NULL)
			loop_del_fd(loop, hd->efd);
		close(hd->efd);
	}
	pthread_mutex_destroy(&hd->mu);
	free(hd);
	*hp = NULL;
}

const char *
httpd_url(const struct httpd *hd)
{
	return (hd->url);
}

void
httpd_tick(struct httpd *hd)
{
	atomic_store(&hd->last_tick, mono_ms());
}
