/*
 * insighter.c - the insighter's handlers, staleness check and queries
 * (see insighter.h).
 *
 * Time inside handlers is the event's own (observed_at, envelope ts),
 * never the clock, so a replay derives exactly what the first pass did.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "insighter.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/report.h"
#include "opc/store.h"
#include "opc/topo.h"
#include "opc/util.h"

static const char *schema =
    "CREATE TABLE IF NOT EXISTS snapshot ("
    " run_id TEXT PRIMARY KEY, repo TEXT NOT NULL,"
    " observed_at INTEGER NOT NULL, json TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS snapshot_repo ON snapshot(repo, observed_at);"
    "CREATE TABLE IF NOT EXISTS insight ("
    " repo TEXT NOT NULL, dedup_key TEXT NOT NULL, json TEXT NOT NULL,"
    " first_seen_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL,"
    " run_id TEXT NOT NULL, PRIMARY KEY (repo, dedup_key));"
    "CREATE TABLE IF NOT EXISTS run ("
    " repo TEXT PRIMARY KEY, run_id TEXT NOT NULL, snapshot_run TEXT,"
    " observed_at INTEGER NOT NULL, stale_warned INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS prop ("
    " candidate_id TEXT PRIMARY KEY, repo TEXT, family TEXT,"
    " created_at INTEGER NOT NULL, task_id TEXT,"
    " accepted INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS prop_task ON prop(task_id);";

static int
insighter_init(struct svc *svc, void *state)
{
	struct insighter      *in       = state;
	const struct cfg_node *c        = svc_cfg(svc);
	char                   err[512] = "";
	int                    rv;

	/* defaults and bounds of what is configurable: insighter_keys */
	derive_limits_default(&in->lim);
	if ((rv = cfg_tab_int(insighter_keys, c, "history", &in->history, err,
	         sizeof(err))) != 0 ||
	    (rv = cfg_tab_num(insighter_keys, c, "trend_pct",
	         &in->lim.trend_pct, err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_num(insighter_keys, c, "coverage_min_pct",
	         &in->lim.coverage_min_pct, err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_ms(insighter_keys, c, "stale_after",
	         &in->lim.stale_ms, err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_ms(insighter_keys, c, "noop_window",
	         &in->noop_window, err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_ms(insighter_keys, c, "stale_check",
	         &in->stale_every, err, sizeof(err))) != 0)
		goto bad;
	if (in->history < (int64_t) in->lim.trend_window ||
	    in->lim.stale_ms < 1 || in->stale_every < 1) {
		snprintf(err, sizeof(err),
		    "history >= %d, stale_after > 0,"
		    " stale_check > 0",
		    in->lim.trend_window);
		rv = ERR_CONFIG;
		goto bad;
	}
	/* the run whose artifact (reports/insights) is written, and its
	 * path */
	if ((rv = store_exec(svc_store(svc), schema)) != 0 ||
	    (rv = store_add_column(
	         svc_store(svc), "run", "reported", "TEXT")) != 0 ||
	    (rv = store_add_column(svc_store(svc), "run", "report", "TEXT")) !=
	        0)
		snprintf(err, sizeof(err), "cannot create the schema");
	else
		return (0);
bad:
	log_error("insighter.config", "%s", err);
	return (rv);
}

/* history loads the newest snapshots of repo (newest first). */
static size_t
history(struct svc *svc, const char *repo, struct msg_obs_snapshot **snaps,
    size_t max)
{
	struct store_stmt *st;
	json_t            *j;
	size_t             n = 0;

	if (store_prep(svc_store(svc), &st,
	        "SELECT json FROM snapshot WHERE"
	        " repo = ? ORDER BY observed_at DESC, run_id DESC LIMIT ?") !=
	    0)
		return (0);
	store_bind_text(st, 1, repo);
	store_bind_int(st, 2, (int64_t) max);
	/* a row that is no record (none is written so) is left out */
	while (n < max && store_step(st) == 1) {
		j        = json_loads(store_col_text(st, 0), 0, NULL);
		snaps[n] = msg_obs_snapshot_new();
		if (msg_obs_snapshot_from_json(snaps[n], j, NULL, 0) == 0)
			n++;
		else
			msg_obs_snapshot_free(snaps[n]);
		json_decref(j);
	}
	store_done(st);
	return (n);
}

/* families counts the proposals per family of repo in the window. */
static json_t *
families(struct svc *svc, const char *repo, int64_t since)
{
	struct store_stmt *st;
	json_t            *a = json_array();

	if (store_prep(svc_store(svc), &st,
	        "SELECT family, count(*),"
	        " sum(accepted) FROM prop WHERE repo = ? AND created_at >= ?"
	        " AND family IS NOT NULL GROUP BY family ORDER BY family") !=
	    0)
		return (a);
	store_bind_text(st, 1, repo);
	store_bind_int(st, 2, since);
	while (store_step(st) == 1)
		json_array_append_new(a,
		    json_pack("{s:s, s:I, s:I}", "family",
		        store_col_text(st, 0), "proposed",
		        (json_int_t) store_col_int(st, 1), "accepted",
		        (json_int_t) store_col_int(st, 2)));
	store_done(st);
	return (a);
}

/* latest returns {repo: [insight...]} of every repo's current run, with
 * repo's own list replaced by mine (borrowed). */
static json_t *
latest(struct svc *svc, const char *repo, json_t *mine)
{
	struct store_stmt *st;
	json_t            *o = json_object(), *l, *ins;
	const char        *r;

	if (store_prep(svc_store(svc), &st,
	        "SELECT repo, json FROM insight"
	        " WHERE repo <> ? ORDER BY repo, dedup_key") == 0) {
		store_bind_text(st, 1, repo);
		while (store_step(st) == 1) {
			r = store_col_text(st, 0);
			if ((ins = json_loads(
			         store_col_text(st, 1), 0, NULL)) == NULL)
				continue;
			if ((l = json_object_get(o, r)) == NULL) {
				l = json_array();
				json_object_set_new(o, r, l);
			}
			json_array_append_new(l, ins);
		}
		store_done(st);
	}
	json_object_set(o, repo, mine);
	return (o);
}

/* cross adds to ins the cross-repo patterns that involve repo. */
static void
cross(struct svc *svc, const char *repo, json_t *ins)
{
	json_t *lat = latest(svc, repo, ins), *cr = derive_cross_repo(lat), *c,
	       *r;
	size_t i, j;

	json_array_foreach (cr, i, c) {
		json_array_foreach (
		    json_object_get(json_object_get(c, "evidence"), "repos"),
		    j, r)
			if (strcmp(json_string_value(r), repo) == 0) {
				json_array_append(ins, c);
				break;
			}
	}
	json_decref(cr);
	json_decref(lat);
}

/* keep upserts insight i of repo for run run_id and emits it. */
static int
keep(struct svc *svc, const char *repo, json_t *i, const char *run_id,
    const char *snap_run, int64_t at)
{
	struct msg_insight_derived d;
	const char *dk = json_string_value(json_object_get(i, "dedup_key"));
	char       *js;
	int64_t     first = at;
	int         rv;

	(void) store_int(svc_store(svc), &first, at,
	    "SELECT first_seen_at"
	    " FROM insight WHERE repo = ? AND dedup_key = ?",
	    "tt", repo, dk);
	json_object_set_new(i, "first_seen_at", json_integer(first));
	json_object_set_new(i, "last_seen_at", json_integer(at));
	js = json_dumps(i, JSON_COMPACT | JSON_SORT_KEYS);
	rv = store_run(svc_store(svc),
	    "INSERT INTO insight(repo, dedup_key,"
	    " json, first_seen_at, last_seen_at, run_id) VALUES (?, ?, ?, ?, "
	    "?,"
	    " ?) ON CONFLICT(repo, dedup_key) DO UPDATE SET json ="
	    " excluded.json, last_seen_at = excluded.last_seen_at, run_id ="
	    " excluded.run_id",
	    "tttiit", repo, dk, js, first, at, run_id);
	free(js);
	if (rv != 0)
		return (rv);
	memset(&d, 0, sizeof(d));
	d.insight_id =
	    (char *) json_string_value(json_object_get(i, "insight_id"));
	d.repo      = (char *) repo;
	d.kind      = (char *) json_string_value(json_object_get(i, "kind"));
	d.dedup_key = (char *) dk;
	d.subject  = (char *) json_string_value(json_object_get(i, "subject"));
	d.status   = (char *) json_string_value(json_object_get(i, "status"));
	d.evidence = json_object_get(i, "evidence");
	d.run_id   = (char *) run_id;
	d.snapshot_run  = (char *) snap_run;
	d.first_seen_at = first;
	d.last_seen_at  = at;
	return (svc_emit(svc, MSG_INSIGHT_DERIVED, repo, &d));
}

/* analyse derives the insights of repo after its snapshot snap_run. */
static int
analyse(struct svc *svc, struct insighter *in, const char *repo,
    const char *snap_run, int64_t at)
{
	struct msg_insight_run   r;
	struct derive_in         d;
	struct msg_obs_snapshot *snaps[64];
	json_t                  *ins, *fam, *i;
	size_t                   n, k, want;
	char                    *run_id;
	int                      rv = 0;

	/* twice the trend window: enough for trends and themes */
	want = 2 * (size_t) in->lim.trend_window;
	n    = history(
	       svc, repo, snaps, want < nitems(snaps) ? want : nitems(snaps));
	fam = families(svc, repo, at - in->noop_window);
	memset(&d, 0, sizeof(d));
	d.repo     = repo;
	d.snaps    = (const struct msg_obs_snapshot *const *) snaps;
	d.nsnaps   = n;
	d.families = fam;
	d.lim      = in->lim;
	ins        = derive_repo(&d);
	cross(svc, repo, ins);
	run_id = xasprintf("ins_%s",
	    strncmp(snap_run, "obs_", 4) == 0 ? snap_run + 4 : snap_run);
	memset(&r, 0, sizeof(r));
	json_array_foreach (ins, k, i) {
		if ((rv = keep(svc, repo, i, run_id, snap_run, at)) != 0)
			break;
		msg_strs_add(&r.kinds,
		    json_string_value(json_object_get(i, "insight_id")));
	}
	if (rv == 0)
		rv = store_run(svc_store(svc),
		    "DELETE FROM insight WHERE repo"
		    " = ? AND run_id <> ?",
		    "tt", repo, run_id);
	if (rv == 0)
		rv = store_run(svc_store(svc),
		    "INSERT INTO run(repo, run_id,"
		    " snapshot_run, observed_at) VALUES (?, ?, ?, ?) ON"
		    " CONFLICT(repo) DO UPDATE SET run_id = excluded.run_id,"
		    " snapshot_run = excluded.snapshot_run, observed_at ="
		    " excluded.observed_at, stale_warned = 0",
		    "ttti", repo, run_id, snap_run, at);
	if (rv == 0) {
		r.run_id       = run_id;
		r.repo         = (char *) repo;
		r.snapshot_run = (char *) snap_run;
		r.count        = (int64_t) json_array_size(ins);
		rv             = svc_emit(svc, MSG_INSIGHT_RUN, repo, &r);
		svc_count(svc, "insights", (int64_t) json_array_size(ins));
	}
	/* only the kinds are owned by r */
	while (r.kinds.n > 0)
		free(r.kinds.v[--r.kinds.n]);
	free(r.kinds.v);
	free(run_id);
	json_decref(ins);
	json_decref(fam);
	while (n > 0)
		msg_obs_snapshot_free(snaps[--n]);
	return (rv);
}

static int
on_snapshot(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_observe_snapshot *s  = &m->body.observe_snapshot;
	struct insighter                  *in = state;
	char                              *js;
	int64_t                            at;
	int                                rv;

	if (s->snapshot == NULL || *s->repo == '\0') {
		log_warn("insighter.snapshot",
		    "%s: no snapshot object or"
		    " repo: ignored",
		    s->run_id);
		svc_count(svc, "bad_snapshots", 1);
		return (0);
	}
	at = s->observed_at > 0 ? s->observed_at : m->ts;
	js = msg_rec_dumps(&msg_rec_obs_snapshot, s->snapshot);
	rv = store_run(svc_store(svc),
	    "INSERT OR IGNORE INTO snapshot(run_id,"
	    " repo, observed_at, json) VALUES (?, ?, ?, ?)",
	    "ttit", s->run_id, s->repo, at, js);
	free(js);
	if (rv != 0 || store_changes(svc_store(svc)) == 0)
		return (rv); /* a snapshot seen before */
	rv = store_run(svc_store(svc),
	    "DELETE FROM snapshot WHERE repo = ?"
	    " AND run_id NOT IN (SELECT run_id FROM snapshot WHERE repo = ?"
	    " ORDER BY observed_at DESC, run_id DESC LIMIT ?)",
	    "tti", s->repo, s->repo, in->history);
	return (rv != 0 ? rv : analyse(svc, in, s->repo, s->run_id, at));
}

static int
on_proposal(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_proposal_created *p = &m->body.proposal_created;

	(void) state;
	return (store_run(svc_store(svc),
	    "INSERT OR IGNORE INTO"
	    " prop(candidate_id, repo, family, created_at) VALUES (?, ?, ?, "
	    "?)",
	    "ttti", p->candidate_id, p->repo, p->family, m->ts));
}

static int
on_task_created(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_task_created *t = &m->body.task_created;

	(void) state;
	if (t->candidate_id == NULL)
		return (0);
	return (store_run(svc_store(svc),
	    "UPDATE prop SET task_id = ? WHERE"
	    " candidate_id = ?",
	    "tt", t->task_id, t->candidate_id));
}

static int
on_task_updated(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_task_updated *t = &m->body.task_updated;

	(void) state;
	if (t->state != MSG_TASK_STATE_DONE)
		return (0);
	return (store_run(svc_store(svc),
	    "UPDATE prop SET accepted = 1 WHERE"
	    " task_id = ?",
	    "t", t->task_id));
}

/* human writes a duration in s, min or h. */
static const char *
human(int64_t ms, char *buf, size_t len)
{
	if (ms < 120000)
		snprintf(buf, len, "%lld s", (long long) (ms / 1000));
	else if (ms < 2 * 3600000)
		snprintf(buf, len, "%.1f min", (double) ms / 60000.0);
	else
		snprintf(buf, len, "%.1f h", (double) ms / 3600000.0);
	return (buf);
}

/* warn_stale emits insight.warning once per repo whose latest snapshot
 * is older than the limit; a new snapshot re-arms it. */
static int
warn_stale(struct svc *svc, struct insighter *in)
{
	struct store_stmt *st;
	int64_t            now = now_ms(), age;
	char              *repos[64], *msg, a[32], b[32];
	int64_t            ages[64];
	size_t             n  = 0, i;
	int                rv = 0;

	if (store_prep(svc_store(svc), &st,
	        "SELECT repo, observed_at FROM run"
	        " WHERE stale_warned = 0 ORDER BY repo") != 0)
		return (-1);
	while (n < nitems(repos) && store_step(st) == 1)
		if ((age = derive_stale(store_col_int(st, 1), now, &in->lim)) >
		    0) {
			ages[n]    = age;
			repos[n++] = store_col_dup(st, 0);
		}
	store_done(st);
	if (n == 0)
		return (0);
	if ((rv = svc_begin(svc)) != 0)
		goto out;
	for (i = 0; i < n && rv == 0; i++) {
		struct msg_insight_warning w = { "stale_snapshot", repos[i],
			NULL };

		msg = xasprintf("latest snapshot of %s is %s old (limit %s)",
		    repos[i], human(ages[i], a, sizeof(a)),
		    human(in->lim.stale_ms, b, sizeof(b)));
		w.message = msg;
		log_warn("insighter.stale", "%s", msg);
		rv = svc_emit(svc, MSG_INSIGHT_WARNING, repos[i], &w);
		if (rv == 0)
			rv = store_run(svc_store(svc),
			    "UPDATE run SET"
			    " stale_warned = 1 WHERE repo = ?",
			    "t", repos[i]);
		free(msg);
	}
	if (rv == 0)
		rv = svc_commit(svc);
	else
		svc_rollback(svc);
out:
	for (i = 0; i < n; i++)
		free(repos[i]);
	return (rv);
}

/* artifact returns the insights artifact of repo's current run: the
 * original's repo_insights.json, each insight with its pattern
 * (kind/subject, e.g. quality_trend/lint_degrading), and the patterns. */
static json_t *
artifact(struct svc *svc, const char *repo, const char *run_id,
    const char *snapshot_run, int64_t observed_at)
{
	struct store_stmt *st;
	json_t            *ins = json_array(), *kinds = json_array(), *i;
	char               pat[256];

	if (store_prep(svc_store(svc), &st,
	        "SELECT json FROM insight WHERE"
	        " repo = ? ORDER BY dedup_key") == 0) {
		store_bind_text(st, 1, repo);
		while (store_step(st) == 1)
			if ((i = json_loads(store_col_text(st, 0), 0, NULL)) !=
			    NULL) {
				snprintf(pat, sizeof(pat), "%s/%s",
				    json_string_value(
				        json_object_get(i, "kind")),
				    json_string_value(
				        json_object_get(i, "subject")));
				json_object_set_new(
				    i, "pattern", json_string(pat));
				json_array_append_new(kinds, json_string(pat));
				json_array_append_new(ins, i);
			}
		store_done(st);
	}
	return (json_pack("{s:s, s:I, s:i, s:s, s:{s:s}, s:[{s:s?, s:I}],"
	                  " s:o, s:o}",
	    "run_id", run_id, "generated_at", (json_int_t) now_ms(),
	    "insight_engine_version", 1, "source_command", "opc-insighter",
	    "repo", "name", repo, "source_snapshots", "run_id", snapshot_run,
	    "observed_at", (json_int_t) observed_at, "kinds", kinds,
	    "insights", ins));
}

/* write_reports writes the artifact of each run not written yet. */
static void
write_reports(struct svc *svc)
{
	struct store_stmt *st;
	json_t            *todo = json_array(), *r, *doc;
	char              *path;
	size_t             i;

	if (store_prep(svc_store(svc), &st,
	        "SELECT repo, run_id, snapshot_run,"
	        " observed_at FROM run WHERE reported IS NULL OR reported <>"
	        " run_id") != 0)
		return;
	while (store_step(st) == 1)
		json_array_append_new(todo,
		    json_pack("[s, s, s?, I]", store_col_text(st, 0),
		        store_col_text(st, 1), store_col_text(st, 2),
		        (json_int_t) store_col_int(st, 3)));
	store_done(st);
	json_array_foreach (todo, i, r) {
		const char *repo = json_string_value(json_array_get(r, 0));
		const char *run  = json_string_value(json_array_get(r, 1));

		doc = artifact(svc, repo, run,
		    json_string_value(json_array_get(r, 2)),
		    json_integer_value(json_array_get(r, 3)));
		if (report_write(&path, svc_topo(svc)->state_dir, "insights",
		        doc, svc_topo(svc)->reports_keep) != 0) {
			log_warn("insighter.report",
			    "%s: cannot write the insights report: %s", repo,
			    strerror(errno));
			path = NULL;
		}
		/* marked even when it failed: one try per run */
		(void) store_run(svc_store(svc),
		    "UPDATE run SET reported = ?, report = ? WHERE repo = ?",
		    "ttt", run, path, repo);
		free(path);
		json_decref(doc);
	}
	json_decref(todo);
}

static void
insighter_idle(struct svc *svc, void *state)
{
	struct insighter *in = state;

	if (svc_caught_up(svc))
		write_reports(svc);
	if (!svc_caught_up(svc) || mono_ms() < in->stale_next)
		return;
	in->stale_next = mono_ms() + in->stale_every;
	if (warn_stale(svc, in) != 0)
		log_error("insighter.stale", "cannot record the warning");
}

/* ctl_insights answers {repos: {repo: {run_id, snapshot_run, observed_at,
 * stale_warned, insights: [...]}}}. */
static int
ctl_insights(struct svc *svc, const struct msg *req, json_t **data, char *err,
    size_t errlen, void *state)
{
	const char        *repo = req->body.insighter_insights.repo;
	struct store_stmt *st;
	json_t            *repos = json_object(), *r, *ins;

	(void) state;
	(void) err;
	(void) errlen;
	if (store_prep(svc_store(svc), &st,
	        "SELECT repo, run_id, snapshot_run,"
	        " observed_at, stale_warned, CASE WHEN reported = run_id THEN"
	        " report END FROM run WHERE ?1 IS NULL OR repo = ?1 ORDER BY"
	        " repo") == 0) {
		if (repo != NULL)
			store_bind_text(st, 1, repo);
		else
			store_bind_null(st, 1);
		while (store_step(st) == 1)
			json_object_set_new(repos, store_col_text(st, 0),
			    json_pack("{s:s, s:s?, s:I, s:b, s:[], s:s?}",
			        "run_id", store_col_text(st, 1),
			        "snapshot_run", store_col_text(st, 2),
			        "observed_at",
			        (json_int_t) store_col_int(st, 3),
			        "stale_warned", (int) store_col_int(st, 4),
			        "insights", "report", store_col_text(st, 5)));
		store_done(st);
	}
	if (store_prep(svc_store(svc), &st,
	        "SELECT repo, json FROM insight"
	        " ORDER BY repo, dedup_key") == 0) {
		while (store_step(st) == 1)
			if ((r = json_object_get(
			         repos, store_col_text(st, 0))) != NULL &&
			    (ins = json_loads(
			         store_col_text(st, 1), 0, NULL)) != NULL)
				json_array_append_new(
				    json_object_get(r, "insights"), ins);
		store_done(st);
	}
	*data = json_pack("{s:o}", "repos", repos);
	return (0);
}

static void
insighter_status(struct svc *svc, void *state, json_t *obj)
{
	int64_t n = 0;

	(void) state;
	(void) store_int(
	    svc_store(svc), &n, 0, "SELECT count(*) FROM run", NULL);
	json_object_set_new(obj, "repos", json_integer(n));
	(void) store_int(svc_store(svc), &n, 0,
	    "SELECT count(*) FROM"
	    " snapshot",
	    NULL);
	json_object_set_new(obj, "snapshots", json_integer(n));
	(void) store_int(
	    svc_store(svc), &n, 0, "SELECT count(*) FROM insight", NULL);
	json_object_set_new(obj, "current_insights", json_integer(n));
	(void) store_int(svc_store(svc), &n, 0,
	    "SELECT count(*) FROM run"
	    " WHERE stale_warned = 1",
	    NULL);
	json_object_set_new(obj, "stale_repos", json_integer(n));
}

static const struct svc_handler handlers[] = {
	{ MSG_OBSERVE_SNAPSHOT, on_snapshot },
	{ MSG_PROPOSAL_CREATED, on_proposal },
	{ MSG_TASK_CREATED, on_task_created },
	{ MSG_TASK_UPDATED, on_task_updated },
	{ MSG_NONE, NULL },
};

static const struct svc_ctl ctls[] = {
	{ MSG_INSIGHTER_INSIGHTS, ctl_insights },
	{ MSG_NONE, NULL },
};

const struct svc_def insighter_def = {
	.name       = "insighter",
	.state_size = sizeof(struct insighter),
	.init       = insighter_init,
	.handlers   = handlers,
	.ctls       = ctls,
	.status     = insighter_status,
	.idle       = insighter_idle,
	.config     = insighter_keys,
};
