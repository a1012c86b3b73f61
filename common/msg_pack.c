/*
 * msg_pack.c - packing any topic with msgpack-c's packer, walking the
 * descriptor tables of proto/bus.yaml.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <msgpack.h>

#include "msg_int.h"
#include "opc/err.h"
#include "opc/msg.h"
#include "opc/util.h"

/* ---------------------------------------------------------------- packer */

static int
buf_write(void *data, const char *p, size_t n)
{
	buf_append(data, p, n);
	return (0);
}

/* pk_text packs s as a msgpack str, replacing invalid UTF-8 and NUL with
 * U+FFFD so that no producer can journal a record its consumers reject. */
static void
pk_text(msgpack_packer *pk, const char *s, size_t n)
{
	static const char rep[] = "\xef\xbf\xbd";
	struct buf        b;
	size_t            i, l;

	if (mp_text_ok(s, n)) {
		msgpack_pack_str(pk, n);
		msgpack_pack_str_body(pk, s, n);
		return;
	}
	buf_init(&b);
	for (i = 0; i < n; i += l) {
		l = s[i] == '\0'
		    ? 0
		    : utf8_len((const unsigned char *) s + i, n - i);
		if (l == 0) {
			buf_append(&b, rep, 3);
			l = 1;
		} else
			buf_append(&b, s + i, l);
	}
	msgpack_pack_str(pk, b.len);
	msgpack_pack_str_body(pk, b.data, b.len);
	buf_fini(&b);
}

static void
pk_cstr(msgpack_packer *pk, const char *s)
{
	pk_text(pk, s, strlen(s));
}

static void
pk_json(msgpack_packer *pk, const json_t *j)
{
	const char *k;
	json_t     *e;
	size_t      i;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		msgpack_pack_map(pk, json_object_size(j));
		json_object_foreach ((json_t *) j, k, e) {
			pk_cstr(pk, k);
			pk_json(pk, e);
		}
		break;
	case JSON_ARRAY:
		msgpack_pack_array(pk, json_array_size(j));
		json_array_foreach (j, i, e)
			pk_json(pk, e);
		break;
	case JSON_STRING:
		pk_text(pk, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		msgpack_pack_int64(pk, json_integer_value(j));
		break;
	case JSON_REAL:
		msgpack_pack_double(pk, json_real_value(j));
		break;
	case JSON_TRUE:
		msgpack_pack_true(pk);
		break;
	case JSON_FALSE:
		msgpack_pack_false(pk);
		break;
	default:
		msgpack_pack_nil(pk);
		break;
	}
}

/* nest_ok: j nests at most depth more containers (the decoder's limit:
 * a deeper value would be journaled but refused by every consumer). */
static bool
nest_ok(const json_t *j, int depth)
{
	const char *k;
	json_t     *e;
	size_t      i;

	if (!json_is_object(j) && !json_is_array(j))
		return (true);
	if (depth <= 0)
		return (false);
	if (json_is_object(j)) {
		json_object_foreach ((json_t *) j, k, e)
			if (!nest_ok(e, depth - 1))
				return (false);
	} else
		json_array_foreach (j, i, e)
			if (!nest_ok(e, depth - 1))
				return (false);
	return (true);
}

bool
msg_obj_ok(const json_t *j)
{
	return (nest_ok(j, OBJ_MAX_DEPTH));
}

/* present: whether an optional field is packed at all. */
bool
msg_present(const struct msg_field *f, const char *base)
{
	const void *at = base + f->off;

	if (f->optional)
		return (*(const bool *) (base + f->has_off));
	if (f->type == FT_STR)
		return (*(char *const *) at != NULL);
	if (f->type == FT_OBJ)
		return (*(json_t *const *) at != NULL);
	if (f->type == FT_REC)
		return (*(void *const *) at != NULL);
	if (f->type == FT_ENUM)
		return (*(const int *) at != 0);
	return (true);
}

const struct msg_field *
msg_key_field(const struct msg_field *f)
{
	size_t i;

	if (f->type != FT_RECS || f->key == NULL)
		return (NULL);
	for (i = 0; i < f->rec->nfields; i++)
		if (strcmp(f->rec->fields[i].name, f->key) == 0)
			return (&f->rec->fields[i]);
	return (NULL); /* protogen makes sure it is there */
}

const struct msg_field *
msg_value_field(const struct msg_field *f)
{
	size_t i;

	if (f->type != FT_RECS || f->key == NULL || f->value == NULL)
		return (NULL);
	for (i = 0; i < f->rec->nfields; i++)
		if (strcmp(f->rec->fields[i].name, f->value) == 0)
			return (&f->rec->fields[i]);
	return (NULL); /* protogen makes sure it is there */
}

const char *
msg_key_of(const struct msg_field *kf, const char *rec)
{
	return (*(char *const *) (rec + kf->off));
}

/* keys_ok: every record of a keyed list has its key, each once. */
static bool
keys_ok(const struct msg_field *f, const struct msg_recs *rs)
{
	const struct msg_field *kf = msg_key_field(f);
	const char             *a, *b;
	size_t                  i, k;

	for (i = 0; kf != NULL && i < rs->n; i++) {
		a = msg_key_of(kf, (const char *) rs->v + i * f->rec->size);
		if (a == NULL)
			return (false);
		for (k = 0; k < i; k++) {
			b = msg_key_of(
			    kf, (const char *) rs->v + k * f->rec->size);
			if (strcmp(a, b) == 0)
				return (false);
		}
	}
	return (true);
}

/* fields_ok: every required field present, every enum a named value and
 * every obj within the decoder's depth, in records too (what a consumer
 * would refuse is never packed). */
static bool
fields_ok(const struct msg_field *fields, size_t n, const char *base)
{
	const struct msg_field *f;
	const struct msg_recs  *rs;
	size_t                  i, k;

	for (i = 0; i < n; i++) {
		f = &fields[i];
		if (!msg_present(f, base)) {
			if (f->required)
				return (false);
			continue;
		}
		if (f->type == FT_OBJ &&
		    !msg_obj_ok(*(json_t *const *) (base + f->off)))
			return (false);
		if (f->type == FT_ENUM &&
		    *msg_enum_name(f->names, *(const int *) (base + f->off)) ==
		        '\0')
			return (false);
		if (f->type == FT_REC &&
		    !fields_ok(f->rec->fields, f->rec->nfields,
		        *(const char *const *) (base + f->off)))
			return (false);
		if (f->type == FT_RECS) {
			rs = (const void *) (base + f->off);
			if (!keys_ok(f, rs))
				return (false);
			for (k = 0; k < rs->n; k++)
				if (!fields_ok(f->rec->fields, f->rec->nfields,
				        (const char *) rs->v +
				            k * f->rec->size))
					return (false);
		}
	}
	return (true);
}

static void pk_fields(msgpack_packer *, const struct msg_field *, size_t,
    const char *, const struct msg_field *);

static void pk_value(msgpack_packer *, const struct msg_field *, const char *);

static void
pk_field(msgpack_packer *pk, const struct msg_field *f, const char *base)
{
	pk_cstr(pk, f->name);
	pk_value(pk, f, base);
}

/* pk_value packs the value of field f of base (without its name). */
static void
pk_value(msgpack_packer *pk, const struct msg_field *f, const char *base)
{
	const void             *at = base + f->off;
	const struct msg_strs  *ss;
	const struct msg_bins  *bs;
	const struct msg_recs  *rs;
	const struct msg_bin   *b;
	const struct msg_field *kf, *vf;
	const char             *rec;
	size_t                  i;

	switch (f->type) {
	case FT_ENUM:
		pk_cstr(pk, msg_enum_name(f->names, *(const int *) at));
		break;
	case FT_REC:
		pk_fields(pk, f->rec->fields, f->rec->nfields,
		    *(const char *const *) at, NULL);
		break;
	case FT_RECS:
		rs = at;
		if ((kf = msg_key_field(f)) != NULL)
			msgpack_pack_map(pk, rs->n);
		else
			msgpack_pack_array(pk, rs->n);
		for (i = 0; i < rs->n; i++) {
			rec = (const char *) rs->v + i * f->rec->size;
			if (kf != NULL)
				pk_cstr(pk, msg_key_of(kf, rec));
			if ((vf = msg_value_field(f)) != NULL)
				pk_value(pk, vf, rec);
			else
				pk_fields(pk, f->rec->fields, f->rec->nfields,
				    rec, kf);
		}
		break;
	case FT_STR: /* NULL only as a keyed list's value */
		if (*(char *const *) at != NULL)
			pk_cstr(pk, *(char *const *) at);
		else
			msgpack_pack_nil(pk);
		break;
	case FT_INT:
		msgpack_pack_int64(pk, *(const int64_t *) at);
		break;
	case FT_BOOL:
		if (*(const bool *) at)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		break;
	case FT_F64:
		msgpack_pack_double(pk, *(const double *) at);
		break;
	case FT_OBJ:
		pk_json(pk, *(json_t *const *) at);
		break;
	case FT_STRS:
		ss = at;
		msgpack_pack_array(pk, ss->n);
		for (i = 0; i < ss->n; i++)
			pk_cstr(pk, ss->v[i] ? ss->v[i] : "");
		break;
	case FT_BIN:
		b = at;
		msgpack_pack_bin(pk, b->len);
		msgpack_pack_bin_body(pk, b->p, b->len);
		break;
	case FT_BINS:
		bs = at;
		msgpack_pack_array(pk, bs->n);
		for (i = 0; i < bs->n; i++) {
			msgpack_pack_bin(pk, bs->v[i].len);
			msgpack_pack_bin_body(pk, bs->v[i].p, bs->v[i].len);
		}
		break;
	}
}

/* pk_fields packs the present fields of base as a map, but skip (a keyed
 * list's key, which is the map's key). */
static void
pk_fields(msgpack_packer *pk, const struct msg_field *fields, size_t nf,
    const char *base, const struct msg_field *skip)
{
	size_t i, n = 0;

	for (i = 0; i < nf; i++)
		n += &fields[i] != skip && msg_present(&fields[i], base);
	msgpack_pack_map(pk, n);
	for (i = 0; i < nf; i++)
		if (&fields[i] != skip && msg_present(&fields[i], base))
			pk_field(pk, &fields[i], base);
}

int
msg_pack(struct buf *out, enum msg_topic t, const struct msg_hdr *hdr,
    const void *body)
{
	const struct msg_topic_def *d;
	const char                 *base = body;
	msgpack_packer              pk;
	size_t                      i;

	if (t <= MSG_NONE || t >= MSG__COUNT || hdr == NULL ||
	    hdr->src == NULL || hdr->id == NULL)
		return (ERR_INVAL);
	d = &msg_topic_defs[t];
	if (base != NULL && !fields_ok(d->fields, d->nfields, base))
		return (ERR_INVAL);
	if (base == NULL)
		for (i = 0; i < d->nfields; i++)
			if (d->fields[i].required)
				return (ERR_INVAL);
	buf_append(out, d->name, strlen(d->name) + 1);
	msgpack_packer_init(&pk, out, buf_write);
	msgpack_pack_map(&pk, hdr->corr ? 8 : 7);
	pk_cstr(&pk, "v");
	msgpack_pack_uint32(&pk, MSG_PROTO_VERSION);
	pk_cstr(&pk, "src");
	pk_cstr(&pk, hdr->src);
	pk_cstr(&pk, "seq");
	msgpack_pack_uint64(&pk, hdr->seq);
	pk_cstr(&pk, "id");
	pk_cstr(&pk, hdr->id);
	pk_cstr(&pk, "ts");
	msgpack_pack_int64(&pk, hdr->ts);
	pk_cstr(&pk, "topic");
	pk_cstr(&pk, d->name);
	if (hdr->corr != NULL) {
		pk_cstr(&pk, "corr");
		pk_cstr(&pk, hdr->corr);
	}
	pk_cstr(&pk, "body");
	if (base == NULL)
		msgpack_pack_map(&pk, 0);
	else
		pk_fields(&pk, d->fields, d->nfields, base, NULL);
	return (0);
}

int
msg_encode(struct buf *out, const struct msg *m)
{
	struct msg_hdr h = { m->src, m->seq, m->id, m->ts, m->corr };

	return (msg_pack(out, m->topic, &h, &m->body));
}
