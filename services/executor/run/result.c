/*
 * result.c - struct exec_run -> struct msg_exec_result (OcExecutionResult)
 * (docs/execution-path.md, "exec.finished.result").
 *
 * Every key of the contract is always present in its JSON form (the
 * record says `nulls`); unknown values are null.  files{} and artifacts[]
 * list only the .opcenter files that exist.  Text from outside (paths,
 * the backend's words) is made valid UTF-8 on the way in.
 */
#include <string.h>
#include <sys/stat.h>

#include "opc/err.h"
#include "opc/msg.h"
#include "run.h"

static const struct {
	const char *key;  /* files{} key */
	const char *name; /* under .opcenter/ */
	const char *type; /* artifact_type */
	const char *label;
} outputs[] = {
	{ "backend_stdout", "backend_stdout.txt", "log_excerpt",
	    "backend stdout" },
	{ "backend_stderr", "backend_stderr.txt", "log_excerpt",
	    "backend stderr" },
	{ "validation_output", "validation_output.txt", "validation_report",
	    "validation output" },
	{ "diff_stat", "diff_stat.txt", "diff", "diff stat" },
	{ "patch", "diff.patch", "patch", "patch" },
};

static void
changes_fill(struct msg_exec_change_list *l, const struct changes *cs)
{
	struct msg_exec_change *c;
	size_t                  i;

	for (i = 0; i < cs->n; i++) {
		c                = msg_exec_change_push(l);
		c->path          = utf8_lossy(cs->v[i].path);
		c->change_type   = xstrdup(cs->v[i].type);
		c->lines_added   = cs->v[i].added;
		c->lines_removed = cs->v[i].removed;
	}
}

static struct msg_exec_validation *
validation_new(const struct exec_run *x)
{
	struct msg_exec_validation *v = msg_exec_validation_new();

	if (!x->val_ran) {
		v->status = xstrdup("skipped");
		return (v);
	}
	v->status          = xstrdup(x->val.status);
	v->commands_run    = x->val.run;
	v->commands_passed = x->val.passed;
	v->commands_failed = x->val.failed;
	v->failure_excerpt = utf8_lossy(x->val.failure_excerpt);
	v->duration_ms     = x->val.duration_ms;
	return (v);
}

static void
outputs_fill(const struct exec_run *x, struct msg_exec_result *res)
{
	struct msg_exec_artifact *a;
	struct stat               st;
	char                      id[37], ts[32], *p, **slot;
	size_t                    i;

	res->files = msg_exec_files_new();
	for (i = 0; x->ws_ready && i < nitems(outputs); i++) {
		p = run_ws_path(x, outputs[i].name);
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
			slot  = &res->files->backend_stdout + i;
			*slot = utf8_lossy(p);
			a     = msg_exec_artifact_push(&res->artifacts);
			a->artifact_id   = xstrdup(uuid4(id));
			a->artifact_type = xstrdup(outputs[i].type);
			a->label         = xstrdup(outputs[i].label);
			a->uri           = utf8_lossy(p);
			a->size_bytes    = st.st_size;
			a->produced_at   = xstrdup(
			      iso8601((int64_t) st.st_mtim.tv_sec * 1000 +
			              st.st_mtim.tv_nsec / 1000000,
			          ts, sizeof(ts)));
		}
		free(p);
	}
}

void
result_fill(const struct exec_run *x, int64_t completed_ms,
    struct msg_exec_result *res)
{
	const struct exec_req *rq = x->req;
	struct msg_tally      *w;
	char                   t[32], *p;
	size_t                 i;

	res->run_id      = xstrdup_null(rq->run_id);
	res->task_id     = xstrdup_null(rq->task_id);
	res->proposal_id = xstrdup_null(rq->proposal_id);
	res->decision_id = xstrdup_null(rq->decision_id);
	res->status      = xstrdup(x->status != NULL ? x->status : "failed");
	res->success     = x->success;
	changes_fill(&res->changed_files, &x->changes);
	res->changed_files_source =
	    xstrdup(rq->bk.scratch ? "workspace_listing" : "git_diff");
	res->diff_stat_excerpt = utf8_lossy(x->diff_stat_excerpt);
	res->validation        = validation_new(x);
	res->branch_pushed     = x->branch_pushed;
	res->branch_name =
	    rq->bk.scratch ? NULL : xstrdup_null(rq->task_branch);
	res->commit_sha         = xstrdup_null(x->commit_sha);
	res->pull_request_url   = utf8_lossy(x->pr_url);
	res->pull_request_error = utf8_lossy(x->pr_error);
	if ((res->has_pull_request_status = x->pr_status > 0))
		res->pull_request_status = x->pr_status;
	res->pr_state         = xstrdup(x->pr_url != NULL ? "opened"
	                : x->pr_state != NULL && strcmp(x->pr_state, "waiting") == 0
	                ? "waiting"
	                : "none");
	res->pr_wait_reason   = utf8_lossy(x->pr_wait_reason);
	res->failure_category = xstrdup_null(x->category);
	if (proc_lease_lost())
		res->has_lease_lost = res->lease_lost = true;
	res->failure_reason = utf8_lossy(x->reason);
	if ((res->has_executor_exit_code = x->have_exit_code != 0))
		res->executor_exit_code = x->exit_code;
	res->executor_signal = xstrdup_null(x->signal_name);
	res->question        = utf8_lossy(x->question);
	for (i = 0; i < x->scope_violations.n; i++) {
		p = utf8_lossy(x->scope_violations.v[i]);
		msg_strs_add(&res->scope_violations, p);
		free(p);
	}
	for (i = 0; i < QUALITY_N; i++)
		if (x->quality[i] > 0) {
			w        = msg_tally_push(&res->quality_warnings);
			w->key   = xstrdup(quality_pattern(i));
			w->count = x->quality[i];
		}
	res->quality_note = xstrdup_null(x->quality_note);
	for (i = 0; i < x->plan.n; i++) {
		p = utf8_lossy(x->plan.v[i]);
		msg_strs_add(&res->plan, p);
		free(p);
	}
	res->agent = agent_new(&x->agent);
	if (res->agent != NULL) {
		res->agent->has_attempts = true;
		res->agent->attempts     = x->attempts;
	}
	outputs_fill(x, res);
	res->workspace_path  = utf8_lossy(x->ws);
	res->started_at      = xstrdup(iso8601(x->started_ms, t, sizeof(t)));
	res->completed_at    = xstrdup(iso8601(completed_ms, t, sizeof(t)));
	res->has_duration_ms = true;
	res->duration_ms     = mono_ms() - x->started_mono;
}

int
result_write(const struct exec_run *x, const char *path)
{
	struct msg_exec_result res;
	json_t                *j;
	char                  *s;
	int                    rv;

	memset(&res, 0, sizeof(res));
	result_fill(x, now_ms(), &res);
	j = msg_exec_result_to_json(&res);
	msg_exec_result_fini(&res);
	s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (s == NULL)
		return (ERR_IO);
	rv = write_file_atomic(path, s, strlen(s));
	free(s);
	return (rv);
}
