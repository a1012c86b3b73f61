/*
 * test_exec_prcap.c - pr_count (pr.c) against opc-fixture-github: it
 * follows GitHub's Link pagination across pages, counts only the pull
 * requests whose head branch is under opcenter's prefix, the hourly count
 * stops at the first older one, and a secondary rate limit is an error
 * with the time GitHub asked to wait until.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "exec_fx.h"
#include "opc/err.h"
#include "opc/github.h"
#include "opc/http.h"
#include "run.h"

#ifndef FIXTURE_BIN_DIR
#error FIXTURE_BIN_DIR must name the directory of opc-fixture-github
#endif

#define TOKEN "ghp_capTestToken0123456789"

struct fx {
	char *root, *api;
	pid_t gh;
	int   port;
};

static int
setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));

	*state = fx;
	if ((fx->root = exfx_root("opc-exec-prcap")) == NULL)
		return (-1);
	fx->port =
	    exfx_github(FIXTURE_BIN_DIR, fx->root, "--token " TOKEN, &fx->gh);
	fx->api = xasprintf("http://127.0.0.1:%d", fx->port);
	return (fx->port > 0 ? 0 : -1);
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	int        rv = exfx_github_stop(fx->gh);

	exfx_unroot(fx->root);
	free(fx->api);
	free(fx);
	return (rv);
}

/* post sends body to path with the token; the HTTP status. */
static int
post(const struct fx *fx, const char *path, const char *body)
{
	const char      *hdrs[] = { "Authorization: Bearer " TOKEN,
		     "Content-Type: application/json", NULL };
	char            *url    = xasprintf("%s%s", fx->api, path);
	struct http_req  r;
	struct http_resp resp;
	int              st;

	memset(&r, 0, sizeof(r));
	r.method     = "POST";
	r.url        = url;
	r.headers    = hdrs;
	r.body       = body;
	r.body_len   = strlen(body);
	r.timeout_ms = 5000;
	(void) http_blocking(&r, &resp);
	st = resp.status;
	http_resp_fini(&resp);
	free(url);
	return (st);
}

static void
open_prs(const struct fx *fx, const char *prefix, int from, int count)
{
	char body[256];
	int  i;

	for (i = from; i < from + count; i++) {
		snprintf(body, sizeof(body),
		    "{\"title\":\"t%d\",\"head\":\"%s%d\",\"base\":\"main\"}",
		    i, prefix, i);
		assert_int_equal(
		    post(fx, "/repos/acme/demo/pulls", body), 201);
	}
}

static void
test_count_across_pages(void **state)
{
	struct fx *fx = *state;
	long       n;
	int        st;
	int64_t    at;

	assert_int_equal(pr_count(fx->api, "acme/demo", TOKEN, "open", "goal/",
	                     0, &n, &st, &at),
	    0);
	assert_int_equal(n, 0);
	/* 150 ours and 60 a human's: three pages of 100 */
	open_prs(fx, "goal/T-", 0, 120);
	open_prs(fx, "feature/x-", 0, 60);
	open_prs(fx, "goal/T-", 120, 30);
	assert_int_equal(pr_count(fx->api, "acme/demo", TOKEN, "open", "goal/",
	                     0, &n, &st, &at),
	    0);
	assert_int_equal(st, 200);
	assert_int_equal(n, 150);
	assert_int_equal(pr_count(fx->api, "acme/demo", TOKEN, "all",
	                     "feature/", 0, &n, &st, &at),
	    0);
	assert_int_equal(n, 60);
	/* all were created just now: in the last hour, none in the future */
	assert_int_equal(pr_count(fx->api, "acme/demo", TOKEN, "all", "goal/",
	                     now_ms() - 3600 * 1000, &n, &st, &at),
	    0);
	assert_int_equal(n, 150);
	assert_int_equal(pr_count(fx->api, "acme/demo", TOKEN, "all", "goal/",
	                     now_ms() + 5000, &n, &st, &at),
	    0);
	assert_int_equal(n, 0);
}

/* get answers the Link header of GET path (a new copy, or NULL) and the
 * number of items. */
static char *
get_link(const struct fx *fx, const char *path, size_t *items)
{
	const char      *hdrs[] = { "Authorization: Bearer " TOKEN, NULL };
	char            *url    = xasprintf("%s%s", fx->api, path), *link;
	struct http_req  r;
	struct http_resp resp;
	json_t          *j;

	memset(&r, 0, sizeof(r));
	r.method     = "GET";
	r.url        = url;
	r.headers    = hdrs;
	r.timeout_ms = 5000;
	(void) http_blocking(&r, &resp);
	assert_int_equal(resp.status, 200);
	j      = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	*items = json_array_size(j);
	link   = xstrdup_null(http_header(&resp, "Link"));
	json_decref(j);
	http_resp_fini(&resp);
	free(url);
	return (link);
}

/* The Link header as GitHub sends it: next/last before the last page,
 * prev/first after the first, the list's filters kept; none on one
 * page. */
static void
test_link_pages(void **state)
{
	struct fx *fx = *state;
	char      *link, *next;
	size_t     items;

	open_prs(fx, "goal/T-", 0, 5);
	link = get_link(fx, "/repos/acme/demo/pulls?state=open", &items);
	assert_null(link);
	assert_int_equal(items, 5);
	link = get_link(fx,
	    "/repos/acme/demo/pulls?state=open&base=main&per_page=2&page=2",
	    &items);
	assert_non_null(link);
	assert_int_equal(items, 2);
	assert_non_null(strstr(link,
	    "base=main&per_page=2&page=3>; "
	    "rel=\"next\""));
	assert_non_null(strstr(link, "per_page=2&page=3>; rel=\"last\""));
	assert_non_null(strstr(link, "per_page=2&page=1>; rel=\"prev\""));
	assert_non_null(strstr(link, "rel=\"first\""));
	next = github_link_next(link);
	assert_non_null(next);
	assert_non_null(strstr(next, "/repos/acme/demo/pulls?state=open&"));
	free(next);
	free(link);
	/* the last page: prev and first only */
	link =
	    get_link(fx, "/repos/acme/demo/pulls?per_page=2&page=3", &items);
	assert_int_equal(items, 1);
	assert_null(strstr(link, "rel=\"next\""));
	assert_null(github_link_next(link));
	assert_non_null(strstr(link, "rel=\"prev\""));
	free(link);
}

static void
test_rate_limit_and_refusal(void **state)
{
	struct fx *fx = *state;
	long       n;
	int        st;
	int64_t    at;

	open_prs(fx, "goal/T-", 0, 3);
	assert_int_equal(post(fx, "/_fixture/rate_limit",
	                     "{\"kind\":\"secondary\",\"count\":1,"
	                     "\"retry_after\":30,\"status\":429}"),
	    200);
	assert_int_equal(pr_count(fx->api, "acme/demo", TOKEN, "open", "goal/",
	                     0, &n, &st, &at),
	    ERR_IO);
	assert_int_equal(st, 429);
	assert_true(at >= now_ms() + 25000);
	/* the limit is spent: the next count sees all three */
	assert_int_equal(pr_count(fx->api, "acme/demo", TOKEN, "open", "goal/",
	                     0, &n, &st, &at),
	    0);
	assert_int_equal(n, 3);
	/* a bad token: refused, no wait asked */
	assert_int_equal(pr_count(fx->api, "acme/demo", "ghp_wrong", "open",
	                     "goal/", 0, &n, &st, &at),
	    ERR_IO);
	assert_int_equal(st, 401);
	assert_int_equal(at, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_count_across_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_link_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_rate_limit_and_refusal, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
