/*
 * test_util.c - allocation helpers, byte buffers, UTF-8 checks, mkdirs and
 * clocks (common/util.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "opc/err.h"
#include "opc/util.h"

/* A fresh temporary directory per test that needs one. */
static int
tmp_setup(void **state)
{
	char tmpl[] = "/tmp/opct.XXXXXX";

	if (mkdtemp(tmpl) == NULL)
		return (-1);
	*state = xstrdup(tmpl);
	return (0);
}

static int
tmp_teardown(void **state)
{
	char *dir = *state;
	int   rv;

	rv = rmtree(dir);
	free(dir);
	return (rv == 0 ? 0 : -1);
}

static int
is_dir(const char *path)
{
	struct stat st;

	return (stat(path, &st) == 0 && S_ISDIR(st.st_mode));
}

static void
test_alloc(void **state)
{
	unsigned char *z;
	char          *s;
	size_t         i;

	UNUSED(state);
	s = xmalloc(0);
	assert_non_null(s);
	free(s);
	z = xcalloc(64, 4);
	for (i = 0; i < 256; i++)
		assert_int_equal(z[i], 0);
	z = xrealloc(z, 1024);
	assert_int_equal(z[255], 0);
	free(z);
	z = xcalloc(0, 8);
	assert_non_null(z);
	free(z);

	s = xstrdup("hello");
	assert_string_equal(s, "hello");
	free(s);
	s = xstrndup("hello world", 5);
	assert_string_equal(s, "hello");
	assert_int_equal(strlen(s), 5);
	free(s);
	s = xstrndup("", 0);
	assert_string_equal(s, "");
	free(s);
}

static void
test_xasprintf(void **state)
{
	char *s, *big;

	UNUSED(state);
	s = xasprintf("%s-%d-%05.1f-%c", "abc", -42, 3.14159, 'z');
	assert_string_equal(s, "abc--42-003.1-z");
	free(s);

	s = xasprintf("%s", "");
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);

	/* Longer than any plausible internal stack buffer. */
	big = xmalloc(10001);
	memset(big, 'x', 10000);
	big[10000] = '\0';
	s          = xasprintf("<%s>", big);
	assert_int_equal(strlen(s), 10002);
	assert_int_equal(s[0], '<');
	assert_int_equal(s[10001], '>');
	assert_memory_equal(s + 1, big, 10000);
	free(s);
	free(big);
}

static void
test_buf_basic(void **state)
{
	struct buf b;
	const char bin[] = { 'a', '\0', 'b', '\0', 'c' };
	size_t     cap;

	UNUSED(state);
	buf_init(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);

	/* buf_cstr on an empty buffer still yields a valid "" string. */
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(b.len, 0);
	assert_true(b.cap >= 1);

	buf_append(&b, "", 0);
	assert_int_equal(b.len, 0);
	buf_puts(&b, "hello");
	buf_append(&b, ", ", 2);
	buf_puts(&b, "world");
	assert_int_equal(b.len, 12);
	assert_string_equal(buf_cstr(&b), "hello, world");
	/* The terminator is not counted. */
	assert_int_equal(b.len, 12);

	/* Binary data with embedded NULs round-trips. */
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	cap = b.cap;
	buf_append(&b, bin, sizeof(bin));
	assert_int_equal(b.len, sizeof(bin));
	assert_memory_equal(b.data, bin, sizeof(bin));
	assert_int_equal(b.cap, cap); /* reset keeps the allocation */
	assert_int_equal(buf_cstr(&b)[sizeof(bin)], '\0');

	buf_fini(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
}

static void
test_buf_printf_growth(void **state)
{
	struct buf b;
	char       want[16];
	char      *big;
	size_t     off;
	int        i;

	UNUSED(state);
	buf_init(&b);
	buf_printf(&b, "%d:%s;", 7, "seven");
	assert_string_equal(buf_cstr(&b), "7:seven;");

	/* An empty expansion is a no-op. */
	buf_printf(&b, "%s", "");
	assert_int_equal(b.len, 8);

	/* Many small appends cross the initial capacity several times. */
	buf_reset(&b);
	for (i = 0; i < 2000; i++)
		buf_printf(&b, "%04d,", i);
	assert_int_equal(b.len, 2000 * 5);
	assert_true(b.cap > b.len);
	for (i = 0, off = 0; i < 2000; i++, off += 5) {
		snprintf(want, sizeof(want), "%04d,", i);
		assert_memory_equal(b.data + off, want, 5);
	}

	/* One append much larger than the current capacity. */
	big = xmalloc(70001);
	memset(big, 'q', 70000);
	big[70000] = '\0';
	buf_reset(&b);
	buf_puts(&b, "head:");
	buf_printf(&b, "[%s]", big);
	assert_int_equal(b.len, 5 + 70002);
	assert_true(b.cap >= b.len + 1);
	assert_memory_equal(b.data, "head:[", 6);
	assert_memory_equal(b.data + 6, big, 70000);
	assert_int_equal(b.data[b.len - 1], ']');
	assert_int_equal(strlen(buf_cstr(&b)), 5 + 70002);
	free(big);
	buf_fini(&b);
}

static size_t
ulen(const char *s, size_t n)
{
	return (utf8_len((const unsigned char *) s, n));
}

static void
test_utf8_len(void **state)
{
	UNUSED(state);
	/* Valid sequences of each length, including the extremes. */
	assert_int_equal(ulen("A", 1), 1);
	assert_int_equal(ulen("\0", 1), 1);
	assert_int_equal(ulen("\x7f", 1), 1);
	assert_int_equal(ulen("\xc2\x80", 2), 2);         /* U+0080 */
	assert_int_equal(ulen("\xc3\xa9", 2), 2);         /* é */
	assert_int_equal(ulen("\xdf\xbf", 2), 2);         /* U+07FF */
	assert_int_equal(ulen("\xe0\xa0\x80", 3), 3);     /* U+0800 */
	assert_int_equal(ulen("\xe2\x82\xac", 3), 3);     /* € */
	assert_int_equal(ulen("\xed\x9f\xbf", 3), 3);     /* U+D7FF */
	assert_int_equal(ulen("\xee\x80\x80", 3), 3);     /* U+E000 */
	assert_int_equal(ulen("\xef\xbf\xbf", 3), 3);     /* U+FFFF */
	assert_int_equal(ulen("\xf0\x90\x80\x80", 4), 4); /* U+10000 */
	assert_int_equal(ulen("\xf0\x9f\x98\x80", 4), 4); /* emoji */
	assert_int_equal(ulen("\xf4\x8f\xbf\xbf", 4), 4); /* U+10FFFF */
	/* Extra bytes after the sequence do not matter. */
	assert_int_equal(ulen("\xc3\xa9zz", 4), 2);

	/* Nothing available. */
	assert_int_equal(ulen("A", 0), 0);

	/* Overlong encodings. */
	assert_int_equal(ulen("\xc0\x80", 2), 0);
	assert_int_equal(ulen("\xc1\xbf", 2), 0);
	assert_int_equal(ulen("\xe0\x80\x80", 3), 0);
	assert_int_equal(ulen("\xe0\x9f\xbf", 3), 0);
	assert_int_equal(ulen("\xf0\x80\x80\x80", 4), 0);
	assert_int_equal(ulen("\xf0\x8f\xbf\xbf", 4), 0);

	/* UTF-16 surrogates. */
	assert_int_equal(ulen("\xed\xa0\x80", 3), 0); /* U+D800 */
	assert_int_equal(ulen("\xed\xb0\x80", 3), 0); /* U+DC00 */
	assert_int_equal(ulen("\xed\xbf\xbf", 3), 0); /* U+DFFF */

	/* Beyond U+10FFFF and invalid lead bytes. */
	assert_int_equal(ulen("\xf4\x90\x80\x80", 4), 0);
	assert_int_equal(ulen("\xf5\x80\x80\x80", 4), 0);
	assert_int_equal(ulen("\xf8\x88\x80\x80\x80", 5), 0);
	assert_int_equal(ulen("\xff", 1), 0);
	assert_int_equal(ulen("\x80", 1), 0); /* lone continuation */
	assert_int_equal(ulen("\xbf\x80", 2), 0);

	/* Truncated: fewer bytes available than the lead announces. */
	assert_int_equal(ulen("\xc3\xa9", 1), 0);
	assert_int_equal(ulen("\xe2\x82\xac", 2), 0);
	assert_int_equal(ulen("\xf0\x9f\x98\x80", 3), 0);
	/* Broken continuation bytes. */
	assert_int_equal(ulen("\xc3\x41", 2), 0);
	assert_int_equal(ulen("\xe2\x82\x41", 3), 0);
	assert_int_equal(ulen("\xf0\x9f\xc3\xa9", 4), 0);
}

static void
test_utf8_valid(void **state)
{
	const char mixed[] =
	    "ascii \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 end";
	const char nul[] = { 'a', '\0', 'b' };

	UNUSED(state);
	assert_true(utf8_valid("", 0));
	assert_true(utf8_valid("plain ascii", 11));
	assert_true(utf8_valid(mixed, strlen(mixed)));
	assert_true(utf8_valid(nul, sizeof(nul)));

	/* One bad sequence anywhere makes the whole string invalid. */
	assert_false(utf8_valid("ab\xc0\x80"
	                        "cd",
	    6)); /* overlong */
	assert_false(utf8_valid("ab\xed\xa0\x80"
	                        "cd",
	    7)); /* surrogate */
	assert_false(utf8_valid("ab\xff"
	                        "cd",
	    5));
	assert_false(utf8_valid("abc\xe2\x82", 5));     /* truncated */
	assert_false(utf8_valid("abc\xf0\x9f\x98", 6)); /* truncated */
	assert_false(utf8_valid("\x80", 1));

	/* n bounds the check: a valid prefix of a bad string is valid, and
	 * cutting a good string inside a sequence makes it invalid. */
	assert_true(utf8_valid("ab\xff", 2));
	assert_false(utf8_valid(mixed, 7)); /* cuts é in half */
	assert_true(utf8_valid(mixed, 8));
}

static void
test_mkdirs(void **state)
{
	const char *dir = *state;
	char       *deep, *mid, *file, *under, *slash;
	FILE       *f;

	deep = xasprintf("%s/a/b/c/d", dir);
	mid  = xasprintf("%s/a/b", dir);
	assert_false(is_dir(mid));
	assert_int_equal(mkdirs(deep, 0700), 0);
	assert_true(is_dir(mid));
	assert_true(is_dir(deep));

	/* Existing paths are fine, whole or partial. */
	assert_int_equal(mkdirs(deep, 0700), 0);
	assert_int_equal(mkdirs(mid, 0700), 0);
	assert_int_equal(mkdirs(dir, 0700), 0);

	/* A trailing slash is accepted. */
	slash = xasprintf("%s/x/y/", dir);
	assert_int_equal(mkdirs(slash, 0700), 0);
	free(slash);
	slash = xasprintf("%s/x/y", dir);
	assert_true(is_dir(slash));
	free(slash);

	/* A regular file in the way is an I/O error. */
	file = xasprintf("%s/file", dir);
	f    = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	under = xasprintf("%s/file/sub/dir", dir);
	assert_int_equal(mkdirs(under, 0700), ERR_IO);
	assert_int_equal(mkdirs(file, 0700), ERR_IO);
	assert_false(is_dir(under));

	free(under);
	free(file);
	free(mid);
	free(deep);
}

static void
test_clocks(void **state)
{
	int64_t wall, m0, m1, prev, cur;
	time_t  t;
	int     i;

	UNUSED(state);
	t    = time(NULL);
	wall = now_ms();
	/* Wall clock is unix milliseconds: after 2020, close to time(). */
	assert_true(wall > INT64_C(1577836800000));
	assert_true(wall / 1000 >= (int64_t) t - 5);
	assert_true(wall / 1000 <= (int64_t) t + 5);

	/* Monotonic never goes backwards. */
	prev = mono_ms();
	for (i = 0; i < 100000; i++) {
		cur = mono_ms();
		assert_true(cur >= prev);
		prev = cur;
	}

	/* A 20 ms sleep advances it by at least 20 ms (and not by hours). */
	m0 = mono_ms();
	sleep_ms(20);
	m1 = mono_ms();
	assert_true(m1 - m0 >= 20);
	assert_true(m1 - m0 < 60000);
}

/* child_spawn_fds: the program is found on the PATH of the environment it
 * gets (not ours), runs in cwd with default signal dispositions, writes
 * to the fds it is given and inherits no other. */
static void
test_child_spawn(void **state)
{
	const char *dir      = *state;
	char       *bin      = xasprintf("%s/bin", dir);
	char       *prog     = xasprintf("%s/hello", bin);
	char       *out_path = xasprintf("%s/out", dir);
	char       *pathvar, *sub;
	char       *envp[] = { NULL, "GREETING=hi", NULL };
	char       *argv[] = { "hello", NULL }, *argv_sh[] = { "sh", NULL };
	char        got[512], *want;
	ssize_t     len;
	pid_t       pid;
	int         out, leak, st;
	const char  script[] = "#!/bin/sh\n"
	                       "pwd\n"
	                       "echo \"$GREETING\"\n"
	                       "while read -r k v; do\n"
	                       "  [ \"$k\" = SigIgn: ] &&\n"
	                       "  echo ignored $((0x$v & 0x7fffffff))\n"
	                       "done </proc/self/status\n"
	                       "[ -e /proc/self/fd/50 ] && echo leaked\n"
	                       "exit 3\n";

	assert_int_equal(mkdirs(bin, 0700), 0);
	/* a directory of that name earlier on the PATH is no program */
	sub = xasprintf("%s/sub/hello", dir);
	assert_int_equal(mkdirs(sub, 0700), 0);
	free(sub);
	pathvar = xasprintf("PATH=%s/sub:%s", dir, bin);
	envp[0] = pathvar;
	assert_int_equal(write_file_atomic(prog, script, strlen(script)), 0);
	assert_int_equal(chmod(prog, 0755), 0);
	out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(out >= 0);
	leak = dup2(out, 50); /* no close-on-exec */
	assert_int_equal(leak, 50);
	signal(SIGHUP, SIG_IGN);
	pid = child_spawn_fds(argv, envp, dir, -1, out, out);
	signal(SIGHUP, SIG_DFL);
	close(leak);
	close(out);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 3);
	out = open(out_path, O_RDONLY | O_CLOEXEC);
	assert_true(out >= 0);
	len = read(out, got, sizeof(got) - 1);
	close(out);
	assert_true(len > 0);
	got[len] = '\0';
	/* signals 1-31; glibc's posix_spawn leaves its internal 32 and 33
	 * ignored, which its users reset when they need them */
	want = xasprintf("%s\nhi\nignored 0\n", dir);
	assert_string_equal(got, want);
	free(want);
	/* Not on the child's PATH (though on ours), and nowhere at all. */
	assert_int_equal(child_spawn_fds(argv_sh, envp, NULL, -1, -1, -1), -1);
	assert_int_equal(errno, ENOENT);
	argv[0] = "no-such-program";
	assert_int_equal(child_spawn_fds(argv, NULL, NULL, -1, -1, -1), -1);
	assert_int_equal(errno, ENOENT);
	/* A cwd that does not exist: the child's chdir fails. */
	argv[0] = prog;
	assert_int_equal(
	    child_spawn_fds(argv, envp, "/nonexistent/x", -1, -1, -1), -1);
	assert_int_equal(errno, ENOENT);
	free(pathvar);
	free(out_path);
	free(prog);
	free(bin);
}

static void
test_path_clean(void **state)
{
	static const char *const cases[][2] = {
		{ "/a/b/../c", "/a/c" },
		{ "/work/main/config/../state", "/work/main/state" },
		{ "/a//b/./c/", "/a/b/c" },
		{ "/..", "/" },
		{ "/a/../..", "/" },
		{ "/", "/" },
		{ "/.hidden/x", "/.hidden/x" },
		{ "relative/../x", "relative/../x" },
	};
	char  *p;
	size_t i;

	(void) state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = xstrdup(cases[i][0]);
		assert_string_equal(path_clean(p), cases[i][1]);
		free(p);
	}
}

/* A repo's local checkout: local_path first, else a clone_url that is a
 * path or file:// URL; a remote or scp-like URL has none. */
static void
test_path_checkout(void **state)
{
	const char *cases[][4] = {
		{ "/srv/r/", "https://x/y.git", "/etc/opc", "/srv/r" },
		{ "r", NULL, "/etc/opc", "/etc/opc/r" },
		{ "", "../repos/r", "/etc/opc", "/etc/repos/r" },
		{ NULL, "file:///srv/r.git", "/etc", "/srv/r.git" },
		{ NULL, "https://github.com/o/r.git", "/etc", NULL },
		{ NULL, "git@github.com:o/r.git", "/etc", NULL },
		{ NULL, "./a:b/r", "/etc", "/etc/a:b/r" },
		{ NULL, NULL, "/etc", NULL },
	};
	size_t i;
	char  *p;

	(void) state;
	for (i = 0; i < nitems(cases); i++) {
		p = path_checkout(cases[i][0], cases[i][1], cases[i][2]);
		if (cases[i][3] == NULL)
			assert_null(p);
		else
			assert_string_equal(p, cases[i][3]);
		free(p);
	}
}

/* file_read: the whole file, NUL-terminated; over max is ERR_TOOBIG, a
 * missing file ERR_IO with errno. */
static void
test_file_read(void **state)
{
	const char *dir = *state;
	char       *p, *text;
	size_t      len;

	p = xasprintf("%s/f", dir);
	assert_int_equal(write_file_atomic(p, "abc\0def", 7), 0);
	assert_int_equal(file_read(&text, &len, p, 7), 0);
	assert_int_equal(len, 7);
	assert_memory_equal(text, "abc\0def\0", 8);
	free(text);
	assert_int_equal(file_read(&text, &len, p, 6), ERR_TOOBIG);
	assert_null(text);
	free(p);
	p = xasprintf("%s/missing", dir);
	assert_int_equal(file_read(&text, &len, p, 100), ERR_IO);
	assert_int_equal(errno, ENOENT);
	assert_null(text);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc),
		cmocka_unit_test(test_xasprintf),
		cmocka_unit_test(test_buf_basic),
		cmocka_unit_test(test_buf_printf_growth),
		cmocka_unit_test(test_utf8_len),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test_setup_teardown(
		    test_mkdirs, tmp_setup, tmp_teardown),
		cmocka_unit_test(test_clocks),
		cmocka_unit_test(test_path_clean),
		cmocka_unit_test(test_path_checkout),
		cmocka_unit_test_setup_teardown(
		    test_child_spawn, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(
		    test_file_read, tmp_setup, tmp_teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
