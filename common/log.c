/*
 * log.c - JSON-lines logging (DESIGN.md section 6).
 *
 * One line per call, written with a single write() so processes sharing a
 * file never interleave inside a line.  Every line is valid JSON whatever
 * the message holds: control characters are escaped and invalid UTF-8 is
 * replaced.  Registered secrets are masked before anything is written.
 * The configuration below is one of the two kinds of global STYLE.md
 * allows.
 *
 * A write that fails (a full disk) closes the file; the next line at
 * least REOPEN_MS later opens it again, first saying how many lines were
 * lost.  A line written in part is cut off again, so every line of the
 * file stays whole JSON.
 *
 * Threads: every entry point may be called from any thread (the
 * webhook's metrics thread and the in-process tests' threads log beside
 * the loop thread).  One mutex guards lg: the message is formatted
 * outside it, then redaction, the counters, the writes and the
 * reopen/lost-line state run under it, so lines from two threads never
 * interleave and none is counted twice or lost from the count.  Never
 * from a signal handler (a mutex is not async-signal-safe): signals reach
 * services through loop.c's signalfd, and the handlers that exist only
 * set flags.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opc/err.h"
#include "opc/log.h"
#include "opc/util.h"

#define MAX_SECRETS 32
#define REOPEN_MS 1000

static struct {
	char           svc[64];
	int            fd;
	int            to_stderr;
	enum log_level min;
	char          *secrets[MAX_SECRETS];
	int            nsecrets;
	int64_t        count[LOG_ERROR + 1];
	char          *path;      /* the file, kept to reopen it */
	int64_t        failed_at; /* mono ms of the last failed write */
	int64_t        lost;      /* lines not written since */
	int            err;       /* errno of the first failure */
} lg = { "opc", -1, 1, LOG_INFO, { NULL }, 0, { 0 }, NULL, 0, 0, 0 };

static pthread_mutex_t lg_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *const names[] = { "debug", "info", "warn", "error" };

int
log_init(const char *svc, const char *path, enum log_level min)
{
	int rv = 0;

	pthread_mutex_lock(&lg_mu);
	if (lg.fd >= 0)
		close(lg.fd);
	lg.fd = -1;
	free(lg.path);
	lg.path = NULL;
	lg.lost = 0;
	snprintf(lg.svc, sizeof(lg.svc), "%s", svc ? svc : "opc");
	lg.min = min;
	if (path != NULL) {
		lg.path = xstrdup(path);
		lg.fd   = open(
		      path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (lg.fd < 0) {
			lg.failed_at = mono_ms();
			lg.err       = errno;
			rv           = ERR_IO;
		}
	}
	pthread_mutex_unlock(&lg_mu);
	return (rv);
}

void
log_fini(void)
{
	int i;

	pthread_mutex_lock(&lg_mu);
	if (lg.fd >= 0)
		close(lg.fd);
	lg.fd = -1;
	free(lg.path);
	lg.path = NULL;
	for (i = 0; i < lg.nsecrets; i++)
		free(lg.secrets[i]);
	lg.nsecrets = 0;
	pthread_mutex_unlock(&lg_mu);
}

void
log_set_stderr(int on)
{
	pthread_mutex_lock(&lg_mu);
	lg.to_stderr = on;
	pthread_mutex_unlock(&lg_mu);
}

void
log_redact(const char *secret)
{
	int i;

	if (secret == NULL || strlen(secret) < 4)
		return;
	pthread_mutex_lock(&lg_mu);
	for (i = 0; i < lg.nsecrets; i++)
		if (strcmp(lg.secrets[i], secret) == 0)
			break;
	if (i == lg.nsecrets && lg.nsecrets < MAX_SECRETS)
		lg.secrets[lg.nsecrets++] = xstrdup(secret);
	pthread_mutex_unlock(&lg_mu);
}

int64_t
log_count(enum log_level lv)
{
	int64_t n = 0;

	if (lv <= LOG_ERROR) {
		pthread_mutex_lock(&lg_mu);
		n = lg.count[lv];
		pthread_mutex_unlock(&lg_mu);
	}
	return (n);
}

static void
json_str(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t               n = strlen(s), k;

	buf_puts(b, "\"");
	while (n > 0) {
		if (*p == '"' || *p == '\\') {
			buf_printf(b, "\\%c", *p);
			k = 1;
		} else if (*p == '\n') {
			buf_puts(b, "\\n");
			k = 1;
		} else if (*p == '\t') {
			buf_puts(b, "\\t");
			k = 1;
		} else if (*p < 0x20 || *p == 0x7f) {
			buf_printf(b, "\\u%04x", *p);
			k = 1;
		} else if ((k = utf8_len(p, n)) == 0) {
			buf_puts(b, "\\ufffd");
			k = 1;
		} else
			buf_append(b, p, k);
		p += k;
		n -= k;
	}
	buf_puts(b, "\"");
}

static char *
redact(char *msg)
{
	char  *hit, *out;
	size_t sl, off;
	int    i;

	for (i = 0; i < lg.nsecrets; i++) {
		sl  = strlen(lg.secrets[i]);
		off = 0;
		/* Resume after the marker: a secret occurring inside
		 * "[REDACTED]" must not be matched again forever. */
		while ((hit = strstr(msg + off, lg.secrets[i])) != NULL) {
			off = (size_t) (hit - msg) + strlen("[REDACTED]");
			out = xasprintf("%.*s[REDACTED]%s", (int) (hit - msg),
			    msg, hit + sl);
			free(msg);
			msg = out;
		}
	}
	return (msg);
}

/* put writes one whole line (under lg_mu) to the file; a part written is cut
 * off again and the file closed (a full disk): 0 or -1. */
static int
put(const struct buf *b)
{
	ssize_t n;
	off_t   end;

	n = write(lg.fd, b->data, b->len);
	if (n == (ssize_t) b->len)
		return (0);
	if (lg.lost == 0)
		lg.err = n < 0 ? errno : ENOSPC;
	if (n > 0 && (end = lseek(lg.fd, 0, SEEK_CUR)) >= n)
		(void) ftruncate(lg.fd, end - n);
	close(lg.fd);
	lg.fd        = -1;
	lg.failed_at = mono_ms();
	return (-1);
}

/* reopen opens the file again after a failure (at most every REOPEN_MS)
 * and says what was lost (under lg_mu). */
static void
reopen(void)
{
	struct buf b;

	if (lg.path == NULL || mono_ms() - lg.failed_at < REOPEN_MS)
		return;
	lg.failed_at = mono_ms();
	lg.fd = open(lg.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (lg.fd < 0 || lg.lost == 0)
		return;
	buf_init(&b);
	buf_printf(&b,
	    "{\"ts\":%lld,\"level\":\"warn\",\"svc\":", (long long) now_ms());
	json_str(&b, lg.svc);
	buf_printf(&b,
	    ",\"event\":\"log.reopened\",\"msg\":\"%lld lines "
	    "lost: the log could not be written (%s)\"}\n",
	    (long long) lg.lost, strerror(lg.err));
	if (put(&b) == 0)
		lg.lost = 0;
	buf_fini(&b);
}

void
log_vmsg(enum log_level lv, const char *event, const char *fmt, va_list ap)
{
	struct buf b;
	char      *msg;
	va_list    cp;
	int        n;

	if (lv > LOG_ERROR)
		return;
	pthread_mutex_lock(&lg_mu);
	n = lv < lg.min;
	pthread_mutex_unlock(&lg_mu);
	if (n)
		return;
	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	msg    = xmalloc(n > 0 ? (size_t) n + 1 : 1);
	msg[0] = '\0';
	if (n > 0)
		vsnprintf(msg, (size_t) n + 1, fmt, ap);
	pthread_mutex_lock(&lg_mu);
	msg = redact(msg);
	buf_init(&b);
	buf_printf(&b,
	    "{\"ts\":%lld,\"level\":\"%s\",\"svc\":", (long long) now_ms(),
	    names[lv]);
	json_str(&b, lg.svc);
	buf_puts(&b, ",\"event\":");
	json_str(&b, event ? event : "");
	buf_puts(&b, ",\"msg\":");
	json_str(&b, msg);
	buf_puts(&b, "}\n");
	lg.count[lv]++;
	/* stderr is kept through a full disk (the supervisor's .out file
	 * takes lines again once there is room); gone, it is dropped */
	if (lg.to_stderr && write(STDERR_FILENO, b.data, b.len) < 0 &&
	    (errno == EBADF || errno == EPIPE))
		lg.to_stderr = 0;
	if (lg.fd < 0)
		reopen();
	if ((lg.fd < 0 || put(&b) != 0) && lg.path != NULL)
		lg.lost++;
	pthread_mutex_unlock(&lg_mu);
	buf_fini(&b);
	free(msg);
}

void
log_msg(enum log_level lv, const char *event, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lv, event, fmt, ap);
	va_end(ap);
}
