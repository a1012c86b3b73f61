/*
 * gather.c - the dashboard's state document, built on a thread.
 *
 * Every interval the thread asks, over ctl and each call bounded by a
 * short timeout (ctl_call blocks: never on the loop thread): the
 * supervisor (processes: state, restarts, heartbeat age), every instance
 * (its status: journal seq, lag per upstream, last error, and whatever a
 * service adds: the router's spend, breaker and pause, board-sync's task
 * counts), the router's breaker detail, board-sync's tasks, the
 * recorder's recent runs (with each run's files and cost from
 * recorder.run_show, kept once written) and its spend over 1 and 7 days,
 * and the proposer's last autonomy cycle with its suppressions (read
 * back from its journal with ctl.replay).  A refresh thread (opc/
 * refresh.h) keeps the document's text for /api/state.  Only the immutable
 * topology and the thread's own cache are read; an instance that does not
 * answer is shown as such, never waited for again within a pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dash.h"
#include "opc/bus.h"
#include "opc/err.h"
#include "opc/msg.h"
#include "opc/refresh.h"
#include "opc/topo.h"
#include "opc/util.h"

#define BOARD_TASKS 60
#define REPLAY_BACK 400

struct dash_gather {
	const struct topo *topo;
	char              *self;
	char              *evidence_root; /* may be NULL */
	int                timeout_ms;
	int                runs;
	json_t            *shown;   /* run id -> run_show data (thread) */
	struct refresh    *refresh; /* its thread calls make() */
};

static json_t *
call(
    struct dash_gather *g, const char *url, enum msg_topic t, const void *body)
{
	json_t *data = NULL;
	char    err[256];

	if (ctl_call(url, t, body, &data, err, sizeof(err), g->timeout_ms) !=
	    0) {
		json_decref(data);
		return (NULL);
	}
	return (data);
}

/* first_of returns the first enabled instance of service (or NULL). */
static const struct topo_inst *
first_of(const struct topo *t, const char *service)
{
	size_t i;

	for (i = 0; i < t->ninst; i++)
		if (t->inst[i].enabled &&
		    strcmp(t->inst[i].service, service) == 0)
			return (&t->inst[i]);
	return (NULL);
}

/* instance makes an instance's row from the supervisor's process entry
 * p (may be NULL: not run by this host's supervisor) and its status. */
static json_t *
instance(const struct topo_inst *in, const json_t *p, json_t *ist)
{
	json_t     *o = json_object(), *lag = json_object(), *u;
	const char *k;
	json_int_t  total = 0;

	json_object_set_new(o, "name", json_string(in->name));
	json_object_set_new(o, "service", json_string(in->service));
	if (p != NULL) {
		json_object_set(o, "state", json_object_get(p, "state"));
		json_object_set(o, "alive", json_object_get(p, "alive"));
		json_object_set(o, "pid", json_object_get(p, "pid"));
		json_object_set(
		    o, "restarts", json_object_get(p, "restart_count"));
		json_object_set(o, "heartbeat_age_ms",
		    json_object_get(p, "heartbeat_age_ms"));
		json_object_set(o, "stale", json_object_get(p, "stale"));
		json_object_set(
		    o, "last_exit", json_object_get(p, "last_exit"));
	} else
		json_object_set_new(o, "state",
		    json_string(ist != NULL ? "remote" : "unreachable"));
	json_object_foreach (json_object_get(ist, "upstreams"), k, u) {
		json_int_t l = json_integer_value(json_object_get(u, "lag"));

		json_object_set_new(lag, k, json_integer(l));
		total += l;
	}
	json_object_set_new(o, "lag", lag);
	json_object_set_new(o, "lag_total", json_integer(total));
	json_object_set_new(o, "answered", json_boolean(ist != NULL));
	json_object_set_new(o, "status", ist != NULL ? ist : json_null());
	return (o);
}

/* result_pr reads the pull request url of a run's result.json. */
static json_t *
result_pr(struct dash_gather *g, const char *run_id)
{
	json_t *j, *v       = NULL;
	char   *rest, *path = NULL;

	if (g->evidence_root == NULL)
		return (json_null());
	rest = xasprintf("%s/result.json", run_id);
	if (dash_evidence_path(&path, g->evidence_root, rest) == 0 &&
	    (j = json_load_file(path, 0, NULL)) != NULL) {
		v = json_object_get(j, "pull_request_url");
		v = json_is_string(v) ? json_incref(v) : NULL;
		json_decref(j);
	}
	free(path);
	free(rest);
	return (v != NULL ? v : json_null());
}

/* runs adds the recorder's recent runs, each with its files, cost and
 * pull request; a written run's details are kept (they do not change). */
static json_t *
runs(struct dash_gather *g, const struct topo_inst *rec)
{
	struct msg_recorder_runs_list q;
	json_t *list, *out = json_array(), *r, *keep = json_object();
	size_t  i;

	memset(&q, 0, sizeof(q));
	q.limit = g->runs;
	list    = rec ? call(g, rec->ctl, MSG_RECORDER_RUNS_LIST, &q) : NULL;
	json_array_foreach (json_object_get(list, "runs"), i, r) {
		const char *id =
		    json_string_value(json_object_get(r, "run_id"));
		json_t *o = json_deep_copy(r), *sh, *usage;
		struct msg_recorder_run_show s;

		if (id == NULL) {
			json_decref(o);
			continue;
		}
		if ((sh = json_object_get(g->shown, id)) != NULL)
			json_incref(sh);
		else {
			memset(&s, 0, sizeof(s));
			s.run_id = (char *) id;
			sh = call(g, rec->ctl, MSG_RECORDER_RUN_SHOW, &s);
		}
		if (sh != NULL) {
			usage = json_object_get(sh, "usage");
			json_object_set(
			    o, "files", json_object_get(sh, "files"));
			json_object_set(
			    o, "cost_usd", json_object_get(usage, "cost_usd"));
			json_object_set(o, "estimated_usd",
			    json_object_get(usage, "estimated_usd"));
			json_object_set(o, "cost_source",
			    json_object_get(usage, "cost_source"));
			if (json_is_true(json_object_get(sh, "written")))
				json_object_set(keep, id, sh);
			json_decref(sh);
		}
		json_object_set_new(o, "pr_url", result_pr(g, id));
		json_array_append_new(out, o);
	}
	json_decref(list);
	json_decref(g->shown);
	g->shown = keep;
	return (out);
}

/* replay returns the events of the last REPLAY_BACK journal entries of
 * in (seq is its journal_seq) whose topic is one of names. */
static json_t *
replay(struct dash_gather *g, const struct topo_inst *in, int64_t seq,
    const char *const *names)
{
	struct msg_ctl_replay rq;
	struct msg_hdr        h = { "dash", 0, "dash:replay", 0, NULL };
	struct bus_msg        bm;
	struct msg            rep, m;
	struct buf            b;
	json_t               *out = json_array();
	char                  err[256];
	size_t                i, k, got;
	int                   rounds;

	memset(&rq, 0, sizeof(rq));
	rq.from = seq > REPLAY_BACK ? seq - REPLAY_BACK + 1 : 1;
	for (rounds = 0; rounds < 16 && rq.from <= seq; rounds++) {
		h.ts = now_ms();
		buf_init(&b);
		if (msg_pack(&b, MSG_CTL_REPLAY, &h, &rq) != 0 ||
		    bus_request(in->ctl, b.data, b.len, &bm, g->timeout_ms) !=
		        0) {
			buf_fini(&b);
			break;
		}
		buf_fini(&b);
		if (msg_decode(&rep, bm.data, bm.len, err, sizeof(err)) != 0) {
			bus_msg_free(&bm);
			break;
		}
		bus_msg_free(&bm);
		got = rep.topic == MSG_CTL_REPLAY_BATCH
		    ? rep.body.ctl_replay_batch.frames.n
		    : 0;
		for (i = 0; i < got; i++) {
			const struct msg_bin *fr =
			    &rep.body.ctl_replay_batch.frames.v[i];

			if (msg_decode(&m, fr->p, fr->len, err, sizeof(err)) !=
			    0)
				continue;
			rq.from = (int64_t) m.seq + 1;
			for (k = 0; names[k] != NULL; k++)
				if (strcmp(msg_topic_name(m.topic),
				        names[k]) == 0)
					json_array_append_new(out,
					    json_pack("{s:I, s:s, s:I, s:o}",
					        "seq", (json_int_t) m.seq,
					        "topic", names[k], "ts",
					        (json_int_t) m.ts, "body",
					        msg_body_to_json(
					            m.topic, &m.body)));
			msg_fini(&m);
		}
		msg_fini(&rep);
		if (got == 0)
			break;
	}
	return (out);
}

/* autonomy finds the proposer's last cycle and what it suppressed. */
static json_t *
autonomy(struct dash_gather *g, const struct topo_inst *pr, json_t *ist)
{
	static const char *const names[] = { "proposer.cycle",
		"proposal.suppressed", NULL };
	json_t                  *ev, *e, *cycle = NULL, *sup = json_array();
	const char              *id;
	size_t                   i;

	if (pr == NULL || ist == NULL)
		return (json_null());
	ev = replay(g, pr,
	    json_integer_value(json_object_get(ist, "journal_seq")), names);
	json_array_foreach (ev, i, e)
		if (strcmp(json_string_value(json_object_get(e, "topic")),
		        "proposer.cycle") == 0)
			cycle = e;
	id = json_string_value(
	    json_object_get(json_object_get(cycle, "body"), "cycle_id"));
	json_array_foreach (ev, i, e) {
		const json_t *b = json_object_get(e, "body");

		if (id != NULL &&
		    strcmp(json_string_value(json_object_get(e, "topic")),
		        "proposal.suppressed") == 0 &&
		    json_is_string(json_object_get(b, "cycle_id")) &&
		    strcmp(json_string_value(json_object_get(b, "cycle_id")),
		        id) == 0)
			json_array_append(sup, (json_t *) b);
	}
	e = json_pack("{s:O?, s:o, s:O?, s:O?, s:O?}", "cycle",
	    cycle ? json_object_get(cycle, "body") : NULL, "suppressed", sup,
	    "ts", cycle ? json_object_get(cycle, "ts") : NULL, "auto",
	    json_object_get(ist, "auto"), "quiet",
	    json_object_get(ist, "quiet"));
	json_decref(ev);
	return (e);
}

static json_t *
gather(struct dash_gather *g)
{
	const struct topo         *t = g->topo;
	const struct topo_inst    *rt, *bs, *rec, *pr, *esc;
	struct msg_board_task_list tl;
	struct msg_recorder_spend  sp;
	json_t *sup, *procs, *insts = json_array(), *st = json_object(), *p,
	                     *pause = json_object(), *doc, *ist;
	bool  *listed               = xcalloc(t->ninst + 1, sizeof(*listed));
	char   ts[40];
	size_t i;

	sup   = call(g, t->supervisor.ctl, MSG_CTL_STATUS, NULL);
	procs = json_object_get(sup, "processes");
	for (i = 0; i < t->ninst; i++) {
		const struct topo_inst *in = &t->inst[i];

		if (!in->enabled)
			continue;
		ist = call(g, in->ctl, MSG_CTL_STATUS, NULL);
		json_object_set_new(st, in->name, ist ? ist : json_null());
		if (json_is_object(json_object_get(ist, "pause")))
			json_object_set(
			    pause, in->name, json_object_get(ist, "pause"));
	}
	json_array_foreach (procs, i, p) {
		const char *role =
		    json_string_value(json_object_get(p, "role"));
		const struct topo_inst *in = role ? topo_find(t, role) : NULL;

		if (in == NULL || in == &t->supervisor)
			continue;
		listed[in - t->inst] = true;
		ist                  = json_object_get(st, in->name);
		json_array_append_new(insts,
		    instance(
		        in, p, json_is_object(ist) ? json_incref(ist) : NULL));
	}
	for (i = 0; i < t->ninst; i++)
		if (!listed[i] && t->inst[i].enabled) {
			ist = json_object_get(st, t->inst[i].name);
			json_array_append_new(insts,
			    instance(&t->inst[i], NULL,
			        json_is_object(ist) ? json_incref(ist)
			                            : NULL));
		}
	free(listed);
	rt  = first_of(t, "router");
	bs  = first_of(t, "board-sync");
	rec = first_of(t, "recorder");
	pr  = first_of(t, "proposer");
	esc = first_of(t, "escalator");
	memset(&tl, 0, sizeof(tl));
	tl.limit = BOARD_TASKS;
	doc      = json_object();
	json_object_set_new(doc, "generated_at",
	    json_string(iso8601(now_ms(), ts, sizeof(ts))));
	json_object_set_new(doc, "self", json_string(g->self));
	json_object_set_new(doc, "supervisor",
	    json_pack("{s:b, s:O?}", "answered", sup != NULL, "pid",
	        json_object_get(sup, "pid")));
	json_object_set_new(doc, "instances", insts);
	ist = bs ? json_object_get(st, bs->name) : NULL;
	p   = bs ? call(g, bs->ctl, MSG_BOARD_TASK_LIST, &tl) : NULL;
	json_object_set_new(doc, "board",
	    json_pack("{s:O?, s:O?}", "counts", json_object_get(ist, "tasks"),
	        "tasks", json_object_get(p, "tasks")));
	json_decref(p);
	json_object_set_new(doc, "runs", runs(g, rec));
	memset(&sp, 0, sizeof(sp));
	sp.window_days = 1;
	p = rec ? call(g, rec->ctl, MSG_RECORDER_SPEND, &sp) : NULL;
	sp.window_days = 7;
	json_object_set_new(doc, "spend",
	    json_pack("{s:O?, s:o?, s:o?}", "caps",
	        rt ? json_object_get(json_object_get(st, rt->name), "spend")
	           : NULL,
	        "day", p, "week",
	        rec ? call(g, rec->ctl, MSG_RECORDER_SPEND, &sp) : NULL));
	ist = rt ? json_object_get(st, rt->name) : NULL;
	json_object_set_new(doc, "breaker",
	    json_pack("{s:O?, s:o?}", "phase", json_object_get(ist, "breaker"),
	        "detail",
	        rt && ist ? call(g, rt->ctl, MSG_ROUTER_BREAKER_STATUS, NULL)
	                  : NULL));
	json_object_set_new(doc, "pause", pause);
	ist = esc ? json_object_get(st, esc->name) : NULL;
	json_object_set_new(doc, "escalations",
	    json_is_object(ist) ? json_deep_copy(ist) : json_null());
	ist = pr ? json_object_get(st, pr->name) : NULL;
	json_object_set_new(doc, "autonomy",
	    autonomy(g, pr, json_is_object(ist) ? ist : NULL));
	json_decref(sup);
	json_decref(st);
	return (doc);
}

static char *
make(void *arg)
{
	json_t *doc  = gather(arg);
	char   *text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(10));

	json_decref(doc);
	return (text);
}

int
dash_gather_open(struct dash_gather **gp, const struct topo *topo,
    const char *self, const char *evidence_root, int64_t interval_ms,
    int timeout_ms, int nruns)
{
	struct dash_gather *g;
	int                 rv;

	*gp              = NULL;
	g                = xcalloc(1, sizeof(*g));
	g->topo          = topo;
	g->self          = xstrdup(self);
	g->evidence_root = evidence_root ? xstrdup(evidence_root) : NULL;
	g->timeout_ms    = timeout_ms;
	g->runs          = nruns;
	g->shown         = json_object();
	if ((rv = refresh_open(&g->refresh,
	         interval_ms > 0 ? interval_ms : 2000, make, g)) != 0) {
		dash_gather_close(&g);
		return (rv);
	}
	*gp = g;
	return (0);
}

void
dash_gather_close(struct dash_gather **gp)
{
	struct dash_gather *g = *gp;

	if (g == NULL)
		return;
	refresh_close(&g->refresh);
	json_decref(g->shown);
	free(g->evidence_root);
	free(g->self);
	free(g);
	*gp = NULL;
}

char *
dash_gather_text(struct dash_gather *g)
{
	return (g != NULL ? refresh_text(g->refresh) : NULL);
}
