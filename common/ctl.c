/*
 * ctl.c - the ctl socket: request/reply for status, replay, inject and the
 * service's own queries, plus the blocking client used by the CLI.
 *
 * Every request is an envelope whose topic names the operation; every
 * answer is a ctl.reply {ok, code, error, data}, except replay, answered
 * with ctl.replay_batch (frames exactly as journaled, in one nng message:
 * one message per batch, not per event).  Every operation is idempotent
 * because req0 resends unanswered requests.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "opc/err.h"
#include "opc/log.h"
#include "svc_int.h"

static void
pack_hdr(
    struct msg_hdr *hdr, char *id, size_t idlen, const char *src, uint64_t n)
{
	snprintf(id, idlen, "%s:ctl:%d:%llu", src, (int) getpid(),
	    (unsigned long long) n);
	memset(hdr, 0, sizeof(*hdr));
	hdr->src = src;
	hdr->id  = id;
	hdr->ts  = now_ms();
}

static void
reply(struct svc *svc, int code, const char *error, json_t *data)
{
	struct msg_ctl_reply r;
	struct msg_hdr       hdr;
	struct buf           b;
	char                 id[300], full[300];

	/* whatever the operation made of it, a client is told where the
	 * space is missing */
	if (code == ERR_NOSPACE) {
		snprintf(full, sizeof(full), "no space left on %s",
		    svc_space_path(svc));
		error = full;
	}
	memset(&r, 0, sizeof(r));
	r.ok    = code == 0;
	r.code  = code;
	r.error = code != 0
	    ? (char *) (error && *error ? error : err_str(code))
	    : NULL;
	r.data  = data;
	pack_hdr(&hdr, id, sizeof(id), svc->inst->name, ++svc->hb_count);
	buf_init(&b);
	if (msg_pack(&b, MSG_CTL_REPLY, &hdr, &r) == 0)
		(void) bus_send(svc->ctl, b.data, b.len, 0);
	buf_fini(&b);
	if (code != 0)
		svc->c.ctl_errors++;
}

struct replay_ctx {
	struct svc     *svc;
	struct msg_bins bins;
	size_t          cap;
};

static int
collect(void *arg, uint64_t seq, const void *frame, size_t len)
{
	struct replay_ctx *rc = arg;

	if (rc->bins.n == rc->cap) {
		rc->cap = rc->cap ? rc->cap * 2 : 256;
		rc->bins.v =
		    xrealloc(rc->bins.v, rc->cap * sizeof(*rc->bins.v));
	}
	if (len > JOURNAL_MAX_FRAME) {
		/* Journaled before the journal refused such frames: no
		 * batch can carry it, and sending it would stall every
		 * consumer at this seq.  An empty frame says "undeliverable"
		 * and the consumer records the loss (svc_in.c). */
		log_error("ctl.replay",
		    "seq %llu is %zu bytes, more than a "
		    "frame can carry (%u): sent as undeliverable",
		    (unsigned long long) seq, len,
		    (unsigned) JOURNAL_MAX_FRAME);
		svc_count(rc->svc, "undeliverable", 1);
		rc->bins.v[rc->bins.n].p   = xcalloc(1, 1);
		rc->bins.v[rc->bins.n].len = 0;
	} else {
		/* Borrowed: the packer copies before the statement moves
		 * on. */
		rc->bins.v[rc->bins.n].p   = xmemdup(frame, len);
		rc->bins.v[rc->bins.n].len = len;
	}
	rc->bins.n++;
	return (0);
}

static void
do_replay(struct svc *svc, const struct msg_ctl_replay *rq)
{
	struct msg_ctl_replay_batch rb;
	struct replay_ctx           rc;
	struct msg_hdr              hdr;
	struct buf                  b;
	char                        id[300];
	uint64_t                    from, first;
	size_t                      max, max_bytes, i;
	int                         rv;

	memset(&rc, 0, sizeof(rc));
	memset(&rb, 0, sizeof(rb));
	rc.svc    = svc;
	from      = rq->from < 1 ? 1 : (uint64_t) rq->from;
	max       = rq->max <= 0 || rq->max > SVC_REPLAY_MAX ? SVC_REPLAY_MAX
	                                                     : (size_t) rq->max;
	max_bytes = rq->max_bytes <= 0 || rq->max_bytes > SVC_REPLAY_BYTES
	    ? SVC_REPLAY_BYTES
	    : (size_t) rq->max_bytes;
	first     = journal_first_seq(svc->journal);
	rb.first_seq = (int64_t) first;
	rb.last_seq  = (int64_t) journal_last_seq(svc->journal);
	if (from < first) {
		rb.truncated = from < first &&
		    first <= journal_last_seq(svc->journal) + 1 && first > 1;
		from = first;
	}
	rv = journal_read(svc->journal, from, max, max_bytes, collect, &rc);
	if (rv != 0) {
		reply(svc, rv, "journal read failed", NULL);
		goto out;
	}
	rb.frames = rc.bins;
	pack_hdr(&hdr, id, sizeof(id), svc->inst->name, ++svc->hb_count);
	buf_init(&b);
	if ((rv = msg_pack(&b, MSG_CTL_REPLAY_BATCH, &hdr, &rb)) == 0)
		rv = bus_send(svc->ctl, b.data, b.len, 0);
	buf_fini(&b);
	if (rv != 0)
		log_warn("ctl.replay", "answer not sent: %s", err_str(rv));
out:
	for (i = 0; i < rc.bins.n; i++)
		free(rc.bins.v[i].p);
	free(rc.bins.v);
}

json_t *
svc_status_json(struct svc *svc)
{
	json_t     *o, *c;
	const char *k;
	json_t     *v;

	o = json_pack("{s:s, s:s, s:i, s:I, s:I, s:I, s:b, s:s}", "instance",
	    svc->inst->name, "service", svc->inst->service, "pid",
	    (int) getpid(), "uptime_ms",
	    (json_int_t) (mono_ms() - svc->started), "journal_seq",
	    (json_int_t) journal_last_seq(svc->journal), "journal_first",
	    (json_int_t) journal_first_seq(svc->journal), "caught_up",
	    svc_caught_up(svc), "last_error", svc->last_error);
	if (svc_disk_full(svc))
		json_object_set_new(o, "disk_full",
		    json_pack("{s:s, s:I, s:I, s:I}", "path", svc->nosp.path,
		        "since_ms", (json_int_t) svc->nosp.since, "failures",
		        (json_int_t) svc->nosp.failures, "retry_in_ms",
		        (json_int_t) (svc->nosp.retry_at > mono_ms()
		                ? svc->nosp.retry_at - mono_ms()
		                : 0)));
	svc_ups_status(svc, o);
	c = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	              "s:I, s:I, s:I, s:I}",
	    "msgs_in", (json_int_t) svc->c.msgs_in, "msgs_out",
	    (json_int_t) svc->c.msgs_out, "applied",
	    (json_int_t) svc->c.applied, "duplicates",
	    (json_int_t) svc->c.duplicates, "gaps", (json_int_t) svc->c.gaps,
	    "replays", (json_int_t) svc->c.replays, "replayed",
	    (json_int_t) svc->c.replayed, "decode_errors",
	    (json_int_t) svc->c.decode_errors, "unknown_topics",
	    (json_int_t) svc->c.unknown_topics, "handler_errors",
	    (json_int_t) svc->c.handler_errors, "truncated",
	    (json_int_t) svc->c.truncated, "ctl_requests",
	    (json_int_t) svc->c.ctl_requests, "ctl_errors",
	    (json_int_t) svc->c.ctl_errors, "batches",
	    (json_int_t) svc->c.batches);
	json_object_foreach (svc->counters, k, v)
		json_object_set(c, k, v);
	json_object_set_new(o, "counters", c);
	if (svc->def->status != NULL)
		svc->def->status(svc, svc->state, o);
	return (o);
}

static void
do_inject(struct svc *svc, const struct msg *req)
{
	const struct msg_ctl_inject *in = &req->body.ctl_inject;
	struct msg                   m;
	char                         err[256];
	json_t                      *empty = NULL;
	int                          rv;

	memset(&m, 0, sizeof(m));
	m.topic = msg_topic_lookup(in->topic, strlen(in->topic));
	if (m.topic == MSG_NONE) {
		snprintf(err, sizeof(err), "unknown topic '%s'", in->topic);
		reply(svc, ERR_UNKNOWN, err, NULL);
		return;
	}
	if (svc->handler[m.topic] == NULL) {
		snprintf(err, sizeof(err), "%s does not handle topic '%s'",
		    svc->inst->name, in->topic);
		reply(svc, ERR_NOTFOUND, err, NULL);
		return;
	}
	if (in->body == NULL)
		empty = json_object();
	if ((rv = msg_body_from_json(m.topic, &m.body,
	         in->body ? in->body : empty, err, sizeof(err))) != 0) {
		json_decref(empty);
		reply(svc, rv, err, NULL);
		return;
	}
	json_decref(empty);
	/* An injected message is handled as if it came off the bus, but it
	 * belongs to no upstream's sequence: it is volatile (seq 0). */
	m.v    = MSG_PROTO_VERSION;
	m.src  = xasprintf("inject:%s", req->src);
	m.id   = xstrdup(req->id);
	m.ts   = now_ms();
	m.corr = in->corr ? xstrdup(in->corr) : NULL;
	if ((rv = svc_txn_begin(svc)) == 0) {
		rv = svc->handler[m.topic](svc, &m, svc->state);
		if (rv == 0 && !store_full(svc->store))
			rv = svc_txn_commit(svc);
		else
			svc_txn_rollback(svc);
		if (store_full(svc->store))
			rv = ERR_NOSPACE;
	}
	msg_fini(&m);
	reply(svc, rv, NULL, NULL);
	if (rv == 0)
		svc_after_batch(svc);
}

/* authenticated: the ctl listener knows who its peer is: an ipc socket
 * (file permissions of the private run dir), in-process, or mutual TLS.
 * A plain tcp:// listener does not. */
static bool
authenticated(const struct svc *svc)
{
	const char *u = svc->inst->ctl;

	return (u == NULL || strncmp(u, "tcp://", 6) != 0);
}

/* read_only: what any peer may ask: status, the replay the bus contract
 * needs across hosts, and the queries that change nothing. */
static bool
read_only(enum msg_topic t)
{
	switch (t) {
	case MSG_CTL_STATUS:
	case MSG_CTL_REPLAY:
	case MSG_BOARD_TASK_LIST:
	case MSG_BOARD_TASK_SHOW:
	case MSG_RECORDER_RUNS_LIST:
	case MSG_RECORDER_RUN_SHOW:
	case MSG_RECORDER_SPEND:
	case MSG_ROUTER_BREAKER_STATUS:
	case MSG_RECORDER_USAGE:
	case MSG_INSIGHTER_INSIGHTS:
	case MSG_PROPOSER_REJECTIONS:
	case MSG_PROPOSER_CALIBRATION:
		return (true);
	default:
		return (false);
	}
}

static void
serve(struct svc *svc, const struct msg *req)
{
	json_t    *data = NULL;
	char       err[512];
	svc_ctl_fn fn;
	int        rv;

	if (!read_only(req->topic) && !authenticated(svc) &&
	    !svc->topo->insecure_ctl) {
		svc_count(svc, "ctl_refused", 1);
		log_warn("ctl.refused",
		    "%s over %s: refused (a plain tcp "
		    "listener does not know its peer)",
		    msg_topic_name(req->topic), svc->inst->ctl);
		snprintf(err, sizeof(err),
		    "%s refuses %s over plain tcp "
		    "(no peer authentication): use ipc or tls+tcp, or set "
		    "opcenter.insecure_ctl",
		    svc->inst->name, msg_topic_name(req->topic));
		reply(svc, ERR_REFUSED, err, NULL);
		return;
	}
	switch (req->topic) {
	case MSG_CTL_STATUS:
		reply(svc, 0, NULL, data = svc_status_json(svc));
		break;
	case MSG_CTL_REPLAY:
		do_replay(svc, &req->body.ctl_replay);
		break;
	case MSG_CTL_INJECT:
		do_inject(svc, req);
		break;
	default:
		if ((fn = svc->ctlfn[req->topic]) == NULL) {
			snprintf(err, sizeof(err),
			    "%s has no ctl operation '%s'", svc->inst->name,
			    msg_topic_name(req->topic));
			reply(svc, ERR_NOTFOUND, err, NULL);
			break;
		}
		err[0] = '\0';
		rv     = fn(svc, req, &data, err, sizeof(err), svc->state);
		/* a write refused for want of space, whatever the operation
		 * made of it (its own transaction paused the service) */
		if (rv != 0 && !svc->txn && store_full(svc->store))
			rv = ERR_NOSPACE;
		reply(svc, rv, err, rv == 0 ? data : NULL);
		break;
	}
	json_decref(data);
}

void
svc_ctl_cb(struct loop *l, int fd, short ev, void *arg)
{
	struct svc    *svc = arg;
	struct bus_msg bm;
	struct msg     req;
	char           err[256];
	int            rv, n;

	UNUSED(l);
	UNUSED(fd);
	UNUSED(ev);
	/* rep0 holds one request at a time: answer each before the next. */
	for (n = 0; n < 64; n++) {
		if (bus_recv(svc->ctl, &bm, BUS_NONBLOCK) != 0)
			break;
		svc->c.ctl_requests++;
		rv = msg_decode(&req, bm.data, bm.len, err, sizeof(err));
		bus_msg_free(&bm);
		if (rv != 0) {
			svc->c.decode_errors++;
			log_warn("ctl.bad_request", "%s", err);
			reply(svc, rv, err, NULL);
			continue;
		}
		serve(svc, &req);
		msg_fini(&req);
	}
}

int
ctl_call(const char *ctl_url, enum msg_topic t, const void *body,
    json_t **data, char *err, size_t errlen, int timeout_ms)
{
	struct msg_hdr hdr;
	struct bus_msg bm;
	struct msg     rep;
	struct buf     b;
	char           id[300], src[64], uid[37];
	int            rv;

	if (data != NULL)
		*data = NULL;
	snprintf(src, sizeof(src), "opc.%d", (int) getpid());
	pack_hdr(&hdr, id, sizeof(id), src, 0);
	/* unique per request, even for two in the same millisecond */
	snprintf(id, sizeof(id), "%s:%s", src, uuid4(uid));
	buf_init(&b);
	if ((rv = msg_pack(&b, t, &hdr, body)) != 0) {
		snprintf(err, errlen, "cannot encode %s request",
		    msg_topic_name(t));
		buf_fini(&b);
		return (rv);
	}
	rv = bus_request(ctl_url, b.data, b.len, &bm, timeout_ms);
	buf_fini(&b);
	if (rv != 0) {
		snprintf(err, errlen, "%s: %s", ctl_url,
		    rv == ERR_TIMEOUT ? "no answer (is it running?)"
		                      : err_str(rv));
		return (rv);
	}
	rv = msg_decode(&rep, bm.data, bm.len, err, errlen);
	bus_msg_free(&bm);
	if (rv != 0)
		return (rv);
	if (rep.topic != MSG_CTL_REPLY) {
		snprintf(err, errlen, "unexpected answer %s",
		    msg_topic_name(rep.topic));
		msg_fini(&rep);
		return (ERR_PROTO);
	}
	if (!rep.body.ctl_reply.ok) {
		snprintf(err, errlen, "%s",
		    rep.body.ctl_reply.error ? rep.body.ctl_reply.error
		                             : "error");
		rv = rep.body.ctl_reply.code < 0
		    ? (int) rep.body.ctl_reply.code
		    : ERR_UNKNOWN;
	} else if (data != NULL && rep.body.ctl_reply.data != NULL)
		*data = json_incref(rep.body.ctl_reply.data);
	msg_fini(&rep);
	return (rv);
}
