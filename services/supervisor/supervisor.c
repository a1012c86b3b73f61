/*
 * supervisor.c - the process manager (see supervisor.h).
 *
 * Everything runs on the service loop: a 100 ms tick reaps children
 * (waitpid WNOHANG), starts the ones whose backoff expired, checks
 * heartbeat ages and, once a second, writes the status file and publishes
 * supervisor.status.  Heartbeats arrive on one SUB socket per child,
 * subscribed to "heartbeat" only: the supervisor consumes no journal.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "opc/bus.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/loop.h"
#include "opc/topo.h"
#include "opc/util.h"
#include "supervisor.h"

#define TICK_MS 100
#define WINDOW_MAX 64

enum child_state {
	CH_STARTING,
	CH_RUNNING,
	CH_BACKOFF,
	CH_FAILED,
	CH_STOPPED
};
static const char *const state_names[] = { "starting", "running", "backoff",
	"failed", "stopped" };

struct child {
	struct sup             *sup;
	const struct topo_inst *inst;
	pid_t                   pid;
	enum child_state        state;
	int64_t                 restart_count;
	int64_t                 last_restart_at; /* unix ms, 0 = never */
	int64_t                 started;         /* mono ms */
	int64_t                 next_start;      /* mono ms (backoff) */
	int64_t                 backoff_ms;
	int64_t                 exits[WINDOW_MAX]; /* mono ms, ring */
	size_t                  nexits;
	char                    last_exit[64];
	struct bus             *hb;
	int                     hb_fd;
	int64_t                 last_hb;        /* mono ms, 0 = none yet */
	bool                    stale;          /* reported for this episode */
	char                    disk_full[256]; /* its last heartbeat's */
};

struct sup {
	struct svc   *svc;
	struct child *ch;
	size_t        n;
	int64_t       backoff_min, backoff_max, backoff_reset;
	int64_t       loop_restarts, loop_window_ms;
	int64_t       stop_grace_ms, stale_after_ms, status_every_ms;
	int64_t       start_timeout_ms;
	int           stale_restart;
	int64_t       last_status;
	char         *status_path;
	char         *pid_path;
	int           pid_fd;
	uint64_t      tick;
};

static char *only; /* --only list */

void
supervisor_set_only(const char *list)
{
	free(only);
	only = list ? xstrdup(list) : NULL;
}

static void
only_opt(const char *v)
{
	supervisor_set_only(v);
}

/* in_list: whether name is one of the comma-separated list. */
static bool
in_list(const char *list, const char *name)
{
	size_t      n = strlen(name);
	const char *p = list, *e;

	while (*p != '\0') {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		if ((size_t) (e - p) == n && strncmp(p, name, n) == 0)
			return (true);
		p = *e ? e + 1 : e;
	}
	return (false);
}

static int
cfg_load_sup(struct sup *s, const struct topo *t, char *err, size_t errlen)
{
	const struct cfg_node *c = t->supervisor.node;
	const struct cfg_key  *k = supervisor_keys; /* defaults, bounds */

	s->stale_after_ms = t->stale_after_ms;
	if (cfg_tab_ms(k, c, "restart_backoff_min", &s->backoff_min, err,
	        errlen) != 0 ||
	    cfg_tab_ms(k, c, "restart_backoff_max", &s->backoff_max, err,
	        errlen) != 0 ||
	    cfg_tab_ms(k, c, "backoff_reset_after", &s->backoff_reset, err,
	        errlen) != 0 ||
	    cfg_tab_int(k, c, "crash_loop_restarts", &s->loop_restarts, err,
	        errlen) != 0 ||
	    cfg_tab_ms(k, c, "crash_loop_window", &s->loop_window_ms, err,
	        errlen) != 0 ||
	    cfg_tab_ms(k, c, "stop_grace", &s->stop_grace_ms, err, errlen) !=
	        0 ||
	    cfg_tab_ms(k, c, "stale_after", &s->stale_after_ms, err, errlen) !=
	        0 ||
	    cfg_tab_ms(k, c, "start_timeout", &s->start_timeout_ms, err,
	        errlen) != 0 ||
	    cfg_tab_ms(
	        k, c, "status_every", &s->status_every_ms, err, errlen) != 0 ||
	    cfg_tab_bool(
	        k, c, "stale_restart", &s->stale_restart, err, errlen) != 0)
		return (ERR_CONFIG);
	if (s->loop_restarts < 1 || s->loop_restarts >= WINDOW_MAX ||
	    s->backoff_min < 1 || s->backoff_max < s->backoff_min) {
		snprintf(err, errlen,
		    "supervisor: crash_loop_restarts must be "
		    "1..%d and restart_backoff_min <= restart_backoff_max",
		    WINDOW_MAX - 1);
		return (ERR_CONFIG);
	}
	return (0);
}

/* ------------------------------------------------------------- children */

static void child_exited(struct sup *, struct child *, int);

/* child_spawn_inst starts an instance's program; -1 with errno if it
 * could not be run. */
static pid_t
child_spawn_inst(struct sup *s, struct child *c)
{
	const struct topo *t = svc_topo(s->svc);
	char              *bin, *out, *name, *argv[6];
	pid_t              pid;

	name = xasprintf("opc-%s", c->inst->service);
	bin = c->inst->bin != NULL ? xstrdup(c->inst->bin) : exe_sibling(name);
	free(name);
	argv[0] = bin;
	argv[1] = "-c";
	argv[2] = t->config_path;
	argv[3] = "-n";
	argv[4] = c->inst->name;
	argv[5] = NULL;
	out     = xasprintf("%s/%s.out", t->log_dir, c->inst->name);
	pid     = child_spawn(out, argv, NULL);
	free(out);
	free(bin);
	return (pid);
}

static void
child_start(struct sup *s, struct child *c)
{
	struct msg_supervisor_service_restarted ev;
	pid_t                                   pid;

	if ((pid = child_spawn_inst(s, c)) < 0) {
		/* counted like a child whose exec failed: backoff, and a
		 * crash loop if it keeps failing */
		log_error("supervisor.spawn", "%s: cannot run: %s",
		    c->inst->name, strerror(errno));
		c->started = mono_ms();
		child_exited(s, c, W_EXITCODE(127, 0));
		return;
	}
	c->pid          = pid;
	c->state        = CH_RUNNING;
	c->started      = mono_ms();
	c->last_hb      = 0;
	c->stale        = false;
	c->disk_full[0] = '\0';
	if (c->last_restart_at != 0 || c->restart_count > 0) {
		c->restart_count++;
		memset(&ev, 0, sizeof(ev));
		ev.instance      = c->inst->name;
		ev.pid           = pid;
		ev.restart_count = c->restart_count;
		ev.exit_status   = c->last_exit;
		(void) svc_emit(
		    s->svc, MSG_SUPERVISOR_SERVICE_RESTARTED, NULL, &ev);
		log_warn("supervisor.restart",
		    "%s restarted as pid %d "
		    "(restart %lld, last exit: %s)",
		    c->inst->name, (int) pid, (long long) c->restart_count,
		    c->last_exit);
	} else
		log_info("supervisor.start", "%s started as pid %d",
		    c->inst->name, (int) pid);
	c->last_restart_at = now_ms();
}

static void
describe_exit(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "status %d", status);
}

/* child_exited decides between a restart after backoff and "failed". */
static void
child_exited(struct sup *s, struct child *c, int status)
{
	struct msg_supervisor_service_failed ev;
	int64_t                              now = mono_ms();
	pid_t                                pid = c->pid;
	size_t                               i, recent = 0;

	describe_exit(status, c->last_exit, sizeof(c->last_exit));
	c->pid                             = 0;
	c->exits[c->nexits++ % WINDOW_MAX] = now;
	for (i = 0; i < WINDOW_MAX && i < c->nexits; i++)
		if (now - c->exits[i] <= s->loop_window_ms)
			recent++;
	if ((int64_t) recent > s->loop_restarts) {
		c->state = CH_FAILED;
		memset(&ev, 0, sizeof(ev));
		ev.instance    = c->inst->name;
		ev.restarts    = (int64_t) recent;
		ev.window_s    = s->loop_window_ms / 1000;
		ev.exit_status = c->last_exit;
		(void) svc_emit(
		    s->svc, MSG_SUPERVISOR_SERVICE_FAILED, NULL, &ev);
		log_error("supervisor.failed",
		    "%s: %zu exits within %llds "
		    "(last: %s): crash loop, not restarting",
		    c->inst->name, recent,
		    (long long) (s->loop_window_ms / 1000), c->last_exit);
		return;
	}
	if (now - c->started >= s->backoff_reset || c->backoff_ms == 0)
		c->backoff_ms = s->backoff_min;
	else
		c->backoff_ms = c->backoff_ms * 2 > s->backoff_max
		    ? s->backoff_max
		    : c->backoff_ms * 2;
	c->state      = CH_BACKOFF;
	c->next_start = now + c->backoff_ms;
	log_warn("supervisor.exit",
	    "%s (pid %d) ended: %s; restart in %lld ms", c->inst->name,
	    (int) pid, c->last_exit, (long long) c->backoff_ms);
}

static struct child *
child_by_pid(struct sup *s, pid_t pid)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->ch[i].pid == pid)
			return (&s->ch[i]);
	return (NULL);
}

static void
reap(struct sup *s, bool restart)
{
	struct child *c;
	pid_t         pid;
	int           status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((c = child_by_pid(s, pid)) == NULL)
			continue;
		if (restart)
			child_exited(s, c, status);
		else {
			describe_exit(
			    status, c->last_exit, sizeof(c->last_exit));
			c->pid   = 0;
			c->state = CH_STOPPED;
		}
	}
}

/* ----------------------------------------------------------- heartbeats */

static void
hb_cb(struct loop *l, int fd, short ev, void *arg)
{
	struct child  *c = arg;
	struct bus_msg bm;
	struct msg     m;
	char           err[256];
	int            n;

	UNUSED(l);
	UNUSED(fd);
	UNUSED(ev);
	for (n = 0; n < 64 && bus_recv(c->hb, &bm, BUS_NONBLOCK) == 0; n++) {
		if (msg_decode(&m, bm.data, bm.len, err, sizeof(err)) != 0) {
			svc_count(c->sup->svc, "bad_heartbeats", 1);
			log_warn("supervisor.bad_heartbeat", "from %s: %s",
			    c->inst->name, err);
		} else if (m.topic == MSG_HEARTBEAT &&
		    strcmp(m.src, c->inst->name) == 0) {
			const struct msg_heartbeat_info *hi =
			    m.body.heartbeat.info;
			const char *df = hi != NULL ? hi->disk_full : NULL;

			snprintf(c->disk_full, sizeof(c->disk_full), "%s",
			    df != NULL ? df : "");
			c->last_hb = mono_ms();
			if (c->stale)
				log_info("supervisor.fresh",
				    "%s: heartbeats "
				    "again",
				    c->inst->name);
			c->stale = false;
		}
		msg_fini(&m);
		bus_msg_free(&bm);
	}
}

static int64_t
hb_age(const struct sup *s, const struct child *c, int64_t now)
{
	UNUSED(s);
	if (c->state != CH_RUNNING)
		return (-1);
	return (now - (c->last_hb ? c->last_hb : c->started));
}

static void
check_stale(struct sup *s, struct child *c, int64_t now)
{
	struct msg_supervisor_stale ev;
	int64_t                     age = hb_age(s, c, now);

	/* a daemon's first heartbeat follows its init (its db, recovery),
	 * which a loaded host can slow well past a few heartbeats: until
	 * then the start's own, longer bound (systemd's TimeoutStartSec
	 * beside its WatchdogSec) */
	if (age < 0 || c->stale || age <= s->stale_after_ms ||
	    (c->last_hb == 0 && age <= s->start_timeout_ms))
		return;
	c->stale = true;
	memset(&ev, 0, sizeof(ev));
	ev.instance = c->inst->name;
	ev.age_ms   = age;
	(void) svc_emit(s->svc, MSG_SUPERVISOR_STALE, NULL, &ev);
	log_warn("supervisor.stale", "%s: no heartbeat for %lld ms%s%s",
	    c->inst->name, (long long) age,
	    c->last_hb == 0 ? " since its start" : "",
	    s->stale_restart ? ": killing it for a restart" : "");
	if (s->stale_restart && c->pid > 0)
		(void) kill(-c->pid, SIGKILL);
}

/* --------------------------------------------------------------- status */

/* processes_fill lists every instance as a sup_process record. */
static void
processes_fill(struct sup *s, struct msg_sup_process_list *l)
{
	struct msg_sup_process *p;
	int64_t                 now = mono_ms();
	char                    ts[40];
	size_t                  i;

	for (i = 0; i < s->n; i++) {
		struct child *c = &s->ch[i];

		p                   = msg_sup_process_push(l);
		p->role             = xstrdup(c->inst->name);
		p->service          = xstrdup(c->inst->service);
		p->alive            = c->state == CH_RUNNING && c->pid > 0;
		p->pid              = (int64_t) c->pid;
		p->restart_count    = c->restart_count;
		p->last_restart_at  = c->last_restart_at
		     ? xstrdup(iso8601(c->last_restart_at, ts, sizeof(ts)))
		     : NULL;
		p->state            = xstrdup(state_names[c->state]);
		p->last_exit        = xstrdup(c->last_exit);
		p->heartbeat_age_ms = hb_age(s, c, now);
		p->stale            = c->stale;
		p->disk_full =
		    c->state == CH_RUNNING && c->disk_full[0] != '\0'
		    ? xstrdup(c->disk_full)
		    : NULL;
	}
}

/* processes_json: the instances in the JSON form of their records (the
 * status file, the ctl status reply) */
static json_t *
processes_json(struct sup *s)
{
	struct msg_supervisor_status st;
	json_t                      *o, *a;

	memset(&st, 0, sizeof(st));
	processes_fill(s, &st.processes);
	o = msg_body_to_json(MSG_SUPERVISOR_STATUS, &st);
	a = json_incref(json_object_get(o, "processes"));
	json_decref(o);
	msg_sup_process_list_fini(&st.processes);
	return (a != NULL ? a : json_array());
}

static void
write_status(struct sup *s)
{
	struct msg_supervisor_status st;
	json_t                      *o;
	char                         ts[40], *text;

	memset(&st, 0, sizeof(st));
	processes_fill(s, &st.processes);
	o = msg_body_to_json(MSG_SUPERVISOR_STATUS, &st);
	json_object_set_new(
	    o, "updated_at", json_string(iso8601(now_ms(), ts, sizeof(ts))));
	json_object_set_new(o, "pid", json_integer(getpid()));
	text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (text == NULL ||
	    write_file_atomic(s->status_path, text, strlen(text)) != 0)
		log_warn("supervisor.status_file", "cannot write %s",
		    s->status_path);
	free(text);
	(void) svc_emit(s->svc, MSG_SUPERVISOR_STATUS, NULL, &st);
	msg_sup_process_list_fini(&st.processes);
	json_decref(o);
}

static void
tick_cb(struct loop *l, void *arg)
{
	struct sup *s   = arg;
	int64_t     now = mono_ms();
	size_t      i;

	reap(s, true);
	for (i = 0; i < s->n; i++) {
		struct child *c = &s->ch[i];

		if ((c->state == CH_STARTING || c->state == CH_BACKOFF) &&
		    now >= c->next_start)
			child_start(s, c);
		check_stale(s, c, now);
	}
	if (now - s->last_status >= s->status_every_ms) {
		write_status(s);
		s->last_status = now;
	}
	s->tick = loop_timer(l, TICK_MS, tick_cb, s);
}

/* ------------------------------------------------------------- lifecycle */

static int
lock_pidfile(struct sup *s)
{
	char buf[32];
	int  n;

	s->pid_fd = open(s->pid_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->pid_fd < 0) {
		log_error("supervisor.pidfile", "%s: %s", s->pid_path,
		    strerror(errno));
		return (ERR_IO);
	}
	if (flock(s->pid_fd, LOCK_EX | LOCK_NB) != 0) {
		n = (int) read(s->pid_fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		log_error("supervisor.running",
		    "another supervisor is running "
		    "(pid %s, lock %s)",
		    buf[0] ? buf : "?", s->pid_path);
		(void) close(s->pid_fd);
		s->pid_fd = -1;
		return (ERR_EXISTS);
	}
	n = snprintf(buf, sizeof(buf), "%d\n", (int) getpid());
	if (ftruncate(s->pid_fd, 0) != 0 ||
	    pwrite(s->pid_fd, buf, (size_t) n, 0) != n)
		log_warn("supervisor.pidfile", "cannot write %s", s->pid_path);
	return (0);
}

/* reclaim stops the instances an earlier supervisor of this state dir
 * left running (it was killed -9: its children got SIGTERM from the
 * kernel, see svc.c, but may still be stopping, or predate that): each
 * pid of its last status file that is still an opc daemon of this config
 * and instance (its argv has "-c CONFIG" and "-n NAME") gets SIGTERM, and
 * SIGKILL after stop_grace, so the new children can bind their sockets. */
static void
reclaim(struct sup *s, const struct topo *t)
{
	json_t     *st = json_load_file(s->status_path, 0, NULL), *p;
	pid_t       pids[256];
	size_t      i, n = 0, k;
	int64_t     until;
	const char *role;
	json_int_t  pid;

	json_array_foreach (json_object_get(st, "processes"), i, p) {
		role = json_string_value(json_object_get(p, "role"));
		pid  = json_integer_value(json_object_get(p, "pid"));
		if (role == NULL || pid <= 1 || pid == getpid() ||
		    n == nitems(pids) || !pid_args((pid_t) pid, "-n", role) ||
		    !pid_args((pid_t) pid, "-c", t->config_path))
			continue;
		log_warn("supervisor.reclaim",
		    "%s (pid %lld) outlived its "
		    "supervisor: stopping it",
		    role, (long long) pid);
		(void) kill((pid_t) pid, SIGTERM);
		pids[n++] = (pid_t) pid;
	}
	json_decref(st);
	until = mono_ms() + s->stop_grace_ms;
	for (k = 0; k < n; k++) {
		while (kill(pids[k], 0) == 0 && mono_ms() < until)
			usleep(50 * 1000);
		if (kill(pids[k], 0) == 0) {
			log_warn("supervisor.reclaim",
			    "pid %d still running "
			    "after stop_grace: SIGKILL",
			    (int) pids[k]);
			(void) kill(pids[k], SIGKILL);
		}
	}
}

static void sup_fini(struct svc *, void *);

/* check_all checks the whole file before anything starts (its own
 * section svc_open checked): every instance's section against its
 * service's table, each problem logged by file:line:col.  The top
 * level's settings that differ from their defaults are logged
 * (config_drift_detected), as each daemon logs its own. */
static int
check_all(const struct topo *t)
{
	struct buf b, d;
	char      *line, *save = NULL;
	int        n, nd;

	buf_init(&b);
	if ((n = conf_check(t, &b)) > 0) {
		for (line = strtok_r(buf_cstr(&b), "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save))
			log_error("supervisor.config", "%s", line);
		log_error("supervisor.config",
		    "%d config problem%s: nothing "
		    "started",
		    n, n == 1 ? "" : "s");
	} else if ((nd = cfg_drift(
	                cfg_root(t->cfg), conf_global_keys, "", &b)) > 0) {
		buf_init(&d);
		for (line = strtok_r(buf_cstr(&b), "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save))
			buf_printf(&d, "%s%s", d.len ? "; " : "", line);
		log_info("config_drift_detected",
		    "%d setting%s differ%s from "
		    "the defaults: %s",
		    nd, nd == 1 ? "" : "s", nd == 1 ? "s" : "", buf_cstr(&d));
		buf_fini(&d);
	}
	buf_fini(&b);
	return (n > 0 ? ERR_CONFIG : 0);
}

static int
sup_init(struct svc *svc, void *state)
{
	struct sup        *s = state;
	const struct topo *t = svc_topo(svc);
	char               err[512];
	size_t             i;
	int                rv;

	s->svc    = svc;
	s->pid_fd = -1;
	if ((rv = cfg_load_sup(s, t, err, sizeof(err))) != 0) {
		log_error("supervisor.config", "%s", err);
		goto fail;
	}
	if ((rv = check_all(t)) != 0)
		goto fail;
	if (only != NULL) {
		const char *p = only, *e;

		for (; *p != '\0'; p = *e ? e + 1 : e) {
			char *name;

			e = strchr(p, ',');
			if (e == NULL)
				e = p + strlen(p);
			name = xstrndup(p, (size_t) (e - p));
			if (topo_find(t, name) == NULL ||
			    strcmp(name, "supervisor") == 0) {
				log_error("supervisor.only",
				    "--only: no "
				    "instance '%s' in %s",
				    name, t->config_path);
				free(name);
				rv = ERR_CONFIG;
				goto fail;
			}
			free(name);
		}
	}
	s->status_path = xasprintf("%s/supervisor.status.json", t->state_dir);
	s->pid_path    = xasprintf("%s/supervisor.pid", t->run_dir);
	(void) mkdirs(t->run_dir, 0700);
	(void) mkdirs(t->log_dir, 0700);
	if ((rv = lock_pidfile(s)) != 0)
		goto fail;
	reclaim(s, t);
	/* our children stop when we die, however we die (svc.c) */
	{
		char pid[32];

		snprintf(pid, sizeof(pid), "%d", (int) getpid());
		(void) setenv("OPC_SUPERVISOR_PID", pid, 1);
	}
	s->ch = xcalloc(t->ninst + 1, sizeof(*s->ch));
	for (i = 0; i < t->ninst; i++) {
		const struct topo_inst *in = &t->inst[i];
		struct child           *c;

		if (!in->enabled || (only != NULL && !in_list(only, in->name)))
			continue;
		c        = &s->ch[s->n++];
		c->sup   = s;
		c->inst  = in;
		c->state = CH_STARTING;
		c->hb_fd = -1;
		if (bus_open(&c->hb, BUS_SUB, in->pub) != 0 ||
		    bus_subscribe(c->hb, "heartbeat") != 0 ||
		    bus_fd(c->hb, &c->hb_fd) != 0 ||
		    loop_add_fd(svc_loop(svc), c->hb_fd, POLLIN, hb_cb, c) !=
		        0) {
			log_error("supervisor.sub",
			    "%s: cannot watch "
			    "heartbeats on %s",
			    in->name, in->pub);
			rv = ERR_IO;
			goto fail;
		}
	}
	if (s->n == 0)
		log_warn("supervisor.empty", "no instance to run");
	s->tick = loop_timer(svc_loop(svc), 0, tick_cb, s);
	return (0);
fail:
	sup_fini(svc, s);
	return (rv);
}

/* wait_stopped reaps children until none is left or ms pass; returns
 * how many are still alive. */
static size_t
wait_stopped(struct sup *s, int64_t ms)
{
	int64_t deadline = mono_ms() + ms;
	size_t  i, alive;

	for (;;) {
		reap(s, false);
		for (i = alive = 0; i < s->n; i++)
			alive += s->ch[i].pid > 0;
		if (alive == 0 || mono_ms() >= deadline)
			return (alive);
		(void) usleep(20000);
	}
}

/* sup_shutdown stops every child: SIGTERM to each process group, then
 * SIGKILL to what is left after stop_grace.  Bounded by stop_grace + 5 s. */
static void
sup_shutdown(struct svc *svc, void *state)
{
	struct sup *s = state;
	size_t      i;

	UNUSED(svc);
	reap(s, false);
	for (i = 0; i < s->n; i++)
		if (s->ch[i].pid > 0)
			(void) kill(-s->ch[i].pid, SIGTERM);
	if (wait_stopped(s, s->stop_grace_ms) > 0) {
		for (i = 0; i < s->n; i++)
			if (s->ch[i].pid > 0) {
				log_warn("supervisor.kill",
				    "%s (pid %d) did not "
				    "stop within %lld ms: SIGKILL",
				    s->ch[i].inst->name, (int) s->ch[i].pid,
				    (long long) s->stop_grace_ms);
				(void) kill(-s->ch[i].pid, SIGKILL);
			}
		(void) wait_stopped(s, 5000);
	}
	for (i = 0; i < s->n; i++)
		if (s->ch[i].state != CH_FAILED)
			s->ch[i].state = CH_STOPPED;
	write_status(s);
	log_info("supervisor.stopped", "%zu processes stopped", s->n);
}

static void
sup_fini(struct svc *svc, void *state)
{
	struct sup *s = state;
	size_t      i;

	for (i = 0; s->ch != NULL && i < s->n; i++) {
		if (s->ch[i].hb_fd >= 0)
			loop_del_fd(svc_loop(svc), s->ch[i].hb_fd);
		bus_close(&s->ch[i].hb);
	}
	if (s->pid_fd >= 0) {
		(void) unlink(s->pid_path);
		(void) close(s->pid_fd);
	}
	free(s->ch);
	free(s->status_path);
	free(s->pid_path);
	supervisor_set_only(NULL);
	memset(s, 0, sizeof(*s));
	s->pid_fd = -1;
}

static void
sup_status(struct svc *svc, void *state, json_t *obj)
{
	UNUSED(svc);
	json_object_set_new(obj, "processes", processes_json(state));
}

static int
ctl_shutdown(struct svc *svc, const struct msg *req, json_t **data, char *err,
    size_t errlen, void *state)
{
	UNUSED(req);
	UNUSED(err);
	UNUSED(errlen);
	UNUSED(state);
	log_info("supervisor.shutdown", "shutdown requested over ctl");
	*data = json_pack("{s:b}", "stopping", 1);
	loop_stop(svc_loop(svc));
	return (0);
}

static const struct svc_handler handlers[] = { { MSG_NONE, NULL } };
static const struct svc_ctl     ctls[]     = {
	        { MSG_CTL_SHUTDOWN, ctl_shutdown },
	        { MSG_NONE, NULL },
};
static const struct svc_opt opts[] = {
	{ "only", "A,B", "run only these instances (one host's share)",
	    only_opt },
	{ NULL, NULL, NULL, NULL },
};

const struct svc_def supervisor_def = {
	.name       = "supervisor",
	.state_size = sizeof(struct sup),
	.init       = sup_init,
	.fini       = sup_fini,
	.handlers   = handlers,
	.ctls       = ctls,
	.status     = sup_status,
	.shutdown   = sup_shutdown,
	.opts       = opts,
	.config     = supervisor_keys,
};
