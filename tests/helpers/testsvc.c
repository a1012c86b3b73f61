/*
 * testsvc.c - testprod and testcons (see testsvc.h).
 *
 * testprod config (its instance section): produce (events, default 0),
 * batch (events per transaction, default 100), interval_ms (between
 * batches, default 0), payload_bytes (default 16).
 * testcons config: slow_us (sleep per event, to make kills land mid-batch
 * in tests; default 0), fail_every, echo, full_at and full_ms (the disk
 * fills when event n = full_at is applied: sqlite says SQLITE_FULL from
 * then on, max_page_count, and every event writes a 2 KiB pad so that it
 * soon does; full_ms later it has room again).  prod_keys and
 * cons_keys say so, and each refuses an unknown key at start.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/loop.h"
#include "opc/store.h"
#include "testsvc.h"

/* Their settings, as config tables (opc/cfg.h): a daemon refuses an
 * unknown key or a bad value at start, as the real services do. */
static const struct cfg_key prod_keys[] = {
	CFG_INT("produce", "0", "0", NULL, "events to produce"),
	CFG_INT("batch", "100", "1", NULL, "events per transaction"),
	CFG_MS("interval_ms", "0", "0", NULL, "between batches"),
	CFG_INT("payload_bytes", "16", "0", "1048576", "each event's payload"),
	CFG_END,
};

static const struct cfg_key cons_keys[] = {
	CFG_INT("slow_us", "0", "0", NULL, "sleep per event"),
	CFG_INT("fail_every", "0", "0", NULL,
	    "every Nth event's handler fails (0: none)"),
	CFG_BOOL("echo", "false", "log each event"),
	CFG_INT("full_at", "0", "0", NULL,
	    "the disk fills at this event (0: never)"),
	CFG_MS("full_ms", "1s", "0", NULL, "and has room again this later"),
	CFG_END,
};

struct prod {
	int64_t  produce;
	int64_t  batch;
	int64_t  interval_ms;
	char    *payload;
	uint64_t timer;
};

static void
prod_tick(struct loop *l, void *arg)
{
	struct svc           *svc = arg;
	struct prod          *p   = svc_state(svc);
	struct msg_test_event ev;
	int64_t               i, next;

	p->timer = 0;
	next     = (int64_t) svc_last_seq(svc) + 1;
	if (next > p->produce)
		return;
	if (svc_begin(svc) != 0)
		return;
	for (i = 0; i < p->batch && next <= p->produce; i++, next++) {
		memset(&ev, 0, sizeof(ev));
		ev.n       = next;
		ev.payload = p->payload;
		if (svc_emit(svc, MSG_TEST_EVENT, NULL, &ev) != 0) {
			(void) svc_rollback(svc);
			return;
		}
	}
	(void) svc_commit(svc);
	if (next <= p->produce)
		p->timer = loop_timer(l, p->interval_ms, prod_tick, svc);
}

static int
prod_init(struct svc *svc, void *state)
{
	struct prod *p = state;
	int64_t      bytes;
	char         err[256];

	if (cfg_tab_int(prod_keys, svc_cfg(svc), "produce", &p->produce, err,
	        sizeof(err)) != 0 ||
	    cfg_tab_int(prod_keys, svc_cfg(svc), "batch", &p->batch, err,
	        sizeof(err)) != 0 ||
	    cfg_tab_ms(prod_keys, svc_cfg(svc), "interval_ms", &p->interval_ms,
	        err, sizeof(err)) != 0 ||
	    cfg_tab_int(prod_keys, svc_cfg(svc), "payload_bytes", &bytes, err,
	        sizeof(err)) != 0) {
		log_error("testprod.config", "%s", err);
		return (ERR_CONFIG);
	}
	if (bytes < 0 || bytes > 1 << 20 || p->batch < 1)
		return (ERR_CONFIG);
	p->payload = xmalloc((size_t) bytes + 1);
	memset(p->payload, 'x', (size_t) bytes);
	p->payload[bytes] = '\0';
	return (0);
}

static void
prod_idle(struct svc *svc, void *state)
{
	struct prod *p = state;

	if (p->timer == 0 && (int64_t) svc_last_seq(svc) < p->produce)
		p->timer = loop_timer(svc_loop(svc), 0, prod_tick, svc);
}

static void
prod_fini(struct svc *svc, void *state)
{
	struct prod *p = state;

	if (p->timer != 0)
		loop_timer_cancel(svc_loop(svc), p->timer);
	free(p->payload);
}

static void
prod_status(struct svc *svc, void *state, json_t *o)
{
	struct prod *p = state;

	UNUSED(svc);
	json_object_set_new(o, "produce", json_integer(p->produce));
}

const struct svc_def testprod_service = {
	.config     = prod_keys,
	.name       = "testprod",
	.state_size = sizeof(struct prod),
	.init       = prod_init,
	.fini       = prod_fini,
	.idle       = prod_idle,
	.status     = prod_status,
};

struct cons {
	int64_t slow_us;
	int64_t fail_every; /* n % fail_every == 0: write, emit, then fail */
	int     echo;       /* re-emit every event as our own test.event */
	int64_t full_at;    /* the disk fills at event n = full_at */
	int64_t full_ms;    /* and has room again full_ms later */
	int     filled;
};

static void
empty_disk(struct loop *l, void *arg)
{
	UNUSED(l);
	log_info("testcons.disk", "room again");
	(void) store_exec(svc_store(arg), "PRAGMA max_page_count=1073741823");
}

/* fill_disk: the db may not grow from now on (SQLITE_FULL), for a
 * while. */
static int
fill_disk(struct svc *svc, struct cons *c)
{
	int64_t pages = 0;
	char    sql[64];
	int     rv;

	c->filled = 1;
	if ((rv = store_int(
	         svc_store(svc), &pages, 0, "PRAGMA page_count", NULL)) != 0)
		return (rv);
	snprintf(
	    sql, sizeof(sql), "PRAGMA max_page_count=%lld", (long long) pages);
	log_info("testcons.disk", "full at %lld pages", (long long) pages);
	(void) loop_timer(svc_loop(svc), c->full_ms, empty_disk, svc);
	return (store_exec(svc_store(svc), sql));
}

static int
cons_init(struct svc *svc, void *state)
{
	struct cons *c = state;
	char         err[256];

	if (cfg_tab_int(cons_keys, svc_cfg(svc), "slow_us", &c->slow_us, err,
	        sizeof(err)) != 0 ||
	    cfg_tab_int(cons_keys, svc_cfg(svc), "fail_every", &c->fail_every,
	        err, sizeof(err)) != 0 ||
	    cfg_tab_bool(cons_keys, svc_cfg(svc), "echo", &c->echo, err,
	        sizeof(err)) != 0 ||
	    cfg_tab_int(cons_keys, svc_cfg(svc), "full_at", &c->full_at, err,
	        sizeof(err)) != 0 ||
	    cfg_tab_ms(cons_keys, svc_cfg(svc), "full_ms", &c->full_ms, err,
	        sizeof(err)) != 0) {
		log_error("testcons.config", "%s", err);
		return (ERR_CONFIG);
	}
	/* No uniqueness on purpose: a duplicate must show up as a row. */
	return (store_exec(svc_store(svc),
	    "CREATE TABLE IF NOT EXISTS got ("
	    " id INTEGER PRIMARY KEY AUTOINCREMENT, src TEXT NOT NULL,"
	    " seq INTEGER NOT NULL, n INTEGER NOT NULL);"
	    "CREATE TABLE IF NOT EXISTS pad (b BLOB)"));
}

static int
on_test_event(struct svc *svc, const struct msg *m, void *state)
{
	struct cons    *c = state;
	struct timespec ts;
	int             rv;

	if (c->slow_us > 0) {
		ts.tv_sec  = 0;
		ts.tv_nsec = c->slow_us * 1000;
		nanosleep(&ts, NULL);
	}
	if (c->full_at > 0 && !c->filled &&
	    m->body.test_event.n == c->full_at &&
	    (rv = fill_disk(svc, c)) != 0)
		return (rv);
	if (c->full_at > 0 &&
	    (rv = store_run(svc_store(svc),
	         "INSERT INTO pad VALUES (zeroblob(2048))", NULL)) != 0)
		return (rv);
	if ((rv = store_run(svc_store(svc),
	         "INSERT INTO got(src, seq, n) VALUES (?, ?, ?)", "tii",
	         m->src, (int64_t) m->seq, m->body.test_event.n)) != 0)
		return (rv);
	if (c->echo) {
		struct msg_test_event ev = { .n = m->body.test_event.n,
			.payload                = "echo" };

		if ((rv = svc_emit(svc, MSG_TEST_EVENT, NULL, &ev)) != 0)
			return (rv);
	}
	/* a poison message: its writes and emits must vanish */
	if (c->fail_every > 0 && m->body.test_event.n % c->fail_every == 0)
		return (ERR_INVAL);
	return (0);
}

static void
cons_status(struct svc *svc, void *state, json_t *o)
{
	int64_t n = 0;

	UNUSED(state);
	(void) store_int(
	    svc_store(svc), &n, 0, "SELECT count(*) FROM got", NULL);
	json_object_set_new(o, "got", json_integer(n));
}

static const struct svc_handler cons_handlers[] = {
	{ MSG_TEST_EVENT, on_test_event },
	{ MSG_NONE, NULL },
};

const struct svc_def testcons_service = {
	.config     = cons_keys,
	.name       = "testcons",
	.state_size = sizeof(struct cons),
	.init       = cons_init,
	.handlers   = cons_handlers,
	.status     = cons_status,
};
