/*
 * cgroup.c - a cgroup of its own for a sandboxed backend run, where the
 * machine lets us make one.
 *
 * Two limits need the kernel's cgroups rather than rlimits: processes
 * (RLIMIT_NPROC does not bind uid 0, and a daemon run as root would let a
 * fork bomb through) and memory (RLIMIT_AS counts address space, which
 * a Node.js CLI reserves by the gigabyte without using it; a cgroup
 * counts what is used, and tells us when its OOM killer struck).  The
 * worker makes <its cgroup>/opc-run-<pid> under the pids and memory
 * controllers (cgroup v1 hierarchies, or v2 where that controller is
 * enabled for children), sets pids.max and memory.max (v1:
 * memory.limit_in_bytes), moves itself in just before the spawn and back
 * out right after, so only the backend and its descendants are counted.
 * Where a controller is missing or not writable (no root, no
 * delegation) that limit falls back to the rlimit and the run goes on.
 * A worker killed mid-run leaves its empty cgroup behind; the next
 * worker's cgroup_open removes those whose worker is gone.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run.h"

#define CG_ROOT "/sys/fs/cgroup"

/* own_path returns the path of our cgroup in the hierarchy of the v1
 * controller ctl, or (ctl NULL) in the v2 one, from /proc/self/cgroup. */
static char *
own_path(const char *ctl)
{
	char  line[512], *p, *q, *r = NULL;
	FILE *f = fopen("/proc/self/cgroup", "r");

	if (f == NULL)
		return (NULL);
	while (r == NULL && fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if ((p = strchr(line, ':')) == NULL ||
		    (q = strchr(p + 1, ':')) == NULL)
			continue;
		*q = '\0';
		if (ctl == NULL ? strcmp(line, "0") == 0 && p[1] == '\0'
		                : strcmp(p + 1, ctl) == 0)
			r = xstrdup(q + 1);
	}
	fclose(f);
	return (r);
}

static int
put(const char *dir, const char *file, const char *text)
{
	char *p = xasprintf("%s/%s", dir, file);
	FILE *f = fopen(p, "w");
	int   ok;

	free(p);
	if (f == NULL)
		return (-1);
	ok = fputs(text, f) >= 0;
	ok = fclose(f) == 0 && ok;
	return (ok ? 0 : -1);
}

static int
exists(const char *dir, const char *file)
{
	char       *p = xasprintf("%s/%s", dir, file);
	struct stat st;
	int         rv = stat(p, &st) == 0;

	free(p);
	return (rv);
}

/* sweep removes the cgroups of workers that died without removing theirs
 * (SIGKILL): opc-run-PID with no such process.  rmdir fails on one that
 * still holds processes, which is what we want. */
static void
sweep(const char *parent)
{
	DIR           *d = opendir(parent);
	struct dirent *e;
	char          *p, *end;
	long           pid;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "opc-run-", 8) != 0)
			continue;
		pid = strtol(e->d_name + 8, &end, 10);
		if (*end != '\0' || pid <= 0 ||
		    (kill((pid_t) pid, 0) != 0 && errno != ESRCH) ||
		    kill((pid_t) pid, 0) == 0)
			continue;
		p = xasprintf("%s/%s", parent, e->d_name);
		(void) rmdir(p);
		free(p);
	}
	closedir(d);
}

/* make creates the run's cgroup under the hierarchy at mnt (our own path
 * in it from /proc/self/cgroup) when it offers file; NULL otherwise. */
static char *
make(const char *mnt, const char *ctl, const char *file, char **parent)
{
	char *own = own_path(ctl), *dir;

	*parent = NULL;
	if (own == NULL)
		return (NULL);
	*parent = xasprintf("%s%s", mnt, strcmp(own, "/") == 0 ? "" : own);
	free(own);
	sweep(*parent);
	dir = xasprintf("%s/opc-run-%ld", *parent, (long) getpid());
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		goto fail;
	if (exists(dir, file))
		return (dir);
	(void) rmdir(dir);
fail:
	free(dir);
	free(*parent);
	*parent = NULL;
	return (NULL);
}

void
cgroup_open(struct exec_cgroup *cg, int64_t max_procs, int64_t memory_mb)
{
	struct stat st;
	char        n[32];
	int         v2 = stat(CG_ROOT "/cgroup.controllers", &st) == 0;

	memset(cg, 0, sizeof(*cg));
	if (max_procs > 0) {
		cg->pids = v2
		    ? make(CG_ROOT, NULL, "pids.max", &cg->pids_up)
		    : make(CG_ROOT "/pids", "pids", "pids.max", &cg->pids_up);
		snprintf(n, sizeof(n), "%lld", (long long) max_procs);
		if (cg->pids != NULL && put(cg->pids, "pids.max", n) != 0)
			cgroup_close(cg);
	}
	if (memory_mb > 0) {
		cg->mem_v2 = v2;
		cg->mem = v2 ? make(CG_ROOT, NULL, "memory.max", &cg->mem_up)
		             : make(CG_ROOT "/memory", "memory",
		                   "memory.limit_in_bytes", &cg->mem_up);
		snprintf(
		    n, sizeof(n), "%lld", (long long) memory_mb * 1024 * 1024);
		if (cg->mem != NULL &&
		    put(cg->mem, v2 ? "memory.max" : "memory.limit_in_bytes",
		        n) != 0) {
			(void) rmdir(cg->mem);
			free(cg->mem);
			free(cg->mem_up);
			cg->mem = cg->mem_up = NULL;
		}
		/* v2: no swap either, or the limit only slows it down */
		if (cg->mem != NULL && v2)
			(void) put(cg->mem, "memory.swap.max", "0");
	}
}

void
cgroup_enter(struct exec_cgroup *cg, int enter)
{
	if (cg->pids != NULL &&
	    put(enter ? cg->pids : cg->pids_up, "cgroup.procs", "0") != 0)
		fprintf(stderr, "opc-exec-run: cannot move to %s: %s\n",
		    enter ? cg->pids : cg->pids_up, strerror(errno));
	if (cg->mem != NULL &&
	    put(enter ? cg->mem : cg->mem_up, "cgroup.procs", "0") != 0)
		fprintf(stderr, "opc-exec-run: cannot move to %s: %s\n",
		    enter ? cg->mem : cg->mem_up, strerror(errno));
}

int
cgroup_oom_killed(const struct exec_cgroup *cg)
{
	char  line[128], *p;
	FILE *f;
	long  n = 0;

	if (cg->mem == NULL)
		return (0);
	p = xasprintf("%s/%s", cg->mem,
	    cg->mem_v2 ? "memory.events" : "memory.oom_control");
	f = fopen(p, "r");
	free(p);
	if (f == NULL)
		return (0);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "oom_kill %ld", &n) == 1)
			break;
	fclose(f);
	return (n > 0);
}

void
cgroup_close(struct exec_cgroup *cg)
{
	int i;

	/* the pid namespace is gone once bwrap exits; its last processes
	 * may take a moment to leave the cgroup */
	for (i = 0; cg->pids != NULL && i < 50; i++)
		if (rmdir(cg->pids) == 0 || errno == ENOENT)
			break;
		else
			usleep(20 * 1000);
	for (i = 0; cg->mem != NULL && i < 50; i++)
		if (rmdir(cg->mem) == 0 || errno == ENOENT)
			break;
		else
			usleep(20 * 1000);
	free(cg->pids);
	free(cg->pids_up);
	free(cg->mem);
	free(cg->mem_up);
	memset(cg, 0, sizeof(*cg));
}
