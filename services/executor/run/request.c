/*
 * request.c - REQ.json (OcExecutionRequest plus the executor's
 * backend_spec, git, limits and validation_history) -> struct exec_req.
 *
 * Everything the run needs is checked here, so later steps can trust the
 * struct: required strings are non-empty, branch names cannot be taken
 * for git options, every validation command is a non-empty argv.
 */
#include <string.h>

#include "branch_guard.h"
#include "opc/err.h"
#include "run.h"
#include "sandbox.h"
#include "spec.h"

#define DEFAULT_TIMEOUT 300
#define DEFAULT_MAX_OUTPUT ((size_t) 10 * 1024 * 1024)

static int
bad(char **errp, char *msg)
{
	free(*errp);
	*errp = msg;
	return (ERR_INVAL);
}

/* str copies the string member key of o into *out; a missing or null
 * member is an error only when required. */
static int
str(char **out, const json_t *o, const char *key, int required, char **errp)
{
	const json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (required)
			return (bad(errp, xasprintf("missing field %s", key)));
		return (0);
	}
	if (!json_is_string(v))
		return (bad(errp, xasprintf("field %s: not a string", key)));
	if (required && json_string_length(v) == 0)
		return (bad(errp, xasprintf("field %s: empty", key)));
	*out = xstrndup(json_string_value(v), json_string_length(v));
	return (0);
}

static int
num(int64_t *out, const json_t *o, const char *key, int64_t def, int64_t min,
    char **errp)
{
	const json_t *v = json_object_get(o, key);

	*out = def;
	if (v == NULL || json_is_null(v))
		return (0);
	if (!json_is_number(v))
		return (bad(errp, xasprintf("field %s: not a number", key)));
	if (json_is_integer(v))
		*out = json_integer_value(v);
	else if (json_real_value(v) <= (double) min - 1.0)
		*out = min - 1; /* below, and no cast of a huge negative */
	else /* a real beyond int64 is clamped, not cast (undefined) */
		*out = json_real_value(v) >= 9.2e18
		    ? INT64_MAX
		    : (int64_t) json_real_value(v);
	if (*out < min)
		return (bad(errp,
		    xasprintf("field %s: below %lld", key, (long long) min)));
	return (0);
}

static int
inum(int *out, const json_t *o, const char *key, int def, int min, char **errp)
{
	int64_t v;
	int     rv;

	if ((rv = num(&v, o, key, def, min, errp)) != 0)
		return (rv);
	if (v > 1000000000)
		v = 1000000000;
	*out = (int) v;
	return (0);
}

/* dnum reads a non-negative number; def when absent. */
static int
dnum(double *out, const json_t *o, const char *key, double def, char **errp)
{
	const json_t *v = json_object_get(o, key);

	*out = def;
	if (v == NULL || json_is_null(v))
		return (0);
	if (!json_is_number(v) || !(json_number_value(v) >= 0) ||
	    json_number_value(v) > 1e9)
		return (bad(errp,
		    xasprintf("field %s: not a number between 0 "
		              "and 1e9",
		        key)));
	*out = json_number_value(v);
	return (0);
}

/* parse_profile reads the agent-profile settings of backend_spec. */
static int
parse_profile(struct exec_backend_spec *bk, const json_t *o, char **errp)
{
	const json_t *pr = json_object_get(o, "prices");
	int           rv;

	bk->price_in = bk->price_out = bk->price_cached = -1;
	if (pr != NULL && !json_is_null(pr) && !json_is_object(pr))
		return (bad(errp,
		    xstrdup("backend_spec.prices: not an "
		            "object")));
	if ((rv = str(&bk->bin, o, "bin", 0, errp)) != 0 ||
	    (rv = str(&bk->api_key_env, o, "api_key_env", 0, errp)) != 0 ||
	    (rv = str(&bk->base_url, o, "base_url", 0, errp)) != 0 ||
	    (rv = str(&bk->permission_mode, o, "permission_mode", 0, errp)) !=
	        0 ||
	    (rv = str(&bk->sandbox, o, "codex_sandbox", 0, errp)) != 0 ||
	    (rv = str(&bk->team, o, "team", 0, errp)) != 0 ||
	    (rv = str(&bk->orchestrator, o, "orchestrator", 0, errp)) != 0 ||
	    (rv = str(&bk->effort, o, "effort", 0, errp)) != 0 ||
	    (rv = inum(&bk->max_turns, o, "max_turns", 0, 0, errp)) != 0 ||
	    (rv = inum(&bk->max_retries, o, "max_retries", -1, 0, errp)) !=
	        0 ||
	    (rv = inum(&bk->transient_retries, o, "transient_retries", 2, 0,
	         errp)) != 0 ||
	    (rv = inum(&bk->retry_backoff_seconds, o, "retry_backoff_seconds",
	         30, 0, errp)) != 0 ||
	    (rv = inum(&bk->cycles, o, "cycles", 0, 0, errp)) != 0 ||
	    (rv = inum(&bk->exchanges, o, "exchanges", 0, 0, errp)) != 0 ||
	    (rv = dnum(&bk->max_budget_usd, o, "max_budget_usd", 0, errp)) !=
	        0)
		return (rv);
	if (pr != NULL && json_is_object(pr) &&
	    ((rv = dnum(&bk->price_in, pr, "input_per_mtok", -1, errp)) != 0 ||
	        (rv = dnum(&bk->price_out, pr, "output_per_mtok", -1, errp)) !=
	            0 ||
	        (rv = dnum(&bk->price_cached, pr, "cached_input_per_mtok", -1,
	             errp)) != 0))
		return (rv);
	if (bk->bin != NULL && bk->bin[0] == '\0')
		return (bad(errp, xstrdup("backend_spec.bin: empty")));
	if (bk->permission_mode != NULL &&
	    strcmp(bk->permission_mode, "bypassPermissions") == 0)
		return (bad(errp,
		    xstrdup("backend_spec.permission_mode: "
		            "bypassPermissions would let the "
		            "agent run anything; use acceptEdits "
		            "(the CLI refuses it as root anyway)")));
	return (0);
}

static int
strlist(struct strv *sv, const json_t *o, const char *key, char **errp)
{
	const json_t *a = json_object_get(o, key), *v;
	size_t        i;

	if (a == NULL || json_is_null(a))
		return (0);
	if (!json_is_array(a))
		return (bad(errp, xasprintf("field %s: not an array", key)));
	json_array_foreach (a, i, v) {
		if (!json_is_string(v))
			return (bad(errp,
			    xasprintf("field %s[%zu]: not a "
			              "string",
			        key, i)));
		strv_push(sv, json_string_value(v));
	}
	return (0);
}

static int
branch_ok(const char *name, const char *key, char **errp)
{
	if (name[0] == '-')
		return (bad(errp,
		    xasprintf("field %s: may not start with "
		              "'-'",
		        key)));
	return (0);
}

/* branch_policy reads git.branch_prefix (absent: the guard's default)
 * and git.protected_branches of the request; a bad prefix is refused
 * here, before anything runs. */
static int
branch_policy(struct exec_req *rq, const json_t *g, char **errp)
{
	const json_t *pb  = json_object_get(g, "protected_branches");
	char         *why = NULL;
	int           rv;

	if ((rv = str(&rq->branch_prefix, g, "branch_prefix", 0, errp)) != 0)
		return (rv);
	if (rq->branch_prefix == NULL)
		rq->branch_prefix = xstrdup(BRANCH_GUARD_DEFAULT_PREFIX);
	if (branch_guard_prefix_ok(rq->branch_prefix, &why) != 0)
		return (bad(errp, why));
	rq->has_protected = pb != NULL && !json_is_null(pb);
	return (
	    strlist(&rq->protected_branches, g, "protected_branches", errp));
}

/* parse_command turns validation_commands[i] (an argv array or a string
 * split on whitespace) into sv. */
static int
parse_command(struct strv *sv, const json_t *c, size_t i, char **errp)
{
	const json_t *w;
	size_t        j;

	if (json_is_string(c))
		strv_split_ws(sv, json_string_value(c));
	else if (!json_is_array(c))
		return (bad(errp,
		    xasprintf("validation_commands[%zu]: not a "
		              "string or array",
		        i)));
	json_array_foreach (c, j, w) {
		if (!json_is_string(w))
			return (bad(errp,
			    xasprintf("validation_commands[%zu]"
			              "[%zu]: not a string",
			        i, j)));
		strv_push(sv, json_string_value(w));
	}
	if (sv->n == 0 || sv->v[0][0] == '\0')
		return (bad(errp,
		    xasprintf("validation_commands[%zu]: empty "
		              "command",
		        i)));
	return (0);
}

static int
parse_validation(struct exec_req *rq, const json_t *o, char **errp)
{
	const json_t *a = json_object_get(o, "validation_commands"), *c;
	size_t        i;
	int           rv;

	if (a == NULL || json_is_null(a))
		return (0);
	if (!json_is_array(a))
		return (bad(errp,
		    xstrdup("field validation_commands: not "
		            "an array")));
	rq->validation = xcalloc(json_array_size(a) + 1, sizeof(struct strv));
	json_array_foreach (a, i, c) {
		rv = parse_command(
		    &rq->validation[rq->n_validation++], c, i, errp);
		if (rv != 0)
			return (rv);
	}
	return (0);
}

/* parse_sandbox reads the sandbox settings of backend_spec o (NULL: the
 * built-in stub, which spawns nothing). */
static int
parse_sandbox(struct exec_sandbox *sb, struct exec_backend_spec *bk,
    const json_t *o, char **errp)
{
	char       *mode = NULL, *net = NULL;
	const char *home = getenv("HOME");
	int         rv;

	sb->on  = 1;
	sb->net = sandbox_net_default(bk->kind);
	if (o == NULL || json_is_null(o))
		return (0);
	if ((rv = str(&mode, o, "sandbox", 0, errp)) != 0 ||
	    (rv = str(&net, o, "network", 0, errp)) != 0 ||
	    (rv = str(&sb->bwrap, o, "bwrap", 0, errp)) != 0 ||
	    (rv = strlist(&sb->hide, o, "sandbox_hide", errp)) != 0 ||
	    (rv = strlist(&sb->ro, o, "sandbox_ro_paths", errp)) != 0 ||
	    (rv = strlist(&sb->rw, o, "sandbox_rw_paths", errp)) != 0 ||
	    (rv = inum(&sb->memory_mb, o, "memory_mb", 8192, 0, errp)) != 0 ||
	    (rv = inum(&sb->max_procs, o, "max_procs", 512, 0, errp)) != 0 ||
	    (rv = inum(&sb->cpu_seconds, o, "cpu_seconds", 3600, 0, errp)) !=
	        0 ||
	    (rv = inum(&sb->file_size_mb, o, "file_size_mb", 2048, 0, errp)) !=
	        0)
		goto out;
	if (mode != NULL && strcmp(mode, "off") == 0)
		sb->on = 0;
	else if (mode != NULL && strcmp(mode, "on") != 0 &&
	    bk->sandbox == NULL)
		bk->sandbox = xstrdup(mode); /* codex's mode, as before */
	if (net != NULL && strcmp(net, "host") != 0 &&
	    strcmp(net, "none") != 0)
		rv = bad(errp,
		    xasprintf("backend_spec.network: expected host or none, "
		              "got \"%s\"",
		        net));
	else if (net != NULL)
		sb->net = strcmp(net, "host") == 0;
	/* no executor named what to hide: at least our HOME */
	if (rv == 0 && json_object_get(o, "sandbox_hide") == NULL &&
	    home != NULL && home[0] == '/')
		strv_push(&sb->hide, home);
	if (sb->bwrap == NULL)
		sb->bwrap = xstrdup("bwrap");
out:
	free(mode);
	free(net);
	return (rv);
}

static int
parse_backend(struct exec_backend_spec *bk, const json_t *o, char **errp)
{
	const json_t *env, *v;
	const char   *k;
	char         *ws = NULL;
	int64_t       n;
	int           rv;

	bk->max_output_bytes   = DEFAULT_MAX_OUTPUT;
	bk->kill_grace_seconds = 5;
	bk->price_in = bk->price_out = bk->price_cached = -1;
	bk->max_retries                                 = -1;
	if (o == NULL || json_is_null(o)) {
		bk->kind = xstrdup("stub");
		return (0);
	}
	if (!json_is_object(o))
		return (bad(errp,
		    xstrdup("field backend_spec: not an "
		            "object")));
	if ((rv = str(&bk->kind, o, "kind", 0, errp)) != 0)
		return (rv);
	if (bk->kind == NULL)
		bk->kind = xstrdup("stub");
	if (!backend_kind_known(bk->kind))
		return (bad(errp,
		    xasprintf("backend_spec.kind: unknown kind "
		              "\"%s\" (stub, command, claude_cli, "
		              "codex_cli, aider, kodo)",
		        bk->kind)));
	if ((rv = parse_profile(bk, o, errp)) != 0)
		return (rv);
	if ((rv = strlist(&bk->argv, o, "argv", errp)) != 0 ||
	    (rv = strlist(&bk->env_allow, o, "env_allow", errp)) != 0 ||
	    (rv = str(&bk->model, o, "model", 0, errp)) != 0 ||
	    (rv = num(&n, o, "max_output_bytes", (int64_t) DEFAULT_MAX_OUTPUT,
	         1, errp)) != 0 ||
	    (rv = inum(&bk->kill_grace_seconds, o, "kill_grace_seconds", 5, 0,
	         errp)) != 0)
		return (rv);
	bk->max_output_bytes = (size_t) n;
	if ((rv = str(&ws, o, "workspace", 0, errp)) != 0)
		return (rv);
	bk->scratch = ws != NULL && strcmp(ws, "scratch") == 0;
	if (ws != NULL && !bk->scratch && strcmp(ws, "git") != 0)
		rv = bad(errp,
		    xasprintf("backend_spec.workspace: expected git "
		              "or scratch, got \"%s\"",
		        ws));
	free(ws);
	if (rv != 0)
		return (rv);
	if (strcmp(bk->kind, "command") == 0 &&
	    (bk->argv.n == 0 || bk->argv.v[0][0] == '\0'))
		return (bad(errp,
		    xstrdup("backend_spec.argv: required for "
		            "kind command")));
	env = json_object_get(o, "env");
	if (env != NULL && !json_is_null(env)) {
		if (!json_is_object(env))
			return (bad(errp,
			    xstrdup("backend_spec.env: not an "
			            "object")));
		json_object_foreach ((json_t *) env, k, v) {
			if (!json_is_string(v) || k[0] == '\0' ||
			    strchr(k, '=') != NULL)
				return (bad(errp,
				    xasprintf("backend_spec.env."
				              "%s: bad entry",
				        k)));
			strv_setenv(&bk->env, k, json_string_value(v));
		}
	}
	return (0);
}

/* parse_mirror reads the optional "mirror" object: {dir,
 * fetch_interval_ms, gc_interval_ms}; absent or null: no mirror. */
static int
parse_mirror(struct exec_req *rq, const json_t *m, char **errp)
{
	int rv;

	if (m == NULL || json_is_null(m))
		return (0);
	if (!json_is_object(m))
		return (bad(errp, xstrdup("field mirror: not an object")));
	if ((rv = str(&rq->mirror_dir, m, "dir", 1, errp)) != 0 ||
	    (rv = num(&rq->mirror_fetch_ms, m, "fetch_interval_ms", 60000, 0,
	         errp)) != 0 ||
	    (rv = num(&rq->mirror_gc_ms, m, "gc_interval_ms", 86400000, 0,
	         errp)) != 0)
		return (rv);
	if (rq->mirror_dir[0] != '/')
		return (bad(
		    errp, xstrdup("field mirror.dir: not an absolute path")));
	return (0);
}

/* zero_none: a max_changed_files of 0 is no limit, as absent is (a
 * router before optional ints sent 0 for none). */
static int
zero_none(int64_t *v)
{
	if (*v == 0)
		*v = -1;
	return (0);
}

int
request_parse(struct exec_req *rq, const json_t *o, char **errp)
{
	const json_t *g, *l, *h;
	int           rv;

	memset(rq, 0, sizeof(*rq));
	rq->max_changed_files = -1;
	if (!json_is_object(o))
		return (bad(errp, xstrdup("request is not a JSON object")));
	if ((rv = str(&rq->run_id, o, "run_id", 1, errp)) != 0 ||
	    (rv = str(&rq->task_id, o, "task_id", 1, errp)) != 0 ||
	    (rv = str(&rq->proposal_id, o, "proposal_id", 0, errp)) != 0 ||
	    (rv = str(&rq->decision_id, o, "decision_id", 0, errp)) != 0 ||
	    (rv = str(&rq->goal_text, o, "goal_text", 1, errp)) != 0 ||
	    (rv = str(&rq->constraints_text, o, "constraints_text", 0,
	         errp)) != 0 ||
	    (rv = str(&rq->repo_key, o, "repo_key", 0, errp)) != 0 ||
	    (rv = str(&rq->clone_url, o, "clone_url", 1, errp)) != 0 ||
	    (rv = str(&rq->base_branch, o, "base_branch", 1, errp)) != 0 ||
	    (rv = str(&rq->task_branch, o, "task_branch", 1, errp)) != 0 ||
	    (rv = str(&rq->lane, o, "lane", 0, errp)) != 0 ||
	    (rv = str(&rq->backend, o, "backend", 0, errp)) != 0)
		return (rv);
	if ((rv = branch_ok(rq->base_branch, "base_branch", errp)) != 0 ||
	    (rv = branch_ok(rq->task_branch, "task_branch", errp)) != 0 ||
	    (rv = strlist(&rq->allowed_paths, o, "allowed_paths", errp)) !=
	        0 ||
	    (rv = num(&rq->max_changed_files, o, "max_changed_files", -1, 0,
	         errp)) != 0 ||
	    (rv = zero_none(&rq->max_changed_files)) != 0 ||
	    (rv = inum(&rq->timeout_seconds, o, "timeout_seconds",
	         DEFAULT_TIMEOUT, 1, errp)) != 0 ||
	    (rv = parse_validation(rq, o, errp)) != 0 ||
	    (rv = inum(&rq->validation_timeout_seconds, o,
	         "validation_timeout_seconds", DEFAULT_TIMEOUT, 1, errp)) !=
	        0 ||
	    (rv = parse_backend(
	         &rq->bk, json_object_get(o, "backend_spec"), errp)) != 0 ||
	    (rv = parse_sandbox(&rq->sb, &rq->bk,
	         json_object_get(o, "backend_spec"), errp)) != 0)
		return (rv);
	h = json_object_get(o, "push_on_success");
	if (h != NULL && !json_is_null(h) && !json_is_boolean(h))
		return (bad(errp,
		    xstrdup("field push_on_success: not a "
		            "boolean")));
	rq->push_on_success = json_is_true(h);
	h                   = json_object_get(o, "expect_changes");
	if (h != NULL && !json_is_null(h) && !json_is_boolean(h))
		return (bad(errp,
		    xstrdup("field expect_changes: not a "
		            "boolean")));
	rq->expect_changes = !json_is_false(h);

	g = json_object_get(o, "git");
	if (g != NULL && !json_is_null(g) && !json_is_object(g))
		return (bad(errp, xstrdup("field git: not an object")));
	if ((rv = str(&rq->git_name, g, "author_name", 0, errp)) != 0 ||
	    (rv = str(&rq->git_email, g, "author_email", 0, errp)) != 0)
		return (rv);
	if ((rv = branch_policy(rq, g, errp)) != 0)
		return (rv);
	if (rq->git_name == NULL)
		rq->git_name = xstrdup("Operations Center Bot");
	if (rq->git_email == NULL)
		rq->git_email = xstrdup("operations-center-bot@example.com");

	l = json_object_get(o, "limits");
	if (l != NULL && !json_is_null(l) && !json_is_object(l))
		return (bad(errp, xstrdup("field limits: not an object")));
	if ((rv = inum(&rq->max_files, l, "max_files", 50, 0, errp)) != 0 ||
	    (rv = inum(&rq->max_lines, l, "max_lines", 2000, 0, errp)) != 0 ||
	    (rv = inum(&rq->quality_threshold, l, "quality_threshold", 3, 0,
	         errp)) != 0)
		return (rv);

	h = json_object_get(o, "validation_history");
	if (h != NULL && json_is_object(h))
		rq->vhistory = json_incref((json_t *) h);
	if ((rv = str(&rq->lease_file, o, "lease_file", 0, errp)) != 0)
		return (rv);
	rq->open_pr = json_is_true(json_object_get(o, "open_pr"));
	g           = json_object_get(o, "github");
	if (g != NULL && json_is_object(g) &&
	    ((rv = str(&rq->github_api, g, "api_url", 0, errp)) != 0 ||
	        (rv = str(&rq->github_repo, g, "repo", 0, errp)) != 0))
		return (rv);
	if (rq->github_api == NULL)
		rq->github_api = xstrdup("https://api.github.com");
	h            = json_object_get(o, "lease_ms");
	rq->lease_ms = json_is_integer(h) ? json_integer_value(h) : 0;
	/* pull request caps (pr.c); absent: none */
	g = json_object_get(o, "pr_caps");
	if (g != NULL && !json_is_null(g) && !json_is_object(g))
		return (bad(errp, xstrdup("field pr_caps: not an object")));
	if ((rv = num(&rq->pr_max_open, g, "max_open_prs", 0, 0, errp)) != 0 ||
	    (rv = num(&rq->pr_max_hour, g, "max_prs_per_hour", 0, 0, errp)) !=
	        0 ||
	    (rv = num(&rq->pr_queued, g, "queued", 0, 0, errp)) != 0 ||
	    (rv = str(&rq->pr_prefix, g, "prefix", 0, errp)) != 0 ||
	    (rv = str(&rq->pr_lock, g, "lock", 0, errp)) != 0)
		return (rv);
	return (parse_mirror(rq, json_object_get(o, "mirror"), errp));
}

int
request_load(struct exec_req *rq, const char *path, char **errp)
{
	json_error_t e;
	json_t      *o;
	int          rv;

	memset(rq, 0, sizeof(*rq));
	if ((o = json_load_file(path, 0, &e)) == NULL) {
		free(*errp);
		*errp =
		    xasprintf("%s:%d:%d: %s", path, e.line, e.column, e.text);
		return (ERR_INVAL);
	}
	rv = request_parse(rq, o, errp);
	json_decref(o);
	return (rv);
}

void
request_fini(struct exec_req *rq)
{
	size_t i;

	free(rq->run_id);
	free(rq->task_id);
	free(rq->proposal_id);
	free(rq->decision_id);
	free(rq->goal_text);
	free(rq->constraints_text);
	free(rq->repo_key);
	free(rq->clone_url);
	free(rq->base_branch);
	free(rq->task_branch);
	free(rq->lane);
	free(rq->backend);
	strv_free(&rq->allowed_paths);
	for (i = 0; i < rq->n_validation; i++)
		strv_free(&rq->validation[i]);
	free(rq->validation);
	free(rq->bk.kind);
	strv_free(&rq->bk.argv);
	strv_free(&rq->bk.env_allow);
	strv_free(&rq->bk.env);
	free(rq->bk.model);
	free(rq->bk.bin);
	free(rq->bk.api_key_env);
	free(rq->bk.base_url);
	free(rq->bk.permission_mode);
	free(rq->bk.sandbox);
	free(rq->sb.bwrap);
	strv_free(&rq->sb.hide);
	strv_free(&rq->sb.ro);
	strv_free(&rq->sb.rw);
	free(rq->bk.team);
	free(rq->bk.orchestrator);
	free(rq->bk.effort);
	free(rq->git_name);
	free(rq->git_email);
	json_decref(rq->vhistory);
	free(rq->lease_file);
	free(rq->pr_prefix);
	free(rq->pr_lock);
	free(rq->github_api);
	free(rq->github_repo);
	free(rq->mirror_dir);
	free(rq->branch_prefix);
	strv_free(&rq->protected_branches);
	if (rq->github_token != NULL) {
		explicit_bzero(rq->github_token, strlen(rq->github_token));
		free(rq->github_token);
	}
	memset(rq, 0, sizeof(*rq));
}
