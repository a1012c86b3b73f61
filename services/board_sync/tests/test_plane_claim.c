/*
 * test_plane_claim.c - the claim decision (plane_claim_view) every
 * board-sync instance makes from a work item's comments.
 *
 * Plane renders created_at in each API key owner's zone and leaves out
 * zero microseconds (DRF DateTimeField: isoformat()), so the same
 * comments reach two deployments as different texts.  Comparing the
 * texts, as board-sync did, picks different winners: "10:00:00Z" sorts
 * after "10:00:00.250000Z" ('Z' > '.') though it is earlier, and a zone
 * leaving daylight saving time writes a later instant with a smaller
 * hour.  Instants agree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "board_plane.h"

#define TTL (600LL * 1000000) /* claim_ttl 10 min, in us */

static json_t *
comment(const char *id, const char *html, const char *at)
{
	return (json_pack("{s:s, s:s, s:s}", "id", id, "comment_html", html,
	    "created_at", at));
}

static json_t *
claim(const char *id, const char *who, const char *at)
{
	char html[256];

	snprintf(html, sizeof(html),
	    "<p>Claimed by opcenter (x)</p>"
	    "<!-- opcenter:claim:%s -->",
	    who);
	return (comment(id, html, at));
}

/* view runs the decision and returns the winner (owned) and our count. */
static char *
view(json_t *cs, const char *instance, size_t *nours)
{
	char   *w;
	json_t *ours;
	int     bad;

	plane_claim_view(cs, instance, TTL, &w, &ours, &bad);
	assert_int_equal(bad, 0);
	*nours = json_array_size(ours);
	json_decref(ours);
	return (w);
}

/* The same two claims as a key in UTC and one in Asia/Kolkata see them:
 * a@ at 10:00:00.000 (written without a fraction) and b@ 0.25 s later.
 * a@ wins in both views, though in the UTC text b@'s sorts first. */
static void
test_zones_and_whole_seconds(void **state)
{
	json_t *utc = json_array(), *ist = json_array();
	char   *w;
	size_t  n;

	(void) state;
	json_array_append_new(
	    utc, claim("c2", "bs@b:n2", "2026-03-08T10:00:00.250000Z"));
	json_array_append_new(
	    utc, claim("c1", "bs@a:n1", "2026-03-08T10:00:00Z"));
	json_array_append_new(
	    ist, claim("c2", "bs@b:n2", "2026-03-08T15:30:00.250000+05:30"));
	json_array_append_new(
	    ist, claim("c1", "bs@a:n1", "2026-03-08T15:30:00+05:30"));
	/* the trap the texts set */
	assert_true(
	    strcmp("2026-03-08T10:00:00.250000Z", "2026-03-08T10:00:00Z") < 0);
	w = view(utc, "bs@a", &n);
	assert_string_equal(w, "bs@a:n1");
	assert_int_equal(n, 1);
	free(w);
	w = view(ist, "bs@b", &n);
	assert_string_equal(w, "bs@a:n1");
	assert_int_equal(n, 1);
	free(w);
	json_decref(utc);
	json_decref(ist);
}

/* America/New_York falls back at 06:00Z on 2026-11-01: 01:59:59-04:00 is
 * before 01:00:01-05:00, whose text is smaller. */
static void
test_daylight_saving(void **state)
{
	json_t *cs = json_array();
	char   *w;
	size_t  n;

	(void) state;
	json_array_append_new(
	    cs, claim("c2", "bs@b:n2", "2026-11-01T01:00:01-05:00"));
	json_array_append_new(
	    cs, claim("c1", "bs@a:n1", "2026-11-01T01:59:59-04:00"));
	w = view(cs, "bs@b", &n);
	assert_string_equal(w, "bs@a:n1");
	free(w);
	json_decref(cs);
}

/* Claims at or before the newest outbox comment (any instance's) are of
 * an earlier episode; a claim more than the TTL older than the newest
 * is an orphan that no longer counts; ours are all listed, the
 * superseded one too (the owner deletes it). */
static void
test_episode_and_supersede(void **state)
{
	json_t *cs = json_array();
	char   *w;
	size_t  n;

	(void) state;
	json_array_append_new(
	    cs, claim("old", "bs@a:n0", "2026-03-08T09:00:00Z"));
	json_array_append_new(cs,
	    comment("res",
	        "<p>Result</p><!-- "
	        "opcenter:op:bs@b:7 -->",
	        "2026-03-08T09:30:00.5Z"));
	json_array_append_new(
	    cs, claim("orphan", "bs@gone:n9", "2026-03-08T10:00:00Z"));
	json_array_append_new(
	    cs, claim("mine", "bs@a:n1", "2026-03-08T10:10:00.000001Z"));
	w = view(cs, "bs@a", &n);
	assert_string_equal(w, "bs@a:n1"); /* the orphan is 10 min older */
	assert_int_equal(n, 1);            /* "old" is history */
	free(w);
	/* within the TTL the orphan still wins */
	json_object_set_new(json_array_get(cs, 3), "created_at",
	    json_string("2026-03-08T10:09:59Z"));
	w = view(cs, "bs@a", &n);
	assert_string_equal(w, "bs@gone:n9");
	assert_int_equal(n, 1);
	free(w);
	json_decref(cs);
}

/* Equal instants: the smaller marker wins, the same for everyone; an
 * unreadable time is left out and counted; no claims: no winner. */
static void
test_ties_and_garbage(void **state)
{
	json_t *cs = json_array(), *ours;
	char   *w;
	int     bad;

	(void) state;
	json_array_append_new(
	    cs, claim("c2", "bs@b:zz", "2026-03-08T10:00:00Z"));
	json_array_append_new(
	    cs, claim("c1", "bs@b:aa", "2026-03-08T10:00:00.000000Z"));
	json_array_append_new(cs, claim("c3", "bs@a:00", "yesterday"));
	json_array_append_new(cs, json_pack("{s:i}", "id", 7));
	plane_claim_view(cs, "bs@b", TTL, &w, &ours, &bad);
	assert_string_equal(w, "bs@b:aa");
	assert_int_equal(json_array_size(ours), 2);
	assert_int_equal(bad, 1);
	free(w);
	json_decref(ours);
	json_decref(cs);
	cs = json_array();
	json_array_append_new(
	    cs, comment("h", "<p>hello</p>", "2026-03-08T10:00:00Z"));
	plane_claim_view(cs, "bs@b", TTL, &w, &ours, &bad);
	assert_null(w);
	assert_int_equal(json_array_size(ours), 0);
	json_decref(ours);
	json_decref(cs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zones_and_whole_seconds),
		cmocka_unit_test(test_daylight_saving),
		cmocka_unit_test(test_episode_and_supersede),
		cmocka_unit_test(test_ties_and_garbage),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
