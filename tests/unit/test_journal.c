/*
 * test_journal.c - journal and cursors on a real sqlite store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "opc/err.h"
#include "opc/journal.h"
#include "opc/log.h"
#include "opc/store.h"

struct seen {
	uint64_t seqs[64];
	size_t   n;
};

static int
collect(void *arg, uint64_t seq, const void *frame, size_t len)
{
	struct seen *s = arg;
	struct msg   m;
	char         err[128];

	assert_int_equal(msg_decode(&m, frame, len, err, sizeof(err)), 0);
	assert_int_equal(m.seq, seq);
	assert_string_equal(m.src, "p@h");
	assert_int_equal(m.body.test_event.n, (int64_t) seq * 10);
	msg_fini(&m);
	s->seqs[s->n++] = seq;
	return (0);
}

static void
append_n(struct store *s, struct journal *j, int n)
{
	struct msg_test_event ev;
	struct buf            b;
	int                   i;

	buf_init(&b);
	assert_int_equal(store_begin(s), 0);
	for (i = 0; i < n; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.n = (int64_t) (journal_last_seq(j) + 1) * 10;
		assert_int_equal(
		    journal_append(j, MSG_TEST_EVENT, "corr-1", &ev, &b), 0);
	}
	assert_int_equal(store_commit(s), 0);
	buf_fini(&b);
}

static void
test_append_read_trim(void **state)
{
	struct store         *s;
	struct journal       *j;
	struct seen           seen;
	struct buf            b;
	struct msg_test_event ev = { .n = 1 };

	UNUSED(state);
	assert_int_equal(store_open(&s, ":memory:"), 0);
	assert_int_equal(journal_open(&j, s, "p@h"), 0);
	assert_int_equal(journal_last_seq(j), 0);
	assert_int_equal(journal_first_seq(j), 1);
	buf_init(&b);
	/* Outside a transaction an append is refused. */
	assert_int_equal(
	    journal_append(j, MSG_TEST_EVENT, NULL, &ev, &b), ERR_STATE);
	assert_int_equal(b.len, 0);
	buf_fini(&b);

	append_n(s, j, 20);
	assert_int_equal(journal_last_seq(j), 20);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(journal_read(j, 5, 3, 1 << 20, collect, &seen), 0);
	assert_int_equal(seen.n, 3);
	assert_int_equal(seen.seqs[0], 5);
	assert_int_equal(seen.seqs[2], 7);
	/* A byte limit smaller than one frame still yields one event. */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(journal_read(j, 1, 50, 1, collect, &seen), 0);
	assert_int_equal(seen.n, 1);

	assert_int_equal(journal_trim(j, 8), 0);
	assert_int_equal(journal_first_seq(j), 13);
	assert_int_equal(journal_last_seq(j), 20);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(journal_read(j, 1, 50, 1 << 20, collect, &seen), 0);
	assert_int_equal(seen.n, 8);
	assert_int_equal(seen.seqs[0], 13);
	journal_close(&j);

	/* Reopening continues the sequence. */
	assert_int_equal(journal_open(&j, s, "p@h"), 0);
	assert_int_equal(journal_last_seq(j), 20);
	journal_close(&j);
	store_close(&s);
}

static void
test_abort_restores_seq(void **state)
{
	struct store         *s;
	struct journal       *j;
	struct buf            b;
	struct msg_test_event ev = { .n = 10 };

	UNUSED(state);
	assert_int_equal(store_open(&s, ":memory:"), 0);
	assert_int_equal(journal_open(&j, s, "p@h"), 0);
	append_n(s, j, 2);
	buf_init(&b);
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(journal_append(j, MSG_TEST_EVENT, NULL, &ev, &b), 0);
	assert_int_equal(journal_last_seq(j), 3);
	assert_int_equal(store_rollback(s), 0);
	assert_int_equal(journal_abort(j), 0);
	assert_int_equal(journal_last_seq(j), 2);
	/* A body missing a required field is refused, nothing journaled. */
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(journal_append(j, MSG_TASK_READY, NULL,
	                     &(struct msg_task_ready) { 0 }, &b),
	    ERR_INVAL);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(journal_last_seq(j), 2);
	/* An event over the frame limit would stall every consumer: refused,
	 * nothing journaled, nothing to publish. */
	{
		size_t                n      = JOURNAL_MAX_FRAME + 1;
		char                 *big    = xmalloc(n + 1);
		struct msg_test_event huge   = { .n = 11, .payload = big };
		size_t                before = b.len;

		memset(big, 'x', n);
		big[n] = '\0';
		assert_int_equal(store_begin(s), 0);
		assert_int_equal(
		    journal_append(j, MSG_TEST_EVENT, NULL, &huge, &b),
		    ERR_TOOBIG);
		assert_int_equal(store_commit(s), 0);
		assert_int_equal(journal_last_seq(j), 2);
		assert_int_equal(b.len, before);
		free(big);
	}
	buf_fini(&b);
	journal_close(&j);
	store_close(&s);
}

static void
test_cursors(void **state)
{
	struct store   *s;
	struct journal *j;
	uint64_t        c;

	UNUSED(state);
	assert_int_equal(store_open(&s, ":memory:"), 0);
	assert_int_equal(journal_open(&j, s, "c"), 0);
	assert_int_equal(journal_cursor_get(s, "up", &c), 0);
	assert_int_equal(c, 0);
	assert_int_equal(journal_cursor_set(s, "up", 7), 0);
	assert_int_equal(journal_cursor_set(s, "up", 9), 0);
	assert_int_equal(journal_cursor_set(s, "other", 1), 0);
	assert_int_equal(journal_cursor_get(s, "up", &c), 0);
	assert_int_equal(c, 9);
	journal_close(&j);
	store_close(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_read_trim),
		cmocka_unit_test(test_abort_restores_seq),
		cmocka_unit_test(test_cursors),
	};

	log_init("test_journal", NULL, LOG_ERROR);
	log_set_stderr(0);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
