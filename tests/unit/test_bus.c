/*
 * test_bus.c - bus.c over real nng sockets (inproc and ipc), and raw
 * AF_UNIX peers that hang up before the SP handshake.
 */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "opc/bus.h"
#include "opc/err.h"
#include "opc/log.h"
#include "testbed.h"

static void
wait_readable(struct bus *b)
{
	struct pollfd pfd;
	int           fd;

	assert_int_equal(bus_fd(b, &fd), 0);
	pfd.fd     = fd;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 10000), 1);
}

static void
pubsub(const char *url)
{
	struct bus     *pub, *sub;
	struct bus_msg  m;
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	assert_int_equal(bus_open(&pub, BUS_PUB, url), 0);
	assert_int_equal(bus_open(&sub, BUS_SUB, url), 0);
	assert_int_equal(bus_subscribe(sub, "task."), 0);
	assert_int_equal(bus_subscribe(pub, "x"), ERR_INVAL);
	nanosleep(&ts, NULL); /* the dial completes in the background */
	assert_int_equal(bus_recv(sub, &m, BUS_NONBLOCK), ERR_AGAIN);
	assert_int_equal(bus_send(pub, "exec.x\0a", 8, BUS_NONBLOCK), 0);
	assert_int_equal(bus_send(pub, "task.ready\0b", 12, BUS_NONBLOCK), 0);
	wait_readable(sub);
	assert_int_equal(bus_recv(sub, &m, BUS_NONBLOCK), 0);
	/* The prefix filter dropped exec.x. */
	assert_int_equal(m.len, 12);
	assert_memory_equal(m.data, "task.ready\0b", 12);
	bus_msg_free(&m);
	bus_msg_free(&m); /* freeing twice is harmless */
	bus_close(&sub);
	bus_close(&pub);
	assert_null(pub);
}

/* bus_redial keeps the socket, its subscriptions and its fd. */
static void
test_redial(void **state)
{
	struct bus     *pub, *sub, *rep;
	struct bus_msg  m;
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	int             fd, fd2, i;

	UNUSED(state);
	assert_int_equal(
	    bus_open(&pub, BUS_PUB, "inproc://test-bus-redial"), 0);
	assert_int_equal(
	    bus_open(&sub, BUS_SUB, "inproc://test-bus-redial"), 0);
	assert_int_equal(bus_subscribe(sub, "t"), 0);
	assert_int_equal(bus_fd(sub, &fd), 0);
	assert_int_equal(bus_redial(sub), 0);
	assert_int_equal(bus_redial(pub), ERR_INVAL);
	assert_int_equal(bus_fd(sub, &fd2), 0);
	assert_int_equal(fd, fd2);
	for (i = 0; i < 50;
	     i++) { /* the new dial completes in the background */
		nanosleep(&ts, NULL);
		assert_int_equal(bus_send(pub, "t\0x", 3, BUS_NONBLOCK), 0);
		if (bus_recv(sub, &m, BUS_NONBLOCK) == 0)
			break;
	}
	assert_true(i < 50);
	assert_int_equal(m.len, 3);
	bus_msg_free(&m);
	assert_int_equal(
	    bus_open(&rep, BUS_REP, "inproc://test-bus-redial2"), 0);
	assert_int_equal(bus_redial(rep), ERR_INVAL);
	bus_close(&rep);
	bus_close(&sub);
	bus_close(&pub);
}

static void
test_pubsub_inproc(void **state)
{
	UNUSED(state);
	pubsub("inproc://test-bus-ps");
}

static void
test_pubsub_ipc(void **state)
{
	char *dir = tb_dir(), *url = xasprintf("ipc://%s/p.pub", dir);

	UNUSED(state);
	pubsub(url);
	tb_rmrf(dir);
	free(url);
	free(dir);
}

static void
test_reqrep(void **state)
{
	struct bus    *rep, *req;
	struct bus_msg m;

	UNUSED(state);
	assert_int_equal(bus_open(&rep, BUS_REP, "inproc://test-bus-rr"), 0);
	assert_int_equal(bus_open(&req, BUS_REQ, "inproc://test-bus-rr"), 0);
	assert_int_equal(bus_set_timeout(req, 5000), 0);
	/* rep0 cannot answer before it was asked. */
	assert_int_equal(bus_send(rep, "x", 1, BUS_NONBLOCK), ERR_STATE);
	assert_int_equal(bus_send(req, "ping", 4, 0), 0);
	wait_readable(rep);
	assert_int_equal(bus_recv(rep, &m, BUS_NONBLOCK), 0);
	assert_memory_equal(m.data, "ping", 4);
	bus_msg_free(&m);
	assert_int_equal(bus_send(rep, "pong", 4, 0), 0);
	assert_int_equal(bus_recv(req, &m, 0), 0);
	assert_memory_equal(m.data, "pong", 4);
	bus_msg_free(&m);
	bus_close(&req);
	bus_close(&rep);
}

/* heard publishes on pub until sub hears it; returns the number of tries
 * (0: never heard in ms). */
static int
heard(struct bus *pub, struct bus *sub, int ms)
{
	struct bus_msg m;
	int            i;

	for (i = 1; i <= ms / 50; i++) {
		(void) bus_send(pub, "t\0x", 3, BUS_NONBLOCK);
		sleep_ms(50);
		if (bus_recv(sub, &m, BUS_NONBLOCK) == 0) {
			bus_msg_free(&m);
			return (i);
		}
	}
	return (0);
}

/* heard_then_close asserts that sub hears pub, then closes both and
 * removes dir (freed with url). */
static void
heard_then_close(struct bus *pub, struct bus *sub, char *dir, char *url)
{
	assert_true(heard(pub, sub, 10000) > 0);
	bus_close(&sub);
	bus_close(&pub);
	tb_rmrf(dir);
	free(url);
	free(dir);
}

/* nng issue #1518, listener side: a peer that connects and hangs up
 * before the SP handshake left an nng 1.5 listener accepting nothing
 * more (bus_compat.c's sendmsg() works around it). */
static void
test_hangup_listener(void **state)
{
	char       *dir = tb_dir(), *url = xasprintf("ipc://%s/p", dir);
	struct bus *pub, *sub;

	UNUSED(state);
	assert_int_equal(bus_open(&pub, BUS_PUB, url), 0);
	tb_hang_up(url);
	sleep_ms(200);
	assert_int_equal(bus_open(&sub, BUS_SUB, url), 0);
	assert_int_equal(bus_subscribe(sub, ""), 0);
	heard_then_close(pub, sub, dir, url);
}

struct hangup_srv {
	int        fd;
	atomic_int conns, stop; /* shared with hangup_main */
};

/* hangup_main accepts connections and closes them at once. */
static void *
hangup_main(void *arg)
{
	struct hangup_srv *h = arg;
	struct pollfd      p = { .fd = h->fd, .events = POLLIN };
	int                c;

	while (!h->stop)
		if (poll(&p, 1, 20) == 1 &&
		    (c = accept(h->fd, NULL, NULL)) >= 0) {
			close(c);
			h->conns++;
		}
	return (NULL);
}

/* nng issue #1518, dialer side: a listener that hangs up before the
 * handshake could leave an nng 1.5 dialer never dialing again. */
static void
test_hangup_dialer(void **state)
{
	char              *dir = tb_dir(), *url = xasprintf("ipc://%s/p", dir);
	struct bus        *pub, *sub;
	struct sockaddr_un sa;
	struct hangup_srv  h = { 0 };
	pthread_t          th;
	int                live;

	UNUSED(state);
	h.fd = tb_unix_sock(url, &sa);
	assert_int_equal(bind(h.fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	assert_int_equal(listen(h.fd, 8), 0);
	assert_int_equal(pthread_create(&th, NULL, hangup_main, &h), 0);
	assert_int_equal(bus_open(&sub, BUS_SUB, url), 0);
	assert_int_equal(bus_subscribe(sub, ""), 0);
	sleep_ms(500);
	live = h.conns;
	sleep_ms(500); /* a live dialer retries every 50 ms */
	live   = h.conns - live;
	h.stop = 1;
	pthread_join(th, NULL);
	close(h.fd);
	unlink(url + 6);
	print_message("# the dialer connected %d times in 1 s, %d in the "
	              "last 0.5 s\n",
	    h.conns, live);
	assert_true(live > 0);
	assert_int_equal(bus_open(&pub, BUS_PUB, url), 0);
	heard_then_close(pub, sub, dir, url);
}

static void
test_errors(void **state)
{
	struct bus    *b = (struct bus *) 1;
	struct bus_msg m;

	UNUSED(state);
	assert_int_equal(bus_open(&b, BUS_PUB, "http://x"), ERR_INVAL);
	assert_null(b);
	assert_int_equal(bus_open(&b, BUS_PUB, NULL), ERR_INVAL);
	assert_false(bus_url_ok("ipc://"));
	assert_true(bus_url_ok("tls+tcp://127.0.0.1:5555"));
	/* Two listeners on one address. */
	assert_int_equal(bus_open(&b, BUS_PUB, "inproc://test-bus-dup"), 0);
	{
		struct bus *b2;

		assert_int_equal(
		    bus_open(&b2, BUS_PUB, "inproc://test-bus-dup"),
		    ERR_EXISTS);
	}
	bus_close(&b);
	/* Nobody listening: a bounded request times out. */
	assert_int_equal(
	    bus_request("inproc://test-bus-none", "x", 1, &m, 200),
	    ERR_TIMEOUT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redial),
		cmocka_unit_test(test_pubsub_inproc),
		cmocka_unit_test(test_pubsub_ipc),
		cmocka_unit_test(test_reqrep),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_hangup_listener),
		cmocka_unit_test(test_hangup_dialer),
	};

	log_init("test_bus", NULL, LOG_ERROR);
	log_set_stderr(0);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
