/*
 * opc-board-sync: the task board's side of the bus.
 */
#include "board.h"

int
main(int argc, char **argv)
{
	return (svc_main(&board_def, argc, argv));
}
