/*
 * proc.c - run one argv (never a shell) and capture its output.
 *
 * The child calls setsid(), so it leads a new process group and every
 * descendant it does not detach on purpose shares that group: a timeout
 * signals the group (SIGTERM, then SIGKILL after the grace period), which
 * takes grandchildren down with it.  Output is read with poll() into
 * buffers capped at max_output bytes per stream; the excess is read and
 * discarded so the child never blocks on a full pipe.  child_spawn_fds
 * (posix_spawn) returns the errno of a failed chdir() or exec, which
 * tells "could not start" (ENOENT) apart from "exited 127".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "opc/err.h"
#include "opc/lease.h"
#include "opc/proc.h"

volatile sig_atomic_t proc_stop;
static int            lease_lost;

/* After the child exits, how long its inherited pipes may stay open. */
#define DRAIN_MS 2000
#define POLL_MS 50

static char   *lease_path, *children_path;
static int64_t lease_checked;

void
proc_set_lease(const char *path)
{
	free(lease_path);
	lease_path    = path != NULL ? xstrdup(path) : NULL;
	lease_checked = 0;
	lease_lost    = 0;
}

void
proc_set_children_file(const char *path)
{
	free(children_path);
	children_path = path != NULL ? xstrdup(path) : NULL;
}

/* note_child records (pid > 0) or forgets the running child. */
static void
note_child(pid_t pid)
{
	char buf[32];
	int  n;

	if (children_path == NULL)
		return;
	if (pid <= 0) {
		(void) unlink(children_path);
		return;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long) pid);
	if (write_file_atomic(children_path, buf, (size_t) n) != 0)
		fprintf(
		    stderr, "opc-exec-run: cannot write %s\n", children_path);
}

/* lease_read returns the stop deadline in the lease file: 0 (stop) when
 * it is gone (the run finished or was taken from us) or unreadable. */
static int64_t
lease_read(void)
{
	char   *text    = NULL;
	size_t  len     = 0;
	int64_t stop_at = 0;

	if (file_read(&text, &len, lease_path, 64) == 0)
		(void) lease_parse(text, len, &stop_at);
	free(text);
	return (stop_at);
}

int
proc_lease_verify(void)
{
	int64_t stop_at, now = mono_ms();

	if (lease_path == NULL || proc_stop)
		return (proc_stop ? 1 : 0);
	lease_checked = now;
	stop_at       = lease_read();
	if (!lease_lapsed(stop_at, now))
		return (0);
	if (stop_at > 0)
		fprintf(stderr,
		    "opc-exec-run: lease lost (not granted by the "
		    "router for half a lease; %lld ms past its end): "
		    "stopping\n",
		    (long long) (now - stop_at));
	else
		fprintf(stderr,
		    "opc-exec-run: lease lost (taken back, or "
		    "%s unreadable): stopping\n",
		    lease_path);
	lease_lost = 1;
	proc_stop  = 1;
	return (1);
}

int
proc_lease_check(void)
{
	if (lease_path == NULL || proc_stop)
		return (proc_stop ? 1 : 0);
	if (mono_ms() - lease_checked < 200)
		return (0);
	return (proc_lease_verify());
}

int
proc_lease_lost(void)
{
	return (lease_lost);
}

static void
on_stop(int sig)
{
	UNUSED(sig);
	proc_stop = 1;
}

void
proc_install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

const char *
proc_signame(int sig)
{
	static const struct {
		int         sig;
		const char *name;
	} names[] = {
		{ SIGHUP, "SIGHUP" },
		{ SIGINT, "SIGINT" },
		{ SIGQUIT, "SIGQUIT" },
		{ SIGILL, "SIGILL" },
		{ SIGTRAP, "SIGTRAP" },
		{ SIGABRT, "SIGABRT" },
		{ SIGBUS, "SIGBUS" },
		{ SIGFPE, "SIGFPE" },
		{ SIGKILL, "SIGKILL" },
		{ SIGUSR1, "SIGUSR1" },
		{ SIGSEGV, "SIGSEGV" },
		{ SIGUSR2, "SIGUSR2" },
		{ SIGPIPE, "SIGPIPE" },
		{ SIGALRM, "SIGALRM" },
		{ SIGTERM, "SIGTERM" },
		{ SIGXCPU, "SIGXCPU" },
		{ SIGXFSZ, "SIGXFSZ" },
		{ SIGSYS, "SIGSYS" },
	};
	size_t i;

	for (i = 0; i < nitems(names); i++)
		if (names[i].sig == sig)
			return (names[i].name);
	return ("SIGUNKNOWN");
}

char *
proc_describe(const struct proc_result *r)
{
	if (r->spawn_errno != 0)
		return (xasprintf(
		    "could not start: %s", strerror(r->spawn_errno)));
	if (r->interrupted)
		return (xstrdup("interrupted"));
	if (r->timed_out)
		return (xasprintf("timed out (%s)",
		    proc_signame(r->signo ? r->signo : r->kill_signal)));
	if (r->signo != 0)
		return (xasprintf("killed by %s", proc_signame(r->signo)));
	return (xasprintf("exited %d", r->exit_code));
}

void
proc_result_fini(struct proc_result *r)
{
	buf_fini(&r->out);
	buf_fini(&r->err);
}

static void
closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int
cloexec_pipe(int p[2])
{
	if (pipe(p) != 0)
		return (-1);
	fcntl(p[0], F_SETFD, FD_CLOEXEC);
	fcntl(p[1], F_SETFD, FD_CLOEXEC);
	return (0);
}

static void
signal_group(pid_t pid, int sig)
{
	/* The group may not exist yet if the child has not run setsid(). */
	if (kill(-pid, sig) != 0)
		(void) kill(pid, sig);
}

/* parent_of returns the parent pid in /proc/PID/stat, or -1. */
static pid_t
parent_of(const char *pid)
{
	char  path[64], line[512], *p;
	FILE *f;
	long  pp = -1;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	/* "PID (COMM) STATE PPID ...": COMM may hold ')' and spaces */
	if (fgets(line, sizeof(line), f) != NULL &&
	    (p = strrchr(line, ')')) != NULL &&
	    sscanf(p + 1, " %*c %ld", &pp) != 1)
		pp = -1;
	fclose(f);
	return ((pid_t) pp);
}

/* signal_tree sends sig to every descendant of root (not to root): one
 * pass over /proc for the parent of each process, then the tree from
 * root down.  A process forked during the pass may be missed; the
 * SIGKILL stage takes the group and the sandbox's pid 1 (whose death
 * ends its namespace) anyway. */
static void
signal_tree(pid_t root, int sig)
{
	DIR           *d = opendir("/proc");
	struct dirent *e;
	pid_t         *pid = NULL, *ppid = NULL, *todo;
	size_t         n = 0, cap = 0, head = 0, tail = 0, i;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		if (n == cap) {
			cap  = cap > 0 ? cap * 2 : 256;
			pid  = xrealloc(pid, cap * sizeof(*pid));
			ppid = xrealloc(ppid, cap * sizeof(*ppid));
		}
		pid[n]  = (pid_t) atol(e->d_name);
		ppid[n] = parent_of(e->d_name);
		n++;
	}
	closedir(d);
	/* breadth first; each process is queued once (one parent each) */
	todo         = xcalloc(n + 1, sizeof(*todo));
	todo[tail++] = root;
	while (head < tail) {
		for (i = 0; i < n; i++)
			if (ppid[i] == todo[head] && pid[i] != root &&
			    tail <= n) {
				todo[tail++] = pid[i];
				(void) kill(pid[i], sig);
			}
		head++;
	}
	free(todo);
	free(pid);
	free(ppid);
}

/* read_into reads what is available on *fd; closes it at EOF. */
static void
read_into(int *fd, struct buf *b, size_t cap, int *truncated)
{
	char    buf[65536];
	ssize_t n;
	size_t  room;

	n = read(*fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		closep(fd);
		return;
	}
	room = (size_t) n;
	if (cap > 0) {
		room = b->len >= cap ? 0 : cap - b->len;
		if (room > (size_t) n)
			room = (size_t) n;
		if (room < (size_t) n)
			*truncated = 1;
	}
	buf_append(b, buf, room);
}

int
proc_run(struct proc_result *r, const struct proc_opts *o)
{
	struct pollfd pfd[2];
	int           outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, in = -1;
	int           st = 0, e, reaped = 0, stage = 0, rv = 0, watched = 0;
	int64_t       start, now, deadline, next_kill = 0, exit_at = 0;
	pid_t         pid;
	nfds_t        np;

	memset(r, 0, sizeof(*r));
	buf_init(&r->out);
	buf_init(&r->err);
	r->exit_code = -1;
	start        = mono_ms();
	if (cloexec_pipe(outp) != 0 ||
	    (!o->merge && cloexec_pipe(errp) != 0)) {
		rv = ERR_IO;
		goto fail;
	}
	if (o->stdin_path != NULL &&
	    (in = open(o->stdin_path, O_RDONLY | O_CLOEXEC)) < 0) {
		r->spawn_errno = errno;
		goto done;
	}
	/* a new session, so a timeout can signal the whole group */
	if (o->spawn_hook != NULL)
		o->spawn_hook(o->spawn_arg, 1);
	pid = child_spawn_fds(o->argv, o->envp, o->cwd, in, outp[1],
	    o->merge ? outp[1] : errp[1]);
	e   = pid < 0 ? errno : 0;
	if (o->spawn_hook != NULL)
		o->spawn_hook(o->spawn_arg, 0);
	if (in >= 0)
		(void) close(in);
	closep(&outp[1]);
	closep(&errp[1]);
	if (e != 0) {
		r->spawn_errno = e;
		goto done;
	}
	note_child(pid);

	deadline = o->timeout_ms > 0 ? start + o->timeout_ms : INT64_MAX;
	for (;;) {
		if (!reaped && waitpid(pid, &st, WNOHANG) == pid) {
			reaped  = 1;
			exit_at = mono_ms();
			/* Stragglers of the run die with it. */
			(void) kill(-pid, SIGKILL);
		}
		now = mono_ms();
		if (reaped &&
		    ((outp[0] < 0 && errp[0] < 0) || now - exit_at > DRAIN_MS))
			break;
		(void) proc_lease_check();
		if (!reaped && stage == 0 &&
		    (now >= deadline || (proc_stop && !o->finish) ||
		        watched)) {
			if (proc_stop && !o->finish)
				r->interrupted = 1;
			else if (watched)
				r->stopped = 1;
			else
				r->timed_out = 1;
			if (o->tree)
				signal_tree(pid, SIGTERM);
			else
				signal_group(pid, SIGTERM);
			r->kill_signal = SIGTERM;
			next_kill      = now + o->grace_ms;
			stage          = 1;
		} else if (!reaped && stage == 1 && now >= next_kill) {
			if (o->tree)
				signal_tree(pid, SIGKILL);
			signal_group(pid, SIGKILL);
			r->kill_signal = SIGKILL;
			stage          = 2;
		}
		np = 0;
		if (outp[0] >= 0) {
			pfd[np].fd       = outp[0];
			pfd[np++].events = POLLIN;
		}
		if (errp[0] >= 0) {
			pfd[np].fd       = errp[0];
			pfd[np++].events = POLLIN;
		}
		if (np == 0) {
			/* Nothing to read: just wait for the child. */
			usleep(POLL_MS * 1000);
			continue;
		}
		if (poll(pfd, np, POLL_MS) <= 0)
			continue;
		for (nfds_t i = 0; i < np; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (pfd[i].fd == outp[0]) {
				read_into(&outp[0], &r->out, o->max_output,
				    &r->out_truncated);
				if (o->watch != NULL && !watched &&
				    o->watch(o->watch_arg, &r->out) != 0)
					watched = 1;
			} else
				read_into(&errp[0], &r->err, o->max_output,
				    &r->err_truncated);
		}
	}
	note_child(0);
done:
	if (WIFEXITED(st) && r->spawn_errno == 0)
		r->exit_code = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		r->signo = WTERMSIG(st);
fail:
	if (rv != 0)
		r->spawn_errno = errno;
	closep(&outp[0]);
	closep(&outp[1]);
	closep(&errp[0]);
	closep(&errp[1]);
	r->duration_ms = mono_ms() - start;
	buf_cstr(&r->out);
	buf_cstr(&r->err);
	return (rv);
}
