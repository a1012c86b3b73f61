/*
 * test_exec_mirror.c - the real opc-exec-run with a repository mirror
 * (mirror.c): workspaces that are `clone --shared` of one bare mirror per
 * repo, pushing to the real remote; the fetch interval and the fetch of
 * a missing base; three runs at once on one mirror; a workspace removed
 * (as retention does) and upstream history rewritten, then gc'd; a
 * fetch that fails; and runs killed with -9 in the middle of a fetch,
 * after which the next run neither waits for nor trips over what they
 * left.  Local repositories under a mkdtemp() directory ("origin.git" is
 * the clone URL, "src" a checkout that pushes to it); no network.
 * KEEP=1 keeps each test's directory.
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

struct fx {
	char *root, *origin, *mirrors, *mirror;
};

static int
setup(void **state)
{
	struct fx *fx;
	char      *tmpl = exfx_root("opc-exec-mirror");

	if (tmpl == NULL)
		return (-1);
	fx          = xcalloc(1, sizeof(*fx));
	fx->root    = tmpl;
	fx->origin  = xasprintf("%s/origin.git", tmpl);
	fx->mirrors = xasprintf("%s/mirrors", tmpl);
	fx->mirror  = xasprintf("%s/mirrors/demo.git", tmpl);
	*state      = fx;
	return (
	    exfx_sh("set -e; cd %s; git config --global user.name t; "
	            "git config --global user.email t@example.com; "
	            "git init -q -b main src; cd src; echo hello > README.md; "
	            "git add -A; git commit -q -m init; cd ..; "
	            "git clone -q --bare src origin.git; "
	            "git -C src remote add origin %s",
	        tmpl, fx->origin) == 0
	        ? 0
	        : -1);
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	exfx_unroot(fx->root);
	free(fx->origin);
	free(fx->mirrors);
	free(fx->mirror);
	free(fx);
	return (0);
}

/* request returns the request of run n (its workspace is ws<n>, its
 * branch opcenter/goal/T-<n>), with the mirror and the given fetch interval.
 */
static json_t *
request(const struct fx *fx, int n, const char *clone_url, int64_t fetch_ms)
{
	char id[64], task[16], branch[32];

	snprintf(id, sizeof(id), "abcdef12-0000-4000-8000-%012d", n);
	snprintf(task, sizeof(task), "T-%d", n);
	snprintf(branch, sizeof(branch), "opcenter/goal/T-%d", n);
	return (json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:b, "
	                  "s:{s:s}, s:{s:s, s:I, s:I}}",
	    "run_id", id, "task_id", task, "goal_text", "Add the artifact",
	    "repo_key", "demo", "clone_url",
	    clone_url != NULL ? clone_url : fx->origin, "base_branch", "main",
	    "task_branch", branch, "timeout_seconds", 60, "push_on_success", 1,
	    "backend_spec", "kind", "stub", "mirror", "dir", fx->mirrors,
	    "fetch_interval_ms", (json_int_t) fetch_ms, "gc_interval_ms",
	    (json_int_t) 86400000));
}

/* cmdline returns the worker's command line for run n (in the
 * background when bg), its output in log<n>. */
static char *
cmdline(const struct fx *fx, int n, int bg)
{
	return (xasprintf("%s --request %s/req%d.json --workspace %s/ws%d "
	                  "--out %s/res%d.json --children %s/kids%d "
	                  "> %s/log%d 2>&1%s",
	    EXEC_RUN_BIN, fx->root, n, fx->root, n, fx->root, n, fx->root, n,
	    fx->root, n, bg ? " & echo $! > " : ""));
}

static void
write_req(const struct fx *fx, int n, json_t *req)
{
	char *p = xasprintf("%s/req%d.json", fx->root, n);

	assert_int_equal(json_dump_file(req, p, JSON_INDENT(2)), 0);
	free(p);
	json_decref(req);
}

static json_t *
result(const struct fx *fx, int n)
{
	char   *p   = xasprintf("%s/res%d.json", fx->root, n);
	char   *log = xasprintf("%s/log%d", fx->root, n);
	json_t *r   = exfx_result(p, log);

	free(p);
	free(log);
	return (r);
}

/* run runs the worker for run n and returns its result. */
static json_t *
run(const struct fx *fx, int n, json_t *req)
{
	char *cmd;

	write_req(fx, n, req);
	cmd = cmdline(fx, n, 0);
	assert_int_equal(exfx_sh("%s", cmd), 0);
	free(cmd);
	return (result(fx, n));
}

/* succeeded: run n succeeded and its branch is in origin.git. */
static void
succeeded(const struct fx *fx, int n, const json_t *r)
{
	if (strcmp(exfx_rstr(r, "status"), "succeeded") != 0) {
		(void) exfx_sh("cat %s/log%d >&2", fx->root, n);
		fail_msg("run %d: %s: %s", n, exfx_rstr(r, "status"),
		    exfx_rstr(r, "failure_reason"));
	}
	assert_int_equal(exfx_sh("test \"$(git --git-dir=%s rev-parse "
	                         "refs/heads/opcenter/goal/T-%d)\" = %s",
	                     fx->origin, n, exfx_rstr(r, "commit_sha")),
	    0);
}

/* logged: the worker log of run n has a line matching pattern. */
static int
logged(const struct fx *fx, int n, const char *pattern)
{
	return (
	    exfx_sh("grep -q -- '%s' %s/log%d", pattern, fx->root, n) == 0);
}

static void
fsck(const char *gitdir)
{
	if (exfx_sh("git --git-dir=%s fsck --full --no-progress --no-dangling "
	            ">&2",
	        gitdir) != 0)
		fail_msg("git fsck of %s failed", gitdir);
}

/* upstream commits a change to main and pushes it to origin.git. */
static void
upstream(const struct fx *fx, const char *what)
{
	assert_int_equal(exfx_sh("set -e; cd %s/src; echo %s >> README.md; "
	                         "git commit -qam %s; git push -q origin main",
	                     fx->root, what, what),
	    0);
}

/* The workspace borrows the mirror's objects, its origin is the real
 * remote, and its own .git holds little more than the run's commit. */
static void
test_workspace_is_shared_clone(void **state)
{
	struct fx *fx = *state;
	json_t    *r;

	r = run(fx, 1, request(fx, 1, NULL, 60000));
	succeeded(fx, 1, r);
	assert_true(logged(fx, 1, "created the mirror"));
	assert_true(
	    logged(fx, 1, "workspace ready in .* ms (mirror, fetched)"));
	assert_int_equal(
	    exfx_sh("grep -qx %s/objects %s/ws1/.git/objects/info/"
	            "alternates",
	        fx->mirror, fx->root),
	    0);
	assert_int_equal(
	    exfx_sh("test \"$(git -C %s/ws1 remote get-url origin)\" "
	            "= %s",
	        fx->root, fx->origin),
	    0);
	/* no pack was copied: the workspace's objects are the run's own */
	assert_int_equal(
	    exfx_sh("test -z \"$(ls %s/ws1/.git/objects/pack)\"", fx->root),
	    0);
	/* the mirror is bare, never prunes, and knows no workspace */
	assert_int_equal(exfx_sh("test \"$(git --git-dir=%s config "
	                         "gc.pruneExpire)\" = never",
	                     fx->mirror),
	    0);
	assert_int_not_equal(exfx_sh("test -e %s/worktrees", fx->mirror), 0);
	assert_int_equal(exfx_sh("test ! -s %s/demo.lock", fx->mirrors), 0);
	fsck(fx->mirror);
	json_decref(r);
}

/* Within the fetch interval the mirror is not fetched, unless it lacks
 * the run's base; with an interval of 0 every run fetches. */
static void
test_fetch_interval(void **state)
{
	struct fx *fx = *state;
	json_t    *r, *req;

	r = run(fx, 1, request(fx, 1, NULL, 3600000));
	succeeded(fx, 1, r);
	json_decref(r);
	upstream(fx, "second");
	r = run(fx, 2, request(fx, 2, NULL, 3600000));
	succeeded(fx, 2, r);
	assert_false(logged(fx, 2, "fetched"));
	/* the workspace starts from what the mirror had (one commit) */
	assert_int_equal(exfx_sh("test \"$(git -C %s/ws2 rev-list --count "
	                         "HEAD)\" = 2",
	                     fx->root),
	    0);
	json_decref(r);
	/* a base the mirror lacks is fetched, interval or not */
	assert_int_equal(
	    exfx_sh("set -e; cd %s/src; git checkout -q -b release; "
	            "git push -q origin release",
	        fx->root),
	    0);
	req = request(fx, 3, NULL, 3600000);
	json_object_set_new(req, "base_branch", json_string("release"));
	r = run(fx, 3, req);
	succeeded(fx, 3, r);
	assert_true(logged(fx, 3, "(mirror, fetched)"));
	json_decref(r);
	/* interval 0: fetched before every run */
	r = run(fx, 4, request(fx, 4, NULL, 0));
	succeeded(fx, 4, r);
	assert_true(logged(fx, 4, "(mirror, fetched)"));
	json_decref(r);
}

/* Three runs of one repo at once, the mirror not made yet, each
 * fetching: one mirror, all three pushed, the mirror whole. */
static void
test_concurrent_runs(void **state)
{
	struct fx *fx = *state;
	char      *c1, *c2, *c3;
	json_t    *r;
	int        i;

	for (i = 1; i <= 3; i++)
		write_req(fx, i, request(fx, i, NULL, 0));
	c1 = cmdline(fx, 1, 0);
	c2 = cmdline(fx, 2, 0);
	c3 = cmdline(fx, 3, 0);
	assert_int_equal(exfx_sh("(%s) & (%s) & (%s) & wait", c1, c2, c3), 0);
	free(c1);
	free(c2);
	free(c3);
	for (i = 1; i <= 3; i++) {
		r = result(fx, i);
		succeeded(fx, i, r);
		assert_true(logged(fx, i, "(mirror, fetched)"));
		json_decref(r);
	}
	assert_int_equal(
	    exfx_sh("test \"$(ls %s | tr '\\n' ' ')\" = 'demo.git demo.lock '",
	        fx->mirrors),
	    0);
	assert_int_equal(exfx_sh("test \"$(grep -l 'created the mirror' "
	                         "%s/log1 %s/log2 %s/log3 | wc -l)\" = 1",
	                     fx->root, fx->root, fx->root),
	    0);
	fsck(fx->mirror);
}

/* A workspace removed (retention) leaves the mirror whole; a branch
 * deleted and main rewritten upstream, fetched with --prune and gc'd,
 * leaves a kept workspace that still names them whole too (the mirror
 * never prunes); the next run works. */
static void
test_retention_and_gc(void **state)
{
	struct fx *fx = *state;
	json_t    *r, *req;
	char      *p;

	assert_int_equal(
	    exfx_sh("set -e; cd %s/src; git checkout -q -b feature; "
	            "echo f > f.txt; git add f.txt; git commit -qm f; "
	            "git push -q origin feature; git checkout -q main",
	        fx->root),
	    0);
	req = request(fx, 1, NULL, 0);
	json_object_set_new(req, "base_branch", json_string("feature"));
	r = run(fx, 1, req);
	succeeded(fx, 1, r);
	json_decref(r);
	r = run(fx, 2, request(fx, 2, NULL, 0));
	succeeded(fx, 2, r);
	json_decref(r);
	/* retention removes workspace 2 */
	p = xasprintf("%s/ws2", fx->root);
	assert_int_equal(rmtree(p), 0);
	free(p);
	fsck(fx->mirror);
	/* upstream: feature deleted, main rewritten (force-pushed) */
	assert_int_equal(exfx_sh("set -e; cd %s/src; git branch -qD feature; "
	                         "git push -q origin :feature; "
	                         "git commit -q --amend -m rewritten; "
	                         "git push -q -f origin main",
	                     fx->root),
	    0);
	/* gc due now, and (a pack per fetch, at most one pack) really
	 * repacking */
	assert_int_equal(
	    exfx_sh("git --git-dir=%s config fetch.unpackLimit 1 && "
	            "git --git-dir=%s config gc.autoPackLimit 1",
	        fx->mirror, fx->mirror),
	    0);
	req = request(fx, 3, NULL, 0);
	json_object_set_new(
	    json_object_get(req, "mirror"), "gc_interval_ms", json_integer(0));
	r = run(fx, 3, req);
	succeeded(fx, 3, r);
	assert_true(logged(fx, 3, "gc --auto of"));
	json_decref(r);
	assert_int_not_equal(exfx_sh("git --git-dir=%s rev-parse -q --verify "
	                             "refs/heads/feature > /dev/null",
	                         fx->mirror),
	    0);
	fsck(fx->mirror);
	/* even a full gc as an operator would run it keeps them */
	assert_int_equal(
	    exfx_sh("git --git-dir=%s gc --quiet", fx->mirror), 0);
	fsck(fx->mirror);
	/* workspace 1 still has every object its refs name */
	p = xasprintf("%s/ws1/.git", fx->root);
	fsck(p);
	free(p);
	assert_int_equal(
	    exfx_sh(
	        "git -C %s/ws1 log -q origin/feature > /dev/null", fx->root),
	    0);
	r = run(fx, 4, request(fx, 4, NULL, 0));
	succeeded(fx, 4, r);
	json_decref(r);
}

/* A fetch that fails fails the run as infra_tooling with git's words. */
static void
test_fetch_failure(void **state)
{
	struct fx *fx  = *state;
	char      *url = xasprintf("%s/gone.git", fx->root);
	json_t    *r;

	r = run(fx, 1, request(fx, 1, url, 0));
	assert_string_equal(exfx_rstr(r, "status"), "failed");
	assert_string_equal(exfx_rstr(r, "failure_category"), "infra_tooling");
	assert_non_null(strstr(exfx_rstr(r, "failure_reason"), "git fetch"));
	assert_non_null(strstr(exfx_rstr(r, "failure_reason"),
	    "does not appear to be a git repository"));
	json_decref(r);
	/* a file:// remote works, and has a mirror of its own */
	free(url);
	url = xasprintf("file://%s", fx->origin);
	r   = run(fx, 2, request(fx, 2, url, 0));
	succeeded(fx, 2, r);
	json_decref(r);
	free(url);
}

/* wait_file waits (bounded) until path exists. */
static int
wait_file(const char *root, const char *name)
{
	char   *p     = xasprintf("%s/%s", root, name);
	int64_t until = mono_ms() + 20000;
	int     ok;

	while (!(ok = access(p, F_OK) == 0) && mono_ms() < until)
		sleep_ms(20);
	free(p);
	return (ok);
}

/* slow_fetch makes the mirror's next fetch announce itself (file
 * "fetching") and then stall for secs seconds in upload-pack. */
static void
slow_fetch(const struct fx *fx, const char *secs)
{
	assert_int_equal(
	    exfx_sh("set -e; printf '#!/bin/sh\\nif [ -e %s/slow ]; "
	            "then rm -f %s/slow; touch %s/fetching; sleep %s; "
	            "fi\\nexec git-upload-pack \"$@\"\\n' > %s/up.sh; "
	            "chmod +x %s/up.sh; touch %s/slow; rm -f "
	            "%s/fetching; git --git-dir=%s config "
	            "remote.origin.uploadpack %s/up.sh",
	        fx->root, fx->root, fx->root, secs, fx->root, fx->root,
	        fx->root, fx->root, fx->mirror, fx->root),
	    0);
}

/* The lock is respected: a run waits while another holds it.  kill -9 of
 * a run in the middle of its fetch: first the worker alone (the kernel
 * drops its lock; its fetch, an orphan now, is killed by the next run
 * before that one touches the mirror), then the worker and its fetch
 * (as the executor kills what a dead worker left, or a host going down
 * does), with the ref lock files a killed git can leave: the next run
 * does not wait, clears them, and fetches the new upstream commit over
 * them. */
static void
test_kill_mid_fetch(void **state)
{
	struct fx *fx = *state;
	json_t    *r;
	char      *cmd, *ws;

	r = run(fx, 1, request(fx, 1, NULL, 0));
	succeeded(fx, 1, r);
	json_decref(r);
	assert_int_equal(
	    exfx_sh("(flock %s/demo.lock sleep 1.2 & touch %s/held; "
	            "wait) > /dev/null 2>&1 &",
	        fx->mirrors, fx->root),
	    0);
	assert_true(wait_file(fx->root, "held"));
	r = run(fx, 2, request(fx, 2, NULL, 0));
	succeeded(fx, 2, r);
	assert_true(logged(fx, 2, "waited .* ms for"));
	assert_false(logged(fx, 2, "died holding the lock"));
	json_decref(r);

	upstream(fx, "three");
	slow_fetch(fx, "31.7");
	write_req(fx, 3, request(fx, 3, NULL, 0));
	cmd = cmdline(fx, 3, 1);
	assert_int_equal(exfx_sh("%s%s/pid3", cmd, fx->root), 0);
	free(cmd);
	assert_true(wait_file(fx->root, "fetching"));
	assert_int_equal(exfx_sh("kill -9 $(cat %s/pid3)", fx->root), 0);
	r = run(fx, 4, request(fx, 4, NULL, 0));
	succeeded(fx, 4, r);
	assert_true(logged(fx, 4, "died holding the lock; killed 1 git"));
	assert_false(logged(fx, 4, "waited"));
	assert_int_not_equal(
	    exfx_sh("pgrep -f 'slee[p] 31.7' > /dev/null"), 0);
	json_decref(r);
	fsck(fx->mirror);

	upstream(fx, "five");
	slow_fetch(fx, "31.7");
	write_req(fx, 5, request(fx, 5, NULL, 0));
	cmd = cmdline(fx, 5, 1);
	assert_int_equal(exfx_sh("%s%s/pid5", cmd, fx->root), 0);
	free(cmd);
	assert_true(wait_file(fx->root, "fetching"));
	assert_int_equal(exfx_sh("kill -9 $(cat %s/pid5); kill -9 -$(cat "
	                         "%s/kids5)",
	                     fx->root, fx->root),
	    0);
	assert_int_equal(
	    exfx_sh("touch %s/refs/heads/main.lock %s/packed-refs.lock",
	        fx->mirror, fx->mirror),
	    0);
	r = run(fx, 6, request(fx, 6, NULL, 0));
	succeeded(fx, 6, r);
	assert_true(logged(fx, 6,
	    "died holding the lock; killed 0 git "
	    "processes it left, removed 2 stale"));
	assert_false(logged(fx, 6, "waited"));
	assert_int_equal(
	    exfx_sh("test ! -e %s/refs/heads/main.lock", fx->mirror), 0);
	/* the new upstream commit was fetched through the stale ref lock */
	ws = xasprintf("%s/ws6", fx->root);
	assert_int_equal(exfx_sh("git -C %s log -1 --format=%%s HEAD~1 | "
	                         "grep -qx five",
	                     ws),
	    0);
	free(ws);
	json_decref(r);
	fsck(fx->mirror);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_workspace_is_shared_clone, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fetch_interval, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_concurrent_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_retention_and_gc, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fetch_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_kill_mid_fetch, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
