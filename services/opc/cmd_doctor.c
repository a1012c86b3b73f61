/*
 * cmd_doctor.c - `opc doctor`: is everything this constellation needs
 * reachable and configured?  The board (Plane identity, project and
 * work-item endpoints, the states board-sync needs, the rate limit left,
 * and with --task-id that work item: the original's plane-doctor; or the
 * local board-sync and that task), GitHub (identity and
 * token expiry), the backend programs, the config as the daemons check
 * it at start, and its drift (settings other than their defaults).  One
 * line per check; exit 1 when any check fails.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "board_plane.h" /* board_plane_states: the states it needs */
#include "conf.h"
#include "opc.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/github.h"
#include "opc/http.h"
#include "opc/util.h"

struct doc {
	int fails, warns;
};

static void PRINTFLIKE(3, 4)
    say(struct doc *d, const char *level, const char *fmt, ...)
{
	va_list ap;

	if (strcmp(level, "FAIL") == 0)
		d->fails++;
	else if (strcmp(level, "warn") == 0)
		d->warns++;
	printf("%-4s  ", level);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* get performs one GET; returns the status (0: transport error). */
static int
get(const char *url, const char *const *hdrs, struct http_resp *resp)
{
	struct http_req r;

	memset(&r, 0, sizeof(r));
	r.method     = "GET";
	r.url        = url;
	r.headers    = hdrs;
	r.timeout_ms = 10000;
	(void) http_blocking(&r, resp);
	return (resp->err ? 0 : resp->status);
}

const struct cfg_node *
opc_plane_node(
    const struct cfg_node *root, const struct cfg_node *inst, const char *key)
{
	const struct cfg_node *in = cfg_get(inst, "plane");

	return (cfg_get(in, key) != NULL ? in : cfg_get(root, "plane"));
}

/* check_plane_states: the project has every state board-sync moves items
 * to (plane.states; a new Plane project has only Backlog, Todo, In
 * Progress, Done and Cancelled), and how much of the key's rate limit is
 * left. */
static void
check_plane_states(struct doc *d, const struct cfg_node *root,
    const struct cfg_node *inst, const char *url, const char *const *hdrs)
{
	const char      *names[BS_N], *rem;
	bool             need[BS_N];
	struct http_resp resp;
	struct buf       miss;
	json_t          *j, *v;
	char             err[256];
	size_t           i, k;
	bool             found;
	int              st;

	if (board_plane_states(root, inst, names, need, err, sizeof(err)) !=
	    0) {
		say(d, "FAIL", "plane states: %s", err);
		return;
	}
	st = get(url, hdrs, &resp);
	if (st / 100 != 2) {
		say(d, "FAIL", "plane states: HTTP %d", st);
		http_resp_fini(&resp);
		return;
	}
	j = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	buf_init(&miss);
	for (i = 0; i < BS_N; i++) {
		found = false;
		json_array_foreach (json_object_get(j, "results"), k, v) {
			const char *n =
			    json_string_value(json_object_get(v, "name"));

			if (n != NULL && strcasecmp(n, names[i]) == 0)
				found = true;
		}
		if (need[i] && !found)
			buf_printf(
			    &miss, "%s\"%s\"", miss.len ? ", " : "", names[i]);
	}
	if (miss.len > 0)
		say(d, "FAIL",
		    "plane states: the project lacks %s (set "
		    "plane.states to the project's names, or add the states): "
		    "board-sync claims nothing until they exist",
		    buf_cstr(&miss));
	else
		say(d, "ok",
		    "plane states: every state board-sync moves "
		    "items to exists");
	if ((rem = http_header(&resp, "x-ratelimit-remaining")) != NULL)
		say(d, "ok",
		    "plane rate limit: %s requests left in the "
		    "window",
		    rem);
	buf_fini(&miss);
	json_decref(j);
	http_resp_fini(&resp);
}

/* check_endpoint GETs url and says whether it answered, as the
 * original's plane-doctor lists its checks (method, path, status, the
 * start of the body when it failed).  Returns the status; the parsed body
 * of a 2xx answer goes to *body (NULL otherwise; the caller's). */
static int
check_endpoint(struct doc *d, const char *what, const char *base,
    const char *path, const char *const *hdrs, json_t **body)
{
	struct http_resp resp;
	char            *url = xasprintf("%s%s", base, path);
	int              st;

	if (body != NULL)
		*body = NULL;
	st = get(url, hdrs, &resp);
	if (st / 100 == 2) {
		if (body != NULL)
			*body =
			    json_loadb(resp.body.data, resp.body.len, 0, NULL);
		say(d, "ok", "plane %s: HTTP %d (GET %s)", what, st, path);
	} else if (st == 0)
		say(d, "FAIL", "plane %s: unreachable (GET %s): %s", what,
		    path, resp.errmsg);
	else
		say(d, "FAIL", "plane %s: HTTP %d%s (GET %s): %.200s", what,
		    st,
		    st == 401 || st == 403 ? " (API key refused)"
		        : st == 429        ? " (rate limited)"
		        : st == 404        ? " (not found)"
		                           : "",
		    path, buf_cstr(&resp.body));
	http_resp_fini(&resp);
	free(url);
	return (st);
}

/* check_plane: the original's plane-doctor.  Where it talks to (base
 * URL, workspace, project), as whom (users/me: the API key's user), and
 * whether the project, work-item and state endpoints answer; with a task
 * id, that work item and its comments. */
static void
check_plane(struct doc *d, const struct cfg_node *root,
    const struct cfg_node *inst, const char *task_id)
{
	const struct cfg_node *tn =
	    opc_plane_node(root, inst, "api_token_env");
	const char *base, *ws, *proj, *tok, *hdrs[3];
	json_t     *me, *wi;
	char       *key, *p, *path;

	base = cfg_str(
	    cfg_get(opc_plane_node(root, inst, "base_url"), "base_url"));
	ws   = cfg_str(cfg_get(
	      opc_plane_node(root, inst, "workspace_slug"), "workspace_slug"));
	proj = cfg_str(
	    cfg_get(opc_plane_node(root, inst, "project_id"), "project_id"));
	tok = cfg_secret(tn, "api_token_env");
	if (base == NULL || ws == NULL || proj == NULL) {
		say(d, "FAIL",
		    "board: plane needs plane.base_url, "
		    "workspace_slug and project_id");
		return;
	}
	say(d, "ok", "plane: base URL %s, workspace %s, project %s", base, ws,
	    proj);
	if (tok == NULL) {
		say(d, "FAIL", "board: $%s (plane.api_token_env) is not set",
		    cfg_str(cfg_get(tn, "api_token_env"))
		        ? cfg_str(cfg_get(tn, "api_token_env"))
		        : "?");
		return;
	}
	key     = xasprintf("X-API-Key: %s", tok);
	hdrs[0] = key;
	hdrs[1] = "Accept: application/json";
	hdrs[2] = NULL;
	if (check_endpoint(
	        d, "identity", base, "/api/v1/users/me/", hdrs, &me) /
	        100 ==
	    2)
		say(d, "ok", "plane API user: %s <%s>",
		    opc_jstr(me, "display_name", "?"),
		    opc_jstr(me, "email", "?"));
	json_decref(me);
	p = xasprintf("/api/v1/workspaces/%s/projects/%s/", ws, proj);
	(void) check_endpoint(d, "project", base, p, hdrs, NULL);
	path = xasprintf("%swork-items/?per_page=1", p);
	(void) check_endpoint(d, "work items", base, path, hdrs, NULL);
	free(path);
	if (task_id != NULL) {
		path = xasprintf("%swork-items/%s/?expand=state", p, task_id);
		if (check_endpoint(d, "work item", base, path, hdrs, &wi) /
		        100 ==
		    2) {
			say(d, "ok", "plane work item %s: \"%s\" in %s",
			    task_id, opc_jstr(wi, "name", "?"),
			    opc_jstr(
			        json_object_get(wi, "state"), "name", "?"));
			free(path);
			path = xasprintf("%swork-items/%s/comments/"
			                 "?per_page=1",
			    p, task_id);
			(void) check_endpoint(
			    d, "work item comments", base, path, hdrs, NULL);
		}
		json_decref(wi);
		free(path);
	}
	path = xasprintf("%s%sstates/?per_page=1000", base, p);
	check_plane_states(d, root, inst, path, hdrs);
	free(path);
	free(p);
	free(key);
}

static void
check_board(
    struct doc *d, struct opc *o, const struct cfg_node *root, char *task_id)
{
	const struct topo_inst    *b = opc_find_service(o->topo, "board-sync");
	struct msg_board_task_show ts;
	const char                *mode;
	char                       err[256];
	json_t                    *st = NULL, *t;

	if (b == NULL) {
		say(d, "FAIL", "board: no board-sync instance");
		return;
	}
	mode = cfg_str(cfg_get(b->node, "board"));
	if (mode != NULL && strcmp(mode, "plane") == 0) {
		check_plane(d, root, b->node, task_id);
		return;
	}
	if (opc_ctl(b->ctl, MSG_CTL_STATUS, NULL, &st, err, sizeof(err),
	        OPC_CTL_TIMEOUT) == 0)
		say(d, "ok", "board: local board-sync answers");
	else
		say(d, task_id != NULL ? "FAIL" : "warn",
		    "board: local board-sync not running (%s)", err);
	json_decref(st);
	st = NULL;
	if (task_id == NULL)
		return;
	memset(&ts, 0, sizeof(ts));
	ts.task_id = task_id;
	if (opc_ctl(b->ctl, MSG_BOARD_TASK_SHOW, &ts, &st, err, sizeof(err),
	        OPC_CTL_TIMEOUT) == 0) {
		t = json_object_get(st, "task");
		say(d, "ok", "board task %s: \"%s\" in %s, %zu comment(s)",
		    task_id, opc_jstr(t, "title", "?"),
		    opc_jstr(t, "state", "?"),
		    json_array_size(json_object_get(st, "comments")));
	} else
		say(d, "FAIL", "board task %s: %s", task_id, err);
	json_decref(st);
}

/* github_expiry_check reports the token's expiry as the executor's daily
 * check does: warn within github.warn_days, fail once expired. */
static void
github_expiry_check(struct doc *d, const struct cfg_node *root, const char *hv)
{
	int64_t exp = github_expiry(hv), days, warn_days = 7;
	char    err[128], at[40];

	if (exp < 0) {
		say(d, "warn",
		    "github: cannot read the token expiration "
		    "date '%.64s'",
		    hv);
		return;
	}
	(void) cfg_tab_int(executor_github_keys, cfg_get(root, "github"),
	    "warn_days", &warn_days, err, sizeof(err));
	days = github_days_left(exp, now_ms());
	iso8601(exp, at, sizeof(at));
	if (days < 0)
		say(d, "FAIL", "github: token expired %s", at);
	else if (days <= warn_days)
		say(d, "warn",
		    "github: token expires in %lld day(s), %s "
		    "(github.warn_days: %lld)",
		    (long long) days, at, (long long) warn_days);
	else
		say(d, "ok", "github: token expires in %lld days, %s",
		    (long long) days, at);
}

/* has_scope: the comma-separated list has s. */
static bool
has_scope(const char *list, const char *s)
{
	size_t n = strlen(s), l;

	while (*list != '\0') {
		while (*list == ' ' || *list == ',')
			list++;
		l = strcspn(list, ", ");
		if (l == n && strncmp(list, s, n) == 0)
			return (true);
		list += l;
	}
	return (false);
}

static void
check_github(struct doc *d, const struct cfg_node *root)
{
	const char       *tok = cfg_secret(cfg_get(root, "git"), "token_env");
	const char       *api = cfg_str(cfg_get(root, "github.api_url"));
	const char       *hdrs[4], *hv;
	struct http_resp  resp;
	enum github_limit lim;
	int64_t           at;
	char             *auth, *url, *msg, when[40];
	int               st;

	if (tok == NULL) {
		say(d, "warn",
		    "github: no token (git.token_env): branches are "
		    "pushed, pull requests are not opened");
		return;
	}
	auth    = xasprintf("Authorization: Bearer %s", tok);
	hdrs[0] = auth;
	hdrs[1] = "Accept: application/vnd.github+json";
	hdrs[2] = "X-GitHub-Api-Version: 2022-11-28";
	hdrs[3] = NULL;
	url     = xasprintf("%s/user", api ? api : "https://api.github.com");
	st      = get(url, hdrs, &resp);
	msg     = github_message(&resp);
	if (st == 200) {
		json_t *j = json_loadb(resp.body.data, resp.body.len, 0, NULL);

		say(d, "ok", "github: identity %s",
		    json_string_value(json_object_get(j, "login"))
		        ? json_string_value(json_object_get(j, "login"))
		        : "?");
		json_decref(j);
		/* classic tokens list their scopes; pushing and opening pull
		 * requests needs repo (or public_repo for public repos) */
		hv = http_header(&resp, "x-oauth-scopes");
		if (hv != NULL && !has_scope(hv, "repo") &&
		    !has_scope(hv, "public_repo"))
			say(d, "warn",
			    "github: token scopes '%s' lack repo: "
			    "pushes and pull requests will be refused",
			    hv);
		hv = http_header(&resp,
		    "github-authentication-token-"
		    "expiration");
		if (hv == NULL)
			hv = http_header(&resp, "x-token-expiration");
		if (hv != NULL)
			github_expiry_check(d, root, hv);
		else
			say(d, "ok", "github: token does not expire");
	} else if (st == 0)
		say(d, "FAIL", "github: unreachable: %s", resp.errmsg);
	else if ((lim = github_limit(&resp, now_ms(), &at)) !=
	    GITHUB_LIMIT_NONE)
		/* a limit, not a bad token: the executor waits it out */
		say(d, "warn",
		    "github: %s rate limit (HTTP %d) until %s; "
		    "the token was not refused",
		    github_limit_name(lim), st,
		    iso8601(at, when, sizeof(when)));
	else
		say(d, "FAIL", "github: HTTP %d%s%s%s", st, msg ? ": " : "",
		    msg ? msg : "",
		    st == 401       ? " (the token is refused)"
		        : st == 403 ? " (the token lacks a permission)"
		                    : "");
	free(msg);
	http_resp_fini(&resp);
	free(url);
	free(auth);
}

/* check_backends probes every backend as `opc providers --no-call` does:
 * the program found and answering --version, the API key variable set. */
static void
check_backends(struct doc *d, struct topo *t)
{
	json_t     *all = opc_probe_all(t, NULL, 0), *p;
	const char *inst, *name;
	size_t      i;

	json_array_foreach (all, i, p) {
		inst = opc_jstr(p, "instance", "?");
		name = opc_jstr(p, "backend", "?");
		if (strcmp(opc_jstr(p, "ready", "no"), "no") == 0)
			say(d,
			    json_object_get(p, "kind") == NULL ? "fail"
			                                       : "warn",
			    "%s backend %s: %s%s%s", inst, name,
			    opc_jstr(p, "detail", "not ready"),
			    json_is_string(json_object_get(p, "sandbox"))
			        ? "; sandbox: "
			        : "",
			    opc_jstr(p, "sandbox", ""));
		else
			say(d, "ok", "%s backend %s: %s %s%s%s; sandbox: %s",
			    inst, name, opc_jstr(p, "kind", "?"),
			    opc_jstr(p, "path", "built in"),
			    json_is_string(json_object_get(p, "version"))
			        ? ", "
			        : "",
			    opc_jstr(p, "version", ""),
			    opc_jstr(p, "sandbox", "none (built in)"));
	}
	json_decref(all);
}

/* check_state_dir warns when other users may read the state directory:
 * the dbs, WALs and logs hold task goals and comments. */
static void
check_state_dir(struct doc *d, struct topo *t)
{
	struct stat st;

	if (stat(t->state_dir, &st) != 0)
		say(d, "ok", "state dir %s: not created yet", t->state_dir);
	else if ((st.st_mode & 077) != 0)
		say(d, "warn",
		    "state dir %s is mode %04o: other users may "
		    "read task goals and comments (chmod 700 it)",
		    t->state_dir, (unsigned) (st.st_mode & 07777));
	else
		say(d, "ok", "state dir %s: private (mode %04o)", t->state_dir,
		    (unsigned) (st.st_mode & 07777));
}

/* check_config: the file as the daemons will check it at start (every
 * problem a failure), then the settings that differ from their defaults
 * (config drift: noted, not a problem), both from the services' config
 * tables. */
static void
check_config(struct doc *d, const struct topo *t)
{
	struct buf b;
	char      *line, *save = NULL;
	int        n;

	buf_init(&b);
	if ((n = opc_config_check(t, &b)) > 0) {
		for (line = strtok_r(buf_cstr(&b), "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save))
			say(d, "FAIL", "config: %s", line);
	} else
		say(d, "ok", "config: every setting known and valid");
	buf_reset(&b);
	save = NULL;
	if ((n = conf_drift(t, &b)) == 0)
		say(d, "ok", "config drift: every setting at its default");
	for (line = strtok_r(buf_cstr(&b), "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save))
		say(d, "note", "config drift: %s", line);
	buf_fini(&b);
}

int
cmd_doctor(struct opc *o, int argc, char **argv)
{
	struct topo *t;
	struct doc   d       = { 0, 0 };
	char        *task_id = NULL;

	if (argc == 3 && strcmp(argv[1], "--task-id") == 0 &&
	    argv[2][0] != '\0')
		task_id = argv[2];
	else if (argc > 1) {
		fprintf(stderr, "usage: opc doctor [--task-id ID]\n");
		return (2);
	}
	if ((t = opc_topo(o)) == NULL)
		return (1);
	say(&d, "ok", "config %s loads", t->config_path);
	check_config(&d, t);
	check_state_dir(&d, t);
	check_board(&d, o, cfg_root(t->cfg), task_id);
	check_github(&d, cfg_root(t->cfg));
	check_backends(&d, t);
	printf("%d failed, %d warnings\n", d.fails, d.warns);
	return (d.fails > 0 ? 1 : 0);
}
