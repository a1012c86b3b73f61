/*
 * bus_compat.h - the nng version work-arounds (common/bus_compat.c),
 * private to common/.
 */
#ifndef OPC_BUS_COMPAT_H
#define OPC_BUS_COMPAT_H

/* bus_compat_init readies the work-arounds this nng needs (nng 1.5:
 * libc's sendmsg() found for ours); idempotent, thread-safe. */
void bus_compat_init(void);

#endif
