/*
 * test_durable.c - two real processes on ipc://: opc-testprod produces
 * 10,000 events while opc-testcons is killed with SIGKILL several times
 * (and the producer once) and restarted.  Afterwards the consumer's table
 * holds every event exactly once, in order.
 *
 * Then the same two against nng issue #1518: something hangs up on the
 * producer's ctl and pub listeners before the handshake, which stopped an
 * nng 1.5 listener from accepting anything more (bus.c works around it):
 * the producer must still answer, and a consumer started afterwards must
 * still catch up.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "opc/log.h"
#include "opc/store.h"
#include "opc/topo.h"
#include "testbed.h"

#define N 10000
#define WAIT 60000 /* ms; generous, only to avoid hanging */

static pid_t
spawn(const char *prog, const char *config, const char *name)
{
	char *bin = xasprintf("%s/%s", OPC_BIN_DIR, prog);
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		char *argv[] = { bin, "-c", (char *) config, "-n",
			(char *) name, NULL };

		execv(bin, argv);
		_exit(127);
	}
	free(bin);
	return (pid);
}

static void
kill_wait(pid_t pid, int sig)
{
	int st;

	kill(pid, sig);
	waitpid(pid, &st, 0);
}

/* pair loads a topology of prod (producing n events in batches) and cons
 * (its consumer), with extra lines for each; *cfgp names its file. */
static struct topo *
pair(const char *dir, int n, int batch, const char *prod_extra,
    const char *cons_extra, char **cfgp)
{
	struct topo *t;
	char        *y;

	y = xasprintf("opcenter:\n"
	              "  state_dir: %s/s\n"
	              "  heartbeat_ms: 100\n"
	              "instances:\n"
	              "  prod:\n"
	              "    produce: %d\n"
	              "    batch: %d\n"
	              "    interval_ms: 10\n"
	              "%s"
	              "  cons:\n"
	              "    upstreams: [prod]\n"
	              "%s",
	    dir, n, batch, prod_extra, cons_extra);
	t = tb_topo(dir, y);
	free(y);
	*cfgp = xasprintf("%s/opcenter.yaml", dir);
	return (t);
}

static void
test_kill9_exactly_once(void **state)
{
	char         *dir = tb_dir(), *cfg, *db;
	struct topo  *t;
	pid_t         prod, cons;
	int           i, got_mid;
	int64_t       cnt, dist, bad, lo, hi;
	struct store *s;
	unsigned      seed = (unsigned) time(NULL);

	UNUSED(state);
	t = pair(dir, N, 25, "    idle_ms: 20\n", "    slow_us: 100\n", &cfg);
	prod = spawn("opc-testprod", cfg, "prod");
	cons = spawn("opc-testcons", cfg, "cons");
	printf("# seed %u\n", seed);
	srand(seed);
	for (i = 0; i < 6; i++) {
		sleep_ms(250 + rand() % 400);
		kill_wait(cons, SIGKILL);
		if (i == 2) {
			kill_wait(prod, SIGKILL);
			prod = spawn("opc-testprod", cfg, "prod");
		}
		sleep_ms(rand() % 150);
		cons = spawn("opc-testcons", cfg, "cons");
	}
	got_mid = (int) tb_status_int(t, "prod", "journal_seq");
	printf("# producer at seq %d after the kills\n", got_mid);
	assert_int_equal(tb_wait_int(t, "cons", "got", N, WAIT), N);
	assert_int_equal(
	    tb_wait_int(t, "cons", "upstreams.prod.cursor", N, WAIT), N);
	kill_wait(cons, SIGTERM);
	kill_wait(prod, SIGTERM);

	db = xasprintf("%s/s/cons.db", dir);
	assert_int_equal(store_open(&s, db), 0);
	assert_int_equal(
	    store_int(s, &cnt, 0, "SELECT count(*) FROM got", NULL), 0);
	assert_int_equal(
	    store_int(s, &dist, 0, "SELECT count(DISTINCT n) FROM got", NULL),
	    0);
	assert_int_equal(
	    store_int(s, &lo, 0, "SELECT min(n) FROM got", NULL), 0);
	assert_int_equal(
	    store_int(s, &hi, 0, "SELECT max(n) FROM got", NULL), 0);
	/* In order: n and seq both follow insertion order. */
	assert_int_equal(
	    store_int(s, &bad, 0,
	        "SELECT count(*) FROM got a JOIN got b"
	        " ON b.id = (SELECT min(id) FROM got WHERE id > "
	        "a.id) WHERE b.n != a.n + 1 OR b.seq != a.seq + 1",
	        NULL),
	    0);
	printf("# rows %lld distinct %lld min %lld max %lld out-of-order "
	       "%lld\n",
	    (long long) cnt, (long long) dist, (long long) lo, (long long) hi,
	    (long long) bad);
	assert_int_equal(cnt, N);
	assert_int_equal(dist, N);
	assert_int_equal(lo, 1);
	assert_int_equal(hi, N);
	assert_int_equal(bad, 0);
	store_close(&s);
	topo_close(&t);
	tb_rmrf(dir);
	free(db);
	free(cfg);
	free(dir);
}

static void
test_hangup(void **state)
{
	char        *dir = tb_dir(), *cfg;
	struct topo *t;
	pid_t        prod, cons;

	UNUSED(state);
	t    = pair(dir, 200, 50, "", "", &cfg);
	prod = spawn("opc-testprod", cfg, "prod");
	assert_int_equal(
	    tb_wait_int(t, "prod", "journal_seq", 200, WAIT), 200);
	tb_hang_up(topo_find(t, "prod")->ctl);
	sleep_ms(200);
	assert_int_equal(tb_status_int(t, "prod", "journal_seq"), 200);
	tb_hang_up(topo_find(t, "prod")->pub);
	sleep_ms(200);
	cons = spawn("opc-testcons", cfg, "cons");
	assert_int_equal(
	    tb_wait_int(t, "cons", "upstreams.prod.cursor", 200, WAIT), 200);
	assert_int_equal(
	    waitpid(prod, NULL, WNOHANG), 0); /* never restarted */
	kill_wait(cons, SIGTERM);
	kill_wait(prod, SIGTERM);
	topo_close(&t);
	tb_rmrf(dir);
	free(cfg);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill9_exactly_once),
		cmocka_unit_test(test_hangup),
	};

	log_init("test_durable", NULL, LOG_WARN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
