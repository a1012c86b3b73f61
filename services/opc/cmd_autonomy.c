/*
 * cmd_autonomy.c - `opc autonomy-cycle` and `opc proposals`.
 *
 * autonomy-cycle runs the original's four stages now, through the
 * daemons: the observer observes (observer.observe), the insighter
 * derives from the new snapshots (we wait until its runs name them), the
 * proposer has applied those runs (its status names them), then one
 * proposer cycle: a dry run prints what it would create and why the rest
 * is suppressed; --execute creates the tasks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "opc.h"
#include "opc/err.h"
#include "opc/report.h"
#include "opc/util.h"

static const char cycle_usage[] =
    "usage: opc autonomy-cycle [--execute] [--repo R] [--json] [--wait S]\n"
    "  --execute  create the tasks (default: dry run, nothing changes)\n"
    "  --repo R   only repo R (default: every observed repo)\n"
    "  --wait S   seconds to wait for each stage (default 120)\n";

static const char prop_usage[] =
    "usage: opc proposals rejections [--json]\n"
    "       opc proposals calibration [--window-days N] [--json]\n"
    "       opc proposals reject DEDUP_KEY [--reason TEXT] [--task ID]\n"
    "       opc proposals patterns [--repo R] [--family F] [--json]\n"
    "       opc proposals feedback record --task-id ID\n"
    "                    --outcome merged|rejected|abandoned\n"
    "                    [--family F] [--confidence high|medium|low]"
    " [--note T]\n"
    "       (family and confidence are the proposal's when the proposer\n"
    "       made the task, required otherwise; a record replaces what the\n"
    "       board said of the task)\n";

/* applied reports whether every started observation is reflected in
 * the service's runs: for the insighter repos[r].snapshot_run == run_id,
 * for the proposer insight_runs[r] == ins_<suffix of run_id>. */
static int
applied(const json_t *started, const json_t *data, int proposer)
{
	json_t     *s;
	const char *repo, *run, *have;
	size_t      i;
	int         ok = 1;

	json_array_foreach (started, i, s) {
		repo = opc_jstr(s, "repo", "");
		run  = opc_jstr(s, "run_id", "");
		if (proposer)
			have = opc_jstr(
			    json_object_get(data, "insight_runs"), repo, "");
		else
			have =
			    opc_jstr(json_object_get(
			                 json_object_get(data, "repos"), repo),
			        "snapshot_run", "");
		if (proposer ? strncmp(have, "ins_", 4) != 0 ||
		            strncmp(run, "obs_", 4) != 0 ||
		            strcmp(have + 4, run + 4) != 0
		             : strcmp(have, run) != 0)
			ok = 0;
	}
	return (ok);
}

/* await polls service until applied(), for up to wait_s seconds. */
static int
await(struct opc *o, const char *service, enum msg_topic t, const void *body,
    const json_t *started, int wait_s, json_t **data)
{
	int64_t end = mono_ms() + (int64_t) wait_s * 1000;

	for (;;) {
		if (opc_call(o, "autonomy-cycle", service, t, body, data,
		        OPC_CTL_TIMEOUT) != 0)
			return (1);
		if (applied(started, *data, t == MSG_CTL_STATUS))
			return (0);
		json_decref(*data);
		*data = NULL;
		if (mono_ms() > end) {
			fprintf(stderr,
			    "opc autonomy-cycle: the %s has not"
			    " applied the new snapshots after %d s\n",
			    service, wait_s);
			return (1);
		}
		sleep_ms(200);
	}
}

/* insight_reports waits (up to wait_s) until the insighter has written
 * the insights report of each started observation's analysis; ins is
 * replaced by the newest answer.  A report late is no error: the
 * printout says so. */
static void
insight_reports(struct opc *o, const struct msg_insighter_insights *q,
    const json_t *started, int wait_s, json_t **ins)
{
	int64_t end = mono_ms() + (int64_t) wait_s * 1000;
	json_t *d, *s, *r;
	size_t  i;
	bool    all;

	for (;;) {
		all = true;
		json_array_foreach (started, i, s) {
			r = json_object_get(json_object_get(*ins, "repos"),
			    opc_jstr(s, "repo", ""));
			if (json_object_get(r, "report") == NULL)
				all = false;
		}
		if (all || mono_ms() > end)
			return;
		sleep_ms(100);
		if (opc_call(o, "autonomy-cycle", "insighter",
		        MSG_INSIGHTER_INSIGHTS, q, &d, OPC_CTL_TIMEOUT) != 0)
			return;
		json_decref(*ins);
		*ins = d;
	}
}

/* cycle_report writes the cycle's report (reports/cycle): each stage's
 * artifact and the summary, and prints where. */
static void
cycle_report(struct opc *o, const json_t *obs, const json_t *ins,
    const json_t *cy, bool json)
{
	struct topo *t  = opc_topo(o);
	json_t      *ip = json_object(), *doc, *r;
	const char  *repo;
	char        *path = NULL;

	json_object_foreach (json_object_get(ins, "repos"), repo, r)
		json_object_set(ip, repo, json_object_get(r, "report"));
	doc = json_pack("{s:s, s:I, s:b, s:{s:O, s:o, s:O?, s:O?},"
	                " s:I, s:I, s:I}",
	    "cycle_id", opc_jstr(cy, "cycle_id", "?"), "generated_at",
	    (json_int_t) now_ms(), "dry_run",
	    json_is_true(json_object_get(cy, "dry_run")), "artifacts",
	    "observe", obs, "insights", ip, "decide",
	    json_object_get(json_object_get(cy, "reports"), "decide"),
	    "propose",
	    json_object_get(json_object_get(cy, "reports"), "propose"),
	    "created",
	    (json_int_t) (json_is_true(json_object_get(cy, "dry_run"))
	            ? 0
	            : json_array_size(json_object_get(cy, "created"))),
	    "skipped",
	    (json_int_t) json_array_size(json_object_get(cy, "suppressed")),
	    "failed", (json_int_t) 0);
	if (t == NULL ||
	    report_write(&path, t->state_dir, "cycle", doc, t->reports_keep) !=
	        0)
		fprintf(stderr,
		    "opc autonomy-cycle: cannot write the cycle"
		    " report\n");
	else if (!json)
		printf("Cycle report → %s\n", path);
	free(path);
	json_decref(doc);
}

int
cmd_autonomy_cycle(struct opc *o, int argc, char **argv)
{
	struct msg_observer_observe   ob = { NULL };
	struct msg_insighter_insights iq = { NULL };
	struct msg_proposer_cycle_now cq = { false, NULL };
	json_t *st = NULL, *ins = NULL, *ps = NULL, *cy = NULL, *r;
	json_t *obs  = NULL;
	bool    json = false;
	size_t  k;
	int     a, wait_s = 120, rv = 1;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--execute") == 0)
			cq.execute = true;
		else if (strcmp(argv[a], "--json") == 0)
			json = true;
		else if (strcmp(argv[a], "--repo") == 0 && a + 1 < argc)
			ob.repo = iq.repo = cq.repo = argv[++a];
		else if (strcmp(argv[a], "--wait") == 0 && a + 1 < argc &&
		    (wait_s = atoi(argv[++a])) > 0)
			continue;
		else {
			fprintf(stderr, "%s", cycle_usage);
			return (opc_wants_help(argc, argv) ? 0 : 2);
		}
	}
	if (opc_call(o, "autonomy-cycle", "observer", MSG_OBSERVER_OBSERVE,
	        &ob, &st, OPC_CTL_TIMEOUT) != 0)
		return (1);
	if ((obs = opc_observe_reports(
	         o, json_object_get(st, "started"), wait_s)) == NULL)
		goto out;
	if (!json)
		json_array_foreach (json_object_get(st, "started"), k, r)
			printf("[1/4] observe → %s: %s → %s\n",
			    opc_jstr(r, "repo", "?"),
			    opc_jstr(r, "run_id", "?"),
			    opc_jstr(obs, opc_jstr(r, "repo", ""), "?"));
	if (await(o, "insighter", MSG_INSIGHTER_INSIGHTS, &iq,
	        json_object_get(st, "started"), wait_s, &ins) != 0 ||
	    await(o, "proposer", MSG_CTL_STATUS, NULL,
	        json_object_get(st, "started"), wait_s, &ps) != 0)
		goto out;
	insight_reports(o, &iq, json_object_get(st, "started"), 10, &ins);
	if (!json)
		opc_print_insights(
		    json_object_get(ins, "repos"), "[2/4] insights →");
	if (opc_call(o, "autonomy-cycle", "proposer", MSG_PROPOSER_CYCLE_NOW,
	        &cq, &cy, 30000) != 0)
		goto out;
	if (json) {
		json_t *all = json_pack("{s:O, s:O, s:O}", "observe", st,
		    "insights", json_object_get(ins, "repos"), "cycle", cy);

		json_dumpf(all, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(all);
	} else {
		opc_print_decision(cy, "[3/4] decide →");
		opc_print_proposal(cy, "[4/4] propose →");
	}
	cycle_report(o, obs, ins, cy, json);
	rv = 0;
out:
	json_decref(st);
	json_decref(obs);
	json_decref(ins);
	json_decref(ps);
	json_decref(cy);
	return (rv);
}

static int
rejections(struct opc *o, bool json)
{
	json_t *d, *r;
	size_t  i;
	char    at[40];

	if (opc_call(o, "proposals", "proposer", MSG_PROPOSER_REJECTIONS, NULL,
	        &d, OPC_CTL_TIMEOUT) != 0)
		return (1);
	if (json) {
		json_dumpf(d, stdout, JSON_INDENT(2));
		printf("\n");
	} else {
		printf("%-48s %-10s %-20s %s\n", "DEDUP_KEY", "TASK",
		    "RECORDED", "REASON");
		json_array_foreach (json_object_get(d, "rejections"), i, r)
			printf("%-48s %-10s %-20.19s %s\n",
			    opc_jstr(r, "dedup_key", "?"),
			    opc_jstr(r, "task_id", "-"),
			    iso8601(json_integer_value(
			                json_object_get(r, "recorded_at")),
			        at, sizeof(at)),
			    opc_jstr(r, "reason", "-"));
	}
	json_decref(d);
	return (0);
}

static int
calibration(struct opc *o, int64_t days, bool json)
{
	struct msg_proposer_calibration q = { days };
	json_t                         *d, *r;
	size_t                          i;

	if (opc_call(o, "proposals", "proposer", MSG_PROPOSER_CALIBRATION, &q,
	        &d, OPC_CTL_TIMEOUT) != 0)
		return (1);
	if (json) {
		json_dumpf(d, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(4));
		printf("\n");
		json_decref(d);
		return (0);
	}
	printf("calibration over %lld days (min sample %lld)\n",
	    (long long) json_integer_value(json_object_get(d, "window_days")),
	    (long long) json_integer_value(json_object_get(d, "min_sample")));
	printf("%-22s %-7s %5s %6s %8s %9s %7s %7s %6s  %s\n", "FAMILY",
	    "CONF", "TOTAL", "MERGED", "REJECTED", "ABANDONED", "ACCEPT",
	    "EXPECT", "RATIO", "NOTE");
	json_array_foreach (json_object_get(d, "rows"), i, r)
		printf("%-22s %-7s %5lld %6lld %8lld %9lld %7.2f %7.2f %6.2f%s"
		       "  %s\n",
		    opc_jstr(r, "family", "?"), opc_jstr(r, "confidence", "?"),
		    (long long) json_integer_value(
		        json_object_get(r, "total")),
		    (long long) json_integer_value(
		        json_object_get(r, "merged")),
		    (long long) json_integer_value(
		        json_object_get(r, "rejected")),
		    (long long) json_integer_value(
		        json_object_get(r, "abandoned")),
		    json_number_value(json_object_get(r, "acceptance_rate")),
		    json_number_value(json_object_get(r, "expected_rate")),
		    json_number_value(json_object_get(r, "calibration_ratio")),
		    opc_jstr(r, "mark", ""), opc_jstr(r, "note", ""));
	if (json_array_size(json_object_get(d, "rows")) == 0)
		printf("(no outcomes yet: proposed tasks count once Done,"
		       " Cancelled or Blocked)\n");
	json_decref(d);
	return (0);
}

static int
reject(struct opc *o, int argc, char **argv)
{
	struct msg_proposer_reject q = { NULL, NULL, NULL };
	json_t                    *d;
	int                        a;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--reason") == 0 && a + 1 < argc)
			q.reason = argv[++a];
		else if (strcmp(argv[a], "--task") == 0 && a + 1 < argc)
			q.task_id = argv[++a];
		else if (argv[a][0] != '-' && q.dedup_key == NULL)
			q.dedup_key = argv[a];
		else
			goto usage;
	}
	if (q.dedup_key == NULL)
		goto usage;
	if (opc_call(o, "proposals", "proposer", MSG_PROPOSER_REJECT, &q, &d,
	        OPC_CTL_TIMEOUT) != 0)
		return (1);
	printf("%s: %s\n", q.dedup_key,
	    json_is_true(json_object_get(d, "recorded")) ? "rejected for good"
	                                                 : "already rejected");
	json_decref(d);
	return (0);
usage:
	fprintf(stderr, "%s", prop_usage);
	return (2);
}

/* feedback: `opc proposals feedback record ...` (argv[0] "feedback"). */
static int
feedback(struct opc *o, int argc, char **argv)
{
	struct msg_proposer_feedback_record q;
	json_t                             *d;
	int                                 a;

	memset(&q, 0, sizeof(q));
	if (argc < 2 || strcmp(argv[1], "record") != 0)
		goto usage;
	for (a = 2; a < argc; a++) {
		if (a + 1 >= argc)
			goto usage;
		if (strcmp(argv[a], "--task-id") == 0)
			q.task_id = argv[++a];
		else if (strcmp(argv[a], "--outcome") == 0)
			q.outcome = argv[++a];
		else if (strcmp(argv[a], "--family") == 0)
			q.family = argv[++a];
		else if (strcmp(argv[a], "--confidence") == 0)
			q.confidence = argv[++a];
		else if (strcmp(argv[a], "--note") == 0)
			q.note = argv[++a];
		else
			goto usage;
	}
	if (q.task_id == NULL || q.outcome == NULL)
		goto usage;
	if (opc_call(o, "proposals", "proposer", MSG_PROPOSER_FEEDBACK_RECORD,
	        &q, &d, OPC_CTL_TIMEOUT) != 0)
		return (1);
	printf("%s: %s recorded (%s, %s)\n", opc_jstr(d, "task_id", "?"),
	    opc_jstr(d, "outcome", "?"), opc_jstr(d, "family", "?"),
	    opc_jstr(d, "confidence", "?"));
	json_decref(d);
	return (0);
usage:
	fprintf(stderr, "%s", prop_usage);
	return (2);
}

int
cmd_proposals(struct opc *o, int argc, char **argv)
{
	int64_t days = 0;
	bool    json = false;
	int     a;

	if (argc < 2 || opc_wants_help(argc, argv)) {
		fprintf(argc < 2 ? stderr : stdout, "%s", prop_usage);
		return (argc < 2 ? 2 : 0);
	}
	if (strcmp(argv[1], "reject") == 0)
		return (reject(o, argc - 1, argv + 1));
	if (strcmp(argv[1], "feedback") == 0)
		return (feedback(o, argc - 1, argv + 1));
	if (strcmp(argv[1], "patterns") == 0)
		return (cmd_proposals_patterns(o, argc - 1, argv + 1));
	for (a = 2; a < argc; a++) {
		if (strcmp(argv[a], "--json") == 0)
			json = true;
		else if (strcmp(argv[a], "--window-days") == 0 &&
		    a + 1 < argc && (days = atoll(argv[++a])) > 0)
			continue;
		else {
			fprintf(stderr, "%s", prop_usage);
			return (2);
		}
	}
	if (strcmp(argv[1], "rejections") == 0)
		return (rejections(o, json));
	if (strcmp(argv[1], "calibration") == 0)
		return (calibration(o, days, json));
	fprintf(stderr, "opc proposals: unknown subcommand %s\n%s", argv[1],
	    prop_usage);
	return (2);
}
