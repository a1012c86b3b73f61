/*
 * svc.c - the service skeleton: lifecycle, transactions, emit, heartbeats.
 *
 * Transitions of a batch transaction (one per group of applied messages or
 * per explicit svc_begin):
 *
 *   idle --begin--> open --emit/apply--> open --commit--> idle + publish
 *                    \--rollback--> idle (journal seq and cursors restored,
 *                                         pending frames dropped)
 *
 * Frames are published only after their transaction committed, so a
 * consumer never sees an event its producer might lose.  The consumer side
 * lives in svc_in.c and the ctl server in ctl.c.
 *
 * A full disk pauses writing (see svc.h), one episode at a time:
 *
 *   writing --a write refused (ERR_NOSPACE)--> paused, probe in 50 ms
 *   paused  --probe: short of space or a refused commit--> paused, the
 *             wait doubled (at most 5 s)
 *   paused  --probe: space and a commit that works--> writing: replay
 *             what was dropped, effects, journal svc.disk_full
 *
 * While paused nothing is applied and no effect runs, so a full disk
 * costs one probe per wait, never a loop of failing transactions.
 */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/log.h"
#include "svc_int.h"

#define NOSPACE_MIN_MS 50
#define NOSPACE_MAX_MS 5000

static void hb_timer_cb(struct loop *, void *);
static void idle_timer_cb(struct loop *, void *);
static void nospace_cb(struct loop *, void *);

void
svc_set_error(struct svc *svc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(svc->last_error, sizeof(svc->last_error), fmt, ap);
	va_end(ap);
}

/* space_path names where space is missing: the state dir when path is
 * on its filesystem (what an operator knows and frees), else path. */
static void
space_path(const struct svc *svc, const char *path, char *out, size_t len)
{
	struct stat a, b;

	if (stat(path, &a) == 0 && stat(svc->topo->state_dir, &b) == 0 &&
	    a.st_dev == b.st_dev)
		path = svc->topo->state_dir;
	snprintf(out, len, "%s", path);
}

const char *
svc_space_path(struct svc *svc)
{
	if (svc->nosp.backoff_ms == 0)
		space_path(svc, store_dir(svc->store), svc->nosp.path,
		    sizeof(svc->nosp.path));
	return (svc->nosp.path);
}

bool
svc_disk_full(const struct svc *svc)
{
	return (svc->nosp.backoff_ms > 0);
}

/* nospace_wait schedules the next probe after the episode's wait. */
static void
nospace_wait(struct svc *svc, int64_t ms)
{
	struct nospace *ns = &svc->nosp;

	if (ns->timer != 0)
		loop_timer_cancel(svc->loop, ns->timer);
	ns->retry_at = mono_ms() + ms;
	ns->timer    = loop_timer(svc->loop, ms, nospace_cb, svc);
}

void
svc_nospace(struct svc *svc, const char *path)
{
	struct nospace *ns = &svc->nosp;

	svc_count(svc, "disk_full", 1);
	ns->failures++;
	if (ns->backoff_ms > 0)
		return; /* the probe decides when to try again */
	space_path(svc, path, ns->path, sizeof(ns->path));
	ns->since      = now_ms();
	ns->backoff_ms = NOSPACE_MIN_MS;
	/* Full again soon after the probe said it was over (a quota statvfs
	 * does not show, a probe that found room in the WAL): go on where
	 * that episode's backoff was, never back to a short wait. */
	if (ns->last_end > 0 && mono_ms() - ns->last_end < 2 * NOSPACE_MAX_MS)
		ns->backoff_ms = ns->last_wait * 2 > NOSPACE_MAX_MS
		    ? NOSPACE_MAX_MS
		    : ns->last_wait * 2;
	svc_set_error(svc, "disk full: %s", ns->path);
	log_error("svc.disk_full",
	    "no space left on %s (%s): writes paused; "
	    "tried again in %lld ms, then doubling up to %d ms",
	    ns->path, path, (long long) ns->backoff_ms, NOSPACE_MAX_MS);
	nospace_wait(svc, ns->backoff_ms);
}

/* nospace_over ends an episode: writes work again. */
static void
nospace_over(struct svc *svc)
{
	struct nospace          *ns = &svc->nosp;
	struct msg_svc_disk_full ev;
	char                     path[sizeof(ns->path)];

	memcpy(path, ns->path, sizeof(path));
	memset(&ev, 0, sizeof(ev));
	ev.path       = path;
	ev.since_ms   = ns->since;
	ev.resumed_ms = now_ms();
	ev.failures   = ns->failures;
	log_info("svc.disk_ok",
	    "%s: writes work again after %lld ms and "
	    "%lld refused writes: resuming",
	    path, (long long) (ev.resumed_ms - ns->since),
	    (long long) ns->failures);
	if (strncmp(svc->last_error, "disk full: ", 11) == 0)
		svc->last_error[0] = '\0';
	if (ns->timer != 0)
		loop_timer_cancel(svc->loop, ns->timer);
	ns->timer      = 0;
	ns->last_end   = mono_ms();
	ns->last_wait  = ns->backoff_ms;
	ns->backoff_ms = ns->retry_at = ns->since = ns->failures = 0;
	/* Journaled once writes work: several daemons on one disk report
	 * one incident, which the escalator escalates once. */
	(void) svc_emit(svc, MSG_SVC_DISK_FULL, NULL, &ev);
	if (svc_disk_full(svc))
		return; /* full again at once */
	svc_ups_resume(svc);
	svc_after_batch(svc);
}

static void
nospace_cb(struct loop *l, void *arg)
{
	struct svc     *svc = arg;
	struct nospace *ns  = &svc->nosp;
	int64_t         room;
	int             rv;

	UNUSED(l);
	ns->timer = 0;
	if (ns->backoff_ms == 0)
		return;
	room = fs_free(ns->path);
	if (room >= 0 && room < FS_SPACE_MIN)
		rv = ERR_NOSPACE;
	else if (svc->txn)
		rv = ERR_STATE; /* not here: the loop runs between batches */
	else
		rv = store_probe(svc->store);
	if (rv == 0) {
		nospace_over(svc);
		return;
	}
	if (rv == ERR_NOSPACE) {
		svc_count(svc, "disk_full", 1);
		ns->failures++;
	}
	if (ns->backoff_ms < NOSPACE_MAX_MS) {
		ns->backoff_ms = ns->backoff_ms * 2 > NOSPACE_MAX_MS
		    ? NOSPACE_MAX_MS
		    : ns->backoff_ms * 2;
		if (ns->backoff_ms == NOSPACE_MAX_MS)
			log_warn("svc.disk_full",
			    "%s: still no space after "
			    "%lld ms: trying every %d ms",
			    ns->path, (long long) (now_ms() - ns->since),
			    NOSPACE_MAX_MS);
	}
	nospace_wait(svc, ns->backoff_ms);
}

static void
publish_pending(struct svc *svc)
{
	size_t i, off = 0;
	int    rv;

	for (i = 0; i < svc->npending; i++) {
		rv = bus_send(svc->pub, svc->pending.data + off, svc->plens[i],
		    BUS_NONBLOCK);
		/* A dropped publish is recovered by replay (gap or
		 * heartbeat seq), so it is counted, not retried. */
		if (rv != 0)
			svc_count(svc, "publish_errors", 1);
		else
			svc->c.msgs_out++;
		off += svc->plens[i];
	}
	buf_reset(&svc->pending);
	svc->npending = 0;
}

static void
add_pending(struct svc *svc, size_t start)
{
	if (svc->npending == svc->cappending) {
		svc->cappending = svc->cappending ? svc->cappending * 2 : 64;
		svc->plens      = xrealloc(
		         svc->plens, svc->cappending * sizeof(*svc->plens));
	}
	svc->plens[svc->npending++] = svc->pending.len - start;
}

int
svc_txn_begin(struct svc *svc)
{
	int rv;

	if (svc->txn)
		return (0);
	if ((rv = store_begin(svc->store)) != 0) {
		if (rv == ERR_NOSPACE)
			svc_nospace(svc, store_dir(svc->store));
		return (rv);
	}
	svc->txn = true;
	return (0);
}

int
svc_txn_commit(struct svc *svc)
{
	size_t i;
	int    rv;

	if (!svc->txn)
		return (0);
	for (i = 0; i < svc->nups; i++) {
		struct upstream *up = &svc->ups[i];

		if (up->cursor == up->committed)
			continue;
		if ((rv = journal_cursor_set(
		         svc->store, up->name, up->cursor)) != 0) {
			svc_txn_rollback(svc);
			return (rv);
		}
	}
	if ((rv = store_commit(svc->store)) != 0) {
		svc->txn = false;
		svc_txn_rollback(svc);
		return (store_full(svc->store) ? ERR_NOSPACE : rv);
	}
	svc->txn = false;
	for (i = 0; i < svc->nups; i++)
		svc->ups[i].committed = svc->ups[i].cursor;
	publish_pending(svc);
	/* a commit that works ends an episode: probe at once */
	if (svc->nosp.backoff_ms > 0 && svc->nosp.retry_at > mono_ms())
		nospace_wait(svc, 0);
	return (0);
}

void
svc_txn_rollback(struct svc *svc)
{
	size_t i;

	if (svc->txn)
		(void) store_rollback(svc->store);
	svc->txn = false;
	(void) journal_abort(svc->journal);
	for (i = 0; i < svc->nups; i++)
		svc->ups[i].cursor = svc->ups[i].committed;
	buf_reset(&svc->pending);
	svc->npending = 0;
	svc_count(svc, "rollbacks", 1);
	/* whatever made the caller give up, a write refused for want of
	 * space is why: pause */
	if (store_full(svc->store))
		svc_nospace(svc, store_dir(svc->store));
}

int
svc_begin(struct svc *svc)
{
	if (svc->txn)
		return (ERR_STATE);
	return (svc_txn_begin(svc));
}

int
svc_commit(struct svc *svc)
{
	if (!svc->txn)
		return (ERR_STATE);
	return (svc_txn_commit(svc));
}

int
svc_rollback(struct svc *svc)
{
	if (!svc->txn)
		return (ERR_STATE);
	svc_txn_rollback(svc);
	return (0);
}

static int
emit_volatile(
    struct svc *svc, enum msg_topic t, const char *corr, const void *body)
{
	struct msg_hdr hdr;
	struct buf     b;
	char           id[300];
	int            rv;

	snprintf(id, sizeof(id), "%s:v%llu", svc->inst->name,
	    (unsigned long long) ++svc->hb_count);
	memset(&hdr, 0, sizeof(hdr));
	hdr.src  = svc->inst->name;
	hdr.id   = id;
	hdr.ts   = now_ms();
	hdr.corr = corr;
	buf_init(&b);
	if ((rv = msg_pack(&b, t, &hdr, body)) == 0 &&
	    (rv = bus_send(svc->pub, b.data, b.len, BUS_NONBLOCK)) == 0)
		svc->c.msgs_out++;
	buf_fini(&b);
	return (rv);
}

int
svc_emit(struct svc *svc, enum msg_topic t, const char *corr, const void *body)
{
	size_t start;
	bool   own = false;
	int    rv;

	if ((unsigned) t >= MSG__COUNT || t == MSG_NONE)
		return (ERR_INVAL);
	if (!msg_topic_defs[t].durable)
		return (emit_volatile(svc, t, corr, body));
	if (!svc->txn) {
		if ((rv = svc_txn_begin(svc)) != 0)
			return (rv);
		own = true;
	}
	start = svc->pending.len;
	rv    = journal_append(svc->journal, t, corr, body, &svc->pending);
	if (rv == 0)
		add_pending(svc, start);
	if (own) {
		if (rv == 0)
			rv = svc_txn_commit(svc);
		else
			svc_txn_rollback(svc);
	}
	if (rv != 0)
		log_error(
		    "svc.emit", "%s: %s", msg_topic_name(t), err_str(rv));
	return (rv);
}

void
svc_after_batch(struct svc *svc)
{
	if (svc->def->idle != NULL && svc->inited && svc_caught_up(svc) &&
	    !svc_disk_full(svc))
		svc->def->idle(svc, svc->state);
}

static void
send_heartbeat(struct svc *svc)
{
	struct msg_heartbeat      hb;
	struct msg_heartbeat_info info;

	memset(&info, 0, sizeof(info));
	if (svc->def->heartbeat != NULL)
		svc->def->heartbeat(svc, svc->state, &info);
	/* the supervisor shows it (opc heartbeat-check) */
	if (svc_disk_full(svc))
		info.disk_full = xstrdup(svc->nosp.path);
	memset(&hb, 0, sizeof(hb));
	hb.service   = (char *) svc->inst->service;
	hb.last_seq  = (int64_t) journal_last_seq(svc->journal);
	hb.pid       = getpid();
	hb.uptime_ms = mono_ms() - svc->started;
	hb.state     = svc->last_error[0] ? "degraded" : "ok";
	hb.caught_up = svc_caught_up(svc);
	hb.info      = &info;
	(void) svc_emit(svc, MSG_HEARTBEAT, NULL, &hb);
	msg_heartbeat_info_fini(&info);
}

static void
hb_timer_cb(struct loop *l, void *arg)
{
	struct svc *svc = arg;

	send_heartbeat(svc);
	svc_ups_check(svc);
	svc->hb_timer =
	    loop_timer(l, svc->topo->heartbeat_ms, hb_timer_cb, svc);
}

static void
idle_timer_cb(struct loop *l, void *arg)
{
	struct svc *svc = arg;
	uint64_t    first, last;

	last  = journal_last_seq(svc->journal);
	first = journal_first_seq(svc->journal);
	/* Trim in slices so one idle tick never holds the db for long. */
	if (!svc_disk_full(svc) && last >= first &&
	    last - first + 1 > (uint64_t) svc->topo->journal_retention +
	            (uint64_t) svc->topo->journal_retention / 10 &&
	    svc_txn_begin(svc) == 0) {
		if (journal_trim(svc->journal,
		        (uint64_t) svc->topo->journal_retention) == 0)
			(void) svc_txn_commit(svc);
		else
			svc_txn_rollback(svc);
	}
	svc_after_batch(svc);
	svc->idle_timer = loop_timer(l, svc->idle_ms, idle_timer_cb, svc);
}

static void
index_tables(struct svc *svc)
{
	const struct svc_handler *h;
	const struct svc_ctl     *c;

	for (h = svc->def->handlers; h != NULL && h->fn != NULL; h++)
		if ((unsigned) h->topic < MSG__COUNT)
			svc->handler[h->topic] = h->fn;
	for (c = svc->def->ctls; c != NULL && c->fn != NULL; c++)
		if ((unsigned) c->topic < MSG__COUNT)
			svc->ctlfn[c->topic] = c->fn;
}

/* check_config checks the instance's section against the service's
 * table and every instance's keys, once, before anything starts: each
 * problem is logged with file:line:col.  A valid section's settings that
 * differ from their defaults are logged (config_drift_detected). */
static int
check_config(const struct svc_def *def, const struct topo_inst *in)
{
	const struct cfg_key tab[] = { CFG_INCLUDE(topo_inst_keys),
		CFG_INCLUDE(def->config), CFG_END };
	struct buf           b, d;
	char                *line, *save = NULL;
	int                  n, nd;

	if (def->config == NULL)
		return (0);
	buf_init(&b);
	if ((n = cfg_check(in->node, tab, in->name, &b)) > 0) {
		for (line = strtok_r(buf_cstr(&b), "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save))
			log_error("svc.config", "%s", line);
	} else if ((nd = cfg_drift(in->node, tab, in->name, &b)) > 0) {
		buf_init(&d);
		for (line = strtok_r(buf_cstr(&b), "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save))
			buf_printf(&d, "%s%s", d.len ? "; " : "", line);
		log_info("config_drift_detected",
		    "%s: %d setting%s differ%s "
		    "from the defaults: %s",
		    in->name, nd, nd == 1 ? "" : "s", nd == 1 ? "s" : "",
		    buf_cstr(&d));
		buf_fini(&d);
	}
	buf_fini(&b);
	return (n > 0 ? ERR_CONFIG : 0);
}

int
svc_open(struct svc **sp, const struct svc_def *def, struct topo *topo,
    const char *name, const char *db_path)
{
	struct svc *svc;
	char        err[512], *path = NULL;
	int         rv, fd;

	*sp           = NULL;
	svc           = xcalloc(1, sizeof(*svc));
	svc->def      = def;
	svc->topo     = topo;
	svc->started  = mono_ms();
	svc->counters = json_object();
	buf_init(&svc->pending);
	if ((svc->inst = topo_find(topo, name)) == NULL) {
		log_error("svc.open", "no instance '%s' in %s", name,
		    topo->config_path);
		rv = ERR_NOTFOUND;
		goto fail;
	}
	if ((rv = check_config(def, svc->inst)) != 0)
		goto fail;
	svc->grace_ms = 3 * topo->heartbeat_ms;
	if ((rv = cfg_tab_ms(topo_inst_keys, svc->inst->node, "idle_ms",
	         &svc->idle_ms, err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_ms(topo_inst_keys, svc->inst->node,
	         "catchup_grace_ms", &svc->grace_ms, err, sizeof(err))) != 0) {
		log_error("svc.config", "%s", err);
		goto fail;
	}
	svc->state = xcalloc(1, def->state_size ? def->state_size : 1);
	index_tables(svc);
	if (db_path == NULL) {
		(void) mkdirs(topo->state_dir, 0700);
		path    = xasprintf("%s/%s.db", topo->state_dir, name);
		db_path = path;
	}
	if ((rv = loop_open(&svc->loop)) != 0 ||
	    (rv = store_open(&svc->store, db_path)) != 0 ||
	    (rv = journal_open(&svc->journal, svc->store, name)) != 0)
		goto fail;
	if (def->init != NULL && (rv = def->init(svc, svc->state)) != 0) {
		log_error(
		    "svc.init", "%s: init failed: %s", name, err_str(rv));
		goto fail;
	}
	svc->inited = true;
	if (strncmp(svc->inst->pub, "ipc://", 6) == 0)
		(void) mkdirs(topo->run_dir, 0700);
	if ((rv = bus_open(&svc->pub, BUS_PUB, svc->inst->pub)) != 0 ||
	    (rv = bus_open(&svc->ctl, BUS_REP, svc->inst->ctl)) != 0 ||
	    (rv = bus_fd(svc->ctl, &fd)) != 0 ||
	    (rv = loop_add_fd(svc->loop, fd, POLLIN, svc_ctl_cb, svc)) != 0)
		goto fail;
	if ((rv = svc_ups_open(svc)) != 0)
		goto fail;
	svc->hb_timer = loop_timer(svc->loop, 0, hb_timer_cb, svc);
	svc->idle_timer =
	    loop_timer(svc->loop, svc->idle_ms, idle_timer_cb, svc);
	free(path);
	*sp = svc;
	return (0);

fail:
	free(path);
	svc_close(&svc);
	return (rv);
}

void
svc_close(struct svc **sp)
{
	struct svc *svc = *sp;

	if (svc == NULL)
		return;
	if (svc->txn)
		svc_txn_rollback(svc);
	if (svc->nosp.timer != 0)
		loop_timer_cancel(svc->loop, svc->nosp.timer);
	if (svc->inited && svc->def->fini != NULL)
		svc->def->fini(svc, svc->state);
	/* State first: closing sockets may hang (see svc_main). */
	journal_close(&svc->journal);
	store_close(&svc->store);
	svc_ups_close(svc);
	bus_close(&svc->ctl);
	bus_close(&svc->pub);
	loop_close(&svc->loop);
	buf_fini(&svc->pending);
	free(svc->plens);
	json_decref(svc->counters);
	free(svc->state);
	free(svc);
	*sp = NULL;
}

int
svc_run(struct svc *svc)
{
	log_info("svc.start", "%s (%s) pid %d pub %s ctl %s seq %llu",
	    svc->inst->name, svc->inst->service, (int) getpid(),
	    svc->inst->pub, svc->inst->ctl,
	    (unsigned long long) journal_last_seq(svc->journal));
	if (svc->inst->ctl != NULL &&
	    strncmp(svc->inst->ctl, "tcp://", 6) == 0)
		log_warn("svc.insecure_ctl", "%s: ctl %s is plain tcp: %s",
		    svc->inst->name, svc->inst->ctl,
		    svc->topo->insecure_ctl
		        ? "opcenter.insecure_ctl lets any peer inject and "
		          "change state"
		        : "state changes over it are refused (tls+tcp "
		          "authenticates peers)");
	return (loop_run(svc->loop));
}

void
svc_stop(struct svc *svc)
{
	uint64_t one = 1;

	if (write(loop_wakeup_fd(svc->loop), &one, sizeof(one)) < 0)
		log_warn("svc.stop", "wakeup: write failed");
}

bool
svc_caught_up(const struct svc *svc)
{
	int64_t now = mono_ms();
	size_t  i;

	for (i = 0; i < svc->nups; i++) {
		const struct upstream *up = &svc->ups[i];

		if (!up->reached) {
			if (now - svc->started < svc->grace_ms)
				return (false);
			continue; /* unreachable: don't freeze effects */
		}
		if (up->replaying || up->cursor < up->known)
			return (false);
	}
	return (true);
}

struct store *
svc_store(struct svc *svc)
{
	return (svc->store);
}

struct loop *
svc_loop(struct svc *svc)
{
	return (svc->loop);
}

const struct topo *
svc_topo(const struct svc *svc)
{
	return (svc->topo);
}

const struct topo_inst *
svc_inst(const struct svc *svc)
{
	return (svc->inst);
}

const struct cfg_node *
svc_cfg(const struct svc *svc)
{
	return (svc->inst->node);
}

const struct cfg_node *
svc_cfg_root(const struct svc *svc)
{
	return (cfg_root(svc->topo->cfg));
}

const char *
svc_name(const struct svc *svc)
{
	return (svc->inst->name);
}

void *
svc_state(struct svc *svc)
{
	return (svc->state);
}

uint64_t
svc_last_seq(const struct svc *svc)
{
	return (journal_last_seq(svc->journal));
}

uint64_t
svc_cursor(const struct svc *svc, const char *upstream)
{
	size_t i;

	for (i = 0; i < svc->nups; i++)
		if (strcmp(svc->ups[i].name, upstream) == 0)
			return (svc->ups[i].committed);
	return (0);
}

void
svc_count(struct svc *svc, const char *name, int64_t by)
{
	json_t *v = json_object_get(svc->counters, name);

	if (v == NULL)
		json_object_set_new(svc->counters, name, json_integer(by));
	else
		json_integer_set(v, json_integer_value(v) + by);
}

static void
on_signal(struct loop *l, int signo, void *arg)
{
	UNUSED(arg);
	log_info("svc.signal", "signal %d: stopping", signo);
	loop_stop(l);
}

static void
usage(const struct svc_def *def, FILE *f)
{
	const struct svc_opt *o;
	char                  lhs[64];

	fprintf(f,
	    "usage: opc-%s [-c CONFIG] [-n INSTANCE]%s\n"
	    "\n"
	    "Runs one %s instance of the opcenter constellation.\n"
	    "  -c, --config FILE    topology and settings (default: "
	    "$OPC_CONFIG or config/opcenter.yaml)\n"
	    "  -n, --name NAME      instance name in the config (default: "
	    "%s)\n",
	    def->name, def->opts ? " [OPTIONS]" : "", def->name, def->name);
	for (o = def->opts; o != NULL && o->name != NULL; o++) {
		snprintf(lhs, sizeof(lhs), "--%s%s%s", o->name,
		    o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(f, "      %-20s %s\n", lhs, o->help);
	}
	fprintf(f, "  -h, --help           this help\n");
}

/* supervised: started by opc-supervisor (OPC_SUPERVISOR_PID), a daemon
 * gets SIGTERM when the supervisor dies, however it dies (kill -9, the
 * OOM killer): never a daemon without a parent that manages it.  The
 * variable is not passed on (an executor's workers outlive it on
 * purpose).  1 when the supervisor is already gone. */
static int
supervised(void)
{
	const char *v = getenv("OPC_SUPERVISOR_PID");
	long        want;

	if (v == NULL)
		return (0);
	want = strtol(v, NULL, 10);
	(void) unsetenv("OPC_SUPERVISOR_PID");
	(void) prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (want > 1 && getppid() != (pid_t) want) {
		fprintf(
		    stderr, "supervisor %ld is gone: not starting\n", want);
		return (1);
	}
	return (0);
}

int
svc_main(const struct svc_def *def, int argc, char **argv)
{
	struct option opts[32] = {
		{ "config", required_argument, NULL, 'c' },
		{ "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
	};
	size_t           nopt = 3, k;
	sigset_t         stopset;
	static const int sigs[] = { SIGTERM, SIGINT };
	struct topo     *topo   = NULL;
	struct svc      *svc    = NULL;
	const char      *config = topo_default_config(), *name = def->name;
	char             err[1024], *logpath;
	int              ch, rv;

	/* Everything a daemon creates (dbs, WALs, logs, sockets, evidence,
	 * workspaces) is its user's alone, even in a state directory an
	 * installer made 0755: task text and comments are in there. */
	(void) umask(077);
	if (supervised() != 0)
		return (1);
	for (k = 0; def->opts != NULL && def->opts[k].name != NULL &&
	     nopt < nitems(opts) - 1;
	     k++, nopt++) {
		opts[nopt].name = def->opts[k].name;
		opts[nopt].has_arg =
		    def->opts[k].arg ? required_argument : no_argument;
		opts[nopt].val = 256 + (int) k;
	}
	while ((ch = getopt_long(argc, argv, "c:n:h", opts, NULL)) != -1) {
		if (ch >= 256) {
			def->opts[ch - 256].set(optarg);
			continue;
		}
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'h':
			usage(def, stdout);
			return (0);
		default:
			usage(def, stderr);
			return (2);
		}
	}
	if (optind != argc) {
		usage(def, stderr);
		return (2);
	}
	log_init(name, NULL, LOG_INFO);
	if (topo_load(&topo, config, err, sizeof(err)) != 0) {
		log_error("svc.config", "%s", err);
		return (1);
	}
	(void) mkdirs(topo->log_dir, 0700);
	logpath = xasprintf("%s/%s.log", topo->log_dir, name);
	log_init(name, logpath, LOG_INFO);
	free(logpath);
	signal(SIGPIPE, SIG_IGN);
	/* Block the stop signals before nng starts its threads: a thread
	 * that does not block them would take SIGTERM's default action. */
	sigemptyset(&stopset);
	for (k = 0; k < nitems(sigs); k++) {
		signal(sigs[k], SIG_DFL);
		sigaddset(&stopset, sigs[k]);
	}
	(void) sigprocmask(SIG_BLOCK, &stopset, NULL);
	if ((rv = svc_open(&svc, def, topo, name, NULL)) != 0) {
		log_error(
		    "svc.start", "%s: cannot start: %s", name, err_str(rv));
		topo_close(&topo);
		return (1);
	}
	(void) loop_signals(
	    svc->loop, sigs, (int) nitems(sigs), on_signal, NULL);
	rv = svc_run(svc);
	if (def->shutdown != NULL)
		def->shutdown(svc, svc->state);
	log_info("svc.stop", "%s: stopped", name);
	/* nng_close can hang when a tcp peer vanished (nng #1543): the db
	 * is closed first, then sockets get a bounded time. */
	signal(SIGALRM, SIG_DFL);
	alarm(5);
	svc_close(&svc);
	topo_close(&topo);
	log_fini();
	return (rv == 0 ? 0 : 1);
}
