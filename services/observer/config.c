/*
 * config.c - the observer's settings (a repo's own are repos.<key>.
 * observe: conf.c's).
 */
#include "conf.h"

const struct cfg_key observer_keys[] = {
	CFG_MS("interval", "600s", "0", NULL,
	    "observe each repo this often (0: only on CI events and asked; "
	    "else at least 1s)"),
	CFG_MS("command_timeout", "300s", "100ms", NULL,
	    "each command's limit; the worker is stopped at twice it"),
	CFG_INT("history_keep", "500", "1", NULL, "observations kept"),
	CFG_INT("max_parallel", "2", "1", "256", "observations at once"),
	CFG_STR("work_dir", NULL,
	    "its files (default: the instance's name, under state_dir)"),
	CFG_STR("worker", NULL,
	    "the worker program (default: opc-observe-run beside it)"),
	CFG_STRS("repos",
	    "the repos it observes (default: every one with a checkout)"),
	CFG_END,
};
