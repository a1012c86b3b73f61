/*
 * loop.c - one poll() loop per service (redis ae, tmux proc_loop).
 *
 * fd watchers live in an array rebuilt into a pollfd set each iteration;
 * a watcher deleted during dispatch is only marked (fd = -1) and compacted
 * afterwards, so callbacks may add or delete watchers freely.  Timers are
 * one-shot, kept in a binary min-heap on (deadline, id); a cancelled timer
 * is removed at once.  Signals arrive through a signalfd; other threads
 * stop the loop through an eventfd.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "opc/err.h"
#include "opc/loop.h"
#include "opc/util.h"

struct watch {
	int        fd;
	short      events;
	loop_fd_fn fn;
	void      *arg;
};

struct timer {
	int64_t       when;
	uint64_t      id;
	loop_timer_fn fn;
	void         *arg;
};

struct loop {
	struct watch  *w;
	size_t         nw, capw;
	int            dirty; /* deleted watchers await compaction */
	struct pollfd *pfd;
	size_t         cappfd;
	struct timer  *t;
	size_t         nt, capt;
	uint64_t       next_id;
	int            sigfd;
	loop_signal_fn sigfn;
	void          *sigarg;
	int            wakefd;
	int            stop;
};

static int
tless(const struct timer *a, const struct timer *b)
{
	return (a->when < b->when || (a->when == b->when && a->id < b->id));
}

static void
heap_up(struct loop *l, size_t i)
{
	struct timer tmp;

	while (i > 0 && tless(&l->t[i], &l->t[(i - 1) / 2])) {
		tmp               = l->t[i];
		l->t[i]           = l->t[(i - 1) / 2];
		l->t[(i - 1) / 2] = tmp;
		i                 = (i - 1) / 2;
	}
}

static void
heap_down(struct loop *l, size_t i)
{
	struct timer tmp;
	size_t       c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= l->nt)
			break;
		if (c + 1 < l->nt && tless(&l->t[c + 1], &l->t[c]))
			c++;
		if (!tless(&l->t[c], &l->t[i]))
			break;
		tmp     = l->t[i];
		l->t[i] = l->t[c];
		l->t[c] = tmp;
		i       = c;
	}
}

static void
heap_remove(struct loop *l, size_t i)
{
	l->nt--;
	if (i == l->nt)
		return;
	l->t[i] = l->t[l->nt];
	heap_up(l, i);
	heap_down(l, i);
}

static void
wake_cb(struct loop *l, int fd, short ev, void *arg)
{
	uint64_t v;

	UNUSED(ev);
	UNUSED(arg);
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	l->stop = 1;
}

int
loop_open(struct loop **lp)
{
	struct loop *l;

	*lp       = NULL;
	l         = xcalloc(1, sizeof(*l));
	l->sigfd  = -1;
	l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->wakefd < 0) {
		free(l);
		return (ERR_IO);
	}
	(void) loop_add_fd(l, l->wakefd, POLLIN, wake_cb, NULL);
	*lp = l;
	return (0);
}

void
loop_close(struct loop **lp)
{
	struct loop *l = *lp;

	if (l == NULL)
		return;
	if (l->sigfd >= 0)
		close(l->sigfd);
	close(l->wakefd);
	free(l->w);
	free(l->pfd);
	free(l->t);
	free(l);
	*lp = NULL;
}

int
loop_add_fd(struct loop *l, int fd, short events, loop_fd_fn fn, void *arg)
{
	size_t i;

	if (fd < 0 || fn == NULL)
		return (ERR_INVAL);
	for (i = 0; i < l->nw; i++) {
		if (l->w[i].fd == fd) {
			l->w[i].events = events;
			l->w[i].fn     = fn;
			l->w[i].arg    = arg;
			return (0);
		}
	}
	if (l->nw == l->capw) {
		l->capw = l->capw ? l->capw * 2 : 16;
		l->w    = xrealloc(l->w, l->capw * sizeof(*l->w));
	}
	l->w[l->nw].fd     = fd;
	l->w[l->nw].events = events;
	l->w[l->nw].fn     = fn;
	l->w[l->nw].arg    = arg;
	l->nw++;
	return (0);
}

void
loop_del_fd(struct loop *l, int fd)
{
	size_t i;

	for (i = 0; i < l->nw; i++) {
		if (l->w[i].fd == fd) {
			l->w[i].fd = -1;
			l->dirty   = 1;
		}
	}
}

static void
compact(struct loop *l)
{
	size_t i, j = 0;

	for (i = 0; i < l->nw; i++)
		if (l->w[i].fd >= 0)
			l->w[j++] = l->w[i];
	l->nw    = j;
	l->dirty = 0;
}

uint64_t
loop_timer(struct loop *l, int64_t ms, loop_timer_fn fn, void *arg)
{
	if (l->nt == l->capt) {
		l->capt = l->capt ? l->capt * 2 : 16;
		l->t    = xrealloc(l->t, l->capt * sizeof(*l->t));
	}
	l->t[l->nt].when = mono_ms() + (ms < 0 ? 0 : ms);
	l->t[l->nt].id   = ++l->next_id;
	l->t[l->nt].fn   = fn;
	l->t[l->nt].arg  = arg;
	l->nt++;
	heap_up(l, l->nt - 1);
	return (l->next_id);
}

void
loop_timer_cancel(struct loop *l, uint64_t id)
{
	size_t i;

	for (i = 0; i < l->nt; i++) {
		if (l->t[i].id == id) {
			heap_remove(l, i);
			return;
		}
	}
}

static void
sig_cb(struct loop *l, int fd, short ev, void *arg)
{
	struct signalfd_siginfo si;

	UNUSED(ev);
	UNUSED(arg);
	while (read(fd, &si, sizeof(si)) == (ssize_t) sizeof(si))
		if (l->sigfn != NULL)
			l->sigfn(l, (int) si.ssi_signo, l->sigarg);
}

int
loop_signals(
    struct loop *l, const int *sigs, int n, loop_signal_fn fn, void *arg)
{
	sigset_t set;
	int      i, fd;

	/* An ignored signal is discarded before signalfd could see it, and
	 * a daemon started from a non-interactive shell's background job
	 * inherits SIGINT ignored: take the default disposition back. */
	sigemptyset(&set);
	for (i = 0; i < n; i++) {
		sigaddset(&set, sigs[i]);
		signal(sigs[i], SIG_DFL);
	}
	if (n > 0 && sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return (ERR_IO);
	fd = signalfd(l->sigfd, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return (ERR_IO);
	if (l->sigfd < 0) {
		l->sigfd = fd;
		(void) loop_add_fd(l, fd, POLLIN, sig_cb, NULL);
	}
	l->sigfn  = fn;
	l->sigarg = arg;
	return (0);
}

int
loop_wakeup_fd(struct loop *l)
{
	return (l->wakefd);
}

static void
run_timers(struct loop *l)
{
	int64_t      now = mono_ms();
	struct timer t;
	uint64_t     last = l->next_id;

	/* Timers added by callbacks in this pass wait for the next pass,
	 * so a zero-delay timer that re-arms itself cannot starve fds. */
	while (l->nt > 0 && l->t[0].when <= now && l->t[0].id <= last) {
		t = l->t[0];
		heap_remove(l, 0);
		t.fn(l, t.arg);
	}
}

int
loop_run_once(struct loop *l, int timeout_ms)
{
	int64_t wait;
	size_t  i, n;
	int     rv;

	if (l->nt > 0) {
		wait = l->t[0].when - mono_ms();
		if (wait < 0)
			wait = 0;
		if (timeout_ms < 0 || wait < timeout_ms)
			timeout_ms = (int) (wait > 60000 ? 60000 : wait);
	}
	if (l->dirty)
		compact(l);
	if (l->cappfd < l->nw) {
		l->cappfd = l->nw;
		l->pfd    = xrealloc(l->pfd, l->cappfd * sizeof(*l->pfd));
	}
	n = l->nw;
	for (i = 0; i < n; i++) {
		l->pfd[i].fd      = l->w[i].fd;
		l->pfd[i].events  = l->w[i].events;
		l->pfd[i].revents = 0;
	}
	rv = poll(l->pfd, (nfds_t) n, timeout_ms);
	if (rv < 0 && errno != EINTR)
		return (ERR_IO);
	for (i = 0; rv > 0 && i < n; i++) {
		if (l->pfd[i].revents == 0)
			continue;
		/* The watcher may have been deleted or replaced meanwhile. */
		if (i >= l->nw || l->w[i].fd != l->pfd[i].fd)
			continue;
		l->w[i].fn(l, l->w[i].fd, l->pfd[i].revents, l->w[i].arg);
	}
	run_timers(l);
	return (0);
}

int
loop_run(struct loop *l)
{
	int rv = 0;

	l->stop = 0;
	while (!l->stop && (rv = loop_run_once(l, -1)) == 0)
		;
	return (rv);
}

void
loop_stop(struct loop *l)
{
	l->stop = 1;
}

int
loop_stopped(const struct loop *l)
{
	return (l->stop);
}
