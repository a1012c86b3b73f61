/*
 * cmd_demo.c - `opc demo`: the original's offline demo, but through the
 * running daemons.  It adds one task to the board and narrates the flow
 * from the producers' journals (ctl replay from their current seq), so no
 * event can be missed the way a late SUB socket would miss it:
 * planning, routing, bundle, policy, execution, observability.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "opc.h"
#include "opc/bus.h"
#include "opc/err.h"
#include "opc/util.h"

#define BAR "============================================================"

struct feed {
	const struct topo_inst *inst;
	uint64_t                next; /* next seq to read */
};

struct demo {
	const char *task_id;
	json_t     *decided;  /* route.decided body */
	json_t     *finished; /* exec.finished body */
	json_t     *records;  /* record.written bodies by run_id */
	json_t     *record;   /* the one of the run that decides */
	bool        blocked;
};

static const char *
js(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return (s ? s : "-");
}

/* feed_start sets next to the producer's journal seq + 1. */
static int
feed_start(struct feed *f, char *err, size_t errlen)
{
	json_t *st = NULL;
	int     rv;

	if ((rv = opc_ctl(f->inst->ctl, MSG_CTL_STATUS, NULL, &st, err, errlen,
	         OPC_CTL_TIMEOUT)) != 0)
		return (rv);
	f->next =
	    (uint64_t) json_integer_value(json_object_get(st, "journal_seq")) +
	    1;
	json_decref(st);
	return (0);
}

/* feed_poll replays what f's producer journaled since last time and hands
 * each message to fn. */
static int
feed_poll(struct feed *f, void (*fn)(struct demo *, const struct msg *),
    struct demo       *d)
{
	struct msg_ctl_replay rq = { (int64_t) f->next, 512, 0 };
	struct msg_hdr h = { "opc.demo", 0, "opc.demo:replay", 0, NULL };
	struct buf     b;
	struct bus_msg bm;
	struct msg     rep, m;
	char           err[256];
	size_t         i;
	int            rv;

	h.ts = now_ms();
	buf_init(&b);
	rv = msg_pack(&b, MSG_CTL_REPLAY, &h, &rq);
	if (rv == 0)
		rv = bus_request(
		    f->inst->ctl, b.data, b.len, &bm, OPC_CTL_TIMEOUT);
	buf_fini(&b);
	if (rv != 0)
		return (rv);
	rv = msg_decode(&rep, bm.data, bm.len, err, sizeof(err));
	bus_msg_free(&bm);
	if (rv != 0 || rep.topic != MSG_CTL_REPLAY_BATCH) {
		msg_fini(&rep);
		return (ERR_PROTO);
	}
	for (i = 0; i < rep.body.ctl_replay_batch.frames.n; i++) {
		const struct msg_bin *fr =
		    &rep.body.ctl_replay_batch.frames.v[i];

		if (msg_decode(&m, fr->p, fr->len, err, sizeof(err)) != 0)
			continue;
		if (m.seq >= f->next)
			f->next = m.seq + 1;
		fn(d, &m);
		msg_fini(&m);
	}
	msg_fini(&rep);
	return (0);
}

static void
on_msg(struct demo *d, const struct msg *m)
{
	json_t *body;

	if (m->corr == NULL || strcmp(m->corr, d->task_id) != 0)
		return;
	body = msg_body_to_json(m->topic, &m->body);
	switch (m->topic) {
	case MSG_ROUTE_DECIDED:
		if (d->decided == NULL) {
			const char *st =
			    js(json_object_get(body, "policy"), "status");

			d->decided = json_incref(body);
			d->blocked = strcmp(st, "block") == 0 ||
			    strcmp(st, "require_review") == 0;
		}
		break;
	case MSG_EXEC_FINISHED:
		/* an interrupted attempt is retried: wait for the last */
		if (strcmp(js(body, "status"), "interrupted") != 0) {
			json_decref(d->finished);
			d->finished = json_incref(body);
		}
		break;
	case MSG_RECORD_WRITTEN:
		json_object_set(d->records, js(body, "run_id"), body);
		break;
	default:
		break;
	}
	json_decref(body);
}

static void
print_planning(json_t *p)
{
	printf("\n[PLANNING — TaskProposal]\n");
	printf("  proposal_id : %s\n", js(p, "proposal_id"));
	printf("  task_id     : %s\n", js(p, "task_id"));
	printf("  task_type   : %s\n", js(p, "task_type"));
	printf("  risk_level  : %s\n", js(p, "risk_level"));
	printf("  goal        : %s\n", js(p, "goal_text"));
}

static void
print_routing(json_t *d)
{
	printf("\n[ROUTING — LaneDecision  [opcenter-router, rules from "
	       "config]]\n");
	printf("  decision_id : %s\n", js(d, "decision_id"));
	printf("  lane        : %s\n", js(d, "selected_lane"));
	printf("  backend     : %s\n", js(d, "selected_backend"));
	printf("  rule        : %s\n", js(d, "policy_rule_matched"));
	printf("  rationale   : %s\n", js(d, "rationale"));
	printf("\n[PROPOSAL-DECISION BUNDLE]\n");
	printf("  %.8s + %.8s -> bundled\n", js(d, "proposal_id"),
	    js(d, "decision_id"));
}

static void
print_policy(json_t *pol, bool executed)
{
	json_t *v;
	size_t  i, n = 0;
	char    up[32];

	snprintf(up, sizeof(up), "%s", js(pol, "status"));
	for (i = 0; up[i] != '\0'; i++)
		up[i] =
		    (char) (up[i] >= 'a' && up[i] <= 'z' ? up[i] - 32 : up[i]);
	printf("\n[POLICY — gate result]\n");
	printf("  status      : %s\n", up);
	json_array_foreach (json_object_get(pol, "violations"), i, v) {
		printf("  violation   : %s — %s\n", js(v, "rule_id"),
		    js(v, "message"));
		n++;
	}
	json_array_foreach (json_object_get(pol, "warnings"), i, v) {
		printf("  warning     : %s — %s\n", js(v, "rule_id"),
		    js(v, "message"));
		n++;
	}
	if (n == 0)
		printf("  (no violations or warnings)\n");
	printf("  executed    : %s\n", executed ? "True" : "False");
}

static void
print_execution(json_t *f, json_t *dec)
{
	json_t     *r  = json_object_get(f, "result"), *c;
	const char *ws = js(r, "workspace_path");
	size_t      i;

	printf("\n[EXECUTION — %s backend via %s]\n",
	    js(dec, "selected_backend"), js(f, "executor"));
	printf("  run_id      : %s\n", js(f, "run_id"));
	printf("  executor    : %s (attempt %lld)\n", js(f, "executor"),
	    (long long) json_integer_value(json_object_get(f, "attempt")));
	printf("  status      : %s\n", js(f, "status"));
	printf("  success     : %s\n",
	    json_is_true(json_object_get(f, "success")) ? "True" : "False");
	if (!json_is_true(json_object_get(f, "success")))
		printf("  category    : %s\n  reason      : %s\n",
		    js(f, "failure_category"), js(f, "failure_reason"));
	printf("  diff_stat   : %s\n", js(r, "diff_stat_excerpt"));
	printf("  branch      : %s  commit %s\n", js(r, "branch_name"),
	    js(r, "commit_sha"));
	json_array_foreach (json_object_get(r, "changed_files"), i, c)
		printf("  artifact    : %s/%s\n", ws, js(c, "path"));
}

static void
print_observability(json_t *rec)
{
	json_t *trace, *w, *f;
	char   *p;
	size_t  i;

	printf("\n[OBSERVABILITY — retained records]\n");
	p = xasprintf("%s/execution_trace.json", js(rec, "path"));
	if ((trace = json_load_file(p, 0, NULL)) != NULL) {
		printf("  headline    : %s\n", js(trace, "headline"));
		printf("  summary     : %s\n", js(trace, "summary"));
		json_array_foreach (json_object_get(trace, "warnings"), i, w)
			printf("  trace warn  : %s\n", json_string_value(w));
		json_decref(trace);
	} else
		printf("  (cannot read %s)\n", p);
	free(p);
	printf("\n  Evidence files:\n");
	json_array_foreach (json_object_get(rec, "files"), i, f)
		printf("    %s/%s\n", js(rec, "path"), json_string_value(f));
}

int
cmd_demo(struct opc *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "goal", required_argument, NULL, 'g' },
		{ "repo-key", required_argument, NULL, 'r' },
		{ "blocked-policy", no_argument, NULL, 'b' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const  roles[] = { "router", "executor",
		 "recorder" };
	struct msg_board_task_add add;
	const struct topo_inst   *board;
	struct topo              *t;
	struct feed               feeds[3];
	struct demo               d;
	json_t                   *data = NULL, *dec, *pol;
	char                      err[512], rid[37];
	const char               *goal = NULL, *repo = "demo";
	bool                      blocked_policy = false;
	bool                      shown_plan = false, shown_exec = false;
	int64_t                   deadline, timeout_s            = 180;
	size_t                    i;
	int                       ch, rv = 1;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'g')
			goal = optarg;
		else if (ch == 'r')
			repo = optarg;
		else if (ch == 'b')
			blocked_policy = true;
		else if (ch == 't')
			timeout_s = strtol(optarg, NULL, 10);
		else
			return (2);
	}
	if (goal == NULL) {
		fprintf(stderr, "opc demo: --goal is required\n");
		return (2);
	}
	if ((t = opc_topo(o)) == NULL)
		return (1);
	memset(&d, 0, sizeof(d));
	for (i = 0; i < nitems(roles); i++) {
		if ((feeds[i].inst = opc_find_service(t, roles[i])) == NULL) {
			fprintf(stderr, "opc demo: no %s instance in %s\n",
			    roles[i], t->config_path);
			return (1);
		}
		if (feed_start(&feeds[i], err, sizeof(err)) != 0) {
			opc_not_up(o, err);
			return (1);
		}
	}
	if ((board = opc_find_service(t, "board-sync")) == NULL) {
		fprintf(stderr, "opc demo: no board-sync instance\n");
		return (1);
	}
	memset(&add, 0, sizeof(add));
	add.repo_key   = (char *) repo;
	add.goal       = (char *) goal;
	add.kind       = "goal";
	add.request_id = uuid4(rid);
	if (blocked_policy) {
		/* the original's fixture: local_only routed to a remote lane
		 */
		msg_strs_add(&add.labels, "local_only");
		msg_strs_add(&add.labels, "lane: claude_cli");
	}
	rv = opc_ctl(board->ctl, MSG_BOARD_TASK_ADD, &add, &data, err,
	    sizeof(err), OPC_CTL_TIMEOUT);
	for (i = 0; i < add.labels.n; i++)
		free(add.labels.v[i]);
	free(add.labels.v);
	if (rv != 0) {
		fprintf(stderr, "opc demo: cannot add the task: %s\n", err);
		return (1);
	}
	d.task_id = xstrdup(js(data, "task_id"));
	json_decref(data);
	printf("%s\nopcenter Demo Run (task %s on the local board)\n%s\n", BAR,
	    d.task_id, BAR);
	fflush(stdout);
	rv        = 1;
	d.records = json_object();
	deadline  = mono_ms() + timeout_s * 1000;
	/* Each section is printed as soon as its event is on the bus. */
	while (mono_ms() < deadline) {
		for (i = 0; i < nitems(feeds); i++)
			(void) feed_poll(&feeds[i], on_msg, &d);
		if (d.decided != NULL && !shown_plan) {
			dec = json_object_get(d.decided, "decision");
			pol = json_object_get(d.decided, "policy");
			print_planning(json_object_get(d.decided, "proposal"));
			print_routing(dec);
			print_policy(pol, !d.blocked);
			if (d.blocked)
				printf("\n[EXECUTION — blocked / skipped]\n"
				       "  run_id      : %s\n"
				       "  not executed: policy %s\n",
				    js(dec, "run_id"), js(pol, "status"));
			shown_plan = true;
			fflush(stdout);
		}
		if (d.finished != NULL && !shown_exec) {
			print_execution(d.finished,
			    json_object_get(d.decided, "decision"));
			shown_exec = true;
			fflush(stdout);
		}
		/* the record of the run that decides: the blocked one, or
		 * the last (non-interrupted) attempt */
		if (d.blocked)
			d.record = json_object_get(d.records,
			    js(json_object_get(d.decided, "decision"),
			        "run_id"));
		else if (d.finished != NULL)
			d.record = json_object_get(
			    d.records, js(d.finished, "run_id"));
		if (d.record != NULL)
			break;
		(void) usleep(150000);
	}
	if (d.decided == NULL) {
		fprintf(stderr,
		    "opc demo: no routing decision for %s within "
		    "%llds\n",
		    d.task_id, (long long) timeout_s);
		goto out;
	}
	if (!d.blocked && d.finished == NULL) {
		fprintf(stderr, "opc demo: %s did not finish within %llds\n",
		    d.task_id, (long long) timeout_s);
		goto out;
	}
	if (d.record != NULL)
		print_observability(d.record);
	else
		printf("\n[OBSERVABILITY — retained records]\n  (no "
		       "record.written yet)\n");
	printf("\n%s\n", BAR);
	if (d.blocked)
		printf("Demo run blocked by policy\n");
	else if (json_is_true(json_object_get(d.finished, "success")) &&
	    d.record != NULL) {
		printf("Demo completed successfully.\n");
		rv = 0;
	} else
		printf("Demo run failed: %s\n",
		    js(d.finished, "failure_category"));
	printf("%s\n", BAR);
out:
	json_decref(d.decided);
	json_decref(d.finished);
	json_decref(d.records); /* d.record is borrowed from it */
	free((char *) d.task_id);
	return (rv);
}
