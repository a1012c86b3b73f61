/* main.c - opc-escalator: the escalator daemon (see escalator.h). */
#include "escalator.h"

int
main(int argc, char **argv)
{
	return (svc_main(&escalator_def, argc, argv));
}
