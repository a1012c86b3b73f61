/*
 * bench_raw.c - raw nng on ipc (through bus.c, so with opcenter's socket
 * options and nothing else), the baseline the durable hop is compared
 * with.  Two processes each time:
 *   pub/sub  the child subscribes and counts; the parent publishes N
 *            messages of SIZE bytes as fast as it can.  Prints messages/s
 *            seen by the subscriber and the loss (pub/sub drops when the
 *            subscriber falls behind: that is why opcenter journals).
 *   req/rep  the child answers (echo); the parent makes N/10 round trips
 *            of SIZE bytes one at a time, then again with BATCH messages
 *            packed into each request (how replay answers travel).
 *            Prints round trips/s and messages/s.
 *
 * usage: bench_raw [-n N] [-s SIZE] [-b BATCH] [-d DIR]
 */
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "opc/bus.h"
#include "opc/log.h"
#include "opc/util.h"

static int
subscriber(const char *url, long n, int wfd)
{
	struct bus    *sub;
	struct bus_msg m;
	long           got   = 0;
	int64_t        first = 0, last = 0, t;
	char           line[128];

	if (bus_open(&sub, BUS_SUB, url) != 0)
		return (1);
	bus_subscribe(sub, "");
	bus_set_timeout(sub, 2000);
	if (write(wfd, "r", 1) != 1)
		return (1);
	while (got < n) {
		if (bus_recv(sub, &m, 0) != 0)
			break; /* 2 s of silence: the sender is done */
		t = mono_ms();
		if (got == 0)
			first = t;
		last = t;
		got++;
		bus_msg_free(&m);
	}
	snprintf(
	    line, sizeof(line), "%ld %lld\n", got, (long long) (last - first));
	if (write(wfd, line, strlen(line)) < 0)
		return (1);
	bus_close(&sub);
	return (0);
}

/* echo answers every request with its own bytes; an empty request is
 * the last (or 60 s of silence: the parent died). */
static int
echo(const char *url, int wfd)
{
	struct bus    *rep;
	struct bus_msg m;
	size_t         len = 1;

	if (bus_open(&rep, BUS_REP, url) != 0)
		return (1);
	bus_set_timeout(rep, 60000);
	if (write(wfd, "r", 1) != 1)
		return (1);
	while (len > 0 && bus_recv(rep, &m, 0) == 0) {
		len = m.len;
		(void) bus_send(rep, m.data, m.len, 0);
		bus_msg_free(&m);
	}
	bus_close(&rep);
	return (0);
}

/* round_trips makes n blocking round trips of len bytes; ms taken. */
static int64_t
round_trips(struct bus *req, const char *buf, size_t len, long n)
{
	struct bus_msg m;
	int64_t        t0 = mono_ms();
	long           i;

	for (i = 0; i < n; i++) {
		if (bus_send(req, buf, len, 0) != 0 ||
		    bus_recv(req, &m, 0) != 0)
			return (-1);
		bus_msg_free(&m);
	}
	return (mono_ms() - t0);
}

/* reqrep runs the req/rep figures against the echo child pid, which
 * writes one byte to rfd once it listens on url. */
static int
reqrep(const char *url, pid_t pid, int rfd, long n, size_t size, long batch)
{
	char       *buf, c;
	struct bus *req;
	int64_t     ms1, msb;
	int         st;

	if (read(rfd, &c, 1) != 1 || bus_open(&req, BUS_REQ, url) != 0)
		return (1);
	bus_set_timeout(req, 5000);
	buf = xcalloc((size_t) batch, size);
	(void) round_trips(req, buf, size, 100); /* connect, warm up */
	ms1 = round_trips(req, buf, size, n);
	msb = round_trips(req, buf, size * (size_t) batch, n / batch + 1);
	(void) round_trips(req, buf, 0, 1); /* the child's last */
	bus_close(&req);
	free(buf);
	close(rfd);
	waitpid(pid, &st, 0);
	if (ms1 < 0 || msb < 0)
		return (1);
	printf("raw_reqrep_ipc size=%zu round_trips=%ld seconds=%.3f "
	       "round_trips_per_s=%.0f\n",
	    size, n, (double) ms1 / 1000.0,
	    ms1 > 0 ? (double) n * 1000.0 / (double) ms1 : 0.0);
	printf("raw_reqrep_ipc_batched size=%zu batch=%ld round_trips=%ld "
	       "seconds=%.3f msgs_per_s=%.0f\n",
	    size, batch, n / batch + 1, (double) msb / 1000.0,
	    msb > 0 ? (double) (n / batch + 1) * (double) batch * 1000.0 /
	            (double) msb
	            : 0.0);
	return (0);
}

int
main(int argc, char **argv)
{
	long        n = 500000, got = 0, batch = 64;
	long long   ms   = 0;
	size_t      size = 256;
	const char *dir  = "/tmp";
	char       *url, *rrurl, *buf, line[128];
	struct bus *pub;
	int         ch, p[2], rp[2], st, rv;
	pid_t       pid, rrpid;
	long        i;
	FILE       *f;

	while ((ch = getopt(argc, argv, "n:s:b:d:")) != -1) {
		switch (ch) {
		case 'n':
			n = atol(optarg);
			break;
		case 's':
			size = (size_t) atol(optarg);
			break;
		case 'b':
			batch = atol(optarg) > 0 ? atol(optarg) : 1;
			break;
		case 'd':
			dir = optarg;
			break;
		default:
			fprintf(stderr,
			    "usage: bench_raw [-n N] [-s SIZE] "
			    "[-b BATCH] [-d DIR]\n");
			return (2);
		}
	}
	log_init("bench_raw", NULL, LOG_WARN);
	url   = xasprintf("ipc://%s/bench_raw.%d", dir, (int) getpid());
	rrurl = xasprintf("ipc://%s/bench_rr.%d", dir, (int) getpid());
	/* nng is not fork-safe: fork both children before the first
	 * socket. */
	if (pipe(rp) != 0)
		return (1);
	if ((rrpid = fork()) == 0) {
		close(rp[0]);
		_exit(echo(rrurl, rp[1]));
	}
	close(rp[1]);
	if (pipe(p) != 0)
		return (1);
	if ((pid = fork()) == 0) {
		close(p[0]);
		_exit(subscriber(url, n, p[1]));
	}
	close(p[1]);
	if (bus_open(&pub, BUS_PUB, url) != 0)
		return (1);
	if (read(p[0], line, 1) != 1)
		return (1);
	sleep_ms(500); /* the subscriber's dial (with backoff) completes */
	buf = xcalloc(1, size);
	memcpy(buf, "bench\0", 6);
	for (i = 0; i < n; i++)
		bus_send(pub, buf, size, 0);
	f = fdopen(p[0], "r");
	if (f == NULL || fgets(line, sizeof(line), f) == NULL)
		return (1);
	sscanf(line, "%ld %lld", &got, &ms);
	waitpid(pid, &st, 0);
	printf("raw_pubsub_ipc size=%zu sent=%ld received=%ld loss=%.2f%% "
	       "msgs_per_s=%.0f\n",
	    size, n, got, 100.0 * (double) (n - got) / (double) n,
	    ms > 0 ? (double) got * 1000.0 / (double) ms : 0.0);
	bus_close(&pub);
	free(buf);
	free(url);
	rv = reqrep(
	    rrurl, rrpid, rp[0], n / 10 > 1000 ? n / 10 : 1000, size, batch);
	free(rrurl);
	return (rv);
}
