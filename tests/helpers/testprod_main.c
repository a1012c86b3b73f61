/* testprod_main.c - the test producer daemon. */
#include "testsvc.h"

int
main(int argc, char *argv[])
{
	return (svc_main(&testprod_service, argc, argv));
}
