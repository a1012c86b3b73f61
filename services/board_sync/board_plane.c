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
#include "board_plane.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/store.h"
#include "opc/util.h"
#include "plane.h"

#define BACKOFF_MAX_MS 300000

/* --------------------------------------------------------------- errors */

void
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

void
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

bool
ok(int status)
{
	return (status / 100 == 2);
}

/* ---------------------------------------------------------- lookups */

char *
lower(const char *s)
{
	char  *l = xstrdup(s ? s : "");
	size_t i;

	for (i = 0; l[i] != '\0'; i++)
		l[i] = (char) tolower((unsigned char) l[i]);
	return (l);
}

static const char *
state_of(const struct bplane *bp, json_t *item)
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

/* label_names returns the names of item's labels (ids, or objects when
 * expanded); *unknown is the first id not in bp's labels map, or NULL. */
static json_t *
label_names(const struct bplane *bp, json_t *item, const char **unknown)
{
	json_t     *out = json_array(), *l;
	const char *name;
	size_t      i;

	*unknown = NULL;
	json_array_foreach(json_object_get(item, "labels"), i, l) {
		if (json_is_object(l))
			name = json_string_value(json_object_get(l, "name"));
		else if (json_is_string(l)) {
			name = json_string_value(json_object_get(bp->label_name,
			    json_string_value(l)));
			if (name == NULL && *unknown == NULL)
				*unknown = json_string_value(l);
		} else
			name = NULL;
		if (name != NULL)
			json_array_append_new(out, json_string(name));
	}
	return (out);
}

void
plane_index(json_t *by_lower, json_t *by_id, const json_t *list)
{
	json_t *s;
	size_t  i;
	char   *l;

	json_array_foreach(list, i, s) {
		const char *id = json_string_value(json_object_get(s, "id"));
		const char *nm = json_string_value(json_object_get(s, "name"));

		if (id == NULL || nm == NULL)
			continue;
		l = lower(nm);
		json_object_set_new(by_lower, l, json_string(id));
		json_object_set_new(by_id, id, json_string(nm));
		free(l);
	}
}

static void
on_states(struct plane *pl, int status, json_t *body, const char *err,
    void *arg)
{
	struct bplane *bp = arg;

	(void) pl;
	if (!ok(status)) {
		cycle_error(bp, status, "list states", err);
	} else {
		json_object_clear(bp->state_id);
		json_object_clear(bp->state_name);
		plane_index(bp->state_id, bp->state_name, body);
	}
	cycle_end(bp);
}

static void
on_labels(struct plane *pl, int status, json_t *body, const char *err,
    void *arg)
{
	struct bplane *bp = arg;

	(void) pl;
	if (!ok(status))
		cycle_error(bp, status, "list labels", err);
	else
		plane_index(bp->label_id, bp->label_name, body);
	cycle_end(bp);
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

/* ---------------------------------------------------------------- items */

bool
plane_item_read(struct plane_item *pi, const struct bplane *bp, json_t *item)
{
	json_t     *ex = NULL;
	const char *d, *id, *unknown;
	char        err[128];

	memset(pi, 0, sizeof(*pi));
	pi->names = label_names(bp, item, &unknown);
	pi->id = json_string_value(json_object_get(item, "id"));
	pi->name = json_string_value(json_object_get(item, "name"));
	pi->state = state_of(bp, item);
	pi->repo = label_value(pi->names, "repo");
	pi->kind = label_value(pi->names, "task-kind");
	if (pi->id != NULL && unknown != NULL) {
		id = pi->id;
		plane_item_fini(pi); /* not readable yet */
		pi->id = id;
		pi->unknown_label = unknown;
		return (false);
	}
	if (pi->id == NULL || pi->state == NULL || pi->repo == NULL) {
		plane_item_fini(pi); /* not a task for us */
		return (false);
	}
	d = json_string_value(json_object_get(item, "description_stripped"));
	pi->desc = d ? xstrdup(d)
	             : plane_text(json_string_value(json_object_get(item,
	                   "description_html")));
	pi->goal = board_parse_description(pi->desc, NULL, &ex, err,
	               sizeof(err)) == 0
	    ? xstrdup(json_string_value(json_object_get(ex, "goal")))
	    : xstrdup(pi->name ? pi->name : "");
	json_decref(ex);
	return (true);
}

void
plane_item_fini(struct plane_item *pi)
{
	json_decref(pi->names);
	free(pi->desc);
	free(pi->goal);
	memset(pi, 0, sizeof(*pi));
}

/* unknown_label: item has a label made after this cycle listed the
 * labels.  It is skipped (mirrored or claimed without that label it
 * could take the wrong lane or policy) until a cycle lists the labels
 * again; the first time for an item, that cycle follows at once. */
static void
unknown_label(struct bplane *bp, const char *item, const char *label)
{
	svc_count(bp->svc, "plane_unknown_label", 1);
	if (json_object_get(bp->unknown, item) != NULL)
		return;
	json_object_set_new(bp->unknown, item, json_string(label));
	bp->refresh = true;
	log_warn("plane.label", "%s: label %s is not in the project's labels "
	    "yet: skipped until they are listed again", item, label);
}

/* mirror upserts one work item; returns its state name (borrowed). */
static const char *
mirror(struct bplane *bp, json_t *item, bool *candidate)
{
	struct svc       *svc = bp->svc;
	struct plane_item pi;
	const char       *id, *st;
	char             *labels;
	int64_t           pending = 0, active = 0, now = now_ms();

	*candidate = false;
	if (!plane_item_read(&pi, bp, item)) {
		if (pi.unknown_label != NULL)
			unknown_label(bp, pi.id, pi.unknown_label);
		return (NULL);
	}
	id = pi.id;
	json_object_del(bp->unknown, id);
	st = pi.state; /* borrowed from item or bp->state_name */
	labels = json_dumps(pi.names, JSON_COMPACT);
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
	    "ttttttttiii", id, pi.name ? pi.name : "", pi.goal, pi.repo,
	    pi.kind ? pi.kind : "goal", labels, pi.desc, st, now, now,
	    pending);
	if (strcasecmp(st, BOARD_READY) == 0) {
		/* a human put it back to Ready: our old claim is over */
		if (active > 0 && pending == 0)
			(void) store_run(svc_store(svc),
			    "UPDATE claim SET active = 0 WHERE task_id = ?",
			    "t", id);
		*candidate = pending == 0;
	}
	free(labels);
	plane_item_fini(&pi);
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
	bp->unknown = json_object();
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
	json_decref(bp->unknown);
	free(bp);
	b->plane = NULL;
}
