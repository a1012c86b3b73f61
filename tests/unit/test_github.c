/*
 * test_github.c - common/github.c: the token expiration header (with its
 * zone) and the rate-limit reading of GitHub's 403/429 answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "opc/github.h"
#include "opc/util.h"

/* 2026-12-31T00:00:00Z */
#define NEW_YEARS_EVE 1798675200000LL

static void
test_expiry(void **state)
{
	(void) state;
	assert_int_equal(
	    github_expiry("2026-12-31 00:00:00 UTC"), NEW_YEARS_EVE);
	/* what real tokens send: local time and a numeric offset */
	assert_int_equal(
	    github_expiry("2026-12-31 09:00:00 +0900"), NEW_YEARS_EVE);
	assert_int_equal(
	    github_expiry("2026-12-30 16:00:00 -0800"), NEW_YEARS_EVE);
	assert_int_equal(
	    github_expiry("2026-12-31 05:30:00 +05:30"), NEW_YEARS_EVE);
	assert_int_equal(
	    github_expiry("2026-12-31 02:00:00 +02"), NEW_YEARS_EVE);
	assert_int_equal(github_expiry("2026-12-31T00:00:00Z"), NEW_YEARS_EVE);
	assert_int_equal(
	    github_expiry("2026-12-31 00:00:00 GMT"), NEW_YEARS_EVE);
	assert_int_equal(github_expiry("2026-12-31 00:00:00"), NEW_YEARS_EVE);
	/* a zone crossing the date line backwards */
	assert_int_equal(github_expiry("2027-01-01 00:00:00 +0000"),
	    NEW_YEARS_EVE + 86400000LL);

	assert_int_equal(github_expiry(NULL), -1);
	assert_int_equal(github_expiry(""), -1);
	assert_int_equal(github_expiry("2026-12-31 09:00:00 PST"), -1);
	assert_int_equal(github_expiry("2026-12-31 09:00:00 +9"), -1);
	assert_int_equal(github_expiry("2026-12-31 09:00:00 +1500"), -1);
	assert_int_equal(github_expiry("2026-12-31 09:00:00 +0960"), -1);
	assert_int_equal(github_expiry("2026-12-31 09:00:00 +0900x"), -1);
	assert_int_equal(github_expiry("2026-13-01 00:00:00 UTC"), -1);
	assert_int_equal(github_expiry("2026-12-31 24:00:00 UTC"), -1);
	assert_int_equal(github_expiry("1969-12-31 00:00:00 UTC"), -1);
	assert_int_equal(github_expiry("26-12-31 00:00:00 UTC"), -1);
	assert_int_equal(github_expiry("2026-12-31"), -1);
}

static void
test_days_left(void **state)
{
	int64_t day = 86400000LL;

	(void) state;
	assert_int_equal(github_days_left(NEW_YEARS_EVE, NEW_YEARS_EVE), 0);
	assert_int_equal(
	    github_days_left(NEW_YEARS_EVE + 2 * day + 5, NEW_YEARS_EVE), 2);
	assert_int_equal(
	    github_days_left(NEW_YEARS_EVE - 1, NEW_YEARS_EVE), -1);
	/* the bug of issue 14: "+0900" read as UTC is 9 hours late */
	assert_int_equal(
	    github_days_left(
	        github_expiry("2027-01-01 08:00:00 +0900"), NEW_YEARS_EVE),
	    0);
}

static void
test_limits(void **state)
{
	int64_t now = 1800000000000LL, at;

	(void) state;
	/* primary: remaining 0, retry at the reset time */
	assert_int_equal(
	    github_limit_of(403, "0", "1800000120", NULL,
	        "API rate limit exceeded for user ID 1.", now, &at),
	    GITHUB_LIMIT_PRIMARY);
	assert_int_equal(at, 1800000120000LL);
	assert_int_equal(
	    github_limit_of(429, "0", "1800000030", NULL, NULL, now, &at),
	    GITHUB_LIMIT_PRIMARY);
	assert_int_equal(at, 1800000030000LL);
	/* a reset already past: retry now */
	assert_int_equal(
	    github_limit_of(403, "0", "1700000000", NULL, NULL, now, &at),
	    GITHUB_LIMIT_PRIMARY);
	assert_int_equal(at, now);
	/* retry-after wins */
	assert_int_equal(
	    github_limit_of(403, "0", "1800000120", "5", NULL, now, &at),
	    GITHUB_LIMIT_PRIMARY);
	assert_int_equal(at, now + 5000);

	/* secondary: retry-after, or a minute */
	assert_int_equal(
	    github_limit_of(403, "4999", "1800000120", "30",
	        "You have exceeded a secondary rate limit.", now, &at),
	    GITHUB_LIMIT_SECONDARY);
	assert_int_equal(at, now + 30000);
	assert_int_equal(
	    github_limit_of(403, "4999", NULL, NULL,
	        "You have exceeded a secondary rate limit. Please wait a few "
	        "minutes before you try again.",
	        now, &at),
	    GITHUB_LIMIT_SECONDARY);
	assert_int_equal(at, now + GITHUB_SECONDARY_WAIT_MS);
	assert_int_equal(
	    github_limit_of(429, NULL, NULL, NULL, NULL, now, &at),
	    GITHUB_LIMIT_SECONDARY);
	assert_int_equal(at, now + GITHUB_SECONDARY_WAIT_MS);

	/* not a limit */
	assert_int_equal(
	    github_limit_of(403, "4999", "1800000120", NULL,
	        "Resource not accessible by personal access token", now, &at),
	    GITHUB_LIMIT_NONE);
	assert_int_equal(at, 0);
	assert_int_equal(github_limit_of(401, "0", "1800000120", "5",
	                     "Bad credentials", now, &at),
	    GITHUB_LIMIT_NONE);
	assert_int_equal(github_limit_of(200, "0", NULL, NULL, NULL, now, &at),
	    GITHUB_LIMIT_NONE);
	/* garbage headers are not numbers */
	assert_int_equal(
	    github_limit_of(403, "zero", "soon", "later", NULL, now, &at),
	    GITHUB_LIMIT_NONE);
	assert_string_equal(
	    github_limit_name(GITHUB_LIMIT_PRIMARY), "primary");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_days_left),
		cmocka_unit_test(test_limits),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
