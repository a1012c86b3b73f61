/*
 * board_plane.c - board-sync's Plane mode (see board_int.h): what runs
 * when, the listing and the mirror, the project's states and labels.
 *
 * Every effect-loop tick (board_plane_cycle) starts what is due, each
 * activity at most once at a time, all through one rate-budgeted client
 * (plane.c) that sends writes finishing work first:
 *   - credentials: GET users/me at start and after a 401/403;
 *   - states and labels: at start, on a miss (an item names an id the
 *     lists lack), hourly, every minute while a needed state is missing
 *     and on a webhook then; a project without a state opcenter needs
 *     gets no claims, one board.misconfigured event and "misconfigured"
 *     in status until the state exists;
 *   - the listing: work items by -updated_at, page by page only down to
 *     the newest item of the last listing (Plane has no state filter);
 *     every page again at start, hourly and after a listing shifted
 *     under us (its total_count changed between pages: an item made or
 *     deleted meanwhile can be skipped); every poll_interval, sooner on
 *     a webhook from someone else, every safety_poll once webhooks come;
 *   - the outbox (plane_push.c), claims (plane_claim.c), answers to
 *     questions, work items for proposals.
 * Only items of this deployment's repos are mirrored: other deployments
 * may share the project.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "board.h"
#include "board_int.h"
#include "board_plane.h"
#include "conf.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/store.h"
#include "opc/util.h"
#include "plane.h"

#define LATER_MIN_MS 2000
#define LATER_MAX_MS 300000
#define OVERLAP_US 2000000    /* a listing goes 2 s below the watermark */
#define INCR_PER_PAGE 100     /* a poll's pages; a full listing's: per_page */
#define WEBHOOK_GAP_MS 2000   /* webhooks closer than this: one poll */
#define MISSING_META_MS 60000 /* states re-read while one is missing */

static const struct {
	const char *key, *name; /* plane.states key, canonical name */
} bstates[BS_N] = {
	[BS_READY]     = { "ready", BOARD_READY },
	[BS_RUNNING]   = { "running", "Running" },
	[BS_REVIEW]    = { "review", "In Review" },
	[BS_BLOCKED]   = { "blocked", "Blocked" },
	[BS_DONE]      = { "done", "Done" },
	[BS_BACKLOG]   = { "backlog", "Backlog" },
	[BS_CANCELLED] = { "cancelled", "Cancelled" },
};

/* --------------------------------------------------------------- errors */

void
plane_note_error(
    struct bplane *bp, int status, const char *what, const char *err)
{
	struct msg_credential_invalid ev;

	bp->consecutive_errors++;
	svc_count(bp->svc, "plane_errors", 1);
	snprintf(bp->last_error, sizeof(bp->last_error), "%s: %s", what,
	    err ? err : "error");
	if (status == 401 || status == 403) {
		bp->auth_ok = false;
		if (!bp->cred_reported) {
			memset(&ev, 0, sizeof(ev));
			ev.provider    = "plane";
			ev.status_code = status;
			ev.message     = bp->last_error;
			(void) svc_emit(
			    bp->svc, MSG_CREDENTIAL_INVALID, NULL, &ev);
			bp->cred_reported = true;
			log_error("plane.credential",
			    "Plane refused the API key "
			    "(HTTP %d): running degraded",
			    status);
		}
		return;
	}
	log_warn("plane.error", "%s", bp->last_error);
}

/* note_ok records a successful listing: the errors are over. */
static void
note_ok(struct bplane *bp)
{
	if (bp->consecutive_errors > 0)
		log_info("plane.recovered",
		    "Plane answers again after %lld "
		    "failed requests",
		    (long long) bp->consecutive_errors);
	bp->consecutive_errors = 0;
	bp->backoff_ms         = 0;
	bp->last_error[0]      = '\0';
}

bool
plane_ok(int status)
{
	return (status / 100 == 2);
}

/* backoff: the next listing after a failed one, 1 s doubling to 5 min
 * (the client holds its queue as well when Plane is away). */
static int64_t
backoff(struct bplane *bp)
{
	bp->backoff_ms = bp->backoff_ms == 0 ? 1000 : bp->backoff_ms * 2;
	if (bp->backoff_ms > LATER_MAX_MS)
		bp->backoff_ms = LATER_MAX_MS;
	return (bp->backoff_ms);
}

void
plane_later(struct bplane *bp, const char *key)
{
	json_t *v    = json_object_get(bp->retry_at, key);
	int64_t step = LATER_MIN_MS;

	if (json_is_array(v)) {
		step = json_integer_value(json_array_get(v, 1)) * 2;
		if (step > LATER_MAX_MS)
			step = LATER_MAX_MS;
	}
	json_object_set_new(bp->retry_at, key,
	    json_pack(
	        "[I, I]", (json_int_t) (mono_ms() + step), (json_int_t) step));
}

bool
plane_due(struct bplane *bp, const char *key)
{
	json_t *v = json_object_get(bp->retry_at, key);

	return (v == NULL ||
	    json_integer_value(json_array_get(v, 0)) <= mono_ms());
}

void
plane_forget(struct bplane *bp, const char *key)
{
	json_object_del(bp->retry_at, key);
}

/* ---------------------------------------------------------- lookups */

char *
plane_lower(const char *s)
{
	char  *l = xstrdup(s ? s : "");
	size_t i;

	for (i = 0; l[i] != '\0'; i++)
		l[i] = (char) tolower((unsigned char) l[i]);
	return (l);
}

/* canonical returns the canonical name of Plane state name (as given
 * when it is not one opcenter maps). */
static const char *
canonical(const struct bplane *bp, const char *plane_name)
{
	size_t i;

	for (i = 0; plane_name != NULL && i < BS_N; i++)
		if (bp->names[i] != NULL &&
		    strcasecmp(bp->names[i], plane_name) == 0)
			return (bstates[i].name);
	return (plane_name);
}

const char *
plane_state_id(const struct bplane *bp, const char *canon)
{
	const char *pn = canon;
	char       *l;
	const char *id;
	size_t      i;

	for (i = 0; canon != NULL && i < BS_N; i++)
		if (strcmp(bstates[i].name, canon) == 0 ||
		    (i == BS_REVIEW && strcmp(canon, "Review") == 0))
			pn = bp->names[i];
	l  = plane_lower(pn);
	id = json_string_value(json_object_get(bp->state_id, l));
	free(l);
	return (id);
}

/* state_of returns the Plane name of item's state, or NULL; *unknown
 * gets a state id the states list lacks. */
static const char *
state_of(const struct bplane *bp, json_t *item, const char **unknown)
{
	json_t     *s = json_object_get(item, "state");
	const char *n;

	*unknown = NULL;
	if (json_is_object(s)) /* ?expand=state */
		return (json_string_value(json_object_get(s, "name")));
	n = json_string_value(json_object_get(
	    bp->state_name, json_string_value(s) ? json_string_value(s) : ""));
	if (n == NULL && json_is_string(s))
		*unknown = json_string_value(s);
	return (n);
}

/* label_value returns the value of a "prefix: value" label, or NULL. */
static const char *
label_value(json_t *names, const char *prefix)
{
	size_t      i, n = strlen(prefix);
	const char *l;

	for (i = 0; i < json_array_size(names); i++) {
		l = json_string_value(json_array_get(names, i));
		if (l != NULL && strncasecmp(l, prefix, n) == 0 &&
		    l[n] == ':') {
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
	json_array_foreach (json_object_get(item, "labels"), i, l) {
		if (json_is_object(l))
			name = json_string_value(json_object_get(l, "name"));
		else if (json_is_string(l)) {
			name = json_string_value(json_object_get(
			    bp->label_name, json_string_value(l)));
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

	json_array_foreach (list, i, s) {
		const char *id = json_string_value(json_object_get(s, "id"));
		const char *nm = json_string_value(json_object_get(s, "name"));

		if (id == NULL || nm == NULL)
			continue;
		l = plane_lower(nm);
		json_object_set_new(by_lower, l, json_string(id));
		json_object_set_new(by_id, id, json_string(nm));
		free(l);
	}
}

/* ---------------------------------------------------------------- items */

bool
plane_item_read(struct plane_item *pi, const struct bplane *bp, json_t *item)
{
	struct msg_task_execution *ex = NULL;
	const char                *d, *id, *unknown, *ustate, *repo;
	char                       err[128], *l;

	memset(pi, 0, sizeof(*pi));
	pi->names = label_names(bp, item, &unknown);
	pi->id    = json_string_value(json_object_get(item, "id"));
	pi->name  = json_string_value(json_object_get(item, "name"));
	pi->state = canonical(bp, state_of(bp, item, &ustate));
	repo      = label_value(pi->names, "repo");
	pi->kind  = label_value(pi->names, "task-kind");
	if (pi->id != NULL && (unknown != NULL || ustate != NULL)) {
		id = pi->id;
		plane_item_fini(pi); /* not readable yet */
		pi->id            = id;
		pi->unknown_label = unknown;
		pi->unknown_state = ustate;
		return (false);
	}
	if (pi->id == NULL || pi->state == NULL || repo == NULL) {
		plane_item_fini(pi); /* not a task for us */
		return (false);
	}
	l        = plane_lower(repo);
	pi->repo = json_string_value(json_object_get(bp->repos, l));
	free(l);
	if (pi->repo == NULL) { /* another deployment's: leave it alone */
		id = pi->id;
		snprintf(err, sizeof(err), "%s", repo);
		plane_item_fini(pi);
		pi->id = id;
		snprintf(pi->other_repo, sizeof(pi->other_repo), "%.63s", err);
		return (false);
	}
	d = json_string_value(json_object_get(item, "description_stripped"));
	pi->desc = d ? xstrdup(d)
	             : plane_text(json_string_value(
	                   json_object_get(item, "description_html")));
	pi->goal =
	    board_parse_description(pi->desc, NULL, &ex, err, sizeof(err)) == 0
	    ? xstrdup(ex->goal)
	    : xstrdup(pi->name ? pi->name : "");
	msg_task_execution_free(ex);
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

/* unknown: item names a state or label made after the lists were read.
 * It is skipped (mirrored without it, it could take the wrong lane or
 * policy) until they are read again: at once, the first time for an
 * item, followed by a listing of every page. */
static void
unknown(struct bplane *bp, const char *item, const char *id, bool state)
{
	svc_count(
	    bp->svc, state ? "plane_unknown_state" : "plane_unknown_label", 1);
	if (json_object_get(bp->unknown, item) != NULL)
		return;
	json_object_set_new(bp->unknown, item, json_string(id));
	bp->next_meta  = 0; /* at once */
	bp->force_full = true;
	log_warn(state ? "plane.state" : "plane.label",
	    "%s: %s %s is not in "
	    "the project's %s yet: skipped until they are listed again",
	    item, state ? "state" : "label", id, state ? "states" : "labels");
}

/* gone: a mirrored item that is no longer this deployment's task (its
 * repo label changed, it was deleted): never claimed again. */
static void
gone(struct bplane *bp, const char *id)
{
	(void) store_run(svc_store(bp->svc),
	    "UPDATE task SET state = '(gone)' WHERE task_id = ? AND state ="
	    " ? AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.task_id ="
	    " task.task_id AND o.done = 0)",
	    "tt", id, BOARD_READY);
}

/* moved journals task.updated for a state item id took in Plane, not by
 * us (reason "plane": a human's move; "plane_vanished": see vanished());
 * a state the bus has no name for is left out. */
static void
moved(struct svc *svc, const char *id, const char *from, const char *to,
    const char *reason)
{
	struct msg_task_updated ev;

	memset(&ev, 0, sizeof(ev));
	ev.task_id    = (char *) id;
	ev.state      = board_state(to);
	ev.prev_state = board_state(from);
	ev.reason     = (char *) reason;
	if (ev.state == MSG_TASK_STATE__UNSET)
		return;
	if (svc_emit(svc, MSG_TASK_UPDATED, id, &ev) == 0)
		log_info("plane.moved", "%s: %s -> %s in Plane", id, from, to);
}

/* mirror upserts one work item. */
static void
mirror(struct bplane *bp, json_t *item, json_t *seen)
{
	struct svc        *svc = bp->svc;
	struct store_stmt *st;
	struct plane_item  pi;
	const char        *id;
	char              *labels, *kind, *old = NULL;
	int64_t            pending = 0, active = 0, now = now_ms();

	if (!plane_item_read(&pi, bp, item)) {
		if (pi.unknown_state != NULL)
			unknown(bp, pi.id, pi.unknown_state, true);
		else if (pi.unknown_label != NULL)
			unknown(bp, pi.id, pi.unknown_label, false);
		else if (pi.other_repo[0] != '\0') {
			svc_count(svc, "plane_other_repo", 1);
			gone(bp, pi.id);
		}
		return;
	}
	id = pi.id;
	plane_authz_seen(bp, item);
	json_object_set_new(seen, id, json_true());
	json_object_del(bp->unknown, id);
	labels = json_dumps(pi.names, JSON_COMPACT);
	/* the original read labels case-insensitively; its campaign names
	 * are the kinds the router knows as test and improve */
	kind = plane_lower(pi.kind ? pi.kind : "goal");
	if (strcmp(kind, "test_campaign") == 0)
		kind[4] = '\0';
	else if (strcmp(kind, "improve_campaign") == 0)
		kind[7] = '\0';
	(void) store_int(svc_store(svc), &pending, 0,
	    "SELECT count(*) FROM outbox WHERE task_id = ? AND done = 0", "t",
	    id);
	(void) store_int(svc_store(svc), &active, 0,
	    "SELECT count(*) FROM claim WHERE task_id = ? AND active = 1", "t",
	    id);
	if (store_prep(svc_store(svc), &st,
	        "SELECT state FROM task WHERE task_id = ?") == 0) {
		store_bind_text(st, 1, id);
		if (store_step(st) == 1)
			old = store_col_dup(st, 0);
		store_done(st);
	}
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
	    "ttttttttiii", id, pi.name ? pi.name : "", pi.goal, pi.repo, kind,
	    labels, pi.desc, pi.state, now, now, pending);
	/* a human's move in Plane: journaled as our own moves are (the
	 * router ends a Cancelled task's work, the proposer counts it as a
	 * rejection, the insighter a Done as accepted); a campaign step's
	 * campaign follows it */
	if (pending == 0 && old != NULL && strcmp(old, pi.state) != 0) {
		moved(svc, id, old, pi.state, "plane");
		(void) board_campaign_mirrored(svc, id, old);
	}
	free(old);
	/* a human put it back to Ready: our old claim is over */
	if (strcmp(pi.state, BOARD_READY) == 0 && active > 0 && pending == 0)
		(void) store_run(svc_store(svc),
		    "UPDATE claim SET active = 0 WHERE task_id = ?", "t", id);
	free(labels);
	free(kind);
	plane_item_fini(&pi);
}

/* vanished: a task of ours a whole listing no longer has, past Ready
 * and not ended (deleted in Plane, or relabelled to a repo this
 * deployment does not run), is cancelled here: journaled as a human's
 * move (the router ends its work) and its campaign's step ends. */
static void
vanished(struct bplane *bp, json_t *seen)
{
	struct store_stmt *st;
	json_t            *gone = json_object(), *v;
	const char        *id;

	if (store_prep(svc_store(bp->svc), &st,
	        "SELECT task_id, state FROM task t WHERE state NOT IN (?,"
	        " 'Done', 'Cancelled', '(gone)') AND updated_at < ? AND NOT"
	        " EXISTS (SELECT 1 FROM outbox o WHERE o.task_id ="
	        " t.task_id AND o.done = 0)") != 0) {
		json_decref(gone);
		return;
	}
	store_bind_text(st, 1, BOARD_READY);
	store_bind_int(st, 2, bp->list_start);
	while (store_step(st) == 1)
		if (json_object_get(seen, store_col_text(st, 0)) == NULL)
			json_object_set_new(gone, store_col_text(st, 0),
			    json_string(store_col_text(st, 1)));
	store_done(st);
	json_object_foreach (gone, id, v) {
		if (store_run(svc_store(bp->svc),
		        "UPDATE task SET state = 'Cancelled', updated_at = ?"
		        " WHERE task_id = ?",
		        "it", now_ms(), id) != 0)
			continue;
		log_warn("plane.vanished",
		    "%s: no longer in the project's listing (was %s): "
		    "cancelled here",
		    id, json_string_value(v));
		svc_count(bp->svc, "plane_vanished", 1);
		moved(bp->svc, id, json_string_value(v), "Cancelled",
		    "plane_vanished");
		(void) board_campaign_mirrored(
		    bp->svc, id, json_string_value(v));
	}
	json_decref(gone);
}

/* reconcile: after a whole listing, a Ready task it did not have is
 * gone from this deployment's board; one further on is cancelled
 * (vanished). */
static void
reconcile(struct bplane *bp, json_t *seen)
{
	struct store_stmt *st;
	json_t            *drop = json_array(), *v;
	size_t             i;

	if (store_prep(svc_store(bp->svc), &st,
	        "SELECT task_id FROM task WHERE state = ?") != 0) {
		json_decref(drop);
		return;
	}
	store_bind_text(st, 1, BOARD_READY);
	while (store_step(st) == 1)
		if (json_object_get(seen, store_col_text(st, 0)) == NULL)
			json_array_append_new(
			    drop, json_string(store_col_text(st, 0)));
	store_done(st);
	json_array_foreach (drop, i, v)
		gone(bp, json_string_value(v));
	json_decref(drop);
	vanished(bp, seen);
}

/* ------------------------------------------------------------ listing */

static void
kick(struct bplane *bp)
{
	if (bp->pl != NULL && svc_caught_up(bp->svc))
		board_plane_cycle(bp->svc, svc_state(bp->svc));
}

/* on_page watches a listing: a total_count that changes between pages
 * means items were made or deleted meanwhile (offsets shifted: one may
 * be skipped); a poll stops at the first page that reaches below the
 * last listing's newest item. */
static bool
on_page(struct plane *pl, const json_t *page, void *arg)
{
	struct bplane *bp  = arg;
	json_t        *res = json_object_get(page, "results"), *last, *tc;
	int64_t        us;

	(void) pl;
	if (json_is_integer(tc = json_object_get(page, "total_count"))) {
		if (bp->list_total < 0)
			bp->list_total = json_integer_value(tc);
		else if (json_integer_value(tc) != bp->list_total)
			bp->shifted = true;
	}
	if (bp->listing_full || bp->watermark == 0)
		return (true);
	last = json_array_get(res, json_array_size(res) - 1);
	if (plane_time(json_string_value(json_object_get(last, "updated_at")),
	        &us) != 0)
		return (true);
	/* just after the newest moved, items a little older are read
	 * again (a change saved before and committed after the last
	 * listing); once a listing found nothing newer, only newer ones */
	return (bp->settled ? us > bp->watermark
	                    : us >= bp->watermark - OVERLAP_US);
}

static void
on_items(
    struct plane *pl, int status, json_t *body, const char *err, void *arg)
{
	struct bplane *bp = arg;
	json_t        *it, *seen;
	size_t         i;
	int64_t        us, newest = 0, now = mono_ms();

	(void) pl;
	bp->polling = false;
	if (!plane_ok(status)) {
		plane_note_error(bp, status, "list work items", err);
		bp->next_poll = now + backoff(bp);
		return;
	}
	seen = json_object();
	if (svc_begin(bp->svc) == 0) {
		json_array_foreach (body, i, it) {
			mirror(bp, it, seen);
			if (plane_time(json_string_value(
			                   json_object_get(it, "updated_at")),
			        &us) == 0 &&
			    us > newest)
				newest = us;
		}
		if (bp->listing_full && !bp->shifted)
			reconcile(bp, seen);
		(void) svc_commit(bp->svc);
	}
	json_decref(seen);
	if (bp->shifted) {
		/* keep the watermark: the next listing covers it again */
		svc_count(bp->svc, "plane_list_shifted", 1);
		log_info("plane.shifted",
		    "work items were made or deleted "
		    "while listing: listing again from the same point");
		bp->force_full = bp->listing_full;
		bp->refresh    = true;
	} else {
		bp->settled = newest <= bp->watermark && !bp->listing_full;
		if (newest > bp->watermark)
			bp->watermark = newest;
		if (bp->listing_full)
			bp->next_full = now + bp->full_ms;
	}
	bp->listed = true;
	bp->cycles++;
	note_ok(bp);
	bp->next_poll = now + (bp->webhooks ? bp->safety_ms : bp->poll_ms);
	kick(bp);
}

static void
poll_items(struct bplane *bp)
{
	int64_t now = mono_ms();

	bp->polling    = true;
	bp->refresh    = false;
	bp->last_poll  = now;
	bp->list_start = now_ms();
	bp->listing_full =
	    bp->force_full || bp->watermark == 0 || now >= bp->next_full;
	bp->force_full = false;
	bp->shifted    = false;
	bp->list_total = -1;
	plane_list(bp->pl, PLANE_READ, "work-items/?order_by=-updated_at",
	    bp->listing_full ? bp->per_page : INCR_PER_PAGE, on_page, on_items,
	    bp);
}

/* ------------------------------------------------------ states, labels */

static const char *
meta_get(struct bplane *bp, const char *k)
{
	static char        v[512];
	struct store_stmt *st;

	v[0] = '\0';
	if (store_prep(svc_store(bp->svc), &st,
	        "SELECT v FROM plane_meta WHERE k = ?") != 0)
		return (v);
	store_bind_text(st, 1, k);
	if (store_step(st) == 1 && store_col_text(st, 0) != NULL)
		snprintf(v, sizeof(v), "%s", store_col_text(st, 0));
	store_done(st);
	return (v);
}

static void
meta_set(struct bplane *bp, const char *k, const char *v)
{
	(void) store_run(svc_store(bp->svc),
	    "INSERT OR REPLACE INTO plane_meta(k, v) VALUES (?, ?)", "tt", k,
	    v);
}

/* check_states compares the project's states with the ones opcenter
 * needs; a new set of missing ones is reported once (the report is
 * remembered across restarts): board.misconfigured, which the
 * escalator escalates. */
static void
check_states(struct bplane *bp)
{
	struct msg_board_misconfigured ev;
	json_t                        *miss = json_array();
	char                          *now_s, *msg;
	size_t                         i;

	for (i = 0; i < BS_N; i++)
		if (bp->need[i] && plane_state_id(bp, bstates[i].name) == NULL)
			json_array_append_new(miss, json_string(bp->names[i]));
	now_s = json_dumps(miss, JSON_COMPACT);
	json_decref(bp->missing);
	bp->missing = miss;
	if (json_array_size(miss) == 0) {
		if (strcmp(meta_get(bp, "missing_reported"), "") != 0)
			log_info("plane.states_ok",
			    "the project has every "
			    "state opcenter needs again");
		meta_set(bp, "missing_reported", "");
		free(now_s);
		return;
	}
	if (strcmp(meta_get(bp, "missing_reported"), now_s) != 0) {
		msg = xasprintf(
		    "the Plane project lacks state(s) %s that "
		    "opcenter moves items to (plane.states): nothing is "
		    "claimed until they exist",
		    now_s);
		memset(&ev, 0, sizeof(ev));
		ev.provider = "plane";
		ev.problem  = "missing_states";
		for (i = 0; i < json_array_size(miss); i++)
			msg_strs_add(&ev.missing,
			    json_string_value(json_array_get(miss, i)));
		ev.message = msg;
		if (svc_begin(bp->svc) == 0) {
			if (svc_emit(bp->svc, MSG_BOARD_MISCONFIGURED, NULL,
			        &ev) == 0) {
				meta_set(bp, "missing_reported", now_s);
				(void) svc_commit(bp->svc);
			} else
				(void) svc_rollback(bp->svc);
		}
		log_error("plane.states_missing", "%s", msg);
		msg_strs_fini(&ev.missing);
		free(msg);
	}
	free(now_s);
}

static void
meta_done(struct bplane *bp, bool failed)
{
	int64_t now = mono_ms();

	bp->meta_failed |= failed;
	if (--bp->meta_left > 0)
		return;
	bp->meta_busy = false;
	if (bp->meta_failed)
		bp->next_meta = now + backoff(bp);
	else
		bp->next_meta = now +
		    (json_array_size(bp->missing) > 0 ? MISSING_META_MS
		                                      : bp->meta_ms);
	kick(bp);
}

static void
on_states(
    struct plane *pl, int status, json_t *body, const char *err, void *arg)
{
	struct bplane *bp = arg;

	(void) pl;
	if (!plane_ok(status)) {
		plane_note_error(bp, status, "list states", err);
		meta_done(bp, true);
		return;
	}
	json_object_clear(bp->state_id);
	json_object_clear(bp->state_name);
	plane_index(bp->state_id, bp->state_name, body);
	check_states(bp);
	bp->meta_ok = true;
	meta_done(bp, false);
}

static void
on_labels(
    struct plane *pl, int status, json_t *body, const char *err, void *arg)
{
	struct bplane *bp = arg;

	(void) pl;
	if (!plane_ok(status)) {
		plane_note_error(bp, status, "list labels", err);
		meta_done(bp, true);
		return;
	}
	json_object_clear(bp->label_id);
	json_object_clear(bp->label_name);
	plane_index(bp->label_id, bp->label_name, body);
	meta_done(bp, false);
}

static void
refresh_meta(struct bplane *bp)
{
	bp->meta_busy   = true;
	bp->meta_failed = false;
	bp->meta_left   = 2;
	plane_list(bp->pl, PLANE_READ, "states/", 0, NULL, on_states, bp);
	plane_list(bp->pl, PLANE_READ, "labels/", 0, NULL, on_labels, bp);
}

static void
on_me(struct plane *pl, int status, json_t *body, const char *err, void *arg)
{
	struct bplane *bp = arg;
	const char    *id = json_string_value(json_object_get(body, "id"));

	(void) pl;
	bp->me_busy = false;
	if (!plane_ok(status)) {
		plane_note_error(bp, status, "credential check", err);
		bp->next_me = mono_ms() + backoff(bp);
		return;
	}
	if (!bp->auth_ok)
		log_info("plane.credential", "Plane API key accepted");
	bp->auth_ok       = true;
	bp->cred_reported = false;
	free(bp->user_id);
	bp->user_id = id ? xstrdup(id) : NULL;
	kick(bp);
}

/* --------------------------------------------------------------- public */

/* The webhook's actor (activity.actor.id in Plane's payload, bgtasks/
 * webhook_task.py) and the work item's project. */
static const char *
path_str(json_t *v, const char *a, const char *b, const char *c)
{
	v = json_object_get(v, a);
	if (b != NULL)
		v = json_object_get(v, b);
	if (c != NULL)
		v = json_object_get(v, c);
	return (json_string_value(v));
}

void
board_plane_webhook(struct board *b, const struct msg_board_webhook *w)
{
	struct bplane *bp = b->plane;
	const char    *actor, *proj, *cfg_proj;
	char           err[256];

	if (bp == NULL)
		return;
	/* work-item webhooks come: every change to an item is announced,
	 * so the listing can be slow (comment webhooks alone are not) */
	if (w->event != NULL && strcmp(w->event, "issue") == 0)
		bp->webhooks = true;
	actor    = path_str(w->payload, "activity", "actor", "id");
	proj     = path_str(w->payload, "data", "project", NULL);
	cfg_proj = NULL;
	(void) cfg_get_str(cfg_get(svc_cfg_root(bp->svc), "plane"),
	    "project_id", NULL, &cfg_proj, err, sizeof(err));
	if (actor != NULL && bp->user_id != NULL &&
	    strcmp(actor, bp->user_id) == 0) {
		/* our own write coming back: nothing new to read */
		svc_count(bp->svc, "plane_webhook_own", 1);
		return;
	}
	if (proj != NULL && cfg_proj != NULL && strcmp(proj, cfg_proj) != 0) {
		svc_count(bp->svc, "plane_webhook_other_project", 1);
		return;
	}
	if (json_array_size(bp->missing) > 0)
		bp->next_meta = 0; /* a human at work: maybe on the states */
	if (w->event != NULL && strcmp(w->event, "issue_comment") == 0)
		bp->answers_now = true;
	else
		bp->refresh = true;
}

void
board_plane_cycle(struct svc *svc, struct board *b)
{
	struct bplane *bp  = b->plane;
	int64_t        now = mono_ms();

	(void) svc;
	if (bp->pl == NULL) /* closing */
		return;
	if (!bp->auth_ok) {
		if (!bp->me_busy && now >= bp->next_me) {
			bp->me_busy = true;
			plane_call(bp->pl, PLANE_READ, "GET",
			    "/api/v1/users/me/", NULL, on_me, bp);
		}
		return;
	}
	if (!bp->meta_busy && now >= bp->next_meta)
		refresh_meta(bp);
	if (!bp->meta_ok)
		return; /* the states are not known yet */
	if (!bp->polling && !bp->meta_busy &&
	    (now >= bp->next_poll || bp->force_full ||
	        (bp->refresh && now >= bp->last_poll + WEBHOOK_GAP_MS)))
		poll_items(bp);
	plane_push_outbox(bp);
	plane_push_priority(bp);
	plane_authz_cycle(bp);
	if (bp->listed)
		plane_claims(bp);
	if (!bp->answers_busy && (bp->answers_now || now >= bp->next_answers))
		plane_check_answers(bp);
	if (!bp->proposals_busy)
		plane_create_proposals(bp);
}

void
board_plane_status(struct svc *svc, struct board *b, json_t *obj)
{
	struct bplane *bp      = b->plane;
	int64_t        pending = 0;
	json_t        *p;
	const char    *state;

	if (bp == NULL)
		return;
	(void) store_int(svc_store(svc), &pending, 0,
	    "SELECT count(*) FROM outbox WHERE done = 0", NULL);
	if (!bp->auth_ok)
		state = "degraded";
	else if (json_array_size(bp->missing) > 0)
		state = "misconfigured";
	else if (bp->consecutive_errors > 0)
		state = "backoff";
	else
		state = "ok";
	p = json_pack("{s:b, s:I, s:I, s:I, s:I, s:s, s:s, s:O, s:b}",
	    "auth_ok", bp->auth_ok, "consecutive_errors",
	    (json_int_t) bp->consecutive_errors, "cycles",
	    (json_int_t) bp->cycles, "outbox_pending", (json_int_t) pending,
	    "claims_pending", (json_int_t) plane_claims_pending(bp), "state",
	    state, "last_error", bp->last_error, "missing_states",
	    bp->missing ? bp->missing : json_array(), "webhooks",
	    bp->webhooks);
	if (json_array_size(bp->missing) > 0) {
		char *m = json_dumps(bp->missing, JSON_COMPACT);

		json_object_set_new(p, "problem",
		    json_pack("s++", "the project lacks state(s) ", m,
		        " (plane.states)"));
		free(m);
	}
	plane_stats(bp->pl, p);
	plane_authz_status(bp, p);
	json_object_set_new(obj, "plane", p);
}

int
board_plane_states(const struct cfg_node *root, const struct cfg_node *inst,
    const char *names[BS_N], bool need[BS_N], char *err, size_t errlen)
{
	const struct cfg_node *in    = cfg_get(inst, "plane");
	const struct cfg_node *repos = cfg_get(root, "repos");
	const struct cfg_node *src;
	char                   key[64];
	size_t                 i;
	int                    v;

	src = cfg_get(in, "states") != NULL ? in : cfg_get(root, "plane");
	for (i = 0; i < BS_N; i++) {
		snprintf(key, sizeof(key), "states.%s", bstates[i].key);
		if (cfg_tab_str(board_sync_plane_keys, src, key, &names[i],
		        err, errlen) != 0)
			return (ERR_CONFIG);
		need[i] = i == BS_READY || i == BS_RUNNING ||
		    i == BS_BLOCKED || i == BS_DONE;
	}
	for (i = 0; i < cfg_len(repos); i++) {
		v = 0;
		if (cfg_tab_bool(conf_repo_keys, cfg_at(repos, i),
		        "await_review", &v, err, errlen) != 0)
			return (ERR_CONFIG);
		if (v)
			need[BS_REVIEW] = true;
	}
	return (0);
}

/* pcfg returns the node holding key: the instance's plane: map, else
 * the top-level one (each instance may use its own key, say). */
static const struct cfg_node *
pcfg(struct svc *svc, const char *key)
{
	const struct cfg_node *in = cfg_get(svc_cfg(svc), "plane");

	return (cfg_get(in, key) != NULL
	        ? in
	        : cfg_get(svc_cfg_root(svc), "plane"));
}

static int
load_cfg(struct svc *svc, struct bplane *bp, struct plane_cfg *c, char *err,
    size_t errlen)
{
	static const struct {
		const char *key;
		size_t      off;
	} ms[] = {
		{ "safety_poll", offsetof(struct bplane, safety_ms) },
		{ "full_sync", offsetof(struct bplane, full_ms) },
		{ "meta_refresh", offsetof(struct bplane, meta_ms) },
		{ "answer_poll", offsetof(struct bplane, answers_ms) },
		{ "claim_ttl", offsetof(struct bplane, claim_ttl_ms) },
	};
	const struct cfg_key  *t = board_sync_plane_keys; /* the defaults */
	const struct cfg_node *repos = cfg_get(svc_cfg_root(svc), "repos");
	const char            *rate = NULL, *tok_env = NULL;
	const char            *names[BS_N];
	char                  *l;
	size_t                 i;

	if (cfg_get_str(pcfg(svc, "base_url"), "base_url", NULL, &c->base_url,
	        err, errlen) != 0 ||
	    cfg_get_str(pcfg(svc, "workspace_slug"), "workspace_slug", NULL,
	        &c->workspace, err, errlen) != 0 ||
	    cfg_get_str(pcfg(svc, "project_id"), "project_id", NULL,
	        &c->project, err, errlen) != 0 ||
	    cfg_get_str(pcfg(svc, "api_token_env"), "api_token_env", NULL,
	        &tok_env, err, errlen) != 0 ||
	    cfg_tab_int(t, pcfg(svc, "per_page"), "per_page", &bp->per_page,
	        err, errlen) != 0 ||
	    cfg_tab_int(t, pcfg(svc, "max_claims"), "max_claims",
	        &bp->max_claims, err, errlen) != 0 ||
	    cfg_tab_str(t, pcfg(svc, "rate_limit"), "rate_limit", &rate, err,
	        errlen) != 0 ||
	    cfg_tab_ms(board_sync_keys, svc_cfg(svc), "poll_interval",
	        &bp->poll_ms, err, errlen) != 0)
		return (ERR_CONFIG);
	for (i = 0; i < nitems(ms); i++)
		if (cfg_tab_ms(t, pcfg(svc, ms[i].key), ms[i].key,
		        (int64_t *) (void *) ((char *) bp + ms[i].off), err,
		        errlen) != 0)
			return (ERR_CONFIG);
	if (c->base_url == NULL || c->workspace == NULL ||
	    c->project == NULL || tok_env == NULL) {
		snprintf(err, errlen,
		    "board: plane needs plane.base_url, "
		    "plane.workspace_slug, plane.project_id and "
		    "plane.api_token_env");
		return (ERR_CONFIG);
	}
	if (plane_rate_parse(rate, &c->rate, &c->rate_ms) != 0) {
		snprintf(err, errlen,
		    "plane.rate_limit: expected N/second, "
		    "N/minute, N/hour or N/day (Plane's API_KEY_RATE_LIMIT), "
		    "got '%s'",
		    rate);
		return (ERR_CONFIG);
	}
	if (bp->per_page < 1 || bp->per_page > PLANE_MAX_PER_PAGE) {
		log_warn("board.config",
		    "plane.per_page %lld: Plane allows 1 "
		    "to %d; using %d",
		    (long long) bp->per_page, PLANE_MAX_PER_PAGE,
		    PLANE_MAX_PER_PAGE);
		bp->per_page = PLANE_MAX_PER_PAGE;
	}
	if (bp->max_claims < 1)
		bp->max_claims = 1;
	c->per_page = bp->per_page;
	c->token    = cfg_secret(pcfg(svc, "api_token_env"), "api_token_env");
	if (c->token == NULL)
		log_warn("board.config",
		    "$%s is not set: Plane will refuse us", tok_env);
	if (board_plane_states(svc_cfg_root(svc), svc_cfg(svc), names,
	        bp->need, err, errlen) != 0)
		return (ERR_CONFIG);
	for (i = 0; i < BS_N; i++)
		bp->names[i] = xstrdup(names[i]);
	bp->repos = json_object();
	for (i = 0; i < cfg_len(repos); i++) {
		l = plane_lower(cfg_key_at(repos, i));
		json_object_set_new(
		    bp->repos, l, json_string(cfg_key_at(repos, i)));
		free(l);
	}
	return (0);
}

int
board_plane_init(struct svc *svc, struct board *b)
{
	struct plane_cfg c;
	struct bplane   *bp;
	char             err[256], id[37];
	const char      *dbid;
	int              rv;

	memset(&c, 0, sizeof(c));
	bp      = xcalloc(1, sizeof(*bp));
	bp->svc = svc;
	err[0]  = '\0';
	if ((rv = load_cfg(svc, bp, &c, err, sizeof(err))) != 0) {
		log_error("board.config", "%s", err);
		goto fail;
	}
	if ((rv = plane_open(&bp->pl, svc_loop(svc), &c)) != 0)
		goto fail;
	bp->state_id   = json_object();
	bp->state_name = json_object();
	bp->label_name = json_object();
	bp->label_id   = json_object();
	bp->unknown    = json_object();
	bp->claiming   = json_object();
	bp->pushing    = json_object();
	bp->retry_at   = json_object();
	bp->missing    = json_array();
	b->plane       = bp;
	/* a random id per database: comment external ids stay unique when
	 * a state dir starts over (outbox ids restart at 1) */
	if (*(dbid = meta_get(bp, "db_id")) == '\0') {
		meta_set(bp, "db_id", uuid4(id));
		dbid = id;
	}
	snprintf(bp->db_id, sizeof(bp->db_id), "%s", dbid);
	if ((rv = plane_authz_init(bp,
	         pcfg(svc,
	             cfg_get(cfg_get(svc_cfg(svc), "plane"),
	                 "authorized_roles") != NULL
	                 ? "authorized_roles"
	                 : "authorized_members"),
	         c.workspace, err, sizeof(err))) != 0) {
		log_error("board.config", "%s", err);
		goto fail;
	}
	log_info("board.plane",
	    "Plane board %s/%s at %s, polling every %lld "
	    "ms, rate limit %lld per %lld ms",
	    c.workspace, c.project, c.base_url, (long long) bp->poll_ms,
	    (long long) c.rate, (long long) c.rate_ms);
	return (0);

fail:
	b->plane = bp;
	board_plane_fini(svc, b);
	return (rv);
}

void
board_plane_fini(struct svc *svc, struct board *b)
{
	struct bplane *bp = b->plane;
	size_t         i;

	(void) svc;
	if (bp == NULL)
		return;
	plane_close(&bp->pl);
	plane_authz_fini(bp);
	json_decref(bp->state_id);
	json_decref(bp->state_name);
	json_decref(bp->label_name);
	json_decref(bp->label_id);
	json_decref(bp->unknown);
	json_decref(bp->claiming);
	json_decref(bp->pushing);
	json_decref(bp->retry_at);
	json_decref(bp->missing);
	json_decref(bp->repos);
	for (i = 0; i < BS_N; i++)
		free(bp->names[i]);
	free(bp->user_id);
	free(bp);
	b->plane = NULL;
}
