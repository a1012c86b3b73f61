/*
 * test_httpsrv.c - the common HTTP/1.1 server (common/httpsrv.c) through
 * a real loopback socket on one thread: routes see the path and query
 * apart, HEAD answers without a body, a stream delivers what is sent and
 * tells its owner when the peer leaves, an oversized head gets 431.  The
 * webhook's framing cases (411, 413, 408, pipelining) are test_httpd's.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "opc/httpsrv.h"
#include "opc/loop.h"
#include "opc/util.h"
#include "testbed.h"

struct world {
	struct loop         *loop;
	struct httpsrv      *srv;
	struct httpsrv_conn *stream;
	int                  closed;
	int                  port;
};

static void
handle(struct httpsrv_conn *c, const struct httpsrv_req *r, void *arg)
{
	struct world *w = arg;
	char          body[256];
	int           n;

	if (strcmp(r->path, "/events") == 0) {
		httpsrv_stream(c, "text/event-stream", NULL);
		w->stream = c;
		return;
	}
	n = snprintf(
	    body, sizeof(body), "path=%s query=%s", r->path, r->query);
	httpsrv_respond(c, 200, "text/plain", body, (size_t) n, NULL, false);
}

static void
closed(struct httpsrv_conn *c, void *arg)
{
	struct world *w = arg;

	if (c == w->stream) {
		w->stream = NULL;
		w->closed++;
	}
}

static int
setup(void **state)
{
	struct world      *w = calloc(1, sizeof(*w));
	struct httpsrv_cfg c;

	memset(&c, 0, sizeof(c));
	c.listen = "http://127.0.0.1:0";
	c.tag    = "test";
	c.handle = handle;
	c.closed = closed;
	c.arg    = w;
	if (loop_open(&w->loop) != 0 ||
	    httpsrv_open(&w->srv, w->loop, &c) != 0)
		return (-1);
	w->port = atoi(strrchr(httpsrv_url(w->srv), ':') + 1);
	*state  = w;
	return (0);
}

static int
teardown(void **state)
{
	struct world *w = *state;

	httpsrv_close(&w->srv, w->loop);
	loop_close(&w->loop);
	free(w);
	return (0);
}

static void
send_all(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t) strlen(s));
}

static void
test_path_and_query(void **state)
{
	struct world *w  = *state;
	int           fd = tb_dial(w->port);

	send_all(fd, "GET /runs?limit=5 HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_non_null(strstr(
	    tb_await(w->loop, fd, "query="), "path=/runs query=limit=5"));
	close(fd);
}

static void
test_head_has_no_body(void **state)
{
	struct world *w  = *state;
	int           fd = tb_dial(w->port);
	const char   *got;

	send_all(fd, "HEAD /x HTTP/1.1\r\nHost: x\r\n\r\n");
	got = tb_await(w->loop, fd, "\r\n\r\n");
	assert_non_null(strstr(got, "HTTP/1.1 200 OK"));
	assert_non_null(strstr(got, "Content-Length: 14\r\n"));
	assert_null(strstr(got, "path="));
	close(fd);
}

static void
test_stream(void **state)
{
	struct world *w  = *state;
	int           fd = tb_dial(w->port);
	int64_t       end;

	send_all(fd, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_non_null(
	    strstr(tb_await(w->loop, fd, "\r\n\r\n"), "text/event-stream"));
	assert_non_null(w->stream);
	assert_int_equal(httpsrv_send(w->stream, "data: hi\n\n", 10), 0);
	assert_non_null(
	    strstr(tb_await(w->loop, fd, "data: hi"), "data: hi\n\n"));
	close(fd);
	end = mono_ms() + 5000;
	while (w->closed == 0 && mono_ms() < end)
		(void) loop_run_once(w->loop, 20);
	assert_int_equal(w->closed, 1);
	assert_null(w->stream);
}

static void
test_oversized_head(void **state)
{
	struct world *w   = *state;
	int           fd  = tb_dial(w->port);
	char         *big = malloc(HTTPSRV_HEAD_MAX + 64);

	memset(big, 'a', HTTPSRV_HEAD_MAX + 63);
	big[HTTPSRV_HEAD_MAX + 63] = '\0';
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	send_all(fd, big);
	assert_non_null(
	    strstr(tb_await(w->loop, fd, "\r\n\r\n"), "HTTP/1.1 431 "));
	free(big);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_path_and_query, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_head_has_no_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_oversized_head, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
