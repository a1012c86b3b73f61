/*
 * util.c - allocation that aborts on OOM, clocks, byte buffers, mkdirs.
 */
#define _GNU_SOURCE /* POSIX_SPAWN_SETSID, addclosefrom_np (glibc 2.34) */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "opc/err.h"
#include "opc/util.h"

static void
oom(size_t n)
{
	/* No log here: the logger itself allocates. */
	fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p;

	if ((p = malloc(n == 0 ? 1 : n)) == NULL)
		oom(n);
	return (p);
}

void *
xcalloc(size_t n, size_t size)
{
	void *p;

	if (n == 0 || size == 0)
		n = size = 1;
	if ((p = calloc(n, size)) == NULL)
		oom(n * size);
	return (p);
}

void *
xrealloc(void *old, size_t n)
{
	void *p;

	if ((p = realloc(old, n == 0 ? 1 : n)) == NULL)
		oom(n);
	return (p);
}

char *
xstrdup(const char *s)
{
	return (xstrndup(s, strlen(s)));
}

char *
xstrdup_null(const char *s)
{
	return (s != NULL ? xstrdup(s) : NULL);
}

char *
xmemdup(const void *s, size_t n)
{
	char *p = xmalloc(n + 1);

	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	return (p);
}

char *
xstrndup(const char *s, size_t n)
{
	char *p;

	n = strnlen(s, n); /* like POSIX strndup: stop at a NUL */
	p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return (p);
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char   *p;
	int     n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom(0);
	p = xmalloc((size_t) n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t) n + 1, fmt, ap);
	va_end(ap);
	return (p);
}

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };

	while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void
buf_init(struct buf *b)
{
	memset(b, 0, sizeof(*b));
}

void
buf_fini(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
}

static void
grow(struct buf *b, size_t need)
{
	size_t cap;

	if (b->len + need + 1 <= b->cap)
		return;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + need + 1)
		cap *= 2;
	b->data = xrealloc(b->data, cap);
	b->cap  = cap;
}

void
buf_append(struct buf *b, const void *p, size_t n)
{
	grow(b, n);
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int     n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	grow(b, (size_t) n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t) n;
}

char *
buf_cstr(struct buf *b)
{
	grow(b, 0);
	b->data[b->len] = '\0';
	return (b->data);
}

int
mkdirs(const char *path, int mode)
{
	struct stat st;
	char       *p, *s;
	int         rv = 0;

	p = xstrdup(path);
	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, (mode_t) mode) != 0 && errno != EEXIST)
			rv = ERR_IO;
		*s = '/';
	}
	if (mkdir(p, (mode_t) mode) != 0 &&
	    (errno != EEXIST || stat(p, &st) != 0 || !S_ISDIR(st.st_mode)))
		rv = ERR_IO;
	free(p);
	return (rv);
}

size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t   len, i;
	uint32_t cp;

	if (n == 0)
		return (0);
	if (p[0] < 0x80)
		return (1);
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		cp  = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp  = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		cp  = p[0] & 0x07;
	} else
		return (0);
	if (len > n)
		return (0);
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return (0);
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return (0);
	return (len);
}

int
utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t               k;

	while (n > 0) {
		if (*p < 0x80) {
			p++;
			n--;
			continue;
		}
		if ((k = utf8_len(p, n)) == 0)
			return (0);
		p += k;
		n -= k;
	}
	return (1);
}

char *
utf8_lossy(const char *s)
{
	struct buf b;
	size_t     n, l, i = 0;
	char      *r;

	if (s == NULL)
		return (NULL);
	n = strlen(s);
	if (utf8_valid(s, n))
		return (xstrdup(s));
	buf_init(&b);
	while (i < n) {
		if ((l = utf8_len((const unsigned char *) s + i, n - i)) ==
		    0) {
			buf_puts(&b, "\xef\xbf\xbd"); /* U+FFFD */
			i++;
			continue;
		}
		buf_append(&b, s + i, l);
		i += l;
	}
	r = xstrdup(buf_cstr(&b));
	buf_fini(&b);
	return (r);
}

char *
iso8601(int64_t ms, char *buf, size_t len)
{
	time_t    t = (time_t) (ms / 1000);
	struct tm tm;
	char      s[32];

	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", s, (int) (ms % 1000));
	return (buf);
}

int
write_file_atomic(const char *path, const void *data, size_t len)
{
	char       *tmp = xasprintf("%s.tmp", path);
	const char *p   = data;
	ssize_t     n;
	int         fd, rv = 0, saved;

	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) <
	    0) {
		saved = errno;
		free(tmp);
		errno = saved;
		return (
		    saved == ENOSPC || saved == EDQUOT ? ERR_NOSPACE : ERR_IO);
	}
	while (len > 0 && rv == 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno != EINTR)
				rv = ERR_IO;
			continue;
		}
		p += n;
		len -= (size_t) n;
	}
	if (rv == 0 && fsync(fd) != 0)
		rv = ERR_IO;
	if (close(fd) != 0 && rv == 0)
		rv = ERR_IO;
	if (rv == 0 && rename(tmp, path) != 0)
		rv = ERR_IO;
	if (rv != 0) {
		saved = errno;
		(void) unlink(tmp);
		errno = saved;
		if (saved == ENOSPC || saved == EDQUOT)
			rv = ERR_NOSPACE;
	}
	free(tmp);
	return (rv);
}

char *
uuid4(char out[37])
{
	unsigned char b[16];
	size_t        i, off = 0;
	int           fd;

	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) < 0 ||
	    read(fd, b, sizeof(b)) != (ssize_t) sizeof(b)) {
		/* never expected; still unique enough within a process */
		uint64_t x = (uint64_t) now_ms() ^
		    ((uint64_t) getpid() << 32) ^ (uint64_t) (uintptr_t) out;

		for (i = 0; i < sizeof(b); i++) {
			x = x * 6364136223846793005ull +
			    1442695040888963407ull;
			b[i] = (unsigned char) (x >> 56);
		}
	}
	if (fd >= 0)
		(void) close(fd);
	b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80);
	for (i = 0; i < sizeof(b); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[off++] = '-';
		snprintf(out + off, 3, "%02x", b[i]);
		off += 2;
	}
	out[off] = '\0';
	return (out);
}

char *
path_checkout(const char *local_path, const char *clone_url, const char *dir)
{
	const char *p = local_path, *colon, *slash;

	if (p == NULL || *p == '\0') {
		p = clone_url;
		if (p == NULL || *p == '\0')
			return (NULL);
		if (strncmp(p, "file://", 7) == 0)
			p += 7;
		else if (strstr(p, "://") != NULL)
			return (NULL);
		colon = strchr(p, ':');
		slash = strchr(p, '/');
		if (colon != NULL && (slash == NULL || colon < slash))
			return (NULL); /* git@host:path */
	}
	if (*p == '/')
		return (path_clean(xstrdup(p)));
	return (path_clean(xasprintf("%s/%s", dir, p)));
}

char *
path_clean(char *path)
{
	char  *out = path, *seg, *next;
	size_t len = 0;

	if (path[0] != '/')
		return (path);
	seg = path;
	/* rebuild into the same buffer: the result is never longer */
	while (*seg != '\0') {
		while (*seg == '/')
			seg++;
		if (*seg == '\0')
			break;
		next = strchr(seg, '/');
		if (next == NULL)
			next = seg + strlen(seg);
		if (next - seg == 1 && seg[0] == '.')
			;
		else if (next - seg == 2 && seg[0] == '.' && seg[1] == '.') {
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--; /* the slash before it */
		} else {
			out[len++] = '/';
			memmove(out + len, seg, (size_t) (next - seg));
			len += (size_t) (next - seg);
		}
		seg = next;
	}
	if (len == 0)
		out[len++] = '/';
	out[len] = '\0';
	return (path);
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	UNUSED(st);
	UNUSED(flag);
	UNUSED(f);
	return (remove(p));
}

int
rmtree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return (errno == ENOENT ? 0 : ERR_IO);
	return (
	    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : ERR_IO);
}

bool
id_valid(const char *id)
{
	size_t i, n;

	if (id == NULL || (n = strlen(id)) == 0 || n > 128 || id[0] == '.')
		return (false);
	for (i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		        c == '-'))
			return (false);
	}
	return (true);
}

bool
pid_args(pid_t pid, const char *a, const char *b)
{
	char   path[64], buf[8192];
	size_t n, i, la = strlen(a) + 1;
	FILE  *f;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long) pid);
	if (pid <= 1 || (f = fopen(path, "r")) == NULL)
		return (false);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (i = 0; i < n; i += strlen(buf + i) + 1)
		if (strcmp(buf + i, a) == 0 && i + la < n &&
		    strcmp(buf + i + la, b) == 0)
			return (true);
	return (false);
}

/* spawn_path returns what posix_spawn should run for file: itself when it
 * has a slash, else the first executable file in the PATH of envp (ours
 * when envp is NULL; "/bin:/usr/bin" when there is none), as execvp
 * would.  NULL with errno ENOENT when there is none.  Caller frees. */
char *
spawn_path(const char *file, char *const envp[])
{
	const char *path = NULL, *p, *end;
	char       *cand;
	struct stat st;
	size_t      i;

	if (strchr(file, '/') != NULL)
		return (xstrdup(file));
	if (envp == NULL)
		path = getenv("PATH");
	else
		for (i = 0; envp[i] != NULL && path == NULL; i++)
			if (strncmp(envp[i], "PATH=", 5) == 0)
				path = envp[i] + 5;
	if (path == NULL)
		path = "/bin:/usr/bin";
	for (p = path;; p = end + 1) {
		end  = strchrnul(p, ':');
		cand = xasprintf(
		    "%.*s%s%s", (int) (end - p), p, end > p ? "/" : "", file);
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(cand, X_OK) == 0)
			return (cand);
		free(cand);
		if (*end == '\0')
			break;
	}
	errno = ENOENT;
	return (NULL);
}

pid_t
child_spawn_fds(char *const argv[], char *const envp[], const char *cwd,
    int in, int out, int err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t          at;
	sigset_t                   none, all;
	pid_t                      pid = -1;
	char                      *path;
	int                        null = -1, rv;

	if ((path = spawn_path(argv[0], envp)) == NULL)
		return (-1);
	if (in < 0 &&
	    (in = null = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		free(path);
		return (-1);
	}
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	/* dup2 clears close-on-exec on the copies; everything else goes */
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	if (out >= 0)
		posix_spawn_file_actions_adddup2(&fa, out, 1);
	if (err >= 0)
		posix_spawn_file_actions_adddup2(&fa, err, 2);
	if (cwd != NULL)
		posix_spawn_file_actions_addchdir_np(&fa, cwd);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at,
	    POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
	        POSIX_SPAWN_SETSIGDEF);
	rv = posix_spawn(
	    &pid, path, &fa, &at, argv, envp != NULL ? envp : environ);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	if (null >= 0)
		(void) close(null);
	free(path);
	if (rv != 0) {
		errno = rv;
		return (-1);
	}
	return (pid);
}

pid_t
child_spawn(const char *out_path, char *const argv[], char *const envp[])
{
	pid_t pid;
	int   out = -1, e;

	if (out_path != NULL)
		out = open(
		    out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	pid = child_spawn_fds(argv, envp, NULL, -1, out, out);
	e   = errno;
	if (out >= 0)
		(void) close(out);
	errno = e;
	return (pid);
}

char *
github_repo_of(const char *url)
{
	const char *h;
	char       *r, *slash;
	size_t      n;

	if (url == NULL || (h = strstr(url, "github.com")) == NULL)
		return (NULL);
	h += strlen("github.com");
	if (*h != '/' && *h != ':')
		return (NULL);
	n = strlen(++h);
	if (n > 4 && strcmp(h + n - 4, ".git") == 0)
		n -= 4;
	r = xstrndup(h, n);
	if ((slash = strchr(r, '/')) == NULL || slash == r ||
	    slash[1] == '\0' || strchr(slash + 1, '/') != NULL) {
		free(r);
		return (NULL);
	}
	return (r);
}

char *
exe_sibling(const char *name)
{
	char    path[PATH_MAX], *slash, *p;
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	if (n > 0) {
		path[n] = '\0';
		if ((slash = strrchr(path, '/')) != NULL) {
			*slash = '\0';
			p      = xasprintf("%s/%s", path, name);
			if (access(p, X_OK) == 0)
				return (p);
			free(p);
		}
	}
	return (xstrdup(name));
}

int
file_read(char **out, size_t *len, const char *path, size_t max)
{
	FILE  *f;
	char  *buf = NULL;
	size_t n   = 0, got;
	int    rv  = 0, saved;

	*out = NULL;
	*len = 0;
	if (strcmp(path, "-") == 0)
		f = stdin;
	else if ((f = fopen(path, "rb")) == NULL)
		return (ERR_IO);
	do {
		buf = xrealloc(buf, n + 65536 + 1);
		got = fread(buf + n, 1, 65536, f);
		n += got;
	} while (got > 0 && n <= max);
	saved = errno;
	if (ferror(f))
		rv = ERR_IO;
	else if (n > max)
		rv = ERR_TOOBIG;
	if (f != stdin)
		fclose(f);
	if (rv != 0) {
		free(buf);
		errno = saved;
		return (rv);
	}
	buf[n] = '\0';
	*out   = buf;
	*len   = n;
	return (0);
}

int64_t
fs_free(const char *path)
{
	struct statvfs v;

	if (statvfs(path, &v) != 0)
		return (-1);
	return ((int64_t) (geteuid() == 0 ? v.f_bfree : v.f_bavail) *
	    (int64_t) v.f_frsize);
}
