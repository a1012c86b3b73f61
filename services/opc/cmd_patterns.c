/*
 * cmd_patterns.c - `opc proposals patterns [--repo R] [--family F]
 * [--json]`: the rejection patterns human reviewers left on proposed
 * tasks' pull requests, per repo:family (the proposer's review_pattern
 * table, fed by board-sync's review.feedback).
 */
#include <stdio.h>
#include <string.h>

#include "opc.h"

static const char usage[] =
    "usage: opc proposals patterns [--repo R] [--family F] [--json]\n";

int
cmd_proposals_patterns(struct opc *o, int argc, char **argv)
{
	struct msg_proposer_patterns q = { NULL, NULL };
	json_t                      *d, *e, *p;
	const char                  *key, *name;
	bool                         json = false;
	int                          a;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--json") == 0)
			json = true;
		else if (strcmp(argv[a], "--repo") == 0 && a + 1 < argc)
			q.repo = argv[++a];
		else if (strcmp(argv[a], "--family") == 0 && a + 1 < argc)
			q.family = argv[++a];
		else {
			fprintf(stderr, "%s", usage);
			return (2);
		}
	}
	if (opc_call(o, "proposals", "proposer", MSG_PROPOSER_PATTERNS, &q, &d,
	        OPC_CTL_TIMEOUT) != 0)
		return (1);
	if (json) {
		json_dumpf(d, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("\n");
		json_decref(d);
		return (0);
	}
	if (json_object_size(json_object_get(d, "patterns")) == 0)
		printf("no rejection patterns recorded\n");
	else
		printf("%-40s %-20s %6s  %s\n", "REPO:FAMILY", "PATTERN",
		    "COUNT", "LAST SEEN");
	json_object_foreach (json_object_get(d, "patterns"), key, e) {
		json_object_foreach (json_object_get(e, "patterns"), name, p)
			printf("%-40s %-20s %6lld  %s\n", key, name,
			    (long long) json_integer_value(p),
			    opc_jstr(
			        json_object_get(e, "last_seen"), name, "-"));
	}
	json_decref(d);
	return (0);
}
