/*
 * branch_guard.h - branch safety: where opcenter may push (issue 20).
 *
 * opcenter pushes only to branches under its configured prefix
 * (git.branch_prefix), never to a protected branch, the repo's default
 * branch or the run's base branch, and forces (only with
 * --force-with-lease=<ref>:<expected>) nothing but the run's own task
 * branch.  Every `git push` the worker makes goes through
 * branch_guard_push() with its exact argv first; a refused push pushes
 * nothing and fails the run with BRANCH_GUARD_CATEGORY and a reason that
 * starts with BRANCH_GUARD_REASON and names the rule.  Pure string
 * checks: no git, no I/O, so the executor (config at start) and the
 * worker (before each push) share them.
 */
#ifndef OPC_BRANCH_GUARD_H
#define OPC_BRANCH_GUARD_H

#include <stddef.h>

/* the failure category of a refused push (a policy refusal, like
 * scope_policy's paths: retrying the same run cannot help) */
#define BRANCH_GUARD_CATEGORY "scope_policy"
/* every refusal's reason starts with it */
#define BRANCH_GUARD_REASON "branch safety: "
/* git.branch_prefix's default (Renovate's "renovate/", Dependabot's
 * "dependabot/") */
#define BRANCH_GUARD_DEFAULT_PREFIX "opcenter/"

/*
 * The rules of one run.  Every pointer is borrowed.  protect is a
 * NULL-terminated list of protected branch names; NULL means "main" and
 * "master".  base_branch and default_branch are protected as well when
 * set (default_branch NULL: not known).
 */
struct branch_rules {
	const char        *prefix;
	const char        *task_branch;
	const char        *base_branch;
	const char        *default_branch;
	const char *const *protect;
};

/* branch_guard_ref_ok checks that branch is a valid branch name as
 * `git check-ref-format --branch` has it (git-check-ref-format(1): no
 * "..", "@{", control characters, space, ~ ^ : ? * [ \, no component
 * starting with "." or ending in ".lock", no leading "-", not "@" nor
 * "HEAD", ...).  0, or ERR_INVAL with *why a new message. */
int branch_guard_ref_ok(const char *branch, char **why);

/* branch_guard_prefix_ok checks a configured prefix: non-empty, not only
 * slashes, not starting with "/" or "-" or "refs/", and such that
 * prefix + "x" is a valid branch name.  0, or ERR_CONFIG with *why a new
 * message. */
int branch_guard_prefix_ok(const char *prefix, char **why);

struct cfg_node;
/* branch_guard_check_config checks the branch-safety settings of a whole
 * config file (root: its top level) at start: git.branch_prefix
 * (branch_guard_prefix_ok) and each repos.<key>.protected_branches entry
 * (a valid branch name).  0, or ERR_CONFIG with "file:line:col: key:
 * why" in err. */
int branch_guard_check_config(
    const struct cfg_node *root, char *err, size_t errlen);

/* branch_guard_branch checks that the run may push to branch: a valid
 * name, strictly under r->prefix, and none of the protected, default or
 * base branches (compared without regard to case).  0, or ERR_REFUSED
 * with *why a new message starting with BRANCH_GUARD_REASON. */
int branch_guard_branch(
    const struct branch_rules *r, const char *branch, char **why);

/* branch_guard_push checks a whole `git push` argv (NULL-terminated,
 * "git" first) before it runs: git options limited to -c of known-safe
 * keys, --git-dir= and -C; push options limited to a known list (no
 * --mirror, --all, --branches, --tags, --follow-tags, --delete, --prune,
 * --receive-pack, --exec, --repo, --push-option); a remote and at least
 * one refspec, each "<src>:refs/heads/<branch>" with a non-empty src and
 * a branch that branch_guard_branch() allows.  A force (--force, -f, a
 * "+" refspec) is refused; --force-with-lease=<ref>:<expected> only when
 * ref and every destination are the task branch.  0, or ERR_REFUSED with
 * *why a new message starting with BRANCH_GUARD_REASON. */
int branch_guard_push(
    const struct branch_rules *r, char *const *argv, char **why);

/* branch_guard_refused: a result with this category and reason was a
 * push that branch safety refused (the executor counts them). */
int branch_guard_refused(const char *category, const char *reason);

#endif
