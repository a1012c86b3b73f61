/*
 * bus.c - the only file that includes <nng/nng.h>.
 *
 * Wraps nng 1.5 sockets: PUB/REP listen, SUB/REQ dial in the background
 * (nng reconnects with backoff).  Every socket gets large buffers because
 * a full pub/sub queue drops the oldest message silently (DESIGN.md
 * section 2), a receive size limit so a hostile peer cannot make us
 * allocate without bound, and ipc listeners are created 0600.
 *
 * tls+tcp:// endpoints use the process-wide TLS settings of bus_tls_set()
 * (one host, one identity, like log.c's one log configuration): listeners
 * present the host certificate and require a client certificate signed by
 * the CA, dialers verify the listener against the CA and the url's host
 * name and present the same certificate.  Mutual TLS, both ways.
 *
 * With nng before 1.6 (Debian 12 ships 1.5.2) bus_compat.c defines
 * sendmsg(), the workaround for nng issue #1518; bus_open() calls
 * bus_compat_init(), which links it in.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "bus_compat.h"
#include "opc/bus.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/util.h"

#define BUS_BUFMSGS 8192
#define BUS_RECONN_MIN 100  /* ms */
#define BUS_RECONN_MAX 2000 /* ms */
/* ipc://: a failed connect costs a syscall and the peer is a process
 * restarting on this host: retry every BUS_RECONN_IPC ms, no backoff. */
#define BUS_RECONN_IPC 50   /* ms */
#define BUS_REQ_RESEND 2000 /* ms; replay and status are idempotent */

struct bus {
	nng_socket    sock;
	nng_dialer    dialer; /* SUB and REQ */
	enum bus_kind kind;
	char         *url;
};

/* The PEM texts stay loaded: every dialer gets its own client config (the
 * server name differs per url); all listeners share one server config. */
static struct {
	char           *ca, *cert, *key, *server_name;
	nng_tls_config *server;
} tls;

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
	size_t                   i;

	if (url == NULL)
		return (0);
	for (i = 0; i < nitems(schemes); i++)
		if (strncmp(url, schemes[i], strlen(schemes[i])) == 0 &&
		    url[strlen(schemes[i])] != '\0')
			return (1);
	return (0);
}

int
bus_url_remote(const char *url)
{
	return (url != NULL &&
	    (strncmp(url, "tcp", 3) == 0 || strncmp(url, "tls+tcp", 7) == 0));
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
is_tls(const char *url)
{
	return (strncmp(url, "tls+tcp", 7) == 0);
}

static int
no_tls(const char *url)
{
	log_error("bus.tls",
	    "%s: tls+tcp:// needs the opcenter.tls section "
	    "(ca_file, cert_file, key_file)",
	    url);
	return (NNG_EINVAL);
}

/* url_host returns the host part of scheme://host:port ("[::1]" -> "::1"). */
static char *
url_host(const char *url)
{
	const char *h = strstr(url, "://"), *e;

	h = h ? h + 3 : url;
	if (*h == '[' && (e = strchr(h, ']')) != NULL)
		return (xstrndup(h + 1, (size_t) (e - h - 1)));
	e = strrchr(h, ':');
	return (e ? xstrndup(h, (size_t) (e - h)) : xstrdup(h));
}

/* tls_alloc builds a config of mode from the loaded PEM texts; peers must
 * present a certificate signed by the CA.  server_name (clients) is the
 * name the listener's certificate must carry. */
static int
tls_alloc(nng_tls_config **cp, nng_tls_mode mode, const char *server_name)
{
	nng_tls_config *c;
	int             rv;

	*cp = NULL;
	if ((rv = nng_tls_config_alloc(&c, mode)) != 0)
		return (rv);
	if ((rv = nng_tls_config_ca_chain(c, tls.ca, NULL)) != 0 ||
	    (rv = nng_tls_config_own_cert(c, tls.cert, tls.key, NULL)) != 0 ||
	    (rv = nng_tls_config_auth_mode(c, NNG_TLS_AUTH_MODE_REQUIRED)) !=
	        0 ||
	    (server_name != NULL &&
	        (rv = nng_tls_config_server_name(c, server_name)) != 0)) {
		nng_tls_config_free(c);
		return (rv);
	}
	*cp = c;
	return (0);
}

static char *
read_pem(const char *what, const char *path, char *err, size_t errlen)
{
	char  *buf;
	size_t len;
	int    rv;

	if ((rv = file_read(&buf, &len, path, 1024 * 1024)) != 0) {
		snprintf(err, errlen, "%s %s: %s", what, path,
		    rv == ERR_TOOBIG ? "larger than 1 MiB" : strerror(errno));
		return (NULL);
	}
	if (strstr(buf, "-----BEGIN ") == NULL) {
		snprintf(err, errlen, "%s %s: no PEM data", what, path);
		free(buf);
		return (NULL);
	}
	return (buf);
}

static void
tls_clear(void)
{
	if (tls.server != NULL)
		nng_tls_config_free(tls.server);
	free(tls.ca);
	free(tls.cert);
	free(tls.key);
	free(tls.server_name);
	memset(&tls, 0, sizeof(tls));
}

int
bus_tls_set(const struct bus_tls *t, char *err, size_t errlen)
{
	nng_tls_config *c;
	int             rv;

	tls_clear();
	if (t == NULL)
		return (0);
	if ((tls.ca = read_pem("ca_file", t->ca_file, err, errlen)) == NULL ||
	    (tls.cert = read_pem("cert_file", t->cert_file, err, errlen)) ==
	        NULL ||
	    (tls.key = read_pem("key_file", t->key_file, err, errlen)) ==
	        NULL) {
		tls_clear();
		return (ERR_CONFIG);
	}
	tls.server_name =
	    t->server_name && *t->server_name ? xstrdup(t->server_name) : NULL;
	/* Parse everything now, so a bad file fails at startup. */
	if ((rv = tls_alloc(&c, NNG_TLS_MODE_SERVER, NULL)) != 0) {
		if (rv == NNG_ENOTSUP)
			snprintf(err, errlen,
			    "this nng has no TLS engine (%s)",
			    nng_tls_engine_name());
		else
			snprintf(err, errlen,
			    "ca_file %s, cert_file %s, key_file %s: %s (want "
			    "PEM certificates and an unencrypted PEM key)",
			    t->ca_file, t->cert_file, t->key_file,
			    nng_strerror(rv));
		tls_clear();
		return (ERR_CONFIG);
	}
	tls.server = c;
	return (0);
}

static int
listen_on(struct bus *b)
{
	nng_listener l;
	int          rv;

	if (is_tls(b->url) && tls.server == NULL)
		return (no_tls(b->url));
	if ((rv = nng_listener_create(&l, b->sock, b->url)) != 0)
		return (rv);
	if (strncmp(b->url, "ipc://", 6) == 0)
		(void) nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0600);
	if (is_tls(b->url) &&
	    (rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, tls.server)) !=
	        0)
		return (rv);
	return (nng_listener_start(l, 0));
}

static int
dial(struct bus *b)
{
	nng_tls_config *c;
	char           *host;
	int             rv;

	if (!is_tls(b->url))
		return (
		    nng_dial(b->sock, b->url, &b->dialer, NNG_FLAG_NONBLOCK));
	if (tls.server == NULL)
		return (no_tls(b->url));
	host = tls.server_name ? xstrdup(tls.server_name) : url_host(b->url);
	rv   = tls_alloc(&c, NNG_TLS_MODE_CLIENT, host);
	free(host);
	if (rv != 0)
		return (rv);
	/* The dialer holds its own reference to c. */
	if ((rv = nng_dialer_create(&b->dialer, b->sock, b->url)) == 0 &&
	    (rv = nng_dialer_set_ptr(b->dialer, NNG_OPT_TLS_CONFIG, c)) == 0)
		rv = nng_dialer_start(b->dialer, NNG_FLAG_NONBLOCK);
	nng_tls_config_free(c);
	return (rv);
}

int
bus_open(struct bus **bp, enum bus_kind kind, const char *url)
{
	struct bus *b;
	int         rv;

	*bp = NULL;
	bus_compat_init();
	if (!bus_url_ok(url)) {
		log_error("bus.url", "unsupported url '%s'", url ? url : "");
		return (ERR_INVAL);
	}
	b       = xcalloc(1, sizeof(*b));
	b->kind = kind;
	b->url  = xstrdup(url);
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
	if (strncmp(url, "ipc://", 6) == 0) {
		(void) nng_socket_set_ms(
		    b->sock, NNG_OPT_RECONNMINT, BUS_RECONN_IPC);
		(void) nng_socket_set_ms(b->sock, NNG_OPT_RECONNMAXT, 0);
	} else {
		(void) nng_socket_set_ms(
		    b->sock, NNG_OPT_RECONNMINT, BUS_RECONN_MIN);
		(void) nng_socket_set_ms(
		    b->sock, NNG_OPT_RECONNMAXT, BUS_RECONN_MAX);
	}
	if (kind == BUS_REQ)
		(void) nng_socket_set_ms(
		    b->sock, NNG_OPT_REQ_RESENDTIME, BUS_REQ_RESEND);
	if (kind == BUS_PUB || kind == BUS_REP)
		rv = listen_on(b);
	else
		rv = dial(b);
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

int
bus_redial(struct bus *b)
{
	int rv;

	if (b->kind != BUS_SUB && b->kind != BUS_REQ)
		return (ERR_INVAL);
	(void) nng_dialer_close(b->dialer);
	if ((rv = dial(b)) != 0)
		log_error("bus.redial", "%s: %s", b->url, nng_strerror(rv));
	return (xlate(rv));
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
	rv = nng_socket_set(
	    b->sock, NNG_OPT_SUB_SUBSCRIBE, prefix, strlen(prefix));
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
	rv = nng_recvmsg(
	    b->sock, &nm, (flags & BUS_NONBLOCK) ? NNG_FLAG_NONBLOCK : 0);
	if (rv != 0)
		return (xlate(rv));
	m->data = nng_msg_body(nm);
	m->len  = nng_msg_len(nm);
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
	(void) nng_socket_set_ms(
	    b->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if ((rv = bus_set_timeout(b, timeout_ms)) == 0 &&
	    (rv = bus_send(b, req, len, 0)) == 0)
		rv = bus_recv(b, m, 0);
	bus_close(&b);
	return (rv);
}
