/*
 * outcome.c - what a finished run's outcome means (see outcome.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "opc/outcome.h"
#include "opc/util.h"

/* contains_ci: needle (lower case) occurs in s, ignoring case. */
static bool
contains_ci(const char *s, const char *needle)
{
	size_t i, n = strlen(needle);

	for (; s != NULL && *s != '\0'; s++) {
		for (i = 0; i < n && s[i] != '\0' &&
		     tolower((unsigned char) s[i]) == needle[i];
		     i++)
			;
		if (i == n)
			return (true);
	}
	return (false);
}

bool
outcome_quota(const char *category, const char *reason, bool contract)
{
	static const char *const words[] = { "quota", "rate limit",
		"rate-limit", "ratelimit", "rate_limit", "hit your limit" };
	size_t                   i;

	if (category != NULL && strcmp(category, "quota_exhausted") == 0)
		return (true);
	if (contract)
		return (false);
	for (i = 0; i < nitems(words); i++)
		if (contains_ci(category, words[i]) ||
		    contains_ci(reason, words[i]))
			return (true);
	return (false);
}

void
outcome_supersede(json_t *result, const char *by_run_id)
{
	const char *st = json_string_value(json_object_get(result, "status"));
	char        why[256];

	if (!json_is_object(result) ||
	    (st != NULL && strcmp(st, "superseded") == 0))
		return;
	json_object_set_new(result, "superseded_status",
	    st != NULL ? json_string(st) : json_null());
	json_object_set_new(result, "superseded_success",
	    json_boolean(json_is_true(json_object_get(result, "success"))));
	snprintf(why, sizeof(why),
	    "the router took the run back (its lease "
	    "expired) and gave the task to %s%.64s; this run %s%.32s and "
	    "counts for nothing",
	    by_run_id != NULL ? "run " : "another run",
	    by_run_id != NULL ? by_run_id : "",
	    st != NULL ? "ended " : "ended", st != NULL ? st : "");
	json_object_set_new(result, "superseded_by",
	    by_run_id != NULL ? json_string(by_run_id) : json_null());
	json_object_set_new(result, "status", json_string("superseded"));
	json_object_set_new(result, "success", json_false());
	json_object_set_new(
	    result, "failure_category", json_string("superseded"));
	json_object_set_new(result, "failure_reason", json_string(why));
}
