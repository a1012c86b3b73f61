/*
 * test_agent_out.c - the agent CLIs' outputs as opcenter reads them:
 * every capture of the real CLIs in data/ (recorded against the API
 * stand-ins by data/<cli>/capture.sh) is fed to agent_feed/agent_finish
 * and judged as a run would judge it (classify), for both of Claude
 * Code's output formats.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "run.h"

#ifndef DATA_DIR
#error DATA_DIR must name services/executor/run/tests/data
#endif

/* load reads DATA_DIR/name into b; fails the test when it is missing. */
static void
load(struct buf *b, const char *name)
{
	char  *path = xasprintf("%s/%s", DATA_DIR, name), chunk[4096];
	FILE  *f    = fopen(path, "r");
	size_t n;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	buf_init(b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(b, chunk, n);
	fclose(f);
	buf_cstr(b);
	free(path);
}

/* judge is decide()'s classification of an agent run (run.c). */
static const char *
judge(const struct agent_report *a, int changed)
{
	struct classify_in in;
	struct buf         m;
	const char        *c;
	char              *text;

	if (a->parsed && !a->is_error && (changed || a->denials.n == 0) &&
	    changed)
		return ("success");
	memset(&in, 0, sizeof(in));
	in.api_status = a->api_status;
	in.api_error  = a->api_error;
	in.budget_hit = a->budget_hit || a->turns_hit;
	in.denied     = a->denials.n > 0 && !changed;
	in.no_change  = a->parsed && !a->is_error && !changed;
	buf_init(&m);
	if (a->message != NULL)
		buf_puts(&m, a->message);
	text    = classify_text(NULL, &m);
	in.text = text;
	c       = classify(&in);
	free(text);
	buf_fini(&m);
	return (c);
}

struct want {
	const char *name; /* without .json / .jsonl */
	int         changed;
	const char *verdict;
	int         api_status;
	double      cost; /* < 0: not checked */
	int         turns;
	const char *message_part;
};

static void
check_claude(const struct want *w, const char *ext)
{
	struct agent_report a;
	struct buf          out;
	char               *name = xasprintf("claude/%s.%s", w->name, ext);
	const char         *v;

	load(&out, name);
	agent_report_init(&a, "claude_cli");
	/* as the executor reads it: in pieces while it runs, then the end */
	if (out.len > 7) {
		size_t full = out.len;

		out.len = full / 3;
		agent_feed(&a, &out, 0);
		out.len = full;
	}
	agent_feed(&a, &out, 1);
	agent_finish(&a, NULL, -1, -1, -1);
	if (!a.parsed)
		fail_msg("%s: no result found", name);
	v = judge(&a, w->changed);
	if (strcmp(v, w->verdict) != 0)
		fail_msg("%s: judged %s, want %s (status %d, message %s)",
		    name, v, w->verdict, a.api_status,
		    a.message ? a.message : "-");
	if (a.api_status != w->api_status)
		fail_msg("%s: api_status %d, want %d", name, a.api_status,
		    w->api_status);
	if (w->cost >= 0 &&
	    (a.cost_source == NULL || a.cost_usd < w->cost - 1e-9 ||
	        a.cost_usd > w->cost + 1e-9))
		fail_msg("%s: cost %f (%s), want %f", name, a.cost_usd,
		    a.cost_source ? a.cost_source : "none", w->cost);
	if (w->turns >= 0 && a.turns != w->turns)
		fail_msg("%s: turns %lld, want %d", name, (long long) a.turns,
		    w->turns);
	if (w->message_part != NULL &&
	    (a.message == NULL || strstr(a.message, w->message_part) == NULL))
		fail_msg("%s: message \"%s\" lacks \"%s\"", name,
		    a.message ? a.message : "", w->message_part);
	if (a.session_id == NULL)
		fail_msg("%s: no session id", name);
	agent_report_fini(&a);
	buf_fini(&out);
	free(name);
}

/* Claude Code 2.1.197 against tests/fixtures/anthropic.c (data/claude/
 * README.md has each command line). */
static const struct want claude_cases[] = {
	{ "01-edit-accept-edits", 1, "success", 0, 0.03, 2, "Wrote" },
	{ "02-edit-default-permissions", 0, "tool_failure", 0, 0.03, 2, NULL },
	{ "03-text-only", 0, "no_op", 0, 0.015, 1, NULL },
	{ "04-overloaded-529", 0, "model_error", 529, 0, 1, "529" },
	{ "05-rate-limit-429", 0, "model_error", 429, 0, 1, "rate limit" },
	{ "06-quota-credit-balance", 0, "quota_exhausted", 400, 0, 1,
	    "Credit balance is too low" },
	{ "07-prompt-too-long", 0, "context_limit", 400, 0, 1,
	    "Prompt is too long" },
	{ "08-unauthorized-401", 0, "infra_tooling", 401, 0, 1,
	    "Invalid API key" },
	{ "09-max-budget-usd", 0, "budget_exceeded", 0, 0.015, -1, NULL },
	/* the turn limit stopped it after its edit landed */
	{ "10-max-turns-1", 1, "budget_exceeded", 0, 0.015, -1, NULL },
	{ "11-hang-api-timeout", 0, "timeout", 0, 0, 1, "timed out" },
};

static void
test_claude_captures(void **state)
{
	size_t i;

	UNUSED(state);
	for (i = 0; i < nitems(claude_cases); i++) {
		check_claude(&claude_cases[i], "json");
		check_claude(&claude_cases[i], "jsonl");
	}
}

/* The stream says more than the single object: the denied tool's name,
 * the model, and the delay of the CLI's own retries (from retry-after). */
static void
test_claude_stream_details(void **state)
{
	struct agent_report a;
	struct buf          out;

	UNUSED(state);
	load(&out, "claude/02-edit-default-permissions.jsonl");
	agent_report_init(&a, "claude_cli");
	agent_feed(&a, &out, 1);
	assert_int_equal(a.denials.n, 1);
	assert_string_equal(a.denials.v[0], "Write");
	assert_non_null(a.model);
	agent_report_fini(&a);
	buf_fini(&out);

	load(&out, "claude/05-rate-limit-429.jsonl");
	agent_report_init(&a, "claude_cli");
	agent_feed(&a, &out, 1);
	assert_true(a.retry_after_ms >= 1000 && a.retry_after_ms < 2000);
	assert_int_equal(a.api_status, 429);
	agent_report_fini(&a);
	buf_fini(&out);

	/* as root the CLI refuses to skip permissions: no result at all */
	load(&out, "claude/12-bypass-permissions-as-root.jsonl");
	agent_report_init(&a, "claude_cli");
	agent_feed(&a, &out, 1);
	assert_false(a.parsed);
	agent_report_fini(&a);
	buf_fini(&out);
}

/* Codex 0.171 against tests/fixtures/openai.c (data/codex/README.md).
 * Codex reports tokens only: the cost is computed from prices. */
static const struct want codex_cases[] = {
	{ "01-edit", 1, "success", 0, 0.00305, 1, "Created" },
	{ "01b-edit-exec-command", 1, "success", 0, -1, 1, NULL },
	/* the read-only sandbox refused the patch; exit 0 all the same */
	{ "02-edit-default-sandbox", 0, "tool_failure", 0, -1, 1, NULL },
	{ "03-text", 0, "no_op", 0, -1, 1, "Hello" },
	{ "04-overloaded-503", 0, "model_error", 0, -1, 1, "at capacity" },
	{ "04b-server-error-500", 0, "model_error", 0, -1, 1, "high demand" },
	{ "04c-response-failed", 0, "model_error", 0, -1, 1, "server had" },
	{ "04d-overloaded-then-ok", 1, "success", 0, -1, 1, "Recovered" },
	{ "05-rate-limit", 0, "model_error", 429, -1, 1, "429" },
	{ "06-quota", 0, "quota_exhausted", 0, -1, 1, "Quota exceeded" },
	{ "07-context-too-long", 0, "context_limit", 0, -1, 1, "context" },
	{ "08-unauthorized", 0, "infra_tooling", 401, -1, 1, "Incorrect API" },
	{ "08b-missing-key", 0, "infra_tooling", 0, -1, 1, "OPENAI_API_KEY" },
	{ "09b-stall-after-created", 0, "timeout", 0, -1, 1, "idle timeout" },
	{ "10-output-last-message", 0, "no_op", 0, -1, 1, NULL },
};

static void
test_codex_captures(void **state)
{
	struct agent_report a;
	struct buf          out, err;
	const struct want  *w;
	const char         *v;
	char               *name;
	size_t              i;

	UNUSED(state);
	for (i = 0; i < nitems(codex_cases); i++) {
		w    = &codex_cases[i];
		name = xasprintf("codex/%s.stdout.jsonl", w->name);
		load(&out, name);
		free(name);
		name = xasprintf("codex/%s.stderr.txt", w->name);
		load(&err, name);
		agent_report_init(&a, "codex_cli");
		agent_feed(&a, &out, 1);
		/* $1.25 / $10 / $0.125 per 1M tokens: in, out, cached in */
		agent_finish(&a, &err, 1.25, 10.0, 0.125);
		v = judge(&a, w->changed);
		if (!a.parsed)
			fail_msg("%s: no turn end found", w->name);
		if (strcmp(v, w->verdict) != 0)
			fail_msg("%s: judged %s, want %s (status %d, %s)",
			    w->name, v, w->verdict, a.api_status,
			    a.message ? a.message : "-");
		if (a.api_status != w->api_status)
			fail_msg("%s: api_status %d, want %d", w->name,
			    a.api_status, w->api_status);
		if (w->cost >= 0 &&
		    (a.cost_source == NULL || a.cost_usd < w->cost - 1e-9 ||
		        a.cost_usd > w->cost + 1e-9))
			fail_msg("%s: cost %f, want %f", w->name, a.cost_usd,
			    w->cost);
		if (w->turns >= 0 && a.turns != w->turns)
			fail_msg(
			    "%s: turns %lld", w->name, (long long) a.turns);
		if (w->message_part != NULL &&
		    (a.message == NULL ||
		        strstr(a.message, w->message_part) == NULL))
			fail_msg("%s: message \"%s\" lacks \"%s\"", w->name,
			    a.message ? a.message : "", w->message_part);
		if (a.session_id == NULL)
			fail_msg("%s: no thread id", w->name);
		agent_report_fini(&a);
		buf_fini(&out);
		buf_fini(&err);
		free(name);
	}
	/* a hang never ends its turn: the executor's own timeout decides */
	load(&out, "codex/09-hang.stdout.jsonl");
	agent_report_init(&a, "codex_cli");
	agent_feed(&a, &out, 1);
	assert_false(a.parsed);
	agent_report_fini(&a);
	buf_fini(&out);
}

/* aider prints its spend after every message; the session total is the
 * run's (aider/coders/base_coder.py, show_usage_report). */
static void
test_aider_text(void **state)
{
	struct agent_report a;
	struct buf          out;

	UNUSED(state);
	buf_init(&out);
	buf_puts(&out,
	    "Aider v0.86.1\nsrc/hello.txt\nApplied edit to "
	    "src/hello.txt\nTokens: 2.1k sent, 1.5k cache write, "
	    "310 received. Cost: $0.0042 message, $0.0121 "
	    "session.\n");
	agent_report_init(&a, "aider");
	agent_feed(&a, &out, 1);
	assert_true(a.parsed);
	assert_int_equal(a.in_tok, 2100);
	assert_int_equal(a.out_tok, 310);
	assert_string_equal(a.cost_source, "reported");
	assert_true(a.cost_usd > 0.01209 && a.cost_usd < 0.01211);
	agent_report_fini(&a);
	buf_fini(&out);
}

/* kodo's stage summary (the original's normalize rules). */
static void
test_kodo_text(void **state)
{
	struct agent_report a;
	struct buf          out;

	UNUSED(state);
	buf_init(&out);
	buf_puts(&out,
	    "Stage 1 (plan) ok\nStage 2 (build) crashed: boom\n"
	    "Done: 1/3 stages completed\n");
	agent_report_init(&a, "kodo");
	agent_feed(&a, &out, 1);
	assert_true(a.parsed);
	assert_true(a.is_error);
	assert_non_null(strstr(a.message, "crashed"));
	agent_report_fini(&a);
	buf_reset(&out);
	buf_puts(&out, "Done: 0/3 stages completed\n");
	agent_report_init(&a, "kodo");
	agent_feed(&a, &out, 1);
	assert_true(a.is_error);
	agent_report_fini(&a);
	buf_reset(&out);
	buf_puts(&out, "Done: 3/3 stages completed\n");
	agent_report_init(&a, "kodo");
	agent_feed(&a, &out, 1);
	assert_true(a.parsed);
	assert_false(a.is_error);
	agent_report_fini(&a);
	buf_fini(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claude_captures),
		cmocka_unit_test(test_claude_stream_details),
		cmocka_unit_test(test_codex_captures),
		cmocka_unit_test(test_aider_text),
		cmocka_unit_test(test_kodo_text),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
