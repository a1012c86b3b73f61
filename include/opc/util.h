/*
 * util.h - small helpers: allocation that aborts on OOM, time, growable
 * byte buffers.
 *
 * x*alloc never return NULL; running out of memory is fatal for a daemon
 * (the supervisor restarts it), as in OpenSMTPD and tmux.
 */
#ifndef OPC_UTIL_H
#define OPC_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h> /* free() goes with x*alloc */
#include <sys/types.h>

#define nitems(a) (sizeof(a) / sizeof((a)[0]))
#define UNUSED(x) ((void) (x))
#define PRINTFLIKE(f, a) __attribute__((format(printf, f, a)))

void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xrealloc(void *, size_t);
char *xstrdup(const char *);
/* xstrdup_null is xstrdup, NULL for NULL. */
char *xstrdup_null(const char *);
/* xstrndup copies at most n bytes, stopping at a NUL (POSIX strndup). */
char *xstrndup(const char *, size_t);
/* xmemdup copies exactly n bytes (binary safe) and NUL-terminates. */
char *xmemdup(const void *, size_t);
/* xasprintf returns a newly allocated formatted string. */
char *xasprintf(const char *, ...) PRINTFLIKE(1, 2);

/* now_ms returns wall-clock unix time in milliseconds. */
int64_t now_ms(void);
/* mono_ms returns CLOCK_MONOTONIC in milliseconds. */
int64_t mono_ms(void);
/* sleep_ms sleeps ms milliseconds (none when ms <= 0), through signals. */
void sleep_ms(int ms);

/*
 * struct buf is a growable byte buffer owned by its user: buf_init() then
 * buf_fini().  buf_append never fails (aborts on OOM).
 */
struct buf {
	char  *data;
	size_t len;
	size_t cap;
};

void buf_init(struct buf *);
void buf_fini(struct buf *);
void buf_reset(struct buf *);
void buf_append(struct buf *, const void *, size_t);
void buf_puts(struct buf *, const char *);
void buf_printf(struct buf *, const char *, ...) PRINTFLIKE(2, 3);
/* buf_cstr NUL-terminates (without counting it in len) and returns data. */
char *buf_cstr(struct buf *);

/* utf8_len returns the length of the valid UTF-8 sequence at p (n bytes
 * available), or 0 when it is invalid. */
size_t utf8_len(const unsigned char *p, size_t n);
/* utf8_valid returns 1 when s[0..n) is valid UTF-8. */
int utf8_valid(const char *s, size_t n);
/* utf8_lossy returns a copy of s with each byte that is not valid UTF-8
 * replaced by U+FFFD (NULL for NULL): text from outside made fit for a
 * record. */
char *utf8_lossy(const char *s);

/* uuid4 writes a random (version 4) uuid "xxxxxxxx-xxxx-4xxx-yxxx-..."
 * into out (37 bytes with the NUL) and returns out. */
char *uuid4(char out[37]);

/* iso8601 formats unix ms as "2026-11-25T15:04:05.123Z" into buf (>= 25
 * bytes) and returns buf. */
char *iso8601(int64_t ms, char *buf, size_t len);

/* write_file_atomic writes len bytes to path via path.tmp + fsync +
 * rename, so readers see the old or the new file, never half of one.
 * Returns 0, ERR_NOSPACE (ENOSPC, EDQUOT: errno kept) or ERR_IO. */
int write_file_atomic(const char *path, const void *data, size_t len);

/* fs_free returns the bytes this process may still write on the
 * filesystem of path (root may use the reserved blocks), or -1 when
 * path cannot be examined.  Under FS_SPACE_MIN a filesystem counts as
 * full: writing is not tried again before there is that much room. */
#define FS_SPACE_MIN (1024 * 1024)
int64_t fs_free(const char *path);

/* path_clean normalises an absolute path lexically in place: repeated
 * slashes, "." and "dir/.." components go (like Go's path.Clean). */
char *path_clean(char *path);
/* path_checkout returns the absolute local checkout of a repo (new
 * string, cleaned): local_path, else a clone_url that is a local path or
 * file:// URL, either relative to dir; NULL when neither is local (a
 * remote URL, scp-like git@host:path, or nothing). */
char *path_checkout(
    const char *local_path, const char *clone_url, const char *dir);

/* exe_sibling returns the path of program name in this executable's own
 * directory when it is executable there (the binaries are installed
 * side by side), else a copy of name for a $PATH lookup.  Caller frees. */
char *exe_sibling(const char *name);

/* id_valid: id is safe as a file or folder name (run_id, task_id,
 * decision_id in paths): 1-128 of [A-Za-z0-9._-], not starting with '.'
 * (so never "..", "../x" or ".hidden"). */
bool id_valid(const char *id);

/* pid_args reports whether the live process pid has, among its
 * arguments, the two consecutive arguments a and b (e.g. "-n" "router"):
 * how a pid from a file is checked before it is signalled. */
bool pid_args(pid_t pid, const char *a, const char *b);

/* spawn_path returns what posix_spawn would run for file: itself when it
 * has a slash, else the first executable regular file of that name in the
 * PATH of envp (ours when envp is NULL), as execvp would; NULL (errno
 * ENOENT) when there is none.  Caller frees. */
char *spawn_path(const char *file, char *const envp[]);

/* child_spawn_fds starts argv[0] (looked up in the PATH of envp, as execvp
 * would) as a detached child: a new session and process group, default
 * signal mask and dispositions (the parent blocks its stop signals), stdin
 * from in (-1: /dev/null), stdout on out and stderr on err (-1:
 * inherited), no other fd, working directory cwd (NULL: ours), the environment
 * envp (NULL: ours).  posix_spawn: the parent's page tables are not copied,
 * which matters for a daemon with a large address space (ASan's shadow).
 * Returns the pid, or -1 with errno set (the program could not be run:
 * ENOENT when it is nowhere on the PATH, or the errno of the child's
 * chdir or exec). */
pid_t child_spawn_fds(char *const argv[], char *const envp[], const char *cwd,
    int in, int out, int err);
/* child_spawn is child_spawn_fds with stdout and stderr appended to
 * out_path (inherited when NULL or unopenable) and our cwd. */
pid_t child_spawn(
    const char *out_path, char *const argv[], char *const envp[]);

/* github_repo_of parses "owner/name" out of a GitHub clone URL
 * (https://github.com/o/r.git, git@github.com:o/r.git); NULL otherwise.
 * Caller frees. */
char *github_repo_of(const char *url);

/* rmtree removes path and everything below it (symlinks are removed, not
 * followed).  A missing path is not an error.  Returns 0 or ERR_IO. */
int rmtree(const char *path);

/* mkdirs creates path and its parents with mode; 0 or ERR_IO. */
int mkdirs(const char *path, int mode);

/* file_read reads a whole file ("-": standard input) of at most max bytes
 * into *out (NUL-terminated, caller frees) and its length into *len.
 * Returns 0, ERR_IO (errno says why) or ERR_TOOBIG (more than max). */
int file_read(char **out, size_t *len, const char *path, size_t max);

#endif
