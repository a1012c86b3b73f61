/*
 * github.c - token expiry and rate limits in GitHub's answers (see
 * github.h).  Pure: no I/O, no clock of its own (callers pass now).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "opc/github.h"
#include "opc/util.h"

/* digits reads exactly n decimal digits at *p into *v. */
static int
digits(const char **p, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return (-1);
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return (0);
}

static int
expect(const char **p, char c)
{
	if (**p != c)
		return (-1);
	(*p)++;
	return (0);
}

/* zone parses what follows the time into an offset east of UTC in
 * seconds; -1 when it is not a zone we know. */
static int
zone(const char *p, long *off)
{
	int sign, hh, mm = 0;

	*off = 0;
	while (*p == ' ')
		p++;
	if (*p == '\0' || strcmp(p, "Z") == 0 || strcmp(p, "UTC") == 0 ||
	    strcmp(p, "GMT") == 0)
		return (0);
	if (*p != '+' && *p != '-')
		return (-1); /* "PST" and the like: never guess */
	sign = *p++ == '-' ? -1 : 1;
	if (digits(&p, 2, &hh) != 0)
		return (-1);
	if (*p == ':')
		p++;
	if (*p != '\0' && digits(&p, 2, &mm) != 0)
		return (-1);
	if (*p != '\0' || hh > 14 || mm > 59)
		return (-1);
	*off = sign * (hh * 3600L + mm * 60L);
	return (0);
}

int64_t
github_expiry(const char *v)
{
	struct tm   tm;
	const char *p = v;
	int         y, mo, d, h, mi, s;
	long        off;

	if (v == NULL)
		return (-1);
	while (*p == ' ')
		p++;
	if (digits(&p, 4, &y) != 0 || expect(&p, '-') != 0 ||
	    digits(&p, 2, &mo) != 0 || expect(&p, '-') != 0 ||
	    digits(&p, 2, &d) != 0 || (*p != ' ' && *p != 'T'))
		return (-1);
	p++;
	if (digits(&p, 2, &h) != 0 || expect(&p, ':') != 0 ||
	    digits(&p, 2, &mi) != 0 || expect(&p, ':') != 0 ||
	    digits(&p, 2, &s) != 0)
		return (-1);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || s > 60 || zone(p, &off) != 0)
		return (-1);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon  = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min  = mi;
	tm.tm_sec  = s;
	/* the local time at offset off is off seconds ahead of UTC */
	return (((int64_t) timegm(&tm) - off) * 1000);
}

int64_t
github_days_left(int64_t exp_ms, int64_t now_ms)
{
	int64_t d = exp_ms - now_ms;

	/* floor, so an expired token is never "0 days left" */
	return (d >= 0 ? d / 86400000 : -((-d + 86400000 - 1) / 86400000));
}

/* seconds parses a non-negative decimal header value; -1 otherwise. */
static int64_t
seconds(const char *v)
{
	int64_t n = 0;

	if (v == NULL)
		return (-1);
	while (*v == ' ')
		v++;
	if (*v < '0' || *v > '9')
		return (-1);
	for (; *v >= '0' && *v <= '9'; v++) {
		if (n > 100000000000LL) /* far beyond any sane wait */
			return (-1);
		n = n * 10 + (*v - '0');
	}
	while (*v == ' ')
		v++;
	return (*v == '\0' ? n : -1);
}

static int
says_rate_limit(const char *message)
{
	char   low[256];
	size_t i;

	if (message == NULL)
		return (0);
	for (i = 0; message[i] != '\0' && i + 1 < sizeof(low); i++)
		low[i] = (char) tolower((unsigned char) message[i]);
	low[i] = '\0';
	return (strstr(low, "rate limit") != NULL);
}

enum github_limit
github_limit_of(int status, const char *remaining, const char *reset,
    const char *retry_after, const char *message, int64_t now_ms,
    int64_t *retry_at_ms)
{
	int64_t ra = seconds(retry_after), rs = seconds(reset);
	int     primary = seconds(remaining) == 0;

	*retry_at_ms = 0;
	if (status != 403 && status != 429)
		return (GITHUB_LIMIT_NONE);
	/* A 403 without any of these is a permission problem, not a
	 * limit ("Resource not accessible by personal access token"). */
	if (!primary && ra < 0 && status == 403 && !says_rate_limit(message))
		return (GITHUB_LIMIT_NONE);
	if (ra >= 0)
		*retry_at_ms = now_ms + ra * 1000;
	else if (primary && rs >= 0)
		*retry_at_ms = rs * 1000 > now_ms ? rs * 1000 : now_ms;
	else
		*retry_at_ms = now_ms + GITHUB_SECONDARY_WAIT_MS;
	return (primary ? GITHUB_LIMIT_PRIMARY : GITHUB_LIMIT_SECONDARY);
}

char *
github_message(const struct http_resp *resp)
{
	json_t     *j;
	const char *m;
	char       *out = NULL;

	if (resp->body.data == NULL || resp->body.len == 0)
		return (NULL);
	j = json_loadb(resp->body.data, resp->body.len, 0, NULL);
	m = json_string_value(json_object_get(j, "message"));
	if (m != NULL && *m != '\0')
		out = xstrndup(m, 200);
	json_decref(j);
	return (out);
}

enum github_limit
github_limit(
    const struct http_resp *resp, int64_t now_ms, int64_t *retry_at_ms)
{
	enum github_limit l;
	char             *msg = github_message(resp);

	l = github_limit_of(resp->status,
	    http_header(resp, "x-ratelimit-remaining"),
	    http_header(resp, "x-ratelimit-reset"),
	    http_header(resp, "retry-after"), msg, now_ms, retry_at_ms);
	free(msg);
	return (l);
}

const char *
github_limit_name(enum github_limit l)
{
	switch (l) {
	case GITHUB_LIMIT_PRIMARY:
		return ("primary");
	case GITHUB_LIMIT_SECONDARY:
		return ("secondary");
	default:
		return ("none");
	}
}

char *
github_link_next(const char *link)
{
	const char *p = link, *lt, *gt;

	while (p != NULL && (lt = strchr(p, '<')) != NULL &&
	    (gt = strchr(lt, '>')) != NULL) {
		p = strchr(gt, ',');
		if (strstr(gt, "rel=\"next\"") != NULL &&
		    (p == NULL || strstr(gt, "rel=\"next\"") < p))
			return (xstrndup(lt + 1, (size_t) (gt - lt - 1)));
	}
	return (NULL);
}
