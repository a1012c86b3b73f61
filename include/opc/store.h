/*
 * store.h - one sqlite database per service.
 *
 * common/store.c is the only sqlite3 user.  Databases run in WAL mode with
 * synchronous=NORMAL (survives kill -9; FULL on request for power loss).
 * Prepared statements are cached per SQL text, so call sites just name
 * their SQL; a statement handed out by store_prep() is reset and unbound.
 */
#ifndef OPC_STORE_H
#define OPC_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct store;
struct store_stmt;

/* store_open opens (creating) the db at path (":memory:" allowed).
 * Returns 0 or ERR_IO (logged with sqlite's text).  Release with
 * store_close(), which rolls back an open transaction. */
int  store_open(struct store **sp, const char *path);
void store_close(struct store **sp);
/* store_set_sync chooses synchronous=FULL (full != 0) or NORMAL. */
int store_set_sync(struct store *, int full);

/* store_exec runs one or more SQL statements without parameters. */
int store_exec(struct store *, const char *sql);
/* store_add_column adds table.column (decl, e.g. "REAL NOT NULL DEFAULT
 * 0") unless the table has it: a schema migration that keeps every row.
 * table, column and decl are code's own words, never input. */
int store_add_column(
    struct store *, const char *table, const char *column, const char *decl);

/* Transactions.  store_begin fails with ERR_STATE when one is open.
 * Any call that writes may fail with ERR_NOSPACE (the disk is full). */
int store_begin(struct store *);
int store_commit(struct store *);
int store_rollback(struct store *);
int store_in_txn(const struct store *);

/* store_full is 1 when a statement of the current (or last) transaction
 * failed because the disk is full, whatever error its caller made of it:
 * an infrastructure fault, not a bad input. */
int store_full(const struct store *);
/* store_dir is the directory of the db (what fills up); owned by s. */
const char *store_dir(const struct store *);
/* store_probe commits a transaction that writes one page: 0 when writes
 * work, ERR_NOSPACE while the disk is full, ERR_STATE inside a
 * transaction.  After a full disk, the first commit that works (this or
 * any) checkpoints the WAL and truncates it. */
int store_probe(struct store *);

/* store_prep returns the cached prepared statement for sql (reset, no
 * bindings).  Returns 0 or ERR_IO.  The statement stays owned by s. */
int store_prep(struct store *, struct store_stmt **stp, const char *sql);

/* Binding, 1-based.  store_bind_text with NULL binds SQL NULL.  Text and
 * blobs are copied by sqlite (SQLITE_TRANSIENT). */
int store_bind_int(struct store_stmt *, int i, int64_t v);
int store_bind_double(struct store_stmt *, int i, double v);
int store_bind_text(struct store_stmt *, int i, const char *s);
int store_bind_blob(struct store_stmt *, int i, const void *p, size_t n);
int store_bind_null(struct store_stmt *, int i);

/* store_step returns 1 when a row is ready, 0 when done, or ERR_IO (or
 * ERR_EXISTS for a constraint violation). */
int store_step(struct store_stmt *);

/* store_done resets a statement early (releases its read snapshot). */
void store_done(struct store_stmt *);

/* Columns, 0-based, valid until the next step/reset. */
int64_t     store_col_int(struct store_stmt *, int i);
double      store_col_double(struct store_stmt *, int i);
const char *store_col_text(struct store_stmt *, int i); /* NULL for NULL */
const void *store_col_blob(struct store_stmt *, int i, size_t *n);
int         store_col_is_null(struct store_stmt *, int i);
/* store_col_dup returns a copy of a text column, NULL for SQL NULL. */
char *store_col_dup(struct store_stmt *, int i);

/* store_run prepares sql, binds the arguments described by fmt and steps
 * to completion.  fmt characters: 'i' int64_t, 'd' double, 't' const char
 * * (NULL = SQL NULL), 'b' (const void *, size_t).  Returns 0, ERR_EXISTS
 * (constraint) or ERR_IO. */
int store_run(struct store *, const char *sql, const char *fmt, ...);
/* store_int runs a query returning one integer; *out = def when no row. */
int store_int(struct store *, int64_t *out, int64_t def, const char *sql,
    const char *fmt, ...);

/* store_counts runs a "SELECT key, count" query and returns a new JSON
 * object {key: count} (empty on error), for status hooks. */
json_t *store_counts(struct store *, const char *sql);

/* store_changes: rows changed by the last statement. */
int64_t store_changes(struct store *);
int64_t store_last_rowid(struct store *);

#endif
