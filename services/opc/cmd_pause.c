/*
 * cmd_pause.c - `opc pause` and `opc resume`: the emergency stop, kept by
 * the router (its db: it survives restarts).  While paused, nothing of
 * the scope is dispatched; --stop-running also stops the runs in flight
 * (their tasks wait queued).  Both are state-changing ctl requests,
 * refused over a plain tcp ctl listener.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "opc.h"
#include "opc/err.h"
#include "opc/util.h"

static const char pause_usage[] =
    "usage: opc pause [--repo R] --reason TEXT [--stop-running] [--json]\n"
    "       opc resume [--repo R] [--json]\n"
    "       (without --repo: every repo; the reason is required)\n";

static void
print_json(json_t *d)
{
	json_dumpf(d, stdout, JSON_INDENT(2));
	printf("\n");
}

int
cmd_pause(struct opc *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "reason", required_argument, NULL, 'm' },
		{ "stop-running", no_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct msg_router_pause rq;
	json_t                 *d    = NULL;
	bool                    json = false;
	int                     ch;

	memset(&rq, 0, sizeof(rq));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'r')
			rq.repo_key = optarg;
		else if (ch == 'm')
			rq.reason = optarg;
		else if (ch == 's')
			rq.stop_running = true;
		else if (ch == 'j')
			json = true;
		else {
			fputs(pause_usage, stderr);
			return (2);
		}
	}
	if (optind < argc || rq.reason == NULL || rq.reason[0] == '\0') {
		fprintf(stderr, "opc pause: %s\n%s",
		    optind < argc ? "unexpected argument"
		                  : "--reason TEXT is required",
		    pause_usage);
		return (2);
	}
	if (opc_call(o, "pause", "router", MSG_ROUTER_PAUSE, &rq, &d,
	        OPC_CTL_TIMEOUT) != 0)
		return (1);
	if (json)
		print_json(d);
	else {
		printf("dispatch %s (%s): %s\n",
		    json_is_true(json_object_get(d, "changed"))
		        ? "paused"
		        : "was already paused",
		    opc_jstr(d, "repo_key", "all repos"),
		    opc_jstr(d, "reason", "-"));
		if (rq.stop_running)
			printf("%lld run(s) in flight stopped; their tasks "
			       "wait queued\n",
			    (long long) json_integer_value(
			        json_object_get(d, "stopped")));
		printf("`opc resume%s%s` lifts it\n",
		    rq.repo_key ? " --repo " : "",
		    rq.repo_key ? rq.repo_key : "");
	}
	json_decref(d);
	return (0);
}

/* not_paused: a resume of a scope that is not paused says what is. */
static void
not_paused(const char *repo, const json_t *pause)
{
	const json_t *all = json_object_get(pause, "all");
	const char   *k;
	json_t       *v;

	printf(
	    "not paused (%s): nothing to resume\n", repo ? repo : "all repos");
	if (json_is_object(all))
		printf("the pause of every repo is in force: `opc resume` "
		       "lifts it\n");
	json_object_foreach ((json_t *) json_object_get(pause, "repos"), k, v)
		printf("repo %s is paused: `opc resume --repo %s` lifts it\n",
		    k, k);
}

int
cmd_resume(struct opc *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct msg_router_resume rq;
	json_t                  *d    = NULL;
	bool                     json = false;
	int                      ch;

	memset(&rq, 0, sizeof(rq));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'r')
			rq.repo_key = optarg;
		else if (ch == 'j')
			json = true;
		else {
			fputs(pause_usage, stderr);
			return (2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "opc resume: unexpected argument %s\n%s",
		    argv[optind], pause_usage);
		return (2);
	}
	if (opc_call(o, "resume", "router", MSG_ROUTER_RESUME, &rq, &d,
	        OPC_CTL_TIMEOUT) != 0)
		return (1);
	if (json)
		print_json(d);
	else if (json_is_true(json_object_get(d, "changed")))
		printf("dispatch resumed (%s) after %llds; %lld task(s) "
		       "waited\n",
		    opc_jstr(d, "repo_key", "all repos"),
		    (long long) (time(NULL) -
		        json_integer_value(json_object_get(d, "since_ms")) /
		            1000),
		    (long long) json_integer_value(
		        json_object_get(d, "waiting")));
	else
		not_paused(rq.repo_key, json_object_get(d, "pause"));
	json_decref(d);
	return (0);
}
