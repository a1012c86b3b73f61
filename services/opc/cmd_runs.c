/*
 * cmd_runs.c - `opc runs list|show` and `opc spend-report`: the recorder's
 * runs, their evidence, what the agent CLI reported of each (session,
 * turns, cost, tokens, denials) and the spend report, over the recorder's
 * ctl socket (never its database).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opc.h"
#include "opc/err.h"
#include "opc/util.h"

static const char runs_usage[] =
    "usage: opc runs list [--task ID] [--limit N] [--json]\n"
    "       opc runs show RUN [--json]\n"
    "       (RUN: a run id, or any unique beginning of one, such as the\n"
    "       short id `opc runs list` prints)\n";

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
				fprintf(stderr,
				    "opc runs: --limit wants a "
				    "positive number\n");
				return (2);
			}
		} else {
			fprintf(stderr,
			    "opc runs list: unknown argument %s\n%s", argv[k],
			    runs_usage);
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
	json_array_foreach (json_object_get(data, "runs"), i, r)
		printf("%-8.8s  %-10s %-11s %-12s %-14s %-18s %s\n",
		    opc_jstr(r, "run_id", "?"), opc_jstr(r, "task_id", "-"),
		    opc_jstr(r, "status", "-"), opc_jstr(r, "lane", "-"),
		    opc_jstr(r, "backend", "-"),
		    opc_jstr(r, "failure_category", "-"),
		    opc_jstr(r, "path", "-"));
	json_decref(data);
	return (0);
}

/* jnum returns o[k] as a number, def when absent or null. */
static double
jnum(const json_t *o, const char *k, double def)
{
	const json_t *v = json_object_get(o, k);

	return (json_is_number(v) ? json_number_value(v) : def);
}

/* print_agent prints what the agent CLI reported of a run (data.agent)
 * and what it cost (data.usage): the real cost and its source, or the
 * estimate when the run reported none. */
static void
print_agent(const json_t *data)
{
	const json_t *a = json_object_get(data, "agent");
	const json_t *u = json_object_get(data, "usage");
	const json_t *d;
	double        cost = jnum(u, "cost_usd", -1);
	size_t        i;

	if (json_is_object(a)) {
		printf(
		    "agent:      %s, session %s, model %s, %lld turn(s)%s\n",
		    opc_jstr(a, "cli", "?"), opc_jstr(a, "session_id", "-"),
		    opc_jstr(a, "model", "-"), (long long) jnum(a, "turns", 0),
		    json_is_true(json_object_get(a, "is_error"))
		        ? ", reported an error"
		        : "");
		if (json_is_integer(json_object_get(a, "api_status")) ||
		    opc_jstr(a, "api_error", NULL) != NULL)
			printf("api error:  %lld %s%s\n",
			    (long long) jnum(a, "api_status", 0),
			    opc_jstr(a, "api_error", "-"),
			    json_is_integer(
			        json_object_get(a, "retry_after_ms"))
			        ? " (retry after a while)"
			        : "");
	}
	if (json_is_object(u) && cost >= 0)
		printf("cost:       $%.4f (%s)\n", cost,
		    opc_jstr(u, "cost_source", "reported"));
	else if (json_is_object(u))
		printf("cost:       $%.4f (estimate: the run reported no "
		       "cost)\n",
		    jnum(u, "estimated_usd", 0));
	if (json_is_object(a) &&
	    json_is_integer(json_object_get(a, "input_tokens")))
		printf("tokens:     %lld in, %lld out, %lld cache read, %lld "
		       "cache write\n",
		    (long long) jnum(a, "input_tokens", 0),
		    (long long) jnum(a, "output_tokens", 0),
		    (long long) jnum(a, "cache_read_tokens", 0),
		    (long long) jnum(a, "cache_creation_tokens", 0));
	if (json_array_size(json_object_get(a, "permission_denials")) > 0) {
		printf("denials:   ");
		json_array_foreach (
		    json_object_get(a, "permission_denials"), i, d)
			printf("%s %s", i ? "," : "",
			    json_is_string(d) ? json_string_value(d) : "?");
		printf("\n");
	}
	if (opc_jstr(a, "message", NULL) != NULL)
		printf("message:    %s\n", opc_jstr(a, "message", ""));
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
			    "opc runs show: unknown argument %s\n%s", argv[k],
			    runs_usage);
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
	tr   = json_object_get(data, "trace");
	path = opc_jstr(data, "path", NULL);
	if (!json_is_object(tr)) {
		printf("run %s (task %s): %s, evidence not written yet\n",
		    opc_jstr(data, "run_id", q.run_id),
		    opc_jstr(data, "task_id", "-"),
		    opc_jstr(data, "status", "?"));
		print_agent(data);
		json_decref(data);
		return (0);
	}
	printf("%s\n%s\n", opc_jstr(tr, "headline", "?"),
	    opc_jstr(tr, "summary", ""));
	printf("task:       %s\n", opc_jstr(data, "task_id", "-"));
	printf("changes:    %s\n", opc_jstr(tr, "changed_files_summary", "-"));
	printf("validation: %s\n", opc_jstr(tr, "validation_summary", "-"));
	print_agent(data);
	if (json_array_size(json_object_get(tr, "warnings")) > 0) {
		printf("warnings:\n");
		json_array_foreach (json_object_get(tr, "warnings"), i, v)
			printf("  - %s\n", json_string_value(v));
	}
	printf("evidence:   %s\n", path ? path : "-");
	json_array_foreach (json_object_get(data, "files"), i, v)
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

/* print_spend prints a spend report for people: real dollars (what the
 * agents reported, the estimate only where they reported nothing). */
static void
print_spend(const json_t *d)
{
	const json_t *r;
	const char   *k;

	printf("spend over the last %lld day(s): $%.4f for %lld "
	       "execution(s); $%.4f reported by the agents, %lld execution(s) "
	       "at the estimate\n",
	    (long long) jnum(d, "window_days", 1),
	    jnum(d, "total_estimated_usd", 0),
	    (long long) jnum(d, "total_executions", 0),
	    jnum(d, "total_reported_usd", 0),
	    (long long) jnum(d, "estimated_only_executions", 0));
	if (jnum(d, "superseded_executions", 0) > 0)
		printf("not counted: %lld run(s) taken back by the router "
		       "(their executor was cut off), $%.4f reported by "
		       "them\n",
		    (long long) jnum(d, "superseded_executions", 0),
		    jnum(d, "superseded_usd", 0));
	printf("tokens: %lld in, %lld out, %lld cache read, %lld cache "
	       "write\n",
	    (long long) jnum(d, "total_input_tokens", 0),
	    (long long) jnum(d, "total_output_tokens", 0),
	    (long long) jnum(d, "total_cache_read_tokens", 0),
	    (long long) jnum(d, "total_cache_creation_tokens", 0));
	if (json_object_size(json_object_get(d, "per_repo")) == 0)
		return;
	printf("%-24s %10s %12s %12s %14s\n", "REPO", "EXECUTIONS",
	    "SPENT_USD", "REPORTED_USD", "ESTIMATED_ONLY");
	json_object_foreach (json_object_get(d, "per_repo"), k, r)
		printf("%-24s %10lld %12.4f %12.4f %14lld\n", k,
		    (long long) jnum(r, "executions", 0),
		    jnum(r, "estimated_usd", 0), jnum(r, "reported_usd", 0),
		    (long long) jnum(r, "estimated_only", 0));
}

int
cmd_spend_report(struct opc *o, int argc, char **argv)
{
	struct msg_recorder_spend q;
	json_t                   *data;
	bool                      json = false;
	int                       k;

	memset(&q, 0, sizeof(q));
	q.window_days = 1;
	for (k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--json") == 0)
			json = true;
		else if (strcmp(argv[k], "--window-days") == 0 &&
		    k + 1 < argc) {
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
			    "usage: opc spend-report [--window-days N] "
			    "[--json]\n",
			    argv[k]);
			return (2);
		}
	}
	if (recorder_call(o, "spend-report", MSG_RECORDER_SPEND, &q, &data) !=
	    0)
		return (1);
	if (json)
		print_json(data);
	else
		print_spend(data);
	json_decref(data);
	return (0);
}
