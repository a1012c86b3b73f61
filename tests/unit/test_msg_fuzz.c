/*
 * test_msg_fuzz.c - the decoder never crashes, leaks or accepts garbage
 * silently: deterministic mutations (bit flips, truncations, insertions,
 * byte overwrites with msgpack type markers) of valid frames of every
 * topic, plus random bytes.  Whatever decodes must re-encode and decode
 * to the same JSON view.  Bounded in count and in time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "msg_sample.h"
#include "opc/err.h"
#include "opc/msg.h"
#include "opc/util.h"

#define ITERATIONS 300000
#define MAX_SECONDS 60

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return ((uint32_t) (rng >> 11));
}

static const unsigned char markers[] = { 0xc0, 0xc1, 0xc2, 0xc4, 0xc5, 0xc6,
	0xc7, 0xca, 0xcb, 0xcf, 0xd3, 0xd4, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
	0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xff, 0x00, 0x7f };

static void
mutate(struct buf *b)
{
	size_t   pos, n;
	uint32_t op = rnd() % 6;
	int      k, times = 1 + (int) (rnd() % 3);

	for (k = 0; k < times && b->len > 0; k++) {
		pos = rnd() % b->len;
		switch (op) {
		case 0: /* bit flip */
			b->data[pos] ^= (char) (1u << (rnd() % 8));
			break;
		case 1: /* truncate */
			b->len = pos;
			break;
		case 2: /* overwrite with a type marker */
			b->data[pos] = (char) markers[rnd() % sizeof(markers)];
			break;
		case 3: /* insert random bytes */
			n = 1 + rnd() % 8;
			buf_append(b, "\0\0\0\0\0\0\0\0", n);
			memmove(b->data + pos + n, b->data + pos,
			    b->len - n - pos);
			for (size_t i = 0; i < n; i++)
				b->data[pos + i] = (char) rnd();
			break;
		case 4: /* random byte */
			b->data[pos] = (char) rnd();
			break;
		default: /* delete a byte */
			memmove(b->data + pos, b->data + pos + 1,
			    b->len - pos - 1);
			b->len--;
			break;
		}
	}
}

static void
check_reencode(const struct msg *m)
{
	struct buf b;
	struct msg m2;
	json_t    *a, *c;
	char       err[256];

	buf_init(&b);
	assert_int_equal(msg_encode(&b, m), 0);
	assert_int_equal(msg_decode(&m2, b.data, b.len, err, sizeof(err)), 0);
	a = msg_to_json(m);
	c = msg_to_json(&m2);
	assert_true(json_equal(a, c));
	json_decref(a);
	json_decref(c);
	msg_fini(&m2);
	buf_fini(&b);
}

static void
test_mutations(void **state)
{
	struct buf seed, b;
	struct msg m;
	char       err[256];
	int64_t    end = mono_ms() + MAX_SECONDS * 1000;
	long       i, ok = 0, refused = 0, unknown = 0;
	size_t     t;
	int        rv;

	(void) state;
	for (i = 0; i < ITERATIONS && mono_ms() < end; i++) {
		t = 1 + (size_t) rnd() % (MSG__COUNT - 1);
		buf_init(&seed);
		assert_int_equal(
		    sample_frame(&seed, (enum msg_topic) t, rnd() % 4), 0);
		buf_init(&b);
		buf_append(&b, seed.data, seed.len);
		mutate(&b);
		rv = msg_decode(&m, b.data, b.len, err, sizeof(err));
		if (rv == 0) {
			ok++;
			check_reencode(&m);
		} else {
			assert_true(rv == ERR_PROTO || rv == ERR_UNKNOWN ||
			    rv == ERR_REFUSED);
			assert_true(err[0] != '\0');
			assert_null(m.src);
			refused += rv == ERR_PROTO;
			unknown += rv != ERR_PROTO;
		}
		msg_fini(&m);
		buf_fini(&b);
		buf_fini(&seed);
	}
	print_message("%ld mutated frames: %ld decoded, %ld malformed, "
	              "%ld unknown/refused\n",
	    i, ok, refused, unknown);
	assert_true(refused > i / 4); /* the mutations did bite */
	assert_true(ok > 0);          /* and some are harmless */
}

static void
test_random_bytes(void **state)
{
	unsigned char b[512];
	struct msg    m;
	char          err[256];
	long          i;
	size_t        n, k;

	(void) state;
	for (i = 0; i < 100000; i++) {
		n = rnd() % sizeof(b);
		for (k = 0; k < n; k++)
			b[k] = (unsigned char) rnd();
		if (n > 11 && rnd() % 2) /* a plausible prefix */
			memcpy(b, "test.event\0", 11);
		if (msg_decode(&m, b, n, err, sizeof(err)) == 0)
			check_reencode(&m);
		msg_fini(&m);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_random_bytes),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
