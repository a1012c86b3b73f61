/*
 * config.c - the escalator's settings.
 */
#include "conf.h"

const struct cfg_key escalator_keys[] = {
	CFG_STRS("urls", "webhook URLs (http or https)"),
	CFG_STR("url_env", NULL,
	    "the variable holding one more URL (it may embed a secret)"),
	CFG_STR("urls_env", NULL,
	    "the variable holding more URLs, comma-separated"),
	CFG_ENUM("format", "json", "json|slack",
	    "the body: json, or slack ({\"text\": ...})"),
	CFG_MS("cooldown", "1h", "0", NULL,
	    "per (kind, key), from the last sent escalation"),
	CFG_INT(
	    "retry_max", "5", "0", NULL, "retries after the first attempt"),
	CFG_MS("retry_backoff", "2s", "1ms", NULL,
	    "the first retry's delay; doubles, capped at 5 min"),
	CFG_INT("blocked_threshold", "3", "1", NULL,
	    "consecutive Blocked updates of a task that escalate"),
	CFG_MS("timeout", "10s", "1ms", NULL, "one POST's limit"),
	CFG_END,
};
