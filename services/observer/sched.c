/*
 * sched.c - the observer's effect loop: start, reap and commit
 * observations (see observer.h).
 *
 * Per repo (memory only):
 *
 *   idle     --queued or interval due, caught up, a slot free--> running
 *   running  --worker exits, snapshot file valid--> idle (commit + emit)
 *   running  --worker exits without a valid file--> idle (observe_failed)
 *   running  --2 x command_timeout--> stopping (SIGTERM to its group)
 *   stopping --5 s more--> SIGKILL; reaped like running
 *
 * A trigger while running queues one more observation (at most one);
 * further triggers join it.  Files per run under o->dir:
 * <run_id>.spec.json, <run_id>.snapshot.json and <run_id>.log, removed
 * once reaped (the log is kept when no snapshot came of it).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "observer.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/loop.h"
#include "opc/report.h"
#include "opc/store.h"
#include "opc/topo.h"
#include "opc/util.h"

#define TICK_MS 200
#define KILL_GRACE_MS 5000

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS snapshot("
    " run_id TEXT PRIMARY KEY, repo TEXT NOT NULL,"
    " observed_at INTEGER NOT NULL, json TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS snapshot_repo"
    " ON snapshot(repo, observed_at);"
    "DROP TABLE IF EXISTS ci_check;" /* one verdict per repo: retired */
    "CREATE TABLE IF NOT EXISTS ci_run("
    " repo TEXT NOT NULL, head_sha TEXT NOT NULL, name TEXT NOT NULL,"
    " status TEXT NOT NULL, observed_at INTEGER NOT NULL,"
    " first_seen INTEGER NOT NULL, PRIMARY KEY (repo, head_sha, name));";

char *
sched_run_id(void)
{
	char      ts[32], u[37];
	time_t    t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
	/* the first 6 hex digits of a v4 uuid are random */
	return (xasprintf("obs_%s_%.6s", ts, uuid4(u)));
}

/* signal_group signals a worker's process group, or the worker alone
 * while it has not made its group yet (before its setsid). */
static void
signal_group(pid_t pid, int sig)
{
	if (kill(-pid, sig) != 0)
		(void) kill(pid, sig);
}

static char *
file_for(struct observer *o, const char *run_id, const char *suffix)
{
	return (xasprintf("%s/%s%s", o->dir, run_id, suffix));
}

static void
unlink_run(struct observer *o, const char *run_id, bool keep_log)
{
	static const char *const sfx[] = { ".spec.json", ".snapshot.json",
		".snapshot.json.tmp", ".log" };
	size_t                   i;
	char                    *p;

	for (i = 0; i < nitems(sfx) - (keep_log ? 1 : 0); i++) {
		p = file_for(o, run_id, sfx[i]);
		(void) unlink(p);
		free(p);
	}
}

/* tests_json returns the tests section of the repo's CI verdict: that of
 * its newest commit (the head SHA seen first most recently), where any
 * check whose latest conclusion is a failure fails the commit; a passing
 * check never hides another check's failure (observer.c). */
static json_t *
tests_json(struct observer *o, const struct obs_repo *r)
{
	struct store      *st = svc_store(o->svc);
	struct store_stmt *s;
	struct buf         failed, passed;
	json_t            *t   = NULL;
	char              *sha = NULL;
	int64_t            at  = 0;
	const char        *name;

	if (store_prep(st, &s,
	        "SELECT head_sha FROM ci_run WHERE repo = ?"
	        " GROUP BY head_sha"
	        " ORDER BY min(first_seen) DESC, max(observed_at) DESC"
	        " LIMIT 1") != 0)
		return (json_null());
	if (store_bind_text(s, 1, r->key) == 0 && store_step(s) == 1)
		sha = xstrdup(store_col_text(s, 0));
	store_done(s);
	if (sha == NULL ||
	    store_prep(st, &s,
	        "SELECT status, name, observed_at FROM ci_run"
	        " WHERE repo = ? AND head_sha = ? ORDER BY name") != 0) {
		free(sha);
		return (json_null());
	}
	buf_init(&failed);
	buf_init(&passed);
	if (store_bind_text(s, 1, r->key) == 0 &&
	    store_bind_text(s, 2, sha) == 0)
		while (store_step(s) == 1) {
			struct buf *b =
			    strcmp(store_col_text(s, 0), "failed") == 0
			    ? &failed
			    : &passed;

			name = store_col_text(s, 1);
			buf_printf(b, "%s%s", b->len > 0 ? ", " : "",
			    *name != '\0' ? name : "?");
			if (store_col_int(s, 2) > at)
				at = store_col_int(s, 2);
		}
	store_done(s);
	if (failed.len > 0 || passed.len > 0)
		t = json_pack("{s:s, s:s, s:s, s:I, s:s}", "status",
		    failed.len > 0 ? "failed" : "passed", "source",
		    "ci.check_run", "name",
		    buf_cstr(failed.len > 0 ? &failed : &passed),
		    "observed_at", (json_int_t) at, "head_sha", sha);
	buf_fini(&failed);
	buf_fini(&passed);
	free(sha);
	return (t != NULL ? t : json_null());
}

/* worker_deadline: the worker gets all but a margin of the 2 x
 * command_timeout after which the daemon stops it, so that it can still
 * write what it has (a quarter of the timeout, at most 10 s). */
static int64_t
worker_deadline(const struct observer *o, int64_t started_ms)
{
	int64_t margin = o->cmd_timeout_ms / 4;

	if (margin > 10000)
		margin = 10000;
	return (started_ms + 2 * o->cmd_timeout_ms - margin);
}

/* write_spec writes the worker's spec file; 0 or ERR_IO. */
static int
write_spec(struct observer *o, struct obs_repo *r, const char *run_id,
    const char *path)
{
	json_t *spec = json_deep_copy(r->observe), *run;
	char   *text;
	int     rv;

	run = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "run_id", run_id,
	    "repo", r->key, "path", r->path, "observed_at",
	    (json_int_t) r->started_ms, "deadline_ms",
	    (json_int_t) worker_deadline(o, r->started_ms),
	    "command_timeout_ms", (json_int_t) o->cmd_timeout_ms);
	json_object_update(spec, run);
	json_decref(run);
	json_object_set_new(spec, "tests", tests_json(o, r));
	text = json_dumps(spec, JSON_INDENT(2) | JSON_SORT_KEYS);
	rv   = text != NULL ? write_file_atomic(path, text, strlen(text))
	                    : ERR_IO;
	free(text);
	json_decref(spec);
	return (rv);
}

static pid_t
worker_spawn(
    struct observer *o, const char *log, const char *spec, const char *out)
{
	char *argv[6];

	argv[0] = o->worker;
	argv[1] = "--spec";
	argv[2] = (char *) spec;
	argv[3] = "--out";
	argv[4] = (char *) out;
	argv[5] = NULL;
	return (child_spawn(log, argv, NULL));
}

/* start spawns the worker of one observation (run_id is taken over). */
static void
start(struct observer *o, struct obs_repo *r, char *run_id)
{
	char *spec = file_for(o, run_id, ".spec.json");
	char *out  = file_for(o, run_id, ".snapshot.json");
	char *log  = file_for(o, run_id, ".log");
	pid_t pid;

	r->started_ms = r->last_start = now_ms();
	unlink_run(o, run_id, false);
	if (write_spec(o, r, run_id, spec) != 0)
		log_error(
		    "observer.spec", "%s: cannot write %s", r->key, spec);
	else if ((pid = worker_spawn(o, log, spec, out)) < 0)
		log_error("observer.spawn", "%s: cannot run %s: %s", r->key,
		    o->worker, strerror(errno));
	else {
		log_info("observer.start",
		    "%s: observation %s (worker pid %d)", r->key, run_id,
		    (int) pid);
		svc_count(o->svc, "observations_started", 1);
		r->pid      = pid;
		r->run_id   = run_id;
		r->deadline = mono_ms() + 2 * o->cmd_timeout_ms;
		r->kill_at  = 0;
		run_id      = NULL;
	}
	if (run_id != NULL) { /* not started: counted, and gone */
		svc_count(o->svc, "observe_failed", 1);
		free(run_id);
	}
	free(spec);
	free(out);
	free(log);
}

/* commit stores the snapshot, prunes the repo's history and emits
 * observe.snapshot, all in one transaction. */
static int
commit(struct observer *o, struct obs_repo *r, struct msg_obs_snapshot *snap)
{
	struct msg_observe_snapshot ev;
	struct store               *st = svc_store(o->svc);
	char *text = msg_rec_dumps(&msg_rec_obs_snapshot, snap);
	int   rv;

	memset(&ev, 0, sizeof(ev));
	ev.run_id      = r->run_id;
	ev.repo        = r->key;
	ev.observed_at = snap->observed_at;
	ev.snapshot    = snap;
	if ((rv = svc_begin(o->svc)) != 0)
		goto out;
	if ((rv = store_run(st,
	         "INSERT INTO snapshot(run_id, repo, observed_at, json)"
	         " VALUES (?, ?, ?, ?) ON CONFLICT(run_id) DO NOTHING",
	         "ttit", r->run_id, r->key, ev.observed_at, text)) != 0 ||
	    (rv = store_run(st,
	         "DELETE FROM snapshot WHERE repo = ? AND run_id NOT IN"
	         " (SELECT run_id FROM snapshot WHERE repo = ?"
	         "  ORDER BY observed_at DESC, run_id DESC LIMIT ?)",
	         "tti", r->key, r->key, o->keep)) != 0 ||
	    (rv = svc_emit(o->svc, MSG_OBSERVE_SNAPSHOT, r->run_id, &ev)) !=
	        0 ||
	    (rv = svc_commit(o->svc)) != 0)
		(void) svc_rollback(o->svc);
out:
	free(text);
	return (rv);
}

/* load_snapshot reads a worker's snapshot into a record: one of this run
 * (the decoder's rules, a reason naming the field otherwise). */
static struct msg_obs_snapshot *
load_snapshot(
    struct observer *o, const struct obs_repo *r, char *why, size_t len)
{
	char                    *p = file_for(o, r->run_id, ".snapshot.json");
	json_error_t             je;
	json_t                  *j = json_load_file(p, 0, &je);
	struct msg_obs_snapshot *s = msg_obs_snapshot_new();
	char                     err[200];

	free(p);
	if (j == NULL) {
		snprintf(why, len, "no snapshot: %s", je.text);
		goto bad;
	}
	if (msg_obs_snapshot_from_json(s, j, err, sizeof(err)) != 0) {
		snprintf(why, len, "bad snapshot: %s", err);
		goto bad;
	}
	if (s->observed_at <= 0 || strcmp(s->run_id, r->run_id) != 0) {
		snprintf(why, len, "the snapshot file is not this run's");
		goto bad;
	}
	json_decref(j);
	return (s);
bad:
	json_decref(j);
	msg_obs_snapshot_free(s);
	return (NULL);
}

static void
finished(struct observer *o, struct obs_repo *r, int status)
{
	struct msg_obs_snapshot *snap;
	json_t                  *doc;
	char                     why[300];

	if ((snap = load_snapshot(o, r, why, sizeof(why))) != NULL &&
	    commit(o, r, snap) == 0) {
		r->last_obs = snap->observed_at;
		svc_count(o->svc, "snapshots", 1);
		log_info("observer.snapshot", "%s: observation %s stored",
		    r->key, r->run_id);
		/* the retained artifact (reports/observe): an effect after
		 * the commit, so a failure loses no observation */
		free(r->report);
		r->report = NULL;
		doc       = msg_obs_snapshot_to_json(snap);
		if (report_write(&r->report, svc_topo(o->svc)->state_dir,
		        "observe", doc, svc_topo(o->svc)->reports_keep) != 0)
			log_warn("observer.report",
			    "%s: cannot write the"
			    " observe report: %s",
			    r->key, strerror(errno));
		json_decref(doc);
		free(r->report_run);
		r->report_run = xstrdup(r->run_id);
	} else {
		svc_count(o->svc, "observe_failed", 1);
		log_warn("observer.failed",
		    "%s: observation %s: worker %s %d; "
		    "%s (see %s/%s.log)",
		    r->key, r->run_id,
		    WIFSIGNALED(status) ? "killed by signal" : "exited",
		    WIFSIGNALED(status) ? WTERMSIG(status)
		                        : WEXITSTATUS(status),
		    snap != NULL ? "storing it failed" : why, o->dir,
		    r->run_id);
	}
	unlink_run(o, r->run_id, snap == NULL);
	msg_obs_snapshot_free(snap);
	free(r->run_id);
	r->run_id = NULL;
	r->pid    = 0;
}

/* reap collects r's worker once it exited, stopping it when it overran
 * twice the command timeout. */
static void
reap(struct observer *o, struct obs_repo *r)
{
	int   status = 0;
	pid_t w;

	if (r->pid == 0)
		return;
	w = waitpid(r->pid, &status, WNOHANG);
	if (w == 0) {
		if (r->kill_at == 0 && mono_ms() >= r->deadline) {
			log_warn("observer.timeout",
			    "%s: observation %s "
			    "overran %lld ms: stopping its worker",
			    r->key, r->run_id,
			    (long long) (2 * o->cmd_timeout_ms));
			signal_group(r->pid, SIGTERM);
			r->kill_at = mono_ms() + KILL_GRACE_MS;
		} else if (r->kill_at != 0 && mono_ms() >= r->kill_at) {
			signal_group(r->pid, SIGKILL);
			r->kill_at = INT64_MAX;
		}
		return;
	}
	if (w < 0 && errno == EINTR)
		return;
	finished(o, r, status);
}

static bool
due(const struct observer *o, const struct obs_repo *r, int64_t now)
{
	int64_t last =
	    r->last_obs > r->last_start ? r->last_obs : r->last_start;

	return (o->interval_ms > 0 && now >= last + o->interval_ms);
}

static void
sched_tick(struct observer *o)
{
	struct obs_repo *r;
	int64_t          running = 0, now = now_ms();
	size_t           i;
	char            *id;

	/* a full disk pauses it: what ended is reaped when writes work */
	if (!svc_caught_up(o->svc) || svc_disk_full(o->svc))
		return;
	for (i = 0; i < o->nrepos; i++) {
		reap(o, &o->repos[i]);
		running += o->repos[i].pid != 0;
	}
	/* Asked-for observations first, then the periodic ones. */
	for (i = 0; i < o->nrepos && running < o->max_parallel; i++) {
		r = &o->repos[i];
		if (r->pid != 0 || r->queued == NULL)
			continue;
		id        = r->queued;
		r->queued = NULL;
		start(o, r, id);
		running += r->pid != 0;
	}
	for (i = 0; i < o->nrepos && running < o->max_parallel; i++) {
		r = &o->repos[i];
		if (r->pid != 0 || !due(o, r, now))
			continue;
		start(o, r, sched_run_id());
		running += r->pid != 0;
	}
}

static void
tick_cb(struct loop *l, void *arg)
{
	struct observer *o = arg;

	o->tick = loop_timer(l, TICK_MS, tick_cb, o);
	sched_tick(o);
}

static void
kick_cb(struct loop *l, void *arg)
{
	struct observer *o = arg;

	UNUSED(l);
	o->kick = 0;
	sched_tick(o);
}

const char *
sched_queue(struct observer *o, struct obs_repo *r)
{
	if (r->queued == NULL)
		r->queued = sched_run_id();
	/* Start it from the loop right after this handler, not within. */
	if (o->kick == 0)
		o->kick = loop_timer(svc_loop(o->svc), 0, kick_cb, o);
	return (r->queued);
}

static bool
ends_with(const char *s, const char *sfx)
{
	size_t n = strlen(s), k = strlen(sfx);

	return (n >= k && strcmp(s + n - k, sfx) == 0);
}

/* clean_dir removes the spec and snapshot files of observations a
 * previous life lost (their logs stay, for the curious). */
static void
clean_dir(struct observer *o)
{
	struct dirent *e;
	DIR           *d = opendir(o->dir);
	char          *p;

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "obs_", 4) != 0 ||
		    !(ends_with(e->d_name, ".spec.json") ||
		        ends_with(e->d_name, ".snapshot.json") ||
		        ends_with(e->d_name, ".snapshot.json.tmp")))
			continue;
		p = xasprintf("%s/%s", o->dir, e->d_name);
		(void) unlink(p);
		free(p);
	}
	if (d != NULL)
		closedir(d);
}

int
sched_init(struct observer *o)
{
	size_t i;
	int    rv;

	if ((rv = store_exec(svc_store(o->svc), schema)) != 0)
		return (rv);
	clean_dir(o);
	for (i = 0; i < o->nrepos; i++)
		(void) store_int(svc_store(o->svc), &o->repos[i].last_obs, 0,
		    "SELECT max(observed_at) FROM snapshot WHERE repo = ?",
		    "t", o->repos[i].key);
	o->tick = loop_timer(svc_loop(o->svc), TICK_MS, tick_cb, o);
	return (0);
}

void
sched_stop(struct observer *o)
{
	size_t i;

	for (i = 0; i < o->nrepos; i++)
		if (o->repos[i].pid > 1)
			signal_group(o->repos[i].pid, SIGTERM);
}
