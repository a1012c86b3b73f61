/*
 * prq.c - the executor's queue of pull requests held by a cap (issue 20).
 *
 * A run whose repo's caps (repos.R.max_open_prs, max_prs_per_hour) were
 * reached when it pushed its branch reports pr_state waiting (pr.c).  Its
 * result is recorded as a success (the work is done and pushed) and, in
 * the same transaction, a row of pr_wait is inserted and exec.pr.waiting
 * published.  Each tick the oldest row of each repo whose re-check is due
 * (pr_cap_cache_seconds after the last count) runs the worker in its
 * PR-only mode (opc-exec-run --pr-only, on the run's request file): it
 * looks for an open pull request of the branch first, counts the caps,
 * and creates one only when they allow.  Its answer (<run_id>.pr.json)
 * deletes the row with exec.pr.opened, or keeps it with the new reason.
 *
 * Table pr_wait: seq (the order), repo, run_id, task_id, head, reason,
 * since_ms, next_ms (when it may be tried), pid (its PR-only worker, 0:
 * none), tries.  One worker per repo at a time, the oldest row only: the
 * order is kept.  A PR-only worker survives a killed executor: the next
 * life finds its pid (checked by /proc cmdline), waits for it or, when
 * it is gone, reads its answer or runs it again; since the worker looks
 * for the branch's open pull request before creating one, a crash
 * between GitHub's create and the row's delete opens no second one.
 *
 * A task cancelled on the board (exec.cancel from the router) drops its
 * rows: at once, with exec.pr.dropped, when no worker is opening one;
 * else drop_reason marks it and the worker's answer decides: a pull
 * request it already opened is reported as opened (it exists: saying
 * otherwise would hide it), anything else drops the row.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "executor_int.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/store.h"
#include "opc/util.h"

static const char prq_schema[] =
    "CREATE TABLE IF NOT EXISTS pr_wait("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, repo TEXT NOT NULL,"
    " run_id TEXT NOT NULL UNIQUE, task_id TEXT NOT NULL, head TEXT,"
    " reason TEXT, since_ms INTEGER NOT NULL,"
    " next_ms INTEGER NOT NULL DEFAULT 0,"
    " pid INTEGER NOT NULL DEFAULT 0, tries INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS pr_wait_repo ON pr_wait(repo, seq);";

int
executor_prq_open(struct executor *x)
{
	int rv;

	if ((rv = store_exec(svc_store(x->svc), prq_schema)) != 0)
		return (rv);
	return (store_add_column(
	    svc_store(x->svc), "pr_wait", "drop_reason", "TEXT"));
}

/* drop deletes row seq and journals exec.pr.dropped (in the caller's
 * transaction). */
static int
drop(struct executor *x, int64_t seq, const char *run_id, const char *task_id,
    const char *repo, const char *head, int64_t since, const char *why)
{
	struct msg_exec_pr_dropped ev;
	int                        rv;

	if ((rv = store_run(svc_store(x->svc),
	         "DELETE FROM pr_wait WHERE seq = ?", "i", seq)) != 0)
		return (rv);
	memset(&ev, 0, sizeof(ev));
	ev.run_id      = (char *) run_id;
	ev.task_id     = (char *) task_id;
	ev.repo_key    = (char *) repo;
	ev.branch_name = (char *) head;
	ev.reason      = (char *) why;
	ev.waited_ms   = now_ms() - since;
	log_info("executor.pr",
	    "%s: run %s: its queued pull request is dropped (%s); branch %s "
	    "stays pushed",
	    task_id, run_id, why, head != NULL ? head : "?");
	svc_count(x->svc, "pr_dropped", 1);
	return (svc_emit(x->svc, MSG_EXEC_PR_DROPPED, task_id, &ev));
}

int
executor_prq_cancel(struct executor *x, const char *task_id, const char *why)
{
	struct store_stmt *st;
	struct {
		int64_t seq, since;
		char   *run_id, *repo, *head;
	} r[32];
	size_t n = 0, i;
	int    rv;

	/* a worker opening one: its answer decides (answer()) */
	if ((rv = store_run(svc_store(x->svc),
	         "UPDATE pr_wait SET drop_reason = ? WHERE task_id = ? AND"
	         " pid > 0",
	         "tt", why, task_id)) != 0 ||
	    (rv = store_prep(svc_store(x->svc), &st,
	         "SELECT seq, since_ms, run_id, repo, head FROM pr_wait"
	         " WHERE task_id = ? AND pid = 0")) != 0)
		return (rv);
	store_bind_text(st, 1, task_id);
	while (n < nitems(r) && store_step(st) == 1) {
		r[n].seq    = store_col_int(st, 0);
		r[n].since  = store_col_int(st, 1);
		r[n].run_id = store_col_dup(st, 2);
		r[n].repo   = store_col_dup(st, 3);
		r[n++].head = store_col_dup(st, 4);
	}
	store_done(st);
	for (i = 0; i < n; i++) {
		if (rv == 0)
			rv = drop(x, r[i].seq, r[i].run_id, task_id, r[i].repo,
			    r[i].head, r[i].since, why);
		free(r[i].run_id);
		free(r[i].repo);
		free(r[i].head);
	}
	return (rv);
}

/* repo_of reads the repo key of a run from its request file (a new
 * string), NULL when it cannot. */
static char *
repo_of(struct executor *x, const char *run_id)
{
	char   *p = executor_path_for(x, run_id, ".request.json"), *k = NULL;
	json_t *j = json_load_file(p, 0, NULL);

	if (json_is_string(json_object_get(j, "repo_key")))
		k = xstrdup(json_string_value(json_object_get(j, "repo_key")));
	json_decref(j);
	free(p);
	return (k);
}

int64_t
executor_prq_queued(struct executor *x, const char *repo)
{
	int64_t n = 0;

	(void) store_int(svc_store(x->svc), &n, 0,
	    "SELECT count(*) FROM pr_wait WHERE repo = ?", "t", repo);
	return (n);
}

int
executor_prq_enqueue(struct executor *x, const char *run_id,
    const char *task_id, const struct msg_exec_result *res)
{
	struct msg_exec_pr_waiting ev;
	char                      *repo;
	int64_t                    pos = 0, now = now_ms();
	int                        rv;

	if (!res->success || res->pr_state == NULL ||
	    strcmp(res->pr_state, "waiting") != 0)
		return (0);
	if ((repo = repo_of(x, run_id)) == NULL) {
		log_error("executor.pr",
		    "%s: run %s: its request file names "
		    "no repo: its pull request cannot wait",
		    task_id, run_id);
		return (0);
	}
	rv = store_run(svc_store(x->svc),
	    "INSERT OR IGNORE INTO pr_wait(repo, run_id, task_id, head, "
	    " reason, since_ms, next_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
	    "tttttii", repo, run_id, task_id, res->branch_name,
	    res->pr_wait_reason, now, now + x->pr_cache_ms);
	if (rv == 0 && store_changes(svc_store(x->svc)) == 1) {
		(void) store_int(svc_store(x->svc), &pos, 0,
		    "SELECT count(*) FROM pr_wait WHERE repo = ?", "t", repo);
		memset(&ev, 0, sizeof(ev));
		ev.run_id      = (char *) run_id;
		ev.task_id     = (char *) task_id;
		ev.repo_key    = repo;
		ev.branch_name = res->branch_name;
		ev.reason      = res->pr_wait_reason;
		ev.position    = pos;
		ev.since_ms    = now;
		log_info("executor.pr",
		    "%s: run %s: branch %s pushed, its pull "
		    "request waits (%lld in %s's queue): %s",
		    task_id, run_id, res->branch_name ? res->branch_name : "?",
		    (long long) pos, repo,
		    res->pr_wait_reason ? res->pr_wait_reason : "a cap");
		svc_count(x->svc, "pr_waiting", 1);
		rv = svc_emit(x->svc, MSG_EXEC_PR_WAITING, task_id, &ev);
	}
	free(repo);
	return (rv);
}

/* spawn runs opc-exec-run --pr-only for a row. */
static pid_t
spawn(struct executor *x, const char *run_id, const char *repo)
{
	char *argv[7] = { NULL };
	pid_t pid;

	argv[0] = x->worker;
	argv[1] = "--pr-only";
	argv[2] = "--request";
	argv[3] = executor_path_for(x, run_id, ".request.json");
	argv[4] = "--out";
	argv[5] = executor_path_for(x, run_id, ".pr.json");
	(void) unlink(argv[5]); /* an answer of an earlier try */
	pid = executor_spawn_worker(
	    x, argv, run_id, ".pr.log", executor_github_token(x, repo));
	if (pid < 0)
		log_error("executor.pr", "run %s: cannot run %s: %s", run_id,
		    x->worker, strerror(errno));
	free(argv[3]);
	free(argv[5]);
	return (pid);
}

/* alive: pid is still a PR-only worker of run_id (a worker of an earlier
 * life of ours, or our child not yet reaped). */
static bool
alive(struct executor *x, pid_t pid, const char *run_id)
{
	char   *want = executor_path_for(x, run_id, ".request.json");
	char    path[64], buf[8192];
	ssize_t n;
	int     fd;
	bool    ok = false;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int) pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		(void) close(fd);
		if (n > 0) {
			buf[n] = '\0';
			/* arguments are NUL-separated: look at each */
			for (ssize_t o = 0; o < n && !ok;
			     o += (ssize_t) strlen(buf + o) + 1)
				ok = strcmp(buf + o, want) == 0;
		}
	}
	free(want);
	return (ok);
}

/* answer takes the PR-only worker's answer for a row: the pull request
 * is open (row deleted, exec.pr.opened), or it waits again. */
static void
answer(struct executor *x, int64_t seq, const char *run_id,
    const char *task_id, const char *repo, const char *head, int64_t since,
    int64_t tries, const char *dropped)
{
	struct msg_exec_pr_opened ev;
	char       *p = executor_path_for(x, run_id, ".pr.json"), *why = NULL;
	json_t     *j  = json_load_file(p, 0, NULL);
	const char *st = json_string_value(json_object_get(j, "pr_state"));
	const char *url =
	    json_string_value(json_object_get(j, "pull_request_url"));
	int64_t now = now_ms(), next;

	if (st != NULL && strcmp(st, "opened") == 0 && url != NULL) {
		memset(&ev, 0, sizeof(ev));
		ev.run_id           = (char *) run_id;
		ev.task_id          = (char *) task_id;
		ev.repo_key         = (char *) repo;
		ev.branch_name      = (char *) head;
		ev.pull_request_url = (char *) url;
		ev.waited_ms        = now - since;
		if (svc_begin(x->svc) != 0)
			goto out;
		if (store_run(svc_store(x->svc),
		        "DELETE FROM pr_wait WHERE seq = ?", "i", seq) != 0 ||
		    svc_emit(x->svc, MSG_EXEC_PR_OPENED, task_id, &ev) != 0 ||
		    svc_commit(x->svc) != 0) {
			(void) svc_rollback(x->svc);
			goto out;
		}
		log_info("executor.pr",
		    "%s: run %s: pull request %s opened after "
		    "waiting %lld s",
		    task_id, run_id, url, (long long) (now - since) / 1000);
		svc_count(x->svc, "pr_opened_from_queue", 1);
		(void) unlink(p);
		goto out;
	}
	if (dropped != NULL) {
		/* its task was cancelled while the worker ran */
		if (svc_begin(x->svc) == 0) {
			if (drop(x, seq, run_id, task_id, repo, head, since,
			        dropped) == 0)
				(void) svc_commit(x->svc);
			else
				(void) svc_rollback(x->svc);
		}
		(void) unlink(p);
		goto out;
	}
	if (st != NULL && strcmp(st, "waiting") == 0)
		why = xstrdup_null(
		    json_string_value(json_object_get(j, "pr_wait_reason")));
	else {
		const char *e = json_string_value(
		    json_object_get(j, "pull_request_error"));

		why = xasprintf("opening it failed (try %lld): %s",
		    (long long) tries + 1,
		    e != NULL       ? e
		        : j == NULL ? "the worker gave no answer"
		                    : "no reason given");
		log_warn(
		    "executor.pr", "%s: run %s: %s", task_id, run_id, why);
		svc_count(x->svc, "pr_open_failed", 1);
		tries++;
	}
	/* a failure backs off up to 16 times the cache period */
	next = now +
	    x->pr_cache_ms * (tries > 0 ? (tries < 4 ? 1 << tries : 16) : 1);
	if (next < now + 1000 && tries > 0)
		next = now + 1000;
	(void) store_run(svc_store(x->svc),
	    "UPDATE pr_wait SET pid = 0, reason = coalesce(?, reason),"
	    " next_ms = ?, tries = ? WHERE seq = ?",
	    "tiii", why, next, tries, seq);
out:
	free(why);
	json_decref(j);
	free(p);
}

void
executor_prq_tick(struct executor *x)
{
	struct store_stmt *st;
	struct prow {
		int64_t seq, pid, since, tries, next;
		char   *run_id, *task_id, *repo, *head, *dropped;
	} r[32];
	size_t  n   = 0, i;
	int64_t now = now_ms();
	pid_t   w, pid;
	int     status;

	/* the head of each repo's queue */
	if (store_prep(svc_store(x->svc), &st,
	        "SELECT seq, pid, since_ms, tries, next_ms, run_id, task_id,"
	        " repo, coalesce(head, ''), drop_reason FROM pr_wait w WHERE"
	        " seq ="
	        " (SELECT min(seq) FROM pr_wait WHERE repo = w.repo)"
	        " ORDER BY seq LIMIT 32") != 0)
		return;
	while (n < nitems(r) && store_step(st) == 1) {
		r[n].seq     = store_col_int(st, 0);
		r[n].pid     = store_col_int(st, 1);
		r[n].since   = store_col_int(st, 2);
		r[n].tries   = store_col_int(st, 3);
		r[n].next    = store_col_int(st, 4);
		r[n].run_id  = xstrdup(store_col_text(st, 5));
		r[n].task_id = xstrdup(store_col_text(st, 6));
		r[n].repo    = xstrdup(store_col_text(st, 7));
		r[n].head    = xstrdup(store_col_text(st, 8));
		r[n].dropped = store_col_dup(st, 9);
		n++;
	}
	store_done(st);
	for (i = 0; i < n; i++) {
		if (r[i].pid > 0) {
			pid = (pid_t) r[i].pid;
			w   = waitpid(pid, &status, WNOHANG);
			if (w == 0 || (w < 0 && alive(x, pid, r[i].run_id)))
				continue; /* still at it */
			answer(x, r[i].seq, r[i].run_id, r[i].task_id,
			    r[i].repo, r[i].head, r[i].since, r[i].tries,
			    r[i].dropped);
			continue;
		}
		if (r[i].next > now)
			continue;
		if ((pid = spawn(x, r[i].run_id, r[i].repo)) < 0) {
			(void) store_run(svc_store(x->svc),
			    "UPDATE pr_wait SET next_ms = ? WHERE seq = ?",
			    "ii", now + 10000, r[i].seq);
			continue;
		}
		(void) store_run(svc_store(x->svc),
		    "UPDATE pr_wait SET pid = ? WHERE seq = ?", "ii",
		    (int64_t) pid, r[i].seq);
	}
	for (i = 0; i < n; i++) {
		free(r[i].run_id);
		free(r[i].task_id);
		free(r[i].repo);
		free(r[i].head);
		free(r[i].dropped);
	}
}

void
executor_prq_status(struct executor *x, json_t *obj)
{
	struct store_stmt *st;
	json_t            *q = json_object(), *list;
	const char        *repo;
	int64_t            now = now_ms();

	if (store_prep(svc_store(x->svc), &st,
	        "SELECT repo, run_id, task_id, coalesce(head, ''),"
	        " coalesce(reason, ''), since_ms, pid, tries FROM pr_wait"
	        " ORDER BY repo, seq") == 0) {
		while (store_step(st) == 1) {
			repo = store_col_text(st, 0);
			if ((list = json_object_get(q, repo)) == NULL) {
				list = json_array();
				json_object_set_new(q, repo, list);
			}
			json_array_append_new(list,
			    json_pack("{s:s, s:s, s:s, s:s, s:I, s:b, s:I}",
			        "run_id", store_col_text(st, 1), "task_id",
			        store_col_text(st, 2), "branch",
			        store_col_text(st, 3), "reason",
			        store_col_text(st, 4), "waiting_ms",
			        (json_int_t) (now - store_col_int(st, 5)),
			        "opening", store_col_int(st, 6) > 0, "tries",
			        (json_int_t) store_col_int(st, 7)));
		}
		store_done(st);
	}
	json_object_set_new(obj, "pr_queue", q);
}
