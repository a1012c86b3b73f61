/*
 * dash_cdp.c - drive headless Chromium over the DevTools protocol for
 * test_dash.sh (a test helper, not installed).
 *
 *   dash-cdp --chrome BIN --url URL --ready JS --until JS --dom FILE
 *            [--png FILE] [--phone FILE] [--width N] [--height N]
 *            [--timeout S] [-- COMMAND ARG...]
 *
 * Starts BIN --headless with --remote-debugging-pipe (the protocol's
 * JSON messages, each ended by a NUL, on fds 3 and 4: no WebSocket), opens
 * URL in a new target, evaluates the expression --ready until it is true,
 * runs COMMAND (if any: what makes the live event happen once the page
 * listens), evaluates --until until it is true, then writes the rendered
 * DOM (document.documentElement.outerHTML) to --dom and a screenshot to
 * --png.  --phone then narrows the page to a phone's screen (390x844,
 * mobile), waits until nothing is wider than it (else says "phone:
 * overflow" and fails) and writes that screenshot to FILE.  Polls every
 * 100 ms, all within --timeout (60 s).  The DOM is
 * written even when a condition never held, for the diagnosis.
 * Exit: 0, 1 (a condition did not hold in time, COMMAND failed), 2
 * (usage), 77 (the browser could not be started or did not answer).
 * Why --dump-dom is not enough: it waits for the network to go idle,
 * which an open event stream never does.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "opc/util.h"

static int     to_fd = -1, from_fd = -1;
static char    rbuf[1 << 20];
static size_t  rlen;
static int     next_id = 1;
static int64_t deadline;

/* take returns the next NUL-ended message (a JSON value) or NULL once the
 * deadline passed or the browser left. */
static json_t *
take(void)
{
	struct pollfd p = { from_fd, POLLIN, 0 };
	char         *z;
	ssize_t       n;

	for (;;) {
		if ((z = memchr(rbuf, '\0', rlen)) != NULL) {
			size_t  used = (size_t) (z - rbuf) + 1;
			json_t *j    = json_loads(rbuf, 0, NULL);

			memmove(rbuf, rbuf + used, rlen - used);
			rlen -= used;
			if (j != NULL)
				return (j);
			continue;
		}
		if (rlen == sizeof(rbuf))
			return (NULL); /* a message over 1 MiB: not ours */
		if (mono_ms() >= deadline ||
		    poll(&p, 1, (int) (deadline - mono_ms())) <= 0)
			return (NULL);
		if ((n = read(from_fd, rbuf + rlen, sizeof(rbuf) - rlen)) <= 0)
			return (NULL);
		rlen += (size_t) n;
	}
}

/* cmd sends method with params (consumed; may be NULL) on session (may be
 * NULL) and returns its result (the caller decrefs), NULL on error. */
static json_t *
cmd(const char *session, const char *method, json_t *params)
{
	json_t *m = json_pack("{s:i, s:s, s:o}", "id", next_id, "method",
	    method, "params", params ? params : json_object());
	json_t *r, *res;
	char   *s;
	int     id = next_id++;

	if (session != NULL)
		json_object_set_new(m, "sessionId", json_string(session));
	s = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	if (s == NULL ||
	    write(to_fd, s, strlen(s) + 1) != (ssize_t) strlen(s) + 1) {
		free(s);
		return (NULL);
	}
	free(s);
	while ((r = take()) != NULL) {
		if (json_integer_value(json_object_get(r, "id")) == id) {
			res = json_object_get(r, "result");
			res = res ? json_incref(res) : NULL;
			if (res == NULL)
				fprintf(stderr, "dash-cdp: %s: %s\n", method,
				    json_dumps(r, JSON_COMPACT));
			json_decref(r);
			return (res);
		}
		json_decref(r); /* an event */
	}
	return (NULL);
}

/* eval evaluates expr in the page; *value is its value (decref). */
static int
eval(const char *session, const char *expr, json_t **value)
{
	json_t *r = cmd(session, "Runtime.evaluate",
	    json_pack("{s:s, s:b}", "expression", expr, "returnByValue", 1));
	json_t *v = json_object_get(json_object_get(r, "result"), "value");

	*value = v ? json_incref(v) : NULL;
	json_decref(r);
	return (r != NULL ? 0 : -1);
}

/* until polls expr until it is true.  Returns 0, or -1 at the deadline. */
static int
until(const char *session, const char *expr)
{
	json_t *v;

	while (mono_ms() < deadline) {
		if (eval(session, expr, &v) != 0)
			return (-1);
		if (json_is_true(v)) {
			json_decref(v);
			return (0);
		}
		json_decref(v);
		sleep_ms(100);
	}
	return (-1);
}

static int
b64(int c)
{
	return (c >= 'A' && c <= 'Z'   ? c - 'A'
	        : c >= 'a' && c <= 'z' ? c - 'a' + 26
	        : c >= '0' && c <= '9' ? c - '0' + 52
	        : c == '+'             ? 62
	        : c == '/'             ? 63
	                               : -1);
}

static int
write_b64(const char *path, const char *s)
{
	FILE        *f    = fopen(path, "wb");
	unsigned int acc  = 0;
	int          bits = 0, v;

	if (f == NULL)
		return (-1);
	for (; *s != '\0'; s++) {
		if ((v = b64((unsigned char) *s)) < 0)
			continue;
		acc = (acc << 6) | (unsigned int) v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			fputc((int) ((acc >> bits) & 0xff), f);
		}
	}
	return (fclose(f));
}

static int
run_cmd(char **argv)
{
	pid_t pid = fork();
	int   st;

	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return (-1);
	return (WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1);
}

int
main(int argc, char **argv)
{
	const char *chrome = NULL, *url = NULL, *ready = "true",
	           *until_js = "true", *dom = NULL, *png = NULL, *phone = NULL;
	char      **command = NULL, udd[] = "/tmp/dashcdp.XXXXXX";
	char       *a_size, *a_udd;
	int         width = 1280, height = 1600, timeout_s = 60, i, rv = 1;
	int         in[2], out[2], st;
	pid_t       pid;
	json_t     *r, *v;
	const char *target, *session;
	char       *session_copy = NULL;

	for (i = 1; i < argc; i++) {
		const char *o   = argv[i],
		           *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(o, "--") == 0) {
			command = argv + i + 1;
			break;
		}
		if (val == NULL)
			goto usage;
		i++;
		if (strcmp(o, "--chrome") == 0)
			chrome = val;
		else if (strcmp(o, "--url") == 0)
			url = val;
		else if (strcmp(o, "--ready") == 0)
			ready = val;
		else if (strcmp(o, "--until") == 0)
			until_js = val;
		else if (strcmp(o, "--dom") == 0)
			dom = val;
		else if (strcmp(o, "--png") == 0)
			png = val;
		else if (strcmp(o, "--phone") == 0)
			phone = val;
		else if (strcmp(o, "--width") == 0)
			width = atoi(val);
		else if (strcmp(o, "--height") == 0)
			height = atoi(val);
		else if (strcmp(o, "--timeout") == 0)
			timeout_s = atoi(val);
		else
			goto usage;
	}
	if (chrome == NULL || url == NULL || dom == NULL)
		goto usage;
	if (mkdtemp(udd) == NULL || pipe(in) != 0 || pipe(out) != 0)
		return (77);
	signal(SIGPIPE, SIG_IGN);
	a_size = xasprintf("--window-size=%d,%d", width, height);
	a_udd  = xasprintf("--user-data-dir=%s", udd);
	if ((pid = fork()) == 0) {
		char *args[] = { (char *) chrome, "--headless", "--no-sandbox",
			"--disable-gpu", "--remote-debugging-pipe",
			"--no-first-run", "--no-default-browser-check",
			"--disable-extensions", "--disable-sync",
			"--hide-scrollbars", "--mute-audio", a_size, a_udd,
			"about:blank", NULL };
		int   null   = open("/dev/null", O_RDWR);

		/* fds 3 and 4 are the browser's end of the pipe */
		if (dup2(in[0], 10) < 0 || dup2(out[1], 11) < 0 ||
		    dup2(10, 3) < 0 || dup2(11, 4) < 0)
			_exit(127);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		for (i = 5; i < 64; i++)
			close(i);
		execvp(chrome, args);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	to_fd   = in[1];
	from_fd = out[0];
	free(a_size);
	free(a_udd);
	if (pid < 0)
		return (77);
	deadline = mono_ms() + (int64_t) timeout_s * 1000;
	r        = cmd(NULL, "Target.createTarget",
	           json_pack("{s:s}", "url", "about:blank"));
	if ((target = json_string_value(json_object_get(r, "targetId"))) ==
	    NULL) {
		fprintf(stderr, "dash-cdp: the browser did not answer\n");
		json_decref(r);
		rv = 77;
		goto out;
	}
	v = cmd(NULL, "Target.attachToTarget",
	    json_pack("{s:s, s:b}", "targetId", target, "flatten", 1));
	json_decref(r);
	if ((session = json_string_value(json_object_get(v, "sessionId"))) ==
	    NULL) {
		json_decref(v);
		rv = 77;
		goto out;
	}
	session_copy = xstrdup(session);
	json_decref(v);
	json_decref(cmd(session_copy, "Page.enable", NULL));
	json_decref(cmd(
	    session_copy, "Page.navigate", json_pack("{s:s}", "url", url)));
	if (until(session_copy, ready) != 0)
		fprintf(stderr, "dash-cdp: not ready in time: %s\n", ready);
	else if (command != NULL && run_cmd(command) != 0)
		fprintf(stderr, "dash-cdp: %s failed\n", command[0]);
	else if (until(session_copy, until_js) != 0)
		fprintf(stderr, "dash-cdp: never true: %s\n", until_js);
	else
		rv = 0;
	/* the DOM and the picture, in every case (a failure's diagnosis) */
	deadline = mono_ms() + 15000;
	if (eval(session_copy, "document.documentElement.outerHTML", &v) ==
	        0 &&
	    json_is_string(v)) {
		FILE *f = fopen(dom, "w");

		if (f != NULL) {
			fputs(json_string_value(v), f);
			fclose(f);
		}
	}
	json_decref(v);
	if (png != NULL) {
		r = cmd(session_copy, "Page.captureScreenshot",
		    json_pack("{s:s, s:b}", "format", "png",
		        "captureBeyondViewport", 1));
		if (!json_is_string(json_object_get(r, "data")) ||
		    write_b64(png,
		        json_string_value(json_object_get(r, "data"))) != 0)
			fprintf(stderr, "dash-cdp: no screenshot\n");
		json_decref(r);
	}
	if (phone != NULL) {
		json_decref(cmd(session_copy,
		    "Emulation.setDeviceMetricsOverride",
		    json_pack("{s:i, s:i, s:i, s:b}", "width", 390, "height",
		        844, "deviceScaleFactor", 1, "mobile", 1)));
		if (until(session_copy,
		        "document.documentElement.scrollWidth <= "
		        "window.innerWidth") != 0) {
			fprintf(stderr, "dash-cdp: phone: overflow\n");
			rv = 1;
		}
		r = cmd(session_copy, "Page.captureScreenshot",
		    json_pack("{s:s}", "format", "png"));
		if (!json_is_string(json_object_get(r, "data")) ||
		    write_b64(phone,
		        json_string_value(json_object_get(r, "data"))) != 0)
			fprintf(stderr, "dash-cdp: no phone screenshot\n");
		json_decref(r);
	}
out:
	deadline = mono_ms() + 5000;
	json_decref(cmd(NULL, "Browser.close", NULL));
	close(to_fd);
	close(from_fd);
	for (i = 0; i < 50 && waitpid(pid, &st, WNOHANG) == 0; i++)
		sleep_ms(100);
	if (i == 50) {
		kill(pid, SIGKILL);
		(void) waitpid(pid, &st, 0);
	}
	(void) rmtree(udd);
	free(session_copy);
	return (rv);

usage:
	fprintf(stderr,
	    "usage: dash-cdp --chrome BIN --url URL --dom FILE [--ready JS] "
	    "[--until JS] [--png FILE] [--phone FILE] [--width N] "
	    "[--height N] "
	    "[--timeout S] [-- COMMAND ARG...]\n");
	return (2);
}
