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
	    (rv = load_tiers(p, c, err, sizeof(err))) != 0)
		goto bad;
	p->auto_cycle   = on;
	g->all_families = all;
	g->families     = p->families;
	dir = xasprintf("%s/%s", svc_topo(svc)->state_dir, svc_name(svc));
	(void) mkdirs(dir, 0700);
	p->quiet_path = xasprintf("%s/quiet_diagnosis.json", dir);
	free(dir);
	if ((rv = store_exec(svc_store(svc), schema)) == 0 &&
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

/* emit_created emits one passing candidate and remembers it. */
static int
emit_created(
    struct svc *svc, const struct cand *c, const char *cycle_id, int64_t now)
{
	struct msg_proposal_created m;
	char                       *id, *fam, *conf, *note, *goal = NULL;
	int                         rv;

	/* unique per emission: the board creates one task per id */
	id   = xasprintf("%s@%s", c->candidate_id, cycle_id);
	fam  = xasprintf("source-family: %s", c->family);
	conf = xasprintf("confidence: %s", c->confidence);
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
	msg_strs_add(&m.labels, "source: autonomy");
	msg_strs_add(&m.labels, fam);
	msg_strs_add(&m.labels, conf);
	if (c->state != NULL)
		(void) msg_task_state_parse(c->state, &m.state);
	m.tier       = c->tier;
	m.risk_class = (char *) c->risk_class;
	m.cycle_id   = (char *) cycle_id;
	m.evidence   = c->evidence;
	rv           = store_run(svc_store(svc),
	              "INSERT INTO emitted(candidate_id,"
	                        " dedup_key, family, repo, confidence, title, created_at,"
	                        " cycle_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	              "ttttttit", id, c->dedup_key, c->family, c->repo, c->confidence,
	              c->title, now, cycle_id);
	if (rv == 0)
		rv = svc_emit(svc, MSG_PROPOSAL_CREATED, id, &m);
	/* only the labels are owned by m */
	while (m.labels.n > 0)
		free(m.labels.v[--m.labels.n]);
	free(m.labels.v);
	free(id);
	free(fam);
	free(conf);
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
	q.quiet   = d != NULL;
	q.cycles  = QUIET_CYCLES;
	q.reasons = json_object_get(d, "aggregated_suppression_reasons");
	q.advice  = (char *) json_string_value(json_object_get(d, "advice"));
	rv        = store_run(svc_store(svc),
	           "INSERT OR REPLACE INTO kv(key, value)"
	                  " VALUES ('quiet', ?)",
	           "i", (int64_t) q.quiet);
	if (rv == 0)
		rv = svc_emit(svc, MSG_PROPOSER_QUIET, NULL, &q);
	json_decref(d);
	return (rv);
}

/* record emits the cycle's events and its summary row. */
static int
record(struct svc *svc, struct proposer *p, const struct cand *cv, size_t n,
    const char *repo, const char *cycle_id, const char *insight_run,
    int64_t now, json_t *reasons, json_t *families)
{
	struct msg_proposer_cycle m;
	int64_t                   created = 0;
	char                     *rs, *fs;
	size_t                    i;
	int                       rv = 0;

	for (i = 0; i < n && rv == 0; i++) {
		if (cv[i].reason == NULL) {
			rv = emit_created(svc, &cv[i], cycle_id, now);
			created++;
		} else
			rv = emit_suppressed(svc, &cv[i], cycle_id);
	}
	if (rv != 0)
		return (rv);
	memset(&m, 0, sizeof(m));
	m.cycle_id    = (char *) cycle_id;
	m.candidates  = (int64_t) n;
	m.created     = created;
	m.suppressed  = (int64_t) n - created;
	m.reasons     = reasons;
	m.repo        = (char *) repo;
	m.insight_run = (char *) insight_run;
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
	if (rv == 0)
		rv = quiet_edge(svc);
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
    const char *cycle_id, const char *insight_run, int64_t now, json_t **out)
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
		rv = record(svc, p, cv, n, repo, cycle_id, insight_run, now,
		    reasons, fams);
	rep = json_pack("{s:s, s:b, s:s?, s:I, s:o, s:o, s:o}", "cycle_id",
	    cycle_id, "dry_run", !execute, "repo", repo, "candidates",
	    (json_int_t) n, "created", created, "suppressed", supp, "reasons",
	    reasons);
	if (out != NULL)
		*out = rep;
	else
		json_decref(rep);
	json_decref(fams);
	cands_free(cv, n);
	return (rv);
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
	char                         *cid;
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
	if (rv != 0 || !p->auto_cycle)
		return (rv);
	cid = xasprintf("dec_%s",
	    strncmp(r->run_id, "ins_", 4) == 0 ? r->run_id + 4 : r->run_id);
	rv  = cycle(svc, p, r->repo, true, cid, r->run_id, m->ts, NULL);
	free(cid);
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
	if (!c->execute)
		return (cycle(svc, p, c->repo, false, id, NULL, now, data));
	if ((rv = svc_begin(svc)) != 0)
		return (rv);
	if ((rv = cycle(svc, p, c->repo, true, id, NULL, now, data)) == 0 &&
	    (rv = svc_commit(svc)) == 0)
		return (0);
	svc_rollback(svc);
	json_decref(*data);
	*data = NULL;
	snprintf(err, errlen, "cannot record the cycle: %s", err_str(rv));
	return (rv);
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

static int
ctl_calibration(struct svc *svc, const struct msg *req, json_t **data,
    char *err, size_t errlen, void *state)
{
	int64_t            days = req->body.proposer_calibration.window_days;
	struct store_stmt *st;
	json_t            *ev = json_array();

	(void) err;
	(void) errlen;
	(void) state;
	if (days <= 0)
		days = CALIB_WINDOW_DAYS;
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
	{ MSG_REVIEW_FEEDBACK, proposer_on_review },
	{ MSG_NONE, NULL },
};

static const struct svc_ctl ctls[] = {
	{ MSG_PROPOSER_CYCLE_NOW, ctl_cycle },
	{ MSG_PROPOSER_REJECTIONS, ctl_rejections },
	{ MSG_PROPOSER_REJECT, ctl_reject },
	{ MSG_PROPOSER_CALIBRATION, ctl_calibration },
	{ MSG_PROPOSER_FEEDBACK_RECORD, ctl_feedback_record },
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
