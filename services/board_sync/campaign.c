/*
 * campaign.c - multi-step goal tasks, decomposed into step tasks run one
 * after another, with a campaign record (the original's CampaignStore).
 *
 * A goal task becoming Ready for AI on the local board whose title names
 * a multi-step change (a word starting refactor, migrat, redesign,
 * moderniz, audit, overhaul, restructur or rewrit: the original's
 * keywords) or that carries the label "plan: multi-step" gets a campaign
 * C-<task>, and its run is a planning run: the backend is asked for the
 * steps instead of the change, and prints each as "<!-- cp:plan: TITLE:
 * what to do -->" (the executor returns them in the result's plan; the
 * stub backend prints the original's deterministic Analyze / Implement /
 * Verify).  When that run succeeds, each step becomes a child task (kind
 * goal, labels "campaign-id: C-<parent>", "campaign-step: k/n",
 * "parent-task: <parent>", "source: campaign", request id
 * "campaign:<campaign>:<k>") with its own run: the first is Ready for AI
 * at once, the others wait in Backlog and each becomes Ready when the one
 * before ends (Done or Cancelled).  A backend that proposes no step gets
 * the stub plan (planner "stub").  The parent is Running while its steps
 * run, and ends Done when every step is Done, Blocked (for a human) when
 * the steps ended with some Cancelled.  A failed planning run is the
 * parent's failure (Blocked); moved to Ready again, it plans again.

 * Status (transition on every move of a step, in the move's transaction):
 *
 *   pending              no step has started (left Backlog/Ready for AI)
 *   in_progress          a step started or ended, not all ended
 *   complete             every step Done
 *   partially_cancelled  every step ended, some Done and some Cancelled
 *   cancelled            every step Cancelled (the original's rule)
 *
 * Each record also carries original_status, the original campaign_store's
 * rule on the same counts: done >= total -> completed, cancelled >= total
 * -> cancelled, done + cancelled > 0 -> partial, else in_progress.
 * `opc campaigns --status` takes either vocabulary (completed, partial).
 *
 * Every step that ends posts the progress on the parent as a comment
 * ("[██░] 2/3 steps done (66.7%)", each step's state) and journals
 * campaign.progress; campaign.created names the steps.
 *
 * Plane mode: the goal is a work item (claimed, then planned as above);
 * its steps become work items made by the effect loop like proposals'
 * (the proposal table, column parent): external_source "opcenter",
 * external_id "campaign:<campaign>:<k>" (Plane answers 409 with the
 * existing id for a repeat, so a kill -9 between Plane making an item
 * and board-sync recording it never makes a second one) and parent the
 * goal's work item (makeplane/plane apps/api/plane/api/serializers/
 * issue.py: IssueSerializer takes "parent", an issue of the project),
 * in Backlog with the labels "repo: <repo>", "task-kind: goal" and
 * "source: campaign".  Each item made is mirrored and recorded as a step
 * (board_campaign_step_made, in the transaction that records the item);
 * once all are, campaign.created is journaled and the first step moved
 * to Ready for AI (the claim runs it, as any Ready item).  A step's end
 * is seen from its item's state: opcenter's own moves, and a human's
 * move in Plane when the listing mirrors it (board_campaign_mirrored);
 * progress comments and the parent's moves go through the outbox.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "board.h"
#include "board_int.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/store.h"
#include "opc/util.h"

#define STEPS 3

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS campaign("
    " campaign_id TEXT PRIMARY KEY, parent_task_id TEXT NOT NULL UNIQUE,"
    " title TEXT NOT NULL, repo_key TEXT NOT NULL, planner TEXT NOT NULL,"
    " status TEXT NOT NULL, created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS campaign_step("
    " campaign_id TEXT NOT NULL, step_no INTEGER NOT NULL,"
    " task_id TEXT NOT NULL UNIQUE, PRIMARY KEY (campaign_id, step_no));";

static const char *const keywords[] = { "refactor", "migrat", "redesign",
	"moderniz", "audit", "overhaul", "restructur", "rewrit" };

/* The stub planner: the original's three subtasks. */
static const struct {
	const char *name, *what;
} plan[STEPS] = {
	{ "Analyze",
	    "Analyze: read the code this change touches and write down, in "
	    "the branch (a short notes file or comments), what has to change "
	    "and in which order. Do not make the change itself yet." },
	{ "Implement",
	    "Implement: make the change, following the analysis of the step "
	    "before." },
	{ "Verify",
	    "Verify: run and extend the tests and the validation for what the "
	    "steps before changed, and fix what fails." },
};

int
board_campaign_init(struct svc *svc)
{
	int rv;

	/* Plane mode: a step's work item names its parent */
	if ((rv = store_exec(svc_store(svc), schema)) == 0)
		rv = store_add_column(
		    svc_store(svc), "proposal", "parent", "TEXT");
	return (rv);
}

static bool
plane_mode(struct svc *svc)
{
	return (((struct board *) svc_state(svc))->plane != NULL);
}

/* label_value returns the value of the first "name: value" label of t
 * (new), or NULL. */
static char *
label_value(const struct task *t, const char *name)
{
	json_t     *l = json_loads(t->labels ? t->labels : "[]", 0, NULL), *v;
	const char *s;
	char       *out = NULL;
	size_t      i, n = strlen(name);

	json_array_foreach (l, i, v) {
		s = json_string_value(v);
		if (s == NULL || strncasecmp(s, name, n) != 0 || s[n] != ':')
			continue;
		s += n + 1;
		while (*s == ' ')
			s++;
		out = xstrdup(s);
		break;
	}
	json_decref(l);
	return (out);
}

/* step_campaign returns the campaign t is a step of (new), or NULL: its
 * "campaign-id" label (local board), else its campaign_step row (Plane
 * steps carry no per-campaign label). */
static char *
step_campaign(struct svc *svc, const struct task *t)
{
	struct store_stmt *st;
	char              *cid;

	if ((cid = label_value(t, "campaign-id")) != NULL)
		return (cid);
	if (store_prep(svc_store(svc), &st,
	        "SELECT campaign_id FROM campaign_step WHERE task_id = ?") !=
	    0)
		return (NULL);
	store_bind_text(st, 1, t->task_id);
	if (store_step(st) == 1)
		cid = store_col_dup(st, 0);
	store_done(st);
	return (cid);
}

/* is_step: a campaign's step is never split again (its title names the
 * parent's change). */
static bool
is_step(struct svc *svc, const struct task *t)
{
	char *v;
	bool  yes;

	if ((v = label_value(t, "source")) != NULL) {
		yes = strcasecmp(v, "campaign") == 0;
		free(v);
		if (yes)
			return (true);
	}
	if ((v = step_campaign(svc, t)) != NULL) {
		free(v);
		return (true);
	}
	return (false);
}

/* start_step moves step id to Ready for AI: on the local board it runs
 * at once; in Plane mode the claim runs it once Plane has the move. */
static int
start_step(struct svc *svc, const char *id)
{
	struct task s;
	int         rv;

	if ((rv = board_task_get(svc, id, &s)) != 0)
		return (rv);
	rv = board_move(svc, &s, BOARD_READY, "campaign_step", NULL, NULL);
	if (rv == 0 && !plane_mode(svc))
		rv = board_ready(svc, &s);
	board_task_fini(&s);
	return (rv);
}

static bool
multi_step(const struct task *t)
{
	char  *low, *v;
	size_t i, k, n;
	bool   yes = false;

	if ((v = label_value(t, "plan")) != NULL) {
		yes = strcasecmp(v, "multi-step") == 0;
		free(v);
		if (yes)
			return (true);
	}
	low = xstrdup(t->title ? t->title : "");
	for (i = 0; low[i] != '\0'; i++)
		low[i] = (char) tolower((unsigned char) low[i]);
	for (i = 0; low[i] != '\0' && !yes; i++) {
		if (i > 0 && isalnum((unsigned char) low[i - 1]))
			continue;
		for (k = 0; k < nitems(keywords) && !yes; k++) {
			n   = strlen(keywords[k]);
			yes = strncmp(low + i, keywords[k], n) == 0;
		}
	}
	free(low);
	return (yes);
}

/* steps_json reads the campaign's steps: [{task_id, title, state}]. */
static json_t *
steps_json(struct svc *svc, const char *cid)
{
	struct store_stmt *st;
	json_t            *a = json_array();

	if (store_prep(svc_store(svc), &st,
	        "SELECT s.task_id, t.title, t.state FROM campaign_step s JOIN"
	        " task t ON t.task_id = s.task_id WHERE s.campaign_id = ?"
	        " ORDER BY s.step_no") != 0)
		return (a);
	store_bind_text(st, 1, cid);
	while (store_step(st) == 1)
		json_array_append_new(a,
		    json_pack("{s:s, s:s, s:s}", "task_id",
		        store_col_text(st, 0), "title", store_col_text(st, 1),
		        "state", store_col_text(st, 2)));
	store_done(st);
	return (a);
}

struct tally {
	int64_t     total, done, cancelled;
	bool        started, active;
	const char *next; /* first step in Backlog (borrowed), or NULL */
	const char *status;
	const char *orig; /* the original campaign_store's status */
	double      pct;
};

static void
tally(const json_t *steps, struct tally *y)
{
	const char *s;
	json_t     *v;
	size_t      i;

	memset(y, 0, sizeof(*y));
	json_array_foreach (steps, i, v) {
		s = json_string_value(json_object_get(v, "state"));
		y->total++;
		if (strcmp(s, "Done") == 0)
			y->done++;
		else if (strcmp(s, "Cancelled") == 0)
			y->cancelled++;
		else if (strcmp(s, "Backlog") == 0) {
			if (y->next == NULL)
				y->next = json_string_value(
				    json_object_get(v, "task_id"));
			continue;
		} else
			y->active = true;
		if (strcmp(s, "Ready for AI") != 0)
			y->started = true;
	}
	/* one decimal, rounded (the original's progress_pct) */
	y->pct = y->total > 0
	    ? (double) ((y->done * 1000 + y->total / 2) / y->total) / 10.0
	    : 0.0;
	if (y->total > 0 && y->done == y->total)
		y->status = "complete";
	else if (y->total > 0 && y->cancelled == y->total)
		y->status = "cancelled";
	else if (y->total > 0 && y->done + y->cancelled == y->total)
		y->status = "partially_cancelled";
	else if (y->started)
		y->status = "in_progress";
	else
		y->status = "pending";
	if (y->total > 0 && y->done >= y->total)
		y->orig = "completed";
	else if (y->total > 0 && y->cancelled >= y->total)
		y->orig = "cancelled";
	else if (y->done + y->cancelled > 0)
		y->orig = "partial";
	else
		y->orig = "in_progress";
}

static int
progress_event(struct svc *svc, const char *cid, const char *parent,
    const struct tally *y, const struct task *step)
{
	struct msg_campaign_progress ev;

	memset(&ev, 0, sizeof(ev));
	ev.campaign_id     = (char *) cid;
	ev.parent_task_id  = (char *) parent;
	ev.status          = (char *) y->status;
	ev.total_steps     = y->total;
	ev.completed_steps = y->done;
	ev.cancelled_steps = y->cancelled;
	ev.progress_pct    = y->pct;
	if (step != NULL) {
		ev.step_id    = step->task_id;
		ev.step_state = step->state;
	}
	return (svc_emit(svc, MSG_CAMPAIGN_PROGRESS, cid, &ev));
}

/* progress_text: the parent's comment. */
static char *
progress_text(const char *cid, const json_t *steps, const struct tally *y)
{
	struct buf b;
	json_t    *v;
	size_t     i;

	buf_init(&b);
	buf_printf(&b, "Campaign %s: [", cid);
	for (i = 0; i < (size_t) y->total; i++)
		buf_puts(&b,
		    (int64_t) i < y->done ? "\xe2\x96\x88" : "\xe2\x96\x91");
	buf_printf(&b,
	    "] %lld/%lld steps done (%.1f%%), %lld cancelled - %s\n",
	    (long long) y->done, (long long) y->total, y->pct,
	    (long long) y->cancelled, y->status);
	json_array_foreach (steps, i, v)
		buf_printf(&b, "- %s %s: %s\n",
		    json_string_value(json_object_get(v, "task_id")),
		    json_string_value(json_object_get(v, "title")),
		    json_string_value(json_object_get(v, "state")));
	return (buf_cstr(&b));
}

/* campaign_of returns the id of the campaign of parent t (new), with
 * *nsteps its steps so far, or NULL. */
static char *
campaign_of(struct svc *svc, const char *task_id, int64_t *nsteps)
{
	struct store_stmt *st;
	char              *cid = NULL, *prefix;

	*nsteps = 0;
	if (store_prep(svc_store(svc), &st,
	        "SELECT campaign_id FROM campaign WHERE parent_task_id = ?") !=
	    0)
		return (NULL);
	store_bind_text(st, 1, task_id);
	if (store_step(st) == 1)
		cid = store_col_dup(st, 0);
	store_done(st);
	prefix = xasprintf("campaign:%s:", cid ? cid : "");
	/* in Plane mode, planned steps whose work items are not made yet
	 * count too */
	if (cid != NULL)
		(void) store_int(svc_store(svc), nsteps, 0,
		    "SELECT (SELECT count(*) FROM campaign_step WHERE"
		    " campaign_id = ?) + (SELECT count(*) FROM proposal WHERE"
		    " substr(candidate_id, 1, length(?)) = ? AND work_item"
		    " IS NULL)",
		    "ttt", cid, prefix, prefix);
	free(prefix);
	return (cid);
}

static char *
plan_prompt(const struct task *t, const char *cid)
{
	return (xasprintf(
	    "Plan this multi-step change (campaign %s) as a short sequence "
	    "of steps, each small enough for one run, in the order they "
	    "must be done.  Do not make the change.  Print each step on its "
	    "own line as\n<!-- cp:plan: TITLE: what to do -->\n\n"
	    "The change: %s\n\n%s",
	    cid, t->title, t->goal && *t->goal ? t->goal : t->title));
}

int
board_campaign_ready(struct svc *svc, struct task *t, char **plan_goal)
{
	char    cid[64], *c;
	int64_t nsteps = 0;
	int     rv;

	*plan_goal = NULL;
	if (strcmp(t->kind, "goal") != 0 || !multi_step(t) || is_step(svc, t))
		return (1);
	if ((c = campaign_of(svc, t->task_id, &nsteps)) != NULL) {
		/* planned before: the parent runs as a task now; else its
		 * planning run is tried again */
		if (nsteps == 0)
			*plan_goal = plan_prompt(t, c);
		free(c);
		return (1);
	}
	snprintf(cid, sizeof(cid), "C-%s", t->task_id);
	if ((rv = store_run(svc_store(svc),
	         "INSERT INTO campaign(campaign_id, parent_task_id, title,"
	         " repo_key, planner, status, created_at, updated_at) VALUES"
	         " (?, ?, ?, ?, 'backend', 'pending', ?, ?)",
	         "ttttii", cid, t->task_id, t->title, t->repo_key, now_ms(),
	         now_ms())) != 0)
		return (rv);
	c  = xasprintf("Multi-step change: campaign %s.  This run asks the "
	                "backend for its plan; each step it proposes becomes a "
	                "task of its own, run one after another.",
	     cid);
	rv = board_comment_post(svc, t->task_id, "board-sync", c);
	free(c);
	if (rv != 0)
		return (rv);
	log_info("board.campaign", "%s: %s: planning run (%s)", t->task_id,
	    cid, t->title);
	*plan_goal = plan_prompt(t, cid);
	return (1);
}

/* step_title: "<item up to its first colon, 80 bytes>: <parent title>". */
static char *
step_title(const char *item, const char *parent)
{
	size_t n = strcspn(item, ":\r\n");

	if (n > 80)
		n = 80;
	while (n > 0 && ((unsigned char) item[n] & 0xC0) == 0x80)
		n--; /* never cut a UTF-8 sequence */
	return (xasprintf("%.*s: %s", (int) n, item, parent));
}

static char *
step_goal(size_t k, size_t n, const char *cid, const struct task *t,
    const char *item)
{
	return (xasprintf("Step %zu of %zu of campaign %s (%s, task %s).\n"
	                  "\n%s\n\nThe whole change:\n%s",
	    k + 1, n, cid, t->title, t->task_id, item,
	    t->goal && *t->goal ? t->goal : t->title));
}

/* planned records who planned campaign cid ("backend" or "stub"). */
static int
planned(struct svc *svc, const char *cid, const char *planner)
{
	return (store_run(svc_store(svc),
	    "UPDATE campaign SET planner = ?, updated_at = ? WHERE"
	    " campaign_id = ?",
	    "tit", planner, now_ms(), cid));
}

/* tell_planned says on the goal t that campaign cid is planned (by
 * planner, in n steps; then more), moving it to Running unless it is. */
static int
tell_planned(struct svc *svc, struct task *t, const char *cid,
    const char *planner, size_t n, const char *more)
{
	char *v  = xasprintf("Campaign %s planned (%s): %zu steps, one after "
	                      "another.%s",
	     cid,
            strcmp(planner, "stub") == 0
	         ? "the backend proposed no plan: the stub plan"
	         : "the backend's plan",
	     n, more);
	int   rv = strcmp(t->state, "Running") == 0
	      ? board_comment_post(svc, t->task_id, "board-sync", v)
	      : board_move(
	            svc, t, "Running", "campaign_started", v, "board-sync");

	free(v);
	return (rv);
}

/* plan_plane queues the steps' work items (the proposal table: the
 * effect loop makes them, external id = request id, parent = t) and
 * tells the parent; board_campaign_step_made takes it from there. */
static int
plan_plane(struct svc *svc, struct task *t, const char *cid,
    const struct msg_strs *items, const char *planner)
{
	json_t *l;
	char   *title, *goal, *rid, *prov, *labels, *v;
	size_t  k;
	int     rv = 0;

	v = xasprintf("repo: %s", t->repo_key);
	l = json_pack("[s, s, s]", v, "task-kind: goal", "source: campaign");
	labels = json_dumps(l, JSON_COMPACT);
	json_decref(l);
	free(v);
	for (k = 0; k < items->n && rv == 0; k++) {
		title = step_title(items->v[k], t->title);
		goal  = step_goal(k, items->n, cid, t, items->v[k]);
		rid   = xasprintf("campaign:%s:%zu", cid, k + 1);
		prov = xasprintf("## Proposal provenance\n- source: campaign\n"
		                 "- campaign_id: %s\n- step: %zu/%zu\n- "
		                 "parent: %s",
		    cid, k + 1, items->n, t->task_id);
		rv   = store_run(svc_store(svc),
		      "INSERT OR IGNORE INTO proposal(candidate_id, title, goal,"
		        " repo, labels, state, received_ms, provenance, parent)"
		        " VALUES (?, ?, ?, ?, ?, 'Backlog', ?, ?, ?)",
		      "tttttitt", rid, title, goal, t->repo_key, labels,
		      now_ms(), prov, t->task_id);
		free(title);
		free(goal);
		free(rid);
		free(prov);
	}
	free(labels);
	if (rv == 0)
		rv = planned(svc, cid, planner);
	if (rv == 0)
		rv = tell_planned(svc, t, cid, planner, items->n,
		    "  Their work items are being made (children of this "
		    "one); the first runs once all are there.");
	if (rv == 0)
		log_info("board.campaign",
		    "%s: %s: %zu steps (%s), queued for "
		    "Plane",
		    t->task_id, cid, items->n, planner);
	return (rv);
}

int
board_campaign_planned(
    struct svc *svc, struct task *t, const struct msg_exec_finished *f)
{
	static const struct msg_strs none;
	const struct msg_strs       *items = &none;
	struct msg_campaign_created  ev;
	struct msg_board_task_add    a;
	struct msg_strs              stub = { 0 };
	struct tally                 y;
	json_t                      *data, *steps;
	char                         err[256] = "", *goal, *title, *rid, *lab;
	char                        *cid, *c, *v;
	const char                  *planner = "backend";
	int64_t                      nsteps;
	size_t                       k;
	int                          rv = 0;

	if (!f->success ||
	    (cid = campaign_of(svc, t->task_id, &nsteps)) == NULL)
		return (1);
	if (nsteps > 0) {
		free(cid);
		return (1);
	}
	if (f->result != NULL && f->result->plan.n > 0)
		items = &f->result->plan;
	else {
		/* the backend proposed nothing: the stub plan */
		for (k = 0; k < STEPS; k++) {
			v = xasprintf("%s: %s", plan[k].name, plan[k].what);
			msg_strs_add(&stub, v);
			free(v);
		}
		items   = &stub;
		planner = "stub";
	}
	if (plane_mode(svc)) {
		rv = plan_plane(svc, t, cid, items, planner);
		msg_strs_fini(&stub);
		free(cid);
		return (rv);
	}
	memset(&ev, 0, sizeof(ev));
	for (k = 0; k < items->n && rv == 0; k++) {
		memset(&a, 0, sizeof(a));
		title        = step_title(items->v[k], t->title);
		goal         = step_goal(k, items->n, cid, t, items->v[k]);
		rid          = xasprintf("campaign:%s:%zu", cid, k + 1);
		a.repo_key   = t->repo_key;
		a.goal       = goal;
		a.title      = title;
		a.kind       = "goal";
		a.request_id = rid;
		a.state      = MSG_TASK_STATE_BACKLOG;
		lab          = xasprintf("campaign-id: %s", cid);
		msg_strs_add(&a.labels, lab);
		free(lab);
		lab = xasprintf("campaign-step: %zu/%zu", k + 1, items->n);
		msg_strs_add(&a.labels, lab);
		free(lab);
		lab = xasprintf("parent-task: %s", t->task_id);
		msg_strs_add(&a.labels, lab);
		free(lab);
		lab = xasprintf("repo: %s", t->repo_key);
		msg_strs_add(&a.labels, lab);
		free(lab);
		msg_strs_add(&a.labels, "task-kind: goal");
		msg_strs_add(&a.labels, "source: campaign");
		data = NULL;
		rv   = board_task_create(
		      svc, &a, "campaign", false, &data, err, sizeof(err));
		if (rv == 0) {
			msg_strs_add(&ev.step_ids,
			    json_string_value(
			        json_object_get(data, "task_id")));
			rv = store_run(svc_store(svc),
			    "INSERT INTO campaign_step(campaign_id, step_no,"
			    " task_id) VALUES (?, ?, ?)",
			    "tit", cid, (int64_t) (k + 1),
			    json_string_value(
			        json_object_get(data, "task_id")));
		}
		json_decref(data);
		msg_strs_fini(&a.labels);
		free(title);
		free(goal);
		free(rid);
	}
	if (rv == 0)
		rv = planned(svc, cid, planner);
	if (rv == 0) {
		ev.campaign_id    = cid;
		ev.parent_task_id = t->task_id;
		ev.title          = t->title;
		ev.planner        = (char *) planner;
		rv = svc_emit(svc, MSG_CAMPAIGN_CREATED, cid, &ev);
	}
	steps = steps_json(svc, cid);
	tally(steps, &y);
	if (rv == 0) {
		c  = progress_text(cid, steps, &y);
		v  = xasprintf("\n\n%s", c);
		rv = tell_planned(svc, t, cid, planner, items->n, v);
		free(c);
		free(v);
	}
	/* the first step runs now */
	if (rv == 0 && y.next != NULL)
		rv = start_step(svc, y.next);
	if (rv == 0)
		rv = progress_event(svc, cid, t->task_id, &y, NULL);
	if (rv == 0)
		log_info("board.campaign", "%s: %s: %zu steps (%s)",
		    t->task_id, cid, items->n, planner);
	else
		log_warn("board.campaign", "%s: cannot plan it: %s",
		    t->task_id, err[0] ? err : err_str(rv));
	json_decref(steps);
	msg_strs_fini(&ev.step_ids);
	msg_strs_fini(&stub);
	free(cid);
	return (rv == 0 ? 0 : rv);
}

int
board_campaign_moved(struct svc *svc, const struct task *t)
{
	struct store_stmt *st;
	struct task        p;
	struct tally       y;
	json_t            *steps;
	char              *cid, *parent = NULL, *old = NULL, *c;
	bool               ended;
	int                rv = 0;

	if ((cid = step_campaign(svc, t)) == NULL)
		return (0);
	if (store_prep(svc_store(svc), &st,
	        "SELECT parent_task_id, status FROM campaign WHERE"
	        " campaign_id = ?") == 0) {
		store_bind_text(st, 1, cid);
		if (store_step(st) == 1) {
			parent = store_col_dup(st, 0);
			old    = store_col_dup(st, 1);
		}
		store_done(st);
	}
	if (parent == NULL) {
		free(cid);
		return (0);
	}
	steps = steps_json(svc, cid);
	tally(steps, &y);
	ended = strcmp(t->state, "Done") == 0 ||
	    strcmp(t->state, "Cancelled") == 0;
	if (strcmp(old, y.status) == 0 && !ended)
		goto out;
	rv = store_run(svc_store(svc),
	    "UPDATE campaign SET status = ?, updated_at = ? WHERE"
	    " campaign_id = ?",
	    "tit", y.status, now_ms(), cid);
	if (rv == 0)
		rv = progress_event(svc, cid, parent, &y, t);
	if (rv != 0 || !ended)
		goto out;
	c = progress_text(cid, steps, &y);
	if ((rv = board_task_get(svc, parent, &p)) == 0) {
		if (strcmp(y.status, "complete") == 0)
			rv = board_move(svc, &p, "Done", "campaign_complete",
			    c, "board-sync");
		else if (strcmp(y.status, "partially_cancelled") == 0 ||
		    strcmp(y.status, "cancelled") == 0)
			rv = board_move(svc, &p, "Blocked",
			    strcmp(y.status, "cancelled") == 0
			        ? "campaign_cancelled"
			        : "campaign_partially_cancelled",
			    c, "board-sync");
		else
			rv = board_comment_post(svc, parent, "board-sync", c);
		board_task_fini(&p);
	} else if (rv == ERR_NOTFOUND)
		rv = 0;
	free(c);
	/* the next step, once none runs */
	if (rv == 0 && !y.active && y.next != NULL)
		rv = start_step(svc, y.next);
	if (rv == 0)
		log_info("board.campaign", "%s: %s %s: %lld/%lld done - %s",
		    cid, t->task_id, t->state, (long long) y.done,
		    (long long) y.total, y.status);
out:
	json_decref(steps);
	free(cid);
	free(parent);
	free(old);
	return (rv);
}

int
board_campaign_mirrored(
    struct svc *svc, const char *task_id, const char *old_state)
{
	struct task t;
	int         rv = 0;

	if (old_state == NULL || board_task_get(svc, task_id, &t) != 0)
		return (0);
	if (strcmp(t.state, old_state) != 0)
		rv = board_campaign_moved(svc, &t);
	board_task_fini(&t);
	return (rv);
}

/* steps_made: every step of cid has its work item: campaign.created,
 * the parent told, the first step started. */
static int
steps_made(struct svc *svc, const char *cid)
{
	struct msg_campaign_created ev;
	struct store_stmt          *st;
	struct tally                y;
	json_t                     *steps, *v;
	char                       *parent = NULL, *title = NULL;
	char                       *planner = NULL, *c, *m;
	size_t                      i;
	int                         rv;

	if ((rv = store_prep(svc_store(svc), &st,
	         "SELECT parent_task_id, title, planner FROM campaign WHERE"
	         " campaign_id = ?")) != 0)
		return (rv);
	store_bind_text(st, 1, cid);
	if (store_step(st) == 1) {
		parent  = store_col_dup(st, 0);
		title   = store_col_dup(st, 1);
		planner = store_col_dup(st, 2);
	}
	store_done(st);
	if (parent == NULL)
		return (0);
	steps = steps_json(svc, cid);
	tally(steps, &y);
	memset(&ev, 0, sizeof(ev));
	json_array_foreach (steps, i, v)
		msg_strs_add(&ev.step_ids,
		    json_string_value(json_object_get(v, "task_id")));
	ev.campaign_id    = (char *) cid;
	ev.parent_task_id = parent;
	ev.title          = title;
	ev.planner        = planner;
	rv                = svc_emit(svc, MSG_CAMPAIGN_CREATED, cid, &ev);
	if (rv == 0) {
		c  = progress_text(cid, steps, &y);
		m  = xasprintf("Campaign %s: the %lld steps' work items are "
		                "made.\n\n%s",
		     cid, (long long) y.total, c);
		rv = board_comment_post(svc, parent, "board-sync", m);
		free(c);
		free(m);
	}
	if (rv == 0 && !y.active && y.next != NULL)
		rv = start_step(svc, y.next);
	if (rv == 0)
		rv = progress_event(svc, cid, parent, &y, NULL);
	if (rv == 0)
		log_info("board.campaign", "%s: %s: %lld step items made",
		    parent, cid, (long long) y.total);
	json_decref(steps);
	msg_strs_fini(&ev.step_ids);
	free(parent);
	free(title);
	free(planner);
	return (rv);
}

int
board_campaign_step_made(
    struct svc *svc, const char *request_id, const char *item_id)
{
	const char *p, *colon;
	char       *cid, *prefix;
	int64_t     k, left = 1;
	int         rv;

	if (strncmp(request_id, "campaign:", 9) != 0)
		return (0);
	p = request_id + 9;
	if ((colon = strrchr(p, ':')) == NULL || colon == p ||
	    (k = strtoll(colon + 1, NULL, 10)) <= 0)
		return (0);
	cid    = xstrndup(p, (size_t) (colon - p));
	prefix = xasprintf("campaign:%s:", cid);
	/* the mirror's row, as asked (the listing keeps it up to date; it
	 * may have been listed already: a made item recorded late) */
	rv = store_run(svc_store(svc),
	    "INSERT OR IGNORE INTO task(task_id, title, goal, repo_key, kind,"
	    " labels, description, state, created_at, updated_at) SELECT ?,"
	    " title, goal, repo, 'goal', labels, goal || char(10) ||"
	    " char(10) || coalesce(provenance, ''), state, ?, ? FROM"
	    " proposal WHERE candidate_id = ?",
	    "tiit", item_id, now_ms(), now_ms(), request_id);
	if (rv == 0)
		rv = store_run(svc_store(svc),
		    "INSERT OR IGNORE INTO campaign_step(campaign_id, step_no,"
		    " task_id) VALUES (?, ?, ?)",
		    "tit", cid, k, item_id);
	if (rv == 0)
		rv = store_int(svc_store(svc), &left, 1,
		    "SELECT count(*) FROM proposal WHERE substr(candidate_id,"
		    " 1, length(?)) = ? AND work_item IS NULL",
		    "tt", prefix, prefix);
	if (rv == 0 && left == 0)
		rv = steps_made(svc, cid);
	free(prefix);
	free(cid);
	return (rv);
}

int
board_campaign_ctl_list(struct svc *svc, const struct msg *req, json_t **data,
    char *err, size_t errlen, void *state)
{
	const char        *want = req->body.board_campaigns.status;
	const char        *orig = NULL;
	struct store_stmt *st;
	struct tally       y;
	json_t            *a = json_array(), *steps, *ids, *done, *canc, *v;
	const char        *s;
	char               c[40], u[40];
	size_t             i;
	int                rv;

	(void) state;
	if (want != NULL && *want == '\0')
		want = NULL;
	/* the original's names: completed is ours complete; partial is
	 * the original's rule, applied to each record's counts */
	if (want != NULL && strcmp(want, "completed") == 0)
		want = "complete";
	else if (want != NULL && strcmp(want, "partial") == 0) {
		orig = want;
		want = NULL;
	}
	if (want != NULL && strcmp(want, "pending") != 0 &&
	    strcmp(want, "in_progress") != 0 &&
	    strcmp(want, "complete") != 0 &&
	    strcmp(want, "partially_cancelled") != 0 &&
	    strcmp(want, "cancelled") != 0) {
		snprintf(err, errlen,
		    "status is pending, in_progress, complete, "
		    "partially_cancelled or cancelled (or the original's "
		    "completed, partial), not '%s'",
		    want);
		json_decref(a);
		return (ERR_INVAL);
	}
	if ((rv = store_prep(svc_store(svc), &st,
	         "SELECT campaign_id, parent_task_id, title, repo_key, "
	         "planner,"
	         " status, created_at, updated_at FROM campaign WHERE"
	         " (?1 IS NULL OR status = ?1) ORDER BY created_at,"
	         " campaign_id")) != 0) {
		json_decref(a);
		return (rv);
	}
	if (want != NULL)
		store_bind_text(st, 1, want);
	else
		store_bind_null(st, 1);
	while (store_step(st) == 1) {
		steps = steps_json(svc, store_col_text(st, 0));
		tally(steps, &y);
		if (orig != NULL && strcmp(orig, y.orig) != 0) {
			json_decref(steps);
			continue;
		}
		ids  = json_array();
		done = json_array();
		canc = json_array();
		json_array_foreach (steps, i, v) {
			s = json_string_value(json_object_get(v, "state"));
			json_array_append(ids, json_object_get(v, "task_id"));
			if (strcmp(s, "Done") == 0)
				json_array_append(
				    done, json_object_get(v, "task_id"));
			else if (strcmp(s, "Cancelled") == 0)
				json_array_append(
				    canc, json_object_get(v, "task_id"));
		}
		json_array_append_new(a,
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, "
		              "s:o, s:o, s:I, s:I, s:f, s:s, s:s}",
		        "campaign_id", store_col_text(st, 0), "parent_task_id",
		        store_col_text(st, 1), "title", store_col_text(st, 2),
		        "repo_key", store_col_text(st, 3), "planner",
		        store_col_text(st, 4), "status", store_col_text(st, 5),
		        "original_status", y.orig, "step_ids", ids,
		        "done_step_ids", done, "cancelled_step_ids", canc,
		        "steps", steps, "total_steps", (json_int_t) y.total,
		        "completed_steps", (json_int_t) y.done, "progress_pct",
		        y.pct, "created_at",
		        iso8601(store_col_int(st, 6), c, sizeof(c)),
		        "updated_at",
		        iso8601(store_col_int(st, 7), u, sizeof(u))));
	}
	store_done(st);
	*data = json_pack("{s:o}", "campaigns", a);
	return (0);
}
