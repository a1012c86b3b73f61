/*
 * request.c - what the executor hands a worker and checks with GitHub:
 * the worker's request file (the dispatch plus this instance's backend,
 * git, GitHub and limit settings; never a secret) and the token check
 * at start (credential.invalid / credential.expiring).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "executor_int.h"
#include "opc/cfg.h"
#include "opc/http.h"
#include "opc/log.h"
#include "opc/util.h"
#include "spec.h"


/* github_token returns the token for a repo: repos.<key>.token_env, else
 * git.token_env (variable names; the secret comes from the environment). */
const char *
github_token(struct executor *x, const char *repo_key)
{
	const struct cfg_node *root = svc_cfg_root(x->svc);
	const char            *t;

	t = cfg_secret(cfg_get(cfg_get(root, "repos"), repo_key ? repo_key : ""),
	    "token_env");
	return (t ? t : cfg_secret(cfg_get(root, "git"), "token_env"));
}

/* build_request turns a dispatch into the worker's request file body. */
json_t *
build_request(struct executor *x, json_t *dispatch, char *err,
    size_t errlen)
{
	const struct cfg_node *root = svc_cfg_root(x->svc);
	const struct cfg_node *bk;
	json_t                *req, *spec;
	const char            *backend, *s, *url;
	size_t                 i;

	req = json_deep_copy(json_object_get(dispatch, "request"));
	if (!json_is_object(req)) {
		snprintf(err, errlen, "dispatch has no request object");
		json_decref(req);
		return (NULL);
	}
	backend = json_string_value(json_object_get(req, "backend"));
	bk = cfg_get(cfg_get(svc_cfg(x->svc), "backends"),
	    backend ? backend : "");
	if (bk == NULL && (backend == NULL || strcmp(backend, "stub") != 0)) {
		snprintf(err, errlen, "backend '%s' is not configured on %s",
		    backend ? backend : "(none)", svc_name(x->svc));
		json_decref(req);
		return (NULL);
	}
	if ((spec = backend_spec(bk, err, errlen)) == NULL) {
		json_decref(req);
		return (NULL);
	}
	/* A task whose kind expects no change may succeed without one. */
	{
		const char *kind = json_string_value(json_object_get(req,
		    "task_kind"));
		const struct cfg_node *nc = cfg_get(svc_cfg(x->svc),
		    "no_change_kinds");

		for (i = 0; kind != NULL && i < cfg_len(nc); i++)
			if (strcmp(cfg_str(cfg_at(nc, i)), kind) == 0)
				json_object_set_new(req, "expect_changes",
				    json_false());
	}
	json_object_set_new(req, "backend_spec", spec);
	(void) cfg_get_str(root, "git.author_name", "Operations Center Bot",
	    &s, err, errlen);
	(void) cfg_get_str(root, "git.author_email",
	    "operations-center-bot@example.com", &url, err, errlen);
	json_object_set_new(req, "git", json_pack("{s:s, s:s}",
	                                    "author_name", s, "author_email",
	                                    url));
	{
		int64_t mf = 50, ml = 2000, qt = 3;

		(void) cfg_get_int(svc_cfg(x->svc), "limits.max_files", 50, &mf,
		    err, errlen);
		(void) cfg_get_int(svc_cfg(x->svc), "limits.max_lines", 2000,
		    &ml, err, errlen);
		(void) cfg_get_int(svc_cfg(x->svc), "limits.quality_threshold",
		    3, &qt, err, errlen);
		json_object_set_new(req, "limits",
		    json_pack("{s:I, s:I, s:I}", "max_files", (json_int_t) mf,
		        "max_lines", (json_int_t) ml, "quality_threshold",
		        (json_int_t) qt));
	}
	/* Fencing: the worker stops when we stop renewing this file. */
	{
		char   *lf = path_for(x, json_string_value(json_object_get(
		                          dispatch, "run_id")),
		      ".lease");
		int64_t lm = json_integer_value(json_object_get(dispatch,
		    "lease_ms"));

		json_object_set_new(req, "lease_file", json_string(lf));
		json_object_set_new(req, "lease_ms",
		    json_integer(lm > 0 ? lm : 30000));
		free(lf);
	}
	/* GitHub: where pull requests go (the token travels separately) */
	{
		const char            *rk = json_string_value(json_object_get(
		    req, "repo_key"));
		const struct cfg_node *rn = cfg_get(cfg_get(root, "repos"),
		    rk ? rk : "");
		const char            *api = NULL, *ghr = NULL;
		char                  *parsed = NULL;

		(void) cfg_get_str(root, "github.api_url",
		    "https://api.github.com", &api, err, errlen);
		(void) cfg_get_str(rn, "github_repo", NULL, &ghr, err, errlen);
		if (ghr == NULL)
			ghr = parsed = github_repo_of(json_string_value(
			    json_object_get(req, "clone_url")));
		json_object_set_new(req, "github",
		    json_pack("{s:s, s:s?}", "api_url", api, "repo", ghr));
		free(parsed);
	}
	/* A relative local clone_url is relative to the config file. */
	url = json_string_value(json_object_get(req, "clone_url"));
	if (url != NULL && url[0] != '/' && strstr(url, "://") == NULL &&
	    strchr(url, '@') == NULL) {
		char *abs = xasprintf("%s/%s", x->config_dir, url);

		json_object_set_new(req, "clone_url", json_string(abs));
		free(abs);
	}
	err[0] = '\0';
	return (req);
}

/* ------------------------------------------------- GitHub token check */

/* gh_expiry parses GitHub's token expiration header ("2026-12-01
 * 00:00:00 UTC" or with a "+0000" offset) into unix ms; -1 if absent. */
int64_t
gh_expiry(const char *v)
{
	struct tm tm;

	if (v == NULL)
		return (-1);
	memset(&tm, 0, sizeof(tm));
	if (sscanf(v, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon,
	        &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return (-1);
	/* sane fields only: no overflow below, no year-6 expiry */
	if (tm.tm_year < 1970 || tm.tm_year > 9999 || tm.tm_mon < 1 ||
	    tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 ||
	    tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
		return (-1);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return ((int64_t) timegm(&tm) * 1000);
}

static void
on_gh_user(struct http *h, const struct http_resp *resp, void *arg)
{
	struct executor *x = arg;
	int64_t          exp, warn_days = 7, days;
	char             err[128], at[40];

	(void) h;
	x->gh_busy = false;
	x->gh_next = mono_ms() + 86400000; /* daily */
	if (resp->status == 401 || resp->status == 403) {
		struct msg_credential_invalid ev = { "github", resp->status,
			"GitHub refused the token (GET /user)" };

		log_error("executor.github", "GitHub token refused (HTTP %d)",
		    resp->status);
		(void) svc_emit(x->svc, MSG_CREDENTIAL_INVALID, NULL, &ev);
		return;
	}
	if (resp->status != 200) {
		log_warn("executor.github", "token check: %s",
		    resp->err ? resp->errmsg : "unexpected status");
		x->gh_next = mono_ms() + 300000;
		return;
	}
	exp = gh_expiry(http_header(resp, "github-authentication-token-"
	                                  "expiration"));
	if (exp < 0)
		exp = gh_expiry(http_header(resp, "x-token-expiration"));
	if (exp < 0)
		return;
	(void) cfg_get_int(svc_cfg_root(x->svc), "github.warn_days", 7,
	    &warn_days, err, sizeof(err));
	days = (exp - now_ms()) / 86400000;
	if (days <= warn_days) {
		struct msg_credential_expiring ev = { "github", days,
			iso8601(exp, at, sizeof(at)) };

		if (days <= 1)
			log_error("executor.github", "GitHub token expires in "
			    "%lld day(s)", (long long) days);
		else
			log_warn("executor.github", "GitHub token expires in "
			    "%lld days", (long long) days);
		(void) svc_emit(x->svc, MSG_CREDENTIAL_EXPIRING, NULL, &ev);
	}
}

void
gh_check(struct executor *x)
{
	const struct cfg_node *root = svc_cfg_root(x->svc);
	const char            *tok = cfg_secret(cfg_get(root, "git"),
	    "token_env"), *api = NULL;
	const char            *hdrs[4];
	struct http_req        r;
	char                   err[128], *url, *auth;

	if (x->http == NULL || x->gh_busy || mono_ms() < x->gh_next)
		return;
	if (tok == NULL) {
		x->gh_next = INT64_MAX; /* nothing to check */
		return;
	}
	(void) cfg_get_str(root, "github.api_url", "https://api.github.com",
	    &api, err, sizeof(err));
	url = xasprintf("%s/user", api);
	auth = xasprintf("Authorization: Bearer %s", tok);
	hdrs[0] = auth;
	hdrs[1] = "Accept: application/vnd.github+json";
	hdrs[2] = "X-GitHub-Api-Version: 2022-11-28";
	hdrs[3] = NULL;
	memset(&r, 0, sizeof(r));
	r.method = "GET";
	r.url = url;
	r.headers = hdrs;
	r.timeout_ms = 30000;
	if (http_send(x->http, &r, on_gh_user, x) != 0)
		x->gh_busy = true;
	free(url);
	free(auth);
}
