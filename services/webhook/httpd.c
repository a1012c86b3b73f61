/*
 * httpd.c - the webhook's HTTP/1.1 server, on the service loop.
 *
 * Why not nng's HTTP server (which this replaced): nng 1.5.2 reads a
 * request head with no deadline at all (http_server.c: nni_http_read_req
 * on an aio without a timeout), so a client whose headers trickle in keeps
 * a connection open for ever, and its status table lacks 413 ("Unknown
 * HTTP Status").  Here every stage has a deadline:
 *
 *   state  waits for                      deadline (mono ms)        then
 *   HEAD   request line + headers         header_timeout from the   408 +
 *          (at most HEAD_MAX bytes,       accept or the first byte  close
 *          HEADERS_MAX headers: 431)      of a request; between     (none:
 *                                         requests idle_timeout     close)
 *   BODY   Content-Length bytes           body_timeout from the     408 +
 *                                         end of the head           close
 *   WRITE  the answer to leave            WRITE_MS                  close
 *   LINGER the peer's FIN after our       LINGER_MS                 close
 *          shutdown (a body we refused
 *          keeps arriving: drained, so
 *          the client reads the answer,
 *          not a reset)
 *
 * Framing: a POST needs Content-Length (RFC 9112 6.3); Transfer-Encoding
 * (chunked) or no length gets 411 before any of it is read, as does a
 * length over max_body (413): the body is never read then and the
 * connection closes after the answer.  Expect: 100-continue gets its
 * interim answer before the body is read.  Keep-alive and pipelining
 * work; answers leave in request order (a request is parsed only once the
 * previous answer is out).  At most max_connections at once; more are
 * closed at accept.  Answers carry their reason phrase (RFC 9110 15).
 *
 * Everything runs on the loop thread: POSTs to /github, /plane and
 * /ingest (error reports, ingest_max_body) are
 * classified (hook.c) and handed to cfg.decide synchronously, which
 * answers through httpd_reply().  GET /healthz and /metrics are answered
 * here.  Nothing is logged from a request but what decide logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "opc/err.h"
#include "opc/log.h"
#include "opc/loop.h"
#include "webhook.h"

#define HEAD_MAX (16 * 1024)
#define HEADERS_MAX 64
#define READ_CHUNK 65536
#define WRITE_MS 10000
#define LINGER_MS 1000
#define SWEEP_MS 200

enum cstate { C_HEAD, C_BODY, C_WRITE, C_LINGER };

struct hconn {
	struct hconn *next;
	struct httpd *hd;
	int           fd;
	enum cstate   state;
	struct buf    in;
	struct buf    out;
	size_t        out_off;
	int64_t       deadline; /* mono ms: see the table above */
	bool          started;  /* a byte of the current request arrived */
	bool          keep;     /* keep-alive after this answer */
	bool          eof;      /* the peer has shut down its side */
	bool          dead;     /* closed: freed by the sweep */
	/* the request whose body is awaited (BODY) */
	char         *head;     /* its head, NUL-terminated copy */
	size_t        head_len; /* bytes of in the head takes, CRLFCRLF too */
	size_t        body_len;
	enum hook_src src;
	struct hreq  *hr; /* being decided */
};

struct hreq {
	struct hconn       *c;
	struct hook_verdict v;
};

struct httpd {
	struct httpd_cfg cfg;
	struct loop     *loop;
	int              lfd;
	struct hconn    *conns;
	int              nconns;
	bool             paused; /* not accepting until the next sweep */
	uint64_t         sweep;
	_Atomic int64_t  last_tick; /* mono ms of the loop's last tick */
	char             url[128];
};

static const struct {
	int         status;
	const char *reason;
} reasons[] = {
	{ 100, "Continue" },
	{ 200, "OK" },
	{ 202, "Accepted" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 408, "Request Timeout" },
	{ 411, "Length Required" },
	{ 413, "Content Too Large" },
	{ 415, "Unsupported Media Type" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 503, "Service Unavailable" },
	{ 505, "HTTP Version Not Supported" },
};

static const char *
reason(int status)
{
	size_t i;

	for (i = 0; i < nitems(reasons); i++)
		if (reasons[i].status == status)
			return (reasons[i].reason);
	return (status < 300 ? "OK" : status < 500 ? "Bad Request" : "Error");
}

static void conn_io(struct loop *, int, short, void *);
static void on_accept(struct loop *, int, short, void *);
static void process(struct hconn *c);

static void
conn_close(struct hconn *c)
{
	if (c->dead)
		return;
	loop_del_fd(c->hd->loop, c->fd);
	(void) close(c->fd);
	c->fd   = -1;
	c->dead = true;
	c->hd->nconns--;
}

static void
conn_free(struct hconn *c)
{
	if (c->hr != NULL) {
		hook_verdict_fini(&c->hr->v);
		free(c->hr);
	}
	buf_fini(&c->in);
	buf_fini(&c->out);
	free(c->head);
	free(c);
}

static void
watch(struct hconn *c)
{
	short ev = 0;

	if (c->dead)
		return;
	if (c->out.len > c->out_off)
		ev |= POLLOUT;
	/* stop reading a peer that does not read our answers */
	if (!c->eof && (c->out.len == c->out_off || c->state == C_LINGER))
		ev |= POLLIN;
	(void) loop_add_fd(c->hd->loop, c->fd, ev, conn_io, c);
}

/* flush writes what it can of c->out; when all is out, the connection
 * lingers (closing) or waits for its next request. */
static void
flush(struct hconn *c)
{
	ssize_t n;

	while (c->out_off < c->out.len) {
		n = send(c->fd, c->out.data + c->out_off,
		    c->out.len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			conn_close(c);
			return;
		}
		c->out_off += (size_t) n;
	}
	buf_reset(&c->out);
	c->out_off = 0;
	if (c->state != C_WRITE)
		return; /* a 100 Continue: the body comes next */
	if (!c->keep || (c->eof && c->in.len == 0)) {
		if (c->eof) {
			conn_close(c);
			return;
		}
		(void) shutdown(c->fd, SHUT_WR);
		c->state    = C_LINGER;
		c->deadline = mono_ms() + LINGER_MS;
		return;
	}
	/* the caller's process() takes a pipelined request next */
	c->state    = C_HEAD;
	c->started  = c->in.len > 0;
	c->deadline = mono_ms() +
	    (c->started ? c->hd->cfg.header_timeout_ms
	                : c->hd->cfg.idle_timeout_ms);
}

/* respond queues one whole answer and consumes the request's bytes. */
static void
respond(struct hconn *c, int status, const char *ctype, const char *body,
    size_t len, bool close, size_t consumed, const char *allow)
{
	char      date[64];
	time_t    t = time(NULL);
	struct tm tm;

	if (close)
		c->keep = false;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	buf_printf(&c->out,
	    "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n",
	    status, reason(status), date, ctype, len);
	if (allow != NULL)
		buf_printf(&c->out, "Allow: %s\r\n", allow);
	if (!c->keep)
		buf_puts(&c->out, "Connection: close\r\n");
	buf_puts(&c->out, "\r\n");
	buf_append(&c->out, body, len);
	if (consumed > c->in.len)
		consumed = c->in.len;
	memmove(c->in.data, c->in.data + consumed, c->in.len - consumed);
	c->in.len -= consumed;
	free(c->head);
	c->head     = NULL;
	c->state    = C_WRITE;
	c->deadline = mono_ms() + WRITE_MS;
	flush(c);
}

static void
respond_text(struct hconn *c, int status, const char *text, bool close,
    size_t consumed, const char *allow)
{
	char line[256];
	int  n = snprintf(line, sizeof(line), "%s\n", text);

	respond(c, status, "text/plain; charset=utf-8", line,
	    n > 0 && (size_t) n < sizeof(line) ? (size_t) n : 0, close,
	    consumed, allow);
}

void
httpd_reply(struct hreq *hr, int status, const char *text)
{
	struct hconn *c = hr->c;
	size_t        consumed =
            c->state == C_BODY ? c->head_len + c->body_len : c->in.len;

	/* a refused request closes (refuse() cleared keep): its body, if
	 * any, was never read */
	c->hr = NULL;
	hook_verdict_fini(&hr->v);
	free(hr);
	respond_text(c, status, text, !c->keep, consumed, NULL);
}

/* hand gives a verdict to decide, which answers through httpd_reply. */
static void
hand(struct hconn *c, struct hreq *hr)
{
	struct httpd *hd = c->hd;

	c->hr = hr;
	hd->cfg.decide(hr, &hr->v, hd->cfg.arg);
	if (c->hr == hr) { /* a decide that did not answer: never hang */
		log_error("webhook.http", "request left unanswered");
		httpd_reply(hr, 500, "Internal error");
	}
}

/* refuse cuts a request off for its framing: counted and logged by
 * decide, then closed. */
static void
refuse(struct hconn *c, int status, const char *text, const char *counter,
    const char *event, const char *delivery, size_t size)
{
	struct hreq *hr = xcalloc(1, sizeof(*hr));

	hr->c   = c;
	c->keep = false;
	hook_reject(&hr->v, status, text, counter, event, delivery, size);
	hand(c, hr);
}

static bool
is_tchar(int ch)
{
	return ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

struct head {
	char       *method, *target, *path;
	int         minor;
	const char *name[HEADERS_MAX];
	const char *value[HEADERS_MAX];
	size_t      n;
};

static const char *
hdr(const struct head *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (strcasecmp(h->name[i], name) == 0)
			return (h->value[i]);
	return (NULL);
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return (s);
}

/* parse splits the head text (NUL-terminated, CRLFs inside) into h.
 * Returns 0 or the status to refuse it with. */
static int
parse(char *text, struct head *h)
{
	char *line = text, *next, *sp1, *sp2, *colon, *p;

	memset(h, 0, sizeof(*h));
	if ((next = strstr(line, "\r\n")) != NULL) {
		*next = '\0';
		next += 2;
	}
	/* request-line = method SP request-target SP HTTP-version */
	if ((sp1 = strchr(line, ' ')) == NULL ||
	    (sp2 = strchr(sp1 + 1, ' ')) == NULL || strchr(sp2 + 1, ' '))
		return (400);
	*sp1 = *sp2 = '\0';
	h->method   = line;
	for (p = line; *p != '\0'; p++)
		if (!is_tchar((unsigned char) *p))
			return (400);
	h->target = sp1 + 1;
	if (*line == '\0' || h->target[0] != '/')
		return (400);
	for (p = h->target; *p != '\0'; p++)
		if ((unsigned char) *p <= 0x20 || *p == 0x7f)
			return (400);
	if (strcmp(sp2 + 1, "HTTP/1.1") == 0)
		h->minor = 1;
	else if (strcmp(sp2 + 1, "HTTP/1.0") == 0)
		h->minor = 0;
	else
		return (strncmp(sp2 + 1, "HTTP/", 5) == 0 ? 505 : 400);
	for (line = next; line != NULL && *line != '\0'; line = next) {
		if ((next = strstr(line, "\r\n")) != NULL) {
			*next = '\0';
			next += 2;
		}
		if (*line == ' ' || *line == '\t') /* obs-fold */
			return (400);
		if ((colon = strchr(line, ':')) == NULL || colon == line)
			return (400);
		*colon = '\0';
		for (p = line; *p != '\0'; p++)
			if (!is_tchar((unsigned char) *p))
				return (400);
		for (p = colon + 1; *p != '\0'; p++)
			if (((unsigned char) *p < 0x20 && *p != '\t') ||
			    *p == 0x7f)
				return (400);
		if (h->n == HEADERS_MAX)
			return (431);
		h->name[h->n]    = line;
		h->value[h->n++] = trim(colon + 1);
	}
	if (h->minor == 1 && hdr(h, "Host") == NULL)
		return (400);
	return (0);
}

/* content_length reads every Content-Length of h (they must agree):
 * 1 with *len, 0 when there is none, -1 when malformed. */
static int
content_length(const struct head *h, uint64_t *len)
{
	uint64_t n;
	size_t   i;
	int      have = 0;

	*len = 0;
	for (i = 0; i < h->n; i++) {
		if (strcasecmp(h->name[i], "Content-Length") != 0)
			continue;
		if (hook_length(h->value[i], &n) != 0 || (have && n != *len))
			return (-1);
		*len = n;
		have = 1;
	}
	return (have);
}

static void
get(struct hconn *c, const struct head *h, size_t consumed)
{
	struct httpd *hd = c->hd;
	char         *text;

	if (strcmp(h->path, "/healthz") == 0) {
		if (mono_ms() - atomic_load(&hd->last_tick) < 5000)
			respond_text(c, 200, "ok", false, consumed, NULL);
		else
			respond_text(c, 503, "service loop not running", false,
			    consumed, NULL);
		return;
	}
	if ((text = metrics_text(hd->cfg.metrics)) == NULL) {
		respond_text(
		    c, 503, "metrics not gathered yet", false, consumed, NULL);
		return;
	}
	respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", text,
	    strlen(text), false, consumed, NULL);
	free(text);
}

/* post decides what a POST to /github, /plane or /ingest needs: its body
 * (BODY), or an answer now. */
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

static void
post(struct hconn *c, const struct head *h, enum hook_src src)
{
	const char *ev     = hdr(h, event_hdr(src));
	const char *id     = hdr(h, delivery_hdr(src));
	const char *expect = hdr(h, "Expect");
	uint64_t    len;
	int         cl = content_length(h, &len);

	if (hdr(h, "Transfer-Encoding") != NULL || cl == 0) {
		/* chunked, or a body of unknown length: refused unread */
		refuse(c, 411, "Content-Length required", "length_required",
		    ev, id, 0);
		return;
	}
	if (cl < 0) {
		refuse(c, 400, "Bad Content-Length", "malformed", ev, id, 0);
		return;
	}
	if (len > max_body(c->hd, src)) {
		refuse(c, 413, "Payload too large", "oversized", ev, id,
		    (size_t) (len > SIZE_MAX ? SIZE_MAX : len));
		return;
	}
	c->src      = src;
	c->body_len = (size_t) len;
	c->state    = C_BODY;
	c->deadline = mono_ms() + c->hd->cfg.body_timeout_ms;
	if (expect != NULL && strcasecmp(expect, "100-continue") == 0 &&
	    c->in.len < c->head_len + c->body_len && h->minor == 1) {
		buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
		flush(c);
	}
}

/* head_done handles a complete request head at the start of c->in. */
static void
head_done(struct hconn *c, size_t hlen)
{
	struct head h;
	const char *conn;
	char       *q, *text;
	uint64_t    len;
	bool        body;
	int         st;

	free(c->head);
	c->head = xstrndup(c->in.data, hlen); /* kept whole for body_done */
	c->head_len = hlen + 4;
	text        = xstrdup(c->head);
	if ((st = parse(text, &h)) != 0) {
		refuse(c, st,
		    st == 431       ? "Request header fields too large"
		        : st == 505 ? "HTTP version not supported"
		                    : "Bad request",
		    "malformed", NULL, NULL, 0);
		free(text);
		return;
	}
	conn    = hdr(&h, "Connection");
	c->keep = h.minor == 1
	    ? !(conn != NULL && strcasecmp(conn, "close") == 0)
	    : false;
	h.path  = h.target;
	if ((q = strchr(h.path, '?')) != NULL)
		*q = '\0'; /* a hook URL may carry a query; routes ignore it */
	/* a body we do not read closes the connection after the answer */
	body = hdr(&h, "Transfer-Encoding") != NULL ||
	    content_length(&h, &len) < 0 || len > 0;
	if (strcmp(h.path, "/github") == 0 || strcmp(h.path, "/plane") == 0 ||
	    strcmp(h.path, "/ingest") == 0) {
		if (strcmp(h.method, "POST") == 0)
			post(c, &h,
			    h.path[1] == 'g'       ? HOOK_GITHUB
			        : h.path[1] == 'p' ? HOOK_PLANE
			                           : HOOK_INGEST);
		else
			respond_text(c, 405, "Method not allowed", body,
			    c->head_len, "POST");
	} else if (strcmp(h.path, "/healthz") == 0 ||
	    strcmp(h.path, "/metrics") == 0) {
		if (strcmp(h.method, "GET") == 0 && !body)
			get(c, &h, c->head_len);
		else
			respond_text(c, 405, "Method not allowed", body,
			    c->head_len, "GET");
	} else
		respond_text(c, 404, "Not found", body, c->head_len, NULL);
	free(text);
}

/* body_done classifies the request whose body is complete. */
static void
body_done(struct hconn *c)
{
	struct httpd   *hd = c->hd;
	struct hreq    *hr = xcalloc(1, sizeof(*hr));
	struct hook_req r;
	struct head     h;
	char           *text = xstrdup(c->head);
	bool            pl   = c->src == HOOK_PLANE;

	(void) parse(text, &h); /* parsed before: cannot fail */
	memset(&r, 0, sizeof(r));
	r.src          = c->src;
	r.content_type = hdr(&h, "Content-Type");
	r.signature =
	    hdr(&h, pl ? "X-Plane-Signature" : "X-Hub-Signature-256");
	r.event    = hdr(&h, event_hdr(c->src));
	r.delivery = hdr(&h, delivery_hdr(c->src));
	r.body     = c->in.data + c->head_len;
	r.len      = c->body_len;
	hr->c      = c;
	hook_classify(&hr->v, &r,
	    c->src == HOOK_GITHUB ? hd->cfg.github_secret
	        : pl              ? hd->cfg.plane_secret
	                          : hd->cfg.ingest_secret,
	    hd->cfg.insecure, max_body(hd, c->src));
	free(text);
	hand(c, hr);
}

/* head_end finds the CRLFCRLF that ends a head in s[0..n), or NULL. */
static char *
head_end(char *s, size_t n)
{
	size_t i;

	for (i = 0; i + 3 < n; i++)
		if (s[i] == '\r' && memcmp(s + i, "\r\n\r\n", 4) == 0)
			return (s + i);
	return (NULL);
}

/* process advances c on what has arrived, while no answer is pending. */
static void
process(struct hconn *c)
{
	char  *end;
	size_t scan;

	while (!c->dead && c->out.len == 0) {
		if (c->state == C_HEAD) {
			if (c->in.len == 0)
				return;
			scan = c->in.len < HEAD_MAX + 4 ? c->in.len
			                                : HEAD_MAX + 4;
			end  = head_end(c->in.data, scan);
			if (end == NULL) {
				if (c->in.len >= HEAD_MAX + 4)
					refuse(c, 431,
					    "Request header fields too large",
					    "malformed", NULL, NULL, 0);
				else if (c->eof)
					conn_close(c);
				return;
			}
			if (memchr(c->in.data, '\0',
			        (size_t) (end - c->in.data)) != NULL) {
				refuse(c, 400, "Bad request", "malformed",
				    NULL, NULL, 0);
				return;
			}
			head_done(c, (size_t) (end - c->in.data));
		} else if (c->state == C_BODY) {
			if (c->in.len < c->head_len + c->body_len) {
				if (c->eof)
					conn_close(c);
				return;
			}
			body_done(c);
		} else
			return;
	}
}

static void
conn_read(struct hconn *c)
{
	char    chunk[READ_CHUNK];
	size_t  cap;
	ssize_t n;
	int     reads;

	for (reads = 0; reads < 16 && !c->dead; reads++) {
		n = read(c->fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			c->eof = true;
			if (c->state == C_LINGER ||
			    (c->state == C_HEAD && c->in.len == 0))
				conn_close(c);
			break;
		}
		if (c->state == C_LINGER)
			continue; /* drained */
		if (c->state == C_HEAD && !c->started) {
			/* the head deadline runs from its first byte */
			c->started  = true;
			c->deadline = mono_ms() + c->hd->cfg.header_timeout_ms;
		}
		buf_append(&c->in, chunk, (size_t) n);
		/* bounded: one head (and slack), one body */
		cap = c->state == C_BODY ? c->head_len + c->body_len
		                         : HEAD_MAX + READ_CHUNK;
		if (c->in.len >= cap)
			break;
	}
}

static void
conn_io(struct loop *loop, int fd, short revents, void *arg)
{
	struct hconn *c = arg;

	UNUSED(loop);
	UNUSED(fd);
	if (c->dead)
		return;
	if (revents & POLLOUT)
		flush(c);
	if (!c->dead && (revents & (POLLIN | POLLHUP | POLLERR)))
		conn_read(c);
	if (!c->dead)
		process(c);
	watch(c);
}

/* sweep enforces the deadlines and frees closed connections. */
static void
sweep(struct loop *loop, void *arg)
{
	struct httpd  *hd  = arg;
	struct hconn **cp  = &hd->conns, *c;
	int64_t        now = mono_ms();

	while ((c = *cp) != NULL) {
		if (!c->dead && now >= c->deadline) {
			if ((c->state == C_HEAD && c->started) ||
			    c->state == C_BODY) {
				refuse(c, 408, "Request timeout", "timeouts",
				    NULL, NULL, 0);
				watch(c);
			} else
				conn_close(
				    c); /* idle, or a peer not reading */
		}
		if (c->dead) {
			*cp = c->next;
			conn_free(c);
			continue;
		}
		cp = &c->next;
	}
	if (hd->paused) {
		hd->paused = false;
		(void) loop_add_fd(loop, hd->lfd, POLLIN, on_accept, hd);
	}
	hd->sweep = loop_timer(loop, SWEEP_MS, sweep, hd);
}

static void
on_accept(struct loop *loop, int lfd, short revents, void *arg)
{
	struct httpd *hd = arg;
	struct hconn *c;
	int           fd, refused = 0;

	UNUSED(loop);
	UNUSED(revents);
	while ((fd = accept(lfd, NULL, NULL)) >= 0) {
		if (hd->nconns >= hd->cfg.max_connections ||
		    fcntl(fd, F_SETFL, O_NONBLOCK) != 0 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
			(void) close(fd);
			refused++;
			continue;
		}
		c       = xcalloc(1, sizeof(*c));
		c->hd   = hd;
		c->fd   = fd;
		c->keep = true;
		buf_init(&c->in);
		buf_init(&c->out);
		c->deadline = mono_ms() + hd->cfg.header_timeout_ms;
		c->next     = hd->conns;
		hd->conns   = c;
		hd->nconns++;
		watch(c);
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
	    errno != ECONNABORTED && !hd->paused) {
		/* out of fds (EMFILE...): the listener would stay readable
		 * and spin the loop; the sweep listens again */
		log_warn("webhook.http", "accept: %s", strerror(errno));
		hd->paused = true;
		(void) loop_add_fd(hd->loop, lfd, 0, on_accept, hd);
	}
	if (refused > 0) {
		if (hd->cfg.count != NULL)
			hd->cfg.count(
			    "connections_refused", refused, hd->cfg.arg);
		log_warn("webhook.http",
		    "%d connection(s) refused: %d open (max_connections)",
		    refused, hd->nconns);
	}
}

/* listen_on parses http://host:port and binds it. */
static int
listen_on(struct httpd *hd, const char *url)
{
	struct addrinfo         hints, *ai = NULL, *a;
	struct sockaddr_storage ss;
	socklen_t               sl = sizeof(ss);
	char                    host[256], port[16], shown[300];
	const char             *p, *e;
	int                     one = 1, fd = -1, rv;

	if (strncmp(url, "http://", 7) != 0)
		goto bad;
	p = url + 7;
	if (*p == '[') { /* [v6]:port */
		if ((e = strchr(p, ']')) == NULL || e[1] != ':')
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int) (e - p - 1), p + 1);
		p = e + 2;
	} else {
		if ((e = strrchr(p, ':')) == NULL)
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int) (e - p), p);
		p = e + 1;
	}
	if (*p == '\0' || strlen(p) >= sizeof(port) ||
	    strspn(p, "0123456789") != strlen(p) || atoi(p) > 65535)
		goto bad;
	snprintf(port, sizeof(port), "%s", p);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family   = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags    = AI_PASSIVE | AI_NUMERICSERV;
	if ((rv = getaddrinfo(*host ? host : NULL, port, &hints, &ai)) != 0) {
		log_error(
		    "webhook.config", "listen: %s: %s", url, gai_strerror(rv));
		return (ERR_CONFIG);
	}
	for (a = ai; a != NULL; a = a->ai_next) {
		fd = socket(a->ai_family,
		    a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    a->ai_protocol);
		if (fd < 0)
			continue;
		(void) setsockopt(
		    fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 &&
		    listen(fd, 128) == 0)
			break;
		(void) close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		log_error(
		    "webhook.http", "listen %s: %s", url, strerror(errno));
		return (ERR_IO);
	}
	hd->lfd = fd;
	if (getsockname(fd, (struct sockaddr *) &ss, &sl) == 0 &&
	    getnameinfo((struct sockaddr *) &ss, sl, shown, sizeof(shown),
	        port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		snprintf(hd->url, sizeof(hd->url),
		    ss.ss_family == AF_INET6 ? "http://[%s]:%s"
		                             : "http://%s:%s",
		    shown, port);
	else
		snprintf(hd->url, sizeof(hd->url), "%s", url);
	return (0);
bad:
	log_error("webhook.config",
	    "listen: bad url %s: want http://host:port", url);
	return (ERR_CONFIG);
}

int
httpd_open(struct httpd **hp, struct loop *loop, const struct httpd_cfg *cfg)
{
	struct httpd *hd;
	int           rv;

	*hp      = NULL;
	hd       = xcalloc(1, sizeof(*hd));
	hd->cfg  = *cfg;
	hd->loop = loop;
	hd->lfd  = -1;
	if (hd->cfg.header_timeout_ms <= 0)
		hd->cfg.header_timeout_ms = 10000;
	if (hd->cfg.body_timeout_ms <= 0)
		hd->cfg.body_timeout_ms = 30000;
	if (hd->cfg.idle_timeout_ms <= 0)
		hd->cfg.idle_timeout_ms = 60000;
	if (hd->cfg.max_connections <= 0)
		hd->cfg.max_connections = 64;
	atomic_store(&hd->last_tick, mono_ms());
	if ((rv = listen_on(hd, cfg->listen)) != 0 ||
	    (rv = loop_add_fd(loop, hd->lfd, POLLIN, on_accept, hd)) != 0)
		goto fail;
	hd->sweep = loop_timer(loop, SWEEP_MS, sweep, hd);
	*hp       = hd;
	return (0);

fail:
	httpd_close(&hd, loop);
	return (rv);
}

void
httpd_close(struct httpd **hp, struct loop *loop)
{
	struct httpd *hd = *hp;
	struct hconn *c, *next;

	if (hd == NULL)
		return;
	for (c = hd->conns; c != NULL; c = next) {
		next = c->next;
		conn_close(c);
		conn_free(c);
	}
	if (hd->sweep != 0 && loop != NULL)
		loop_timer_cancel(loop, hd->sweep);
	if (hd->lfd >= 0) {
		if (loop != NULL)
			loop_del_fd(loop, hd->lfd);
		(void) close(hd->lfd);
	}
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
