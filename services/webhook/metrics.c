/*
 * metrics.c - Prometheus text for GET /metrics.
 *
 * A helper thread asks the supervisor and every instance of the topology
 * for ctl.status (ctl_call blocks: never on the loop thread), each call
 * bounded by a short timeout, renders the exposition text and caches it
 * under a mutex; HTTP handlers copy the cached text.  The thread reads
 * only the immutable topology.  metrics_render is pure, for tests.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "opc/err.h"
#include "opc/svc.h"
#include "opc/topo.h"
#include "webhook.h"

struct metrics {
	const struct topo *topo;
	char              *self;
	int64_t            interval_ms;
	int                timeout_ms;
	pthread_t          th;
	bool               started;
	pthread_mutex_t    mu;
	pthread_cond_t     cv;
	bool               stop; /* under mu */
	char              *text; /* under mu */
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

static void *
run(void *arg)
{
	struct metrics *m = arg;
	struct timespec ts;
	char           *text, *old;

	pthread_mutex_lock(&m->mu);
	while (!m->stop) {
		pthread_mutex_unlock(&m->mu);
		text = gather(m);
		pthread_mutex_lock(&m->mu);
		old     = m->text;
		m->text = text;
		free(old);
		if (m->stop)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += m->interval_ms / 1000;
		ts.tv_nsec += (m->interval_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!m->stop &&
		    pthread_cond_timedwait(&m->cv, &m->mu, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&m->mu);
	return (NULL);
}

int
metrics_open(struct metrics **mp, const struct topo *topo, const char *self,
    int64_t interval_ms, int timeout_ms)
{
	struct metrics *m;

	*mp            = NULL;
	m              = xcalloc(1, sizeof(*m));
	m->topo        = topo;
	m->self        = xstrdup(self);
	m->interval_ms = interval_ms > 0 ? interval_ms : 5000;
	m->timeout_ms  = timeout_ms;
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	if (pthread_create(&m->th, NULL, run, m) != 0) {
		metrics_close(&m);
		return (ERR_IO);
	}
	m->started = true;
	*mp        = m;
	return (0);
}

void
metrics_close(struct metrics **mp)
{
	struct metrics *m = *mp;

	if (m == NULL)
		return;
	if (m->started) {
		pthread_mutex_lock(&m->mu);
		m->stop = true;
		pthread_cond_broadcast(&m->cv);
		pthread_mutex_unlock(&m->mu);
		pthread_join(m->th, NULL);
	}
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
	free(m->text);
	free(m->self);
	free(m);
	*mp = NULL;
}

char *
metrics_text(struct metrics *m)
{
	char *s = NULL;

	if (m == NULL)
		return (NULL);
	pthread_mutex_lock(&m->mu);
	if (m->text != NULL)
		s = xstrdup(m->text);
	pthread_mutex_unlock(&m->mu);
	return (s);
}
