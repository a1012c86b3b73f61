/*
 * test_webhook.c - the webhook through its real descriptor in-process:
 * deliveries POSTed over loopback TCP (listen port 0, read from status)
 * with plain blocking sockets, signed with the secrets its environment
 * names; what it accepts is read back from its journal over ctl.replay.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hmac.h"
#include "opc/http.h"
#include "opc/log.h"
#include "tb_http.h"
#include "testbed.h"
#include "webhook.h"

#define WAIT TB_WAIT_MS
#define GH_SECRET "gh-s3cret-for-tests"
#define PLANE_SECRET "plane-s3cret-for-tests"
#define INGEST_SECRET "ingest-s3cret-for-tests"

extern const struct svc_def board_def;

struct fx {
	char          *dir;
	struct topo   *topo;
	struct tb_svc *wh;
	struct tb_svc *bs; /* board-sync, for the ingest case */
	int            port;
};

/* fx_listen waits for the webhook's server and reads its port. */
static void
fx_listen(struct fx *f)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int64_t         deadline;
	json_t         *s;
	const char     *url;

	f->port = 0;
	for (deadline = mono_ms() + WAIT; f->port == 0;) {
		s = tb_status(f->topo, "webhook");
		if ((url = tb_str(s, "listen_url")) != NULL)
			f->port = atoi(strrchr(url, ':') + 1);
		json_decref(s);
		if (f->port == 0 && mono_ms() > deadline)
			fail_msg("the webhook never listened");
		if (f->port == 0)
			nanosleep(&ts, NULL);
	}
}

/* fx_start runs the webhook; with_plane: a Plane secret is set too. */
static void
fx_start(struct fx *f, const char *tag, bool with_plane)
{
	char *yaml;

	memset(f, 0, sizeof(*f));
	setenv("TEST_WH_GH", GH_SECRET, 1);
	if (with_plane)
		setenv("TEST_WH_PLANE", PLANE_SECRET, 1);
	else
		unsetenv("TEST_WH_PLANE");
	f->dir  = tb_dir();
	yaml    = xasprintf("opcenter:\n"
	                       "  state_dir: %s/state\n"
	                       "  heartbeat_ms: 50\n"
	                       "instances:\n"
	                       "  webhook:\n"
	                       "    pub: inproc://%s-wh.pub\n"
	                       "    ctl: inproc://%s-wh.ctl\n"
	                       "    listen: http://127.0.0.1:0\n"
	                       "    github_secret_env: TEST_WH_GH\n"
	                       "    plane_secret_env: TEST_WH_PLANE\n"
	                       "    max_body: 4096\n"
	                       "    metrics_interval: 1h\n",
	       f->dir, tag, tag);
	f->topo = tb_topo(f->dir, yaml);
	free(yaml);
	f->wh = tb_start(&webhook_def, f->topo, "webhook");
	fx_listen(f); /* the server opens once the loop runs */
}

static void
fx_stop(struct fx *f)
{
	tb_stop(&f->bs);
	tb_stop(&f->wh);
	topo_close(&f->topo);
	tb_rmrf(f->dir);
	free(f->dir);
}

/* post sends one request and returns the status of the answer; its body
 * is copied into text (may be NULL).  extra is more header lines. */
static int
post(struct fx *f, const char *path, const char *ctype, const char *extra,
    const char *body, char *text, size_t textlen)
{
	struct sockaddr_in sa;
	struct timeval     tv = { 10, 0 };
	char              *req, in[8192], *b;
	size_t             got = 0;
	ssize_t            n;
	int                fd = socket(AF_INET, SOCK_STREAM, 0), status = 0;

	assert_true(fd >= 0);
	(void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family      = AF_INET;
	sa.sin_port        = htons((uint16_t) f->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	req = xasprintf("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                "Content-Type: %s\r\nContent-Length: %zu\r\n"
	                "Connection: close\r\n%s\r\n%s",
	    path, ctype, strlen(body), extra, body);
	assert_int_equal(
	    send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t) strlen(req));
	free(req);
	while (got + 1 < sizeof(in) &&
	    (n = recv(fd, in + got, sizeof(in) - 1 - got, 0)) > 0)
		got += (size_t) n;
	in[got] = '\0';
	close(fd);
	if (sscanf(in, "HTTP/1.1 %d", &status) != 1)
		fail_msg("no answer: '%s'", in);
	if (text != NULL) {
		snprintf(text, textlen, "%s",
		    (b = strstr(in, "\r\n\r\n")) != NULL ? b + 4 : "");
		text[strcspn(text, "\r\n")] = '\0';
	}
	return (status);
}

/* github POSTs a GitHub delivery of event, signed with secret (NULL: no
 * signature header). */
static int
github(struct fx *f, const char *event, const char *id, const char *body,
    const char *secret, char *text, size_t textlen)
{
	char hex[HMAC_SHA256_HEX], *extra;
	int  st;

	assert_int_equal(
	    hmac_sha256_hex(hex, secret ? secret : "", body, strlen(body)), 0);
	extra = xasprintf("X-GitHub-Event: %s\r\nX-GitHub-Delivery: %s\r\n"
	                  "%s%s%s",
	    event, id, secret ? "X-Hub-Signature-256: sha256=" : "",
	    secret ? hex : "", secret ? "\r\n" : "");
	st =
	    post(f, "/github", "application/json", extra, body, text, textlen);
	free(extra);
	return (st);
}

static int
plane(struct fx *f, const char *id, const char *body, const char *secret)
{
	char hex[HMAC_SHA256_HEX], *extra;
	int  st;

	assert_int_equal(hmac_sha256_hex(hex, secret, body, strlen(body)), 0);
	extra = xasprintf("X-Plane-Event: issue\r\nX-Plane-Delivery: %s\r\n"
	                  "X-Plane-Signature: %s\r\n",
	    id, hex);
	st    = post(f, "/plane", "application/json", extra, body, NULL, 0);
	free(extra);
	return (st);
}

static int64_t
counter(struct fx *f, const char *name)
{
	char path[64];

	snprintf(path, sizeof(path), "counters.%s", name);
	return (tb_status_int(f->topo, "webhook", path));
}

#define CHECK_RUN                                                           \
	"{\"action\":\"completed\",\"repository\":{\"full_name\":"          \
	"\"acme/demo\"},\"check_run\":{\"name\":\"ci\",\"status\":"         \
	"\"completed\",\"conclusion\":\"failure\",\"head_sha\":\"abc123\"," \
	"\"pull_requests\":[{\"number\":7}]}}"
#define PR_CLOSED                                                             \
	"{\"action\":\"closed\",\"number\":7,\"repository\":{\"full_name\":"  \
	"\"acme/demo\"},\"pull_request\":{\"merged\":true,\"head\":{\"ref\":" \
	"\"goal/T-1-x\"}}}"

/* octokit/webhooks payload-examples: pull_request_review submitted,
 * pull_request_review_comment created (trimmed) */
#define PR_REVIEW                                                             \
	"{\"action\":\"submitted\",\"review\":{\"id\":1,\"state\":"           \
	"\"changes_requested\",\"body\":\"needs tests\",\"user\":{\"login\":" \
	"\"alice\",\"type\":\"User\"}},\"pull_request\":{\"number\":7,"       \
	"\"head\":{\"ref\":\"goal/T-1-x\"}},\"repository\":{\"full_name\":"   \
	"\"acme/demo\"},\"sender\":{\"login\":\"alice\",\"type\":\"User\"}}"
#define PR_REVIEW_COMMENT                                                     \
	"{\"action\":\"created\",\"comment\":{\"id\":2,\"body\":\"nit\"},"    \
	"\"pull_request\":{\"number\":7,\"head\":{\"ref\":\"goal/T-1-x\"}},"  \
	"\"repository\":{\"full_name\":\"acme/demo\"},\"sender\":{\"login\":" \
	"\"alice\",\"type\":\"User\"}}"

/* ------------------------------------------------------------------ cases */

/* Signed GitHub deliveries become ci.check_run and ci.pr_event; a
 * redelivery is answered but journaled once; a ping is answered. */
static void
test_github(void **state)
{
	struct fx f;
	json_t   *ev;
	char      text[256];

	UNUSED(state);
	fx_start(&f, "gh", true);
	assert_int_equal(github(&f, "check_run", "d-1", CHECK_RUN, GH_SECRET,
	                     text, sizeof(text)),
	    200);
	assert_string_equal(text, "OK");
	assert_int_equal(github(&f, "check_run", "d-1", CHECK_RUN, GH_SECRET,
	                     text, sizeof(text)),
	    200);
	assert_string_equal(text, "duplicate");
	assert_int_equal(
	    github(&f, "pull_request", "d-2", PR_CLOSED, GH_SECRET, NULL, 0),
	    200);
	assert_int_equal(github(&f, "ping", "d-3", "{\"zen\":\"hi\"}",
	                     GH_SECRET, text, sizeof(text)),
	    200);
	assert_string_equal(text, "pong");
	assert_int_equal(github(&f, "issues", "d-4", "{\"action\":\"opened\"}",
	                     GH_SECRET, NULL, 0),
	    202);
	assert_int_equal(github(&f, "pull_request_review", "d-5", PR_REVIEW,
	                     GH_SECRET, NULL, 0),
	    200);
	assert_int_equal(github(&f, "pull_request_review_comment", "d-6",
	                     PR_REVIEW_COMMENT, GH_SECRET, NULL, 0),
	    200);
	ev = tb_events(f.topo, "webhook", "ci.pr_review");
	assert_int_equal(json_array_size(ev), 2);
	assert_string_equal(tb_str(ev, "0.body.kind"), "review");
	assert_string_equal(tb_str(ev, "0.body.state"), "changes_requested");
	assert_string_equal(tb_str(ev, "0.body.sender"), "alice");
	assert_string_equal(tb_str(ev, "0.body.sender_type"), "User");
	assert_int_equal(tb_int(ev, "0.body.pr_number"), 7);
	assert_string_equal(tb_str(ev, "1.body.kind"), "review_comment");
	assert_string_equal(tb_str(ev, "1.body.action"), "created");
	assert_string_equal(tb_str(ev, "1.body.head_ref"), "goal/T-1-x");
	json_decref(ev);
	ev = tb_events(f.topo, "webhook", NULL);
	assert_int_equal(json_array_size(ev), 4);
	assert_string_equal(tb_str(ev, "0.topic"), "ci.check_run");
	assert_string_equal(tb_str(ev, "0.body.repo"), "acme/demo");
	assert_string_equal(tb_str(ev, "0.body.name"), "ci");
	assert_string_equal(tb_str(ev, "0.body.conclusion"), "failure");
	assert_string_equal(tb_str(ev, "0.body.head_sha"), "abc123");
	assert_int_equal(tb_int(ev, "0.body.pr_number"), 7);
	assert_string_equal(tb_str(ev, "0.body.delivery_id"), "d-1");
	assert_string_equal(tb_str(ev, "1.topic"), "ci.pr_event");
	assert_string_equal(tb_str(ev, "1.body.action"), "closed");
	assert_true(json_is_true(tb_get(ev, "1.body.merged")));
	assert_string_equal(tb_str(ev, "1.body.head_ref"), "goal/T-1-x");
	json_decref(ev);
	assert_int_equal(counter(&f, "accepted"), 4);
	assert_int_equal(counter(&f, "duplicates"), 1);
	assert_int_equal(counter(&f, "pings"), 1);
	assert_int_equal(counter(&f, "ignored_events"), 1);
	fx_stop(&f);
}

/* A bad or missing signature is 401 and counted; a body over max_body is
 * 413, an unknown media type 415, broken JSON 400: nothing journaled. */
static void
test_refused(void **state)
{
	struct fx f;
	char     *big;

	UNUSED(state);
	fx_start(&f, "ghbad", true);
	assert_int_equal(github(&f, "check_run", "d-1", CHECK_RUN,
	                     "not-the-secret", NULL, 0),
	    401);
	assert_int_equal(
	    github(&f, "check_run", "d-2", CHECK_RUN, NULL, NULL, 0), 401);
	assert_int_equal(counter(&f, "rejected_signature"), 2);
	assert_int_equal(
	    plane(&f, "p-1", "{\"event\":\"issue\"}", GH_SECRET), 401);
	assert_int_equal(counter(&f, "rejected_signature"), 3);
	big = xmalloc(5000);
	memset(big, ' ', 4999);
	big[4999] = '\0';
	big[0]    = '{';
	big[4998] = '}';
	assert_int_equal(
	    github(&f, "check_run", "d-3", big, GH_SECRET, NULL, 0), 413);
	free(big);
	assert_int_equal(counter(&f, "oversized"), 1);
	assert_int_equal(post(&f, "/github", "text/plain",
	                     "X-GitHub-Event: ping\r\n", "hi", NULL, 0),
	    415);
	assert_int_equal(counter(&f, "unsupported_media"), 1);
	assert_int_equal(github(&f, "check_run", "d-4",
	                     "{\"repository\":", GH_SECRET, NULL, 0),
	    400);
	assert_int_equal(counter(&f, "malformed"), 1);
	assert_int_equal(counter(&f, "accepted"), 0);
	assert_int_equal(tb_status_int(f.topo, "webhook", "journal_seq"), 0);
	fx_stop(&f);
}

/* A signed Plane delivery becomes board.webhook; without a Plane secret
 * configured, Plane deliveries are refused (503). */
static void
test_plane(void **state)
{
	struct fx   f;
	json_t     *ev;
	const char *body = "{\"event\":\"issue\",\"action\":\"updated\","
	                   "\"data\":{\"id\":\"wi-1\"}}";

	UNUSED(state);
	fx_start(&f, "plane", true);
	assert_int_equal(plane(&f, "p-1", body, PLANE_SECRET), 200);
	ev = tb_events(f.topo, "webhook", "board.webhook");
	assert_int_equal(json_array_size(ev), 1);
	assert_string_equal(tb_str(ev, "0.body.event"), "issue");
	assert_string_equal(tb_str(ev, "0.body.delivery_id"), "p-1");
	assert_string_equal(tb_str(ev, "0.body.payload.data.id"), "wi-1");
	json_decref(ev);
	fx_stop(&f);

	fx_start(&f, "noplane", false);
	assert_int_equal(plane(&f, "p-1", body, PLANE_SECRET), 503);
	assert_int_equal(counter(&f, "refused_no_secret"), 1);
	assert_int_equal(tb_status_int(f.topo, "webhook", "journal_seq"), 0);
	assert_int_equal(tb_status_int(f.topo, "webhook", "plane_secret"), 0);
	fx_stop(&f);
}

/* ------------------------------------------------------------ ingest */

static int
ingest(struct fx *f, const char *body, const char *secret, char *text,
    size_t textlen)
{
	char hex[HMAC_SHA256_HEX], *extra;
	int  st;

	assert_int_equal(
	    hmac_sha256_hex(hex, secret ? secret : "", body, strlen(body)), 0);
	extra = secret ? xasprintf("X-Hub-Signature-256: sha256=%s\r\n", hex)
	               : xstrdup("");
	st =
	    post(f, "/ingest", "application/json", extra, body, text, textlen);
	free(extra);
	return (st);
}

static char *
report(const char *fp, int n)
{
	return (xasprintf("{\"service\":\"api\",\"message\":\"KeyError: "
	                  "'user' (#%d)\\nmore\",\"stack\":\"Traceback:\\n"
	                  "  File app.py, line %d\",\"fingerprint\":\"%s\","
	                  "\"repo\":\"demo\"}",
	    n, n, fp));
}

/* restart_resend restarts the webhook and sends one more report of each
 * of the n fingerprints: every one must still be a duplicate. */
static void
restart_resend(struct fx *f, const char *const *fps, int n)
{
	char text[256], *body;
	int  i;

	tb_stop(&f->wh);
	f->wh = tb_start(&webhook_def, f->topo, "webhook");
	fx_listen(f);
	for (i = 0; i < n; i++) {
		body = report(fps[i], 100 + i);
		assert_int_equal(
		    ingest(f, body, INGEST_SECRET, text, sizeof(text)), 200);
		assert_string_equal(text, "duplicate");
		free(body);
	}
}

/* fx_ingest runs the webhook with board-sync consuming it. */
static void
fx_ingest(struct fx *f, const char *tag)
{
	char *yaml;

	memset(f, 0, sizeof(*f));
	setenv("TEST_WH_GH", GH_SECRET, 1);
	setenv("TEST_WH_INGEST", INGEST_SECRET, 1);
	f->dir  = tb_dir();
	yaml    = xasprintf("opcenter:\n"
	                       "  state_dir: %s/state\n"
	                       "  heartbeat_ms: 50\n"
	                       "instances:\n"
	                       "  webhook:\n"
	                       "    pub: inproc://%s-wh.pub\n"
	                       "    ctl: inproc://%s-wh.ctl\n"
	                       "    listen: http://127.0.0.1:0\n"
	                       "    github_secret_env: TEST_WH_GH\n"
	                       "    ingest_secret_env: TEST_WH_INGEST\n"
	                       "    ingest_max_body: 2048\n"
	                       "    ingest_dedup_window: 1h\n"
	                       "    metrics_interval: 1h\n"
	                       "  board-sync:\n"
	                       "    upstreams: [webhook]\n"
	                       "    pub: inproc://%s-bs.pub\n"
	                       "    ctl: inproc://%s-bs.ctl\n"
	                       "    board: local\n"
	                       "    idle_ms: 20\n"
	                       "    catchup_grace_ms: 50\n",
	       f->dir, tag, tag, tag, tag);
	f->topo = tb_topo(f->dir, yaml);
	free(yaml);
	f->wh = tb_start(&webhook_def, f->topo, "webhook");
	fx_listen(f);
	f->bs = tb_start(&board_def, f->topo, "board-sync");
}

static json_t *
tasks(struct fx *f)
{
	struct msg_board_task_list q = { 0 };
	json_t                    *d = NULL;
	char                       err[256];

	assert_int_equal(tb_call(f->topo, "board-sync", MSG_BOARD_TASK_LIST,
	                     &q, &d, err, sizeof(err)),
	    0);
	return (d);
}

/* A storm of 30 signed reports of 3 fingerprints asks for 3 tasks
 * (ingest.error), and board-sync makes 3 improve tasks of them
 * (error_ingest.task_created); after a restart of the webhook the same
 * fingerprints are still duplicates.  A bad signature is 401, a report
 * without a field or with a bad fingerprint 400, an oversized one 413:
 * all counted, nothing journaled. */
static void
test_ingest(void **state)
{
	static const char *fps[] = { "fp-a1", "fp-b2", "fp-c3" };
	struct fx          f;
	json_t            *ev, *d, *t, *l;
	char               text[256], *body, *big;
	int                i, ok = 0, dup = 0;
	size_t             j, k;
	int64_t            t0 = mono_ms();

	UNUSED(state);
	fx_ingest(&f, "ingest");
	for (i = 0; i < 30; i++) {
		body = report(fps[i % 3], i);
		assert_int_equal(
		    ingest(&f, body, INGEST_SECRET, text, sizeof(text)), 200);
		ok += strcmp(text, "ok") == 0;
		dup += strcmp(text, "duplicate") == 0;
		free(body);
	}
	assert_int_equal(ok, 3);
	assert_int_equal(dup, 27);
	assert_int_equal(counter(&f, "ingest_accepted"), 3);
	assert_int_equal(counter(&f, "ingest_duplicates"), 27);
	ev = tb_events(f.topo, "webhook", "ingest.error");
	assert_int_equal(json_array_size(ev), 3);
	assert_string_equal(tb_str(ev, "0.body.dedup_key"), "demo:fp-a1");
	assert_string_equal(tb_str(ev, "0.body.service"), "api");
	json_decref(ev);
	ev = tb_wait_events(
	    f.topo, "board-sync", "error_ingest.task_created", 3, WAIT);
	assert_int_equal(json_array_size(ev), 3);
	assert_string_equal(tb_str(ev, "1.body.dedup_key"), "demo:fp-b2");
	assert_non_null(tb_str(ev, "1.body.task_id"));
	json_decref(ev);
	d = tasks(&f);
	assert_int_equal(json_array_size(json_object_get(d, "tasks")), 3);
	json_array_foreach (json_object_get(d, "tasks"), j, t) {
		int kind = 0, src = 0;

		assert_string_equal(tb_str(t, "kind"), "improve");
		assert_string_equal(tb_str(t, "state"), "Backlog");
		assert_string_equal(tb_str(t, "repo_key"), "demo");
		assert_true(strncmp(tb_str(t, "title"), "[Runtime] KeyError",
		                18) == 0);
		assert_non_null(strstr(tb_str(t, "goal"), "Traceback:"));
		json_array_foreach (json_object_get(t, "labels"), k, l) {
			kind += strcmp(json_string_value(l),
			            "task-kind: improve") == 0;
			src += strcmp(json_string_value(l),
			           "source: error-ingest") == 0;
		}
		assert_int_equal(kind, 1);
		assert_int_equal(src, 1);
	}
	json_decref(d);

	/* the dedup state survives a restart */
	restart_resend(&f, fps, 3);
	assert_int_equal(
	    tb_status_int(f.topo, "webhook", "ingest_fingerprints.demo"), 3);

	/* refused: signature, fields, size */
	body = report("fp-new", 1);
	assert_int_equal(ingest(&f, body, "not-the-secret", NULL, 0), 401);
	assert_int_equal(ingest(&f, body, NULL, NULL, 0), 401);
	free(body);
	assert_int_equal(counter(&f, "rejected_signature"), 2);
	assert_int_equal(ingest(&f,
	                     "{\"service\":\"api\",\"message\":\"x\","
	                     "\"repo\":\"demo\"}",
	                     INGEST_SECRET, text, sizeof(text)),
	    400);
	assert_string_equal(text, "missing field");
	assert_int_equal(ingest(&f,
	                     "{\"service\":\"api\",\"message\":\"x\","
	                     "\"fingerprint\":\"a b\",\"repo\":\"demo\"}",
	                     INGEST_SECRET, NULL, 0),
	    400);
	assert_int_equal(ingest(&f,
	                     "{\"service\":\"api\",\"message\":\"x\","
	                     "\"fingerprint\":\"f\",\"repo\":\"../x\"}",
	                     INGEST_SECRET, NULL, 0),
	    400);
	assert_int_equal(ingest(&f, "[1]", INGEST_SECRET, NULL, 0), 400);
	assert_int_equal(counter(&f, "ingest_invalid"), 3);
	big = xmalloc(3000);
	memset(big, ' ', 2999);
	big[2999] = '\0';
	big[0]    = '{';
	big[2998] = '}';
	assert_int_equal(ingest(&f, big, INGEST_SECRET, NULL, 0), 413);
	free(big);
	ev = tb_events(f.topo, "webhook", "ingest.error");
	assert_int_equal(json_array_size(ev), 3);
	json_decref(ev);
	d = tasks(&f);
	assert_int_equal(json_array_size(json_object_get(d, "tasks")), 3);
	json_decref(d);
	print_message("ingest: 36 reports, 3 tasks, in %lld ms\n",
	    (long long) (mono_ms() - t0));
	fx_stop(&f);
}

/* ------------------------------------------------------ ingest, Plane */

#define PLANE_KEY "plane-ingest-key"
#define PLANE_PROJ "11111111-1111-1111-1111-111111111111"

/* plane_spawn starts opc-fixture-plane with opcenter's states and
 * returns its port; *pid is the child. */
static int
plane_spawn(struct fx *f, pid_t *pid)
{
	char        bin[512], portfile[512], log[512], seed[512], buf[32];
	const char *argv[]   = { bin, "--port-file", portfile, "--api-key",
		  PLANE_KEY, "--workspace", "ws", "--project", PLANE_PROJ,
		  "--seed", seed, "--rate-limit", "100/second", NULL };
	int64_t     deadline = mono_ms() + WAIT;
	FILE       *fp;
	int         port = 0;

	snprintf(bin, sizeof(bin), "%s/opc-fixture-plane", OPC_BIN_DIR);
	snprintf(portfile, sizeof(portfile), "%s/plane.port", f->dir);
	snprintf(log, sizeof(log), "%s/plane.log", f->dir);
	snprintf(seed, sizeof(seed), "%s/seed.json", f->dir);
	assert_non_null(fp = fopen(seed, "w"));
	fputs(
	    "{\"states\": [{\"name\": \"Backlog\", \"group\": \"backlog\","
	    " \"default\": true}, {\"name\": \"Ready for AI\", \"group\":"
	    " \"unstarted\"}, {\"name\": \"Running\", \"group\": "
	    "\"started\"}, {\"name\": \"In Review\", \"group\": "
	    "\"started\"}, {\"name\": \"Blocked\", \"group\": \"started\"},"
	    " {\"name\": \"Done\", \"group\": \"completed\"}, {\"name\": "
	    "\"Cancelled\", \"group\": \"cancelled\"}], \"work_items\": []}\n",
	    fp);
	fclose(fp);
	*pid = child_spawn(log, (char *const *) argv, NULL);
	assert_true(*pid > 0);
	while (port == 0 && mono_ms() < deadline) {
		if ((fp = fopen(portfile, "r")) != NULL) {
			if (fgets(buf, sizeof(buf), fp) != NULL)
				port = atoi(buf);
			fclose(fp);
		}
		if (port == 0)
			sleep_ms(10);
	}
	assert_true(port > 0);
	return (port);
}

/* runtime_items: how many work items in Plane are "[Runtime] ..." ones
 * labelled source: error-ingest (the fixture's own view). */
static int
runtime_items(int port)
{
	json_t *j = tb_http(port, "GET", "/_fixture/state", NULL, NULL, 200);
	json_t *it, *l;
	size_t  i, k;
	int     n = 0, src;

	assert_non_null(j);
	json_array_foreach (json_object_get(j, "work_items"), i, it) {
		const char *name =
		    json_string_value(json_object_get(it, "name"));

		src = 0;
		json_array_foreach (json_object_get(it, "labels"), k, l)
			src += json_is_string(l) &&
			    strcmp(json_string_value(l),
			        "source: error-ingest") == 0;
		if (name != NULL &&
		    strncmp(name, "[Runtime] KeyError", 18) == 0) {
			assert_int_equal(src, 1);
			n++;
		}
	}
	json_decref(j);
	return (n);
}

/* Plane mode: the same storm of 30 reports of 3 fingerprints makes 3
 * work items in Plane (labelled source: error-ingest), and neither a
 * restart of board-sync (it replays the webhook's journal) nor one of the
 * webhook (the same reports again) makes a fourth. */
static void
test_ingest_plane(void **state)
{
	static const char *fps[] = { "fp-a1", "fp-b2", "fp-c3" };
	struct fx          f;
	json_t            *ev;
	char               text[256], *body, *yaml;
	int                i, port;
	pid_t              pl;
	int64_t            t0 = mono_ms(), deadline;

	UNUSED(state);
	memset(&f, 0, sizeof(f));
	setenv("TEST_WH_GH", GH_SECRET, 1);
	setenv("TEST_WH_INGEST", INGEST_SECRET, 1);
	setenv("TEST_WH_PLANE_KEY", PLANE_KEY, 1);
	f.dir  = tb_dir();
	port   = plane_spawn(&f, &pl);
	yaml   = xasprintf("opcenter:\n"
	                     "  state_dir: %s/state\n"
	                     "  heartbeat_ms: 50\n"
	                     "plane:\n"
	                     "  base_url: http://127.0.0.1:%d\n"
	                     "  api_token_env: TEST_WH_PLANE_KEY\n"
	                     "  workspace_slug: ws\n"
	                     "  project_id: " PLANE_PROJ "\n"
	                     "  rate_limit: 100/second\n"
	                     "repos:\n"
	                     "  demo:\n"
	                     "    clone_url: %s/demo.git\n"
	                     "instances:\n"
	                     "  webhook:\n"
	                     "    pub: inproc://ingp-wh.pub\n"
	                     "    ctl: inproc://ingp-wh.ctl\n"
	                     "    listen: http://127.0.0.1:0\n"
	                     "    github_secret_env: TEST_WH_GH\n"
	                     "    ingest_secret_env: TEST_WH_INGEST\n"
	                     "    ingest_dedup_window: 1h\n"
	                     "    metrics_interval: 1h\n"
	                     "  board-sync:\n"
	                     "    upstreams: [webhook]\n"
	                     "    pub: inproc://ingp-bs.pub\n"
	                     "    ctl: inproc://ingp-bs.ctl\n"
	                     "    board: plane\n"
	                     "    poll_interval: 5s\n"
	                     "    idle_ms: 20\n"
	                     "    catchup_grace_ms: 50\n",
	      f.dir, port, f.dir);
	f.topo = tb_topo(f.dir, yaml);
	free(yaml);
	f.wh = tb_start(&webhook_def, f.topo, "webhook");
	fx_listen(&f);
	f.bs = tb_start(&board_def, f.topo, "board-sync");
	for (i = 0; i < 30; i++) {
		body = report(fps[i % 3], i);
		assert_int_equal(
		    ingest(&f, body, INGEST_SECRET, text, sizeof(text)), 200);
		free(body);
	}
	ev = tb_wait_events(
	    f.topo, "board-sync", "error_ingest.task_created", 3, WAIT);
	assert_int_equal(json_array_size(ev), 3);
	json_decref(ev);
	deadline = mono_ms() + WAIT;
	while (runtime_items(port) < 3 && mono_ms() < deadline)
		sleep_ms(50);
	assert_int_equal(runtime_items(port), 3);

	/* board-sync restarts and replays: no fourth item, no new event */
	tb_stop(&f.bs);
	f.bs = tb_start(&board_def, f.topo, "board-sync");
	/* the webhook restarts: the same fingerprints are duplicates */
	restart_resend(&f, fps, 3);
	/* a new fingerprint after both restarts: exactly one more */
	body = report("fp-d4", 200);
	assert_int_equal(
	    ingest(&f, body, INGEST_SECRET, text, sizeof(text)), 200);
	assert_string_equal(text, "ok");
	free(body);
	deadline = mono_ms() + WAIT;
	while (runtime_items(port) < 4 && mono_ms() < deadline)
		sleep_ms(50);
	sleep_ms(300); /* a duplicate would show by now: several ticks */
	assert_int_equal(runtime_items(port), 4);
	ev = tb_events(f.topo, "board-sync", "error_ingest.task_created");
	assert_int_equal(json_array_size(ev), 4);
	json_decref(ev);
	print_message("ingest (Plane): 34 reports, 4 work items, in %lld ms\n",
	    (long long) (mono_ms() - t0));
	fx_stop(&f);
	tb_fixture_stop(&pl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_github),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_plane),
		cmocka_unit_test(test_ingest),
		cmocka_unit_test(test_ingest_plane),
	};

	log_init("test_webhook_svc", NULL, LOG_WARN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
