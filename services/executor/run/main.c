/*
 * main.c - opc-exec-run --request REQ.json --workspace DIR --out RESULT.json
 *          opc-exec-run --probe SPEC.json --workspace DIR --out PROBE.json
 *                       [--no-call]
 *          opc-exec-run --pr-only --request REQ.json --out PR.json
 *
 * Exit 0 once RESULT.json was written, whatever the run's outcome; exit
 * 75 (EX_TEMPFAIL) when there was no space left to write it; exit 1 (with
 * a message on stderr) when the arguments or the request are bad or the
 * result could not be written for another reason.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "opc/err.h"
#include "opc/log.h"
#include "run.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: opc-exec-run --request REQ.json --workspace DIR "
	    "--out RESULT.json\n"
	    "\n"
	    "Runs one executor run: clones the request's repository into DIR\n"
	    "(which must not exist or be empty), runs the backend and the\n"
	    "validation commands, collects and checks the diff, commits and\n"
	    "pushes on success, and writes the OcExecutionResult to\n"
	    "RESULT.json.  Exit status 0 when RESULT.json was written, 1\n"
	    "otherwise.  --children FILE: the pid of the child process\n"
	    "running now (it leads its own process group) is kept in FILE,\n"
	    "so whoever finds this worker dead can stop what it left.\n"
	    "\n"
	    "       opc-exec-run --probe SPEC.json --workspace DIR --out "
	    "PROBE.json [--no-call]\n"
	    "\n"
	    "Probes the backend_spec in SPEC.json (what `opc providers` "
	    "shows):\n"
	    "its program and version, the API key variable (name and "
	    "presence,\n"
	    "never the value), the permission or sandbox mode and, unless\n"
	    "--no-call, one real one-turn headless call in DIR, judged as a "
	    "run.\n"
	    "\n"
	    "       opc-exec-run --pr-only --request REQ.json --out PR.json\n"
	    "\n"
	    "Opens the pull request of the run of REQ.json, whose branch is\n"
	    "pushed, when the repository's caps allow (the executor's "
	    "queue):\n"
	    "an open pull request of the branch is taken as it is.\n");
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "request", required_argument, NULL, 'r' },
		{ "workspace", required_argument, NULL, 'w' },
		{ "out", required_argument, NULL, 'o' },
		{ "probe", required_argument, NULL, 'p' },
		{ "no-call", no_argument, NULL, 'n' },
		{ "children", required_argument, NULL, 'c' },
		{ "pr-only", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct exec_req rq;
	const char     *req = NULL, *ws = NULL, *out = NULL, *probe = NULL;
	char           *err = NULL;
	int             c, rv, call = 1, pr = 0;

	while ((c = getopt_long(argc, argv, "r:w:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			probe = optarg;
			break;
		case 'n':
			call = 0;
			break;
		case 'P':
			pr = 1;
			break;
		case 'c':
			proc_set_children_file(optarg);
			break;
		case 'r':
			req = optarg;
			break;
		case 'w':
			ws = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			usage(stdout);
			return (0);
		default:
			usage(stderr);
			return (1);
		}
	}
	if (pr && ws == NULL)
		ws = "."; /* --pr-only has no workspace */
	if (optind != argc || (req == NULL) == (probe == NULL) || ws == NULL ||
	    out == NULL || ws[0] == '\0' || out[0] == '\0' ||
	    (pr && probe != NULL)) {
		usage(stderr);
		return (1);
	}
	if (probe != NULL) {
		(void) log_init("exec-run", NULL, LOG_INFO);
		rv = probe_run(probe, ws, out, call);
		log_fini();
		return (rv == 0 ? 0 : 1);
	}
	if (request_load(&rq, req, &err) != 0) {
		fprintf(stderr, "opc-exec-run: bad request %s: %s\n", req,
		    err ? err : "invalid");
		free(err);
		request_fini(&rq);
		return (1);
	}
	(void) log_init("exec-run", NULL, LOG_INFO);
	pr_take_token(&rq);
	proc_install_signals();
	/* --pr-only: the run is over, its lease gone; the queue owns it */
	proc_set_lease(pr ? NULL : rq.lease_file);
	setenv("GIT_TERMINAL_PROMPT", "0", 1);
	rv = pr ? pr_only(&rq, out) : exec_run(&rq, ws, out);
	request_fini(&rq);
	log_fini();
	/* no room for the result: the executor retries the run (the disk,
	 * not the task) */
	return (rv == 0 ? 0 : rv == ERR_NOSPACE ? EX_TEMPFAIL : 1);
}
