/*
 * result.c - struct exec_run -> OcExecutionResult JSON
 * (docs/execution-path.md, "exec.finished.result").
 *
 * Every key of the contract is always present; unknown values are null.
 * files{} and artifacts[] list only the .opcenter files that exist.
 */
#include <string.h>
#include <sys/stat.h>

#include "opc/err.h"
#include "run.h"

static const struct {
	const char *key;  /* files{} key */
	const char *name; /* under .opcenter/ */
	const char *type; /* artifact_type */
	const char *label;
} outputs[] = {
    {"backend_stdout", "backend_stdout.txt", "log_excerpt", "backend stdout"},
    {"backend_stderr", "backend_stderr.txt", "log_excerpt", "backend stderr"},
    {"validation_output", "validation_output.txt", "validation_report",
     "validation output"},
    {"diff_stat", "diff_stat.txt", "diff", "diff stat"},
    {"patch", "diff.patch", "patch", "patch"},
};

static json_t *
jstr(const char *s)
{
	return (s != NULL ? json_string(s) : json_null());
}

json_t *
jstr_lossy(const char *s)
{
	struct buf b;
	size_t     n, l, i = 0;
	json_t    *j;

	if (s == NULL)
		return (json_null());
	n = strlen(s);
	if (utf8_valid(s, n))
		return (json_string(s));
	buf_init(&b);
	while (i < n) {
		l = utf8_len((const unsigned char *) s + i, n - i);
		if (l == 0) {
			buf_puts(&b, "\xef\xbf\xbd"); /* U+FFFD */
			i++;
			continue;
		}
		buf_append(&b, s + i, l);
		i += l;
	}
	j = json_stringn(b.data, b.len);
	buf_fini(&b);
	return (j);
}

static json_t *
changes_json(const struct changes *cs)
{
	json_t *a = json_array();
	size_t  i;

	for (i = 0; i < cs->n; i++)
		json_array_append_new(
		    a, json_pack("{s:o, s:s, s:I, s:I}", "path",
		                 jstr_lossy(cs->v[i].path), "change_type",
		                 cs->v[i].type, "lines_added",
		                 (json_int_t) cs->v[i].added, "lines_removed",
		                 (json_int_t) cs->v[i].removed));
	return (a);
}

static json_t *
validation_json(const struct exec_run *x)
{
	const struct validation *v = &x->val;

	if (!x->val_ran)
		return (json_pack(
		    "{s:s, s:i, s:i, s:i, s:n, s:I}", "status", "skipped",
		    "commands_run", 0, "commands_passed", 0, "commands_failed",
		    0, "failure_excerpt", "duration_ms", (json_int_t) 0));
	return (json_pack("{s:s, s:i, s:i, s:i, s:o, s:I}", "status", v->status,
	                  "commands_run", v->run, "commands_passed", v->passed,
	                  "commands_failed", v->failed, "failure_excerpt",
	                  jstr_lossy(v->failure_excerpt), "duration_ms",
	                  (json_int_t) v->duration_ms));
}

static void
outputs_json(const struct exec_run *x, json_t *res)
{
	json_t     *files = json_object(), *arts = json_array();
	struct stat st;
	char        id[37], ts[32], *p;
	size_t      i;

	for (i = 0; x->ws_ready && i < nitems(outputs); i++) {
		p = ws_path(x, outputs[i].name);
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
			json_object_set_new(files, outputs[i].key,
			                    jstr_lossy(p));
			json_array_append_new(
			    arts,
			    json_pack(
			        "{s:s, s:s, s:s, s:o, s:I, s:s}", "artifact_id",
			        uuid4(id), "artifact_type", outputs[i].type,
			        "label", outputs[i].label, "uri", jstr_lossy(p),
			        "size_bytes", (json_int_t) st.st_size,
			        "produced_at",
			        iso8601((int64_t) st.st_mtim.tv_sec * 1000 +
			                    st.st_mtim.tv_nsec / 1000000,
			                ts, sizeof(ts))));
		}
		free(p);
	}
	json_object_set_new(res, "artifacts", arts);
	json_object_set_new(res, "files", files);
}

json_t *
result_build(const struct exec_run *x, int64_t completed_ms)
{
	const struct exec_req *rq = x->req;
	json_t                *res, *viol, *q;
	char                   t0[32], t1[32];
	size_t                 i;

	res = json_object();
	json_object_set_new(res, "run_id", jstr(rq->run_id));
	json_object_set_new(res, "task_id", jstr(rq->task_id));
	json_object_set_new(res, "proposal_id", jstr(rq->proposal_id));
	json_object_set_new(res, "decision_id", jstr(rq->decision_id));
	json_object_set_new(res, "status", jstr(x->status));
	json_object_set_new(res, "success", json_boolean(x->success));
	json_object_set_new(res, "changed_files", changes_json(&x->changes));
	json_object_set_new(res, "changed_files_source",
	                    json_string(rq->bk.scratch ? "workspace_listing"
	                                               : "git_diff"));
	json_object_set_new(res, "diff_stat_excerpt",
	                    jstr_lossy(x->diff_stat_excerpt));
	json_object_set_new(res, "validation", validation_json(x));
	json_object_set_new(res, "branch_pushed",
	                    json_boolean(x->branch_pushed));
	json_object_set_new(res, "branch_name",
	                    rq->bk.scratch ? json_null()
	                                   : jstr(rq->task_branch));
	json_object_set_new(res, "commit_sha", jstr(x->commit_sha));
	json_object_set_new(res, "pull_request_url", jstr(x->pr_url));
	json_object_set_new(res, "pull_request_error", jstr(x->pr_error));
	json_object_set_new(res, "pull_request_status",
	                    x->pr_status > 0 ? json_integer(x->pr_status)
	                                     : json_null());
	json_object_set_new(res, "failure_category", jstr(x->category));
	if (proc_lease_lost())
		json_object_set_new(res, "lease_lost", json_true());
	json_object_set_new(res, "failure_reason", jstr_lossy(x->reason));
	json_object_set_new(res, "executor_exit_code",
	                    x->have_exit_code ? json_integer(x->exit_code)
	                                      : json_null());
	json_object_set_new(res, "executor_signal", jstr(x->signal_name));
	json_object_set_new(res, "question", jstr_lossy(x->question));
	viol = json_array();
	for (i = 0; i < x->scope_violations.n; i++)
		json_array_append_new(viol,
		                      jstr_lossy(x->scope_violations.v[i]));
	json_object_set_new(res, "scope_violations", viol);
	q = json_object();
	for (i = 0; i < QUALITY_N; i++)
		if (x->quality[i] > 0)
			json_object_set_new(q, quality_pattern(i),
			                    json_integer(x->quality[i]));
	json_object_set_new(res, "quality_warnings", q);
	json_object_set_new(res, "agent", agent_json(&x->agent));
	if (x->agent.cli != NULL)
		json_object_set_new(json_object_get(res, "agent"), "attempts",
		                    json_integer(x->attempts));
	outputs_json(x, res);
	json_object_set_new(res, "workspace_path", jstr_lossy(x->ws));
	json_object_set_new(
	    res, "started_at",
	    json_string(iso8601(x->started_ms, t0, sizeof(t0))));
	json_object_set_new(res, "completed_at",
	                    json_string(iso8601(completed_ms, t1, sizeof(t1))));
	json_object_set_new(res, "duration_ms",
	                    json_integer(mono_ms() - x->started_mono));
	return (res);
}

int
result_write(const struct exec_run *x, const char *path)
{
	json_t *res;
	char   *s;
	int     rv;

	res = result_build(x, now_ms());
	s = json_dumps(res, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(res);
	if (s == NULL)
		return (ERR_IO);
	rv = write_file_atomic(path, s, strlen(s));
	free(s);
	return (rv);
}
