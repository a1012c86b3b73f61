/*
 * conf.c - the top level of the config file and the sections services
 * share (repos), the list of services and their tables, and the check
 * of a whole file.
 */
#include <string.h>

#include "branch_guard.h"
#include "conf.h"
#include "opc/topo.h"
#include "opc/util.h"

#define MAX_USD "1000000000" /* router/logic/spend.c's MAX_USD */

static const struct cfg_key observe_keys[] = {
	CFG_STRS("lint_command", "the linter's argv (run without a shell)"),
	CFG_STRS("type_command", "the type checker's argv"),
	CFG_STRS("coverage_paths",
	    "coverage reports to read (default: coverage.xml, coverage.txt)"),
	CFG_INT("todo_max_files", "2000", "0", NULL,
	    "files searched for TODO and FIXME"),
	CFG_END,
};

static const struct cfg_key any_item[] = {
	CFG_ANY("*", "a command: a string, or an argv (a list of strings)"),
	CFG_END,
};

const struct cfg_key conf_repo_keys[] = {
	CFG_STR("clone_url", NULL,
	    "where the executor clones from (a local path is relative to "
	    "this file)"),
	CFG_STR("local_path", NULL,
	    "the checkout the observer watches (and the clone source "
	    "without clone_url)"),
	CFG_STR("default_branch", "main", "the base of a run's branch"),
	CFG_LIST("validation_commands", any_item,
	    "run after a change: each a shell line or an argv"),
	CFG_INT("validation_timeout_seconds", "300", "1", NULL,
	    "each validation command's limit"),
	CFG_BOOL("await_review", "false",
	    "a finished run waits In Review for a human"),
	CFG_BOOL("open_pr", "false", "a finished run opens a pull request"),
	CFG_BOOL("skip_baseline_validation", "false",
	    "do not validate the base before the change"),
	CFG_STRS("allowed_base_branches",
	    "the branches a run may start from (default: any)"),
	CFG_INT("max_open_prs", "10", "0", "100000",
	    "open pull requests of opcenter's on this repo (counted on "
	    "GitHub) beyond which a run's pull request waits in the "
	    "executor's queue (Renovate's prConcurrentLimit); 0: no cap"),
	CFG_INT("max_prs_per_hour", "2", "0", "100000",
	    "pull requests opcenter opens on this repo in an hour; more wait "
	    "in the queue (Renovate's prHourlyLimit); 0: no cap"),
	CFG_STRS("protected_branches",
	    "branches opcenter never pushes to, besides the default branch "
	    "(default: main, master)"),
	CFG_STR("github_repo", NULL,
	    "owner/name on GitHub (default: parsed from a github.com "
	    "clone_url)"),
	CFG_STR("token_env", NULL,
	    "the variable holding this repo's GitHub token (default: "
	    "git.token_env)"),
	CFG_NUM("max_usd_per_day", NULL, "0", MAX_USD,
	    "spend cap of this repo over the last 24 h (default: none)"),
	CFG_SECTION("observe", observe_keys, "what the observer collects"),
	CFG_STRS("impact_report_paths",
	    "paths other repos depend on: a run of another repo's task "
	    "that changes one is reported (cross_repo_impact_detected)"),
	CFG_STRS("health_command",
	    "the environment's check (argv, in the checkout), run by the "
	    "executor every workspace_health_every ticks; exit 0 is healthy"),
	CFG_STRS("repair_command",
	    "run when the check fails (argv, in the checkout); the check "
	    "runs again after it"),
	CFG_MS("health_timeout", "120s", "1s", "1h",
	    "each health or repair command's limit"),
	CFG_END,
};

const struct cfg_key conf_dependency_keys[] = {
	CFG_BOOL("registry_lookup", "false",
	    "ask the registries for each package's newest version"),
	CFG_STR("npm_registry", "https://registry.npmjs.org",
	    "GET <url>/<package>/latest"),
	CFG_STR(
	    "pypi_url", "https://pypi.org", "GET <url>/pypi/<package>/json"),
	CFG_STR("go_proxy", "https://proxy.golang.org",
	    "GET <url>/<module>/@latest"),
	CFG_MS("timeout", "10s", "100ms", "5m", "each registry request"),
	CFG_BOOL("pip_list", "true",
	    "without a venv in the checkout, ask python3 -m pip list what "
	    "is installed"),
	CFG_INT("report_keep", "20", "1", "10000",
	    "reports kept under state_dir/reports/dependency"),
	CFG_END,
};

static const struct cfg_key repo_item[] = {
	CFG_SECTION("*", conf_repo_keys, "a repo, by its key"),
	CFG_END,
};

static const struct cfg_key opcenter_keys[] = {
	CFG_INCLUDE(topo_opcenter_keys),
	CFG_NUM("cost_per_execution_usd", NULL, "0", MAX_USD,
	    "the recorder's fallback when the top-level key is absent"),
	CFG_END,
};

static const struct cfg_key supervisor_section[] = {
	CFG_INCLUDE(topo_inst_keys),
	CFG_INCLUDE(supervisor_keys),
	CFG_END,
};

const struct cfg_key conf_global_keys[] = {
	CFG_SECTION("opcenter", opcenter_keys,
	    "the constellation: state, heartbeats, TLS"),
	CFG_NUM("cost_per_execution_usd", "0", "0", MAX_USD,
	    "booked for a run whose agent reported no cost"),
	CFG_SECTION("plane", board_sync_plane_keys,
	    "Plane, when board-sync runs with board: plane"),
	CFG_SECTION("git", executor_git_keys, "commits and pushes"),
	CFG_SECTION("github", executor_github_keys, "the GitHub API"),
	CFG_MAP("repos", repo_item, "the repos runs change, by key"),
	CFG_SECTION("dependency_check", conf_dependency_keys,
	    "opc dependency-check: registries, reports"),
	CFG_END,
};

const struct cfg_key conf_root_keys[] = {
	CFG_INCLUDE(conf_global_keys),
	CFG_SECTION("supervisor", supervisor_section,
	    "opc-supervisor: restarts, crash loops, stop grace"),
	CFG_ANY("instances",
	    "the processes, by name: each checked as its service"),
	CFG_END,
};

const struct conf_service conf_services[] = {
	{ "board-sync", board_sync_keys,
	    "the board: the local board (sqlite) or Plane" },
	{ "router", router_keys,
	    "proposal -> lane decision -> policy -> gates -> dispatch" },
	{ "executor", executor_keys, "runs a dispatch in a worker process" },
	{ "recorder", recorder_keys, "evidence, usage and spend" },
	{ "escalator", escalator_keys, "operator webhooks" },
	{ "webhook", webhook_keys, "inbound GitHub and Plane webhooks" },
	{ "observer", observer_keys, "observes each repo's checkout" },
	{ "insighter", insighter_keys, "insights from the observations" },
	{ "proposer", proposer_keys, "proposals from the insights" },
	{ "dash", dash_keys, "the read-only dashboard" },
	{ NULL, NULL, NULL },
};

const struct cfg_key *
conf_service_keys(const char *service)
{
	const struct conf_service *s;

	for (s = conf_services; s->name != NULL; s++)
		if (strcmp(s->name, service) == 0)
			return (s->keys);
	return (NULL);
}

/* inst walks instance in with fn (cfg_check or cfg_drift). */
static int
inst(const struct topo_inst *in,
    int (*fn)(const struct cfg_node *, const struct cfg_key *, const char *,
        struct buf *),
    struct buf *out)
{
	const struct cfg_key *keys  = conf_service_keys(in->service);
	const struct cfg_key  tab[] = { CFG_INCLUDE(topo_inst_keys),
		 CFG_INCLUDE(keys), CFG_END };

	/* a program opcenter does not know: its settings are its own */
	if (keys == NULL)
		return (0);
	return (fn(in->node, tab, in->name, out));
}

int
conf_check(const struct topo *t, struct buf *errs)
{
	char   err[512];
	size_t i;
	int    n;

	n = cfg_check(cfg_root(t->cfg), conf_root_keys, "", errs);
	for (i = 0; i < t->ninst; i++)
		n += inst(&t->inst[i], cfg_check, errs);
	if (branch_guard_check_config(cfg_root(t->cfg), err, sizeof(err)) !=
	    0) {
		buf_printf(errs, "%s\n", err);
		n++;
	}
	return (n);
}

int
conf_drift(const struct topo *t, struct buf *out)
{
	size_t i;
	int    n;

	n = cfg_drift(cfg_root(t->cfg), conf_root_keys, "", out);
	for (i = 0; i < t->ninst; i++)
		n += inst(&t->inst[i], cfg_drift, out);
	return (n);
}
