/*
 * refresh.c - a text kept fresh by a thread of its own (refresh.h).
 *
 * The thread builds outside the mutex and swaps the text in under it;
 * refresh_close wakes its timed wait, so closing never waits an
 * interval, only for a make() under way.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "opc/err.h"
#include "opc/refresh.h"
#include "opc/util.h"

struct refresh {
	int64_t         interval_ms;
	refresh_make   *make;
	void           *arg;
	pthread_t       th;
	bool            started;
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	bool            stop; /* under mu */
	char           *text; /* under mu */
};

static void *
run(void *arg)
{
	struct refresh *r = arg;
	struct timespec ts;
	char           *text, *old;

	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		pthread_mutex_unlock(&r->mu);
		text = r->make(r->arg);
		pthread_mutex_lock(&r->mu);
		old     = r->text;
		r->text = text;
		free(old);
		if (r->stop)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += r->interval_ms / 1000;
		ts.tv_nsec += (r->interval_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!r->stop &&
		    pthread_cond_timedwait(&r->cv, &r->mu, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&r->mu);
	return (NULL);
}

int
refresh_open(
    struct refresh **rp, int64_t interval_ms, refresh_make *make, void *arg)
{
	struct refresh *r;

	*rp            = NULL;
	r              = xcalloc(1, sizeof(*r));
	r->interval_ms = interval_ms > 0 ? interval_ms : 1000;
	r->make        = make;
	r->arg         = arg;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	if (pthread_create(&r->th, NULL, run, r) != 0) {
		refresh_close(&r);
		return (ERR_IO);
	}
	r->started = true;
	*rp        = r;
	return (0);
}

char *
refresh_text(struct refresh *r)
{
	char *s = NULL;

	if (r == NULL)
		return (NULL);
	pthread_mutex_lock(&r->mu);
	if (r->text != NULL)
		s = xstrdup(r->text);
	pthread_mutex_unlock(&r->mu);
	return (s);
}

void
refresh_close(struct refresh **rp)
{
	struct refresh *r = *rp;

	if (r == NULL)
		return;
	if (r->started) {
		pthread_mutex_lock(&r->mu);
		r->stop = true;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		pthread_join(r->th, NULL);
	}
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r->text);
	free(r);
	*rp = NULL;
}
