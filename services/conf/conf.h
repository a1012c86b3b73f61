/*
 * conf.h - every setting opcenter reads, as config tables (opc/cfg.h).
 *
 * Each service declares its instance's settings next to its code
 * (services/<name>/config.c); the sections every service shares (the top
 * level, repos) are here.  svc_open checks an instance's section against
 * its service's table when it starts; conf_check checks a whole file (opc
 * up, opc-supervisor, opc doctor, opc config check) before anything
 * starts; `opc config explain` prints the same rows.
 */
#ifndef OPC_CONF_H
#define OPC_CONF_H

#include <stdbool.h>

#include "opc/cfg.h"

struct buf;
struct topo;

/* The settings of an instance of each service (topo_inst_keys, which
 * every instance has, apart), and of the sections they share. */
extern const struct cfg_key board_sync_keys[];
extern const struct cfg_key board_sync_plane_keys[]; /* plane: */
extern const struct cfg_key escalator_keys[];
extern const struct cfg_key executor_keys[];
extern const struct cfg_key executor_git_keys[];    /* git: */
extern const struct cfg_key executor_github_keys[]; /* github: */
extern const struct cfg_key insighter_keys[];
extern const struct cfg_key observer_keys[];
extern const struct cfg_key proposer_keys[];
extern const struct cfg_key recorder_keys[];
extern const struct cfg_key router_keys[];
extern const struct cfg_key router_when_keys[]; /* rules[].when */
extern const struct cfg_key supervisor_keys[];
extern const struct cfg_key webhook_keys[];
extern const struct cfg_key dash_keys[];
extern const struct cfg_key conf_repo_keys[];       /* repos.<key> */
extern const struct cfg_key conf_dependency_keys[]; /* dependency_check: */
extern const struct cfg_key conf_root_keys[];       /* the top level */
/* the top level's sections but supervisor: and instances: */
extern const struct cfg_key conf_global_keys[];

struct conf_service {
	const char           *name; /* an instance's service */
	const struct cfg_key *keys;
	const char           *help;
};

/* conf_services lists every service with its table; the last entry's
 * name is NULL. */
extern const struct conf_service conf_services[];

/* conf_service_keys returns the table of service, or NULL when opcenter
 * has none (a program of its own run with bin:). */
const struct cfg_key *conf_service_keys(const char *service);

/* conf_check checks the whole file of t: the top level and the sections
 * it owns, then every instance whose service has a table (with
 * topo_inst_keys).  Each problem is a line of errs (cfg_check); returns
 * their number. */
int conf_check(const struct topo *t, struct buf *errs);

/* conf_drift appends the settings that differ from their defaults, one
 * line each (cfg_drift): of the top level and of every instance.
 * Returns their number. */
int conf_drift(const struct topo *t, struct buf *out);

#endif
