/*
 * lease.h - a run's lease: the arithmetic the router, the executor and
 * the executor's worker share.  Pure functions of their arguments: every
 * time is monotonic milliseconds (mono_ms()) passed in, never read here.
 *
 * The router takes a run back when it has not heard the run's executor
 * for the run's lease (lease_expired), and gives the task to another run.
 * Each executor heartbeat carries a stamp: the executor's own monotonic
 * time when it was built, and an epoch naming that life of the executor.
 * In its own heartbeat the router grants, for each executor it has heard
 * since it started, the runs it still holds for that executor, echoing
 * the newest stamp it heard from it.  The router heard that heartbeat
 * after it was sent, so it cannot take those runs back before stamp +
 * lease, measured on the executor's own clock: network delays and the
 * two hosts' clocks do not enter.  The executor lets a granted run's
 * worker go on until stamp + lease / 2 (lease_stop_at), which leaves half
 * a lease to stop its backend before the router may start the task again.
 * A grant that arrives late (held up by a partition) echoes an old stamp
 * and extends nothing; a silent router extends nothing either.
 *
 * The worker learns its deadline from the run's lease file, which the
 * executor rewrites on every grant (lease_format) and the worker reads
 * (lease_parse): one line, "stop_at <monotonic ms>".
 */
#ifndef OPC_LEASE_H
#define OPC_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The lease of a dispatch that names none (the router's default). */
#define LEASE_DEFAULT_MS 30000

/* lease_expired: the router has lost a run's lease at now when its
 * executor, last heard at heard (0: not since the router started, which
 * was at since), has been silent for more than lease_ms (<= 0: the
 * default).  Exactly lease_ms of silence is not yet expired. */
bool lease_expired(
    int64_t heard, int64_t since, int64_t now, int64_t lease_ms);

/* lease_stop_at is the instant a worker must have stopped by when its
 * run was last granted on a heartbeat stamped stamp: stamp + lease_ms / 2
 * (lease_ms <= 0: the default), saturating at INT64_MAX.  A stamp <= 0
 * (no grant) gives 0: stop at once. */
int64_t lease_stop_at(int64_t stamp, int64_t lease_ms);

/* lease_grant_usable: a grant echoing stamp may renew leases at now (the
 * executor's clock) when the stamp is one this executor could have sent
 * (0 < stamp <= now) and is newer than last, the stamp of the last grant
 * used (0: none).  A repeated, reordered or late grant renews nothing,
 * and a stamp from the future is not believed. */
bool lease_grant_usable(int64_t stamp, int64_t last, int64_t now);

/* lease_revokes: a usable grant echoing stamp that does not name a run
 * (named false) takes its lease away at once when the run started at or
 * before stamp: the heartbeat the router echoes was sent after the run's
 * dispatch was received, so the router had that dispatch when it built
 * the grant, and holds the run no longer (taken back, or finished).  A
 * run started after stamp may have been dispatched after the grant was
 * built: its lease stands.  A grant that names the run never revokes. */
bool lease_revokes(bool named, int64_t started, int64_t stamp);

/* lease_confirmed: the newest usable grant (stamp; 0: none yet) still
 * covers a run of lease_ms at now.  An executor starts no run without a
 * confirmed lease: one cut off from the router starts nothing. */
bool lease_confirmed(int64_t stamp, int64_t lease_ms, int64_t now);

/* lease_lapsed: a worker whose lease file says stop_at must stop at now
 * (now >= stop_at). */
bool lease_lapsed(int64_t stop_at, int64_t now);

/* lease_format writes the lease file's text for stop_at into buf (len
 * bytes, 32 are enough).  Returns its length, or -1 when it does not fit
 * or stop_at < 0. */
int lease_format(char *buf, size_t len, int64_t stop_at);

/* lease_parse reads a lease file's text (len bytes, not NUL-terminated)
 * into *stop_at.  Returns 0, or -1 for anything else than "stop_at N"
 * with N >= 0 and an optional newline (*stop_at is then 0: stop). */
int lease_parse(const char *text, size_t len, int64_t *stop_at);

#endif
