/*
 * outcome.c - what a finished run's outcome means (see outcome.h).
 */
#include <ctype.h>
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
		    tolower((unsigned char) s[i]) == needle[i]; i++)
			;
		if (i == n)
			return (true);
	}
	return (false);
}

bool
outcome_quota(const char *category, const char *reason,
    const json_t *result)
{
	static const char *const words[] = { "quota", "rate limit",
		"rate-limit", "ratelimit", "rate_limit", "hit your limit" };
	size_t i;

	if (category != NULL && strcmp(category, "quota_exhausted") == 0)
		return (true);
	if (json_object_get(result, "agent") != NULL)
		return (false);
	for (i = 0; i < nitems(words); i++)
		if (contains_ci(category, words[i]) ||
		    contains_ci(reason, words[i]))
			return (true);
	return (false);
}
