/*
 * testbed.c - in-process service harness (see testbed.h).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "opc/err.h"
#include "opc/util.h"
#include "testbed.h"

struct tb_svc {
	struct svc *svc;
	pthread_t   thr;
};

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

	rv = svc_open(&t->svc, def, topo, name, NULL);
	if (rv != 0)
		fail_msg("svc_open %s: %s", name, err_str(rv));
	assert_int_equal(pthread_create(&t->thr, NULL, run, t), 0);
	return (t);
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
	const struct topo_inst *in = topo_find(topo, name);
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
	int64_t deadline = mono_ms() + timeout_ms, v;
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	for (;;) {
		v = tb_status_int(topo, name, path);
		if (v == want || mono_ms() > deadline)
			return (v);
		nanosleep(&ts, NULL);
	}
}
