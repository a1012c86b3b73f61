/*
 * selfheal.c - board-sync's repeated-block guard (the original's
 * self-healing): a task whose runs end Blocked self_heal_blocks times in
 * a row (3) is paused for autonomous retries until an operator lifts the
 * pause (`opc task resume ID`).
 *
 * Table selfheal(task_id, blocks, classification, paused): one row per
 * task whose last run ended Blocked.
 *
 *   event                      blocks        paused  effect
 *   run Blocked                blocks + 1    -       at the threshold:
 *                                                    paused = 1, comment
 *                                                    "[Improve] Repeated-
 *                                                    block self-healing
 *                                                    triggered", event
 *                                                    self_healing.repeated_block
 *   run succeeded              row deleted   0       -
 *   board_ready() while paused       unchanged     1       the task goes back
 * to Blocked, no task.ready board.task_resume          row deleted   0 comment
 *
 * A run taken back or interrupted is no outcome and changes nothing.
 * Everything happens in the caller's transaction (the handler's, or the
 * ctl's own).
 */
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "board_int.h"
#include "conf.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/store.h"
#include "opc/util.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS selfheal("
    " task_id TEXT PRIMARY KEY, blocks INTEGER NOT NULL,"
    " classification TEXT, paused INTEGER NOT NULL DEFAULT 0,"
    " updated_ms INTEGER NOT NULL);";

int
selfheal_init(struct svc *svc)
{
	return (store_exec(svc_store(svc), schema));
}

static int64_t
threshold(struct svc *svc)
{
	char    err[256];
	int64_t n = 3;

	if (cfg_tab_int(board_sync_keys, svc_cfg(svc), "self_heal_blocks", &n,
	        err, sizeof(err)) != 0)
		log_warn("board.config", "%s", err);
	return (n);
}

int
selfheal_outcome(struct svc *svc, const struct task *t, bool blocked,
    const char *classification)
{
	struct msg_self_healing_repeated_block ev;
	struct store                          *st     = svc_store(svc);
	int64_t                                blocks = 0, paused = 0, max;
	char                                  *c;
	int                                    rv;

	if (!blocked)
		return (store_run(st, "DELETE FROM selfheal WHERE task_id = ?",
		    "t", t->task_id));
	if ((rv = store_run(st,
	         "INSERT INTO selfheal(task_id, blocks, classification,"
	         " updated_ms) VALUES (?, 1, ?, ?) ON CONFLICT(task_id) DO"
	         " UPDATE SET blocks = blocks + 1, classification ="
	         " excluded.classification, updated_ms = excluded.updated_ms",
	         "tti", t->task_id, classification, now_ms())) != 0 ||
	    (rv = store_int(st, &blocks, 0,
	         "SELECT blocks FROM selfheal WHERE task_id = ?", "t",
	         t->task_id)) != 0 ||
	    (rv = store_int(st, &paused, 0,
	         "SELECT paused FROM selfheal WHERE task_id = ?", "t",
	         t->task_id)) != 0)
		return (rv);
	max = threshold(svc);
	if (blocks < max || paused)
		return (0);
	if ((rv = store_run(st,
	         "UPDATE selfheal SET paused = 1 WHERE task_id = ?", "t",
	         t->task_id)) != 0)
		return (rv);
	c  = xasprintf("[Improve] Repeated-block self-healing triggered\n"
	                "- consecutive_blocks: %lld\n- classification: %s\n"
	                "- autonomous retries of this task are paused: it needs "
	                "human review\n- `opc task resume %s` lifts the pause",
	     (long long) blocks, classification ? classification : "unknown",
	     t->task_id);
	rv = board_comment_post(svc, t->task_id, "board-sync", c);
	free(c);
	if (rv != 0)
		return (rv);
	memset(&ev, 0, sizeof(ev));
	ev.task_id            = t->task_id;
	ev.consecutive_blocks = blocks;
	ev.classification     = (char *) classification;
	ev.paused             = true;
	if ((rv = svc_emit(
	         svc, MSG_SELF_HEALING_REPEATED_BLOCK, t->task_id, &ev)) != 0)
		return (rv);
	svc_count(svc, "self_healing_repeated_block", 1);
	log_warn("self_healing_repeated_block",
	    "task_id=%s consecutive_blocks=%lld classification=%s: autonomous "
	    "retries paused",
	    t->task_id, (long long) blocks,
	    classification ? classification : "unknown");
	return (0);
}

int
selfheal_paused(struct svc *svc, const char *task_id, int64_t *blocks)
{
	int64_t paused = 0;

	*blocks = 0;
	(void) store_int(svc_store(svc), &paused, 0,
	    "SELECT paused FROM selfheal WHERE task_id = ?", "t", task_id);
	(void) store_int(svc_store(svc), blocks, 0,
	    "SELECT blocks FROM selfheal WHERE task_id = ?", "t", task_id);
	return (paused != 0);
}

int
selfheal_hold(struct svc *svc, struct task *t, int64_t blocks)
{
	char *c;
	int   rv;

	c  = xasprintf("Blocked: self_healing_paused\n- reason: %lld "
	                "consecutive Blocked runs paused this task's autonomous "
	                "retries\n- `opc task resume %s` lifts the pause",
	     (long long) blocks, t->task_id);
	rv = board_move(
	    svc, t, "Blocked", "self_healing_paused", c, "board-sync");
	free(c);
	svc_count(svc, "self_healing_held", 1);
	return (rv);
}

json_t *
selfheal_json(struct svc *svc, const char *task_id)
{
	struct store_stmt *st;
	json_t            *j = NULL;

	if (store_prep(svc_store(svc), &st,
	        "SELECT blocks, classification, paused FROM selfheal WHERE"
	        " task_id = ?") != 0)
		return (NULL);
	store_bind_text(st, 1, task_id);
	if (store_step(st) == 1)
		j = json_pack("{s:I, s:s?, s:b}", "consecutive_blocks",
		    (json_int_t) store_col_int(st, 0), "classification",
		    store_col_text(st, 1), "paused",
		    store_col_int(st, 2) != 0);
	store_done(st);
	return (j);
}

void
selfheal_status(struct svc *svc, json_t *obj)
{
	struct store_stmt *st;
	json_t            *ids = json_array();

	if (store_prep(svc_store(svc), &st,
	        "SELECT task_id FROM selfheal WHERE paused = 1"
	        " ORDER BY updated_ms, task_id") == 0) {
		while (store_step(st) == 1)
			json_array_append_new(
			    ids, json_string(store_col_text(st, 0)));
		store_done(st);
	}
	json_object_set_new(obj, "self_heal_paused", ids);
}

int
selfheal_ctl_resume(struct svc *svc, const struct msg *req, json_t **data,
    char *err, size_t errlen, void *state)
{
	const char *id = req->body.board_task_resume.task_id;
	struct task t;
	int64_t     blocks;
	bool        was;
	char       *c;
	int         rv;

	(void) state;
	if ((rv = board_task_get(svc, id, &t)) != 0) {
		snprintf(err, errlen, "no task '%s'", id);
		return (rv);
	}
	was = selfheal_paused(svc, id, &blocks);
	if ((rv = svc_begin(svc)) != 0)
		goto out;
	rv = store_run(
	    svc_store(svc), "DELETE FROM selfheal WHERE task_id = ?", "t", id);
	if (rv == 0 && was) {
		c  = xasprintf("[Improve] Self-healing pause lifted by the "
		                "operator after %lld consecutive Blocked runs: "
		                "the task may be retried",
		     (long long) blocks);
		rv = board_comment_post(svc, t.task_id, "board-sync", c);
		free(c);
	}
	if (rv == 0)
		rv = svc_commit(svc);
	else
		svc_rollback(svc);
	if (rv == 0) {
		log_info("self_healing_resumed", "task_id=%s was_paused=%s",
		    id, was ? "true" : "false");
		*data = json_pack("{s:s, s:s, s:b}", "task_id", t.task_id,
		    "state", t.state, "was_paused", was);
	}
out:
	board_task_fini(&t);
	return (rv);
}
