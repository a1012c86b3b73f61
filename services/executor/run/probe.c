/*
 * probe.c - opc-exec-run --probe SPEC.json: is this backend ready to run
 * headless here?  (`opc providers`, `opc doctor`; the original's
 * providers-status.)
 *
 * The probe answers with what a run would meet, through the same code a
 * run uses (agent.c builds the CLI exactly as for a task): the program's
 * path on the PATH, its `--version`, the API key variable (its name and
 * whether it is set, never its value), the permission or sandbox mode in
 * effect, and, unless --no-call, one real headless call in an empty
 * scratch directory with a one-word prompt and one turn, judged like a
 * run (the CLI's own is_error, API error and message, its cost).
 */
#include <stdio.h>
#include <string.h>

#include "opc/err.h"
#include "opc/jsonx.h"
#include "run.h"
#include "sandbox.h"

#define PROBE_TIMEOUT 120
#define VERSION_TIMEOUT_MS 20000

static const char probe_goal[] =
    "This is a readiness probe. Reply with the single word OK. Do not use "
    "any tool and do not change any file.";

/* version runs `prog --version` (in the run's sandbox when it has one:
 * a command backend is the operator's own program, and a probe must not
 * give it more than a run would) and returns its first output line. */
static char *
version(const char *prog, char *const *envp, const struct exec_run *x)
{
	struct proc_result r;
	struct proc_opts   o;
	struct strv        argv;
	char              *line = NULL;
	const char        *s;

	memset(&argv, 0, sizeof(argv));
	strv_push(&argv, prog);
	strv_push(&argv, "--version");
	memset(&o, 0, sizeof(o));
	o.tree       = x->req->sb.on && backend_confine(&argv, envp, x, 0);
	o.argv       = argv.v;
	o.cwd        = x->ws;
	o.envp       = envp;
	o.timeout_ms = VERSION_TIMEOUT_MS;
	o.grace_ms   = 1000;
	o.max_output = 4096;
	if (proc_run(&r, &o) == 0 && r.spawn_errno == 0 && r.exit_code == 0 &&
	    r.out.len > 0) {
		s    = r.out.data;
		line = xstrndup(s, strcspn(s, "\r\n"));
	}
	proc_result_fini(&r);
	strv_free(&argv);
	return (line);
}

/* mode is the permission or sandbox mode a profile runs with. */
static const char *
mode(const struct exec_req *rq)
{
	const struct exec_backend_spec *bk = &rq->bk;

	if (strcmp(bk->kind, "claude_cli") == 0)
		return (
		    bk->permission_mode ? bk->permission_mode : "acceptEdits");
	if (strcmp(bk->kind, "codex_cli") == 0)
		return (agent_codex_sandbox(rq));
	if (strcmp(bk->kind, "aider") == 0)
		return ("yes-always, no auto-commits");
	if (strcmp(bk->kind, "kodo") == 0)
		return ("--yes");
	return (NULL);
}

/* key_env returns the name of the key variable a profile reads, from
 * the environment the agent was given (the entry whose value is the
 * secret), or NULL. */
static char *
key_env(const struct agent_cmd *c)
{
	size_t      i, n;
	const char *eq;

	if (c->secret == NULL)
		return (NULL);
	n = strlen(c->secret);
	for (i = 0; i < c->env.n; i++)
		if ((eq = strchr(c->env.v[i], '=')) != NULL &&
		    strlen(eq + 1) == n && strcmp(eq + 1, c->secret) == 0)
			return (xstrndup(
			    c->env.v[i], (size_t) (eq - c->env.v[i])));
	return (NULL);
}

int
probe_run(const char *spec_path, const char *dir, const char *out, int call)
{
	struct exec_req  rq;
	struct exec_run  x;
	struct agent_cmd c;
	json_t          *spec, *req, *res;
	json_error_t     je;
	char            *err = NULL, *prog = NULL, *ver = NULL, *kenv = NULL;
	char            *s, *prompt, *sbwhy = NULL, *sbmode = NULL;
	const char      *profile, *ready;
	int              rv;

	if ((spec = json_load_file(spec_path, 0, &je)) == NULL) {
		fprintf(stderr, "opc-exec-run: %s:%d: %s\n", spec_path,
		    je.line, je.text);
		return (ERR_INVAL);
	}
	json_object_set_new(spec, "workspace", json_string("scratch"));
	if (json_object_get(spec, "max_turns") == NULL)
		json_object_set_new(spec, "max_turns", json_integer(1));
	req = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:o}", "run_id",
	    "probe", "task_id", "probe", "goal_text", probe_goal, "clone_url",
	    "-", "base_branch", "main", "task_branch", "probe",
	    "timeout_seconds", PROBE_TIMEOUT, "backend_spec", spec);
	rv  = request_parse(&rq, req, &err);
	json_decref(req);
	if (rv != 0) {
		fprintf(stderr, "opc-exec-run: bad backend spec: %s\n", err);
		free(err);
		request_fini(&rq);
		return (rv);
	}
	memset(&x, 0, sizeof(x));
	memset(&c, 0, sizeof(c));
	x.req               = &rq;
	x.ws                = xstrdup(dir);
	x.opc               = xasprintf("%s/.opcenter", dir);
	x.backend.exit_code = -1;
	res                 = json_object();
	json_object_set_new(res, "kind", json_string(rq.bk.kind));
	profile = agent_profile(rq.bk.kind);
	if (mkdirs(x.opc, 0700) != 0) {
		run_fail(
		    &x, "infra_tooling", xasprintf("cannot make %s", x.opc));
		goto done;
	}
	if (strcmp(rq.bk.kind, "stub") == 0) {
		json_object_set_new(res, "program", json_string("(built in)"));
		goto done;
	}
	prompt = run_ws_path(&x, "prompt.md");
	if (profile != NULL)
		(void) agent_build(&c, &x, prompt); /* run_fail on error */
	else
		strv_push(&c.argv, rq.bk.argv.v[0]);
	free(prompt);
	if (rq.sb.on && sandbox_probe(rq.sb.bwrap, &sbwhy) != 0)
		run_fail(&x, "infra_tooling",
		    xasprintf("the backend runs in the bubblewrap sandbox, "
		              "which cannot run here: %s",
		        sbwhy));
	sbmode = sandbox_mode(
	    &(struct sandbox) { .on = rq.sb.on, .net = rq.sb.net }, sbwhy);
	json_object_set_new(res, "sandbox", json_string(sbmode));
	if (c.argv.n > 0 &&
	    (prog = spawn_path(c.argv.v[0], c.env.v)) != NULL && sbwhy == NULL)
		ver = version(prog, c.env.v, &x);
	json_object_set_new(
	    res, "program", json_string(c.argv.n > 0 ? c.argv.v[0] : "?"));
	json_object_set_new(res, "path", jsonx_str_or_null(prog));
	json_object_set_new(res, "version", jsonx_str_or_null(ver));
	kenv = key_env(&c);
	if (profile != NULL) {
		json_object_set_new(
		    res, "key_env", jsonx_str_or_null(agent_key_env(&rq.bk)));
		if (kenv != NULL && strcmp(kenv, agent_key_env(&rq.bk)) != 0)
			json_object_set_new(
			    res, "key_passed_as", json_string(kenv));
		json_object_set_new(
		    res, "key_present", json_boolean(c.secret != NULL));
		json_object_set_new(
		    res, "base_url", jsonx_str_or_null(rq.bk.base_url));
	}
	json_object_set_new(res, "mode", jsonx_str_or_null(mode(&rq)));
	if (prog == NULL) {
		/* not installed says more than a missing key */
		x.category = NULL;
		run_fail(&x, "infra_tooling",
		    xasprintf("%s is not installed (not on the PATH)",
		        c.argv.n > 0 ? c.argv.v[0] : "?"));
	}
	if (x.category != NULL || profile == NULL || !call)
		goto done;
	/* the real call, as a run makes it */
	proc_install_signals();
	(void) backend_run(&x);
	json_object_set_new(res, "agent", agent_json(&x.agent));
	if (!x.backend_ok && x.category == NULL)
		run_fail(&x, "backend",
		    xstrdup(x.backend_reason ? x.backend_reason
		                             : "the probe failed"));
done:
	ready = x.category != NULL            ? "no"
	    : profile != NULL && call         ? "yes"
	    : strcmp(rq.bk.kind, "stub") == 0 ? "yes"
	                                      : "not probed";
	json_object_set_new(res, "ready", json_string(ready));
	json_object_set_new(res, "detail", jsonx_str_or_null(x.reason));
	s  = json_dumps(res, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	rv = s != NULL && write_file_atomic(out, s, strlen(s)) == 0 ? 0
	                                                            : ERR_IO;
	free(s);
	json_decref(res);
	agent_cmd_fini(&c);
	proc_result_fini(&x.backend);
	agent_report_fini(&x.agent);
	free(x.backend_reason);
	free(x.backend_prog);
	free(x.reason);
	free(x.ws);
	free(x.opc);
	free(prog);
	free(ver);
	free(kenv);
	free(sbwhy);
	free(sbmode);
	request_fini(&rq);
	return (rv);
}
