/*
 * test_store.c - store.c on real sqlite files and :memory:.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

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
	assert_int_equal(store_exec(s,
	                     "CREATE TABLE t(k TEXT PRIMARY KEY,"
	                     " v INTEGER, d REAL, b BLOB)"),
	    0);
	assert_int_equal(
	    store_run(s, "INSERT INTO t VALUES (?, ?, ?, ?)", "tidb", "a",
	        (int64_t) 42, 1.5, "x\0y", (size_t) 3),
	    0);
	assert_int_equal(store_run(s, "INSERT INTO t VALUES (?, ?, ?, ?)",
	                     "tidb", "a", (int64_t) 1, 0.0, "", (size_t) 0),
	    ERR_EXISTS);
	assert_int_equal(
	    store_int(s, &v, -1, "SELECT v FROM t WHERE k = ?", "t", "a"), 0);
	assert_int_equal(v, 42);
	assert_int_equal(
	    store_int(s, &v, -1, "SELECT v FROM t WHERE k = ?", "t", "zz"), 0);
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
	assert_int_equal(
	    store_run(s, "INSERT INTO t(k) VALUES (?)", "x", 1), ERR_INVAL);
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
	assert_int_equal(store_int(s, &v, 0, "SELECT sum(v) FROM t", NULL), 0);
	assert_int_equal(v, 2);
	assert_int_equal(store_set_sync(s, 1), 0);
	store_close(&s);
	assert_int_equal(store_open(&s, "/nonexistent/dir/x.db"), ERR_IO);
	assert_null(s);
	tb_rmrf(dir);
	free(path);
	free(dir);
}

/* A full disk, as sqlite sees it (max_page_count: SQLITE_FULL): the
 * store says ERR_NOSPACE and store_full, whatever the caller made of it;
 * the next transaction starts clean; the first commit that works after it
 * checkpoints the WAL and truncates it. */
static void
test_full_disk(void **state)
{
	char         *dir = tb_dir(), *path = xasprintf("%s/t.db", dir);
	char         *wal = xasprintf("%s-wal", path), sql[64];
	struct store *s;
	struct stat   st;
	int64_t       pages = 0, v = 0;
	int           i, rv        = 0;

	UNUSED(state);
	assert_int_equal(store_open(&s, path), 0);
	assert_string_equal(store_dir(s), dir);
	assert_int_equal(store_exec(s, "CREATE TABLE t(b BLOB)"), 0);
	assert_int_equal(
	    store_run(s, "INSERT INTO t VALUES (zeroblob(8192))", NULL), 0);
	assert_int_equal(
	    store_int(s, &pages, 0, "PRAGMA page_count", NULL), 0);
	snprintf(
	    sql, sizeof(sql), "PRAGMA max_page_count=%lld", (long long) pages);
	assert_int_equal(store_exec(s, sql), 0);
	assert_int_equal(store_begin(s), 0);
	assert_false(store_full(s));
	for (i = 0; i < 10 && rv == 0; i++)
		rv = store_run(
		    s, "INSERT INTO t VALUES (zeroblob(4096))", NULL);
	assert_int_equal(rv, ERR_NOSPACE);
	assert_true(store_full(s));
	/* sqlite may have rolled back by itself: rollback still works */
	assert_int_equal(store_rollback(s), 0);
	assert_true(store_full(s)); /* until the next transaction */
	assert_int_equal(store_begin(s), 0);
	assert_false(store_full(s));
	assert_int_equal(store_rollback(s), 0);
	/* a commit that only rewrites a page still works: the probe */
	assert_int_equal(store_probe(s), 0);
	assert_int_equal(stat(wal, &st), 0);
	assert_int_equal(st.st_size, 0); /* checkpointed and truncated */
	assert_int_equal(
	    store_run(s, "INSERT INTO t VALUES (zeroblob(4096))", NULL),
	    ERR_NOSPACE);
	assert_int_equal(store_exec(s, "PRAGMA max_page_count=1000000"), 0);
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(
	    store_run(s, "INSERT INTO t VALUES (zeroblob(4096))", NULL), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(stat(wal, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(
	    store_int(s, &v, 0, "SELECT count(*) FROM t", NULL), 0);
	assert_int_equal(v, 2);
	/* a commit without a full disk before it leaves the WAL alone */
	assert_int_equal(store_run(s, "INSERT INTO t VALUES (1)", NULL), 0);
	assert_int_equal(stat(wal, &st), 0);
	assert_true(st.st_size > 0);
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_probe(s), ERR_STATE);
	assert_int_equal(store_rollback(s), 0);
	store_close(&s);
	tb_rmrf(dir);
	free(wal);
	free(path);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_and_query),
		cmocka_unit_test(test_transactions),
		cmocka_unit_test(test_full_disk),
	};

	log_init("test_store", NULL, LOG_ERROR);
	log_set_stderr(0);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
