/*
 * test_report.c - the autonomy stages' retained reports (common/report.c):
 * where they go, what they hold, and retention by count.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "opc/report.h"
#include "opc/util.h"

static int
tmp_setup(void **state)
{
	char tmpl[] = "/tmp/opct.XXXXXX";

	if (mkdtemp(tmpl) == NULL)
		return (-1);
	*state = xstrdup(tmpl);
	return (0);
}

static int
tmp_teardown(void **state)
{
	int rv = rmtree(*state);

	free(*state);
	return (rv == 0 ? 0 : -1);
}

static size_t
count(const char *dir)
{
	DIR           *d = opendir(dir);
	struct dirent *e;
	size_t         n = 0;

	if (d == NULL)
		return (0);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return (n);
}

/* A report lands under reports/<stage>/<timestamp>.json with the doc. */
static void
test_write(void **state)
{
	const char *root = *state;
	json_t     *doc = json_pack("{s:s, s:[s]}", "run_id", "ins_1", "kinds",
	               "quality_trend/lint_degrading"),
	       *back;
	char *path, *want;

	assert_int_equal(report_write(&path, root, "insights", doc, 0), 0);
	want = xasprintf("%s/reports/insights/", root);
	assert_true(strncmp(path, want, strlen(want)) == 0);
	assert_non_null(strstr(path + strlen(want), "Z.json"));
	back = json_load_file(path, 0, NULL);
	assert_non_null(back);
	assert_true(json_equal(back, doc));
	json_decref(back);
	json_decref(doc);
	free(want);
	free(path);
}

/* Retention keeps the newest keep; names of one millisecond stay apart. */
static void
test_retention(void **state)
{
	const char *root = *state;
	json_t     *doc;
	char       *path = NULL, *dir, *last = NULL;
	int         i;

	for (i = 0; i < 6; i++) {
		doc = json_pack("{s:i}", "n", i);
		assert_int_equal(
		    report_write(&path, root, "observe", doc, 3), 0);
		json_decref(doc);
		if (last != NULL)
			assert_true(strcmp(last, path) < 0 ||
			    strstr(path, "Z-") != NULL);
		free(last);
		last = path;
	}
	dir = xasprintf("%s/reports/observe", root);
	assert_int_equal(count(dir), 3);
	doc = json_load_file(last, 0, NULL); /* the newest is kept */
	assert_int_equal(json_integer_value(json_object_get(doc, "n")), 5);
	json_decref(doc);
	free(last);
	free(dir);
}

/* A state dir that cannot be made is an error, not a crash. */
static void
test_bad_dir(void **state)
{
	json_t *doc  = json_object();
	char   *path = (char *) 1;

	(void) state;
	assert_int_not_equal(
	    report_write(&path, "/proc/nonexistent/x", "cycle", doc, 3), 0);
	assert_null(path);
	json_decref(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_write, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(
		    test_retention, tmp_setup, tmp_teardown),
		cmocka_unit_test(test_bad_dir),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
