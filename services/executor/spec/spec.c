/*
 * spec.c - a configured backend -> backend_spec (see spec.h).
 */
#include <stdio.h>
#include <string.h>

#include "opc/err.h"
#include "opc/util.h"
#include "spec.h"

/* The agent-profile settings a backend may carry, with their types:
 * copied as they are; the worker checks their values. */
static const struct {
	const char *key;
	char        type; /* s string, i integer, d number */
} keys[] = {
	{ "model", 's' }, { "workspace", 's' }, { "bin", 's' },
	{ "api_key_env", 's' }, { "base_url", 's' },
	{ "permission_mode", 's' }, { "sandbox", 's' }, { "team", 's' },
	{ "orchestrator", 's' }, { "effort", 's' },
	{ "max_output_bytes", 'i' }, { "kill_grace_seconds", 'i' },
	{ "max_turns", 'i' }, { "max_retries", 'i' }, { "cycles", 'i' },
	{ "exchanges", 'i' }, { "transient_retries", 'i' },
	{ "retry_backoff_seconds", 'i' }, { "max_budget_usd", 'd' },
	{ "prices.input_per_mtok", 'd' }, { "prices.output_per_mtok", 'd' },
	{ "prices.cached_input_per_mtok", 'd' },
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

/* scalar reads keys[i] of bk: a new JSON value, or NULL (err set). */
static json_t *
scalar(const struct cfg_node *bk, size_t i, char *err, size_t errlen)
{
	const char *s;
	int64_t     n;
	double      d;

	switch (keys[i].type) {
	case 's':
		return (cfg_get_str(bk, keys[i].key, NULL, &s, err, errlen) == 0
		    ? json_string(s) : NULL);
	case 'i':
		return (cfg_get_int(bk, keys[i].key, 0, &n, err, errlen) == 0
		    ? json_integer(n) : NULL);
	default:
		return (cfg_get_double(bk, keys[i].key, 0, &d, err, errlen) == 0
		    ? json_real(d) : NULL);
	}
}

static const char *const kinds[] = {
	"stub", "command", "claude_cli", "codex_cli", "aider", "kodo",
};

int
backend_kind_known(const char *kind)
{
	size_t i;

	for (i = 0; kind != NULL && i < nitems(kinds); i++)
		if (strcmp(kinds[i], kind) == 0)
			return (1);
	return (0);
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
		bk = cfg_at(bks, i);
		name = cfg_key_at(bks, i);
		if ((spec = backend_spec(bk, err, errlen)) == NULL)
			return (ERR_CONFIG);
		kind = json_string_value(json_object_get(spec, "kind"));
		cfg_where(cfg_get(bk, "kind") ? cfg_get(bk, "kind") : bk, where,
		    sizeof(where));
		if (!backend_kind_known(kind)) {
			snprintf(err, errlen, "%s: backends.%s.kind: unknown "
			    "kind '%s' (stub, command, claude_cli, codex_cli, "
			    "aider, kodo)", where, name, kind ? kind : "");
			json_decref(spec);
			return (ERR_CONFIG);
		}
		if (strcmp(kind, "command") == 0 &&
		    json_array_size(json_object_get(spec, "argv")) == 0) {
			snprintf(err, errlen, "%s: backends.%s: kind command "
			    "needs an argv", where, name);
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
	json_t                *spec, *env, *v, *dst;
	const char            *kind, *dot;
	size_t                 i;

	if (bk == NULL)
		return (json_pack("{s:s}", "kind", "stub"));
	if (cfg_get_str(bk, "kind", "command", &kind, err, errlen) != 0)
		return (NULL);
	spec = json_pack("{s:s, s:o, s:o}", "kind", kind, "argv",
	    strs(cfg_get(bk, "argv")), "env_allow",
	    strs(cfg_get(bk, "env_allow")));
	env = json_object();
	n = cfg_get(bk, "env");
	for (i = 0; i < cfg_len(n); i++)
		json_object_set_new(env, cfg_key_at(n, i),
		    json_string(cfg_str(cfg_at(n, i))));
	json_object_set_new(spec, "env", env);
	for (i = 0; i < nitems(keys); i++) {
		if (cfg_get(bk, keys[i].key) == NULL)
			continue;
		if ((v = scalar(bk, i, err, errlen)) == NULL) {
			json_decref(spec);
			return (NULL);
		}
		dst = spec;
		if ((dot = strchr(keys[i].key, '.')) != NULL) {
			char *obj = xstrndup(keys[i].key,
			    (size_t) (dot - keys[i].key));

			if ((dst = json_object_get(spec, obj)) == NULL) {
				dst = json_object();
				json_object_set_new(spec, obj, dst);
			}
			free(obj);
		}
		json_object_set_new(dst, dot ? dot + 1 : keys[i].key, v);
	}
	if (errlen > 0)
		err[0] = '\0';
	return (spec);
}
