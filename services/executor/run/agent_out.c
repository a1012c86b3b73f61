/*
 * agent_out.c - what a coding-agent CLI said about its run.
 *
 * Claude Code (`-p --output-format stream-json --verbose`) prints one JSON
 * object a line: {"type":"system","subtype":"init",...} first, assistant
 * and user messages, and last {"type":"result", "subtype", "is_error",
 * "result", "num_turns", "session_id", "total_cost_usd", "usage",
 * "permission_denials"} (Claude Code docs, "Headless mode" / "CLI
 * reference": output formats).  `--output-format json` prints that last
 * object alone, so the same reader serves both.  Note that subtype says
 * "success" even when is_error is true (an API error ends the turn).
 *
 * `codex exec --json` prints JSONL events: thread.started {thread_id},
 * turn.started, item.started / item.completed {item: {type: agent_message
 * | command_execution | file_change | reasoning | error ...}},
 * turn.completed {usage: {input_tokens, cached_input_tokens,
 * output_tokens}}, turn.failed {error: {message}} and error {message}
 * (codex-rs/exec/src/exec_events.rs).  Codex reports tokens, not dollars:
 * the cost is computed from the configured prices.
 *
 * aider has no machine output; it prints "Tokens: 2.1k sent, 310
 * received. Cost: $0.0042 message, $0.0042 session." after each message
 * (aider/coders/base_coder.py).  kodo prints a stage summary ("Done: 2/3
 * stages completed", "Stage 2 (...) crashed") and the capacity messages
 * the original's classifier matched (inventory s.1.5).
 *
 * The reader is incremental (agent_feed on each read) so the executor can
 * stop a run whose reported spend passes its cap while it runs.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opc/msg.h"
#include "run.h"

#define MESSAGE_MAX 2000

void
agent_report_init(struct agent_report *r, const char *cli)
{
	memset(r, 0, sizeof(*r));
	r->cli      = cli;
	r->turns    = -1;
	r->cost_usd = -1;
	r->in_tok = r->out_tok = r->cache_read_tok = r->cache_write_tok = -1;
	r->retry_after_ms                                               = -1;
}

void
agent_report_fini(struct agent_report *r)
{
	free(r->subtype);
	free(r->message);
	free(r->session_id);
	free(r->model);
	free(r->api_error);
	strv_free(&r->denials);
	memset(r, 0, sizeof(*r));
}

static void
set_str(char **dst, const json_t *v)
{
	const char *s = json_string_value(v);
	size_t      n;

	if (s == NULL)
		return;
	n = json_string_length(v);
	free(*dst);
	*dst = xstrndup(s, n > MESSAGE_MAX ? MESSAGE_MAX : n);
}

static void
set_cstr(char **dst, const char *s)
{
	size_t n = strlen(s);

	free(*dst);
	*dst = xstrndup(s, n > MESSAGE_MAX ? MESSAGE_MAX : n);
}

static int64_t
jint(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_integer(v) && json_integer_value(v) >= 0)
		return (json_integer_value(v));
	if (json_is_real(v) && json_real_value(v) >= 0 &&
	    json_real_value(v) < 9e18)
		return ((int64_t) json_real_value(v));
	return (-1);
}

/* add accumulates a token count over several turns. */
static void
add(int64_t *acc, int64_t v)
{
	if (v < 0)
		return;
	*acc = *acc < 0 ? v : *acc + v;
}

/* ------------------------------------------------------------ Claude */

static void
claude_usage(struct agent_report *r, const json_t *u)
{
	if (!json_is_object(u))
		return;
	r->in_tok          = jint(u, "input_tokens");
	r->out_tok         = jint(u, "output_tokens");
	r->cache_read_tok  = jint(u, "cache_read_input_tokens");
	r->cache_write_tok = jint(u, "cache_creation_input_tokens");
}

static void
claude_result(struct agent_report *r, const json_t *o)
{
	const json_t *v, *d;
	size_t        i;

	r->parsed   = 1;
	r->is_error = json_is_true(json_object_get(o, "is_error"));
	set_str(&r->subtype, json_object_get(o, "subtype"));
	set_str(&r->session_id, json_object_get(o, "session_id"));
	set_str(&r->message, json_object_get(o, "result"));
	/* error subtypes carry "errors": [text] instead of a result */
	v = json_object_get(o, "errors");
	if (r->message == NULL && json_is_array(v) && json_array_size(v) > 0)
		set_str(&r->message, json_array_get(v, 0));
	r->turns = jint(o, "num_turns");
	/* API errors end as subtype "success", is_error true and the HTTP
	 * status here (captures in tests/data/claude/) */
	if (jint(o, "api_error_status") > 0)
		r->api_status = (int) jint(o, "api_error_status");
	v = json_object_get(o, "total_cost_usd");
	if (json_is_number(v) && json_number_value(v) >= 0) {
		r->cost_usd    = json_number_value(v);
		r->cost_source = "reported";
	}
	claude_usage(r, json_object_get(o, "usage"));
	strv_free(&r->denials);
	json_array_foreach (json_object_get(o, "permission_denials"), i, d) {
		const char *t =
		    json_string_value(json_object_get(d, "tool_name"));
		strv_push(&r->denials, t != NULL ? t : "?");
	}
	if (!r->is_error) {
		/* retried and then answered: no API error to report */
		r->api_status     = 0;
		r->retry_after_ms = -1;
	}
	if (r->subtype != NULL) {
		if (strcmp(r->subtype, "error_max_budget_usd") == 0)
			r->budget_hit = 1;
		else if (strcmp(r->subtype, "error_max_turns") == 0)
			r->turns_hit = 1;
		if (strncmp(r->subtype, "error", 5) == 0)
			r->is_error = 1;
	}
}

static void
claude_line(struct agent_report *r, const json_t *o)
{
	const char *type = json_string_value(json_object_get(o, "type"));

	if (type == NULL)
		return;
	if (strcmp(type, "system") == 0 &&
	    strcmp(json_string_value(json_object_get(o, "subtype"))
	            ? json_string_value(json_object_get(o, "subtype"))
	            : "",
	        "api_retry") == 0) {
		/* {"subtype":"api_retry","error_status":429,"error":
		 * "rate_limit","retry_delay_ms":1000}: the delay follows the
		 * server's retry-after */
		r->retry_after_ms = jint(o, "retry_delay_ms");
		if (jint(o, "error_status") > 0)
			r->api_status = (int) jint(o, "error_status");
	} else if (strcmp(type, "system") == 0) {
		set_str(&r->session_id, json_object_get(o, "session_id"));
		set_str(&r->model, json_object_get(o, "model"));
	} else if (strcmp(type, "result") == 0)
		claude_result(r, o);
}

/* ------------------------------------------------------------- Codex */

static void
codex_item(struct agent_report *r, const json_t *item)
{
	const char *type = json_string_value(json_object_get(item, "type"));

	if (type == NULL)
		return;
	if (strcmp(type, "agent_message") == 0)
		set_str(&r->message, json_object_get(item, "text"));
	else if (strcmp(type, "error") == 0)
		set_str(&r->message, json_object_get(item, "message"));
}

static void
codex_line(struct agent_report *r, const json_t *o)
{
	const char   *type = json_string_value(json_object_get(o, "type"));
	const json_t *u, *e;

	if (type == NULL)
		return;
	if (strcmp(type, "thread.started") == 0)
		set_str(&r->session_id, json_object_get(o, "thread_id"));
	else if (strcmp(type, "turn.started") == 0)
		r->turns = r->turns < 0 ? 1 : r->turns + 1;
	else if (strcmp(type, "item.completed") == 0)
		codex_item(r, json_object_get(o, "item"));
	else if (strcmp(type, "turn.completed") == 0) {
		r->parsed = 1;
		u         = json_object_get(o, "usage");
		add(&r->in_tok, jint(u, "input_tokens"));
		add(&r->cache_read_tok, jint(u, "cached_input_tokens"));
		add(&r->out_tok, jint(u, "output_tokens"));
	} else if (strcmp(type, "turn.failed") == 0) {
		r->parsed   = 1;
		r->is_error = 1;
		e           = json_object_get(o, "error");
		set_str(&r->message, json_object_get(e, "message"));
	} else if (strcmp(type, "error") == 0) {
		/* "Reconnecting... 1/2 (...)" and the final error; the turn's
		 * end (turn.completed or turn.failed) decides */
		set_str(&r->message, json_object_get(o, "message"));
	}
}

/* codex_denials finds the tool calls Codex's sandbox or approval policy
 * refused: they appear only in its log on stderr ("ERROR
 * codex_core::tools::router: error=patch rejected: writing is blocked by
 * read-only sandbox; rejected by user approval settings"). */
static void
codex_denials(struct agent_report *r, const struct buf *err)
{
	static const struct {
		const char *mark, *tool;
	} marks[] = {
		{ "error=patch rejected", "apply_patch" },
		{ "rejected by user approval settings", NULL },
		{ "exec command rejected", "exec_command" },
	};
	const char *p;
	size_t      i;

	if (err == NULL || err->data == NULL)
		return;
	for (i = 0; i < nitems(marks); i++) {
		if (marks[i].tool == NULL)
			continue;
		for (p = err->data; (p = strstr(p, marks[i].mark)) != NULL;
		     p++)
			strv_push(&r->denials, marks[i].tool);
	}
}

/* ------------------------------------------------------ aider, kodo */

/* kilo parses aider's token counts: "2.1k", "310", "1.2M". */
static int64_t
kilo(const char *s)
{
	char  *end;
	double v = strtod(s, &end);

	if (end == s || v < 0)
		return (-1);
	if (*end == 'k' || *end == 'K')
		v *= 1e3;
	else if (*end == 'M' || *end == 'm')
		v *= 1e6;
	return ((int64_t) (v + 0.5));
}

static void
aider_line(struct agent_report *r, const char *line)
{
	const char *p;

	/* "Tokens: 2.1k sent, 1.0k cache write, 310 received. Cost: $0.01
	 * message, $0.05 session." - the session total is the last one. */
	if ((p = strstr(line, "Tokens: ")) == NULL)
		return;
	r->parsed = 1;
	r->in_tok = kilo(p + 8);
	if ((p = strstr(line, " sent, ")) != NULL) {
		const char *q = strstr(p, " received");
		const char *c = p + 7;

		/* skip optional "N cache write, N cache hit, " parts */
		while (
		    q != NULL && strchr(c, ',') != NULL && strchr(c, ',') < q)
			c = strchr(c, ',') + 2;
		if (q != NULL)
			r->out_tok = kilo(c);
	}
	if ((p = strstr(line, "message, $")) != NULL) {
		r->cost_usd    = strtod(p + 10, NULL);
		r->cost_source = "reported";
	}
}

static const char *const kodo_failed[] = {
	") crashed",
	"crashed: ",
	"Stopping run",
};

static void
kodo_line(struct agent_report *r, const char *line)
{
	const char *p;
	size_t      i;

	if ((p = strstr(line, "Done:")) != NULL) {
		r->parsed = 1;
		p += 5;
		while (*p == ' ')
			p++;
		if (p[0] == '0' && p[1] == '/') {
			r->is_error = 1;
			set_cstr(&r->message, line);
		}
		return;
	}
	for (i = 0; i < nitems(kodo_failed); i++)
		if (strstr(line, kodo_failed[i]) != NULL) {
			r->is_error = 1;
			set_cstr(&r->message, line);
			return;
		}
}

/* ------------------------------------------------------------- feed */

static void
feed_line(struct agent_report *r, const char *line, size_t len)
{
	json_t *o;

	if (r->cli == NULL || len == 0)
		return;
	if (strcmp(r->cli, "aider") == 0 || strcmp(r->cli, "kodo") == 0) {
		char *s = xstrndup(line, len);

		if (strcmp(r->cli, "aider") == 0)
			aider_line(r, s);
		else
			kodo_line(r, s);
		free(s);
		return;
	}
	if (line[0] != '{' || (o = json_loadb(line, len, 0, NULL)) == NULL)
		return; /* a stray text line: ignored */
	if (json_is_object(o)) {
		if (strcmp(r->cli, "claude_cli") == 0)
			claude_line(r, o);
		else if (strcmp(r->cli, "codex_cli") == 0)
			codex_line(r, o);
	}
	json_decref(o);
}

void
agent_feed(struct agent_report *r, const struct buf *out, int eof)
{
	const char *s, *nl;
	size_t      end;

	if (out->data == NULL)
		return;
	while (r->fed < out->len) {
		s  = out->data + r->fed;
		nl = memchr(s, '\n', out->len - r->fed);
		if (nl == NULL && !eof)
			return;
		end = nl != NULL ? (size_t) (nl - s) : out->len - r->fed;
		feed_line(r, s, end > 0 && s[end - 1] == '\r' ? end - 1 : end);
		r->fed += end + (nl != NULL);
	}
}

/* ----------------------------------------------------------- finish */

/* api_error_in finds "API Error: 429 {...\"type\":\"rate_limit_error\"...}"
 * (Claude Code), "unexpected status 401 Unauthorized" / "status: 429"
 * (Codex) and the error type of an API error body in text. */
static void
api_error_in(struct agent_report *r, const char *text)
{
	static const char *const status_marks[] = {
		"API Error: ",
		"unexpected status ",
		"last status: ",
		"status: ",
		"status code ",
	};
	static const char *const type_marks[] = {
		"\"type\":\"",
		"\"code\":\"",
		"\"type\": \"",
		"\"code\": \"",
	};
	const char *p, *q;
	size_t      i, n;

	if (text == NULL)
		return;
	for (i = 0; r->api_status == 0 && i < nitems(status_marks); i++)
		if ((p = strstr(text, status_marks[i])) != NULL) {
			p += strlen(status_marks[i]);
			if (isdigit((unsigned char) p[0]) &&
			    isdigit((unsigned char) p[1]) &&
			    isdigit((unsigned char) p[2]) &&
			    !isdigit((unsigned char) p[3]))
				r->api_status = atoi(p);
		}
	/* the innermost error type: the last "type":"..._error" or code */
	for (i = 0; r->api_error == NULL && i < nitems(type_marks); i++) {
		const char *last = NULL;

		for (p = text; (p = strstr(p, type_marks[i])) != NULL; p++) {
			q = p + strlen(type_marks[i]);
			n = strcspn(q, "\"");
			if (q[n] == '"' && n > 0 && n < 64 &&
			    strncmp(q, "error", n) != 0)
				last = q;
		}
		if (last != NULL)
			r->api_error = xstrndup(last, strcspn(last, "\""));
	}
}

double
agent_spend(const struct agent_report *r, double price_in, double price_out,
    double price_cached)
{
	int64_t in, cached;
	double  usd;

	if (r->cost_source != NULL)
		return (r->cost_usd);
	if (r->in_tok < 0 || r->out_tok < 0 || price_in < 0 || price_out < 0)
		return (-1);
	/* Codex's input_tokens include the cached ones (billed at the
	 * cached price when one is configured). */
	in     = r->in_tok;
	cached = r->cache_read_tok > 0 && price_cached >= 0 &&
	        r->cli != NULL && strcmp(r->cli, "codex_cli") == 0
	    ? (r->cache_read_tok < in ? r->cache_read_tok : in)
	    : 0;
	usd    = (double) (in - cached) * price_in / 1e6 +
	    (double) cached * price_cached / 1e6 +
	    (double) r->out_tok * price_out / 1e6;
	return (usd);
}

void
agent_finish(struct agent_report *r, const struct buf *err, double price_in,
    double price_out, double price_cached)
{
	double usd;

	if (r->cli == NULL)
		return;
	if (strcmp(r->cli, "codex_cli") == 0)
		codex_denials(r, err);
	api_error_in(r, r->message);
	if (r->api_status == 0 && r->api_error == NULL && err != NULL &&
	    err->data != NULL && r->is_error)
		api_error_in(r, err->data);
	if (r->cost_source == NULL &&
	    (usd = agent_spend(r, price_in, price_out, price_cached)) >= 0) {
		r->cost_usd    = usd;
		r->cost_source = "computed";
	}
}

void
agent_absorb(struct agent_report *dst, const struct agent_report *src,
    double price_in, double price_out, double price_cached)
{
	double usd = agent_spend(src, price_in, price_out, price_cached);

	if (usd >= 0) {
		dst->cost_usd =
		    (dst->cost_source != NULL ? dst->cost_usd : 0) + usd;
		if (dst->cost_source == NULL ||
		    strcmp(src->cost_source ? src->cost_source : "computed",
		        "computed") == 0)
			dst->cost_source =
			    src->cost_source ? src->cost_source : "computed";
	}
	add(&dst->in_tok, src->in_tok);
	add(&dst->out_tok, src->out_tok);
	add(&dst->cache_read_tok, src->cache_read_tok);
	add(&dst->cache_write_tok, src->cache_write_tok);
	if (src->turns >= 0)
		add(&dst->turns, src->turns);
}

/* num sets an optional number of the record: unknown (< 0) stays absent. */
static void
num(bool *has, int64_t *at, int64_t v)
{
	if ((*has = v >= 0))
		*at = v;
}

struct msg_exec_agent *
agent_new(const struct agent_report *r)
{
	struct msg_exec_agent *a;
	char                  *t;
	size_t                 i;

	if (r->cli == NULL)
		return (NULL);
	a             = msg_exec_agent_new();
	a->cli        = xstrdup(r->cli);
	a->session_id = utf8_lossy(r->session_id);
	a->model      = utf8_lossy(r->model);
	num(&a->has_turns, &a->turns, r->turns);
	a->is_error = r->is_error != 0;
	a->subtype  = utf8_lossy(r->subtype);
	a->message  = utf8_lossy(r->message);
	for (i = 0; i < r->denials.n; i++) {
		t = utf8_lossy(r->denials.v[i]);
		msg_strs_add(&a->permission_denials, t);
		free(t);
	}
	if (r->cost_source != NULL) {
		a->has_cost_usd = true;
		a->cost_usd     = r->cost_usd;
		a->cost_source  = xstrdup(r->cost_source);
	}
	num(&a->has_input_tokens, &a->input_tokens, r->in_tok);
	num(&a->has_output_tokens, &a->output_tokens, r->out_tok);
	num(&a->has_cache_read_tokens, &a->cache_read_tokens,
	    r->cache_read_tok);
	num(&a->has_cache_creation_tokens, &a->cache_creation_tokens,
	    r->cache_write_tok);
	if ((a->has_api_status = r->api_status > 0))
		a->api_status = r->api_status;
	a->api_error = utf8_lossy(r->api_error);
	num(&a->has_retry_after_ms, &a->retry_after_ms, r->retry_after_ms);
	return (a);
}

json_t *
agent_json(const struct agent_report *r)
{
	struct msg_exec_agent *a = agent_new(r);
	json_t                *j;

	if (a == NULL)
		return (json_null());
	j = msg_exec_agent_to_json(a);
	msg_exec_agent_free(a);
	return (j);
}
