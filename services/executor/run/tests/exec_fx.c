/*
 * exec_fx.c - the shared setup of the opc-exec-run tests (exec_fx.h).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "exec_fx.h"

int
exfx_sh(const char *fmt, ...)
{
	va_list ap;
	char   *cmd;
	int     n, st;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	cmd = xmalloc((size_t) n + 1);
	va_start(ap, fmt);
	vsnprintf(cmd, (size_t) n + 1, fmt, ap);
	va_end(ap);
	st = system(cmd);
	free(cmd);
	return (WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

char *
exfx_capture(const char *cmd)
{
	struct buf b;
	FILE      *f;
	char       chunk[512];
	size_t     n;

	if ((f = popen(cmd, "r")) == NULL)
		return (NULL);
	buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	if (pclose(f) != 0) {
		buf_fini(&b);
		return (NULL);
	}
	while (b.len > 0 &&
	    (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == ' '))
		b.len--;
	return (buf_cstr(&b));
}

char *
exfx_root(const char *name)
{
	char *tmpl = xasprintf("/tmp/%s.XXXXXX", name);

	if (mkdtemp(tmpl) == NULL) {
		free(tmpl);
		return (NULL);
	}
	setenv("HOME", tmpl, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	unsetenv("GIT_DIR");
	return (tmpl);
}

void
exfx_unroot(char *root)
{
	if (root != NULL && getenv("KEEP") == NULL)
		(void) rmtree(root);
	free(root);
}

json_t *
exfx_result(const char *path, const char *log)
{
	json_error_t e;
	json_t      *r = json_load_file(path, 0, &e);

	if (r == NULL) {
		if (log != NULL)
			(void) exfx_sh("cat %s >&2", log);
		fail_msg("result %s: %s", path, e.text);
	}
	return (r);
}

const char *
exfx_rstr(const json_t *r, const char *key)
{
	return (json_string_value(json_object_get(r, key)));
}

int
exfx_github(
    const char *bin_dir, const char *root, const char *args, pid_t *pid)
{
	char    pf[512], buf[32], *cmd;
	int64_t deadline = mono_ms() + 5000;
	int     port     = -1;
	FILE   *f;

	snprintf(pf, sizeof(pf), "%s/gh.port", root);
	cmd = xasprintf(
	    "exec %s/opc-fixture-github --port-file %s %s", bin_dir, pf, args);
	if ((*pid = fork()) == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *) NULL);
		_exit(127);
	}
	free(cmd);
	while (mono_ms() < deadline) {
		if ((f = fopen(pf, "r")) != NULL) {
			if (fgets(buf, sizeof(buf), f) != NULL)
				port = atoi(buf);
			fclose(f);
			if (port > 0)
				return (port);
		}
		sleep_ms(10);
	}
	return (-1);
}

int
exfx_github_stop(pid_t pid)
{
	int st = 0;

	if (pid <= 0)
		return (0);
	(void) kill(pid, SIGTERM);
	(void) waitpid(pid, &st, 0);
	return (WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1);
}
