/*
 * journal.c - the producer's durable event log and the consumer cursors.
 *
 * Invariants: seq is dense and strictly increasing per instance; an event
 * is in the journal iff the transaction that caused it committed; the
 * stored frame is byte-identical to what was published, so a replay is a
 * resend, not a re-encoding.
 */
#include <stdio.h>
#include <string.h>

#include "opc/err.h"
#include "opc/journal.h"
#include "opc/log.h"
#include "opc/store.h"
#include "opc/util.h"

struct journal {
	struct store *store;
	char         *src;
	uint64_t      last;
	char          idbuf[256];
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS journal ("
    " seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, ts INTEGER NOT NULL,"
    " corr TEXT, frame BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS cursor ("
    " upstream TEXT PRIMARY KEY, seq INTEGER NOT NULL);";

static int
load_last(struct journal *j)
{
	int64_t v;
	int     rv;

	rv = store_int(j->store, &v, 0, "SELECT max(seq) FROM journal", NULL);
	if (rv == 0)
		j->last = (uint64_t) v;
	return (rv);
}

int
journal_open(struct journal **jp, struct store *s, const char *src)
{
	struct journal *j;
	int             rv;

	*jp = NULL;
	if ((rv = store_exec(s, schema)) != 0)
		return (rv);
	j        = xcalloc(1, sizeof(*j));
	j->store = s;
	j->src   = xstrdup(src);
	if ((rv = load_last(j)) != 0) {
		journal_close(&j);
		return (rv);
	}
	*jp = j;
	return (0);
}

void
journal_close(struct journal **jp)
{
	struct journal *j = *jp;

	if (j == NULL)
		return;
	free(j->src);
	free(j);
	*jp = NULL;
}

uint64_t
journal_last_seq(const struct journal *j)
{
	return (j->last);
}

uint64_t
journal_first_seq(struct journal *j)
{
	int64_t v;

	if (store_int(j->store, &v, 0, "SELECT min(seq) FROM journal", NULL) !=
	        0 ||
	    v == 0)
		return (j->last + 1);
	return ((uint64_t) v);
}

int
journal_append(struct journal *j, enum msg_topic t, const char *corr,
    const void *body, struct buf *out)
{
	struct msg_hdr hdr;
	size_t         start = out->len;
	uint64_t       seq   = j->last + 1;
	int            rv;

	if (!store_in_txn(j->store))
		return (ERR_STATE);
	snprintf(j->idbuf, sizeof(j->idbuf), "%s:%llu", j->src,
	    (unsigned long long) seq);
	memset(&hdr, 0, sizeof(hdr));
	hdr.src  = j->src;
	hdr.seq  = seq;
	hdr.id   = j->idbuf;
	hdr.ts   = now_ms();
	hdr.corr = corr;
	if ((rv = msg_pack(out, t, &hdr, body)) != 0) {
		out->len = start;
		return (rv);
	}
	/* An event no subscriber could receive (nng's RECVMAXSZ) would stall
	 * every consumer at it for good: it is never journaled. */
	if (out->len - start > JOURNAL_MAX_FRAME) {
		log_error("journal.too_big",
		    "%s event of %zu bytes refused: "
		    "over the %u-byte frame limit",
		    msg_topic_name(t), out->len - start,
		    (unsigned) JOURNAL_MAX_FRAME);
		out->len = start;
		return (ERR_TOOBIG);
	}
	rv = store_run(j->store,
	    "INSERT INTO journal(seq, topic, ts, corr, frame)"
	    " VALUES (?, ?, ?, ?, ?)",
	    "ititb", (int64_t) seq, msg_topic_name(t), hdr.ts, corr,
	    (const void *) (out->data + start), out->len - start);
	if (rv != 0) {
		out->len = start;
		return (rv == ERR_EXISTS ? ERR_STATE : rv);
	}
	j->last = seq;
	return (0);
}

int
journal_abort(struct journal *j)
{
	return (load_last(j));
}

int
journal_read(struct journal *j, uint64_t from, size_t max_n, size_t max_bytes,
    journal_fn fn, void *arg)
{
	struct store_stmt *st;
	const void        *p;
	size_t             n, count = 0, bytes = 0;
	int                rv;

	if ((rv = store_prep(j->store, &st,
	         "SELECT seq, frame FROM journal WHERE seq >= ?"
	         " ORDER BY seq LIMIT ?")) != 0)
		return (rv);
	store_bind_int(st, 1, (int64_t) from);
	store_bind_int(st, 2, (int64_t) (max_n ? max_n : 1));
	while ((rv = store_step(st)) == 1) {
		p = store_col_blob(st, 1, &n);
		if (count > 0 && bytes + n > max_bytes)
			break;
		if ((rv = fn(arg, (uint64_t) store_col_int(st, 0), p, n)) != 0)
			break;
		count++;
		bytes += n;
	}
	store_done(st);
	return (rv < 0 || rv > 1 ? rv : 0);
}

int
journal_trim(struct journal *j, uint64_t keep)
{
	if (j->last <= keep)
		return (0);
	return (store_run(j->store, "DELETE FROM journal WHERE seq <= ?", "i",
	    (int64_t) (j->last - keep)));
}

int
journal_cursor_get(struct store *s, const char *upstream, uint64_t *seq)
{
	int64_t v;
	int     rv;

	rv   = store_int(s, &v, 0, "SELECT seq FROM cursor WHERE upstream = ?",
	      "t", upstream);
	*seq = rv == 0 ? (uint64_t) v : 0;
	return (rv);
}

int
journal_cursor_set(struct store *s, const char *upstream, uint64_t seq)
{
	return (store_run(s,
	    "INSERT INTO cursor(upstream, seq) VALUES (?, ?)"
	    " ON CONFLICT(upstream) DO UPDATE SET seq = excluded.seq",
	    "ti", upstream, (int64_t) seq));
}
