/*
 * config.c - the insighter's settings (the original's thresholds).
 */
#include "conf.h"

const struct cfg_key insighter_keys[] = {
	CFG_INT("history", "50", "5", NULL,
	    "snapshots kept per repo (at least a trend's window)"),
	CFG_NUM("trend_pct", "10", "0", NULL,
	    "a trend is a change of more than this percentage"),
	CFG_NUM("coverage_min_pct", "60", "0", "100",
	    "coverage below this is a coverage_gap"),
	CFG_MS("stale_after", "2h", "1ms", NULL,
	    "a repo not observed this long: insight.warning stale_snapshot"),
	CFG_MS("noop_window", "7d", "0", NULL,
	    "proposals counted for no-op loops"),
	CFG_MS("stale_check", "30s", "1ms", NULL,
	    "how often staleness is checked"),
	CFG_END,
};
