/*
 * proc.h - run one argv (never a shell) in its own process group and
 * capture its output (common/proc.c).  The executor's worker
 * (opc-exec-run) and the observer's (opc-observe-run) run every child
 * through it: timeouts take the whole group down, output is capped, and a
 * run's lease (opc/lease.h) and SIGTERM stop the child as a timeout does.
 */
#ifndef OPC_PROC_H
#define OPC_PROC_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "opc/util.h" /* struct buf */

/* Set from the SIGTERM/SIGINT handler; a running proc_run() then stops its
 * child as on a timeout and reports interrupted. */
extern volatile sig_atomic_t proc_stop;

/* proc_set_lease arms fencing: path is the run's lease file, which the
 * executor rewrites with a stop deadline (opc/lease.h) each time the
 * router grants the run.  Once the deadline passes (the executor is dead,
 * frozen or cut off from the router, which takes the run back after the
 * full lease), or the file is gone or says 0 (the router took the run
 * back), proc_lease_check() raises proc_stop and the run ends as
 * interrupted before anyone else can start it.  NULL: no fencing. */
void proc_set_lease(const char *path);
/* proc_lease_check returns 1 (and raises proc_stop) when the lease is
 * lost, else 0; it reads the file at most every 200 ms. */
int proc_lease_check(void);
/* proc_lease_verify is proc_lease_check reading the file now: before a
 * step that cannot be taken back (a push, a pull request). */
int proc_lease_verify(void);
/* proc_lease_lost: a lost lease raised proc_stop (not a signal). */
int proc_lease_lost(void);

/* proc_set_children_file makes proc_run keep the pid of its running child
 * (the leader of that child's process group) in path while it runs. */
void proc_set_children_file(const char *path);

/* proc_install_signals makes SIGTERM/SIGINT set proc_stop and ignores
 * SIGPIPE (children get the defaults back). */
void proc_install_signals(void);

struct proc_opts {
	char *const *argv;
	const char  *cwd;        /* NULL: inherit */
	char *const *envp;       /* NULL: inherit */
	const char  *stdin_path; /* NULL: /dev/null */
	int64_t      timeout_ms; /* 0: none */
	int64_t      grace_ms;   /* SIGTERM -> SIGKILL delay */
	size_t       max_output; /* per stream; 0: unlimited */
	int          merge;      /* stderr goes to the stdout buffer */
	/* watch, when set, sees stdout after each read (all of it so far);
	 * a non-zero return stops the child as on a timeout (stopped). */
	int (*watch)(void *arg, const struct buf *out);
	void *watch_arg; /* borrowed */
	/* spawn_hook, when set, is called with before 1 just ahead of the
	 * spawn and with 0 right after it (the executor's worker moves
	 * itself into the run's cgroups and out again around it, so the
	 * child starts inside them). */
	void (*spawn_hook)(void *arg, int before);
	void *spawn_arg; /* borrowed */
	/* tree: the child is a wrapper that neither passes a signal on nor
	 * outlives one (bwrap: its processes inside run in a session and a
	 * pid namespace of their own, which the group signal misses, and
	 * bwrap dies at once of SIGTERM, taking the sandbox with it).  The
	 * stop's SIGTERM then goes to every descendant of the child (found
	 * in /proc) and not to the child; the SIGKILL after grace_ms to the
	 * child's group and every descendant. */
	int tree;
	/* finish: the child runs to its end (or timeout_ms) whatever
	 * proc_stop says: a git push in flight, which a stop could cut
	 * after the remote took it, so that the run would report a branch
	 * not pushed that was. */
	int finish;
};

struct proc_result {
	int        exit_code;   /* -1 unless the child exited */
	int        signo;       /* terminating signal, 0 if none */
	int        timed_out;   /* we hit timeout_ms */
	int        interrupted; /* proc_stop was raised */
	int        stopped;     /* the watch asked us to stop it */
	int        kill_signal; /* last signal we sent the group, 0 if none */
	int        spawn_errno; /* chdir/exec failed in the child: errno */
	struct buf out, err;
	int        out_truncated, err_truncated;
	int64_t    duration_ms;
};

/* proc_run runs o->argv with stdin from /dev/null, stdout and stderr
 * captured into r (release with proc_result_fini(), also on error).  The
 * child calls setsid(); on timeout the whole group gets SIGTERM, then
 * SIGKILL after grace_ms (o->tree: its descendants, see above).  Once the
 * child exits, stragglers in its group are killed.  Returns 0 (whatever the
 * child did, or when it could not be started: spawn_errno) or ERR_IO when its
 * pipes could not be made. */
int  proc_run(struct proc_result *r, const struct proc_opts *o);
void proc_result_fini(struct proc_result *r);
/* proc_signame returns "SIGTERM" etc. (static storage). */
const char *proc_signame(int sig);
/* proc_describe returns a new one-line summary: "exited 3", "killed by
 * SIGKILL", "timed out", "could not start: ...". */
char *proc_describe(const struct proc_result *r);

#endif
