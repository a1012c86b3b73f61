/*
 * board_plane.h - private to board-sync's Plane mode: its state and the
 * helpers board_plane.c (cycle, mirror, claim) and plane_push.c (outbox,
 * answers, work-item creation) share.
 */
#ifndef OPC_BOARD_PLANE_H
#define OPC_BOARD_PLANE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "opc/svc.h"
#include "plane.h"

struct bplane {
	struct svc   *svc;
	struct plane *pl;
	int64_t       poll_ms;
	int64_t       next_poll; /* mono ms */
	int64_t       backoff_ms;
	int64_t       consecutive_errors;
	int64_t       cycles;
	bool          cycling, refresh, failed, auth_ok, cred_reported;
	char          last_error[256];
	json_t       *state_id;   /* lowercase name -> id */
	json_t       *state_name; /* id -> name */
	json_t       *label_name; /* id -> name */
	json_t       *label_id;   /* lowercase name -> id */
	json_t       *unknown;    /* item id -> a label id of it not listed */
};

/* cycle_error records a failed request of this cycle (401/403: the
 * credentials, reported once as credential.invalid). */
void cycle_error(struct bplane *, int status, const char *what,
    const char *err);
/* cycle_end closes the cycle once no request is left: next poll or
 * backoff. */
void cycle_end(struct bplane *);
bool ok(int status);
/* lower returns a lowercase copy. */
char *lower(const char *);

/* The fields of one Plane work item that board-sync mirrors. */
struct plane_item {
	const char *id, *name; /* borrowed from the item */
	const char *state;     /* borrowed from the item or state_name */
	const char *repo;      /* "repo: X" label value (borrows names) */
	const char *kind;      /* "task-kind: X" label value, or NULL */
	json_t     *names;     /* its label names (owned) */
	char       *desc;      /* description text (owned) */
	char       *goal;      /* goal: the description's, else the name */
	const char *unknown_label; /* see plane_item_read */
};

/* plane_index adds every {id, name} object of list (states or labels) to
 * by_lower (lowercase name -> id) and by_id (id -> name); anything else
 * in list is skipped.  Pure: no I/O. */
void plane_index(json_t *by_lower, json_t *by_id, const json_t *list);
/* plane_item_read reads item with bp's state and label maps (nothing
 * else of bp).  Returns false (nothing to release) when it is not a task
 * for us: no id, no known state or no "repo:" label; and when one of its
 * labels is an id the labels list did not have (made after the list was
 * read): then pi->id and pi->unknown_label (borrowed) say which, because
 * an item read without a label could be routed or allowed wrongly.
 * Else true, and pi is released with plane_item_fini(). */
bool plane_item_read(struct plane_item *pi, const struct bplane *bp,
    json_t *item);
void plane_item_fini(struct plane_item *pi);

/* plane_push.c */
void push_outbox(struct bplane *);
void check_answers(struct bplane *);
void create_proposals(struct bplane *);

#endif
