/* main.c - opc-insighter: the insighter daemon (see insighter.h). */
#include "insighter.h"

int
main(int argc, char **argv)
{
	return (svc_main(&insighter_def, argc, argv));
}
