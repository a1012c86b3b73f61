/*
 * dash.h - private interfaces of opc-dash, the read-only dashboard.
 *
 * Threads: the HTTP server (common httpsrv.c, routed by web.c) and the
 * bus tail (one SUB socket per publisher, their fds on the loop) run on
 * the service loop.  The gathering thread (gather.c) asks the supervisor
 * and every instance over ctl (ctl_call blocks: never on the loop
 * thread), each call bounded by a short timeout, and caches the state
 * document /api/state serves under a mutex.  No service state is touched
 * off the loop thread.
 */
#ifndef DASH_H
#define DASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "opc/svc.h"

extern const struct svc_def dash_def;

/* --- web.c: the routes on the common HTTP server ---------------------- */

struct loop;
struct dash_web;

struct dash_web_cfg {
	const char *listen;        /* http://host:port */
	const char *token;         /* bearer token; NULL: none asked */
	const char *evidence_root; /* the recorder's; NULL: /evidence 404 */
	int64_t     header_timeout_ms;
	int64_t     idle_timeout_ms;
	int         max_connections;
	size_t      evidence_max; /* an evidence file's largest size */
	/* state returns the state document's text (the caller frees it),
	 * or NULL when none was gathered yet (503). */
	char *(*state)(void *arg);
	/* count adds n to a status counter (may be NULL) */
	void (*count)(const char *counter, int n, void *arg);
	void *arg;
};

/* dash_web_open binds cfg->listen and serves on loop.  cfg's strings are
 * borrowed (must outlive it).  Returns 0, ERR_CONFIG or ERR_IO. */
int dash_web_open(
    struct dash_web **wp, struct loop *loop, const struct dash_web_cfg *cfg);
/* dash_web_close closes every connection and the listener.  NULL is a
 * no-op. */
void dash_web_close(struct dash_web **wp, struct loop *loop);
/* dash_web_url returns the bound url, e.g. "http://127.0.0.1:8790". */
const char *dash_web_url(const struct dash_web *);
/* dash_web_event sends json (one line, borrowed) to every event stream
 * as an SSE "data:" line. */
void dash_web_event(struct dash_web *, const char *json);
/* dash_web_streams returns how many event streams are open. */
size_t dash_web_streams(const struct dash_web *);

/* dash_evidence_path checks a request path's remainder after
 * "/evidence/" ("RUN/FILE"): each segment of letters, digits, '.', '_'
 * or '-', none beginning with '.', at least two segments.  On success
 * *out is the realpath of the file, proved inside root's realpath and a
 * regular file (caller frees).  Returns 0, ERR_INVAL (a bad name: 400),
 * ERR_NOTFOUND (none, outside root or not a regular file: 404). */
int dash_evidence_path(char **out, const char *root, const char *rest);

/* The page, its script and its style, embedded (assets.c). */
extern const char dash_index_html[];
extern const char dash_app_js[];
extern const char dash_app_css[];

/* --- gather.c: the state document, on a thread ------------------------ */

struct topo;
struct dash_gather;

/* dash_gather_open starts the thread: every interval_ms it builds the
 * state document (each ctl call bounded by timeout_ms, runs the most
 * recent runs) and keeps its text.  topo is borrowed (must outlive it),
 * evidence_root too (may be NULL). */
int  dash_gather_open(struct dash_gather **gp, const struct topo *topo,
     const char *self, const char *evidence_root, int64_t interval_ms,
     int timeout_ms, int runs);
void dash_gather_close(struct dash_gather **gp);
/* dash_gather_text returns a copy of the last document (NULL: none
 * yet); the caller frees it.  Any thread. */
char *dash_gather_text(struct dash_gather *);

#endif
