/*
 * evidence.c - a run's evidence: the documents and the folder.
 *
 * The builders (ev_blocked_result, ev_record, ev_trace, ev_metadata) are
 * pure functions of their JSON inputs and the ids/time given in struct
 * ev_run: no db, no clock, no files, so they are unit-testable and a
 * rewrite of the same run produces the same documents (but for times).
 * They follow the original's ExecutionRecord, ExecutionTrace and
 * run_metadata.json (reference/original-inventory.md section 2).
 *
 * ev_write_folder is the only writer: everything goes into <run_id>.tmp,
 * which is renamed into place when complete.  An older folder of the same
 * run is moved aside to <run_id>.old first and removed afterwards, so at
 * every instant <run_id>/ is either absent, the old folder or the new one.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "opc/err.h"
#include "opc/jsonx.h"
#include "opc/log.h"
#include "opc/util.h"
#include "recorder.h"

#define DUMP_FLAGS (JSON_INDENT(2) | JSON_REAL_PRECISION(15))

/* copy_or_null returns a new reference to o[key] or null. */
static json_t *
copy_or_null(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return (v != NULL ? json_deep_copy(v) : json_null());
}

static bool
streq(const char *a, const char *b)
{
	return (a != NULL && b != NULL && strcmp(a, b) == 0);
}

bool
ev_blocking(const char *policy_status)
{
	return (streq(policy_status, "block") ||
	    streq(policy_status, "require_review"));
}

static const char *
proposal_id(const struct ev_run *r)
{
	const char *s = jsonx_str(r->decision, "proposal_id");

	if (s == NULL)
		s = jsonx_str(r->proposal, "proposal_id");
	if (s == NULL)
		s = jsonx_str(r->request, "proposal_id");
	return (s);
}

static const char *
decision_id(const struct ev_run *r)
{
	const char *s = jsonx_str(r->decision, "decision_id");

	if (s == NULL)
		s = jsonx_str(r->policy, "decision_id");
	if (s == NULL)
		s = jsonx_str(r->request, "decision_id");
	return (s);
}

/* blocked_reason: the policy notes, else its violation messages. */
static char *
blocked_reason(const struct ev_run *r)
{
	const char *notes = jsonx_str(r->policy, "notes");
	const char *st    = r->policy_status ? r->policy_status : "block";
	json_t     *v;
	struct buf  b;
	size_t      i;

	if (notes != NULL && *notes != '\0')
		return (xasprintf("policy %s: %s", st, notes));
	buf_init(&b);
	buf_printf(&b, "policy %s", st);
	json_array_foreach (json_object_get(r->policy, "violations"), i, v) {
		const char *msg = jsonx_str(v, "message");

		if (msg != NULL)
			buf_printf(&b, "%s%s", i == 0 ? ": " : "; ", msg);
	}
	return (xstrdup(buf_cstr(&b)));
}

json_t *
ev_blocked_result(const struct ev_run *r)
{
	char   *reason = blocked_reason(r);
	json_t *res;

	res = json_object();
	json_object_set_new(res, "run_id", json_string(r->run_id));
	json_object_set_new(res, "task_id", jsonx_str_or_null(r->task_id));
	json_object_set_new(
	    res, "proposal_id", jsonx_str_or_null(proposal_id(r)));
	json_object_set_new(
	    res, "decision_id", jsonx_str_or_null(decision_id(r)));
	json_object_set_new(res, "status", json_string("skipped"));
	json_object_set_new(res, "success", json_false());
	json_object_set_new(res, "changed_files", json_array());
	json_object_set_new(res, "changed_files_source", json_null());
	json_object_set_new(res, "diff_stat_excerpt", json_null());
	json_object_set_new(res, "validation",
	    json_pack("{s:s, s:i, s:i, s:i, s:n, s:n}", "status", "skipped",
	        "commands_run", 0, "commands_passed", 0, "commands_failed", 0,
	        "failure_excerpt", "duration_ms"));
	json_object_set_new(res, "branch_pushed", json_false());
	json_object_set_new(res, "branch_name", json_null());
	json_object_set_new(res, "pull_request_url", json_null());
	json_object_set_new(
	    res, "failure_category", json_string("policy_blocked"));
	json_object_set_new(res, "failure_reason", json_string(reason));
	json_object_set_new(res, "artifacts", json_array());
	json_object_set_new(res, "completed_at", jsonx_str_or_null(r->now));
	free(reason);
	return (res);
}

static bool
is_primary(const char *type)
{
	return (streq(type, "diff") || streq(type, "patch") ||
	    streq(type, "validation_report"));
}

static json_t *
artifact_index(const json_t *result)
{
	json_t     *prim = json_array(), *supp = json_array();
	json_t     *counts = json_object(), *present = json_array(), *a;
	const char *type, *k;
	json_t     *v;
	size_t      i;

	json_array_foreach (json_object_get(result, "artifacts"), i, a) {
		type = jsonx_str(a, "artifact_type");
		if (type == NULL)
			type = "unknown";
		json_array_append_new(
		    is_primary(type) ? prim : supp, json_deep_copy(a));
		json_object_set_new(counts, type,
		    json_integer(
		        json_integer_value(json_object_get(counts, type)) +
		        1));
	}
	/* Sorted, like the original's sorted(set(...)). */
	json_object_foreach (counts, k, v) {
		size_t j, n = json_array_size(present);

		UNUSED(v);
		for (j = 0; j < n; j++)
			if (strcmp(k,
			        json_string_value(
			            json_array_get(present, j))) < 0)
				break;
		json_array_insert_new(present, j, json_string(k));
	}
	return (json_pack("{s:o, s:o, s:o, s:o}", "primary_artifacts", prim,
	    "supplemental_artifacts", supp, "artifact_counts", counts,
	    "artifact_types_present", present));
}

/* changed_files_evidence follows observability/changed_files.py. */
static json_t *
changed_files_evidence(const json_t *result)
{
	const char *cat   = jsonx_str(result, "failure_category");
	const char *src   = jsonx_str(result, "changed_files_source");
	json_t     *files = json_object_get(result, "changed_files");
	json_t *conf_j = json_object_get(result, "changed_files_confidence");
	size_t  n      = json_array_size(files);
	const char *status, *source = src;
	double      conf;

	if (streq(cat, "policy_blocked") ||
	    streq(cat, "unsupported_request")) {
		status = "not_applicable";
		source = cat;
		conf   = 1.0;
	} else if (streq(cat, "no_changes")) {
		status = "none";
		conf   = 1.0;
	} else if (streq(src, "git_diff") || streq(src, "backend_manifest")) {
		status = n > 0 ? "known" : "none";
		conf =
		    json_is_number(conf_j) ? json_number_value(conf_j) : 1.0;
	} else if (streq(src, "backend_confirmed_empty")) {
		status = "none";
		conf   = 1.0;
	} else if (streq(src, "event_stream") && n > 0) {
		status = "inferred";
		conf   = 0.5;
	} else {
		status = "unknown";
		conf   = 0.0;
	}
	return (json_pack("{s:s, s:o, s:o, s:f}", "status", status, "files",
	    json_is_array(files) ? json_deep_copy(files) : json_array(),
	    "source", jsonx_str_or_null(source ? source : "unknown"),
	    "confidence", conf));
}

static json_t *
validation_evidence(const json_t *result)
{
	const json_t *v       = json_object_get(result, "validation");
	const char   *status  = jsonx_str(v, "status");
	const char   *excerpt = jsonx_str(v, "failure_excerpt");
	json_int_t    run =
	    json_integer_value(json_object_get(v, "commands_run"));
	json_int_t ok =
	    json_integer_value(json_object_get(v, "commands_passed"));
	json_int_t bad =
	    json_integer_value(json_object_get(v, "commands_failed"));
	json_t *refs = json_array(), *a, *summary;
	size_t  i;

	if (status == NULL)
		status = "skipped"; /* the original's default */
	if (strcmp(status, "skipped") == 0)
		summary = json_string("validation skipped");
	else if (excerpt != NULL && *excerpt != '\0' &&
	    strcmp(status, "passed") != 0)
		summary = json_stringn(
		    excerpt, strlen(excerpt) > 500 ? 500 : strlen(excerpt));
	else
		summary = json_sprintf("%lld/%lld checks passed",
		    (long long) ok, (long long) run);
	if (summary == NULL) /* an excerpt cut inside a UTF-8 sequence */
		summary = json_string("validation failed");
	json_array_foreach (json_object_get(result, "artifacts"), i, a)
		if (streq(
		        jsonx_str(a, "artifact_type"), "validation_report") &&
		    jsonx_str(a, "artifact_id") != NULL)
			json_array_append_new(
			    refs, json_string(jsonx_str(a, "artifact_id")));
	return (json_pack("{s:s, s:I, s:I, s:I, s:o, s:o}", "status", status,
	    "checks_run", run, "checks_passed", ok, "checks_failed", bad,
	    "summary", summary, "artifact_refs", refs));
}

static json_t *
detail_ref(const char *id, const char *type, const char *path, bool need)
{
	return (json_pack("{s:s, s:s, s:s, s:b}", "ref_id", id, "detail_type",
	    type, "path", path, "is_required_for_debug", need));
}

static json_t *
routing(const struct ev_run *r)
{
	const json_t *d       = r->decision;
	const char   *lane    = jsonx_str(d, "selected_lane");
	const char   *backend = jsonx_str(d, "selected_backend");

	return (json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	    "decision_id", jsonx_str_or_null(decision_id(r)), "selected_lane",
	    jsonx_str_or_null(lane ? lane : r->lane), "selected_backend",
	    jsonx_str_or_null(backend ? backend : r->backend),
	    "policy_rule_matched", copy_or_null(d, "policy_rule_matched"),
	    "rationale", copy_or_null(d, "rationale"), "switchboard_version",
	    copy_or_null(d, "switchboard_version"), "confidence",
	    copy_or_null(d, "confidence"), "alternatives_considered",
	    json_object_get(d, "alternatives_considered")
	        ? json_deep_copy(json_object_get(d, "alternatives_considered"))
	        : json_array()));
}

json_t *
ev_record(const struct ev_run *r, const json_t *result)
{
	json_t     *rec, *refs, *notes, *meta;
	const char *reason   = jsonx_str(result, "failure_reason");
	const char *question = jsonx_str(result, "question");
	const char *pnotes   = jsonx_str(r->policy, "notes");
	bool        failed = !json_is_true(json_object_get(result, "success"));

	refs = json_array();
	if (r->stdout_path != NULL)
		json_array_append_new(refs,
		    detail_ref("backend_stdout", "stdout_log", r->stdout_path,
		        failed));
	if (r->stderr_path != NULL)
		json_array_append_new(refs,
		    detail_ref("backend_stderr", "stderr_log", r->stderr_path,
		        failed));
	notes = json_array();
	if (failed && reason != NULL && *reason != '\0')
		json_array_append_new(
		    notes, json_sprintf("failure: %s", reason));
	if (question != NULL && *question != '\0')
		json_array_append_new(
		    notes, json_sprintf("question: %s", question));
	if (pnotes != NULL && *pnotes != '\0')
		json_array_append_new(
		    notes, json_sprintf("policy: %s", pnotes));
	meta = json_object();
	json_object_set_new(meta, "policy",
	    r->policy ? json_deep_copy(r->policy) : json_null());
	json_object_set_new(
	    meta, "policy_status", jsonx_str_or_null(r->policy_status));
	json_object_set_new(meta, "task_id", jsonx_str_or_null(r->task_id));
	json_object_set_new(
	    meta, "task_type", copy_or_null(r->proposal, "task_type"));
	json_object_set_new(
	    meta, "risk_level", copy_or_null(r->proposal, "risk_level"));
	json_object_set_new(meta, "routing", routing(r));
	json_object_set_new(
	    meta, "duration_ms", copy_or_null(result, "duration_ms"));
	json_object_set_new(meta, "executed", json_boolean(r->executed));

	rec = json_object();
	json_object_set_new(rec, "record_id", json_string(r->record_id));
	json_object_set_new(rec, "run_id", json_string(r->run_id));
	json_object_set_new(
	    rec, "proposal_id", jsonx_str_or_null(proposal_id(r)));
	json_object_set_new(
	    rec, "decision_id", jsonx_str_or_null(decision_id(r)));
	json_object_set_new(rec, "result", json_deep_copy(result));
	/* what the agent CLI reported (cost, tokens, session, denials), null
	 * for a backend without a parser */
	json_object_set_new(rec, "agent", copy_or_null(result, "agent"));
	json_object_set_new(rec, "recorded_at", jsonx_str_or_null(r->now));
	json_object_set_new(rec, "backend", jsonx_str_or_null(r->backend));
	json_object_set_new(rec, "lane", jsonx_str_or_null(r->lane));
	json_object_set_new(rec, "artifact_index", artifact_index(result));
	json_object_set_new(
	    rec, "changed_files_evidence", changed_files_evidence(result));
	json_object_set_new(
	    rec, "validation_evidence", validation_evidence(result));
	json_object_set_new(rec, "backend_detail_refs", refs);
	json_object_set_new(rec, "notes", notes);
	json_object_set_new(rec, "metadata", meta);
	return (rec);
}

/* last_line returns the last non-blank line of s, trimmed (new string). */
static char *
last_line(const char *s)
{
	const char *end = s + strlen(s), *start;

	while (end > s &&
	    (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' ||
	        end[-1] == '\t'))
		end--;
	start = end;
	while (start > s && start[-1] != '\n')
		start--;
	while (start < end && (*start == ' ' || *start == '\t'))
		start++;
	return (xstrndup(start, (size_t) (end - start)));
}

static json_t *
summary(const struct ev_run *r, const json_t *result, const json_t *cfe)
{
	const char *diffstat = jsonx_str(result, "diff_stat_excerpt");
	const char *cat      = jsonx_str(result, "failure_category");
	const char *cstatus  = jsonx_str(cfe, "status");
	size_t      n        = json_array_size(json_object_get(cfe, "files"));
	struct buf  b;
	char       *line;
	json_t     *s;

	buf_init(&b);
	buf_printf(&b, "Run %.8s", r->run_id);
	if (streq(cat, "policy_blocked"))
		buf_printf(&b, "; blocked by policy (%s)",
		    r->policy_status ? r->policy_status : "block");
	else if (n > 0)
		buf_printf(&b, "; changed %zu file%s", n, n == 1 ? "" : "s");
	else if (streq(cstatus, "none"))
		buf_puts(&b, "; no file changes");
	if (diffstat != NULL) {
		line = last_line(diffstat);
		if (*line != '\0')
			buf_printf(&b, "; %s", line);
		free(line);
	}
	if (!json_is_true(json_object_get(result, "success")) && cat != NULL &&
	    !streq(cat, "policy_blocked"))
		buf_printf(&b, "; failed: %s", cat);
	s = json_string(buf_cstr(&b));
	buf_fini(&b);
	return (s != NULL ? s : json_string("Run (summary not valid UTF-8)"));
}

static json_t *
changed_files_summary(const json_t *cfe)
{
	const char *status = jsonx_str(cfe, "status");
	const char *source = jsonx_str(cfe, "source");
	json_t     *files  = json_object_get(cfe, "files"), *f, *s;
	size_t      i, n = json_array_size(files);
	struct buf  b;

	if (streq(status, "none"))
		return (json_string("no files changed"));
	if (streq(status, "not_applicable"))
		return (json_sprintf(
		    "not applicable (%s)", source ? source : "-"));
	if (n == 0)
		return (json_string("changed files unknown"));
	buf_init(&b);
	buf_printf(&b, "%zu file%s %s via %s:", n, n == 1 ? "" : "s",
	    status ? status : "unknown", source ? source : "unknown");
	json_array_foreach (files, i, f) {
		const char *p = json_is_string(f) ? json_string_value(f)
		                                  : jsonx_str(f, "path");

		if (i == 5) {
			buf_printf(&b, " (+%zu more)", n - 5);
			break;
		}
		buf_printf(&b, "%s %s", i ? "," : "", p ? p : "?");
	}
	s = json_string(buf_cstr(&b));
	buf_fini(&b);
	return (
	    s != NULL ? s : json_string("changed files (names not UTF-8)"));
}

static json_t *
validation_summary(const json_t *ve)
{
	const char *status = jsonx_str(ve, "status");

	if (streq(status, "skipped"))
		return (json_string("validation skipped"));
	return (json_sprintf("validation %s: %lld/%lld checks passed",
	    status ? status : "unknown",
	    (long long) json_integer_value(
	        json_object_get(ve, "checks_passed")),
	    (long long) json_integer_value(
	        json_object_get(ve, "checks_run"))));
}

static json_t *
warnings(const json_t *cfe, const json_t *ve, const json_t *index)
{
	json_t     *w       = json_array();
	const char *cstatus = jsonx_str(cfe, "status");

	if (streq(cstatus, "inferred"))
		json_array_append_new(w,
		    json_sprintf("changed files were inferred from %s, not "
		                 "confirmed",
		        jsonx_str(cfe, "source") ? jsonx_str(cfe, "source")
		                                 : "?"));
	else if (streq(cstatus, "unknown"))
		json_array_append_new(
		    w, json_string("changed files of this run are unknown"));
	if (streq(jsonx_str(ve, "status"), "skipped"))
		json_array_append_new(
		    w, json_string("validation was skipped for this run"));
	if (json_array_size(json_object_get(index, "primary_artifacts")) == 0)
		json_array_append_new(w,
		    json_string("no primary artifacts produced by this run"));
	if (streq(cstatus, "none"))
		json_array_append_new(
		    w, json_string("run completed with no file changes"));
	return (w);
}

static json_t *
key_artifacts(const json_t *index)
{
	json_t *out = json_array(), *a;
	size_t  i;

	json_array_foreach (json_object_get(index, "primary_artifacts"), i, a)
		json_array_append_new(out,
		    json_pack("{s:o, s:o, s:o, s:o}", "artifact_id",
		        copy_or_null(a, "artifact_id"), "artifact_type",
		        copy_or_null(a, "artifact_type"), "label",
		        copy_or_null(a, "label"), "uri",
		        copy_or_null(a, "uri")));
	return (out);
}

json_t *
ev_trace(const struct ev_run *r, const json_t *record)
{
	const json_t *result = json_object_get(record, "result");
	const json_t *cfe = json_object_get(record, "changed_files_evidence");
	const json_t *ve  = json_object_get(record, "validation_evidence");
	const json_t *index  = json_object_get(record, "artifact_index");
	const char   *status = jsonx_str(result, "status");
	char          up[64];
	size_t        i;
	json_t       *t;

	if (status == NULL)
		status = "unknown";
	for (i = 0; status[i] != '\0' && i < sizeof(up) - 1; i++)
		up[i] = (char) (status[i] >= 'a' && status[i] <= 'z'
		        ? status[i] - 'a' + 'A'
		        : status[i]);
	up[i] = '\0';
	t     = json_object();
	json_object_set_new(t, "trace_id", json_string(r->trace_id));
	json_object_set_new(t, "record_id", copy_or_null(record, "record_id"));
	json_object_set_new(t, "run_id", json_string(r->run_id));
	json_object_set_new(t, "headline",
	    json_sprintf("%s | %s @ %s | run=%.8s", up,
	        r->backend ? r->backend : "unknown",
	        r->lane ? r->lane : "unknown", r->run_id));
	json_object_set_new(t, "status", json_string(status));
	json_object_set_new(t, "summary", summary(r, result, cfe));
	json_object_set_new(t, "key_artifacts", key_artifacts(index));
	json_object_set_new(
	    t, "changed_files_summary", changed_files_summary(cfe));
	json_object_set_new(t, "validation_summary", validation_summary(ve));
	json_object_set_new(t, "warnings", warnings(cfe, ve, index));
	json_object_set_new(t, "backend_detail_refs",
	    copy_or_null(record, "backend_detail_refs"));
	json_object_set_new(t, "runtime_invocation_ref", json_null());
	json_object_set_new(t, "routing",
	    copy_or_null(json_object_get(record, "metadata"), "routing"));
	json_object_set_new(t, "provenance", json_object());
	json_object_set_new(t, "generated_at", jsonx_str_or_null(r->now));
	return (t);
}

json_t *
ev_metadata(const struct ev_run *r, const json_t *result)
{
	const json_t *cat = json_object_get(result, "failure_category");
	json_t       *m   = json_object();

	json_object_set_new(m, "run_id", json_string(r->run_id));
	json_object_set_new(m, "task_id", jsonx_str_or_null(r->task_id));
	json_object_set_new(
	    m, "proposal_id", jsonx_str_or_null(proposal_id(r)));
	json_object_set_new(
	    m, "decision_id", jsonx_str_or_null(decision_id(r)));
	json_object_set_new(m, "selected_lane", jsonx_str_or_null(r->lane));
	json_object_set_new(
	    m, "selected_backend", jsonx_str_or_null(r->backend));
	json_object_set_new(
	    m, "policy_status", jsonx_str_or_null(r->policy_status));
	json_object_set_new(m, "status", copy_or_null(result, "status"));
	json_object_set_new(m, "success",
	    json_boolean(json_is_true(json_object_get(result, "success"))));
	json_object_set_new(m, "executed", json_boolean(r->executed));
	json_object_set_new(m, "written_at", jsonx_str_or_null(r->now));
	json_object_set_new(m, "failure_category",
	    json_is_string(cat) ? json_deep_copy(cat) : json_null());
	json_object_set_new(m, "source", json_string("opc-recorder"));
	return (m);
}

/* line adds "- key: value" to b, the value on one line ("none" when
 * NULL or empty). */
static void
line(struct buf *b, const char *key, const char *value)
{
	const char *p;

	buf_printf(b, "- %s: ", key);
	if (value == NULL || *value == '\0')
		value = "none";
	for (p = value; *p != '\0'; p++)
		buf_append(b, *p == '\n' || *p == '\r' ? " " : p, 1);
	buf_puts(b, "\n");
}

/* attention says why a human must act on the run's task (NULL: no one
 * needs to): every run that leaves its task Blocked, and a success that
 * waits for review or whose pull request was not opened. */
static char *
attention(const struct ev_run *r, const json_t *result)
{
	const char *st  = jsonx_str(result, "status");
	const char *cat = jsonx_str(result, "failure_category");
	const char *why = jsonx_str(result, "failure_reason");
	const char *q   = jsonx_str(result, "question");

	if (json_is_true(json_object_get(result, "success"))) {
		if (jsonx_str(result, "pull_request_error") != NULL)
			return (xasprintf("pull request not opened: %s",
			    jsonx_str(result, "pull_request_error")));
		if (json_is_true(json_object_get(r->request, "await_review")))
			return (xstrdup("In Review: a human reviews the "
			                "change"));
		return (NULL);
	}
	/* retried by the router, or no longer this run's business */
	if (streq(st, "interrupted") || streq(st, "superseded"))
		return (NULL);
	if (streq(cat, "awaiting_input"))
		return (xasprintf("awaiting_input: answer the question (%s)",
		    q != NULL ? q : "see the task's comment"));
	return (xasprintf("Blocked: %s%s%s", cat != NULL ? cat : "failed",
	    why != NULL ? ": " : "", why != NULL ? why : ""));
}

char *
ev_summary(const struct ev_run *r, const json_t *result)
{
	const char *kind = jsonx_str(r->request, "task_kind");
	const char *st   = jsonx_str(result, "status");
	char       *why;
	struct buf  b;

	if (kind == NULL)
		kind = jsonx_str(r->proposal, "task_kind");
	buf_init(&b);
	buf_printf(&b, "# Result summary: run %s\n\n", r->run_id);
	/* the original's worker roles are its task kinds' watchers */
	line(&b, "worker_role", kind);
	line(&b, "task_id", r->task_id);
	line(&b, "task_kind", kind);
	line(&b, "run_id", r->run_id);
	line(&b, "final_status", st);
	line(&b, "success",
	    json_is_true(json_object_get(result, "success")) ? "true"
	                                                     : "false");
	line(&b, "blocked_classification",
	    json_is_true(json_object_get(result, "success"))
	        ? NULL
	        : jsonx_str(result, "failure_category"));
	line(&b, "reason", jsonx_str(result, "failure_reason"));
	line(&b, "follow_up_task_ids", NULL); /* opcenter makes none per run */
	line(&b, "lane", r->lane);
	line(&b, "backend", r->backend);
	line(&b, "policy_status", r->policy_status);
	if (jsonx_str(result, "branch_name") != NULL)
		line(&b, "branch", jsonx_str(result, "branch_name"));
	if (jsonx_str(result, "pull_request_url") != NULL)
		line(
		    &b, "pull_request", jsonx_str(result, "pull_request_url"));
	if ((why = attention(r, result)) != NULL) {
		line(&b, "human_attention_required", "true");
		line(&b, "human_attention_reason", why);
		free(why);
	}
	line(&b, "written_at", r->now);
	why = xstrdup(buf_cstr(&b));
	buf_fini(&b);
	return (why);
}

const char *
ev_copy_name(const char *key)
{
	static const char *const map[][2] = {
		{ "backend_stdout", "backend_stdout.txt" },
		{ "backend_stderr", "backend_stderr.txt" },
		{ "validation_output", "validation_output.txt" },
		{ "diff_stat", "diff_stat.txt" },
		{ "patch", "diff.patch" },
	};
	size_t i;

	for (i = 0; i < nitems(map); i++)
		if (strcmp(key, map[i][0]) == 0)
			return (map[i][1]);
	return (NULL);
}

bool
ev_file_usable(const char *path)
{
	struct stat st;

	return (path != NULL && path[0] == '/' && stat(path, &st) == 0 &&
	    S_ISREG(st.st_mode) && access(path, R_OK) == 0);
}

bool
ev_copy_allowed(const char *path, const char *workspace)
{
	char  *rp, *rw;
	size_t n;
	bool   ok;

	if (!ev_file_usable(path))
		return (false);
	if (workspace == NULL)
		return (true);
	rp = realpath(path, NULL);
	rw = realpath(workspace, NULL);
	ok = rp != NULL && rw != NULL && (n = strlen(rw)) > 0 &&
	    strncmp(rp, rw, n) == 0 && (rp[n] == '/' || rw[n - 1] == '/');
	free(rp);
	free(rw);
	return (ok);
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return (ERR_IO);
		}
		p += n;
		len -= (size_t) n;
	}
	return (0);
}

static int
write_doc(const char *path, const json_t *j, const char *text)
{
	char *s = j != NULL ? json_dumps(j, DUMP_FLAGS) : xstrdup(text);
	int   fd, rv;

	if (s == NULL)
		return (ERR_IO);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) <
	    0) {
		free(s);
		return (ERR_IO);
	}
	rv = write_all(fd, s, strlen(s));
	if (rv == 0 && j != NULL)
		rv = write_all(fd, "\n", 1);
	if (close(fd) != 0)
		rv = ERR_IO;
	free(s);
	return (rv);
}

/* copy_file returns 0, 1 when src could not be opened (skipped), or
 * ERR_IO when writing failed. */
static int
copy_file(const char *src, const char *dst)
{
	char    buf[65536];
	ssize_t n;
	int     in, out, rv = 0;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return (1);
	if ((out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) <
	    0) {
		close(in);
		return (ERR_IO);
	}
	for (;;) {
		if ((n = read(in, buf, sizeof(buf))) < 0) {
			if (errno == EINTR)
				continue;
			rv = ERR_IO;
			break;
		}
		if (n == 0 || (rv = write_all(out, buf, (size_t) n)) != 0)
			break;
	}
	if (close(out) != 0)
		rv = ERR_IO;
	close(in);
	return (rv);
}

/* sync_tree makes everything written under path durable: one syncfs()
 * of its filesystem instead of an fsync per file (a dozen files per run
 * cost ~7 ms each on this disk and held the recorder's loop for ~100 ms
 * per run); without syncfs, an fsync of the directory alone would not
 * cover the files' data, so it is an error. */
static int
sync_tree(const char *path)
{
	int fd, rv = 0;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return (ERR_IO);
	if (syscall(SYS_syncfs, fd) != 0)
		rv = ERR_IO;
	close(fd);
	return (rv);
}

static int
fsync_dir(const char *path)
{
	int fd, rv = 0;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return (ERR_IO);
	if (fsync(fd) != 0)
		rv = ERR_IO;
	close(fd);
	return (rv);
}

int
ev_write_folder(const char *root, const char *run_id,
    const struct ev_doc *docs, size_t ndocs, const struct ev_copy *copies,
    size_t ncopies, json_t *files)
{
	char       *final = NULL, *tmp = NULL, *old = NULL, *p = NULL;
	const char *what = NULL;
	struct stat st;
	size_t      i, nfiles = json_array_size(files);
	int         rv;

	if (!id_valid(run_id))
		return (ERR_INVAL);
	final = xasprintf("%s/%s", root, run_id);
	tmp   = xasprintf("%s.tmp", final);
	old   = xasprintf("%s.old", final);
	what  = root;
	if ((rv = mkdirs(root, 0700)) != 0)
		goto fail;
	/* A tmp folder left by a crash is garbage: start over. */
	what = tmp;
	if ((rv = rmtree(tmp)) != 0)
		goto fail;
	if (mkdir(tmp, 0750) != 0) {
		rv = ERR_IO;
		goto fail;
	}
	for (i = 0; i < ndocs; i++) {
		free(p);
		what = p = xasprintf("%s/%s", tmp, docs[i].name);
		if ((rv = write_doc(p, docs[i].json, docs[i].text)) != 0)
			goto fail;
		json_array_append_new(files, json_string(docs[i].name));
	}
	for (i = 0; i < ncopies; i++) {
		free(p);
		what = p = xasprintf("%s/%s", tmp, copies[i].name);
		if (!ev_file_usable(copies[i].src))
			continue;
		if ((rv = copy_file(copies[i].src, p)) < 0)
			goto fail;
		if (rv == 0)
			json_array_append_new(
			    files, json_string(copies[i].name));
		rv = 0;
	}
	what = tmp;
	if ((rv = sync_tree(tmp)) != 0)
		goto fail;
	/* Swap: an older folder of this run (rewrite after a crash between
	 * rename and commit) moves aside, then goes. */
	what = final;
	if ((rv = rmtree(old)) != 0)
		goto fail;
	if (lstat(final, &st) == 0 && rename(final, old) != 0) {
		rv = ERR_IO;
		goto fail;
	}
	if (rename(tmp, final) != 0) {
		(void) rename(old, final); /* put the old one back */
		rv = ERR_IO;
		goto fail;
	}
	(void) fsync_dir(root);
	(void) rmtree(old);
	free(p);
	free(old);
	free(tmp);
	free(final);
	return (0);

fail:
	log_warn("recorder.write", "%s: %s: %s (%s)", run_id, what,
	    err_str(rv), strerror(errno));
	(void) rmtree(tmp);
	/* files lists only what reached the final folder. */
	while (json_array_size(files) > nfiles)
		json_array_remove(files, json_array_size(files) - 1);
	free(p);
	free(old);
	free(tmp);
	free(final);
	return (rv);
}
