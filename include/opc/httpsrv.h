/*
 * httpsrv.h - a small HTTP/1.1 server on a service loop.
 *
 * Used by opc-webhook (POSTed deliveries, /healthz, /metrics) and
 * opc-dash (the read-only dashboard, a server-sent event stream).  Every
 * stage of a connection has a deadline, heads and bodies are bounded, and
 * everything runs on the loop thread: the owner's callbacks answer each
 * request synchronously through httpsrv_respond()/httpsrv_reply(), or
 * turn the connection into a stream (httpsrv_stream()).
 */
#ifndef OPC_HTTPSRV_H
#define OPC_HTTPSRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTPSRV_HEAD_MAX (16 * 1024) /* request line + headers: 431 */
#define HTTPSRV_HEADERS_MAX 64       /* headers in a head: 431 */

struct loop;
struct httpsrv;
/* One connection, with at most one request awaiting its answer. */
struct httpsrv_conn;

/* A parsed request; every pointer is borrowed for the callback only. */
struct httpsrv_req {
	const char *method;
	const char *target; /* as sent, query included */
	const char *path;   /* target up to '?' */
	const char *query;  /* after '?', "" when none */
	int         minor;  /* HTTP/1.minor */
	const char *name[HTTPSRV_HEADERS_MAX];
	const char *value[HTTPSRV_HEADERS_MAX];
	size_t      n;
	const char *body; /* NULL unless body_max asked for it */
	size_t      len;
};

struct httpsrv_cfg {
	const char *listen; /* http://host:port (port 0: any free one) */
	const char *tag;    /* log prefix, e.g. "webhook" -> "webhook.http" */
	int64_t     header_timeout_ms; /* request line and headers (10 s) */
	int64_t     body_timeout_ms; /* the body, once the head is in (30 s) */
	int64_t     idle_timeout_ms; /* keep-alive between requests (60 s) */
	int         max_connections; /* more are closed at accept (64) */
	size_t      stream_backlog;  /* a stream's unsent bytes, then closed
	                                (256 KiB) */
	/* body_max says, for a parsed head, whether its body is to be read:
	 * 0 answers at once (handle gets no body; a body that was sent
	 * closes the connection after the answer), otherwise the request
	 * must carry Content-Length (411), at most this many bytes (413).
	 * NULL: no request body is ever read. */
	size_t (*body_max)(const struct httpsrv_req *, void *arg);
	/* handle answers a request (with its body when body_max wanted it)
	 * before it returns. */
	void (*handle)(
	    struct httpsrv_conn *, const struct httpsrv_req *, void *arg);
	/* refused answers a request cut off for its framing: status 400,
	 * 408, 411, 413 or 431 with text; r is its head when it was parsed
	 * (NULL otherwise), size the announced body length (413).  NULL:
	 * answered with status and text. */
	void (*refused)(struct httpsrv_conn *, int status, const char *text,
	    const struct httpsrv_req *r, size_t size, void *arg);
	/* closed tells that a stream's connection is gone (its conn must not
	 * be used after); may be NULL when nothing streams */
	void (*closed)(struct httpsrv_conn *, void *arg);
	/* count adds n to a counter ("connections_refused"); may be NULL */
	void (*count)(const char *counter, int n, void *arg);
	void *arg;
};

/* httpsrv_open binds cfg->listen and serves on loop.  cfg's strings are
 * borrowed (must outlive it).  Returns 0, ERR_CONFIG (bad url or host) or
 * ERR_IO (cannot bind). */
int httpsrv_open(
    struct httpsrv **sp, struct loop *loop, const struct httpsrv_cfg *cfg);
/* httpsrv_close closes every connection (streams get cfg.closed) and the
 * listener, and sets *sp to NULL.  NULL is a no-op. */
void httpsrv_close(struct httpsrv **sp, struct loop *loop);
/* httpsrv_url returns the bound url (actual port), e.g.
 * "http://127.0.0.1:40123". */
const char *httpsrv_url(const struct httpsrv *);

/* httpsrv_hdr returns the value of header name in r (any case), or NULL. */
const char *httpsrv_hdr(const struct httpsrv_req *r, const char *name);

/* httpsrv_respond answers c's request: status, Content-Type ctype and
 * len bytes of body (borrowed; not sent for HEAD).  extra holds more
 * header lines, each ending in CRLF (may be NULL).  close ends the
 * connection after it. */
void httpsrv_respond(struct httpsrv_conn *c, int status, const char *ctype,
    const void *body, size_t len, const char *extra, bool close);
/* httpsrv_reply answers with text and a newline as text/plain. */
void httpsrv_reply(struct httpsrv_conn *c, int status, const char *text);

/* httpsrv_stream answers c's request with 200, ctype and no length, then
 * keeps the connection for httpsrv_send() until the peer leaves (the
 * owner hears of it through cfg.closed). */
void httpsrv_stream(
    struct httpsrv_conn *c, const char *ctype, const char *extra);
/* httpsrv_send queues len bytes on a stream.  A peer that lets more than
 * stream_backlog bytes pile up is closed (cfg.closed runs before this
 * returns).  Returns 0 or ERR_CLOSED. */
int httpsrv_send(struct httpsrv_conn *c, const void *data, size_t len);

/* httpsrv_length parses a Content-Length value: decimal digits between
 * optional spaces or tabs (no sign, no suffix), at most UINT64_MAX.
 * Returns 0 with *len set, or ERR_PROTO. */
int httpsrv_length(const char *value, uint64_t *len);

#endif
