/*
 * mirror.c - the bare mirror of a repository that the runs' workspaces
 * borrow from: one per repo on each executor host, <dir>/<name>.git,
 * fetched at most once per fetch interval (and whenever it lacks a run's
 * base), gc'd at most once per gc interval.
 *
 * A workspace is `git clone --shared --no-checkout` of the mirror, then
 * checked out; its origin is set back to the real remote.  Why --shared
 * and not a worktree nor --reference: a --shared clone is an ordinary
 * repository whose objects/info/alternates names the mirror's object
 * directory, and the mirror knows nothing of it, so removing a workspace
 * (retention, the orphan sweep, an operator's rm -rf) leaves the mirror
 * exactly as it was.  A `git worktree` registers itself inside the
 * mirror (worktrees/<id>, stale after an rm -rf until `git worktree
 * prune`) and keeps its HEAD, index and refs under the mirror's
 * directory, so a backend could write into the mirror through it; and
 * `clone --reference <mirror> <url>` contacts the remote on every run
 * (a round trip with credentials) for what the mirror already has.
 *
 * The price of --shared (git-clone(1)): a workspace is only as good as
 * the mirror's objects, and `git gc` may delete objects no ref of the
 * mirror reaches any more (a branch deleted or force-pushed upstream,
 * dropped by `fetch --prune`) while a workspace's refs still name them.
 * So the mirror never prunes: gc.pruneExpire=never with cruft packs
 * keeps every object it ever had, and its gc only repacks.  It grows by
 * what upstream rewrites and never shrinks; removing a mirror while no
 * workspace exists reclaims that (README, Workspaces).
 *
 * Concurrency.  Every write to the mirror (creation, fetch, gc) happens
 * under an exclusive flock(2) of <name>.lock beside it, taken with a
 * bounded wait.  The kernel drops a flock when its holder dies, kill -9
 * included, so a dead run never wedges the next one.  What a dead holder
 * may leave behind is dealt with by the next one: the holder writes its
 * pid into the lock file and empties it on release, and one that finds
 * it not empty knows the last holder died mid-operation.  It then kills
 * the git processes that holder left working on the mirror (every git
 * command on the mirror runs as `git --git-dir=<mirror> ...`, leading
 * its own process group, and only under the lock: any such process alive
 * now is an orphan), and removes the lock and temporary files git left
 * (refs/.../X.lock, packed-refs.lock, objects/pack/tmp_*, a fetch's
 * .keep), which nobody else can be using while it holds the lock.
 * Reading needs no lock: clones read refs that git replaces atomically
 * and objects that are never deleted (readers re-scan the pack
 * directory when a repack replaced a pack, as git's always do).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "opc/err.h"
#include "opc/log.h"
#include "run.h"

#define LOCK_WAIT_MS (10 * 60 * 1000) /* as long as one git command */
#define NAME_MAX_KEY 64

struct mirror {
	char *dir;   /* <mirror_dir>/<name>.git */
	char *lock;  /* <mirror_dir>/<name>.lock */
	int   fd;    /* the lock file while held, else -1 */
	int   stale; /* the last holder died holding it */
};

/* safe: c may appear in a mirror's file name. */
static int
safe(char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-');
}

/* name_of returns the mirror's file name: "<repo key>.git" when the key
 * is a safe file name, else the key's characters outside [A-Za-z0-9._-]
 * replaced by '_' and a hash of the key (of the clone URL, without a
 * key) appended, so two keys never share a mirror. */
static char *
name_of(const struct exec_req *rq)
{
	const char *key = rq->repo_key != NULL && rq->repo_key[0] != '\0'
	    ? rq->repo_key
	    : NULL;
	const char *src = key != NULL ? key : rq->clone_url, *p;
	uint64_t    h   = 1469598103934665603ULL; /* FNV-1a */
	struct buf  b;
	size_t      n;

	if (key != NULL && id_valid(key) && strlen(key) <= NAME_MAX_KEY)
		return (xasprintf("%s.git", key));
	for (p = src; *p != '\0'; p++)
		h = (h ^ (unsigned char) *p) * 1099511628211ULL;
	buf_init(&b);
	buf_puts(&b, key != NULL ? "" : "url");
	for (n = 0; key != NULL && key[n] != '\0' && n < NAME_MAX_KEY; n++)
		buf_append(&b,
		    safe(key[n]) && !(n == 0 && key[n] == '.') ? &key[n] : "_",
		    1);
	buf_printf(&b, "-%016llx.git", (unsigned long long) h);
	return (buf_cstr(&b));
}

static int
is_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return (n >= m && strcmp(s + n - m, suf) == 0);
}

/* sweep removes, in dir (recursively when deep), the files git leaves
 * behind when killed: "*.lock", and with tmp "tmp_*" and a fetch's
 * "*.keep".  Returns how many it removed. */
static int
sweep(const char *dir, int deep, int tmp)
{
	struct dirent *de;
	struct stat    st;
	DIR           *d;
	char          *p, buf[32];
	int            n = 0, fd;
	ssize_t        len;

	if ((d = opendir(dir)) == NULL)
		return (0);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		if (lstat(p, &st) != 0) {
			free(p);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if (deep)
				n += sweep(p, deep, tmp);
			else if (tmp && strncmp(de->d_name, "tmp_", 4) == 0)
				n += rmtree(p) == 0;
		} else if (is_suffix(de->d_name, ".lock") ||
		    (tmp && strncmp(de->d_name, "tmp_", 4) == 0))
			n += unlink(p) == 0;
		else if (tmp && is_suffix(de->d_name, ".keep") &&
		    (fd = open(p, O_RDONLY | O_CLOEXEC)) >= 0) {
			/* index-pack's, during a fetch: "fetch-pack <pid>
			 * on <host>"; an operator's own .keep stays */
			len = read(fd, buf, sizeof(buf) - 1);
			(void) close(fd);
			if (len >= 10 && strncmp(buf, "fetch-pack", 10) == 0)
				n += unlink(p) == 0;
		}
		free(p);
	}
	closedir(d);
	return (n);
}

/* kill_orphans kills the process group of every git process working on
 * the mirror (argv "git" "--git-dir=<mirror>") and waits (bounded) for
 * them to be gone.  Called with the lock held: they are a dead holder's.
 * Returns how many it found. */
static int
kill_orphans(const struct mirror *m)
{
	struct dirent *de;
	DIR           *d;
	char          *arg = xasprintf("--git-dir=%s", m->dir), *end;
	pid_t          pids[64];
	int64_t        until;
	size_t         n = 0, i;
	long           pid;

	if ((d = opendir("/proc")) == NULL) {
		free(arg);
		return (0);
	}
	while ((de = readdir(d)) != NULL && n < nitems(pids)) {
		pid = strtol(de->d_name, &end, 10);
		if (*end != '\0' || pid <= 1 || pid == (long) getpid() ||
		    !pid_args((pid_t) pid, "git", arg))
			continue;
		pids[n++] = (pid_t) pid;
		if (kill(-(pid_t) pid, SIGKILL) != 0)
			(void) kill((pid_t) pid, SIGKILL);
	}
	closedir(d);
	until = mono_ms() + 5000;
	for (i = 0; i < n && mono_ms() < until;)
		if (pid_args(pids[i], "git", arg))
			sleep_ms(10);
		else
			i++;
	free(arg);
	return ((int) n);
}

/* clear_stale removes what a holder killed mid-operation left in the
 * mirror (see the top of this file). */
static void
clear_stale(const struct mirror *m)
{
	char *refs = xasprintf("%s/refs", m->dir);
	char *info = xasprintf("%s/objects/info", m->dir);
	char *pack = xasprintf("%s/objects/pack", m->dir);
	char *cg   = xasprintf("%s/objects/info/commit-graphs", m->dir);
	char *made = xasprintf("%s.new", m->dir);
	int   n, k;

	k = kill_orphans(m);
	n = sweep(m->dir, 0, 0) + sweep(refs, 1, 0) + sweep(info, 0, 0) +
	    sweep(cg, 0, 0) + sweep(pack, 0, 1);
	if (access(made, F_OK) == 0 && rmtree(made) == 0)
		n++;
	log_warn("run.mirror",
	    "mirror %s: its last user died holding the lock; killed %d "
	    "git process%s it left, removed %d stale git lock or temporary "
	    "file%s",
	    m->dir, k, k == 1 ? "" : "es", n, n == 1 ? "" : "s");
	free(refs);
	free(info);
	free(pack);
	free(cg);
	free(made);
}

/* lock takes the mirror's lock, waiting at most LOCK_WAIT_MS and no
 * longer than the run is wanted. */
static int
lock(struct exec_run *x, struct mirror *m)
{
	int64_t until = mono_ms() + LOCK_WAIT_MS, waited = mono_ms();
	char    buf[64];
	ssize_t n;
	int     rv;

	if ((m->fd = open(m->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		run_fail(x, "infra_tooling",
		    xasprintf("mirror: cannot open %s: %s", m->lock,
		        strerror(errno)));
		return (ERR_IO);
	}
	while ((rv = flock(m->fd, LOCK_EX | LOCK_NB)) != 0 &&
	    (errno == EWOULDBLOCK || errno == EINTR)) {
		if (proc_stop || proc_lease_check() || mono_ms() >= until)
			break;
		sleep_ms(20);
	}
	if (rv != 0) {
		if (!proc_stop)
			run_fail(x, "infra_tooling",
			    xasprintf("mirror: %s: %s", m->lock,
			        errno == EWOULDBLOCK
			            ? "still locked by another run after 10 "
			              "minutes"
			            : strerror(errno)));
		(void) close(m->fd);
		m->fd = -1;
		return (proc_stop ? ERR_STATE : ERR_IO);
	}
	if ((waited = mono_ms() - waited) >= 1000)
		log_info("run.mirror", "run %s: waited %lld ms for %s",
		    x->req->run_id, (long long) waited, m->lock);
	n        = pread(m->fd, buf, sizeof(buf), 0);
	m->stale = n > 0;
	n        = snprintf(buf, sizeof(buf), "%ld\n", (long) getpid());
	if (ftruncate(m->fd, 0) != 0 || pwrite(m->fd, buf, (size_t) n, 0) < 0)
		log_warn("run.mirror", "cannot write %s: %s", m->lock,
		    strerror(errno));
	return (0);
}

/* unlock empties the lock file (a clean release) and drops the lock. */
static void
unlock(struct mirror *m)
{
	if (m->fd < 0)
		return;
	(void) ftruncate(m->fd, 0);
	(void) close(m->fd);
	m->fd = -1;
}

/* git_m runs `git --git-dir=<mirror> <args>` (NULL-terminated) in the
 * run's workspace.  On failure *reason (new) says why. */
static int git_m(const struct exec_run *x, const char *gitdir, char **reason,
    ...) __attribute__((sentinel));

static int
git_m(const struct exec_run *x, const char *gitdir, char **reason, ...)
{
	struct proc_result r;
	struct strv        argv = { 0 };
	const char        *a;
	va_list            ap;
	int                rv;

	strv_push(&argv, "git");
	strv_push_owned(&argv, xasprintf("--git-dir=%s", gitdir));
	va_start(ap, reason);
	while ((a = va_arg(ap, const char *)) != NULL)
		strv_push(&argv, a);
	va_end(ap);
	rv = workspace_git_argv(&r, x->ws, NULL, &argv, NULL, reason);
	proc_result_fini(&r);
	strv_free(&argv);
	return (rv);
}

/* create makes the mirror: a bare repository that fetches the remote's
 * branches and tags, never prunes, never gc's in the background.  Built
 * as <name>.git.new and renamed into place, so a mirror that exists is
 * complete. */
static int
create(struct exec_run *x, const struct mirror *m)
{
	static const char *const conf[][2] = {
		{ "remote.origin.fetch", "+refs/heads/*:refs/heads/*" },
		{ "core.logAllRefUpdates", "false" },
		{ "gc.pruneExpire", "never" },
		{ "gc.cruftPacks", "true" },
		{ "gc.autoDetach", "false" },
		{ "maintenance.auto", "false" },
	};
	char  *made = xasprintf("%s.new", m->dir), *reason = NULL;
	size_t i;
	int    rv;

	(void) rmtree(made);
	if ((rv = git_m(
	         x, made, &reason, "init", "--quiet", "--bare", NULL)) != 0 ||
	    (rv = git_m(x, made, &reason, "config", "remote.origin.url",
	         x->req->clone_url, NULL)) != 0 ||
	    (rv = git_m(x, made, &reason, "config", "--add",
	         "remote.origin.fetch", "+refs/tags/*:refs/tags/*", NULL)) !=
	        0)
		goto fail;
	for (i = 0; i < nitems(conf); i++)
		if ((rv = git_m(x, made, &reason, "config", conf[i][0],
		         conf[i][1], NULL)) != 0)
			goto fail;
	if (rename(made, m->dir) != 0) {
		reason = xasprintf("mirror: cannot rename %s to %s: %s", made,
		    m->dir, strerror(errno));
		rv     = ERR_IO;
		goto fail;
	}
	log_info("run.mirror", "run %s: created the mirror %s of %s",
	    x->req->run_id, m->dir, x->req->clone_url);
	free(made);
	return (0);

fail:
	run_fail(x, "infra_tooling", reason);
	(void) rmtree(made);
	free(made);
	return (rv);
}

/* fetched_age returns how long ago (ms) the mirror was last fetched, or
 * -1 when it never was or the clock went back; *same_url says whether
 * that fetch was from url (the repo's clone_url may have changed).  The
 * stamp file, opc-fetched, holds "<unix ms>\n<url>\n". */
static int64_t
fetched_age(const struct mirror *m, const char *url, int *same_url)
{
	char   *p = xasprintf("%s/opc-fetched", m->dir), *s = NULL, *end;
	size_t  len, ul                                     = strlen(url);
	int64_t at = -1, now = now_ms();

	*same_url = 0;
	if (file_read(&s, &len, p, 64 + ul) == 0) {
		at        = strtoll(s, &end, 10);
		*same_url = *end == '\n' && strncmp(end + 1, url, ul) == 0 &&
		    strcmp(end + 1 + ul, "\n") == 0;
	}
	free(s);
	free(p);
	return (at > 0 && at <= now ? now - at : -1);
}

/* gc_age is fetched_age for the last gc (opc-gc: "<unix ms>\n"). */
static int64_t
gc_age(const struct mirror *m)
{
	char   *p = xasprintf("%s/opc-gc", m->dir), *s = NULL;
	size_t  len;
	int64_t at = -1, now = now_ms();

	if (file_read(&s, &len, p, 64) == 0)
		at = strtoll(s, NULL, 10);
	free(s);
	free(p);
	return (at > 0 && at <= now ? now - at : -1);
}

/* stamp writes "<now>\n" and text (NULL: none) into the mirror's file
 * name. */
static void
stamp(const struct mirror *m, const char *name, const char *text)
{
	char *p = xasprintf("%s/%s", m->dir, name);
	char *s = xasprintf("%lld\n%s%s", (long long) now_ms(),
	    text != NULL ? text : "", text != NULL ? "\n" : "");

	if (write_file_atomic(p, s, strlen(s)) != 0)
		log_warn("run.mirror", "cannot write %s", p);
	free(s);
	free(p);
}

/* has_base: the mirror holds the run's base (a branch, tag or commit). */
static int
has_base(const struct exec_run *x, const struct mirror *m)
{
	char *rev    = xasprintf("%s^{commit}", x->req->base_branch);
	char *reason = NULL;
	int   rv;

	rv = git_m(
	    x, m->dir, &reason, "rev-parse", "--quiet", "--verify", rev, NULL);
	free(reason);
	free(rev);
	return (rv == 0);
}

/* fetch brings the mirror up to date with the remote, with the token when
 * it may ask for one.  With set_url it first makes the request's clone
 * URL the mirror's origin (a repo whose clone_url changed keeps its
 * mirror). */
static int
fetch(struct exec_run *x, const struct mirror *m, int set_url)
{
	const struct exec_req *rq = x->req;
	struct proc_result     r;
	struct strv            argv = { 0 }, env = { 0 };
	char  **envp = workspace_net_env(x, &env), *reason = NULL, *shown;
	int64_t t0 = mono_ms();
	int     rv;

	if (set_url &&
	    (rv = git_m(x, m->dir, &reason, "config", "remote.origin.url",
	         rq->clone_url, NULL)) != 0) {
		run_fail(x, "infra_tooling", reason);
		strv_free(&env);
		return (rv);
	}
	strv_push(&argv, "git");
	strv_push_owned(&argv, xasprintf("--git-dir=%s", m->dir));
	if (envp != NULL)
		workspace_net_args(&argv);
	/* a transfer stalled below 1 KiB/s for a minute fails instead of
	 * holding the lock for the whole git timeout */
	strv_push(&argv, "-c");
	strv_push(&argv, "http.lowSpeedLimit=1024");
	strv_push(&argv, "-c");
	strv_push(&argv, "http.lowSpeedTime=60");
	strv_push(&argv, "-c");
	strv_push(&argv, "maintenance.auto=false");
	strv_push(&argv, "fetch");
	strv_push(&argv, "--quiet");
	strv_push(&argv, "--prune");
	strv_push(&argv, "--no-write-fetch-head");
	strv_push(&argv, "origin");
	shown = xasprintf("git fetch %s (mirror %s)", rq->clone_url, m->dir);
	if ((rv = workspace_git_argv(
	         &r, x->ws, envp, &argv, shown, &reason)) != 0) {
		workspace_scrub(reason, rq->github_token);
		run_fail(x, "infra_tooling", reason);
	} else {
		stamp(m, "opc-fetched", rq->clone_url);
		log_info("run.mirror", "run %s: fetched %s into %s in %lld ms",
		    rq->run_id, rq->clone_url, m->dir,
		    (long long) (mono_ms() - t0));
	}
	proc_result_fini(&r);
	strv_free(&argv);
	strv_free(&env);
	free(shown);
	return (rv);
}

/* gc runs `git gc --auto` on the mirror (it repacks when git thinks it is
 * time, never prunes).  A failure is logged, not fatal: the mirror is
 * still whole. */
static void
gc(struct exec_run *x, const struct mirror *m)
{
	char   *reason = NULL;
	int64_t t0     = mono_ms();

	if (git_m(x, m->dir, &reason, "-c", "gc.autoDetach=false", "-c",
	        "gc.pruneExpire=never", "-c", "gc.cruftPacks=true", "gc",
	        "--auto", "--quiet", NULL) != 0) {
		log_warn("run.mirror", "run %s: %s", x->req->run_id, reason);
		free(reason);
	} else
		log_info("run.mirror", "run %s: gc --auto of %s: %lld ms",
		    x->req->run_id, m->dir, (long long) (mono_ms() - t0));
	stamp(m, "opc-gc", NULL);
}

/* update: under the lock, make the mirror exist, fetch it when due (or
 * when it lacks the base, or its remote changed), gc it when due (the
 * first gc is one interval after the mirror was made). */
static int
update(struct exec_run *x, struct mirror *m, int *fetched)
{
	const struct exec_req *rq = x->req;
	char                  *head;
	int64_t                age;
	int                    rv = 0, same;

	if (m->stale)
		clear_stale(m);
	head = xasprintf("%s/HEAD", m->dir);
	if (access(head, F_OK) != 0 && (rv = create(x, m)) != 0) {
		free(head);
		return (rv);
	}
	free(head);
	age = fetched_age(m, rq->clone_url, &same);
	if (age < 0 || age >= rq->mirror_fetch_ms || !same ||
	    !has_base(x, m)) {
		if ((rv = fetch(x, m, !same)) != 0)
			return (rv);
		*fetched = 1;
	}
	if ((age = gc_age(m)) < 0)
		stamp(m, "opc-gc", NULL);
	else if (age >= rq->mirror_gc_ms)
		gc(x, m);
	return (0);
}

int
mirror_clone(struct exec_run *x, int *fetched)
{
	const struct exec_req *rq = x->req;
	struct proc_result     r;
	struct mirror          m;
	char                  *name, *reason = NULL;
	int                    rv;

	*fetched = 0;
	memset(&m, 0, sizeof(m));
	m.fd   = -1;
	name   = name_of(rq);
	m.dir  = xasprintf("%s/%s", rq->mirror_dir, name);
	m.lock = xasprintf(
	    "%s/%.*s.lock", rq->mirror_dir, (int) (strlen(name) - 4), name);
	free(name);
	/* the workspace exists (empty) before the fetch: git runs there, so
	 * the executor can tell a dead worker's fetch by its cwd */
	if (mkdirs(rq->mirror_dir, 0700) != 0 || mkdirs(x->ws, 0755) != 0) {
		run_fail(x, "infra_tooling",
		    xasprintf("mirror: cannot create %s or %s: %s",
		        rq->mirror_dir, x->ws, strerror(errno)));
		rv = ERR_IO;
		goto done;
	}
	if ((rv = lock(x, &m)) != 0)
		goto done;
	rv = update(x, &m, fetched);
	unlock(&m);
	if (rv != 0 || proc_stop)
		goto done;
	/* the clone reads the mirror without the lock (see the top) */
	rv = workspace_git(&r, NULL, &reason, "clone", "--quiet", "--shared",
	    "--no-checkout", "--template=", "--", m.dir, x->ws, NULL);
	proc_result_fini(&r);
	if (rv == 0) {
		rv = workspace_git(&r, x->ws, &reason, "remote", "set-url",
		    "origin", rq->clone_url, NULL);
		proc_result_fini(&r);
	}
	if (rv != 0)
		run_fail(x, "infra_tooling", reason);
done:
	unlock(&m);
	free(m.dir);
	free(m.lock);
	return (rv);
}
