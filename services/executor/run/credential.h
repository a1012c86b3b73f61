/*
 * credential.h - the git credential helper that hands git the GitHub
 * token (credential.c); opc-git-credential is its main.
 */
#ifndef OPC_EXEC_CREDENTIAL_H
#define OPC_EXEC_CREDENTIAL_H

#include <stdio.h>

/* credential_answer answers one git credential helper request: op is "get",
 * "store" or "erase"; the request is read from in (up to a blank line or
 * EOF).  For "get" of endpoint ("https://github.com", as
 * "protocol://host" of the request), it writes username and password
 * (token) to out; for anything else, nothing.  Returns 0, or 1 when out
 * could not be written. */
int credential_answer(FILE *in, FILE *out, const char *op, const char *token,
    const char *endpoint);

#endif
