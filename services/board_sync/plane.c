/*
 * plane.c - the asynchronous Plane client and its rate budget (see
 * plane.h).
 *
 * Queue: a singly linked list in priority order; the head is the request
 * in flight, or the next to go.  pump() sends the head when the budget
 * allows, else arms one timer for when it will.  A list request stays at
 * the head between its pages (others of higher priority may go first).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "opc/err.h"
#include "opc/log.h"
#include "opc/util.h"
#include "plane.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 300000
#define RETRY_AFTER_MAX_MS 3600000 /* a larger Retry-After is not believed */

/* -------------------------------------------------------------- budget */

/* usable: the requests of a window we allow ourselves, one under the
 * limit (for skew), unless the limit is 1. */
static int64_t
usable(const struct plane_budget *b)
{
	return (b->limit > 1 ? b->limit - 1 : 1);
}

static void
grow(struct plane_budget *b, size_t cap)
{
	int64_t *log;
	size_t   i;

	if (cap <= b->cap)
		return;
	log = xcalloc(cap, sizeof(*log));
	for (i = 0; i < b->n; i++) /* oldest first */
		log[i] = b->log[(b->head + i) % b->cap];
	free(b->log);
	b->log  = log;
	b->cap  = cap;
	b->head = 0;
}

void
plane_budget_init(
    struct plane_budget *b, int64_t limit, int64_t window_ms, int64_t now)
{
	memset(b, 0, sizeof(*b));
	b->limit     = limit > 0 ? limit : 60;
	b->window_ms = window_ms > 0 ? window_ms : 60000;
	grow(b, (size_t) b->limit + 1);
	b->burst = b->limit / 10 > 1 ? (double) (b->limit / 10) : 1.0;
	/* one request until an answer tells how full the window is (a
	 * restart does not know what its previous run spent) */
	b->tokens    = 1.0;
	b->refill_at = now;
	b->remaining = -1;
}

void
plane_budget_fini(struct plane_budget *b)
{
	free(b->log);
	memset(b, 0, sizeof(*b));
}

/* prune drops our requests that left the window. */
static void
prune(struct plane_budget *b, int64_t now)
{
	while (b->n > 0 && b->log[b->head] <= now - b->window_ms) {
		b->head = (b->head + 1) % b->cap;
		b->n--;
	}
	if (b->foreign > 0 && b->foreign_at <= now - b->window_ms)
		b->foreign = 0;
}

static double
refill_rate(const struct plane_budget *b) /* tokens per ms */
{
	return ((double) usable(b) / (double) b->window_ms);
}

/* refill adds the tokens earned since refill_at (which a 429 may set in
 * the future: nothing is earned while held). */
static void
refill(struct plane_budget *b, int64_t now)
{
	if (now <= b->refill_at)
		return;
	b->tokens += (double) (now - b->refill_at) * refill_rate(b);
	if (b->tokens > b->burst)
		b->tokens = b->burst;
	b->refill_at = now;
}

/*
 * window_free returns when the window has room for one more request: the
 * first moment our logged requests still in it, plus the foreign ones,
 * are fewer than usable().  When the foreign ones were made is not
 * known, so they are taken to stay a whole window from when they were
 * counted (each answer counts them again): a client that keeps sending
 * keeps its share, and after a restart into a window our previous run
 * filled we wait at most one window, never into a 429.
 */
static int64_t
window_free(const struct plane_budget *b, int64_t now)
{
	int64_t fexp = b->foreign_at + b->window_ms, t = now, used, e;
	size_t  i = 0;

	for (;;) {
		used = (int64_t) (b->n - i) + (fexp > t ? b->foreign : 0);
		if (used < usable(b))
			return (t);
		/* the next to leave: our oldest, or the foreign block */
		e = i < b->n ? b->log[(b->head + i) % b->cap] + b->window_ms
		             : INT64_MAX;
		if (b->foreign > 0 && fexp > t && fexp <= e)
			t = fexp;
		else if (i < b->n) {
			t = e > t ? e : t;
			i++;
		} else
			return (t);
	}
}

int64_t
plane_budget_wait(struct plane_budget *b, int64_t now)
{
	int64_t at = now, t;

	prune(b, now);
	refill(b, now);
	if (b->hold_until > at)
		at = b->hold_until;
	if ((t = window_free(b, now)) > at)
		at = t;
	if (b->tokens < 1.0) {
		t = now + (int64_t) ((1.0 - b->tokens) / refill_rate(b)) + 1;
		if (t > at)
			at = t;
	}
	return (at - now);
}

void
plane_budget_sent(struct plane_budget *b, int64_t now)
{
	refill(b, now);
	b->tokens -= 1.0;
}

void
plane_budget_hold(struct plane_budget *b, int64_t now, int64_t ms)
{
	if (now + ms > b->hold_until)
		b->hold_until = now + ms;
}

void
plane_budget_answer(struct plane_budget *b, int64_t now, int status,
    int64_t remaining, int64_t retry_ms)
{
	int64_t mine, other;

	prune(b, now);
	if (status == 429) {
		/* refused by the throttle: not logged by the server either */
		if (retry_ms < 0 || retry_ms > RETRY_AFTER_MAX_MS)
			retry_ms = b->window_ms / usable(b) > BACKOFF_MIN_MS
			    ? b->window_ms / usable(b)
			    : BACKOFF_MIN_MS;
		plane_budget_hold(b, now, retry_ms);
		/* Retry-After is when one request fits again: one, then
		 * the steady pace (no burst into a full window) */
		b->tokens    = 1.0;
		b->refill_at = now + retry_ms;
		b->remaining = 0;
		return;
	}
	if (status == 401 || status == 403) /* refused before the throttle */
		return;
	/* logged when the answer came: by then the server has logged it
	 * (its log time is earlier), so it leaves our window no sooner
	 * than the server's */
	if (b->n == b->cap)
		grow(b, b->cap * 2);
	b->log[(b->head + b->n) % b->cap] = now;
	b->n++;
	if (remaining < 0)
		return;
	b->remaining = remaining;
	mine         = (int64_t) b->n;
	if (remaining + mine > b->limit) { /* a higher limit than we knew */
		b->limit = remaining + mine;
		grow(b, (size_t) b->limit + 1);
		b->burst = b->limit / 10 > 1 ? (double) (b->limit / 10) : 1.0;
	}
	other         = b->limit - remaining - mine;
	b->foreign    = other > 0 ? other : 0;
	b->foreign_at = now;
}

/* -------------------------------------------------------------- client */

struct preq {
	struct preq    *next;
	enum plane_prio prio;
	char           *method, *path, *body; /* path: full URL */
	plane_done      done;
	plane_more      more;
	void           *arg;
	bool            list;
	json_t         *acc;       /* list: results so far */
	json_t         *seen;      /* list: id -> index in acc */
	char           *base_path; /* list: URL without the cursor */
};

struct plane {
	struct http        *http;
	struct loop        *loop;
	char               *prefix; /* base_url + /api/v1/workspaces/.. */
	char               *root;   /* base_url */
	char               *key_hdr;
	int64_t             timeout_ms, per_page;
	struct preq        *head;
	bool                inflight, closing;
	struct plane_budget budget;
	uint64_t            timer;
	int64_t             backoff_ms;
	int64_t             requests, throttled, errors;
};

static void pump(struct plane *);

int
plane_open(struct plane **pp, struct loop *l, const struct plane_cfg *c)
{
	struct plane *p = xcalloc(1, sizeof(*p));
	size_t        n;
	int           rv;

	if ((rv = http_open(&p->http, l)) != 0) {
		free(p);
		return (rv);
	}
	p->loop = l;
	p->root = xstrdup(c->base_url);
	n       = strlen(p->root);
	while (n > 0 && p->root[n - 1] == '/')
		p->root[--n] = '\0';
	p->prefix  = xasprintf("%s/api/v1/workspaces/%s/projects/%s/", p->root,
	     c->workspace, c->project);
	p->key_hdr = xasprintf("X-API-Key: %s", c->token ? c->token : "");
	if (c->token != NULL && *c->token != '\0')
		log_redact(c->token);
	p->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 30000;
	p->per_page   = c->per_page > 0 ? c->per_page : PLANE_MAX_PER_PAGE;
	if (p->per_page > PLANE_MAX_PER_PAGE)
		p->per_page = PLANE_MAX_PER_PAGE;
	plane_budget_init(&p->budget, c->rate > 0 ? c->rate : 60,
	    c->rate_ms > 0 ? c->rate_ms : 60000, mono_ms());
	*pp = p;
	return (0);
}

static void
preq_free(struct preq *r)
{
	free(r->method);
	free(r->path);
	free(r->body);
	free(r->base_path);
	json_decref(r->acc);
	json_decref(r->seen);
	free(r);
}

void
plane_close(struct plane **pp)
{
	struct plane *p = *pp;
	struct preq  *r;

	if (p == NULL)
		return;
	*pp        = NULL;
	p->closing = true;
	if (p->timer != 0)
		loop_timer_cancel(p->loop, p->timer);
	http_close(&p->http); /* the in-flight callback sees ERR_CLOSED */
	/* every queued request still gets its callback (its context is
	 * freed there); callbacks may queue more, which end the same way */
	while ((r = p->head) != NULL) {
		p->head = r->next;
		r->done(p, 0, NULL, "client closed", r->arg);
		preq_free(r);
	}
	plane_budget_fini(&p->budget);
	free(p->prefix);
	free(p->root);
	free(p->key_hdr);
	free(p);
}

static char *
url_of(struct plane *p, const char *path)
{
	return (path[0] == '/' ? xasprintf("%s%s", p->root, path)
	                       : xasprintf("%s%s", p->prefix, path));
}

/* enqueue inserts r after every request of its priority or a higher
 * one; never before the request in flight. */
static void
enqueue(struct plane *p, struct preq *r)
{
	struct preq **pp = &p->head;

	if (p->inflight && *pp != NULL)
		pp = &(*pp)->next;
	while (*pp != NULL && (*pp)->prio <= r->prio)
		pp = &(*pp)->next;
	r->next = *pp;
	*pp     = r;
	pump(p);
}

void
plane_call(struct plane *p, enum plane_prio prio, const char *method,
    const char *path, json_t *body, plane_done done, void *arg)
{
	struct preq *r = xcalloc(1, sizeof(*r));

	r->prio   = prio;
	r->method = xstrdup(method);
	r->path   = url_of(p, path);
	r->body   = body ? json_dumps(body, JSON_COMPACT) : NULL;
	r->done   = done;
	r->arg    = arg;
	enqueue(p, r);
}

void
plane_list(struct plane *p, enum plane_prio prio, const char *path,
    int64_t per_page, plane_more more, plane_done done, void *arg)
{
	struct preq *r = xcalloc(1, sizeof(*r));
	char        *u = url_of(p, path);

	if (per_page <= 0 || per_page > p->per_page)
		per_page = p->per_page;
	r->prio      = prio;
	r->method    = xstrdup("GET");
	r->base_path = xasprintf("%s%sper_page=%lld", u,
	    strchr(u, '?') ? "&" : "?", (long long) per_page);
	r->path      = xstrdup(r->base_path);
	r->done      = done;
	r->more      = more;
	r->arg       = arg;
	r->list      = true;
	r->acc       = json_array();
	r->seen      = json_object();
	free(u);
	enqueue(p, r);
}

size_t
plane_busy(const struct plane *p)
{
	const struct preq *r;
	size_t             n = 0;

	if (p == NULL) /* plane_close: callbacks of the drained requests */
		return (0);
	for (r = p->head; r != NULL; r = r->next)
		n++;
	return (n);
}

void
plane_stats(const struct plane *p, json_t *obj)
{
	int64_t hold = p->budget.hold_until - mono_ms();

	json_object_set_new(obj, "requests", json_integer(p->requests));
	json_object_set_new(obj, "throttled", json_integer(p->throttled));
	json_object_set_new(obj, "request_errors", json_integer(p->errors));
	json_object_set_new(
	    obj, "rate_remaining", json_integer(p->budget.remaining));
	json_object_set_new(obj, "rate_limit", json_integer(p->budget.limit));
	json_object_set_new(obj, "hold_ms", json_integer(hold > 0 ? hold : 0));
	json_object_set_new(
	    obj, "queued", json_integer((json_int_t) plane_busy(p)));
}

/* pop removes the head and calls its callback. */
static void
pop(struct plane *p, int status, json_t *body, const char *err)
{
	struct preq *r = p->head;

	p->head     = r->next;
	p->inflight = false;
	if (r->list && status / 100 == 2)
		r->done(p, status, r->acc, err, r->arg);
	else
		r->done(p, status, body, err, r->arg);
	preq_free(r);
}

const char *
plane_page(json_t *acc, const json_t *body)
{
	json_t *res, *next;

	/* a bare array, or Plane's paginated object */
	res = json_is_array(body) ? (json_t *) body
	                          : json_object_get(body, "results");
	if (json_is_array(res))
		json_array_extend(acc, res);
	next = json_object_get(body, "next_cursor");
	if (json_is_true(json_object_get(body, "next_page_results")) &&
	    json_is_string(next) && json_array_size(res) > 0)
		return (json_string_value(next));
	return (NULL);
}

/* page_add appends a page's results to r->acc, an id seen on an earlier
 * page (the list shifted: a work item was made or changed between the
 * pages) replacing its earlier copy. */
static const char *
page_add(struct preq *r, const json_t *body)
{
	json_t     *page = json_array(), *v, *at;
	const char *next = plane_page(page, body), *id;
	size_t      i;

	json_array_foreach (page, i, v) {
		id = json_string_value(json_object_get(v, "id"));
		if (id != NULL &&
		    (at = json_object_get(r->seen, id)) != NULL) {
			json_array_set(
			    r->acc, (size_t) json_integer_value(at), v);
			continue;
		}
		if (id != NULL)
			json_object_set_new(r->seen, id,
			    json_integer(
			        (json_int_t) json_array_size(r->acc)));
		json_array_append(r->acc, v);
	}
	json_decref(page);
	return (next);
}

/* page_path returns base&cursor=<cursor>, the cursor percent-encoded
 * (every byte but RFC 3986's unreserved ones): it is the server's text. */
static char *
page_path(const char *base, const char *cursor)
{
	struct buf  b;
	const char *c;

	buf_init(&b);
	buf_printf(&b, "%s&cursor=", base);
	for (c = cursor; *c != '\0'; c++)
		if (isalnum((unsigned char) *c) || strchr("-._~", *c) != NULL)
			buf_append(&b, c, 1);
		else
			buf_printf(&b, "%%%02X", (unsigned char) *c);
	return (buf_cstr(&b));
}

/* header_int reads a header of decimal digits; -1 when absent or not. */
static int64_t
header_int(const struct http_resp *resp, const char *name)
{
	const char *v = http_header(resp, name), *s;

	if (v == NULL || *v == '\0' || strlen(v) > 12)
		return (-1);
	for (s = v; *s != '\0'; s++)
		if (!isdigit((unsigned char) *s))
			return (
			    -1); /* an HTTP-date Retry-After: not Plane's */
	return (strtoll(v, NULL, 10));
}

/* unavailable fails the head and every queued request (Plane is away;
 * their callers retry from their own state) and holds the queue.  What
 * the callbacks queue meanwhile waits for the hold. */
static void
unavailable(struct plane *p, int status, const char *err)
{
	struct preq *q = p->head, *r;

	p->head     = NULL;
	p->inflight = false;
	p->backoff_ms =
	    p->backoff_ms == 0 ? BACKOFF_MIN_MS : p->backoff_ms * 2;
	if (p->backoff_ms > BACKOFF_MAX_MS)
		p->backoff_ms = BACKOFF_MAX_MS;
	plane_budget_hold(&p->budget, mono_ms(), p->backoff_ms);
	log_warn("plane.backoff",
	    "%s: Plane unavailable, next request in "
	    "%lld ms",
	    err, (long long) p->backoff_ms);
	while ((r = q) != NULL) {
		q = r->next;
		r->done(p, status, NULL, err, r->arg);
		preq_free(r);
	}
}

static void
on_resp(struct http *h, const struct http_resp *resp, void *arg)
{
	struct plane *p    = arg;
	struct preq  *r    = p->head;
	json_t       *body = NULL;
	const char   *next;
	char          err[300];
	int64_t       now = mono_ms(), ra = -1;

	(void) h;
	if (p->closing) { /* plane_close: only the callback is due */
		pop(p, 0, NULL, "client closed");
		return;
	}
	if (resp->err != 0) {
		p->errors++;
		plane_budget_answer(&p->budget, now, 0, -1, -1);
		snprintf(err, sizeof(err), "%s %s: %s", r->method,
		    r->list ? "list" : "request", resp->errmsg);
		p->inflight = false;
		unavailable(p, 0, err);
		pump(p);
		return;
	}
	if (resp->status == 429)
		ra = header_int(resp, "Retry-After");
	plane_budget_answer(&p->budget, now, resp->status,
	    header_int(resp, "X-RateLimit-Remaining"),
	    ra >= 0 ? ra * 1000 : -1);
	p->inflight = false;
	if (resp->status == 429) {
		/* not executed: the same request goes again when allowed */
		p->throttled++;
		log_warn("plane.throttled", "%s: 429, Retry-After %s s",
		    r->method,
		    ra >= 0 ? http_header(resp, "Retry-After") : "(none)");
		pump(p);
		return;
	}
	if (resp->body.len > 0)
		body = json_loadb(resp->body.data, resp->body.len, 0, NULL);
	if (resp->status == 502 || resp->status == 503 ||
	    resp->status == 504) {
		p->errors++;
		snprintf(err, sizeof(err), "HTTP %d", resp->status);
		unavailable(p, resp->status, err);
		json_decref(body);
		pump(p);
		return;
	}
	p->backoff_ms = 0;
	if (resp->status / 100 != 2 || !r->list) {
		if (resp->status / 100 != 2)
			p->errors++;
		snprintf(err, sizeof(err), "HTTP %d", resp->status);
		pop(p, resp->status, body,
		    resp->status / 100 == 2 ? NULL : err);
		json_decref(body);
		pump(p);
		return;
	}
	next = page_add(r, body);
	if (next != NULL && (r->more == NULL || r->more(p, body, r->arg))) {
		free(r->path);
		r->path = page_path(r->base_path, next);
		json_decref(body);
		pump(p);
		return;
	}
	if (next == NULL && r->more != NULL)
		(void) r->more(
		    p, body, r->arg); /* it sees the last page too */
	pop(p, resp->status, body, NULL);
	json_decref(body);
	pump(p);
}

static void
on_timer(struct loop *l, void *arg)
{
	struct plane *p = arg;

	(void) l;
	p->timer = 0;
	pump(p);
}

static void
pump(struct plane *p)
{
	struct preq    *r = p->head;
	const char     *hdrs[4];
	struct http_req hr;
	int64_t         wait;

	if (r == NULL || p->inflight || p->http == NULL || p->closing)
		return;
	if ((wait = plane_budget_wait(&p->budget, mono_ms())) > 0) {
		if (p->timer != 0)
			loop_timer_cancel(p->loop, p->timer);
		p->timer = loop_timer(p->loop, wait, on_timer, p);
		return;
	}
	hdrs[0] = p->key_hdr;
	hdrs[1] = "Content-Type: application/json";
	hdrs[2] = "Accept: application/json";
	hdrs[3] = NULL;
	memset(&hr, 0, sizeof(hr));
	hr.method     = r->method;
	hr.url        = r->path;
	hr.headers    = hdrs;
	hr.body       = r->body;
	hr.body_len   = r->body ? strlen(r->body) : 0;
	hr.timeout_ms = p->timeout_ms;
	p->inflight   = true;
	p->requests++;
	plane_budget_sent(&p->budget, mono_ms());
	if (http_send(p->http, &hr, on_resp, p) == 0) {
		p->inflight = false;
		pop(p, 0, NULL, "malformed request");
		pump(p);
	}
}
