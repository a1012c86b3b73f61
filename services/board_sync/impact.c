/*
 * impact.c - cross-repo impact (the original's goal watcher, diagnostics
 * guide "Cross-Repo Impact Warnings"): a repo may declare
 * impact_report_paths, the paths other repos depend on; a run of another
 * repo's task whose changes touch one of them is advisory news for the
 * people of that task.  One warning per (repo, path, changed file), in
 * the original's words: "repo=R shared_path=P changed_file=F".
 */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "opc/cfg.h"
#include "opc/util.h"

/* path_under: file is shared (a directory prefix, with or without its
 * slash, or a glob). */
static bool
path_under(const char *shared, const char *file)
{
	size_t n = strlen(shared);

	if (n == 0)
		return (false);
	if (strpbrk(shared, "*?[") != NULL)
		return (fnmatch(shared, file, 0) == 0);
	if (strncmp(shared, file, n) != 0)
		return (false);
	return (shared[n - 1] == '/' || file[n] == '\0' || file[n] == '/');
}

size_t
board_impact(const struct cfg_node *root, const char *repo_key,
    const struct msg_exec_result *r, struct msg_strs *warnings)
{
	const struct cfg_node *repos = cfg_get(root, "repos");
	const char           **paths;
	const char            *key, *file;
	char                   err[64], *w;
	size_t                 i, k, c, n = 0;

	if (r == NULL)
		return (0);
	for (i = 0; i < cfg_len(repos); i++) {
		key = cfg_key_at(repos, i);
		if (key == NULL ||
		    (repo_key != NULL && strcmp(key, repo_key) == 0))
			continue;
		paths = NULL;
		if (cfg_get_strs(cfg_at(repos, i), "impact_report_paths",
		        &paths, &k, err, sizeof(err)) != 0 ||
		    paths == NULL)
			continue;
		for (k = 0; paths[k] != NULL; k++)
			for (c = 0; c < r->changed_files.n; c++) {
				file = r->changed_files.v[c].path;
				if (file == NULL ||
				    !path_under(paths[k], file))
					continue;
				if (n < BOARD_IMPACT_MAX) {
					w = xasprintf("repo=%s shared_path=%s "
					              "changed_file=%s",
					    key, paths[k], file);
					msg_strs_add(warnings, w);
					free(w);
				}
				n++;
			}
		free(paths);
	}
	return (n);
}
