/*
 * msg.c - the table-driven codec for every topic in proto/bus.yaml:
 * topics, body fields, envelope decoding and the JSON bridge (packing is
 * msg_pack.c, the bounded msgpack reader mp_read.c, which explains why
 * it replaces msgpack_unpack()).  Every decode path ends in one place
 * that releases what was built so far.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "msg_int.h"
#include "opc/err.h"
#include "opc/msg.h"
#include "opc/util.h"

/* ---------------------------------------------------------------- topics */

enum msg_topic
msg_topic_lookup(const char *name, size_t len)
{
	size_t i;

	for (i = 1; i < MSG__COUNT; i++)
		if (strlen(msg_topic_defs[i].name) == len &&
		    memcmp(msg_topic_defs[i].name, name, len) == 0)
			return ((enum msg_topic) i);
	return (MSG_NONE);
}

const char *
msg_topic_name(enum msg_topic t)
{
	if (t <= MSG_NONE || t >= MSG__COUNT)
		return ("?");
	return (msg_topic_defs[t].name);
}

const char *
msg_frame_topic(const void *frame, size_t flen, size_t *len)
{
	const char *nul = memchr(frame, '\0', flen);

	if (nul == NULL)
		return (NULL);
	*len = (size_t) (nul - (const char *) frame);
	return (frame);
}

/* ------------------------------------------------------------ body fields */

static void fields_fini(const struct msg_field *, size_t, char *);

static void
field_fini(const struct msg_field *f, char *base)
{
	void            *at = base + f->off;
	struct msg_strs *ss;
	struct msg_bins *bs;
	struct msg_recs *rs;
	size_t           i;

	switch (f->type) {
	case FT_STR:
		free(*(char **) at);
		break;
	case FT_OBJ:
		json_decref(*(json_t **) at);
		break;
	case FT_STRS:
		ss = at;
		for (i = 0; i < ss->n; i++)
			free(ss->v[i]);
		free(ss->v);
		break;
	case FT_BIN:
		free(((struct msg_bin *) at)->p);
		break;
	case FT_BINS:
		bs = at;
		for (i = 0; i < bs->n; i++)
			free(bs->v[i].p);
		free(bs->v);
		break;
	case FT_REC:
		msg_rec_free(f->rec, *(void **) at);
		break;
	case FT_RECS:
		rs = at;
		for (i = 0; i < rs->n; i++)
			fields_fini(f->rec->fields, f->rec->nfields,
			    (char *) rs->v + i * f->rec->size);
		free(rs->v);
		break;
	default:
		break;
	}
}

static void
fields_fini(const struct msg_field *fields, size_t n, char *base)
{
	size_t i;

	for (i = 0; i < n; i++)
		field_fini(&fields[i], base);
}

void
msg_body_fini(enum msg_topic t, void *body)
{
	const struct msg_topic_def *d;

	if (t <= MSG_NONE || t >= MSG__COUNT || body == NULL)
		return;
	d = &msg_topic_defs[t];
	fields_fini(d->fields, d->nfields, body);
	memset(body, 0, d->size);
}

void
msg_rec_fini(const struct msg_rec_def *def, void *rec)
{
	if (rec == NULL)
		return;
	fields_fini(def->fields, def->nfields, rec);
	memset(rec, 0, def->size);
}

void *
msg_rec_new(const struct msg_rec_def *def)
{
	return (xcalloc(1, def->size));
}

char *
msg_rec_dumps(const struct msg_rec_def *def, const void *rec)
{
	json_t *j;
	char   *s;

	if (rec == NULL)
		return (NULL);
	j = msg_rec_to_json(def, rec);
	s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (s == NULL)
		abort(); /* jansson fails only on OOM */
	return (s);
}

void *
msg_recs_push(const struct msg_rec_def *def, struct msg_recs *l)
{
	char *at;

	l->v = xrealloc(l->v, (l->n + 1) * def->size);
	at   = (char *) l->v + l->n++ * def->size;
	memset(at, 0, def->size);
	return (at);
}

void
msg_recs_fini(const struct msg_rec_def *def, struct msg_recs *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		msg_rec_fini(def, (char *) l->v + i * def->size);
	free(l->v);
	l->n = 0;
	l->v = NULL;
}

void
msg_rec_free(const struct msg_rec_def *def, void *rec)
{
	if (rec == NULL)
		return;
	msg_rec_fini(def, rec);
	free(rec);
}

const char *
msg_enum_name(const char *const *names, int v)
{
	int i;

	if (v <= 0)
		return ("");
	for (i = 1; names[i] != NULL; i++)
		if (i == v)
			return (names[i]);
	return ("");
}

int
msg_enum_parse(const char *const *names, const char *s, size_t n, int *v)
{
	int i;

	for (i = 1; names[i] != NULL; i++)
		if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0) {
			*v = i;
			return (0);
		}
	return (ERR_NOTFOUND);
}

void
msg_fini(struct msg *m)
{
	if (m == NULL)
		return;
	msg_body_fini(m->topic, &m->body);
	free(m->src);
	free(m->id);
	free(m->corr);
	memset(m, 0, sizeof(*m));
}

void
msg_strs_add(struct msg_strs *ss, const char *s)
{
	ss->v          = xrealloc(ss->v, (ss->n + 1) * sizeof(*ss->v));
	ss->v[ss->n++] = xstrdup(s);
}

bool
msg_strs_has(const struct msg_strs *ss, const char *s)
{
	size_t i;

	for (i = 0; i < ss->n; i++)
		if (ss->v[i] != NULL && strcmp(ss->v[i], s) == 0)
			return (true);
	return (false);
}

void
msg_tally_add_obj(struct msg_tally_list *l, const json_t *obj)
{
	struct msg_tally *t;
	const char       *k;
	json_t           *v;

	json_object_foreach ((json_t *) obj, k, v) {
		if (!json_is_integer(v))
			continue;
		t        = msg_tally_push(l);
		t->key   = xstrdup(k);
		t->count = json_integer_value(v);
	}
}

json_t *
msg_tally_obj(const struct msg_tally_list *l)
{
	json_t *o = json_object();
	size_t  i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].key != NULL)
			json_object_set_new(
			    o, l->v[i].key, json_integer(l->v[i].count));
	return (o);
}

void
msg_strs_fini(struct msg_strs *ss)
{
	size_t i;

	for (i = 0; i < ss->n; i++)
		free(ss->v[i]);
	free(ss->v);
	ss->v = NULL;
	ss->n = 0;
}

char *
msg_bin_dup(const char *p, size_t n)
{
	return (xmemdup(p, n));
}

static int rd_map(struct rd *, const char *, const struct msg_field *, size_t,
    char *, const struct mpv *);
static int rd_field(
    struct rd *, const struct msg_field *, char *, const struct mpv *);

/* ftype_name: a scalar type's name in an error ("a string"...). */
static const char *
ftype_name(enum msg_ftype t)
{
	switch (t) {
	case FT_STR:
		return ("a string");
	case FT_INT:
		return ("an integer");
	case FT_BOOL:
		return ("a boolean");
	default:
		return ("a number");
	}
}

/* set_key stores key k (n bytes) in the key field kf of rec, over what
 * the record's own map may have said. */
static void
set_key(const struct msg_field *kf, char *rec, const char *k, size_t n)
{
	char **at = (char **) (rec + kf->off);

	free(*at);
	*at = xstrndup(k, n);
}

/* rd_keyed reads the map with header m into the keyed list rs of field f:
 * each key a record's key field, each value the rest of it. */
static int
rd_keyed(struct rd *r, const struct msg_field *f, struct msg_recs *rs,
    const struct mpv *m)
{
	const struct msg_field *kf = msg_key_field(f),
	                       *vf = msg_value_field(f);
	struct mpv k, v;
	char      *rec;
	size_t     i, j;
	int        rv;

	rs->v = xcalloc(m->len + 1, f->rec->size);
	for (i = 0; i < m->len; i++) {
		if ((rv = mp_next(r, &k)) != 0)
			return (rv);
		if (k.kind != MP_STR || k.len == 0 || !mp_text_ok(k.p, k.len))
			return (mp_fail(r,
			    "field '%s': a key is not a "
			    "non-empty string",
			    f->name));
		for (j = 0; j < i; j++) {
			const char *o =
			    msg_key_of(kf, (char *) rs->v + j * f->rec->size);

			if (strlen(o) == k.len && memcmp(o, k.p, k.len) == 0)
				return (mp_fail(r,
				    "field '%s': duplicate "
				    "key '%.64s'",
				    f->name, o));
		}
		if ((rv = mp_next(r, &v)) != 0)
			return (rv);
		if (vf == NULL && v.kind != MP_MAP)
			return (mp_fail(r, "field '%s'['%.*s'] is not a map",
			    f->name, (int) (k.len > 64 ? 64 : k.len), k.p));
		rec = (char *) rs->v + i * f->rec->size;
		rs->n++; /* released with the rest on failure */
		if (vf != NULL && rd_field(r, vf, rec, &v) != 0)
			return (mp_fail(r, "field '%s'['%.*s'] is not %s",
			    f->name, (int) (k.len > 64 ? 64 : k.len), k.p,
			    ftype_name(vf->type)));
		if (vf == NULL &&
		    (rv = rd_map(r, f->rec->name, f->rec->fields,
		         f->rec->nfields, rec, &v)) != 0)
			return (rv);
		set_key(kf, rec, k.p, k.len);
	}
	return (0);
}

/* rd_field reads the value with header v into field f of base. */
static int
rd_field(
    struct rd *r, const struct msg_field *f, char *base, const struct mpv *v)
{
	void            *at = base + f->off;
	struct msg_strs *ss;
	struct msg_bins *bs;
	struct msg_recs *rs;
	struct mpv       e;
	size_t           i;
	int              rv, ev;

	if (v->kind == MP_NIL && f->type != FT_OBJ) {
		if (f->required)
			return (mp_fail(r, "field '%s' is nil", f->name));
		return (0);
	}
	if (f->optional) /* a mistyped value fails the whole message */
		*(bool *) (base + f->has_off) = true;
	switch (f->type) {
	case FT_STR:
		if (v->kind != MP_STR)
			break;
		if (!mp_text_ok(v->p, v->len))
			return (mp_fail(
			    r, "field '%s' is not valid UTF-8", f->name));
		*(char **) at = xstrndup(v->p, v->len);
		return (0);
	case FT_INT:
		if (v->kind == MP_INT)
			*(int64_t *) at = v->i;
		else if (v->kind == MP_UINT && v->u <= INT64_MAX)
			*(int64_t *) at = (int64_t) v->u;
		else
			break;
		return (0);
	case FT_BOOL:
		if (v->kind != MP_BOOL)
			break;
		*(bool *) at = v->b;
		return (0);
	case FT_F64:
		/* NaN and infinities mean nothing here, and JSON (opc sub,
		 * evidence) cannot carry them: refused as mistyped */
		if (v->kind == MP_F64 && isfinite(v->d))
			*(double *) at = v->d;
		else if (v->kind == MP_INT)
			*(double *) at = (double) v->i;
		else if (v->kind == MP_UINT)
			*(double *) at = (double) v->u;
		else
			break;
		return (0);
	case FT_OBJ:
		return (mp_obj(r, v, 0, (json_t **) at));
	case FT_BIN:
		if (v->kind != MP_BIN && v->kind != MP_STR)
			break;
		((struct msg_bin *) at)->p   = msg_bin_dup(v->p, v->len);
		((struct msg_bin *) at)->len = v->len;
		return (0);
	case FT_STRS:
		if (v->kind != MP_ARR)
			break;
		ss    = at;
		ss->v = xcalloc(v->len + 1, sizeof(*ss->v));
		for (i = 0; i < v->len; i++) {
			if ((rv = mp_next(r, &e)) != 0)
				return (rv);
			if (e.kind != MP_STR || !mp_text_ok(e.p, e.len))
				return (mp_fail(r,
				    "field '%s'[%zu] is not a "
				    "string",
				    f->name, i));
			ss->v[ss->n++] = xstrndup(e.p, e.len);
		}
		return (0);
	case FT_BINS:
		if (v->kind != MP_ARR)
			break;
		bs    = at;
		bs->v = xcalloc(v->len + 1, sizeof(*bs->v));
		for (i = 0; i < v->len; i++) {
			if ((rv = mp_next(r, &e)) != 0)
				return (rv);
			if (e.kind != MP_BIN && e.kind != MP_STR)
				return (
				    mp_fail(r, "field '%s'[%zu] is not bytes",
				        f->name, i));
			bs->v[bs->n].p     = msg_bin_dup(e.p, e.len);
			bs->v[bs->n++].len = e.len;
		}
		return (0);
	case FT_ENUM:
		if (v->kind != MP_STR)
			break;
		if (msg_enum_parse(f->names, v->p, v->len, &ev) != 0)
			return (mp_fail(r,
			    "field '%s': '%.*s' is not one of its "
			    "values",
			    f->name, (int) (v->len > 64 ? 64 : v->len), v->p));
		*(int *) at = ev;
		return (0);
	case FT_REC:
		if (v->kind != MP_MAP)
			break;
		*(void **) at = msg_rec_new(f->rec);
		return (rd_map(r, f->rec->name, f->rec->fields,
		    f->rec->nfields, *(char **) at, v));
	case FT_RECS:
		if (f->key != NULL && v->kind == MP_MAP)
			return (rd_keyed(r, f, at, v));
		if (f->key != NULL || v->kind != MP_ARR)
			break;
		rs    = at;
		rs->v = xcalloc(v->len + 1, f->rec->size);
		for (i = 0; i < v->len; i++) {
			if ((rv = mp_next(r, &e)) != 0)
				return (rv);
			if (e.kind != MP_MAP)
				return (mp_fail(r,
				    "field '%s'[%zu] is not a "
				    "map",
				    f->name, i));
			rs->n++; /* released with the rest on failure */
			if ((rv = rd_map(r, f->rec->name, f->rec->fields,
			         f->rec->nfields,
			         (char *) rs->v + i * f->rec->size, &e)) != 0)
				return (rv);
		}
		return (0);
	}
	return (mp_fail(r, "field '%s' has the wrong type", f->name));
}

/* rd_map reads the n pairs of the map with header m into base, whose
 * fields are fields (what names it in errors). */
static int
rd_map(struct rd *r, const char *what, const struct msg_field *fields,
    size_t nfields, char *base, const struct mpv *m)
{
	struct mpv k, v;
	bool       seen[MSG_MAX_FIELDS] = { false };
	size_t     i, j;
	int        rv;

	for (i = 0; i < m->len; i++) {
		if ((rv = mp_next(r, &k)) != 0 || (rv = mp_next(r, &v)) != 0)
			return (rv);
		if (k.kind != MP_STR)
			return (mp_fail(r, "key in %s is not a string", what));
		for (j = 0; j < nfields; j++)
			if (strlen(fields[j].name) == k.len &&
			    memcmp(fields[j].name, k.p, k.len) == 0)
				break;
		if (j == nfields) { /* unknown field: skip it */
			if ((rv = mp_skip(r, &v, 0)) != 0)
				return (rv);
			continue;
		}
		if (j < nitems(seen) && seen[j])
			return (mp_fail(
			    r, "duplicate field '%s'", fields[j].name));
		if (j < nitems(seen))
			seen[j] = true;
		if ((rv = rd_field(r, &fields[j], base, &v)) != 0)
			return (rv);
	}
	for (j = 0; j < nfields; j++)
		if (fields[j].required && j < nitems(seen) && !seen[j])
			return (mp_fail(r, "missing required field '%s' in %s",
			    fields[j].name, what));
	return (0);
}

/* rd_body reads a body map of topic t into body (zeroed by the caller). */
static int
rd_body(struct rd *r, enum msg_topic t, void *body)
{
	const struct msg_topic_def *d = &msg_topic_defs[t];
	struct mpv                  m;
	int                         rv;

	if ((rv = mp_next(r, &m)) != 0)
		return (rv);
	if (m.kind != MP_MAP)
		return (mp_fail(r, "body of %s is not a map", d->name));
	return (rd_map(r, d->name, d->fields, d->nfields, body, &m));
}

/* ------------------------------------------------------------- envelope */

enum env_key {
	K_V,
	K_SRC,
	K_SEQ,
	K_ID,
	K_TS,
	K_TOPIC,
	K_CORR,
	K_BODY,
	K__COUNT
};
static const char *const env_keys[K__COUNT] = { "v", "src", "seq", "id", "ts",
	"topic", "corr", "body" };

static int
rd_text(struct rd *r, const struct mpv *v, const char *what, char **out)
{
	if (v->kind != MP_STR || v->len == 0 || !mp_text_ok(v->p, v->len))
		return (mp_fail(
		    r, "envelope '%s' is not a non-empty string", what));
	*out = xstrndup(v->p, v->len);
	return (0);
}

static int
rd_u64(struct rd *r, const struct mpv *v, const char *what, uint64_t *out)
{
	if (v->kind != MP_UINT)
		return (mp_fail(
		    r, "envelope '%s' is not an unsigned integer", what));
	*out = v->u;
	return (0);
}

int
msg_decode(
    struct msg *m, const void *frame, size_t len, char *err, size_t errlen)
{
	struct rd      r = { NULL, NULL, err, errlen };
	struct mpv     env, k, v;
	const char    *tname, *ftopic;
	size_t         i, j, ftlen, tlen = 0;
	bool           seen[K__COUNT] = { false };
	const uint8_t *body           = NULL;
	uint64_t       u              = 0;
	int            rv;

	memset(m, 0, sizeof(*m));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (frame == NULL ||
	    (ftopic = msg_frame_topic(frame, len, &ftlen)) == NULL)
		return (mp_fail(&r, "frame has no topic prefix"));
	r.p   = (const uint8_t *) frame + ftlen + 1;
	r.end = (const uint8_t *) frame + len;
	if ((rv = mp_next(&r, &env)) != 0)
		goto out;
	if (env.kind != MP_MAP) {
		rv = mp_fail(&r, "envelope is not a map");
		goto out;
	}
	tname = NULL;
	for (i = 0; i < env.len; i++) {
		if ((rv = mp_next(&r, &k)) != 0)
			goto out;
		if (k.kind != MP_STR) {
			rv = mp_fail(&r, "envelope key is not a string");
			goto out;
		}
		for (j = 0; j < K__COUNT; j++)
			if (strlen(env_keys[j]) == k.len &&
			    memcmp(env_keys[j], k.p, k.len) == 0)
				break;
		if (j < K__COUNT && seen[j]) {
			rv = mp_fail(
			    &r, "duplicate envelope key '%s'", env_keys[j]);
			goto out;
		}
		if (j < K__COUNT)
			seen[j] = true;
		if (j == K_BODY)
			body = r.p;
		if ((rv = mp_next(&r, &v)) != 0)
			goto out;
		switch (j) {
		case K_V:
			rv   = rd_u64(&r, &v, "v", &u);
			m->v = u > UINT32_MAX ? UINT32_MAX : (uint32_t) u;
			break;
		case K_SRC:
			rv = rd_text(&r, &v, "src", &m->src);
			break;
		case K_SEQ:
			rv = rd_u64(&r, &v, "seq", &m->seq);
			break;
		case K_ID:
			rv = rd_text(&r, &v, "id", &m->id);
			break;
		case K_TS:
			if (v.kind == MP_INT)
				m->ts = v.i;
			else if (v.kind == MP_UINT && v.u <= INT64_MAX)
				m->ts = (int64_t) v.u;
			else
				rv = mp_fail(&r,
				    "envelope 'ts' is not an "
				    "integer");
			break;
		case K_TOPIC:
			if (v.kind != MP_STR)
				rv = mp_fail(&r,
				    "envelope 'topic' is not a "
				    "string");
			tname = v.p;
			tlen  = v.len;
			break;
		case K_CORR:
			if (v.kind != MP_NIL)
				rv = rd_text(&r, &v, "corr", &m->corr);
			break;
		case K_BODY:
			if (v.kind != MP_MAP)
				rv = mp_fail(
				    &r, "envelope 'body' is not a map");
			else
				rv = mp_skip(&r, &v, 0);
			break;
		default:
			rv = mp_skip(&r, &v, 0);
			break;
		}
		if (rv != 0)
			goto out;
	}
	if (r.p != r.end) {
		rv = mp_fail(&r, "%zu trailing bytes after the envelope",
		    (size_t) (r.end - r.p));
		goto out;
	}
	for (j = 0; j < K__COUNT; j++)
		if (!seen[j] && j != K_CORR) {
			rv = mp_fail(
			    &r, "envelope is missing '%s'", env_keys[j]);
			goto out;
		}
	if (m->v < MSG_PROTO_MIN || m->v > MSG_PROTO_VERSION) {
		snprintf(err, errlen,
		    "protocol version %u not supported "
		    "(this build speaks %d, reads %d to %d)",
		    m->v, MSG_PROTO_VERSION, MSG_PROTO_MIN, MSG_PROTO_VERSION);
		rv = ERR_REFUSED;
		goto out;
	}
	if (tlen != ftlen || memcmp(tname, ftopic, tlen) != 0) {
		rv = mp_fail(&r, "frame topic does not match envelope topic");
		goto out;
	}
	m->topic = msg_topic_lookup(tname, tlen);
	if (m->topic == MSG_NONE || msg_topic_defs[m->topic].retired) {
		snprintf(err, errlen, "unknown topic '%.*s'",
		    (int) (tlen > 64 ? 64 : tlen), tname);
		m->topic = MSG_NONE;
		rv       = ERR_UNKNOWN;
		goto out;
	}
	if (msg_topic_defs[m->topic].durable != (m->seq > 0)) {
		rv = mp_fail(&r, "%s must %shave a seq",
		    msg_topic_defs[m->topic].name,
		    msg_topic_defs[m->topic].durable ? "" : "not ");
		goto out;
	}
	r.p = body;
	rv  = rd_body(&r, m->topic, &m->body);
out:
	if (rv != 0)
		msg_fini(m);
	return (rv);
}

/* ------------------------------------------------------------------ json */

static json_t *
bin_marker(size_t len)
{
	return (json_pack("{sI}", "$bin", (json_int_t) len));
}

static json_t *fields_to_json(
    const struct msg_field *, size_t, bool, const char *);

static json_t *
field_to_json(const struct msg_field *f, const char *base)
{
	const void             *at = base + f->off;
	const struct msg_strs  *ss;
	const struct msg_bins  *bs;
	const struct msg_recs  *rs;
	const struct msg_field *kf, *vf;
	const char             *rec;
	json_t                 *a, *e;
	size_t                  k;

	switch (f->type) {
	case FT_STR:
		return (json_string(*(char *const *) at));
	case FT_INT:
		return (json_integer(*(const int64_t *) at));
	case FT_BOOL:
		return (json_boolean(*(const bool *) at));
	case FT_F64:
		return (json_real(*(const double *) at));
	case FT_OBJ:
		return (json_deep_copy(*(json_t *const *) at));
	case FT_BIN:
		return (bin_marker(((const struct msg_bin *) at)->len));
	case FT_ENUM:
		return (
		    json_string(msg_enum_name(f->names, *(const int *) at)));
	case FT_REC:
		return (fields_to_json(f->rec->fields, f->rec->nfields,
		    f->rec->nulls, *(const char *const *) at));
	case FT_STRS:
		ss = at;
		a  = json_array();
		for (k = 0; k < ss->n; k++)
			json_array_append_new(
			    a, json_string(ss->v[k] ? ss->v[k] : ""));
		return (a);
	case FT_RECS:
		rs = at;
		kf = msg_key_field(f);
		a  = kf != NULL ? json_object() : json_array();
		for (k = 0; k < rs->n; k++) {
			rec = (const char *) rs->v + k * f->rec->size;
			if ((vf = msg_value_field(f)) != NULL) {
				e = field_to_json(vf, rec);
				json_object_set_new(a, msg_key_of(kf, rec),
				    e != NULL ? e : json_null());
				continue;
			}
			e = fields_to_json(f->rec->fields, f->rec->nfields,
			    f->rec->nulls, rec);
			if (kf != NULL) {
				json_object_del(e, kf->name);
				json_object_set_new(a, msg_key_of(kf, rec), e);
			} else
				json_array_append_new(a, e);
		}
		return (a);
	default: /* FT_BINS */
		bs = at;
		a  = json_array();
		for (k = 0; k < bs->n; k++)
			json_array_append_new(a, bin_marker(bs->v[k].len));
		return (a);
	}
}

static json_t *
fields_to_json(
    const struct msg_field *fields, size_t n, bool nulls, const char *base)
{
	json_t *o = json_object(), *v;
	size_t  i;

	for (i = 0; base != NULL && i < n; i++) {
		if (!msg_present(&fields[i], base)) {
			if (nulls)
				json_object_set_new(
				    o, fields[i].name, json_null());
			continue;
		}
		v = field_to_json(&fields[i], base);
		json_object_set_new(o, fields[i].name, v ? v : json_null());
	}
	return (o);
}

json_t *
msg_body_to_json(enum msg_topic t, const void *body)
{
	if (t <= MSG_NONE || t >= MSG__COUNT || body == NULL)
		return (json_object());
	return (fields_to_json(
	    msg_topic_defs[t].fields, msg_topic_defs[t].nfields, false, body));
}

json_t *
msg_rec_to_json(const struct msg_rec_def *def, const void *rec)
{
	return (fields_to_json(def->fields, def->nfields, def->nulls, rec));
}

json_t *
msg_to_json(const struct msg *m)
{
	json_t *o = json_object();

	json_object_set_new(o, "v", json_integer(m->v));
	json_object_set_new(o, "src", json_string(m->src ? m->src : ""));
	json_object_set_new(o, "seq", json_integer((json_int_t) m->seq));
	json_object_set_new(o, "id", json_string(m->id ? m->id : ""));
	json_object_set_new(o, "ts", json_integer(m->ts));
	json_object_set_new(o, "topic", json_string(msg_topic_name(m->topic)));
	if (m->corr != NULL)
		json_object_set_new(o, "corr", json_string(m->corr));
	json_object_set_new(o, "body", msg_body_to_json(m->topic, &m->body));
	return (o);
}

static int PRINTFLIKE(3, 4)
    jfail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return (ERR_PROTO);
}

static int json_fields(const char *, const struct msg_field *, size_t, char *,
    const json_t *, char *, size_t);
static int json_field(
    const struct msg_field *, char *, json_t *, char *, size_t);

/* json_keyed fills the keyed list rs of field f from object v. */
static int
json_keyed(const struct msg_field *f, struct msg_recs *rs, const json_t *v,
    char *err, size_t errlen)
{
	const struct msg_field *kf = msg_key_field(f),
	                       *vf = msg_value_field(f);
	const char *k;
	json_t     *e;
	char       *rec;
	int         rv;

	rs->v = xcalloc(json_object_size(v) + 1, f->rec->size);
	json_object_foreach ((json_t *) v, k, e) {
		if (*k == '\0' || !mp_text_ok(k, strlen(k)))
			return (jfail(err, errlen,
			    "field '%s': a key is not a "
			    "non-empty string",
			    f->name));
		if (vf == NULL && !json_is_object(e))
			return (jfail(err, errlen,
			    "field '%s'['%.64s'] is not an "
			    "object",
			    f->name, k));
		rec = (char *) rs->v + rs->n++ * f->rec->size;
		if (vf != NULL && json_field(vf, rec, e, NULL, 0) != 0)
			return (
			    jfail(err, errlen, "field '%s'['%.64s'] is not %s",
			        f->name, k, ftype_name(vf->type)));
		if (vf == NULL &&
		    (rv = json_fields(f->rec->name, f->rec->fields,
		         f->rec->nfields, rec, e, err, errlen)) != 0)
			return (rv);
		set_key(kf, rec, k, strlen(k));
	}
	return (0);
}

static int
json_field(
    const struct msg_field *f, char *base, json_t *v, char *err, size_t errlen)
{
	void            *at = base + f->off;
	struct msg_strs *ss;
	struct msg_bins *bs;
	struct msg_recs *rs;
	json_t          *e;
	size_t           i;
	int              rv, ev;

	if (json_is_null(v) && f->type != FT_OBJ) {
		if (f->required)
			return (
			    jfail(err, errlen, "field '%s' is null", f->name));
		return (0);
	}
	if (f->optional)
		*(bool *) (base + f->has_off) = true;
	switch (f->type) {
	case FT_STR:
		if (!json_is_string(v) ||
		    !mp_text_ok(json_string_value(v), json_string_length(v)))
			break;
		*(char **) at = xstrdup(json_string_value(v));
		return (0);
	case FT_INT:
		if (!json_is_integer(v))
			break;
		*(int64_t *) at = json_integer_value(v);
		return (0);
	case FT_BOOL:
		if (!json_is_boolean(v))
			break;
		*(bool *) at = json_is_true(v);
		return (0);
	case FT_F64:
		if (!json_is_number(v))
			break;
		*(double *) at = json_number_value(v);
		return (0);
	case FT_OBJ:
		*(json_t **) at = json_deep_copy(v);
		return (0);
	case FT_BIN:
		if (!json_is_string(v))
			break;
		((struct msg_bin *) at)->p =
		    msg_bin_dup(json_string_value(v), json_string_length(v));
		((struct msg_bin *) at)->len = json_string_length(v);
		return (0);
	case FT_STRS:
		if (!json_is_array(v))
			break;
		ss    = at;
		ss->v = xcalloc(json_array_size(v) + 1, sizeof(*ss->v));
		json_array_foreach (v, i, e) {
			if (!json_is_string(e) ||
			    !mp_text_ok(
			        json_string_value(e), json_string_length(e)))
				return (jfail(err, errlen,
				    "field '%s'[%zu] is "
				    "not a string",
				    f->name, i));
			ss->v[ss->n++] = xstrdup(json_string_value(e));
		}
		return (0);
	case FT_BINS:
		if (!json_is_array(v))
			break;
		bs    = at;
		bs->v = xcalloc(json_array_size(v) + 1, sizeof(*bs->v));
		json_array_foreach (v, i, e) {
			if (!json_is_string(e))
				return (jfail(err, errlen,
				    "field '%s'[%zu] is "
				    "not a string",
				    f->name, i));
			bs->v[bs->n].p = msg_bin_dup(
			    json_string_value(e), json_string_length(e));
			bs->v[bs->n++].len = json_string_length(e);
		}
		return (0);
	case FT_ENUM:
		if (!json_is_string(v))
			break;
		if (msg_enum_parse(f->names, json_string_value(v),
		        json_string_length(v), &ev) != 0)
			return (jfail(err, errlen,
			    "field '%s': '%.64s' is not "
			    "one of its values",
			    f->name, json_string_value(v)));
		*(int *) at = ev;
		return (0);
	case FT_REC:
		if (!json_is_object(v))
			break;
		*(void **) at = msg_rec_new(f->rec);
		return (json_fields(f->rec->name, f->rec->fields,
		    f->rec->nfields, *(char **) at, v, err, errlen));
	case FT_RECS:
		if (f->key != NULL && json_is_object(v))
			return (json_keyed(f, at, v, err, errlen));
		if (f->key != NULL || !json_is_array(v))
			break;
		rs    = at;
		rs->v = xcalloc(json_array_size(v) + 1, f->rec->size);
		json_array_foreach (v, i, e) {
			if (!json_is_object(e))
				return (jfail(err, errlen,
				    "field '%s'[%zu] is "
				    "not an object",
				    f->name, i));
			rs->n++;
			if ((rv = json_fields(f->rec->name, f->rec->fields,
			         f->rec->nfields,
			         (char *) rs->v + i * f->rec->size, e, err,
			         errlen)) != 0)
				return (rv);
		}
		return (0);
	}
	return (jfail(err, errlen, "field '%s' has the wrong type", f->name));
}

/* json_fields fills base's fields from obj (what names it in errors). */
static int
json_fields(const char *what, const struct msg_field *fields, size_t n,
    char *base, const json_t *obj, char *err, size_t errlen)
{
	json_t *v;
	size_t  i;
	int     rv = 0;

	if (!json_is_object(obj))
		return (jfail(err, errlen, "%s is not an object", what));
	for (i = 0; i < n && rv == 0; i++) {
		v = json_object_get(obj, fields[i].name);
		if (v == NULL) {
			if (fields[i].required)
				rv = jfail(err, errlen,
				    "missing required "
				    "field '%s' in %s",
				    fields[i].name, what);
			continue;
		}
		rv = json_field(&fields[i], base, v, err, errlen);
	}
	return (rv);
}

int
msg_body_from_json(
    enum msg_topic t, void *body, const json_t *obj, char *err, size_t errlen)
{
	const struct msg_topic_def *d;
	int                         rv;

	if (t <= MSG_NONE || t >= MSG__COUNT)
		return (jfail(err, errlen, "unknown topic"));
	d = &msg_topic_defs[t];
	memset(body, 0, d->size);
	rv = json_fields(
	    d->name, d->fields, d->nfields, body, obj, err, errlen);
	if (rv != 0)
		msg_body_fini(t, body);
	return (rv);
}

int
msg_rec_from_json(const struct msg_rec_def *def, void *rec, const json_t *obj,
    char *err, size_t errlen)
{
	int rv;

	memset(rec, 0, def->size);
	rv = json_fields(
	    def->name, def->fields, def->nfields, rec, obj, err, errlen);
	if (rv != 0)
		msg_rec_fini(def, rec);
	return (rv);
}
