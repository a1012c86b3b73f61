/*
 * log.h - JSON-lines logging to stderr and an optional per-service file.
 *
 * Each line is {"ts":<unix ms>,"level":"..","svc":"..","event":"..",
 * "msg":".."}.  The log configuration is one of the two allowed globals.
 * log_redact() registers secret strings: any occurrence in a message is
 * replaced by "[REDACTED]" before it is written.  Every function here
 * may be called from any thread (one mutex inside), never from a signal
 * handler.
 */
#ifndef OPC_LOG_H
#define OPC_LOG_H

#include "opc/util.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* log_init sets the service name and opens path for appending (path may
 * be NULL: stderr only).  Returns 0 or ERR_IO (then logs to stderr only). */
int  log_init(const char *svc, const char *path, enum log_level min);
void log_fini(void);
/* log_set_stderr turns stderr output on or off (default on). */
void log_set_stderr(int on);
/* log_redact adds a secret (copied) that is never written to any log. */
void log_redact(const char *secret);
/* log_count returns the number of lines written at level lv. */
int64_t log_count(enum log_level lv);

void log_msg(enum log_level, const char *event, const char *fmt, ...)
    PRINTFLIKE(3, 4);
void log_vmsg(enum log_level, const char *event, const char *fmt, va_list)
    PRINTFLIKE(3, 0);

#define log_debug(ev, ...) log_msg(LOG_DEBUG, ev, __VA_ARGS__)
#define log_info(ev, ...) log_msg(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_msg(LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_msg(LOG_ERROR, ev, __VA_ARGS__)

#endif
