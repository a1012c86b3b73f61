/*
 * bench_raw.c - raw nng pub/sub throughput on ipc, the baseline the
 * durable hop is compared with.  A child process subscribes and counts; the
 * parent publishes N messages of SIZE bytes as fast as it can.  Prints
 * messages/s seen by the subscriber and the loss (pub/sub drops when the
 * subscriber falls behind: that is why opcenter journals).
 *
 * usage: bench_raw [-n N] [-s SIZE] [-d DIR]
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

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int
subscriber(const char *url, long n, int wfd)
{
	struct bus    *sub;
	struct bus_msg m;
	long           got = 0;
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
	snprintf(line, sizeof(line), "%ld %lld\n", got,
	    (long long) (last - first));
	if (write(wfd, line, strlen(line)) < 0)
		return (1);
	bus_close(&sub);
	return (0);
}

int
main(int argc, char **argv)
{
	long        n = 500000, got = 0;
	long long   ms = 0;
	size_t      size = 256;
	const char *dir = "/tmp";
	char       *url, *buf, line[128];
	struct bus *pub;
	int         ch, p[2], st;
	pid_t       pid;
	long        i;
	FILE       *f;

	while ((ch = getopt(argc, argv, "n:s:d:")) != -1) {
		switch (ch) {
		case 'n':
			n = atol(optarg);
			break;
		case 's':
			size = (size_t) atol(optarg);
			break;
		case 'd':
			dir = optarg;
			break;
		default:
			fprintf(stderr, "usage: bench_raw [-n N] [-s SIZE] "
			                "[-d DIR]\n");
			return (2);
		}
	}
	log_init("bench_raw", NULL, LOG_WARN);
	url = xasprintf("ipc://%s/bench_raw.%d", dir, (int) getpid());
	/* nng is not fork-safe: fork before the first socket. */
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
	return (0);
}
