/*
 * http.c - libcurl's multi_socket interface glued into loop.c.
 *
 * The only libcurl user.  curl tells us which sockets to watch
 * (sock_cb -> loop_add_fd/loop_del_fd) and when to call it back (timer_cb
 * -> one loop timer); on readiness we call curl_multi_socket_action() and
 * then drain curl_multi_info_read() to complete requests.  User callbacks
 * run only from drain() or http_close(), never from inside a curl callback
 * or http_send(), so they may call back into this module freely.
 *
 * A request (struct hreq) is on the client's list exactly while its done
 * callback is still due: finish/cancel/close unlink it first, then remove
 * its easy handle from the multi, then (maybe) call done, then free it.
 * http_close() from inside a done callback is allowed: the client is only
 * marked closing and freed when the outermost drain() unwinds (h->busy).
 *
 * libcurl is linked (with OpenSSL, some thirty shared libraries and about
 * 6 MiB of resident pages), so this file lives in its own library,
 * opc_http, which only the programs that make requests link: board-sync,
 * the escalator, the executor and its worker, and opc.  curl's
 * compile-time type checks of curl_easy_setopt/getinfo are on.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "opc/err.h"
#include "opc/http.h"
#include "opc/log.h"
#include "opc/loop.h"
#include "opc/util.h"

#define HDR_MAX (256u * 1024u) /* response header bytes, per request */
#define METHOD_MAX 15

struct hreq {
	struct hreq       *prev, *next;
	uint64_t           id;
	CURL              *easy;
	struct curl_slist *hdrs;
	char              *body;
	char              *method;
	char              *logurl; /* no user info, query or fragment */
	http_done_fn       done;
	void              *arg;
	size_t             max_response;
	size_t             hdr_bytes;
	int                toobig; /* 1: body over the cap, 2: headers */
	int64_t            start;
	struct http_resp   resp;
	char               errbuf[CURL_ERROR_SIZE];
};

struct http {
	struct loop *loop;
	CURLM       *multi;
	uint64_t     timer; /* loop timer for curl's timeout, 0: none */
	uint64_t     next_id;
	struct hreq *head;
	size_t       npending;
	int          busy;    /* drain()/http_close() frames on the stack */
	int          closing; /* http_close() was called */
};

static void
link_req(struct http *h, struct hreq *r)
{
	r->prev = NULL;
	r->next = h->head;
	if (h->head != NULL)
		h->head->prev = r;
	h->head = r;
	h->npending++;
}

static void
unlink_req(struct http *h, struct hreq *r)
{
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		h->head = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
	h->npending--;
}

static void
req_free(struct hreq *r)
{
	if (r == NULL)
		return;
	if (r->easy != NULL)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->hdrs);
	free(r->body);
	free(r->method);
	free(r->logurl);
	buf_fini(&r->resp.body);
	buf_fini(&r->resp.hdrs);
	free(r);
}

/* detach unlinks r and takes its easy handle out of the multi.  It must
 * not run inside a curl callback; ours never call it. */
static void
detach(struct http *h, struct hreq *r)
{
	unlink_req(h, r);
	if (h->multi != NULL)
		curl_multi_remove_handle(h->multi, r->easy);
}

/* log_url copies url without user info, query string and fragment, which
 * may carry credentials. */
static char *
log_url(const char *url)
{
	const char *s, *auth, *end, *at, *p;

	s    = strstr(url, "://");
	auth = s != NULL ? s + 3 : url;
	end  = auth + strcspn(auth, "/?#");
	at   = NULL;
	for (p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	p = at != NULL ? at + 1 : auth;
	return (xasprintf(
	    "%.*s%.*s", (int) (auth - url), url, (int) strcspn(p, "?#"), p));
}

static int
valid_method(const char *m)
{
	size_t i;

	if (m == NULL || m[0] == '\0')
		return (0);
	for (i = 0; m[i] != '\0'; i++)
		if (i >= METHOD_MAX || m[i] < 'A' || m[i] > 'Z')
			return (0);
	return (1);
}

static size_t
write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct hreq *r   = arg;
	size_t       len = size * n;

	if (len > r->max_response - r->resp.body.len) {
		r->toobig = 1;
		return (0); /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	buf_append(&r->resp.body, p, len);
	return (len);
}

/* header_cb stores each "Name: value" line as "name\0value\0" with the
 * name lowercased.  A status line starts a new response (after a 1xx
 * interim one), so it drops what was kept so far. */
static size_t
header_cb(char *p, size_t size, size_t n, void *arg)
{
	struct hreq *r   = arg;
	size_t       len = size * n, i, nlen, vlen;
	const char  *colon, *v;
	char         c;

	if (len > HDR_MAX - r->hdr_bytes) {
		r->toobig = 2;
		return (0);
	}
	r->hdr_bytes += len;
	if (memchr(p, '\0', len) != NULL)
		return (len); /* would break the "name\0value\0" layout */
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		buf_reset(&r->resp.hdrs);
		return (len);
	}
	colon = memchr(p, ':', len);
	if (colon == NULL || colon == p || p[0] == ' ' || p[0] == '\t')
		return (len); /* blank line, obsolete folding, garbage */
	nlen = (size_t) (colon - p);
	while (nlen > 0 && (p[nlen - 1] == ' ' || p[nlen - 1] == '\t'))
		nlen--;
	v    = colon + 1;
	vlen = len - (size_t) (v - p);
	while (vlen > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen > 0 &&
	    (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' ||
	        v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	for (i = 0; i < nlen; i++) {
		c = (char) tolower((unsigned char) p[i]);
		buf_append(&r->resp.hdrs, &c, 1);
	}
	buf_append(&r->resp.hdrs, "", 1);
	buf_append(&r->resp.hdrs, v, vlen);
	buf_append(&r->resp.hdrs, "", 1);
	return (len);
}

/* finish completes a request curl reported done. */
static void
finish(struct http *h, struct hreq *r, CURLcode code)
{
	struct http_resp *resp   = &r->resp;
	long              status = 0;

	detach(h, r);
	resp->elapsed_ms = mono_ms() - r->start;
	if (code == CURLE_OK) {
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
		resp->status = (int) status;
		log_debug("http", "%s %s: %d in %lld ms", r->method, r->logurl,
		    resp->status, (long long) resp->elapsed_ms);
	} else {
		if (r->toobig || code == CURLE_FILESIZE_EXCEEDED) {
			resp->err = ERR_TOOBIG;
			if (r->toobig == 2)
				snprintf(resp->errmsg, sizeof(resp->errmsg),
				    "response headers over %u bytes", HDR_MAX);
			else
				snprintf(resp->errmsg, sizeof(resp->errmsg),
				    "response body over %zu bytes",
				    r->max_response);
		} else {
			resp->err = code == CURLE_OPERATION_TIMEDOUT
			    ? ERR_TIMEOUT
			    : ERR_IO;
			snprintf(resp->errmsg, sizeof(resp->errmsg), "%s",
			    r->errbuf[0] != '\0' ? r->errbuf
			                         : curl_easy_strerror(code));
		}
		buf_reset(&resp->body);
		buf_reset(&resp->hdrs);
		log_warn("http", "%s %s: %s: %s", r->method, r->logurl,
		    err_str(resp->err), resp->errmsg);
	}
	buf_cstr(&resp->body);
	r->done(h, resp, r->arg);
	req_free(r);
}

/* drain completes every request curl has finished.  The last thing its
 * callers do, since a done callback may have closed (and drain freed) h. */
static void
drain(struct http *h)
{
	CURLMsg     *msg;
	struct hreq *r;
	CURLcode     code;
	char        *priv;
	int          left;

	h->busy++;
	while (!h->closing &&
	    (msg = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		code = msg->data.result; /* msg dies with remove_handle */
		priv = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		r = (struct hreq *) (void *) priv;
		finish(h, r, code);
	}
	if (--h->busy == 0 && h->closing)
		free(h);
}

static void
on_fd(struct loop *l, int fd, short revents, void *arg)
{
	struct http *h    = arg;
	int          mask = 0, running;

	if (revents & (POLLIN | POLLHUP))
		mask |= CURL_CSELECT_IN;
	if (revents & POLLOUT)
		mask |= CURL_CSELECT_OUT;
	if (revents & (POLLERR | POLLNVAL))
		mask |= CURL_CSELECT_ERR;
	if (revents & POLLNVAL)
		loop_del_fd(l, fd); /* closed behind our back: stop spinning */
	curl_multi_socket_action(h->multi, fd, mask, &running);
	drain(h);
}

static void
on_timer(struct loop *l, void *arg)
{
	struct http *h = arg;
	int          running;

	UNUSED(l);
	h->timer = 0;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	drain(h);
}

static int
sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct http *h  = userp;
	short        ev = 0;

	UNUSED(e);
	UNUSED(socketp);
	if (what == CURL_POLL_REMOVE) {
		loop_del_fd(h->loop, s);
		return (0);
	}
	if (what & CURL_POLL_IN)
		ev |= POLLIN;
	if (what & CURL_POLL_OUT)
		ev |= POLLOUT;
	return (loop_add_fd(h->loop, s, ev, on_fd, h) == 0 ? 0 : -1);
}

/* timer_cb keeps one loop timer at curl's requested deadline.  curl must
 * not be re-entered from here, so even a 0 ms timeout goes via the loop. */
static int
timer_cb(CURLM *m, long ms, void *userp)
{
	struct http *h = userp;

	UNUSED(m);
	if (h->timer != 0)
		loop_timer_cancel(h->loop, h->timer);
	h->timer = 0;
	if (ms >= 0)
		h->timer = loop_timer(h->loop, ms, on_timer, h);
	return (0);
}

int
http_open(struct http **hp, struct loop *l)
{
	struct http *h;

	*hp = NULL;
	/* Reference counted and thread-safe since curl 7.84. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("http", "curl_global_init failed");
		return (ERR_IO);
	}
	h        = xcalloc(1, sizeof(*h));
	h->loop  = l;
	h->multi = curl_multi_init();
	if (h->multi == NULL ||
	    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb) ||
	    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h) ||
	    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb) ||
	    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h)) {
		log_error("http", "curl_multi_init failed");
		if (h->multi != NULL)
			curl_multi_cleanup(h->multi);
		free(h);
		curl_global_cleanup();
		return (ERR_IO);
	}
	*hp = h;
	return (0);
}

void
http_close(struct http **hp)
{
	struct http *h = *hp;
	struct hreq *r;

	if (h == NULL)
		return;
	*hp = NULL;
	if (h->closing)
		return;
	h->closing = 1;
	h->busy++;
	while ((r = h->head) != NULL) {
		detach(h, r);
		r->resp.err = ERR_CLOSED;
		snprintf(r->resp.errmsg, sizeof(r->resp.errmsg),
		    "http client closed");
		r->resp.elapsed_ms = mono_ms() - r->start;
		buf_reset(&r->resp.body);
		buf_reset(&r->resp.hdrs);
		buf_cstr(&r->resp.body);
		r->done(h, &r->resp, r->arg);
		req_free(r);
	}
	curl_multi_cleanup(h->multi); /* may still call sock_cb/timer_cb */
	h->multi = NULL;
	if (h->timer != 0)
		loop_timer_cancel(h->loop, h->timer);
	h->timer = 0;
	curl_global_cleanup();
	if (--h->busy == 0)
		free(h); /* else the drain() below us on the stack frees it */
}

/* set_method picks curl's request shape.  A body is sent with
 * POSTFIELDS (which makes curl POST) and the method overridden. */
static int
set_method(struct hreq *r, const struct http_req *req)
{
	const char *m = req->method;
	CURL       *e = r->easy;
	int         post, bad = 0;

	post = req->body_len > 0 || strcmp(m, "POST") == 0 ||
	    strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0;
	if (post) {
		r->body = xmemdup(req->body, req->body_len);
		bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		           (curl_off_t) req->body_len) != CURLE_OK;
		bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body) !=
		    CURLE_OK;
		if (strcmp(m, "POST") != 0)
			bad |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m) !=
			    CURLE_OK;
	} else if (strcmp(m, "GET") == 0) {
		bad |= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) != CURLE_OK;
	} else if (strcmp(m, "HEAD") == 0) {
		bad |= curl_easy_setopt(e, CURLOPT_NOBODY, 1L) != CURLE_OK;
	} else {
		bad |=
		    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m) != CURLE_OK;
	}
	return (bad ? ERR_INVAL : 0);
}

static int
set_headers(struct hreq *r, const char *const *hv)
{
	struct curl_slist *sl;
	size_t             i;

	/* No "Expect: 100-continue" round trip before large bodies. */
	if ((r->hdrs = curl_slist_append(NULL, "Expect:")) == NULL)
		return (ERR_NOMEM);
	for (i = 0; hv != NULL && hv[i] != NULL; i++) {
		if (strpbrk(hv[i], "\r\n") != NULL ||
		    strchr(hv[i], ':') == NULL)
			return (ERR_INVAL); /* header injection */
		if ((sl = curl_slist_append(r->hdrs, hv[i])) == NULL)
			return (ERR_NOMEM);
		r->hdrs = sl;
	}
	return (
	    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->hdrs) == CURLE_OK
	        ? 0
	        : ERR_INVAL);
}

uint64_t
http_send(
    struct http *h, const struct http_req *req, http_done_fn done, void *arg)
{
	struct hreq *r = NULL;
	CURL        *e;
	int64_t      tmo;
	int          bad = 0;

	if (h->closing || req == NULL || done == NULL || req->url == NULL ||
	    !valid_method(req->method) ||
	    (req->body == NULL && req->body_len > 0))
		return (0);
	r = xcalloc(1, sizeof(*r));
	buf_init(&r->resp.body);
	buf_init(&r->resp.hdrs);
	r->done   = done;
	r->arg    = arg;
	r->method = xstrdup(req->method);
	r->logurl = log_url(req->url);
	r->max_response =
	    req->max_response > 0 ? req->max_response : HTTP_MAX_RESPONSE;
	tmo = req->timeout_ms > 0 ? req->timeout_ms : HTTP_TIMEOUT_MS;
	if ((e = r->easy = curl_easy_init()) == NULL)
		goto fail;
	bad |= curl_easy_setopt(e, CURLOPT_URL, req->url) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, (char *) r) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK;
	bad |= curl_easy_setopt(
	           e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, HTTP_USER_AGENT) !=
	    CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "") != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) tmo) != CURLE_OK;
	/* Fails early on a Content-Length over the cap; write_cb catches
	 * chunked and length-less bodies (and decompressed growth). */
	bad |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
	           (curl_off_t) r->max_response) != CURLE_OK;
	bad |=
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, r) != CURLE_OK;
	bad |=
	    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_HEADERDATA, r) != CURLE_OK;
	if (bad || set_method(r, req) != 0 ||
	    set_headers(r, req->headers) != 0) {
		log_warn(
		    "http", "%s %s: invalid request", r->method, r->logurl);
		goto fail;
	}
	r->start = mono_ms();
	r->id    = ++h->next_id;
	if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
		log_warn("http", "%s %s: curl_multi_add_handle failed",
		    r->method, r->logurl);
		goto fail;
	}
	link_req(h, r);
	return (r->id);

fail:
	req_free(r);
	return (0);
}

void
http_cancel(struct http *h, uint64_t id)
{
	struct hreq *r;

	for (r = h->head; r != NULL; r = r->next) {
		if (r->id == id) {
			detach(h, r);
			req_free(r);
			return;
		}
	}
}

size_t
http_pending(const struct http *h)
{
	return (h->npending);
}

const char *
http_header(const struct http_resp *resp, const char *name)
{
	const char *p, *end, *v;

	if (resp->hdrs.data == NULL)
		return (NULL);
	p   = resp->hdrs.data;
	end = p + resp->hdrs.len;
	while (p < end) {
		v = p + strlen(p) + 1;
		if (v >= end)
			break;
		if (strcasecmp(p, name) == 0)
			return (v);
		p = v + strlen(v) + 1;
	}
	return (NULL);
}

struct blocking {
	struct http_resp *out;
	int               done;
};

static void
blocking_done(struct http *h, const struct http_resp *resp, void *arg)
{
	struct blocking  *b   = arg;
	struct http_resp *out = b->out;

	UNUSED(h);
	out->status = resp->status;
	out->err    = resp->err;
	memcpy(out->errmsg, resp->errmsg, sizeof(out->errmsg));
	out->elapsed_ms = resp->elapsed_ms;
	buf_append(&out->body, resp->body.data, resp->body.len);
	buf_append(&out->hdrs, resp->hdrs.data, resp->hdrs.len);
	b->done = 1;
}

int
http_blocking(const struct http_req *req, struct http_resp *out)
{
	struct blocking b = { out, 0 };
	struct loop    *l = NULL;
	struct http    *h = NULL;
	int             rv;

	memset(out, 0, sizeof(*out));
	buf_init(&out->body);
	buf_init(&out->hdrs);
	if ((rv = loop_open(&l)) != 0 || (rv = http_open(&h, l)) != 0) {
		out->err = rv;
		snprintf(out->errmsg, sizeof(out->errmsg), "%s", err_str(rv));
		goto done;
	}
	if (http_send(h, req, blocking_done, &b) == 0) {
		out->err = ERR_INVAL;
		snprintf(out->errmsg, sizeof(out->errmsg), "invalid request");
		goto done;
	}
	/* Bounded: curl enforces the request's timeout_ms. */
	while (!b.done && loop_run_once(l, -1) == 0)
		;
done:
	http_close(&h); /* completes the request with ERR_CLOSED if needed */
	loop_close(&l);
	buf_cstr(&out->body);
	return (out->err);
}

void
http_resp_fini(struct http_resp *resp)
{
	buf_fini(&resp->body);
	buf_fini(&resp->hdrs);
}
