/*
 * usage.c - the usage store: what was executed, how it ended, what it cost.
 *
 * The original kept this as a JSON event log (execution/usage_store.py);
 * here it is three tables in the recorder's db, written only by handlers
 * (state, no files), each keyed so that applying the same event twice
 * changes nothing:
 *   usage_exec     one row per dispatched run: estimated cost, outcome
 *                  (success, failure category, quota flag), duration;
 *   usage_quality  result.quality_warnings, one row per (run, pattern);
 *   usage_scope    result.scope_violations, one row per (run, path).
 * The spend report keeps the original's shape: window_days,
 * total_executions, total_estimated_usd, per_repo{executions,
 * estimated_usd}, amounts rounded to 6 decimals.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "opc/err.h"
#include "opc/store.h"
#include "opc/util.h"
#include "recorder.h"

#define DAY_MS (86400LL * 1000)

int
usage_init(struct store *st)
{
	return (store_exec(
	    st,
	    "CREATE TABLE IF NOT EXISTS usage_exec ("
	    " run_id TEXT PRIMARY KEY, task_id TEXT, repo_key TEXT,"
	    " lane TEXT, backend TEXT, dispatched_ms INTEGER NOT NULL,"
	    " estimated_usd REAL NOT NULL DEFAULT 0, finished INTEGER NOT NULL"
	    " DEFAULT 0, status TEXT, success INTEGER, failure_category TEXT,"
	    " quota INTEGER NOT NULL DEFAULT 0, duration_ms INTEGER,"
	    " finished_ms INTEGER);"
	    "CREATE INDEX IF NOT EXISTS usage_exec_ts"
	    " ON usage_exec(dispatched_ms);"
	    "CREATE TABLE IF NOT EXISTS usage_quality ("
	    " run_id TEXT NOT NULL, task_id TEXT, pattern TEXT NOT NULL,"
	    " count INTEGER NOT NULL, ts_ms INTEGER NOT NULL,"
	    " PRIMARY KEY (run_id, pattern));"
	    "CREATE TABLE IF NOT EXISTS usage_scope ("
	    " run_id TEXT NOT NULL, task_id TEXT, path TEXT NOT NULL,"
	    " ts_ms INTEGER NOT NULL, PRIMARY KEY (run_id, path));"));
}

int
usage_dispatched(struct store *st, const char *run_id, const char *task_id,
                 const char *repo_key, const char *lane, const char *backend,
                 int64_t ts_ms, double cost_usd)
{
	/* The cost is fixed when the row is born: a replayed dispatch after
	 * a config change does not reprice history. */
	return (store_run(
	    st,
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

/* contains_ci: needle (lowercase) occurs in s, ignoring case. */
static bool
contains_ci(const char *s, const char *needle)
{
	size_t i, n = strlen(needle);

	for (; s != NULL && *s != '\0'; s++) {
		for (i = 0; i < n && s[i] != '\0' &&
		            tolower((unsigned char) s[i]) == needle[i];
		     i++)
			;
		if (i == n)
			return (true);
	}
	return (false);
}

static bool
is_quota(const char *category, const char *reason)
{
	return (contains_ci(category, "quota") ||
	        contains_ci(category, "rate_limit") ||
	        contains_ci(reason, "quota") ||
	        contains_ci(reason, "rate limit"));
}

int
usage_finished(struct store *st, const char *run_id, const char *task_id,
               const char *status, bool success, const char *failure_category,
               const json_t *result, int64_t duration_ms, int64_t ts_ms,
               double cost_usd)
{
	const char *reason =
	    json_string_value(json_object_get(result, "failure_reason"));
	const char *k;
	json_t     *v, *cnt;
	size_t      i;
	char        dur[32];
	int         rv;

	/* INTEGER affinity stores the text as a number; NULL when unknown. */
	snprintf(dur, sizeof(dur), "%lld", (long long) duration_ms);
	/* exec.finished may be applied before its exec.dispatch (two
	 * upstreams): the row is born here then, at the finish time. */
	if ((rv = store_run(
	         st,
	         "INSERT INTO usage_exec(run_id, task_id, dispatched_ms,"
	         " estimated_usd, finished, status, success, failure_category,"
	         " quota, duration_ms, finished_ms)"
	         " VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)"
	         " ON CONFLICT(run_id) DO UPDATE SET finished = 1,"
	         " task_id = coalesce(usage_exec.task_id, excluded.task_id),"
	         " status = excluded.status, success = excluded.success,"
	         " failure_category = excluded.failure_category,"
	         " quota = excluded.quota, duration_ms = excluded.duration_ms,"
	         " finished_ms = excluded.finished_ms"
	         " WHERE usage_exec.finished = 0",
	         "ttidtititi", run_id, task_id, ts_ms, cost_usd, status,
	         (int64_t) success, failure_category,
	         (int64_t) is_quota(failure_category, reason),
	         duration_ms >= 0 ? dur : NULL, ts_ms)) != 0)
		return (rv);
	v = json_object_get(result, "quality_warnings");
	if (json_is_object(v)) {
		json_object_foreach(v, k, cnt)
		{
			if ((rv = store_run(
			         st,
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
		json_array_foreach(v, i, cnt)
		{
			if (!json_is_string(cnt))
				continue;
			if ((rv = store_run(
			         st,
			         "INSERT OR IGNORE INTO usage_quality(run_id,"
			         " task_id, pattern, count, ts_ms)"
			         " VALUES (?, ?, ?, 1, ?)",
			         "ttti", run_id, task_id,
			         json_string_value(cnt), ts_ms)) != 0)
				return (rv);
		}
	}
	json_array_foreach(json_object_get(result, "scope_violations"), i, v)
	{
		const char *path =
		    json_is_string(v)
		        ? json_string_value(v)
		        : json_string_value(json_object_get(v, "path"));

		if (path == NULL)
			continue;
		if ((rv = store_run(
		         st,
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
usage_spend(struct store *st, json_t **out, int64_t window_days, int64_t now_ms)
{
	struct store_stmt *s = NULL;
	json_t            *per = json_object();
	int64_t            total = 0;
	double             usd = 0;
	int                rv;

	*out = NULL;
	if ((rv = store_prep(
	         st, &s,
	         "SELECT coalesce(repo_key, 'unknown'), count(*),"
	         " total(estimated_usd) FROM usage_exec"
	         " WHERE dispatched_ms >= ? GROUP BY 1 ORDER BY 1")) != 0 ||
	    (rv = store_bind_int(s, 1, now_ms - window_days * DAY_MS)) != 0)
		goto fail;
	while ((rv = store_step(s)) == 1) {
		int64_t n = store_col_int(s, 1);
		double  d = store_col_double(s, 2);

		total += n;
		usd += d;
		json_object_set_new(per, store_col_text(s, 0),
		                    json_pack("{s:I, s:f}", "executions",
		                              (json_int_t) n, "estimated_usd",
		                              round6(d)));
	}
	if (rv != 0)
		goto fail;
	*out = json_pack("{s:I, s:I, s:f, s:o}", "window_days",
	                 (json_int_t) window_days, "total_executions",
	                 (json_int_t) total, "total_estimated_usd", round6(usd),
	                 "per_repo", per);
	return (0);

fail:
	if (s != NULL)
		store_done(s);
	json_decref(per);
	return (rv);
}

void
usage_counts(struct store *st, json_t *obj)
{
	int64_t n = 0, failed = 0, quota = 0;

	(void) store_int(st, &n, 0, "SELECT count(*) FROM usage_exec", NULL);
	(void) store_int(st, &failed, 0,
	                 "SELECT count(*) FROM usage_exec WHERE finished = 1"
	                 " AND success = 0",
	                 NULL);
	(void) store_int(st, &quota, 0,
	                 "SELECT count(*) FROM usage_exec WHERE quota = 1",
	                 NULL);
	json_object_set_new(obj, "executions", json_integer(n));
	json_object_set_new(obj, "executions_failed", json_integer(failed));
	json_object_set_new(obj, "executions_quota", json_integer(quota));
}
