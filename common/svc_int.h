/*
 * svc_int.h - private to common/svc*.c and common/ctl.c: the service
 * skeleton's internals.
 */
#ifndef OPC_SVC_INT_H
#define OPC_SVC_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "opc/bus.h"
#include "opc/journal.h"
#include "opc/loop.h"
#include "opc/msg.h"
#include "opc/store.h"
#include "opc/svc.h"
#include "opc/topo.h"
#include "opc/util.h"

#define SVC_BATCH_MAX 4096          /* messages applied per transaction */
#define SVC_REPLAY_MAX 8192         /* events per replay answer */
#define SVC_REPLAY_BYTES (4u << 20) /* bytes per replay answer */
#define REPLAY_STALL_MS 5000        /* no answer: reconnect the REQ */

/* One upstream instance: its pub (SUB) and ctl (REQ), and the cursor. */
struct upstream {
	struct svc *svc;
	char       *name;
	struct bus *sub;
	struct bus *req;
	uint64_t    cursor;    /* applied, possibly uncommitted */
	uint64_t    committed; /* cursor as of the last commit */
	uint64_t    known;     /* highest seq heard of (live or heartbeat) */
	bool        replaying; /* a replay request is in flight */
	bool        reached;   /* heard from it at least once */
	int64_t     replay_sent;
	int64_t     last_hb;  /* mono ms of its last heartbeat */
	int64_t     redialed; /* mono ms of the last silent-upstream redial */
	int         redials;  /* redials since it was last heard */
	bool        remote;   /* pub is tcp:// or tls+tcp:// */
	bool        old_told; /* its older protocol was logged */
	uint64_t    retry_timer;
};

struct svc_counters {
	int64_t msgs_in;
	int64_t msgs_out;
	int64_t applied;
	int64_t duplicates;
	int64_t gaps;
	int64_t replays;
	int64_t replayed;
	int64_t decode_errors;
	int64_t unknown_topics;
	int64_t handler_errors;
	int64_t truncated;
	int64_t ctl_requests;
	int64_t ctl_errors;
	int64_t batches;
};

/* A disk-full episode (svc.c): from the first write refused for want of
 * space until a probe commit works again.  backoff_ms 0: none. */
struct nospace {
	int64_t  backoff_ms; /* the wait before the next probe */
	int64_t  retry_at;   /* mono ms of the next probe */
	int64_t  since;      /* unix ms of the first refused write */
	int64_t  failures;   /* writes refused in this episode */
	uint64_t timer;
	int64_t  last_end;  /* mono ms the last episode ended */
	int64_t  last_wait; /* its last backoff */
	char     path[256]; /* the state dir, or the full path elsewhere */
};

struct svc {
	const struct svc_def   *def;
	void                   *state;
	struct topo            *topo;
	const struct topo_inst *inst;
	struct loop            *loop;
	struct store           *store;
	struct journal         *journal;
	struct bus             *pub;
	struct bus             *ctl;
	struct upstream        *ups;
	size_t                  nups;
	svc_msg_fn              handler[MSG__COUNT];
	svc_ctl_fn              ctlfn[MSG__COUNT];
	struct buf              pending; /* frames to publish after commit */
	size_t                 *plens;   /* their lengths */
	size_t                  npending;
	size_t                  cappending;
	bool                    txn;     /* a batch transaction is open */
	bool                    inited;  /* def->init succeeded */
	int64_t                 started; /* mono ms */
	int64_t                 idle_ms;
	int64_t                 grace_ms; /* unreachable upstream grace */
	uint64_t                hb_timer;
	uint64_t                idle_timer;
	uint64_t                hb_count;
	struct svc_counters     c;
	json_t                 *counters; /* named, from svc_count() */
	struct nospace          nosp;
	char                    last_error[256];
};

/* svc_in.c: the consumer side. */
int  svc_ups_open(struct svc *);
void svc_ups_close(struct svc *);
void svc_ups_status(struct svc *, json_t *obj);
void svc_ups_check(struct svc *);
/* svc_ups_resume asks a replay of every upstream with events not yet
 * applied (after a disk-full pause dropped them). */
void svc_ups_resume(struct svc *);
/* svc_dispatch applies one decoded message inside the open transaction.
 * Returns 0 (applied, or consumed by a failing handler) or ERR_NOSPACE:
 * the disk is full, the whole transaction was rolled back and m is to be
 * applied again later. */
int  svc_dispatch(struct svc *, const struct msg *m);
void svc_set_error(struct svc *, const char *fmt, ...) PRINTFLIKE(2, 3);

/* svc_space_path is where a disk-full episode says the space is
 * missing (the store's directory before one began). */
const char *svc_space_path(struct svc *);

/* ctl.c: the ctl server. */
void    svc_ctl_cb(struct loop *, int fd, short ev, void *arg);
json_t *svc_status_json(struct svc *);

/* svc.c: transactions and publishing. */
int  svc_txn_begin(struct svc *);
int  svc_txn_commit(struct svc *);
void svc_txn_rollback(struct svc *);
void svc_after_batch(struct svc *);

#endif
