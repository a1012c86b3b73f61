/*
 * bench_hop.c - the durable hop: opc-testprod journals N events of about
 * SIZE bytes (group commit, `batch` per transaction) and publishes them;
 * opc-testcons applies each in a transaction batch with its cursor.  Two
 * figures from real processes on ipc://:
 *   live     consumer running while the producer produces: events/s from
 *            producer start to the consumer's cursor reaching N;
 *   catchup  a consumer started after everything was produced: time to
 *            replay and apply all N.
 *   restart  the live consumer is SIGKILLed, the producer journals R more
 *            events (default 100,000) while it is down, then the consumer
 *            is started again: time from its exec to its committed cursor
 *            reaching the producer's last seq (process start, replay over
 *            ctl in batches, apply with group commit).
 *
 * usage: bench_hop BIN_DIR [-n N] [-s SIZE] [-r R] [-d STATE_DIR]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "opc/log.h"
#include "opc/svc.h"
#include "opc/topo.h"
#include "opc/util.h"

static pid_t
spawn(const char *bindir, const char *prog, const char *cfg, const char *name)
{
	char *bin = xasprintf("%s/%s", bindir, prog);
	pid_t pid = fork();

	if (pid == 0) {
		char *argv[] = { bin, "-c", (char *) cfg, "-n", (char *) name,
			NULL };

		execv(bin, argv);
		_exit(127);
	}
	free(bin);
	return (pid);
}

static int64_t
status_int(struct topo *t, const char *name, const char *k1, const char *k2)
{
	json_t *d = NULL, *v;
	char    err[256];
	int64_t r = -1;

	if (ctl_call(topo_find(t, name)->ctl, MSG_CTL_STATUS, NULL, &d, err,
	        sizeof(err), 2000) != 0)
		return (-1);
	v = json_object_get(d, k1);
	if (k2 != NULL)
		v = json_object_get(v, k2);
	if (json_is_integer(v))
		r = json_integer_value(v);
	json_decref(d);
	return (r);
}

static int64_t
wait_for(struct topo *t, const char *name, const char *k1, const char *k2,
    int64_t want)
{
	struct timespec ts       = { 0, 2 * 1000 * 1000 };
	int64_t         deadline = mono_ms() + 120000;

	while (status_int(t, name, k1, k2) < want) {
		if (mono_ms() > deadline)
			return (-1);
		nanosleep(&ts, NULL);
	}
	return (mono_ms());
}

/* write_cfg writes the bench topology; prod produces `produce` events in
 * all (its journal continues from what it has). */
static int
write_cfg(const char *cfg, const char *dir, long produce, long size)
{
	FILE *f;

	if ((f = fopen(cfg, "w")) == NULL)
		return (-1);
	/* The envelope and topic add about 60 bytes to the payload. */
	fprintf(f,
	    "opcenter: { state_dir: %s/s, heartbeat_ms: 200 }\n"
	    "instances:\n"
	    "  prod: { produce: %ld, batch: 1000, payload_bytes: %ld,"
	    " idle_ms: 5 }\n"
	    "  cons: { upstreams: [prod] }\n"
	    "  late: { upstreams: [prod], service: testcons }\n",
	    dir, produce, size > 60 ? size - 60 : 1);
	return (fclose(f));
}

/* cursor_of returns name's committed cursor on prod, -1 if unknown. */
static int64_t
cursor_of(struct topo *t, const char *name)
{
	json_t *d = NULL, *v;
	char    err[256];
	int64_t r = -1;

	if (ctl_call(topo_find(t, name)->ctl, MSG_CTL_STATUS, NULL, &d, err,
	        sizeof(err), 2000) != 0)
		return (-1);
	v = json_object_get(
	    json_object_get(json_object_get(d, "upstreams"), "prod"),
	    "cursor");
	if (json_is_integer(v))
		r = json_integer_value(v);
	json_decref(d);
	return (r);
}

static void
stop(pid_t pid)
{
	int st;

	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
}

int
main(int argc, char **argv)
{
	char         tmpl[] = "/tmp/opcb.XXXXXX", *cfg, err[512];
	const char  *dir    = NULL;
	const char  *bindir;
	long         n = 200000, size = 256, r = 100000;
	struct topo *t;
	pid_t        prod, cons;
	int64_t      t0, t1;
	int          ch;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_hop BIN_DIR [-n N] [-s SIZE]\n");
		return (2);
	}
	bindir = argv[1];
	optind = 2;
	while ((ch = getopt(argc, argv, "n:s:r:d:")) != -1) {
		if (ch == 'd')
			dir = optarg;
		else if (ch == 'n')
			n = atol(optarg);
		else if (ch == 's')
			size = atol(optarg);
		else if (ch == 'r')
			r = atol(optarg);
		else
			return (2);
	}
	log_init("bench_hop", NULL, LOG_WARN);
	if (dir == NULL && (dir = mkdtemp(tmpl)) == NULL)
		return (1);
	cfg = xasprintf("%s/opcenter.yaml", dir);
	if (write_cfg(cfg, dir, n, size) != 0)
		return (1);
	if (topo_load(&t, cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return (1);
	}
	cons = spawn(bindir, "opc-testcons", cfg, "cons");
	if (wait_for(t, "cons", "journal_seq", NULL, 0) < 0)
		return (1);
	t0   = mono_ms();
	prod = spawn(bindir, "opc-testprod", cfg, "prod");
	t1   = wait_for(t, "cons", "got", NULL, n);
	if (t1 < 0) {
		fprintf(stderr, "bench_hop: consumer never caught up\n");
		return (1);
	}
	printf("durable_hop_live size=%ld events=%ld seconds=%.3f "
	       "events_per_s=%.0f\n",
	    size, n, (double) (t1 - t0) / 1000.0,
	    (double) n * 1000.0 / (double) (t1 - t0));

	/* restart: kill -9 the consumer, journal r more, start it again */
	kill(cons, SIGKILL);
	waitpid(cons, NULL, 0);
	stop(prod);
	if (write_cfg(cfg, dir, n + r, size) != 0)
		return (1);
	prod = spawn(bindir, "opc-testprod", cfg, "prod");
	if (wait_for(t, "prod", "journal_seq", NULL, n + r) < 0)
		return (1);
	t0   = mono_ms();
	cons = spawn(bindir, "opc-testcons", cfg, "cons");
	while ((t1 = cursor_of(t, "cons")) < n + r) {
		struct timespec ts = { 0, 2 * 1000 * 1000 };

		if (mono_ms() - t0 > 120000) {
			fprintf(stderr,
			    "bench_hop: restarted consumer "
			    "never caught up\n");
			return (1);
		}
		nanosleep(&ts, NULL);
	}
	t1 = mono_ms();
	printf("durable_restart_catchup events=%ld seconds=%.3f "
	       "events_per_s=%.0f (kill -9, %ld journaled while down, "
	       "restart: process start to cursor = producer seq)\n",
	    r, (double) (t1 - t0) / 1000.0,
	    (double) r * 1000.0 / (double) (t1 - t0), r);
	stop(cons);
	n += r;

	t0   = mono_ms();
	cons = spawn(bindir, "opc-testcons", cfg, "late");
	t1   = wait_for(t, "late", "got", NULL, n);
	printf("durable_catchup events=%ld seconds=%.3f events_per_s=%.0f "
	       "(includes process start)\n",
	    n, (double) (t1 - t0) / 1000.0,
	    (double) n * 1000.0 / (double) (t1 - t0));
	stop(cons);
	stop(prod);
	topo_close(&t);
	free(cfg);
	return (0);
}
