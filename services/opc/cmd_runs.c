/*
 * cmd_runs.c - `opc runs list|show` and `opc spend-report`: the recorder's
 * runs, their evidence and the spend report, over the recorder's ctl
 * socket (never its database).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opc.h"
#include "opc/err.h"
#include "opc/util.h"

static const char runs_usage[] =
    "usage: opc runs list [--task ID] [--limit N] [--json]\n"
    "       opc runs show RUN [--json]\n";

/* recorder_call sends one request to the recorder (see opc_call). */
static int
recorder_call(struct opc *o, const char *cmd, enum msg_topic t,
              const void *body, json_t **data)
{
	return (opc_call(o, cmd, "recorder", t, body, data, OPC_CTL_TIMEOUT));
}

static void
print_json(const json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
	printf("\n");
}

/* parse_count reads a positive integer argument; -1 when invalid. */
static long
parse_count(const char *s)
{
	char *end;
	long  v = strtol(s, &end, 10);

	return (*s != '\0' && *end == '\0' && v > 0 ? v : -1);
}

static int
runs_list(struct opc *o, int argc, char **argv)
{
	struct msg_recorder_runs_list q;
	json_t                       *data, *r;
	bool                          json = false;
	size_t                        i;
	int                           k;

	memset(&q, 0, sizeof(q));
	for (k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--json") == 0)
			json = true;
		else if (strcmp(argv[k], "--task") == 0 && k + 1 < argc)
			q.task_id = argv[++k];
		else if (strcmp(argv[k], "--limit") == 0 && k + 1 < argc) {
			if ((q.limit = parse_count(argv[++k])) < 0) {
				fprintf(stderr, "opc runs: --limit wants a "
				                "positive number\n");
				return (2);
			}
		} else {
			fprintf(stderr,
			        "opc runs list: unknown argument %s\n%s",
			        argv[k], runs_usage);
			return (2);
		}
	}
	if (recorder_call(o, "runs", MSG_RECORDER_RUNS_LIST, &q, &data) != 0)
		return (1);
	if (json) {
		print_json(data);
		json_decref(data);
		return (0);
	}
	printf("%-8s  %-10s %-11s %-12s %-14s %-18s %s\n", "RUN_ID", "TASK",
	       "STATUS", "LANE", "BACKEND", "CATEGORY", "PATH");
	json_array_foreach(json_object_get(data, "runs"), i, r)
	    printf("%-8.8s  %-10s %-11s %-12s %-14s %-18s %s\n",
	           opc_jstr(r, "run_id", "?"), opc_jstr(r, "task_id", "-"),
	           opc_jstr(r, "status", "-"), opc_jstr(r, "lane", "-"),
	           opc_jstr(r, "backend", "-"), opc_jstr(r, "failure_category", "-"),
	           opc_jstr(r, "path", "-"));
	json_decref(data);
	return (0);
}

static int
runs_show(struct opc *o, int argc, char **argv)
{
	struct msg_recorder_run_show q;
	json_t                      *data, *tr, *v;
	const char                  *path;
	bool                         json = false;
	size_t                       i;
	int                          k;

	memset(&q, 0, sizeof(q));
	for (k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--json") == 0)
			json = true;
		else if (argv[k][0] != '-' && q.run_id == NULL)
			q.run_id = argv[k];
		else {
			fprintf(stderr,
			        "opc runs show: unknown argument %s\n%s",
			        argv[k], runs_usage);
			return (2);
		}
	}
	if (q.run_id == NULL) {
		fprintf(stderr, "%s", runs_usage);
		return (2);
	}
	if (recorder_call(o, "runs", MSG_RECORDER_RUN_SHOW, &q, &data) != 0)
		return (1);
	if (json) {
		print_json(data);
		json_decref(data);
		return (0);
	}
	tr = json_object_get(data, "trace");
	path = opc_jstr(data, "path", NULL);
	if (!json_is_object(tr)) {
		printf("run %s (task %s): %s, evidence not written yet\n",
		       opc_jstr(data, "run_id", q.run_id),
		       opc_jstr(data, "task_id", "-"), opc_jstr(data, "status", "?"));
		json_decref(data);
		return (0);
	}
	printf("%s\n%s\n", opc_jstr(tr, "headline", "?"), opc_jstr(tr, "summary", ""));
	printf("task:       %s\n", opc_jstr(data, "task_id", "-"));
	printf("changes:    %s\n", opc_jstr(tr, "changed_files_summary", "-"));
	printf("validation: %s\n", opc_jstr(tr, "validation_summary", "-"));
	if (json_array_size(json_object_get(tr, "warnings")) > 0) {
		printf("warnings:\n");
		json_array_foreach(json_object_get(tr, "warnings"), i, v)
		    printf("  - %s\n", json_string_value(v));
	}
	printf("evidence:   %s\n", path ? path : "-");
	json_array_foreach(json_object_get(data, "files"), i, v)
	    printf("  %s/%s\n", path ? path : ".", json_string_value(v));
	json_decref(data);
	return (0);
}

int
cmd_runs(struct opc *o, int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "%s", runs_usage);
		return (2);
	}
	if (strcmp(argv[1], "list") == 0)
		return (runs_list(o, argc - 1, argv + 1));
	if (strcmp(argv[1], "show") == 0)
		return (runs_show(o, argc - 1, argv + 1));
	fprintf(stderr, "opc runs: unknown subcommand '%s'\n%s", argv[1],
	        runs_usage);
	return (2);
}

int
cmd_spend_report(struct opc *o, int argc, char **argv)
{
	struct msg_recorder_spend q;
	json_t                   *data;
	int                       k;

	memset(&q, 0, sizeof(q));
	q.window_days = 1;
	for (k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--window-days") == 0 && k + 1 < argc) {
			if ((q.window_days = parse_count(argv[++k])) < 0) {
				fprintf(stderr,
				        "opc spend-report: "
				        "--window-days wants a positive "
				        "number\n");
				return (2);
			}
		} else {
			fprintf(stderr,
			        "opc spend-report: unknown argument %s\n"
			        "usage: opc spend-report [--window-days N]\n",
			        argv[k]);
			return (2);
		}
	}
	if (recorder_call(o, "spend-report", MSG_RECORDER_SPEND, &q, &data) !=
	    0)
		return (1);
	print_json(data);
	json_decref(data);
	return (0);
}
