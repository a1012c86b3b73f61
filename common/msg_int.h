/*
 * msg_int.h - private to common/msg*.c and common/mp_read.c: the bounded
 * msgpack reader and the helpers the codec files share.
 */
#ifndef OPC_MSG_INT_H
#define OPC_MSG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "opc/msg.h"
#include "opc/util.h"

#define OBJ_MAX_DEPTH 32

enum mp_kind {
	MP_NIL,
	MP_BOOL,
	MP_UINT,
	MP_INT,
	MP_F64,
	MP_STR,
	MP_BIN,
	MP_ARR,
	MP_MAP,
	MP_EXT
};

/* One value header (and the payload of scalars). */
struct mpv {
	enum mp_kind kind;
	bool         b;
	uint64_t     u;
	int64_t      i;
	double       d;
	const char  *p;   /* STR, BIN, EXT payload */
	size_t       len; /* STR/BIN/EXT bytes, ARR/MAP element count */
};

/* A read position; err receives the first failure's reason. */
struct rd {
	const uint8_t *p;
	const uint8_t *end;
	char          *err;
	size_t         errlen;
};

/* mp_fail writes the reason and returns ERR_PROTO. */
int mp_fail(struct rd *r, const char *fmt, ...) PRINTFLIKE(2, 3);
/* mp_next reads one value header, checking every length and count
 * against the bytes left. */
int mp_next(struct rd *r, struct mpv *v);
/* mp_skip skips the rest of a value whose header is v. */
int mp_skip(struct rd *r, const struct mpv *v, int depth);
/* mp_obj converts the value with header v into a new json_t. */
int mp_obj(struct rd *r, const struct mpv *v, int depth, json_t **out);
/* mp_text_ok: valid UTF-8 without NUL (a C string and JSON). */
bool mp_text_ok(const char *p, size_t n);

/* msg_present: whether an optional field is set (and is packed). */
bool msg_present(const struct msg_field *f, const char *base);
/* msg_key_field returns the key field of a keyed FT_RECS field f (in
 * f's record), NULL for a plain list; msg_key_of returns that key's value
 * in record rec. */
const struct msg_field *msg_key_field(const struct msg_field *f);
const char *msg_key_of(const struct msg_field *kf, const char *rec);
/* msg_value_field returns the value field of a keyed FT_RECS field with a
 * `value:` (each map value is that field alone), else NULL. */
const struct msg_field *msg_value_field(const struct msg_field *f);
/* msg_bin_dup copies n bytes (NUL-terminated). */
char *msg_bin_dup(const char *p, size_t n);

#endif
