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

/* plane_push.c */
void push_outbox(struct bplane *);
void check_answers(struct bplane *);
void create_proposals(struct bplane *);

#endif
