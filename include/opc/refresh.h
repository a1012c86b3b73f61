/*
 * refresh.h - a text kept fresh by a thread of its own (common/
 * refresh.c): every interval the thread calls make() and keeps what it
 * returns, under a mutex; readers copy the latest.  For what must not be
 * built on the loop thread because it blocks (ctl calls to every
 * instance): the webhook's /metrics text, the dashboard's state.
 */
#ifndef OPC_REFRESH_H
#define OPC_REFRESH_H

#include <stdint.h>

struct refresh;

/* refresh_make builds the next text (malloc'd; NULL: none this time),
 * on the refresh thread, with the arg given to refresh_open. */
typedef char *refresh_make(void *arg);

/* refresh_open starts the thread: make(arg) at once, then every
 * interval_ms.  0, or ERR_IO when the thread cannot start. */
int refresh_open(
    struct refresh **rp, int64_t interval_ms, refresh_make *make, void *arg);

/* refresh_text returns a copy of the latest text (the caller frees it),
 * or NULL before the first (or when it was NULL). */
char *refresh_text(struct refresh *);

/* refresh_close stops the thread (waiting for a make() under way) and
 * frees it all; *rp becomes NULL.  NULL is a no-op. */
void refresh_close(struct refresh **rp);

#endif
