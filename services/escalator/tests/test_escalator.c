/*
 * test_escalator.c - the escalator through its real descriptor in-process,
 * POSTing to a local receiver (fixture httpd on a thread, 127.0.0.1:0)
 * that records every request and can answer 500 to the first N of a path.
 * Events are fed with ctl inject; upstreams are never started, so the
 * service is caught up once its catch-up grace has passed.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "escalator.h"
#include "httpd.h"
#include "opc/err.h"
#include "opc/log.h"
#include "testbed.h"

#define WAIT 20000 /* ms: only to avoid hanging */

/* The receiver. */
struct rx {
	struct httpd         *h;
	pthread_t             thr;
	volatile sig_atomic_t stop;
	pthread_mutex_t       mu;
	json_t               *reqs; /* [{path, idem, body}] */
	const char           *fail_path;
	int                   fail_left;
};

static int
on_post(struct httpd_req *req, struct httpd_resp *resp, void *arg)
{
	struct rx  *rx   = arg;
	const char *idem = httpd_header(req, "Idempotency-Key");
	json_t     *body = httpd_body_json(req);

	pthread_mutex_lock(&rx->mu);
	json_array_append_new(rx->reqs,
	    json_pack("{s:s, s:s?, s:o*}", "path", req->path, "idem", idem,
	        "body", body));
	if (rx->fail_left > 0 && strcmp(req->path, rx->fail_path) == 0) {
		rx->fail_left--;
		resp->status = 500;
		buf_puts(&resp->body, "try later");
	} else {
		resp->status = 200;
		buf_puts(&resp->body, "ok");
	}
	pthread_mutex_unlock(&rx->mu);
	return (0);
}

static const struct httpd_route routes[] = {
	{ "POST", "/hook", on_post },
	{ "POST", "/hook2", on_post },
	{ NULL, NULL, NULL },
};

static void *
rx_main(void *arg)
{
	struct rx *rx = arg;

	(void) httpd_run(rx->h, &rx->stop);
	return (NULL);
}

static void
rx_start(struct rx *rx)
{
	memset(rx, 0, sizeof(*rx));
	pthread_mutex_init(&rx->mu, NULL);
	rx->reqs      = json_array();
	rx->fail_path = "/hook";
	assert_int_equal(httpd_open(&rx->h, 0, routes, NULL, rx), 0);
	assert_int_equal(pthread_create(&rx->thr, NULL, rx_main, rx), 0);
}

static void
rx_stop(struct rx *rx)
{
	rx->stop = 1;
	pthread_join(rx->thr, NULL);
	httpd_close(&rx->h);
	json_decref(rx->reqs);
	pthread_mutex_destroy(&rx->mu);
}

static void
rx_fail(struct rx *rx, const char *path, int n)
{
	pthread_mutex_lock(&rx->mu);
	rx->fail_path = path;
	rx->fail_left = n;
	pthread_mutex_unlock(&rx->mu);
}

/* rx_count returns the requests received on path (NULL: all). */
static size_t
rx_count(struct rx *rx, const char *path)
{
	size_t  i, n = 0;
	json_t *r;

	pthread_mutex_lock(&rx->mu);
	json_array_foreach (rx->reqs, i, r)
		n += path == NULL ||
		    strcmp(json_string_value(json_object_get(r, "path")),
		        path) == 0;
	pthread_mutex_unlock(&rx->mu);
	return (n);
}

/* rx_get returns a new reference to request i. */
static json_t *
rx_get(struct rx *rx, size_t i)
{
	json_t *r;

	pthread_mutex_lock(&rx->mu);
	r = json_deep_copy(json_array_get(rx->reqs, i));
	pthread_mutex_unlock(&rx->mu);
	assert_non_null(r);
	return (r);
}

struct fx {
	char          *dir;
	char          *yaml;
	struct topo   *topo;
	struct tb_svc *esc;
	const char    *url;
	struct rx      rx;
};

static void
pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* fx_start runs the escalator; extra is appended to its section. */
static void
fx_start(
    struct fx *f, const char *tag, int grace_ms, const char *extra, bool wait)
{
	int port;

	rx_start(&f->rx);
	port    = httpd_port(f->rx.h);
	f->dir  = tb_dir();
	f->yaml = xasprintf("opcenter:\n"
	                    "  state_dir: %s/state\n"
	                    "  heartbeat_ms: 50\n"
	                    "instances:\n"
	                    "  router:\n"
	                    "    pub: inproc://%s-router.pub\n"
	                    "    ctl: inproc://%s-router.ctl\n"
	                    "  executor:\n"
	                    "    pub: inproc://%s-exec.pub\n"
	                    "    ctl: inproc://%s-exec.ctl\n"
	                    "  escalator:\n"
	                    "    upstreams: [router, executor]\n"
	                    "    pub: inproc://%s-esc.pub\n"
	                    "    ctl: inproc://%s-esc.ctl\n"
	                    "    idle_ms: 10\n"
	                    "    catchup_grace_ms: %d\n"
	                    "    urls: [\"http://127.0.0.1:%d/hook\"]\n"
	                    "    cooldown: 1h\n"
	                    "    retry_backoff: 20ms\n"
	                    "    timeout: 5s\n"
	                    "%s",
	    f->dir, tag, tag, tag, tag, tag, tag, grace_ms, port,
	    extra ? extra : "");
	f->topo = tb_topo(f->dir, f->yaml);
	f->esc  = tb_start(&escalator_def, f->topo, "escalator");
	f->url  = topo_find(f->topo, "escalator")->ctl;
	if (wait)
		assert_int_equal(
		    tb_wait_int(f->topo, "escalator", "caught_up", 1, WAIT),
		    1);
}

static void
fx_restart(struct fx *f)
{
	tb_stop(&f->esc);
	f->esc = tb_start(&escalator_def, f->topo, "escalator");
	assert_int_equal(
	    tb_wait_int(f->topo, "escalator", "caught_up", 1, WAIT), 1);
}

static void
fx_stop(struct fx *f)
{
	tb_stop(&f->esc);
	topo_close(&f->topo);
	tb_rmrf(f->dir);
	free(f->yaml);
	free(f->dir);
	rx_stop(&f->rx);
}

/* inject hands body (consumed) to the escalator as topic. */
static void
inject(struct fx *f, const char *topic, json_t *body)
{
	struct msg_ctl_inject in;
	char                  err[256];
	int                   rv;

	assert_non_null(body);
	memset(&in, 0, sizeof(in));
	in.topic = (char *) topic;
	in.body  = body;
	rv       = ctl_call(
	          f->url, MSG_CTL_INJECT, &in, NULL, err, sizeof(err), WAIT);
	if (rv != 0)
		fail_msg("inject %s: %s", topic, err);
	json_decref(body);
}

static int64_t
st(struct fx *f, const char *path)
{
	return (tb_status_int(f->topo, "escalator", path));
}

static int64_t
wait_st(struct fx *f, const char *path, int64_t want)
{
	return (tb_wait_int(f->topo, "escalator", path, want, WAIT));
}

static const char *
js(const json_t *o, const char *key)
{
	return (json_string_value(json_object_get(o, key)));
}

static json_t *
blocked(const char *task)
{
	return (json_pack("{s:s, s:s, s:s, s:s}", "task_id", task, "state",
	    "Blocked", "prev_state", "Running", "reason", "policy"));
}

static json_t *
task_state(const char *task, const char *state)
{
	return (json_pack("{s:s, s:s}", "task_id", task, "state", state));
}

static void
test_pure(void **state)
{
	char *s;

	UNUSED(state);
	s = esc_url_shown(
	    "https://user:pw@hooks.example.com:8443/a/b?tok=x#f");
	assert_string_equal(s, "https://hooks.example.com:8443/...");
	free(s);
	/* a Slack-style hook: the path is the secret */
	s = esc_url_shown("https://hooks.slack.com/services/T0/B0/S3CR3T");
	assert_string_equal(s, "https://hooks.slack.com/...");
	free(s);
	s = esc_url_shown("http://h/");
	assert_string_equal(s, "http://h");
	free(s);
	s = esc_url_shown("http://h?x=1");
	assert_string_equal(s, "http://h");
	free(s);
	assert_int_equal(esc_backoff_ms(2000, 1), 2000);
	assert_int_equal(esc_backoff_ms(2000, 3), 8000);
	assert_int_equal(esc_backoff_ms(2000, 30), ESC_BACKOFF_CAP_MS);
	s = esc_body(true, "circuit_open", "router", "msg", "at", "ev", "k");
	assert_string_equal(s,
	    "{\"text\":\"[opcenter] circuit_open "
	    "(router): msg\"}");
	free(s);
}

static json_t *
disk_full(const char *path)
{
	return (json_pack("{s:s, s:I, s:I, s:i}", "path", path, "since_ms",
	    (json_int_t) 1796400000000, "resumed_ms",
	    (json_int_t) 1796400042000, "failures", 9));
}

/* Every kind: one POST with the right kind and key. */
static void
test_kinds(void **state)
{
	static const char *const want[][2] = {
		{ "circuit_open", "router" },
		{ "credential_invalid", "github" },
		{ "credential_expiring", "plane" },
		{ "credential_expiring_critical", "github" },
		{ "awaiting_input", "T-7" },
		{ "quota_exhausted", "executor@b" },
		{ "quota_exhausted", "executor@c" },
		{ "spend_cap", "demo" },
		{ "spend_cap", "global" },
		{ "pull_request_failed", "T-9" },
		{ "service_failed", "router" },
		{ "stale_heartbeat", "executor" },
		{ "data_loss", "board-sync" },
		{ "board_misconfigured", "board-sync" },
		{ "disk_full", "/var/lib/opcenter" },
	};
	struct fx f;
	size_t    i, k;
	bool      seen[nitems(want)];

	UNUSED(state);
	fx_start(&f, "kinds", 50, NULL, true);
	inject(&f, "circuit.changed",
	    json_pack("{s:s, s:f, s:i, s:i}", "state", "closed",
	        "failure_rate", 0.1, "window", 5, "failures", 0));
	inject(&f, "exec.finished",
	    json_pack("{s:s, s:s, s:s, s:b}", "run_id", "r-0", "task_id",
	        "T-0", "status", "succeeded", "success", 1));
	inject(&f, "circuit.changed",
	    json_pack("{s:s, s:f, s:i, s:i}", "state", "open", "failure_rate",
	        0.8, "window", 5, "failures", 4));
	inject(&f, "credential.invalid",
	    json_pack("{s:s, s:i, s:s}", "provider", "github", "status_code",
	        401, "message", "bad token"));
	inject(&f, "credential.expiring",
	    json_pack("{s:s, s:i, s:s}", "provider", "plane", "days_left", 5,
	        "expires_at", "2026-01-06"));
	inject(&f, "credential.expiring",
	    json_pack("{s:s, s:i}", "provider", "github", "days_left", 1));
	inject(&f, "exec.finished",
	    json_pack("{s:s, s:s, s:s, s:s, s:s}", "run_id", "r-1", "task_id",
	        "T-7", "status", "failed", "failure_category",
	        "awaiting_input", "failure_reason", "needs a decision"));
	inject(&f, "exec.finished",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "run_id", "r-2",
	        "task_id", "T-8", "status", "failed", "executor", "executor@b",
	        "failure_category", "backend_error", "failure_reason",
	        "429: Rate Limit exceeded"));
	/* the agent contract: quota by category, whatever the reason says */
	inject(&f, "exec.finished",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:{s:s, s:i}}}",
	        "run_id", "r-3", "task_id", "T-9", "status", "failed",
	        "executor", "executor@c", "failure_category",
	        "quota_exhausted", "failure_reason",
	        "credit balance is too low", "result", "agent", "cli",
	        "claude_cli", "api_status", 400));
	/* ... and a rate-limited run is not a quota event */
	inject(&f, "exec.finished",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:{s:s, s:i}}}",
	        "run_id", "r-4", "task_id", "T-10", "status", "failed",
	        "executor", "executor@d", "failure_category", "model_error",
	        "failure_reason", "429 rate limit exceeded", "result", "agent",
	        "cli", "claude_cli", "retry_after_ms", 20000));
	/* spend caps: per repo and global; other gates are not escalated */
	inject(&f, "budget.decision",
	    json_pack("{s:s, s:s, s:b, s:s, s:i, s:i, s:s, s:s, s:f, s:f,"
	              " s:f}",
	        "reason", "spend_cap", "task_id", "T-11", "allowed", 0,
	        "window", "day", "current", 80, "limit", 100, "repo_key",
	        "demo", "scope", "repo", "current_usd", 0.8, "limit_usd", 1.0,
	        "estimate_usd", 0.4));
	inject(&f, "budget.decision",
	    json_pack("{s:s, s:s, s:b, s:s, s:s, s:f, s:f}", "reason",
	        "spend_cap", "task_id", "T-12", "allowed", 0, "repo_key",
	        "other", "scope", "global", "current_usd", 9.5, "limit_usd",
	        10.0));
	inject(&f, "budget.decision",
	    json_pack("{s:s, s:s, s:b}", "reason",
	        "global_concurrency_exceeded", "task_id", "T-13", "allowed",
	        0));
	/* a pull request not opened (rate limited): that, not a quota */
	inject(&f, "exec.finished",
	    json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:{s:s, s:i}}",
	        "run_id", "r-3", "task_id", "T-9", "status", "failed",
	        "success", 0, "failure_category", "infra_tooling",
	        "failure_reason",
	        "pull request not opened: GitHub primary rate limit "
	        "(HTTP 403) until then",
	        "branch_name", "goal/T-9-x", "result", "pull_request_error",
	        "GitHub primary rate limit (HTTP 403) until then",
	        "pull_request_status", 403));
	/* refused token: credential_invalid comes from credential.invalid */
	inject(&f, "exec.finished",
	    json_pack("{s:s, s:s, s:s, s:b, s:{s:s, s:i}}", "run_id", "r-4",
	        "task_id", "T-10", "status", "failed", "success", 0, "result",
	        "pull_request_error", "HTTP 401", "pull_request_status", 401));
	inject(&f, "supervisor.service_failed",
	    json_pack("{s:s, s:i, s:i, s:s}", "instance", "router", "restarts",
	        5, "window_s", 60, "exit_status", "exit 1"));
	inject(&f, "supervisor.stale",
	    json_pack("{s:s, s:i}", "instance", "executor", "age_ms", 12000));
	inject(&f, "bus.data_loss",
	    json_pack("{s:s, s:i, s:i}", "upstream", "board-sync", "cursor",
	        10, "first_available", 50));
	inject(&f, "board.misconfigured",
	    json_pack("{s:s, s:s, s:[s], s:s}", "provider", "plane", "problem",
	        "missing_states", "missing", "Running", "message",
	        "no Running state"));
	inject(&f, "svc.disk_full", disk_full("/var/lib/opcenter"));
	assert_int_equal(wait_st(&f, "sent", (int64_t) nitems(want)),
	    (int64_t) nitems(want));
	assert_int_equal(rx_count(&f.rx, NULL), nitems(want));
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < nitems(want); i++) {
		json_t *r = rx_get(&f.rx, i), *b = json_object_get(r, "body");

		for (k = 0; k < nitems(want); k++)
			if (strcmp(js(b, "kind"), want[k][0]) == 0 &&
			    strcmp(js(b, "key"), want[k][1]) == 0)
				seen[k] = true;
		assert_non_null(js(b, "message"));
		assert_non_null(js(b, "at"));
		assert_non_null(js(b, "source_event"));
		assert_string_equal(js(b, "idempotency_key"), js(r, "idem"));
		assert_non_null(strstr(js(r, "idem"), js(b, "kind")));
		json_decref(r);
	}
	for (k = 0; k < nitems(want); k++)
		if (!seen[k])
			fail_msg("no POST for %s %s", want[k][0], want[k][1]);
	assert_int_equal(st(&f, "suppressed"), 0);
	assert_int_equal(st(&f, "pending"), 0);
	assert_int_equal(st(&f, "failed"), 0);
	/* one escalation.sent per escalation, nothing else journaled */
	assert_int_equal(st(&f, "journal_seq"), (int64_t) nitems(want));
	/* the status lists the newest ten, newest first (the dashboard's) */
	{
		json_t *s = tb_status(f.topo, "escalator");

		assert_int_equal(json_array_size(tb_get(s, "recent")), 10);
		assert_string_equal(tb_str(s, "recent.0.kind"), "disk_full");
		assert_string_equal(tb_str(s, "recent.0.state"), "sent");
		assert_non_null(tb_str(s, "recent.0.message"));
		assert_non_null(strstr(tb_str(s, "recent.0.at"), "T"));
		json_decref(s);
	}
	fx_stop(&f);
}

/* Every daemon on a full disk reports its own episode: one escalation per
 * path within the cooldown, the other reports merged into it. */
static void
test_disk_full_once(void **state)
{
	struct fx f;
	json_t   *r;

	UNUSED(state);
	fx_start(&f, "diskfull", 50, NULL, true);
	inject(&f, "svc.disk_full", disk_full("/srv/opc/state"));
	inject(&f, "svc.disk_full", disk_full("/srv/opc/state"));
	inject(&f, "svc.disk_full", disk_full("/srv/opc/state"));
	assert_int_equal(wait_st(&f, "sent", 1), 1);
	assert_int_equal(st(&f, "counters.disk_full_merged"), 2);
	inject(&f, "svc.disk_full", disk_full("/srv/opc/workspaces"));
	assert_int_equal(wait_st(&f, "sent", 2), 2);
	assert_int_equal(st(&f, "escalations"), 2);
	assert_int_equal(rx_count(&f.rx, NULL), 2);
	r = rx_get(&f.rx, 0);
	assert_string_equal(
	    js(json_object_get(r, "body"), "kind"), "disk_full");
	assert_string_equal(
	    js(json_object_get(r, "body"), "key"), "/srv/opc/state");
	assert_non_null(strstr(js(json_object_get(r, "body"), "message"),
	    "no space left on /srv/opc/state from "
	    "2026-12-04T"));
	assert_non_null(
	    strstr(js(json_object_get(r, "body"), "message"), "for 42 s"));
	json_decref(r);
	fx_stop(&f);
}

/* The cooldown suppresses a second escalation, also after a restart. */
static void
test_cooldown_restart(void **state)
{
	struct fx f;

	UNUSED(state);
	fx_start(&f, "cool", 50, NULL, true);
	inject(&f, "credential.invalid",
	    json_pack("{s:s, s:i}", "provider", "github", "status_code", 401));
	assert_int_equal(wait_st(&f, "sent", 1), 1);
	inject(&f, "credential.invalid",
	    json_pack("{s:s, s:i}", "provider", "github", "status_code", 401));
	assert_int_equal(wait_st(&f, "suppressed", 1), 1);
	assert_int_equal(rx_count(&f.rx, NULL), 1);
	/* another key of the same kind is not affected */
	inject(&f, "credential.invalid",
	    json_pack("{s:s, s:i}", "provider", "plane", "status_code", 403));
	assert_int_equal(wait_st(&f, "sent", 2), 2);
	assert_int_equal(st(&f, "journal_seq"), 3); /* sent, supp., sent */

	fx_restart(&f);
	inject(&f, "credential.invalid",
	    json_pack("{s:s, s:i}", "provider", "github", "status_code", 401));
	assert_int_equal(wait_st(&f, "suppressed", 2), 2);
	pause_ms(100);
	assert_int_equal(rx_count(&f.rx, NULL), 2);
	assert_int_equal(st(&f, "sent"), 2);
	assert_int_equal(st(&f, "journal_seq"), 4);
	fx_stop(&f);
}

static json_t *
spend_cap(const char *task, const char *repo)
{
	return (json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:f, s:f, s:f}",
	    "reason", "spend_cap", "task_id", task, "allowed", 0, "window",
	    "day", "repo_key", repo, "scope", "repo", "current_usd", 0.95,
	    "limit_usd", 1.0, "estimate_usd", 0.4));
}

/* Every queued task a repo's spend cap holds back makes a budget.decision:
 * one escalation per repo within the cooldown. */
static void
test_spend_cap_cooldown(void **state)
{
	struct fx f;
	json_t   *r;

	UNUSED(state);
	fx_start(&f, "spend", 50, NULL, true);
	inject(&f, "budget.decision", spend_cap("T-1", "demo"));
	assert_int_equal(wait_st(&f, "sent", 1), 1);
	inject(&f, "budget.decision", spend_cap("T-2", "demo"));
	inject(&f, "budget.decision", spend_cap("T-3", "demo"));
	assert_int_equal(wait_st(&f, "suppressed", 2), 2);
	inject(&f, "budget.decision", spend_cap("T-4", "other"));
	assert_int_equal(wait_st(&f, "sent", 2), 2);
	assert_int_equal(rx_count(&f.rx, NULL), 2);
	r = rx_get(&f.rx, 0);
	assert_string_equal(
	    js(json_object_get(r, "body"), "kind"), "spend_cap");
	assert_non_null(strstr(js(json_object_get(r, "body"), "message"),
	    "0.95 USD spent or reserved"));
	json_decref(r);
	fx_stop(&f);
}

/* opc pause / opc resume: each pause and each resume escalates, a second
 * pause within the cooldown too (keyed by the pause); a budget.decision
 * paused (one per waiting task) does not. */
static void
test_pause_kinds(void **state)
{
	struct fx f;
	json_t   *r;

	UNUSED(state);
	fx_start(&f, "pause", 50, NULL, true);
	inject(&f, "ops.paused",
	    json_pack("{s:s, s:s, s:b}", "reason", "incident 7", "pause_id",
	        "p-1", "stop_running", 1));
	assert_int_equal(wait_st(&f, "sent", 1), 1);
	inject(&f, "budget.decision",
	    json_pack("{s:s, s:s, s:b, s:s}", "reason", "paused", "task_id",
	        "T-1", "allowed", 0, "note", "incident 7"));
	inject(&f, "ops.resumed",
	    json_pack("{s:s, s:s, s:i}", "pause_id", "p-1", "reason",
	        "incident 7", "waiting", 3));
	assert_int_equal(wait_st(&f, "sent", 2), 2);
	inject(&f, "ops.paused",
	    json_pack("{s:s, s:s, s:s}", "reason", "again", "pause_id", "p-2",
	        "repo_key", "demo"));
	assert_int_equal(wait_st(&f, "sent", 3), 3);
	assert_int_equal(rx_count(&f.rx, NULL), 3);
	r = rx_get(&f.rx, 0);
	assert_string_equal(js(json_object_get(r, "body"), "kind"), "paused");
	assert_non_null(strstr(js(json_object_get(r, "body"), "message"),
	    "paused by an operator (all repos): incident 7; running work "
	    "stopped"));
	json_decref(r);
	r = rx_get(&f.rx, 1);
	assert_string_equal(js(json_object_get(r, "body"), "kind"), "resumed");
	assert_non_null(strstr(
	    js(json_object_get(r, "body"), "message"), "3 task(s) waited"));
	json_decref(r);
	r = rx_get(&f.rx, 2);
	assert_non_null(strstr(
	    js(json_object_get(r, "body"), "message"), "(demo): again"));
	json_decref(r);
	fx_stop(&f);
}

/* 500 twice, then 200: three POSTs with one key, one escalation.sent.  A
 * second URL that accepted at once is not posted to again. */
static void
test_retry(void **state)
{
	struct fx f;
	json_t   *r;
	char     *key = NULL;
	size_t    i;

	UNUSED(state);
	fx_start(&f, "retry", 50, "    retry_max: 5\n", true);
	rx_fail(&f.rx, "/hook", 2);
	inject(&f, "supervisor.stale",
	    json_pack("{s:s, s:i}", "instance", "router", "age_ms", 9000));
	assert_int_equal(wait_st(&f, "sent", 1), 1);
	assert_int_equal(rx_count(&f.rx, NULL), 3);
	for (i = 0; i < 3; i++) {
		r = rx_get(&f.rx, i);
		if (key == NULL)
			key = xstrdup(js(r, "idem"));
		assert_string_equal(js(r, "idem"), key);
		assert_string_equal(
		    js(json_object_get(r, "body"), "idempotency_key"), key);
		json_decref(r);
	}
	free(key);
	assert_int_equal(st(&f, "journal_seq"), 1);
	assert_int_equal(st(&f, "counters.retries"), 2);
	r = tb_status(f.topo, "escalator");
	assert_non_null(strstr(js(r, "last_error"), "HTTP 500"));
	json_decref(r);
	fx_stop(&f);
}

/* Two URLs, the second failing twice: retries go to it only. */
static void
test_two_urls(void **state)
{
	struct fx f;
	char     *v;
	int       port;

	UNUSED(state);
	memset(&f, 0, sizeof(f));
	/* The port is known only once the receiver runs: the URLs come
	 * through urls_env (a comma-separated list), as secrets would. */
	rx_start(&f.rx);
	port = httpd_port(f.rx.h);
	v    = xasprintf("http://127.0.0.1:%d/hook,"
	                    " http://u:sekret@127.0.0.1:%d/hook2?t=x",
	       port, port);
	setenv("ESC_TEST_URLS", v, 1);
	free(v);
	rx_fail(&f.rx, "/hook2", 2);
	f.dir  = tb_dir();
	f.yaml = xasprintf("opcenter:\n"
	                   "  state_dir: %s/state\n"
	                   "  heartbeat_ms: 50\n"
	                   "instances:\n"
	                   "  escalator:\n"
	                   "    pub: inproc://two-esc.pub\n"
	                   "    ctl: inproc://two-esc.ctl\n"
	                   "    idle_ms: 10\n"
	                   "    retry_backoff: 20ms\n"
	                   "    urls_env: ESC_TEST_URLS\n",
	    f.dir);
	f.topo = tb_topo(f.dir, f.yaml);
	f.esc  = tb_start(&escalator_def, f.topo, "escalator");
	f.url  = topo_find(f.topo, "escalator")->ctl;
	assert_int_equal(wait_st(&f, "caught_up", 1), 1);
	{
		json_t *s = tb_status(f.topo, "escalator");
		json_t *u = json_object_get(s, "urls");

		assert_int_equal(json_array_size(u), 2);
		/* userinfo, path and query never shown */
		v = xasprintf("http://127.0.0.1:%d/...", port);
		assert_string_equal(
		    json_string_value(json_array_get(u, 1)), v);
		free(v);
		assert_null(
		    strstr(json_string_value(json_array_get(u, 1)), "sekret"));
		assert_null(
		    strstr(json_string_value(json_array_get(u, 1)), "t=x"));
		assert_null(
		    strstr(json_string_value(json_array_get(u, 1)), "hook2"));
		json_decref(s);
	}
	inject(&f, "bus.data_loss",
	    json_pack("{s:s, s:i, s:i}", "upstream", "router", "cursor", 1,
	        "first_available", 9));
	assert_int_equal(wait_st(&f, "sent", 1), 1);
	assert_int_equal(rx_count(&f.rx, "/hook"), 1);
	assert_int_equal(rx_count(&f.rx, "/hook2"), 3);
	assert_int_equal(st(&f, "journal_seq"), 1);
	unsetenv("ESC_TEST_URLS");
	fx_stop(&f);
}

/* Retries exhausted: failed, logged, last_error set, no event. */
static void
test_retry_exhausted(void **state)
{
	struct fx f;
	json_t   *s;

	UNUSED(state);
	fx_start(&f, "exh", 50, "    retry_max: 2\n", true);
	rx_fail(&f.rx, "/hook", 100);
	inject(&f, "supervisor.service_failed",
	    json_pack("{s:s}", "instance", "executor"));
	assert_int_equal(wait_st(&f, "failed", 1), 1);
	assert_int_equal(rx_count(&f.rx, NULL), 3);
	s = tb_status(f.topo, "escalator");
	assert_non_null(strstr(js(s, "last_error"), "HTTP 500"));
	/* which URL, by host: its path may be its secret */
	assert_non_null(strstr(js(s, "last_error"), "127.0.0.1"));
	assert_null(strstr(js(s, "last_error"), "/hook"));
	json_decref(s);
	assert_int_equal(st(&f, "journal_seq"), 0);
	assert_int_equal(st(&f, "pending"), 0);
	fx_stop(&f);
}

/* Blocked three times in a row escalates; twice does not; a Done in
 * between resets the count. */
static void
test_blocked(void **state)
{
	struct fx f;
	json_t   *s, *p;
	json_t   *r;

	UNUSED(state);
	fx_start(&f, "blk", 50, NULL, true);
	inject(&f, "task.updated", blocked("T-1"));
	inject(&f, "task.updated", blocked("T-1"));
	inject(&f, "task.updated", blocked("T-2"));
	inject(&f, "task.updated", blocked("T-2"));
	inject(&f, "task.updated", task_state("T-2", "Done"));
	inject(&f, "task.updated", blocked("T-2"));
	inject(&f, "task.updated", blocked("T-3"));
	inject(&f, "task.updated", blocked("T-3"));
	inject(&f, "task.updated", task_state("T-3", "In Review"));
	inject(&f, "task.updated", blocked("T-3"));
	inject(&f, "task.updated", task_state("T-1", "Running"));
	pause_ms(200);
	assert_int_equal(st(&f, "escalations"), 0);
	assert_int_equal(rx_count(&f.rx, NULL), 0);
	inject(&f, "task.updated", blocked("T-1"));
	assert_int_equal(wait_st(&f, "sent", 1), 1);
	r = rx_get(&f.rx, 0);
	assert_string_equal(
	    js(json_object_get(r, "body"), "kind"), "task_blocked_repeatedly");
	assert_string_equal(js(json_object_get(r, "body"), "key"), "T-1");
	json_decref(r);
	s = tb_status(f.topo, "escalator");
	p = json_object_get(s, "self_heal_paused");
	assert_int_equal(json_array_size(p), 1);
	assert_string_equal(json_string_value(json_array_get(p, 0)), "T-1");
	json_decref(s);
	/* Done clears the pause. */
	inject(&f, "task.updated", task_state("T-1", "Done"));
	s = tb_status(f.topo, "escalator");
	assert_int_equal(
	    json_array_size(json_object_get(s, "self_heal_paused")), 0);
	json_decref(s);
	fx_stop(&f);
}

/* Nothing is sent while not caught up (an upstream may still be
 * unreached within the grace); it goes out once caught up. */
/* inject_refused: the escalator refuses body as topic (a bad message). */
static void
inject_refused(struct fx *f, const char *topic, json_t *body)
{
	struct msg_ctl_inject in;
	char                  err[256];

	memset(&in, 0, sizeof(in));
	in.topic = (char *) topic;
	in.body  = body;
	assert_int_not_equal(ctl_call(f->url, MSG_CTL_INJECT, &in, NULL, err,
	                         sizeof(err), WAIT),
	    0);
	json_decref(body);
}

/* A kind's required field, empty, refuses the event (one row of the kinds
 * table each: the field is read by its offset); circuit.changed's state
 * may be empty (it is just not "open"); a quiet proposer escalates with
 * its suppressions, a proposer that is not quiet does not. */
static void
test_refused_and_quiet(void **state)
{
	struct fx f;
	json_t   *r;

	UNUSED(state);
	fx_start(&f, "refused", 50, NULL, true);
	inject_refused(&f, "credential.invalid",
	    json_pack("{s:s, s:i}", "provider", "", "status_code", 401));
	inject_refused(&f, "credential.expiring",
	    json_pack("{s:s, s:i}", "provider", "", "days_left", 1));
	inject_refused(&f, "supervisor.stale",
	    json_pack("{s:s, s:i}", "instance", "", "age_ms", 9));
	inject_refused(&f, "svc.disk_full", json_pack("{s:s}", "path", ""));
	inject_refused(
	    &f, "board.misconfigured", json_pack("{s:s}", "provider", ""));
	inject(&f, "circuit.changed",
	    json_pack("{s:s, s:f}", "state", "", "failure_rate", 0.9));
	inject(&f, "proposer.quiet",
	    json_pack("{s:b, s:i}", "quiet", 0, "cycles", 5));
	inject(&f, "proposer.quiet",
	    json_pack("{s:b, s:i, s:{s:i}, s:s}", "quiet", 1, "cycles", 5,
	        "reasons", "cooldown", 3, "advice", "lower the bar"));
	assert_int_equal(wait_st(&f, "sent", 1), 1);
	assert_int_equal(st(&f, "escalations"), 1);
	r = rx_get(&f.rx, 0);
	assert_string_equal(
	    js(json_object_get(r, "body"), "kind"), "proposer_quiet");
	assert_non_null(strstr(js(json_object_get(r, "body"), "message"),
	    "proposed nothing in 5 cycles in a row; suppressions "
	    "{\"cooldown\":3}; advice: lower the bar"));
	json_decref(r);
	fx_stop(&f);
}

static void
test_not_caught_up(void **state)
{
	struct fx f;

	UNUSED(state);
	fx_start(&f, "nc", 1500, NULL, false);
	assert_int_equal(st(&f, "caught_up"), 0);
	inject(&f, "credential.invalid",
	    json_pack("{s:s}", "provider", "github"));
	pause_ms(300);
	assert_int_equal(st(&f, "caught_up"), 0);
	assert_int_equal(st(&f, "pending"), 1);
	assert_int_equal(rx_count(&f.rx, NULL), 0);
	assert_int_equal(wait_st(&f, "sent", 1), 1);
	assert_int_equal(rx_count(&f.rx, NULL), 1);
	fx_stop(&f);
}

static void
test_slack(void **state)
{
	struct fx f;
	json_t   *r, *b;

	UNUSED(state);
	fx_start(&f, "slack", 50, "    format: slack\n", true);
	inject(&f, "circuit.changed",
	    json_pack("{s:s, s:f}", "state", "open", "failure_rate", 0.9));
	assert_int_equal(wait_st(&f, "sent", 1), 1);
	r = rx_get(&f.rx, 0);
	b = json_object_get(r, "body");
	assert_int_equal(json_object_size(b), 1);
	assert_non_null(strstr(js(b, "text"), "circuit_open"));
	assert_non_null(strstr(js(b, "text"), "router"));
	assert_non_null(js(r, "idem"));
	json_decref(r);
	fx_stop(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pure),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_cooldown_restart),
		cmocka_unit_test(test_disk_full_once),
		cmocka_unit_test(test_spend_cap_cooldown),
		cmocka_unit_test(test_pause_kinds),
		cmocka_unit_test(test_retry),
		cmocka_unit_test(test_two_urls),
		cmocka_unit_test(test_retry_exhausted),
		cmocka_unit_test(test_blocked),
		cmocka_unit_test(test_refused_and_quiet),
		cmocka_unit_test(test_not_caught_up),
		cmocka_unit_test(test_slack),
	};

	log_init("test_escalator", NULL, LOG_WARN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
