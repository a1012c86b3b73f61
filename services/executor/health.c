/*
 * health.c - workspace health: every workspace_health_every ticks the
 * executor runs each repo's health_command in a checkout of the repo,
 * and when it fails, its repair_command, then the check again (the
 * original's improve watcher, every 25 cycles).
 *
 * The checkout is the repo's local_path (or a clone_url that is a local
 * path), else a clone of clone_url kept under
 * <workspace_root>/.health/<repo> (a dot name: the orphan sweep leaves
 * it alone).  Commands are argv lists from the config, run without a
 * shell in a session of their own, with PATH, HOME and LANG only, each
 * bounded by health_timeout (SIGKILL to the group after it).  Output
 * goes to <workspace_root>/.health/<repo>.log; its tail is in the
 * events.  Per repo (memory; nothing runs after a restart until due):
 *
 *   idle   --due--> clone (no checkout yet) | check
 *   clone  --exit 0--> check;   else repair_failed
 *   check  --exit 0--> idle (healthy: the spell, if any, ends)
 *   check  --fails--> workspace_health.unhealthy; repair | repair_failed
 *   repair --exit 0--> verify;  else repair_failed
 *   verify --exit 0--> idle (workspace_health_repaired);  else
 *                      repair_failed
 *   repair_failed: workspace_health.repair_failed, and the first time in
 *   a spell a proposal.created for "[Workspace] Repair environment for
 *   <repo>" (board-sync makes the task, on the local board or Plane).
 *
 * Table health(repo, spell, open, candidate_id): a spell is open from
 * the first failed repair until a check passes, so the task is proposed
 * once per spell, across restarts; its candidate id
 * workspace-health:<repo>:<spell> is the board's dedup key too.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "executor_int.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/store.h"
#include "opc/util.h"

#define OUTPUT_TAIL 2000

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS health(repo TEXT PRIMARY KEY,"
    " spell INTEGER NOT NULL, open INTEGER NOT NULL,"
    " candidate_id TEXT, updated_ms INTEGER NOT NULL);";

enum phase { P_IDLE, P_CLONE, P_CHECK, P_REPAIR, P_VERIFY };

static const char *const phase_name[] = { "idle", "clone", "check", "repair",
	"verify" };

struct hrepo {
	char      *key;
	char      *dir;       /* the checkout */
	char      *clone_url; /* set when dir is our clone */
	char     **check, **repair;
	char      *log;
	int64_t    timeout_ms;
	enum phase phase;
	pid_t      pid;
	int64_t    deadline; /* mono ms */
	bool       failed;   /* the last check failed */
};

struct executor_health {
	struct hrepo *v;
	size_t        n;
	char         *envp[4];
};

static char **
argv_dup(const struct cfg_node *n, const char *key)
{
	const char **v;
	char       **out, err[256];
	size_t       k, i;

	if (cfg_get_strs(n, key, &v, &k, err, sizeof(err)) != 0 || v == NULL ||
	    k == 0) {
		free(v);
		return (NULL);
	}
	out = xcalloc(k + 1, sizeof(*out));
	for (i = 0; i < k; i++)
		out[i] = xstrdup(v[i]);
	free(v);
	return (out);
}

static void
argv_free(char **v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* local_dir returns the absolute local path a repo's local_path or
 * clone_url names, or NULL when neither is local. */
static char *
local_dir(const struct cfg_node *rn, const char *cfgdir)
{
	return (path_checkout(cfg_str(cfg_get(rn, "local_path")),
	    cfg_str(cfg_get(rn, "clone_url")), cfgdir));
}

int
executor_health_open(struct executor *x)
{
	const struct cfg_node  *repos = cfg_get(svc_cfg_root(x->svc), "repos");
	struct executor_health *h;
	struct hrepo           *r;
	const char *key, *path = getenv("PATH"), *home = getenv("HOME");
	char        err[256];
	size_t      i;
	int         rv;

	if ((rv = store_exec(svc_store(x->svc), schema)) != 0)
		return (rv);
	h          = xcalloc(1, sizeof(*h));
	h->envp[0] = xasprintf("PATH=%s", path ? path : "/usr/bin:/bin");
	h->envp[1] = xasprintf("HOME=%s", home ? home : "/");
	h->envp[2] = xstrdup("LANG=C.UTF-8");
	for (i = 0; i < cfg_len(repos); i++) {
		const struct cfg_node *rn    = cfg_at(repos, i);
		char                 **check = argv_dup(rn, "health_command");

		key = cfg_key_at(repos, i);
		if (check == NULL)
			continue;
		if (!id_valid(key)) {
			log_warn("workspace_health",
			    "repos.%s: not a usable "
			    "key: not checked",
			    key);
			argv_free(check);
			continue;
		}
		h->v = xrealloc(h->v, (h->n + 1) * sizeof(*h->v));
		r    = &h->v[h->n++];
		memset(r, 0, sizeof(*r));
		r->key    = xstrdup(key);
		r->check  = check;
		r->repair = argv_dup(rn, "repair_command");
		r->log    = xasprintf("%s/.health/%s.log", x->root, key);
		if (cfg_tab_ms(conf_repo_keys, rn, "health_timeout",
		        &r->timeout_ms, err, sizeof(err)) != 0)
			r->timeout_ms = 120000;
		if ((r->dir = local_dir(rn, x->config_dir)) == NULL) {
			r->clone_url =
			    xstrdup_null(cfg_str(cfg_get(rn, "clone_url")));
			r->dir = xasprintf("%s/.health/%s", x->root, key);
		}
	}
	x->health = h;
	if (h->n > 0)
		log_info("workspace_health",
		    "%zu repo(s) checked every %lld ticks", h->n,
		    (long long) x->health_every);
	return (0);
}

void
executor_health_close(struct executor *x)
{
	struct executor_health *h = x->health;
	size_t                  i;

	if (h == NULL)
		return;
	for (i = 0; i < h->n; i++) {
		if (h->v[i].pid > 0) {
			(void) kill(-h->v[i].pid, SIGKILL);
			(void) waitpid(h->v[i].pid, NULL, 0);
		}
		free(h->v[i].key);
		free(h->v[i].dir);
		free(h->v[i].clone_url);
		free(h->v[i].log);
		argv_free(h->v[i].check);
		argv_free(h->v[i].repair);
	}
	free(h->v);
	for (i = 0; i < 3; i++)
		free(h->envp[i]);
	free(h);
	x->health = NULL;
}

/* spawn starts argv for r in cwd, its output in r->log (truncated). */
static int
spawn(struct executor *x, struct hrepo *r, char *const argv[], const char *cwd)
{
	char *dir = xasprintf("%s/.health", x->root);
	int   fd;

	(void) mkdirs(dir, 0700);
	free(dir);
	fd     = open(r->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	r->pid = child_spawn_fds(argv, x->health->envp, cwd, -1, fd, fd);
	if (fd >= 0)
		close(fd);
	if (r->pid < 0) {
		FILE *f = fopen(r->log, "a");

		if (f != NULL) {
			fprintf(f, "cannot run %s: %s\n", argv[0],
			    strerror(errno));
			fclose(f);
		}
		r->pid = 0;
		return (-1);
	}
	r->deadline = mono_ms() + r->timeout_ms;
	return (0);
}

/* tail returns the end of r's output, valid UTF-8. */
static char *
tail(const struct hrepo *r)
{
	char  *text = NULL, *t;
	size_t len;

	if (file_read(&text, &len, r->log, 16 * 1024 * 1024) != 0)
		return (xstrdup(""));
	t = utf8_lossy(len > OUTPUT_TAIL ? text + len - OUTPUT_TAIL : text);
	free(text);
	return (t);
}

static void
strs_of(struct msg_strs *s, char *const *argv)
{
	size_t i;

	for (i = 0; argv != NULL && argv[i] != NULL; i++)
		msg_strs_add(s, argv[i]);
}

/* propose emits the repair task's proposal once per spell; *cand gets
 * the spell's candidate id (new or the open one). */
static int
propose(struct executor *x, struct hrepo *r, char **cand)
{
	struct msg_proposal_created m;
	struct store_stmt          *st;
	int64_t                     spell = 0, open = 0;
	char                       *title, *goal, *dk;
	int                         rv;

	*cand = NULL;
	if ((rv = store_prep(svc_store(x->svc), &st,
	         "SELECT spell, open, candidate_id FROM health WHERE repo = "
	         "?")) != 0)
		return (rv);
	store_bind_text(st, 1, r->key);
	if (store_step(st) == 1) {
		spell = store_col_int(st, 0);
		open  = store_col_int(st, 1);
		*cand = xstrdup_null(store_col_text(st, 2));
	}
	store_done(st);
	if (open)
		return (0);
	free(*cand);
	spell++;
	*cand =
	    xasprintf("workspace-health:%s:%lld", r->key, (long long) spell);
	title = xasprintf("[Workspace] Repair environment for %s", r->key);
	goal  = xasprintf(
	     "The automatic workspace health check of %s fails and its repair "
	      "did not fix it. Investigate the environment (the venv or the "
	      "bootstrap script) so that the health command (%s) passes in %s; "
	      "the executor's log (event workspace_health_repair_failed) and "
	      "%s have the output.",
	     r->key, r->check[0], r->dir, r->log);
	dk = xasprintf("workspace_health|%s", r->key);
	memset(&m, 0, sizeof(m));
	m.candidate_id = *cand;
	m.dedup_key    = dk;
	m.family       = "workspace_health";
	m.repo         = r->key;
	m.title        = title;
	m.goal         = goal;
	m.state        = MSG_TASK_STATE_BACKLOG;
	m.kind         = "goal";
	m.source       = "workspace-health";
	msg_strs_add(&m.labels, "lifecycle: escalated");
	rv = store_run(svc_store(x->svc),
	    "INSERT OR REPLACE INTO health(repo, spell, open, candidate_id,"
	    " updated_ms) VALUES (?, ?, 1, ?, ?)",
	    "titi", r->key, spell, *cand, now_ms());
	if (rv == 0)
		rv = svc_emit(x->svc, MSG_PROPOSAL_CREATED, *cand, &m);
	if (rv == 0) {
		svc_count(x->svc, "workspace_repair_tasks", 1);
		log_warn("workspace_health_task_created",
		    "repo=%s candidate=%s: %s", r->key, *cand, title);
	}
	msg_strs_fini(&m.labels);
	free(title);
	free(goal);
	free(dk);
	return (rv);
}

/* the common initial sequence report() relies on (fields only ever
 * added at the end of a topic keep it) */
_Static_assert(offsetof(struct msg_workspace_health_unhealthy, output) ==
            offsetof(struct msg_workspace_health_repair_failed, output) &&
        offsetof(struct msg_workspace_health_unhealthy, command) ==
            offsetof(struct msg_workspace_health_repair_failed, command),
    "workspace_health bodies share their first fields");

/* report journals workspace_health.unhealthy (repair_failed false) or
 * workspace_health.repair_failed, and for the latter the task.  The two
 * bodies share their first six fields (repair_failed adds the task), so
 * one union member is filled and emitted under either topic: the common
 * initial sequence of two members of union msg_body. */
static void
report(struct executor *x, struct hrepo *r, bool repair_failed,
    char *const *argv, int code, const char *reason)
{
	union msg_body                             b;
	struct msg_workspace_health_repair_failed *ev =
	    &b.workspace_health_repair_failed;
	char *out = tail(r), *cand = NULL;
	int   rv;

	if ((rv = svc_begin(x->svc)) != 0)
		goto out;
	if (repair_failed && (rv = propose(x, r, &cand)) != 0)
		goto end;
	memset(&b, 0, sizeof(b));
	ev->repo           = r->key;
	ev->checkout       = r->dir;
	ev->exit_code      = code;
	ev->reason         = (char *) reason;
	ev->output         = out;
	ev->task_candidate = cand;
	strs_of(&ev->command, argv);
	rv = svc_emit(x->svc,
	    repair_failed ? MSG_WORKSPACE_HEALTH_REPAIR_FAILED
	                  : MSG_WORKSPACE_HEALTH_UNHEALTHY,
	    r->key, &b);
	msg_strs_fini(&ev->command);
	svc_count(x->svc,
	    repair_failed ? "workspace_health_repair_failed"
	                  : "workspace_health_unhealthy",
	    1);
	if (repair_failed)
		log_error("workspace_health_repair_failed",
		    "repo=%s exit_code=%d: %s (%s); task %s", r->key, code,
		    reason, r->dir, cand ? cand : "-");
	else
		log_warn("workspace_health_unhealthy",
		    "repo=%s exit_code=%d: %s (%s)%s", r->key, code, reason,
		    r->dir,
		    r->repair != NULL ? "; trying the repair command" : "");
end:
	if (rv == 0)
		rv = svc_commit(x->svc);
	else
		svc_rollback(x->svc);
out:
	if (rv != 0)
		log_warn("workspace_health", "repo=%s: cannot journal: %s",
		    r->key, err_str(rv));
	free(cand);
	free(out);
}

/* healthy ends a spell: the next failed repair proposes a new task. */
static void
healthy(struct executor *x, struct hrepo *r, bool repaired)
{
	int64_t open = 0;

	(void) store_int(svc_store(x->svc), &open, 0,
	    "SELECT open FROM health WHERE repo = ?", "t", r->key);
	if (open)
		(void) store_run(svc_store(x->svc),
		    "UPDATE health SET open = 0, updated_ms = ? WHERE repo = "
		    "?",
		    "it", now_ms(), r->key);
	if (repaired)
		log_info("workspace_health_repaired",
		    "repo=%s: the repair command fixed it", r->key);
	else if (r->failed || open)
		log_info(
		    "workspace_health_ok", "repo=%s: healthy again", r->key);
	r->failed = false;
	svc_count(x->svc, "workspace_health_ok", 1);
}

/* step starts the next command of r after a phase ended with code
 * (0: success; -1: could not run or timed out, why says which). */
static void
step(struct executor *x, struct hrepo *r, int code, const char *why)
{
	char        reason[160];
	char *const clone[] = { "git", "clone", "--quiet", r->clone_url,
		r->dir, NULL };

	if (why == NULL)
		snprintf(reason, sizeof(reason), "%s exited %d",
		    phase_name[r->phase], code);
	else
		snprintf(reason, sizeof(reason), "%s %s", phase_name[r->phase],
		    why);
	switch (r->phase) {
	case P_IDLE:
		if (r->clone_url != NULL && access(r->dir, F_OK) != 0) {
			r->phase = P_CLONE;
			if (spawn(x, r, clone, NULL) != 0)
				step(x, r, -1, "could not run");
			return;
		}
		if (r->clone_url == NULL && access(r->dir, F_OK) != 0) {
			r->phase = P_CHECK;
			step(x, r, -1, "found no checkout");
			return;
		}
		r->phase = P_CHECK;
		if (spawn(x, r, r->check, r->dir) != 0)
			step(x, r, -1, "could not run");
		return;
	case P_CLONE:
		if (code != 0) {
			(void) rmtree(r->dir);
			report(x, r, true, clone, code, reason);
			break;
		}
		r->phase = P_CHECK;
		if (spawn(x, r, r->check, r->dir) != 0)
			step(x, r, -1, "could not run");
		return;
	case P_CHECK:
		if (code == 0) {
			healthy(x, r, false);
			break;
		}
		r->failed = true;
		report(x, r, false, r->check, code, reason);
		if (r->repair == NULL) {
			report(x, r, true, r->check, code,
			    "no repair_command configured");
			break;
		}
		r->phase = P_REPAIR;
		if (spawn(x, r, r->repair, r->dir) != 0)
			step(x, r, -1, "could not run");
		return;
	case P_REPAIR:
		if (code != 0) {
			report(x, r, true, r->repair, code, reason);
			break;
		}
		r->phase = P_VERIFY;
		if (spawn(x, r, r->check, r->dir) != 0)
			step(x, r, -1, "could not run");
		return;
	case P_VERIFY:
		if (code == 0) {
			healthy(x, r, true);
			break;
		}
		report(x, r, true, r->check, code,
		    "still unhealthy after the repair command succeeded");
		break;
	}
	r->phase = P_IDLE;
}

void
executor_health_tick(struct executor *x)
{
	struct executor_health *h = x->health;
	struct hrepo           *r;
	size_t                  i;
	pid_t                   p;
	int                     st;
	bool                    due;

	if (h == NULL || h->n == 0)
		return;
	due = ++x->health_ticks >= x->health_every;
	if (due)
		x->health_ticks = 0;
	for (i = 0; i < h->n; i++) {
		r = &h->v[i];
		if (r->phase == P_IDLE) {
			if (due)
				step(x, r, 0, NULL);
			continue;
		}
		if (r->pid <= 0)
			continue;
		if ((p = waitpid(r->pid, &st, WNOHANG)) == r->pid) {
			r->pid = 0;
			if (WIFEXITED(st))
				step(x, r, WEXITSTATUS(st), NULL);
			else
				step(x, r, -1, "was killed by a signal");
		} else if (p < 0 && errno != EINTR) {
			r->pid = 0;
			step(x, r, -1, "was lost");
		} else if (mono_ms() >= r->deadline) {
			(void) kill(-r->pid, SIGKILL);
			(void) waitpid(r->pid, NULL, 0);
			r->pid = 0;
			step(x, r, -1, "timed out (health_timeout)");
		}
	}
}
