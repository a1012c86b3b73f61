/*
 * credential_main.c - opc-git-credential get|store|erase: a git
 * credential helper that answers with $OPC_GIT_TOKEN for the remote named
 * by $OPC_GIT_ENDPOINT (see credential.c).  The worker names it in
 * `git -c credential.helper=...`; nobody else needs to run it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "credential.h"

int
main(int argc, char *argv[])
{
	if (argc != 2) {
		fprintf(stderr, "usage: opc-git-credential get|store|erase\n");
		return (2);
	}
	return (credential_answer(stdin, stdout, argv[1],
	    getenv("OPC_GIT_TOKEN"), getenv("OPC_GIT_ENDPOINT")));
}
