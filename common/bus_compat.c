/*
 * bus_compat.c - what nng's version needs around it, kept out of bus.c.
 *
 * nng 1.5.2 (Debian 12) needs sendmsg() defined here, for nng issue #1518
 * (below).  The definition must keep libc's name to take its place, so
 * it is the one exported name without its library's prefix
 * (scripts/symbols.prefixes).  A static library's object is linked only
 * when something refers to it: bus_open() calls bus_compat_init(), so
 * every program that opens a socket has the workaround.  With nng 1.6 or
 * later bus_compat_init() does nothing and sendmsg() is libc's.
 */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>

#include <nng/nng.h> /* NNG_MAJOR_VERSION, NNG_MINOR_VERSION only */

#include "bus_compat.h"

#if NNG_MAJOR_VERSION == 1 && NNG_MINOR_VERSION < 6
/*
 * nng issue #1518 ("Disconnect during negotiation breaks listener", fixed
 * in 1.6.0).  When the peer of a new connection is gone before we write
 * our SP header (a consumer SIGKILLed while dialing, a client that gave
 * up), sendmsg() fails with EPIPE, which nng maps to NNG_ECLOSED; the core
 * listener or dialer takes that for its own close and never accepts or
 * dials again.  A producer would then serve the consumers it has and no
 * new one (a consumer hears no heartbeat, so it believes itself caught
 * up); a consumer would never reach its restarted producer.
 *
 * nng's transports write with sendmsg() (ipc, tcp, and tls over tcp), and
 * an executable's definition takes precedence over libc's for shared
 * libraries too.  This one reports a peer that hung up as ECONNRESET,
 * which nng maps to NNG_ECONNRESET: "remote condition", the listener
 * accepts the next connection and the dialer redials, as 1.6 does.  No
 * caller of ours depends on EPIPE from sendmsg(); MSG_NOSIGNAL callers
 * (nng) never see SIGPIPE either way.
 */
typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);

static sendmsg_fn     next_sendmsg;
static pthread_once_t next_once = PTHREAD_ONCE_INIT;

static void
find_sendmsg(void)
{
	/* libc's, or a sanitizer's interceptor in front of it */
	next_sendmsg = (sendmsg_fn) dlsym(RTLD_NEXT, "sendmsg");
}

void
bus_compat_init(void)
{
	(void) pthread_once(&next_once, find_sendmsg);
}

ssize_t
sendmsg(int fd, const struct msghdr *m, int flags)
{
	ssize_t n;

	(void) pthread_once(&next_once, find_sendmsg);
	if (next_sendmsg == NULL) {
		errno = ENOSYS;
		return (-1);
	}
	if ((n = next_sendmsg(fd, m, flags)) < 0 && errno == EPIPE)
		errno = ECONNRESET;
	return (n);
}
#else
void
bus_compat_init(void)
{
}
#endif
