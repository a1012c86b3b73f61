/*
 * cmd_campaigns.c - `opc campaigns [--status S] [--json]`: the campaigns
 * board-sync made of multi-step goal tasks (the original's
 * campaign_status: a progress bar, done/total steps and the percentage,
 * each step's state).
 */
#include <stdio.h>
#include <string.h>

#include "opc.h"

static const char usage[] =
    "usage: opc campaigns [--status "
    "pending|in_progress|complete|partially_cancelled|cancelled\n"
    "                        (or the original's completed|partial)] "
    "[--json]\n";

static const char *
icon(const char *state)
{
	if (strcmp(state, "Done") == 0)
		return ("\xe2\x9c\x93"); /* check mark */
	if (strcmp(state, "Cancelled") == 0)
		return ("\xe2\x9c\x97"); /* ballot x */
	if (strcmp(state, "Backlog") == 0)
		return ("\xe2\x80\xa6"); /* ellipsis: waits */
	return ("~");                    /* running or waiting for a human */
}

int
cmd_campaigns(struct opc *o, int argc, char **argv)
{
	struct msg_board_campaigns q = { NULL };
	json_t                    *d, *c, *s;
	bool                       json = false;
	size_t                     i, j;
	long long                  k, done, total;
	int                        a;

	if (opc_wants_help(argc, argv)) {
		printf("%s", usage);
		return (0);
	}
	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--json") == 0)
			json = true;
		else if (strcmp(argv[a], "--status") == 0 && a + 1 < argc)
			q.status = argv[++a];
		else {
			fprintf(stderr, "%s", usage);
			return (2);
		}
	}
	if (opc_call(o, "campaigns", "board-sync", MSG_BOARD_CAMPAIGNS, &q, &d,
	        OPC_CTL_TIMEOUT) != 0)
		return (1);
	if (json) {
		json_dumpf(
		    json_object_get(d, "campaigns"), stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(d);
		return (0);
	}
	if (json_array_size(json_object_get(d, "campaigns")) == 0)
		printf("no campaigns%s%s\n", q.status ? " " : "",
		    q.status ? q.status : "");
	json_array_foreach (json_object_get(d, "campaigns"), i, c) {
		done = (long long) json_integer_value(
		    json_object_get(c, "completed_steps"));
		total = (long long) json_integer_value(
		    json_object_get(c, "total_steps"));
		printf("%s  %s (%s)  [", opc_jstr(c, "campaign_id", "?"),
		    opc_jstr(c, "title", ""),
		    opc_jstr(c, "parent_task_id", "?"));
		for (k = 0; k < total; k++)
			printf(
			    "%s", k < done ? "\xe2\x96\x88" : "\xe2\x96\x91");
		printf("] %lld/%lld steps (%.1f%%)  %s\n", done, total,
		    json_real_value(json_object_get(c, "progress_pct")),
		    opc_jstr(c, "status", "?"));
		json_array_foreach (json_object_get(c, "steps"), j, s)
			printf("    %s %-8s %s\n",
			    icon(opc_jstr(s, "state", "")),
			    opc_jstr(s, "task_id", "?"),
			    opc_jstr(s, "title", ""));
	}
	json_decref(d);
	return (0);
}
