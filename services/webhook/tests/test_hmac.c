/*
 * test_hmac.c - webhook signatures (GitHub's published vector, RFC 4231
 * case 2, malformed signatures) and the pure request classifier and
 * metrics renderer of opc-webhook.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hmac.h"
#include "opc/err.h"
#include "webhook.h"

#define GH_SECRET "It's a Secret to Everybody"
#define GH_BODY "Hello, World!"
#define GH_HEX \
	"757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

static void
test_github_vector(void **state)
{
	char hex[HMAC_SHA256_HEX];

	(void) state;
	assert_int_equal(
	    hmac_sha256_hex(hex, GH_SECRET, GH_BODY, strlen(GH_BODY)), 0);
	assert_string_equal(hex, GH_HEX);
	assert_true(hmac_verify(
	    "sha256=" GH_HEX, GH_SECRET, GH_BODY, strlen(GH_BODY)));
	assert_true(
	    hmac_verify_hex(GH_HEX, GH_SECRET, GH_BODY, strlen(GH_BODY)));
}

static void
test_rfc4231_case2(void **state)
{
	const char *data = "what do ya want for nothing?";
	char        hex[HMAC_SHA256_HEX];

	(void) state;
	assert_int_equal(hmac_sha256_hex(hex, "Jefe", data, strlen(data)), 0);
	assert_string_equal(hex,
	    "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843");
}

static void
test_bad_signatures(void **state)
{
	size_t n = strlen(GH_BODY);

	(void) state;
	/* wrong digest (last digit changed) */
	assert_false(hmac_verify("sha256=757107ea0eb2509fc211221cce984b8a"
	                         "37570b6d7586c22c46f4379c8b043e18",
	    GH_SECRET, GH_BODY, n));
	/* wrong secret, wrong body */
	assert_false(hmac_verify("sha256=" GH_HEX, "other", GH_BODY, n));
	assert_false(
	    hmac_verify("sha256=" GH_HEX, GH_SECRET, "Hello, World?", n));
	/* missing header, empty, prefix only, no prefix, other algorithm */
	assert_false(hmac_verify(NULL, GH_SECRET, GH_BODY, n));
	assert_false(hmac_verify("", GH_SECRET, GH_BODY, n));
	assert_false(hmac_verify("sha256=", GH_SECRET, GH_BODY, n));
	assert_false(hmac_verify(GH_HEX, GH_SECRET, GH_BODY, n));
	assert_false(hmac_verify("sha1=" GH_HEX, GH_SECRET, GH_BODY, n));
	/* odd length, short, long, non-hex */
	assert_false(hmac_verify("sha256=" GH_HEX "0", GH_SECRET, GH_BODY, n));
	assert_false(hmac_verify("sha256=757107ea0eb2509fc211221cce984b8a"
	                         "37570b6d7586c22c46f4379c8b043e1",
	    GH_SECRET, GH_BODY, n));
	assert_false(
	    hmac_verify("sha256=" GH_HEX "00", GH_SECRET, GH_BODY, n));
	assert_false(hmac_verify("sha256=g57107ea0eb2509fc211221cce984b8a"
	                         "37570b6d7586c22c46f4379c8b043e17",
	    GH_SECRET, GH_BODY, n));
	/* no secret never verifies */
	assert_false(hmac_verify("sha256=" GH_HEX, "", GH_BODY, n));
	assert_false(hmac_verify("sha256=" GH_HEX, NULL, GH_BODY, n));
}

static void
test_uppercase_hex(void **state)
{
	(void) state;
	/* Same digest, other case: accepted (hex is case-insensitive). */
	assert_true(hmac_verify("sha256=757107EA0EB2509FC211221CCE984B8A"
	                        "37570B6D7586C22C46F4379C8B043E17",
	    GH_SECRET, GH_BODY, strlen(GH_BODY)));
	/* The prefix is not. */
	assert_false(hmac_verify(
	    "SHA256=" GH_HEX, GH_SECRET, GH_BODY, strlen(GH_BODY)));
}

static void
classify(struct hook_verdict *v, enum hook_src src, const char *event,
    const char *body, const char *secret, bool insecure, bool sign)
{
	struct hook_req r;
	char            hex[HMAC_SHA256_HEX], sig[80];

	memset(&r, 0, sizeof(r));
	r.src          = src;
	r.content_type = "application/json";
	r.event        = event;
	r.delivery     = "d-1";
	r.body         = body;
	r.len          = strlen(body);
	if (sign) {
		assert_int_equal(
		    hmac_sha256_hex(hex, "s3cret", body, strlen(body)), 0);
		snprintf(sig, sizeof(sig), "%s%s",
		    src == HOOK_GITHUB ? "sha256=" : "", hex);
		r.signature = sig;
	}
	hook_classify(v, &r, secret, insecure, 1024);
}

static void
test_classify(void **state)
{
	struct hook_verdict v;
	const char         *cr =
	    "{\"action\":\"completed\",\"repository\":{\"full_name\":\"o/r\"},"
	    "\"check_run\":{\"name\":\"ci\",\"status\":\"completed\","
	    "\"conclusion\":\"failure\",\"head_sha\":\"abc\","
	    "\"pull_requests\":[{\"number\":7}]}}";

	(void) state;
	classify(&v, HOOK_GITHUB, "check_run", cr, "s3cret", false, true);
	assert_int_equal(v.status, 200);
	assert_int_equal(v.topic, MSG_CI_CHECK_RUN);
	assert_string_equal(v.body.check_run.repo, "o/r");
	assert_string_equal(v.body.check_run.conclusion, "failure");
	assert_int_equal(v.body.check_run.pr_number, 7);
	assert_string_equal(v.body.check_run.delivery_id, "d-1");
	hook_verdict_fini(&v);

	classify(&v, HOOK_GITHUB, "check_run", cr, "s3cret", false, false);
	assert_int_equal(v.status, 401);
	hook_verdict_fini(&v);
	classify(&v, HOOK_GITHUB, "check_run", cr, NULL, false, false);
	assert_int_equal(v.status, 503);
	hook_verdict_fini(&v);
	classify(&v, HOOK_GITHUB, "check_run", cr, NULL, true, false);
	assert_int_equal(v.status, 200);
	hook_verdict_fini(&v);
	classify(&v, HOOK_GITHUB, "check_run", "{bad", "s3cret", false, true);
	assert_int_equal(v.status, 400);
	hook_verdict_fini(&v);
	classify(&v, HOOK_GITHUB, "issues", "{}", "s3cret", false, true);
	assert_int_equal(v.status, 202);
	assert_string_equal(v.counter, "ignored_events");
	hook_verdict_fini(&v);
	classify(&v, HOOK_GITHUB, "ping", "{}", "s3cret", false, true);
	assert_int_equal(v.status, 200);
	assert_int_equal(v.topic, MSG_NONE);
	hook_verdict_fini(&v);
	classify(&v, HOOK_GITHUB, "check_suite",
	    "{\"repository\":{\"full_name\":\"o/r\"},\"check_suite\":"
	    "{\"conclusion\":\"success\",\"head_sha\":\"h\"}}",
	    "s3cret", false, true);
	assert_int_equal(v.topic, MSG_CI_CHECK_RUN);
	assert_string_equal(v.body.check_run.name, "suite");
	hook_verdict_fini(&v);
	classify(&v, HOOK_GITHUB, "check_suite",
	    "{\"repository\":{\"full_name\":\"o/r\"},\"check_suite\":"
	    "{\"conclusion\":\"failure\",\"head_sha\":\"h\",\"app\":"
	    "{\"slug\":\"github-actions\"}}}",
	    "s3cret", false, true);
	assert_string_equal(v.body.check_run.name, "suite:github-actions");
	hook_verdict_fini(&v);
	classify(&v, HOOK_GITHUB, "pull_request",
	    "{\"action\":\"closed\",\"number\":5,\"repository\":"
	    "{\"full_name\":\"o/r\"},\"pull_request\":{\"merged\":true,"
	    "\"head\":{\"ref\":\"goal/x\"}}}",
	    "s3cret", false, true);
	assert_int_equal(v.topic, MSG_CI_PR_EVENT);
	assert_true(v.body.pr_event.merged);
	assert_int_equal(v.body.pr_event.pr_number, 5);
	assert_string_equal(v.body.pr_event.head_ref, "goal/x");
	hook_verdict_fini(&v);
	classify(&v, HOOK_PLANE, NULL, "{\"event\":\"issue\"}", "s3cret",
	    false, true);
	assert_int_equal(v.topic, MSG_BOARD_WEBHOOK);
	assert_string_equal(v.body.board.event, "issue");
	hook_verdict_fini(&v);
}

/* form-encoded deliveries (GitHub's default content type): the JSON is the
 * form field "payload"; the signature covers the raw form body */
static void
test_form(void **state)
{
	struct hook_verdict v;
	struct hook_req     r;
	struct buf          b;
	const char         *body = "payload=%7B%22repository%22%3A%7B%22full_n"
	                           "ame%22%3A%22o%2Fr%22%7D%2C%22check_run%22%3A"
	                           "%7B%22name%22%3A%22a+b%22%2C%22conclusion%22"
	                           "%3A%22failure%22%7D%7D";
	char                hex[HMAC_SHA256_HEX], sig[80];

	(void) state;
	buf_init(&b);
	assert_int_equal(
	    hook_form_payload(&b, "a=1&payload=%7B%7D+x&b", 22), 0);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "{} x", 4);
	buf_reset(&b);
	assert_int_equal(hook_form_payload(&b, "a=1", 3), ERR_NOTFOUND);
	assert_int_equal(hook_form_payload(&b, "payload=%7", 10), ERR_PROTO);
	assert_int_equal(hook_form_payload(&b, "payload=%zz", 11), ERR_PROTO);
	assert_int_equal(hook_form_payload(&b, "payload", 7), ERR_PROTO);
	assert_int_equal(
	    hook_form_payload(&b, "payload=1&payload=2", 19), ERR_PROTO);
	buf_fini(&b);

	memset(&r, 0, sizeof(r));
	r.src          = HOOK_GITHUB;
	r.content_type = "application/x-www-form-urlencoded";
	r.event        = "check_run";
	r.body         = body;
	r.len          = strlen(body);
	assert_int_equal(hmac_sha256_hex(hex, "s3cret", body, r.len), 0);
	snprintf(sig, sizeof(sig), "sha256=%s", hex);
	r.signature = sig;
	hook_classify(&v, &r, "s3cret", false, 1024);
	assert_int_equal(v.status, 200);
	assert_int_equal(v.topic, MSG_CI_CHECK_RUN);
	assert_string_equal(v.body.check_run.repo, "o/r");
	assert_string_equal(v.body.check_run.name, "a b");
	assert_string_equal(v.body.check_run.conclusion, "failure");
	hook_verdict_fini(&v);
	/* a signature of the decoded JSON is not GitHub's */
	assert_int_equal(
	    hmac_sha256_hex(hex, "s3cret", "{\"check_run\":{}}", 15), 0);
	snprintf(sig, sizeof(sig), "sha256=%s", hex);
	hook_classify(&v, &r, "s3cret", false, 1024);
	assert_int_equal(v.status, 401);
	hook_verdict_fini(&v);
	/* no payload field */
	r.body = "zen=hi";
	r.len  = 6;
	hook_classify(&v, &r, NULL, true, 1024);
	assert_int_equal(v.status, 400);
	assert_string_equal(v.text, "Missing payload field");
	hook_verdict_fini(&v);
	/* Plane sends JSON only */
	r.src = HOOK_PLANE;
	hook_classify(&v, &r, NULL, true, 1024);
	assert_int_equal(v.status, 415);
	hook_verdict_fini(&v);
}

static void
test_metrics_render(void **state)
{
	const char *names[] = { "router", "webhook" };
	json_t     *st = json_pack("{s:n, s:{s:i, s:{s:i, s:i}, s:{s:{s:i}}}}",
	        "router", "webhook", "journal_seq", 3, "counters", "msgs_in", 4,
	        "accepted", 2, "upstreams", "board-sync", "lag", 1);
	json_t     *sup = json_pack("{s:[{s:s, s:i}]}", "processes", "role",
	        "router", "restart_count", 2);
	struct buf  b;
	const char *t;

	(void) state;
	buf_init(&b);
	metrics_render(&b, sup, st, names, 2, "webhook");
	t = buf_cstr(&b);
	assert_non_null(strstr(t, "# TYPE opc_up gauge\n"));
	assert_non_null(strstr(t, "opc_up{instance=\"router\"} 0\n"));
	assert_non_null(strstr(t, "opc_up{instance=\"webhook\"} 1\n"));
	assert_non_null(
	    strstr(t, "opc_journal_seq{instance=\"webhook\"} 3\n"));
	assert_non_null(
	    strstr(t, "opc_messages_in_total{instance=\"webhook\"} 4\n"));
	assert_non_null(strstr(t,
	    "opc_upstream_lag{instance=\"webhook\","
	    "upstream=\"board-sync\"} 1\n"));
	assert_non_null(
	    strstr(t, "opc_restarts_total{instance=\"router\"} 2\n"));
	assert_non_null(
	    strstr(t, "opc_webhook_accepted_total{instance=\"webhook\"} 2\n"));
	buf_fini(&b);
	json_decref(st);
	json_decref(sup);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_github_vector),
		cmocka_unit_test(test_rfc4231_case2),
		cmocka_unit_test(test_bad_signatures),
		cmocka_unit_test(test_uppercase_hex),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_form),
		cmocka_unit_test(test_metrics_render),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
