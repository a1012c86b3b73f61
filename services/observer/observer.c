/*
 * observer.c - the observer's descriptor, handlers, ctl and status (see
 * observer.h).
 *
 * State (its sqlite db):
 *   snapshot  run_id, repo, observed_at, json: the history, the newest
 *             `history_keep` (500) per repo;
 *   ci_run    per repo, head SHA and check name, the latest conclusion
 *             (passed or failed) and when it was seen; the snapshot's
 *             tests section is the verdict of the newest commit: failed
 *             while any of its checks' latest conclusion is a failure
 *             (one passing check never hides another's failure; a
 *             re-run that passes clears it).  The newest CI_SHAS
 *             commits per repo are kept.
 *
 * Config (its instance section): interval (600s; 0 turns periodic
 * observation off), command_timeout (300s per command; the worker is
 * stopped after twice that), repos (keys; default every repo with a
 * local checkout), max_parallel (workers at once, 2), history_keep (500),
 * work_dir (spec/snapshot/log files, default <state_dir>/<instance>),
 * worker (default opc-observe-run beside this binary).
 */
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "observer.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/store.h"
#include "opc/topo.h"
#include "opc/util.h"

#define CI_SHAS 20 /* commits whose check runs are kept, per repo */

static int
config(struct observer *o, const struct cfg_node *c, char *err, size_t errlen)
{
	int rv;

	if ((rv = cfg_tab_ms(observer_keys, c, "interval", &o->interval_ms,
	         err, errlen)) != 0 ||
	    (rv = cfg_tab_ms(observer_keys, c, "command_timeout",
	         &o->cmd_timeout_ms, err, errlen)) != 0 ||
	    (rv = cfg_tab_int(observer_keys, c, "history_keep", &o->keep, err,
	         errlen)) != 0 ||
	    (rv = cfg_tab_int(observer_keys, c, "max_parallel",
	         &o->max_parallel, err, errlen)) != 0)
		return (rv);
	/* A bare number is milliseconds: "interval: 600" is a typo for
	 * 600s, not a request to observe every 0.6 s. */
	if ((o->interval_ms != 0 && o->interval_ms < 1000) ||
	    o->cmd_timeout_ms < 100 || o->keep < 1 || o->max_parallel < 1) {
		snprintf(err, errlen,
		    "interval must be 0 (off) or >= 1s, "
		    "command_timeout >= 100ms, history_keep and max_parallel "
		    ">= 1 (durations take a unit: 600s, 5m)");
		return (ERR_CONFIG);
	}
	return (0);
}

static int
observer_init(struct svc *svc, void *state)
{
	struct observer   *o = state;
	const struct topo *t = svc_topo(svc);
	const char        *dir, *worker;
	char               err[512], *cdir, *slash;
	int                rv;

	o->svc = svc;
	dir    = svc_name(svc); /* no default in the table: the name's */
	worker = NULL;
	cdir   = xstrdup(t->config_path);
	if ((slash = strrchr(cdir, '/')) != NULL)
		*slash = '\0';
	if ((rv = config(o, svc_cfg(svc), err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_str(observer_keys, svc_cfg(svc), "work_dir", &dir,
	         err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_str(observer_keys, svc_cfg(svc), "worker", &worker,
	         err, sizeof(err))) != 0 ||
	    (rv = repos_load(o, svc_cfg_root(svc), svc_cfg(svc), cdir, err,
	         sizeof(err))) != 0) {
		log_error("observer.config", "%s", err);
		free(cdir);
		return (rv);
	}
	free(cdir);
	o->dir    = dir[0] == '/' ? xstrdup(dir)
	                          : xasprintf("%s/%s", t->state_dir, dir);
	o->worker = worker ? xstrdup(worker) : exe_sibling("opc-observe-run");
	if (mkdirs(o->dir, 0700) != 0) {
		log_error("observer.config", "cannot create %s", o->dir);
		return (ERR_IO);
	}
	if ((rv = sched_init(o)) != 0)
		return (rv);
	log_info("observer.init", "%zu repos, every %lld ms, worker %s",
	    o->nrepos, (long long) o->interval_ms, o->worker);
	return (0);
}

static void
observer_fini(struct svc *svc, void *state)
{
	struct observer *o = state;

	UNUSED(svc);
	sched_stop(o); /* in-process tests end here, without shutdown */
	repos_free(o);
	free(o->dir);
	free(o->worker);
	o->dir = o->worker = NULL;
}

static void
observer_shutdown(struct svc *svc, void *state)
{
	UNUSED(svc);
	/* The observations in flight are lost; nothing was emitted. */
	sched_stop(state);
}

/*
 * Handlers.
 */

/* verdict maps a check run's conclusion to the tests status. */
static const char *
verdict(const char *conclusion)
{
	if (conclusion == NULL)
		return (NULL);
	if (strcmp(conclusion, "success") == 0)
		return ("passed");
	if (strcmp(conclusion, "failure") == 0 ||
	    strcmp(conclusion, "timed_out") == 0 ||
	    strcmp(conclusion, "cancelled") == 0)
		return ("failed");
	return (NULL); /* neutral, skipped, ...: says nothing */
}

static struct obs_repo *
event_repo(struct svc *svc, struct observer *o, const char *name)
{
	struct obs_repo *r = repos_match(o, name);

	if (r == NULL) {
		svc_count(svc, "ci_ignored", 1);
		log_debug("observer.ci_ignored", "no observed repo '%s'",
		    name ? name : "");
	}
	return (r);
}

static int
on_check_run(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_ci_check_run *c = &m->body.ci_check_run;
	struct observer               *o = state;
	struct obs_repo               *r;
	const char                    *v = verdict(c->conclusion);
	int                            rv;

	if ((r = event_repo(svc, o, c->repo)) == NULL)
		return (0);
	/* a check run is known by its commit and name: a re-run replaces
	 * its own earlier conclusion only (delivery order may vary: the
	 * newer event wins) */
	if (v != NULL &&
	    ((rv = store_run(svc_store(svc),
	          "INSERT INTO ci_run(repo, head_sha, name, status,"
	          " observed_at, first_seen) VALUES (?, ?, ?, ?, ?, ?)"
	          " ON CONFLICT(repo, head_sha, name) DO UPDATE SET"
	          " status = excluded.status,"
	          " observed_at = excluded.observed_at"
	          " WHERE excluded.observed_at >= ci_run.observed_at",
	          "ttttii", r->key, c->head_sha ? c->head_sha : "",
	          c->name ? c->name : "", v, m->ts, m->ts)) != 0 ||
	        (rv = store_run(svc_store(svc),
	             "DELETE FROM ci_run WHERE repo = ? AND head_sha"
	             " NOT IN (SELECT head_sha FROM ci_run WHERE"
	             " repo = ? GROUP BY head_sha"
	             " ORDER BY min(first_seen) DESC LIMIT ?)",
	             "tti", r->key, r->key, (int64_t) CI_SHAS)) != 0))
		return (rv);
	(void) sched_queue(o, r);
	return (0);
}

static int
on_pr_event(struct svc *svc, const struct msg *m, void *state)
{
	struct observer *o = state;
	struct obs_repo *r;

	if ((r = event_repo(svc, o, m->body.ci_pr_event.repo)) != NULL)
		(void) sched_queue(o, r);
	return (0);
}

/*
 * ctl.
 */

static int
ctl_observe(struct svc *svc, const struct msg *req, json_t **data, char *err,
    size_t errlen, void *state)
{
	struct observer *o       = state;
	const char      *name    = req->body.observer_observe.repo;
	struct obs_repo *one     = NULL;
	json_t          *started = json_array();
	size_t           i;

	UNUSED(svc);
	if (name != NULL && (one = repos_match(o, name)) == NULL) {
		snprintf(err, errlen, "unknown repo '%s'", name);
		json_decref(started);
		return (ERR_NOTFOUND);
	}
	for (i = 0; i < o->nrepos; i++) {
		if (one != NULL && one != &o->repos[i])
			continue;
		json_array_append_new(started,
		    json_pack("{s:s, s:s}", "repo", o->repos[i].key, "run_id",
		        sched_queue(o, &o->repos[i])));
	}
	*data = json_pack("{s:o}", "started", started);
	return (0);
}

static json_t *
repo_status(struct store *st, const struct obs_repo *r)
{
	struct store_stmt *s;
	json_t            *o;

	o = json_pack("{s:s, s:b, s:o, s:o, s:n, s:n}", "path", r->path,
	    "in_flight", r->pid != 0, "run_id",
	    r->run_id ? json_string(r->run_id) : json_null(), "queued",
	    r->queued ? json_string(r->queued) : json_null(), "last_run_id",
	    "last_observed_at");
	if (store_prep(st, &s,
	        "SELECT run_id, observed_at FROM snapshot WHERE repo = ?"
	        " ORDER BY observed_at DESC, run_id DESC LIMIT 1") != 0)
		return (o);
	if (store_bind_text(s, 1, r->key) == 0 && store_step(s) == 1) {
		json_object_set_new(
		    o, "last_run_id", json_string(store_col_text(s, 0)));
		json_object_set_new(
		    o, "last_observed_at", json_integer(store_col_int(s, 1)));
	}
	store_done(s);
	if (r->report != NULL)
		json_object_set_new(o, "last_report",
		    json_pack("{s:s, s:s}", "run_id", r->report_run, "path",
		        r->report));
	return (o);
}

static void
observer_status(struct svc *svc, void *state, json_t *obj)
{
	struct observer *o     = state;
	json_t          *repos = json_object();
	int64_t          n     = 0;
	size_t           i;

	for (i = 0; i < o->nrepos; i++)
		json_object_set_new(repos, o->repos[i].key,
		    repo_status(svc_store(svc), &o->repos[i]));
	(void) store_int(
	    svc_store(svc), &n, 0, "SELECT count(*) FROM snapshot", NULL);
	json_object_set_new(obj, "repos", repos);
	json_object_set_new(obj, "snapshots", json_integer(n));
	json_object_set_new(obj, "interval_ms", json_integer(o->interval_ms));
	json_object_set_new(
	    obj, "command_timeout_ms", json_integer(o->cmd_timeout_ms));
}

static const struct svc_handler handlers[] = {
	{ MSG_CI_CHECK_RUN, on_check_run },
	{ MSG_CI_PR_EVENT, on_pr_event },
	{ MSG_NONE, NULL },
};

static const struct svc_ctl ctls[] = {
	{ MSG_OBSERVER_OBSERVE, ctl_observe },
	{ MSG_NONE, NULL },
};

const struct svc_def observer_def = {
	.name       = "observer",
	.state_size = sizeof(struct observer),
	.init       = observer_init,
	.fini       = observer_fini,
	.handlers   = handlers,
	.ctls       = ctls,
	.status     = observer_status,
	.shutdown   = observer_shutdown,
	.config     = observer_keys,
};
