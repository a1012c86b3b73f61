/*
 * sandbox.c - the bwrap argv of a backend run, and the start-up probe.
 *
 * The order of the mounts is the policy: bwrap applies them in argv
 * order, each over the ones before.  The whole root goes in read-only,
 * then a fresh /dev, /proc (of the run's own pid namespace) and /tmp,
 * then an empty tmpfs over every hidden directory (the state directory
 * with its databases, mirrors and every workspace; the operator's home),
 * then what the backend is allowed to see again (its program, its
 * configured read-only and read-write paths), and last the run's own
 * workspace read-write.  bwrap makes the mount points it needs inside
 * the tmpfs layers, so a workspace under a hidden directory (or /tmp)
 * still appears at its own path.  Resource limits are set by prlimit(1)
 * on bwrap itself and inherited by everything inside; a limit cannot be
 * raised again from inside (soft and hard are both set; the CPU time's
 * hard limit is one second above its soft one, see sandbox_argv).
 *
 * bwrap passes no signal on (bubblewrap.c at 0.8.0 and at its 2026
 * head: the monitor outside handles only SIGCHLD, so SIGTERM kills it,
 * and with it, by --die-with-parent, the sandbox's pid 1; that pid 1,
 * do_init, installs no handler, so the kernel drops a SIGTERM sent to
 * it from outside its namespace; and --new-session puts pid 1 and the
 * command in a session of their own, out of reach of a signal to
 * bwrap's process group).  Upstream knows (containers/bubblewrap issue
 * #369, forwarding PRs #402 closed and #586 open; #553: the child-pid
 * bwrap reports is pid 1's, not the command's).  So a stop signals the
 * processes inside directly (proc.h, proc_opts.tree): SIGTERM to every
 * descendant of bwrap, SIGKILL to all of them after the grace; the
 * death of pid 1 ends the whole pid namespace.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "opc/err.h"
#include "opc/proc.h"
#include "opc/util.h"
#include "sandbox.h"

#define PROBE_MS 10000

int
sandbox_net_default(const char *kind)
{
	return (kind != NULL && strcmp(kind, "stub") != 0 &&
	    strcmp(kind, "command") != 0);
}

static void
push_limit(struct strv *out, const char *opt, int64_t v, int64_t unit)
{
	strv_push_owned(
	    out, xasprintf("--%s=%lld", opt, (long long) v * unit));
}

static int
is_dir(const char *p)
{
	struct stat st;

	return (stat(p, &st) == 0 && S_ISDIR(st.st_mode));
}

static void
push3(struct strv *out, const char *opt, const char *a, const char *b)
{
	strv_push(out, opt);
	strv_push(out, a);
	if (b != NULL)
		strv_push(out, b);
}

void
sandbox_argv(struct strv *out, const struct sandbox *sb, const char *ws,
    char *const *argv)
{
	size_t i;

	if (sb->cpu_seconds > 0 || sb->file_size_mb > 0 || sb->max_procs > 0 ||
	    sb->memory_mb > 0) {
		strv_push(out, "prlimit");
		/* no core files: a core of a backend killed by a limit
		 * would land in its workspace (core_pattern "core") and
		 * hold its environment, API keys included */
		strv_push(out, "--core=0");
		/* CPU: SIGXCPU at the limit, which the run's
		 * classification recognises (a process dead of it), and
		 * SIGKILL a second later for one that catches it */
		if (sb->cpu_seconds > 0)
			strv_push_owned(out,
			    xasprintf("--cpu=%lld:%lld",
			        (long long) sb->cpu_seconds,
			        (long long) sb->cpu_seconds + 1));
		if (sb->file_size_mb > 0)
			push_limit(out, "fsize", sb->file_size_mb, 1 << 20);
		if (sb->max_procs > 0)
			push_limit(out, "nproc", sb->max_procs, 1);
		if (sb->memory_mb > 0)
			push_limit(out, "as", sb->memory_mb, 1 << 20);
		strv_push(out, "--");
	}
	strv_push(out, sb->bwrap != NULL ? sb->bwrap : "bwrap");
	strv_push(out, "--die-with-parent");
	strv_push(out, "--new-session");
	strv_push(out, "--unshare-pid");
	if (!sb->net)
		strv_push(out, "--unshare-net");
	if (sb->drop_caps)
		push3(out, "--cap-drop", "ALL", NULL);
	push3(out, "--ro-bind", "/", "/");
	push3(out, "--dev", "/dev", NULL);
	push3(out, "--proc", "/proc", NULL);
	push3(out, "--tmpfs", "/tmp", NULL);
	for (i = 0; sb->hide != NULL && sb->hide[i] != NULL; i++)
		if (strcmp(sb->hide[i], "/") != 0 && is_dir(sb->hide[i]))
			push3(out, "--tmpfs", sb->hide[i], NULL);
	for (i = 0; sb->ro != NULL && sb->ro[i] != NULL; i++)
		push3(out, "--ro-bind-try", sb->ro[i], sb->ro[i]);
	if (argv[0] != NULL && argv[0][0] == '/')
		push3(out, "--ro-bind-try", argv[0], argv[0]);
	for (i = 0; sb->rw != NULL && sb->rw[i] != NULL; i++)
		push3(out, "--bind-try", sb->rw[i], sb->rw[i]);
	push3(out, "--bind", ws, ws);
	push3(out, "--chdir", ws, NULL);
	strv_push(out, "--");
	for (i = 0; argv[i] != NULL; i++)
		strv_push(out, argv[i]);
}

int
sandbox_probe(const char *bwrap, char **why)
{
	struct proc_result r;
	struct proc_opts   o;
	char *argv[] = { (char *) (bwrap != NULL ? bwrap : "bwrap"),
		"--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
		"--unshare-pid", "--unshare-net", "--die-with-parent",
		"--new-session", "true", NULL };
	char *how, *msg;
	int   rv = 0;

	*why = NULL;
	memset(&o, 0, sizeof(o));
	o.argv       = argv;
	o.timeout_ms = PROBE_MS;
	o.grace_ms   = 1000;
	o.max_output = 4096;
	o.merge      = 1;
	if (proc_run(&r, &o) != 0 || r.spawn_errno != 0 || r.exit_code != 0) {
		how = proc_describe(&r);
		msg = xstrndup(r.out.data != NULL ? r.out.data : "",
		    strcspn(r.out.data != NULL ? r.out.data : "", "\n"));
		*why = xasprintf("%s %s%s%s", argv[0], how,
		    msg[0] != '\0' ? ": " : "", msg);
		free(msg);
		free(how);
		rv = ERR_IO;
	}
	proc_result_fini(&r);
	return (rv);
}

char *
sandbox_mode(const struct sandbox *sb, const char *why)
{
	if (!sb->on)
		return (xstrdup("off (unconfined: sandbox: off)"));
	if (why != NULL)
		return (xasprintf("unavailable, runs refused: %s", why));
	return (xasprintf("bwrap, network %s", sb->net ? "host" : "none"));
}
