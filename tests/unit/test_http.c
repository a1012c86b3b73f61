/*
 * test_http.c - the curl client (common/http.c) driven by the real loop
 * against a tiny HTTP/1.1 server running in threads of this process.
 *
 * The server listens on 127.0.0.1 port 0, one thread per connection,
 * keep-alive, scripted responses per path (see handle()).  Every wait is
 * bounded by WAIT_MS so a broken client fails instead of hanging.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "opc/err.h"
#include "opc/http.h"
#include "opc/log.h"
#include "opc/loop.h"
#include "opc/util.h"

#define WAIT_MS 10000 /* only to avoid hanging */
#define MAXCONN 512
#define RQ_CAP (1024 * 1024)

/* ---- the server ------------------------------------------------------ */

struct srv {
	int        lfd;
	int        port;
	int        stop[2]; /* write end closed: every thread exits */
	pthread_t  acc;
	pthread_t  conns[MAXCONN];
	int        nconn;
	atomic_int nreq;
};

struct conn {
	struct srv *s;
	int         fd;
	char       *buf;
	size_t      len;
};

struct rq {
	char        method[16];
	char        path[1024];
	int         auth;
	char        xtest[128];
	char        ctype[128];
	const char *body;
	size_t      blen;
	size_t      total; /* bytes of buf this request used */
};

/* wait_io returns 1 when fd is ready for ev, 0 when the server stops. */
static int
wait_io(struct srv *s, int fd, short ev)
{
	struct pollfd p[2];

	for (;;) {
		p[0].fd      = fd;
		p[0].events  = ev;
		p[1].fd      = s->stop[0];
		p[1].events  = POLLIN;
		p[0].revents = p[1].revents = 0;
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return (0);
		}
		if (p[1].revents != 0)
			return (0);
		if (p[0].revents != 0)
			return (1);
	}
}

static int
send_all(struct srv *s, int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t     n;

	while (len > 0) {
		if (!wait_io(s, fd, POLLOUT))
			return (-1);
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return (-1);
		p += n;
		len -= (size_t) n;
	}
	return (0);
}

static int
send_str(struct conn *c, const char *str)
{
	return (send_all(c->s, c->fd, str, strlen(str)));
}

static int
recv_more(struct conn *c)
{
	ssize_t n;

	if (c->len == RQ_CAP || !wait_io(c->s, c->fd, POLLIN))
		return (-1);
	n = recv(c->fd, c->buf + c->len, RQ_CAP - c->len, 0);
	if (n <= 0)
		return (-1);
	c->len += (size_t) n;
	return (0);
}

/* hval copies the value of header line l ("Name: value") into out. */
static void
hval(const char *l, size_t llen, char *out, size_t cap)
{
	const char *v = memchr(l, ':', llen);
	size_t      n;

	v++;
	while (*v == ' ')
		v++;
	n = llen - (size_t) (v - l);
	if (n >= cap)
		n = cap - 1;
	memcpy(out, v, n);
	out[n] = '\0';
}

/* head_end finds the blank line ending the request head (no memmem
 * without _GNU_SOURCE). */
static const char *
head_end(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i + 4 <= len; i++)
		if (memcmp(p + i, "\r\n\r\n", 4) == 0)
			return (p + i);
	return (NULL);
}

static int
read_request(struct conn *c, struct rq *rq)
{
	const char *end, *l, *nl;
	size_t      hl, clen = 0, llen;

	memset(rq, 0, sizeof(*rq));
	while ((end = head_end(c->buf, c->len)) == NULL)
		if (recv_more(c) != 0)
			return (-1);
	hl             = (size_t) (end - c->buf) + 4;
	c->buf[hl - 2] = '\0'; /* NUL in place of the last CRLF */
	if (sscanf(c->buf, "%15s %1023s", rq->method, rq->path) != 2)
		return (-1);
	for (l = strstr(c->buf, "\r\n"); l != NULL; l = nl) {
		l += 2;
		nl   = strstr(l, "\r\n");
		llen = nl != NULL ? (size_t) (nl - l) : strlen(l);
		if (strncasecmp(l, "content-length:", 15) == 0)
			clen = strtoul(l + 15, NULL, 10);
		else if (strncasecmp(l, "authorization:", 14) == 0)
			rq->auth = 1;
		else if (strncasecmp(l, "x-test:", 7) == 0)
			hval(l, llen, rq->xtest, sizeof(rq->xtest));
		else if (strncasecmp(l, "content-type:", 13) == 0)
			hval(l, llen, rq->ctype, sizeof(rq->ctype));
	}
	if (clen > RQ_CAP - hl)
		return (-1);
	while (c->len < hl + clen)
		if (recv_more(c) != 0)
			return (-1);
	rq->body  = c->buf + hl;
	rq->blen  = clen;
	rq->total = hl + clen;
	return (0);
}

/* wait_close reads and discards until the peer closes or we stop. */
static void
wait_close(struct conn *c)
{
	char tmp[4096];

	while (wait_io(c->s, c->fd, POLLIN) &&
	    recv(c->fd, tmp, sizeof(tmp), 0) > 0)
		;
}

static int
respond(struct conn *c, const char *head, const void *body, size_t blen)
{
	struct buf b;
	int        rv;

	buf_init(&b);
	buf_printf(&b, "%sContent-Length: %zu\r\n\r\n", head, blen);
	buf_append(&b, body, blen);
	rv = send_all(c->s, c->fd, b.data, b.len);
	buf_fini(&b);
	return (rv);
}

static void
json_str(struct buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_append(b, "\\", 1);
		buf_append(b, &s[i], 1);
	}
}

/* handle answers one request; returns 0 to keep the connection. */
static int
handle(struct conn *c, const struct rq *rq)
{
	static const char chunk_head[] = "4000\r\n";
	char              chunk[16384];
	struct buf        b;
	size_t            sent;
	int               rv;

	if (strncmp(rq->path, "/echo", 5) == 0) {
		buf_init(&b);
		buf_printf(&b, "{\"method\":\"%s\",\"path\":\"", rq->method);
		json_str(&b, rq->path, strlen(rq->path));
		buf_printf(&b,
		    "\",\"auth\":%s,\"x_test\":\"%s\","
		    "\"ctype\":\"%s\",\"body\":\"",
		    rq->auth ? "true" : "false", rq->xtest, rq->ctype);
		json_str(&b, rq->body, rq->blen);
		buf_puts(&b, "\"}");
		rv = respond(c,
		    "HTTP/1.1 200 OK\r\n"
		    "Content-Type: application/json\r\n"
		    "X-RateLimit-Remaining: 42\r\n",
		    b.data, b.len);
		buf_fini(&b);
		return (rv);
	}
	if (strcmp(rq->path, "/raw") == 0)
		return (respond(c, "HTTP/1.1 200 OK\r\n", rq->body, rq->blen));
	if (strcmp(rq->path, "/nocontent") == 0)
		return (send_str(c, "HTTP/1.1 204 No Content\r\n\r\n"));
	if (strcmp(rq->path, "/ratelimit") == 0)
		return (respond(c,
		    "HTTP/1.1 429 Too Many Requests\r\n"
		    "Retry-After: 7\r\n",
		    "slow down", 9));
	if (strcmp(rq->path, "/redirect") == 0)
		return (respond(
		    c, "HTTP/1.1 302 Found\r\nLocation: /echo\r\n", "", 0));
	if (strcmp(rq->path, "/interim") == 0) {
		if (send_str(c,
		        "HTTP/1.1 100 Continue\r\n"
		        "X-Interim: 1\r\n\r\n") != 0)
			return (-1);
		return (respond(
		    c, "HTTP/1.1 200 OK\r\nX-Final: yes\r\n", "ok", 2));
	}
	if (strcmp(rq->path, "/slow") == 0) {
		wait_close(c);
		return (-1);
	}
	if (strcmp(rq->path, "/huge") == 0) {
		/* Chunked, so only the client's write callback can stop it. */
		memset(chunk, 'x', sizeof(chunk));
		if (send_str(c,
		        "HTTP/1.1 200 OK\r\n"
		        "Transfer-Encoding: chunked\r\n\r\n") != 0)
			return (-1);
		for (sent = 0; sent < 256u * 1024 * 1024;
		     sent += sizeof(chunk))
			if (send_str(c, chunk_head) != 0 ||
			    send_all(c->s, c->fd, chunk, sizeof(chunk)) != 0 ||
			    send_str(c, "\r\n") != 0)
				break;
		return (-1);
	}
	if (strcmp(rq->path, "/hugecl") == 0) {
		(void) send_str(c,
		    "HTTP/1.1 200 OK\r\n"
		    "Content-Length: 1000000000\r\n\r\nxxxx");
		wait_close(c);
		return (-1);
	}
	if (strcmp(rq->path, "/reset") == 0) {
		(void) send_str(c,
		    "HTTP/1.1 200 OK\r\n"
		    "Content-Length: 1000\r\n\r\npartial");
		return (-1); /* close mid-body */
	}
	return (respond(c, "HTTP/1.1 404 Not Found\r\n", "no", 2));
}

static void *
conn_main(void *arg)
{
	struct conn *c = arg;
	struct rq    rq;

	c->buf = xmalloc(RQ_CAP);
	while (read_request(c, &rq) == 0) {
		atomic_fetch_add(&c->s->nreq, 1);
		if (handle(c, &rq) != 0)
			break;
		memmove(c->buf, c->buf + rq.total, c->len - rq.total);
		c->len -= rq.total;
	}
	close(c->fd);
	free(c->buf);
	free(c);
	return (NULL);
}

static void *
acc_main(void *arg)
{
	struct srv  *s = arg;
	struct conn *c;
	int          fd;

	while (wait_io(s, s->lfd, POLLIN)) {
		if ((fd = accept(s->lfd, NULL, NULL)) < 0)
			continue;
		if (s->nconn == MAXCONN) {
			close(fd);
			continue;
		}
		c     = xcalloc(1, sizeof(*c));
		c->s  = s;
		c->fd = fd;
		if (pthread_create(&s->conns[s->nconn], NULL, conn_main, c) !=
		    0) {
			close(fd);
			free(c);
			continue;
		}
		s->nconn++;
	}
	return (NULL);
}

/* bind_any binds a TCP socket to 127.0.0.1:0 and returns it and its port. */
static int
bind_any(int *port)
{
	struct sockaddr_in sa;
	socklen_t          len = sizeof(sa);
	int                fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	(void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family      = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return (fd);
}

static int
srv_start(void **state)
{
	struct srv *s = xcalloc(1, sizeof(*s));

	s->lfd = bind_any(&s->port);
	assert_int_equal(listen(s->lfd, 128), 0);
	assert_int_equal(pipe(s->stop), 0);
	assert_int_equal(pthread_create(&s->acc, NULL, acc_main, s), 0);
	*state = s;
	return (0);
}

static int
srv_stop(void **state)
{
	struct srv *s = *state;
	int         i;

	close(s->stop[1]);
	pthread_join(s->acc, NULL);
	for (i = 0; i < s->nconn; i++)
		pthread_join(s->conns[i], NULL);
	close(s->stop[0]);
	close(s->lfd);
	free(s);
	return (0);
}

/* ---- client side helpers -------------------------------------------- */

struct got {
	int           called;
	int           status, err;
	char          errmsg[256];
	char         *body;
	size_t        body_len;
	char         *retry_after, *ratelimit, *location, *final, *interim;
	int64_t       elapsed;
	uint64_t      cancel_id; /* cancel this id from the callback */
	struct http **close_hp;  /* close this client from the callback */
	uint64_t      send_rv;   /* http_send from the callback, if asked */
	int           try_send;
	int          *counter; /* incremented too, if set */
};

static char *
dup_or_null(const char *s)
{
	return (s != NULL ? xstrdup(s) : NULL);
}

static void
got_fini(struct got *g)
{
	free(g->body);
	free(g->retry_after);
	free(g->ratelimit);
	free(g->location);
	free(g->final);
	free(g->interim);
	memset(g, 0, sizeof(*g));
}

static void
done_cb(struct http *h, const struct http_resp *r, void *arg)
{
	struct got     *g   = arg;
	struct http_req req = { .method = "GET", .url = "http://127.0.0.1/" };

	g->called++;
	if (g->counter != NULL)
		(*g->counter)++;
	g->status = r->status;
	g->err    = r->err;
	memcpy(g->errmsg, r->errmsg, sizeof(g->errmsg));
	assert_non_null(r->body.data);
	assert_int_equal(r->body.data[r->body.len], '\0');
	g->body        = xmemdup(r->body.data, r->body.len);
	g->body_len    = r->body.len;
	g->retry_after = dup_or_null(http_header(r, "Retry-After"));
	g->ratelimit   = dup_or_null(http_header(r, "x-ratelimit-remaining"));
	g->location    = dup_or_null(http_header(r, "LOCATION"));
	g->final       = dup_or_null(http_header(r, "x-final"));
	g->interim     = dup_or_null(http_header(r, "x-interim"));
	g->elapsed     = r->elapsed_ms;
	if (g->try_send)
		g->send_rv = http_send(h, &req, done_cb, g);
	if (g->cancel_id != 0)
		http_cancel(h, g->cancel_id);
	if (g->close_hp != NULL)
		http_close(g->close_hp);
}

static void
run_until(struct loop *l, const int *count, int want)
{
	int64_t end = mono_ms() + WAIT_MS;

	while (*count < want && mono_ms() < end)
		assert_int_equal(loop_run_once(l, 100), 0);
	assert_true(*count >= want);
}

/* run_for runs the loop for ms milliseconds. */
static void
run_for(struct loop *l, int64_t ms)
{
	int64_t end = mono_ms() + ms;

	while (mono_ms() < end)
		assert_int_equal(loop_run_once(l, 10), 0);
}

static void
url(char *out, size_t cap, void **state, const char *path)
{
	struct srv *s = *state;

	snprintf(out, cap, "http://127.0.0.1:%d%s", s->port, path);
}

static int
unused_port(void)
{
	int fd, port;

	fd = bind_any(&port);
	close(fd);
	return (port);
}

/* fetch sends req on a fresh client and waits for the response. */
static void
fetch(const struct http_req *req, struct got *g)
{
	struct loop *l;
	struct http *h;

	assert_int_equal(loop_open(&l), 0);
	assert_int_equal(http_open(&h, l), 0);
	assert_true(http_send(h, req, done_cb, g) > 0);
	assert_int_equal(g->called, 0); /* never inside http_send */
	assert_int_equal(http_pending(h), 1);
	run_until(l, &g->called, 1);
	assert_int_equal(g->called, 1);
	assert_int_equal(http_pending(h), 0);
	http_close(&h);
	assert_null(h);
	assert_int_equal(g->called, 1);
	loop_close(&l);
}

/* ---- tests ---------------------------------------------------------- */

static void
test_get_headers(void **state)
{
	static const char *const hdrs[] = { "Authorization: Bearer s3cr3t",
		"X-Test: hello", NULL };
	struct http_req          req    = { .method = "GET", .headers = hdrs };
	struct loop             *l;
	struct http             *h;
	struct got               g1, g2;
	struct srv              *s = *state;
	char                     u[256];
	int                      nreq = atomic_load(&s->nreq);

	memset(&g1, 0, sizeof(g1));
	memset(&g2, 0, sizeof(g2));
	url(u, sizeof(u), state, "/echo?q=1&r=2");
	req.url = u;
	assert_int_equal(loop_open(&l), 0);
	assert_int_equal(http_open(&h, l), 0);
	assert_true(http_send(h, &req, done_cb, &g1) > 0);
	run_until(l, &g1.called, 1);
	assert_int_equal(g1.err, 0);
	assert_int_equal(g1.status, 200);
	assert_string_equal(g1.body,
	    "{\"method\":\"GET\",\"path\":"
	    "\"/echo?q=1&r=2\",\"auth\":true,\"x_test\":\"hello\","
	    "\"ctype\":\"\",\"body\":\"\"}");
	assert_non_null(g1.ratelimit);
	assert_string_equal(g1.ratelimit, "42");
	assert_null(g1.retry_after);
	assert_true(g1.elapsed >= 0 && g1.elapsed < WAIT_MS);

	/* The same client again (connection reuse), no headers at all. */
	req.headers = NULL;
	assert_true(http_send(h, &req, done_cb, &g2) > 0);
	run_until(l, &g2.called, 1);
	assert_int_equal(g2.status, 200);
	assert_non_null(strstr(g2.body, "\"auth\":false"));
	assert_int_equal(atomic_load(&s->nreq), nreq + 2);
	assert_int_equal(http_pending(h), 0);
	http_close(&h);
	loop_close(&l);
	assert_int_equal(g1.called, 1);
	got_fini(&g1);
	got_fini(&g2);
}

static void
test_bodies(void **state)
{
	static const char *const hdrs[] = { "Content-Type: application/json",
		"Authorization: token abc", NULL };
	static const char *const methods[] = { "POST", "PATCH", "PUT" };
	struct http_req          req       = { .headers = hdrs };
	struct got               g;
	char                     u[256], *big;
	size_t                   i;

	url(u, sizeof(u), state, "/echo");
	req.url = u;
	for (i = 0; i < nitems(methods); i++) {
		memset(&g, 0, sizeof(g));
		req.method   = methods[i];
		req.body     = "{\"title\":\"x\",\"n\":1}";
		req.body_len = strlen(req.body);
		fetch(&req, &g);
		assert_int_equal(g.status, 200);
		assert_non_null(strstr(g.body, methods[i]));
		assert_non_null(strstr(g.body, "\"auth\":true"));
		assert_non_null(
		    strstr(g.body, "\"ctype\":\"application/json\""));
		assert_non_null(strstr(g.body,
		    "\"body\":\"{\\\"title\\\":\\\"x\\\",\\\"n\\\":1}\""));
		got_fini(&g);
	}

	/* DELETE without a body, POST with an empty one. */
	memset(&g, 0, sizeof(g));
	req.method   = "DELETE";
	req.body     = NULL;
	req.body_len = 0;
	fetch(&req, &g);
	assert_int_equal(g.status, 200);
	assert_non_null(strstr(g.body, "\"method\":\"DELETE\""));
	assert_non_null(strstr(g.body, "\"body\":\"\""));
	got_fini(&g);
	req.method = "POST";
	fetch(&req, &g);
	assert_non_null(strstr(g.body, "\"method\":\"POST\""));
	got_fini(&g);

	/* Binary and larger than curl's Expect: 100-continue threshold. */
	big = xmalloc(300000);
	for (i = 0; i < 300000; i++)
		big[i] = (char) (i * 7);
	url(u, sizeof(u), state, "/raw");
	req.method   = "POST";
	req.headers  = NULL;
	req.body     = big;
	req.body_len = 300000;
	fetch(&req, &g);
	assert_int_equal(g.err, 0);
	assert_int_equal(g.status, 200);
	assert_int_equal(g.body_len, 300000);
	assert_memory_equal(g.body, big, 300000);
	got_fini(&g);

	/* A body exactly at max_response is fine. */
	req.body_len     = 1000;
	req.max_response = 1000;
	fetch(&req, &g);
	assert_int_equal(g.err, 0);
	assert_int_equal(g.body_len, 1000);
	got_fini(&g);
	free(big);
}

static void
test_status_codes(void **state)
{
	struct http_req req = { .method = "GET" };
	struct got      g;
	char            u[256];

	memset(&g, 0, sizeof(g));
	req.url = u;
	url(u, sizeof(u), state, "/nocontent");
	fetch(&req, &g);
	assert_int_equal(g.err, 0);
	assert_int_equal(g.status, 204);
	assert_int_equal(g.body_len, 0);
	got_fini(&g);

	url(u, sizeof(u), state, "/ratelimit");
	fetch(&req, &g);
	assert_int_equal(g.err, 0);
	assert_int_equal(g.status, 429);
	assert_non_null(g.retry_after);
	assert_string_equal(g.retry_after, "7");
	assert_string_equal(g.body, "slow down");
	got_fini(&g);

	url(u, sizeof(u), state, "/nowhere");
	fetch(&req, &g);
	assert_int_equal(g.status, 404);
	got_fini(&g);

	/* Redirects are reported, not followed. */
	url(u, sizeof(u), state, "/redirect");
	fetch(&req, &g);
	assert_int_equal(g.status, 302);
	assert_non_null(g.location);
	assert_string_equal(g.location, "/echo");
	got_fini(&g);

	/* Headers of a 1xx interim response do not leak into the final. */
	url(u, sizeof(u), state, "/interim");
	fetch(&req, &g);
	assert_int_equal(g.status, 200);
	assert_non_null(g.final);
	assert_null(g.interim);
	assert_string_equal(g.body, "ok");
	got_fini(&g);
}

struct tick {
	struct http *h;
	int          fired;
	size_t       pending;
};

static void
tick_cb(struct loop *l, void *arg)
{
	struct tick *t = arg;

	UNUSED(l);
	t->fired++;
	t->pending = http_pending(t->h);
}

static void
test_timeout(void **state)
{
	struct http_req req = { .method = "GET", .timeout_ms = 1000 };
	struct loop    *l;
	struct http    *h;
	struct got      g;
	struct tick     t;
	char            u[256];

	memset(&g, 0, sizeof(g));
	memset(&t, 0, sizeof(t));
	url(u, sizeof(u), state, "/slow");
	req.url = u;
	assert_int_equal(loop_open(&l), 0);
	assert_int_equal(http_open(&h, l), 0);
	t.h = h;
	assert_true(http_send(h, &req, done_cb, &g) > 0);
	loop_timer(l, 50, tick_cb, &t);
	run_until(l, &g.called, 1);
	/* The loop kept running while the request was pending. */
	assert_int_equal(t.fired, 1);
	assert_int_equal(t.pending, 1);
	assert_int_equal(g.err, ERR_TIMEOUT);
	assert_int_equal(g.status, 0);
	assert_true(g.errmsg[0] != '\0');
	assert_true(g.elapsed >= 500 && g.elapsed < WAIT_MS);
	http_close(&h);
	loop_close(&l);
	got_fini(&g);
}

static void
test_too_big(void **state)
{
	struct http_req req = { .method = "GET", .max_response = 100000 };
	struct got      g;
	char            u[256];

	memset(&g, 0, sizeof(g));
	req.url = u;
	url(u, sizeof(u), state, "/huge"); /* chunked: write callback */
	fetch(&req, &g);
	assert_int_equal(g.err, ERR_TOOBIG);
	assert_int_equal(g.status, 0);
	assert_int_equal(g.body_len, 0);
	assert_true(g.errmsg[0] != '\0');
	got_fini(&g);

	url(u, sizeof(u), state, "/hugecl"); /* Content-Length too big */
	fetch(&req, &g);
	assert_int_equal(g.err, ERR_TOOBIG);
	got_fini(&g);

	req.max_response = 10;
	url(u, sizeof(u), state, "/echo");
	fetch(&req, &g);
	assert_int_equal(g.err, ERR_TOOBIG);
	got_fini(&g);
}

static void
test_transport_errors(void **state)
{
	struct http_req req = { .method = "GET" };
	struct got      g;
	char            u[256];

	memset(&g, 0, sizeof(g));
	req.url = u;
	url(u, sizeof(u), state, "/reset");
	fetch(&req, &g);
	assert_int_equal(g.err, ERR_IO);
	assert_int_equal(g.status, 0);
	assert_true(g.errmsg[0] != '\0');
	got_fini(&g);

	snprintf(u, sizeof(u), "http://127.0.0.1:%d/echo", unused_port());
	fetch(&req, &g);
	assert_int_equal(g.err, ERR_IO);
	assert_int_equal(g.status, 0);
	assert_true(g.errmsg[0] != '\0');
	got_fini(&g);

	/* Only http and https. */
	snprintf(u, sizeof(u), "file:///etc/passwd");
	fetch(&req, &g);
	assert_int_equal(g.err, ERR_IO);
	assert_int_equal(g.body_len, 0);
	got_fini(&g);
}

static void
test_concurrent(void **state)
{
	struct http_req req = { .method = "GET" };
	struct loop    *l;
	struct http    *h;
	struct got      g[20];
	char            u[nitems(g)][256], want[64];
	int             count = 0;
	size_t          i;

	memset(g, 0, sizeof(g));
	assert_int_equal(loop_open(&l), 0);
	assert_int_equal(http_open(&h, l), 0);
	for (i = 0; i < nitems(g); i++) {
		snprintf(want, sizeof(want), "/echo?i=%zu", i);
		url(u[i], sizeof(u[i]), state, want);
		req.url      = u[i];
		g[i].counter = &count;
		assert_true(http_send(h, &req, done_cb, &g[i]) > 0);
	}
	assert_int_equal(http_pending(h), nitems(g));
	run_until(l, &count, (int) nitems(g));
	for (i = 0; i < nitems(g); i++) {
		assert_int_equal(g[i].called, 1);
		assert_int_equal(g[i].status, 200);
		snprintf(want, sizeof(want), "\"path\":\"/echo?i=%zu\"", i);
		assert_non_null(strstr(g[i].body, want));
		got_fini(&g[i]);
	}
	assert_int_equal(http_pending(h), 0);
	http_close(&h);
	loop_close(&l);
}

static void
test_cancel(void **state)
{
	struct http_req req = { .method = "GET", .timeout_ms = 5000 };
	struct loop    *l;
	struct http    *h;
	struct got      a, b, c, d;
	char            ue[256], us[256];
	uint64_t        ida, idc, idd;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	memset(&d, 0, sizeof(d));
	url(ue, sizeof(ue), state, "/echo");
	url(us, sizeof(us), state, "/slow");
	assert_int_equal(loop_open(&l), 0);
	assert_int_equal(http_open(&h, l), 0);

	/* c: cancelled before it ever ran; d: cancelled while in flight. */
	req.url = ue;
	idc     = http_send(h, &req, done_cb, &c);
	assert_true(idc > 0);
	http_cancel(h, idc);
	http_cancel(h, idc);    /* twice: ignored */
	http_cancel(h, 999999); /* unknown: ignored */
	req.url = us;
	idd     = http_send(h, &req, done_cb, &d);
	assert_true(idd > idc);
	run_for(l, 200);
	assert_int_equal(http_pending(h), 1);
	http_cancel(h, idd);
	assert_int_equal(http_pending(h), 0);

	/* a's callback cancels b (in flight); cancelling a afterwards is
	 * ignored. */
	req.url     = us;
	a.cancel_id = http_send(h, &req, done_cb, &b);
	assert_true(a.cancel_id > 0);
	req.url = ue;
	ida     = http_send(h, &req, done_cb, &a);
	assert_true(ida > 0);
	run_until(l, &a.called, 1);
	assert_int_equal(a.status, 200);
	assert_int_equal(http_pending(h), 0);
	http_cancel(h, ida);
	run_for(l, 200);
	http_close(&h);
	loop_close(&l);
	assert_int_equal(a.called, 1);
	assert_int_equal(b.called, 0);
	assert_int_equal(c.called, 0);
	assert_int_equal(d.called, 0);
	got_fini(&a);
}

static void
test_close_pending(void **state)
{
	struct http_req req = { .method = "GET" };
	struct loop    *l;
	struct http    *h, *alias;
	struct got      g[3], a, b;
	char            ue[256], us[256];
	int             count = 0;
	size_t          i;

	memset(g, 0, sizeof(g));
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	url(ue, sizeof(ue), state, "/echo");
	url(us, sizeof(us), state, "/slow");
	assert_int_equal(loop_open(&l), 0);
	assert_int_equal(http_open(&h, l), 0);
	req.url = us;
	for (i = 0; i < 2; i++) {
		g[i].counter  = &count;
		g[i].try_send = 1; /* refused: the client is closing */
		assert_true(http_send(h, &req, done_cb, &g[i]) > 0);
	}
	run_for(l, 200); /* both in flight on the server */
	g[2].counter = &count;
	assert_true(http_send(h, &req, done_cb, &g[2]) > 0); /* not started */
	assert_int_equal(http_pending(h), 3);
	http_close(&h);
	assert_null(h);
	assert_int_equal(count, 3);
	for (i = 0; i < nitems(g); i++) {
		assert_int_equal(g[i].called, 1);
		assert_int_equal(g[i].err, ERR_CLOSED);
		assert_int_equal(g[i].status, 0);
		assert_int_equal(g[i].send_rv, 0);
		got_fini(&g[i]);
	}
	run_for(l, 50); /* no stray watchers or timers fire into freed h */

	/* Closed from inside a callback while another request is pending. */
	assert_int_equal(http_open(&h, l), 0);
	alias      = h;
	a.close_hp = &alias;
	req.url    = us;
	assert_true(http_send(h, &req, done_cb, &b) > 0);
	req.url = ue;
	assert_true(http_send(h, &req, done_cb, &a) > 0);
	run_until(l, &a.called, 1);
	assert_null(alias);
	h = NULL;
	assert_int_equal(a.status, 200);
	assert_int_equal(b.called, 1);
	assert_int_equal(b.err, ERR_CLOSED);
	run_for(l, 50);
	loop_close(&l);
	got_fini(&a);
	got_fini(&b);
}

static void
test_invalid(void **state)
{
	static const char *const crlf[]    = { "X-A: b\r\nX-Evil: 1", NULL };
	static const char *const nocolon[] = { "X-A b", NULL };
	struct http_req          req       = { .method = "GET" };
	struct loop             *l;
	struct http             *h = NULL;
	struct got               g;
	char                     u[256];

	memset(&g, 0, sizeof(g));
	http_close(&h); /* NULL is a no-op */
	url(u, sizeof(u), state, "/echo");
	assert_int_equal(loop_open(&l), 0);
	assert_int_equal(http_open(&h, l), 0);
	assert_int_equal(http_send(h, NULL, done_cb, &g), 0);
	assert_int_equal(http_send(h, &req, done_cb, &g), 0); /* no url */
	req.url = u;
	assert_int_equal(http_send(h, &req, NULL, &g), 0);
	req.method = "get";
	assert_int_equal(http_send(h, &req, done_cb, &g), 0);
	req.method = "";
	assert_int_equal(http_send(h, &req, done_cb, &g), 0);
	req.method   = "POST";
	req.body_len = 3; /* with a NULL body */
	assert_int_equal(http_send(h, &req, done_cb, &g), 0);
	req.body_len = 0;
	req.headers  = crlf;
	assert_int_equal(http_send(h, &req, done_cb, &g), 0);
	req.headers = nocolon;
	assert_int_equal(http_send(h, &req, done_cb, &g), 0);
	assert_int_equal(http_pending(h), 0);
	run_for(l, 50);
	assert_int_equal(g.called, 0);
	http_close(&h);
	loop_close(&l);
}

static void
test_blocking(void **state)
{
	struct http_req  req = { .method = "GET" };
	struct http_resp r;
	char             u[256];

	url(u, sizeof(u), state, "/echo");
	req.url = u;
	assert_int_equal(http_blocking(&req, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.err, 0);
	assert_non_null(strstr(r.body.data, "\"method\":\"GET\""));
	assert_string_equal(http_header(&r, "X-RateLimit-Remaining"), "42");
	assert_null(http_header(&r, "retry-after"));
	http_resp_fini(&r);

	url(u, sizeof(u), state, "/ratelimit");
	assert_int_equal(http_blocking(&req, &r), 0);
	assert_int_equal(r.status, 429);
	assert_string_equal(http_header(&r, "retry-after"), "7");
	http_resp_fini(&r);

	snprintf(u, sizeof(u), "http://127.0.0.1:%d/", unused_port());
	assert_int_equal(http_blocking(&req, &r), ERR_IO);
	assert_int_equal(r.err, ERR_IO);
	assert_int_equal(r.status, 0);
	assert_true(r.errmsg[0] != '\0');
	http_resp_fini(&r);

	req.method = "bad method";
	assert_int_equal(http_blocking(&req, &r), ERR_INVAL);
	assert_null(http_header(&r, "x"));
	http_resp_fini(&r);
}

/* Neither header values nor query strings nor user info reach the log. */
static void
test_log_redaction(void **state)
{
	static const char *const hdrs[] = { "Authorization: Bearer HSECRET",
		NULL };
	struct http_req          req    = { .method = "GET", .headers = hdrs };
	struct got               g;
	char                     u[256], path[] = "/tmp/test_http_log.XXXXXX";
	char                     text[16384];
	ssize_t                  n;
	int                      fd;
	struct srv              *s = *state;

	memset(&g, 0, sizeof(g));
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(log_init("test_http", path, LOG_DEBUG), 0);
	log_set_stderr(0);
	req.url = u;
	snprintf(u, sizeof(u),
	    "http://user:USECRET@127.0.0.1:%d/echo"
	    "?token=QSECRET#FSECRET",
	    s->port);
	fetch(&req, &g);
	assert_int_equal(g.status, 200);
	got_fini(&g);
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/refused?token=QSECRET",
	    unused_port());
	fetch(&req, &g);
	assert_int_equal(g.err, ERR_IO);
	got_fini(&g);
	log_set_stderr(1);
	assert_int_equal(log_init("test_http", NULL, LOG_INFO), 0);
	n = read(fd, text, sizeof(text) - 1);
	assert_true(n > 0);
	text[n] = '\0';
	close(fd);
	unlink(path);
	assert_non_null(strstr(text, "/echo"));
	assert_non_null(strstr(text, "/refused"));
	assert_null(strstr(text, "SECRET"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_headers),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_status_codes),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_transport_errors),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_close_pending),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_blocking),
		cmocka_unit_test(test_log_redaction),
	};

	return (cmocka_run_group_tests(tests, srv_start, srv_stop));
}
