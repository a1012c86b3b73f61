/*
 * test_log.c - JSON-lines logging (common/log.c): every line parses as
 * JSON (checked with jansson) whatever the message holds, secrets are
 * masked, levels filter, lines go to the per-service file and stderr, and
 * log_count counts what was written.  Several threads logging at once
 * (test_threads) write whole lines and lose none from the count; with
 * ThreadSanitizer (scripts/tsan.sh) any unguarded state is a failure.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "opc/err.h"
#include "opc/log.h"
#include "opc/util.h"

#define MAXLINES 64

struct fx {
	char  dir[32];
	char *path; /* dir/svc.log */
};

/* lines holds one file's parsed lines. */
struct lines {
	json_t *v[MAXLINES];
	size_t  n;
	char   *raw;
};

static int
setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/opct.XXXXXX");
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return (-1);
	}
	fx->path = xasprintf("%s/svc.log", fx->dir);
	log_set_stderr(0);
	*state = fx;
	return (0);
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	int        rv;

	log_fini();
	log_set_stderr(1);
	rv = rmtree(fx->dir);
	free(fx->path);
	free(fx);
	return (rv == 0 ? 0 : -1);
}

/* slurp returns the whole file as an allocated string. */
static char *
slurp(const char *path)
{
	struct buf b;
	char       tmp[4096];
	size_t     n;
	FILE      *f = fopen(path, "rb");

	assert_non_null(f);
	buf_init(&b);
	buf_cstr(&b);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(&b, tmp, n);
	fclose(f);
	buf_cstr(&b);
	return (b.data);
}

/* check_line asserts v is one well-formed log object. */
static void
check_line(json_t *v)
{
	json_t *ts;

	assert_true(json_is_object(v));
	assert_int_equal(json_object_size(v), 5);
	ts = json_object_get(v, "ts");
	assert_true(json_is_integer(ts));
	/* Unix milliseconds, within a minute of now. */
	assert_true(json_integer_value(ts) > now_ms() - 60000);
	assert_true(json_integer_value(ts) <= now_ms() + 60000);
	assert_true(json_is_string(json_object_get(v, "level")));
	assert_true(json_is_string(json_object_get(v, "svc")));
	assert_true(json_is_string(json_object_get(v, "event")));
	assert_true(json_is_string(json_object_get(v, "msg")));
}

/* read_lines parses every line of path, each must be valid JSON (jansson
 * also rejects invalid UTF-8) and a well-formed log object. */
static void
read_lines(const char *path, struct lines *ls)
{
	json_error_t je;
	char        *p, *nl;

	memset(ls, 0, sizeof(*ls));
	ls->raw = slurp(path);
	for (p = ls->raw; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			fail_msg("unterminated last line '%s'", p);
		assert_true(ls->n < MAXLINES);
		ls->v[ls->n] = json_loadb(p, (size_t) (nl - p), 0, &je);
		if (ls->v[ls->n] == NULL)
			fail_msg("line %zu not JSON (%s): %.*s", ls->n + 1,
			    je.text, (int) (nl - p), p);
		check_line(ls->v[ls->n]);
		ls->n++;
	}
}

static void
free_lines(struct lines *ls)
{
	size_t i;

	for (i = 0; i < ls->n; i++)
		json_decref(ls->v[i]);
	free(ls->raw);
	memset(ls, 0, sizeof(*ls));
}

static const char *
field(const struct lines *ls, size_t i, const char *key)
{
	assert_true(i < ls->n);
	return (json_string_value(json_object_get(ls->v[i], key)));
}

static void
test_json_lines(void **state)
{
	struct fx   *fx = *state;
	struct lines ls;
	const char  *tricky = "q\"uote b\\ack nl\n tab\t cr\r bell\x01 "
	                      "esc\x1b del\x7f caf\xc3\xa9 \xe2\x82\xac "
	                      "\xf0\x9f\x98\x80 {\"json\":1}";

	assert_int_equal(log_init("tsvc", fx->path, LOG_DEBUG), 0);
	log_info("ev.start", "hello %d %s", 42, "world");
	log_debug("ev.dbg", "d");
	log_warn("ev.warn", "%s", tricky);
	log_error(NULL, "no event");
	log_msg(LOG_INFO, "ev.empty", "%s", "");
	log_fini();

	read_lines(fx->path, &ls);
	assert_int_equal(ls.n, 5);
	assert_string_equal(field(&ls, 0, "level"), "info");
	assert_string_equal(field(&ls, 0, "svc"), "tsvc");
	assert_string_equal(field(&ls, 0, "event"), "ev.start");
	assert_string_equal(field(&ls, 0, "msg"), "hello 42 world");
	assert_string_equal(field(&ls, 1, "level"), "debug");
	assert_string_equal(field(&ls, 2, "level"), "warn");
	/* Escaping round-trips the message exactly. */
	assert_string_equal(field(&ls, 2, "msg"), tricky);
	assert_string_equal(field(&ls, 3, "level"), "error");
	assert_string_equal(field(&ls, 3, "event"), "");
	assert_string_equal(field(&ls, 4, "msg"), "");
	/* One line per call: the raw text holds no bare control bytes. */
	assert_null(strchr(ls.raw, '\t'));
	assert_null(strchr(ls.raw, '\x01'));
	free_lines(&ls);
}

static void
test_invalid_utf8(void **state)
{
	struct fx   *fx = *state;
	struct lines ls;
	char         bigsvc[100];

	assert_int_equal(log_init("svc\xff", fx->path, LOG_DEBUG), 0);
	log_info("ev\xc0\x80",
	    "a\xff"
	    "b \xc0\xaf c \xed\xa0\x80 d "
	    "\xf4\x90\x80\x80 e \xe2\x82");
	/* A service name longer than the internal copy is cut, possibly
	 * inside a multi-byte sequence. */
	memset(bigsvc, 'x', sizeof(bigsvc));
	bigsvc[62]                 = '\xc3';
	bigsvc[63]                 = '\xa9';
	bigsvc[sizeof(bigsvc) - 1] = '\0';
	assert_int_equal(log_init(bigsvc, fx->path, LOG_DEBUG), 0);
	log_info("ev", "x");
	log_fini();

	read_lines(fx->path, &ls);
	assert_int_equal(ls.n, 2);
	/* Each invalid byte becomes one U+FFFD; valid text is kept. */
	assert_string_equal(field(&ls, 0, "svc"), "svc\xef\xbf\xbd");
	assert_string_equal(
	    field(&ls, 0, "event"), "ev\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(field(&ls, 0, "msg"),
	    "a\xef\xbf\xbd"
	    "b \xef\xbf\xbd\xef\xbf\xbd c "
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd d "
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd e "
	    "\xef\xbf\xbd\xef\xbf\xbd");
	/* 62 'x' and the lone lead byte of the cut é. */
	assert_int_equal(strncmp(field(&ls, 1, "svc"), bigsvc, 62), 0);
	assert_string_equal(field(&ls, 1, "svc") + 62, "\xef\xbf\xbd");
	free_lines(&ls);
}

static void
test_redaction(void **state)
{
	struct fx   *fx = *state;
	struct lines ls;

	assert_int_equal(log_init("red", fx->path, LOG_DEBUG), 0);
	log_redact("hunter22");
	log_redact("hunter22"); /* duplicates are harmless */
	log_redact("tok-\"q\"");
	log_redact("abc"); /* too short to be a secret: ignored */
	log_redact(NULL);
	log_info("auth", "password=%s again %s%s end", "hunter22", "hunter22",
	    "hunter22");
	log_info("auth", "quoted %s", "tok-\"q\"");
	log_info("auth", "abc stays");
	/* A secret that also occurs inside the marker itself. */
	log_redact("EDAC");
	log_info("auth", "x EDAC y");
	log_fini();

	read_lines(fx->path, &ls);
	assert_int_equal(ls.n, 4);
	assert_string_equal(field(&ls, 0, "msg"),
	    "password=[REDACTED] again [REDACTED][REDACTED] end");
	assert_string_equal(field(&ls, 1, "msg"), "quoted [REDACTED]");
	assert_string_equal(field(&ls, 2, "msg"), "abc stays");
	assert_string_equal(field(&ls, 3, "msg"), "x [REDACTED] y");
	assert_null(strstr(ls.raw, "hunter22"));
	assert_null(strstr(ls.raw, "tok-"));
	free_lines(&ls);

	/* log_fini forgets the secrets. */
	assert_int_equal(log_init("red", fx->path, LOG_DEBUG), 0);
	log_info("auth", "hunter22");
	log_fini();
	read_lines(fx->path, &ls);
	assert_int_equal(ls.n, 5);
	assert_string_equal(field(&ls, 4, "msg"), "hunter22");
	free_lines(&ls);
}

static void
test_levels_and_counts(void **state)
{
	struct fx   *fx = *state;
	struct lines ls;
	int64_t      c[4];
	int          i;

	for (i = 0; i < 4; i++)
		c[i] = log_count((enum log_level) i);
	assert_int_equal(log_init("lvl", fx->path, LOG_WARN), 0);
	log_debug("e", "dropped");
	log_info("e", "dropped");
	log_warn("e", "kept 1");
	log_error("e", "kept 2");
	log_error("e", "kept 3");
	log_msg((enum log_level) 9, "e", "bad level dropped");

	assert_int_equal(log_count(LOG_DEBUG), c[LOG_DEBUG]);
	assert_int_equal(log_count(LOG_INFO), c[LOG_INFO]);
	assert_int_equal(log_count(LOG_WARN), c[LOG_WARN] + 1);
	assert_int_equal(log_count(LOG_ERROR), c[LOG_ERROR] + 2);
	assert_int_equal(log_count((enum log_level) 9), 0);

	/* Lowering the threshold lets debug through. */
	assert_int_equal(log_init("lvl", fx->path, LOG_DEBUG), 0);
	log_debug("e", "kept 4");
	assert_int_equal(log_count(LOG_DEBUG), c[LOG_DEBUG] + 1);
	log_fini();

	read_lines(fx->path, &ls);
	assert_int_equal(ls.n, 4);
	assert_string_equal(field(&ls, 0, "msg"), "kept 1");
	assert_string_equal(field(&ls, 0, "level"), "warn");
	assert_string_equal(field(&ls, 2, "msg"), "kept 3");
	assert_string_equal(field(&ls, 3, "msg"), "kept 4");
	assert_string_equal(field(&ls, 3, "level"), "debug");
	assert_null(strstr(ls.raw, "dropped"));
	free_lines(&ls);
}

static void
test_per_service_files(void **state)
{
	struct fx   *fx = *state;
	struct lines ls;
	struct stat  st;
	char        *a   = xasprintf("%s/a.log", fx->dir);
	char        *b   = xasprintf("%s/b.log", fx->dir);
	char        *bad = xasprintf("%s/no/such/dir/c.log", fx->dir);
	int64_t      before;

	assert_int_equal(log_init("svc-a", a, LOG_INFO), 0);
	log_info("e", "to a");
	assert_int_equal(log_init("svc-b", b, LOG_INFO), 0);
	log_info("e", "to b");
	/* Re-opening appends rather than truncating. */
	assert_int_equal(log_init("svc-a", a, LOG_INFO), 0);
	log_info("e", "to a again");
	/* No file: nothing more is written to either. */
	assert_int_equal(log_init("svc-c", NULL, LOG_INFO), 0);
	log_info("e", "to nowhere");
	/* An unopenable file is an error; logging still works (counted). */
	before = log_count(LOG_INFO);
	assert_int_equal(log_init("svc-c", bad, LOG_INFO), ERR_IO);
	log_info("e", "still fine");
	assert_int_equal(log_count(LOG_INFO), before + 1);
	log_fini();

	assert_int_equal(stat(a, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	read_lines(a, &ls);
	assert_int_equal(ls.n, 2);
	assert_string_equal(field(&ls, 0, "svc"), "svc-a");
	assert_string_equal(field(&ls, 0, "msg"), "to a");
	assert_string_equal(field(&ls, 1, "svc"), "svc-a");
	assert_string_equal(field(&ls, 1, "msg"), "to a again");
	free_lines(&ls);
	read_lines(b, &ls);
	assert_int_equal(ls.n, 1);
	assert_string_equal(field(&ls, 0, "svc"), "svc-b");
	assert_string_equal(field(&ls, 0, "msg"), "to b");
	free_lines(&ls);
	assert_int_not_equal(stat(bad, &st), 0);

	free(bad);
	free(b);
	free(a);
}

static void
test_stderr(void **state)
{
	struct fx   *fx = *state;
	struct lines ls;
	char        *errpath = xasprintf("%s/stderr.txt", fx->dir);
	int          saved, fd;

	assert_int_equal(log_init("se", NULL, LOG_INFO), 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	/* No assertions while stderr is redirected. */
	dup2(fd, STDERR_FILENO);
	close(fd);
	log_set_stderr(1);
	log_info("e", "on stderr");
	log_set_stderr(0);
	log_info("e", "not on stderr");
	dup2(saved, STDERR_FILENO);
	close(saved);

	read_lines(errpath, &ls);
	assert_int_equal(ls.n, 1);
	assert_string_equal(field(&ls, 0, "svc"), "se");
	assert_string_equal(field(&ls, 0, "msg"), "on stderr");
	free_lines(&ls);
	free(errpath);
}

static void
test_long_message(void **state)
{
	struct fx   *fx = *state;
	struct lines ls;
	char        *big = xmalloc(200001);
	size_t       i;

	for (i = 0; i < 200000; i++)
		big[i] = (char) ('a' + i % 26);
	big[200000] = '\0';
	big[1000]   = '\n';
	assert_int_equal(log_init("long", fx->path, LOG_INFO), 0);
	log_info("e", "%s", big);
	log_fini();

	read_lines(fx->path, &ls);
	assert_int_equal(ls.n, 1);
	assert_string_equal(field(&ls, 0, "msg"), big);
	free_lines(&ls);
	free(big);
}

/* A write that fails (here: past RLIMIT_FSIZE, as a full disk would) cuts
 * off what it wrote of its line and closes the file; a line a second
 * later reopens it, first saying how many lines were lost. */
static void
test_reopen_after_failure(void **state)
{
	struct fx      *fx = *state;
	struct lines    ls;
	struct rlimit   old, lim;
	struct stat     st;
	struct timespec ts = { 1, 100 * 1000 * 1000 };
	void (*prev)(int);

	assert_int_equal(log_init("full", fx->path, LOG_INFO), 0);
	log_info("e", "first");
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	prev         = signal(SIGXFSZ, SIG_IGN);
	lim          = old;
	lim.rlim_cur = (rlim_t) st.st_size + 40; /* room for part of a line */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	log_info("e", "cut off");
	log_info("e", "lost too");
	log_info("e", "and this");
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);
	/* the part written was cut off again */
	assert_int_equal(stat(fx->path, &st), 0);
	read_lines(fx->path, &ls);
	assert_int_equal(ls.n, 1);
	free_lines(&ls);
	nanosleep(&ts, NULL); /* past the reopen rate limit */
	log_info("e", "again");
	log_fini();

	read_lines(fx->path, &ls);
	assert_int_equal(ls.n, 3);
	assert_string_equal(field(&ls, 0, "msg"), "first");
	assert_string_equal(field(&ls, 1, "event"), "log.reopened");
	assert_string_equal(field(&ls, 1, "level"), "warn");
	assert_non_null(strstr(field(&ls, 1, "msg"), "3 lines lost"));
	assert_string_equal(field(&ls, 2, "msg"), "again");
	free_lines(&ls);
}

#define NTHREADS 4
#define NLINES 500

static void *
logger(void *arg)
{
	int  id = *(int *) arg, i;
	char other[64];

	for (i = 0; i < NLINES; i++) {
		log_info("test.thread", "thread %d line %d token-%d-secret",
		    id, i, id);
		/* the configuration is shared too: read and extended while
		 * the others write */
		if (i % 100 == 0) {
			(void) log_count(LOG_INFO);
			snprintf(
			    other, sizeof(other), "other-secret-%d-%d", id, i);
			log_redact(other);
		}
	}
	return (NULL);
}

static void
test_threads(void **state)
{
	struct fx   *fx = *state;
	pthread_t    th[NTHREADS];
	int          ids[NTHREADS], i;
	int64_t      before;
	json_error_t je;
	json_t      *v;
	char        *raw, *p, *nl;
	size_t       n = 0;

	assert_int_equal(log_init("svc", fx->path, LOG_INFO), 0);
	log_redact("token-0-secret");
	before = log_count(LOG_INFO);
	for (i = 0; i < NTHREADS; i++) {
		ids[i] = i;
		assert_int_equal(
		    pthread_create(&th[i], NULL, logger, &ids[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(log_count(LOG_INFO) - before, NTHREADS * NLINES);
	raw = slurp(fx->path);
	for (p = raw; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			fail_msg("unterminated last line '%s'", p);
		if ((v = json_loadb(p, (size_t) (nl - p), 0, &je)) == NULL)
			fail_msg("line %zu not JSON (%s): %.*s", n + 1,
			    je.text, (int) (nl - p), p);
		check_line(v);
		json_decref(v);
		n++;
	}
	assert_int_equal(n, NTHREADS * NLINES);
	/* registered before the threads started: never written */
	assert_null(strstr(raw, "token-0-secret"));
	assert_non_null(strstr(raw, "token-1-secret"));
	free(raw);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_json_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_invalid_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_redaction, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_levels_and_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_per_service_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stderr, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_long_message, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_reopen_after_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
