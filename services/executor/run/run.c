/*
 * run.c - one run, step by step, and the final verdict.
 *
 * Steps: workspace -> backend -> validation (only after a successful
 * backend) -> staged diff -> scope and size limits -> quality scan and
 * question -> verdict -> commit and push (only on success with changes)
 * -> RESULT.json.  An infrastructure failure (git, files) ends the steps
 * early through run_fail(); everything else is judged in decide(), which
 * uses classify() for the category of any other failure.  A SIGTERM to
 * the worker, or a lost lease (proc_set_lease), stops the current child
 * and ends the run as interrupted; nothing is pushed nor opened without
 * the lease.
 *
 * Verdict table (first row that applies):
 *   signal to the worker, or lost lease -> interrupted / interrupted
 *   not a success, and the workspace's filesystem is full (or a step
 *   said ENOSPC)                -> interrupted / interrupted (retried:
 *                                  the disk, not the task)
 *   run_fail() was called       -> failed (timed_out if the backend did)
 *   backend ok, validation passed or skipped, no scope violation, not
 *   too wide, no question       -> succeeded
 *   otherwise                   -> timed_out if the backend timed out,
 *                                  else failed; category by classify()
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "opc/err.h"
#include "opc/log.h"
#include "run.h"

#define REASON_PATHS 5
#define LEASE_LOST                                                           \
	"the run's lease was lost: the router did not grant it for half a "  \
	"lease (cut off from it, or away) or took it back; the run stopped " \
	"there, pushing nothing after that, and is retried if the router "   \
	"still holds it"

char *
run_ws_path(const struct exec_run *x, const char *name)
{
	return (xasprintf("%s/%s", x->opc, name));
}

void
run_fail(struct exec_run *x, const char *category, char *reason)
{
	if (x->category != NULL) {
		free(reason);
		return;
	}
	x->category = category;
	free(x->reason);
	x->reason = reason;
}

static char *
absolute(const char *dir)
{
	char   cwd[4096], *p;
	size_t n;

	if (dir[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		p = xstrdup(dir);
	else
		p = xasprintf("%s/%s", cwd, dir);
	n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	return (p);
}

static int
flaky(const struct exec_run *x)
{
	const json_t *h, *v;
	int          *passed;
	size_t        i, n;
	int           rv;

	if (x->req->vhistory == NULL || x->val.failed_cmd == NULL)
		return (0);
	h = json_object_get(x->req->vhistory, x->val.failed_cmd);
	if (!json_is_array(h) || (n = json_array_size(h)) == 0)
		return (0);
	passed = xcalloc(n, sizeof(*passed));
	json_array_foreach (h, i, v) {
		passed[i] = json_is_true(v);
	}
	rv = classify_flaky(passed, n);
	free(passed);
	return (rv);
}

static int
too_wide(struct exec_run *x)
{
	const struct exec_req *rq = x->req;
	json_t                *o, *files;
	long                   lines = 0;
	size_t                 i, max = (size_t) rq->max_files;
	char                  *p, *s;
	int                    rv;

	if (rq->max_changed_files >= 0 && (size_t) rq->max_changed_files < max)
		max = (size_t) rq->max_changed_files;
	for (i = 0; i < x->changes.n; i++)
		lines += x->changes.v[i].added + x->changes.v[i].removed;
	if (x->changes.n <= max && lines <= rq->max_lines)
		return (0);
	x->too_wide = 1;
	files       = json_array();
	for (i = 0; i < x->changes.n; i++)
		json_array_append_new(
		    files, json_string(x->changes.v[i].path));
	o = json_pack(
	    "{s:o, s:I}", "files", files, "n_lines", (json_int_t) lines);
	s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	p  = run_ws_path(x, "scope-too-wide.json");
	rv = s != NULL ? write_file_atomic(p, s, strlen(s)) : ERR_IO;
	free(p);
	free(s);
	x->reason = xasprintf("diff too wide: %zu files, %ld lines changed "
	                      "(limits: %zu files, %d lines)",
	    x->changes.n, lines, max, rq->max_lines);
	return (rv);
}

static void
inspect(struct exec_run *x, const struct buf *patch)
{
	const struct exec_req *rq    = x->req;
	int                    total = 0;
	size_t                 i;

	scope_check(&x->scope_violations, &x->changes, &rq->allowed_paths);
	(void) too_wide(x);
	if (quality_scan(x->quality, patch->data, patch->len) != 0)
		log_warn("quality.regex", "a quality pattern did not compile");
	for (i = 0; i < QUALITY_N; i++)
		total += x->quality[i];
	if ((x->quality_note =
	            quality_note(x->quality, rq->quality_threshold)) != NULL)
		log_warn("quality.erosion",
		    "run %s adds %d suppression "
		    "markers (threshold %d)",
		    rq->run_id, total, rq->quality_threshold);
	if ((x->question = quality_question_extract(
	         x->backend.out.data, x->backend.out.len)) == NULL &&
	    (x->question = quality_question_extract(
	         x->backend.err.data, x->backend.err.len)) == NULL)
		x->question =
		    quality_question_in_patch(patch->data, patch->len);
	quality_plan_extract(
	    &x->plan, x->backend.out.data, x->backend.out.len);
}

static char *
scope_reason(const struct strv *viol)
{
	struct buf b;
	size_t     i;

	buf_init(&b);
	buf_printf(&b, "%zu changed path%s outside allowed_paths: ", viol->n,
	    viol->n == 1 ? "" : "s");
	for (i = 0; i < viol->n && i < REASON_PATHS; i++)
		buf_printf(&b, "%s%s", i > 0 ? ", " : "", viol->v[i]);
	if (viol->n > REASON_PATHS)
		buf_printf(&b, ", ... (%zu more)", viol->n - REASON_PATHS);
	buf_cstr(&b);
	return (b.data);
}

/* denials_reason names the tools an agent was refused. */
static char *
denials_reason(const struct agent_report *a)
{
	struct buf b;
	size_t     i, j;

	buf_init(&b);
	buf_printf(&b, "%s was refused %zu tool call%s (", a->cli,
	    a->denials.n, a->denials.n == 1 ? "" : "s");
	for (i = 0; i < a->denials.n; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(a->denials.v[j], a->denials.v[i]) == 0)
				break;
		if (j == i)
			buf_printf(
			    &b, "%s%s", i > 0 ? ", " : "", a->denials.v[i]);
	}
	buf_puts(&b,
	    ") and changed nothing: its permission mode does not "
	    "let it edit the workspace");
	buf_cstr(&b);
	return (b.data);
}

static void
decide(struct exec_run *x)
{
	struct classify_in in;
	char              *text, *old;
	int                val_ok, no_change;

	x->success = 0;
	if (proc_stop || x->backend.interrupted) {
		x->status   = "interrupted";
		x->category = "interrupted";
		free(x->reason);
		x->reason = xstrdup(proc_lease_lost()
		        ? LEASE_LOST
		        : "run interrupted by a signal to the "
		          "executor worker");
		return;
	}
	if (x->category != NULL) {
		x->status = x->backend.timed_out ? "timed_out" : "failed";
		return;
	}
	val_ok = !x->val_ran || strcmp(x->val.status, "passed") == 0 ||
	    strcmp(x->val.status, "skipped") == 0;
	/* A run that did nothing is not a success, unless nothing was
	 * asked for (expect_changes false). */
	no_change = x->backend_ok && x->diff_ok && x->changes.n == 0 &&
	    x->req->expect_changes;
	if (x->backend_ok && val_ok && x->scope_violations.n == 0 &&
	    !x->too_wide && x->question == NULL && !no_change) {
		x->success = 1;
		x->status  = "succeeded";
		return;
	}
	x->status = x->backend.timed_out ? "timed_out" : "failed";
	memset(&in, 0, sizeof(in));
	in.scope_violation   = x->scope_violations.n > 0;
	in.question          = x->question != NULL;
	in.too_wide          = x->too_wide;
	in.timed_out         = x->backend.timed_out;
	in.validation_failed = x->val_ran && !val_ok;
	in.validation_flaky  = in.validation_failed && flaky(x);
	in.no_change         = no_change;
	in.oom_killed        = x->oom_killed;
	in.cpu_limited       = x->cpu_limited;
	if (x->agent.cli != NULL) {
		struct buf msg;

		in.api_status = x->agent.api_status;
		in.api_error  = x->agent.api_error;
		in.budget_hit = x->agent.budget_hit || x->agent.turns_hit;
		in.denied     = x->agent.denials.n > 0 && x->changes.n == 0;
		/* the CLI's message and stderr, not its JSON stream (tool
		 * output and file contents would match anything) */
		buf_init(&msg);
		if (x->agent.message != NULL)
			buf_puts(&msg, x->agent.message);
		text = classify_text(&x->backend.err, &msg);
		buf_fini(&msg);
	} else
		text = classify_text(&x->backend.err, &x->backend.out);
	in.text     = text;
	x->category = classify(&in);
	free(text);

	old = x->reason; /* the too-wide summary, if any */
	if (strcmp(x->category, "scope_policy") == 0)
		x->reason = scope_reason(&x->scope_violations);
	else if (strcmp(x->category, "awaiting_input") == 0)
		x->reason =
		    xasprintf("backend asked a question: %s", x->question);
	else if (strcmp(x->category, "scope_too_wide") == 0 && old != NULL)
		x->reason = xstrdup(old);
	else if (strcmp(x->category, "tool_failure") == 0 && in.denied)
		x->reason = denials_reason(&x->agent);
	else if (strcmp(x->category, "no_op") == 0)
		x->reason = xasprintf("the backend changed nothing%s%s",
		    x->agent.message != NULL ? "; it said: " : "",
		    x->agent.message != NULL ? x->agent.message : "");
	else if (x->backend_reason != NULL)
		x->reason = xstrdup(x->backend_reason);
	else if (in.validation_failed)
		x->reason = xasprintf("validation %s: `%s` %s", x->val.status,
		    x->val.failed_cmd ? x->val.failed_cmd : "?",
		    x->val.failed_how ? x->val.failed_how : "failed");
	else
		x->reason = xstrdup("run failed");
	free(old);
}

/* says_enospc: a text (NUL-terminated: proc_run ends its buffers) holds
 * strerror(ENOSPC), as git, a shell or a file of ours print it. */
static int
says_enospc(const char *p)
{
	return (p != NULL && strstr(p, "No space left on device") != NULL);
}

/* no_space: the run did not succeed for want of space where it works:
 * a step said so (git, the backend, a file of ours), or the workspace's
 * filesystem is full now. */
static int
no_space(const struct exec_run *x)
{
	char   *dir, *slash;
	int64_t room;

	if (says_enospc(x->reason) || says_enospc(x->backend.err.data) ||
	    says_enospc(x->backend.out.data))
		return (1);
	/* the workspace may not exist (its clone failed) */
	dir = xstrdup(x->ws);
	if ((room = fs_free(dir)) < 0 && (slash = strrchr(dir, '/')) != NULL &&
	    slash != dir) {
		*slash = '\0';
		room   = fs_free(dir);
	}
	free(dir);
	return (room >= 0 && room < FS_SPACE_MIN);
}

static void
run_fini(struct exec_run *x)
{
	free(x->ws);
	free(x->opc);
	free(x->reason);
	proc_result_fini(&x->backend);
	free(x->backend_reason);
	free(x->backend_prog);
	agent_report_fini(&x->agent);
	agent_report_fini(&x->prior);
	validate_fini(&x->val);
	diff_changes_fini(&x->changes);
	free(x->diff_stat_excerpt);
	strv_free(&x->scope_violations);
	strv_free(&x->plan);
	free(x->question);
	free(x->quality_note);
	free(x->commit_sha);
	free(x->pr_url);
	free(x->pr_error);
	free(x->pr_wait_reason);
}

/* transient reports whether the agent's API failed in a way that passes
 * (a 429 rate limit, 529 overloaded, a 5xx), after the CLI's own
 * retries: the run tries again after the server's hint or a backoff. */
static int
transient(const struct exec_run *x)
{
	struct classify_in in;
	char              *text;
	int                rv;

	if (x->agent.cli == NULL || x->backend_ok || x->backend.timed_out ||
	    x->backend.interrupted || x->backend.stopped)
		return (0);
	memset(&in, 0, sizeof(in));
	in.api_status = x->agent.api_status;
	in.api_error  = x->agent.api_error;
	text = x->agent.message != NULL ? xstrdup(x->agent.message) : NULL;
	for (char *p = text; p != NULL && *p != '\0'; p++)
		*p = (char) tolower((unsigned char) *p);
	in.text = text;
	rv      = strcmp(classify(&in), "model_error") == 0;
	free(text);
	return (rv);
}

/* backend_reset forgets an attempt before the next one. */
static void
backend_reset(struct exec_run *x)
{
	const struct exec_backend_spec *bk  = &x->req->bk;
	const char                     *cli = x->agent.cli;

	if (x->prior.cli == NULL)
		agent_report_init(&x->prior, cli);
	agent_absorb(&x->prior, &x->agent, bk->price_in, bk->price_out,
	    bk->price_cached);
	proc_result_fini(&x->backend);
	memset(&x->backend, 0, sizeof(x->backend));
	x->backend.exit_code = -1;
	agent_report_fini(&x->agent);
	agent_report_init(&x->agent, cli);
	free(x->backend_reason);
	x->backend_reason = NULL;
	x->backend_ok     = 0;
	x->have_exit_code = 0;
	x->signal_name    = NULL;
}

/* pause waits ms, or less when the run is stopped. */
static void
pause_ms(int64_t ms)
{
	int64_t until = mono_ms() + ms;

	while (!proc_stop && mono_ms() < until) {
		(void) proc_lease_check();
		usleep(100 * 1000);
	}
}

/* run_backend runs the backend, again after a transient API failure
 * while the run's time allows. */
static int
run_backend(struct exec_run *x)
{
	const struct exec_backend_spec *bk = &x->req->bk;
	int64_t                         wait;
	int                             rv;

	/* timeout_seconds is the backend's, from its first start: the
	 * workspace before it (a mirror made or fetched, a clone) has git's
	 * bounds, and had cut the backend's time short under load */
	x->deadline_mono =
	    mono_ms() + (int64_t) x->req->timeout_seconds * 1000;
	for (x->attempts = 1;; x->attempts++) {
		if ((rv = backend_run(x)) != 0 || x->category != NULL ||
		    proc_stop || x->attempts > bk->transient_retries ||
		    !transient(x))
			break;
		wait = x->agent.retry_after_ms >= 0
		    ? x->agent.retry_after_ms
		    : (int64_t) bk->retry_backoff_seconds * 1000 * x->attempts;
		if (mono_ms() + wait + 1000 >= x->deadline_mono)
			break;
		log_warn("run.transient",
		    "run %s: %s (API %d); attempt %d again in %lld ms",
		    x->req->run_id,
		    x->backend_reason ? x->backend_reason : "transient error",
		    x->agent.api_status, x->attempts + 1, (long long) wait);
		pause_ms(wait);
		if (proc_stop)
			break;
		backend_reset(x);
	}
	/* the run spent what every attempt spent */
	if (x->prior.cli != NULL && x->agent.cli != NULL)
		agent_absorb(&x->agent, &x->prior, -1, -1, -1);
	return (rv);
}

static void
steps(struct exec_run *x, struct buf *patch)
{
	if (workspace_prepare(x) != 0 || proc_stop)
		return;
	if (run_backend(x) != 0 || x->category != NULL || proc_stop)
		return;
	if (x->backend_ok && (validate_run(x) != 0 || proc_stop))
		return;
	if (diff_collect(x, patch) != 0)
		return;
	inspect(x, patch);
}

int
exec_run(const struct exec_req *rq, const char *dir, const char *out)
{
	struct exec_run x;
	struct buf      patch;
	int             rv;

	memset(&x, 0, sizeof(x));
	x.req               = rq;
	x.started_ms        = now_ms();
	x.started_mono      = mono_ms();
	x.ws                = absolute(dir);
	x.opc               = xasprintf("%s/.opcenter", x.ws);
	x.backend.exit_code = -1;
	buf_init(&patch);
	log_info("run.start", "run %s task %s workspace %s", rq->run_id,
	    rq->task_id, x.ws);

	steps(&x, &patch);
	decide(&x);
	if (x.success && x.changes.n > 0 && !rq->bk.scratch &&
	    workspace_commit(&x) != 0) {
		x.success = 0;
		x.status  = "failed";
	}
	if (x.success && pr_open(&x) != 0) {
		x.success = 0; /* no pull request: not delivered */
		x.status  = "failed";
	}
	/* Stopped at any point, even during the commit, push or PR: the
	 * work is not fully delivered, so the run is interrupted (and
	 * retried), never a success with a missing push nor a failure the
	 * stop itself caused. */
	if (proc_stop) {
		x.success  = 0;
		x.status   = "interrupted";
		x.category = "interrupted";
		if (proc_lease_lost()) {
			free(x.reason);
			x.reason = xstrdup(LEASE_LOST);
		}
	} else if (!x.success && no_space(&x)) {
		char *why =
		    xasprintf("no space left on device under %s: the "
		              "run is interrupted and will be retried (%s)",
		        x.ws, x.reason ? x.reason : x.status);

		log_warn("run.no_space", "run %s: %s", rq->run_id, why);
		free(x.reason);
		x.reason   = why;
		x.status   = "interrupted";
		x.category = "interrupted";
	}

	if ((rv = result_write(&x, out)) != 0)
		fprintf(stderr, "opc-exec-run: cannot write %s: %s\n", out,
		    strerror(errno));
	log_info("run.finish", "run %s: %s%s%s", rq->run_id, x.status,
	    x.category ? " " : "", x.category ? x.category : "");
	buf_fini(&patch);
	run_fini(&x);
	return (rv);
}
