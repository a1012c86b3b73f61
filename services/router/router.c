/*
 * router.c - the router daemon (see router.h).
 *
 * Tables: rtask (one row per task: its task.ready, decisions, queue state,
 * attempts, the gate holding it, the id its next run gets once its run
 * was taken back), rrun (one row per dispatched attempt: executor, lease,
 * outcome, and its reservation and cost: see ledger.c), outcome (the
 * breaker's window), rbreaker (the breaker's state, one row: its phase,
 * since when, the outcomes it no longer counts, its probe run), kv (the
 * breaker's open flag of older versions, read once into rbreaker).
 *
 * Leases (opc/lease.h): every heartbeat grants each executor heard the
 * runs rrun holds for it (dispatched or started), echoing the stamp of
 * that executor's last heartbeat; its workers stop when grants stop.  A
 * run whose executor stays silent for the lease is taken back: rrun
 * superseded, the task queued again, exec.superseded journaled in the
 * same transaction.  Its exec.finished, if one comes, decides nothing.
 */
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/jsonx.h"
#include "opc/lease.h"
#include "opc/log.h"
#include "opc/outcome.h"
#include "opc/store.h"
#include "opc/topo.h"
#include "opc/util.h"
#include "route.h"
#include "router.h"
#include "router_int.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS rtask("
    " task_id TEXT PRIMARY KEY, ready TEXT NOT NULL, state TEXT NOT NULL,"
    " board_attempt INTEGER NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " last_attempt_ms INTEGER NOT NULL DEFAULT 0,"
    " proposal TEXT, decision TEXT, policy TEXT, last_reason TEXT,"
    " queued_ms INTEGER NOT NULL, hold TEXT, next_run_id TEXT);"
    "CREATE TABLE IF NOT EXISTS rrun("
    " run_id TEXT PRIMARY KEY, task_id TEXT NOT NULL,"
    " executor TEXT NOT NULL, attempt INTEGER NOT NULL,"
    " state TEXT NOT NULL, dispatched_ms INTEGER NOT NULL,"
    " started_ms INTEGER, lease_ms INTEGER NOT NULL,"
    " finished_ms INTEGER, status TEXT, repo_key TEXT,"
    " reserved_usd REAL NOT NULL DEFAULT 0, cost_usd REAL,"
    " cost_source TEXT);"
    "CREATE INDEX IF NOT EXISTS rrun_state ON rrun(state);"
    "CREATE INDEX IF NOT EXISTS rrun_dispatched ON rrun(dispatched_ms);"
    "CREATE TABLE IF NOT EXISTS outcome("
    " at_ms INTEGER NOT NULL, success INTEGER NOT NULL,"
    " quota INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS kv(k TEXT PRIMARY KEY, v INTEGER);"
    "CREATE TABLE IF NOT EXISTS rbreaker("
    " id INTEGER PRIMARY KEY CHECK (id = 1), phase TEXT NOT NULL,"
    " since_ms INTEGER NOT NULL, reset_ms INTEGER NOT NULL DEFAULT 0,"
    " probe_run TEXT);"
    /* an open breaker of an older version: its cool-off is over */
    "INSERT OR IGNORE INTO rbreaker(id, phase, since_ms)"
    " SELECT 1, CASE WHEN coalesce((SELECT v FROM kv"
    " WHERE k = 'breaker_open'), 0) THEN 'open' ELSE 'closed' END, 0;";

/* --------------------------------------------------------------- helpers */

/* col_rec: a record kept in a TEXT column as its JSON form (written by
 * msg_rec_dumps), read back with the bus decoder's rules (NULL when
 * absent or invalid). */
static void *
col_rec(struct store_stmt *st, int i, const struct msg_rec_def *def,
    const char *task_id)
{
	json_t *j   = jsonx_col(st, i);
	void   *rec = NULL;
	char    err[256];

	if (j == NULL)
		return (NULL);
	rec = msg_rec_new(def);
	if (msg_rec_from_json(def, rec, j, err, sizeof(err)) != 0) {
		log_warn("router.queue", "%s: stored %s unreadable: %s",
		    task_id, def->name, err);
		free(rec);
		rec = NULL;
	}
	json_decref(j);
	return (rec);
}

/* task_of fills a route_task from a task.ready body (borrowing from it). */
static void
task_of(const struct msg_task_ready *tr, struct route_task *t)
{
	memset(t, 0, sizeof(*t));
	t->task_id     = tr->task_id;
	t->title       = tr->title;
	t->goal        = tr->goal;
	t->repo_key    = tr->repo_key;
	t->kind        = tr->kind;
	t->description = tr->description;
	t->execution   = tr->execution;
	t->attempt     = tr->attempt;
	t->labels      = (const char *const *) tr->labels.v;
	t->nlabels     = tr->labels.n;
}

/* col_ready: a task.ready kept in a TEXT column as its JSON form, read
 * back with the bus decoder's rules (NULL when absent or invalid). */
static struct msg_task_ready *
col_ready(struct store_stmt *st, int i, const char *task_id)
{
	json_t                *j = jsonx_col(st, i);
	struct msg_task_ready *tr;
	char                   err[256];

	if (j == NULL)
		return (NULL);
	tr = xcalloc(1, sizeof(*tr));
	if (msg_body_from_json(MSG_TASK_READY, tr, j, err, sizeof(err)) != 0) {
		log_warn("router.queue",
		    "%s: stored task.ready unreadable: %s", task_id, err);
		free(tr);
		tr = NULL;
	}
	json_decref(j);
	return (tr);
}

static void
ready_free(struct msg_task_ready *tr)
{
	if (tr != NULL) {
		msg_body_fini(MSG_TASK_READY, tr);
		free(tr);
	}
}

/* emit_budget journals a gate's refusal; sp (may be NULL) adds the
 * spend cap's details, repo_key the task's repo. */
static int
emit_budget(struct router *r, const char *task_id, const struct gate *g,
    const struct spend_gate *sp, const char *repo_key)
{
	struct msg_budget_decision ev;

	memset(&ev, 0, sizeof(ev));
	ev.reason   = (char *) g->reason;
	ev.task_id  = (char *) task_id;
	ev.allowed  = g->allowed;
	ev.window   = (char *) g->window;
	ev.current  = g->current;
	ev.limit    = g->limit;
	ev.repo_key = (char *) repo_key;
	if (sp != NULL) {
		ev.scope        = (char *) sp->scope;
		ev.current_usd  = sp->current_usd;
		ev.limit_usd    = sp->limit_usd;
		ev.estimate_usd = sp->estimate_usd;
		log_info("router.gate",
		    "%s: %s (%s %s: %.4f + %.4f > %.4f "
		    "USD)",
		    task_id ? task_id : "-", g->reason, sp->scope,
		    sp->scope && strcmp(sp->scope, "repo") == 0 && repo_key
		        ? repo_key
		        : "cap",
		    sp->current_usd, sp->estimate_usd, sp->limit_usd);
	} else
		log_info("router.gate", "%s: %s (%s %lld/%lld)",
		    task_id ? task_id : "-", g->reason,
		    g->window ? g->window : "-", (long long) g->current,
		    (long long) g->limit);
	return (svc_emit(r->svc, MSG_BUDGET_DECISION, task_id, &ev));
}

/* ------------------------------------------------------------- handlers */

/* invalid_task builds the route.decided records for a task that cannot
 * even be planned (unknown repo key, empty goal): blocked by policy. */
static void
invalid_task(const char *why, struct msg_decision **dp, struct msg_policy **pp,
    int64_t now)
{
	struct msg_decision       *d = msg_decision_new();
	struct msg_policy         *p = msg_policy_new();
	struct msg_policy_finding *f;
	char                       id[37], at[40];

	iso8601(now, at, sizeof(at));
	d->decision_id         = xstrdup(uuid4(id));
	d->proposal_id         = xstrdup(uuid4(id));
	d->run_id              = xstrdup(uuid4(id));
	d->confidence          = 1.0;
	d->policy_rule_matched = xstrdup("routing.invalid_task");
	d->rationale           = xstrdup(why);
	d->decided_at          = xstrdup(at);
	d->switchboard_version = xstrdup("opcenter-router/1");
	p->decision_id         = xstrdup(d->decision_id);
	p->status              = MSG_POLICY_STATUS_BLOCK;
	f                      = msg_policy_finding_push(&p->violations);
	f->rule_id             = xstrdup("routing.invalid_task");
	f->category            = xstrdup("routing");
	f->message             = xstrdup(why);
	f->blocking            = true;
	p->effective_validation_profile = xstrdup("standard");
	p->effective_review_requirement = xstrdup("required");
	p->notes                        = xstrdup(why);
	p->evaluated_at                 = xstrdup(at);
	*dp                             = d;
	*pp                             = p;
}

static int
on_ready(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_task_ready *tr = &m->body.task_ready;
	struct route_task            t;
	struct msg_route_decided     ev;
	json_t                      *j;
	struct msg_proposal         *proposal;
	struct msg_decision         *decision;
	struct msg_policy           *policy;
	char                         err[256], *s_ready, *s_p, *s_d, *s_pol;
	const char                  *status;
	int64_t                      prev = -1, now = now_ms();
	int                          rv;

	(void) state;
	/* A task already queued or running for this board attempt is a
	 * duplicate (e.g. an injected copy). */
	(void) store_int(svc_store(svc), &prev, -1,
	    "SELECT board_attempt FROM rtask WHERE task_id = ? AND state IN"
	    " ('queued', 'dispatched')",
	    "t", tr->task_id);
	if (prev >= 0 && prev >= tr->attempt) {
		svc_count(svc, "duplicate_ready", 1);
		return (0);
	}
	task_of(tr, &t);
	proposal =
	    route_proposal(&t, svc_cfg_root(svc), now, err, sizeof(err));
	if (proposal == NULL) {
		log_warn("router.invalid", "%s: %s", tr->task_id, err);
		invalid_task(err, &decision, &policy, now);
	} else {
		decision = route_decide(proposal, svc_cfg(svc), now);
		policy   = route_policy(proposal, decision,
		      ((struct router *) state)->policy, now);
	}
	status = msg_policy_status_name(policy->status);
	memset(&ev, 0, sizeof(ev));
	ev.task_id       = tr->task_id;
	ev.decision_id   = decision->decision_id;
	ev.proposal_id   = decision->proposal_id;
	ev.lane          = decision->selected_lane;
	ev.backend       = decision->selected_backend;
	ev.rule          = decision->policy_rule_matched;
	ev.rationale     = decision->rationale;
	ev.policy_status = (char *) status;
	ev.proposal      = proposal;
	ev.decision      = decision;
	ev.policy        = policy;
	rv               = svc_emit(svc, MSG_ROUTE_DECIDED, tr->task_id, &ev);
	j                = msg_body_to_json(MSG_TASK_READY, tr);
	s_ready          = jsonx_dumps(j);
	json_decref(j);
	s_p   = msg_rec_dumps(&msg_rec_proposal, proposal);
	s_d   = msg_rec_dumps(&msg_rec_decision, decision);
	s_pol = msg_rec_dumps(&msg_rec_policy, policy);
	if (rv == 0)
		rv = store_run(svc_store(svc),
		    "INSERT OR REPLACE INTO rtask(task_id, ready, state,"
		    " board_attempt, attempts, last_attempt_ms, proposal,"
		    " decision, policy, last_reason, queued_ms)"
		    " VALUES (?, ?, ?, ?, 0, 0, ?, ?, ?, NULL, ?)",
		    "tttittti", tr->task_id, s_ready,
		    (proposal == NULL ||
		        policy->status == MSG_POLICY_STATUS_BLOCK ||
		        policy->status == MSG_POLICY_STATUS_REQUIRE_REVIEW)
		        ? "blocked"
		        : "queued",
		    tr->attempt, s_p, s_d, s_pol, now);
	log_info("router.decided", "%s: lane %s backend %s rule %s policy %s",
	    tr->task_id, ev.lane ? ev.lane : "-",
	    ev.backend ? ev.backend : "-", ev.rule ? ev.rule : "-", status);
	free(s_ready);
	free(s_p);
	free(s_d);
	free(s_pol);
	msg_proposal_free(proposal);
	msg_decision_free(decision);
	msg_policy_free(policy);
	return (rv);
}

static int
on_started(struct svc *svc, const struct msg *m, void *state)
{
	(void) state;
	return (store_run(svc_store(svc),
	    "UPDATE rrun SET state = 'started', started_ms = ?"
	    " WHERE run_id = ? AND state = 'dispatched'",
	    "it", now_ms(), m->body.exec_started.run_id));
}

/* bk_load reads the breaker's state; *probe (may be NULL) gets the run id
 * of its probe (the caller frees it), NULL when none is out. */
static struct breaker_state
bk_load(struct router *r, char **probe)
{
	struct breaker_state s;
	struct store_stmt   *st;

	memset(&s, 0, sizeof(s));
	if (probe != NULL)
		*probe = NULL;
	if (store_prep(svc_store(r->svc), &st,
	        "SELECT phase, since_ms, reset_ms, probe_run FROM rbreaker"
	        " WHERE id = 1") != 0)
		return (s);
	if (store_step(st) == 1) {
		if (breaker_phase_parse(store_col_text(st, 0), &s.phase) != 0)
			s.phase = BREAKER_CLOSED;
		s.since_ms = store_col_int(st, 1);
		s.reset_ms = store_col_int(st, 2);
		s.probing  = !store_col_is_null(st, 3);
		if (probe != NULL && s.probing)
			*probe = store_col_dup(st, 3);
	}
	store_done(st);
	return (s);
}

/* bk_window is breaker_eval over the outcomes the breaker counts: those
 * after its reset_ms. */
static struct breaker
bk_window(struct router *r, const struct breaker_state *s, int64_t now)
{
	struct store_stmt *st;
	struct outcome    *o = NULL;
	struct breaker     b;
	size_t             n = 0;

	memset(&b, 0, sizeof(b));
	if (store_prep(svc_store(r->svc), &st,
	        "SELECT at_ms, success, quota FROM outcome WHERE at_ms > ?"
	        " ORDER BY at_ms DESC LIMIT 100") != 0)
		return (b);
	store_bind_int(st, 1, s->reset_ms);
	while (store_step(st) == 1) {
		o            = xrealloc(o, (n + 1) * sizeof(*o));
		o[n].at_ms   = store_col_int(st, 0);
		o[n].success = store_col_int(st, 1) != 0;
		o[n].quota   = store_col_int(st, 2) != 0;
		n++;
	}
	store_done(st);
	b = budget_breaker_eval(&r->b, o, n, now);
	free(o);
	return (b);
}

/* bk_save writes s (probe: the run out as its probe, NULL: none) and,
 * when s.why says the phase changed, journals circuit.changed with the
 * window w. */
static int
bk_save(struct router *r, const struct breaker_state *s, const char *probe,
    const struct breaker *w)
{
	struct msg_circuit_changed ev;
	int                        rv;

	if ((rv = store_run(svc_store(r->svc),
	         "INSERT OR REPLACE INTO rbreaker(id, phase, since_ms,"
	         " reset_ms, probe_run) VALUES (1, ?, ?, ?, ?)",
	         "tiit", breaker_phase_name(s->phase), s->since_ms,
	         s->reset_ms, s->probing ? probe : NULL)) != 0 ||
	    s->why == NULL)
		return (rv);
	memset(&ev, 0, sizeof(ev));
	ev.state        = (char *) breaker_phase_name(s->phase);
	ev.failure_rate = w->failure_rate;
	ev.window       = w->samples;
	ev.failures     = w->failures;
	ev.reason       = (char *) s->why;
	ev.run_id       = (char *) probe;
	if (s->phase == BREAKER_OPEN)
		ev.cooloff_ms = r->b.breaker_cooloff_ms;
	log_warn("router.breaker", "circuit %s (%s): %lld/%lld failures",
	    ev.state, s->why, (long long) w->failures, (long long) w->samples);
	return (svc_emit(r->svc, MSG_CIRCUIT_CHANGED, NULL, &ev));
}

/* breaker_update follows a finished run: the probe's verdict when it was
 * the probe, else the window's. */
static int
breaker_update(struct router *r, const char *run_id, bool success, bool quota)
{
	struct breaker_state s;
	struct breaker       w;
	char                *probe;
	int64_t              now = now_ms();
	int                  rv;

	s = bk_load(r, &probe);
	if (probe != NULL && strcmp(probe, run_id) == 0) {
		/* quota says nothing of the backend's health: the slot
		 * goes to the next probe */
		s  = breaker_probe_done(s,
                    quota         ? BREAKER_LOST
		         : success ? BREAKER_SUCCEEDED
		                   : BREAKER_FAILED,
		     now);
		w  = bk_window(r, &s, now);
		rv = bk_save(r, &s, run_id, &w);
		free(probe);
		return (rv);
	}
	w  = bk_window(r, &s, now);
	s  = breaker_outcome(s, &w, now);
	rv = s.why != NULL ? bk_save(r, &s, probe, &w) : 0;
	free(probe);
	return (rv);
}

static int
on_finished(struct svc *svc, const struct msg *m, void *state)
{
	struct router                  *r     = state;
	const struct msg_exec_finished *f     = &m->body.exec_finished;
	int64_t                         known = 0, at = now_ms();
	bool                            quota;
	int                             rv;

	(void) store_int(svc_store(svc), &known, 0,
	    "SELECT count(*) FROM rrun WHERE run_id = ? AND state IN"
	    " ('dispatched', 'started')",
	    "t", f->run_id);
	if (known == 0) {
		/* superseded (re-dispatched) or unknown: not ours to decide,
		 * but money a superseded run spent is booked */
		svc_count(svc, "stale_finished", 1);
		return (ledger_book(r, f, false, at));
	}
	if ((rv = store_run(svc_store(svc),
	         "UPDATE rrun SET state = 'finished', finished_ms = ?,"
	         " status = ? WHERE run_id = ?",
	         "itt", at, f->status, f->run_id)) != 0 ||
	    (rv = ledger_book(r, f, true, at)) != 0)
		return (rv);
	if (strcmp(f->status, "interrupted") == 0) {
		/* Retried by the effect loop within the retry cap. */
		log_warn("router.interrupted",
		    "%s: run %s interrupted; "
		    "requeued",
		    f->task_id, f->run_id);
		return (store_run(svc_store(svc),
		    "UPDATE rtask SET state = 'queued', last_reason = NULL"
		    " WHERE task_id = ? AND state = 'dispatched'",
		    "t", f->task_id));
	}
	/* quota exhaustion by category; the reason's text only for results
	 * older than the agent contract */
	quota = outcome_quota(
	    f->failure_category, f->failure_reason, f->result != NULL);
	if ((rv = store_run(svc_store(svc),
	         "INSERT INTO outcome(at_ms, success, quota) VALUES (?, ?, ?)",
	         "iii", now_ms(), (int64_t) f->success, (int64_t) quota)) !=
	        0 ||
	    (rv = store_run(svc_store(svc),
	         "UPDATE rtask SET state = ? WHERE task_id = ?", "tt",
	         f->success ? "done" : "failed", f->task_id)) != 0)
		return (rv);
	return (breaker_update(r, f->run_id, f->success, quota));
}

static struct executor *
executor_find(struct router *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nex; i++)
		if (strcmp(r->ex[i].name, name) == 0)
			return (&r->ex[i]);
	return (NULL);
}

/* heard_stamp keeps the lease stamp of an executor's heartbeat, to echo
 * in our grants.  A heartbeat without one (an older executor) leaves the
 * executor ungranted; a malformed one is counted and told once. */
static void
heard_stamp(
    struct svc *svc, struct executor *e, const struct msg_heartbeat_info *hi)
{
	if (hi->lease_epoch == NULL && !hi->has_lease_stamp)
		return;
	if (hi->lease_epoch == NULL || *hi->lease_epoch == '\0' ||
	    strlen(hi->lease_epoch) > LEASE_EPOCH_MAX ||
	    !hi->has_lease_stamp || hi->lease_stamp <= 0) {
		svc_count(svc, "bad_lease_stamp", 1);
		if (!e->bad_stamp_told)
			log_warn("router.lease",
			    "%s: heartbeat with a bad "
			    "lease_epoch or lease_stamp: no grants for it",
			    e->name);
		e->bad_stamp_told = true;
		e->epoch[0]       = '\0';
		e->stamp          = 0;
		return;
	}
	snprintf(e->epoch, sizeof(e->epoch), "%s", hi->lease_epoch);
	e->stamp = hi->lease_stamp;
}

static void
on_heartbeat(struct svc *svc, const struct msg *m, void *state)
{
	struct router                         *r  = state;
	struct executor                       *e  = executor_find(r, m->src);
	const struct msg_heartbeat_info       *hi = m->body.heartbeat.info;
	static const struct msg_heartbeat_info none;

	if (e == NULL)
		return;
	if (hi == NULL)
		hi = &none;
	e->last_hb       = mono_ms();
	e->free_slots    = hi->has_free_slots ? hi->free_slots : 1;
	e->mem_free_mb   = hi->has_mem_free_mb ? hi->mem_free_mb : -1;
	e->low_disk      = hi->has_low_disk && hi->low_disk;
	e->disk_free_mb  = hi->disk_free_mb;
	e->disk_floor_mb = hi->disk_floor_mb;
	heard_stamp(svc, e, hi);
}

/* ---------------------------------------------------------- effect loop */

/* router_take_back supersedes run_id of task_id (executor, why) in one
 * transaction: rrun superseded, the task queued again with the id of its
 * next run, exec.superseded journaled.  A run an operator's pause stopped
 * gives its attempt back: the task did nothing wrong. */
void
router_take_back(struct router *r, const char *run_id, const char *task_id,
    const char *executor, const char *why)
{
	struct msg_exec_superseded ev;
	char                       next[37];

	log_warn("router.lease",
	    "%s: run %s on %s taken back (%s); "
	    "re-dispatching",
	    task_id, run_id, executor, why);
	memset(&ev, 0, sizeof(ev));
	ev.run_id    = (char *) run_id;
	ev.task_id   = (char *) task_id;
	ev.executor  = (char *) executor;
	ev.by_run_id = uuid4(next);
	ev.reason    = (char *) why;
	if (svc_begin(r->svc) != 0)
		return;
	if (store_run(svc_store(r->svc),
	        "UPDATE rrun SET state = 'superseded' WHERE run_id = ?", "t",
	        run_id) == 0 &&
	    store_run(svc_store(r->svc),
	        "UPDATE rtask SET state = 'queued', next_run_id = ?,"
	        " attempts = max(attempts - ?, 0) WHERE"
	        " task_id = ? AND state = 'dispatched'",
	        "tit", next, (int64_t) (strcmp(why, "paused") == 0),
	        task_id) == 0 &&
	    svc_emit(r->svc, MSG_EXEC_SUPERSEDED, task_id, &ev) == 0) {
		if (svc_commit(r->svc) == 0)
			svc_count(r->svc, "lease_expired", 1);
	} else
		(void) svc_rollback(r->svc);
}

/* heard_of describes executor e (NULL: none) as the lease logic sees
 * it. */
static struct heard_exec
heard_of(const struct executor *e)
{
	struct heard_exec h;

	memset(&h, 0, sizeof(h));
	if (e != NULL) {
		h.name  = e->name;
		h.heard = e->last_hb;
		h.epoch = e->epoch[0] != '\0' ? e->epoch : NULL;
		h.stamp = e->stamp;
	}
	return (h);
}

/* expire_leases takes back the runs whose executor went silent for
 * longer than the lease, or whose dispatch did not start within
 * TAKEBACK_DISPATCH_LEASES leases (takeback_reason). */
static void
expire_leases(struct router *r, int64_t now)
{
	struct store_stmt *st;
	struct heard_exec  h;
	struct held_run    run;
	char             **ids = NULL, **tasks = NULL, **exs = NULL;
	const char       **why  = NULL, *w;
	size_t             n    = 0, i;
	int64_t            mono = mono_ms();

	if (store_prep(svc_store(r->svc), &st,
	        "SELECT run_id, task_id, executor, state, dispatched_ms,"
	        " lease_ms FROM rrun WHERE state IN ('dispatched', "
	        "'started')") != 0)
		return;
	while (store_step(st) == 1) {
		memset(&run, 0, sizeof(run));
		run.run_id   = store_col_text(st, 0);
		run.executor = store_col_text(st, 2);
		run.started  = strcmp(store_col_text(st, 3), "started") == 0;
		run.dispatched_ms = store_col_int(st, 4);
		run.lease_ms      = store_col_int(st, 5);
		h                 = heard_of(executor_find(r, run.executor));
		if ((w = takeback_reason(&run, h.name != NULL ? &h : NULL,
		         r->started, mono, now)) == NULL)
			continue;
		ids      = xrealloc(ids, (n + 1) * sizeof(*ids));
		tasks    = xrealloc(tasks, (n + 1) * sizeof(*tasks));
		exs      = xrealloc(exs, (n + 1) * sizeof(*exs));
		why      = xrealloc(why, (n + 1) * sizeof(*why));
		ids[n]   = xstrdup(run.run_id);
		tasks[n] = xstrdup(store_col_text(st, 1));
		exs[n]   = xstrdup(run.executor);
		why[n++] = w;
	}
	store_done(st);
	for (i = 0; i < n; i++) {
		router_take_back(r, ids[i], tasks[i], exs[i], why[i]);
		free(ids[i]);
		free(tasks[i]);
		free(exs[i]);
	}
	free(ids);
	free(tasks);
	free(exs);
	free(why);
}

/* pick chooses a fresh executor with a free slot (minus runs dispatched
 * to it and not yet started) and room on its disk; *low gets a fresh one
 * held back only by its disk guardrail (NULL: none). */
static struct executor *
pick(struct router *r, struct executor **low)
{
	struct executor *best = NULL;
	int64_t          mono = mono_ms(), inflight, free_best = 0;
	size_t           i;

	for (i = 0; i < r->nex; i++) {
		struct executor *e = &r->ex[i];

		if (e->last_hb == 0 || mono - e->last_hb > r->stale_ms)
			continue;
		if (e->low_disk) {
			*low = e;
			continue;
		}
		inflight = 0;
		(void) store_int(svc_store(r->svc), &inflight, 0,
		    "SELECT count(*) FROM rrun WHERE executor = ? AND"
		    " state = 'dispatched'",
		    "t", e->name);
		if (e->free_slots - inflight > free_best) {
			free_best = e->free_slots - inflight;
			best      = e;
		}
	}
	return (best);
}

/* refuse records a gate refusal once per (task, reason, scope of a spend
 * cap); sp and repo_key as for emit_budget. */
static void
refuse_spend(struct router *r, const char *task_id, const char *last,
    const char *last_hold, const struct gate *g, const char *new_state,
    const struct spend_gate *sp, const char *repo_key)
{
	const char *hold = sp != NULL ? sp->scope : NULL;

	if (last != NULL && strcmp(last, g->reason) == 0 &&
	    new_state == NULL &&
	    (hold == NULL ||
	        (last_hold != NULL && strcmp(last_hold, hold) == 0)))
		return;
	if (svc_begin(r->svc) != 0)
		return;
	if (store_run(svc_store(r->svc),
	        "UPDATE rtask SET last_reason = ?, hold = ?,"
	        " state = coalesce(?, state) WHERE task_id = ?",
	        "tttt", g->reason, hold, new_state, task_id) == 0 &&
	    emit_budget(r, task_id, g, sp, repo_key) == 0)
		(void) svc_commit(r->svc);
	else
		(void) svc_rollback(r->svc);
}

static void
refuse(struct router *r, const char *task_id, const char *last,
    const struct gate *g, const char *new_state)
{
	refuse_spend(r, task_id, last, NULL, g, new_state, NULL, NULL);
}

/* refuse_paused says once per task and pause that an operator's pause
 * holds it: budget.decision reason paused, with the pause's reason as its
 * note (board-sync comments the task with it).  rtask.hold keeps the
 * pause_id told, so a later pause (after a resume the task waited
 * through) is told again, and resume counts the tasks its pause held. */
static void
refuse_paused(struct router *r, const char *task_id, const char *last,
    const char *last_hold, const char *repo_key, const struct pause_hold *h)
{
	struct msg_budget_decision ev;
	const char                *pid = h->pause_id ? h->pause_id : "";

	if (last != NULL && strcmp(last, "paused") == 0 && last_hold != NULL &&
	    strcmp(last_hold, pid) == 0)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.reason   = "paused";
	ev.task_id  = (char *) task_id;
	ev.window   = "pause";
	ev.repo_key = (char *) repo_key;
	ev.scope    = h->global ? "global" : "repo";
	ev.note     = h->reason;
	if (svc_begin(r->svc) != 0)
		return;
	if (store_run(svc_store(r->svc),
	        "UPDATE rtask SET last_reason = 'paused', hold = ?"
	        " WHERE task_id = ?",
	        "tt", pid, task_id) == 0 &&
	    svc_emit(r->svc, MSG_BUDGET_DECISION, task_id, &ev) == 0 &&
	    svc_commit(r->svc) == 0) {
		log_info("router.gate",
		    "%s: dispatch skipped: paused (%s: %s)", task_id,
		    h->global ? "all repos" : h->repo_key, h->reason);
		svc_count(r->svc, "paused_held", 1);
	} else
		(void) svc_rollback(r->svc);
}

/* hold_paused: every queued task a pause covers (the pause of every repo
 * first, else its repo's) and not yet told of that pause hears it, a
 * bounded batch a pass in queue order.  The dispatch pass then skips the
 * paused repos: however many tasks a repo's pause holds, they never keep
 * the tasks of other repos behind them waiting. */
static void
hold_paused(struct router *r)
{
	struct store_stmt *st;
	struct pause_hold  h;
	char              *ids[64], *holds[64], *repos[64], *lasts[64];
	size_t             n = 0, i;

	if (store_prep(svc_store(r->svc), &st,
	        "SELECT task_id, last_reason, hold, repo FROM ("
	        " SELECT task_id, last_reason, hold, queued_ms,"
	        " json_extract(ready, '$.repo_key') AS repo,"
	        " coalesce((SELECT pause_id FROM rpause WHERE repo_key = ''),"
	        " (SELECT pause_id FROM rpause WHERE repo_key ="
	        " json_extract(ready, '$.repo_key'))) AS pid"
	        " FROM rtask WHERE state = 'queued')"
	        " WHERE pid IS NOT NULL AND (coalesce(last_reason, '') !="
	        " 'paused' OR coalesce(hold, '') != pid)"
	        " ORDER BY queued_ms LIMIT 64") != 0)
		return;
	while (n < nitems(ids) && store_step(st) == 1) {
		ids[n]     = xstrdup(store_col_text(st, 0));
		lasts[n]   = store_col_dup(st, 1);
		holds[n]   = store_col_dup(st, 2);
		repos[n++] = store_col_dup(st, 3);
	}
	store_done(st);
	for (i = 0; i < n; i++) {
		if (pause_find(r, repos[i], &h)) {
			refuse_paused(
			    r, ids[i], lasts[i], holds[i], repos[i], &h);
			pause_hold_fini(&h);
		}
		free(ids[i]);
		free(lasts[i]);
		free(holds[i]);
		free(repos[i]);
	}
}

/* run_id_for picks the id of a task's next run: the one its decision
 * named for a first attempt, the one announced when its last run was
 * taken back (exec.superseded by_run_id), else a new one; never an id
 * rrun has already (a retry whose count was reset). */
static const char *
run_id_for(struct router *r, const struct msg_decision *decision,
    const char *next, int64_t attempts, char rid[37])
{
	const char *id    = next != NULL ? next
	       : attempts == 0           ? decision->run_id
	                                 : NULL;
	int64_t     taken = 0;

	if (id != NULL)
		(void) store_int(svc_store(r->svc), &taken, 0,
		    "SELECT count(*) FROM rrun WHERE run_id = ?", "t", id);
	return (id != NULL && taken == 0 ? id : uuid4(rid));
}

/* dispatch sends one run of the task to executor e, holding reserve_usd
 * of the spend caps until it finishes; next is the id announced for it
 * (NULL: none); probe: the run is the half-open breaker's probe. */
static int
dispatch(struct router *r, struct executor *e, const char *task_id,
    const struct msg_task_ready *ready, const struct msg_proposal *proposal,
    const struct msg_decision *decision, const struct msg_policy *policy,
    const char *next, int64_t attempts, int64_t now, double reserve_usd,
    bool probe)
{
	struct msg_exec_dispatch ev;
	struct route_task        t;
	struct msg_exec_request *req;
	char                     rid[37];
	const char              *run_id;
	int                      rv;

	run_id = run_id_for(r, decision, next, attempts, rid);
	task_of(ready, &t);
	req = route_request(proposal, decision, policy, &t,
	    svc_cfg_root(r->svc), attempts + 1, now);
	if (req == NULL)
		return (ERR_INVAL);
	if (strcmp(req->run_id, run_id) != 0) { /* a retry: its own branch */
		free(req->run_id);
		req->run_id = xstrdup(run_id);
		free(req->task_branch);
		req->task_branch = xasprintf(
		    "%s/%s-%.8s", t.kind ? t.kind : "goal", task_id, run_id);
	}
	memset(&ev, 0, sizeof(ev));
	ev.run_id   = (char *) run_id;
	ev.task_id  = (char *) task_id;
	ev.executor = (char *) e->name;
	ev.attempt  = attempts + 1;
	ev.lease_ms = r->lease_ms;
	ev.request  = req;
	if ((rv = svc_begin(r->svc)) != 0) {
		msg_exec_request_free(req);
		return (rv);
	}
	if ((rv = store_run(svc_store(r->svc),
	         "INSERT INTO rrun(run_id, task_id, executor, attempt, state,"
	         " dispatched_ms, lease_ms, repo_key, reserved_usd)"
	         " VALUES (?, ?, ?, ?, 'dispatched', ?, ?, ?, ?)",
	         "tttiiitd", run_id, task_id, e->name, attempts + 1, now,
	         r->lease_ms, t.repo_key, reserve_usd)) == 0 &&
	    (rv = store_run(svc_store(r->svc),
	         "UPDATE rtask SET state = 'dispatched', attempts = ?,"
	         " last_attempt_ms = ?, last_reason = NULL, hold = NULL,"
	         " next_run_id = NULL WHERE task_id = ?",
	         "iit", attempts + 1, now, task_id)) == 0 &&
	    (!probe ||
	        (rv = store_run(svc_store(r->svc),
	             "UPDATE rbreaker SET probe_run = ?"
	             " WHERE phase = 'half_open'",
	             "t", run_id)) == 0) &&
	    (rv = svc_emit(r->svc, MSG_EXEC_DISPATCH, task_id, &ev)) == 0)
		rv = svc_commit(r->svc);
	else
		(void) svc_rollback(r->svc);
	if (rv == 0) {
		/* no e->free_slots-- here: pick() already subtracts the runs
		 * dispatched and not yet started, this one included, and
		 * counting it twice refused dispatches (no_executor_available)
		 * until the executor's next heartbeat */
		log_info("router.dispatch",
		    "%s: run %s attempt %lld -> %s"
		    " (reserves %.4f USD)",
		    task_id, run_id, (long long) (attempts + 1), e->name,
		    reserve_usd);
	}
	msg_exec_request_free(req);
	return (rv);
}

/* gates runs the time-dependent gates for one queued task: GATE_OPEN
 * when it may be dispatched now, GATE_TASK when this task may not (its
 * retry cap, its repo's spend cap), GATE_ALL when no queued task may
 * (budget, breaker, concurrency, the global spend cap, no executor,
 * memory: the same answer for every task, so the caller stops asking for
 * this pass).  q is the queued task; *reserve is what its run would hold
 * of the spend caps; *probe says its run is the half-open breaker's
 * probe. */
enum gate_verdict { GATE_OPEN, GATE_TASK, GATE_ALL };

struct queued {
	char                  *task_id, *last_reason, *hold, *next_run_id;
	struct msg_task_ready *ready;
	struct msg_proposal   *proposal;
	struct msg_decision   *decision;
	struct msg_policy     *policy;
	int64_t                attempts, last_attempt;
};

static enum gate_verdict
gates(struct router *r, struct queued *q, struct ledger *l, int64_t now,
    struct executor **ep, double *reserve, bool *probe)
{
	struct breaker_state bk;
	char                *probe_run = NULL;
	const char        *task_id = q->task_id, *last_reason = q->last_reason;
	const char        *repo = q->ready->repo_key;
	struct store_stmt *st;
	struct gate        g;
	struct spend_gate  sg;
	struct executor   *low  = NULL;
	int64_t            hour = 0, day = 0, running = 0, open = 0;
	bool               reset = false;
	struct pause_hold  ph;

	/* an operator's pause first: the task waits, whatever else */
	if (pause_find(r, repo, &ph)) {
		refuse_paused(r, task_id, last_reason, q->hold, repo, &ph);
		pause_hold_fini(&ph);
		return (GATE_TASK);
	}
	g = budget_retry_check(
	    &r->b, q->attempts, q->last_attempt, now, &reset);
	if (!g.allowed) {
		refuse(r, task_id, last_reason, &g, "gave_up");
		return (GATE_TASK);
	}
	if (reset)
		q->attempts = 0;
	/* counted by sqlite over the dispatched_ms index: loading every
	 * dispatch time of the day for each queued task made a pass over a
	 * long queue quadratic */
	if (store_prep(svc_store(r->svc), &st,
	        "SELECT coalesce(sum(dispatched_ms > ?), 0), count(*)"
	        " FROM rrun WHERE dispatched_ms > ?") == 0) {
		store_bind_int(st, 1, now - 3600000);
		store_bind_int(st, 2, now - 86400000);
		if (store_step(st) == 1) {
			hour = store_col_int(st, 0);
			day  = store_col_int(st, 1);
		}
		store_done(st);
	}
	g = budget_check_counts(&r->b, hour, day);
	if (!g.allowed) {
		refuse(r, task_id, last_reason, &g, NULL);
		return (GATE_ALL);
	}
	bk = bk_load(r, &probe_run);
	if (bk.probing) {
		(void) store_int(svc_store(r->svc), &open, 0,
		    "SELECT count(*) FROM rrun WHERE run_id = ? AND"
		    " state IN ('dispatched', 'started')",
		    "t", probe_run);
		if (open == 0) {
			/* interrupted or taken back: no verdict */
			log_info("router.breaker",
			    "probe %s ended without a "
			    "verdict: the next dispatch probes",
			    probe_run);
			bk = breaker_probe_done(bk, BREAKER_LOST, now);
			(void) bk_save(r, &bk, NULL, NULL);
		}
	}
	free(probe_run);
	if (!breaker_allows(&bk)) {
		g = (struct gate) { false, "circuit_breaker_open", "recent", 0,
			r->b.breaker_window };
		refuse(r, task_id, last_reason, &g, NULL);
		return (GATE_ALL);
	}
	*probe = bk.phase == BREAKER_HALF_OPEN;
	(void) store_int(svc_store(r->svc), &running, 0,
	    "SELECT count(*) FROM rrun WHERE state IN ('dispatched',"
	    " 'started')",
	    NULL);
	g = budget_concurrency_check(&r->b, running);
	if (!g.allowed) {
		refuse(r, task_id, last_reason, &g, NULL);
		return (GATE_ALL);
	}
	/* the task stays queued: dispatched when the day's window allows */
	sg = ledger_check(
	    r, l, repo, q->decision->selected_backend, now, reserve);
	if (!sg.g.allowed) {
		refuse_spend(
		    r, task_id, last_reason, q->hold, &sg.g, NULL, &sg, repo);
		return (
		    strcmp(sg.scope, "global") == 0 ? GATE_ALL : GATE_TASK);
	}
	if ((*ep = pick(r, &low)) == NULL) {
		/* dispatch skipped: low_disk when a disk is all that holds
		 * it (current, limit: that executor's free MiB and floor) */
		g = low != NULL
		    ? (struct gate) { false, "low_disk", "disk",
			      low->disk_free_mb, low->disk_floor_mb }
		    : (struct gate) { false, "no_executor_available", NULL, 0,
			      0 };
		refuse(r, task_id, last_reason, &g, NULL);
		return (GATE_ALL);
	}
	g = budget_memory_check(&r->b, (*ep)->mem_free_mb);
	if (!g.allowed) {
		refuse(r, task_id, last_reason, &g, NULL);
		return (GATE_ALL);
	}
	return (GATE_OPEN);
}

/* breaker_cooled: an open breaker whose cool-off is over goes half_open
 * (circuit.changed), letting the next dispatch through as its probe. */
static void
breaker_cooled(struct router *r, int64_t now)
{
	struct breaker_state s = bk_load(r, NULL);
	struct breaker       w;

	s = breaker_tick(s, r->b.breaker_cooloff_ms, now);
	if (s.why == NULL || svc_begin(r->svc) != 0)
		return;
	w = bk_window(r, &s, now);
	if (bk_save(r, &s, NULL, &w) == 0)
		(void) svc_commit(r->svc);
	else
		(void) svc_rollback(r->svc);
}

static void
queued_fini(struct queued *q)
{
	free(q->task_id);
	free(q->last_reason);
	free(q->hold);
	free(q->next_run_id);
	ready_free(q->ready);
	msg_proposal_free(q->proposal);
	msg_decision_free(q->decision);
	msg_policy_free(q->policy);
	memset(q, 0, sizeof(*q));
}

static void
router_idle(struct svc *svc, void *state)
{
	struct router     *r = state;
	struct store_stmt *st;
	struct executor   *e;
	struct ledger      l = { 0 };
	struct queued      q;
	int64_t            now = now_ms();
	double             reserve;
	enum gate_verdict  v;
	bool               probe;
	int                guard;
	struct pause_hold  ph;

	if (!svc_caught_up(svc))
		return;
	expire_leases(r, now);
	breaker_cooled(r, now);
	if (pause_any(r)) {
		hold_paused(r);
		if (pause_global(r, &ph)) {
			pause_hold_fini(&ph);
			return;
		}
	}
	for (guard = 0; guard < 64; guard++) {
		if (store_prep(svc_store(svc), &st,
		        "SELECT task_id, ready, proposal, decision, policy,"
		        " attempts, last_attempt_ms, last_reason, hold,"
		        " next_run_id FROM rtask WHERE state = 'queued' AND"
		        " coalesce(json_extract(ready, '$.repo_key'), '') NOT"
		        " IN (SELECT repo_key FROM rpause) ORDER BY queued_ms"
		        " LIMIT 1 OFFSET ?") != 0)
			break;
		store_bind_int(st, 1, guard);
		if (store_step(st) != 1) {
			store_done(st);
			break;
		}
		memset(&q, 0, sizeof(q));
		q.task_id      = xstrdup(store_col_text(st, 0));
		q.ready        = col_ready(st, 1, q.task_id);
		q.proposal     = col_rec(st, 2, &msg_rec_proposal, q.task_id);
		q.decision     = col_rec(st, 3, &msg_rec_decision, q.task_id);
		q.policy       = col_rec(st, 4, &msg_rec_policy, q.task_id);
		q.attempts     = store_col_int(st, 5);
		q.last_attempt = store_col_int(st, 6);
		q.last_reason  = store_col_dup(st, 7);
		q.hold         = store_col_dup(st, 8);
		q.next_run_id  = store_col_dup(st, 9);
		store_done(st);
		e       = NULL;
		reserve = 0;
		probe   = false;
		v       = q.ready && q.proposal && q.decision && q.policy
		          ? gates(r, &q, &l, now, &e, &reserve, &probe)
		          : GATE_TASK;
		if (v == GATE_OPEN &&
		    dispatch(r, e, q.task_id, q.ready, q.proposal, q.decision,
		        q.policy, q.next_run_id, q.attempts, now, reserve,
		        probe) == 0) {
			ledger_add(&l, q.ready->repo_key, reserve, now);
			guard--; /* it left the queue: same offset again */
		}
		queued_fini(&q);
		if (v == GATE_ALL)
			break; /* the tasks behind it would hear the same */
	}
	ledger_fini(&l);
}

/* --------------------------------------------------------------- service */

static int
router_init(struct svc *svc, void *state)
{
	struct router          *r = state;
	const struct topo      *t = svc_topo(svc);
	const struct topo_inst *in;
	char                    err[512];
	size_t                  i;
	int                     rv;

	r->svc      = svc;
	r->started  = mono_ms();
	r->stale_ms = t->stale_after_ms;
	if ((rv = route_cfg_check(svc_cfg_root(svc), err, sizeof(err))) != 0 ||
	    (rv = budget_cfg_load(&r->b, svc_cfg(svc), err, sizeof(err))) !=
	        0 ||
	    (rv = cfg_tab_ms(router_keys, svc_cfg(svc), "lease", &r->lease_ms,
	         err, sizeof(err))) != 0) {
		log_error("router.config", "%s", err);
		return (ERR_CONFIG);
	}
	/* a grant comes every heartbeat and must arrive within half the
	 * lease, or the executors' runs stop (opc/lease.h) */
	if (r->lease_ms < 8 * t->heartbeat_ms)
		log_warn("router.config",
		    "lease %lld ms is short for heartbeats "
		    "every %lld ms: a run stops when no grant reached its "
		    "executor for half the lease; keep it above 8 heartbeats",
		    (long long) r->lease_ms, (long long) t->heartbeat_ms);
	for (i = 0; i < svc_inst(svc)->nupstreams && r->nex < MAX_EXECUTORS;
	     i++) {
		in = topo_find(t, svc_inst(svc)->upstreams[i]);
		if (in != NULL && strcmp(in->service, "executor") == 0)
			r->ex[r->nex++].name = in->name;
	}
	r->policy = route_policy_load(svc_cfg(svc));
	if (r->nex == 0)
		log_warn("router.config",
		    "no executor among the upstreams: "
		    "nothing will be dispatched");
	if ((rv = ledger_init(r, err, sizeof(err))) != 0) {
		log_error("router.config", "%s", err);
		return (rv);
	}
	if ((rv = store_exec(svc_store(svc), schema)) != 0 ||
	    (rv = ledger_migrate(svc_store(svc))) != 0 ||
	    (rv = pause_init(svc_store(svc))) != 0)
		return (rv);
	return (
	    store_add_column(svc_store(svc), "rtask", "next_run_id", "TEXT"));
}

static void
router_fini(struct svc *svc, void *state)
{
	struct router *r = state;

	(void) svc;
	route_policy_free(r->policy);
	r->policy = NULL;
}

static void
router_status(struct svc *svc, void *state, json_t *obj)
{
	struct router *r = state;
	json_t        *q = store_counts(svc_store(svc),
	                  "SELECT state, count(*) FROM rtask GROUP BY state"),
	       *ex       = json_object();
	struct breaker_state bk;
	int64_t              mono = mono_ms();
	size_t               i;

	bk = bk_load(r, NULL);
	for (i = 0; i < r->nex; i++)
		json_object_set_new(ex, r->ex[i].name,
		    json_pack("{s:I, s:I, s:I, s:I, s:b}", "heartbeat_age_ms",
		        (json_int_t) (r->ex[i].last_hb
		                ? mono - r->ex[i].last_hb
		                : -1),
		        "free_slots", (json_int_t) r->ex[i].free_slots,
		        "mem_free_mb", (json_int_t) r->ex[i].mem_free_mb,
		        "disk_free_mb", (json_int_t) r->ex[i].disk_free_mb,
		        "low_disk", r->ex[i].low_disk));
	json_object_set_new(obj, "tasks", q);
	json_object_set_new(
	    obj, "breaker", json_string(breaker_phase_name(bk.phase)));
	json_object_set_new(obj, "executors", ex);
	ledger_status(r, obj);
	pause_status(r, obj);
}

/* router_heartbeat grants each executor heard the runs rrun holds for
 * it (route_grants): what keeps its workers going.  From the db, so a
 * restarted router grants what it held, once it hears the executor. */
static void
router_heartbeat(struct svc *svc, void *state, struct msg_heartbeat_info *info)
{
	struct router     *r = state;
	struct store_stmt *st;
	struct heard_exec  ex[MAX_EXECUTORS];
	struct held_run   *held = NULL;
	struct msg_strs    ids = { 0, NULL }, exs = { 0, NULL };
	size_t             i;
	int                rv;

	for (i = 0; i < r->nex; i++)
		ex[i] = heard_of(&r->ex[i]);
	if ((rv = store_prep(svc_store(svc), &st,
	         "SELECT run_id, executor FROM rrun"
	         " WHERE state IN ('dispatched', 'started')")) == 0) {
		while ((rv = store_step(st)) == 1) {
			msg_strs_add(&ids, store_col_text(st, 0));
			msg_strs_add(&exs, store_col_text(st, 1));
		}
		store_done(st);
	}
	held = xcalloc(ids.n + 1, sizeof(*held));
	for (i = 0; i < ids.n; i++) {
		held[i].run_id   = ids.v[i];
		held[i].executor = exs.v[i];
	}
	/* no grants at all when the db does not answer: a grant naming
	 * nothing would take every run away */
	if (rv == 0) {
		route_grants(&info->grants, ex, r->nex, held, ids.n);
		info->has_grants = true;
	}
	info->lease_ms     = r->lease_ms;
	info->has_lease_ms = true;
	msg_strs_fini(&ids);
	msg_strs_fini(&exs);
	free(held);
}

/* on_task_updated: a move to Cancelled (a human's, on the board) ends
 * the task here (cancel.c); other moves are board-sync's. */
static int
on_task_updated(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_task_updated *t = &m->body.task_updated;

	(void) state;
	if (t->state != MSG_TASK_STATE_CANCELLED)
		return (0);
	return (router_cancel(svc, t->task_id, t->comment));
}

static const struct svc_handler handlers[] = {
	{ MSG_TASK_READY, on_ready },
	{ MSG_TASK_UPDATED, on_task_updated },
	{ MSG_EXEC_STARTED, on_started },
	{ MSG_EXEC_FINISHED, on_finished },
	{ MSG_NONE, NULL },
};

/* bk_json: the breaker's state for `opc breaker status`. */
static json_t *
bk_json(struct router *r, const struct breaker_state *s, const char *probe,
    int64_t now)
{
	struct breaker w = bk_window(r, s, now);

	return (json_pack("{s:s, s:I, s:I, s:s?, s:f, s:I, s:I, s:f, s:I,"
	                  " s:I, s:I, s:I, s:I}",
	    "state", breaker_phase_name(s->phase), "since_ms",
	    (json_int_t) s->since_ms, "reset_ms", (json_int_t) s->reset_ms,
	    "probe_run_id", probe, "failure_rate", w.failure_rate, "samples",
	    (json_int_t) w.samples, "failures", (json_int_t) w.failures,
	    "threshold", r->b.breaker_threshold, "window",
	    (json_int_t) r->b.breaker_window, "min_samples",
	    (json_int_t) r->b.breaker_min_samples, "cooloff_ms",
	    (json_int_t) r->b.breaker_cooloff_ms, "staleness_ms",
	    (json_int_t) r->b.breaker_staleness_ms, "probe_at_ms",
	    (json_int_t) (s->phase == BREAKER_OPEN
	            ? s->since_ms + r->b.breaker_cooloff_ms
	            : 0)));
}

static int
ctl_breaker_status(struct svc *svc, const struct msg *req, json_t **data,
    char *err, size_t errlen, void *state)
{
	struct router       *r = state;
	struct breaker_state s;
	char                *probe;

	(void) svc;
	(void) req;
	(void) err;
	(void) errlen;
	s     = bk_load(r, &probe);
	*data = bk_json(r, &s, probe, now_ms());
	free(probe);
	return (0);
}

/* ctl_breaker_reset closes the breaker at once; the outcomes before now
 * no longer count.  Closing a closed breaker changes nothing (req0 may
 * send the request twice). */
static int
ctl_breaker_reset(struct svc *svc, const struct msg *req, json_t **data,
    char *err, size_t errlen, void *state)
{
	struct router       *r = state;
	struct breaker_state s, was;
	struct breaker       w;
	const char          *why = req->body.router_breaker_reset.reason;
	int64_t              now = now_ms();
	int                  rv;

	if (why != NULL && strlen(why) > 4096) {
		snprintf(err, errlen, "a reason holds at most 4096 bytes");
		return (ERR_INVAL);
	}
	was = bk_load(r, NULL);
	if (was.phase == BREAKER_CLOSED) {
		*data = json_pack("{s:s, s:s, s:b}", "state", "closed", "was",
		    "closed", "changed", 0);
		return (0);
	}
	if ((rv = svc_begin(svc)) != 0)
		return (rv);
	s = breaker_reset(was, now);
	w = bk_window(r, &s, now);
	log_warn("router.breaker", "reset by an operator%s%s",
	    why != NULL ? ": " : "", why != NULL ? why : "");
	if ((rv = bk_save(r, &s, NULL, &w)) != 0 ||
	    (rv = svc_commit(svc)) != 0) {
		(void) svc_rollback(svc);
		return (rv);
	}
	*data = json_pack("{s:s, s:s, s:b}", "state", "closed", "was",
	    breaker_phase_name(was.phase), "changed", 1);
	return (0);
}

static const struct svc_ctl ctls[] = {
	{ MSG_ROUTER_BREAKER_STATUS, ctl_breaker_status },
	{ MSG_ROUTER_BREAKER_RESET, ctl_breaker_reset },
	{ MSG_ROUTER_PAUSE, pause_ctl_pause },
	{ MSG_ROUTER_RESUME, pause_ctl_resume },
	{ MSG_NONE, NULL },
};

const struct svc_def router_def = {
	.name         = "router",
	.state_size   = sizeof(struct router),
	.init         = router_init,
	.fini         = router_fini,
	.handlers     = handlers,
	.ctls         = ctls,
	.status       = router_status,
	.idle         = router_idle,
	.heartbeat    = router_heartbeat,
	.on_heartbeat = on_heartbeat,
	.config       = router_keys,
};
