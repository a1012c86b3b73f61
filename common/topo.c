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

static const struct cfg_key tls_keys[] = {
	CFG_STR("ca_file", NULL, "the CA that signs every host's certificate"),
	CFG_STR("cert_file", NULL, "this host's certificate (PEM)"),
	CFG_STR("key_file", NULL, "this host's key (unencrypted PEM, 0600)"),
	CFG_STR("server_name", NULL,
	    "the name every certificate carries, when not the url's host"),
	CFG_END,
};

const struct cfg_key topo_opcenter_keys[] = {
	CFG_STR("state_dir", "state",
	    "dbs, sockets, logs (relative to this file's directory)"),
	CFG_MS("heartbeat_ms", "1000", "10ms", "1h",
	    "every instance's heartbeat period"),
	CFG_MS("stale_after_ms", NULL, "1ms", NULL,
	    "no heartbeat for this long is stale (default: 10 heartbeats)"),
	CFG_INT("journal_retention", "1000000", "1", NULL,
	    "events each instance keeps for replay"),
	CFG_INT("reports_keep", "100", "1", NULL,
	    "retained artifacts of each autonomy stage (state_dir/reports)"),
	CFG_BOOL("insecure_ctl", "false",
	    "allow state changes over a plain tcp:// ctl socket"),
	CFG_SECTION("tls", tls_keys,
	    "mutual TLS of tls+tcp:// sockets (paths relative to this file)"),
	CFG_END,
};

/* the top level as topo reads it: errors name opcenter.KEY */
static const struct cfg_key root_keys[] = {
	CFG_SECTION("opcenter", topo_opcenter_keys, "the constellation"),
	CFG_END,
};

const struct cfg_key topo_inst_keys[] = {
	CFG_STR("service", NULL,
	    "the service it runs (default: its name up to '@')"),
	CFG_STR("pub", NULL,
	    "url of its PUB socket (default: ipc://<state_dir>/run/NAME.pub)"),
	CFG_STR("ctl", NULL,
	    "url of its ctl socket (default: ipc://<state_dir>/run/NAME.ctl)"),
	CFG_STR("bin", NULL,
	    "the program to run (default: opc-SERVICE beside opc-supervisor)"),
	CFG_BOOL("enabled", "true", "false: the supervisor does not run it"),
	CFG_STRS("upstreams", "the instances whose events it consumes"),
	CFG_MS("idle_ms", "1000", "1ms", "1h",
	    "the effect loop's period while caught up"),
	CFG_MS("catchup_grace_ms", NULL, NULL, NULL,
	    "how long an unreachable upstream may hold back being caught up "
	    "(default: 3 heartbeats)"),
	CFG_END,
};

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
	const char *s, **ups = NULL;
	size_t      nups = 0, i;
	int         rv;
	const char *at;

	in->name = xstrdup(name);
	in->node = n;
	if ((rv = cfg_get_str(n, "service", NULL, &s, err, errlen)) != 0)
		return (rv);
	if (s == NULL || *s == '\0') {
		at = strchr(name, '@');
		in->service =
		    at ? xstrndup(name, (size_t) (at - name)) : xstrdup(name);
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
	in->bin     = s && *s ? xstrdup(s) : NULL;
	in->enabled = 1;
	if ((rv = cfg_tab_bool(topo_inst_keys, n, "enabled", &in->enabled, err,
	         errlen)) != 0)
		return (rv);
	if ((rv = check_url(cfg_get(n, "pub") ? cfg_get(n, "pub") : n, "pub",
	         in->pub, err, errlen)) != 0 ||
	    (rv = check_url(cfg_get(n, "ctl") ? cfg_get(n, "ctl") : n, "ctl",
	         in->ctl, err, errlen)) != 0)
		return (rv);
	if ((rv = cfg_get_strs(n, "upstreams", &ups, &nups, err, errlen)) != 0)
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
			cfg_where(cfg_get(t->inst[i].node, "upstreams"), where,
			    sizeof(where));
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
tls_load(struct topo *t, const struct cfg_node *root, unsigned flags,
    char *err, size_t errlen)
{
	static const char *const keys[] = { "ca_file", "cert_file",
		"key_file" };
	const struct cfg_node   *n      = cfg_get(root, "opcenter.tls");
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
			ERRF("%s: %s: tls+tcp:// endpoints need an "
			     "opcenter.tls "
			     "section (ca_file, cert_file, key_file)",
			    where, in->name);
			return (ERR_CONFIG);
		}
		return (0);
	}
	cfg_where(n, where, sizeof(where));
	dir = dirname_of(t->config_path);
	for (i = 0; i < nitems(keys) && rv == 0; i++) {
		s = NULL;
		if ((rv = cfg_tab_str(
		         tls_keys, n, keys[i], &s, err, errlen)) != 0)
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
		rv = cfg_tab_str(
		    tls_keys, n, "server_name", &name, err, errlen);
	if (rv == 0 && !(flags & TOPO_NO_TLS)) {
		bt = (struct bus_tls) { path[0], path[1], path[2], name };
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
load(struct topo *t, unsigned flags, char *err, size_t errlen)
{
	const struct cfg_node *root = cfg_root(t->cfg), *insts, *sup;
	const char            *s;
	char                  *dir;
	size_t                 i;
	int                    rv;

	if (cfg_type(root) != CFG_MAP) {
		ERRF(
		    "%s:1:1: expected a map at the top level", t->config_path);
		return (ERR_CONFIG);
	}
	if ((rv = cfg_tab_str(
	         root_keys, root, "opcenter.state_dir", &s, err, errlen)) != 0)
		return (rv);
	dir          = dirname_of(t->config_path);
	t->state_dir = absolute(dir, s);
	free(dir);
	t->run_dir = xasprintf("%s/run", t->state_dir);
	t->log_dir = xasprintf("%s/log", t->state_dir);
	/* heartbeat_ms is bounded (by its row) before the default of
	 * stale_after_ms multiplies it */
	if ((rv = cfg_tab_ms(root_keys, root, "opcenter.heartbeat_ms",
	         &t->heartbeat_ms, err, errlen)) != 0)
		return (rv);
	t->stale_after_ms = 10 * t->heartbeat_ms;
	if ((rv = cfg_tab_ms(root_keys, root, "opcenter.stale_after_ms",
	         &t->stale_after_ms, err, errlen)) != 0 ||
	    (rv = cfg_tab_int(root_keys, root, "opcenter.journal_retention",
	         &t->journal_retention, err, errlen)) != 0 ||
	    (rv = cfg_tab_int(root_keys, root, "opcenter.reports_keep",
	         &t->reports_keep, err, errlen)) != 0 ||
	    (rv = cfg_tab_bool(root_keys, root, "opcenter.insecure_ctl",
	         &t->insecure_ctl, err, errlen)) != 0)
		return (rv);
	sup = cfg_get(root, "supervisor");
	if ((rv = inst_load(
	         t, &t->supervisor, "supervisor", sup, err, errlen)) != 0)
		return (rv);
	insts = cfg_get(root, "instances");
	if (insts != NULL && cfg_type(insts) != CFG_MAP) {
		char where[256];

		cfg_where(insts, where, sizeof(where));
		ERRF("%s: instances: expected a map of instance names", where);
		return (ERR_CONFIG);
	}
	t->ninst = cfg_len(insts);
	t->inst  = xcalloc(t->ninst + 1, sizeof(*t->inst));
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
	return (tls_load(t, root, flags, err, errlen));
}

int
topo_load(struct topo **tp, const char *config_path, char *err, size_t errlen)
{
	return (topo_load_flags(tp, config_path, 0, err, errlen));
}

int
topo_load_flags(struct topo **tp, const char *config_path, unsigned flags,
    char *err, size_t errlen)
{
	struct topo *t;
	char         real[PATH_MAX];
	int          rv;

	*tp = NULL;
	t   = xcalloc(1, sizeof(*t));
	if (realpath(config_path, real) == NULL) {
		ERRF("%s: cannot open config file", config_path);
		free(t);
		return (ERR_IO);
	}
	t->config_path = xstrdup(real);
	if ((rv = cfg_load(&t->cfg, t->config_path, err, errlen)) != 0 ||
	    (rv = load(t, flags, err, errlen)) != 0) {
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
