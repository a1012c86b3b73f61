/*
 * ingest.c - board-sync's half of error ingest: each ingest.error the
 * webhook journals (one per new fingerprint and window, see
 * services/webhook/ingest.c) becomes one improve task.
 *
 * The task: title "[Runtime] <message's first line, 120 bytes>" (the
 * original's), kind improve, labels "task-kind: improve", "source:
 * error-ingest", "repo: <repo>", "error-fingerprint: <fingerprint>", the
 * state ingest_state (Backlog), and a goal that carries the service,
 * message, fingerprint and stack.  Its request id "ingest:<dedup
 * key>@<first_seen>" makes a replayed event answer with the task it made.
 * In Plane mode the work item is queued like a proposal's (the proposal
 * table, created by the effect loop with the request id as its external
 * id).  Either way error_ingest.task_created is journaled in the same
 * transaction.
 */
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "board_int.h"
#include "conf.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/store.h"
#include "opc/util.h"

#define TITLE_MSG_MAX 120

static char *
title_of(const char *message)
{
	size_t n = strcspn(message, "\r\n");

	if (n > TITLE_MSG_MAX)
		n = TITLE_MSG_MAX;
	/* never cut a UTF-8 sequence in two */
	while (n > 0 && n < strlen(message) &&
	    ((unsigned char) message[n] & 0xC0) == 0x80)
		n--;
	return (xasprintf("[Runtime] %.*s", (int) n, message));
}

static char *
goal_of(const struct msg_ingest_error *e)
{
	struct buf b;

	buf_init(&b);
	buf_printf(&b,
	    "Fix the runtime error that %s reports in %s.\n\n"
	    "Error: %s\n\nFingerprint: %s\n",
	    e->service ? e->service : "a service", e->repo,
	    e->message ? e->message : "(no message)", e->fingerprint);
	if (e->stack != NULL && *e->stack != '\0')
		buf_printf(&b, "\nStack:\n```\n%s\n```\n", e->stack);
	return (buf_cstr(&b)); /* the caller frees it: the buffer's data */
}

int
board_on_ingest(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_ingest_error       *e = &m->body.ingest_error;
	struct board                        *b = state;
	struct msg_board_task_add            a;
	struct msg_error_ingest_task_created ev;
	json_t                              *data = NULL, *labels;
	const char                          *st   = "Backlog";
	char   err[256]                           = "", *title, *goal, *rid;
	char  *ls, *tid = NULL;
	size_t i;
	int    rv;

	(void) cfg_tab_str(board_sync_keys, svc_cfg(svc), "ingest_state", &st,
	    err, sizeof(err));
	memset(&a, 0, sizeof(a));
	if ((a.state = board_state(st)) == MSG_TASK_STATE__UNSET) {
		log_warn("board.ingest",
		    "ingest_state '%s' is not a state:"
		    " Backlog",
		    st);
		a.state = MSG_TASK_STATE_BACKLOG;
	}
	title = title_of(e->message ? e->message : e->fingerprint);
	goal  = goal_of(e);
	rid   = xasprintf(
	      "ingest:%s@%lld", e->dedup_key, (long long) e->first_seen);
	a.repo_key   = e->repo;
	a.goal       = goal;
	a.title      = title;
	a.kind       = "improve";
	a.request_id = rid;
	msg_strs_add(&a.labels, "task-kind: improve");
	msg_strs_add(&a.labels, "source: error-ingest");
	ls = xasprintf("repo: %s", e->repo);
	msg_strs_add(&a.labels, ls);
	free(ls);
	ls = xasprintf("error-fingerprint: %s", e->fingerprint);
	msg_strs_add(&a.labels, ls);
	free(ls);
	if (b->plane != NULL) {
		labels = json_array();
		for (i = 0; i < a.labels.n; i++)
			json_array_append_new(
			    labels, json_string(a.labels.v[i]));
		ls = json_dumps(labels, JSON_COMPACT);
		json_decref(labels);
		rv = store_run(svc_store(svc),
		    "INSERT OR IGNORE INTO proposal(candidate_id, title, goal,"
		    " repo, labels, state, received_ms) VALUES (?, ?, ?, ?, ?,"
		    " ?, ?)",
		    "tttttti", rid, title, goal, e->repo, ls,
		    msg_task_state_name(a.state), now_ms());
		free(ls);
	} else {
		rv = board_task_create(
		    svc, &a, "error-ingest", false, &data, err, sizeof(err));
		if (rv == 0)
			tid = xstrdup_null(json_string_value(
			    json_object_get(data, "task_id")));
	}
	if (rv == 0) {
		memset(&ev, 0, sizeof(ev));
		ev.dedup_key   = e->dedup_key;
		ev.task_id     = tid;
		ev.fingerprint = e->fingerprint;
		ev.repo        = e->repo;
		ev.service     = e->service;
		ev.title       = title;
		rv = svc_emit(svc, MSG_ERROR_INGEST_TASK_CREATED, tid, &ev);
	}
	if (rv == 0)
		log_info("board.error_ingest_task_created", "%s: %s (%s)",
		    e->dedup_key, tid ? tid : "queued for Plane", title);
	else
		log_warn("board.ingest", "%s: cannot make its task: %s",
		    e->dedup_key, err[0] ? err : err_str(rv));
	json_decref(data);
	msg_strs_fini(&a.labels);
	free(title);
	free(goal);
	free(rid);
	free(tid);
	return (rv);
}
