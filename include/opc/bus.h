/*
 * bus.h - nng sockets behind one small API.
 *
 * common/bus.c is the only file that includes <nng/nng.h> (and
 * bus_compat.c, for its version).  A struct bus
 * is one socket: PUB (bound; every event a service emits), SUB (dials an
 * upstream PUB, filters by topic prefix), REP (bound ctl socket) or REQ
 * (dials an upstream ctl).  Every socket gets 8192-message buffers, a
 * receive size limit and reconnect backoff (DESIGN.md section 2).
 *
 * A frame on PUB/SUB is: topic bytes, one NUL, msgpack envelope.
 */
#ifndef OPC_BUS_H
#define OPC_BUS_H

#include <stddef.h>

enum bus_kind { BUS_PUB, BUS_SUB, BUS_REP, BUS_REQ };

#define BUS_NONBLOCK 1

/* Default limit on a received message (replay batches included). */
#define BUS_MAX_MSG (16u * 1024 * 1024)

struct bus;

/* struct bus_msg is one received message.  data/len stay valid until
 * bus_msg_free(); the priv pointer belongs to bus.c. */
struct bus_msg {
	const char *data;
	size_t      len;
	void       *priv;
};

/* bus_open creates a socket of kind: PUB and REP listen on url, SUB and
 * REQ dial it (dialing never fails because the peer is absent: nng
 * reconnects in the background).  Returns 0, ERR_INVAL (bad url) or
 * ERR_IO.  Release with bus_close(). */
int  bus_open(struct bus **bp, enum bus_kind kind, const char *url);
void bus_close(struct bus **bp);

/* bus_redial replaces the connection of a SUB or REQ socket: its dialer
 * and pipe are closed and a new dialer starts (in the background, as in
 * bus_open).  Subscriptions, the fd and queued requests stay.  For a peer
 * that lost the tcp connection without us noticing (a SUB never writes, so
 * a half-open connection looks idle forever).  Returns 0, ERR_INVAL (not
 * SUB/REQ) or ERR_IO. */
int bus_redial(struct bus *);

/* bus_subscribe adds a topic prefix on a SUB socket ("" = everything). */
int bus_subscribe(struct bus *, const char *prefix);

/* bus_set_timeout sets send and receive timeouts (ms, -1 = none) used by
 * blocking calls. */
int bus_set_timeout(struct bus *, int ms);

/* bus_fd returns a pollable fd that is readable while a message waits. */
int bus_fd(struct bus *, int *fdp);

/* bus_send sends len bytes (copied).  With BUS_NONBLOCK returns ERR_AGAIN
 * when the queue is full.  Returns 0, ERR_AGAIN, ERR_TIMEOUT, ERR_STATE
 * (REQ/REP out of turn) or ERR_CLOSED. */
int bus_send(struct bus *, const void *data, size_t len, int flags);

/* bus_recv receives the next message into *m (release with bus_msg_free).
 * Returns 0, ERR_AGAIN (BUS_NONBLOCK and nothing waiting), ERR_TIMEOUT,
 * ERR_STATE or ERR_CLOSED. */
int  bus_recv(struct bus *, struct bus_msg *m, int flags);
void bus_msg_free(struct bus_msg *m);

/* bus_request is the blocking helper used by the CLI and tests: one REQ
 * round trip to url with timeout_ms.  On success *m holds the reply. */
int bus_request(const char *url, const void *req, size_t len,
    struct bus_msg *m, int timeout_ms);

/* struct bus_tls names the PEM files of tls+tcp:// endpoints (borrowed). */
struct bus_tls {
	const char *ca_file;     /* the CA that signs every host's cert */
	const char *cert_file;   /* this host's certificate (chain) */
	const char *key_file;    /* its private key, unencrypted */
	const char *server_name; /* NULL: each dialed url's host name */
};

/* bus_tls_set installs the process-wide TLS settings of every tls+tcp://
 * socket opened afterwards: listeners present cert_file and require a
 * client certificate signed by ca_file; dialers verify the listener's
 * certificate against ca_file and server_name, and present cert_file
 * (mutual TLS).  The files are read and parsed now.  NULL removes the
 * settings (tls+tcp:// sockets then fail with ERR_INVAL).  Returns 0 or
 * ERR_CONFIG with a message naming the file in err. */
int bus_tls_set(const struct bus_tls *tls, char *err, size_t errlen);

/* bus_url_ok returns 1 when url has a scheme nng knows (ipc, tcp,
 * tls+tcp, inproc). */
int bus_url_ok(const char *url);

/* bus_url_remote returns 1 for tcp://, tcp4://, tcp6:// and tls+tcp://
 * urls: connections that can go half-open when a link drops. */
int bus_url_remote(const char *url);

#endif
