/*
 * proposer.c - the proposer daemon: its db, handlers, cycles and queries
 * (see proposer.h).
 *
 * A cycle reads the current insights of each repo, makes candidates
 * (rules.c), runs the guardrails (guard.c) against what the db knows of
 * the world, and - when it executes - emits proposal.created for each
 * candidate that passed, proposal.suppressed for each that did not, and
 * one proposer.cycle, all in one transaction.  A dry run changes nothing.
 * Cycles that run in a handler take the event's time as "now", so a
 * replay decides exactly as the first pass did.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/report.h"
#include "opc/store.h"
#include "opc/topo.h"
#include "opc/util.h"
#include "proposer.h"

#define HOUR_MS (3600 * 1000LL)
#define DAY_MS (24 * HOUR_MS)
#define COMPLETED_WINDOW_MS (7 * DAY_MS)
#define CALIB_WINDOW_DAYS 90

static const char *schema =
    "CREATE TABLE IF NOT EXISTS insight ("
    " repo TEXT NOT NULL, dedup_key TEXT NOT NULL, json TEXT NOT NULL,"
    " run_id TEXT, PRIMARY KEY (repo, dedup_key));"
    "CREATE TABLE IF NOT EXISTS emitted ("
    " candidate_id TEXT PRIMARY KEY, dedup_key TEXT NOT NULL,"
    " family TEXT NOT NULL, repo TEXT NOT NULL, confidence TEXT NOT NULL,"
    " title TEXT, created_at INTEGER NOT NULL, cycle_id TEXT,"
    " task_id TEXT, outcome TEXT, outcome_at INTEGER);"
    "CREATE INDEX IF NOT EXISTS emitted_key ON emitted(dedup_key);"
    "CREATE INDEX IF NOT EXISTS emitted_task ON emitted(task_id);"
    "CREATE TABLE IF NOT EXISTS task ("
    " task_id TEXT PRIMARY KEY, title TEXT, state TEXT NOT NULL,"
    " updated_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS rejection ("
    " dedup_key TEXT PRIMARY KEY COLLATE NOCASE, reason TEXT,"
    " task_id TEXT, task_title TEXT, recorded_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS cycle ("
    " cycle_id TEXT PRIMARY KEY, at INTEGER NOT NULL, repo TEXT,"
    " candidates INTEGER NOT NULL, created INTEGER NOT NULL,"
    " suppressed INTEGER NOT NULL, reasons TEXT NOT NULL,"
    " families TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS exec (run_id TEXT PRIMARY KEY,"
    " at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS exec_at ON exec(at);"
    "CREATE TABLE IF NOT EXISTS repo_run (repo TEXT PRIMARY KEY,"
    " run_id TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value INTEGER);"
    /* outcomes recorded by hand (opc proposals feedback record): one per
     * task, replacing what the board said of it in the calibration */
    /* the reports of cycles run by events (auto, CI), written by the
     * effect loop (reports/decide, reports/propose) */
    "CREATE TABLE IF NOT EXISTS pending_report (cycle_id TEXT PRIMARY"
    " KEY, json TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS feedback (task_id TEXT PRIMARY KEY,"
    " outcome TEXT NOT NULL, family TEXT NOT NULL,"
    " confidence TEXT NOT NULL, note TEXT, recorded_at INTEGER NOT NULL);";

/* ---- configuration --------------------------------------------------------
 */

static int
load_tiers(
    struct proposer *p, const struct cfg_node *c, char *err, size_t errlen)
{
	const struct cfg_node *t = cfg_get(c, "tiers");
	int64_t                v;
	size_t                 i;
	int                    rv;

	p->tiers = json_object();
	if (t != NULL && cfg_type(t) != CFG_MAP) {
		snprintf(err, errlen, "tiers: expected a map of family: tier");
		return (ERR_CONFIG);
	}
	for (i = 0; i < cfg_len(t); i++) {
		/* tier_item's bounds are checked at start (svc_open) */
		if ((rv = cfg_get_int(
		         t, cfg_key_at(t, i), 1, &v, err, errlen)) != 0)
			return (rv);
		json_object_set_new(
		    p->tiers, cfg_key_at(t, i), json_integer(v));
	}
	p->gl.tiers = p->tiers;
	return (0);
}

static int
proposer_init(struct svc *svc, void *state)
{
	struct proposer       *p        = state;
	const struct cfg_node *c        = svc_cfg(svc);
	struct guard_limits   *g        = &p->gl;
	char                   err[512] = "", *dir;
	size_t                 nf;
	int                    rv, on = 0, all = 0;

	/* the configurable limits' defaults and bounds are proposer_keys'
	 * (config.c); the *_default functions set the others */
	rule_limits_default(&p->rl);
	guard_limits_default(g);
	if ((rv = cfg_tab_bool(
	         proposer_keys, c, "auto", &on, err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_bool(proposer_keys, c, "all_families", &all, err,
	         sizeof(err))) != 0 ||
	    (rv = cfg_get_strs(
	         c, "families", &p->families, &nf, err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_int(proposer_keys, c, "max_candidates",
	         &g->max_candidates, err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_ms(proposer_keys, c, "cooldown", &g->cooldown_ms,
	         err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_int(proposer_keys, c, "velocity_cap",
	         &g->velocity_cap_24h, err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_int(proposer_keys, c, "ready_saturation",
	         &g->ready_saturation, err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_int(proposer_keys, c, "budget.max_per_hour",
	         &g->max_exec_hour, err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_int(proposer_keys, c, "budget.max_per_day",
	         &g->max_exec_day, err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_int(proposer_keys, c, "budget.min_remaining",
	         &g->min_remaining_exec, err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_int(proposer_keys, c, "lint_min_violations",
	         &p->rl.lint_min_violations, err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_int(proposer_keys, c, "type_min_errors",
	         &p->rl.type_min_errors, err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_ms(proposer_keys, c, "ci_debounce",
	         &p->ci_debounce_ms, err, sizeof(err))) != 0 ||
	    (rv = cfg_tab_int(proposer_keys, c, "rescore_every",
	         &p->rescore_every, err, sizeof(err))) != 0 ||
	    (rv = load_tiers(p, c, err, sizeof(err))) != 0)
		goto bad;
	p->rl_cfg       = p->rl;
	p->tiers_cfg    = json_deep_copy(p->tiers);
	p->auto_cycle   = on;
	g->all_families = all;
	g->families     = p->families;
	dir = xasprintf("%s/%s", svc_topo(svc)->state_dir, svc_name(svc));
	(void) mkdirs(dir, 0700);
	p->quiet_path = xasprintf("%s/quiet_diagnosis.json", dir);
	free(dir);
	/* the signal and priority of a proposal: what a rescore compares */
	if ((rv = store_exec(svc_store(svc), schema)) == 0 &&
	    (rv = store_add_column(
	         svc_store(svc), "emitted", "signal", "INTEGER")) == 0 &&
	    (rv = store_add_column(
	         svc_store(svc), "emitted", "priority", "TEXT")) == 0 &&
	    (rv = live_load(svc, p)) == 0 &&
	    (rv = proposer_patterns_init(svc)) == 0)
		return (0);
	snprintf(err, sizeof(err), "cannot create the schema");
bad:
	log_error("proposer.config", "%s", err);
	return (rv);
}

static void
proposer_fini(struct svc *svc, void *state)
{
	struct proposer *p = state;

	(void) svc;
	free(p->families);
	json_decref(p->tiers);
	json_decref(p->tiers_cfg);
	free(p->quiet_path);
}

/* ---- what a cycle knows of the world
 * ------------------------------------------- */

struct world {
	struct svc *svc;
	int64_t     now;
};

static int
w_rejected(void *arg, const char *dk)
{
	struct world *w = arg;
	int64_t       n = 0;

	(void) store_int(svc_store(w->svc), &n, 0,
	    "SELECT count(*) FROM"
	    " rejection WHERE dedup_key = ?",
	    "t", dk);
	return (n > 0);
}

static int
w_cycling(void *arg, const char *repo, const char *family)
{
	struct world *w  = arg;
	int64_t       n  = 0;
	char         *dk = xasprintf("noop_loop|family_cycling|%s", family);

	(void) store_int(svc_store(w->svc), &n, 0,
	    "SELECT count(*) FROM"
	    " insight WHERE repo = ? AND dedup_key = ?",
	    "tt", repo, dk);
	free(dk);
	return (n > 0);
}

static int64_t
w_last_emitted(void *arg, const char *dk)
{
	struct world *w  = arg;
	int64_t       at = 0;

	(void) store_int(svc_store(w->svc), &at, 0,
	    "SELECT"
	    " coalesce(max(created_at), 0) FROM emitted WHERE dedup_key = ?",
	    "t", dk);
	return (at);
}

static int64_t
w_family_emitted(void *arg, const char *repo, const char *family)
{
	struct world *w  = arg;
	int64_t       at = 0;

	(void) store_int(svc_store(w->svc), &at, 0,
	    "SELECT"
	    " coalesce(max(created_at), 0) FROM emitted WHERE repo = ? AND"
	    " family = ?",
	    "tt", repo, family);
	return (at);
}

/* w_equivalent: a task made for the same dedup key, or titled the same
 * (case-insensitive), still open (1) or Done in the last week (2). */
#define EQUIVALENT                                                           \
	"SELECT count(*) FROM task t WHERE (t.task_id IN (SELECT task_id"    \
	" FROM emitted WHERE dedup_key = ?1) OR lower(t.title) = lower(?2))" \
	" AND "

static int
w_equivalent(void *arg, const struct cand *c)
{
	struct world *w = arg;
	int64_t       n = 0;

	(void) store_int(svc_store(w->svc), &n, 0,
	    EQUIVALENT "t.state NOT"
	               " IN ('Done', 'Cancelled')",
	    "tt", c->dedup_key, c->title);
	if (n > 0)
		return (1);
	(void) store_int(svc_store(w->svc), &n, 0,
	    EQUIVALENT "t.state ="
	               " 'Done' AND t.updated_at >= ?3",
	    "tti", c->dedup_key, c->title, w->now - COMPLETED_WINDOW_MS);
	return (n > 0 ? 2 : 0);
}

static void
world_ctx(struct world *w, struct guard_ctx *x)
{
	struct store *st = svc_store(w->svc);

	memset(x, 0, sizeof(*x));
	x->now_ms = w->now;
	x->arg    = w;
	(void) store_int(st, &x->exec_hour, 0,
	    "SELECT count(*) FROM exec"
	    " WHERE at >= ?",
	    "i", w->now - HOUR_MS);
	(void) store_int(st, &x->exec_day, 0,
	    "SELECT count(*) FROM exec"
	    " WHERE at >= ?",
	    "i", w->now - DAY_MS);
	(void) store_int(st, &x->created_24h, 0,
	    "SELECT count(*) FROM emitted"
	    " WHERE created_at >= ?",
	    "i", w->now - DAY_MS);
	(void) store_int(st, &x->ready_count, 0,
	    "SELECT count(*) FROM task"
	    " WHERE state = 'Ready for AI'",
	    NULL);
	x->rejected       = w_rejected;
	x->cycling        = w_cycling;
	x->last_emitted   = w_last_emitted;
	x->family_emitted = w_family_emitted;
	x->equivalent     = w_equivalent;
}

/* ---- a cycle
 * ------------------------------------------------------------------ */

/* gather makes the candidates of repo (NULL: every repo). */
static void
gather(struct svc *svc, struct proposer *p, const char *repo, struct cand **cv,
    size_t *n)
{
	struct store_stmt *st;
	json_t            *ins = NULL, *i;
	char              *cur = NULL;
	const char        *r;

	if (store_prep(svc_store(svc), &st,
	        "SELECT repo, json FROM insight"
	        " WHERE ?1 IS NULL OR repo = ?1 ORDER BY repo, dedup_key") !=
	    0)
		return;
	if (repo != NULL)
		store_bind_text(st, 1, repo);
	else
		store_bind_null(st, 1);
	while (store_step(st) == 1) {
		r = store_col_text(st, 0);
		if (cur != NULL && strcmp(cur, r) != 0) {
			rules_apply(cur, ins, &p->rl, cv, n);
			json_decref(ins);
			free(cur);
			cur = NULL;
		}
		if (cur == NULL) {
			cur = xstrdup(r);
			ins = json_array();
		}
		if ((i = json_loads(store_col_text(st, 1), 0, NULL)) != NULL)
			json_array_append_new(ins, i);
	}
	store_done(st);
	if (cur != NULL)
		rules_apply(cur, ins, &p->rl, cv, n);
	json_decref(ins);
	free(cur);
}

/* emit_dependency says a dependency_update proposal was made
 * (dependency_update_task_created: bus, log, counter). */
static int
emit_dependency(
    struct svc *svc, const struct cand *c, const char *id, const char *source)
{
	struct msg_dependency_update_task_created ev;
	const json_t                             *e = c->evidence;

	memset(&ev, 0, sizeof(ev));
	ev.candidate_id = (char *) id;
	ev.dedup_key    = c->dedup_key;
	ev.repo         = c->repo;
	ev.package = (char *) json_string_value(json_object_get(e, "package"));
	ev.ecosystem =
	    (char *) json_string_value(json_object_get(e, "ecosystem"));
	ev.kind = (char *) json_string_value(json_object_get(e, "task_kind"));
	ev.status = (char *) json_string_value(json_object_get(e, "status"));
	ev.title  = c->title;
	ev.source = (char *) source;
	svc_count(svc, "dependency_update_tasks_created", 1);
	log_info("dependency_update_task_created",
	    "repo=%s package=%s kind=%s candidate=%s: %s", c->repo,
	    ev.package ? ev.package : "?", ev.kind ? ev.kind : "?", id,
	    c->title);
	return (svc_emit(svc, MSG_DEPENDENCY_UPDATE_TASK_CREATED, id, &ev));
}

/* priority_of maps a confidence to the task's first priority. */
static const char *
priority_of(const char *confidence)
{
	return (strcmp(confidence, "high") == 0  ? "high"
	        : strcmp(confidence, "low") == 0 ? "low"
	                                         : "medium");
}

/* provenance returns the "## Proposal Provenance" section of a proposed
 * task's description (the original's guide: traceable run ids). */
static char *
provenance(const struct cand *c, const char *id, const char *cycle_id,
    const char *insight_run)
{
	struct buf b;
	json_t    *e;
	char      *ev;
	size_t     i;

	buf_init(&b);
	buf_printf(&b,
	    "## Proposal Provenance\n- source: autonomy\n- source_family: "
	    "%s\n- candidate_id: %s\n- dedup_key: %s\n- confidence: %s\n"
	    "- risk_class: %s\n- autonomy_tier: %d\n- validation_profile:"
	    " %s\n- cycle_id: %s\n",
	    c->family, id, c->dedup_key, c->confidence, c->risk_class, c->tier,
	    c->validation_profile, cycle_id);
	if (insight_run != NULL)
		buf_printf(&b, "- insight_run: %s\n", insight_run);
	buf_puts(&b, "- insight_ids:");
	json_array_foreach (c->insight_ids, i, e)
		buf_printf(
		    &b, "%s %s", i > 0 ? "," : "", json_string_value(e));
	ev = json_dumps(c->evidence, JSON_COMPACT | JSON_SORT_KEYS);
	buf_printf(&b, "\n- evidence: %s\n", ev != NULL ? ev : "{}");
	free(ev);
	ev = xstrdup(buf_cstr(&b));
	buf_fini(&b);
	return (ev);
}

/* emit_created emits one passing candidate and remembers it; source
 * NULL: a proposal of the autonomy cycle, else the task's source label
 * (opc dependency-check's). */
static int
emit_created(struct svc *svc, const struct cand *c, const char *cycle_id,
    const char *insight_run, int64_t now, const char *source)
{
	struct msg_proposal_created m;
	char   *id, *fam, *conf, *prov, *note, *goal = NULL;
	json_t *e;
	size_t  i;
	bool    dep = strcmp(c->family, "dependency_update") == 0;
	int     rv;

	/* unique per emission: the board creates one task per id */
	id   = xasprintf("%s@%s", c->candidate_id, cycle_id);
	fam  = xasprintf("source-family: %s", c->family);
	conf = xasprintf("confidence: %s", c->confidence);
	prov =
	    source == NULL ? provenance(c, id, cycle_id, insight_run) : NULL;
	memset(&m, 0, sizeof(m));
	m.candidate_id = id;
	m.dedup_key    = c->dedup_key;
	m.family       = c->family;
	m.repo         = c->repo;
	m.title        = c->title;
	m.goal         = c->goal;
	/* what reviewers said of this family's earlier pull requests */
	if ((note = proposer_patterns_note(svc, c->repo, c->family)) != NULL)
		m.goal = goal =
		    xasprintf("%s%s", c->goal ? c->goal : "", note);
	free(note);
	m.confidence = (char *) c->confidence;
	if (source == NULL)
		msg_strs_add(&m.labels, "source: autonomy");
	msg_strs_add(&m.labels, fam);
	msg_strs_add(&m.labels, conf);
	if (c->state != NULL)
		(void) msg_task_state_parse(c->state, &m.state);
	m.tier       = c->tier;
	m.risk_class = (char *) c->risk_class;
	m.cycle_id   = (char *) cycle_id;
	m.evidence   = c->evidence;
	m.source     = (char *) source;
	if (dep)
		m.kind = "improve";
	json_array_foreach (c->insight_ids, i, e)
		msg_strs_add(&m.insight_ids, json_string_value(e));
	m.provenance = prov;
	m.priority   = (char *) priority_of(c->confidence);
	rv           = store_run(svc_store(svc),
	              "INSERT INTO emitted(candidate_id,"
	                        " dedup_key, family, repo, confidence, title, created_at,"
	                        " cycle_id, signal, priority) VALUES (?, ?, ?, ?, ?, ?, ?,"
	                        " ?, ?, ?)",
	              "ttttttitit", id, c->dedup_key, c->family, c->repo, c->confidence,
	              c->title, now, cycle_id, c->signal, m.priority);
	if (rv == 0)
		rv = svc_emit(svc, MSG_PROPOSAL_CREATED, id, &m);
	if (rv == 0 && dep)
		rv = emit_dependency(
		    svc, c, id, source != NULL ? source : "autonomy");
	/* only the label and insight lists are owned by m */
	msg_strs_fini(&m.labels);
	msg_strs_fini(&m.insight_ids);
	free(id);
	free(fam);
	free(conf);
	free(prov);
	free(goal);
	return (rv);
}

static int
emit_suppressed(struct svc *svc, const struct cand *c, const char *cycle_id)
{
	struct msg_proposal_suppressed m;

	memset(&m, 0, sizeof(m));
	m.dedup_key = c->dedup_key;
	m.reason    = (char *) c->reason;
	m.family    = c->family;
	m.repo      = c->repo;
	m.evidence  = c->evidence;
	m.cycle_id  = (char *) cycle_id;
	m.subject   = c->pattern;
	return (svc_emit(svc, MSG_PROPOSAL_SUPPRESSED, c->dedup_key, &m));
}

/* loads parses s, or returns def when it is not JSON (def stolen). */
static json_t *
loads(const char *s, json_t *def)
{
	json_t *v = s != NULL ? json_loads(s, 0, NULL) : NULL;

	if (v == NULL)
		return (def);
	json_decref(def);
	return (v);
}

static json_t *
last_cycles(struct svc *svc)
{
	struct store_stmt *st;
	json_t            *a = json_array();

	if (store_prep(svc_store(svc), &st,
	        "SELECT cycle_id, created,"
	        " candidates, reasons, families FROM cycle ORDER BY at DESC,"
	        " cycle_id DESC LIMIT ?") != 0)
		return (a);
	store_bind_int(st, 1, QUIET_CYCLES);
	while (store_step(st) == 1)
		json_array_append_new(a,
		    json_pack("{s:s, s:I, s:I, s:o, s:o}", "cycle_id",
		        store_col_text(st, 0), "created",
		        (json_int_t) store_col_int(st, 1), "candidates",
		        (json_int_t) store_col_int(st, 2), "reasons",
		        loads(store_col_text(st, 3), json_object()),
		        "families",
		        loads(store_col_text(st, 4), json_array())));
	store_done(st);
	return (a);
}

/* quiet_edge emits proposer.quiet when the last cycles turn quiet or a
 * proposal ends a quiet spell (the kv row remembers which it was). */
static int
quiet_edge(struct svc *svc)
{
	struct msg_proposer_quiet q;
	json_t                   *cy  = last_cycles(svc), *d;
	int64_t                   was = 0;
	int                       rv;

	d = calib_quiet_diagnosis(cy, 0);
	json_decref(cy);
	(void) store_int(svc_store(svc), &was, 0,
	    "SELECT value FROM kv WHERE"
	    " key = 'quiet'",
	    NULL);
	if ((d != NULL) == (was != 0)) {
		json_decref(d);
		return (0);
	}
	memset(&q, 0, sizeof(q));
	q.quiet  = d != NULL;
	q.cycles = QUIET_CYCLES;
	msg_tally_add_obj(
	    &q.reasons, json_object_get(d, "aggregated_suppression_reasons"));
	q.advice = (char *) json_string_value(json_object_get(d, "advice"));
	rv       = store_run(svc_store(svc),
	          "INSERT OR REPLACE INTO kv(key, value)"
	                " VALUES ('quiet', ?)",
	          "i", (int64_t) q.quiet);
	if (rv == 0)
		rv = svc_emit(svc, MSG_PROPOSER_QUIET, NULL, &q);
	msg_tally_list_fini(&q.reasons);
	json_decref(d);
	return (rv);
}

/* ---- priority rescore ---------------------------------------------------
 */

static const char *const priorities[] = { "low", "medium", "high", "urgent" };

static int
prio_rank(const char *p)
{
	size_t i;

	for (i = 0; p != NULL && i < nitems(priorities); i++)
		if (strcmp(p, priorities[i]) == 0)
			return ((int) i);
	return (1); /* medium */
}

/* rescore_one decides one open task's priority from its signal now:
 * demoted when the signal is gone or shrank by a quarter, promoted when
 * it grew by a quarter (one step each, low to urgent). */
static int
rescore_one(struct svc *svc, const char *task_id, const char *candidate_id,
    const char *dk, const char *family, const char *repo, int64_t then,
    const char *prio, int64_t now_sig)
{
	struct msg_priority_rescore_promoted ev; /* same fields as demoted */
	int                                  r = prio_rank(prio), to = r;
	int64_t     step = then > 0 ? (then + 3) / 4 : 1;
	const char *why  = NULL;
	int         rv;

	if (now_sig <= 0) {
		to  = r > 0 ? r - 1 : r;
		why = "signal_gone";
	} else if (now_sig <= then - step) {
		to  = r > 0 ? r - 1 : r;
		why = "signal_shrank";
	} else if (now_sig >= then + step) {
		to  = r + 1 < (int) nitems(priorities) ? r + 1 : r;
		why = "signal_grew";
	}
	if (why == NULL)
		return (0);
	/* the signal is the new baseline even when the priority is at its
	 * end already */
	if ((rv = store_run(svc_store(svc),
	         "UPDATE emitted SET signal = ?, priority = ? WHERE"
	         " candidate_id = ?",
	         "itt", now_sig, priorities[to], candidate_id)) != 0 ||
	    to == r)
		return (rv);
	memset(&ev, 0, sizeof(ev));
	ev.task_id       = (char *) task_id;
	ev.priority      = (char *) priorities[to];
	ev.prev_priority = (char *) priorities[r];
	ev.dedup_key     = (char *) dk;
	ev.family        = (char *) family;
	ev.repo          = (char *) repo;
	ev.signal        = now_sig;
	ev.prev_signal   = then;
	ev.reason        = (char *) why;
	log_info(
	    to > r ? "priority_rescore_promoted" : "priority_rescore_demoted",
	    "%s (%s): priority %s -> %s, signal %lld -> %lld (%s)", task_id,
	    dk, priorities[r], priorities[to], (long long) then,
	    (long long) now_sig, why);
	svc_count(svc, to > r ? "rescore_promoted" : "rescore_demoted", 1);
	return (svc_emit(svc,
	    to > r ? MSG_PRIORITY_RESCORE_PROMOTED
	           : MSG_PRIORITY_RESCORE_DEMOTED,
	    task_id, &ev));
}

/* rescore rescores every open task the proposer made from the current
 * insights of every repo (the original's priority rescore). */
static int
rescore(struct svc *svc, struct proposer *p)
{
	struct store_stmt *st;
	struct cand       *cv   = NULL;
	json_t            *rows = json_array(), *r;
	size_t             n    = 0, i, k;
	int64_t            sig;
	int                rv = 0;

	gather(svc, p, NULL, &cv, &n);
	if (store_prep(svc_store(svc), &st,
	        "SELECT e.task_id, e.candidate_id, e.dedup_key, e.family,"
	        " e.repo, coalesce(e.signal, 1), e.priority FROM emitted e"
	        " JOIN task t ON t.task_id = e.task_id WHERE e.outcome IS NULL"
	        " AND t.state NOT IN ('Done', 'Cancelled') ORDER BY"
	        " e.created_at, e.candidate_id") == 0) {
		while (store_step(st) == 1)
			json_array_append_new(rows,
			    json_pack("[s, s, s, s, s, I, s?]",
			        store_col_text(st, 0), store_col_text(st, 1),
			        store_col_text(st, 2), store_col_text(st, 3),
			        store_col_text(st, 4),
			        (json_int_t) store_col_int(st, 5),
			        store_col_text(st, 6)));
		store_done(st);
	}
	json_array_foreach (rows, i, r) {
		const char *dk = json_string_value(json_array_get(r, 2));

		sig = 0;
		for (k = 0; k < n; k++)
			if (strcmp(cv[k].dedup_key, dk) == 0)
				sig = cv[k].signal;
		if ((rv = rescore_one(svc,
		         json_string_value(json_array_get(r, 0)),
		         json_string_value(json_array_get(r, 1)), dk,
		         json_string_value(json_array_get(r, 3)),
		         json_string_value(json_array_get(r, 4)),
		         json_integer_value(json_array_get(r, 5)),
		         json_string_value(json_array_get(r, 6)), sig)) != 0)
			break;
	}
	log_info("proposer.rescore", "%zu open autonomy task(s) rescored",
	    json_array_size(rows));
	json_decref(rows);
	cands_free(cv, n);
	return (rv);
}

/* rescore_due counts executed cycles and rescores every rescore_every
 * of them (the original: every 45 improve cycles). */
static int
rescore_due(struct svc *svc, struct proposer *p, int64_t now)
{
	int64_t n = 0;
	int     rv;

	(void) now;
	(void) store_int(svc_store(svc), &n, 0,
	    "SELECT value FROM kv WHERE key = 'since_rescore'", NULL);
	if (++n >= p->rescore_every) {
		n = 0;
		if ((rv = rescore(svc, p)) != 0)
			return (rv);
	}
	return (store_run(svc_store(svc),
	    "INSERT OR REPLACE INTO kv(key,"
	    " value) VALUES ('since_rescore', ?)",
	    "i", n));
}

/* record emits the cycle's events and its summary row. */
static int
record(struct svc *svc, struct proposer *p, const struct cand *cv, size_t n,
    const char *repo, const char *cycle_id, const char *insight_run,
    const char *trigger_id, int64_t now, json_t *reasons, json_t *families)
{
	struct msg_proposer_cycle m;
	int64_t                   created = 0;
	char                     *rs, *fs;
	size_t                    i;
	int                       rv = 0;

	for (i = 0; i < n && rv == 0; i++) {
		if (cv[i].reason == NULL) {
			rv = emit_created(
			    svc, &cv[i], cycle_id, insight_run, now, NULL);
			created++;
		} else
			rv = emit_suppressed(svc, &cv[i], cycle_id);
	}
	if (rv != 0)
		return (rv);
	memset(&m, 0, sizeof(m));
	m.cycle_id   = (char *) cycle_id;
	m.candidates = (int64_t) n;
	m.created    = created;
	m.suppressed = (int64_t) n - created;
	msg_tally_add_obj(&m.reasons, reasons);
	m.repo        = (char *) repo;
	m.insight_run = (char *) insight_run;
	m.trigger_id  = (char *) trigger_id;
	rs            = json_dumps(reasons, JSON_COMPACT | JSON_SORT_KEYS);
	fs            = json_dumps(families, JSON_COMPACT);
	rv            = store_run(svc_store(svc),
	               "INSERT OR REPLACE INTO cycle(cycle_id,"
	                          " at, repo, candidates, created, suppressed, reasons, families)"
	                          " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	               "titiiitt", cycle_id, now, repo, (int64_t) n, created,
	               (int64_t) n - created, rs, fs);
	free(rs);
	free(fs);
	if (rv == 0)
		rv = svc_emit(svc, MSG_PROPOSER_CYCLE, cycle_id, &m);
	msg_tally_list_fini(&m.reasons);
	if (rv == 0)
		rv = quiet_edge(svc);
	if (rv == 0)
		rv = rescore_due(svc, p, now);
	if (rv == 0) {
		svc_count(svc, "cycles", 1);
		svc_count(svc, "proposals_created", created);
		svc_count(svc, "proposals_suppressed", (int64_t) n - created);
		p->quiet_dirty = true;
	}
	return (rv);
}

/* cycle runs one cycle over repo (NULL: all) at now.  It executes when
 * execute is set (the caller holds the transaction); *out gets the
 * report {cycle_id, dry_run, candidates, created, suppressed}. */
static int
cycle(struct svc *svc, struct proposer *p, const char *repo, bool execute,
    const char *cycle_id, const char *insight_run, const char *trigger_id,
    int64_t now, json_t **out)
{
	struct world     w = { svc, now };
	struct guard_ctx x;
	struct cand     *cv = NULL;
	json_t          *rep, *created = json_array(), *supp = json_array(),
	             *reasons = json_object(), *fams = json_array();
	size_t n  = 0, i;
	int    rv = 0;

	gather(svc, p, repo, &cv, &n);
	world_ctx(&w, &x);
	(void) guard_run(cv, n, &p->gl, &x);
	for (i = 0; i < n; i++) {
		json_array_append_new(
		    cv[i].reason == NULL ? created : supp, cand_json(&cv[i]));
		if (cv[i].reason != NULL)
			json_object_set_new(reasons, cv[i].reason,
			    json_integer(json_integer_value(json_object_get(
			                     reasons, cv[i].reason)) +
			        1));
		json_array_append_new(fams, json_string(cv[i].family));
	}
	if (execute)
		rv = record(svc, p, cv, n, repo, cycle_id, insight_run,
		    trigger_id, now, reasons, fams);
	rep = json_pack("{s:s, s:b, s:s?, s:I, s:o, s:o, s:o, s:s?, s:I}",
	    "cycle_id", cycle_id, "dry_run", !execute, "repo", repo,
	    "candidates", (json_int_t) n, "created", created, "suppressed",
	    supp, "reasons", reasons, "trigger_id", trigger_id, "at",
	    (json_int_t) now);
	if (out != NULL)
		*out = rep;
	else
		json_decref(rep);
	json_decref(fams);
	cands_free(cv, n);
	return (rv);
}

/* ---- reports (effects)
 * ---------------------------------------------------------- */

/* write_reports writes a cycle report rep as the decide artifact (the
 * candidates and the suppressed) and the propose artifact (created,
 * skipped, failed: the original's proposal_results) and adds their
 * paths to rep as reports{decide, propose}. */
static void
write_reports(struct svc *svc, json_t *rep)
{
	const struct topo *t = svc_topo(svc);
	const char *cid = json_string_value(json_object_get(rep, "cycle_id"));
	json_t     *dec, *pro, *paths = json_object();
	char       *pd = NULL, *pp = NULL, *prop_id;

	prop_id = xasprintf("prop_%s",
	    cid != NULL && strncmp(cid, "dec_", 4) == 0 ? cid + 4 : "?");
	dec     = json_pack("{s:s?, s:I, s:i, s:s, s:O, s:O?, s:O, s:O, s:O}",
	        "run_id", cid, "generated_at", (json_int_t) now_ms(),
	        "decision_engine_version", 1, "source_command", "opc-proposer",
	        "dry_run", json_object_get(rep, "dry_run"), "repo",
	        json_object_get(rep, "repo"), "candidates",
	        json_object_get(rep, "created"), "suppressed",
	        json_object_get(rep, "suppressed"), "reasons",
	        json_object_get(rep, "reasons"));
	pro =
	    json_pack("{s:s, s:I, s:i, s:s, s:s?, s:O, s:O?, s:o, s:O, s:[]}",
	        "run_id", prop_id, "generated_at", (json_int_t) now_ms(),
	        "proposer_integration_version", 1, "source_command",
	        "opc-proposer", "decision_run_id", cid, "dry_run",
	        json_object_get(rep, "dry_run"), "repo",
	        json_object_get(rep, "repo"), "created",
	        json_is_true(json_object_get(rep, "dry_run"))
	            ? json_array()
	            : json_incref(json_object_get(rep, "created")),
	        "skipped", json_object_get(rep, "suppressed"), "failed");
	if (json_object_get(rep, "trigger_id") != NULL)
		json_object_set(
		    pro, "trigger_id", json_object_get(rep, "trigger_id"));
	if (report_write(&pd, t->state_dir, "decide", dec, t->reports_keep) !=
	        0 ||
	    report_write(&pp, t->state_dir, "propose", pro, t->reports_keep) !=
	        0)
		log_warn("proposer.report", "%s: cannot write its reports: %s",
		    cid ? cid : "?", strerror(errno));
	if (pd != NULL)
		json_object_set_new(paths, "decide", json_string(pd));
	if (pp != NULL)
		json_object_set_new(paths, "propose", json_string(pp));
	json_object_set_new(rep, "reports", paths);
	free(pd);
	free(pp);
	free(prop_id);
	json_decref(dec);
	json_decref(pro);
}

/* flush_reports writes the reports of the cycles events ran. */
static void
flush_reports(struct svc *svc)
{
	struct store_stmt *st;
	json_t            *todo = json_array(), *r;
	size_t             i;

	if (store_prep(svc_store(svc), &st,
	        "SELECT cycle_id, json FROM"
	        " pending_report ORDER BY cycle_id") != 0)
		return;
	while (store_step(st) == 1)
		if ((r = json_loads(store_col_text(st, 1), 0, NULL)) != NULL)
			json_array_append_new(todo, r);
	store_done(st);
	json_array_foreach (todo, i, r) {
		write_reports(svc, r);
		(void) store_run(svc_store(svc),
		    "DELETE FROM pending_report WHERE cycle_id = ?", "t",
		    json_string_value(json_object_get(r, "cycle_id")));
	}
	(void) store_run(svc_store(svc), "DELETE FROM pending_report", NULL);
	json_decref(todo);
}

/* ---- handlers
 * ----------------------------------------------------------------- */

static int
on_insight(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_insight_derived *d = &m->body.insight_derived;
	json_t                           *o;
	char                             *js;
	int                               rv;

	(void) state;
	if (d->repo == NULL || d->dedup_key == NULL || d->kind == NULL) {
		svc_count(svc, "bad_insights", 1);
		log_warn("proposer.insight",
		    "%s: no repo, dedup_key or kind:"
		    " ignored",
		    d->insight_id);
		return (0);
	}
	o  = msg_body_to_json(MSG_INSIGHT_DERIVED, d);
	js = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	rv = store_run(svc_store(svc),
	    "INSERT OR REPLACE INTO insight(repo,"
	    " dedup_key, json, run_id) VALUES (?, ?, ?, ?)",
	    "tttt", d->repo, d->dedup_key, js, d->run_id);
	free(js);
	json_decref(o);
	return (rv);
}

/* on_insight_run drops the insights the run no longer derived and, when
 * auto, runs an executing cycle for the repo. */
static int
on_insight_run(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_insight_run *r = &m->body.insight_run;
	struct proposer              *p = state;
	char                         *cid, *trig = NULL;
	json_t                       *rep = NULL;
	int                           rv;

	rv = store_run(svc_store(svc),
	    "DELETE FROM insight WHERE repo = ? AND"
	    " (run_id IS NULL OR run_id <> ?)",
	    "tt", r->repo, r->run_id);
	if (rv == 0)
		rv = store_run(svc_store(svc),
		    "INSERT OR REPLACE INTO"
		    " repo_run(repo, run_id) VALUES (?, ?)",
		    "tt", r->repo, r->run_id);
	/* a CI trigger of the repo waits for this analysis: a cycle, auto
	 * or not */
	if (rv == 0)
		trig = live_trigger_take(svc, r->repo);
	if (rv != 0 || (!p->auto_cycle && trig == NULL)) {
		free(trig);
		return (rv);
	}
	cid = xasprintf("dec_%s",
	    strncmp(r->run_id, "ins_", 4) == 0 ? r->run_id + 4 : r->run_id);
	rv  = cycle(svc, p, r->repo, true, cid, r->run_id, trig, m->ts, &rep);
	if (rv == 0) {
		char *js = json_dumps(rep, JSON_COMPACT);

		rv = store_run(svc_store(svc),
		    "INSERT OR REPLACE INTO pending_report(cycle_id, json)"
		    " VALUES (?, ?)",
		    "tt", cid, js);
		free(js);
	}
	json_decref(rep);
	if (rv == 0 && trig != NULL) {
		rv = live_trigger_ran(svc, r->repo, cid);
		log_info("proposer.triggered_cycle",
		    "%s: cycle %s for CI trigger %s", r->repo, cid, trig);
	}
	free(cid);
	free(trig);
	return (rv);
}

static int
on_task_created(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_task_created *t = &m->body.task_created;
	int                            rv;

	(void) state;
	rv = store_run(svc_store(svc),
	    "INSERT OR IGNORE INTO task(task_id,"
	    " title, state, updated_at) VALUES (?, ?, 'Backlog', ?)",
	    "tti", t->task_id, t->title, m->ts);
	if (rv == 0 && t->candidate_id != NULL)
		rv = store_run(svc_store(svc),
		    "UPDATE emitted SET task_id = ?"
		    " WHERE candidate_id = ?",
		    "tt", t->task_id, t->candidate_id);
	return (rv);
}

/* outcome maps a board state to a calibration outcome (NULL: none). */
static const char *
outcome(enum msg_task_state state)
{
	switch (state) {
	case MSG_TASK_STATE_DONE:
		return ("merged");
	case MSG_TASK_STATE_CANCELLED:
		return ("rejected");
	case MSG_TASK_STATE_BLOCKED:
		return ("abandoned");
	default:
		return (NULL);
	}
}

/* on_task_updated follows the board; a proposed task's final state is
 * its outcome, and a human cancelling one rejects its key for good. */
static int
on_task_updated(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_task_updated *t = &m->body.task_updated;
	const char                    *o = outcome(t->state);
	int                            rv;

	(void) state;
	rv = store_run(svc_store(svc),
	    "INSERT INTO task(task_id, state,"
	    " updated_at) VALUES (?, ?, ?) ON CONFLICT(task_id) DO UPDATE SET"
	    " state = excluded.state, updated_at = excluded.updated_at",
	    "tti", t->task_id, msg_task_state_name(t->state), m->ts);
	if (rv != 0 || o == NULL)
		return (rv);
	rv = store_run(svc_store(svc),
	    "UPDATE emitted SET outcome = ?,"
	    " outcome_at = ? WHERE task_id = ?",
	    "tit", o, m->ts, t->task_id);
	if (rv == 0 && strcmp(o, "rejected") == 0)
		rv = store_run(svc_store(svc),
		    "INSERT OR IGNORE INTO"
		    " rejection(dedup_key, reason, task_id, task_title,"
		    " recorded_at) SELECT dedup_key, ?, task_id, title, ? FROM"
		    " emitted WHERE task_id = ?",
		    "tit",
		    t->comment != NULL ? t->comment : "cancelled on the board",
		    m->ts, t->task_id);
	return (rv);
}

static int
on_dispatch(struct svc *svc, const struct msg *m, void *state)
{
	(void) state;
	/* only the last day counts: keep two */
	if (store_run(svc_store(svc), "DELETE FROM exec WHERE at < ?", "i",
	        m->ts - 2 * DAY_MS) != 0)
		return (-1);
	return (store_run(svc_store(svc),
	    "INSERT OR IGNORE INTO exec(run_id,"
	    " at) VALUES (?, ?)",
	    "ti", m->body.exec_dispatch.run_id, m->ts));
}

/* ---- ctl
 * ---------------------------------------------------------------------- */

static int
ctl_cycle(struct svc *svc, const struct msg *req, json_t **data, char *err,
    size_t errlen, void *state)
{
	const struct msg_proposer_cycle_now *c = &req->body.proposer_cycle_now;
	struct proposer                     *p = state;
	char                                 id[64], u[37];
	int64_t                              now = now_ms();
	int                                  rv;

	snprintf(id, sizeof(id), "dec_%lld_%.8s", (long long) now, uuid4(u));
	if (!c->execute) {
		if ((rv = cycle(svc, p, c->repo, false, id, NULL, NULL, now,
		         data)) == 0)
			write_reports(svc, *data);
		return (rv);
	}
	if ((rv = svc_begin(svc)) != 0)
		return (rv);
	if ((rv = cycle(svc, p, c->repo, true, id, NULL, NULL, now, data)) ==
	        0 &&
	    (rv = svc_commit(svc)) == 0) {
		write_reports(svc, *data);
		return (0);
	}
	svc_rollback(svc);
	json_decref(*data);
	*data = NULL;
	snprintf(err, errlen, "cannot record the cycle: %s", err_str(rv));
	return (rv);
}

/* ctl_dependency_tasks proposes an improve task for each unhealthy
 * package of an opc dependency-check report (proposer.dependency_tasks):
 * the operator asked, so the quotas do not apply, but the dedup does: a
 * key a human rejected, or whose task is open (or not made yet), gets
 * none.  Answers {created: [{candidate_id, dedup_key, title}],
 * skipped: [{dedup_key, reason}]}. */
static int
ctl_dependency_tasks(struct svc *svc, const struct msg *req, json_t **data,
    char *err, size_t errlen, void *state)
{
	const struct msg_proposer_dependency_tasks *q =
	    &req->body.proposer_dependency_tasks;
	struct proposer *p  = state;
	struct world     w  = { svc, now_ms() };
	struct cand     *cv = NULL;
	json_t          *cr = json_array(), *sk = json_array();
	size_t           n = 0, i;
	int64_t          pending;
	const char      *why;
	char             cycle_id[64], u[37];
	int              rv;

	if (!id_valid(q->repo)) {
		snprintf(err, errlen, "not a repo key: '%s'", q->repo);
		json_decref(cr);
		json_decref(sk);
		return (ERR_INVAL);
	}
	for (i = 0; i < q->statuses.n; i++)
		(void) rules_dependency(q->repo, &q->statuses.v[i], &cv, &n);
	snprintf(cycle_id, sizeof(cycle_id), "depcheck_%lld_%.8s",
	    (long long) w.now, uuid4(u));
	if ((rv = svc_begin(svc)) != 0)
		goto out;
	for (i = 0; i < n && rv == 0; i++) {
		pending = 0;
		/* emitted and its task open, or not on the board yet
		 * (for a day: a proposal the board never made a task of
		 * does not block the key for good) */
		(void) store_int(svc_store(svc), &pending, 0,
		    "SELECT count(*) FROM emitted e WHERE e.dedup_key = ? AND"
		    " ((e.task_id IS NULL AND e.created_at >= ?) OR"
		    " (e.task_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM"
		    " task t WHERE t.task_id = e.task_id AND t.state IN"
		    " ('Done', 'Cancelled'))))",
		    "ti", cv[i].dedup_key, w.now - DAY_MS);
		why = w_rejected(&w, cv[i].dedup_key) ? "rejected"
		    : pending > 0 || w_equivalent(&w, &cv[i]) == 1
		    ? "open_task_exists"
		    : NULL;
		if (why != NULL) {
			json_array_append_new(sk,
			    json_pack("{s:s, s:s}", "dedup_key",
			        cv[i].dedup_key, "reason", why));
			continue;
		}
		/* the family's tier, as a cycle would: 2 Ready, else
		 * Backlog (a dependency change is logic, not style) */
		cv[i].tier  = guard_tier(&p->gl, cv[i].family);
		cv[i].state = cv[i].tier >= 2 ? "Ready for AI" : "Backlog";
		rv          = emit_created(
		             svc, &cv[i], cycle_id, NULL, w.now, "dependency-check");
		if (rv == 0)
			json_array_append_new(cr,
			    json_pack("{s:s++, s:s, s:s}", "candidate_id",
			        cv[i].candidate_id, "@", cycle_id, "dedup_key",
			        cv[i].dedup_key, "title", cv[i].title));
	}
	if (rv == 0)
		rv = svc_commit(svc);
	else
		svc_rollback(svc);
out:
	cands_free(cv, n);
	if (rv != 0) {
		snprintf(err, errlen, "cannot record the proposals: %s",
		    err_str(rv));
		json_decref(cr);
		json_decref(sk);
		return (rv);
	}
	*data = json_pack("{s:o, s:o}", "created", cr, "skipped", sk);
	return (0);
}

static int
ctl_rejections(struct svc *svc, const struct msg *req, json_t **data,
    char *err, size_t errlen, void *state)
{
	struct store_stmt *st;
	json_t            *a = json_array();

	(void) req;
	(void) err;
	(void) errlen;
	(void) state;
	if (store_prep(svc_store(svc), &st,
	        "SELECT dedup_key, reason,"
	        " task_id, task_title, recorded_at FROM rejection ORDER BY"
	        " recorded_at, dedup_key") == 0) {
		while (store_step(st) == 1)
			json_array_append_new(a,
			    json_pack("{s:s, s:s?, s:s?,"
			              " s:s?, s:I}",
			        "dedup_key", store_col_text(st, 0), "reason",
			        store_col_text(st, 1), "task_id",
			        store_col_text(st, 2), "task_title",
			        store_col_text(st, 3), "recorded_at",
			        (json_int_t) store_col_int(st, 4)));
		store_done(st);
	}
	*data = json_pack("{s:o}", "rejections", a);
	return (0);
}

static int
ctl_reject(struct svc *svc, const struct msg *req, json_t **data, char *err,
    size_t errlen, void *state)
{
	const struct msg_proposer_reject *r = &req->body.proposer_reject;
	int                               rv;

	(void) state;
	/* bounded like every text a ctl client sends (README, Bad input) */
	if (strlen(r->dedup_key) > 1024 ||
	    (r->reason != NULL && strlen(r->reason) > 4096) ||
	    (r->task_id != NULL && strlen(r->task_id) > 256)) {
		snprintf(err, errlen,
		    "a dedup key holds at most 1024 bytes, a "
		    "reason 4096, a task id 256");
		return (ERR_INVAL);
	}
	if (strncmp(r->dedup_key, "candidate|", 10) != 0) {
		snprintf(err, errlen,
		    "a dedup key looks like"
		    " candidate|<family>|<repo>|<pattern>, got '%s'",
		    r->dedup_key);
		return (ERR_INVAL);
	}
	if ((rv = svc_begin(svc)) != 0)
		return (rv);
	rv = store_run(svc_store(svc),
	    "INSERT OR IGNORE INTO"
	    " rejection(dedup_key, reason, task_id, recorded_at) VALUES (?, ?,"
	    " ?, ?)",
	    "ttti", r->dedup_key,
	    r->reason != NULL ? r->reason : "rejected by an operator",
	    r->task_id, now_ms());
	if (rv == 0) {
		*data = json_pack("{s:s, s:b}", "dedup_key", r->dedup_key,
		    "recorded", store_changes(svc_store(svc)) > 0);
		if ((rv = svc_commit(svc)) == 0)
			return (0);
		json_decref(*data);
		*data = NULL;
	} else
		svc_rollback(svc);
	return (rv);
}

json_t *
proposer_outcomes(struct svc *svc)
{
	struct store_stmt *st;
	json_t            *ev = json_array();

	if (store_prep(svc_store(svc), &st,
	        "SELECT family, confidence,"
	        " outcome, outcome_at FROM emitted WHERE outcome IS NOT NULL"
	        " AND (task_id IS NULL OR task_id NOT IN (SELECT task_id FROM"
	        " feedback)) UNION ALL SELECT family, confidence, outcome,"
	        " recorded_at FROM feedback") == 0) {
		while (store_step(st) == 1)
			json_array_append_new(ev,
			    json_pack("{s:s, s:s, s:s,"
			              " s:I}",
			        "family", store_col_text(st, 0), "confidence",
			        store_col_text(st, 1), "outcome",
			        store_col_text(st, 2), "at",
			        (json_int_t) store_col_int(st, 3)));
		store_done(st);
	}
	return (ev);
}

static int
ctl_calibration(struct svc *svc, const struct msg *req, json_t **data,
    char *err, size_t errlen, void *state)
{
	int64_t days = req->body.proposer_calibration.window_days;
	json_t *ev   = proposer_outcomes(svc);

	(void) err;
	(void) errlen;
	(void) state;
	if (days <= 0)
		days = CALIB_WINDOW_DAYS;
	*data = json_pack("{s:I, s:i, s:o}", "window_days", (json_int_t) days,
	    "min_sample", 5, "rows",
	    calib_table(ev, now_ms() - days * DAY_MS));
	json_decref(ev);
	return (0);
}

/* one_of: s is one of the NULL-terminated list. */
static bool
one_of(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return (true);
	return (false);
}

/* ctl_feedback_record records a task's outcome by hand (the original's
 * `feedback record`): merged, rejected or abandoned, for the proposal's
 * family and confidence (from the proposal when the proposer made the
 * task; given, and then they win, otherwise).  A second record of a task
 * replaces the first; either replaces the board's outcome of it. */
static int
ctl_feedback_record(struct svc *svc, const struct msg *req, json_t **data,
    char *err, size_t errlen, void *state)
{
	static const char *const outcomes[] = { "merged", "rejected",
		"abandoned", NULL };
	static const char *const confs[] = { "high", "medium", "low", NULL };
	const struct msg_proposer_feedback_record *f =
	    &req->body.proposer_feedback_record;
	struct store_stmt *st;
	char              *fam = NULL, *conf = NULL;
	int64_t            now = now_ms();
	int                rv;

	(void) state;
	if (strlen(f->task_id) == 0 || strlen(f->task_id) > 256 ||
	    (f->family != NULL && strlen(f->family) > 128) ||
	    (f->note != NULL && strlen(f->note) > 4096)) {
		snprintf(err, errlen,
		    "a task id holds 1 to 256 bytes, a "
		    "family at most 128, a note 4096");
		return (ERR_INVAL);
	}
	if (!one_of(f->outcome, outcomes)) {
		snprintf(err, errlen,
		    "outcome is merged, rejected or "
		    "abandoned, not '%s'",
		    f->outcome);
		return (ERR_INVAL);
	}
	if (f->confidence != NULL && !one_of(f->confidence, confs)) {
		snprintf(err, errlen,
		    "confidence is high, medium or low, not "
		    "'%s'",
		    f->confidence);
		return (ERR_INVAL);
	}
	if (store_prep(svc_store(svc), &st,
	        "SELECT family, confidence FROM"
	        " emitted WHERE task_id = ? ORDER BY created_at DESC "
	        "LIMIT 1") == 0) {
		if (store_bind_text(st, 1, f->task_id) == 0 &&
		    store_step(st) == 1) {
			fam  = xstrdup(store_col_text(st, 0));
			conf = xstrdup(store_col_text(st, 1));
		}
		store_done(st);
	}
	if (f->family != NULL && f->family[0] != '\0') {
		free(fam);
		fam = xstrdup(f->family);
	}
	if (f->confidence != NULL) {
		free(conf);
		conf = xstrdup(f->confidence);
	}
	if (fam == NULL || conf == NULL) {
		snprintf(err, errlen,
		    "%s is not a task the proposer made: "
		    "give its family and confidence",
		    f->task_id);
		rv = ERR_INVAL;
		goto out;
	}
	if ((rv = svc_begin(svc)) != 0)
		goto out;
	rv = store_run(svc_store(svc),
	    "INSERT OR REPLACE INTO"
	    " feedback(task_id, outcome, family, confidence, note,"
	    " recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
	    "ttttti", f->task_id, f->outcome, fam, conf, f->note, now);
	if (rv == 0 && (rv = svc_commit(svc)) == 0) {
		*data = json_pack("{s:s, s:s, s:s, s:s, s:I}", "task_id",
		    f->task_id, "outcome", f->outcome, "family", fam,
		    "confidence", conf, "recorded_at", (json_int_t) now);
		log_info("proposer.feedback",
		    "%s: %s (%s, %s) recorded by "
		    "hand",
		    f->task_id, f->outcome, fam, conf);
	} else if (rv != 0 && store_in_txn(svc_store(svc)))
		svc_rollback(svc);
out:
	free(fam);
	free(conf);
	return (rv);
}

/* ---- the quiet diagnosis (an effect: a file)
 * ---------------------------------------- */

static void
proposer_idle(struct svc *svc, void *state)
{
	struct proposer *p = state;
	json_t          *cy, *d;
	char            *s;

	if (svc_caught_up(svc))
		flush_reports(svc);
	if (!p->quiet_dirty || !svc_caught_up(svc))
		return;
	p->quiet_dirty = false;
	cy             = last_cycles(svc);
	if ((d = calib_quiet_diagnosis(cy, now_ms())) != NULL) {
		s = json_dumps(d, JSON_INDENT(2) | JSON_SORT_KEYS);
		if (write_file_atomic(p->quiet_path, s, strlen(s)) != 0)
			log_error("proposer.quiet", "cannot write %s: %s",
			    p->quiet_path, strerror(errno));
		else
			log_info("proposer.quiet",
			    "%d cycles without a"
			    " proposal: diagnosis in %s",
			    QUIET_CYCLES, p->quiet_path);
		free(s);
		json_decref(d);
	} else if (unlink(p->quiet_path) == 0)
		log_info("proposer.quiet", "proposals resumed: %s removed",
		    p->quiet_path);
	json_decref(cy);
}

static void
proposer_status(struct svc *svc, void *state, json_t *obj)
{
	struct proposer         *p      = state;
	static const char *const q[][2] = {
		{ "current_insights", "SELECT count(*) FROM insight" },
		{ "proposals", "SELECT count(*) FROM emitted" },
		{ "rejections", "SELECT count(*) FROM rejection" },
		{ "cycles", "SELECT count(*) FROM cycle" },
	};
	struct store_stmt *st;
	json_t            *runs = json_object();
	int64_t            n;
	size_t             i;

	/* what opc autonomy-cycle waits for: the insight run applied */
	if (store_prep(svc_store(svc), &st,
	        "SELECT repo, run_id FROM"
	        " repo_run ORDER BY repo") == 0) {
		while (store_step(st) == 1)
			json_object_set_new(runs, store_col_text(st, 0),
			    json_string(store_col_text(st, 1)));
		store_done(st);
	}
	json_object_set_new(obj, "insight_runs", runs);
	for (i = 0; i < nitems(q); i++) {
		n = 0;
		(void) store_int(svc_store(svc), &n, 0, q[i][1], NULL);
		json_object_set_new(obj, q[i][0], json_integer(n));
	}
	json_object_set_new(obj, "auto", json_boolean(p->auto_cycle));
	json_object_set_new(
	    obj, "quiet", json_boolean(access(p->quiet_path, F_OK) == 0));
}

static const struct svc_handler handlers[] = {
	{ MSG_INSIGHT_DERIVED, on_insight },
	{ MSG_INSIGHT_RUN, on_insight_run },
	{ MSG_TASK_CREATED, on_task_created },
	{ MSG_TASK_UPDATED, on_task_updated },
	{ MSG_EXEC_DISPATCH, on_dispatch },
	{ MSG_CI_CHECK_RUN, live_on_check_run },
	{ MSG_REVIEW_FEEDBACK, proposer_on_review },
	{ MSG_NONE, NULL },
};

static const struct svc_ctl ctls[] = {
	{ MSG_PROPOSER_CYCLE_NOW, ctl_cycle },
	{ MSG_PROPOSER_DEPENDENCY_TASKS, ctl_dependency_tasks },
	{ MSG_PROPOSER_REJECTIONS, ctl_rejections },
	{ MSG_PROPOSER_REJECT, ctl_reject },
	{ MSG_PROPOSER_CALIBRATION, ctl_calibration },
	{ MSG_PROPOSER_FEEDBACK_RECORD, ctl_feedback_record },
	{ MSG_PROPOSER_TIERS, live_ctl_tiers },
	{ MSG_PROPOSER_TUNE, live_ctl_tune },
	{ MSG_PROPOSER_TRIGGERS, live_ctl_triggers },
	{ MSG_PROPOSER_PATTERNS, proposer_ctl_patterns },
	{ MSG_NONE, NULL },
};

const struct svc_def proposer_def = {
	.name       = "proposer",
	.state_size = sizeof(struct proposer),
	.init       = proposer_init,
	.fini       = proposer_fini,
	.handlers   = handlers,
	.ctls       = ctls,
	.status     = proposer_status,
	.idle       = proposer_idle,
	.config     = proposer_keys,
};
