/*
 * config.c - the executor's settings, and those of the git: and github:
 * sections it reads.  A backend's settings are exec_spec's (spec.c).
 */
#include "conf.h"
#include "spec.h"

static const struct cfg_key backend_item[] = {
	CFG_SECTION("*", backend_keys, "a backend, by name"),
	CFG_END,
};

static const struct cfg_key limits_keys[] = {
	CFG_INT("max_files", "50", "1", NULL, "files a run may change"),
	CFG_INT("max_lines", "2000", "1", NULL, "lines a run may change"),
	CFG_INT("quality_threshold", "3", "0", NULL,
	    "new lint or type findings a run may add"),
	CFG_END,
};

static const struct cfg_key mirror_keys[] = {
	CFG_BOOL("enabled", "true",
	    "runs clone --shared from a bare mirror of the repo kept on this "
	    "host (false: a full clone of clone_url per run)"),
	CFG_STR("dir", "mirrors",
	    "where the mirrors live, one <repo key>.git each (relative to "
	    "state_dir)"),
	CFG_MS("fetch_interval", "1m", "0", NULL,
	    "a mirror is fetched at most this often, and always before a run "
	    "whose base branch or commit it lacks (0: before every run)"),
	CFG_MS("gc_interval", "1d", "0", NULL,
	    "git gc --auto of a mirror at most this often (it never prunes: "
	    "workspaces borrow its objects)"),
	CFG_END,
};

static const struct cfg_key tools_item[] = {
	CFG_STRS("*", "a family's tools, by program name"),
	CFG_END,
};

static const struct cfg_key sandbox_keys[] = {
	CFG_STR(
	    "bwrap", "bwrap", "the bubblewrap program (Debian: bubblewrap)"),
	CFG_INT("memory_mb", "8192", "0", NULL,
	    "address space of a backend run, MiB (RLIMIT_AS); 0: none"),
	CFG_INT("max_procs", "512", "0", NULL,
	    "processes of a backend run (RLIMIT_NPROC); 0: none"),
	CFG_INT("cpu_seconds", "3600", "0", NULL,
	    "CPU time of a backend run (RLIMIT_CPU); 0: none"),
	CFG_INT("file_size_mb", "2048", "0", NULL,
	    "largest file a backend run may write, MiB (RLIMIT_FSIZE); 0: "
	    "none"),
	CFG_STRS("hide",
	    "more directories no backend may see (the state directory, the "
	    "workspace root and the executor's HOME always are)"),
	CFG_END,
};

const struct cfg_key executor_keys[] = {
	CFG_INT("max_parallel", "1", "1", "256", "runs at once"),
	CFG_STR("workspace_root", "workspaces",
	    "where runs clone (relative to state_dir)"),
	CFG_STR("worker", NULL,
	    "the worker program (default: opc-exec-run beside the executor)"),
	CFG_ENUM("workspace_retention", "keep", "keep|remove",
	    "a finished run's workspace: kept, or removed after a delay"),
	CFG_MS("workspace_remove_after", "1h", "0", NULL,
	    "the delay of workspace_retention: remove"),
	CFG_INT("orphan_sweep_every", "3000", "1", NULL,
	    "ticks (200 ms) between sweeps removing workspaces no run owns, "
	    "whatever the retention; one at start too (3000: 10 minutes)"),
	CFG_INT("workspace_health_every", "1875", "1", NULL,
	    "ticks (200 ms) between checks of each repo's environment "
	    "(repos.R.health_command, then repair_command; 1875: 25 of the "
	    "original's 15 s cycles)"),
	CFG_SECTION("sandbox", sandbox_keys,
	    "the bubblewrap sandbox of every backend run (README, Sandbox)"),
	CFG_MAP("backends", backend_item,
	    "the backends it runs (stub is built in)"),
	CFG_STRS("no_change_kinds",
	    "task kinds that may succeed changing "
	    "nothing"),
	CFG_SECTION("limits", limits_keys, "the scope of a run's change"),
	CFG_SECTION("mirror", mirror_keys,
	    "the per-repo git mirror that workspaces borrow objects from"),
	CFG_INT("min_free_disk_mb", "256", "0", NULL,
	    "below this many MiB free on the state or the workspace "
	    "filesystem no run starts and the router holds dispatches "
	    "(low_disk); 0: no floor"),
	CFG_INT("pr_cap_cache_seconds", "60", "0", "86400",
	    "a pull request held by a cap of its repo (repos.R.max_open_prs, "
	    "max_prs_per_hour) is counted again on GitHub at most this often"),
	CFG_MAP("family_tools", tools_item,
	    "the programs a task family needs on the PATH (a run of a task "
	    "labelled 'source-family: F' lacking one: execution_env_warning)"),
	CFG_END,
};

const struct cfg_key executor_git_keys[] = {
	CFG_STR("token_env", NULL,
	    "the variable holding the GitHub token (none: no pull requests)"),
	CFG_STR("author_name", "Operations Center Bot", "commits' author"),
	CFG_STR("author_email", "operations-center-bot@example.com",
	    "commits' author email"),
	CFG_STR("branch_prefix", "opcenter/",
	    "opcenter pushes only to branches under it: a run's branch is "
	    "<branch_prefix><kind>/<task>-<run> (README, Branch safety)"),
	CFG_END,
};

const struct cfg_key executor_github_keys[] = {
	CFG_STR("api_url", "https://api.github.com", "the GitHub API"),
	CFG_INT("warn_days", "7", "0", NULL,
	    "warn this many days before the token expires"),
	CFG_END,
};
