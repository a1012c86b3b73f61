/*
 * dash.c - opc-dash: the read-only dashboard of a constellation.
 *
 * The service descriptor, its configuration and the bus tail.  It
 * consumes no journal (no upstreams): the state comes over ctl from the
 * gathering thread (gather.c), the tail from one SUB socket per
 * publisher (the supervisor and every instance but itself, as `opc sub`
 * does), each received message relayed to every open event stream as one
 * JSON line (web.c).  It serves on its own listen address, never the
 * webhook's; the token (token_env) is redacted from the logs.
 *
 * Config (instances.<name>): listen (http://127.0.0.1:8790; port 0 picks
 * a free one, shown as status.listen_url), token_env, refresh (2s),
 * ctl_timeout (500ms), runs (20), evidence_max, header_timeout,
 * idle_timeout, max_connections.  The evidence root is the recorder's
 * (its evidence_root under state_dir).
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "dash.h"
#include "opc/bus.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/loop.h"
#include "opc/msg.h"
#include "opc/topo.h"
#include "opc/util.h"

struct tail {
	struct dash *d;
	struct bus  *sub;
	int          fd;
	const char  *url;
};

struct dash {
	struct svc         *svc;
	struct dash_web    *web;
	struct dash_gather *gather;
	struct tail        *tails;
	size_t              ntails;
	const char         *listen;
	const char         *token;
	char               *evidence_root;
	int64_t             refresh_ms, ctl_ms, runs, evidence_max;
	int64_t             header_ms, idle_ms, max_conns;
};

static const char *const dash_counters[] = { "requests", "not_found",
	"bad_requests", "unauthorized", "evidence_served", "events_relayed",
	"connections_refused", "timeouts" };

static char *
state_text(void *arg)
{
	struct dash *d = arg;

	return (dash_gather_text(d->gather));
}

static void
count(const char *counter, int n, void *arg)
{
	struct dash *d = arg;

	svc_count(d->svc, counter, n);
}

/* relay turns a bus message into the JSON line a stream gets. */
static void
relay(struct dash *d, const struct msg *m)
{
	json_t *j = json_pack("{s:I, s:s, s:I, s:s, s:s?, s:o}", "ts",
	    (json_int_t) m->ts, "src", m->src ? m->src : "?", "seq",
	    (json_int_t) m->seq, "topic", msg_topic_name(m->topic), "corr",
	    m->corr, "body", msg_body_to_json(m->topic, &m->body));
	char   *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10));

	if (s != NULL && d->web != NULL) {
		dash_web_event(d->web, s);
		svc_count(d->svc, "events_relayed", 1);
	}
	free(s);
	json_decref(j);
}

static void
on_bus(struct loop *loop, int fd, short revents, void *arg)
{
	struct tail   *t = arg;
	struct bus_msg bm;
	struct msg     m;
	char           err[256];
	int            n;

	UNUSED(loop);
	UNUSED(fd);
	UNUSED(revents);
	/* bounded: the loop's other fds get their turn */
	for (n = 0; n < 256 && bus_recv(t->sub, &bm, BUS_NONBLOCK) == 0; n++) {
		if (msg_decode(&m, bm.data, bm.len, err, sizeof(err)) == 0)
			relay(t->d, &m);
		msg_fini(&m);
		bus_msg_free(&bm);
	}
}

static void
tail_open(struct dash *d, const char *url)
{
	struct tail *t = &d->tails[d->ntails];

	t->d   = d;
	t->url = url;
	t->fd  = -1;
	if (bus_open(&t->sub, BUS_SUB, url) != 0 ||
	    bus_subscribe(t->sub, "") != 0 || bus_fd(t->sub, &t->fd) != 0 ||
	    loop_add_fd(svc_loop(d->svc), t->fd, POLLIN, on_bus, t) != 0) {
		log_warn("dash.tail", "cannot follow %s", url);
		bus_close(&t->sub);
		return;
	}
	d->ntails++;
}

/* start opens the HTTP server once the loop runs. */
static void
start(struct loop *loop, void *arg)
{
	struct dash        *d = arg;
	struct dash_web_cfg wc;

	memset(&wc, 0, sizeof(wc));
	wc.listen            = d->listen;
	wc.token             = d->token;
	wc.evidence_root     = d->evidence_root;
	wc.header_timeout_ms = d->header_ms;
	wc.idle_timeout_ms   = d->idle_ms;
	wc.max_connections   = (int) d->max_conns;
	wc.evidence_max      = (size_t) d->evidence_max;
	wc.state             = state_text;
	wc.count             = count;
	wc.arg               = d;
	if (dash_web_open(&d->web, loop, &wc) != 0) {
		log_error("dash.start", "cannot serve %s", d->listen);
		svc_stop(d->svc);
		return;
	}
	log_info("dash.start", "dashboard on %s%s", dash_web_url(d->web),
	    d->token ? " (token required)" : "");
}

/* evidence_root is the recorder's evidence folder (NULL: no recorder). */
static char *
evidence_root(const struct topo *t)
{
	const char *dir;
	char        err[256];
	size_t      i;

	for (i = 0; i < t->ninst; i++)
		if (strcmp(t->inst[i].service, "recorder") == 0)
			break;
	if (i == t->ninst ||
	    cfg_tab_str(recorder_keys, t->inst[i].node, "evidence_root", &dir,
	        err, sizeof(err)) != 0 ||
	    *dir == '\0')
		return (NULL);
	return (dir[0] == '/' ? xstrdup(dir)
	                      : xasprintf("%s/%s", t->state_dir, dir));
}

static int
dash_init(struct svc *svc, void *state)
{
	struct dash           *d = state;
	const struct cfg_node *c = svc_cfg(svc);
	const struct topo     *t = svc_topo(svc);
	char                   err[512];
	size_t                 i;

	d->svc = svc;
	if (cfg_tab_str(
	        dash_keys, c, "listen", &d->listen, err, sizeof(err)) != 0 ||
	    cfg_tab_ms(dash_keys, c, "refresh", &d->refresh_ms, err,
	        sizeof(err)) != 0 ||
	    cfg_tab_ms(dash_keys, c, "ctl_timeout", &d->ctl_ms, err,
	        sizeof(err)) != 0 ||
	    cfg_tab_int(dash_keys, c, "runs", &d->runs, err, sizeof(err)) !=
	        0 ||
	    cfg_tab_int(dash_keys, c, "evidence_max", &d->evidence_max, err,
	        sizeof(err)) != 0 ||
	    cfg_tab_ms(dash_keys, c, "header_timeout", &d->header_ms, err,
	        sizeof(err)) != 0 ||
	    cfg_tab_ms(dash_keys, c, "idle_timeout", &d->idle_ms, err,
	        sizeof(err)) != 0 ||
	    cfg_tab_int(dash_keys, c, "max_connections", &d->max_conns, err,
	        sizeof(err)) != 0) {
		log_error("dash.config", "%s", err);
		return (ERR_CONFIG);
	}
	d->token = cfg_secret(c, "token_env");
	if (d->token != NULL && *d->token == '\0')
		d->token = NULL;
	if (d->token != NULL)
		log_redact(d->token);
	else if (cfg_get(c, "token_env") != NULL)
		log_warn("dash.config",
		    "token_env is set but its variable is empty: no token "
		    "asked");
	d->evidence_root = evidence_root(t);
	for (i = 0; i < nitems(dash_counters); i++)
		svc_count(svc, dash_counters[i], 0);
	d->tails = xcalloc(t->ninst + 1, sizeof(*d->tails));
	tail_open(d, t->supervisor.pub);
	for (i = 0; i < t->ninst; i++)
		if (t->inst[i].enabled &&
		    strcmp(t->inst[i].name, svc_name(svc)) != 0)
			tail_open(d, t->inst[i].pub);
	if (dash_gather_open(&d->gather, t, svc_name(svc), d->evidence_root,
	        d->refresh_ms, (int) d->ctl_ms, (int) d->runs) != 0)
		return (ERR_IO);
	(void) loop_timer(svc_loop(svc), 0, start, d);
	return (0);
}

static void
dash_fini(struct svc *svc, void *state)
{
	struct dash *d = state;
	size_t       i;

	dash_web_close(&d->web, svc_loop(svc));
	dash_gather_close(&d->gather);
	for (i = 0; i < d->ntails; i++) {
		loop_del_fd(svc_loop(svc), d->tails[i].fd);
		bus_close(&d->tails[i].sub);
	}
	free(d->tails);
	d->tails = NULL;
	free(d->evidence_root);
	d->evidence_root = NULL;
}

static void
dash_status(struct svc *svc, void *state, json_t *obj)
{
	struct dash *d = state;

	UNUSED(svc);
	json_object_set_new(obj, "listen_url",
	    d->web ? json_string(dash_web_url(d->web)) : json_null());
	json_object_set_new(obj, "token", json_boolean(d->token != NULL));
	json_object_set_new(obj, "streams",
	    json_integer(d->web ? (json_int_t) dash_web_streams(d->web) : 0));
	json_object_set_new(
	    obj, "tails", json_integer((json_int_t) d->ntails));
	json_object_set_new(obj, "evidence_root",
	    d->evidence_root ? json_string(d->evidence_root) : json_null());
}

static const struct svc_handler handlers[] = {
	{ MSG_NONE, NULL },
};

static const struct svc_ctl ctls[] = {
	{ MSG_NONE, NULL },
};

const struct svc_def dash_def = {
	.name       = "dash",
	.state_size = sizeof(struct dash),
	.init       = dash_init,
	.fini       = dash_fini,
	.handlers   = handlers,
	.ctls       = ctls,
	.status     = dash_status,
	.config     = dash_keys,
};
