/*
 * opc-dash: the read-only dashboard (instances, board, runs and their
 * evidence, spend, breaker and pause, escalations, autonomy, bus tail).
 */
#include "dash.h"

int
main(int argc, char **argv)
{
	return (svc_main(&dash_def, argc, argv));
}
