/* cmd_runs.c - placeholder until the recorder's CLI lands (same session). */
#include <stdio.h>

#include "opc.h"

int
cmd_runs(struct opc *o, int argc, char **argv)
{
	(void) o;
	(void) argc;
	(void) argv;
	fprintf(stderr, "opc runs: not built yet\n");
	return (1);
}

int
cmd_spend_report(struct opc *o, int argc, char **argv)
{
	(void) o;
	(void) argc;
	(void) argv;
	fprintf(stderr, "opc spend-report: not built yet\n");
	return (1);
}
