/*
 * cmd_up.c - `opc up` and `opc down`: start and stop opc-supervisor.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "opc.h"
#include "opc/err.h"
#include "opc/util.h"

/* sup_status asks the supervisor for its status; 0 and *data on success. */
static int
sup_status(struct topo *t, json_t **data, char *err, size_t errlen)
{
	return (opc_ctl(
	    t->supervisor.ctl, MSG_CTL_STATUS, NULL, data, err, errlen, 1000));
}

/* inst_answers: the instance named role answers its ctl status (it got
 * through its start, config included). */
static bool
inst_answers(struct topo *t, const char *role)
{
	json_t *d = NULL;
	char    err[128];
	size_t  i;
	int     rv;

	for (i = 0; i < t->ninst; i++)
		if (role != NULL && strcmp(t->inst[i].name, role) == 0)
			break;
	if (i == t->ninst)
		return (true); /* not ours to check */
	rv = opc_ctl(
	    t->inst[i].ctl, MSG_CTL_STATUS, NULL, &d, err, sizeof(err), 1000);
	json_decref(d);
	return (rv == 0);
}

/* up_state: 1 when every process of the supervisor's status is running
 * and answers its ctl status, -1 when one has failed or exited since it
 * started (*bad names it), 0 while they are still starting. */
static int
up_state(struct topo *t, json_t *st, size_t *nproc, const json_t **bad)
{
	json_t     *ps = json_object_get(st, "processes"), *p;
	const char *state;
	size_t      i;
	int         rv = 1;

	*nproc = json_array_size(ps);
	*bad   = NULL;
	json_array_foreach (ps, i, p) {
		state = opc_jstr(p, "state", "");
		if (strcmp(state, "failed") == 0 ||
		    json_integer_value(json_object_get(p, "restart_count")) >
		        0) {
			*bad = p;
			return (-1);
		}
		if (!json_is_true(json_object_get(p, "alive")) ||
		    !inst_answers(t, opc_jstr(p, "role", NULL)))
			rv = 0;
	}
	return (rv);
}

static void
print_tail(const char *path)
{
	char   buf[4096];
	FILE  *f = fopen(path, "r");
	long   sz;
	size_t n;

	if (f == NULL)
		return;
	if (fseek(f, 0, SEEK_END) == 0 && (sz = ftell(f)) > 2000)
		(void) fseek(f, sz - 2000, SEEK_SET);
	else
		rewind(f);
	n      = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	fprintf(stderr, "--- %s (tail) ---\n%s", path, buf);
}

int
cmd_up(struct opc *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "only", required_argument, NULL, 'o' },
		{ "wait", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	struct topo  *t;
	const char   *only = NULL;
	json_t       *st   = NULL;
	char          err[512], *bin, *out, *argv2[7];
	int64_t       deadline, wait_s = 30;
	size_t        n = 0;
	pid_t         pid;
	int           ch, status, i = 0, up;
	const json_t *bad;
	char         *logf;
	struct buf    errs;
	int           nerr;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'o')
			only = optarg;
		else if (ch == 'w')
			wait_s = strtol(optarg, NULL, 10);
		else
			return (2);
	}
	if ((t = opc_topo(o)) == NULL)
		return (1);
	if (sup_status(t, &st, err, sizeof(err)) == 0) {
		printf("opcenter is already up (supervisor pid %lld)\n",
		    (long long) json_integer_value(
		        json_object_get(st, "pid")));
		json_decref(st);
		return (0);
	}
	/* every instance's section, before anything starts: a daemon would
	 * refuse it at its start, and the others would run without it */
	buf_init(&errs);
	if ((nerr = opc_config_check(t, &errs)) > 0) {
		fputs(buf_cstr(&errs), stderr);
		fprintf(stderr,
		    "opc: %d config problem%s in %s: nothing "
		    "started\n",
		    nerr, nerr == 1 ? "" : "s", t->config_path);
		buf_fini(&errs);
		return (1);
	}
	buf_fini(&errs);
	(void) mkdirs(t->log_dir, 0700);
	(void) mkdirs(t->run_dir, 0700);
	bin        = exe_sibling("opc-supervisor");
	out        = xasprintf("%s/supervisor.out", t->log_dir);
	argv2[i++] = bin;
	argv2[i++] = "-c";
	argv2[i++] = t->config_path;
	if (only != NULL) {
		argv2[i++] = "--only";
		argv2[i++] = (char *) only;
	}
	argv2[i] = NULL;
	if ((pid = child_spawn(out, argv2, NULL)) < 0) {
		fprintf(
		    stderr, "opc: cannot run %s: %s\n", bin, strerror(errno));
		free(bin);
		free(out);
		return (1);
	}
	deadline = mono_ms() + wait_s * 1000;
	for (;;) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			fprintf(stderr,
			    "opc: opc-supervisor exited at start "
			    "(%s %d)\n",
			    WIFEXITED(status) ? "exit" : "signal",
			    WIFEXITED(status) ? WEXITSTATUS(status)
			                      : WTERMSIG(status));
			print_tail(out);
			free(bin);
			free(out);
			return (1);
		}
		json_decref(st);
		st = NULL;
		if (sup_status(t, &st, err, sizeof(err)) == 0 &&
		    (up = up_state(t, st, &n, &bad)) != 0) {
			if (up > 0)
				break;
			/* an instance that exits at start (its config, a
			 * busy socket) is not up, whatever restarts later */
			fprintf(stderr,
			    "opc: instance %s did not start: %s "
			    "(%s, %lld restart(s)); see `opc status`\n",
			    opc_jstr(bad, "role", "?"),
			    opc_jstr(bad, "last_exit", "exited"),
			    opc_jstr(bad, "state", "?"),
			    (long long) json_integer_value(
			        json_object_get(bad, "restart_count")));
			logf = xasprintf("%s/%s.out", t->log_dir,
			    opc_jstr(bad, "role", "?"));
			print_tail(logf);
			free(logf);
			json_decref(st);
			free(bin);
			free(out);
			return (1);
		}
		if (mono_ms() >= deadline) {
			fprintf(stderr,
			    "opc: not every instance is running "
			    "after %llds; see `opc status` and %s\n",
			    (long long) wait_s, t->log_dir);
			json_decref(st);
			free(bin);
			free(out);
			return (1);
		}
		(void) usleep(100000);
	}
	printf("opcenter is up: supervisor pid %d, %zu instances "
	       "(logs in %s)\n",
	    (int) pid, n, t->log_dir);
	json_decref(st);
	free(bin);
	free(out);
	return (0);
}

int
cmd_down(struct opc *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "wait", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	struct topo *t;
	json_t      *st = NULL;
	char         err[512];
	int64_t      wait_s = 40, deadline;
	pid_t        pid;
	int          ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'w')
			wait_s = strtol(optarg, NULL, 10);
		else
			return (2);
	}
	if ((t = opc_topo(o)) == NULL)
		return (1);
	if (sup_status(t, &st, err, sizeof(err)) != 0) {
		printf("opcenter is not running (%s)\n", err);
		return (0);
	}
	pid = (pid_t) json_integer_value(json_object_get(st, "pid"));
	json_decref(st);
	if (opc_ctl(t->supervisor.ctl, MSG_CTL_SHUTDOWN, NULL, NULL, err,
	        sizeof(err), OPC_CTL_TIMEOUT) != 0) {
		fprintf(stderr, "opc: shutdown request failed: %s\n", err);
		return (1);
	}
	deadline = mono_ms() + wait_s * 1000;
	while (pid > 0 && kill(pid, 0) == 0) {
		if (mono_ms() >= deadline) {
			fprintf(stderr,
			    "opc: supervisor pid %d still running "
			    "after %llds\n",
			    (int) pid, (long long) wait_s);
			return (1);
		}
		(void) usleep(50000);
	}
	printf("opcenter is down\n");
	return (0);
}
