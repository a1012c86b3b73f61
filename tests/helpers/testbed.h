/*
 * testbed.h - run real service descriptors in-process, each on its own
 * thread with its own loop, talking over inproc:// or ipc:// sockets.
 * (czmq's actor handshake: start returns once the service is open; stop
 * wakes its loop and joins.)
 */
#ifndef OPC_TESTBED_H
#define OPC_TESTBED_H

#include <stdbool.h>
#include <sys/un.h>

#include "opc/svc.h"
#include "opc/topo.h"

struct tb_svc;

/* tb_dir returns a fresh temp dir (short path, for ipc), created once per
 * call; the caller frees it.  tb_rmrf removes it. */
char *tb_dir(void);
void  tb_rmrf(const char *dir);

/* tb_unix_sock returns a new AF_UNIX stream socket and fills sa with the
 * path of url (ipc://PATH) (asserts).  tb_hang_up connects one to url
 * and closes it before any handshake (what a peer killed while dialing
 * does). */
int  tb_unix_sock(const char *url, struct sockaddr_un *sa);
void tb_hang_up(const char *url);

/* tb_topo writes yaml into dir/opcenter.yaml and loads it (asserts). */
struct topo *tb_topo(const char *dir, const char *yaml);

/* tb_start opens the service for instance name (asserts) and runs it on a
 * new thread. */
struct tb_svc *tb_start(
    const struct svc_def *, struct topo *, const char *name);
/* tb_start_caught_up is tb_start, then waits (TB_WAIT_MS, asserts) until
 * the instance says it has caught up with its upstreams. */
struct tb_svc *tb_start_caught_up(
    const struct svc_def *, struct topo *, const char *name);
/* tb_fixture spawns a loopback fixture server (argv, its output appended
 * to log) and waits (TB_WAIT_MS, asserts) until it writes its port to
 * portfile; *port gets it.  Returns the child's pid. */
pid_t tb_fixture(
    char *const argv[], const char *log, const char *portfile, int *port);
/* tb_sh runs a shell command line made from fmt (test set-up only, never
 * task text) and asserts that it succeeds. */
void tb_sh(const char *fmt, ...) PRINTFLIKE(1, 2);
/* tb_stop stops and joins the thread and closes the service. */
void        tb_stop(struct tb_svc **);
struct svc *tb_svc(struct tb_svc *);

/* tb_status fetches ctl.status of instance name (NULL on failure). */
json_t *tb_status(struct topo *, const char *name);
/* tb_status_int reads an integer at a dotted path of the status (e.g.
 * "upstreams.prod.cursor"); -1 when absent. */
int64_t tb_status_int(struct topo *, const char *name, const char *path);
/* tb_wait_int polls tb_status_int until it equals want or timeout_ms
 * passes; returns the last value seen. */
int64_t tb_wait_int(struct topo *, const char *name, const char *path,
    int64_t want, int timeout_ms);

/* tb_shutdown is tb_stop with the def's shutdown hook run between the
 * loop's end and the close, as svc_main does (it stops child
 * processes). */
void tb_shutdown(struct tb_svc **);

/* tb_call sends the ctl request t with body (a struct msg_<t>, borrowed;
 * NULL: none) to instance name and waits up to TB_WAIT_MS.  *data (data
 * may be NULL) gets the reply's data.  Returns 0 or the service's ERR_*
 * code with its message in err. */
int tb_call(struct topo *, const char *name, enum msg_topic t,
    const void *body, json_t **data, char *err, size_t errlen);
/* tb_call_json is tb_call with the body given as JSON (borrowed), read
 * with the bus decoder's rules (asserts that it reads). */
int tb_call_json(struct topo *, const char *name, enum msg_topic t,
    const json_t *body, json_t **data, char *err, size_t errlen);

/* tb_call_raw is tb_call as a client that does not mend its text would
 * send it (our packer turns invalid UTF-8 into U+FFFD): each "%%" in the
 * packed request becomes the bytes 0xff 0xfe (asserts there is one). */
int tb_call_raw(struct topo *, const char *name, enum msg_topic t,
    const void *body, char *err, size_t errlen);

/* tb_dial connects to 127.0.0.1:port (TCP, non-blocking once
 * connected; asserts) and returns the socket. */
int tb_dial(int port);
/* tb_await runs loop until fd has read something containing want (or
 * 5 s pass) and returns all it read (static, NUL-terminated). */
struct loop;
const char *tb_await(struct loop *, int fd, const char *want);

/* tb_task_show returns board-sync's board.task_show of task (new;
 * asserts that it answers). */
json_t *tb_task_show(struct topo *, const char *task);

/* tb_inject hands body (a JSON object, consumed) to instance name as an
 * event of topic (ctl.inject; corr may be NULL) and asserts that its
 * handler took it. */
void tb_inject(struct topo *, const char *name, const char *topic,
    const char *corr, json_t *body);

/* tb_events returns the events instance name has journaled, read over
 * ctl.replay as any consumer reads them: a new array of {seq, topic,
 * corr, body} of topic (NULL: every topic), oldest first. */
json_t *tb_events(struct topo *, const char *name, const char *topic);
/* tb_wait_events polls tb_events until it holds at least n events or
 * timeout_ms passes; returns the last array seen (new). */
json_t *tb_wait_events(struct topo *, const char *name, const char *topic,
    size_t n, int timeout_ms);

/* tb_heartbeat subscribes to instance name's pub socket and returns the
 * body of the next heartbeat as JSON (new), or NULL after timeout_ms. */
json_t *tb_heartbeat(struct topo *, const char *name, int timeout_ms);

/* tb_get returns the value at a dotted path of objects ("a.b.c"; a
 * segment of digits indexes an array) of o, borrowed, or NULL.  tb_str
 * and tb_int read it as a string (NULL) or an integer (-1). */
json_t     *tb_get(const json_t *o, const char *path);
const char *tb_str(const json_t *o, const char *path);
int64_t     tb_int(const json_t *o, const char *path);

/* How long a test waits for anything (only to avoid hanging). */
#define TB_WAIT_MS 30000

#endif
