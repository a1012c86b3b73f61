/*
 * route.h - the router's pure decision logic.
 *
 * Everything here is a function of its arguments: no sockets, no sqlite, no
 * clock reads (time is always a parameter, unix milliseconds), no global
 * state.  The router daemon feeds it task.ready bodies, the config tree and
 * its own bookkeeping (dispatch times, attempts, outcomes) and acts on the
 * answers.  JSON shapes follow docs/execution-path.md.
 *
 * Ownership: every record returned (struct msg_proposal, msg_decision,
 * msg_policy, msg_exec_request of proto/bus.yaml) is the caller's, freed
 * with its msg_<rec>_free.  Arguments are borrowed and never kept.
 * Strings in struct gate are static.
 */
#ifndef OPC_ROUTE_H
#define OPC_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "opc/cfg.h"
#include "opc/msg.h"

/* struct route_task is a task.ready body; all pointers are borrowed.  Any
 * string may be NULL (treated as ""). */
struct route_task {
	const char *task_id, *title, *goal, *repo_key, *kind, *description;
	const char *const *labels;
	size_t             nlabels;
	/* the task's "## Execution" block, or NULL */
	const struct msg_task_execution *execution;
	int64_t                          attempt;
};

/* A repo's settings as the plan needs them (repos.<key>), read and
 * checked once: route_repo_load fills rc (borrowing strings from the
 * config; free with route_repo_fini) or fails naming the problem, e.g.
 * "unknown repo key 'x'", "repo 'x': missing clone_url". */
struct route_repo {
	const char  *clone_url;         /* or local_path */
	const char  *default_branch;    /* "main" when unset */
	int64_t      timeout, vtimeout; /* seconds, >= 1 */
	bool         open_pr, skip_baseline;
	const char **abb; /* allowed_base_branches */
	size_t       nabb;
	json_t      *cmds; /* validation_commands: strings or argv lists */
};

int  route_repo_load(const struct cfg_node *root, const char *repo_key,
     struct route_repo *rc, char *err, size_t errlen);
void route_repo_fini(struct route_repo *rc);
/* route_task_type maps a board task kind to a TaskType (*out static);
 * router.kind_map overrides the built-in table.  ERR_CONFIG for a
 * kind_map entry naming no TaskType. */
int route_task_type(const char *kind, const struct cfg_node *root,
    const char **out, char *err, size_t errlen);

/* route_proposal builds the OcPlanningProposal.  root is the whole
 * config document: it reads repos.<repo_key> {clone_url, default_branch,
 * validation_commands[], allowed_base_branches[], await_review, open_pr,
 * validation_timeout_seconds, local_path}, router.kind_map (optional
 * {goal: simple_edit, ...}) and router.timeout_seconds.  Returns NULL with
 * a message in err on an unknown repo key, an empty goal or a bad config
 * value or a max_changed_files below 1, e.g. "unknown repo key 'x'". */
struct msg_proposal *route_proposal(const struct route_task *,
    const struct cfg_node *root, int64_t now_ms, char *err, size_t errlen);

/* route_decide applies router.rules ([{name, when: {kind|task_type|
 * labels_any|labels_all|repo|risk}, lane, backend}], first match wins; a
 * rule without "when" matches everything) and router.default {lane
 * aider_local, backend stub} otherwise (policy_rule_matched "default").
 * A task labelled "backend: NAME" (opc demo --backend) runs on backend
 * NAME before any rule (policy_rule_matched "label.backend"), on the lane
 * of the first rule naming that backend, the default lane when it is the
 * default backend, else lane NAME; the policy judges that lane.
 * router_cfg is the "router" section (may be NULL).  Returns the
 * OcRoutingDecision (new decision_id and run_id).  Never NULL. */
struct msg_decision *route_decide(const struct msg_proposal *,
    const struct cfg_node *router_cfg, int64_t now_ms);

/* route_policy is the mandatory policy gate (inventory section 6 "Policy
 * defaults", overridable by router.policy {trusted_labels[],
 * destructive_labels[], sensitive_block[], sensitive_review[],
 * review_task_types[], local_lane}: route_policy_load reads them once
 * from the "router" section (may be NULL); they borrow from it).
 * Returns the PolicyDecision; status is one of allow,
 * allow_with_warnings, require_review, block.  decision may be NULL (no
 * lane chosen). */
struct route_policy_cfg;
struct route_policy_cfg *route_policy_load(const struct cfg_node *router_cfg);
void                     route_policy_free(struct route_policy_cfg *);
struct msg_policy       *route_policy(const struct msg_proposal *,
          const struct msg_decision *, const struct route_policy_cfg *,
          int64_t now_ms);

struct budget_cfg {
	int64_t max_per_hour, max_per_day, max_retries, retry_reset_ms,
	    max_concurrent, min_memory_mb;
	double  breaker_threshold;
	int64_t breaker_window, breaker_min_samples, breaker_staleness_ms;
	int64_t breaker_cooloff_ms; /* open this long -> half_open */
	double  max_usd_per_day;    /* global spend cap, < 0: none */
	double  reserve_usd; /* held per open run without a backend cap */
};

/* budget_cfg_load reads router.budget {max_per_hour 10, max_per_day 50,
 * max_retries 3 (min 1), retry_reset 1h, max_concurrent 1, min_memory_mb 0,
 * max_usd_per_day (none), reserve_usd 1.0} and router.breaker {threshold
 * 0.8, window 5 (min 3), min_samples 3, staleness 4h, cooloff 10m}; the
 * env vars
 * OPERATIONS_CENTER_MAX_EXEC_PER_HOUR, _MAX_EXEC_PER_DAY,
 * _MAX_RETRIES_PER_TASK, _CIRCUIT_BREAKER_THRESHOLD,
 * _CIRCUIT_BREAKER_WINDOW, _MAX_USD_PER_DAY and _SPEND_RESERVE_USD
 * override the config when set.  Returns 0 or ERR_CONFIG (invalid value)
 * with a message in err.  router_cfg may be NULL (defaults). */
int budget_cfg_load(struct budget_cfg *, const struct cfg_node *router_cfg,
    char *err, size_t errlen);

/* struct gate is a yes/no answer; reason ("budget_exceeded",
 * "retry_cap_exceeded", "global_concurrency_exceeded",
 * "global_memory_insufficient") and window ("hourly", "daily") are static
 * strings or NULL when allowed. */
struct gate {
	bool        allowed;
	const char *reason;
	const char *window;
	int64_t     current, limit;
};

/* budget_check: dispatch times (unix ms, any order) -> hourly (last 1h >=
 * max_per_hour) then daily (last 24h >= max_per_day). */
struct gate budget_check(const struct budget_cfg *,
    const int64_t *dispatched_ms, size_t n, int64_t now_ms);
/* budget_check_counts is budget_check on the counts of dispatches in the
 * last hour and the last 24 hours (what the router gets from one SQL
 * count instead of every dispatch time of the day). */
struct gate budget_check_counts(
    const struct budget_cfg *, int64_t hour, int64_t day);

/* budget_retry_check: attempts already made for a task and the time of the
 * last one -> "retry_cap_exceeded" when attempts >= max_retries, unless the
 * last was more than retry_reset_ms ago (then allowed and *reset set true: the
 * caller resets its attempt count).  reset may be NULL. */
struct gate budget_retry_check(const struct budget_cfg *, int64_t attempts,
    int64_t last_attempt_ms, int64_t now_ms, bool *reset);

/* budget_concurrency_check: running >= max_concurrent ->
 * "global_concurrency_exceeded". */
struct gate budget_concurrency_check(
    const struct budget_cfg *, int64_t running);

/* budget_memory_check: free_mb < min_memory_mb ->
 * "global_memory_insufficient"; free_mb -1 (unknown) or min_memory_mb 0 ->
 * allowed. */
struct gate budget_memory_check(const struct budget_cfg *, int64_t free_mb);

struct outcome {
	int64_t at_ms;
	bool    success;
	bool    quota;
};

struct breaker {
	bool    open;
	double  failure_rate;
	int64_t samples, failures;
};

/* budget_breaker_eval: outcomes newer than now - staleness, excluding quota
 * events, the most recent `window`; needs >= min_samples; open when
 * failures/samples >= threshold (it closes again when the rate falls
 * below).  Outcomes may be in any order. */
struct breaker budget_breaker_eval(const struct budget_cfg *,
    const struct outcome *, size_t n, int64_t now_ms);

/*
 * The breaker's states (breaker.c, with its transition table).
 */
enum breaker_phase { BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN };

/* What ended a half-open probe: a success, a failure, or nothing that
 * counts (interrupted, taken back, quota). */
enum breaker_verdict { BREAKER_SUCCEEDED, BREAKER_FAILED, BREAKER_LOST };

struct breaker_state {
	enum breaker_phase phase;
	int64_t            since_ms; /* when it entered phase (unix ms) */
	int64_t            reset_ms; /* outcomes at or before: not counted */
	bool               probing;  /* half_open: the probe is out */
	const char        *why;      /* static: why the last call changed
	                              * phase ("threshold", "recovered",
	                              * "cooloff", "probe_succeeded",
	                              * "probe_failed", "reset"), else NULL */
};

/* breaker_phase_name: "closed", "open" or "half_open" (static). */
const char *breaker_phase_name(enum breaker_phase);
/* breaker_phase_parse sets *p from its name; -1 when s is not one. */
int breaker_phase_parse(const char *s, enum breaker_phase *p);
/* breaker_outcome: a run finished and window is breaker_eval over the
 * outcomes after s.reset_ms.  closed -> open when the window opens;
 * open or half_open -> closed when it no longer does. */
struct breaker_state breaker_outcome(
    struct breaker_state s, const struct breaker *window, int64_t now_ms);
/* breaker_tick: open for cooloff_ms or more -> half_open. */
struct breaker_state breaker_tick(
    struct breaker_state s, int64_t cooloff_ms, int64_t now_ms);
/* breaker_allows: a dispatch may go (closed, or half_open with no probe
 * out: that dispatch is the probe). */
bool breaker_allows(const struct breaker_state *s);
/* breaker_probe_sent: half_open, the probe is out (no further dispatch
 * until it ends). */
struct breaker_state breaker_probe_sent(struct breaker_state s);
/* breaker_probe_done: the probe ended with v.  Succeeded -> closed (and
 * reset_ms now), failed -> open for another cool-off, lost -> half_open
 * with the slot free for the next probe.  Not half_open: unchanged. */
struct breaker_state breaker_probe_done(
    struct breaker_state s, enum breaker_verdict v, int64_t now_ms);
/* breaker_reset: closed by an operator, reset_ms now. */
struct breaker_state breaker_reset(struct breaker_state s, int64_t now_ms);

/*
 * Spend caps (spend.c).  Amounts are USD; a cap < 0 means no cap.
 */

/* spend_repo_cap sets *cap to repos.<repo_key>.max_usd_per_day of the
 * config document root, -1 when absent.  Returns 0 or ERR_CONFIG (not an
 * amount >= 0) with a message in err. */
int spend_repo_cap(const struct cfg_node *root, const char *repo_key,
    double *cap, char *err, size_t errlen);

/* spend_fallback_usd sets *out to the cost booked for a run that reported
 * none: cost_per_execution_usd of the router's section, else of the
 * document, else opcenter.cost_per_execution_usd, else 0 (as the
 * recorder's estimate).  Returns 0 or ERR_CONFIG. */
int spend_fallback_usd(const struct cfg_node *root,
    const struct cfg_node *router_cfg, double *out, char *err, size_t errlen);

/* spend_estimate sets *out to what one run of backend may cost: the
 * largest backends.<backend>.max_budget_usd among the n executor sections,
 * else reserve_usd.  Returns 0 or ERR_CONFIG (a bad amount). */
int spend_estimate(const struct cfg_node *const *executors, size_t n,
    const char *backend, double reserve_usd, double *out, char *err,
    size_t errlen);

/* One run in the router's ledger (strings borrowed). */
struct spend_entry {
	const char *repo_key;
	int64_t     at_ms;        /* when its cost was booked */
	double      reserved_usd; /* held while open */
	double      cost_usd;     /* booked cost, < 0: none yet */
	bool        open;         /* dispatched or started */
};

struct spend_totals {
	double spent_usd;    /* booked in the last 24 h */
	double reserved_usd; /* held by open runs, whatever their age */
};

/* spend_sum adds up the ledger e at now_ms: everything into *global, the
 * entries of repo_key (may be NULL: none) into *repo. */
void spend_sum(const struct spend_entry *e, size_t n, const char *repo_key,
    int64_t now_ms, struct spend_totals *global, struct spend_totals *repo);

/* The answer of spend_check: g.reason "spend_cap", g.window "day",
 * g.current and g.limit in cents (spent + reserved, the cap) when refused;
 * scope "global" or "repo" (static), the same amounts in USD and the
 * estimate that did not fit. */
struct spend_gate {
	struct gate g;
	const char *scope;
	double      current_usd, limit_usd, estimate_usd;
};

/* spend_check refuses a run of estimate_usd when spent + reserved +
 * estimate would exceed the global cap (checked first) or repo_cap. */
struct spend_gate spend_check(const struct budget_cfg *, double repo_cap,
    const struct spend_totals *global, const struct spend_totals *repo,
    double estimate_usd);

/* spend_run_cost returns the cost to book for a finished run whose
 * result's agent report is agent (borrowed; may be NULL) with the given
 * status: agent->cost_usd when known and >= 0 (*source "reported", or
 * "computed" as its cost_source says), else 0 for an interrupted run
 * (*source "released": it is requeued), else fallback_usd (*source
 * "estimated").  *source is static. */
double spend_run_cost(const struct msg_exec_agent *agent, const char *status,
    double fallback_usd, const char **source);

/*
 * Leases (takeback.c): which runs the router takes back, and what it
 * grants (see opc/lease.h for the arithmetic and why it fences).
 */

/* A dispatch not started after this many leases is taken back even from
 * an executor that is heard (it hears nothing from us). */
#define TAKEBACK_DISPATCH_LEASES 10

/* A run the router holds (rrun dispatched or started); strings borrowed. */
struct held_run {
	const char *run_id, *executor;
	bool        started;       /* exec.started was heard */
	int64_t     dispatched_ms; /* unix ms */
	int64_t     lease_ms;
};

/* What the router has heard of an executor since it started; strings
 * borrowed. */
struct heard_exec {
	const char *name;
	int64_t     heard; /* mono ms of its last heartbeat, 0: not yet */
	const char *epoch; /* lease_epoch of that heartbeat, NULL: none */
	int64_t     stamp; /* its lease_stamp */
};

/* takeback_reason says why the router takes run r back now, NULL when it
 * keeps it: "lease_expired" when r's executor e (NULL: not one of the
 * router's upstreams) has been silent for r's lease (lease_expired; never
 * heard since the router started at since: counted from then);
 * "not_started" when r was dispatched more than TAKEBACK_DISPATCH_LEASES
 * leases before now (unix ms) and has not started.  mono and since are
 * monotonic ms.  The reason is a static string. */
const char *takeback_reason(const struct held_run *r,
    const struct heard_exec *e, int64_t since, int64_t mono, int64_t now);

/* route_grants appends to out the grants of a router heartbeat, one per
 * executor of ex heard with a lease stamp since the router started (its
 * epoch and stamp echoed), naming the runs of held that are its.  A run
 * taken back is not held and so not named; an executor not heard since a
 * restart gets no grant until it is (its runs go on on the grants they
 * had, for half a lease). */
void route_grants(struct msg_lease_grant_list *out,
    const struct heard_exec *ex, size_t nex, const struct held_run *held,
    size_t nheld);

/* route_request builds the OcExecutionRequest from proposal, decision
 * and policy (may be NULL; effective_scope replaces allowed_paths when
 * non-empty):
 * task_branch "<kind>/<task_id>-<run_id first 8>", validation_commands as
 * argv arrays (strings split on whitespace), open_pr/await_review from
 * repos.<key>, push_on_success from the proposal's branch_policy.  root is
 * the whole config document.  Returns NULL only when proposal or decision
 * is NULL or the decision has no run_id. */
struct msg_exec_request *route_request(const struct msg_proposal *,
    const struct msg_decision *, const struct msg_policy *,
    const struct route_task *, const struct cfg_node *root, int64_t attempt,
    int64_t now_ms);

/* route_cfg_check validates the whole config document root once (at
 * startup): router.rules (each a map with a lane; "when" only with known
 * conditions), router.kind_map, router.policy lists, router.budget and
 * router.breaker (including the env overrides), and every repos.<key>
 * entry as route_proposal would read it.  Returns 0 or ERR_CONFIG with
 * "file:line:col: ..." (or the route_proposal message) in err. */
int route_cfg_check(const struct cfg_node *root, char *err, size_t errlen);

/* route_cfg_str returns the string at path under router_cfg, or its
 * default in router_keys when it is missing or empty. */
const char *route_cfg_str(const struct cfg_node *router_cfg, const char *path);
/* route_section returns the router's config section of the document:
 * a top-level "router" map, else the "instances.router" instance. */
const struct cfg_node *route_section(const struct cfg_node *root);

#endif
