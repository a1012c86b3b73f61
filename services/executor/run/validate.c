/*
 * validate.c - run the validation commands after a successful backend.
 *
 * Each command is an argv run in the workspace (never through a shell)
 * with validation_timeout_seconds, its stdout and stderr merged.  The
 * transcript "$ cmd\n<output>\n[exit N]\n" of every command goes to
 * .opcenter/validation_output.txt.  All commands run (fail_fast is off);
 * the first failing one provides the failure excerpt.  Status: skipped
 * without commands, error when one could not be started, failed when one
 * failed, else passed.
 */
#include <string.h>

#include "opc/err.h"
#include "run.h"

void
validate_fini(struct validation *v)
{
	free(v->failure_excerpt);
	free(v->failed_cmd);
	free(v->failed_how);
	memset(v, 0, sizeof(*v));
}

/* tail returns a new copy of the last max bytes of b, starting at a UTF-8
 * character boundary. */
static char *
tail(const struct buf *b, size_t max)
{
	size_t from = b->len > max ? b->len - max : 0;

	while (from < b->len && from > 0 &&
	    ((unsigned char) b->data[from] & 0xc0) == 0x80)
		from++;
	return (xstrndup(b->data + from, b->len - from));
}

int
validate_run(struct exec_run *x)
{
	const struct exec_req *rq = x->req;
	struct validation     *v  = &x->val;
	struct proc_result     r;
	struct proc_opts       o;
	struct buf             log;
	char                  *cmd, *how, *path;
	int64_t                start = mono_ms();
	size_t                 i;
	int                    ok, err = 0, rv = 0;

	memset(v, 0, sizeof(*v));
	x->val_ran = 1;
	if (rq->n_validation == 0) {
		v->status = "skipped";
		return (0);
	}
	buf_init(&log);
	for (i = 0; i < rq->n_validation && !proc_stop; i++) {
		memset(&o, 0, sizeof(o));
		o.argv       = rq->validation[i].v;
		o.cwd        = x->ws;
		o.timeout_ms = (int64_t) rq->validation_timeout_seconds * 1000;
		o.grace_ms   = (int64_t) rq->bk.kill_grace_seconds * 1000;
		o.max_output = rq->bk.max_output_bytes;
		o.merge      = 1;
		cmd          = strv_join(&rq->validation[i], " ");
		if (proc_run(&r, &o) != 0) {
			proc_result_fini(&r);
			free(cmd);
			run_fail(x, "infra_tooling",
			    xstrdup("cannot start a "
			            "validation command"));
			rv = ERR_IO;
			break;
		}
		v->run++;
		ok  = r.spawn_errno == 0 && r.exit_code == 0;
		how = proc_describe(&r);
		buf_printf(&log, "$ %s\n", cmd);
		buf_append(&log, r.out.data, r.out.len);
		if (r.out_truncated)
			buf_puts(&log, "\n[truncated]");
		if (r.exit_code >= 0 && r.spawn_errno == 0)
			buf_printf(&log, "\n[exit %d]\n", r.exit_code);
		else
			buf_printf(&log, "\n[%s]\n", how);
		if (ok) {
			v->passed++;
		} else {
			v->failed++;
			if (r.spawn_errno != 0)
				err = 1;
			if (v->failed_cmd == NULL) {
				v->failed_cmd = xstrdup(cmd);
				v->failed_how = xstrdup(how);
				if (r.spawn_errno != 0)
					buf_printf(&r.out, "%s: %s",
					    rq->validation[i].v[0], how);
				v->failure_excerpt =
				    tail(&r.out, VALIDATION_EXCERPT);
			}
		}
		free(how);
		free(cmd);
		proc_result_fini(&r);
	}
	v->status      = err ? "error" : v->failed > 0 ? "failed" : "passed";
	v->duration_ms = mono_ms() - start;
	path           = run_ws_path(x, "validation_output.txt");
	buf_cstr(&log);
	if (write_file_atomic(path, log.data, log.len) != 0) {
		run_fail(
		    x, "infra_tooling", xasprintf("cannot write %s", path));
		rv = ERR_IO;
	}
	free(path);
	buf_fini(&log);
	return (rv);
}
