/* main.c - opc-proposer: the proposer daemon (see proposer.h). */
#include "proposer.h"

int
main(int argc, char **argv)
{
	return (svc_main(&proposer_def, argc, argv));
}
