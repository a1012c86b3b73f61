/*
 * breaker.c - the circuit breaker's states: closed, open, half_open.
 *
 * breaker_eval (budget.c) says whether the recent outcomes are bad
 * enough to open the breaker.  Nothing is dispatched while it is open,
 * so no new outcome could ever close it again before the failures went
 * stale (4 h).  After a cool-off the breaker goes half_open and lets one
 * dispatch through as a probe: the probe's success closes it (the
 * failures before it no longer count), its failure opens it for another
 * cool-off.  A probe that ends without a verdict (interrupted, taken
 * back, out of quota: quota never feeds the breaker) frees the slot for
 * the next probe.  Pure functions of their arguments, as all of logic/.
 *
 * Transitions (event -> next state; "-" stays):
 *
 *   state      outcome: window  tick: cool-off  probe      probe      probe
 * reset open / closed    elapsed         succeeded  failed     lost closed
 * open / -       -               -          -          -        closed open -
 * / closed  half_open       -          -          -        closed half_open  -
 * / closed  -               closed     open       -        closed
 *
 * "closed" after a probe's success or a reset sets reset_ms: outcomes
 * up to then are left out of the window (breaker_eval's caller drops
 * them), or the failures that opened it would open it again at once.
 */
#include <string.h>

#include "route.h"

const char *
breaker_phase_name(enum breaker_phase p)
{
	switch (p) {
	case BREAKER_OPEN:
		return ("open");
	case BREAKER_HALF_OPEN:
		return ("half_open");
	default:
		return ("closed");
	}
}

int
breaker_phase_parse(const char *s, enum breaker_phase *p)
{
	if (s == NULL)
		return (-1);
	if (strcmp(s, "closed") == 0)
		*p = BREAKER_CLOSED;
	else if (strcmp(s, "open") == 0)
		*p = BREAKER_OPEN;
	else if (strcmp(s, "half_open") == 0)
		*p = BREAKER_HALF_OPEN;
	else
		return (-1);
	return (0);
}

static struct breaker_state
enter(struct breaker_state s, enum breaker_phase p, int64_t now_ms,
    const char *why)
{
	s.phase    = p;
	s.since_ms = now_ms;
	s.probing  = false;
	s.why      = why;
	return (s);
}

struct breaker_state
breaker_outcome(
    struct breaker_state s, const struct breaker *window, int64_t now_ms)
{
	s.why = NULL;
	if (s.phase == BREAKER_CLOSED && window->open)
		return (enter(s, BREAKER_OPEN, now_ms, "threshold"));
	/* a run sent before it opened brought the rate down: closed as
	 * the original closes, on the window alone */
	if (s.phase != BREAKER_CLOSED && !window->open)
		return (enter(s, BREAKER_CLOSED, now_ms, "recovered"));
	return (s);
}

struct breaker_state
breaker_tick(struct breaker_state s, int64_t cooloff_ms, int64_t now_ms)
{
	s.why = NULL;
	if (s.phase == BREAKER_OPEN && now_ms - s.since_ms >= cooloff_ms)
		return (enter(s, BREAKER_HALF_OPEN, now_ms, "cooloff"));
	return (s);
}

bool
breaker_allows(const struct breaker_state *s)
{
	return (s->phase == BREAKER_CLOSED ||
	    (s->phase == BREAKER_HALF_OPEN && !s->probing));
}

struct breaker_state
breaker_probe_sent(struct breaker_state s)
{
	s.why = NULL;
	if (s.phase == BREAKER_HALF_OPEN)
		s.probing = true;
	return (s);
}

struct breaker_state
breaker_probe_done(
    struct breaker_state s, enum breaker_verdict v, int64_t now_ms)
{
	s.why = NULL;
	if (s.phase != BREAKER_HALF_OPEN)
		return (s);
	switch (v) {
	case BREAKER_SUCCEEDED:
		/* the failures before the probe no longer count, or the
		 * window would open it again at once */
		s.reset_ms = now_ms;
		return (enter(s, BREAKER_CLOSED, now_ms, "probe_succeeded"));
	case BREAKER_FAILED:
		return (enter(s, BREAKER_OPEN, now_ms, "probe_failed"));
	default:
		s.probing = false;
		return (s);
	}
}

struct breaker_state
breaker_reset(struct breaker_state s, int64_t now_ms)
{
	s.reset_ms = now_ms;
	return (enter(s, BREAKER_CLOSED, now_ms, "reset"));
}
