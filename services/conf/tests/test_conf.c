/*
 * test_conf.c - the config tables themselves (services/conf): every
 * default, bound and choice is a valid value of its row, every row has
 * help; config/opcenter.example.yaml and opcenter.multihost.yaml pass the
 * check the daemons make; and every key of every table is in the example
 * (as a key, or named in a comment when it has no place there: a key
 * without a default, an agent profile's).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/topo.h"
#include "opc/util.h"

#define EXAMPLE OPC_SOURCE_DIR "/config/opcenter.example.yaml"
#define MULTIHOST OPC_SOURCE_DIR "/config/opcenter.multihost.yaml"

/* value_ok: text is a valid value of row k (checked as "v: text"). */
static bool
value_ok(const struct cfg_key *k, const char *text, struct buf *errs)
{
	struct cfg_key tab[2] = { *k, CFG_END };
	struct cfg    *c;
	char          *y, err[512];
	int            n;

	tab[0].name = "v";
	y           = xasprintf("v: \"%s\"\n", text);
	assert_int_equal(
	    cfg_parse(&c, k->name, y, strlen(y), err, sizeof(err)), 0);
	n = cfg_check(cfg_root(c), tab, k->name, errs);
	cfg_close(&c);
	free(y);
	return (n == 0);
}

static void
sound(const struct cfg_key *tab, const char *prefix, struct buf *bad)
{
	const struct cfg_key *k;
	char                 *path;

	for (k = tab; k->type != CFG_K_END; k++) {
		if (k->type == CFG_K_INCLUDE) {
			assert_non_null(k->sub);
			sound(k->sub, prefix, bad);
			continue;
		}
		path = xasprintf("%s%s", prefix, k->name);
		if (k->help == NULL || *k->help == '\0')
			buf_printf(bad, "%s: no help\n", path);
		if (k->def != NULL && !value_ok(k, k->def, bad))
			buf_printf(bad, "%s: bad default\n", path);
		if (k->min != NULL && !value_ok(k, k->min, bad))
			buf_printf(bad, "%s: bad min\n", path);
		if (k->max != NULL && !value_ok(k, k->max, bad))
			buf_printf(bad, "%s: bad max\n", path);
		if ((k->type == CFG_K_ENUM) != (k->choices != NULL))
			buf_printf(bad, "%s: choices without enum\n", path);
		if ((k->type == CFG_K_SECTION || k->type == CFG_K_INCLUDE) &&
		    k->sub == NULL)
			buf_printf(bad, "%s: a section without rows\n", path);
		if (k->sub != NULL) {
			free(path);
			path = xasprintf("%s%s.", prefix, k->name);
			sound(k->sub, path, bad);
		}
		free(path);
	}
}

static void
test_tables_sound(void **state)
{
	const struct conf_service *s;
	struct buf                 bad;

	(void) state;
	buf_init(&bad);
	sound(conf_root_keys, "", &bad);
	sound(topo_inst_keys, "<instance>.", &bad);
	for (s = conf_services; s->name != NULL; s++) {
		char *p = xasprintf("%s.", s->name);

		assert_non_null(s->help);
		sound(s->keys, p, &bad);
		free(p);
	}
	if (bad.len > 0)
		fail_msg("%s", buf_cstr(&bad));
	assert_null(conf_service_keys("no-such-service"));
	assert_ptr_equal(conf_service_keys("router"), router_keys);
	buf_fini(&bad);
}

static void
passes(const char *path)
{
	struct topo *t;
	struct buf   errs;
	char         err[1024];

	/* the multihost's TLS files are a host's, not this one's */
	if (topo_load_flags(&t, path, TOPO_NO_TLS, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	buf_init(&errs);
	if (conf_check(t, &errs) != 0)
		fail_msg("%s", buf_cstr(&errs));
	buf_fini(&errs);
	topo_close(&t);
}

static void
test_examples_pass(void **state)
{
	(void) state;
	passes(EXAMPLE);
	passes(MULTIHOST);
}

/* The example with git.branch_prefix "/" (it would allow every branch)
 * fails the check, naming the key. */
static void
test_branch_prefix_checked(void **state)
{
	struct topo *t;
	struct buf   errs;
	char         err[1024], *text, *p, *bad, *path;
	size_t       len;
	int          fd;

	(void) state;
	assert_int_equal(file_read(&text, &len, EXAMPLE, 1 << 20), 0);
	p = strstr(text, "branch_prefix: opcenter/");
	assert_non_null(p);
	bad  = xasprintf("%.*sbranch_prefix: \"/\"%s", (int) (p - text), text,
	     p + strlen("branch_prefix: opcenter/"));
	path = xstrdup("/tmp/opc-conf-prefix.XXXXXX");
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write_file_atomic(path, bad, strlen(bad)), 0);
	close(fd);
	assert_int_equal(
	    topo_load_flags(&t, path, TOPO_NO_TLS, err, sizeof(err)), 0);
	buf_init(&errs);
	assert_int_equal(conf_check(t, &errs), 1);
	assert_non_null(strstr(buf_cstr(&errs), "git.branch_prefix '/'"));
	buf_fini(&errs);
	topo_close(&t);
	unlink(path);
	free(path);
	free(bad);
	free(text);
}

/* ---- every key in the example ----------------------------------------- */

struct cover {
	char      *text; /* the example's text */
	struct buf missing;
};

/* in_comment: some comment of the example names key ("key:" after a
 * '#' on its line, not inside a longer name). */
static bool
in_comment(const struct cover *cv, const char *key)
{
	const char *line = cv->text, *hash, *end, *p;
	size_t      n    = strlen(key);

	for (; *line != '\0'; line = *end ? end + 1 : end) {
		end = strchr(line, '\n');
		if (end == NULL)
			end = line + strlen(line);
		if ((hash = memchr(line, '#', (size_t) (end - line))) == NULL)
			continue;
		for (p = hash; p + n < end; p++)
			if (strncmp(p, key, n) == 0 && p[n] == ':' &&
			    strchr(" #{,(`", p[-1]) != NULL)
				return (true);
	}
	return (false);
}

static const struct cfg_node *
child(const struct cfg_node *n, const char *key)
{
	size_t i;

	for (i = 0; i < cfg_len(n); i++)
		if (cfg_type(n) == CFG_MAP &&
		    strcmp(cfg_key_at(n, i), key) == 0)
			return (cfg_at(n, i));
	return (NULL);
}

/* cover checks that each row of tab is a key of one of the nodes (the
 * sections it describes in the example), or named in a comment. */
static void
cover(struct cover *cv, const struct cfg_key *tab,
    const struct cfg_node **nodes, size_t n, const char *prefix)
{
	const struct cfg_key   *k;
	const struct cfg_node **sub, *v;
	size_t                  i, j, m;
	char                   *path;

	for (k = tab; k->type != CFG_K_END; k++) {
		if (k->type == CFG_K_INCLUDE) {
			cover(cv, k->sub, nodes, n, prefix);
			continue;
		}
		if (k->type == CFG_K_ANY && strcmp(k->name, "instances") == 0)
			continue;
		sub = xcalloc(1, sizeof(*sub));
		for (i = m = 0; i < n; i++) {
			if ((v = child(nodes[i], k->name)) == NULL)
				continue;
			if (k->type == CFG_K_SECTION) {
				sub = xrealloc(sub, (m + 1) * sizeof(*sub));
				sub[m++] = v;
			} else if ((k->type == CFG_K_MAP ||
			               k->type == CFG_K_LIST) &&
			    k->sub != NULL &&
			    k->sub[0].type == CFG_K_SECTION) {
				for (j = 0; j < cfg_len(v); j++) {
					sub = xrealloc(
					    sub, (m + 1) * sizeof(*sub));
					sub[m++] = cfg_at(v, j);
				}
			} else {
				sub = xrealloc(sub, (m + 1) * sizeof(*sub));
				sub[m++] = v;
			}
		}
		path = xasprintf("%s%s", prefix, k->name);
		if (m == 0 && !in_comment(cv, k->name))
			buf_printf(&cv->missing, "%s\n", path);
		/* a section only a comment names: its keys are where the
		 * comment points (an instance's plane: is the top level's) */
		if (m == 0) {
			free(path);
			free(sub);
			continue;
		}
		if (k->type == CFG_K_SECTION) {
			free(path);
			path = xasprintf("%s%s.", prefix, k->name);
			cover(cv, k->sub, sub, m, path);
		} else if ((k->type == CFG_K_MAP || k->type == CFG_K_LIST) &&
		    k->sub != NULL && k->sub[0].type == CFG_K_SECTION) {
			free(path);
			path = xasprintf("%s%s.*.", prefix, k->name);
			cover(cv, k->sub[0].sub, sub, m, path);
		}
		free(path);
		free(sub);
	}
}

static void
test_example_has_every_key(void **state)
{
	const struct conf_service *s;
	const struct cfg_node    **nodes, *root;
	struct cover               cv;
	struct topo               *t;
	char                       err[1024], *p;
	size_t                     i, n;

	(void) state;
	assert_int_equal(
	    topo_load_flags(&t, EXAMPLE, TOPO_NO_TLS, err, sizeof(err)), 0);
	assert_int_equal(file_read(&cv.text, &n, EXAMPLE, 1 << 20), 0);
	buf_init(&cv.missing);
	root = cfg_root(t->cfg);
	cover(&cv, conf_root_keys, &root, 1, "");
	nodes = xcalloc(t->ninst + 1, sizeof(*nodes));
	for (s = conf_services; s->name != NULL; s++) {
		for (i = n = 0; i < t->ninst; i++)
			if (strcmp(t->inst[i].service, s->name) == 0)
				nodes[n++] = t->inst[i].node;
		if (n == 0)
			buf_printf(&cv.missing, "instances: no %s\n", s->name);
		p = xasprintf("%s.", s->name);
		cover(&cv, s->keys, nodes, n, p);
		free(p);
	}
	for (i = 0; i < t->ninst; i++)
		nodes[i] = t->inst[i].node;
	nodes[t->ninst] = t->supervisor.node;
	cover(&cv, topo_inst_keys, nodes, t->ninst + 1, "<instance>.");
	if (cv.missing.len > 0) {
		/* cmocka cuts a long message: the list goes to stdout */
		printf("keys missing from %s:\n%s", EXAMPLE,
		    buf_cstr(&cv.missing));
		fail_msg("keys missing from the example (listed above)");
	}
	buf_fini(&cv.missing);
	free(nodes);
	free(cv.text);
	topo_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables_sound),
		cmocka_unit_test(test_examples_pass),
		cmocka_unit_test(test_branch_prefix_checked),
		cmocka_unit_test(test_example_has_every_key),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
