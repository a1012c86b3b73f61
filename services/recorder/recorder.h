/*
 * recorder.h - the recorder daemon (private to services/recorder).
 *
 * The recorder consumes route.decided, exec.dispatch, exec.started and
 * exec.finished.  Its handlers only keep state in its sqlite db (runs,
 * routing decisions, usage); its effect loop writes one evidence folder
 * per complete run (<evidence_root>/<run_id>/) once caught up, then marks
 * the run written and emits record.written in the same transaction.
 *
 * evidence.c builds the evidence documents as pure functions of their JSON
 * inputs (unit-testable without a service) and writes folders atomically;
 * usage.c keeps the usage store (one row per dispatched run) and answers
 * the spend report.
 */
#ifndef OPC_RECORDER_H
#define OPC_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "opc/svc.h"

struct store;

extern const struct svc_def recorder_def;

/* The recorder's state (svc_def.state_size). */
struct recorder {
	char   *evidence_root;    /* absolute */
	double  cost_per_exec;    /* estimated USD per dispatched run */
	int64_t write_batch;      /* folders written per effect-loop call */
	int64_t decision_wait_ms; /* how long a run waits for its decision */
};

/*
 * evidence.c
 */

/* What one run's evidence is built from.  Every pointer is borrowed. */
struct ev_run {
	const char   *run_id;
	const char   *task_id;
	const char   *lane;          /* selected lane (may be NULL) */
	const char   *backend;       /* selected backend (may be NULL) */
	const char   *policy_status; /* may be NULL */
	const char   *record_id;     /* uuid4 of the ExecutionRecord */
	const char   *trace_id;      /* uuid4 of the ExecutionTrace */
	const char   *now;           /* ISO 8601 time of this writing */
	const json_t *proposal;      /* each may be NULL */
	const json_t *decision;
	const json_t *policy;
	const json_t *request;
	const json_t *result;   /* NULL for a blocked run */
	bool          executed; /* false for a blocked run */
	/* Paths of the evidence copies of the backend's logs (NULL: none). */
	const char *stdout_path;
	const char *stderr_path;
};

/* ev_blocking: a policy status that stops a run before dispatch (block,
 * require_review). */
bool ev_blocking(const char *policy_status);

/* ev_blocked_result returns a new OcExecutionResult of a run the policy
 * stopped: status skipped, success false, failure_category policy_blocked,
 * failure_reason from the policy notes. */
json_t *ev_blocked_result(const struct ev_run *);

/* ev_record returns a new ExecutionRecord of run r for result (borrowed,
 * non-NULL: r->result or a blocked result). */
json_t *ev_record(const struct ev_run *r, const json_t *result);

/* ev_trace returns a new ExecutionTrace of record (borrowed). */
json_t *ev_trace(const struct ev_run *r, const json_t *record);

/* ev_metadata returns a new run_metadata object of run r for result. */
json_t *ev_metadata(const struct ev_run *r, const json_t *result);

/* ev_summary returns result_summary.md of run r for result (borrowed),
 * in the board's and the logs' words: worker_role, task_kind, run_id,
 * final_status, blocked_classification, follow_up_task_ids and, when a
 * human must act, human_attention_required with the reason.  The caller
 * frees it. */
char *ev_summary(const struct ev_run *r, const json_t *result);

/* An evidence document: a file name and its content (borrowed): a JSON
 * document, or when json is NULL the text as it is. */
struct ev_doc {
	const char   *name;
	const json_t *json;
	const char   *text;
};

/* An executor file to copy into the folder under name. */
struct ev_copy {
	const char *src;
	const char *name;
};

/* ev_copy_names maps a result.files key to its evidence file name
 * (backend_stdout -> backend_stdout.txt, ..., patch -> diff.patch), NULL
 * when the key is not one we copy. */
const char *ev_copy_name(const char *key);

/* ev_write_folder writes <root>/<run_id>/ with docs and copies: into
 * <run_id>.tmp first, then renamed into place (replacing an older
 * folder), so a crash never leaves a half folder.  Copies whose source is
 * not a readable regular file are skipped.  The names written are
 * appended to files (a JSON array).  Returns 0 or ERR_IO (logged). */
int ev_write_folder(const char *root, const char *run_id,
    const struct ev_doc *docs, size_t ndocs, const struct ev_copy *copies,
    size_t ncopies, json_t *files);

/* ev_file_usable: path is absolute and names a readable regular file. */
bool ev_file_usable(const char *path);

/* ev_copy_allowed: path is usable and, when workspace is not NULL, lies
 * inside it once both are resolved (no copying of arbitrary files named
 * by a result). */
bool ev_copy_allowed(const char *path, const char *workspace);

/*
 * usage.c
 */

/* usage_init creates the usage tables, or adds the columns an older db
 * lacks (keeping its rows).  Returns 0 or ERR_IO. */
int usage_init(struct store *);

/* usage_dispatched records a dispatched run (idempotent on run_id).  Any
 * string may be NULL. */
int usage_dispatched(struct store *, const char *run_id, const char *task_id,
    const char *repo_key, const char *lane, const char *backend, int64_t ts_ms,
    double cost_usd);

/* usage_finished records a run's outcome from its result (borrowed, may
 * be NULL): success, failure category, quota flag and event (quota_event
 * or execution_outcome), what result.agent reported (cost_usd and
 * cost_source, tokens, session, turns, cli, model), duration (-1
 * unknown), quality warnings and scope violations.  cost_usd is the
 * estimate a row born here gets.  Idempotent on run_id: the first
 * result stands. */
int usage_finished(struct store *, const char *run_id, const char *task_id,
    const char *status, bool success, const char *failure_category,
    const json_t *result, int64_t duration_ms, int64_t ts_ms, double cost_usd);

/* usage_superseded marks a run the router took back: it counts in no
 * execution total (usage_spend, usage_counts), its cost apart; a result
 * it has is no success.  Idempotent. */
int usage_superseded(
    struct store *, const char *run_id, const char *task_id, int64_t ts_ms);

/* usage_spend sets *out to a new spend report over the window_days before
 * now_ms: the original's {window_days, total_executions,
 * total_estimated_usd, per_repo{repo: {executions, estimated_usd}}}, each
 * estimated_usd being the reported cost where a run has one and its
 * estimate otherwise, plus total_reported_usd, per_repo reported_usd and
 * estimated_only, estimated_only_executions (runs without a reported
 * cost) and total_{input,output,cache_read,cache_creation}_tokens.  Runs
 * the router took back are not in any of those: superseded_executions
 * and superseded_usd (what they reported) tell them apart.  Amounts are
 * rounded to 6 decimals.  Returns 0 or ERR_IO. */
int usage_spend(
    struct store *, json_t **out, int64_t window_days, int64_t now_ms);

/* usage_run returns a new object of the usage row of run_id
 * {estimated_usd, cost_usd, cost_source, input_tokens, output_tokens,
 * cache_read_tokens, cache_creation_tokens, session_id, turns, agent_cli,
 * model, event} (null where unknown), or NULL when there is none. */
json_t *usage_run(struct store *, const char *run_id);

/* usage_kinds: the kinds of event usage_query knows, NULL-terminated. */
extern const char *const usage_kinds[];

/* usage_query sets *out to a new {events: [...], total} of the usage
 * store's events of kind (one of usage_kinds; NULL: every kind) of repo
 * (NULL: any) at or after since_ms, the newest limit, newest first.  Each
 * event is {kind, timestamp, ts_ms, run_id, task_id, repo_key} and its
 * own fields: execution {lane, backend}; execution_outcome {backend,
 * succeeded, status, failure_category}; quota_event {backend,
 * failure_category, status}; executor_quality_warning
 * {suppression_counts, note}; scope_violation {violated_files (at most
 * 10), violated_count}.  Returns 0, ERR_INVAL (unknown kind) or the
 * store's error. */
int usage_query(struct store *, json_t **out, const char *kind,
    const char *repo, int64_t since_ms, int64_t limit);

/* usage_counts adds executions/failed/quota/cost_reported counters to a
 * status object (runs taken back not among them), and
 * executions_superseded. */
void usage_counts(struct store *, json_t *obj);

#endif
