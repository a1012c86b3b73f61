/*
 * opc-router: lanes, policy, budgets and dispatch.
 */
#include "router.h"

int
main(int argc, char **argv)
{
	return (svc_main(&router_def, argc, argv));
}
