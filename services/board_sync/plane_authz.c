/*
 * plane_authz.c - only authorized triggers (issue 20): in Plane mode a
 * work item in Ready for AI is claimed only when the member who created
 * it (created_by) or the member who last moved it to Ready (its
 * activity history) is allowed: listed in plane.authorized_members (a
 * member id or an email) or holding one of plane.authorized_roles.
 * Otherwise it gets one comment saying why (once per move to Ready:
 * remembered in plane_refusal, posted through the outbox in the same
 * transaction, so a restart or kill -9 never repeats it), the counter
 * plane_trigger_refused and the event board.trigger_refused, and is left
 * alone until someone moves it again.
 *
 * Sources (makeplane/plane apps/api/plane/): api/views/member.py -
 * GET P/members/ is a bare array of UserLite (id, email, display_name,
 * ...) without a role; the only role API v1 shows is the workspace role
 * of GET /api/v1/workspaces/{slug}/members/ (db/models/workspace.py
 * ROLE_CHOICES 20 Admin, 15 Member, 5 Guest: the numbers of the project
 * roles in db/models/project.py), readable by workspace Admins and
 * Members only.  api/views/issue.py IssueActivityListAPIEndpoint - GET
 * P/work-items/{id}/activities/, paginated, oldest first; a move is a
 * row with field "state", new_identifier the state id, actor the member
 * (bgtasks/issue_activities_task.py track_state).
 *
 * opcenter's own work items (created by the API key's user) are allowed
 * only through the autonomy tiers: the proposal it made them for went
 * straight to Ready for AI.  Its own moves to Ready (a re-queue) are
 * not a trigger: the last move by someone else is.
 *
 * Nothing configured: every item runs, as before (one warning at
 * start).  Members not known yet (a 429 is retried by the client, an
 * error backs off): nothing is decided, nothing runs.
 */
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

#define MISS_MS 30000 /* members read again on an unknown actor */
#define MAX_CHECKS 4

struct bauthz {
	bool    on;
	json_t *ids, *emails, *roles; /* lowercase id/email -> true; ints */
	char   *ws_path;              /* the workspace members path */
	json_t *members;              /* id -> {email, name, role}; NULL */
	json_t *next;                 /* being read */
	bool    busy, failed, roles_forbidden;
	int     left;
	int64_t members_at, next_members;
	json_t *items;    /* item id -> [created_by, updated_at] */
	json_t *verdict;  /* item id -> [allowed, updated_at] */
	json_t *checking; /* item id -> true */
};

struct check {
	struct bplane *bp;
	char          *id;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS plane_refusal("
    " task_id TEXT NOT NULL, episode TEXT NOT NULL, at_ms INTEGER NOT"
    " NULL, PRIMARY KEY(task_id, episode));";

static int
role_num(const char *s)
{
	if (strcasecmp(s, "admin") == 0 || strcmp(s, "20") == 0)
		return (20);
	if (strcasecmp(s, "member") == 0 || strcmp(s, "15") == 0)
		return (15);
	if (strcasecmp(s, "guest") == 0 || strcmp(s, "5") == 0)
		return (5);
	return (-1);
}

int
plane_authz_init(struct bplane *bp, const struct cfg_node *pc,
    const char *workspace, char *err, size_t errlen)
{
	struct bauthz *a = xcalloc(1, sizeof(*a));
	const char   **v = NULL, **r = NULL;
	size_t         n = 0, nr = 0, i;
	char          *l;
	int            rn;

	bp->authz   = a;
	a->ids      = json_object();
	a->emails   = json_object();
	a->roles    = json_array();
	a->items    = json_object();
	a->verdict  = json_object();
	a->checking = json_object();
	a->ws_path  = xasprintf("/api/v1/workspaces/%s/members/", workspace);
	if (store_run(svc_store(bp->svc), schema, NULL) != 0) {
		snprintf(err, errlen, "board: plane_refusal table");
		return (ERR_IO);
	}
	if (cfg_get_strs(pc, "authorized_members", &v, &n, err, errlen) != 0 ||
	    cfg_get_strs(pc, "authorized_roles", &r, &nr, err, errlen) != 0) {
		free(v);
		return (ERR_CONFIG);
	}
	for (i = 0; i < n; i++) {
		l = plane_lower(v[i]);
		json_object_set_new(
		    strchr(l, '@') ? a->emails : a->ids, l, json_true());
		free(l);
	}
	for (i = 0; i < nr; i++) {
		if ((rn = role_num(r[i])) < 0) {
			snprintf(err, errlen,
			    "plane.authorized_roles: '%s' is not admin, "
			    "member or guest (20, 15, 5)",
			    r[i]);
			free(v);
			free(r);
			return (ERR_CONFIG);
		}
		json_array_append_new(a->roles, json_integer(rn));
	}
	free(v);
	free(r);
	a->on = n > 0 || nr > 0;
	if (a->on)
		log_info("plane.authz",
		    "work items run only when created or moved to Ready "
		    "by an authorized member: %zu listed, %zu role(s)",
		    n, nr);
	else
		log_warn("plane.authz",
		    "no plane.authorized_members or authorized_roles: "
		    "every work item made Ready runs, whoever made it so "
		    "(set one to restrict)");
	return (0);
}

void
plane_authz_fini(struct bplane *bp)
{
	struct bauthz *a = bp->authz;

	if (a == NULL)
		return;
	json_decref(a->ids);
	json_decref(a->emails);
	json_decref(a->roles);
	json_decref(a->members);
	json_decref(a->next);
	json_decref(a->items);
	json_decref(a->verdict);
	json_decref(a->checking);
	free(a->ws_path);
	free(a);
	bp->authz = NULL;
}

void
plane_authz_seen(struct bplane *bp, const json_t *item)
{
	struct bauthz *a = bp->authz;
	const char    *id, *by, *upd;

	if (a == NULL || !a->on)
		return;
	id  = json_string_value(json_object_get(item, "id"));
	by  = json_string_value(json_object_get(item, "created_by"));
	upd = json_string_value(json_object_get(item, "updated_at"));
	if (id == NULL)
		return;
	json_object_set_new(
	    a->items, id, json_pack("[s?, s?]", by, upd ? upd : ""));
}

/* ------------------------------------------------------------ members */

static void
members_done(struct bplane *bp, bool failed)
{
	struct bauthz *a = bp->authz;

	a->failed |= failed;
	if (--a->left > 0)
		return;
	a->busy = false;
	if (a->failed) {
		json_decref(a->next);
		a->next         = NULL;
		a->next_members = mono_ms() + 5000;
		return;
	}
	json_decref(a->members);
	a->members      = a->next;
	a->next         = NULL;
	a->members_at   = mono_ms();
	a->next_members = a->members_at + bp->meta_ms;
	svc_count(bp->svc, "plane_members_read", 1);
}

static void
on_members(
    struct plane *pl, int status, json_t *body, const char *err, void *arg)
{
	struct bplane *bp = arg;
	struct bauthz *a  = bp->authz;
	json_t        *m, *prev;
	size_t         i;
	const char    *id;
	char          *email;

	(void) pl;
	if (!plane_ok(status)) {
		plane_note_error(bp, status, "list project members", err);
		members_done(bp, true);
		return;
	}
	json_array_foreach (body, i, m) {
		if ((id = json_string_value(json_object_get(m, "id"))) == NULL)
			continue;
		email = plane_lower(
		    json_string_value(json_object_get(m, "email")));
		prev = json_object_get(a->next, id);
		json_object_set_new(a->next, id,
		    json_pack("{s:s, s:s, s:O}", "email", email, "name",
		        json_string_value(json_object_get(m, "display_name"))
		            ? json_string_value(
		                  json_object_get(m, "display_name"))
		            : id,
		        "role",
		        prev ? json_object_get(prev, "role") : json_null()));
		free(email);
	}
	members_done(bp, false);
}

static void
on_ws_members(
    struct plane *pl, int status, json_t *body, const char *err, void *arg)
{
	struct bplane *bp = arg;
	struct bauthz *a  = bp->authz;
	json_t        *m;
	size_t         i;
	const char    *id;

	(void) pl;
	if (status == 403) {
		/* not the key's credentials: its user is no workspace Admin
		 * or Member (WorkSpaceAdminPermission) */
		if (!a->roles_forbidden)
			log_error("plane.authz",
			    "Plane refuses the workspace's members to the "
			    "API key's user (it must be a workspace Admin "
			    "or Member): plane.authorized_roles match "
			    "nobody");
		a->roles_forbidden = true;
		members_done(bp, false);
		return;
	}
	if (!plane_ok(status)) {
		plane_note_error(bp, status, "list workspace members", err);
		members_done(bp, true);
		return;
	}
	a->roles_forbidden = false;
	json_array_foreach (body, i, m) {
		if ((id = json_string_value(json_object_get(m, "id"))) == NULL)
			continue;
		/* the workspace's members first, the project's after: a
		 * role only counts for a member of the project */
		json_object_set_new(a->next, id,
		    json_pack("{s:s, s:s, s:O*}", "email", "", "name", id,
		        "role", json_object_get(m, "role")));
	}
	members_done(bp, false);
}

/* read_members lists the workspace's members (for their roles, when
 * roles are configured), then the project's. */
static void
read_members(struct bplane *bp)
{
	struct bauthz *a = bp->authz;

	a->busy   = true;
	a->failed = false;
	a->left   = 1;
	json_decref(a->next);
	a->next = json_object();
	if (json_array_size(a->roles) > 0) {
		a->left++;
		plane_list(bp->pl, PLANE_READ, a->ws_path, 0, NULL,
		    on_ws_members, bp);
	}
	plane_list(bp->pl, PLANE_READ, "members/", 0, NULL, on_members, bp);
}

void
plane_authz_cycle(struct bplane *bp)
{
	struct bauthz *a = bp->authz;

	if (a == NULL || !a->on || a->busy || mono_ms() < a->next_members)
		return;
	read_members(bp);
}

/* -------------------------------------------------------------- checks */

/* member_json: the project member uid, or NULL (not one, or only in the
 * workspace). */
static json_t *
member_json(struct bauthz *a, const char *uid)
{
	json_t *m = json_object_get(a->members, uid);

	if (m == NULL ||
	    *json_string_value(json_object_get(m, "email")) == '\0')
		return (NULL);
	return (m);
}

/* allowed says whether uid may trigger work; why names the rule. */
static bool
allowed(struct bauthz *a, const char *uid, const char **why)
{
	json_t *m, *r;
	size_t  i;
	char   *l;
	bool    ok;

	if (uid == NULL)
		return (false);
	l  = plane_lower(uid);
	ok = json_object_get(a->ids, l) != NULL;
	free(l);
	if (ok) {
		*why = "listed";
		return (true);
	}
	if ((m = member_json(a, uid)) == NULL)
		return (false);
	if (json_object_get(a->emails,
	        json_string_value(json_object_get(m, "email"))) != NULL) {
		*why = "listed";
		return (true);
	}
	json_array_foreach (a->roles, i, r) {
		if (!a->roles_forbidden &&
		    json_is_integer(json_object_get(m, "role")) &&
		    json_integer_value(json_object_get(m, "role")) ==
		        json_integer_value(r)) {
			*why = "role";
			return (true);
		}
	}
	return (false);
}

static const char *
who(struct bauthz *a, const char *uid)
{
	json_t *m = member_json(a, uid);

	if (uid == NULL)
		return ("nobody");
	return (m ? json_string_value(json_object_get(m, "name")) : uid);
}

static void
check_end(struct check *c)
{
	if (c->bp->authz != NULL)
		json_object_del(c->bp->authz->checking, c->id);
	free(c->id);
	free(c);
}

/* refuse records the refusal of this episode of task id (the move, or
 * its creation): the first time, one comment, the counter and the
 * event, in one transaction. */
static void
refuse(struct bplane *bp, const char *id, const char *episode,
    const char *creator, const char *mover)
{
	struct bauthz                   *a   = bp->authz;
	struct svc                      *svc = bp->svc;
	struct msg_board_trigger_refused ev;
	int64_t                          seen = 0;
	char                            *why, *body;

	(void) store_int(svc_store(svc), &seen, 0,
	    "SELECT count(*) FROM plane_refusal WHERE task_id = ? AND"
	    " episode = ?",
	    "tt", id, episode);
	if (seen > 0)
		return; /* said before (a restart, a poll) */
	why  = mover != NULL
	     ? xasprintf("it was created by %s and moved to %s by %s, and "
	                  "neither is authorized",
	           who(a, creator), BOARD_READY, who(a, mover))
	     : xasprintf("it was created by %s, who is not authorized",
	           who(a, creator));
	body = xasprintf("opcenter will not run this work item: %s "
	                 "(plane.authorized_members, "
	                 "plane.authorized_roles). An authorized member "
	                 "can move it to %s to run it.",
	    why, BOARD_READY);
	memset(&ev, 0, sizeof(ev));
	ev.task_id    = (char *) id;
	ev.provider   = "plane";
	ev.created_by = (char *) creator;
	ev.moved_by   = (char *) mover;
	ev.reason     = why;
	if (svc_begin(svc) == 0) {
		if (store_run(svc_store(svc),
		        "INSERT INTO plane_refusal(task_id, episode, at_ms)"
		        " VALUES (?, ?, ?)",
		        "tti", id, episode, now_ms()) == 0 &&
		    board_comment_post(svc, id, "opcenter", body) == 0 &&
		    svc_emit(svc, MSG_BOARD_TRIGGER_REFUSED, id, &ev) == 0) {
			(void) svc_commit(svc);
			svc_count(svc, "plane_trigger_refused", 1);
			log_warn("plane.refused", "%s: %s", id, why);
		} else
			(void) svc_rollback(svc);
	}
	free(why);
	free(body);
}

static void
on_activities(
    struct plane *pl, int status, json_t *body, const char *err, void *arg)
{
	struct check  *c     = arg;
	struct bplane *bp    = c->bp;
	struct bauthz *a     = bp->authz;
	const char    *ready = plane_state_id(bp, BOARD_READY), *why = "";
	const char    *creator = NULL, *mover = NULL, *ep = "created";
	const char    *last = NULL, *self = bp->user_id, *upd;
	json_t        *it, *v;
	size_t         i;
	char           key[128];
	int64_t        own = 0;
	bool           ok;

	(void) pl;
	snprintf(key, sizeof(key), "authz:%s", c->id);
	if (a == NULL) {
		check_end(c);
		return;
	}
	if (status == 404) { /* gone: the listing drops it */
		check_end(c);
		return;
	}
	if (!plane_ok(status)) {
		plane_note_error(bp, status, "list work item activity", err);
		plane_later(bp, key);
		check_end(c);
		return;
	}
	it      = json_object_get(a->items, c->id);
	creator = json_string_value(json_array_get(it, 0));
	upd     = json_string_value(json_array_get(it, 1));
	json_array_foreach (body, i, v) {
		const char *f = json_string_value(json_object_get(v, "field"));
		const char *ac =
		    json_string_value(json_object_get(v, "actor"));
		const char *to =
		    json_string_value(json_object_get(v, "new_identifier"));

		if (creator == NULL && f == NULL &&
		    strcmp(json_string_value(json_object_get(v, "verb"))
		            ? json_string_value(json_object_get(v, "verb"))
		            : "",
		        "created") == 0)
			creator = ac;
		if (f == NULL || strcmp(f, "state") != 0)
			continue;
		last = to;
		if (to != NULL && ready != NULL && strcmp(to, ready) == 0 &&
		    ac != NULL && (self == NULL || strcmp(ac, self) != 0)) {
			mover = ac;
			ep    = json_string_value(json_object_get(v, "id"));
		}
	}
	if (last != NULL && ready != NULL && strcmp(last, ready) != 0) {
		/* Plane writes activity in a background task: the move
		 * that made it Ready is not listed yet */
		svc_count(bp->svc, "plane_activity_lagging", 1);
		plane_later(bp, key);
		check_end(c);
		return;
	}
	if ((creator != NULL && json_object_get(a->members, creator) == NULL &&
	        mono_ms() - a->members_at > MISS_MS) ||
	    (mover != NULL && json_object_get(a->members, mover) == NULL &&
	        mono_ms() - a->members_at > MISS_MS)) {
		a->next_members = 0; /* a member we do not know yet */
		plane_later(bp, key);
		check_end(c);
		return;
	}
	if (creator != NULL && self != NULL && strcmp(creator, self) == 0) {
		/* ours: the autonomy tier put its proposal in Ready, or a
		 * campaign's step (campaign.c: its goal was authorized when
		 * it was claimed; board-sync makes the step Ready) */
		(void) store_int(svc_store(bp->svc), &own, 0,
		    "SELECT count(*) FROM proposal WHERE work_item = ? AND"
		    " (state = ? OR substr(candidate_id, 1, 9) ="
		    " 'campaign:')",
		    "tt", c->id, BOARD_READY);
		ok  = own > 0;
		why = "autonomy tier or campaign step";
	} else
		ok = allowed(a, creator, &why);
	if (!ok && mover != NULL)
		ok = allowed(a, mover, &why);
	json_object_set_new(
	    a->verdict, c->id, json_pack("[b, s]", ok, upd ? upd : ""));
	plane_forget(bp, key);
	if (ok) {
		svc_count(bp->svc, "plane_trigger_allowed", 1);
		log_info("plane.authorized", "%s: %s (%s)", c->id,
		    mover ? who(a, mover) : who(a, creator), why);
	} else
		refuse(bp, c->id, ep ? ep : "created", creator, mover);
	check_end(c);
}

bool
plane_authz_gate(struct bplane *bp, const char *task_id)
{
	struct bauthz *a = bp->authz;
	struct check  *c;
	json_t        *v;
	const char    *upd;
	char           key[128], *path;

	if (a == NULL || !a->on)
		return (true);
	upd = json_string_value(
	    json_array_get(json_object_get(a->items, task_id), 1));
	if ((v = json_object_get(a->verdict, task_id)) != NULL) {
		if (upd != NULL &&
		    strcmp(json_string_value(json_array_get(v, 1)), upd) == 0)
			return (json_is_true(json_array_get(v, 0)));
		json_object_del(a->verdict, task_id); /* changed since */
	}
	snprintf(key, sizeof(key), "authz:%s", task_id);
	if (a->members == NULL || bp->user_id == NULL ||
	    json_object_get(a->checking, task_id) != NULL ||
	    json_object_size(a->checking) >= MAX_CHECKS || !plane_due(bp, key))
		return (false);
	c     = xcalloc(1, sizeof(*c));
	c->bp = bp;
	c->id = xstrdup(task_id);
	json_object_set_new(a->checking, task_id, json_true());
	path = xasprintf("work-items/%s/activities/", task_id);
	plane_list(bp->pl, PLANE_CLAIM, path, 0, NULL, on_activities, c);
	free(path);
	return (false);
}

void
plane_authz_status(struct bplane *bp, json_t *obj)
{
	struct bauthz *a = bp->authz;
	json_t        *v;
	const char    *k;
	int64_t        refused = 0;

	if (a == NULL)
		return;
	json_object_foreach (a->verdict, k, v)
		if (!json_is_true(json_array_get(v, 0)))
			refused++;
	json_object_set_new(obj, "authorization",
	    json_pack("{s:s, s:I, s:I, s:I, s:b}", "mode",
	        a->on ? "restricted" : "open", "members",
	        (json_int_t) (a->members
	                ? (json_int_t) json_object_size(a->members)
	                : -1),
	        "checking", (json_int_t) json_object_size(a->checking),
	        "refused", (json_int_t) refused, "roles_forbidden",
	        a->roles_forbidden));
}
