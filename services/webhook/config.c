/*
 * config.c - the webhook receiver's settings.
 */
#include "conf.h"

const struct cfg_key webhook_keys[] = {
	CFG_STR("listen", "http://127.0.0.1:8765", "the address it serves"),
	CFG_STR("github_secret_env", NULL,
	    "the variable holding GitHub's webhook secret"),
	CFG_STR("plane_secret_env", NULL,
	    "the variable holding Plane's webhook secret"),
	CFG_BOOL("insecure", "false",
	    "accept unsigned deliveries when a secret is not set"),
	CFG_INT("max_body", "1048576", "1", NULL, "a delivery's largest body"),
	CFG_MS("metrics_interval", "5s", "1ms", NULL,
	    "how often /metrics is refreshed"),
	CFG_MS("delivery_retention", "7d", "0", NULL,
	    "delivery ids kept to drop duplicates"),
	CFG_MS("header_timeout", "10s", "100ms", NULL,
	    "the request line and headers, from the first byte"),
	CFG_MS("body_timeout", "30s", "100ms", NULL,
	    "the body, once the headers are in"),
	CFG_MS("idle_timeout", "60s", "100ms", NULL,
	    "a kept-alive connection's idle time"),
	CFG_INT("max_connections", "64", "1", "4096", "connections at once"),
	CFG_STR("ingest_secret_env", NULL,
	    "the variable holding the secret error reporters sign /ingest "
	    "bodies with (X-Hub-Signature-256)"),
	CFG_INT("ingest_max_body", "65536", "1", NULL,
	    "an error report's largest body"),
	CFG_MS("ingest_dedup_window", "3600s", "1s", NULL,
	    "a fingerprint reported again within this asks for no new task"),
	CFG_END,
};
