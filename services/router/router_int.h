/*
 * router_int.h - the router daemon's state, shared by router.c (handlers,
 * gates, dispatch) and ledger.c (the spend ledger).  Not an API.
 */
#ifndef OPC_ROUTER_INT_H
#define OPC_ROUTER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "opc/msg.h"
#include "opc/svc.h"
#include "route.h"

#define MAX_EXECUTORS 32

#define LEASE_EPOCH_MAX 64

struct executor {
	const char *name;
	int64_t     last_hb; /* mono ms; 0 = not heard since start */
	int64_t     free_slots;
	int64_t     mem_free_mb;
	/* its disk guardrail (heartbeat): below its floor it gets no run */
	int64_t disk_free_mb, disk_floor_mb;
	bool    low_disk;
	/* the lease stamp of its last heartbeat, echoed in our grants
	 * (opc/lease.h); epoch "" until it sent one */
	char    epoch[LEASE_EPOCH_MAX + 1];
	int64_t stamp;
	bool    bad_stamp_told;
};

struct router {
	struct svc              *svc;
	struct budget_cfg        b;
	struct route_policy_cfg *policy; /* router.policy, read at start */
	int64_t                  lease_ms;
	int64_t                  stale_ms;
	int64_t                  started;
	struct executor          ex[MAX_EXECUTORS];
	size_t                   nex;
	/* Spend caps: the config section of every executor instance of the
	 * topology (for backends.<b>.max_budget_usd), the cost booked for a
	 * run that reports none, and whether any cap is set at all. */
	const struct cfg_node *exec_cfg[MAX_EXECUTORS];
	size_t                 nexec_cfg;
	double                 fallback_usd;
	bool                   capped;
};

/* The ledger of one effect-loop pass: the runs open or booked in the last
 * 24 h, loaded once (ledger_load) and grown by the pass's own dispatches
 * (ledger_add), so a pass over a long queue reads the db once. */
struct ledger {
	struct spend_entry *e;
	char              **keys; /* owned copies of e[i].repo_key */
	size_t              n;
	bool                loaded;
};

/* ledger_migrate adds the ledger's columns to an older router db (rrun:
 * repo_key, reserved_usd, cost_usd, cost_source; rtask: hold) and its
 * index; rows are kept.  Returns 0 or ERR_IO. */
int ledger_migrate(struct store *);

/* ledger_init reads the spend settings of the config (the fallback cost,
 * every executor's backend caps, whether any cap is set).  Returns 0 or
 * ERR_CONFIG with a message in err. */
int ledger_init(struct router *, char *err, size_t errlen);

/* ledger_check decides whether a run of backend for repo_key fits under
 * the caps now (loading l on first use); *estimate is what it would
 * reserve.  Returns the verdict (allowed when no cap is set). */
struct spend_gate ledger_check(struct router *, struct ledger *l,
    const char *repo_key, const char *backend, int64_t now_ms,
    double *estimate);

/* ledger_add notes a dispatch of this pass in l (when loaded). */
void ledger_add(struct ledger *l, const char *repo_key, double reserved_usd,
    int64_t now_ms);

/* ledger_fini releases l. */
void ledger_fini(struct ledger *l);

/* ledger_book books the cost of a finished run on its rrun row (known:
 * the run was open; otherwise only a superseded run's reported cost is
 * booked, money spent by a run taken back).  at_ms is when it finished.
 * Call inside the handler's transaction.  Returns 0 or ERR_IO. */
int ledger_book(struct router *, const struct msg_exec_finished *f, bool known,
    int64_t at_ms);

/* ledger_status adds "spend" to the router's status: the day's spent and
 * reserved USD against the global cap and each repo's cap, and which of
 * them hold tasks back now. */
void ledger_status(struct router *, json_t *obj);

/* router_take_back supersedes run_id of task_id on executor (why: the
 * reason exec.superseded carries) in one transaction: the task is queued
 * again, and the executor stops the run at its next grant.  A run taken
 * back for a pause ("paused") does not count against the retry cap
 * (router.c). */
void router_take_back(struct router *, const char *run_id, const char *task_id,
    const char *executor, const char *why);

/* The emergency stop (pause.c). */
/* router_cancel acts on task_id's move to Cancelled (cancel.c), in the
 * caller's transaction: no dispatch of it any more, its runs in flight
 * taken back, exec.cancel for what an executor still holds of it (reason
 * the board's).  0 or the store's error. */
int router_cancel(struct svc *, const char *task_id, const char *reason);

struct pause_hold {
	bool    global;   /* the pause of every repo */
	char   *repo_key; /* else its repo */
	char   *reason, *pause_id;
	int64_t since_ms;
};

/* pause_init creates the pause table.  Returns 0 or ERR_IO. */
int pause_init(struct store *);

/* pause_find: a pause holds tasks of repo_key now (the pause of every
 * repo first); *h gets it (release with pause_hold_fini), zeroed when
 * none. */
bool pause_find(struct router *, const char *repo_key, struct pause_hold *h);

/* pause_any: some pause (of every repo or of a repo) is in force. */
bool pause_any(struct router *);

/* pause_global: the pause of every repo is in force (*h as above). */
bool pause_global(struct router *, struct pause_hold *h);

/* pause_hold_fini releases h's strings. */
void pause_hold_fini(struct pause_hold *h);

/* pause_status adds "pause": {all: {reason, since_ms, pause_id,
 * stop_running, waiting} or null, repos: {KEY: {...}}} to the router's
 * status (waiting: the queued tasks told that pause holds them). */
void pause_status(struct router *, json_t *obj);

/* pause_ctl_pause answers router.pause (ops.paused); pause_ctl_resume
 * router.resume (ops.resumed).  ERR_INVAL for an empty or long reason or
 * an unknown repo, with err set. */
int pause_ctl_pause(struct svc *, const struct msg *req, json_t **data,
    char *err, size_t errlen, void *state);
int pause_ctl_resume(struct svc *, const struct msg *req, json_t **data,
    char *err, size_t errlen, void *state);

#endif
