/*
 * svc.h - the service skeleton every daemon is built on.
 *
 * A service is a const struct svc_def: a name, a state size, init/fini, a
 * table of bus handlers and a table of ctl operations.  svc.c owns
 * everything else: argv, config, log, the sqlite store and journal, the
 * sockets (pub + ctl bound, sub + req per upstream), the poll loop,
 * cursors, gap detection and replay, duplicate drop, group commit,
 * heartbeats, `status`/`replay`/`inject` on ctl, bad/unknown message
 * handling (log + counter), and graceful SIGTERM.
 *
 * Handler contract: a handler is a state transition.  It runs inside the
 * batch's transaction; svc_emit() inside it journals events that are
 * published only after that transaction commits, together with the cursor
 * update.  Handlers never block and never touch the outside world; effect
 * loops (the def's idle hook and timers) do that, only when
 * svc_caught_up(), inside svc_begin()/svc_commit().
 */
#ifndef OPC_SVC_H
#define OPC_SVC_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "opc/msg.h"

struct svc;
struct loop;
struct store;
struct topo;
struct topo_inst;
struct cfg_key;
struct cfg_node;

/* A bus handler.  m is borrowed.  Returning non-zero logs and counts a
 * handler error; the message is still consumed (a poison message must not
 * block the stream), so validate before writing. */
typedef int (*svc_msg_fn)(struct svc *, const struct msg *m, void *state);

/* A ctl operation.  req is borrowed.  On success set *data to a new JSON
 * value for the reply (or leave NULL) and return 0; on failure return an
 * ERR_* code and optionally write a reason into err. */
typedef int (*svc_ctl_fn)(struct svc *, const struct msg *req, json_t **data,
    char *err, size_t errlen, void *state);

struct svc_handler {
	enum msg_topic topic;
	svc_msg_fn     fn;
};

struct svc_ctl {
	enum msg_topic topic;
	svc_ctl_fn     fn;
};

/* An extra long option of a daemon's command line (--name [ARG]). */
struct svc_opt {
	const char *name;
	const char *arg; /* NULL: a flag without argument */
	const char *help;
	void (*set)(const char *value); /* value is NULL for flags */
};

struct svc_def {
	const char *name;       /* service kind */
	size_t      state_size; /* zeroed state given to hooks */
	/* init runs after loop, store, journal and config are ready, before
	 * any socket; create tables, add timers and fds here.  Non-zero aborts
	 * start-up. */
	int (*init)(struct svc *, void *state);
	void (*fini)(struct svc *, void *state);
	const struct svc_handler *handlers; /* ends with { MSG_NONE, NULL } */
	const struct svc_ctl     *ctls;     /* ends with { MSG_NONE, NULL } */
	/* status adds service fields to the status object (may be NULL). */
	void (*status)(struct svc *, void *state, json_t *obj);
	/* heartbeat fills the service's fields of the heartbeat's info
	 * (zeroed; what it sets is owned by info, freed after sending). */
	void (*heartbeat)(
	    struct svc *, void *state, struct msg_heartbeat_info *info);
	/* idle is the effect loop: called after each applied batch and every
	 * idle_ms while caught up. */
	void (*idle)(struct svc *, void *state);
	/* on_heartbeat sees every upstream heartbeat (may be NULL). */
	void (*on_heartbeat)(struct svc *, const struct msg *m, void *state);
	/* shutdown runs in svc_main after the loop ended, before teardown;
	 * it may block (bounded), e.g. to stop child processes. */
	void (*shutdown)(struct svc *, void *state);
	/* opts are extra command-line options for svc_main (ends with a
	 * NULL name; may be NULL). */
	const struct svc_opt *opts;
	/* config declares the instance's settings (cfg.h); svc_open checks
	 * its section against it and topo_inst_keys before init, and fails
	 * naming file:line:col.  NULL: the section is not checked. */
	const struct cfg_key *config;
};

/* svc_main parses argv (-c CONFIG -n INSTANCE, --help), runs the service
 * until SIGTERM/SIGINT and returns the process exit code. */
int svc_main(const struct svc_def *, int argc, char **argv);

/* svc_open builds a service for instance name from an already loaded
 * topology (used by svc_main and by in-process tests).  db_path NULL means
 * <state_dir>/<name>.db.  Release with svc_close(). */
int  svc_open(struct svc **sp, const struct svc_def *, struct topo *topo,
     const char *name, const char *db_path);
void svc_close(struct svc **sp);
/* svc_run runs the loop until svc_stop() or a signal. */
int svc_run(struct svc *);
/* svc_stop may be called from any thread. */
void svc_stop(struct svc *);

/* svc_emit journals a durable event (or publishes a volatile one at once)
 * of topic t with body (a struct msg_<t>, borrowed).  Inside a handler or
 * between svc_begin/svc_commit the event is published after commit;
 * elsewhere svc_emit runs its own transaction. */
int svc_emit(
    struct svc *, enum msg_topic t, const char *corr, const void *body);

/* Explicit transactions for effect loops and timers. */
int svc_begin(struct svc *);
int svc_commit(struct svc *);
int svc_rollback(struct svc *);

/* svc_caught_up is true once every reachable upstream has been replayed to
 * its last known seq. */
bool svc_caught_up(const struct svc *);

struct store           *svc_store(struct svc *);
struct loop            *svc_loop(struct svc *);
const struct topo      *svc_topo(const struct svc *);
const struct topo_inst *svc_inst(const struct svc *);
/* svc_cfg returns this instance's config section. */
const struct cfg_node *svc_cfg(const struct svc *);
/* svc_cfg_root returns the whole config document. */
const struct cfg_node *svc_cfg_root(const struct svc *);
const char            *svc_name(const struct svc *);
void                  *svc_state(struct svc *);
uint64_t               svc_last_seq(const struct svc *);
/* svc_cursor returns the applied seq of upstream (0 if unknown). */
uint64_t svc_cursor(const struct svc *, const char *upstream);

/* A full disk.  svc.c notices it itself on every transaction (the store
 * says ERR_NOSPACE); a service calls svc_nospace for the other files it
 * writes (workspaces, evidence).  Then, until writes work again: no
 * message is applied (what arrives is replayed afterwards), effect loops
 * (the idle hook) do not run, ctl requests that write fail with
 * ERR_NOSPACE ("no space left on PATH"), status and heartbeats say "disk
 * full: PATH" (PATH is the state dir when the full path is on its
 * filesystem), counter disk_full.  A probe (FS_SPACE_MIN bytes free, and
 * a commit that writes) runs after 50 ms, doubling up to 5 s; when it
 * works the service resumes by itself and journals svc.disk_full (one
 * escalation). */
void svc_nospace(struct svc *, const char *path);
/* svc_disk_full: a disk-full episode is on; effect loops with timers of
 * their own do nothing while it is. */
bool svc_disk_full(const struct svc *);

/* svc_count increments a named counter shown in status. */
void svc_count(struct svc *, const char *counter, int64_t by);

/* svc_ctl_call sends a ctl request (topic t, body) to instance name and
 * waits for the reply, blocking up to timeout_ms.  For CLI-like helpers
 * and tests only; services must not block.  On success *data gets the
 * reply's data (may be NULL).  Returns 0, the remote error code (err set)
 * or ERR_TIMEOUT / ERR_NOTFOUND. */
int ctl_call(const char *ctl_url, enum msg_topic t, const void *body,
    json_t **data, char *err, size_t errlen, int timeout_ms);

#endif
