/*
 * sandbox.h - bubblewrap around a backend run (sandbox.c).
 *
 * The worker (opc-exec-run) runs every backend but the built-in stub
 * inside bwrap unless its spec says `sandbox: off`; the executor daemon
 * probes once at start whether bwrap can run here at all.  Both use the
 * two functions below, so the argv a test checks is the one a run uses.
 */
#ifndef OPC_EXEC_SANDBOX_H
#define OPC_EXEC_SANDBOX_H

#include <stdint.h>

#include "opc/strv.h"

struct sandbox {
	int          on;          /* 0: the backend runs unconfined */
	int          net;         /* 1: the host's network; 0: none */
	int          drop_caps;   /* --cap-drop ALL (bwrap run as root) */
	const char  *bwrap;       /* the bwrap program (borrowed) */
	char *const *hide;        /* NULL-terminated, or NULL: directories an
	                             empty tmpfs covers (borrowed) */
	char *const *ro;          /* shown read-only over the hidden ones */
	char *const *rw;          /* shown read-write */
	int64_t      memory_mb;   /* RLIMIT_AS; 0: no limit (the others too) */
	int64_t      max_procs;   /* RLIMIT_NPROC */
	int64_t      cpu_seconds; /* RLIMIT_CPU */
	int64_t      file_size_mb; /* RLIMIT_FSIZE */
};

/* sandbox_argv appends to out the argv that runs argv (NULL-terminated)
 * confined by sb with ws as its only writable directory and cwd:
 * `prlimit --core=0 --cpu=N:N+1 --fsize= --nproc= --as= --` when a
 * limit is set
 * (CPU: SIGXCPU at N seconds, SIGKILL at N+1), then
 * `bwrap --die-with-parent --new-session --unshare-pid [--unshare-net]
 * [--cap-drop ALL] --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp`,
 * `--tmpfs H` for each existing directory of sb->hide (and none that is
 * "/"), `--ro-bind-try P P` for sb->ro and for an absolute argv[0],
 * `--bind-try P P` for sb->rw, `--bind ws ws --chdir ws --` and argv.
 * The environment is not in it: the caller hands it to the spawn as
 * envp (bwrap passes its own on), so no value, an API key least of all,
 * lands in an argv that /proc shows every local user. */
void sandbox_argv(struct strv *out, const struct sandbox *sb, const char *ws,
    char *const *argv);

/* sandbox_probe runs `bwrap --ro-bind / / --dev /dev --proc /proc
 * --unshare-pid --unshare-net --die-with-parent --new-session true` once
 * (10 s at most).  Returns 0 when it exited 0; otherwise ERR_IO and *why
 * is a new one-line reason (bwrap's own message: not installed, no user
 * namespaces, ...). */
int sandbox_probe(const char *bwrap, char **why);

/* sandbox_net_default returns 1 (the host's network) for the backend
 * kinds that call a model API (claude_cli, codex_cli, aider, kodo), 0
 * (none) for stub and command. */
int sandbox_net_default(const char *kind);

/* sandbox_mode returns a new one-line description of the mode in effect
 * for a backend: "off (unconfined)", "bwrap, network host|none", or
 * "unavailable: WHY" when sb->on and why (the probe's reason) is set. */
char *sandbox_mode(const struct sandbox *sb, const char *why);

#endif
