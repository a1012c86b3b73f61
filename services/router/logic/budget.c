/*
 * budget.c - dispatch guardrails: hourly/daily budget, per-task retry cap,
 * global concurrency and memory floor, and the circuit breaker.
 *
 * Thresholds and semantics follow the original (inventory s.3 and s.6):
 * a window is "blocked" when its count has reached the limit (>=), the
 * retry cap resets after an idle hour, and the breaker looks only at
 * recent, non-quota outcomes.  The spend caps are in spend.c; their
 * settings are loaded here with the rest of router.budget.  Every check is a
 * pure function of the caller's bookkeeping and now_ms.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "opc/err.h"
#include "opc/util.h"
#include "route.h"

#define HOUR_MS (3600 * (int64_t) 1000)
#define DAY_MS (24 * HOUR_MS)

#define ERRF(...)                                           \
	do {                                                \
		if (errlen > 0)                             \
			snprintf(err, errlen, __VA_ARGS__); \
	} while (0)

static int
env_int(const char *name, int64_t *out, char *err, size_t errlen)
{
	const char *s = getenv(name);
	char       *end;
	long long   v;

	if (s == NULL || *s == '\0')
		return (0);
	errno = 0;
	v     = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0) {
		ERRF("%s: expected a non-negative integer, got '%.64s'", name,
		    s);
		return (ERR_CONFIG);
	}
	*out = v;
	return (0);
}

static int
env_double(const char *name, double *out, char *err, size_t errlen)
{
	const char *s = getenv(name);
	char       *end;
	double      v;

	if (s == NULL || *s == '\0')
		return (0);
	errno = 0;
	v     = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v)) {
		ERRF("%s: expected a number, got '%.64s'", name, s);
		return (ERR_CONFIG);
	}
	*out = v;
	return (0);
}

int
budget_cfg_load(struct budget_cfg *c, const struct cfg_node *router_cfg,
    char *err, size_t errlen)
{
	const struct cfg_key  *t     = router_keys; /* defaults and bounds */
	const struct cfg_node *r     = router_cfg;
	int64_t                hours = -1;
	double                 cap   = NAN; /* max_usd_per_day: NaN = none */

	memset(c, 0, sizeof(*c));
	/* no cap unless one is written: max_usd_per_day has no default */
	if (cfg_tab_int(t, r, "budget.max_per_hour", &c->max_per_hour, err,
	        errlen) != 0 ||
	    cfg_tab_int(t, r, "budget.max_per_day", &c->max_per_day, err,
	        errlen) != 0 ||
	    cfg_tab_int(t, r, "budget.max_retries", &c->max_retries, err,
	        errlen) != 0 ||
	    cfg_tab_ms(t, r, "budget.retry_reset", &c->retry_reset_ms, err,
	        errlen) != 0 ||
	    cfg_tab_int(t, r, "budget.max_concurrent", &c->max_concurrent, err,
	        errlen) != 0 ||
	    cfg_tab_int(t, r, "budget.min_memory_mb", &c->min_memory_mb, err,
	        errlen) != 0 ||
	    cfg_tab_num(t, r, "breaker.threshold", &c->breaker_threshold, err,
	        errlen) != 0 ||
	    cfg_tab_int(t, r, "breaker.window", &c->breaker_window, err,
	        errlen) != 0 ||
	    cfg_tab_int(t, r, "breaker.min_samples", &c->breaker_min_samples,
	        err, errlen) != 0 ||
	    cfg_tab_ms(t, r, "breaker.staleness", &c->breaker_staleness_ms,
	        err, errlen) != 0 ||
	    cfg_tab_ms(t, r, "breaker.cooloff", &c->breaker_cooloff_ms, err,
	        errlen) != 0 ||
	    cfg_tab_num(t, r, "budget.reserve_usd", &c->reserve_usd, err,
	        errlen) != 0 ||
	    cfg_tab_num(t, r, "budget.max_usd_per_day", &cap, err, errlen) !=
	        0)
		return (ERR_CONFIG);

	if (env_int("OPERATIONS_CENTER_MAX_EXEC_PER_HOUR", &c->max_per_hour,
	        err, errlen) != 0 ||
	    env_int("OPERATIONS_CENTER_MAX_EXEC_PER_DAY", &c->max_per_day, err,
	        errlen) != 0 ||
	    env_int("OPERATIONS_CENTER_MAX_RETRIES_PER_TASK", &c->max_retries,
	        err, errlen) != 0 ||
	    env_double("OPERATIONS_CENTER_CIRCUIT_BREAKER_THRESHOLD",
	        &c->breaker_threshold, err, errlen) != 0 ||
	    env_int("OPERATIONS_CENTER_CIRCUIT_BREAKER_WINDOW",
	        &c->breaker_window, err, errlen) != 0 ||
	    env_int("OPERATIONS_CENTER_CIRCUIT_BREAKER_STALENESS_HOURS",
	        &hours, err, errlen) != 0 ||
	    env_double(
	        "OPERATIONS_CENTER_MAX_USD_PER_DAY", &cap, err, errlen) != 0 ||
	    env_double("OPERATIONS_CENTER_SPEND_RESERVE_USD", &c->reserve_usd,
	        err, errlen) != 0)
		return (ERR_CONFIG);
	if (hours >= 0) {
		if (hours > INT64_MAX / HOUR_MS) {
			ERRF("OPERATIONS_CENTER_CIRCUIT_BREAKER_STALENESS_"
			     "HOURS:"
			     " too large");
			return (ERR_CONFIG);
		}
		c->breaker_staleness_ms = hours * HOUR_MS;
	}

	if (c->max_per_hour < 0 || c->max_per_day < 0 ||
	    c->max_concurrent < 0 || c->min_memory_mb < 0 ||
	    c->max_retries < 0 || c->breaker_window < 0 ||
	    c->breaker_min_samples < 1) {
		ERRF("router.budget/breaker: limits must be non-negative "
		     "(min_samples >= 1)");
		return (ERR_CONFIG);
	}
	if (!(c->reserve_usd >= 0 && c->reserve_usd <= 1e9) ||
	    (!isnan(cap) && !(cap >= 0 && cap <= 1e9))) {
		ERRF("router.budget: max_usd_per_day and reserve_usd must be "
		     "amounts in USD between 0 and 1e9");
		return (ERR_CONFIG);
	}
	c->max_usd_per_day = isnan(cap) ? -1 : cap;
	if (!(c->breaker_threshold > 0.0 && c->breaker_threshold <= 1.0)) {
		ERRF("circuit breaker threshold must be in (0, 1], got %g",
		    c->breaker_threshold);
		return (ERR_CONFIG);
	}
	/* the original clamps rather than rejects these two */
	if (c->max_retries < 1)
		c->max_retries = 1;
	if (c->breaker_window < 3)
		c->breaker_window = 3;
	return (0);
}

static struct gate
gate_ok(int64_t current, int64_t limit)
{
	return ((struct gate) {
	    .allowed = true, .current = current, .limit = limit });
}

static struct gate
gate_no(const char *reason, const char *window, int64_t current, int64_t limit)
{
	return ((struct gate) { .allowed = false,
	    .reason                      = reason,
	    .window                      = window,
	    .current                     = current,
	    .limit                       = limit });
}

struct gate
budget_check(const struct budget_cfg *c, const int64_t *dispatched_ms,
    size_t n, int64_t now_ms)
{
	int64_t hour = 0, day = 0;
	size_t  i;

	for (i = 0; i < n; i++) {
		if (dispatched_ms[i] > now_ms - HOUR_MS)
			hour++;
		if (dispatched_ms[i] > now_ms - DAY_MS)
			day++;
	}
	return (budget_check_counts(c, hour, day));
}

struct gate
budget_check_counts(const struct budget_cfg *c, int64_t hour, int64_t day)
{
	if (hour >= c->max_per_hour)
		return (gate_no(
		    "budget_exceeded", "hourly", hour, c->max_per_hour));
	if (day >= c->max_per_day)
		return (
		    gate_no("budget_exceeded", "daily", day, c->max_per_day));
	return (gate_ok(hour, c->max_per_hour));
}

struct gate
budget_retry_check(const struct budget_cfg *c, int64_t attempts,
    int64_t last_attempt_ms, int64_t now_ms, bool *reset)
{
	if (reset != NULL)
		*reset = false;
	if (attempts < c->max_retries)
		return (gate_ok(attempts, c->max_retries));
	if (now_ms - last_attempt_ms > c->retry_reset_ms) {
		if (reset != NULL)
			*reset = true;
		return (gate_ok(0, c->max_retries));
	}
	return (
	    gate_no("retry_cap_exceeded", "task", attempts, c->max_retries));
}

struct gate
budget_concurrency_check(const struct budget_cfg *c, int64_t running)
{
	if (c->max_concurrent > 0 && running >= c->max_concurrent)
		return (gate_no("global_concurrency_exceeded", "concurrent",
		    running, c->max_concurrent));
	return (gate_ok(running, c->max_concurrent));
}

struct gate
budget_memory_check(const struct budget_cfg *c, int64_t free_mb)
{
	if (free_mb >= 0 && c->min_memory_mb > 0 && free_mb < c->min_memory_mb)
		return (gate_no("global_memory_insufficient", "memory",
		    free_mb, c->min_memory_mb));
	return (gate_ok(free_mb, c->min_memory_mb));
}

static int
newest_first(const void *a, const void *b)
{
	const struct outcome *x = a, *y = b;

	return (x->at_ms < y->at_ms ? 1 : x->at_ms > y->at_ms ? -1 : 0);
}

struct breaker
budget_breaker_eval(const struct budget_cfg *c, const struct outcome *o,
    size_t n, int64_t now_ms)
{
	struct breaker  br = { 0 };
	struct outcome *v;
	size_t          i, m = 0;

	if (n == 0)
		return (br);
	v = xcalloc(n, sizeof(*v));
	for (i = 0; i < n; i++)
		if (!o[i].quota &&
		    o[i].at_ms > now_ms - c->breaker_staleness_ms)
			v[m++] = o[i];
	qsort(v, m, sizeof(*v), newest_first);
	for (i = 0; i < m && (int64_t) i < c->breaker_window; i++) {
		br.samples++;
		if (!v[i].success)
			br.failures++;
	}
	free(v);
	if (br.samples > 0)
		br.failure_rate = (double) br.failures / (double) br.samples;
	br.open = br.samples >= c->breaker_min_samples &&
	    br.failure_rate >= c->breaker_threshold;
	return (br);
}
