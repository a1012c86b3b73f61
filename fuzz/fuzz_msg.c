/*
 * fuzz_msg.c - libFuzzer target: the envelope codec (common/msg.c,
 * mp_read.c, msg_pack.c) on arbitrary frames.
 *
 * Oracles, not just "no crash": a rejected frame gets ERR_PROTO,
 * ERR_UNKNOWN or ERR_REFUSED with a reason and nothing left allocated;
 * an accepted one has the frame's topic prefix, re-encodes, decodes
 * again to the same JSON view, and encoding that copy gives the same
 * bytes (the codec reaches a fixpoint after one round).  The JSON bridge
 * (msg_body_from_json, used by `opc pub`) must accept the JSON view of
 * any body without binary fields and give the same body back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opc/err.h"
#include "opc/msg.h"
#include "opc/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                           \
	do {                                                               \
		if (!(c)) {                                                \
			fprintf(stderr, "fuzz_msg: %s:%d: %s\n", __FILE__, \
			    __LINE__, #c);                                 \
			abort();                                           \
		}                                                          \
	} while (0)

static bool
has_bin(enum msg_topic t)
{
	const struct msg_topic_def *d = &msg_topic_defs[t];
	size_t                      i;

	for (i = 0; i < d->nfields; i++)
		if (d->fields[i].type == FT_BIN ||
		    d->fields[i].type == FT_BINS)
			return (true);
	return (false);
}

static bool
same_json(json_t *a, json_t *b)
{
	bool eq = json_equal(a, b);

	if (!eq) {
		char *sa = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
		char *sb = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);

		fprintf(stderr, "fuzz_msg: first  %s\nfuzz_msg: second %s\n",
		    sa ? sa : "(null)", sb ? sb : "(null)");
		free(sa);
		free(sb);
	}
	json_decref(a);
	json_decref(b);
	return (eq);
}

/* bridge: body -> JSON -> body gives the same JSON. */
static void
bridge(const struct msg *m)
{
	union msg_body body;
	json_t        *j = msg_body_to_json(m->topic, &m->body);
	char           err[256];
	int            rv;

	rv = msg_body_from_json(m->topic, &body, j, err, sizeof(err));
	if (rv != 0)
		fprintf(stderr, "fuzz_msg: %s from its JSON view: %s\n",
		    msg_topic_name(m->topic), err);
	CHECK(rv == 0);
	CHECK(same_json(j, msg_body_to_json(m->topic, &body)));
	msg_body_fini(m->topic, &body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg  m, m2;
	struct buf  b, b2;
	const char *t;
	char        err[256];
	size_t      tl = 0;
	int         rv;

	t = msg_frame_topic(data, size, &tl);
	CHECK(t == NULL ||
	    (t == (const char *) data && tl < size && data[tl] == '\0'));
	rv = msg_decode(&m, data, size, err, sizeof(err));
	if (rv != 0) {
		CHECK(
		    rv == ERR_PROTO || rv == ERR_UNKNOWN || rv == ERR_REFUSED);
		CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)));
		CHECK(m.src == NULL && m.id == NULL && m.corr == NULL);
		return (0);
	}
	CHECK(t != NULL && m.topic > MSG_NONE && m.topic < MSG__COUNT);
	CHECK(strlen(msg_topic_name(m.topic)) == tl &&
	    memcmp(msg_topic_name(m.topic), t, tl) == 0);
	CHECK(m.v >= MSG_PROTO_MIN && m.v <= MSG_PROTO_VERSION &&
	    m.src != NULL && m.id != NULL);
	CHECK(msg_topic_defs[m.topic].durable == (m.seq > 0));
	/* an older frame, read: re-encoded it speaks this build's protocol */
	m.v = MSG_PROTO_VERSION;

	buf_init(&b);
	buf_init(&b2);
	CHECK(msg_encode(&b, &m) == 0);
	rv = msg_decode(&m2, b.data, b.len, err, sizeof(err));
	if (rv != 0)
		fprintf(stderr, "fuzz_msg: re-decode: %s\n", err);
	CHECK(rv == 0);
	CHECK(same_json(msg_to_json(&m), msg_to_json(&m2)));
	CHECK(msg_encode(&b2, &m2) == 0);
	CHECK(b.len == b2.len && memcmp(b.data, b2.data, b.len) == 0);
	if (!has_bin(m.topic))
		bridge(&m2);
	buf_fini(&b);
	buf_fini(&b2);
	msg_fini(&m2);
	msg_fini(&m);
	return (0);
}
