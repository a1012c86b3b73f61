/*
 * test_exec_classify.c - the pure parts of opc-exec-run: the failure
 * classification table (every category, first-match order, the flaky
 * rule), the allowed_paths policy, quality counts, question extraction,
 * placeholder expansion and git's -z numstat/name-status parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "opc/err.h"
#include "run.h"
#include "spec.h"

static const char *
cls_text(const char *text)
{
	struct classify_in in;

	memset(&in, 0, sizeof(in));
	in.text = text;
	return (classify(&in));
}

static void
test_text_categories(void **state)
{
	static const struct {
		const char *text, *category;
	} cases[] = {
		{ "fatal: out of memory", "oom" },
		{ "mmap: cannot allocate memory", "oom" },
		{ "process killed", "oom" },
		{ "memory allocation failed", "oom" },
		{ "kernel: oom-kill: constraint", "oom" },
		{ "request timed out", "timeout" },
		{ "deadline exceeded while waiting", "timeout" },
		{ "http 500 internal server error", "model_error" },
		{ "503 service unavailable", "model_error" },
		{ "502 bad gateway", "model_error" },
		{ "api overloaded", "model_error" },
		{ "429 too many requests", "model_error" },
		{ "rate_limit_error", "model_error" },
		{ "anthropic api error", "model_error" },
		{ "openai error: x", "model_error" },
		{ "prompt exceeds the context window", "context_limit" },
		{ "context_length_exceeded", "context_limit" },
		{ "token limit reached", "context_limit" },
		{ "input too long for model", "context_limit" },
		{ "modulenotfounderror: no module named 'x'",
		    "dependency_missing" },
		{ "importerror: cannot import name y", "dependency_missing" },
		{ "sh: 1: pytest: command not found", "dependency_missing" },
		{ "npm err! missing script", "dependency_missing" },
		{ "tool_error: edit", "tool_failure" },
		{ "bash tool failed", "tool_failure" },
		{ "git tool failed", "tool_failure" },
		{ "open: permission denied", "tool_failure" },
		{ "read-only file system", "tool_failure" },
		{ "api key not set", "infra_tooling" },
		{ "authentication required", "infra_tooling" },
		{ "login required", "infra_tooling" },
		{ "x: no such file or directory", "infra_tooling" },
		{ "invalid x-api-key", "infra_tooling" },
		{ "incorrect api key provided", "infra_tooling" },
		{ "your credit balance is too low to access the anthropic api",
		    "quota_exhausted" },
		{ "429 you exceeded your current quota, please check your "
		  "plan",
		    "quota_exhausted" },
		{ "you've hit your limit \xc2\xb7 resets 5pm",
		    "quota_exhausted" },
		{ "claude ai usage limit reached|1700000000",
		    "quota_exhausted" },
		{ "prompt is too long: 250000 tokens > 200000 maximum",
		    "context_limit" },
		{ "something else entirely", "unknown" },
		{ "", "unknown" },
	};
	size_t i;

	UNUSED(state);
	for (i = 0; i < nitems(cases); i++) {
		const char *got = cls_text(cases[i].text);

		if (strcmp(got, cases[i].category) != 0)
			fail_msg("\"%s\": got %s, want %s", cases[i].text, got,
			    cases[i].category);
	}
}

static void
test_fact_order(void **state)
{
	struct classify_in in;

	UNUSED(state);
	memset(&in, 0, sizeof(in));
	in.text            = "out of memory; permission denied";
	in.scope_violation = in.question = in.too_wide = in.timed_out = 1;
	in.validation_failed                                          = 1;
	assert_string_equal(classify(&in), "scope_policy");
	in.scope_violation = 0;
	assert_string_equal(classify(&in), "awaiting_input");
	in.question = 0;
	assert_string_equal(classify(&in), "scope_too_wide");
	in.too_wide = 0;
	assert_string_equal(classify(&in), "timeout");
	in.timed_out = 0;
	/* text rules before the validation rule */
	assert_string_equal(classify(&in), "oom");
	in.text = "permission denied";
	/* validation before tool_failure */
	assert_string_equal(classify(&in), "validation_failure");
	in.validation_flaky = 1;
	assert_string_equal(classify(&in), "flaky_test");
	in.validation_failed = in.validation_flaky = 0;
	assert_string_equal(classify(&in), "tool_failure");
	/* oom wins over timeout, timeout over model_error, ... */
	assert_string_equal(cls_text("timeout after oom-kill"), "oom");
	/* "room" is not oom (Codex: "ran out of room in the model's
	 * context window") */
	assert_string_equal(cls_text("ran out of room in the context window"),
	    "context_limit");
	assert_string_equal(cls_text("bad gateway timeout"), "timeout");
	assert_string_equal(
	    cls_text("overloaded: token limit"), "model_error");
	assert_string_equal(
	    cls_text("context length; no module named x"), "context_limit");
	assert_string_equal(
	    cls_text("npm err! permission denied"), "dependency_missing");
	assert_string_equal(cls_text("permission denied: no such file or "
	                             "directory"),
	    "tool_failure");
}

/* What an agent's API reported decides before any text: status and
 * error type (Anthropic's error.type, OpenAI's error.code). */
static void
test_api_rows(void **state)
{
	static const struct {
		int         status;
		const char *error, *text, *category;
	} cases[] = {
		{ 401, "authentication_error", "invalid x-api-key",
		    "infra_tooling" },
		{ 401, NULL, "out of memory", "infra_tooling" },
		{ 0, "invalid_api_key", NULL, "infra_tooling" },
		{ 429, "insufficient_quota", "you exceeded your current quota",
		    "quota_exhausted" },
		/* a 429 that is a plain rate limit is transient */
		{ 429, "rate_limit_error", "number of requests has exceeded",
		    "model_error" },
		{ 429, "rate_limit_exceeded", NULL, "model_error" },
		/* Anthropic: exhausted credits are a 400 */
		{ 400, "invalid_request_error",
		    "your credit balance is too low to access the anthropic "
		    "api",
		    "quota_exhausted" },
		{ 400, "invalid_request_error",
		    "prompt is too long: 250000 tokens", "context_limit" },
		{ 400, "context_length_exceeded", NULL, "context_limit" },
		{ 529, "overloaded_error", "overloaded", "model_error" },
		{ 500, "api_error", "internal server error", "model_error" },
		{ 503, NULL, "killed", "model_error" },
	};
	struct classify_in in;
	size_t             i;

	UNUSED(state);
	for (i = 0; i < nitems(cases); i++) {
		memset(&in, 0, sizeof(in));
		in.api_status = cases[i].status;
		in.api_error  = cases[i].error;
		in.text       = cases[i].text;
		if (strcmp(classify(&in), cases[i].category) != 0)
			fail_msg("%d %s \"%s\": got %s, want %s",
			    cases[i].status,
			    cases[i].error ? cases[i].error : "-",
			    cases[i].text ? cases[i].text : "", classify(&in),
			    cases[i].category);
	}
	/* our own timeout and the per-run cap come first; refused tools
	 * before no change; no change last */
	memset(&in, 0, sizeof(in));
	in.api_status = 429;
	in.budget_hit = in.denied = in.no_change = 1;
	assert_string_equal(classify(&in), "budget_exceeded");
	in.timed_out = 1;
	assert_string_equal(classify(&in), "timeout");
	in.timed_out = in.budget_hit = 0;
	assert_string_equal(classify(&in), "model_error");
	in.api_status = 0;
	assert_string_equal(classify(&in), "tool_failure");
	in.denied = 0;
	assert_string_equal(classify(&in), "no_op");
	in.text = "no module named x";
	assert_string_equal(classify(&in), "dependency_missing");
}

static void
test_flaky(void **state)
{
	static const int two_fails[]    = { 1, 0, 0 };
	static const int one_in_four[]  = { 1, 1, 1, 0 };
	static const int three_in_ten[] = { 0, 0, 0, 1, 1, 1, 1, 1, 1, 1 };
	static const int old_fails[] = { 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
		1, 1 };
	static const int two[]       = { 0, 0 };

	UNUSED(state);
	assert_true(classify_flaky(two_fails, nitems(two_fails)));
	assert_false(classify_flaky(one_in_four, nitems(one_in_four)));
	assert_true(classify_flaky(three_in_ten, nitems(three_in_ten)));
	/* only the last 10 count: 0 failures there */
	assert_false(classify_flaky(old_fails, nitems(old_fails)));
	/* fewer than 3 samples */
	assert_false(classify_flaky(two, nitems(two)));
	assert_false(classify_flaky(NULL, 0));
}

static void
test_classify_text(void **state)
{
	struct buf err, out;
	char      *t, big[5000];

	UNUSED(state);
	buf_init(&err);
	buf_init(&out);
	buf_puts(&err, "ERR Line");
	buf_puts(&out, "Out Of Memory");
	t = classify_text(&err, &out);
	assert_string_equal(t, "err line\nout of memory");
	free(t);
	memset(big, 'a', sizeof(big));
	buf_append(&out, big, sizeof(big));
	t = classify_text(&err, &out);
	assert_int_equal(strlen(t), 4000);
	free(t);
	buf_fini(&err);
	buf_fini(&out);
}

static void
test_scope(void **state)
{
	struct strv    allowed = { 0 }, viol = { 0 };
	struct changes cs   = { 0 };
	const char     ns[] = "M\0src/workflow/task.py\0"
	                      "A\0deployment/docker-compose.yml\0";

	UNUSED(state);
	assert_int_equal(diff_parse_name_status(&cs, ns, sizeof(ns) - 1), 0);
	strv_push(&allowed, "src/workflow/");
	scope_check(&viol, &cs, &allowed);
	assert_int_equal(viol.n, 1);
	assert_string_equal(viol.v[0], "deployment/docker-compose.yml");
	strv_free(&viol);
	strv_free(&allowed);
	diff_changes_fini(&cs);

	strv_push(&allowed, "src");
	assert_true(scope_allowed("src/foo.py", &allowed));
	assert_true(scope_allowed("./src/foo.py", &allowed));
	assert_true(scope_allowed("src", &allowed));
	assert_false(scope_allowed("srcx/foo.py", &allowed));
	assert_false(scope_allowed("lib/src/foo.py", &allowed));
	strv_free(&allowed);

	strv_push(&allowed, "*.md");
	strv_push(&allowed, ".github/");
	assert_true(scope_allowed("docs/a/b.md", &allowed)); /* * crosses / */
	assert_true(scope_allowed(".github/workflows/x.yml", &allowed));
	assert_false(scope_allowed("github/workflows/x.yml", &allowed));
	assert_false(scope_allowed("src/a.py", &allowed));
	strv_free(&allowed);

	/* empty list: anything goes */
	assert_true(scope_allowed("anything/at/all", &allowed));
}

static void
test_normpath(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "./src/a.py", "src/a.py" },
		{ ".github/workflows/x.yml", ".github/workflows/x.yml" },
		{ "./.github/x.yml", ".github/x.yml" },
		{ "a//b/./c/", "a/b/c" },
		{ "a/../b", "b" },
		{ "../a", "../a" },
		{ "/x/../y", "/y" },
		{ ".", "." },
		{ "", "." },
		{ "..hidden/x", "..hidden/x" },
	};
	size_t i;
	char  *n;

	UNUSED(state);
	for (i = 0; i < nitems(cases); i++) {
		n = scope_normpath(cases[i].in);
		assert_string_equal(n, cases[i].out);
		free(n);
	}
}

static int
qcount(const int c[QUALITY_N], const char *key)
{
	size_t i;

	for (i = 0; i < QUALITY_N; i++)
		if (strcmp(quality_pattern(i), key) == 0)
			return (c[i]);
	fail_msg("no pattern %s", key);
	return (-1);
}

static void
test_quality(void **state)
{
	static const char patch[] =
	    "diff --git a/x.py b/x.py\n"
	    "--- a/x.py\n"
	    "+++ b/x.py\n"
	    "@@ -1,2 +1,9 @@\n"
	    "+import os  # noqa\n"
	    "+import re  #noqa: F401\n"
	    "+x = 1  # noqa_not_really\n"
	    "-y = 2  # noqa\n"
	    " z = 3  # noqa\n"
	    "+a = f()  # type: ignore[attr]\n"
	    "+def g():  # pragma: no cover\n"
	    "+# pylint: disable=unused\n"
	    "+b = 1  # ruff: noqa\n"
	    "+@pytest.mark.skip(reason='x')\n"
	    "+@pytest.mark.skipif(True, reason='x')\n"
	    "+@pytest.mark.xfail\n"
	    "+++ not a header in a hunk, but skipped like the original\n";
	int c[QUALITY_N];

	UNUSED(state);
	assert_int_equal(quality_scan(c, patch, sizeof(patch) - 1), 0);
	/* "# noqa", "#noqa:" and the ruff line's "# ruff: noqa" does not
	 * match "#\s*noqa" (text between), the noqa_ one has no boundary */
	assert_int_equal(qcount(c, "#\\s*noqa\\b"), 2);
	assert_int_equal(qcount(c, "#\\s*type:\\s*ignore\\b"), 1);
	assert_int_equal(qcount(c, "#\\s*pragma:\\s*no\\s*cover\\b"), 1);
	assert_int_equal(qcount(c, "#\\s*pylint:\\s*disable\\b"), 1);
	assert_int_equal(qcount(c, "#\\s*ruff:\\s*noqa\\b"), 1);
	assert_int_equal(qcount(c, "@pytest\\.mark\\.skip\\b"), 1);
	assert_int_equal(qcount(c, "@pytest\\.mark\\.xfail\\b"), 1);

	assert_int_equal(quality_scan(c, "", 0), 0);
	assert_int_equal(qcount(c, "#\\s*noqa\\b"), 0);
}

/* Bare pass statements count with # noqa and # type: ignore, and at the
 * threshold (the original's 3) the note says how many, by name. */
static void
test_quality_note(void **state)
{
	static const char patch[] = "+++ b/x.py\n"
	                            "@@ -1,1 +1,8 @@\n"
	                            "+def f():\n"
	                            "+    pass\n"
	                            "+\tpass  # later\n"
	                            "+    password = 1\n"
	                            "+    passes()\n"
	                            "+    x = 'pass'\n"
	                            "-    pass\n"
	                            "+import os  # noqa\n"
	                            "+a = f()  # type: ignore\n";
	int               c[QUALITY_N];
	char             *n;

	UNUSED(state);
	assert_int_equal(quality_scan(c, patch, sizeof(patch) - 1), 0);
	assert_int_equal(qcount(c, "^\\s*pass\\s*(#.*)?$"), 2);
	n = quality_note(c, 3);
	assert_non_null(n);
	assert_string_equal(n,
	    "[quality] This run added 4 quality "
	    "suppressions: {\"noqa\": 1, \"type_ignore\": "
	    "1, \"pass\": 2}. Review before merging.");
	free(n);
	/* at the threshold, not below */
	assert_non_null(n = quality_note(c, 4));
	free(n);
	assert_null(quality_note(c, 5));
	/* two markers: below the original's 3 */
	assert_int_equal(quality_scan(c, "+x  # noqa\n+    pass\n", 21), 0);
	assert_null(quality_note(c, 3));
	/* threshold 0 still wants a marker */
	assert_int_equal(quality_scan(c, "", 0), 0);
	assert_null(quality_note(c, 0));
}

static void
test_question(void **state)
{
	static const char out[]   = "working...\n<!-- cp:question:   Which "
	                            "API? -->\n<!-- cp:question: second -->\n";
	static const char patch[] = "+++ b/NOTES.md\n"
	                            " <!-- cp:question: context only -->\n"
	                            "+<!-- cp:question: From the patch -->\n";
	char             *q;

	UNUSED(state);
	q = quality_question_extract(out, sizeof(out) - 1);
	assert_non_null(q);
	assert_string_equal(q, "Which API?");
	free(q);
	assert_null(quality_question_extract("no question", 11));
	assert_null(
	    quality_question_extract("<!-- cp:question: unterminated", 30));
	q = quality_question_extract(
	    "<!-- cp:question: -->x<!-- cp:question: b-->", 44);
	assert_non_null(q);
	assert_string_equal(q, "b");
	free(q);
	q = quality_question_in_patch(patch, sizeof(patch) - 1);
	assert_non_null(q);
	assert_string_equal(q, "From the patch");
	free(q);
}

/* cp:plan markers: every one, in order, trimmed; empty ones and an
 * unterminated one left out; at most QUALITY_PLAN_MAX. */
static void
test_plan(void **state)
{
	static const char out[] =
	    "thinking\n<!-- cp:plan:  Analyze: look -->\n"
	    "<!-- cp:plan: -->\n<!-- cp:question: q -->\n"
	    "<!-- cp:plan: Implement: do it-->\n"
	    "<!-- cp:plan: Verify: unterminated";
	struct strv sv = { 0 };
	struct buf  b;
	int         i;

	UNUSED(state);
	quality_plan_extract(&sv, out, sizeof(out) - 1);
	assert_int_equal(sv.n, 2);
	assert_string_equal(sv.v[0], "Analyze: look");
	assert_string_equal(sv.v[1], "Implement: do it");
	strv_free(&sv);
	quality_plan_extract(&sv, "no plan", 7);
	assert_int_equal(sv.n, 0);
	buf_init(&b);
	for (i = 0; i < QUALITY_PLAN_MAX + 5; i++)
		buf_printf(&b, "<!-- cp:plan: step %d -->\n", i);
	quality_plan_extract(&sv, b.data, b.len);
	assert_int_equal(sv.n, QUALITY_PLAN_MAX);
	strv_free(&sv);
	buf_fini(&b);
}

static void
test_expand(void **state)
{
	const struct expand_var vars[] = {
		{ "prompt_file", "/ws/.opcenter/prompt.md" },
		{ "goal", "fix the bug; rm -rf / $(x)" },
		{ "model", NULL },
	};
	char *s;

	UNUSED(state);
	s = backend_expand("--prompt={prompt_file}", vars, nitems(vars));
	assert_string_equal(s, "--prompt=/ws/.opcenter/prompt.md");
	free(s);
	s = backend_expand("{goal}", vars, nitems(vars));
	assert_string_equal(s, "fix the bug; rm -rf / $(x)");
	free(s);
	s = backend_expand("{unknown}{model}{", vars, nitems(vars));
	assert_string_equal(s, "{unknown}{");
	free(s);
	s = backend_expand("a{goal}b{prompt_file}", vars, 1);
	assert_string_equal(s, "a{goal}b/ws/.opcenter/prompt.md");
	free(s);
}

static void
test_diff_parse(void **state)
{
	/* name-status -z and numstat -z as git 2.39 prints them */
	static const char ns[]  = "A\0.github/x.yml\0A\0bin\0D\0g\0"
	                          "R083\0f.txt\0h.txt\0M\0dir with space/a b\0";
	static const char num[] = "1\t0\t.github/x.yml\0-\t-\tbin\0"
	                          "0\t1\tg\0"
	                          "1\t0\t\0f.txt\0h.txt\0"
	                          "12\t3\tdir with space/a b\0";
	struct changes    cs    = { 0 };
	char             *l;

	UNUSED(state);
	assert_int_equal(diff_parse_name_status(&cs, ns, sizeof(ns) - 1), 0);
	assert_int_equal(diff_parse_numstat(&cs, num, sizeof(num) - 1), 0);
	assert_int_equal(cs.n, 5);
	assert_string_equal(cs.v[0].path, ".github/x.yml");
	assert_string_equal(cs.v[0].type, "added");
	assert_int_equal(cs.v[0].added, 1);
	assert_string_equal(cs.v[1].type, "added");
	assert_int_equal(cs.v[1].added, 0); /* binary */
	assert_int_equal(cs.v[1].removed, 0);
	assert_string_equal(cs.v[2].type, "deleted");
	assert_int_equal(cs.v[2].removed, 1);
	assert_string_equal(cs.v[3].path, "h.txt");
	assert_string_equal(cs.v[3].type, "renamed");
	assert_int_equal(cs.v[3].added, 1);
	assert_string_equal(cs.v[4].path, "dir with space/a b");
	assert_string_equal(cs.v[4].type, "modified");
	assert_int_equal(cs.v[4].added, 12);
	assert_int_equal(cs.v[4].removed, 3);
	diff_changes_fini(&cs);

	assert_int_equal(diff_parse_name_status(&cs, "R100\0only-old",
	                     sizeof("R100\0only-old") - 1),
	    ERR_PROTO);
	diff_changes_fini(&cs);
	assert_int_equal(diff_parse_numstat(&cs, "x\ty\tz", 6), ERR_PROTO);
	assert_int_equal(diff_parse_name_status(&cs, "", 0), 0);
	assert_int_equal(cs.n, 0);

	l = diff_stat_last_line(" a | 6 ++++++\n 1 file changed, 6 "
	                        "insertions(+)\n\n",
	    sizeof(" a | 6 ++++++\n 1 file changed, 6 insertions(+)\n\n") - 1);
	assert_non_null(l);
	assert_string_equal(l, "1 file changed, 6 insertions(+)");
	free(l);
	assert_null(diff_stat_last_line("\n \n", 3));
}

/* The daemon's list of kinds (spec.c) and the worker's profiles agree. */
static void
test_kinds(void **state)
{
	static const char *const k[] = { "stub", "command", "claude_cli",
		"codex_cli", "aider", "kodo" };
	size_t                   i;

	UNUSED(state);
	for (i = 0; i < nitems(k); i++) {
		assert_true(backend_kind_known(k[i]));
		if (i >= 2)
			assert_string_equal(agent_profile(k[i]), k[i]);
	}
	assert_false(backend_kind_known("claude"));
	assert_null(agent_profile("claude"));
	assert_null(agent_profile("command"));
}

static void
test_request(void **state)
{
	struct exec_req rq;
	json_error_t    e;
	json_t         *o;
	char           *err = NULL;

	UNUSED(state);
	o = json_loads("{\"run_id\":\"r\",\"task_id\":\"T-1\",\"goal_text\":"
	               "\"g\",\"clone_url\":\"/x\",\"base_branch\":\"main\","
	               "\"task_branch\":\"goal/T-1\",\"validation_commands\":"
	               "[[\"sh\",\"-c\",\"echo a b\"],\"make  -j2 check\"],"
	               "\"backend_spec\":{\"kind\":\"command\",\"argv\":"
	               "[\"cli\",\"{goal}\"],\"env\":{\"K\":\"V\"}}}",
	    0, &e);
	assert_non_null(o);
	assert_int_equal(request_parse(&rq, o, &err), 0);
	assert_int_equal(rq.n_validation, 2);
	assert_int_equal(rq.validation[0].n, 3);
	assert_string_equal(rq.validation[0].v[2], "echo a b");
	assert_int_equal(rq.validation[1].n, 3);
	assert_string_equal(rq.validation[1].v[1], "-j2");
	assert_string_equal(rq.bk.env.v[0], "K=V");
	assert_int_equal(rq.max_files, 50);
	assert_int_equal(rq.max_lines, 2000);
	assert_int_equal(rq.max_changed_files, -1);
	assert_string_equal(rq.git_name, "Operations Center Bot");
	request_fini(&rq);
	json_decref(o);

	o = json_loads("{\"run_id\":\"r\",\"task_id\":\"T-1\"}", 0, &e);
	assert_int_equal(request_parse(&rq, o, &err), ERR_INVAL);
	assert_non_null(err);
	assert_non_null(strstr(err, "goal_text"));
	request_fini(&rq);
	json_decref(o);
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_categories),
		cmocka_unit_test(test_fact_order),
		cmocka_unit_test(test_api_rows),
		cmocka_unit_test(test_flaky),
		cmocka_unit_test(test_classify_text),
		cmocka_unit_test(test_scope),
		cmocka_unit_test(test_normpath),
		cmocka_unit_test(test_quality),
		cmocka_unit_test(test_quality_note),
		cmocka_unit_test(test_question),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_diff_parse),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_kinds),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
