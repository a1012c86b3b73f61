/*
 * test_bus.c - bus.c over real nng sockets (inproc and ipc).
 */
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

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
	pfd.fd = fd;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 10000), 1);
}

static void
pubsub(const char *url)
{
	struct bus    *pub, *sub;
	struct bus_msg m;
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	assert_int_equal(bus_open(&pub, BUS_PUB, url), 0);
	assert_int_equal(bus_open(&sub, BUS_SUB, url), 0);
	assert_int_equal(bus_subscribe(sub, "task."), 0);
	assert_int_equal(bus_subscribe(pub, "x"), ERR_INVAL);
	nanosleep(&ts, NULL); /* the dial completes in the background */
	assert_int_equal(bus_recv(sub, &m, BUS_NONBLOCK), ERR_AGAIN);
	assert_int_equal(bus_send(pub, "exec.x\0a", 8, BUS_NONBLOCK), 0);
	assert_int_equal(bus_send(pub, "task.ready\0b", 12, BUS_NONBLOCK),
	    0);
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
	assert_int_equal(bus_open(&pub, BUS_PUB, "inproc://test-bus-redial"),
	    0);
	assert_int_equal(bus_open(&sub, BUS_SUB, "inproc://test-bus-redial"),
	    0);
	assert_int_equal(bus_subscribe(sub, "t"), 0);
	assert_int_equal(bus_fd(sub, &fd), 0);
	assert_int_equal(bus_redial(sub), 0);
	assert_int_equal(bus_redial(pub), ERR_INVAL);
	assert_int_equal(bus_fd(sub, &fd2), 0);
	assert_int_equal(fd, fd2);
	for (i = 0; i < 50; i++) { /* the new dial completes in the background */
		nanosleep(&ts, NULL);
		assert_int_equal(bus_send(pub, "t\0x", 3, BUS_NONBLOCK), 0);
		if (bus_recv(sub, &m, BUS_NONBLOCK) == 0)
			break;
	}
	assert_true(i < 50);
	assert_int_equal(m.len, 3);
	bus_msg_free(&m);
	assert_int_equal(bus_open(&rep, BUS_REP, "inproc://test-bus-redial2"),
	    0);
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

		assert_int_equal(bus_open(&b2, BUS_PUB, "inproc://test-bus-dup"),
		    ERR_EXISTS);
	}
	bus_close(&b);
	/* Nobody listening: a bounded request times out. */
	assert_int_equal(bus_request("inproc://test-bus-none", "x", 1, &m,
	                     200),
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
	};

	log_init("test_bus", NULL, LOG_ERROR);
	log_set_stderr(0);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
