/*
 * test_branch_guard.c - branch safety (branch_guard.h, issue 20): each
 * rule a push can break, tried on the exact argv the worker runs; branch
 * names against git check-ref-format's rules; the configured prefix and
 * protected branches as the config check sees them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "branch_guard.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/util.h"

#define TASK "opcenter/goal/T-1-abcdef12"
#define SHA "0123456789abcdef0123456789abcdef01234567"

static const struct branch_rules rules = {
	.prefix         = "opcenter/",
	.task_branch    = TASK,
	.base_branch    = "develop",
	.default_branch = "trunk",
	.protect        = NULL, /* main, master */
};

/* push runs the guard on a NULL-terminated argv and returns its answer;
 * a refusal's reason must start with BRANCH_GUARD_REASON and contain
 * want (NULL: the push must pass). */
static void
push(const struct branch_rules *r, const char *want, ...)
{
	const char *v[32];
	size_t      n   = 0;
	char       *why = NULL;
	va_list     ap;
	int         rv;

	va_start(ap, want);
	while (n < nitems(v) - 1 && (v[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	v[n] = NULL;
	rv   = branch_guard_push(r, (char *const *) v, &why);
	if (want == NULL) {
		if (rv != 0)
			fail_msg("refused: %s", why);
		assert_null(why);
		return;
	}
	assert_int_equal(rv, ERR_REFUSED);
	assert_non_null(why);
	if (strncmp(why, BRANCH_GUARD_REASON, strlen(BRANCH_GUARD_REASON)) !=
	        0 ||
	    strstr(why, want) == NULL)
		fail_msg("reason '%s' lacks '%s'", why, want);
	assert_true(branch_guard_refused(BRANCH_GUARD_CATEGORY, why));
	free(why);
}

/* the worker's own push (workspace.c) passes */
static void
test_worker_push_passes(void **state)
{
	(void) state;
	push(&rules, NULL, "git", "--git-dir=/tmp/opc-push.x", "-c",
	    "core.hooksPath=/dev/null", "-c", "credential.helper=", "-c",
	    "credential.helper=!'/usr/bin/opc-git-credential'", "push",
	    "--quiet", "--no-verify", "--", "https://github.com/acme/demo",
	    SHA ":refs/heads/" TASK, NULL);
	/* another branch under the prefix, not forced: allowed */
	push(&rules, NULL, "git", "push", "--", "/srv/origin.git",
	    SHA ":refs/heads/opcenter/other", NULL);
}

static void
test_outside_prefix(void **state)
{
	struct branch_rules r = rules;

	(void) state;
	push(&rules, "not under opcenter's prefix", "git", "push", "--", "u",
	    SHA ":refs/heads/goal/T-1", NULL);
	/* the prefix alone is not a branch under it */
	push(&rules, "invalid branch name", "git", "push", "u",
	    SHA ":refs/heads/opcenter/", NULL);
	r.prefix = "opcenter";
	push(&r, "not under", "git", "push", "u", SHA ":refs/heads/opcenter",
	    NULL);
	/* "opcenterx/..." is not under "opcenter/" */
	push(&rules, "not under", "git", "push", "u",
	    SHA ":refs/heads/opcenterx/a", NULL);
	/* not a branch at all */
	push(&rules, "must be a branch", "git", "push", "u",
	    SHA ":refs/tags/opcenter/v1", NULL);
	push(&rules, "must be a branch", "git", "push", "u",
	    SHA ":refs/opcenter/x", NULL);
}

static void
test_protected_default_base(void **state)
{
	static const char *const mine[] = { "opcenter/release", NULL };
	struct branch_rules      r      = rules;

	(void) state;
	/* a prefix that covers them: every such branch still refused */
	r.prefix = "m";
	push(
	    &r, "protected", "git", "push", "u", SHA ":refs/heads/main", NULL);
	push(&r, "protected", "git", "push", "u", SHA ":refs/heads/Master",
	    NULL);
	r.prefix = "t";
	push(&r, "default branch", "git", "push", "u", SHA ":refs/heads/trunk",
	    NULL);
	r.prefix = "d";
	push(&r, "base branch", "git", "push", "u", SHA ":refs/heads/develop",
	    NULL);
	/* a configured list replaces main, master */
	r         = rules;
	r.protect = mine;
	push(&r, "protected", "git", "push", "u",
	    SHA ":refs/heads/opcenter/release", NULL);
	r.prefix = "m";
	push(&r, NULL, "git", "push", "u", SHA ":refs/heads/main", NULL);
	/* the task branch itself may be protected: refused too */
	r             = rules;
	r.task_branch = "opcenter/release";
	r.protect     = mine;
	push(&r, "protected", "git", "push", "u",
	    SHA ":refs/heads/opcenter/release", NULL);
}

static void
test_force(void **state)
{
	(void) state;
	push(&rules, "bare --force", "git", "push", "--force", "u",
	    SHA ":refs/heads/" TASK, NULL);
	push(&rules, "bare -f", "git", "push", "-f", "u",
	    SHA ":refs/heads/" TASK, NULL);
	push(&rules, "forces (\"+\")", "git", "push", "u",
	    "+" SHA ":refs/heads/" TASK, NULL);
	/* a lease on the task branch with its expected value: allowed */
	push(&rules, NULL, "git", "push",
	    "--force-with-lease=refs/heads/" TASK ":" SHA, "u",
	    SHA ":refs/heads/" TASK, NULL);
	push(&rules, NULL, "git", "push", "--force-with-lease=" TASK ":" SHA,
	    "u", SHA ":refs/heads/" TASK, NULL);
	/* a lease without the expected value */
	push(&rules, "needs --force-with-lease=<ref>:<expected>", "git",
	    "push", "--force-with-lease", "u", SHA ":refs/heads/" TASK, NULL);
	push(&rules, "needs", "git", "push", "--force-with-lease=" TASK, "u",
	    SHA ":refs/heads/" TASK, NULL);
	/* a lease on another branch, or forcing another one */
	push(&rules, "only the task branch", "git", "push",
	    "--force-with-lease=opcenter/other:" SHA, "u",
	    SHA ":refs/heads/opcenter/other", NULL);
	push(&rules, "may only update the task branch", "git", "push",
	    "--force-with-lease=" TASK ":" SHA, "u", SHA ":refs/heads/" TASK,
	    SHA ":refs/heads/opcenter/other", NULL);
}

static void
test_refspecs_and_options(void **state)
{
	(void) state;
	push(&rules, "without a refspec", "git", "push", "u", NULL);
	push(&rules, "without a remote", "git", "push", "--", NULL);
	push(
	    &rules, "no explicit destination", "git", "push", "u", TASK, NULL);
	push(&rules, "an empty source deletes", "git", "push", "u",
	    ":refs/heads/" TASK, NULL);
	push(&rules, "'--delete' is not allowed", "git", "push", "--delete",
	    "u", SHA ":refs/heads/" TASK, NULL);
	push(&rules, "'--mirror'", "git", "push", "--mirror", "u", NULL);
	push(&rules, "'--all'", "git", "push", "--all", "u", NULL);
	push(&rules, "'--tags'", "git", "push", "--tags", "u",
	    SHA ":refs/heads/" TASK, NULL);
	push(&rules, "'--prune'", "git", "push", "--prune", "u",
	    SHA ":refs/heads/" TASK, NULL);
	push(&rules, "'--receive-pack=x'", "git", "push", "--receive-pack=x",
	    "u", SHA ":refs/heads/" TASK, NULL);
	push(&rules, "git -c push.followTags", "git", "-c",
	    "push.followTags=true", "push", "u", SHA ":refs/heads/" TASK,
	    NULL);
	push(&rules, "git -c remote.origin.mirror", "git", "-c",
	    "remote.origin.mirror=true", "push", "u", SHA ":refs/heads/" TASK,
	    NULL);
	push(&rules, "git option '--exec-path=/x'", "git", "--exec-path=/x",
	    "push", "u", SHA ":refs/heads/" TASK, NULL);
	push(&rules, "not a git push", "git", "fetch", "u", NULL);
	push(&rules, "invalid branch name", "git", "push", "u",
	    SHA ":refs/heads/opcenter/a..b", NULL);
}

static void
check_ref(const char *name, int ok)
{
	char *why = NULL;
	int   rv  = branch_guard_ref_ok(name, &why);

	if (ok && rv != 0)
		fail_msg("'%s' refused: %s", name, why);
	if (!ok && rv == 0)
		fail_msg("'%s' accepted", name);
	free(why);
}

/* git-check-ref-format(1), with --branch */
static void
test_ref_format(void **state)
{
	(void) state;
	check_ref("opcenter/goal/T-1-abcdef12", 1);
	check_ref("a", 1);
	check_ref("feature/x.y", 1);
	check_ref("a@b", 1);
	check_ref("", 0);
	check_ref("-x", 0);
	check_ref("@", 0);
	check_ref("HEAD", 0);
	check_ref("a..b", 0);
	check_ref("a@{1}", 0);
	check_ref("a.", 0);
	check_ref("a/.b", 0);
	check_ref(".a", 0);
	check_ref("a.lock", 0);
	check_ref("a/b.lock/c", 0);
	check_ref("a//b", 0);
	check_ref("/a", 0);
	check_ref("a/", 0);
	check_ref("a b", 0);
	check_ref("a~1", 0);
	check_ref("a^", 0);
	check_ref("a:b", 0);
	check_ref("a?", 0);
	check_ref("a*", 0);
	check_ref("a[b", 0);
	check_ref("a\\b", 0);
	check_ref("a\tb", 0);
	check_ref("a\x7f", 0);
}

static void
check_prefix(const char *p, int ok)
{
	char *why = NULL;
	int   rv  = branch_guard_prefix_ok(p, &why);

	if (ok && rv != 0)
		fail_msg("prefix '%s' refused: %s", p, why);
	if (!ok && rv != ERR_CONFIG)
		fail_msg("prefix '%s' accepted", p);
	free(why);
}

static void
test_prefix(void **state)
{
	(void) state;
	check_prefix("opcenter/", 1);
	check_prefix("bots/opc-", 1);
	check_prefix("", 0);
	check_prefix("/", 0);
	check_prefix("//", 0);
	check_prefix("/opc/", 0);
	check_prefix("-opc/", 0);
	check_prefix("refs/heads/", 0);
	check_prefix("a..", 0);
	check_prefix("a b/", 0);
	check_prefix(NULL, 0);
}

static void
check_config(const char *yaml, const char *want)
{
	struct cfg *c = NULL;
	char        err[512];
	int         rv;

	assert_int_equal(
	    cfg_parse(&c, "t.yaml", yaml, strlen(yaml), err, sizeof(err)), 0);
	rv = branch_guard_check_config(cfg_root(c), err, sizeof(err));
	if (want == NULL)
		assert_int_equal(rv, 0);
	else {
		assert_int_equal(rv, ERR_CONFIG);
		if (strstr(err, want) == NULL)
			fail_msg("'%s' lacks '%s'", err, want);
	}
	cfg_close(&c);
}

static void
test_config(void **state)
{
	(void) state;
	check_config("git: {token_env: T}\n", NULL);
	check_config("git: {branch_prefix: bots/}\n", NULL);
	check_config("git: {branch_prefix: ''}\n", "t.yaml:1:");
	check_config("git: {branch_prefix: /}\n", "git.branch_prefix '/'");
	check_config("git:\n  branch_prefix:\n", "git.branch_prefix ''");
	check_config("repos:\n  demo:\n    protected_branches: [main, "
	             "'a..b']\n",
	    "repos.demo.protected_branches[1]");
	check_config("repos:\n  demo:\n    protected_branches: [main, "
	             "release]\n",
	    NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worker_push_passes),
		cmocka_unit_test(test_outside_prefix),
		cmocka_unit_test(test_protected_default_base),
		cmocka_unit_test(test_force),
		cmocka_unit_test(test_refspecs_and_options),
		cmocka_unit_test(test_ref_format),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_config),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
