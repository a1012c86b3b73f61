/*
 * test_recorder.c - the recorder through its real descriptor in-process.
 *
 * The recorder's upstreams (router, executor) exist in the topology but
 * are never started: messages are fed with ctl inject, which carries no
 * seq, so these tests also show that the handlers are idempotent on their
 * own.  Evidence builders are tested as pure functions too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>
#include <math.h>

#include "opc/err.h"
#include "opc/log.h"
#include "opc/store.h"
#include "recorder.h"
#include "testbed.h"

#define WAIT 20000 /* ms: only to avoid hanging */

#define RUN_OK "abcd1234-0000-4000-8000-000000000001"
#define RUN_NOCHG "bcde2345-0000-4000-8000-000000000002"
#define RUN_BLOCK "cdef3456-0000-4000-8000-000000000003"

struct fx {
	char          *dir;
	char          *yaml;
	struct topo   *topo;
	struct tb_svc *rec;
	const char    *url;
};

/* fx_init writes the topology; fx_run starts the recorder on it (a test
 * may put an older db in the state dir in between). */
static void
fx_init(struct fx *f, const char *tag)
{
	f->dir  = tb_dir();
	f->yaml = xasprintf("opcenter:\n"
	                    "  state_dir: %s/state\n"
	                    "  heartbeat_ms: 50\n"
	                    "instances:\n"
	                    "  router:\n"
	                    "    pub: inproc://%s-router.pub\n"
	                    "    ctl: inproc://%s-router.ctl\n"
	                    "  executor:\n"
	                    "    pub: inproc://%s-exec.pub\n"
	                    "    ctl: inproc://%s-exec.ctl\n"
	                    "  recorder:\n"
	                    "    upstreams: [router, executor]\n"
	                    "    pub: inproc://%s-rec.pub\n"
	                    "    ctl: inproc://%s-rec.ctl\n"
	                    "    idle_ms: 10\n"
	                    "    catchup_grace_ms: 50\n"
	                    "    evidence_root: evidence\n"
	                    "    cost_per_execution_usd: 0.25\n",
	    f->dir, tag, tag, tag, tag, tag, tag);
	f->topo = tb_topo(f->dir, f->yaml);
}

static void
fx_run(struct fx *f)
{
	f->rec = tb_start(&recorder_def, f->topo, "recorder");
	f->url = topo_find(f->topo, "recorder")->ctl;
	assert_int_equal(
	    tb_wait_int(f->topo, "recorder", "caught_up", 1, WAIT), 1);
}

static void
fx_start(struct fx *f, const char *tag)
{
	fx_init(f, tag);
	fx_run(f);
}

static void
fx_stop(struct fx *f)
{
	tb_stop(&f->rec);
	topo_close(&f->topo);
	tb_rmrf(f->dir);
	free(f->yaml);
	free(f->dir);
}

/* inject hands body (a JSON text, consumed) to the recorder as topic. */
static void
inject(struct fx *f, const char *topic, json_t *body)
{
	struct msg_ctl_inject in;
	char                  err[256];
	int                   rv;

	assert_non_null(body);
	memset(&in, 0, sizeof(in));
	in.topic = (char *) topic;
	in.body  = body;
	in.corr = (char *) json_string_value(json_object_get(body, "task_id"));
	rv      = ctl_call(
	         f->url, MSG_CTL_INJECT, &in, NULL, err, sizeof(err), WAIT);
	if (rv != 0)
		fail_msg("inject %s: %s", topic, err);
	json_decref(body);
}

/* dec_of returns the decision id of a run (static buffer). */
static const char *
dec_of(const char *run)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "dec-%.8s", run);
	return (buf);
}

static json_t *
decided(const char *run, const char *task, const char *policy_status,
    const char *notes)
{
	return (json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
	                  " s:{s:s, s:s, s:s, s:s, s:{s:s}},"
	                  " s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:[s]},"
	                  " s:{s:s, s:s, s:[], s:[], s:s}}",
	    "task_id", task, "decision_id", dec_of(run), "proposal_id",
	    "prop-1", "lane", "claude_cli", "backend", "kodo", "rule",
	    "r-default", "policy_status", policy_status, "proposal",
	    "proposal_id", "prop-1", "task_id", task, "task_type",
	    "simple_edit", "risk_level", "low", "target", "repo_key", "demo",
	    "decision", "decision_id", dec_of(run), "proposal_id", "prop-1",
	    "run_id", run, "selected_lane", "claude_cli", "selected_backend",
	    "kodo", "policy_rule_matched", "r-default", "rationale",
	    "default lane", "confidence", 1.0, "alternatives_considered",
	    "codex_cli", "policy", "decision_id", dec_of(run), "status",
	    policy_status, "violations", "warnings", "notes", notes));
}

static json_t *
dispatch(const char *run, const char *task)
{
	return (json_pack("{s:s, s:s, s:s, s:i, s:{s:s, s:s, s:s, s:s, s:s,"
	                  " s:s, s:s}}",
	    "run_id", run, "task_id", task, "executor", "executor", "attempt",
	    1, "request", "run_id", run, "task_id", task, "proposal_id",
	    "prop-1", "decision_id", dec_of(run), "repo_key", "demo", "lane",
	    "claude_cli", "backend", "kodo"));
}

static json_t *
started(const char *run, const char *task)
{
	return (json_pack("{s:s, s:s, s:s, s:i, s:s}", "run_id", run,
	    "task_id", task, "executor", "executor", "attempt", 1, "workspace",
	    "/tmp/ws"));
}

/* finished_ok: a succeeded run with one changed file, validation passed,
 * a diff artifact and the executor's files (stdout, patch present;
 * stderr missing). */
static json_t *
finished_ok(const char *run, const char *task, const char *out,
    const char *patch, const char *missing, const char *ws,
    const char *outside)
{
	return (json_pack(
	    "{s:s, s:s, s:s, s:b, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:b,"
	    " s:[{s:s, s:s, s:i, s:i}], s:s, s:s,"
	    " s:{s:s, s:i, s:i, s:i, s:n, s:i},"
	    " s:[{s:s, s:s, s:s, s:s}], s:{s:i}, s:[],"
	    " s:{s:s, s:s, s:s, s:s}, s:s, s:i, s:s}}",
	    "run_id", run, "task_id", task, "status", "succeeded", "success",
	    1, "executor", "executor", "result", "run_id", run, "task_id",
	    task, "proposal_id", "prop-1", "decision_id", dec_of(run),
	    "status", "succeeded", "success", 1, "changed_files", "path",
	    "src/a.c", "change_type", "modified", "lines_added", 6,
	    "lines_removed", 0, "changed_files_source", "git_diff",
	    "diff_stat_excerpt",
	    " src/a.c | 6 ++++++\n 1 file changed, 6 insertions(+)\n",
	    "validation", "status", "passed", "commands_run", 2,
	    "commands_passed", 2, "commands_failed", 0, "failure_excerpt",
	    "duration_ms", 1200, "artifacts", "artifact_id", "art-1",
	    "artifact_type", "diff", "label", "diff", "uri", "file:///x.patch",
	    "quality_warnings", "todo_added", 2, "scope_violations", "files",
	    "backend_stdout", out, "patch", patch, "backend_stderr", missing,
	    "validation_output", outside, "workspace_path", ws, "duration_ms",
	    4200, "completed_at", "2026-01-01T00:00:04.200Z"));
}

static json_t *
finished_nochange(const char *run, const char *task)
{
	return (json_pack("{s:s, s:s, s:s, s:b, s:{s:s, s:s, s:b, s:[], s:s,"
	                  " s:{s:s}, s:[], s:[s]}}",
	    "run_id", run, "task_id", task, "status", "succeeded", "success",
	    1, "result", "run_id", run, "status", "succeeded", "success", 1,
	    "changed_files", "changed_files_source", "git_diff", "validation",
	    "status", "skipped", "artifacts", "scope_violations",
	    "secrets/x"));
}

static json_t *
read_json(const char *dir, const char *name)
{
	char        *p = xasprintf("%s/%s", dir, name);
	json_error_t je;
	json_t      *j = json_load_file(p, 0, &je);

	if (j == NULL)
		fail_msg("%s: %s", p, je.text);
	free(p);
	return (j);
}

static bool
exists(const char *dir, const char *name)
{
	char       *p = xasprintf("%s/%s", dir, name);
	struct stat st;
	bool        ok = stat(p, &st) == 0;

	free(p);
	return (ok);
}

/* read_text returns the text of dir/name (the caller frees it). */
static char *
read_text(const char *dir, const char *name)
{
	char  *p = xasprintf("%s/%s", dir, name), *s = NULL;
	size_t len;

	if (file_read(&s, &len, p, 1 << 20) != 0)
		fail_msg("%s: cannot read", p);
	free(p);
	return (s);
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char *
js(const json_t *o, const char *key)
{
	return (json_string_value(json_object_get(o, key)));
}

static void
run_flow(struct fx *f, const char *run, json_t *fin)
{
	inject(f, "route.decided", decided(run, "T-1", "allow", ""));
	inject(f, "exec.dispatch", dispatch(run, "T-1"));
	inject(f, "exec.started", started(run, "T-1"));
	inject(f, "exec.finished", fin);
}

static void
test_succeeded_run(void **state)
{
	struct fx       f;
	char           *out, *patch, *missing, *ev, *other, *outside;
	json_t         *tr, *rec, *meta, *res, *w;
	struct timespec ts = { 0, 200 * 1000 * 1000 };

	UNUSED(state);
	fx_start(&f, "ok");
	out     = xasprintf("%s/stdout.log", f.dir);
	patch   = xasprintf("%s/change.patch", f.dir);
	missing = xasprintf("%s/nope.log", f.dir);
	write_text(out, "backend said hello\n");
	write_text(patch, "--- a/src/a.c\n+++ b/src/a.c\n");
	/* A file outside the run's workspace is never copied. */
	other   = tb_dir();
	outside = xasprintf("%s/secret.txt", other);
	write_text(outside, "not yours\n");
	run_flow(&f, RUN_OK,
	    finished_ok(RUN_OK, "T-1", out, patch, missing, f.dir, outside));
	assert_int_equal(
	    tb_wait_int(f.topo, "recorder", "written", 1, WAIT), 1);

	ev = xasprintf("%s/state/evidence/%s", f.dir, RUN_OK);
	assert_true(exists(ev, "proposal.json"));
	assert_true(exists(ev, "decision.json"));
	assert_true(exists(ev, "policy.json"));
	assert_true(exists(ev, "execution_request.json"));
	assert_true(exists(ev, "result.json"));
	assert_true(exists(ev, "execution_record.json"));
	assert_true(exists(ev, "execution_trace.json"));
	assert_true(exists(ev, "run_metadata.json"));
	assert_true(exists(ev, "backend_stdout.txt"));
	assert_true(exists(ev, "diff.patch"));
	assert_false(exists(ev, "backend_stderr.txt"));
	assert_false(exists(ev, "validation_output.txt"));
	assert_false(exists(f.dir, "state/evidence/" RUN_OK ".tmp"));
	{
		char *sm = read_text(ev, "result_summary.md");

		assert_non_null(strstr(sm, "- run_id: " RUN_OK "\n"));
		assert_non_null(strstr(sm, "- task_id: T-1\n"));
		assert_non_null(strstr(sm, "- final_status: succeeded\n"));
		assert_non_null(
		    strstr(sm, "- blocked_classification: none\n"));
		assert_non_null(strstr(sm, "- follow_up_task_ids: none\n"));
		assert_null(strstr(sm, "human_attention_required"));
		free(sm);
	}

	tr = read_json(ev, "execution_trace.json");
	assert_string_equal(js(tr, "headline"),
	    "SUCCEEDED | kodo @ claude_cli | run=abcd1234");
	assert_string_equal(js(tr, "summary"),
	    "Run abcd1234; changed 1 file; 1 file changed, 6 insertions(+)");
	assert_string_equal(js(tr, "status"), "succeeded");
	assert_int_equal(json_array_size(json_object_get(tr, "warnings")), 0);
	assert_int_equal(
	    json_array_size(json_object_get(tr, "key_artifacts")), 1);

	rec = read_json(ev, "execution_record.json");
	assert_string_equal(js(rec, "run_id"), RUN_OK);
	assert_string_equal(js(rec, "record_id"), js(tr, "record_id"));
	assert_int_equal(strlen(js(rec, "record_id")), 36);
	assert_string_equal(js(rec, "decision_id"), "dec-abcd1234");
	assert_string_equal(js(rec, "proposal_id"), "prop-1");
	assert_string_equal(
	    js(json_object_get(rec, "changed_files_evidence"), "status"),
	    "known");
	assert_int_equal(
	    json_integer_value(json_object_get(
	        json_object_get(rec, "validation_evidence"), "checks_passed")),
	    2);
	assert_int_equal(
	    json_array_size(json_object_get(
	        json_object_get(rec, "artifact_index"), "primary_artifacts")),
	    1);
	w = json_object_get(rec, "backend_detail_refs");
	assert_int_equal(json_array_size(w), 1);
	assert_string_equal(
	    js(json_array_get(w, 0), "detail_type"), "stdout_log");
	assert_string_equal(
	    js(json_object_get(json_object_get(rec, "metadata"), "routing"),
	        "selected_backend"),
	    "kodo");
	assert_string_equal(
	    js(json_object_get(rec, "metadata"), "task_type"), "simple_edit");

	meta = read_json(ev, "run_metadata.json");
	assert_true(json_is_true(json_object_get(meta, "executed")));
	assert_true(json_is_true(json_object_get(meta, "success")));
	assert_string_equal(js(meta, "policy_status"), "allow");
	assert_string_equal(js(meta, "selected_lane"), "claude_cli");
	assert_true(json_is_null(json_object_get(meta, "failure_category")));
	res = read_json(ev, "result.json");
	assert_string_equal(js(res, "status"), "succeeded");
	json_decref(res);
	res = read_json(ev, "execution_request.json");
	assert_string_equal(js(res, "repo_key"), "demo");
	json_decref(res);

	/* The copies are the executor's files. */
	{
		char *p  = xasprintf("%s/backend_stdout.txt", ev), buf[64];
		FILE *fp = fopen(p, "r");

		assert_non_null(fp);
		assert_non_null(fgets(buf, sizeof(buf), fp));
		assert_string_equal(buf, "backend said hello\n");
		fclose(fp);
		free(p);
	}

	/* Everything again: no new row, no rewrite, no second event. */
	run_flow(&f, RUN_OK,
	    finished_ok(RUN_OK, "T-1", out, patch, missing, f.dir, outside));
	nanosleep(&ts, NULL);
	assert_int_equal(tb_status_int(f.topo, "recorder", "runs"), 1);
	assert_int_equal(tb_status_int(f.topo, "recorder", "written"), 1);
	assert_int_equal(tb_status_int(f.topo, "recorder", "pending"), 0);
	assert_int_equal(
	    tb_status_int(f.topo, "recorder", "counters.written"), 1);
	assert_int_equal(tb_status_int(f.topo, "recorder", "journal_seq"), 1);
	assert_int_equal(tb_status_int(f.topo, "recorder", "executions"), 1);
	{
		json_t *m2 = read_json(ev, "run_metadata.json");

		assert_string_equal(
		    js(m2, "written_at"), js(meta, "written_at"));
		json_decref(m2);
	}

	/* A succeeded run without changes, artifacts or validation. */
	run_flow(&f, RUN_NOCHG, finished_nochange(RUN_NOCHG, "T-1"));
	assert_int_equal(
	    tb_wait_int(f.topo, "recorder", "written", 2, WAIT), 2);
	free(ev);
	ev = xasprintf("%s/state/evidence/%s", f.dir, RUN_NOCHG);
	json_decref(tr);
	tr = read_json(ev, "execution_trace.json");
	w  = json_object_get(tr, "warnings");
	assert_int_equal(json_array_size(w), 3);
	assert_string_equal(json_string_value(json_array_get(w, 0)),
	    "validation was skipped for this run");
	assert_string_equal(json_string_value(json_array_get(w, 1)),
	    "no primary artifacts produced by this run");
	assert_string_equal(json_string_value(json_array_get(w, 2)),
	    "run completed with no file changes");
	assert_string_equal(
	    js(tr, "summary"), "Run bcde2345; no file changes");
	assert_false(exists(ev, "backend_stdout.txt"));

	json_decref(tr);
	json_decref(rec);
	json_decref(meta);
	free(ev);
	free(out);
	free(patch);
	free(missing);
	free(outside);
	tb_rmrf(other);
	free(other);
	fx_stop(&f);
}

static void
test_blocked_run(void **state)
{
	struct fx f;
	char     *ev;
	json_t   *res, *meta, *tr, *rec;

	UNUSED(state);
	fx_start(&f, "blk");
	inject(&f, "route.decided",
	    decided(RUN_BLOCK, "T-2", "block",
	        "violations: path_outside_scope; warnings: none"));
	assert_int_equal(
	    tb_wait_int(f.topo, "recorder", "written", 1, WAIT), 1);
	/* The same decision again changes nothing. */
	inject(&f, "route.decided",
	    decided(RUN_BLOCK, "T-2", "block",
	        "violations: path_outside_scope; warnings: none"));
	ev = xasprintf("%s/state/evidence/%s", f.dir, RUN_BLOCK);
	assert_true(exists(ev, "proposal.json"));
	assert_true(exists(ev, "decision.json"));
	assert_true(exists(ev, "policy.json"));
	assert_true(exists(ev, "execution_record.json"));
	assert_true(exists(ev, "execution_trace.json"));
	assert_false(exists(ev, "execution_request.json"));
	{
		char *sm = read_text(ev, "result_summary.md");

		assert_non_null(strstr(sm, "- final_status: skipped\n"));
		assert_non_null(
		    strstr(sm, "- blocked_classification: policy_blocked\n"));
		assert_non_null(strstr(sm,
		    "- human_attention_required: true\n"
		    "- human_attention_reason: Blocked: "
		    "policy_blocked: policy block: "));
		free(sm);
	}

	res = read_json(ev, "result.json");
	assert_string_equal(js(res, "status"), "skipped");
	assert_true(json_is_false(json_object_get(res, "success")));
	assert_string_equal(js(res, "failure_category"), "policy_blocked");
	assert_non_null(strstr(
	    js(res, "failure_reason"), "violations: path_outside_scope"));

	meta = read_json(ev, "run_metadata.json");
	assert_true(json_is_false(json_object_get(meta, "executed")));
	assert_true(json_is_false(json_object_get(meta, "success")));
	assert_string_equal(js(meta, "policy_status"), "block");
	assert_string_equal(js(meta, "failure_category"), "policy_blocked");

	tr = read_json(ev, "execution_trace.json");
	assert_string_equal(
	    js(tr, "headline"), "SKIPPED | kodo @ claude_cli | run=cdef3456");
	rec = read_json(ev, "execution_record.json");
	assert_string_equal(
	    js(json_object_get(rec, "changed_files_evidence"), "status"),
	    "not_applicable");
	assert_string_equal(
	    js(json_object_get(rec, "changed_files_evidence"), "source"),
	    "policy_blocked");

	assert_int_equal(tb_status_int(f.topo, "recorder", "runs"), 1);
	assert_int_equal(tb_status_int(f.topo, "recorder", "executions"), 0);
	assert_int_equal(tb_status_int(f.topo, "recorder", "journal_seq"), 1);
	json_decref(res);
	json_decref(meta);
	json_decref(tr);
	json_decref(rec);
	free(ev);
	fx_stop(&f);
}

/* result_summary.md of a run that asked a question, in the board's
 * words: the worker role and kind of the task, the classification, and
 * why a human must act. */
static void
test_result_summary(void **state)
{
	struct fx f;
	char     *ev, *sm;
	json_t   *d = dispatch(RUN_NOCHG, "T-9");

	UNUSED(state);
	fx_start(&f, "sum");
	json_object_set_new(json_object_get(d, "request"), "task_kind",
	    json_string("improve"));
	inject(&f, "route.decided", decided(RUN_NOCHG, "T-9", "allow", ""));
	inject(&f, "exec.dispatch", d);
	inject(&f, "exec.started", started(RUN_NOCHG, "T-9"));
	inject(&f, "exec.finished",
	    json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:{s:s, s:s,"
	              " s:b, s:s, s:s, s:s}}",
	        "run_id", RUN_NOCHG, "task_id", "T-9", "status", "failed",
	        "success", 0, "executor", "executor", "failure_category",
	        "awaiting_input", "failure_reason",
	        "backend asked a question: Which port?", "result", "run_id",
	        RUN_NOCHG, "status", "failed", "success", 0,
	        "failure_category", "awaiting_input", "failure_reason",
	        "backend asked a question: Which port?\nreally", "question",
	        "Which port?"));
	assert_int_equal(
	    tb_wait_int(f.topo, "recorder", "written", 1, WAIT), 1);
	ev = xasprintf("%s/state/evidence/%s", f.dir, RUN_NOCHG);
	sm = read_text(ev, "result_summary.md");
	assert_non_null(strstr(sm, "# Result summary: run " RUN_NOCHG "\n"));
	assert_non_null(strstr(sm, "- worker_role: improve\n"));
	assert_non_null(strstr(sm, "- task_kind: improve\n"));
	assert_non_null(strstr(sm, "- final_status: failed\n"));
	assert_non_null(
	    strstr(sm, "- blocked_classification: awaiting_input\n"));
	/* one line per key: a reason's newline is a blank */
	assert_non_null(strstr(
	    sm, "- reason: backend asked a question: Which port? really\n"));
	assert_non_null(strstr(sm, "- human_attention_required: true\n"));
	assert_non_null(strstr(sm,
	    "- human_attention_reason: awaiting_input: "
	    "answer the question (Which port?)\n"));
	free(sm);
	free(ev);
	fx_stop(&f);
}

static void
test_ctl_queries(void **state)
{
	struct fx                     f;
	struct msg_recorder_runs_list ql;
	struct msg_recorder_run_show  qs;
	struct msg_recorder_spend     qp;
	json_t                       *data = NULL, *runs, *r0;
	char                          err[256];

	UNUSED(state);
	fx_start(&f, "ctl");
	run_flow(&f, RUN_NOCHG, finished_nochange(RUN_NOCHG, "T-1"));
	inject(&f, "route.decided",
	    decided(RUN_BLOCK, "T-2", "require_review",
	        "warnings: needs a human"));
	assert_int_equal(
	    tb_wait_int(f.topo, "recorder", "written", 2, WAIT), 2);
	/* A dispatched run still running: listed, not written. */
	inject(&f, "exec.dispatch", dispatch("run-open-1", "T-3"));

	memset(&ql, 0, sizeof(ql));
	assert_int_equal(ctl_call(f.url, MSG_RECORDER_RUNS_LIST, &ql, &data,
	                     err, sizeof(err), WAIT),
	    0);
	runs = json_object_get(data, "runs");
	assert_int_equal(json_array_size(runs), 3);
	r0 = json_array_get(runs, 0); /* newest first */
	assert_string_equal(js(r0, "run_id"), "run-open-1");
	assert_string_equal(js(r0, "status"), "dispatched");
	assert_true(json_is_null(json_object_get(r0, "path")));
	r0 = json_array_get(runs, 1);
	assert_string_equal(js(r0, "run_id"), RUN_BLOCK);
	assert_string_equal(js(r0, "status"), "skipped");
	assert_string_equal(js(r0, "policy_status"), "require_review");
	assert_string_equal(js(r0, "failure_category"), "policy_blocked");
	assert_true(json_is_false(json_object_get(r0, "success")));
	assert_non_null(js(r0, "path"));
	r0 = json_array_get(runs, 2);
	assert_string_equal(js(r0, "run_id"), RUN_NOCHG);
	assert_true(json_is_true(json_object_get(r0, "success")));
	assert_string_equal(js(r0, "lane"), "claude_cli");
	assert_string_equal(js(r0, "backend"), "kodo");
	assert_non_null(js(r0, "started_at"));
	assert_non_null(js(r0, "completed_at"));
	json_decref(data);

	ql.limit   = 1;
	ql.task_id = "T-1";
	assert_int_equal(ctl_call(f.url, MSG_RECORDER_RUNS_LIST, &ql, &data,
	                     err, sizeof(err), WAIT),
	    0);
	runs = json_object_get(data, "runs");
	assert_int_equal(json_array_size(runs), 1);
	assert_string_equal(js(json_array_get(runs, 0), "run_id"), RUN_NOCHG);
	json_decref(data);

	memset(&qs, 0, sizeof(qs));
	qs.run_id = RUN_NOCHG;
	assert_int_equal(ctl_call(f.url, MSG_RECORDER_RUN_SHOW, &qs, &data,
	                     err, sizeof(err), WAIT),
	    0);
	assert_string_equal(js(data, "run_id"), RUN_NOCHG);
	assert_non_null(strstr(js(data, "path"), RUN_NOCHG));
	/* with result_summary.md */
	assert_int_equal(json_array_size(json_object_get(data, "files")), 9);
	assert_string_equal(
	    js(json_object_get(data, "metadata"), "status"), "succeeded");
	assert_string_equal(js(json_object_get(data, "trace"), "headline"),
	    "SUCCEEDED | kodo @ claude_cli | run=bcde2345");
	json_decref(data);

	qs.run_id = "nope";
	assert_int_equal(ctl_call(f.url, MSG_RECORDER_RUN_SHOW, &qs, &data,
	                     err, sizeof(err), WAIT),
	    ERR_NOTFOUND);
	assert_non_null(strstr(err, "no run 'nope'"));

	memset(&qp, 0, sizeof(qp));
	assert_int_equal(ctl_call(f.url, MSG_RECORDER_SPEND, &qp, &data, err,
	                     sizeof(err), WAIT),
	    0);
	assert_int_equal(
	    json_integer_value(json_object_get(data, "window_days")), 1);
	assert_int_equal(
	    json_integer_value(json_object_get(data, "total_executions")), 2);
	assert_true(json_real_value(
	                json_object_get(data, "total_estimated_usd")) == 0.5);
	assert_int_equal(
	    json_integer_value(json_object_get(
	        json_object_get(json_object_get(data, "per_repo"), "demo"),
	        "executions")),
	    2);
	json_decref(data);
	qp.window_days = 7;
	assert_int_equal(ctl_call(f.url, MSG_RECORDER_SPEND, &qp, &data, err,
	                     sizeof(err), WAIT),
	    0);
	assert_int_equal(
	    json_integer_value(json_object_get(data, "window_days")), 7);
	json_decref(data);

	/* the short id `opc runs list` prints, or any unique prefix */
	qs.run_id = "bcde2345";
	assert_int_equal(ctl_call(f.url, MSG_RECORDER_RUN_SHOW, &qs, &data,
	                     err, sizeof(err), WAIT),
	    0);
	assert_string_equal(js(data, "run_id"), RUN_NOCHG);
	json_decref(data);
	qs.run_id = "c";
	assert_int_equal(ctl_call(f.url, MSG_RECORDER_RUN_SHOW, &qs, &data,
	                     err, sizeof(err), WAIT),
	    0);
	assert_string_equal(js(data, "run_id"), RUN_BLOCK);
	json_decref(data);
	/* an ambiguous prefix names its candidates; a whole id that is also
	 * a prefix of another is still itself */
	inject(&f, "exec.dispatch", dispatch("run-open-10", "T-4"));
	qs.run_id = "run-open";
	assert_int_equal(ctl_call(f.url, MSG_RECORDER_RUN_SHOW, &qs, &data,
	                     err, sizeof(err), WAIT),
	    ERR_INVAL);
	assert_non_null(strstr(err, "run id 'run-open' is ambiguous: 2 runs"));
	assert_non_null(strstr(err, "run-open-1, run-open-10"));
	qs.run_id = "run-open-1";
	assert_int_equal(ctl_call(f.url, MSG_RECORDER_RUN_SHOW, &qs, &data,
	                     err, sizeof(err), WAIT),
	    0);
	assert_string_equal(js(data, "run_id"), "run-open-1");
	json_decref(data);
	qs.run_id = "zz";
	assert_int_equal(ctl_call(f.url, MSG_RECORDER_RUN_SHOW, &qs, &data,
	                     err, sizeof(err), WAIT),
	    ERR_NOTFOUND);
	assert_non_null(strstr(err, "no run 'zz'"));
	fx_stop(&f);
}

/* Events of one run arrive from two upstreams in any order: a result
 * before its routing decision waits for it. */
static void
test_out_of_order(void **state)
{
	struct fx       f;
	char           *ev;
	json_t         *meta;
	struct timespec ts = { 0, 200 * 1000 * 1000 };

	UNUSED(state);
	fx_start(&f, "ooo");
	inject(&f, "exec.finished", finished_nochange(RUN_NOCHG, "T-4"));
	inject(&f, "exec.started", started(RUN_NOCHG, "T-4"));
	nanosleep(&ts, NULL);
	assert_int_equal(tb_status_int(f.topo, "recorder", "pending"), 1);
	assert_int_equal(tb_status_int(f.topo, "recorder", "written"), 0);
	inject(&f, "exec.dispatch", dispatch(RUN_NOCHG, "T-4"));
	inject(&f, "route.decided", decided(RUN_NOCHG, "T-4", "allow", ""));
	assert_int_equal(
	    tb_wait_int(f.topo, "recorder", "written", 1, WAIT), 1);
	ev = xasprintf("%s/state/evidence/%s", f.dir, RUN_NOCHG);
	assert_true(exists(ev, "decision.json"));
	assert_true(exists(ev, "execution_request.json"));
	meta = read_json(ev, "run_metadata.json");
	/* A late exec.started did not move the run back to running. */
	assert_string_equal(js(meta, "status"), "succeeded");
	assert_string_equal(js(meta, "policy_status"), "allow");
	assert_string_equal(js(meta, "selected_backend"), "kodo");
	assert_int_equal(tb_status_int(f.topo, "recorder", "executions"), 1);
	json_decref(meta);
	free(ev);
	fx_stop(&f);
}

static void
test_bad_run_id_rejected(void **state)
{
	struct fx             f;
	struct msg_ctl_inject in;
	char                  err[256];
	json_t               *body;

	UNUSED(state);
	fx_start(&f, "bad");
	memset(&in, 0, sizeof(in));
	in.topic = "exec.finished";
	in.body = body = json_pack("{s:s, s:s, s:s}", "run_id", "../../etc",
	    "task_id", "T-9", "status", "failed");
	assert_int_equal(
	    ctl_call(f.url, MSG_CTL_INJECT, &in, NULL, err, sizeof(err), WAIT),
	    ERR_INVAL);
	json_decref(body);
	assert_int_equal(tb_status_int(f.topo, "recorder", "runs"), 0);
	fx_stop(&f);
}

/* finished_agent: a finished run whose result carries the agent block of
 * the real-CLI contract (issue 13).  cost < 0: cost_usd null. */
static json_t *
finished_agent(const char *run, const char *task, const char *status,
    const char *category, const char *reason, double cost, const char *source,
    json_int_t tokens_in, json_int_t retry_after_ms)
{
	json_t *agent = json_pack(
	    "{s:s, s:s, s:s, s:i, s:b, s:s, s:[s, s], s:o, s:o, s:I, s:i,"
	    " s:i, s:i, s:n, s:s?, s:o}",
	    "cli", "claude_cli", "session_id", "sess-42", "model",
	    "claude-sonnet-4", "turns", 7, "is_error", category != NULL,
	    "message", "Done: the change is in src/a.c", "permission_denials",
	    "Bash", "WebFetch", "cost_usd",
	    cost >= 0 ? json_real(cost) : json_null(), "cost_source",
	    cost >= 0 ? json_string(source) : json_null(), "input_tokens",
	    tokens_in, "output_tokens", 300, "cache_read_tokens", 5000,
	    "cache_creation_tokens", 100, "api_status", "api_error",
	    category != NULL && strcmp(category, "quota_exhausted") == 0
	        ? "insufficient_quota"
	        : NULL,
	    "retry_after_ms",
	    retry_after_ms > 0 ? json_integer(retry_after_ms) : json_null());
	bool ok = category == NULL;

	return (json_pack("{s:s, s:s, s:s, s:b, s:s?, s:s?, s:{s:s, s:s,"
	                  " s:b, s:s?, s:s?, s:[], s:o}}",
	    "run_id", run, "task_id", task, "status", status, "success", ok,
	    "failure_category", category, "failure_reason", reason, "result",
	    "run_id", run, "status", status, "success", ok, "failure_category",
	    category, "failure_reason", reason, "changed_files", "agent",
	    agent));
}

static json_t *
spend_report(struct fx *f, int64_t days)
{
	struct msg_recorder_spend q;
	json_t                   *data = NULL;
	char                      err[256];

	memset(&q, 0, sizeof(q));
	q.window_days = days;
	if (ctl_call(f->url, MSG_RECORDER_SPEND, &q, &data, err, sizeof(err),
	        WAIT) != 0)
		fail_msg("spend: %s", err);
	return (data);
}

static double
num(const json_t *o, const char *path)
{
	char         *p = xstrdup(path), *k, *save = NULL;
	const json_t *v = o;

	for (k = strtok_r(p, ".", &save); k != NULL;
	     k = strtok_r(NULL, ".", &save))
		v = json_object_get(v, k);
	free(p);
	if (!json_is_number(v))
		fail_msg("%s: not a number", path);
	return (json_number_value(v));
}

#define RUN_A1 "a1000000-0000-4000-8000-00000000000a"
#define RUN_A2 "a2000000-0000-4000-8000-00000000000b"
#define RUN_A3 "a3000000-0000-4000-8000-00000000000c"
#define RUN_A4 "a4000000-0000-4000-8000-00000000000d"

/* Real costs from result.agent, the estimate only for a run without one,
 * a quota_event for quota_exhausted (not for a rate limit), the agent
 * block in runs show and in execution_record.json. */
static void
test_usage_agent(void **state)
{
	struct fx                    f;
	struct msg_recorder_run_show qs;
	json_t                      *data, *rec, *a, *u;
	char                         err[256], *ev;

	UNUSED(state);
	fx_start(&f, "agent");
	/* reported by the CLI */
	run_flow(&f, RUN_A1,
	    finished_agent(RUN_A1, "T-1", "succeeded", NULL, NULL, 0.4321,
	        "reported", 1200, 0));
	/* no agent block at all (stub backend): the estimate, 0.25 */
	run_flow(&f, RUN_A2, finished_nochange(RUN_A2, "T-1"));
	/* credits gone; cost computed from tokens and prices */
	run_flow(&f, RUN_A3,
	    finished_agent(RUN_A3, "T-1", "failed", "quota_exhausted",
	        "credit balance is too low", 0.1, "computed", 800, 0));
	/* rate limited: a model error, not a quota event, whatever the
	 * reason says; no cost reported, so the estimate */
	run_flow(&f, RUN_A4,
	    finished_agent(RUN_A4, "T-1", "failed", "model_error",
	        "429 rate limit: quota per minute", -1, NULL, 10, 30000));
	/* a duplicate finish with another cost changes nothing */
	inject(&f, "exec.finished",
	    finished_agent(RUN_A1, "T-1", "succeeded", NULL, NULL, 99.0,
	        "reported", 1, 0));
	assert_int_equal(
	    tb_wait_int(f.topo, "recorder", "written", 4, WAIT), 4);
	assert_int_equal(
	    tb_status_int(f.topo, "recorder", "executions_quota"), 1);
	assert_int_equal(
	    tb_status_int(f.topo, "recorder", "executions_cost_reported"), 2);

	data = spend_report(&f, 1);
	assert_int_equal(num(data, "total_executions"), 4);
	assert_true(fabs(num(data, "total_estimated_usd") - 1.0321) < 1e-9);
	assert_true(fabs(num(data, "total_reported_usd") - 0.5321) < 1e-9);
	assert_int_equal(num(data, "estimated_only_executions"), 2);
	assert_int_equal(num(data, "total_input_tokens"), 1200 + 800 + 10);
	assert_int_equal(num(data, "total_output_tokens"), 900);
	assert_int_equal(num(data, "total_cache_read_tokens"), 15000);
	assert_int_equal(num(data, "total_cache_creation_tokens"), 300);
	assert_int_equal(num(data, "per_repo.demo.executions"), 4);
	assert_true(
	    fabs(num(data, "per_repo.demo.estimated_usd") - 1.0321) < 1e-9);
	assert_true(
	    fabs(num(data, "per_repo.demo.reported_usd") - 0.5321) < 1e-9);
	assert_int_equal(num(data, "per_repo.demo.estimated_only"), 2);
	json_decref(data);

	memset(&qs, 0, sizeof(qs));
	qs.run_id = RUN_A1;
	assert_int_equal(ctl_call(f.url, MSG_RECORDER_RUN_SHOW, &qs, &data,
	                     err, sizeof(err), WAIT),
	    0);
	a = json_object_get(data, "agent");
	u = json_object_get(data, "usage");
	assert_string_equal(js(a, "cli"), "claude_cli");
	assert_string_equal(js(a, "session_id"), "sess-42");
	assert_int_equal(
	    json_array_size(json_object_get(a, "permission_denials")), 2);
	assert_true(num(u, "cost_usd") == 0.4321);
	assert_true(num(u, "estimated_usd") == 0.25);
	assert_string_equal(js(u, "cost_source"), "reported");
	assert_string_equal(js(u, "session_id"), "sess-42");
	assert_int_equal(num(u, "turns"), 7);
	assert_int_equal(num(u, "input_tokens"), 1200);
	assert_string_equal(js(u, "event"), "execution_outcome");
	json_decref(data);
	qs.run_id = RUN_A3;
	assert_int_equal(ctl_call(f.url, MSG_RECORDER_RUN_SHOW, &qs, &data,
	                     err, sizeof(err), WAIT),
	    0);
	u = json_object_get(data, "usage");
	assert_string_equal(js(u, "event"), "quota_event");
	assert_string_equal(js(u, "cost_source"), "computed");
	json_decref(data);
	qs.run_id = RUN_A2; /* no agent: null, and only the estimate */
	assert_int_equal(ctl_call(f.url, MSG_RECORDER_RUN_SHOW, &qs, &data,
	                     err, sizeof(err), WAIT),
	    0);
	assert_true(json_is_null(json_object_get(data, "agent")));
	u = json_object_get(data, "usage");
	assert_true(json_is_null(json_object_get(u, "cost_usd")));
	assert_true(num(u, "estimated_usd") == 0.25);
	json_decref(data);

	ev  = xasprintf("%s/state/evidence/%s", f.dir, RUN_A1);
	rec = read_json(ev, "execution_record.json");
	a   = json_object_get(rec, "agent");
	assert_true(num(a, "cost_usd") == 0.4321);
	assert_string_equal(
	    js(a, "message"), "Done: the change is in src/a.c");
	json_decref(rec);
	free(ev);
	ev  = xasprintf("%s/state/evidence/%s", f.dir, RUN_A2);
	rec = read_json(ev, "execution_record.json");
	assert_true(json_is_null(json_object_get(rec, "agent")));
	json_decref(rec);
	free(ev);
	fx_stop(&f);
}

/* A recorder db of the first release (usage_exec without the cost
 * columns, runs without superseded) gains them at start; its rows stay
 * and count as estimates. */
static void
test_usage_migration(void **state)
{
	struct fx     f;
	struct store *st = NULL;
	char         *path, *sql;
	json_t       *data;
	int64_t       n = 0, now = now_ms();

	UNUSED(state);
	fx_init(&f, "mig");
	(void) mkdir(f.topo->state_dir, 0700);
	path = xasprintf("%s/recorder.db", f.topo->state_dir);
	assert_int_equal(store_open(&st, path), 0);
	sql = xasprintf(
	    "CREATE TABLE usage_exec ("
	    " run_id TEXT PRIMARY KEY, task_id TEXT, repo_key TEXT,"
	    " lane TEXT, backend TEXT, dispatched_ms INTEGER NOT NULL,"
	    " estimated_usd REAL NOT NULL DEFAULT 0, finished INTEGER NOT NULL"
	    " DEFAULT 0, status TEXT, success INTEGER, failure_category TEXT,"
	    " quota INTEGER NOT NULL DEFAULT 0, duration_ms INTEGER,"
	    " finished_ms INTEGER);"
	    "INSERT INTO usage_exec(run_id, task_id, repo_key, dispatched_ms,"
	    " estimated_usd, finished, status, success) VALUES"
	    " ('old-1', 'T-0', 'demo', %lld, 0.5, 1, 'succeeded', 1),"
	    " ('old-2', 'T-0', 'legacy', %lld, 0.5, 1, 'failed', 0);"
	    /* runs before superseded runs were told apart */
	    "CREATE TABLE runs ("
	    " run_id TEXT PRIMARY KEY, task_id TEXT, decision_id TEXT,"
	    " executor TEXT, attempt INTEGER, lane TEXT, backend TEXT,"
	    " repo_key TEXT, workspace TEXT, policy_status TEXT,"
	    " request TEXT, result TEXT,"
	    " status TEXT NOT NULL DEFAULT 'decided', success INTEGER,"
	    " failure_category TEXT, blocked INTEGER NOT NULL DEFAULT 0,"
	    " complete INTEGER NOT NULL DEFAULT 0,"
	    " created_ms INTEGER NOT NULL, dispatched_ms INTEGER,"
	    " started_ms INTEGER, completed_ms INTEGER,"
	    " started_at TEXT, completed_at TEXT,"
	    " record_id TEXT NOT NULL, trace_id TEXT NOT NULL,"
	    " written INTEGER NOT NULL DEFAULT 0, path TEXT, files TEXT,"
	    " written_ms INTEGER, metadata TEXT, trace TEXT,"
	    " write_attempts INTEGER NOT NULL DEFAULT 0,"
	    " retry_ms INTEGER NOT NULL DEFAULT 0);"
	    "INSERT INTO runs(run_id, task_id, status, success, complete,"
	    " created_ms, record_id, trace_id, written) VALUES"
	    " ('old-1', 'T-0', 'succeeded', 1, 1, 1, 'r', 't', 1);",
	    (long long) (now - 3600 * 1000),
	    (long long) (now - 3 * 86400 * 1000LL));
	assert_int_equal(store_exec(st, sql), 0);
	store_close(&st);
	free(sql);

	fx_run(&f);
	run_flow(&f, RUN_A1,
	    finished_agent(RUN_A1, "T-1", "succeeded", NULL, NULL, 1.25,
	        "reported", 10, 0));
	data = spend_report(&f, 1);
	assert_int_equal(num(data, "total_executions"), 2);
	assert_true(fabs(num(data, "total_estimated_usd") - 1.75) < 1e-9);
	assert_true(fabs(num(data, "total_reported_usd") - 1.25) < 1e-9);
	assert_int_equal(num(data, "estimated_only_executions"), 1);
	json_decref(data);
	data = spend_report(&f, 7);
	assert_int_equal(num(data, "total_executions"), 3);
	assert_true(
	    fabs(num(data, "per_repo.legacy.estimated_usd") - 0.5) < 1e-9);
	json_decref(data);
	tb_stop(&f.rec);

	/* every row kept, every column there */
	assert_int_equal(store_open(&st, path), 0);
	assert_int_equal(
	    store_int(st, &n, 0, "SELECT count(*) FROM usage_exec", NULL), 0);
	assert_int_equal(n, 3);
	assert_int_equal(store_int(st, &n, 0,
	                     "SELECT count(*) FROM"
	                     " pragma_table_info('usage_exec')",
	                     NULL),
	    0);
	assert_int_equal(n, 27); /* superseded and quality_note too */
	assert_int_equal(store_int(st, &n, 0,
	                     "SELECT count(*) FROM pragma_table_info("
	                     "'runs') WHERE name IN ('superseded',"
	                     " 'superseded_by')",
	                     NULL),
	    0);
	assert_int_equal(n, 2);
	assert_int_equal(store_int(st, &n, 0,
	                     "SELECT count(*) FROM runs WHERE"
	                     " run_id = 'old-1' AND superseded = 0",
	                     NULL),
	    0);
	assert_int_equal(n, 1);
	assert_int_equal(store_int(st, &n, 0,
	                     "SELECT input_tokens FROM usage_exec"
	                     " WHERE run_id = ?",
	                     "t", RUN_A1),
	    0);
	assert_int_equal(n, 10);
	store_close(&st);
	free(path);
	/* started again on the migrated db: nothing to add, nothing lost */
	fx_run(&f);
	assert_int_equal(tb_status_int(f.topo, "recorder", "executions"), 3);
	fx_stop(&f);
}

/* The builders alone: inferred files and a failed validation. */
static void
test_builders(void **state)
{
	struct ev_run e;
	json_t       *result, *rec, *tr, *w;

	UNUSED(state);
	memset(&e, 0, sizeof(e));
	e.run_id    = "0123456789";
	e.lane      = "codex_cli";
	e.backend   = "direct_local";
	e.record_id = "rec";
	e.trace_id  = "tr";
	e.now       = "2026-01-01T00:00:00.000Z";
	e.executed  = true;
	result      = json_pack("{s:s, s:b, s:s, s:[{s:s}, {s:s}],"
	                             " s:s, s:{s:s, s:i, s:i, s:i, s:s}}",
	         "status", "failed", "success", 0, "failure_category",
	         "validation_failure", "changed_files", "path", "a", "path", "b",
	         "changed_files_source", "event_stream", "validation", "status",
	         "failed", "commands_run", 2, "commands_passed", 1,
	         "commands_failed", 1, "failure_excerpt", "FAIL test_x");
	e.result    = result;
	rec         = ev_record(&e, result);
	tr          = ev_trace(&e, rec);
	assert_string_equal(
	    js(json_object_get(rec, "changed_files_evidence"), "status"),
	    "inferred");
	assert_string_equal(
	    js(json_object_get(rec, "validation_evidence"), "summary"),
	    "FAIL test_x");
	assert_string_equal(js(tr, "headline"),
	    "FAILED | direct_local @ codex_cli | run=01234567");
	assert_string_equal(js(tr, "summary"),
	    "Run 01234567; changed 2 files; failed: validation_failure");
	w = json_object_get(tr, "warnings");
	assert_int_equal(json_array_size(w), 2);
	assert_non_null(
	    strstr(json_string_value(json_array_get(w, 0)), "inferred"));
	assert_string_equal(json_string_value(json_array_get(w, 1)),
	    "no primary artifacts produced by this run");
	assert_true(ev_blocking("require_review"));
	assert_false(ev_blocking("allow_with_warnings"));
	assert_false(id_valid("../x"));
	assert_false(id_valid(".hidden"));
	assert_true(id_valid(RUN_OK));
	assert_string_equal(ev_copy_name("patch"), "diff.patch");
	assert_null(ev_copy_name("workspace"));
	json_decref(tr);
	json_decref(rec);
	json_decref(result);
}

#define RUN_S1 "5a000000-0000-4000-8000-000000000051"
#define RUN_S2 "5b000000-0000-4000-8000-000000000052"
#define RUN_S3 "5c000000-0000-4000-8000-000000000053"
#define RUN_S4 "5d000000-0000-4000-8000-000000000054"

static json_t *
superseded(const char *run, const char *task, const char *by)
{
	return (json_pack("{s:s, s:s, s:s, s:s, s:s}", "run_id", run,
	    "task_id", task, "executor", "executor", "by_run_id", by, "reason",
	    "lease_expired"));
}

/* successes counts the successful runs of task in runs list. */
static int
successes(struct fx *f, const char *task, json_t **runs_out)
{
	struct msg_recorder_runs_list q;
	json_t                       *data = NULL, *r;
	char                          err[256];
	size_t                        i;
	int                           n = 0;

	memset(&q, 0, sizeof(q));
	q.task_id = (char *) task;
	if (ctl_call(f->url, MSG_RECORDER_RUNS_LIST, &q, &data, err,
	        sizeof(err), WAIT) != 0)
		fail_msg("runs: %s", err);
	json_array_foreach (json_object_get(data, "runs"), i, r) {
		if (json_is_true(json_object_get(r, "success")))
			n++;
	}
	*runs_out = json_incref(json_object_get(data, "runs"));
	json_decref(data);
	return (n);
}

static const json_t *
run_in(const json_t *runs, const char *run)
{
	const json_t *r;
	size_t        i;

	json_array_foreach (runs, i, r) {
		if (strcmp(js(r, "run_id"), run) == 0)
			return (r);
	}
	fail_msg("run %s not listed", run);
	return (NULL);
}

/* A run the router took back (exec.superseded) never counts as a
 * success, in whatever order its result and the router's word arrive: a
 * success recorded (and written) first is made superseded and its
 * evidence written again; one that comes after is recorded superseded
 * at once.  One success per task; spend and status counts leave
 * superseded runs out, and a second copy of the event changes nothing. */
static void
test_superseded(void **state)
{
	struct fx f;
	json_t   *runs, *res, *sp;
	char     *ev;

	UNUSED(state);
	fx_start(&f, "sup");
	/* (1) the cut-off run's success arrives before the router's word */
	run_flow(&f, RUN_S1, finished_nochange(RUN_S1, "T-1"));
	assert_int_equal(
	    tb_wait_int(f.topo, "recorder", "written", 1, WAIT), 1);
	inject(&f, "exec.superseded", superseded(RUN_S1, "T-1", RUN_S2));
	inject(&f, "route.decided", decided(RUN_S2, "T-1", "allow", ""));
	inject(&f, "exec.dispatch", dispatch(RUN_S2, "T-1"));
	inject(&f, "exec.started", started(RUN_S2, "T-1"));
	inject(&f, "exec.finished", finished_nochange(RUN_S2, "T-1"));
	/* S1 written again (superseded), S2 written */
	assert_int_equal(
	    tb_wait_int(f.topo, "recorder", "counters.written", 3, WAIT), 3);
	assert_int_equal(successes(&f, "T-1", &runs), 1);
	assert_string_equal(js(run_in(runs, RUN_S1), "status"), "superseded");
	assert_string_equal(js(run_in(runs, RUN_S1), "superseded_by"), RUN_S2);
	assert_string_equal(
	    js(run_in(runs, RUN_S1), "failure_category"), "superseded");
	assert_true(
	    json_is_true(json_object_get(run_in(runs, RUN_S2), "success")));
	assert_null(json_object_get(run_in(runs, RUN_S2), "superseded_by"));
	json_decref(runs);
	ev  = xasprintf("%s/state/evidence/%s", f.dir, RUN_S1);
	res = read_json(ev, "result.json");
	assert_string_equal(js(res, "status"), "superseded");
	assert_true(json_is_false(json_object_get(res, "success")));
	assert_string_equal(js(res, "superseded_status"), "succeeded");
	json_decref(res);
	res = read_json(ev, "run_metadata.json");
	assert_string_equal(js(res, "status"), "superseded");
	assert_true(json_is_false(json_object_get(res, "success")));
	json_decref(res);
	free(ev);

	/* (2) the router's word first, then a late exec.started and the
	 * success: superseded at once */
	inject(&f, "route.decided", decided(RUN_S3, "T-2", "allow", ""));
	inject(&f, "exec.dispatch", dispatch(RUN_S3, "T-2"));
	inject(&f, "exec.superseded", superseded(RUN_S3, "T-2", RUN_S4));
	inject(&f, "exec.started", started(RUN_S3, "T-2"));
	assert_int_equal(successes(&f, "T-2", &runs), 0);
	assert_string_equal(js(run_in(runs, RUN_S3), "status"), "superseded");
	json_decref(runs);
	assert_int_equal(tb_status_int(f.topo, "recorder", "in_flight"), 0);
	inject(&f, "exec.finished", finished_nochange(RUN_S3, "T-2"));
	inject(&f, "exec.superseded", superseded(RUN_S3, "T-2", RUN_S4));
	inject(&f, "route.decided", decided(RUN_S4, "T-2", "allow", ""));
	inject(&f, "exec.dispatch", dispatch(RUN_S4, "T-2"));
	inject(&f, "exec.finished", finished_nochange(RUN_S4, "T-2"));
	assert_int_equal(
	    tb_wait_int(f.topo, "recorder", "counters.written", 5, WAIT), 5);
	assert_int_equal(successes(&f, "T-2", &runs), 1);
	assert_string_equal(js(run_in(runs, RUN_S3), "status"), "superseded");
	assert_true(
	    json_is_false(json_object_get(run_in(runs, RUN_S3), "success")));
	json_decref(runs);

	/* counts: two executions, two superseded apart */
	assert_int_equal(tb_status_int(f.topo, "recorder", "superseded"), 2);
	assert_int_equal(tb_status_int(f.topo, "recorder", "executions"), 2);
	assert_int_equal(
	    tb_status_int(f.topo, "recorder", "executions_superseded"), 2);
	assert_int_equal(
	    tb_status_int(f.topo, "recorder", "executions_failed"), 0);
	sp = spend_report(&f, 1);
	assert_int_equal(num(sp, "total_executions"), 2);
	assert_true(num(sp, "total_estimated_usd") == 0.5);
	assert_int_equal(num(sp, "per_repo.demo.executions"), 2);
	assert_int_equal(num(sp, "superseded_executions"), 2);
	json_decref(sp);
	fx_stop(&f);
}

/* usage: the recorder.usage ctl (opc usage) */
static json_t *
usage(struct fx *f, const char *kind, const char *repo, int64_t since)
{
	struct msg_recorder_usage q;
	json_t                   *data = NULL;
	char                      err[256];

	memset(&q, 0, sizeof(q));
	q.kind     = (char *) kind;
	q.repo_key = (char *) repo;
	q.since_ms = since;
	if (ctl_call(f->url, MSG_RECORDER_USAGE, &q, &data, err, sizeof(err),
	        WAIT) != 0)
		fail_msg("usage: %s", err);
	return (data);
}

#define RUN_U1 "b1000000-0000-4000-8000-00000000000a"
#define RUN_U2 "b2000000-0000-4000-8000-00000000000b"
#define RUN_U3 "b3000000-0000-4000-8000-00000000000c"

/* The usage store read through recorder.usage: each kind with its own
 * fields (quota_event for a run out of quota, executor_quality_warning
 * only for a run whose result carried the [quality] note, its counts by
 * name; scope_violation with the paths), filtered by kind, repo and
 * time; an unknown kind is refused. */
static void
test_usage_query(void **state)
{
	static const char note[] =
	    "[quality] This run added 3 quality suppressions: {\"noqa\": 2, "
	    "\"pass\": 1}. Review before merging.";
	struct fx                 f;
	struct msg_recorder_usage q;
	json_t                   *d, *e, *fin, *dis;
	char                      err[256];

	UNUSED(state);
	fx_start(&f, "uq");
	run_flow(&f, RUN_U1,
	    finished_agent(RUN_U1, "T-1", "failed", "quota_exhausted",
	        "credit balance is too low", 0.1, "computed", 800, 0));
	/* the note at the threshold, and a run below it (counts, no note) */
	fin = finished_ok(
	    RUN_U2, "T-1", "/nope", "/nope", "/nope", "/nope", "/nope");
	json_object_set_new(
	    json_object_get(fin, "result"), "quality_note", json_string(note));
	run_flow(&f, RUN_U2, fin);
	/* another repo, a scope violation (secrets/x), no warnings */
	inject(&f, "route.decided", decided(RUN_U3, "T-3", "allow", ""));
	dis = dispatch(RUN_U3, "T-3");
	json_object_set_new(
	    json_object_get(dis, "request"), "repo_key", json_string("other"));
	inject(&f, "exec.dispatch", dis);
	inject(&f, "exec.finished", finished_nochange(RUN_U3, "T-3"));

	d = usage(&f, "quota_event", NULL, 0);
	assert_int_equal(json_array_size(json_object_get(d, "events")), 1);
	e = json_array_get(json_object_get(d, "events"), 0);
	assert_string_equal(js(e, "kind"), "quota_event");
	assert_string_equal(js(e, "run_id"), RUN_U1);
	assert_string_equal(js(e, "task_id"), "T-1");
	assert_string_equal(js(e, "repo_key"), "demo");
	assert_string_equal(js(e, "failure_category"), "quota_exhausted");
	assert_non_null(js(e, "timestamp"));
	json_decref(d);

	d = usage(&f, "executor_quality_warning", NULL, 0);
	assert_int_equal(json_array_size(json_object_get(d, "events")), 1);
	e = json_array_get(json_object_get(d, "events"), 0);
	assert_string_equal(js(e, "run_id"), RUN_U2);
	assert_int_equal(num(e, "suppression_counts.noqa"), 2);
	assert_int_equal(num(e, "suppression_counts.pass"), 1);
	assert_string_equal(js(e, "note"), note);
	json_decref(d);

	d = usage(&f, "scope_violation", NULL, 0);
	assert_int_equal(json_array_size(json_object_get(d, "events")), 1);
	e = json_array_get(json_object_get(d, "events"), 0);
	assert_string_equal(js(e, "run_id"), RUN_U3);
	assert_string_equal(js(e, "repo_key"), "other");
	assert_string_equal(json_string_value(json_array_get(
	                        json_object_get(e, "violated_files"), 0)),
	    "secrets/x");
	json_decref(d);

	/* outcomes: the quota run is not one of them */
	d = usage(&f, "execution_outcome", NULL, 0);
	assert_int_equal(json_array_size(json_object_get(d, "events")), 2);
	json_decref(d);
	/* by repo: every kind of "other" */
	d = usage(&f, NULL, "other", 0);
	assert_true(json_array_size(json_object_get(d, "events")) >= 2);
	for (size_t i = 0; i < json_array_size(json_object_get(d, "events"));
	     i++)
		assert_string_equal(
		    js(json_array_get(json_object_get(d, "events"), i),
		        "repo_key"),
		    "other");
	json_decref(d);
	/* all: 3 executions, 2 outcomes, 1 quota, 1 warning, 1 scope */
	d = usage(&f, NULL, NULL, 0);
	assert_int_equal(json_array_size(json_object_get(d, "events")), 8);
	json_decref(d);
	/* since: nothing is in the future */
	d = usage(&f, NULL, NULL, now_ms() + 3600000);
	assert_int_equal(json_array_size(json_object_get(d, "events")), 0);
	json_decref(d);

	memset(&q, 0, sizeof(q));
	q.kind = "kodo_quality_warning";
	assert_int_equal(ctl_call(f.url, MSG_RECORDER_USAGE, &q, &d, err,
	                     sizeof(err), WAIT),
	    ERR_INVAL);
	assert_non_null(strstr(err, "unknown kind"));
	assert_int_equal(
	    tb_status_int(f.topo, "recorder", "counters.usage_bad_kind"), 1);
	fx_stop(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builders),
		cmocka_unit_test(test_succeeded_run),
		cmocka_unit_test(test_blocked_run),
		cmocka_unit_test(test_result_summary),
		cmocka_unit_test(test_ctl_queries),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_bad_run_id_rejected),
		cmocka_unit_test(test_usage_agent),
		cmocka_unit_test(test_usage_query),
		cmocka_unit_test(test_usage_migration),
		cmocka_unit_test(test_superseded),
	};

	log_init("test_recorder", NULL, LOG_WARN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
