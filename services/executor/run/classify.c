/*
 * classify.c - why a run did not succeed, as one failure category.
 *
 * The rules are data: the first matching row of the table wins.  A row
 * either tests a fact of the run (scope violations, a question, a diff
 * that is too wide, a backend timeout, a per-run cap, the API error an
 * agent CLI reported, failed validation, refused tools, no change at all)
 * or looks for any of its substrings in the lowercased tail of the
 * backend's output (for an agent CLI: its message and stderr, not its
 * JSON stream).  The order is the original's (diagnostics guide, "Failure
 * Classification Reference"), with what an agent's API said ahead of any
 * text match, and quota_exhausted (credits gone: blocks and escalates)
 * kept apart from model_error (a 429 rate limit, 529 overloaded, 5xx:
 * transient, retried).  classify() is pure, so the unit tests drive it
 * directly.
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
	R_OOM,
	R_TIMED_OUT,
	R_BUDGET,
	R_API_AUTH,
	R_API_QUOTA,
	R_API_CONTEXT,
	R_API_TRANSIENT,
	R_VALIDATION,
	R_DENIED,
	R_NO_CHANGE,
	R_TEXT,
};

/* Quota and credit exhaustion, as the APIs and CLIs word it: Anthropic's
 * "Your credit balance is too low", OpenAI's insufficient_quota "You
 * exceeded your current quota", and the original's capacity classifier
 * (backends/_capacity_classifier.py). */
#define QUOTA_TEXT                                                       \
	"credit balance is too low", "insufficient_quota",               \
	    "exceeded your current quota", "quota exceeded",             \
	    "quota exhausted", "usage limit reached", "usage limit hit", \
	    "hit your limit", "hit your usage limit",                    \
	    "reached your usage limit", "out of extra usage",            \
	    "run out of credits", "payment required", "billing_error"

static const struct rule {
	const char    *category;
	enum rule_kind kind;
	const char    *text[16]; /* R_TEXT: substrings, NULL-terminated */
} rules[] = {
	{ "scope_policy", R_SCOPE, { NULL } },
	{ "awaiting_input", R_QUESTION, { NULL } },
	{ "scope_too_wide", R_TOO_WIDE, { NULL } },
	{ "oom", R_OOM, { NULL } },
	{ "timeout", R_TIMED_OUT, { NULL } },
	{ "budget_exceeded", R_BUDGET, { NULL } },
	{ "infra_tooling", R_API_AUTH, { NULL } },
	{ "quota_exhausted", R_API_QUOTA, { QUOTA_TEXT, NULL } },
	{ "context_limit", R_API_CONTEXT, { NULL } },
	{ "model_error", R_API_TRANSIENT, { NULL } },
	{ "quota_exhausted", R_TEXT, { QUOTA_TEXT, NULL } },
	{ "oom", R_TEXT,
	    /* not a bare "oom": it is in "room", "zoom", "bloom" */
	    { "out of memory", "cannot allocate memory", "killed", "oom-kill",
	        "oomkill", "oom killer", "oom:", "out-of-memory",
	        "memory allocation failed", "memoryerror", "std::bad_alloc",
	        "memory exhausted", NULL } },
	{ "timeout", R_TEXT,
	    { "timed out", "timeout", "operation timed out",
	        "deadline exceeded", NULL } },
	{ "model_error", R_TEXT,
	    { "internal server error", "service unavailable", "bad gateway",
	        "overloaded", "too many requests", "rate_limit_error",
	        "rate limit", "anthropic api error", "openai error",
	        "at capacity", "high demand", "stream disconnected", NULL } },
	{ "context_limit", R_TEXT,
	    { "context window", "context length", "maximum context",
	        "context_length_exceeded", "token limit",
	        "exceeds the maximum", "too long for", "prompt is too long",
	        "input is too long", "ran out of room", NULL } },
	{ "dependency_missing", R_TEXT,
	    { "modulenotfounderror", "importerror", "no module named",
	        "cannot import name", "command not found", "npm err", NULL } },
	{ "validation_failure", R_VALIDATION, { NULL } }, /* or flaky_test */
	{ "tool_failure", R_DENIED, { NULL } },
	{ "tool_failure", R_TEXT,
	    { "tool_error", "bash tool failed", "git tool failed",
	        "permission denied", "read-only file system", NULL } },
	{ "infra_tooling", R_TEXT,
	    { "api key not set", "missing environment variable",
	        "unable to connect", "connection refused", "invalid x-api-key",
	        "invalid api key", "incorrect api key", "authentication",
	        "auth", "login required", "unauthorized",
	        "no such file or directory", NULL } },
	{ "no_op", R_NO_CHANGE, { NULL } },
};

/* has reports whether s is one of the NULL-terminated v. */
static int
has(const char *const *v, const char *s)
{
	size_t i;

	for (i = 0; s != NULL && v[i] != NULL; i++)
		if (strcmp(v[i], s) == 0)
			return (1);
	return (0);
}

/* api_rule tests the API error an agent reported (status and the error
 * type of the body: Anthropic's error.type, OpenAI's error.code). */
static int
api_rule(enum rule_kind k, const struct classify_in *in)
{
	static const char *const auth[]      = { "authentication_error",
		     "invalid_api_key", NULL };
	static const char *const quota[]     = { "insufficient_quota",
		    "billing_error", NULL };
	static const char *const context[]   = { "context_length_exceeded",
		  NULL };
	static const char *const transient[] = { "rate_limit_error",
		"rate_limit_exceeded", "overloaded_error", "api_error",
		"server_error", NULL };
	int                      st          = in->api_status;

	switch (k) {
	case R_API_AUTH:
		return (st == 401 || has(auth, in->api_error));
	case R_API_QUOTA:
		return (st == 402 || has(quota, in->api_error));
	case R_API_CONTEXT:
		return (has(context, in->api_error) ||
		    (st == 400 && in->text != NULL &&
		        (strstr(in->text, "prompt is too long") != NULL ||
		            strstr(in->text, "context") != NULL)));
	case R_API_TRANSIENT:
		return (st == 429 || st == 408 || st == 529 ||
		    (st >= 500 && st <= 599) || has(transient, in->api_error));
	default:
		return (0);
	}
}

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
		case R_OOM:
			if (in->oom_killed)
				return (r->category);
			break;
		case R_TIMED_OUT:
			/* out of CPU time is out of time: the same cure
			 * (a longer limit, or a smaller task) */
			if (in->timed_out || in->cpu_limited)
				return (r->category);
			break;
		case R_BUDGET:
			if (in->budget_hit)
				return (r->category);
			break;
		case R_API_QUOTA:
			/* a 429 may be a rate limit or spent credits: the
			 * text tells */
			if (api_rule(r->kind, in) ||
			    (in->api_status != 0 && text_matches(r, in->text)))
				return (r->category);
			break;
		case R_API_AUTH:
		case R_API_CONTEXT:
		case R_API_TRANSIENT:
			if (api_rule(r->kind, in))
				return (r->category);
			break;
		case R_DENIED:
			if (in->denied)
				return (r->category);
			break;
		case R_NO_CHANGE:
			if (in->no_change)
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

	from    = n > FLAKY_WINDOW ? n - FLAKY_WINDOW : 0;
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
	t    = xmalloc(b.len - from + 1);
	for (i = from; i < b.len; i++)
		/* NULs would end the string early: blank them. */
		t[i - from] = b.data[i] == '\0'
		    ? ' '
		    : (char) tolower((unsigned char) b.data[i]);
	t[b.len - from] = '\0';
	buf_fini(&b);
	return (t);
}
