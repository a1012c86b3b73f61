/*
 * plane.c - the asynchronous Plane client (see plane.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "opc/err.h"
#include "opc/log.h"
#include "opc/util.h"
#include "plane.h"

struct preq {
	struct preq *next;
	char        *method, *path, *body; /* path: full URL */
	plane_done   done;
	void        *arg;
	bool         list;
	json_t      *acc; /* list: results so far */
	char        *base_path; /* list: URL without the cursor */
};

struct plane {
	struct http *http;
	char        *prefix; /* base_url + /api/v1/workspaces/../projects/../ */
	char        *root;   /* base_url */
	char        *key_hdr;
	int64_t      timeout_ms, per_page;
	struct preq *head, *tail;
	bool         inflight;
	bool         closing;
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
	p->root = xstrdup(c->base_url);
	n = strlen(p->root);
	while (n > 0 && p->root[n - 1] == '/')
		p->root[--n] = '\0';
	p->prefix = xasprintf("%s/api/v1/workspaces/%s/projects/%s/", p->root,
	    c->workspace, c->project);
	p->key_hdr = xasprintf("X-API-Key: %s", c->token ? c->token : "");
	if (c->token != NULL && *c->token != '\0')
		log_redact(c->token);
	p->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 30000;
	p->per_page = c->per_page > 0 ? c->per_page : 100;
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
	free(r);
}

void
plane_close(struct plane **pp)
{
	struct plane *p = *pp;
	struct preq  *r;

	if (p == NULL)
		return;
	*pp = NULL;
	p->closing = true;
	http_close(&p->http); /* the in-flight callback sees ERR_CLOSED */
	/* every queued request still gets its callback (its context is
	 * freed there); callbacks may queue more, which end the same way */
	while ((r = p->head) != NULL) {
		p->head = r->next;
		if (p->head == NULL)
			p->tail = NULL;
		r->done(p, 0, NULL, "client closed", r->arg);
		preq_free(r);
	}
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

static void
enqueue(struct plane *p, struct preq *r)
{
	if (p->tail != NULL)
		p->tail->next = r;
	else
		p->head = r;
	p->tail = r;
	pump(p);
}

void
plane_call(struct plane *p, const char *method, const char *path, json_t *body,
    plane_done done, void *arg)
{
	struct preq *r = xcalloc(1, sizeof(*r));

	r->method = xstrdup(method);
	r->path = url_of(p, path);
	r->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
	r->done = done;
	r->arg = arg;
	enqueue(p, r);
}

void
plane_list(struct plane *p, const char *path, plane_done done, void *arg)
{
	struct preq *r = xcalloc(1, sizeof(*r));
	char        *u = url_of(p, path);

	r->method = xstrdup("GET");
	r->base_path = xasprintf("%s%sper_page=%lld", u,
	    strchr(u, '?') ? "&" : "?", (long long) p->per_page);
	r->path = xstrdup(r->base_path);
	r->done = done;
	r->arg = arg;
	r->list = true;
	r->acc = json_array();
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

/* finish pops the head request, calls its callback, pumps the next. */
static void
finish(struct plane *p, int status, json_t *body, const char *err)
{
	struct preq *r = p->head;

	p->head = r->next;
	if (p->head == NULL)
		p->tail = NULL;
	p->inflight = false;
	if (r->list && status / 100 == 2)
		r->done(p, status, r->acc, err, r->arg);
	else
		r->done(p, status, body, err, r->arg);
	preq_free(r);
	pump(p);
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

static void
on_resp(struct http *h, const struct http_resp *resp, void *arg)
{
	struct plane *p = arg;
	struct preq  *r = p->head;
	json_t       *body = NULL;
	const char   *next;
	char          err[300];

	(void) h;
	if (resp->err != 0) {
		snprintf(err, sizeof(err), "%s %s: %s", r->method,
		    r->base_path ? "list" : "request", resp->errmsg);
		finish(p, 0, NULL, err);
		return;
	}
	if (resp->body.len > 0)
		body = json_loadb(resp->body.data, resp->body.len, 0, NULL);
	if (resp->status / 100 != 2 || !r->list) {
		snprintf(err, sizeof(err), "HTTP %d", resp->status);
		finish(p, resp->status, body, resp->status / 100 == 2 ? NULL
		                                                      : err);
		json_decref(body);
		return;
	}
	if ((next = plane_page(r->acc, body)) != NULL) {
		free(r->path);
		r->path = page_path(r->base_path, next);
		json_decref(body);
		p->inflight = false;
		pump(p);
		return;
	}
	finish(p, resp->status, body, NULL);
	json_decref(body);
}

static void
pump(struct plane *p)
{
	struct preq    *r = p->head;
	const char     *hdrs[4];
	struct http_req hr;

	if (r == NULL || p->inflight || p->http == NULL || p->closing)
		return;
	hdrs[0] = p->key_hdr;
	hdrs[1] = "Content-Type: application/json";
	hdrs[2] = "Accept: application/json";
	hdrs[3] = NULL;
	memset(&hr, 0, sizeof(hr));
	hr.method = r->method;
	hr.url = r->path;
	hr.headers = hdrs;
	hr.body = r->body;
	hr.body_len = r->body ? strlen(r->body) : 0;
	hr.timeout_ms = p->timeout_ms;
	p->inflight = true;
	if (http_send(p->http, &hr, on_resp, p) == 0) {
		p->inflight = false;
		finish(p, 0, NULL, "malformed request");
	}
}

/* ---------------------------------------------------------------- text */

static void
escape(struct buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		switch (s[i]) {
		case '<':
			buf_puts(b, "&lt;");
			break;
		case '>':
			buf_puts(b, "&gt;");
			break;
		case '&':
			buf_puts(b, "&amp;");
			break;
		case '"':
			buf_puts(b, "&quot;");
			break;
		default:
			buf_append(b, s + i, 1);
		}
}

char *
plane_comment_html(const char *text)
{
	struct buf  b;
	const char *l = text ? text : "", *e;
	bool        in_list = false, any = false;
	size_t      n;

	buf_init(&b);
	for (; *l != '\0'; l = *e ? e + 1 : e) {
		e = strchr(l, '\n');
		if (e == NULL)
			e = l + strlen(l);
		n = (size_t) (e - l);
		while (n > 0 && (l[n - 1] == ' ' || l[n - 1] == '\r'))
			n--;
		if (n == 0)
			continue;
		any = true;
		if (n >= 2 && l[0] == '-' && l[1] == ' ') {
			if (!in_list)
				buf_puts(&b, "<ul>");
			in_list = true;
			buf_puts(&b, "<li>");
			escape(&b, l + 2, n - 2);
			buf_puts(&b, "</li>");
			continue;
		}
		if (in_list)
			buf_puts(&b, "</ul>");
		in_list = false;
		buf_puts(&b, "<p>");
		escape(&b, l, n);
		buf_puts(&b, "</p>");
	}
	if (in_list)
		buf_puts(&b, "</ul>");
	if (!any)
		buf_puts(&b, "<p>(no summary)</p>");
	(void) buf_cstr(&b);
	return (b.data); /* the buffer's storage is the string */
}

char *
plane_text(const char *html)
{
	struct buf  b;
	const char *p = html ? html : "", *gt;
	size_t      nl = 0;

	buf_init(&b);
	while (*p != '\0') {
		if (*p == '<' && (gt = strchr(p, '>')) != NULL) {
			if (strncmp(p, "<li", 3) == 0)
				buf_puts(&b, "\n- ");
			else if (strncmp(p, "<br", 3) == 0 ||
			    strncmp(p, "</p", 3) == 0 ||
			    strncmp(p, "</h", 3) == 0 ||
			    strncmp(p, "</ul", 4) == 0)
				buf_puts(&b, "\n");
			else if (p[1] == 'h' && p[2] >= '1' && p[2] <= '6')
				buf_puts(&b, "\n## ");
			p = gt + 1;
			continue;
		}
		if (strncmp(p, "&lt;", 4) == 0) {
			buf_puts(&b, "<");
			p += 4;
		} else if (strncmp(p, "&gt;", 4) == 0) {
			buf_puts(&b, ">");
			p += 4;
		} else if (strncmp(p, "&amp;", 5) == 0) {
			buf_puts(&b, "&");
			p += 5;
		} else if (strncmp(p, "&quot;", 6) == 0) {
			buf_puts(&b, "\"");
			p += 6;
		} else
			buf_append(&b, p++, 1);
	}
	/* collapse 3+ newlines, trim */
	{
		char  *s = buf_cstr(&b), *o = s, *q;
		size_t len;

		for (q = s; *q != '\0'; q++) {
			nl = *q == '\n' ? nl + 1 : 0;
			if (nl <= 2)
				*o++ = *q;
		}
		*o = '\0';
		while (*s == '\n' || *s == ' ')
			s++;
		len = strlen(s);
		while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' '))
			s[--len] = '\0';
		q = xstrdup(s);
		buf_fini(&b);
		return (q);
	}
}
