/*
 * executor.c - the executor daemon (see executor.h).
 *
 * Table erun: run_id, task_id, attempt, dispatch (the exec.dispatch body
 * as JSON), state pending|running|finished|superseded, pid, workspace,
 * started_ms, started_mono, deadline_ms.  Files per run under
 * workspace_root: <run_id>/ (the git workspace), <run_id>.request.json,
 * <run_id>.result.json, <run_id>.worker.log, <run_id>.lease.
 *
 * Table pr_wait and <run_id>.pr.json, .pr.log: the queue of pull requests
 * held by a cap of their repo (prq.c).
 *
 * Leases (opc/lease.h): each heartbeat carries this life's epoch and a
 * stamp; each router heartbeat grants the runs the router holds for us,
 * echoing a stamp.  A usable grant rewrites the lease file of every run
 * it names (stop at stamp + lease / 2) and empties that of a running run
 * it omits (taken back: its worker stops at once).  Nothing else renews:
 * a router that is silent, or cannot hear us, lets the workers stop at
 * half the lease, before it takes their runs back at the full lease.
 * Without a grant that still covers a run, no run starts.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "branch_guard.h"
#include "conf.h"
#include "executor.h"
#include "executor_int.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/http.h"
#include "opc/lease.h"
#include "opc/log.h"
#include "opc/loop.h"
#include "opc/store.h"
#include "opc/topo.h"
#include "opc/util.h"
#include "sandbox.h"
#include "spec.h"

#define TICK_MS 200

extern char **environ;

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS erun("
    " run_id TEXT PRIMARY KEY, task_id TEXT NOT NULL,"
    " attempt INTEGER NOT NULL, dispatch TEXT NOT NULL,"
    " state TEXT NOT NULL, pid INTEGER NOT NULL DEFAULT 0,"
    " workspace TEXT, started_ms INTEGER, started_mono INTEGER,"
    " deadline_ms INTEGER,"
    " stop_reason TEXT, received_ms INTEGER NOT NULL,"
    " finished_ms INTEGER, cleaned INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS erun_state ON erun(state);";

/* ------------------------------------------------------------- helpers */

char *
executor_path_for(struct executor *x, const char *run_id, const char *suffix)
{
	return (xasprintf("%s/%s%s", x->root, run_id, suffix));
}

static int64_t
mem_free_mb(void)
{
	char      line[256];
	FILE     *f = fopen("/proc/meminfo", "r");
	long long kb, total = -1;

	if (f == NULL)
		return (-1);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1 ||
		    sscanf(line, "SwapFree: %lld kB", &kb) == 1)
			total = (total < 0 ? 0 : total) + kb;
	fclose(f);
	return (total < 0 ? -1 : total / 1024);
}

/* free_mb: MiB an unprivileged writer may still use on path's
 * filesystem, -1 when it cannot tell. */
static int64_t
free_mb(const char *path)
{
	struct statvfs v;

	if (statvfs(path, &v) != 0)
		return (-1);
	return (
	    (int64_t) ((uint64_t) v.f_bavail * v.f_frsize / (1024 * 1024)));
}

/* disk_check reads the free space of the state and the workspace
 * filesystems (the lesser counts) against the floor; it says when the
 * executor goes below it and when it comes back. */
static void
disk_check(struct executor *x)
{
	int64_t a = free_mb(svc_topo(x->svc)->state_dir), b = free_mb(x->root);
	bool    low;

	x->disk_free_mb = a < 0 ? b : b < 0 ? a : a < b ? a : b;
	low             = x->disk_floor_mb > 0 && x->disk_free_mb >= 0 &&
	    x->disk_free_mb < x->disk_floor_mb;
	if (low == x->low_disk)
		return;
	x->low_disk = low;
	if (low) {
		log_warn("executor.low_disk",
		    "%lld MiB free on %s, below the "
		    "floor of %lld MiB (min_free_disk_mb): no run starts "
		    "until there is room",
		    (long long) x->disk_free_mb,
		    a == x->disk_free_mb ? svc_topo(x->svc)->state_dir
		                         : x->root,
		    (long long) x->disk_floor_mb);
		svc_count(x->svc, "low_disk", 1);
	} else
		log_info("executor.low_disk",
		    "%lld MiB free again: runs start",
		    (long long) x->disk_free_mb);
}

/* agent_credential emits credential.invalid when the agent CLI of a run
 * was refused its API key (HTTP 401, or the API's authentication error
 * type), in the transaction of exec.finished. */
static int
agent_credential(struct executor *x, const char *task_id,
    const struct msg_exec_result *result)
{
	const struct msg_exec_agent  *a = result->agent;
	const char                   *type;
	struct msg_credential_invalid ev;
	int64_t                       st;

	if (a == NULL || a->cli == NULL)
		return (0);
	st   = a->has_api_status ? a->api_status : 0;
	type = a->api_error;
	if (st != 401 &&
	    (type == NULL ||
	        (strcmp(type, "authentication_error") != 0 &&
	            strcmp(type, "invalid_api_key") != 0)))
		return (0);
	memset(&ev, 0, sizeof(ev));
	ev.provider = (char *) (strcmp(a->cli, "claude_cli") == 0 ? "anthropic"
	        : strcmp(a->cli, "codex_cli") == 0                ? "openai"
	                                                          : a->cli);
	ev.status_code = st > 0 ? st : 401;
	ev.message =
	    a->message != NULL ? a->message : "the API refused the key";
	log_error("executor.credential", "%s: %s refused the API key of %s",
	    task_id, ev.provider, a->cli);
	return (svc_emit(x->svc, MSG_CREDENTIAL_INVALID, NULL, &ev));
}

/* pr_refused raises credential.invalid when GitHub refused the token
 * (401) as the worker opened the pull request: the run failed for a
 * credential, which the operator must hear of as such. */
static int
pr_refused(struct executor *x, const struct msg_exec_result *result)
{
	struct msg_credential_invalid ev;
	const char                   *err = result->pull_request_error;
	char                         *text;
	int                           rv;

	if (!result->has_pull_request_status ||
	    result->pull_request_status != 401)
		return (0);
	text = xasprintf("GitHub refused the token opening a pull request"
	                 "%s%s",
	    err ? ": " : "", err ? err : "");
	memset(&ev, 0, sizeof(ev));
	ev.provider    = "github";
	ev.status_code = 401;
	ev.message     = text;
	x->gh_state    = "invalid";
	log_error("executor.github", "%s", text);
	rv = svc_emit(x->svc, MSG_CREDENTIAL_INVALID, NULL, &ev);
	free(text);
	return (rv);
}

/* finish journals exec.finished for run_id (inside its own transaction)
 * and marks it finished. */
static int
finish(struct executor *x, const char *run_id, const char *task_id,
    int64_t attempt, struct msg_exec_result *result)
{
	struct msg_exec_finished ev;
	char                    *lease;
	int                      rv;

	memset(&ev, 0, sizeof(ev));
	ev.run_id   = (char *) run_id;
	ev.task_id  = (char *) task_id;
	ev.status   = result->status != NULL ? result->status : "failed";
	ev.success  = result->success;
	ev.executor = (char *) svc_name(x->svc);
	ev.attempt  = attempt;
	ev.failure_category = result->failure_category;
	ev.failure_reason   = result->failure_reason;
	ev.branch_name      = result->branch_name;
	ev.pull_request_url = result->pull_request_url;
	ev.result           = result;
	lease               = executor_path_for(x, run_id, ".lease");
	(void) unlink(lease);
	free(lease);
	if ((rv = svc_begin(x->svc)) != 0)
		return (rv);
	if ((rv = store_run(svc_store(x->svc),
	         "UPDATE erun SET state = 'finished', pid = 0, finished_ms = ?"
	         " WHERE run_id = ?",
	         "it", now_ms(), run_id)) == 0 &&
	    (rv = svc_emit(x->svc, MSG_EXEC_FINISHED, task_id, &ev)) == 0 &&
	    (rv = executor_prq_enqueue(x, run_id, task_id, result)) == 0 &&
	    (rv = agent_credential(x, task_id, result)) == 0 &&
	    (rv = pr_refused(x, result)) == 0)
		rv = svc_commit(x->svc);
	else
		(void) svc_rollback(x->svc);
	log_info("executor.finished", "%s: run %s %s%s%s", task_id, run_id,
	    ev.status, ev.failure_category ? " " : "",
	    ev.failure_category ? ev.failure_category : "");
	if (rv == 0 &&
	    branch_guard_refused(ev.failure_category, ev.failure_reason))
		svc_count(x->svc, "push_refused", 1); /* branch safety */
	return (rv);
}

/* synthetic builds a result for a run the worker could not report. */
static struct msg_exec_result *
synthetic(const char *run_id, const char *task_id, const char *status,
    const char *category, const char *reason)
{
	struct msg_exec_result *r = msg_exec_result_new();
	char                    at[40];

	r->run_id               = xstrdup(run_id);
	r->task_id              = xstrdup(task_id);
	r->status               = xstrdup(status);
	r->failure_category     = xstrdup(category);
	r->failure_reason       = utf8_lossy(reason);
	r->changed_files_source = xstrdup("unknown");
	r->completed_at         = xstrdup(iso8601(now_ms(), at, sizeof(at)));
	return (r);
}

/* read_result loads <run_id>.result.json: NULL when there is none; a
 * file that is not a result (cut short, not the contract) is a failure
 * of the run's tooling, said with the decoder's words. */
static struct msg_exec_result *
read_result(struct executor *x, const char *run_id, const char *task_id)
{
	char *p = executor_path_for(x, run_id, ".result.json");
	struct msg_exec_result *r;
	json_error_t            je;
	json_t                 *j;
	char                    err[256], why[512];

	j = json_load_file(p, 0, &je);
	if (j == NULL && access(p, F_OK) != 0) {
		free(p);
		return (NULL);
	}
	free(p);
	r = msg_exec_result_new();
	if (j == NULL)
		snprintf(err, sizeof(err), "%s", je.text);
	else if (msg_exec_result_from_json(r, j, err, sizeof(err)) != 0)
		;
	else if (r->run_id == NULL || strcmp(r->run_id, run_id) != 0)
		snprintf(err, sizeof(err), "it is run %.64s's",
		    r->run_id != NULL ? r->run_id : "(none)");
	else {
		json_decref(j);
		return (r);
	}
	json_decref(j);
	msg_exec_result_free(r);
	snprintf(why, sizeof(why),
	    "the worker's result file is not a run "
	    "result: %s",
	    err);
	log_error("executor.result", "%s: %s", run_id, why);
	svc_count(x->svc, "result_invalid", 1);
	return (synthetic(run_id, task_id, "failed", "infra_tooling", why));
}

/* cmdline_has: /proc/<pid>/cmdline has the argument want. */
static bool
cmdline_has(const char *pid, const char *want)
{
	char   path[64], buf[4096];
	size_t n, i;
	FILE  *f;

	snprintf(path, sizeof(path), "/proc/%s/cmdline", pid);
	if ((f = fopen(path, "r")) == NULL)
		return (false);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (i = 0; i + 1 < n; i += strlen(buf + i) + 1)
		if (strcmp(buf + i, want) == 0)
			return (true);
	return (false);
}

/* find_worker scans /proc for an opc-exec-run of run_id (its pid was not
 * recorded: a crash between the spawn and the pid update). */
static pid_t
find_worker(struct executor *x, const char *run_id)
{
	char          *want = executor_path_for(x, run_id, ".request.json");
	DIR           *d    = opendir("/proc");
	struct dirent *e;
	pid_t          found = 0;

	while (d != NULL && found == 0 && (e = readdir(d)) != NULL)
		if (e->d_name[0] >= '1' && e->d_name[0] <= '9' &&
		    cmdline_has(e->d_name, want))
			found = (pid_t) atoi(e->d_name);
	if (d != NULL)
		closedir(d);
	free(want);
	return (found);
}

/* worker_running: pid is a live (not zombie) opc-exec-run of run_id.  It
 * tells about a worker of an earlier life, which is not our child: once
 * it exits it is a zombie of whoever adopted it, later its pid is free
 * for reuse. */
static bool
worker_running(struct executor *x, const char *run_id, pid_t pid)
{
	char   path[64], pids[24], buf[512], *rp, *want;
	bool   yes;
	size_t n;
	FILE  *f;

	if (pid <= 1)
		return (false);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	if ((f = fopen(path, "r")) == NULL)
		return (false);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) S ...": comm may hold anything, so the last ')' */
	if ((rp = strrchr(buf, ')')) == NULL || rp[1] != ' ' || rp[2] == 'Z' ||
	    rp[2] == 'X')
		return (false);
	snprintf(pids, sizeof(pids), "%d", (int) pid);
	want = executor_path_for(x, run_id, ".request.json");
	yes  = cmdline_has(pids, want);
	free(want);
	return (yes);
}

static void worker_exit_cb(struct loop *, int, short, void *);

/* watch wakes the loop when a worker exits (pidfd, Linux >= 5.3; also
 * for a worker of an earlier life); without it the tick notices. */
static void
watch(struct executor *x, pid_t pid)
{
	int pfd = (int) syscall(SYS_pidfd_open, pid, 0);

	if (pfd >= 0 &&
	    loop_add_fd(svc_loop(x->svc), pfd, POLLIN, worker_exit_cb, x) != 0)
		(void) close(pfd);
}

/* kill_run SIGKILLs what is left of a run: the worker's process group
 * (the worker leads it; its children lead their own groups, which the
 * worker ends itself on SIGTERM). */
static void
kill_run(pid_t pid)
{
	if (pid > 1)
		(void) kill(-pid, SIGKILL);
}

/* ------------------------------------------------------------- handlers */

static int
on_dispatch(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_exec_dispatch *d = &m->body.exec_dispatch;
	json_t                         *body;
	char                           *s;
	int                             rv;

	(void) state;
	/* Any other pending run of this task here is superseded: the
	 * router moved on (new attempt, maybe to another executor). */
	if ((rv = store_run(svc_store(svc),
	         "UPDATE erun SET state = 'superseded' WHERE task_id = ? AND"
	         " state = 'pending' AND run_id <> ?",
	         "tt", d->task_id, d->run_id)) != 0)
		return (rv);
	if (strcmp(d->executor, svc_name(svc)) != 0)
		return (0);
	/* run ids name files under workspace_root: "../x" must never */
	if (!id_valid(d->run_id) || !id_valid(d->task_id)) {
		log_warn("executor.dispatch",
		    "dispatch refused: run id "
		    "'%.64s' or task id '%.64s' is not a safe name",
		    d->run_id, d->task_id);
		svc_count(svc, "bad_dispatch", 1);
		return (0);
	}
	if (d->request == NULL) {
		log_warn("executor.dispatch", "%s: dispatch without a request",
		    d->run_id);
		svc_count(svc, "bad_dispatch", 1);
		return (0);
	}
	body = msg_body_to_json(MSG_EXEC_DISPATCH, &m->body);
	s    = json_dumps(body, JSON_COMPACT);
	rv   = store_run(svc_store(svc),
	      "INSERT OR IGNORE INTO erun(run_id, task_id, attempt, dispatch,"
	        " state, received_ms) VALUES (?, ?, ?, ?, 'pending', ?)",
	      "ttiti", d->run_id, d->task_id, d->attempt, s, now_ms());
	free(s);
	json_decref(body);
	return (rv);
}

/* ---------------------------------------------------------- effect loop */
pid_t
executor_spawn_worker(struct executor *x, char *const argv[],
    const char *run_id, const char *log_suffix, const char *token)
{
	static const char key[] = "OPC_GITHUB_TOKEN=";
	char            **envp, *log, *kv = NULL;
	size_t            n = 0, i;
	pid_t             pid;
	int               saved;

	for (i = 0; environ[i] != NULL; i++)
		;
	envp = xcalloc(i + 2, sizeof(*envp));
	for (i = 0; environ[i] != NULL; i++)
		if (strncmp(environ[i], key, sizeof(key) - 1) != 0)
			envp[n++] = environ[i];
	if (token != NULL)
		envp[n++] = kv = xasprintf("%s%s", key, token);
	log   = executor_path_for(x, run_id, log_suffix);
	pid   = child_spawn(log, argv, envp);
	saved = errno;
	free(log);
	if (kv != NULL) {
		explicit_bzero(kv, strlen(kv));
		free(kv);
	}
	free(envp);
	errno = saved;
	return (pid);
}

/* worker_spawn starts opc-exec-run for a run (token: its GitHub token,
 * or NULL). */
static pid_t
worker_spawn(struct executor *x, const char *run_id, const char *req,
    const char *ws, const char *out, const char *token)
{
	char *argv[10], *kids;
	pid_t pid;
	int   saved;

	argv[0] = x->worker;
	argv[1] = "--request";
	argv[2] = (char *) req;
	argv[3] = "--workspace";
	argv[4] = (char *) ws;
	argv[5] = "--out";
	argv[6] = (char *) out;
	argv[7] = "--children";
	argv[8] = kids = executor_path_for(x, run_id, ".children");
	argv[9]        = NULL;
	pid   = executor_spawn_worker(x, argv, run_id, ".worker.log", token);
	saved = errno;
	free(kids);
	errno = saved;
	return (pid);
}

/* run_lease is the lease of a run's dispatch (body JSON). */
static int64_t
run_lease(const json_t *dispatch)
{
	json_int_t ms =
	    json_integer_value(json_object_get(dispatch, "lease_ms"));

	return (ms > 0 ? (int64_t) ms : LEASE_DEFAULT_MS);
}

/* lease_write sets the lease file of a run: its worker stops at stop_at
 * (monotonic ms; 0: now).  Written whole and renamed into place, so it is
 * never read half written; not synced: it is rewritten with every grant,
 * on the loop, and means nothing after a crash of the host (its workers
 * are gone too). */
static void
lease_write(struct executor *x, const char *run_id, int64_t stop_at)
{
	char *p = executor_path_for(x, run_id, ".lease"), *tmp, text[32];
	int   n = lease_format(text, sizeof(text), stop_at < 0 ? 0 : stop_at);
	int   fd, ok = 0;

	tmp = xasprintf("%s.tmp", p);
	if (n > 0 &&
	    (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) >=
	        0) {
		ok = write(fd, text, (size_t) n) == n;
		ok = close(fd) == 0 && ok;
		ok = ok && rename(tmp, p) == 0;
		if (!ok)
			(void) unlink(tmp);
	}
	if (!ok) {
		log_warn("executor.lease", "run %s: cannot write %s: %s",
		    run_id, p, strerror(errno));
		svc_count(x->svc, "lease_write_errors", 1);
	}
	free(tmp);
	free(p);
}

/* family_of: the task family a "source-family: F" label names (the
 * proposer's), or NULL. */
static char *
family_of(const json_t *labels)
{
	const json_t *v;
	const char   *l;
	size_t        i;

	json_array_foreach (labels, i, v) {
		if ((l = json_string_value(v)) == NULL ||
		    strncasecmp(l, "source-family:", 14) != 0)
			continue;
		l += 14;
		l += strspn(l, " \t");
		if (*l != '\0')
			return (xstrndup(l, strcspn(l, " \t")));
	}
	return (NULL);
}

/* env_check: the tools the run's task family needs (family_tools) that
 * are not on the worker's PATH: exec.env_warning and the original's log
 * event execution_env_warning.  The run goes on. */
static int
env_check(struct executor *x, const char *run_id, const char *task_id,
    const json_t *req)
{
	struct msg_exec_env_warning ev;
	const char                **tools = NULL;
	char                       *family, *p, err[256];
	struct buf                  w;
	size_t                      i, n;
	int                         rv = 0;

	if ((family = family_of(json_object_get(req, "labels"))) == NULL)
		return (0);
	if (cfg_get_strs(cfg_get(svc_cfg(x->svc), "family_tools"), family,
	        &tools, &n, err, sizeof(err)) != 0 ||
	    tools == NULL) {
		free(family);
		return (0);
	}
	memset(&ev, 0, sizeof(ev));
	for (i = 0; tools[i] != NULL; i++) {
		/* a tool given as a path is returned as it is: check it */
		if ((p = spawn_path(tools[i], NULL)) != NULL &&
		    access(p, X_OK) == 0) {
			free(p);
			continue;
		}
		free(p);
		msg_strs_add(&ev.missing, tools[i]);
	}
	if (ev.missing.n > 0) {
		buf_init(&w);
		buf_printf(&w, "family %s needs", family);
		for (i = 0; i < ev.missing.n; i++)
			buf_printf(
			    &w, "%s %s", i > 0 ? "," : "", ev.missing.v[i]);
		buf_puts(&w, ", not on the worker's PATH; the run goes on");
		ev.run_id  = (char *) run_id;
		ev.task_id = (char *) task_id;
		ev.family  = family;
		ev.warning = (char *) buf_cstr(&w);
		log_warn("execution_env_warning", "%s: run %s: %s", task_id,
		    run_id, ev.warning);
		svc_count(x->svc, "env_warning", 1);
		rv = svc_emit(x->svc, MSG_EXEC_ENV_WARNING, task_id, &ev);
		buf_fini(&w);
	}
	msg_strs_fini(&ev.missing);
	free(tools);
	free(family);
	return (rv);
}

/* start launches one pending run: journal running + exec.started first,
 * then spawn the worker, then record its pid. */
static void
start(struct executor *x, const char *run_id, const char *task_id,
    int64_t attempt, json_t *dispatch)
{
	struct msg_exec_started ev;
	json_t                 *req;
	char                    err[512], *rq, *ws, *out, *text;
	int64_t                 deadline, tmo, vt;
	pid_t                   pid;
	int                     rv;

	if (json_integer_value(json_object_get(dispatch, "lease_ms")) > 0)
		x->lease_ms =
		    json_integer_value(json_object_get(dispatch, "lease_ms"));
	req = executor_build_request(x, dispatch, err, sizeof(err));
	if (req == NULL) {
		struct msg_exec_result *r =
		    synthetic(run_id, task_id, "failed", "infra_tooling", err);

		log_warn("executor.request", "%s: %s", run_id, err);
		(void) finish(x, run_id, task_id, attempt, r);
		msg_exec_result_free(r);
		return;
	}
	/* whose run it is, for the orphan sweep of a shared root */
	json_object_set_new(req, "executor", json_string(svc_name(x->svc)));
	rq   = executor_path_for(x, run_id, ".request.json");
	ws   = executor_path_for(x, run_id, "");
	out  = executor_path_for(x, run_id, ".result.json");
	text = json_dumps(req, JSON_INDENT(2) | JSON_SORT_KEYS);
	tmo  = json_integer_value(json_object_get(req, "timeout_seconds"));
	vt   = json_integer_value(
	      json_object_get(req, "validation_timeout_seconds"));
	deadline = now_ms() +
	    ((tmo > 0 ? tmo : 300) +
	        (vt > 0 ? vt : 300) *
	            (int64_t) (1 +
	                json_array_size(
	                    json_object_get(req, "validation_commands"))) +
	        300) *
	        1000;
	if ((rv = write_file_atomic(rq, text, strlen(text))) != 0) {
		log_error("executor.request", "%s: cannot write %s: %s",
		    run_id, rq, err_str(rv));
		if (rv == ERR_NOSPACE)
			svc_nospace(x->svc, x->root);
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.run_id    = (char *) run_id;
	ev.task_id   = (char *) task_id;
	ev.executor  = (char *) svc_name(x->svc);
	ev.attempt   = attempt;
	ev.workspace = ws;
	if (svc_begin(x->svc) != 0)
		goto out;
	if (store_run(svc_store(x->svc),
	        "UPDATE erun SET state = 'running', workspace = ?,"
	        " started_ms = ?, started_mono = ?, deadline_ms = ?"
	        " WHERE run_id = ? AND state = 'pending'",
	        "tiiit", ws, now_ms(), mono_ms(), deadline, run_id) != 0 ||
	    svc_emit(x->svc, MSG_EXEC_STARTED, task_id, &ev) != 0 ||
	    env_check(x, run_id, task_id, req) != 0 ||
	    svc_commit(x->svc) != 0) {
		(void) svc_rollback(x->svc);
		goto out;
	}
	/* the newest grant covers it (launch() checked): the router had
	 * its dispatch and hears us */
	lease_write(
	    x, run_id, lease_stop_at(x->grant_stamp, run_lease(dispatch)));
	if ((pid = worker_spawn(x, run_id, rq, ws, out,
	         executor_github_token(x,
	             json_string_value(json_object_get(req, "repo_key"))))) <
	    0) {
		struct msg_exec_result *r;

		snprintf(err, sizeof(err), "cannot run %s: %s", x->worker,
		    strerror(errno));
		log_error("executor.spawn", "%s: %s", run_id, err);
		r = synthetic(run_id, task_id, "failed", "infra_tooling", err);
		(void) finish(x, run_id, task_id, attempt, r);
		msg_exec_result_free(r);
		goto out;
	}
	x->running++;
	watch(x, pid);
	(void) store_run(svc_store(x->svc),
	    "UPDATE erun SET pid = ? WHERE run_id = ?", "it", (int64_t) pid,
	    run_id);
	log_info("executor.start", "%s: run %s attempt %lld worker pid %d",
	    task_id, run_id, (long long) attempt, (int) pid);
out:
	free(text);
	free(rq);
	free(ws);
	free(out);
	json_decref(req);
}

struct row {
	char   *run_id, *task_id, *stop_reason;
	int64_t attempt, pid, deadline, started_mono;
	json_t *dispatch;
};

/* rows loads the runs in a state (at most max). */
static size_t
rows(struct executor *x, const char *state, struct row *out, size_t max)
{
	struct store_stmt *st;
	size_t             n = 0;

	if (store_prep(svc_store(x->svc), &st,
	        "SELECT run_id, task_id, attempt, pid, deadline_ms, dispatch,"
	        " coalesce(stop_reason, ''), coalesce(started_mono, 0)"
	        " FROM erun WHERE state = ?"
	        " ORDER BY received_ms LIMIT ?") != 0)
		return (0);
	store_bind_text(st, 1, state);
	store_bind_int(st, 2, (int64_t) max);
	while (n < max && store_step(st) == 1) {
		out[n].run_id   = xstrdup(store_col_text(st, 0));
		out[n].task_id  = xstrdup(store_col_text(st, 1));
		out[n].attempt  = store_col_int(st, 2);
		out[n].pid      = store_col_int(st, 3);
		out[n].deadline = store_col_int(st, 4);
		out[n].dispatch = json_loads(store_col_text(st, 5), 0, NULL);
		out[n].stop_reason  = xstrdup(store_col_text(st, 6));
		out[n].started_mono = store_col_int(st, 7);
		n++;
	}
	store_done(st);
	return (n);
}

static void
rows_free(struct row *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(r[i].run_id);
		free(r[i].task_id);
		free(r[i].stop_reason);
		json_decref(r[i].dispatch);
	}
}

/* kill_children kills what a dead worker left running: the process
 * group of the child it had started (its backend, git, a validation
 * command: each leads its own group), named in <run_id>.children.  The
 * pid is trusted only while that process still works in the run's
 * workspace (its cwd), so a recycled pid is never signalled. */
static void
kill_children(struct executor *x, const char *run_id)
{
	char   *p = executor_path_for(x, run_id, ".children"), *ws, link[64];
	char    cwd[4096], buf[32];
	FILE   *f;
	long    pid = 0;
	ssize_t n;
	size_t  wl;

	if ((f = fopen(p, "r")) != NULL) {
		if (fgets(buf, sizeof(buf), f) != NULL)
			pid = strtol(buf, NULL, 10);
		fclose(f);
	}
	(void) unlink(p);
	free(p);
	if (pid <= 1)
		return;
	snprintf(link, sizeof(link), "/proc/%ld/cwd", pid);
	if ((n = readlink(link, cwd, sizeof(cwd) - 1)) <= 0)
		return;
	cwd[n] = '\0';
	p      = executor_path_for(x, run_id, "");
	ws     = realpath(p, NULL); /* /proc shows the resolved path */
	free(p);
	if (ws == NULL)
		return;
	wl = strlen(ws);
	if (strncmp(cwd, ws, wl) == 0 && (cwd[wl] == '\0' || cwd[wl] == '/')) {
		log_warn("executor.orphan",
		    "run %s: its worker is gone; "
		    "killing the process group %ld it left running",
		    run_id, pid);
		(void) kill(-(pid_t) pid, SIGKILL);
		svc_count(x->svc, "orphans_killed", 1);
	}
	free(ws);
}

/* finish_ended finishes a run whose worker ended without our seeing how
 * (a worker of an earlier life, or one that was stopped): the result it
 * completed stands; anything else is reported interrupted (retried, never
 * half-reported). */
static void
finish_ended(struct executor *x, const struct row *r)
{
	struct msg_exec_result *res = read_result(x, r->run_id, r->task_id);

	kill_children(x, r->run_id);
	if (res == NULL || res->status == NULL ||
	    strcmp(res->status, "interrupted") == 0) {
		msg_exec_result_free(res);
		res = synthetic(r->run_id, r->task_id, "interrupted",
		    "interrupted",
		    "the run's worker ended without a result "
		    "(stopped, or the executor went down while it ran); it "
		    "will be retried");
	}
	(void) finish(x, r->run_id, r->task_id, r->attempt, res);
	msg_exec_result_free(res);
}

enum wk { WK_RUNNING, WK_EXITED, WK_GONE };

/* worker_state: WK_EXITED for our own worker that has exited (reaped now,
 * *status set), WK_GONE for a worker of an earlier life that has ended
 * (or none), else WK_RUNNING. */
static enum wk
worker_state(struct executor *x, const struct row *r, int *status)
{
	pid_t pid = (pid_t) r->pid, w;

	if (pid <= 1)
		return (WK_GONE);
	if ((w = waitpid(pid, status, WNOHANG)) == pid)
		return (WK_EXITED);
	if (w == 0)
		return (WK_RUNNING);
	return (worker_running(x, r->run_id, pid) ? WK_RUNNING : WK_GONE);
}

/* recover takes over the runs an earlier life left running.  A worker
 * still running is adopted: watched, its lease renewed by the next grant,
 * its result read when it ends, so a restart of the executor stops no
 * work (a worker whose executor stays away past half the lease stops
 * itself).  A run whose worker is gone is finished now.  Never blocks. */
static void
recover(struct executor *x)
{
	struct row r[64];
	size_t     n, i;
	pid_t      pid;

	n = rows(x, "running", r, nitems(r));
	for (i = 0; i < n; i++) {
		pid = r[i].pid > 0 ? (pid_t) r[i].pid
		                   : find_worker(x, r[i].run_id);
		if (worker_running(x, r[i].run_id, pid)) {
			log_info("executor.recover",
			    "%s: run %s: adopting "
			    "its running worker %d",
			    r[i].task_id, r[i].run_id, (int) pid);
			if (pid != r[i].pid)
				(void) store_run(svc_store(x->svc),
				    "UPDATE erun SET pid = ? WHERE run_id = ?",
				    "it", (int64_t) pid, r[i].run_id);
			watch(x, pid);
			continue;
		}
		log_warn("executor.recover",
		    "%s: run %s: its worker ended "
		    "while the executor was down",
		    r[i].task_id, r[i].run_id);
		finish_ended(x, &r[i]);
	}
	rows_free(r, n);
}

/* stop_runs finishes the runs being stopped once their worker is gone
 * (SIGKILL after the deadline): a run past its deadline as timed out,
 * else with finish_ended().  The router retries them. */
static void
stop_runs(struct executor *x)
{
	struct row              r[64];
	struct msg_exec_result *res;
	size_t                  n, i;
	int                     status;

	n = rows(x, "stopping", r, nitems(r));
	for (i = 0; i < n; i++) {
		if (worker_state(x, &r[i], &status) == WK_RUNNING) {
			if (now_ms() < r[i].deadline)
				continue;
			kill_run((pid_t) r[i].pid);
		}
		if (strcmp(r[i].stop_reason, "deadline") != 0) {
			finish_ended(x, &r[i]);
			continue;
		}
		res = synthetic(r[i].run_id, r[i].task_id, "timed_out",
		    "timeout", "the run exceeded its overall deadline");
		(void) finish(x, r[i].run_id, r[i].task_id, r[i].attempt, res);
		msg_exec_result_free(res);
	}
	rows_free(r, n);
}

/* short_of_space: the workspace root's filesystem is (nearly) full, so
 * a run that failed there failed for want of space: the executor pauses
 * (svc_nospace) and the run is interrupted, retried, never blamed on the
 * task. */
static bool
short_of_space(struct executor *x)
{
	int64_t room = fs_free(x->root);

	if (room < 0 || room >= FS_SPACE_MIN)
		return (false);
	svc_nospace(x->svc, x->root);
	return (true);
}

/* reap collects ended workers (ours and adopted ones) and enforces run
 * deadlines.  launch(), which always follows, counts the busy slots. */
static void
reap(struct executor *x)
{
	struct row              r[64];
	struct msg_exec_result *res;
	size_t                  n, i;
	int                     status = 0;
	char                    why[128];

	n = rows(x, "running", r, nitems(r));
	for (i = 0; i < n; i++) {
		if (r[i].pid <= 0)
			continue; /* not recorded: recover() finds it */
		switch (worker_state(x, &r[i], &status)) {
		case WK_RUNNING:
			if (now_ms() <= r[i].deadline)
				continue;
			log_warn("executor.deadline",
			    "%s: run %s passed its "
			    "deadline: stopping it",
			    r[i].task_id, r[i].run_id);
			(void) kill(-(pid_t) r[i].pid, SIGTERM);
			(void) store_run(svc_store(x->svc),
			    "UPDATE erun SET state = 'stopping', deadline_ms "
			    "= "
			    "?,"
			    " stop_reason = 'deadline' WHERE run_id = ?",
			    "it", now_ms() + 10000, r[i].run_id);
			continue;
		case WK_GONE:
			finish_ended(x, &r[i]);
			break;
		case WK_EXITED:
			kill_children(x, r[i].run_id);
			if ((res = read_result(
			         x, r[i].run_id, r[i].task_id)) == NULL &&
			    ((WIFEXITED(status) &&
			         WEXITSTATUS(status) == EX_TEMPFAIL) ||
			        short_of_space(x))) {
				/* it could not even write its result: the
				 * disk, not the task */
				snprintf(why, sizeof(why),
				    "no space left on "
				    "%s: the run's worker ended without a "
				    "result; it will be retried",
				    x->root);
				res = synthetic(r[i].run_id, r[i].task_id,
				    "interrupted", "interrupted", why);
			} else if (res == NULL && WIFSIGNALED(status)) {
				/* killed (OOM killer, kill -9): the run is
				 * not to blame; retried like a lost one */
				snprintf(why, sizeof(why),
				    "the run's worker "
				    "was killed by signal %d before it "
				    "finished; it will be retried",
				    WTERMSIG(status));
				res = synthetic(r[i].run_id, r[i].task_id,
				    "interrupted", "interrupted", why);
			} else if (res == NULL) {
				snprintf(why, sizeof(why),
				    "worker ended "
				    "(exit %d) without a result",
				    WEXITSTATUS(status));
				res = synthetic(r[i].run_id, r[i].task_id,
				    "failed", "infra_tooling", why);
			} else if (!res->success)
				(void) short_of_space(x); /* pause starts */
			(void) finish(
			    x, r[i].run_id, r[i].task_id, r[i].attempt, res);
			msg_exec_result_free(res);
			break;
		}
	}
	rows_free(r, n);
}

/* clean removes the workspaces of runs finished more than remove_after
 * ago (workspace_retention: remove); the recorder has copied what it
 * keeps by then.  Request, result and worker log files stay. */
static void
clean(struct executor *x)
{
	struct store_stmt *st;
	char             **ids = NULL, *ws;
	size_t             n   = 0, i;

	if (!x->remove_ws || mono_ms() - x->last_clean < 10000)
		return;
	x->last_clean = mono_ms();
	if (store_prep(svc_store(x->svc), &st,
	        "SELECT run_id FROM erun WHERE state = 'finished' AND"
	        " cleaned = 0 AND finished_ms < ? LIMIT 100") != 0)
		return;
	store_bind_int(st, 1, now_ms() - x->remove_after);
	while (store_step(st) == 1) {
		ids      = xrealloc(ids, (n + 1) * sizeof(*ids));
		ids[n++] = xstrdup(store_col_text(st, 0));
	}
	store_done(st);
	for (i = 0; i < n; i++) {
		ws = executor_path_for(x, ids[i], "");
		if (rmtree(ws) == 0)
			(void) store_run(svc_store(x->svc),
			    "UPDATE erun SET cleaned = 1 WHERE run_id = ?",
			    "t", ids[i]);
		else
			log_warn("executor.clean", "cannot remove %s", ws);
		free(ws);
		free(ids[i]);
	}
	free(ids);
}

/* is_uuid: s is a run id as the router makes them (uuid4 text). */
static bool
is_uuid(const char *s)
{
	size_t i;

	if (strlen(s) != 36)
		return (false);
	for (i = 0; i < 36; i++)
		if ((i == 8 || i == 13 || i == 18 || i == 23)
		        ? s[i] != '-'
		        : strchr("0123456789abcdefABCDEF", s[i]) == NULL)
			return (false);
	return (true);
}

/* sole_executor: no other executor instance in the topology.  Instances
 * may share a workspace root (the default is the state dir's
 * workspaces/), so a run this one does not know may be another's. */
static bool
sole_executor(struct executor *x)
{
	const struct topo *t = svc_topo(x->svc);
	size_t             i;

	for (i = 0; i < t->ninst; i++)
		if (strcmp(t->inst[i].service, "executor") == 0 &&
		    strcmp(t->inst[i].name, svc_name(x->svc)) != 0)
			return (false);
	return (true);
}

/* orphaned: the directory name under the workspace root is a workspace
 * no run owns.  Not orphaned: a run of ours pending, running, stopping
 * (its result not reported yet) or finished (kept or removed as
 * workspace_retention says); a run whose request file names another
 * executor, or names none while other executors may share the root; a
 * directory that is no run's (a name that is not a run id, without a
 * request file).  Orphaned: a run superseded before it started (never
 * reported, never to run), a run of ours this database does not know (a
 * worker of a lost life), or a run id without a request file (which
 * every run gets before its workspace). */
static bool
orphaned(struct executor *x, const char *name)
{
	struct store_stmt *st;
	json_t            *rq;
	const char        *ex, *state = NULL;
	char              *path;
	bool               known = false, orphan = false;

	if (store_prep(svc_store(x->svc), &st,
	        "SELECT state FROM erun WHERE run_id = ?") != 0)
		return (false);
	if (store_bind_text(st, 1, name) != 0) {
		store_done(st);
		return (false);
	}
	if (store_step(st) == 1) {
		known  = true;
		state  = store_col_text(st, 0);
		orphan = state != NULL && strcmp(state, "superseded") == 0;
	}
	store_done(st);
	if (known)
		return (orphan);
	path = executor_path_for(x, name, ".request.json");
	if (access(path, F_OK) != 0)
		orphan = errno == ENOENT && is_uuid(name);
	else if ((rq = json_load_file(path, 0, NULL)) != NULL) {
		ex     = json_string_value(json_object_get(rq, "executor"));
		orphan = ex != NULL ? strcmp(ex, svc_name(x->svc)) == 0
		                    : sole_executor(x);
		json_decref(rq);
	}
	free(path);
	return (orphan);
}

/* sweep_orphans removes the workspaces no run owns (orphaned()): at the
 * first chance after the runs of an earlier life are taken over, then
 * every orphan_sweep_every ticks, whatever workspace_retention says.
 * Only directories right under this executor's workspace root, never
 * through a symbolic link; names are read first, removed after. */
static void
sweep_orphans(struct executor *x)
{
	struct dirent *de;
	struct stat    st;
	DIR           *d;
	char         **names   = NULL, *p;
	size_t         n       = 0, i;
	int64_t        removed = 0, failed = 0;

	if ((d = opendir(x->root)) == NULL) {
		log_warn("watch_cleanup_orphaned_workspaces",
		    "cannot read %s: "
		    "%s",
		    x->root, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !id_valid(de->d_name))
			continue;
		p = executor_path_for(x, de->d_name, "");
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			names      = xrealloc(names, (n + 1) * sizeof(*names));
			names[n++] = xstrdup(de->d_name);
		}
		free(p);
	}
	closedir(d);
	for (i = 0; i < n; i++) {
		if (orphaned(x, names[i])) {
			p = executor_path_for(x, names[i], "");
			if (rmtree(p) == 0)
				removed++;
			else {
				log_warn("watch_cleanup_orphaned_workspaces",
				    "cannot remove %s", p);
				failed++;
			}
			free(p);
		}
		free(names[i]);
	}
	free(names);
	if (removed > 0)
		svc_count(x->svc, "orphaned_workspaces_removed", removed);
	if (removed > 0 || failed > 0 || x->sweeps == 0)
		log_info("watch_cleanup_orphaned_workspaces",
		    "count=%lld: %lld orphaned workspace(s) removed from %s%s",
		    (long long) removed, (long long) removed, x->root,
		    failed > 0 ? " (some could not be removed)" : "");
	x->sweeps++;
}

static void launch(struct executor *);

/* ready: caught up with the router, and the runs of an earlier life taken
 * over (at the first chance): the effect loop may act. */
static bool
ready(struct executor *x)
{
	/* a full disk: nothing is started or finished until writes work
	 * (svc resumes by itself) */
	if (!svc_caught_up(x->svc) || svc_disk_full(x->svc))
		return (false);
	if (!x->recovered) {
		recover(x);
		x->recovered = true;
		sweep_orphans(x); /* the original's cycle 1 */
		x->sweep_ticks = 0;
	}
	return (true);
}

/* worker_exit_cb: a worker's pidfd became readable (it exited): reap it
 * and fill its slot now rather than at the next tick. */
static void
worker_exit_cb(struct loop *l, int fd, short ev, void *arg)
{
	struct executor *x = arg;

	(void) ev;
	loop_del_fd(l, fd);
	(void) close(fd);
	if (!ready(x))
		return;
	reap(x);
	launch(x);
}

/* lease_watch tells when the newest grant stops covering a run (no run
 * starts, running ones stop at their deadline) and when one does again. */
static void
lease_watch(struct executor *x)
{
	bool ok = lease_confirmed(x->grant_stamp, x->lease_ms, mono_ms());

	if (ok == x->lease_ok)
		return;
	x->lease_ok = ok;
	if (ok)
		log_info("executor.lease", "the router grants our runs again");
	else if (x->grant_stamp > 0) {
		log_warn("executor.lease",
		    "no grant from the router for %lld "
		    "ms (half the lease): running runs stop, none start",
		    (long long) (mono_ms() - x->grant_stamp));
		svc_count(x->svc, "lease_lapsed", 1);
	}
}

static void
tick_cb(struct loop *l, void *arg)
{
	struct executor *x = arg;

	x->tick = loop_timer(l, TICK_MS, tick_cb, x);
	lease_watch(x);
	if (!ready(x))
		return;
	reap(x);
	stop_runs(x);
	clean(x);
	if (++x->sweep_ticks >= x->sweep_every) {
		x->sweep_ticks = 0;
		sweep_orphans(x);
	}
	executor_health_tick(x);
	executor_gh_check(x);
	executor_prq_tick(x);
	launch(x);
}

/* ex_idle (after each applied batch): a dispatch just received starts
 * now, and a restart takes over its runs as soon as it has caught up,
 * not at the next tick. */
static void
ex_idle(struct svc *svc, void *state)
{
	struct executor *x = state;

	(void) svc;
	if (ready(x))
		launch(x);
}

/* launch starts pending runs while slots are free. */
static void
launch(struct executor *x)
{
	struct row r[8];
	size_t     n, i;
	int64_t    running = 0;

	(void) store_int(svc_store(x->svc), &running, 0,
	    "SELECT count(*) FROM erun WHERE state IN ('running',"
	    " 'stopping')",
	    NULL);
	x->running = running;
	if (running >= x->max_parallel)
		return;
	/* no new workspace below the floor: pending runs wait (the router,
	 * told by the heartbeat, takes back what does not start) */
	disk_check(x);
	if (x->low_disk)
		return;
	n = rows(x, "pending", r,
	    (size_t) (x->max_parallel - running) < nitems(r)
	        ? (size_t) (x->max_parallel - running)
	        : nitems(r));
	for (i = 0; i < n; i++) {
		if (r[i].dispatch == NULL)
			continue;
		/* cut off from the router (or not granted yet): it may
		 * take this run back, so it waits */
		if (!lease_confirmed(
		        x->grant_stamp, run_lease(r[i].dispatch), mono_ms())) {
			svc_count(x->svc, "start_unconfirmed", 1);
			break;
		}
		start(
		    x, r[i].run_id, r[i].task_id, r[i].attempt, r[i].dispatch);
	}
	rows_free(r, n);
}

/* --------------------------------------------------------------- service */

/* sandbox_check probes bwrap once when any backend runs sandboxed, and
 * says at start which backends' runs will be refused and why. */
static void
sandbox_check(struct executor *x)
{
	const struct cfg_node *bks   = cfg_get(svc_cfg(x->svc), "backends");
	const char            *bwrap = "bwrap";
	json_t                *spec;
	char                   err[256];
	size_t                 i;
	int                    need = 0;

	for (i = 0; i < cfg_len(bks) && !need; i++) {
		spec = backend_spec(cfg_at(bks, i), err, sizeof(err));
		need = spec != NULL && backend_sandboxed(spec);
		json_decref(spec);
	}
	if (!need)
		return;
	(void) cfg_tab_str(executor_keys, svc_cfg(x->svc), "sandbox.bwrap",
	    &bwrap, err, sizeof(err));
	if (sandbox_probe(bwrap, &x->sb_why) == 0) {
		log_info(
		    "executor.sandbox", "bubblewrap runs here (%s)", bwrap);
		return;
	}
	svc_count(x->svc, "sandbox_unavailable", 1);
	log_error("executor.sandbox",
	    "bubblewrap cannot run here: %s; the runs of every sandboxed "
	    "backend will be refused (install bubblewrap, allow unprivileged "
	    "user namespaces, or set sandbox: off on the backend to run it "
	    "unconfined)",
	    x->sb_why);
}

static int
ex_init(struct svc *svc, void *state)
{
	struct executor   *x = state;
	const struct topo *t = svc_topo(svc);
	const char        *root, *worker, *ret;
	char               err[512], *slash;
	int                rv;

	x->svc = svc;
	/* defaults, bounds and choices: executor_keys (config.c) */
	worker = NULL;
	if (cfg_tab_int(executor_keys, svc_cfg(svc), "max_parallel",
	        &x->max_parallel, err, sizeof(err)) != 0 ||
	    cfg_tab_str(executor_keys, svc_cfg(svc), "workspace_root", &root,
	        err, sizeof(err)) != 0 ||
	    cfg_tab_str(executor_keys, svc_cfg(svc), "worker", &worker, err,
	        sizeof(err)) != 0 ||
	    cfg_tab_str(executor_keys, svc_cfg(svc), "workspace_retention",
	        &ret, err, sizeof(err)) != 0 ||
	    cfg_tab_ms(executor_keys, svc_cfg(svc), "workspace_remove_after",
	        &x->remove_after, err, sizeof(err)) != 0 ||
	    cfg_tab_int(executor_keys, svc_cfg(svc), "orphan_sweep_every",
	        &x->sweep_every, err, sizeof(err)) != 0 ||
	    cfg_tab_int(executor_keys, svc_cfg(svc), "min_free_disk_mb",
	        &x->disk_floor_mb, err, sizeof(err)) != 0 ||
	    cfg_tab_int(executor_keys, svc_cfg(svc), "workspace_health_every",
	        &x->health_every, err, sizeof(err)) != 0 ||
	    cfg_tab_int(executor_keys, svc_cfg(svc), "pr_cap_cache_seconds",
	        &x->pr_cache_ms, err, sizeof(err)) != 0 ||
	    backend_check(svc_cfg(svc), err, sizeof(err)) != 0 ||
	    branch_guard_check_config(svc_cfg_root(svc), err, sizeof(err)) !=
	        0) {
		log_error("executor.config", "%s", err);
		return (ERR_CONFIG);
	}
	x->pr_cache_ms *= 1000;
	x->remove_ws  = strcmp(ret, "remove") == 0;
	x->root       = root[0] == '/' ? xstrdup(root)
	                               : xasprintf("%s/%s", t->state_dir, root);
	x->worker     = worker ? xstrdup(worker) : exe_sibling("opc-exec-run");
	x->config_dir = xstrdup(t->config_path);
	if ((slash = strrchr(x->config_dir, '/')) != NULL)
		*slash = '\0';
	if (mkdirs(x->root, 0700) != 0) {
		log_error("executor.config", "cannot create %s", x->root);
		return (ERR_IO);
	}
	sandbox_check(x);
	x->tick = loop_timer(svc_loop(svc), TICK_MS, tick_cb, x);
	if (cfg_secret(cfg_get(svc_cfg_root(svc), "git"), "token_env") != NULL)
		log_redact(cfg_secret(
		    cfg_get(svc_cfg_root(svc), "git"), "token_env"));
	/* The HTTP client only serves the GitHub token check: without a
	 * token, curl (and its TLS stack, several MiB) stays unloaded. */
	if (cfg_secret(cfg_get(svc_cfg_root(svc), "git"), "token_env") !=
	        NULL &&
	    http_open(&x->http, svc_loop(svc)) != 0)
		log_warn(
		    "executor.github", "no HTTP client: token checks off");
	(void) uuid4(x->lease_epoch);
	x->lease_ms = LEASE_DEFAULT_MS;
	if ((rv = store_exec(svc_store(svc), schema)) != 0 ||
	    (rv = executor_health_open(x)) != 0 ||
	    (rv = executor_prq_open(x)) != 0)
		return (rv);
	return (store_add_column(
	    svc_store(svc), "erun", "started_mono", "INTEGER"));
}

static void
ex_fini(struct svc *svc, void *state)
{
	struct executor *x = state;

	(void) svc;
	http_close(&x->http);
	executor_health_close(x);
	free(x->root);
	free(x->worker);
	free(x->config_dir);
	free(x->sb_why);
}

/* ex_shutdown: a graceful stop ends the workers too (SIGTERM: each stops
 * its backend and reports interrupted); the next start finishes those
 * runs. */
static void
ex_shutdown(struct svc *svc, void *state)
{
	struct executor *x = state;
	struct row       r[64];
	size_t           n, i;

	(void) svc;
	n = rows(x, "running", r, nitems(r));
	for (i = 0; i < n; i++)
		if (r[i].pid > 1)
			(void) kill(-(pid_t) r[i].pid, SIGTERM);
	rows_free(r, n);
}

static void
ex_heartbeat(struct svc *svc, void *state, struct msg_heartbeat_info *info)
{
	struct executor       *x  = state;
	const struct cfg_node *bk = cfg_get(svc_cfg(svc), "backends");
	size_t                 i;

	for (i = 0; i < cfg_len(bk); i++)
		msg_strs_add(&info->backends, cfg_key_at(bk, i));
	info->has_backends   = true;
	info->free_slots     = x->max_parallel - x->running;
	info->max_parallel   = x->max_parallel;
	info->running        = x->running;
	info->mem_free_mb    = mem_free_mb();
	info->has_free_slots = info->has_max_parallel = info->has_running =
	    info->has_mem_free_mb                     = true;
	disk_check(x);
	info->disk_free_mb     = x->disk_free_mb;
	info->disk_floor_mb    = x->disk_floor_mb;
	info->low_disk         = x->low_disk;
	info->has_disk_free_mb = info->has_disk_floor_mb = info->has_low_disk =
	    true;
	/* what the router echoes in its grants */
	info->lease_epoch     = xstrdup(x->lease_epoch);
	info->lease_stamp     = mono_ms();
	info->has_lease_stamp = true;
}

static void
ex_status(struct svc *svc, void *state, json_t *obj)
{
	struct executor *x = state;
	json_t          *c = store_counts(
	             svc_store(svc), "SELECT state, count(*) FROM erun GROUP BY state");
	json_t *gh = json_object();

	json_object_set_new(obj, "runs", c);
	json_object_set_new(gh, "token_check",
	    x->gh_state ? json_string(x->gh_state) : json_null());
	if (x->gh_retry_at > 0)
		json_object_set_new(
		    gh, "rate_limited_until_ms", json_integer(x->gh_retry_at));
	json_object_set_new(obj, "github", gh);
	executor_prq_status(x, obj);
	json_object_set_new(obj, "disk",
	    json_pack("{s:I, s:I, s:b}", "free_mb",
	        (json_int_t) x->disk_free_mb, "floor_mb",
	        (json_int_t) x->disk_floor_mb, "low", x->low_disk));
	json_object_set_new(obj, "lease",
	    json_pack("{s:b, s:I}", "confirmed",
	        lease_confirmed(x->grant_stamp, x->lease_ms, mono_ms()),
	        "grant_age_ms",
	        (json_int_t) (x->grant_stamp > 0 ? mono_ms() - x->grant_stamp
	                                         : -1)));
}

/* grant_apply renews the lease of every running run the grant names and
 * takes it from every one it omits that started before the heartbeat it
 * echoes (lease_revokes). */
static void
grant_apply(struct executor *x, int64_t stamp, const struct msg_strs *runs)
{
	struct row r[64];
	size_t     n, i;

	n = rows(x, "running", r, nitems(r));
	for (i = 0; i < n; i++) {
		if (msg_strs_has(runs, r[i].run_id))
			lease_write(x, r[i].run_id,
			    lease_stop_at(stamp, run_lease(r[i].dispatch)));
		else if (lease_revokes(false, r[i].started_mono, stamp)) {
			log_warn("executor.lease",
			    "%s: run %s: the router "
			    "holds it no longer (taken back): its worker "
			    "stops",
			    r[i].task_id, r[i].run_id);
			lease_write(x, r[i].run_id, 0);
			svc_count(x->svc, "lease_revoked", 1);
		}
	}
	rows_free(r, n);
}

/* ex_on_heartbeat takes the router's grant for us: echoing this life's
 * epoch and a stamp newer than the last one used (opc/lease.h), else it
 * renews nothing. */
static void
ex_on_heartbeat(struct svc *svc, const struct msg *m, void *state)
{
	struct executor                 *x  = state;
	const struct msg_heartbeat_info *hi = m->body.heartbeat.info;
	const struct msg_lease_grant    *g  = NULL;
	size_t                           i;

	if (strcmp(m->body.heartbeat.service, "router") != 0 || hi == NULL)
		return;
	if (hi->has_lease_ms && hi->lease_ms > 0)
		x->lease_ms = hi->lease_ms;
	for (i = 0; hi->has_grants && i < hi->grants.n; i++)
		if (strcmp(hi->grants.v[i].executor, svc_name(svc)) == 0)
			g = &hi->grants.v[i];
	if (g == NULL)
		return; /* not heard by it yet, or its db did not answer */
	if (g->stamp <= 0) {
		svc_count(svc, "bad_grant", 1);
		return;
	}
	if (strcmp(g->epoch, x->lease_epoch) != 0)
		return; /* it heard an earlier life of ours */
	if (!lease_grant_usable(g->stamp, x->grant_stamp, mono_ms())) {
		svc_count(svc, "grant_stale", 1);
		return;
	}
	x->grant_stamp = g->stamp;
	grant_apply(x, g->stamp, &g->runs);
}

/* on_superseded: a run the router took back before it started here
 * never starts (a running one is stopped by the next grant). */
static int
on_superseded(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_exec_superseded *s = &m->body.exec_superseded;

	(void) state;
	return (store_run(svc_store(svc),
	    "UPDATE erun SET state = 'superseded' WHERE run_id = ? AND"
	    " state = 'pending'",
	    "t", s->run_id));
}

/* on_cancel: the router says a task was cancelled on the board: its
 * queued pull request is never opened (prq.c). */
static int
on_cancel(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_exec_cancel *c = &m->body.exec_cancel;

	(void) svc;
	return (executor_prq_cancel(state, c->task_id,
	    c->reason != NULL ? c->reason : "cancelled on the board"));
}

static const struct svc_handler handlers[] = {
	{ MSG_EXEC_DISPATCH, on_dispatch },
	{ MSG_EXEC_SUPERSEDED, on_superseded },
	{ MSG_EXEC_CANCEL, on_cancel },
	{ MSG_NONE, NULL },
};

static const struct svc_ctl ctls[] = { { MSG_NONE, NULL } };

const struct svc_def executor_def = {
	.name         = "executor",
	.state_size   = sizeof(struct executor),
	.init         = ex_init,
	.fini         = ex_fini,
	.handlers     = handlers,
	.ctls         = ctls,
	.status       = ex_status,
	.idle         = ex_idle,
	.heartbeat    = ex_heartbeat,
	.on_heartbeat = ex_on_heartbeat,
	.shutdown     = ex_shutdown,
	.config       = executor_keys,
};
