/*
 * test_supervisor.c - the supervisor through its real descriptor
 * in-process, running real child processes on ipc:// sockets in a temp
 * dir: opc-testprod (a daemon that heartbeats), /bin/false (one that
 * cannot start) and a shell script that sleeps (one that never
 * heartbeats).  Backoffs and windows are milliseconds, so the whole file
 * takes a few seconds.  Its events are read back from its journal over
 * ctl.replay; tb_shutdown stops the children as svc_main would.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "opc/log.h"
#include "supervisor.h"
#include "testbed.h"

#define WAIT TB_WAIT_MS

struct fx {
	char          *dir;
	struct topo   *topo;
	struct tb_svc *sup;
};

/* fx_start runs the supervisor over one instance, run by bin; stale is
 * its stale_after and start_timeout (the daemons' start under a
 * sanitizer on a loaded box must not count as silence but where silence
 * is the test; test_supervisor.sh tells the two apart). */
static void
fx_start(struct fx *f, const char *name, const char *bin, const char *stale)
{
	char *yaml;

	f->dir  = tb_dir();
	yaml    = xasprintf("opcenter:\n"
	                       "  state_dir: %s/state\n"
	                       "  heartbeat_ms: 50\n"
	                       "supervisor:\n"
	                       "  restart_backoff_min: 50ms\n"
	                       "  restart_backoff_max: 200ms\n"
	                       "  crash_loop_restarts: 2\n"
	                       "  crash_loop_window: 60s\n"
	                       "  stop_grace: 5s\n"
	                       "  stale_after: %s\n"
	                       "  start_timeout: %s\n"
	                       "  status_every: 100ms\n"
	                       "instances:\n"
	                       "  %s:\n"
	                       "    service: testprod\n"
	                       "    bin: %s\n",
	       f->dir, stale, stale, name, bin);
	f->topo = tb_topo(f->dir, yaml);
	free(yaml);
	f->sup = tb_start(&supervisor_def, f->topo, "supervisor");
}

static void
fx_stop(struct fx *f)
{
	tb_shutdown(&f->sup);
	(void) unsetenv("OPC_SUPERVISOR_PID"); /* set for its children */
	topo_close(&f->topo);
	tb_rmrf(f->dir);
	free(f->dir);
}

/* proc returns the supervisor's status of its one process (new). */
static json_t *
proc(struct fx *f)
{
	json_t *s = tb_status(f->topo, "supervisor"), *p;

	assert_non_null(s);
	p = json_incref(tb_get(s, "processes.0"));
	json_decref(s);
	assert_non_null(p);
	return (p);
}

/* wait_state waits until the process is in state with at least restarts
 * restarts and returns its status (new). */
static json_t *
wait_state(struct fx *f, const char *state, int64_t restarts)
{
	struct timespec ts       = { 0, 20 * 1000 * 1000 };
	int64_t         deadline = mono_ms() + WAIT;
	json_t         *p;

	for (;;) {
		p = proc(f);
		if (strcmp(tb_str(p, "state"), state) == 0 &&
		    tb_int(p, "restart_count") >= restarts &&
		    (strcmp(state, "running") != 0 || tb_int(p, "pid") > 0))
			return (p);
		if (mono_ms() > deadline)
			fail_msg("never %s after %lld restarts: %s", state,
			    (long long) restarts, json_dumps(p, JSON_COMPACT));
		json_decref(p);
		nanosleep(&ts, NULL);
	}
}

static json_t *
events(struct fx *f, const char *topic, size_t n)
{
	json_t *ev = tb_wait_events(f->topo, "supervisor", topic, n, WAIT);

	if (json_array_size(ev) < n)
		fail_msg("%zu %s, wanted %zu", json_array_size(ev), topic, n);
	return (ev);
}

/* ------------------------------------------------------------------ cases */

/* A daemon is started, heartbeats, is restarted after it is killed
 * (supervisor.service_restarted), and stopped at shutdown. */
static void
test_start_restart(void **state)
{
	struct fx f;
	json_t   *p, *ev;
	int64_t   pid;
	char     *path;

	UNUSED(state);
	fx_start(&f, "prod", OPC_BIN_DIR "/opc-testprod", "20s");
	p   = wait_state(&f, "running", 0);
	pid = tb_int(p, "pid");
	assert_string_equal(tb_str(p, "role"), "prod");
	assert_string_equal(tb_str(p, "service"), "testprod");
	assert_true(json_is_true(tb_get(p, "alive")));
	json_decref(p);
	/* its own ctl answers: it runs as the supervisor started it */
	assert_int_equal(tb_wait_int(f.topo, "prod", "pid", pid, WAIT), pid);

	assert_int_equal(kill((pid_t) pid, SIGKILL), 0);
	ev = events(&f, "supervisor.service_restarted", 1);
	assert_string_equal(tb_str(ev, "0.body.instance"), "prod");
	assert_int_equal(tb_int(ev, "0.body.restart_count"), 1);
	assert_string_equal(
	    tb_str(ev, "0.body.exit_status"), "signal 9 (Killed)");
	assert_int_not_equal(tb_int(ev, "0.body.pid"), pid);
	p = wait_state(&f, "running", 1);
	assert_int_equal(tb_int(p, "pid"), tb_int(ev, "0.body.pid"));
	assert_string_equal(tb_str(p, "last_exit"), "signal 9 (Killed)");
	pid = tb_int(p, "pid");
	json_decref(p);
	json_decref(ev);
	assert_int_equal(tb_wait_int(f.topo, "prod", "pid", pid, WAIT), pid);

	/* the status file says the same */
	path = xasprintf("%s/state/supervisor.status.json", f.dir);
	p    = json_load_file(path, 0, NULL);
	assert_non_null(p);
	assert_string_equal(tb_str(p, "processes.0.role"), "prod");
	json_decref(p);
	free(path);

	tb_shutdown(&f.sup);
	assert_int_not_equal(kill((pid_t) pid, 0), 0); /* reaped: gone */
	fx_stop(&f);
}

/* A program that exits at once is restarted with backoff until it has
 * crash-looped: failed (supervisor.service_failed), not restarted. */
static void
test_crash_loop(void **state)
{
	struct fx f;
	json_t   *ev, *p;

	UNUSED(state);
	fx_start(&f, "bad", "/bin/false", "20s");
	ev = events(&f, "supervisor.service_failed", 1);
	assert_string_equal(tb_str(ev, "0.body.instance"), "bad");
	assert_int_equal(tb_int(ev, "0.body.restarts"), 3);
	assert_int_equal(tb_int(ev, "0.body.window_s"), 60);
	assert_string_equal(tb_str(ev, "0.body.exit_status"), "exit 1");
	json_decref(ev);
	ev = tb_events(f.topo, "supervisor", "supervisor.service_restarted");
	assert_int_equal(json_array_size(ev), 2);
	json_decref(ev);
	p = wait_state(&f, "failed", 2);
	assert_false(json_is_true(tb_get(p, "alive")));
	json_decref(p);
	fx_stop(&f);
}

/* A process that never heartbeats is reported stale once and killed for
 * a restart. */
static void
test_stale(void **state)
{
	struct fx f;
	json_t   *ev;
	char     *script, *dir = tb_dir();
	FILE     *fp;

	UNUSED(state);
	script = xasprintf("%s/mute.sh", dir);
	assert_non_null(fp = fopen(script, "w"));
	fputs("#!/bin/sh\nexec sleep 60\n", fp);
	fclose(fp);
	assert_int_equal(chmod(script, 0700), 0);
	fx_start(&f, "mute", script, "1s");
	ev = events(&f, "supervisor.stale", 1);
	assert_string_equal(tb_str(ev, "0.body.instance"), "mute");
	assert_true(tb_int(ev, "0.body.age_ms") > 1000);
	json_decref(ev);
	ev = events(&f, "supervisor.service_restarted", 1);
	assert_string_equal(
	    tb_str(ev, "0.body.exit_status"), "signal 9 (Killed)");
	json_decref(ev);
	fx_stop(&f);
	tb_rmrf(dir);
	free(dir);
	free(script);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_restart),
		cmocka_unit_test(test_crash_loop),
		cmocka_unit_test(test_stale),
	};

	log_init("test_supervisor_svc", NULL, LOG_WARN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
