/*
 * test_dep.c - the dependency reader (common/dep.c): each manifest's
 * parser, bad files (an error line, never a crash), installed versions
 * from a venv, node_modules, go.sum and pip list, and the statuses.
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

#include "opc/dep.h"
#include "opc/util.h"

static const struct dep_item *
item(const struct dep_report *r, const char *eco, const char *name)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->v[i].eco, eco) == 0 &&
		    strcmp(r->v[i].name, name) == 0)
			return (&r->v[i]);
	return (NULL);
}

static void
test_requirements(void **state)
{
	struct dep_report      r;
	const struct dep_item *it;

	UNUSED(state);
	dep_report_init(&r);
	assert_int_equal(dep_parse_requirements(&r, "requirements.txt",
	                     "# comment\n"
	                     "requests==2.31.0  # pinned\n"
	                     "Flask[async]>=2.0,<3 ; python_version >= '3.8'\n"
	                     "-r other.txt\n"
	                     "--index-url https://example.invalid/simple\n"
	                     "git+https://example.invalid/x.git\n"
	                     "six\n"
	                     "urllib3 == 1.26.* \n"
	                     "numpy \\\n"
	                     "  ==1.26.4\n"
	                     "requests==1.0\n"
	                     "bad line here!!\n"
	                     "pkg==not a version\n"),
	    2);
	assert_int_equal(r.n, 5);
	it = item(&r, "python", "requests");
	assert_non_null(it);
	assert_string_equal(it->pinned, "2.31.0"); /* the first wins */
	assert_true(it->exact);
	it = item(&r, "python", "Flask");
	assert_string_equal(it->pinned, "2.0");
	assert_false(it->exact);
	assert_string_equal(it->spec, ">=2.0,<3");
	it = item(&r, "python", "six");
	assert_null(it->pinned);
	it = item(&r, "python", "urllib3");
	assert_string_equal(it->pinned, "1.26.*");
	assert_false(it->exact);
	it = item(&r, "python", "numpy");
	assert_string_equal(it->pinned, "1.26.4");
	assert_int_equal(r.nerrors, 2);
	assert_non_null(strstr(r.errors[0], "requirements.txt:12: "));
	assert_non_null(strstr(r.errors[1], "requirements.txt:13: "));
	dep_report_fini(&r);
}

static void
test_pyproject(void **state)
{
	struct dep_report      r;
	const struct dep_item *it;

	UNUSED(state);
	dep_report_init(&r);
	assert_int_equal(
	    dep_parse_pyproject(&r, "pyproject.toml",
	        "[build-system]\n"
	        "requires = [\"setuptools>=61\"]\n"
	        "[project]\n"
	        "name = \"demo\"\n"
	        "dependencies = [\n"
	        "  \"httpx==0.27.0\",  # pinned\n"
	        "  'pydantic>=2.5',\n"
	        "]\n"
	        "[project.optional-dependencies]\n"
	        "dev = [\"pytest==8.0.0\"]\n"
	        "[tool.poetry.dependencies]\n"
	        "python = \"^3.10\"\n"
	        "rich = \"^13.7\"\n"
	        "click = { version = \"8.1.7\", optional = true }\n"
	        "[tool.poetry.group.dev.dependencies]\n"
	        "ruff = \"0.4.4\"\n"),
	    0);
	assert_int_equal(r.n, 6);
	assert_null(item(&r, "python", "setuptools"));
	assert_null(item(&r, "python", "python"));
	it = item(&r, "python", "httpx");
	assert_string_equal(it->pinned, "0.27.0");
	assert_true(it->exact);
	assert_false(it->dev);
	it = item(&r, "python", "pydantic");
	assert_string_equal(it->pinned, "2.5");
	assert_false(it->exact);
	assert_true(item(&r, "python", "pytest")->dev);
	it = item(&r, "python", "rich");
	assert_string_equal(it->pinned, "13.7");
	assert_false(it->exact);
	it = item(&r, "python", "click");
	assert_string_equal(it->pinned, "8.1.7");
	assert_true(it->exact);
	assert_true(item(&r, "python", "ruff")->dev);
	dep_report_fini(&r);

	/* bad files: errors with their lines, what can be read is kept */
	dep_report_init(&r);
	assert_true(dep_parse_pyproject(&r, "pyproject.toml",
	                "[project]\n"
	                "dependencies = [\n"
	                "  \"ok==1.0\",\n"
	                "  \"unterminated\n"
	                "[tool.poetry.dependencies]\n"
	                "x = 5\n"
	                "y = { version = \"1.0\"\n"
	                "[broken\n") >= 3);
	assert_non_null(item(&r, "python", "ok"));
	assert_non_null(strstr(r.errors[0], "pyproject.toml:4: "));
	dep_report_fini(&r);

	dep_report_init(&r);
	assert_int_equal(dep_parse_pyproject(&r, "pyproject.toml",
	                     "[project]\ndependencies = [\"a==1\",\n"),
	    1);
	assert_non_null(strstr(r.errors[0], "unterminated dependencies"));
	dep_report_fini(&r);
}

static void
test_package_json(void **state)
{
	struct dep_report      r;
	const struct dep_item *it;

	UNUSED(state);
	dep_report_init(&r);
	assert_int_equal(dep_parse_package_json(&r, "package.json",
	                     "{\"name\": \"x\", \"dependencies\": {"
	                     "\"left-pad\": \"1.3.0\", \"react\": \"^18.2.0\","
	                     "\"@scope/lib\": \"~2.1.0\", \"any\": \"*\","
	                     "\"local\": \"file:../local\", \"n\": 5},"
	                     "\"devDependencies\": {\"jest\": \">=29.0.0\"}}"),
	    1);
	assert_int_equal(r.n, 6);
	it = item(&r, "node", "left-pad");
	assert_string_equal(it->pinned, "1.3.0");
	assert_true(it->exact);
	it = item(&r, "node", "react");
	assert_string_equal(it->pinned, "18.2.0");
	assert_false(it->exact);
	assert_string_equal(item(&r, "node", "@scope/lib")->pinned, "2.1.0");
	assert_null(item(&r, "node", "any")->pinned);
	assert_null(item(&r, "node", "local")->pinned);
	it = item(&r, "node", "jest");
	assert_true(it->dev);
	assert_string_equal(it->pinned, "29.0.0");
	assert_non_null(strstr(r.errors[0], "dependencies.n"));
	dep_report_fini(&r);

	dep_report_init(&r);
	assert_int_equal(
	    dep_parse_package_json(&r, "package.json", "{\"dependencies\": "),
	    1);
	assert_int_equal(r.n, 0);
	assert_non_null(strstr(r.errors[0], "package.json:"));
	dep_report_fini(&r);

	dep_report_init(&r);
	assert_int_equal(dep_parse_package_json(&r, "package.json", "[1]"), 1);
	assert_int_equal(dep_parse_package_json(
	                     &r, "package.json", "{\"dependencies\": []}"),
	    1);
	dep_report_fini(&r);
}

static void
test_gomod(void **state)
{
	struct dep_report      r;
	const struct dep_item *it;

	UNUSED(state);
	dep_report_init(&r);
	assert_int_equal(dep_parse_gomod(&r, "go.mod",
	                     "module example.com/x\n\ngo 1.22\n\n"
	                     "require github.com/pkg/errors v0.9.1\n"
	                     "require (\n"
	                     "\tgolang.org/x/sys v0.20.0 // indirect\n"
	                     "\t// a comment\n"
	                     "\tgithub.com/stretchr/testify v1.9.0\n"
	                     "\tbroken\n"
	                     ")\n"
	                     "replace (\n\tfoo => ../foo\n)\n"
	                     "exclude github.com/x/y v1.0.0\n"),
	    1);
	assert_int_equal(r.n, 3);
	it = item(&r, "go", "golang.org/x/sys");
	assert_string_equal(it->pinned, "v0.20.0");
	assert_true(it->dev); /* indirect */
	assert_true(it->exact);
	assert_non_null(strstr(r.errors[0], "go.mod:10: "));
	dep_report_fini(&r);

	dep_report_init(&r);
	assert_int_equal(
	    dep_parse_gomod(&r, "go.mod", "require (\n a v1\n"), 1);
	assert_non_null(strstr(r.errors[0], "unterminated"));
	dep_report_fini(&r);
}

static void
test_vercmp(void **state)
{
	UNUSED(state);
	assert_int_equal(dep_vercmp("1.2.3", "1.2.3"), 0);
	assert_true(dep_vercmp("1.10.0", "1.9.9") > 0);
	assert_true(dep_vercmp("v0.9.1", "0.10.0") < 0);
	assert_int_equal(dep_vercmp("1.0", "1.0.0"), 0);
	assert_true(dep_vercmp("1.0.1", "1.0") > 0);
	assert_true(dep_vercmp("1.0rc1", "1.0") < 0);
	assert_true(dep_vercmp("^2.0.0", "1.99") > 0);
	assert_true(dep_vercmp("", "1") < 0);
	assert_int_equal(dep_vercmp("", ""), 0);
}

static void
put(const char *path, const char *text)
{
	assert_int_equal(write_file_atomic(path, text, strlen(text)), 0);
}

static void
test_repo(void **state)
{
	char                   dir[] = "/tmp/test_dep.XXXXXX", *p;
	struct dep_report      r;
	const struct dep_item *it;
	json_t                *j;

	UNUSED(state);
	assert_non_null(mkdtemp(dir));
	p = xasprintf("%s/requirements.txt", dir);
	put(p, "requests==2.31.0\nflask>=2.0\nmissing-pkg==1.0\nfree\n");
	free(p);
	p = xasprintf("%s/.venv/lib/python3.11/site-packages/"
	              "requests-2.30.0.dist-info",
	    dir);
	assert_int_equal(mkdirs(p, 0700), 0);
	free(p);
	p = xasprintf(
	    "%s/.venv/lib/python3.11/site-packages/Flask-3.0.2.dist-info",
	    dir);
	assert_int_equal(mkdirs(p, 0700), 0);
	free(p);
	p = xasprintf("%s/.venv/lib/python3.11/site-packages/"
	              "free-0.1.dist-info",
	    dir);
	assert_int_equal(mkdirs(p, 0700), 0);
	free(p);
	p = xasprintf("%s/package.json", dir);
	put(p,
	    "{\"dependencies\": {\"left-pad\": \"1.3.0\", \"gone\": "
	    "\"^1.0.0\"}}");
	free(p);
	p = xasprintf("%s/node_modules/left-pad", dir);
	assert_int_equal(mkdirs(p, 0700), 0);
	free(p);
	p = xasprintf("%s/node_modules/left-pad/package.json", dir);
	put(p, "{\"version\": \"1.3.0\"}");
	free(p);
	p = xasprintf("%s/go.mod", dir);
	put(p,
	    "module x\nrequire (\n a.example/m v1.2.0\n b.example/n "
	    "v0.1.0\n)\n");
	free(p);
	p = xasprintf("%s/go.sum", dir);
	put(p, "a.example/m v1.2.0 h1:x=\na.example/m v1.2.0/go.mod h1:y=\n");
	free(p);
	p = xasprintf("%s/pyproject.toml", dir);
	put(p, "[project]\ndependencies = [\"bad!!\"]\n");
	free(p);

	dep_report_init(&r);
	assert_int_equal(dep_read_repo(&r, dir), 1);
	dep_classify(&r);
	assert_string_equal(item(&r, "python", "requests")->status, "drift");
	assert_string_equal(item(&r, "python", "flask")->status, "ok");
	assert_string_equal(item(&r, "python", "flask")->installed, "3.0.2");
	assert_string_equal(
	    item(&r, "python", "missing-pkg")->status, "missing");
	assert_string_equal(item(&r, "python", "free")->status, "ok");
	assert_string_equal(item(&r, "node", "left-pad")->status, "ok");
	assert_string_equal(item(&r, "node", "gone")->status, "missing");
	assert_string_equal(item(&r, "go", "a.example/m")->status, "ok");
	assert_string_equal(item(&r, "go", "b.example/n")->status, "missing");
	assert_string_equal(dep_task_kind("missing"), "breakage");
	assert_string_equal(dep_task_kind("drift"), "drift");
	assert_null(dep_task_kind("ok"));

	/* a newer version upstream: outdated */
	it                               = item(&r, "node", "left-pad");
	((struct dep_item *) it)->latest = xstrdup("1.4.0");
	dep_classify(&r);
	assert_string_equal(it->status, "outdated");

	j = dep_report_json(&r, "demo");
	assert_int_equal(json_array_size(json_object_get(j, "statuses")), r.n);
	assert_int_equal(json_array_size(json_object_get(j, "errors")), 1);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(j, "counts"), "missing")),
	    3);
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_array_get(json_object_get(j, "statuses"), 0), "key")),
	    "demo:python:requests");
	json_decref(j);
	dep_report_fini(&r);

	/* pip list fills what the files did not */
	dep_report_init(&r);
	assert_int_equal(
	    dep_parse_requirements(&r, "r.txt", "Six==1.16.0\n"), 0);
	assert_int_equal(
	    dep_installed_pip_json(&r, "{\"not\": \"a list\"}"), -1);
	assert_int_equal(dep_installed_pip_json(&r,
	                     "[{\"name\": \"six\", \"version\": \"1.16.0\"}]"),
	    0);
	dep_classify(&r);
	assert_string_equal(item(&r, "python", "Six")->status, "ok");
	dep_report_fini(&r);

	/* an unreadable manifest: an error, no crash */
	p = xasprintf("%s/package.json", dir);
	put(p, "{\"dependencies\": {\"x\"\0: 1}}");
	assert_int_equal(write_file_atomic(p, "{\"a\":\0}", 7), 0);
	free(p);
	dep_report_init(&r);
	assert_true(dep_read_repo(&r, dir) >= 1);
	dep_report_fini(&r);
	assert_int_equal(rmtree(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requirements),
		cmocka_unit_test(test_pyproject),
		cmocka_unit_test(test_package_json),
		cmocka_unit_test(test_gomod),
		cmocka_unit_test(test_vercmp),
		cmocka_unit_test(test_repo),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
