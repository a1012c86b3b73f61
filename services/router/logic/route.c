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
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "opc/err.h"
#include "opc/util.h"
#include "route.h"
#include "route_priv.h"

#define ERRF(...)                                                              \
	do {                                                                   \
		if (errlen > 0)                                                \
			snprintf(err, errlen, __VA_ARGS__);                    \
	} while (0)

static const char *const task_types[] = {
    "lint_fix", "bug_fix", "simple_edit",       "test_write", "documentation",
    "refactor", "feature", "dependency_update", "unknown"};

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
	size_t i = 0;
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
route_has_label(const json_t *labels, const char *want)
{
	size_t        i;
	const json_t *v;

	json_array_foreach(labels, i, v)
	{
		if (json_is_string(v) &&
		    route_label_eq(json_string_value(v), want))
			return (true);
	}
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

static json_t *
str_array(const char *const *v, size_t n)
{
	json_t *a = json_array();
	size_t  i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(nz(v[i])));
	return (a);
}

const char *
route_cfg_str(const struct cfg_node *router_cfg, const char *path)
{
	const char *s = cfg_str(cfg_get(router_cfg, path));

	return (s != NULL && *s != '\0' ? s
	                                 : cfg_tab_find(router_keys, path)->def);
}

const struct cfg_node *
route_section(const struct cfg_node *root)
{
	const struct cfg_node *r = cfg_get(root, "router");

	return (r != NULL ? r : cfg_get(root, "instances.router"));
}

/* task_type_for maps a board task kind to a TaskType; router.kind_map
 * overrides the built-in table. */
static int
task_type_for(const char *kind, const struct cfg_node *root, const char **out,
              char *err, size_t errlen)
{
	const struct cfg_node *map = cfg_get(route_section(root), "kind_map");
	const char            *t = NULL;
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
	} modes[] = {{"goal", "goal"},
	             {"fix_pr", "fix_pr"},
	             {"test", "test_campaign"},
	             {"test_campaign", "test_campaign"},
	             {"improve", "improve_campaign"},
	             {"improve_campaign", "improve_campaign"}};
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

static const char *
risk_for(const char *const *labels, size_t n)
{
	static const char *const levels[] = {"low", "medium", "high"};
	char                     nl[ROUTE_LABEL_MAX];
	size_t                   i, j;

	for (i = 0; i < n; i++) {
		route_label_norm(nz(labels[i]), nl, sizeof(nl));
		if (strncmp(nl, "risk: ", 6) != 0)
			continue;
		for (j = 0; j < nitems(levels); j++)
			if (strcmp(nl + 6, levels[j]) == 0)
				return (levels[j]);
	}
	return ("low");
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

static json_t *
exec_get(const json_t *execution, const char *key)
{
	json_t *v;

	if (!json_is_object(execution))
		return (NULL);
	v = json_object_get(execution, key);
	return (json_is_null(v) ? NULL : v);
}

json_t *
route_proposal(const struct route_task *t, const struct cfg_node *root,
               int64_t now_ms, char *err, size_t errlen)
{
	const struct cfg_node *repo;
	const char            *kind, *repo_key, *task_type, *mode, *base;
	const char            *clone_url, *constraints = NULL, *s;
	const char           **abb = NULL;
	size_t                 nabb = 0;
	json_t                *paths, *cmds = NULL, *v, *p;
	int64_t                timeout, vtimeout;
	int                    open_pr, skip_baseline;
	size_t                 i;
	char                   id[37], ts[32];

	kind = (t->kind != NULL && *t->kind != '\0') ? t->kind : "goal";
	repo_key = t->repo_key;
	if ((repo_key == NULL || *repo_key == '\0') &&
	    json_is_string(exec_get(t->execution, "repo")))
		repo_key = json_string_value(exec_get(t->execution, "repo"));
	if (repo_key == NULL || *repo_key == '\0') {
		ERRF("missing repo key");
		return (NULL);
	}
	if ((repo = route_repo(root, repo_key)) == NULL ||
	    cfg_type(repo) != CFG_MAP) {
		ERRF("unknown repo key '%s'", repo_key);
		return (NULL);
	}
	if (t->goal == NULL || t->goal[strspn(t->goal, " \t\r\n")] == '\0') {
		ERRF("missing goal text");
		return (NULL);
	}
	if (task_type_for(kind, root, &task_type, err, errlen) != 0)
		return (NULL);
	s = route_jstr(t->execution, "mode");
	if (execution_mode_for(kind, s, &mode, err, errlen) != 0)
		return (NULL);

	if (cfg_get_str(repo, "clone_url", NULL, &clone_url, err, errlen) !=
	        0 ||
	    cfg_tab_int(router_keys, route_section(root), "timeout_seconds",
	                &timeout, err, errlen) != 0 ||
	    cfg_tab_int(conf_repo_keys, repo, "validation_timeout_seconds",
	                &vtimeout, err, errlen) != 0 ||
	    cfg_tab_bool(conf_repo_keys, repo, "open_pr", &open_pr, err,
	                 errlen) != 0 ||
	    cfg_tab_bool(conf_repo_keys, repo, "skip_baseline_validation",
	                 &skip_baseline, err, errlen) != 0 ||
	    cfg_get_strs(repo, "allowed_base_branches", &abb, &nabb, err,
	                 errlen) != 0 ||
	    commands(repo, &cmds, err, errlen) != 0)
		goto fail;
	if (clone_url == NULL || *clone_url == '\0') {
		/* a purely local repo is cloned from its working copy */
		if (cfg_get_str(repo, "local_path", NULL, &clone_url, err,
		                errlen) != 0)
			goto fail;
		if (clone_url == NULL || *clone_url == '\0') {
			ERRF("repo '%s': missing clone_url", repo_key);
			goto fail;
		}
	}
	if (timeout < 1 || vtimeout < 1) {
		ERRF("timeout_seconds must be >= 1");
		goto fail;
	}

	base = route_jstr(t->execution, "base_branch");
	if (base == NULL || *base == '\0') {
		if (cfg_tab_str(conf_repo_keys, repo, "default_branch", &base,
		                err, errlen) != 0)
			goto fail;
		if (*base == '\0')
			base = "main";
	}
	/* the Execution block parser may hand over "true" as text */
	if ((v = exec_get(t->execution, "open_pr")) != NULL) {
		if (json_is_boolean(v))
			open_pr = json_is_true(v);
		else if (json_is_string(v))
			open_pr =
			    strcasecmp(json_string_value(v), "true") == 0 ||
			    strcasecmp(json_string_value(v), "yes") == 0 ||
			    strcmp(json_string_value(v), "1") == 0;
	}
	if ((s = route_jstr(t->execution, "constraints")) != NULL && *s != '\0')
		constraints = s;

	paths = json_array();
	v = exec_get(t->execution, "allowed_paths");
	json_array_foreach(v, i, p)
	{
		if (json_is_string(p) && *json_string_value(p) != '\0')
			json_array_append(paths, p);
	}
	v = exec_get(t->execution, "max_changed_files");

	iso8601(now_ms, ts, sizeof(ts));
	p = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s?, "
	    "s:{s:s, s:s, s:s, s:O}, s:s, s:s, "
	    "s:{s:O, s:I, s:O, s:b, s:b}, "
	    "s:{s:s, s:O, s:I, s:b}, "
	    "s:{s:s, s:b, s:b, s:o}, "
	    "s:s, s:s, s:o}",
	    "proposal_id", uuid4(id), "task_id", nz(t->task_id), "project_id",
	    "local", "task_kind", kind, "task_type", task_type,
	    "execution_mode", mode, "goal_text", t->goal, "constraints_text",
	    constraints, "target", "repo_key", repo_key, "clone_url", clone_url,
	    "base_branch", base, "allowed_paths", paths, "priority", "normal",
	    "risk_level", risk_for(t->labels, t->nlabels), "constraints",
	    "max_changed_files", json_is_integer(v) ? v : json_null(),
	    "timeout_seconds", (json_int_t) timeout, "allowed_paths", paths,
	    "require_clean_validation", 1, "skip_baseline_validation",
	    skip_baseline, "validation_profile", "profile_name", "default",
	    "commands", cmds, "timeout_seconds", (json_int_t) vtimeout,
	    "fail_fast", 0, "branch_policy", "branch_prefix", "auto/",
	    "push_on_success", 1, "open_pr", open_pr, "allowed_base_branches",
	    str_array(abb, nabb), "proposed_at", ts, "proposer",
	    "opcenter-router", "labels", str_array(t->labels, t->nlabels));
	json_decref(paths);
	json_decref(cmds);
	free(abb);
	if (p == NULL)
		ERRF("cannot build proposal");
	return (p);

fail:
	json_decref(cmds);
	free(abb);
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
cond_labels(const struct cfg_node *c, const json_t *labels, bool all)
{
	size_t i, n = cfg_type(c) == CFG_SCALAR ? 1 : cfg_len(c);
	bool   has;

	for (i = 0; i < n; i++) {
		has = route_has_label(
		    labels,
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
rule_matches(const struct cfg_node *when, const json_t *proposal)
{
	const json_t          *labels = json_object_get(proposal, "labels");
	const json_t          *target = json_object_get(proposal, "target");
	const struct cfg_node *c;
	const char            *k;
	size_t                 i;

	for (i = 0; i < cfg_len(when); i++) {
		k = nz(cfg_key_at(when, i));
		c = cfg_at(when, i);
		if (strcmp(k, "kind") == 0) {
			if (!cond_str(c, route_jstr(proposal, "task_kind")))
				return (false);
		} else if (strcmp(k, "task_type") == 0) {
			if (!cond_str(c, route_jstr(proposal, "task_type")))
				return (false);
		} else if (strcmp(k, "repo") == 0) {
			if (!cond_str(c, route_jstr(target, "repo_key")))
				return (false);
		} else if (strcmp(k, "risk") == 0) {
			if (!cond_str(c, route_jstr(proposal, "risk_level")))
				return (false);
		} else if (strcmp(k, "labels_any") == 0) {
			if (!cond_labels(c, labels, false))
				return (false);
		} else if (strcmp(k, "labels_all") == 0) {
			if (!cond_labels(c, labels, true))
				return (false);
		} else
			return (false);
	}
	return (true);
}

static void
add_alt(json_t *alts, const char *lane, const char *selected)
{
	size_t        i;
	const json_t *v;

	if (lane == NULL || *lane == '\0' || strcmp(lane, selected) == 0)
		return;
	json_array_foreach(alts, i, v)
	{
		if (strcmp(json_string_value(v), lane) == 0)
			return;
	}
	json_array_append_new(alts, json_string(lane));
}

json_t *
route_decide(const json_t *proposal, const struct cfg_node *router_cfg,
             int64_t now_ms)
{
	const struct cfg_node *rules = cfg_get(router_cfg, "rules");
	const struct cfg_node *r, *match = NULL;
	const char            *lane, *backend, *name, *dlane, *dbackend;
	json_t                *alts, *d;
	char                   did[37], rid[37], ts[32], *why;
	size_t                 i;

	dlane = route_cfg_str(router_cfg, "default.lane");
	dbackend = route_cfg_str(router_cfg, "default.backend");
	lane = dlane;
	backend = dbackend;
	name = "default";
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
	if (match != NULL) {
		lane = cfg_str(cfg_get(match, "lane"));
		backend = cfg_str(cfg_get(match, "backend"));
		if (backend == NULL || *backend == '\0')
			backend = dbackend;
		name = cfg_str(cfg_get(match, "name"));
		if (name == NULL || *name == '\0')
			name = "unnamed";
		why = xasprintf("rule '%s' matched (task_type %s, risk %s): "
		                "lane %s, backend %s",
		                name, nz(route_jstr(proposal, "task_type")),
		                nz(route_jstr(proposal, "risk_level")), lane,
		                backend);
	} else
		why = xasprintf("no rule matched: default lane %s, backend %s",
		                lane, backend);

	alts = json_array();
	for (i = 0; i < cfg_len(rules); i++)
		add_alt(alts, cfg_str(cfg_get(cfg_at(rules, i), "lane")), lane);
	add_alt(alts, dlane, lane);

	d = json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:s, s:s, s:o, s:s, "
	              "s:s}",
	              "decision_id", uuid4(did), "proposal_id",
	              nz(route_jstr(proposal, "proposal_id")), "run_id",
	              uuid4(rid), "selected_lane", lane, "selected_backend",
	              backend, "confidence", 1.0, "policy_rule_matched", name,
	              "rationale", why, "alternatives_considered", alts,
	              "decided_at", iso8601(now_ms, ts, sizeof(ts)),
	              "switchboard_version", "opcenter-router/1");
	free(why);
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

	json_array_foreach(cmds, i, c)
	{
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

json_t *
route_request(const json_t *proposal, const json_t *decision,
              const json_t *policy, const struct route_task *t,
              const struct cfg_node *root, int64_t attempt, int64_t now_ms)
{
	const json_t *target, *cons, *vp, *bp, *paths, *scope;
	const char   *run_id, *task_id, *kind;
	char         *branch, ts[32];
	json_t       *r, *empty = NULL;
	int           await_review;
	char          ebuf[8];

	target = json_object_get(proposal, "target");
	cons = json_object_get(proposal, "constraints");
	vp = json_object_get(proposal, "validation_profile");
	bp = json_object_get(proposal, "branch_policy");
	run_id = route_jstr(decision, "run_id");
	task_id = route_jstr(proposal, "task_id");
	if (!json_is_object(target) || run_id == NULL || task_id == NULL)
		return (NULL);
	kind = t != NULL && t->kind != NULL && *t->kind != '\0'
	           ? t->kind
	           : route_jstr(proposal, "task_kind");
	if (kind == NULL || *kind == '\0')
		kind = "goal";
	if (cfg_tab_bool(conf_repo_keys,
	                 route_repo(root, route_jstr(target, "repo_key")),
	                 "await_review", &await_review, ebuf, sizeof(ebuf)) != 0)
		await_review = 0; /* route_proposal already vetted the repo */

	paths = json_object_get(target, "allowed_paths");
	scope = json_object_get(policy, "effective_scope");
	if (json_array_size(scope) > 0)
		paths = scope;
	if (!json_is_array(paths))
		paths = empty = json_array();
	branch = xasprintf("%s/%s-%.8s", kind, task_id, run_id);
	r = json_pack(
	    "{s:s, s:s, s:s?, s:s?, s:s?, s:O?, s:s?, s:s?, s:s?, "
	    "s:s, s:O, s:O?, s:O?, s:O?, s:o, s:O?, s:s?, s:s?, "
	    "s:O?, s:O?, s:b, s:O?, s:s, s:I}",
	    "run_id", run_id, "task_id", task_id, "proposal_id",
	    route_jstr(proposal, "proposal_id"), "decision_id",
	    route_jstr(decision, "decision_id"), "goal_text",
	    route_jstr(proposal, "goal_text"), "constraints_text",
	    json_object_get(proposal, "constraints_text"), "repo_key",
	    route_jstr(target, "repo_key"), "clone_url",
	    route_jstr(target, "clone_url"), "base_branch",
	    route_jstr(target, "base_branch"), "task_branch", branch,
	    "allowed_paths", paths, "max_changed_files",
	    json_object_get(cons, "max_changed_files"), "timeout_seconds",
	    json_object_get(cons, "timeout_seconds"),
	    "require_clean_validation",
	    json_object_get(cons, "require_clean_validation"),
	    "validation_commands", argv_list(json_object_get(vp, "commands")),
	    "validation_timeout_seconds",
	    json_object_get(vp, "timeout_seconds"), "lane",
	    route_jstr(decision, "selected_lane"), "backend",
	    route_jstr(decision, "selected_backend"), "labels",
	    json_object_get(proposal, "labels"), "open_pr",
	    json_object_get(bp, "open_pr"), "await_review", await_review,
	    "push_on_success", json_object_get(bp, "push_on_success"),
	    "requested_at", iso8601(now_ms, ts, sizeof(ts)), "attempt",
	    (json_int_t) attempt);
	if (r != NULL) {
		json_object_set_new(r, "task_kind", json_string(kind));
		if (route_jstr(proposal, "task_type") != NULL)
			json_object_set_new(r, "task_type",
			    json_string(route_jstr(proposal, "task_type")));
	}
	free(branch);
	json_decref(empty);
	return (r);
}
