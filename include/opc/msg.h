/*
 * msg.h - the envelope and the table-driven codec for every topic.
 *
 * proto/bus.yaml declares every topic and its body fields once.  protogen
 * turns it into msg_gen.h (enum msg_topic, one struct per topic, union
 * msg_body) and msg_gen.c (the field descriptor tables).  common/msg.c
 * encodes and decodes any topic by walking those tables: nothing is
 * hand-copied per topic.
 *
 * Wire form of a frame: topic bytes, one NUL, then a msgpack map (the
 * envelope) with keys v, src, seq, id, ts, topic, corr (optional) and body
 * (a map keyed by field name).  Decoders reject missing or mistyped
 * required fields with a message naming the field, ignore unknown keys, and
 * never crash on any byte string.
 */
#ifndef OPC_MSG_H
#define OPC_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "opc/util.h"

/* Field value types.  C representations:
 *   FT_STR  char *            (NULL = absent)
 *   FT_INT  int64_t
 *   FT_BOOL bool
 *   FT_F64  double            (integers on the wire are accepted)
 *   FT_STRS struct msg_strs
 *   FT_OBJ  json_t *          (any msgpack value; NULL = absent)
 *   FT_BIN  struct msg_bin    (raw bytes)
 *   FT_BINS struct msg_bins   (array of raw byte strings)
 *   FT_REC  struct msg_<rec> * (a record of proto/bus.yaml; NULL = absent)
 *   FT_RECS struct msg_<rec>_list (n records; same layout as msg_recs);
 *           with a key (`key:` in proto/bus.yaml), a map on the wire and
 *           in JSON from each record's key field to its other fields
 *           (with a `value:`, to that one field's value: {key: count})
 *   FT_ENUM enum msg_<enum>   (0 = unset; a string on the wire)
 * An int, bool or f64 declared `optional: true` has a bool has_<name>
 * beside it: absent (not packed, left out of JSON) unless it is set. */
enum msg_ftype {
	FT_STR,
	FT_INT,
	FT_BOOL,
	FT_F64,
	FT_STRS,
	FT_OBJ,
	FT_BIN,
	FT_BINS,
	FT_REC,
	FT_RECS,
	FT_ENUM
};

struct msg_strs {
	size_t n;
	char **v;
};

struct msg_bin {
	size_t len;
	char  *p;
};

struct msg_bins {
	size_t          n;
	struct msg_bin *v;
};

/* Any FT_RECS field: a generated msg_<rec>_list has this layout. */
struct msg_recs {
	size_t n;
	void  *v;
};

struct msg_rec_def;

struct msg_field {
	const char               *name;
	enum msg_ftype            type;
	size_t                    off; /* offsetof in the struct */
	bool                      required;
	const struct msg_rec_def *rec;   /* FT_REC, FT_RECS */
	const char *const        *names; /* FT_ENUM: [1..] named, NULL-ended */
	bool        optional; /* FT_INT/BOOL/F64/STRS/RECS: has_off */
	size_t      has_off;  /* its bool has_<name> */
	const char *key;      /* FT_RECS: a map keyed by this str field */
	const char *value;    /* keyed FT_RECS: each map value is this field */
};

/* A record: a struct declared under `records:` in proto/bus.yaml. */
struct msg_rec_def {
	const char             *name;
	size_t                  size;
	const struct msg_field *fields;
	size_t                  nfields;
	bool                    nulls; /* JSON form: absent fields as null */
};

struct msg_topic_def {
	const char             *name;    /* "task.ready" */
	bool                    durable; /* journaled, carries seq > 0 */
	size_t                  size;    /* sizeof the body struct */
	const struct msg_field *fields;
	size_t                  nfields;
	bool                    retired; /* kept for its name; never decoded */
};

/* Records (the generated msg_<rec>_fini/_to_json/_from_json call these
 * with their msg_rec_<rec> descriptor).  msg_rec_fini releases what rec
 * owns and zeroes it; msg_rec_to_json returns a new JSON object (absent
 * fields left out, enums as their names); msg_rec_from_json fills rec
 * (zeroed first) with the wire decoder's rules, 0 or ERR_PROTO with err
 * set (rec left finalised). */
void    msg_rec_fini(const struct msg_rec_def *, void *rec);
json_t *msg_rec_to_json(const struct msg_rec_def *, const void *rec);
int msg_rec_from_json(const struct msg_rec_def *, void *rec, const json_t *obj,
    char *err, size_t errlen);
/* msg_rec_dumps returns rec's JSON form as compact text in field order
 * (caller frees), NULL for a NULL rec: how a record is kept in a TEXT
 * column or an evidence file. */
char *msg_rec_dumps(const struct msg_rec_def *, const void *rec);
/* msg_rec_new returns a zeroed record of def on the heap (aborts on OOM);
 * msg_rec_free finalises and frees one (NULL-safe). */
void *msg_rec_new(const struct msg_rec_def *);
/* msg_recs_push appends a zeroed record to a list and returns it (the
 * generated msg_<rec>_push). */
void *msg_recs_push(const struct msg_rec_def *, struct msg_recs *);
/* msg_recs_fini finalises every record of a list, frees it and empties it
 * (the generated msg_<rec>_list_fini). */
void msg_recs_fini(const struct msg_rec_def *, struct msg_recs *);
void msg_rec_free(const struct msg_rec_def *, void *rec);

/* Enums: msg_enum_name returns value v's name ("" for 0 or out of range);
 * msg_enum_parse stores the value named s (length n) in *v: 0, or
 * ERR_NOTFOUND when no value has that name. */
const char *msg_enum_name(const char *const *names, int v);
int msg_enum_parse(const char *const *names, const char *s, size_t n, int *v);

#include "msg_gen.h" /* generated: enum msg_topic, bodies, MSG_PROTO_VERSION */

extern const struct msg_topic_def msg_topic_defs[MSG__COUNT];

/* A decoded message.  It owns every string, array and json_t in it;
 * release with msg_fini(). */
struct msg {
	uint32_t       v;
	char          *src;
	uint64_t       seq; /* 0 for volatile messages */
	char          *id;
	int64_t        ts; /* unix ms */
	enum msg_topic topic;
	char          *corr; /* may be NULL */
	union msg_body body;
};

/* The envelope fields of a message being packed; all borrowed. */
struct msg_hdr {
	const char *src;
	uint64_t    seq;
	const char *id;
	int64_t     ts;
	const char *corr;
};

/* msg_topic_lookup returns the topic named name (len bytes) or MSG_NONE. */
enum msg_topic msg_topic_lookup(const char *name, size_t len);
/* msg_topic_name returns the topic's name ("?" for unknown values). */
const char *msg_topic_name(enum msg_topic);

/* msg_pack appends one frame for topic t to out: topic, NUL, envelope.
 * hdr and body (a struct msg_<topic> or NULL for an empty body) are
 * borrowed.  Returns 0, or ERR_INVAL when a required field (at any depth
 * of a record) is absent, an enum holds no named value, an obj field fails
 * msg_obj_ok() or t is not a topic. */
int msg_pack(struct buf *out, enum msg_topic t, const struct msg_hdr *hdr,
    const void *body);
/* msg_obj_ok is true when j (NULL is fine) nests at most 32 arrays or
 * objects, the most a decoder accepts in an obj field. */
bool msg_obj_ok(const json_t *j);
/* msg_encode packs a decoded message again (same as msg_pack). */
int msg_encode(struct buf *out, const struct msg *m);

/* msg_decode parses one frame into m (which it initialises).  On failure
 * returns ERR_PROTO (malformed, missing/mistyped field, topic mismatch),
 * ERR_UNKNOWN (well-formed, unknown topic) or ERR_REFUSED (unsupported
 * protocol version), writes a one-line reason into err, and leaves m
 * finalised (nothing to release). */
int msg_decode(
    struct msg *m, const void *frame, size_t len, char *err, size_t errlen);

/* msg_frame_topic returns the topic prefix of a frame without decoding:
 * *len gets its length.  NULL when the frame has no NUL. */
const char *msg_frame_topic(const void *frame, size_t flen, size_t *len);

/* msg_fini releases everything m owns and zeroes it.  NULL-safe fields. */
void msg_fini(struct msg *m);
/* msg_body_fini releases the owned fields of a body struct of topic t. */
void msg_body_fini(enum msg_topic t, void *body);

/* msg_to_json returns the whole message as a new JSON object {v, src,
 * seq, id, ts, topic, corr, body}.  Binary fields become base64-free
 * {"$bin": <length>} markers (never their content). */
json_t *msg_to_json(const struct msg *m);
/* msg_body_to_json returns a new JSON object of a body of topic t. */
json_t *msg_body_to_json(enum msg_topic t, const void *body);
/* msg_body_from_json fills body (of topic t, zeroed first) from a JSON
 * object, with the same rules as the wire decoder (required fields,
 * types, unknown keys ignored).  Returns 0 or ERR_PROTO with err set; on
 * failure body is left finalised. */
int msg_body_from_json(
    enum msg_topic t, void *body, const json_t *obj, char *err, size_t errlen);

/* Helpers for building bodies: msg_strs_add appends a copy of s;
 * msg_strs_fini frees every string and the list, and empties it;
 * msg_strs_has: s is one of the list's. */
void msg_strs_add(struct msg_strs *, const char *s);
void msg_strs_fini(struct msg_strs *);
bool msg_strs_has(const struct msg_strs *, const char *s);
/* A tally list ({key: count}) from and to its JSON object:
 * msg_tally_add_obj appends each integer member of obj (others are
 * skipped; obj may be NULL); msg_tally_obj returns a new object. */
void    msg_tally_add_obj(struct msg_tally_list *, const json_t *obj);
json_t *msg_tally_obj(const struct msg_tally_list *);

#endif
