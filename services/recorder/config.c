/*
 * config.c - the recorder's settings.
 */
#include "conf.h"

const struct cfg_key recorder_keys[] = {
	CFG_STR("evidence_root", "runs",
	    "the runs' evidence folders (relative to state_dir)"),
	CFG_INT("write_batch", "16", "1", NULL,
	    "evidence folders written per batch"),
	CFG_MS("decision_wait_ms", "5s", "0", NULL,
	    "how long a run's evidence waits for its routing decision"),
	CFG_NUM("cost_per_execution_usd", NULL, "0", "1000000000",
	    "over the top-level key: booked for a run whose agent reported "
	    "no cost"),
	CFG_END,
};
