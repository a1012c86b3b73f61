/*
 * httpsrv.c - a small HTTP/1.1 server on a service loop (opc-webhook,
 * opc-dash).
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
 *   STREAM the peer to leave (a stream    none; a peer that lets    close
 *          answer: server-sent events)    stream_backlog bytes
 *                                         pile up is closed
 *   LINGER the peer's FIN after our       LINGER_MS                 close
 *          shutdown (a body we refused
 *          keeps arriving: drained, so
 *          the client reads the answer,
 *          not a reset)
 *
 * Framing: a request whose body the owner wants (cfg.body_max) needs
 * Content-Length (RFC 9112 6.3); Transfer-Encoding (chunked) or no length
 * gets 411 before any of it is read, as does a length over the limit
 * (413): the body is never read then and the connection closes after the
 * answer.  Expect: 100-continue gets its interim answer before the body is
 * read.  Keep-alive and pipelining work; answers leave in request order (a
 * request is parsed only once the previous answer is out).  At most
 * max_connections at once; more are closed at accept.  Answers carry their
 * reason phrase (RFC 9110 15).  Nothing is logged from a request: the
 * owner's callbacks decide what to log.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "opc/err.h"
#include "opc/httpsrv.h"
#include "opc/log.h"
#include "opc/loop.h"
#include "opc/util.h"

#define HEAD_MAX HTTPSRV_HEAD_MAX
#define HEADERS_MAX HTTPSRV_HEADERS_MAX
#define READ_CHUNK 65536
#define WRITE_MS 10000
#define LINGER_MS 1000
#define SWEEP_MS 200

enum cstate { C_HEAD, C_BODY, C_WRITE, C_STREAM, C_LINGER };

struct httpsrv_conn {
	struct httpsrv_conn *next;
	struct httpsrv      *hs;
	int                  fd;
	enum cstate          state;
	struct buf           in;
	struct buf           out;
	size_t               out_off;
	int64_t              deadline; /* mono ms: see the table above */
	bool                 started;  /* a byte of the current request came */
	bool                 keep;     /* keep-alive after this answer */
	bool                 eof;      /* the peer has shut down its side */
	bool                 dead;     /* closed: freed by the sweep */
	bool                 pending;  /* a request awaits its answer */
	bool                 head_only; /* that request is a HEAD */
	/* the request whose body is awaited (BODY) */
	char  *head;     /* its head, NUL-terminated copy */
	size_t head_len; /* bytes of in the head takes, CRLFCRLF too */
	size_t body_len;
};

struct httpsrv {
	struct httpsrv_cfg   cfg;
	struct loop         *loop;
	int                  lfd;
	struct httpsrv_conn *conns;
	int                  nconns;
	bool                 paused; /* not accepting until the next sweep */
	uint64_t             sweep;
	char                 tag[64]; /* "<cfg.tag>.http" */
	char                 url[128];
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
	{ 403, "Forbidden" },
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
static void process(struct httpsrv_conn *c);

static void
conn_close(struct httpsrv_conn *c)
{
	if (c->dead)
		return;
	loop_del_fd(c->hs->loop, c->fd);
	(void) close(c->fd);
	c->fd   = -1;
	c->dead = true;
	c->hs->nconns--;
	if (c->state == C_STREAM && c->hs->cfg.closed != NULL)
		c->hs->cfg.closed(c, c->hs->cfg.arg);
}

static void
conn_free(struct httpsrv_conn *c)
{
	buf_fini(&c->in);
	buf_fini(&c->out);
	free(c->head);
	free(c);
}

static void
watch(struct httpsrv_conn *c)
{
	short ev = 0;

	if (c->dead)
		return;
	if (c->out.len > c->out_off)
		ev |= POLLOUT;
	/* stop reading a peer that does not read our answers; a stream
	 * reads (and drops) to hear the peer leave */
	if (!c->eof &&
	    (c->out.len == c->out_off || c->state == C_LINGER ||
	        c->state == C_STREAM))
		ev |= POLLIN;
	(void) loop_add_fd(c->hs->loop, c->fd, ev, conn_io, c);
}

/* flush writes what it can of c->out; when all is out, the connection
 * lingers (closing) or waits for its next request. */
static void
flush(struct httpsrv_conn *c)
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
		return; /* a 100 Continue (the body comes next), a stream */
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
	    (c->started ? c->hs->cfg.header_timeout_ms
	                : c->hs->cfg.idle_timeout_ms);
}

/* consume drops the answered request's bytes from c->in. */
static void
consume(struct httpsrv_conn *c)
{
	size_t n = c->state == C_BODY ? c->head_len + c->body_len
	    : c->head != NULL         ? c->head_len
	                              : c->in.len;

	if (n > c->in.len)
		n = c->in.len;
	memmove(c->in.data, c->in.data + n, c->in.len - n);
	c->in.len -= n;
	free(c->head);
	c->head    = NULL;
	c->pending = false;
}

static void
status_line(
    struct httpsrv_conn *c, int status, const char *ctype, const char *extra)
{
	char      date[64];
	time_t    t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	buf_printf(&c->out,
	    "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\n", status,
	    reason(status), date, ctype);
	if (extra != NULL)
		buf_puts(&c->out, extra);
}

void
httpsrv_respond(struct httpsrv_conn *c, int status, const char *ctype,
    const void *body, size_t len, const char *extra, bool close)
{
	if (close)
		c->keep = false;
	status_line(c, status, ctype, extra);
	buf_printf(&c->out, "Content-Length: %zu\r\n", len);
	if (!c->keep)
		buf_puts(&c->out, "Connection: close\r\n");
	buf_puts(&c->out, "\r\n");
	if (!c->head_only)
		buf_append(&c->out, body, len);
	consume(c);
	c->state    = C_WRITE;
	c->deadline = mono_ms() + WRITE_MS;
	flush(c);
}

void
httpsrv_reply(struct httpsrv_conn *c, int status, const char *text)
{
	char line[256];
	int  n = snprintf(line, sizeof(line), "%s\n", text);

	httpsrv_respond(c, status, "text/plain; charset=utf-8", line,
	    n > 0 && (size_t) n < sizeof(line) ? (size_t) n : 0, NULL,
	    !c->keep);
}

void
httpsrv_stream(struct httpsrv_conn *c, const char *ctype, const char *extra)
{
	status_line(c, 200, ctype, extra);
	buf_puts(&c->out,
	    "Cache-Control: no-store\r\n"
	    "Connection: close\r\n\r\n");
	consume(c);
	c->keep     = false;
	c->state    = C_STREAM;
	c->deadline = INT64_MAX;
	flush(c);
}

int
httpsrv_send(struct httpsrv_conn *c, const void *data, size_t len)
{
	if (c->dead || c->state != C_STREAM)
		return (ERR_CLOSED);
	if (c->out.len - c->out_off + len > c->hs->cfg.stream_backlog) {
		conn_close(c); /* a peer that does not read */
		return (ERR_CLOSED);
	}
	buf_append(&c->out, data, len);
	flush(c);
	watch(c);
	return (c->dead ? ERR_CLOSED : 0);
}

/* hand gives a request to the owner, which must answer it. */
static void
hand(struct httpsrv_conn *c, const struct httpsrv_req *r)
{
	struct httpsrv *hs = c->hs;

	c->pending = true;
	hs->cfg.handle(c, r, hs->cfg.arg);
	if (c->pending && !c->dead) { /* never hang */
		log_error(hs->tag, "request left unanswered");
		httpsrv_reply(c, 500, "Internal error");
	}
}

/* refuse cuts a request off for its framing (r: its head, or NULL) and
 * closes the connection after the answer. */
static void
refuse(struct httpsrv_conn *c, int status, const char *text,
    const struct httpsrv_req *r, size_t size)
{
	struct httpsrv *hs = c->hs;

	c->keep    = false;
	c->pending = true;
	if (hs->cfg.refused != NULL)
		hs->cfg.refused(c, status, text, r, size, hs->cfg.arg);
	if (c->pending && !c->dead)
		httpsrv_reply(c, status, text);
}

static bool
is_tchar(int ch)
{
	return ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

const char *
httpsrv_hdr(const struct httpsrv_req *h, const char *name)
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
parse(char *text, struct httpsrv_req *h)
{
	char *line = text, *next, *sp1, *sp2, *colon, *p, *q;

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
	for (p = sp1 + 1; *p != '\0'; p++)
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
	if (h->minor == 1 && httpsrv_hdr(h, "Host") == NULL)
		return (400);
	/* the path is a copy of the target up to '?': text has room, as
	 * the target's own bytes; kept apart so target stays whole */
	h->path  = h->target;
	h->query = "";
	if ((q = strchr(sp1 + 1, '?')) != NULL) {
		h->query = q + 1;
		h->path  = NULL; /* set by the caller from its copy */
	}
	return (0);
}

int
httpsrv_length(const char *value, uint64_t *len)
{
	const char *p = value;
	uint64_t    n = 0;

	*len = 0;
	if (p == NULL)
		return (ERR_PROTO);
	while (*p == ' ' || *p == '\t') /* optional whitespace (RFC 9110) */
		p++;
	if (*p < '0' || *p > '9')
		return (ERR_PROTO);
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (UINT64_MAX - (uint64_t) (*p - '0')) / 10)
			return (ERR_PROTO);
		n = n * 10 + (uint64_t) (*p - '0');
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0')
		return (ERR_PROTO);
	*len = n;
	return (0);
}

/* content_length reads every Content-Length of h (they must agree):
 * 1 with *len, 0 when there is none, -1 when malformed. */
static int
content_length(const struct httpsrv_req *h, uint64_t *len)
{
	uint64_t n;
	size_t   i;
	int      have = 0;

	*len = 0;
	for (i = 0; i < h->n; i++) {
		if (strcasecmp(h->name[i], "Content-Length") != 0)
			continue;
		if (httpsrv_length(h->value[i], &n) != 0 ||
		    (have && n != *len))
			return (-1);
		*len = n;
		have = 1;
	}
	return (have);
}

/* parse_head parses c's head (kept in c->head) into h, from text, a
 * copy the caller frees; path points into pathbuf.  Returns 0 or the
 * status to refuse it with. */
static int
parse_head(
    struct httpsrv_conn *c, struct httpsrv_req *h, char **text, char **pathbuf)
{
	int st;

	*text    = xstrdup(c->head);
	*pathbuf = NULL;
	if ((st = parse(*text, h)) != 0)
		return (st);
	if (h->path == NULL) {
		*pathbuf =
		    xstrndup(h->target, (size_t) (h->query - 1 - h->target));
		h->path = *pathbuf;
	}
	return (0);
}

/* want_body starts reading the body of h (limit: max bytes), or refuses
 * it for its framing. */
static void
want_body(struct httpsrv_conn *c, const struct httpsrv_req *h, size_t max)
{
	const char *expect = httpsrv_hdr(h, "Expect");
	uint64_t    len;
	int         cl = content_length(h, &len);

	if (httpsrv_hdr(h, "Transfer-Encoding") != NULL || cl == 0) {
		/* chunked, or a body of unknown length: refused unread */
		refuse(c, 411, "Content-Length required", h, 0);
		return;
	}
	if (cl < 0) {
		refuse(c, 400, "Bad Content-Length", h, 0);
		return;
	}
	if (len > max) {
		refuse(c, 413, "Payload too large", h,
		    (size_t) (len > SIZE_MAX ? SIZE_MAX : len));
		return;
	}
	c->body_len = (size_t) len;
	c->state    = C_BODY;
	c->deadline = mono_ms() + c->hs->cfg.body_timeout_ms;
	if (expect != NULL && strcasecmp(expect, "100-continue") == 0 &&
	    c->in.len < c->head_len + c->body_len && h->minor == 1) {
		buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
		flush(c);
	}
}

/* head_done handles a complete request head at the start of c->in. */
static void
head_done(struct httpsrv_conn *c, size_t hlen)
{
	struct httpsrv_req h;
	const char        *conn;
	char              *text, *pathbuf;
	uint64_t           len;
	size_t             max = 0;
	int                st;

	free(c->head);
	c->head_only = false;
	c->head = xstrndup(c->in.data, hlen); /* kept whole for body_done */
	c->head_len = hlen + 4;
	if ((st = parse_head(c, &h, &text, &pathbuf)) != 0) {
		refuse(c, st,
		    st == 431       ? "Request header fields too large"
		        : st == 505 ? "HTTP version not supported"
		                    : "Bad request",
		    NULL, 0);
		goto done;
	}
	conn         = httpsrv_hdr(&h, "Connection");
	c->keep      = h.minor == 1
	         ? !(conn != NULL && strcasecmp(conn, "close") == 0)
	         : false;
	c->head_only = strcmp(h.method, "HEAD") == 0;
	if (c->hs->cfg.body_max != NULL)
		max = c->hs->cfg.body_max(&h, c->hs->cfg.arg);
	if (max > 0) {
		want_body(c, &h, max);
		goto done;
	}
	/* a body we do not read closes the connection after the answer */
	if (httpsrv_hdr(&h, "Transfer-Encoding") != NULL ||
	    content_length(&h, &len) < 0 || len > 0)
		c->keep = false;
	hand(c, &h);
done:
	free(pathbuf);
	free(text);
}

/* body_done hands over the request whose body is complete. */
static void
body_done(struct httpsrv_conn *c)
{
	struct httpsrv_req h;
	char              *text, *pathbuf;

	(void) parse_head(c, &h, &text, &pathbuf); /* parsed before */
	h.body = c->in.data + c->head_len;
	h.len  = c->body_len;
	hand(c, &h);
	free(pathbuf);
	free(text);
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
process(struct httpsrv_conn *c)
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
					    NULL, 0);
				else if (c->eof)
					conn_close(c);
				return;
			}
			if (memchr(c->in.data, '\0',
			        (size_t) (end - c->in.data)) != NULL) {
				refuse(c, 400, "Bad request", NULL, 0);
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
conn_read(struct httpsrv_conn *c)
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
			if (c->state == C_LINGER || c->state == C_STREAM ||
			    (c->state == C_HEAD && c->in.len == 0))
				conn_close(c);
			break;
		}
		if (c->state == C_LINGER || c->state == C_STREAM)
			continue; /* drained */
		if (c->state == C_HEAD && !c->started) {
			/* the head deadline runs from its first byte */
			c->started  = true;
			c->deadline = mono_ms() + c->hs->cfg.header_timeout_ms;
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
	struct httpsrv_conn *c = arg;

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
	struct httpsrv       *hs  = arg;
	struct httpsrv_conn **cp  = &hs->conns, *c;
	int64_t               now = mono_ms();

	while ((c = *cp) != NULL) {
		if (!c->dead && now >= c->deadline) {
			if ((c->state == C_HEAD && c->started) ||
			    c->state == C_BODY) {
				refuse(c, 408, "Request timeout", NULL, 0);
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
	if (hs->paused) {
		hs->paused = false;
		(void) loop_add_fd(loop, hs->lfd, POLLIN, on_accept, hs);
	}
	hs->sweep = loop_timer(loop, SWEEP_MS, sweep, hs);
}

static void
on_accept(struct loop *loop, int lfd, short revents, void *arg)
{
	struct httpsrv      *hs = arg;
	struct httpsrv_conn *c;
	int                  fd, refused = 0;

	UNUSED(loop);
	UNUSED(revents);
	while ((fd = accept(lfd, NULL, NULL)) >= 0) {
		if (hs->nconns >= hs->cfg.max_connections ||
		    fcntl(fd, F_SETFL, O_NONBLOCK) != 0 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
			(void) close(fd);
			refused++;
			continue;
		}
		c       = xcalloc(1, sizeof(*c));
		c->hs   = hs;
		c->fd   = fd;
		c->keep = true;
		buf_init(&c->in);
		buf_init(&c->out);
		c->deadline = mono_ms() + hs->cfg.header_timeout_ms;
		c->next     = hs->conns;
		hs->conns   = c;
		hs->nconns++;
		watch(c);
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
	    errno != ECONNABORTED && !hs->paused) {
		/* out of fds (EMFILE...): the listener would stay readable
		 * and spin the loop; the sweep listens again */
		log_warn(hs->tag, "accept: %s", strerror(errno));
		hs->paused = true;
		(void) loop_add_fd(hs->loop, lfd, 0, on_accept, hs);
	}
	if (refused > 0) {
		if (hs->cfg.count != NULL)
			hs->cfg.count(
			    "connections_refused", refused, hs->cfg.arg);
		log_warn(hs->tag,
		    "%d connection(s) refused: %d open (max_connections)",
		    refused, hs->nconns);
	}
}

/* listen_on parses http://host:port and binds it. */
static int
listen_on(struct httpsrv *hs, const char *url)
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
		log_error(hs->tag, "listen: %s: %s", url, gai_strerror(rv));
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
		log_error(hs->tag, "listen %s: %s", url, strerror(errno));
		return (ERR_IO);
	}
	hs->lfd = fd;
	if (getsockname(fd, (struct sockaddr *) &ss, &sl) == 0 &&
	    getnameinfo((struct sockaddr *) &ss, sl, shown, sizeof(shown),
	        port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		snprintf(hs->url, sizeof(hs->url),
		    ss.ss_family == AF_INET6 ? "http://[%s]:%s"
		                             : "http://%s:%s",
		    shown, port);
	else
		snprintf(hs->url, sizeof(hs->url), "%s", url);
	return (0);
bad:
	log_error(hs->tag, "listen: bad url %s: want http://host:port", url);
	return (ERR_CONFIG);
}

int
httpsrv_open(
    struct httpsrv **hp, struct loop *loop, const struct httpsrv_cfg *cfg)
{
	struct httpsrv *hs;
	int             rv;

	*hp      = NULL;
	hs       = xcalloc(1, sizeof(*hs));
	hs->cfg  = *cfg;
	hs->loop = loop;
	hs->lfd  = -1;
	if (hs->cfg.header_timeout_ms <= 0)
		hs->cfg.header_timeout_ms = 10000;
	if (hs->cfg.body_timeout_ms <= 0)
		hs->cfg.body_timeout_ms = 30000;
	if (hs->cfg.idle_timeout_ms <= 0)
		hs->cfg.idle_timeout_ms = 60000;
	if (hs->cfg.max_connections <= 0)
		hs->cfg.max_connections = 64;
	if (hs->cfg.stream_backlog == 0)
		hs->cfg.stream_backlog = 256 * 1024;
	snprintf(hs->tag, sizeof(hs->tag), "%s.http",
	    cfg->tag != NULL ? cfg->tag : "httpsrv");
	if ((rv = listen_on(hs, cfg->listen)) != 0 ||
	    (rv = loop_add_fd(loop, hs->lfd, POLLIN, on_accept, hs)) != 0)
		goto fail;
	hs->sweep = loop_timer(loop, SWEEP_MS, sweep, hs);
	*hp       = hs;
	return (0);

fail:
	httpsrv_close(&hs, loop);
	return (rv);
}

void
httpsrv_close(struct httpsrv **hp, struct loop *loop)
{
	struct httpsrv      *hs = *hp;
	struct httpsrv_conn *c, *next;

	if (hs == NULL)
		return;
	for (c = hs->conns; c != NULL; c = next) {
		next = c->next;
		conn_close(c);
		conn_free(c);
	}
	if (hs->sweep != 0 && loop != NULL)
		loop_timer_cancel(loop, hs->sweep);
	if (hs->lfd >= 0) {
		if (loop != NULL)
			loop_del_fd(loop, hs->lfd);
		(void) close(hs->lfd);
	}
	free(hs);
	*hp = NULL;
}

const char *
httpsrv_url(const struct httpsrv *hs)
{
	return (hs->url);
}
