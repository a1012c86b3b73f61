/*
 * backend.c - the thing that edits the workspace.
 *
 * "stub" is the original's demo backend: it writes a six-line
 * artifacts/demo_result.txt and succeeds (asked for a plan, a goal with
 * "<!-- cp:plan:", it also prints the deterministic Analyze / Implement /
 * Verify plan as cp:plan markers).  "command" runs backend_spec.argv
 * in the workspace after expanding {placeholders} inside each element (a
 * value with spaces stays one argument: there is no shell), with a scrubbed
 * environment, stdin from /dev/null, and stdout/stderr captured (capped)
 * into .opcenter/backend_{stdout,stderr}.txt.  The agent profiles
 * (claude_cli, codex_cli, aider, kodo) run the real CLI as agent.c builds
 * it, read what it reports (agent_out.c) while it runs, and stop it when
 * its spend passes the run's cap.  Every one but the stub runs inside
 * bubblewrap (sandbox.c) unless its spec says sandbox: off: only its
 * workspace writable, a HOME of its own under .opcenter/, no view of
 * the state directory, the other workspaces or the operator's HOME.  An agent
 * that exits 0 is judged by what it said: is_error, or no result at all, is a
 * failed backend.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opc/err.h"
#include "run.h"
#include "sandbox.h"

#define REASON_EXCERPT 300

static const char *const base_env[] = { "PATH", "HOME", "LANG", "TERM" };

char *
backend_expand(const char *tmpl, const struct expand_var *vars, size_t n)
{
	struct buf  b;
	const char *p = tmpl, *close;
	size_t      i, len;

	buf_init(&b);
	while (*p != '\0') {
		if (*p == '{' && (close = strchr(p + 1, '}')) != NULL) {
			len = (size_t) (close - p - 1);
			for (i = 0; i < n; i++)
				if (strlen(vars[i].name) == len &&
				    strncmp(p + 1, vars[i].name, len) == 0)
					break;
			if (i < n) {
				buf_puts(
				    &b, vars[i].value ? vars[i].value : "");
				p = close + 1;
				continue;
			}
		}
		buf_append(&b, p, 1);
		p++;
	}
	buf_cstr(&b);
	return (b.data);
}

/* save_stream writes one captured stream with its truncation note. */
static int
save_stream(struct exec_run *x, const char *name, const struct buf *data,
    int truncated)
{
	struct buf b;
	char      *p = run_ws_path(x, name);
	int        rv;

	buf_init(&b);
	buf_append(&b, data->data, data->len);
	if (truncated)
		buf_puts(&b, "\n[truncated]\n");
	buf_cstr(&b);
	rv = write_file_atomic(p, b.data, b.len);
	if (rv != 0)
		run_fail(x, "infra_tooling", xasprintf("cannot write %s", p));
	buf_fini(&b);
	free(p);
	return (rv);
}

static int
run_stub(struct exec_run *x)
{
	const struct exec_req *rq = x->req;
	char                   ts[32], *dir, *path, *text;
	int                    rv;

	dir  = xasprintf("%s/artifacts", x->ws);
	path = xasprintf("%s/demo_result.txt", dir);
	text = xasprintf("opcenter demo stub result\nrun_id: %s\ntask_id: "
	                 "%s\ngoal: %.*s\nbackend: demo_stub\nwritten_at: "
	                 "%s\n",
	    rq->run_id, rq->task_id, (int) strcspn(rq->goal_text, "\r\n"),
	    rq->goal_text, iso8601(now_ms(), ts, sizeof(ts)));
	if ((rv = mkdirs(dir, 0755)) == 0)
		rv = write_file_atomic(path, text, strlen(text));
	if (rv != 0) {
		x->have_exit_code = 1;
		x->exit_code      = 1;
		run_fail(x, "infra_tooling",
		    xasprintf("stub backend: cannot "
		              "write %s",
		        path));
	} else {
		x->backend_ok     = 1;
		x->have_exit_code = 1;
		x->exit_code      = 0;
		buf_printf(&x->backend.out, "demo stub wrote %s\n", path);
		/* asked for a plan (a campaign's planning run): the
		 * original's deterministic three steps */
		if (strstr(rq->goal_text, "<!-- cp:plan:") != NULL)
			buf_puts(&x->backend.out,
			    "<!-- cp:plan: Analyze: read the code this change "
			    "touches and write down what has to change and in "
			    "which order; make no change yet -->\n"
			    "<!-- cp:plan: Implement: make the change, "
			    "following the analysis -->\n"
			    "<!-- cp:plan: Verify: run and extend the tests "
			    "and "
			    "the validation for the change, and fix what "
			    "fails "
			    "-->\n");
	}
	free(text);
	free(path);
	free(dir);
	if (save_stream(x, "backend_stdout.txt", &x->backend.out, 0) != 0 ||
	    save_stream(x, "backend_stderr.txt", &x->backend.err, 0) != 0)
		return (ERR_IO);
	return (rv);
}

static int
write_prompt(struct exec_run *x, const char *path)
{
	const struct exec_req *rq = x->req;
	struct buf             b;
	size_t                 i;
	int                    rv;

	buf_init(&b);
	buf_printf(&b,
	    "## Goal\n%s\n\n## Constraints\n%s\n\n## Allowed "
	    "paths\n",
	    rq->goal_text,
	    rq->constraints_text != NULL && rq->constraints_text[0] != '\0'
	        ? rq->constraints_text
	        : "none");
	for (i = 0; i < rq->allowed_paths.n; i++)
		buf_printf(&b, "- %s\n", rq->allowed_paths.v[i]);
	if (rq->allowed_paths.n == 0)
		buf_puts(&b, "- (any)\n");
	buf_cstr(&b);
	rv = write_file_atomic(path, b.data, b.len);
	buf_fini(&b);
	return (rv);
}

static void
build_env(struct strv *env, const struct exec_run *x, const char *prompt)
{
	const struct exec_req *rq = x->req;
	const char            *v;
	size_t                 i;

	for (i = 0; i < nitems(base_env); i++)
		if ((v = getenv(base_env[i])) != NULL)
			strv_setenv(env, base_env[i], v);
	for (i = 0; i < rq->bk.env_allow.n; i++)
		if ((v = getenv(rq->bk.env_allow.v[i])) != NULL)
			strv_setenv(env, rq->bk.env_allow.v[i], v);
	for (i = 0; i < rq->bk.env.n; i++) {
		char *k = xstrdup(rq->bk.env.v[i]), *eq = strchr(k, '=');

		*eq = '\0';
		strv_setenv(env, k, eq + 1);
		free(k);
	}
	strv_setenv(env, "OPC_RUN_ID", rq->run_id);
	strv_setenv(env, "OPC_TASK_ID", rq->task_id);
	strv_setenv(env, "OPC_WORKSPACE", x->ws);
	strv_setenv(env, "OPC_PROMPT_FILE", prompt);
}

/* excerpt returns the first max bytes of s, newlines as spaces. */
static char *
excerpt(const struct buf *b, size_t max)
{
	size_t n = b->len < max ? b->len : max, i;
	char  *s = xstrndup(b->data != NULL ? b->data : "", n);

	for (i = 0; i < n; i++)
		if (s[i] == '\n' || s[i] == '\r' || s[i] == '\t' ||
		    s[i] == '\0')
			s[i] = ' ';
	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
	return (s);
}

/* agent_verdict judges an agent CLI that exited 0 by what it reported;
 * returns 1 when the backend succeeded. */
static int
agent_verdict(struct exec_run *x)
{
	const struct agent_report *a = &x->agent;
	const char                *m = a->message;

	if (!a->parsed) {
		x->backend_reason =
		    xasprintf("%s exited 0 without a result: no "
		              "machine-readable outcome in its output",
		        a->cli);
		return (0);
	}
	if (!a->is_error)
		return (1);
	if (a->budget_hit)
		x->backend_reason = xasprintf(
		    "%s stopped at the per-run spend cap ($%.2f)%s%s", a->cli,
		    x->req->bk.max_budget_usd, m ? ": " : "", m ? m : "");
	else if (a->turns_hit)
		x->backend_reason = xasprintf(
		    "%s stopped at the turn limit (%d turns)%s%s", a->cli,
		    x->req->bk.max_turns, m ? ": " : "", m ? m : "");
	else
		x->backend_reason = xasprintf("%s reported an error: %s",
		    a->cli, m ? m : "(no message)");
	return (0);
}

static void
judge(struct exec_run *x)
{
	const struct exec_req    *rq = x->req;
	const struct proc_result *r  = &x->backend;
	char                     *err, *how, *note;

	if (r->exit_code >= 0) {
		x->have_exit_code = 1;
		x->exit_code      = r->exit_code;
	}
	if (r->signo != 0)
		x->signal_name = proc_signame(r->signo);
	else if (r->timed_out || r->interrupted)
		x->signal_name = proc_signame(r->kill_signal);
	if (r->spawn_errno == 0 && !r->timed_out && !r->interrupted &&
	    !r->stopped && r->exit_code == 0) {
		if (x->agent.cli == NULL || agent_verdict(x))
			x->backend_ok = 1;
		return;
	}
	if (r->stopped) {
		x->agent.budget_hit = 1;
		x->backend_reason   = xasprintf(
		      "%s stopped: its spend ($%.4f) passed the per-run cap "
		        "($%.2f)",
		      x->agent.cli, x->agent.cost_usd, rq->bk.max_budget_usd);
		return;
	}
	/* An agent's own message says more than its raw output. */
	if (x->agent.cli != NULL && x->agent.message != NULL)
		err = xstrdup(x->agent.message);
	else
		err = excerpt(
		    r->err.len > 0 ? &r->err : &r->out, REASON_EXCERPT);
	if (r->spawn_errno != 0)
		x->backend_reason = xasprintf("backend %s could not start: %s",
		    x->backend_prog ? x->backend_prog : "?",
		    strerror(r->spawn_errno));
	else if (r->interrupted)
		x->backend_reason = xasprintf("backend interrupted (%s sent)",
		    proc_signame(r->kill_signal));
	else if (r->timed_out)
		x->backend_reason =
		    xasprintf("backend timed out after %ds (%s)",
		        rq->timeout_seconds, x->signal_name);
	else {
		how = proc_describe(r);
		if (x->oom_killed)
			note = xstrdup(" (out of memory: the sandbox's memory "
			               "limit)");
		else if (x->cpu_limited)
			note = xasprintf(" (SIGXCPU: out of CPU time, the "
			                 "sandbox's cpu_seconds %d)",
			    rq->sb.cpu_seconds);
		else
			note = xstrdup("");
		x->backend_reason = xasprintf("backend %s%s%s%s", how, note,
		    err[0] != '\0' ? ": " : "", err);
		free(note);
		free(how);
	}
	free(err);
}

/* find is memmem(), which POSIX lacks. */
static char *
find(char *h, size_t hl, const char *n, size_t nl)
{
	char *p = h, *end = h + hl;

	while (nl > 0 && (size_t) (end - p) >= nl &&
	    (p = memchr(p, n[0], (size_t) (end - p) - nl + 1)) != NULL) {
		if (memcmp(p, n, nl) == 0)
			return (p);
		p++;
	}
	return (NULL);
}

/* scrub replaces every occurrence of secret in b (an agent that prints
 * its environment must not put its key into the evidence). */
static void
scrub(struct buf *b, const char *secret)
{
	static const char mark[] = "[REDACTED]";
	struct buf        o;
	size_t            n, i = 0;
	char             *p;

	if (secret == NULL || (n = strlen(secret)) < 4 || b->data == NULL ||
	    find(b->data, b->len, secret, n) == NULL)
		return;
	buf_init(&o);
	while (i < b->len &&
	    (p = find(b->data + i, b->len - i, secret, n)) != NULL) {
		buf_append(&o, b->data + i, (size_t) (p - (b->data + i)));
		buf_puts(&o, mark);
		i = (size_t) (p - b->data) + n;
	}
	buf_append(&o, b->data + i, b->len - i);
	buf_cstr(&o);
	buf_fini(b);
	*b = o;
}

/* watch_spend reads the agent's output as it comes and stops the run
 * once its spend passes the per-run cap. */
static int
watch_spend(void *arg, const struct buf *out)
{
	struct exec_run                *x  = arg;
	const struct exec_backend_spec *bk = &x->req->bk;
	double                          usd;

	agent_feed(&x->agent, out, 0);
	if (bk->max_budget_usd <= 0)
		return (0);
	usd = agent_spend(
	    &x->agent, bk->price_in, bk->price_out, bk->price_cached);
	if (usd >= 0 && x->prior.cost_source != NULL)
		usd += x->prior.cost_usd; /* earlier attempts spent too */
	if (usd <= bk->max_budget_usd)
		return (0);
	x->agent.cost_usd = usd;
	return (1);
}

/* command_argv expands the argv of a "command" backend. */
static void
command_argv(struct agent_cmd *c, struct exec_run *x, const char *prompt)
{
	const struct exec_req *rq = x->req;
	struct expand_var      vars[6];
	size_t                 i;

	vars[0] = (struct expand_var) { "prompt_file", prompt };
	vars[1] = (struct expand_var) { "workspace", x->ws };
	vars[2] = (struct expand_var) { "model", rq->bk.model };
	vars[3] = (struct expand_var) { "run_id", rq->run_id };
	vars[4] = (struct expand_var) { "task_id", rq->task_id };
	vars[5] = (struct expand_var) { "goal", rq->goal_text };
	for (i = 0; i < rq->bk.argv.n; i++)
		strv_push_owned(&c->argv,
		    backend_expand(rq->bk.argv.v[i], vars, nitems(vars)));
	build_env(&c->env, x, prompt);
}

/* alternates adds to ro the object directories the workspace borrows
 * (.git/objects/info/alternates: the repo's mirror, mirror.c), which the
 * hidden state directory would otherwise take away from git inside. */
static void
alternates(struct strv *ro, const char *ws)
{
	char  *path = xasprintf("%s/.git/objects/info/alternates", ws);
	FILE  *f    = fopen(path, "r");
	char   line[PATH_MAX + 2], real[PATH_MAX];
	size_t n;

	free(path);
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		n       = strcspn(line, "\r\n");
		line[n] = '\0';
		if (line[0] == '/' && realpath(line, real) != NULL)
			strv_push(ro, real);
	}
	fclose(f);
}

int
backend_confine(struct strv *argv, char *const *envp, const struct exec_run *x,
    int mem_cgroup)
{
	const struct exec_sandbox *s = &x->req->sb;
	struct sandbox             sb;
	struct strv                w, hide, ro;
	char                      *p, real[PATH_MAX];
	size_t                     i;

	if ((p = spawn_path(argv->v[0], envp)) == NULL ||
	    access(p, X_OK) != 0) {
		free(p);
		return (0);
	}
	free(p);
	memset(&w, 0, sizeof(w));
	memset(&hide, 0, sizeof(hide));
	memset(&ro, 0, sizeof(ro));
	for (i = 0; i < s->ro.n; i++)
		strv_push(&ro, s->ro.v[i]);
	alternates(&ro, x->ws);
	for (i = 0; i < s->hide.n; i++)
		if (realpath(s->hide.v[i], real) != NULL)
			strv_push(&hide, real);
	memset(&sb, 0, sizeof(sb));
	sb.on           = 1;
	sb.net          = s->net;
	sb.drop_caps    = geteuid() == 0;
	sb.bwrap        = s->bwrap;
	sb.hide         = hide.v;
	sb.ro           = ro.v;
	sb.rw           = s->rw.v;
	sb.memory_mb    = mem_cgroup ? 0 : s->memory_mb; /* RLIMIT_AS */
	sb.max_procs    = s->max_procs;
	sb.cpu_seconds  = s->cpu_seconds;
	sb.file_size_mb = s->file_size_mb;
	sandbox_argv(&w, &sb, x->ws, argv->v);
	strv_free(&hide);
	strv_free(&ro);
	strv_free(argv);
	*argv = w;
	return (1);
}

/* private_home gives a sandboxed command backend a HOME of its own under
 * .opcenter/ (the agent profiles have theirs already). */
static int
private_home(struct agent_cmd *c, struct exec_run *x)
{
	char *home = run_ws_path(x, "home");
	int   rv   = mkdirs(home, 0700);

	if (rv != 0)
		run_fail(x, "infra_tooling",
		    xasprintf("cannot make %s: %s", home, strerror(errno)));
	else
		strv_setenv(&c->env, "HOME", home);
	free(home);
	return (rv);
}

static void
enter_cgroup(void *arg, int before)
{
	cgroup_enter(arg, before);
}

static int
run_command(struct exec_run *x)
{
	const struct exec_req *rq = x->req;
	struct proc_opts       o;
	struct agent_cmd       c;
	struct exec_cgroup     cg;
	const char            *profile = agent_profile(rq->bk.kind);
	char                  *prompt;
	int                    rv, confined = 0;

	memset(&c, 0, sizeof(c));
	memset(&cg, 0, sizeof(cg));
	prompt = run_ws_path(x, "prompt.md");
	if ((rv = write_prompt(x, prompt)) != 0) {
		run_fail(
		    x, "infra_tooling", xasprintf("cannot write %s", prompt));
		free(prompt);
		return (rv);
	}
	if (profile != NULL) {
		agent_report_init(&x->agent, profile);
		if ((rv = agent_build(&c, x, prompt)) != 0)
			goto out;
	} else {
		command_argv(&c, x, prompt);
		if (rq->sb.on && (rv = private_home(&c, x)) != 0)
			goto out;
	}

	free(x->backend_prog);
	x->backend_prog = xstrdup(c.argv.n > 0 ? c.argv.v[0] : "?");
	if (rq->sb.on) {
		cgroup_open(&cg, rq->sb.max_procs, rq->sb.memory_mb);
		confined =
		    backend_confine(&c.argv, c.env.v, x, cg.mem != NULL);
	}
	memset(&o, 0, sizeof(o));
	o.argv       = c.argv.v;
	o.cwd        = x->ws;
	o.envp       = c.env.v;
	o.stdin_path = c.stdin_path;
	if (profile != NULL) {
		o.watch     = watch_spend;
		o.watch_arg = x;
	}
	/* one timeout for every attempt of the run together */
	o.timeout_ms = x->deadline_mono > 0
	    ? x->deadline_mono - mono_ms()
	    : (int64_t) rq->timeout_seconds * 1000;
	if (o.timeout_ms < 1000)
		o.timeout_ms = 1000;
	o.grace_ms   = (int64_t) rq->bk.kill_grace_seconds * 1000;
	o.max_output = rq->bk.max_output_bytes;
	/* bwrap passes no SIGTERM on (sandbox.c): the grace needs it sent
	 * to the processes inside */
	o.tree = confined;
	if (cg.pids != NULL || cg.mem != NULL) {
		o.spawn_hook = enter_cgroup;
		o.spawn_arg  = &cg;
	}
	proc_result_fini(&x->backend);
	rv            = proc_run(&x->backend, &o);
	x->oom_killed = cgroup_oom_killed(&cg);
	/* bwrap exits 128 + the signal its command died of */
	x->cpu_limited = confined && rq->sb.cpu_seconds > 0 &&
	    !x->oom_killed && !x->backend.timed_out &&
	    !x->backend.interrupted && !x->backend.stopped &&
	    x->backend.exit_code == 128 + SIGXCPU;
	if (rv != 0) {
		run_fail(x, "infra_tooling",
		    xasprintf("cannot start backend: "
		              "%s",
		        strerror(x->backend.spawn_errno)));
		goto out;
	}
	x->backend_ran = 1;
	if (x->backend.spawn_errno != 0)
		buf_printf(&x->backend.err, "%s%s: %s\n",
		    x->backend.err.len > 0 ? "\n" : "", c.argv.v[0],
		    strerror(x->backend.spawn_errno));
	if (profile != NULL) {
		scrub(&x->backend.out, c.secret);
		scrub(&x->backend.err, c.secret);
		x->agent.fed = 0; /* read again, scrubbed */
		agent_report_fini(&x->agent);
		agent_report_init(&x->agent, profile);
		agent_feed(&x->agent, &x->backend.out, 1);
		agent_finish(&x->agent, &x->backend.err, rq->bk.price_in,
		    rq->bk.price_out, rq->bk.price_cached);
	}
	judge(x);
	if (save_stream(x, "backend_stdout.txt", &x->backend.out,
	        x->backend.out_truncated) != 0 ||
	    save_stream(x, "backend_stderr.txt", &x->backend.err,
	        x->backend.err_truncated) != 0)
		rv = ERR_IO;
out:
	cgroup_close(&cg);
	agent_cmd_fini(&c);
	free(prompt);
	return (rv);
}

int
backend_run(struct exec_run *x)
{
	if (strcmp(x->req->bk.kind, "stub") == 0) {
		x->backend_ran = 1;
		return (run_stub(x));
	}
	return (run_command(x));
}
