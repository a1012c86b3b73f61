/*
 * board_int.h - private to services/board_sync: the task mirror shared by
 * the local board (board.c) and Plane mode (board_plane.c).
 *
 * In local mode the task table is the board.  In Plane mode it mirrors
 * Plane's work items (task_id = the work item's id): the poller upserts
 * them, state changes made here go to Plane through the outbox table
 * (pushed by the effect loop, idempotently), and claiming is done against
 * Plane before task.ready is journaled.
 */
#ifndef OPC_BOARD_INT_H
#define OPC_BOARD_INT_H

#include <stdint.h>

#include "opc/svc.h"

struct bplane;  /* board_plane.c */
struct breview; /* review.c */

struct board {
	struct bplane  *plane;  /* NULL in local mode */
	struct breview *review; /* the review feedback fetcher */
};

struct task {
	char   *task_id, *title, *goal, *repo_key, *kind, *labels, *desc;
	char   *state, *last_run_id;
	char   *priority; /* NULL: none set (proposals and rescores set it) */
	int64_t attempt, created_at, updated_at;
};

void board_task_fini(struct task *);
/* board_task_get loads one task; ERR_NOTFOUND when there is none. */
int board_task_get(struct svc *, const char *task_id, struct task *);
/* board_comment_post adds a comment without a move: on the local board,
 * and in Plane mode queued for Plane (the outbox). */
int board_comment_post(
    struct svc *, const char *task_id, const char *author, const char *body);
/* board_move changes a task's state inside the caller's transaction, journals
 * task.updated and, in Plane mode, queues the change for Plane. */
int board_move(struct svc *, struct task *, const char *state,
    const char *reason, const char *comment, const char *author);
/* board_ready journals task.ready for t, or blocks it when its description
 * does not parse. */
int board_ready(struct svc *, struct task *);

/* board_task_create adds a task to the local board (own_txn: in its own
 * transaction, else in the caller's; source names who asked, for
 * task.created); a known request_id answers with the task it made
 * before.  *data (may be NULL) gets {task_id, state}.  Returns 0 or
 * ERR_INVAL with err. */
int board_task_create(struct svc *, const struct msg_board_task_add *a,
    const char *source, bool own_txn, json_t **data, char *err, size_t errlen);

/* Error ingest (ingest.c): board_on_ingest makes the improve task of an
 * ingest.error (in Plane mode, queues its work item) and journals
 * error_ingest.task_created. */
int board_on_ingest(struct svc *, const struct msg *m, void *state);

/* Review feedback (review.c): a proposed task's pull request reviewed
 * or closed unmerged -> its comments fetched from GitHub ->
 * review.feedback. */
int  board_review_init(struct svc *, struct board *);
void board_review_fini(struct board *);
/* board_review_note remembers the pull request a run opened (in the
 * caller's transaction). */
int board_review_note(
    struct svc *, const char *task_id, const struct msg_exec_finished *f);
/* handlers of ci.pr_review and ci.pr_event */
int board_on_pr_review(struct svc *, const struct msg *m, void *state);
int board_on_pr_event(struct svc *, const struct msg *m, void *state);
/* board_review_idle starts the next due fetch (effect loop, caught up). */
void board_review_idle(struct svc *, struct board *);
void board_review_status(struct svc *, json_t *obj);
/* board_review_classify adds one to counts[class] for each pattern class
 * text is in ("other" when none): scope_too_large, missing_tests, style,
 * incorrect, not_needed, docs, compatibility, security, performance. */
void board_review_classify(const char *text, json_t *counts);

/* Campaigns (campaign.c): multi-step goal tasks as step tasks. */
int board_campaign_init(struct svc *);
/* board_campaign_ready looks at t (just made Ready for AI): a multi-step
 * change not planned yet gets a campaign and *plan_goal, the planning
 * prompt its run is to have instead of its goal (caller frees); returns
 * 1 (run it), or an error. */
int board_campaign_ready(struct svc *, struct task *t, char **plan_goal);
/* board_campaign_planned takes the successful planning run of a
 * campaign's parent: its steps are made from the backend's plan (the
 * stub plan when it proposed none) and the first one queued.  0 when it
 * did (the run decides nothing else), 1 when f is no planning run. */
int board_campaign_planned(
    struct svc *, struct task *t, const struct msg_exec_finished *f);
/* board_campaign_moved follows a move of t (board_move): a step's end
 * updates its campaign, comments the parent, starts the next step. */
int board_campaign_moved(struct svc *, const struct task *t);
/* board_campaign_mirrored follows a change of task_id's state that the
 * Plane listing brought (a human's move in Plane; old_state: the
 * mirror's before, NULL for a new row): a step's end counts as above. */
int board_campaign_mirrored(
    struct svc *, const char *task_id, const char *old_state);
/* board_campaign_step_made records, in the caller's transaction, the
 * work item Plane made for proposal request_id: a campaign step's
 * ("campaign:<campaign>:<k>") is mirrored and recorded, and once every
 * step of its campaign has one, campaign.created is journaled and the
 * first step moved to Ready for AI.  0 for any other request id. */
int board_campaign_step_made(
    struct svc *, const char *request_id, const char *item_id);
/* board_campaign_ctl_list answers board.campaigns. */
int board_campaign_ctl_list(struct svc *, const struct msg *req, json_t **data,
    char *err, size_t errlen, void *state);

/* Self-healing (selfheal.c): the repeated-block guard. */
/* selfheal_init creates its table. */
int selfheal_init(struct svc *);
/* selfheal_outcome counts a run's outcome of t (blocked: it ended
 * Blocked, under classification; else it succeeded and the count is
 * reset); at self_heal_blocks in a row the task is paused, commented and
 * self_healing.repeated_block journaled.  In the caller's transaction. */
int selfheal_outcome(struct svc *, const struct task *t, bool blocked,
    const char *classification);
/* selfheal_paused says whether task_id is paused; *blocks gets its count
 * of consecutive Blocked runs. */
int selfheal_paused(struct svc *, const char *task_id, int64_t *blocks);
/* selfheal_hold moves a paused task (about to be re-queued) back to
 * Blocked, saying why, instead of journaling task.ready. */
int selfheal_hold(struct svc *, struct task *t, int64_t blocks);
/* selfheal_json: {consecutive_blocks, classification, paused} of task_id,
 * or NULL when its last run did not end Blocked (caller owns it). */
json_t *selfheal_json(struct svc *, const char *task_id);
/* selfheal_status adds "self_heal_paused" to board-sync's status: the
 * ids of the tasks paused now (opc status). */
void selfheal_status(struct svc *, json_t *obj);
/* selfheal_ctl_resume answers board.task_resume: the pause and the count
 * are lifted (a comment says so when it was paused). */
int selfheal_ctl_resume(struct svc *, const struct msg *req, json_t **data,
    char *err, size_t errlen, void *state);

/* The latest outcome of a task's runs (lastrun.c). */
int lastrun_init(struct svc *);
/* lastrun_note records the task's latest outcome (replacing the one
 * before), in the caller's transaction.  Every string may be NULL but
 * status. */
int lastrun_note(struct svc *, const char *task_id, const char *run_id,
    const char *status, const char *classification, const char *reason);
/* lastrun_json: {run_id, status, classification, reason, at} of the
 * task's latest outcome, or NULL when none (caller owns it). */
json_t *lastrun_json(struct svc *, const char *task_id);

/* Plane mode (board_plane.c). */
int  board_plane_init(struct svc *, struct board *);
void board_plane_fini(struct svc *, struct board *);
/* board_plane_cycle runs from the effect loop: poll, claim, push. */
void board_plane_cycle(struct svc *, struct board *);
/* board_plane_webhook takes a forwarded Plane webhook: a change by
 * someone else in this project is listed soon. */
void board_plane_webhook(struct board *, const struct msg_board_webhook *);
void board_plane_status(struct svc *, struct board *, json_t *obj);

#endif
