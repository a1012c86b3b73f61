/*
 * log.c - JSON-lines logging (DESIGN.md section 6).
 *
 * One line per call, written with a single write() so processes sharing a
 * file never interleave inside a line.  Every line is valid JSON whatever
 * the message holds: control characters are escaped and invalid UTF-8 is
 * replaced.  Registered secrets are masked before anything is written.
 * The configuration below is one of the two kinds of global STYLE.md
 * allows.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opc/err.h"
#include "opc/log.h"
#include "opc/util.h"

#define MAX_SECRETS 32

static struct {
	char           svc[64];
	int            fd;
	int            to_stderr;
	enum log_level min;
	char          *secrets[MAX_SECRETS];
	int            nsecrets;
	int64_t        count[LOG_ERROR + 1];
} lg = { "opc", -1, 1, LOG_INFO, { NULL }, 0, { 0 } };

static const char *const names[] = { "debug", "info", "warn", "error" };

int
log_init(const char *svc, const char *path, enum log_level min)
{
	if (lg.fd >= 0)
		close(lg.fd);
	lg.fd = -1;
	snprintf(lg.svc, sizeof(lg.svc), "%s", svc ? svc : "opc");
	lg.min = min;
	if (path == NULL)
		return (0);
	lg.fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	return (lg.fd < 0 ? ERR_IO : 0);
}

void
log_fini(void)
{
	int i;

	if (lg.fd >= 0)
		close(lg.fd);
	lg.fd = -1;
	for (i = 0; i < lg.nsecrets; i++)
		free(lg.secrets[i]);
	lg.nsecrets = 0;
}

void
log_set_stderr(int on)
{
	lg.to_stderr = on;
}

void
log_redact(const char *secret)
{
	int i;

	if (secret == NULL || strlen(secret) < 4 || lg.nsecrets == MAX_SECRETS)
		return;
	for (i = 0; i < lg.nsecrets; i++)
		if (strcmp(lg.secrets[i], secret) == 0)
			return;
	lg.secrets[lg.nsecrets++] = xstrdup(secret);
}

int64_t
log_count(enum log_level lv)
{
	return (lv <= LOG_ERROR ? lg.count[lv] : 0);
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
		sl = strlen(lg.secrets[i]);
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

void
log_vmsg(enum log_level lv, const char *event, const char *fmt, va_list ap)
{
	struct buf b;
	char      *msg;
	va_list    cp;
	int        n;

	if (lv < lg.min || lv > LOG_ERROR)
		return;
	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	msg = xmalloc(n > 0 ? (size_t) n + 1 : 1);
	msg[0] = '\0';
	if (n > 0)
		vsnprintf(msg, (size_t) n + 1, fmt, ap);
	msg = redact(msg);
	buf_init(&b);
	buf_printf(&b, "{\"ts\":%lld,\"level\":\"%s\",\"svc\":",
	    (long long) now_ms(), names[lv]);
	json_str(&b, lg.svc);
	buf_puts(&b, ",\"event\":");
	json_str(&b, event ? event : "");
	buf_puts(&b, ",\"msg\":");
	json_str(&b, msg);
	buf_puts(&b, "}\n");
	lg.count[lv]++;
	if (lg.to_stderr && write(STDERR_FILENO, b.data, b.len) < 0)
		lg.to_stderr = 0;
	if (lg.fd >= 0 && write(lg.fd, b.data, b.len) < 0) {
		close(lg.fd);
		lg.fd = -1;
	}
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
