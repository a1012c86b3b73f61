/* testcons_main.c - the test consumer daemon. */
#include "testsvc.h"

int
main(int argc, char *argv[])
{
	return (svc_main(&testcons_service, argc, argv));
}
