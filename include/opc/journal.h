/*
 * journal.h - the per-instance durable event journal and consumer cursors.
 *
 * DESIGN.md section 2.  A producer appends every durable event to its
 * journal table inside the same transaction as the state change that caused
 * it and publishes the frame after commit.  seq is dense (1, 2, 3, ...) per
 * instance.  Consumers keep one cursor per upstream instance, written in the
 * transaction that applies the events.
 *
 *   journal(seq INTEGER PRIMARY KEY, topic TEXT, ts INTEGER, corr TEXT,
 *           frame BLOB)
 *   cursor(upstream TEXT PRIMARY KEY, seq INTEGER)
 */
#ifndef OPC_JOURNAL_H
#define OPC_JOURNAL_H

#include "opc/bus.h"

/* The largest frame a journal holds: what a subscriber accepts
 * (BUS_MAX_MSG), less room for a replay batch's framing. */
#define JOURNAL_MAX_FRAME (BUS_MAX_MSG - 64u * 1024)

#include <stddef.h>
#include <stdint.h>

#include "opc/msg.h"

struct store;
struct journal;

/* journal_open creates the tables if needed and loads the last seq.  src
 * (copied) is the instance name put in every envelope. */
int  journal_open(struct journal **jp, struct store *s, const char *src);
void journal_close(struct journal **jp);

/* journal_last_seq: the highest seq appended (0 when empty). */
uint64_t journal_last_seq(const struct journal *);
/* journal_first_seq: the lowest seq still retained (last+1 when empty). */
uint64_t journal_first_seq(struct journal *);

/* journal_append assigns the next seq, packs the frame (src, seq, id
 * "src:seq", ts now) and inserts it.  Must run inside a transaction of the
 * same store.  The frame is appended to out for publishing after commit.
 * Returns 0, ERR_STATE (no transaction), ERR_INVAL (bad body), ERR_TOOBIG
 * (the frame would pass JOURNAL_MAX_FRAME) or ERR_IO. */
int journal_append(struct journal *, enum msg_topic t, const char *corr,
    const void *body, struct buf *out);
/* journal_abort restores the in-memory seq after a rolled back
 * transaction (re-reads it from the table). */
int journal_abort(struct journal *);

typedef int (*journal_fn)(
    void *arg, uint64_t seq, const void *frame, size_t len);
/* journal_read calls fn for each event with seq >= from, in order, at
 * most max_n events and about max_bytes bytes (at least one event).  fn
 * returning non-zero stops the walk and is returned. */
int journal_read(struct journal *, uint64_t from, size_t max_n,
    size_t max_bytes, journal_fn fn, void *arg);

/* journal_trim deletes events so that at most keep remain. */
int journal_trim(struct journal *, uint64_t keep);

/* Cursors of a consumer (same store). */
int journal_cursor_get(struct store *, const char *upstream, uint64_t *seq);
int journal_cursor_set(struct store *, const char *upstream, uint64_t seq);

#endif
