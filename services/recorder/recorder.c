/*
 * recorder.c - the recorder's descriptor, handlers, effect loop and ctl.
 *
 * State (its sqlite db):
 *   decisions  one row per route.decided (decision_id): proposal,
 *              decision and policy JSON, run_id when the router gave one;
 *   runs       one row per run_id: request and result JSON, task, lane,
 *              backend, status, times, and the written flag;
 *   usage_*    see usage.c.
 * A run's events come from two upstreams (router, executor) and may be
 * applied in any order, so every handler is an upsert that fills only its
 * own columns and never moves a run backwards; applying a message twice
 * (injected messages carry no seq, so nothing drops them) changes nothing.
 *
 * Run states (runs.status; complete/written are separate flags):
 *
 *   (none)  --route.decided allow-->      decided
 *   (none)  --route.decided block/review-> skipped   complete
 *   decided --exec.dispatch-->            dispatched
 *   any not complete --exec.started-->    running
 *   any without a result --exec.finished-> <result status>  complete
 *   complete, not written --effect loop--> written (record.written)
 *   complete --exec.pr.opened/dropped-->  the result's pr_state (and
 *                                         URL or reason) amended, the
 *                                         folder written again
 *   any --exec.superseded-->              superseded (flag set; a result
 *                                         it has or gets is made
 *                                         superseded: never a success;
 *                                         one already written is written
 *                                         again)
 *
 * The effect loop (idle hook) runs only when caught up: for each complete,
 * unwritten run it writes the evidence folder (evidence.c), then marks the
 * run written and emits record.written in one transaction.  A crash
 * between the folder and the commit means the folder is written again,
 * which is harmless: the folder is replaced atomically, and the record and
 * trace ids were fixed in the db when the run was first seen.
 *
 * A run the router took back (exec.superseded) counts for nothing: its
 * result, whenever it comes, is recorded superseded (outcome_supersede),
 * so a task has one success however its runs and their events interleave.
 *
 * Config (its instance section): evidence_root (default "runs", relative
 * to state_dir), cost_per_execution_usd (else the top-level key, default
 * 0), write_batch (folders per effect-loop call, 16), decision_wait_ms
 * (how long a finished run waits for a late route.decided, 5s).
 */
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/jsonx.h"
#include "opc/log.h"
#include "opc/outcome.h"
#include "opc/store.h"
#include "opc/topo.h"
#include "opc/util.h"
#include "recorder.h"

#define LIST_DEFAULT 20
#define LIST_MAX 1000
#define RETRY_MAX_MS 60000
#define SPEND_MAX_DAYS 36500

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS decisions ("
    " decision_id TEXT PRIMARY KEY, task_id TEXT, run_id TEXT,"
    " policy_status TEXT, lane TEXT, backend TEXT, proposal TEXT,"
    " decision TEXT, policy TEXT, decided_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS decisions_run ON decisions(run_id);"
    "CREATE TABLE IF NOT EXISTS runs ("
    " run_id TEXT PRIMARY KEY, task_id TEXT, decision_id TEXT,"
    " executor TEXT, attempt INTEGER, lane TEXT, backend TEXT,"
    " repo_key TEXT, workspace TEXT, policy_status TEXT,"
    " request TEXT, result TEXT,"
    " status TEXT NOT NULL DEFAULT 'decided', success INTEGER,"
    " failure_category TEXT, blocked INTEGER NOT NULL DEFAULT 0,"
    " complete INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL, dispatched_ms INTEGER,"
    " started_ms INTEGER, completed_ms INTEGER,"
    " started_at TEXT, completed_at TEXT,"
    " record_id TEXT NOT NULL, trace_id TEXT NOT NULL,"
    " written INTEGER NOT NULL DEFAULT 0, path TEXT, files TEXT,"
    " written_ms INTEGER, metadata TEXT, trace TEXT,"
    " write_attempts INTEGER NOT NULL DEFAULT 0,"
    " retry_ms INTEGER NOT NULL DEFAULT 0,"
    " superseded INTEGER NOT NULL DEFAULT 0, superseded_by TEXT);"
    "CREATE INDEX IF NOT EXISTS runs_pending ON runs(complete, written);"
    "CREATE INDEX IF NOT EXISTS runs_task ON runs(task_id);"
    "CREATE INDEX IF NOT EXISTS runs_decision ON runs(decision_id);";

/* dump returns the compact JSON text of an object (caller frees), NULL
 * for anything else: documents are objects or absent. */
static char *
dump(const json_t *o)
{
	return (json_is_object(o) ? json_dumps(o, JSON_COMPACT) : NULL);
}

static bool
streq_opt(const char *a, const char *b)
{
	return (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static json_t *
load(const char *text)
{
	return (text != NULL ? json_loads(text, 0, NULL) : NULL);
}

static char *
dup_col(struct store_stmt *s, int i)
{
	const char *t = store_col_text(s, i);

	return (t != NULL ? xstrdup(t) : NULL);
}

static int
recorder_init(struct svc *svc, void *state)
{
	struct recorder       *rec = state;
	const struct cfg_node *c = svc_cfg(svc), *root = svc_cfg_root(svc);
	const char            *dir, *sd = svc_topo(svc)->state_dir;
	char                   err[512];
	int                    rv;

	if ((rv = cfg_tab_str(recorder_keys, c, "evidence_root", &dir, err,
	         sizeof(err))) != 0 ||
	    (rv = cfg_tab_int(recorder_keys, c, "write_batch",
	         &rec->write_batch, err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_ms(recorder_keys, c, "decision_wait_ms",
	         &rec->decision_wait_ms, err, sizeof(err))) != 0)
		goto bad;
	/* Cost: the instance's own setting, else the top-level one (whose
	 * row has the default), else opcenter's. */
	if (cfg_get(c, "cost_per_execution_usd") != NULL)
		rv = cfg_tab_num(recorder_keys, c, "cost_per_execution_usd",
		    &rec->cost_per_exec, err, sizeof(err));
	else if (cfg_get(root, "opcenter.cost_per_execution_usd") != NULL &&
	    cfg_get(root, "cost_per_execution_usd") == NULL)
		rv = cfg_tab_num(conf_root_keys, root,
		    "opcenter.cost_per_execution_usd", &rec->cost_per_exec,
		    err, sizeof(err));
	else
		rv =
		    cfg_tab_num(conf_root_keys, root, "cost_per_execution_usd",
		        &rec->cost_per_exec, err, sizeof(err));
	if (rv != 0)
		goto bad;
	if (rec->write_batch < 1 || rec->cost_per_exec < 0 || *dir == '\0') {
		snprintf(err, sizeof(err),
		    "write_batch must be >= 1, cost_per_execution_usd >= 0, "
		    "evidence_root not empty");
		rv = ERR_CONFIG;
		goto bad;
	}
	rec->evidence_root =
	    dir[0] == '/' ? xstrdup(dir) : xasprintf("%s/%s", sd, dir);
	if ((rv = store_exec(svc_store(svc), schema)) != 0 ||
	    (rv = store_add_column(svc_store(svc), "runs", "superseded",
	         "INTEGER NOT NULL DEFAULT 0")) != 0 ||
	    (rv = store_add_column(
	         svc_store(svc), "runs", "superseded_by", "TEXT")) != 0 ||
	    (rv = usage_init(svc_store(svc))) != 0)
		return (rv);
	log_info("recorder.init", "evidence in %s, %.6f USD per execution",
	    rec->evidence_root, rec->cost_per_exec);
	return (0);

bad:
	log_error("recorder.config", "%s", err);
	return (rv);
}

static void
recorder_fini(struct svc *svc, void *state)
{
	struct recorder *rec = state;

	UNUSED(svc);
	free(rec->evidence_root);
	rec->evidence_root = NULL;
}

/*
 * Handlers: validate first (a failed handler's writes are kept), then
 * upsert.
 */

static int
bad_id(const char *topic, const char *what, const char *id)
{
	log_warn("recorder.bad_message", "%s: unusable %s '%s'", topic, what,
	    id ? id : "(none)");
	return (ERR_INVAL);
}

static int
on_route_decided(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_route_decided *rd = &m->body.route_decided;
	struct store                   *st = svc_store(svc);
	const char *run_id  = rd->decision ? rd->decision->run_id : NULL;
	const char *ps      = rd->policy_status ? rd->policy_status
	         : rd->policy ? msg_policy_status_name(rd->policy->status)
	                      : NULL;
	const char *lane    = rd->lane ? rd->lane
	       : rd->decision          ? rd->decision->selected_lane
	                               : NULL;
	const char *backend = rd->backend ? rd->backend
	    : rd->decision                ? rd->decision->selected_backend
	                                  : NULL;
	char       *proposal, *decision, *policy, rid[37], tid[37], when[32];
	int         rv;

	UNUSED(state);
	/* A blocked run without a run_id still needs a folder: the decision
	 * id is a uuid too. */
	if (run_id == NULL && ev_blocking(ps) && id_valid(rd->decision_id))
		run_id = rd->decision_id;
	if (run_id != NULL && !id_valid(run_id))
		return (bad_id("route.decided", "run_id", run_id));
	proposal = msg_rec_dumps(&msg_rec_proposal, rd->proposal);
	decision = msg_rec_dumps(&msg_rec_decision, rd->decision);
	policy   = msg_rec_dumps(&msg_rec_policy, rd->policy);
	rv       = store_run(st,
	          "INSERT INTO decisions(decision_id, task_id, run_id,"
	                " policy_status, lane, backend, proposal, decision, policy,"
	                " decided_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	                " ON CONFLICT(decision_id) DO NOTHING",
	          "ttttttttti", rd->decision_id, rd->task_id, run_id, ps, lane,
	          backend, proposal, decision, policy, m->ts);
	free(proposal);
	free(decision);
	free(policy);
	if (rv != 0)
		return (rv);
	/* A dispatch applied before its decision learns the policy now. */
	if ((rv = store_run(st,
	         "UPDATE runs SET policy_status = coalesce(policy_status, ?)"
	         " WHERE decision_id = ?",
	         "tt", ps, rd->decision_id)) != 0)
		return (rv);
	if (run_id == NULL)
		return (0);
	if ((rv = store_run(st,
	         "INSERT INTO runs(run_id, task_id, decision_id, lane, "
	         "backend,"
	         " policy_status, created_ms, record_id, trace_id)"
	         " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
	         " ON CONFLICT(run_id) DO UPDATE SET"
	         " task_id = coalesce(runs.task_id, excluded.task_id),"
	         " decision_id = coalesce(runs.decision_id,"
	         "  excluded.decision_id),"
	         " lane = coalesce(runs.lane, excluded.lane),"
	         " backend = coalesce(runs.backend, excluded.backend),"
	         " policy_status = coalesce(runs.policy_status,"
	         "  excluded.policy_status)",
	         "ttttttitt", run_id, rd->task_id, rd->decision_id, lane,
	         backend, ps, m->ts, uuid4(rid), uuid4(tid))) != 0)
		return (rv);
	if (!ev_blocking(ps))
		return (0);
	/* No dispatch follows a blocked decision: the run is complete. */
	return (store_run(st,
	    "UPDATE runs SET blocked = 1, complete = 1, status = 'skipped',"
	    " success = 0, failure_category = 'policy_blocked',"
	    " completed_ms = ?, completed_at = ?"
	    " WHERE run_id = ? AND complete = 0 AND request IS NULL"
	    " AND result IS NULL",
	    "itt", m->ts, iso8601(m->ts, when, sizeof(when)), run_id));
}

/* decided_policy copies the policy status of the decision of a run. */
static char *
decided_policy(struct store *st, const char *decision_id, const char *run_id)
{
	struct store_stmt *s;
	char              *ps = NULL;

	if (store_prep(st, &s,
	        "SELECT policy_status FROM decisions"
	        " WHERE decision_id = ? OR run_id = ? LIMIT 1") != 0)
		return (NULL);
	if (store_bind_text(s, 1, decision_id) == 0 &&
	    store_bind_text(s, 2, run_id) == 0 && store_step(s) == 1)
		ps = dup_col(s, 0);
	store_done(s);
	return (ps);
}

static int
on_exec_dispatch(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_exec_dispatch *d       = &m->body.exec_dispatch;
	struct recorder                *rec     = state;
	struct store                   *st      = svc_store(svc);
	const struct msg_exec_request  *rq      = d->request;
	const char                     *did     = rq ? rq->decision_id : NULL;
	const char                     *lane    = rq ? rq->lane : NULL;
	const char                     *backend = rq ? rq->backend : NULL;
	const char                     *repo    = rq ? rq->repo_key : NULL;
	char                           *request, *ps, rid[37], tid[37];
	int                             rv;

	if (!id_valid(d->run_id))
		return (bad_id("exec.dispatch", "run_id", d->run_id));
	request = msg_rec_dumps(&msg_rec_exec_request, d->request);
	ps      = decided_policy(st, did, d->run_id);
	/* A re-dispatch (lease expired) names the new executor. */
	rv = store_run(st,
	    "INSERT INTO runs(run_id, task_id, decision_id, executor, attempt,"
	    " lane, backend, repo_key, policy_status, request, status,"
	    " created_ms, dispatched_ms, record_id, trace_id)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'dispatched', ?, ?, ?, ?)"
	    " ON CONFLICT(run_id) DO UPDATE SET"
	    " task_id = coalesce(runs.task_id, excluded.task_id),"
	    " decision_id = coalesce(runs.decision_id, excluded.decision_id),"
	    " executor = excluded.executor,"
	    " attempt = coalesce(excluded.attempt, runs.attempt),"
	    " lane = coalesce(excluded.lane, runs.lane),"
	    " backend = coalesce(excluded.backend, runs.backend),"
	    " repo_key = coalesce(excluded.repo_key, runs.repo_key),"
	    " policy_status = coalesce(runs.policy_status,"
	    "  excluded.policy_status),"
	    " request = coalesce(excluded.request, runs.request),"
	    " status = CASE WHEN runs.status = 'decided' THEN 'dispatched'"
	    "  ELSE runs.status END,"
	    " dispatched_ms = coalesce(runs.dispatched_ms,"
	    "  excluded.dispatched_ms)",
	    "ttttitttttiitt", d->run_id, d->task_id, did, d->executor,
	    (int64_t) d->attempt, lane, backend, repo, ps, request, m->ts,
	    m->ts, uuid4(rid), uuid4(tid));
	free(request);
	free(ps);
	if (rv != 0)
		return (rv);
	return (usage_dispatched(st, d->run_id, d->task_id, repo, lane,
	    backend, m->ts, rec->cost_per_exec));
}

static int
on_exec_started(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_exec_started *s = &m->body.exec_started;
	char                           rid[37], tid[37], when[32];

	UNUSED(state);
	if (!id_valid(s->run_id))
		return (bad_id("exec.started", "run_id", s->run_id));
	return (store_run(svc_store(svc),
	    "INSERT INTO runs(run_id, task_id, executor, workspace, status,"
	    " created_ms, started_ms, started_at, record_id, trace_id)"
	    " VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)"
	    " ON CONFLICT(run_id) DO UPDATE SET"
	    " task_id = coalesce(runs.task_id, excluded.task_id),"
	    " executor = coalesce(excluded.executor, runs.executor),"
	    " workspace = coalesce(excluded.workspace, runs.workspace),"
	    " status = CASE WHEN runs.complete OR runs.superseded"
	    "  THEN runs.status ELSE 'running' END,"
	    " started_ms = coalesce(runs.started_ms, excluded.started_ms),"
	    " started_at = coalesce(runs.started_at, excluded.started_at)",
	    "ttttiittt", s->run_id, s->task_id, s->executor, s->workspace,
	    m->ts, m->ts, iso8601(m->ts, when, sizeof(when)), uuid4(rid),
	    uuid4(tid)));
}

/* finished_result returns a new result object: the message's result
 * with the top-level fields filled in where it lacks them (or says
 * null). */
static json_t *
finished_result(const struct msg_exec_finished *f)
{
	json_t *r = f->result != NULL ? msg_exec_result_to_json(f->result)
	                              : json_object();

#define FILL(key, val)                                      \
	do {                                                \
		if (json_object_get(r, key) == NULL ||      \
		    json_is_null(json_object_get(r, key)))  \
			json_object_set_new(r, key, (val)); \
	} while (0)
	FILL("run_id", json_string(f->run_id));
	FILL("task_id", json_string(f->task_id));
	FILL("status", json_string(f->status));
	FILL("success", json_boolean(f->success));
	if (f->failure_category != NULL)
		FILL("failure_category", json_string(f->failure_category));
	if (f->failure_reason != NULL)
		FILL("failure_reason", json_string(f->failure_reason));
	if (f->branch_name != NULL)
		FILL("branch_name", json_string(f->branch_name));
	if (f->pull_request_url != NULL)
		FILL("pull_request_url", json_string(f->pull_request_url));
#undef FILL
	return (r);
}

/* superseded_of: the run was taken back; *by gets the run that replaces
 * it (NULL: unknown; caller frees). */
static bool
superseded_of(struct store *st, const char *run_id, char **by)
{
	struct store_stmt *s;
	bool               yes = false;

	*by = NULL;
	if (store_prep(st, &s,
	        "SELECT superseded_by FROM runs WHERE run_id = ?"
	        " AND superseded = 1") != 0)
		return (false);
	if (store_bind_text(s, 1, run_id) == 0 && store_step(s) == 1) {
		yes = true;
		*by = dup_col(s, 0);
	}
	store_done(s);
	return (yes);
}

/* on_exec_superseded: the router took the run back.  Whatever its result
 * says, now or when it comes, it is not a success; a result already
 * recorded is made superseded and its evidence written again. */
static int
on_exec_superseded(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_exec_superseded *s  = &m->body.exec_superseded;
	struct store                     *st = svc_store(svc);
	struct store_stmt                *q;
	json_t                           *res = NULL;
	char                             *text, rid[37], tid[37];
	int                               rv;

	UNUSED(state);
	if (!id_valid(s->run_id))
		return (bad_id("exec.superseded", "run_id", s->run_id));
	if (s->by_run_id != NULL && !id_valid(s->by_run_id))
		return (bad_id("exec.superseded", "by_run_id", s->by_run_id));
	if ((rv = store_run(st,
	         "INSERT INTO runs(run_id, task_id, executor, status,"
	         " created_ms, record_id, trace_id, superseded, superseded_by)"
	         " VALUES (?, ?, ?, 'superseded', ?, ?, ?, 1, ?)"
	         " ON CONFLICT(run_id) DO UPDATE SET superseded = 1,"
	         " superseded_by = coalesce(runs.superseded_by,"
	         "  excluded.superseded_by),"
	         " task_id = coalesce(runs.task_id, excluded.task_id),"
	         " executor = coalesce(runs.executor, excluded.executor),"
	         " status = CASE WHEN runs.complete THEN runs.status"
	         "  ELSE 'superseded' END",
	         "tttittt", s->run_id, s->task_id, s->executor, m->ts,
	         uuid4(rid), uuid4(tid), s->by_run_id)) != 0)
		return (rv);
	if ((rv = store_prep(st, &q,
	         "SELECT result FROM runs WHERE run_id = ?"
	         " AND result IS NOT NULL")) != 0)
		return (rv);
	if (store_bind_text(q, 1, s->run_id) == 0 && store_step(q) == 1)
		res = load(store_col_text(q, 0));
	store_done(q);
	if (json_is_object(res) &&
	    !streq_opt(jsonx_str(res, "status"), "superseded")) {
		outcome_supersede(res, s->by_run_id);
		text = dump(res);
		rv   = store_run(st,
		      "UPDATE runs SET result = ?, status = 'superseded',"
		        " success = 0, failure_category = 'superseded',"
		        " written = 0, retry_ms = 0 WHERE run_id = ?",
		      "tt", text, s->run_id);
		free(text);
		log_info("recorder.superseded",
		    "run %s (task %s): its result is superseded by %s",
		    s->run_id, s->task_id,
		    s->by_run_id ? s->by_run_id : "another run");
	}
	json_decref(res);
	if (rv == 0)
		rv = usage_superseded(st, s->run_id, s->task_id, m->ts);
	return (rv);
}

static int
on_exec_finished(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_exec_finished *f   = &m->body.exec_finished;
	struct recorder                *rec = state;
	struct store                   *st  = svc_store(svc);
	json_t                         *res, *dj;
	const char *status, *cat, *started_at, *completed_at;
	char       *text, *by, rid[37], tid[37], when[32];
	int64_t     started_ms = -1, duration = -1;
	bool        success;
	int         rv;

	if (!id_valid(f->run_id))
		return (bad_id("exec.finished", "run_id", f->run_id));
	res = finished_result(f);
	if (superseded_of(st, f->run_id, &by)) {
		/* taken back before it reported: it counts for nothing */
		outcome_supersede(res, by);
		free(by);
	}
	status =
	    jsonx_str(res, "status") ? jsonx_str(res, "status") : f->status;
	success      = json_is_true(json_object_get(res, "success"));
	cat          = jsonx_str(res, "failure_category");
	started_at   = jsonx_str(res, "started_at");
	completed_at = jsonx_str(res, "completed_at");
	if (completed_at == NULL)
		completed_at = iso8601(m->ts, when, sizeof(when));
	(void) store_int(st, &started_ms, -1,
	    "SELECT started_ms FROM runs WHERE run_id = ?", "t", f->run_id);
	dj = json_object_get(res, "duration_ms");
	if (json_is_integer(dj) && json_integer_value(dj) >= 0)
		duration = json_integer_value(dj);
	else if (started_ms >= 0 && m->ts >= started_ms)
		duration = m->ts - started_ms;
	text = dump(res);
	/* The first result of a run stands: a duplicate never rewrites. */
	rv = store_run(st,
	    "INSERT INTO runs(run_id, task_id, executor, decision_id, result,"
	    " status, success, failure_category, complete, created_ms,"
	    " started_at, completed_ms, completed_at, record_id, trace_id)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)"
	    " ON CONFLICT(run_id) DO UPDATE SET"
	    " task_id = coalesce(runs.task_id, excluded.task_id),"
	    " executor = coalesce(runs.executor, excluded.executor),"
	    " decision_id = coalesce(runs.decision_id, excluded.decision_id),"
	    " result = excluded.result, status = excluded.status,"
	    " success = excluded.success,"
	    " failure_category = excluded.failure_category,"
	    " blocked = 0, complete = 1,"
	    " started_at = coalesce(runs.started_at, excluded.started_at),"
	    " completed_ms = excluded.completed_ms,"
	    " completed_at = excluded.completed_at"
	    " WHERE runs.result IS NULL",
	    "ttttttititittt", f->run_id, f->task_id, f->executor,
	    jsonx_str(res, "decision_id"), text, status, (int64_t) success,
	    cat, m->ts, started_at, m->ts, completed_at, uuid4(rid),
	    uuid4(tid));
	free(text);
	if (rv == 0)
		rv = usage_finished(st, f->run_id, f->task_id, status, success,
		    cat, res, duration, m->ts, rec->cost_per_exec);
	json_decref(res);
	return (rv);
}

/* amend_pr records what became of a run's pull request after its result
 * (the executor's queue, prq.c): pr_state, the URL when opened, the
 * reason when dropped.  The evidence folder is written again, so
 * result.json, the summary and the dashboard show it. */
static int
amend_pr(struct store *st, const char *run_id, const char *pr_state,
    const char *url, const char *why)
{
	struct store_stmt *q;
	json_t            *res = NULL;
	char              *text;
	int                rv;

	if ((rv = store_prep(st, &q,
	         "SELECT result FROM runs WHERE run_id = ?"
	         " AND result IS NOT NULL")) != 0)
		return (rv);
	if (store_bind_text(q, 1, run_id) == 0 && store_step(q) == 1)
		res = load(store_col_text(q, 0));
	store_done(q);
	if (!json_is_object(res)) {
		json_decref(res);
		log_warn("recorder.pr",
		    "run %s: no result to note its pull "
		    "request %s on",
		    run_id, pr_state);
		return (0);
	}
	json_object_set_new(res, "pr_state", json_string(pr_state));
	if (url != NULL)
		json_object_set_new(
		    res, "pull_request_url", jsonx_str_or_null(url));
	if (why != NULL)
		json_object_set_new(
		    res, "pr_drop_reason", jsonx_str_or_null(why));
	text = dump(res);
	rv   = store_run(st,
	      "UPDATE runs SET result = ?, written = 0, retry_ms = 0"
	        " WHERE run_id = ?",
	      "tt", text, run_id);
	free(text);
	json_decref(res);
	return (rv);
}

static int
on_exec_pr_opened(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_exec_pr_opened *o = &m->body.exec_pr_opened;

	UNUSED(state);
	if (!id_valid(o->run_id))
		return (bad_id("exec.pr.opened", "run_id", o->run_id));
	return (amend_pr(
	    svc_store(svc), o->run_id, "opened", o->pull_request_url, NULL));
}

static int
on_exec_pr_dropped(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_exec_pr_dropped *d = &m->body.exec_pr_dropped;

	UNUSED(state);
	if (!id_valid(d->run_id))
		return (bad_id("exec.pr.dropped", "run_id", d->run_id));
	return (amend_pr(svc_store(svc), d->run_id, "dropped", NULL,
	    d->reason != NULL ? d->reason : "dropped"));
}

/*
 * The effect loop.
 */

struct run_row {
	char   *run_id, *task_id, *lane, *backend, *policy_status;
	char   *record_id, *trace_id;
	json_t *proposal, *decision, *policy, *request, *result;
	bool    blocked;
	int64_t attempts;
};

static void
run_row_fini(struct run_row *r)
{
	free(r->run_id);
	free(r->task_id);
	free(r->lane);
	free(r->backend);
	free(r->policy_status);
	free(r->record_id);
	free(r->trace_id);
	json_decref(r->proposal);
	json_decref(r->decision);
	json_decref(r->policy);
	json_decref(r->request);
	json_decref(r->result);
	memset(r, 0, sizeof(*r));
}

static int
run_row_load(struct store *st, struct run_row *r, const char *run_id)
{
	struct store_stmt *s;
	char              *did = NULL;
	int                rv;

	memset(r, 0, sizeof(*r));
	if ((rv = store_prep(st, &s,
	         "SELECT run_id, task_id, decision_id, lane, backend,"
	         " policy_status, record_id, trace_id, request, result,"
	         " blocked, write_attempts FROM runs WHERE run_id = ?")) != 0)
		return (rv);
	if ((rv = store_bind_text(s, 1, run_id)) != 0 ||
	    (rv = store_step(s)) != 1) {
		store_done(s);
		return (rv == 0 ? ERR_NOTFOUND : rv);
	}
	r->run_id        = dup_col(s, 0);
	r->task_id       = dup_col(s, 1);
	did              = dup_col(s, 2);
	r->lane          = dup_col(s, 3);
	r->backend       = dup_col(s, 4);
	r->policy_status = dup_col(s, 5);
	r->record_id     = dup_col(s, 6);
	r->trace_id      = dup_col(s, 7);
	r->request       = load(store_col_text(s, 8));
	r->result        = load(store_col_text(s, 9));
	r->blocked       = store_col_int(s, 10) != 0;
	r->attempts      = store_col_int(s, 11);
	store_done(s);
	if ((rv = store_prep(st, &s,
	         "SELECT proposal, decision, policy, policy_status, lane,"
	         " backend FROM decisions WHERE decision_id = ? OR run_id = ?"
	         " ORDER BY decision_id IS ? DESC LIMIT 1")) != 0)
		goto out;
	if (store_bind_text(s, 1, did) == 0 &&
	    store_bind_text(s, 2, run_id) == 0 &&
	    store_bind_text(s, 3, did) == 0 && store_step(s) == 1) {
		r->proposal = load(store_col_text(s, 0));
		r->decision = load(store_col_text(s, 1));
		r->policy   = load(store_col_text(s, 2));
		if (r->policy_status == NULL)
			r->policy_status = dup_col(s, 3);
		if (r->lane == NULL)
			r->lane = dup_col(s, 4);
		if (r->backend == NULL)
			r->backend = dup_col(s, 5);
	}
	store_done(s);
out:
	free(did);
	return (rv);
}

static void
write_failed(struct svc *svc, const struct run_row *r)
{
	int64_t shift = r->attempts < 6 ? r->attempts : 6;
	int64_t delay = (int64_t) 1000 << shift;

	svc_count(svc, "write_errors", 1);
	if (delay > RETRY_MAX_MS)
		delay = RETRY_MAX_MS;
	if (svc_begin(svc) != 0)
		return;
	if (store_run(svc_store(svc),
	        "UPDATE runs SET write_attempts = write_attempts + 1,"
	        " retry_ms = ? WHERE run_id = ?",
	        "it", now_ms() + delay, r->run_id) != 0 ||
	    svc_commit(svc) != 0)
		(void) svc_rollback(svc);
}

/* commit_written marks the run written and emits record.written. */
static int
commit_written(struct svc *svc, const struct run_row *r, const char *path,
    const json_t *files, const json_t *meta, const json_t *trace)
{
	struct msg_record_written ev;
	char                     *ftext = json_dumps(files, JSON_COMPACT);
	char                     *mtext = dump(meta), *ttext = dump(trace);
	json_t                   *f;
	size_t                    i;
	int                       rv;

	memset(&ev, 0, sizeof(ev));
	ev.run_id  = xstrdup(r->run_id);
	ev.task_id = r->task_id ? xstrdup(r->task_id) : NULL;
	ev.path    = xstrdup(path);
	json_array_foreach (files, i, f)
		msg_strs_add(&ev.files, json_string_value(f));
	if ((rv = svc_begin(svc)) != 0)
		goto out;
	if ((rv = store_run(svc_store(svc),
	         "UPDATE runs SET written = 1, path = ?, files = ?,"
	         " written_ms = ?, metadata = ?, trace = ? WHERE run_id = ?",
	         "ttittt", path, ftext, now_ms(), mtext, ttext, r->run_id)) !=
	        0 ||
	    (rv = svc_emit(svc, MSG_RECORD_WRITTEN, r->task_id, &ev)) != 0 ||
	    (rv = svc_commit(svc)) != 0)
		(void) svc_rollback(svc); /* ERR_STATE if commit did it */
out:
	msg_body_fini(MSG_RECORD_WRITTEN, &ev);
	free(ftext);
	free(mtext);
	free(ttext);
	return (rv);
}

static int
write_run(struct svc *svc, struct recorder *rec, const char *run_id)
{
	struct run_row r;
	struct ev_run  e;
	struct ev_doc  docs[9];
	struct ev_copy copies[8];
	json_t        *blocked = NULL, *record = NULL, *trace = NULL;
	json_t        *meta = NULL, *files = json_array(), *v;
	const json_t  *result;
	const char    *key, *name;
	char          *path, *out_stdout = NULL, *out_stderr = NULL;
	char          *summary = NULL;
	char           now[32];
	size_t         nd = 0, nc = 0;
	int            rv;

	if ((rv = run_row_load(svc_store(svc), &r, run_id)) != 0) {
		json_decref(files);
		return (rv);
	}
	path = xasprintf("%s/%s", rec->evidence_root, r.run_id);
	memset(&e, 0, sizeof(e));
	memset(docs, 0, sizeof(docs));
	e.run_id        = r.run_id;
	e.task_id       = r.task_id;
	e.lane          = r.lane;
	e.backend       = r.backend;
	e.policy_status = r.policy_status;
	e.record_id     = r.record_id;
	e.trace_id      = r.trace_id;
	e.now           = iso8601(now_ms(), now, sizeof(now));
	e.proposal      = r.proposal;
	e.decision      = r.decision;
	e.policy        = r.policy;
	e.request       = r.request;
	e.executed      = !r.blocked;
	if (r.blocked || r.result == NULL)
		result = blocked = ev_blocked_result(&e);
	else
		result = r.result;
	e.result = result;
	json_object_foreach (json_object_get(result, "files"), key, v) {
		name = ev_copy_name(key);
		if (name == NULL || nc == nitems(copies) ||
		    !ev_copy_allowed(json_string_value(v),
		        jsonx_str(result, "workspace_path")))
			continue;
		copies[nc].src    = json_string_value(v);
		copies[nc++].name = name;
		if (strcmp(key, "backend_stdout") == 0)
			e.stdout_path = out_stdout =
			    xasprintf("%s/%s", path, name);
		else if (strcmp(key, "backend_stderr") == 0)
			e.stderr_path = out_stderr =
			    xasprintf("%s/%s", path, name);
	}
	record = ev_record(&e, result);
	trace  = ev_trace(&e, record);
	meta   = ev_metadata(&e, result);
#define DOC(n, j)                              \
	do {                                   \
		if ((j) != NULL) {             \
			docs[nd].name   = (n); \
			docs[nd++].json = (j); \
		}                              \
	} while (0)
	DOC("proposal.json", r.proposal);
	DOC("decision.json", r.decision);
	DOC("policy.json", r.policy);
	DOC("execution_request.json", r.request);
	DOC("result.json", result);
	DOC("execution_record.json", record);
	DOC("execution_trace.json", trace);
	DOC("run_metadata.json", meta);
#undef DOC
	summary         = ev_summary(&e, result);
	docs[nd].name   = "result_summary.md";
	docs[nd].json   = NULL;
	docs[nd++].text = summary;
	rv              = ev_write_folder(
	                 rec->evidence_root, r.run_id, docs, nd, copies, nc, files);
	if (rv != 0 && fs_free(rec->evidence_root) >= 0 &&
	    fs_free(rec->evidence_root) < FS_SPACE_MIN)
		svc_nospace(svc, rec->evidence_root); /* pause, not retry */
	else if (rv != 0)
		write_failed(svc, &r);
	else if ((rv = commit_written(svc, &r, path, files, meta, trace)) ==
	    0) {
		svc_count(svc, "written", 1);
		log_info("recorder.written", "run %s (task %s) -> %s",
		    r.run_id, r.task_id ? r.task_id : "-", path);
	}
	json_decref(blocked);
	json_decref(record);
	json_decref(trace);
	json_decref(meta);
	json_decref(files);
	free(out_stdout);
	free(out_stderr);
	free(summary);
	free(path);
	run_row_fini(&r);
	return (rv);
}

static void
recorder_idle(struct svc *svc, void *state)
{
	struct recorder   *rec = state;
	struct store_stmt *s;
	char             **ids;
	size_t             n = 0, i;

	if (!svc_caught_up(svc))
		return;
	/* An executed run whose routing decision has not arrived yet (the
	 * router's stream lags) waits a little for it, then goes without. */
	if (store_prep(svc_store(svc), &s,
	        "SELECT run_id FROM runs r WHERE complete = 1 AND written = 0"
	        " AND retry_ms <= ?1 AND (blocked = 1"
	        "  OR EXISTS (SELECT 1 FROM decisions d"
	        "   WHERE d.decision_id = r.decision_id OR d.run_id = "
	        "r.run_id)"
	        "  OR completed_ms <= ?1 - ?2)"
	        " ORDER BY rowid LIMIT ?3") != 0)
		return;
	ids = xcalloc((size_t) rec->write_batch, sizeof(*ids));
	/* Collect first: writing reuses the store. */
	if (store_bind_int(s, 1, now_ms()) == 0 &&
	    store_bind_int(s, 2, rec->decision_wait_ms) == 0 &&
	    store_bind_int(s, 3, rec->write_batch) == 0)
		while (n < (size_t) rec->write_batch && store_step(s) == 1)
			ids[n++] = dup_col(s, 0);
	store_done(s);
	for (i = 0; i < n; i++) {
		if (!svc_disk_full(svc))
			(void) write_run(svc, rec, ids[i]);
		free(ids[i]);
	}
	free(ids);
}

/*
 * ctl operations.
 */

static json_t *
col_json_str(struct store_stmt *s, int i)
{
	return (jsonx_str_or_null(store_col_text(s, i)));
}

static int
ctl_runs_list(struct svc *svc, const struct msg *req, json_t **data, char *err,
    size_t errlen, void *state)
{
	const struct msg_recorder_runs_list *q = &req->body.recorder_runs_list;
	struct store_stmt                   *s;
	json_t                              *runs;
	int64_t limit = q->limit > 0 ? q->limit : LIST_DEFAULT;
	int     rv;

	UNUSED(state);
	if (limit > LIST_MAX)
		limit = LIST_MAX;
	if ((rv = store_prep(svc_store(svc), &s,
	         "SELECT run_id, task_id, status, success, lane, backend,"
	         " failure_category, policy_status, started_at, completed_at,"
	         " path, superseded_by, superseded FROM runs"
	         " WHERE ?1 IS NULL OR task_id = ?1"
	         " ORDER BY created_ms DESC, rowid DESC LIMIT ?2")) != 0 ||
	    (rv = store_bind_text(s, 1, q->task_id)) != 0 ||
	    (rv = store_bind_int(s, 2, limit)) != 0) {
		snprintf(err, errlen, "runs query failed");
		return (rv);
	}
	runs = json_array();
	while ((rv = store_step(s)) == 1) {
		json_t *o = json_object();

		json_object_set_new(o, "run_id", col_json_str(s, 0));
		json_object_set_new(o, "task_id", col_json_str(s, 1));
		json_object_set_new(o, "status", col_json_str(s, 2));
		json_object_set_new(o, "success",
		    store_col_is_null(s, 3)
		        ? json_null()
		        : json_boolean(store_col_int(s, 3) != 0));
		json_object_set_new(o, "lane", col_json_str(s, 4));
		json_object_set_new(o, "backend", col_json_str(s, 5));
		json_object_set_new(o, "failure_category", col_json_str(s, 6));
		json_object_set_new(o, "policy_status", col_json_str(s, 7));
		json_object_set_new(o, "started_at", col_json_str(s, 8));
		json_object_set_new(o, "completed_at", col_json_str(s, 9));
		json_object_set_new(o, "path", col_json_str(s, 10));
		if (store_col_int(s, 12) != 0)
			json_object_set_new(
			    o, "superseded_by", col_json_str(s, 11));
		json_array_append_new(runs, o);
	}
	if (rv != 0) {
		store_done(s);
		json_decref(runs);
		snprintf(err, errlen, "runs query failed");
		return (rv);
	}
	*data = json_pack("{s:o}", "runs", runs);
	return (0);
}

/* The most candidates an ambiguous run id prefix names. */
#define PREFIX_SHOWN 10

/* resolve_run finds the run an id names: the run of that id, else the
 * one run whose id begins with it (the short id `opc runs list` prints).
 * *full gets the run's id (caller frees).  ERR_NOTFOUND when none,
 * ERR_INVAL when several (err lists them). */
static int
resolve_run(
    struct svc *svc, const char *id, char **full, char *err, size_t errlen)
{
	struct store_stmt *s;
	struct buf         b;
	int64_t            n = 0;
	int                rv, k = 0;

	*full = NULL;
	if ((rv = store_int(svc_store(svc), &n, 0,
	         "SELECT count(*) FROM runs WHERE run_id = ?", "t", id)) != 0)
		return (rv);
	if (n > 0 || *id == '\0') {
		*full = xstrdup(id);
		return (0);
	}
	if ((rv = store_prep(svc_store(svc), &s,
	         "SELECT run_id FROM runs WHERE substr(run_id, 1,"
	         " length(?1)) = ?1 ORDER BY run_id")) != 0 ||
	    (rv = store_bind_text(s, 1, id)) != 0)
		return (rv);
	buf_init(&b);
	while ((rv = store_step(s)) == 1) {
		if (k++ == 0)
			*full = store_col_dup(s, 0);
		if (k <= PREFIX_SHOWN)
			buf_printf(&b, "%s%s", k > 1 ? ", " : "",
			    store_col_text(s, 0));
	}
	store_done(s);
	if (rv < 0) {
		free(*full);
		*full = NULL;
	} else if (k == 0) {
		*full = xstrdup(id); /* the caller says "no run" */
		rv    = 0;
	} else if (k > 1) {
		snprintf(err, errlen,
		    "run id '%s' is ambiguous: %d runs begin with it (%s%s);"
		    " give more of it",
		    id, k, buf_cstr(&b), k > PREFIX_SHOWN ? ", ..." : "");
		free(*full);
		*full = NULL;
		rv    = ERR_INVAL;
	} else
		rv = 0;
	buf_fini(&b);
	return (rv);
}

static int
run_show(
    struct svc *svc, const char *id, json_t **data, char *err, size_t errlen)
{
	struct store_stmt *s;
	json_t            *o, *j;
	int                rv;

	if ((rv = store_prep(svc_store(svc), &s,
	         "SELECT run_id, task_id, status, written, path, files,"
	         " metadata, trace, result FROM runs WHERE run_id = ?")) !=
	        0 ||
	    (rv = store_bind_text(s, 1, id)) != 0)
		return (rv);
	if ((rv = store_step(s)) != 1) {
		store_done(s);
		if (rv != 0)
			return (rv);
		snprintf(err, errlen, "no run '%s'", id);
		return (ERR_NOTFOUND);
	}
	o = json_object();
	json_object_set_new(o, "run_id", col_json_str(s, 0));
	json_object_set_new(o, "task_id", col_json_str(s, 1));
	json_object_set_new(o, "status", col_json_str(s, 2));
	json_object_set_new(
	    o, "written", json_boolean(store_col_int(s, 3) != 0));
	json_object_set_new(o, "path", col_json_str(s, 4));
	j = load(store_col_text(s, 5));
	json_object_set_new(o, "files", j ? j : json_array());
	j = load(store_col_text(s, 6));
	json_object_set_new(o, "metadata", j ? j : json_null());
	j = load(store_col_text(s, 7));
	json_object_set_new(o, "trace", j ? j : json_null());
	/* what the agent CLI reported, and what the usage store made of it */
	j = load(store_col_text(s, 8));
	json_object_set_new(o, "agent",
	    json_object_get(j, "agent") != NULL
	        ? json_deep_copy(json_object_get(j, "agent"))
	        : json_null());
	json_decref(j);
	store_done(s);
	j = usage_run(svc_store(svc), id);
	json_object_set_new(o, "usage", j ? j : json_null());
	*data = o;
	return (0);
}

static int
ctl_run_show(struct svc *svc, const struct msg *req, json_t **data, char *err,
    size_t errlen, void *state)
{
	char *id;
	int   rv;

	UNUSED(state);
	if ((rv = resolve_run(svc, req->body.recorder_run_show.run_id, &id,
	         err, errlen)) != 0)
		return (rv);
	rv = run_show(svc, id, data, err, errlen);
	free(id);
	return (rv);
}

static int
ctl_spend(struct svc *svc, const struct msg *req, json_t **data, char *err,
    size_t errlen, void *state)
{
	int64_t days = req->body.recorder_spend.window_days;
	int     rv;

	UNUSED(state);
	if (days <= 0)
		days = 1;
	if (days > SPEND_MAX_DAYS)
		days = SPEND_MAX_DAYS;
	if ((rv = usage_spend(svc_store(svc), data, days, now_ms())) != 0)
		snprintf(err, errlen, "spend query failed");
	return (rv);
}

#define USAGE_LIMIT 100
#define USAGE_MAX 1000

static int
ctl_usage(struct svc *svc, const struct msg *req, json_t **data, char *err,
    size_t errlen, void *state)
{
	const struct msg_recorder_usage *q = &req->body.recorder_usage;
	int64_t limit = q->limit > 0 ? q->limit : USAGE_LIMIT;
	size_t  i;
	int     rv;

	UNUSED(state);
	if (limit > USAGE_MAX)
		limit = USAGE_MAX;
	if (q->kind != NULL && *q->kind != '\0') {
		for (i = 0; usage_kinds[i] != NULL &&
		     strcmp(usage_kinds[i], q->kind) != 0;
		     i++)
			;
		if (usage_kinds[i] == NULL) {
			snprintf(err, errlen,
			    "unknown kind '%.64s': one of execution, "
			    "execution_outcome, quota_event, "
			    "executor_quality_warning, scope_violation",
			    q->kind);
			svc_count(svc, "usage_bad_kind", 1);
			return (ERR_INVAL);
		}
	}
	if ((rv = usage_query(svc_store(svc), data,
	         q->kind != NULL && *q->kind != '\0' ? q->kind : NULL,
	         q->repo_key != NULL && *q->repo_key != '\0' ? q->repo_key
	                                                     : NULL,
	         q->since_ms > 0 ? q->since_ms : 0, limit)) != 0)
		snprintf(err, errlen, "usage query failed");
	return (rv);
}

static void
recorder_status(struct svc *svc, void *state, json_t *obj)
{
	struct recorder *rec  = state;
	struct store    *st   = svc_store(svc);
	int64_t          runs = 0, written = 0, pending = 0, open = 0, sup = 0;

	(void) store_int(st, &runs, 0, "SELECT count(*) FROM runs", NULL);
	(void) store_int(st, &written, 0,
	    "SELECT count(*) FROM runs WHERE written = 1", NULL);
	(void) store_int(st, &pending, 0,
	    "SELECT count(*) FROM runs WHERE complete = 1 AND written = 0",
	    NULL);
	(void) store_int(st, &open, 0,
	    "SELECT count(*) FROM runs WHERE complete = 0"
	    " AND superseded = 0",
	    NULL);
	(void) store_int(st, &sup, 0,
	    "SELECT count(*) FROM runs WHERE superseded = 1", NULL);
	json_object_set_new(obj, "runs", json_integer(runs));
	json_object_set_new(obj, "written", json_integer(written));
	json_object_set_new(obj, "pending", json_integer(pending));
	json_object_set_new(obj, "in_flight", json_integer(open));
	json_object_set_new(obj, "superseded", json_integer(sup));
	json_object_set_new(obj, "evidence_root",
	    json_string(rec->evidence_root ? rec->evidence_root : ""));
	usage_counts(st, obj);
}

static const struct svc_handler handlers[] = {
	{ MSG_ROUTE_DECIDED, on_route_decided },
	{ MSG_EXEC_DISPATCH, on_exec_dispatch },
	{ MSG_EXEC_STARTED, on_exec_started },
	{ MSG_EXEC_FINISHED, on_exec_finished },
	{ MSG_EXEC_SUPERSEDED, on_exec_superseded },
	{ MSG_EXEC_PR_OPENED, on_exec_pr_opened },
	{ MSG_EXEC_PR_DROPPED, on_exec_pr_dropped },
	{ MSG_NONE, NULL },
};

static const struct svc_ctl ctls[] = {
	{ MSG_RECORDER_RUNS_LIST, ctl_runs_list },
	{ MSG_RECORDER_RUN_SHOW, ctl_run_show },
	{ MSG_RECORDER_SPEND, ctl_spend },
	{ MSG_RECORDER_USAGE, ctl_usage },
	{ MSG_NONE, NULL },
};

const struct svc_def recorder_def = {
	.name       = "recorder",
	.state_size = sizeof(struct recorder),
	.init       = recorder_init,
	.fini       = recorder_fini,
	.handlers   = handlers,
	.ctls       = ctls,
	.status     = recorder_status,
	.idle       = recorder_idle,
	.config     = recorder_keys,
};
