/*
 * coverage.c - coverage reports as the observer reads them (see
 * collect.h): Cobertura XML through a small attribute scanner (no XML
 * library: the report is untrusted input and only two attributes matter)
 * and coverage.py's text table.  A report that is truncated or does not
 * parse is refused whole, never half-read.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect.h"
#include "opc/err.h"
#include "opc/util.h"

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
	} ents[] = { { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
		{ "&quot;", '"' }, { "&apos;", '\'' } };
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
			rv   = 0;
		}
	}
	free(v);
	return (rv);
}

static void
cov_add(struct coverage *c, char *path, double pct)
{
	c->files = xrealloc(c->files, (c->n + 1) * sizeof(*c->files));
	c->files[c->n].path  = path;
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
		c->files[out].path  = c->files[i].path;
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
cov_parse_xml(
    struct coverage *c, const char *text, size_t len, char *err, size_t errlen)
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
		return (cov_fail(
		    c, err, errlen, "<coverage> has no valid line-rate"));
	c->have_total = true;
	c->total_pct  = round2(r * 100.0);
	if (tag_find(gt, end, "/coverage") == NULL)
		return (cov_fail(
		    c, err, errlen, "truncated report (no </coverage>)"));
	for (p = gt; (p = tag_find(p, end, "class")) != NULL; p = gt) {
		if ((gt = tag_end(p, end)) == NULL)
			return (
			    cov_fail(c, err, errlen, "truncated <class> tag"));
		if ((fn = attr(p, gt, "filename")) == NULL || *fn == '\0' ||
		    rate(p, gt, "line-rate", &r) != 0) {
			free(fn);
			return (cov_fail(c, err, errlen,
			    "<class> without filename or valid line-rate"));
		}
		cov_add(c, collect_utf8_fix(fn), r * 100.0);
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
		r->tok[r->n]   = s + st;
		r->len[r->n++] = i - st;
	}
}

static bool
is_int(const char *s, size_t n)
{
	return (n > 0 && n <= MAX_DIGITS && collect_dec_len(s, n) == n);
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
	d          = strtod(buf, &e);
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
	*stmts = collect_dec_value(r->tok[f], r->len[f]);
	*miss  = collect_dec_value(r->tok[f + 1], r->len[f + 1]);
	return (true);
}

int
cov_parse_text(
    struct coverage *c, const char *text, size_t len, char *err, size_t errlen)
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
			c->total_pct  = round2(pct);
			continue;
		}
		cov_add(c,
		    collect_text_dup(r.tok[0],
		        (size_t) (r.tok[nn - 1] + r.len[nn - 1] - r.tok[0])),
		    round2(pct));
		sum_st += st;
		sum_mi += mi < st ? mi : st;
	}
	if (c->n == 0 && !c->have_total)
		return (cov_fail(c, err, errlen,
		    "no coverage report rows (name stmts miss cover%)"));
	/* Old coverage.py leaves TOTAL out for a single file. */
	if (!c->have_total && sum_st > 0) {
		c->have_total = true;
		c->total_pct  = round2(
		     100.0 * (double) (sum_st - sum_mi) / (double) sum_st);
	}
	cov_merge(c);
	return (0);
}

int
cov_parse(
    struct coverage *c, const char *text, size_t len, char *err, size_t errlen)
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
	struct cov_file *v   = NULL;
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
			json_array_append_new(top,
			    json_pack("{s:s, s:f}", "path", v[i].path, "pct",
			        v[i].pct));
	}
	free(v);
	return (json_pack("{s:s, s:o, s:I, s:f, s:o, s:s}", "status",
	    "measured", "total_pct",
	    c->have_total ? json_real(c->total_pct) : json_null(),
	    "uncovered_count", (json_int_t) below, "threshold_pct",
	    COVERAGE_THRESHOLD, "top_uncovered", top, "source", source));
}
