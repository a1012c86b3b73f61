/*
 * usage.c - the usage store: what was executed, how it ended, what it cost.
 *
 * The original kept this as a JSON event log (execution/usage_store.py);
 * here it is three tables in the recorder's db, written only by handlers
 * (state, no files), each keyed so that applying the same event twice
 * changes nothing:
 *   usage_exec     one row per dispatched run: the estimated cost fixed at
 *                  dispatch (cost_per_execution_usd), what the agent CLI
 *                  reported (result.agent: cost_usd and its cost_source,
 *                  tokens, session, turns), the outcome (success, failure
 *                  category, event: the original's execution_outcome or
 *                  quota_event), duration, and whether the router took
 *                  the run back (superseded: it counts in no total);
 *   usage_quality  result.quality_warnings, one row per (run, pattern)
 *                  (usage_exec.quality_note: the executor's [quality]
 *                  note, set when they reached its threshold: the
 *                  original's executor_quality_warning);
 *   usage_scope    result.scope_violations, one row per (run, path).
 * The real cost is the agent's; the estimate stands in only for a run that
 * reported none.  The spend report keeps the original's shape
 * (window_days, total_executions, total_estimated_usd,
 * per_repo{executions, estimated_usd}, amounts rounded to 6 decimals),
 * estimated_usd being the real cost where there is one, and adds what was
 * reported, the tokens, and how many runs have only an estimate.
 *
 * An older db gains the new columns at start (usage_init); no row is
 * lost, and its runs count as estimate-only.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "opc/err.h"
#include "opc/outcome.h"
#include "opc/store.h"
#include "opc/util.h"
#include "recorder.h"

#define DAY_MS (86400LL * 1000)

/* The columns usage_exec gained after its first release (issue 13), in
 * the order of the CREATE TABLE below. */
static const char *const added[][2] = {
	{ "cost_usd", "REAL" },
	{ "cost_source", "TEXT" },
	{ "input_tokens", "INTEGER" },
	{ "output_tokens", "INTEGER" },
	{ "cache_read_tokens", "INTEGER" },
	{ "cache_creation_tokens", "INTEGER" },
	{ "session_id", "TEXT" },
	{ "turns", "INTEGER" },
	{ "agent_cli", "TEXT" },
	{ "model", "TEXT" },
	{ "event", "TEXT" },
	{ "superseded", "INTEGER NOT NULL DEFAULT 0" },
	{ "quality_note", "TEXT" },
};

int
usage_init(struct store *st)
{
	size_t i;
	int    rv;

	if ((rv = store_exec(st,
	         "CREATE TABLE IF NOT EXISTS usage_exec ("
	         " run_id TEXT PRIMARY KEY, task_id TEXT, repo_key TEXT,"
	         " lane TEXT, backend TEXT, dispatched_ms INTEGER NOT NULL,"
	         " estimated_usd REAL NOT NULL DEFAULT 0, finished INTEGER NOT"
	         " NULL DEFAULT 0, status TEXT, success INTEGER,"
	         " failure_category TEXT, quota INTEGER NOT NULL DEFAULT 0,"
	         " duration_ms INTEGER, finished_ms INTEGER,"
	         " cost_usd REAL, cost_source TEXT, input_tokens INTEGER,"
	         " output_tokens INTEGER, cache_read_tokens INTEGER,"
	         " cache_creation_tokens INTEGER, session_id TEXT,"
	         " turns INTEGER, agent_cli TEXT, model TEXT, event TEXT,"
	         " superseded INTEGER NOT NULL DEFAULT 0, quality_note TEXT);"
	         "CREATE INDEX IF NOT EXISTS usage_exec_ts"
	         " ON usage_exec(dispatched_ms);"
	         "CREATE TABLE IF NOT EXISTS usage_quality ("
	         " run_id TEXT NOT NULL, task_id TEXT, pattern TEXT NOT NULL,"
	         " count INTEGER NOT NULL, ts_ms INTEGER NOT NULL,"
	         " PRIMARY KEY (run_id, pattern));"
	         "CREATE TABLE IF NOT EXISTS usage_scope ("
	         " run_id TEXT NOT NULL, task_id TEXT, path TEXT NOT NULL,"
	         " ts_ms INTEGER NOT NULL, PRIMARY KEY (run_id, path));")) !=
	    0)
		return (rv);
	for (i = 0; i < nitems(added); i++)
		if ((rv = store_add_column(
		         st, "usage_exec", added[i][0], added[i][1])) != 0)
			return (rv);
	return (0);
}

int
usage_dispatched(struct store *st, const char *run_id, const char *task_id,
    const char *repo_key, const char *lane, const char *backend, int64_t ts_ms,
    double cost_usd)
{
	/* The cost is fixed when the row is born: a replayed dispatch after
	 * a config change does not reprice history. */
	return (store_run(st,
	    "INSERT INTO usage_exec(run_id, task_id, repo_key, lane, backend,"
	    " dispatched_ms, estimated_usd) VALUES (?, ?, ?, ?, ?, ?, ?)"
	    " ON CONFLICT(run_id) DO UPDATE SET"
	    " task_id = coalesce(usage_exec.task_id, excluded.task_id),"
	    " repo_key = coalesce(usage_exec.repo_key, excluded.repo_key),"
	    " lane = coalesce(usage_exec.lane, excluded.lane),"
	    " backend = coalesce(usage_exec.backend, excluded.backend)",
	    "tttttid", run_id, task_id, repo_key, lane, backend, ts_ms,
	    cost_usd));
}

int
usage_superseded(
    struct store *st, const char *run_id, const char *task_id, int64_t ts_ms)
{
	return (store_run(st,
	    "INSERT INTO usage_exec(run_id, task_id, dispatched_ms,"
	    " superseded) VALUES (?, ?, ?, 1)"
	    " ON CONFLICT(run_id) DO UPDATE SET superseded = 1,"
	    " task_id = coalesce(usage_exec.task_id, excluded.task_id),"
	    " success = CASE WHEN usage_exec.finished THEN 0"
	    "  ELSE usage_exec.success END,"
	    " status = CASE WHEN usage_exec.finished THEN 'superseded'"
	    "  ELSE usage_exec.status END",
	    "tti", run_id, task_id, ts_ms));
}

/* The agent's report of a run (result.agent), what usage_exec keeps of
 * it; -1 (costs, counts) and NULL mean not reported.  Strings borrowed. */
struct agent_use {
	double      cost_usd;
	const char *cost_source, *session_id, *cli, *model;
	int64_t     input, output, cache_read, cache_creation, turns;
};

static int64_t
count_of(const json_t *agent, const char *key)
{
	const json_t *v = json_object_get(agent, key);

	return (json_is_integer(v) && json_integer_value(v) >= 0
	        ? (int64_t) json_integer_value(v)
	        : -1);
}

static void
agent_use(const json_t *result, struct agent_use *u)
{
	const json_t *a = json_object_get(result, "agent");
	const json_t *v = json_object_get(a, "cost_usd");
	double        d;

	memset(u, 0, sizeof(*u));
	u->cost_usd = -1;
	if (json_is_number(v) && isfinite(d = json_number_value(v)) &&
	    d >= 0) {
		u->cost_usd = d;
		u->cost_source =
		    json_string_value(json_object_get(a, "cost_source"));
		if (u->cost_source == NULL)
			u->cost_source = "reported";
	}
	u->session_id = json_string_value(json_object_get(a, "session_id"));
	u->cli        = json_string_value(json_object_get(a, "cli"));
	u->model      = json_string_value(json_object_get(a, "model"));
	u->input      = count_of(a, "input_tokens");
	u->output     = count_of(a, "output_tokens");
	u->cache_read = count_of(a, "cache_read_tokens");
	u->cache_creation = count_of(a, "cache_creation_tokens");
	u->turns          = count_of(a, "turns");
}

int
usage_finished(struct store *st, const char *run_id, const char *task_id,
    const char *status, bool success, const char *failure_category,
    const json_t *result, int64_t duration_ms, int64_t ts_ms, double cost_usd)
{
	const char *reason =
	    json_string_value(json_object_get(result, "failure_reason"));
	const char      *k;
	struct agent_use u;
	json_t          *v, *cnt;
	size_t           i;
	char             dur[32];
	bool             quota = outcome_quota(failure_category, reason,
	                json_object_get(result, "agent") != NULL);
	int              rv;

	/* INTEGER affinity stores the text as a number; NULL when unknown. */
	snprintf(dur, sizeof(dur), "%lld", (long long) duration_ms);
	agent_use(result, &u);
	/* exec.finished may be applied before its exec.dispatch (two
	 * upstreams): the row is born here then, at the finish time.  -1
	 * stands for "not reported" (nullif). */
	if ((rv = store_run(st,
	         "INSERT INTO usage_exec(run_id, task_id, dispatched_ms,"
	         " estimated_usd, finished, status, success, failure_category,"
	         " quota, duration_ms, finished_ms, event, cost_usd,"
	         " cost_source, input_tokens, output_tokens, "
	         "cache_read_tokens,"
	         " cache_creation_tokens, session_id, turns, agent_cli, model)"
	         " VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, nullif(?, "
	         "-1.0),"
	         " ?, nullif(?, -1), nullif(?, -1), nullif(?, -1),"
	         " nullif(?, -1), ?, nullif(?, -1), ?, ?)"
	         " ON CONFLICT(run_id) DO UPDATE SET finished = 1,"
	         " task_id = coalesce(usage_exec.task_id, excluded.task_id),"
	         " status = excluded.status, success = excluded.success,"
	         " failure_category = excluded.failure_category,"
	         " quota = excluded.quota, duration_ms = excluded.duration_ms,"
	         " finished_ms = excluded.finished_ms,"
	         " event = excluded.event, cost_usd = excluded.cost_usd,"
	         " cost_source = excluded.cost_source,"
	         " input_tokens = excluded.input_tokens,"
	         " output_tokens = excluded.output_tokens,"
	         " cache_read_tokens = excluded.cache_read_tokens,"
	         " cache_creation_tokens = excluded.cache_creation_tokens,"
	         " session_id = excluded.session_id, turns = excluded.turns,"
	         " agent_cli = excluded.agent_cli, model = excluded.model"
	         " WHERE usage_exec.finished = 0",
	         "ttidtitititdtiiiititt", run_id, task_id, ts_ms, cost_usd,
	         status, (int64_t) success, failure_category, (int64_t) quota,
	         duration_ms >= 0 ? dur : NULL, ts_ms,
	         quota ? "quota_event" : "execution_outcome", u.cost_usd,
	         u.cost_source, u.input, u.output, u.cache_read,
	         u.cache_creation, u.session_id, u.turns, u.cli, u.model)) !=
	    0)
		return (rv);
	v = json_object_get(result, "quality_note");
	if (json_is_string(v) &&
	    (rv = store_run(st,
	         "UPDATE usage_exec SET quality_note = ? WHERE run_id = ?"
	         " AND quality_note IS NULL",
	         "tt", json_string_value(v), run_id)) != 0)
		return (rv);
	v = json_object_get(result, "quality_warnings");
	if (json_is_object(v)) {
		json_object_foreach (v, k, cnt) {
			if ((rv = store_run(st,
			         "INSERT OR IGNORE INTO usage_quality(run_id,"
			         " task_id, pattern, count, ts_ms)"
			         " VALUES (?, ?, ?, ?, ?)",
			         "tttii", run_id, task_id, k,
			         json_is_integer(cnt)
			             ? (int64_t) json_integer_value(cnt)
			             : (int64_t) 1,
			         ts_ms)) != 0)
				return (rv);
		}
	} else if (json_is_array(v)) {
		json_array_foreach (v, i, cnt) {
			if (!json_is_string(cnt))
				continue;
			if ((rv = store_run(st,
			         "INSERT OR IGNORE INTO usage_quality(run_id,"
			         " task_id, pattern, count, ts_ms)"
			         " VALUES (?, ?, ?, 1, ?)",
			         "ttti", run_id, task_id,
			         json_string_value(cnt), ts_ms)) != 0)
				return (rv);
		}
	}
	json_array_foreach (
	    json_object_get(result, "scope_violations"), i, v) {
		const char *path = json_is_string(v)
		    ? json_string_value(v)
		    : json_string_value(json_object_get(v, "path"));

		if (path == NULL)
			continue;
		if ((rv = store_run(st,
		         "INSERT OR IGNORE INTO usage_scope(run_id, task_id,"
		         " path, ts_ms) VALUES (?, ?, ?, ?)",
		         "ttti", run_id, task_id, path, ts_ms)) != 0)
			return (rv);
	}
	return (0);
}

static double
round6(double x)
{
	return (round(x * 1e6) / 1e6);
}

int
usage_spend(
    struct store *st, json_t **out, int64_t window_days, int64_t now_ms)
{
	struct store_stmt *s     = NULL;
	json_t            *per   = json_object();
	int64_t            total = 0, only_est = 0, tok[4] = { 0, 0, 0, 0 };
	int64_t            sup = 0;
	double             usd = 0, reported = 0, sup_usd = 0;
	size_t             i;
	int                rv;

	*out = NULL;
	/* estimated_usd: the real cost where the run reported one, the
	 * estimate fixed at dispatch otherwise */
	if ((rv = store_prep(st, &s,
	         "SELECT coalesce(repo_key, 'unknown'), count(*),"
	         " total(coalesce(cost_usd, estimated_usd)), total(cost_usd),"
	         " count(*) - count(cost_usd), total(input_tokens),"
	         " total(output_tokens), total(cache_read_tokens),"
	         " total(cache_creation_tokens) FROM usage_exec"
	         " WHERE dispatched_ms >= ? AND superseded = 0"
	         " GROUP BY 1 ORDER BY 1")) != 0 ||
	    (rv = store_bind_int(s, 1, now_ms - window_days * DAY_MS)) != 0)
		goto fail;
	while ((rv = store_step(s)) == 1) {
		int64_t n = store_col_int(s, 1), est = store_col_int(s, 4);
		double  d = store_col_double(s, 2), r = store_col_double(s, 3);

		total += n;
		only_est += est;
		usd += d;
		reported += r;
		for (i = 0; i < nitems(tok); i++)
			tok[i] += (int64_t) store_col_double(s, 5 + (int) i);
		json_object_set_new(per, store_col_text(s, 0),
		    json_pack("{s:I, s:f, s:f, s:I}", "executions",
		        (json_int_t) n, "estimated_usd", round6(d),
		        "reported_usd", round6(r), "estimated_only",
		        (json_int_t) est));
	}
	if (rv != 0)
		goto fail;
	/* runs taken back: apart, with what they reported spending (the
	 * router's ledger books it too) */
	if ((rv = store_prep(st, &s,
	         "SELECT count(*), total(cost_usd) FROM usage_exec"
	         " WHERE dispatched_ms >= ? AND superseded = 1")) != 0 ||
	    (rv = store_bind_int(s, 1, now_ms - window_days * DAY_MS)) != 0)
		goto fail;
	if ((rv = store_step(s)) == 1) {
		sup     = store_col_int(s, 0);
		sup_usd = store_col_double(s, 1);
		rv      = 0;
	}
	store_done(s);
	s = NULL;
	if (rv != 0)
		goto fail;
	*out = json_pack("{s:I, s:I, s:f, s:o, s:f, s:I, s:I, s:I, s:I, s:I}",
	    "window_days", (json_int_t) window_days, "total_executions",
	    (json_int_t) total, "total_estimated_usd", round6(usd), "per_repo",
	    per, "total_reported_usd", round6(reported),
	    "estimated_only_executions", (json_int_t) only_est,
	    "total_input_tokens", (json_int_t) tok[0], "total_output_tokens",
	    (json_int_t) tok[1], "total_cache_read_tokens",
	    (json_int_t) tok[2], "total_cache_creation_tokens",
	    (json_int_t) tok[3]);
	json_object_set_new(
	    *out, "superseded_executions", json_integer((json_int_t) sup));
	json_object_set_new(
	    *out, "superseded_usd", json_real(round6(sup_usd)));
	return (0);

fail:
	if (s != NULL)
		store_done(s);
	json_decref(per);
	return (rv);
}

json_t *
usage_run(struct store *st, const char *run_id)
{
	struct store_stmt       *s;
	json_t                  *o = NULL;
	int                      i;
	static const char *const cols[] = {
		"estimated_usd",
		"cost_usd",
		"cost_source",
		"input_tokens",
		"output_tokens",
		"cache_read_tokens",
		"cache_creation_tokens",
		"session_id",
		"turns",
		"agent_cli",
		"model",
		"event",
	};

	if (store_prep(st, &s,
	        "SELECT estimated_usd, cost_usd, cost_source,"
	        " input_tokens, output_tokens, cache_read_tokens,"
	        " cache_creation_tokens, session_id, turns, agent_cli,"
	        " model, event FROM usage_exec WHERE run_id = ?") != 0)
		return (NULL);
	if (store_bind_text(s, 1, run_id) == 0 && store_step(s) == 1) {
		o = json_object();
		for (i = 0; i < (int) nitems(cols); i++) {
			json_t *v;

			if (store_col_is_null(s, i))
				v = json_null();
			else if (i <= 1)
				v = json_real(store_col_double(s, i));
			else if (i == 2 || i == 7 || i >= 9)
				v = json_string(store_col_text(s, i));
			else
				v = json_integer(store_col_int(s, i));
			json_object_set_new(o, cols[i], v);
		}
	}
	store_done(s);
	return (o);
}

void
usage_counts(struct store *st, json_t *obj)
{
	int64_t n = 0, failed = 0, quota = 0, reported = 0, sup = 0;

	(void) store_int(st, &n, 0,
	    "SELECT count(*) FROM usage_exec WHERE superseded = 0", NULL);
	(void) store_int(st, &failed, 0,
	    "SELECT count(*) FROM usage_exec WHERE finished = 1"
	    " AND success = 0 AND superseded = 0",
	    NULL);
	(void) store_int(st, &quota, 0,
	    "SELECT count(*) FROM usage_exec WHERE quota = 1"
	    " AND superseded = 0",
	    NULL);
	(void) store_int(st, &sup, 0,
	    "SELECT count(*) FROM usage_exec WHERE superseded = 1", NULL);
	json_object_set_new(obj, "executions", json_integer(n));
	json_object_set_new(obj, "executions_failed", json_integer(failed));
	(void) store_int(st, &reported, 0,
	    "SELECT count(cost_usd) FROM usage_exec"
	    " WHERE superseded = 0",
	    NULL);
	json_object_set_new(obj, "executions_superseded", json_integer(sup));
	json_object_set_new(obj, "executions_quota", json_integer(quota));
	json_object_set_new(
	    obj, "executions_cost_reported", json_integer(reported));
}

/* ----------------------------------------------------- the store, read */

const char *const usage_kinds[] = {
	"execution",
	"execution_outcome",
	"quota_event",
	"executor_quality_warning",
	"scope_violation",
	NULL,
};

/* note_counts reads the {...} of a [quality] note (the counts by name);
 * an empty object when it does not parse. */
static json_t *
note_counts(const char *note)
{
	const char *a = note != NULL ? strchr(note, '{') : NULL;
	const char *b = note != NULL ? strrchr(note, '}') : NULL;
	json_t     *j = NULL;

	if (a != NULL && b != NULL && b > a)
		j = json_loadb(a, (size_t) (b - a + 1), 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		j = json_object();
	}
	return (j);
}

/* col_str: a text column as a JSON string, null for NULL. */
static json_t *
col_str(struct store_stmt *s, int i)
{
	return (store_col_is_null(s, i) ? json_null()
	                                : json_string(store_col_text(s, i)));
}

/* kind_query appends the events of kind k newer than since_ms (of repo,
 * NULL: any) to a: {kind, timestamp, ts_ms, run_id, task_id, repo_key,
 * ...its own fields}. */
static int
kind_query(struct store *st, json_t *a, const char *k, const char *repo,
    int64_t since_ms, int64_t limit)
{
	static const struct {
		const char *kind, *sql;
	} q[] = {
		{ "execution",
		    "SELECT dispatched_ms, run_id, task_id, repo_key, lane, "
		    "backend"
		    " FROM usage_exec WHERE superseded = 0 AND dispatched_ms "
		    ">= ?"
		    " AND (? IS NULL OR repo_key = ?)"
		    " ORDER BY dispatched_ms DESC LIMIT ?" },
		{ "execution_outcome",
		    "SELECT finished_ms, run_id, task_id, repo_key, backend, "
		    "success,"
		    " status, failure_category FROM usage_exec WHERE finished "
		    "= 1"
		    " AND superseded = 0 AND quota = 0 AND finished_ms >= ?"
		    " AND (? IS NULL OR repo_key = ?)"
		    " ORDER BY finished_ms DESC LIMIT ?" },
		{ "quota_event",
		    "SELECT finished_ms, run_id, task_id, repo_key, backend,"
		    " failure_category, status FROM usage_exec WHERE finished "
		    "= 1"
		    " AND superseded = 0 AND quota = 1 AND finished_ms >= ?"
		    " AND (? IS NULL OR repo_key = ?)"
		    " ORDER BY finished_ms DESC LIMIT ?" },
		{ "executor_quality_warning",
		    "SELECT finished_ms, run_id, task_id, repo_key, "
		    "quality_note"
		    " FROM usage_exec WHERE quality_note IS NOT NULL"
		    " AND finished_ms >= ? AND (? IS NULL OR repo_key = ?)"
		    " ORDER BY finished_ms DESC LIMIT ?" },
		{ "scope_violation",
		    "SELECT min(s.ts_ms) AS t, s.run_id, s.task_id, "
		    "e.repo_key,"
		    " count(*) FROM usage_scope s LEFT JOIN usage_exec e"
		    " ON e.run_id = s.run_id WHERE s.ts_ms >= ?"
		    " AND (? IS NULL OR e.repo_key = ?) GROUP BY s.run_id"
		    " ORDER BY t DESC LIMIT ?" },
	};
	struct store_stmt *s, *f;
	json_t            *o, *files;
	char               ts[40];
	size_t             i;
	int                rv;

	for (i = 0; i < nitems(q) && strcmp(q[i].kind, k) != 0; i++)
		;
	if (i == nitems(q))
		return (ERR_INVAL);
	if ((rv = store_prep(st, &s, q[i].sql)) != 0)
		return (rv);
	store_bind_int(s, 1, since_ms);
	if (repo != NULL) {
		store_bind_text(s, 2, repo);
		store_bind_text(s, 3, repo);
	} else {
		store_bind_null(s, 2);
		store_bind_null(s, 3);
	}
	store_bind_int(s, 4, limit);
	while ((rv = store_step(s)) == 1) {
		o = json_pack("{s:s, s:s, s:I, s:o, s:o, s:o}", "kind", k,
		    "timestamp", iso8601(store_col_int(s, 0), ts, sizeof(ts)),
		    "ts_ms", (json_int_t) store_col_int(s, 0), "run_id",
		    col_str(s, 1), "task_id", col_str(s, 2), "repo_key",
		    col_str(s, 3));
		if (i == 0) {
			json_object_set_new(o, "lane", col_str(s, 4));
			json_object_set_new(o, "backend", col_str(s, 5));
		} else if (i == 1) {
			json_object_set_new(o, "backend", col_str(s, 4));
			json_object_set_new(
			    o, "succeeded", json_boolean(store_col_int(s, 5)));
			json_object_set_new(o, "status", col_str(s, 6));
			json_object_set_new(
			    o, "failure_category", col_str(s, 7));
		} else if (i == 2) {
			json_object_set_new(o, "backend", col_str(s, 4));
			json_object_set_new(
			    o, "failure_category", col_str(s, 5));
			json_object_set_new(o, "status", col_str(s, 6));
		} else if (i == 3) {
			json_object_set_new(o, "suppression_counts",
			    note_counts(store_col_text(s, 4)));
			json_object_set_new(o, "note", col_str(s, 4));
		} else {
			/* the original keeps at most 10 paths */
			files = json_array();
			if (store_prep(st, &f,
			        "SELECT path FROM usage_scope WHERE"
			        " run_id = ? ORDER BY path LIMIT 10") == 0) {
				store_bind_text(f, 1, store_col_text(s, 1));
				while (store_step(f) == 1)
					json_array_append_new(files,
					    json_string(store_col_text(f, 0)));
				store_done(f);
			}
			json_object_set_new(o, "violated_files", files);
			json_object_set_new(o, "violated_count",
			    json_integer(store_col_int(s, 4)));
		}
		json_array_append_new(a, o);
	}
	store_done(s);
	return (rv < 0 ? rv : 0);
}

static int
newest_first(const void *x, const void *y)
{
	json_int_t a = json_integer_value(
	               json_object_get(*(json_t *const *) x, "ts_ms")),
	           b = json_integer_value(
	               json_object_get(*(json_t *const *) y, "ts_ms"));

	return (a < b ? 1 : a > b ? -1 : 0);
}

int
usage_query(struct store *st, json_t **out, const char *kind, const char *repo,
    int64_t since_ms, int64_t limit)
{
	json_t **v, *a = json_array(), *e;
	size_t   i, n;
	int      rv = 0;

	*out = NULL;
	for (i = 0; usage_kinds[i] != NULL && rv == 0; i++)
		if (kind == NULL || strcmp(kind, usage_kinds[i]) == 0)
			rv = kind_query(
			    st, a, usage_kinds[i], repo, since_ms, limit);
	if (rv != 0) {
		json_decref(a);
		return (rv);
	}
	/* the newest limit events of every kind asked */
	n = json_array_size(a);
	v = xcalloc(n + 1, sizeof(*v));
	json_array_foreach (a, i, e)
		v[i] = json_incref(e);
	qsort(v, n, sizeof(*v), newest_first);
	json_array_clear(a);
	for (i = 0; i < n; i++) {
		if ((int64_t) i < limit)
			json_array_append(a, v[i]);
		json_decref(v[i]);
	}
	free(v);
	*out = json_pack("{s:o, s:I}", "events", a, "total",
	    (json_int_t) json_array_size(a));
	return (0);
}
