/*
 * branch_guard.c - branch safety: the checks of branch_guard.h.
 *
 * The name rules are git's own (git-check-ref-format(1), refs.c
 * check_refname_component(), and strbuf_check_branch_ref() for "-" and
 * "HEAD"), written out here so that the check needs no git process and
 * the unit test can drive it directly.  branch_guard_push() reads the
 * argv that is about to run, not a description of it: what it allows is
 * what git will do.  Options it does not know are refused, so a new git
 * option cannot widen what opcenter pushes without a change here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "branch_guard.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/util.h"

static const char *const default_protect[] = { "main", "master", NULL };

/* git -c keys a push may carry (case-insensitive prefixes): ours are
 * core.hooksPath and credential.helper; push.* and remote.* could push
 * more than the refspecs say (push.followTags, remote.*.mirror). */
static const char *const safe_config[] = { "core.hookspath=", "credential.",
	"http.", "protocol.version=", "user.", NULL };

/* push options that change nothing of what is pushed */
static const char *const plain_opts[] = { "--quiet", "-q", "--verbose", "-v",
	"--no-verify", "--porcelain", "--atomic", "--progress",
	"--no-progress", "--no-follow-tags", "--no-force-with-lease", NULL };

/* refuse sets *why to a new message (with BRANCH_GUARD_REASON first for
 * ERR_REFUSED) and returns rv. */
static int refuse(char **why, int rv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
refuse(char **why, int rv, const char *fmt, ...)
{
	char    m[512];
	va_list ap;

	va_start(ap, fmt);
	(void) vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	*why =
	    xasprintf("%s%s", rv == ERR_REFUSED ? BRANCH_GUARD_REASON : "", m);
	return (rv);
}

static int
in_list(const char *s, const char *const *l)
{
	for (; *l != NULL; l++)
		if (strcmp(s, *l) == 0)
			return (1);
	return (0);
}

/* bad_component returns why one slash-separated component of a ref is
 * invalid, or NULL. */
static const char *
bad_component(const char *c, size_t n)
{
	if (n == 0)
		return ("an empty component (\"//\", or a leading or trailing "
		        "\"/\")");
	if (c[0] == '.')
		return ("a component starting with \".\"");
	if (n >= 5 && memcmp(c + n - 5, ".lock", 5) == 0)
		return ("a component ending in \".lock\"");
	return (NULL);
}

int
branch_guard_ref_ok(const char *b, char **why)
{
	const char *p, *c, *w;
	size_t      n = strlen(b);

	if (n == 0)
		return (refuse(why, ERR_INVAL, "an empty branch name"));
	if (b[0] == '-')
		return (refuse(why, ERR_INVAL,
		    "branch '%s' starts with \"-\" (an option to git)", b));
	if (strcmp(b, "@") == 0 || strcmp(b, "HEAD") == 0)
		return (
		    refuse(why, ERR_INVAL, "'%s' is not a branch name", b));
	if (b[n - 1] == '.')
		return (
		    refuse(why, ERR_INVAL, "branch '%s' ends with \".\"", b));
	if (strstr(b, "..") != NULL)
		return (
		    refuse(why, ERR_INVAL, "branch '%s' contains \"..\"", b));
	if (strstr(b, "@{") != NULL)
		return (
		    refuse(why, ERR_INVAL, "branch '%s' contains \"@{\"", b));
	for (p = b; *p != '\0'; p++)
		if ((unsigned char) *p < 0x20 || *p == 0x7f ||
		    strchr(" ~^:?*[\\", *p) != NULL)
			return (refuse(why, ERR_INVAL,
			    "branch name contains a forbidden character "
			    "(0x%02x)",
			    (unsigned char) *p));
	for (c = b;; c = p + 1) {
		p = strchr(c, '/');
		if (p == NULL)
			p = c + strlen(c);
		if ((w = bad_component(c, (size_t) (p - c))) != NULL)
			return (refuse(
			    why, ERR_INVAL, "branch '%s' has %s", b, w));
		if (*p == '\0')
			break;
	}
	return (0);
}

int
branch_guard_prefix_ok(const char *prefix, char **why)
{
	char *probe, *inner = NULL;
	int   rv;

	if (prefix == NULL || prefix[strspn(prefix, "/")] == '\0')
		return (refuse(why, ERR_CONFIG,
		    "git.branch_prefix '%s': must name a branch prefix such "
		    "as \"opcenter/\" (empty or only \"/\" would allow every "
		    "branch)",
		    prefix != NULL ? prefix : ""));
	if (prefix[0] == '/' || prefix[0] == '-' ||
	    strncmp(prefix, "refs/", 5) == 0)
		return (refuse(why, ERR_CONFIG,
		    "git.branch_prefix '%s': may not start with \"/\", \"-\" "
		    "or \"refs/\" (it is the start of a branch name)",
		    prefix));
	probe = xasprintf("%sx", prefix);
	rv    = branch_guard_ref_ok(probe, &inner);
	free(probe);
	if (rv != 0) {
		rv = refuse(why, ERR_CONFIG,
		    "git.branch_prefix '%s': not the start of a valid branch "
		    "name (%s)",
		    prefix, inner);
		free(inner);
	}
	return (rv);
}

/* one_line turns the control bytes of a message quoting the file into
 * '?' (a problem is one line) and returns ERR_CONFIG. */
static int
one_line(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char) *s < 0x20 || *s == 0x7f)
			*s = '?';
	return (ERR_CONFIG);
}

int
branch_guard_check_config(
    const struct cfg_node *root, char *err, size_t errlen)
{
	const struct cfg_node *git   = cfg_get(root, "git"),
	                      *repos = cfg_get(root, "repos"), *pb, *n;
	const char *prefix           = BRANCH_GUARD_DEFAULT_PREFIX;
	char        where[256], *why = NULL;
	size_t      i, j;

	if ((n = cfg_get(git, "branch_prefix")) != NULL)
		prefix = cfg_str(n) != NULL ? cfg_str(n) : "";
	if (branch_guard_prefix_ok(prefix, &why) != 0) {
		cfg_where(n != NULL ? n : root, where, sizeof(where));
		snprintf(err, errlen, "%s: %s", where, why);
		free(why);
		return (one_line(err));
	}
	for (i = 0; i < cfg_len(repos); i++) {
		pb = cfg_get(cfg_at(repos, i), "protected_branches");
		for (j = 0; j < cfg_len(pb); j++) {
			n = cfg_at(pb, j);
			if (cfg_str(n) == NULL ||
			    branch_guard_ref_ok(cfg_str(n), &why) == 0)
				continue; /* not a string: cfg_check says so */
			cfg_where(n, where, sizeof(where));
			snprintf(err, errlen,
			    "%s: repos.%s.protected_branches[%zu]: %s", where,
			    cfg_key_at(repos, i), j, why);
			free(why);
			return (one_line(err));
		}
	}
	return (0);
}

int
branch_guard_branch(
    const struct branch_rules *r, const char *branch, char **why)
{
	const char *const *l =
	    r->protect != NULL ? r->protect : default_protect;
	char  *inner = NULL;
	size_t pl    = strlen(r->prefix);

	if (branch_guard_ref_ok(branch, &inner) != 0) {
		(void) refuse(
		    why, ERR_REFUSED, "invalid branch name: %s", inner);
		free(inner);
		return (ERR_REFUSED);
	}
	for (; *l != NULL; l++)
		if (strcasecmp(branch, *l) == 0)
			return (refuse(why, ERR_REFUSED,
			    "branch '%s' is protected (protected_branches)",
			    branch));
	if (r->default_branch != NULL &&
	    strcasecmp(branch, r->default_branch) == 0)
		return (refuse(why, ERR_REFUSED,
		    "branch '%s' is the repository's default branch", branch));
	if (r->base_branch != NULL && strcasecmp(branch, r->base_branch) == 0)
		return (refuse(why, ERR_REFUSED,
		    "branch '%s' is the run's base branch", branch));
	if (pl == 0 || strncmp(branch, r->prefix, pl) != 0 ||
	    branch[pl] == '\0')
		return (refuse(why, ERR_REFUSED,
		    "branch '%s' is not under opcenter's prefix '%s' "
		    "(git.branch_prefix)",
		    branch, r->prefix));
	return (0);
}

static int
config_safe(const char *kv)
{
	const char *const *s;

	for (s = safe_config; *s != NULL; s++)
		if (strncasecmp(kv, *s, strlen(*s)) == 0)
			return (1);
	return (0);
}

/* own_ref: ref names the task branch (short or full form). */
static int
own_ref(const struct branch_rules *r, const char *ref, size_t n)
{
	size_t tl = strlen(r->task_branch);

	if (n > 11 && strncmp(ref, "refs/heads/", 11) == 0) {
		ref += 11;
		n -= 11;
	}
	return (n == tl && strncmp(ref, r->task_branch, n) == 0);
}

int
branch_guard_push(const struct branch_rules *r, char *const *argv, char **why)
{
	const char *a, *colon, *lease = NULL;
	size_t      i = 1, nspec = 0;
	int         rv;

	if (argv == NULL || argv[0] == NULL)
		return (refuse(why, ERR_REFUSED, "no git command"));
	/* git's own options, up to the "push" command */
	for (; (a = argv[i]) != NULL && strcmp(a, "push") != 0; i++) {
		if (strcmp(a, "-c") == 0 && argv[i + 1] != NULL) {
			if (!config_safe(argv[++i]))
				return (refuse(why, ERR_REFUSED,
				    "git -c %.*s is not allowed on a push",
				    (int) strcspn(argv[i], "="), argv[i]));
		} else if (strcmp(a, "-C") == 0 && argv[i + 1] != NULL)
			i++;
		else if (a[0] != '-')
			return (refuse(
			    why, ERR_REFUSED, "not a git push ('%s')", a));
		else if (strncmp(a, "--git-dir=", 10) != 0)
			return (refuse(why, ERR_REFUSED,
			    "git option '%s' is not allowed on a push", a));
	}
	if (a == NULL)
		return (refuse(why, ERR_REFUSED, "not a git push"));
	/* push's options, up to "--" or the remote */
	for (i++; (a = argv[i]) != NULL && a[0] == '-'; i++) {
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (in_list(a, plain_opts))
			continue;
		if (strcmp(a, "--force") == 0 || strcmp(a, "-f") == 0)
			return (refuse(why, ERR_REFUSED,
			    "a bare %s is never used: only "
			    "--force-with-lease=<ref>:<expected> on the "
			    "task branch",
			    a));
		if (strncmp(a, "--force-with-lease", 18) == 0) {
			lease = a[18] == '=' ? a + 19 : "";
			colon = strchr(lease, ':');
			if (colon == NULL || colon[1] == '\0')
				return (refuse(why, ERR_REFUSED,
				    "%s: a forced push needs "
				    "--force-with-lease=<ref>:<expected>",
				    a));
			if (!own_ref(r, lease, (size_t) (colon - lease)))
				return (refuse(why, ERR_REFUSED,
				    "%s: only the task branch '%s' may be "
				    "forced",
				    a, r->task_branch));
			continue;
		}
		return (refuse(why, ERR_REFUSED,
		    "git push option '%s' is not allowed", a));
	}
	if (argv[i] == NULL)
		return (refuse(why, ERR_REFUSED, "git push without a remote"));
	for (i++; (a = argv[i]) != NULL; i++, nspec++) {
		if (a[0] == '+')
			return (refuse(why, ERR_REFUSED,
			    "refspec '%s' forces (\"+\"): only "
			    "--force-with-lease=<ref>:<expected> on the "
			    "task branch",
			    a));
		colon = strchr(a, ':');
		if (colon == NULL || colon == a)
			return (refuse(why, ERR_REFUSED,
			    "refspec '%s': each must be "
			    "<commit>:refs/heads/<branch> (%s)",
			    a,
			    colon == NULL ? "no explicit destination"
			                  : "an empty source deletes"));
		if (strncmp(colon + 1, "refs/heads/", 11) != 0)
			return (refuse(why, ERR_REFUSED,
			    "refspec '%s': the destination must be a branch "
			    "(refs/heads/...)",
			    a));
		if ((rv = branch_guard_branch(r, colon + 12, why)) != 0)
			return (rv);
		if (lease != NULL &&
		    !own_ref(r, colon + 12, strlen(colon + 12)))
			return (refuse(why, ERR_REFUSED,
			    "a forced push may only update the task branch "
			    "'%s', not '%s'",
			    r->task_branch, colon + 12));
	}
	if (nspec == 0)
		return (refuse(why, ERR_REFUSED,
		    "git push without a refspec (git would choose the "
		    "branches)"));
	return (0);
}

int
branch_guard_refused(const char *category, const char *reason)
{
	return (category != NULL && reason != NULL &&
	    strcmp(category, BRANCH_GUARD_CATEGORY) == 0 &&
	    strncmp(reason, BRANCH_GUARD_REASON,
	        strlen(BRANCH_GUARD_REASON)) == 0);
}
