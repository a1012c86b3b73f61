/*
 * test_plane_budget.c - the Plane client's rate budget against a model of
 * Plane's throttle, on a simulated clock (no sleeping, so nothing here
 * depends on the machine's load); and the parsers of Plane's rate texts
 * and datetimes.
 *
 * The model is Django REST framework's SimpleRateThrottle as Plane's
 * ApiKeyRateThrottle configures it (makeplane/plane apps/api/plane/api/
 * rate_limit.py): a log of the key's allowed requests in the last window,
 * refusing one more than the rate with 429 and Retry-After (the seconds,
 * rounded up, until the oldest entry leaves), and X-RateLimit-Remaining
 * on allowed answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "opc/err.h"
#include "plane.h"

struct srv {
	int64_t limit, window;
	int64_t log[4096]; /* oldest first */
	size_t  n;
	int64_t throttled, served;
};

/* srv_request serves one request arriving at now. */
static int
srv_request(struct srv *s, int64_t now, int64_t *remaining, int64_t *retry)
{
	size_t drop = 0;

	while (drop < s->n && s->log[drop] <= now - s->window)
		drop++;
	memmove(s->log, s->log + drop, (s->n - drop) * sizeof(s->log[0]));
	s->n -= drop;
	*remaining = -1;
	*retry     = -1;
	if ((int64_t) s->n >= s->limit) {
		*retry = (s->window - (now - s->log[0]) + 999) / 1000 * 1000;
		s->throttled++;
		return (429);
	}
	s->log[s->n++] = now;
	s->served++;
	*remaining = s->limit - (int64_t) s->n;
	return (200);
}

struct run {
	int64_t sent, max_per_s, throttled; /* ours */
};

/* drive sends requests as fast as the budget allows from t0 to t1, each
 * answered after latency ms; other (may be NULL) is a second client of
 * the same key sending one request every other_every ms.  Returns what
 * it measured. */
static struct run
drive(struct plane_budget *b, struct srv *s, int64_t t0, int64_t t1,
    int64_t latency, int64_t other_every)
{
	struct run r = { 0, 0, 0 };
	int64_t    t = t0, w, rem, ra, next_other = t0, sec_start = t0;
	int64_t    in_sec = 0;
	int        st;

	while (t < t1) {
		w = plane_budget_wait(b, t);
		assert_true(w >= 0);
		/* the other client's requests until ours goes */
		while (other_every > 0 && next_other <= t + w) {
			(void) srv_request(s, next_other, &rem, &ra);
			next_other += other_every;
		}
		t += w;
		if (t >= t1)
			break;
		plane_budget_sent(b, t);
		st = srv_request(s, t + latency / 2, &rem, &ra);
		t += latency;
		plane_budget_answer(b, t, st, rem, ra);
		if (st == 429) {
			r.throttled++;
			continue;
		}
		r.sent++;
		if (t - sec_start >= 1000) {
			sec_start = t;
			in_sec    = 0;
		}
		if (++in_sec > r.max_per_s)
			r.max_per_s = in_sec;
	}
	return (r);
}

/* Alone on Plane's default 60/minute: no 429 in ten minutes, at least
 * 85% of the limit used, and never a burst (a backlog is spread). */
static void
test_budget_alone(void **state)
{
	struct plane_budget b;
	struct srv          s = { .limit = 60, .window = 60000 };
	struct run          r;

	(void) state;
	plane_budget_init(&b, 60, 60000, 0);
	r = drive(&b, &s, 0, 600000, 40, 0);
	assert_int_equal(s.throttled, 0);
	assert_true(r.sent >= 10 * 51);
	assert_true(r.max_per_s <= 7); /* the burst is limit/10 */
	plane_budget_fini(&b);
}

/* A restart into a window the previous run filled: one 429 at most, its
 * Retry-After honoured; the rest of that window is taken as full (who
 * made those requests, and when, is not known), then paced again. */
static void
test_budget_restart(void **state)
{
	struct plane_budget b;
	struct srv          s = { .limit = 60, .window = 60000 };
	struct run          r;
	int64_t             i, rem, ra;

	(void) state;
	for (i = 0; i < 60; i++) /* the burst of the run before */
		(void) srv_request(&s, 50000 + i * 100, &rem, &ra);
	plane_budget_init(&b, 60, 60000, 57000);
	r = drive(&b, &s, 57000, 300000, 40, 0);
	assert_true(s.throttled <= 1);
	assert_true(r.sent >= 120);
	plane_budget_fini(&b);
}

/* Another client of the key takes 20 a minute: X-RateLimit-Remaining
 * shows it, and we keep to the rest without 429s (the other client,
 * which paces nothing, may meet some when we use the rest). */
static void
test_budget_shared_key(void **state)
{
	struct plane_budget b;
	struct srv          s = { .limit = 60, .window = 60000 };
	struct run          r;

	(void) state;
	plane_budget_init(&b, 60, 60000, 0);
	r = drive(&b, &s, 0, 600000, 40, 3000);
	assert_true(r.throttled <= 1);
	assert_true(r.sent >= 10 * 30);
	plane_budget_fini(&b);
}

/* A Plane with a higher API_KEY_RATE_LIMIT than configured is learned
 * from the headers; a lower one costs a 429 or two, then is kept to. */
static void
test_budget_other_limits(void **state)
{
	struct plane_budget b;
	struct srv          hi = { .limit = 300, .window = 60000 };
	struct srv          lo = { .limit = 30, .window = 60000 };
	struct run          r;

	(void) state;
	plane_budget_init(&b, 60, 60000, 0);
	r = drive(&b, &hi, 0, 300000, 20, 0);
	assert_int_equal(hi.throttled, 0);
	assert_int_equal(b.limit, 300);
	assert_true(r.sent >= 5 * 250);
	plane_budget_fini(&b);
	plane_budget_init(&b, 60, 60000, 0);
	r = drive(&b, &lo, 0, 600000, 20, 0);
	assert_true(lo.throttled <= 3);
	assert_true(r.sent >= 10 * 25);
	plane_budget_fini(&b);
}

/* A per-second limit (what the tests give the fixture) works the same. */
static void
test_budget_per_second(void **state)
{
	struct plane_budget b;
	struct srv          s = { .limit = 10, .window = 1000 };
	struct run          r;

	(void) state;
	plane_budget_init(&b, 10, 1000, 0);
	r = drive(&b, &s, 0, 60000, 5, 0);
	assert_int_equal(s.throttled, 0);
	assert_true(r.sent >= 60 * 8);
	plane_budget_fini(&b);
}

/* A 429 (or an error backoff) holds the queue for its time. */
static void
test_budget_hold(void **state)
{
	struct plane_budget b;

	(void) state;
	plane_budget_init(&b, 60, 60000, 0);
	assert_int_equal(plane_budget_wait(&b, 0), 0);
	plane_budget_sent(&b, 0);
	plane_budget_answer(&b, 10, 429, -1, 7000);
	assert_true(plane_budget_wait(&b, 10) >= 6990);
	assert_int_equal(plane_budget_wait(&b, 7010), 0);
	plane_budget_hold(&b, 8000, 5000);
	assert_true(plane_budget_wait(&b, 8000) >= 5000);
	plane_budget_fini(&b);
}

static void
test_rate_parse(void **state)
{
	int64_t n, ms;

	(void) state;
	assert_int_equal(plane_rate_parse("60/minute", &n, &ms), 0);
	assert_true(n == 60 && ms == 60000);
	assert_int_equal(plane_rate_parse("5/s", &n, &ms), 0);
	assert_true(n == 5 && ms == 1000);
	assert_int_equal(plane_rate_parse("1000/hour", &n, &ms), 0);
	assert_true(n == 1000 && ms == 3600000);
	assert_int_equal(plane_rate_parse("2/day", &n, &ms), 0);
	assert_true(ms == 86400000);
	assert_int_equal(plane_rate_parse("60", &n, &ms), ERR_INVAL);
	assert_int_equal(plane_rate_parse("0/minute", &n, &ms), ERR_INVAL);
	assert_int_equal(plane_rate_parse("x/minute", &n, &ms), ERR_INVAL);
	assert_int_equal(plane_rate_parse("60/week", &n, &ms), ERR_INVAL);
	assert_int_equal(plane_rate_parse(NULL, &n, &ms), ERR_INVAL);
}

/* Plane's datetimes, as DRF writes them for keys in any zone. */
static void
test_time(void **state)
{
	int64_t a, b;

	(void) state;
	assert_int_equal(plane_time("2026-03-08T07:00:00Z", &a), 0);
	assert_true(a == 1772953200LL * 1000000);
	assert_int_equal(plane_time("2026-03-08T12:30:00+05:30", &b), 0);
	assert_true(a == b);
	assert_int_equal(plane_time("2026-03-08T03:00:00-04:00", &b), 0);
	assert_true(a == b);
	assert_int_equal(plane_time("2026-03-08T07:00:00.250000Z", &b), 0);
	assert_true(b - a == 250000);
	assert_int_equal(
	    plane_time("2026-03-08T01:59:59.250000-05:00", &b), 0);
	assert_true(a - b == 750000);
	assert_int_equal(plane_time("2026-03-08 07:00:00", &b), 0); /* UTC */
	assert_true(a == b);
	assert_int_equal(plane_time("2026-03-08T07:00:00+0000", &b), 0);
	assert_true(a == b);
	assert_int_equal(plane_time("2026-03-08", &b), ERR_PROTO);
	assert_int_equal(
	    plane_time("2026-03-08T07:00:00Zjunk", &b), ERR_PROTO);
	assert_int_equal(plane_time("2026-13-08T07:00:00Z", &b), ERR_PROTO);
	assert_int_equal(plane_time("2026-03-08T07:00:00.Z", &b), ERR_PROTO);
	assert_int_equal(
	    plane_time("2026-03-08T07:00:00+5:30", &b), ERR_PROTO);
	assert_int_equal(plane_time("", &b), ERR_PROTO);
	assert_int_equal(plane_time(NULL, &b), ERR_PROTO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_budget_alone),
		cmocka_unit_test(test_budget_restart),
		cmocka_unit_test(test_budget_shared_key),
		cmocka_unit_test(test_budget_other_limits),
		cmocka_unit_test(test_budget_per_second),
		cmocka_unit_test(test_budget_hold),
		cmocka_unit_test(test_rate_parse),
		cmocka_unit_test(test_time),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
