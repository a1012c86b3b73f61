/*
 * supervisor.h - opc-supervisor: runs the constellation's processes.
 *
 * It starts every enabled instance of the topology (or the --only share of
 * one host), each in its own process group with argv
 * `<bin> -c <config> -n <instance>`, restarts the ones that exit with
 * exponential backoff, marks a service failed when it crash-loops (more
 * than crash_loop_restarts restarts within crash_loop_window), watches
 * every instance's heartbeats and reports (and by default restarts) stale
 * ones, writes <state_dir>/supervisor.status.json and publishes
 * supervisor.status.  On SIGTERM or ctl.shutdown it stops every child:
 * SIGTERM to the group, SIGKILL after stop_grace.
 */
#ifndef OPC_SUPERVISOR_H
#define OPC_SUPERVISOR_H

#include "opc/svc.h"

extern const struct svc_def supervisor_def;

/* supervisor_set_only restricts the supervisor to a comma-separated list
 * of instances (the --only option). */
void supervisor_set_only(const char *list);

#endif
