/*
 * test_observe_collect.c - the observer's parsers as pure functions:
 * lint/type lines (grep, ruff, flake8, pylint, mypy, gcc), Cobertura XML
 * (good, truncated, garbage), coverage.py text reports, TODO counting and
 * the git outputs; plus the worker's spec checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "collect.h"
#include "opc/err.h"
#include "opc/util.h"

static bool
parse(struct finding *f, const char *line)
{
	return (collect_lint_parse_line(f, line, strlen(line)));
}

static void
finding_free(struct finding *f)
{
	free(f->path);
	free(f->code);
	free(f->message);
}

static void
test_lint_styles(void **st)
{
	struct finding f;

	(void) st;
	/* ruff / flake8: path:line:col: CODE message */
	assert_true(parse(&f,
	    "src/a.py:1:8: F401 [*] `os` imported but "
	    "unused"));
	assert_string_equal(f.path, "src/a.py");
	assert_int_equal(f.line, 1);
	assert_int_equal(f.col, 8);
	assert_string_equal(f.code, "F401");
	assert_string_equal(f.message, "F401 [*] `os` imported but unused");
	finding_free(&f);
	/* mypy: no column, "error:" stripped, bracketed code is not one */
	assert_true(parse(&f,
	    "pkg/m.py:12: error: Incompatible types in "
	    "assignment  [assignment]"));
	assert_string_equal(f.path, "pkg/m.py");
	assert_int_equal(f.line, 12);
	assert_int_equal(f.col, -1);
	assert_null(f.code);
	assert_string_equal(
	    f.message, "Incompatible types in assignment  [assignment]");
	finding_free(&f);
	/* gcc: warning stripped, leading ./ normalised */
	assert_true(parse(&f,
	    "./src/x.c:40:5: warning: unused variable 'n' "
	    "[-Wunused-variable]\r"));
	assert_string_equal(f.path, "src/x.c");
	assert_int_equal(f.col, 5);
	assert_null(f.code);
	assert_string_equal(
	    f.message, "unused variable 'n' [-Wunused-variable]");
	finding_free(&f);
	/* pylint: the code carries a colon */
	assert_true(parse(&f, "m.py:3:0: C0114: Missing module docstring"));
	assert_string_equal(f.code, "C0114");
	finding_free(&f);
	/* grep -rnH: path:line:text, the text starting with digits is not
	 * a column */
	assert_true(parse(&f, "./a.py:7:42 answers"));
	assert_string_equal(f.path, "a.py");
	assert_int_equal(f.line, 7);
	assert_int_equal(f.col, -1);
	assert_string_equal(f.message, "42 answers");
	finding_free(&f);
	assert_true(parse(&f, "./b.py:3:print(x)"));
	assert_string_equal(f.message, "print(x)");
	assert_null(f.code);
	finding_free(&f);
}

static void
test_lint_rejects(void **st)
{
	static const char *const bad[] = {
		"Found 3 errors in 2 files (checked 5 source files)",
		"a.c: In function 'main':",
		"In file included from src/a.c:1:",
		"src/a.py:3: note: See https://mypy.readthedocs.io",
		":3: missing path",
		"   :3: blank path",
		"a.py:x: not a line",
		"a.py:12",
		"a.py:12:",
		"a.py:12:   ",
		"",
		"All checks passed!",
		"a.py:99999999999999999999: too many digits",
	};
	struct finding f;
	size_t         i;

	(void) st;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(&f, bad[i]))
			fail_msg("accepted: '%s'", bad[i]);
}

static void
test_lint_summary(void **st)
{
	const char      text[] = "b.py:1: E1 one\n"
	                         "Found garbage\n"
	                         "a.py:2:3: E2 two\n"
	                         "b.py:5: three\n"
	                         "c.py:1: four\n"
	                         "a.py:9: error: five\n"
	                         "b.py:7: six"; /* no final newline */
	struct findings fs;
	json_t         *o, *tf, *tv;

	(void) st;
	memset(&fs, 0, sizeof(fs));
	collect_lint_parse(&fs, text, strlen(text));
	/* binary junk: no crash, and JSON-safe text */
	collect_lint_parse(&fs, "\0\0\n\xff:1: x\n", 10);
	o = collect_lint_summary(&fs);
	assert_int_equal(json_integer_value(json_object_get(o, "count")), 7);
	assert_int_equal(
	    json_integer_value(json_object_get(o, "distinct_files")), 4);
	tf = json_object_get(o, "top_files");
	assert_int_equal(json_array_size(tf), 4);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(tf, 0), "path")),
	    "b.py");
	assert_int_equal(json_integer_value(
	                     json_object_get(json_array_get(tf, 0), "count")),
	    3);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(tf, 1), "path")),
	    "a.py");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(tf, 2), "path")),
	    "?");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(tf, 3), "path")),
	    "c.py");
	tv = json_object_get(o, "top_violations");
	assert_int_equal(json_array_size(tv), 7);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(tv, 0), "code")),
	    "E1");
	assert_true(
	    json_is_null(json_object_get(json_array_get(tv, 0), "col")));
	assert_int_equal(
	    json_integer_value(json_object_get(json_array_get(tv, 1), "col")),
	    3);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(tv, 4), "message")),
	    "five");
	json_decref(o);
	collect_findings_fini(&fs);

	/* nothing found */
	o = collect_lint_summary(&fs);
	assert_int_equal(json_integer_value(json_object_get(o, "count")), 0);
	assert_int_equal(json_array_size(json_object_get(o, "top_files")), 0);
	json_decref(o);
}

static void
test_lint_top_limits(void **st)
{
	struct findings fs;
	struct buf      b;
	json_t         *o;
	int             i;

	(void) st;
	buf_init(&b);
	for (i = 0; i < 30; i++)
		buf_printf(&b, "f%02d.py:%d: E%d msg\n", i % 15, i + 1, i);
	memset(&fs, 0, sizeof(fs));
	collect_lint_parse(&fs, b.data, b.len);
	o = collect_lint_summary(&fs);
	assert_int_equal(json_integer_value(json_object_get(o, "count")), 30);
	assert_int_equal(
	    json_integer_value(json_object_get(o, "distinct_files")), 15);
	assert_int_equal(
	    json_array_size(json_object_get(o, "top_files")), TOP_N);
	/* all tie at 2: path order */
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_array_get(json_object_get(o, "top_files"), 9), "path")),
	    "f09.py");
	assert_int_equal(
	    json_array_size(json_object_get(o, "top_violations")), TOP_N);
	json_decref(o);
	collect_findings_fini(&fs);
	buf_fini(&b);
}

static const char cobertura[] =
    "<?xml version=\"1.0\" ?>\n"
    "<coverage version=\"7.3\" lines-valid=\"30\" line-rate=\"0.8333\" "
    "branch-rate=\"0\">\n"
    "\t<!-- Generated by coverage.py -->\n"
    "\t<sources><source>/src</source></sources>\n"
    "\t<packages><package name=\"src\" line-rate=\"0.8\">\n"
    "\t\t<classes>\n"
    "\t\t\t<class name=\"a.py\" filename=\"src/a.py\" complexity=\"0\" "
    "line-rate=\"0.5\" branch-rate=\"0\">\n"
    "\t\t\t\t<methods/><lines><line number=\"1\" hits=\"1\"/></lines>\n"
    "\t\t\t</class>\n"
    "\t\t\t<class name='b' filename='src/b&amp;c.py' line-rate='1'/>\n"
    "\t\t\t<class line-rate=\"0.25\" name=\"x>y\" filename=\"src/d.py\">"
    "</class>\n"
    "\t\t\t<class filename=\"src/d.py\" line-rate=\"0.75\"></class>\n"
    "\t\t</classes>\n"
    "\t</package></packages>\n"
    "</coverage>\n";

static void
test_cobertura(void **st)
{
	struct coverage c;
	char            err[256];
	json_t         *o, *top;

	(void) st;
	assert_int_equal(
	    cov_parse(&c, cobertura, strlen(cobertura), err, sizeof(err)), 0);
	assert_true(c.have_total);
	assert_true(c.total_pct > 83.32 && c.total_pct < 83.34);
	assert_int_equal(c.n, 3); /* src/d.py twice: averaged */
	o = cov_json(&c, "coverage.xml");
	assert_string_equal(
	    json_string_value(json_object_get(o, "status")), "measured");
	assert_int_equal(
	    json_integer_value(json_object_get(o, "uncovered_count")), 2);
	assert_true(
	    json_real_value(json_object_get(o, "threshold_pct")) == 80.0);
	top = json_object_get(o, "top_uncovered");
	assert_int_equal(json_array_size(top), 2);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(top, 0), "path")),
	    "src/a.py");
	assert_true(json_real_value(json_object_get(
	                json_array_get(top, 0), "pct")) == 50.0);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(top, 1), "path")),
	    "src/d.py");
	assert_true(json_real_value(json_object_get(
	                json_array_get(top, 1), "pct")) == 50.0);
	assert_string_equal(
	    json_string_value(json_object_get(o, "source")), "coverage.xml");
	json_decref(o);
	coverage_fini(&c);
}

static void
test_cobertura_malformed(void **st)
{
	static const char *const bad[] = {
		"<coverage line-rate=\"1.5\"></coverage>",
		"<coverage line-rate=\"abc\"></coverage>",
		"<coverage></coverage>",
		"<coverage line-rate=0.5></coverage>",
		"<coverage line-rate=\"0.5\"",
		"<coverage line-rate=\"0.5\"><class filename=\"a\" "
		"line-rate=\"0.1\">",
		"<coverage line-rate=\"0.5\"><class filename=\"a\" "
		"line-rate=\"",
		"<coverage line-rate=\"0.5\"><class line-rate=\"0.1\"/>"
		"</coverage>",
		"<coverage line-rate=\"0.5\"><class filename=\"a\" "
		"line-rate=\"nan\"/></coverage>",
		"<html><body>not a report</body></html>",
		"<",
		"<coveragex line-rate=\"0.5\"></coveragex>",
	};
	struct coverage c;
	char            err[256];
	size_t          i;

	(void) st;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (cov_parse(&c, bad[i], strlen(bad[i]), err, sizeof(err)) !=
		    ERR_PROTO)
			fail_msg("accepted: '%s'", bad[i]);
		assert_true(err[0] != '\0');
		assert_int_equal(c.n, 0);
	}
	/* every prefix of a good report is either refused or complete */
	for (i = 0; i < strlen(cobertura); i++) {
		if (cov_parse_xml(&c, cobertura, i, err, sizeof(err)) == 0) {
			assert_true(i >= strlen(cobertura) - 2);
			coverage_fini(&c);
		}
	}
}

static void
test_coverage_text(void **st)
{
	const char report[] =
	    "Name                      Stmts   Miss  Cover   Missing\n"
	    "-------------------------------------------------------\n"
	    "src/a.py                     10      5    50%   3-7\n"
	    "src/b.py                     20      0   100%\n"
	    "src/my module.py              4      1    75%   9\n"
	    "-------------------------------------------------------\n"
	    "TOTAL                        34      6    82%\n";
	const char branches[] =
	    "Name      Stmts   Miss Branch BrPart   Cover\n"
	    "x.py         10      2      4      1  78.57%\n";
	struct coverage c;
	char            err[256];
	json_t         *o, *top;

	(void) st;
	assert_int_equal(
	    cov_parse(&c, report, strlen(report), err, sizeof(err)), 0);
	assert_true(c.have_total && c.total_pct == 82.0);
	assert_int_equal(c.n, 3);
	o = cov_json(&c, "coverage.txt");
	assert_int_equal(
	    json_integer_value(json_object_get(o, "uncovered_count")), 2);
	top = json_object_get(o, "top_uncovered");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(top, 0), "path")),
	    "src/a.py");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(top, 1), "path")),
	    "src/my module.py");
	json_decref(o);
	coverage_fini(&c);

	/* no TOTAL row (one file, old coverage.py): computed */
	assert_int_equal(
	    cov_parse(&c, branches, strlen(branches), err, sizeof(err)), 0);
	assert_int_equal(c.n, 1);
	assert_true(c.files[0].pct == 78.57);
	assert_true(c.have_total && c.total_pct == 80.0);
	coverage_fini(&c);

	assert_int_equal(
	    cov_parse(&c, "hello\nworld 50%\n", 16, err, sizeof(err)),
	    ERR_PROTO);
	assert_int_equal(cov_parse(&c, "", 0, err, sizeof(err)), ERR_PROTO);
	assert_int_equal(
	    cov_parse(&c, "a 1 2 300%\n", 11, err, sizeof(err)), ERR_PROTO);
}

static void
test_todo(void **st)
{
	const char text[] = "// TODO: one\n# FIXME two TODO three\n"
	                    "TODOTODO FIXM todo\n";
	char       bin[9000];
	int64_t    t = 0, f = 0;

	(void) st;
	collect_todo_count(text, strlen(text), &t, &f);
	assert_int_equal(t, 4);
	assert_int_equal(f, 1);
	collect_todo_count("TOD", 3, &t, &f);
	collect_todo_count("", 0, &t, &f);
	assert_int_equal(t, 4);
	assert_false(collect_todo_binary(text, strlen(text)));
	memset(bin, 'a', sizeof(bin));
	bin[8191] = '\0';
	assert_true(collect_todo_binary(bin, sizeof(bin)));
	bin[8191] = 'a';
	bin[8192] = '\0'; /* past the first 8 KiB: text */
	assert_false(collect_todo_binary(bin, sizeof(bin)));
}

static void
test_git_outputs(void **st)
{
	const char log[] = "1700000000\0fix: the thing\n";
	char      *subj, *l;
	int64_t    ct;

	(void) st;
	assert_int_equal(collect_count_lines(" M a.c\n?? b.c\n\n", 15), 2);
	assert_int_equal(collect_count_lines("", 0), 0);
	assert_int_equal(collect_git_log(log, sizeof(log) - 1, &ct, &subj), 0);
	assert_int_equal(ct, 1700000000);
	assert_string_equal(subj, "fix: the thing");
	free(subj);
	assert_int_equal(collect_git_log("12\0", 3, &ct, &subj), 0);
	assert_string_equal(subj, "");
	free(subj);
	assert_int_equal(collect_git_log("abc\0x", 5, &ct, &subj), ERR_PROTO);
	assert_int_equal(collect_git_log("123", 3, &ct, &subj), ERR_PROTO);
	assert_null(subj);
	l = collect_first_line(
	    "\n  fatal: not a git repository  \nmore", 37, 100);
	assert_string_equal(l, "fatal: not a git repository");
	free(l);
	l = collect_first_line(
	    "h\xc3\xa9llo", 6, 2); /* never half a character */
	assert_string_equal(l, "h");
	free(l);
	assert_null(collect_first_line(" \n\n", 3, 10));
}

static void
test_spec(void **st)
{
	struct obs_spec s;
	char            err[256];
	json_t         *o;

	(void) st;
	o = json_pack("{s:s, s:s, s:s, s:[s, s]}", "run_id", "obs_1", "repo",
	    "demo", "path", "/tmp/x", "lint_command", "ruff", "check");
	assert_int_equal(observe_spec_parse(&s, o, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(s.coverage_paths), 2);
	assert_null(s.type_cmd);
	assert_true(s.deadline_ms > s.observed_at);
	assert_int_equal(s.todo_max_files, TODO_MAX_FILES);
	observe_spec_fini(&s);
	json_object_set_new(o, "lint_command", json_pack("[s, i]", "x", 1));
	assert_int_equal(
	    observe_spec_parse(&s, o, err, sizeof(err)), ERR_INVAL);
	assert_non_null(strstr(err, "lint_command"));
	observe_spec_fini(&s);
	json_object_set_new(o, "lint_command", json_array());
	assert_int_equal(
	    observe_spec_parse(&s, o, err, sizeof(err)), ERR_INVAL);
	observe_spec_fini(&s);
	json_object_del(o, "lint_command");
	json_object_del(o, "path");
	assert_int_equal(
	    observe_spec_parse(&s, o, err, sizeof(err)), ERR_INVAL);
	assert_non_null(strstr(err, "path"));
	observe_spec_fini(&s);
	json_decref(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lint_styles),
		cmocka_unit_test(test_lint_rejects),
		cmocka_unit_test(test_lint_summary),
		cmocka_unit_test(test_lint_top_limits),
		cmocka_unit_test(test_cobertura),
		cmocka_unit_test(test_cobertura_malformed),
		cmocka_unit_test(test_coverage_text),
		cmocka_unit_test(test_todo),
		cmocka_unit_test(test_git_outputs),
		cmocka_unit_test(test_spec),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
