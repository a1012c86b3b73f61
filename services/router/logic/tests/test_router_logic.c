/*
 * test_router_logic.c - the router's pure decision logic
 * (services/router/logic): proposal mapping, lane rules, the policy gate,
 * budgets, retry cap, concurrency/memory gates, the circuit breaker and
 * the execution request, leases (take-back and grants) and a superseded
 * run's outcome.  Includes the original's acceptance cases 3, 4
 * and 7 (inventory s.8).  Configs are YAML strings parsed with cfg_parse.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/lease.h"
#include "opc/outcome.h"
#include "opc/util.h"
#include "route.h"

#define MIN_MS (60 * (int64_t) 1000)
#define HOUR_MS (60 * MIN_MS)
#define T0 ((int64_t) 1764083045123) /* 2025-11-25T15:04:05.123Z */

/* The logic works on records; these tests read and tweak their JSON form
 * (what route.decided and exec.dispatch carry), so each call goes through
 * msg_<rec>_to_json/from_json: the JSON contract is checked on the way. */
#define REC_JSON(rec, p) (json_t *) rec_json(&msg_rec_##rec, (p))

static json_t *
rec_json(const struct msg_rec_def *def, void *rec)
{
	json_t *j;

	if (rec == NULL)
		return (NULL);
	j = msg_rec_to_json(def, rec);
	msg_rec_free(def, rec);
	return (j);
}

static void *
json_rec(const struct msg_rec_def *def, const json_t *j)
{
	void *rec;
	char  err[256];

	if (j == NULL)
		return (NULL);
	rec = msg_rec_new(def);
	if (msg_rec_from_json(def, rec, j, err, sizeof(err)) != 0)
		fail_msg("%s from JSON: %s", def->name, err);
	return (rec);
}

static json_t *
jproposal(const struct route_task *t, const struct cfg_node *root, int64_t now,
    char *err, size_t errlen)
{
	return (REC_JSON(proposal, route_proposal(t, root, now, err, errlen)));
}

static json_t *
jdecide(const json_t *p, const struct cfg_node *router_cfg, int64_t now)
{
	struct msg_proposal *pr = json_rec(&msg_rec_proposal, p);
	json_t *d = REC_JSON(decision, route_decide(pr, router_cfg, now));

	msg_proposal_free(pr);
	return (d);
}

static json_t *
jpolicy(const json_t *p, const json_t *d, const struct cfg_node *router_cfg,
    int64_t now)
{
	struct msg_proposal     *pr = json_rec(&msg_rec_proposal, p);
	struct msg_decision     *de = json_rec(&msg_rec_decision, d);
	struct route_policy_cfg *c  = route_policy_load(router_cfg);
	json_t *pol = REC_JSON(policy, route_policy(pr, de, c, now));

	route_policy_free(c);
	msg_proposal_free(pr);
	msg_decision_free(de);
	return (pol);
}

static json_t *
jrequest(const json_t *p, const json_t *d, const json_t *pol,
    const struct route_task *t, const struct cfg_node *root, int64_t attempt,
    int64_t now)
{
	struct msg_proposal *pr = json_rec(&msg_rec_proposal, p);
	struct msg_decision *de = msg_decision_new();
	struct msg_policy   *po = json_rec(&msg_rec_policy, pol);
	json_t              *r;
	char                 err[256];

	/* a decision without its run_id is what route_request refuses: keep
	 * the JSON's gaps (from_json would refuse the missing required id) */
	if (msg_decision_from_json(de, d, err, sizeof(err)) != 0)
		msg_decision_fini(de);
	if (json_object_get(d, "run_id") == NULL) {
		free(de->run_id);
		de->run_id = NULL;
	}
	r = REC_JSON(
	    exec_request, route_request(pr, de, po, t, root, attempt, now));
	msg_proposal_free(pr);
	msg_decision_free(de);
	msg_policy_free(po);
	return (r);
}

static const char base_yaml[] =
    "repos:\n"
    "  repo_a:\n"
    "    clone_url: https://example.com/a.git\n"
    "    default_branch: develop\n"
    "    validation_commands:\n"
    "      - \"make  test\"\n"
    "      - [ruff, check, \".\"]\n"
    "    allowed_base_branches: [develop, \"release/*\", main]\n"
    "    await_review: true\n"
    "    open_pr: false\n"
    "    validation_timeout_seconds: 120\n"
    "  bare:\n"
    "    clone_url: /srv/bare.git\n"
    "  local.one:\n"
    "    local_path: /home/me/one\n"
    "router:\n"
    "  rules:\n"
    "    - name: local-label\n"
    "      when: {labels_any: [local_only, no_remote]}\n"
    "      lane: aider_local\n"
    "      backend: aider_local\n"
    "    - name: big-risk\n"
    "      when: {risk: high, repo: repo_a}\n"
    "      lane: claude_cli\n"
    "      backend: kodo\n"
    "    - name: tests\n"
    "      when: {kind: test}\n"
    "      lane: codex_cli\n"
    "      backend: direct_local\n"
    "    - name: both-labels\n"
    "      when: {labels_all: [\"team: x\", \"lane: claude\"]}\n"
    "      lane: claude_cli\n"
    "      backend: direct_local\n"
    "    - name: refactors\n"
    "      when: {task_type: [refactor, feature]}\n"
    "      lane: codex_cli\n"
    "      backend: kodo\n"
    "  default: {lane: aider_local, backend: stub}\n";

struct fx {
	struct cfg *cfg;
	char        err[256];
};

static struct cfg *
parse(const char *yaml)
{
	struct cfg *c = NULL;
	char        err[256];

	if (cfg_parse(&c, "test.yaml", yaml, strlen(yaml), err, sizeof(err)) !=
	    0)
		fail_msg("cfg_parse: %s", err);
	return (c);
}

static int
setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));

	fx->cfg = parse(base_yaml);
	*state  = fx;
	return (0);
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	cfg_close(&fx->cfg);
	free(fx);
	return (0);
}

static const struct cfg_node *
root(struct fx *fx)
{
	return (cfg_root(fx->cfg));
}

static const struct cfg_node *
rcfg(struct fx *fx)
{
	return (cfg_get(cfg_root(fx->cfg), "router"));
}

static const char *
js(const json_t *o, const char *path)
{
	char        key[64];
	const char *dot;

	while ((dot = strchr(path, '.')) != NULL) {
		snprintf(key, sizeof(key), "%.*s", (int) (dot - path), path);
		o    = json_object_get(o, key);
		path = dot + 1;
	}
	return (json_string_value(json_object_get(o, path)));
}

static json_t *
jget(const json_t *o, const char *path)
{
	char        key[64];
	const char *dot;

	while ((dot = strchr(path, '.')) != NULL) {
		snprintf(key, sizeof(key), "%.*s", (int) (dot - path), path);
		o    = json_object_get(o, key);
		path = dot + 1;
	}
	return (json_object_get(o, path));
}

static struct route_task
task(const char *kind, const char *repo, const char *const *labels, size_t n)
{
	return ((struct route_task) { .task_id = "T-7",
	    .title                             = "Add a thing",
	    .goal        = "Add a --verbose flag to the CLI and document it.",
	    .repo_key    = repo,
	    .kind        = kind,
	    .description = "",
	    .labels      = labels,
	    .nlabels     = n,
	    .execution   = NULL,
	    .attempt     = 0 });
}

static json_t *
proposal_ok(struct fx *fx, const struct route_task *t)
{
	json_t *p = jproposal(t, root(fx), T0, fx->err, sizeof(fx->err));

	if (p == NULL)
		fail_msg("route_proposal: %s", fx->err);
	return (p);
}

/* run proposal -> decision -> policy and return the policy (decision in
 * *dp when wanted). */
static json_t *
gate(struct fx *fx, const struct route_task *t, const char *lane, json_t **dp)
{
	json_t *p = proposal_ok(fx, t), *d, *pol;

	d = jdecide(p, rcfg(fx), T0);
	assert_non_null(d);
	if (lane != NULL)
		json_object_set_new(d, "selected_lane", json_string(lane));
	pol = jpolicy(p, d, rcfg(fx), T0);
	assert_non_null(pol);
	json_decref(p);
	if (dp != NULL)
		*dp = d;
	else
		json_decref(d);
	return (pol);
}

static bool
has_rule(const json_t *list, const char *rule, int blocking)
{
	const json_t *v;
	size_t        i;

	json_array_foreach (list, i, v) {
		if (strcmp(js(v, "rule_id"), rule) != 0)
			continue;
		if (blocking < 0 ||
		    json_is_true(json_object_get(v, "blocking")) == blocking)
			return (true);
	}
	return (false);
}

/* ---- proposal ---- */

static void
test_proposal_goal_defaults(void **state)
{
	struct fx        *fx = *state;
	struct route_task t  = task("goal", "repo_a", NULL, 0);
	json_t           *p  = proposal_ok(fx, &t), *cmds;

	assert_int_equal(strlen(js(p, "proposal_id")), 36);
	assert_string_equal(js(p, "task_id"), "T-7");
	assert_string_equal(js(p, "project_id"), "local");
	assert_string_equal(js(p, "task_type"), "simple_edit");
	assert_string_equal(js(p, "execution_mode"), "goal");
	assert_string_equal(js(p, "goal_text"), t.goal);
	assert_null(jget(p, "constraints_text")); /* absent, not "" */
	assert_string_equal(js(p, "target.repo_key"), "repo_a");
	assert_string_equal(
	    js(p, "target.clone_url"), "https://example.com/a.git");
	assert_string_equal(js(p, "target.base_branch"), "develop");
	assert_int_equal(json_array_size(jget(p, "target.allowed_paths")), 0);
	assert_string_equal(js(p, "priority"), "normal");
	assert_string_equal(js(p, "risk_level"), "low");
	assert_null(jget(p, "constraints.max_changed_files")); /* no limit */
	assert_int_equal(
	    json_integer_value(jget(p, "constraints.timeout_seconds")), 300);
	assert_true(
	    json_is_true(jget(p, "constraints.require_clean_validation")));
	assert_true(
	    json_is_false(jget(p, "constraints.skip_baseline_validation")));
	assert_string_equal(
	    js(p, "validation_profile.profile_name"), "default");
	cmds = jget(p, "validation_profile.commands");
	assert_int_equal(json_array_size(cmds), 2);
	assert_string_equal(
	    json_string_value(json_array_get(cmds, 0)), "make  test");
	assert_true(json_is_array(json_array_get(cmds, 1)));
	assert_int_equal(
	    json_integer_value(jget(p, "validation_profile.timeout_seconds")),
	    120);
	assert_true(json_is_false(jget(p, "validation_profile.fail_fast")));
	assert_string_equal(js(p, "branch_policy.branch_prefix"), "auto/");
	assert_true(json_is_true(jget(p, "branch_policy.push_on_success")));
	assert_true(json_is_false(jget(p, "branch_policy.open_pr")));
	assert_int_equal(
	    json_array_size(jget(p, "branch_policy.allowed_base_branches")),
	    3);
	assert_string_equal(js(p, "proposed_at"), "2025-11-25T15:04:05.123Z");
	assert_string_equal(js(p, "proposer"), "opcenter-router");
	assert_int_equal(json_array_size(jget(p, "labels")), 0);
	json_decref(p);
}

static void
test_proposal_kinds(void **state)
{
	static const struct {
		const char *kind, *type, *mode;
	} cases[]            = { { "goal", "simple_edit", "goal" },
		           { "test", "test_write", "test_campaign" },
		           { "improve", "refactor", "improve_campaign" },
		           { "chore", "unknown", "goal" },
		           { NULL, "simple_edit", "goal" } };
	struct fx        *fx = *state;
	struct route_task t;
	json_t           *p;
	size_t            i;

	for (i = 0; i < nitems(cases); i++) {
		t = task(cases[i].kind, "bare", NULL, 0);
		p = proposal_ok(fx, &t);
		assert_string_equal(js(p, "task_type"), cases[i].type);
		assert_string_equal(js(p, "execution_mode"), cases[i].mode);
		/* no default_branch configured */
		assert_string_equal(js(p, "target.base_branch"), "main");
		json_decref(p);
	}
}

static void
test_proposal_kind_map(void **state)
{
	struct fx        *fx = *state;
	struct cfg       *c;
	struct route_task t = task("goal", "r", NULL, 0);
	json_t           *p;

	UNUSED(fx);
	c = parse(
	    "repos: {r: {clone_url: x}}\n"
	    "router: {kind_map: {goal: feature}, timeout_seconds: 90}\n");
	p = jproposal(&t, cfg_root(c), T0, fx->err, sizeof(fx->err));
	assert_non_null(p);
	assert_string_equal(js(p, "task_type"), "feature");
	assert_int_equal(
	    json_integer_value(jget(p, "constraints.timeout_seconds")), 90);
	json_decref(p);
	cfg_close(&c);

	c = parse("repos: {r: {clone_url: x}}\n"
	          "router: {kind_map: {goal: nonsense}}\n");
	assert_null(jproposal(&t, cfg_root(c), T0, fx->err, sizeof(fx->err)));
	assert_non_null(strstr(fx->err, "nonsense"));
	cfg_close(&c);
}

static void
test_proposal_risk_label(void **state)
{
	static const char *const hi[]   = { "source: autonomy", "Risk:High" };
	static const char *const med[]  = { "risk: medium" };
	static const char *const junk[] = { "risk: extreme" };
	struct fx               *fx     = *state;
	struct route_task        t      = task("goal", "repo_a", hi, 2);
	json_t                  *p      = proposal_ok(fx, &t);

	assert_string_equal(js(p, "risk_level"), "high");
	assert_int_equal(json_array_size(jget(p, "labels")), 2);
	json_decref(p);
	t = task("goal", "repo_a", med, 1);
	p = proposal_ok(fx, &t);
	assert_string_equal(js(p, "risk_level"), "medium");
	json_decref(p);
	t = task("goal", "repo_a", junk, 1);
	p = proposal_ok(fx, &t);
	assert_string_equal(js(p, "risk_level"), "low");
	json_decref(p);
}

/* set_ex gives t the Execution block ex (its JSON form) as the record
 * board-sync sends; the record of the previous call is freed. */
static void
set_ex(struct route_task *t, const json_t *ex)
{
	static struct msg_task_execution *rec;
	char                              err[256];

	msg_task_execution_free(rec);
	rec = msg_task_execution_new();
	assert_int_equal(
	    msg_task_execution_from_json(rec, ex, err, sizeof(err)), 0);
	t->execution = rec;
}

static void
test_proposal_execution_block(void **state)
{
	struct fx        *fx = *state;
	struct route_task t  = task("goal", "repo_a", NULL, 0);
	json_t           *ex, *p;

	ex = json_pack("{s:s, s:s, s:s, s:[s, s], s:b, s:s, s:s}", "repo",
	    "repo_a", "base_branch", "release/2", "mode", "TEST",
	    "allowed_paths", "src/", "docs/", "open_pr", 1, "constraints",
	    "- Keep tests green.", "max_changed_files", "7");
	set_ex(&t, ex);
	p = proposal_ok(fx, &t);
	assert_string_equal(js(p, "target.base_branch"), "release/2");
	assert_string_equal(js(p, "execution_mode"), "test_campaign");
	assert_string_equal(js(p, "task_type"), "simple_edit");
	assert_int_equal(json_array_size(jget(p, "target.allowed_paths")), 2);
	assert_int_equal(
	    json_array_size(jget(p, "constraints.allowed_paths")), 2);
	assert_true(json_is_true(jget(p, "branch_policy.open_pr")));
	assert_string_equal(js(p, "constraints_text"), "- Keep tests green.");
	assert_int_equal(
	    json_integer_value(jget(p, "constraints.max_changed_files")), 7);
	json_decref(p);

	/* the block's repo is used when the task has no repo key */
	t.repo_key = NULL;
	json_object_set_new(ex, "mode", json_string("fix_pr"));
	set_ex(&t, ex);
	p = proposal_ok(fx, &t);
	assert_string_equal(js(p, "target.repo_key"), "repo_a");
	assert_string_equal(js(p, "execution_mode"), "fix_pr");
	json_decref(p);

	json_object_set_new(ex, "open_pr", json_false());
	set_ex(&t, ex);
	p = proposal_ok(fx, &t);
	assert_true(json_is_false(jget(p, "branch_policy.open_pr")));
	json_decref(p);

	json_object_set_new(ex, "mode", json_string("totally_invalid"));
	set_ex(&t, ex);
	assert_null(jproposal(&t, root(fx), T0, fx->err, sizeof(fx->err)));
	assert_string_equal(
	    fx->err, "unsupported execution mode 'totally_invalid'");
	json_decref(ex);
}

static void
test_proposal_errors(void **state)
{
	struct fx        *fx = *state;
	struct route_task t  = task("goal", "nope", NULL, 0);
	json_t           *p;

	assert_null(jproposal(&t, root(fx), T0, fx->err, sizeof(fx->err)));
	assert_string_equal(fx->err, "unknown repo key 'nope'");
	t      = task("goal", "repo_a", NULL, 0);
	t.goal = "  \n";
	assert_null(jproposal(&t, root(fx), T0, fx->err, sizeof(fx->err)));
	assert_string_equal(fx->err, "missing goal text");
	t.goal = NULL;
	assert_null(jproposal(&t, root(fx), T0, fx->err, sizeof(fx->err)));
	/* a repo key containing a dot, cloned from its local path */
	t = task("goal", "local.one", NULL, 0);
	p = proposal_ok(fx, &t);
	assert_string_equal(js(p, "target.clone_url"), "/home/me/one");
	json_decref(p);
}

/* ---- routing ---- */

static json_t *
decide(struct fx *fx, const char *kind, const char *repo,
    const char *const *labels, size_t n)
{
	struct route_task t = task(kind, repo, labels, n);
	json_t           *p = proposal_ok(fx, &t), *d;

	d = jdecide(p, rcfg(fx), T0);
	assert_non_null(d);
	assert_string_equal(js(d, "proposal_id"), js(p, "proposal_id"));
	json_decref(p);
	return (d);
}

static void
test_decide_default(void **state)
{
	struct fx *fx = *state;
	json_t    *d  = decide(fx, "goal", "repo_a", NULL, 0);
	json_t    *alts;
	size_t     i;

	assert_string_equal(js(d, "selected_lane"), "aider_local");
	assert_string_equal(js(d, "selected_backend"), "stub");
	assert_string_equal(js(d, "policy_rule_matched"), "default");
	assert_int_equal(strlen(js(d, "decision_id")), 36);
	assert_int_equal(strlen(js(d, "run_id")), 36);
	assert_string_not_equal(js(d, "decision_id"), js(d, "run_id"));
	assert_true(json_real_value(jget(d, "confidence")) == 1.0);
	assert_string_equal(js(d, "switchboard_version"), "opcenter-router/1");
	assert_string_equal(js(d, "decided_at"), "2025-11-25T15:04:05.123Z");
	assert_non_null(strstr(js(d, "rationale"), "no rule matched"));
	alts = jget(d, "alternatives_considered");
	assert_true(json_array_size(alts) >= 2);
	for (i = 0; i < json_array_size(alts); i++)
		assert_string_not_equal(
		    json_string_value(json_array_get(alts, i)), "aider_local");
	json_decref(d);

	/* no router section at all: built-in default */
	{
		struct route_task t = task("goal", "repo_a", NULL, 0);
		json_t           *p = proposal_ok(fx, &t);

		d = jdecide(p, NULL, T0);
		assert_string_equal(js(d, "selected_lane"), "aider_local");
		assert_string_equal(js(d, "selected_backend"), "stub");
		assert_string_equal(js(d, "policy_rule_matched"), "default");
		json_decref(d);
		json_decref(p);
	}
}

static void
test_decide_rules(void **state)
{
	static const char *const local[] = { "local_only", "risk: high" };
	static const char *const high[]  = { "risk: high" };
	static const char *const both[]  = { "Team: X", "lane:claude" };
	static const char *const one[]   = { "team: x" };
	struct fx               *fx      = *state;
	json_t                  *d;

	/* first match wins: local-label precedes big-risk */
	d = decide(fx, "goal", "repo_a", local, 2);
	assert_string_equal(js(d, "policy_rule_matched"), "local-label");
	assert_string_equal(js(d, "selected_lane"), "aider_local");
	assert_string_equal(js(d, "selected_backend"), "aider_local");
	json_decref(d);

	d = decide(fx, "goal", "repo_a", high, 1);
	assert_string_equal(js(d, "policy_rule_matched"), "big-risk");
	assert_string_equal(js(d, "selected_lane"), "claude_cli");
	assert_string_equal(js(d, "selected_backend"), "kodo");
	assert_non_null(strstr(js(d, "rationale"), "big-risk"));
	json_decref(d);

	/* repo condition: high risk elsewhere falls through */
	d = decide(fx, "goal", "bare", high, 1);
	assert_string_equal(js(d, "policy_rule_matched"), "default");
	json_decref(d);

	d = decide(fx, "test", "bare", NULL, 0);
	assert_string_equal(js(d, "policy_rule_matched"), "tests");
	assert_string_equal(js(d, "selected_lane"), "codex_cli");
	json_decref(d);

	d = decide(fx, "goal", "bare", both, 2);
	assert_string_equal(js(d, "policy_rule_matched"), "both-labels");
	json_decref(d);
	d = decide(fx, "goal", "bare", one, 1);
	assert_string_equal(js(d, "policy_rule_matched"), "default");
	json_decref(d);

	/* task_type list */
	d = decide(fx, "improve", "bare", NULL, 0);
	assert_string_equal(js(d, "policy_rule_matched"), "refactors");
	json_decref(d);
}

/* A "backend: NAME" label (opc demo --backend) comes before every rule;
 * its lane is the first rule's naming that backend, the default lane for
 * the default backend, else the backend's name. */
static void
test_decide_backend_label(void **state)
{
	static const char *const kodo[] = { "local_only", "Backend: kodo" };
	static const char *const stub[] = { "backend:stub" };
	static const char *const cli[]  = { "backend: codex_x" };
	static const char *const none[] = { "backend:" };
	struct fx               *fx     = *state;
	json_t                  *d;

	d = decide(fx, "goal", "repo_a", kodo, 2);
	assert_string_equal(js(d, "policy_rule_matched"), "label.backend");
	assert_string_equal(js(d, "selected_backend"), "kodo");
	assert_string_equal(js(d, "selected_lane"), "claude_cli");
	json_decref(d);
	d = decide(fx, "test", "bare", stub, 1);
	assert_string_equal(js(d, "selected_backend"), "stub");
	assert_string_equal(js(d, "selected_lane"), "aider_local");
	json_decref(d);
	d = decide(fx, "goal", "bare", cli, 1);
	assert_string_equal(js(d, "selected_backend"), "codex_x");
	assert_string_equal(js(d, "selected_lane"), "codex_x");
	json_decref(d);
	d = decide(fx, "goal", "bare", none, 1);
	assert_string_equal(js(d, "policy_rule_matched"), "default");
	json_decref(d);
}

/* ---- policy ---- */

static void
test_policy_plain_goal_allowed(void **state)
{
	struct fx        *fx  = *state;
	struct route_task t   = task("goal", "repo_a", NULL, 0);
	json_t           *pol = gate(fx, &t, NULL, NULL);

	/* the original's defect: a manual goal task must not be blocked */
	assert_string_equal(js(pol, "status"), "allow");
	assert_int_equal(json_array_size(jget(pol, "violations")), 0);
	assert_int_equal(json_array_size(jget(pol, "warnings")), 0);
	assert_string_equal(
	    js(pol, "effective_review_requirement"), "autonomous");
	assert_string_equal(
	    js(pol, "effective_validation_profile"), "standard");
	assert_string_equal(
	    js(pol, "notes"), "violations: none; warnings: none");
	assert_int_equal(strlen(js(pol, "decision_id")), 36);
	assert_string_equal(
	    js(pol, "evaluated_at"), "2025-11-25T15:04:05.123Z");
	json_decref(pol);
}

static void
test_policy_warnings(void **state)
{
	static const char *const med[] = { "risk: medium" };
	struct fx               *fx    = *state;
	struct route_task        t     = task("goal", "bare", med, 1);
	json_t                  *pol   = gate(fx, &t, NULL, NULL);

	assert_string_equal(js(pol, "status"), "allow_with_warnings");
	assert_true(
	    has_rule(jget(pol, "warnings"), "validation.no_commands", -1));
	assert_string_equal(js(pol, "notes"),
	    "violations: none; warnings: validation.no_commands");
	json_decref(pol);

	/* medium risk with validation commands: no warning */
	t   = task("goal", "repo_a", med, 1);
	pol = gate(fx, &t, NULL, NULL);
	assert_string_equal(js(pol, "status"), "allow");
	json_decref(pol);
}

static void
test_policy_review(void **state)
{
	static const char *const high[]         = { "risk: high" };
	static const char *const high_trusted[] = { "risk: high",
		"source: autonomy" };
	static const char *const trusted_rr[]   = { "source: spec-campaign",
		  "review_required" };
	static const char *const board[]        = { "Source:Board_Worker" };
	struct fx               *fx             = *state;
	struct route_task        t   = task("goal", "repo_a", high, 1);
	json_t                  *pol = gate(fx, &t, NULL, NULL);

	assert_string_equal(js(pol, "status"), "require_review");
	assert_true(has_rule(jget(pol, "violations"), "review.required", 0));
	assert_string_equal(
	    js(pol, "effective_review_requirement"), "required");
	assert_string_equal(js(pol, "effective_validation_profile"), "strict");
	json_decref(pol);

	t   = task("goal", "repo_a", high_trusted, 2);
	pol = gate(fx, &t, NULL, NULL);
	assert_string_equal(js(pol, "status"), "allow");
	assert_string_equal(js(pol, "effective_validation_profile"), "strict");
	json_decref(pol);

	/* refactor needs review unless trusted */
	t   = task("improve", "repo_a", NULL, 0);
	pol = gate(fx, &t, NULL, NULL);
	assert_string_equal(js(pol, "status"), "require_review");
	json_decref(pol);
	t   = task("improve", "repo_a", board, 1);
	pol = gate(fx, &t, NULL, NULL);
	assert_string_equal(js(pol, "status"), "allow");
	json_decref(pol);

	/* review_required always forces review */
	t   = task("goal", "repo_a", trusted_rr, 2);
	pol = gate(fx, &t, NULL, NULL);
	assert_string_equal(js(pol, "status"), "require_review");
	assert_true(
	    has_rule(jget(pol, "violations"), "review.label_required", 0));
	assert_string_equal(js(pol, "notes"),
	    "violations: review.label_required; warnings: none");
	json_decref(pol);

	/* high risk without validation commands: block_if_unavailable */
	t   = task("goal", "bare", high_trusted, 2);
	pol = gate(fx, &t, NULL, NULL);
	assert_string_equal(js(pol, "status"), "block");
	assert_true(
	    has_rule(jget(pol, "violations"), "validation.unavailable", 1));
	json_decref(pol);
}

static void
test_policy_block(void **state)
{
	static const char *const local[]    = { "local_only" };
	static const char *const noremote[] = { "no_remote" };
	static const char *const destr[]    = { "force_push" };
	struct fx               *fx         = *state;
	struct route_task        t          = task("goal", "repo_a", local, 1);
	json_t                  *pol, *v;

	/* acceptance case 7: local_only + claude_cli -> block */
	pol = gate(fx, &t, "claude_cli", NULL);
	assert_string_equal(js(pol, "status"), "block");
	v = json_array_get(jget(pol, "violations"), 0);
	assert_string_equal(js(v, "rule_id"), "routing.local_only_violated");
	assert_string_equal(js(v, "category"), "routing");
	assert_true(json_is_true(jget(v, "blocking")));
	assert_string_equal(js(pol, "notes"),
	    "violations: routing.local_only_violated; warnings: none");
	json_decref(pol);

	/* on the local lane the label is satisfied */
	pol = gate(fx, &t, "aider_local", NULL);
	assert_string_equal(js(pol, "status"), "allow");
	json_decref(pol);
	t   = task("goal", "repo_a", noremote, 1);
	pol = gate(fx, &t, "codex_cli", NULL);
	assert_string_equal(js(pol, "status"), "block");
	json_decref(pol);

	t   = task("goal", "repo_a", destr, 1);
	pol = gate(fx, &t, NULL, NULL);
	assert_string_equal(js(pol, "status"), "block");
	assert_true(
	    has_rule(jget(pol, "violations"), "tool.destructive_label", 1));
	json_decref(pol);
}

static void
test_policy_paths_and_branch(void **state)
{
	struct fx        *fx = *state;
	struct route_task t  = task("goal", "repo_a", NULL, 0);
	json_t           *ex, *pol, *v;

	ex = json_pack("{s:[s, s]}", "allowed_paths", "src/", "home/.ssh/");
	set_ex(&t, ex);
	pol = gate(fx, &t, NULL, NULL);
	assert_string_equal(js(pol, "status"), "block");
	v = json_array_get(jget(pol, "violations"), 0);
	assert_string_equal(js(v, "rule_id"), "path.sensitive_blocked");
	assert_string_equal(js(v, "category"), "path");
	assert_string_equal(js(v, "related_path"), "home/.ssh/");
	assert_int_equal(json_array_size(jget(pol, "effective_scope")), 2);
	json_decref(pol);

	json_object_set_new(ex, "allowed_paths",
	    json_pack("[s, s]", ".gnupg/pubring.kbx", "src/"));
	set_ex(&t, ex);
	pol = gate(fx, &t, NULL, NULL);
	assert_string_equal(js(pol, "status"), "block");
	json_decref(pol);

	json_object_set_new(ex, "allowed_paths",
	    json_pack(
	        "[s, s]", ".github/workflows/", "db/migrations/001.sql"));
	set_ex(&t, ex);
	pol = gate(fx, &t, NULL, NULL);
	assert_string_equal(js(pol, "status"), "require_review");
	assert_int_equal(json_array_size(jget(pol, "violations")), 2);
	assert_true(
	    has_rule(jget(pol, "violations"), "path.sensitive_review", 0));
	json_decref(pol);

	json_object_set_new(ex, "allowed_paths", json_pack("[s]", "src/"));
	set_ex(&t, ex);
	json_object_set_new(ex, "base_branch", json_string("release/3"));
	set_ex(&t, ex);
	pol = gate(fx, &t, NULL, NULL);
	assert_string_equal(js(pol, "status"), "allow");
	json_decref(pol);
	json_object_set_new(ex, "base_branch", json_string("hotfix"));
	set_ex(&t, ex);
	pol = gate(fx, &t, NULL, NULL);
	assert_string_equal(js(pol, "status"), "block");
	assert_true(
	    has_rule(jget(pol, "violations"), "branch.base_not_allowed", 1));
	json_decref(pol);
	json_decref(ex);
}

static void
test_policy_config_override(void **state)
{
	static const char *const lbl[] = { "source: me", "risk: high" };
	struct fx               *fx    = *state;
	struct cfg              *c;
	struct route_task        t = task("goal", "r", lbl, 2);
	json_t                  *p, *d, *pol;

	c = parse("repos: {r: {clone_url: x, validation_commands: [make]}}\n"
	          "router:\n"
	          "  policy:\n"
	          "    trusted_labels: [\"source: me\"]\n"
	          "    destructive_labels: [nuke]\n");
	p = jproposal(&t, cfg_root(c), T0, fx->err, sizeof(fx->err));
	assert_non_null(p);
	d   = jdecide(p, cfg_get(cfg_root(c), "router"), T0);
	pol = jpolicy(p, d, cfg_get(cfg_root(c), "router"), T0);
	assert_string_equal(js(pol, "status"), "allow");
	json_decref(pol);
	json_array_append_new(jget(p, "labels"), json_string("nuke"));
	pol = jpolicy(p, d, cfg_get(cfg_root(c), "router"), T0);
	assert_string_equal(js(pol, "status"), "block");
	json_decref(pol);
	json_decref(d);
	json_decref(p);
	cfg_close(&c);
}

/* ---- budgets and gates ---- */

static struct budget_cfg
bcfg(void)
{
	struct budget_cfg c;
	char              err[256];

	assert_int_equal(budget_cfg_load(&c, NULL, err, sizeof(err)), 0);
	return (c);
}

static void
test_budget_case3(void **state)
{
	struct budget_cfg c    = bcfg();
	int64_t           t[3] = { T0 - 30 * MIN_MS, T0 - 10 * MIN_MS };
	struct gate       g;

	UNUSED(state);
	c.max_per_hour = 2;
	c.max_per_day  = 3;
	g              = budget_check(&c, t, 1, T0);
	assert_true(g.allowed);
	g = budget_check(&c, t, 2, T0);
	assert_false(g.allowed);
	assert_string_equal(g.reason, "budget_exceeded");
	assert_string_equal(g.window, "hourly");
	assert_int_equal(g.current, 2);
	assert_int_equal(g.limit, 2);

	t[2] = T0 - 2 * HOUR_MS;
	g    = budget_check(&c, t, 3, T0 + 2 * HOUR_MS);
	assert_false(g.allowed);
	assert_string_equal(g.reason, "budget_exceeded");
	assert_string_equal(g.window, "daily");
	assert_int_equal(g.current, 3);
	assert_int_equal(g.limit, 3);

	/* a day later everything has aged out */
	g = budget_check(&c, t, 3, T0 + 25 * HOUR_MS);
	assert_true(g.allowed);
	assert_null(g.reason);
}

static void
test_retry_case4(void **state)
{
	struct budget_cfg c = bcfg();
	struct gate       g;
	bool              reset;

	UNUSED(state);
	c.max_retries = 1;
	g             = budget_retry_check(&c, 0, 0, T0, &reset);
	assert_true(g.allowed);
	assert_false(reset);
	g = budget_retry_check(&c, 1, T0, T0 + 30 * MIN_MS, &reset);
	assert_false(g.allowed);
	assert_string_equal(g.reason, "retry_cap_exceeded");
	assert_int_equal(g.current, 1);
	assert_int_equal(g.limit, 1);
	assert_false(reset);
	g = budget_retry_check(&c, 1, T0, T0 + 59 * MIN_MS, &reset);
	assert_false(g.allowed);
	g = budget_retry_check(&c, 1, T0, T0 + 60 * MIN_MS, &reset);
	assert_false(g.allowed);
	g = budget_retry_check(&c, 1, T0, T0 + 61 * MIN_MS, &reset);
	assert_true(g.allowed);
	assert_true(reset);
	assert_int_equal(g.current, 0);
	g = budget_retry_check(&c, 5, T0, T0 + 61 * MIN_MS, NULL);
	assert_true(g.allowed);
}

static void
test_concurrency_memory(void **state)
{
	struct budget_cfg c = bcfg();
	struct gate       g;

	UNUSED(state);
	assert_true(budget_concurrency_check(&c, 0).allowed);
	g = budget_concurrency_check(&c, 1);
	assert_false(g.allowed);
	assert_string_equal(g.reason, "global_concurrency_exceeded");
	assert_int_equal(g.limit, 1);
	c.max_concurrent = 0; /* no limit */
	assert_true(budget_concurrency_check(&c, 99).allowed);

	assert_true(
	    budget_memory_check(&c, 10).allowed); /* floor 0: no check */
	c.min_memory_mb = 2048;
	g               = budget_memory_check(&c, 1024);
	assert_false(g.allowed);
	assert_string_equal(g.reason, "global_memory_insufficient");
	assert_int_equal(g.current, 1024);
	assert_int_equal(g.limit, 2048);
	assert_true(budget_memory_check(&c, 4096).allowed);
	assert_true(budget_memory_check(&c, -1).allowed); /* unknown */
}

static void
test_breaker(void **state)
{
	struct budget_cfg c = bcfg();
	struct outcome    o[12];
	struct breaker    b;
	size_t            i;

	UNUSED(state);
	/* 4 failures out of 5, given oldest last */
	for (i = 0; i < 5; i++)
		o[i] = (struct outcome) { .at_ms = T0 - (int64_t) i * MIN_MS,
			.success                 = i == 2 };
	b = budget_breaker_eval(&c, o, 5, T0);
	assert_true(b.open);
	assert_int_equal(b.samples, 5);
	assert_int_equal(b.failures, 4);
	assert_true(b.failure_rate > 0.79 && b.failure_rate < 0.81);

	/* two newer successes push two failures out of the window */
	o[5] = (struct outcome) { .at_ms = T0 + MIN_MS, .success = true };
	o[6] = (struct outcome) { .at_ms = T0 + 2 * MIN_MS, .success = true };
	b    = budget_breaker_eval(&c, o, 7, T0 + 3 * MIN_MS);
	assert_false(b.open);
	assert_int_equal(b.samples, 5);
	assert_int_equal(b.failures, 2);

	/* quota events are not counted */
	for (i = 0; i < 5; i++)
		o[i] = (struct outcome) { .at_ms = T0 - (int64_t) i * MIN_MS,
			.success                 = false,
			.quota                   = i < 3 };
	b = budget_breaker_eval(&c, o, 5, T0);
	assert_false(b.open);
	assert_int_equal(b.samples, 2); /* below min_samples */
	assert_int_equal(b.failures, 2);

	/* min samples: 3 failures of 3 opens, 2 of 2 does not */
	for (i = 0; i < 3; i++)
		o[i] = (struct outcome) { .at_ms = T0 - (int64_t) i * MIN_MS };
	assert_false(budget_breaker_eval(&c, o, 2, T0).open);
	assert_true(budget_breaker_eval(&c, o, 3, T0).open);

	/* staleness: failures older than 4h are forgotten */
	for (i = 0; i < 5; i++)
		o[i] = (struct outcome) { .at_ms = T0 - 5 * HOUR_MS -
			    (int64_t) i * MIN_MS };
	b = budget_breaker_eval(&c, o, 5, T0);
	assert_false(b.open);
	assert_int_equal(b.samples, 0);
	assert_true(budget_breaker_eval(&c, o, 5, T0 - 2 * HOUR_MS).open);

	/* threshold boundary: 3/5 = 0.6 < 0.8 closed; at 0.6 open */
	for (i = 0; i < 5; i++)
		o[i] = (struct outcome) { .at_ms = T0 - (int64_t) i * MIN_MS,
			.success                 = i >= 3 };
	assert_false(budget_breaker_eval(&c, o, 5, T0).open);
	c.breaker_threshold = 0.6;
	assert_true(budget_breaker_eval(&c, o, 5, T0).open);
	assert_false(budget_breaker_eval(&c, NULL, 0, T0).open);
}

/* The breaker's states: open -> half_open after the cool-off (10 min by
 * default) -> one probe; its success closes (and the failures before it
 * stop counting), its failure opens for another cool-off; a probe lost
 * or out of quota frees the slot; a reset closes at once. */
static void
test_breaker_half_open(void **state)
{
	struct budget_cfg    c = bcfg();
	struct breaker_state s, t;
	struct breaker       bad = {
		      .open = true, .failure_rate = 1, .samples = 5, .failures = 5
	};
	struct breaker good = { .open = false };

	UNUSED(state);
	assert_int_equal(c.breaker_cooloff_ms, 10 * MIN_MS);
	memset(&s, 0, sizeof(s));
	assert_true(breaker_allows(&s));
	/* closed: a good window changes nothing, a bad one opens */
	t = breaker_outcome(s, &good, T0);
	assert_int_equal(t.phase, BREAKER_CLOSED);
	assert_null(t.why);
	s = breaker_outcome(s, &bad, T0);
	assert_int_equal(s.phase, BREAKER_OPEN);
	assert_string_equal(s.why, "threshold");
	assert_int_equal(s.since_ms, T0);
	assert_false(breaker_allows(&s));
	/* open: nothing before the cool-off, half_open at it */
	t = breaker_tick(s, c.breaker_cooloff_ms, T0 + 10 * MIN_MS - 1);
	assert_int_equal(t.phase, BREAKER_OPEN);
	assert_null(t.why);
	assert_false(breaker_allows(&t));
	s = breaker_tick(s, c.breaker_cooloff_ms, T0 + 10 * MIN_MS);
	assert_int_equal(s.phase, BREAKER_HALF_OPEN);
	assert_string_equal(s.why, "cooloff");
	assert_string_equal(breaker_phase_name(s.phase), "half_open");
	/* one probe, and only one */
	assert_true(breaker_allows(&s));
	s = breaker_probe_sent(s);
	assert_true(s.probing);
	assert_false(breaker_allows(&s));
	/* a bad window while the probe is out decides nothing */
	t = breaker_outcome(s, &bad, T0 + 11 * MIN_MS);
	assert_int_equal(t.phase, BREAKER_HALF_OPEN);
	assert_null(t.why);
	/* lost (interrupted, taken back, quota): the slot is free again */
	t = breaker_probe_done(s, BREAKER_LOST, T0 + 11 * MIN_MS);
	assert_int_equal(t.phase, BREAKER_HALF_OPEN);
	assert_false(t.probing);
	assert_null(t.why);
	assert_true(breaker_allows(&t));
	/* failed: open again, for another full cool-off */
	t = breaker_probe_done(s, BREAKER_FAILED, T0 + 12 * MIN_MS);
	assert_int_equal(t.phase, BREAKER_OPEN);
	assert_string_equal(t.why, "probe_failed");
	assert_false(t.probing);
	assert_int_equal(
	    breaker_tick(t, c.breaker_cooloff_ms, T0 + 21 * MIN_MS).phase,
	    BREAKER_OPEN);
	assert_int_equal(
	    breaker_tick(t, c.breaker_cooloff_ms, T0 + 22 * MIN_MS).phase,
	    BREAKER_HALF_OPEN);
	/* succeeded: closed, and what came before no longer counts */
	t = breaker_probe_done(s, BREAKER_SUCCEEDED, T0 + 12 * MIN_MS);
	assert_int_equal(t.phase, BREAKER_CLOSED);
	assert_string_equal(t.why, "probe_succeeded");
	assert_int_equal(t.reset_ms, T0 + 12 * MIN_MS);
	assert_true(breaker_allows(&t));
	/* a verdict for a breaker that is not half_open changes nothing */
	t = breaker_probe_done(t, BREAKER_FAILED, T0 + 13 * MIN_MS);
	assert_int_equal(t.phase, BREAKER_CLOSED);
	assert_null(t.why);
	/* open: a window that recovered (a run sent before) closes it */
	t = breaker_outcome(breaker_outcome(t, &bad, T0), &good, T0 + MIN_MS);
	assert_int_equal(t.phase, BREAKER_CLOSED);
	assert_string_equal(t.why, "recovered");
	/* reset: closed from any state, reset_ms now */
	t = breaker_reset(s, T0 + 30 * MIN_MS);
	assert_int_equal(t.phase, BREAKER_CLOSED);
	assert_string_equal(t.why, "reset");
	assert_int_equal(t.reset_ms, T0 + 30 * MIN_MS);
	/* names round-trip */
	assert_int_equal(breaker_phase_parse("open", &t.phase), 0);
	assert_int_equal(t.phase, BREAKER_OPEN);
	assert_int_equal(breaker_phase_parse("ajar", &t.phase), -1);
}

static void
test_budget_cfg_load(void **state)
{
	struct budget_cfg c;
	struct cfg       *y;
	char              err[256];

	UNUSED(state);
	c = bcfg();
	assert_int_equal(c.max_per_hour, 10);
	assert_int_equal(c.max_per_day, 50);
	assert_int_equal(c.max_retries, 3);
	assert_int_equal(c.retry_reset_ms, HOUR_MS);
	assert_int_equal(c.max_concurrent, 1);
	assert_int_equal(c.min_memory_mb, 0);
	assert_true(c.breaker_threshold == 0.8);
	assert_int_equal(c.breaker_window, 5);
	assert_int_equal(c.breaker_min_samples, 3);
	assert_int_equal(c.breaker_staleness_ms, 4 * HOUR_MS);

	y = parse(
	    "router:\n"
	    "  budget: {max_per_hour: 4, max_per_day: 20, max_retries: 0,"
	    " retry_reset: 30m, max_concurrent: 2, min_memory_mb: 512}\n"
	    "  breaker: {threshold: 0.5, window: 2, min_samples: 4,"
	    " staleness: 2h, cooloff: 90s}\n");
	assert_int_equal(budget_cfg_load(&c, cfg_get(cfg_root(y), "router"),
	                     err, sizeof(err)),
	    0);
	assert_int_equal(c.max_per_hour, 4);
	assert_int_equal(c.max_per_day, 20);
	assert_int_equal(c.max_retries, 1); /* min 1 */
	assert_int_equal(c.retry_reset_ms, 30 * MIN_MS);
	assert_int_equal(c.max_concurrent, 2);
	assert_int_equal(c.min_memory_mb, 512);
	assert_true(c.breaker_threshold == 0.5);
	assert_int_equal(c.breaker_window, 3); /* min 3 */
	assert_int_equal(c.breaker_min_samples, 4);
	assert_int_equal(c.breaker_staleness_ms, 2 * HOUR_MS);
	assert_int_equal(c.breaker_cooloff_ms, 90 * 1000);

	/* environment overrides the file */
	setenv("OPERATIONS_CENTER_MAX_EXEC_PER_HOUR", "7", 1);
	setenv("OPERATIONS_CENTER_MAX_EXEC_PER_DAY", "70", 1);
	setenv("OPERATIONS_CENTER_MAX_RETRIES_PER_TASK", "5", 1);
	setenv("OPERATIONS_CENTER_CIRCUIT_BREAKER_THRESHOLD", "0.9", 1);
	setenv("OPERATIONS_CENTER_CIRCUIT_BREAKER_WINDOW", "8", 1);
	assert_int_equal(budget_cfg_load(&c, cfg_get(cfg_root(y), "router"),
	                     err, sizeof(err)),
	    0);
	assert_int_equal(c.max_per_hour, 7);
	assert_int_equal(c.max_per_day, 70);
	assert_int_equal(c.max_retries, 5);
	assert_true(c.breaker_threshold == 0.9);
	assert_int_equal(c.breaker_window, 8);

	setenv("OPERATIONS_CENTER_MAX_EXEC_PER_HOUR", "lots", 1);
	assert_int_equal(
	    budget_cfg_load(&c, NULL, err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "OPERATIONS_CENTER_MAX_EXEC_PER_HOUR"));
	assert_non_null(strstr(err, "lots"));
	unsetenv("OPERATIONS_CENTER_MAX_EXEC_PER_HOUR");
	setenv("OPERATIONS_CENTER_CIRCUIT_BREAKER_THRESHOLD", "1.5", 1);
	assert_int_equal(
	    budget_cfg_load(&c, NULL, err, sizeof(err)), ERR_CONFIG);
	unsetenv("OPERATIONS_CENTER_MAX_EXEC_PER_DAY");
	unsetenv("OPERATIONS_CENTER_MAX_RETRIES_PER_TASK");
	unsetenv("OPERATIONS_CENTER_CIRCUIT_BREAKER_THRESHOLD");
	unsetenv("OPERATIONS_CENTER_CIRCUIT_BREAKER_WINDOW");
	cfg_close(&y);

	y = parse("router: {budget: {max_per_hour: many}}\n");
	assert_int_equal(budget_cfg_load(&c, cfg_get(cfg_root(y), "router"),
	                     err, sizeof(err)),
	    ERR_CONFIG);
	assert_non_null(strstr(err, "test.yaml:1:"));
	cfg_close(&y);
}

/* ---- execution request ---- */

static void
test_request(void **state)
{
	struct fx        *fx = *state;
	struct route_task t  = task("goal", "repo_a", NULL, 0);
	json_t           *ex, *p, *d, *pol, *r, *cmds, *argv;
	char              want[128];

	ex = json_pack("{s:[s], s:s}", "allowed_paths", "src/", "constraints",
	    "- be nice");
	set_ex(&t, ex);
	p   = proposal_ok(fx, &t);
	d   = jdecide(p, rcfg(fx), T0);
	pol = jpolicy(p, d, rcfg(fx), T0);
	r   = jrequest(p, d, pol, &t, root(fx), 2, T0 + 1000);
	assert_non_null(r);
	snprintf(want, sizeof(want), "goal/T-7-%.8s", js(d, "run_id"));
	assert_string_equal(js(r, "task_branch"), want);
	assert_string_equal(js(r, "run_id"), js(d, "run_id"));
	assert_string_equal(js(r, "decision_id"), js(d, "decision_id"));
	assert_string_equal(js(r, "proposal_id"), js(p, "proposal_id"));
	assert_string_equal(js(r, "task_id"), "T-7");
	assert_string_equal(js(r, "goal_text"), t.goal);
	assert_string_equal(js(r, "constraints_text"), "- be nice");
	assert_string_equal(js(r, "repo_key"), "repo_a");
	assert_string_equal(js(r, "clone_url"), "https://example.com/a.git");
	assert_string_equal(js(r, "base_branch"), "develop");
	assert_string_equal(js(r, "lane"), "aider_local");
	assert_string_equal(js(r, "backend"), "stub");
	assert_string_equal(js(r, "requested_at"), "2025-11-25T15:04:06.123Z");
	assert_int_equal(json_integer_value(jget(r, "attempt")), 2);
	assert_int_equal(json_integer_value(jget(r, "timeout_seconds")), 300);
	assert_int_equal(
	    json_integer_value(jget(r, "validation_timeout_seconds")), 120);
	/* no max_changed_files in the Execution block: none, no limit */
	assert_null(jget(r, "max_changed_files"));
	assert_true(json_is_true(jget(r, "require_clean_validation")));
	assert_true(json_is_true(jget(r, "await_review")));
	assert_true(json_is_false(jget(r, "open_pr")));
	assert_true(json_is_true(jget(r, "push_on_success")));
	assert_true(json_is_array(jget(r, "labels")));

	cmds = jget(r, "validation_commands");
	assert_int_equal(json_array_size(cmds), 2);
	argv = json_array_get(cmds, 0);
	assert_int_equal(json_array_size(argv), 2);
	assert_string_equal(
	    json_string_value(json_array_get(argv, 0)), "make");
	assert_string_equal(
	    json_string_value(json_array_get(argv, 1)), "test");
	argv = json_array_get(cmds, 1);
	assert_int_equal(json_array_size(argv), 3);
	assert_string_equal(json_string_value(json_array_get(argv, 2)), ".");

	assert_int_equal(json_array_size(jget(r, "allowed_paths")), 1);
	assert_string_equal(json_string_value(json_array_get(jget(r,
	                                                         "allowed_"
	                                                         "paths"),
	                        0)),
	    "src/");
	json_decref(r);

	/* a non-empty effective scope replaces allowed_paths */
	json_object_set_new(
	    pol, "effective_scope", json_pack("[s]", "src/cli/"));
	r = jrequest(p, d, pol, &t, root(fx), 1, T0);
	assert_string_equal(json_string_value(json_array_get(jget(r,
	                                                         "allowed_"
	                                                         "paths"),
	                        0)),
	    "src/cli/");
	json_decref(r);

	/* kind from the task; without one, from the proposal */
	t.kind = "improve";
	r      = jrequest(p, d, pol, &t, root(fx), 1, T0);
	assert_non_null(strstr(js(r, "task_branch"), "improve/T-7-"));
	json_decref(r);
	r = jrequest(p, d, pol, NULL, root(fx), 1, T0);
	assert_non_null(strstr(js(r, "task_branch"), "goal/T-7-"));
	json_decref(r);

	/* missing run_id */
	json_object_del(d, "run_id");
	assert_null(jrequest(p, d, pol, &t, root(fx), 1, T0));

	json_decref(pol);
	json_decref(d);
	json_decref(p);

	/* max_changed_files of the Execution block; below 1 is no plan */
	json_object_set_new(ex, "max_changed_files", json_string("3"));
	set_ex(&t, ex);
	p = proposal_ok(fx, &t);
	assert_int_equal(
	    json_integer_value(jget(p, "constraints.max_changed_files")), 3);
	json_decref(p);
	/* as the board's parser hands it over: text */
	json_object_set_new(ex, "max_changed_files", json_string("4"));
	set_ex(&t, ex);
	p = proposal_ok(fx, &t);
	assert_int_equal(
	    json_integer_value(jget(p, "constraints.max_changed_files")), 4);
	json_decref(p);
	json_object_set_new(ex, "max_changed_files", json_string("0"));
	set_ex(&t, ex);
	assert_null(jproposal(&t, root(fx), T0, fx->err, sizeof(fx->err)));
	assert_non_null(strstr(fx->err, "max_changed_files"));
	json_object_set_new(ex, "max_changed_files", json_string("many"));
	set_ex(&t, ex);
	assert_null(jproposal(&t, root(fx), T0, fx->err, sizeof(fx->err)));
	json_object_set_new(ex, "max_changed_files", json_string("5 files"));
	set_ex(&t, ex);
	assert_null(jproposal(&t, root(fx), T0, fx->err, sizeof(fx->err)));
	json_decref(ex);
}

/* ---- config check ---- */

static void
test_cfg_check(void **state)
{
	static const struct {
		const char *yaml, *want;
	} bad[] = {
		{ "router: {rules: [{name: x, backend: y}]}\n",
		    "test.yaml:1:18: router.rules: rule without a lane" },
		{ "router: {rules: [{lane: a, when: {colour: red}}]}\n",
		    "unknown condition" },
		{ "router: {rules: {lane: a}}\n", "expected a list" },
		{ "router: {kind_map: {goal: epic}}\nrepos: {r: {clone_url: "
		  "x}}\n",
		    "unknown task type 'epic'" },
		{ "repos: {r: {default_branch: main}}\n",
		    "repo 'r': missing clone_url" },
		{ "repos: {r: {clone_url: x, validation_commands: make}}\n",
		    "validation_commands" },
		{ "router: {policy: {trusted_labels: yes}}\n",
		    "trusted_labels" },
		{ "router: {breaker: {threshold: 2}}\n", "threshold" },
		{ "repos: {r: {clone_url: x, max_usd_per_day: -1}}\n",
		    "test.yaml:1:44: repos.r.max_usd_per_day: expected an "
		    "amount" },
		{ "router: {budget: {max_usd_per_day: -5}}\n",
		    "max_usd_per_day" },
		{ "cost_per_execution_usd: free\n", "cost_per_execution_usd" },
	};
	struct fx  *fx = *state;
	struct cfg *c;
	size_t      i;

	assert_int_equal(
	    route_cfg_check(root(fx), fx->err, sizeof(fx->err)), 0);
	for (i = 0; i < nitems(bad); i++) {
		c          = parse(bad[i].yaml);
		fx->err[0] = '\0';
		assert_int_equal(
		    route_cfg_check(cfg_root(c), fx->err, sizeof(fx->err)),
		    ERR_CONFIG);
		if (strstr(fx->err, bad[i].want) == NULL)
			fail_msg("case %zu: got '%s'", i, fx->err);
		cfg_close(&c);
	}
}

/* ---- spend caps (issue 13) ---- */

static void
test_spend_cfg(void **state)
{
	struct budget_cfg      c = bcfg();
	struct cfg            *y;
	const struct cfg_node *ex[3];
	double                 usd;
	char                   err[256];

	UNUSED(state);
	assert_true(c.max_usd_per_day < 0); /* no cap by default */
	assert_true(c.reserve_usd == 1.0);

	y = parse("cost_per_execution_usd: 0.05\n"
	          "repos:\n"
	          "  capped: {clone_url: x, max_usd_per_day: 2.5}\n"
	          "  free: {clone_url: y}\n"
	          "  nulled: {clone_url: y, max_usd_per_day: ~}\n"
	          "instances:\n"
	          "  router:\n"
	          "    budget: {max_usd_per_day: 10, reserve_usd: 0.5}\n"
	          "  executor@a:\n"
	          "    backends:\n"
	          "      claude: {kind: claude_cli, max_budget_usd: 2}\n"
	          "      codex.v2: {kind: codex_cli, max_budget_usd: 0.25}\n"
	          "      stub: {kind: stub}\n"
	          "  executor@b:\n"
	          "    backends:\n"
	          "      claude: {kind: claude_cli, max_budget_usd: 3}\n");
	assert_int_equal(
	    budget_cfg_load(&c, cfg_get(cfg_root(y), "instances.router"), err,
	        sizeof(err)),
	    0);
	assert_true(c.max_usd_per_day == 10);
	assert_true(c.reserve_usd == 0.5);
	assert_int_equal(
	    spend_repo_cap(cfg_root(y), "capped", &usd, err, sizeof(err)), 0);
	assert_true(usd == 2.5);
	assert_int_equal(
	    spend_repo_cap(cfg_root(y), "free", &usd, err, sizeof(err)), 0);
	assert_true(usd < 0);
	assert_int_equal(
	    spend_repo_cap(cfg_root(y), "nulled", &usd, err, sizeof(err)), 0);
	assert_true(usd < 0);
	assert_int_equal(
	    spend_repo_cap(cfg_root(y), "unknown", &usd, err, sizeof(err)), 0);
	assert_true(usd < 0);
	assert_int_equal(
	    spend_fallback_usd(cfg_root(y), NULL, &usd, err, sizeof(err)), 0);
	assert_true(usd == 0.05);

	/* the estimate: the largest max_budget_usd of the backend on any
	 * executor, else the reserve */
	ex[0] = cfg_get(cfg_root(y), "instances.executor@a");
	ex[1] = cfg_get(cfg_root(y), "instances.executor@b");
	ex[2] = NULL; /* an executor without a section */
	assert_int_equal(
	    spend_estimate(ex, 3, "claude", 0.5, &usd, err, sizeof(err)), 0);
	assert_true(usd == 3);
	assert_int_equal(
	    spend_estimate(ex, 3, "codex.v2", 0.5, &usd, err, sizeof(err)), 0);
	assert_true(usd == 0.25);
	assert_int_equal(
	    spend_estimate(ex, 3, "stub", 0.5, &usd, err, sizeof(err)), 0);
	assert_true(usd == 0.5);
	assert_int_equal(
	    spend_estimate(ex, 3, NULL, 0.5, &usd, err, sizeof(err)), 0);
	assert_true(usd == 0.5);
	assert_int_equal(route_cfg_check(cfg_root(y), err, sizeof(err)), 0);
	cfg_close(&y);

	/* environment overrides the file */
	setenv("OPERATIONS_CENTER_MAX_USD_PER_DAY", "4.25", 1);
	setenv("OPERATIONS_CENTER_SPEND_RESERVE_USD", "0", 1);
	assert_int_equal(budget_cfg_load(&c, NULL, err, sizeof(err)), 0);
	assert_true(c.max_usd_per_day == 4.25);
	assert_true(c.reserve_usd == 0);
	setenv("OPERATIONS_CENTER_MAX_USD_PER_DAY", "-1", 1);
	assert_int_equal(
	    budget_cfg_load(&c, NULL, err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "max_usd_per_day"));
	unsetenv("OPERATIONS_CENTER_MAX_USD_PER_DAY");
	unsetenv("OPERATIONS_CENTER_SPEND_RESERVE_USD");

	y = parse("router: {budget: {max_usd_per_day: lots}}\n");
	assert_int_equal(budget_cfg_load(&c, cfg_get(cfg_root(y), "router"),
	                     err, sizeof(err)),
	    ERR_CONFIG);
	cfg_close(&y);
	y     = parse("instances:\n"
	                  "  ex: {backends: {b: {max_budget_usd: -2}}}\n");
	ex[0] = cfg_get(cfg_root(y), "instances.ex");
	assert_int_equal(
	    spend_estimate(ex, 1, "b", 1.0, &usd, err, sizeof(err)),
	    ERR_CONFIG);
	assert_non_null(strstr(err, "backends.b.max_budget_usd"));
	cfg_close(&y);
}

static void
test_spend_ledger(void **state)
{
	const struct spend_entry e[] = {
		/* booked 2 h ago and 23 h ago: both in the day */
		{ "a", T0 - 2 * HOUR_MS, 1.0, 0.75, false },
		{ "b", T0 - 23 * HOUR_MS, 1.0, 0.5, false },
		/* booked 25 h ago: aged out */
		{ "a", T0 - 25 * HOUR_MS, 1.0, 9.0, false },
		/* open: the reservation counts, however old the dispatch */
		{ "a", T0 - 30 * HOUR_MS, 0.4, -1, true },
		{ "b", T0 - MIN_MS, 0.4, -1, true },
		/* released (interrupted, requeued): nothing */
		{ "a", T0 - MIN_MS, 0.4, 0, false },
		/* a superseded run that reported late: booked */
		{ NULL, T0 - MIN_MS, 0.4, 0.1, false },
	};
	struct spend_totals g, r;

	UNUSED(state);
	spend_sum(e, nitems(e), "a", T0, &g, &r);
	assert_true(fabs(g.spent_usd - 1.35) < 1e-9);
	assert_true(fabs(g.reserved_usd - 0.8) < 1e-9);
	assert_true(fabs(r.spent_usd - 0.75) < 1e-9);
	assert_true(fabs(r.reserved_usd - 0.4) < 1e-9);
	spend_sum(e, nitems(e), NULL, T0, &g, &r);
	assert_true(r.spent_usd == 0 && r.reserved_usd == 0);
	/* a day later only the open runs hold anything */
	spend_sum(e, nitems(e), "b", T0 + 24 * HOUR_MS, &g, &r);
	assert_true(g.spent_usd == 0);
	assert_true(fabs(g.reserved_usd - 0.8) < 1e-9);
	assert_true(fabs(r.reserved_usd - 0.4) < 1e-9);
	spend_sum(NULL, 0, "a", T0, &g, &r);
	assert_true(g.spent_usd == 0 && g.reserved_usd == 0);
}

static void
test_spend_check(void **state)
{
	struct budget_cfg   c = bcfg();
	struct spend_totals g = { 0, 0 }, r = { 0, 0 };
	struct spend_gate   s;

	UNUSED(state);
	/* no caps: anything goes */
	s = spend_check(&c, -1, &(struct spend_totals) { 1e6, 1e6 }, &r, 1e6);
	assert_true(s.g.allowed);

	/* SWE-agent's overrun: a cap of 1.00, runs reserving 0.40 each */
	c.max_usd_per_day = 1.0;
	s                 = spend_check(&c, -1, &g, &r, 0.4); /* run A */
	assert_true(s.g.allowed);
	g.reserved_usd = 0.4;
	s = spend_check(&c, -1, &g, &r, 0.4); /* run B, A still open */
	assert_true(s.g.allowed);
	g.reserved_usd = 0.8;
	s = spend_check(&c, -1, &g, &r, 0.4); /* run C would make 1.20 */
	assert_false(s.g.allowed);
	assert_string_equal(s.g.reason, "spend_cap");
	assert_string_equal(s.g.window, "day");
	assert_string_equal(s.scope, "global");
	assert_int_equal(s.g.current, 80);
	assert_int_equal(s.g.limit, 100);
	assert_true(fabs(s.current_usd - 0.8) < 1e-9);
	assert_true(s.limit_usd == 1.0);
	assert_true(s.estimate_usd == 0.4);
	/* A finishes and reports 0.05: its reservation becomes its cost */
	g.spent_usd    = 0.05;
	g.reserved_usd = 0.4;
	assert_true(spend_check(&c, -1, &g, &r, 0.4).g.allowed);
	/* B reports late, and more than it reserved: nothing more fits */
	g.spent_usd    = 0.05 + 0.9;
	g.reserved_usd = 0.4;
	s              = spend_check(&c, -1, &g, &r, 0.4);
	assert_false(s.g.allowed);
	assert_int_equal(s.g.current, 135);

	/* exactly at the cap is allowed (0.1 + 0.2 + 0.7 is not > 1.0) */
	g.spent_usd    = 0.1;
	g.reserved_usd = 0.2;
	assert_true(spend_check(&c, -1, &g, &r, 0.7).g.allowed);
	assert_false(spend_check(&c, -1, &g, &r, 0.71).g.allowed);

	/* the repo's cap, after the global one */
	g = (struct spend_totals) { 0.5, 0 };
	r = (struct spend_totals) { 0.5, 0 };
	s = spend_check(&c, 0.75, &g, &r, 0.3);
	assert_false(s.g.allowed);
	assert_string_equal(s.scope, "repo");
	assert_int_equal(s.g.current, 50);
	assert_int_equal(s.g.limit, 75);
	assert_true(spend_check(&c, 0.8, &g, &r, 0.3).g.allowed);
	/* a cap of 0 stops every run that may cost something */
	assert_false(spend_check(&c, 0, &g, &r, 0.01).g.allowed);
	assert_true(spend_check(&c, 0, &g, &(struct spend_totals) { 0, 0 }, 0)
	                .g.allowed);
}

static void
test_spend_run_cost(void **state)
{
	struct msg_exec_agent a;
	const char           *src;

	UNUSED(state);
	memset(&a, 0, sizeof(a));
	a.cli          = "claude_cli";
	a.has_cost_usd = true;
	a.cost_usd     = 0.4321;
	a.cost_source  = "reported";
	assert_true(spend_run_cost(&a, "succeeded", 0.1, &src) == 0.4321);
	assert_string_equal(src, "reported");
	/* an interrupted run that reported keeps its cost */
	assert_true(spend_run_cost(&a, "interrupted", 0.1, &src) == 0.4321);
	assert_string_equal(src, "reported");

	a.cost_usd    = 2;
	a.cost_source = "computed";
	assert_true(spend_run_cost(&a, "failed", 0.1, &src) == 2.0);
	assert_string_equal(src, "computed");

	/* no cost: the fallback, or nothing for an interrupted run */
	a.cli          = "aider";
	a.has_cost_usd = false;
	a.cost_source  = NULL;
	assert_true(spend_run_cost(&a, "failed", 0.1, &src) == 0.1);
	assert_string_equal(src, "estimated");
	assert_true(spend_run_cost(&a, "interrupted", 0.1, &src) == 0);
	assert_string_equal(src, "released");
	/* no agent (the stub, a plain command) */
	assert_true(spend_run_cost(NULL, "succeeded", 0.25, &src) == 0.25);
	assert_string_equal(src, "estimated");
	assert_true(spend_run_cost(NULL, NULL, 0.25, &src) == 0.25);
	/* nonsense is not a cost */
	a.has_cost_usd = true;
	a.cost_usd     = -3.0;
	assert_true(spend_run_cost(&a, "failed", 0.1, &src) == 0.1);
	a.cost_usd = NAN;
	assert_true(spend_run_cost(&a, "failed", 0.1, &src) == 0.1);
}

static void
test_outcome_quota(void **state)
{
	UNUSED(state);
	assert_true(outcome_quota("quota_exhausted", NULL, true));
	assert_true(outcome_quota("quota_exhausted", "no text", false));
	/* the agent contract: the category decides, not the text (a typed
	 * result, with an agent report or none: the stub, a command) */
	assert_false(
	    outcome_quota("model_error", "429: rate limit exceeded", true));
	assert_false(outcome_quota("unknown", "quota exceeded", true));
	/* an older result, or none: the failure reason, any case */
	assert_true(
	    outcome_quota("backend_error", "Rate Limit exceeded", false));
	assert_true(outcome_quota(NULL, "You've hit your limit", false));
	assert_true(outcome_quota(NULL, "QUOTA exceeded", false));
	assert_false(
	    outcome_quota("model_error", "internal server error", false));
	assert_false(outcome_quota(NULL, NULL, false));
}

static void
test_takeback(void **state)
{
	struct held_run   r = { "run-1", "executor@a", true, T0, 4000 };
	struct heard_exec e = { "executor@a", 50000, "ep", 49000 };

	(void) state;
	/* heard at mono 50000: kept through 54000, taken at 54001 */
	assert_null(takeback_reason(&r, &e, 1000, 54000, T0 + 10));
	assert_string_equal(
	    takeback_reason(&r, &e, 1000, 54001, T0 + 10), "lease_expired");
	/* a restarted router (started at mono 60000) that has not heard
	 * the executor waits a lease from its own start */
	e.heard = 0;
	assert_null(takeback_reason(&r, &e, 60000, 64000, T0 + 10));
	assert_string_equal(
	    takeback_reason(&r, &e, 60000, 64001, T0 + 10), "lease_expired");
	/* an executor that is not an upstream: counted from the start */
	assert_string_equal(
	    takeback_reason(&r, NULL, 60000, 64001, T0), "lease_expired");
	/* heard all along: a started run is kept however long it runs */
	e.heard = 99000;
	assert_null(takeback_reason(&r, &e, 1000, 99500, T0 + 100 * HOUR_MS));
	/* a dispatch not started after 10 leases goes elsewhere */
	r.started = false;
	assert_null(takeback_reason(
	    &r, &e, 1000, 99500, T0 + TAKEBACK_DISPATCH_LEASES * 4000));
	assert_string_equal(takeback_reason(&r, &e, 1000, 99500,
	                        T0 + TAKEBACK_DISPATCH_LEASES * 4000 + 1),
	    "not_started");
	/* no lease recorded: the default */
	r.started  = true;
	r.lease_ms = 0;
	assert_null(
	    takeback_reason(&r, &e, 1000, 99000 + LEASE_DEFAULT_MS, T0));
}

/* Grants: each executor heard gets the runs held for it and its own
 * stamp; a run taken back is no longer held, so no longer named; an
 * executor not heard since a restart gets nothing. */
static void
test_grants(void **state)
{
	const struct heard_exec ex[] = {
		{ "executor@a", 5000, "life-a", 4990 },
		{ "executor@b", 5000, "life-b", 4800 },
		{ "executor@c", 0, NULL, 0 },    /* not heard since start */
		{ "executor@d", 5000, NULL, 0 }, /* heard, no stamp (old) */
	};
	const struct held_run held[] = {
		{ "r1", "executor@a", true, T0, 4000 },
		{ "r2", "executor@b", false, T0, 4000 },
		{ "r3", "executor@a", false, T0, 4000 },
		{ "r4", "executor@c", true, T0, 4000 },
	};
	struct msg_lease_grant_list g = { 0, NULL };

	(void) state;
	route_grants(&g, ex, 4, held, 4);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.v[0].executor, "executor@a");
	assert_string_equal(g.v[0].epoch, "life-a");
	assert_int_equal(g.v[0].stamp, 4990);
	assert_int_equal(g.v[0].runs.n, 2);
	assert_string_equal(g.v[0].runs.v[0], "r1");
	assert_string_equal(g.v[0].runs.v[1], "r3");
	assert_string_equal(g.v[1].executor, "executor@b");
	assert_int_equal(g.v[1].runs.n, 1);
	msg_lease_grant_list_fini(&g);
	/* r3 taken back: no longer held, no longer granted; executor@b holds
	 * nothing now, and is told so (an empty grant revokes) */
	route_grants(&g, ex, 4, held, 1);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.v[0].runs.n, 1);
	assert_string_equal(g.v[1].executor, "executor@b");
	assert_int_equal(g.v[1].runs.n, 0);
	msg_lease_grant_list_fini(&g);
}

/* A superseded run's result: never a success, its own outcome kept. */
static void
test_outcome_supersede(void **state)
{
	json_t *r = json_pack("{s:s, s:b, s:s}", "status", "succeeded",
	    "success", 1, "branch_name", "goal/t-1");
	json_t *copy;

	(void) state;
	outcome_supersede(r, "run-2");
	assert_string_equal(
	    json_string_value(json_object_get(r, "status")), "superseded");
	assert_true(json_is_false(json_object_get(r, "success")));
	assert_string_equal(
	    json_string_value(json_object_get(r, "failure_category")),
	    "superseded");
	assert_string_equal(
	    json_string_value(json_object_get(r, "superseded_status")),
	    "succeeded");
	assert_true(json_is_true(json_object_get(r, "superseded_success")));
	assert_string_equal(
	    json_string_value(json_object_get(r, "superseded_by")), "run-2");
	assert_non_null(strstr(
	    json_string_value(json_object_get(r, "failure_reason")), "run-2"));
	assert_string_equal(
	    json_string_value(json_object_get(r, "branch_name")), "goal/t-1");
	/* again: nothing changes (its own outcome is not lost) */
	copy = json_deep_copy(r);
	outcome_supersede(r, "run-3");
	assert_true(json_equal(r, copy));
	json_decref(copy);
	json_decref(r);
	/* no object, no status, no successor: no crash */
	outcome_supersede(NULL, NULL);
	r = json_object();
	outcome_supersede(r, NULL);
	assert_true(json_is_null(json_object_get(r, "superseded_status")));
	assert_true(json_is_null(json_object_get(r, "superseded_by")));
	assert_true(json_is_false(json_object_get(r, "success")));
	json_decref(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_proposal_goal_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_proposal_kinds, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_proposal_kind_map, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_proposal_risk_label, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_proposal_execution_block, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_proposal_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_decide_default, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_decide_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_decide_backend_label, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_policy_plain_goal_allowed, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_policy_warnings, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_policy_review, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_policy_block, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_policy_paths_and_branch, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_policy_config_override, setup, teardown),
		cmocka_unit_test(test_budget_case3),
		cmocka_unit_test(test_retry_case4),
		cmocka_unit_test(test_concurrency_memory),
		cmocka_unit_test(test_breaker),
		cmocka_unit_test(test_breaker_half_open),
		cmocka_unit_test(test_budget_cfg_load),
		cmocka_unit_test(test_spend_cfg),
		cmocka_unit_test(test_spend_ledger),
		cmocka_unit_test(test_spend_check),
		cmocka_unit_test(test_spend_run_cost),
		cmocka_unit_test(test_outcome_quota),
		cmocka_unit_test(test_takeback),
		cmocka_unit_test(test_grants),
		cmocka_unit_test(test_outcome_supersede),
		cmocka_unit_test_setup_teardown(test_request, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_cfg_check, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
