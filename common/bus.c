/*
 * bus.c - the only file that includes <nng/nng.h>.
 *
 * Wraps nng 1.5 sockets: PUB/REP listen, SUB/REQ dial in the background
 * (nng reconnects with backoff).  Every socket gets large buffers because
 * a full pub/sub queue drops the oldest message silently (DESIGN.md
 * section 2), a receive size limit so a hostile peer cannot make us
 * allocate without bound, and ipc listeners are created 0600.
 */
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "opc/bus.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/util.h"

#define BUS_BUFMSGS 8192
#define BUS_RECONN_MIN 100  /* ms */
#define BUS_RECONN_MAX 2000 /* ms */
#define BUS_REQ_RESEND 2000 /* ms; replay and status are idempotent */

struct bus {
	nng_socket    sock;
	enum bus_kind kind;
	char         *url;
};

static int
xlate(int rv)
{
	switch (rv) {
	case 0:
		return (0);
	case NNG_EAGAIN:
		return (ERR_AGAIN);
	case NNG_ETIMEDOUT:
		return (ERR_TIMEOUT);
	case NNG_ESTATE:
		return (ERR_STATE);
	case NNG_ECLOSED:
		return (ERR_CLOSED);
	case NNG_ENOMEM:
		return (ERR_NOMEM);
	case NNG_EINVAL:
	case NNG_EADDRINVAL:
	case NNG_ENOTSUP:
		return (ERR_INVAL);
	case NNG_EADDRINUSE:
		return (ERR_EXISTS);
	case NNG_EMSGSIZE:
		return (ERR_TOOBIG);
	default:
		return (ERR_IO);
	}
}

int
bus_url_ok(const char *url)
{
	static const char *const schemes[] = { "ipc://", "tcp://", "tcp4://",
		"tcp6://", "tls+tcp://", "inproc://", "abstract://" };
	size_t i;

	if (url == NULL)
		return (0);
	for (i = 0; i < nitems(schemes); i++)
		if (strncmp(url, schemes[i], strlen(schemes[i])) == 0 &&
		    url[strlen(schemes[i])] != '\0')
			return (1);
	return (0);
}

static int
sock_open(nng_socket *s, enum bus_kind kind)
{
	switch (kind) {
	case BUS_PUB:
		return (nng_pub0_open(s));
	case BUS_SUB:
		return (nng_sub0_open(s));
	case BUS_REP:
		return (nng_rep0_open(s));
	case BUS_REQ:
		return (nng_req0_open(s));
	}
	return (NNG_EINVAL);
}

static int
listen_on(struct bus *b)
{
	nng_listener l;
	int          rv;

	if ((rv = nng_listener_create(&l, b->sock, b->url)) != 0)
		return (rv);
	if (strncmp(b->url, "ipc://", 6) == 0)
		(void) nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0600);
	return (nng_listener_start(l, 0));
}

int
bus_open(struct bus **bp, enum bus_kind kind, const char *url)
{
	struct bus *b;
	int         rv;

	*bp = NULL;
	if (!bus_url_ok(url)) {
		log_error("bus.url", "unsupported url '%s'", url ? url : "");
		return (ERR_INVAL);
	}
	b = xcalloc(1, sizeof(*b));
	b->kind = kind;
	b->url = xstrdup(url);
	if ((rv = sock_open(&b->sock, kind)) != 0) {
		free(b->url);
		free(b);
		log_error("bus.open", "%s: %s", url, nng_strerror(rv));
		return (xlate(rv));
	}
	/* Best effort: not every protocol has every option. */
	(void) nng_socket_set_int(b->sock, NNG_OPT_SENDBUF, BUS_BUFMSGS);
	(void) nng_socket_set_int(b->sock, NNG_OPT_RECVBUF, BUS_BUFMSGS);
	(void) nng_socket_set_size(b->sock, NNG_OPT_RECVMAXSZ, BUS_MAX_MSG);
	(void) nng_socket_set_ms(b->sock, NNG_OPT_RECONNMINT, BUS_RECONN_MIN);
	(void) nng_socket_set_ms(b->sock, NNG_OPT_RECONNMAXT, BUS_RECONN_MAX);
	if (kind == BUS_REQ)
		(void) nng_socket_set_ms(b->sock, NNG_OPT_REQ_RESENDTIME,
		    BUS_REQ_RESEND);
	if (kind == BUS_PUB || kind == BUS_REP)
		rv = listen_on(b);
	else
		rv = nng_dial(b->sock, url, NULL, NNG_FLAG_NONBLOCK);
	if (rv != 0) {
		log_error("bus.open", "%s %s: %s",
		    (kind == BUS_PUB || kind == BUS_REP) ? "listen" : "dial",
		    url, nng_strerror(rv));
		bus_close(&b);
		return (xlate(rv));
	}
	*bp = b;
	return (0);
}

void
bus_close(struct bus **bp)
{
	struct bus *b = *bp;

	if (b == NULL)
		return;
	nng_close(b->sock);
	free(b->url);
	free(b);
	*bp = NULL;
}

int
bus_subscribe(struct bus *b, const char *prefix)
{
	int rv;

	if (b->kind != BUS_SUB)
		return (ERR_INVAL);
	rv = nng_socket_set(b->sock, NNG_OPT_SUB_SUBSCRIBE, prefix,
	    strlen(prefix));
	return (xlate(rv));
}

int
bus_set_timeout(struct bus *b, int ms)
{
	nng_duration d = ms < 0 ? NNG_DURATION_INFINITE : ms;
	int          rv;

	if ((rv = nng_socket_set_ms(b->sock, NNG_OPT_RECVTIMEO, d)) == 0)
		rv = nng_socket_set_ms(b->sock, NNG_OPT_SENDTIMEO, d);
	return (xlate(rv));
}

int
bus_fd(struct bus *b, int *fdp)
{
	return (xlate(nng_socket_get_int(b->sock, NNG_OPT_RECVFD, fdp)));
}

int
bus_send(struct bus *b, const void *data, size_t len, int flags)
{
	int rv;

	rv = nng_send(b->sock, (void *) data, len,
	    (flags & BUS_NONBLOCK) ? NNG_FLAG_NONBLOCK : 0);
	return (xlate(rv));
}

int
bus_recv(struct bus *b, struct bus_msg *m, int flags)
{
	nng_msg *nm;
	int      rv;

	memset(m, 0, sizeof(*m));
	rv = nng_recvmsg(b->sock, &nm,
	    (flags & BUS_NONBLOCK) ? NNG_FLAG_NONBLOCK : 0);
	if (rv != 0)
		return (xlate(rv));
	m->data = nng_msg_body(nm);
	m->len = nng_msg_len(nm);
	m->priv = nm;
	return (0);
}

void
bus_msg_free(struct bus_msg *m)
{
	if (m->priv != NULL)
		nng_msg_free(m->priv);
	memset(m, 0, sizeof(*m));
}

int
bus_request(const char *url, const void *req, size_t len, struct bus_msg *m,
    int timeout_ms)
{
	struct bus *b;
	int         rv;

	memset(m, 0, sizeof(*m));
	if ((rv = bus_open(&b, BUS_REQ, url)) != 0)
		return (rv);
	/* A request must not be resent while we wait for its answer. */
	(void) nng_socket_set_ms(b->sock, NNG_OPT_REQ_RESENDTIME,
	    NNG_DURATION_INFINITE);
	if ((rv = bus_set_timeout(b, timeout_ms)) == 0 &&
	    (rv = bus_send(b, req, len, 0)) == 0)
		rv = bus_recv(b, m, 0);
	bus_close(&b);
	return (rv);
}
