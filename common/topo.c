/*
 * topo.c - the constellation's topology from the one config file.
 *
 * Validates what every process relies on before anything starts: unique
 * instance names, upstreams that exist, endpoints nng accepts, ipc paths
 * that fit in a sockaddr_un.  Errors name file:line:col.
 *
 * opcenter.tls, when present, is installed process-wide for tls+tcp://
 * sockets when the topology loads (bus_tls_set) and removed by
 * topo_close: a process loads one topology.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "opc/bus.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/topo.h"
#include "opc/util.h"

#define ERRF(...) snprintf(err, errlen, __VA_ARGS__)

static char *
absolute(const char *base_dir, const char *p)
{
	char cwd[PATH_MAX];

	if (p[0] == '/')
		return (path_clean(xstrdup(p)));
	if (base_dir != NULL)
		return (path_clean(xasprintf("%s/%s", base_dir, p)));
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return (xstrdup(p));
	return (path_clean(xasprintf("%s/%s", cwd, p)));
}

static char *
dirname_of(const char *path)
{
	const char *s = strrchr(path, '/');

	if (s == NULL)
		return (xstrdup("."));
	if (s == path)
		return (xstrdup("/"));
	return (xstrndup(path, (size_t) (s - path)));
}

static int
check_url(const struct cfg_node *n, const char *what, const char *url,
    char *err, size_t errlen)
{
	struct sockaddr_un sun;
	char               where[256];

	cfg_where(n, where, sizeof(where));
	if (!bus_url_ok(url)) {
		ERRF("%s: %s: unsupported url '%s' (ipc://, tcp://, "
		     "tls+tcp:// or inproc://)",
		    where, what, url);
		return (ERR_CONFIG);
	}
	if (strncmp(url, "ipc://", 6) == 0 &&
	    strlen(url + 6) >= sizeof(sun.sun_path)) {
		ERRF("%s: %s: ipc path longer than %zu bytes: %s (use a "
		     "shorter state_dir)",
		    where, what, sizeof(sun.sun_path) - 1, url + 6);
		return (ERR_CONFIG);
	}
	return (0);
}

static void
inst_fini(struct topo_inst *in)
{
	size_t i;

	free(in->name);
	free(in->service);
	free(in->pub);
	free(in->ctl);
	free(in->bin);
	for (i = 0; i < in->nupstreams; i++)
		free(in->upstreams[i]);
	free(in->upstreams);
	memset(in, 0, sizeof(*in));
}

static int
inst_load(struct topo *t, struct topo_inst *in, const char *name,
    const struct cfg_node *n, char *err, size_t errlen)
{
	const char  *s, **ups = NULL;
	size_t       nups = 0, i;
	int          rv;
	const char  *at;

	in->name = xstrdup(name);
	in->node = n;
	if ((rv = cfg_get_str(n, "service", NULL, &s, err, errlen)) != 0)
		return (rv);
	if (s == NULL || *s == '\0') {
		at = strchr(name, '@');
		in->service = at ? xstrndup(name, (size_t) (at - name))
		                 : xstrdup(name);
	} else
		in->service = xstrdup(s);
	if ((rv = cfg_get_str(n, "pub", NULL, &s, err, errlen)) != 0)
		return (rv);
	in->pub = s && *s ? xstrdup(s)
	                  : xasprintf("ipc://%s/%s.pub", t->run_dir, name);
	if ((rv = cfg_get_str(n, "ctl", NULL, &s, err, errlen)) != 0)
		return (rv);
	in->ctl = s && *s ? xstrdup(s)
	                  : xasprintf("ipc://%s/%s.ctl", t->run_dir, name);
	if ((rv = cfg_get_str(n, "bin", NULL, &s, err, errlen)) != 0)
		return (rv);
	in->bin = s && *s ? xstrdup(s) : NULL;
	if ((rv = cfg_get_bool(n, "enabled", 1, &in->enabled, err,
	         errlen)) != 0)
		return (rv);
	if ((rv = check_url(cfg_get(n, "pub") ? cfg_get(n, "pub") : n,
	         "pub", in->pub, err, errlen)) != 0 ||
	    (rv = check_url(cfg_get(n, "ctl") ? cfg_get(n, "ctl") : n,
	         "ctl", in->ctl, err, errlen)) != 0)
		return (rv);
	if ((rv = cfg_get_strs(n, "upstreams", &ups, &nups, err, errlen)) !=
	    0)
		return (rv);
	in->upstreams = xcalloc(nups + 1, sizeof(char *));
	for (i = 0; i < nups; i++)
		in->upstreams[i] = xstrdup(ups[i]);
	in->nupstreams = nups;
	free(ups);
	return (0);
}

static int
check_upstreams(struct topo *t, char *err, size_t errlen)
{
	char   where[256];
	size_t i, k;

	for (i = 0; i < t->ninst; i++) {
		for (k = 0; k < t->inst[i].nupstreams; k++) {
			if (topo_find(t, t->inst[i].upstreams[k]) != NULL &&
			    strcmp(t->inst[i].upstreams[k], t->inst[i].name) !=
			        0)
				continue;
			cfg_where(cfg_get(t->inst[i].node, "upstreams"),
			    where, sizeof(where));
			ERRF("%s: instances.%s.upstreams: %s '%s'", where,
			    t->inst[i].name,
			    strcmp(t->inst[i].upstreams[k], t->inst[i].name)
			        ? "unknown instance"
			        : "an instance cannot consume itself",
			    t->inst[i].upstreams[k]);
			return (ERR_CONFIG);
		}
	}
	return (0);
}

static int
uses_tls(const struct topo_inst *in)
{
	return (strncmp(in->pub, "tls+tcp://", 10) == 0 ||
	    strncmp(in->ctl, "tls+tcp://", 10) == 0);
}

/* tls_load reads opcenter.tls { ca_file, cert_file, key_file,
 * server_name } (paths relative to the config file) and installs it for
 * every tls+tcp:// socket of this process (bus_tls_set). */
static int
tls_load(struct topo *t, const struct cfg_node *root, char *err,
    size_t errlen)
{
	static const char *const keys[] = { "ca_file", "cert_file",
		"key_file" };
	const struct cfg_node   *n = cfg_get(root, "opcenter.tls");
	const char              *s, *name = NULL;
	char                    *path[3] = { NULL, NULL, NULL }, *dir;
	char                     where[256], msg[512];
	struct bus_tls           bt;
	size_t                   i;
	int                      rv = 0;

	if (n == NULL) {
		for (i = 0; i <= t->ninst; i++) {
			const struct topo_inst *in =
			    i < t->ninst ? &t->inst[i] : &t->supervisor;

			if (!uses_tls(in))
				continue;
			cfg_where(in->node, where, sizeof(where));
			ERRF("%s: %s: tls+tcp:// endpoints need an opcenter.tls "
			     "section (ca_file, cert_file, key_file)",
			    where, in->name);
			return (ERR_CONFIG);
		}
		return (0);
	}
	cfg_where(n, where, sizeof(where));
	dir = dirname_of(t->config_path);
	for (i = 0; i < nitems(keys) && rv == 0; i++) {
		if ((rv = cfg_get_str(n, keys[i], NULL, &s, err, errlen)) != 0)
			break;
		if (s == NULL || *s == '\0') {
			ERRF("%s: opcenter.tls: %s is required", where,
			    keys[i]);
			rv = ERR_CONFIG;
			break;
		}
		path[i] = absolute(dir, s);
	}
	if (rv == 0)
		rv = cfg_get_str(n, "server_name", NULL, &name, err, errlen);
	if (rv == 0) {
		bt = (struct bus_tls){ path[0], path[1], path[2], name };
		if (bus_tls_set(&bt, msg, sizeof(msg)) == 0)
			t->tls = 1;
		else {
			ERRF("%s: opcenter.tls: %s", where, msg);
			rv = ERR_CONFIG;
		}
	}
	for (i = 0; i < nitems(path); i++)
		free(path[i]);
	free(dir);
	return (rv);
}

static int
load(struct topo *t, char *err, size_t errlen)
{
	const struct cfg_node *root = cfg_root(t->cfg), *insts, *sup;
	const char            *s;
	char                  *dir;
	size_t                 i;
	int                    rv;

	if (cfg_type(root) != CFG_MAP) {
		ERRF("%s:1:1: expected a map at the top level",
		    t->config_path);
		return (ERR_CONFIG);
	}
	if ((rv = cfg_get_str(root, "opcenter.state_dir", "state", &s, err,
	         errlen)) != 0)
		return (rv);
	dir = dirname_of(t->config_path);
	t->state_dir = absolute(dir, s);
	free(dir);
	t->run_dir = xasprintf("%s/run", t->state_dir);
	t->log_dir = xasprintf("%s/log", t->state_dir);
	if ((rv = cfg_get_ms(root, "opcenter.heartbeat_ms", 1000,
	         &t->heartbeat_ms, err, errlen)) != 0)
		return (rv);
	/* bounded before the default below multiplies it */
	if (t->heartbeat_ms < 10 || t->heartbeat_ms > 3600000) {
		ERRF("%s: opcenter: heartbeat_ms must be between 10ms and 1h",
		    t->config_path);
		return (ERR_CONFIG);
	}
	if ((rv = cfg_get_ms(root, "opcenter.stale_after_ms",
	         10 * t->heartbeat_ms, &t->stale_after_ms, err, errlen)) !=
	        0 ||
	    (rv = cfg_get_int(root, "opcenter.journal_retention", 1000000,
	         &t->journal_retention, err, errlen)) != 0)
		return (rv);
	if (t->journal_retention < 1) {
		ERRF("%s: opcenter: journal_retention must be >= 1",
		    t->config_path);
		return (ERR_CONFIG);
	}
	if ((rv = cfg_get_bool(root, "opcenter.insecure_ctl", 0,
	         &t->insecure_ctl, err, errlen)) != 0)
		return (rv);
	sup = cfg_get(root, "supervisor");
	if ((rv = inst_load(t, &t->supervisor, "supervisor", sup, err,
	         errlen)) != 0)
		return (rv);
	insts = cfg_get(root, "instances");
	if (insts != NULL && cfg_type(insts) != CFG_MAP) {
		char where[256];

		cfg_where(insts, where, sizeof(where));
		ERRF("%s: instances: expected a map of instance names",
		    where);
		return (ERR_CONFIG);
	}
	t->ninst = cfg_len(insts);
	t->inst = xcalloc(t->ninst + 1, sizeof(*t->inst));
	for (i = 0; i < t->ninst; i++) {
		s = cfg_key_at(insts, i);
		if (strcmp(s, "supervisor") == 0 || strchr(s, '/') != NULL ||
		    *s == '\0') {
			char where[256];

			cfg_where(cfg_at(insts, i), where, sizeof(where));
			ERRF("%s: instances: invalid instance name '%s'",
			    where, s);
			return (ERR_CONFIG);
		}
		if ((rv = inst_load(t, &t->inst[i], s, cfg_at(insts, i), err,
		         errlen)) != 0)
			return (rv);
	}
	if ((rv = check_upstreams(t, err, errlen)) != 0)
		return (rv);
	return (tls_load(t, root, err, errlen));
}

int
topo_load(struct topo **tp, const char *config_path, char *err,
    size_t errlen)
{
	struct topo *t;
	char         real[PATH_MAX];
	int          rv;

	*tp = NULL;
	t = xcalloc(1, sizeof(*t));
	if (realpath(config_path, real) == NULL) {
		ERRF("%s: cannot open config file", config_path);
		free(t);
		return (ERR_IO);
	}
	t->config_path = xstrdup(real);
	if ((rv = cfg_load(&t->cfg, t->config_path, err, errlen)) != 0 ||
	    (rv = load(t, err, errlen)) != 0) {
		topo_close(&t);
		return (rv);
	}
	*tp = t;
	return (0);
}

void
topo_close(struct topo **tp)
{
	struct topo *t = *tp;
	size_t       i;

	if (t == NULL)
		return;
	if (t->tls)
		(void) bus_tls_set(NULL, NULL, 0);
	for (i = 0; i < t->ninst; i++)
		inst_fini(&t->inst[i]);
	free(t->inst);
	inst_fini(&t->supervisor);
	cfg_close(&t->cfg);
	free(t->config_path);
	free(t->state_dir);
	free(t->run_dir);
	free(t->log_dir);
	free(t);
	*tp = NULL;
}

const struct topo_inst *
topo_find(const struct topo *t, const char *name)
{
	size_t i;

	if (strcmp(name, "supervisor") == 0)
		return (&t->supervisor);
	for (i = 0; i < t->ninst; i++)
		if (strcmp(t->inst[i].name, name) == 0)
			return (&t->inst[i]);
	return (NULL);
}

const char *
topo_default_config(void)
{
	const char *p = getenv("OPC_CONFIG");

	return (p != NULL && *p != '\0' ? p : "config/opcenter.yaml");
}
