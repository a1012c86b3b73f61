/*
 * test_httpd.c - the webhook's HTTP edge (httpd.c) on a real loop and real
 * sockets: deadlines for a trickling head and a stalled body, 411 for a
 * body without Content-Length, 413 with its reason phrase, Expect:
 * 100-continue, keep-alive and pipelining, the connection cap, and a
 * form-encoded GitHub delivery.  The loop runs on a thread; the client
 * side is plain blocking sockets with receive timeouts (never hangs).
 * Timeouts are a few hundred ms so the whole file takes seconds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "opc/loop.h"
#include "webhook.h"

#define HEAD_MS 300
#define BODY_MS 300
#define IDLE_MS 600

struct world {
	struct loop    *loop;
	struct httpd   *hd;
	pthread_t       th;
	atomic_int      stop;
	int             port;
	pthread_mutex_t mu;
	int             status[32]; /* what decide saw, in order */
	const char     *counter[32];
	int             n;
};

static void
decide(struct hreq *hr, struct hook_verdict *v, void *arg)
{
	struct world *w = arg;

	pthread_mutex_lock(&w->mu);
	if (w->n < 32) {
		w->status[w->n]    = v->topic != MSG_NONE ? 200 : v->status;
		w->counter[w->n++] = v->counter;
	}
	pthread_mutex_unlock(&w->mu);
	if (v->topic != MSG_NONE)
		httpd_reply(hr, 200, "OK");
	else
		httpd_reply(hr, v->status, v->text);
}

static void *
run(void *arg)
{
	struct world *w = arg;

	while (!atomic_load(&w->stop))
		(void) loop_run_once(w->loop, 50);
	return (NULL);
}

static int
setup(void **state)
{
	struct world    *w = calloc(1, sizeof(*w));
	struct httpd_cfg c;
	const char      *u;

	memset(&c, 0, sizeof(c));
	c.listen            = "http://127.0.0.1:0";
	c.insecure          = true; /* no secret: signatures are test_hmac's */
	c.max_body          = 1024;
	c.header_timeout_ms = HEAD_MS;
	c.body_timeout_ms   = BODY_MS;
	c.idle_timeout_ms   = IDLE_MS;
	c.max_connections   = 4;
	c.decide            = decide;
	c.arg               = w;
	pthread_mutex_init(&w->mu, NULL);
	if (loop_open(&w->loop) != 0 || httpd_open(&w->hd, w->loop, &c) != 0)
		return (-1);
	u       = strrchr(httpd_url(w->hd), ':');
	w->port = atoi(u + 1);
	if (pthread_create(&w->th, NULL, run, w) != 0)
		return (-1);
	*state = w;
	return (0);
}

static int
teardown(void **state)
{
	struct world *w = *state;

	atomic_store(&w->stop, 1);
	pthread_join(w->th, NULL);
	httpd_close(&w->hd, w->loop);
	loop_close(&w->loop);
	pthread_mutex_destroy(&w->mu);
	free(w);
	return (0);
}

static int
dial(struct world *w)
{
	struct sockaddr_in sa;
	struct timeval     tv = { 5, 0 };
	int                fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	(void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family      = AF_INET;
	sa.sin_port        = htons((uint16_t) w->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	return (fd);
}

static void
say(int fd, const char *s)
{
	assert_int_equal(
	    send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t) strlen(s));
}

/* hear reads until the peer closes (or 5 s); returns what came. */
static char *
hear(int fd)
{
	static char in[65536];
	size_t      got = 0;
	ssize_t     n;

	while (got + 1 < sizeof(in) &&
	    (n = recv(fd, in + got, sizeof(in) - 1 - got, 0)) > 0)
		got += (size_t) n;
	in[got] = '\0';
	return (in);
}

/* hear_n reads until want bytes or more arrived (without waiting for a
 * close). */
static char *
hear_until(int fd, const char *want)
{
	static char in[65536];
	size_t      got = 0;
	ssize_t     n;

	in[0] = '\0';
	while (strstr(in, want) == NULL && got + 1 < sizeof(in) &&
	    (n = recv(fd, in + got, sizeof(in) - 1 - got, 0)) > 0) {
		got += (size_t) n;
		in[got] = '\0';
	}
	return (in);
}

static int
starts(const char *s, const char *prefix)
{
	return (strncmp(s, prefix, strlen(prefix)) == 0);
}

static int
decided(struct world *w, int i, int *status, const char **counter)
{
	int n;

	pthread_mutex_lock(&w->mu);
	n = w->n;
	if (i < n) {
		*status  = w->status[i];
		*counter = w->counter[i];
	}
	pthread_mutex_unlock(&w->mu);
	return (i < n);
}

static void
test_trickled_head_is_cut_off(void **state)
{
	struct world *w = *state;
	const char   *ctr;
	char         *in, c;
	int64_t       t0 = mono_ms();
	int           fd = dial(w), st, i;

	/* one header byte every 20 ms: 4 s of head if nobody stops it */
	say(fd, "POST /github HTTP/1.1\r\nHost: x\r\nX-Slow: ");
	for (i = 0; i < 200; i++) {
		if (recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1 ||
		    send(fd, "a", 1, MSG_NOSIGNAL) != 1)
			break; /* answered, or cut off */
		usleep(20000);
	}
	/* the deadline runs from the first byte, not from the last one;
	 * HEAD_MS + a sweep nominally, bounded loosely */
	assert_true(i < 100);
	assert_true(mono_ms() - t0 < 2000);
	in = hear(fd);
	assert_true(starts(in, "HTTP/1.1 408 Request Timeout\r\n"));
	assert_non_null(strstr(in, "Connection: close\r\n"));
	close(fd);
	assert_true(decided(w, 0, &st, &ctr));
	assert_int_equal(st, 408);
	assert_string_equal(ctr, "timeouts");
}

static void
test_idle_and_stalled_body(void **state)
{
	struct world *w  = *state;
	int64_t       t0 = mono_ms();
	int           fd = dial(w);
	char         *in;

	/* a connection that says nothing is closed without an answer */
	in = hear(fd);
	assert_string_equal(in, "");
	assert_true(mono_ms() - t0 < 2000);
	close(fd);
	/* a body that stops half-way */
	fd = dial(w);
	say(fd,
	    "POST /github HTTP/1.1\r\nHost: x\r\nContent-Type: "
	    "application/json\r\nContent-Length: 100\r\n\r\n{\"a\":");
	t0 = mono_ms();
	in = hear(fd);
	assert_true(starts(in, "HTTP/1.1 408 "));
	assert_true(mono_ms() - t0 < 2000);
	close(fd);
}

static void
test_length_required(void **state)
{
	struct world *w = *state;
	const char   *ctr;
	char         *in;
	int           fd = dial(w), st;

	/* chunked: refused before a byte of the body is read or checked */
	say(fd,
	    "POST /github HTTP/1.1\r\nHost: x\r\nContent-Type: "
	    "application/json\r\nX-GitHub-Event: ping\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n7\r\n{\"a\":1}\r\n0\r\n\r\n");
	in = hear(fd);
	assert_true(starts(in, "HTTP/1.1 411 Length Required\r\n"));
	assert_non_null(strstr(in, "Connection: close\r\n"));
	close(fd);
	assert_true(decided(w, 0, &st, &ctr));
	assert_int_equal(st, 411);
	assert_string_equal(ctr, "length_required");
	assert_false(decided(w, 1, &st, &ctr)); /* never signature-checked */
	/* a POST with no length at all */
	fd = dial(w);
	say(fd, "POST /plane HTTP/1.1\r\nHost: x\r\n\r\n");
	in = hear(fd);
	assert_true(starts(in, "HTTP/1.1 411 "));
	close(fd);
}

static void
test_too_large_has_its_reason(void **state)
{
	struct world *w = *state;
	char         *in;
	int           fd = dial(w);

	say(fd,
	    "POST /github HTTP/1.1\r\nHost: x\r\nContent-Type: "
	    "application/json\r\nContent-Length: 2000\r\n\r\n");
	in = hear(fd);
	assert_true(starts(in, "HTTP/1.1 413 Content Too Large\r\n"));
	close(fd);
	fd = dial(w);
	say(fd,
	    "GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_true(starts(hear(fd), "HTTP/1.1 404 Not Found\r\n"));
	close(fd);
	fd = dial(w);
	say(fd,
	    "GET /github HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	in = hear(fd);
	assert_true(starts(in, "HTTP/1.1 405 Method Not Allowed\r\n"));
	assert_non_null(strstr(in, "Allow: POST\r\n"));
	close(fd);
	fd = dial(w);
	say(fd, "GARBAGE\r\n\r\n");
	assert_true(starts(hear(fd), "HTTP/1.1 400 Bad Request\r\n"));
	close(fd);
}

/* pipelined writes one keep-alive POST of event with body into buf[256]. */
static const char *
pipelined(const char *event, const char *body, char *buf)
{
	snprintf(buf, 256,
	    "POST /github HTTP/1.1\r\nHost: x\r\nContent-Type: "
	    "application/json\r\nX-GitHub-Event: %s\r\n"
	    "Content-Length: %zu\r\n\r\n%s",
	    event, strlen(body), body);
	return (buf);
}

static void
test_continue_keepalive_pipelining(void **state)
{
	struct world *w    = *state;
	const char   *ping = "{\"zen\":\"hi\"}";
	char          req[512], two[1024], *in, *second;
	int           fd = dial(w);

	snprintf(req, sizeof(req),
	    "POST /github HTTP/1.1\r\nHost: x\r\nContent-Type: "
	    "application/json\r\nX-GitHub-Event: ping\r\n"
	    "Expect: 100-continue\r\nContent-Length: %zu\r\n\r\n",
	    strlen(ping));
	say(fd, req);
	in = hear_until(fd, "\r\n\r\n");
	assert_string_equal(in, "HTTP/1.1 100 Continue\r\n\r\n");
	say(fd, ping);
	in = hear_until(fd, "pong\n");
	assert_true(starts(in, "HTTP/1.1 200 OK\r\n"));
	assert_null(strstr(in, "Connection: close"));
	/* the same connection: two requests in one write, two answers in
	 * order */
	snprintf(two, sizeof(two), "%s%s", pipelined("ping", ping, req),
	    pipelined("issues", ping, req + 256));
	say(fd, two);
	in = hear_until(fd, "Ignored\n");
	assert_true(starts(in, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(second = strstr(in, "pong\n"));
	assert_non_null(strstr(second, "HTTP/1.1 202 Accepted\r\n"));
	close(fd);
}

static void
test_form_encoded(void **state)
{
	struct world *w    = *state;
	const char   *body = "payload=%7B%22zen%22%3A%22Keep+it+logically"
	                     "+awesome.%22%2C%22hook_id%22%3A1%7D";
	char          req[512], *in;
	int           fd = dial(w);

	snprintf(req, sizeof(req),
	    "POST /github HTTP/1.1\r\nHost: x\r\nContent-Type: "
	    "application/x-www-form-urlencoded\r\nX-GitHub-Event: ping\r\n"
	    "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
	    strlen(body), body);
	say(fd, req);
	in = hear(fd);
	assert_true(starts(in, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(in, "\r\n\r\npong\n"));
	close(fd);
	/* Plane never sends forms */
	fd = dial(w);
	snprintf(req, sizeof(req),
	    "POST /plane HTTP/1.1\r\nHost: x\r\nContent-Type: "
	    "application/x-www-form-urlencoded\r\n"
	    "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
	    strlen(body), body);
	say(fd, req);
	assert_true(starts(hear(fd), "HTTP/1.1 415 "));
	close(fd);
}

static void
test_connection_cap(void **state)
{
	struct world *w = *state;
	int           fd[5], i;
	char          c;

	for (i = 0; i < 5; i++)
		fd[i] = dial(w);
	/* the fifth is over max_connections: closed at once */
	assert_int_equal(recv(fd[4], &c, 1, 0), 0);
	for (i = 0; i < 5; i++)
		close(fd[i]);
	usleep(300000); /* the sweep frees the four */
	fd[0] = dial(w);
	say(fd[0],
	    "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: "
	    "close\r\n\r\n");
	assert_true(starts(hear(fd[0]), "HTTP/1.1 200 OK\r\n"));
	close(fd[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_trickled_head_is_cut_off, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_idle_and_stalled_body, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_length_required, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_too_large_has_its_reason, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_continue_keepalive_pipelining, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_form_encoded, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_connection_cap, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
