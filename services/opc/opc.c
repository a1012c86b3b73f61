/*
 * opc.c - the operator CLI's entry point, command table and helpers.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "opc.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/svc.h"
#include "opc/util.h"

/* The commands: usage(), opc(1) and the bash completion are written from
 * these rows (doc.c); a command's options are the --names of its args and
 * help. */
static const struct opc_cmd cmds[] = {
	{ "up", cmd_up, "[--only A,B] [--wait S]",
	    "start opc-supervisor (and the constellation) in the background" },
	{ "down", cmd_down, "[--wait S]",
	    "stop the constellation gracefully" },
	{ "status", cmd_status, "[--json]",
	    "per instance: alive, pid, restarts, journal seq, lag, last "
	    "error" },
	{ "sub", cmd_sub, "[PREFIX...] [--count N] [--json] [--timeout S]",
	    "print every message on the bus (or those matching prefixes)" },
	{ "pub", cmd_pub, "INSTANCE TOPIC JSON [--corr ID]",
	    "inject a message: INSTANCE handles it as if it came off the "
	    "bus" },
	{ "heartbeat-check", cmd_heartbeat_check, "[--max-age S]",
	    "exit 0 when every instance's heartbeat is fresh (default: "
	    "within 300 s) and none says its disk is full, 1 otherwise" },
	{ "task", cmd_task, "add|list|show|move|comment|resume ...",
	    "the local board: add a task, list, show one, move it, resume "
	    "it" },
	{ "runs", cmd_runs, "list [--task ID] [--limit N] | show RUN",
	    "runs recorded by the recorder, with their evidence" },
	{ "spend-report", cmd_spend_report, "[--window-days N] [--json]",
	    "executions, their real cost and tokens over a window" },
	{ "breaker", cmd_breaker, "status | reset [--reason T]",
	    "the router's circuit breaker: its state, or close it now" },
	{ "pause", cmd_pause,
	    "[--repo R] --reason TEXT [--stop-running] [--json]",
	    "emergency stop: dispatch nothing (of every repo, or of R) until "
	    "`opc resume`; tasks wait queued, saying why on the board; "
	    "--stop-running also stops the runs in flight; survives "
	    "restarts" },
	{ "resume", cmd_resume, "[--repo R] [--json]",
	    "lift the pause of every repo (or of R): dispatch again" },
	{ "usage", cmd_usage,
	    "[--kind K] [--repo R] [--since D] [--limit N] [--json]",
	    "the usage store's events: executions, outcomes, quota events, "
	    "quality warnings, scope violations" },
	{ "dependency-check", cmd_dependency_check,
	    "[--repo R] [--create-tasks] [--json]",
	    "each repo's dependency pins against what is installed (and "
	    "the registries' newest); a report under "
	    "STATE_DIR/reports/dependency/; improve tasks for drift" },
	{ "providers", cmd_providers, "[--no-call] [--backend NAME] [--json]",
	    "per backend: installed, version, key set, mode, headless ready" },
	{ "doctor", cmd_doctor, "[--task-id ID]",
	    "check the config, board (Plane: base URL, project, API user, "
	    "each endpoint; the task's work item), GitHub, backends and "
	    "config drift" },
	{ "config", cmd_config, "check [-c FILE] | explain [SERVICE|SECTION]",
	    "check a config file without starting anything; every setting "
	    "with its default" },
	{ "autonomy-cycle", cmd_autonomy_cycle,
	    "[--execute] [--repo R] [--json] [--wait S]",
	    "observe, derive insights and propose now (dry run by default)" },
	{ "observe", cmd_observe, "[--repo R] [--wait S] [--json]",
	    "observe now: a snapshot per repo (reports/observe)" },
	{ "insights", cmd_insights, "[--repo R] [--json]",
	    "the current insights of each repo (reports/insights)" },
	{ "decide", cmd_decide, "[--repo R] [--json]",
	    "the candidates and why the rest are suppressed "
	    "(reports/decide)" },
	{ "propose", cmd_propose, "[--dry-run] [--repo R] [--json]",
	    "one proposer cycle: create the tasks (reports/propose)" },
	{ "autonomy", cmd_autonomy,
	    "tiers list|set --family F --tier N | tune [--apply] [--revert ID]"
	    " | triggers",
	    "autonomy tiers and tuning, live; the CI triggers" },
	{ "campaigns", cmd_campaigns,
	    "[--status pending|in_progress|complete|partially_cancelled|"
	    "cancelled|completed|partial] "
	    "[--json]",
	    "multi-step goal tasks and the progress of their steps" },
	{ "proposals", cmd_proposals,
	    "rejections | calibration [--window-days N] | patterns [--json] "
	    "| reject KEY [--reason T]"
	    " | feedback record --task-id ID --outcome "
	    "merged|rejected|abandoned"
	    " [--family F] [--confidence C]",
	    "the proposer's rejection store and calibration table; record an "
	    "outcome by hand" },
	{ "smoke", cmd_smoke,
	    "--task-id ID [--comment-only] [--comment-text T]",
	    "fetch a work item (Plane or local) and post a comment, running "
	    "nothing; evidence under STATE_DIR/reports/smoke/" },
	{ "demo", cmd_demo,
	    "[--goal TEXT] [--repo-key demo] [--backend NAME] "
	    "[--workspace-path DIR] [--blocked-policy] [--timeout S]",
	    "send one task through the daemons and narrate it (the "
	    "original's demo).\n"
	    "  Starts the constellation first when it is not running (as "
	    "`opc up`, saying so)\n"
	    "  and creates the demo git repository when it is missing.\n"
	    "  --goal TEXT          the task's goal (default: the original's "
	    "hello-world artifact)\n"
	    "  --repo-key KEY       a repo of the config (default demo)\n"
	    "  --backend NAME       run on this backend (stub, or one an "
	    "executor configures,\n"
	    "                       e.g. an agent CLI); its lane is the one "
	    "a rule gives it\n"
	    "  --workspace-path DIR the demo git repository lives in DIR "
	    "(created when missing;\n"
	    "                       the repo's configured path is linked to "
	    "it)\n"
	    "  --blocked-policy     the original's fixture: local_only on a "
	    "remote lane, blocked\n"
	    "  --timeout S          how long to wait for the run (default "
	    "180)\n"
	    "  Exit 0 when the task succeeded, 1 otherwise (blocked, "
	    "failed)" },
	{ NULL, NULL, NULL, NULL },
};

static void
usage(FILE *f)
{
	const struct opc_cmd *c;

	fprintf(f,
	    "usage: opc [-c CONFIG] COMMAND [ARGS]\n\n"
	    "Operates an opcenter constellation.  CONFIG defaults to "
	    "$OPC_CONFIG or\nconfig/opcenter.yaml.\n\ncommands:\n");
	/* a command's first help line; `opc COMMAND --help` has the rest */
	for (c = cmds; c->name != NULL; c++)
		fprintf(f, "  %-16s %s\n  %-16s   %.*s\n", c->name, c->args,
		    "", (int) strcspn(c->help, "\n"), c->help);
	fprintf(f, "\n`opc COMMAND --help` describes one command.\n");
}

struct topo *
opc_topo(struct opc *o)
{
	char err[1024];

	if (o->topo != NULL)
		return (o->topo);
	if (topo_load(&o->topo, o->config, err, sizeof(err)) != 0) {
		fprintf(stderr, "opc: %s\n", err);
		return (NULL);
	}
	return (o->topo);
}

int
opc_ctl(const char *url, enum msg_topic t, const void *body, json_t **data,
    char *err, size_t errlen, int timeout_ms)
{
	struct stat st;

	if (data != NULL)
		*data = NULL;
	if (strncmp(url, "ipc://", 6) == 0 && stat(url + 6, &st) != 0) {
		snprintf(err, errlen, "%s: not running (no socket)", url);
		return (ERR_NOTFOUND);
	}
	return (ctl_call(url, t, body, data, err, errlen, timeout_ms));
}

void
opc_not_up(struct opc *o, const char *why)
{
	fprintf(stderr,
	    "opc: opcenter is not up (%s)\n"
	    "     start it with: opc -c %s up\n",
	    why, o->config);
}

const struct topo_inst *
opc_find_service(struct topo *t, const char *service)
{
	size_t i;

	for (i = 0; i < t->ninst; i++)
		if (t->inst[i].enabled &&
		    strcmp(t->inst[i].service, service) == 0)
			return (&t->inst[i]);
	return (NULL);
}

int
opc_call(struct opc *o, const char *cmd, const char *service, enum msg_topic t,
    const void *body, json_t **data, int timeout_ms)
{
	const struct topo_inst *r;
	struct topo            *topo;
	char                    err[512] = "";
	int                     rv;

	*data = NULL;
	if ((topo = opc_topo(o)) == NULL)
		return (1);
	if ((r = opc_find_service(topo, service)) == NULL) {
		fprintf(stderr, "opc %s: no %s instance in %s\n", cmd, service,
		    topo->config_path);
		return (1);
	}
	rv = opc_ctl(r->ctl, t, body, data, err, sizeof(err), timeout_ms);
	if ((rv == ERR_NOTFOUND && strstr(err, "not running") != NULL) ||
	    rv == ERR_TIMEOUT) {
		opc_not_up(o, err[0] ? err : err_str(rv));
		return (1);
	}
	if (rv != 0) {
		fprintf(
		    stderr, "opc %s: %s\n", cmd, err[0] ? err : err_str(rv));
		return (1);
	}
	return (0);
}

const char *
opc_jstr(const json_t *o, const char *k, const char *def)
{
	const char *s = json_string_value(json_object_get(o, k));

	return (s != NULL && *s != '\0' ? s : def);
}

bool
opc_wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0)
			return (true);
	return (false);
}

int
main(int argc, char **argv)
{
	struct opc            o = { topo_default_config(), NULL };
	const struct opc_cmd *c;
	int                   i = 1, rv;

	(void) umask(077); /* what opc creates (state dir, logs) is private */
	log_init("opc", NULL, LOG_WARN);
	/* the build's: opc(1), opcenter.yaml(5), the bash completion */
	if (argc == 3 && strcmp(argv[1], "--doc") == 0) {
		rv = opc_doc(cmds, argv[2]);
		log_fini();
		return (rv);
	}
	while (i < argc && argv[i][0] == '-') {
		if ((strcmp(argv[i], "-c") == 0 ||
		        strcmp(argv[i], "--config") == 0) &&
		    i + 1 < argc) {
			o.config = argv[i + 1];
			i += 2;
		} else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return (0);
		} else {
			fprintf(stderr, "opc: unknown option %s\n", argv[i]);
			usage(stderr);
			return (2);
		}
	}
	if (i >= argc) {
		usage(stderr);
		return (2);
	}
	for (c = cmds; c->name != NULL; c++)
		if (strcmp(c->name, argv[i]) == 0)
			break;
	if (c->name == NULL) {
		fprintf(stderr, "opc: unknown command '%s'\n\n", argv[i]);
		usage(stderr);
		return (2);
	}
	if (opc_wants_help(argc - i, argv + i)) {
		printf("usage: opc [-c CONFIG] %s %s\n\n%s\n", c->name,
		    c->args, c->help);
		return (0);
	}
	rv = c->fn(&o, argc - i, argv + i);
	topo_close(&o.topo);
	log_fini();
	return (rv);
}
