/*
 * test_dash_web.c - the dashboard's routes (services/dash/web.c) through
 * a real loopback socket on one thread: the page, script and style; the
 * state (503 before the first one); unknown paths (404) and methods
 * (405); an oversized head (431); evidence files served from the root
 * only, whatever the path tries (.., %2e%2e, a symlink out, a directory);
 * the token (missing, wrong, right as a bearer or as the cookie /login
 * sets); and an event reaching an open event stream.  Nothing of what
 * lies outside the root, nor the token, appears in any answer.
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dash.h"
#include "opc/err.h"
#include "opc/loop.h"
#include "opc/util.h"
#include "testbed.h"

#define SECRET "outside-the-root-secret"
#define TOKEN "tok-3f9a1c"

struct world {
	struct loop     *loop;
	struct dash_web *web;
	char             dir[64];
	char            *root;
	bool             have_state;
	int              port;
};

static char *
state_text(void *arg)
{
	struct world *w = arg;

	return (w->have_state ? xstrdup("{\"instances\":[]}") : NULL);
}

static void
put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
open_world(void **state, const char *token)
{
	struct world       *w = calloc(1, sizeof(*w));
	struct dash_web_cfg c;
	char               *p;

	snprintf(w->dir, sizeof(w->dir), "/tmp/dashweb.XXXXXX");
	if (mkdtemp(w->dir) == NULL)
		return (-1);
	w->root = xasprintf("%s/runs", w->dir);
	p       = xasprintf("%s/runs/run-1", w->dir);
	(void) mkdir(w->root, 0700);
	(void) mkdir(p, 0700);
	free(p);
	p = xasprintf("%s/runs/run-1/result.json", w->dir);
	put(p, "{\"status\":\"succeeded\"}\n");
	free(p);
	p = xasprintf("%s/secret.txt", w->dir);
	put(p, SECRET "\n");
	free(p);
	p = xasprintf("%s/runs/run-1/link.txt", w->dir);
	{
		char *target = xasprintf("%s/secret.txt", w->dir);

		assert_int_equal(symlink(target, p), 0);
		free(target);
	}
	free(p);
	p = xasprintf("%s/runs/run-1/sub", w->dir);
	(void) mkdir(p, 0700);
	free(p);
	memset(&c, 0, sizeof(c));
	c.listen        = "http://127.0.0.1:0";
	c.token         = token;
	c.evidence_root = w->root;
	c.state         = state_text;
	c.arg           = w;
	if (loop_open(&w->loop) != 0 ||
	    dash_web_open(&w->web, w->loop, &c) != 0)
		return (-1);
	w->port = atoi(strrchr(dash_web_url(w->web), ':') + 1);
	*state  = w;
	return (0);
}

static int
setup(void **state)
{
	return (open_world(state, NULL));
}

static int
setup_token(void **state)
{
	return (open_world(state, TOKEN));
}

static int
teardown(void **state)
{
	struct world *w = *state;

	dash_web_close(&w->web, w->loop);
	loop_close(&w->loop);
	(void) rmtree(w->dir);
	free(w->root);
	free(w);
	return (0);
}

/* complete: got holds a whole answer (head and Content-Length body). */
static bool
complete(const char *got)
{
	const char *end = strstr(got, "\r\n\r\n"), *cl;

	if (end == NULL)
		return (false);
	if ((cl = strstr(got, "Content-Length: ")) == NULL || cl > end)
		return (true);
	return (strlen(end + 4) >= (size_t) atol(cl + 16));
}

/* ask sends one request on a new connection and returns the whole
 * answer (static). */
static const char *
ask(struct world *w, const char *req)
{
	static char got[65536];
	size_t      len = 0;
	ssize_t     n;
	int64_t     end = mono_ms() + 5000;
	int         fd  = tb_dial(w->port);

	assert_int_equal(write(fd, req, strlen(req)), (ssize_t) strlen(req));
	got[0] = '\0';
	while (mono_ms() < end && !complete(got)) {
		(void) loop_run_once(w->loop, 20);
		while ((n = read(fd, got + len, sizeof(got) - 1 - len)) > 0)
			len += (size_t) n;
		got[len] = '\0';
	}
	close(fd);
	return (got);
}

static const char *
get(struct world *w, const char *path)
{
	static char req[1024];

	snprintf(req, sizeof(req),
	    "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
	return (ask(w, req));
}

static void
assert_status(const char *got, int status)
{
	char want[32];

	snprintf(want, sizeof(want), "HTTP/1.1 %d ", status);
	if (strncmp(got, want, strlen(want)) != 0)
		fail_msg("want %d, got: %.200s", status, got);
}

static void
test_page_and_assets(void **state)
{
	struct world *w = *state;
	const char   *got;

	got = get(w, "/");
	assert_status(got, 200);
	assert_non_null(strstr(got, "Content-Type: text/html"));
	assert_non_null(
	    strstr(got, "Content-Security-Policy: default-src 'self'"));
	assert_non_null(strstr(got, "X-Content-Type-Options: nosniff"));
	assert_non_null(strstr(got, "<script src=\"/app.js\""));
	got = get(w, "/app.js");
	assert_status(got, 200);
	assert_non_null(strstr(got, "text/javascript"));
	assert_non_null(strstr(got, "EventSource"));
	assert_status(get(w, "/app.css"), 200);
}

static void
test_state(void **state)
{
	struct world *w = *state;
	const char   *got;

	assert_status(get(w, "/api/state"), 503);
	w->have_state = true;
	got           = get(w, "/api/state");
	assert_status(got, 200);
	assert_non_null(strstr(got, "application/json"));
	assert_non_null(strstr(got, "{\"instances\":[]}"));
}

static void
test_bad_requests(void **state)
{
	struct world *w = *state;
	char         *big;

	assert_status(get(w, "/nope"), 404);
	assert_status(get(w, "/api/state/x"), 404);
	assert_status(get(w, "/app.js%00"), 404);
	assert_status(ask(w,
	                  "POST / HTTP/1.1\r\nHost: x\r\n"
	                  "Content-Length: 0\r\n\r\n"),
	    405);
	assert_status(
	    ask(w, "DELETE /api/state HTTP/1.1\r\nHost: x\r\n\r\n"), 405);
	assert_status(ask(w, "GARBAGE\r\n\r\n"), 400);
	big = malloc(20000);
	memset(big, 'a', 19999);
	big[19999] = '\0';
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	assert_status(ask(w, big), 431);
	free(big);
}

static void
test_evidence(void **state)
{
	struct world            *w = *state;
	const char              *got;
	static const char *const bad[] = {
		"/evidence/run-1/../../secret.txt",
		"/evidence/run-1/..%2f..%2fsecret.txt",
		"/evidence/%2e%2e/secret.txt",
		"/evidence/run-1/%2e%2e/%2e%2e/secret.txt",
		"/evidence/../secret.txt",
		"/evidence/run-1/.hidden",
		"/evidence/run-1",
		"/evidence/run-1/",
		"/evidence//etc/passwd",
		"/evidence/run-1//result.json",
	};
	static const char *const missing[] = {
		"/evidence/run-1/link.txt", /* a symlink out of the root */
		"/evidence/run-1/sub",      /* a directory */
		"/evidence/run-1/none.txt",
		"/evidence/run-2/result.json",
	};
	size_t i;

	got = get(w, "/evidence/run-1/result.json");
	assert_status(got, 200);
	assert_non_null(strstr(got, "Content-Type: text/plain"));
	assert_non_null(strstr(got, "X-Content-Type-Options: nosniff"));
	assert_non_null(strstr(got, "{\"status\":\"succeeded\"}"));
	for (i = 0; i < nitems(bad); i++) {
		got = get(w, bad[i]);
		if (strncmp(got, "HTTP/1.1 400 ", 13) != 0 &&
		    strncmp(got, "HTTP/1.1 404 ", 13) != 0)
			fail_msg("%s: %.100s", bad[i], got);
		assert_null(strstr(got, SECRET));
	}
	for (i = 0; i < nitems(missing); i++) {
		got = get(w, missing[i]);
		assert_status(got, 404);
		assert_null(strstr(got, SECRET));
	}
}

static void
test_evidence_path(void **state)
{
	struct world *w = *state;
	char         *p;

	assert_int_equal(
	    dash_evidence_path(&p, w->root, "run-1/result.json"), 0);
	assert_non_null(strstr(p, "/runs/run-1/result.json"));
	free(p);
	assert_int_equal(
	    dash_evidence_path(&p, w->root, "run-1/../x"), ERR_INVAL);
	assert_int_equal(
	    dash_evidence_path(&p, w->root, "run-1/link.txt"), ERR_NOTFOUND);
	assert_null(p);
	assert_int_equal(
	    dash_evidence_path(&p, NULL, "run-1/result.json"), ERR_NOTFOUND);
}

static void
test_token(void **state)
{
	struct world *w = *state;
	const char   *got;
	char          req[512];

	w->have_state = true;
	got           = get(w, "/api/state");
	assert_status(got, 401);
	assert_null(strstr(got, TOKEN));
	got = get(w, "/");
	assert_status(got, 401);
	assert_non_null(strstr(got, "action=/login"));
	assert_null(strstr(got, "app.js"));
	assert_status(get(w, "/evidence/run-1/result.json"), 401);
	assert_status(get(w, "/api/events"), 401);
	assert_status(ask(w,
	                  "GET /api/state HTTP/1.1\r\nHost: x\r\n"
	                  "Authorization: Bearer wrong\r\n\r\n"),
	    401);
	assert_status(ask(w,
	                  "GET /api/state HTTP/1.1\r\nHost: x\r\n"
	                  "Authorization: Bearer " TOKEN "x\r\n\r\n"),
	    401);
	assert_status(ask(w,
	                  "GET /api/state HTTP/1.1\r\nHost: x\r\n"
	                  "Authorization: Basic " TOKEN "\r\n\r\n"),
	    401);
	got = ask(w,
	    "GET /api/state HTTP/1.1\r\nHost: x\r\n"
	    "Authorization: Bearer " TOKEN "\r\n\r\n");
	assert_status(got, 200);
	assert_non_null(strstr(got, "{\"instances\":[]}"));
	assert_status(
	    ask(w,
	        "GET /evidence/run-1/result.json HTTP/1.1\r\n"
	        "Host: x\r\nCookie: a=b; opc_dash_token=" TOKEN "\r\n\r\n"),
	    200);
	assert_status(ask(w,
	                  "GET /api/state HTTP/1.1\r\nHost: x\r\n"
	                  "Cookie: opc_dash_token=nope\r\n\r\n"),
	    401);
	/* the login form: a wrong token again, the right one sets it */
	snprintf(req, sizeof(req),
	    "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: "
	    "application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n"
	    "token=nope",
	    strlen("token=nope"));
	assert_status(ask(w, req), 401);
	snprintf(req, sizeof(req),
	    "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: "
	    "application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n"
	    "token=" TOKEN,
	    strlen("token=" TOKEN));
	got = ask(w, req);
	assert_status(got, 303);
	assert_non_null(strstr(got,
	    "Set-Cookie: opc_dash_token=" TOKEN
	    "; Path=/; HttpOnly; SameSite=Strict"));
	/* the style is public (the login form uses it) */
	assert_status(get(w, "/app.css"), 200);
}

static void
test_events(void **state)
{
	struct world *w   = *state;
	int           fd  = tb_dial(w->port);
	const char   *req = "GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n";
	const char   *got;
	int64_t       end;

	assert_int_equal(write(fd, req, strlen(req)), (ssize_t) strlen(req));
	got = tb_await(w->loop, fd, "bus tail");
	assert_non_null(strstr(got, "Content-Type: text/event-stream"));
	assert_int_equal(dash_web_streams(w->web), 1);
	dash_web_event(w->web, "{\"topic\":\"task.created\"}");
	got = tb_await(w->loop, fd, "task.created");
	assert_non_null(strstr(got, "data: {\"topic\":\"task.created\"}\n\n"));
	close(fd);
	end = mono_ms() + 5000;
	while (dash_web_streams(w->web) > 0 && mono_ms() < end) {
		(void) loop_run_once(w->loop, 20);
		dash_web_event(
		    w->web, "{}"); /* a write notices the peer left */
	}
	assert_int_equal(dash_web_streams(w->web), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_page_and_assets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_evidence, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_evidence_path, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_token, setup_token, teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
