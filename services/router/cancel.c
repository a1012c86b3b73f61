/*
 * cancel.c - a task cancelled on the board stops costing anything.
 *
 * board-sync journals task.updated for every move, a human's on Plane
 * included; the router acts on a move to Cancelled, in the handler's
 * transaction:
 *
 *   rtask queued or dispatched   cancelled: never dispatched again
 *   rrun dispatched or started   superseded, exec.superseded (reason
 *                                cancelled, no next run): its grants
 *                                stop, so its worker stops at the lease
 *   anything else of the task    exec.cancel: an executor drops its
 *                                queued pull request (exec.pr.dropped)
 *
 * A task moved back to Ready for AI later is a new task.ready, routed
 * afresh.  What a run taken back reports afterwards counts for nothing
 * (on_finished: not dispatched or started any more).
 */
#include <string.h>

#include "opc/log.h"
#include "opc/store.h"
#include "opc/util.h"
#include "router_int.h"

#define CANCEL_RUNS_MAX 64

int
router_cancel(struct svc *svc, const char *task_id, const char *reason)
{
	struct store_stmt         *st;
	struct msg_exec_superseded ev;
	struct msg_exec_cancel     c;
	char                      *run[CANCEL_RUNS_MAX], *ex[CANCEL_RUNS_MAX];
	int64_t                    known = 0;
	size_t                     n     = 0, i;
	int                        rv;

	(void) store_int(svc_store(svc), &known, 0,
	    "SELECT count(*) FROM rtask WHERE task_id = ?", "t", task_id);
	if (known == 0)
		return (0); /* never routed here */
	if ((rv = store_run(svc_store(svc),
	         "UPDATE rtask SET state = 'cancelled', last_reason ="
	         " 'cancelled' WHERE task_id = ? AND state IN ('queued',"
	         " 'dispatched')",
	         "t", task_id)) != 0)
		return (rv);
	if ((rv = store_prep(svc_store(svc), &st,
	         "SELECT run_id, executor FROM rrun WHERE task_id = ? AND"
	         " state IN ('dispatched', 'started')")) != 0)
		return (rv);
	store_bind_text(st, 1, task_id);
	while (n < CANCEL_RUNS_MAX && store_step(st) == 1) {
		run[n]  = xstrdup(store_col_text(st, 0));
		ex[n++] = xstrdup(store_col_text(st, 1));
	}
	store_done(st);
	for (i = 0; i < n && rv == 0; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.run_id   = run[i];
		ev.task_id  = (char *) task_id;
		ev.executor = ex[i];
		ev.reason   = "cancelled";
		if ((rv = store_run(svc_store(svc),
		         "UPDATE rrun SET state = 'superseded' WHERE run_id = "
		         "?",
		         "t", run[i])) == 0)
			rv = svc_emit(svc, MSG_EXEC_SUPERSEDED, task_id, &ev);
		if (rv == 0)
			log_info("router.cancel",
			    "%s: cancelled on the board: run %s on %s "
			    "taken back",
			    task_id, run[i], ex[i]);
	}
	for (i = 0; i < n; i++) {
		free(run[i]);
		free(ex[i]);
	}
	if (rv != 0)
		return (rv);
	memset(&c, 0, sizeof(c));
	c.task_id = (char *) task_id;
	c.reason =
	    (char *) (reason != NULL ? reason : "cancelled on the board");
	if ((rv = svc_emit(svc, MSG_EXEC_CANCEL, task_id, &c)) == 0)
		svc_count(svc, "cancelled", 1);
	return (rv);
}
