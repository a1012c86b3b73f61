/*
 * router.h - opc-router: task.ready -> proposal -> lane decision ->
 * policy gate -> budget/retry/breaker/concurrency/memory gates -> one
 * executor instance (exec.dispatch), with leases and re-dispatch.
 *
 * Handlers record decisions (route.decided is journaled at once, blocked
 * tasks stop there); the effect loop, once caught up, applies the
 * time-dependent gates and dispatches.  Decision logic lives in logic/
 * (pure functions); this file owns state and the bus.
 */
#ifndef OPC_ROUTER_H
#define OPC_ROUTER_H

#include "opc/svc.h"

extern const struct svc_def router_def;

#endif
