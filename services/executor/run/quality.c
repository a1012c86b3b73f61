/*
 * quality.c - markers a backend should not sneak in, and its questions.
 *
 * The erosion patterns are the original's Python regexes.  POSIX ERE has
 * neither \s nor \b: \s becomes [[:space:]], and since every pattern ends
 * with a word character, a trailing \b is checked by hand: the byte after
 * the match must not be a word character (else the search resumes one
 * byte further).  Only lines the patch adds are counted, once per line and
 * pattern.  Findings are warnings, never a failure; at the threshold
 * (limits.quality_threshold, the original's 3) they make the [quality]
 * note of the pull request and the board comment.
 *
 * A backend asks for input with "<!-- cp:question: TEXT -->".
 */
#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "opc/err.h"
#include "run.h"

static const struct {
	const char *display; /* the original's regex: the JSON key */
	const char *name;    /* its name in the [quality] note */
	const char *ere;
} patterns[QUALITY_N] = {
	{ "#\\s*noqa\\b", "noqa", "#[[:space:]]*noqa" },
	{ "#\\s*type:\\s*ignore\\b", "type_ignore",
	    "#[[:space:]]*type:[[:space:]]*ignore" },
	{ "#\\s*pragma:\\s*no\\s*cover\\b", "pragma_no_cover",
	    "#[[:space:]]*pragma:[[:space:]]*no[[:space:]]*cover" },
	{ "#\\s*pylint:\\s*disable\\b", "pylint_disable",
	    "#[[:space:]]*pylint:[[:space:]]*disable" },
	{ "#\\s*ruff:\\s*noqa\\b", "ruff_noqa",
	    "#[[:space:]]*ruff:[[:space:]]*noqa" },
	{ "@pytest\\.mark\\.skip\\b", "pytest_skip", "@pytest\\.mark\\.skip" },
	{ "@pytest\\.mark\\.xfail\\b", "pytest_xfail",
	    "@pytest\\.mark\\.xfail" },
	/* the original's third marker (operator guide, "Quality Erosion
	 * Warnings"): a bare pass statement, alone on its line */
	{ "^\\s*pass\\s*(#.*)?$", "pass",
	    "^[[:space:]]*pass[[:space:]]*(#.*)?$" },
};

#define QUESTION_OPEN "<!-- cp:question:"
#define QUESTION_CLOSE "-->"

const char *
quality_pattern(size_t i)
{
	return (i < QUALITY_N ? patterns[i].display : NULL);
}

char *
quality_note(const int counts[QUALITY_N], int threshold)
{
	json_t *o = json_object();
	char   *js, *note;
	size_t  i;
	int     total = 0;

	for (i = 0; i < QUALITY_N; i++)
		if (counts[i] > 0) {
			total += counts[i];
			json_object_set_new(
			    o, patterns[i].name, json_integer(counts[i]));
		}
	if (total == 0 || total < threshold) {
		json_decref(o);
		return (NULL);
	}
	/* {"noqa": 2, "type_ignore": 1}: the original's json.dumps form */
	js = json_dumps(o, JSON_PRESERVE_ORDER);
	json_decref(o);
	note = xasprintf("[quality] This run added %d quality suppressions: "
	                 "%s. Review before merging.",
	    total, js != NULL ? js : "{}");
	free(js);
	return (note);
}

static int
is_word(char c)
{
	return (isalnum((unsigned char) c) || c == '_');
}

/* match_b returns 1 when re matches line with a word boundary after it. */
static int
match_b(const regex_t *re, const char *line)
{
	regmatch_t  m;
	const char *p = line;

	while (*p != '\0' &&
	    regexec(re, p, 1, &m, p == line ? 0 : REG_NOTBOL) == 0) {
		if (!is_word(p[m.rm_eo]))
			return (1);
		p += m.rm_so + 1;
	}
	return (0);
}

/* next_line returns the line at *off (copied into b) or NULL at the end. */
static const char *
next_line(struct buf *b, const char *s, size_t len, size_t *off)
{
	const char *nl;
	size_t      n;

	if (*off >= len)
		return (NULL);
	nl = memchr(s + *off, '\n', len - *off);
	n  = nl != NULL ? (size_t) (nl - (s + *off)) : len - *off;
	buf_reset(b);
	buf_append(b, s + *off, n);
	*off += n + (nl != NULL);
	return (buf_cstr(b));
}

static int
is_added(const char *l)
{
	return (l[0] == '+' && strncmp(l, "+++", 3) != 0);
}

int
quality_scan(int counts[QUALITY_N], const char *patch, size_t len)
{
	regex_t     re[QUALITY_N];
	struct buf  b;
	const char *l;
	size_t      i, nre = 0, off = 0;
	int         rv = 0;

	memset(counts, 0, QUALITY_N * sizeof(counts[0]));
	for (nre = 0; nre < QUALITY_N; nre++)
		if (regcomp(&re[nre], patterns[nre].ere, REG_EXTENDED) != 0) {
			rv = ERR_INVAL;
			goto out;
		}
	buf_init(&b);
	while ((l = next_line(&b, patch, len, &off)) != NULL) {
		if (!is_added(l))
			continue;
		for (i = 0; i < QUALITY_N; i++)
			if (match_b(&re[i], l + 1))
				counts[i]++;
	}
	buf_fini(&b);
out:
	for (i = 0; i < nre; i++)
		regfree(&re[i]);
	return (rv);
}

static const char *
find(const char *s, size_t len, const char *needle)
{
	size_t nl = strlen(needle), i;

	for (i = 0; i + nl <= len; i++)
		if (memcmp(s + i, needle, nl) == 0)
			return (s + i);
	return (NULL);
}

char *
quality_question_extract(const char *s, size_t len)
{
	const char *p, *e, *end = s + len;

	if (s == NULL)
		return (NULL);
	while ((p = find(s, (size_t) (end - s), QUESTION_OPEN)) != NULL) {
		p += strlen(QUESTION_OPEN);
		if ((e = find(p, (size_t) (end - p), QUESTION_CLOSE)) == NULL)
			return (NULL);
		while (p < e && isspace((unsigned char) *p))
			p++;
		while (e > p && isspace((unsigned char) e[-1]))
			e--;
		if (e > p)
			return (xstrndup(p, (size_t) (e - p)));
		s = e + strlen(QUESTION_CLOSE); /* empty: look further */
	}
	return (NULL);
}

#define PLAN_OPEN "<!-- cp:plan:"

void
quality_plan_extract(struct strv *out, const char *s, size_t len)
{
	const char *p, *e, *end = s + len;

	if (s == NULL)
		return;
	while (out->n < QUALITY_PLAN_MAX &&
	    (p = find(s, (size_t) (end - s), PLAN_OPEN)) != NULL) {
		p += strlen(PLAN_OPEN);
		if ((e = find(p, (size_t) (end - p), QUESTION_CLOSE)) == NULL)
			return;
		s = e + strlen(QUESTION_CLOSE);
		while (p < e && isspace((unsigned char) *p))
			p++;
		while (e > p && isspace((unsigned char) e[-1]))
			e--;
		if (e > p)
			strv_push_owned(out,
			    xstrndup(p,
			        (size_t) (e - p) < QUALITY_PLAN_TEXT
			            ? (size_t) (e - p)
			            : QUALITY_PLAN_TEXT));
	}
}

char *
quality_question_in_patch(const char *patch, size_t len)
{
	struct buf  b;
	const char *l;
	size_t      off = 0;
	char       *q   = NULL;

	buf_init(&b);
	while (q == NULL && (l = next_line(&b, patch, len, &off)) != NULL)
		if (is_added(l))
			q = quality_question_extract(l + 1, strlen(l + 1));
	buf_fini(&b);
	return (q);
}
