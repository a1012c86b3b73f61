/*
 * board.h - board-sync: the task board (an embedded sqlite board by
 * default) and its side of the bus.
 *
 * It turns tasks entering "Ready for AI" into task.ready events and
 * applies the router's and executors' outcomes back onto the tasks
 * (Running, In Review, Done, Blocked) with a result comment.  Operators
 * use it through ctl: board.task_add/list/show/move (`opc task ...`).
 */
#ifndef OPC_BOARD_H
#define OPC_BOARD_H

#include <stdbool.h>

#include <jansson.h>

#include "opc/msg.h"
#include "opc/svc.h"

extern const struct svc_def board_def;

#define BOARD_READY "Ready for AI"

/* board_state_valid: one of Backlog, Ready for AI, Running, In Review,
 * Review, Blocked, Done, Cancelled (the enum task_state of proto/bus.yaml);
 * board_state returns its value, MSG_TASK_STATE__UNSET for any other. */
bool                board_state_valid(const char *state);
enum msg_task_state board_state(const char *state);

/* board_kind_known: a task kind opcenter runs: goal, test, improve. */
bool board_kind_known(const char *kind);

/* board_impact adds to warnings (at most BOARD_IMPACT_MAX) one line
 * "repo=R shared_path=P changed_file=F" for each changed file of result r
 * under a path another repo than repo_key declares in its
 * impact_report_paths (impact.c); returns how many there are in all. */
#define BOARD_IMPACT_MAX 50
size_t board_impact(const struct cfg_node *root, const char *repo_key,
    const struct msg_exec_result *r, struct msg_strs *warnings);

/* board_parse_description parses the optional "## Execution" block of a
 * task description (see parse.c).  goal_field, when non-empty, is the
 * goal text.  On success *out is a new task_execution record (mode and
 * base_branch always set, base_branch "" when the block names none; the
 * caller frees it).  Errors
 * (ERR_PROTO) carry the original's texts: "Missing goal text",
 * "Unsupported execution mode: X". */
int board_parse_description(const char *desc, const char *goal_field,
    struct msg_task_execution **out, char *err, size_t errlen);

#endif
