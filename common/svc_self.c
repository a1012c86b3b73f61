/*
 * svc_self.c - the listener self-check.
 *
 * nng 1.5.2 (Debian 12) has listeners that complete no new connection
 * once a peer hung up during the handshake (nng issue #1518, fixed in
 * 1.6.0).  A consumer SIGKILLed while dialing us leaves our pub (or our
 * ctl: each breaks on its own) deaf to everyone who connects later, while
 * those already connected keep hearing us: a consumer restarted after that
 * would never hear a heartbeat, so it would never learn how far our
 * journal goes.  So every SELF_EVERY_MS a service connects to its own pub
 * (one of its heartbeats must arrive) and ctl (a status request must be
 * answered) with fresh sockets.  If either stays silent for SELF_WAIT_MS,
 * it exits and the supervisor starts it again with new listeners (the
 * supervisor itself only reports it).  A check's sockets are closed once
 * they have heard us, never mid-handshake.  Only ipc:// listeners are
 * checked for now (a tcp listen address may be a wildcard, and tls needs
 * the peer name: not yet done).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opc/err.h"
#include "opc/log.h"
#include "svc_int.h"

#define SELF_EVERY_MS 10000
#define SELF_WAIT_MS 15000

/* self_ask sends our status request on the self-check's REQ socket, if
 * not sent yet: a send fails until the socket has connected. */
static void
self_ask(struct svc *svc)
{
	struct msg_hdr hdr;
	struct buf     b;
	char           id[300];

	if (svc->self_req == NULL || svc->self_sent)
		return;
	snprintf(id, sizeof(id), "%s:self:%lld", svc->inst->name,
	    (long long) svc->self_started);
	memset(&hdr, 0, sizeof(hdr));
	hdr.src = svc->inst->name;
	hdr.id = id;
	hdr.ts = now_ms();
	buf_init(&b);
	if (msg_pack(&b, MSG_CTL_STATUS, &hdr, NULL) == 0 &&
	    bus_send(svc->self_req, b.data, b.len, BUS_NONBLOCK) == 0)
		svc->self_sent = true;
	buf_fini(&b);
}

static void
self_start(struct svc *svc)
{
	svc->self_started = mono_ms();
	svc->self_sent = false;
	if (bus_open(&svc->self_sub, BUS_SUB, svc->inst->pub) == 0)
		(void) bus_subscribe(svc->self_sub, "heartbeat");
	if (bus_open(&svc->self_req, BUS_REQ, svc->inst->ctl) == 0)
		self_ask(svc);
}

/* heard: s received a message (then it is closed: its handshake is
 * done).  NULL counts as heard. */
static bool
heard(struct bus **s)
{
	struct bus_msg m;

	if (*s == NULL)
		return (true);
	if (bus_recv(*s, &m, BUS_NONBLOCK) != 0)
		return (false);
	bus_msg_free(&m);
	bus_close(s);
	return (true);
}

void
svc_self_check(struct svc *svc)
{
	int64_t now = mono_ms();
	bool    pub, ctl;

	if (strncmp(svc->inst->pub, "ipc://", 6) != 0 ||
	    strncmp(svc->inst->ctl, "ipc://", 6) != 0)
		return;
	if (!svc->self_busy) {
		if (now >= svc->self_next) {
			svc->self_busy = true;
			self_start(svc);
		}
		return;
	}
	self_ask(svc);
	pub = heard(&svc->self_sub);
	ctl = svc->self_sent && heard(&svc->self_req);
	if (pub && ctl) {
		svc->self_busy = false;
		svc->self_next = now + SELF_EVERY_MS;
		return;
	}
	if (now - svc->self_started <= SELF_WAIT_MS)
		return;
	log_error("svc.deaf_listener", "no new connection reaches our %s%s%s "
	    "for %lld ms (nng 1.5.2 issue #1518: a peer hung up "
	    "mid-handshake)%s", pub ? "" : "pub", pub || ctl ? "" : " and ",
	    ctl ? "" : "ctl", (long long) (now - svc->self_started),
	    strcmp(svc->inst->service, "supervisor") == 0
	        ? ""
	        : ": exiting, to be restarted with new listeners");
	if (strcmp(svc->inst->service, "supervisor") != 0)
		_exit(EXIT_FAILURE); /* like a crash: state is durable */
	svc_set_error(svc, "deaf listener (nng issue #1518)");
	svc_count(svc, "deaf_listeners", 1);
	bus_close(&svc->self_sub); /* the supervisor tries again later */
	bus_close(&svc->self_req);
	svc->self_busy = false;
	svc->self_next = now + SELF_EVERY_MS;
}

void
svc_self_fini(struct svc *svc)
{
	bus_close(&svc->self_sub);
	bus_close(&svc->self_req);
}
