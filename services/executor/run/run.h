/*
 * run.h - opc-exec-run: one executor run, start to RESULT.json.
 *
 * The executor daemon spawns opc-exec-run once per dispatched run.  The
 * worker is synchronous and single-threaded: it clones the repository into
 * a fresh workspace, runs the backend (a stub or an argv command, never a
 * shell), runs the validation commands, collects the staged diff, checks
 * scope and size, scans for quality erosion and questions, classifies a
 * failure, commits and pushes on success, and writes one OcExecutionResult
 * (docs/execution-path.md) atomically.  Every child process runs in its
 * own process group so a timeout kills grandchildren too.
 *
 * Private to services/executor/run/.  Every pointer in the structs below
 * is owned by the struct unless marked "borrowed".
 */
#ifndef OPC_EXEC_RUN_H
#define OPC_EXEC_RUN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "opc/proc.h"
#include "opc/strv.h"
#include "opc/util.h"

struct msg_exec_agent;
struct msg_exec_result;

/* ---- request.c: OcExecutionRequest plus executor fields ------------- */

/*
 * The backend: "stub", "command" (argv as given) or one of the agent
 * profiles of agent.c ("claude_cli", "codex_cli", "aider", "kodo"), which
 * build the CLI's own headless argv, environment and config files.
 */
struct exec_backend_spec {
	char       *kind;
	struct strv argv; /* command: the argv; a profile: extra arguments */
	struct strv env_allow;
	struct strv env; /* "K=V" */
	char       *model;
	size_t      max_output_bytes;
	int         kill_grace_seconds;
	int         scratch; /* workspace: scratch (no git; see workspace.c) */

	/* agent profiles; NULL or < 0: the profile's default */
	char  *bin;             /* the program (name on the PATH, or a path) */
	char  *api_key_env;     /* variable holding the API key */
	char  *base_url;        /* API base URL (a proxy, a stand-in) */
	char  *permission_mode; /* claude_cli --permission-mode */
	char  *sandbox;         /* codex_cli sandbox_mode (codex_sandbox) */
	int    max_turns;       /* 0: none */
	int    max_retries;     /* the CLI's own API retries */
	int    transient_retries;     /* runs again after a 429/529/5xx */
	int    retry_backoff_seconds; /* wait before, times the attempt */
	double max_budget_usd;        /* per-run spend cap; 0: none */
	double price_in, price_out, price_cached; /* USD per 1M tokens */
	char  *team, *orchestrator, *effort;      /* kodo */
	int    cycles, exchanges;                 /* kodo */
};

/*
 * The bubblewrap sandbox of a backend run (sandbox.h): on unless the spec
 * says sandbox: off; what the executor hides (sandbox_hide) and the
 * limits it set.  Without an executor (a request written by hand, a
 * probe) it is on with the worker's defaults and hides only $HOME.
 */
struct exec_sandbox {
	int         on, net;
	char       *bwrap;
	struct strv hide, ro, rw;
	int         memory_mb, max_procs, cpu_seconds, file_size_mb;
};

struct exec_req {
	char        *run_id, *task_id, *proposal_id, *decision_id;
	char        *goal_text, *constraints_text; /* may be NULL */
	char        *repo_key, *clone_url, *base_branch;
	char        *task_branch, *lane, *backend;
	struct strv  allowed_paths;
	int64_t      max_changed_files; /* -1: none (absent, null, 0) */
	int          timeout_seconds;
	struct strv *validation; /* one argv per command */
	size_t       n_validation;
	int          validation_timeout_seconds;
	int          push_on_success;
	struct exec_backend_spec bk;
	struct exec_sandbox      sb;
	int                      expect_changes; /* 0: no change is fine */
	char                    *git_name, *git_email;
	int                      max_files, max_lines, quality_threshold;
	json_t                  *vhistory; /* object or NULL (own reference) */
	char                    *lease_file; /* NULL: no fencing */
	int64_t                  lease_ms;
	int                      open_pr;
	char                    *github_api;  /* e.g. https://api.github.com */
	char                    *github_repo; /* owner/name, or NULL */
	char                    *github_token; /* from the environment only */
	/* the mirrors' directory on this host (mirror.c); NULL: a full
	 * clone per run */
	char   *mirror_dir;
	int64_t mirror_fetch_ms, mirror_gc_ms; /* intervals, >= 0 */
	/* pull request caps of the repo (issue 20; pr.c): at most
	 * pr_max_open open and pr_max_hour created in the last hour (0:
	 * none) of the heads under pr_prefix; pr_queued: earlier pull
	 * requests of the repo wait in the executor's queue, so this one
	 * waits behind them; pr_lock: the file whose lock makes counting
	 * and creating one step among the workers of a host (NULL: none) */
	int64_t pr_max_open, pr_max_hour;
	int64_t pr_queued;
	char   *pr_prefix, *pr_lock;
	/* branch safety (branch_guard.h): git.branch_prefix and the repo's
	 * protected_branches as the executor sent them (has_protected 0:
	 * absent, the guard's "main", "master") */
	char       *branch_prefix;
	struct strv protected_branches;
	int         has_protected;
};

/* request_load reads path into rq (release with request_fini()).  On
 * ERR_INVAL or ERR_IO *errp is set to a new one-line message. */
int request_load(struct exec_req *rq, const char *path, char **errp);
/* request_parse is request_load on an already-parsed JSON object. */
int  request_parse(struct exec_req *rq, const json_t *o, char **errp);
void request_fini(struct exec_req *rq);

/* ---- diff.c: staged changes --------------------------------------- */

struct change {
	char       *path; /* new path for renames */
	const char *type; /* added|modified|deleted|renamed (static) */
	long        added, removed;
};

struct changes {
	struct change *v;
	size_t         n;
};

/* diff_parse_name_status appends one change per entry of
 * `git diff --name-status -z` output.  Returns 0 or ERR_PROTO. */
int diff_parse_name_status(struct changes *cs, const char *s, size_t len);
/* diff_parse_numstat fills the line counts of cs from `git diff --numstat
 * -z` output, matching by (new) path; binary "-" counts as 0.  Returns 0
 * or ERR_PROTO. */
int  diff_parse_numstat(struct changes *cs, const char *s, size_t len);
void diff_changes_fini(struct changes *cs);
/* diff_stat_last_line returns a new copy of the last non-empty line of
 * s, trimmed, or NULL. */
char *diff_stat_last_line(const char *s, size_t len);

/* ---- scope.c: allowed_paths policy ---------------------------------- */

/* scope_normpath returns a new string: p normalised like Python's
 * os.path.normpath, without a leading "./". */
char *scope_normpath(const char *p);
/* scope_allowed returns 1 when path may change under allowed (an empty
 * list allows everything). */
int scope_allowed(const char *path, const struct strv *allowed);
/* scope_check appends the changed paths that are not allowed to viol. */
void scope_check(
    struct strv *viol, const struct changes *cs, const struct strv *allowed);

/* ---- quality.c: erosion markers and questions ---------------------- */

#define QUALITY_N 8

/* quality_pattern returns the display form of pattern i ("#\s*noqa\b"). */
const char *quality_pattern(size_t i);
/* quality_scan counts, per pattern, the added lines of a unified diff
 * (lines starting "+" but not "+++") that match it.  Returns 0 or
 * ERR_INVAL (a pattern failed to compile). */
int quality_scan(int counts[QUALITY_N], const char *patch, size_t len);
/* quality_note returns the original's note when the counts add up to
 * threshold or more (and to at least 1): "[quality] This run added N
 * quality suppressions: {"noqa": N, "type_ignore": N}. Review before
 * merging." (the patterns found, by name).  NULL below it; else the
 * caller frees it. */
char *quality_note(const int counts[QUALITY_N], int threshold);
/* quality_question_extract returns the trimmed TEXT of the first
 * "<!-- cp:question: TEXT -->" in s[0..len), or NULL. */
char *quality_question_extract(const char *s, size_t len);
/* quality_question_in_patch is quality_question_extract over the added lines
 * only. */
char *quality_question_in_patch(const char *patch, size_t len);
/* quality_plan_extract appends to out the trimmed TEXT of each
 * "<!-- cp:plan: TEXT -->" in s[0..len), in order: at most
 * QUALITY_PLAN_MAX steps of at most QUALITY_PLAN_TEXT bytes each. */
#define QUALITY_PLAN_MAX 12
#define QUALITY_PLAN_TEXT 1024
void quality_plan_extract(struct strv *out, const char *s, size_t len);

/* ---- classify.c: failure categories -------------------------------- */

struct classify_in {
	int         scope_violation;
	int         question;
	int         too_wide;
	int         timed_out;
	int         validation_failed;
	int         validation_flaky;
	int         api_status;  /* an agent's API error status, or 0 */
	const char *api_error;   /* its error type/code, or NULL */
	int         budget_hit;  /* stopped at its turn or spend cap */
	int         denied;      /* the agent's tools were refused */
	int         no_change;   /* the backend succeeded, changed nothing */
	int         oom_killed;  /* the sandbox's memory limit killed it */
	int         cpu_limited; /* the sandbox's CPU-time limit killed it */
	const char *text;        /* borrowed; lowercase backend output */
};

/* classify returns the failure category (static string) of a run that did
 * not succeed: the first matching rule of the table in classify.c. */
const char *classify(const struct classify_in *in);
/* classify_flaky returns 1 when at least 30% of the last 10 of n results
 * (1 = passed, newest last) failed, with at least 3 samples. */
int classify_flaky(const int *passed, size_t n);
/* classify_text returns a new string: the lowercased last 4000 bytes of
 * err followed by out. */
char *classify_text(const struct buf *err, const struct buf *out);

/* ---- agent_out.c: what a coding-agent CLI reported ------------------- */

/*
 * struct agent_report is read from the CLI's machine output (Claude Code's
 * stream-json, `codex exec --json`) or, for CLIs without one, from its
 * text (aider's "Tokens: ... Cost: ..." lines, kodo's stage summary).
 * Unknown numbers are -1, unknown strings NULL.
 */
struct agent_report {
	const char *cli;      /* profile kind (static) */
	int         parsed;   /* a final result was found */
	int         is_error; /* the CLI said the run failed */
	char       *subtype;  /* Claude's result subtype */
	char       *message;  /* final message or error, human-readable */
	char       *session_id, *model;
	int64_t     turns;
	double      cost_usd;
	const char *cost_source; /* "reported" | "computed" | NULL */
	int64_t     in_tok, out_tok, cache_read_tok, cache_write_tok;
	struct strv denials;        /* tools the CLI refused, one per denial */
	int         api_status;     /* HTTP status of an API error, or 0 */
	char       *api_error;      /* "rate_limit_error", ... */
	int64_t     retry_after_ms; /* the server's hint, or -1 */
	int         budget_hit;     /* stopped at the per-run spend cap */
	int         turns_hit;      /* stopped at the turn limit */
	size_t      fed;            /* stdout bytes consumed so far */
};

void agent_report_init(struct agent_report *r, const char *cli);
void agent_report_fini(struct agent_report *r);
/* agent_feed reads the complete lines of out past r->fed (a final
 * partial line too when eof). */
void agent_feed(struct agent_report *r, const struct buf *out, int eof);
/* agent_finish derives what the lines alone could not: the API error in
 * the message, a computed cost from prices (USD per 1M tokens; < 0
 * unknown) when none was reported. */
void agent_finish(struct agent_report *r, const struct buf *err,
    double price_in, double price_out, double price_cached);
/* agent_spend returns the run's spend so far: reported, else computed
 * from the token counts and prices; -1 when unknown. */
double agent_spend(const struct agent_report *r, double price_in,
    double price_out, double price_cached);
/* agent_absorb adds the spend, tokens and turns of src (an earlier
 * attempt of the run) to dst. */
void agent_absorb(struct agent_report *dst, const struct agent_report *src,
    double price_in, double price_out, double price_cached);
/* agent_new returns the "agent" record of the result (NULL when no agent
 * CLI ran); agent_json its JSON form (null then). */
struct msg_exec_agent *agent_new(const struct agent_report *r);
json_t                *agent_json(const struct agent_report *r);

/* ---- agent.c: the headless profiles of the real CLIs --------------- */

struct exec_run;

struct agent_cmd {
	struct strv argv, env;
	char       *stdin_path; /* the prompt, or NULL */
	char       *secret;     /* the API key, scrubbed from the output */
};

/* agent_profile returns the profile's name (static) when kind names a
 * profile of agent.c, else NULL. */
const char *agent_profile(const char *kind);
/* agent_key_env returns the name of the variable holding bk's API key
 * (borrowed), or NULL when the profile needs none. */
const char *agent_key_env(const struct exec_backend_spec *bk);
/* agent_build fills c for x's backend: argv, environment (a HOME private
 * to the run under .opcenter/, the API key under the name the CLI reads),
 * and the config files the CLI reads from that HOME.  prompt is the
 * prompt file.  On failure it calls run_fail() and returns ERR_*. */
int  agent_build(struct agent_cmd *c, struct exec_run *x, const char *prompt);
void agent_cmd_fini(struct agent_cmd *c);
/* agent_codex_sandbox returns the sandbox_mode codex_cli runs with: the
 * spec's codex_sandbox, else danger-full-access inside our sandbox (its
 * own cannot nest in it), else workspace-write.  Borrowed. */
const char *agent_codex_sandbox(const struct exec_req *rq);

/* ---- the run ------------------------------------------------------- */

#define VALIDATION_EXCERPT 2000

struct validation {
	const char *status; /* passed|failed|skipped|error (static) */
	int         run, passed, failed;
	char       *failure_excerpt; /* NULL if none */
	char       *failed_cmd;      /* first failing command, joined */
	char       *failed_how;      /* "exited 1", ... */
	int64_t     duration_ms;
};

struct exec_run {
	const struct exec_req *req; /* borrowed */
	char                  *ws;  /* absolute workspace path */
	char                  *opc; /* ws/.opcenter */
	int                    ws_ready;
	int64_t                started_ms, started_mono;
	int64_t deadline_mono;     /* the backend's timeout (from its start) */
	int     attempts;          /* backend runs */
	struct agent_report prior; /* spend of earlier attempts */

	const char *status; /* succeeded|failed|timed_out|interrupted */
	int         success;
	const char *category; /* NULL on success (static) */
	char       *reason;
	int         have_exit_code, exit_code;
	const char *signal_name; /* static */

	struct proc_result  backend;
	struct agent_report agent; /* cli NULL: not an agent profile */
	int                 backend_ran, backend_ok;
	int                 oom_killed;     /* the sandbox's memory cgroup */
	int                 cpu_limited;    /* its CPU-time limit (SIGXCPU) */
	char               *backend_reason; /* why it failed, or NULL */
	char               *backend_prog;   /* argv[0] of the backend */
	struct validation   val;
	int                 val_ran;
	struct changes      changes;
	int                 diff_ok;
	char               *diff_stat_excerpt;
	struct strv         scope_violations;
	int                 too_wide;
	int                 quality[QUALITY_N];
	char               *quality_note; /* at the threshold, else NULL */
	char               *question;
	struct strv         plan; /* steps proposed (cp:plan markers) */
	int                 branch_pushed;
	char               *commit_sha;
	char               *pr_url;    /* opened (or found) pull request */
	char               *pr_error;  /* why no pull request, or NULL */
	int                 pr_status; /* HTTP status of the last PR request
	                                  (0: none, or a transport error) */
	const char *pr_state;          /* opened|waiting|none (static) */
	char       *pr_wait_reason;    /* the cap that holds it */
};

/* workspace_commit_title: the goal's first line, whitespace collapsed, <= 72
 * bytes (never splitting a UTF-8 character). */
char *workspace_commit_title(const char *goal, const char *run_id);
/* pr_open opens the pull request of a pushed branch when the request
 * asks for one (pr.c).  Returns 0 (opened, found, or none asked for), or
 * an error after run_fail() when it could not be opened. */
int pr_open(struct exec_run *x);
/* pr_only is opc-exec-run --pr-only: the executor's queue opens the
 * pull request of a run that pushed its branch and waited for a cap.  It
 * first looks for an open pull request of the branch (an earlier try that
 * opened it before a crash), then counts the caps, then creates one.
 * Writes {pr_state: opened|waiting|failed, pull_request_url,
 * pr_wait_reason, pull_request_error, pull_request_status} to out.
 * 0 once out was written, else ERR_IO. */
int pr_only(const struct exec_req *rq, const char *out);
/* pr_url_of returns a copy of "html_url" in a GitHub pulls response:
 * the created pull request (list 0, POST) or the first of a list (list
 * 1, GET ?head=); NULL when it is absent or body is not that JSON. */
char *pr_url_of(const char *body, size_t len, int list);
/* pr_count counts opcenter's pull requests on repo (owner/name) at
 * api: those in state ("open" or "all") whose head branch starts with
 * prefix, and of them only those created at or after since_ms when it is
 * not 0 (the hourly cap; GitHub lists newest first, so the count stops
 * at the first older one).  It follows the Link header's rel="next",
 * 100 a page, at most PR_COUNT_PAGES pages.  0 with *n set, or ERR_IO
 * with *status the HTTP status of the failing page (0: transport) and
 * *retry_at (unix ms) set when GitHub asked to wait (a rate limit). */
#define PR_COUNT_PAGES 20
int pr_count(const char *api, const char *repo, const char *token,
    const char *state, const char *prefix, int64_t since_ms, long *n,
    int *status, int64_t *retry_at);
/* pr_take_token moves $OPC_GITHUB_TOKEN into memory and out of the
 * environment, before any child process starts. */
void pr_take_token(struct exec_req *rq);

/* exec_run performs the whole run described by rq in workspace dir and
 * writes the result to out.  Returns 0 once out was written (whatever the
 * outcome) or ERR_IO when it could not be. */
int exec_run(const struct exec_req *rq, const char *dir, const char *out);

/* probe_run answers --probe (probe.c): is the backend of spec_path ready
 * to run headless here; with call, one real call in the scratch
 * directory dir.  Writes its JSON answer to out; 0 once written. */
int probe_run(
    const char *spec_path, const char *dir, const char *out, int call);

/* run_ws_path returns a new string "<x->opc>/<name>". */
char *run_ws_path(const struct exec_run *x, const char *name);
/* run_fail records an infrastructure failure of x: category (static) and
 * a one-line reason (taken over).  The first call wins; later reasons are
 * freed. */
void run_fail(struct exec_run *x, const char *category, char *reason);

/* workspace.c */
/* workspace_git runs `git <args, NULL-terminated>` in dir (NULL: cwd) with a
 * 10 minute timeout.  On a non-zero exit it returns ERR_IO and sets
 * *reason to "git <args> failed (...): <stderr excerpt>". r is always
 * filled; release it with proc_result_fini(). */
int workspace_git(struct proc_result *r, const char *dir, char **reason, ...)
    __attribute__((sentinel));
/* workspace_git_argv runs argv (git first) in dir (NULL: cwd) with envp
 * (NULL: ours) and the limits of workspace_git.  On failure it returns
 * ERR_IO and *reason says "<shown, else the argv> failed (how): <stderr
 * excerpt>".  r is always filled (proc_result_fini()). */
int workspace_git_argv(struct proc_result *r, const char *dir,
    char *const *envp, const struct strv *argv, const char *shown,
    char **reason);
/* workspace_net_env returns the environment of a git process that talks
 * to x's remote: ours plus the token and the endpoint it is for, in env
 * (the caller frees it with strv_free()); NULL (ours alone) without a
 * token or for a remote that is not http(s). */
char **workspace_net_env(const struct exec_run *x, struct strv *env);
/* workspace_net_args appends to argv the options that make
 * opc-git-credential git's only credential helper.  git runs a helper
 * through the shell ("!" form), so its path is single-quoted. */
void workspace_net_args(struct strv *argv);
/* workspace_scrub overwrites every copy of secret (NULL: none) in s with
 * "***" (a remote that echoed it must not put it in a reason). */
void workspace_scrub(char *s, const char *secret);
/* mirror.c */
/* mirror_clone makes x->ws a `git clone --shared` of the repo's mirror
 * under x->req->mirror_dir (creating, fetching and gc'ing the mirror as
 * due, under its lock), with origin set to the clone URL and nothing
 * checked out yet.  *fetched says whether it fetched.  On failure it
 * calls run_fail() (infra_tooling, git's words) and returns ERR_*; when
 * stopped (proc_stop) it returns ERR_STATE. */
int mirror_clone(struct exec_run *x, int *fetched);
/* workspace_prepare clones and branches (a scratch workspace: creates an
 * empty directory); on failure it calls run_fail() and returns ERR_IO. */
int workspace_prepare(struct exec_run *x);
/* workspace_commit commits the staged changes and pushes if asked. */
int workspace_commit(struct exec_run *x);
/* workspace_branch_rules fills r with x's branch-safety rules (borrowed
 * from x->req; default_branch NULL).  Every push path of the worker
 * checks its argv with branch_guard_push() on these rules right before
 * it runs git (workspace.c push()). */
struct branch_rules;
void workspace_branch_rules(struct branch_rules *r, const struct exec_run *x);
/* workspace_push_guard checks argv, the `git push` about to run for x,
 * after asking the remote (envp: workspace_net_env(); dir: a bare
 * repository outside the workspace to run git in) for its default
 * branch.  The one check every push path calls.  0 when the push may
 * run; else it has called run_fail() (BRANCH_GUARD_CATEGORY, or
 * infra_tooling when the remote could not be asked) and returns
 * ERR_REFUSED or ERR_IO; nothing was pushed. */
int workspace_push_guard(struct exec_run *x, char *const *envp,
    const char *dir, const struct strv *argv);

/* cgroup.c: the pids and memory cgroups of a sandboxed run */
struct exec_cgroup {
	char *pids, *pids_up; /* the run's cgroup, and ours */
	char *mem, *mem_up;
	int   mem_v2;
};
/* cgroup_open makes the run's cgroups with those limits (0: none) where
 * the machine lets us; cg->pids / cg->mem stay NULL where it does not.
 * Release with cgroup_close() (removes them). */
void cgroup_open(struct exec_cgroup *cg, int64_t max_procs, int64_t memory_mb);
/* cgroup_enter moves this process into the run's cgroups (enter) or back
 * to its own: around the backend's spawn. */
void cgroup_enter(struct exec_cgroup *cg, int enter);
/* cgroup_oom_killed: the memory cgroup's OOM killer struck. */
int  cgroup_oom_killed(const struct exec_cgroup *cg);
void cgroup_close(struct exec_cgroup *cg);

/* backend.c */
struct expand_var {
	const char *name; /* without braces */
	const char *value;
};
/* backend_expand returns a new string: tmpl with every "{name}" of vars
 * replaced by its value; unknown placeholders stay as they are. */
char *backend_expand(
    const char *tmpl, const struct expand_var *vars, size_t n);
/* backend_confine replaces *argv by the bwrap argv of x's sandbox
 * (sandbox.c), with x->ws its workspace; mem_cgroup: a memory cgroup
 * holds the memory limit (else RLIMIT_AS does).  A program not found on
 * the PATH of envp is left as it is, for the spawn to report.  Returns 1
 * when *argv is now the sandbox's, else 0. */
int backend_confine(struct strv *argv, char *const *envp,
    const struct exec_run *x, int mem_cgroup);
/* backend_run runs the backend and writes its output files. */
int backend_run(struct exec_run *x);

/* validate.c */
/* validate_run runs every validation command (never through a shell) and
 * fills x->val. */
int  validate_run(struct exec_run *x);
void validate_fini(struct validation *v);

/* diff.c */
/* diff_collect stages everything and fills x->changes and the diff files
 * (a scratch workspace: every file the backend left is "added", no patch);
 * returns ERR_IO (after run_fail()) when git fails. */
int diff_collect(struct exec_run *x, struct buf *patch);

/* result.c */
/* result_fill fills res (zeroed; the caller finalises it) with the
 * OcExecutionResult of x. */
void result_fill(const struct exec_run *x, int64_t completed_ms,
    struct msg_exec_result *res);
/* result_write builds and atomically writes the result. 0 or ERR_IO. */
int result_write(const struct exec_run *x, const char *path);

#endif
