/*
 * store.c - the only sqlite3 user.
 *
 * One database per service, WAL, synchronous=NORMAL by default.  Prepared
 * statements are cached in a small open-addressing table keyed by the SQL
 * text, so hot paths never re-parse SQL.  A struct store_stmt is the cache
 * slot of its statement, which knows its store.
 *
 * A full disk (SQLITE_FULL, or an I/O error whose errno is ENOSPC or
 * EDQUOT) is ERR_NOSPACE, remembered for the transaction (store_full) so
 * that a caller can tell an infrastructure fault from a bad input whatever
 * code its own layers made of it.  The first commit that works after one
 * checkpoints the WAL and truncates it: the frames a failed transaction
 * wrote past the WAL's end hold space nothing needs.  journal_size_limit
 * gives back, at the WAL's next restart, what a WAL grew past what
 * autocheckpoint lets it reach (a long reader, a full disk).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "opc/err.h"
#include "opc/log.h"
#include "opc/store.h"
#include "opc/util.h"

#define CACHE_SLOTS 256 /* power of two */
/* What a WAL keeps of its file when it restarts (bytes): about what
 * autocheckpoint (1000 pages of 4 KiB) lets it grow to anyway. */
#define WAL_KEEP (4 * 1024 * 1024)
#define BUSY_MS 5000

/* A struct store_stmt is one of these. */
struct cached {
	char         *sql;
	sqlite3_stmt *stmt;
	struct store *s;
};

struct store {
	sqlite3      *db;
	char         *path;
	char         *dir; /* what fills up: the db's directory */
	int           in_txn;
	bool          full;     /* this transaction met a full disk */
	bool          was_full; /* since the last commit that worked */
	struct cached cache[CACHE_SLOTS];
};

#define ST(st) (((struct cached *) (void *) (st))->stmt)

/* nospace: rc (from s's connection) says the disk is full.  It records
 * that for store_full() and the next commit's checkpoint. */
static bool
nospace(struct store *s, int rc)
{
	int e;

	if ((rc & 0xff) != SQLITE_FULL) {
		if ((rc & 0xff) != SQLITE_IOERR)
			return (false);
		e = sqlite3_system_errno(s->db);
		if (e != ENOSPC && e != EDQUOT)
			return (false);
	}
	s->full = s->was_full = true;
	return (true);
}

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
		log_error("store.error", "%s: %s: %s", s ? s->path : "?", what,
		    s ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		return (s != NULL && nospace(s, rc) ? ERR_NOSPACE : ERR_IO);
	}
}

/* dir_of returns a copy of path's directory ("." for a bare name). */
static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return (xstrdup(strcmp(path, ":memory:") == 0 ? path : "."));
	if (slash == path)
		return (xstrdup("/"));
	return (xstrndup(path, (size_t) (slash - path)));
}

int
store_open(struct store **sp, const char *path)
{
	struct store *s;
	int           rv;

	*sp     = NULL;
	s       = xcalloc(1, sizeof(*s));
	s->path = xstrdup(path);
	s->dir  = dir_of(path);
	if (sqlite3_open_v2(path, &s->db,
	        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	            SQLITE_OPEN_NOMUTEX,
	        NULL) != SQLITE_OK) {
		rv = xlate(s, SQLITE_ERROR, "open");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, BUSY_MS);
	/* A 512 KiB page cache instead of sqlite's 2 MB: the dbs are small,
	 * the kernel caches the file anyway, and the default was half of an
	 * idle daemon's private memory (router 8.5 -> 7.0 MiB RSS; catch-up
	 * of 100,000 events unchanged; scripts/bench.sh). */
	if ((rv = store_exec(s,
	         "PRAGMA journal_mode=WAL;"
	         "PRAGMA synchronous=NORMAL;"
	         "PRAGMA foreign_keys=ON;"
	         "PRAGMA cache_size=-512;")) != 0)
		goto fail;
	{
		char sql[64];

		snprintf(sql, sizeof(sql), "PRAGMA journal_size_limit=%d",
		    WAL_KEEP);
		if ((rv = store_exec(s, sql)) != 0)
			goto fail;
	}
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
	free(s->dir);
	free(s);
	*sp = NULL;
}

int
store_set_sync(struct store *s, int full)
{
	return (store_exec(s,
	    full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
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
		if (nospace(s, rc))
			return (ERR_NOSPACE);
		return (rc == SQLITE_CONSTRAINT ? ERR_EXISTS : ERR_IO);
	}
	return (0);
}

int
store_add_column(
    struct store *st, const char *table, const char *column, const char *decl)
{
	int64_t n = 0;
	char   *sql;
	int     rv;

	if ((rv = store_int(st, &n, 0,
	         "SELECT count(*) FROM pragma_table_info(?) WHERE name = ?",
	         "tt", table, column)) != 0 ||
	    n > 0)
		return (rv);
	sql =
	    xasprintf("ALTER TABLE %s ADD COLUMN %s %s", table, column, decl);
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
	s->full = false;
	if ((rv = store_exec(s, "BEGIN IMMEDIATE")) == 0)
		s->in_txn = 1;
	return (rv);
}

/* reclaim checkpoints the whole WAL into the db and truncates it to
 * nothing, after the first commit that worked since a full disk. */
static void
reclaim(struct store *s)
{
	struct stat st;
	char       *wal  = xasprintf("%s-wal", s->path);
	long long   size = stat(wal, &st) == 0 ? (long long) st.st_size : -1;
	int         rc;

	free(wal);
	s->was_full = false;
	/* never wait on the loop: a reader holding it back makes this a
	 * partial checkpoint, SQLITE_BUSY */
	sqlite3_busy_timeout(s->db, 0);
	rc = sqlite3_wal_checkpoint_v2(
	    s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sqlite3_busy_timeout(s->db, BUSY_MS);
	if (rc == SQLITE_OK)
		log_info("store.reclaimed",
		    "%s: writes work again; its WAL "
		    "(%lld bytes) checkpointed and truncated",
		    s->path, size);
	else {
		/* busy (a reader) or still short of space: the WAL stays,
		 * and journal_size_limit trims it at its next restart */
		log_warn("store.reclaim", "%s: WAL checkpoint: %s", s->path,
		    sqlite3_errmsg(s->db));
		if (nospace(s, rc))
			s->full = false;
	}
}

int
store_commit(struct store *s)
{
	int rv;

	if (!s->in_txn)
		return (ERR_STATE);
	if ((rv = store_exec(s, "COMMIT")) != 0) {
		if (!sqlite3_get_autocommit(s->db))
			(void) sqlite3_exec(
			    s->db, "ROLLBACK", NULL, NULL, NULL);
		s->in_txn = 0;
		return (rv);
	}
	s->in_txn = 0;
	if (s->was_full && !s->full)
		reclaim(s);
	return (0);
}

int
store_rollback(struct store *s)
{
	if (!s->in_txn)
		return (ERR_STATE);
	s->in_txn = 0;
	/* sqlite may have rolled back by itself (a full disk, an I/O
	 * error): nothing is left to roll back then */
	if (sqlite3_get_autocommit(s->db))
		return (0);
	return (store_exec(s, "ROLLBACK"));
}

int
store_full(const struct store *s)
{
	return (s->full);
}

const char *
store_dir(const struct store *s)
{
	return (s->dir);
}

int
store_probe(struct store *s)
{
	int64_t v = 0;
	char    sql[64];
	int     rv;

	if (s->in_txn)
		return (ERR_STATE);
	if ((rv = store_begin(s)) != 0)
		return (rv);
	/* Rewriting the header's user_version (unused otherwise) dirties
	 * page 1: a commit that really appends a frame to the WAL. */
	if ((rv = store_int(s, &v, 0, "PRAGMA user_version", NULL)) == 0) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version=%lld",
		    (long long) v);
		rv = store_exec(s, sql);
	}
	if (rv == 0)
		return (store_commit(s));
	(void) store_rollback(s);
	return (rv);
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
	h    = hash(sql);
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
		c->s = s;
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
	*stp = (struct store_stmt *) (void *) c;
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
	return (
	    bindrv(st, sqlite3_bind_text(ST(st), i, v, -1, SQLITE_TRANSIENT)));
}

int
store_bind_blob(struct store_stmt *st, int i, const void *p, size_t n)
{
	return (bindrv(st,
	    sqlite3_bind_blob64(ST(st), i, n ? p : "", n, SQLITE_TRANSIENT)));
}

int
store_bind_null(struct store_stmt *st, int i)
{
	return (bindrv(st, sqlite3_bind_null(ST(st), i)));
}

int
store_step(struct store_stmt *st)
{
	struct store *s = ((struct cached *) (void *) st)->s;
	int           rc;

	rc = sqlite3_step(ST(st));
	if (rc == SQLITE_ROW)
		return (1);
	if (rc == SQLITE_DONE)
		return (0);
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		sqlite3_reset(ST(st));
		return (ERR_EXISTS);
	}
	log_error("store.step", "%s: %s: %s", s->path, sqlite3_errmsg(s->db),
	    sqlite3_sql(ST(st)));
	sqlite3_reset(ST(st));
	return (nospace(s, rc) ? ERR_NOSPACE : ERR_IO);
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
		log_error("store.bind",
		    "%zu placeholders but format \"%s\": %s", n,
		    fmt ? fmt : "", sql);
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
			p  = va_arg(ap, const void *);
			n  = va_arg(ap, size_t);
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
