/*
 * cmd_breaker.c - `opc breaker status|reset`: the router's circuit
 * breaker over the router's ctl socket.  status is read-only; reset
 * closes the breaker (the failures before it no longer count) and is
 * refused over a plain tcp ctl listener like every state-changing ctl.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "opc.h"
#include "opc/err.h"
#include "opc/util.h"

static const char breaker_usage[] =
    "usage: opc breaker status [--json]\n"
    "       opc breaker reset [--reason TEXT] [--json]\n";

static double
num(const json_t *o, const char *k)
{
	return (json_number_value(json_object_get(o, k)));
}

/* secs: milliseconds in whole seconds. */
static long long
secs(long long ms)
{
	return (ms / 1000);
}

static void
print_status(const json_t *d)
{
	const char *state = opc_jstr(d, "state", "?");
	long long   now   = (long long) time(NULL) * 1000;
	long long   since = (long long) num(d, "since_ms");
	long long   at    = (long long) num(d, "probe_at_ms");

	printf("breaker: %s", state);
	if (since > 0 && strcmp(state, "closed") != 0)
		printf(" for %llds", secs(now - since));
	printf("\n");
	printf("window: %lld/%lld failed (rate %.2f; opens at %.2f over the "
	       "last %lld runs, at least %lld)\n",
	    (long long) num(d, "failures"), (long long) num(d, "samples"),
	    num(d, "failure_rate"), num(d, "threshold"),
	    (long long) num(d, "window"), (long long) num(d, "min_samples"));
	if (strcmp(state, "open") == 0)
		printf(
		    "probe: one run goes through in %llds (cool-off %llds)\n",
		    secs(at > now ? at - now : 0),
		    secs((long long) num(d, "cooloff_ms")));
	else if (strcmp(state, "half_open") == 0)
		printf("probe: %s\n",
		    opc_jstr(d, "probe_run_id",
		        "none out yet: the next dispatch is the probe"));
}

int
cmd_breaker(struct opc *o, int argc, char **argv)
{
	struct msg_router_breaker_reset rq;
	json_t                         *data;
	bool                            json = false, reset;
	int                             k;

	if (argc < 2 ||
	    (strcmp(argv[1], "status") != 0 &&
	        strcmp(argv[1], "reset") != 0)) {
		fprintf(stderr, "%s", breaker_usage);
		return (2);
	}
	reset = strcmp(argv[1], "reset") == 0;
	memset(&rq, 0, sizeof(rq));
	for (k = 2; k < argc; k++) {
		if (strcmp(argv[k], "--json") == 0)
			json = true;
		else if (reset && strcmp(argv[k], "--reason") == 0 &&
		    k + 1 < argc)
			rq.reason = argv[++k];
		else {
			fprintf(stderr, "opc breaker: unknown argument %s\n%s",
			    argv[k], breaker_usage);
			return (2);
		}
	}
	if (opc_call(o, "breaker", "router",
	        reset ? MSG_ROUTER_BREAKER_RESET : MSG_ROUTER_BREAKER_STATUS,
	        reset ? (const void *) &rq : NULL, &data,
	        OPC_CTL_TIMEOUT) != 0)
		return (1);
	if (json) {
		json_dumpf(data, stdout, JSON_INDENT(2));
		printf("\n");
	} else if (reset)
		printf("breaker: %s (was %s)\n", opc_jstr(data, "state", "?"),
		    opc_jstr(data, "was", "?"));
	else
		print_status(data);
	json_decref(data);
	return (0);
}
