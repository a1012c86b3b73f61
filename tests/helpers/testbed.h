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
struct tb_svc *tb_start(const struct svc_def *, struct topo *,
    const char *name);
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

#endif
