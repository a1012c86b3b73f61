/*
 * mp_read.c - the bounded msgpack reader behind msg_decode.
 *
 * msgpack-c's unpacker allocates container storage from the count a
 * header claims before it checks that the bytes exist, so a 5-byte array
 * header claiming 2^32 elements makes it try a 64 GiB allocation.  This
 * reader checks every length and count against the bytes left, limits
 * nesting, and never allocates more than the input could describe.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "msg_int.h"
#include "opc/err.h"

int PRINTFLIKE(2, 3) mp_fail(struct rd *r, const char *fmt, ...)
{
	va_list ap;

	if (r->err != NULL && r->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(r->err, r->errlen, fmt, ap);
		va_end(ap);
	}
	return (ERR_PROTO);
}

static int
take(struct rd *r, size_t n, const uint8_t **out)
{
	*out = r->p;
	if ((size_t) (r->end - r->p) < n)
		return (mp_fail(r, "truncated msgpack"));
	*out = r->p;
	r->p += n;
	return (0);
}

static uint64_t
be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t   i;

	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return (v);
}

/* rd_uint reads an n-byte big-endian length or value. */
static int
rd_uint(struct rd *r, size_t n, uint64_t *v)
{
	const uint8_t *p;
	int            rv;

	if ((rv = take(r, n, &p)) != 0)
		return (rv);
	*v = be(p, n);
	return (0);
}

static int
rd_bytes(struct rd *r, size_t n, struct mpv *v)
{
	const uint8_t *p;
	int            rv;

	if ((rv = take(r, n, &p)) != 0)
		return (rv);
	v->p   = (const char *) p;
	v->len = n;
	return (0);
}

/* rd_count checks that a container of n elements (each at least per
 * bytes) can fit in what is left. */
static int
rd_count(struct rd *r, uint64_t n, size_t per, struct mpv *v)
{
	if (n > (uint64_t) (r->end - r->p) / per)
		return (
		    mp_fail(r, "msgpack container count %llu exceeds input",
		        (unsigned long long) n));
	v->len = (size_t) n;
	return (0);
}

/* mp_next reads one value header (and the payload of scalars). */
int
mp_next(struct rd *r, struct mpv *v)
{
	const uint8_t *p;
	uint64_t       n;
	int            rv;
	uint8_t        c;

	if ((rv = take(r, 1, &p)) != 0)
		return (rv);
	memset(v, 0, sizeof(*v));
	c = *p;
	if (c <= 0x7f) {
		v->kind = MP_UINT;
		v->u    = c;
		return (0);
	}
	if (c >= 0xe0) {
		v->kind = MP_INT;
		v->i    = (int8_t) c;
		return (0);
	}
	if ((c & 0xf0) == 0x80) {
		v->kind = MP_MAP;
		return (rd_count(r, c & 0x0f, 2, v));
	}
	if ((c & 0xf0) == 0x90) {
		v->kind = MP_ARR;
		return (rd_count(r, c & 0x0f, 1, v));
	}
	if ((c & 0xe0) == 0xa0) {
		v->kind = MP_STR;
		return (rd_bytes(r, c & 0x1f, v));
	}
	switch (c) {
	case 0xc0:
		v->kind = MP_NIL;
		return (0);
	case 0xc2:
	case 0xc3:
		v->kind = MP_BOOL;
		v->b    = c == 0xc3;
		return (0);
	case 0xc4:
	case 0xc5:
	case 0xc6:
		v->kind = MP_BIN;
		if ((rv = rd_uint(r, (size_t) 1 << (c - 0xc4), &n)) != 0)
			return (rv);
		if (n > (uint64_t) (r->end - r->p))
			return (mp_fail(r, "truncated msgpack"));
		return (rd_bytes(r, (size_t) n, v));
	case 0xd9:
	case 0xda:
	case 0xdb:
		v->kind = MP_STR;
		if ((rv = rd_uint(r, (size_t) 1 << (c - 0xd9), &n)) != 0)
			return (rv);
		if (n > (uint64_t) (r->end - r->p))
			return (mp_fail(r, "truncated msgpack"));
		return (rd_bytes(r, (size_t) n, v));
	case 0xca: {
		float    f;
		uint32_t w;

		if ((rv = rd_uint(r, 4, &n)) != 0)
			return (rv);
		w = (uint32_t) n;
		memcpy(&f, &w, sizeof(f));
		v->kind = MP_F64;
		v->d    = f;
		return (0);
	}
	case 0xcb:
		if ((rv = rd_uint(r, 8, &n)) != 0)
			return (rv);
		memcpy(&v->d, &n, sizeof(v->d));
		v->kind = MP_F64;
		return (0);
	case 0xcc:
	case 0xcd:
	case 0xce:
	case 0xcf:
		v->kind = MP_UINT;
		return (rd_uint(r, (size_t) 1 << (c - 0xcc), &v->u));
	case 0xd0:
	case 0xd1:
	case 0xd2:
	case 0xd3: {
		size_t w = (size_t) 1 << (c - 0xd0);

		if ((rv = rd_uint(r, w, &n)) != 0)
			return (rv);
		v->kind = MP_INT;
		if (w == 1)
			v->i = (int8_t) n;
		else if (w == 2)
			v->i = (int16_t) n;
		else if (w == 4)
			v->i = (int32_t) n;
		else
			v->i = (int64_t) n;
		return (0);
	}
	case 0xdc:
	case 0xdd:
		v->kind = MP_ARR;
		if ((rv = rd_uint(r, c == 0xdc ? 2 : 4, &n)) != 0)
			return (rv);
		return (rd_count(r, n, 1, v));
	case 0xde:
	case 0xdf:
		v->kind = MP_MAP;
		if ((rv = rd_uint(r, c == 0xde ? 2 : 4, &n)) != 0)
			return (rv);
		return (rd_count(r, n, 2, v));
	case 0xd4:
	case 0xd5:
	case 0xd6:
	case 0xd7:
	case 0xd8:
		v->kind = MP_EXT;
		return (rd_bytes(r, 1 + ((size_t) 1 << (c - 0xd4)), v));
	case 0xc7:
	case 0xc8:
	case 0xc9:
		v->kind = MP_EXT;
		if ((rv = rd_uint(r, (size_t) 1 << (c - 0xc7), &n)) != 0)
			return (rv);
		if (n >= (uint64_t) (r->end - r->p))
			return (mp_fail(r, "truncated msgpack"));
		return (rd_bytes(r, (size_t) n + 1, v));
	default: /* 0xc1 is never used */
		return (mp_fail(r, "invalid msgpack byte 0x%02x", c));
	}
}

/* mp_skip skips the rest of a value whose header is v. */
int
mp_skip(struct rd *r, const struct mpv *v, int depth)
{
	struct mpv e;
	size_t     i, n;
	int        rv;

	if (v->kind != MP_ARR && v->kind != MP_MAP)
		return (0);
	if (depth > OBJ_MAX_DEPTH)
		return (mp_fail(
		    r, "msgpack nested deeper than %d", OBJ_MAX_DEPTH));
	n = v->kind == MP_MAP ? v->len * 2 : v->len;
	for (i = 0; i < n; i++)
		if ((rv = mp_next(r, &e)) != 0 ||
		    (rv = mp_skip(r, &e, depth + 1)) != 0)
			return (rv);
	return (0);
}

/* mp_text_ok: valid UTF-8 without NUL, so it can be a C string and JSON. */
bool
mp_text_ok(const char *p, size_t n)
{
	return (memchr(p, '\0', n) == NULL && utf8_valid(p, n));
}

/* mp_obj converts the value with header v into a new json_t. */
int
mp_obj(struct rd *r, const struct mpv *v, int depth, json_t **out)
{
	struct mpv k, e;
	json_t    *j = NULL, *c;
	char      *key;
	size_t     i;
	int        rv;

	*out = NULL;
	if (depth > OBJ_MAX_DEPTH)
		return (
		    mp_fail(r, "object nested deeper than %d", OBJ_MAX_DEPTH));
	switch (v->kind) {
	case MP_NIL:
		*out = json_null();
		return (0);
	case MP_BOOL:
		*out = json_boolean(v->b);
		return (0);
	case MP_UINT:
		if (v->u > INT64_MAX)
			return (mp_fail(r, "integer out of range"));
		*out = json_integer((json_int_t) v->u);
		return (0);
	case MP_INT:
		*out = json_integer(v->i);
		return (0);
	case MP_F64:
		*out = json_real(v->d);
		return (0);
	case MP_STR:
		if (!mp_text_ok(v->p, v->len))
			return (mp_fail(r, "string is not valid UTF-8"));
		*out = json_stringn(v->p, v->len);
		return (0);
	case MP_ARR:
		j = json_array();
		for (i = 0; i < v->len; i++) {
			if ((rv = mp_next(r, &e)) != 0 ||
			    (rv = mp_obj(r, &e, depth + 1, &c)) != 0)
				goto bad;
			json_array_append_new(j, c);
		}
		*out = j;
		return (0);
	case MP_MAP:
		j = json_object();
		for (i = 0; i < v->len; i++) {
			if ((rv = mp_next(r, &k)) != 0)
				goto bad;
			if (k.kind != MP_STR || !mp_text_ok(k.p, k.len)) {
				rv = mp_fail(r, "object key is not a string");
				goto bad;
			}
			if ((rv = mp_next(r, &e)) != 0 ||
			    (rv = mp_obj(r, &e, depth + 1, &c)) != 0)
				goto bad;
			key = xstrndup(k.p, k.len);
			json_object_set_new(j, key, c);
			free(key);
		}
		*out = j;
		return (0);
	default:
		return (
		    mp_fail(r, "binary or extension value inside an object"));
	}
bad:
	json_decref(j);
	return (rv);
}
