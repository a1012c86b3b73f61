/*
 * plane_claim.c - claiming Plane work items (see board_plane.h).
 *
 * Plane has no compare-and-set, so a claim is a comment: post a claim
 * comment carrying a nonce, read the item's comments, and the earliest
 * claim comment of the episode wins (plane_claim_view, by instant: Plane
 * renders each key's times in its owner's zone).  Every instance reads
 * the same comments, so of two racing instances exactly one moves the
 * item to Running and journals task.ready.
 *
 * A claim is remembered in plane_claim before its comment is posted, so
 * a failure (a 500, a 429 that outlasts the run, a restart) between
 * posting and moving never leaves an orphan: the owner resumes it at
 * the next tick or start, and the comment's external id
 * ("claim:<nonce>", unique in the project) makes a repeated post meet
 * 409 with the existing comment's id instead of a second comment.  A
 * claim that loses, whose item left Ready, or whose comment grew older
 * than claim_ttl/2 (a later claim by another instance could then
 * supersede it) is retracted: its comments are deleted.  So claim
 * comments never accumulate, and an orphan of an instance that never
 * comes back stops counting claim_ttl after a newer claim.
 *
 *   phase   | step                 | answer           | next
 *   --------+----------------------+------------------+------------------
 *   (none)  | candidate: POST      | 201, 409 (id)    | decide
 *   post    | POST again           | 404 (item gone)  | row dropped
 *           |                      | other            | post (later)
 *   decide  | GET comments         | ours wins, Ready | PATCH Running
 *           |                      | ours wins, Running | won (the PATCH
 *           |                      |   (state mirror) |  landed before)
 *           |                      | other wins, or the item left Ready,
 *           |                      |   or ours is old | retract
 *           | PATCH Running        | 2xx              | won: claim row
 *           |                      |                  | active, task
 *           |                      |                  | Running, task.ready
 *           |                      | 404              | row dropped
 *           |                      | other            | decide (later)
 *   retract | GET comments, DELETE | 204, 404         | row dropped
 *           |  each of ours        | other            | retract (later)
 */
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "board_int.h"
#include "board_plane.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/store.h"
#include "opc/util.h"
#include "plane.h"

#define OP_MARK "<!-- opcenter:op:"
#define CLAIM_MARK "<!-- opcenter:claim:"

/* ----------------------------------------------------------- decision */

/* marker_of copies "instance:nonce" of a claim comment's marker. */
static bool
marker_of(const char *html, char *out, size_t len)
{
	const char *m = strstr(html, CLAIM_MARK), *e;

	if (m == NULL)
		return (false);
	m += strlen(CLAIM_MARK);
	if ((e = strstr(m, " -->")) == NULL || (size_t) (e - m) >= len)
		return (false);
	memcpy(out, m, (size_t) (e - m));
	out[e - m] = '\0';
	return (true);
}

void
plane_claim_view(const json_t *comments, const char *instance, int64_t ttl_us,
    char **winner, json_t **ours, int *bad)
{
	json_t     *c;
	const char *h, *id;
	char        mk[256], best[256] = "";
	int64_t     t, episode = INT64_MIN, newest = INT64_MIN, best_t = 0;
	size_t      i, n = strlen(instance);

	*winner = NULL;
	*ours   = json_array();
	*bad    = 0;
	/* the episode: after the newest outbox comment of any instance */
	json_array_foreach (comments, i, c) {
		h = json_string_value(json_object_get(c, "comment_html"));
		if (h == NULL || strstr(h, OP_MARK) == NULL)
			continue;
		if (plane_time(
		        json_string_value(json_object_get(c, "created_at")),
		        &t) != 0) {
			(*bad)++;
			continue;
		}
		if (t > episode)
			episode = t;
	}
	json_array_foreach (comments, i, c) {
		h = json_string_value(json_object_get(c, "comment_html"));
		if (h == NULL || !marker_of(h, mk, sizeof(mk)))
			continue;
		if (plane_time(
		        json_string_value(json_object_get(c, "created_at")),
		        &t) != 0) {
			(*bad)++;
			continue;
		}
		if (t > episode && t > newest)
			newest = t;
	}
	json_array_foreach (comments, i, c) {
		h  = json_string_value(json_object_get(c, "comment_html"));
		id = json_string_value(json_object_get(c, "id"));
		if (h == NULL || !marker_of(h, mk, sizeof(mk)) ||
		    plane_time(
		        json_string_value(json_object_get(c, "created_at")),
		        &t) != 0 ||
		    t <= episode)
			continue;
		if (id != NULL && strncmp(mk, instance, n) == 0 &&
		    mk[n] == ':')
			json_array_append_new(*ours, json_string(id));
		if (t < newest - ttl_us) /* superseded */
			continue;
		if (best[0] == '\0' || t < best_t ||
		    (t == best_t && strcmp(mk, best) < 0)) {
			snprintf(best, sizeof(best), "%s", mk);
			best_t = t;
		}
	}
	if (best[0] != '\0')
		*winner = xstrdup(best);
}

/* -------------------------------------------------------------- claims */

struct claim {
	struct bplane *bp;
	char          *task_id, *nonce, *comment_id;
	json_t        *dels; /* retract: comment ids still to delete */
	bool           retract;
	bool           lost; /* to another claim: wait before the next */
};

static struct claim *
claim_new(struct bplane *bp, const char *task_id, const char *nonce,
    const char *comment_id)
{
	struct claim *c = xcalloc(1, sizeof(*c));

	c->bp         = bp;
	c->task_id    = xstrdup(task_id);
	c->nonce      = xstrdup(nonce);
	c->comment_id = comment_id ? xstrdup(comment_id) : NULL;
	json_object_set_new(bp->claiming, task_id, json_true());
	return (c);
}

/* claim_end forgets c; failed: try this item again later. */
static void
claim_end(struct claim *c, bool failed)
{
	char key[128];

	snprintf(key, sizeof(key), "claim:%s", c->task_id);
	if (failed)
		plane_later(c->bp, key);
	else
		plane_forget(c->bp, key);
	if (c->bp->claiming != NULL)
		json_object_del(c->bp->claiming, c->task_id);
	free(c->task_id);
	free(c->nonce);
	free(c->comment_id);
	json_decref(c->dels);
	free(c);
}

static void
set_phase(struct claim *c, const char *phase)
{
	(void) store_run(svc_store(c->bp->svc),
	    "UPDATE plane_claim SET phase = ?, comment_id = ?, updated_ms = ?"
	    " WHERE task_id = ?",
	    "ttit", phase, c->comment_id, now_ms(), c->task_id);
}

static void
drop(struct claim *c)
{
	(void) store_run(svc_store(c->bp->svc),
	    "DELETE FROM plane_claim WHERE task_id = ?", "t", c->task_id);
}

static void decide(struct claim *);
static void retract(struct claim *);

/* won: the item is ours and Running in Plane; in one transaction the
 * claim is active, the task Running, task.updated and task.ready (or a
 * Blocked move, for a description or kind it refuses) journaled. */
static void
won(struct claim *c)
{
	struct svc *svc = c->bp->svc;
	struct task t;

	if (svc_begin(svc) != 0)
		return;
	if (board_task_get(svc, c->task_id, &t) == 0 &&
	    store_run(svc_store(svc),
	        "INSERT OR REPLACE INTO claim(task_id, nonce, active, at_ms)"
	        " VALUES (?, ?, 1, ?)",
	        "tti", c->task_id, c->nonce, now_ms()) == 0 &&
	    store_run(svc_store(svc),
	        "DELETE FROM plane_claim WHERE task_id = ?", "t",
	        c->task_id) == 0 &&
	    store_run(svc_store(svc),
	        "UPDATE task SET state = 'Running' WHERE task_id = ?", "t",
	        c->task_id) == 0) {
		struct msg_task_updated ev = { .task_id = t.task_id,
			.state      = MSG_TASK_STATE_RUNNING,
			.prev_state = MSG_TASK_STATE_READY_FOR_AI,
			.reason     = "claimed" };

		free(t.state);
		t.state = xstrdup("Running");
		/* a campaign's step started: its campaign is in progress */
		if (svc_emit(svc, MSG_TASK_UPDATED, t.task_id, &ev) == 0 &&
		    board_ready(svc, &t) == 0 &&
		    board_campaign_moved(svc, &t) == 0) {
			(void) svc_commit(svc);
			log_info("plane.claim", "%s claimed (%s)", t.task_id,
			    t.title);
			svc_count(svc, "claims_won", 1);
		} else
			(void) svc_rollback(svc);
	} else
		(void) svc_rollback(svc);
	board_task_fini(&t);
}

static void
on_patched(
    struct plane *pl, int status, json_t *body, const char *err, void *arg)
{
	struct claim *c = arg;

	(void) pl;
	(void) body;
	if (status == 404) {
		drop(c); /* the item is gone, and its comments with it */
		claim_end(c, false);
		return;
	}
	if (!plane_ok(status)) {
		plane_note_error(c->bp, status, "claim transition", err);
		if (status == 400)
			c->bp->next_meta = 0; /* the state changed? */
		claim_end(c, true);
		return;
	}
	won(c);
	if (json_array_size(c->dels) > 0)
		retract(c); /* our other claim comments */
	else
		claim_end(c, false);
}

/* winner_id returns the id of the comment carrying marker ("" if
 * none). */
static const char *
winner_id(const json_t *comments, const char *marker)
{
	json_t     *c;
	const char *h, *id;
	char        mk[256];
	size_t      i;

	json_array_foreach (comments, i, c) {
		h  = json_string_value(json_object_get(c, "comment_html"));
		id = json_string_value(json_object_get(c, "id"));
		if (h != NULL && id != NULL && marker_of(h, mk, sizeof(mk)) &&
		    strcmp(mk, marker) == 0)
			return (id);
	}
	return ("");
}

/* task_state reads the mirrored state of the task (NULL: none). */
static char *
task_state(struct bplane *bp, const char *task_id)
{
	struct task t;
	char       *s;

	if (board_task_get(bp->svc, task_id, &t) != 0)
		return (NULL);
	s       = t.state;
	t.state = NULL;
	board_task_fini(&t);
	return (s);
}

static void
on_comments(
    struct plane *pl, int status, json_t *body, const char *err, void *arg)
{
	struct claim  *c  = arg;
	struct bplane *bp = c->bp;
	json_t        *ours, *req, *v;
	char          *winner, *state, day[16], *path, *mine;
	const char    *sid;
	size_t         i, n = strlen(svc_name(bp->svc));
	int64_t        posted = 0;
	int            bad;

	(void) pl;
	if (status == 404) { /* the item is gone, its comments with it */
		drop(c);
		claim_end(c, false);
		return;
	}
	if (!plane_ok(status)) {
		plane_note_error(bp, status, "claim comments", err);
		claim_end(c, true);
		return;
	}
	plane_claim_view(body, svc_name(bp->svc), bp->claim_ttl_ms * 1000,
	    &winner, &ours, &bad);
	if (bad > 0)
		svc_count(bp->svc, "plane_bad_time", bad);
	if (c->retract) {
		json_decref(c->dels);
		c->dels = ours;
		free(winner);
		retract(c);
		return;
	}
	state = task_state(bp, c->task_id);
	(void) store_int(svc_store(bp->svc), &posted, 0,
	    "SELECT posted_ms FROM plane_claim WHERE task_id = ?", "t",
	    c->task_id);
	mine = winner != NULL && strncmp(winner, svc_name(bp->svc), n) == 0 &&
	        winner[n] == ':'
	    ? winner + n + 1
	    : NULL;
	if (mine != NULL && state != NULL && strcmp(state, "Running") == 0) {
		/* our PATCH landed, its answer did not: finish */
		free(c->nonce);
		c->nonce = xstrdup(mine);
		won(c);
		claim_end(c, false);
	} else if (mine != NULL && state != NULL &&
	    strcmp(state, BOARD_READY) == 0 &&
	    now_ms() - posted < bp->claim_ttl_ms / 2 &&
	    json_array_size(bp->missing) == 0 &&
	    (sid = plane_state_id(bp, "Running")) != NULL) {
		/* ours won: our other claim comments of this episode go
		 * once the item is ours (a state dir started over leaves
		 * an orphan of ours the claim table does not know) */
		json_decref(c->dels);
		c->dels = json_array();
		json_array_foreach (ours, i, v) {
			if (strcmp(json_string_value(v),
			        winner_id(body, winner)) != 0) {
				json_array_append(c->dels, v);
				svc_count(
				    bp->svc, "plane_claim_duplicates", 1);
			}
		}
		free(c->nonce);
		c->nonce = xstrdup(mine);
		iso8601(now_ms(), day, sizeof(day));
		day[10] = '\0';
		req = json_pack("{s:s, s:s}", "state", sid, "start_date", day);
		path = xasprintf("work-items/%s/", c->task_id);
		plane_call(
		    bp->pl, PLANE_CLAIM, "PATCH", path, req, on_patched, c);
		free(path);
		json_decref(req);
	} else {
		if (winner != NULL && mine == NULL) {
			log_info("plane.claim_lost", "%s: claimed by %s",
			    c->task_id, winner);
			svc_count(bp->svc, "claims_lost", 1);
			c->lost = true;
		}
		c->retract = true;
		set_phase(c, "retract");
		json_decref(c->dels);
		c->dels = json_incref(ours);
		retract(c);
	}
	json_decref(ours);
	free(winner);
	free(state);
}

static void
decide(struct claim *c)
{
	char *path = xasprintf("work-items/%s/comments/", c->task_id);

	plane_list(c->bp->pl, PLANE_CLAIM, path, 0, NULL, on_comments, c);
	free(path);
}

static void
on_deleted(
    struct plane *pl, int status, json_t *body, const char *err, void *arg)
{
	struct claim *c = arg;

	(void) pl;
	(void) body;
	if (!plane_ok(status) && status != 404) {
		plane_note_error(c->bp, status, "retract claim", err);
		claim_end(c, true);
		return;
	}
	json_array_remove(c->dels, 0);
	svc_count(c->bp->svc, "plane_claim_retracted", 1);
	retract(c);
}

/* retract deletes the comments in c->dels one by one, then the row. */
static void
retract(struct claim *c)
{
	char *path;

	if (json_array_size(c->dels) == 0) {
		drop(c);
		claim_end(c, c->lost);
		return;
	}
	path = xasprintf("work-items/%s/comments/%s/", c->task_id,
	    json_string_value(json_array_get(c->dels, 0)));
	plane_call(
	    c->bp->pl, PLANE_CLAIM, "DELETE", path, NULL, on_deleted, c);
	free(path);
}

static void
on_posted(
    struct plane *pl, int status, json_t *body, const char *err, void *arg)
{
	struct claim *c  = arg;
	const char   *id = json_string_value(json_object_get(body, "id"));

	(void) pl;
	if (status == 404) { /* the item is gone */
		drop(c);
		claim_end(c, false);
		return;
	}
	if ((status != 409 && !plane_ok(status)) || id == NULL) {
		plane_note_error(c->bp, status, "claim comment", err);
		claim_end(c, true);
		return;
	}
	/* 409: posted before (the answer was lost): that one is ours */
	free(c->comment_id);
	c->comment_id = xstrdup(id);
	set_phase(c, "decide");
	decide(c);
}

static void
post(struct claim *c)
{
	json_t *req;
	char   *html, *path, *eid;

	html =
	    xasprintf("<p>Claimed by opcenter (%s)</p>" CLAIM_MARK "%s:%s -->",
	        svc_name(c->bp->svc), svc_name(c->bp->svc), c->nonce);
	eid  = xasprintf("claim:%s", c->nonce);
	req  = json_pack("{s:s, s:s, s:s}", "comment_html", html,
	     "external_source", "opcenter", "external_id", eid);
	path = xasprintf("work-items/%s/comments/", c->task_id);
	plane_call(c->bp->pl, PLANE_CLAIM, "POST", path, req, on_posted, c);
	free(path);
	free(eid);
	free(html);
	json_decref(req);
}

/* start records a new claim of task_id, then posts its comment. */
static void
start(struct bplane *bp, const char *task_id)
{
	struct claim *c;
	char          nonce[37];

	uuid4(nonce);
	if (store_run(svc_store(bp->svc),
	        "INSERT OR IGNORE INTO plane_claim(task_id, nonce, phase,"
	        " posted_ms, updated_ms) VALUES (?, ?, 'post', ?, ?)",
	        "ttii", task_id, nonce, now_ms(), now_ms()) != 0)
		return;
	c = claim_new(bp, task_id, nonce, NULL);
	post(c);
}

int64_t
plane_claims_pending(struct bplane *bp)
{
	int64_t n = 0;

	(void) store_int(svc_store(bp->svc), &n, 0,
	    "SELECT count(*) FROM plane_claim", NULL);
	return (n);
}

/* resume continues a pending claim of this instance from its phase;
 * while states are missing, every pending claim is retracted. */
static void
resume(struct bplane *bp, const char *task_id, const char *nonce,
    const char *phase, const char *comment_id)
{
	struct claim *c = claim_new(bp, task_id, nonce, comment_id);

	if (strcmp(phase, "post") == 0 && json_array_size(bp->missing) == 0)
		post(c);
	else {
		c->retract = strcmp(phase, "retract") == 0 ||
		    json_array_size(bp->missing) > 0;
		decide(c);
	}
}

void
plane_claims(struct bplane *bp)
{
	struct store_stmt *st;
	json_t            *todo = json_array(), *v;
	char               key[128];
	size_t             i, busy = json_object_size(bp->claiming);

	/* this instance's pending claims first: they hold comments */
	if (store_prep(svc_store(bp->svc), &st,
	        "SELECT task_id, nonce, phase, comment_id FROM plane_claim"
	        " ORDER BY updated_ms") == 0) {
		while (store_step(st) == 1)
			json_array_append_new(todo,
			    json_pack("[s, s, s, s?]", store_col_text(st, 0),
			        store_col_text(st, 1), store_col_text(st, 2),
			        store_col_text(st, 3)));
		store_done(st);
	}
	json_array_foreach (todo, i, v) {
		const char *id = json_string_value(json_array_get(v, 0));

		snprintf(key, sizeof(key), "claim:%s", id);
		if ((int64_t) busy >= bp->max_claims)
			break;
		if (json_object_get(bp->claiming, id) != NULL ||
		    !plane_due(bp, key))
			continue;
		resume(bp, id, json_string_value(json_array_get(v, 1)),
		    json_string_value(json_array_get(v, 2)),
		    json_string_value(json_array_get(v, 3)));
		busy++;
	}
	json_array_clear(todo);
	/* new claims: none while a needed state is missing */
	if (json_array_size(bp->missing) > 0 ||
	    (int64_t) busy >= bp->max_claims ||
	    store_prep(svc_store(bp->svc), &st,
	        "SELECT t.task_id FROM task t WHERE t.state = ?"
	        " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.task_id ="
	        " t.task_id AND o.done = 0)"
	        " AND NOT EXISTS (SELECT 1 FROM plane_claim p WHERE"
	        " p.task_id = t.task_id)"
	        " AND NOT EXISTS (SELECT 1 FROM claim a WHERE a.task_id ="
	        " t.task_id AND a.active = 1)"
	        " ORDER BY t.n LIMIT 64") != 0) {
		json_decref(todo);
		return;
	}
	store_bind_text(st, 1, BOARD_READY);
	while (store_step(st) == 1)
		json_array_append_new(
		    todo, json_string(store_col_text(st, 0)));
	store_done(st);
	json_array_foreach (todo, i, v) {
		snprintf(key, sizeof(key), "claim:%s", json_string_value(v));
		if ((int64_t) busy >= bp->max_claims)
			break;
		if (json_object_get(bp->claiming, json_string_value(v)) !=
		        NULL ||
		    !plane_due(bp, key) ||
		    !plane_authz_gate(bp, json_string_value(v)))
			continue;
		start(bp, json_string_value(v));
		busy++;
	}
	json_decref(todo);
}
