/*
 * collect.c - pure parsers of what the observer reads (see collect.h):
 * lint and type checker output, TODO/FIXME counts, git outputs.
 *
 * Everything here takes bytes and a length, never trusts them to be
 * NUL-terminated or well-formed, and never reads past len: tool output,
 * coverage reports and file contents come from the observed repository.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect.h"
#include "opc/err.h"
#include "opc/util.h"

char *
collect_utf8_fix(char *s)
{
	size_t i = 0, len = strlen(s), k;

	while (i < len) {
		if ((k = utf8_len((const unsigned char *) s + i, len - i)) ==
		    0)
			s[i++] = '?';
		else
			i += k;
	}
	return (s);
}

char *
collect_text_dup(const char *s, size_t n)
{
	return (collect_utf8_fix(xstrndup(s, n)));
}

/* ------------------------------------------------------------ lint */

size_t
collect_dec_len(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && isdigit((unsigned char) s[i]))
		i++;
	return (i);
}

int64_t
collect_dec_value(const char *s, size_t n)
{
	int64_t v = 0;
	size_t  i;

	for (i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return (v);
}

static bool
blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isspace((unsigned char) s[i]))
			return (false);
	return (true);
}

/* strip_word drops a leading "word" (e.g. "error:") and the blanks after
 * it from [*s, *s + *n). */
static void
strip_word(const char **s, size_t *n, const char *word)
{
	size_t wl = strlen(word);

	if (*n < wl || memcmp(*s, word, wl) != 0)
		return;
	*s += wl;
	*n -= wl;
	while (*n > 0 && isspace((unsigned char) **s)) {
		(*s)++;
		(*n)--;
	}
}

/* code_of returns the first token of msg when it looks like a rule code
 * (^[A-Z]+[0-9]+$, a pylint-style trailing ':' allowed), else NULL. */
static char *
code_of(const char *msg, size_t n)
{
	size_t t = 0, a, d;

	while (t < n && !isspace((unsigned char) msg[t]))
		t++;
	if (t > 1 && msg[t - 1] == ':')
		t--;
	for (a = 0; a < t && isupper((unsigned char) msg[a]); a++)
		;
	d = collect_dec_len(msg + a, t - a);
	if (a == 0 || d == 0 || a + d != t)
		return (NULL);
	return (xstrndup(msg, t));
}

/* location finds the leftmost ":<line>:" after a non-blank path and
 * returns the offset of the message after it (and of the optional
 * "<col>:"), or 0 when the line has none. */
static size_t
location(const char *s, size_t len, size_t *plen, int64_t *line, int64_t *col)
{
	size_t i, d, c;

	for (i = 1; i < len; i++) {
		if (s[i] != ':' || blank(s, i))
			continue;
		d = collect_dec_len(s + i + 1, len - i - 1);
		if (d == 0 || d > MAX_DIGITS || i + 1 + d >= len ||
		    s[i + 1 + d] != ':')
			continue;
		*plen = i;
		*line = collect_dec_value(s + i + 1, d);
		i += d + 2;
		c    = collect_dec_len(s + i, len - i);
		*col = -1;
		if (c > 0 && c <= MAX_DIGITS && i + c < len &&
		    s[i + c] == ':') {
			*col = collect_dec_value(s + i, c);
			i += c + 1;
		}
		return (i);
	}
	return (0);
}

bool
collect_lint_parse_line(struct finding *f, const char *s, size_t len)
{
	const char *p, *msg;
	size_t      plen, mlen, at;
	int64_t     line, col;

	while (len > 0 && (s[len - 1] == '\r' || s[len - 1] == '\n'))
		len--;
	if ((at = location(s, len, &plen, &line, &col)) == 0)
		return (false);
	msg  = s + at;
	mlen = len - at;
	while (mlen > 0 && isspace((unsigned char) *msg)) {
		msg++;
		mlen--;
	}
	strip_word(&msg, &mlen, "error:");
	strip_word(&msg, &mlen, "warning:");
	while (mlen > 0 && isspace((unsigned char) msg[mlen - 1]))
		mlen--;
	/* A note explains the finding before it; it is not one. */
	if (mlen == 0 || (mlen >= 5 && memcmp(msg, "note:", 5) == 0))
		return (false);
	p = s;
	while (plen > 2 && p[0] == '.' && p[1] == '/') {
		p += 2;
		plen -= 2;
	}
	memset(f, 0, sizeof(*f));
	f->path    = collect_text_dup(p, plen);
	f->line    = line;
	f->col     = col;
	f->code    = code_of(msg, mlen);
	f->message = collect_text_dup(msg, mlen);
	return (true);
}

void
collect_lint_parse(struct findings *fs, const char *text, size_t len)
{
	const char    *p = text, *end = text + len, *nl;
	struct finding f;

	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t) (end - p))) == NULL)
			nl = end;
		if (collect_lint_parse_line(&f, p, (size_t) (nl - p))) {
			if (fs->n == fs->cap) {
				fs->cap = fs->cap ? fs->cap * 2 : 64;
				fs->v =
				    xrealloc(fs->v, fs->cap * sizeof(*fs->v));
			}
			fs->v[fs->n++] = f;
		}
		p = nl + 1;
	}
}

void
collect_findings_fini(struct findings *fs)
{
	size_t i;

	for (i = 0; i < fs->n; i++) {
		free(fs->v[i].path);
		free(fs->v[i].code);
		free(fs->v[i].message);
	}
	free(fs->v);
	memset(fs, 0, sizeof(*fs));
}

static int
cmp_str(const void *a, const void *b)
{
	return (strcmp(*(char *const *) a, *(char *const *) b));
}

static int
cmp_pcount(const void *a, const void *b)
{
	const struct pcount *x = a, *y = b;

	if (x->count != y->count)
		return (x->count > y->count ? -1 : 1);
	return (strcmp(x->path, y->path));
}

json_t *
collect_top_counts(struct pcount *v, size_t n, size_t max)
{
	json_t *a = json_array();
	size_t  i;

	if (n > 0)
		qsort(v, n, sizeof(*v), cmp_pcount);
	for (i = 0; i < n && i < max; i++)
		json_array_append_new(a,
		    json_pack("{s:s, s:I}", "path", v[i].path, "count",
		        (json_int_t) v[i].count));
	return (a);
}

void
collect_pcounts_free(struct pcount *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

static json_t *
violation_json(const struct finding *f)
{
	return (json_pack("{s:s, s:I, s:o, s:o, s:s}", "path", f->path, "line",
	    (json_int_t) f->line, "col",
	    f->col >= 0 ? json_integer(f->col) : json_null(), "code",
	    f->code ? json_string(f->code) : json_null(), "message",
	    f->message));
}

json_t *
collect_lint_summary(const struct findings *fs)
{
	struct pcount *pc    = NULL;
	const char   **paths = NULL;
	json_t        *o, *tv = json_array();
	size_t         i, np  = 0;

	if (fs->n > 0) {
		paths = xcalloc(fs->n, sizeof(*paths));
		pc    = xcalloc(fs->n, sizeof(*pc));
	}
	for (i = 0; i < fs->n; i++)
		paths[i] = fs->v[i].path;
	if (fs->n > 0)
		qsort(paths, fs->n, sizeof(*paths), cmp_str);
	for (i = 0; i < fs->n; i++) {
		if (np == 0 || strcmp(pc[np - 1].path, paths[i]) != 0)
			pc[np++].path = xstrdup(paths[i]);
		pc[np - 1].count++;
	}
	for (i = 0; i < fs->n && i < TOP_N; i++)
		json_array_append_new(tv, violation_json(&fs->v[i]));
	o = json_pack("{s:I, s:I, s:o, s:o}", "count", (json_int_t) fs->n,
	    "distinct_files", (json_int_t) np, "top_files",
	    collect_top_counts(pc, np, TOP_N), "top_violations", tv);
	collect_pcounts_free(pc, np);
	free(paths);
	return (o);
}

/* ------------------------------------------------------------ todo */

bool
collect_todo_binary(const char *text, size_t len)
{
	return (memchr(text, '\0', len < 8192 ? len : 8192) != NULL);
}

static int64_t
occurrences(const char *text, size_t len, const char *word)
{
	size_t      wl = strlen(word);
	const char *p = text, *end = text + len, *hit;
	int64_t     n = 0;

	/* memmem() is a GNU extension: memchr on the first byte instead */
	while ((size_t) (end - p) >= wl &&
	    (hit = memchr(p, word[0], (size_t) (end - p) - wl + 1)) != NULL) {
		if (memcmp(hit, word, wl) == 0) {
			n++;
			p = hit + wl;
		} else
			p = hit + 1;
	}
	return (n);
}

void
collect_todo_count(const char *text, size_t len, int64_t *todo, int64_t *fixme)
{
	*todo += occurrences(text, len, "TODO");
	*fixme += occurrences(text, len, "FIXME");
}

/* ------------------------------------------------------------- git */

int64_t
collect_count_lines(const char *text, size_t len)
{
	const char *p = text, *end = text + len, *nl;
	int64_t     n = 0;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t) (end - p))) == NULL)
			nl = end;
		if (!blank(p, (size_t) (nl - p)))
			n++;
	}
	return (n);
}

int
collect_git_log(const char *text, size_t len, int64_t *ct, char **subject)
{
	size_t d = collect_dec_len(text, len), e;

	*subject = NULL;
	if (d == 0 || d > MAX_DIGITS || d >= len || text[d] != '\0')
		return (ERR_PROTO);
	*ct = collect_dec_value(text, d);
	for (e = d + 1; e < len && text[e] != '\n'; e++)
		;
	*subject = collect_text_dup(text + d + 1, e - d - 1);
	return (0);
}

char *
collect_first_line(const char *text, size_t len, size_t max)
{
	const char *p = text, *end = text + len, *nl, *s;
	size_t      n;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t) (end - p))) == NULL)
			nl = end;
		for (s = p; s < nl && isspace((unsigned char) *s); s++)
			;
		for (n = (size_t) (nl - s);
		     n > 0 && isspace((unsigned char) s[n - 1]); n--)
			;
		if (n == 0)
			continue;
		if (n > max) {
			n = max;
			/* back off a cut UTF-8 sequence */
			while (n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80)
				n--;
		}
		return (collect_text_dup(s, n));
	}
	return (NULL);
}
