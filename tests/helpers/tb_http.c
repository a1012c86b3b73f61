/*
 * tb_http.c - the in-process tests' HTTP client of a fixture server
 * (tb_http.h): one blocking request through opc_http, the status
 * asserted, the answer read as JSON.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "opc/http.h"
#include "opc/util.h"
#include "tb_http.h"

#define TB_HTTP_HDRS 8

json_t *
tb_http(int port, const char *method, const char *path,
    const char *const *hdrs, json_t *body, int want)
{
	struct http_req  rq;
	struct http_resp rs;
	const char *h[TB_HTTP_HDRS + 2] = { "Content-Type: application/json" };
	char       *url = xasprintf("http://127.0.0.1:%d%s", port, path);
	char       *b   = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_t     *j;
	size_t      n = 1;

	for (; hdrs != NULL && *hdrs != NULL && n <= TB_HTTP_HDRS; hdrs++)
		h[n++] = *hdrs;
	memset(&rq, 0, sizeof(rq));
	rq.method     = method;
	rq.url        = url;
	rq.headers    = h;
	rq.body       = b;
	rq.body_len   = b ? strlen(b) : 0;
	rq.timeout_ms = 5000;
	assert_int_equal(http_blocking(&rq, &rs), 0);
	if (want != 0 ? rs.status != want : rs.status / 100 != 2)
		fail_msg("%s %s: %d %s", method, path, rs.status,
		    rs.body.data ? rs.body.data : "");
	j = json_loadb(rs.body.data ? rs.body.data : "", rs.body.len, 0, NULL);
	http_resp_fini(&rs);
	json_decref(body);
	free(url);
	free(b);
	return (j);
}

json_t *
tb_plane_item(int port, const char *name)
{
	json_t *s = tb_http(port, "GET", "/_fixture/state", NULL, NULL, 200);
	json_t *it, *out = NULL;
	size_t  i;

	json_array_foreach (json_object_get(s, "work_items"), i, it)
		if (out == NULL &&
		    strcmp(json_string_value(json_object_get(it, "name")),
		        name) == 0)
			out = json_incref(it);
	json_decref(s);
	return (out);
}

void
tb_fixture_stop(pid_t *pid)
{
	int st;

	if (*pid <= 0)
		return;
	(void) kill(*pid, SIGTERM);
	(void) waitpid(*pid, &st, 0);
	*pid = 0;
}
