/* cmd_demo.c - placeholder until the demo lands (same session). */
#include <stdio.h>

#include "opc.h"

int
cmd_demo(struct opc *o, int argc, char **argv)
{
	(void) o;
	(void) argc;
	(void) argv;
	fprintf(stderr, "opc demo: not built yet\n");
	return (1);
}
