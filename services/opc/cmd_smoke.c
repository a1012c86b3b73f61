/*
 * cmd_smoke.c - `opc smoke --task-id ID [--comment-only]`: the
 * original's smoke test.  Fetches one work item and posts one comment on
 * it, running nothing: on Plane straight over its API (as board-sync
 * would), on the local board over board-sync's ctl.  Without
 * --comment-only the item must also read as a task opcenter could run
 * (a repo: label of a configured repo; its task-kind known).
 *
 * What it did is retained like a run's evidence, one folder per smoke:
 * STATE_DIR/reports/smoke/<ts>_<task>_<run>/ with request_context.json,
 * plane_work_item.json (or board_task.json) and smoke_result.json, or
 * failure.json naming the stage that failed.  Stdout: {run_id, task_id,
 * parsed_task, artifacts}, as the original prints.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "board.h" /* board_kind_known */
#include "opc.h"
#include "opc/err.h"
#include "opc/http.h"
#include "opc/util.h"
#include "plane.h" /* plane_comment_html, plane_text */

struct smoke {
	struct topo *t;
	const char  *task_id;
	char         run_id[37];
	char        *dir;
	json_t      *artifacts; /* paths written */
	json_t      *parsed;    /* parsed_task */
	bool         plane;
};

/* keep writes name (JSON) into the smoke's folder and lists it. */
static void
keep(struct smoke *s, const char *name, const json_t *j)
{
	char *path = xasprintf("%s/%s", s->dir, name);
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (text != NULL && write_file_atomic(path, text, strlen(text)) == 0)
		json_array_append_new(s->artifacts, json_string(path));
	else
		fprintf(stderr, "opc smoke: cannot write %s\n", path);
	free(text);
	free(path);
}

/* fail retains failure.json {run_id, task_id, stage, error} and says
 * why; returns 1. */
static int
fail(struct smoke *s, const char *stage, const char *error)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "run_id", s->run_id,
	    "task_id", s->task_id, "stage", stage, "error", error);

	keep(s, "failure.json", j);
	json_decref(j);
	fprintf(stderr, "opc smoke: %s: %s\n", stage, error);
	return (1);
}

/* http_fail is fail() for a Plane request that went wrong (what: the
 * request, "GET work item"): unreachable, or its status and the start of
 * its body.  It finalises resp. */
static int
http_fail(struct smoke *s, const char *stage, const char *what,
    struct http_resp *resp)
{
	char *msg = resp->status == 0
	    ? xasprintf("Plane unreachable: %s", resp->errmsg)
	    : xasprintf("%s: HTTP %d: %.200s", what, resp->status,
	          buf_cstr(&resp->body));
	int   rv  = fail(s, stage, msg);

	free(msg);
	http_resp_fini(resp);
	return (rv);
}

/* label_value: the value of the first "name: value" label (any case). */
static const char *
label_value(const json_t *labels, const char *name)
{
	const json_t *l;
	const char   *s;
	size_t        i, n = strlen(name);

	json_array_foreach (labels, i, l) {
		s = json_is_string(l)
		    ? json_string_value(l)
		    : json_string_value(json_object_get(l, "name"));
		if (s != NULL && strncasecmp(s, name, n) == 0 && s[n] == ':') {
			s += n + 1;
			while (*s == ' ')
				s++;
			return (s);
		}
	}
	return (NULL);
}

/* parse makes parsed_task from the item's title, state, labels and text,
 * and checks it could run: NULL, or why not. */
static const char *
parse(struct smoke *s, const char *title, const char *state,
    const json_t *labels, const char *goal, const char *repo, const char *kind)
{
	const struct cfg_node *repos = cfg_get(cfg_root(s->t->cfg), "repos");
	json_t                *names = json_array(), *l;
	size_t                 i;

	json_array_foreach (labels, i, l)
		json_array_append_new(names,
		    json_string(json_is_string(l) ? json_string_value(l)
		                                  : opc_jstr(l, "name", "?")));
	if (repo == NULL)
		repo = label_value(labels, "repo");
	if (kind == NULL)
		kind = label_value(labels, "task-kind");
	s->parsed = json_pack("{s:s?, s:s?, s:o, s:s?, s:s?, s:s?}", "title",
	    title, "state", state, "labels", names, "repo_key", repo, "kind",
	    kind != NULL ? kind : "goal", "goal", goal);
	if (repo == NULL)
		return ("no repo: label");
	if (cfg_get(repos, repo) == NULL)
		return ("its repo is not configured here (repos:)");
	if (kind != NULL && !board_kind_known(kind))
		return ("unknown task-kind");
	return (NULL);
}

static int
smoke_plane(struct smoke *s, const struct topo_inst *b, bool comment_only,
    const char *text)
{
	const struct cfg_node *root = cfg_root(s->t->cfg);
	const char            *base, *ws, *proj, *tok, *hdrs[4], *why;
	struct http_req        rq;
	struct http_resp       resp;
	json_t                *item = NULL, *ctx, *res, *body;
	char                  *key, *url, *html, *goal = NULL, *msg;
	int                    rv = 1;

	base = cfg_str(
	    cfg_get(opc_plane_node(root, b->node, "base_url"), "base_url"));
	ws   = cfg_str(cfg_get(opc_plane_node(root, b->node, "workspace_slug"),
	      "workspace_slug"));
	proj = cfg_str(cfg_get(
	    opc_plane_node(root, b->node, "project_id"), "project_id"));
	tok  = cfg_secret(
	     opc_plane_node(root, b->node, "api_token_env"), "api_token_env");
	ctx = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:b, s:s}",
	    "run_id", s->run_id, "task_id", s->task_id, "board", "plane",
	    "base_url", base, "workspace_slug", ws, "project_id", proj,
	    "comment_only", comment_only, "comment_text", text);
	keep(s, "request_context.json", ctx);
	json_decref(ctx);
	if (base == NULL || ws == NULL || proj == NULL)
		return (fail(s, "config",
		    "plane needs plane.base_url, "
		    "workspace_slug and project_id"));
	if (tok == NULL)
		return (fail(s, "config", "plane.api_token_env is not set"));
	key     = xasprintf("X-API-Key: %s", tok);
	hdrs[0] = key;
	hdrs[1] = "Accept: application/json";
	hdrs[2] = "Content-Type: application/json";
	hdrs[3] = NULL;
	memset(&rq, 0, sizeof(rq));
	rq.headers    = hdrs;
	rq.timeout_ms = 10000;
	rq.method     = "GET";
	rq.url = url = xasprintf("%s/api/v1/workspaces/%s/projects/%s/"
	                         "work-items/%s/?expand=state,labels",
	    base, ws, proj, s->task_id);
	(void) http_blocking(&rq, &resp);
	free(url);
	if (resp.status / 100 != 2 ||
	    (item = json_loadb(resp.body.data, resp.body.len, 0, NULL)) ==
	        NULL) {
		rv = http_fail(s, "fetch", "GET work item", &resp);
		goto out;
	}
	http_resp_fini(&resp);
	keep(s, "plane_work_item.json", item);
	if (json_is_string(json_object_get(item, "description_html")))
		goal = plane_text(json_string_value(
		    json_object_get(item, "description_html")));
	why = parse(s, opc_jstr(item, "name", NULL),
	    opc_jstr(json_object_get(item, "state"), "name", NULL),
	    json_object_get(item, "labels"), goal, NULL, NULL);
	if (why != NULL && !comment_only) {
		rv = fail(s, "parse", why);
		goto out;
	}
	html = plane_comment_html(text);
	body = json_pack("{s:s}", "comment_html", html);
	free(html);
	rq.method = "POST";
	rq.body = msg = json_dumps(body, JSON_COMPACT);
	rq.body_len   = strlen(msg);
	json_decref(body);
	rq.url = url = xasprintf("%s/api/v1/workspaces/%s/projects/%s/"
	                         "work-items/%s/comments/",
	    base, ws, proj, s->task_id);
	(void) http_blocking(&rq, &resp);
	free(url);
	free(msg);
	if (resp.status / 100 != 2) {
		rv = http_fail(s, "comment", "POST comment", &resp);
		goto out;
	}
	body = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	http_resp_fini(&resp);
	res = json_pack("{s:s, s:s, s:s, s:O, s:{s:s?, s:s}, s:s?}", "run_id",
	    s->run_id, "task_id", s->task_id, "status", "ok", "parsed_task",
	    s->parsed, "comment", "id", opc_jstr(body, "id", NULL), "text",
	    text, "parse_problem", why);
	json_decref(body);
	keep(s, "smoke_result.json", res);
	json_decref(res);
	rv = 0;
out:
	free(goal);
	free(key);
	json_decref(item);
	return (rv);
}

static int
smoke_local(struct smoke *s, struct opc *o, const struct topo_inst *b,
    bool comment_only, const char *text)
{
	struct msg_board_task_show    sh;
	struct msg_board_task_comment cm;
	json_t                       *d = NULL, *t, *ctx, *res;
	const char                   *why;
	char                          err[512];
	int                           rv;

	ctx = json_pack("{s:s, s:s, s:s, s:b, s:s}", "run_id", s->run_id,
	    "task_id", s->task_id, "board", "local", "comment_only",
	    comment_only, "comment_text", text);
	keep(s, "request_context.json", ctx);
	json_decref(ctx);
	memset(&sh, 0, sizeof(sh));
	sh.task_id = (char *) s->task_id;
	if ((rv = opc_ctl(b->ctl, MSG_BOARD_TASK_SHOW, &sh, &d, err,
	         sizeof(err), OPC_CTL_TIMEOUT)) != 0) {
		if (rv == ERR_NOTFOUND && strstr(err, "not running") != NULL)
			opc_not_up(o, err);
		return (fail(s, "fetch", err));
	}
	keep(s, "board_task.json", d);
	t   = json_object_get(d, "task");
	why = parse(s, opc_jstr(t, "title", NULL), opc_jstr(t, "state", NULL),
	    json_object_get(t, "labels"), opc_jstr(t, "goal", NULL),
	    opc_jstr(t, "repo_key", NULL), opc_jstr(t, "kind", NULL));
	json_decref(d);
	d = NULL;
	if (why != NULL && !comment_only)
		return (fail(s, "parse", why));
	memset(&cm, 0, sizeof(cm));
	cm.task_id = (char *) s->task_id;
	cm.body    = (char *) text;
	cm.author  = "smoke";
	if (opc_ctl(b->ctl, MSG_BOARD_TASK_COMMENT, &cm, &d, err, sizeof(err),
	        OPC_CTL_TIMEOUT) != 0)
		return (fail(s, "comment", err));
	json_decref(d);
	res = json_pack("{s:s, s:s, s:s, s:O, s:{s:s}, s:s?}", "run_id",
	    s->run_id, "task_id", s->task_id, "status", "ok", "parsed_task",
	    s->parsed, "comment", "text", text, "parse_problem", why);
	keep(s, "smoke_result.json", res);
	json_decref(res);
	return (0);
}

int
cmd_smoke(struct opc *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "task-id", required_argument, NULL, 't' },
		{ "comment-only", no_argument, NULL, 'c' },
		{ "comment-text", required_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	const struct topo_inst *b;
	struct smoke            s;
	const char             *mode, *text      = NULL;
	char                    ts[40], *deftext = NULL, *p;
	json_t                 *out;
	bool                    comment_only = false;
	int                     ch, rv;

	memset(&s, 0, sizeof(s));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 't')
			s.task_id = optarg;
		else if (ch == 'c')
			comment_only = true;
		else if (ch == 'x')
			text = optarg;
		else
			return (2);
	}
	if (s.task_id == NULL || optind < argc) {
		fprintf(stderr,
		    "usage: opc smoke --task-id ID [--comment-only]"
		    " [--comment-text TEXT]\n");
		return (2);
	}
	/* the id names the evidence folder */
	if (!id_valid(s.task_id)) {
		fprintf(stderr, "opc smoke: '%.64s' is not a task id\n",
		    s.task_id);
		return (2);
	}
	if ((s.t = opc_topo(o)) == NULL)
		return (1);
	if ((b = opc_find_service(s.t, "board-sync")) == NULL) {
		fprintf(stderr, "opc smoke: no board-sync instance in %s\n",
		    s.t->config_path);
		return (1);
	}
	mode    = cfg_str(cfg_get(b->node, "board"));
	s.plane = mode != NULL && strcmp(mode, "plane") == 0;
	(void) uuid4(s.run_id);
	iso8601(now_ms(), ts, sizeof(ts));
	/* 2026-12-05T08:33:00.123Z -> 20261205T083300Z */
	for (p = ts; *p != '\0'; p++)
		if (*p == '.') {
			p[0] = 'Z';
			p[1] = '\0';
			break;
		}
	for (p = ts; *p != '\0';)
		if (*p == '-' || *p == ':')
			memmove(p, p + 1, strlen(p));
		else
			p++;
	s.dir = xasprintf("%s/reports/smoke/%s_%s_%.8s", s.t->state_dir, ts,
	    s.task_id, s.run_id);
	if (mkdirs(s.dir, 0700) != 0) {
		fprintf(stderr, "opc smoke: cannot create %s\n", s.dir);
		free(s.dir);
		return (1);
	}
	if (text == NULL)
		text = deftext =
		    xasprintf("[Smoke] opcenter smoke test %s: the "
		              "work item was fetched and this "
		              "comment posted; nothing was run.",
		        s.run_id);
	s.artifacts = json_array();
	rv          = s.plane ? smoke_plane(&s, b, comment_only, text)
	                      : smoke_local(&s, o, b, comment_only, text);
	out = json_pack("{s:s, s:s, s:O?, s:O, s:s}", "run_id", s.run_id,
	    "task_id", s.task_id, "parsed_task", s.parsed, "artifacts",
	    s.artifacts, "status", rv == 0 ? "ok" : "failed");
	json_dumpf(out, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	printf("\n");
	json_decref(out);
	json_decref(s.parsed);
	json_decref(s.artifacts);
	free(deftext);
	free(s.dir);
	return (rv);
}
