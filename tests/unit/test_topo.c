/*
 * test_topo.c - topology loading and its errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "opc/err.h"
#include "opc/log.h"
#include "opc/topo.h"
#include "testbed.h"

static int
load(const char *dir, const char *yaml, struct topo **t, char *err,
    size_t len)
{
	char *path = xasprintf("%s/c.yaml", dir);
	FILE *f = fopen(path, "w");
	int   rv;

	assert_non_null(f);
	fputs(yaml, f);
	fclose(f);
	rv = topo_load(t, path, err, len);
	free(path);
	return (rv);
}

static void
test_defaults(void **state)
{
	char                   *dir = tb_dir(), err[512];
	struct topo            *t;
	const struct topo_inst *in;
	char                   *want;

	UNUSED(state);
	assert_int_equal(load(dir,
	                     "opcenter:\n"
	                     "  state_dir: st\n"
	                     "instances:\n"
	                     "  router: {}\n"
	                     "  executor@a:\n"
	                     "    upstreams: [router]\n"
	                     "    pub: tcp://127.0.0.1:7001\n",
	                     &t, err, sizeof(err)),
	    0);
	want = xasprintf("%s/st", dir);
	assert_string_equal(t->state_dir, want);
	free(want);
	assert_int_equal(t->heartbeat_ms, 1000);
	assert_int_equal(t->stale_after_ms, 10000);
	assert_int_equal(t->ninst, 2);
	in = topo_find(t, "executor@a");
	assert_non_null(in);
	assert_string_equal(in->service, "executor");
	assert_string_equal(in->pub, "tcp://127.0.0.1:7001");
	want = xasprintf("ipc://%s/st/run/executor@a.ctl", dir);
	assert_string_equal(in->ctl, want);
	free(want);
	assert_int_equal(in->nupstreams, 1);
	assert_string_equal(in->upstreams[0], "router");
	assert_non_null(topo_find(t, "supervisor"));
	assert_null(topo_find(t, "nope"));
	topo_close(&t);
	assert_null(t);
	tb_rmrf(dir);
	free(dir);
}

static void
expect_error(const char *yaml, const char *needle)
{
	char        *dir = tb_dir(), err[512];
	struct topo *t = NULL;

	assert_int_equal(load(dir, yaml, &t, err, sizeof(err)), ERR_CONFIG);
	assert_null(t);
	if (strstr(err, needle) == NULL)
		fail_msg("error '%s' lacks '%s'", err, needle);
	tb_rmrf(dir);
	free(dir);
}

static void
test_errors(void **state)
{
	UNUSED(state);
	expect_error("instances:\n"
	             "  a:\n"
	             "    upstreams: [b]\n",
	    "c.yaml:3:16: instances.a.upstreams: unknown instance 'b'");
	expect_error("instances:\n"
	             "  a:\n"
	             "    upstreams: [a]\n",
	    "cannot consume itself");
	expect_error("instances:\n"
	             "  a:\n"
	             "    pub: http://x\n",
	    "c.yaml:3:10: pub: unsupported url 'http://x'");
	expect_error("opcenter:\n"
	             "  heartbeat_ms: soon\n",
	    "c.yaml:2:17:");
	expect_error("- a\n- b\n", "expected a map at the top level");
	expect_error("instances: [a]\n", "expected a map of instance names");
	expect_error("opcenter:\n  state_dir: /tmp/"
	             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
	             "instances:\n  a: {}\n",
	    "ipc path longer than");
}

static void
test_missing_file(void **state)
{
	struct topo *t;
	char         err[256];

	UNUSED(state);
	assert_int_equal(topo_load(&t, "/nonexistent/opc.yaml", err,
	                     sizeof(err)),
	    ERR_IO);
	assert_non_null(strstr(err, "/nonexistent/opc.yaml"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_missing_file),
	};

	log_init("test_topo", NULL, LOG_ERROR);
	log_set_stderr(0);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
