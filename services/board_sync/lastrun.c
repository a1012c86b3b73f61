/*
 * lastrun.c - the latest outcome of each task's runs, as `opc task show`
 * prints it: the run, its status, its classification (the failure
 * category, policy_blocked, retry_cap_exceeded ...) and the reason in
 * people's words.
 *
 * Table lastrun(task_id, run_id, status, classification, reason, at_ms):
 * one row per task, replaced by each outcome board-sync applies (a run's
 * exec.finished, a policy's block, the router's retry cap), in the
 * handler's transaction.  Runs taken back or finishing late never get
 * here (board.c drops them first).
 */
#include <string.h>

#include "board_int.h"
#include "opc/log.h"
#include "opc/store.h"
#include "opc/util.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS lastrun("
    " task_id TEXT PRIMARY KEY, run_id TEXT, status TEXT NOT NULL,"
    " classification TEXT, reason TEXT, at_ms INTEGER NOT NULL);";

int
lastrun_init(struct svc *svc)
{
	return (store_exec(svc_store(svc), schema));
}

int
lastrun_note(struct svc *svc, const char *task_id, const char *run_id,
    const char *status, const char *classification, const char *reason)
{
	return (store_run(svc_store(svc),
	    "INSERT OR REPLACE INTO lastrun(task_id, run_id,"
	    " status, classification, reason, at_ms)"
	    " VALUES (?, ?, ?, ?, ?, ?)",
	    "ttttti", task_id, run_id, status, classification, reason,
	    now_ms()));
}

json_t *
lastrun_json(struct svc *svc, const char *task_id)
{
	struct store_stmt *st;
	json_t            *j = NULL;
	char               at[40];

	if (store_prep(svc_store(svc), &st,
	        "SELECT run_id, status, classification, reason, at_ms"
	        " FROM lastrun WHERE task_id = ?") != 0)
		return (NULL);
	store_bind_text(st, 1, task_id);
	if (store_step(st) == 1)
		j = json_pack("{s:s?, s:s, s:s?, s:s?, s:s}", "run_id",
		    store_col_text(st, 0), "status", store_col_text(st, 1),
		    "classification", store_col_text(st, 2), "reason",
		    store_col_text(st, 3), "at",
		    iso8601(store_col_int(st, 4), at, sizeof(at)));
	store_done(st);
	return (j);
}
