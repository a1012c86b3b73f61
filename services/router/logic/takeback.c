/*
 * takeback.c - which runs the router takes back, and which it grants
 * (see route.h).  Pure: the router passes its clocks and its rrun rows.
 */
#include <string.h>

#include "opc/lease.h"
#include "route.h"

const char *
takeback_reason(const struct held_run *r, const struct heard_exec *e,
    int64_t since, int64_t mono, int64_t now)
{
	int64_t lease = r->lease_ms > 0 ? r->lease_ms : LEASE_DEFAULT_MS;

	/* A run is taken back when its executor has been silent for a
	 * lease.  One that still heartbeats has the dispatch (journaled,
	 * replayed) and starts it when a slot frees: taking it back after a
	 * lease of queueing made two runs of one task (both could start,
	 * and the first could decide the task before the second ran it
	 * again).  A dispatch still not started after
	 * TAKEBACK_DISPATCH_LEASES leases goes anyway (an executor that
	 * hears nothing from us but is heard). */
	if (lease_expired(e != NULL ? e->heard : 0, since, mono, lease))
		return ("lease_expired");
	if (!r->started &&
	    now - r->dispatched_ms > TAKEBACK_DISPATCH_LEASES * lease)
		return ("not_started");
	return (NULL);
}

void
route_grants(struct msg_lease_grant_list *out, const struct heard_exec *ex,
    size_t nex, const struct held_run *held, size_t nheld)
{
	struct msg_lease_grant *g;
	size_t                  i, k;

	for (i = 0; i < nex; i++) {
		if (ex[i].heard <= 0 || ex[i].epoch == NULL ||
		    ex[i].stamp <= 0)
			continue;
		g           = msg_lease_grant_push(out);
		g->executor = xstrdup(ex[i].name);
		g->epoch    = xstrdup(ex[i].epoch);
		g->stamp    = ex[i].stamp;
		for (k = 0; k < nheld; k++)
			if (held[k].executor != NULL &&
			    strcmp(held[k].executor, ex[i].name) == 0)
				msg_strs_add(&g->runs, held[k].run_id);
	}
}
