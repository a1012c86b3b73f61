/*
 * spec.h - a configured backend as the worker's backend_spec.
 *
 * The executor daemon puts it into every request; `opc providers` and
 * `opc doctor` hand it to `opc-exec-run --probe`.  One function, so both
 * see the same backend (services/executor/run/agent.c reads it).
 */
#ifndef OPC_EXEC_SPEC_H
#define OPC_EXEC_SPEC_H

#include <stddef.h>

#include <jansson.h>

#include "opc/cfg.h"

/* backend_keys: the settings of a backend (instances.<executor>.
 * backends.<name>), cfg.h's table: backend_spec copies those set. */
extern const struct cfg_key backend_keys[];

/* backend_spec returns a new backend_spec object for the backend config
 * node bk (instances.<executor>.backends.<name>), or NULL with err set
 * when a setting has the wrong type.  A NULL bk is the built-in stub. */
json_t *backend_spec(const struct cfg_node *bk, char *err, size_t errlen);

/* backend_kind_known: kind is one the worker runs: "stub", "command" or a
 * profile of services/executor/run/agent.c. */
int backend_kind_known(const char *kind);

/* backend_check checks every backend of an executor instance's section
 * (types, known kinds, an argv for kind command) before anything starts;
 * 0, or ERR_CONFIG with "file:line:col: backends.NAME...: ..." in err. */
int backend_check(const struct cfg_node *executor, char *err, size_t errlen);

/* backend_sandboxed: the backend of spec (a backend_spec object) runs
 * inside bubblewrap: every kind but the built-in stub, unless its
 * sandbox setting is "off". */
int backend_sandboxed(const json_t *spec);

#endif
