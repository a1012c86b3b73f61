/*
 * err.h - error codes shared by every module.
 *
 * Every fallible function returns int: 0 on success, otherwise one of the
 * negative ERR_* codes below.  Third-party codes are translated (and logged
 * with their native text) only in the module that wraps that library.
 */
#ifndef OPC_ERR_H
#define OPC_ERR_H

#define ERR_LIST(X)                               \
	X(ERR_INVAL, -1, "invalid argument")      \
	X(ERR_NOMEM, -2, "out of memory")         \
	X(ERR_IO, -3, "i/o error")                \
	X(ERR_PROTO, -4, "protocol error")        \
	X(ERR_AGAIN, -5, "try again")             \
	X(ERR_CLOSED, -6, "closed")               \
	X(ERR_NOTFOUND, -7, "not found")          \
	X(ERR_TIMEOUT, -8, "timed out")           \
	X(ERR_EXISTS, -9, "already exists")       \
	X(ERR_TOOBIG, -10, "too big")             \
	X(ERR_TRUNCATED, -11, "truncated")        \
	X(ERR_CONFIG, -12, "configuration error") \
	X(ERR_STATE, -13, "invalid state")        \
	X(ERR_UNKNOWN, -14, "unknown")            \
	X(ERR_REFUSED, -15, "refused")            \
	X(ERR_NOSPACE, -16, "no space left on device")

enum err_code {
#define X(name, val, text) name = val,
	ERR_LIST(X)
#undef X
};

/* err_str returns a static description of code (0 is "ok"). */
const char *err_str(int code);

#endif
