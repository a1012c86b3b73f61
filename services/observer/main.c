/* main.c - opc-observer: the observer daemon (see observer.h). */
#include "observer.h"

int
main(int argc, char **argv)
{
	return (svc_main(&observer_def, argc, argv));
}
