/*
 * scope.c - the allowed_paths policy.
 *
 * A changed path is allowed when some pattern matches it.  A pattern that
 * ends in "/" means everything below it: "p/" becomes the glob "p/" plus
 * "*".  A pattern matches when fnmatch(pattern, path, 0) does (so "*"
 * crosses "/"), when the path lies below it, or when it is the path
 * itself.  Paths and patterns are normalised like Python's
 * os.path.normpath first; only a "./" component is dropped, never the dot
 * of a name like ".github".
 */
#include <fnmatch.h>
#include <string.h>

#include "run.h"

char *
scope_normpath(const char *p)
{
	struct strv parts = { 0 };
	const char *s     = p, *e;
	char       *out, *tmp;
	int         abs = p[0] == '/';
	size_t      n;

	while (*s != '\0') {
		while (*s == '/')
			s++;
		if (*s == '\0')
			break;
		e = s + strcspn(s, "/");
		n = (size_t) (e - s);
		if (n == 1 && s[0] == '.') {
			/* drop "." */
		} else if (n == 2 && s[0] == '.' && s[1] == '.') {
			if (parts.n > 0 &&
			    strcmp(parts.v[parts.n - 1], "..") != 0) {
				free(parts.v[--parts.n]);
				parts.v[parts.n] = NULL;
			} else if (!abs)
				strv_push(&parts, "..");
		} else
			strv_push_owned(&parts, xstrndup(s, n));
		s = e;
	}
	tmp = strv_join(&parts, "/");
	if (abs)
		out = xasprintf("/%s", tmp);
	else if (tmp[0] == '\0')
		out = xstrdup(".");
	else
		out = xstrdup(tmp);
	free(tmp);
	strv_free(&parts);
	return (out);
}

static int
match_one(const char *path, const char *raw)
{
	char  *pat, *norm, *below;
	size_t rl = strlen(raw);
	int    ok;

	if (rl == 0)
		return (0);
	norm = scope_normpath(raw);
	if (raw[rl - 1] == '/')
		pat = xasprintf(
		    "%s%s*", norm, strcmp(norm, "/") == 0 ? "" : "/");
	else
		pat = xstrdup(norm);
	below = xasprintf("%s/", pat);
	ok    = fnmatch(pat, path, 0) == 0 ||
	    strncmp(path, below, strlen(below)) == 0 || strcmp(path, pat) == 0;
	free(below);
	free(pat);
	free(norm);
	return (ok);
}

int
scope_allowed(const char *path, const struct strv *allowed)
{
	char  *norm;
	size_t i;
	int    ok = 0;

	if (allowed->n == 0)
		return (1);
	norm = scope_normpath(path);
	for (i = 0; i < allowed->n && !ok; i++)
		ok = match_one(norm, allowed->v[i]);
	free(norm);
	return (ok);
}

void
scope_check(
    struct strv *viol, const struct changes *cs, const struct strv *allowed)
{
	size_t i;

	for (i = 0; i < cs->n; i++)
		if (!scope_allowed(cs->v[i].path, allowed))
			strv_push(viol, cs->v[i].path);
}
