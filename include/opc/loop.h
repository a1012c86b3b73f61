/*
 * loop.h - the one poll() loop of a service.
 *
 * Every fd a service watches (bus receive fds, curl sockets, child pipes,
 * signalfd) and every timer goes through here.  Callbacks run on the loop's
 * thread only and must not block.  A callback may add or remove watchers
 * and timers, including its own.
 */
#ifndef OPC_LOOP_H
#define OPC_LOOP_H

#include <poll.h>
#include <stdint.h>

struct loop;

typedef void (*loop_fd_fn)(struct loop *, int fd, short revents, void *arg);
typedef void (*loop_timer_fn)(struct loop *, void *arg);
typedef void (*loop_signal_fn)(struct loop *, int signo, void *arg);

/* loop_open creates a loop; release with loop_close(). */
int  loop_open(struct loop **lp);
void loop_close(struct loop **lp);

/* loop_add_fd watches fd for events (POLLIN/POLLOUT).  Adding an fd that
 * is already watched replaces its events, callback and arg. */
int  loop_add_fd(struct loop *, int fd, short events, loop_fd_fn, void *arg);
void loop_del_fd(struct loop *, int fd);

/* loop_timer schedules fn after ms milliseconds (once).  Returns a timer
 * id > 0 for loop_timer_cancel(). */
uint64_t loop_timer(struct loop *, int64_t ms, loop_timer_fn, void *arg);
void     loop_timer_cancel(struct loop *, uint64_t id);

/* loop_signals blocks the given signals and delivers them through a
 * signalfd to fn.  n may be 0 to remove.  Returns 0 or ERR_IO. */
int loop_signals(
    struct loop *, const int *sigs, int n, loop_signal_fn, void *arg);

/* loop_wakeup_fd returns an eventfd any thread may write to (8 bytes) to
 * make loop_run() return after its current iteration (loop_stop). */
int loop_wakeup_fd(struct loop *);

/* loop_run_once waits at most timeout_ms (-1: until the next timer or
 * event) and runs what is ready.  Returns 0 or ERR_IO. */
int loop_run_once(struct loop *, int timeout_ms);
/* loop_run runs until loop_stop() is called (from a callback) or the
 * wakeup fd is written. */
int  loop_run(struct loop *);
void loop_stop(struct loop *);
int  loop_stopped(const struct loop *);

#endif
