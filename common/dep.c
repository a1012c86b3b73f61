/*
 * dep.c - dependency pins, installed versions and drift (see opc/dep.h).
 *
 * The parsers read only what a pin needs and skip what they do not know
 * (options, URLs, path and git dependencies); every line they cannot
 * read becomes one "file:line: why" error.  Texts are bounded by the
 * caller (dep_read_repo reads at most 1 MiB a file); nothing here
 * recurses on its input.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "opc/dep.h"
#include "opc/err.h"
#include "opc/util.h"

#define MANIFEST_MAX (1024 * 1024)

void
dep_report_init(struct dep_report *r)
{
	memset(r, 0, sizeof(*r));
}

static void
item_fini(struct dep_item *it)
{
	free(it->eco);
	free(it->name);
	free(it->file);
	free(it->spec);
	free(it->pinned);
	free(it->installed);
	free(it->latest);
	free(it->note);
}

void
dep_report_fini(struct dep_report *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		item_fini(&r->v[i]);
	free(r->v);
	for (i = 0; i < r->nerrors; i++)
		free(r->errors[i]);
	free(r->errors);
	memset(r, 0, sizeof(*r));
}

static void
add_error(struct dep_report *r, const char *file, int line, const char *why)
{
	r->errors = xrealloc(r->errors, (r->nerrors + 1) * sizeof(*r->errors));
	r->errors[r->nerrors++] = line > 0
	    ? xasprintf("%s:%d: %s", file, line, why)
	    : xasprintf("%s: %s", file, why);
}

/* add_item adds a pin; a later pin of the same eco and name replaces
 * none (the first wins, as pip reads a requirements file). */
static struct dep_item *
add_item(struct dep_report *r, const char *eco, const char *name,
    const char *file, const char *spec, bool dev)
{
	struct dep_item *it;
	char            *a, *b;
	size_t           i;

	a = dep_norm_name(eco, name);
	for (i = 0; i < r->n; i++) {
		if (strcmp(r->v[i].eco, eco) != 0)
			continue;
		b = dep_norm_name(eco, r->v[i].name);
		if (strcmp(a, b) == 0) {
			free(a);
			free(b);
			return (NULL);
		}
		free(b);
	}
	free(a);
	r->v = xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
	it   = &r->v[r->n++];
	memset(it, 0, sizeof(*it));
	it->eco    = xstrdup(eco);
	it->name   = xstrdup(name);
	it->file   = xstrdup(file);
	it->spec   = xstrdup_null(spec != NULL && *spec != '\0' ? spec : NULL);
	it->dev    = dev;
	it->status = "unknown";
	return (it);
}

char *
dep_norm_name(const char *eco, const char *name)
{
	char  *s = xstrdup(name), *o = s;
	size_t i;

	if (strcmp(eco, "python") != 0)
		return (s);
	for (i = 0; name[i] != '\0'; i++) {
		if (name[i] == '-' || name[i] == '_' || name[i] == '.') {
			if (o == s || o[-1] != '-')
				*o++ = '-';
		} else
			*o++ = (char) tolower((unsigned char) name[i]);
	}
	*o = '\0';
	return (s);
}

/* ---- versions ------------------------------------------------------------
 */

static const char *
ver_start(const char *v)
{
	while (*v == '=' || *v == '^' || *v == '~' || *v == ' ' || *v == 'v')
		v++;
	return (v);
}

int
dep_vercmp(const char *a, const char *b)
{
	a = ver_start(a);
	b = ver_start(b);
	while (*a != '\0' || *b != '\0') {
		if (isdigit((unsigned char) *a) &&
		    isdigit((unsigned char) *b)) {
			unsigned long long x = strtoull(a, (char **) &a, 10),
			                   y = strtoull(b, (char **) &b, 10);

			if (x != y)
				return (x < y ? -1 : 1);
		} else if (*a == '\0' || *b == '\0') {
			/* 1.0 == 1.0.0; 1.0 < 1.0.1; 1.0rc1 < 1.0 */
			const char *rest = *a != '\0' ? a : b;
			int         sign = *a != '\0' ? 1 : -1;

			while (*rest == '.' || *rest == '0')
				rest++;
			if (*rest == '\0')
				return (0);
			return (isdigit((unsigned char) *rest) ? sign : -sign);
		} else if (*a == *b) {
			a++;
			b++;
		} else if (*a == '.' || *b == '.') {
			/* 1.0.1 > 1.0rc1 */
			return (*a == '.' ? 1 : -1);
		} else
			return (
			    (unsigned char) *a < (unsigned char) *b ? -1 : 1);
	}
	return (0);
}

/* ver_ok: a version is digits, letters and .-+_* and starts with a
 * digit (after v). */
static bool
ver_ok(const char *v)
{
	if (*v == 'v')
		v++;
	if (!isdigit((unsigned char) *v))
		return (false);
	for (; *v != '\0'; v++)
		if (!isalnum((unsigned char) *v) &&
		    strchr(".-+_*", *v) == NULL)
			return (false);
	return (true);
}

/* ---- requirements.txt and PEP 508 ----------------------------------------
 */

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char) *s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char) e[-1]))
		*--e = '\0';
	return (s);
}

static int
pep508_spec(struct dep_report *r, const char *file, const char *name,
    char *spec, bool dev, const char **why)
{
	struct dep_item *it;
	char            *p, *sp, *tok, *save = NULL;
	char             c;

	if (*spec == '(') {
		spec++;
		if ((p = strrchr(spec, ')')) == NULL) {
			*why = "unterminated (";
			return (-1);
		}
		*p   = '\0';
		spec = trim(spec);
	}
	if (*spec != '\0' && strchr("=<>!~", *spec) == NULL) {
		*why = "cannot read the version constraint";
		return (-1);
	}
	sp = xstrdup(spec);
	/* validate every clause before adding anything */
	for (tok = strtok_r(sp, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		tok = trim(tok);
		p   = tok;
		while (*p != '\0' && strchr("=<>!~", *p) != NULL)
			p++;
		p = trim(p);
		if (p == tok || *p == '\0' || !ver_ok(p)) {
			free(sp);
			*why = "cannot read the version constraint";
			return (-1);
		}
	}
	free(sp);
	if ((it = add_item(r, "python", name, file, spec, dev)) == NULL)
		return (0);
	sp = xstrdup(spec);
	for (tok = strtok_r(sp, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		tok = trim(tok);
		p   = tok;
		while (*p != '\0' && strchr("=<>!~", *p) != NULL)
			p++;
		c  = *p;
		*p = '\0';
		if (strcmp(tok, "==") == 0 || strcmp(tok, "===") == 0) {
			*p = c;
			free(it->pinned);
			it->pinned = xstrdup(trim(p));
			it->exact  = strchr(it->pinned, '*') == NULL;
		} else if ((strcmp(tok, ">=") == 0 ||
		               strcmp(tok, "~=") == 0) &&
		    it->pinned == NULL) {
			*p         = c;
			it->pinned = xstrdup(trim(p));
		}
	}
	free(sp);
	return (0);
}

/* pep508 reads "name[extras] (specs) ; marker" into a pin.  Returns 0, or
 * -1 with why set. */
static int
pep508(struct dep_report *r, const char *file, char *s, bool dev,
    const char **why)
{
	char *name, *p, *spec, *nm;
	int   rv;

	if ((p = strchr(s, ';')) != NULL)
		*p = '\0';
	s    = trim(s);
	name = s;
	if (!isalnum((unsigned char) *s)) {
		*why = "not a requirement";
		return (-1);
	}
	while (*s != '\0' &&
	    (isalnum((unsigned char) *s) || strchr("-_.", *s) != NULL))
		s++;
	nm = xstrndup(name, (size_t) (s - name));
	if (*s == '[') {
		if ((p = strchr(s + 1, ']')) == NULL) {
			free(nm);
			*why = "unterminated extras";
			return (-1);
		}
		s = p + 1;
	}
	spec = trim(s);
	if (*spec == '@') {
		/* a direct URL: no version to compare */
		add_item(r, "python", nm, file, NULL, dev);
		free(nm);
		return (0);
	}
	rv = pep508_spec(r, file, nm, spec, dev, why);
	free(nm);
	return (rv);
}

int
dep_parse_requirements(
    struct dep_report *r, const char *file, const char *text)
{
	char       *buf = xstrdup(text), *line, *next, *s, *p;
	const char *why;
	int         n = 0, ln = 0, start;

	/* a backslash at the end of a line joins the next: both become
	 * blanks, the newline a \v so the lines are still counted */
	for (p = buf; (p = strchr(p, '\\')) != NULL; p++) {
		if (p[1] == '\n') {
			p[0] = ' ';
			p[1] = '\v';
		} else if (p[1] == '\r' && p[2] == '\n') {
			p[0] = p[1] = ' ';
			p[2]        = '\v';
		}
	}
	for (line = buf; line != NULL; line = next) {
		start = ++ln;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		for (p = line; (p = strchr(p, '\v')) != NULL; p++)
			ln++;
		if ((p = strstr(line, " #")) != NULL ||
		    (p = strstr(line, "\t#")) != NULL)
			*p = '\0';
		s = trim(line);
		if (*s == '\0' || *s == '#' || *s == '-')
			continue; /* options: -r, -e, --index-url, ... */
		if (strstr(s, "://") != NULL || *s == '.' || *s == '/')
			continue; /* a URL or a path */
		why = NULL;
		if (pep508(r, file, s, false, &why) != 0) {
			char msg[200];

			snprintf(msg, sizeof(msg), "%s: '%.80s'", why, s);
			add_error(r, file, start, msg);
			n++;
		}
	}
	free(buf);
	return (n);
}

/* ---- pyproject.toml (the subset pins use) -------------------------------
 */

/* toml_string reads a basic or literal string at *pp into out (escapes
 * \" and \\ only); -1 when unterminated. */
static int
toml_string(const char **pp, char *out, size_t outlen)
{
	const char *p = *pp;
	char        q = *p++;
	size_t      o = 0;

	while (*p != '\0' && *p != q && *p != '\n') {
		if (q == '"' && *p == '\\' && p[1] != '\0')
			p++;
		if (o + 1 < outlen)
			out[o++] = *p;
		p++;
	}
	out[o] = '\0';
	if (*p != q)
		return (-1);
	*pp = p + 1;
	return (0);
}

/* poetry_spec turns a poetry constraint into a PEP 440-ish spec for
 * the pin: "1.2.3" is exact, "^1.2"/"~1.2"/">=1.2" a lower bound. */
static void
poetry_pin(struct dep_item *it, const char *spec)
{
	const char *v = spec;

	if (*v == '=' && v[1] == '=')
		v += 2;
	if (isdigit((unsigned char) *v) && ver_ok(v) &&
	    strchr(v, '*') == NULL) {
		it->pinned = xstrdup(v);
		it->exact  = true;
		return;
	}
	if (*v == '^' || *v == '~' || *v == '>')
		v = ver_start(v + (v[0] == '>' && v[1] == '=' ? 2 : 0));
	if (ver_ok(v)) {
		char *c = xstrdup(v), *e = c;

		while (*e != '\0' && *e != ',' && *e != ' ')
			e++;
		*e         = '\0';
		it->pinned = c;
	}
}

/* The tables of a pyproject.toml that name dependencies. */
enum pyproject_table {
	T_OTHER,
	T_PROJECT,
	T_OPTIONAL,
	T_POETRY,
	T_POETRY_DEV
};

/* pyproject_table_of: which of them table header tbl is. */
static enum pyproject_table
pyproject_table_of(const char *tbl)
{
	if (strcmp(tbl, "project") == 0)
		return (T_PROJECT);
	if (strcmp(tbl, "project.optional-dependencies") == 0)
		return (T_OPTIONAL);
	if (strcmp(tbl, "tool.poetry.dependencies") == 0)
		return (T_POETRY);
	if (strcmp(tbl, "tool.poetry.dev-dependencies") == 0 ||
	    (strncmp(tbl, "tool.poetry.group.", 18) == 0 &&
	        strstr(tbl, ".dependencies") != NULL))
		return (T_POETRY_DEV);
	return (T_OTHER);
}

/* poetry_entry reads a poetry dependency's value at *pp (a version
 * string, or an inline table with version = "..."), adds key's item and
 * returns how many errors it added. */
static int
poetry_entry(struct dep_report *r, const char *file, int ln, const char **pp,
    const char *key, bool dev)
{
	struct dep_item *it;
	char             val[512];
	int              n = 0;

	val[0] = '\0';
	if (**pp == '"' || **pp == '\'') {
		if (toml_string(pp, val, sizeof(val)) != 0) {
			add_error(r, file, ln, "unterminated string");
			n++;
		}
	} else if (**pp == '{') {
		/* { version = "^1.2", ... } */
		const char *e = strchr(*pp, '}'), *vv = strstr(*pp, "version");

		if (e == NULL) {
			add_error(r, file, ln, "unterminated inline table");
			n++;
		} else if (vv != NULL && vv < e) {
			vv = strchr(vv, '=');
			while (vv != NULL && (*vv == '=' || *vv == ' '))
				vv++;
			if (vv != NULL && (*vv == '"' || *vv == '\''))
				(void) toml_string(&vv, val, sizeof(val));
		}
	} else {
		add_error(r, file, ln, "expected a version string or table");
		n++;
	}
	if (key[0] != '\0' &&
	    (it = add_item(r, "python", key, file, val[0] != '\0' ? val : NULL,
	         dev)) != NULL &&
	    val[0] != '\0')
		poetry_pin(it, val);
	return (n);
}

int
dep_parse_pyproject(struct dep_report *r, const char *file, const char *text)
{
	enum pyproject_table t = T_OTHER;
	const char          *p = text, *q, *why;
	char                 key[128], val[512], tbl[256], msg[300];
	int                  n = 0, ln = 1, arr = 0, arr_start = 0;
	bool                 arr_dev = false;
	size_t               k;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		if (arr) {
			/* inside a dependencies array: strings, commas */
			if (*p == '"' || *p == '\'') {
				if (toml_string(&p, val, sizeof(val)) != 0) {
					add_error(r, file, ln,
					    "unterminated string");
					n++;
					arr = 0;
				} else {
					char *v = xstrdup(val);

					why = NULL;
					if (pep508(r, file, v, arr_dev,
					        &why) != 0) {
						snprintf(msg, sizeof(msg),
						    "%s: '%.80s'", why, val);
						add_error(r, file, ln, msg);
						n++;
					}
					free(v);
				}
				continue;
			}
			if (*p == ']') {
				arr = 0;
				p++;
				continue;
			}
			if (*p == ',') {
				p++;
				continue;
			}
			if (*p == '#')
				while (*p != '\0' && *p != '\n')
					p++;
			if (*p == '\n') {
				ln++;
				p++;
				continue;
			}
			if (*p == '\0')
				break;
			if (*p == '[') {
				/* a table header: the array never closed */
				add_error(r, file, arr_start,
				    "unterminated dependencies array");
				n++;
				arr = 0;
				continue;
			}
			add_error(r, file, ln, "unexpected text in an array");
			n++;
			while (*p != '\0' && *p != '\n')
				p++;
			continue;
		}
		if (*p == '[') {
			q = strchr(p, ']');
			if (q == NULL || memchr(p, '\n', (size_t) (q - p))) {
				add_error(r, file, ln, "bad table header");
				n++;
				t = T_OTHER;
			} else {
				k = (size_t) (q - p - 1);
				if (p[1] == '[') /* [[array of tables]] */
					k = 0;
				snprintf(
				    tbl, sizeof(tbl), "%.*s", (int) k, p + 1);
				t = pyproject_table_of(tbl);
			}
			while (*p != '\0' && *p != '\n')
				p++;
			continue;
		}
		if (*p == '\n') {
			ln++;
			p++;
			continue;
		}
		if (*p == '#' || t == T_OTHER) {
			/* skip the line; a multi-line string or array in
			 * another table may hold anything, so skip by
			 * line and let headers resynchronise */
			while (*p != '\0' && *p != '\n')
				p++;
			continue;
		}
		/* key = value */
		k = 0;
		if (*p == '"' || *p == '\'') {
			if (toml_string(&p, key, sizeof(key)) != 0) {
				add_error(r, file, ln, "unterminated key");
				n++;
				while (*p != '\0' && *p != '\n')
					p++;
				continue;
			}
		} else {
			while (*p != '\0' && *p != '=' && *p != '\n' &&
			    *p != ' ' && k + 1 < sizeof(key))
				key[k++] = *p++;
			key[k] = '\0';
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '=') {
			add_error(r, file, ln, "expected key = value");
			n++;
			while (*p != '\0' && *p != '\n')
				p++;
			continue;
		}
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if ((t == T_PROJECT && strcmp(key, "dependencies") == 0) ||
		    t == T_OPTIONAL) {
			if (*p != '[') {
				add_error(r, file, ln,
				    "dependencies: expected an array");
				n++;
				while (*p != '\0' && *p != '\n')
					p++;
				continue;
			}
			p++;
			arr       = 1;
			arr_start = ln;
			arr_dev   = t == T_OPTIONAL;
			continue;
		}
		if ((t == T_POETRY || t == T_POETRY_DEV) &&
		    strcmp(key, "python") != 0)
			n += poetry_entry(
			    r, file, ln, &p, key, t == T_POETRY_DEV);
		while (*p != '\0' && *p != '\n')
			p++;
	}
	if (arr) {
		add_error(
		    r, file, arr_start, "unterminated dependencies array");
		n++;
	}
	return (n);
}

/* ---- package.json ------------------------------------------------------
 */

static void
npm_pin(struct dep_item *it, const char *spec)
{
	const char *v = spec;

	if (*v == '=')
		v = ver_start(v);
	if (isdigit((unsigned char) *v) && ver_ok(v) &&
	    strpbrk(v, "*xX") == NULL && strchr(v, ' ') == NULL) {
		it->pinned = xstrdup(v);
		it->exact  = true;
		return;
	}
	if (*v == '^' || *v == '~')
		v++;
	else if (v[0] == '>' && v[1] == '=')
		v += 2;
	else
		return; /* *, latest, file:, git+..., a range: no pin */
	v = ver_start(v);
	if (isdigit((unsigned char) *v)) {
		char *c = xstrdup(v), *e = c;

		while (*e != '\0' && *e != ' ' && *e != '|')
			e++;
		*e         = '\0';
		it->pinned = c;
	}
}

int
dep_parse_package_json(
    struct dep_report *r, const char *file, const char *text)
{
	static const char *const sect[] = { "dependencies",
		"devDependencies" };
	json_error_t             je;
	json_t                  *j, *d, *v;
	const char              *name;
	struct dep_item         *it;
	char                     msg[300];
	size_t                   i;
	int                      n = 0;

	j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL || !json_is_object(j)) {
		snprintf(msg, sizeof(msg), "not a JSON object: %s",
		    j == NULL ? je.text : "top level");
		add_error(r, file, j == NULL ? je.line : 0, msg);
		json_decref(j);
		return (1);
	}
	for (i = 0; i < 2; i++) {
		d = json_object_get(j, sect[i]);
		if (d == NULL)
			continue;
		if (!json_is_object(d)) {
			snprintf(msg, sizeof(msg), "%s: expected an object",
			    sect[i]);
			add_error(r, file, 0, msg);
			n++;
			continue;
		}
		json_object_foreach (d, name, v) {
			if (!json_is_string(v) || *name == '\0') {
				snprintf(msg, sizeof(msg),
				    "%s.%.80s: expected a version string",
				    sect[i], name);
				add_error(r, file, 0, msg);
				n++;
				continue;
			}
			it = add_item(r, "node", name, file,
			    json_string_value(v), i == 1);
			if (it != NULL)
				npm_pin(it, json_string_value(v));
		}
	}
	json_decref(j);
	return (n);
}

/* ---- go.mod ------------------------------------------------------------
 */

static int
gomod_req(struct dep_report *r, const char *file, char *s, int ln)
{
	struct dep_item *it;
	char            *mod, *ver, *save = NULL, *p;
	bool             indirect = strstr(s, "// indirect") != NULL;

	if ((p = strstr(s, "//")) != NULL)
		*p = '\0';
	mod = strtok_r(s, " \t", &save);
	ver = strtok_r(NULL, " \t", &save);
	if (mod == NULL)
		return (0);
	if (ver == NULL || !ver_ok(ver) || strtok_r(NULL, " \t", &save)) {
		add_error(r, file, ln, "expected 'module vX.Y.Z'");
		return (1);
	}
	if ((it = add_item(r, "go", mod, file, ver, indirect)) != NULL) {
		it->pinned = xstrdup(ver);
		it->exact  = true;
	}
	return (0);
}

int
dep_parse_gomod(struct dep_report *r, const char *file, const char *text)
{
	char *buf = xstrdup(text), *line, *next, *s;
	int   n = 0, ln = 0, block = 0, block_start = 0;

	for (line = buf; line != NULL; line = next) {
		ln++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		s = trim(line);
		if (block) {
			if (*s == ')') {
				block = 0;
				continue;
			}
			if (*s == '\0' || strncmp(s, "//", 2) == 0)
				continue;
			if (block == 1)
				n += gomod_req(r, file, s, ln);
			continue;
		}
		if (strncmp(s, "require", 7) == 0 &&
		    (s[7] == ' ' || s[7] == '\t' || s[7] == '(')) {
			s = trim(s + 7);
			if (*s == '(') {
				block       = 1;
				block_start = ln;
				if (*trim(s + 1) != '\0') {
					add_error(r, file, ln,
					    "text after 'require ('");
					n++;
				}
			} else
				n += gomod_req(r, file, s, ln);
		} else if (strchr(s, '(') != NULL &&
		    (strncmp(s, "replace", 7) == 0 ||
		        strncmp(s, "exclude", 7) == 0 ||
		        strncmp(s, "retract", 7) == 0 ||
		        strncmp(s, "tool", 4) == 0 ||
		        strncmp(s, "godebug", 7) == 0)) {
			block       = 2; /* a block we skip */
			block_start = ln;
		}
	}
	if (block) {
		add_error(r, file, block_start, "unterminated block");
		n++;
	}
	free(buf);
	return (n);
}

/* ---- reading a repo ------------------------------------------------------
 */

static int
read_one(struct dep_report *r, const char *dir, const char *name,
    int (*parse)(struct dep_report *, const char *, const char *))
{
	char  *path = xasprintf("%s/%s", dir, name), *text = NULL;
	size_t len;
	int    rv, n = 0;

	rv = file_read(&text, &len, path, MANIFEST_MAX);
	if (rv == 0 && strlen(text) != len) {
		add_error(r, name, 0, "binary content (a NUL byte)");
		n = 1;
	} else if (rv == 0)
		n = parse(r, name, text);
	else if (access(path, F_OK) == 0) {
		add_error(r, name, 0,
		    rv == ERR_TOOBIG ? "larger than 1 MiB" : "cannot read it");
		n = 1;
	}
	free(text);
	free(path);
	return (n);
}

static int
cmp_names(const void *a, const void *b)
{
	return (strcmp(*(char *const *) a, *(char *const *) b));
}

int
dep_read_repo(struct dep_report *r, const char *dir)
{
	struct dirent *de;
	DIR           *d;
	char         **reqs  = NULL;
	size_t         nreqs = 0, i, len;
	int            n     = 0;

	/* requirements.txt, requirements-dev.txt, ... in name order */
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			len = strlen(de->d_name);
			if (strncmp(de->d_name, "requirements", 12) == 0 &&
			    len > 4 &&
			    strcmp(de->d_name + len - 4, ".txt") == 0) {
				reqs = xrealloc(
				    reqs, (nreqs + 1) * sizeof(*reqs));
				reqs[nreqs++] = xstrdup(de->d_name);
			}
		}
		closedir(d);
	}
	if (nreqs > 1)
		qsort(reqs, nreqs, sizeof(*reqs), cmp_names);
	for (i = 0; i < nreqs; i++) {
		n += read_one(r, dir, reqs[i], dep_parse_requirements);
		free(reqs[i]);
	}
	free(reqs);
	n += read_one(r, dir, "pyproject.toml", dep_parse_pyproject);
	n += read_one(r, dir, "package.json", dep_parse_package_json);
	n += read_one(r, dir, "go.mod", dep_parse_gomod);
	dep_installed_files(r, dir);
	return (n);
}

/* ---- installed -----------------------------------------------------------
 */

static struct dep_item *
find_item(struct dep_report *r, const char *eco, const char *name)
{
	char  *a = dep_norm_name(eco, name), *b;
	size_t i;

	for (i = 0; i < r->n; i++) {
		if (strcmp(r->v[i].eco, eco) != 0)
			continue;
		b = dep_norm_name(eco, r->v[i].name);
		if (strcmp(a, b) == 0) {
			free(a);
			free(b);
			return (&r->v[i]);
		}
		free(b);
	}
	free(a);
	return (NULL);
}

/* set_installed keeps the highest version seen. */
static void
set_installed(struct dep_item *it, const char *v)
{
	if (it == NULL || *v == '\0')
		return;
	if (it->installed == NULL || dep_vercmp(v, it->installed) > 0) {
		free(it->installed);
		it->installed = xstrdup(v);
	}
}

static bool
is_dir(const char *p)
{
	struct stat st;

	return (stat(p, &st) == 0 && S_ISDIR(st.st_mode));
}

static void
venv_scan(struct dep_report *r, const char *sp)
{
	struct dirent *de;
	DIR           *d;
	char          *name, *dash;
	size_t         len;

	if ((d = opendir(sp)) == NULL)
		return;
	r->have_python = true;
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len <= 10 ||
		    strcmp(de->d_name + len - 10, ".dist-info") != 0)
			continue;
		/* <name>-<version>.dist-info; the name has no '-' */
		name = xstrndup(de->d_name, len - 10);
		if ((dash = strchr(name, '-')) != NULL) {
			*dash = '\0';
			set_installed(find_item(r, "python", name), dash + 1);
		}
		free(name);
	}
	closedir(d);
}

static void
python_files(struct dep_report *r, const char *dir)
{
	static const char *const venvs[] = { ".venv", "venv" };
	struct dirent           *de;
	DIR                     *d;
	char                    *lib, *sp;
	size_t                   i;

	for (i = 0; i < 2; i++) {
		lib = xasprintf("%s/%s/lib", dir, venvs[i]);
		if ((d = opendir(lib)) != NULL) {
			while ((de = readdir(d)) != NULL)
				if (strncmp(de->d_name, "python", 6) == 0) {
					sp = xasprintf("%s/%s/site-packages",
					    lib, de->d_name);
					venv_scan(r, sp);
					free(sp);
				}
			closedir(d);
		}
		free(lib);
	}
}

static void
node_files(struct dep_report *r, const char *dir)
{
	char   *nm = xasprintf("%s/node_modules", dir), *p, *text;
	json_t *j;
	size_t  i, len;

	if (!is_dir(nm)) {
		free(nm);
		return;
	}
	r->have_node = true;
	for (i = 0; i < r->n; i++) {
		if (strcmp(r->v[i].eco, "node") != 0 ||
		    strstr(r->v[i].name, "..") != NULL)
			continue;
		p = xasprintf("%s/%s/package.json", nm, r->v[i].name);
		if (file_read(&text, &len, p, MANIFEST_MAX) == 0) {
			j = json_loads(text, 0, NULL);
			if (json_is_string(json_object_get(j, "version")))
				set_installed(&r->v[i],
				    json_string_value(
				        json_object_get(j, "version")));
			json_decref(j);
			free(text);
		}
		free(p);
	}
	free(nm);
}

static void
go_files(struct dep_report *r, const char *dir)
{
	char  *p = xasprintf("%s/go.sum", dir), *text, *line, *next, *v, *e;
	char  *save;
	size_t len;

	if (file_read(&text, &len, p, 16 * MANIFEST_MAX) != 0) {
		free(p);
		return;
	}
	free(p);
	r->have_go = true;
	for (line = text; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		save = NULL;
		p    = strtok_r(line, " \t", &save);
		v    = strtok_r(NULL, " \t", &save);
		if (p == NULL || v == NULL)
			continue;
		if ((e = strstr(v, "/go.mod")) != NULL)
			*e = '\0';
		set_installed(find_item(r, "go", p), v);
	}
	free(text);
}

void
dep_installed_files(struct dep_report *r, const char *dir)
{
	python_files(r, dir);
	node_files(r, dir);
	go_files(r, dir);
}

int
dep_installed_pip_json(struct dep_report *r, const char *text)
{
	json_t *j = json_loads(text, 0, NULL), *e;
	size_t  i;

	if (!json_is_array(j)) {
		add_error(r, "pip list", 0, "not a JSON list");
		json_decref(j);
		return (-1);
	}
	r->have_python = true;
	json_array_foreach (j, i, e) {
		const char *n = json_string_value(json_object_get(e, "name")),
		           *v = json_string_value(
		               json_object_get(e, "version"));
		struct dep_item *it;

		if (n == NULL || v == NULL ||
		    (it = find_item(r, "python", n)) == NULL ||
		    it->installed != NULL)
			continue;
		it->installed = xstrdup(v);
	}
	json_decref(j);
	return (0);
}

/* ---- status --------------------------------------------------------------
 */

/* prefix_match: a python pin "1.2.*" */
static bool
wildcard_ok(const char *pin, const char *v)
{
	const char *star = strchr(pin, '*');

	return (star != NULL &&
	    strncmp(ver_start(pin), ver_start(v),
	        (size_t) (star - ver_start(pin))) == 0);
}

void
dep_classify(struct dep_report *r)
{
	struct dep_item *it;
	bool             have;
	size_t           i;

	for (i = 0; i < r->n; i++) {
		it = &r->v[i];
		free(it->note);
		it->note = NULL;
		have     = strcmp(it->eco, "python") == 0 ? r->have_python
		        : strcmp(it->eco, "node") == 0    ? r->have_node
		                                          : r->have_go;
		if (it->installed == NULL) {
			it->status = have ? "missing" : "unknown";
			it->note   = xstrdup(have
			          ? "pinned but not installed"
			          : "nothing installed to compare with");
		} else if (it->pinned != NULL && it->exact &&
		    dep_vercmp(it->installed, it->pinned) != 0) {
			it->status = "drift";
			it->note   = xasprintf("installed %s, pinned %s",
			      it->installed, it->pinned);
		} else if (it->pinned != NULL && !it->exact &&
		    strchr(it->pinned, '*') != NULL &&
		    !wildcard_ok(it->pinned, it->installed)) {
			it->status = "drift";
			it->note   = xasprintf("installed %s, pinned %s",
			      it->installed, it->pinned);
		} else if (it->pinned != NULL && !it->exact &&
		    strchr(it->pinned, '*') == NULL &&
		    dep_vercmp(it->installed, it->pinned) < 0) {
			it->status = "drift";
			it->note   = xasprintf("installed %s, older than %s",
			      it->installed, it->spec ? it->spec : it->pinned);
		} else
			it->status = "ok";
		if (it->latest != NULL && strcmp(it->status, "ok") == 0 &&
		    dep_vercmp(it->latest, it->installed) > 0 &&
		    (it->pinned == NULL ||
		        dep_vercmp(it->latest, it->pinned) > 0)) {
			it->status = "outdated";
			free(it->note);
			it->note = xasprintf("%s available, %s installed",
			    it->latest, it->installed);
		}
	}
}

const char *
dep_task_kind(const char *status)
{
	if (status == NULL)
		return (NULL);
	if (strcmp(status, "missing") == 0)
		return ("breakage");
	if (strcmp(status, "drift") == 0)
		return ("drift");
	if (strcmp(status, "outdated") == 0)
		return ("update");
	return (NULL);
}

static json_t *
str_or_null(const char *s)
{
	return (s != NULL ? json_string(s) : json_null());
}

json_t *
dep_report_json(const struct dep_report *r, const char *repo)
{
	json_t *st = json_array(), *er = json_array(), *counts = json_object(),
	       *c, *notes;
	const struct dep_item *it;
	size_t                 i;

	for (i = 0; i < r->n; i++) {
		it    = &r->v[i];
		notes = json_array();
		if (it->note != NULL)
			json_array_append_new(notes, json_string(it->note));
		json_array_append_new(st,
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o,"
		              " s:s, s:b, s:b, s:o}",
		        "key", "", "label", "", "kind", it->eco, "name",
		        it->name, "file", it->file, "spec",
		        str_or_null(it->spec), "pinned_version",
		        str_or_null(it->pinned), "installed_version",
		        str_or_null(it->installed), "upstream_latest",
		        str_or_null(it->latest), "status", it->status,
		        "healthy", dep_task_kind(it->status) == NULL, "dev",
		        it->dev, "notes", notes));
		c = json_array_get(st, json_array_size(st) - 1);
		json_object_set_new(c, "key",
		    json_sprintf("%s:%s:%s", repo, it->eco, it->name));
		json_object_set_new(
		    c, "label", json_sprintf("%s (%s)", it->name, it->eco));
		c = json_object_get(counts, it->status);
		json_object_set_new(counts, it->status,
		    json_integer(c ? json_integer_value(c) + 1 : 1));
	}
	for (i = 0; i < r->nerrors; i++)
		json_array_append_new(er, json_string(r->errors[i]));
	return (json_pack("{s:o, s:o, s:o}", "statuses", st, "errors", er,
	    "counts", counts));
}
