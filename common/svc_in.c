/*
 * svc_in.c - the consumer side of the bus contract (DESIGN.md section 2).
 *
 * Per upstream: live events arrive on SUB; an event is applied only when
 * its seq is exactly cursor+1.  seq <= cursor is a duplicate (dropped); a
 * larger seq is a gap: the event is dropped and a replay {from: cursor+1}
 * is asked of the upstream's ctl.  Heartbeats carry the upstream's last
 * seq, so a lost tail is noticed too.  The in-order rule alone makes it
 * safe to keep applying live events while a replay is in flight: whatever
 * the replay brings twice drops as a duplicate.  A replay
 * answer flagged `truncated` (cursor older than the producer's retention)
 * raises a bus.data_loss event and an error log: never a silent skip.
 *
 * Applying happens in batches: one transaction for up to SVC_BATCH_MAX
 * messages, cursors written in the same transaction (group commit).
 */
#include <stdio.h>
#include <string.h>

#include "opc/err.h"
#include "opc/log.h"
#include "svc_int.h"

static void sub_cb(struct loop *, int, short, void *);
static void req_cb(struct loop *, int, short, void *);
static void start_replay(struct upstream *);

static void
count_decode_error(struct svc *svc, int rv, const char *from, const char *why)
{
	if (rv == ERR_UNKNOWN)
		svc->c.unknown_topics++;
	else
		svc->c.decode_errors++;
	/* Bounded logging: the first few, then every 1000th. */
	if (svc->c.decode_errors + svc->c.unknown_topics <= 10 ||
	    (svc->c.decode_errors + svc->c.unknown_topics) % 1000 == 0)
		log_warn(rv == ERR_UNKNOWN ? "bus.unknown_topic"
		                           : "bus.bad_message",
		    "from %s: %s", from, why);
	svc_set_error(svc, "bad message from %s: %s", from, why);
}

int
svc_dispatch(struct svc *svc, const struct msg *m)
{
	svc_msg_fn fn = svc->handler[m->topic];
	size_t     np, plen;
	bool       sp;
	int        rv;

	if (fn == NULL) {
		svc_count(svc, "unhandled", 1);
		return (0);
	}
	/* A handler that fails leaves nothing behind: its writes and
	 * emits are rolled back to a savepoint, the rest of the batch
	 * stands, and the message is consumed (a poison message must not
	 * block the stream). */
	np   = svc->npending;
	plen = svc->pending.len;
	sp   = svc->txn && store_exec(svc->store, "SAVEPOINT handler") == 0;
	rv   = fn(svc, m, svc->state);
	if (store_full(svc->store)) {
		/* Not the message's fault, even if the handler went on
		 * regardless: the whole batch is rolled back (sqlite may
		 * have done so already) and applied again once writes
		 * work; nothing is consumed. */
		svc_txn_rollback(svc);
		return (ERR_NOSPACE);
	}
	if (rv != 0 && sp) {
		(void) store_exec(svc->store, "ROLLBACK TO handler");
		(void) journal_abort(svc->journal);
		svc->npending    = np;
		svc->pending.len = plen;
	}
	if (sp)
		(void) store_exec(svc->store, "RELEASE handler");
	if (rv != 0) {
		svc->c.handler_errors++;
		log_warn("svc.handler", "%s %s from %s: %s",
		    msg_topic_name(m->topic), m->id, m->src, err_str(rv));
		svc_set_error(svc, "handler %s: %s", msg_topic_name(m->topic),
		    err_str(rv));
	}
	svc->c.applied++;
	return (0);
}

/* apply returns 0 when m was applied or dropped, 1 on a gap.  While the
 * disk is full everything is dropped: svc_ups_resume replays it. */
static int
apply(struct upstream *up, const struct msg *m)
{
	struct svc *svc = up->svc;

	if (m->seq > up->known)
		up->known = m->seq;
	if (m->seq <= up->cursor) {
		svc->c.duplicates++;
		return (0);
	}
	if (svc_disk_full(svc))
		return (0);
	if (m->seq != up->cursor + 1)
		return (1);
	if (svc_txn_begin(svc) != 0)
		return (1);
	if (svc_dispatch(svc, m) == 0)
		up->cursor = m->seq;
	return (0);
}

static void reset_req(struct upstream *);

static void
on_heartbeat(struct upstream *up, const struct msg *m)
{
	struct svc *svc  = up->svc;
	uint64_t    last = (uint64_t) m->body.heartbeat.last_seq;

	up->reached = true;
	up->last_hb = mono_ms();
	if (m->v != MSG_PROTO_VERSION) {
		/* An older build, still running: we read its frames
		 * (MSG_PROTO_MIN), it refuses ours.  Said at each of its
		 * heartbeats until it is upgraded. */
		svc_count(svc, "old_protocol_heartbeats", 1);
		if (!up->old_told)
			log_warn("bus.old_peer",
			    "%s speaks protocol %u, this build %d: its events "
			    "are read, ours are refused by it; upgrade every "
			    "host of the constellation together",
			    up->name, m->v, MSG_PROTO_VERSION);
		up->old_told = true;
		svc_set_error(svc,
		    "upstream %s speaks protocol %u (this build %d): "
		    "upgrade it",
		    up->name, m->v, MSG_PROTO_VERSION);
	}
	if (m->body.heartbeat.last_seq < 0 || last < up->committed) {
		/* The producer's journal went backwards (db deleted?): we
		 * cannot tell new events from old ones.  Loud, not fatal. */
		svc_count(svc, "upstream_seq_regressed", 1);
		svc_set_error(svc, "upstream %s seq %llu < cursor %llu",
		    up->name, (unsigned long long) last,
		    (unsigned long long) up->committed);
	} else if (last > up->known)
		up->known = last;
	if (up->replaying && up->retry_timer == 0 &&
	    mono_ms() - up->replay_sent > REPLAY_STALL_MS)
		reset_req(up);
	if (up->cursor < up->known && !up->replaying)
		start_replay(up);
	if (svc->def->on_heartbeat != NULL)
		svc->def->on_heartbeat(svc, m, svc->state);
}

static void
finish_batch(struct svc *svc)
{
	if (svc->txn && svc_txn_commit(svc) != 0)
		log_error("svc.commit", "batch commit failed; will replay");
	svc->c.batches++;
	svc_after_batch(svc);
}

static void
sub_cb(struct loop *l, int fd, short ev, void *arg)
{
	struct upstream *up  = arg;
	struct svc      *svc = up->svc;
	struct bus_msg   bm;
	struct msg       m;
	char             err[256];
	int              n, rv;

	UNUSED(l);
	UNUSED(fd);
	UNUSED(ev);
	for (n = 0; n < SVC_BATCH_MAX; n++) {
		if (bus_recv(up->sub, &bm, BUS_NONBLOCK) != 0)
			break;
		svc->c.msgs_in++;
		rv = msg_decode(&m, bm.data, bm.len, err, sizeof(err));
		bus_msg_free(&bm);
		if (rv != 0) {
			count_decode_error(svc, rv, up->name, err);
			continue;
		}
		if (m.topic == MSG_HEARTBEAT)
			on_heartbeat(up, &m);
		else if (m.seq == 0) {
			/* Volatile: no cursor, applied as it comes (not
			 * while the disk is full: it could not be). */
			if (!svc_disk_full(svc) && svc_txn_begin(svc) == 0)
				(void) svc_dispatch(svc, &m);
		} else if (apply(up, &m) != 0) {
			svc->c.gaps++;
			start_replay(up);
		}
		msg_fini(&m);
	}
	finish_batch(svc);
}

static void
replay_retry_cb(struct loop *l, void *arg)
{
	struct upstream *up = arg;

	UNUSED(l);
	up->retry_timer = 0;
	up->replaying   = false;
	if (up->cursor < up->known || !up->reached)
		start_replay(up);
}

static void req_cb(struct loop *, int, short, void *);

/* reset_req replaces an upstream's REQ socket whose replay request got
 * no answer for REPLAY_STALL_MS (the peer restarted mid-request and the
 * socket did not recover): close it, dial again, ask again.  Replay is
 * idempotent, so a late answer to the old request is harmless. */
static void
reset_req(struct upstream *up)
{
	struct svc             *svc = up->svc;
	const struct topo_inst *in  = topo_find(svc->topo, up->name);
	int                     fd;

	log_warn("svc.replay_stall",
	    "upstream %s: no replay answer for %lld "
	    "ms: reconnecting",
	    up->name, (long long) (mono_ms() - up->replay_sent));
	svc_count(svc, "replay_stalls", 1);
	if (bus_fd(up->req, &fd) == 0)
		loop_del_fd(svc->loop, fd);
	bus_close(&up->req);
	up->replaying = false;
	if (in == NULL || bus_open(&up->req, BUS_REQ, in->ctl) != 0 ||
	    bus_fd(up->req, &fd) != 0 ||
	    loop_add_fd(svc->loop, fd, POLLIN, req_cb, up) != 0)
		svc_set_error(svc, "cannot reconnect to %s", up->name);
}

static void
start_replay(struct upstream *up)
{
	struct svc           *svc = up->svc;
	struct msg_hdr        hdr;
	struct msg_ctl_replay req;
	struct buf            b;
	char                  id[300];
	int                   rv;

	/* a full disk: svc_ups_resume asks once writes work */
	if (up->replaying || svc_disk_full(svc))
		return;
	snprintf(id, sizeof(id), "%s:replay:%llu", svc->inst->name,
	    (unsigned long long) ++svc->hb_count);
	memset(&hdr, 0, sizeof(hdr));
	hdr.src = svc->inst->name;
	hdr.id  = id;
	hdr.ts  = now_ms();
	memset(&req, 0, sizeof(req));
	req.from      = (int64_t) up->committed + 1;
	req.max       = SVC_REPLAY_MAX;
	req.max_bytes = SVC_REPLAY_BYTES;
	/* Replay from the committed cursor: anything applied but not yet
	 * committed in this batch is committed before the answer arrives
	 * (the loop finishes the batch first), and duplicates drop. */
	buf_init(&b);
	rv = msg_pack(&b, MSG_CTL_REPLAY, &hdr, &req);
	if (rv == 0)
		rv = bus_send(up->req, b.data, b.len, BUS_NONBLOCK);
	buf_fini(&b);
	up->replaying   = true;
	up->replay_sent = mono_ms();
	svc->c.replays++;
	if (rv != 0) {
		/* Not connected yet: try again shortly. */
		if (up->retry_timer == 0)
			up->retry_timer =
			    loop_timer(svc->loop, 200, replay_retry_cb, up);
	}
}

/* data_loss records events of an upstream that will never be applied:
 * n events from first, because they were trimmed from the producer's
 * journal or because one is larger than any frame (undeliverable).
 * Never silent: an error log, last_error, and bus.data_loss, which the
 * escalator turns into an escalation. */
static void
data_loss(struct upstream *up, uint64_t first, uint64_t n, bool undeliverable)
{
	struct svc              *svc = up->svc;
	struct msg_bus_data_loss ev;

	svc->c.truncated++;
	if (undeliverable)
		log_error("bus.data_loss",
		    "upstream %s: event %llu is larger than a frame can "
		    "carry (see the producer's log): skipped, it is lost",
		    up->name, (unsigned long long) first);
	else
		log_error("bus.data_loss",
		    "upstream %s: cursor %llu is older than its retention "
		    "(first retained seq %llu): events %llu..%llu are lost",
		    up->name, (unsigned long long) up->cursor,
		    (unsigned long long) (first + n),
		    (unsigned long long) first,
		    (unsigned long long) (first + n - 1));
	svc_set_error(svc, "data loss from %s", up->name);
	memset(&ev, 0, sizeof(ev));
	ev.upstream        = up->name;
	ev.cursor          = (int64_t) up->cursor;
	ev.first_available = (int64_t) (first + n);
	ev.reason          = undeliverable ? "undeliverable" : "retention";
	(void) svc_emit(svc, MSG_BUS_DATA_LOSS, NULL, &ev);
	up->cursor = first + n - 1;
}

static void
on_replay_batch(struct upstream *up, const struct msg_ctl_replay_batch *rb)
{
	struct svc *svc = up->svc;
	struct msg  m;
	char        err[256];
	size_t      i;
	int         rv;

	up->reached = true;
	if (rb->last_seq >= 0 && (uint64_t) rb->last_seq > up->known)
		up->known = (uint64_t) rb->last_seq;
	if (svc_disk_full(svc) || svc_txn_begin(svc) != 0)
		return;
	if (rb->truncated && rb->first_seq > 0 &&
	    (uint64_t) rb->first_seq > up->cursor + 1)
		data_loss(up, up->cursor + 1,
		    (uint64_t) rb->first_seq - up->cursor - 1, false);
	for (i = 0; i < rb->frames.n; i++) {
		if (rb->frames.v[i].len == 0) {
			/* The producer's mark for a frame too big to send
			 * (ctl.c collect). */
			data_loss(up, up->cursor + 1, 1, true);
			continue;
		}
		rv = msg_decode(&m, rb->frames.v[i].p, rb->frames.v[i].len,
		    err, sizeof(err));
		if (rv != 0) {
			/* A journaled frame we cannot read (newer schema?):
			 * skip it loudly rather than block forever. */
			count_decode_error(svc, rv, up->name, err);
			up->cursor++;
			continue;
		}
		svc->c.replayed++;
		if (apply(up, &m) != 0 || svc_disk_full(svc)) {
			msg_fini(&m);
			break;
		}
		msg_fini(&m);
	}
	finish_batch(svc);
}

static void
req_cb(struct loop *l, int fd, short ev, void *arg)
{
	struct upstream *up  = arg;
	struct svc      *svc = up->svc;
	struct bus_msg   bm;
	struct msg       m;
	char             err[256];
	int              rv;

	UNUSED(l);
	UNUSED(fd);
	UNUSED(ev);
	while (bus_recv(up->req, &bm, BUS_NONBLOCK) == 0) {
		rv = msg_decode(&m, bm.data, bm.len, err, sizeof(err));
		bus_msg_free(&bm);
		up->replaying = false;
		if (rv != 0) {
			count_decode_error(svc, rv, up->name, err);
			continue;
		}
		if (m.topic == MSG_CTL_REPLAY_BATCH)
			on_replay_batch(up, &m.body.ctl_replay_batch);
		else {
			log_warn("svc.replay",
			    "upstream %s refused replay: %s", up->name,
			    m.topic == MSG_CTL_REPLY &&
			            m.body.ctl_reply.error != NULL
			        ? m.body.ctl_reply.error
			        : msg_topic_name(m.topic));
			svc_count(svc, "replay_refused", 1);
		}
		msg_fini(&m);
	}
	if (!up->replaying && up->cursor < up->known)
		start_replay(up);
}

int
svc_ups_open(struct svc *svc)
{
	const struct svc_handler *h;
	const struct topo_inst   *in;
	struct upstream          *up;
	size_t                    i;
	int                       rv, fd;

	svc->nups = svc->inst->nupstreams;
	svc->ups  = xcalloc(svc->nups + 1, sizeof(*svc->ups));
	for (i = 0; i < svc->nups; i++) {
		up       = &svc->ups[i];
		up->svc  = svc;
		up->name = xstrdup(svc->inst->upstreams[i]);
		if ((in = topo_find(svc->topo, up->name)) == NULL)
			return (ERR_CONFIG);
		if ((rv = journal_cursor_get(
		         svc->store, up->name, &up->cursor)) != 0)
			return (rv);
		up->committed = up->known = up->cursor;
		up->remote                = bus_url_remote(in->pub);
		if ((rv = bus_open(&up->sub, BUS_SUB, in->pub)) != 0 ||
		    (rv = bus_open(&up->req, BUS_REQ, in->ctl)) != 0)
			return (rv);
		(void) bus_subscribe(up->sub, "heartbeat");
		for (h = svc->def->handlers; h != NULL && h->fn != NULL; h++)
			(void) bus_subscribe(
			    up->sub, msg_topic_name(h->topic));
		if ((rv = bus_fd(up->sub, &fd)) != 0 ||
		    (rv = loop_add_fd(svc->loop, fd, POLLIN, sub_cb, up)) !=
		        0 ||
		    (rv = bus_fd(up->req, &fd)) != 0 ||
		    (rv = loop_add_fd(svc->loop, fd, POLLIN, req_cb, up)) != 0)
			return (rv);
		/* Catch up from the cursor at start, whatever we missed. */
		start_replay(up);
	}
	return (0);
}

void
svc_ups_resume(struct svc *svc)
{
	size_t i;

	for (i = 0; i < svc->nups; i++)
		if (svc->ups[i].cursor < svc->ups[i].known ||
		    !svc->ups[i].reached)
			start_replay(&svc->ups[i]);
}

void
svc_ups_close(struct svc *svc)
{
	size_t i;

	for (i = 0; i < svc->nups; i++) {
		bus_close(&svc->ups[i].sub);
		bus_close(&svc->ups[i].req);
		free(svc->ups[i].name);
	}
	free(svc->ups);
	svc->ups  = NULL;
	svc->nups = 0;
}

/* svc_ups_check runs with every heartbeat.  An upstream on another host
 * (tcp), heard before but silent for stale_after_ms, may sit behind a
 * half-open tcp connection (ipc never is: one kernel sees both ends): its
 * host reset the connection while the link was down, and our SUB, which
 * never writes, cannot notice (the REQ socket can: it resends).  Redial
 * the SUB; the first heartbeat after it shows any gap, replayed as usual.
 * A producer that is really down or frozen gets redials at growing
 * intervals (stale_after_ms times 1, 2, 4, ... up to REDIAL_MAX_MS):
 * redialing a slow peer too often would keep it from ever delivering a
 * heartbeat. */
#define REDIAL_MAX_MS 30000

void
svc_ups_check(struct svc *svc)
{
	int64_t now = mono_ms(), since, wait;
	size_t  i;

	for (i = 0; i < svc->nups; i++) {
		struct upstream *up = &svc->ups[i];

		if (up->last_hb == 0 || !up->remote)
			continue;
		if (up->last_hb >= up->redialed)
			up->redials = 0; /* heard since the last redial */
		since =
		    up->last_hb > up->redialed ? up->last_hb : up->redialed;
		wait = svc->topo->stale_after_ms
		    << (up->redials < 4 ? up->redials : 4);
		if (up->redials > 0 && wait > REDIAL_MAX_MS)
			wait = REDIAL_MAX_MS;
		if (now - since <= wait)
			continue;
		log_warn("svc.upstream_silent",
		    "upstream %s: no heartbeat "
		    "for %lld ms: redialing",
		    up->name, (long long) (now - up->last_hb));
		svc_count(svc, "upstream_redials", 1);
		up->redialed = now;
		up->redials++;
		/* No replay request here: a producer that is down would
		 * never answer it, and we would count as catching up (and
		 * not act) until it does.  Its next heartbeat shows a gap. */
		(void) bus_redial(up->sub);
	}
}

void
svc_ups_status(struct svc *svc, json_t *obj)
{
	json_t *ups = json_object();
	int64_t now = mono_ms();
	size_t  i;

	for (i = 0; i < svc->nups; i++) {
		struct upstream *up = &svc->ups[i];

		json_object_set_new(ups, up->name,
		    json_pack("{s:I, s:I, s:I, s:b, s:b, s:I}", "cursor",
		        (json_int_t) up->committed, "known",
		        (json_int_t) up->known, "lag",
		        (json_int_t) (up->known > up->committed
		                ? up->known - up->committed
		                : 0),
		        "replaying", up->replaying, "reached", up->reached,
		        "heartbeat_age_ms",
		        (json_int_t) (up->last_hb ? now - up->last_hb : -1)));
	}
	json_object_set_new(obj, "upstreams", ups);
}
