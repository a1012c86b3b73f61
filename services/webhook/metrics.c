/*
 * metrics.c - Prometheus text for GET /metrics.
 *
 * A refresh thread (opc/refresh.h) asks the supervisor and every
 * instance of the topology for ctl.status (ctl_call blocks: never on the
 * loop thread), each call bounded by a short timeout, and renders the
 * exposition text it keeps; HTTP handlers copy the latest text.  The thread
 * reads only the immutable topology.  metrics_render is pure, for tests.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "opc/err.h"
#include "opc/refresh.h"
#include "opc/svc.h"
#include "opc/topo.h"
#include "webhook.h"

struct metrics {
	const struct topo *topo;
	char              *self;
	int                timeout_ms;
	struct refresh    *refresh; /* its thread calls gather() */
};

/* label appends a Prometheus label value, escaped. */
static void
label(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			buf_printf(b, "\\%c", *s);
		else if (*s == '\n')
			buf_puts(b, "\\n");
		else
			buf_append(b, s, 1);
	}
}

static void
head(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
sample(struct buf *b, const char *name, const char *inst, int64_t v)
{
	buf_printf(b, "%s{instance=\"", name);
	label(b, inst);
	buf_printf(b, "\"} %lld\n", (long long) v);
}

struct family {
	const char *name, *type, *help;
	const char *counter; /* key in status.counters, or NULL */
};

static const struct family fams[] = {
	{ "opc_messages_in_total", "counter", "Bus messages received.",
	    "msgs_in" },
	{ "opc_messages_out_total", "counter", "Bus messages published.",
	    "msgs_out" },
	{ "opc_decode_errors_total", "counter",
	    "Messages that failed to decode.", "decode_errors" },
	{ "opc_handler_errors_total", "counter",
	    "Handlers that returned an error.", "handler_errors" },
};

void
metrics_render(struct buf *out, const json_t *sup, const json_t *st,
    const char *const *names, size_t n, const char *self)
{
	json_t     *ist, *ups, *u, *p;
	const char *k;
	size_t      i, j;

	head(out, "opc_up", "gauge",
	    "1 when the instance answered ctl.status, else 0.");
	for (i = 0; i < n; i++)
		sample(out, "opc_up", names[i],
		    json_is_object(json_object_get(st, names[i])));
	head(out, "opc_journal_seq", "gauge", "Last journaled seq.");
	for (i = 0; i < n; i++)
		if ((ist = json_object_get(st, names[i])) != NULL &&
		    json_is_object(ist))
			sample(out, "opc_journal_seq", names[i],
			    json_integer_value(
			        json_object_get(ist, "journal_seq")));
	for (j = 0; j < nitems(fams); j++) {
		head(out, fams[j].name, fams[j].type, fams[j].help);
		for (i = 0; i < n; i++)
			if ((ist = json_object_get(st, names[i])) != NULL &&
			    json_is_object(ist))
				sample(out, fams[j].name, names[i],
				    json_integer_value(json_object_get(
				        json_object_get(ist, "counters"),
				        fams[j].counter)));
	}
	head(out, "opc_upstream_lag", "gauge",
	    "Events of an upstream not yet applied.");
	for (i = 0; i < n; i++) {
		ist = json_object_get(st, names[i]);
		ups = json_object_get(ist, "upstreams");
		json_object_foreach (ups, k, u) {
			buf_puts(out, "opc_upstream_lag{instance=\"");
			label(out, names[i]);
			buf_puts(out, "\",upstream=\"");
			label(out, k);
			buf_printf(out, "\"} %lld\n",
			    (long long) json_integer_value(
			        json_object_get(u, "lag")));
		}
	}
	head(out, "opc_restarts_total", "counter",
	    "Restarts of the instance by the supervisor.");
	json_array_foreach (json_object_get(sup, "processes"), i, p) {
		const char *role =
		    json_string_value(json_object_get(p, "role"));

		if (role != NULL)
			sample(out, "opc_restarts_total", role,
			    json_integer_value(
			        json_object_get(p, "restart_count")));
	}
	ist = self ? json_object_get(st, self) : NULL;
	for (j = 0; j < webhook_ncounters; j++) {
		char name[96];

		snprintf(name, sizeof(name), "opc_webhook_%s_total",
		    webhook_counters[j]);
		head(out, name, "counter", "Webhook requests by outcome.");
		sample(out, name, self ? self : "webhook",
		    json_integer_value(
		        json_object_get(json_object_get(ist, "counters"),
		            webhook_counters[j])));
	}
}

static char *
gather(struct metrics *m)
{
	const struct topo *t     = m->topo;
	const char       **names = xcalloc(t->ninst + 1, sizeof(*names));
	json_t            *sup = NULL, *st = json_object(), *ist;
	struct buf         b;
	char               err[256], *text;
	size_t             i;

	(void) ctl_call(t->supervisor.ctl, MSG_CTL_STATUS, NULL, &sup, err,
	    sizeof(err), m->timeout_ms);
	for (i = 0; i < t->ninst; i++) {
		names[i] = t->inst[i].name;
		ist      = NULL;
		if (ctl_call(t->inst[i].ctl, MSG_CTL_STATUS, NULL, &ist, err,
		        sizeof(err), m->timeout_ms) != 0 ||
		    ist == NULL) {
			json_decref(ist);
			ist = json_null();
		}
		json_object_set_new(st, names[i], ist);
	}
	buf_init(&b);
	metrics_render(&b, sup, st, names, t->ninst, m->self);
	json_decref(sup);
	json_decref(st);
	free(names);
	text = xstrdup(buf_cstr(&b));
	buf_fini(&b);
	return (text);
}

static char *
make(void *arg)
{
	return (gather(arg));
}

int
metrics_open(struct metrics **mp, const struct topo *topo, const char *self,
    int64_t interval_ms, int timeout_ms)
{
	struct metrics *m;
	int             rv;

	*mp           = NULL;
	m             = xcalloc(1, sizeof(*m));
	m->topo       = topo;
	m->self       = xstrdup(self);
	m->timeout_ms = timeout_ms;
	if ((rv = refresh_open(&m->refresh,
	         interval_ms > 0 ? interval_ms : 5000, make, m)) != 0) {
		metrics_close(&m);
		return (rv);
	}
	*mp = m;
	return (0);
}

void
metrics_close(struct metrics **mp)
{
	struct metrics *m = *mp;

	if (m == NULL)
		return;
	refresh_close(&m->refresh);
	free(m->self);
	free(m);
	*mp = NULL;
}

char *
metrics_text(struct metrics *m)
{
	return (m != NULL ? refresh_text(m->refresh) : NULL);
}
