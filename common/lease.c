/*
 * lease.c - a run's lease arithmetic (see lease.h).  No clock is read
 * here: tests drive it on a simulated one.
 */
#include <stdio.h>
#include <string.h>

#include "opc/lease.h"

static int64_t
lease_of(int64_t lease_ms)
{
	return (lease_ms > 0 ? lease_ms : LEASE_DEFAULT_MS);
}

bool
lease_expired(int64_t heard, int64_t since, int64_t now, int64_t lease_ms)
{
	int64_t from = heard > 0 ? heard : since;

	return (now - from > lease_of(lease_ms));
}

int64_t
lease_stop_at(int64_t stamp, int64_t lease_ms)
{
	int64_t half = lease_of(lease_ms) / 2;

	if (stamp <= 0)
		return (0);
	return (stamp > INT64_MAX - half ? INT64_MAX : stamp + half);
}

bool
lease_grant_usable(int64_t stamp, int64_t last, int64_t now)
{
	return (stamp > 0 && stamp <= now && stamp > last);
}

bool
lease_revokes(bool named, int64_t started, int64_t stamp)
{
	return (!named && stamp > 0 && started <= stamp);
}

bool
lease_confirmed(int64_t stamp, int64_t lease_ms, int64_t now)
{
	return (stamp > 0 && now < lease_stop_at(stamp, lease_ms));
}

bool
lease_lapsed(int64_t stop_at, int64_t now)
{
	return (now >= stop_at);
}

int
lease_format(char *buf, size_t len, int64_t stop_at)
{
	int n;

	if (stop_at < 0)
		return (-1);
	n = snprintf(buf, len, "stop_at %lld\n", (long long) stop_at);
	return (n < 0 || (size_t) n >= len ? -1 : n);
}

int
lease_parse(const char *text, size_t len, int64_t *stop_at)
{
	static const char key[] = "stop_at ";
	int64_t           v     = 0;
	size_t            i     = sizeof(key) - 1;

	*stop_at = 0;
	if (len <= i || memcmp(text, key, i) != 0)
		return (-1);
	for (; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
		if (v > (INT64_MAX - (text[i] - '0')) / 10)
			return (-1);
		v = v * 10 + (text[i] - '0');
	}
	if (i == sizeof(key) - 1 ||
	    !(i == len || (i + 1 == len && text[i] == '\n')))
		return (-1);
	*stop_at = v;
	return (0);
}
