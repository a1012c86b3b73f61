/*
 * ledger.c - the router's spend ledger (issue 13): what each run reserved
 * and cost, kept on its rrun row in the router's db.
 *
 *   dispatch                rrun.reserved_usd = estimate (the backend's
 *                           max_budget_usd on any executor, else
 *                           budget.reserve_usd), repo_key; the run is open
 *   exec.finished           cost_usd = agent.cost_usd (cost_source
 *                           reported|computed), else cost_per_execution_usd
 *                           (estimated); an interrupted run that reported
 *                           nothing books 0 (released); the run is closed,
 *                           so its reservation no longer counts
 *   lease expired           superseded: the reservation is released; a
 *                           cost it reports later is still booked
 *
 * Booking happens in the exec.finished handler's transaction, with the
 * upstream cursor: a replayed or duplicated event books nothing twice.
 * The decision itself (spend.c) is a pure function of the sums.
 */
#include <stdio.h>
#include <string.h>

#include "opc/err.h"
#include "opc/log.h"
#include "opc/store.h"
#include "opc/topo.h"
#include "opc/util.h"
#include "router_int.h"

#define DAY_MS (24 * 3600 * (int64_t) 1000)

int
ledger_migrate(struct store *st)
{
	int rv;

	if ((rv = store_add_column(st, "rrun", "repo_key", "TEXT")) != 0 ||
	    (rv = store_add_column(st, "rrun", "reserved_usd",
	         "REAL NOT NULL DEFAULT 0")) != 0 ||
	    (rv = store_add_column(st, "rrun", "cost_usd", "REAL")) != 0 ||
	    (rv = store_add_column(st, "rrun", "cost_source", "TEXT")) != 0 ||
	    (rv = store_add_column(st, "rtask", "hold", "TEXT")) != 0)
		return (rv);
	return (store_exec(st,
	    "CREATE INDEX IF NOT EXISTS rrun_finished"
	    " ON rrun(finished_ms);"));
}

int
ledger_init(struct router *r, char *err, size_t errlen)
{
	const struct topo     *t     = svc_topo(r->svc);
	const struct cfg_node *root  = svc_cfg_root(r->svc);
	const struct cfg_node *repos = cfg_get(root, "repos"), *bk;
	double                 usd;
	size_t                 i, k;

	if (spend_fallback_usd(
	        root, svc_cfg(r->svc), &r->fallback_usd, err, errlen) != 0)
		return (ERR_CONFIG);
	r->nexec_cfg = 0;
	for (i = 0; i < t->ninst && r->nexec_cfg < MAX_EXECUTORS; i++)
		if (strcmp(t->inst[i].service, "executor") == 0)
			r->exec_cfg[r->nexec_cfg++] = t->inst[i].node;
	/* every backend's cap is an amount: checked now, not at dispatch */
	for (i = 0; i < r->nexec_cfg; i++) {
		bk = cfg_get(r->exec_cfg[i], "backends");
		for (k = 0; k < cfg_len(bk); k++)
			if (cfg_key_at(bk, k) != NULL &&
			    spend_estimate(r->exec_cfg, r->nexec_cfg,
			        cfg_key_at(bk, k), r->b.reserve_usd, &usd, err,
			        errlen) != 0)
				return (ERR_CONFIG);
	}
	r->capped = r->b.max_usd_per_day >= 0;
	for (i = 0; i < cfg_len(repos); i++) {
		if (spend_repo_cap(
		        root, cfg_key_at(repos, i), &usd, err, errlen) != 0)
			return (ERR_CONFIG);
		if (usd >= 0)
			r->capped = true;
	}
	if (r->capped)
		log_info("router.spend",
		    "spend caps on: global %.2f USD/day (<0: none), "
		    "reserve %.2f USD per run, fallback cost %.4f USD",
		    r->b.max_usd_per_day, r->b.reserve_usd, r->fallback_usd);
	return (0);
}

static void
ledger_push(struct ledger *l, const char *repo_key, int64_t at_ms,
    double reserved, double cost, bool open)
{
	l->e          = xrealloc(l->e, (l->n + 1) * sizeof(*l->e));
	l->keys       = xrealloc(l->keys, (l->n + 1) * sizeof(*l->keys));
	l->keys[l->n] = repo_key != NULL ? xstrdup(repo_key) : NULL;
	l->e[l->n]    = (struct spend_entry) { .repo_key = l->keys[l->n],
		   .at_ms                                = at_ms,
		   .reserved_usd                         = reserved,
		   .cost_usd                             = cost,
		   .open                                 = open };
	l->n++;
}

/* ledger_load reads the runs open now or booked in the 24 h before now. */
static int
ledger_load(struct ledger *l, struct store *st, int64_t now_ms)
{
	struct store_stmt *s;
	int                rv;

	ledger_fini(l);
	if ((rv = store_prep(st, &s,
	         "SELECT repo_key, coalesce(finished_ms, dispatched_ms),"
	         " reserved_usd, coalesce(cost_usd, -1),"
	         " state IN ('dispatched', 'started') FROM rrun"
	         " WHERE state IN ('dispatched', 'started')"
	         " OR (cost_usd IS NOT NULL AND finished_ms > ?)")) != 0 ||
	    (rv = store_bind_int(s, 1, now_ms - DAY_MS)) != 0)
		return (rv);
	while ((rv = store_step(s)) == 1)
		ledger_push(l, store_col_text(s, 0), store_col_int(s, 1),
		    store_col_double(s, 2), store_col_double(s, 3),
		    store_col_int(s, 4) != 0);
	if (rv != 0) {
		store_done(s);
		ledger_fini(l);
		return (rv);
	}
	l->loaded = true;
	return (0);
}

void
ledger_add(struct ledger *l, const char *repo_key, double reserved_usd,
    int64_t now_ms)
{
	if (l->loaded)
		ledger_push(l, repo_key, now_ms, reserved_usd, -1, true);
}

void
ledger_fini(struct ledger *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->keys[i]);
	free(l->keys);
	free(l->e);
	memset(l, 0, sizeof(*l));
}

/* estimate_of: what a run of backend reserves (checked at init). */
static double
estimate_of(struct router *r, const char *backend)
{
	double usd = r->b.reserve_usd;
	char   err[256];

	if (spend_estimate(r->exec_cfg, r->nexec_cfg, backend,
	        r->b.reserve_usd, &usd, err, sizeof(err)) != 0)
		usd = r->b.reserve_usd;
	return (usd);
}

static double
repo_cap(struct router *r, const char *repo_key)
{
	double cap = -1;
	char   err[256];

	if (spend_repo_cap(
	        svc_cfg_root(r->svc), repo_key, &cap, err, sizeof(err)) != 0)
		cap = -1; /* checked at init */
	return (cap);
}

struct spend_gate
ledger_check(struct router *r, struct ledger *l, const char *repo_key,
    const char *backend, int64_t now_ms, double *estimate)
{
	struct spend_totals g, t;
	struct spend_gate   s;
	double              cap;

	*estimate = estimate_of(r, backend);
	memset(&s, 0, sizeof(s));
	s.g.allowed = true;
	if (!r->capped)
		return (s);
	cap = repo_cap(r, repo_key);
	if (r->b.max_usd_per_day < 0 && cap < 0)
		return (s);
	if (!l->loaded && ledger_load(l, svc_store(r->svc), now_ms) != 0) {
		/* no ledger, no spending: held until the db answers */
		log_warn("router.spend", "ledger unreadable: holding %s",
		    repo_key ? repo_key : "-");
		g = t = (struct spend_totals) { 1e18, 0 };
		return (spend_check(&r->b, cap, &g, &t, *estimate));
	}
	spend_sum(l->e, l->n, repo_key, now_ms, &g, &t);
	return (spend_check(&r->b, cap, &g, &t, *estimate));
}

int
ledger_book(struct router *r, const struct msg_exec_finished *f, bool known,
    int64_t at_ms)
{
	const char *src;
	double      cost;
	int         rv;

	cost = spend_run_cost(f->result != NULL ? f->result->agent : NULL,
	    f->status, r->fallback_usd, &src);
	if (known)
		rv = store_run(svc_store(r->svc),
		    "UPDATE rrun SET cost_usd = ?, cost_source = ?"
		    " WHERE run_id = ?",
		    "dtt", cost, src, f->run_id);
	else if (strcmp(src, "reported") == 0 || strcmp(src, "computed") == 0)
		rv = store_run(svc_store(r->svc),
		    "UPDATE rrun SET cost_usd = ?, cost_source = ?,"
		    " finished_ms = coalesce(finished_ms, ?)"
		    " WHERE run_id = ? AND state = 'superseded'"
		    " AND cost_usd IS NULL",
		    "dtit", cost, src, at_ms, f->run_id);
	else
		return (0);
	if (rv == 0 && store_changes(svc_store(r->svc)) > 0)
		log_info("router.spend", "%s: run %s booked %.4f USD (%s)",
		    f->task_id, f->run_id, cost, src);
	return (rv);
}

/* scope_json: {spent_usd, reserved_usd, cap_usd|null, held}. */
static json_t *
scope_json(const struct spend_totals *t, double cap, int64_t held)
{
	return (json_pack("{s:f, s:f, s:o, s:b, s:I}", "spent_usd",
	    t->spent_usd, "reserved_usd", t->reserved_usd, "cap_usd",
	    cap >= 0 ? json_real(cap) : json_null(), "held", held > 0,
	    "held_tasks", (json_int_t) held));
}

void
ledger_status(struct router *r, json_t *obj)
{
	const struct cfg_node *repos = cfg_get(svc_cfg_root(r->svc), "repos");
	struct store          *st    = svc_store(r->svc);
	struct ledger          l     = { 0 };
	struct spend_totals    g, t;
	struct store_stmt     *s;
	json_t                *rj = json_object(), *held = json_object();
	int64_t                now = now_ms();
	const char            *key;
	double                 cap;
	size_t                 i;

	/* queued tasks a cap holds back now: "" for the global cap, else
	 * by repo */
	if (store_prep(st, &s,
	        "SELECT CASE hold WHEN 'global' THEN '' ELSE"
	        " coalesce(json_extract(ready, '$.repo_key'), '') END,"
	        " count(*) FROM rtask WHERE state = 'queued'"
	        " AND last_reason = 'spend_cap' GROUP BY 1") == 0) {
		while (store_step(s) == 1)
			json_object_set_new(held, store_col_text(s, 0),
			    json_integer(store_col_int(s, 1)));
		store_done(s);
	}
	(void) ledger_load(&l, st, now);
	for (i = 0; i < cfg_len(repos); i++) {
		key = cfg_key_at(repos, i);
		if (key == NULL || (cap = repo_cap(r, key)) < 0)
			continue;
		spend_sum(l.e, l.n, key, now, &g, &t);
		json_object_set_new(rj, key,
		    scope_json(&t, cap,
		        json_integer_value(json_object_get(held, key))));
	}
	spend_sum(l.e, l.n, NULL, now, &g, &t);
	json_object_set_new(obj, "spend",
	    json_pack("{s:s, s:o, s:o, s:f, s:f}", "window", "day", "global",
	        scope_json(&g, r->b.max_usd_per_day,
	            json_integer_value(json_object_get(held, ""))),
	        "repos", rj, "reserve_usd", r->b.reserve_usd, "fallback_usd",
	        r->fallback_usd));
	json_decref(held);
	ledger_fini(&l);
}
