/*
 * topo.h - the constellation's topology, read from the one config file.
 *
 *   opcenter:  { state_dir, heartbeat_ms, stale_after_ms, ...,
 *                tls: { ca_file, cert_file, key_file, server_name } }
 *   supervisor: { pub, ctl, restart/backoff settings }
 *   instances:
 *     <name>:  { service, upstreams: [names], pub, ctl, bin, ... }
 *
 * An instance's service defaults to its name up to '@' (executor@a ->
 * executor).  Endpoints default to ipc://<state_dir>/run/<name>.{pub,ctl}.
 * Relative state_dir and tls paths are taken relative to the config
 * file's directory.  tls+tcp:// endpoints need opcenter.tls: topo_load
 * reads it and installs it for the process (bus_tls_set), topo_close
 * removes it.
 */
#ifndef OPC_TOPO_H
#define OPC_TOPO_H

#include <stddef.h>
#include <stdint.h>

#include "opc/cfg.h"

struct topo_inst {
	char                  *name;      /* instance, e.g. "executor@a" */
	char                  *service;   /* binary kind, e.g. "executor" */
	char                  *pub;       /* url of its PUB socket */
	char                  *ctl;       /* url of its ctl REP socket */
	char                  *bin;       /* program to run (may be NULL) */
	char                 **upstreams; /* instance names it consumes */
	size_t                 nupstreams;
	int                    enabled;
	const struct cfg_node *node; /* its section in the config */
};

struct topo {
	struct cfg *cfg;
	char       *config_path; /* absolute */
	char       *state_dir;   /* absolute */
	char       *run_dir;     /* state_dir/run, mode 0700 */
	char       *log_dir;     /* state_dir/log */
	int64_t     heartbeat_ms;
	int64_t     stale_after_ms;
	int64_t     journal_retention;
	int64_t     reports_keep;     /* opcenter.reports_keep (report.h) */
	int         tls;              /* opcenter.tls installed */
	int         insecure_ctl;     /* opcenter.insecure_ctl: state
	                               * changes over plain tcp:// ctl */
	struct topo_inst  supervisor; /* name "supervisor" */
	struct topo_inst *inst;
	size_t            ninst;
};

/* The settings topo.c and svc.c read: opcenter's (topo_opcenter_keys)
 * and those of every instance (topo_inst_keys: service, pub, ctl, bin,
 * enabled, upstreams, idle_ms, catchup_grace_ms), the supervisor's
 * section included.  See cfg.h. */
extern const struct cfg_key topo_opcenter_keys[];
extern const struct cfg_key topo_inst_keys[];

/* topo_load reads config_path and validates the topology: unique names,
 * known upstreams, valid urls (ipc paths short enough), readable TLS
 * files when opcenter.tls is present.  Returns 0,
 * ERR_IO or ERR_CONFIG with a file:line:col message in err. */
int topo_load(
    struct topo **tp, const char *config_path, char *err, size_t errlen);
void topo_close(struct topo **tp);

/* topo_load_flags is topo_load with flags: TOPO_NO_TLS checks
 * opcenter.tls's keys but neither reads its files nor installs it (a
 * file checked on a host it was not written for). */
#define TOPO_NO_TLS 0x1
int topo_load_flags(struct topo **tp, const char *config_path, unsigned flags,
    char *err, size_t errlen);

/* topo_find returns the instance called name (the supervisor included) or
 * NULL. */
const struct topo_inst *topo_find(const struct topo *, const char *name);

/* topo_default_config returns the config path to use when -c is not
 * given: $OPC_CONFIG, else "config/opcenter.yaml". */
const char *topo_default_config(void);

#endif
