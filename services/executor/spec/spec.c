/*
 * spec.c - a configured backend -> backend_spec (see spec.h).
 */
#include <stdio.h>
#include <string.h>

#include "opc/err.h"
#include "opc/util.h"
#include "spec.h"

static const struct cfg_key prices_keys[] = {
	CFG_NUM("input_per_mtok", NULL, "0", NULL,
	    "USD per million input "
	    "tokens"),
	CFG_NUM("output_per_mtok", NULL, "0", NULL,
	    "USD per million output "
	    "tokens"),
	CFG_NUM("cached_input_per_mtok", NULL, "0", NULL,
	    "USD per million cached input tokens"),
	CFG_END,
};

static const struct cfg_key env_item[] = {
	CFG_STR("*", NULL, "a variable's value"),
	CFG_END,
};

/* The worker (run/request.c) has the defaults of the profile settings:
 * the rows say them.  backend_spec copies every scalar row that is set. */
const struct cfg_key backend_keys[] = {
	CFG_ENUM("kind", "command",
	    "stub|command|claude_cli|codex_cli|aider|kodo",
	    "what runs: stub, a command's argv, or an agent CLI's profile"),
	CFG_STRS("argv",
	    "kind command: the program and its arguments "
	    "({goal}, {prompt_file}, {workspace} expand)"),
	CFG_STRS("env_allow", "variables passed through to the backend"),
	CFG_MAP("env", env_item, "variables set for the backend"),
	CFG_STR("model", NULL, "the model the CLI asks for"),
	CFG_ENUM("workspace", NULL, "git|scratch",
	    "git: a clone of the repo (default); scratch: an empty directory"),
	CFG_STR("bin", NULL, "the CLI's program (default: the profile's)"),
	CFG_STR("api_key_env", NULL,
	    "the variable holding its API key (default: the profile's)"),
	CFG_STR("base_url", NULL, "the API's address"),
	CFG_STR("permission_mode", NULL, "the CLI's permission mode"),
	CFG_STR("sandbox", NULL,
	    "on (default): the run is confined by bubblewrap; off: it runs "
	    "unconfined (see README, Sandbox); a codex_cli sandbox mode "
	    "(read-only, workspace-write, danger-full-access) here is "
	    "codex_sandbox, with the bubblewrap sandbox on"),
	CFG_STR("codex_sandbox", NULL,
	    "codex_cli: the CLI's own sandbox_mode (default workspace-write)"),
	CFG_ENUM("network", NULL, "host|none",
	    "the sandbox's network: host (default for the agent CLIs) or none "
	    "(default for command)"),
	CFG_STRS("sandbox_ro_paths",
	    "paths the sandboxed backend may read although they lie in a "
	    "hidden directory (its CLI's install directory, a tool cache)"),
	CFG_STRS("sandbox_rw_paths",
	    "paths outside its workspace the sandboxed backend may write"),
	CFG_INT("memory_mb", NULL, "0", NULL,
	    "address space of a run, MiB (default: the executor's "
	    "sandbox.memory_mb; 0: none)"),
	CFG_INT("max_procs", NULL, "0", NULL,
	    "processes of a run (default: the executor's sandbox.max_procs)"),
	CFG_INT("cpu_seconds", NULL, "0", NULL,
	    "CPU time of a run (default: the executor's sandbox.cpu_seconds)"),
	CFG_INT("file_size_mb", NULL, "0", NULL,
	    "largest file a run may write, MiB (default: the executor's "
	    "sandbox.file_size_mb)"),
	CFG_STR("team", NULL, "kodo: the team"),
	CFG_STR("orchestrator", NULL, "kodo: the orchestrator"),
	CFG_STR("effort", NULL, "the model's reasoning effort"),
	CFG_INT("max_output_bytes", NULL, "1", NULL,
	    "output kept of the backend (default: the worker's)"),
	CFG_INT("kill_grace_seconds", NULL, "0", NULL,
	    "SIGTERM, then SIGKILL after this long (default 5)"),
	CFG_INT("max_turns", NULL, "0", NULL, "the CLI's turns (0: its own)"),
	CFG_INT("max_retries", NULL, "0", NULL,
	    "retries of a failed run (default: the profile's, 2)"),
	CFG_INT("cycles", NULL, "0", NULL, "kodo: cycles"),
	CFG_INT("exchanges", NULL, "0", NULL, "kodo: exchanges"),
	CFG_INT("transient_retries", NULL, "0", NULL,
	    "retries of a transient API error (default 2)"),
	CFG_INT("retry_backoff_seconds", NULL, "0", NULL,
	    "the first transient retry's delay (default 30)"),
	CFG_NUM("max_budget_usd", NULL, "0", "1000000000",
	    "the most one run may cost (what the router reserves)"),
	CFG_SECTION("prices", prices_keys,
	    "prices when the CLI reports tokens, not cost"),
	CFG_END,
};

static json_t *
strs(const struct cfg_node *n)
{
	json_t *a = json_array();
	size_t  i;

	for (i = 0; i < cfg_len(n); i++)
		json_array_append_new(a, json_string(cfg_str(cfg_at(n, i))));
	return (a);
}

/* scalar reads the row k under n: a new JSON value, NULL when it is not
 * set, or NULL with *rv set (err too). */
static json_t *
scalar(const struct cfg_key *tab, const struct cfg_key *k,
    const struct cfg_node *n, const char *path, int *rv, char *err,
    size_t errlen)
{
	const char *s = NULL;
	int64_t     i;
	double      d;

	*rv = 0;
	if (cfg_is_null(cfg_get(n, path)))
		return (NULL);
	switch (k->type) {
	case CFG_K_STR:
	case CFG_K_ENUM:
		*rv = cfg_tab_str(tab, n, path, &s, err, errlen);
		return (*rv == 0 ? json_string(s) : NULL);
	case CFG_K_INT:
		*rv = cfg_tab_int(tab, n, path, &i, err, errlen);
		return (*rv == 0 ? json_integer(i) : NULL);
	default:
		*rv = cfg_tab_num(tab, n, path, &d, err, errlen);
		return (*rv == 0 ? json_real(d) : NULL);
	}
}

/* copy sets dst[row] for every scalar row of tab set under n (prices:
 * a section of scalars, into an object of its own). */
static int
copy(json_t *dst, const struct cfg_key *tab, const struct cfg_node *n,
    char *err, size_t errlen)
{
	const struct cfg_key *k;
	json_t               *v;
	int                   rv;

	for (k = tab; k->type != CFG_K_END; k++) {
		if (k->type == CFG_K_SECTION) {
			if (cfg_get(n, k->name) == NULL)
				continue;
			v = json_object();
			json_object_set_new(dst, k->name, v);
			if ((rv = copy(v, k->sub, cfg_get(n, k->name), err,
			         errlen)) != 0)
				return (rv);
			continue;
		}
		if (k->type != CFG_K_STR && k->type != CFG_K_INT &&
		    k->type != CFG_K_NUM &&
		    !(k->type == CFG_K_ENUM && k->def == NULL))
			continue; /* kind, argv, env: backend_spec's own */
		if ((v = scalar(tab, k, n, k->name, &rv, err, errlen)) != NULL)
			json_object_set_new(dst, k->name, v);
		else if (rv != 0)
			return (rv);
	}
	return (0);
}

int
backend_kind_known(const char *kind)
{
	const char *c = cfg_tab_find(backend_keys, "kind")->choices;
	size_t      n, l;

	if (kind == NULL)
		return (0);
	for (n = strlen(kind); *c != '\0'; c += l + (c[l] == '|')) {
		l = strcspn(c, "|");
		if (l == n && strncmp(c, kind, n) == 0)
			return (1);
	}
	return (0);
}

/* sandbox_value_ok: NULL, on, off or one of codex's modes. */
static int
sandbox_value_ok(const char *v)
{
	static const char *const ok[] = { "on", "off", "read-only",
		"workspace-write", "danger-full-access" };
	size_t                   i;

	for (i = 0; v != NULL && i < nitems(ok); i++)
		if (strcmp(v, ok[i]) == 0)
			return (1);
	return (v == NULL);
}

int
backend_check(const struct cfg_node *executor, char *err, size_t errlen)
{
	const struct cfg_node *bks = cfg_get(executor, "backends"), *bk;
	json_t                *spec;
	const char            *kind, *name;
	char                   where[256];
	size_t                 i;

	for (i = 0; i < cfg_len(bks); i++) {
		bk   = cfg_at(bks, i);
		name = cfg_key_at(bks, i);
		if ((spec = backend_spec(bk, err, errlen)) == NULL)
			return (ERR_CONFIG);
		kind = json_string_value(json_object_get(spec, "kind"));
		cfg_where(cfg_get(bk, "kind") ? cfg_get(bk, "kind") : bk,
		    where, sizeof(where));
		if (!backend_kind_known(kind)) {
			snprintf(err, errlen,
			    "%s: backends.%s.kind: unknown "
			    "kind '%s' (stub, command, claude_cli, codex_cli, "
			    "aider, kodo)",
			    where, name, kind ? kind : "");
			json_decref(spec);
			return (ERR_CONFIG);
		}
		if (strcmp(kind, "command") == 0 &&
		    json_array_size(json_object_get(spec, "argv")) == 0) {
			snprintf(err, errlen,
			    "%s: backends.%s: kind command "
			    "needs an argv",
			    where, name);
			json_decref(spec);
			return (ERR_CONFIG);
		}
		if (!sandbox_value_ok(
		        json_string_value(json_object_get(spec, "sandbox")))) {
			snprintf(err, errlen,
			    "%s: backends.%s.sandbox: expected on, off or a "
			    "codex_cli sandbox mode (read-only, "
			    "workspace-write, "
			    "danger-full-access), got '%s'",
			    where, name,
			    json_string_value(
			        json_object_get(spec, "sandbox")));
			json_decref(spec);
			return (ERR_CONFIG);
		}
		json_decref(spec);
	}
	return (0);
}

json_t *
backend_spec(const struct cfg_node *bk, char *err, size_t errlen)
{
	const struct cfg_node *n;
	json_t                *spec, *env;
	const char            *kind;
	size_t                 i;

	if (bk == NULL)
		return (json_pack("{s:s}", "kind", "stub"));
	/* the kind is not checked here: backend_check says which are known,
	 * the worker refuses the others */
	kind = cfg_tab_find(backend_keys, "kind")->def;
	if (cfg_get_str(bk, "kind", kind, &kind, err, errlen) != 0)
		return (NULL);
	spec = json_pack("{s:s, s:o, s:o, s:o, s:o}", "kind", kind, "argv",
	    strs(cfg_get(bk, "argv")), "env_allow",
	    strs(cfg_get(bk, "env_allow")), "sandbox_ro_paths",
	    strs(cfg_get(bk, "sandbox_ro_paths")), "sandbox_rw_paths",
	    strs(cfg_get(bk, "sandbox_rw_paths")));
	env  = json_object();
	n    = cfg_get(bk, "env");
	for (i = 0; i < cfg_len(n); i++)
		json_object_set_new(
		    env, cfg_key_at(n, i), json_string(cfg_str(cfg_at(n, i))));
	json_object_set_new(spec, "env", env);
	if (copy(spec, backend_keys, bk, err, errlen) != 0) {
		json_decref(spec);
		return (NULL);
	}
	if (errlen > 0)
		err[0] = '\0';
	return (spec);
}

int
backend_sandboxed(const json_t *spec)
{
	const char *kind = json_string_value(json_object_get(spec, "kind"));
	const char *sb   = json_string_value(json_object_get(spec, "sandbox"));

	return (kind != NULL && strcmp(kind, "stub") != 0 &&
	    (sb == NULL || strcmp(sb, "off") != 0));
}
