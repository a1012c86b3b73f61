/*
 * web.c - the dashboard's routes on the common HTTP server (httpsrv.c).
 *
 *   GET /            the page (assets.c)      text/html
 *   GET /app.js      its script               text/javascript
 *   GET /app.css     its style                text/css
 *   GET /api/state   the gathered state       application/json (503
 *                                             before the first one)
 *   GET /api/events  the bus tail             text/event-stream (SSE)
 *   GET /evidence/RUN/FILE  a run's evidence  text/plain, read-only
 *   POST /login      token=T (form): sets the token cookie, 303 to /
 *
 * HEAD works wherever GET does; another method is 405, another path 404.
 * With a token configured every route but /login (and the login form
 * that / shows instead of the page) needs it: "Authorization: Bearer T",
 * or the HttpOnly cookie /login sets (a browser's EventSource cannot send
 * headers; the token never travels in a URL).  The token is compared in
 * constant time and never logged; nothing of a request is logged.
 * Evidence files are served only once realpath() proves them inside the
 * recorder's evidence root (dash_evidence_path): names are checked
 * first ("%" anywhere is refused: nothing is decoded), symlinks are
 * resolved before the check.  Every answer carries a Content-Security-
 * Policy of default-src 'self', nosniff, no-store and DENY framing.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dash.h"
#include "opc/err.h"
#include "opc/httpsrv.h"
#include "opc/util.h"

#define COOKIE "opc_dash_token"
#define LOGIN_MAX 4096

/* the headers of every answer */
#define SECURITY                                                        \
	"Content-Security-Policy: default-src 'self'; frame-ancestors " \
	"'none'\r\n"                                                    \
	"X-Content-Type-Options: nosniff\r\n"                           \
	"X-Frame-Options: DENY\r\n"                                     \
	"Referrer-Policy: no-referrer\r\n"                              \
	"Cache-Control: no-store\r\n"

struct stream {
	struct stream       *next;
	struct httpsrv_conn *c;
};

struct dash_web {
	struct dash_web_cfg cfg;
	struct httpsrv     *srv;
	struct stream      *streams;
	size_t              nstreams;
};

static const char login_html[] =
    "<!doctype html><html lang=en><head><meta charset=utf-8>"
    "<meta name=viewport content=\"width=device-width,initial-scale=1\">"
    "<title>opcenter</title><link rel=stylesheet href=/app.css></head>"
    "<body><main><h1>opcenter</h1><form method=post action=/login>"
    "<label>Token <input type=password name=token autocomplete=off>"
    "</label> <button>Open</button></form></main></body></html>\n";

/* wipe clears a secret's copy (a volatile store the compiler keeps). */
static void
wipe(char *p, size_t n)
{
	volatile char *v = p;

	while (n-- > 0)
		*v++ = '\0';
}

static void
count(struct dash_web *w, const char *counter)
{
	if (w->cfg.count != NULL)
		w->cfg.count(counter, 1, w->cfg.arg);
}

static void
answer(struct httpsrv_conn *c, int status, const char *ctype, const void *body,
    size_t len, const char *more)
{
	char *extra = xasprintf("%s%s", SECURITY, more ? more : "");

	httpsrv_respond(c, status, ctype, body, len, extra, status >= 400);
	free(extra);
}

static void
text(struct httpsrv_conn *c, int status, const char *t, const char *more)
{
	char *s = xasprintf("%s\n", t);

	answer(c, status, "text/plain; charset=utf-8", s, strlen(s), more);
	free(s);
}

/* same compares a and b in time that depends on their lengths only. */
static bool
same(const char *a, const char *b)
{
	size_t        la = strlen(a), lb = strlen(b), i;
	unsigned char d = la != lb;

	for (i = 0; i < la; i++)
		d |= (unsigned char) (a[i] ^ b[i < lb ? i : 0]);
	return (d == 0 && lb > 0);
}

/* cookie returns a copy of the token cookie's value in r, or NULL. */
static char *
cookie(const struct httpsrv_req *r)
{
	size_t i, n = strlen(COOKIE);

	for (i = 0; i < r->n; i++) {
		const char *p = r->value[i];

		if (strcasecmp(r->name[i], "Cookie") != 0)
			continue;
		while (*p != '\0') {
			const char *end;

			while (*p == ' ' || *p == ';')
				p++;
			end = strchr(p, ';');
			if (end == NULL)
				end = p + strlen(p);
			if ((size_t) (end - p) > n &&
			    strncmp(p, COOKIE, n) == 0 && p[n] == '=')
				return (xstrndup(
				    p + n + 1, (size_t) (end - p) - n - 1));
			p = end;
		}
	}
	return (NULL);
}

/* authorized says whether r carries the token (always, with none). */
static bool
authorized(const struct dash_web *w, const struct httpsrv_req *r)
{
	const char *h;
	char       *ck;
	bool        ok;

	if (w->cfg.token == NULL)
		return (true);
	if ((h = httpsrv_hdr(r, "Authorization")) != NULL)
		return (strncasecmp(h, "Bearer ", 7) == 0 &&
		    same(h + 7, w->cfg.token));
	if ((ck = cookie(r)) == NULL)
		return (false);
	ok = same(ck, w->cfg.token);
	free(ck);
	return (ok);
}

int
dash_evidence_path(char **out, const char *root, const char *rest)
{
	char       *joined, *real, *rootreal;
	const char *p;
	struct stat st;
	size_t      seg = 0, segs = 0, rl;
	int         rv = ERR_NOTFOUND;

	*out = NULL;
	for (p = rest;; p++) {
		if (*p == '/' || *p == '\0') {
			if (seg == 0)
				return (ERR_INVAL);
			segs++;
			seg = 0;
			if (*p == '\0')
				break;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		        (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
		        (*p == '.' && seg > 0)))
			return (ERR_INVAL);
		seg++;
	}
	if (segs < 2 || root == NULL)
		return (segs < 2 ? ERR_INVAL : ERR_NOTFOUND);
	if ((rootreal = realpath(root, NULL)) == NULL)
		return (ERR_NOTFOUND);
	joined = xasprintf("%s/%s", rootreal, rest);
	real   = realpath(joined, NULL);
	free(joined);
	rl = strlen(rootreal);
	/* a symlink anywhere may lead out: only the resolved path counts */
	if (real != NULL && strncmp(real, rootreal, rl) == 0 &&
	    real[rl] == '/' && stat(real, &st) == 0 && S_ISREG(st.st_mode)) {
		*out = real;
		real = NULL;
		rv   = 0;
	}
	free(real);
	free(rootreal);
	return (rv);
}

static void
evidence(struct dash_web *w, struct httpsrv_conn *c, const char *rest)
{
	struct stat st;
	char       *path, *data = NULL;
	ssize_t     n;
	size_t      len = 0;
	int         fd, rv;

	if (strchr(rest, '%') != NULL ||
	    (rv = dash_evidence_path(&path, w->cfg.evidence_root, rest)) ==
	        ERR_INVAL) {
		count(w, "bad_requests");
		text(c, 400, "Bad evidence path", NULL);
		return;
	}
	if (rv != 0) {
		count(w, "not_found");
		text(c, 404, "Not found", NULL);
		return;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	free(path);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		count(w, "not_found");
		text(c, 404, "Not found", NULL);
		return;
	}
	if ((size_t) st.st_size > w->cfg.evidence_max) {
		close(fd);
		text(c, 403, "Evidence file too large to show here", NULL);
		return;
	}
	data = xmalloc((size_t) st.st_size + 1);
	while (len < (size_t) st.st_size &&
	    (n = read(fd, data + len, (size_t) st.st_size - len)) > 0)
		len += (size_t) n;
	close(fd);
	count(w, "evidence_served");
	answer(c, 200, "text/plain; charset=utf-8", data, len, NULL);
	free(data);
}

static void
state(struct dash_web *w, struct httpsrv_conn *c)
{
	char *s = w->cfg.state ? w->cfg.state(w->cfg.arg) : NULL;

	if (s == NULL) {
		text(c, 503, "State not gathered yet", "Retry-After: 1\r\n");
		return;
	}
	answer(c, 200, "application/json", s, strlen(s), NULL);
	free(s);
}

static void
events(struct dash_web *w, struct httpsrv_conn *c)
{
	struct stream *s = xcalloc(1, sizeof(*s));

	s->c       = c;
	s->next    = w->streams;
	w->streams = s;
	w->nstreams++;
	httpsrv_stream(c, "text/event-stream", SECURITY);
	/* the first bytes: the browser's EventSource opens on them */
	(void) httpsrv_send(c, ": opcenter bus tail\n\n", 21);
}

/* login sets the cookie when the form's token is the one. */
static void
login(struct dash_web *w, struct httpsrv_conn *c, const struct httpsrv_req *r)
{
	char  *form, *p, *end, *cookie_hdr;
	bool   ok = false;
	size_t i, j;

	if (w->cfg.token == NULL || r->body == NULL) {
		text(c, 404, "Not found", NULL);
		return;
	}
	form = xstrndup(r->body, r->len);
	for (p = form; p != NULL && *p != '\0'; p = end) {
		end = strchr(p, '&');
		if (end != NULL)
			*end++ = '\0';
		if (strncmp(p, "token=", 6) != 0)
			continue;
		/* application/x-www-form-urlencoded: '+' and %XX */
		for (i = 6, j = 0; p[i] != '\0'; i++, j++) {
			unsigned int v;

			if (p[i] == '+')
				p[j] = ' ';
			else if (p[i] == '%' &&
			    sscanf(p + i + 1, "%2x", &v) == 1) {
				p[j] = (char) v;
				i += 2;
			} else
				p[j] = p[i];
		}
		p[j] = '\0';
		ok   = same(p, w->cfg.token);
		break;
	}
	wipe(form, r->len);
	free(form);
	if (!ok) {
		count(w, "unauthorized");
		answer(c, 401, "text/html; charset=utf-8", login_html,
		    strlen(login_html), NULL);
		return;
	}
	cookie_hdr = xasprintf("Set-Cookie: " COOKIE
	                       "=%s; Path=/; HttpOnly; SameSite=Strict\r\n"
	                       "Location: /\r\n",
	    w->cfg.token);
	answer(c, 303, "text/plain; charset=utf-8", "\n", 1, cookie_hdr);
	wipe(cookie_hdr, strlen(cookie_hdr));
	free(cookie_hdr);
}

static size_t
body_max(const struct httpsrv_req *r, void *arg)
{
	struct dash_web *w = arg;

	return (w->cfg.token != NULL && strcmp(r->method, "POST") == 0 &&
	            strcmp(r->path, "/login") == 0
	        ? LOGIN_MAX
	        : 0);
}

static void
handle(struct httpsrv_conn *c, const struct httpsrv_req *r, void *arg)
{
	struct dash_web *w = arg;
	const char      *p = r->path;
	bool             get =
	    strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
	bool known;

	count(w, "requests");
	if (strcmp(p, "/login") == 0 && w->cfg.token != NULL) {
		if (strcmp(r->method, "POST") == 0)
			login(w, c, r);
		else
			text(c, 405, "Method not allowed", "Allow: POST\r\n");
		return;
	}
	known = strcmp(p, "/") == 0 || strcmp(p, "/app.js") == 0 ||
	    strcmp(p, "/app.css") == 0 || strcmp(p, "/api/state") == 0 ||
	    strcmp(p, "/api/events") == 0 || strncmp(p, "/evidence/", 10) == 0;
	if (!known) {
		count(w, "not_found");
		text(c, 404, "Not found", NULL);
		return;
	}
	if (!get) {
		text(c, 405, "Method not allowed", "Allow: GET, HEAD\r\n");
		return;
	}
	/* the style is public: the login form uses it */
	if (strcmp(p, "/app.css") == 0) {
		answer(c, 200, "text/css; charset=utf-8", dash_app_css,
		    strlen(dash_app_css), NULL);
		return;
	}
	if (!authorized(w, r)) {
		count(w, "unauthorized");
		if (strcmp(p, "/") == 0)
			answer(c, 401, "text/html; charset=utf-8", login_html,
			    strlen(login_html),
			    "WWW-Authenticate: Bearer realm=\"opcenter\"\r\n");
		else
			text(c, 401, "Unauthorized",
			    "WWW-Authenticate: Bearer realm=\"opcenter\"\r\n");
		return;
	}
	if (strcmp(p, "/") == 0)
		answer(c, 200, "text/html; charset=utf-8", dash_index_html,
		    strlen(dash_index_html), NULL);
	else if (strcmp(p, "/app.js") == 0)
		answer(c, 200, "text/javascript; charset=utf-8", dash_app_js,
		    strlen(dash_app_js), NULL);
	else if (strcmp(p, "/api/state") == 0)
		state(w, c);
	else if (strcmp(p, "/api/events") == 0 &&
	    strcmp(r->method, "GET") == 0)
		events(w, c);
	else if (strcmp(p, "/api/events") == 0)
		answer(c, 200, "text/event-stream", "", 0, NULL);
	else
		evidence(w, c, p + 10);
}

static void
refused(struct httpsrv_conn *c, int status, const char *t,
    const struct httpsrv_req *r, size_t size, void *arg)
{
	UNUSED(r);
	UNUSED(size);
	count(arg, "bad_requests");
	text(c, status, t, NULL);
}

static void
closed(struct httpsrv_conn *c, void *arg)
{
	struct dash_web *w = arg;
	struct stream  **sp, *s;

	for (sp = &w->streams; (s = *sp) != NULL; sp = &s->next)
		if (s->c == c) {
			*sp = s->next;
			free(s);
			w->nstreams--;
			return;
		}
}

static void
srv_count(const char *counter, int n, void *arg)
{
	struct dash_web *w = arg;

	if (w->cfg.count != NULL)
		w->cfg.count(counter, n, w->cfg.arg);
}

int
dash_web_open(
    struct dash_web **wp, struct loop *loop, const struct dash_web_cfg *cfg)
{
	struct dash_web   *w = xcalloc(1, sizeof(*w));
	struct httpsrv_cfg sc;
	int                rv;

	*wp    = NULL;
	w->cfg = *cfg;
	if (w->cfg.evidence_max == 0)
		w->cfg.evidence_max = 8 * 1024 * 1024;
	memset(&sc, 0, sizeof(sc));
	sc.listen            = cfg->listen;
	sc.tag               = "dash";
	sc.header_timeout_ms = cfg->header_timeout_ms;
	sc.body_timeout_ms   = cfg->header_timeout_ms;
	sc.idle_timeout_ms   = cfg->idle_timeout_ms;
	sc.max_connections   = cfg->max_connections;
	sc.body_max          = body_max;
	sc.handle            = handle;
	sc.refused           = refused;
	sc.closed            = closed;
	sc.count             = srv_count;
	sc.arg               = w;
	if ((rv = httpsrv_open(&w->srv, loop, &sc)) != 0) {
		free(w);
		return (rv);
	}
	*wp = w;
	return (0);
}

void
dash_web_close(struct dash_web **wp, struct loop *loop)
{
	struct dash_web *w = *wp;

	if (w == NULL)
		return;
	httpsrv_close(&w->srv, loop); /* closed() frees every stream */
	while (w->streams != NULL)
		closed(w->streams->c, w);
	free(w);
	*wp = NULL;
}

const char *
dash_web_url(const struct dash_web *w)
{
	return (httpsrv_url(w->srv));
}

void
dash_web_event(struct dash_web *w, const char *json)
{
	struct stream *s, *next;
	char          *line = xasprintf("data: %s\n\n", json);
	size_t         len  = strlen(line);

	/* a stream that falls behind is closed by httpsrv_send, which runs
	 * closed() and frees s: take next first */
	for (s = w->streams; s != NULL; s = next) {
		next = s->next;
		(void) httpsrv_send(s->c, line, len);
	}
	free(line);
}

size_t
dash_web_streams(const struct dash_web *w)
{
	return (w->nstreams);
}
