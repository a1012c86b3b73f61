/*
 * test_msg.c - the envelope codec: every topic round-trips; required,
 * mistyped, unknown and malformed input is rejected (or ignored) with the
 * documented code and a message naming the problem.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "msg_sample.h"
#include "opc/err.h"
#include "opc/msg.h"
#include "opc/util.h"

static int
wr(void *data, const char *p, size_t n)
{
	buf_append(data, p, n);
	return (0);
}

static void
pk_s(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

/* craft packs an envelope by hand.  skip names an envelope key to leave
 * out; version is v; body_fn packs the body value (a map). */
struct craft {
	const char *topic;     /* frame prefix and envelope topic */
	const char *env_topic; /* when different from topic */
	const char *skip;
	uint32_t    v;
	uint64_t    seq;
	void (*body_fn)(msgpack_packer *, void *);
	void       *arg;
	const char *extra; /* unknown envelope key to add */
};

static void
craft(struct buf *b, const struct craft *c)
{
	msgpack_packer pk;
	int            n = 7 + (c->extra != NULL);

	buf_append(b, c->topic, strlen(c->topic) + 1);
	msgpack_packer_init(&pk, b, wr);
	msgpack_pack_map(&pk, (size_t) (n - (c->skip != NULL)));
	if (!c->skip || strcmp(c->skip, "v")) {
		pk_s(&pk, "v");
		msgpack_pack_uint32(&pk, c->v);
	}
	if (!c->skip || strcmp(c->skip, "src")) {
		pk_s(&pk, "src");
		pk_s(&pk, "x");
	}
	if (!c->skip || strcmp(c->skip, "seq")) {
		pk_s(&pk, "seq");
		msgpack_pack_uint64(&pk, c->seq);
	}
	if (!c->skip || strcmp(c->skip, "id")) {
		pk_s(&pk, "id");
		pk_s(&pk, "x:1");
	}
	if (!c->skip || strcmp(c->skip, "ts")) {
		pk_s(&pk, "ts");
		msgpack_pack_int64(&pk, 5);
	}
	if (c->extra != NULL) {
		pk_s(&pk, c->extra);
		msgpack_pack_array(&pk, 2);
		msgpack_pack_nil(&pk);
		msgpack_pack_map(&pk, 0);
	}
	if (!c->skip || strcmp(c->skip, "topic")) {
		pk_s(&pk, "topic");
		pk_s(&pk, c->env_topic ? c->env_topic : c->topic);
	}
	if (!c->skip || strcmp(c->skip, "body")) {
		pk_s(&pk, "body");
		if (c->body_fn)
			c->body_fn(&pk, c->arg);
		else
			msgpack_pack_map(&pk, 0);
	}
}

static int
decode_buf(struct buf *b, struct msg *m, char *err, size_t errlen)
{
	return (msg_decode(m, b->data, b->len, err, errlen));
}

/* Every topic: pack a sample, decode, compare JSON views, re-encode to
 * the same bytes. */
static void
test_roundtrip_every_topic(void **state)
{
	struct buf a, b;
	struct msg m;
	char       err[256];
	size_t     t;
	unsigned   salt;

	(void) state;
	for (t = 1; t < MSG__COUNT; t++) {
		if (msg_topic_defs[t].retired)
			continue;
		for (salt = 0; salt < 2; salt++) {
			union msg_body body;
			json_t        *want, *got;

			buf_init(&a);
			buf_init(&b);
			assert_int_equal(
			    sample_frame(&a, (enum msg_topic) t, salt), 0);
			assert_int_equal(
			    decode_buf(&a, &m, err, sizeof(err)), 0);
			assert_int_equal(m.topic, t);
			assert_string_equal(m.src, "src");
			assert_int_equal(m.ts, 1700000000000 + salt);
			if (salt % 2)
				assert_string_equal(m.corr, "corr-1");
			else
				assert_null(m.corr);
			sample_body((enum msg_topic) t, &body, salt);
			want = msg_body_to_json((enum msg_topic) t, &body);
			got  = msg_body_to_json(m.topic, &m.body);
			assert_true(json_equal(want, got));
			json_decref(want);
			json_decref(got);
			msg_body_fini((enum msg_topic) t, &body);
			assert_int_equal(msg_encode(&b, &m), 0);
			assert_int_equal(a.len, b.len);
			assert_memory_equal(a.data, b.data, a.len);
			msg_fini(&m);
			buf_fini(&a);
			buf_fini(&b);
		}
	}
}

/* Every required field of every topic: leaving it out is refused on
 * pack and, crafted by hand, on decode, naming the field. */
struct drop {
	enum msg_topic t;
	size_t         skip;
};

static void
body_without(msgpack_packer *pk, void *arg)
{
	struct drop                *d   = arg;
	const struct msg_topic_def *def = &msg_topic_defs[d->t];
	union msg_body              b;
	size_t                      i;

	/* Pack every field but the skipped one, by hand. */
	sample_body(d->t, &b, 3);
	msgpack_pack_map(pk, def->nfields - 1);
	for (i = 0; i < def->nfields; i++) {
		const struct msg_field *f  = &def->fields[i];
		const char             *at = (const char *) &b + f->off;

		if (i == d->skip)
			continue;
		pk_s(pk, f->name);
		switch (f->type) {
		case FT_STR:
			pk_s(pk, *(char *const *) at);
			break;
		case FT_INT:
			msgpack_pack_int64(pk, *(const int64_t *) at);
			break;
		case FT_BOOL:
			msgpack_pack_true(pk);
			break;
		case FT_F64:
			msgpack_pack_double(pk, 1.0);
			break;
		case FT_OBJ:
			msgpack_pack_map(pk, 0);
			break;
		case FT_RECS:
			if (f->key != NULL) {
				msgpack_pack_map(pk, 0);
				break;
			}
			/* FALLTHROUGH */
		case FT_STRS:
		case FT_BINS:
			msgpack_pack_array(pk, 0);
			break;
		case FT_BIN:
			msgpack_pack_bin(pk, 0);
			break;
		case FT_ENUM:
			pk_s(pk, f->names[1]);
			break;
		case FT_REC:
			msgpack_pack_nil(pk); /* an optional record, absent */
			break;
		}
	}
	msg_body_fini(d->t, &b);
}

static void
test_missing_required_fields(void **state)
{
	struct buf b;
	struct msg m;
	char       err[256], want[128];
	size_t     t, i, checked = 0;

	(void) state;
	for (t = 1; t < MSG__COUNT; t++) {
		const struct msg_topic_def *d = &msg_topic_defs[t];

		if (d->retired)
			continue;
		for (i = 0; i < d->nfields; i++) {
			struct drop    dr = { (enum msg_topic) t, i };
			struct craft   c  = { d->name, NULL, NULL,
				   MSG_PROTO_VERSION, d->durable ? 9 : 0,
				   body_without, &dr, NULL };
			union msg_body body;

			if (!d->fields[i].required)
				continue;
			/* pack refuses it */
			sample_body((enum msg_topic) t, &body, 1);
			if (d->fields[i].type == FT_STR ||
			    d->fields[i].type == FT_OBJ) {
				void **p     = (void **) ((char *) &body +
                                    d->fields[i].off);
				void  *saved = *p;

				*p = NULL;
				buf_init(&b);
				struct msg_hdr h = { "s", d->durable ? 1 : 0,
					"i", 1, NULL };
				assert_int_equal(
				    msg_pack(
				        &b, (enum msg_topic) t, &h, &body),
				    ERR_INVAL);
				buf_fini(&b);
				*p = saved;
			}
			msg_body_fini((enum msg_topic) t, &body);
			/* decode refuses it */
			buf_init(&b);
			craft(&b, &c);
			assert_int_equal(
			    decode_buf(&b, &m, err, sizeof(err)), ERR_PROTO);
			snprintf(want, sizeof(want),
			    "missing required field '%s'", d->fields[i].name);
			assert_non_null(strstr(err, want));
			assert_null(m.src); /* finalised on failure */
			buf_fini(&b);
			checked++;
		}
	}
	assert_true(checked > 20);
}

static void
body_test_event(msgpack_packer *pk, void *arg)
{
	const char *variant = arg;

	if (strcmp(variant, "ok+unknown") == 0) {
		msgpack_pack_map(pk, 3);
		pk_s(pk, "future_field");
		msgpack_pack_map(pk, 1);
		pk_s(pk, "deep");
		msgpack_pack_array(pk, 1);
		msgpack_pack_bin(pk, 2);
		msgpack_pack_bin_body(pk, "\x00\x01", 2);
		pk_s(pk, "n");
		msgpack_pack_int64(pk, 42);
		pk_s(pk, "payload");
		pk_s(pk, "hello");
	} else if (strcmp(variant, "n-is-str") == 0) {
		msgpack_pack_map(pk, 1);
		pk_s(pk, "n");
		pk_s(pk, "42");
	} else if (strcmp(variant, "payload-bad-utf8") == 0) {
		msgpack_pack_map(pk, 2);
		pk_s(pk, "n");
		msgpack_pack_int64(pk, 1);
		pk_s(pk, "payload");
		msgpack_pack_str(pk, 2);
		msgpack_pack_str_body(pk, "\xc3\x28", 2);
	} else if (strcmp(variant, "payload-nul") == 0) {
		msgpack_pack_map(pk, 2);
		pk_s(pk, "n");
		msgpack_pack_int64(pk, 1);
		pk_s(pk, "payload");
		msgpack_pack_str(pk, 3);
		msgpack_pack_str_body(pk, "a\0b", 3);
	} else if (strcmp(variant, "dup") == 0) {
		msgpack_pack_map(pk, 2);
		pk_s(pk, "n");
		msgpack_pack_int64(pk, 1);
		pk_s(pk, "n");
		msgpack_pack_int64(pk, 2);
	} else if (strcmp(variant, "uint-too-big") == 0) {
		msgpack_pack_map(pk, 1);
		pk_s(pk, "n");
		msgpack_pack_uint64(pk, UINT64_MAX);
	} else { /* body is an array */
		msgpack_pack_array(pk, 0);
	}
}

/* body_snapshot_v1: observe.snapshot as protocol 1 packed it (an obj:
 * what the worker did not know was nil). */
static void
body_snapshot_v1(msgpack_packer *pk, void *arg)
{
	(void) arg;
	msgpack_pack_map(pk, 4);
	pk_s(pk, "run_id");
	pk_s(pk, "obs-1");
	pk_s(pk, "repo");
	pk_s(pk, "demo");
	pk_s(pk, "observed_at");
	msgpack_pack_int64(pk, 1700000000000);
	pk_s(pk, "snapshot");
	msgpack_pack_map(pk, 4);
	pk_s(pk, "run_id");
	pk_s(pk, "obs-1");
	pk_s(pk, "observer_version");
	msgpack_pack_int(pk, 1);
	pk_s(pk, "coverage");
	msgpack_pack_nil(pk);
	pk_s(pk, "lint");
	msgpack_pack_nil(pk);
}

/* A frame of the oldest protocol this build reads (MSG_PROTO_MIN) is
 * read, so the journals written before an upgrade are consumed after
 * it: protocol 1's observe.snapshot with its nils among them.  Older
 * and newer are refused, naming the versions. */
static void
test_older_protocol(void **state)
{
	struct craft c = { "observe.snapshot", NULL, NULL, MSG_PROTO_MIN, 7,
		body_snapshot_v1, NULL, NULL };
	struct buf   b;
	struct msg   m;
	char         err[256];

	(void) state;
	buf_init(&b);
	craft(&b, &c);
	if (decode_buf(&b, &m, err, sizeof(err)) != 0)
		fail_msg("protocol %d frame refused: %s", MSG_PROTO_MIN, err);
	assert_int_equal(m.v, MSG_PROTO_MIN);
	assert_int_equal(m.seq, 7);
	assert_string_equal(m.body.observe_snapshot.repo, "demo");
	assert_non_null(m.body.observe_snapshot.snapshot);
	assert_string_equal(m.body.observe_snapshot.snapshot->run_id, "obs-1");
	assert_null(m.body.observe_snapshot.snapshot->coverage);
	msg_fini(&m);
	buf_fini(&b);
	c.v = MSG_PROTO_MIN - 1;
	buf_init(&b);
	craft(&b, &c);
	assert_int_equal(decode_buf(&b, &m, err, sizeof(err)), ERR_REFUSED);
	assert_non_null(strstr(err, "reads"));
	buf_fini(&b);
}

static int
decode_variant(const char *variant, struct msg *m, char *err, size_t len)
{
	struct craft c = { "test.event", NULL, NULL, MSG_PROTO_VERSION, 1,
		body_test_event, (void *) variant, "future_envelope_key" };
	struct buf   b;
	int          rv;

	buf_init(&b);
	craft(&b, &c);
	rv = decode_buf(&b, m, err, len);
	buf_fini(&b);
	return (rv);
}

static void
test_unknown_fields_ignored_and_bad_types(void **state)
{
	struct msg m;
	char       err[256];

	(void) state;
	assert_int_equal(
	    decode_variant("ok+unknown", &m, err, sizeof(err)), 0);
	assert_int_equal(m.body.test_event.n, 42);
	assert_string_equal(m.body.test_event.payload, "hello");
	msg_fini(&m);

	assert_int_equal(
	    decode_variant("n-is-str", &m, err, sizeof(err)), ERR_PROTO);
	assert_non_null(strstr(err, "field 'n' has the wrong type"));
	assert_int_equal(
	    decode_variant("payload-bad-utf8", &m, err, sizeof(err)),
	    ERR_PROTO);
	assert_non_null(strstr(err, "UTF-8"));
	assert_int_equal(
	    decode_variant("payload-nul", &m, err, sizeof(err)), ERR_PROTO);
	assert_int_equal(
	    decode_variant("dup", &m, err, sizeof(err)), ERR_PROTO);
	assert_non_null(strstr(err, "duplicate field 'n'"));
	assert_int_equal(
	    decode_variant("uint-too-big", &m, err, sizeof(err)), ERR_PROTO);
	assert_int_equal(
	    decode_variant("array", &m, err, sizeof(err)), ERR_PROTO);
	assert_non_null(strstr(err, "not a map"));
}

static void
test_envelope_errors(void **state)
{
	static const char *const keys[] = { "v", "src", "seq", "id", "ts",
		"topic", "body" };
	struct craft             c;
	struct buf               b;
	struct msg               m;
	char                     err[256], want[64];
	size_t                   i;

	(void) state;
	/* each mandatory envelope key */
	for (i = 0; i < nitems(keys); i++) {
		memset(&c, 0, sizeof(c));
		c.topic = "ctl.status";
		c.v     = MSG_PROTO_VERSION;
		c.skip  = keys[i];
		buf_init(&b);
		craft(&b, &c);
		assert_int_equal(
		    decode_buf(&b, &m, err, sizeof(err)), ERR_PROTO);
		snprintf(want, sizeof(want), "missing '%s'", keys[i]);
		assert_non_null(strstr(err, want));
		buf_fini(&b);
	}
	memset(&c, 0, sizeof(c));
	c.topic = "ctl.status";
	/* version */
	c.v = MSG_PROTO_VERSION + 1;
	buf_init(&b);
	craft(&b, &c);
	assert_int_equal(decode_buf(&b, &m, err, sizeof(err)), ERR_REFUSED);
	assert_non_null(strstr(err, "version"));
	buf_fini(&b);
	c.v = MSG_PROTO_VERSION;
	/* unknown topic: well-formed but unknown */
	c.topic = "no.such.topic";
	buf_init(&b);
	craft(&b, &c);
	assert_int_equal(decode_buf(&b, &m, err, sizeof(err)), ERR_UNKNOWN);
	assert_non_null(strstr(err, "unknown topic 'no.such.topic'"));
	buf_fini(&b);
	/* frame prefix and envelope disagree */
	c.topic     = "ctl.status";
	c.env_topic = "ctl.shutdown";
	buf_init(&b);
	craft(&b, &c);
	assert_int_equal(decode_buf(&b, &m, err, sizeof(err)), ERR_PROTO);
	assert_non_null(strstr(err, "does not match"));
	buf_fini(&b);
	c.env_topic = NULL;
	/* a seq on a volatile topic, none on a durable one */
	c.seq = 3;
	buf_init(&b);
	craft(&b, &c);
	assert_int_equal(decode_buf(&b, &m, err, sizeof(err)), ERR_PROTO);
	buf_fini(&b);
	c.topic = "bus.data_loss";
	c.seq   = 0;
	buf_init(&b);
	craft(&b, &c);
	assert_int_equal(decode_buf(&b, &m, err, sizeof(err)), ERR_PROTO);
	assert_non_null(strstr(err, "must have a seq"));
	buf_fini(&b);
	/* trailing garbage after a valid envelope */
	c.topic = "ctl.status";
	buf_init(&b);
	craft(&b, &c);
	buf_append(&b, "\x01", 1);
	assert_int_equal(decode_buf(&b, &m, err, sizeof(err)), ERR_PROTO);
	assert_non_null(strstr(err, "trailing"));
	buf_fini(&b);
	/* no NUL at all, empty, NULL */
	assert_int_equal(
	    msg_decode(&m, "abc", 3, err, sizeof(err)), ERR_PROTO);
	assert_int_equal(msg_decode(&m, "", 0, err, sizeof(err)), ERR_PROTO);
	assert_int_equal(msg_decode(&m, NULL, 0, err, sizeof(err)), ERR_PROTO);
}

/* Headers that claim far more elements than the input holds are refused
 * before anything is allocated (msgpack-c would try gigabytes). */
static void
test_huge_counts_and_depth(void **state)
{
	static const unsigned char arr32[] =
	    "test.event\0\xdd\xff\xff\xff\xff";
	static const unsigned char map32[] =
	    "test.event\0\xdf\x7f\xff\xff\xff";
	static const unsigned char str32[] =
	    "test.event\0\xdb\xff\xff\xff\xf0";
	struct craft c;
	struct buf   b;
	struct msg   m;
	char         err[256];
	int          i;

	(void) state;
	assert_int_equal(
	    msg_decode(&m, arr32, sizeof(arr32) - 1, err, sizeof(err)),
	    ERR_PROTO);
	assert_int_equal(
	    msg_decode(&m, map32, sizeof(map32) - 1, err, sizeof(err)),
	    ERR_PROTO);
	assert_non_null(strstr(err, "exceeds input"));
	assert_int_equal(
	    msg_decode(&m, str32, sizeof(str32) - 1, err, sizeof(err)),
	    ERR_PROTO);
	assert_non_null(strstr(err, "truncated"));

	/* an obj field nested 100 deep */
	memset(&c, 0, sizeof(c));
	c.topic = "ctl.reply";
	c.v     = MSG_PROTO_VERSION;
	buf_init(&b);
	craft(&b, &c);
	b.len -= 1; /* drop the empty body map, write our own */
	{
		msgpack_packer pk;

		msgpack_packer_init(&pk, &b, wr);
		msgpack_pack_map(&pk, 2);
		pk_s(&pk, "ok");
		msgpack_pack_true(&pk);
		pk_s(&pk, "data");
		for (i = 0; i < 100; i++)
			msgpack_pack_array(&pk, 1);
		msgpack_pack_nil(&pk);
	}
	assert_int_equal(decode_buf(&b, &m, err, sizeof(err)), ERR_PROTO);
	assert_non_null(strstr(err, "deeper"));
	buf_fini(&b);
}

/* Producers can't journal what consumers would reject: invalid UTF-8 in
 * a string field is replaced on pack. */
static void
test_pack_sanitizes_text(void **state)
{
	struct msg_test_event ev = { .n = 7,
		.payload                = "ok\xff\xfe"
		                          "bad\xc3" };
	struct msg_hdr        h  = { "s", 1, "s:1", 1, NULL };
	struct buf            b;
	struct msg            m;
	char                  err[256];

	(void) state;
	buf_init(&b);
	assert_int_equal(msg_pack(&b, MSG_TEST_EVENT, &h, &ev), 0);
	assert_int_equal(decode_buf(&b, &m, err, sizeof(err)), 0);
	assert_string_equal(m.body.test_event.payload,
	    "ok\xef\xbf\xbd\xef\xbf\xbd"
	    "bad\xef\xbf\xbd");
	msg_fini(&m);
	buf_fini(&b);
	assert_int_equal(msg_pack(&b, MSG_NONE, &h, NULL), ERR_INVAL);
	assert_int_equal(msg_pack(&b, MSG__COUNT, &h, NULL), ERR_INVAL);
	/* required field with a NULL body */
	assert_int_equal(msg_pack(&b, MSG_TEST_EVENT, &h, NULL), ERR_INVAL);
}

static void
test_json_bridge(void **state)
{
	union msg_body b;
	json_t        *j, *back;
	char           err[256];
	size_t         t;

	(void) state;
	/* to_json and from_json agree for every topic without binary */
	for (t = 1; t < MSG__COUNT; t++) {
		const struct msg_topic_def *d       = &msg_topic_defs[t];
		bool                        has_bin = false;
		size_t                      i;

		for (i = 0; i < d->nfields; i++)
			has_bin |= d->fields[i].type == FT_BIN ||
			    d->fields[i].type == FT_BINS;
		if (has_bin || d->retired)
			continue;
		sample_body((enum msg_topic) t, &b, 4);
		j = msg_body_to_json((enum msg_topic) t, &b);
		msg_body_fini((enum msg_topic) t, &b);
		assert_int_equal(msg_body_from_json((enum msg_topic) t, &b, j,
		                     err, sizeof(err)),
		    0);
		back = msg_body_to_json((enum msg_topic) t, &b);
		assert_true(json_equal(j, back));
		json_decref(back);
		json_decref(j);
		msg_body_fini((enum msg_topic) t, &b);
	}
	/* errors */
	j = json_pack("{s:s}", "n", "x");
	assert_int_equal(
	    msg_body_from_json(MSG_TEST_EVENT, &b, j, err, sizeof(err)),
	    ERR_PROTO);
	assert_non_null(strstr(err, "'n'"));
	json_decref(j);
	j = json_pack("{s:i, s:i}", "n", 1, "unknown", 2);
	assert_int_equal(
	    msg_body_from_json(MSG_TEST_EVENT, &b, j, err, sizeof(err)), 0);
	assert_int_equal(b.test_event.n, 1);
	msg_body_fini(MSG_TEST_EVENT, &b);
	json_decref(j);
	j = json_array();
	assert_int_equal(
	    msg_body_from_json(MSG_TEST_EVENT, &b, j, err, sizeof(err)),
	    ERR_PROTO);
	json_decref(j);
	/* binary content never shows in JSON */
	{
		struct msg_ctl_replay_batch rb;
		struct msg_bin              one = { 4, "\x01sec" };

		memset(&rb, 0, sizeof(rb));
		rb.frames.n = 1;
		rb.frames.v = &one;
		j           = msg_body_to_json(MSG_CTL_REPLAY_BATCH, &rb);
		assert_int_equal(
		    json_integer_value(json_object_get(
		        json_array_get(json_object_get(j, "frames"), 0),
		        "$bin")),
		    4);
		json_decref(j);
	}
}

/* Records: a nested record, a list of records and an enum survive pack,
 * decode and JSON; on the wire a record is a map with its fields' names
 * (what an obj field of the same keys reads); an unknown enum name or a
 * nested record without its required field is refused, naming it. */
static void
rec_body(msgpack_packer *pk, void *arg)
{
	const char *level = arg;

	msgpack_pack_map(pk, 2);
	pk_s(pk, "n");
	msgpack_pack_int64(pk, 1);
	pk_s(pk, "group");
	msgpack_pack_map(pk, 1);
	pk_s(pk, "items");
	msgpack_pack_array(pk, 1);
	if (level != NULL) { /* an item with key "k" and this level */
		msgpack_pack_map(pk, 2);
		pk_s(pk, "key");
		pk_s(pk, "k");
		pk_s(pk, "level");
		pk_s(pk, level);
	} else { /* an item without its required key */
		msgpack_pack_map(pk, 1);
		pk_s(pk, "count");
		msgpack_pack_int64(pk, 3);
	}
}

static void
test_records(void **state)
{
	struct msg_test_event ev = { .n = 9 };
	struct msg_test_group g;
	struct msg_test_item  items[2];
	struct msg_hdr        h = { "s", 1, "s:1", 1, NULL };
	struct craft          c = { .topic = "test.event",
		         .v                = MSG_PROTO_VERSION,
		         .seq              = 1,
		         .body_fn          = rec_body };
	struct buf            b;
	struct msg            m;
	json_t               *j, *want;
	char                  err[256];

	(void) state;
	memset(&g, 0, sizeof(g));
	memset(items, 0, sizeof(items));
	items[0].key       = "a";
	items[0].count     = 2;
	items[0].level     = MSG_TEST_LEVEL_VERY_HIGH;
	items[1].key       = "b";
	items[1].has_limit = true; /* an optional 0 is present */
	items[1].has_ok    = true;
	g.items.n          = 2;
	g.items.v          = items;
	ev.group           = &g;
	buf_init(&b);
	assert_int_equal(msg_pack(&b, MSG_TEST_EVENT, &h, &ev), 0);
	assert_int_equal(decode_buf(&b, &m, err, sizeof(err)), 0);
	assert_non_null(m.body.test_event.group);
	assert_null(m.body.test_event.group->head);
	assert_int_equal(m.body.test_event.group->items.n, 2);
	assert_string_equal(m.body.test_event.group->items.v[0].key, "a");
	assert_int_equal(m.body.test_event.group->items.v[0].count, 2);
	assert_int_equal(m.body.test_event.group->items.v[0].level,
	    MSG_TEST_LEVEL_VERY_HIGH);
	assert_int_equal(
	    m.body.test_event.group->items.v[1].level, MSG_TEST_LEVEL__UNSET);
	/* optional scalars: absent stays absent, a set 0/false is present */
	assert_false(m.body.test_event.group->items.v[0].has_limit);
	assert_false(m.body.test_event.group->items.v[0].has_ok);
	assert_true(m.body.test_event.group->items.v[1].has_limit);
	assert_int_equal(m.body.test_event.group->items.v[1].limit, 0);
	assert_true(m.body.test_event.group->items.v[1].has_ok);
	/* JSON: enums by name, an absent record or enum left out (ints are
	 * always present, as in topics); from_json agrees */
	j    = msg_test_group_to_json(m.body.test_event.group);
	want = json_pack("{s:[{s:s, s:i, s:s}, {s:s, s:i, s:i, s:b}]}",
	    "items", "key", "a", "count", 2, "level", "very high", "key", "b",
	    "count", 0, "limit", 0, "ok", 0);
	assert_true(json_equal(j, want));
	json_decref(want);
	{
		struct msg_test_group back;

		assert_int_equal(
		    msg_test_group_from_json(&back, j, err, sizeof(err)), 0);
		want = msg_test_group_to_json(&back);
		assert_true(json_equal(j, want));
		json_decref(want);
		msg_test_group_fini(&back);
	}
	/* the same bytes read as an obj field give the same JSON */
	want = msg_body_to_json(MSG_TEST_EVENT, &m.body);
	assert_true(json_equal(json_object_get(want, "group"), j));
	json_decref(want);
	json_decref(j);
	msg_fini(&m);
	buf_reset(&b);

	/* pack refuses a nested record without its required key and an enum
	 * value that has no name */
	items[1].key = NULL;
	assert_int_equal(msg_pack(&b, MSG_TEST_EVENT, &h, &ev), ERR_INVAL);
	items[1].key   = "b";
	items[0].level = (enum msg_test_level) 77;
	assert_int_equal(msg_pack(&b, MSG_TEST_EVENT, &h, &ev), ERR_INVAL);
	buf_reset(&b);

	/* decode: a known name, an unknown one, a missing required key */
	c.arg = "low";
	craft(&b, &c);
	assert_int_equal(decode_buf(&b, &m, err, sizeof(err)), 0);
	assert_int_equal(
	    m.body.test_event.group->items.v[0].level, MSG_TEST_LEVEL_LOW);
	msg_fini(&m);
	buf_reset(&b);
	c.arg = "medium";
	craft(&b, &c);
	assert_int_equal(decode_buf(&b, &m, err, sizeof(err)), ERR_PROTO);
	assert_non_null(strstr(err, "level"));
	buf_reset(&b);
	c.arg = NULL;
	craft(&b, &c);
	assert_int_equal(decode_buf(&b, &m, err, sizeof(err)), ERR_PROTO);
	assert_non_null(strstr(err, "key"));
	buf_fini(&b);

	/* from_json: the same rules */
	{
		struct msg_test_item it;

		j = json_pack("{s:s, s:s}", "key", "x", "level", "loud");
		assert_int_equal(
		    msg_test_item_from_json(&it, j, err, sizeof(err)),
		    ERR_PROTO);
		assert_non_null(strstr(err, "level"));
		json_decref(j);
		j = json_pack("{s:i}", "count", 1);
		assert_int_equal(
		    msg_test_item_from_json(&it, j, err, sizeof(err)),
		    ERR_PROTO);
		assert_non_null(strstr(err, "key"));
		json_decref(j);
		/* null is absent; a value sets has_ */
		j = json_pack("{s:s, s:n, s:b}", "key", "x", "limit", "ok", 1);
		assert_int_equal(
		    msg_test_item_from_json(&it, j, err, sizeof(err)), 0);
		assert_false(it.has_limit);
		assert_true(it.has_ok && it.ok);
		msg_test_item_fini(&it);
		json_decref(j);
	}
	/* enum names both ways */
	{
		enum msg_test_level lv;

		assert_string_equal(
		    msg_test_level_name(MSG_TEST_LEVEL_VERY_HIGH),
		    "very high");
		assert_string_equal(
		    msg_test_level_name(MSG_TEST_LEVEL__UNSET), "");
		assert_int_equal(msg_test_level_parse("low", &lv), 0);
		assert_int_equal(lv, MSG_TEST_LEVEL_LOW);
		assert_int_equal(
		    msg_test_level_parse("Low", &lv), ERR_NOTFOUND);
	}
}

/* keyed_body: a test.event whose group.index is a map with keys k1 and
 * k2 (arg "dup": k1 twice; "arr": an array, as an unkeyed list is). */
static void
keyed_body(msgpack_packer *pk, void *arg)
{
	const char *how = arg;

	msgpack_pack_map(pk, 2);
	pk_s(pk, "n");
	msgpack_pack_int64(pk, 1);
	pk_s(pk, "group");
	msgpack_pack_map(pk, 1);
	pk_s(pk, "index");
	if (strcmp(how, "arr") == 0) {
		msgpack_pack_array(pk, 0);
		return;
	}
	msgpack_pack_map(pk, 2);
	pk_s(pk, "k1");
	msgpack_pack_map(pk, 1);
	pk_s(pk, "count");
	msgpack_pack_int64(pk, 1);
	pk_s(pk, strcmp(how, "dup") == 0 ? "k1" : "k2");
	msgpack_pack_map(pk, 0);
}

/* A keyed list (`key:`): a map from each record's key to the rest of it,
 * on the wire and in JSON, the bytes an obj of that shape makes; its key
 * is required, once per list; an optional list is absent until set. */
static void
test_keyed_records(void **state)
{
	struct msg_test_event  ev = { .n = 1 };
	struct msg_test_group  g, back;
	struct msg_test_entry *e;
	struct msg_hdr         h = { "s", 1, "s:1", 1, NULL };
	struct craft           c = { .topic = "test.event",
		          .v                = MSG_PROTO_VERSION,
		          .seq              = 1,
		          .body_fn          = keyed_body };
	struct buf             b;
	struct msg             m;
	json_t                *j, *want;
	char                   err[256];

	(void) state;
	memset(&g, 0, sizeof(g));
	ev.group = &g;
	buf_init(&b);
	/* absent unless set; set and empty is an empty map */
	assert_int_equal(msg_pack(&b, MSG_TEST_EVENT, &h, &ev), 0);
	assert_int_equal(decode_buf(&b, &m, err, sizeof(err)), 0);
	assert_false(m.body.test_event.group->has_index);
	msg_fini(&m);
	buf_reset(&b);
	g.has_index = true;
	assert_int_equal(msg_pack(&b, MSG_TEST_EVENT, &h, &ev), 0);
	assert_int_equal(decode_buf(&b, &m, err, sizeof(err)), 0);
	assert_true(m.body.test_event.group->has_index);
	assert_int_equal(m.body.test_event.group->index.n, 0);
	msg_fini(&m);
	buf_reset(&b);

	e        = msg_test_entry_push(&g.index);
	e->name  = xstrdup("k1");
	e->count = 1;
	e        = msg_test_entry_push(&g.index);
	e->name  = xstrdup("k2");
	assert_int_equal(msg_pack(&b, MSG_TEST_EVENT, &h, &ev), 0);
	assert_int_equal(decode_buf(&b, &m, err, sizeof(err)), 0);
	assert_int_equal(m.body.test_event.group->index.n, 2);
	assert_string_equal(m.body.test_event.group->index.v[0].name, "k1");
	assert_int_equal(m.body.test_event.group->index.v[0].count, 1);
	assert_string_equal(m.body.test_event.group->index.v[1].name, "k2");
	j    = msg_test_group_to_json(m.body.test_event.group);
	want = json_pack("{s:[], s:{s:{s:i}, s:{s:i}}}", "items", "index",
	    "k1", "count", 1, "k2", "count", 0);
	assert_true(json_equal(j, want));
	json_decref(want);
	assert_int_equal(
	    msg_test_group_from_json(&back, j, err, sizeof(err)), 0);
	assert_true(back.has_index);
	assert_int_equal(back.index.n, 2);
	assert_string_equal(back.index.v[1].name, "k2");
	msg_test_group_fini(&back);
	json_decref(j);
	msg_fini(&m);
	buf_reset(&b);

	/* the same bytes as the craft of a map by hand */
	c.arg = "ok";
	craft(&b, &c);
	assert_int_equal(decode_buf(&b, &m, err, sizeof(err)), 0);
	assert_string_equal(m.body.test_event.group->index.v[1].name, "k2");
	msg_fini(&m);
	buf_reset(&b);

	/* pack refuses a record without its key, and a key twice */
	free(g.index.v[1].name);
	g.index.v[1].name = NULL;
	assert_int_equal(msg_pack(&b, MSG_TEST_EVENT, &h, &ev), ERR_INVAL);
	g.index.v[1].name = xstrdup("k1");
	assert_int_equal(msg_pack(&b, MSG_TEST_EVENT, &h, &ev), ERR_INVAL);
	msg_test_entry_list_fini(&g.index);
	assert_int_equal(g.index.n, 0);
	buf_reset(&b);

	/* decode refuses a key twice and a list where the map goes */
	c.arg = "dup";
	craft(&b, &c);
	assert_int_equal(decode_buf(&b, &m, err, sizeof(err)), ERR_PROTO);
	assert_non_null(strstr(err, "duplicate key 'k1'"));
	buf_reset(&b);
	c.arg = "arr";
	craft(&b, &c);
	assert_int_equal(decode_buf(&b, &m, err, sizeof(err)), ERR_PROTO);
	assert_non_null(strstr(err, "index"));
	buf_fini(&b);

	/* from_json: a value that is not an object names the key */
	j = json_pack("{s:{s:i}}", "index", "k9", 3);
	assert_int_equal(
	    msg_test_group_from_json(&back, j, err, sizeof(err)), ERR_PROTO);
	assert_non_null(strstr(err, "k9"));
	json_decref(j);
}

/* observe.snapshot carries an obs_snapshot record: members survive the
 * wire and JSON both ways, its JSON form says null where unknown (the
 * retained report's shape), a keyed list with a value: is {key: count},
 * bad input is refused naming the field, and a protocol 1 frame is
 * refused as another version. */
static void
test_obs_snapshot(void **state)
{
	struct msg_observe_snapshot    ev;
	struct msg_obs_snapshot        snap, back;
	struct msg_obs_deps            deps;
	struct msg_obs_tool            lint;
	struct msg_obs_count          *cnt;
	struct msg_tally              *t;
	struct msg_hdr                 h = { "s", 1, "s:1", 1, NULL };
	struct craft                   c = { .topic = "test.event",
		                  .v                = 1,
		                  .seq              = 1,
		                  .body_fn          = keyed_body,
		                  .arg              = "ok" };
	struct buf                     b;
	struct msg                     m;
	const struct msg_obs_snapshot *s;
	json_t                        *j;
	char                           err[256];

	(void) state;
	memset(&ev, 0, sizeof(ev));
	memset(&snap, 0, sizeof(snap));
	memset(&deps, 0, sizeof(deps));
	memset(&lint, 0, sizeof(lint));
	snap.observer_version = 1;
	snap.run_id           = "obs_1";
	snap.observed_at      = 1700000000000;
	snap.lint             = &lint;
	snap.dependencies     = &deps;
	lint.status           = xstrdup("violations");
	lint.count            = 3;
	cnt                   = msg_obs_count_push(&lint.top_files);
	cnt->path             = xstrdup("a.py");
	cnt->count            = 3;
	deps.status           = xstrdup("drift");
	t                     = msg_tally_push(&deps.counts);
	t->key                = xstrdup("missing");
	t->count              = 2;
	t                     = msg_tally_push(&deps.counts);
	t->key                = xstrdup("ok");
	t->count              = 5;
	ev.run_id             = "obs_1";
	ev.repo               = "demo";
	ev.snapshot           = &snap;
	buf_init(&b);
	assert_int_equal(msg_pack(&b, MSG_OBSERVE_SNAPSHOT, &h, &ev), 0);
	assert_int_equal(decode_buf(&b, &m, err, sizeof(err)), 0);
	s = m.body.observe_snapshot.snapshot;
	assert_non_null(s);
	assert_string_equal(s->run_id, "obs_1");
	assert_int_equal(s->lint->count, 3);
	assert_string_equal(s->lint->top_files.v[0].path, "a.py");
	assert_null(s->repo);
	assert_int_equal(s->dependencies->counts.n, 2);
	assert_string_equal(s->dependencies->counts.v[1].key, "ok");
	assert_int_equal(s->dependencies->counts.v[1].count, 5);

	/* JSON: every key, null where unknown; counts a map of numbers */
	j = msg_obs_snapshot_to_json(s);
	assert_true(json_is_null(json_object_get(j, "repo")));
	assert_true(json_is_null(
	    json_object_get(json_object_get(j, "lint"), "source")));
	assert_int_equal(
	    json_integer_value(json_object_get(
	        json_object_get(json_object_get(j, "dependencies"), "counts"),
	        "missing")),
	    2);
	assert_int_equal(
	    msg_obs_snapshot_from_json(&back, j, err, sizeof(err)), 0);
	assert_int_equal(back.dependencies->counts.v[0].count, 2);
	assert_string_equal(back.dependencies->counts.v[0].key, "missing");
	assert_null(back.coverage);
	msg_obs_snapshot_fini(&back);

	/* bad input names the field */
	json_object_set_new(
	    json_object_get(json_object_get(j, "dependencies"), "counts"),
	    "ok", json_string("five"));
	assert_int_equal(
	    msg_obs_snapshot_from_json(&back, j, err, sizeof(err)), ERR_PROTO);
	assert_non_null(strstr(err, "field 'counts'['ok'] is not an integer"));
	json_object_del(j, "run_id");
	assert_int_equal(
	    msg_obs_snapshot_from_json(&back, j, err, sizeof(err)), ERR_PROTO);
	assert_non_null(strstr(err, "run_id"));
	json_decref(j);
	msg_fini(&m);
	buf_reset(&b);

	/* a protocol 1 frame is read (test_older_protocol); a newer
	 * protocol than ours is refused, saying so */
	c.v = MSG_PROTO_VERSION + 1;
	craft(&b, &c);
	assert_int_equal(decode_buf(&b, &m, err, sizeof(err)), ERR_REFUSED);
	assert_non_null(strstr(err, "not supported (this build speaks"));
	buf_fini(&b);
	msg_obs_tool_fini(&lint);
	msg_obs_deps_fini(&deps);
}

/* a tally from the JSON object a counter builds and back: integer
 * members kept in order, others skipped, NULL is empty; on the wire a
 * review.feedback's patterns are the {key: count} map an obj made */
static void
test_tally_obj(void **state)
{
	struct msg_tally_list l = { 0 };
	struct msg            m, back;
	struct buf            b = { 0 };
	json_t *in = json_pack("{s:i, s:s, s:i}", "style", 2, "bad", "x",
	           "missing_tests", 1),
	       *out;
	char err[128];

	(void) state;
	msg_tally_add_obj(&l, NULL);
	assert_int_equal(l.n, 0);
	msg_tally_add_obj(&l, in);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].key, "style");
	assert_int_equal(l.v[1].count, 1);
	out = msg_tally_obj(&l);
	json_object_del(in, "bad");
	assert_true(json_equal(in, out));
	json_decref(out);

	memset(&m, 0, sizeof(m));
	m.v                             = MSG_PROTO_VERSION;
	m.src                           = "x";
	m.seq                           = 1;
	m.id                            = "x:1";
	m.ts                            = 5;
	m.topic                         = MSG_REVIEW_FEEDBACK;
	m.body.review_feedback.task_id  = "t1";
	m.body.review_feedback.patterns = l;
	assert_int_equal(msg_encode(&b, &m), 0);
	assert_int_equal(decode_buf(&b, &back, err, sizeof(err)), 0);
	out = msg_tally_obj(&back.body.review_feedback.patterns);
	assert_true(json_equal(in, out));
	json_decref(out);
	msg_fini(&back);
	buf_fini(&b);
	msg_tally_list_fini(&l);
	json_decref(in);
}

static void
test_topic_names(void **state)
{
	(void) state;
	assert_int_equal(msg_topic_lookup("task.ready", 10), MSG_TASK_READY);
	assert_int_equal(msg_topic_lookup("task.read", 9), MSG_NONE);
	assert_int_equal(msg_topic_lookup("", 0), MSG_NONE);
	assert_string_equal(msg_topic_name(MSG_TASK_READY), "task.ready");
	assert_string_equal(msg_topic_name(MSG__COUNT), "?");
	assert_string_equal(msg_topic_name((enum msg_topic) - 3), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_every_topic),
		cmocka_unit_test(test_missing_required_fields),
		cmocka_unit_test(test_unknown_fields_ignored_and_bad_types),
		cmocka_unit_test(test_envelope_errors),
		cmocka_unit_test(test_huge_counts_and_depth),
		cmocka_unit_test(test_pack_sanitizes_text),
		cmocka_unit_test(test_json_bridge),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_keyed_records),
		cmocka_unit_test(test_obs_snapshot),
		cmocka_unit_test(test_older_protocol),
		cmocka_unit_test(test_tally_obj),
		cmocka_unit_test(test_topic_names),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
