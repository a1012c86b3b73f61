/*
 * cfg.c - the only libyaml user: YAML documents as a read-only tree.
 *
 * The parser's events are folded into nodes that remember file, line and
 * column, so every later error (a missing key, a bad number) can point at
 * the text.  Anchors, aliases, duplicate keys and multi-document streams
 * are refused: a config means what it says, once.
 */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/util.h"

#define MAX_DEPTH 64

struct cfg_node {
	enum cfg_type     type;
	const struct cfg *doc;
	int               line, col;
	int               is_null;
	char             *text;  /* scalar */
	char            **keys;  /* map */
	int              *kpos;  /* map: line and column of each key */
	struct cfg_node **items; /* map values or sequence items */
	size_t            n, cap;
};

struct cfg {
	char            *path;
	struct cfg_node *root;
	struct cfg_node  none;
};

#define ERRF(...) snprintf(err, errlen, __VA_ARGS__)

static struct cfg_node *
node_new(const struct cfg *doc, enum cfg_type t, const yaml_mark_t *m)
{
	struct cfg_node *n = xcalloc(1, sizeof(*n));

	n->type = t;
	n->doc  = doc;
	n->line = (int) m->line + 1;
	n->col  = (int) m->column + 1;
	return (n);
}

static void
node_free(struct cfg_node *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->n; i++) {
		if (n->keys != NULL)
			free(n->keys[i]);
		node_free(n->items[i]);
	}
	free(n->keys);
	free(n->kpos);
	free(n->items);
	free(n->text);
	free(n);
}

static void
node_add(struct cfg_node *p, char *key, const yaml_mark_t *km,
    struct cfg_node *child)
{
	if (p->n == p->cap) {
		p->cap   = p->cap ? p->cap * 2 : 8;
		p->items = xrealloc(p->items, p->cap * sizeof(*p->items));
		if (p->type == CFG_MAP) {
			p->keys = xrealloc(p->keys, p->cap * sizeof(*p->keys));
			p->kpos =
			    xrealloc(p->kpos, 2 * p->cap * sizeof(*p->kpos));
		}
	}
	if (p->type == CFG_MAP) {
		p->keys[p->n]         = key;
		p->kpos[2 * p->n]     = (int) km->line + 1;
		p->kpos[2 * p->n + 1] = (int) km->column + 1;
	}
	p->items[p->n++] = child;
}

struct parse {
	yaml_parser_t p;
	struct cfg   *doc;
	const char   *name;
	char         *err;
	size_t        errlen;
};

static int
perr(struct parse *ps, const yaml_mark_t *m, const char *what)
{
	snprintf(ps->err, ps->errlen, "%s:%d:%d: %s", ps->name,
	    (int) m->line + 1, (int) m->column + 1, what);
	return (ERR_CONFIG);
}

static int
next(struct parse *ps, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&ps->p, ev)) {
		snprintf(ps->err, ps->errlen, "%s:%d:%d: %s%s%s", ps->name,
		    (int) ps->p.problem_mark.line + 1,
		    (int) ps->p.problem_mark.column + 1,
		    ps->p.problem ? ps->p.problem : "syntax error",
		    ps->p.context ? " " : "",
		    ps->p.context ? ps->p.context : "");
		return (ERR_CONFIG);
	}
	return (0);
}

static int parse_node(struct parse *, yaml_event_t *, struct cfg_node **, int);

static int
is_plain_null(const yaml_event_t *ev)
{
	const char *v = (const char *) ev->data.scalar.value;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return (0);
	return (*v == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	    strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0);
}

static int
parse_coll(struct parse *ps, struct cfg_node *n, int depth)
{
	yaml_event_t     ev;
	yaml_mark_t      km;
	struct cfg_node *child;
	char            *key;
	size_t           i;
	int              rv;

	for (;;) {
		if ((rv = next(ps, &ev)) != 0)
			return (rv);
		if (ev.type == YAML_MAPPING_END_EVENT ||
		    ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return (0);
		}
		key = NULL;
		memset(&km, 0, sizeof(km));
		if (n->type == CFG_MAP) {
			if (ev.type != YAML_SCALAR_EVENT) {
				rv = perr(ps, &ev.start_mark,
				    "map keys must be plain scalars");
				yaml_event_delete(&ev);
				return (rv);
			}
			key = xstrdup((const char *) ev.data.scalar.value);
			km  = ev.start_mark;
			for (i = 0; i < n->n; i++) {
				if (strcmp(n->keys[i], key) == 0) {
					char what[300];

					snprintf(what, sizeof(what),
					    "duplicate key '%.200s'", key);
					rv = perr(ps, &ev.start_mark, what);
					free(key);
					yaml_event_delete(&ev);
					return (rv);
				}
			}
			yaml_event_delete(&ev);
			if ((rv = next(ps, &ev)) != 0) {
				free(key);
				return (rv);
			}
		}
		rv = parse_node(ps, &ev, &child, depth + 1);
		yaml_event_delete(&ev);
		if (rv != 0) {
			free(key);
			return (rv);
		}
		node_add(n, key, &km, child);
	}
}

static int
parse_node(
    struct parse *ps, yaml_event_t *ev, struct cfg_node **out, int depth)
{
	struct cfg_node *n;
	int              rv;

	*out = NULL;
	if (depth > MAX_DEPTH)
		return (perr(ps, &ev->start_mark, "nesting too deep"));
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return (perr(ps, &ev->start_mark,
		    "aliases are not supported in opcenter configs"));
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.anchor != NULL)
			return (perr(ps, &ev->start_mark,
			    "anchors are not supported in opcenter configs"));
		n          = node_new(ps->doc, CFG_SCALAR, &ev->start_mark);
		n->is_null = is_plain_null(ev);
		n->text    = xstrdup(
		       n->is_null ? "" : (const char *) ev->data.scalar.value);
		*out = n;
		return (0);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if ((ev->type == YAML_SEQUENCE_START_EVENT
		            ? ev->data.sequence_start.anchor
		            : ev->data.mapping_start.anchor) != NULL)
			return (perr(ps, &ev->start_mark,
			    "anchors are not supported in opcenter configs"));
		n = node_new(ps->doc,
		    ev->type == YAML_SEQUENCE_START_EVENT ? CFG_SEQ : CFG_MAP,
		    &ev->start_mark);
		if ((rv = parse_coll(ps, n, depth)) != 0) {
			node_free(n);
			return (rv);
		}
		*out = n;
		return (0);
	default:
		return (perr(ps, &ev->start_mark, "unexpected YAML event"));
	}
}

static int
parse_stream(struct parse *ps)
{
	yaml_event_t ev;
	int          rv, docs = 0;

	for (;;) {
		if ((rv = next(ps, &ev)) != 0)
			return (rv);
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			yaml_event_delete(&ev);
			return (0);
		case YAML_DOCUMENT_START_EVENT:
			if (docs++ > 0) {
				rv = perr(ps, &ev.start_mark,
				    "only one YAML document is allowed");
				yaml_event_delete(&ev);
				return (rv);
			}
			break;
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			break;
		default:
			rv = parse_node(ps, &ev, &ps->doc->root, 0);
			yaml_event_delete(&ev);
			if (rv != 0)
				return (rv);
			continue;
		}
		yaml_event_delete(&ev);
	}
}

int
cfg_parse(struct cfg **cp, const char *name, const char *text, size_t len,
    char *err, size_t errlen)
{
	struct parse ps;
	struct cfg  *c;
	int          rv;

	*cp          = NULL;
	c            = xcalloc(1, sizeof(*c));
	c->path      = xstrdup(name);
	c->none.type = CFG_NONE;
	c->none.doc  = c;
	c->none.line = c->none.col = 1;
	memset(&ps, 0, sizeof(ps));
	ps.doc    = c;
	ps.name   = name;
	ps.err    = err;
	ps.errlen = errlen;
	if (!yaml_parser_initialize(&ps.p)) {
		cfg_close(&c);
		ERRF("%s: cannot initialise the YAML parser", name);
		return (ERR_NOMEM);
	}
	yaml_parser_set_input_string(&ps.p, (const unsigned char *) text, len);
	rv = parse_stream(&ps);
	yaml_parser_delete(&ps.p);
	if (rv != 0) {
		cfg_close(&c);
		return (rv);
	}
	*cp = c;
	return (0);
}

int
cfg_load(struct cfg **cp, const char *path, char *err, size_t errlen)
{
	FILE *f;
	char *text;
	long  len;
	int   rv;

	*cp = NULL;
	if ((f = fopen(path, "rb")) == NULL) {
		ERRF("%s: %s", path, strerror(errno));
		return (ERR_IO);
	}
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
	    len > 16 * 1024 * 1024 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		ERRF("%s: cannot read (or larger than 16 MiB)", path);
		return (ERR_IO);
	}
	text = xmalloc((size_t) len + 1);
	if (fread(text, 1, (size_t) len, f) != (size_t) len) {
		fclose(f);
		free(text);
		ERRF("%s: read error", path);
		return (ERR_IO);
	}
	fclose(f);
	rv = cfg_parse(cp, path, text, (size_t) len, err, errlen);
	free(text);
	return (rv);
}

void
cfg_close(struct cfg **cp)
{
	struct cfg *c = *cp;

	if (c == NULL)
		return;
	node_free(c->root);
	free(c->path);
	free(c);
	*cp = NULL;
}

const struct cfg_node *
cfg_root(const struct cfg *c)
{
	return (c->root != NULL ? c->root : &c->none);
}

const char *
cfg_path(const struct cfg *c)
{
	return (c->path);
}

enum cfg_type
cfg_type(const struct cfg_node *n)
{
	return (n != NULL ? n->type : CFG_NONE);
}

static const struct cfg_node *
child(const struct cfg_node *n, const char *key, size_t klen)
{
	size_t i;

	if (n == NULL || n->type != CFG_MAP)
		return (NULL);
	for (i = 0; i < n->n; i++)
		if (strlen(n->keys[i]) == klen &&
		    memcmp(n->keys[i], key, klen) == 0)
			return (n->items[i]);
	return (NULL);
}

const struct cfg_node *
cfg_get(const struct cfg_node *n, const char *path)
{
	const char *dot;

	while (n != NULL && path != NULL && *path != '\0') {
		dot = strchr(path, '.');
		if (dot == NULL)
			return (child(n, path, strlen(path)));
		n    = child(n, path, (size_t) (dot - path));
		path = dot + 1;
	}
	return (n);
}

size_t
cfg_len(const struct cfg_node *n)
{
	return (n != NULL && (n->type == CFG_MAP || n->type == CFG_SEQ) ? n->n
	                                                                : 0);
}

const struct cfg_node *
cfg_at(const struct cfg_node *n, size_t i)
{
	return (i < cfg_len(n) ? n->items[i] : NULL);
}

const char *
cfg_key_at(const struct cfg_node *n, size_t i)
{
	return (
	    n != NULL && n->type == CFG_MAP && i < n->n ? n->keys[i] : NULL);
}

const char *
cfg_str(const struct cfg_node *n)
{
	return (n != NULL && n->type == CFG_SCALAR ? n->text : NULL);
}

void
cfg_where(const struct cfg_node *n, char *buf, size_t len)
{
	if (n == NULL)
		snprintf(buf, len, "?");
	else
		snprintf(buf, len, "%s:%d:%d", n->doc->path, n->line, n->col);
}

void
cfg_where_key(const struct cfg_node *n, size_t i, char *buf, size_t len)
{
	if (n == NULL || n->type != CFG_MAP || i >= n->n)
		cfg_where(n, buf, len);
	else
		snprintf(buf, len, "%s:%d:%d", n->doc->path, n->kpos[2 * i],
		    n->kpos[2 * i + 1]);
}

bool
cfg_is_null(const struct cfg_node *n)
{
	return (n == NULL || n->type == CFG_NONE ||
	    (n->type == CFG_SCALAR && n->is_null));
}

static const char *
tname(const struct cfg_node *n)
{
	switch (n->type) {
	case CFG_MAP:
		return ("a map");
	case CFG_SEQ:
		return ("a list");
	default:
		return ("nothing");
	}
}

/* lookup finds path; *v is NULL when missing or null. */
static const struct cfg_node *
lookup(const struct cfg_node *n, const char *path)
{
	const struct cfg_node *v = cfg_get(n, path);

	return (cfg_is_null(v) ? NULL : v);
}

const char *
cfg_quote(const char *s, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t            o     = 0, i;

	if (outlen == 0)
		return (out);
	for (i = 0; s != NULL && s[i] != '\0' && i < 100; i++) {
		unsigned char c = (unsigned char) s[i];

		if (o + 5 >= outlen)
			break;
		if (c == '\n' || c == '\t' || c == '\r') {
			out[o++] = '\\';
			out[o++] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
		} else if (c < 0x20 || c == 0x7f) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else
			out[o++] = (char) c;
	}
	out[o] = '\0';
	return (out);
}

static int
bad(const struct cfg_node *v, const char *path, const char *want, char *err,
    size_t errlen)
{
	char where[300], q[420];

	cfg_where(v, where, sizeof(where));
	if (v->type == CFG_SCALAR)
		ERRF("%s: %s: expected %s, got '%s'", where, path, want,
		    cfg_quote(v->text, q, sizeof(q)));
	else
		ERRF("%s: %s: expected %s, got %s", where, path, want,
		    tname(v));
	return (ERR_CONFIG);
}

int
cfg_get_str(const struct cfg_node *n, const char *path, const char *def,
    const char **out, char *err, size_t errlen)
{
	const struct cfg_node *v = lookup(n, path);

	*out = def;
	if (v == NULL)
		return (0);
	if (v->type != CFG_SCALAR)
		return (bad(v, path, "a string", err, errlen));
	*out = v->text;
	return (0);
}

static int
parse_i64(const char *s, int64_t *out, const char **rest)
{
	long long v;
	char     *end;

	if (*s == '\0' || isspace((unsigned char) *s))
		return (ERR_CONFIG);
	errno = 0;
	v     = strtoll(s, &end, 10);
	if (end == s)
		return (ERR_CONFIG);
	*rest = end;
	if (errno != 0)
		return (ERR_TOOBIG);
	*out = v;
	return (0);
}

int
cfg_scan_int(const char *s, int64_t *out)
{
	const char *rest;
	int         rv;

	if ((rv = parse_i64(s, out, &rest)) == ERR_TOOBIG && *rest == '\0')
		return (ERR_TOOBIG);
	return (rv == 0 && *rest == '\0' ? 0 : ERR_CONFIG);
}

int
cfg_scan_ms(const char *s, int64_t *out)
{
	static const struct {
		const char *sfx;
		int64_t     mul;
	} units[] = { { "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 } };
	const char *rest;
	int64_t     x;
	size_t      i;
	int         rv;

	if ((rv = parse_i64(s, &x, &rest)) == ERR_CONFIG || x < 0)
		return (ERR_CONFIG);
	for (i = 0; i < nitems(units); i++) {
		if (strcmp(rest, units[i].sfx) != 0)
			continue;
		if (rv == ERR_TOOBIG || x > INT64_MAX / units[i].mul)
			return (ERR_TOOBIG);
		*out = x * units[i].mul;
		return (0);
	}
	return (ERR_CONFIG);
}

int
cfg_scan_num(const char *s, double *out)
{
	char  *end;
	double x;

	if (*s == '\0' || isspace((unsigned char) *s))
		return (ERR_CONFIG);
	errno = 0;
	x     = strtod(s, &end);
	if (end == s || *end != '\0' || x != x)
		return (ERR_CONFIG);
	if (errno != 0 || x > DBL_MAX || x < -DBL_MAX)
		return (ERR_TOOBIG);
	*out = x;
	return (0);
}

int
cfg_scan_bool(const char *s, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[]  = { "false", "no", "off", "0" };
	size_t                   i;

	for (i = 0; i < nitems(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return (0);
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return (0);
		}
	}
	return (ERR_CONFIG);
}

int
cfg_get_int(const struct cfg_node *n, const char *path, int64_t def,
    int64_t *out, char *err, size_t errlen)
{
	const struct cfg_node *v = lookup(n, path);
	int64_t                x;
	int                    rv;

	*out = def;
	if (v == NULL)
		return (0);
	if (v->type != CFG_SCALAR || (rv = cfg_scan_int(v->text, &x)) != 0)
		return (bad(v, path,
		    v->type == CFG_SCALAR && rv == ERR_TOOBIG
		        ? "an integer that fits in 64 bits"
		        : "an integer",
		    err, errlen));
	*out = x;
	return (0);
}

int
cfg_get_ms(const struct cfg_node *n, const char *path, int64_t def,
    int64_t *out, char *err, size_t errlen)
{
	const struct cfg_node *v = lookup(n, path);
	int64_t                x;

	*out = def;
	if (v == NULL)
		return (0);
	if (v->type != CFG_SCALAR || cfg_scan_ms(v->text, &x) != 0)
		return (bad(v, path, "a duration (e.g. 250ms, 5s, 2m, 1h)",
		    err, errlen));
	*out = x;
	return (0);
}

int
cfg_get_double(const struct cfg_node *n, const char *path, double def,
    double *out, char *err, size_t errlen)
{
	const struct cfg_node *v = lookup(n, path);
	double                 x;

	*out = def;
	if (v == NULL)
		return (0);
	if (v->type != CFG_SCALAR || cfg_scan_num(v->text, &x) != 0)
		return (bad(v, path, "a number", err, errlen));
	*out = x;
	return (0);
}

int
cfg_get_bool(const struct cfg_node *n, const char *path, int def, int *out,
    char *err, size_t errlen)
{
	const struct cfg_node *v = lookup(n, path);

	*out = def;
	if (v == NULL)
		return (0);
	if (v->type != CFG_SCALAR || cfg_scan_bool(v->text, out) != 0) {
		*out = def;
		return (bad(v, path, "true or false", err, errlen));
	}
	return (0);
}

int
cfg_get_strs(const struct cfg_node *n, const char *path, const char ***out,
    size_t *n_out, char *err, size_t errlen)
{
	const struct cfg_node *v = lookup(n, path);
	const char           **a;
	size_t                 i;
	char                   sub[300];

	*out   = NULL;
	*n_out = 0;
	if (v == NULL)
		return (0);
	if (v->type != CFG_SEQ)
		return (bad(v, path, "a list of strings", err, errlen));
	a = xcalloc(v->n + 1, sizeof(*a));
	for (i = 0; i < v->n; i++) {
		if (v->items[i]->type != CFG_SCALAR) {
			free(a);
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			return (
			    bad(v->items[i], sub, "a string", err, errlen));
		}
		a[i] = v->items[i]->text;
	}
	*out   = a;
	*n_out = v->n;
	return (0);
}

const char *
cfg_secret(const struct cfg_node *n, const char *key)
{
	const char *name, *val;
	size_t      kl = key ? strlen(key) : 0;

	if (kl < 4 || strcmp(key + kl - 4, "_env") != 0)
		return (NULL);
	name = cfg_str(lookup(n, key));
	if (name == NULL || *name == '\0')
		return (NULL);
	val = getenv(name);
	return (val != NULL && *val != '\0' ? val : NULL);
}
