/*
 * escalator.c - configuration, the bus handlers and the status of the
 * escalator (see escalator.h for the state machine).
 *
 * Handlers are pure state transitions in the db: each source event is
 * recorded once (events table, keyed by envelope id), an escalation wanted
 * becomes one esc row, and the per-task count of consecutive Blocked
 * updates lives in the blocked table.  Nothing here talks to the outside.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "escalator.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/http.h"
#include "opc/jsonx.h"
#include "opc/log.h"
#include "opc/outcome.h"
#include "opc/store.h"

#define ESC_RECENT_S "10" /* escalations the status lists */

static const char *schema =
    "CREATE TABLE IF NOT EXISTS esc ("
    " id INTEGER PRIMARY KEY,"
    " source_event TEXT NOT NULL UNIQUE,"
    " kind TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " message TEXT NOT NULL,"
    " at_ms INTEGER NOT NULL,"
    " state TEXT NOT NULL DEFAULT 'pending',"
    " idem_key TEXT,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " done_mask INTEGER NOT NULL DEFAULT 0,"
    " next_ms INTEGER NOT NULL DEFAULT 0,"
    " sent_ms INTEGER,"
    " last_error TEXT,"
    " created_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS esc_state ON esc(state, next_ms);"
    "CREATE INDEX IF NOT EXISTS esc_kk ON esc(kind, key, state);"
    "CREATE TABLE IF NOT EXISTS events ("
    " id TEXT PRIMARY KEY, seen_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS blocked ("
    " task_id TEXT PRIMARY KEY,"
    " count INTEGER NOT NULL DEFAULT 0,"
    " paused INTEGER NOT NULL DEFAULT 0,"
    " updated_ms INTEGER NOT NULL);";

static int
add_url(struct escalator *e, const char *url, char *err, size_t errlen)
{
	if (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0) {
		esc_redact_url(url);
		snprintf(err, errlen, "webhook URL is not http(s): %s", url);
		return (ERR_CONFIG);
	}
	if (e->nurls == ESC_MAX_URLS) {
		snprintf(
		    err, errlen, "more than %d webhook URLs", ESC_MAX_URLS);
		return (ERR_CONFIG);
	}
	esc_redact_url(url);
	e->urls[e->nurls]  = xstrdup(url);
	e->shown[e->nurls] = esc_url_shown(url);
	e->nurls++;
	return (0);
}

/* add_url_list adds the URLs of a comma- or space-separated list. */
static int
add_url_list(struct escalator *e, const char *list, char *err, size_t errlen)
{
	char *copy = xstrdup(list), *p, *save = NULL;
	int   rv = 0;

	for (p = strtok_r(copy, ", \t\n", &save); p != NULL && rv == 0;
	     p = strtok_r(NULL, ", \t\n", &save))
		rv = add_url(e, p, err, errlen);
	free(copy);
	return (rv);
}

static int
load_urls(
    struct escalator *e, const struct cfg_node *c, char *err, size_t errlen)
{
	const char **urls = NULL, *v;
	size_t       n    = 0, i;
	int          rv;

	if ((rv = cfg_get_strs(c, "urls", &urls, &n, err, errlen)) != 0)
		return (rv);
	for (i = 0; i < n && rv == 0; i++)
		rv = add_url(e, urls[i], err, errlen);
	free(urls);
	if (rv == 0 && (v = cfg_secret(c, "url_env")) != NULL)
		rv = add_url(e, v, err, errlen);
	if (rv == 0 && (v = cfg_secret(c, "urls_env")) != NULL)
		rv = add_url_list(e, v, err, errlen);
	return (rv);
}

static int
escalator_init(struct svc *svc, void *state)
{
	struct escalator      *e = state;
	const struct cfg_node *c = svc_cfg(svc);
	const char            *fmt;
	char                   err[512];
	size_t                 i;
	int                    rv;

	e->svc = svc;
	/* defaults, bounds and choices: escalator_keys (config.c) */
	if ((rv = cfg_tab_str(
	         escalator_keys, c, "format", &fmt, err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_ms(escalator_keys, c, "cooldown", &e->cooldown_ms,
	         err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_int(escalator_keys, c, "retry_max", &e->retry_max,
	         err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_ms(escalator_keys, c, "retry_backoff",
	         &e->retry_backoff_ms, err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_int(escalator_keys, c, "blocked_threshold",
	         &e->blocked_threshold, err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_ms(escalator_keys, c, "timeout", &e->timeout_ms, err,
	         sizeof(err))) != 0 ||
	    (rv = load_urls(e, c, err, sizeof(err))) != 0)
		goto bad;
	e->slack = strcmp(fmt, "slack") == 0;
	if ((rv = store_exec(svc_store(svc), schema)) != 0)
		return (rv);
	/* no URL, no HTTP client (no curl multi handle, no timer) */
	if (e->nurls > 0 && (rv = http_open(&e->http, svc_loop(svc))) != 0)
		return (rv);
	if (e->nurls == 0)
		log_warn("escalator.config",
		    "no webhook URL configured: "
		    "escalations are recorded and marked failed");
	for (i = 0; i < e->nurls; i++)
		log_info("escalator.init", "webhook %s", e->shown[i]);
	log_info("escalator.init",
	    "format %s, cooldown %lld ms, retry_max "
	    "%lld",
	    fmt, (long long) e->cooldown_ms, (long long) e->retry_max);
	return (0);

bad:
	log_error("escalator.config", "%s", err);
	return (rv);
}

static void
escalator_fini(struct svc *svc, void *state)
{
	struct escalator *e = state;
	size_t            i;

	UNUSED(svc);
	/* Requests still due complete with ERR_CLOSED: their rows stay
	 * "sending" and are resent (same key) after the restart. */
	e->closing = true;
	http_close(&e->http);
	for (i = 0; i < e->nurls; i++) {
		free(e->urls[i]);
		free(e->shown[i]);
		e->urls[i] = e->shown[i] = NULL;
	}
	e->nurls = 0;
}

/*
 * Handlers.
 */

/* first_seen records event m; false when it was recorded before.  A
 * journaled event is known by its id (src:seq, stable across replays); a
 * volatile one (seq 0, e.g. ctl inject, whose ids are not unique) cannot
 * be replayed and gets a fresh key. */
static int
first_seen(struct svc *svc, const struct msg *m, bool *first)
{
	struct escalator *e  = svc_state(svc);
	struct store     *st = svc_store(svc);
	char              uuid[37];
	int               rv;

	*first = false;
	if (m->seq == 0) {
		snprintf(e->ev_key, sizeof(e->ev_key), "%s#%s",
		    m->id != NULL ? m->id : "volatile", uuid4(uuid));
		*first = true;
		return (0);
	}
	if (m->id == NULL || *m->id == '\0')
		return (ERR_INVAL);
	snprintf(e->ev_key, sizeof(e->ev_key), "%s", m->id);
	if ((rv = store_run(st,
	         "INSERT OR IGNORE INTO events (id, seen_ms)"
	         " VALUES (?, ?)",
	         "ti", e->ev_key, now_ms())) != 0)
		return (rv);
	*first = store_changes(st) > 0;
	return (0);
}

/* want records that (kind, key) should be escalated because of m. */
static int
want(struct svc *svc, const struct msg *m, const char *kind, const char *key,
    const char *message)
{
	struct escalator *e = svc_state(svc);
	int               rv;

	rv = store_run(svc_store(svc),
	    "INSERT OR IGNORE INTO esc (source_event, kind, key, message,"
	    " at_ms, created_ms) VALUES (?, ?, ?, ?, ?, ?)",
	    "ttttii", e->ev_key, kind, key, message,
	    m->ts > 0 ? m->ts : now_ms(), now_ms());
	if (rv == 0 && store_changes(svc_store(svc)) > 0) {
		svc_count(svc, "wanted", 1);
		log_info("escalator.wanted", "%s %s: %s", kind, key, message);
	}
	return (rv);
}

/*
 * The kinds, one row a source topic (kinds[] below), read by one handler,
 * on_event:
 *
 *   1. the row's required text field is missing (or empty, unless
 *      empty_ok): a bad message, refused (ERR_INVAL: logged, counted);
 *   2. the row's wanted() says the event can never escalate: nothing;
 *   3. the event was seen before (first_seen): nothing;
 *   4. the row's what() gives the escalation's key and text (and may
 *      choose another kind, or no escalation after all: text NULL), which
 *      want() records.
 */

/* One escalation a what() function describes. */
struct esc_want {
	const char *kind; /* the row's unless what() sets another */
	const char *key;  /* borrowed (from m, the state or static) */
	char       *text; /* owned; NULL: no escalation */
};

struct esc_kind {
	enum msg_topic topic;
	const char    *kind;
	size_t         field; /* offset of the required char * in the body */
	const char    *bad;   /* its refusal, "no <field>"; NULL: none */
	bool           empty_ok;             /* "" is not missing */
	bool (*wanted)(const struct msg *m); /* NULL: every event */
	int (*what)(struct svc *, const struct msg *, struct escalator *,
	    struct esc_want *);
};

/* NEED(topic, field): the body's text field that must be there. */
#define NEED(t, f) offsetof(struct msg_##t, f), "no " #f

/* src_or returns the event's source unless it was injected, else dflt. */
static const char *
src_or(const struct msg *m, const char *dflt)
{
	return (m->src && strncmp(m->src, "inject:", 7) != 0 ? m->src : dflt);
}

static bool
circuit_wanted(const struct msg *m)
{
	return (strcmp(m->body.circuit_changed.state, "open") == 0);
}

static int
circuit_what(struct svc *svc, const struct msg *m, struct escalator *e,
    struct esc_want *w)
{
	const struct msg_circuit_changed *c = &m->body.circuit_changed;

	UNUSED(svc);
	UNUSED(e);
	w->key  = "router";
	w->text = xasprintf("circuit breaker open: failure rate %.2f, %lld "
	                    "failures in a window of %lld runs",
	    c->failure_rate, (long long) c->failures, (long long) c->window);
	return (0);
}

static int
cred_invalid_what(struct svc *svc, const struct msg *m, struct escalator *e,
    struct esc_want *w)
{
	const struct msg_credential_invalid *c = &m->body.credential_invalid;

	UNUSED(svc);
	UNUSED(e);
	w->key = c->provider;
	w->text =
	    xasprintf("%s credential refused (HTTP %lld): %s", c->provider,
	        (long long) c->status_code, c->message ? c->message : "");
	return (0);
}

static int
cred_expiring_what(struct svc *svc, const struct msg *m, struct escalator *e,
    struct esc_want *w)
{
	const struct msg_credential_expiring *c = &m->body.credential_expiring;

	UNUSED(svc);
	UNUSED(e);
	if (c->days_left <= 1)
		w->kind = "credential_expiring_critical";
	w->key  = c->provider;
	w->text = xasprintf("%s credential expires in %lld day(s) (%s)",
	    c->provider, (long long) c->days_left,
	    c->expires_at ? c->expires_at : "unknown date");
	return (0);
}

/*
 * Consecutive Blocked updates per task (self-healing guard):
 *
 *   state          count          escalation
 *   Blocked        count + 1      task_blocked_repeatedly when
 *                                 count >= blocked_threshold (paused)
 *   Done/In Review 0, unpaused    -
 *   other          unchanged      -
 *
 * A Blocked -> Blocked update (prev_state Blocked) is not a new block.
 */
static int
blocked_what(struct svc *svc, const struct msg *m, struct escalator *e,
    struct esc_want *w)
{
	const struct msg_task_updated *t     = &m->body.task_updated;
	struct store                  *st    = svc_store(svc);
	int64_t                        count = 0;
	int                            rv;

	if (t->state == MSG_TASK_STATE_DONE ||
	    t->state == MSG_TASK_STATE_IN_REVIEW)
		return (store_run(st, "DELETE FROM blocked WHERE task_id = ?",
		    "t", t->task_id));
	if (t->state != MSG_TASK_STATE_BLOCKED ||
	    t->prev_state == MSG_TASK_STATE_BLOCKED)
		return (0);
	if ((rv = store_run(st,
	         "INSERT INTO blocked (task_id, count, updated_ms)"
	         " VALUES (?, 1, ?) ON CONFLICT(task_id) DO UPDATE"
	         " SET count = count + 1, updated_ms = excluded.updated_ms",
	         "ti", t->task_id, now_ms())) != 0 ||
	    (rv = store_int(st, &count, 0,
	         "SELECT count FROM blocked WHERE task_id = ?", "t",
	         t->task_id)) != 0)
		return (rv);
	if (count < e->blocked_threshold)
		return (0);
	if ((rv = store_run(st,
	         "UPDATE blocked SET paused = 1"
	         " WHERE task_id = ?",
	         "t", t->task_id)) != 0)
		return (rv);
	w->key = t->task_id;
	w->text =
	    xasprintf("task %s blocked %lld times in a row; self-healing "
	              "paused (last reason: %s)",
	        t->task_id, (long long) count, t->reason ? t->reason : "none");
	return (0);
}

/* A finished run escalates when it waits for input, spent its quota, or
 * did its work but could not open its pull request (a human opens it or
 * re-runs the task; a refused token is escalated as credential_invalid
 * by the executor's credential.invalid). */
static bool
finished_input(const struct msg_exec_finished *f)
{
	return (f->failure_category != NULL &&
	    strcmp(f->failure_category, "awaiting_input") == 0);
}

static const char *
finished_pr_error(const struct msg_exec_finished *f)
{
	const char *pr_err =
	    f->result != NULL ? f->result->pull_request_error : NULL;

	return (!f->success && pr_err != NULL &&
	            strcmp(f->status, "interrupted") != 0 &&
	            !(f->result->has_pull_request_status &&
	                f->result->pull_request_status == 401)
	        ? pr_err
	        : NULL);
}

static bool
finished_wanted(const struct msg *m)
{
	const struct msg_exec_finished *f = &m->body.exec_finished;

	return (finished_input(f) ||
	    outcome_quota(
	        f->failure_category, f->failure_reason, f->result != NULL) ||
	    finished_pr_error(f) != NULL);
}

static int
finished_what(struct svc *svc, const struct msg *m, struct escalator *e,
    struct esc_want *w)
{
	const struct msg_exec_finished *f      = &m->body.exec_finished;
	const char                     *pr_err = finished_pr_error(f);

	UNUSED(svc);
	UNUSED(e);
	if (pr_err != NULL) {
		w->kind = "pull_request_failed";
		w->key  = f->task_id;
		w->text =
		    xasprintf("pull request of task %s (run %s, branch %s) "
		              "not opened: %s",
		        f->task_id, f->run_id ? f->run_id : "?",
		        f->branch_name ? f->branch_name : "?", pr_err);
	} else if (finished_input(f)) {
		w->kind = "awaiting_input";
		w->key  = f->task_id;
		w->text = xasprintf("task %s (run %s) is waiting for human "
		                    "input: %s",
		    f->task_id, f->run_id ? f->run_id : "?",
		    f->failure_reason ? f->failure_reason : "");
	} else {
		w->kind = "quota_exhausted";
		w->key  = f->executor && *f->executor ? f->executor
		                                      : src_or(m, "executor");
		w->text = xasprintf("backend quota or rate limit hit on %s "
		                    "(task %s): %s",
		    w->key, f->task_id,
		    f->failure_reason ? f->failure_reason
		                      : f->failure_category);
	}
	return (0);
}

/* A spend cap that holds tasks back (issue 13) escalates, once per scope
 * ("global" or the repo) within the cooldown, and so does the disk
 * guardrail (low_disk: a human must make room); the other gates are rate
 * limits that clear by themselves. */
static bool
budget_wanted(const struct msg *m)
{
	const struct msg_budget_decision *b = &m->body.budget_decision;

	return (!b->allowed && b->reason != NULL &&
	    (strcmp(b->reason, "spend_cap") == 0 ||
	        strcmp(b->reason, "low_disk") == 0));
}

static int
budget_what(struct svc *svc, const struct msg *m, struct escalator *e,
    struct esc_want *w)
{
	const struct msg_budget_decision *b = &m->body.budget_decision;

	UNUSED(svc);
	UNUSED(e);
	if (strcmp(b->reason, "low_disk") == 0) {
		/* the disk guardrail: one escalation per cooldown */
		w->kind = "low_disk";
		w->key  = "disk";
		w->text = xasprintf("low disk: an executor has %lld MiB free, "
		                    "below its floor of %lld MiB "
		                    "(min_free_disk_mb); no run starts until "
		                    "there is room (task %s waits)",
		    (long long) b->current, (long long) b->limit,
		    b->task_id ? b->task_id : "-");
		return (0);
	}
	w->key = b->scope != NULL && strcmp(b->scope, "repo") == 0 &&
	        b->repo_key != NULL
	    ? b->repo_key
	    : "global";
	w->text =
	    xasprintf("spend cap reached (%s): %.2f USD spent or reserved "
	              "in the last 24 h of a %.2f USD cap; task %s "
	              "(%.2f USD) held until the window allows",
	        strcmp(w->key, "global") == 0 ? "all repos" : w->key,
	        b->current_usd, b->limit_usd, b->task_id ? b->task_id : "-",
	        b->estimate_usd);
	return (0);
}

static int
failed_what(struct svc *svc, const struct msg *m, struct escalator *e,
    struct esc_want *w)
{
	const struct msg_supervisor_service_failed *f =
	    &m->body.supervisor_service_failed;

	UNUSED(svc);
	UNUSED(e);
	w->key  = f->instance;
	w->text = xasprintf("service %s failed: %lld restarts in %lld s, last "
	                    "exit %s; the supervisor gave up",
	    f->instance, (long long) f->restarts, (long long) f->window_s,
	    f->exit_status ? f->exit_status : "unknown");
	return (0);
}

static int
stale_what(struct svc *svc, const struct msg *m, struct escalator *e,
    struct esc_want *w)
{
	const struct msg_supervisor_stale *s = &m->body.supervisor_stale;

	UNUSED(svc);
	UNUSED(e);
	w->key  = s->instance;
	w->text = xasprintf("service %s sent no heartbeat for %lld ms",
	    s->instance, (long long) s->age_ms);
	return (0);
}

static int
data_loss_what(struct svc *svc, const struct msg *m, struct escalator *e,
    struct esc_want *w)
{
	const struct msg_bus_data_loss *d = &m->body.bus_data_loss;

	UNUSED(svc);
	UNUSED(e);
	w->key = d->upstream;
	if (d->reason != NULL && strcmp(d->reason, "undeliverable") == 0)
		w->text = xasprintf("%s skipped event %lld of %s: larger than "
		                    "a frame can carry, it is lost",
		    m->src ? m->src : "?", (long long) d->cursor + 1,
		    d->upstream);
	else
		w->text = xasprintf("%s lost events of %s: cursor %lld, first "
		                    "available %lld",
		    m->src ? m->src : "?", d->upstream, (long long) d->cursor,
		    (long long) d->first_available);
	return (0);
}

/* A proposer gone quiet: the original's proposer_quiet escalation, which
 * could never fire there. */
static bool
quiet_wanted(const struct msg *m)
{
	return (m->body.proposer_quiet.quiet);
}

static int
quiet_what(struct svc *svc, const struct msg *m, struct escalator *e,
    struct esc_want *w)
{
	const struct msg_proposer_quiet *q  = &m->body.proposer_quiet;
	json_t                          *o  = msg_tally_obj(&q->reasons);
	char                            *rs = jsonx_dumps(o);

	UNUSED(svc);
	UNUSED(e);
	w->key  = m->src ? m->src : "proposer";
	w->text = xasprintf("%s proposed nothing in %lld cycles in a row;"
	                    " suppressions %s; advice: %s",
	    w->key, (long long) q->cycles, rs ? rs : "{}",
	    q->advice ? q->advice : "-");
	json_decref(o);
	free(rs);
	return (0);
}

/* A board that cannot work as configured (a Plane project without a state
 * opcenter moves items to); board-sync sends it once per change, the
 * cooldown is per instance. */
static int
board_what(struct svc *svc, const struct msg *m, struct escalator *e,
    struct esc_want *w)
{
	const struct msg_board_misconfigured *b = &m->body.board_misconfigured;

	UNUSED(svc);
	UNUSED(e);
	w->key  = src_or(m, "board-sync");
	w->text = xasprintf("%s board misconfigured (%s): %s", b->provider,
	    b->problem ? b->problem : "unknown", b->message ? b->message : "");
	return (0);
}

/* A disk that was full: every daemon on it reports its own episode once
 * writes work again, so an episode of a path whose escalation was wanted
 * within the cooldown is merged into it (counter disk_full_merged): one
 * incident, one escalation. */
static int
disk_full_what(struct svc *svc, const struct msg *m, struct escalator *e,
    struct esc_want *w)
{
	const struct msg_svc_disk_full *d = &m->body.svc_disk_full;
	int64_t                         n = 0;
	char                            at[40];
	int                             rv;

	if ((rv = store_int(svc_store(svc), &n, 0,
	         "SELECT count(*) FROM esc WHERE kind = 'disk_full' AND"
	         " key = ? AND created_ms > ?",
	         "ti", d->path, now_ms() - e->cooldown_ms)) != 0)
		return (rv);
	if (n > 0) {
		svc_count(svc, "disk_full_merged", 1);
		return (0);
	}
	w->key = d->path;
	w->text =
	    xasprintf("disk full: no space left on %s from %s for %lld s "
	              "(%s: %lld writes refused); writes work again",
	        d->path, iso8601(d->since_ms, at, sizeof(at)),
	        (long long) ((d->resumed_ms - d->since_ms) / 1000),
	        src_or(m, "?"), (long long) d->failures);
	return (0);
}

/* An operator's emergency stop and its end (opc pause / opc resume):
 * each pause and each resume escalates, keyed by the pause (a second
 * pause within the cooldown is another incident). */
static int
paused_what(struct svc *svc, const struct msg *m, struct escalator *e,
    struct esc_want *w)
{
	const struct msg_ops_paused *p = &m->body.ops_paused;

	UNUSED(svc);
	UNUSED(e);
	w->key  = p->pause_id ? p->pause_id : "pause";
	w->text = xasprintf("dispatch paused by an operator (%s): %s%s",
	    p->repo_key ? p->repo_key : "all repos", p->reason,
	    p->stop_running ? "; running work stopped" : "");
	return (0);
}

static int
resumed_what(struct svc *svc, const struct msg *m, struct escalator *e,
    struct esc_want *w)
{
	const struct msg_ops_resumed *p = &m->body.ops_resumed;

	UNUSED(svc);
	UNUSED(e);
	w->key  = p->pause_id;
	w->text = xasprintf("dispatch resumed by an operator (%s) after %lld "
	                    "s; %lld task(s) waited (the pause: %s)",
	    p->repo_key ? p->repo_key : "all repos",
	    (long long) (p->since_ms > 0 ? (now_ms() - p->since_ms) / 1000
	                                 : 0),
	    (long long) p->waiting, p->reason ? p->reason : "-");
	return (0);
}

/* ESC_KINDS(X): X(topic, kind, required field, empty_ok, wanted, what)
 * for every source topic; kinds[] and the handler table are made of it. */
#define NONE 0, NULL
#define ESC_KINDS(X)                                                          \
	X(MSG_CIRCUIT_CHANGED, "circuit_open", NEED(circuit_changed, state),  \
	    true, circuit_wanted, circuit_what)                               \
	X(MSG_CREDENTIAL_INVALID, "credential_invalid",                       \
	    NEED(credential_invalid, provider), false, NULL,                  \
	    cred_invalid_what)                                                \
	X(MSG_CREDENTIAL_EXPIRING, "credential_expiring",                     \
	    NEED(credential_expiring, provider), false, NULL,                 \
	    cred_expiring_what)                                               \
	X(MSG_TASK_UPDATED, "task_blocked_repeatedly",                        \
	    NEED(task_updated, task_id), false, NULL, blocked_what)           \
	X(MSG_EXEC_FINISHED, "quota_exhausted", NEED(exec_finished, task_id), \
	    false, finished_wanted, finished_what)                            \
	X(MSG_BUDGET_DECISION, "spend_cap", NONE, false, budget_wanted,       \
	    budget_what)                                                      \
	X(MSG_SUPERVISOR_SERVICE_FAILED, "service_failed",                    \
	    NEED(supervisor_service_failed, instance), false, NULL,           \
	    failed_what)                                                      \
	X(MSG_SUPERVISOR_STALE, "stale_heartbeat",                            \
	    NEED(supervisor_stale, instance), false, NULL, stale_what)        \
	X(MSG_BUS_DATA_LOSS, "data_loss", NEED(bus_data_loss, upstream),      \
	    false, NULL, data_loss_what)                                      \
	X(MSG_PROPOSER_QUIET, "proposer_quiet", NONE, false, quiet_wanted,    \
	    quiet_what)                                                       \
	X(MSG_BOARD_MISCONFIGURED, "board_misconfigured",                     \
	    NEED(board_misconfigured, provider), false, NULL, board_what)     \
	X(MSG_SVC_DISK_FULL, "disk_full", NEED(svc_disk_full, path), false,   \
	    NULL, disk_full_what)                                             \
	X(MSG_OPS_PAUSED, "paused", NEED(ops_paused, reason), false, NULL,    \
	    paused_what)                                                      \
	X(MSG_OPS_RESUMED, "resumed", NEED(ops_resumed, pause_id), false,     \
	    NULL, resumed_what)

static const struct esc_kind kinds[] = {
#define X(topic, ...) { topic, __VA_ARGS__ },
	ESC_KINDS(X)
#undef X
};

static int
on_event(struct svc *svc, const struct msg *m, void *state)
{
	const struct esc_kind *k = NULL;
	struct esc_want        w = { NULL, NULL, NULL };
	const char            *need;
	bool                   first;
	size_t                 i;
	int                    rv;

	for (i = 0; i < nitems(kinds) && k == NULL; i++)
		if (kinds[i].topic == m->topic)
			k = &kinds[i];
	if (k == NULL)
		return (ERR_INVAL); /* a handler without a row: not reached */
	if (k->bad != NULL) {
		need = *(char *const *) ((const char *) &m->body + k->field);
		if (need == NULL || (!k->empty_ok && *need == '\0')) {
			log_warn("escalator.bad_message", "%s: %s",
			    msg_topic_name(m->topic), k->bad);
			return (ERR_INVAL);
		}
	}
	if (k->wanted != NULL && !k->wanted(m))
		return (0);
	if ((rv = first_seen(svc, m, &first)) != 0 || !first)
		return (rv);
	w.kind = k->kind;
	if ((rv = k->what(svc, m, state, &w)) == 0 && w.text != NULL)
		rv = want(svc, m, w.kind, w.key, w.text);
	free(w.text);
	return (rv);
}

/* recent: the newest ESC_RECENT escalations, newest first, for the
 * dashboard: kind, key, when, state, attempts and the message's start
 * (never last_error: it may name a webhook URL). */
static json_t *
recent(struct store *st)
{
	struct store_stmt *s;
	json_t            *a = json_array();
	char               ts[40], *k, *key, *m;

	if (store_prep(st, &s,
	        "SELECT kind, key, at_ms, state, attempts,"
	        " substr(message, 1, 240) FROM esc ORDER BY id DESC"
	        " LIMIT " ESC_RECENT_S) != 0)
		return (a);
	while (store_step(s) == 1) {
		k   = utf8_lossy(store_col_text(s, 0));
		key = utf8_lossy(store_col_text(s, 1));
		m   = utf8_lossy(store_col_text(s, 5));
		json_array_append_new(a,
		    json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "kind", k,
		        "key", key, "at",
		        iso8601(store_col_int(s, 2), ts, sizeof(ts)), "state",
		        store_col_text(s, 3), "attempts",
		        (json_int_t) store_col_int(s, 4), "message", m));
		free(k);
		free(key);
		free(m);
	}
	store_done(s);
	return (a);
}

static void
escalator_status(struct svc *svc, void *state, json_t *obj)
{
	struct escalator        *e  = state;
	struct store            *st = svc_store(svc);
	struct store_stmt       *s;
	json_t                  *paused = json_array(), *urls = json_array();
	int64_t                  n;
	size_t                   i;
	static const char *const states[][2] = {
		{ "pending", "state IN ('pending', 'sending')" },
		{ "sending", "state = 'sending'" },
		{ "sent", "state = 'sent'" },
		{ "suppressed", "state = 'suppressed'" },
		{ "failed", "state = 'failed'" },
	};

	for (i = 0; i < nitems(states); i++) {
		char *q = xasprintf(
		    "SELECT count(*) FROM esc WHERE %s", states[i][1]);

		n = 0;
		(void) store_int(st, &n, 0, q, NULL);
		json_object_set_new(obj, states[i][0], json_integer(n));
		free(q);
	}
	(void) store_int(st, &n, 0, "SELECT count(*) FROM esc", NULL);
	json_object_set_new(obj, "escalations", json_integer(n));
	if (store_prep(st, &s,
	        "SELECT task_id FROM blocked WHERE paused = 1"
	        " ORDER BY task_id") == 0) {
		while (store_step(s) == 1)
			json_array_append_new(
			    paused, json_string(store_col_text(s, 0)));
		store_done(s);
	}
	json_object_set_new(obj, "self_heal_paused", paused);
	json_object_set_new(obj, "recent", recent(st));
	for (i = 0; i < e->nurls; i++)
		json_array_append_new(urls, json_string(e->shown[i]));
	json_object_set_new(obj, "urls", urls);
	json_object_set_new(
	    obj, "format", json_string(e->slack ? "slack" : "json"));
	json_object_set_new(obj, "last_error",
	    e->last_error[0] ? json_string(e->last_error) : json_null());
	json_object_set_new(obj, "in_flight", json_integer(e->cur_id != 0));
}

static const struct svc_handler handlers[] = {
#define X(topic, ...) { topic, on_event },
	ESC_KINDS(X)
#undef X
	    { MSG_NONE, NULL },
};

const struct svc_def escalator_def = {
	.name       = "escalator",
	.state_size = sizeof(struct escalator),
	.init       = escalator_init,
	.fini       = escalator_fini,
	.handlers   = handlers,
	.status     = escalator_status,
	.idle       = esc_idle,
	.config     = escalator_keys,
};
