/*
 * bench_hop.c - the durable hop: opc-testprod journals N events of about
 * SIZE bytes (group commit, `batch` per transaction) and publishes them;
 * opc-testcons applies each in a transaction batch with its cursor.  Two
 * figures from real processes on ipc://:
 *   live     consumer running while the producer produces: events/s from
 *            producer start to the consumer's cursor reaching N;
 *   catchup  a consumer started after everything was produced: time to
 *            replay and apply all N.
 *
 * usage: bench_hop BIN_DIR [-n N] [-s SIZE] [-d STATE_DIR]
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
spawn(const char *bindir, const char *prog, const char *cfg,
    const char *name)
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
status_int(struct topo *t, const char *name, const char *k1,
    const char *k2)
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
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	int64_t         deadline = mono_ms() + 120000;

	while (status_int(t, name, k1, k2) < want) {
		if (mono_ms() > deadline)
			return (-1);
		nanosleep(&ts, NULL);
	}
	return (mono_ms());
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
	char        tmpl[] = "/tmp/opcb.XXXXXX", *cfg, err[512];
	const char *dir = NULL;
	const char *bindir;
	long        n = 200000, size = 256;
	struct topo *t;
	pid_t        prod, cons;
	int64_t      t0, t1;
	FILE        *f;
	int          ch;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_hop BIN_DIR [-n N] [-s SIZE]\n");
		return (2);
	}
	bindir = argv[1];
	optind = 2;
	while ((ch = getopt(argc, argv, "n:s:d:")) != -1) {
		if (ch == 'd')
			dir = optarg;
		else if (ch == 'n')
			n = atol(optarg);
		else if (ch == 's')
			size = atol(optarg);
		else
			return (2);
	}
	log_init("bench_hop", NULL, LOG_WARN);
	if (dir == NULL && (dir = mkdtemp(tmpl)) == NULL)
		return (1);
	cfg = xasprintf("%s/opcenter.yaml", dir);
	if ((f = fopen(cfg, "w")) == NULL)
		return (1);
	/* The envelope and topic add about 60 bytes to the payload. */
	fprintf(f,
	    "opcenter: { state_dir: %s/s, heartbeat_ms: 200 }\n"
	    "instances:\n"
	    "  prod: { produce: %ld, batch: 1000, payload_bytes: %ld,"
	    " idle_ms: 5 }\n"
	    "  cons: { upstreams: [prod] }\n"
	    "  late: { upstreams: [prod], service: testcons }\n",
	    dir, n, size > 60 ? size - 60 : 1);
	fclose(f);
	if (topo_load(&t, cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return (1);
	}
	cons = spawn(bindir, "opc-testcons", cfg, "cons");
	if (wait_for(t, "cons", "journal_seq", NULL, 0) < 0)
		return (1);
	t0 = mono_ms();
	prod = spawn(bindir, "opc-testprod", cfg, "prod");
	t1 = wait_for(t, "cons", "got", NULL, n);
	if (t1 < 0) {
		fprintf(stderr, "bench_hop: consumer never caught up\n");
		return (1);
	}
	printf("durable_hop_live size=%ld events=%ld seconds=%.3f "
	       "events_per_s=%.0f\n",
	    size, n, (double) (t1 - t0) / 1000.0,
	    (double) n * 1000.0 / (double) (t1 - t0));
	stop(cons);

	t0 = mono_ms();
	cons = spawn(bindir, "opc-testcons", cfg, "late");
	t1 = wait_for(t, "late", "got", NULL, n);
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
