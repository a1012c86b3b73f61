/*
 * http.h - asynchronous HTTP client on the service loop.
 *
 * A struct http is one libcurl multi handle whose sockets and timer are
 * driven by a struct loop (CURLMOPT_SOCKETFUNCTION / TIMERFUNCTION), so
 * requests never block the service.  common/http.c is the only libcurl
 * user, and it lives in its own static library, opc_http, linked with
 * libcurl: only the programs that make HTTP calls link it (libcurl and its
 * libraries add about 6 MiB to a daemon's RSS; test_linkage checks).
 *
 * Policy for every request: redirects are not followed, TLS peers and host
 * names are verified, only http and https are allowed, the User-Agent is
 * "opcenter/0.1", the whole request has a deadline and the response body a
 * size cap.  Header values are never logged; a request is logged as its
 * method and URL without user info, query string or fragment.
 */
#ifndef OPC_HTTP_H
#define OPC_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "opc/loop.h"
#include "opc/util.h"

#define HTTP_TIMEOUT_MS 30000                  /* default timeout_ms */
#define HTTP_MAX_RESPONSE (8u * 1024u * 1024u) /* default max_response */
#define HTTP_USER_AGENT "opcenter/0.1"

struct http;

/*
 * struct http_req describes one request.  Everything is borrowed only for
 * the duration of http_send(), which copies what it keeps.
 */
struct http_req {
	const char        *method;  /* "GET", "POST", "PATCH", "DELETE"... */
	const char        *url;     /* http:// or https:// */
	const char *const *headers; /* "Name: value", NULL-terminated or
	                               NULL; set Content-Type for bodies */
	const void *body;           /* may be NULL when body_len is 0 */
	size_t      body_len;
	int64_t     timeout_ms;   /* whole request; <= 0: 30000 */
	size_t      max_response; /* body bytes; 0: 8 MiB */
};

/*
 * struct http_resp is a response.  Inside a done callback it is owned by
 * the client and valid only until the callback returns; http_blocking()
 * fills one the caller owns and releases with http_resp_fini().
 */
struct http_resp {
	int status;             /* HTTP status; 0 on transport error */
	int err;                /* 0, ERR_TIMEOUT, ERR_IO, ERR_TOOBIG,
	                           ERR_CLOSED (client closed) */
	char       errmsg[256]; /* why, when err != 0 (curl's text) */
	struct buf body;        /* data always NUL-terminated (not in len) */
	struct buf hdrs;        /* private: "name\0value\0"..., see
	                           http_header() */
	int64_t elapsed_ms;
};

/* http_done_fn runs on the loop thread, never inside http_send().  It may
 * call http_send(), http_cancel() and http_close() on the same client. */
typedef void (*http_done_fn)(
    struct http *, const struct http_resp *, void *arg);

/* http_open creates a client bound to loop l (borrowed: it must outlive
 * the client).  Returns 0 or ERR_IO.  Release with http_close(). */
int http_open(struct http **hp, struct loop *l);

/* http_close completes every pending request with err ERR_CLOSED (their
 * callbacks run inside http_close), frees the client and sets *hp to
 * NULL.  NULL is a no-op.  May be called from a done callback. */
void http_close(struct http **hp);

/* http_send starts a request and returns its id (> 0); done(h, resp, arg)
 * runs exactly once later unless the request is cancelled.  Returns 0 on
 * immediate failure (NULL or malformed method/URL, a header containing CR
 * or LF, a closing client); done is then never called.  Every other
 * failure is reported through done. */
uint64_t http_send(
    struct http *h, const struct http_req *req, http_done_fn done, void *arg);

/* http_cancel aborts request id; its callback is not called.  Unknown or
 * completed ids are ignored. */
void http_cancel(struct http *h, uint64_t id);

/* http_pending returns the number of requests whose callback is due. */
size_t http_pending(const struct http *h);

/* http_header returns the value of the first response header called name
 * (case-insensitive), or NULL.  The string belongs to resp. */
const char *http_header(const struct http_resp *resp, const char *name);

/* http_blocking, for CLIs and tests only, runs req on a private loop until
 * it completes.  *out is always filled (release it with http_resp_fini())
 * and the return value is out->err: 0 whenever an HTTP response arrived,
 * whatever its status, or ERR_INVAL when req is malformed. */
int http_blocking(const struct http_req *req, struct http_resp *out);

/* http_resp_fini releases what http_blocking() put in resp. */
void http_resp_fini(struct http_resp *resp);

#endif
