/*
 * test_exec_sandbox.c - the bwrap argv of a backend run (sandbox.c) is
 * built as README "Sandbox" says: limits by prlimit, then bwrap's
 * namespaces, the read-only root, a fresh /dev, /proc and /tmp, tmpfs over
 * each hidden directory that exists, what is shown again, the workspace
 * last, and the backend's argv after "--" element for element (no
 * shell, no environment values); the probe's refusal text; the oom fact
 * of the classifier; and the request's sandbox settings and defaults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "opc/err.h"
#include "run.h"
#include "sandbox.h"

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
	want = xasprintf("prlimit|--cpu=10|--fsize=4194304|--nproc=32|"
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
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
