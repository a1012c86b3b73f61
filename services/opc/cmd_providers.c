/*
 * cmd_providers.c - `opc providers`: per configured backend, is it ready
 * to run headless here (the original's providers-status)?
 *
 * Each backend of each executor instance is handed, as the executor would
 * hand it, to `opc-exec-run --probe`, which builds the CLI exactly as for
 * a run and reports its path, version, API key variable (name and
 * presence, never the value), permission or sandbox mode and, unless
 * --no-call, the outcome of one real one-turn headless call.  The probe
 * sees this process's environment: run it where the executor runs.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "opc.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/util.h"
#include "spec.h"

static const char usage_text[] =
    "usage: opc providers [--no-call] [--backend NAME] [--json]\n"
    "  For every backend of every executor instance: the program and its\n"
    "  version, the API key variable (set or not; never its value), the\n"
    "  permission/sandbox mode, and headless readiness from one real\n"
    "  one-turn call (skipped with --no-call).  Exit 1 when a backend is\n"
    "  not ready.\n";

/* one probe under way: its temp dir and child */
struct probe_run {
	char  tmpl[32];
	char *out, *log, *worker;
	pid_t pid;
};

/* probe_start writes the backend's spec and starts `opc-exec-run --probe`
 * on it; 0, or -1 with err set (nothing left to clean). */
static int
probe_start(struct probe_run *r, const struct cfg_node *executor,
    const struct cfg_node *bk, int call, char *err, size_t errlen)
{
	const struct cfg_node *bw =
	    cfg_get(cfg_get(executor, "sandbox"), "bwrap");
	char   *spec_path = NULL, *ws = NULL, *s = NULL;
	char   *argv[9];
	json_t *spec;
	int     n = 0, rc = -1;

	memset(r, 0, sizeof(*r));
	r->pid = -1;
	if ((spec = backend_spec(bk, err, errlen)) == NULL)
		return (-1);
	/* the executor's bwrap, so the probe finds what its runs find */
	if (bw != NULL && cfg_str(bw) != NULL)
		json_object_set_new(spec, "bwrap", json_string(cfg_str(bw)));
	snprintf(r->tmpl, sizeof(r->tmpl), "/tmp/opc-probe.XXXXXX");
	if (mkdtemp(r->tmpl) == NULL) {
		snprintf(err, errlen, "mkdtemp: %s", strerror(errno));
		r->tmpl[0] = '\0';
		json_decref(spec);
		return (-1);
	}
	spec_path = xasprintf("%s/spec.json", r->tmpl);
	ws        = xasprintf("%s/ws", r->tmpl);
	r->out    = xasprintf("%s/probe.json", r->tmpl);
	r->log    = xasprintf("%s/probe.log", r->tmpl);
	r->worker = exe_sibling("opc-exec-run");
	s         = json_dumps(spec, JSON_INDENT(2));
	json_decref(spec);
	if (s == NULL || write_file_atomic(spec_path, s, strlen(s)) != 0) {
		snprintf(err, errlen, "cannot write %s", spec_path);
		goto done;
	}
	argv[n++] = r->worker;
	argv[n++] = "--probe";
	argv[n++] = spec_path;
	argv[n++] = "--workspace";
	argv[n++] = ws;
	argv[n++] = "--out";
	argv[n++] = r->out;
	if (!call)
		argv[n++] = "--no-call";
	argv[n] = NULL;
	if ((r->pid = child_spawn(r->log, argv, NULL)) < 0)
		snprintf(err, errlen, "cannot run %s: %s", r->worker,
		    strerror(errno));
	else
		rc = 0;
done:
	free(s);
	free(spec_path);
	free(ws);
	return (rc);
}

/* probe_finish waits for a started probe (pid -1: none) and returns its
 * answer, or NULL with err set; frees r and removes its temp dir. */
static json_t *
probe_finish(struct probe_run *r, char *err, size_t errlen)
{
	json_t      *res = NULL;
	json_error_t je;
	int          st;

	if (r->pid > 0) {
		while (waitpid(r->pid, &st, 0) < 0 && errno == EINTR)
			;
		if ((res = json_load_file(r->out, 0, &je)) == NULL) {
			FILE  *f         = fopen(r->log, "r");
			char   line[256] = "";
			size_t len;

			if (f != NULL) {
				if (fgets(line, sizeof(line), f) == NULL)
					line[0] = '\0';
				fclose(f);
			}
			len       = strcspn(line, "\n");
			line[len] = '\0';
			snprintf(err, errlen, "the probe wrote no answer (%s)",
			    line[0] != '\0' ? line : je.text);
		}
	}
	if (r->tmpl[0] != '\0')
		(void) rmtree(r->tmpl);
	free(r->out);
	free(r->log);
	free(r->worker);
	return (res);
}

json_t *
opc_probe_all(struct topo *t, const char *only, int call)
{
	const struct cfg_node *bks;
	struct probe_run      *runs = NULL;
	json_t                *all  = json_array(), *p;
	char                   err[512];
	size_t                 i, k, n = 0, cap = 0;
	char                 **errs = NULL;

	/* start every probe, then collect them in order: a slow CLI start
	 * (seconds for a node program) is paid once, not once per backend */
	for (i = 0; i < t->ninst; i++) {
		if (strcmp(t->inst[i].service, "executor") != 0)
			continue;
		bks = cfg_get(t->inst[i].node, "backends");
		for (k = 0; k < cfg_len(bks); k++) {
			if (only != NULL &&
			    strcmp(only, cfg_key_at(bks, k)) != 0)
				continue;
			if (n == cap) {
				cap  = cap ? cap * 2 : 8;
				runs = xrealloc(runs, cap * sizeof(*runs));
				errs = xrealloc(errs, cap * sizeof(*errs));
			}
			err[0] = '\0';
			(void) probe_start(&runs[n], t->inst[i].node,
			    cfg_at(bks, k), call, err, sizeof(err));
			errs[n] = xstrdup(err);
			p       = json_pack("{s:s, s:s}", "instance",
			          t->inst[i].name, "backend", cfg_key_at(bks, k));
			json_array_append_new(all, p);
			n++;
		}
	}
	for (i = 0; i < n; i++) {
		json_t *slot = json_array_get(all, i), *res;

		snprintf(err, sizeof(err), "%s", errs[i]);
		if ((res = probe_finish(&runs[i], err, sizeof(err))) == NULL)
			res = json_pack("{s:s, s:s}", "ready", "no", "detail",
			    err[0] != '\0' ? err : "the probe did not start");
		json_object_set(
		    res, "instance", json_object_get(slot, "instance"));
		json_object_set(
		    res, "backend", json_object_get(slot, "backend"));
		json_array_set_new(all, i, res);
		free(errs[i]);
	}
	free(runs);
	free(errs);
	return (all);
}

static void
print_probe(const char *inst, const char *name, const json_t *p)
{
	const json_t *a     = json_object_get(p, "agent");
	const char   *ready = opc_jstr(p, "ready", "?");

	printf("%s/%s: %s, ready: %s\n", inst, name, opc_jstr(p, "kind", "?"),
	    ready);
	if (strcmp(opc_jstr(p, "kind", ""), "stub") == 0) {
		printf("  program   built in\n");
		return;
	}
	printf("  program   %s", opc_jstr(p, "program", "?"));
	if (json_is_string(json_object_get(p, "path")))
		printf(" (%s)", opc_jstr(p, "path", ""));
	else
		printf(" (not found on the PATH)");
	printf("\n  version   %s\n", opc_jstr(p, "version", "unknown"));
	if (json_object_get(p, "key_present") != NULL)
		printf("  api key   %s: %s\n",
		    opc_jstr(p, "key_env", "(none)"),
		    json_is_true(json_object_get(p, "key_present"))
		        ? "set"
		        : "NOT SET");
	if (json_is_string(json_object_get(p, "base_url")))
		printf("  base url  %s\n", opc_jstr(p, "base_url", ""));
	if (json_is_string(json_object_get(p, "mode")))
		printf("  mode      %s\n", opc_jstr(p, "mode", ""));
	if (json_is_string(json_object_get(p, "sandbox")))
		printf("  sandbox   %s\n", opc_jstr(p, "sandbox", ""));
	if (json_is_object(a)) {
		printf("  probe     %s",
		    json_is_true(json_object_get(a, "is_error")) ? "error"
		                                                 : "answered");
		if (json_is_number(json_object_get(a, "cost_usd")))
			printf(", $%.4f",
			    json_number_value(json_object_get(a, "cost_usd")));
		if (json_is_string(json_object_get(a, "model")))
			printf(", model %s", opc_jstr(a, "model", ""));
		printf("\n");
	}
	if (json_is_string(json_object_get(p, "detail")))
		printf("  detail    %s\n", opc_jstr(p, "detail", ""));
}

int
cmd_providers(struct opc *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-call", no_argument, NULL, 'n' },
		{ "backend", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct topo *t;
	json_t      *all, *p;
	const char  *only = NULL;
	size_t       i;
	int          ch, call = 1, js = 0, notready = 0, seen = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			call = 0;
			break;
		case 'b':
			only = optarg;
			break;
		case 'j':
			js = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return (0);
		default:
			fputs(usage_text, stderr);
			return (2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "opc providers: unexpected argument %s\n%s",
		    argv[optind], usage_text);
		return (2);
	}
	if ((t = opc_topo(o)) == NULL)
		return (1);
	all = opc_probe_all(t, only, call);
	json_array_foreach (all, i, p) {
		seen++;
		if (strcmp(opc_jstr(p, "ready", "no"), "no") == 0)
			notready++;
		if (!js)
			print_probe(opc_jstr(p, "instance", "?"),
			    opc_jstr(p, "backend", "?"), p);
	}
	if (js) {
		char *s =
		    json_dumps(all, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		printf("%s\n", s);
		free(s);
	} else if (seen == 0)
		printf(only ? "no backend named %s\n"
		            : "no backend configured on any executor\n",
		    only ? only : "");
	json_decref(all);
	return (notready > 0 || (only != NULL && seen == 0) ? 1 : 0);
}
