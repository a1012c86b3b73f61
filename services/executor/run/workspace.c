/*
 * workspace.c - the git side of a run: clone and branch before the
 * backend, commit and push after it.
 *
 * The clone is, when the request names a mirror directory (the
 * executor's mirror: section, on by default), `git clone --shared` of the
 * repo's bare mirror on this host, fetched and kept by mirror.c, with
 * origin set back to the clone URL; otherwise a full clone of the clone
 * URL.  Either way the branch, commit and push below are the same.
 *
 * git runs through proc_run() with an argv, never a shell, and with
 * GIT_TERMINAL_PROMPT=0 so a credential prompt fails instead of hanging.
 * A failing git command fails the run as infra_tooling, and its reason
 * names the command and quotes its stderr.  A failed push fails the run
 * too: the work did not reach the remote.
 *
 * The GitHub token reaches git only through opc-git-credential, a
 * credential helper (credential.c), named on the command line
 * (-c credential.helper=, which also drops the operator's own helpers so
 * that none of them stores the token) and given the token in the
 * environment of the two git processes that talk to the remote: the clone
 * (before the backend runs) and the push.  Never in argv, a URL, a git
 * config file or a log.  The push does not run in the workspace, whose
 * .git the backend could have changed (hooks, a remote URL, http.proxy, a
 * helper of its own): it runs in a fresh bare repository outside the
 * workspace that borrows the workspace's objects (objects/info/
 * alternates) and pushes the commit by its SHA to the clone URL.  Remotes
 * that are not http(s) (local paths, file://) get no token and push the
 * same way.
 *
 * Branch safety (branch_guard.h): a run that will push checks its task
 * branch before the clone (prefix, protected and base branches), and
 * every push checks its own argv right before git runs, with the
 * remote's default branch asked from the remote itself (`git ls-remote
 * --symref`, from the push's fresh repository, never the workspace).  A
 * refusal pushes nothing and fails the run as BRANCH_GUARD_CATEGORY.
 *
 * A backend configured with `workspace: scratch` gets an empty directory
 * instead of a clone: no git at all, no branch, no commit, no push.  It
 * exists to measure and load-test the rest of the execution path (the
 * stub backend without git's cost); its results say
 * changed_files_source "workspace_listing" and carry no branch.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "branch_guard.h"
#include "opc/err.h"
#include "opc/log.h"
#include "run.h"

#define GIT_TIMEOUT_MS (10 * 60 * 1000)
#define GIT_MAX_OUTPUT ((size_t) 64 * 1024 * 1024)
#define REASON_EXCERPT 300
#define TITLE_MAX 72

extern char **environ;

/* one_line returns a new copy of the first max bytes of s with every run
 * of whitespace collapsed to one space and the ends trimmed. */
static char *
one_line(const char *s, size_t max)
{
	struct buf b;
	int        sp = 0;

	buf_init(&b);
	for (; *s != '\0' && b.len < max; s++) {
		if (isspace((unsigned char) *s)) {
			sp = b.len > 0;
			continue;
		}
		if (sp)
			buf_append(&b, " ", 1);
		sp = 0;
		buf_append(&b, s, 1);
	}
	buf_cstr(&b);
	return (b.data);
}

void
workspace_scrub(char *s, const char *secret)
{
	size_t n = secret != NULL ? strlen(secret) : 0;
	char  *p;

	if (n < 4)
		return;
	while ((p = strstr(s, secret)) != NULL) {
		memcpy(p, "***", 3);
		memmove(p + 3, p + n, strlen(p + n) + 1);
	}
}

/* git_run is workspace_git_argv; finish lets git end whatever stops the
 * worker meanwhile (proc_opts.finish), GIT_TIMEOUT_MS still bounding it */
static int
git_run(struct proc_result *r, const char *dir, char *const *envp,
    const struct strv *argv, const char *shown, char **reason, int finish)
{
	struct proc_opts o;
	char            *cmd, *how, *tail;
	int              rv;

	memset(&o, 0, sizeof(o));
	o.argv       = argv->v;
	o.cwd        = dir;
	o.envp       = envp;
	o.timeout_ms = GIT_TIMEOUT_MS;
	o.grace_ms   = 5000;
	o.max_output = GIT_MAX_OUTPUT;
	o.finish     = finish;
	rv           = proc_run(r, &o);
	if (rv == 0 && r->exit_code == 0)
		return (0);
	cmd  = shown != NULL ? xstrdup(shown) : strv_join(argv, " ");
	how  = proc_describe(r);
	tail = one_line(
	    r->err.len > 0 ? r->err.data : r->out.data, REASON_EXCERPT);
	*reason = xasprintf(
	    "%s failed (%s)%s%s", cmd, how, tail[0] != '\0' ? ": " : "", tail);
	free(tail);
	free(how);
	free(cmd);
	return (ERR_IO);
}

int
workspace_git_argv(struct proc_result *r, const char *dir, char *const *envp,
    const struct strv *argv, const char *shown, char **reason)
{
	return (git_run(r, dir, envp, argv, shown, reason, 0));
}

static int
git_vrun(struct proc_result *r, const char *dir, char **reason, va_list ap)
{
	struct strv argv = { 0 };
	const char *a;
	int         rv;

	strv_push(&argv, "git");
	while ((a = va_arg(ap, const char *)) != NULL)
		strv_push(&argv, a);
	rv = workspace_git_argv(r, dir, NULL, &argv, NULL, reason);
	strv_free(&argv);
	return (rv);
}

/* endpoint_of returns "scheme://host[:port]" of an http(s) URL (user info
 * dropped, scheme lowercased), or NULL for any other remote. */
static char *
endpoint_of(const char *url)
{
	const char *p, *at, *end;
	size_t      sl;

	if (strncasecmp(url, "https://", 8) == 0)
		sl = 5;
	else if (strncasecmp(url, "http://", 7) == 0)
		sl = 4;
	else
		return (NULL);
	p   = url + sl + 3;
	end = p + strcspn(p, "/?#");
	if ((at = memchr(p, '@', (size_t) (end - p))) != NULL)
		p = at + 1;
	if (end == p)
		return (NULL);
	return (xasprintf(
	    "%s://%.*s", sl == 5 ? "https" : "http", (int) (end - p), p));
}

char **
workspace_net_env(const struct exec_run *x, struct strv *env)
{
	const char *tok = x->req->github_token;
	char      **e, *ep;

	if (tok == NULL || *tok == '\0' ||
	    (ep = endpoint_of(x->req->clone_url)) == NULL)
		return (NULL);
	for (e = environ; *e != NULL; e++)
		strv_push(env, *e);
	strv_setenv(env, "OPC_GIT_TOKEN", tok);
	strv_setenv(env, "OPC_GIT_ENDPOINT", ep);
	free(ep);
	return (env->v);
}

void
workspace_net_args(struct strv *argv)
{
	char       *helper = exe_sibling("opc-git-credential");
	struct buf  b;
	const char *p;

	buf_init(&b);
	buf_puts(&b, "credential.helper=!'");
	for (p = helper; *p != '\0'; p++) {
		if (*p == '\'')
			buf_puts(&b, "'\\''");
		else
			buf_append(&b, p, 1);
	}
	buf_puts(&b, "'");
	strv_push(argv, "-c");
	strv_push(argv, "credential.helper="); /* no other helper */
	strv_push(argv, "-c");
	strv_push(argv, buf_cstr(&b));
	buf_fini(&b);
	free(helper);
}

int
workspace_git(struct proc_result *r, const char *dir, char **reason, ...)
{
	va_list ap;
	int     rv;

	va_start(ap, reason);
	rv = git_vrun(r, dir, reason, ap);
	va_end(ap);
	return (rv);
}

/* git_do is workspace_git without the output: a failure fails the run as
 * infra_tooling. */
static int
git_do(struct exec_run *x, const char *dir, ...)
{
	struct proc_result r;
	va_list            ap;
	char              *reason = NULL;
	int                rv;

	va_start(ap, dir);
	rv = git_vrun(&r, dir, &reason, ap);
	va_end(ap);
	proc_result_fini(&r);
	if (rv != 0)
		run_fail(x, "infra_tooling", reason);
	return (rv);
}

/* clone clones the repository into the workspace (no mirror), with the
 * token when the remote may ask for it (a private repository). */
static int
clone(struct exec_run *x)
{
	struct proc_result r;
	struct strv        argv = { 0 }, env = { 0 };
	char **envp = workspace_net_env(x, &env), *reason = NULL, *shown;
	int    rv;

	strv_push(&argv, "git");
	if (envp != NULL)
		workspace_net_args(&argv);
	strv_push(&argv, "clone");
	strv_push(&argv, "--quiet");
	strv_push(&argv, "--");
	strv_push(&argv, x->req->clone_url);
	strv_push(&argv, x->ws);
	shown = xasprintf("git clone %s", x->req->clone_url);
	if ((rv = workspace_git_argv(&r, NULL, envp, &argv, shown, &reason)) !=
	    0) {
		workspace_scrub(reason, x->req->github_token);
		run_fail(x, "infra_tooling", reason);
	}
	proc_result_fini(&r);
	strv_free(&argv);
	strv_free(&env);
	free(shown);
	return (rv);
}

static int
dir_usable(const char *dir)
{
	struct dirent *de;
	DIR           *d;
	int            empty = 1;

	if ((d = opendir(dir)) == NULL)
		return (errno == ENOENT);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	return (empty);
}

int
workspace_prepare(struct exec_run *x)
{
	const struct exec_req *rq = x->req;
	char                  *exclude, *info;
	FILE                  *f;
	int64_t                t0;
	int                    fetched = 0;

	if (!dir_usable(x->ws)) {
		run_fail(x, "infra_tooling",
		    xasprintf("workspace %s exists "
		              "and is not empty",
		        x->ws));
		return (ERR_EXISTS);
	}
	if (rq->push_on_success && !rq->bk.scratch) {
		struct branch_rules br;
		char               *why = NULL;

		/* refused before the backend spends anything */
		workspace_branch_rules(&br, x);
		if (branch_guard_branch(&br, rq->task_branch, &why) != 0) {
			log_warn("run.branch", "run %s: %s", rq->run_id, why);
			run_fail(x, BRANCH_GUARD_CATEGORY, why);
			return (ERR_REFUSED);
		}
	}
	if (rq->bk.scratch) {
		/* No repository: an empty directory for the backend, no
		 * branch, nothing to commit or push (benchmarks, load
		 * tests). */
		if (mkdirs(x->opc, 0755) != 0) {
			run_fail(x, "infra_tooling",
			    xasprintf("cannot create %s", x->opc));
			return (ERR_IO);
		}
		x->ws_ready = 1;
		return (0);
	}
	t0 = mono_ms();
	if ((rq->mirror_dir != NULL ? mirror_clone(x, &fetched) : clone(x)) !=
	        0 ||
	    proc_stop ||
	    git_do(x, x->ws, "checkout", "--quiet", rq->base_branch, NULL) !=
	        0 ||
	    git_do(x, x->ws, "checkout", "--quiet", "-b", rq->task_branch,
	        NULL) != 0 ||
	    git_do(x, x->ws, "config", "user.name", rq->git_name, NULL) != 0 ||
	    git_do(x, x->ws, "config", "user.email", rq->git_email, NULL) != 0)
		return (ERR_IO);

	info = xasprintf("%s/.git/info", x->ws);
	(void) mkdirs(info, 0755);
	exclude = xasprintf("%s/exclude", info);
	free(info);
	f = fopen(exclude, "a");
	if (f == NULL || fputs("\n.opcenter/\n", f) == EOF) {
		run_fail(x, "infra_tooling",
		    xasprintf("cannot append to %s: "
		              "%s",
		        exclude, strerror(errno)));
		if (f != NULL)
			fclose(f);
		free(exclude);
		return (ERR_IO);
	}
	fclose(f);
	free(exclude);
	if (mkdirs(x->opc, 0755) != 0) {
		run_fail(
		    x, "infra_tooling", xasprintf("cannot create %s", x->opc));
		return (ERR_IO);
	}
	x->ws_ready = 1;
	log_info("run.workspace", "run %s: workspace ready in %lld ms (%s)",
	    rq->run_id, (long long) (mono_ms() - t0),
	    rq->mirror_dir == NULL ? "full clone"
	        : fetched          ? "mirror, fetched"
	                           : "mirror");
	return (0);
}

/* workspace_commit_title returns the first line of goal, whitespace collapsed,
 * at most TITLE_MAX bytes, never cut inside a UTF-8 sequence. */
char *
workspace_commit_title(const char *goal, const char *run_id)
{
	size_t n = strcspn(goal, "\n"), i = 0, l;
	char  *line, *t;

	line = xstrndup(goal, n);
	t    = one_line(line, n);
	free(line);
	while (i < strlen(t)) {
		l = utf8_len((const unsigned char *) t + i, strlen(t) - i);
		if (l == 0)
			l = 1;
		if (i + l > TITLE_MAX)
			break;
		i += l;
	}
	t[i] = '\0';
	while (i > 0 && t[i - 1] == ' ')
		t[--i] = '\0';
	if (t[0] == '\0') {
		free(t);
		t = xasprintf("opcenter run %s", run_id);
	}
	return (t);
}

static const char *const no_protect[] = { NULL };

void
workspace_branch_rules(struct branch_rules *r, const struct exec_run *x)
{
	const struct exec_req *rq = x->req;

	memset(r, 0, sizeof(*r));
	r->prefix      = rq->branch_prefix != NULL ? rq->branch_prefix
	                                           : BRANCH_GUARD_DEFAULT_PREFIX;
	r->task_branch = rq->task_branch;
	r->base_branch = rq->base_branch;
	if (rq->has_protected)
		r->protect = rq->protected_branches.v != NULL
		    ? (const char *const *) rq->protected_branches.v
		    : no_protect;
}

/* remote_default asks the remote which branch its HEAD names (`git
 * ls-remote --symref <url> HEAD`, run against the bare repository dir so
 * that no workspace config applies): *out a new name, or NULL when the
 * remote does not say (an empty repository).  ERR_IO with *reason when
 * git fails. */
static int
remote_default(struct exec_run *x, char *const *envp, const char *dir,
    char **out, char **reason)
{
	struct proc_result r;
	struct strv        argv = { 0 };
	const char        *p, *e;
	char              *shown;
	int                rv;

	*out = NULL;
	strv_push(&argv, "git");
	strv_push_owned(&argv, xasprintf("--git-dir=%s", dir));
	if (envp != NULL)
		workspace_net_args(&argv);
	strv_push(&argv, "ls-remote");
	strv_push(&argv, "--symref");
	strv_push(&argv, "--");
	strv_push(&argv, x->req->clone_url);
	strv_push(&argv, "HEAD");
	shown = xasprintf("git ls-remote --symref %s HEAD", x->req->clone_url);
	rv    = workspace_git_argv(&r, NULL, envp, &argv, shown, reason);
	/* "ref: refs/heads/<name>\tHEAD" */
	for (p = r.out.data; rv == 0 && p != NULL && *p != '\0';
	     p = strchr(p, '\n') != NULL ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, "ref: refs/heads/", 16) != 0)
			continue;
		p += 16;
		e = p + strcspn(p, "\t\n");
		if (e > p && strncmp(e, "\tHEAD", 5) == 0) {
			*out = xstrndup(p, (size_t) (e - p));
			break;
		}
	}
	proc_result_fini(&r);
	strv_free(&argv);
	free(shown);
	return (rv);
}

int
workspace_push_guard(struct exec_run *x, char *const *envp, const char *dir,
    const struct strv *argv)
{
	struct branch_rules br;
	char               *def = NULL, *why = NULL;
	int                 rv;

	if (remote_default(x, envp, dir, &def, &why) != 0) {
		workspace_scrub(why, x->req->github_token);
		run_fail(x, "infra_tooling", why);
		return (ERR_IO);
	}
	workspace_branch_rules(&br, x);
	br.default_branch = def;
	if ((rv = branch_guard_push(&br, argv->v, &why)) != 0) {
		log_warn("run.branch", "run %s: push refused: %s",
		    x->req->run_id, why);
		run_fail(x, BRANCH_GUARD_CATEGORY, why);
	}
	free(def);
	return (rv);
}

/* push sends the commit to the task branch of the clone URL from a fresh
 * bare repository outside the workspace that borrows its objects (see
 * the top of this file).  A failure fails the run with git's words. */
static int
push(struct exec_run *x)
{
	const struct exec_req *rq = x->req;
	struct proc_result     r;
	struct strv            argv = { 0 }, env = { 0 };
	const char            *tmp = getenv("TMPDIR");
	char **envp   = workspace_net_env(x, &env), *dir, *alt, *objs,
	     *reason  = NULL;
	char *refspec = NULL, *shown = NULL;
	int   rv = ERR_IO;

	/* the last moment a run the router took back can be stopped from
	 * delivering twice: nothing is pushed without the lease */
	if (proc_lease_verify() != 0) {
		log_warn("run.push",
		    "run %s: lease lost: branch %s not pushed", rq->run_id,
		    rq->task_branch);
		strv_free(&env);
		return (ERR_STATE);
	}
	dir = xasprintf("%s/opc-push.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		run_fail(x, "infra_tooling",
		    xasprintf("push: cannot create a directory in %s: %s",
		        tmp && *tmp ? tmp : "/tmp", strerror(errno)));
		free(dir);
		return (ERR_IO);
	}
	alt  = xasprintf("%s/objects/info/alternates", dir);
	objs = xasprintf("%s/.git/objects\n", x->ws);
	if (workspace_git(&r, NULL, &reason, "init", "--quiet", "--bare", dir,
	        NULL) != 0) {
		run_fail(x, "infra_tooling", reason);
		reason = NULL;
		goto done;
	}
	if (write_file_atomic(alt, objs, strlen(objs)) != 0) {
		run_fail(x, "infra_tooling",
		    xasprintf("push: cannot write %s", alt));
		goto done;
	}
	proc_result_fini(&r);
	refspec =
	    xasprintf("%s:refs/heads/%s", x->commit_sha, rq->task_branch);
	strv_push(&argv, "git");
	strv_push_owned(&argv, xasprintf("--git-dir=%s", dir));
	strv_push(&argv, "-c");
	strv_push(&argv, "core.hooksPath=/dev/null");
	if (envp != NULL)
		workspace_net_args(&argv);
	strv_push(&argv, "push");
	strv_push(&argv, "--quiet");
	strv_push(&argv, "--no-verify");
	strv_push(&argv, "--");
	strv_push(&argv, rq->clone_url);
	strv_push(&argv, refspec);
	shown = xasprintf("git push %s %s", rq->clone_url, rq->task_branch);
	if ((rv = workspace_push_guard(x, envp, dir, &argv)) != 0)
		goto done;
	/* once started, the push ends on its own: a lease lost meanwhile
	 * stops the run after it, with branch_pushed saying what the
	 * remote holds (the verify above kept a lost lease from starting
	 * one) */
	if ((rv = git_run(&r, NULL, envp, &argv, shown, &reason, 1)) == 0)
		x->branch_pushed = 1;
	else {
		workspace_scrub(reason, rq->github_token);
		run_fail(x, "infra_tooling", reason);
		reason = NULL;
	}
done:
	proc_result_fini(&r);
	(void) rmtree(dir);
	strv_free(&argv);
	strv_free(&env);
	free(reason);
	free(refspec);
	free(shown);
	free(objs);
	free(alt);
	free(dir);
	return (rv);
}

int
workspace_commit(struct exec_run *x)
{
	const struct exec_req *rq = x->req;
	struct proc_result     r;
	char                  *reason = NULL, *title, *body;
	int                    rv;

	title = workspace_commit_title(rq->goal_text, rq->run_id);
	body  = xasprintf("Run: %s\nTask: %s", rq->run_id, rq->task_id);
	rv    = git_do(x, x->ws, "-c", "commit.gpgsign=false", "commit",
	       "--quiet", "--no-verify", "-m", title, "-m", body, NULL);
	free(title);
	free(body);
	if (rv != 0)
		return (rv);
	if (workspace_git(&r, x->ws, &reason, "rev-parse", "HEAD", NULL) !=
	    0) {
		proc_result_fini(&r);
		run_fail(x, "infra_tooling", reason);
		return (ERR_IO);
	}
	x->commit_sha = one_line(r.out.data, 64);
	proc_result_fini(&r);

	if (!rq->push_on_success)
		return (0);
	return (push(x));
}
