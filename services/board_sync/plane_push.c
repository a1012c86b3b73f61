/*
 * plane_push.c - what board-sync pushes to Plane: the outbox (state
 * changes and comments, idempotent through comment markers), the answers
 * to questions (a human reply re-queues the task) and work items created
 * from proposals (external_id makes a retry meet 409, never a duplicate).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "board.h"
#include "board_int.h"
#include "board_plane.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/store.h"
#include "opc/util.h"
#include "plane.h"

/* -------------------------------------------------------------- outbox */

struct op {
	struct bplane *bp;
	int64_t        id;
	char          *task_id, *state, *comment, *marker;
};

static void
op_free(struct op *o)
{
	free(o->task_id);
	free(o->state);
	free(o->comment);
	free(o->marker);
	free(o);
}

static void
op_done(struct op *o)
{
	(void) store_run(svc_store(o->bp->svc),
	    "UPDATE outbox SET done = 1 WHERE id = ?", "i", o->id);
}

static void
on_op_comment(struct plane *pl, int status, json_t *body, const char *err,
    void *arg)
{
	struct op *o = arg;

	(void) pl;
	(void) body;
	if (!ok(status))
		cycle_error(o->bp, status, "post comment", err);
	else
		op_done(o);
	cycle_end(o->bp);
	op_free(o);
}

static void
on_op_comments(struct plane *pl, int status, json_t *body, const char *err,
    void *arg)
{
	struct op *o = arg;
	json_t    *c, *req;
	char      *path, *html, *full;
	size_t     i;
	bool       seen = false;

	if (!ok(status)) {
		cycle_error(o->bp, status, "list comments", err);
		cycle_end(o->bp);
		op_free(o);
		return;
	}
	json_array_foreach(body, i, c) {
		const char *h = json_string_value(json_object_get(c,
		    "comment_html"));

		if (h != NULL && strstr(h, o->marker) != NULL)
			seen = true;
	}
	if (seen) { /* posted before a crash: do not post it twice */
		op_done(o);
		cycle_end(o->bp);
		op_free(o);
		return;
	}
	html = plane_comment_html(o->comment);
	full = xasprintf("%s%s", html, o->marker);
	req = json_pack("{s:s}", "comment_html", full);
	path = xasprintf("work-items/%s/comments/", o->task_id);
	plane_call(pl, "POST", path, req, on_op_comment, o);
	free(path);
	free(html);
	free(full);
	json_decref(req);
}

static void
on_op_state(struct plane *pl, int status, json_t *body, const char *err,
    void *arg)
{
	struct op *o = arg;
	char      *path;

	(void) body;
	if (!ok(status)) {
		cycle_error(o->bp, status, "transition", err);
		cycle_end(o->bp);
		op_free(o);
		return;
	}
	if (o->comment == NULL) {
		op_done(o);
		cycle_end(o->bp);
		op_free(o);
		return;
	}
	path = xasprintf("work-items/%s/comments/", o->task_id);
	plane_list(pl, path, on_op_comments, o);
	free(path);
}

void
push_outbox(struct bplane *bp)
{
	struct store_stmt *st;
	struct op         *o;
	json_t            *req;
	char               day[16], *path, *l;
	const char        *sid;
	int64_t            now = now_ms();

	if (store_prep(svc_store(bp->svc), &st,
	        "SELECT id, task_id, state, comment FROM outbox WHERE done = 0"
	        " ORDER BY id LIMIT 50") != 0)
		return;
	iso8601(now, day, sizeof(day));
	day[10] = '\0'; /* YYYY-MM-DD */
	while (store_step(st) == 1) {
		o = xcalloc(1, sizeof(*o));
		o->bp = bp;
		o->id = store_col_int(st, 0);
		o->task_id = xstrdup(store_col_text(st, 1));
		o->state = store_col_dup(st, 2);
		o->comment = store_col_dup(st, 3);
		o->marker = xasprintf("<!-- opcenter:op:%s:%lld -->",
		    svc_name(bp->svc), (long long) o->id);
		if (o->state == NULL) {
			on_op_state(bp->pl, 200, NULL, NULL, o);
			continue;
		}
		l = lower(o->state);
		sid = json_string_value(json_object_get(bp->state_id, l));
		free(l);
		/* Running sets start_date, the end states target_date */
		req = json_pack("{s:s}", "state", sid ? sid : o->state);
		if (strcmp(o->state, "Running") == 0)
			json_object_set_new(req, "start_date", json_string(day));
		else if (strcmp(o->state, "Done") == 0 ||
		    strcmp(o->state, "Blocked") == 0 ||
		    strcmp(o->state, "Review") == 0 ||
		    strcmp(o->state, "In Review") == 0)
			json_object_set_new(req, "target_date",
			    json_string(day));
		path = xasprintf("work-items/%s/", o->task_id);
		plane_call(bp->pl, "PATCH", path, req, on_op_state, o);
		free(path);
		json_decref(req);
	}
	store_done(st);
}

/* ------------------------------------------------------------ answers */

struct ask {
	struct bplane *bp;
	char          *task_id;
};

/* on_ask_comments: a comment without an opcenter marker, newer than our
 * last comment, is the human's answer: record it and re-queue the task. */
static void
on_ask_comments(struct plane *pl, int status, json_t *body, const char *err,
    void *arg)
{
	struct ask  *a = arg;
	struct svc  *svc = a->bp->svc;
	struct task  t;
	json_t      *c;
	const char  *ours = NULL, *answer = NULL, *h, *at;
	char        *text;
	size_t       i;

	(void) pl;
	if (!ok(status)) {
		cycle_error(a->bp, status, "question comments", err);
		goto out;
	}
	json_array_foreach(body, i, c) { /* newest opcenter comment */
		h = json_string_value(json_object_get(c, "comment_html"));
		at = json_string_value(json_object_get(c, "created_at"));
		if (h != NULL && at != NULL && strstr(h, "<!-- opcenter:") &&
		    (ours == NULL || strcmp(at, ours) > 0))
			ours = at;
	}
	json_array_foreach(body, i, c) {
		h = json_string_value(json_object_get(c, "comment_html"));
		at = json_string_value(json_object_get(c, "created_at"));
		if (h != NULL && at != NULL && ours != NULL &&
		    strstr(h, "<!-- opcenter:") == NULL && strcmp(at, ours) > 0)
			answer = h;
	}
	if (answer == NULL)
		goto out;
	text = plane_text(answer);
	if (svc_begin(svc) == 0) {
		if (task_get(svc, a->task_id, &t) == 0 &&
		    store_run(svc_store(svc),
		        "UPDATE question SET answer = ? WHERE task_id = ?", "tt",
		        text, a->task_id) == 0 &&
		    move(svc, &t, BOARD_READY, "answered",
		        "Answer received: the task is queued again.",
		        "board-sync") == 0)
			(void) svc_commit(svc);
		else
			(void) svc_rollback(svc);
		log_info("plane.answer", "%s: answered, re-queued", a->task_id);
		task_fini(&t);
	}
	free(text);
out:
	cycle_end(a->bp);
	free(a->task_id);
	free(a);
}

/* check_answers looks for replies to the questions asked (once their
 * comment reached Plane). */
void
check_answers(struct bplane *bp)
{
	struct store_stmt *st;
	struct ask        *a;
	char              *path;

	if (store_prep(svc_store(bp->svc), &st,
	        "SELECT q.task_id FROM question q WHERE q.answer IS NULL AND"
	        " NOT EXISTS (SELECT 1 FROM outbox o WHERE o.task_id ="
	        " q.task_id AND o.done = 0) LIMIT 20") != 0)
		return;
	while (store_step(st) == 1) {
		a = xcalloc(1, sizeof(*a));
		a->bp = bp;
		a->task_id = xstrdup(store_col_text(st, 0));
		path = xasprintf("work-items/%s/comments/", a->task_id);
		plane_list(bp->pl, path, on_ask_comments, a);
		free(path);
	}
	store_done(st);
}

/* ------------------------------------------------------------ creates */

struct create {
	struct bplane *bp;
	char          *candidate_id, *title;
};

/* on_created records the work item made for a proposal.  201 carries it;
 * 409 (the external id is taken: we created it before a crash or a lost
 * answer) carries the existing id.  Either way exactly one item exists. */
static void
on_created(struct plane *pl, int status, json_t *body, const char *err,
    void *arg)
{
	struct create *c = arg;
	struct svc    *svc = c->bp->svc;
	const char    *id = json_string_value(json_object_get(body, "id"));

	(void) pl;
	if ((status == 201 || status == 409) && id != NULL) {
		struct msg_task_created ev = { (char *) id, c->title,
			"proposer", NULL, c->candidate_id };

		if (svc_begin(svc) == 0) {
			if (store_run(svc_store(svc),
			        "UPDATE proposal SET work_item = ? WHERE"
			        " candidate_id = ?",
			        "tt", id, c->candidate_id) == 0 &&
			    svc_emit(svc, MSG_TASK_CREATED, id, &ev) == 0)
				(void) svc_commit(svc);
			else
				(void) svc_rollback(svc);
		}
		log_info("plane.created", "proposal %s -> work item %s%s",
		    c->candidate_id, id, status == 409 ? " (existed)" : "");
	} else
		cycle_error(c->bp, status, "create work item", err);
	cycle_end(c->bp);
	free(c->candidate_id);
	free(c->title);
	free(c);
}

static void
on_label_made(struct plane *pl, int status, json_t *body, const char *err,
    void *arg)
{
	struct bplane *bp = arg;

	(void) pl;
	(void) body;
	if (!ok(status))
		cycle_error(bp, status, "create label", err);
	cycle_end(bp);
}

/* create_proposals creates a work item per new proposal: missing labels
 * first (the item waits for the next cycle), then the item with
 * external_source "opcenter" and external_id = the candidate id. */
void
create_proposals(struct bplane *bp)
{
	struct store_stmt *st;
	struct create     *c;
	json_t            *labels, *ids, *req, *l;
	const char        *sid, *lid;
	char              *lo, *html, *text;
	size_t             i;
	bool               missing;

	if (store_prep(svc_store(bp->svc), &st,
	        "SELECT candidate_id, title, goal, repo, labels, state FROM"
	        " proposal WHERE work_item IS NULL ORDER BY received_ms"
	        " LIMIT 20") != 0)
		return;
	while (store_step(st) == 1) {
		labels = json_loads(store_col_text(st, 4), 0, NULL);
		ids = json_array();
		missing = false;
		json_array_foreach(labels, i, l) {
			lo = lower(json_string_value(l));
			lid = json_string_value(json_object_get(bp->label_id,
			    lo));
			if (lid != NULL)
				json_array_append_new(ids, json_string(lid));
			else {
				req = json_pack("{s:s}", "name",
				    json_string_value(l));
				plane_call(bp->pl, "POST", "labels/", req,
				    on_label_made, bp);
				json_decref(req);
				missing = true;
			}
			free(lo);
		}
		lo = lower(store_col_text(st, 5));
		sid = json_string_value(json_object_get(bp->state_id, lo));
		free(lo);
		if (!missing) {
			c = xcalloc(1, sizeof(*c));
			c->bp = bp;
			c->candidate_id = xstrdup(store_col_text(st, 0));
			c->title = xstrdup(store_col_text(st, 1));
			text = xasprintf("%s\n\n- source: proposer\n- "
			                 "candidate_id: %s",
			    store_col_text(st, 2), c->candidate_id);
			html = plane_comment_html(text);
			req = json_pack("{s:s, s:s, s:O, s:s, s:s}", "name",
			    c->title, "description_html", html, "labels", ids,
			    "external_source", "opcenter", "external_id",
			    c->candidate_id);
			if (sid != NULL)
				json_object_set_new(req, "state",
				    json_string(sid));
			plane_call(bp->pl, "POST", "work-items/", req,
			    on_created, c);
			json_decref(req);
			free(html);
			free(text);
		}
		json_decref(ids);
		json_decref(labels);
	}
	store_done(st);
}

