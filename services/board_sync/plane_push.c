/*
 * plane_push.c - what board-sync pushes to Plane: the outbox (state
 * changes and comments), the answers to questions (a human reply
 * re-queues the task) and work items created from proposals.
 *
 * Every push is idempotent, so a crash or a lost answer between sending
 * and recording never duplicates anything: a state change is a PATCH
 * (same result when repeated); a comment carries the external id
 * "op:<db id>:<outbox id>" (unique in the project: a repeated post meets
 * 409) and, for readers, the marker <!-- opcenter:op:<instance>:<id> -->;
 * a work item carries the candidate id as its external id (a campaign
 * step's: "campaign:<campaign>:<k>", with its goal's item as parent).  An
 * entry costs a PATCH and a POST: no comment list is read to look for it.
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

#define MAX_PUSHING 8 /* outbox entries in flight */

struct op {
	struct bplane *bp;
	int64_t        id;
	char          *task_id, *state, *comment, *marker;
};

static void
op_free(struct op *o, bool failed)
{
	char key[128];

	snprintf(key, sizeof(key), "op:%s", o->task_id);
	if (failed)
		plane_later(o->bp, key);
	else
		plane_forget(o->bp, key);
	if (o->bp->pushing != NULL)
		json_object_del(o->bp->pushing, o->task_id);
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

/* op_drop gives up an entry Plane will never take (its work item is
 * gone, or it refuses the comment): logged and counted, never retried
 * forever in front of the task's later entries. */
static void
op_drop(struct op *o, int status, const char *what)
{
	log_error("plane.outbox_dropped",
	    "%s: outbox %lld (%s): HTTP %d from "
	    "Plane: dropped",
	    o->task_id, (long long) o->id, what, status);
	svc_count(o->bp->svc, "plane_outbox_dropped", 1);
	op_done(o);
}

static void
on_op_comment(
    struct plane *pl, int status, json_t *body, const char *err, void *arg)
{
	struct op *o = arg;

	(void) pl;
	(void) body;
	/* 409: the external id is taken: posted before a crash or a lost
	 * answer, so done */
	if (plane_ok(status) || status == 409) {
		op_done(o);
		op_free(o, false);
	} else if (status == 404 || status == 400) {
		op_drop(o, status, "comment");
		op_free(o, false);
	} else {
		plane_note_error(o->bp, status, "post comment", err);
		op_free(o, true);
	}
}

static void
post_comment(struct op *o)
{
	json_t *req;
	char   *path, *html, *full, *eid;

	html = plane_comment_html(o->comment);
	full = xasprintf("%s%s", html, o->marker);
	eid  = xasprintf("op:%s:%lld", o->bp->db_id, (long long) o->id);
	req  = json_pack("{s:s, s:s, s:s}", "comment_html", full,
	     "external_source", "opcenter", "external_id", eid);
	path = xasprintf("work-items/%s/comments/", o->task_id);
	plane_call(
	    o->bp->pl, PLANE_FINISH, "POST", path, req, on_op_comment, o);
	free(path);
	free(html);
	free(full);
	free(eid);
	json_decref(req);
}

static void
on_op_state(
    struct plane *pl, int status, json_t *body, const char *err, void *arg)
{
	struct op *o = arg;

	(void) pl;
	(void) body;
	if (status == 404) {
		op_drop(o, status, o->state);
		op_free(o, false);
		return;
	}
	if (!plane_ok(status)) {
		plane_note_error(o->bp, status, "transition", err);
		if (status == 400)
			o->bp->next_meta = 0; /* the state changed? */
		op_free(o, true);
		return;
	}
	if (o->comment == NULL) {
		op_done(o);
		op_free(o, false);
		return;
	}
	post_comment(o);
}

/* plane_push_outbox sends the oldest pending entry of each task (a task's
 * entries go in order) that is not on its way or waiting after a
 * failure.  A move to a state the project lacks waits until it exists:
 * a state's name is never sent for its id (Plane answers 400). */
void
plane_push_outbox(struct bplane *bp)
{
	struct store_stmt *st;
	struct op         *o;
	json_t            *req, *rows = json_array(), *r;
	char               day[16], *path, key[128];
	const char        *sid;
	size_t             i;

	if (json_object_size(bp->pushing) >= MAX_PUSHING ||
	    store_prep(svc_store(bp->svc), &st,
	        "SELECT o.id, o.task_id, o.state, o.comment FROM outbox o"
	        " WHERE o.done = 0 AND o.id = (SELECT min(id) FROM outbox"
	        " WHERE task_id = o.task_id AND done = 0)"
	        " ORDER BY o.id LIMIT 64") != 0) {
		json_decref(rows);
		return;
	}
	while (store_step(st) == 1)
		json_array_append_new(rows,
		    json_pack("[I, s, s?, s?]",
		        (json_int_t) store_col_int(st, 0),
		        store_col_text(st, 1), store_col_text(st, 2),
		        store_col_text(st, 3)));
	store_done(st);
	iso8601(now_ms(), day, sizeof(day));
	day[10] = '\0'; /* YYYY-MM-DD */
	json_array_foreach (rows, i, r) {
		const char *tid   = json_string_value(json_array_get(r, 1));
		const char *state = json_string_value(json_array_get(r, 2));

		snprintf(key, sizeof(key), "op:%s", tid);
		if (json_object_size(bp->pushing) >= MAX_PUSHING)
			break;
		if (json_object_get(bp->pushing, tid) != NULL ||
		    !plane_due(bp, key))
			continue;
		sid = state ? plane_state_id(bp, state) : NULL;
		if (state != NULL && sid == NULL) {
			svc_count(bp->svc, "plane_outbox_held", 1);
			continue; /* reported by the states check */
		}
		o          = xcalloc(1, sizeof(*o));
		o->bp      = bp;
		o->id      = json_integer_value(json_array_get(r, 0));
		o->task_id = xstrdup(tid);
		o->state   = state ? xstrdup(state) : NULL;
		o->comment = json_string_value(json_array_get(r, 3))
		    ? xstrdup(json_string_value(json_array_get(r, 3)))
		    : NULL;
		o->marker  = xasprintf("<!-- opcenter:op:%s:%lld -->",
		     svc_name(bp->svc), (long long) o->id);
		json_object_set_new(bp->pushing, tid, json_true());
		if (o->state == NULL) {
			if (o->comment != NULL)
				post_comment(o);
			else {
				op_done(o);
				op_free(o, false);
			}
			continue;
		}
		/* Running sets start_date, the end states target_date */
		req = json_pack("{s:s}", "state", sid);
		if (strcmp(o->state, "Running") == 0)
			json_object_set_new(
			    req, "start_date", json_string(day));
		else if (strcmp(o->state, "Done") == 0 ||
		    strcmp(o->state, "Blocked") == 0 ||
		    strcmp(o->state, "Review") == 0 ||
		    strcmp(o->state, "In Review") == 0)
			json_object_set_new(
			    req, "target_date", json_string(day));
		path = xasprintf("work-items/%s/", o->task_id);
		plane_call(
		    bp->pl, PLANE_FINISH, "PATCH", path, req, on_op_state, o);
		free(path);
		json_decref(req);
	}
	json_decref(rows);
}

/* ----------------------------------------------------------- priority */

struct prio {
	struct bplane *bp;
	char          *task_id, *priority;
};

/* on_prio: the PATCH took (the row is done unless a newer priority came
 * meanwhile), or the work item is gone (dropped), or it is retried. */
static void
on_prio(struct plane *pl, int status, json_t *body, const char *err, void *arg)
{
	struct prio *r = arg;
	char         key[128];

	(void) pl;
	(void) body;
	snprintf(key, sizeof(key), "prio:%s", r->task_id);
	if (plane_ok(status) || status == 404 || status == 400) {
		if (!plane_ok(status)) {
			log_error("plane.priority_dropped",
			    "%s: priority %s: HTTP %d from Plane: dropped",
			    r->task_id, r->priority, status);
			svc_count(r->bp->svc, "plane_priority_dropped", 1);
		}
		(void) store_run(svc_store(r->bp->svc),
		    "UPDATE priority_push SET done = 1 WHERE task_id = ? AND"
		    " priority = ?",
		    "tt", r->task_id, r->priority);
		plane_forget(r->bp, key);
	} else {
		plane_note_error(r->bp, status, "set priority", err);
		plane_later(r->bp, key);
	}
	json_object_del(r->bp->pushing, key);
	free(r->task_id);
	free(r->priority);
	free(r);
}

/* plane_push_priority PATCHes each rescored priority onto its work item
 * (a PATCH: the same result when repeated). */
void
plane_push_priority(struct bplane *bp)
{
	struct store_stmt *st;
	struct prio       *r;
	json_t            *req;
	char              *path, key[128];

	if (json_object_size(bp->pushing) >= MAX_PUSHING ||
	    store_prep(svc_store(bp->svc), &st,
	        "SELECT task_id, priority FROM priority_push WHERE done = 0"
	        " ORDER BY task_id LIMIT 16") != 0)
		return;
	while (store_step(st) == 1 &&
	    json_object_size(bp->pushing) < MAX_PUSHING) {
		snprintf(key, sizeof(key), "prio:%s", store_col_text(st, 0));
		if (json_object_get(bp->pushing, key) != NULL ||
		    !plane_due(bp, key))
			continue;
		r           = xcalloc(1, sizeof(*r));
		r->bp       = bp;
		r->task_id  = store_col_dup(st, 0);
		r->priority = store_col_dup(st, 1);
		json_object_set_new(bp->pushing, key, json_true());
		req  = json_pack("{s:s}", "priority", r->priority);
		path = xasprintf("work-items/%s/", r->task_id);
		plane_call(
		    bp->pl, PLANE_FINISH, "PATCH", path, req, on_prio, r);
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

/* ask_end: the last of this round's question reads ends the round. */
static void
ask_end(struct ask *a)
{
	if (--a->bp->answers_left == 0)
		a->bp->answers_busy = false;
	free(a->task_id);
	free(a);
}

/* on_ask_comments: a comment without an opcenter marker, newer (as an
 * instant) than our last comment, is the human's answer: record it and
 * re-queue the task. */
static void
on_ask_comments(
    struct plane *pl, int status, json_t *body, const char *err, void *arg)
{
	struct ask *a   = arg;
	struct svc *svc = a->bp->svc;
	struct task t;
	json_t     *c;
	const char *answer = NULL, *h;
	char       *text;
	int64_t     at, ours = INT64_MIN, best = INT64_MIN;
	size_t      i;

	(void) pl;
	if (status == 404) { /* the work item is gone: nobody will answer */
		(void) store_run(svc_store(svc),
		    "DELETE FROM question WHERE task_id = ?", "t", a->task_id);
		goto out;
	}
	if (!plane_ok(status)) {
		plane_note_error(a->bp, status, "question comments", err);
		goto out;
	}
	json_array_foreach (body, i, c) { /* newest opcenter comment */
		h = json_string_value(json_object_get(c, "comment_html"));
		if (h != NULL && strstr(h, "<!-- opcenter:") &&
		    plane_time(
		        json_string_value(json_object_get(c, "created_at")),
		        &at) == 0 &&
		    at > ours)
			ours = at;
	}
	json_array_foreach (body, i, c) { /* the newest answer after it */
		h = json_string_value(json_object_get(c, "comment_html"));
		if (h != NULL && ours != INT64_MIN &&
		    strstr(h, "<!-- opcenter:") == NULL &&
		    plane_time(
		        json_string_value(json_object_get(c, "created_at")),
		        &at) == 0 &&
		    at > ours && at > best) {
			answer = h;
			best   = at;
		}
	}
	if (answer == NULL)
		goto out;
	text = plane_text(answer);
	if (svc_begin(svc) == 0) {
		if (board_task_get(svc, a->task_id, &t) == 0 &&
		    store_run(svc_store(svc),
		        "UPDATE question SET answer = ? WHERE task_id = ?",
		        "tt", text, a->task_id) == 0 &&
		    board_move(svc, &t, BOARD_READY, "answered",
		        "Answer received: the task is queued again.",
		        "board-sync") == 0)
			(void) svc_commit(svc);
		else
			(void) svc_rollback(svc);
		log_info(
		    "plane.answer", "%s: answered, re-queued", a->task_id);
		board_task_fini(&t);
	}
	free(text);
out:
	ask_end(a);
}

/* plane_check_answers looks for replies to the questions asked (once their
 * comment reached Plane): all of them every answer_poll, sooner after a
 * comment webhook. */
void
plane_check_answers(struct bplane *bp)
{
	struct store_stmt *st;
	struct ask        *a;
	char              *path;

	bp->answers_now  = false;
	bp->next_answers = mono_ms() + bp->answers_ms;
	if (store_prep(svc_store(bp->svc), &st,
	        "SELECT q.task_id FROM question q WHERE q.answer IS NULL AND"
	        " NOT EXISTS (SELECT 1 FROM outbox o WHERE o.task_id ="
	        " q.task_id AND o.done = 0) LIMIT 20") != 0)
		return;
	bp->answers_busy = true;
	bp->answers_left = 1; /* held until every read is queued */
	while (store_step(st) == 1) {
		a          = xcalloc(1, sizeof(*a));
		a->bp      = bp;
		a->task_id = xstrdup(store_col_text(st, 0));
		bp->answers_left++;
		path = xasprintf("work-items/%s/comments/", a->task_id);
		plane_list(
		    bp->pl, PLANE_READ, path, 0, NULL, on_ask_comments, a);
		free(path);
	}
	store_done(st);
	if (--bp->answers_left == 0)
		bp->answers_busy = false;
}

/* ------------------------------------------------------------ creates */

struct create {
	struct bplane *bp;
	char          *candidate_id, *title;
};

static void
create_end(struct bplane *bp)
{
	if (--bp->proposals_left == 0)
		bp->proposals_busy = false;
}

/* on_created records the work item made for a proposal.  201 carries it;
 * 409 (the external id is taken: we created it before a crash or a lost
 * answer) carries the existing id.  Either way exactly one item exists. */
static void
on_created(
    struct plane *pl, int status, json_t *body, const char *err, void *arg)
{
	struct create *c   = arg;
	struct svc    *svc = c->bp->svc;
	const char    *id  = json_string_value(json_object_get(body, "id"));

	(void) pl;
	if ((status == 201 || status == 409) && id != NULL) {
		struct msg_task_created ev = { (char *) id, c->title,
			"proposer", NULL, c->candidate_id };

		/* a campaign's step (campaign.c) */
		if (strncmp(c->candidate_id, "campaign:", 9) == 0)
			ev.source = "campaign";
		if (svc_begin(svc) == 0) {
			if (store_run(svc_store(svc),
			        "UPDATE proposal SET work_item = ? WHERE"
			        " candidate_id = ?",
			        "tt", id, c->candidate_id) == 0 &&
			    svc_emit(svc, MSG_TASK_CREATED, id, &ev) == 0 &&
			    board_campaign_step_made(
			        svc, c->candidate_id, id) == 0)
				(void) svc_commit(svc);
			else
				(void) svc_rollback(svc);
		}
		log_info("plane.created", "proposal %s -> work item %s%s",
		    c->candidate_id, id, status == 409 ? " (existed)" : "");
	} else {
		plane_note_error(c->bp, status, "create work item", err);
		plane_later(c->bp, "proposals");
	}
	create_end(c->bp);
	free(c->candidate_id);
	free(c->title);
	free(c);
}

static void
on_label_made(
    struct plane *pl, int status, json_t *body, const char *err, void *arg)
{
	struct bplane *bp = arg;

	(void) pl;
	(void) body;
	/* 409: made meanwhile; either way the labels are listed again */
	if (!plane_ok(status) && status != 409) {
		plane_note_error(bp, status, "create label", err);
		plane_later(bp, "proposals");
	}
	bp->next_meta = 0;
	create_end(bp);
}

/* plane_create_proposals creates a work item per new proposal: missing labels
 * first (the item waits for the labels to be listed again), then the
 * item with external_source "opcenter" and external_id = the candidate
 * id, in the state the proposal names (Plane's default state when the
 * project lacks it). */
void
plane_create_proposals(struct bplane *bp)
{
	struct store_stmt *st;
	struct create     *c;
	json_t            *labels, *ids, *req, *l;
	const char        *sid, *lid;
	char              *lo, *html, *text;
	size_t             i;
	bool               missing;

	if (bp->meta_busy || !plane_due(bp, "proposals") ||
	    store_prep(svc_store(bp->svc), &st,
	        "SELECT candidate_id, title, goal, repo, labels, state,"
	        " provenance, priority, parent FROM proposal WHERE work_item"
	        " IS NULL"
	        " ORDER BY received_ms LIMIT 20") != 0)
		return;
	bp->proposals_busy = true;
	bp->proposals_left = 1; /* held until every request is queued */
	while (store_step(st) == 1) {
		labels  = json_loads(store_col_text(st, 4), 0, NULL);
		ids     = json_array();
		missing = false;
		json_array_foreach (labels, i, l) {
			lo  = plane_lower(json_string_value(l));
			lid = json_string_value(
			    json_object_get(bp->label_id, lo));
			if (lid != NULL)
				json_array_append_new(ids, json_string(lid));
			else {
				req = json_pack(
				    "{s:s}", "name", json_string_value(l));
				bp->proposals_left++;
				plane_call(bp->pl, PLANE_CLAIM, "POST",
				    "labels/", req, on_label_made, bp);
				json_decref(req);
				missing = true;
			}
			free(lo);
		}
		sid = plane_state_id(bp, store_col_text(st, 5));
		if (!missing) {
			c               = xcalloc(1, sizeof(*c));
			c->bp           = bp;
			c->candidate_id = xstrdup(store_col_text(st, 0));
			c->title        = xstrdup(store_col_text(st, 1));
			/* the provenance section (the parser stops at its
			 * heading), else the two lines it replaced */
			text = store_col_text(st, 6) != NULL
			    ? xasprintf("%s\n\n%s", store_col_text(st, 2),
			          store_col_text(st, 6))
			    : xasprintf("%s\n\n- source: proposer\n- "
			                "candidate_id: %s",
			          store_col_text(st, 2), c->candidate_id);
			html = plane_comment_html(text);
			req  = json_pack("{s:s, s:s, s:O, s:s, s:s}", "name",
			     c->title, "description_html", html, "labels", ids,
			     "external_source", "opcenter", "external_id",
			     c->candidate_id);
			if (sid != NULL)
				json_object_set_new(
				    req, "state", json_string(sid));
			if (store_col_text(st, 7) != NULL)
				json_object_set_new(req, "priority",
				    json_string(store_col_text(st, 7)));
			/* a campaign step: a child of its goal's item */
			if (store_col_text(st, 8) != NULL)
				json_object_set_new(req, "parent",
				    json_string(store_col_text(st, 8)));
			bp->proposals_left++;
			plane_call(bp->pl, PLANE_CLAIM, "POST", "work-items/",
			    req, on_created, c);
			json_decref(req);
			free(html);
			free(text);
		}
		json_decref(ids);
		json_decref(labels);
	}
	store_done(st);
	create_end(bp);
}
