/*
 * pr.c - open the pull request for a pushed task branch (GitHub REST API:
 * POST /repos/{owner}/{repo}/pulls).  The worker is a synchronous process,
 * so it uses http_blocking.  The token comes from the environment
 * (OPC_GITHUB_TOKEN, set by the executor for this process only): it is
 * never written to the request file, the result or any log.  A PR that
 * already exists for the branch (422) is looked up and reused, so a
 * retried run never opens a second one.
 *
 * A pull request that cannot be opened fails the run (infra_tooling; the
 * reason and pull_request_error say why, pull_request_status has the
 * HTTP status, 0 for a transport error): a rate limit (403 or 429,
 * github.h) is waited out as GitHub asks, until retry-after or
 * x-ratelimit-reset, at most PR_ATTEMPTS tries and PR_WAIT_MAX_MS of
 * waiting in all; a transport error or 5xx is retried with backoff; any
 * other answer (401, 403, 404, 422) is final.  A stop or a lost lease
 * ends the wait; without the lease (checked first) nothing is opened.
 *
 * Caps (issue 20): a request with pr_caps counts opcenter's pull requests
 * on GitHub before it creates one (pr_count: the heads under the prefix,
 * open ones against max_open_prs, those created in the last hour against
 * max_prs_per_hour), holding the lock file pr_caps.lock so two workers of
 * a host cannot both take the last place.  The count's rate limits and
 * errors are met as the create's are (waited out within the same bounds,
 * else the run fails and says why).  A cap reached, or earlier pull
 * requests of the repo queued (pr_caps.queued; GitHub is not asked): the
 * pull request waits (pr_state waiting, pr_wait_reason why),
 * the run still succeeds (its branch is pushed) and the executor's queue
 * opens it later through --pr-only (pr_only), which looks for an open
 * pull request of the branch first, so one is never opened twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "opc/err.h"
#include "opc/github.h"
#include "opc/http.h"
#include "opc/log.h"
#include "opc/util.h"
#include "run.h"

#define PR_ATTEMPTS 4
/* waiting out limits, in all: inside the 300 s the executor allows a run
 * past its backend and validation */
#define PR_WAIT_MAX_MS (2 * 60 * 1000)
#define PR_BACKOFF_MS 2000 /* transport errors and 5xx */

static int
gh(const char *method, const char *url, const char *token, json_t *body,
    struct http_resp *out)
{
	char       *auth    = xasprintf("Authorization: Bearer %s", token);
	const char *hdrs[5] = { auth, "Accept: application/vnd.github+json",
		"X-GitHub-Api-Version: 2022-11-28",
		"Content-Type: application/json", NULL };
	char       *text    = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct http_req r;
	int             rv;

	memset(&r, 0, sizeof(r));
	r.method     = method;
	r.url        = url;
	r.headers    = hdrs;
	r.body       = text;
	r.body_len   = text ? strlen(text) : 0;
	r.timeout_ms = 30000;
	rv           = http_blocking(&r, out);
	free(text);
	free(auth);
	return (rv);
}

char *
pr_url_of(const char *body, size_t len, int list)
{
	json_t     *j = json_loadb(body ? body : "", len, 0, NULL);
	const char *u;
	char       *url;

	u = json_string_value(
	    json_object_get(list ? json_array_get(j, 0) : j, "html_url"));
	url = u != NULL && *u != '\0' ? xstrdup(u) : NULL;
	json_decref(j);
	return (url);
}

/* existing finds the open PR of head (owner:branch); NULL if none. */
static char *
existing(const char *api, const char *repo, const char *owner,
    const char *branch, const char *token)
{
	struct http_resp resp;
	char            *url, *found = NULL;

	url = xasprintf("%s/repos/%s/pulls?state=open&head=%s:%s", api, repo,
	    owner, branch);
	if (gh("GET", url, token, NULL, &resp) == 0 && resp.status == 200)
		found = pr_url_of(resp.body.data, resp.body.len, 1);
	http_resp_fini(&resp);
	free(url);
	return (found);
}

/* count_pages is pr_count, with *lim the kind of rate limit that ended
 * it (GITHUB_LIMIT_NONE: none). */
static int
count_pages(const char *api, const char *repo, const char *token,
    const char *state, const char *prefix, int64_t since_ms, long *n,
    int *status, int64_t *retry_at, enum github_limit *lim)
{
	struct http_resp resp;
	json_t          *page, *it;
	const char      *ref, *created;
	char            *url, since[40] = "";
	size_t           i, plen        = strlen(prefix);
	int              pages, rv = 0, older = 0;

	*n        = 0;
	*status   = 0;
	*retry_at = 0;
	*lim      = GITHUB_LIMIT_NONE;
	if (since_ms > 0) /* GitHub's created_at has whole seconds */
		(void) iso8601(since_ms, since, sizeof(since));
	url = xasprintf(
	    "%s/repos/%s/pulls?state=%s&per_page=100", api, repo, state);
	for (pages = 0; url != NULL && rv == 0 && !older; pages++) {
		if (pages == PR_COUNT_PAGES) {
			log_warn("run.pr",
			    "%s: more than %d pages of pull "
			    "requests: counted the first ones",
			    repo, PR_COUNT_PAGES);
			break;
		}
		(void) gh("GET", url, token, NULL, &resp);
		free(url);
		url     = NULL;
		*status = resp.err != 0 ? 0 : resp.status;
		page    = *status == 200
		       ? json_loadb(resp.body.data, resp.body.len, 0, NULL)
		       : NULL;
		if (!json_is_array(page)) {
			if ((*lim = github_limit(&resp, now_ms(), retry_at)) ==
			    GITHUB_LIMIT_NONE)
				*retry_at = 0;
			rv = ERR_IO;
		}
		json_array_foreach (page, i, it) {
			ref     = json_string_value(json_object_get(
			        json_object_get(it, "head"), "ref"));
			created = json_string_value(
			    json_object_get(it, "created_at"));
			if (since_ms > 0 && created != NULL &&
			    strncmp(created, since, 19) < 0) {
				older = 1;
				break;
			}
			if (ref != NULL && strncmp(ref, prefix, plen) == 0)
				(*n)++;
		}
		if (rv == 0)
			url = github_link_next(http_header(&resp, "Link"));
		json_decref(page);
		http_resp_fini(&resp);
	}
	free(url);
	return (rv);
}

int
pr_count(const char *api, const char *repo, const char *token,
    const char *state, const char *prefix, int64_t since_ms, long *n,
    int *status, int64_t *retry_at)
{
	enum github_limit lim;

	return (count_pages(api, repo, token, state, prefix, since_ms, n,
	    status, retry_at, &lim));
}

void
pr_take_token(struct exec_req *rq)
{
	const char *t = getenv("OPC_GITHUB_TOKEN");

	if (t != NULL && *t != '\0') {
		rq->github_token = xstrdup(t);
		log_redact(rq->github_token);
	}
	/* git, the backend and validation commands never see it */
	(void) unsetenv("OPC_GITHUB_TOKEN");
}

/* nap waits ms in slices, watching for a stop and for the lease; 0, or
 * -1 once the run must end. */
static int
nap(int64_t ms)
{
	int64_t end = mono_ms() + ms, left;

	while (!proc_stop && (left = end - mono_ms()) > 0) {
		if (proc_lease_check())
			return (-1);
		sleep_ms(left < 200 ? left : 200);
	}
	return (proc_stop ? -1 : 0);
}

/* limit_ms: how long to wait for a rate limit GitHub lifts at `at`
 * (unix ms): at least a second. */
static int64_t
limit_ms(int64_t at)
{
	int64_t wait = at - now_ms();

	return (wait < 1000 ? 1000 : wait);
}

static int retry_after(int attempt, int64_t wait, int64_t *waited,
    const char *fmt, ...) PRINTFLIKE(4, 5);

/* retry_after: may a GitHub call that failed at attempt be tried again
 * after wait ms, within PR_ATTEMPTS tries and PR_WAIT_MAX_MS waited in
 * all (*waited)?  If so it says why (fmt, a warning), waits and counts
 * it: 1, or -1 when the run must end meanwhile; 0 when there is no room
 * (nothing said, nothing waited). */
static int
retry_after(int attempt, int64_t wait, int64_t *waited, const char *fmt, ...)
{
	va_list ap;

	if (attempt >= PR_ATTEMPTS || *waited + wait > PR_WAIT_MAX_MS)
		return (0);
	va_start(ap, fmt);
	log_vmsg(LOG_WARN, "run.pr", fmt, ap);
	va_end(ap);
	if (nap(wait) != 0)
		return (-1);
	*waited += wait;
	return (1);
}

/* refusal describes an answer that is not a pull request: its status,
 * GitHub's message and first error, and what the operator can do. */
static char *
refusal(const struct http_resp *resp)
{
	json_t *j = json_loadb(
	    resp->body.data ? resp->body.data : "", resp->body.len, 0, NULL);
	const char *m    = json_string_value(json_object_get(j, "message"));
	const char *e    = json_string_value(json_object_get(
	       json_array_get(json_object_get(j, "errors"), 0), "message"));
	const char *hint = resp->status == 401 ? " (the token is refused)"
	    : resp->status == 403
	    ? " (the token needs Pull requests: write on "
	      "the repository)"
	    : resp->status == 404 ? " (no such repository for this token)"
	                          : "";
	char       *s;

	s = xasprintf("HTTP %d%s%.200s%s%.200s%s%s", resp->status,
	    m ? ": " : "", m ? m : "", e ? " (" : "", e ? e : "", e ? ")" : "",
	    hint);
	json_decref(j);
	return (s);
}

/* caps_lock takes the request's lock file (blocking: the holder counts
 * and creates, seconds); -1 when there is none or it cannot be had. */
static int
caps_lock(const struct exec_req *rq)
{
	int fd;

	if (rq->pr_lock == NULL)
		return (-1);
	fd = open(rq->pr_lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0 && flock(fd, LOCK_EX) != 0) {
		log_warn("run.pr", "cannot lock %s: %s", rq->pr_lock,
		    strerror(errno));
		(void) close(fd);
		fd = -1;
	}
	return (fd);
}

/* count counts as pr_count does, waiting out rate limits and retrying
 * transport errors and 5xx as pr_create does (the same PR_ATTEMPTS and
 * PR_WAIT_MAX_MS); 0 with *n, else -1 with x->pr_error set. */
static int
count(struct exec_run *x, const char *state, int64_t since, long *n)
{
	const struct exec_req *rq     = x->req;
	const char            *prefix = rq->pr_prefix ? rq->pr_prefix : "";
	enum github_limit      lim;
	int64_t                waited = 0, wait, at, backoff = PR_BACKOFF_MS;
	int                    attempt, st, r;
	char                   when[40];

	for (attempt = 1;; attempt++) {
		if (count_pages(rq->github_api, rq->github_repo,
		        rq->github_token, state, prefix, since, n, &st, &at,
		        &lim) == 0)
			return (0);
		x->pr_status = st;
		if (lim != GITHUB_LIMIT_NONE) {
			wait = limit_ms(at);
			if ((r = retry_after(attempt, wait, &waited,
			         "counting pull requests: GitHub %s rate "
			         "limit (HTTP %d): retrying in %lld s",
			         github_limit_name(lim), st,
			         (long long) (wait + 999) / 1000)) != 0) {
				if (r < 0)
					break;
				continue;
			}
			x->pr_error = xasprintf("GitHub %s rate limit (HTTP "
			                        "%d) until %s, longer than a "
			                        "run waits (%d s)",
			    github_limit_name(lim), st,
			    iso8601(at, when, sizeof(when)),
			    PR_WAIT_MAX_MS / 1000);
			return (-1);
		}
		if ((st == 0 || st >= 500) &&
		    (r = retry_after(attempt, backoff, &waited,
		         "counting pull requests: HTTP %d; retrying", st)) !=
		        0) {
			if (r < 0)
				break;
			backoff *= 2;
			continue;
		}
		x->pr_error = xasprintf("HTTP %d counting opcenter's pull "
		                        "requests%s",
		    st,
		    st == 401 ? " (the token is refused)"
		        : st == 403
		        ? " (the token needs Pull requests: read on the "
		          "repository)"
		        : st == 404 ? " (no such repository for this token)"
		        : st == 0   ? " (GitHub unreachable)"
		                    : "");
		return (-1);
	}
	x->pr_error = xstrdup("stopped while counting pull requests");
	return (-1);
}

/* caps_hold decides whether the repo's caps let one more pull request
 * open now: 0 yes, 1 no (*why: the cap and the counts, a new string), -1
 * when GitHub did not answer the count (x->pr_error says why). */
static int
caps_hold(struct exec_run *x, int64_t queued, char **why)
{
	const struct exec_req *rq     = x->req;
	const char            *prefix = rq->pr_prefix ? rq->pr_prefix : "";
	long                   n;

	*why = NULL;
	if (queued > 0) {
		*why = xasprintf("%lld earlier pull request%s of this "
		                 "repository wait%s before it",
		    (long long) queued, queued == 1 ? "" : "s",
		    queued == 1 ? "s" : "");
		return (1);
	}
	if (rq->pr_max_open > 0) {
		if (count(x, "open", 0, &n) != 0)
			return (-1);
		if (n >= rq->pr_max_open) {
			*why =
			    xasprintf("max_open_prs: %ld of opcenter's pull "
			              "requests (%s*) are open, the cap is "
			              "%lld",
			        n, prefix, (long long) rq->pr_max_open);
			return (1);
		}
	}
	if (rq->pr_max_hour > 0) {
		if (count(x, "all", now_ms() - 3600 * 1000, &n) != 0)
			return (-1);
		if (n >= rq->pr_max_hour) {
			*why = xasprintf("max_prs_per_hour: %ld of opcenter's "
			                 "pull requests (%s*) were opened in "
			                 "the last hour, the cap is %lld",
			    n, prefix, (long long) rq->pr_max_hour);
			return (1);
		}
	}
	return (0);
}

/* pr_create asks GitHub for the pull request of x's pushed branch (a 422
 * for an existing one finds it); 0, or ERR_IO after run_fail(). */
static int pr_create(struct exec_run *x);

/* pr_open_queued is pr_open with queued earlier pull requests (the
 * request's for a run; none for --pr-only, the head of the queue). */
static int
pr_open_queued(struct exec_run *x, int64_t queued)
{
	const struct exec_req *rq     = x->req;
	char                  *detail = NULL;
	int                    lock, rv;

	x->pr_state = "none";
	if (!rq->open_pr || !x->branch_pushed)
		return (0);
	if (proc_lease_verify() != 0) { /* nor opened without it */
		log_warn("run.pr", "run %s: lease lost: no pull request",
		    rq->run_id);
		return (ERR_STATE);
	}
	if (rq->github_repo == NULL)
		detail = xstrdup("the repository is not on GitHub (set "
		                 "repos.<key>.github_repo)");
	else if (rq->github_token == NULL || *rq->github_token == '\0')
		detail = xstrdup("no GitHub token is configured "
		                 "(git.token_env or repos.<key>.token_env)");
	if (detail != NULL) {
		x->pr_error = detail;
		run_fail(x, "infra_tooling",
		    xasprintf("pull request not opened: %s", detail));
		return (ERR_CONFIG);
	}
	lock = caps_lock(rq);
	switch (caps_hold(x, queued, &x->pr_wait_reason)) {
	case 1:
		x->pr_state = "waiting";
		log_info("run.pr",
		    "run %s: branch %s pushed; its pull request "
		    "waits: %s",
		    rq->run_id, rq->task_branch, x->pr_wait_reason);
		rv = 0;
		break;
	case 0:
		if ((rv = pr_create(x)) == 0)
			x->pr_state = "opened";
		break;
	default: /* as a create GitHub refused: the run fails */
		log_warn("run.pr", "pull request not opened: %s", x->pr_error);
		run_fail(x, "infra_tooling",
		    xasprintf("pull request not opened: %s; branch %s is "
		              "pushed",
		        x->pr_error, rq->task_branch));
		rv = ERR_IO;
		break;
	}
	if (lock >= 0)
		(void) close(lock); /* releases the flock */
	return (rv);
}

int
pr_open(struct exec_run *x)
{
	return (pr_open_queued(x, x->req->pr_queued));
}

static int
pr_create(struct exec_run *x)
{
	const struct exec_req *rq    = x->req;
	const char            *token = rq->github_token;
	struct http_resp       resp;
	enum github_limit      lim;
	json_t                *body;
	char   *url, *title, *text, *owner, *slash, *detail = NULL, when[40];
	int64_t waited = 0, wait, at, backoff = PR_BACKOFF_MS;
	int     attempt, status, r;

	title = workspace_commit_title(rq->goal_text, rq->run_id);
	text  = xasprintf("Auto-generated by opcenter execution.\n\n## Goal\n"
	                   "%s\n\nRun: %s\nTask: %s\n%s%s",
	     rq->goal_text, rq->run_id, rq->task_id,
            x->quality_note != NULL ? "\n" : "",
            x->quality_note != NULL ? x->quality_note : "");
	body  = json_pack("{s:s, s:s, s:s, s:s}", "title", title, "head",
	     rq->task_branch, "base", rq->base_branch, "body", text);
	url = xasprintf("%s/repos/%s/pulls", rq->github_api, rq->github_repo);
	owner = xstrdup(rq->github_repo);
	if ((slash = strchr(owner, '/')) != NULL)
		*slash = '\0';
	for (attempt = 1; detail == NULL && x->pr_url == NULL; attempt++) {
		(void) gh("POST", url, token, body, &resp);
		status       = resp.err != 0 ? 0 : resp.status;
		x->pr_status = status;
		lim          = github_limit(&resp, now_ms(), &at);
		if (status == 201) {
			if ((x->pr_url = pr_url_of(
			         resp.body.data, resp.body.len, 0)) == NULL)
				detail = xstrdup("HTTP 201 without html_url");
		} else if (status == 422) {
			/* opened by an earlier attempt of this branch? */
			if ((x->pr_url = existing(rq->github_api,
			         rq->github_repo, owner, rq->task_branch,
			         token)) == NULL)
				detail = refusal(&resp);
		} else if (lim != GITHUB_LIMIT_NONE) {
			/* docs.github.com: wait until retry-after or
			 * x-ratelimit-reset, then try again; bounded */
			wait = limit_ms(at);
			if ((r = retry_after(attempt, wait, &waited,
			         "GitHub %s rate limit (HTTP %d): "
			         "retrying in %lld s",
			         github_limit_name(lim), status,
			         (long long) (wait + 999) / 1000)) != 0) {
				if (r < 0)
					detail = xstrdup("stopped while "
					                 "waiting out a rate "
					                 "limit");
			} else if (attempt < PR_ATTEMPTS)
				detail = xasprintf(
				    "GitHub %s rate limit (HTTP %d) until %s, "
				    "longer than a run waits (%d s)",
				    github_limit_name(lim), status,
				    iso8601(at, when, sizeof(when)),
				    PR_WAIT_MAX_MS / 1000);
			else
				detail = xasprintf(
				    "GitHub %s rate limit (HTTP %d) after %d "
				    "attempts; next try allowed at %s",
				    github_limit_name(lim), status, attempt,
				    iso8601(at, when, sizeof(when)));
		} else if (status == 0 || status >= 500) {
			if ((r = retry_after(attempt, backoff, &waited,
			         "pull request: %s; retrying",
			         status == 0 ? resp.errmsg : "HTTP 5xx")) !=
			    0) {
				if (r < 0)
					detail = xstrdup("stopped while "
					                 "retrying");
				backoff *= 2;
			} else
				detail = status == 0 ? xstrdup(resp.errmsg)
				                     : refusal(&resp);
		} else
			detail = refusal(&resp);
		http_resp_fini(&resp);
	}
	if (detail != NULL) {
		x->pr_error = detail;
		log_warn("run.pr", "pull request not opened: %s", detail);
		run_fail(x, "infra_tooling",
		    xasprintf("pull request not opened: %s; branch %s is "
		              "pushed",
		        detail, rq->task_branch));
	}
	json_decref(body);
	free(url);
	free(owner);
	free(title);
	free(text);
	return (detail != NULL ? ERR_IO : 0);
}

int
pr_only(const struct exec_req *rq, const char *out)
{
	struct exec_run x;
	json_t         *j;
	char           *owner, *slash, *text;
	int             rv;

	memset(&x, 0, sizeof(x));
	x.req           = rq;
	x.branch_pushed = 1;
	x.pr_state      = "none";
	owner           = xstrdup(rq->github_repo ? rq->github_repo : "");
	if ((slash = strchr(owner, '/')) != NULL)
		*slash = '\0';
	/* opened by an earlier try that did not live to say so? */
	if (rq->open_pr && rq->github_repo != NULL &&
	    rq->github_token != NULL &&
	    (x.pr_url = existing(rq->github_api, rq->github_repo, owner,
	         rq->task_branch, rq->github_token)) != NULL) {
		x.pr_state = "opened";
		log_info("run.pr", "run %s: pull request %s was open already",
		    rq->run_id, x.pr_url);
	} else if (pr_open_queued(&x, 0) != 0)
		x.pr_state = "failed";
	j = json_pack("{s:s, s:s?, s:s?, s:s?, s:i}", "pr_state", x.pr_state,
	    "pull_request_url", x.pr_url, "pr_wait_reason", x.pr_wait_reason,
	    "pull_request_error", x.pr_error != NULL ? x.pr_error : x.reason,
	    "pull_request_status", x.pr_status);
	text = json_dumps(j, JSON_COMPACT);
	rv =
	    text != NULL ? write_file_atomic(out, text, strlen(text)) : ERR_IO;
	free(text);
	json_decref(j);
	free(owner);
	free(x.pr_url);
	free(x.pr_error);
	free(x.pr_wait_reason);
	free(x.reason);
	return (rv);
}
