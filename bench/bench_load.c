/*
 * bench_load.c - adds tasks to the local board from one process, the way
 * `opc task add --request-id` does (the same ctl board.task_add request
 * to the board-sync instance), without a process start per task: under
 * ASan on two cores `opc` costs about 0.1-0.2 s of CPU per call, which
 * would dominate a 2,000-task run.  Task i (FIRST <= i <= N, step STEP)
 * has request id PREFIX-i and goal "PREFIX task i: write the artifact",
 * or "...: please ask first" when i is a multiple of ASK (0: never).  A
 * failed call (board-sync down, killed mid-request) is retried with the
 * same request id, which board-sync answers with the task it created
 * before, so a retry never adds a task twice.  Optionally paced: one task
 * every PACE ms.  Exits 0 when every task was added, 1 otherwise.
 *
 * usage: bench_load -c CONFIG -n N [-f FIRST] [-s STEP] [-a ASK]
 *                   [-p PREFIX] [-r REPO] [-m PACE_MS] [-q]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "opc/log.h"
#include "opc/svc.h"
#include "opc/topo.h"
#include "opc/util.h"

#define RETRIES 600 /* x 100 ms: a minute of board-sync being away */

int
main(int argc, char **argv)
{
	const char *cfg = NULL, *prefix = "chaos", *repo = "demo";
	long        n = 0, first = 1, step = 1, ask = 0, pace = 0;
	struct msg_board_task_add a;
	const struct topo_inst   *b = NULL;
	struct topo              *t;
	char                      err[512], *rid, *goal;
	int64_t                   next;
	long                      i, tries, failed = 0, retried = 0;
	size_t                    k;
	int                       ch, quiet = 0;

	while ((ch = getopt(argc, argv, "c:n:f:s:a:p:r:m:q")) != -1) {
		switch (ch) {
		case 'c':
			cfg = optarg;
			break;
		case 'n':
			n = atol(optarg);
			break;
		case 'f':
			first = atol(optarg);
			break;
		case 's':
			step = atol(optarg) > 0 ? atol(optarg) : 1;
			break;
		case 'a':
			ask = atol(optarg);
			break;
		case 'p':
			prefix = optarg;
			break;
		case 'r':
			repo = optarg;
			break;
		case 'm':
			pace = atol(optarg);
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			fprintf(stderr,
			    "usage: bench_load -c CONFIG -n N [-f "
			    "FIRST] [-s STEP] [-a ASK] [-p PREFIX] "
			    "[-r REPO] [-m PACE_MS] [-q]\n");
			return (2);
		}
	}
	log_init("bench_load", NULL, LOG_ERROR);
	if (cfg == NULL || topo_load(&t, cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_load: %s\n", cfg ? err : "-c required");
		return (2);
	}
	for (k = 0; k < t->ninst && b == NULL; k++)
		if (strcmp(t->inst[k].service, "board-sync") == 0)
			b = &t->inst[k];
	if (b == NULL) {
		fprintf(stderr, "bench_load: no board-sync instance\n");
		return (2);
	}
	next = mono_ms();
	for (i = first; i <= n; i += step) {
		rid  = xasprintf("%s-%ld", prefix, i);
		goal = xasprintf("%s task %ld: %s", prefix, i,
		    ask > 0 && i % ask == 0 ? "please ask first"
		                            : "write the artifact");
		memset(&a, 0, sizeof(a));
		a.repo_key   = (char *) repo;
		a.goal       = goal;
		a.request_id = rid;
		sleep_ms((int) (next - mono_ms()));
		for (tries = 0; ctl_call(b->ctl, MSG_BOARD_TASK_ADD, &a, NULL,
		                    err, sizeof(err), 2000) != 0;
		     tries++) {
			if (tries == RETRIES) {
				fprintf(
				    stderr, "bench_load: %s: %s\n", rid, err);
				failed++;
				break;
			}
			retried++;
			sleep_ms(100);
		}
		next += pace;
		free(rid);
		free(goal);
	}
	if (!quiet)
		printf("bench_load: %ld tasks, %ld retried calls, %ld "
		       "failed\n",
		    (n - first) / step + 1, retried, failed);
	topo_close(&t);
	return (failed == 0 ? 0 : 1);
}
