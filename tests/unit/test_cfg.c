/*
 * test_cfg.c - YAML configs as a tree (common/cfg.c): loading from files,
 * navigation, typed getters with defaults, durations, secrets from the
 * environment, and errors that name file:line:column; config tables
 * (cfg_check, cfg_drift, cfg_tab_*).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/util.h"

struct fx {
	char dir[32];
	char err[512];
};

static int
setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/opct.XXXXXX");
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return (-1);
	}
	*state = fx;
	return (0);
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	int        rv;

	rv = rmtree(fx->dir);
	free(fx);
	return (rv == 0 ? 0 : -1);
}

/* write_file writes text to dir/name and returns the (allocated) path. */
static char *
write_file(struct fx *fx, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", fx->dir, name);
	FILE *f    = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	return (path);
}

/* load writes text to a file, loads it and returns the document. */
static struct cfg *
load(struct fx *fx, const char *name, const char *text)
{
	struct cfg *c;
	char       *path = write_file(fx, name, text);

	fx->err[0] = '\0';
	assert_int_equal(cfg_load(&c, path, fx->err, sizeof(fx->err)), 0);
	assert_non_null(c);
	assert_string_equal(cfg_path(c), path);
	free(path);
	return (c);
}

/* load_fail expects text to be refused; returns the message. */
static const char *
load_fail(struct fx *fx, const char *name, const char *text)
{
	struct cfg *c    = (struct cfg *) 1;
	char       *path = write_file(fx, name, text);

	fx->err[0] = '\0';
	assert_int_equal(
	    cfg_load(&c, path, fx->err, sizeof(fx->err)), ERR_CONFIG);
	assert_null(c);
	/* Every message starts with the file name. */
	assert_true(strncmp(fx->err, path, strlen(path)) == 0);
	assert_int_equal(fx->err[strlen(path)], ':');
	free(path);
	return (fx->err);
}

static const char doc_text[] = "# a comment\n"
                               "name: opc-test\n"
                               "port: 8080\n"
                               "neg: -17\n"
                               "ratio: 0.25\n"
                               "flag_on: yes\n"
                               "flag_off: False\n"
                               "empty:\n"
                               "tilde: ~\n"
                               "quoted_null: \"null\"\n"
                               "nested:\n"
                               "  inner:\n"
                               "    deep: \"hello world\"\n"
                               "    n: 3\n"
                               "  list: [a, b, c]\n"
                               "block:\n"
                               "  - one\n"
                               "  - two: 2\n"
                               "  - [x]\n"
                               "mixed: [a, {k: v}]\n";

static void
test_load_tree(void **state)
{
	struct fx             *fx = *state;
	struct cfg            *c  = load(fx, "t.yaml", doc_text);
	const struct cfg_node *r  = cfg_root(c), *n, *b;
	char                   where[256], *want;

	assert_int_equal(cfg_type(r), CFG_MAP);
	assert_int_equal(cfg_len(r), 12);
	assert_string_equal(cfg_key_at(r, 0), "name");
	assert_string_equal(cfg_str(cfg_at(r, 0)), "opc-test");
	assert_string_equal(cfg_key_at(r, 11), "mixed");
	assert_null(cfg_key_at(r, 12));
	assert_null(cfg_at(r, 12));

	assert_string_equal(cfg_str(cfg_get(r, "port")), "8080");
	assert_string_equal(
	    cfg_str(cfg_get(r, "nested.inner.deep")), "hello world");
	assert_int_equal(cfg_type(cfg_get(r, "nested.inner")), CFG_MAP);
	assert_null(cfg_get(r, "nested.nope"));
	assert_null(cfg_get(r, "nested.inner.deep.more"));
	assert_null(cfg_get(r, "port.x"));
	assert_null(cfg_get(NULL, "port"));
	assert_int_equal(cfg_type(NULL), CFG_NONE);
	/* An empty path is the node itself. */
	assert_ptr_equal(cfg_get(r, ""), r);

	/* Nulls are scalars with empty text; quoted "null" is a string. */
	assert_int_equal(cfg_type(cfg_get(r, "empty")), CFG_SCALAR);
	assert_string_equal(cfg_str(cfg_get(r, "empty")), "");
	assert_string_equal(cfg_str(cfg_get(r, "tilde")), "");
	assert_string_equal(cfg_str(cfg_get(r, "quoted_null")), "null");

	/* Sequences, flow and block. */
	n = cfg_get(r, "nested.list");
	assert_int_equal(cfg_type(n), CFG_SEQ);
	assert_int_equal(cfg_len(n), 3);
	assert_string_equal(cfg_str(cfg_at(n, 2)), "c");
	assert_null(cfg_key_at(n, 0));
	assert_null(cfg_str(n));
	b = cfg_get(r, "block");
	assert_int_equal(cfg_len(b), 3);
	assert_string_equal(cfg_str(cfg_at(b, 0)), "one");
	assert_int_equal(cfg_type(cfg_at(b, 1)), CFG_MAP);
	assert_string_equal(cfg_str(cfg_get(cfg_at(b, 1), "two")), "2");
	assert_int_equal(cfg_type(cfg_at(b, 2)), CFG_SEQ);
	assert_int_equal(cfg_len(cfg_get(r, "port")), 0);

	/* Positions are 1-based line and column of the value. */
	cfg_where(cfg_get(r, "port"), where, sizeof(where));
	want = xasprintf("%s/t.yaml:3:7", fx->dir);
	assert_string_equal(where, want);
	free(want);
	cfg_where(cfg_get(r, "nested.inner.deep"), where, sizeof(where));
	want = xasprintf("%s/t.yaml:13:11", fx->dir);
	assert_string_equal(where, want);
	free(want);
	cfg_where(NULL, where, sizeof(where));
	assert_string_equal(where, "?");

	cfg_close(&c);
	assert_null(c);
	cfg_close(&c); /* idempotent */
}

static void
test_empty_and_scalar_docs(void **state)
{
	struct fx  *fx = *state;
	struct cfg *c;
	int64_t     v;

	c = load(fx, "empty.yaml", "");
	assert_int_equal(cfg_type(cfg_root(c)), CFG_NONE);
	assert_null(cfg_get(cfg_root(c), "x"));
	assert_int_equal(
	    cfg_get_int(cfg_root(c), "x", 5, &v, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(v, 5);
	cfg_close(&c);

	c = load(fx, "comment.yaml", "# nothing but a comment\n");
	assert_int_equal(cfg_type(cfg_root(c)), CFG_NONE);
	cfg_close(&c);

	c = load(fx, "scalar.yaml", "just text\n");
	assert_int_equal(cfg_type(cfg_root(c)), CFG_SCALAR);
	assert_string_equal(cfg_str(cfg_root(c)), "just text");
	cfg_close(&c);

	c = load(fx, "seq.yaml", "- 1\n- 2\n");
	assert_int_equal(cfg_type(cfg_root(c)), CFG_SEQ);
	assert_int_equal(cfg_len(cfg_root(c)), 2);
	cfg_close(&c);
}

static void
test_parse_text(void **state)
{
	struct cfg *c;
	char        err[256];
	const char  text[] = "a: 1\nb: [2";
	const char *s;

	UNUSED(state);
	/* len bounds the input: only "a: 1\n" is parsed. */
	assert_int_equal(
	    cfg_parse(&c, "inline", text, 5, err, sizeof(err)), 0);
	assert_string_equal(cfg_path(c), "inline");
	assert_int_equal(cfg_len(cfg_root(c)), 1);
	assert_int_equal(
	    cfg_get_str(cfg_root(c), "a", NULL, &s, err, sizeof(err)), 0);
	assert_string_equal(s, "1");
	cfg_close(&c);

	/* The whole text is unterminated: the error names the given name. */
	assert_int_equal(
	    cfg_parse(&c, "inline", text, strlen(text), err, sizeof(err)),
	    ERR_CONFIG);
	assert_null(c);
	assert_true(strncmp(err, "inline:", 7) == 0);
}

static void
test_getters(void **state)
{
	struct fx             *fx = *state;
	struct cfg            *c  = load(fx, "g.yaml", doc_text);
	const struct cfg_node *r  = cfg_root(c);
	const char            *s, **strs;
	size_t                 n;
	int64_t                i;
	double                 d;
	int                    bl;
	char                  *e  = fx->err;
	size_t                 el = sizeof(fx->err);

	/* Present values. */
	assert_int_equal(cfg_get_str(r, "name", "def", &s, e, el), 0);
	assert_string_equal(s, "opc-test");
	assert_int_equal(cfg_get_int(r, "port", 1, &i, e, el), 0);
	assert_int_equal(i, 8080);
	assert_int_equal(cfg_get_int(r, "neg", 1, &i, e, el), 0);
	assert_int_equal(i, -17);
	assert_int_equal(cfg_get_int(r, "nested.inner.n", 1, &i, e, el), 0);
	assert_int_equal(i, 3);
	assert_int_equal(cfg_get_double(r, "ratio", 1.0, &d, e, el), 0);
	assert_true(d == 0.25);
	assert_int_equal(cfg_get_double(r, "port", 1.0, &d, e, el), 0);
	assert_true(d == 8080.0);
	assert_int_equal(cfg_get_bool(r, "flag_on", 0, &bl, e, el), 0);
	assert_int_equal(bl, 1);
	assert_int_equal(cfg_get_bool(r, "flag_off", 1, &bl, e, el), 0);
	assert_int_equal(bl, 0);
	assert_int_equal(cfg_get_strs(r, "nested.list", &strs, &n, e, el), 0);
	assert_int_equal(n, 3);
	assert_string_equal(strs[0], "a");
	assert_string_equal(strs[1], "b");
	assert_string_equal(strs[2], "c");
	assert_null(strs[3]);
	free(strs);

	/* Missing keys and YAML nulls yield the default. */
	assert_int_equal(cfg_get_str(r, "nope", "def", &s, e, el), 0);
	assert_string_equal(s, "def");
	assert_int_equal(cfg_get_str(r, "empty", "def", &s, e, el), 0);
	assert_string_equal(s, "def");
	assert_int_equal(cfg_get_str(r, "quoted_null", "def", &s, e, el), 0);
	assert_string_equal(s, "null");
	assert_int_equal(cfg_get_int(r, "nope", 42, &i, e, el), 0);
	assert_int_equal(i, 42);
	assert_int_equal(cfg_get_int(r, "tilde", -3, &i, e, el), 0);
	assert_int_equal(i, -3);
	assert_int_equal(cfg_get_ms(r, "nope", 1500, &i, e, el), 0);
	assert_int_equal(i, 1500);
	assert_int_equal(cfg_get_double(r, "nested.x", 2.5, &d, e, el), 0);
	assert_true(d == 2.5);
	assert_int_equal(cfg_get_bool(r, "empty", 1, &bl, e, el), 0);
	assert_int_equal(bl, 1);
	assert_int_equal(cfg_get_bool(r, "nope", 0, &bl, e, el), 0);
	assert_int_equal(bl, 0);
	strs = (const char **) 1;
	n    = 99;
	assert_int_equal(cfg_get_strs(r, "nope", &strs, &n, e, el), 0);
	assert_null(strs);
	assert_int_equal(n, 0);

	cfg_close(&c);
}

/* expect_err checks err starts with file:line:col of t.yaml and holds
 * every one of the NULL-terminated fragments. */
static void
expect_err(const struct fx *fx, const char *file, int line, int col, ...)
{
	char       *pfx = xasprintf("%s/%s:%d:%d: ", fx->dir, file, line, col);
	const char *frag;
	va_list     ap;

	if (strncmp(fx->err, pfx, strlen(pfx)) != 0)
		fail_msg("error '%s' does not start with '%s'", fx->err, pfx);
	free(pfx);
	va_start(ap, col);
	while ((frag = va_arg(ap, const char *)) != NULL)
		if (strstr(fx->err, frag) == NULL)
			fail_msg("error '%s' lacks '%s'", fx->err, frag);
	va_end(ap);
}

static void
test_wrong_types(void **state)
{
	struct fx             *fx = *state;
	struct cfg            *c  = load(fx, "w.yaml",
	                "num: abc\n"
	                            "map:\n"
	                            "  k: v\n"
	                            "list: [1, 2]\n"
	                            "partial: 12x\n"
	                            "big: 99999999999999999999\n"
	                            "b: maybe\n"
	                            "strs: [a, [b]]\n"
	                            "nan: nan\n"
	                            "spaced: ' 5'\n");
	const struct cfg_node *r  = cfg_root(c);
	const char            *s, **strs;
	size_t                 n;
	int64_t                i;
	double                 d;
	int                    bl;
	char                  *e  = fx->err;
	size_t                 el = sizeof(fx->err);

	/* On error the output still holds the default. */
	assert_int_equal(cfg_get_int(r, "num", 7, &i, e, el), ERR_CONFIG);
	assert_int_equal(i, 7);
	expect_err(
	    fx, "w.yaml", 1, 6, "num: expected an integer", "got 'abc'", NULL);

	assert_int_equal(cfg_get_str(r, "map", "d", &s, e, el), ERR_CONFIG);
	assert_string_equal(s, "d");
	expect_err(
	    fx, "w.yaml", 3, 3, "map: expected a string", "got a map", NULL);

	assert_int_equal(cfg_get_int(r, "list", 0, &i, e, el), ERR_CONFIG);
	expect_err(
	    fx, "w.yaml", 4, 7, "expected an integer", "got a list", NULL);

	assert_int_equal(cfg_get_int(r, "partial", 0, &i, e, el), ERR_CONFIG);
	expect_err(fx, "w.yaml", 5, 10, "got '12x'", NULL);

	assert_int_equal(cfg_get_int(r, "big", 0, &i, e, el), ERR_CONFIG);
	expect_err(fx, "w.yaml", 6, 6, "expected an integer", NULL);

	assert_int_equal(cfg_get_int(r, "spaced", 0, &i, e, el), ERR_CONFIG);
	expect_err(fx, "w.yaml", 10, 9, "expected an integer", NULL);

	assert_int_equal(cfg_get_bool(r, "b", 1, &bl, e, el), ERR_CONFIG);
	assert_int_equal(bl, 1);
	expect_err(fx, "w.yaml", 7, 4, "b: expected true or false",
	    "got 'maybe'", NULL);
	assert_int_equal(cfg_get_bool(r, "map", 1, &bl, e, el), ERR_CONFIG);
	expect_err(fx, "w.yaml", 3, 3, "expected true or false", NULL);

	assert_int_equal(cfg_get_double(r, "num", 1.5, &d, e, el), ERR_CONFIG);
	assert_true(d == 1.5);
	expect_err(fx, "w.yaml", 1, 6, "expected a number", NULL);
	assert_int_equal(cfg_get_double(r, "nan", 1.5, &d, e, el), ERR_CONFIG);
	expect_err(fx, "w.yaml", 9, 6, "expected a number", NULL);

	assert_int_equal(cfg_get_strs(r, "num", &strs, &n, e, el), ERR_CONFIG);
	assert_null(strs);
	expect_err(fx, "w.yaml", 1, 6, "expected a list of strings", NULL);
	assert_int_equal(
	    cfg_get_strs(r, "strs", &strs, &n, e, el), ERR_CONFIG);
	assert_null(strs);
	assert_int_equal(n, 0);
	expect_err(fx, "w.yaml", 8, 11, "strs[1]: expected a string",
	    "got a list", NULL);

	cfg_close(&c);
}

static void
test_durations(void **state)
{
	static const struct {
		const char *text;
		int64_t     ms;
	} ok[] = {
		{ "0", 0 },
		{ "250", 250 },
		{ "250ms", 250 },
		{ "5s", 5000 },
		{ "2m", 120000 },
		{ "1h", 3600000 },
		{ "1d", 86400000 },
		{ "\"3s\"", 3000 },
	};
	static const char *const bad[] = { "-5s", "5x", "s", "5 s", "5sec",
		"1.5s", "ms", "99999999999999999d", "[1]", "' 5s'" };
	struct fx               *fx    = *state;
	struct cfg              *c;
	char                    *text;
	int64_t                  v;
	size_t                   i;

	for (i = 0; i < nitems(ok); i++) {
		text = xasprintf("d: %s\n", ok[i].text);
		c    = load(fx, "d.yaml", text);
		free(text);
		v = -1;
		if (cfg_get_ms(cfg_root(c), "d", 7, &v, fx->err,
		        sizeof(fx->err)) != 0)
			fail_msg("'%s' refused: %s", ok[i].text, fx->err);
		if (v != ok[i].ms)
			fail_msg("'%s' gave %lld, want %lld", ok[i].text,
			    (long long) v, (long long) ok[i].ms);
		cfg_close(&c);
	}
	for (i = 0; i < nitems(bad); i++) {
		text = xasprintf("d: %s\n", bad[i]);
		c    = load(fx, "d.yaml", text);
		free(text);
		fx->err[0] = '\0';
		if (cfg_get_ms(cfg_root(c), "d", 7, &v, fx->err,
		        sizeof(fx->err)) != ERR_CONFIG)
			fail_msg(
			    "'%s' accepted as %lld", bad[i], (long long) v);
		assert_int_equal(v, 7);
		expect_err(fx, "d.yaml", 1, 4, "d: expected a duration", NULL);
		cfg_close(&c);
	}
}

static void
test_bools(void **state)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "on",
		"ON", "1" };
	static const char *const no[]  = { "false", "no", "No", "off", "0" };
	struct fx               *fx    = *state;
	struct cfg              *c;
	char                    *text;
	size_t                   i;
	int                      v;

	for (i = 0; i < nitems(yes) + nitems(no); i++) {
		int want = i < nitems(yes);

		text =
		    xasprintf("b: %s\n", want ? yes[i] : no[i - nitems(yes)]);
		c = load(fx, "b.yaml", text);
		v = -1;
		assert_int_equal(cfg_get_bool(cfg_root(c), "b", !want, &v,
		                     fx->err, sizeof(fx->err)),
		    0);
		if (v != want)
			fail_msg("%s gave %d", text, v);
		free(text);
		cfg_close(&c);
	}
}

static void
test_bad_yaml(void **state)
{
	struct fx *fx = *state;

	/* Syntax errors carry the parser's position. */
	load_fail(fx, "s1.yaml", "a: [1, 2\nb: 3\n");
	assert_non_null(strstr(fx->err, ":"));
	load_fail(fx, "s2.yaml", "a: 1\n  b: 2\n");
	expect_err(fx, "s2.yaml", 2, 4, NULL);
	load_fail(fx, "s3.yaml", "a: \"unterminated\n");

	/* Things the parser accepts but opcenter refuses. */
	load_fail(fx, "dup.yaml", "a: 1\nb: 2\na: 3\n");
	expect_err(fx, "dup.yaml", 3, 1, "duplicate key 'a'", NULL);
	load_fail(fx, "anchor.yaml", "a: &x 1\nb: *x\n");
	expect_err(fx, "anchor.yaml", 1, 4, "anchors are not supported", NULL);
	load_fail(fx, "anchor2.yaml", "a: &x {k: 1}\n");
	expect_err(fx, "anchor2.yaml", 1, 4, "anchors", NULL);
	load_fail(fx, "alias.yaml", "a: 1\nb: *x\n");
	expect_err(fx, "alias.yaml", 2, 4, "aliases are not supported", NULL);
	load_fail(fx, "multi.yaml", "a: 1\n---\nb: 2\n");
	expect_err(fx, "multi.yaml", 2, 1, "only one YAML document", NULL);
	load_fail(fx, "key.yaml", "? [1, 2]\n: v\n");
	expect_err(
	    fx, "key.yaml", 1, 3, "map keys must be plain scalars", NULL);
}

static void
test_too_deep(void **state)
{
	struct fx *fx = *state;
	struct buf b;
	int        i;

	buf_init(&b);
	for (i = 0; i < 100; i++)
		buf_puts(&b, "[");
	for (i = 0; i < 100; i++)
		buf_puts(&b, "]");
	buf_puts(&b, "\n");
	load_fail(fx, "deep.yaml", buf_cstr(&b));
	assert_non_null(strstr(fx->err, "nesting too deep"));
	buf_fini(&b);
}

static void
test_missing_file(void **state)
{
	struct fx  *fx   = *state;
	struct cfg *c    = (struct cfg *) 1;
	char       *path = xasprintf("%s/does-not-exist.yaml", fx->dir);

	assert_int_equal(cfg_load(&c, path, fx->err, sizeof(fx->err)), ERR_IO);
	assert_null(c);
	assert_true(strncmp(fx->err, path, strlen(path)) == 0);
	assert_non_null(strstr(fx->err, "No such file"));
	free(path);

	/* A directory cannot be read as a config either. */
	assert_int_not_equal(
	    cfg_load(&c, fx->dir, fx->err, sizeof(fx->err)), 0);
	assert_null(c);
}

static void
test_secret_env(void **state)
{
	struct fx             *fx = *state;
	struct cfg            *c  = load(fx, "e.yaml",
	                "token_env: OPCT_TEST_TOKEN\n"
	                            "unset_env: OPCT_TEST_UNSET_VAR\n"
	                            "empty_env: OPCT_TEST_EMPTY\n"
	                            "null_env:\n"
	                            "token: OPCT_TEST_TOKEN\n"
	                            "sub:\n"
	                            "  pw_env: OPCT_TEST_PW\n");
	const struct cfg_node *r  = cfg_root(c);

	assert_int_equal(setenv("OPCT_TEST_TOKEN", "s3cret-value", 1), 0);
	assert_int_equal(setenv("OPCT_TEST_PW", "pw-value", 1), 0);
	assert_int_equal(setenv("OPCT_TEST_EMPTY", "", 1), 0);
	unsetenv("OPCT_TEST_UNSET_VAR");

	assert_string_equal(cfg_secret(r, "token_env"), "s3cret-value");
	assert_string_equal(
	    cfg_secret(cfg_get(r, "sub"), "pw_env"), "pw-value");
	/* The environment is read at call time. */
	assert_int_equal(setenv("OPCT_TEST_TOKEN", "rotated", 1), 0);
	assert_string_equal(cfg_secret(r, "token_env"), "rotated");

	assert_null(cfg_secret(r, "unset_env"));  /* variable missing */
	assert_null(cfg_secret(r, "empty_env"));  /* variable empty */
	assert_null(cfg_secret(r, "null_env"));   /* key null */
	assert_null(cfg_secret(r, "absent_env")); /* key missing */
	/* Only *_env keys are secrets: never the value itself. */
	assert_null(cfg_secret(r, "token"));
	assert_null(cfg_secret(r, "env"));
	assert_null(cfg_secret(r, NULL));

	unsetenv("OPCT_TEST_TOKEN");
	unsetenv("OPCT_TEST_PW");
	unsetenv("OPCT_TEST_EMPTY");
	assert_null(cfg_secret(r, "token_env"));
	cfg_close(&c);
}

/* ---- config tables (cfg_tab.c) ------------------------------------------ */

static const struct cfg_key t_budget[] = {
	CFG_INT("max_per_hour", "10", "0", "1000", "runs an hour"),
	CFG_INT("max_per_day", "50", "1", NULL, "runs a day"),
	CFG_END,
};
static const struct cfg_key t_backend[] = {
	CFG_ENUM("kind", "stub", "stub|command", "what runs"),
	CFG_INT("retries", "2", "0", "5", "retries"),
	CFG_END,
};
static const struct cfg_key t_backend_el[] = {
	CFG_SECTION("*", t_backend, "a backend"),
	CFG_END,
};
static const struct cfg_key t_common[] = {
	CFG_STRS("upstreams", "instances it consumes"),
	CFG_END,
};
static const struct cfg_key t_router[] = {
	CFG_INCLUDE(t_common),
	CFG_INT("max_parallel", "1", "1", "256", "runs at once"),
	CFG_MS("lease", "30s", "1s", "1h", "a dispatch's lease"),
	CFG_NUM("ratio", "0.8", "0", "1", "a ratio"),
	CFG_BOOL("flag", "false", "a flag"),
	CFG_ENUM("mode", "slow", "slow|quick", "a mode"),
	CFG_STR("name", "x", "a name"),
	CFG_STR("comment", NULL, "no default"),
	CFG_STRS("names", "some names"),
	CFG_SECTION("budget", t_budget, "limits"),
	CFG_MAP("backends", t_backend_el, "backends by name"),
	CFG_END,
};

/* has_line: errs has a line starting with dir/file:line:col: followed by
 * text. */
static void
has_line(const struct fx *fx, const char *errs, const char *file, int line,
    int col, const char *text)
{
	char *want =
	    xasprintf("%s/%s:%d:%d: %s\n", fx->dir, file, line, col, text);

	if (strstr(errs, want) == NULL)
		fail_msg("'%s' lacks the line '%s'", errs, want);
	free(want);
}

static void
test_tab_check(void **state)
{
	struct fx             *fx = *state;
	struct cfg            *c  = load(fx, "t.yaml",
	                "router:\n"
	                            "  max_paralell: 3\n"
	                            "  x-note: an extension\n"
	                            "  x_more: { anything: [1, 2] }\n"
	                            "  lease: lots\n"
	                            "  max_parallel: 99999999999999999999999\n"
	                            "  budget:\n"
	                            "    max_per_hr: 5\n"
	                            "    max_per_day: 0\n"
	                            "  mode: fast\n"
	                            "  flag: maybe\n"
	                            "  zzz: 1\n"
	                            "  names: [a, [b]]\n"
	                            "  ratio: 1.5\n"
	                            "  backends:\n"
	                            "    b1: { kind: shell, retries: 9, bogus: 1 }\n"
	                            "    b2: { kind: command }\n"
	                            "  upstream: [a]\n"
	                            "  \"two\\nlines\": 1\n"
	                            "ok:\n"
	                            "  max_parallel: 256\n"
	                            "  lease: 2m\n"
	                            "  ratio: 0\n"
	                            "  budget: { max_per_hour: 0 }\n"
	                            "  upstreams: [a, b]\n"
	                            "  comment:\n"
	                            "  backends: { b: { kind: command } }\n"
	                            "scalar: 5\n");
	const struct cfg_node *r  = cfg_root(c);
	struct buf             b;
	const char            *e;

	buf_init(&b);
	assert_int_equal(
	    cfg_check(cfg_get(r, "router"), t_router, "router", &b), 15);
	e = buf_cstr(&b);
	has_line(fx, e, "t.yaml", 2, 3,
	    "unknown key 'max_paralell' in router "
	    "(did you mean 'max_parallel'?)");
	assert_null(strstr(e, "x-note"));
	assert_null(strstr(e, "x_more"));
	has_line(fx, e, "t.yaml", 5, 10,
	    "router.lease: expected a duration "
	    "from 1s to 1h, got 'lots'");
	has_line(fx, e, "t.yaml", 6, 17,
	    "router.max_parallel: expected an "
	    "integer from 1 to 256, got '99999999999999999999999' (out of "
	    "range)");
	has_line(fx, e, "t.yaml", 8, 5,
	    "unknown key 'max_per_hr' in "
	    "router.budget (did you mean 'max_per_hour'?)");
	has_line(fx, e, "t.yaml", 9, 18,
	    "router.budget.max_per_day: expected "
	    "an integer of at least 1, got '0'");
	has_line(fx, e, "t.yaml", 10, 9,
	    "router.mode: expected one of slow, "
	    "quick, got 'fast'");
	has_line(fx, e, "t.yaml", 11, 9,
	    "router.flag: expected true or false, "
	    "got 'maybe'");
	/* nothing close: no suggestion */
	has_line(fx, e, "t.yaml", 12, 3, "unknown key 'zzz' in router");
	has_line(fx, e, "t.yaml", 13, 14,
	    "router.names[1]: expected a "
	    "string, got a list");
	has_line(fx, e, "t.yaml", 14, 10,
	    "router.ratio: expected a number "
	    "from 0 to 1, got '1.5'");
	has_line(fx, e, "t.yaml", 16, 17,
	    "router.backends.b1.kind: expected "
	    "one of stub, command, got 'shell'");
	has_line(fx, e, "t.yaml", 16, 33,
	    "router.backends.b1.retries: "
	    "expected an integer from 0 to 5, got '9'");
	has_line(fx, e, "t.yaml", 16, 36,
	    "unknown key 'bogus' in "
	    "router.backends.b1");
	/* a key of an included table is suggested too */
	has_line(fx, e, "t.yaml", 18, 3,
	    "unknown key 'upstream' in router "
	    "(did you mean 'upstreams'?)");
	/* a line break in a key stays on the problem's one line */
	has_line(
	    fx, e, "t.yaml", 19, 3, "unknown key 'two\\x0alines' in router");

	buf_reset(&b);
	assert_int_equal(cfg_check(cfg_get(r, "ok"), t_router, "ok", &b), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(
	    cfg_check(cfg_get(r, "missing"), t_router, "m", &b), 0);
	assert_int_equal(
	    cfg_check(cfg_get(r, "scalar"), t_router, "scalar", &b), 1);
	has_line(fx, buf_cstr(&b), "t.yaml", 28, 9,
	    "scalar: expected a map, "
	    "got '5'");
	/* the top level */
	buf_reset(&b);
	assert_int_equal(cfg_check(r, t_router, "", &b), 3);
	has_line(fx, buf_cstr(&b), "t.yaml", 1, 1,
	    "unknown key 'router' at "
	    "the top level");

	/* drift: settings other than their defaults, compared as values;
	 * not a named entry's (backends.b.kind) */
	buf_reset(&b);
	assert_int_equal(cfg_drift(cfg_get(r, "ok"), t_router, "ok", &b), 4);
	e = buf_cstr(&b);
	assert_non_null(strstr(e, "ok.max_parallel: 256 (default 1)\n"));
	assert_non_null(strstr(e, "ok.lease: 2m (default 30s)\n"));
	assert_non_null(strstr(e, "ok.ratio: 0 (default 0.8)\n"));
	assert_non_null(strstr(e, "ok.budget.max_per_hour: 0 (default 10)\n"));
	buf_fini(&b);
	cfg_close(&c);
}

static void
test_tab_getters(void **state)
{
	struct fx             *fx = *state;
	struct cfg            *c  = load(fx, "g.yaml",
	                "max_parallel: 4\n"
	                            "lease: 30000\n"
	                            "budget: { max_per_day: 7 }\n"
	                            "mode: quick\n"
	                            "flag:\n"
	                            "ratio: 2\n");
	const struct cfg_node *r  = cfg_root(c);
	const char            *s  = "kept";
	char                  *e  = fx->err;
	size_t                 el = sizeof(fx->err);
	int64_t                i;
	double                 d;
	int                    bl;

	assert_int_equal(
	    cfg_tab_int(t_router, r, "max_parallel", &i, e, el), 0);
	assert_int_equal(i, 4);
	assert_int_equal(cfg_tab_ms(t_router, r, "lease", &i, e, el), 0);
	assert_int_equal(i, 30000);
	/* the defaults are the table's */
	assert_int_equal(
	    cfg_tab_int(t_router, r, "budget.max_per_hour", &i, e, el), 0);
	assert_int_equal(i, 10);
	assert_int_equal(
	    cfg_tab_int(t_router, r, "budget.max_per_day", &i, e, el), 0);
	assert_int_equal(i, 7);
	assert_int_equal(cfg_tab_bool(t_router, r, "flag", &bl, e, el), 0);
	assert_int_equal(bl, 0);
	assert_int_equal(cfg_tab_str(t_router, r, "mode", &s, e, el), 0);
	assert_string_equal(s, "quick");
	assert_int_equal(cfg_tab_str(t_router, r, "name", &s, e, el), 0);
	assert_string_equal(s, "x");
	/* no default: left alone */
	s = "kept";
	assert_int_equal(cfg_tab_str(t_router, r, "comment", &s, e, el), 0);
	assert_string_equal(s, "kept");
	/* the bounds hold in the getters too */
	assert_int_equal(
	    cfg_tab_num(t_router, r, "ratio", &d, e, el), ERR_CONFIG);
	expect_err(fx, "g.yaml", 6, 8, "ratio: expected a number from 0 to 1",
	    "got '2'", NULL);
	/* a path the table lacks, or of another type, is a bug, not a crash */
	assert_int_equal(
	    cfg_tab_int(t_router, r, "nope", &i, e, el), ERR_INVAL);
	assert_int_equal(
	    cfg_tab_int(t_router, r, "lease", &i, e, el), ERR_INVAL);

	assert_ptr_equal(
	    cfg_tab_find(t_router, "budget.max_per_day"), &t_budget[1]);
	assert_ptr_equal(cfg_tab_find(t_router, "upstreams"), &t_common[0]);
	assert_null(cfg_tab_find(t_router, "lease.x"));
	assert_string_equal(
	    cfg_tab_suggest(t_router, "max_paralell"), "max_parallel");
	assert_string_equal(cfg_tab_suggest(t_router, "lase"), "lease");
	assert_string_equal(cfg_tab_suggest(t_router, "Lease"), "lease");
	assert_null(cfg_tab_suggest(t_router, "zzz"));
	assert_null(cfg_tab_suggest(t_router, "timeout"));
	cfg_close(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_load_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_empty_and_scalar_docs, setup, teardown),
		cmocka_unit_test(test_parse_text),
		cmocka_unit_test_setup_teardown(test_getters, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_wrong_types, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_durations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bools, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_bad_yaml, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_too_deep, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_secret_env, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_tab_check, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_tab_getters, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
