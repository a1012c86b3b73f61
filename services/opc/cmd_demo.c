/*
 * cmd_demo.c - `opc demo`: the original's offline demo, but through the
 * daemons.  It starts the constellation when it is not running (as `opc
 * up`), creates the demo git repository when it is missing (as
 * scripts/run.sh), adds one task to the board and narrates the flow from
 * the producers' journals (ctl replay from their current seq), so no
 * event can be missed the way a late SUB socket would miss it: planning,
 * routing, bundle, policy, execution, observability.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* The original's flags, where they make sense here. */
struct demo_opts {
	const char *goal, *repo, *backend, *workspace;
	bool        blocked_policy;
	int64_t     timeout_s;
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

static const char demo_usage[] =
    "usage: opc demo [--goal TEXT] [--repo-key KEY] [--backend NAME]\n"
    "                [--workspace-path DIR] [--blocked-policy] [--timeout "
    "S]\n";

/* demo_args reads the flags into d.  Returns 0, or 2 after saying why. */
static int
demo_args(int argc, char **argv, struct demo_opts *d)
{
	static const struct option opts[] = {
		{ "goal", required_argument, NULL, 'g' },
		{ "repo-key", required_argument, NULL, 'r' },
		{ "backend", required_argument, NULL, 'k' },
		{ "workspace-path", required_argument, NULL, 'w' },
		{ "blocked-policy", no_argument, NULL, 'b' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(d, 0, sizeof(*d));
	d->goal      = "Write a tiny hello-world execution artifact";
	d->repo      = "demo";
	d->timeout_s = 180;
	optind       = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'g')
			d->goal = optarg;
		else if (ch == 'r')
			d->repo = optarg;
		else if (ch == 'k')
			d->backend = optarg;
		else if (ch == 'w')
			d->workspace = optarg;
		else if (ch == 'b')
			d->blocked_policy = true;
		else if (ch == 't')
			d->timeout_s = strtol(optarg, NULL, 10);
		else {
			fputs(demo_usage, stderr);
			return (2);
		}
	}
	if (optind < argc || d->goal[0] == '\0' || d->timeout_s <= 0) {
		fprintf(stderr, "opc demo: %s\n%s",
		    optind < argc ? "unexpected argument"
		                  : "--goal and --timeout want a value",
		    demo_usage);
		return (2);
	}
	if (d->blocked_policy && d->backend != NULL) {
		fprintf(stderr,
		    "opc demo: --blocked-policy routes to a remote "
		    "lane itself: no --backend with it\n");
		return (2);
	}
	return (0);
}

/* backend_known: name is a backend some executor of t configures, or the
 * built-in stub; else prints the known ones. */
static bool
backend_known(struct topo *t, const char *name)
{
	const struct cfg_node *bks;
	struct buf             b;
	size_t                 i, k;
	bool                   found = strcmp(name, "stub") == 0;

	buf_init(&b);
	buf_printf(&b, "stub");
	for (i = 0; i < t->ninst; i++) {
		if (!t->inst[i].enabled ||
		    strcmp(t->inst[i].service, "executor") != 0)
			continue;
		bks = cfg_get(t->inst[i].node, "backends");
		for (k = 0; k < cfg_len(bks); k++) {
			if (cfg_key_at(bks, k) == NULL ||
			    strcmp(cfg_key_at(bks, k), "stub") == 0)
				continue;
			if (strcmp(cfg_key_at(bks, k), name) == 0)
				found = true;
			if (strstr(buf_cstr(&b), cfg_key_at(bks, k)) == NULL)
				buf_printf(&b, ", %s", cfg_key_at(bks, k));
		}
	}
	if (!found)
		fprintf(stderr,
		    "opc demo: unknown backend '%s' (the executors of %s "
		    "know: %s)\n",
		    name, t->config_path, buf_cstr(&b));
	buf_fini(&b);
	return (found);
}

/* run_git runs git with args (argv, never a shell) and waits. */
static int
run_git(char *const argv[])
{
	pid_t pid = child_spawn(NULL, argv, NULL);
	int   st;

	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0) {
		fprintf(stderr, "opc demo: git %s %s failed\n", argv[3],
		    argv[4] ? argv[4] : "");
		return (ERR_IO);
	}
	return (0);
}

/* repo_create makes path a git repository with a first commit on branch,
 * as scripts/run.sh does (pushes land on branches, never on it). */
static int
repo_create(const char *path, const char *branch)
{
	char  p[PATH_MAX + 32];
	char *a_init[] = { "git", "-C", (char *) path, "init", "-q", "-b",
		(char *) branch, NULL };
	char *a_add[]  = { "git", "-C", (char *) path, "add", "README.md",
		 NULL };
	char *a_ci[]   = { "git", "-C", (char *) path, "-c",
		  "user.name=opcenter", "-c", "user.email=opcenter@localhost",
		  "commit", "-q", "-m", "initial commit", NULL };
	char *a_cfg[]  = { "git", "-C", (char *) path, "config",
		 "receive.denyCurrentBranch", "refuse", NULL };
	static const char readme[] =
	    "# demo\n\nA repository for the opcenter demo.\n";

	printf("demo repository missing: creating %s\n", path);
	snprintf(p, sizeof(p), "%s/README.md", path);
	if (mkdirs(path, 0755) != 0 || run_git(a_init) != 0 ||
	    write_file_atomic(p, readme, sizeof(readme) - 1) != 0 ||
	    run_git(a_add) != 0 || run_git(a_ci) != 0 || run_git(a_cfg) != 0)
		return (ERR_IO);
	return (0);
}

static bool
is_git_repo(const char *path)
{
	char        p[PATH_MAX + 8];
	struct stat st;

	snprintf(p, sizeof(p), "%s/.git", path);
	return (stat(p, &st) == 0);
}

/* demo_repo makes sure the repo the demo task runs on exists: the local
 * clone_url (or local_path) of its repo key, relative to the config's
 * directory, or with --workspace-path DIR the repository at DIR, which
 * the configured path then names (a symlink made when it is missing). */
static int
demo_repo(struct topo *t, const struct demo_opts *d)
{
	const struct cfg_node *repo =
	    cfg_get(cfg_get(cfg_root(t->cfg), "repos"), d->repo);
	const char *url = cfg_str(cfg_get(repo, "clone_url"));
	const char *br  = cfg_str(cfg_get(repo, "default_branch"));
	char       *dir, *path, rp1[PATH_MAX], rp2[PATH_MAX];
	int         rv = 0;

	if (repo == NULL) {
		fprintf(stderr, "opc demo: no repo '%s' in %s\n", d->repo,
		    t->config_path);
		return (ERR_INVAL);
	}
	if (url == NULL || *url == '\0')
		url = cfg_str(cfg_get(repo, "local_path"));
	if (url == NULL || strstr(url, "://") != NULL ||
	    strchr(url, '@') != NULL) {
		if (d->workspace != NULL) {
			fprintf(stderr,
			    "opc demo: repo '%s' is not a local "
			    "path: --workspace-path cannot apply\n",
			    d->repo);
			return (ERR_INVAL);
		}
		return (0); /* a remote repo: not ours to create */
	}
	dir  = xstrdup(t->config_path);
	path = url[0] == '/' ? xstrdup(url)
	                     : xasprintf("%s/%s", dirname(dir), url);
	(void) path_clean(path);
	br = br != NULL && *br != '\0' ? br : "main";
	if (d->workspace == NULL) {
		if (!is_git_repo(path))
			rv = repo_create(path, br);
	} else if (!is_git_repo(d->workspace) &&
	    (rv = repo_create(d->workspace, br)) != 0) {
		;
	} else if (realpath(path, rp1) == NULL) {
		/* the configured path names the workspace from now on */
		char *parent = xstrdup(path);

		(void) mkdirs(dirname(parent), 0755);
		free(parent);
		if (realpath(d->workspace, rp2) == NULL ||
		    symlink(rp2, path) != 0) {
			fprintf(stderr, "opc demo: cannot link %s to %s: %s\n",
			    path, d->workspace, strerror(errno));
			rv = ERR_IO;
		} else
			printf("demo repository: %s (linked from %s)\n", rp2,
			    path);
	} else if (realpath(d->workspace, rp2) == NULL ||
	    strcmp(rp1, rp2) != 0) {
		fprintf(stderr,
		    "opc demo: repo '%s' is %s in %s, not %s: remove it "
		    "or set its clone_url to use --workspace-path\n",
		    d->repo, path, t->config_path, d->workspace);
		rv = ERR_INVAL;
	}
	free(path);
	free(dir);
	return (rv);
}

/* demo_up starts the constellation of the config when its supervisor does
 * not answer, as `opc up` does. */
static int
demo_up(struct opc *o, struct topo *t)
{
	char   *up[] = { "up", NULL };
	json_t *st   = NULL;
	char    err[256];

	if (opc_ctl(t->supervisor.ctl, MSG_CTL_STATUS, NULL, &st, err,
	        sizeof(err), 1000) == 0) {
		json_decref(st);
		return (0);
	}
	printf("constellation not running: starting it (opc up) ...\n");
	fflush(stdout);
	return (cmd_up(o, 1, up) == 0 ? 0 : ERR_IO);
}

/* demo_feeds finds the producers narrated and starts reading each from
 * its current journal seq. */
static int
demo_feeds(struct opc *o, struct topo *t, struct feed feeds[3])
{
	static const char *const roles[] = { "router", "executor",
		"recorder" };
	char                     err[512];
	size_t                   i;

	for (i = 0; i < nitems(roles); i++) {
		if ((feeds[i].inst = opc_find_service(t, roles[i])) == NULL) {
			fprintf(stderr, "opc demo: no %s instance in %s\n",
			    roles[i], t->config_path);
			return (ERR_NOTFOUND);
		}
		if (feed_start(&feeds[i], err, sizeof(err)) != 0) {
			opc_not_up(o, err);
			return (ERR_NOTFOUND);
		}
	}
	return (0);
}

/* demo_add adds the demo task to the board; its id goes to d. */
static int
demo_add(struct topo *t, const struct demo_opts *op, struct demo *d)
{
	struct msg_board_task_add add;
	const struct topo_inst   *board;
	json_t                   *data = NULL;
	char                      err[512], rid[37], *lb = NULL;
	int                       rv;

	if ((board = opc_find_service(t, "board-sync")) == NULL) {
		fprintf(stderr, "opc demo: no board-sync instance\n");
		return (ERR_NOTFOUND);
	}
	memset(&add, 0, sizeof(add));
	add.repo_key   = (char *) op->repo;
	add.goal       = (char *) op->goal;
	add.kind       = "goal";
	add.request_id = uuid4(rid);
	if (op->blocked_policy) {
		/* the original's fixture: local_only routed to a remote lane
		 */
		msg_strs_add(&add.labels, "local_only");
		msg_strs_add(&add.labels, "lane: claude_cli");
	}
	if (op->backend != NULL) {
		/* the router honours it before its rules (route.h) */
		lb = xasprintf("backend: %s", op->backend);
		msg_strs_add(&add.labels, lb);
		free(lb);
	}
	rv = opc_ctl(board->ctl, MSG_BOARD_TASK_ADD, &add, &data, err,
	    sizeof(err), OPC_CTL_TIMEOUT);
	msg_strs_fini(&add.labels);
	if (rv != 0) {
		fprintf(stderr, "opc demo: cannot add the task: %s\n", err);
		return (rv);
	}
	d->task_id = xstrdup(js(data, "task_id"));
	json_decref(data);
	return (0);
}

/* demo_watch prints each section as soon as its event is on the bus,
 * until the record of the run that decides is there or time is up. */
static void
demo_watch(struct demo *d, struct feed feeds[3], int64_t timeout_s)
{
	json_t *dec, *pol;
	bool    shown_plan = false, shown_exec = false;
	int64_t deadline = mono_ms() + timeout_s * 1000;
	size_t  i;

	while (mono_ms() < deadline) {
		for (i = 0; i < 3; i++)
			(void) feed_poll(&feeds[i], on_msg, d);
		if (d->decided != NULL && !shown_plan) {
			dec = json_object_get(d->decided, "decision");
			pol = json_object_get(d->decided, "policy");
			print_planning(
			    json_object_get(d->decided, "proposal"));
			print_routing(dec);
			print_policy(pol, !d->blocked);
			if (d->blocked)
				printf("\n[EXECUTION — blocked / skipped]\n"
				       "  run_id      : %s\n"
				       "  not executed: policy %s\n",
				    js(dec, "run_id"), js(pol, "status"));
			shown_plan = true;
			fflush(stdout);
		}
		if (d->finished != NULL && !shown_exec) {
			print_execution(d->finished,
			    json_object_get(d->decided, "decision"));
			shown_exec = true;
			fflush(stdout);
		}
		/* the record of the run that decides: the blocked one, or
		 * the last (non-interrupted) attempt */
		if (d->blocked)
			d->record = json_object_get(d->records,
			    js(json_object_get(d->decided, "decision"),
			        "run_id"));
		else if (d->finished != NULL)
			d->record = json_object_get(
			    d->records, js(d->finished, "run_id"));
		if (d->record != NULL)
			break;
		(void) usleep(150000);
	}
}

/* demo_report prints the end of the narration; 0 when the demo task
 * succeeded and its record is there. */
static int
demo_report(const struct demo *d, int64_t timeout_s)
{
	if (d->decided == NULL) {
		fprintf(stderr,
		    "opc demo: no routing decision for %s within %llds\n",
		    d->task_id, (long long) timeout_s);
		return (1);
	}
	if (!d->blocked && d->finished == NULL) {
		fprintf(stderr, "opc demo: %s did not finish within %llds\n",
		    d->task_id, (long long) timeout_s);
		return (1);
	}
	if (d->record != NULL)
		print_observability(d->record);
	else
		printf("\n[OBSERVABILITY — retained records]\n  (no "
		       "record.written yet)\n");
	printf("\n%s\n", BAR);
	if (d->blocked) {
		printf("Demo run blocked by policy\n%s\n", BAR);
		return (1);
	}
	if (json_is_true(json_object_get(d->finished, "success")) &&
	    d->record != NULL) {
		printf("Demo completed successfully.\n%s\n", BAR);
		return (0);
	}
	printf("Demo run failed: %s\n%s\n",
	    js(d->finished, "failure_category"), BAR);
	return (1);
}

int
cmd_demo(struct opc *o, int argc, char **argv)
{
	struct demo_opts op;
	struct topo     *t;
	struct feed      feeds[3];
	struct demo      d;
	int              rv;

	if ((rv = demo_args(argc, argv, &op)) != 0)
		return (rv);
	if ((t = opc_topo(o)) == NULL)
		return (1);
	if ((op.backend != NULL && !backend_known(t, op.backend)) ||
	    demo_repo(t, &op) != 0 || demo_up(o, t) != 0 ||
	    demo_feeds(o, t, feeds) != 0)
		return (1);
	memset(&d, 0, sizeof(d));
	if (demo_add(t, &op, &d) != 0)
		return (1);
	printf("%s\nopcenter Demo Run (task %s on the local board)\n%s\n", BAR,
	    d.task_id, BAR);
	fflush(stdout);
	d.records = json_object();
	demo_watch(&d, feeds, op.timeout_s);
	rv = demo_report(&d, op.timeout_s);
	json_decref(d.decided);
	json_decref(d.finished);
	json_decref(d.records); /* d.record is borrowed from it */
	free((char *) d.task_id);
	return (rv);
}
