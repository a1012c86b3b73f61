/*
 * test_exec_sandbox.c - the bwrap argv of a backend run (sandbox.c) is
 * built as README "Sandbox" says: limits by prlimit, then bwrap's
 * namespaces, the read-only root, a fresh /dev, /proc and /tmp, tmpfs over
 * each hidden directory that exists, what is shown again, the workspace
 * last, and the backend's argv after "--" element for element (no
 * shell, no environment values); the probe's refusal text; the oom fact
 * of the classifier; and the request's sandbox settings and defaults.
 * Then the real opc-exec-run with a sandboxed backend in a scratch
 * workspace: one that spins is stopped by the CPU-time limit and
 * classified timeout; on a stop (the run's timeout), one that traps
 * SIGTERM gets it inside bwrap and writes its marker within the grace,
 * and one that ignores it is SIGKILLed after the grace, leaving no
 * process behind.  Where bwrap cannot run, those three are skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <dirent.h>
#include <jansson.h>

#include "opc/err.h"
#include "run.h"
#include "sandbox.h"

#ifndef EXEC_RUN_BIN
#error EXEC_RUN_BIN must name the opc-exec-run binary
#endif

/* joined returns argv as one string, elements separated by '|'. */
static char *
joined(const struct strv *sv)
{
	return (strv_join(sv, "|"));
}

static void
test_argv_full(void **state)
{
	char  dir[] = "/tmp/opc-sbx-test.XXXXXX", *hidden, *j, *want;
	char *hide[4], *ro[] = { "/opt/tool", NULL };
	char *rw[]   = { "/var/cache/x", NULL };
	char *argv[] = { "/usr/bin/agent", "--goal", "a b; rm -rf /", NULL };
	struct sandbox sb;
	struct strv    out;

	(void) state;
	assert_non_null(mkdtemp(dir));
	hidden = xasprintf("%s/state", dir);
	assert_int_equal(mkdirs(hidden, 0700), 0);
	hide[0] = hidden;
	hide[1] = "/nonexistent/opc-sbx"; /* nothing to hide: left out */
	hide[2] = "/";                    /* never the whole root */
	hide[3] = NULL;
	memset(&sb, 0, sizeof(sb));
	memset(&out, 0, sizeof(out));
	sb.on           = 1;
	sb.net          = 0;
	sb.drop_caps    = 1;
	sb.bwrap        = "/usr/bin/bwrap";
	sb.hide         = hide;
	sb.ro           = ro;
	sb.rw           = rw;
	sb.memory_mb    = 64;
	sb.max_procs    = 32;
	sb.cpu_seconds  = 10;
	sb.file_size_mb = 4;
	sandbox_argv(&out, &sb, "/ws/run-1", argv);
	j    = joined(&out);
	want = xasprintf(
	    "prlimit|--core=0|--cpu=10:11|--fsize=4194304|--nproc=32|"
	    "--as=67108864|--|/usr/bin/bwrap|--die-with-parent|"
	    "--new-session|--unshare-pid|--unshare-net|"
	    "--cap-drop|ALL|--ro-bind|/|/|--dev|/dev|--proc|"
	    "/proc|--tmpfs|/tmp|--tmpfs|%s|--ro-bind-try|"
	    "/opt/tool|/opt/tool|--ro-bind-try|/usr/bin/agent|"
	    "/usr/bin/agent|--bind-try|/var/cache/x|/var/cache/x|"
	    "--bind|/ws/run-1|/ws/run-1|--chdir|/ws/run-1|--|"
	    "/usr/bin/agent|--goal|a b; rm -rf /",
	    hidden);
	assert_string_equal(j, want);
	/* the task text stays one element: no shell anywhere */
	assert_string_equal(out.v[out.n - 1], "a b; rm -rf /");
	assert_null(out.v[out.n]);
	free(want);
	free(j);
	strv_free(&out);
	(void) rmtree(dir);
	free(hidden);
}

static void
test_argv_minimal(void **state)
{
	char          *argv[] = { "claude", "-p", NULL }, *j;
	struct sandbox sb;
	struct strv    out;

	(void) state;
	memset(&sb, 0, sizeof(sb));
	memset(&out, 0, sizeof(out));
	sb.on  = 1;
	sb.net = 1; /* host: no --unshare-net */
	sandbox_argv(&out, &sb, "/w", argv);
	j = joined(&out);
	/* no limits: no prlimit; a program by name is not bound */
	assert_string_equal(j,
	    "bwrap|--die-with-parent|--new-session|--unshare-pid|--ro-bind|/|"
	    "/|--dev|/dev|--proc|/proc|--tmpfs|/tmp|--bind|/w|/w|--chdir|/w|"
	    "--|claude|-p");
	free(j);
	strv_free(&out);
}

static void
test_net_defaults_and_mode(void **state)
{
	struct sandbox sb;
	char          *m;

	(void) state;
	assert_int_equal(sandbox_net_default("claude_cli"), 1);
	assert_int_equal(sandbox_net_default("codex_cli"), 1);
	assert_int_equal(sandbox_net_default("aider"), 1);
	assert_int_equal(sandbox_net_default("kodo"), 1);
	assert_int_equal(sandbox_net_default("command"), 0);
	assert_int_equal(sandbox_net_default("stub"), 0);
	memset(&sb, 0, sizeof(sb));
	m = sandbox_mode(&sb, NULL);
	assert_non_null(strstr(m, "off"));
	free(m);
	sb.on = 1;
	m     = sandbox_mode(&sb, NULL);
	assert_string_equal(m, "bwrap, network none");
	free(m);
	m = sandbox_mode(&sb, "no user namespaces");
	assert_non_null(strstr(m, "unavailable"));
	assert_non_null(strstr(m, "no user namespaces"));
	free(m);
}

static void
test_probe_refusal(void **state)
{
	char *why = NULL;

	(void) state;
	assert_int_equal(sandbox_probe("/nonexistent/bwrap", &why), ERR_IO);
	assert_non_null(why);
	assert_non_null(strstr(why, "/nonexistent/bwrap"));
	assert_non_null(strstr(why, "No such file"));
	free(why);
	/* a program that runs but fails: its own words are the reason */
	assert_int_equal(sandbox_probe("false", &why), ERR_IO);
	assert_non_null(strstr(why, "exited 1"));
	free(why);
}

static void
test_classify_oom_fact(void **state)
{
	struct classify_in in;

	(void) state;
	memset(&in, 0, sizeof(in));
	in.oom_killed = 1;
	in.timed_out  = 1; /* killed by the limit first: oom wins */
	assert_string_equal(classify(&in), "oom");
	memset(&in, 0, sizeof(in));
	in.text = "tail: memory exhausted";
	assert_string_equal(classify(&in), "oom");
}

static int
parse(struct exec_req *rq, const char *spec)
{
	json_error_t je;
	json_t      *o;
	char        *err = NULL, *text;
	int          rv;

	text = xasprintf("{\"run_id\":\"r\",\"task_id\":\"t\",\"goal_text\":"
	                 "\"g\",\"clone_url\":\"/x\",\"base_branch\":\"main\","
	                 "\"task_branch\":\"b\",\"backend_spec\":%s}",
	    spec);
	o    = json_loads(text, 0, &je);
	free(text);
	assert_non_null(o);
	rv = request_parse(rq, o, &err);
	free(err);
	json_decref(o);
	return (rv);
}

static void
test_request_settings(void **state)
{
	struct exec_req rq;

	(void) state;
	setenv("HOME", "/home/operator", 1);
	/* a command: on, no network, the worker's limits, HOME hidden */
	assert_int_equal(
	    parse(&rq, "{\"kind\":\"command\",\"argv\":[\"x\"]}"), 0);
	assert_int_equal(rq.sb.on, 1);
	assert_int_equal(rq.sb.net, 0);
	assert_int_equal(rq.sb.memory_mb, 8192);
	assert_int_equal(rq.sb.max_procs, 512);
	assert_int_equal(rq.sb.hide.n, 1);
	assert_string_equal(rq.sb.hide.v[0], "/home/operator");
	assert_string_equal(rq.sb.bwrap, "bwrap");
	request_fini(&rq);
	/* an agent: the host's network; the executor's hide list wins */
	assert_int_equal(parse(&rq,
	                     "{\"kind\":\"claude_cli\",\"sandbox_hide\":"
	                     "[\"/s\"],\"max_procs\":7,\"bwrap\":\"/b\"}"),
	    0);
	assert_int_equal(rq.sb.net, 1);
	assert_int_equal(rq.sb.max_procs, 7);
	assert_int_equal(rq.sb.hide.n, 1);
	assert_string_equal(rq.sb.hide.v[0], "/s");
	assert_string_equal(rq.sb.bwrap, "/b");
	request_fini(&rq);
	/* off, and network none asked of an agent */
	assert_int_equal(parse(&rq,
	                     "{\"kind\":\"codex_cli\",\"sandbox\":\"off\","
	                     "\"network\":\"none\"}"),
	    0);
	assert_int_equal(rq.sb.on, 0);
	assert_int_equal(rq.sb.net, 0);
	assert_null(rq.bk.sandbox);
	request_fini(&rq);
	/* a codex mode under sandbox: codex's, with bwrap on (as before) */
	assert_int_equal(parse(&rq,
	                     "{\"kind\":\"codex_cli\",\"sandbox\":"
	                     "\"read-only\"}"),
	    0);
	assert_int_equal(rq.sb.on, 1);
	assert_string_equal(rq.bk.sandbox, "read-only");
	request_fini(&rq);
	assert_int_equal(parse(&rq,
	                     "{\"kind\":\"command\",\"argv\":[\"x\"],"
	                     "\"network\":\"lan\"}"),
	    ERR_INVAL);
	request_fini(&rq);
}

/* ---- the real worker, sandboxed -------------------------------------- */

struct wfx {
	char *root, *ws, *req, *out, *script, *token;
};

static int
wsetup(void **state)
{
	struct wfx *f;
	char        tmpl[] = "/tmp/opc-exec-sbx.XXXXXX", *why = NULL;

	/* the probe the executor runs: no bwrap here, nothing to test */
	if (sandbox_probe("bwrap", &why) != 0) {
		printf("SKIP: bwrap cannot run here: %s\n", why);
		free(why);
		*state = NULL;
		return (0);
	}
	if (mkdtemp(tmpl) == NULL)
		return (-1);
	f         = xcalloc(1, sizeof(*f));
	f->root   = xstrdup(tmpl);
	f->ws     = xasprintf("%s/ws", tmpl);
	f->req    = xasprintf("%s/req.json", tmpl);
	f->out    = xasprintf("%s/result.json", tmpl);
	f->script = xasprintf("%s/backend.sh", tmpl);
	/* a sleep's argument no other process has: 300.<pid> seconds */
	f->token = xasprintf("300.%ld", (long) getpid());
	*state   = f;
	return (0);
}

static int
wteardown(void **state)
{
	struct wfx *f = *state;

	if (f == NULL)
		return (0);
	(void) rmtree(f->root);
	free(f->root);
	free(f->ws);
	free(f->req);
	free(f->out);
	free(f->script);
	free(f->token);
	free(f);
	return (0);
}

/* wrun runs a sandboxed command backend (body: its sh script) in a
 * scratch workspace with the given limits; returns the result (NULL if
 * none was written). */
static json_t *
wrun(const struct wfx *f, const char *body, int timeout_s, int grace_s,
    int cpu_s)
{
	json_error_t je;
	json_t      *req, *r;
	FILE        *s = fopen(f->script, "w");
	char        *cmd;
	int          st;

	assert_non_null(s);
	fprintf(s, "#!/bin/sh\n%s\n", body);
	fclose(s);
	chmod(f->script, 0755);
	req = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, "
	                "s:{s:s, s:[s], s:s, s:i, s:i}}",
	    "run_id", "abcdef12-0000-4000-8000-0000000000c1", "task_id", "T-9",
	    "goal_text", "spin or stop", "repo_key", "demo", "clone_url",
	    "/nonexistent", "base_branch", "main", "task_branch", "goal/T-9",
	    "timeout_seconds", timeout_s, "backend", "sbx", "backend_spec",
	    "kind", "command", "argv", f->script, "workspace", "scratch",
	    "kill_grace_seconds", grace_s, "cpu_seconds", cpu_s);
	assert_non_null(req);
	assert_int_equal(json_dump_file(req, f->req, 0), 0);
	json_decref(req);
	(void) rmtree(f->ws);
	cmd = xasprintf("%s --request %s --workspace %s --out %s "
	                ">%s/worker.log 2>&1",
	    EXEC_RUN_BIN, f->req, f->ws, f->out, f->root);
	st  = system(cmd);
	free(cmd);
	assert_true(WIFEXITED(st));
	r = json_load_file(f->out, 0, &je);
	if (r == NULL) {
		cmd = xasprintf("cat %s/worker.log >&2", f->root);
		(void) system(cmd);
		free(cmd);
		fail_msg("no result: %s", je.text);
	}
	return (r);
}

static const char *
rs(const json_t *r, const char *k)
{
	const char *v = json_string_value(json_object_get(r, k));

	return (v != NULL ? v : "(null)");
}

/* ws_has: the backend left file name in the workspace. */
static int
ws_has(const struct wfx *f, const char *name)
{
	char       *p = xasprintf("%s/%s", f->ws, name);
	struct stat st;
	int         rv = stat(p, &st) == 0;

	free(p);
	return (rv);
}

/* running counts the processes whose command line holds token. */
static int
running(const char *token)
{
	DIR           *d = opendir("/proc");
	struct dirent *e;
	char           path[300], buf[4096];
	size_t         n, i;
	FILE          *fp;
	int            count = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		n = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
		for (i = 0; i < n; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[n] = '\0';
		if (strstr(buf, token) != NULL)
			count++;
	}
	closedir(d);
	return (count);
}

static void
test_cpu_limit(void **state)
{
	struct wfx *f = *state;
	json_t     *r;

	if (f == NULL)
		skip();
	/* one second of CPU, a minute of wall clock: the limit stops it */
	r = wrun(f, "while :; do :; done", 60, 1, 1);
	assert_string_equal(rs(r, "status"), "failed");
	assert_string_equal(rs(r, "failure_category"), "timeout");
	assert_non_null(strstr(rs(r, "failure_reason"), "SIGXCPU"));
	assert_non_null(strstr(rs(r, "failure_reason"), "cpu_seconds 1"));
	assert_true(
	    json_integer_value(json_object_get(r, "duration_ms")) < 30000);
	/* no core file of it in the workspace (prlimit --core=0) */
	assert_false(ws_has(f, "core"));
	json_decref(r);
}

static void
test_stop_term_reaches_backend(void **state)
{
	struct wfx *f = *state;
	json_t     *r;
	char       *body;

	if (f == NULL)
		skip();
	/* stopped at its 1 s timeout with 10 s of grace: SIGTERM reaches
	 * it inside bwrap (and its sleep), so it writes its marker and
	 * exits long before the grace is out */
	body = xasprintf("trap 'echo bye >term.txt; exit 3' TERM\n"
	                 "touch started\n"
	                 "while :; do sleep %s; done",
	    f->token);
	r    = wrun(f, body, 1, 10, 0);
	free(body);
	assert_string_equal(rs(r, "status"), "timed_out");
	assert_string_equal(rs(r, "failure_category"), "timeout");
	assert_true(ws_has(f, "started"));
	assert_true(ws_has(f, "term.txt"));
	assert_true(
	    json_integer_value(json_object_get(r, "duration_ms")) < 8000);
	assert_int_equal(running(f->token), 0);
	json_decref(r);
}

static void
test_stop_kills_after_grace(void **state)
{
	struct wfx *f = *state;
	json_t     *r;
	char       *body;
	int64_t     ms;

	if (f == NULL)
		skip();
	/* it ignores SIGTERM (and so does its sleep, which inherits
	 * that), and a detached child sleeps on: both get SIGKILL once the
	 * 2 s of grace are out, and nothing of the sandbox is left */
	body = xasprintf("trap '' TERM\n"
	                 "setsid sleep %s </dev/null >/dev/null 2>&1 &\n"
	                 "touch started\n"
	                 "sleep %s",
	    f->token, f->token);
	r    = wrun(f, body, 1, 2, 0);
	free(body);
	assert_string_equal(rs(r, "status"), "timed_out");
	assert_true(ws_has(f, "started"));
	ms = json_integer_value(json_object_get(r, "duration_ms"));
	assert_true(ms >= 2900); /* 1 s, then the whole grace */
	assert_string_equal(rs(r, "executor_signal"), "SIGKILL");
	assert_int_equal(running(f->token), 0);
	json_decref(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_argv_full),
		cmocka_unit_test(test_argv_minimal),
		cmocka_unit_test(test_net_defaults_and_mode),
		cmocka_unit_test(test_probe_refusal),
		cmocka_unit_test(test_classify_oom_fact),
		cmocka_unit_test(test_request_settings),
		cmocka_unit_test_setup_teardown(
		    test_cpu_limit, wsetup, wteardown),
		cmocka_unit_test_setup_teardown(
		    test_stop_term_reaches_backend, wsetup, wteardown),
		cmocka_unit_test_setup_teardown(
		    test_stop_kills_after_grace, wsetup, wteardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
