/*
 * testsvc.h - two test-only services used by the durable-hop tests and the
 * benchmark: testprod emits `produce` test.event events (n = 1..N) in
 * paced batches, resuming from its journal after a restart; testcons
 * records every test.event it applies in a table, so a test can check
 * "every event exactly once, in order".
 */
#ifndef OPC_TESTSVC_H
#define OPC_TESTSVC_H

#include "opc/svc.h"

extern const struct svc_def testprod_service;
extern const struct svc_def testcons_service;

#endif
