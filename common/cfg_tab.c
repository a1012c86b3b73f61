/*
 * cfg_tab.c - config tables: a section checked against the rows that
 * declare it (see cfg.h).
 *
 * A row's default and bounds are YAML text parsed with the same scanners
 * as the file (cfg_scan_*), so "30s" bounds a duration and the default
 * `opc config explain` prints is the one the getters return.  Checking
 * never stops at the first problem: every unknown key and bad value is a
 * line of its own, so one `opc config check` shows them all.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/util.h"

#define MAX_SUGGEST_LEN 64 /* names longer than this get no suggestion */

union val {
	const char *s;
	int64_t     i;
	double      d;
	int         b;
};

static bool
is_ext(const char *key)
{
	return (key[0] == 'x' && (key[1] == '-' || key[1] == '_'));
}

/* row finds name (len bytes) among tab's rows and those it includes. */
static const struct cfg_key *
row(const struct cfg_key *tab, const char *name, size_t len)
{
	const struct cfg_key *k, *r;

	for (k = tab; k != NULL && k->type != CFG_K_END; k++) {
		if (k->type == CFG_K_INCLUDE) {
			if ((r = row(k->sub, name, len)) != NULL)
				return (r);
		} else if (strlen(k->name) == len &&
		    memcmp(k->name, name, len) == 0)
			return (k);
	}
	return (NULL);
}

const struct cfg_key *
cfg_tab_find(const struct cfg_key *tab, const char *path)
{
	const struct cfg_key *k;
	const char           *dot;

	for (;;) {
		dot = strchr(path, '.');
		k = row(tab, path, dot ? (size_t) (dot - path) : strlen(path));
		if (k == NULL || dot == NULL)
			return (k);
		if (k->type != CFG_K_SECTION)
			return (NULL);
		tab  = k->sub;
		path = dot + 1;
	}
}

/* osa is the optimal string alignment distance of a and b (Levenshtein
 * plus the swap of two neighbours: "paralell" is 1 from "parallel"). */
static size_t
osa(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, c, v;
	size_t d[MAX_SUGGEST_LEN + 1][MAX_SUGGEST_LEN + 1];

	if (la > MAX_SUGGEST_LEN || lb > MAX_SUGGEST_LEN)
		return (SIZE_MAX);
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			c = a[i - 1] != b[j - 1];
			v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + c < v)
				v = d[i - 1][j - 1] + c;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return (d[la][lb]);
}

static void
nearest(const struct cfg_key *tab, const char *name, const char **best,
    size_t *bestd)
{
	const struct cfg_key *k;
	size_t                d;

	for (k = tab; k != NULL && k->type != CFG_K_END; k++) {
		if (k->type == CFG_K_INCLUDE) {
			nearest(k->sub, name, best, bestd);
			continue;
		}
		if ((d = osa(name, k->name)) < *bestd) {
			*bestd = d;
			*best  = k->name;
		}
	}
}

const char *
cfg_tab_suggest(const struct cfg_key *tab, const char *name)
{
	const char *best = NULL;
	size_t      d = SIZE_MAX, len = strlen(name);

	nearest(tab, name, &best, &d);
	/* close enough to be a typo, not another word */
	if (best == NULL ||
	    d > (len <= 4          ? 1
	                : len <= 8 ? 2
	                           : 3) ||
	    d >= strlen(best))
		return (NULL);
	return (best);
}

static bool
choice_ok(const char *choices, const char *s)
{
	size_t n = strlen(s), l;

	while (*choices != '\0') {
		l = strcspn(choices, "|");
		if (l == n && strncmp(choices, s, n) == 0)
			return (true);
		choices += l;
		if (*choices == '|')
			choices++;
	}
	return (false);
}

/* scan reads text as a value of row k: 0, ERR_TOOBIG or ERR_CONFIG. */
static int
scan(const struct cfg_key *k, const char *text, union val *v)
{
	switch (k->type) {
	case CFG_K_INT:
		return (cfg_scan_int(text, &v->i));
	case CFG_K_MS:
		return (cfg_scan_ms(text, &v->i));
	case CFG_K_NUM:
		return (cfg_scan_num(text, &v->d));
	case CFG_K_BOOL:
		return (cfg_scan_bool(text, &v->b));
	case CFG_K_ENUM:
		if (!choice_ok(k->choices, text))
			return (ERR_CONFIG);
		/* FALLTHROUGH */
	default:
		v->s = text;
		return (0);
	}
}

static int
cmp(const struct cfg_key *k, const union val *a, const union val *b)
{
	switch (k->type) {
	case CFG_K_NUM:
		return (a->d < b->d ? -1 : a->d > b->d);
	case CFG_K_INT:
	case CFG_K_MS:
		return (a->i < b->i ? -1 : a->i > b->i);
	case CFG_K_BOOL:
		return (a->b != b->b);
	default:
		return (strcmp(a->s, b->s));
	}
}

static bool
in_bounds(const struct cfg_key *k, const union val *v)
{
	union val b;

	if (k->min != NULL && scan(k, k->min, &b) == 0 && cmp(k, v, &b) < 0)
		return (false);
	if (k->max != NULL && scan(k, k->max, &b) == 0 && cmp(k, v, &b) > 0)
		return (false);
	return (true);
}

/* want describes what row k accepts ("an integer from 1 to 256"). */
static void
want(const struct cfg_key *k, char *buf, size_t len)
{
	const char *what, *c;
	size_t      n;

	switch (k->type) {
	case CFG_K_INT:
		what = "an integer";
		break;
	case CFG_K_MS:
		what = k->min || k->max
		    ? "a duration"
		    : "a duration (e.g. 250ms, 5s, 2m, 1h)";
		break;
	case CFG_K_NUM:
		what = "a number";
		break;
	case CFG_K_BOOL:
		what = "true or false";
		break;
	case CFG_K_STR:
		what = "a string";
		break;
	case CFG_K_STRS:
		what = "a list of strings";
		break;
	case CFG_K_SECTION:
	case CFG_K_MAP:
		what = "a map";
		break;
	case CFG_K_LIST:
		what = "a list";
		break;
	case CFG_K_ENUM:
		/* "a|b|c" reads "one of a, b, c" */
		n = (size_t) snprintf(buf, len, "one of ");
		for (c = k->choices; *c != '\0' && n + 3 < len; c++) {
			if (*c == '|') {
				buf[n++] = ',';
				buf[n++] = ' ';
			} else
				buf[n++] = *c;
		}
		buf[n < len ? n : len - 1] = '\0';
		return;
	default:
		what = "a value";
		break;
	}
	if (k->min != NULL && k->max != NULL)
		snprintf(buf, len, "%s from %s to %s", what, k->min, k->max);
	else if (k->min != NULL)
		snprintf(buf, len, "%s of at least %s", what, k->min);
	else if (k->max != NULL)
		snprintf(buf, len, "%s of at most %s", what, k->max);
	else
		snprintf(buf, len, "%s", what);
}

static const char *
tname(const struct cfg_node *n)
{
	switch (cfg_type(n)) {
	case CFG_MAP:
		return ("a map");
	case CFG_SEQ:
		return ("a list");
	default:
		return ("nothing");
	}
}

static int
refuse(const struct cfg_key *k, const struct cfg_node *v, const char *path,
    int why, char *err, size_t errlen)
{
	char where[300], w[200], q[420];

	cfg_where(v, where, sizeof(where));
	want(k, w, sizeof(w));
	if (*path == '\0')
		path = "the top level";
	if (cfg_type(v) == CFG_SCALAR)
		snprintf(err, errlen, "%s: %s: expected %s, got '%s'%s", where,
		    path, w, cfg_quote(cfg_str(v), q, sizeof(q)),
		    why == ERR_TOOBIG ? " (out of range)" : "");
	else
		snprintf(err, errlen, "%s: %s: expected %s, got %s", where,
		    path, w, tname(v));
	return (ERR_CONFIG);
}

/* value checks v (not null) against row k alone (not what is below a
 * section, map or list); *out gets a scalar's value. */
static int
value(const struct cfg_key *k, const struct cfg_node *v, const char *path,
    union val *out, char *err, size_t errlen)
{
	char   sub[300];
	size_t i;
	int    rv;

	switch (k->type) {
	case CFG_K_ANY:
		return (0);
	case CFG_K_SECTION:
	case CFG_K_MAP:
		return (cfg_type(v) == CFG_MAP
		        ? 0
		        : refuse(k, v, path, 0, err, errlen));
	case CFG_K_LIST:
		return (cfg_type(v) == CFG_SEQ
		        ? 0
		        : refuse(k, v, path, 0, err, errlen));
	case CFG_K_STRS:
		if (cfg_type(v) != CFG_SEQ)
			return (refuse(k, v, path, 0, err, errlen));
		for (i = 0; i < cfg_len(v); i++) {
			if (cfg_type(cfg_at(v, i)) == CFG_SCALAR)
				continue;
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			return (refuse(
			    &(const struct cfg_key) { .type = CFG_K_STR },
			    cfg_at(v, i), sub, 0, err, errlen));
		}
		return (0);
	default:
		if (cfg_type(v) != CFG_SCALAR)
			return (refuse(k, v, path, 0, err, errlen));
		if ((rv = scan(k, cfg_str(v), out)) != 0 || !in_bounds(k, out))
			return (refuse(k, v, path, rv, err, errlen));
		return (0);
	}
}

static char *
join(const char *name, const char *key)
{
	return (name != NULL && *name != '\0' ? xasprintf("%s.%s", name, key)
	                                      : xstrdup(key));
}

struct walk {
	struct buf *out;
	int         n;
	bool        drift; /* cfg_drift, else cfg_check */
};

static void walk_map(struct walk *, const struct cfg_node *,
    const struct cfg_key *, const char *);

/* problem adds one line to w's output: the message, its control bytes
 * shown as \xNN (a key or value from the file may hold a line break,
 * and each problem is one line). */
static void PRINTFLIKE(2, 3) problem(struct walk *w, const char *fmt, ...)
{
	char          msg[1024];
	va_list       ap;
	unsigned char c;
	size_t        i;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (i = 0; msg[i] != '\0'; i++) {
		c = (unsigned char) msg[i];
		if (c < 0x20 || c == 0x7f)
			buf_printf(w->out, "\\x%02x", c);
		else
			buf_append(w->out, &msg[i], 1);
	}
	buf_puts(w->out, "\n");
	w->n++;
}

static void
walk_node(struct walk *w, const struct cfg_key *k, const struct cfg_node *v,
    const char *path)
{
	union val x, d;
	char      err[700], *sub;
	size_t    i;

	if (cfg_is_null(v))
		return;
	if (value(k, v, path, &x, err, sizeof(err)) != 0) {
		if (!w->drift)
			problem(w, "%s", err);
		return;
	}
	switch (k->type) {
	case CFG_K_SECTION:
		walk_map(w, v, k->sub, path);
		return;
	case CFG_K_MAP:
	case CFG_K_LIST:
		/* drift: a named entry's settings are its own, not defaults
		 * someone may have forgotten */
		for (i = 0; !w->drift && k->sub != NULL && i < cfg_len(v);
		     i++) {
			sub = k->type == CFG_K_MAP
			    ? join(path, cfg_key_at(v, i))
			    : xasprintf("%s[%zu]", path, i);
			walk_node(w, &k->sub[0], cfg_at(v, i), sub);
			free(sub);
		}
		return;
	case CFG_K_STRS:
	case CFG_K_ANY:
		return;
	default:
		break;
	}
	if (w->drift && k->def != NULL && scan(k, k->def, &d) == 0 &&
	    cmp(k, &x, &d) != 0) {
		problem(w, "%s: %s (default %s)", path, cfg_str(v), k->def);
	}
}

static void
walk_map(struct walk *w, const struct cfg_node *n, const struct cfg_key *tab,
    const char *name)
{
	const struct cfg_key *k;
	const char           *key, *sug;
	char                  where[300], *path;
	size_t                i;

	for (i = 0; i < cfg_len(n); i++) {
		key = cfg_key_at(n, i);
		if (is_ext(key))
			continue;
		if ((k = row(tab, key, strlen(key))) == NULL) {
			if (w->drift)
				continue;
			cfg_where_key(n, i, where, sizeof(where));
			sug = cfg_tab_suggest(tab, key);
			problem(w, "%s: unknown key '%.100s' %s%s%s%s%s",
			    where, key,
			    name && *name ? "in " : "at the top level",
			    name && *name ? name : "",
			    sug != NULL ? " (did you mean '" : "",
			    sug != NULL ? sug : "", sug != NULL ? "'?)" : "");
			continue;
		}
		path = join(name, key);
		walk_node(w, k, cfg_at(n, i), path);
		free(path);
	}
}

/* walk_top: n is the section itself (a map, or nothing). */
static int
walk_top(struct walk *w, const struct cfg_node *n, const struct cfg_key *tab,
    const char *name)
{
	struct cfg_key sect = {
		.name = name, .type = CFG_K_SECTION, .sub = tab
	};

	walk_node(w, &sect, n, name);
	return (w->n);
}

int
cfg_check(const struct cfg_node *n, const struct cfg_key *tab,
    const char *name, struct buf *errs)
{
	struct walk w = { errs, 0, false };

	return (walk_top(&w, n, tab, name));
}

int
cfg_drift(const struct cfg_node *n, const struct cfg_key *tab,
    const char *name, struct buf *out)
{
	struct walk w = { out, 0, true };

	return (walk_top(&w, n, tab, name));
}

/* get reads path under n as row type t of tab: 1 when missing and the
 * row has no default (out untouched), 0, or ERR_CONFIG. */
static int
get(const struct cfg_key *tab, enum cfg_ktype t, const struct cfg_node *n,
    const char *path, union val *out, char *err, size_t errlen)
{
	const struct cfg_key  *k = cfg_tab_find(tab, path);
	const struct cfg_node *v = cfg_get(n, path);
	int                    rv;

	/* a path or default the table lacks is a bug of the caller; the
	 * tables' own test (test_conf) keeps it from shipping */
	if (k == NULL ||
	    (k->type != t && !(t == CFG_K_STR && k->type == CFG_K_ENUM))) {
		snprintf(err, errlen, "%s: no such setting of type %d (a bug)",
		    path, (int) t);
		return (ERR_INVAL);
	}
	if (!cfg_is_null(v))
		return (value(k, v, path, out, err, errlen));
	if (k->def == NULL)
		return (1);
	if ((rv = scan(k, k->def, out)) != 0) {
		snprintf(
		    err, errlen, "%s: bad default '%s' (a bug)", path, k->def);
		return (ERR_INVAL);
	}
	return (0);
}

int
cfg_tab_str(const struct cfg_key *tab, const struct cfg_node *n,
    const char *path, const char **out, char *err, size_t errlen)
{
	union val v;
	int       rv;

	if ((rv = get(tab, CFG_K_STR, n, path, &v, err, errlen)) == 0)
		*out = v.s;
	return (rv < 0 ? rv : 0);
}

int
cfg_tab_int(const struct cfg_key *tab, const struct cfg_node *n,
    const char *path, int64_t *out, char *err, size_t errlen)
{
	union val v;
	int       rv;

	if ((rv = get(tab, CFG_K_INT, n, path, &v, err, errlen)) == 0)
		*out = v.i;
	return (rv < 0 ? rv : 0);
}

int
cfg_tab_ms(const struct cfg_key *tab, const struct cfg_node *n,
    const char *path, int64_t *out, char *err, size_t errlen)
{
	union val v;
	int       rv;

	if ((rv = get(tab, CFG_K_MS, n, path, &v, err, errlen)) == 0)
		*out = v.i;
	return (rv < 0 ? rv : 0);
}

int
cfg_tab_num(const struct cfg_key *tab, const struct cfg_node *n,
    const char *path, double *out, char *err, size_t errlen)
{
	union val v;
	int       rv;

	if ((rv = get(tab, CFG_K_NUM, n, path, &v, err, errlen)) == 0)
		*out = v.d;
	return (rv < 0 ? rv : 0);
}

int
cfg_tab_bool(const struct cfg_key *tab, const struct cfg_node *n,
    const char *path, int *out, char *err, size_t errlen)
{
	union val v;
	int       rv;

	if ((rv = get(tab, CFG_K_BOOL, n, path, &v, err, errlen)) == 0)
		*out = v.b;
	return (rv < 0 ? rv : 0);
}
