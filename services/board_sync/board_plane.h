/*
 * board_plane.h - private to board-sync's Plane mode: its state and the
 * helpers board_plane.c (schedule, poll, mirror, states), plane_claim.c
 * (claims) and plane_push.c (outbox, answers, work-item creation) share.
 *
 * Names: board-sync speaks opcenter's canonical state names ("Ready for
 * AI", "Running", "In Review", "Blocked", "Done", ...) on the bus and in
 * its tables; plane.states maps each to the Plane state it is in a
 * project (a new Plane project has none of "Ready for AI", "Running",
 * "In Review" or "Blocked"), and the mirror stores canonical names.
 */
#ifndef OPC_BOARD_PLANE_H
#define OPC_BOARD_PLANE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "opc/svc.h"
#include "plane.h"

/* The states opcenter reads or moves items to. */
enum bstate {
	BS_READY,
	BS_RUNNING,
	BS_REVIEW,
	BS_BLOCKED,
	BS_DONE,
	BS_BACKLOG,
	BS_CANCELLED,
	BS_N
};

struct bplane {
	struct svc   *svc;
	struct plane *pl;
	/* configuration */
	int64_t poll_ms;      /* poll_interval */
	int64_t safety_ms;    /* plane.safety_poll: once webhooks come */
	int64_t full_ms;      /* plane.full_sync: every page again */
	int64_t meta_ms;      /* plane.meta_refresh: states and labels */
	int64_t answers_ms;   /* plane.answer_poll */
	int64_t claim_ttl_ms; /* plane.claim_ttl */
	int64_t max_claims;   /* plane.max_claims: claims in flight */
	int64_t per_page;     /* a full listing's pages */
	char   *names[BS_N];  /* plane.states: the Plane name of each */
	bool    need[BS_N];   /* must exist in the project */
	json_t *repos;        /* lowercase repo key -> configured key */
	char    db_id[40];    /* this db's id, in comment external ids */
	/* the listing */
	int64_t next_poll, next_full, last_poll; /* mono ms */
	int64_t list_start; /* wall ms: the listing under way began */
	int64_t watermark;  /* updated_at (us) of the newest item listed */
	int64_t list_total; /* the listing's first total_count */
	bool    polling, refresh, force_full, listing_full, shifted;
	bool    settled;  /* the last poll found nothing newer */
	bool    webhooks; /* a Plane webhook came: poll slowly */
	bool    listed;   /* a listing succeeded since start */
	/* states and labels */
	bool    meta_busy, meta_failed, meta_ok;
	int     meta_left;
	int64_t next_meta;
	json_t *missing; /* Plane names of needed states not there */
	/* work in flight */
	bool    me_busy, answers_busy, answers_now, proposals_busy;
	int     answers_left, proposals_left;
	int64_t next_answers, next_me;
	json_t *claiming; /* task id -> true: a claim step in flight */
	json_t *pushing;  /* task id -> true: an outbox step in flight */
	json_t *retry_at; /* key -> mono ms: per-item backoff */
	char   *user_id;  /* the API key's user (users/me) */
	/* health */
	int64_t consecutive_errors, cycles, backoff_ms;
	bool    auth_ok, cred_reported;
	char    last_error[256];
	/* maps, from the last states and labels lists */
	json_t        *state_id;   /* lowercase Plane name -> id */
	json_t        *state_name; /* id -> Plane name */
	json_t        *label_name; /* id -> name */
	json_t        *label_id;   /* lowercase name -> id */
	json_t        *unknown;    /* item id -> a label id of it not listed */
	struct bauthz *authz;      /* plane_authz.c */
};

/* board_plane_states reads plane.states (the instance's plane: map
 * first, then the top level) and the repos: names[i] is the Plane name
 * of canonical state i (borrowed from the config), need[i] whether the
 * project must have it (In Review only when a repo awaits review).
 * Returns 0 or ERR_CONFIG (err set).  opc doctor uses it too. */
struct cfg_node;
int board_plane_states(const struct cfg_node *root,
    const struct cfg_node *inst, const char *names[BS_N], bool need[BS_N],
    char *err, size_t errlen);

/* plane_note_error records a failed request (401/403: the credentials,
 * reported once as credential.invalid) and counts it. */
void plane_note_error(
    struct bplane *, int status, const char *what, const char *err);
bool plane_ok(int status);
/* plane_lower returns a lowercase copy. */
char *plane_lower(const char *);

/* plane_later / plane_due: a per-item backoff under key (doubling from 2 s to
 * 5 min while it keeps failing); plane_forget clears it. */
void plane_later(struct bplane *, const char *key);
bool plane_due(struct bplane *, const char *key);
void plane_forget(struct bplane *, const char *key);

/* plane_state_id returns the Plane id of canonical state name, or NULL
 * when the project has no such state. */
const char *plane_state_id(const struct bplane *, const char *canonical);

/* The fields of one Plane work item that board-sync mirrors. */
struct plane_item {
	const char *id, *name;     /* borrowed from the item */
	const char *state;         /* canonical (borrowed) */
	const char *repo;          /* the configured repo key (borrowed) */
	const char *kind;          /* "task-kind: X" label value, or NULL */
	json_t     *names;         /* its label names (owned) */
	char       *desc;          /* description text (owned) */
	char       *goal;          /* goal: the description's, else the name */
	const char *unknown_label; /* see plane_item_read */
	const char *unknown_state; /* see plane_item_read */
	char        other_repo[64]; /* see plane_item_read */
};

/* plane_index adds every {id, name} object of list (states or labels) to
 * by_lower (lowercase name -> id) and by_id (id -> name); anything else
 * in list is skipped.  Pure: no I/O. */
void plane_index(json_t *by_lower, json_t *by_id, const json_t *list);
/* plane_item_read reads item with bp's maps, state names and repos
 * (nothing else of bp).  Returns false (nothing to release) when it is
 * not a task for this deployment: no id, no state, no "repo:" label, or
 * a repo this deployment does not configure (then pi->id is set and
 * pi->other_repo names it: several deployments may share a project);
 * and when its state or one of its labels is an id the lists did not
 * have (made after they were read): then pi->id and pi->unknown_state
 * or pi->unknown_label (borrowed) say which, because an item read
 * without them could be routed or allowed wrongly.  Else true, and pi
 * is released with plane_item_fini(). */
bool plane_item_read(
    struct plane_item *pi, const struct bplane *bp, json_t *item);
void plane_item_fini(struct plane_item *pi);

/*
 * Claims (plane_claim.c).  plane_claim_view is the pure decision every
 * instance makes from one item's comments (newest first or any order):
 * comments at or before the newest outbox comment ("<!-- opcenter:op:")
 * belong to an earlier episode; of this episode's claim comments
 * ("<!-- opcenter:claim:<instance>:<nonce> -->"), those more than ttl_us
 * older than the newest are superseded (an orphan of an instance that
 * never finished); the earliest of the rest wins, by instant (ties: the
 * smaller marker).  *winner gets the winning marker's instance:nonce
 * (owned, NULL: no claim); *ours the ids of instance's claim comments of
 * this episode (owned array).  Comments whose created_at does not parse
 * are left out (and counted in *bad).
 */
void plane_claim_view(const json_t *comments, const char *instance,
    int64_t ttl_us, char **winner, json_t **ours, int *bad);
/* plane_claims runs claims: resumes or retracts this instance's pending
 * ones and starts new ones while max_claims allows. */
void plane_claims(struct bplane *);
/* plane_claims_pending: this instance's claims not finished (status). */
int64_t plane_claims_pending(struct bplane *);

/* Authorized triggers (plane_authz.c).  plane_authz_init reads
 * plane.authorized_members and authorized_roles under pc (0 or
 * ERR_CONFIG with err); plane_authz_seen notes a listed item's
 * created_by and updated_at; plane_authz_cycle reads the members when
 * due; plane_authz_gate says whether a Ready task may be claimed now
 * (false: refused, or not decided yet: a check is started). */
int  plane_authz_init(struct bplane *, const struct cfg_node *pc,
     const char *workspace, char *err, size_t errlen);
void plane_authz_fini(struct bplane *);
void plane_authz_seen(struct bplane *, const json_t *item);
void plane_authz_cycle(struct bplane *);
bool plane_authz_gate(struct bplane *, const char *task_id);
void plane_authz_status(struct bplane *, json_t *obj);

/* plane_push.c */
void plane_push_outbox(struct bplane *);
/* plane_push_priority PATCHes the priorities the proposer's rescore set
 * (board.c's priority_push rows) onto their work items. */
void plane_push_priority(struct bplane *);
void plane_check_answers(struct bplane *);
void plane_create_proposals(struct bplane *);

#endif
