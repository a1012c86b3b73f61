/*
 * observer.h - opc-observer: periodic repository observation (private to
 * services/observer).
 *
 * The observer watches the checkouts of the configured repos.  Every
 * `interval`, on every ci.check_run / ci.pr_event of a repo, and on the
 * ctl request observer.observe it observes a repo: it spawns one
 * opc-observe-run worker (collect.h) with a spec file, reaps it from a
 * timer, and in one transaction stores the snapshot in its history table
 * and emits observe.snapshot.  Per repo at most one observation is in
 * flight and at most one is queued behind it (later triggers join the
 * queued one), so a burst of CI events costs one extra observation.
 *
 * Handlers only record state (the latest CI test verdict per repo) and
 * queue observations in memory; workers are started from the tick timer,
 * only once caught up.  In-flight and queued observations live in memory
 * only: after a restart they are gone (no event was emitted for them) and
 * the interval observes again.
 *
 * repos.c resolves the config (top-level `repos:` and the instance's
 * `repos:` list) into struct obs_repo; sched.c starts, reaps and commits
 * observations.
 */
#ifndef OPC_OBSERVER_H
#define OPC_OBSERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "opc/svc.h"

extern const struct svc_def observer_def;

/* One observed repo.  Every pointer is owned. */
struct obs_repo {
	char   *key;     /* its key under repos: */
	char   *path;    /* the checkout, absolute */
	char   *github;  /* "owner/name" when known, else NULL */
	json_t *observe; /* {lint_command, type_command, coverage_paths,
	                    todo_max_files} for the spec */

	/* Run time (memory only). */
	pid_t   pid;        /* worker, 0 when none is in flight */
	char   *run_id;     /* of the observation in flight */
	char   *queued;     /* run id of the queued observation */
	char   *report;     /* the newest snapshot's retained artifact */
	char   *report_run; /* the run id it is of */
	int64_t started_ms; /* unix ms the one in flight started */
	int64_t deadline;   /* mono ms: SIGTERM the worker */
	int64_t kill_at;    /* mono ms: SIGKILL it (0: not yet stopping) */
	int64_t last_start; /* unix ms of the last start */
	int64_t last_obs;   /* unix ms of the newest stored snapshot */
};

struct observer {
	struct svc      *svc;
	struct obs_repo *repos;
	size_t           nrepos;
	int64_t          interval_ms; /* 0: no periodic observation */
	int64_t          cmd_timeout_ms;
	int64_t          keep; /* snapshots kept per repo */
	int64_t          max_parallel;
	char            *dir;    /* spec, snapshot and log files */
	char            *worker; /* opc-observe-run */
	uint64_t         tick;
	uint64_t         kick; /* pending immediate tick */
};

/*
 * repos.c
 */

/* repos_load fills o->repos from the config: the top-level repos map
 * (local_path, else a local clone_url, relative to config_dir; observe:
 * lint_command, type_command, coverage_paths, todo_max_files) limited to
 * the instance's repos list when it has one.  Returns 0 or ERR_CONFIG
 * with "file:line:col: ..." in err. */
int  repos_load(struct observer *o, const struct cfg_node *root,
     const struct cfg_node *inst, const char *config_dir, char *err,
     size_t errlen);
void repos_free(struct observer *o);
/* repos_find returns the repo with key name, or NULL. */
struct obs_repo *repos_find(struct observer *o, const char *name);
/* repos_match returns the repo a CI event's repo names: its key, its
 * github_repo, or the owner/name of a GitHub clone_url (case-insensitive),
 * or NULL. */
struct obs_repo *repos_match(struct observer *o, const char *name);

/*
 * sched.c
 */

/* sched_init creates the tables, loads the newest snapshot time of each
 * repo and starts the tick timer.  Returns 0 or ERR_IO. */
int sched_init(struct observer *o);
/* sched_queue queues an observation of r unless one is queued already
 * and returns its run id (borrowed from r). */
const char *sched_queue(struct observer *o, struct obs_repo *r);
/* sched_stop SIGTERMs the workers in flight (shutdown; never blocks). */
void sched_stop(struct observer *o);
/* sched_run_id returns a new run id obs_<YYYYmmddTHHMMSSZ>_<6 hex>. */
char *sched_run_id(void);

#endif
