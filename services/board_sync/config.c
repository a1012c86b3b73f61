/*
 * config.c - board-sync's settings, and Plane's (the top-level plane:
 * section, which an instance's own plane: map overrides key by key).
 */
#include "conf.h"

static const struct cfg_key states_keys[] = {
	CFG_STR(
	    "ready", "Ready for AI", "the project's state of a task to run"),
	CFG_STR("running", "Running", "a task being run"),
	CFG_STR("review", "In Review",
	    "a finished run awaiting review (needed when a repo has "
	    "await_review)"),
	CFG_STR("blocked", "Blocked", "a task that needs a human"),
	CFG_STR("done", "Done", "a finished task"),
	CFG_STR("backlog", "Backlog", "a task not ready yet"),
	CFG_STR("cancelled", "Cancelled", "a task given up"),
	CFG_END,
};

const struct cfg_key board_sync_plane_keys[] = {
	CFG_STR("base_url", NULL, "Plane's address (required)"),
	CFG_STR("api_token_env", NULL,
	    "the variable holding Plane's API key (required)"),
	CFG_STR("workspace_slug", NULL, "the workspace (required)"),
	CFG_STR("project_id", NULL, "the project's id (required)"),
	CFG_INT("per_page", "1000", NULL, NULL,
	    "a full listing's page (Plane allows 1 to 1000: clamped)"),
	CFG_STR("rate_limit", "60/minute",
	    "the key's limit: N/second, N/minute, N/hour or N/day"),
	CFG_MS("safety_poll", "5m", "1ms", NULL,
	    "the listing's period once Plane's webhooks come"),
	CFG_MS("full_sync", "1h", "1ms", NULL,
	    "every page of work items read again"),
	CFG_MS("meta_refresh", "1h", "1ms", NULL,
	    "states and labels read again (and on a miss)"),
	CFG_MS("answer_poll", "5m", "1ms", NULL,
	    "replies to questions read (and on a comment webhook)"),
	CFG_MS("claim_ttl", "10m", "1ms", NULL,
	    "another instance's unfinished claim stops counting after"),
	CFG_INT(
	    "max_claims", "2", NULL, NULL, "claims in flight (at least 1)"),
	CFG_STRS("authorized_members",
	    "member ids or emails whose work items run: the creator or "
	    "the member who moved it to Ready must be one (or hold a role "
	    "below); neither set: everyone's run"),
	CFG_STRS("authorized_roles",
	    "workspace roles whose work items run: admin, member, guest "
	    "(Plane's 20, 15, 5)"),
	CFG_SECTION("states", states_keys,
	    "the project's names of the states opcenter uses"),
	CFG_END,
};

const struct cfg_key board_sync_keys[] = {
	CFG_ENUM("board", "local", "local|plane",
	    "the board: local (sqlite) or plane"),
	CFG_MS("poll_interval", "30s", "1ms", NULL,
	    "Plane's listing period until its webhooks come"),
	CFG_STR("proposal_state", "Backlog",
	    "the state of a proposal whose tier names none"),
	CFG_STR("ingest_state", "Backlog",
	    "the state of the improve task made for an error report"),
	CFG_MS("review_fetch_delay", "5s", "0", NULL,
	    "a proposed task's pull request is read from GitHub this long "
	    "after a review or a close (a burst of comments: one fetch)"),
	CFG_INT("self_heal_blocks", "3", "1", NULL,
	    "consecutive Blocked runs of a task that pause its autonomous "
	    "retries (until `opc task resume`)"),
	CFG_SECTION("plane", board_sync_plane_keys,
	    "this instance's own Plane settings (over the top-level plane:)"),
	CFG_END,
};
