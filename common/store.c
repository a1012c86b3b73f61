/*
 * store.c - the only sqlite3 user.
 *
 * One database per service, WAL, synchronous=NORMAL by default.  Prepared
 * statements are cached in a small open-addressing table keyed by the SQL
 * text, so hot paths never re-parse SQL.  A struct store_stmt is simply a
 * sqlite3_stmt: the cast is the whole wrapper.
 */
#include <stdarg.h>
#include <string.h>

#include <sqlite3.h>

#include "opc/err.h"
#include "opc/log.h"
#include "opc/store.h"
#include "opc/util.h"

#define CACHE_SLOTS 256 /* power of two */

struct cached {
	char         *sql;
	sqlite3_stmt *stmt;
};

struct store {
	sqlite3      *db;
	char         *path;
	int           in_txn;
	struct cached cache[CACHE_SLOTS];
};

#define ST(st) ((sqlite3_stmt *) (void *) (st))

static int
xlate(struct store *s, int rc, const char *what)
{
	switch (rc) {
	case SQLITE_OK:
	case SQLITE_DONE:
		return (0);
	case SQLITE_ROW:
		return (1);
	case SQLITE_CONSTRAINT:
		return (ERR_EXISTS);
	default:
		log_error("store.error", "%s: %s: %s", s ? s->path : "?",
		    what, s ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		return (ERR_IO);
	}
}

int
store_open(struct store **sp, const char *path)
{
	struct store *s;
	int           rv;

	*sp = NULL;
	s = xcalloc(1, sizeof(*s));
	s->path = xstrdup(path);
	if (sqlite3_open_v2(path, &s->db,
	        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	            SQLITE_OPEN_NOMUTEX,
	        NULL) != SQLITE_OK) {
		rv = xlate(s, SQLITE_ERROR, "open");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	/* A 512 KiB page cache instead of sqlite's 2 MB: the dbs are small,
	 * the kernel caches the file anyway, and the default was half of an
	 * idle daemon's private memory (router 8.5 -> 7.0 MiB RSS; catch-up
	 * of 100,000 events unchanged; scripts/bench.sh). */
	if ((rv = store_exec(s, "PRAGMA journal_mode=WAL;"
	                        "PRAGMA synchronous=NORMAL;"
	                        "PRAGMA foreign_keys=ON;"
	                        "PRAGMA cache_size=-512;")) != 0)
		goto fail;
	*sp = s;
	return (0);

fail:
	store_close(&s);
	return (rv);
}

void
store_close(struct store **sp)
{
	struct store *s = *sp;
	size_t        i;

	if (s == NULL)
		return;
	if (s->in_txn)
		(void) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	for (i = 0; i < CACHE_SLOTS; i++) {
		sqlite3_finalize(s->cache[i].stmt);
		free(s->cache[i].sql);
	}
	sqlite3_close(s->db);
	free(s->path);
	free(s);
	*sp = NULL;
}

int
store_set_sync(struct store *s, int full)
{
	return (store_exec(s, full ? "PRAGMA synchronous=FULL"
	                           : "PRAGMA synchronous=NORMAL"));
}

int
store_exec(struct store *s, const char *sql)
{
	char *msg = NULL;
	int   rc;

	rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		log_error("store.exec", "%s: %s", s->path,
		    msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return (rc == SQLITE_CONSTRAINT ? ERR_EXISTS : ERR_IO);
	}
	return (0);
}

int
store_add_column(struct store *st, const char *table, const char *column,
    const char *decl)
{
	int64_t n = 0;
	char   *sql;
	int     rv;

	if ((rv = store_int(st, &n, 0,
	         "SELECT count(*) FROM pragma_table_info(?) WHERE name = ?",
	         "tt", table, column)) != 0 || n > 0)
		return (rv);
	sql = xasprintf("ALTER TABLE %s ADD COLUMN %s %s", table, column,
	    decl);
	rv = store_exec(st, sql);
	free(sql);
	if (rv == 0)
		log_info("store.migrate", "added %s.%s", table, column);
	return (rv);
}

int
store_begin(struct store *s)
{
	int rv;

	if (s->in_txn)
		return (ERR_STATE);
	if ((rv = store_exec(s, "BEGIN IMMEDIATE")) == 0)
		s->in_txn = 1;
	return (rv);
}

int
store_commit(struct store *s)
{
	int rv;

	if (!s->in_txn)
		return (ERR_STATE);
	if ((rv = store_exec(s, "COMMIT")) != 0) {
		(void) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		s->in_txn = 0;
		return (rv);
	}
	s->in_txn = 0;
	return (0);
}

int
store_rollback(struct store *s)
{
	if (!s->in_txn)
		return (ERR_STATE);
	s->in_txn = 0;
	return (store_exec(s, "ROLLBACK"));
}

int
store_in_txn(const struct store *s)
{
	return (s->in_txn);
}

static uint32_t
hash(const char *p)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	while (*p != '\0')
		h = (h ^ (uint8_t) *p++) * 16777619u;
	return (h);
}

int
store_prep(struct store *s, struct store_stmt **stp, const char *sql)
{
	struct cached *c;
	uint32_t       h, i;

	*stp = NULL;
	h = hash(sql);
	for (i = 0; i < CACHE_SLOTS; i++) {
		c = &s->cache[(h + i) & (CACHE_SLOTS - 1)];
		if (c->sql == NULL || strcmp(c->sql, sql) == 0)
			break;
	}
	if (i == CACHE_SLOTS) {
		log_error("store.prep", "%s: statement cache full", s->path);
		return (ERR_NOMEM);
	}
	if (c->sql == NULL) {
		if (sqlite3_prepare_v2(s->db, sql, -1, &c->stmt, NULL) !=
		    SQLITE_OK) {
			log_error("store.prep", "%s: %s: %s", s->path,
			    sqlite3_errmsg(s->db), sql);
			sqlite3_finalize(c->stmt);
			c->stmt = NULL;
			return (ERR_IO);
		}
		c->sql = xstrdup(sql);
	} else {
		sqlite3_reset(c->stmt);
		sqlite3_clear_bindings(c->stmt);
	}
	*stp = (struct store_stmt *) (void *) c->stmt;
	return (0);
}

static int
bindrv(struct store_stmt *st, int rc)
{
	if (rc == SQLITE_OK)
		return (0);
	log_error("store.bind", "%s", sqlite3_errstr(rc));
	UNUSED(st);
	return (ERR_INVAL);
}

int
store_bind_int(struct store_stmt *st, int i, int64_t v)
{
	return (bindrv(st, sqlite3_bind_int64(ST(st), i, v)));
}

int
store_bind_double(struct store_stmt *st, int i, double v)
{
	return (bindrv(st, sqlite3_bind_double(ST(st), i, v)));
}

int
store_bind_text(struct store_stmt *st, int i, const char *v)
{
	if (v == NULL)
		return (store_bind_null(st, i));
	return (bindrv(st, sqlite3_bind_text(ST(st), i, v, -1,
	                       SQLITE_TRANSIENT)));
}

int
store_bind_blob(struct store_stmt *st, int i, const void *p, size_t n)
{
	return (bindrv(st, sqlite3_bind_blob64(ST(st), i, n ? p : "", n,
	                       SQLITE_TRANSIENT)));
}

int
store_bind_null(struct store_stmt *st, int i)
{
	return (bindrv(st, sqlite3_bind_null(ST(st), i)));
}

int
store_step(struct store_stmt *st)
{
	sqlite3 *db = sqlite3_db_handle(ST(st));
	int      rc;

	rc = sqlite3_step(ST(st));
	if (rc == SQLITE_ROW)
		return (1);
	if (rc == SQLITE_DONE)
		return (0);
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		sqlite3_reset(ST(st));
		return (ERR_EXISTS);
	}
	log_error("store.step", "%s: %s", sqlite3_errmsg(db),
	    sqlite3_sql(ST(st)));
	sqlite3_reset(ST(st));
	return (ERR_IO);
}

void
store_done(struct store_stmt *st)
{
	sqlite3_reset(ST(st));
}

int64_t
store_col_int(struct store_stmt *st, int i)
{
	return (sqlite3_column_int64(ST(st), i));
}

double
store_col_double(struct store_stmt *st, int i)
{
	return (sqlite3_column_double(ST(st), i));
}

const char *
store_col_text(struct store_stmt *st, int i)
{
	return ((const char *) sqlite3_column_text(ST(st), i));
}

const void *
store_col_blob(struct store_stmt *st, int i, size_t *n)
{
	const void *p = sqlite3_column_blob(ST(st), i);

	*n = (size_t) sqlite3_column_bytes(ST(st), i);
	return (p);
}

char *
store_col_dup(struct store_stmt *st, int i)
{
	const char *s = store_col_text(st, i);

	return (s != NULL ? xstrdup(s) : NULL);
}

int
store_col_is_null(struct store_stmt *st, int i)
{
	return (sqlite3_column_type(ST(st), i) == SQLITE_NULL);
}

static int
vbind(struct store *s, struct store_stmt **stp, const char *sql,
    const char *fmt, va_list ap)
{
	struct store_stmt *st;
	const void        *p;
	const char        *q;
	size_t             n;
	int                i, rv;

	/* One argument per '?': a mismatch would read garbage varargs. */
	for (q = sql, n = 0; *q != '\0'; q++)
		n += *q == '?';
	if (n != (fmt ? strlen(fmt) : 0)) {
		log_error("store.bind", "%zu placeholders but format \"%s\": %s",
		    n, fmt ? fmt : "", sql);
		return (ERR_INVAL);
	}
	if ((rv = store_prep(s, &st, sql)) != 0)
		return (rv);
	for (i = 1; fmt != NULL && *fmt != '\0'; fmt++, i++) {
		switch (*fmt) {
		case 'i':
			rv = store_bind_int(st, i, va_arg(ap, int64_t));
			break;
		case 'd':
			rv = store_bind_double(st, i, va_arg(ap, double));
			break;
		case 't':
			rv = store_bind_text(st, i, va_arg(ap, const char *));
			break;
		case 'b':
			p = va_arg(ap, const void *);
			n = va_arg(ap, size_t);
			rv = store_bind_blob(st, i, p, n);
			break;
		default:
			rv = ERR_INVAL;
			break;
		}
		if (rv != 0)
			return (rv);
	}
	*stp = st;
	return (0);
}

int
store_run(struct store *s, const char *sql, const char *fmt, ...)
{
	struct store_stmt *st;
	va_list            ap;
	int                rv;

	va_start(ap, fmt);
	rv = vbind(s, &st, sql, fmt, ap);
	va_end(ap);
	if (rv != 0)
		return (rv);
	while ((rv = store_step(st)) == 1)
		;
	sqlite3_reset(ST(st));
	return (rv);
}

int
store_int(struct store *s, int64_t *out, int64_t def, const char *sql,
    const char *fmt, ...)
{
	struct store_stmt *st;
	va_list            ap;
	int                rv;

	*out = def;
	va_start(ap, fmt);
	rv = vbind(s, &st, sql, fmt, ap);
	va_end(ap);
	if (rv != 0)
		return (rv);
	if ((rv = store_step(st)) == 1) {
		if (!store_col_is_null(st, 0))
			*out = store_col_int(st, 0);
		rv = 0;
	}
	sqlite3_reset(ST(st));
	return (rv);
}

int64_t
store_changes(struct store *s)
{
	return (sqlite3_changes64(s->db));
}

int64_t
store_last_rowid(struct store *s)
{
	return (sqlite3_last_insert_rowid(s->db));
}

json_t *
store_counts(struct store *s, const char *sql)
{
	struct store_stmt *st;
	json_t            *o = json_object();

	if (store_prep(s, &st, sql) != 0)
		return (o);
	while (store_step(st) == 1)
		if (store_col_text(st, 0) != NULL)
			json_object_set_new(o, store_col_text(st, 0),
			    json_integer(store_col_int(st, 1)));
	store_done(st);
	return (o);
}
