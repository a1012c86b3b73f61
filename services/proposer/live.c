/*
 * live.c - what changes in a running proposer: the autonomy tiers
 * (opc autonomy tiers), the tuning (opc autonomy tune) and the CI
 * triggers (a completed check_run or check_suite of a configured repo
 * runs a cycle after the repo's next analysis).
 *
 * Invariants: every change is a row in the proposer's db, written in the
 * transaction that journals its event, so it holds after a restart; the
 * limits a cycle reads (p->tiers, p->rl) are always the config's with the
 * db's overrides on top (live_load), rebuilt after each change, so a
 * change takes effect at the next cycle without a restart.  A tuning is
 * reversible: its row keeps each change's before and after.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/store.h"
#include "opc/util.h"
#include "proposer.h"

#define DAY_MS (24 * 3600 * 1000LL)

/* str_of returns the first column of sql's first row (bound to the
 * text a), or NULL.  The caller frees it. */
static char *
str_of(struct svc *svc, const char *sql, const char *a)
{
	struct store_stmt *st;
	char              *s = NULL;

	if (store_prep(svc_store(svc), &st, sql) != 0)
		return (NULL);
	if (store_bind_text(st, 1, a) == 0 && store_step(st) == 1)
		s = store_col_dup(st, 0);
	store_done(st);
	return (s);
}

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS tier_override (family TEXT PRIMARY KEY,"
    " tier INTEGER NOT NULL, at INTEGER NOT NULL, note TEXT);"
    "CREATE TABLE IF NOT EXISTS tier_change (id INTEGER PRIMARY KEY"
    " AUTOINCREMENT, at INTEGER NOT NULL, family TEXT NOT NULL,"
    " prev_tier INTEGER, tier INTEGER, source TEXT NOT NULL,"
    " tune_id TEXT, note TEXT);"
    "CREATE TABLE IF NOT EXISTS threshold_override (key TEXT PRIMARY KEY,"
    " value INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS tune (tune_id TEXT PRIMARY KEY,"
    " at INTEGER NOT NULL, changes TEXT NOT NULL, reverted_at INTEGER);"
    "CREATE TABLE IF NOT EXISTS ci_trigger (trigger_id TEXT PRIMARY KEY,"
    " at INTEGER NOT NULL, repo TEXT NOT NULL, event TEXT, name TEXT,"
    " conclusion TEXT, head_sha TEXT, delivery_id TEXT,"
    " status TEXT NOT NULL, cycle_id TEXT);"
    "CREATE INDEX IF NOT EXISTS ci_trigger_repo ON ci_trigger(repo, at);";

/* the families the rules make, and those with a default tier */
static const char *const known_families[] = { "lint_fix", "type_fix",
	"coverage_gap", "lint_cluster", "observation_coverage",
	"test_visibility", "dependency_drift_followup", "arch_promotion",
	NULL };

/* a family's threshold: the rule limit a tuning may raise */
static int64_t *
threshold(struct proposer *p, const char *family, const char **key)
{
	if (strcmp(family, "lint_fix") == 0) {
		*key = "lint_min_violations";
		return (&p->rl.lint_min_violations);
	}
	if (strcmp(family, "type_fix") == 0) {
		*key = "type_min_errors";
		return (&p->rl.type_min_errors);
	}
	*key = NULL;
	return (NULL);
}

int
live_load(struct svc *svc, struct proposer *p)
{
	struct store_stmt *st;
	const char        *key;
	int64_t           *t;
	int                rv;

	if ((rv = store_exec(svc_store(svc), schema)) != 0)
		return (rv);
	json_decref(p->tiers);
	p->tiers    = json_deep_copy(p->tiers_cfg);
	p->gl.tiers = p->tiers;
	p->rl       = p->rl_cfg;
	if (store_prep(svc_store(svc), &st,
	        "SELECT family, tier FROM"
	        " tier_override") == 0) {
		while (store_step(st) == 1)
			json_object_set_new(p->tiers, store_col_text(st, 0),
			    json_integer(store_col_int(st, 1)));
		store_done(st);
	}
	if (store_prep(svc_store(svc), &st,
	        "SELECT key, value FROM"
	        " threshold_override") == 0) {
		while (store_step(st) == 1) {
			key = store_col_text(st, 0);
			t   = strcmp(key, "lint_min_violations") == 0
			      ? &p->rl.lint_min_violations
			      : strcmp(key, "type_min_errors") == 0
			      ? &p->rl.type_min_errors
			      : NULL;
			if (t != NULL)
				*t = store_col_int(st, 1);
		}
		store_done(st);
	}
	return (0);
}

/* set_tier records family's tier (tier < 0: back to the config's or
 * the default) and journals autonomy.tier_changed. */
static int
set_tier(struct svc *svc, struct proposer *p, const char *family, int64_t tier,
    const char *source, const char *tune_id, const char *note)
{
	struct msg_autonomy_tier_changed ev;
	int64_t prev = guard_tier(&p->gl, family), now = now_ms();
	int     rv;

	if (tier < 0)
		rv = store_run(svc_store(svc),
		    "DELETE FROM tier_override WHERE family = ?", "t", family);
	else
		rv = store_run(svc_store(svc),
		    "INSERT OR REPLACE INTO tier_override(family, tier, at,"
		    " note) VALUES (?, ?, ?, ?)",
		    "tiit", family, tier, now, note);
	if (rv == 0)
		rv = live_load(svc, p);
	if (rv == 0)
		rv = store_run(svc_store(svc),
		    "INSERT INTO tier_change(at, family, prev_tier, tier,"
		    " source, tune_id, note) VALUES (?, ?, ?, ?, ?, ?, ?)",
		    "itiittt", now, family, prev,
		    (int64_t) guard_tier(&p->gl, family), source, tune_id,
		    note);
	if (rv != 0)
		return (rv);
	memset(&ev, 0, sizeof(ev));
	ev.family    = (char *) family;
	ev.tier      = guard_tier(&p->gl, family);
	ev.prev_tier = prev;
	ev.source    = (char *) source;
	ev.tune_id   = (char *) tune_id;
	ev.note      = (char *) note;
	log_info("autonomy.tier_changed", "%s: tier %lld -> %lld (%s%s%s)",
	    family, (long long) prev, (long long) ev.tier, source,
	    tune_id ? " " : "", tune_id ? tune_id : "");
	return (svc_emit(svc, MSG_AUTONOMY_TIER_CHANGED, family, &ev));
}

static bool
family_ok(const char *f)
{
	size_t i, n = strlen(f);

	if (n == 0 || n > 64)
		return (false);
	for (i = 0; i < n; i++)
		if (!((f[i] >= 'a' && f[i] <= 'z') ||
		        (f[i] >= '0' && f[i] <= '9') || f[i] == '_'))
			return (false);
	return (true);
}

static json_t *
tiers_view(struct svc *svc, struct proposer *p)
{
	struct store_stmt *st;
	json_t            *fams = json_object(), *hist = json_array(), *v;
	const char        *f;
	size_t             i;

	for (i = 0; known_families[i] != NULL; i++)
		json_object_set_new(fams, known_families[i], json_null());
	json_object_foreach (p->tiers, f, v)
		json_object_set_new(fams, f, json_null());
	json_object_foreach (fams, f, v) {
		json_t *o = json_object(), *ov;

		json_object_set_new(
		    o, "tier", json_integer(guard_tier(&p->gl, f)));
		ov = json_object_get(p->tiers_cfg, f);
		json_object_set_new(o, "source",
		    json_string(json_object_get(p->tiers, f) == NULL
		            ? "default"
		            : ov != NULL &&
		                json_equal(ov, json_object_get(p->tiers, f))
		            ? "config"
		            : "live"));
		json_object_set_new(fams, f, o);
	}
	if (store_prep(svc_store(svc), &st,
	        "SELECT id, at, family,"
	        " prev_tier, tier, source, tune_id, note FROM tier_change"
	        " ORDER BY id DESC LIMIT 50") == 0) {
		while (store_step(st) == 1)
			json_array_append_new(hist,
			    json_pack("{s:I, s:I, s:s, s:I, s:I, s:s, s:s?,"
			              " s:s?}",
			        "id", (json_int_t) store_col_int(st, 0), "at",
			        (json_int_t) store_col_int(st, 1), "family",
			        store_col_text(st, 2), "prev_tier",
			        (json_int_t) store_col_int(st, 3), "tier",
			        (json_int_t) store_col_int(st, 4), "source",
			        store_col_text(st, 5), "tune_id",
			        store_col_text(st, 6), "note",
			        store_col_text(st, 7)));
		store_done(st);
	}
	return (json_pack("{s:o, s:o}", "tiers", fams, "history", hist));
}

int
live_ctl_tiers(struct svc *svc, const struct msg *req, json_t **data,
    char *err, size_t errlen, void *state)
{
	const struct msg_proposer_tiers *t = &req->body.proposer_tiers;
	struct proposer                 *p = state;
	int                              rv;

	if (t->family == NULL) {
		*data = tiers_view(svc, p);
		return (0);
	}
	if (!family_ok(t->family) || !t->has_tier || t->tier < -1 ||
	    t->tier > 2 || (t->note != NULL && strlen(t->note) > 1024)) {
		snprintf(err, errlen,
		    "set wants a family (a-z, 0-9, _; at most 64) and a tier"
		    " 0, 1 or 2 (-1: back to the default), a note of at most"
		    " 1024 bytes");
		return (ERR_INVAL);
	}
	if ((rv = svc_begin(svc)) != 0)
		return (rv);
	if ((rv = set_tier(
	         svc, p, t->family, t->tier, "manual", NULL, t->note)) == 0 &&
	    (rv = svc_commit(svc)) == 0) {
		*data = tiers_view(svc, p);
		return (0);
	}
	svc_rollback(svc);
	(void) live_load(svc, p);
	snprintf(err, errlen, "cannot record the tier: %s", err_str(rv));
	return (rv);
}

/* suggest adds the suggested changes for the calibration rows to out:
 * per family, a demotion (and a higher threshold, when it has one) when
 * a row is over-confident (the warning mark), a promotion when every
 * graded row is well calibrated (the check mark) and its tier is below
 * 2.  Rows with too small a sample suggest nothing. */
static void
suggest(struct proposer *p, const json_t *rows, json_t *out)
{
	json_t     *fam = json_object(), *r, *v;
	const char *f, *note, *key;
	int64_t    *th, tier;
	size_t      i;

	json_array_foreach (rows, i, r) {
		note = json_string_value(json_object_get(r, "note"));
		f    = json_string_value(json_object_get(r, "family"));
		if (f == NULL || note == NULL ||
		    strcmp(note, "insufficient sample") == 0)
			continue;
		v = json_object_get(fam, f);
		if (strcmp(note, "over-confident") == 0)
			json_object_set_new(fam, f, json_string("demote"));
		else if (strcmp(note, "well calibrated") == 0 && v == NULL)
			json_object_set_new(fam, f, json_string("promote"));
		else if (strcmp(note, "mildly over-confident") == 0 &&
		    v != NULL && strcmp(json_string_value(v), "promote") == 0)
			json_object_set_new(fam, f, json_string("hold"));
		else if (v == NULL)
			json_object_set_new(fam, f, json_string("hold"));
	}
	json_object_foreach (fam, f, v) {
		tier = guard_tier(&p->gl, f);
		if (strcmp(json_string_value(v), "demote") == 0) {
			if (tier > 0)
				json_array_append_new(out,
				    json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}",
				        "family", f, "what", "tier", "key", f,
				        "from", (json_int_t) tier, "to",
				        (json_int_t) (tier - 1), "why",
				        "over-confident: demote its tier"));
			if ((th = threshold(p, f, &key)) != NULL)
				json_array_append_new(out,
				    json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}",
				        "family", f, "what", "threshold",
				        "key", key, "from", (json_int_t) *th,
				        "to",
				        (json_int_t) (*th + (*th + 1) / 2 +
				            (*th == 0)),
				        "why",
				        "over-confident: raise its signal "
				        "threshold"));
		} else if (strcmp(json_string_value(v), "promote") == 0 &&
		    tier < 2)
			json_array_append_new(out,
			    json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}",
			        "family", f, "what", "tier", "key", f, "from",
			        (json_int_t) tier, "to",
			        (json_int_t) (tier + 1), "why",
			        "well calibrated: promote its tier"));
	}
	json_decref(fam);
}

/* apply makes each change (to, or from when reverting) and records it. */
static int
apply(struct svc *svc, struct proposer *p, const json_t *changes,
    const char *tune_id, bool revert)
{
	json_t     *c;
	const char *what, *key;
	int64_t     v;
	size_t      i;
	int         rv = 0;

	json_array_foreach (changes, i, c) {
		what = json_string_value(json_object_get(c, "what"));
		key  = json_string_value(json_object_get(c, "key"));
		v    = json_integer_value(
		       json_object_get(c, revert ? "from" : "to"));
		if (what == NULL || key == NULL)
			continue;
		if (strcmp(what, "tier") == 0)
			rv = set_tier(svc, p, key, v,
			    revert ? "revert" : "tune", tune_id, NULL);
		else
			rv = store_run(svc_store(svc),
			    "INSERT OR REPLACE INTO threshold_override(key,"
			    " value) VALUES (?, ?)",
			    "ti", key, v);
		if (rv != 0)
			return (rv);
		log_info("autonomy.tuned", "%s %s: %s %s -> %lld", tune_id,
		    revert ? "reverted" : "applied", what, key, (long long) v);
	}
	return (live_load(svc, p));
}

/* tune_event journals autonomy.tuned: the changes (suggest's objects,
 * or the ones a tune kept) as tune_change records. */
static int
tune_event(struct svc *svc, const char *id, json_t *changes, bool reverted)
{
	struct msg_autonomy_tuned ev;
	json_t                   *c;
	size_t                    i;
	char                      err[128];
	int                       rv = 0;

	memset(&ev, 0, sizeof(ev));
	ev.tune_id  = (char *) id;
	ev.reverted = reverted;
	json_array_foreach (changes, i, c)
		if (msg_tune_change_from_json(
		        msg_tune_change_push(&ev.changes), c, err,
		        sizeof(err)) != 0) {
			log_warn(
			    "proposer.tune", "%s: change %zu: %s", id, i, err);
			rv = ERR_INVAL;
			break;
		}
	if (rv == 0)
		rv = svc_emit(svc, MSG_AUTONOMY_TUNED, id, &ev);
	msg_tune_change_list_fini(&ev.changes);
	return (rv);
}

static int
revert(struct svc *svc, struct proposer *p, const char *id, json_t **data,
    char *err, size_t errlen)
{
	json_t *ch   = NULL;
	char   *s    = NULL;
	int64_t done = 0;
	int     rv;

	s = str_of(svc, "SELECT changes FROM tune WHERE tune_id = ?", id);
	if (s == NULL || (ch = json_loads(s, 0, NULL)) == NULL) {
		free(s);
		snprintf(err, errlen,
		    "no tuning %s (opc autonomy tune lists"
		    " them)",
		    id);
		return (ERR_NOTFOUND);
	}
	free(s);
	(void) store_int(svc_store(svc), &done, 0,
	    "SELECT count(*) FROM tune"
	    " WHERE tune_id = ? AND reverted_at IS NOT NULL",
	    "t", id);
	if (done > 0) {
		json_decref(ch);
		snprintf(err, errlen, "%s is reverted already", id);
		return (ERR_INVAL);
	}
	if ((rv = svc_begin(svc)) != 0) {
		json_decref(ch);
		return (rv);
	}
	if ((rv = apply(svc, p, ch, id, true)) == 0 &&
	    (rv = store_run(svc_store(svc),
	         "UPDATE tune SET reverted_at = ? WHERE tune_id = ?", "it",
	         now_ms(), id)) == 0 &&
	    (rv = tune_event(svc, id, ch, true)) == 0 &&
	    (rv = svc_commit(svc)) == 0) {
		*data = json_pack("{s:s, s:o, s:b}", "tune_id", id, "changes",
		    ch, "reverted", 1);
		return (0);
	}
	svc_rollback(svc);
	(void) live_load(svc, p);
	json_decref(ch);
	snprintf(err, errlen, "cannot revert %s: %s", id, err_str(rv));
	return (rv);
}

int
live_ctl_tune(struct svc *svc, const struct msg *req, json_t **data, char *err,
    size_t errlen, void *state)
{
	const struct msg_proposer_tune *t = &req->body.proposer_tune;
	struct proposer                *p = state;
	struct store_stmt              *st;
	json_t *ev, *rows, *ch = json_array(), *past = json_array();
	int64_t days = t->window_days > 0 ? t->window_days : 90, n = 0;
	char    id[32];
	int     rv;

	if (t->revert != NULL) {
		json_decref(ch);
		json_decref(past);
		if (strlen(t->revert) > 64) {
			snprintf(err, errlen, "a tuning id is tune_<n>");
			return (ERR_INVAL);
		}
		return (revert(svc, p, t->revert, data, err, errlen));
	}
	ev   = proposer_outcomes(svc);
	rows = calib_table(ev, now_ms() - days * DAY_MS);
	json_decref(ev);
	suggest(p, rows, ch);
	id[0] = '\0';
	if (t->apply && json_array_size(ch) > 0) {
		(void) store_int(
		    svc_store(svc), &n, 0, "SELECT count(*) FROM tune", NULL);
		snprintf(id, sizeof(id), "tune_%lld", (long long) n + 1);
		if ((rv = svc_begin(svc)) != 0)
			goto fail;
		{
			char *cs = json_dumps(ch, JSON_COMPACT);

			rv = store_run(svc_store(svc),
			    "INSERT INTO tune(tune_id, at, changes) VALUES"
			    " (?, ?, ?)",
			    "tit", id, now_ms(), cs);
			free(cs);
		}
		if (rv == 0)
			rv = apply(svc, p, ch, id, false);
		if (rv == 0)
			rv = tune_event(svc, id, ch, false);
		if (rv == 0)
			rv = svc_commit(svc);
		if (rv != 0) {
			svc_rollback(svc);
			(void) live_load(svc, p);
			goto fail;
		}
	}
	if (store_prep(svc_store(svc), &st,
	        "SELECT tune_id, at, changes,"
	        " reverted_at FROM tune ORDER BY at DESC LIMIT 20") == 0) {
		while (store_step(st) == 1) {
			json_t *c = json_loads(store_col_text(st, 2), 0, NULL);

			json_array_append_new(past,
			    json_pack("{s:s, s:I, s:o, s:b}", "tune_id",
			        store_col_text(st, 0), "at",
			        (json_int_t) store_col_int(st, 1), "changes",
			        c ? c : json_array(), "reverted",
			        store_col_is_null(st, 3) ? 0 : 1));
		}
		store_done(st);
	}
	*data = json_pack("{s:I, s:i, s:o, s:o, s:b, s:s?, s:o}",
	    "window_days", (json_int_t) days, "min_sample", 5, "rows", rows,
	    "suggestions", ch, "applied", id[0] != '\0', "tune_id",
	    id[0] ? id : NULL, "tunings", past);
	return (0);
fail:
	json_decref(rows);
	json_decref(ch);
	json_decref(past);
	snprintf(err, errlen, "cannot apply the tuning: %s", err_str(rv));
	return (rv);
}

/* ---- CI triggers ------------------------------------------------------ */

/* repo_of returns the key of the configured repo a CI event names (its
 * key, github_repo, or the owner/name of a GitHub clone_url; GitHub names
 * case-insensitive), or NULL (borrowed from the config). */
static const char *
repo_of(struct svc *svc, const char *name)
{
	const struct cfg_node *repos = cfg_get(svc_cfg_root(svc), "repos");
	const struct cfg_node *r;
	const char            *k, *gh;
	char                  *own;
	size_t                 i;
	bool                   hit;

	if (name == NULL || cfg_type(repos) != CFG_MAP)
		return (NULL);
	for (i = 0; i < cfg_len(repos); i++) {
		k = cfg_key_at(repos, i);
		r = cfg_at(repos, i);
		if (strcmp(k, name) == 0)
			return (k);
		gh  = cfg_str(cfg_get(r, "github_repo"));
		own = gh == NULL
		    ? github_repo_of(cfg_str(cfg_get(r, "clone_url")))
		    : NULL;
		hit = (gh != NULL && strcasecmp(gh, name) == 0) ||
		    (own != NULL && strcasecmp(own, name) == 0);
		free(own);
		if (hit)
			return (k);
	}
	return (NULL);
}

static bool
concluded(const char *status, const char *conclusion)
{
	static const char *const ok[] = { "success", "failure",
		"action_required", "cancelled", "timed_out", NULL };
	size_t                   i;

	if (status == NULL || strcmp(status, "completed") != 0 ||
	    conclusion == NULL)
		return (false);
	for (i = 0; ok[i] != NULL; i++)
		if (strcmp(conclusion, ok[i]) == 0)
			return (true);
	return (false);
}

int
live_on_check_run(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_ci_check_run *c = &m->body.ci_check_run;
	struct proposer               *p = state;
	struct msg_autonomy_triggered  ev;
	const char                    *repo;
	int64_t                        last = 0;
	char                           id[96];
	int                            rv;

	if (!concluded(c->status, c->conclusion)) {
		svc_count(svc, "ci_not_concluded", 1);
		return (0);
	}
	if ((repo = repo_of(svc, c->repo)) == NULL) {
		svc_count(svc, "ci_unconfigured", 1);
		log_debug(
		    "proposer.ci_ignored", "no configured repo '%s'", c->repo);
		return (0);
	}
	/* the records are kept 30 days (the event's clock: a replay prunes
	 * the same) */
	if ((rv = store_run(svc_store(svc),
	         "DELETE FROM ci_trigger WHERE at < ?", "i",
	         m->ts - 30 * DAY_MS)) != 0)
		return (rv);
	(void) store_int(svc_store(svc), &last, 0,
	    "SELECT coalesce(max(at), 0)"
	    " FROM ci_trigger WHERE repo = ? AND status <> 'debounced'",
	    "t", repo);
	/* the event's seq makes the id unique and the same on a replay */
	snprintf(id, sizeof(id), "ci_%.12s_%s_%llu",
	    c->head_sha != NULL && *c->head_sha ? c->head_sha : "none",
	    c->conclusion, (unsigned long long) m->seq);
	memset(&ev, 0, sizeof(ev));
	ev.trigger_id = id;
	ev.repo       = (char *) repo;
	ev.status = last > 0 && m->ts - last < p->ci_debounce_ms ? "debounced"
	                                                         : "queued";
	ev.event  = c->name != NULL && strncmp(c->name, "suite", 5) == 0
	     ? "check_suite"
	     : "check_run";
	ev.name   = c->name;
	ev.conclusion  = c->conclusion;
	ev.head_sha    = c->head_sha;
	ev.delivery_id = c->delivery_id;
	rv             = store_run(svc_store(svc),
	                "INSERT OR IGNORE INTO ci_trigger(trigger_id, at, repo,"
	                            " event, name, conclusion, head_sha, delivery_id, status)"
	                            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
	                "tittttttt", id, m->ts, repo, ev.event, ev.name, ev.conclusion,
	                ev.head_sha, ev.delivery_id, ev.status);
	if (rv != 0 || store_changes(svc_store(svc)) == 0)
		return (rv);
	svc_count(svc,
	    strcmp(ev.status, "queued") == 0 ? "ci_triggers" : "ci_debounced",
	    1);
	log_info("autonomy.triggered", "%s: %s %s %s (%s)", repo, ev.event,
	    c->name ? c->name : "", c->conclusion, ev.status);
	return (svc_emit(svc, MSG_AUTONOMY_TRIGGERED, id, &ev));
}

char *
live_trigger_take(struct svc *svc, const char *repo)
{
	return (str_of(svc,
	    "SELECT trigger_id FROM ci_trigger WHERE repo = ? AND"
	    " status = 'queued' ORDER BY at LIMIT 1",
	    repo));
}

int
live_trigger_ran(struct svc *svc, const char *repo, const char *cycle_id)
{
	/* every queued trigger of the repo is answered by this cycle */
	return (store_run(svc_store(svc),
	    "UPDATE ci_trigger SET status = 'ran',"
	    " cycle_id = ? WHERE repo = ? AND status = 'queued'",
	    "tt", cycle_id, repo));
}

int
live_ctl_triggers(struct svc *svc, const struct msg *req, json_t **data,
    char *err, size_t errlen, void *state)
{
	int64_t            lim = req->body.proposer_triggers.limit;
	struct proposer   *p   = state;
	struct store_stmt *st;
	json_t            *a = json_array();

	(void) err;
	(void) errlen;
	if (lim <= 0 || lim > 1000)
		lim = 50;
	if (store_prep(svc_store(svc), &st,
	        "SELECT trigger_id, at, repo,"
	        " event, name, conclusion, head_sha, delivery_id, status,"
	        " cycle_id FROM ci_trigger ORDER BY at DESC, trigger_id DESC"
	        " LIMIT ?") == 0) {
		store_bind_int(st, 1, lim);
		while (store_step(st) == 1)
			json_array_append_new(a,
			    json_pack("{s:s, s:I, s:s, s:s?, s:s?, s:s?, s:s?,"
			              " s:s?, s:s, s:s?}",
			        "trigger_id", store_col_text(st, 0), "at",
			        (json_int_t) store_col_int(st, 1), "repo",
			        store_col_text(st, 2), "event",
			        store_col_text(st, 3), "name",
			        store_col_text(st, 4), "conclusion",
			        store_col_text(st, 5), "head_sha",
			        store_col_text(st, 6), "delivery_id",
			        store_col_text(st, 7), "status",
			        store_col_text(st, 8), "cycle_id",
			        store_col_text(st, 9)));
		store_done(st);
	}
	*data = json_pack("{s:o, s:I}", "triggers", a, "debounce_ms",
	    (json_int_t) p->ci_debounce_ms);
	return (0);
}
