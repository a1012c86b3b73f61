/*
 * test_lease_arith.c - a run's lease arithmetic (common/lease.c): its
 * edges, the lease file's text, and the fence itself on a simulated clock
 * (an executor and a router on two hosts with unrelated clocks, network
 * delays, a partition longer than the lease whose held messages arrive
 * after the heal, a router restart): the worker always stops before the
 * router can take its run back, and never without a reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "opc/lease.h"

static void
test_expired(void **state)
{
	(void) state;
	/* heard at 1000, a lease of 4000: 5000 is still in it */
	assert_false(lease_expired(1000, 0, 5000, 4000));
	assert_true(lease_expired(1000, 0, 5001, 4000));
	/* never heard since the router started at 7000 */
	assert_false(lease_expired(0, 7000, 11000, 4000));
	assert_true(lease_expired(0, 7000, 11001, 4000));
	/* no lease given: the default */
	assert_false(lease_expired(1, 0, 1 + LEASE_DEFAULT_MS, 0));
	assert_true(lease_expired(1, 0, 2 + LEASE_DEFAULT_MS, -5));
}

static void
test_stop_at(void **state)
{
	(void) state;
	assert_int_equal(lease_stop_at(1000, 4000), 3000);
	assert_int_equal(lease_stop_at(1000, 4001), 3000);
	assert_int_equal(lease_stop_at(1000, 0), 1000 + LEASE_DEFAULT_MS / 2);
	/* no grant: stop now */
	assert_int_equal(lease_stop_at(0, 4000), 0);
	assert_int_equal(lease_stop_at(-20, 4000), 0);
	/* a clock near its end saturates, never wraps */
	assert_true(lease_stop_at(INT64_MAX - 10, 4000) == INT64_MAX);
	assert_true(lease_stop_at(INT64_MAX, INT64_MAX) == INT64_MAX);
}

static void
test_grant_usable(void **state)
{
	(void) state;
	assert_true(lease_grant_usable(900, 0, 1000));
	assert_true(lease_grant_usable(1000, 0, 1000));  /* sent just now */
	assert_false(lease_grant_usable(1001, 0, 1000)); /* from the future */
	assert_false(lease_grant_usable(0, 0, 1000));
	assert_false(lease_grant_usable(-1, -5, 1000));
	assert_false(lease_grant_usable(900, 900, 1000)); /* repeated */
	assert_false(lease_grant_usable(800, 900, 1000)); /* late, reordered */
	assert_true(lease_grant_usable(901, 900, 1000));
}

static void
test_revokes(void **state)
{
	(void) state;
	/* started at 500, the router echoes a heartbeat sent at 600 */
	assert_true(lease_revokes(false, 500, 600));
	assert_true(lease_revokes(false, 600, 600));
	/* started after that heartbeat: the dispatch may be newer than the
	 * grant */
	assert_false(lease_revokes(false, 601, 600));
	assert_false(lease_revokes(true, 500, 600));
	assert_false(lease_revokes(false, 500, 0));
}

static void
test_confirmed(void **state)
{
	(void) state;
	assert_false(lease_confirmed(0, 4000, 10));
	assert_true(lease_confirmed(1000, 4000, 2999));
	assert_false(lease_confirmed(1000, 4000, 3000));
	assert_false(lease_lapsed(3000, 2999));
	assert_true(lease_lapsed(3000, 3000));
	assert_true(lease_lapsed(0, 0)); /* no lease file: stop */
}

static int
parse(const char *s, int64_t *v)
{
	return (lease_parse(s, strlen(s), v));
}

static void
test_file(void **state)
{
	static const char *const bad[] = { "", "stop_at", "stop_at ",
		"stop_at \n", "stop_at -1", "stop_at 12x", "stop_at 5\n\n",
		"stop_at 5 \n", "STOP_AT 5", " stop_at 5",
		"stop_at 99999999999999999999",
		"stop_at 9223372036854775808" };
	char                     buf[32];
	int64_t                  v = 7;
	size_t                   i;
	int                      n;

	(void) state;
	n = lease_format(buf, sizeof(buf), 123456789);
	assert_int_equal(n, (int) strlen("stop_at 123456789\n"));
	assert_string_equal(buf, "stop_at 123456789\n");
	assert_int_equal(lease_parse(buf, (size_t) n, &v), 0);
	assert_int_equal(v, 123456789);
	n = lease_format(buf, sizeof(buf), INT64_MAX);
	assert_true(n > 0);
	assert_int_equal(lease_parse(buf, (size_t) n, &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(parse("stop_at 0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(lease_format(buf, 8, 123456789), -1);
	assert_int_equal(lease_format(buf, sizeof(buf), -1), -1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 7;
		assert_int_equal(parse(bad[i], &v), -1);
		assert_int_equal(v, 0);
	}
}

/*
 * The fence on a simulated clock.  Real time t advances in 10 ms steps;
 * the executor's clock reads t + off_e, the router's t + off_r.  The
 * executor heartbeats every hb ms with its stamp, the router every hb ms
 * (half a period later) with its grant, each message delayed by 0..dmax
 * ms.  From cut to heal nothing passes: held (tcp retransmits them after
 * the heal) or dropped.  The router may restart (its db keeps what it
 * took back; it has heard no one yet).  The worker reads its lease every
 * 200 ms.
 */
struct sim {
	int64_t lease, hb, dmax, off_e, off_r;
	int64_t cut, heal;   /* real ms; cut < 0: no partition */
	int64_t restart;     /* real ms of a router restart, < 0: none */
	int64_t run_started; /* real ms */
	int64_t end;
	bool    hold;
	/* results: real ms, -1 never */
	int64_t stopped, taken;
	int64_t max_late; /* the latest delivery past the heal */
};

#define QMAX 4096

struct pkt {
	int64_t at;    /* real ms of delivery */
	int64_t stamp; /* the executor's stamp (to the router), or echoed */
	bool    named; /* a grant that names the run */
	bool    grant; /* carries a grant at all */
};

struct queue {
	struct pkt p[QMAX];
	size_t     n;
};

static uint64_t rng = 88172645463325252ull;

static int64_t
delay(int64_t dmax)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (dmax > 0 ? (int64_t) (rng % (uint64_t) (dmax + 1)) : 0);
}

/* post queues p sent at real t, unless the partition drops it. */
static void
post(struct sim *s, struct queue *q, struct pkt p, int64_t t)
{
	bool cut = s->cut >= 0 && t >= s->cut && t < s->heal;

	if (cut && !s->hold)
		return;
	p.at = (cut ? s->heal : t) + delay(s->dmax);
	if (cut && p.at > s->max_late)
		s->max_late = p.at;
	assert_true(q->n < QMAX);
	q->p[q->n++] = p;
}

/* take removes the first packet due at t (in sending order: tcp keeps
 * it), into *p. */
static bool
take(struct queue *q, int64_t t, struct pkt *p)
{
	size_t i;

	if (q->n == 0 || q->p[0].at > t)
		return (false);
	*p = q->p[0];
	for (i = 1; i < q->n; i++)
		q->p[i - 1] = q->p[i];
	q->n--;
	return (true);
}

static void
simulate(struct sim *s)
{
	static struct queue to_r, to_e;
	struct pkt          p;
	int64_t             t, since = s->off_r, heard = 0, echo = 0;
	int64_t             last = 0, stop_at = 0, started_e;
	bool                taken = false;

	memset(&to_r, 0, sizeof(to_r));
	memset(&to_e, 0, sizeof(to_e));
	s->stopped = s->taken = -1;
	s->max_late           = 0;
	started_e             = s->run_started + s->off_e;
	for (t = 0; t <= s->end; t += 10) {
		int64_t e = t + s->off_e, r = t + s->off_r;

		if (t == s->restart) { /* the router's memory is gone */
			since = r;
			heard = echo = 0;
		}
		if (t % s->hb == 0)
			post(s, &to_r, (struct pkt) { 0, e, false, false }, t);
		if (t % s->hb == s->hb / 20 * 10) /* half a period later */
			post(s, &to_e,
			    (struct pkt) { 0, echo, !taken, echo > 0 }, t);
		while (take(&to_r, t, &p)) {
			heard = r;
			echo  = p.stamp;
		}
		while (take(&to_e, t, &p)) {
			if (!p.grant || !lease_grant_usable(p.stamp, last, e))
				continue;
			last = p.stamp;
			if (t < s->run_started)
				continue;
			if (p.named)
				stop_at = lease_stop_at(p.stamp, s->lease);
			else if (lease_revokes(false, started_e, p.stamp))
				stop_at = 0;
		}
		if (t == s->run_started) /* seeded from the newest grant */
			stop_at = lease_stop_at(last, s->lease);
		if (!taken && t > s->run_started &&
		    lease_expired(heard, since, r, s->lease)) {
			taken    = true;
			s->taken = t;
		}
		if (s->stopped < 0 && t >= s->run_started && t % 200 == 0 &&
		    lease_lapsed(stop_at, e))
			s->stopped = t;
	}
}

static void
test_fence_simulated(void **state)
{
	static const int64_t offs[][2] = { { 1, 1000000000000LL },
		{ 86400000LL * 400, 5 }, { 777, 777 } };
	static const int64_t leases[]  = { 4000, 30000 };
	static const int64_t cuts[]    = { 0, 1, 3, 9 }; /* x lease/4 */
	size_t               o, l, c, h;
	struct sim           s;

	(void) state;
	for (o = 0; o < 3; o++)
		for (l = 0; l < 2; l++)
			for (c = 0; c < 4; c++)
				for (h = 0; h < 2; h++) {
					memset(&s, 0, sizeof(s));
					s.lease       = leases[l];
					s.hb          = 250;
					s.dmax        = 120;
					s.off_e       = offs[o][0];
					s.off_r       = offs[o][1];
					s.run_started = 2000;
					s.cut         = 5000;
					s.heal = s.cut + cuts[c] * s.lease / 4;
					if (cuts[c] == 0)
						s.cut = -1;
					s.hold    = h == 1;
					s.restart = -1;
					s.end     = 5000 + 4 * s.lease;
					simulate(&s);
					if (s.taken >= 0) {
						/* stopped first, by a margin
						 */
						assert_true(s.stopped >= 0);
						assert_true(
						    s.stopped + s.lease / 4 <=
						    s.taken);
					}
					if (cuts[c] * s.lease / 4 + 4 * s.hb +
					        3 * s.dmax <
					    s.lease / 2)
						/* a short cut stops nothing */
						assert_int_equal(
						    s.stopped, -1);
					if (cuts[c] == 9) {
						/* longer than the lease: taken
						 * back, and the late grants
						 * revived nothing */
						assert_true(s.taken >= 0);
						assert_true(s.taken < s.heal);
					}
				}
}

static void
test_fence_router_restart(void **state)
{
	struct sim s;

	(void) state;
	/* a router that restarts while the executor is cut off: it grants
	 * nothing until it hears the executor, takes the run back a lease
	 * after its start, and the worker has stopped long before */
	memset(&s, 0, sizeof(s));
	s.lease       = 4000;
	s.hb          = 250;
	s.dmax        = 50;
	s.off_e       = 10;
	s.off_r       = 99999;
	s.run_started = 1000;
	s.cut         = 3000;
	s.heal        = 12000;
	s.restart     = 3500;
	s.end         = 20000;
	simulate(&s);
	assert_true(s.taken >= 3500 + s.lease);
	assert_true(s.stopped >= 0 && s.stopped + s.lease / 4 <= s.taken);
	/* a quick restart on a healthy network stops nothing: the new
	 * router grants again once it hears the executor */
	s.cut = -1;
	simulate(&s);
	assert_int_equal(s.taken, -1);
	assert_int_equal(s.stopped, -1);
}

static void
test_fence_no_grant_yet(void **state)
{
	struct sim s;

	(void) state;
	/* a run started before any grant arrived stops at once (the
	 * executor never starts one like that) */
	memset(&s, 0, sizeof(s));
	s.lease       = 4000;
	s.hb          = 250;
	s.off_e       = 5;
	s.off_r       = 5;
	s.run_started = 0;
	s.cut         = -1;
	s.restart     = -1;
	s.end         = 1000;
	simulate(&s);
	assert_int_equal(s.stopped, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_stop_at),
		cmocka_unit_test(test_grant_usable),
		cmocka_unit_test(test_revokes),
		cmocka_unit_test(test_confirmed),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_fence_simulated),
		cmocka_unit_test(test_fence_router_restart),
		cmocka_unit_test(test_fence_no_grant_yet),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
