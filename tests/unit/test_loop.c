/*
 * test_loop.c - the poll() loop (common/loop.c): timers in deadline order,
 * cancellation, fd readiness through pipes, watcher changes during
 * dispatch, signals through signalfd, cross-thread wakeup and stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "opc/err.h"
#include "opc/loop.h"
#include "opc/util.h"

#define WAIT_MS 10000 /* only to avoid hanging */

/* run_until runs the loop until *count reaches want (or WAIT_MS). */
static void
run_until(struct loop *l, const int *count, int want)
{
	int64_t end = mono_ms() + WAIT_MS;

	while (*count < want && mono_ms() < end)
		assert_int_equal(loop_run_once(l, 100), 0);
	assert_true(*count >= want);
}

struct rec {
	int order[256];
	int n;
};

static struct rec *g_rec;

static void
rec_cb(struct loop *l, void *arg)
{
	UNUSED(l);
	g_rec->order[g_rec->n++] = (int) (intptr_t) arg;
}

static void
test_open_close(void **state)
{
	struct loop *l;

	UNUSED(state);
	assert_int_equal(loop_open(&l), 0);
	assert_non_null(l);
	assert_true(loop_wakeup_fd(l) >= 0);
	assert_false(loop_stopped(l));
	assert_int_equal(loop_add_fd(l, -1, POLLIN, NULL, NULL), ERR_INVAL);
	assert_int_equal(loop_run_once(l, 0), 0);
	loop_stop(l);
	assert_true(loop_stopped(l));
	loop_close(&l);
	assert_null(l);
	loop_close(&l);
}

static void
test_timers_in_order(void **state)
{
	static const int delays[] = { 300, 100, 200, 0, -5, 150 };
	struct rec       rec;
	struct loop     *l;
	uint64_t         ids[nitems(delays)];
	size_t           i, j;

	UNUSED(state);
	memset(&rec, 0, sizeof(rec));
	g_rec = &rec;
	assert_int_equal(loop_open(&l), 0);
	for (i = 0; i < nitems(delays); i++) {
		ids[i] = loop_timer(
		    l, delays[i], rec_cb, (void *) (intptr_t) delays[i]);
		assert_true(ids[i] > 0);
		for (j = 0; j < i; j++)
			assert_true(ids[j] != ids[i]);
	}
	/* Nothing runs before the loop does. */
	assert_int_equal(rec.n, 0);
	run_until(l, &rec.n, (int) nitems(delays));
	assert_int_equal(rec.n, nitems(delays));
	/* Zero and negative delays are both "now": creation order. */
	assert_int_equal(rec.order[0], 0);
	assert_int_equal(rec.order[1], -5);
	assert_int_equal(rec.order[2], 100);
	assert_int_equal(rec.order[3], 150);
	assert_int_equal(rec.order[4], 200);
	assert_int_equal(rec.order[5], 300);

	/* Timers due at once fire in creation order. */
	rec.n = 0;
	for (i = 0; i < 10; i++)
		loop_timer(l, 0, rec_cb, (void *) (intptr_t) i);
	run_until(l, &rec.n, 10);
	for (i = 0; i < 10; i++)
		assert_int_equal(rec.order[i], i);
	loop_close(&l);
	g_rec = NULL;
}

/* A larger heap: every uncancelled timer fires once, none early, in
 * deadline order (allowing for the clock ticking during creation). */
struct heap_t {
	int     delay;
	int     fired;
	int64_t made;
};
static struct heap_t g_ht[200];
static int           g_fired_order[200];
static int           g_nfired;

static void
heap_cb(struct loop *l, void *arg)
{
	int i = (int) (intptr_t) arg;

	UNUSED(l);
	g_ht[i].fired++;
	assert_true(mono_ms() >= g_ht[i].made + g_ht[i].delay);
	g_fired_order[g_nfired++] = i;
}

static void
test_timer_heap(void **state)
{
	struct loop *l;
	uint64_t     ids[200];
	int64_t      t0, t1, span;
	int          i, want = 0, a, b;

	UNUSED(state);
	assert_int_equal(loop_open(&l), 0);
	memset(g_ht, 0, sizeof(g_ht));
	g_nfired = 0;
	t0       = mono_ms();
	for (i = 0; i < 200; i++) {
		g_ht[i].delay = (i * 37) % 101;
		g_ht[i].made  = mono_ms();
		ids[i]        = loop_timer(
		           l, g_ht[i].delay, heap_cb, (void *) (intptr_t) i);
	}
	t1   = mono_ms();
	span = t1 - t0;
	for (i = 0; i < 200; i += 3)
		loop_timer_cancel(l, ids[i]);
	loop_timer_cancel(l, ids[0]); /* twice: harmless */
	loop_timer_cancel(l, 999999); /* unknown: harmless */
	for (i = 0; i < 200; i++)
		if (i % 3 != 0)
			want++;
	run_until(l, &g_nfired, want);
	/* Give anything wrongly left over a chance to fire too. */
	assert_int_equal(loop_run_once(l, 150), 0);
	assert_int_equal(g_nfired, want);
	for (i = 0; i < 200; i++)
		assert_int_equal(g_ht[i].fired, i % 3 != 0 ? 1 : 0);
	for (i = 1; i < g_nfired; i++) {
		a = g_fired_order[i - 1];
		b = g_fired_order[i];
		assert_true(g_ht[a].delay <= g_ht[b].delay + span);
		if (span == 0 && g_ht[a].delay == g_ht[b].delay)
			assert_true(a < b);
	}
	loop_close(&l);
}

static void
test_timer_run_once_waits(void **state)
{
	struct rec   rec;
	struct loop *l;

	UNUSED(state);
	memset(&rec, 0, sizeof(rec));
	g_rec = &rec;
	assert_int_equal(loop_open(&l), 0);
	loop_timer(l, 50, rec_cb, (void *) 7);
	/* With timeout -1 one call sleeps until the timer is due. */
	assert_int_equal(loop_run_once(l, -1), 0);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.order[0], 7);
	/* A short timeout returns before a far timer. */
	loop_timer(l, 60000, rec_cb, (void *) 8);
	assert_int_equal(loop_run_once(l, 10), 0);
	assert_int_equal(rec.n, 1);
	loop_close(&l);
	g_rec = NULL;
}

struct cancel_ctx {
	uint64_t victim;
	int      fired_a, fired_b;
};

static void
cancel_a(struct loop *l, void *arg)
{
	struct cancel_ctx *c = arg;

	c->fired_a++;
	loop_timer_cancel(l, c->victim);
}

static void
cancel_b(struct loop *l, void *arg)
{
	struct cancel_ctx *c = arg;

	UNUSED(l);
	c->fired_b++;
}

static void
test_timer_cancel(void **state)
{
	struct rec        rec;
	struct cancel_ctx c;
	struct loop      *l;
	uint64_t          a;
	int               i;

	UNUSED(state);
	memset(&rec, 0, sizeof(rec));
	g_rec = &rec;
	assert_int_equal(loop_open(&l), 0);
	a = loop_timer(l, 20, rec_cb, (void *) 1);
	loop_timer(l, 10, rec_cb, (void *) 2);
	loop_timer(l, 40, rec_cb, (void *) 3);
	loop_timer_cancel(l, a);
	run_until(l, &rec.n, 2);
	assert_int_equal(loop_run_once(l, 60), 0);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.order[0], 2);
	assert_int_equal(rec.order[1], 3);
	/* Cancelling a timer that already fired is harmless. */
	loop_timer_cancel(l, a);

	/* A callback cancels a timer due in the same pass. */
	memset(&c, 0, sizeof(c));
	loop_timer(l, 0, cancel_a, &c);
	c.victim = loop_timer(l, 0, cancel_b, &c);
	run_until(l, &c.fired_a, 1);
	for (i = 0; i < 3; i++)
		assert_int_equal(loop_run_once(l, 20), 0);
	assert_int_equal(c.fired_a, 1);
	assert_int_equal(c.fired_b, 0);
	loop_close(&l);
	g_rec = NULL;
}

/* A zero-delay timer that re-arms itself runs once per pass and does not
 * starve fd watchers. */
struct rearm {
	int timer_runs;
	int fd_runs;
};

static void
rearm_cb(struct loop *l, void *arg)
{
	struct rearm *r = arg;

	r->timer_runs++;
	loop_timer(l, 0, rearm_cb, r);
}

static void
count_fd_cb(struct loop *l, int fd, short revents, void *arg)
{
	struct rearm *r = arg;
	char          c;

	UNUSED(l);
	if (revents & POLLIN)
		assert_int_equal(read(fd, &c, 1), 1);
	r->fd_runs++;
}

static void
test_timer_rearm_no_starve(void **state)
{
	struct rearm r = { 0, 0 };
	struct loop *l;
	int          p[2];

	UNUSED(state);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(loop_open(&l), 0);
	assert_int_equal(loop_add_fd(l, p[0], POLLIN, count_fd_cb, &r), 0);
	loop_timer(l, 0, rearm_cb, &r);
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(r.timer_runs, 1);
	assert_int_equal(r.fd_runs, 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(r.timer_runs, 2);
	assert_int_equal(r.fd_runs, 1);
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(r.timer_runs, 3);
	assert_int_equal(r.fd_runs, 1);
	loop_close(&l);
	close(p[0]);
	close(p[1]);
}

struct fdrec {
	int   calls;
	int   fd;
	short revents;
	char  got;
	void *arg;
};

static void
fd_cb(struct loop *l, int fd, short revents, void *arg)
{
	struct fdrec *r = arg;
	char          c;

	UNUSED(l);
	r->calls++;
	r->fd      = fd;
	r->revents = revents;
	r->arg     = arg;
	if ((revents & POLLIN) && read(fd, &c, 1) == 1)
		r->got = c;
}

static void
test_fd_pipe(void **state)
{
	struct fdrec r1, r2, rw;
	struct loop *l;
	int          p[2];

	UNUSED(state);
	memset(&r1, 0, sizeof(r1));
	memset(&r2, 0, sizeof(r2));
	memset(&rw, 0, sizeof(rw));
	assert_int_equal(pipe(p), 0);
	assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(loop_open(&l), 0);
	assert_int_equal(loop_add_fd(l, p[0], POLLIN, NULL, NULL), ERR_INVAL);
	assert_int_equal(loop_add_fd(l, p[0], POLLIN, fd_cb, &r1), 0);

	/* Not readable yet. */
	assert_int_equal(loop_run_once(l, 20), 0);
	assert_int_equal(r1.calls, 0);

	assert_int_equal(write(p[1], "a", 1), 1);
	run_until(l, &r1.calls, 1);
	assert_int_equal(r1.calls, 1);
	assert_int_equal(r1.fd, p[0]);
	assert_true(r1.revents & POLLIN);
	assert_ptr_equal(r1.arg, &r1);
	assert_int_equal(r1.got, 'a');
	/* Drained: no further calls. */
	assert_int_equal(loop_run_once(l, 20), 0);
	assert_int_equal(r1.calls, 1);

	/* Adding the same fd again replaces callback and arg. */
	assert_int_equal(loop_add_fd(l, p[0], POLLIN, fd_cb, &r2), 0);
	assert_int_equal(write(p[1], "b", 1), 1);
	run_until(l, &r2.calls, 1);
	assert_int_equal(r1.calls, 1);
	assert_int_equal(r2.got, 'b');

	/* The write end is writable at once. */
	assert_int_equal(loop_add_fd(l, p[1], POLLOUT, fd_cb, &rw), 0);
	run_until(l, &rw.calls, 1);
	assert_int_equal(rw.fd, p[1]);
	assert_true(rw.revents & POLLOUT);
	loop_del_fd(l, p[1]);

	/* A deleted watcher is not called even when its fd is ready. */
	loop_del_fd(l, p[0]);
	loop_del_fd(l, p[0]); /* twice: harmless */
	assert_int_equal(write(p[1], "c", 1), 1);
	assert_int_equal(loop_run_once(l, 50), 0);
	assert_int_equal(r2.calls, 1);
	assert_int_equal(rw.calls, 1);

	/* Re-added, it sees the pending byte; then hang-up on close. */
	assert_int_equal(loop_add_fd(l, p[0], POLLIN, fd_cb, &r1), 0);
	run_until(l, &r1.calls, 2);
	assert_int_equal(r1.got, 'c');
	close(p[1]);
	run_until(l, &r1.calls, 3);
	assert_true(r1.revents & POLLHUP);
	loop_del_fd(l, p[0]);
	loop_close(&l);
	close(p[0]);
}

/* Watchers changed from inside a callback. */
struct mut {
	struct fdrec a, b, c;
	int          pa[2], pb[2], pc[2];
};

static void
mut_a_cb(struct loop *l, int fd, short revents, void *arg)
{
	struct mut *m = arg;

	fd_cb(l, fd, revents, &m->a);
	m->a.arg = arg;
	/* Delete b (ready in this same pass) and ourselves; add c. */
	loop_del_fd(l, m->pb[0]);
	loop_del_fd(l, fd);
	assert_int_equal(loop_add_fd(l, m->pc[0], POLLIN, fd_cb, &m->c), 0);
}

static void
test_fd_change_in_callback(void **state)
{
	struct mut   m;
	struct loop *l;
	int          i;

	UNUSED(state);
	memset(&m, 0, sizeof(m));
	assert_int_equal(pipe(m.pa), 0);
	assert_int_equal(pipe(m.pb), 0);
	assert_int_equal(pipe(m.pc), 0);
	assert_int_equal(loop_open(&l), 0);
	assert_int_equal(loop_add_fd(l, m.pa[0], POLLIN, mut_a_cb, &m), 0);
	assert_int_equal(loop_add_fd(l, m.pb[0], POLLIN, fd_cb, &m.b), 0);
	assert_int_equal(write(m.pa[1], "a", 1), 1);
	assert_int_equal(write(m.pb[1], "b", 1), 1);
	assert_int_equal(write(m.pc[1], "c", 1), 1);
	run_until(l, &m.a.calls, 1);
	assert_int_equal(m.b.calls, 0);
	run_until(l, &m.c.calls, 1);
	assert_int_equal(m.c.got, 'c');
	assert_int_equal(write(m.pa[1], "a", 1), 1);
	for (i = 0; i < 3; i++)
		assert_int_equal(loop_run_once(l, 20), 0);
	assert_int_equal(m.a.calls, 1);
	assert_int_equal(m.b.calls, 0);
	assert_int_equal(m.c.calls, 1);
	loop_close(&l);
	for (i = 0; i < 2; i++) {
		close(m.pa[i]);
		close(m.pb[i]);
		close(m.pc[i]);
	}
}

struct sigrec {
	int   n;
	int   last;
	void *arg;
};

static void
sig_cb(struct loop *l, int signo, void *arg)
{
	struct sigrec *s = arg;

	UNUSED(l);
	s->n++;
	s->last = signo;
	s->arg  = arg;
}

static void
test_signals(void **state)
{
	const int       one[] = { SIGUSR1 };
	const int       two[] = { SIGUSR1, SIGUSR2 };
	struct timespec ts    = { 5, 0 };
	struct sigrec   s;
	struct loop    *l;
	sigset_t        old, cur, only1;

	UNUSED(state);
	memset(&s, 0, sizeof(s));
	assert_int_equal(sigprocmask(SIG_BLOCK, NULL, &old), 0);
	assert_false(sigismember(&old, SIGUSR1));
	assert_int_equal(loop_open(&l), 0);
	assert_int_equal(loop_signals(l, one, 1, sig_cb, &s), 0);
	/* The API blocks the signal itself. */
	assert_int_equal(sigprocmask(SIG_BLOCK, NULL, &cur), 0);
	assert_true(sigismember(&cur, SIGUSR1));

	assert_int_equal(raise(SIGUSR1), 0);
	run_until(l, &s.n, 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.last, SIGUSR1);
	assert_ptr_equal(s.arg, &s);

	/* Widening the set reuses the loop's signalfd. */
	assert_int_equal(loop_signals(l, two, 2, sig_cb, &s), 0);
	assert_int_equal(raise(SIGUSR2), 0);
	run_until(l, &s.n, 2);
	assert_int_equal(s.last, SIGUSR2);
	assert_int_equal(raise(SIGUSR1), 0);
	run_until(l, &s.n, 3);
	assert_int_equal(s.last, SIGUSR1);

	/* n = 0 removes delivery: the signal stays pending (still blocked). */
	assert_int_equal(loop_signals(l, NULL, 0, sig_cb, &s), 0);
	assert_int_equal(raise(SIGUSR1), 0);
	assert_int_equal(loop_run_once(l, 50), 0);
	assert_int_equal(s.n, 3);
	sigemptyset(&only1);
	sigaddset(&only1, SIGUSR1);
	assert_int_equal(sigtimedwait(&only1, NULL, &ts), SIGUSR1);

	loop_close(&l);
	assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);
}

/* Cross-thread wakeup through the eventfd. */
static void *
waker(void *arg)
{
	struct loop    *l   = arg;
	struct timespec ts  = { 0, 50 * 1000000L };
	uint64_t        one = 1;

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	if (write(loop_wakeup_fd(l), &one, sizeof(one)) !=
	    (ssize_t) sizeof(one))
		return ((void *) 1);
	return (NULL);
}

static void
guard_cb(struct loop *l, void *arg)
{
	*(int *) arg = 1;
	loop_stop(l);
}

static void
test_wakeup_thread(void **state)
{
	struct loop *l;
	pthread_t    th;
	void        *ret;
	uint64_t     guard, one = 1;
	int          timed_out = 0;

	UNUSED(state);
	assert_int_equal(loop_open(&l), 0);
	guard = loop_timer(l, WAIT_MS, guard_cb, &timed_out);
	assert_int_equal(pthread_create(&th, NULL, waker, l), 0);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(pthread_join(th, &ret), 0);
	assert_null(ret);
	assert_false(timed_out);
	assert_true(loop_stopped(l));

	/* A wakeup written before loop_run still makes it return. */
	assert_int_equal(
	    write(loop_wakeup_fd(l), &one, sizeof(one)), sizeof(one));
	assert_int_equal(loop_run(l), 0);
	assert_false(timed_out);
	/* The wakeup was consumed: a later run needs a new stop. */
	loop_timer_cancel(l, guard);
	guard = loop_timer(l, 100, guard_cb, &timed_out);
	assert_int_equal(loop_run(l), 0);
	assert_true(timed_out);
	loop_close(&l);
}

struct stopper {
	int ticks;
	int stops;
};

static void
tick_cb(struct loop *l, void *arg)
{
	struct stopper *s = arg;

	UNUSED(l);
	s->ticks++;
}

static void
stop_cb(struct loop *l, void *arg)
{
	struct stopper *s = arg;

	s->stops++;
	loop_stop(l);
}

static void
test_stop_from_callback(void **state)
{
	struct stopper s = { 0, 0 };
	struct loop   *l;
	int            guard = 0;
	uint64_t       g;

	UNUSED(state);
	assert_int_equal(loop_open(&l), 0);
	g = loop_timer(l, WAIT_MS, guard_cb, &guard);
	loop_timer(l, 0, tick_cb, &s);
	loop_timer(l, 10, tick_cb, &s);
	loop_timer(l, 30, stop_cb, &s);
	loop_timer(l, 5000, tick_cb, &s);
	assert_int_equal(loop_run(l), 0);
	assert_true(loop_stopped(l));
	assert_int_equal(s.ticks, 2);
	assert_int_equal(s.stops, 1);
	assert_int_equal(guard, 0);

	/* loop_run clears the stop flag and runs again. */
	loop_timer(l, 0, stop_cb, &s);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(s.stops, 2);
	assert_int_equal(s.ticks, 2);
	assert_int_equal(guard, 0);
	loop_timer_cancel(l, g);
	loop_close(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_close),
		cmocka_unit_test(test_timers_in_order),
		cmocka_unit_test(test_timer_heap),
		cmocka_unit_test(test_timer_run_once_waits),
		cmocka_unit_test(test_timer_cancel),
		cmocka_unit_test(test_timer_rearm_no_starve),
		cmocka_unit_test(test_fd_pipe),
		cmocka_unit_test(test_fd_change_in_callback),
		cmocka_unit_test(test_signals),
		cmocka_unit_test(test_wakeup_thread),
		cmocka_unit_test(test_stop_from_callback),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
