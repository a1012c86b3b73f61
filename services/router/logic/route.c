/*
 * route.c - task.ready -> OcPlanningProposal -> OcRoutingDecision ->
 * OcExecutionRequest (docs/execution-path.md).
 *
 * Pure functions: the clock is a parameter, ids come from uuid4(), and
 * the config tree and JSON inputs are only borrowed.  Every json_t returned
 * is a new reference for the caller.  The policy gate lives in policy.c,
 * budgets and the circuit breaker in budget.c.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "opc/err.h"
#include "opc/util.h"
#include "route.h"
#include "route_priv.h"

#define ERRF(...)                                           \
	do {                                                \
		if (errlen > 0)                             \
			snprintf(err, errlen, __VA_ARGS__); \
	} while (0)

static const char *const task_types[] = { "lint_fix", "bug_fix", "simple_edit",
	"test_write", "documentation", "refactor", "feature",
	"dependency_update", "unknown" };

const char *
route_jstr(const json_t *o, const char *key)
{
	const json_t *v;

	if (!json_is_object(o))
		return (NULL);
	v = json_object_get(o, key);
	return (json_is_string(v) ? json_string_value(v) : NULL);
}

char *
route_label_norm(const char *label, char *out, size_t outlen)
{
	size_t i     = 0;
	int    colon = 0;

	if (outlen == 0)
		return (out);
	while (*label != '\0' && isspace((unsigned char) *label))
		label++;
	for (; *label != '\0' && i + 1 < outlen; label++) {
		if (*label == ':' && !colon) {
			/* "key :  value" -> "key: value" */
			while (i > 0 && isspace((unsigned char) out[i - 1]))
				i--;
			out[i++] = ':';
			while (isspace((unsigned char) label[1]))
				label++;
			if (label[1] != '\0' && i + 1 < outlen)
				out[i++] = ' ';
			colon = 1;
			continue;
		}
		out[i++] = (char) tolower((unsigned char) *label);
	}
	while (i > 0 && isspace((unsigned char) out[i - 1]))
		i--;
	out[i] = '\0';
	return (out);
}

bool
route_label_eq(const char *a, const char *b)
{
	char na[ROUTE_LABEL_MAX], nb[ROUTE_LABEL_MAX];

	if (a == NULL || b == NULL)
		return (false);
	return (strcmp(route_label_norm(a, na, sizeof(na)),
	            route_label_norm(b, nb, sizeof(nb))) == 0);
}

bool
route_has_label(const struct msg_strs *labels, const char *want)
{
	size_t i;

	for (i = 0; labels != NULL && i < labels->n; i++)
		if (route_label_eq(labels->v[i], want))
			return (true);
	return (false);
}

const struct cfg_node *
route_repo(const struct cfg_node *root, const char *key)
{
	const struct cfg_node *repos = cfg_get(root, "repos");
	size_t                 i;

	if (key == NULL)
		return (NULL);
	for (i = 0; i < cfg_len(repos); i++) {
		if (cfg_key_at(repos, i) != NULL &&
		    strcmp(cfg_key_at(repos, i), key) == 0)
			return (cfg_at(repos, i));
	}
	return (NULL);
}

static const char *
nz(const char *s)
{
	return (s != NULL ? s : "");
}

const char *
route_cfg_str(const struct cfg_node *router_cfg, const char *path)
{
	const char *s = cfg_str(cfg_get(router_cfg, path));

	return (s != NULL && *s != '\0'
	        ? s
	        : cfg_tab_find(router_keys, path)->def);
}

const struct cfg_node *
route_section(const struct cfg_node *root)
{
	const struct cfg_node *r = cfg_get(root, "router");

	return (r != NULL ? r : cfg_get(root, "instances.router"));
}

int
route_task_type(const char *kind, const struct cfg_node *root,
    const char **out, char *err, size_t errlen)
{
	const struct cfg_node *map = cfg_get(route_section(root), "kind_map");
	const char            *t   = NULL;
	size_t                 i;

	for (i = 0; i < cfg_len(map); i++) {
		if (strcmp(nz(cfg_key_at(map, i)), kind) == 0) {
			t = cfg_str(cfg_at(map, i));
			break;
		}
	}
	if (t != NULL && *t != '\0') {
		for (i = 0; i < nitems(task_types); i++) {
			if (strcmp(task_types[i], t) == 0) {
				*out = task_types[i];
				return (0);
			}
		}
		ERRF("router.kind_map.%s: unknown task type '%s'", kind, t);
		return (ERR_CONFIG);
	}
	if (strcmp(kind, "goal") == 0)
		*out = "simple_edit"; /* not "feature": see inventory s.9 */
	else if (strcmp(kind, "test") == 0)
		*out = "test_write";
	else if (strcmp(kind, "improve") == 0)
		*out = "refactor";
	else
		*out = "unknown";
	return (0);
}

static int
execution_mode_for(const char *kind, const char *mode, const char **out,
    char *err, size_t errlen)
{
	static const struct {
		const char *in, *out;
	} modes[] = { { "goal", "goal" }, { "fix_pr", "fix_pr" },
		{ "test", "test_campaign" },
		{ "test_campaign", "test_campaign" },
		{ "improve", "improve_campaign" },
		{ "improve_campaign", "improve_campaign" } };
	size_t i;

	if (mode == NULL || *mode == '\0') {
		if (strcmp(kind, "test") == 0)
			*out = "test_campaign";
		else if (strcmp(kind, "improve") == 0)
			*out = "improve_campaign";
		else
			*out = "goal";
		return (0);
	}
	for (i = 0; i < nitems(modes); i++) {
		if (strcasecmp(modes[i].in, mode) == 0) {
			*out = modes[i].out;
			return (0);
		}
	}
	ERRF("unsupported execution mode '%s'", mode);
	return (ERR_INVAL);
}

/* risk_for: the first "risk: low|medium|high" label, else low. */
static enum msg_risk_level
risk_for(const char *const *labels, size_t n)
{
	enum msg_risk_level r;
	char                nl[ROUTE_LABEL_MAX];
	size_t              i;

	for (i = 0; i < n; i++) {
		route_label_norm(nz(labels[i]), nl, sizeof(nl));
		if (strncmp(nl, "risk: ", 6) == 0 &&
		    msg_risk_level_parse(nl + 6, &r) == 0)
			return (r);
	}
	return (MSG_RISK_LEVEL_LOW);
}

/* commands copies repos.<key>.validation_commands: each entry is a command
 * string or already an argv list. */
static int
commands(const struct cfg_node *repo, json_t **out, char *err, size_t errlen)
{
	const struct cfg_node *seq = cfg_get(repo, "validation_commands");
	const struct cfg_node *c;
	json_t                *a, *argv;
	char                   where[256];
	size_t                 i, j;

	*out = a = json_array();
	if (seq == NULL || cfg_type(seq) == CFG_NONE ||
	    (cfg_type(seq) == CFG_SCALAR && *nz(cfg_str(seq)) == '\0'))
		return (0);
	if (cfg_type(seq) != CFG_SEQ)
		goto bad;
	for (i = 0; i < cfg_len(seq); i++) {
		c = cfg_at(seq, i);
		if (cfg_type(c) == CFG_SCALAR) {
			json_array_append_new(a, json_string(cfg_str(c)));
			continue;
		}
		if (cfg_type(c) != CFG_SEQ) {
			seq = c;
			goto bad;
		}
		argv = json_array();
		for (j = 0; j < cfg_len(c); j++)
			json_array_append_new(
			    argv, json_string(nz(cfg_str(cfg_at(c, j)))));
		json_array_append_new(a, argv);
	}
	return (0);

bad:
	cfg_where(seq, where, sizeof(where));
	ERRF("%s: validation_commands: expected a list of commands", where);
	json_decref(a);
	*out = NULL;
	return (ERR_CONFIG);
}

/* max_files reads the Execution block's max_changed_files as its author
 * wrote it ("5"); absent is 0 (no limit); anything but a whole number
 * >= 1 is ERR_INVAL. */
static int
max_files(const char *s, int64_t *out)
{
	char     *end;
	long long n;

	*out = 0;
	if (s == NULL)
		return (0);
	if (*s < '0' || *s > '9')
		return (ERR_INVAL);
	errno = 0;
	n     = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || n < 1)
		return (ERR_INVAL);
	*out = n;
	return (0);
}

int
route_repo_load(const struct cfg_node *root, const char *repo_key,
    struct route_repo *rc, char *err, size_t errlen)
{
	const struct cfg_node *repo;
	int                    open_pr = 0, skip = 0;

	memset(rc, 0, sizeof(*rc));
	if ((repo = route_repo(root, repo_key)) == NULL ||
	    cfg_type(repo) != CFG_MAP) {
		ERRF("unknown repo key '%s'", repo_key);
		return (ERR_NOTFOUND);
	}
	if (cfg_get_str(
	        repo, "clone_url", NULL, &rc->clone_url, err, errlen) != 0 ||
	    cfg_tab_int(router_keys, route_section(root), "timeout_seconds",
	        &rc->timeout, err, errlen) != 0 ||
	    cfg_tab_int(conf_repo_keys, repo, "validation_timeout_seconds",
	        &rc->vtimeout, err, errlen) != 0 ||
	    cfg_tab_bool(
	        conf_repo_keys, repo, "open_pr", &open_pr, err, errlen) != 0 ||
	    cfg_tab_bool(conf_repo_keys, repo, "skip_baseline_validation",
	        &skip, err, errlen) != 0 ||
	    cfg_tab_str(conf_repo_keys, repo, "default_branch",
	        &rc->default_branch, err, errlen) != 0 ||
	    cfg_get_strs(repo, "allowed_base_branches", &rc->abb, &rc->nabb,
	        err, errlen) != 0 ||
	    commands(repo, &rc->cmds, err, errlen) != 0)
		goto fail;
	rc->open_pr       = open_pr != 0;
	rc->skip_baseline = skip != 0;
	if (*rc->default_branch == '\0')
		rc->default_branch = "main";
	if (rc->clone_url == NULL || *rc->clone_url == '\0') {
		/* a purely local repo is cloned from its working copy */
		if (cfg_get_str(repo, "local_path", NULL, &rc->clone_url, err,
		        errlen) != 0)
			goto fail;
		if (rc->clone_url == NULL || *rc->clone_url == '\0') {
			ERRF("repo '%s': missing clone_url", repo_key);
			goto fail;
		}
	}
	if (rc->timeout < 1 || rc->vtimeout < 1) {
		ERRF("timeout_seconds must be >= 1");
		goto fail;
	}
	return (0);

fail:
	route_repo_fini(rc);
	return (ERR_CONFIG);
}

void
route_repo_fini(struct route_repo *rc)
{
	json_decref(rc->cmds);
	free(rc->abb);
	memset(rc, 0, sizeof(*rc));
}

struct msg_proposal *
route_proposal(const struct route_task *t, const struct cfg_node *root,
    int64_t now_ms, char *err, size_t errlen)
{
	const struct msg_task_execution *ex = t->execution;
	const char                 *kind, *repo_key, *task_type, *mode, *base;
	const char                 *constraints = NULL;
	struct route_repo           rc;
	struct msg_proposal        *p;
	struct msg_proposal_target *tg;
	struct msg_proposal_constraints *cs;
	struct msg_validation_profile   *vp;
	struct msg_branch_policy        *bp;
	int64_t                          maxf;
	bool                             open_pr;
	size_t                           i;
	char                             id[37], ts[32];

	kind     = (t->kind != NULL && *t->kind != '\0') ? t->kind : "goal";
	repo_key = t->repo_key;
	if ((repo_key == NULL || *repo_key == '\0') && ex != NULL)
		repo_key = ex->repo;
	if (repo_key == NULL || *repo_key == '\0') {
		ERRF("missing repo key");
		return (NULL);
	}
	if (route_repo(root, repo_key) == NULL) {
		ERRF("unknown repo key '%s'", repo_key);
		return (NULL);
	}
	if (t->goal == NULL || t->goal[strspn(t->goal, " \t\r\n")] == '\0') {
		ERRF("missing goal text");
		return (NULL);
	}
	if (route_task_type(kind, root, &task_type, err, errlen) != 0)
		return (NULL);
	if (execution_mode_for(
	        kind, ex != NULL ? ex->mode : NULL, &mode, err, errlen) != 0)
		return (NULL);

	if (route_repo_load(root, repo_key, &rc, err, errlen) != 0)
		return (NULL);
	open_pr = rc.open_pr;
	base    = ex != NULL ? ex->base_branch : NULL;
	if (base == NULL || *base == '\0')
		base = rc.default_branch;
	if (ex != NULL && ex->has_open_pr)
		open_pr = ex->open_pr;
	if (ex != NULL && ex->constraints != NULL && *ex->constraints != '\0')
		constraints = ex->constraints;
	if (max_files(ex != NULL ? ex->max_changed_files : NULL, &maxf) != 0) {
		ERRF("max_changed_files must be a whole number >= 1");
		goto fail;
	}

	p                   = msg_proposal_new();
	p->proposal_id      = xstrdup(uuid4(id));
	p->task_id          = xstrdup(nz(t->task_id));
	p->project_id       = xstrdup("local");
	p->task_kind        = xstrdup(kind);
	p->task_type        = xstrdup(task_type);
	p->execution_mode   = xstrdup(mode);
	p->goal_text        = xstrdup(t->goal);
	p->constraints_text = xstrdup_null(constraints);
	p->target = tg  = msg_proposal_target_new();
	tg->repo_key    = xstrdup(repo_key);
	tg->clone_url   = xstrdup(rc.clone_url);
	tg->base_branch = xstrdup(base);
	p->constraints = cs = msg_proposal_constraints_new();
	for (i = 0; ex != NULL && i < ex->allowed_paths.n; i++) {
		if (*ex->allowed_paths.v[i] != '\0') {
			msg_strs_add(
			    &tg->allowed_paths, ex->allowed_paths.v[i]);
			msg_strs_add(
			    &cs->allowed_paths, ex->allowed_paths.v[i]);
		}
	}
	p->priority                  = xstrdup("normal");
	p->risk_level                = risk_for(t->labels, t->nlabels);
	cs->max_changed_files        = maxf;
	cs->has_max_changed_files    = maxf > 0;
	cs->timeout_seconds          = rc.timeout;
	cs->require_clean_validation = true;
	cs->skip_baseline_validation = rc.skip_baseline;
	p->validation_profile = vp = msg_validation_profile_new();
	vp->profile_name           = xstrdup("default");
	vp->commands               = rc.cmds;
	rc.cmds                    = NULL;
	vp->timeout_seconds        = rc.vtimeout;
	vp->fail_fast              = false;
	p->branch_policy = bp = msg_branch_policy_new();
	bp->branch_prefix     = xstrdup("auto/");
	bp->push_on_success   = true;
	bp->open_pr           = open_pr;
	for (i = 0; i < rc.nabb; i++)
		msg_strs_add(&bp->allowed_base_branches, nz(rc.abb[i]));
	route_repo_fini(&rc);
	p->proposed_at = xstrdup(iso8601(now_ms, ts, sizeof(ts)));
	p->proposer    = xstrdup("opcenter-router");
	for (i = 0; i < t->nlabels; i++)
		msg_strs_add(&p->labels, nz(t->labels[i]));
	return (p);

fail:
	route_repo_fini(&rc);
	return (NULL);
}

/* cond_str: a scalar or a list of scalars, any of which equals val
 * (case-insensitive). */
static bool
cond_str(const struct cfg_node *c, const char *val)
{
	size_t i;

	if (val == NULL)
		return (false);
	if (cfg_type(c) == CFG_SCALAR)
		return (strcasecmp(nz(cfg_str(c)), val) == 0);
	for (i = 0; i < cfg_len(c); i++)
		if (strcasecmp(nz(cfg_str(cfg_at(c, i))), val) == 0)
			return (true);
	return (false);
}

static bool
cond_labels(const struct cfg_node *c, const struct msg_strs *labels, bool all)
{
	size_t i, n = cfg_type(c) == CFG_SCALAR ? 1 : cfg_len(c);
	bool   has;

	for (i = 0; i < n; i++) {
		has = route_has_label(labels,
		    nz(cfg_str(cfg_type(c) == CFG_SCALAR ? c : cfg_at(c, i))));
		if (has && !all)
			return (true);
		if (!has && all)
			return (false);
	}
	return (all);
}

/* rule_matches: every condition of when must hold (an absent or empty
 * when matches everything; an unknown condition never matches, so a typo
 * cannot widen a rule). */
static bool
rule_matches(const struct cfg_node *when, const struct msg_proposal *p)
{
	const struct cfg_node *c;
	const char            *k;
	size_t                 i;

	for (i = 0; i < cfg_len(when); i++) {
		k = nz(cfg_key_at(when, i));
		c = cfg_at(when, i);
		if (strcmp(k, "kind") == 0) {
			if (!cond_str(c, p->task_kind))
				return (false);
		} else if (strcmp(k, "task_type") == 0) {
			if (!cond_str(c, p->task_type))
				return (false);
		} else if (strcmp(k, "repo") == 0) {
			if (!cond_str(c, p->target->repo_key))
				return (false);
		} else if (strcmp(k, "risk") == 0) {
			if (!cond_str(c, msg_risk_level_name(p->risk_level)))
				return (false);
		} else if (strcmp(k, "labels_any") == 0) {
			if (!cond_labels(c, &p->labels, false))
				return (false);
		} else if (strcmp(k, "labels_all") == 0) {
			if (!cond_labels(c, &p->labels, true))
				return (false);
		} else
			return (false);
	}
	return (true);
}

static void
add_alt(struct msg_strs *alts, const char *lane, const char *selected)
{
	size_t i;

	if (lane == NULL || *lane == '\0' || strcmp(lane, selected) == 0)
		return;
	for (i = 0; i < alts->n; i++)
		if (strcmp(alts->v[i], lane) == 0)
			return;
	msg_strs_add(alts, lane);
}

/* label_backend: the backend a "backend: NAME" label of the task asks
 * for (opc demo --backend), or NULL; *lane gets the lane a rule gives
 * that backend, else the default's when it is the default backend, else
 * the backend's name (a backend and its lane share names: claude_cli),
 * so the policy judges the lane the run really takes. */
static const char *
label_backend(const struct msg_proposal *p, const struct cfg_node *router_cfg,
    const char **lane)
{
	const struct cfg_node *rules = cfg_get(router_cfg, "rules"), *r;
	char                   norm[256];
	const char            *b = NULL;
	size_t                 i;

	for (i = 0; i < p->labels.n && b == NULL; i++) {
		route_label_norm(nz(p->labels.v[i]), norm, sizeof(norm));
		if (strncmp(norm, "backend:", 8) == 0 && norm[8] != '\0')
			b = p->labels.v[i] + strcspn(p->labels.v[i], ":") + 1;
	}
	if (b == NULL)
		return (NULL);
	b += strspn(b, " \t");
	if (*b == '\0')
		return (NULL);
	*lane = b;
	for (i = 0; i < cfg_len(rules); i++) {
		r = cfg_at(rules, i);
		if (strcmp(nz(cfg_str(cfg_get(r, "backend"))), b) == 0 &&
		    *nz(cfg_str(cfg_get(r, "lane"))) != '\0') {
			*lane = cfg_str(cfg_get(r, "lane"));
			return (b);
		}
	}
	if (strcmp(route_cfg_str(router_cfg, "default.backend"), b) == 0)
		*lane = route_cfg_str(router_cfg, "default.lane");
	return (b);
}

struct msg_decision *
route_decide(const struct msg_proposal *proposal,
    const struct cfg_node *router_cfg, int64_t now_ms)
{
	const struct cfg_node *rules = cfg_get(router_cfg, "rules");
	const struct cfg_node *r, *match = NULL;
	const char            *lane, *backend, *name, *dlane, *dbackend;
	struct msg_decision   *d;
	char                   id[37], ts[32], *why;
	size_t                 i;

	dlane    = route_cfg_str(router_cfg, "default.lane");
	dbackend = route_cfg_str(router_cfg, "default.backend");
	lane     = dlane;
	backend  = dbackend;
	name     = "default";
	for (i = 0; i < cfg_len(rules); i++) {
		r = cfg_at(rules, i);
		if (cfg_type(r) != CFG_MAP ||
		    *nz(cfg_str(cfg_get(r, "lane"))) == '\0')
			continue; /* route_cfg_check reports these */
		if (rule_matches(cfg_get(r, "when"), proposal)) {
			match = r;
			break;
		}
	}
	if ((backend = label_backend(proposal, router_cfg, &lane)) != NULL) {
		name = "label.backend";
		why = xasprintf("the task's label 'backend: %s' chose backend "
		                "%s (lane %s)",
		    backend, backend, lane);
	} else if (match != NULL) {
		lane    = cfg_str(cfg_get(match, "lane"));
		backend = cfg_str(cfg_get(match, "backend"));
		if (backend == NULL || *backend == '\0')
			backend = dbackend;
		name = cfg_str(cfg_get(match, "name"));
		if (name == NULL || *name == '\0')
			name = "unnamed";
		why = xasprintf("rule '%s' matched (task_type %s, risk %s): "
		                "lane %s, backend %s",
		    name, nz(proposal->task_type),
		    msg_risk_level_name(proposal->risk_level), lane, backend);
	} else {
		lane    = dlane;
		backend = dbackend;
		why = xasprintf("no rule matched: default lane %s, backend %s",
		    lane, backend);
	}

	d                      = msg_decision_new();
	d->decision_id         = xstrdup(uuid4(id));
	d->proposal_id         = xstrdup(nz(proposal->proposal_id));
	d->run_id              = xstrdup(uuid4(id));
	d->selected_lane       = xstrdup(lane);
	d->selected_backend    = xstrdup(backend);
	d->confidence          = 1.0;
	d->policy_rule_matched = xstrdup(name);
	d->rationale           = why;
	for (i = 0; i < cfg_len(rules); i++)
		add_alt(&d->alternatives_considered,
		    cfg_str(cfg_get(cfg_at(rules, i), "lane")), lane);
	add_alt(&d->alternatives_considered, dlane, lane);
	d->decided_at          = xstrdup(iso8601(now_ms, ts, sizeof(ts)));
	d->switchboard_version = xstrdup("opcenter-router/1");
	return (d);
}

/* argv_split splits a command string on blanks; it never goes through a
 * shell, so quoting is not interpreted. */
static json_t *
argv_split(const char *s)
{
	json_t *a = json_array();
	size_t  n;

	for (;;) {
		s += strspn(s, " \t\r\n");
		if (*s == '\0')
			break;
		n = strcspn(s, " \t\r\n");
		json_array_append_new(a, json_stringn(s, n));
		s += n;
	}
	return (a);
}

static json_t *
argv_list(const json_t *cmds)
{
	json_t       *out = json_array(), *argv;
	const json_t *c;
	size_t        i;

	json_array_foreach (cmds, i, c) {
		if (json_is_string(c))
			argv = argv_split(json_string_value(c));
		else if (json_is_array(c))
			argv = json_deep_copy(c);
		else
			continue;
		if (json_array_size(argv) > 0)
			json_array_append_new(out, argv);
		else
			json_decref(argv);
	}
	return (out);
}

struct msg_exec_request *
route_request(const struct msg_proposal *p, const struct msg_decision *d,
    const struct msg_policy *pol, const struct route_task *t,
    const struct cfg_node *root, int64_t attempt, int64_t now_ms)
{
	const struct msg_strs   *paths;
	struct msg_exec_request *r;
	const char              *kind;
	int                      await_review;
	char                     ebuf[8], ts[32];
	size_t                   i;

	if (p == NULL || d == NULL || d->run_id == NULL)
		return (NULL);
	kind = t != NULL && t->kind != NULL && *t->kind != '\0' ? t->kind
	                                                        : p->task_kind;
	if (kind == NULL || *kind == '\0')
		kind = "goal";
	if (cfg_tab_bool(conf_repo_keys, route_repo(root, p->target->repo_key),
	        "await_review", &await_review, ebuf, sizeof(ebuf)) != 0)
		await_review = 0; /* route_proposal already vetted the repo */

	r                   = msg_exec_request_new();
	r->run_id           = xstrdup(d->run_id);
	r->task_id          = xstrdup(p->task_id);
	r->proposal_id      = xstrdup(p->proposal_id);
	r->decision_id      = xstrdup(d->decision_id);
	r->goal_text        = xstrdup_null(p->goal_text);
	r->constraints_text = xstrdup_null(p->constraints_text);
	r->repo_key         = xstrdup(p->target->repo_key);
	r->clone_url        = xstrdup_null(p->target->clone_url);
	r->base_branch      = xstrdup_null(p->target->base_branch);
	r->task_branch = xasprintf("%s/%s-%.8s", kind, p->task_id, d->run_id);
	paths          = pol != NULL && pol->effective_scope.n > 0
	             ? &pol->effective_scope
	             : &p->target->allowed_paths;
	for (i = 0; i < paths->n; i++)
		msg_strs_add(&r->allowed_paths, paths->v[i]);
	if (p->constraints != NULL) {
		r->max_changed_files = p->constraints->max_changed_files;
		r->has_max_changed_files =
		    p->constraints->has_max_changed_files;
		r->timeout_seconds = p->constraints->timeout_seconds;
		r->require_clean_validation =
		    p->constraints->require_clean_validation;
	}
	r->validation_commands = argv_list(
	    p->validation_profile ? p->validation_profile->commands : NULL);
	if (p->validation_profile != NULL)
		r->validation_timeout_seconds =
		    p->validation_profile->timeout_seconds;
	r->lane    = xstrdup_null(d->selected_lane);
	r->backend = xstrdup_null(d->selected_backend);
	for (i = 0; i < p->labels.n; i++)
		msg_strs_add(&r->labels, p->labels.v[i]);
	if (p->branch_policy != NULL) {
		r->open_pr         = p->branch_policy->open_pr;
		r->push_on_success = p->branch_policy->push_on_success;
	}
	r->await_review = await_review != 0;
	r->requested_at = xstrdup(iso8601(now_ms, ts, sizeof(ts)));
	r->attempt      = attempt;
	r->task_kind    = xstrdup(kind);
	r->task_type    = xstrdup_null(p->task_type);
	return (r);
}
