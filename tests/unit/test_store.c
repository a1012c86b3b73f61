/*
 * test_store.c - store.c on real sqlite files and :memory:.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "opc/err.h"
#include "opc/log.h"
#include "opc/store.h"
#include "testbed.h"

static void
test_run_and_query(void **state)
{
	struct store      *s;
	struct store_stmt *st;
	int64_t            v;
	size_t             n;
	const void        *p;

	UNUSED(state);
	assert_int_equal(store_open(&s, ":memory:"), 0);
	assert_int_equal(store_exec(s, "CREATE TABLE t(k TEXT PRIMARY KEY,"
	                               " v INTEGER, d REAL, b BLOB)"),
	    0);
	assert_int_equal(store_run(s, "INSERT INTO t VALUES (?, ?, ?, ?)",
	                     "tidb", "a", (int64_t) 42, 1.5, "x\0y",
	                     (size_t) 3),
	    0);
	assert_int_equal(store_run(s, "INSERT INTO t VALUES (?, ?, ?, ?)",
	                     "tidb", "a", (int64_t) 1, 0.0, "", (size_t) 0),
	    ERR_EXISTS);
	assert_int_equal(store_int(s, &v, -1, "SELECT v FROM t WHERE k = ?",
	                     "t", "a"),
	    0);
	assert_int_equal(v, 42);
	assert_int_equal(store_int(s, &v, -1, "SELECT v FROM t WHERE k = ?",
	                     "t", "zz"),
	    0);
	assert_int_equal(v, -1);
	assert_int_equal(store_prep(s, &st, "SELECT b, d FROM t"), 0);
	assert_int_equal(store_step(st), 1);
	p = store_col_blob(st, 0, &n);
	assert_int_equal(n, 3);
	assert_memory_equal(p, "x\0y", 3);
	assert_true(store_col_double(st, 1) == 1.5);
	assert_int_equal(store_step(st), 0);
	/* The same SQL text gives the cached statement, reset. */
	assert_int_equal(store_prep(s, &st, "SELECT b, d FROM t"), 0);
	assert_int_equal(store_step(st), 1);
	store_done(st);
	assert_int_equal(store_prep(s, &st, "SELECT nope FROM t"), ERR_IO);
	assert_int_equal(store_run(s, "INSERT INTO t(k) VALUES (?)", "x", 1),
	    ERR_INVAL);
	store_close(&s);
	assert_null(s);
	store_close(&s); /* NULL-safe */
}

static void
test_transactions(void **state)
{
	char         *dir = tb_dir(), *path = xasprintf("%s/t.db", dir);
	struct store *s;
	int64_t       v;

	UNUSED(state);
	assert_int_equal(store_open(&s, path), 0);
	assert_int_equal(store_exec(s, "CREATE TABLE t(v INTEGER)"), 0);
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_begin(s), ERR_STATE);
	assert_true(store_in_txn(s));
	assert_int_equal(store_run(s, "INSERT INTO t VALUES (1)", NULL), 0);
	assert_int_equal(store_rollback(s), 0);
	assert_int_equal(store_rollback(s), ERR_STATE);
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_run(s, "INSERT INTO t VALUES (2)", NULL), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_commit(s), ERR_STATE);
	/* An open transaction is rolled back by close. */
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_run(s, "INSERT INTO t VALUES (3)", NULL), 0);
	store_close(&s);
	assert_int_equal(store_open(&s, path), 0);
	assert_int_equal(store_int(s, &v, 0, "SELECT sum(v) FROM t", NULL),
	    0);
	assert_int_equal(v, 2);
	assert_int_equal(store_set_sync(s, 1), 0);
	store_close(&s);
	assert_int_equal(store_open(&s, "/nonexistent/dir/x.db"), ERR_IO);
	assert_null(s);
	tb_rmrf(dir);
	free(path);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_and_query),
		cmocka_unit_test(test_transactions),
	};

	log_init("test_store", NULL, LOG_ERROR);
	log_set_stderr(0);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
