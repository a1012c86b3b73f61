/* main.c - opc-recorder: the recorder daemon (see recorder.h). */
#include "recorder.h"

int
main(int argc, char **argv)
{
	return (svc_main(&recorder_def, argc, argv));
}
