/*
 * repos.c - which checkouts the observer watches (see observer.h).
 *
 * A repo is observable when it has a local checkout: `local_path`, or a
 * clone_url that is a local path (not scheme://, not scp-like host:path;
 * file:// is local).  Relative paths are relative to the config file's
 * directory, like every path in the config.  The instance's `repos:` list
 * names the repos to observe; without it every observable repo is.  A
 * listed repo that is unknown or has no checkout is a config error, so a
 * typo never silently turns observation off.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "collect.h"
#include "conf.h"
#include "observer.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/util.h"

/* argv_json reads an optional command (a non-empty list of strings) at
 * key of ob into *out (a new JSON array, or JSON null). */
static int
argv_json(json_t **out, const struct cfg_node *ob, const char *key, char *err,
    size_t errlen)
{
	const char **v;
	size_t       n, i;
	char         where[256];
	int          rv;

	if ((rv = cfg_get_strs(ob, key, &v, &n, err, errlen)) != 0)
		return (rv);
	if (v != NULL && n == 0) {
		cfg_where(cfg_get(ob, key), where, sizeof(where));
		snprintf(err, errlen,
		    "%s: %s: expected a non-empty list "
		    "(an argv, run without a shell)",
		    where, key);
		free(v);
		return (ERR_CONFIG);
	}
	*out = v != NULL ? json_array() : json_null();
	for (i = 0; i < n; i++)
		json_array_append_new(*out, json_string(v[i]));
	free(v);
	return (0);
}

/* observe_json reads a repo's observe: map into the spec fields. */
static int
observe_json(json_t **out, const struct cfg_node *rn, char *err, size_t errlen)
{
	const struct cfg_node *ob   = cfg_get(rn, "observe");
	json_t                *lint = NULL, *type = NULL, *cov;
	const char           **v;
	size_t                 n, i;
	int64_t                todo;
	int                    rv;

	*out = NULL;
	if ((rv = argv_json(&lint, ob, "lint_command", err, errlen)) != 0 ||
	    (rv = argv_json(&type, ob, "type_command", err, errlen)) != 0 ||
	    (rv = cfg_tab_int(conf_repo_keys, rn, "observe.todo_max_files",
	         &todo, err, errlen)) != 0 ||
	    (rv = cfg_get_strs(ob, "coverage_paths", &v, &n, err, errlen)) !=
	        0)
		goto fail;
	if (v == NULL)
		cov = json_pack("[s, s]", "coverage.xml", "coverage.txt");
	else
		cov = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(cov, json_string(v[i]));
	free(v);
	*out = json_pack("{s:o, s:o, s:o, s:I}", "lint_command", lint,
	    "type_command", type, "coverage_paths", cov, "todo_max_files",
	    (json_int_t) todo);
	return (0);
fail:
	json_decref(lint);
	json_decref(type);
	return (rv);
}

/* repo_add appends repo key (its node rn) when it has a checkout;
 * *added tells whether it had. */
static int
repo_add(struct observer *o, const char *key, const struct cfg_node *rn,
    const char *dir, bool *added, char *err, size_t errlen)
{
	struct obs_repo *r;
	const char      *lp, *url, *gh;
	char            *path;
	json_t          *ob;
	int              rv;

	*added = false;
	if ((rv = cfg_get_str(rn, "local_path", NULL, &lp, err, errlen)) !=
	        0 ||
	    (rv = cfg_get_str(rn, "clone_url", NULL, &url, err, errlen)) !=
	        0 ||
	    (rv = cfg_get_str(rn, "github_repo", NULL, &gh, err, errlen)) != 0)
		return (rv);
	path = path_checkout(lp, url, dir);
	if (path == NULL)
		return (0);
	if ((rv = observe_json(&ob, rn, err, errlen)) != 0) {
		free(path);
		return (rv);
	}
	o->repos = xrealloc(o->repos, (o->nrepos + 1) * sizeof(*o->repos));
	r        = &o->repos[o->nrepos++];
	memset(r, 0, sizeof(*r));
	r->key  = xstrdup(key);
	r->path = path;
	r->github =
	    gh != NULL && *gh != '\0' ? xstrdup(gh) : github_repo_of(url);
	r->observe = ob;
	*added     = true;
	return (0);
}

/* listed_add adds the repos the instance lists (at node list), each
 * required. */
static int
listed_add(struct observer *o, const struct cfg_node *repos,
    const struct cfg_node *list, const char **keys, size_t n, const char *dir,
    char *err, size_t errlen)
{
	const struct cfg_node *rn;
	size_t                 i;
	bool                   added;
	char                   where[256];
	int                    rv;

	cfg_where(list, where, sizeof(where));
	for (i = 0; i < n; i++) {
		if ((rn = cfg_get(repos, keys[i])) == NULL ||
		    cfg_type(rn) != CFG_MAP) {
			snprintf(err, errlen,
			    "%s: repos: '%s' is not a repo of the "
			    "top-level repos map",
			    where, keys[i]);
			return (ERR_CONFIG);
		}
		if (repos_find(o, keys[i]) != NULL)
			continue;
		if ((rv = repo_add(
		         o, keys[i], rn, dir, &added, err, errlen)) != 0)
			return (rv);
		if (!added) {
			snprintf(err, errlen,
			    "repos.%s: no local checkout to "
			    "observe (set local_path)",
			    keys[i]);
			return (ERR_CONFIG);
		}
	}
	return (0);
}

int
repos_load(struct observer *o, const struct cfg_node *root,
    const struct cfg_node *inst, const char *dir, char *err, size_t errlen)
{
	const struct cfg_node *repos = cfg_get(root, "repos");
	const char           **keys;
	size_t                 n, i;
	bool                   added;
	int                    rv;

	if ((rv = cfg_get_strs(inst, "repos", &keys, &n, err, errlen)) != 0)
		return (rv);
	if (keys != NULL) {
		rv = listed_add(o, repos, cfg_get(inst, "repos"), keys, n, dir,
		    err, errlen);
		free(keys);
		return (rv);
	}
	for (i = 0; i < cfg_len(repos); i++) {
		if (cfg_type(cfg_at(repos, i)) != CFG_MAP)
			continue;
		if ((rv = repo_add(o, cfg_key_at(repos, i), cfg_at(repos, i),
		         dir, &added, err, errlen)) != 0)
			return (rv);
	}
	return (0);
}

void
repos_free(struct observer *o)
{
	size_t i;

	for (i = 0; i < o->nrepos; i++) {
		free(o->repos[i].key);
		free(o->repos[i].path);
		free(o->repos[i].github);
		free(o->repos[i].report);
		free(o->repos[i].report_run);
		free(o->repos[i].run_id);
		free(o->repos[i].queued);
		json_decref(o->repos[i].observe);
	}
	free(o->repos);
	o->repos  = NULL;
	o->nrepos = 0;
}

struct obs_repo *
repos_find(struct observer *o, const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < o->nrepos; i++)
		if (strcmp(o->repos[i].key, name) == 0)
			return (&o->repos[i]);
	return (NULL);
}

struct obs_repo *
repos_match(struct observer *o, const char *name)
{
	struct obs_repo *r;
	size_t           i;

	if (name == NULL)
		return (NULL);
	if ((r = repos_find(o, name)) != NULL)
		return (r);
	/* GitHub names are case-insensitive. */
	for (i = 0; i < o->nrepos; i++)
		if (o->repos[i].github != NULL &&
		    strcasecmp(o->repos[i].github, name) == 0)
			return (&o->repos[i]);
	return (NULL);
}
