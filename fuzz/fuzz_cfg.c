/*
 * fuzz_cfg.c - libFuzzer target: the YAML config loader (common/cfg.c)
 * and the topology validation on top of it (common/topo.c).
 *
 * The input is a YAML document.  cfg_parse must reject it with
 * ERR_CONFIG and a "name:line:col: ..." reason, or give a tree whose
 * every node the getters can read: cfg_get of each plain key finds that
 * key's own value, typed getters answer 0 or ERR_CONFIG with a reason.
 * The same bytes are then written to a scratch file and given to
 * topo_load (it takes a path: it resolves state_dir against the file's
 * directory); an accepted topology has unique, findable instances with
 * endpoints, and the services' config tables check it (conf_check): one
 * line per problem, each naming the file first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/topo.h"
#include "opc/util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                           \
	do {                                                               \
		if (!(c)) {                                                \
			fprintf(stderr, "fuzz_cfg: %s:%d: %s\n", __FILE__, \
			    __LINE__, #c);                                 \
			abort();                                           \
		}                                                          \
	} while (0)

static char dir[64];
static char path[96];

static void
cleanup(void)
{
	(void) unlink(path);
	(void) rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	UNUSED(argc);
	UNUSED(argv);
	snprintf(dir, sizeof(dir), "/tmp/opc-fuzz-cfg.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("fuzz_cfg: mkdtemp");
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/opcenter.yaml", dir);
	atexit(cleanup);
	return (0);
}

/* getters calls every typed getter on key under n. */
static void
getters(const struct cfg_node *n, const char *key)
{
	const char *s, **v;
	int64_t     i;
	double      d;
	int         b;
	size_t      k;
	char        err[512];

#define GET(call)                                                         \
	do {                                                              \
		err[0]  = '\0';                                           \
		int rv_ = (call);                                         \
		CHECK(rv_ == 0 || (rv_ == ERR_CONFIG && err[0] != '\0')); \
	} while (0)
	GET(cfg_get_str(n, key, NULL, &s, err, sizeof(err)));
	GET(cfg_get_int(n, key, 0, &i, err, sizeof(err)));
	GET(cfg_get_ms(n, key, 0, &i, err, sizeof(err)));
	GET(cfg_get_double(n, key, 0, &d, err, sizeof(err)));
	GET(cfg_get_bool(n, key, 0, &b, err, sizeof(err)));
	err[0] = '\0';
	if (cfg_get_strs(n, key, &v, &k, err, sizeof(err)) == 0) {
		CHECK(v == NULL || v[k] == NULL);
		free(v);
	} else
		CHECK(err[0] != '\0' && v == NULL);
	(void) cfg_secret(n, key);
#undef GET
}

static void
walk(const struct cfg_node *n, int depth)
{
	const char *key;
	char        where[512];
	size_t      i;

	CHECK(n != NULL && depth <= 80);
	cfg_where(n, where, sizeof(where));
	switch (cfg_type(n)) {
	case CFG_SCALAR:
		CHECK(cfg_str(n) != NULL && cfg_len(n) == 0);
		return;
	case CFG_MAP:
		for (i = 0; i < cfg_len(n); i++) {
			key = cfg_key_at(n, i);
			CHECK(key != NULL && cfg_at(n, i) != NULL);
			/* keys are unique: a plain key finds its own value */
			if (*key != '\0' && strchr(key, '.') == NULL)
				CHECK(cfg_get(n, key) == cfg_at(n, i));
			getters(n, key);
			walk(cfg_at(n, i), depth + 1);
		}
		CHECK(cfg_at(n, i) == NULL && cfg_key_at(n, i) == NULL);
		return;
	case CFG_SEQ:
		for (i = 0; i < cfg_len(n); i++) {
			CHECK(cfg_key_at(n, i) == NULL);
			walk(cfg_at(n, i), depth + 1);
		}
		return;
	default:
		CHECK(cfg_len(n) == 0 && cfg_str(n) == NULL);
		return;
	}
}

/* lines: every line of b begins with pfx; returns their number. */
static int
lines(struct buf *b, const char *pfx)
{
	char *p = buf_cstr(b), *nl;
	int   n = 0;

	for (; *p != '\0'; p = nl + 1, n++) {
		CHECK((nl = strchr(p, '\n')) != NULL);
		CHECK(strncmp(p, pfx, strlen(pfx)) == 0);
	}
	return (n);
}

static void
topology(const uint8_t *data, size_t size)
{
	struct topo            *t;
	const struct topo_inst *in;
	struct buf              b;
	FILE                   *f;
	char                    err[1024];
	size_t                  i;
	int                     rv, n;

	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(data, 1, size, f) != size || fclose(f) != 0) {
		perror("fuzz_cfg: scratch file");
		abort();
	}
	err[0] = '\0';
	rv     = topo_load(&t, path, err, sizeof(err));
	if (rv != 0) {
		CHECK(t == NULL && (rv == ERR_CONFIG || rv == ERR_IO));
		CHECK(err[0] != '\0');
		return;
	}
	CHECK(t->state_dir[0] == '/' && t->heartbeat_ms >= 10);
	CHECK(topo_find(t, "supervisor") == &t->supervisor);
	for (i = 0; i < t->ninst; i++) {
		in = &t->inst[i];
		CHECK(in->name[0] != '\0' && in->service != NULL);
		CHECK(in->pub != NULL && in->ctl != NULL);
		CHECK(topo_find(t, in->name) == in);
	}
	buf_init(&b);
	n = conf_check(t, &b);
	CHECK(lines(&b, t->config_path) == n);
	buf_reset(&b);
	(void) conf_drift(t, &b);
	buf_fini(&b);
	topo_close(&t);
	CHECK(t == NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg *c;
	struct buf  b;
	char        err[1024];
	int         rv;

	err[0] = '\0';
	rv     = cfg_parse(
	        &c, "fuzz.yaml", (const char *) data, size, err, sizeof(err));
	if (rv != 0) {
		CHECK(c == NULL && rv == ERR_CONFIG);
		CHECK(strncmp(err, "fuzz.yaml:", 10) == 0);
		return (0);
	}
	walk(cfg_root(c), 0);
	buf_init(&b);
	rv = cfg_check(cfg_root(c), conf_root_keys, "", &b);
	CHECK(lines(&b, "fuzz.yaml:") == rv);
	buf_fini(&b);
	getters(cfg_root(c), "opcenter.state_dir");
	getters(cfg_root(c), "instances");
	CHECK(strcmp(cfg_path(c), "fuzz.yaml") == 0);
	cfg_close(&c);
	CHECK(c == NULL);
	topology(data, size);
	return (0);
}
