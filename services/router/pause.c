/*
 * pause.c - the router's emergency stop (opc pause / opc resume).
 *
 * Table rpause: one row per pause in force, repo_key '' for the pause of
 * every repo, else the repo's.  Kept in the router's db, so it survives
 * any restart; nothing else holds it.  While a pause covers a task's
 * repo, the task is not dispatched: it waits queued, and the router says
 * so once per task and pause (budget.decision reason paused, which
 * board-sync turns into one comment on the task; rtask.hold keeps the
 * pause_id told).  The dispatch pass skips paused repos, so a repo's
 * pause never keeps other repos' tasks waiting behind its own.
 *
 *   request          rpause row          events         effect
 *   router.pause     inserted (kept      ops.paused     no dispatch of
 *                    when one exists)                   the scope;
 *                                                       stop_running:
 *                                                       its runs taken
 *                                                       back
 *   router.resume    deleted             ops.resumed    dispatch again
 *
 * A request repeated (req0 may send it twice) changes nothing the second
 * time; a repeated pause with stop_running takes back what runs now.
 */
#include <stdio.h>
#include <string.h>

#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/store.h"
#include "opc/util.h"
#include "router_int.h"

#define PAUSE_REASON_MAX 4096

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS rpause("
    " repo_key TEXT PRIMARY KEY, reason TEXT NOT NULL,"
    " since_ms INTEGER NOT NULL, pause_id TEXT NOT NULL,"
    " stop_running INTEGER NOT NULL DEFAULT 0);";

int
pause_init(struct store *st)
{
	return (store_exec(st, schema));
}

void
pause_hold_fini(struct pause_hold *h)
{
	free(h->repo_key);
	free(h->reason);
	free(h->pause_id);
	memset(h, 0, sizeof(*h));
}

/* load reads the pause of scope key ('' every repo) into h. */
static bool
load(struct router *r, const char *key, struct pause_hold *h)
{
	struct store_stmt *st;
	bool               found = false;

	memset(h, 0, sizeof(*h));
	if (store_prep(svc_store(r->svc), &st,
	        "SELECT reason, since_ms, pause_id FROM rpause"
	        " WHERE repo_key = ?") != 0)
		return (false);
	store_bind_text(st, 1, key);
	if (store_step(st) == 1) {
		h->global   = key[0] == '\0';
		h->repo_key = h->global ? NULL : xstrdup(key);
		h->reason   = store_col_dup(st, 0);
		h->since_ms = store_col_int(st, 1);
		h->pause_id = store_col_dup(st, 2);
		found       = true;
	}
	store_done(st);
	return (found);
}

bool
pause_find(struct router *r, const char *repo_key, struct pause_hold *h)
{
	if (load(r, "", h))
		return (true);
	return (
	    repo_key != NULL && repo_key[0] != '\0' && load(r, repo_key, h));
}

bool
pause_any(struct router *r)
{
	int64_t n = 0;

	(void) store_int(
	    svc_store(r->svc), &n, 0, "SELECT count(*) FROM rpause", NULL);
	return (n > 0);
}

bool
pause_global(struct router *r, struct pause_hold *h)
{
	return (load(r, "", h));
}

void
pause_status(struct router *r, json_t *obj)
{
	struct store_stmt *st;
	json_t            *all = json_null(), *repos = json_object(), *p;

	if (store_prep(svc_store(r->svc), &st,
	        "SELECT repo_key, reason, since_ms, pause_id, stop_running,"
	        " (SELECT count(*) FROM rtask WHERE state = 'queued' AND"
	        " last_reason = 'paused' AND hold = rpause.pause_id)"
	        " FROM rpause ORDER BY repo_key") == 0) {
		while (store_step(st) == 1) {
			p = json_pack("{s:s, s:I, s:s, s:b, s:I}", "reason",
			    store_col_text(st, 1), "since_ms",
			    (json_int_t) store_col_int(st, 2), "pause_id",
			    store_col_text(st, 3), "stop_running",
			    store_col_int(st, 4) != 0, "waiting",
			    (json_int_t) store_col_int(st, 5));
			if (store_col_text(st, 0)[0] == '\0') {
				json_decref(all);
				all = p;
			} else
				json_object_set_new(
				    repos, store_col_text(st, 0), p);
		}
		store_done(st);
	}
	json_object_set_new(
	    obj, "pause", json_pack("{s:o, s:o}", "all", all, "repos", repos));
}

/* repo_known: key is a repo of the config (a pause of a repo nobody
 * configured would hold nothing: a typo). */
static bool
repo_known(struct router *r, const char *key, char *err, size_t errlen)
{
	const struct cfg_node *repos = cfg_get(svc_cfg_root(r->svc), "repos");
	struct buf             b;
	size_t                 i;

	for (i = 0; i < cfg_len(repos); i++)
		if (cfg_key_at(repos, i) != NULL &&
		    strcmp(cfg_key_at(repos, i), key) == 0)
			return (true);
	buf_init(&b);
	for (i = 0; i < cfg_len(repos); i++)
		buf_printf(&b, "%s%s", i > 0 ? ", " : "",
		    cfg_key_at(repos, i) ? cfg_key_at(repos, i) : "?");
	snprintf(err, errlen, "unknown repo '%s' (repos: %s)", key,
	    b.len > 0 ? buf_cstr(&b) : "none");
	buf_fini(&b);
	return (false);
}

/* stop_running takes back the runs in flight of the scope (key '' all):
 * the executor stops each at its next grant, the task waits queued.
 * Returns how many. */
static int64_t
stop_running(struct router *r, const char *key)
{
	struct store_stmt *st;
	char             **ids = NULL, **tasks = NULL, **exs = NULL;
	size_t             n = 0, i;

	if (store_prep(svc_store(r->svc), &st,
	        "SELECT run_id, task_id, executor FROM rrun WHERE state IN"
	        " ('dispatched', 'started') AND (?1 = '' OR repo_key = ?1)") !=
	    0)
		return (0);
	store_bind_text(st, 1, key);
	while (store_step(st) == 1) {
		ids      = xrealloc(ids, (n + 1) * sizeof(*ids));
		tasks    = xrealloc(tasks, (n + 1) * sizeof(*tasks));
		exs      = xrealloc(exs, (n + 1) * sizeof(*exs));
		ids[n]   = xstrdup(store_col_text(st, 0));
		tasks[n] = xstrdup(store_col_text(st, 1));
		exs[n++] = xstrdup(store_col_text(st, 2));
	}
	store_done(st);
	for (i = 0; i < n; i++) {
		router_take_back(r, ids[i], tasks[i], exs[i], "paused");
		free(ids[i]);
		free(tasks[i]);
		free(exs[i]);
	}
	free(ids);
	free(tasks);
	free(exs);
	return ((int64_t) n);
}

int
pause_ctl_pause(struct svc *svc, const struct msg *req, json_t **data,
    char *err, size_t errlen, void *state)
{
	const struct msg_router_pause *p   = &req->body.router_pause;
	struct router                 *r   = state;
	const char                    *key = p->repo_key ? p->repo_key : "";
	struct msg_ops_paused          ev;
	struct pause_hold              h;
	char                           id[37];
	int64_t                        now = now_ms(), stopped = 0;
	bool                           had;
	int                            rv;

	if (p->reason == NULL || p->reason[0] == '\0') {
		snprintf(
		    err, errlen, "a pause needs a reason (--reason TEXT)");
		return (ERR_INVAL);
	}
	if (strlen(p->reason) > PAUSE_REASON_MAX) {
		snprintf(err, errlen, "a reason holds at most %d bytes",
		    PAUSE_REASON_MAX);
		return (ERR_INVAL);
	}
	if (key[0] != '\0' && !repo_known(r, key, err, errlen))
		return (ERR_INVAL);
	if (!(had = load(r, key, &h))) {
		memset(&ev, 0, sizeof(ev));
		ev.reason       = p->reason;
		ev.repo_key     = key[0] != '\0' ? (char *) key : NULL;
		ev.pause_id     = uuid4(id);
		ev.stop_running = p->stop_running;
		ev.since_ms     = now;
		if ((rv = svc_begin(svc)) != 0)
			return (rv);
		if ((rv = store_run(svc_store(svc),
		         "INSERT INTO rpause(repo_key, reason, since_ms,"
		         " pause_id, stop_running) VALUES (?, ?, ?, ?, ?)",
		         "ttiti", key, p->reason, now, id,
		         (int64_t) p->stop_running)) != 0 ||
		    (rv = svc_emit(svc, MSG_OPS_PAUSED, NULL, &ev)) != 0 ||
		    (rv = svc_commit(svc)) != 0) {
			(void) svc_rollback(svc);
			return (rv);
		}
		log_warn("router.paused",
		    "dispatch paused by an operator (%s): %s",
		    key[0] != '\0' ? key : "all repos", p->reason);
		svc_count(svc, "paused", 1);
		(void) load(r, key, &h);
	}
	if (p->stop_running)
		stopped = stop_running(r, key);
	if (stopped > 0)
		log_warn("router.paused", "%lld run(s) in flight stopped (%s)",
		    (long long) stopped, key[0] != '\0' ? key : "all repos");
	*data = json_pack("{s:s?, s:s, s:I, s:s, s:b, s:I}", "repo_key",
	    h.repo_key, "reason", h.reason ? h.reason : p->reason, "since_ms",
	    (json_int_t) h.since_ms, "pause_id", h.pause_id ? h.pause_id : "",
	    "changed", !had, "stopped", (json_int_t) stopped);
	pause_hold_fini(&h);
	return (0);
}

int
pause_ctl_resume(struct svc *svc, const struct msg *req, json_t **data,
    char *err, size_t errlen, void *state)
{
	const struct msg_router_resume *q   = &req->body.router_resume;
	struct router                  *r   = state;
	const char                     *key = q->repo_key ? q->repo_key : "";
	struct msg_ops_resumed          ev;
	struct pause_hold               h;
	int64_t                         waiting = 0;
	int                             rv;

	if (key[0] != '\0' && !repo_known(r, key, err, errlen))
		return (ERR_INVAL);
	if (!load(r, key, &h)) {
		/* what is paused instead (a resume of the wrong scope) */
		*data = json_pack("{s:s?, s:b}", "repo_key",
		    key[0] != '\0' ? key : NULL, "changed", 0);
		pause_status(r, *data);
		return (0);
	}
	(void) store_int(svc_store(svc), &waiting, 0,
	    "SELECT count(*) FROM rtask WHERE state = 'queued' AND"
	    " last_reason = 'paused' AND hold = ?",
	    "t", h.pause_id);
	memset(&ev, 0, sizeof(ev));
	ev.pause_id = h.pause_id;
	ev.repo_key = h.repo_key;
	ev.reason   = h.reason;
	ev.since_ms = h.since_ms;
	ev.waiting  = waiting;
	if ((rv = svc_begin(svc)) != 0)
		goto out;
	if ((rv = store_run(svc_store(svc),
	         "DELETE FROM rpause WHERE repo_key = ?", "t", key)) != 0 ||
	    (rv = svc_emit(svc, MSG_OPS_RESUMED, NULL, &ev)) != 0 ||
	    (rv = svc_commit(svc)) != 0) {
		(void) svc_rollback(svc);
		goto out;
	}
	log_warn("router.resumed",
	    "dispatch resumed by an operator (%s) after %lld s; %lld "
	    "task(s) waited",
	    key[0] != '\0' ? key : "all repos",
	    (long long) ((now_ms() - h.since_ms) / 1000), (long long) waiting);
	svc_count(svc, "resumed", 1);
	*data = json_pack("{s:s?, s:b, s:s, s:I, s:I}", "repo_key", h.repo_key,
	    "changed", 1, "reason", h.reason, "since_ms",
	    (json_int_t) h.since_ms, "waiting", (json_int_t) waiting);
out:
	pause_hold_fini(&h);
	return (rv);
}
