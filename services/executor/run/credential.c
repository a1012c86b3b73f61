/*
 * credential.c - opc-git-credential: how the worker gives git its GitHub
 * token, as a git credential helper (gitcredentials(7), git-credential(1)):
 * git runs "<helper> get", writes "key=value" lines (protocol, host, ...)
 * and a blank line on stdin, and reads username= and password= back.
 *
 * The token comes from the environment (OPC_GIT_TOKEN), which the worker
 * sets for the git processes that reach the remote (clone, push) and no
 * others: never argv, a URL, a git config file or a log.  It is answered
 * only for the endpoint the worker expects (OPC_GIT_ENDPOINT, the clone
 * URL's "scheme://host[:port]"), so a redirect or a rewritten URL never
 * receives it, and never over plain http unless to loopback.  "store" and
 * "erase" keep and forget nothing.  The username is x-access-token, which
 * GitHub takes with any token (docs.github.com, "Authenticating as a
 * GitHub App installation": https://x-access-token:TOKEN@github.com/...;
 * with a personal access token the username is not checked).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "credential.h"

/* loopback: host (no port) is 127.0.0.0/8, ::1 or localhost. */
static int
loopback(const char *host)
{
	size_t n = strcspn(host, ":");

	if (host[0] == '[')
		return (strncmp(host, "[::1]", 5) == 0);
	return ((n == 9 && strncasecmp(host, "localhost", 9) == 0) ||
	    strncmp(host, "127.", 4) == 0);
}

/* value copies v into dst; 1 (and dst empty) when it does not fit. */
static int
value(char *dst, size_t len, const char *v)
{
	size_t n = strlen(v);

	if (n >= len) {
		dst[0] = '\0';
		return (1);
	}
	memcpy(dst, v, n + 1);
	return (0);
}

int
credential_answer(FILE *in, FILE *out, const char *op, const char *token,
    const char *endpoint)
{
	char   line[4096], proto[32] = "", host[1024] = "", want[1100];
	size_t n;
	int    bad = 0;

	while (fgets(line, sizeof(line), in) != NULL) {
		n       = strcspn(line, "\r\n");
		line[n] = '\0';
		if (n == 0)
			break;
		if (strncmp(line, "protocol=", 9) == 0)
			bad |= value(proto, sizeof(proto), line + 9);
		else if (strncmp(line, "host=", 5) == 0)
			bad |= value(host, sizeof(host), line + 5);
	}
	if (op == NULL || strcmp(op, "get") != 0)
		return (0); /* store, erase: nothing is kept */
	if (token == NULL || *token == '\0' || endpoint == NULL || bad ||
	    *proto == '\0' || *host == '\0')
		return (0); /* nothing to say: git goes on without */
	snprintf(want, sizeof(want), "%s://%s", proto, host);
	if (strcasecmp(want, endpoint) != 0)
		return (0); /* not the remote the token is for */
	if (strcmp(proto, "https") != 0 &&
	    !(strcmp(proto, "http") == 0 && loopback(host)))
		return (0); /* never a token in clear text off this host */
	fprintf(out, "username=x-access-token\npassword=%s\n", token);
	return (fflush(out) == 0 ? 0 : 1);
}
