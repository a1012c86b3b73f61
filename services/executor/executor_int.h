/*
 * executor_int.h - private to services/executor: the daemon's state and
 * what request.c provides to executor.c.
 */
#ifndef OPC_EXECUTOR_INT_H
#define OPC_EXECUTOR_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "opc/svc.h"

struct http;

struct executor {
	struct svc  *svc;
	int64_t      max_parallel;
	int64_t      running;
	char        *root;   /* workspace_root, absolute */
	char        *worker; /* opc-exec-run */
	char        *config_dir;
	bool         recovered;
	uint64_t     tick;
	struct http *http;    /* GitHub token checks */
	int64_t      gh_next; /* mono ms of the next token check */
	bool         gh_busy;
	const char  *gh_state; /* token check: ok, expiring, expired,
	                          invalid, rate_limited, unreachable, off
	                          (static), NULL before the first */
	int64_t gh_retry_at;   /* unix ms: rate limited until */
	int     remove_ws;     /* workspace_retention: remove */
	int64_t remove_after;  /* ms after finishing */
	int64_t last_clean;    /* mono ms */
	int64_t sweep_every;   /* orphan_sweep_every: ticks */
	int64_t sweep_ticks;   /* since the last orphan sweep */
	int64_t sweeps;        /* orphan sweeps done */
	int64_t lease_ms;      /* from the last dispatch (router's lease) */
	/* Leases (opc/lease.h): this life's epoch, sent with each heartbeat
	 * and its stamp; the stamp of the newest grant used (0: none yet),
	 * and whether that still covers a run (told when it changes). */
	char    lease_epoch[37];
	int64_t grant_stamp;
	bool    lease_ok;
	/* The disk guardrail: below min_free_disk_mb free on the state or
	 * the workspace filesystem no run starts (the router is told in the
	 * heartbeat and holds its dispatches: low_disk). */
	int64_t disk_floor_mb;
	int64_t disk_free_mb; /* the last reading, -1 unknown */
	bool    low_disk;
	/* Workspace health (health.c): each repo's health_command every
	 * workspace_health_every ticks. */
	struct executor_health *health;
	int64_t                 health_every; /* ticks */
	int64_t                 health_ticks; /* since the last check */
	/* The sandbox (sandbox.h): bwrap probed once at start when a
	 * backend runs sandboxed; sb_why is why it cannot run (NULL: it
	 * can), and such a backend's runs are refused. */
	char *sb_why;
	/* Pull request caps (prq.c): the queue's head of a repo is counted
	 * again at most every pr_cap_cache_seconds. */
	int64_t pr_cache_ms;
};

/* executor_path_for returns "<workspace_root>/<run_id><suffix>". */
char *executor_path_for(
    struct executor *x, const char *run_id, const char *suffix);

/* executor_build_request turns a dispatch into the worker's request file body,
 * or NULL with a reason in err. */
json_t *executor_build_request(
    struct executor *x, json_t *dispatch, char *err, size_t errlen);
/* executor_github_token returns the token for a repo (repos.<key>.token_env,
 * else git.token_env), or NULL. */
const char *executor_github_token(struct executor *x, const char *repo_key);
/* executor_gh_check checks the GitHub token once a day (async, on the loop); a
 * rate-limited check is repeated once the limit lifts (github.h). */
void executor_gh_check(struct executor *x);

/* executor_health_open reads the repos that have a health_command and
 * creates the health table; returns 0 or the store's error.
 * executor_health_close stops what runs and frees it (NULL-safe). */
int  executor_health_open(struct executor *x);
void executor_health_close(struct executor *x);
/* executor_health_tick, once a tick: starts the checks when due, reaps
 * their commands and moves each repo on (health.c's table). */
void executor_health_tick(struct executor *x);

struct msg_exec_result;

/* executor_spawn_worker runs argv (argv[0]: x->worker) with our
 * environment, OPC_GITHUB_TOKEN set to token (removed when NULL: the
 * token never reaches argv), its output appended to
 * <workspace_root>/<run_id><log_suffix>.  The pid, or -1 with errno
 * kept. */
pid_t executor_spawn_worker(struct executor *x, char *const argv[],
    const char *run_id, const char *log_suffix, const char *token);
/* executor_prq_open creates the pr_wait table (prq.c); 0 or the store's
 * error. */
int executor_prq_open(struct executor *x);
/* executor_prq_queued: how many pull requests of repo wait. */
int64_t executor_prq_queued(struct executor *x, const char *repo);
/* executor_prq_enqueue, inside the transaction that records a run's
 * result: a success whose pull request waits (pr_state waiting) gets its
 * row and exec.pr.waiting.  0 (nothing to do too) or the store's error. */
int executor_prq_enqueue(struct executor *x, const char *run_id,
    const char *task_id, const struct msg_exec_result *res);
/* executor_prq_cancel, in the handler's transaction: the queued pull
 * requests of task_id, cancelled on the board, are dropped
 * (exec.pr.dropped, reason why), or marked for their worker's answer. */
int executor_prq_cancel(
    struct executor *x, const char *task_id, const char *why);
/* executor_prq_tick, once a tick: reaps the PR-only workers and starts
 * one for the head of each repo's queue when its re-check is due. */
void executor_prq_tick(struct executor *x);
/* executor_prq_status adds "pr_queue": {repo: [rows, oldest first]}. */
void executor_prq_status(struct executor *x, json_t *obj);

#endif
