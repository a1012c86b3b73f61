/*
 * collect.c - pure parsers of what the observer reads (see collect.h).
 *
 * Everything here takes bytes and a length, never trusts them to be
 * NUL-terminated or well-formed, and never reads past len: tool output,
 * coverage reports and file contents come from the observed repository.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect.h"
#include "opc/err.h"
#include "opc/util.h"

#define MAX_DIGITS 18 /* fits int64_t */

char *
utf8_fix(char *s)
{
	size_t i = 0, len = strlen(s), k;

	while (i < len) {
		if ((k = utf8_len((const unsigned char *) s + i, len - i)) == 0)
			s[i++] = '?';
		else
			i += k;
	}
	return (s);
}

char *
text_dup(const char *s, size_t n)
{
	return (utf8_fix(xstrndup(s, n)));
}

/* ------------------------------------------------------------ lint */

/* digits returns the number of decimal digits at s[0..n). */
static size_t
digits(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && isdigit((unsigned char) s[i]))
		i++;
	return (i);
}

static int64_t
number(const char *s, size_t n)
{
	int64_t v = 0;
	size_t  i;

	for (i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return (v);
}

static bool
blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isspace((unsigned char) s[i]))
			return (false);
	return (true);
}

/* strip_word drops a leading "word" (e.g. "error:") and the blanks after
 * it from [*s, *s + *n). */
static void
strip_word(const char **s, size_t *n, const char *word)
{
	size_t wl = strlen(word);

	if (*n < wl || memcmp(*s, word, wl) != 0)
		return;
	*s += wl;
	*n -= wl;
	while (*n > 0 && isspace((unsigned char) **s)) {
		(*s)++;
		(*n)--;
	}
}

/* code_of returns the first token of msg when it looks like a rule code
 * (^[A-Z]+[0-9]+$, a pylint-style trailing ':' allowed), else NULL. */
static char *
code_of(const char *msg, size_t n)
{
	size_t t = 0, a, d;

	while (t < n && !isspace((unsigned char) msg[t]))
		t++;
	if (t > 1 && msg[t - 1] == ':')
		t--;
	for (a = 0; a < t && isupper((unsigned char) msg[a]); a++)
		;
	d = digits(msg + a, t - a);
	if (a == 0 || d == 0 || a + d != t)
		return (NULL);
	return (xstrndup(msg, t));
}

/* location finds the leftmost ":<line>:" after a non-blank path and
 * returns the offset of the message after it (and of the optional
 * "<col>:"), or 0 when the line has none. */
static size_t
location(const char *s, size_t len, size_t *plen, int64_t *line, int64_t *col)
{
	size_t i, d, c;

	for (i = 1; i < len; i++) {
		if (s[i] != ':' || blank(s, i))
			continue;
		d = digits(s + i + 1, len - i - 1);
		if (d == 0 || d > MAX_DIGITS || i + 1 + d >= len ||
		    s[i + 1 + d] != ':')
			continue;
		*plen = i;
		*line = number(s + i + 1, d);
		i += d + 2;
		c = digits(s + i, len - i);
		*col = -1;
		if (c > 0 && c <= MAX_DIGITS && i + c < len &&
		    s[i + c] == ':') {
			*col = number(s + i, c);
			i += c + 1;
		}
		return (i);
	}
	return (0);
}

bool
lint_parse_line(struct finding *f, const char *s, size_t len)
{
	const char *p, *msg;
	size_t      plen, mlen, at;
	int64_t     line, col;

	while (len > 0 && (s[len - 1] == '\r' || s[len - 1] == '\n'))
		len--;
	if ((at = location(s, len, &plen, &line, &col)) == 0)
		return (false);
	msg = s + at;
	mlen = len - at;
	while (mlen > 0 && isspace((unsigned char) *msg)) {
		msg++;
		mlen--;
	}
	strip_word(&msg, &mlen, "error:");
	strip_word(&msg, &mlen, "warning:");
	while (mlen > 0 && isspace((unsigned char) msg[mlen - 1]))
		mlen--;
	/* A note explains the finding before it; it is not one. */
	if (mlen == 0 || (mlen >= 5 && memcmp(msg, "note:", 5) == 0))
		return (false);
	p = s;
	while (plen > 2 && p[0] == '.' && p[1] == '/') {
		p += 2;
		plen -= 2;
	}
	memset(f, 0, sizeof(*f));
	f->path = text_dup(p, plen);
	f->line = line;
	f->col = col;
	f->code = code_of(msg, mlen);
	f->message = text_dup(msg, mlen);
	return (true);
}

void
lint_parse(struct findings *fs, const char *text, size_t len)
{
	const char    *p = text, *end = text + len, *nl;
	struct finding f;

	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t) (end - p))) == NULL)
			nl = end;
		if (lint_parse_line(&f, p, (size_t) (nl - p))) {
			if (fs->n == fs->cap) {
				fs->cap = fs->cap ? fs->cap * 2 : 64;
				fs->v =
				    xrealloc(fs->v, fs->cap * sizeof(*fs->v));
			}
			fs->v[fs->n++] = f;
		}
		p = nl + 1;
	}
}

void
findings_fini(struct findings *fs)
{
	size_t i;

	for (i = 0; i < fs->n; i++) {
		free(fs->v[i].path);
		free(fs->v[i].code);
		free(fs->v[i].message);
	}
	free(fs->v);
	memset(fs, 0, sizeof(*fs));
}

static int
cmp_str(const void *a, const void *b)
{
	return (strcmp(*(char *const *) a, *(char *const *) b));
}

static int
cmp_pcount(const void *a, const void *b)
{
	const struct pcount *x = a, *y = b;

	if (x->count != y->count)
		return (x->count > y->count ? -1 : 1);
	return (strcmp(x->path, y->path));
}

json_t *
top_counts(struct pcount *v, size_t n, size_t max)
{
	json_t *a = json_array();
	size_t  i;

	if (n > 0)
		qsort(v, n, sizeof(*v), cmp_pcount);
	for (i = 0; i < n && i < max; i++)
		json_array_append_new(a, json_pack("{s:s, s:I}", "path",
		                                   v[i].path, "count",
		                                   (json_int_t) v[i].count));
	return (a);
}

void
pcounts_free(struct pcount *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

static json_t *
violation_json(const struct finding *f)
{
	return (json_pack("{s:s, s:I, s:o, s:o, s:s}", "path", f->path, "line",
	                  (json_int_t) f->line, "col",
	                  f->col >= 0 ? json_integer(f->col) : json_null(),
	                  "code", f->code ? json_string(f->code) : json_null(),
	                  "message", f->message));
}

json_t *
lint_summary(const struct findings *fs)
{
	struct pcount *pc = NULL;
	const char   **paths = NULL;
	json_t        *o, *tv = json_array();
	size_t         i, np = 0;

	if (fs->n > 0) {
		paths = xcalloc(fs->n, sizeof(*paths));
		pc = xcalloc(fs->n, sizeof(*pc));
	}
	for (i = 0; i < fs->n; i++)
		paths[i] = fs->v[i].path;
	if (fs->n > 0)
		qsort(paths, fs->n, sizeof(*paths), cmp_str);
	for (i = 0; i < fs->n; i++) {
		if (np == 0 || strcmp(pc[np - 1].path, paths[i]) != 0)
			pc[np++].path = xstrdup(paths[i]);
		pc[np - 1].count++;
	}
	for (i = 0; i < fs->n && i < TOP_N; i++)
		json_array_append_new(tv, violation_json(&fs->v[i]));
	o = json_pack("{s:I, s:I, s:o, s:o}", "count", (json_int_t) fs->n,
	              "distinct_files", (json_int_t) np, "top_files",
	              top_counts(pc, np, TOP_N), "top_violations", tv);
	pcounts_free(pc, np);
	free(paths);
	return (o);
}

/* -------------------------------------------------------- coverage */

static double
round2(double v)
{
	return (round(v * 100.0) / 100.0);
}

/* tag_find returns the first "<name" at or after p that is followed by a
 * blank, '>' or '/' (so "<class" does not match "<classes>"), or NULL. */
static const char *
tag_find(const char *p, const char *end, const char *name)
{
	size_t nl = strlen(name);
	char   c;

	while (p < end && (p = memchr(p, '<', (size_t) (end - p))) != NULL) {
		if ((size_t) (end - p) > nl + 1 &&
		    memcmp(p + 1, name, nl) == 0) {
			c = p[1 + nl];
			if (isspace((unsigned char) c) || c == '>' || c == '/')
				return (p + 1 + nl);
		}
		p++;
	}
	return (NULL);
}

/* tag_end returns the '>' closing the tag whose attributes start at p
 * (quoted values may hold '>'), or NULL when the text ends first. */
static const char *
tag_end(const char *p, const char *end)
{
	char q = 0;

	for (; p < end; p++) {
		if (q != 0) {
			if (*p == q)
				q = 0;
		} else if (*p == '"' || *p == '\'')
			q = *p;
		else if (*p == '>')
			return (p);
	}
	return (NULL);
}

/* unescape returns a new copy of an attribute value with the five XML
 * entities decoded (others are kept as they are). */
static char *
unescape(const char *s, size_t n)
{
	static const struct {
		const char *ent;
		char        c;
	} ents[] = {{"&amp;", '&'},
	            {"&lt;", '<'},
	            {"&gt;", '>'},
	            {"&quot;", '"'},
	            {"&apos;", '\''}};
	struct buf b;
	size_t     i, k, el;

	buf_init(&b);
	for (i = 0; i < n; i++) {
		for (k = 0; s[i] == '&' && k < nitems(ents); k++) {
			el = strlen(ents[k].ent);
			if (n - i >= el && memcmp(s + i, ents[k].ent, el) == 0)
				break;
		}
		if (s[i] == '&' && k < nitems(ents)) {
			buf_append(&b, &ents[k].c, 1);
			i += strlen(ents[k].ent) - 1;
		} else
			buf_append(&b, s + i, 1);
	}
	buf_cstr(&b);
	return (b.data);
}

/* attr returns a new copy of attribute name of the tag [p, gt), or NULL. */
static char *
attr(const char *p, const char *gt, const char *name)
{
	const char *n, *v;
	size_t      nl;
	char        q;

	while (p < gt) {
		while (p < gt && isspace((unsigned char) *p))
			p++;
		for (n = p; p < gt && *p != '=' && *p != '/' &&
		            !isspace((unsigned char) *p);
		     p++)
			;
		nl = (size_t) (p - n);
		while (p < gt && isspace((unsigned char) *p))
			p++;
		if (p >= gt || *p != '=') {
			p++;
			continue;
		}
		p++;
		while (p < gt && isspace((unsigned char) *p))
			p++;
		if (p >= gt || (*p != '"' && *p != '\''))
			return (NULL); /* unquoted: not XML */
		q = *p++;
		for (v = p; p < gt && *p != q; p++)
			;
		if (p >= gt)
			return (NULL);
		if (nl == strlen(name) && memcmp(n, name, nl) == 0)
			return (unescape(v, (size_t) (p - v)));
		p++;
	}
	return (NULL);
}

/* rate reads attribute name of a tag as a fraction in [0, 1]. */
static int
rate(const char *p, const char *gt, const char *name, double *out)
{
	char  *v = attr(p, gt, name), *e;
	double d;
	int    rv = ERR_PROTO;

	if (v != NULL) {
		d = strtod(v, &e);
		if (e != v && *e == '\0' && isfinite(d) && d >= 0.0 &&
		    d <= 1.0) {
			*out = d;
			rv = 0;
		}
	}
	free(v);
	return (rv);
}

static void
cov_add(struct coverage *c, char *path, double pct)
{
	c->files = xrealloc(c->files, (c->n + 1) * sizeof(*c->files));
	c->files[c->n].path = path;
	c->files[c->n++].pct = pct;
}

static int
cmp_cov_path(const void *a, const void *b)
{
	return (strcmp(((const struct cov_file *) a)->path,
	               ((const struct cov_file *) b)->path));
}

/* cov_merge averages the entries of one file (Cobertura has a class per
 * class, so a file may appear more than once). */
static void
cov_merge(struct coverage *c)
{
	size_t i, j, k, out = 0;
	double sum;

	if (c->n == 0)
		return;
	qsort(c->files, c->n, sizeof(*c->files), cmp_cov_path);
	for (i = 0; i < c->n; i = j) {
		sum = 0;
		for (j = i; j < c->n &&
		            strcmp(c->files[j].path, c->files[i].path) == 0;
		     j++)
			sum += c->files[j].pct;
		for (k = i + 1; k < j; k++)
			free(c->files[k].path);
		c->files[out].path = c->files[i].path;
		c->files[out++].pct = round2(sum / (double) (j - i));
	}
	c->n = out;
}

static int
cov_fail(struct coverage *c, char *err, size_t errlen, const char *why)
{
	coverage_fini(c);
	snprintf(err, errlen, "%s", why);
	return (ERR_PROTO);
}

int
cov_parse_xml(struct coverage *c, const char *text, size_t len, char *err,
              size_t errlen)
{
	const char *end = text + len, *p, *gt;
	char       *fn;
	double      r;

	memset(c, 0, sizeof(*c));
	if ((p = tag_find(text, end, "coverage")) == NULL)
		return (cov_fail(c, err, errlen, "no <coverage> element"));
	if ((gt = tag_end(p, end)) == NULL)
		return (cov_fail(c, err, errlen, "truncated <coverage> tag"));
	if (rate(p, gt, "line-rate", &r) != 0)
		return (cov_fail(c, err, errlen,
		                 "<coverage> has no valid line-rate"));
	c->have_total = true;
	c->total_pct = round2(r * 100.0);
	if (tag_find(gt, end, "/coverage") == NULL)
		return (cov_fail(c, err, errlen,
		                 "truncated report (no </coverage>)"));
	for (p = gt; (p = tag_find(p, end, "class")) != NULL; p = gt) {
		if ((gt = tag_end(p, end)) == NULL)
			return (
			    cov_fail(c, err, errlen, "truncated <class> tag"));
		if ((fn = attr(p, gt, "filename")) == NULL || *fn == '\0' ||
		    rate(p, gt, "line-rate", &r) != 0) {
			free(fn);
			return (cov_fail(
			    c, err, errlen,
			    "<class> without filename or valid line-rate"));
		}
		cov_add(c, utf8_fix(fn), r * 100.0);
	}
	cov_merge(c);
	return (0);
}

/* A row of the text report, split in whitespace-separated tokens. */
struct row {
	const char *tok[32];
	size_t      len[32];
	size_t      n;
};

static void
split(struct row *r, const char *s, size_t n)
{
	size_t i = 0, st;

	r->n = 0;
	while (r->n < nitems(r->tok)) {
		while (i < n && isspace((unsigned char) s[i]))
			i++;
		if (i >= n)
			break;
		for (st = i; i < n && !isspace((unsigned char) s[i]); i++)
			;
		r->tok[r->n] = s + st;
		r->len[r->n++] = i - st;
	}
}

static bool
is_int(const char *s, size_t n)
{
	return (n > 0 && n <= MAX_DIGITS && digits(s, n) == n);
}

/* pct_tok parses "83%" or "83.33%". */
static bool
pct_tok(const char *s, size_t n, double *out)
{
	char   buf[32], *e;
	double d;

	if (n < 2 || n >= sizeof(buf) || s[n - 1] != '%' ||
	    !isdigit((unsigned char) s[0]))
		return (false);
	memcpy(buf, s, n - 1);
	buf[n - 1] = '\0';
	d = strtod(buf, &e);
	if (*e != '\0' || !isfinite(d) || d < 0 || d > 100)
		return (false);
	*out = d;
	return (true);
}

/* text_row reads one table row: the name is every token before the first
 * of the integer columns that end at the cover% token (names may hold
 * blanks); the "Missing" column after it is ignored. */
static bool
text_row(const struct row *r, size_t *nname, double *pct, int64_t *stmts,
         int64_t *miss)
{
	size_t k, f;

	for (k = 0; k < r->n; k++)
		if (pct_tok(r->tok[k], r->len[k], pct))
			break;
	if (k == r->n || k < 3)
		return (false);
	for (f = k; f > 1 && is_int(r->tok[f - 1], r->len[f - 1]); f--)
		;
	if (k - f < 2)
		return (false);
	*nname = f;
	*stmts = number(r->tok[f], r->len[f]);
	*miss = number(r->tok[f + 1], r->len[f + 1]);
	return (true);
}

int
cov_parse_text(struct coverage *c, const char *text, size_t len, char *err,
               size_t errlen)
{
	const char *p = text, *end = text + len, *nl;
	struct row  r;
	size_t      nn;
	double      pct;
	int64_t     st, mi, sum_st = 0, sum_mi = 0;

	memset(c, 0, sizeof(*c));
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t) (end - p))) == NULL)
			nl = end;
		split(&r, p, (size_t) (nl - p));
		if (!text_row(&r, &nn, &pct, &st, &mi))
			continue;
		if (nn == 1 && r.len[0] == 5 &&
		    memcmp(r.tok[0], "TOTAL", 5) == 0) {
			c->have_total = true;
			c->total_pct = round2(pct);
			continue;
		}
		cov_add(c,
		        text_dup(r.tok[0], (size_t) (r.tok[nn - 1] +
		                                     r.len[nn - 1] - r.tok[0])),
		        round2(pct));
		sum_st += st;
		sum_mi += mi < st ? mi : st;
	}
	if (c->n == 0 && !c->have_total)
		return (cov_fail(
		    c, err, errlen,
		    "no coverage report rows (name stmts miss cover%)"));
	/* Old coverage.py leaves TOTAL out for a single file. */
	if (!c->have_total && sum_st > 0) {
		c->have_total = true;
		c->total_pct = round2(100.0 * (double) (sum_st - sum_mi) /
		                      (double) sum_st);
	}
	cov_merge(c);
	return (0);
}

int
cov_parse(struct coverage *c, const char *text, size_t len, char *err,
          size_t errlen)
{
	size_t i = 0;

	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		i = 3; /* UTF-8 byte order mark */
	while (i < len && isspace((unsigned char) text[i]))
		i++;
	if (i < len && text[i] == '<')
		return (cov_parse_xml(c, text, len, err, errlen));
	return (cov_parse_text(c, text, len, err, errlen));
}

void
coverage_fini(struct coverage *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->files[i].path);
	free(c->files);
	memset(c, 0, sizeof(*c));
}

static int
cmp_cov_pct(const void *a, const void *b)
{
	const struct cov_file *x = a, *y = b;

	if (x->pct != y->pct)
		return (x->pct < y->pct ? -1 : 1);
	return (strcmp(x->path, y->path));
}

json_t *
cov_json(const struct coverage *c, const char *source)
{
	struct cov_file *v = NULL;
	json_t          *top = json_array();
	size_t           i, below = 0;

	if (c->n > 0) {
		v = xcalloc(c->n, sizeof(*v));
		memcpy(v, c->files, c->n * sizeof(*v));
		qsort(v, c->n, sizeof(*v), cmp_cov_pct);
	}
	for (i = 0; i < c->n; i++) {
		if (v[i].pct >= COVERAGE_THRESHOLD)
			continue;
		if (below++ < TOP_N)
			json_array_append_new(top, json_pack("{s:s, s:f}",
			                                     "path", v[i].path,
			                                     "pct", v[i].pct));
	}
	free(v);
	return (json_pack(
	    "{s:s, s:o, s:I, s:f, s:o, s:s}", "status", "measured", "total_pct",
	    c->have_total ? json_real(c->total_pct) : json_null(),
	    "uncovered_count", (json_int_t) below, "threshold_pct",
	    COVERAGE_THRESHOLD, "top_uncovered", top, "source", source));
}

/* ------------------------------------------------------------ todo */

bool
todo_binary(const char *text, size_t len)
{
	return (memchr(text, '\0', len < 8192 ? len : 8192) != NULL);
}

static int64_t
occurrences(const char *text, size_t len, const char *word)
{
	size_t      wl = strlen(word);
	const char *p = text, *end = text + len, *hit;
	int64_t     n = 0;

	/* memmem() is a GNU extension: memchr on the first byte instead */
	while ((size_t) (end - p) >= wl &&
	       (hit = memchr(p, word[0], (size_t) (end - p) - wl + 1)) !=
	           NULL) {
		if (memcmp(hit, word, wl) == 0) {
			n++;
			p = hit + wl;
		} else
			p = hit + 1;
	}
	return (n);
}

void
todo_count(const char *text, size_t len, int64_t *todo, int64_t *fixme)
{
	*todo += occurrences(text, len, "TODO");
	*fixme += occurrences(text, len, "FIXME");
}

/* ------------------------------------------------------------- git */

int64_t
count_lines(const char *text, size_t len)
{
	const char *p = text, *end = text + len, *nl;
	int64_t     n = 0;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t) (end - p))) == NULL)
			nl = end;
		if (!blank(p, (size_t) (nl - p)))
			n++;
	}
	return (n);
}

int
git_parse_log(const char *text, size_t len, int64_t *ct, char **subject)
{
	size_t d = digits(text, len), e;

	*subject = NULL;
	if (d == 0 || d > MAX_DIGITS || d >= len || text[d] != '\0')
		return (ERR_PROTO);
	*ct = number(text, d);
	for (e = d + 1; e < len && text[e] != '\n'; e++)
		;
	*subject = text_dup(text + d + 1, e - d - 1);
	return (0);
}

char *
first_line(const char *text, size_t len, size_t max)
{
	const char *p = text, *end = text + len, *nl, *s;
	size_t      n;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t) (end - p))) == NULL)
			nl = end;
		for (s = p; s < nl && isspace((unsigned char) *s); s++)
			;
		for (n = (size_t) (nl - s);
		     n > 0 && isspace((unsigned char) s[n - 1]); n--)
			;
		if (n == 0)
			continue;
		if (n > max) {
			n = max;
			/* back off a cut UTF-8 sequence */
			while (n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80)
				n--;
		}
		return (text_dup(s, n));
	}
	return (NULL);
}
