/*
 * classify.c - why a run did not succeed, as one failure category.
 *
 * The rules are data: the first matching row of the table wins.  A row
 * either tests a fact of the run (scope violations, a question, a diff
 * that is too wide, a backend timeout, failed validation) or looks for
 * any of its substrings in the lowercased tail of the backend's stderr
 * and stdout.  classify() is pure, so the unit tests drive it directly.
 */
#include <ctype.h>
#include <string.h>

#include "run.h"

#define TEXT_TAIL 4000
#define FLAKY_WINDOW 10
#define FLAKY_SAMPLES 3

enum rule_kind {
	R_SCOPE,
	R_QUESTION,
	R_TOO_WIDE,
	R_TIMED_OUT,
	R_VALIDATION,
	R_TEXT,
};

static const struct rule {
	const char    *category;
	enum rule_kind kind;
	const char    *text[10]; /* R_TEXT: substrings, NULL-terminated */
} rules[] = {
    {"scope_policy", R_SCOPE, {NULL}},
    {"awaiting_input", R_QUESTION, {NULL}},
    {"scope_too_wide", R_TOO_WIDE, {NULL}},
    {"timeout", R_TIMED_OUT, {NULL}},
    {"oom",
     R_TEXT,
     {"out of memory", "cannot allocate memory", "killed", "oom",
      "memory allocation failed", NULL}},
    {"timeout",
     R_TEXT,
     {"timed out", "timeout", "operation timed out", "deadline exceeded",
      NULL}},
    {"model_error",
     R_TEXT,
     {"internal server error", "service unavailable", "bad gateway",
      "overloaded", "too many requests", "rate_limit_error",
      "anthropic api error", "openai error", NULL}},
    {"context_limit",
     R_TEXT,
     {"context window", "context length", "maximum context",
      "context_length_exceeded", "token limit", "exceeds the maximum",
      "too long for", NULL}},
    {"dependency_missing",
     R_TEXT,
     {"modulenotfounderror", "importerror", "no module named",
      "cannot import name", "command not found", "npm err", NULL}},
    {"validation_failure", R_VALIDATION, {NULL}}, /* or flaky_test */
    {"tool_failure",
     R_TEXT,
     {"tool_error", "bash tool failed", "git tool failed", "permission denied",
      "read-only file system", NULL}},
    {"infra_tooling",
     R_TEXT,
     {"api key not set", "authentication", "auth", "login required",
      "no such file or directory", NULL}},
};

static int
text_matches(const struct rule *r, const char *text)
{
	size_t i;

	if (text == NULL)
		return (0);
	for (i = 0; r->text[i] != NULL; i++)
		if (strstr(text, r->text[i]) != NULL)
			return (1);
	return (0);
}

const char *
classify(const struct classify_in *in)
{
	const struct rule *r;
	size_t             i;

	for (i = 0; i < nitems(rules); i++) {
		r = &rules[i];
		switch (r->kind) {
		case R_SCOPE:
			if (in->scope_violation)
				return (r->category);
			break;
		case R_QUESTION:
			if (in->question)
				return (r->category);
			break;
		case R_TOO_WIDE:
			if (in->too_wide)
				return (r->category);
			break;
		case R_TIMED_OUT:
			if (in->timed_out)
				return (r->category);
			break;
		case R_VALIDATION:
			if (in->validation_failed)
				return (in->validation_flaky ? "flaky_test"
				                             : r->category);
			break;
		case R_TEXT:
			if (text_matches(r, in->text))
				return (r->category);
			break;
		}
	}
	return ("unknown");
}

int
classify_flaky(const int *passed, size_t n)
{
	size_t i, from, fails = 0, samples;

	from = n > FLAKY_WINDOW ? n - FLAKY_WINDOW : 0;
	samples = n - from;
	if (samples < FLAKY_SAMPLES)
		return (0);
	for (i = from; i < n; i++)
		if (!passed[i])
			fails++;
	/* fails / samples >= 30%, in integers */
	return (fails * 10 >= samples * 3);
}

char *
classify_text(const struct buf *err, const struct buf *out)
{
	struct buf b;
	size_t     i, from;
	char      *t;

	buf_init(&b);
	if (err != NULL && err->len > 0)
		buf_append(&b, err->data, err->len);
	if (b.len > 0)
		buf_append(&b, "\n", 1);
	if (out != NULL && out->len > 0)
		buf_append(&b, out->data, out->len);
	from = b.len > TEXT_TAIL ? b.len - TEXT_TAIL : 0;
	t = xmalloc(b.len - from + 1);
	for (i = from; i < b.len; i++)
		/* NULs would end the string early: blank them. */
		t[i - from] = b.data[i] == '\0'
		                  ? ' '
		                  : (char) tolower((unsigned char) b.data[i]);
	t[b.len - from] = '\0';
	buf_fini(&b);
	return (t);
}
