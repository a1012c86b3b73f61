/*
 * board_plane.c - board-sync's Plane mode (see board_int.h).
 *
 * One cycle, run by the effect loop every poll_interval (sooner when a
 * webhook asks, later under backoff): check the credentials (first cycle
 * and after a 401/403), read states, labels and every page of work items,
 * mirror them, claim the ones in "Ready for AI", then push the outbox.
 * Requests go one at a time through plane.c, so the steps of a claim or
 * an outbox entry never interleave.
 *
 * Claiming (Plane has no compare-and-set): post a claim comment carrying a
 * nonce, re-read the work item (still Ready for AI?) and its comments; the
 * earliest claim comment wins.  Every board-sync instance sees the same
 * comments, so exactly one of two racing instances goes on to move the
 * item to Running and journal task.ready.  Claims older than our latest
 * outbox comment belong to an earlier episode (the item ran, and was put
 * back to Ready) and do not count.
 *
 * The outbox makes pushes idempotent: a state change is a PATCH (same
 * result when repeated); a comment carries the marker
 * <!-- opcenter:op:<instance>:<id> --> and is posted only when no comment
 * with that marker exists yet, so a crash between the POST and recording
 * it never duplicates the comment.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "board.h"
#include "board_int.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/store.h"
#include "opc/util.h"
#include "plane.h"

#define BACKOFF_MAX_MS 300000

struct bplane {
	struct svc   *svc;
	struct plane *pl;
	int64_t       poll_ms;
	int64_t       next_poll; /* mono ms */
	int64_t       backoff_ms;
	int64_t       consecutive_errors;
	int64_t       cycles;
	bool          cycling, refresh, failed, auth_ok, cred_reported;
	char          last_error[256];
	json_t       *state_id;   /* lowercase name -> id */
	json_t       *state_name; /* id -> name */
	json_t       *label_name; /* id -> name */
	json_t       *label_id;   /* lowercase name -> id */
};

/* --------------------------------------------------------------- errors */

static void
cycle_error(struct bplane *bp, int status, const char *what, const char *err)
{
	struct msg_credential_invalid ev;

	bp->failed = true;
	snprintf(bp->last_error, sizeof(bp->last_error), "%s: %s", what,
	    err ? err : "error");
	if (status == 401 || status == 403) {
		bp->auth_ok = false;
		if (!bp->cred_reported) {
			memset(&ev, 0, sizeof(ev));
			ev.provider = "plane";
			ev.status_code = status;
			ev.message = bp->last_error;
			(void) svc_emit(bp->svc, MSG_CREDENTIAL_INVALID, NULL,
			    &ev);
			bp->cred_reported = true;
			log_error("plane.credential", "Plane refused the API key "
			    "(HTTP %d): running degraded", status);
		}
		return;
	}
	log_warn("plane.error", "%s", bp->last_error);
}

static void
cycle_end(struct bplane *bp)
{
	if (plane_busy(bp->pl) > 0 || !bp->cycling)
		return;
	bp->cycling = false;
	bp->cycles++;
	if (bp->failed) {
		bp->consecutive_errors++;
		bp->backoff_ms = bp->backoff_ms == 0 ? 1000 : bp->backoff_ms * 2;
		if (bp->backoff_ms > BACKOFF_MAX_MS)
			bp->backoff_ms = BACKOFF_MAX_MS;
		bp->next_poll = mono_ms() + bp->backoff_ms;
		log_warn("plane.backoff", "cycle failed (%lld in a row): next in "
		    "%lld ms", (long long) bp->consecutive_errors,
		    (long long) bp->backoff_ms);
		return;
	}
	if (bp->consecutive_errors > 0)
		log_info("plane.recovered", "Plane reachable again after %lld "
		    "failed cycles", (long long) bp->consecutive_errors);
	bp->consecutive_errors = 0;
	bp->backoff_ms = 0;
	bp->last_error[0] = '\0';
	bp->next_poll = mono_ms() + bp->poll_ms;
}

static bool
ok(int status)
{
	return (status / 100 == 2);
}

/* ---------------------------------------------------------- lookups */

static char *
lower(const char *s)
{
	char  *l = xstrdup(s ? s : "");
	size_t i;

	for (i = 0; l[i] != '\0'; i++)
		l[i] = (char) tolower((unsigned char) l[i]);
	return (l);
}

static const char *
state_of(struct bplane *bp, json_t *item)
{
	json_t *s = json_object_get(item, "state");

	if (json_is_object(s)) /* ?expand=state */
		return (json_string_value(json_object_get(s, "name")));
	return (json_string_value(json_object_get(bp->state_name,
	    json_string_value(s) ? json_string_value(s) : "")));
}

/* label_value returns the value of a "prefix: value" label, or NULL. */
static const char *
label_value(json_t *names, const char *prefix)
{
	size_t      i, n = strlen(prefix);
	const char *l;

	for (i = 0; i < json_array_size(names); i++) {
		l = json_string_value(json_array_get(names, i));
		if (l != NULL && strncasecmp(l, prefix, n) == 0 && l[n] == ':') {
			l += n + 1;
			while (*l == ' ')
				l++;
			return (l);
		}
	}
	return (NULL);
}

static json_t *
label_names(struct bplane *bp, json_t *item)
{
	json_t     *out = json_array(), *l;
	const char *name;
	size_t      i;

	json_array_foreach(json_object_get(item, "labels"), i, l) {
		name = json_is_object(l)
		    ? json_string_value(json_object_get(l, "name"))
		    : json_string_value(json_object_get(bp->label_name,
		          json_string_value(l) ? json_string_value(l) : ""));
		if (name != NULL)
			json_array_append_new(out, json_string(name));
	}
	return (out);
}

static void
on_states(struct plane *pl, int status, json_t *body, const char *err,
    void *arg)
{
	struct bplane *bp = arg;
	json_t        *s;
	size_t         i;
	char          *l;

	(void) pl;
	if (!ok(status)) {
		cycle_error(bp, status, "list states", err);
	} else {
		json_object_clear(bp->state_id);
		json_object_clear(bp->state_name);
		json_array_foreach(body, i, s) {
			const char *id = json_string_value(json_object_get(s,
			    "id"));
			const char *nm = json_string_value(json_object_get(s,
			    "name"));

			if (id == NULL || nm == NULL)
				continue;
			l = lower(nm);
			json_object_set_new(bp->state_id, l, json_string(id));
			json_object_set_new(bp->state_name, id, json_string(nm));
			free(l);
		}
	}
	cycle_end(bp);
}

static void
on_labels(struct plane *pl, int status, json_t *body, const char *err,
    void *arg)
{
	struct bplane *bp = arg;
	json_t        *s;
	size_t         i;

	(void) pl;
	if (!ok(status))
		cycle_error(bp, status, "list labels", err);
	else
		json_array_foreach(body, i, s) {
			const char *id = json_string_value(json_object_get(s,
			    "id"));
			const char *nm = json_string_value(json_object_get(s,
			    "name"));

			char       *l;

			if (id == NULL || nm == NULL)
				continue;
			json_object_set_new(bp->label_name, id,
			    json_string(nm));
			l = lower(nm);
			json_object_set_new(bp->label_id, l, json_string(id));
			free(l);
		}
	cycle_end(bp);
}

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

static void
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
		o->state = store_col_text(st, 2) ? xstrdup(store_col_text(st, 2))
		                                 : NULL;
		o->comment = store_col_text(st, 3)
		    ? xstrdup(store_col_text(st, 3))
		    : NULL;
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

/* --------------------------------------------------------------- claim */

struct claim {
	struct bplane *bp;
	char          *task_id, *nonce, *marker;
	bool           abort;
};

static void
claim_free(struct claim *c)
{
	free(c->task_id);
	free(c->nonce);
	free(c->marker);
	free(c);
}

static void
on_claim_patched(struct plane *pl, int status, json_t *body, const char *err,
    void *arg)
{
	struct claim *c = arg;
	struct svc   *svc = c->bp->svc;
	struct task   t;

	(void) pl;
	(void) body;
	if (!ok(status)) {
		cycle_error(c->bp, status, "claim transition", err);
		cycle_end(c->bp);
		claim_free(c);
		return;
	}
	if (svc_begin(svc) == 0) {
		if (task_get(svc, c->task_id, &t) == 0 &&
		    store_run(svc_store(svc),
		        "INSERT OR REPLACE INTO claim(task_id, nonce, active,"
		        " at_ms) VALUES (?, ?, 1, ?)",
		        "tti", c->task_id, c->nonce, now_ms()) == 0 &&
		    store_run(svc_store(svc),
		        "UPDATE task SET state = 'Running' WHERE task_id = ?",
		        "t", c->task_id) == 0) {
			struct msg_task_updated ev = { t.task_id, "Running",
				BOARD_READY, "claimed", NULL };

			free(t.state);
			t.state = xstrdup("Running");
			if (svc_emit(svc, MSG_TASK_UPDATED, t.task_id, &ev) ==
			        0 &&
			    ready(svc, &t) == 0)
				(void) svc_commit(svc);
			else
				(void) svc_rollback(svc);
			log_info("plane.claim", "%s claimed (%s)", t.task_id,
			    t.title);
		} else
			(void) svc_rollback(svc);
		task_fini(&t);
	}
	cycle_end(c->bp);
	claim_free(c);
}

static void
on_claim_comments(struct plane *pl, int status, json_t *body, const char *err,
    void *arg)
{
	struct claim *c = arg;
	json_t       *cm, *req;
	const char   *best = NULL, *best_at = NULL, *h, *at, *sid;
	const char   *episode = NULL;
	char         *path, *l, day[16];
	size_t        i;

	if (!ok(status) || c->abort) {
		if (!ok(status))
			cycle_error(c->bp, status, "claim comments", err);
		cycle_end(c->bp);
		claim_free(c);
		return;
	}
	/* Claims of an earlier episode (before our last outbox comment,
	 * e.g. the result of the previous run) no longer count. */
	json_array_foreach(body, i, cm) {
		h = json_string_value(json_object_get(cm, "comment_html"));
		at = json_string_value(json_object_get(cm, "created_at"));
		if (h != NULL && at != NULL && strstr(h, "<!-- opcenter:op:") &&
		    (episode == NULL || strcmp(at, episode) > 0))
			episode = at;
	}
	/* the earliest claim comment of this episode wins */
	json_array_foreach(body, i, cm) {
		h = json_string_value(json_object_get(cm, "comment_html"));
		at = json_string_value(json_object_get(cm, "created_at"));
		if (h == NULL || strstr(h, "<!-- opcenter:claim:") == NULL ||
		    (episode != NULL && at != NULL && strcmp(at, episode) <= 0))
			continue;
		if (best == NULL || (at && best_at && strcmp(at, best_at) < 0)) {
			best = h;
			best_at = at;
		}
	}
	if (best == NULL || strstr(best, c->marker) == NULL) {
		log_info("plane.claim_lost", "%s: claimed by another instance",
		    c->task_id);
		svc_count(c->bp->svc, "claims_lost", 1);
		cycle_end(c->bp);
		claim_free(c);
		return;
	}
	l = lower("Running");
	sid = json_string_value(json_object_get(c->bp->state_id, l));
	free(l);
	iso8601(now_ms(), day, sizeof(day));
	day[10] = '\0';
	req = json_pack("{s:s, s:s}", "state", sid ? sid : "Running",
	    "start_date", day);
	path = xasprintf("work-items/%s/", c->task_id);
	plane_call(pl, "PATCH", path, req, on_claim_patched, c);
	free(path);
	json_decref(req);
}

static void
on_claim_item(struct plane *pl, int status, json_t *body, const char *err,
    void *arg)
{
	struct claim *c = arg;
	const char   *st;

	(void) pl;
	if (!ok(status)) {
		cycle_error(c->bp, status, "claim re-read", err);
		c->abort = true;
		return;
	}
	st = state_of(c->bp, body);
	if (st == NULL || strcasecmp(st, BOARD_READY) != 0) {
		log_info("plane.claim_moved", "%s: no longer Ready for AI (%s)",
		    c->task_id, st ? st : "?");
		c->abort = true;
	}
}

static void
on_claim_posted(struct plane *pl, int status, json_t *body, const char *err,
    void *arg)
{
	struct claim *c = arg;

	(void) pl;
	(void) body;
	if (!ok(status)) {
		cycle_error(c->bp, status, "claim comment", err);
		c->abort = true;
	}
}

static void
claim(struct bplane *bp, const char *task_id)
{
	struct claim *c = xcalloc(1, sizeof(*c));
	json_t       *req;
	char          nonce[37], *html, *path;

	c->bp = bp;
	c->task_id = xstrdup(task_id);
	c->nonce = xstrdup(uuid4(nonce));
	c->marker = xasprintf("<!-- opcenter:claim:%s:%s -->",
	    svc_name(bp->svc), nonce);
	html = xasprintf("<p>Claimed by opcenter (%s)</p>%s", svc_name(bp->svc),
	    c->marker);
	req = json_pack("{s:s}", "comment_html", html);
	path = xasprintf("work-items/%s/comments/", task_id);
	plane_call(bp->pl, "POST", path, req, on_claim_posted, c);
	free(path);
	path = xasprintf("work-items/%s/", task_id);
	plane_call(bp->pl, "GET", path, NULL, on_claim_item, c);
	free(path);
	path = xasprintf("work-items/%s/comments/", task_id);
	plane_list(bp->pl, path, on_claim_comments, c);
	free(path);
	free(html);
	json_decref(req);
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
static void
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
static void
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

/* ---------------------------------------------------------------- items */

/* mirror upserts one work item; returns its state name (borrowed). */
static const char *
mirror(struct bplane *bp, json_t *item, bool *candidate)
{
	struct svc *svc = bp->svc;
	json_t     *names = label_names(bp, item), *ex = NULL;
	const char *id = json_string_value(json_object_get(item, "id"));
	const char *name = json_string_value(json_object_get(item, "name"));
	const char *st = state_of(bp, item), *repo, *kind, *d;
	char       *desc, *labels, *goal, err[128];
	int64_t     pending = 0, active = 0, now = now_ms();

	*candidate = false;
	repo = label_value(names, "repo");
	kind = label_value(names, "task-kind");
	if (id == NULL || st == NULL || repo == NULL) {
		json_decref(names); /* not a task for us */
		return (NULL);
	}
	d = json_string_value(json_object_get(item, "description_stripped"));
	desc = d ? xstrdup(d)
	         : plane_text(json_string_value(json_object_get(item,
	               "description_html")));
	goal = board_parse_description(desc, NULL, &ex, err, sizeof(err)) == 0
	    ? xstrdup(json_string_value(json_object_get(ex, "goal")))
	    : xstrdup(name ? name : "");
	json_decref(ex);
	labels = json_dumps(names, JSON_COMPACT);
	(void) store_int(svc_store(svc), &pending, 0,
	    "SELECT count(*) FROM outbox WHERE task_id = ? AND done = 0", "t",
	    id);
	(void) store_int(svc_store(svc), &active, 0,
	    "SELECT count(*) FROM claim WHERE task_id = ? AND active = 1", "t",
	    id);
	/* Plane's state wins unless our own change is still on its way */
	(void) store_run(svc_store(svc),
	    "INSERT INTO task(task_id, title, goal, repo_key, kind, labels,"
	    " description, state, created_at, updated_at)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	    " ON CONFLICT(task_id) DO UPDATE SET title = excluded.title,"
	    " goal = excluded.goal, repo_key = excluded.repo_key,"
	    " kind = excluded.kind, labels = excluded.labels,"
	    " description = excluded.description,"
	    " state = CASE WHEN ? > 0 THEN task.state ELSE excluded.state END",
	    "ttttttttiii", id, name ? name : "", goal, repo,
	    kind ? kind : "goal", labels, desc, st, now, now, pending);
	if (strcasecmp(st, BOARD_READY) == 0) {
		/* a human put it back to Ready: our old claim is over */
		if (active > 0 && pending == 0)
			(void) store_run(svc_store(svc),
			    "UPDATE claim SET active = 0 WHERE task_id = ?",
			    "t", id);
		*candidate = pending == 0;
	}
	free(desc);
	free(goal);
	free(labels);
	json_decref(names);
	return (st);
}

static void
on_items(struct plane *pl, int status, json_t *body, const char *err,
    void *arg)
{
	struct bplane *bp = arg;
	json_t        *it;
	size_t         i;
	bool           cand;

	(void) pl;
	if (!ok(status)) {
		cycle_error(bp, status, "list work items", err);
		cycle_end(bp);
		return;
	}
	json_array_foreach(body, i, it) {
		if (mirror(bp, it, &cand) != NULL && cand)
			claim(bp, json_string_value(json_object_get(it, "id")));
	}
	push_outbox(bp);
	check_answers(bp);
	create_proposals(bp);
	cycle_end(bp);
}

static void
on_me(struct plane *pl, int status, json_t *body, const char *err, void *arg)
{
	struct bplane *bp = arg;

	(void) pl;
	(void) body;
	if (!ok(status)) {
		cycle_error(bp, status, "credential check", err);
	} else {
		if (!bp->auth_ok)
			log_info("plane.credential", "Plane API key accepted");
		bp->auth_ok = true;
		bp->cred_reported = false;
	}
	cycle_end(bp);
}

/* --------------------------------------------------------------- public */

void
board_plane_cycle(struct svc *svc, struct board *b)
{
	struct bplane *bp = b->plane;

	(void) svc;
	if (bp->cycling || (!bp->refresh && mono_ms() < bp->next_poll))
		return;
	bp->refresh = false;
	bp->cycling = true;
	bp->failed = false;
	if (!bp->auth_ok)
		plane_call(bp->pl, "GET", "/api/v1/users/me/", NULL, on_me, bp);
	plane_list(bp->pl, "states/", on_states, bp);
	plane_list(bp->pl, "labels/", on_labels, bp);
	plane_list(bp->pl, "work-items/", on_items, bp);
}

void
board_plane_refresh(struct board *b)
{
	b->plane->refresh = true;
}

void
board_plane_status(struct svc *svc, struct board *b, json_t *obj)
{
	struct bplane *bp = b->plane;
	int64_t        pending = 0;

	if (bp == NULL)
		return;
	(void) store_int(svc_store(svc), &pending, 0,
	    "SELECT count(*) FROM outbox WHERE done = 0", NULL);
	json_object_set_new(obj, "plane",
	    json_pack("{s:b, s:I, s:I, s:I, s:s, s:s}", "auth_ok",
	        bp->auth_ok, "consecutive_errors",
	        (json_int_t) bp->consecutive_errors, "cycles",
	        (json_int_t) bp->cycles, "outbox_pending", (json_int_t) pending,
	        "state", bp->auth_ok && bp->consecutive_errors == 0
	            ? "ok"
	            : (bp->auth_ok ? "backoff" : "degraded"),
	        "last_error", bp->last_error));
}

int
board_plane_init(struct svc *svc, struct board *b)
{
	const struct cfg_node *pc = cfg_get(svc_cfg_root(svc), "plane");
	struct plane_cfg       c;
	struct bplane         *bp;
	const char            *tok_env = NULL;
	char                   err[256];
	int64_t                per_page = 100;

	memset(&c, 0, sizeof(c));
	if (cfg_get_str(pc, "base_url", NULL, &c.base_url, err, sizeof(err)) !=
	        0 ||
	    cfg_get_str(pc, "workspace_slug", NULL, &c.workspace, err,
	        sizeof(err)) != 0 ||
	    cfg_get_str(pc, "project_id", NULL, &c.project, err,
	        sizeof(err)) != 0 ||
	    cfg_get_str(pc, "api_token_env", NULL, &tok_env, err,
	        sizeof(err)) != 0 ||
	    cfg_get_int(pc, "per_page", 100, &per_page, err, sizeof(err)) != 0) {
		log_error("board.config", "%s", err);
		return (ERR_CONFIG);
	}
	if (c.base_url == NULL || c.workspace == NULL || c.project == NULL ||
	    tok_env == NULL) {
		log_error("board.config", "board: plane needs plane.base_url, "
		    "plane.workspace_slug, plane.project_id and "
		    "plane.api_token_env");
		return (ERR_CONFIG);
	}
	c.token = cfg_secret(pc, "api_token_env");
	if (c.token == NULL)
		log_warn("board.config", "$%s is not set: Plane will refuse us",
		    tok_env);
	c.per_page = per_page;
	bp = xcalloc(1, sizeof(*bp));
	bp->svc = svc;
	if (cfg_get_ms(svc_cfg(svc), "poll_interval", 30000, &bp->poll_ms, err,
	        sizeof(err)) != 0) {
		log_error("board.config", "%s", err);
		free(bp);
		return (ERR_CONFIG);
	}
	if (plane_open(&bp->pl, svc_loop(svc), &c) != 0) {
		free(bp);
		return (ERR_IO);
	}
	bp->state_id = json_object();
	bp->state_name = json_object();
	bp->label_name = json_object();
	bp->label_id = json_object();
	b->plane = bp;
	log_info("board.plane", "Plane board %s/%s at %s, polling every %lld "
	    "ms", c.workspace, c.project, c.base_url, (long long) bp->poll_ms);
	return (0);
}

void
board_plane_fini(struct svc *svc, struct board *b)
{
	struct bplane *bp = b->plane;

	(void) svc;
	if (bp == NULL)
		return;
	plane_close(&bp->pl);
	json_decref(bp->state_id);
	json_decref(bp->state_name);
	json_decref(bp->label_name);
	json_decref(bp->label_id);
	free(bp);
	b->plane = NULL;
}
