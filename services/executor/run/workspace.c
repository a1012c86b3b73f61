/*
 * workspace.c - the git side of a run: clone and branch before the
 * backend, commit and push after it.
 *
 * git runs through proc_run() with an argv, never a shell, and with
 * GIT_TERMINAL_PROMPT=0 so a credential prompt fails instead of hanging.
 * A failing git command fails the run as infra_tooling, and its reason
 * names the command and quotes its stderr.
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
#include <sys/stat.h>

#include "opc/err.h"
#include "run.h"

#define GIT_TIMEOUT_MS (10 * 60 * 1000)
#define GIT_MAX_OUTPUT ((size_t) 64 * 1024 * 1024)
#define REASON_EXCERPT 300
#define TITLE_MAX 72

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

static int
git_vrun(struct proc_result *r, const char *dir, char **reason, va_list ap)
{
	struct proc_opts o;
	struct strv      argv = {0};
	const char      *a;
	char            *cmd, *how, *tail;
	int              rv;

	strv_push(&argv, "git");
	while ((a = va_arg(ap, const char *)) != NULL)
		strv_push(&argv, a);
	memset(&o, 0, sizeof(o));
	o.argv = argv.v;
	o.cwd = dir;
	o.timeout_ms = GIT_TIMEOUT_MS;
	o.grace_ms = 5000;
	o.max_output = GIT_MAX_OUTPUT;
	rv = proc_run(r, &o);
	if (rv == 0 && r->exit_code == 0) {
		strv_free(&argv);
		return (0);
	}
	cmd = strv_join(&argv, " ");
	how = proc_describe(r);
	tail = one_line(r->err.len > 0 ? r->err.data : r->out.data,
	                REASON_EXCERPT);
	*reason = xasprintf("%s failed (%s)%s%s", cmd, how,
	                    tail[0] != '\0' ? ": " : "", tail);
	free(tail);
	free(how);
	free(cmd);
	strv_free(&argv);
	return (ERR_IO);
}

int
git_run(struct proc_result *r, const char *dir, char **reason, ...)
{
	va_list ap;
	int     rv;

	va_start(ap, reason);
	rv = git_vrun(r, dir, reason, ap);
	va_end(ap);
	return (rv);
}

/* git_do is git_run without the output: a failure fails the run as
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

	if (!dir_usable(x->ws)) {
		run_fail(x, "infra_tooling",
		         xasprintf("workspace %s exists "
		                   "and is not empty",
		                   x->ws));
		return (ERR_EXISTS);
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
	if (git_do(x, NULL, "clone", "--quiet", "--", rq->clone_url, x->ws,
	           NULL) != 0 ||
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
		run_fail(x, "infra_tooling",
		         xasprintf("cannot create %s", x->opc));
		return (ERR_IO);
	}
	x->ws_ready = 1;
	return (0);
}

/* commit_title returns the first line of goal, whitespace collapsed, at
 * most TITLE_MAX bytes, never cut inside a UTF-8 sequence. */
char *
commit_title(const char *goal, const char *run_id)
{
	size_t n = strcspn(goal, "\n"), i = 0, l;
	char  *line, *t;

	line = xstrndup(goal, n);
	t = one_line(line, n);
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

static int
has_origin(const char *ws)
{
	struct proc_result r;
	char              *reason = NULL, *p, *save = NULL;
	int                found = 0;

	if (git_run(&r, ws, &reason, "remote", NULL) == 0) {
		for (p = strtok_r(r.out.data, "\n", &save); p != NULL;
		     p = strtok_r(NULL, "\n", &save))
			if (strcmp(p, "origin") == 0)
				found = 1;
	}
	free(reason);
	proc_result_fini(&r);
	return (found);
}

int
workspace_commit(struct exec_run *x)
{
	const struct exec_req *rq = x->req;
	struct proc_result     r;
	char                  *reason = NULL, *title, *body, *refspec, *old;
	int                    rv;

	title = commit_title(rq->goal_text, rq->run_id);
	body = xasprintf("Run: %s\nTask: %s", rq->run_id, rq->task_id);
	rv = git_do(x, x->ws, "-c", "commit.gpgsign=false", "commit", "--quiet",
	            "--no-verify", "-m", title, "-m", body, NULL);
	free(title);
	free(body);
	if (rv != 0)
		return (rv);
	if (git_run(&r, x->ws, &reason, "rev-parse", "HEAD", NULL) != 0) {
		proc_result_fini(&r);
		run_fail(x, "infra_tooling", reason);
		return (ERR_IO);
	}
	x->commit_sha = one_line(r.out.data, 64);
	proc_result_fini(&r);

	if (!rq->push_on_success || !has_origin(x->ws))
		return (0);
	refspec = xasprintf("refs/heads/%s:refs/heads/%s", rq->task_branch,
	                    rq->task_branch);
	if (git_run(&r, x->ws, &reason, "push", "--quiet", "origin", refspec,
	            NULL) == 0) {
		x->branch_pushed = 1;
	} else {
		/* The run still succeeded: the commit is in the workspace. */
		old = x->reason;
		x->reason = xasprintf("%s%s%s", old ? old : "", old ? "; " : "",
		                      reason);
		free(old);
		free(reason);
	}
	proc_result_fini(&r);
	free(refspec);
	return (0);
}
