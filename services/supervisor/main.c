/*
 * opc-supervisor: starts, restarts and watches the constellation.
 */
#include "supervisor.h"

int
main(int argc, char **argv)
{
	return (svc_main(&supervisor_def, argc, argv));
}
