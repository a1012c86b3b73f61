/*
 * cmd_dep.c - `opc dependency-check [--repo R] [--create-tasks] [--json]`:
 * each repo's dependency pins against what is installed in its checkout
 * and, with dependency_check.registry_lookup, the registries' newest.
 *
 * The reading is opc/dep.h's (the observer's worker uses the same code
 * for the proposer's dependency_update family).  A repo's checkout is
 * its local_path, else a clone_url that is a local path.  Python
 * packages without a venv in the checkout are looked up with
 * `python3 -m pip list --format=json` (dependency_check.pip_list).  The
 * report is kept as STATE_DIR/reports/dependency/<timestamp>.json (the
 * newest report_keep of them); --create-tasks hands each repo's
 * unhealthy statuses to the proposer (proposer.dependency_tasks), which
 * proposes one improve task per repo + package + kind while none is
 * open.  A repo without a local checkout is skipped (a note).  Exit 0,
 * or 1 when a manifest could not be read, the report not written, or
 * the tasks could not be handed over.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "opc.h"
#include "opc/dep.h"
#include "opc/err.h"
#include "opc/http.h"
#include "opc/proc.h"
#include "opc/util.h"

static const char dep_usage[] =
    "usage: opc dependency-check [--repo R] [--create-tasks] [--json]\n";

struct depcfg {
	int         registry, pip;
	const char *npm, *pypi, *goproxy;
	int64_t     timeout_ms, keep;
};

static int
load_cfg(struct depcfg *c, const struct cfg_node *root)
{
	const struct cfg_node *n        = cfg_get(root, "dependency_check");
	const struct cfg_key  *k        = conf_dependency_keys;
	char                   err[512] = "";

	if (cfg_tab_bool(k, n, "registry_lookup", &c->registry, err,
	        sizeof(err)) != 0 ||
	    cfg_tab_bool(k, n, "pip_list", &c->pip, err, sizeof(err)) != 0 ||
	    cfg_tab_str(k, n, "npm_registry", &c->npm, err, sizeof(err)) !=
	        0 ||
	    cfg_tab_str(k, n, "pypi_url", &c->pypi, err, sizeof(err)) != 0 ||
	    cfg_tab_str(k, n, "go_proxy", &c->goproxy, err, sizeof(err)) !=
	        0 ||
	    cfg_tab_ms(k, n, "timeout", &c->timeout_ms, err, sizeof(err)) !=
	        0 ||
	    cfg_tab_int(k, n, "report_keep", &c->keep, err, sizeof(err)) !=
	        0) {
		fprintf(stderr, "opc dependency-check: %s\n", err);
		return (-1);
	}
	return (0);
}

/* checkout returns the absolute local checkout of repo node rn (its
 * local_path, else a clone_url that is a local path), or NULL. */
static char *
checkout(const struct cfg_node *rn, const char *cfgdir)
{
	return (path_checkout(cfg_str(cfg_get(rn, "local_path")),
	    cfg_str(cfg_get(rn, "clone_url")), cfgdir));
}

/* pip_list fills the python items from pip's list when the checkout
 * has no venv; a note says why not when it cannot. */
static void
pip_list(struct dep_report *r, const char *dir, json_t *notes)
{
	char *const argv[] = { "python3", "-m", "pip", "list", "--format=json",
		"--disable-pip-version-check", NULL };
	struct proc_opts   po;
	struct proc_result pr;
	size_t             i;
	bool               any = false;

	for (i = 0; i < r->n && !any; i++)
		any = strcmp(r->v[i].eco, "python") == 0;
	if (!any || r->have_python)
		return;
	memset(&po, 0, sizeof(po));
	po.argv       = argv;
	po.cwd        = dir;
	po.timeout_ms = 60000;
	po.grace_ms   = 2000;
	po.max_output = 4 * 1024 * 1024;
	if (proc_run(&pr, &po) != 0 || pr.exit_code != 0 ||
	    dep_installed_pip_json(r, buf_cstr(&pr.out)) != 0)
		json_array_append_new(notes,
		    json_string("python: no venv in the checkout and "
		                "python3 -m pip list gave nothing: installed "
		                "versions unknown"));
	proc_result_fini(&pr);
}

/* url_escape appends s to b with what a path segment cannot hold
 * %-escaped (npm's @scope/name becomes @scope%2Fname). */
static void
url_escape(struct buf *b, const char *s, bool go)
{
	for (; *s != '\0'; s++) {
		if (go && isupper((unsigned char) *s))
			buf_printf(b, "!%c", tolower((unsigned char) *s));
		else if (isalnum((unsigned char) *s) ||
		    strchr("-._~@", *s) != NULL || (go && *s == '/'))
			buf_append(b, s, 1);
		else
			buf_printf(b, "%%%02X", (unsigned char) *s);
	}
}

/* latest asks the item's registry for its newest version. */
static void
latest(struct dep_item *it, const struct depcfg *c, json_t *notes)
{
	struct http_req  rq;
	struct http_resp rs;
	struct buf       u;
	json_t          *j;
	const char *v = NULL, *hdrs[] = { "Accept: application/json", NULL };

	buf_init(&u);
	if (strcmp(it->eco, "node") == 0) {
		buf_printf(&u, "%s/", c->npm);
		url_escape(&u, it->name, false);
		buf_puts(&u, "/latest");
	} else if (strcmp(it->eco, "python") == 0) {
		buf_printf(&u, "%s/pypi/", c->pypi);
		url_escape(&u, it->name, false);
		buf_puts(&u, "/json");
	} else {
		buf_printf(&u, "%s/", c->goproxy);
		url_escape(&u, it->name, true);
		buf_puts(&u, "/@latest");
	}
	memset(&rq, 0, sizeof(rq));
	rq.method       = "GET";
	rq.url          = buf_cstr(&u);
	rq.headers      = hdrs;
	rq.timeout_ms   = c->timeout_ms;
	rq.max_response = 4 * 1024 * 1024;
	if (http_blocking(&rq, &rs) == 0 && rs.status == 200) {
		j = json_loads(buf_cstr(&rs.body), 0, NULL);
		v = strcmp(it->eco, "node") == 0
		    ? json_string_value(json_object_get(j, "version"))
		    : strcmp(it->eco, "python") == 0
		    ? json_string_value(json_object_get(
		          json_object_get(j, "info"), "version"))
		    : json_string_value(json_object_get(j, "Version"));
		if (v != NULL && *v != '\0' && strlen(v) < 100)
			it->latest = xstrdup(v);
		json_decref(j);
	}
	if (it->latest == NULL)
		json_array_append_new(notes,
		    json_sprintf("%s %s: no newest version from the registry "
		                 "(%s)",
		        it->eco, it->name,
		        rs.err != 0 ? rs.errmsg : "unexpected answer"));
	http_resp_fini(&rs);
	buf_fini(&u);
}

/* check_repo reads one repo into a new report object {repo, checkout,
 * statuses, errors, counts, notes}; *bad counts its errors. */
static json_t *
check_repo(const char *repo, const char *dir, const struct depcfg *c, int *bad)
{
	struct dep_report r;
	json_t           *rep, *notes = json_array(), *st;
	size_t            i;

	dep_report_init(&r);
	(void) dep_read_repo(&r, dir);
	if (c->pip)
		pip_list(&r, dir, notes);
	if (c->registry)
		for (i = 0; i < r.n; i++)
			latest(&r.v[i], c, notes);
	dep_classify(&r);
	rep = dep_report_json(&r, repo);
	json_array_foreach (json_object_get(rep, "statuses"), i, st)
		json_object_set_new(st, "repo", json_string(repo));
	json_object_set_new(rep, "repo", json_string(repo));
	json_object_set_new(rep, "checkout", json_string(dir));
	json_object_set_new(rep, "notes", notes);
	*bad += (int) r.nerrors;
	dep_report_fini(&r);
	return (rep);
}

static int
cmp_str(const void *a, const void *b)
{
	return (strcmp(*(char *const *) a, *(char *const *) b));
}

/* keep_newest removes the oldest reports beyond keep (names sort by
 * time). */
static void
keep_newest(const char *dir, int64_t keep)
{
	struct dirent *de;
	DIR           *d;
	char         **v = NULL, *p;
	size_t         n = 0, i, len;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len < 6 ||
		    strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		v      = xrealloc(v, (n + 1) * sizeof(*v));
		v[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	qsort(v, n, sizeof(*v), cmp_str);
	for (i = 0; i < n; i++) {
		if ((int64_t) (n - i) > keep) {
			p = xasprintf("%s/%s", dir, v[i]);
			(void) unlink(p);
			free(p);
		}
		free(v[i]);
	}
	free(v);
}

static const char *
note(const json_t *st)
{
	const char *s =
	    json_string_value(json_array_get(json_object_get(st, "notes"), 0));

	return (s != NULL ? s : "");
}

static void
print_table(const json_t *rep)
{
	const json_t *r, *st, *e;
	size_t        i, j;

	json_array_foreach (json_object_get(rep, "repos"), i, r) {
		printf("%s (%s)\n", opc_jstr(r, "repo", "?"),
		    opc_jstr(r, "checkout", "no checkout"));
		if (json_array_size(json_object_get(r, "statuses")) == 0)
			printf("  no pins found\n");
		else
			printf("  %-7s %-28s %-12s %-12s %-12s %-9s %s\n",
			    "KIND", "PACKAGE", "PINNED", "INSTALLED", "LATEST",
			    "STATUS", "NOTE");
		json_array_foreach (json_object_get(r, "statuses"), j, st)
			printf("  %-7s %-28s %-12s %-12s %-12s %-9s %s\n",
			    opc_jstr(st, "kind", "-"),
			    opc_jstr(st, "name", "-"),
			    opc_jstr(st, "pinned_version", "-"),
			    opc_jstr(st, "installed_version", "-"),
			    opc_jstr(st, "upstream_latest", "-"),
			    opc_jstr(st, "status", "-"), note(st));
		json_array_foreach (json_object_get(r, "errors"), j, e)
			printf("  error: %s\n", json_string_value(e));
		json_array_foreach (json_object_get(r, "notes"), j, e)
			printf("  note: %s\n", json_string_value(e));
	}
	json_array_foreach (json_object_get(rep, "created_task_ids"), i, e)
		printf("proposed: %s\n", json_string_value(e));
	json_array_foreach (json_object_get(rep, "skipped_tasks"), i, e)
		printf("not proposed: %s (%s)\n",
		    opc_jstr(e, "dedup_key", "?"), opc_jstr(e, "reason", "?"));
	e = json_array_get(json_object_get(rep, "artifacts"), 0);
	printf("report: %s\n",
	    json_is_string(e) ? json_string_value(e) : "(not written)");
}

/* create_tasks hands a repo's unhealthy statuses to the proposer. */
static int
create_tasks(struct opc *o, const json_t *r, json_t *ids, json_t *skipped)
{
	struct msg_proposer_dependency_tasks q;
	json_t                              *st, *data = NULL, *e;
	size_t                               i;
	char                                 err[128];
	int                                  rv = 0;

	memset(&q, 0, sizeof(q));
	q.repo = (char *) opc_jstr(r, "repo", "");
	json_array_foreach (json_object_get(r, "statuses"), i, st) {
		if (json_is_true(json_object_get(st, "healthy")))
			continue;
		if (msg_dep_status_from_json(msg_dep_status_push(&q.statuses),
		        st, err, sizeof(err)) != 0) {
			fprintf(stderr,
			    "opc dependency-check: %s: package %zu of the"
			    " report: %s\n",
			    q.repo, i, err);
			rv = ERR_INVAL;
			break;
		}
	}
	if (rv == 0 && q.statuses.n > 0)
		rv = opc_call(o, "dependency-check", "proposer",
		    MSG_PROPOSER_DEPENDENCY_TASKS, &q, &data, 10000);
	msg_dep_status_list_fini(&q.statuses);
	if (rv != 0 || data == NULL)
		return (rv);
	json_array_foreach (json_object_get(data, "created"), i, e)
		json_array_append_new(
		    ids, json_string(opc_jstr(e, "candidate_id", "?")));
	json_array_extend(skipped, json_object_get(data, "skipped"));
	json_decref(data);
	return (0);
}

int
cmd_dependency_check(struct opc *o, int argc, char **argv)
{
	const struct cfg_node *root, *repos, *rn;
	struct topo           *t;
	struct depcfg          c;
	json_t                *rep, *rs = json_array(), *all = json_array(),
	             *ids = json_array(), *skipped = json_array(), *r;
	const char *only = NULL, *key;
	char       *dir, *cfgdir, *rdir, *path, *text, ts[32], u[37];
	bool        json = false, tasks = false, found = false;
	struct tm   tm;
	time_t      now = time(NULL);
	size_t      i;
	int         k, bad = 0, rv = 0;

	for (k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--json") == 0)
			json = true;
		else if (strcmp(argv[k], "--create-tasks") == 0 ||
		    strcmp(argv[k], "--create-plane-tasks") == 0)
			tasks = true;
		else if (strcmp(argv[k], "--repo") == 0 && k + 1 < argc)
			only = argv[++k];
		else {
			fprintf(stderr,
			    "opc dependency-check: unknown argument %s\n%s",
			    argv[k], dep_usage);
			goto usage;
		}
	}
	if ((t = opc_topo(o)) == NULL)
		goto fail;
	root = cfg_root(t->cfg);
	if (load_cfg(&c, root) != 0)
		goto fail;
	repos  = cfg_get(root, "repos");
	cfgdir = xstrdup(t->config_path);
	if (strrchr(cfgdir, '/') != NULL)
		*strrchr(cfgdir, '/') = '\0';
	for (i = 0; i < cfg_len(repos); i++) {
		key = cfg_key_at(repos, i);
		rn  = cfg_at(repos, i);
		if (only != NULL && strcmp(key, only) != 0)
			continue;
		found = true;
		if ((rdir = checkout(rn, cfgdir)) == NULL) {
			/* a remote-only repo: nothing to read, not an
			 * error */
			r = json_pack("{s:s, s:n, s:[], s:[], s:{}, s:[s]}",
			    "repo", key, "checkout", "statuses", "errors",
			    "counts", "notes",
			    "skipped: no local checkout (set local_path)");
		} else {
			r = check_repo(key, rdir, &c, &bad);
			if (tasks && create_tasks(o, r, ids, skipped) != 0)
				rv = 1;
			free(rdir);
		}
		json_array_extend(all, json_object_get(r, "statuses"));
		json_array_append_new(rs, r);
	}
	free(cfgdir);
	if (only != NULL && !found) {
		fprintf(stderr, "opc dependency-check: no repo '%s' in %s\n",
		    only, t->config_path);
		goto fail;
	}
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
	rep = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:i, s:b}", "run_id",
	    uuid4(u), "generated_at", ts, "repos", rs, "statuses", all,
	    "created_task_ids", ids, "skipped_tasks", skipped, "error_count",
	    bad, "registry_lookup", c.registry);
	rs = all = ids = skipped = NULL;
	dir  = xasprintf("%s/reports/dependency", t->state_dir);
	path = xasprintf("%s/%s_%.8s.json", dir, ts, u);
	json_object_set_new(rep, "artifacts", json_pack("[s]", path));
	text = json_dumps(rep, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (mkdirs(dir, 0700) != 0 ||
	    write_file_atomic(path, text, strlen(text)) != 0) {
		fprintf(
		    stderr, "opc dependency-check: cannot write %s\n", path);
		json_object_set_new(rep, "artifacts", json_array());
		rv = 1;
	} else
		keep_newest(dir, c.keep);
	if (json) {
		fputs(text, stdout);
		fputc('\n', stdout);
	} else
		print_table(rep);
	free(text);
	free(path);
	free(dir);
	json_decref(rep);
	return (rv != 0 || bad > 0 ? 1 : 0);
usage:
	json_decref(rs);
	json_decref(all);
	json_decref(ids);
	json_decref(skipped);
	return (2);
fail:
	json_decref(rs);
	json_decref(all);
	json_decref(ids);
	json_decref(skipped);
	return (1);
}
