/*
 * executor.h - opc-executor: runs the dispatches addressed to it.
 *
 * exec.dispatch (from the router) is recorded as a pending run.  Once
 * caught up, the effect loop starts up to max_parallel runs, each as one
 * opc-exec-run worker process (its own process group) with a request file
 * built from the dispatch and this instance's backend config; a finished
 * worker's result file becomes exec.finished.  The run is marked running
 * (and exec.started journaled) before the worker is spawned, so a crash at
 * any point can never start it twice: on restart a run still marked
 * running is killed if anything of it survives and finished as
 * "interrupted" (or with its result, if the worker got that far).
 */
#ifndef OPC_EXECUTOR_H
#define OPC_EXECUTOR_H

#include "opc/svc.h"

extern const struct svc_def executor_def;

#endif
