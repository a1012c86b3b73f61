/*
 * testbed.c - in-process service harness (see testbed.h).
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "opc/bus.h"
#include "opc/err.h"
#include "opc/loop.h"
#include "opc/util.h"
#include "testbed.h"

struct tb_svc {
	struct svc           *svc;
	const struct svc_def *def;
	pthread_t             thr;
};

pid_t
tb_fixture(
    char *const argv[], const char *log, const char *portfile, int *port)
{
	int64_t deadline = mono_ms() + TB_WAIT_MS;
	char    buf[32];
	pid_t   pid;
	FILE   *fp;

	*port = 0;
	pid   = child_spawn(log, argv, NULL);
	assert_true(pid > 0);
	while (*port == 0 && mono_ms() < deadline) {
		if ((fp = fopen(portfile, "r")) != NULL) {
			if (fgets(buf, sizeof(buf), fp) != NULL)
				*port = atoi(buf);
			fclose(fp);
		}
		if (*port == 0)
			sleep_ms(10);
	}
	assert_true(*port > 0);
	return (pid);
}

void
tb_sh(const char *fmt, ...)
{
	va_list ap;
	char    cmd[4096];
	int     rc;

	va_start(ap, fmt);
	assert_true(vsnprintf(cmd, sizeof(cmd), fmt, ap) < (int) sizeof(cmd));
	va_end(ap);
	if ((rc = system(cmd)) != 0)
		fail_msg("'%s' failed (%d)", cmd, rc);
}

char *
tb_dir(void)
{
	char tmpl[] = "/tmp/opct.XXXXXX";

	assert_non_null(mkdtemp(tmpl));
	return (xstrdup(tmpl));
}

void
tb_rmrf(const char *dir)
{
	(void) rmtree(dir);
}

int
tb_unix_sock(const char *url, struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_true(strncmp(url, "ipc://", 6) == 0);
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	assert_true(strlen(url + 6) < sizeof(sa->sun_path));
	strcpy(sa->sun_path, url + 6);
	return (fd);
}

void
tb_hang_up(const char *url)
{
	struct sockaddr_un sa;
	int                fd = tb_unix_sock(url, &sa);

	assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	(void) close(fd);
}

struct topo *
tb_topo(const char *dir, const char *yaml)
{
	struct topo *t = NULL;
	char        *path, err[1024];
	FILE        *f;

	path = xasprintf("%s/opcenter.yaml", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs(yaml, f);
	fclose(f);
	if (topo_load(&t, path, err, sizeof(err)) != 0)
		fail_msg("topo_load: %s", err);
	free(path);
	return (t);
}

static void *
run(void *arg)
{
	struct tb_svc *t = arg;

	(void) svc_run(t->svc);
	return (NULL);
}

struct tb_svc *
tb_start(const struct svc_def *def, struct topo *topo, const char *name)
{
	struct tb_svc *t = xcalloc(1, sizeof(*t));
	int            rv;

	t->def = def;
	rv     = svc_open(&t->svc, def, topo, name, NULL);
	if (rv != 0)
		fail_msg("svc_open %s: %s", name, err_str(rv));
	assert_int_equal(pthread_create(&t->thr, NULL, run, t), 0);
	return (t);
}

struct tb_svc *
tb_start_caught_up(const struct svc_def *def, struct topo *t, const char *name)
{
	struct tb_svc *s = tb_start(def, t, name);

	assert_int_equal(tb_wait_int(t, name, "caught_up", 1, TB_WAIT_MS), 1);
	return (s);
}

void
tb_stop(struct tb_svc **tp)
{
	struct tb_svc *t = *tp;

	if (t == NULL)
		return;
	svc_stop(t->svc);
	pthread_join(t->thr, NULL);
	svc_close(&t->svc);
	free(t);
	*tp = NULL;
}

struct svc *
tb_svc(struct tb_svc *t)
{
	return (t->svc);
}

json_t *
tb_status(struct topo *topo, const char *name)
{
	const struct topo_inst *in   = topo_find(topo, name);
	json_t                 *data = NULL;
	char                    err[256];

	if (in == NULL)
		return (NULL);
	if (ctl_call(in->ctl, MSG_CTL_STATUS, NULL, &data, err, sizeof(err),
	        2000) != 0)
		return (NULL);
	return (data);
}

int64_t
tb_status_int(struct topo *topo, const char *name, const char *path)
{
	json_t *st = tb_status(topo, name), *v = st;
	char   *p, *tok, *save = NULL;
	int64_t r = -1;

	if (st == NULL)
		return (-1);
	p = xstrdup(path);
	for (tok = strtok_r(p, ".", &save); tok != NULL && v != NULL;
	     tok = strtok_r(NULL, ".", &save))
		v = json_object_get(v, tok);
	if (v != NULL && json_is_integer(v))
		r = json_integer_value(v);
	else if (v != NULL && json_is_boolean(v))
		r = json_is_true(v);
	free(p);
	json_decref(st);
	return (r);
}

int64_t
tb_wait_int(struct topo *topo, const char *name, const char *path,
    int64_t want, int timeout_ms)
{
	int64_t         deadline = mono_ms() + timeout_ms, v;
	struct timespec ts       = { 0, 20 * 1000 * 1000 };

	for (;;) {
		v = tb_status_int(topo, name, path);
		if (v == want || mono_ms() > deadline)
			return (v);
		nanosleep(&ts, NULL);
	}
}

void
tb_shutdown(struct tb_svc **tp)
{
	struct tb_svc *t = *tp;

	if (t == NULL)
		return;
	svc_stop(t->svc);
	pthread_join(t->thr, NULL);
	if (t->def->shutdown != NULL)
		t->def->shutdown(t->svc, svc_state(t->svc));
	svc_close(&t->svc);
	free(t);
	*tp = NULL;
}

int
tb_call(struct topo *topo, const char *name, enum msg_topic t,
    const void *body, json_t **data, char *err, size_t errlen)
{
	const struct topo_inst *in = topo_find(topo, name);

	assert_non_null(in);
	err[0] = '\0';
	return (ctl_call(in->ctl, t, body, data, err, errlen, TB_WAIT_MS));
}

int
tb_call_json(struct topo *topo, const char *name, enum msg_topic t,
    const json_t *body, json_t **data, char *err, size_t errlen)
{
	union msg_body b;
	char           why[256];
	int            rv;

	if (msg_body_from_json(t, &b, body, why, sizeof(why)) != 0)
		fail_msg("%s body: %s", msg_topic_name(t), why);
	rv = tb_call(topo, name, t, &b, data, err, errlen);
	msg_body_fini(t, &b);
	return (rv);
}

int
tb_call_raw(struct topo *topo, const char *name, enum msg_topic t,
    const void *body, char *err, size_t errlen)
{
	const struct topo_inst *in = topo_find(topo, name);
	struct msg_hdr          h  = { "test", 0, "test:raw", 0, NULL };
	struct bus_msg          bm;
	struct msg              rep;
	struct buf              b;
	char                   *p;
	size_t                  i, n = 0;
	int                     rv;

	assert_non_null(in);
	h.ts = now_ms();
	buf_init(&b);
	assert_int_equal(msg_pack(&b, t, &h, body), 0);
	for (i = 0; i + 1 < b.len; i++)
		if ((p = b.data + i)[0] == '%' && p[1] == '%') {
			memcpy(p, "\xff\xfe", 2);
			n++;
		}
	assert_true(n > 0);
	assert_int_equal(
	    bus_request(in->ctl, b.data, b.len, &bm, TB_WAIT_MS), 0);
	buf_fini(&b);
	assert_int_equal(msg_decode(&rep, bm.data, bm.len, err, errlen), 0);
	bus_msg_free(&bm);
	assert_int_equal(rep.topic, MSG_CTL_REPLY);
	snprintf(err, errlen, "%s",
	    rep.body.ctl_reply.error ? rep.body.ctl_reply.error : "");
	rv = rep.body.ctl_reply.ok ? 0 : (int) rep.body.ctl_reply.code;
	msg_fini(&rep);
	return (rv);
}

static int
inject_rv(struct topo *topo, const char *name, const char *topic,
    const char *corr, json_t *body, char *err, size_t errlen)
{
	struct msg_ctl_inject in;
	int                   rv;

	assert_non_null(body);
	memset(&in, 0, sizeof(in));
	in.topic = (char *) topic;
	in.body  = body;
	in.corr  = (char *) corr;
	rv       = tb_call(topo, name, MSG_CTL_INJECT, &in, NULL, err, errlen);
	json_decref(body);
	return (rv);
}

int
tb_dial(int port)
{
	struct sockaddr_in a;
	int                fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family      = AF_INET;
	a.sin_port        = htons((uint16_t) port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *) &a, sizeof(a)), 0);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return (fd);
}

const char *
tb_await(struct loop *l, int fd, const char *want)
{
	static char got[65536];
	size_t      len = 0;
	ssize_t     n;
	int64_t     end = mono_ms() + 5000;

	got[0] = '\0';
	while (mono_ms() < end && strstr(got, want) == NULL) {
		(void) loop_run_once(l, 20);
		while ((n = read(fd, got + len, sizeof(got) - 1 - len)) > 0)
			len += (size_t) n;
		got[len] = '\0';
	}
	return (got);
}

json_t *
tb_task_show(struct topo *t, const char *task)
{
	struct msg_board_task_show rq = { (char *) task };
	json_t                    *d  = NULL;
	char                       err[256];

	if (tb_call(t, "board-sync", MSG_BOARD_TASK_SHOW, &rq, &d, err,
	        sizeof(err)) != 0)
		fail_msg("task_show %s: %s", task, err);
	return (d);
}

void
tb_inject(struct topo *topo, const char *name, const char *topic,
    const char *corr, json_t *body)
{
	char err[512];

	if (inject_rv(topo, name, topic, corr, body, err, sizeof(err)) != 0)
		fail_msg("inject %s into %s: %s", topic, name, err);
}

json_t *
tb_events(struct topo *topo, const char *name, const char *topic)
{
	const struct topo_inst *in = topo_find(topo, name);
	struct msg_ctl_replay   rq = { 1, 0, 0 };
	struct msg_hdr          h  = { "test", 0, "test:replay", 0, NULL };
	struct bus_msg          bm;
	struct msg              rep, m;
	struct buf              b;
	json_t                 *out = json_array();
	char                    err[256];
	size_t                  i, got;

	assert_non_null(in);
	for (;;) {
		h.ts = now_ms();
		buf_init(&b);
		assert_int_equal(msg_pack(&b, MSG_CTL_REPLAY, &h, &rq), 0);
		if (bus_request(in->ctl, b.data, b.len, &bm, TB_WAIT_MS) != 0)
			fail_msg("replay of %s: no answer", name);
		buf_fini(&b);
		if (msg_decode(&rep, bm.data, bm.len, err, sizeof(err)) != 0)
			fail_msg("replay of %s: %s", name, err);
		bus_msg_free(&bm);
		assert_int_equal(rep.topic, MSG_CTL_REPLAY_BATCH);
		got = rep.body.ctl_replay_batch.frames.n;
		for (i = 0; i < got; i++) {
			const struct msg_bin *fr =
			    &rep.body.ctl_replay_batch.frames.v[i];

			if (msg_decode(&m, fr->p, fr->len, err, sizeof(err)) !=
			    0)
				fail_msg("journal of %s: %s", name, err);
			rq.from = (int64_t) m.seq + 1;
			if (topic == NULL ||
			    strcmp(msg_topic_name(m.topic), topic) == 0)
				json_array_append_new(out,
				    json_pack("{s:I, s:s, s:s?, s:o}", "seq",
				        (json_int_t) m.seq, "topic",
				        msg_topic_name(m.topic), "corr",
				        m.corr, "body",
				        msg_body_to_json(m.topic, &m.body)));
			msg_fini(&m);
		}
		msg_fini(&rep);
		if (got == 0)
			return (out);
	}
}

json_t *
tb_wait_events(struct topo *topo, const char *name, const char *topic,
    size_t n, int timeout_ms)
{
	int64_t         deadline = mono_ms() + timeout_ms;
	struct timespec ts       = { 0, 20 * 1000 * 1000 };
	json_t         *ev;

	for (;;) {
		ev = tb_events(topo, name, topic);
		if (json_array_size(ev) >= n || mono_ms() > deadline)
			return (ev);
		json_decref(ev);
		nanosleep(&ts, NULL);
	}
}

json_t *
tb_heartbeat(struct topo *topo, const char *name, int timeout_ms)
{
	const struct topo_inst *in       = topo_find(topo, name);
	int64_t                 deadline = mono_ms() + timeout_ms;
	struct bus             *sub      = NULL;
	struct bus_msg          bm;
	struct msg              m;
	json_t                 *hb = NULL;
	char                    err[256];

	assert_non_null(in);
	assert_int_equal(bus_open(&sub, BUS_SUB, in->pub), 0);
	assert_int_equal(bus_subscribe(sub, "heartbeat"), 0);
	assert_int_equal(bus_set_timeout(sub, 100), 0);
	while (hb == NULL && mono_ms() < deadline) {
		if (bus_recv(sub, &bm, 0) != 0)
			continue;
		if (msg_decode(&m, bm.data, bm.len, err, sizeof(err)) == 0) {
			if (m.topic == MSG_HEARTBEAT &&
			    strcmp(m.src, name) == 0)
				hb = msg_body_to_json(m.topic, &m.body);
			msg_fini(&m);
		}
		bus_msg_free(&bm);
	}
	bus_close(&sub);
	return (hb);
}

json_t *
tb_get(const json_t *o, const char *path)
{
	char *p = xstrdup(path), *tok, *save = NULL, *end;
	long  i;

	for (tok = strtok_r(p, ".", &save); tok != NULL && o != NULL;
	     tok = strtok_r(NULL, ".", &save)) {
		i = strtol(tok, &end, 10);
		if (json_is_array(o) && *end == '\0')
			o = json_array_get(o, (size_t) i);
		else
			o = json_object_get(o, tok);
	}
	free(p);
	return ((json_t *) o);
}

const char *
tb_str(const json_t *o, const char *path)
{
	return (json_string_value(tb_get(o, path)));
}

int64_t
tb_int(const json_t *o, const char *path)
{
	json_t *v = tb_get(o, path);

	return (json_is_integer(v) ? json_integer_value(v) : -1);
}
