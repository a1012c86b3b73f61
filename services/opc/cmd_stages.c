/*
 * cmd_stages.c - the autonomy loop a stage at a time (the original's
 * observe-repo, generate-insights, decide-proposals and
 * propose-from-candidates) and the live controls of the proposer:
 * `opc observe`, `opc insights`, `opc decide`, `opc propose`,
 * `opc autonomy tiers|tune|triggers`.
 *
 * Each stage is the daemon's: the observer observes, the insighter
 * derives, the proposer decides and proposes; each writes its retained
 * artifact under <state_dir>/reports/<stage>/ and these commands print
 * where.  They never open a service's database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opc.h"
#include "opc/err.h"
#include "opc/util.h"

static const char stage_usage[] =
    "usage: opc observe [--repo R] [--wait S] [--json]\n"
    "       opc insights [--repo R] [--json]\n"
    "       opc decide [--repo R] [--json]\n"
    "       opc propose [--dry-run] [--repo R] [--json]\n";

static const char autonomy_usage[] =
    "usage: opc autonomy tiers list [--json]\n"
    "       opc autonomy tiers set --family F --tier N [--note T]\n"
    "                (N 0 Backlog, 1 Ready if style, 2 Ready;"
    " -1 back to the default)\n"
    "       opc autonomy tune [--window-days N] [--apply] [--json]\n"
    "       opc autonomy tune --revert TUNE_ID\n"
    "       opc autonomy triggers [--limit N] [--json]\n";

static void
dump(const json_t *d)
{
	json_dumpf(d, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(4));
	printf("\n");
}

struct args {
	const char *repo;
	bool        json, dry;
	int         wait_s;
	int         bad;
};

static void
parse(int argc, char **argv, struct args *a, bool dry_ok)
{
	int i;

	memset(a, 0, sizeof(*a));
	a->wait_s = 120;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			a->json = true;
		else if (dry_ok && strcmp(argv[i], "--dry-run") == 0)
			a->dry = true;
		else if (strcmp(argv[i], "--repo") == 0 && i + 1 < argc)
			a->repo = argv[++i];
		else if (strcmp(argv[i], "--wait") == 0 && i + 1 < argc &&
		    (a->wait_s = atoi(argv[++i])) > 0)
			continue;
		else
			a->bad = 1;
	}
}

json_t *
opc_observe_reports(struct opc *o, const json_t *started, int wait_s)
{
	int64_t end = mono_ms() + (int64_t) wait_s * 1000;
	json_t *st  = NULL, *out, *s, *rep;
	size_t  i;
	bool    all;

	for (;;) {
		if (opc_call(o, "observe", "observer", MSG_CTL_STATUS, NULL,
		        &st, OPC_CTL_TIMEOUT) != 0)
			return (NULL);
		out = json_object();
		all = true;
		json_array_foreach (started, i, s) {
			const char *repo = opc_jstr(s, "repo", "");

			rep = json_object_get(
			    json_object_get(
			        json_object_get(st, "repos"), repo),
			    "last_report");
			if (strcmp(opc_jstr(rep, "run_id", ""),
			        opc_jstr(s, "run_id", "?")) == 0)
				json_object_set(
				    out, repo, json_object_get(rep, "path"));
			else
				all = false;
		}
		json_decref(st);
		if (all)
			return (out);
		json_decref(out);
		if (mono_ms() > end) {
			fprintf(stderr,
			    "opc observe: no snapshot stored after %d s (opc "
			    "status: the observer's repos)\n",
			    wait_s);
			return (NULL);
		}
		sleep_ms(200);
	}
}

int
cmd_observe(struct opc *o, int argc, char **argv)
{
	struct msg_observer_observe q = { NULL };
	struct args                 a;
	json_t                     *st, *paths, *s;
	size_t                      i;

	parse(argc, argv, &a, false);
	if (a.bad || opc_wants_help(argc, argv)) {
		fprintf(a.bad ? stderr : stdout, "%s", stage_usage);
		return (a.bad ? 2 : 0);
	}
	q.repo = (char *) a.repo;
	if (opc_call(o, "observe", "observer", MSG_OBSERVER_OBSERVE, &q, &st,
	        OPC_CTL_TIMEOUT) != 0)
		return (1);
	if ((paths = opc_observe_reports(
	         o, json_object_get(st, "started"), a.wait_s)) == NULL) {
		json_decref(st);
		return (1);
	}
	if (a.json)
		dump(paths);
	else
		json_array_foreach (json_object_get(st, "started"), i, s)
			printf("[observe] %s: %s → %s\n",
			    opc_jstr(s, "repo", "?"),
			    opc_jstr(s, "run_id", "?"),
			    opc_jstr(paths, opc_jstr(s, "repo", ""), "?"));
	json_decref(paths);
	json_decref(st);
	return (0);
}

void
opc_print_insights(const json_t *repos, const char *tag)
{
	const char *repo;
	json_t     *r, *i;
	size_t      k;

	json_object_foreach ((json_t *) repos, repo, r) {
		printf("%s %s: %zu from %s → %s\n", tag, repo,
		    json_array_size(json_object_get(r, "insights")),
		    opc_jstr(r, "snapshot_run", "?"),
		    opc_jstr(r, "report", "(report not written yet)"));
		json_array_foreach (json_object_get(r, "insights"), k, i)
			printf("  %-34s %s/%s\n",
			    opc_jstr(i, "insight_id", "?"),
			    opc_jstr(i, "kind", "?"),
			    opc_jstr(i, "subject", "?"));
	}
}

int
cmd_insights(struct opc *o, int argc, char **argv)
{
	struct msg_insighter_insights q = { NULL };
	struct args                   a;
	json_t                       *d;

	parse(argc, argv, &a, false);
	if (a.bad || opc_wants_help(argc, argv)) {
		fprintf(a.bad ? stderr : stdout, "%s", stage_usage);
		return (a.bad ? 2 : 0);
	}
	q.repo = (char *) a.repo;
	if (opc_call(o, "insights", "insighter", MSG_INSIGHTER_INSIGHTS, &q,
	        &d, OPC_CTL_TIMEOUT) != 0)
		return (1);
	if (a.json)
		dump(json_object_get(d, "repos"));
	else if (json_object_size(json_object_get(d, "repos")) == 0)
		printf("[insights] none yet: no snapshot (opc observe)\n");
	else
		opc_print_insights(json_object_get(d, "repos"), "[insights]");
	json_decref(d);
	return (0);
}

void
opc_print_decision(const json_t *c, const char *tag)
{
	json_t *e;
	size_t  i;
	bool    dry = json_is_true(json_object_get(c, "dry_run"));

	printf("%s %lld candidate(s) (cycle %s) → %s\n", tag,
	    (long long) json_integer_value(json_object_get(c, "candidates")),
	    opc_jstr(c, "cycle_id", "?"),
	    opc_jstr(json_object_get(c, "reports"), "decide", "?"));
	json_array_foreach (json_object_get(c, "created"), i, e)
		printf("  %s %-13s %-6s tier %lld -> %-12s %s\n",
		    dry ? "would create" : "created     ",
		    opc_jstr(e, "family", "?"), opc_jstr(e, "confidence", "?"),
		    (long long) json_integer_value(json_object_get(e, "tier")),
		    opc_jstr(e, "state", "?"), opc_jstr(e, "title", ""));
	json_array_foreach (json_object_get(c, "suppressed"), i, e)
		printf("  suppressed   %-13s %-34s %s\n",
		    opc_jstr(e, "family", "?"), opc_jstr(e, "reason", "?"),
		    opc_jstr(e, "dedup_key", ""));
}

void
opc_print_proposal(const json_t *c, const char *tag)
{
	bool dry = json_is_true(json_object_get(c, "dry_run"));

	printf("%s %s (created=%zu, skipped=%zu, failed=0) → %s\n", tag,
	    dry ? "dry run, nothing created" : "tasks go to the board",
	    dry ? (size_t) 0 : json_array_size(json_object_get(c, "created")),
	    json_array_size(json_object_get(c, "suppressed")),
	    opc_jstr(json_object_get(c, "reports"), "propose", "?"));
}

static int
decide_or_propose(struct opc *o, int argc, char **argv, bool propose)
{
	struct msg_proposer_cycle_now q = { false, NULL };
	struct args                   a;
	json_t                       *c;
	const char                   *cmd = propose ? "propose" : "decide";

	parse(argc, argv, &a, propose);
	if (a.bad || opc_wants_help(argc, argv)) {
		fprintf(a.bad ? stderr : stdout, "%s", stage_usage);
		return (a.bad ? 2 : 0);
	}
	q.repo    = (char *) a.repo;
	q.execute = propose && !a.dry;
	if (opc_call(o, cmd, "proposer", MSG_PROPOSER_CYCLE_NOW, &q, &c,
	        30000) != 0)
		return (1);
	if (a.json)
		dump(c);
	else if (propose) {
		opc_print_decision(c, "[decide]");
		opc_print_proposal(c, "[propose]");
	} else
		opc_print_decision(c, "[decide]");
	json_decref(c);
	return (0);
}

int
cmd_decide(struct opc *o, int argc, char **argv)
{
	return (decide_or_propose(o, argc, argv, false));
}

int
cmd_propose(struct opc *o, int argc, char **argv)
{
	return (decide_or_propose(o, argc, argv, true));
}

/* ---- opc autonomy ------------------------------------------------------ */

static void
print_tiers(const json_t *d)
{
	const char *f;
	json_t     *t, *h;
	size_t      i;
	char        at[40];

	printf("%-28s %4s  %s\n", "FAMILY", "TIER", "SOURCE");
	json_object_foreach (json_object_get(d, "tiers"), f, t)
		printf("%-28s %4lld  %s\n", f,
		    (long long) json_integer_value(json_object_get(t, "tier")),
		    opc_jstr(t, "source", "?"));
	if (json_array_size(json_object_get(d, "history")) == 0)
		return;
	printf("\nhistory (newest first):\n");
	json_array_foreach (json_object_get(d, "history"), i, h)
		printf("  %-20.19s %-24s %lld -> %lld  %s%s%s%s%s\n",
		    iso8601(json_integer_value(json_object_get(h, "at")), at,
		        sizeof(at)),
		    opc_jstr(h, "family", "?"),
		    (long long) json_integer_value(
		        json_object_get(h, "prev_tier")),
		    (long long) json_integer_value(json_object_get(h, "tier")),
		    opc_jstr(h, "source", "?"),
		    json_object_get(h, "tune_id") ? " " : "",
		    opc_jstr(h, "tune_id", ""),
		    json_object_get(h, "note") ? ": " : "",
		    opc_jstr(h, "note", ""));
}

static int
tiers(struct opc *o, int argc, char **argv)
{
	struct msg_proposer_tiers q;
	json_t                   *d;
	bool                      json = false, set;
	int                       i;

	memset(&q, 0, sizeof(q));
	if (argc < 2)
		goto usage;
	set = strcmp(argv[1], "set") == 0;
	if (!set && strcmp(argv[1], "list") != 0)
		goto usage;
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (set && strcmp(argv[i], "--family") == 0 &&
		    i + 1 < argc)
			q.family = argv[++i];
		else if (set && strcmp(argv[i], "--tier") == 0 &&
		    i + 1 < argc) {
			q.tier     = atoll(argv[++i]);
			q.has_tier = true;
		} else if (set && strcmp(argv[i], "--note") == 0 &&
		    i + 1 < argc)
			q.note = argv[++i];
		else
			goto usage;
	}
	if (set && (q.family == NULL || !q.has_tier))
		goto usage;
	if (opc_call(o, "autonomy", "proposer", MSG_PROPOSER_TIERS, &q, &d,
	        OPC_CTL_TIMEOUT) != 0)
		return (1);
	if (json)
		dump(d);
	else {
		if (set)
			printf(
			    "%s: tier %lld (live, kept across restarts)\n\n",
			    q.family,
			    (long long) json_integer_value(json_object_get(
			        json_object_get(
			            json_object_get(d, "tiers"), q.family),
			        "tier")));
		print_tiers(d);
	}
	json_decref(d);
	return (0);
usage:
	fprintf(stderr, "%s", autonomy_usage);
	return (2);
}

static void
print_tune(const json_t *d)
{
	json_t *r, *c;
	size_t  i;

	printf("  Confidence calibration (window %lld days, min sample "
	       "%lld):\n",
	    (long long) json_integer_value(json_object_get(d, "window_days")),
	    (long long) json_integer_value(json_object_get(d, "min_sample")));
	printf("  %-28s %-6s %3s %8s %9s %8s\n", "family", "conf", "n",
	    "accept%", "expected", "ratio");
	json_array_foreach (json_object_get(d, "rows"), i, r)
		printf("  %-28s %-6s %3lld %7.1f%% %8.1f%% %8.2f%s\n",
		    opc_jstr(r, "family", "?"), opc_jstr(r, "confidence", "?"),
		    (long long) json_integer_value(
		        json_object_get(r, "total")),
		    100 *
		        json_number_value(
		            json_object_get(r, "acceptance_rate")),
		    100 *
		        json_number_value(json_object_get(r, "expected_rate")),
		    json_number_value(json_object_get(r, "calibration_ratio")),
		    opc_jstr(r, "mark", ""));
	if (json_array_size(json_object_get(d, "rows")) == 0)
		printf("  (no outcomes yet)\n");
	printf("\n  Suggested changes:\n");
	json_array_foreach (json_object_get(d, "suggestions"), i, c)
		printf("  %-28s %-9s %-20s %lld -> %lld  (%s)\n",
		    opc_jstr(c, "family", "?"), opc_jstr(c, "what", "?"),
		    opc_jstr(c, "key", "?"),
		    (long long) json_integer_value(json_object_get(c, "from")),
		    (long long) json_integer_value(json_object_get(c, "to")),
		    opc_jstr(c, "why", ""));
	if (json_array_size(json_object_get(d, "suggestions")) == 0)
		printf("  (none)\n");
	if (json_is_true(json_object_get(d, "applied")))
		printf("\n  applied as %s (undo: opc autonomy tune --revert "
		       "%s)\n",
		    opc_jstr(d, "tune_id", "?"), opc_jstr(d, "tune_id", "?"));
	else if (json_array_size(json_object_get(d, "suggestions")) > 0)
		printf("\n  (apply with opc autonomy tune --apply)\n");
	json_array_foreach (json_object_get(d, "tunings"), i, c)
		printf("%s  %s: %zu change(s)%s\n",
		    i == 0 ? "\n  Tunings:\n" : "",
		    opc_jstr(c, "tune_id", "?"),
		    json_array_size(json_object_get(c, "changes")),
		    json_is_true(json_object_get(c, "reverted")) ? ", reverted"
		                                                 : "");
}

static int
tune(struct opc *o, int argc, char **argv)
{
	struct msg_proposer_tune q;
	json_t                  *d;
	bool                     json = false;
	int                      i;

	memset(&q, 0, sizeof(q));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--apply") == 0)
			q.apply = true;
		else if (strcmp(argv[i], "--revert") == 0 && i + 1 < argc)
			q.revert = argv[++i];
		else if (strcmp(argv[i], "--window-days") == 0 &&
		    i + 1 < argc && (q.window_days = atoll(argv[++i])) > 0)
			continue;
		else {
			fprintf(stderr, "%s", autonomy_usage);
			return (2);
		}
	}
	if (opc_call(o, "autonomy", "proposer", MSG_PROPOSER_TUNE, &q, &d,
	        OPC_CTL_TIMEOUT) != 0)
		return (1);
	if (json)
		dump(d);
	else if (q.revert != NULL)
		printf("%s reverted (%zu change(s) put back)\n", q.revert,
		    json_array_size(json_object_get(d, "changes")));
	else
		print_tune(d);
	json_decref(d);
	return (0);
}

static int
triggers(struct opc *o, int argc, char **argv)
{
	struct msg_proposer_triggers q = { 0 };
	json_t                      *d, *t;
	bool                         json = false;
	size_t                       k;
	int                          i;
	char                         at[40];

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc &&
		    (q.limit = atoll(argv[++i])) > 0)
			continue;
		else {
			fprintf(stderr, "%s", autonomy_usage);
			return (2);
		}
	}
	if (opc_call(o, "autonomy", "proposer", MSG_PROPOSER_TRIGGERS, &q, &d,
	        OPC_CTL_TIMEOUT) != 0)
		return (1);
	if (json)
		dump(d);
	else {
		printf("%-20s %-14s %-11s %-16s %-10s %-10s %s\n", "AT",
		    "REPO", "EVENT", "NAME", "CONCLUSION", "STATUS", "CYCLE");
		json_array_foreach (json_object_get(d, "triggers"), k, t)
			printf("%-20.19s %-14s %-11s %-16s %-10s %-10s %s\n",
			    iso8601(
			        json_integer_value(json_object_get(t, "at")),
			        at, sizeof(at)),
			    opc_jstr(t, "repo", "?"),
			    opc_jstr(t, "event", "?"),
			    opc_jstr(t, "name", "-"),
			    opc_jstr(t, "conclusion", "?"),
			    opc_jstr(t, "status", "?"),
			    opc_jstr(t, "cycle_id", "-"));
		if (json_array_size(json_object_get(d, "triggers")) == 0)
			printf("(no CI trigger yet: a completed check_run or"
			       " check_suite of a configured repo)\n");
	}
	json_decref(d);
	return (0);
}

int
cmd_autonomy(struct opc *o, int argc, char **argv)
{
	if (argc < 2 || opc_wants_help(argc, argv)) {
		fprintf(argc < 2 ? stderr : stdout, "%s", autonomy_usage);
		return (argc < 2 ? 2 : 0);
	}
	if (strcmp(argv[1], "tiers") == 0)
		return (tiers(o, argc - 1, argv + 1));
	if (strcmp(argv[1], "tune") == 0)
		return (tune(o, argc - 1, argv + 1));
	if (strcmp(argv[1], "triggers") == 0)
		return (triggers(o, argc - 1, argv + 1));
	fprintf(stderr, "opc autonomy: unknown subcommand %s\n%s", argv[1],
	    autonomy_usage);
	return (2);
}
