/*
 * tb_http.h - the in-process tests' HTTP client of a fixture server
 * (tests/helpers/tb_http.c, library testbed_http: links opc_http).
 */
#ifndef TB_HTTP_H
#define TB_HTTP_H

#include <sys/types.h>

#include <jansson.h>

/* tb_http sends method path to the fixture on 127.0.0.1:port with the
 * headers hdrs (NULL-terminated, may be NULL; Content-Type:
 * application/json is always sent) and body (JSON, consumed; NULL: none),
 * asserts the answer's status (want, or any 2xx when want is 0) and
 * returns its JSON (new; NULL when it is not JSON). */
json_t *tb_http(int port, const char *method, const char *path,
    const char *const *hdrs, json_t *body, int want);

/* tb_plane_item returns the work item called name in the state of the
 * Plane fixture on port (GET /_fixture/state; a new reference), or NULL
 * when it has none. */
json_t *tb_plane_item(int port, const char *name);

/* tb_fixture_stop ends a tb_fixture server: SIGTERM, then reaped; *pid
 * becomes 0 (0: nothing to do). */
void tb_fixture_stop(pid_t *pid);

#endif
