/*
 * opc-executor: runs dispatched tasks in isolated git workspaces.
 */
#include "executor.h"

int
main(int argc, char **argv)
{
	return (svc_main(&executor_def, argc, argv));
}
