/*
 * test_webhook_threads.c - the webhook's threads under load, for
 * ThreadSanitizer (scripts/tsan.sh) as much as for its assertions: the
 * real descriptor runs on its loop thread with its metrics thread
 * gathering every 10 ms, while NCLIENTS threads of this test send
 * NREQ requests each over loopback (signed check_runs that are
 * journaled, pings, GET /metrics, GET /healthz) and log a line per
 * answer, so the logger is called from every thread at once.  Every
 * answer is what it should be, every delivery is journaled once, and
 * every line of the log file is whole JSON and counted by log_count.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hmac.h"
#include "opc/log.h"
#include "testbed.h"
#include "webhook.h"

#define NCLIENTS 8
#define NREQ 200
#define GH_SECRET "gh-s3cret-for-threads"
#define CHECK_RUN                                                        \
	"{\"action\":\"completed\",\"repository\":{\"full_name\":"       \
	"\"acme/demo\"},\"check_run\":{\"name\":\"ci\",\"status\":"      \
	"\"completed\",\"conclusion\":\"success\",\"head_sha\":\"abc\"," \
	"\"pull_requests\":[]}}"
#define PING "{\"zen\":\"hi\"}"

struct client {
	pthread_t th;
	int       port;
	int       id;
	int       bad; /* answers that were not what they should be */
	char      why[128];
};

/* ask sends req on a new connection and returns the answer's status
 * (-1: none); the body is copied into text[256]. */
static int
ask(int port, const char *req, char *text)
{
	struct sockaddr_in sa;
	struct timeval     tv = { 10, 0 };
	char               in[8192], *b;
	size_t             got = 0;
	ssize_t            n;
	int                fd, status = -1;

	text[0] = '\0';
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return (-1);
	(void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family      = AF_INET;
	sa.sin_port        = htons((uint16_t) port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0 ||
	    send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t) strlen(req))
		goto out;
	while (got + 1 < sizeof(in) &&
	    (n = recv(fd, in + got, sizeof(in) - 1 - got, 0)) > 0)
		got += (size_t) n;
	in[got] = '\0';
	if (sscanf(in, "HTTP/1.1 %d", &status) != 1)
		status = -1;
	if ((b = strstr(in, "\r\n\r\n")) != NULL)
		snprintf(text, 256, "%s", b + 4);
	text[strcspn(text, "\r\n")] = '\0';
out:
	close(fd);
	return (status);
}

/* github builds a signed delivery of event with body (caller frees). */
static char *
github(const char *event, const char *id, const char *body)
{
	char hex[HMAC_SHA256_HEX];

	if (hmac_sha256_hex(hex, GH_SECRET, body, strlen(body)) != 0)
		return (NULL);
	return (xasprintf("POST /github HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                  "Content-Type: application/json\r\n"
	                  "Content-Length: %zu\r\nConnection: close\r\n"
	                  "X-GitHub-Event: %s\r\nX-GitHub-Delivery: %s\r\n"
	                  "X-Hub-Signature-256: sha256=%s\r\n\r\n%s",
	    strlen(body), event, id, hex, body));
}

/* client runs NREQ requests in turn: check_run (200 OK), ping (200
 * pong), /metrics (200, or 503 before the first gathering), /healthz
 * (200).  Never asserts (cmocka's asserts belong to the main thread). */
static void *
client(void *arg)
{
	struct client *c = arg;
	char           id[64], text[256], *req;
	int            i, st, ok;

	for (i = 0; i < NREQ; i++) {
		snprintf(id, sizeof(id), "c%d-%d", c->id, i);
		switch (i % 4) {
		case 0:
			req = github("check_run", id, CHECK_RUN);
			break;
		case 1:
			req = github("ping", id, PING);
			break;
		case 2:
			req = xstrdup("GET /metrics HTTP/1.1\r\nHost: x\r\n"
			              "Connection: close\r\n\r\n");
			break;
		default:
			req = xstrdup("GET /healthz HTTP/1.1\r\nHost: x\r\n"
			              "Connection: close\r\n\r\n");
			break;
		}
		st = req != NULL ? ask(c->port, req, text) : -1;
		free(req);
		switch (i % 4) {
		case 0:
			ok = st == 200 && strcmp(text, "OK") == 0;
			break;
		case 1:
			ok = st == 200 && strcmp(text, "pong") == 0;
			break;
		case 2:
			ok = st == 200 || st == 503;
			break;
		default:
			ok = st == 200;
			break;
		}
		log_info(
		    "test.client", "client %d request %d: %d", c->id, i, st);
		if (!ok && c->bad++ == 0)
			snprintf(c->why, sizeof(c->why),
			    "request %d: status %d '%.64s'", i, st, text);
	}
	return (NULL);
}

/* check_log reads path: every line must be JSON with an event; returns
 * the lines at level info and counts the events named ev in *nev. */
static int64_t
check_log(const char *path, const char *ev, int64_t *nev)
{
	FILE       *fp   = fopen(path, "r");
	char       *line = NULL;
	size_t      cap  = 0;
	int64_t     info = 0;
	json_t     *j;
	const char *e, *lv;

	assert_non_null(fp);
	*nev = 0;
	while (getline(&line, &cap, fp) > 0) {
		j = json_loads(line, 0, NULL);
		if (j == NULL)
			fail_msg("not a JSON line: %s", line);
		e  = json_string_value(json_object_get(j, "event"));
		lv = json_string_value(json_object_get(j, "level"));
		assert_non_null(e);
		assert_non_null(lv);
		if (strcmp(e, ev) == 0)
			(*nev)++;
		if (strcmp(lv, "info") == 0)
			info++;
		json_decref(j);
	}
	free(line);
	fclose(fp);
	return (info);
}

static void
test_concurrent_requests(void **state)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	struct client   cl[NCLIENTS];
	struct topo    *topo;
	struct tb_svc  *wh;
	int64_t         deadline, info0, nev;
	json_t         *s;
	const char     *url;
	char           *dir, *yaml, *logpath;
	int             i, port = 0;

	UNUSED(state);
	setenv("TEST_WHT_GH", GH_SECRET, 1);
	dir     = tb_dir();
	logpath = xasprintf("%s/webhook.log", dir);
	assert_int_equal(
	    log_init("test_webhook_threads", logpath, LOG_INFO), 0);
	log_set_stderr(0);
	info0 = log_count(LOG_INFO);
	yaml  = xasprintf("opcenter:\n"
	                   "  state_dir: %s/state\n"
	                   "  heartbeat_ms: 50\n"
	                   "instances:\n"
	                   "  webhook:\n"
	                   "    pub: inproc://wht.pub\n"
	                   "    ctl: inproc://wht.ctl\n"
	                   "    listen: http://127.0.0.1:0\n"
	                   "    github_secret_env: TEST_WHT_GH\n"
	                   "    metrics_interval: 10ms\n",
	     dir);
	topo  = tb_topo(dir, yaml);
	free(yaml);
	wh = tb_start(&webhook_def, topo, "webhook");
	for (deadline = mono_ms() + TB_WAIT_MS; port == 0;) {
		s = tb_status(topo, "webhook");
		if ((url = tb_str(s, "listen_url")) != NULL)
			port = atoi(strrchr(url, ':') + 1);
		json_decref(s);
		if (port == 0 && mono_ms() > deadline)
			fail_msg("the webhook never listened");
		if (port == 0)
			nanosleep(&ts, NULL);
	}

	memset(cl, 0, sizeof(cl));
	for (i = 0; i < NCLIENTS; i++) {
		cl[i].port = port;
		cl[i].id   = i;
		assert_int_equal(
		    pthread_create(&cl[i].th, NULL, client, &cl[i]), 0);
	}
	for (i = 0; i < NCLIENTS; i++) {
		pthread_join(cl[i].th, NULL);
		if (cl[i].bad != 0)
			fail_msg("client %d: %d bad answers, first %s", i,
			    cl[i].bad, cl[i].why);
	}
	/* every check_run journaled once, every ping answered */
	assert_int_equal(tb_status_int(topo, "webhook", "counters.accepted"),
	    NCLIENTS * NREQ / 4);
	assert_int_equal(tb_status_int(topo, "webhook", "counters.pings"),
	    NCLIENTS * NREQ / 4);
	assert_int_equal(tb_status_int(topo, "webhook", "journal_seq"),
	    NCLIENTS * NREQ / 4);
	tb_stop(&wh);
	topo_close(&topo);

	/* every line whole, none lost, each one counted */
	assert_int_equal(check_log(logpath, "test.client", &nev),
	    log_count(LOG_INFO) - info0);
	assert_int_equal(nev, NCLIENTS * NREQ);
	assert_int_equal(check_log(logpath, "webhook.accepted", &nev),
	    log_count(LOG_INFO) - info0);
	assert_int_equal(nev, NCLIENTS * NREQ / 4);
	log_fini();
	tb_rmrf(dir);
	free(dir);
	free(logpath);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_requests),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
