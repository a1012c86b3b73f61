/*
 * test_board_parse.c - the "## Execution" block parser, starting from the
 * original's regression cases (inventory section 8, case 2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "board.h"
#include "opc/err.h"

/* parse runs the parser and hands back the record's JSON form (its
 * field names are the keys), NULL on error. */
static int
parse(
    const char *desc, const char *goal, json_t **ex, char *err, size_t errlen)
{
	struct msg_task_execution *r;
	int                        rv;

	*ex = NULL;
	if ((rv = board_parse_description(desc, goal, &r, err, errlen)) != 0) {
		assert_null(r);
		return (rv);
	}
	*ex = msg_task_execution_to_json(r);
	msg_task_execution_free(r);
	return (0);
}

static const char *
s(json_t *o, const char *k)
{
	return (json_string_value(json_object_get(o, k)));
}

static void
test_full_block(void **state)
{
	json_t *ex;
	char    err[256];

	(void) state;
	assert_int_equal(
	    parse("## Execution\nrepo: repo_a\nbase_branch: main\n"
	          "mode: GOAL\nallowed_paths:\n  - src/\n"
	          "open_pr: true\n\nDo the thing.\n\n"
	          "- Keep tests green.\n",
	        NULL, &ex, err, sizeof(err)),
	    0);
	assert_string_equal(s(ex, "repo"), "repo_a");
	assert_string_equal(s(ex, "base_branch"), "main");
	assert_string_equal(s(ex, "mode"), "goal");
	assert_string_equal(s(ex, "goal"), "Do the thing.");
	assert_string_equal(s(ex, "constraints"), "- Keep tests green.");
	assert_int_equal(
	    json_array_size(json_object_get(ex, "allowed_paths")), 1);
	assert_string_equal(json_string_value(json_array_get(
	                        json_object_get(ex, "allowed_paths"), 0)),
	    "src/");
	assert_true(json_is_true(json_object_get(ex, "open_pr")));
	assert_true(json_is_true(json_object_get(ex, "has_block")));
	json_decref(ex);
}

static void
test_plain_description(void **state)
{
	json_t *ex;
	char    err[256];

	(void) state;
	assert_int_equal(
	    parse("Fix the bug.", NULL, &ex, err, sizeof(err)), 0);
	assert_string_equal(s(ex, "base_branch"), "");
	assert_string_equal(s(ex, "mode"), "goal");
	assert_string_equal(s(ex, "goal"), "Fix the bug.");
	assert_null(json_object_get(ex, "constraints"));
	assert_null(json_object_get(ex, "open_pr")); /* not said */
	assert_false(json_is_true(json_object_get(ex, "has_block")));
	json_decref(ex);
	/* no description: the goal field is the goal */
	assert_int_equal(parse(NULL, "Write docs", &ex, err, sizeof(err)), 0);
	assert_string_equal(s(ex, "goal"), "Write docs");
	json_decref(ex);
	/* a goal field wins over prose, the block still applies */
	assert_int_equal(parse("## Execution\nmode: test\n"
	                       "\nprose\n",
	                     "field goal", &ex, err, sizeof(err)),
	    0);
	assert_string_equal(s(ex, "goal"), "field goal");
	assert_string_equal(s(ex, "mode"), "test_campaign");
	json_decref(ex);
}

static void
test_errors(void **state)
{
	json_t *ex = NULL;
	char    err[256];

	(void) state;
	assert_int_equal(parse("## Execution\nrepo: myrepo\nmode: goal\n",
	                     NULL, &ex, err, sizeof(err)),
	    ERR_PROTO);
	assert_string_equal(err, "Missing goal text");
	assert_null(ex);
	assert_int_equal(
	    parse("## Execution\nmode: totally_invalid\n\nDo it.\n", NULL, &ex,
	        err, sizeof(err)),
	    ERR_PROTO);
	assert_non_null(strstr(err, "Unsupported execution mode"));
	assert_int_equal(parse("", "", &ex, err, sizeof(err)), ERR_PROTO);
}

static void
test_modes_and_inline_paths(void **state)
{
	static const char *const in[]  = { "test", "improve", "fix_pr",
		 "Improve_Campaign" };
	static const char *const out[] = { "test_campaign", "improve_campaign",
		"fix_pr", "improve_campaign" };
	json_t                  *ex;
	char                     desc[128], err[256];
	size_t                   i;

	(void) state;
	for (i = 0; i < 4; i++) {
		snprintf(desc, sizeof(desc), "## Execution\nmode: %s\n\nGo.",
		    in[i]);
		assert_int_equal(parse(desc, NULL, &ex, err, sizeof(err)), 0);
		assert_string_equal(s(ex, "mode"), out[i]);
		json_decref(ex);
	}
	assert_int_equal(
	    parse("## Execution\nallowed_paths: src/, docs/\n\nGo.", NULL, &ex,
	        err, sizeof(err)),
	    0);
	assert_int_equal(
	    json_array_size(json_object_get(ex, "allowed_paths")), 2);
	json_decref(ex);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_block),
		cmocka_unit_test(test_plain_description),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_modes_and_inline_paths),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
