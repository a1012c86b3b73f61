/*
 * config.c - the dashboard's settings.
 */
#include "conf.h"

const struct cfg_key dash_keys[] = {
	CFG_STR("listen", "http://127.0.0.1:8790",
	    "the address it serves (its own: never the webhook's; keep it "
	    "on loopback or behind a proxy with TLS)"),
	CFG_STR("token_env", NULL,
	    "the variable holding the bearer token the page asks for "
	    "(none: no token)"),
	CFG_MS("refresh", "2s", "100ms", "1h",
	    "how often the state is gathered from every instance"),
	CFG_MS("ctl_timeout", "500ms", "10ms", "30s",
	    "each status question to an instance"),
	CFG_INT("runs", "20", "1", "200", "recent runs shown"),
	CFG_INT("evidence_max", "8388608", "1", NULL,
	    "an evidence file's largest size shown"),
	CFG_MS("header_timeout", "10s", "100ms", NULL,
	    "the request line and headers, from the first byte"),
	CFG_MS("idle_timeout", "60s", "100ms", NULL,
	    "a kept-alive connection's idle time"),
	CFG_INT("max_connections", "32", "1", "4096",
	    "connections at once (event streams included)"),
	CFG_END,
};
