/*
 * config.c - opc-supervisor's settings (the top-level supervisor:
 * section, with topo_inst_keys).
 */
#include "conf.h"

const struct cfg_key supervisor_keys[] = {
	CFG_MS("restart_backoff_min", "500ms", "1ms", NULL,
	    "the first restart's delay; doubles per restart"),
	CFG_MS("restart_backoff_max", "30s", "1ms", NULL,
	    "the longest delay between restarts"),
	CFG_MS("backoff_reset_after", "60s", "0", NULL,
	    "a process up this long restarts at the first delay again"),
	CFG_INT("crash_loop_restarts", "5", "1", "63",
	    "more restarts than this within crash_loop_window: failed"),
	CFG_MS("crash_loop_window", "60s", "1ms", NULL,
	    "the window crash_loop_restarts counts in"),
	CFG_MS("stop_grace", "10s", "0", NULL,
	    "SIGTERM, then SIGKILL after this long"),
	CFG_MS("stale_after", NULL, "1ms", NULL,
	    "no heartbeat for this long is stale (default: "
	    "opcenter.stale_after_ms)"),
	CFG_MS("start_timeout", "90s", "1ms", NULL,
	    "an instance not yet heartbeating is stale only after this "
	    "long (or stale_after, if longer)"),
	CFG_MS("status_every", "1s", "1ms", NULL,
	    "how often supervisor.status.json is written"),
	CFG_BOOL("stale_restart", "true", "a stale instance is restarted"),
	CFG_END,
};
