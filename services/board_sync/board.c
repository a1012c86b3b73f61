/*
 * board.c - board-sync on the embedded local board (see board.h).
 *
 * Tables: task (the board), comment, superseded (the runs the router took
 * back: their late events decide nothing).  Handlers apply outcomes; the
 * ctl operations are the operator's writes.  Every state change is one
 * transaction that also journals task.updated, so the board and the bus
 * never disagree.
 */
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "board_int.h"
#include "conf.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/outcome.h"
#include "opc/store.h"
#include "opc/util.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS task("
    " n INTEGER PRIMARY KEY AUTOINCREMENT,"
    " task_id TEXT UNIQUE, title TEXT NOT NULL, goal TEXT NOT NULL,"
    " repo_key TEXT NOT NULL, kind TEXT NOT NULL, labels TEXT NOT NULL,"
    " description TEXT, state TEXT NOT NULL, attempt INTEGER NOT NULL"
    " DEFAULT 0, request_id TEXT UNIQUE, last_run_id TEXT,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS comment("
    " id INTEGER PRIMARY KEY, task_id TEXT NOT NULL, at INTEGER NOT NULL,"
    " author TEXT NOT NULL, body TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS comment_task ON comment(task_id);"
    "CREATE TABLE IF NOT EXISTS superseded("
    " run_id TEXT PRIMARY KEY, task_id TEXT NOT NULL, by_run_id TEXT,"
    " at INTEGER NOT NULL);"
    /* Plane mode: changes to push to Plane, in order (the outbox) */
    "CREATE TABLE IF NOT EXISTS outbox("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL,"
    " state TEXT, comment TEXT, created_ms INTEGER NOT NULL,"
    " done INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL"
    " DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS claim("
    " task_id TEXT PRIMARY KEY, nonce TEXT NOT NULL,"
    " active INTEGER NOT NULL, at_ms INTEGER NOT NULL);"
    /* Plane mode: this instance's claims not finished yet (see
     * plane_claim.c): resumed or retracted, never left behind */
    "CREATE TABLE IF NOT EXISTS plane_claim("
    " task_id TEXT PRIMARY KEY, nonce TEXT NOT NULL, comment_id TEXT,"
    " phase TEXT NOT NULL, posted_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL);"
    /* Plane mode: small facts kept across restarts (db_id, the missing
     * states reported) */
    "CREATE TABLE IF NOT EXISTS plane_meta("
    " k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    /* awaiting_input: the question asked, and the human answer */
    "CREATE TABLE IF NOT EXISTS question("
    " task_id TEXT PRIMARY KEY, question TEXT NOT NULL,"
    " asked_ms INTEGER NOT NULL, answer TEXT);"
    /* Plane mode: proposals to create as work items (external_id) */
    "CREATE TABLE IF NOT EXISTS proposal("
    " candidate_id TEXT PRIMARY KEY, title TEXT NOT NULL,"
    " goal TEXT NOT NULL, repo TEXT NOT NULL, labels TEXT NOT NULL,"
    " state TEXT NOT NULL, received_ms INTEGER NOT NULL,"
    " work_item TEXT);"
    /* Plane mode: a rescored priority to PATCH onto its work item */
    "CREATE TABLE IF NOT EXISTS priority_push("
    " task_id TEXT PRIMARY KEY, priority TEXT NOT NULL,"
    " done INTEGER NOT NULL DEFAULT 0);";

bool
board_state_valid(const char *s)
{
	return (board_state(s) != MSG_TASK_STATE__UNSET);
}

enum msg_task_state
board_state(const char *s)
{
	enum msg_task_state v = MSG_TASK_STATE__UNSET;

	if (s != NULL)
		(void) msg_task_state_parse(s, &v);
	return (v);
}

bool
board_kind_known(const char *kind)
{
	return (kind != NULL &&
	    (strcmp(kind, "goal") == 0 || strcmp(kind, "test") == 0 ||
	        strcmp(kind, "improve") == 0));
}

static bool
terminal(const char *s)
{
	return (strcmp(s, "Done") == 0 || strcmp(s, "Cancelled") == 0);
}

/* ------------------------------------------------------------ task rows */

void
board_task_fini(struct task *t)
{
	free(t->task_id);
	free(t->title);
	free(t->goal);
	free(t->repo_key);
	free(t->kind);
	free(t->labels);
	free(t->desc);
	free(t->state);
	free(t->last_run_id);
	free(t->priority);
	memset(t, 0, sizeof(*t));
}

#define TASK_COLS                                                           \
	"task_id, title, goal, repo_key, kind, labels, description, state," \
	" attempt, last_run_id, created_at, updated_at, priority"

static void
task_read(struct store_stmt *st, struct task *t)
{
	t->task_id     = store_col_dup(st, 0);
	t->title       = store_col_dup(st, 1);
	t->goal        = store_col_dup(st, 2);
	t->repo_key    = store_col_dup(st, 3);
	t->kind        = store_col_dup(st, 4);
	t->labels      = store_col_dup(st, 5);
	t->desc        = store_col_dup(st, 6);
	t->state       = store_col_dup(st, 7);
	t->attempt     = store_col_int(st, 8);
	t->last_run_id = store_col_dup(st, 9);
	t->created_at  = store_col_int(st, 10);
	t->updated_at  = store_col_int(st, 11);
	t->priority    = store_col_dup(st, 12);
}

/* board_task_get loads one task; ERR_NOTFOUND when there is none. */
int
board_task_get(struct svc *svc, const char *task_id, struct task *t)
{
	struct store_stmt *st;
	int                rv;

	memset(t, 0, sizeof(*t));
	if ((rv = store_prep(svc_store(svc), &st,
	         "SELECT " TASK_COLS " FROM task WHERE task_id = ?")) != 0)
		return (rv);
	store_bind_text(st, 1, task_id);
	if ((rv = store_step(st)) == 1) {
		task_read(st, t);
		rv = 0;
	} else if (rv == 0)
		rv = ERR_NOTFOUND;
	store_done(st);
	return (rv);
}

static json_t *
task_json(const struct task *t)
{
	char    a[40], b[40];
	json_t *labels = json_loads(t->labels ? t->labels : "[]", 0, NULL);

	return (json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s?, s:s, s:I, "
	                  "s:s?, s:s, s:s, s:s?}",
	    "task_id", t->task_id, "title", t->title, "goal", t->goal,
	    "repo_key", t->repo_key, "kind", t->kind, "labels",
	    labels ? labels : json_array(), "description", t->desc, "state",
	    t->state, "attempt", (json_int_t) t->attempt, "last_run_id",
	    t->last_run_id, "created_at", iso8601(t->created_at, a, sizeof(a)),
	    "updated_at", iso8601(t->updated_at, b, sizeof(b)), "priority",
	    t->priority));
}

static int
comment_add(
    struct svc *svc, const char *task_id, const char *author, const char *body)
{
	return (store_run(svc_store(svc),
	    "INSERT INTO comment(task_id, at, author, body) "
	    "VALUES (?, ?, ?, ?)",
	    "titt", task_id, now_ms(), author, body));
}

/* board_comment_post adds a comment without a move: on the local board, and
 * pushed to Plane by the outbox. */
int
board_comment_post(
    struct svc *svc, const char *task_id, const char *author, const char *body)
{
	int rv;

	if ((rv = comment_add(svc, task_id, author, body)) == 0 &&
	    ((struct board *) svc_state(svc))->plane != NULL)
		rv = store_run(svc_store(svc),
		    "INSERT INTO outbox(task_id, state, comment, created_ms)"
		    " VALUES (?, NULL, ?, ?)",
		    "tti", task_id, body, now_ms());
	return (rv);
}

/* board_move changes a task's state (inside the caller's transaction) and
 * journals task.updated; a comment, when given, is added too. */
int
board_move(struct svc *svc, struct task *t, const char *state,
    const char *reason, const char *comment, const char *author)
{
	struct msg_task_updated ev;
	int                     rv;

	if ((rv = store_run(svc_store(svc),
	         "UPDATE task SET state = ?, updated_at = ? WHERE task_id = ?",
	         "tit", state, now_ms(), t->task_id)) != 0)
		return (rv);
	if (comment != NULL &&
	    (rv = comment_add(svc, t->task_id, author, comment)) != 0)
		return (rv);
	if (((struct board *) svc_state(svc))->plane != NULL) {
		/* the effect loop pushes it at its next tick */
		if ((rv = store_run(svc_store(svc),
		         "INSERT INTO outbox(task_id, state, "
		         "comment, created_ms)"
		         " VALUES (?, ?, ?, ?)",
		         "ttti", t->task_id, state, comment, now_ms())) != 0)
			return (rv);
	}
	memset(&ev, 0, sizeof(ev));
	ev.task_id    = t->task_id;
	ev.state      = board_state(state);
	ev.prev_state = board_state(t->state);
	ev.reason     = (char *) reason;
	ev.comment    = (char *) comment;
	if ((rv = svc_emit(svc, MSG_TASK_UPDATED, t->task_id, &ev)) != 0)
		return (rv);
	log_info("board.move", "%s: %s -> %s%s%s", t->task_id, t->state, state,
	    reason ? ": " : "", reason ? reason : "");
	free(t->state);
	t->state = xstrdup(state);
	/* a campaign's step: its campaign's progress */
	return (board_campaign_moved(svc, t));
}

/* board_ready journals task.ready for t (state already Ready for AI) or, when
 * its description does not parse, blocks it with the parser's error. */
/* answered: when a human answered the task's question, *goal gets the
 * goal with the question and answer appended (caller frees). */
static bool
answered(struct svc *svc, const char *task_id, const char *goal, char **out)
{
	struct store_stmt *st;
	bool               yes = false;

	*out = NULL;
	if (store_prep(svc_store(svc), &st,
	        "SELECT question, answer FROM question WHERE task_id = ? AND"
	        " answer IS NOT NULL") != 0)
		return (false);
	store_bind_text(st, 1, task_id);
	if (store_step(st) == 1) {
		*out = xasprintf("%s\n\nQuestion asked: %s\nAnswer: %s",
		    goal ? goal : "", store_col_text(st, 0),
		    store_col_text(st, 1));
		yes  = true;
	}
	store_done(st);
	return (yes);
}

int
board_ready(struct svc *svc, struct task *t)
{
	struct msg_task_ready      ev;
	struct msg_task_execution *ex = NULL;
	json_t                    *labels;
	char                       err[256], *comment, *goal = NULL;
	char                      *plan_goal = NULL;
	int64_t                    blocks;
	size_t                     i;
	int                        rv;

	/* paused by self-healing: no autonomous retry until resumed */
	if (selfheal_paused(svc, t->task_id, &blocks))
		return (selfheal_hold(svc, t, blocks));
	if (!board_kind_known(t->kind)) {
		/* a task-kind label nobody here runs: refused, never run as
		 * a goal */
		comment = xasprintf(
		    "Blocked: unknown_task_kind\n- reason: "
		    "task-kind '%s' is not one opcenter runs\n- known: goal, "
		    "test, improve",
		    t->kind ? t->kind : "");
		rv = board_move(svc, t, "Blocked", "unknown_task_kind",
		    comment, "board-sync");
		svc_count(svc, "unknown_task_kind", 1);
		free(comment);
		return (rv);
	}
	/* a multi-step change: its first run asks the backend for a plan */
	if ((rv = board_campaign_ready(svc, t, &plan_goal)) <= 0)
		return (rv);
	if (board_parse_description(t->desc, t->goal, &ex, err, sizeof(err)) !=
	    0) {
		comment =
		    xasprintf("Blocked: parse_config\n- reason: %s", err);
		rv = board_move(
		    svc, t, "Blocked", "parse_config", comment, "board-sync");
		free(comment);
		free(plan_goal);
		return (rv);
	}
	if ((rv = store_run(svc_store(svc),
	         "UPDATE task SET attempt = attempt + 1 WHERE task_id = ?",
	         "t", t->task_id)) != 0) {
		msg_task_execution_free(ex);
		free(plan_goal);
		return (rv);
	}
	t->attempt++;
	memset(&ev, 0, sizeof(ev));
	ev.task_id = t->task_id;
	ev.title   = t->title;
	ev.goal    = plan_goal != NULL ? plan_goal : ex->goal;
	if (answered(svc, t->task_id, ev.goal, &goal))
		ev.goal = goal;
	ev.repo_key    = ex->repo != NULL ? ex->repo : t->repo_key;
	ev.kind        = t->kind;
	ev.description = t->desc;
	ev.attempt     = t->attempt;
	ev.execution   = ex;
	labels         = json_loads(t->labels, 0, NULL);
	for (i = 0; i < json_array_size(labels); i++)
		msg_strs_add(
		    &ev.labels, json_string_value(json_array_get(labels, i)));
	json_decref(labels);
	rv = svc_emit(svc, MSG_TASK_READY, t->task_id, &ev);
	free(goal);
	free(plan_goal);
	msg_strs_fini(&ev.labels);
	msg_task_execution_free(ex);
	return (rv);
}

/* ------------------------------------------------------------- handlers */

/* policy_status: the policy's verdict (the record's, else the name the
 * event carries alongside). */
static enum msg_policy_status
policy_status(const struct msg_route_decided *r)
{
	enum msg_policy_status s = MSG_POLICY_STATUS__UNSET;

	if (r->policy != NULL)
		return (r->policy->status);
	if (r->policy_status != NULL)
		(void) msg_policy_status_parse(r->policy_status, &s);
	return (s);
}

static int
on_route_decided(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_route_decided  *r = &m->body.route_decided;
	const struct msg_policy_finding *v;
	enum msg_policy_status           st = policy_status(r);
	struct buf                       c;
	struct task                      t;
	size_t                           i;
	int                              rv;

	(void) state;
	if (st != MSG_POLICY_STATUS_BLOCK &&
	    st != MSG_POLICY_STATUS_REQUIRE_REVIEW)
		return (0);
	if ((rv = board_task_get(svc, r->task_id, &t)) != 0)
		return (rv == ERR_NOTFOUND ? 0 : rv);
	buf_init(&c);
	buf_printf(&c, "Policy: %s\n- rule: %s\n- lane: %s\n",
	    msg_policy_status_name(st), r->rule ? r->rule : "-",
	    r->lane ? r->lane : "-");
	for (i = 0; r->policy != NULL && i < r->policy->violations.n; i++) {
		v = &r->policy->violations.v[i];
		buf_printf(&c, "- violation: %s: %s\n", v->rule_id,
		    v->message ? v->message : "");
	}
	rv = terminal(t.state)
	    ? 0
	    : board_move(svc, &t, "Blocked",
	          st == MSG_POLICY_STATUS_BLOCK ? "policy_blocked"
	                                        : "review_required",
	          buf_cstr(&c), "router");
	if (rv == 0 && !terminal(t.state)) {
		/* the reason in people's words: what the policy found */
		buf_reset(&c);
		for (i = 0; r->policy != NULL && i < r->policy->violations.n;
		     i++)
			buf_printf(&c, "%s%s", i > 0 ? "; " : "",
			    r->policy->violations.v[i].message
			        ? r->policy->violations.v[i].message
			        : r->policy->violations.v[i].rule_id);
		if (c.len == 0)
			buf_printf(&c, "policy %s (rule %s)",
			    msg_policy_status_name(st),
			    r->rule ? r->rule : "-");
		rv = lastrun_note(svc, t.task_id,
		    r->decision ? r->decision->run_id : NULL, "skipped",
		    st == MSG_POLICY_STATUS_BLOCK ? "policy_blocked"
		                                  : "review_required",
		    buf_cstr(&c));
	}
	buf_fini(&c);
	board_task_fini(&t);
	return (rv);
}

/* paused_note: an operator's pause holds the task queued in the router
 * (which says so once per task and pause): one comment.  On the local
 * board a task left Running by a run the pause stopped (opc pause
 * --stop-running) goes back to Ready for AI with it, so the board shows
 * it waiting (exec.started of its next run moves it again; no
 * task.ready: the router still holds it).  In Plane mode Running is
 * opcenter's claim of the item: it stays. */
static int
paused_note(struct svc *svc, const struct msg_budget_decision *b)
{
	struct task t;
	char       *c;
	int         rv;

	if ((rv = board_task_get(svc, b->task_id, &t)) != 0)
		return (rv == ERR_NOTFOUND ? 0 : rv);
	if (terminal(t.state)) {
		board_task_fini(&t);
		return (0);
	}
	c = xasprintf("Waiting: dispatch is paused by an operator\n"
	              "- scope: %s\n- reason: %s\n- the task stays queued "
	              "and runs once `opc resume%s%s` lifts the pause",
	    b->scope != NULL && strcmp(b->scope, "repo") == 0 && b->repo_key
	        ? b->repo_key
	        : "all repos",
	    b->note ? b->note : "-",
	    b->scope != NULL && strcmp(b->scope, "repo") == 0 ? " --repo "
	                                                      : "",
	    b->scope != NULL && strcmp(b->scope, "repo") == 0 && b->repo_key
	        ? b->repo_key
	        : "");
	if (((struct board *) svc_state(svc))->plane == NULL &&
	    strcmp(t.state, "Running") == 0)
		rv = board_move(svc, &t, BOARD_READY, "paused", c, "router");
	else
		rv = board_comment_post(svc, t.task_id, "router", c);
	free(c);
	board_task_fini(&t);
	return (rv);
}

static int
on_budget(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_budget_decision *b = &m->body.budget_decision;
	struct task                       t;
	char                             *c;
	int                               rv;

	(void) state;
	if (b->task_id != NULL && !b->allowed &&
	    strcmp(b->reason, "paused") == 0)
		return (paused_note(svc, b));
	/* Only a final refusal changes the task; rate limits keep it
	 * queued in the router. */
	if (b->task_id == NULL || b->allowed ||
	    strcmp(b->reason, "retry_cap_exceeded") != 0)
		return (0);
	if ((rv = board_task_get(svc, b->task_id, &t)) != 0)
		return (rv == ERR_NOTFOUND ? 0 : rv);
	c  = xasprintf("Blocked: retry cap\n- reason: %s\n- attempts: %lld\n"
	                "- limit: %lld",
	     b->reason, (long long) b->current, (long long) b->limit);
	rv = terminal(t.state)
	    ? 0
	    : board_move(svc, &t, "Blocked", b->reason, c, "router");
	free(c);
	if (rv == 0 && !terminal(t.state)) {
		c  = xasprintf("%lld attempts reached the retry cap of %lld",
		     (long long) b->current, (long long) b->limit);
		rv = lastrun_note(
		    svc, t.task_id, NULL, "skipped", b->reason, c);
		free(c);
	}
	board_task_fini(&t);
	return (rv);
}

/* taken_back: the router took run_id back (exec.superseded). */
static bool
taken_back(struct svc *svc, const char *run_id)
{
	int64_t n = 0;

	(void) store_int(svc_store(svc), &n, 0,
	    "SELECT count(*) FROM superseded WHERE run_id = ?", "t", run_id);
	return (n > 0);
}

/* on_superseded notes a run the router took back, and says so once on
 * its task (in Plane mode on the work item too).  The task stays where
 * it is: the router runs it again. */
static int
on_superseded(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_exec_superseded *s = &m->body.exec_superseded;
	struct task                       t;
	char                             *c;
	int                               rv;

	(void) state;
	if ((rv = store_run(svc_store(svc),
	         "INSERT OR IGNORE INTO superseded(run_id, task_id, by_run_id,"
	         " at) VALUES (?, ?, ?, ?)",
	         "ttti", s->run_id, s->task_id, s->by_run_id, now_ms())) !=
	        0 ||
	    store_changes(svc_store(svc)) == 0)
		return (rv);
	if ((rv = board_task_get(svc, s->task_id, &t)) != 0)
		return (rv == ERR_NOTFOUND ? 0 : rv);
	c  = xasprintf("Run taken back\n- run_id: %s\n- executor: %s\n"
	                "- reason: %s\n- next run: %s\n- what it reports "
	                "from now on counts for nothing",
	     s->run_id, s->executor ? s->executor : "-",
            s->reason ? s->reason : "lease_expired",
            s->by_run_id ? s->by_run_id : "-");
	rv = board_comment_post(svc, t.task_id, "router", c);
	log_info("board.taken_back", "%s: run %s taken back by the router",
	    t.task_id, s->run_id);
	free(c);
	board_task_fini(&t);
	return (rv);
}

static int
on_started(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_exec_started *s = &m->body.exec_started;
	struct task                    t;
	int                            rv;

	(void) state;
	if (s->task_id == NULL || taken_back(svc, s->run_id))
		return (0); /* a late start of a run taken back */
	if ((rv = board_task_get(svc, s->task_id, &t)) != 0)
		return (rv == ERR_NOTFOUND ? 0 : rv);
	if ((rv = store_run(svc_store(svc),
	         "UPDATE task SET last_run_id = ? WHERE task_id = ?", "tt",
	         s->run_id, s->task_id)) == 0 &&
	    !terminal(t.state) && strcmp(t.state, "Running") != 0)
		rv =
		    board_move(svc, &t, "Running", "exec.started", NULL, NULL);
	board_task_fini(&t);
	return (rv);
}

static bool
await_review(struct svc *svc, const char *repo_key)
{
	const struct cfg_node *repos = cfg_get(svc_cfg_root(svc), "repos");
	char                   err[256];
	int                    v = 0;

	if (repo_key != NULL)
		(void) cfg_tab_bool(conf_repo_keys, cfg_get(repos, repo_key),
		    "await_review", &v, err, sizeof(err));
	return (v != 0);
}

/* agent_comment adds what a coding-agent CLI reported: which, turns,
 * spend and where the number comes from, the tools it was refused. */
static void
agent_comment(struct buf *c, const struct msg_exec_agent *a)
{
	size_t i;

	if (a == NULL)
		return;
	buf_printf(c, "- agent: %s", a->cli != NULL ? a->cli : "?");
	if (a->has_turns)
		buf_printf(c, ", %lld turn(s)", (long long) a->turns);
	if (a->has_cost_usd)
		buf_printf(c, ", $%.4f (%s)", a->cost_usd,
		    a->cost_source != NULL ? a->cost_source : "?");
	if (a->session_id != NULL)
		buf_printf(c, ", session %s", a->session_id);
	buf_puts(c, "\n");
	if (a->permission_denials.n > 0) {
		buf_puts(c, "- refused tools:");
		for (i = 0; i < a->permission_denials.n; i++)
			buf_printf(c, "%s %s", i > 0 ? "," : "",
			    a->permission_denials.v[i]);
		buf_puts(c, "\n");
	}
}

/* classification: the blocked_classification of a failed run (the
 * original's word on the board): quota_exhausted whenever the outcome is
 * quota exhaustion (common/outcome.c decides, as for the router's breaker
 * and the usage store), else the failure category, else the status. */
static const char *
classification(const struct msg_exec_finished *f)
{
	if (outcome_quota(
	        f->failure_category, f->failure_reason, f->result != NULL))
		return ("quota_exhausted");
	return (f->failure_category != NULL ? f->failure_category : f->status);
}

/* pr_waits: the run succeeded and pushed its branch, but a cap of its
 * repo holds its pull request (the executor's queue opens it later:
 * exec.pr.waiting, exec.pr.opened). */
static bool
pr_waits(const struct msg_exec_finished *f)
{
	return (f->success && f->result != NULL &&
	    f->result->pr_state != NULL &&
	    strcmp(f->result->pr_state, "waiting") == 0);
}

static void
result_comment(struct buf *c, const struct msg_exec_finished *f)
{
	const struct msg_exec_result *r = f->result;

	buf_printf(c, "Result\n- success: %s\n- run_id: %s\n- status: %s\n",
	    f->success ? "true" : "false", f->run_id, f->status);
	if (f->failure_category != NULL)
		buf_printf(c, "- category: %s\n", f->failure_category);
	if (f->failure_reason != NULL)
		buf_printf(c, "- reason: %s\n", f->failure_reason);
	if (!f->success && strcmp(f->status, "interrupted") != 0)
		buf_printf(
		    c, "- blocked_classification: %s\n", classification(f));
	if (r != NULL && r->has_executor_exit_code)
		buf_printf(c, "- executor-exit-code: %lld\n",
		    (long long) r->executor_exit_code);
	if (r != NULL && r->executor_signal != NULL)
		buf_printf(c, "- executor-signal: %s\n", r->executor_signal);
	if (f->branch_name != NULL)
		buf_printf(c, "- branch: %s\n", f->branch_name);
	if (r != NULL && r->commit_sha != NULL)
		buf_printf(c, "- commit: %s\n", r->commit_sha);
	if (r != NULL && r->diff_stat_excerpt != NULL)
		buf_printf(c, "- diff: %s\n", r->diff_stat_excerpt);
	if (r != NULL && r->question != NULL)
		buf_printf(c, "- question: %s\n", r->question);
	if (f->pull_request_url != NULL)
		buf_printf(c, "- pull_request: %s\n", f->pull_request_url);
	else if (pr_waits(f))
		buf_printf(c, "- pull_request: waiting (%s)\n",
		    r->pr_wait_reason ? r->pr_wait_reason : "a cap");
	if (r != NULL)
		agent_comment(c, r->agent);
	/* the same note as on the pull request (the executor's threshold) */
	if (r != NULL && r->quality_note != NULL)
		buf_printf(c, "\n%s\n", r->quality_note);
}

/* impact reports a finished run's changes under other repos'
 * impact_report_paths: task.impact, the original's log event and its
 * advisory comment on the task (impact.c). */
static int
impact(
    struct svc *svc, const struct task *t, const struct msg_exec_finished *f)
{
	struct msg_task_impact ev;
	struct buf             c;
	size_t                 i, n;
	int                    rv;

	memset(&ev, 0, sizeof(ev));
	n = board_impact(
	    svc_cfg_root(svc), t->repo_key, f->result, &ev.warnings);
	if (n == 0)
		return (0);
	ev.task_id  = t->task_id;
	ev.run_id   = f->run_id;
	ev.repo_key = t->repo_key;
	ev.count    = (int64_t) n;
	log_warn("cross_repo_impact_detected",
	    "%s: run %s: %zu change(s) "
	    "under other repos' impact_report_paths, first: %s",
	    t->task_id, f->run_id, n, ev.warnings.v[0]);
	buf_init(&c);
	buf_puts(&c,
	    "[Goal] Cross-repo impact detected. This is advisory "
	    "\xe2\x80\x94 verify dependent repos still build and pass "
	    "tests.\n");
	for (i = 0; i < ev.warnings.n; i++)
		buf_printf(&c, "- %s\n", ev.warnings.v[i]);
	if (n > ev.warnings.n)
		buf_printf(&c, "- and %zu more\n", n - ev.warnings.n);
	if ((rv = svc_emit(svc, MSG_TASK_IMPACT, t->task_id, &ev)) == 0)
		rv = board_comment_post(
		    svc, t->task_id, "board-sync", buf_cstr(&c));
	svc_count(svc, "cross_repo_impact", 1);
	buf_fini(&c);
	msg_strs_fini(&ev.warnings);
	return (rv);
}

static int
on_finished(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_exec_finished *f = &m->body.exec_finished;
	struct task                     t;
	struct buf                      c;
	const char                     *to;
	int                             rv;

	(void) state;
	if (taken_back(svc, f->run_id)) {
		/* its exec.superseded said it all */
		svc_count(svc, "superseded_finished", 1);
		return (0);
	}
	if ((rv = board_task_get(svc, f->task_id, &t)) != 0)
		return (rv == ERR_NOTFOUND ? 0 : rv);
	/* An older run finishing late (it was re-dispatched) does not
	 * decide the task. */
	if (t.last_run_id != NULL && strcmp(t.last_run_id, f->run_id) != 0) {
		board_task_fini(&t);
		return (0);
	}
	/* a campaign's planning run: its steps are made, the parent waits */
	if ((rv = board_campaign_planned(svc, &t, f)) <= 0) {
		board_task_fini(&t);
		return (rv);
	}
	rv = 0;
	buf_init(&c);
	result_comment(&c, f);
	if (strcmp(f->status, "interrupted") == 0) {
		/* The router retries within its cap: stay Running. */
		rv = comment_add(svc, t.task_id,
		    f->executor ? f->executor : "executor", buf_cstr(&c));
	} else if (!terminal(t.state)) {
		/* its pull request waiting for a cap: the work is done but
		 * nobody can review or merge it yet, so it is not Done
		 * (exec.pr.opened moves it on) */
		if (f->success)
			to = await_review(svc, t.repo_key) || pr_waits(f)
			    ? "In Review"
			    : "Done";
		else
			to = "Blocked";
		rv = board_move(svc, &t, to,
		    f->success ? "succeeded" : classification(f), buf_cstr(&c),
		    f->executor ? f->executor : "executor");
		/* a question for a human: the answer re-queues the task */
		if (rv == 0 && f->failure_category != NULL &&
		    strcmp(f->failure_category, "awaiting_input") == 0)
			rv = store_run(svc_store(svc),
			    "INSERT OR REPLACE INTO question(task_id, "
			    "question,"
			    " asked_ms, answer) VALUES (?, ?, ?, NULL)",
			    "tti", t.task_id,
			    f->result != NULL && f->result->question != NULL
			        ? f->result->question
			        : "",
			    now_ms());
		if (rv == 0)
			rv = lastrun_note(svc, t.task_id, f->run_id, f->status,
			    f->success
			        ? NULL
			        : (f->failure_category ? f->failure_category
			                               : f->status),
			    f->failure_reason);
		/* a Blocked run counts toward the repeated-block pause, a
		 * success resets the count */
		if (rv == 0)
			rv = selfheal_outcome(svc, &t, !f->success,
			    f->failure_category ? f->failure_category
			                        : f->status);
	}
	if (rv == 0 && f->success)
		rv = impact(svc, &t, f);
	if (rv == 0 && f->success)
		rv = board_review_note(svc, t.task_id, f);
	buf_fini(&c);
	board_task_fini(&t);
	return (rv);
}

/* on_pr_waiting comments, once per run (the executor publishes it when
 * it queues the pull request), why the pull request of the task's run
 * waits. */
static int
on_pr_waiting(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_exec_pr_waiting *w = &m->body.exec_pr_waiting;
	struct buf                        c;
	int                               rv;

	(void) state;
	if (w->task_id == NULL)
		return (0);
	buf_init(&c);
	buf_printf(&c,
	    "Pull request waiting\n- run_id: %s\n- branch: %s (pushed)\n"
	    "- reason: %s\n- queue: %lld in %s's\n"
	    "The work is done; opcenter opens the pull request when the "
	    "repository's caps (max_open_prs, max_prs_per_hour) allow, in "
	    "order.\n",
	    w->run_id, w->branch_name ? w->branch_name : "?",
	    w->reason ? w->reason : "a cap", (long long) w->position,
	    w->repo_key ? w->repo_key : "the repo");
	rv = board_comment_post(svc, w->task_id, "executor", buf_cstr(&c));
	svc_count(svc, "pr_waiting", 1);
	buf_fini(&c);
	return (rv == ERR_NOTFOUND ? 0 : rv);
}

/* on_pr_opened: the queued pull request is open: comment its URL,
 * remember it for review feedback, and a task held In Review only for it
 * (no await_review) is Done. */
static int
on_pr_opened(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_exec_pr_opened *o = &m->body.exec_pr_opened;
	struct msg_exec_finished         f;
	struct task                      t;
	struct buf                       c;
	int                              rv;

	(void) state;
	if (o->task_id == NULL)
		return (0);
	if ((rv = board_task_get(svc, o->task_id, &t)) != 0)
		return (rv == ERR_NOTFOUND ? 0 : rv);
	buf_init(&c);
	buf_printf(&c,
	    "Pull request opened\n- run_id: %s\n- pull_request: %s\n"
	    "- waited: %lld s\n",
	    o->run_id, o->pull_request_url ? o->pull_request_url : "?",
	    (long long) o->waited_ms / 1000);
	memset(&f, 0, sizeof(f));
	f.run_id           = o->run_id;
	f.task_id          = o->task_id;
	f.branch_name      = o->branch_name;
	f.pull_request_url = o->pull_request_url;
	if (t.last_run_id != NULL && strcmp(t.last_run_id, o->run_id) == 0 &&
	    t.state != NULL && strcmp(t.state, "In Review") == 0 &&
	    !await_review(svc, t.repo_key))
		rv = board_move(svc, &t, "Done", "pull_request_opened",
		    buf_cstr(&c), "executor");
	else
		rv = board_comment_post(
		    svc, t.task_id, "executor", buf_cstr(&c));
	if (rv == 0)
		rv = board_review_note(svc, t.task_id, &f);
	buf_fini(&c);
	board_task_fini(&t);
	return (rv);
}

/* on_pr_dropped: the queued pull request of a cancelled task will not be
 * opened: one comment says so, the task stays where the human put it. */
static int
on_pr_dropped(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_exec_pr_dropped *d = &m->body.exec_pr_dropped;
	char                             *c;
	int                               rv;

	(void) state;
	if (d->task_id == NULL)
		return (0);
	c  = xasprintf("Pull request dropped\n- run_id: %s\n- branch: %s "
	                "(pushed, left as it is)\n- reason: %s\n"
	                "opcenter will not open it.\n",
	     d->run_id, d->branch_name ? d->branch_name : "?",
            d->reason ? d->reason : "cancelled on the board");
	rv = board_comment_post(svc, d->task_id, "executor", c);
	svc_count(svc, "pr_dropped", 1);
	free(c);
	return (rv == ERR_NOTFOUND ? 0 : rv);
}

/* ------------------------------------------------------------------ ctl */

/* The most a task's text may hold (README, "Bad input"): far beyond any
 * real goal, far below the bus's frame limit, so no task can make an
 * event that cannot be delivered. */
#define TASK_GOAL_MAX (64 * 1024)
#define TASK_TITLE_MAX 1024
#define TASK_LABELS_MAX 64
#define TASK_LABEL_MAX 256

/* text_ok checks one text field of a task: UTF-8 and within max bytes. */
static int
text_ok(const char *what, const char *s, size_t max, char *err, size_t errlen)
{
	size_t n;

	if (s == NULL)
		return (1);
	n = strlen(s);
	if (n > max) {
		snprintf(
		    err, errlen, "%s is %zu bytes; at most %zu", what, n, max);
		return (0);
	}
	if (!utf8_valid(s, n)) {
		snprintf(err, errlen, "%s is not valid UTF-8", what);
		return (0);
	}
	return (1);
}

/* task_text_ok bounds every text of a new task. */
static int
task_text_ok(const struct msg_board_task_add *a, char *err, size_t errlen)
{
	size_t i;

	if (!text_ok("the goal", a->goal, TASK_GOAL_MAX, err, errlen) ||
	    !text_ok("the description", a->description, TASK_GOAL_MAX, err,
	        errlen) ||
	    !text_ok("the title", a->title, TASK_TITLE_MAX, err, errlen) ||
	    !text_ok("the repo key", a->repo_key, TASK_LABEL_MAX, err, errlen))
		return (0);
	if (a->labels.n > TASK_LABELS_MAX) {
		snprintf(err, errlen, "%zu labels; at most %d", a->labels.n,
		    TASK_LABELS_MAX);
		return (0);
	}
	for (i = 0; i < a->labels.n; i++)
		if (!text_ok("a label", a->labels.v[i], TASK_LABEL_MAX, err,
		        errlen))
			return (0);
	return (1);
}

/* board_task_create adds a task to the local board (own_txn: in its own
 * transaction, else in the caller's); a known request_id answers with
 * the task it created before. */
int
board_task_create(struct svc *svc, const struct msg_board_task_add *a,
    const char *source, bool own_txn, json_t **data, char *err, size_t errlen)
{
	const char *kind = a->kind ? a->kind : "goal";
	const char *st =
	    a->state ? msg_task_state_name(a->state) : BOARD_READY;
	struct task t;
	json_t     *labels = json_array();
	char       *labels_s, *title, *nl, tid[32];
	int64_t     now = now_ms(), n;
	size_t      i;
	int         rv;

	if (!task_text_ok(a, err, errlen)) {
		json_decref(labels);
		return (ERR_INVAL);
	}
	if (!board_kind_known(kind)) {
		snprintf(err, errlen,
		    "unknown task kind '%s' (goal, test, "
		    "improve)",
		    kind);
		json_decref(labels);
		return (ERR_INVAL);
	}
	if (!board_state_valid(st)) {
		snprintf(err, errlen, "unknown state '%s'", st);
		json_decref(labels);
		return (ERR_INVAL);
	}
	if (*a->repo_key == '\0' ||
	    (*a->goal == '\0' &&
	        (a->description == NULL || *a->description == '\0'))) {
		snprintf(err, errlen,
		    "repo_key and a goal (or a description "
		    "with one) are required");
		json_decref(labels);
		return (ERR_INVAL);
	}
	if (a->request_id != NULL &&
	    store_int(svc_store(svc), &n, 0,
	        "SELECT n FROM task WHERE request_id = ?", "t",
	        a->request_id) == 0 &&
	    n > 0) {
		/* A retried request: answer with the task it created. */
		snprintf(tid, sizeof(tid), "T-%lld", (long long) n);
		json_decref(labels);
		if ((rv = board_task_get(svc, tid, &t)) != 0)
			return (rv);
		if (data != NULL)
			*data = json_pack("{s:s, s:s, s:b}", "task_id",
			    t.task_id, "state", t.state, "existing", 1);
		board_task_fini(&t);
		return (0);
	}
	for (i = 0; i < a->labels.n; i++)
		json_array_append_new(labels, json_string(a->labels.v[i]));
	labels_s = json_dumps(labels, JSON_COMPACT);
	json_decref(labels);
	if (a->title != NULL && *a->title != '\0')
		title = xstrdup(a->title);
	else {
		title = xstrndup(a->goal, 72);
		if ((nl = strchr(title, '\n')) != NULL)
			*nl = '\0';
	}
	if (own_txn && (rv = svc_begin(svc)) != 0)
		goto out;
	rv = store_run(svc_store(svc),
	    "INSERT INTO task(title, goal, repo_key, kind, labels, "
	    "description,"
	    " state, request_id, created_at, updated_at)"
	    " VALUES (?, ?, ?, ?, ?, ?, 'Backlog', ?, ?, ?)",
	    "tttttttii", title, a->goal, a->repo_key, kind, labels_s,
	    a->description, a->request_id, now, now);
	n  = store_last_rowid(svc_store(svc));
	snprintf(tid, sizeof(tid), "T-%lld", (long long) n);
	if (rv == 0)
		rv = store_run(svc_store(svc),
		    "UPDATE task SET task_id = ? WHERE n = ?", "ti", tid, n);
	if (rv == 0)
		rv = board_task_get(svc, tid, &t);
	if (rv == 0) {
		struct msg_task_created ev = { t.task_id, t.title,
			(char *) source, NULL, (char *) a->request_id };

		rv = svc_emit(svc, MSG_TASK_CREATED, t.task_id, &ev);
		if (rv == 0 && strcmp(st, "Backlog") != 0)
			rv = board_move(svc, &t, st, "created", NULL, NULL);
		if (rv == 0 && strcmp(st, BOARD_READY) == 0)
			rv = board_ready(svc, &t);
		if (rv == 0 && data != NULL)
			*data = json_pack("{s:s, s:s}", "task_id", t.task_id,
			    "state", t.state);
		board_task_fini(&t);
	}
	if (own_txn && rv == 0)
		rv = svc_commit(svc);
	else if (own_txn)
		svc_rollback(svc);
out:
	if (rv != 0 && err[0] == '\0')
		snprintf(err, errlen, "cannot add the task: %s", err_str(rv));
	free(labels_s);
	free(title);
	return (rv);
}

static int
ctl_add(struct svc *svc, const struct msg *req, json_t **data, char *err,
    size_t errlen, void *state)
{
	(void) state;
	return (board_task_create(svc, &req->body.board_task_add, "operator",
	    true, data, err, errlen));
}

/* on_proposal turns a proposal into a task: on the local board at once;
 * in Plane mode through the create queue (a work item with the
 * candidate's id as its external id, so a crash never duplicates it). */
static int
on_proposal(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_proposal_created *p = &m->body.proposal_created;
	struct msg_board_task_add          a;
	struct board                      *b  = state;
	const char                        *st = BOARD_READY;
	const char                        *kind, *source;
	char   err[256], repo_label[300], kind_label[64], source_label[300];
	char  *desc    = NULL;
	bool   sourced = false;
	size_t i;
	int    rv;

	if (p->repo == NULL || p->goal == NULL) {
		log_warn("board.proposal", "%s: no repo or goal: ignored",
		    p->candidate_id);
		return (0);
	}
	/* the proposer's tier picks the state; else the configured one */
	if (p->state == MSG_TASK_STATE_BACKLOG ||
	    p->state == MSG_TASK_STATE_READY_FOR_AI)
		st = msg_task_state_name(p->state);
	else
		(void) cfg_tab_str(board_sync_keys, svc_cfg(svc),
		    "proposal_state", &st, err, sizeof(err));
	memset(&a, 0, sizeof(a));
	a.repo_key = p->repo;
	a.goal     = p->goal;
	a.title    = p->title;
	kind = p->kind != NULL && board_kind_known(p->kind) ? p->kind : "goal";
	source =
	    p->source != NULL && *p->source != '\0' ? p->source : "proposer";
	a.kind = (char *) kind;
	if ((a.state = board_state(st)) == MSG_TASK_STATE__UNSET) {
		log_warn("board.proposal",
		    "%s: proposal_state '%s' is not a "
		    "state: Backlog",
		    p->candidate_id, st);
		st      = "Backlog";
		a.state = MSG_TASK_STATE_BACKLOG;
	}
	a.request_id = p->candidate_id;
	/* the goal, then the provenance (the parser stops at its heading) */
	if (p->provenance != NULL)
		a.description = desc =
		    xasprintf("%s\n\n%s", p->goal, p->provenance);
	for (i = 0; i < p->labels.n; i++) {
		msg_strs_add(&a.labels, p->labels.v[i]);
		sourced |= strncmp(p->labels.v[i], "source: ", 8) == 0;
	}
	/* one source label: the proposal's own (source: autonomy) wins */
	snprintf(source_label, sizeof(source_label), "source: %s", source);
	if (!sourced)
		msg_strs_add(&a.labels, source_label);
	snprintf(repo_label, sizeof(repo_label), "repo: %s", p->repo);
	msg_strs_add(&a.labels, repo_label);
	snprintf(kind_label, sizeof(kind_label), "task-kind: %s", kind);
	msg_strs_add(&a.labels, kind_label);
	if (b->plane != NULL) {
		json_t *labels = json_array();
		char   *ls;

		for (i = 0; i < a.labels.n; i++)
			json_array_append_new(
			    labels, json_string(a.labels.v[i]));
		ls = json_dumps(labels, JSON_COMPACT);
		rv = store_run(svc_store(svc),
		    "INSERT OR IGNORE INTO proposal(candidate_id, title, goal,"
		    " repo, labels, state, received_ms, provenance, priority)"
		    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		    "ttttttitt", p->candidate_id,
		    p->title ? p->title : p->goal, p->goal, p->repo, ls, st,
		    now_ms(), p->provenance, p->priority);
		free(ls);
		json_decref(labels);
	} else if ((rv = board_task_create(svc, &a, source, false, NULL, err,
	                sizeof(err))) == 0 &&
	    p->priority != NULL)
		rv = store_run(svc_store(svc),
		    "UPDATE task SET priority = ? WHERE request_id = ?", "tt",
		    p->priority, p->candidate_id);
	for (i = 0; i < a.labels.n; i++)
		free(a.labels.v[i]);
	free(a.labels.v);
	free(desc);
	return (rv);
}

/* on_rescore sets the priority the proposer's rescore gave a task: on
 * the local board, and queued for Plane's work item (the newest wins). */
static int
on_rescore(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_priority_rescore_promoted *r =
	    m->topic == MSG_PRIORITY_RESCORE_PROMOTED
	    ? &m->body.priority_rescore_promoted
	    : (const struct msg_priority_rescore_promoted *) &m->body
	          .priority_rescore_demoted;
	struct board *b = state;
	int           rv;

	if ((rv = store_run(svc_store(svc),
	         "UPDATE task SET priority = ?, updated_at = ? WHERE"
	         " task_id = ?",
	         "tit", r->priority, now_ms(), r->task_id)) != 0)
		return (rv);
	log_info(m->topic == MSG_PRIORITY_RESCORE_PROMOTED
	        ? "board.priority_promoted"
	        : "board.priority_demoted",
	    "%s: priority %s -> %s (%s)", r->task_id,
	    r->prev_priority ? r->prev_priority : "?", r->priority,
	    r->reason ? r->reason : "rescore");
	if (b->plane == NULL)
		return (0);
	return (store_run(svc_store(svc),
	    "INSERT OR REPLACE INTO priority_push(task_id, priority, done)"
	    " VALUES (?, ?, 0)",
	    "tt", r->task_id, r->priority));
}

static int
ctl_list(struct svc *svc, const struct msg *req, json_t **data, char *err,
    size_t errlen, void *state)
{
	const struct msg_board_task_list *l = &req->body.board_task_list;
	struct store_stmt                *st;
	struct task                       t;
	json_t                           *a = json_array();
	int                               rv;

	(void) state;
	(void) err;
	(void) errlen;
	if ((rv = store_prep(svc_store(svc), &st,
	         "SELECT " TASK_COLS " FROM task WHERE task_id IS NOT NULL"
	         " AND (?1 IS NULL OR state = ?1) ORDER BY n DESC LIMIT "
	         "?2")) != 0) {
		json_decref(a);
		return (rv);
	}
	if (l->state != MSG_TASK_STATE__UNSET)
		store_bind_text(st, 1, msg_task_state_name(l->state));
	else
		store_bind_null(st, 1);
	store_bind_int(st, 2, l->limit > 0 ? l->limit : 100);
	while ((rv = store_step(st)) == 1) {
		task_read(st, &t);
		json_array_append_new(a, task_json(&t));
		board_task_fini(&t);
	}
	store_done(st);
	*data = json_pack("{s:o}", "tasks", a);
	return (rv < 0 ? rv : 0);
}

static int
ctl_show(struct svc *svc, const struct msg *req, json_t **data, char *err,
    size_t errlen, void *state)
{
	struct store_stmt *st;
	struct task        t;
	json_t            *cs = json_array(), *sh;
	char               at[40];
	int                rv;

	(void) state;
	if ((rv = board_task_get(
	         svc, req->body.board_task_show.task_id, &t)) != 0) {
		snprintf(err, errlen, "no task '%s'",
		    req->body.board_task_show.task_id);
		json_decref(cs);
		return (rv);
	}
	if ((rv = store_prep(svc_store(svc), &st,
	         "SELECT at, author, body FROM comment WHERE task_id = ?"
	         " ORDER BY id")) == 0) {
		store_bind_text(st, 1, t.task_id);
		while (store_step(st) == 1)
			json_array_append_new(cs,
			    json_pack("{s:s, s:s, s:s}", "at",
			        iso8601(store_col_int(st, 0), at, sizeof(at)),
			        "author", store_col_text(st, 1), "body",
			        store_col_text(st, 2)));
		store_done(st);
	}
	*data = json_pack("{s:o, s:o}", "task", task_json(&t), "comments", cs);
	if ((sh = selfheal_json(svc, t.task_id)) != NULL)
		json_object_set_new(
		    json_object_get(*data, "task"), "self_healing", sh);
	if ((sh = lastrun_json(svc, t.task_id)) != NULL)
		json_object_set_new(
		    json_object_get(*data, "task"), "last_run", sh);
	board_task_fini(&t);
	return (0);
}

/* take_answer: a comment on a task whose question (awaiting_input) is
 * unanswered is the human's answer: it is recorded, and board_ready() puts it
 * into the goal of the task's next run.  *yes says whether it was. */
static int
take_answer(
    struct svc *svc, const struct task *t, const char *comment, bool *yes)
{
	int rv;

	*yes = false;
	if (comment == NULL || *comment == '\0')
		return (0);
	if ((rv = store_run(svc_store(svc),
	         "UPDATE question SET answer = ? WHERE task_id = ? AND"
	         " answer IS NULL",
	         "tt", comment, t->task_id)) != 0)
		return (rv);
	if (store_changes(svc_store(svc)) > 0) {
		*yes = true;
		log_info("board.answer", "%s: answered by the operator",
		    t->task_id);
	}
	return (0);
}

/* answer_requeue: after take_answer() recorded a reply, a task the reply
 * left Blocked goes back to Ready for AI (a reply on Plane does the
 * same), and board_ready() puts the answer into its next run's goal. */
static int
answer_requeue(struct svc *svc, struct task *t)
{
	int rv;

	if (strcmp(t->state, "Blocked") != 0)
		return (0);
	if ((rv = board_move(svc, t, BOARD_READY, "answered",
	         "Answer received: the task is queued again.",
	         "board-sync")) != 0)
		return (rv);
	return (board_ready(svc, t));
}

static int
ctl_move(struct svc *svc, const struct msg *req, json_t **data, char *err,
    size_t errlen, void *state)
{
	const struct msg_board_task_move *mv = &req->body.board_task_move;
	const char                       *to = msg_task_state_name(mv->state);
	struct task                       t;
	char                             *prev;
	int64_t                           blocks;
	bool                              answer = false;
	int                               rv;

	(void) state;
	if (!text_ok("the comment", mv->comment, TASK_GOAL_MAX, err, errlen))
		return (ERR_INVAL);
	if ((rv = board_task_get(svc, mv->task_id, &t)) != 0) {
		snprintf(err, errlen, "no task '%s'", mv->task_id);
		return (rv);
	}
	if (mv->state == MSG_TASK_STATE_READY_FOR_AI &&
	    selfheal_paused(svc, t.task_id, &blocks)) {
		snprintf(err, errlen,
		    "%s is paused by self-healing after %lld "
		    "consecutive Blocked runs: review it, then `opc task "
		    "resume %s` lifts the pause",
		    t.task_id, (long long) blocks, t.task_id);
		board_task_fini(&t);
		return (ERR_REFUSED);
	}
	prev = xstrdup(t.state);
	if ((rv = svc_begin(svc)) == 0) {
		rv = board_move(
		    svc, &t, to, "operator", mv->comment, "operator");
		if (rv == 0)
			rv = take_answer(svc, &t, mv->comment, &answer);
		/* a reply that leaves the task Blocked re-queues it, as a
		 * reply on Plane does */
		if (rv == 0 && answer && mv->state == MSG_TASK_STATE_BLOCKED)
			rv = answer_requeue(svc, &t);
		else if (rv == 0 && strcmp(t.state, BOARD_READY) == 0 &&
		    (mv->state == MSG_TASK_STATE_READY_FOR_AI || answer))
			rv = board_ready(svc, &t);
		if (rv == 0)
			rv = svc_commit(svc);
		else
			svc_rollback(svc);
	}
	if (rv == 0)
		*data = json_pack("{s:s, s:s, s:s}", "task_id", t.task_id,
		    "prev_state", prev, "state", t.state);
	free(prev);
	board_task_fini(&t);
	return (rv);
}

/* ctl_comment adds a comment to a task without moving it (opc task
 * comment, opc smoke).  A comment on a task whose question is unanswered
 * is its answer, as with `opc task move --comment`: the task is queued
 * again (task.ready journaled) with the answer in its goal.  Otherwise
 * nothing is journaled, the task's state and runs are untouched. */
static int
ctl_comment(struct svc *svc, const struct msg *req, json_t **data, char *err,
    size_t errlen, void *state)
{
	const struct msg_board_task_comment *c = &req->body.board_task_comment;
	const char *author = c->author != NULL ? c->author : "operator";
	struct task t;
	bool        answer = false;
	int         rv;

	(void) state;
	if (!text_ok("the comment", c->body, TASK_GOAL_MAX, err, errlen) ||
	    !text_ok("the author", author, 128, err, errlen))
		return (ERR_INVAL);
	if (c->body[0] == '\0') {
		snprintf(err, errlen, "the comment is empty");
		return (ERR_INVAL);
	}
	if ((rv = board_task_get(svc, c->task_id, &t)) != 0) {
		snprintf(err, errlen, "no task '%s'", c->task_id);
		return (rv);
	}
	if ((rv = svc_begin(svc)) == 0) {
		rv = comment_add(svc, t.task_id, author, c->body);
		if (rv == 0)
			rv = take_answer(svc, &t, c->body, &answer);
		if (rv == 0 && answer)
			rv = answer_requeue(svc, &t);
		if (rv == 0)
			rv = svc_commit(svc);
		else
			svc_rollback(svc);
	}
	if (rv == 0)
		*data = json_pack("{s:s, s:s, s:s, s:b}", "task_id", t.task_id,
		    "state", t.state, "author", author, "answer", answer);
	board_task_fini(&t);
	return (rv);
}

/* --------------------------------------------------------------- service */

static int
board_init(struct svc *svc, void *state)
{
	struct board *b    = state;
	const char   *mode = "local";
	char          err[256];
	int           rv;

	if (cfg_tab_str(board_sync_keys, svc_cfg(svc), "board", &mode, err,
	        sizeof(err)) != 0) {
		log_error("board.config", "%s", err);
		return (ERR_CONFIG);
	}
	if ((rv = store_exec(svc_store(svc), schema)) != 0 ||
	    (rv = store_add_column(
	         svc_store(svc), "task", "priority", "TEXT")) != 0 ||
	    (rv = store_add_column(
	         svc_store(svc), "proposal", "provenance", "TEXT")) != 0 ||
	    (rv = store_add_column(
	         svc_store(svc), "proposal", "priority", "TEXT")) != 0 ||
	    (rv = selfheal_init(svc)) != 0 || (rv = lastrun_init(svc)) != 0 ||
	    (rv = board_review_init(svc, b)) != 0 ||
	    (rv = board_campaign_init(svc)) != 0)
		return (rv);
	if (strcmp(mode, "plane") == 0)
		return (board_plane_init(svc, b));
	return (0);
}

static void
board_fini(struct svc *svc, void *state)
{
	board_plane_fini(svc, state);
	board_review_fini(state);
}

static void
board_idle(struct svc *svc, void *state)
{
	struct board *b = state;

	if (b->plane != NULL && svc_caught_up(svc))
		board_plane_cycle(svc, b);
	if (svc_caught_up(svc))
		board_review_idle(svc, b);
}

static int
on_webhook(struct svc *svc, const struct msg *m, void *state)
{
	struct board *b = state;

	(void) svc;
	if (b->plane != NULL)
		board_plane_webhook(b, &m->body.board_webhook);
	return (0);
}

static void
board_status(struct svc *svc, void *state, json_t *obj)
{
	json_t *c = store_counts(
	    svc_store(svc), "SELECT state, count(*) FROM task GROUP BY state");

	json_object_set_new(obj, "tasks", c);
	selfheal_status(svc, obj);
	json_object_set_new(obj, "board",
	    json_string(((struct board *) state)->plane ? "plane" : "local"));
	board_plane_status(svc, state, obj);
	board_review_status(svc, obj);
}

static const struct svc_handler handlers[] = {
	{ MSG_ROUTE_DECIDED, on_route_decided },
	{ MSG_BUDGET_DECISION, on_budget },
	{ MSG_EXEC_STARTED, on_started },
	{ MSG_EXEC_FINISHED, on_finished },
	{ MSG_EXEC_SUPERSEDED, on_superseded },
	{ MSG_EXEC_PR_WAITING, on_pr_waiting },
	{ MSG_EXEC_PR_DROPPED, on_pr_dropped },
	{ MSG_EXEC_PR_OPENED, on_pr_opened },
	{ MSG_BOARD_WEBHOOK, on_webhook },
	{ MSG_PROPOSAL_CREATED, on_proposal },
	{ MSG_PRIORITY_RESCORE_PROMOTED, on_rescore },
	{ MSG_PRIORITY_RESCORE_DEMOTED, on_rescore },
	{ MSG_INGEST_ERROR, board_on_ingest },
	{ MSG_CI_PR_REVIEW, board_on_pr_review },
	{ MSG_CI_PR_EVENT, board_on_pr_event },
	{ MSG_NONE, NULL },
};

static const struct svc_ctl ctls[] = {
	{ MSG_BOARD_TASK_ADD, ctl_add },
	{ MSG_BOARD_TASK_LIST, ctl_list },
	{ MSG_BOARD_TASK_SHOW, ctl_show },
	{ MSG_BOARD_TASK_MOVE, ctl_move },
	{ MSG_BOARD_TASK_COMMENT, ctl_comment },
	{ MSG_BOARD_TASK_RESUME, selfheal_ctl_resume },
	{ MSG_BOARD_CAMPAIGNS, board_campaign_ctl_list },
	{ MSG_NONE, NULL },
};

const struct svc_def board_def = {
	.name       = "board-sync",
	.state_size = sizeof(struct board),
	.init       = board_init,
	.fini       = board_fini,
	.idle       = board_idle,
	.handlers   = handlers,
	.ctls       = ctls,
	.status     = board_status,
	.config     = board_sync_keys,
};
