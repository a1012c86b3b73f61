/*
 * opc.h - the operator CLI: shared context and helpers of its commands.
 *
 * `opc [-c CONFIG] COMMAND [ARGS]`.  Each command is a function in a
 * cmd_*.c file, listed in the table in opc.c.  Commands talk to the
 * constellation only over the bus (ctl requests, SUB sockets); they never
 * open a service's database.
 */
#ifndef OPC_OPC_H
#define OPC_OPC_H

#include <stdbool.h>

#include <jansson.h>

#include "opc/cfg.h"
#include "opc/msg.h"
#include "opc/topo.h"

#define OPC_CTL_TIMEOUT 3000 /* ms for one ctl round trip */

struct opc {
	const char  *config; /* path given with -c (or the default) */
	struct topo *topo;   /* loaded on first use */
};

struct opc_cmd {
	const char *name;
	int (*fn)(struct opc *, int argc, char **argv);
	const char *args;
	const char *help;
};

/* opc_topo loads the topology (once); on error prints it and returns
 * NULL. */
struct topo *opc_topo(struct opc *);

/* opc_ctl sends a ctl request to the instance url and waits; prints
 * nothing.  Returns 0 or an ERR_* code with err set.  A missing ipc
 * socket file is reported at once as ERR_NOTFOUND ("not running"). */
int opc_ctl(const char *url, enum msg_topic t, const void *body, json_t **data,
    char *err, size_t errlen, int timeout_ms);

/* opc_call sends one request to the first instance of service kind.
 * Returns 0, or 1 after printing why (no such instance, not up, or the
 * service's error), prefixed "opc CMD:". */
int opc_call(struct opc *, const char *cmd, const char *service,
    enum msg_topic t, const void *body, json_t **data, int timeout_ms);
/* opc_jstr returns o[k] as a string, or def when absent or empty. */
const char *opc_jstr(const json_t *o, const char *k, const char *def);
/* opc_not_up prints the standard "constellation is not up" error. */
void opc_not_up(struct opc *, const char *why);

/* opc_wants_help: argv has -h or --help. */
bool opc_wants_help(int argc, char **argv);

int cmd_up(struct opc *, int, char **);
int cmd_down(struct opc *, int, char **);
int cmd_status(struct opc *, int, char **);
int cmd_heartbeat_check(struct opc *, int, char **);
int cmd_sub(struct opc *, int, char **);
int cmd_pub(struct opc *, int, char **);
int cmd_task(struct opc *, int, char **);
int cmd_demo(struct opc *, int, char **);
int cmd_runs(struct opc *, int, char **);
int cmd_spend_report(struct opc *, int, char **);
int cmd_breaker(struct opc *, int, char **);
int cmd_pause(struct opc *, int, char **);
int cmd_resume(struct opc *, int, char **);
int cmd_usage(struct opc *, int, char **);
int cmd_dependency_check(struct opc *, int, char **);
int cmd_doctor(struct opc *, int, char **);
int cmd_config(struct opc *, int, char **);

/* opc_config_check checks t's file as the daemons will at start: every
 * section against its table (conf_check), then the executors' backends
 * and the router's rules and repos.  Each problem is a line of errs
 * (file:line:col first); returns their number (cmd_config.c). */
struct buf;
int opc_config_check(const struct topo *t, struct buf *errs);
/* opc_cfg_type names the type of row k as explain prints it ("duration",
 * "one of") (cmd_config.c). */
const char *opc_cfg_type(const struct cfg_key *k);

/* opc_doc prints what ("man1": opc(1) from cmds, "man5":
 * opcenter.yaml(5) from the config tables, "bash": opc's bash
 * completion) on stdout; 0, 1 on a write error, 2 for an unknown what
 * (doc.c, `opc --doc WHAT`, run by the build). */
int opc_doc(const struct opc_cmd *cmds, const char *what);
int cmd_autonomy_cycle(struct opc *, int, char **);
int cmd_proposals(struct opc *, int, char **);
/* cmd_stages.c: the stages one at a time and opc autonomy */
int cmd_observe(struct opc *, int, char **);
int cmd_insights(struct opc *, int, char **);
int cmd_decide(struct opc *, int, char **);
int cmd_propose(struct opc *, int, char **);
int cmd_autonomy(struct opc *, int, char **);
/* opc_observe_reports waits (up to wait_s) until each observation of
 * started ([{repo, run_id}]) has its observe report and returns
 * {repo: path}, or NULL after printing why. */
json_t *opc_observe_reports(struct opc *, const json_t *started, int wait_s);
/* the stages' printers: insights ({repo: {...}}), a cycle's decision
 * and its proposal, each line starting with tag */
void opc_print_insights(const json_t *repos, const char *tag);
void opc_print_decision(const json_t *cycle, const char *tag);
void opc_print_proposal(const json_t *cycle, const char *tag);
/* cmd_campaigns.c */
int cmd_campaigns(struct opc *, int, char **);
/* cmd_patterns.c: opc proposals patterns (argv[0] "patterns") */
int cmd_proposals_patterns(struct opc *, int, char **);
int cmd_providers(struct opc *, int, char **);

/* opc_probe_all runs `opc-exec-run --probe` (the CLI built exactly as
 * for a run, in the executor's sandbox; call: one real headless call) on
 * every backend of every executor instance (only: just that backend
 * name), all at once, and returns their answers in config
 * order, each with "instance" and "backend"; a probe that failed is
 * {ready: no, detail} (cmd_providers.c). */
json_t *opc_probe_all(struct topo *t, const char *only, int call);

/* opc_plane_node returns the plane: map holding key: the board-sync
 * instance inst's (an instance may use its own key), else the top
 * level's (cmd_doctor.c). */
const struct cfg_node *opc_plane_node(
    const struct cfg_node *root, const struct cfg_node *inst, const char *key);

int cmd_smoke(struct opc *, int, char **);

/* opc_find_service returns the first enabled instance of service kind
 * (e.g. "recorder"), or NULL. */
const struct topo_inst *opc_find_service(struct topo *, const char *service);

#endif
