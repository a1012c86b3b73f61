/*
 * strv.c - NULL-terminated vectors of owned strings: argv lists,
 * environments, path lists.  v[n] is NULL as soon as one element exists,
 * so v can go straight to execvp().
 */
#include <ctype.h>
#include <string.h>

#include "opc/strv.h"
#include "opc/util.h"

void
strv_push_owned(struct strv *sv, char *s)
{
	sv->v          = xrealloc(sv->v, (sv->n + 2) * sizeof(*sv->v));
	sv->v[sv->n++] = s;
	sv->v[sv->n]   = NULL;
}

void
strv_push(struct strv *sv, const char *s)
{
	strv_push_owned(sv, xstrdup(s));
}

void
strv_free(struct strv *sv)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

char *
strv_join(const struct strv *sv, const char *sep)
{
	struct buf b;
	size_t     i;

	buf_init(&b);
	for (i = 0; i < sv->n; i++) {
		if (i > 0)
			buf_puts(&b, sep);
		buf_puts(&b, sv->v[i]);
	}
	buf_cstr(&b);
	return (b.data);
}

void
strv_split_ws(struct strv *sv, const char *s)
{
	const char *p;

	for (;;) {
		while (*s != '\0' && isspace((unsigned char) *s))
			s++;
		if (*s == '\0')
			break;
		for (p = s; *p != '\0' && !isspace((unsigned char) *p); p++)
			;
		strv_push_owned(sv, xstrndup(s, (size_t) (p - s)));
		s = p;
	}
}

void
strv_setenv(struct strv *sv, const char *name, const char *value)
{
	size_t nlen = strlen(name), i;
	char  *kv   = xasprintf("%s=%s", name, value);

	for (i = 0; i < sv->n; i++) {
		if (strncmp(sv->v[i], name, nlen) == 0 &&
		    sv->v[i][nlen] == '=') {
			free(sv->v[i]);
			sv->v[i] = kv;
			return;
		}
	}
	strv_push_owned(sv, kv);
}
