/*
 * agent.c - the real coding-agent CLIs, run headless.
 *
 * A profile knows what its CLI needs to edit the workspace unattended and
 * nothing more: the argv (the permission or sandbox mode that lets it
 * write the working directory, a turn limit, the per-run spend cap where
 * the CLI has one, machine-readable output), the environment (the API key
 * under the name the CLI reads, an optional base URL, bounded API
 * retries, no non-essential traffic) and a HOME private to the run under
 * the workspace's .opcenter/ (excluded from the diff and removed with the
 * workspace), so the CLI's config, sessions and caches never touch the
 * operator's.  The prompt goes on stdin (Claude Code and `codex exec`
 * read it there when no prompt argument is given) or in a file (aider
 * --message-file, kodo --goal-file): task text never lands in argv.
 *
 * Every flag was checked against the CLI's own --help and docs:
 *   claude_cli  Claude Code 2.1 (`claude --help`; docs "CLI reference",
 *               "Headless mode", "Settings" env vars).  As root it
 *               refuses bypassPermissions, so acceptEdits is the default.
 *   codex_cli   Codex CLI 0.171 (`codex exec --help`; docs/config.md).
 *               Codex ignores OPENAI_BASE_URL: the provider and its
 *               base_url, retries and key variable go in
 *               $CODEX_HOME/config.toml.
 *   aider       aider.chat/docs/config/options.html (--message-file,
 *               --yes-always, --no-auto-commits, --no-stream, ...).
 *   kodo        the original's invocation (inventory s.1.5).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "opc/err.h"
#include "run.h"

#define DEFAULT_RETRIES 2

struct profile {
	const char *kind;
	const char *bin;     /* default program */
	const char *key_env; /* default variable holding the key */
	const char *key_var; /* the variable the CLI reads (NULL: key_env) */
	int (*build)(struct agent_cmd *, struct exec_run *, const char *home,
	    const char *prompt);
};

static const char *const pass_env[] = { "PATH", "LANG", "LC_ALL", "TZ" };

static int build_claude(
    struct agent_cmd *, struct exec_run *, const char *, const char *);
static int build_codex(
    struct agent_cmd *, struct exec_run *, const char *, const char *);
static int build_aider(
    struct agent_cmd *, struct exec_run *, const char *, const char *);
static int build_kodo(
    struct agent_cmd *, struct exec_run *, const char *, const char *);

static const struct profile profiles[] = {
	{ "claude_cli", "claude", "ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY",
	    build_claude },
	{ "codex_cli", "codex", "OPENAI_API_KEY", "OPENAI_API_KEY",
	    build_codex },
	{ "aider", "aider", "OPENAI_API_KEY", NULL, build_aider },
	{ "kodo", "kodo", NULL, NULL, build_kodo },
};

static const struct profile *
profile_of(const char *kind)
{
	size_t i;

	for (i = 0; kind != NULL && i < nitems(profiles); i++)
		if (strcmp(profiles[i].kind, kind) == 0)
			return (&profiles[i]);
	return (NULL);
}

const char *
agent_key_env(const struct exec_backend_spec *bk)
{
	const struct profile *p = profile_of(bk->kind);

	if (bk->api_key_env != NULL)
		return (bk->api_key_env);
	return (p != NULL ? p->key_env : NULL);
}

const char *
agent_profile(const char *kind)
{
	const struct profile *p = profile_of(kind);

	return (p != NULL ? p->kind : NULL);
}

void
agent_cmd_fini(struct agent_cmd *c)
{
	strv_free(&c->argv);
	strv_free(&c->env);
	free(c->stdin_path);
	if (c->secret != NULL) {
		explicit_bzero(c->secret, strlen(c->secret));
		free(c->secret);
	}
	memset(c, 0, sizeof(*c));
}

static int
retries(const struct exec_backend_spec *bk)
{
	return (bk->max_retries >= 0 ? bk->max_retries : DEFAULT_RETRIES);
}

static void
push_fmt_int(struct strv *sv, int v)
{
	strv_push_owned(sv, xasprintf("%d", v));
}

/* ------------------------------------------------------------ Claude */

static int
build_claude(struct agent_cmd *c, struct exec_run *x, const char *home,
    const char *prompt)
{
	const struct exec_backend_spec *bk = &x->req->bk;
	char                           *n;

	(void) home;
	strv_push(&c->argv, "-p");
	strv_push(&c->argv, "--output-format");
	strv_push(&c->argv, "stream-json");
	strv_push(&c->argv, "--verbose"); /* stream-json needs it in -p */
	strv_push(&c->argv, "--permission-mode");
	strv_push(&c->argv,
	    bk->permission_mode != NULL ? bk->permission_mode : "acceptEdits");
	if (bk->max_turns > 0) {
		strv_push(&c->argv, "--max-turns");
		push_fmt_int(&c->argv, bk->max_turns);
	}
	if (bk->max_budget_usd > 0) {
		strv_push(&c->argv, "--max-budget-usd");
		strv_push_owned(
		    &c->argv, xasprintf("%.4f", bk->max_budget_usd));
	}
	if (bk->model != NULL) {
		strv_push(&c->argv, "--model");
		strv_push(&c->argv, bk->model);
	}
	if (bk->base_url != NULL)
		strv_setenv(&c->env, "ANTHROPIC_BASE_URL", bk->base_url);
	strv_setenv(&c->env, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1");
	strv_setenv(&c->env, "DISABLE_AUTOUPDATER", "1");
	strv_setenv(&c->env, "DISABLE_TELEMETRY", "1");
	strv_setenv(&c->env, "DISABLE_ERROR_REPORTING", "1");
	n = xasprintf("%d", retries(bk));
	strv_setenv(&c->env, "CLAUDE_CODE_MAX_RETRIES", n);
	free(n);
	c->stdin_path = xstrdup(prompt);
	return (0);
}

/* ------------------------------------------------------------- Codex */

const char *
agent_codex_sandbox(const struct exec_req *rq)
{
	if (rq->bk.sandbox != NULL)
		return (rq->bk.sandbox);
	/* Codex's own sandbox is a nested bwrap (--unshare-user), which
	 * ours refuses: the uid map needs capabilities that we drop, and
	 * proc cannot be mounted again inside.  Ours confines it to the
	 * workspace as workspace-write would; what Codex's adds, no network
	 * for its shell commands, is lost (network: none takes the API
	 * away too). */
	return (rq->sb.on ? "danger-full-access" : "workspace-write");
}

/* toml_str appends s as a TOML basic string. */
static void
toml_str(struct buf *b, const char *s)
{
	buf_puts(b, "\"");
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			buf_printf(b, "\\%c", *s);
		else if ((unsigned char) *s < 0x20)
			buf_printf(b, "\\u%04x", (unsigned char) *s);
		else
			buf_append(b, s, 1);
	}
	buf_puts(b, "\"");
}

static int
build_codex(struct agent_cmd *c, struct exec_run *x, const char *home,
    const char *prompt)
{
	const struct exec_backend_spec *bk = &x->req->bk;
	struct buf                      b;
	char                           *dir, *path;
	int                             rv;

	/* $CODEX_HOME/config.toml: Codex reads its provider (base_url, key
	 * variable, retries) only there. */
	buf_init(&b);
	buf_puts(&b, "# written by opcenter for one run\n");
	if (bk->model != NULL) {
		buf_puts(&b, "model = ");
		toml_str(&b, bk->model);
		buf_puts(&b, "\n");
	}
	/* every key accepted by codex 0.171 --strict-config; plugins off
	 * is what stops its startup `git ls-remote` to GitHub (captures'
	 * README in tests/data/codex/) */
	buf_puts(&b, "approval_policy = \"never\"\nsandbox_mode = ");
	toml_str(&b, agent_codex_sandbox(x->req));
	buf_puts(&b,
	    "\nmodel_provider = \"opcenter\"\n"
	    "check_for_update_on_startup = false\n"
	    "web_search = \"disabled\"\n"
	    "[model_providers.opcenter]\n"
	    "name = \"opcenter\"\nbase_url = ");
	toml_str(&b,
	    bk->base_url != NULL ? bk->base_url : "https://api.openai.com/v1");
	buf_printf(&b,
	    "\nenv_key = \"OPENAI_API_KEY\"\nwire_api = \"responses\"\n"
	    "request_max_retries = %d\nstream_max_retries = %d\n"
	    "supports_websockets = false\n"
	    "[analytics]\nenabled = false\n"
	    "[feedback]\nenabled = false\n"
	    "[otel]\nexporter = \"none\"\nmetrics_exporter = \"none\"\n"
	    "trace_exporter = \"none\"\n"
	    "[features]\nplugins = false\nremote_plugin = false\n"
	    "apps = false\n",
	    retries(bk), retries(bk) > 0 ? 1 : 0);
	buf_cstr(&b);
	dir  = xasprintf("%s/.codex", home);
	path = xasprintf("%s/config.toml", dir);
	if ((rv = mkdirs(dir, 0700)) == 0)
		rv = write_file_atomic(path, b.data, b.len);
	if (rv != 0)
		run_fail(x, "infra_tooling",
		    xasprintf("cannot write %s: %s", path, strerror(errno)));
	strv_setenv(&c->env, "CODEX_HOME", dir);
	buf_fini(&b);
	free(path);
	free(dir);
	if (rv != 0)
		return (rv);
	strv_push(&c->argv, "exec");
	strv_push(&c->argv, "--json");
	strv_push(&c->argv, "--color");
	strv_push(&c->argv, "never");
	strv_push(&c->argv, "--cd");
	strv_push(&c->argv, x->ws);
	if (bk->scratch) /* no git repository there (a probe, a bench) */
		strv_push(&c->argv, "--skip-git-repo-check");
	c->stdin_path = xstrdup(prompt);
	return (0);
}

/* ------------------------------------------------------------- aider */

static int
build_aider(struct agent_cmd *c, struct exec_run *x, const char *home,
    const char *prompt)
{
	const struct exec_backend_spec *bk      = &x->req->bk;
	static const char *const        flags[] = {
		       "--yes-always",
		       "--no-auto-commits",
		       "--no-dirty-commits",
		       "--no-stream",
		       "--no-pretty",
		       "--no-fancy-input",
		       "--analytics-disable",
		       "--no-check-update",
		       "--no-show-release-notes",
		       "--no-gitignore",
	};
	size_t i;

	(void) home;
	for (i = 0; i < nitems(flags); i++)
		strv_push(&c->argv, flags[i]);
	if (bk->model != NULL) {
		strv_push(&c->argv, "--model");
		strv_push(&c->argv, bk->model);
	}
	strv_push(&c->argv, "--message-file");
	strv_push(&c->argv, prompt);
	if (bk->base_url != NULL)
		strv_setenv(&c->env,
		    bk->model != NULL && strncmp(bk->model, "ollama", 6) == 0
		        ? "OLLAMA_API_BASE"
		        : "OPENAI_API_BASE",
		    bk->base_url);
	return (0);
}

/* -------------------------------------------------------------- kodo */

static int
build_kodo(struct agent_cmd *c, struct exec_run *x, const char *home,
    const char *prompt)
{
	const struct exec_backend_spec *bk = &x->req->bk;

	(void) home;
	strv_push(&c->argv, "--goal-file");
	strv_push(&c->argv, prompt);
	strv_push(&c->argv, "--project");
	strv_push(&c->argv, x->ws);
	strv_push(&c->argv, "--team");
	strv_push(&c->argv, bk->team != NULL ? bk->team : "full");
	strv_push(&c->argv, "--cycles");
	push_fmt_int(&c->argv, bk->cycles > 0 ? bk->cycles : 3);
	strv_push(&c->argv, "--exchanges");
	push_fmt_int(&c->argv, bk->exchanges > 0 ? bk->exchanges : 20);
	strv_push(&c->argv, "--orchestrator");
	strv_push(&c->argv,
	    bk->orchestrator != NULL ? bk->orchestrator : "codex:gpt-5.4");
	strv_push(&c->argv, "--effort");
	strv_push(&c->argv, bk->effort != NULL ? bk->effort : "standard");
	strv_push(&c->argv, "--yes");
	return (0);
}

/* ------------------------------------------------------------ common */

int
agent_build(struct agent_cmd *c, struct exec_run *x, const char *prompt)
{
	const struct exec_backend_spec *bk = &x->req->bk;
	const struct profile           *p  = profile_of(bk->kind);
	const char                     *kenv, *key, *v;
	char                           *home;
	size_t                          i;
	int                             rv;

	memset(c, 0, sizeof(*c));
	if (p == NULL) {
		run_fail(x, "infra_tooling",
		    xasprintf("unknown backend kind %s", bk->kind));
		return (ERR_INVAL);
	}
	home = run_ws_path(x, "home");
	if (mkdirs(home, 0700) != 0) {
		run_fail(x, "infra_tooling",
		    xasprintf("cannot make %s: %s", home, strerror(errno)));
		free(home);
		return (ERR_IO);
	}
	strv_push(&c->argv, bk->bin != NULL ? bk->bin : p->bin);
	for (i = 0; i < nitems(pass_env); i++)
		if ((v = getenv(pass_env[i])) != NULL)
			strv_setenv(&c->env, pass_env[i], v);
	strv_setenv(&c->env, "HOME", home);
	strv_setenv(&c->env, "TERM", "dumb");
	strv_setenv(&c->env, "NO_COLOR", "1");
	/* The key: read from the executor's environment, handed over under
	 * the name the CLI reads.  Never in argv, a file or a log. */
	kenv = agent_key_env(bk);
	if (kenv != NULL && kenv[0] != '\0') {
		if ((key = getenv(kenv)) == NULL || key[0] == '\0') {
			run_fail(x, "infra_tooling",
			    xasprintf("%s: the API key variable %s is not "
			              "set in the executor's environment",
			        p->kind, kenv));
			free(home);
			return (ERR_INVAL);
		}
		strv_setenv(
		    &c->env, p->key_var != NULL ? p->key_var : kenv, key);
		c->secret = xstrdup(key);
	}
	for (i = 0; i < bk->env_allow.n; i++)
		if ((v = getenv(bk->env_allow.v[i])) != NULL)
			strv_setenv(&c->env, bk->env_allow.v[i], v);
	rv = p->build(c, x, home, prompt);
	/* operator's extra arguments last, then the operator's env */
	for (i = 0; rv == 0 && i < bk->argv.n; i++)
		strv_push(&c->argv, bk->argv.v[i]);
	for (i = 0; rv == 0 && i < bk->env.n; i++) {
		char *k = xstrdup(bk->env.v[i]), *eq = strchr(k, '=');

		*eq = '\0';
		strv_setenv(&c->env, k, eq + 1);
		free(k);
	}
	if (rv == 0) {
		strv_setenv(&c->env, "OPC_RUN_ID", x->req->run_id);
		strv_setenv(&c->env, "OPC_TASK_ID", x->req->task_id);
		strv_setenv(&c->env, "OPC_WORKSPACE", x->ws);
	}
	free(home);
	return (rv);
}
