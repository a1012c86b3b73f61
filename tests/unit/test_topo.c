/*
 * test_topo.c - topology loading and its errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <poll.h>
#include <unistd.h>

#include "opc/bus.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/topo.h"
#include "testbed.h"

static int
load(const char *dir, const char *yaml, struct topo **t, char *err, size_t len)
{
	char *path = xasprintf("%s/c.yaml", dir);
	FILE *f    = fopen(path, "w");
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
	struct topo *t   = NULL;

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
	/* out of range: where, the key and the range (opcenter's table) */
	expect_error("opcenter:\n"
	             "  heartbeat_ms: 5\n",
	    "c.yaml:2:17: opcenter.heartbeat_ms: expected a duration from "
	    "10ms "
	    "to 1h, got '5'");
	expect_error("opcenter: { journal_retention: 0 }\n",
	    "c.yaml:1:32: opcenter.journal_retention: expected an integer of "
	    "at least 1, got '0'");
	expect_error("- a\n- b\n", "expected a map at the top level");
	expect_error("instances: [a]\n", "expected a map of instance names");
	expect_error(
	    "opcenter:\n  state_dir: /tmp/"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
	    "instances:\n  a: {}\n",
	    "ipc path longer than");
}

static void
test_tls_errors(void **state)
{
	UNUSED(state);
	expect_error("instances:\n"
	             "  a: { pub: \"tls+tcp://127.0.0.1:7001\" }\n",
	    "c.yaml:2:6: a: tls+tcp:// endpoints need an opcenter.tls "
	    "section");
	expect_error("opcenter:\n"
	             "  tls: { ca_file: ca.pem, cert_file: h.pem }\n",
	    "c.yaml:2:8: opcenter.tls: key_file is required");
	expect_error("opcenter:\n"
	             "  tls: { ca_file: /nonexistent/ca.pem, cert_file: h.pem,"
	             " key_file: h.key }\n",
	    "opcenter.tls: ca_file /nonexistent/ca.pem: No such file");
}

/* certs makes a CA and a cert for localhost signed by it, named
 * <prefix>ca.pem, <prefix>h.pem, <prefix>h.key, in dir. */
static int
certs(const char *dir, const char *prefix)
{
	char *cmd;
	int   rv;

	cmd = xasprintf(
	    "(cd %s && K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
	    "-nodes' && openssl req -x509 $K -keyout %sca.key -out %sca.pem "
	    "-days 30 -subj /CN=opc-test-ca && "
	    "openssl req $K -keyout %sh.key -out h.csr -subj /CN=localhost && "
	    "echo subjectAltName=DNS:localhost >ext && "
	    "openssl x509 -req -in h.csr -CA %sca.pem -CAkey %sca.key "
	    "-CAcreateserial -days 30 -extfile ext -out %sh.pem) "
	    ">/dev/null 2>&1",
	    dir, prefix, prefix, prefix, prefix, prefix, prefix);
	rv = system(cmd);
	free(cmd);
	return (rv);
}

/* heard: sub receives "t\0x" from pub within ms (pub resends, since
 * pub/sub drops what it sends before the dial completed). */
static int
heard(struct bus *pub, struct bus *sub, int ms)
{
	struct pollfd  pfd = { .events = POLLIN };
	struct bus_msg m;

	assert_int_equal(bus_fd(sub, &pfd.fd), 0);
	for (; ms > 0; ms -= 100) {
		assert_int_equal(bus_send(pub, "t\0x", 3, BUS_NONBLOCK), 0);
		if (poll(&pfd, 1, 100) == 1 &&
		    bus_recv(sub, &m, BUS_NONBLOCK) == 0) {
			bus_msg_free(&m);
			return (1);
		}
	}
	return (0);
}

static void
set_tls(const char *dir, const char *prefix, const char *server_name)
{
	char          *ca  = xasprintf("%s/%sca.pem", dir, prefix);
	char          *crt = xasprintf("%s/%sh.pem", dir, prefix);
	char          *key = xasprintf("%s/%sh.key", dir, prefix);
	char           err[512];
	struct bus_tls bt = { ca, crt, key, server_name };

	if (bus_tls_set(&bt, err, sizeof(err)) != 0)
		fail_msg("bus_tls_set: %s", err);
	free(ca);
	free(crt);
	free(key);
}

static void
test_tls_roundtrip(void **state)
{
	char          *dir = tb_dir(), err[512], *yaml, *url;
	struct topo   *t   = NULL;
	struct bus    *pub = NULL, *sub = NULL, *rogue = NULL;
	struct bus_tls bt;

	UNUSED(state);
	if (system("openssl version >/dev/null 2>&1") != 0 ||
	    certs(dir, "") != 0 || certs(dir, "rogue-") != 0) {
		tb_rmrf(dir);
		free(dir);
		skip();
	}
	url  = xasprintf("tls+tcp://localhost:%d", 20000 + getpid() % 20000);
	yaml = xasprintf("opcenter:\n"
	                 "  tls: { ca_file: ca.pem, cert_file: h.pem, "
	                 "key_file: h.key }\n"
	                 "instances:\n"
	                 "  a: { pub: \"%s\" }\n",
	    url);
	if (load(dir, yaml, &t, err, sizeof(err)) != 0)
		fail_msg("topo_load: %s", err);
	assert_int_equal(t->tls, 1);
	assert_int_equal(bus_open(&pub, BUS_PUB, url), 0);
	assert_int_equal(bus_open(&sub, BUS_SUB, url), 0);
	assert_int_equal(bus_subscribe(sub, ""), 0);
	assert_true(heard(pub, sub, 5000));
	/* A missing file is named. */
	bt = (struct bus_tls) { "/nonexistent/ca.pem", "", "", NULL };
	assert_int_equal(bus_tls_set(&bt, err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "ca_file /nonexistent/ca.pem: No such"));
	/* A peer whose certificate another CA signed is refused. */
	set_tls(dir, "rogue-", NULL);
	assert_int_equal(bus_open(&rogue, BUS_SUB, url), 0);
	assert_int_equal(bus_subscribe(rogue, ""), 0);
	assert_false(heard(pub, rogue, 1500));
	bus_close(&rogue);
	/* So is a listener whose certificate names another host. */
	set_tls(dir, "", "otherhost");
	assert_int_equal(bus_open(&rogue, BUS_SUB, url), 0);
	assert_int_equal(bus_subscribe(rogue, ""), 0);
	assert_false(heard(pub, rogue, 1500));
	bus_close(&rogue);
	bus_close(&sub);
	bus_close(&pub);
	topo_close(&t);
	/* topo_close removed the TLS settings. */
	assert_int_equal(bus_open(&pub, BUS_PUB, url), ERR_INVAL);
	free(url);
	free(yaml);
	tb_rmrf(dir);
	free(dir);
}

static void
test_missing_file(void **state)
{
	struct topo *t;
	char         err[256];

	UNUSED(state);
	assert_int_equal(
	    topo_load(&t, "/nonexistent/opc.yaml", err, sizeof(err)), ERR_IO);
	assert_non_null(strstr(err, "/nonexistent/opc.yaml"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_tls_errors),
		cmocka_unit_test(test_tls_roundtrip),
	};

	log_init("test_topo", NULL, LOG_ERROR);
	log_set_stderr(0);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
