/*
 * test_jsonx.c - the shared jansson helpers (common/jsonx.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "opc/jsonx.h"
#include "opc/store.h"
#include "opc/util.h"

static void
test_str(void **state)
{
	json_t *o = json_pack("{s:s, s:i}", "a", "x", "n", 1);

	UNUSED(state);
	assert_string_equal(jsonx_str(o, "a"), "x");
	assert_null(jsonx_str(o, "n")); /* not a string */
	assert_null(jsonx_str(o, "missing"));
	assert_null(jsonx_str(NULL, "a"));
	json_decref(o);
}

static void
test_str_or_null(void **state)
{
	json_t *j;

	UNUSED(state);
	j = jsonx_str_or_null("v");
	assert_string_equal(json_string_value(j), "v");
	json_decref(j);
	assert_true(json_is_null(jsonx_str_or_null(NULL)));
}

static void
test_dumps(void **state)
{
	json_t *o = json_pack("{s:i, s:i}", "b", 2, "a", 1);
	char   *s;

	UNUSED(state);
	s = jsonx_dumps(o);
	assert_string_equal(s, "{\"a\":1,\"b\":2}"); /* compact, sorted */
	free(s);
	assert_null(jsonx_dumps(NULL));
	json_decref(o);
}

static void
test_col(void **state)
{
	struct store      *s;
	struct store_stmt *st;
	json_t            *j;

	UNUSED(state);
	assert_int_equal(store_open(&s, ":memory:"), 0);
	assert_int_equal(
	    store_prep(s, &st, "SELECT '{\"k\":1}', NULL, 'not json'"), 0);
	assert_int_equal(store_step(st), 1);
	assert_non_null(j = jsonx_col(st, 0));
	assert_int_equal(json_integer_value(json_object_get(j, "k")), 1);
	json_decref(j);
	assert_null(jsonx_col(st, 1));
	assert_null(jsonx_col(st, 2));
	store_done(st);
	store_close(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_str),
		cmocka_unit_test(test_str_or_null),
		cmocka_unit_test(test_dumps),
		cmocka_unit_test(test_col),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
