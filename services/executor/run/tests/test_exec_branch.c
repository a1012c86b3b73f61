/*
 * test_exec_branch.c - branch safety in the real opc-exec-run (issue 20):
 * runs whose push the guard must refuse, against a local bare repository
 * as the remote.  Each must fail as BRANCH_GUARD_CATEGORY with a reason
 * naming the rule, push nothing and leave every ref of the remote as it
 * was; a run under the prefix still pushes.  The unit test of the rules
 * themselves (force, options, refspecs, names) is test_branch_guard.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "branch_guard.h"
#include "exec_fx.h"
#include "opc/util.h"

#ifndef EXEC_RUN_BIN
#error EXEC_RUN_BIN must name the opc-exec-run binary
#endif

struct fx {
	char *root, *origin;
	int   n; /* runs so far: each gets its own workspace */
};

static int
setup(void **state)
{
	struct fx *fx;
	char      *root = exfx_root("opc-exec-branch");

	if (root == NULL)
		return (-1);
	fx         = xcalloc(1, sizeof(*fx));
	fx->root   = root;
	fx->origin = xasprintf("%s/origin.git", root);
	*state     = fx;
	return (exfx_sh("set -e; cd %s; git init -q -b main src; cd src; "
	                "echo hello > README.md; git add -A; "
	                "git -c user.name=t -c user.email=t@example.com "
	                "commit -q -m init; cd ..; "
	                "git clone -q --bare src origin.git",
	            root) == 0
	        ? 0
	        : -1);
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	exfx_unroot(fx->root);
	free(fx->origin);
	free(fx);
	return (0);
}

/* refs returns every ref of the remote with its object, and its HEAD */
static char *
refs(const struct fx *fx)
{
	char *cmd = xasprintf("git --git-dir=%s for-each-ref "
	                      "--format='%%(refname) %%(objectname)'; "
	                      "git --git-dir=%s symbolic-ref HEAD",
	    fx->origin, fx->origin);
	char *out = exfx_capture(cmd);

	free(cmd);
	assert_non_null(out);
	return (out);
}

/* run runs the worker (stub backend, push on success, through the
 * mirror when mirror) on task_branch with git settings git (stolen) and
 * returns its result. */
static json_t *
run(struct fx *fx, const char *task_branch, json_t *git, int mirror)
{
	char   *req = xasprintf("%s/req%d.json", fx->root, ++fx->n);
	char   *out = xasprintf("%s/result%d.json", fx->root, fx->n);
	char   *log = xasprintf("%s/log%d", fx->root, fx->n);
	json_t *r, *q;

	q = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:b, "
	              "s:{s:s}, s:o}",
	    "run_id", "abcdef12-0000-4000-8000-000000000001", "task_id", "T-1",
	    "goal_text", "Add the artifact", "repo_key", "demo", "clone_url",
	    fx->origin, "base_branch", "main", "task_branch", task_branch,
	    "backend", "stub", "timeout_seconds", 60, "push_on_success", 1,
	    "backend_spec", "kind", "stub", "git", git);
	if (mirror) {
		char *dir = xasprintf("%s/mirrors", fx->root);

		json_object_set_new(q, "mirror",
		    json_pack("{s:s, s:i, s:i}", "dir", dir,
		        "fetch_interval_ms", 0, "gc_interval_ms", 86400000));
		free(dir);
	}
	assert_int_equal(json_dump_file(q, req, 0), 0);
	json_decref(q);
	(void) exfx_sh("%s --request %s --workspace %s/ws%d --out %s > %s "
	               "2>&1",
	    EXEC_RUN_BIN, req, fx->root, fx->n, out, log);
	r = exfx_result(out, log);
	free(req);
	free(out);
	free(log);
	return (r);
}

/* refused: the run failed on the rule want, pushed nothing, and the
 * remote's refs are still before. */
static void
refused(struct fx *fx, json_t *r, const char *want, const char *before)
{
	const char *why = exfx_rstr(r, "failure_reason");
	char       *after;

	assert_string_equal(exfx_rstr(r, "status"), "failed");
	assert_string_equal(
	    exfx_rstr(r, "failure_category"), BRANCH_GUARD_CATEGORY);
	assert_non_null(why);
	if (strncmp(why, BRANCH_GUARD_REASON, strlen(BRANCH_GUARD_REASON)) !=
	        0 ||
	    strstr(why, want) == NULL)
		fail_msg("reason '%s' lacks '%s'", why, want);
	assert_false(json_is_true(json_object_get(r, "branch_pushed")));
	after = refs(fx);
	assert_string_equal(after, before);
	free(after);
	json_decref(r);
}

static void
test_refused_pushes(void **state)
{
	struct fx *fx     = *state;
	char      *before = refs(fx);

	/* outside the prefix (the default, opcenter/) */
	refused(fx, run(fx, "goal/T-1-abcdef12", json_object(), 0),
	    "not under opcenter's prefix 'opcenter/'", before);
	/* a configured prefix */
	refused(fx,
	    run(fx, "opcenter/goal/T-1",
	        json_pack("{s:s}", "branch_prefix", "bots/"), 0),
	    "not under opcenter's prefix 'bots/'", before);
	/* protected: the default list, then a configured one */
	refused(fx,
	    run(fx, "main", json_pack("{s:s}", "branch_prefix", "ma"), 0),
	    "'main' is protected", before);
	refused(fx,
	    run(fx, "opcenter/keep",
	        json_pack("{s:[s]}", "protected_branches", "opcenter/keep"),
	        0),
	    "'opcenter/keep' is protected", before);
	/* not a valid ref name */
	refused(fx, run(fx, "opcenter/a..b", json_object(), 0),
	    "invalid branch name", before);
	refused(fx, run(fx, "opcenter/x@{1}", json_object(), 0),
	    "invalid branch name", before);
	free(before);

	/* the remote's default branch, known only from the remote: caught by
	 * the check of the push argv, after the backend ran (through the
	 * mirror, whose workspace has no local branch of that name) */
	assert_int_equal(
	    exfx_sh("set -e; git --git-dir=%s branch opcenter/trunk main; "
	            "git --git-dir=%s symbolic-ref HEAD "
	            "refs/heads/opcenter/trunk",
	        fx->origin, fx->origin),
	    0);
	before = refs(fx);
	refused(fx, run(fx, "opcenter/trunk", json_object(), 1),
	    "'opcenter/trunk' is the repository's default branch", before);
	free(before);
}

static void
test_allowed_push(void **state)
{
	struct fx *fx = *state;
	json_t    *r = run(fx, "opcenter/goal/T-1-abcdef12", json_object(), 0);
	const char *sha;

	assert_string_equal(exfx_rstr(r, "status"), "succeeded");
	assert_true(json_is_true(json_object_get(r, "branch_pushed")));
	sha = exfx_rstr(r, "commit_sha");
	assert_non_null(sha);
	assert_int_equal(exfx_sh("test \"$(git --git-dir=%s rev-parse "
	                         "refs/heads/opcenter/goal/T-1-abcdef12)\" = "
	                         "%s",
	                     fx->origin, sha),
	    0);
	json_decref(r);
}

/* a prefix that would allow every branch is refused with the request */
static void
test_bad_prefix(void **state)
{
	struct fx *fx  = *state;
	char      *req = xasprintf("%s/bad.json", fx->root);
	json_t    *q;

	q = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s}}", "run_id",
	    "abcdef12-0000-4000-8000-000000000009", "task_id", "T-9",
	    "goal_text", "g", "clone_url", fx->origin, "base_branch", "main",
	    "task_branch", "x/y", "git", "branch_prefix", "/");
	assert_int_equal(json_dump_file(q, req, 0), 0);
	json_decref(q);
	assert_int_equal(exfx_sh("%s --request %s --workspace %s/wsb --out "
	                         "%s/bad.out > %s/bad.log 2>&1",
	                     EXEC_RUN_BIN, req, fx->root, fx->root, fx->root),
	    1);
	assert_int_equal(
	    exfx_sh("grep -q 'git.branch_prefix' %s/bad.log", fx->root), 0);
	free(req);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_refused_pushes, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_allowed_push, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_bad_prefix, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
