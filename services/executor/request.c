/*
 * request.c - what the executor hands a worker and checks with GitHub:
 * the worker's request file (the dispatch plus this instance's backend,
 * git, GitHub and limit settings; never a secret) and the token check
 * at start (credential.invalid / credential.expiring).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "branch_guard.h"
#include "conf.h"
#include "executor_int.h"
#include "opc/cfg.h"
#include "opc/github.h"
#include "opc/http.h"
#include "opc/log.h"
#include "opc/topo.h"
#include "opc/util.h"
#include "spec.h"

/* executor_github_token returns the token for a repo: repos.<key>.token_env,
 * else git.token_env (variable names; the secret comes from the environment).
 */
const char *
executor_github_token(struct executor *x, const char *repo_key)
{
	const struct cfg_node *root = svc_cfg_root(x->svc);
	const char            *t;

	t = cfg_secret(
	    cfg_get(cfg_get(root, "repos"), repo_key ? repo_key : ""),
	    "token_env");
	return (t ? t : cfg_secret(cfg_get(root, "git"), "token_env"));
}

/* sandbox_fill completes a sandboxed backend's spec with this
 * instance's sandbox: the bwrap program, what to hide (the state
 * directory, the workspace root, our HOME, sandbox.hide) and the limits
 * the backend does not set.  Refuses (-1, err set) when the start-up
 * probe found that bwrap cannot run here. */
static int
sandbox_fill(struct executor *x, json_t *spec, const char *backend, char *err,
    size_t errlen)
{
	static const char *const lim[] = { "memory_mb", "max_procs",
		"cpu_seconds", "file_size_mb" };
	const struct cfg_node   *sb    = cfg_get(svc_cfg(x->svc), "sandbox");
	const char              *bwrap = "bwrap", *home = getenv("HOME");
	json_t                  *hide;
	int64_t                  v;
	size_t                   i;

	if (!backend_sandboxed(spec))
		return (0);
	if (x->sb_why != NULL) {
		svc_count(x->svc, "sandbox_refused", 1);
		snprintf(err, errlen,
		    "backend '%s' runs in the bubblewrap sandbox, which "
		    "cannot "
		    "run on %s: %s (install bubblewrap and allow unprivileged "
		    "user namespaces, or set sandbox: off on the backend to "
		    "run it unconfined)",
		    backend, svc_name(x->svc), x->sb_why);
		return (-1);
	}
	(void) cfg_tab_str(executor_keys, svc_cfg(x->svc), "sandbox.bwrap",
	    &bwrap, err, errlen);
	json_object_set_new(spec, "bwrap", json_string(bwrap));
	for (i = 0; i < nitems(lim); i++) {
		char path[64];

		if (json_object_get(spec, lim[i]) != NULL)
			continue;
		snprintf(path, sizeof(path), "sandbox.%s", lim[i]);
		v = 0;
		(void) cfg_tab_int(
		    executor_keys, svc_cfg(x->svc), path, &v, err, errlen);
		json_object_set_new(spec, lim[i], json_integer(v));
	}
	hide = json_array();
	json_array_append_new(hide, json_string(svc_topo(x->svc)->state_dir));
	json_array_append_new(hide, json_string(x->root));
	if (home != NULL && home[0] == '/')
		json_array_append_new(hide, json_string(home));
	for (i = 0; i < cfg_len(cfg_get(sb, "hide")); i++)
		json_array_append_new(hide,
		    json_string(cfg_str(cfg_at(cfg_get(sb, "hide"), i))));
	json_object_set_new(spec, "sandbox_hide", hide);
	return (0);
}

/* branch_policy places the router's task branch ("<kind>/<task>-<run>")
 * under git.branch_prefix and gives the worker the prefix and the repo's
 * protected_branches, which it checks before the clone and before every
 * push (branch_guard.h).  The prefix was checked at start. */
static void
branch_policy(struct executor *x, json_t *req)
{
	const struct cfg_node *root = svc_cfg_root(x->svc);
	const char *rk = json_string_value(json_object_get(req, "repo_key"));
	const char *tb =
	    json_string_value(json_object_get(req, "task_branch"));
	const struct cfg_node *pb =
	    cfg_get(cfg_get(cfg_get(root, "repos"), rk ? rk : ""),
	        "protected_branches");
	json_t     *git    = json_object_get(req, "git"), *list;
	const char *prefix = BRANCH_GUARD_DEFAULT_PREFIX;
	char        err[128];
	size_t      i;

	(void) cfg_tab_str(executor_git_keys, cfg_get(root, "git"),
	    "branch_prefix", &prefix, err, sizeof(err));
	json_object_set_new(git, "branch_prefix", json_string(prefix));
	if (tb != NULL && strncmp(tb, prefix, strlen(prefix)) != 0) {
		char *full = xasprintf("%s%s", prefix, tb);

		json_object_set_new(req, "task_branch", json_string(full));
		free(full);
	}
	if (pb == NULL)
		return; /* the worker's default: main, master */
	list = json_array();
	for (i = 0; i < cfg_len(pb); i++)
		if (cfg_str(cfg_at(pb, i)) != NULL)
			json_array_append_new(
			    list, json_string(cfg_str(cfg_at(pb, i))));
	json_object_set_new(git, "protected_branches", list);
}

/* limits: the run's diff and quality limits (checked at start). */
static void
limits(struct executor *x, json_t *req)
{
	int64_t mf = 50, ml = 2000, qt = 3;
	char    err[128];

	(void) cfg_tab_int(executor_keys, svc_cfg(x->svc), "limits.max_files",
	    &mf, err, sizeof(err));
	(void) cfg_tab_int(executor_keys, svc_cfg(x->svc), "limits.max_lines",
	    &ml, err, sizeof(err));
	(void) cfg_tab_int(executor_keys, svc_cfg(x->svc),
	    "limits.quality_threshold", &qt, err, sizeof(err));
	json_object_set_new(req, "limits",
	    json_pack("{s:I, s:I, s:I}", "max_files", (json_int_t) mf,
	        "max_lines", (json_int_t) ml, "quality_threshold",
	        (json_int_t) qt));
}

/* mirror: workspaces borrow from a mirror of the repo on this host
 * (workspace.c, mirror.c); none: a full clone per run. */
static void
mirror(struct executor *x, json_t *req)
{
	const char *md = "mirrors";
	int64_t     fi = 60000, gi = 86400000;
	int         on = 1;
	char       *abs, err[128];

	(void) cfg_tab_bool(executor_keys, svc_cfg(x->svc), "mirror.enabled",
	    &on, err, sizeof(err));
	(void) cfg_tab_str(executor_keys, svc_cfg(x->svc), "mirror.dir", &md,
	    err, sizeof(err));
	(void) cfg_tab_ms(executor_keys, svc_cfg(x->svc),
	    "mirror.fetch_interval", &fi, err, sizeof(err));
	(void) cfg_tab_ms(executor_keys, svc_cfg(x->svc), "mirror.gc_interval",
	    &gi, err, sizeof(err));
	if (!on)
		return;
	abs = md[0] == '/'
	    ? xstrdup(md)
	    : xasprintf("%s/%s", svc_topo(x->svc)->state_dir, md);
	json_object_set_new(req, "mirror",
	    json_pack("{s:s, s:I, s:I}", "dir", abs, "fetch_interval_ms",
	        (json_int_t) fi, "gc_interval_ms", (json_int_t) gi));
	free(abs);
}

/* lease: fencing: the worker stops when we stop renewing this file. */
static void
lease(struct executor *x, json_t *req, json_t *dispatch)
{
	char   *lf = executor_path_for(x,
	      json_string_value(json_object_get(dispatch, "run_id")), ".lease");
	int64_t lm = json_integer_value(json_object_get(dispatch, "lease_ms"));

	json_object_set_new(req, "lease_file", json_string(lf));
	json_object_set_new(
	    req, "lease_ms", json_integer(lm > 0 ? lm : 30000));
	free(lf);
}

/* github: where pull requests go (the token travels separately). */
static void
github(struct executor *x, json_t *req)
{
	const struct cfg_node *root = svc_cfg_root(x->svc);
	const char *rk = json_string_value(json_object_get(req, "repo_key"));
	const struct cfg_node *rn =
	    cfg_get(cfg_get(root, "repos"), rk ? rk : "");
	const char *api = NULL, *ghr = NULL;
	char       *parsed = NULL, err[128];

	(void) cfg_tab_str(executor_github_keys, cfg_get(root, "github"),
	    "api_url", &api, err, sizeof(err));
	(void) cfg_tab_str(
	    conf_repo_keys, rn, "github_repo", &ghr, err, sizeof(err));
	if (ghr == NULL)
		ghr = parsed = github_repo_of(
		    json_string_value(json_object_get(req, "clone_url")));
	json_object_set_new(req, "github",
	    json_pack("{s:s, s:s?}", "api_url", api, "repo", ghr));
	free(parsed);
}

/* pr_caps: the pull request caps (issue 20, pr.c, prq.c): the repo's,
 * what its queue holds, and opcenter's heads: those under
 * git.branch_prefix, where branch_policy placed the task branch. */
static void
pr_caps(struct executor *x, json_t *req)
{
	const char *rk = json_string_value(json_object_get(req, "repo_key"));
	const char *prefix = json_string_value(
	    json_object_get(json_object_get(req, "git"), "branch_prefix"));
	const struct cfg_node *rn =
	    cfg_get(cfg_get(svc_cfg_root(x->svc), "repos"), rk ? rk : "");
	int64_t mo = 10, mh = 2;
	char   *lock, err[128];

	(void) cfg_tab_int(
	    conf_repo_keys, rn, "max_open_prs", &mo, err, sizeof(err));
	(void) cfg_tab_int(
	    conf_repo_keys, rn, "max_prs_per_hour", &mh, err, sizeof(err));
	lock = xasprintf(
	    "%s/.pr-%s.lock", x->root, rk != NULL && id_valid(rk) ? rk : "_");
	json_object_set_new(req, "pr_caps",
	    json_pack("{s:I, s:I, s:I, s:s, s:s}", "max_open_prs",
	        (json_int_t) mo, "max_prs_per_hour", (json_int_t) mh, "queued",
	        (json_int_t) executor_prq_queued(x, rk ? rk : ""), "prefix",
	        prefix != NULL ? prefix : "", "lock", lock));
	free(lock);
}

/* executor_build_request turns a dispatch into the worker's request file body.
 */
json_t *
executor_build_request(
    struct executor *x, json_t *dispatch, char *err, size_t errlen)
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
	bk      = cfg_get(
	         cfg_get(svc_cfg(x->svc), "backends"), backend ? backend : "");
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
		const char *kind =
		    json_string_value(json_object_get(req, "task_kind"));
		const struct cfg_node *nc =
		    cfg_get(svc_cfg(x->svc), "no_change_kinds");

		for (i = 0; kind != NULL && i < cfg_len(nc); i++)
			if (strcmp(cfg_str(cfg_at(nc, i)), kind) == 0)
				json_object_set_new(
				    req, "expect_changes", json_false());
	}
	if (sandbox_fill(x, spec, backend ? backend : "stub", err, errlen) !=
	    0) {
		json_decref(spec);
		json_decref(req);
		return (NULL);
	}
	json_object_set_new(req, "backend_spec", spec);
	/* checked at start (conf_check, svc_open): cannot fail here */
	(void) cfg_tab_str(executor_git_keys, cfg_get(root, "git"),
	    "author_name", &s, err, errlen);
	(void) cfg_tab_str(executor_git_keys, cfg_get(root, "git"),
	    "author_email", &url, err, errlen);
	json_object_set_new(req, "git",
	    json_pack("{s:s, s:s}", "author_name", s, "author_email", url));
	branch_policy(x, req);
	limits(x, req);
	mirror(x, req);
	lease(x, req, dispatch);
	github(x, req);
	pr_caps(x, req);
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

static void
gh_limited(struct executor *x, const struct http_resp *resp,
    enum github_limit lim, int64_t now, int64_t at)
{
	int64_t wait = at - now;
	char    when[40];

	/* Not a credential problem: look again once the limit lifts, not
	 * tomorrow (bounded: a bogus reset cannot silence the check). */
	if (wait < 1000)
		wait = 1000;
	if (wait > 3600000)
		wait = 3600000;
	x->gh_next     = mono_ms() + wait;
	x->gh_state    = "rate_limited";
	x->gh_retry_at = now + wait;
	svc_count(x->svc, "github_rate_limited", 1);
	log_warn("executor.github",
	    "token check: GitHub %s rate limit (HTTP %d); checking again at "
	    "%s",
	    github_limit_name(lim), resp->status,
	    iso8601(now + wait, when, sizeof(when)));
}

static void
on_gh_user(struct http *h, const struct http_resp *resp, void *arg)
{
	struct executor  *x = arg;
	enum github_limit lim;
	const char       *hv;
	int64_t           exp, warn_days = 7, days, now = now_ms(), at;
	char              err[128], when[40], *msg, *text;

	(void) h;
	x->gh_busy     = false;
	x->gh_next     = mono_ms() + 86400000; /* daily */
	x->gh_retry_at = 0;
	if ((lim = github_limit(resp, now, &at)) != GITHUB_LIMIT_NONE) {
		gh_limited(x, resp, lim, now, at);
		return;
	}
	if (resp->status == 401 || resp->status == 403) {
		struct msg_credential_invalid ev;

		msg  = github_message(resp);
		text = xasprintf("GitHub refused the token (GET /user: HTTP "
		                 "%d%s%s)",
		    resp->status, msg ? ": " : "", msg ? msg : "");
		memset(&ev, 0, sizeof(ev));
		ev.provider    = "github";
		ev.status_code = resp->status;
		ev.message     = text;
		x->gh_state    = "invalid";
		log_error("executor.github", "%s", text);
		(void) svc_emit(x->svc, MSG_CREDENTIAL_INVALID, NULL, &ev);
		free(text);
		free(msg);
		return;
	}
	if (resp->status != 200) {
		log_warn("executor.github", "token check: %s",
		    resp->err ? resp->errmsg : "unexpected status");
		x->gh_state = "unreachable";
		x->gh_next  = mono_ms() + 300000;
		return;
	}
	x->gh_state = "ok";
	hv = http_header(resp, "github-authentication-token-expiration");
	if (hv == NULL)
		hv = http_header(resp, "x-token-expiration");
	if (hv == NULL)
		return; /* a token that does not expire */
	if ((exp = github_expiry(hv)) < 0) {
		svc_count(x->svc, "github_bad_expiry", 1);
		log_warn("executor.github",
		    "token check: cannot read the "
		    "expiration date '%.64s'",
		    hv);
		return;
	}
	(void) cfg_tab_int(executor_github_keys,
	    cfg_get(svc_cfg_root(x->svc), "github"), "warn_days", &warn_days,
	    err, sizeof(err));
	days = github_days_left(exp, now);
	if (days <= warn_days) {
		struct msg_credential_expiring ev = { "github", days,
			iso8601(exp, when, sizeof(when)) };

		x->gh_state = days < 0 ? "expired" : "expiring";
		if (days <= 1)
			log_error("executor.github",
			    "GitHub token expires in "
			    "%lld day(s) (%s)",
			    (long long) days, when);
		else
			log_warn("executor.github",
			    "GitHub token expires in "
			    "%lld days (%s)",
			    (long long) days, when);
		(void) svc_emit(x->svc, MSG_CREDENTIAL_EXPIRING, NULL, &ev);
	}
}

void
executor_gh_check(struct executor *x)
{
	const struct cfg_node *root = svc_cfg_root(x->svc);
	const char *tok = cfg_secret(cfg_get(root, "git"), "token_env"),
	           *api = NULL;
	const char     *hdrs[4];
	struct http_req r;
	char            err[128], *url, *auth;

	if (x->http == NULL || x->gh_busy || mono_ms() < x->gh_next)
		return;
	if (tok == NULL) {
		x->gh_next  = INT64_MAX; /* nothing to check */
		x->gh_state = "off";
		return;
	}
	(void) cfg_tab_str(executor_github_keys, cfg_get(root, "github"),
	    "api_url", &api, err, sizeof(err));
	url     = xasprintf("%s/user", api);
	auth    = xasprintf("Authorization: Bearer %s", tok);
	hdrs[0] = auth;
	hdrs[1] = "Accept: application/vnd.github+json";
	hdrs[2] = "X-GitHub-Api-Version: 2022-11-28";
	hdrs[3] = NULL;
	memset(&r, 0, sizeof(r));
	r.method     = "GET";
	r.url        = url;
	r.headers    = hdrs;
	r.timeout_ms = 30000;
	if (http_send(x->http, &r, on_gh_user, x) != 0)
		x->gh_busy = true;
	free(url);
	free(auth);
}
