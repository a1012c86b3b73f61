/*
 * err.c - text for the ERR_* codes.
 */
#include "opc/err.h"

const char *
err_str(int code)
{
	switch (code) {
	case 0:
		return ("ok");
#define X(name, val, text) \
	case name:         \
		return (text);
		ERR_LIST(X)
#undef X
	default:
		return ("unknown error");
	}
}
