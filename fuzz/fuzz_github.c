/*
 * fuzz_github.c - libFuzzer target: what the executor reads from GitHub
 * and from its dispatch.
 *
 * The first byte picks the parser, the rest is its input:
 *   0  a POST /pulls response body (pr_url_of, run/pr.c)
 *   1  a GET /pulls?head= response body (the first PR's html_url)
 *   2  the token expiration header of GET /user (github_expiry, common)
 *   3  the worker's request file, REQ.json (request_parse, run/request.c)
 * Oracles: a PR URL is a non-empty copy of the response's html_url; an
 * expiry is -1 or a time between 1970 and 10000; a parsed request has
 * every required field non-empty, branches that git cannot take for
 * options, non-empty validation argvs and a known backend kind, and a
 * refused one says why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "executor_int.h"
#include "opc/err.h"
#include "opc/github.h"
#include "opc/util.h"
#include "run.h"
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c)) {                                                   \
			fprintf(stderr, "fuzz_github: %s:%d: %s\n", __FILE__, \
			    __LINE__, #c);                                    \
			abort();                                              \
		}                                                             \
	} while (0)

static void
pr_body(const char *p, size_t n, int list)
{
	json_t     *j    = json_loadb(p, n, 0, NULL);
	const char *want = json_string_value(
	    json_object_get(list ? json_array_get(j, 0) : j, "html_url"));
	char *u = pr_url_of(p, n, list);

	if (u != NULL)
		CHECK(want != NULL && *u != '\0' && strcmp(u, want) == 0);
	else
		CHECK(want == NULL || *want == '\0');
	free(u);
	json_decref(j);
}

static void
expiry(const char *p, size_t n)
{
	char   *v  = xstrndup(p, n);
	int64_t ms = github_expiry(v);

	/* 253402300800000: 10000-01-01T00:00:00Z */
	CHECK(ms == -1 || (ms >= 0 && ms < 253402300800000LL));
	free(v);
}

static void
request(const char *p, size_t n)
{
	struct exec_req rq;
	json_t         *o   = json_loadb(p, n, 0, NULL);
	char           *err = NULL;
	size_t          i;
	int             rv;

	rv = request_parse(&rq, o, &err);
	if (rv != 0) {
		CHECK(rv == ERR_INVAL && err != NULL && *err != '\0');
	} else {
		CHECK(err == NULL);
		CHECK(rq.run_id[0] && rq.task_id[0] && rq.goal_text[0]);
		CHECK(
		    rq.clone_url[0] && rq.base_branch[0] && rq.task_branch[0]);
		CHECK(rq.base_branch[0] != '-' && rq.task_branch[0] != '-');
		for (i = 0; i < rq.n_validation; i++)
			CHECK(rq.validation[i].n > 0 &&
			    rq.validation[i].v[0][0] != '\0');
		/* Any kind the executor knows (the stub, a command, an
		 * agent CLI profile); a command always has its argv. */
		CHECK(backend_kind_known(rq.bk.kind));
		CHECK(strcmp(rq.bk.kind, "command") != 0 ||
		    (rq.bk.argv.n > 0 && rq.bk.argv.v[0][0] != '\0'));
		CHECK(rq.timeout_seconds >= 1 && rq.max_files >= 0 &&
		    rq.bk.max_output_bytes >= 1);
		CHECK(rq.git_name != NULL && rq.github_api != NULL);
	}
	request_fini(&rq);
	free(err);
	json_decref(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *) data + 1;

	if (size < 1)
		return (0);
	switch (data[0] % 4) {
	case 0:
		pr_body(p, size - 1, 0);
		break;
	case 1:
		pr_body(p, size - 1, 1);
		break;
	case 2:
		expiry(p, size - 1);
		break;
	default:
		request(p, size - 1);
		break;
	}
	return (0);
}
